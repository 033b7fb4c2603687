# SPDX-License-Identifier: ISC
# Shell helpers for tests that run a private irisd (sourced, not run):
# irisd_start DIR starts one on 127.0.0.1 port 0 with its own data
# directory DIR/data and sets IRISD_PID, IRISD_PORT, IRISD_FP; irisd_stop
# stops it with SIGTERM and fails unless it exits 0; until SECONDS CMD...
# runs CMD until it succeeds or the deadline passes.

until_ok() {
	_end=$(( $(date +%s) + $1 ))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.05
	done
}

irisd_start() {
	_dir=$1
	mkdir -p "$_dir/data"
	"$IRIS_BUILD_DIR/irisd" -d --data-dir "$_dir/data" \
	    --listen 127.0.0.1:0 < /dev/null 2> "$_dir/irisd.log" &
	IRISD_PID=$!
	if ! until_ok 20 grep -qs ': ready$' "$_dir/irisd.log"; then
		cat "$_dir/irisd.log" >&2
		kill "$IRISD_PID" 2>/dev/null || true
		return 1
	fi
	IRISD_PORT=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' \
	    "$_dir/irisd.log" | head -n 1)
	IRISD_FP=$("$IRIS_BUILD_DIR/irisctl" -d "$_dir/data" fingerprint)
	[ -n "$IRISD_PORT" ] && [ ${#IRISD_FP} = 64 ]
}

irisd_stop() {
	kill -TERM "$IRISD_PID" 2>/dev/null || return 1
	wait "$IRISD_PID"
}

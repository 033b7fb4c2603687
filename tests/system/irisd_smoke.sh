#!/bin/sh
# SPDX-License-Identifier: ISC
# irisd as a user meets it: -V prints the header's version, -n accepts a
# good config and names file and line of a bad one, command-line options
# override the file, and a start that cannot work says why.
set -eu
build=$1
irisd="$build/irisd"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "irisd_smoke: $*" >&2; exit 1; }

want=$(sed -n 's/^#define IRIS_VERSION_STRING[[:space:]]*"\(.*\)"/\1/p' include/iris.h)
"$irisd" -V | grep -q "^irisd $want (libiris $want" || fail "-V: wrong version"

cat > "$tmp/good.conf" <<CONF
# a comment
data_dir "$tmp/data"
listen 127.0.0.1:0
max_envelope = 32K
frame_timeout 5s
CONF
"$irisd" -n -f "$tmp/good.conf" 2> "$tmp/err" || fail "-n rejected a good config: $(cat "$tmp/err")"
grep -q "configuration OK" "$tmp/err" || fail "-n did not say configuration OK"
"$irisd" -n -v -f "$tmp/good.conf" --data-dir /srv/iris > "$tmp/dump" 2>/dev/null
grep -q '^data_dir "/srv/iris"$' "$tmp/dump" || fail "--data-dir did not override the file"
grep -q '^max_envelope "32K"$\|^max_envelope "32768"$' "$tmp/dump" || fail "max_envelope not applied: $(grep max_envelope "$tmp/dump")"

printf 'data_dir /tmp\nlisen 127.0.0.1:1\n' > "$tmp/typo.conf"
if "$irisd" -n -f "$tmp/typo.conf" 2> "$tmp/err"; then fail "-n accepted an unknown option"; fi
grep -q "typo.conf:2: .*lisen" "$tmp/err" || fail "unknown option not reported with file:line: $(cat "$tmp/err")"

printf 'max_envelope 70000\n' > "$tmp/big.conf"
if "$irisd" -n -f "$tmp/big.conf" 2> "$tmp/err"; then fail "-n accepted max_envelope 70000"; fi
grep -q "big.conf:1: max_envelope" "$tmp/err" || fail "bound not reported: $(cat "$tmp/err")"

if "$irisd" -n -f "$tmp/missing.conf" 2> "$tmp/err"; then fail "-n accepted a missing file"; fi
grep -q "missing.conf" "$tmp/err" || fail "missing file not named"

if "$irisd" --bogus 2>/dev/null; then fail "accepted an unknown flag"; fi

# A start that cannot work names its reason and exits 1 (serving is
# tested by tests/system/irisd_serve.c).
if "$irisd" -d --data-dir "$tmp/data" --listen 127.0.0.1:99999 < /dev/null 2> "$tmp/err"; then fail "started on port 99999"; fi
grep -q "listen" "$tmp/err" || fail "bad listen address not reported: $(cat "$tmp/err")"

# One irisd per data directory: a second one is refused before it
# touches anything, and says why; the first keeps serving.
"$irisd" -d --data-dir "$tmp/one" --listen 127.0.0.1:0 < /dev/null 2> "$tmp/first" &
first=$!
deadline=$(( $(date +%s) + 30 ))
until grep -q "listening on" "$tmp/first"; do
	kill -0 "$first" 2>/dev/null || fail "first irisd died: $(cat "$tmp/first")"
	[ "$(date +%s)" -lt "$deadline" ] || fail "first irisd never listened"
	sleep 0.05
done
if "$irisd" -d --data-dir "$tmp/one" --listen 127.0.0.1:0 < /dev/null 2> "$tmp/second"; then
	fail "a second irisd started on the same data directory"
fi
grep -q "another irisd or program uses this data directory" "$tmp/second" ||
    fail "second irisd did not say why: $(cat "$tmp/second")"
kill -0 "$first" 2>/dev/null || fail "the first irisd died"
kill -TERM "$first"
wait "$first" || fail "the first irisd did not exit 0 on SIGTERM"
echo "irisd_smoke: ok"

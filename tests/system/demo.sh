#!/bin/sh
# SPDX-License-Identifier: ISC
# The demo (make demo, and make check): a private irisd in a temp dir, two
# users made with irisctl invites, two iris-chat clients that register,
# then exchange messages, typing, delivery and read receipts through the
# server. Prints what each side saw and fails unless each received exactly
# what the other sent, in order, and got delivery and read receipts for
# its messages.
set -eu
build=$1
export IRIS_BUILD_DIR="$build"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
. tests/system/irisd_lib.sh
tmp=$(mktemp -d)
IRISD_PID=
cleanup() {
	[ -z "$IRISD_PID" ] || kill "$IRISD_PID" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "demo: $*" >&2; exit 1; }

irisd_start "$tmp" || fail "irisd did not start"
echo "demo: irisd on 127.0.0.1:$IRISD_PORT, key $IRISD_FP"
ctl() { "$build/irisctl" -d "$tmp/data" "$@"; }
chat() { "$build/examples/iris-chat" -s "127.0.0.1:$IRISD_PORT" \
    -p "$IRISD_FP" -w 20 "$@"; }

# Each user gets an invite bound to its name and registers with it.
for u in alice bob; do
	code=$(ctl user add "$u" 600) || fail "irisctl user add $u"
	chat -f "$tmp/$u.db" -i "$code" "$u" < /dev/null > "$tmp/$u.reg" 2>&1 ||
	    { cat "$tmp/$u.reg"; fail "$u did not register"; }
	grep -q "^registered $u 1$" "$tmp/$u.reg" || fail "$u: $(cat "$tmp/$u.reg")"
done

# Both at once: each waits for the other to be online, alice types, both
# send; then alice says bye once her messages are receipted, and bob
# once he has all of alice's and receipts for his.
cat > "$tmp/alice.in" <<'S'
/wait online
/add bob
/to bob
/wait presence bob
/typing on
hello bob
how are you?
/typing off
/wait msg 2
/wait receipt 2
/wait read 2
bye from alice
/wait msg 3
/quit
S
cat > "$tmp/bob.in" <<'S'
/wait online
/add alice
/to alice
/wait presence alice
/wait typing 1
hi alice
fine, thanks: and you?
/wait msg 3
/wait receipt 2
/wait read 2
bye from bob
/wait acked 3
/quit
S
chat -f "$tmp/alice.db" alice < "$tmp/alice.in" > "$tmp/alice.out" 2>&1 &
pa=$!
chat -f "$tmp/bob.db" bob < "$tmp/bob.in" > "$tmp/bob.out" 2>&1 &
pb=$!
ra=0 rb=0
wait $pa || ra=$?
wait $pb || rb=$?
for u in alice bob; do
	echo "--- what $u saw"
	sed "s/^/  $u| /" "$tmp/$u.out"
done
[ $ra = 0 ] || fail "alice's iris-chat exited $ra"
[ $rb = 0 ] || fail "bob's iris-chat exited $rb"

# What one sent (plain lines of its script) and the other received.
sent() { grep -v '^/' "$tmp/$1.in"; }
got() { sed -n "s/^msg $1 1 $2 [0-9a-f]\{32\} //p" "$tmp/$2.out"; }
[ "$(sent alice)" = "$(got alice bob)" ] || fail "bob did not receive exactly what alice sent"
[ "$(sent bob)" = "$(got bob alice)" ] || fail "alice did not receive exactly what bob sent"
# The ids match too, and each one's first two messages were receipted
# and read (iris-chat marks what it shows read).
ids() { sed -n "s/^sent \([0-9a-f]*\) acked$/\1/p" "$tmp/$1.out"; }
rids() { sed -n "s/^msg $1 1 $2 \([0-9a-f]\{32\}\) .*/\1/p" "$tmp/$2.out"; }
[ "$(ids alice)" = "$(rids alice bob)" ] || fail "alice's acked ids are not bob's received ids"
[ "$(ids bob)" = "$(rids bob alice)" ] || fail "bob's acked ids are not alice's received ids"
other() { [ "$1" = alice ] && echo bob || echo alice; }
for u in alice bob; do
	for id in $(ids "$u" | head -n 2); do
		grep -q "^receipt $id " "$tmp/$u.out" || fail "$u got no receipt for $id"
		grep -q "^read $id $(other "$u") 1 " "$tmp/$u.out" || fail "$u got no read receipt for $id"
	done
done
grep -q '^typing alice 1 on$' "$tmp/bob.out" || fail "bob did not see alice typing"
grep -q '^presence bob online' "$tmp/alice.out" || fail "alice did not see bob online"

irisd_stop || fail "irisd did not exit 0 on SIGTERM"
IRISD_PID=
echo "demo: ok: alice and bob each received exactly what the other sent ($(sent alice | wc -l) and $(sent bob | wc -l) messages), with delivery and read receipts and typing"

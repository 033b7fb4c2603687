#!/bin/sh
# SPDX-License-Identifier: ISC
# The client examples against a real irisd in a temp dir: iris-echo
# answers a message, iris-chat links a second device of a user with a
# link token and the primary's /add-device (the linked device receives
# the answer, the primary a copy of what the linked one sent), two users'
# /verify print the same safety number, and
# iris-chat refuses bad input with a clear error and a non-zero status.
set -eu
build=$1
export IRIS_BUILD_DIR="$build"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
. tests/system/irisd_lib.sh
tmp=$(mktemp -d)
IRISD_PID= echo_pid=
cleanup() {
	[ -z "$echo_pid" ] || kill "$echo_pid" 2>/dev/null || true
	[ -z "$IRISD_PID" ] || kill "$IRISD_PID" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "chat: $*" >&2; exit 1; }

irisd_start "$tmp" || fail "irisd did not start"
ctl() { "$build/irisctl" -d "$tmp/data" "$@"; }
srv="-s 127.0.0.1:$IRISD_PORT -p $IRISD_FP"
chat() { "$build/examples/iris-chat" $srv -w 20 "$@"; }

# The bot registers with its invite and answers one message.
"$build/examples/iris-echo" $srv -f "$tmp/echo.db" -i "$(ctl user add echo 600)" \
    -n 1 echo > "$tmp/echo.out" 2>&1 &
echo_pid=$!
until_ok 20 grep -qs '^online echo$' "$tmp/echo.out" || fail "iris-echo not online: $(cat "$tmp/echo.out")"

chat -f "$tmp/a1.db" -i "$(ctl user add alice 600)" alice < /dev/null > "$tmp/a1.reg" 2>&1 ||
    fail "alice: $(cat "$tmp/a1.reg")"
printf '/wait online\n/link-token\n' | chat -f "$tmp/a1.db" alice > "$tmp/a1.tok" 2>&1 ||
    fail "link token: $(cat "$tmp/a1.tok")"
token=$(sed -n 's/^link-token \([^ ]*\) [0-9]*$/\1/p' "$tmp/a1.tok")
[ -n "$token" ] || fail "no link token: $(cat "$tmp/a1.tok")"
chat -f "$tmp/a2.db" -L "$token" alice < /dev/null > "$tmp/a2.reg" 2>&1 ||
    fail "linking: $(cat "$tmp/a2.reg")"
key=$(sed -n 's/^linked alice 2 \([0-9a-f]\{64\}\)$/\1/p' "$tmp/a2.reg")
[ -n "$key" ] || fail "not linked as device 2: $(cat "$tmp/a2.reg")"
printf '/wait online\n/add-device 2 %s\n/devices\n' "$key" |
    chat -f "$tmp/a1.db" alice > "$tmp/a1.add" 2>&1 || fail "add-device: $(cat "$tmp/a1.add")"
grep -q "^device alice 2 $key$" "$tmp/a1.add" || fail "device 2 not in the list: $(cat "$tmp/a1.add")"

# The linked device asks the bot; the answer reaches it.
printf '/wait online\n/to echo\nping from the second device\n/wait msg 1\n' |
    chat -f "$tmp/a2.db" alice > "$tmp/a2.out" 2>&1 || fail "alice/2: $(cat "$tmp/a2.out")"
grep -q '^msg echo 1 alice [0-9a-f]\{32\} ping from the second device$' "$tmp/a2.out" ||
    fail "no answer from iris-echo: $(cat "$tmp/a2.out")"
wait "$echo_pid" || fail "iris-echo exited $?: $(cat "$tmp/echo.out")"
echo_pid=
grep -q '^echo alice 27 bytes$' "$tmp/echo.out" || fail "iris-echo: $(cat "$tmp/echo.out")"
# The primary gets the copy of its other device's send, and the answer.
printf '/wait online\n/wait msg 2\n' | chat -f "$tmp/a1.db" alice > "$tmp/a1.out" 2>&1 ||
    fail "alice/1: $(cat "$tmp/a1.out")"
grep -q '^msg alice 2 echo [0-9a-f]* ping from the second device$' "$tmp/a1.out" ||
    fail "the primary has no copy: $(cat "$tmp/a1.out")"
grep -q '^msg echo 1 alice [0-9a-f]* ping from the second device$' "$tmp/a1.out" ||
    fail "the primary has no answer: $(cat "$tmp/a1.out")"

# Safety numbers: alice and bob read out the same sixty digits.
chat -f "$tmp/b.db" -i "$(ctl user add bob 600)" bob < /dev/null > "$tmp/b.reg" 2>&1 ||
    fail "bob: $(cat "$tmp/b.reg")"
printf '/wait online\n/verify bob\n' | chat -f "$tmp/a1.db" alice > "$tmp/a.sn" 2>&1 ||
    fail "alice /verify: $(cat "$tmp/a.sn")"
printf '/wait online\n/verify alice\n' | chat -f "$tmp/b.db" bob > "$tmp/b.sn" 2>&1 ||
    fail "bob /verify: $(cat "$tmp/b.sn")"
digits='[0-9]\{5\}\( [0-9]\{5\}\)\{11\}'
sn_a=$(sed -n "s/^safety bob \($digits\)$/\1/p" "$tmp/a.sn")
sn_b=$(sed -n "s/^safety alice \($digits\)$/\1/p" "$tmp/b.sn")
echo "chat: safety number $sn_a"
[ -n "$sn_a" ] && [ "$sn_a" = "$sn_b" ] || fail "safety numbers differ: $(cat "$tmp/a.sn" "$tmp/b.sn")"

# Bad input: a clear error, a non-zero status, the account unharmed.
if printf '/frobnicate\n' | chat -f "$tmp/a1.db" alice > "$tmp/bad" 2>&1; then fail "unknown command accepted"; fi
grep -q '^error IRIS_EINVAL unknown command /frobnicate' "$tmp/bad" || fail "unclear: $(cat "$tmp/bad")"
if printf '/wait msg x\n/add-device 0 00\n' | chat -f "$tmp/a1.db" alice > "$tmp/bad" 2>&1; then fail "bad arguments accepted"; fi
[ "$(grep -c '^error IRIS_EINVAL' "$tmp/bad")" = 2 ] || fail "bad arguments: $(cat "$tmp/bad")"
if printf '/wait online\n/verify\n' | chat -f "$tmp/a1.db" alice > "$tmp/bad" 2>&1; then fail "/verify without a user accepted"; fi
grep -q '^error IRIS_EINVAL' "$tmp/bad" || fail "/verify without a user: $(cat "$tmp/bad")"
if printf '/wait online\n/verify nobody\n' | chat -f "$tmp/a1.db" alice > "$tmp/bad" 2>&1; then fail "/verify of no user accepted"; fi
grep -q "^error IRIS_ENOTFOUND verify" "$tmp/bad" || fail "/verify of no user unclear: $(cat "$tmp/bad")"
if chat -f "$tmp/new.db" carol < /dev/null 2> "$tmp/bad"; then fail "started without an account"; fi
grep -q 'no account in the store' "$tmp/bad" || fail "no-account refusal unclear: $(cat "$tmp/bad")"
if printf 'hi\n' | chat -w 2 -f "$tmp/a1.db" alice > "$tmp/bad" 2>&1; then fail "a send without a peer accepted"; fi
grep -q 'no peer' "$tmp/bad" || fail "no-peer refusal unclear: $(cat "$tmp/bad")"
if "$build/examples/iris-echo" -s x 2>/dev/null; then fail "iris-echo accepted bad usage"; fi
printf '/wait online\n/whoami\n' | chat -f "$tmp/a1.db" alice | grep -q '^me alice 1 ' || fail "alice's account harmed"

irisd_stop || fail "irisd did not exit 0 on SIGTERM"
IRISD_PID=
echo "chat: iris-echo answers, a linked device receives, safety numbers agree, bad input refused: ok"

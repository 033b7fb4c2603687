#!/bin/sh
# SPDX-License-Identifier: ISC
# The examples as their users run them. iris-queue: an append is reported
# once durable, a retry with the same id is recognised and stores nothing
# twice, reads see the messages in order, acks move the cursor and never
# back, bad input is refused with a message. (iris-edge-hook is tested by
# tests/system/example_edge_hook.c against real TLS clients.)
set -eu
build=$1
q="$build/examples/iris-queue"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "examples: $*" >&2; exit 1; }
db="$tmp/q.db"

printf 'first' | "$q" "$db" append alice/1 bob/1,bob/2 > "$tmp/a1" || fail "append failed: $(cat "$tmp/a1")"
grep -q '^stored msg_id [0-9]*$' "$tmp/a1" || fail "no durable ack: $(cat "$tmp/a1")"
[ "$(grep -c '^seq 1$' "$tmp/a1")" = 2 ] || fail "first append is not seq 1 in both inboxes"
id=$(sed -n 's/^id //p' "$tmp/a1")
# The retry of a send whose outcome the caller did not learn.
printf 'first' | "$q" "$db" append alice/1 bob/1,bob/2 "$id" > "$tmp/a2"
grep -q 'a retry: stored before' "$tmp/a2" || fail "retry not recognised: $(cat "$tmp/a2")"
[ "$(sed -n 's/^stored //p' "$tmp/a1")" = "$(sed -n 's/^stored \([^ ]* [0-9]*\).*/\1/p' "$tmp/a2")" ] || fail "retry got another msg_id"
printf 'second\n' | "$q" "$db" append alice/1 bob/1 > "$tmp/a3"
grep -q '^seq 2$' "$tmp/a3" || fail "second append is not seq 2"

"$q" "$db" read bob 1 > "$tmp/r"
grep -q '^2 messages$' "$tmp/r" || fail "bob/1 should hold 2 messages: $(cat "$tmp/r")"
[ "$(sed -n '2p;4p' "$tmp/r" | tr '\n' ' ')" = "first second " ] || fail "wrong contents or order: $(cat "$tmp/r")"
"$q" "$db" read bob 1 1 > "$tmp/r"
grep -q '^seq 2 ' "$tmp/r" && grep -q '^1 message$' "$tmp/r" || fail "read after seq 1: $(cat "$tmp/r")"

"$q" "$db" ack bob 1 1 | grep -q '^acked up to 1$' || fail "ack 1"
"$q" "$db" ack bob 1 0 | grep -q '^acked up to 1$' || fail "an ack went backward"
"$q" "$db" depth bob 1 | grep -q '^acked 1 head 2 unacked 1$' || fail "depth after ack"
"$q" "$db" stats | grep -q "^read_only 0$" || fail "stats: not writable"

# Bad input: a clear refusal, and the queue unharmed.
if printf x | "$q" "$db" append alice/1 'bob/0' 2> "$tmp/e"; then fail "device 0 accepted"; fi
grep -q 'bad device' "$tmp/e" || fail "device 0 refusal unclear: $(cat "$tmp/e")"
if printf x | "$q" "$db" append alice/1 bob/1 nothex 2> "$tmp/e"; then fail "bad id accepted"; fi
if printf x | "$q" "$db" append 'a b/1' bob/1 2> "$tmp/e"; then fail "user id with a space accepted"; fi
grep -q 'IRIS_EINVAL' "$tmp/e" || fail "bad user id refusal unclear: $(cat "$tmp/e")"
head -c 70000 /dev/zero | { if "$q" "$db" append alice/1 bob/1 2> "$tmp/e"; then fail "70000 bytes accepted"; fi; }
if "$q" "$db" frobnicate 2>/dev/null; then fail "unknown command accepted"; fi
echo 'not a store' > "$tmp/bad.db"
if "$q" "$tmp/bad.db" stats 2> "$tmp/e"; then fail "a foreign file opened"; fi
grep -q 'IRIS_ECORRUPT' "$tmp/e" || fail "foreign file refusal unclear: $(cat "$tmp/e")"
"$q" "$db" depth bob 1 | grep -q '^acked 1 head 2 unacked 1$' || fail "queue changed by bad input"
echo "examples: iris-queue ok"

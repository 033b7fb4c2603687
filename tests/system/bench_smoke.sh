#!/bin/sh
# SPDX-License-Identifier: ISC
# A seconds-long run of iris-bench (-S) against real irisds: it must exit
# 0 (no loss, no duplicate, no gap, no error frame, traffic in every
# workload) and print a JSON line for each workload, with messages moved.
set -eu
build=$1
IRIS_BUILD=$(cd "$build" && pwd)
LD_LIBRARY_PATH="$IRIS_BUILD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export IRIS_BUILD LD_LIBRARY_PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/iris-bench-smoke-XXXXXX")
out=$work/out
if ! (cd "$work" && "$IRIS_BUILD/tests/bench/iris-bench" -S) > "$out"; then
	cat "$out"
	echo "bench_smoke: iris-bench FAILED (work dir kept: $work)" >&2
	exit 1
fi
for w in durable latency drain idle reconnect; do
	line=$(grep "^{\"workload\":\"$w\"" "$out" || true)
	if [ -z "$line" ]; then
		cat "$out"
		echo "bench_smoke: no figures for $w" >&2
		exit 1
	fi
done
# Messages moved: a zero rate is a failed run, not a result.
for w in durable latency drain; do
	if grep "^{\"workload\":\"$w\"" "$out" |
	    grep -q '"msgs_per_s":0[,.]'; then
		echo "bench_smoke: $w moved no messages" >&2
		exit 1
	fi
done
rm -rf "$work"
echo "bench_smoke: iris-bench smoke run clean"

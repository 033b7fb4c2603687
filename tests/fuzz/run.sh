#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs a fuzzer for a time box over a copy of a seed corpus (the third
# argument, tests/fuzz/corpus by default: the frame fuzzer's) and
# prints how many inputs it executed. Any crash, leak or sanitizer report
# fails; the crashing input is kept in build/ for replay.
set -eu
bin=$1 secs=$2 corpus=${3:-tests/fuzz/corpus}
seed=${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$corpus"/* "$work/"
echo "fuzz: seed $seed, $secs s, $(ls "$corpus" | wc -l) seed inputs"
if ! "$bin" -seed="$seed" -max_total_time="$secs" -max_len=65536 \
    -rss_limit_mb=2048 -artifact_prefix="$(dirname "$bin")/fuzz-" \
    -print_final_stats=1 "$work" > "$work/log" 2>&1; then
	tail -50 "$work/log"
	echo "fuzz: FAILED (seed $seed); artifacts in $(dirname "$bin")" >&2
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
echo "fuzz: no findings in ${runs:-?} executions"

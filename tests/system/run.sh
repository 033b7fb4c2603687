#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs each system test program (tests/system/*.c, built into BUILD) in a
# fresh temporary directory, and fails on the first that fails. Each
# program prints its own seed and figures.
set -eu
build=$1
shift
# Programs under test (irisd, irisctl) come from this build.
IRIS_BUILD=$(cd "$build" && pwd)
LD_LIBRARY_PATH="$IRIS_BUILD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export IRIS_BUILD LD_LIBRARY_PATH
for t in "$@"; do
	name=$(basename "$t")
	bin=$(cd "$(dirname "$t")" && pwd)/$name
	work=$(mktemp -d "${TMPDIR:-/tmp}/iris-$name-XXXXXX")
	start=$(date +%s)
	if ! (cd "$work" && "$bin"); then
		echo "system: $name FAILED (work dir kept: $work)" >&2
		exit 1
	fi
	rm -rf "$work"
	echo "system: $name ok ($(( $(date +%s) - start )) s)"
done

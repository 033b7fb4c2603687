#!/bin/sh
# SPDX-License-Identifier: ISC
# The committed nanopb code must be what the generator makes of
# proto/iris.proto and proto/iris.options (run `make proto` after editing).
set -eu
gen=$1 build=$2
out=$build/proto-check
rm -rf "$out" && mkdir -p "$out"
"$gen" -q --error-on-unmatched -D "$out" -I proto proto/iris.proto
for f in iris.pb.h iris.pb.c; do
	if ! cmp -s "proto/$f" "$out/$f"; then
		echo "proto: proto/$f is stale; run make proto" >&2
		diff -u "proto/$f" "$out/$f" | head -20 >&2
		exit 1
	fi
done
echo "proto: generated code current"

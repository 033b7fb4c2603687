#!/bin/sh
# SPDX-License-Identifier: ISC
# Fails unless libiris.so exports exactly the symbols its version script
# lists (the version nodes themselves aside): no pb_* or internal symbol
# leaks, and nothing listed is missing.
set -eu
so=$1 map=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' |
    grep -v '^IRIS_[0-9_]*$' | sort -u > "$tmp/exported"
sed -n 's/^[[:space:]]*\(iris_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u > "$tmp/listed"
if ! diff -u "$tmp/listed" "$tmp/exported"; then
	echo "exports: $so differs from $map (- listed only, + exported only)" >&2
	exit 1
fi
bad=$(grep -v '^iris_' "$tmp/exported" || true)
if [ -n "$bad" ]; then
	echo "exports: non-iris symbols exported: $bad" >&2
	exit 1
fi
echo "exports: $(wc -l < "$tmp/exported") symbols, all iris_*, all in $map"

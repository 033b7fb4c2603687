#!/bin/sh
# SPDX-License-Identifier: ISC
# Holds the layering of DESIGN.md §3: the pure layers (util, wire) include
# no event loop, socket, TLS, SQLite or crypto headers; programs and
# examples include only the public header.
set -eu
fail=0
pure=$(grep -lE '#include[[:space:]]*<(event2/|mbedtls/|sqlite3|sodium|sys/socket|netinet/|pthread)' \
    lib/util/*.[ch] lib/wire/*.[ch] 2>/dev/null || true)
if [ -n "$pure" ]; then
	echo "layers: pure layer files include adapter headers: $pure" >&2
	fail=1
fi
thin=$(grep -lE '#include[[:space:]]*"(util|wire|net|store|bus|engine|client|e2ee)/' \
    server/*.c examples/*.c 2>/dev/null || true)
if [ -n "$thin" ]; then
	echo "layers: programs include library internals: $thin" >&2
	fail=1
fi
[ $fail = 0 ] && echo "layers: pure layers and programs clean"
exit $fail

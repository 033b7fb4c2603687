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
# DESIGN.md §3: the edge (lib/engine) writes to storage only through the
# bus; only the engine's lifecycle and its metrics (engine.c, metrics.c)
# know the core exists; the core never reaches back into the edge; the bus
# knows neither.
writes='iris__acct_submit|iris__acct_job_new|iris_store_append|iris_store_ack|iris__store_ack_ex|iris__store_set_disabled|iris_send_new|iris__worker_submit'
edge=$(grep -lE "($writes)[[:space:]]*\(" lib/engine/*.c 2>/dev/null || true)
if [ -n "$edge" ]; then
	echo "layers: edge files write to the store, not through the bus: $edge" >&2
	fail=1
fi
core=$(grep -lE '#include[[:space:]]*"core/' lib/engine/*.c 2>/dev/null |
    grep -vE '^lib/engine/(engine|metrics)\.c$' || true)
if [ -n "$core" ]; then
	echo "layers: edge files call the core, not the bus: $core" >&2
	fail=1
fi
back=$(grep -lE '#include[[:space:]]*"engine/' lib/core/*.[ch] lib/bus/*.[ch] \
    lib/store/*.[ch] 2>/dev/null || true)
if [ -n "$back" ]; then
	echo "layers: lower layers include the edge: $back" >&2
	fail=1
fi
bus=$(grep -lE '#include[[:space:]]*"(core|store|engine|net)/' lib/bus/*.[ch] \
    2>/dev/null || true)
if [ -n "$bus" ]; then
	echo "layers: the bus depends on what it connects: $bus" >&2
	fail=1
fi
# lib/e2ee is pure cryptography: libsodium and util only, no loop, socket,
# TLS or store; of the library's layers only the client uses it.
e2ee=$(grep -lE '#include[[:space:]]*(<(event2/|mbedtls/|sqlite3|sys/socket|netinet/|pthread)|"(wire|net|store|bus|core|engine|client)/)' \
    lib/e2ee/*.[ch] 2>/dev/null || true)
if [ -n "$e2ee" ]; then
	echo "layers: e2ee files depend on more than util and libsodium: $e2ee" >&2
	fail=1
fi
users=$(grep -lE '#include[[:space:]]*"e2ee/' lib/*/*.[ch] 2>/dev/null |
    grep -vE '^lib/(e2ee|client)/' || true)
if [ -n "$users" ]; then
	echo "layers: only the client may use lib/e2ee: $users" >&2
	fail=1
fi
[ $fail = 0 ] && echo "layers: pure layers, programs, edge, bus, core and e2ee clean"
exit $fail

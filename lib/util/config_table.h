/* SPDX-License-Identifier: ISC */
/* The one table of configuration options, expanded where needed. */
#ifndef IRIS_UTIL_CONFIG_TABLE_H
#define IRIS_UTIL_CONFIG_TABLE_H

#include <stdint.h>

/* Sizes are binary (K = 1024); durations are stored in milliseconds. */
#define IRIS__KIB(n)	((uint64_t)(n) << 10)
#define IRIS__MIB(n)	((uint64_t)(n) << 20)
#define IRIS__GIB(n)	((uint64_t)(n) << 30)
#define IRIS__MSEC(n)	((uint64_t)(n))
#define IRIS__SEC(n)	((uint64_t)(n) * 1000)
#define IRIS__MINS(n)	((uint64_t)(n) * 60 * 1000)
#define IRIS__HOURS(n)	((uint64_t)(n) * 60 * 60 * 1000)

/*
 * X(ID, name, type, default, min, max, words, check, description)
 *
 * type is STRING, UINT, BOOL, SIZE, DURATION, ENUM or LIST. The default
 * is written in canonical form, the form iris_config_get() gives back
 * (sizes with the largest exact K/M/G suffix, durations with the largest
 * exact ms/s/m/h unit, booleans as yes/no). min and max bound UINT, SIZE
 * and DURATION values. words lists the values of an ENUM, separated by
 * spaces, in the order of their indexes; ENUM and BOOL words and size
 * suffixes match in any case. check names a validator (in
 * config_value.c) for each STRING value or LIST item, or is NULL.
 * Options are only ever appended, so that indexes stay stable.
 */
#define IRIS__CONFIG_TABLE(X)						\
	X(DATA_DIR, "data_dir", STRING, "/var/lib/iris", 0, 0, NULL,	\
	    check_nonempty,						\
	    "Directory for the store, keys and certificates.")		\
	X(LISTEN, "listen", LIST, "0.0.0.0:7443", 0, 0, NULL,		\
	    check_hostport,						\
	    "TLS listener address as HOST:PORT ([::1]:7443 for IPv6);"	\
	    " port 0 picks a free port. Repeat for more listeners;"	\
	    " the first one set replaces the default.")		\
	X(NODE_ID, "node_id", UINT, "0", 0, 255, NULL, NULL,		\
	    "Node part of server message ids; unique per node of a"	\
	    " cluster.")						\
	X(LOG_LEVEL, "log_level", ENUM, "info", 0, 0,			\
	    "err warning notice info debug", NULL,			\
	    "Most verbose level passed to the log callback.")		\
	X(MAX_FRAME_BEFORE_LOGIN, "max_frame_before_login", SIZE, "4K",	\
	    IRIS__KIB(1), IRIS__KIB(64), NULL, NULL,			\
	    "Largest frame accepted before login.")			\
	X(MAX_ENVELOPE, "max_envelope", SIZE, "64K",			\
	    IRIS__KIB(1), IRIS__KIB(64), NULL, NULL,			\
	    "Largest opaque envelope in bytes.")			\
	X(MAX_DEVICES_PER_USER, "max_devices_per_user", UINT, "16",	\
	    1, 64, NULL, NULL,						\
	    "Devices one user may register.")				\
	X(MAX_SYNC_PAGE, "max_sync_page", UINT, "256", 1, 4096, NULL,	\
	    NULL,							\
	    "Deliveries per sync page.")				\
	X(INBOUND_BUDGET, "inbound_budget", SIZE, "256M",		\
	    IRIS__MIB(1), IRIS__GIB(64), NULL, NULL,			\
	    "Inbound bytes buffered by the whole process; past it,"	\
	    " reads pause.")						\
	X(FRAME_TIMEOUT, "frame_timeout", DURATION, "10s",		\
	    IRIS__MSEC(100), IRIS__MINS(10), NULL, NULL,		\
	    "Time to receive one frame once it has started.")		\
	X(IDLE_TIMEOUT, "idle_timeout", DURATION, "5m",			\
	    IRIS__SEC(1), IRIS__HOURS(24), NULL, NULL,			\
	    "Time a connection may stay silent before it is closed.")	\
	X(SEND_RATE, "send_rate", UINT, "5", 1, 1000000, NULL, NULL,	\
	    "Sends per second one user may sustain.")			\
	X(SEND_BURST, "send_burst", UINT, "20", 1, 1000000, NULL, NULL,	\
	    "Sends one user may make at once above the rate.")		\
	X(INBOX_CAP, "inbox_cap", UINT, "100000", 1, 100000000, NULL,	\
	    NULL,							\
	    "Unacknowledged messages kept per device.")		\
	X(STORE_QUEUE, "store_queue", UINT, "65536", 16, 10000000,	\
	    NULL, NULL,							\
	    "Writes waiting for the store's writer thread; past it,"	\
	    " writes are refused with a retryable error.")		\
	X(STORE_QUEUE_BYTES, "store_queue_bytes", SIZE, "256M",		\
	    IRIS__MIB(1), IRIS__GIB(64), NULL, NULL,			\
	    "Bytes of envelopes waiting for the writer thread.")	\
	X(STORE_BATCH, "store_batch", UINT, "4096", 1, 1000000, NULL,	\
	    NULL,							\
	    "Most writes committed together in one transaction.")	\
	X(STORE_RETENTION, "store_retention", DURATION, "1h",		\
	    IRIS__MSEC(0), IRIS__HOURS(24 * 365), NULL, NULL,		\
	    "How long a message is kept after its device acked it.")	\
	X(DEDUP_WINDOW, "dedup_window", DURATION, "7d",			\
	    IRIS__HOURS(24 * 7), IRIS__HOURS(24 * 365), NULL, NULL,	\
	    "How long a send is remembered so that its retries are not"	\
	    " stored twice.")						\
	X(STORE_WAL_MAX, "store_wal_max", SIZE, "64M", IRIS__MIB(1),	\
	    IRIS__GIB(16), NULL, NULL,					\
	    "Size the write-ahead log is truncated back to after a"	\
	    " checkpoint.")						\
	X(TLS_CERT, "tls_cert", STRING, "", 0, 0, NULL, NULL,		\
	    "PEM certificate (chain) of the server; empty: a"		\
	    " self-signed one made in data_dir on first start.")	\
	X(TLS_KEY, "tls_key", STRING, "", 0, 0, NULL, NULL,		\
	    "PEM private key of tls_cert (mode 0600).")		\
	X(UNIX_SOCKET, "unix_socket", STRING, "", 0, 0, NULL, NULL,	\
	    "Path of a plaintext Unix socket listener; empty: none."	\
	    " Its file permissions are its only protection.")		\
	X(MAX_CONNECTIONS, "max_connections", UINT, "10000", 1,	\
	    1000000, NULL, NULL,					\
	    "Client connections held at once; more are refused.")	\
	X(UNAUTH_TIMEOUT, "unauth_timeout", DURATION, "10s",		\
	    IRIS__MSEC(100), IRIS__MINS(10), NULL, NULL,		\
	    "Time a connection has to log in.")			\
	X(OUTPUT_CAP, "output_cap", SIZE, "4M", IRIS__KIB(64),		\
	    IRIS__GIB(1), NULL, NULL,					\
	    "Bytes queued to one connection; a reader slower than"	\
	    " that is disconnected.")					\
	X(REGISTRATION, "registration", ENUM, "closed", 0, 0,		\
	    "closed open hook", NULL,					\
	    "Who may register a new user: closed (an invite code is"	\
	    " needed), open, or hook (the embedder's callback decides).")\
	X(TOKEN_LIFETIME, "token_lifetime", DURATION, "1d",		\
	    IRIS__MINS(1), IRIS__HOURS(24), NULL, NULL,		\
	    "How long a session token resumes logins.")		\
	X(LOGIN_FAILURES, "login_failures", UINT, "10", 1, 1000000,	\
	    NULL, NULL,							\
	    "Failed logins of one account allowed per login_window.")	\
	X(LOGIN_WINDOW, "login_window", DURATION, "15m", IRIS__SEC(1),	\
	    IRIS__HOURS(24), NULL, NULL,				\
	    "The window over which login_failures counts.")		\
	X(REVOCATION_CHECK, "revocation_check", DURATION, "10s",	\
	    IRIS__MSEC(50), IRIS__SEC(60), NULL, NULL,			\
	    "How often live sessions are checked against revocations;"	\
	    " a revoked device or token is disconnected within it.")	\
	X(ADMIN_SOCKET, "admin_socket", STRING, "", 0, 0, NULL, NULL,	\
	    "Path of the administration socket irisctl talks to (mode"	\
	    " 0600, peers checked); empty: data_dir/admin.sock.")	\
	X(METRICS_LISTEN, "metrics_listen", STRING, "", 0, 0, NULL,	\
	    NULL,							\
	    "HOST:PORT of the HTTP endpoint for /metrics, /healthz and"	\
	    " /readyz; empty: off. Keep it on a local address.")	\
	X(CONN_RATE, "conn_rate", UINT, "20", 1, 1000000, NULL, NULL,	\
	    "New connections per second from one IP address, sustained.")\
	X(CONN_BURST, "conn_burst", UINT, "100", 1, 1000000, NULL,	\
	    NULL,							\
	    "New connections one IP address may open at once.")	\
	X(PUSH_WINDOW, "push_window", UINT, "256", 1, 4096, NULL, NULL,	\
	    "Deliveries pushed to a connection and not yet acknowledged;"\
	    " past it, pushes wait for the client's acks.")		\
	X(MAX_INFLIGHT, "max_inflight", UINT, "256", 1, 65536, NULL,	\
	    NULL,							\
	    "Requests of one connection handled at once; more are"	\
	    " refused with ERR_OVERLOADED and a retry-after.")		\
	X(MAX_PRESENCE_SUBS, "max_presence_subscriptions", UINT, "1024",\
	    1, 65536, NULL, NULL,					\
	    "Users one connection may watch the presence of.")		\
	X(MAX_CONTACTS, "max_contacts", UINT, "4096", 1, 4096, NULL,	\
	    NULL,							\
	    "Users on one contact list.")				\
	X(BUS_QUEUE, "bus_queue", UINT, "65536", 16, 10000000, NULL,	\
	    NULL,							\
	    "Requests waiting for the core services; past it, requests"	\
	    " are refused with ERR_OVERLOADED.")			\
	X(SHED_AT, "shed_at", UINT, "4096", 1, 10000000, NULL, NULL,	\
	    "Store write queue depth from which typing indicators are"	\
	    " refused; presence updates wait from twice it, and acks"	\
	    " make no delivery receipts from four times it.")		\
	X(MAX_PREKEYS, "max_prekeys", UINT, "1000", 100, 100000, NULL,	\
	    NULL,							\
	    "One-time prekeys held for one device; an upload past it"	\
	    " is refused with ERR_BAD_REQUEST.")			\
	X(PREKEY_LOW, "prekey_low", UINT, "20", 0, 100000, NULL, NULL,	\
	    "Low mark of a device's one-time prekey pool: a device whose"\
	    " pool falls below it is sent a prekey_low notice; 0: none.")\
	X(SIGNED_PREKEY_GRACE, "signed_prekey_grace", DURATION, "30d",	\
	    0, IRIS__HOURS(24 * 365), NULL, NULL,			\
	    "How long the key directory keeps a replaced signed prekey"	\
	    " after its successor came.")				\
	X(DURABILITY, "durability", ENUM, "full", 0, 0, "full none",	\
	    NULL,							\
	    "full: a send is acked only once its commit is fsync'd;"	\
	    " none: commits are not synced (NOT durable: a power loss"	\
	    " or OS crash loses acked messages), for comparisons only;"	\
	    " refused unless durability_none_i_understand is yes.")	\
	X(DURABILITY_NONE_OK, "durability_none_i_understand", BOOL,	\
	    "no", 0, 0, NULL, NULL,					\
	    "Confirms durability none; without it, irisd and the store"	\
	    " refuse to start with durability none.")

#endif /* IRIS_UTIL_CONFIG_TABLE_H */

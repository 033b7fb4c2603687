/* SPDX-License-Identifier: ISC */
/*
 * The engine, inside: listeners and the sessions on them (the edge), and
 * behind them the bus to the core services and the store. Edge code
 * writes to storage only through the bus (lib/bus/bus.h); it reads the
 * store's read connection on the loop where DESIGN.md §7 allows.
 */
#ifndef IRIS_ENGINE_ENGINE_H
#define IRIS_ENGINE_ENGINE_H

#include <stdint.h>

#include "iris_server.h"
#include "iris_store.h"
#include "bus/bus.h"
#include "net/conn.h"
#include "net/tls.h"
#include "util/config.h"
#include "util/bucket.h"
#include "util/clock.h"
#include "util/histo.h"
#include "util/hmap.h"
#include "util/log.h"
#include "wire/frame.h"
#include "wire/msg.h"

#define IRIS_SERVER_ID_LEN	16
#define IRIS_CHALLENGE_LEN	32
#define IRIS_LISTENERS_MAX	(IRIS__CONFIG_LIST_MAX + 1)
#define IRIS_WIRE_ERRS		64	/* error codes counted (v1 has 33) */

/*
 * Lines a peer can cause (a failed handshake, a bad frame, a failed
 * login) are rate limited, so that a flood of bad connections cannot
 * flood the log: PEER_LOG_RATE a second, bursts of PEER_LOG_BURST.
 */
#define IRIS_PEER_LOG_RATE	20
#define IRIS_PEER_LOG_BURST	200
#define IRIS__PEER_LOG(eng, level, ...)					\
	iris__log_limited(&(eng)->log, &(eng)->peer_log,		\
	    iris__clock_mono_us(), (level), __VA_ARGS__)

struct evconnlistener;
struct iris_core;
struct iris_session;

/* A user's send bucket, shared by its connections on this edge. */
struct edge_user {
	struct iris_hnode	 node;
	char			 user[IRIS_USER_MAX + 1];
	int			 refs;
	struct iris_bucket	 bucket;
};

/*
 * What the edge keeps for a logged-in connection's messaging
 * (lib/engine/edge_msg.c, edge_push.c): the delivery state (the client
 * syncs in pages, then gets pushes within a window of unacked ones) and
 * the FIFO state of its sends (after a retryable refusal, later sends
 * are refused until the refused one comes again).
 */
struct iris_edge_sess {
	struct iris_session	*s;
	struct iris_hnode	 node;		/* in eng->by_dev */
	uint64_t		 conn;		/* its id on the bus */
	int			 attached;
	int			 live;		/* synced to the end */
	int			 fetching;
	uint64_t		 acked;		/* the client's cumulative ack */
	uint64_t		 ack_max;	/* highest ack sent */
	uint64_t		 sent;		/* highest seq given to it */
	uint64_t		 head;		/* highest seq known to exist */
	uint64_t		 chain;		/* its current FIFO chain */
	uint64_t		 chain_idx;	/* sends in that chain */
	int			 blocked;
	uint64_t		 blocked_idx;
	uint8_t			 blocked_cmid[16];
	uint32_t		 inflight;	/* requests on the bus */
	struct edge_user	*u;
};

struct iris_listener {
	struct iris_engine	*eng;
	struct evconnlistener	*l;
	int			 tls;		/* 0: the plaintext Unix socket */
	int			 port;
	char			 name[128];
};

/* Counters, in the order of the stat names (lib/engine/engine.c). */
enum {
	ST_CONNECTIONS, ST_ACCEPTED, ST_REFUSED_FULL, ST_TLS_FAILURES,
	ST_FRAMES_IN, ST_FRAMES_OUT, ST_BYTES_IN, ST_BYTES_OUT,
	ST_ERRORS_SENT, ST_MALFORMED, ST_TIMEOUTS, ST_SLOW_READERS,
	ST_LOGINS, ST_LOGINS_RESUMED, ST_AUTH_FAILURES, ST_REGISTRATIONS,
	ST_REVOKED_CLOSED, ST_REFUSED_RATE,
	/* Messaging at the edge. */
	ST_MSG_OUT, ST_ACK_SENT, ST_RELAYED_OUT, ST_SHED_OUTPUT,
	ST_SENDS_REFUSED_EDGE,
	/* Read from the core and the store when asked. */
	ST_MSG_IN, ST_DEDUP_HIT, ST_SENDS_REFUSED, ST_TYPING_SHED,
	ST_PRESENCE_SHED, ST_RECEIPTS, ST_RECEIPTS_SHED, ST_INBOX_DEPTH,
	ST_OLDEST_UNACKED_MS, ST_OVERLOAD,
	/* The key directory, read from the core. */
	ST_KEYS_UPLOADED, ST_BUNDLES_FETCHED, ST_PREKEYS_HANDED_OUT,
	ST_PREKEYS_EXHAUSTED, ST_PREKEY_LOW_SENT,
	ST_COUNT
};

struct iris_engine {
	struct event_base	*base;
	struct iris_config	*cfg;
	struct iris_logger	 log;
	char			 err[512];
	struct iris_tls_ctx	*tls;
	/* Contexts replaced by a reload; connections made on them may still
	 * use them, so they live as long as the engine. */
	struct iris_tls_ctx	*retired[16];
	size_t			 nretired;
	struct iris_store	*store;
	struct iris_bus		*bus;
	struct iris_core	*core;
	struct iris_listener	 lst[IRIS_LISTENERS_MAX];
	size_t			 nlst;
	uint8_t			 server_id[IRIS_SERVER_ID_LEN];

	/* Limits, from the config. */
	struct iris_wire_limits	 lim;
	uint32_t		 max_frame_pre;	/* before login */
	uint32_t		 max_frame;	/* after login */
	uint64_t		 frame_timeout_ms;
	uint64_t		 idle_timeout_ms;
	uint64_t		 unauth_timeout_ms;
	uint64_t		 max_conns;
	size_t			 output_cap;
	uint64_t		 inbound_budget;
	uint32_t		 push_window;
	uint32_t		 max_inflight;
	uint32_t		 send_rate;
	uint32_t		 send_burst;

	struct iris_session	*sessions;	/* doubly linked */
	struct iris_session	*zombies;	/* closed, store jobs pending */
	uint64_t		 nsessions;
	uint64_t		 nrefusing;	/* sessions only refusing */
	uint64_t		 inbound;	/* bytes held by framers */
	int			 reads_paused;	/* over the inbound budget */

	int			 stopping;
	iris_engine_cb		 stop_cb;
	void			*stop_arg;
	struct event		*stop_ev;
	struct event		*sweep_ev;	/* revocation checks */

	uint64_t		 st[ST_COUNT];
	uint64_t		 errs[IRIS_WIRE_ERRS];	/* sent, by code */
	/* Sends refused at the edge, by code (the core counts its own). */
	uint64_t		 refused[IRIS_WIRE_ERRS];
	struct iris_histo	 ack_lat;	/* send -> durable SendAck */
	struct iris_histo	 deliver_lat;	/* send -> pushed Deliver */

	/* Messaging at the edge (lib/engine/edge_*.c). */
	struct iris_hmap	 by_dev;	/* sessions by (user, device) */
	struct iris_hmap	 users;		/* edge_user by user */
	uint64_t		 next_conn;
	uint64_t		 oldest_ms;	/* cached for the metrics */
	uint64_t		 oldest_at;

	/* Administration socket (lib/engine/admin.c) and metrics
	 * (lib/engine/metrics.c). */
	struct iris_admin	*admin;
	struct iris_metrics	*metrics;
	int			 metrics_port;

	/* Per-IP new-connection buckets (hashed; a shared slot is stricter,
	 * never looser). */
	struct iris_bucket	*ip_buckets;
	/* Lines peers can cause, at most PEER_LOG_RATE a second. */
	struct iris_lograte	 peer_log;

	/* Auth (lib/engine/auth.c). */
	uint8_t			 sign_pk[32];	/* signs session tokens */
	uint8_t			 sign_sk[64];
	struct login_fail	*fails;		/* failed logins per account */
	/* Tokens made or verified here (lib/engine/token.c). */
	struct token_seen	*tokens_seen;
	uint8_t			 tokens_key[32];
	iris_register_cb	 register_cb;
	void			*register_arg;
};

/* lib/engine/session.c */
/* refuse: 0, or an error code sent as soon as the connection is up (with
 * retry_ms), after which it is closed. */
int	 iris__session_new(struct iris_engine *eng, int fd, int tls,
	    const char *peer, int refuse, uint32_t retry_ms);
void	 iris__session_free(struct iris_session *s);
struct iris_session *iris__session_next(struct iris_session *s);
/* Tells the client why, then closes (shutdown, over the limit). */
void	 iris__session_bye(struct iris_session *s, int wire_err,
	    uint32_t retry_after_ms, const char *detail);
void	 iris__sessions_pause(struct iris_engine *eng, int paused);
void	 iris__sessions_free_zombies(struct iris_engine *eng);
/* A store job refers to the session: hold it; release returns 0 when the
 * session went away meanwhile (and must not be touched). */
void	 iris__session_hold(struct iris_session *s);
int	 iris__session_release(struct iris_session *s);
int	 iris__session_send(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__session_error(struct iris_session *s, uint64_t request_id,
	    int code, uint32_t retry_after_ms, const char *detail);
struct iris_engine *iris__session_engine(struct iris_session *s);
const uint8_t *iris__session_take_challenge(struct iris_session *s);
void	 iris__session_new_challenge(struct iris_session *s,
	    uint8_t out[IRIS_CHALLENGE_LEN]);
const uint8_t *iris__session_binding(struct iris_session *s);
const char *iris__session_peer(struct iris_session *s);
/* The trace id (hex) of the frame being handled, or "-". */
const char *iris__session_trace(struct iris_session *s);
const char *iris__session_user(struct iris_session *s, uint32_t *device);
const uint8_t *iris__session_token_id(struct iris_session *s);
void	 iris__session_login(struct iris_session *s, const char *user,
	    uint32_t device, const uint8_t token_id[16]);
struct iris_edge_sess *iris__session_edge(struct iris_session *s);
/* The frame being handled: its bytes, trace id and arrival (µs). */
const uint8_t *iris__session_frame(struct iris_session *s, size_t *len);
const uint8_t *iris__session_trace_raw(struct iris_session *s);
uint64_t iris__session_t0(struct iris_session *s);
/* Queues encoded frames as they are (nframes of them, for counters). */
int	 iris__session_write(struct iris_session *s, const uint8_t *p,
	    size_t len, unsigned nframes);
size_t	 iris__session_outlen(struct iris_session *s);
/* Counts an error frame sent in encoded form. */
void	 iris__session_count_error(struct iris_session *s, int code);

/* lib/engine/edge_msg.c: messaging requests, forwarded over the bus. */
void	 iris__edge_send(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__edge_ack(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__edge_sync(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__edge_forward(struct iris_session *s, struct iris_wire_msg *m,
	    enum iris_bus_op op);
/* A caller for a request of s (admin requests pass NULL). */
void	 iris__edge_caller(struct iris_session *s,
	    struct iris_bus_caller *c);
/* A request of s, or NULL when s has too many in flight (told). */
struct iris_bus_req *iris__edge_req(struct iris_session *s,
	    enum iris_bus_op op, uint64_t rid);
/* Queues r with s held, cb(r, s) later; IRIS_OK or refused (told). */
int	 iris__edge_submit(struct iris_session *s, struct iris_bus_req *r,
	    iris_bus_cb cb);
/* First in each cb: 0 when s went meanwhile (then leave it alone). */
int	 iris__edge_back(struct iris_session *s);
/* Sends the core's answer: its frames, its error, or Done. */
void	 iris__edge_reply(struct iris_session *s, struct iris_bus_req *r);

/* lib/engine/edge_push.c: who is connected, and what the core pushes. */
int	 iris__edge_init(struct iris_engine *eng);
void	 iris__edge_fini(struct iris_engine *eng);
/* IRIS_OK, or IRIS_ENOMEM: the session cannot be served. */
int	 iris__edge_attach(struct iris_session *s, uint64_t acked,
	    uint64_t head);
void	 iris__edge_detach(struct iris_session *s);
/* Asks for what a live connection has not been given yet. */
void	 iris__edge_fetch(struct iris_session *s);
void	 iris__edge_reconfigure(struct iris_engine *eng);

/* lib/engine/admin.c: the admin socket irisctl talks to. */
struct iris_admin;
int	 iris__admin_start(struct iris_engine *eng);
void	 iris__admin_stop(struct iris_engine *eng);

/* lib/engine/metrics.c: /metrics, /healthz, /readyz over HTTP. */
struct iris_metrics;
int	 iris__metrics_start(struct iris_engine *eng);
void	 iris__metrics_stop(struct iris_engine *eng);

/* lib/engine/token.c: session tokens, made and checked. */
#define IRIS_TOKEN_MAX	(1 + 1 + 64 + 4 + 8 + 16 + 64)
int	 iris__token_init(struct iris_engine *eng);
void	 iris__token_free(struct iris_engine *eng);
size_t	 iris__token_make(struct iris_engine *eng, uint8_t out[IRIS_TOKEN_MAX],
	    const char *user, uint32_t device, uint64_t expires, uint8_t id[16]);
/* IRIS_OK, IRIS_EAUTH (forged or malformed), IRIS_ETIMEDOUT (expired). */
int	 iris__token_check(struct iris_engine *eng, const uint8_t *t,
	    size_t len, char user[65], uint32_t *device, uint8_t id[16],
	    uint64_t *expires_ms);

/* lib/engine/auth.c: registration, login, tokens, device lists. */
int	 iris__auth_init(struct iris_engine *eng, const char *dir);
void	 iris__auth_register(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__auth_login(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__auth_logout(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__auth_link(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__devlist_get(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__devlist_put(struct iris_session *s, struct iris_wire_msg *m);
/* Administration over the bus (irisctl's token revoke and user
 * disable/enable); cb gets the outcome once durable. */
int	 iris__engine_revoke_token(struct iris_engine *eng,
	    const uint8_t id[16], uint64_t expires_ms, iris_admin_cb cb,
	    void *arg);
int	 iris__engine_disable(struct iris_engine *eng, const char *user,
	    int disabled, iris_admin_cb cb, void *arg);
/* Is the session's device or token revoked? */
int	 iris__auth_revoked(struct iris_session *s);
/* Closes the sessions of revoked devices and tokens. */
void	 iris__auth_sweep(struct iris_engine *eng);

/* lib/engine/engine.c */
/* Sets eng's error text, logs it, returns rc. */
int	 iris__engine_fail(struct iris_engine *eng, int rc, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 iris__engine_inbound(struct iris_engine *eng, int64_t delta);
/* lib/engine/listen.c: per-IP buckets (again on reload), listeners. */
int	 iris__engine_ip_init(struct iris_engine *eng);
/* Listens on addr (HOST:PORT, TLS) or on a Unix socket path (tls 0). */
int	 iris__engine_listen(struct iris_engine *eng, const char *addr,
	    int tls);
void	 iris__engine_limits(struct iris_engine *eng);

#endif /* IRIS_ENGINE_ENGINE_H */

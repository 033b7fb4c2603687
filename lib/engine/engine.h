/* SPDX-License-Identifier: ISC */
/*
 * The engine, inside: listeners and the sessions on them (the edge), the
 * store behind them. Edge code reaches storage only through the store's
 * asynchronous API.
 */
#ifndef IRIS_ENGINE_ENGINE_H
#define IRIS_ENGINE_ENGINE_H

#include <stdint.h>

#include "iris_server.h"
#include "iris_store.h"
#include "net/conn.h"
#include "net/tls.h"
#include "util/config.h"
#include "util/bucket.h"
#include "util/log.h"
#include "wire/frame.h"
#include "wire/msg.h"

#define IRIS_SERVER_ID_LEN	16
#define IRIS_CHALLENGE_LEN	32
#define IRIS_LISTENERS_MAX	(IRIS__CONFIG_LIST_MAX + 1)
#define IRIS_WIRE_ERRS		64	/* error codes counted (v1 has 33) */

struct evconnlistener;
struct iris_session;

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
	ST_REVOKED_CLOSED, ST_REFUSED_RATE, ST_COUNT
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

	/* Administration socket (lib/engine/admin.c) and metrics
	 * (lib/engine/metrics.c). */
	struct iris_admin	*admin;
	struct iris_metrics	*metrics;
	int			 metrics_port;

	/* Per-IP new-connection buckets (hashed; a shared slot is stricter,
	 * never looser). */
	struct iris_bucket	*ip_buckets;

	/* Auth (lib/engine/auth.c). */
	uint8_t			 sign_pk[32];	/* signs session tokens */
	uint8_t			 sign_sk[64];
	struct login_fail	*fails;		/* failed logins per account */
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

/* lib/engine/admin.c: the admin socket irisctl talks to. */
struct iris_admin;
int	 iris__admin_start(struct iris_engine *eng);
void	 iris__admin_stop(struct iris_engine *eng);

/* lib/engine/metrics.c: /metrics, /healthz, /readyz over HTTP. */
struct iris_metrics;
int	 iris__metrics_start(struct iris_engine *eng);
void	 iris__metrics_stop(struct iris_engine *eng);

/* lib/engine/auth.c: registration, login, tokens, device lists. */
int	 iris__auth_init(struct iris_engine *eng, const char *dir);
void	 iris__auth_register(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__auth_login(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__auth_logout(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__auth_link(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__devlist_get(struct iris_session *s, struct iris_wire_msg *m);
void	 iris__devlist_put(struct iris_session *s, struct iris_wire_msg *m);
/* Is the session's device or token revoked? */
int	 iris__auth_revoked(struct iris_session *s);
/* Closes the sessions of revoked devices and tokens. */
void	 iris__auth_sweep(struct iris_engine *eng);

/* lib/engine/engine.c */
/* Sets eng's error text, logs it, returns rc. */
int	 iris__engine_fail(struct iris_engine *eng, int rc, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 iris__engine_inbound(struct iris_engine *eng, int64_t delta);
void	 iris__engine_limits(struct iris_engine *eng);

#endif /* IRIS_ENGINE_ENGINE_H */

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
#include "util/log.h"
#include "wire/frame.h"
#include "wire/msg.h"

#define IRIS_SERVER_ID_LEN	16
#define IRIS_CHALLENGE_LEN	32
#define IRIS_LISTENERS_MAX	(IRIS__CONFIG_LIST_MAX + 1)

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
	ST_COUNT
};

struct iris_engine {
	struct event_base	*base;
	struct iris_config	*cfg;
	struct iris_logger	 log;
	char			 err[512];
	struct iris_tls_ctx	*tls;
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
	uint64_t		 nsessions;
	uint64_t		 inbound;	/* bytes held by framers */
	int			 reads_paused;	/* over the inbound budget */

	int			 stopping;
	iris_engine_cb		 stop_cb;
	void			*stop_arg;
	struct event		*stop_ev;

	uint64_t		 st[ST_COUNT];
};

/* lib/engine/session.c */
int	 iris__session_new(struct iris_engine *eng, int fd, int tls,
	    const char *peer);
void	 iris__session_free(struct iris_session *s);
struct iris_session *iris__session_next(struct iris_session *s);
/* Tells the client why, then closes (shutdown, over the limit). */
void	 iris__session_bye(struct iris_session *s, int wire_err,
	    uint32_t retry_after_ms, const char *detail);
void	 iris__sessions_pause(struct iris_engine *eng, int paused);

/* lib/engine/engine.c */
void	 iris__engine_inbound(struct iris_engine *eng, int64_t delta);
void	 iris__engine_limits(struct iris_engine *eng);

#endif /* IRIS_ENGINE_ENGINE_H */

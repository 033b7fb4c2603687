/* SPDX-License-Identifier: ISC */
/*
 * One client connection of the edge: framing and decoding under the
 * limits of its state, negotiation, pipelined requests answered with their
 * request ids, error frames with stable codes, and the deadlines (to log
 * in, to finish a frame once started, to say anything at all). Malformed
 * input closes this connection only, with an error frame first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "iris.h"
#include "engine/engine.h"
#include "util/alloc.h"
#include "util/clock.h"

#define SMALL_FRAME	4096

enum sstate { S_HELLO, S_UNAUTH, S_AUTHED, S_BYE };

struct iris_session {
	struct iris_session	*next;
	struct iris_session	*prev;
	struct iris_engine	*eng;
	struct iris_netconn	*c;
	struct iris_framer	 fr;
	size_t			 held;		/* framer bytes counted */
	enum sstate		 state;
	int			 tls;
	uint8_t			 challenge[IRIS_CHALLENGE_LEN];
	int			 challenge_fresh;
	struct event		*timer;
	char			 user[65];	/* once logged in */
	uint32_t		 device;
	uint8_t			 token_id[16];
	int			 pending;	/* store jobs in flight */
	int			 refuse;	/* say this, then close */
	uint32_t		 refuse_retry;
	int			 gone;		/* freed while pending */
	uint64_t		 born_ms;
	uint64_t		 last_ms;	/* last complete frame */
	uint64_t		 partial_ms;	/* a frame started */
	char			 peer[64];
	char			 trace[33];	/* of the frame being handled */
	uint8_t			 trace_raw[16];
	const uint8_t		*frame;		/* the frame being handled */
	size_t			 frame_len;
	uint64_t		 t0_us;		/* when it came (wall clock) */
	struct iris_edge_sess	 e;		/* messaging, once logged in */
};

static uint64_t
now_ms(void)
{
	return iris__clock_mono_us() / 1000;
}

static void	arm_timer(struct iris_session *s);

static void
unlink_session(struct iris_session *s)
{
	struct iris_engine *eng = s->eng;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		eng->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	eng->nsessions--;
}

void
iris__session_free(struct iris_session *s)
{
	if (s == NULL || s->gone)
		return;
	if (s->refuse != 0)
		s->eng->nrefusing--;
	if (s->e.attached)
		iris__edge_detach(s);
	unlink_session(s);
	iris__engine_inbound(s->eng, -(int64_t)s->held);
	iris__framer_free(&s->fr);
	iris__netconn_free(s->c);
	s->c = NULL;
	if (s->timer != NULL)
		event_free(s->timer);
	s->timer = NULL;
	if (s->pending > 0) {
		/* Store jobs still point here: the last one frees it. */
		s->gone = 1;
		s->next = s->eng->zombies;
		s->eng->zombies = s;
		return;
	}
	iris__free(s);
}

void
iris__session_hold(struct iris_session *s)
{
	s->pending++;
}

int
iris__session_release(struct iris_session *s)
{
	struct iris_session **p;

	s->pending--;
	if (!s->gone)
		return 1;
	if (s->pending == 0) {
		for (p = &s->eng->zombies; *p != NULL; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
		iris__free(s);
	}
	return 0;
}

void
iris__sessions_free_zombies(struct iris_engine *eng)
{
	struct iris_session *s;

	while ((s = eng->zombies) != NULL) {
		eng->zombies = s->next;
		iris__free(s);
	}
}

/* Accessors for the core services (lib/engine/auth.c). */
struct iris_engine *
iris__session_engine(struct iris_session *s)
{
	return s->eng;
}

const uint8_t *
iris__session_take_challenge(struct iris_session *s)
{
	if (!s->challenge_fresh)
		return NULL;
	s->challenge_fresh = 0;		/* single use */
	return s->challenge;
}

void
iris__session_new_challenge(struct iris_session *s,
    uint8_t out[IRIS_CHALLENGE_LEN])
{
	randombytes_buf(s->challenge, sizeof(s->challenge));
	s->challenge_fresh = 1;
	memcpy(out, s->challenge, sizeof(s->challenge));
}

const uint8_t *
iris__session_binding(struct iris_session *s)
{
	return iris__netconn_binding(s->c);
}

const char *
iris__session_peer(struct iris_session *s)
{
	return s->peer;
}

const char *
iris__session_trace(struct iris_session *s)
{
	return s->trace;
}

const char *
iris__session_user(struct iris_session *s, uint32_t *device)
{
	if (device != NULL)
		*device = s->device;
	return s->state == S_AUTHED ? s->user : NULL;
}

void
iris__session_login(struct iris_session *s, const char *user,
    uint32_t device, const uint8_t token_id[16])
{
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->device = device;
	memcpy(s->token_id, token_id, sizeof(s->token_id));
	s->state = S_AUTHED;
	iris__framer_set_max(&s->fr, s->eng->max_frame);
}

const uint8_t *
iris__session_token_id(struct iris_session *s)
{
	return s->token_id;
}

struct iris_edge_sess *
iris__session_edge(struct iris_session *s)
{
	return &s->e;
}

const uint8_t *
iris__session_frame(struct iris_session *s, size_t *len)
{
	*len = s->frame_len;
	return s->frame;
}

const uint8_t *
iris__session_trace_raw(struct iris_session *s)
{
	return s->trace_raw;
}

uint64_t
iris__session_t0(struct iris_session *s)
{
	return s->t0_us;
}

size_t
iris__session_outlen(struct iris_session *s)
{
	return s->c != NULL ? iris__netconn_outlen(s->c) : 0;
}

void
iris__session_count_error(struct iris_session *s, int code)
{
	s->eng->st[ST_ERRORS_SENT]++;
	s->eng->errs[(unsigned)code < IRIS_WIRE_ERRS ? code : 0]++;
}

/* Encodes and queues one frame; a reader too slow to take it goes. */
int
iris__session_send(struct iris_session *s, struct iris_wire_msg *m)
{
	uint8_t small[SMALL_FRAME], *buf = small;
	size_t need, len;
	int rc;

	/* Most frames fit: encode once, and size only those that do not
	 * (nanopb's sizing pass costs as much as the encoding). */
	if ((rc = iris__wire_encode(m, small, sizeof(small), &len)) ==
	    IRIS_ETOOBIG) {
		if ((rc = iris__wire_size(m, &need)) != IRIS_OK)
			return rc;
		if ((buf = iris__malloc(need)) == NULL)
			return IRIS_ENOMEM;
		rc = iris__wire_encode(m, buf, need, &len);
	}
	if (rc == IRIS_OK)
		rc = iris__session_write(s, buf, len, 1);
	if (buf != small)
		iris__free(buf);
	return rc;
}

int
iris__session_write(struct iris_session *s, const uint8_t *p, size_t len,
    unsigned nframes)
{
	int rc;

	if (s->state == S_BYE && s->c == NULL)
		return IRIS_ECLOSED;
	rc = iris__netconn_write(s->c, p, len);
	if (rc == IRIS_ELIMIT) {
		s->eng->st[ST_SLOW_READERS]++;
		IRIS__PEER_LOG(s->eng, IRIS_LOG_NOTICE, "%s: output over %zu "
		    "bytes, disconnecting a slow reader", s->peer,
		    s->eng->output_cap);
		s->state = S_BYE;
		iris__netconn_abort(s->c, IRIS_ELIMIT);	/* no goodbye fits */
		return rc;
	}
	if (rc == IRIS_OK) {
		s->eng->st[ST_FRAMES_OUT] += nframes;
		s->eng->st[ST_BYTES_OUT] += len;
	}
	return rc;
}

void
iris__session_error(struct iris_session *s, uint64_t request_id, int code,
    uint32_t retry_after_ms, const char *detail)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.request_id = request_id;
	m.f.which_body = iris_v1_Frame_error_tag;
	m.f.body.error.code = (iris_v1_ErrorCode)code;
	m.f.body.error.retry_after_ms = retry_after_ms;
	snprintf(m.f.body.error.detail, sizeof(m.f.body.error.detail), "%s",
	    detail != NULL ? detail : "");
	s->eng->st[ST_ERRORS_SENT]++;
	s->eng->errs[(unsigned)code < IRIS_WIRE_ERRS ? code : 0]++;
	(void)iris__session_send(s, &m);
}

void
iris__session_bye(struct iris_session *s, int wire_err,
    uint32_t retry_after_ms, const char *detail)
{
	if (s->state == S_BYE)
		return;
	iris__session_error(s, 0, wire_err, retry_after_ms, detail);
	if (s->state == S_BYE)
		return;		/* the error did not fit: aborted */
	s->state = S_BYE;
	iris__netconn_close(s->c);
}

static void
on_hello(struct iris_session *s, struct iris_wire_msg *in)
{
	const iris_v1_ClientHello *h = &in->f.body.client_hello;
	struct iris_engine *eng = s->eng;
	struct iris_wire_msg m;
	iris_v1_ServerHello *sh;
	pb_size_t i;
	int ok = 0;

	for (i = 0; i < h->versions_count; i++)
		ok |= h->versions[i] == IRIS_PROTOCOL_VERSION;
	if (!ok) {
		iris__session_bye(s, iris_v1_ErrorCode_ERR_UNSUPPORTED_VERSION,
		    0, "this server speaks protocol version 1");
		return;
	}
	/* Zeroed up to this body's size, not the whole union. */
	iris__wire_msg_init_body(&m, iris_v1_Frame_server_hello_tag);
	m.f.request_id = in->f.request_id;
	memcpy(m.f.trace_id, in->f.trace_id, sizeof(m.f.trace_id));
	sh = &m.f.body.server_hello;
	sh->version = IRIS_PROTOCOL_VERSION;
	randombytes_buf(s->challenge, sizeof(s->challenge));
	s->challenge_fresh = 1;
	memcpy(sh->challenge, s->challenge, sizeof(sh->challenge));
	memcpy(sh->server_id, eng->server_id, sizeof(sh->server_id));
	sh->server_time_ms = iris__clock_realtime_ms(NULL);
	sh->has_limits = true;
	sh->limits.max_frame_before_login = eng->max_frame_pre;
	sh->limits.max_frame = eng->max_frame;
	sh->limits.max_envelope = eng->lim.max_envelope;
	sh->limits.max_devices_per_user = (eng->lim.max_envelopes + 1) / 2;
	sh->limits.max_envelopes_per_send = eng->lim.max_envelopes;
	sh->limits.max_sync_page = eng->lim.max_sync_items;
	sh->limits.send_rate_per_s = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_SEND_RATE);
	sh->limits.send_burst = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_SEND_BURST);
	sh->limits.frame_timeout_ms = (uint32_t)eng->frame_timeout_ms;
	sh->limits.idle_timeout_ms = (uint32_t)eng->idle_timeout_ms;
	s->state = S_UNAUTH;
	(void)iris__session_send(s, &m);
}

static void
on_ping(struct iris_session *s, struct iris_wire_msg *in)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.request_id = in->f.request_id;
	memcpy(m.f.trace_id, in->f.trace_id, sizeof(m.f.trace_id));
	m.f.which_body = iris_v1_Frame_pong_tag;
	m.f.body.pong.data.size = in->f.body.ping.data.size;
	memcpy(m.f.body.pong.data.bytes, in->f.body.ping.data.bytes,
	    in->f.body.ping.data.size);
	(void)iris__session_send(s, &m);
}

/* One decoded, checked frame. */
static void
dispatch(struct iris_session *s, struct iris_wire_msg *m)
{
	uint64_t rid = m->f.request_id;
	pb_size_t body = m->f.which_body;

	if (s->state == S_HELLO) {
		if (body == iris_v1_Frame_client_hello_tag)
			on_hello(s, m);
		else
			iris__session_bye(s, iris_v1_ErrorCode_ERR_BAD_REQUEST,
			    0, "the first frame must be a client_hello");
		return;
	}
	switch (body) {
	case iris_v1_Frame_ping_tag:
		on_ping(s, m);
		return;
	case iris_v1_Frame_client_hello_tag:
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_REQUEST, 0,
		    "hello already done");
		return;
	case iris_v1_Frame_register_device_tag:
		iris__auth_register(s, m);
		return;
	case iris_v1_Frame_login_tag:
		if (s->state == S_AUTHED)
			iris__session_error(s, rid,
			    iris_v1_ErrorCode_ERR_BAD_REQUEST, 0,
			    "already logged in");
		else
			iris__auth_login(s, m);
		return;
	default:
		break;
	}
	if (s->state != S_AUTHED) {
		iris__session_error(s, rid,
		    iris_v1_ErrorCode_ERR_NOT_AUTHENTICATED, 0, "log in first");
		return;
	}
	switch (body) {
	case iris_v1_Frame_logout_tag:
		iris__auth_logout(s, m);
		return;
	case iris_v1_Frame_link_token_create_tag:
		iris__auth_link(s, m);
		return;
	case iris_v1_Frame_device_list_get_tag:
		iris__devlist_get(s, m);
		return;
	case iris_v1_Frame_device_list_put_tag:
		iris__devlist_put(s, m);
		return;
	case iris_v1_Frame_send_tag:
		iris__edge_send(s, m);
		return;
	case iris_v1_Frame_ack_tag:
		iris__edge_ack(s, m);
		return;
	case iris_v1_Frame_sync_request_tag:
		iris__edge_sync(s, m);
		return;
	case iris_v1_Frame_presence_subscribe_tag:
		iris__edge_forward(s, m, IRIS_BUS_PRESENCE_SUB);
		return;
	case iris_v1_Frame_presence_unsubscribe_tag:
		iris__edge_forward(s, m, IRIS_BUS_PRESENCE_UNSUB);
		return;
	case iris_v1_Frame_presence_settings_tag:
		iris__edge_forward(s, m, IRIS_BUS_SETTINGS);
		return;
	case iris_v1_Frame_contacts_get_tag:
		iris__edge_forward(s, m, IRIS_BUS_CONTACTS_GET);
		return;
	case iris_v1_Frame_contacts_edit_tag:
		iris__edge_forward(s, m, IRIS_BUS_CONTACTS_EDIT);
		return;
	case iris_v1_Frame_key_bundle_upload_tag:
		iris__edge_forward(s, m, IRIS_BUS_KEYS_UPLOAD);
		return;
	case iris_v1_Frame_key_bundle_fetch_tag:
		iris__edge_forward(s, m, IRIS_BUS_KEYS_FETCH);
		return;
	default:
		break;
	}
	iris__session_error(s, rid, iris_v1_ErrorCode_ERR_UNIMPLEMENTED, 0,
	    iris__wire_bodyname(body));
}

static const uint8_t zero_trace[16];

static void
on_frame(struct iris_session *s, const uint8_t *p, size_t n)
{
	struct iris_wire_msg m;
	int rc;

	s->eng->st[ST_FRAMES_IN]++;
	s->frame = p;
	s->frame_len = n;
	s->t0_us = iris__clock_realtime_us();
	iris__wire_msg_init_body(&m, 0);	/* the decode fills its body */
	rc = iris__wire_decode(&m, p, n, &s->eng->lim);
	memcpy(s->trace_raw, rc == IRIS_OK ? m.f.trace_id : zero_trace,
	    sizeof(s->trace_raw));
	/* The frame's trace id follows it into every log line. */
	if (rc == IRIS_OK && memcmp(m.f.trace_id, zero_trace,
	    sizeof(zero_trace)) != 0)
		iris__hex(s->trace, sizeof(s->trace), m.f.trace_id, 16);
	else
		strcpy(s->trace, "-");
	if (rc == IRIS_OK)
		iris__log(&s->eng->log, IRIS_LOG_DEBUG, "%s: trace %s: request "
		    "%llu %s", s->peer, s->trace,
		    (unsigned long long)m.f.request_id,
		    iris__wire_bodyname(m.f.which_body));
	if (rc != IRIS_OK && s->state != S_HELLO && (m.wire_err ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST || (rc == IRIS_ETOOBIG &&
	    s->state == S_AUTHED && m.f.request_id != 0 && (m.wire_err ==
	    iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE || m.wire_err ==
	    iris_v1_ErrorCode_ERR_TOO_MANY_ENVELOPES)))) {
		/* Within the frame limit, so the stream is whole: only this
		 * request is refused, well formed but over a field's bound
		 * (the decoder stopped at the limit). */
		iris__session_error(s, m.f.request_id, m.wire_err, 0,
		    m.detail);
	} else if (rc != IRIS_OK) {
		s->eng->st[ST_MALFORMED]++;
		IRIS__PEER_LOG(s->eng, IRIS_LOG_INFO, "%s: %s (%s); closing",
		    s->peer, iris__wire_errname(m.wire_err),
		    m.detail != NULL ? m.detail : "");
		iris__session_bye(s, m.wire_err, 0, m.detail);
	} else if ((rc = iris__wire_check(&m)) != IRIS_OK) {
		/* A bad field: the request is refused, the session goes on. */
		if (s->state == S_HELLO)
			iris__session_bye(s, m.wire_err, 0, m.detail);
		else
			iris__session_error(s, m.f.request_id, m.wire_err, 0, m.detail);
	} else
		dispatch(s, &m);
	iris__wire_msg_reset(&m);
	s->frame = NULL;
	s->frame_len = 0;
}

static void
on_data(struct iris_netconn *c, const uint8_t *p, size_t n, void *arg)
{
	struct iris_session *s = arg;
	const uint8_t *frame;
	size_t used, flen, held;
	int rc;

	(void)c;
	s->eng->st[ST_BYTES_IN] += n;
	while (n > 0 && s->state != S_BYE) {
		rc = iris__framer_feed(&s->fr, p, n, &used, &frame, &flen);
		held = iris__framer_buffered(&s->fr);
		iris__engine_inbound(s->eng, (int64_t)held - (int64_t)s->held);
		s->held = held;
		if (rc != IRIS_OK) {
			s->eng->st[ST_MALFORMED]++;
			iris__session_bye(s, rc == IRIS_ETOOBIG ?
			    iris_v1_ErrorCode_ERR_FRAME_TOO_LARGE :
			    iris_v1_ErrorCode_ERR_MALFORMED, 0, rc ==
			    IRIS_ETOOBIG ? "frame over the limit" :
			    "empty frame");
			return;
		}
		p += used;
		n -= used;
		if (frame == NULL)
			break;
		s->last_ms = now_ms();
		on_frame(s, frame, flen);
	}
	if (iris__framer_partial(&s->fr)) {
		if (s->partial_ms == 0)
			s->partial_ms = now_ms();
	} else
		s->partial_ms = 0;
	if (s->state != S_BYE)
		arm_timer(s);
}

static void
on_open(struct iris_netconn *c, void *arg)
{
	struct iris_session *s = arg;

	(void)c;
	if (s->refuse != 0)
		iris__session_bye(s, s->refuse, s->refuse_retry, s->refuse ==
		    iris_v1_ErrorCode_ERR_RATE_LIMITED ?
		    "too many new connections from your address" :
		    "the server is full");
}

static void
on_close(struct iris_netconn *c, int err, void *arg)
{
	struct iris_session *s = arg;

	if (err == IRIS_ETLS) {
		s->eng->st[ST_TLS_FAILURES]++;
		IRIS__PEER_LOG(s->eng, IRIS_LOG_INFO, "%s: %s", s->peer,
		    iris__netconn_error(c));
	}
	iris__session_free(s);
}

static const struct iris_netconn_cbs session_cbs = {
	on_open, on_data, on_close,
};

/* The nearest deadline: to log in, to finish a frame, to say anything. */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct iris_session *s = arg;
	struct iris_engine *eng = s->eng;
	uint64_t now = now_ms();
	const char *why = NULL;

	(void)fd, (void)what;
	if (s->state == S_BYE) {
		iris__session_free(s);	/* the goodbye did not drain */
		return;
	}
	if (s->partial_ms != 0 && now >= s->partial_ms + eng->frame_timeout_ms)
		why = "frame not finished in time";
	else if (s->state != S_AUTHED &&
	    now >= s->born_ms + eng->unauth_timeout_ms)
		why = "no login in time";
	else if (now >= s->last_ms + eng->idle_timeout_ms)
		why = "idle";
	if (why == NULL) {
		arm_timer(s);
		return;
	}
	eng->st[ST_TIMEOUTS]++;
	IRIS__PEER_LOG(eng, IRIS_LOG_INFO, "%s: %s; closing", s->peer, why);
	iris__session_bye(s, iris_v1_ErrorCode_ERR_TIMEOUT, 0, why);
	/* The goodbye gets a moment to drain, then the socket goes. */
	{
		struct timeval tv = { 2, 0 };

		event_add(s->timer, &tv);
	}
}

static void
arm_timer(struct iris_session *s)
{
	struct iris_engine *eng = s->eng;
	uint64_t at = s->last_ms + eng->idle_timeout_ms, now = now_ms(), d;
	struct timeval tv;

	if (s->partial_ms != 0 && s->partial_ms + eng->frame_timeout_ms < at)
		at = s->partial_ms + eng->frame_timeout_ms;
	if (s->state != S_AUTHED && s->born_ms + eng->unauth_timeout_ms < at)
		at = s->born_ms + eng->unauth_timeout_ms;
	d = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	event_add(s->timer, &tv);
}

int
iris__session_new(struct iris_engine *eng, int fd, int tls, const char *peer,
    int refuse, uint32_t retry_ms)
{
	struct iris_session *s;
	int rc;

	if ((s = iris__calloc(1, sizeof(*s))) == NULL)
		return IRIS_ENOMEM;
	s->eng = eng;
	s->tls = tls;
	s->e.s = s;
	s->e.conn = ++eng->next_conn;
	s->refuse = refuse;
	s->refuse_retry = retry_ms;
	if (refuse != 0)
		eng->nrefusing++;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	iris__framer_init(&s->fr, eng->max_frame_pre);
	s->born_ms = s->last_ms = now_ms();
	if ((s->timer = evtimer_new(eng->base, on_timer, s)) == NULL) {
		iris__free(s);
		return IRIS_ENOMEM;
	}
	if ((rc = iris__netconn_new(&s->c, eng->base, fd, tls ? eng->tls :
	    NULL, &session_cbs, s)) != IRIS_OK) {
		event_free(s->timer);
		iris__free(s);
		return rc;
	}
	iris__netconn_set_outcap(s->c, eng->output_cap);
	s->next = eng->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	eng->sessions = s;
	eng->nsessions++;
	if (eng->reads_paused)
		iris__netconn_pause(s->c, 1);
	arm_timer(s);
	return IRIS_OK;
}

struct iris_session *
iris__session_next(struct iris_session *s)
{
	return s->next;
}

void
iris__sessions_pause(struct iris_engine *eng, int paused)
{
	struct iris_session *s;

	for (s = eng->sessions; s != NULL; s = s->next)
		iris__netconn_pause(s->c, paused);
}

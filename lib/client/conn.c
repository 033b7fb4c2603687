/* SPDX-License-Identifier: ISC */
/*
 * The client's connection: name resolution without blocking (libevent's
 * evdns on the embedder's loop, numeric addresses directly), TLS with the
 * pinned key or a CA, framing and decoding under the server's limits,
 * requests matched to their answers by id, pings, and reconnection with
 * doubling, jittered delays (longer when the server asks for it) until
 * the embedder disconnects or a failure that retrying cannot fix.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "net/conn.h"
#include "util/alloc.h"

#define PRE_LOGIN_FRAME		65536
#define PING_MS_MAX		30000

static void	attempt(struct iris_client *c);
static void	fail_requests(struct iris_client *c);
static int	conn_setup(struct iris_client *c);

unsigned
iris__backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms,
    uint32_t rnd)
{
	uint64_t base = min_ms;

	/* Doubling from min up to max; half of it fixed, half random. */
	while (attempt-- > 0 && base < max_ms)
		base *= 2;
	if (base > max_ms)
		base = max_ms;
	return (unsigned)(base / 2 + rnd % (base - base / 2 + 1));
}

int
iris__wire_to_iris(int code)
{
	switch (code) {
	case iris_v1_ErrorCode_ERR_NONE:
		return IRIS_OK;
	case iris_v1_ErrorCode_ERR_MALFORMED:
	case iris_v1_ErrorCode_ERR_BAD_REQUEST:
		return IRIS_EPROTO;
	case iris_v1_ErrorCode_ERR_FRAME_TOO_LARGE:
	case iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE:
	case iris_v1_ErrorCode_ERR_TOO_MANY_ENVELOPES:
		return IRIS_ETOOBIG;
	case iris_v1_ErrorCode_ERR_UNSUPPORTED_VERSION:
		return IRIS_EVERSION;
	case iris_v1_ErrorCode_ERR_UNIMPLEMENTED:
		return IRIS_ENOTSUP;
	case iris_v1_ErrorCode_ERR_NOT_AUTHENTICATED:
	case iris_v1_ErrorCode_ERR_AUTH_FAILED:
	case iris_v1_ErrorCode_ERR_TOKEN_EXPIRED:
		return IRIS_EAUTH;
	case iris_v1_ErrorCode_ERR_REVOKED:
	case iris_v1_ErrorCode_ERR_REGISTRATION_CLOSED:
	case iris_v1_ErrorCode_ERR_BAD_INVITE:
	case iris_v1_ErrorCode_ERR_NOT_PRIMARY:
		return IRIS_EDENIED;
	case iris_v1_ErrorCode_ERR_UNKNOWN_USER:
	case iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE:
	case iris_v1_ErrorCode_ERR_NOT_FOUND:
		return IRIS_ENOTFOUND;
	case iris_v1_ErrorCode_ERR_USER_EXISTS:
		return IRIS_EEXIST;
	case iris_v1_ErrorCode_ERR_TOO_MANY_DEVICES:
		return IRIS_ELIMIT;
	case iris_v1_ErrorCode_ERR_STALE_DEVICES:
	case iris_v1_ErrorCode_ERR_STALE_VERSION:
	case iris_v1_ErrorCode_ERR_BAD_CURSOR:
		return IRIS_ESTALE;
	case iris_v1_ErrorCode_ERR_BAD_SIGNATURE:
		return IRIS_ECRYPTO;
	case iris_v1_ErrorCode_ERR_TIMEOUT:
		return IRIS_ETIMEDOUT;
	case iris_v1_ErrorCode_ERR_SHUTTING_DOWN:
		return IRIS_ESHUTDOWN;
	case iris_v1_ErrorCode_ERR_RATE_LIMITED:
	case iris_v1_ErrorCode_ERR_INBOX_FULL:
	case iris_v1_ErrorCode_ERR_OVERLOADED:
	case iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE:
	case iris_v1_ErrorCode_ERR_OUT_OF_ORDER:
	case iris_v1_ErrorCode_ERR_TOO_MANY_CONNECTIONS:
		return IRIS_EAGAIN;
	default:
		return IRIS_EIO;
	}
}

/* State changes for the embedder, reported once each. */
struct ev_state {
	struct cev	 ev;
	int		 state;
	int		 err;
};

static void
state_fire(struct iris_client *c, struct cev *e)
{
	struct ev_state *x = (struct ev_state *)e;

	if (c->on_state != NULL)
		c->on_state(c, x->state, x->err, c->on_state_arg);
}

static void
state_drop(struct cev *e)
{
	iris__free(e);
}

void
iris__conn_set_pubstate(struct iris_client *c, int state, int err)
{
	struct ev_state *x;

	if (c->pub_state == state && err == IRIS_OK)
		return;
	c->pub_state = state;
	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = state_fire;
	x->ev.drop = state_drop;
	x->state = state;
	x->err = err;
	iris__client_event(c, &x->ev);
}

int
iris__conn_is_online(const struct iris_client *c)
{
	return c->st == C_ONLINE && c->nc != NULL;
}

size_t
iris__conn_outlen(const struct iris_client *c)
{
	return c->nc != NULL ? iris__netconn_outlen(c->nc) : 0;
}

struct creq *
iris__conn_req(struct iris_client *c, enum creq_kind kind,
    struct iris_wire_msg *m)
{
	struct creq *r;
	size_t i;

	if (c->nreqs >= IRIS_CLIENT_MAX_REQS)
		return NULL;
	/* Ids go up; a slot is the id modulo the table size. */
	for (i = 0; i < IRIS_CLIENT_MAX_REQS; i++) {
		if (++c->next_rid == 0)
			c->next_rid = 1;
		r = &c->reqs[c->next_rid % IRIS_CLIENT_MAX_REQS];
		if (r->rid == 0)
			break;
	}
	memset(r, 0, sizeof(*r));
	r->rid = c->next_rid;
	r->kind = kind;
	c->nreqs++;
	if (m != NULL) {
		m->f.request_id = r->rid;
		randombytes_buf(m->f.trace_id, sizeof(m->f.trace_id));
	}
	return r;
}

void
iris__conn_req_free(struct iris_client *c, struct creq *r)
{
	if (r->rid == 0)
		return;
	r->rid = 0;
	r->kind = RQ_NONE;
	c->nreqs--;
}

static struct creq *
find_req(struct iris_client *c, uint64_t rid)
{
	struct creq *r = &c->reqs[rid % IRIS_CLIENT_MAX_REQS];

	return rid != 0 && r->rid == rid ? r : NULL;
}

int
iris__conn_send(struct iris_client *c, struct iris_wire_msg *m)
{
	uint8_t small[4096], *buf = small;
	size_t need, len;
	int rc;

	if (c->nc == NULL)
		return IRIS_ECLOSED;
	if ((rc = iris__wire_size(m, &need)) != IRIS_OK)
		return rc;
	if (need > sizeof(small) && (buf = iris__malloc(need)) == NULL)
		return IRIS_ENOMEM;
	if ((rc = iris__wire_encode(m, buf, need, &len)) == IRIS_OK)
		rc = iris__netconn_write(c->nc, buf, len);
	if (buf != small)
		iris__free(buf);
	return rc;
}

static void
send_ping(struct iris_client *c)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_ping_tag;
	if (iris__conn_req(c, RQ_PING, &m) == NULL)
		return;
	c->ping_out = 1;
	(void)iris__conn_send(c, &m);
}

static void
arm_ping(struct iris_client *c)
{
	uint32_t ms = c->srv_idle_ms / 3;
	struct timeval tv;

	if (ms == 0 || ms > PING_MS_MAX)
		ms = PING_MS_MAX;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->ev_ping, &tv);
}

/* A ping still unanswered a period later: the connection is dead. */
static void
on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
	struct iris_client *c = arg;

	(void)fd, (void)what;
	if (c->nc == NULL)
		return;
	if (c->ping_out) {
		iris__conn_drop(c, IRIS_ETIMEDOUT, "no answer to a ping");
		return;
	}
	send_ping(c);
	arm_ping(c);
}

/* A connection-level error, sent with request id 0. */
static void
conn_error(struct iris_client *c, const iris_v1_Error *e)
{
	c->last_err = iris__wire_to_iris(e->code);
	c->retry_after_ms = e->retry_after_ms;
	iris__client_seterr(c, "server: %s: %.255s",
	    iris__wire_errname(e->code), e->detail);
	if (e->code == iris_v1_ErrorCode_ERR_REVOKED) {
		c->stop_err = IRIS_EDENIED;
		c->want = 0;
	}
}

static void
route_answer(struct iris_client *c, struct creq *r, struct iris_wire_msg *m)
{
	switch (r->kind) {
	case RQ_HELLO:
	case RQ_REGISTER:
	case RQ_LOGIN:
		iris__auth_answer(c, r, m);
		break;
	case RQ_PING:
		c->ping_out = 0;
		iris__conn_req_free(c, r);
		break;
	case RQ_DEVLIST_GET:
	case RQ_DEVLIST_PUT:
		iris__devlist_answer(c, r, m);
		break;
	case RQ_SEND:
		iris__outbox_answer(c, r, m);
		break;
	case RQ_SYNC:
		iris__recv_sync_page(c, r, m);
		break;
	case RQ_TYPING:
		iris__typing_answer(c, r, m);
		break;
	case RQ_ACK:
		iris__conn_req_free(c, r);
		break;
	default:
		iris__social_answer(c, r, m);
		break;
	}
}

static void
on_frame(struct iris_client *c, const uint8_t *p, size_t n)
{
	struct iris_wire_msg m;
	struct creq *r;
	int rc;

	iris__wire_msg_init(&m);
	if ((rc = iris__wire_decode(&m, p, n, &c->lim)) != IRIS_OK ||
	    (rc = iris__wire_check(&m)) != IRIS_OK) {
		if (rc != IRIS_ENOTSUP) {
			iris__client_seterr(c, "the server sent a bad frame "
			    "(%s)", m.detail != NULL ? m.detail : "?");
			iris__wire_msg_reset(&m);
			iris__conn_drop(c, IRIS_EPROTO, c->err);
			return;
		}
		/* A body this client does not know: ignored. */
		iris__wire_msg_reset(&m);
		return;
	}
	if (m.f.request_id != 0) {
		if ((r = find_req(c, m.f.request_id)) != NULL)
			route_answer(c, r, &m);
	} else {
		switch (m.f.which_body) {
		case iris_v1_Frame_deliver_tag:
			iris__recv_deliver(c, &m.f.body.deliver, &m.envelope);
			break;
		case iris_v1_Frame_presence_update_tag:
			iris__social_presence(c, &m.f.body.presence_update);
			break;
		case iris_v1_Frame_error_tag:
			conn_error(c, &m.f.body.error);
			break;
		default:
			break;	/* pushes this version does not use */
		}
	}
	iris__wire_msg_reset(&m);
}

static void
on_data(struct iris_netconn *nc, const uint8_t *p, size_t n, void *arg)
{
	struct iris_client *c = arg;
	const uint8_t *frame;
	size_t used, flen;
	int rc;

	(void)nc;
	while (n > 0 && c->nc != NULL) {
		if ((rc = iris__framer_feed(&c->fr, p, n, &used, &frame,
		    &flen)) != IRIS_OK) {
			iris__conn_drop(c, IRIS_EPROTO, "the server sent a "
			    "frame over the limits");
			return;
		}
		p += used;
		n -= used;
		if (frame == NULL)
			break;
		on_frame(c, frame, flen);
	}
}

static void
on_open(struct iris_netconn *nc, void *arg)
{
	struct iris_client *c = arg;
	struct iris_wire_msg m;

	(void)nc;
	c->st = C_HELLO;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_client_hello_tag;
	m.f.body.client_hello.versions_count = 1;
	m.f.body.client_hello.versions[0] = IRIS_PROTOCOL_VERSION;
	snprintf(m.f.body.client_hello.client_name,
	    sizeof(m.f.body.client_hello.client_name), "libiris %s",
	    IRIS_VERSION_STRING);
	if (iris__conn_req(c, RQ_HELLO, &m) == NULL ||
	    iris__conn_send(c, &m) != IRIS_OK)
		iris__conn_drop(c, IRIS_ENOMEM, "cannot say hello");
}

static void
schedule(struct iris_client *c)
{
	unsigned ms;
	struct timeval tv;

	ms = iris__backoff_ms(c->attempt, c->cfg.backoff_min_ms,
	    c->cfg.backoff_max_ms, randombytes_random());
	if (c->retry_after_ms > ms)
		ms = c->retry_after_ms;
	c->retry_after_ms = 0;
	if (c->attempt < 32)
		c->attempt++;
	c->st = C_WAIT;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->ev_retry, &tv);
	iris__log(&c->log, IRIS_LOG_INFO, "client %s: reconnecting in %u ms",
	    c->user, ms);
}

/* The connection is gone: everything tied to it goes, then maybe retry. */
static void
closed(struct iris_client *c, int err)
{
	if (c->nc != NULL) {
		iris__netconn_free(c->nc);
		c->nc = NULL;
	}
	iris__framer_free(&c->fr);
	evtimer_del(c->ev_ping);
	c->ping_out = 0;
	c->challenge_fresh = 0;
	fail_requests(c);
	iris__outbox_offline(c);
	iris__recv_offline(c);
	if (c->last_err != IRIS_OK)
		err = c->last_err;
	c->last_err = IRIS_OK;
	if (c->stop_err != IRIS_OK) {
		c->want = 0;
		err = c->stop_err;
	}
	c->st = C_IDLE;
	if (c->want && !iris__client_tearing(c))
		schedule(c);
	iris__conn_set_pubstate(c, IRIS_CLIENT_OFFLINE, err);
}

static void	connect_to(struct iris_client *c, size_t i);

static void
on_close(struct iris_netconn *nc, int err, void *arg)
{
	struct iris_client *c = arg;

	/* Not through TCP and TLS: the name's next address, if any. */
	if (c->st == C_CONNECTING && c->addr_i + 1 < c->naddrs && c->want) {
		iris__netconn_free(c->nc);
		c->nc = NULL;
		iris__framer_free(&c->fr);
		connect_to(c, c->addr_i + 1);
		return;
	}
	if (err == IRIS_ETLS)
		iris__client_seterr(c, "TLS: %s", iris__netconn_error(nc));
	else if (err != IRIS_OK && c->last_err == IRIS_OK)
		iris__client_seterr(c, "connection: %s",
		    iris__netconn_error(nc));
	iris__log(&c->log, IRIS_LOG_INFO, "client %s: disconnected: %s",
	    c->user, err != IRIS_OK ? c->err : "closed by the server");
	closed(c, err != IRIS_OK ? err : IRIS_ECLOSED);
}

static const struct iris_netconn_cbs conn_cbs = {
	on_open, on_data, on_close,
};

static void
adopted_open(struct iris_netconn *nc, void *arg)
{
	(void)nc, (void)arg;
}

static const struct iris_netconn_cbs adopt_cbs = {
	adopted_open, on_data, on_close,
};

/*
 * Tests: a plaintext connection over fd taken as logged in already, with
 * the protocol's default limits, so that a test speaking for the server
 * drives the outbox and the receive pipeline frame by frame. Nothing is
 * sent by itself (no hello, sync or list fetch).
 */
int
iris__conn_adopt(struct iris_client *c, int fd)
{
	int rc;

	if ((rc = conn_setup(c)) != IRIS_OK)
		return rc;
	if ((rc = iris__netconn_new(&c->nc, c->base, fd, NULL, &adopt_cbs,
	    c)) != IRIS_OK)
		return rc;
	iris__wire_limits_default(&c->lim);
	iris__framer_init(&c->fr, iris__wire_max_frame(&c->lim));
	c->srv_max_envelope = c->lim.max_envelope;
	c->srv_max_envelopes = c->lim.max_envelopes;
	c->ob_have_bucket = 0;
	c->want = 0;
	c->st = C_ONLINE;
	return IRIS_OK;
}

static void
connect_to(struct iris_client *c, size_t i)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[i];
	socklen_t len = c->addrlens[i];
	int rc;

	c->addr_i = i;
	c->st = C_CONNECTING;
	iris__framer_init(&c->fr, PRE_LOGIN_FRAME);
	iris__wire_limits_max(&c->lim);
	if ((rc = iris__netconn_connect(&c->nc, c->base, sa, len, c->tls,
	    c->cfg.have_pin ? NULL : c->host, &conn_cbs, c)) != IRIS_OK) {
		iris__client_seterr(c, "connecting to %s: %s", c->cfg.server,
		    iris_strerror(rc));
		closed(c, rc);
		return;
	}
	/* Offer the last session: the handshake resumes from its ticket. */
	if (c->tls_slen > 0)
		(void)iris__netconn_session_offer(c->nc, c->tls_sess,
		    c->tls_slen);
}

static void
take_addrs(struct iris_client *c, const struct evutil_addrinfo *ai)
{
	for (c->naddrs = 0; ai != NULL && c->naddrs < IRIS_CLIENT_ADDRS;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->addrs[0]))
			continue;
		memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
		c->addrlens[c->naddrs++] = (socklen_t)ai->ai_addrlen;
	}
}

static void
resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct iris_client *c = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* stopping: nothing else to do */
	c->dnsreq = NULL;
	if (result == 0)
		take_addrs(c, ai);
	if (result != 0 || c->naddrs == 0) {
		iris__client_seterr(c, "resolving %s: %s", c->host,
		    evutil_gai_strerror(result));
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		closed(c, IRIS_ENOTFOUND);
		return;
	}
	evutil_freeaddrinfo(ai);
	connect_to(c, 0);
}

static void
attempt(struct iris_client *c)
{
	struct evutil_addrinfo hints, *ai = NULL;
	char port[8];

	iris__conn_set_pubstate(c, IRIS_CLIENT_CONNECTING, IRIS_OK);
	snprintf(port, sizeof(port), "%d", c->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(c->host, port, &hints, &ai) == 0) {
		take_addrs(c, ai);
		if (c->naddrs == 0) {
			evutil_freeaddrinfo(ai);
			iris__client_seterr(c, "no usable address for %s",
			    c->host);
			closed(c, IRIS_ENOTFOUND);
			return;
		}
		evutil_freeaddrinfo(ai);
		connect_to(c, 0);
		return;
	}
	/* A name: asked on the loop, never with a blocking call. */
	if (c->dns == NULL && (c->dns = evdns_base_new(c->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		iris__client_seterr(c, "no resolver for %s", c->host);
		closed(c, IRIS_ENOTFOUND);
		return;
	}
	c->st = C_RESOLVING;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	c->dnsreq = evdns_getaddrinfo(c->dns, c->host, port, &hints,
	    resolved, c);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct iris_client *c = arg;

	(void)fd, (void)what;
	if (c->want && c->st == C_WAIT)
		attempt(c);
}

static int
conn_setup(struct iris_client *c)
{
	char err[300];
	int rc;

	if (c->ev_retry != NULL)
		return IRIS_OK;
	if (iris__client_split_hostport(c->cfg.server, c->host,
	    sizeof(c->host), &c->port) != IRIS_OK)
		return IRIS_EINVAL;
	if ((c->ev_retry = evtimer_new(c->base, on_retry, c)) == NULL ||
	    (c->ev_ping = evtimer_new(c->base, on_ping_timer, c)) == NULL)
		return IRIS_ENOMEM;
	if ((rc = iris__tls_client_new(&c->tls, c->cfg.have_pin ?
	    c->cfg.pin : NULL, c->cfg.have_pin ? NULL : c->cfg.ca_path,
	    &c->log, err, sizeof(err))) != IRIS_OK) {
		iris__client_seterr(c, "TLS: %s", err);
		return rc;
	}
	return IRIS_OK;
}

int
iris__conn_start(struct iris_client *c)
{
	int rc;

	if ((rc = conn_setup(c)) != IRIS_OK)
		return rc;
	c->want = 1;
	c->stop_err = IRIS_OK;
	if (c->st == C_IDLE || c->st == C_WAIT) {
		evtimer_del(c->ev_retry);
		c->attempt = 0;
		attempt(c);
	}
	return IRIS_OK;
}

void
iris__conn_drop(struct iris_client *c, int err, const char *why)
{
	if (c->nc == NULL)
		return;
	if (why != NULL && why != c->err)
		iris__client_seterr(c, "%s", why);
	if (c->last_err == IRIS_OK)
		c->last_err = err;
	iris__netconn_abort(c->nc, err);
}

void
iris__conn_fail(struct iris_client *c, int err)
{
	c->stop_err = err;
	c->want = 0;
	if (c->nc != NULL)
		iris__conn_drop(c, err, NULL);
	else if (c->st != C_IDLE)
		closed(c, err);
}

/* Stops at once: no reconnect, nothing more reported for the link. */
void
iris__conn_stop(struct iris_client *c)
{
	c->want = 0;
	if (c->dnsreq != NULL) {
		struct evdns_getaddrinfo_request *q = c->dnsreq;

		c->dnsreq = NULL;
		evdns_getaddrinfo_cancel(q);
	}
	if (c->nc != NULL) {
		iris__netconn_free(c->nc);
		c->nc = NULL;
	}
	iris__framer_free(&c->fr);
	fail_requests(c);
	if (!iris__client_tearing(c)) {
		iris__outbox_offline(c);
		iris__recv_offline(c);
		iris__conn_set_pubstate(c, IRIS_CLIENT_OFFLINE, IRIS_OK);
	}
	c->st = C_IDLE;
	if (iris__client_tearing(c)) {
		if (c->ev_retry != NULL)
			event_free(c->ev_retry);
		if (c->ev_ping != NULL)
			event_free(c->ev_ping);
		c->ev_retry = c->ev_ping = NULL;
		if (c->dns != NULL)
			evdns_base_free(c->dns, 0);
		c->dns = NULL;
		iris__tls_ctx_free(c->tls);
		c->tls = NULL;
	} else if (c->ev_retry != NULL) {
		evtimer_del(c->ev_retry);
		evtimer_del(c->ev_ping);
	}
}

/* Logged in: the rest of the client may talk. */
void
iris__conn_online(struct iris_client *c)
{
	size_t len;

	c->st = C_ONLINE;
	c->attempt = 0;
	if (iris__netconn_session_save(c->nc, c->tls_sess,
	    sizeof(c->tls_sess), &len) == IRIS_OK)
		c->tls_slen = len;
	iris__log(&c->log, IRIS_LOG_INFO, "client %s/%u: online%s", c->user,
	    c->device, iris__netconn_resumed(c->nc) ? " (TLS resumed)" : "");
	iris__conn_set_pubstate(c, IRIS_CLIENT_ONLINE, IRIS_OK);
	send_ping(c);
	arm_ping(c);
	iris__devlist_online(c);
	iris__recv_online(c);
	iris__social_online(c);
	iris__outbox_kick(c);
}

/* Requests die with their connection; those with callbacks say so. */
static void
fail_requests(struct iris_client *c)
{
	struct iris_wire_msg m;
	struct creq *r;
	size_t i;

	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_error_tag;
	m.f.body.error.code = iris_v1_ErrorCode_ERR_NONE;
	for (i = 0; i < IRIS_CLIENT_MAX_REQS && c->nreqs > 0; i++) {
		r = &c->reqs[i];
		if (r->rid == 0)
			continue;
		m.f.request_id = r->rid;
		/* ERR_NONE in an error: the link went, not the server. */
		route_answer(c, r, &m);
		iris__conn_req_free(c, r);
	}
}

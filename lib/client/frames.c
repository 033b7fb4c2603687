/* SPDX-License-Identifier: ISC */
/*
 * The client's frames: requests matched to their answers by id (a fixed
 * table, so memory is bounded by the requests in flight), each answer or
 * push routed to the part of the client it concerns, frames encoded and
 * queued, pings that notice a dead connection, state changes for the
 * embedder, and the protocol's error codes as IRIS_E* codes.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "net/conn.h"
#include "util/alloc.h"

#define PING_MS_MAX		30000

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
void
iris__conn_ping_timer(evutil_socket_t fd, short what, void *arg)
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
	case RQ_KEYS_UPLOAD:
		iris__keys_upload_answer(c, r, m);
		break;
	case RQ_KEYS_FETCH:
		iris__keys_fetch_answer(c, r, m);
		break;
	default:
		iris__social_answer(c, r, m);
		break;
	}
}

void
iris__conn_frame(struct iris_client *c, const uint8_t *p, size_t n)
{
	struct iris_wire_msg m;
	struct creq *r;
	int rc;

	iris__wire_msg_init_body(&m, 0);	/* the decode fills its body */
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
		case iris_v1_Frame_prekey_low_tag:
			iris__keys_low(c, m.f.body.prekey_low.remaining);
			break;
		default:
			break;	/* pushes this version does not use */
		}
	}
	iris__wire_msg_reset(&m);
}

/* Requests die with their connection; those with callbacks say so. */
void
iris__conn_fail_requests(struct iris_client *c)
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

/* Logged in: pings from now on. */
void
iris__conn_ping_start(struct iris_client *c)
{
	send_ping(c);
	arm_ping(c);
}

/* SPDX-License-Identifier: ISC */
/*
 * Messaging requests at the edge: each goes to the core over the bus with
 * its caller and trace id and is answered when the core's completion
 * comes back. The edge holds what is per connection: a bound on requests
 * in flight, the user's send token bucket, and the FIFO rule for sends
 * (after a retryable refusal, the connection's later sends are refused
 * with ERR_OUT_OF_ORDER until the refused one is sent again), plus the
 * delivery state that acks and sync pages move.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "engine/engine.h"
#include "util/clock.h"
#include "util/hlc.h"

void
iris__edge_caller(struct iris_session *s, struct iris_bus_caller *c)
{
	const char *user;

	memset(c, 0, sizeof(*c));
	if (s == NULL)
		return;		/* the administrator */
	user = iris__session_user(s, &c->device);
	if (user != NULL) {
		size_t n = strnlen(user, sizeof(c->user) - 1);

		memcpy(c->user, user, n);	/* the memset ended it */
	}
	c->conn = iris__session_edge(s)->conn;
	memcpy(c->trace, iris__session_trace_raw(s), sizeof(c->trace));
	c->t0_us = iris__session_t0(s);
}

/* A request of s, unless it has too many in flight (then refused). */
struct iris_bus_req *
iris__edge_req(struct iris_session *s, enum iris_bus_op op, uint64_t rid)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_edge_sess *e = iris__session_edge(s);
	struct iris_bus_caller c;
	struct iris_bus_req *r;

	if (e->inflight >= eng->max_inflight) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "too many requests in flight on this connection");
		return NULL;
	}
	iris__edge_caller(s, &c);
	if ((r = iris__bus_req_new(eng->bus, op, &c, rid)) == NULL)
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "out of memory");
	return r;
}

/* Sends r with s held; IRIS_OK, or the refusal was told. */
int
iris__edge_submit(struct iris_session *s, struct iris_bus_req *r,
    iris_bus_cb cb)
{
	struct iris_edge_sess *e = iris__session_edge(s);
	uint64_t rid = r->rid;

	e->inflight++;
	iris__session_hold(s);
	if (iris__bus_request(r, cb, s) != IRIS_OK) {
		e->inflight--;
		iris__session_release(s);
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "the core's queue is full");
		return IRIS_EAGAIN;
	}
	return IRIS_OK;
}

/* The answer is back: 0 when the session went meanwhile. */
int
iris__edge_back(struct iris_session *s)
{
	if (!iris__session_release(s))
		return 0;
	iris__session_edge(s)->inflight--;
	return 1;
}

static void
reply_done(struct iris_session *s, uint64_t rid)
{
	struct iris_wire_msg m;

	iris__wire_msg_init_body(&m, iris_v1_Frame_done_tag);
	m.f.request_id = rid;
	iris__session_send(s, &m);
}

/* The core's answer as it stands: its frames, its error, or Done. */
void
iris__edge_reply(struct iris_session *s, struct iris_bus_req *r)
{
	const struct iris_bus_reply *rep = &r->rep;

	if (rep->frames != NULL) {
		if (rep->code != 0)
			iris__session_count_error(s, rep->code);
		iris__session_write(s, rep->frames, rep->len, 1);
	} else if (rep->code != 0)
		iris__session_error(s, r->rid, rep->code, rep->retry_ms,
		    rep->detail);
	else
		reply_done(s, r->rid);
}

static void
count_refused(struct iris_engine *eng, int code)
{
	eng->st[ST_SENDS_REFUSED_EDGE]++;
	eng->refused[(unsigned)code < IRIS_WIRE_ERRS ? code : 0]++;
}

/* The earliest refused send of the chain is the one to come again. */
static void
block(struct iris_edge_sess *e, const uint8_t cmid[16], uint64_t chain,
    uint64_t idx)
{
	if (chain != e->chain || (e->blocked && idx >= e->blocked_idx))
		return;
	e->blocked = 1;
	e->blocked_idx = idx;
	memcpy(e->blocked_cmid, cmid, 16);
}

static void
sent(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;
	struct iris_engine *eng;
	const struct iris_bus_send *snd = &r->u.send;
	struct iris_wire_msg m;
	iris_v1_SendAck *a;

	if (!iris__edge_back(s))
		return;
	eng = iris__session_engine(s);
	if (r->rep.code != 0) {
		if (!snd->transient && iris__wire_err_retryable(r->rep.code))
			block(iris__session_edge(s), snd->cmid, snd->chain,
			    snd->idx);
		iris__edge_reply(s, r);
		return;
	}
	iris__wire_msg_init_body(&m, iris_v1_Frame_send_ack_tag);
	m.f.request_id = r->rid;
	memcpy(m.f.trace_id, r->from.trace, sizeof(m.f.trace_id));
	a = &m.f.body.send_ack;
	a->msg_id = r->rep.msg_id;
	a->duplicate = r->rep.duplicate;
	a->stored_ms = r->rep.msg_id != 0 ? iris__hlc_ms(r->rep.msg_id) : 0;
	a->envelopes = r->rep.count;
	if (iris__session_send(s, &m) == IRIS_OK) {
		eng->st[ST_ACK_SENT]++;
		if (!snd->transient)
			iris__histo_add(&eng->ack_lat,
			    iris__clock_realtime_us() - r->from.t0_us);
	}
}

void
iris__edge_send(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_edge_sess *e = iris__session_edge(s);
	const iris_v1_Send *snd = &m->f.body.send;
	uint64_t rid = m->f.request_id;
	struct iris_bus_req *r;
	const uint8_t *frame;
	uint32_t retry = 0;
	size_t len;

	if (!snd->transient && e->blocked) {
		if (memcmp(snd->client_msg_id, e->blocked_cmid, 16) != 0) {
			count_refused(eng, iris_v1_ErrorCode_ERR_OUT_OF_ORDER);
			iris__session_error(s, rid,
			    iris_v1_ErrorCode_ERR_OUT_OF_ORDER, 100,
			    "resend the refused send first");
			return;
		}
		/* The refused send came again: a new chain starts with it. */
		e->blocked = 0;
		e->chain++;
		e->chain_idx = 0;
	}
	if (!iris__bucket_take(&e->u->bucket, iris__clock_mono_us(), 1,
	    &retry)) {
		count_refused(eng, iris_v1_ErrorCode_ERR_RATE_LIMITED);
		if (!snd->transient)
			block(e, snd->client_msg_id, e->chain,
			    e->chain_idx + 1);
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_RATE_LIMITED,
		    retry, "sending too fast");
		return;
	}
	if ((r = iris__edge_req(s, IRIS_BUS_SEND, rid)) == NULL)
		goto refused;
	frame = iris__session_frame(s, &len);
	if (iris__bus_req_send(r, m, frame, len) != IRIS_OK) {
		iris__bus_req_free(r);
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "out of memory");
		goto refused;
	}
	r->u.send.chain = e->chain;
	if (!snd->transient)
		r->u.send.idx = ++e->chain_idx;
	if (iris__edge_submit(s, r, sent) != IRIS_OK)
		goto refused;
	return;
refused:
	count_refused(eng, iris_v1_ErrorCode_ERR_OVERLOADED);
	if (!snd->transient)
		block(e, snd->client_msg_id, e->chain, e->chain_idx + 1);
}

static void
acked(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;

	if (!iris__edge_back(s))
		return;
	if (r->rep.code != 0 && r->rid == 0) {
		/* An ack without a request id has nobody to be answered:
		 * the connection itself is wrong. */
		iris__session_bye(s, r->rep.code, r->rep.retry_ms,
		    r->rep.detail);
		return;
	}
	if (r->rid != 0)
		iris__edge_reply(s, r);
}

void
iris__edge_ack(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_edge_sess *e = iris__session_edge(s);
	uint64_t rid = m->f.request_id, seq = m->f.body.ack.seq;
	struct iris_bus_req *r;

	if (seq < e->ack_max) {
		if (rid == 0)
			iris__session_bye(s, iris_v1_ErrorCode_ERR_BAD_CURSOR,
			    0, "ack behind an earlier ack");
		else
			iris__session_error(s, rid,
			    iris_v1_ErrorCode_ERR_BAD_CURSOR, 0,
			    "ack behind an earlier ack");
		return;
	}
	if ((r = iris__edge_req(s, IRIS_BUS_ACK, rid)) == NULL)
		return;
	r->u.seq = seq;
	if (iris__edge_submit(s, r, acked) != IRIS_OK)
		return;
	/* The window opens now; the store's cursor follows. An ack past
	 * anything known here is the core's to judge. */
	if (seq <= e->sent || seq <= e->head) {
		e->ack_max = seq;
		if (seq > e->acked)
			e->acked = seq;
		iris__edge_fetch(s);
	}
}

static void
synced(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;
	struct iris_engine *eng;
	struct iris_edge_sess *e;

	if (!iris__edge_back(s))
		return;
	eng = iris__session_engine(s);
	e = iris__session_edge(s);
	if (r->rep.code == 0) {
		if (r->rep.seq > e->sent)
			e->sent = r->rep.seq;
		if (r->rep.head > e->head)
			e->head = r->rep.head;
		eng->st[ST_MSG_OUT] += r->rep.count;
	}
	iris__edge_reply(s, r);
	if (r->rep.code == 0 && !r->rep.more) {
		/* The backlog is done: pushes from here on. */
		e->live = 1;
		iris__edge_fetch(s);
	}
}

void
iris__edge_sync(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_bus_req *r;

	if ((r = iris__edge_req(s, IRIS_BUS_SYNC, m->f.request_id)) == NULL)
		return;
	r->u.sync.after = m->f.body.sync_request.after_seq;
	r->u.sync.max = m->f.body.sync_request.max;
	iris__session_edge(s)->live = 0;
	(void)iris__edge_submit(s, r, synced);
}

static void
forwarded(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;

	if (iris__edge_back(s))
		iris__edge_reply(s, r);
}

void
iris__edge_forward(struct iris_session *s, struct iris_wire_msg *m,
    enum iris_bus_op op)
{
	struct iris_bus_req *r;

	if ((r = iris__edge_req(s, op, m->f.request_id)) == NULL)
		return;
	if (iris__bus_req_frame(r, &m->f) != IRIS_OK) {
		iris__bus_req_free(r);
		iris__session_error(s, m->f.request_id,
		    iris_v1_ErrorCode_ERR_OVERLOADED, 100, "out of memory");
		return;
	}
	(void)iris__edge_submit(s, r, forwarded);
}

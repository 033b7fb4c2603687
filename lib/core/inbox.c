/* SPDX-License-Identifier: ISC */
/*
 * The inbox service: cumulative acks (durable, with the delivery
 * receipts they make rung at their senders' doorbells), sync pages from a
 * cursor within the page and frame budgets, fetches of what a live
 * connection missed, and the doorbells themselves: (device, seq, previous
 * seq) with the delivery, so an edge pushes it or sees a gap.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "core/core_priv.h"
#include "util/alloc.h"

void
iris__core_doorbell(struct iris_core *core, const char *user,
    uint32_t device, uint64_t seq, int msg_class, uint64_t t0_us,
    uint8_t *frame, size_t len)
{
	struct iris_bus_push *p;

	if ((p = iris__calloc(1, sizeof(*p))) == NULL) {
		iris__free(frame);	/* the device finds it by the gap */
		return;
	}
	p->kind = IRIS_PUSH_DOORBELL;
	/* Copied, not formatted: one of these per stored message. */
	memcpy(p->user, user, strnlen(user, sizeof(p->user) - 1));
	p->device = device;
	p->seq = seq;
	p->prev = seq - 1;	/* seqs are dense */
	p->msg_class = msg_class;
	p->t0_us = t0_us;
	p->frame = frame;
	p->len = frame != NULL ? len : 0;
	core->st.doorbells++;
	iris__bus_push(core->bus, p);
}

/* An ack in chunks of at most IRIS_RCPT_MAX seqs, answered after all. */
struct ack_state {
	unsigned	 pending;
	int		 rc;
	uint64_t	 acked;
};

static void
ring_receipts(struct iris_core *core, struct iris_ack_job *j)
{
	struct iris_message msg;
	size_t i, len, cap;
	uint8_t *buf;

	memset(&msg, 0, sizeof(msg));
	msg.sender = j->user;
	msg.sender_device = j->device;
	msg.msg_class = IRIS__CLASS_DELIVERY;
	for (i = 0; i < j->nrcpts; i++) {
		msg.seq = j->rcpts[i].seq;
		msg.msg_id = j->rcpts[i].msg_id;
		msg.cmid = j->rcpts[i].cmid;
		msg.received_ms = j->rcpts[i].at_ms;
		buf = NULL;
		len = cap = 0;
		if (iris__core_deliver_frame(&msg, &buf, &len, &cap) != IRIS_OK)
			buf = NULL;
		iris__core_doorbell(core, j->rcpts[i].user, j->rcpts[i].device,
		    msg.seq, IRIS_CLASS_RECEIPT, 0, buf, len);
	}
}

static void
acked(struct iris_ack_job *j, void *arg)
{
	struct core_op *op = arg;
	struct ack_state *st = op->data;
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;
	int rc;

	if (j->job.rc != IRIS_OK && st->rc == IRIS_OK)
		st->rc = j->job.rc;
	if (j->job.rc == IRIS_OK) {
		st->acked = j->acked;
		ring_receipts(core, j);
	}
	if (--st->pending > 0)
		return;
	rc = st->rc;
	req->rep.seq = st->acked;
	iris__free(st);
	op->data = NULL;
	if (rc == IRIS_OK)
		iris__core_op_reply(op);
	else if (rc == IRIS_EINVAL) {
		iris__core_op_free(op);
		iris__core_refuse(core, req,
		    iris_v1_ErrorCode_ERR_BAD_CURSOR, 0,
		    "ack beyond the inbox head");
	} else {
		iris__core_op_free(op);
		iris__core_store_error(core, req, rc);
	}
}

void
iris__core_ack(struct iris_core *core, struct iris_bus_req *req)
{
	const char *user = req->from.user;
	uint32_t device = req->from.device;
	uint64_t seq = req->u.seq, cur = 0, head = 0, to;
	struct ack_state *st;
	struct core_op *op;
	int rc, receipts;

	/* From memory; the file only confirms a refusal past the head. */
	if ((rc = iris__store_position(core->store, user, device, 0, &cur,
	    &head)) != IRIS_OK || (seq > head &&
	    (rc = iris__store_position(core->store, user, device, 1, &cur,
	    &head)) != IRIS_OK)) {
		iris__core_store_error(core, req, IRIS_ESTORE);
		return;
	}
	if (seq > head) {
		iris__core_refuse(core, req,
		    iris_v1_ErrorCode_ERR_BAD_CURSOR, 0,
		    "ack beyond the inbox head");
		return;
	}
	if (seq < cur) {
		iris__core_refuse(core, req,
		    iris_v1_ErrorCode_ERR_BAD_CURSOR, 0,
		    "ack behind the cursor");
		return;
	}
	if (seq == cur) {
		req->rep.seq = cur;
		iris__bus_reply(req);
		return;
	}
	/* Receipts are the last thing shed under load (R5). */
	if ((receipts = iris__core_overload(core) < 3) == 0)
		core->st.receipts_shed++;
	if ((st = iris__calloc(1, sizeof(*st))) == NULL ||
	    (op = iris__core_op_new(core, req)) == NULL) {
		iris__free(st);
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	op->data = st;
	/* Chunks of the range (the cursor may be further already: the
	 * store starts each from the real cursor). */
	for (; cur < seq; cur = to) {
		to = seq - cur > IRIS_RCPT_MAX ? cur + IRIS_RCPT_MAX : seq;
		rc = iris__store_ack_ex(core->store, user, device, to,
		    receipts, acked, op);
		if (rc != IRIS_OK) {
			st->rc = rc;
			break;
		}
		st->pending++;
	}
	if (st->pending == 0) {
		iris__free(st);
		op->data = NULL;
		iris__core_op_free(op);
		iris__core_store_error(core, req, rc);
	}
}

/* A page or a fetch being read: copies of the rows, within budgets. */
struct page {
	struct iris_core	*core;
	int			 fetch;
	size_t			 budget;
	size_t			 used;
	struct iris_wire_delivery *items;	/* sync: envelope offsets */
	size_t			 n, icap;
	uint8_t			*bytes;		/* sync: the envelopes */
	size_t			 blen, bcap;
	uint8_t			*frames;	/* fetch: Deliver frames */
	size_t			 flen, fcap;
	uint64_t		 last;
	int			 err;
};

static int
page_row(const struct iris_message *msg, void *arg)
{
	struct page *pg = arg;
	struct iris_wire_delivery *it;
	iris_v1_Deliver *d;
	size_t need = msg->len + 160, ulen, cap;
	uint8_t *p;

	if (pg->n > 0 && pg->used + need > pg->budget)
		return 1;	/* the next page takes it */
	pg->used += need;
	if (pg->fetch) {
		if (iris__core_deliver_frame(msg, &pg->frames, &pg->flen,
		    &pg->fcap) != IRIS_OK)
			return pg->err = 1;
		pg->last = msg->seq;
		pg->n++;
		return 0;
	}
	/* Grown as rows come: a page of the limit's 4 096 items was a
	 * megabyte zeroed for every sync, most of them empty at login. */
	if (pg->n == pg->icap) {
		cap = pg->icap != 0 ? 2 * pg->icap : 64;
		if ((it = iris__realloc(pg->items, cap * sizeof(*it))) ==
		    NULL)
			return pg->err = 1;
		memset(it + pg->icap, 0, (cap - pg->icap) * sizeof(*it));
		pg->items = it;
		pg->icap = cap;
	}
	it = &pg->items[pg->n];
	d = &it->pb;
	d->seq = msg->seq;
	d->msg_id = msg->msg_id;
	ulen = strlen(msg->sender);
	d->sender_user.size = (pb_size_t)ulen;
	memcpy(d->sender_user.bytes, msg->sender, ulen);
	d->sender_device = msg->sender_device;
	memcpy(d->client_msg_id, msg->cmid, 16);
	d->sent_ms = msg->received_ms;
	if (msg->msg_class == IRIS__CLASS_DELIVERY) {
		d->class = iris_v1_MsgClass_CLASS_RECEIPT;
		d->has_receipt = true;
		d->receipt.msg_id = msg->msg_id;
		d->receipt.user.size = d->sender_user.size;
		memcpy(d->receipt.user.bytes, d->sender_user.bytes,
		    d->sender_user.size);
		d->receipt.device_id = msg->sender_device;
		d->receipt.delivered_ms = msg->received_ms;
	} else {
		d->class = (iris_v1_MsgClass)msg->msg_class;
		if (pg->blen + msg->len > pg->bcap) {
			for (cap = pg->bcap != 0 ? pg->bcap : 65536;
			    cap < pg->blen + msg->len; cap *= 2)
				;
			if ((p = iris__realloc(pg->bytes, cap)) == NULL)
				return pg->err = 1;
			pg->bytes = p;
			pg->bcap = cap;
		}
		memcpy(pg->bytes + pg->blen, msg->data, msg->len);
		/* An offset for now: the buffer may move as it grows. */
		it->envelope.ptr = (const uint8_t *)(uintptr_t)pg->blen;
		it->envelope.len = msg->len;
		pg->blen += msg->len;
	}
	pg->last = msg->seq;
	pg->n++;
	return 0;
}

static int
encode_page(struct iris_bus_req *req, struct page *pg, uint64_t head)
{
	struct iris_wire_msg m;
	size_t i;
	int rc;

	for (i = 0; i < pg->n; i++)
		if (pg->items[i].envelope.len > 0)
			pg->items[i].envelope.ptr = pg->bytes +
			    (uintptr_t)pg->items[i].envelope.ptr;
	iris__wire_msg_init(&m);
	m.f.request_id = req->rid;
	memcpy(m.f.trace_id, req->from.trace, 16);
	m.f.which_body = iris_v1_Frame_sync_page_tag;
	m.f.body.sync_page.head_seq = head;
	m.f.body.sync_page.more = pg->last < head;
	m.items = pg->items;
	m.nitems = pg->n;
	rc = iris__core_encode(&m, &req->rep.frames, &req->rep.len);
	m.items = NULL;
	m.nitems = 0;
	iris__wire_msg_reset(&m);
	return rc;
}

void
iris__core_sync(struct iris_core *core, struct iris_bus_req *req, int fetch)
{
	uint64_t after = req->u.sync.after, acked = 0, head = 0;
	uint32_t max = req->u.sync.max, limit = core->lim.max_sync_items;
	struct page pg;
	int rc;

	if (iris__store_position(core->store, req->from.user,
	    req->from.device, 0, &acked, &head) != IRIS_OK ||
	    (after > head && iris__store_position(core->store,
	    req->from.user, req->from.device, 1, &acked, &head) != IRIS_OK)) {
		iris__core_store_error(core, req, IRIS_ESTORE);
		return;
	}
	if (after > head) {
		iris__core_refuse(core, req,
		    iris_v1_ErrorCode_ERR_BAD_CURSOR, 0,
		    "sync from beyond the inbox head");
		return;
	}
	if (max != 0 && max < limit)
		limit = max;
	memset(&pg, 0, sizeof(pg));
	pg.core = core;
	pg.fetch = fetch;
	pg.budget = core->page_bytes;
	pg.last = after;
	rc = after < head ? iris_store_scan(core->store, req->from.user,
	    req->from.device, after, limit, page_row, &pg) : 0;
	if (rc < 0 || pg.err) {
		iris__free(pg.items);
		iris__free(pg.bytes);
		iris__free(pg.frames);
		iris__core_store_error(core, req, rc < 0 ? IRIS_ESTORE :
		    IRIS_ENOMEM);
		return;
	}
	/* Rows committed since the loop last heard of a commit. */
	if (pg.last > head)
		head = pg.last;
	req->rep.seq = pg.last;
	req->rep.head = head;
	req->rep.count = (uint32_t)pg.n;
	req->rep.more = pg.last < head;
	if (fetch) {
		req->rep.frames = pg.frames;
		req->rep.len = pg.flen;
	} else {
		core->st.sync_pages++;
		if (encode_page(req, &pg, head) != IRIS_OK) {
			iris__free(pg.items);
			iris__free(pg.bytes);
			iris__core_store_error(core, req, IRIS_ENOMEM);
			return;
		}
	}
	iris__free(pg.items);
	iris__free(pg.bytes);
	iris__bus_reply(req);
}

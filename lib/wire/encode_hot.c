/* SPDX-License-Identifier: ISC */
/*
 * The hot frames written by hand. Send, SendAck, Deliver, Ack, Done and
 * SyncPage are nearly everything a server and a client encode, and
 * nanopb's descriptor walk cost a server more instructions than the rest
 * of a message's handling outside TLS (it encodes every submessage twice,
 * the first time to learn its size). Here each submessage's size follows
 * from its fields, and the bytes are written once.
 *
 * The output is byte for byte what nanopb writes: fields in tag order,
 * proto3 defaults (zero, false, empty) left out but fixed-length bytes
 * always written, oneof and optional submessages written even when empty. So are the
 * errors: IRIS_EINVAL for a bytes field over its bound, IRIS_ETOOBIG when
 * the frame does not fit, checked in the order nanopb meets them.
 * tests/unit/check_wire_hot.c compares the two on random frames. Other
 * bodies go to nanopb.
 */
#include <string.h>

#include "iris.h"
#include "wire/frame.h"
#include "wire/msg.h"

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2 };

static size_t
vlen(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Bytes of a field's key (field numbers here are below 2048). */
static size_t
klen(uint32_t field)
{
	return field < 16 ? 1 : 2;
}

/* Sizes of fields as nanopb writes them: 0 for a proto3 default. */
static size_t
s_varint(uint32_t field, uint64_t v)
{
	return v == 0 ? 0 : klen(field) + vlen(v);
}

static size_t
s_fixed64(uint32_t field, uint64_t v)
{
	return v == 0 ? 0 : klen(field) + 8;
}

static size_t
s_bytes(uint32_t field, size_t len)
{
	return len == 0 ? 0 : klen(field) + vlen(len) + len;
}

/* Fixed-length bytes: nanopb writes them even when all zero. */
static size_t
s_fixed16(uint32_t field)
{
	return klen(field) + 1 + 16;
}

/* A present submessage of n bytes. */
static size_t
s_msg(uint32_t field, size_t n)
{
	return klen(field) + vlen(n) + n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *
put_key(uint8_t *p, uint32_t field, int wt)
{
	return put_varint(p, (uint64_t)field << 3 | (uint64_t)wt);
}

static uint8_t *
w_varint(uint8_t *p, uint32_t field, uint64_t v)
{
	if (v == 0)
		return p;
	return put_varint(put_key(p, field, WT_VARINT), v);
}

static uint8_t *
w_fixed64(uint8_t *p, uint32_t field, uint64_t v)
{
	int i;

	if (v == 0)
		return p;
	p = put_key(p, field, WT_FIXED64);
	for (i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *
w_bytes(uint8_t *p, uint32_t field, const uint8_t *b, size_t len)
{
	if (len == 0)
		return p;
	p = put_varint(put_key(p, field, WT_LEN), len);
	memcpy(p, b, len);
	return p + len;
}

static uint8_t *
w_fixed16(uint8_t *p, uint32_t field, const uint8_t b[16])
{
	return w_bytes(p, field, b, 16);
}

static uint8_t *
w_msg(uint8_t *p, uint32_t field, size_t n)
{
	return put_varint(put_key(p, field, WT_LEN), n);
}

/* DeliveryReceipt. */
static int
receipt_size(const iris_v1_DeliveryReceipt *r, size_t *n)
{
	if (r->user.size > sizeof(r->user.bytes))
		return IRIS_EINVAL;
	*n = s_fixed64(1, r->msg_id) + s_bytes(2, r->user.size) +
	    s_varint(3, r->device_id) + s_varint(4, r->delivered_ms);
	return IRIS_OK;
}

static uint8_t *
w_receipt(uint8_t *p, const iris_v1_DeliveryReceipt *r)
{
	p = w_fixed64(p, 1, r->msg_id);
	p = w_bytes(p, 2, r->user.bytes, r->user.size);
	p = w_varint(p, 3, r->device_id);
	return w_varint(p, 4, r->delivered_ms);
}

/* Deliver, its envelope from env (the callback field's bytes). */
static int
deliver_size(const iris_v1_Deliver *d, const struct iris_slice *env,
    size_t *n)
{
	size_t rn = 0;

	if (d->sender_user.size > sizeof(d->sender_user.bytes))
		return IRIS_EINVAL;
	if (d->has_receipt && receipt_size(&d->receipt, &rn) != IRIS_OK)
		return IRIS_EINVAL;
	*n = s_varint(1, d->seq) + s_fixed64(2, d->msg_id) +
	    s_bytes(3, d->sender_user.size) + s_varint(4, d->sender_device) +
	    s_fixed16(5) + s_varint(6, (uint32_t)d->class) +
	    s_varint(7, d->sent_ms) + s_bytes(8, env->len) +
	    (d->has_receipt ? s_msg(9, rn) : 0) + s_varint(10, d->transient);
	return IRIS_OK;
}

static uint8_t *
w_deliver(uint8_t *p, const iris_v1_Deliver *d, const struct iris_slice *env)
{
	size_t rn;

	p = w_varint(p, 1, d->seq);
	p = w_fixed64(p, 2, d->msg_id);
	p = w_bytes(p, 3, d->sender_user.bytes, d->sender_user.size);
	p = w_varint(p, 4, d->sender_device);
	p = w_fixed16(p, 5, d->client_msg_id);
	p = w_varint(p, 6, (uint32_t)d->class);
	p = w_varint(p, 7, d->sent_ms);
	p = w_bytes(p, 8, env->ptr, env->len);
	if (d->has_receipt) {
		(void)receipt_size(&d->receipt, &rn);	/* checked */
		p = w_receipt(w_msg(p, 9, rn), &d->receipt);
	}
	return w_varint(p, 10, d->transient);
}

/* Envelope of a Send. */
static int
envelope_size(const struct iris_wire_envelope *e, size_t *n)
{
	if (e->user.size > sizeof(e->user.bytes))
		return IRIS_EINVAL;
	*n = s_bytes(1, e->user.size) + s_varint(2, e->device) +
	    s_bytes(3, e->payload.len);
	return IRIS_OK;
}

/* The body's bytes (without its key and length), or IRIS_EINVAL. */
static int
body_size(const struct iris_wire_msg *m, size_t *n)
{
	const iris_v1_Frame *f = &m->f;
	size_t i, sub;

	switch (f->which_body) {
	case iris_v1_Frame_send_tag:
		*n = s_fixed16(1) +
		    s_varint(2, (uint32_t)f->body.send.class) +
		    s_varint(3, f->body.send.transient);
		for (i = 0; i < m->nenvs; i++) {
			if (envelope_size(&m->envs[i], &sub) != IRIS_OK)
				return IRIS_EINVAL;
			*n += s_msg(4, sub);
		}
		return IRIS_OK;
	case iris_v1_Frame_send_ack_tag:
		*n = s_fixed64(1, f->body.send_ack.msg_id) +
		    s_varint(2, f->body.send_ack.duplicate) +
		    s_varint(3, f->body.send_ack.stored_ms) +
		    s_varint(4, f->body.send_ack.envelopes);
		return IRIS_OK;
	case iris_v1_Frame_deliver_tag:
		return deliver_size(&f->body.deliver, &m->envelope, n);
	case iris_v1_Frame_ack_tag:
		*n = s_varint(1, f->body.ack.seq);
		return IRIS_OK;
	case iris_v1_Frame_sync_page_tag:
		*n = 0;
		for (i = 0; i < m->nitems; i++) {
			if (deliver_size(&m->items[i].pb, &m->items[i].envelope,
			    &sub) != IRIS_OK)
				return IRIS_EINVAL;
			*n += s_msg(1, sub);
		}
		*n += s_varint(2, f->body.sync_page.head_seq) +
		    s_varint(3, f->body.sync_page.more);
		return IRIS_OK;
	default:		/* done: empty */
		*n = 0;
		return IRIS_OK;
	}
}

static uint8_t *
w_body(uint8_t *p, const struct iris_wire_msg *m)
{
	const iris_v1_Frame *f = &m->f;
	size_t i, sub;

	switch (f->which_body) {
	case iris_v1_Frame_send_tag:
		p = w_fixed16(p, 1, f->body.send.client_msg_id);
		p = w_varint(p, 2, (uint32_t)f->body.send.class);
		p = w_varint(p, 3, f->body.send.transient);
		for (i = 0; i < m->nenvs; i++) {
			const struct iris_wire_envelope *e = &m->envs[i];

			(void)envelope_size(e, &sub);
			p = w_msg(p, 4, sub);
			p = w_bytes(p, 1, e->user.bytes, e->user.size);
			p = w_varint(p, 2, e->device);
			p = w_bytes(p, 3, e->payload.ptr, e->payload.len);
		}
		return p;
	case iris_v1_Frame_send_ack_tag:
		p = w_fixed64(p, 1, f->body.send_ack.msg_id);
		p = w_varint(p, 2, f->body.send_ack.duplicate);
		p = w_varint(p, 3, f->body.send_ack.stored_ms);
		return w_varint(p, 4, f->body.send_ack.envelopes);
	case iris_v1_Frame_deliver_tag:
		return w_deliver(p, &f->body.deliver, &m->envelope);
	case iris_v1_Frame_ack_tag:
		return w_varint(p, 1, f->body.ack.seq);
	case iris_v1_Frame_sync_page_tag:
		for (i = 0; i < m->nitems; i++) {
			(void)deliver_size(&m->items[i].pb,
			    &m->items[i].envelope, &sub);
			p = w_deliver(w_msg(p, 1, sub), &m->items[i].pb,
			    &m->items[i].envelope);
		}
		p = w_varint(p, 2, f->body.sync_page.head_seq);
		return w_varint(p, 3, f->body.sync_page.more);
	default:		/* done: empty */
		return p;
	}
}

int
iris__wire_hot(pb_size_t which)
{
	switch (which) {
	case iris_v1_Frame_send_tag:
	case iris_v1_Frame_send_ack_tag:
	case iris_v1_Frame_deliver_tag:
	case iris_v1_Frame_ack_tag:
	case iris_v1_Frame_done_tag:
	case iris_v1_Frame_sync_page_tag:
		return 1;
	default:
		return 0;
	}
}

/* What precedes the body: request_id, trace_id, the body's key. */
static size_t
head_size(const iris_v1_Frame *f)
{
	return s_varint(1, f->request_id) + s_fixed16(2) +
	    klen(f->which_body);
}

int
iris__wire_hot_size(const struct iris_wire_msg *m, size_t *size)
{
	size_t n;
	int rc;

	if (!iris__wire_hot(m->f.which_body))
		return IRIS__WIRE_NOT_HOT;
	if ((rc = body_size(m, &n)) != IRIS_OK)
		return rc;
	*size = IRIS_FRAME_HEADER + head_size(&m->f) + vlen(n) + n;
	return *size - IRIS_FRAME_HEADER > UINT32_MAX ? IRIS_ETOOBIG : IRIS_OK;
}

int
iris__wire_hot_encode(const struct iris_wire_msg *m, uint8_t *out,
    size_t cap, size_t *len)
{
	const iris_v1_Frame *f = &m->f;
	size_t head, n, room;
	uint8_t *p;
	int rc;

	*len = 0;
	if (!iris__wire_hot(f->which_body))
		return IRIS__WIRE_NOT_HOT;
	if (cap < IRIS_FRAME_HEADER)
		return IRIS_ETOOBIG;
	/* nanopb writes the head, then sizes the body, then writes it. */
	room = cap - IRIS_FRAME_HEADER;
	if ((head = head_size(f)) > room)
		return IRIS_ETOOBIG;
	if ((rc = body_size(m, &n)) != IRIS_OK)
		return rc;
	if (vlen(n) + n > room - head)
		return IRIS_ETOOBIG;
	p = out + IRIS_FRAME_HEADER;
	p = w_varint(p, 1, f->request_id);
	p = w_fixed16(p, 2, f->trace_id);
	p = w_msg(p, f->which_body, n);
	p = w_body(p, m);
	*len = (size_t)(p - out);
	iris__frame_put_header(out, (uint32_t)(*len - IRIS_FRAME_HEADER));
	return IRIS_OK;
}

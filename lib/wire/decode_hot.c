/* SPDX-License-Identifier: ISC */
/*
 * The hot frames read by hand: Send and Ack (what a server reads per
 * message), SendAck and Deliver (what a client reads). nanopb walks its
 * descriptors for every field and calls back for every envelope; here a
 * frame in the shape an encoder writes is read in one pass.
 *
 * Only that shape is taken: request_id, trace_id and one body, in that
 * order, each body's fields in tag order and each once (an envelope list
 * excepted), every length and value within bounds. Anything else at all
 * (unknown or repeated fields, other wire types, long varints, a field
 * over a limit, a receipt, any other body) is declined, and nanopb
 * decodes the frame from the start, so every refusal and every odd but
 * valid input keeps nanopb's answer (running out of memory is answered
 * here, as nanopb's path answers it). What is taken decodes to exactly what
 * nanopb gives: tests/unit/check_wire_hot.c compares the two on random
 * and mutated frames.
 */
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/msg.h"

#define DECLINE		(-1)
#define NOMEM		(-2)	/* an answer, as from nanopb's path */

struct rd {
	const uint8_t	*p;
	const uint8_t	*end;
};

/* A varint of up to 10 bytes, the tenth 0 or 1 (as nanopb reads one). */
static int
varint(struct rd *r, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;
	uint8_t b;

	for (shift = 0; shift <= 63 && r->p < r->end; shift += 7) {
		b = *r->p++;
		if (shift == 63 && (b & 0xfe) != 0)
			return DECLINE;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return DECLINE;
}

static int
u32(struct rd *r, uint32_t *v)
{
	uint64_t x;

	if (varint(r, &x) != 0 || x > UINT32_MAX)
		return DECLINE;
	*v = (uint32_t)x;
	return 0;
}

static int
boolean(struct rd *r, bool *v)
{
	uint32_t x;

	if (u32(r, &x) != 0)
		return DECLINE;
	*v = x != 0;
	return 0;
}

static int
fixed64(struct rd *r, uint64_t *v)
{
	uint64_t x = 0;
	int i;

	if (r->end - r->p < 8)
		return DECLINE;
	for (i = 7; i >= 0; i--)
		x = x << 8 | r->p[i];
	r->p += 8;
	*v = x;
	return 0;
}

/* A length-delimited field's bytes, at most max of them. */
static int
bytes(struct rd *r, size_t max, struct rd *out)
{
	uint64_t n;

	if (varint(r, &n) != 0 || n > max || n > (uint64_t)(r->end - r->p))
		return DECLINE;
	out->p = r->p;
	out->end = r->p + n;
	r->p += n;
	return 0;
}

/*
 * The next field's key if it is one of this message's fields after the
 * last one read (*last), with the wire type it must have; 0 at the end.
 */
static int
key(struct rd *r, uint32_t *last, uint32_t *field, const uint8_t *wts,
    uint32_t nfields)
{
	uint64_t k;

	if (r->p == r->end) {
		*field = 0;
		return 0;
	}
	if (varint(r, &k) != 0 || k >> 3 <= *last || k >> 3 > nfields ||
	    (k & 7) != wts[(k >> 3) - 1])
		return DECLINE;
	*field = *last = (uint32_t)(k >> 3);
	return 0;
}

enum { V = 0, F64 = 1, L = 2 };

static int
fixed16(struct rd *r, uint8_t out[16])
{
	struct rd b;

	if (bytes(r, 16, &b) != 0 || b.end - b.p != 16)
		return DECLINE;
	memcpy(out, b.p, 16);
	return 0;
}

#define USER(r, dst) do {						\
	struct rd b_;							\
									\
	if (bytes((r), sizeof((dst).bytes), &b_) != 0)			\
		return DECLINE;						\
	(dst).size = (pb_size_t)(b_.end - b_.p);			\
	memcpy((dst).bytes, b_.p, (dst).size);				\
} while (0)

static int
slice(struct rd *r, size_t max, struct iris_slice *out)
{
	struct rd b;

	if (bytes(r, max, &b) != 0)
		return DECLINE;
	out->ptr = b.p;
	out->len = (size_t)(b.end - b.p);
	return 0;
}

static int
envelope(struct rd *r, struct iris_wire_envelope *e, size_t max_env)
{
	static const uint8_t wts[] = { L, V, L };
	uint32_t last = 0, f;

	for (;;) {
		if (key(r, &last, &f, wts, 3) != 0)
			return DECLINE;
		switch (f) {
		case 0:
			return 0;
		case 1:
			USER(r, e->user);
			break;
		case 2:
			if (u32(r, &e->device) != 0)
				return DECLINE;
			break;
		default:
			if (slice(r, max_env, &e->payload) != 0)
				return DECLINE;
			break;
		}
	}
}

/* The next envelope of a Send, the array grown as nanopb's path does. */
static struct iris_wire_envelope *
next_env(struct iris_wire_msg *m)
{
	struct iris_wire_envelope *e;
	size_t cap;

	if (m->nenvs == m->lim->max_envelopes)
		return NULL;
	if (m->nenvs == m->cap) {
		cap = m->cap != 0 ? m->cap * 2 : 4;
		if (cap > m->lim->max_envelopes)
			cap = m->lim->max_envelopes;
		if ((e = iris__realloc(m->envs, cap * sizeof(*e))) == NULL) {
			m->wire_err = iris_v1_ErrorCode_ERR_OVERLOADED;
			m->detail = "out of memory";
			return NULL;
		}
		m->envs = e;
		m->cap = cap;
	}
	e = &m->envs[m->nenvs++];
	memset(e, 0, sizeof(*e));
	return e;
}

static int
send(struct rd *r, struct iris_wire_msg *m)
{
	static const uint8_t wts[] = { L, V, V, L };
	iris_v1_Send *s = &m->f.body.send;
	struct iris_wire_envelope *e;
	uint32_t last = 0, f, cls;
	struct rd b;

	for (;;) {
		if (key(r, &last, &f, wts, 4) != 0)
			return DECLINE;
		switch (f) {
		case 0:
			return 0;
		case 1:
			if (fixed16(r, s->client_msg_id) != 0)
				return DECLINE;
			break;
		case 2:
			if (u32(r, &cls) != 0)
				return DECLINE;
			s->class = (iris_v1_MsgClass)cls;
			break;
		case 3:
			if (boolean(r, &s->transient) != 0)
				return DECLINE;
			break;
		default:
			/* The list, to its end: nothing may follow it. */
			for (;;) {
				if ((e = next_env(m)) == NULL)
					return m->wire_err != 0 ? NOMEM :
					    DECLINE;
				if (bytes(r, SIZE_MAX, &b) != 0 ||
				    envelope(&b, e, m->lim->max_envelope) != 0)
					return DECLINE;
				if (r->p == r->end)
					return 0;
				if (*r->p++ != (4 << 3 | L))
					return DECLINE;
			}
		}
	}
}

static int
send_ack(struct rd *r, iris_v1_SendAck *a)
{
	static const uint8_t wts[] = { F64, V, V, V };
	uint32_t last = 0, f;

	for (;;) {
		if (key(r, &last, &f, wts, 4) != 0)
			return DECLINE;
		switch (f) {
		case 0:
			return 0;
		case 1:
			if (fixed64(r, &a->msg_id) != 0)
				return DECLINE;
			break;
		case 2:
			if (boolean(r, &a->duplicate) != 0)
				return DECLINE;
			break;
		case 3:
			if (varint(r, &a->stored_ms) != 0)
				return DECLINE;
			break;
		default:
			if (u32(r, &a->envelopes) != 0)
				return DECLINE;
			break;
		}
	}
}

/* A Deliver without a receipt (one is declined). */
static int
deliver(struct rd *r, struct iris_wire_msg *m)
{
	static const uint8_t wts[] = { V, F64, L, V, L, V, V, L, L, V };
	iris_v1_Deliver *d = &m->f.body.deliver;
	uint32_t last = 0, f, cls = 0;
	int rc = 0;

	for (;;) {
		if (key(r, &last, &f, wts, 10) != 0)
			return DECLINE;
		switch (f) {
		case 0:
			return 0;
		case 1:
			rc = varint(r, &d->seq);
			break;
		case 2:
			rc = fixed64(r, &d->msg_id);
			break;
		case 3:
			USER(r, d->sender_user);
			break;
		case 4:
			rc = u32(r, &d->sender_device);
			break;
		case 5:
			rc = fixed16(r, d->client_msg_id);
			break;
		case 6:
			rc = u32(r, &cls);
			d->class = (iris_v1_MsgClass)cls;
			break;
		case 7:
			rc = varint(r, &d->sent_ms);
			break;
		case 8:
			rc = slice(r, m->lim->max_envelope, &m->envelope);
			break;
		case 9:
			return DECLINE;
		default:
			rc = boolean(r, &d->transient);
			break;
		}
		if (rc != 0)
			return DECLINE;
	}
}

static int
body(struct rd *r, struct iris_wire_msg *m, uint32_t tag)
{
	uint32_t last = 0, f;
	size_t n;

	switch (tag) {
	case iris_v1_Frame_send_tag:
		n = sizeof(iris_v1_Send);
		break;
	case iris_v1_Frame_ack_tag:
		n = sizeof(iris_v1_Ack);
		break;
	case iris_v1_Frame_send_ack_tag:
		n = sizeof(iris_v1_SendAck);
		break;
	case iris_v1_Frame_deliver_tag:
		n = sizeof(iris_v1_Deliver);
		break;
	default:
		return DECLINE;
	}
	/* As nanopb does for a oneof member: zeroed, and reset covers it. */
	if (n > m->dirty)
		m->dirty = n;
	memset(&m->f.body, 0, n);
	switch (tag) {
	case iris_v1_Frame_send_tag:
		return send(r, m);
	case iris_v1_Frame_ack_tag:
		if (key(r, &last, &f, (const uint8_t[]){ V }, 1) != 0)
			return DECLINE;
		if (f == 1 && (varint(r, &m->f.body.ack.seq) != 0 ||
		    r->p != r->end))
			return DECLINE;
		return 0;
	case iris_v1_Frame_send_ack_tag:
		return send_ack(r, &m->f.body.send_ack);
	default:
		return deliver(r, m);
	}
}

int
iris__wire_hot_decode(struct iris_wire_msg *m, const uint8_t *buf,
    size_t len)
{
	struct rd r = { buf, buf + len }, b;
	uint64_t k;

	/* request_id, then trace_id, then the body; each optional. */
	if (r.p < r.end && *r.p == (1 << 3 | V)) {
		r.p++;
		if (varint(&r, &m->f.request_id) != 0)
			return IRIS__WIRE_NOT_HOT;
	}
	if (r.p < r.end && *r.p == (2 << 3 | L)) {
		r.p++;
		if (fixed16(&r, m->f.trace_id) != 0)
			return IRIS__WIRE_NOT_HOT;
	}
	if (varint(&r, &k) != 0 || (k & 7) != L || k >> 3 > UINT16_MAX ||
	    bytes(&r, SIZE_MAX, &b) != 0 || r.p != r.end)
		return IRIS__WIRE_NOT_HOT;
	switch (body(&b, m, (uint32_t)(k >> 3))) {
	case 0:
		break;
	case NOMEM:
		return IRIS_ENOMEM;	/* refused as nanopb's path would */
	default:
		return IRIS__WIRE_NOT_HOT;
	}
	m->f.which_body = (pb_size_t)(k >> 3);
	return IRIS_OK;
}

/* SPDX-License-Identifier: ISC */
/*
 * The hand-written codec of the hot bodies (lib/wire/encode_hot.c,
 * decode_hot.c) against nanopb, its reference. Encoding: on seeded random
 * frames with fields at zero, small, large and at their bounds, the same
 * bytes, the same size, and the same error for every room from none to
 * enough and for a bytes field over its bound. Decoding: those frames and
 * thousands of mutations of them (bytes flipped, cut, inserted, fields
 * doubled), under loose and tight limits, give the same result as
 * nanopb's decoder: the same error and reply code, or the same fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "suites.h"

#define ROUNDS		3000
#define MAX_ENVS	5
#define MAX_ITEMS	6
#define MAX_PAYLOAD	1500

static const pb_size_t hot_bodies[] = {
	iris_v1_Frame_send_tag, iris_v1_Frame_send_ack_tag,
	iris_v1_Frame_deliver_tag, iris_v1_Frame_ack_tag,
	iris_v1_Frame_done_tag, iris_v1_Frame_sync_page_tag,
};

/* xorshift64*: reproducible from the printed seed. */
static uint64_t rng;

static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t
below(uint64_t n)
{
	return n == 0 ? 0 : rnd() % n;
}

/* Zero a third of the time, else 1 to 64 random bits. */
static uint64_t
value(void)
{
	unsigned bits;

	if (below(3) == 0)
		return 0;
	bits = 1 + (unsigned)below(64);
	return bits == 64 ? rnd() : rnd() & ((1ULL << bits) - 1);
}

static uint8_t pool[MAX_PAYLOAD];

static void fill(uint8_t *, size_t);

/* Seeds rng from IRIS_TEST_SEED or the clock, says so, fills the pool. */
static void
seed_rng(const char *what)
{
	uint64_t seed = getenv("IRIS_TEST_SEED") != NULL ?
	    strtoull(getenv("IRIS_TEST_SEED"), NULL, 0) :
	    (uint64_t)time(NULL) ^ (uint64_t)clock() << 32;

	printf("check_wire_hot: %s seed %llu (IRIS_TEST_SEED replays)\n",
	    what, (unsigned long long)seed);
	rng = seed | 1;
	fill(pool, sizeof(pool));
}

static void
fill(uint8_t *p, size_t n)
{
	while (n-- > 0)
		*p++ = (uint8_t)rnd();
}

static void
fixed16(uint8_t b[16])
{
	memset(b, 0, 16);
	if (below(3) != 0)
		fill(b, 16);
	else if (below(2) == 0)
		b[below(16)] = 1;	/* nonzero in one byte only */
}

/* A bytes array of 0..64 (bound 64), by size field and bytes. */
#define BYTES(dst) do {							\
	(dst).size = (pb_size_t)(below(3) == 0 ? 0 : 1 + below(64));	\
	fill((dst).bytes, (dst).size);					\
} while (0)

static struct iris_slice
slice(void)
{
	struct iris_slice s;

	s.len = below(3) == 0 ? 0 : below(4) == 0 ? 1 + below(MAX_PAYLOAD) :
	    1 + below(200);
	s.ptr = pool;
	return s;
}

static void
deliver(iris_v1_Deliver *d)
{
	d->seq = value();
	d->msg_id = value();
	BYTES(d->sender_user);
	d->sender_device = (uint32_t)value();
	fixed16(d->client_msg_id);
	d->class = (iris_v1_MsgClass)below(4);
	d->sent_ms = value();
	if ((d->has_receipt = below(4) == 0)) {
		d->receipt.msg_id = value();
		BYTES(d->receipt.user);
		d->receipt.device_id = (uint32_t)value();
		d->receipt.delivered_ms = value();
	}
	d->transient = below(2) == 0;
}

/* A random frame of a hot body; arrays freed by iris__wire_msg_reset. */
static void
frame(struct iris_wire_msg *m, pb_size_t which)
{
	iris_v1_Frame *f = &m->f;
	size_t i;

	iris__wire_msg_init_body(m, which);
	f->request_id = value();
	fixed16(f->trace_id);
	switch (which) {
	case iris_v1_Frame_send_tag:
		fixed16(f->body.send.client_msg_id);
		f->body.send.class = (iris_v1_MsgClass)below(4);
		f->body.send.transient = below(2) == 0;
		m->nenvs = below(MAX_ENVS + 1);
		m->envs = iris__calloc(MAX_ENVS, sizeof(*m->envs));
		ck_assert_ptr_nonnull(m->envs);
		for (i = 0; i < m->nenvs; i++) {
			BYTES(m->envs[i].user);
			m->envs[i].device = (uint32_t)value();
			m->envs[i].payload = slice();
		}
		break;
	case iris_v1_Frame_send_ack_tag:
		f->body.send_ack.msg_id = value();
		f->body.send_ack.duplicate = below(2) == 0;
		f->body.send_ack.stored_ms = value();
		f->body.send_ack.envelopes = (uint32_t)value();
		break;
	case iris_v1_Frame_deliver_tag:
		deliver(&f->body.deliver);
		m->envelope = slice();
		break;
	case iris_v1_Frame_ack_tag:
		f->body.ack.seq = value();
		break;
	case iris_v1_Frame_sync_page_tag:
		m->nitems = below(MAX_ITEMS + 1);
		m->items = iris__calloc(MAX_ITEMS, sizeof(*m->items));
		ck_assert_ptr_nonnull(m->items);
		for (i = 0; i < m->nitems; i++) {
			deliver(&m->items[i].pb);
			m->items[i].envelope = slice();
		}
		f->body.sync_page.head_seq = value();
		f->body.sync_page.more = below(2) == 0;
		break;
	default:
		break;
	}
}

/* Both encoders, into rooms of cap bytes: same result, same bytes. */
static void
same(struct iris_wire_msg *m, size_t cap, uint64_t round)
{
	static uint8_t a[16384], b[16384];
	size_t alen = 7, blen = 9;
	int ra, rb;

	ck_assert_uint_le(cap, sizeof(a));
	memset(a, 0xa5, sizeof(a));
	memset(b, 0x5a, sizeof(b));
	ra = iris__wire_encode(m, a, cap, &alen);
	rb = iris__wire_encode_pb(m, b, cap, &blen);
	ck_assert_msg(ra == rb, "round %llu body %u room %zu: hot %d, nanopb "
	    "%d", (unsigned long long)round, m->f.which_body, cap, ra, rb);
	if (ra != IRIS_OK)
		return;
	ck_assert_msg(alen == blen && memcmp(a, b, alen) == 0, "round %llu "
	    "body %u: hot wrote %zu bytes, nanopb %zu, or they differ",
	    (unsigned long long)round, m->f.which_body, alen, blen);
}

START_TEST(test_wire_hot_matches_nanopb)
{
	static uint8_t buf[16384];
	struct iris_wire_limits lim;
	struct iris_wire_msg m, d;
	uint64_t r;
	size_t hs, ps, len, cap;
	pb_size_t which;
	int rh, rp;

	seed_rng("encode");
	iris__wire_limits_max(&lim);
	iris__wire_msg_init(&m);
	iris__wire_msg_init(&d);
	for (r = 0; r < ROUNDS; r++) {
		which = hot_bodies[below(sizeof(hot_bodies) /
		    sizeof(hot_bodies[0]))];
		frame(&m, which);
		rh = iris__wire_size(&m, &hs);
		rp = iris__wire_size_pb(&m, &ps);
		ck_assert_int_eq(rh, IRIS_OK);
		ck_assert_int_eq(rp, IRIS_OK);
		ck_assert_uint_eq(hs, ps);
		ck_assert_uint_le(hs, sizeof(buf));
		/* Enough room, exactly enough, and every kind of too little. */
		same(&m, sizeof(buf), r);
		same(&m, hs, r);
		same(&m, hs - 1, r);
		same(&m, below(hs), r);
		for (cap = 0; cap < 8 && cap < hs; cap++)
			same(&m, cap, r);
		/* What it wrote is the frame. */
		ck_assert_int_eq(iris__wire_encode(&m, buf, sizeof(buf), &len),
		    IRIS_OK);
		ck_assert_uint_eq(len, hs);
		ck_assert_int_eq(iris__wire_decode(&d, buf + IRIS_FRAME_HEADER,
		    len - IRIS_FRAME_HEADER, &lim), IRIS_OK);
		ck_assert_uint_eq(d.f.which_body, which);
		ck_assert_uint_eq(d.f.request_id, m.f.request_id);
		ck_assert_mem_eq(d.f.trace_id, m.f.trace_id, 16);
		if (which == iris_v1_Frame_deliver_tag) {
			ck_assert_uint_eq(d.f.body.deliver.seq,
			    m.f.body.deliver.seq);
			ck_assert_uint_eq(d.envelope.len, m.envelope.len);
		} else if (which == iris_v1_Frame_send_tag)
			ck_assert_uint_eq(d.nenvs, m.nenvs);
		else if (which == iris_v1_Frame_sync_page_tag)
			ck_assert_uint_eq(d.nitems, m.nitems);
		iris__wire_msg_reset(&d);
		iris__wire_msg_reset(&m);
	}
}
END_TEST

/* The two decodes of one frame: the same outcome, the same fields. */
static void
same_decode(const uint8_t *p, size_t n, const struct iris_wire_limits *lim,
    uint64_t round)
{
	static struct iris_wire_msg a, b;
	const iris_v1_Frame *fa = &a.f, *fb = &b.f;
	size_t i;
	int ra, rb;

	ra = iris__wire_decode(&a, p, n, lim);
	rb = iris__wire_decode_pb(&b, p, n, lim);
	ck_assert_msg(ra == rb && a.wire_err == b.wire_err, "round %llu, %zu "
	    "bytes: decoded %d (%d), nanopb %d (%d)",
	    (unsigned long long)round, n, ra, a.wire_err, rb, b.wire_err);
	if (ra != IRIS_OK)
		goto out;
	ck_assert_uint_eq(fa->request_id, fb->request_id);
	ck_assert_mem_eq(fa->trace_id, fb->trace_id, 16);
	ck_assert_uint_eq(fa->which_body, fb->which_body);
	switch (fa->which_body) {
	case iris_v1_Frame_send_tag:
		ck_assert_mem_eq(fa->body.send.client_msg_id,
		    fb->body.send.client_msg_id, 16);
		ck_assert_int_eq(fa->body.send.class, fb->body.send.class);
		ck_assert_int_eq(fa->body.send.transient,
		    fb->body.send.transient);
		ck_assert_uint_eq(a.nenvs, b.nenvs);
		for (i = 0; i < a.nenvs; i++) {
			ck_assert_uint_eq(a.envs[i].user.size,
			    b.envs[i].user.size);
			ck_assert_mem_eq(a.envs[i].user.bytes,
			    b.envs[i].user.bytes, a.envs[i].user.size);
			ck_assert_uint_eq(a.envs[i].device, b.envs[i].device);
			ck_assert_uint_eq(a.envs[i].payload.len,
			    b.envs[i].payload.len);
			ck_assert(a.envs[i].payload.len == 0 || memcmp(
			    a.envs[i].payload.ptr, b.envs[i].payload.ptr,
			    a.envs[i].payload.len) == 0);
		}
		break;
	case iris_v1_Frame_ack_tag:
		ck_assert_uint_eq(fa->body.ack.seq, fb->body.ack.seq);
		break;
	case iris_v1_Frame_send_ack_tag:
		ck_assert_mem_eq(&fa->body.send_ack, &fb->body.send_ack,
		    sizeof(fa->body.send_ack));
		break;
	case iris_v1_Frame_deliver_tag: {
		iris_v1_Deliver da = fa->body.deliver, db = fb->body.deliver;

		/* The callback field is nanopb's bookkeeping, not data. */
		memset(&da.envelope, 0, sizeof(da.envelope));
		memset(&db.envelope, 0, sizeof(db.envelope));
		ck_assert_mem_eq(&da, &db, sizeof(da));
		ck_assert_uint_eq(a.envelope.len, b.envelope.len);
		ck_assert(a.envelope.len == 0 || memcmp(a.envelope.ptr,
		    b.envelope.ptr, a.envelope.len) == 0);
		break;
	}
	default:
		break;		/* nanopb decoded both */
	}
out:
	iris__wire_msg_reset(&a);
	iris__wire_msg_reset(&b);
}

/* One random change to a frame's payload (n bytes, room for 8 more). */
static size_t
mutate(uint8_t *p, size_t n)
{
	size_t at = below(n + 1), k;

	switch (below(5)) {
	case 0:				/* a byte changed */
		if (n > 0)
			p[below(n)] = (uint8_t)rnd();
		return n;
	case 1:				/* a bit flipped */
		if (n > 0)
			p[below(n)] ^= (uint8_t)(1u << below(8));
		return n;
	case 2:				/* cut short */
		return below(n + 1);
	case 3:				/* a byte inserted */
		memmove(p + at + 1, p + at, n - at);
		p[at] = (uint8_t)rnd();
		return n + 1;
	default:			/* a few bytes doubled */
		k = 1 + below(8);
		if (at + k > n)
			return n;
		memmove(p + at + k, p + at, n - at);
		return n + k;
	}
}

START_TEST(test_wire_hot_decode_matches_nanopb)
{
	static uint8_t buf[16384], mut[16384 + 64];
	struct iris_wire_limits loose, tight;
	struct iris_wire_msg m;
	uint64_t r, taken = 0;
	size_t len, n;
	pb_size_t which;
	int k, hot;

	seed_rng("decode");
	iris__wire_limits_max(&loose);
	iris__wire_limits_default(&tight);
	tight.max_envelope = 300;
	tight.max_envelopes = 2;
	tight.max_sync_items = 3;
	iris__wire_msg_init(&m);
	for (r = 0; r < ROUNDS; r++) {
		which = hot_bodies[below(sizeof(hot_bodies) /
		    sizeof(hot_bodies[0]))];
		frame(&m, which);
		ck_assert_int_eq(iris__wire_encode(&m, buf, sizeof(buf), &len),
		    IRIS_OK);
		/* What an encoder writes the hot decoder takes itself. */
		hot = m.f.which_body != iris_v1_Frame_sync_page_tag &&
		    m.f.which_body != iris_v1_Frame_done_tag &&
		    !(m.f.which_body == iris_v1_Frame_deliver_tag &&
		    m.f.body.deliver.has_receipt);
		iris__wire_msg_reset(&m);
		m.lim = &loose;
		k = iris__wire_hot_decode(&m, buf + IRIS_FRAME_HEADER,
		    len - IRIS_FRAME_HEADER);
		ck_assert_msg(k == (hot ? IRIS_OK : IRIS__WIRE_NOT_HOT),
		    "round %llu: body %u %s by the hot decoder",
		    (unsigned long long)r, which, k == IRIS_OK ? "taken" :
		    "declined");
		taken += hot;
		iris__wire_msg_reset(&m);
		same_decode(buf + IRIS_FRAME_HEADER, len - IRIS_FRAME_HEADER,
		    &loose, r);
		same_decode(buf + IRIS_FRAME_HEADER, len - IRIS_FRAME_HEADER,
		    &tight, r);
		for (k = 0; k < 8; k++) {
			n = len - IRIS_FRAME_HEADER;
			memcpy(mut, buf + IRIS_FRAME_HEADER, n);
			n = mutate(mut, n);
			if (below(2) == 0)
				n = mutate(mut, n);
			same_decode(mut, n, below(2) == 0 ? &loose : &tight, r);
		}
	}
	ck_assert_uint_gt(taken, ROUNDS / 3);
}
END_TEST

/* A bytes field past its bound: EINVAL from both, whatever the room. */
START_TEST(test_wire_hot_bound_refused)
{
	struct iris_wire_msg m;
	size_t n, cap;
	int round;

	rng = 0x9e3779b97f4a7c15ULL;
	fill(pool, sizeof(pool));
	iris__wire_msg_init(&m);
	for (round = 0; round < 5; round++) {
		switch (round) {
		case 0:
			frame(&m, iris_v1_Frame_deliver_tag);
			m.f.body.deliver.sender_user.size = 65;
			break;
		case 1:
			frame(&m, iris_v1_Frame_deliver_tag);
			m.f.body.deliver.has_receipt = true;
			m.f.body.deliver.receipt.user.size = 65;
			break;
		case 2:
			frame(&m, iris_v1_Frame_send_tag);
			m.nenvs = 2;
			m.envs[1].user.size = 200;
			break;
		case 3:
			frame(&m, iris_v1_Frame_sync_page_tag);
			m.nitems = 3;
			m.items[2].pb.sender_user.size = 65;
			break;
		default:
			frame(&m, iris_v1_Frame_sync_page_tag);
			m.nitems = 1;
			m.items[0].pb.has_receipt = true;
			m.items[0].pb.receipt.user.size = 64000;
			break;
		}
		ck_assert_int_eq(iris__wire_size(&m, &n), IRIS_EINVAL);
		ck_assert_int_eq(iris__wire_size_pb(&m, &n), IRIS_EINVAL);
		for (cap = 0; cap < 64; cap++)
			same(&m, cap, (uint64_t)round);
		same(&m, 16384, (uint64_t)round);
		iris__wire_msg_reset(&m);
	}
}
END_TEST

Suite *
suite_wire_hot(void)
{
	Suite *s = suite_create("wire_hot");
	TCase *tc = tcase_create("encode");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_wire_hot_matches_nanopb);
	tcase_add_test(tc, test_wire_hot_bound_refused);
	tcase_add_test(tc, test_wire_hot_decode_matches_nanopb);
	suite_add_tcase(s, tc);
	return s;
}

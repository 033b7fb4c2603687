/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the in-process bus: nothing runs inside the call that
 * caused it, answers and pushes reach the edge in the order the core made
 * them, the queue to the core is bounded (but never refuses a connection's
 * coming and going), and freeing it, also from inside a callback, drops
 * what is queued without calling back.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "bus/bus.h"
#include "loop.h"
#include "suites.h"
#include "util/alloc.h"

struct fx {
	struct iris_bus		*bus;
	int			 handled;	/* requests the core saw */
	int			 answered;	/* callbacks at the edge */
	int			 pushes;
	int			 in_call;	/* inside a bus call now */
	int			 reentered;	/* a callback inside one */
	uint64_t		 order[64];	/* rid or 1000 + seq, as seen */
	int			 norder;
	int			 push_on_handle;
	int			 free_in_cb;
};

static void
core_handle(struct iris_bus_req *r, void *arg)
{
	struct fx *f = arg;
	struct iris_bus_push *p;

	f->handled++;
	f->reentered |= f->in_call;
	r->rep.seq = r->rid * 10;
	f->in_call = 1;
	iris__bus_reply(r);
	if (f->push_on_handle) {
		p = iris__calloc(1, sizeof(*p));
		p->kind = IRIS_PUSH_DOORBELL;
		p->seq = r->rid;
		p->frame = iris__malloc(8);
		p->len = 8;
		iris__bus_push(f->bus, p);
	}
	f->in_call = 0;
}

static void
edge_push(const struct iris_bus_push *p, void *arg)
{
	struct fx *f = arg;

	f->pushes++;
	f->reentered |= f->in_call;
	if (f->norder < 64)
		f->order[f->norder++] = 1000 + p->seq;
}

static void
answered(struct iris_bus_req *r, void *arg)
{
	struct fx *f = arg;

	f->answered++;
	f->reentered |= f->in_call;
	ck_assert_uint_eq(r->rep.seq, r->rid * 10);
	if (f->norder < 64)
		f->order[f->norder++] = r->rid;
	if (f->free_in_cb) {
		iris__bus_free(f->bus);
		f->bus = NULL;
	}
}

static void
setup(struct fx *f, struct event_base *base, size_t cap)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(iris__bus_new(&f->bus, base, cap), IRIS_OK);
	iris__bus_set_core(f->bus, core_handle, f);
	iris__bus_set_edge(f->bus, edge_push, f);
}

static int
request(struct fx *f, enum iris_bus_op op, uint64_t rid)
{
	struct iris_bus_req *r = iris__bus_req_new(f->bus, op, NULL, rid);
	int rc;

	ck_assert_ptr_nonnull(r);
	f->in_call = 1;
	rc = iris__bus_request(r, answered, f);
	f->in_call = 0;
	return rc;
}

static int
answered_n(void *arg)
{
	struct fx *f = arg;

	return f->answered >= 8 && f->pushes >= 8;
}

START_TEST(test_bus_later_and_in_order)
{
	struct event_base *base = event_base_new();
	struct fx f;
	uint64_t i;

	ck_assert_int_ge(sodium_init(), 0);
	setup(&f, base, 64);
	f.push_on_handle = 1;
	for (i = 1; i <= 8; i++)
		ck_assert_int_eq(request(&f, IRIS_BUS_ACK, i), IRIS_OK);
	/* Nothing ran inside the calls. */
	ck_assert_int_eq(f.handled, 0);
	ck_assert_uint_eq(iris__bus_queued(f.bus), 8);
	ck_assert(run_until(base, answered_n, &f, 2000));
	ck_assert_int_eq(f.handled, 8);
	ck_assert_int_eq(f.pushes, 8);
	ck_assert_int_eq(f.reentered, 0);
	/* Each answer before the push the core made after it. */
	for (i = 0; i < 8; i++) {
		ck_assert_uint_eq(f.order[2 * i], i + 1);
		ck_assert_uint_eq(f.order[2 * i + 1], 1000 + i + 1);
	}
	ck_assert_uint_eq(iris__bus_queued(f.bus), 0);
	iris__bus_free(f.bus);
	event_base_free(base);
}
END_TEST

START_TEST(test_bus_bounded)
{
	struct event_base *base = event_base_new();
	struct fx f;
	uint64_t i;

	ck_assert_int_ge(sodium_init(), 0);
	setup(&f, base, 4);
	for (i = 1; i <= 4; i++)
		ck_assert_int_eq(request(&f, IRIS_BUS_SEND, i), IRIS_OK);
	ck_assert_int_eq(request(&f, IRIS_BUS_SEND, 5), IRIS_EAGAIN);
	/* A connection's coming and going is never refused. */
	ck_assert_int_eq(request(&f, IRIS_BUS_ONLINE, 6), IRIS_OK);
	ck_assert_int_eq(request(&f, IRIS_BUS_OFFLINE, 7), IRIS_OK);
	/* Freed with all of it queued: no callback, nothing leaks. */
	iris__bus_free(f.bus);
	ck_assert_int_eq(f.handled + f.answered, 0);
	event_base_free(base);
}
END_TEST

static int
first_answer(void *arg)
{
	return ((struct fx *)arg)->answered > 0;
}

START_TEST(test_bus_free_in_callback)
{
	struct event_base *base = event_base_new();
	struct fx f;
	uint64_t i;

	ck_assert_int_ge(sodium_init(), 0);
	setup(&f, base, 64);
	f.free_in_cb = 1;
	for (i = 1; i <= 5; i++)
		ck_assert_int_eq(request(&f, IRIS_BUS_ACK, i), IRIS_OK);
	ck_assert(run_until(base, first_answer, &f, 2000));
	/* Freed in the first answer: the rest are dropped, not delivered. */
	ck_assert_ptr_null(f.bus);
	ck_assert_int_eq(f.answered, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(f.answered, 1);
	event_base_free(base);
}
END_TEST

START_TEST(test_bus_hash_keyed)
{
	struct event_base *base = event_base_new();
	struct iris_bus *a, *b;

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_int_eq(iris__bus_new(&a, base, 4), IRIS_OK);
	ck_assert_int_eq(iris__bus_new(&b, base, 4), IRIS_OK);
	ck_assert_uint_eq(iris__bus_hash(a, "alice", 1),
	    iris__bus_hash(a, "alice", 1));
	ck_assert_uint_ne(iris__bus_hash(a, "alice", 1),
	    iris__bus_hash(a, "alice", 2));
	/* Another bus, another key: peers cannot aim at collisions. */
	ck_assert_uint_ne(iris__bus_hash(a, "alice", 1),
	    iris__bus_hash(b, "alice", 1));
	iris__bus_free(a);
	iris__bus_free(b);
	event_base_free(base);
}
END_TEST

Suite *
suite_bus(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("local");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_bus_later_and_in_order);
	tcase_add_test(tc, test_bus_bounded);
	tcase_add_test(tc, test_bus_free_in_callback);
	tcase_add_test(tc, test_bus_hash_keyed);
	suite_add_tcase(s, tc);
	return s;
}

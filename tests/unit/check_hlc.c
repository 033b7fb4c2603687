/* SPDX-License-Identifier: ISC */
/* Unit tests for the hybrid logical clock behind server message ids. */
#include <stdint.h>
#include <time.h>

#include "iris.h"
#include "suites.h"
#include "util/hlc.h"

#define MILLION		1000000
#define T0		UINT64_C(1700000000000)	/* a 2023 unix time in ms */

static uint64_t
fake_ms(void *arg)
{
	return *(const uint64_t *)arg;
}

START_TEST(test_layout)
{
	uint64_t id = (T0 << 16) | (UINT64_C(0x12) << 8) | 0x34;

	ck_assert_uint_eq(iris__hlc_ms(id), T0);
	ck_assert_uint_eq(iris__hlc_counter(id), 0x12);
	ck_assert_uint_eq(iris__hlc_node(id), 0x34);
}
END_TEST

START_TEST(test_first_id_is_wall_clock)
{
	struct iris_hlc h;
	uint64_t now = T0, id;

	iris__hlc_init(&h, 7, fake_ms, &now);
	id = iris__hlc_next(&h);
	ck_assert_uint_eq(id, (T0 << 16) | 7);
	now += 5;
	id = iris__hlc_next(&h);
	ck_assert_uint_eq(iris__hlc_ms(id), T0 + 5);
	ck_assert_uint_eq(iris__hlc_counter(id), 0);
	ck_assert_uint_eq(iris__hlc_node(id), 7);
}
END_TEST

START_TEST(test_clock_steps_back)
{
	struct iris_hlc h;
	uint64_t now = T0, id, prev = 0, before_step = 0;
	int i;

	iris__hlc_init(&h, 0xa5, fake_ms, &now);
	for (i = 0; i < MILLION; i++) {
		if (i % 37 == 0)
			now++;
		if (i == MILLION / 2) {
			before_step = prev;
			now -= 30000;
		}
		id = iris__hlc_next(&h);
		ck_assert_uint_gt(id, prev);
		ck_assert_uint_eq(iris__hlc_node(id), 0xa5);
		prev = id;
	}
	/* After the step, ids count on from the old time, not the new one. */
	ck_assert_uint_ge(iris__hlc_ms(prev), iris__hlc_ms(before_step));
	ck_assert_uint_gt(iris__hlc_ms(before_step), now);
}
END_TEST

START_TEST(test_frozen_clock)
{
	struct iris_hlc h;
	uint64_t now = T0, first, id, prev;
	int i;

	iris__hlc_init(&h, 3, fake_ms, &now);
	first = prev = iris__hlc_next(&h);
	for (i = 1; i < MILLION; i++) {
		id = iris__hlc_next(&h);
		ck_assert_uint_gt(id, prev);
		/* Exactly one counter step each time, carrying into the ms. */
		ck_assert_uint_eq(id, first + (uint64_t)i * 256);
		ck_assert_uint_eq(iris__hlc_node(id), 3);
		prev = id;
	}
	/* Logical time ran ahead of the wall clock by 1M / 256 ms. */
	ck_assert_uint_eq(iris__hlc_ms(prev), T0 + (MILLION - 1) / 256);
	ck_assert_uint_eq(iris__hlc_counter(prev), (MILLION - 1) % 256);
	ck_assert_uint_gt(iris__hlc_ms(prev), now);

	/* Once the wall clock passes logical time, ids follow it again. */
	now = iris__hlc_ms(prev);
	id = iris__hlc_next(&h);
	ck_assert_uint_gt(id, prev);
	ck_assert_uint_eq(iris__hlc_ms(id), now);
	now++;
	id = iris__hlc_next(&h);
	ck_assert_uint_eq(id, (now << 16) | 3);
}
END_TEST

START_TEST(test_observe)
{
	struct iris_hlc h;
	uint64_t now = T0, remote, id;

	iris__hlc_init(&h, 1, fake_ms, &now);
	id = iris__hlc_next(&h);

	/* A peer 1 s ahead is within a 5 s drift: ids now sort after it. */
	remote = ((T0 + 1000) << 16) | (UINT64_C(9) << 8) | 200;
	ck_assert_int_eq(iris__hlc_observe(&h, remote, 5000), IRIS_OK);
	id = iris__hlc_next(&h);
	ck_assert_uint_gt(id, remote);
	ck_assert_uint_eq(iris__hlc_node(id), 1);
	ck_assert_uint_eq(iris__hlc_ms(id), T0 + 1000);
	ck_assert_uint_eq(iris__hlc_counter(id), 10);

	/* A peer 10 s ahead is refused and changes nothing. */
	remote = (T0 + 10000) << 16;
	ck_assert_int_eq(iris__hlc_observe(&h, remote, 5000), IRIS_EINVAL);
	ck_assert_uint_lt(iris__hlc_next(&h), remote);

	/* An old id changes nothing either. */
	remote = (T0 - 60000) << 16;
	ck_assert_int_eq(iris__hlc_observe(&h, remote, 5000), IRIS_OK);
	id = iris__hlc_next(&h);
	ck_assert_uint_eq(iris__hlc_ms(id), T0 + 1000);

	/* A huge drift allowance does not overflow. */
	remote = ((T0 + 2000) << 16) | 0xffff;
	ck_assert_int_eq(iris__hlc_observe(&h, remote, UINT64_MAX), IRIS_OK);
	id = iris__hlc_next(&h);
	ck_assert_uint_gt(id, remote);
	ck_assert_uint_eq(iris__hlc_ms(id), T0 + 2001);
	ck_assert_uint_eq(iris__hlc_counter(id), 0);
}
END_TEST

START_TEST(test_real_clock)
{
	struct iris_hlc h;
	uint64_t id, wall;

	iris__hlc_init(&h, 42, NULL, NULL);
	id = iris__hlc_next(&h);
	wall = (uint64_t)time(NULL) * 1000;
	ck_assert_uint_ge(iris__hlc_ms(id) + 5000, wall);
	ck_assert_uint_le(iris__hlc_ms(id), wall + 5000);
	ck_assert_uint_eq(iris__hlc_node(id), 42);
	ck_assert_uint_gt(iris__hlc_next(&h), id);
}
END_TEST

Suite *
suite_hlc(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("hlc");
	tc = tcase_create("hlc");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_first_id_is_wall_clock);
	tcase_add_test(tc, test_clock_steps_back);
	tcase_add_test(tc, test_frozen_clock);
	tcase_add_test(tc, test_observe);
	tcase_add_test(tc, test_real_clock);
	suite_add_tcase(s, tc);
	return s;
}

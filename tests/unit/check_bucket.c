/* SPDX-License-Identifier: ISC */
/* Unit tests for the token bucket rate limiter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "iris.h"
#include "suites.h"
#include "util/bucket.h"

#define MS	UINT64_C(1000)		/* in µs */
#define SEC	UINT64_C(1000000)
#define T0	(UINT64_C(1000) * SEC)	/* any monotonic start */

/* Takes one token at a time until refused; returns how many were taken. */
static unsigned
drain(struct iris_bucket *b, uint64_t now, uint32_t *retry)
{
	unsigned n = 0;

	while (iris__bucket_take(b, now, 1, retry))
		n++;
	return n;
}

START_TEST(test_burst_then_refusal)
{
	struct iris_bucket b;
	uint32_t retry = 0;

	iris__bucket_init(&b, 5, 20, T0);
	ck_assert_uint_eq(drain(&b, T0, &retry), 20);
	/* 5 per second: the next token is 200 ms away. */
	ck_assert_uint_eq(retry, 200);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 199 * MS, 1, &retry), 0);
	ck_assert_uint_eq(retry, 1);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 199 * MS + 1, 1, &retry),
	    0);
	ck_assert_uint_eq(retry, 1);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 200 * MS, 1, &retry), 1);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 200 * MS, 1, NULL), 0);
}
END_TEST

START_TEST(test_refill)
{
	struct iris_bucket b;
	uint32_t retry;
	uint64_t now = T0;

	iris__bucket_init(&b, 5, 20, now);
	drain(&b, now, &retry);
	now += SEC;
	ck_assert_uint_eq(drain(&b, now, &retry), 5);
	now += SEC / 2;
	ck_assert_uint_eq(drain(&b, now, &retry), 2);
	/* Half a token was left over: 100 ms to the next one. */
	ck_assert_uint_eq(retry, 100);
	/* An hour refills to the burst, not beyond. */
	now += 3600 * SEC;
	ck_assert_uint_eq(drain(&b, now, &retry), 20);
}
END_TEST

START_TEST(test_take_many)
{
	struct iris_bucket b;
	uint32_t retry;

	iris__bucket_init(&b, 3, 10, T0);
	ck_assert_int_eq(iris__bucket_take(&b, T0, 8, &retry), 1);
	/* 2 left, 3 asked: one token at 3/s is 333 333.3 µs, so 334 ms. */
	ck_assert_int_eq(iris__bucket_take(&b, T0, 3, &retry), 0);
	ck_assert_uint_eq(retry, 334);
	ck_assert_int_eq(iris__bucket_take(&b, T0, 2, &retry), 1);
	/* More than the burst can never be taken; nothing is consumed. */
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 3600 * SEC, 11, &retry),
	    0);
	ck_assert_uint_eq(retry, UINT32_MAX);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 3600 * SEC, 10, &retry),
	    1);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 3600 * SEC, 0, &retry),
	    1);
}
END_TEST

START_TEST(test_retry_at_least_one_ms)
{
	struct iris_bucket b;
	uint32_t retry = 0;

	iris__bucket_init(&b, 1000000, 1, T0);
	ck_assert_int_eq(iris__bucket_take(&b, T0, 1, &retry), 1);
	ck_assert_int_eq(iris__bucket_take(&b, T0, 1, &retry), 0);
	ck_assert_uint_eq(retry, 1);
	ck_assert_int_eq(iris__bucket_take(&b, T0 + 1, 1, &retry), 1);
}
END_TEST

START_TEST(test_time_backwards)
{
	struct iris_bucket b;
	uint32_t retry;
	uint64_t now = 10 * SEC;

	iris__bucket_init(&b, 5, 20, now);
	drain(&b, now, &retry);
	/* Back 5 s: nothing is refilled. */
	now -= 5 * SEC;
	ck_assert_int_eq(iris__bucket_take(&b, now, 1, &retry), 0);
	ck_assert_uint_eq(retry, 200);
	/* Time moving on from there refills at the normal pace. */
	now += 200 * MS;
	ck_assert_uint_eq(drain(&b, now, &retry), 1);
	now += 400 * MS;
	ck_assert_uint_eq(drain(&b, now, &retry), 2);
}
END_TEST

START_TEST(test_huge_gap)
{
	struct iris_bucket b;
	uint32_t retry;

	iris__bucket_init(&b, 1000000, 1000000, 0);
	ck_assert_int_eq(iris__bucket_take(&b, 0, 1000000, &retry), 1);
	ck_assert_int_eq(iris__bucket_take(&b, UINT64_MAX, 1000000, &retry),
	    1);
	ck_assert_int_eq(iris__bucket_take(&b, UINT64_MAX, 1, &retry), 0);

	iris__bucket_init(&b, UINT32_MAX, UINT32_MAX, 0);
	ck_assert_int_eq(iris__bucket_take(&b, 0, UINT32_MAX, &retry), 1);
	ck_assert_int_eq(iris__bucket_take(&b, UINT64_MAX / 2, UINT32_MAX,
	    &retry), 1);
	ck_assert_int_eq(iris__bucket_take(&b, UINT64_MAX / 2, 1, &retry), 0);
	ck_assert_uint_eq(retry, 1);
}
END_TEST

START_TEST(test_zero_rate)
{
	struct iris_bucket b;
	uint32_t retry;

	iris__bucket_init(&b, 0, 2, T0);
	ck_assert_uint_eq(drain(&b, T0 + 3600 * SEC, &retry), 2);
	ck_assert_uint_eq(retry, UINT32_MAX);
	ck_assert_uint_eq(drain(&b, T0 + 7200 * SEC, &retry), 0);
}
END_TEST

/* xorshift64*, seeded and printed so that a failure can be replayed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

START_TEST(test_random_never_exceeds_rate)
{
	struct iris_bucket b, copy;
	uint64_t seed, s, now = T0, taken = 0;
	uint32_t rate, burst, n, retry;
	const char *env;
	int i, ok;

	env = getenv("IRIS_TEST_SEED");
	seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	fprintf(stderr, "check_bucket: IRIS_TEST_SEED=%llu\n",
	    (unsigned long long)seed);
	s = seed | 1;
	rate = 1 + (uint32_t)(rnd(&s) % 1000);
	burst = 1 + (uint32_t)(rnd(&s) % 100);
	iris__bucket_init(&b, rate, burst, now);
	for (i = 0; i < 200000; i++) {
		now += rnd(&s) % (2 * MS);
		n = 1 + (uint32_t)(rnd(&s) % 3);
		ok = iris__bucket_take(&b, now, n, &retry);
		if (ok)
			taken += n;
		else if (n <= burst) {
			ck_assert_uint_ge(retry, 1);
			/* Waiting the advised time is always enough. */
			copy = b;
			ck_assert_int_eq(iris__bucket_take(&copy,
			    now + retry * MS, n, NULL), 1);
		}
		/* Never more than the burst plus the rate times the time. */
		ck_assert_uint_le(taken, burst + (now - T0) * rate / SEC);
	}
}
END_TEST

Suite *
suite_bucket(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("bucket");
	tc = tcase_create("bucket");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_burst_then_refusal);
	tcase_add_test(tc, test_refill);
	tcase_add_test(tc, test_take_many);
	tcase_add_test(tc, test_retry_at_least_one_ms);
	tcase_add_test(tc, test_time_backwards);
	tcase_add_test(tc, test_huge_gap);
	tcase_add_test(tc, test_zero_rate);
	tcase_add_test(tc, test_random_never_exceeds_rate);
	suite_add_tcase(s, tc);
	return s;
}

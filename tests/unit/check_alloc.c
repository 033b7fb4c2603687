/* SPDX-License-Identifier: ISC */
/* Unit tests for the allocation wrappers and their fail-the-Nth switch. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "iris.h"
#include "suites.h"
#include "util/alloc.h"

START_TEST(test_fail_nth_exactly)
{
	void *p[8];
	unsigned long nth;
	size_t i;

	for (nth = 1; nth <= 8; nth++) {
		iris__alloc_fail_after(nth);
		for (i = 0; i < 8; i++) {
			p[i] = iris__malloc(16);
			if (i + 1 == nth)
				ck_assert_ptr_null(p[i]);
			else
				ck_assert_ptr_nonnull(p[i]);
		}
		/* Failed attempts count too: 8 attempts, one failed. */
		ck_assert_uint_eq(iris__alloc_fail_after(0), 8);
		for (i = 0; i < 8; i++)
			iris__free(p[i]);
	}
}
END_TEST

START_TEST(test_counts_every_kind)
{
	void *a, *b, *c, *d, *e;

	iris__alloc_fail_after(0);
	a = iris__malloc(1);
	b = iris__calloc(2, 8);
	c = iris__realloc(NULL, 4);
	c = iris__realloc(c, 64);
	d = iris__strdup("iris");
	e = iris__memdup("abc", 3);
	iris__free(a);		/* frees are not counted */
	ck_assert_uint_eq(iris__alloc_fail_after(0), 6);
	ck_assert_uint_eq(iris__alloc_fail_after(0), 0);
	ck_assert_str_eq(d, "iris");
	ck_assert_mem_eq(e, "abc", 3);
	iris__free(b);
	iris__free(c);
	iris__free(d);
	iris__free(e);
}
END_TEST

START_TEST(test_each_kind_fails)
{
	void *p;

	iris__alloc_fail_after(0);
	p = iris__malloc(8);
	iris__alloc_fail_after(1);
	ck_assert_ptr_null(iris__malloc(8));
	iris__alloc_fail_after(1);
	ck_assert_ptr_null(iris__calloc(1, 8));
	iris__alloc_fail_after(1);
	ck_assert_ptr_null(iris__realloc(p, 80));
	iris__alloc_fail_after(1);
	ck_assert_ptr_null(iris__strdup("x"));
	iris__alloc_fail_after(1);
	ck_assert_ptr_null(iris__memdup("x", 1));
	/* The switch fires once: the next allocation works again. */
	iris__alloc_fail_after(1);
	ck_assert_ptr_null(iris__malloc(1));
	iris__free(p);
	p = iris__malloc(1);
	ck_assert_ptr_nonnull(p);
	iris__free(p);
	iris__alloc_fail_after(0);
}
END_TEST

START_TEST(test_zero_sizes)
{
	void *p[6];
	size_t i;

	iris__alloc_fail_after(0);
	p[0] = iris__malloc(0);
	p[1] = iris__calloc(0, 8);
	p[2] = iris__calloc(8, 0);
	p[3] = iris__realloc(NULL, 0);
	p[4] = iris__realloc(iris__malloc(32), 0);
	p[5] = iris__memdup(NULL, 0);
	for (i = 0; i < 6; i++) {
		ck_assert_ptr_nonnull(p[i]);
		iris__free(p[i]);
	}
	iris__free(NULL);
}
END_TEST

START_TEST(test_realloc_failure_keeps_block)
{
	unsigned char *p, *q;
	size_t i;

	p = iris__malloc(64);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 64; i++)
		p[i] = (unsigned char)i;
	iris__alloc_fail_after(1);
	q = iris__realloc(p, 1 << 20);
	ck_assert_ptr_null(q);
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(p[i], i);
	q = iris__realloc(p, 128);
	ck_assert_ptr_nonnull(q);
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(q[i], i);
	iris__free(q);
}
END_TEST

START_TEST(test_calloc_overflow)
{
	iris__alloc_fail_after(0);
	ck_assert_ptr_null(iris__calloc(SIZE_MAX / 2 + 1, 2));
	ck_assert_ptr_null(iris__calloc(2, SIZE_MAX / 2 + 1));
}
END_TEST

#define THREADS		4
#define PER_THREAD	10000

static void *
hammer(void *arg)
{
	unsigned long *failed = arg;
	void *p;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		if ((p = iris__malloc(8)) == NULL)
			(*failed)++;
		iris__free(p);
	}
	return NULL;
}

START_TEST(test_threads_fail_exactly_once)
{
	pthread_t t[THREADS];
	unsigned long failed[THREADS] = { 0 }, total = 0;
	int i;

	iris__alloc_fail_after(THREADS * PER_THREAD / 2);
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer,
		    &failed[i]), 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += failed[i];
	}
	ck_assert_uint_eq(total, 1);
	ck_assert_uint_eq(iris__alloc_fail_after(0), THREADS * PER_THREAD);
}
END_TEST

Suite *
suite_alloc(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("alloc");
	tc = tcase_create("alloc");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_fail_nth_exactly);
	tcase_add_test(tc, test_counts_every_kind);
	tcase_add_test(tc, test_each_kind_fails);
	tcase_add_test(tc, test_zero_sizes);
	tcase_add_test(tc, test_realloc_failure_keeps_block);
	tcase_add_test(tc, test_calloc_overflow);
	tcase_add_test(tc, test_threads_fail_exactly_once);
	suite_add_tcase(s, tc);
	return s;
}

/* SPDX-License-Identifier: ISC */
/* Unit tests for the intrusive hash map and the latency histograms. */
#include <stdint.h>
#include <stdlib.h>

#include "iris.h"
#include "suites.h"
#include "util/histo.h"
#include "util/hmap.h"

struct item {
	struct iris_hnode	 node;
	int			 key;
	int			 seen;
};

/* A poor hash on purpose: keys collide in groups of four. */
static uint64_t
h(int key)
{
	return (uint64_t)(key / 4);
}

static struct item *
find(struct iris_hmap *m, int key)
{
	struct iris_hnode *n;
	struct item *it;

	for (n = iris__hmap_find(m, h(key)); n != NULL; n = iris__hmap_next(n)) {
		it = IRIS__CONTAINER(n, struct item, node);
		if (it->key == key)
			return it;
	}
	return NULL;
}

START_TEST(test_hmap_put_find_del_grow)
{
	enum { N = 1000 };
	struct item *items = calloc(N, sizeof(*items));
	struct iris_hmap m;
	int i;

	iris__hmap_init(&m);
	ck_assert_ptr_null(iris__hmap_find(&m, 0));
	for (i = 0; i < N; i++) {
		items[i].key = i;
		ck_assert_int_eq(iris__hmap_put(&m, &items[i].node, h(i)),
		    IRIS_OK);
	}
	ck_assert_uint_eq(m.n, N);
	ck_assert_uint_ge(m.nb, N);	/* grew past its first 16 buckets */
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(find(&m, i), &items[i]);
	ck_assert_ptr_null(find(&m, N + 5));
	for (i = 0; i < N; i += 2)
		iris__hmap_del(&m, &items[i].node);
	ck_assert_uint_eq(m.n, N / 2);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(find(&m, i), i % 2 ? &items[i] : NULL);
	iris__hmap_free(&m);
	free(items);
}
END_TEST

START_TEST(test_hmap_each_deleting)
{
	enum { N = 300 };
	struct item items[N];
	struct iris_hnode *n, *it;
	struct iris_hmap m;
	size_t cur = 0;
	int i, visited = 0;

	iris__hmap_init(&m);
	for (i = 0; i < N; i++) {
		items[i].key = i;
		items[i].seen = 0;
		iris__hmap_put(&m, &items[i].node, h(i));
	}
	/* Each node once, and the one given may be deleted on the way. */
	while ((n = iris__hmap_each(&m, &cur, &it)) != NULL) {
		IRIS__CONTAINER(n, struct item, node)->seen++;
		iris__hmap_del(&m, n);
		visited++;
	}
	ck_assert_int_eq(visited, N);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(items[i].seen, 1);
	ck_assert_uint_eq(m.n, 0);
	iris__hmap_free(&m);
}
END_TEST

START_TEST(test_histo_quantiles)
{
	struct iris_histo hh = { { 0 }, 0, 0 };
	int i;

	ck_assert_uint_eq(iris__histo_quantile(&hh, 0.5), 0);
	for (i = 0; i < 90; i++)
		iris__histo_add(&hh, 80);	/* <= 100 µs */
	for (i = 0; i < 9; i++)
		iris__histo_add(&hh, 3000);	/* <= 5 ms */
	iris__histo_add(&hh, 60000000);		/* past the last bound */
	ck_assert_uint_eq(hh.count, 100);
	ck_assert_uint_eq(hh.sum_us, 90 * 80 + 9 * 3000 + 60000000);
	ck_assert_uint_eq(iris__histo_quantile(&hh, 0.5), 100);
	ck_assert_uint_eq(iris__histo_quantile(&hh, 0.95), 5000);
	ck_assert_uint_eq(iris__histo_quantile(&hh, 1.0), UINT64_MAX);
}
END_TEST

Suite *
suite_hmap(void)
{
	Suite *s = suite_create("hmap");
	TCase *tc = tcase_create("map");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_hmap_put_find_del_grow);
	tcase_add_test(tc, test_hmap_each_deleting);
	tcase_add_test(tc, test_histo_quantiles);
	suite_add_tcase(s, tc);
	return s;
}

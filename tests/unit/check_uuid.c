/* SPDX-License-Identifier: ISC */
/* Unit tests for UUIDv7 generation, checking and formatting. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "iris.h"
#include "suites.h"
#include "util/uuid.h"

#define T0	UINT64_C(1700000000000)	/* a 2023 unix time in ms */
#define COUNT	100000

static uint64_t
fake_ms(void *arg)
{
	return *(const uint64_t *)arg;
}

static uint64_t
id_ms(const uint8_t id[16])
{
	uint64_t ms = 0;
	int i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

static unsigned
id_seq(const uint8_t id[16])
{
	return (unsigned)(id[6] & 0x0f) << 8 | id[7];
}

START_TEST(test_layout)
{
	struct iris_uuidgen g;
	uint64_t now = T0;
	uint8_t id[16];
	int i;

	iris__uuidgen_init(&g, fake_ms, &now);
	for (i = 0; i < 1000; i++, now++) {
		ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
		ck_assert_int_eq(id[6] >> 4, 7);
		ck_assert_int_eq(id[8] >> 6, 2);
		ck_assert(iris__uuid_is_v7(id));
		ck_assert_uint_eq(id_ms(id), now);
		/* A new ms starts the sequence in its lower half. */
		ck_assert_uint_lt(id_seq(id), 0x800);
	}
}
END_TEST

START_TEST(test_is_v7)
{
	uint8_t id[16];

	memset(id, 0, sizeof(id));
	ck_assert(!iris__uuid_is_v7(id));
	id[6] = 0x70;
	id[8] = 0x80;
	ck_assert(iris__uuid_is_v7(id));
	id[6] = 0x40;			/* version 4 */
	ck_assert(!iris__uuid_is_v7(id));
	id[6] = 0x7f;
	id[8] = 0xc0;			/* Microsoft variant */
	ck_assert(!iris__uuid_is_v7(id));
	id[8] = 0xbf;
	ck_assert(iris__uuid_is_v7(id));
}
END_TEST

/*
 * Makes COUNT ids from a clock that stands still at *now, stepping back
 * 30 s at id number step_back_at (-1: never); every id must sort after
 * the one before. The last id is left in last.
 */
static void
run_increasing(uint64_t *now, int step_back_at, uint8_t last[16])
{
	struct iris_uuidgen g;
	uint8_t id[16];
	int i;

	iris__uuidgen_init(&g, fake_ms, now);
	ck_assert_int_eq(iris__uuid_v7(&g, last), IRIS_OK);
	for (i = 1; i < COUNT; i++) {
		if (i == step_back_at)
			*now -= 30000;
		ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
		ck_assert_msg(memcmp(last, id, 16) < 0, "id %d not above the"
		    " one before", i);
		ck_assert(iris__uuid_is_v7(id));
		memcpy(last, id, 16);
	}
}

START_TEST(test_frozen_clock)
{
	uint64_t now = T0;
	uint8_t last[16];

	run_increasing(&now, -1, last);
	/* 2048 to 4096 ids per ms: time is pushed past the frozen clock. */
	ck_assert_uint_ge(id_ms(last), T0 + COUNT / 4096);
	ck_assert_uint_le(id_ms(last), T0 + COUNT / 2048 + 1);
}
END_TEST

START_TEST(test_backward_clock)
{
	uint64_t now = T0;
	uint8_t last[16];

	run_increasing(&now, COUNT / 2, last);
	ck_assert_uint_eq(now, T0 - 30000);
	ck_assert_uint_gt(id_ms(last), T0);
}
END_TEST

START_TEST(test_sequence_overflow_advances_ms)
{
	struct iris_uuidgen g;
	uint64_t now = T0;
	uint8_t id[16];
	unsigned seq, n = 0;

	iris__uuidgen_init(&g, fake_ms, &now);
	ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
	seq = id_seq(id);
	while (id_ms(id) == T0) {
		ck_assert_uint_eq(id_seq(id), seq + n);
		ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
		n++;
	}
	ck_assert_uint_eq(seq + n, 0x1000);
	ck_assert_uint_eq(id_ms(id), T0 + 1);
	ck_assert_uint_lt(id_seq(id), 0x800);
	/* The real clock reaching the advanced ms does not go back. */
	now = T0 + 1;
	seq = id_seq(id);
	ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
	ck_assert_uint_eq(id_ms(id), T0 + 1);
	ck_assert_uint_eq(id_seq(id), seq + 1);
}
END_TEST

START_TEST(test_random_bits_vary)
{
	struct iris_uuidgen g;
	uint64_t now = T0;
	uint8_t a[16], b[16];
	int i, same = 0;

	iris__uuidgen_init(&g, fake_ms, &now);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(iris__uuid_v7(&g, a), IRIS_OK);
		ck_assert_int_eq(iris__uuid_v7(&g, b), IRIS_OK);
		if (memcmp(a + 9, b + 9, 7) == 0)
			same++;
	}
	ck_assert_int_eq(same, 0);
}
END_TEST

START_TEST(test_time_limit)
{
	struct iris_uuidgen g;
	uint64_t now = UINT64_C(1) << 48;
	uint8_t id[16];

	iris__uuidgen_init(&g, fake_ms, &now);
	ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_ELIMIT);
	ck_assert_uint_eq(g.last_ms, 0);
	now--;
	ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
	ck_assert_uint_eq(id_ms(id), now);
}
END_TEST

START_TEST(test_real_clock)
{
	struct iris_uuidgen g;
	uint8_t id[16];
	uint64_t wall;

	iris__uuidgen_init(&g, NULL, NULL);
	ck_assert_int_eq(iris__uuid_v7(&g, id), IRIS_OK);
	wall = (uint64_t)time(NULL) * 1000;
	ck_assert_uint_ge(id_ms(id) + 5000, wall);
	ck_assert_uint_le(id_ms(id), wall + 5000);
}
END_TEST

START_TEST(test_format)
{
	/* The example of RFC 9562 appendix A.6. */
	const uint8_t id[16] = {
		0x01, 0x7f, 0x22, 0xe2, 0x79, 0xb0, 0x7c, 0xc3,
		0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f,
	};
	char s[IRIS__UUID_STRLEN + 1];

	memset(s, 'z', sizeof(s));
	iris__uuid_format(s, id);
	ck_assert_str_eq(s, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
	ck_assert(iris__uuid_is_v7(id));
	ck_assert_uint_eq(id_ms(id), UINT64_C(0x017f22e279b0));
}
END_TEST

Suite *
suite_uuid(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("uuid");
	tc = tcase_create("uuid");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_is_v7);
	tcase_add_test(tc, test_frozen_clock);
	tcase_add_test(tc, test_backward_clock);
	tcase_add_test(tc, test_sequence_overflow_advances_ms);
	tcase_add_test(tc, test_random_bits_vary);
	tcase_add_test(tc, test_time_limit);
	tcase_add_test(tc, test_real_clock);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return s;
}

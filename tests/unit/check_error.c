/* SPDX-License-Identifier: ISC */
/* Unit tests for error texts, error names and the runtime version. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "suites.h"

static const struct {
	int		 code;
	const char	*name;
	const char	*msg;
} table[] = {
#define ROW(name, num, msg)	{ (num), #name, (msg) },
	IRIS_ERRNO_MAP(ROW)
#undef ROW
};

#define NCODES	(sizeof(table) / sizeof(table[0]))

START_TEST(test_every_code)
{
	size_t i, j;

	for (i = 0; i < NCODES; i++) {
		ck_assert_ptr_nonnull(iris_strerror(table[i].code));
		ck_assert_str_eq(iris_strerror(table[i].code), table[i].msg);
		ck_assert_str_eq(iris_errname(table[i].code), table[i].name);
		ck_assert_uint_gt(strlen(iris_strerror(table[i].code)), 0);
		ck_assert_str_ne(iris_strerror(table[i].code),
		    "unknown error");
		for (j = 0; j < i; j++) {
			ck_assert_str_ne(iris_strerror(table[i].code),
			    iris_strerror(table[j].code));
			ck_assert_str_ne(iris_errname(table[i].code),
			    iris_errname(table[j].code));
		}
	}
}
END_TEST

START_TEST(test_codes_dense_and_negative)
{
	size_t i;

	/* Append-only table: 0, -1, -2, ... with no gaps, LAST the lowest. */
	for (i = 0; i < NCODES; i++)
		ck_assert_int_eq(table[i].code, -(int)i);
	ck_assert_int_eq(IRIS_OK, 0);
	ck_assert_int_eq(IRIS__ERRNO_LAST, table[NCODES - 1].code);
	ck_assert_str_eq(iris_errname(IRIS_EAGAIN), "IRIS_EAGAIN");
	ck_assert_str_eq(iris_strerror(IRIS_ENOMEM), "out of memory");
}
END_TEST

START_TEST(test_unknown_code)
{
	const int unknown[] = {
		1, 42, IRIS__ERRNO_LAST - 1, -1000, INT_MIN, INT_MAX,
	};
	size_t i;

	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ck_assert_str_eq(iris_strerror(unknown[i]), "unknown error");
		ck_assert_str_eq(iris_errname(unknown[i]), "IRIS_E?");
	}
}
END_TEST

START_TEST(test_version)
{
	char want[32];
	unsigned v;

	v = iris_version_number();
	ck_assert_uint_eq(v, IRIS_VERSION_NUMBER);
	ck_assert_str_eq(iris_version_string(), IRIS_VERSION_STRING);
	snprintf(want, sizeof(want), "%u.%u.%u", v >> 16, (v >> 8) & 0xff,
	    v & 0xff);
	ck_assert_str_eq(iris_version_string(), want);
}
END_TEST

Suite *
suite_error(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("error");
	tc = tcase_create("error");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_every_code);
	tcase_add_test(tc, test_codes_dense_and_negative);
	tcase_add_test(tc, test_unknown_code);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);
	return s;
}

/* SPDX-License-Identifier: ISC */
/* Unit tests for the logging hook and the hex helper. */
#include <string.h>

#include "iris.h"
#include "suites.h"
#include "util/log.h"

struct capture {
	int	calls;
	int	level;
	char	msg[2 * IRIS__LOG_LINE_MAX];
	char	prev[2 * IRIS__LOG_LINE_MAX];	/* the line before msg */
};

static void
capture_cb(int level, const char *msg, void *arg)
{
	struct capture *c = arg;

	c->calls++;
	c->level = level;
	ck_assert_uint_lt(strlen(msg), sizeof(c->msg));
	memcpy(c->prev, c->msg, sizeof(c->prev));
	strcpy(c->msg, msg);
}

START_TEST(test_level_filter)
{
	struct capture c = { 0 };
	struct iris_logger lg = { capture_cb, &c, IRIS_LOG_INFO };

	iris__log(&lg, IRIS_LOG_DEBUG, "hidden %d", 1);
	ck_assert_int_eq(c.calls, 0);
	ck_assert(!iris__log_enabled(&lg, IRIS_LOG_DEBUG));
	ck_assert(iris__log_enabled(&lg, IRIS_LOG_INFO));
	iris__log(&lg, IRIS_LOG_INFO, "shown %d %s", 2, "x");
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.level, IRIS_LOG_INFO);
	ck_assert_str_eq(c.msg, "shown 2 x");
	iris__log(&lg, IRIS_LOG_ERR, "error");
	ck_assert_int_eq(c.calls, 2);
	ck_assert_int_eq(c.level, IRIS_LOG_ERR);
	lg.level = IRIS_LOG_ERR;
	iris__log(&lg, IRIS_LOG_WARNING, "warning");
	ck_assert_int_eq(c.calls, 2);
	lg.level = IRIS_LOG_DEBUG;
	iris__log(&lg, IRIS_LOG_DEBUG, "debug");
	ck_assert_int_eq(c.calls, 3);
	ck_assert_str_eq(c.msg, "debug");
}
END_TEST

START_TEST(test_no_callback)
{
	struct iris_logger lg = { NULL, NULL, IRIS_LOG_DEBUG };

	iris__log(&lg, IRIS_LOG_ERR, "nobody listens");
	iris__log(NULL, IRIS_LOG_ERR, "no logger");
	ck_assert(!iris__log_enabled(&lg, IRIS_LOG_ERR));
	ck_assert(!iris__log_enabled(NULL, IRIS_LOG_ERR));
}
END_TEST

START_TEST(test_one_line)
{
	struct capture c = { 0 };
	struct iris_logger lg = { capture_cb, &c, IRIS_LOG_DEBUG };

	iris__log(&lg, IRIS_LOG_INFO, "hello\n");
	ck_assert_str_eq(c.msg, "hello");
	iris__log(&lg, IRIS_LOG_INFO, "crlf\r\n\n");
	ck_assert_str_eq(c.msg, "crlf");
	iris__log(&lg, IRIS_LOG_INFO, "%s", "a\nforged line\tx\x7f");
	ck_assert_str_eq(c.msg, "a?forged line?x?");
	iris__log(&lg, IRIS_LOG_INFO, "\n");
	ck_assert_str_eq(c.msg, "");
	ck_assert_int_eq(c.calls, 4);
}
END_TEST

START_TEST(test_truncation)
{
	struct capture c = { 0 };
	struct iris_logger lg = { capture_cb, &c, IRIS_LOG_DEBUG };
	char big[2000];
	size_t n;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	iris__log(&lg, IRIS_LOG_INFO, "%s", big);
	n = strlen(c.msg);
	ck_assert_uint_eq(n, IRIS__LOG_LINE_MAX - 1);
	ck_assert_str_eq(c.msg + n - 3, "...");
	ck_assert_int_eq(c.msg[n - 4], 'x');

	/* A line that just fits is not marked. */
	big[IRIS__LOG_LINE_MAX - 1] = '\0';
	iris__log(&lg, IRIS_LOG_INFO, "%s", big);
	ck_assert_uint_eq(strlen(c.msg), IRIS__LOG_LINE_MAX - 1);
	ck_assert_int_eq(c.msg[IRIS__LOG_LINE_MAX - 2], 'x');

	/* A newline at the very end of a full line is still removed. */
	big[IRIS__LOG_LINE_MAX - 2] = '\n';
	iris__log(&lg, IRIS_LOG_INFO, "%s", big);
	ck_assert_uint_eq(strlen(c.msg), IRIS__LOG_LINE_MAX - 2);
}
END_TEST

/* Past the rate, lines are counted and the next one written says so. */
START_TEST(test_rate_limited)
{
	struct capture c = { 0 };
	struct iris_logger lg = { capture_cb, &c, IRIS_LOG_INFO };
	struct iris_lograte r;
	uint64_t now = 5000000;
	int i;

	iris__lograte_init(&r, 10, 5, now);
	for (i = 0; i < 1000; i++)
		iris__log_limited(&lg, &r, now, IRIS_LOG_INFO, "peer %d", i);
	ck_assert_int_eq(c.calls, 5);
	ck_assert_str_eq(c.msg, "peer 4");
	/* Filtered lines take no tokens and count nothing. */
	iris__log_limited(&lg, &r, now, IRIS_LOG_DEBUG, "debug");
	ck_assert_uint_eq(r.suppressed, 995);
	/* A tenth of a second later, one token: the count, then the line. */
	now += 100000;
	iris__log_limited(&lg, &r, now, IRIS_LOG_INFO, "peer %d", 1000);
	ck_assert_int_eq(c.calls, 7);
	ck_assert_str_eq(c.prev, "(995 similar lines left out: over the "
	    "log rate)");
	ck_assert_str_eq(c.msg, "peer 1000");
	ck_assert_uint_eq(r.suppressed, 0);
	iris__log_limited(&lg, &r, now, IRIS_LOG_INFO, "over");
	ck_assert_int_eq(c.calls, 7);
	ck_assert_uint_eq(r.suppressed, 1);
}
END_TEST

START_TEST(test_hex)
{
	const unsigned char id[] = { 0x00, 0x01, 0xab, 0xff, 0x7e };
	char out[16];

	iris__hex(out, sizeof(out), id, sizeof(id));
	ck_assert_str_eq(out, "0001abff7e");
	iris__hex(out, 6, id, sizeof(id));	/* room for two bytes */
	ck_assert_str_eq(out, "0001");
	iris__hex(out, 5, id, sizeof(id));
	ck_assert_str_eq(out, "0001");
	iris__hex(out, 1, id, sizeof(id));
	ck_assert_str_eq(out, "");
	out[0] = 'z';
	iris__hex(out, 0, id, sizeof(id));
	ck_assert_int_eq(out[0], 'z');
	iris__hex(out, sizeof(out), id, 0);
	ck_assert_str_eq(out, "");
}
END_TEST

Suite *
suite_log(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("log");
	tc = tcase_create("log");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_level_filter);
	tcase_add_test(tc, test_no_callback);
	tcase_add_test(tc, test_one_line);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_rate_limited);
	tcase_add_test(tc, test_hex);
	suite_add_tcase(s, tc);
	return s;
}

/* SPDX-License-Identifier: ISC */
/* Unit tests for the option table, the string setters and the file loader. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iris.h"
#include "suites.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/config_priv.h"

#define DUMP_MAX	(IRIS__OPT_COUNT * (IRIS__CONFIG_VALUE_MAX + 64))

static struct iris_config *
new_cfg(void)
{
	struct iris_config *cfg = NULL;

	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(iris_config_error(cfg), "");
	return cfg;
}

static void
expect_get(const struct iris_config *cfg, const char *key, const char *want)
{
	char buf[IRIS__CONFIG_LIST_MAX * 300];

	ck_assert_int_eq(iris_config_get(cfg, key, buf, sizeof(buf)), IRIS_OK);
	ck_assert_str_eq(buf, want);
}

/* Every option as "key=value\n", to show that a config did not change. */
static char *
dump(const struct iris_config *cfg)
{
	char *out, *p;
	size_t i, left = DUMP_MAX;
	int n;

	out = p = malloc(DUMP_MAX);
	ck_assert_ptr_nonnull(out);
	for (i = 0; iris_config_key(i) != NULL; i++) {
		n = snprintf(p, left, "%s=", iris_config_key(i));
		p += n;
		left -= (size_t)n;
		ck_assert_int_eq(iris_config_get(cfg, iris_config_key(i), p,
		    left), IRIS_OK);
		n = (int)strlen(p);
		p[n++] = '\n';
		p += n;
		left -= (size_t)n;
	}
	*p = '\0';
	return out;
}

/* set() must fail with code, an error naming the option, and no change. */
static void
expect_refused_rc(struct iris_config *cfg, const char *key,
    const char *value, int code)
{
	char *before, *after, prefix[128];

	before = dump(cfg);
	ck_assert_msg(iris_config_set(cfg, key, value) == code,
	    "%s %s: not refused with %s", key, value, iris_errname(code));
	snprintf(prefix, sizeof(prefix), "%s: ", key);
	ck_assert_msg(strncmp(iris_config_error(cfg), prefix,
	    strlen(prefix)) == 0, "%s %s: error \"%s\" does not name it", key,
	    value, iris_config_error(cfg));
	after = dump(cfg);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}

static void
expect_refused(struct iris_config *cfg, const char *key, const char *value)
{
	expect_refused_rc(cfg, key, value, IRIS_ECONFIG);
}

static void
expect_set(struct iris_config *cfg, const char *key, const char *value,
    const char *canonical)
{
	ck_assert_msg(iris_config_set(cfg, key, value) == IRIS_OK,
	    "%s %s: %s", key, value, iris_config_error(cfg));
	ck_assert_str_eq(iris_config_error(cfg), "");
	expect_get(cfg, key, canonical);
}

static void
expect_error(const struct iris_config *cfg, const char *want)
{
	ck_assert_str_eq(iris_config_error(cfg), want);
}

START_TEST(test_table_walk)
{
	const char *k, *p;
	size_t i, j;

	for (i = 0; (k = iris_config_key(i)) != NULL; i++) {
		ck_assert_uint_lt(i, IRIS__OPT_COUNT);
		ck_assert_uint_gt(strlen(k), 0);
		for (p = k; *p != '\0'; p++)
			ck_assert(islower((unsigned char)*p) ||
			    isdigit((unsigned char)*p) || *p == '_');
		ck_assert_ptr_nonnull(iris_config_default(i));
		ck_assert_ptr_nonnull(iris_config_describe(i));
		ck_assert_uint_gt(strlen(iris_config_describe(i)), 10);
		ck_assert_int_eq(iris__config_index(k), (int)i);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(k, iris_config_key(j));
	}
	ck_assert_uint_eq(i, IRIS__OPT_COUNT);
	ck_assert_uint_eq(iris__config_count(), IRIS__OPT_COUNT);
	ck_assert_ptr_null(iris_config_default(i));
	ck_assert_ptr_null(iris_config_describe(i));
	ck_assert_ptr_null(iris_config_key((size_t)-1));
	ck_assert_int_eq(iris__config_index("lisen"), -1);
	ck_assert_int_eq(iris__config_index(""), -1);
	ck_assert_str_eq(iris_config_key(IRIS__OPT_LISTEN), "listen");
	ck_assert_str_eq(iris_config_key(IRIS__OPT_INBOX_CAP), "inbox_cap");
}
END_TEST

START_TEST(test_defaults_round_trip)
{
	struct iris_config *cfg = new_cfg();
	char *before, *after;
	size_t i;

	for (i = 0; iris_config_key(i) != NULL; i++)
		expect_get(cfg, iris_config_key(i), iris_config_default(i));
	/* Setting each default explicitly changes nothing. */
	before = dump(cfg);
	for (i = 0; iris_config_key(i) != NULL; i++)
		expect_set(cfg, iris_config_key(i), iris_config_default(i),
		    iris_config_default(i));
	after = dump(cfg);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_typed_defaults)
{
	struct iris_config *cfg = new_cfg();
	const char *const *items;

	ck_assert_str_eq(iris__config_str(cfg, IRIS__OPT_DATA_DIR),
	    "/var/lib/iris");
	ck_assert_uint_eq(iris__config_list(cfg, IRIS__OPT_LISTEN, &items), 1);
	ck_assert_str_eq(items[0], "0.0.0.0:7443");
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_NODE_ID), 0);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_LOG_LEVEL), 3);
	ck_assert_int_eq(iris__config_log_level(cfg), IRIS_LOG_INFO);
	ck_assert_int_eq(iris__config_logger(cfg)->level, IRIS_LOG_INFO);
	ck_assert_ptr_null(iris__config_logger(cfg)->cb);
	ck_assert_uint_eq(iris__config_uint(cfg,
	    IRIS__OPT_MAX_FRAME_BEFORE_LOGIN), 4096);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_MAX_ENVELOPE),
	    65536);
	ck_assert_uint_eq(iris__config_uint(cfg,
	    IRIS__OPT_MAX_DEVICES_PER_USER), 16);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_MAX_SYNC_PAGE), 256);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_INBOUND_BUDGET),
	    UINT64_C(256) << 20);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_FRAME_TIMEOUT),
	    10000);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_IDLE_TIMEOUT),
	    300000);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_SEND_RATE), 5);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_SEND_BURST), 20);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_INBOX_CAP), 100000);

	/* Asking for the wrong type, or no option, gives nothing. */
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_DATA_DIR), 0);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_LISTEN), 0);
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_COUNT), 0);
	ck_assert_uint_eq(iris__config_uint(cfg, -1), 0);
	ck_assert_ptr_null(iris__config_str(cfg, IRIS__OPT_NODE_ID));
	ck_assert_ptr_null(iris__config_str(cfg, IRIS__OPT_LISTEN));
	ck_assert_uint_eq(iris__config_list(cfg, IRIS__OPT_DATA_DIR, &items),
	    0);
	ck_assert_ptr_null(items);
	ck_assert_uint_eq(iris__config_list(cfg, IRIS__OPT_LISTEN, NULL), 1);
	iris_config_free(cfg);
}
END_TEST

static const char *const garbage[] = {
	"abc", "", "-1", "+1", " 1", "1 ", "0x10", "1.5", "1e3", "1,000",
	"99999999999999999999999", "18446744073709551616",
};

START_TEST(test_numeric_bounds)
{
	struct iris_config *cfg = new_cfg();
	const struct iris__copt *o;
	char v[64];
	size_t i, g, tested = 0;
	const char *unit;

	for (i = 0; i < IRIS__OPT_COUNT; i++) {
		o = &iris__copts[i];
		if (o->type != IRIS__CT_UINT && o->type != IRIS__CT_SIZE &&
		    o->type != IRIS__CT_DURATION)
			continue;
		tested++;
		unit = o->type == IRIS__CT_DURATION ? "ms" : "";
		snprintf(v, sizeof(v), "%" PRIu64 "%s", o->min, unit);
		ck_assert_int_eq(iris_config_set(cfg, o->name, v), IRIS_OK);
		ck_assert_uint_eq(iris__config_uint(cfg, (int)i), o->min);
		snprintf(v, sizeof(v), "%" PRIu64 "%s", o->max, unit);
		ck_assert_int_eq(iris_config_set(cfg, o->name, v), IRIS_OK);
		ck_assert_uint_eq(iris__config_uint(cfg, (int)i), o->max);
		snprintf(v, sizeof(v), "%" PRIu64 "%s", o->max + 1, unit);
		expect_refused(cfg, o->name, v);
		ck_assert_ptr_nonnull(strstr(iris_config_error(cfg),
		    "is above the maximum"));
		if (o->min > 0) {
			snprintf(v, sizeof(v), "%" PRIu64 "%s", o->min - 1,
			    unit);
			expect_refused(cfg, o->name, v);
			ck_assert_ptr_nonnull(strstr(iris_config_error(cfg),
			    "is below the minimum"));
		}
		for (g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++)
			expect_refused(cfg, o->name, garbage[g]);
		expect_refused(cfg, o->name, "99999999999G");
		expect_refused(cfg, o->name, "9999999999999999h");
		expect_refused(cfg, o->name, "1T");
		expect_refused(cfg, o->name, "1w");
		expect_refused(cfg, o->name, "K");
		expect_refused(cfg, o->name, "ms");
		expect_refused(cfg, o->name, "4 K");
	}
	ck_assert_uint_ge(tested, 11);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_exact_messages)
{
	struct iris_config *cfg = new_cfg();

	expect_refused(cfg, "max_envelope", "70000");
	expect_error(cfg, "max_envelope: 70000 is above the maximum 65536"
	    " (64K)");
	expect_refused(cfg, "max_envelope", "1023");
	expect_error(cfg, "max_envelope: 1023 is below the minimum 1024 (1K)");
	ck_assert_int_eq(iris_config_set(cfg, "lisen", "x:1"), IRIS_ECONFIG);
	expect_error(cfg, "unknown option \"lisen\"");
	ck_assert_int_eq(iris_config_set(cfg, "a\nb", "1"), IRIS_ECONFIG);
	expect_error(cfg, "unknown option \"a?b\"");
	expect_refused(cfg, "frame_timeout", "99ms");
	expect_error(cfg, "frame_timeout: 99ms is below the minimum 100ms");
	expect_refused(cfg, "idle_timeout", "25h");
	expect_error(cfg, "idle_timeout: 25h is above the maximum 1d");
	expect_refused(cfg, "node_id", "256");
	expect_error(cfg, "node_id: 256 is above the maximum 255");
	expect_refused(cfg, "inbound_budget", "99999999999G");
	expect_error(cfg, "inbound_budget: 99999999999G is too large");
	expect_refused(cfg, "inbound_budget", "65G");
	expect_error(cfg, "inbound_budget: 65G is above the maximum"
	    " 68719476736 (64G)");
	expect_refused(cfg, "node_id", "abc");
	expect_error(cfg, "node_id: \"abc\" is not a number");
	expect_refused(cfg, "node_id", "");
	expect_error(cfg, "node_id: empty value");
	expect_refused(cfg, "max_envelope", "4X");
	ck_assert_ptr_nonnull(strstr(iris_config_error(cfg), "is not a size"));
	expect_refused(cfg, "frame_timeout", "5x");
	ck_assert_ptr_nonnull(strstr(iris_config_error(cfg),
	    "is not a duration"));
	expect_refused(cfg, "log_level", "loud");
	expect_error(cfg, "log_level: \"loud\" is not one of: err warning"
	    " notice info debug");
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_sizes)
{
	struct iris_config *cfg = new_cfg();

	expect_set(cfg, "max_envelope", "1K", "1K");
	expect_set(cfg, "max_envelope", "2k", "2K");
	expect_set(cfg, "max_envelope", "4096", "4K");
	expect_set(cfg, "max_envelope", "5000", "5000");
	expect_set(cfg, "max_envelope", "65536", "64K");
	expect_set(cfg, "max_envelope", "0064K", "64K");
	expect_set(cfg, "inbound_budget", "1M", "1M");
	expect_set(cfg, "inbound_budget", "1024K", "1M");
	expect_set(cfg, "inbound_budget", "1536K", "1536K");
	expect_set(cfg, "inbound_budget", "2g", "2G");
	expect_set(cfg, "inbound_budget", "64G", "64G");
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_INBOUND_BUDGET),
	    UINT64_C(64) << 30);
	expect_refused(cfg, "max_envelope", "1.5K");
	expect_refused(cfg, "max_envelope", "4KB");
	expect_refused(cfg, "max_envelope", "4KiB");
	expect_refused(cfg, "max_envelope", "-4K");
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_durations)
{
	struct iris_config *cfg = new_cfg();

	expect_set(cfg, "frame_timeout", "100ms", "100ms");
	expect_set(cfg, "frame_timeout", "1500ms", "1500ms");
	expect_set(cfg, "frame_timeout", "2000ms", "2s");
	expect_set(cfg, "frame_timeout", "60", "1m");	/* bare: seconds */
	expect_set(cfg, "frame_timeout", "90s", "90s");
	expect_set(cfg, "frame_timeout", "600", "10m");
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_FRAME_TIMEOUT),
	    600000);
	expect_set(cfg, "idle_timeout", "1h", "1h");
	expect_set(cfg, "idle_timeout", "120m", "2h");
	expect_set(cfg, "idle_timeout", "24h", "1d");
	expect_set(cfg, "idle_timeout", "1s", "1s");
	expect_refused(cfg, "frame_timeout", "601");
	expect_refused(cfg, "frame_timeout", "0");
	expect_refused(cfg, "frame_timeout", "1MS");
	expect_refused(cfg, "frame_timeout", "1 s");
	expect_refused(cfg, "frame_timeout", "1sec");
	expect_refused(cfg, "idle_timeout", "999ms");
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_enum)
{
	struct iris_config *cfg = new_cfg();
	static const char *const words[] = {
		"err", "warning", "notice", "info", "debug",
	};
	size_t i;

	for (i = 0; i < 5; i++) {
		expect_set(cfg, "log_level", words[i], words[i]);
		ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_LOG_LEVEL),
		    i);
		ck_assert_int_eq(iris__config_log_level(cfg),
		    IRIS_LOG_ERR + (int)i);
		ck_assert_int_eq(iris__config_logger(cfg)->level,
		    IRIS_LOG_ERR + (int)i);
	}
	expect_set(cfg, "log_level", "NOTICE", "notice");
	ck_assert_int_eq(iris__config_log_level(cfg), IRIS_LOG_NOTICE);
	expect_refused(cfg, "log_level", "");
	expect_refused(cfg, "log_level", "inf");
	expect_refused(cfg, "log_level", "infos");
	expect_refused(cfg, "log_level", "info debug");
	expect_refused(cfg, "log_level", "6");
	ck_assert_int_eq(iris__config_logger(cfg)->level, IRIS_LOG_NOTICE);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_bool_parser)
{
	static const struct iris__copt opt = {
		"flag", IRIS__CT_BOOL, "no", 0, 1, NULL, NULL, "A flag."
	};
	static const char *const yes[] = { "yes", "true", "on", "1", "YES" };
	static const char *const no[] = { "no", "false", "off", "0", "Off" };
	static const char *const bad[] = { "", "y", "2", "yes ", "maybe" };
	struct iris__cval v;
	char why[IRIS__CONFIG_WHY_MAX], buf[8];
	size_t i;

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(iris__config_parse(&opt, yes[i], &v, why,
		    sizeof(why)), IRIS_OK);
		ck_assert_uint_eq(v.u, 1);
		ck_assert_int_eq(iris__config_format(&opt, &v, buf,
		    sizeof(buf)), IRIS_OK);
		ck_assert_str_eq(buf, "yes");
		ck_assert_int_eq(iris__config_parse(&opt, no[i], &v, why,
		    sizeof(why)), IRIS_OK);
		ck_assert_uint_eq(v.u, 0);
		ck_assert_int_eq(iris__config_format(&opt, &v, buf,
		    sizeof(buf)), IRIS_OK);
		ck_assert_str_eq(buf, "no");
		ck_assert_int_eq(iris__config_parse(&opt, bad[i], &v, why,
		    sizeof(why)), IRIS_ECONFIG);
	}
	ck_assert_int_eq(iris__config_format(&opt, &v, buf, 2), IRIS_ETOOBIG);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_list)
{
	struct iris_config *cfg = new_cfg();
	const char *const *items;
	char v[32], want[IRIS__CONFIG_LIST_MAX * 32] = "";
	int i;

	/* The first set replaces the default; later sets append. */
	expect_set(cfg, "listen", "127.0.0.1:1", "127.0.0.1:1");
	expect_set(cfg, "listen", "[::1]:2", "127.0.0.1:1 [::1]:2");
	expect_set(cfg, "listen", "a:3  b:4", "127.0.0.1:1 [::1]:2 a:3 b:4");
	ck_assert_uint_eq(iris__config_list(cfg, IRIS__OPT_LISTEN, &items), 4);
	ck_assert_str_eq(items[1], "[::1]:2");
	ck_assert_str_eq(items[3], "b:4");
	/* "" clears; the next set appends to the empty list. */
	expect_set(cfg, "listen", "", "");
	ck_assert_uint_eq(iris__config_list(cfg, IRIS__OPT_LISTEN, &items), 0);
	expect_set(cfg, "listen", "c:5", "c:5");
	expect_set(cfg, "listen", " \t", "");

	/* At most 16 items; the 17th is refused and changes nothing. */
	for (i = 0; i < IRIS__CONFIG_LIST_MAX; i++) {
		snprintf(v, sizeof(v), "h%d:%d", i, i);
		strcat(want, i > 0 ? " " : "");
		strcat(want, v);
		expect_set(cfg, "listen", v, want);
	}
	expect_refused(cfg, "listen", "one:1");
	expect_error(cfg, "listen: more than 16 values");
	expect_get(cfg, "listen", want);
	expect_set(cfg, "listen", "", "");
	expect_refused(cfg, "listen", "1:1 2:2 3:3 4:4 5:5 6:6 7:7 8:8 9:9"
	    " 10:10 11:11 12:12 13:13 14:14 15:15 16:16 17:17");
	expect_error(cfg, "listen: more than 16 values");

	/* A set whose second word is bad adds nothing. */
	expect_set(cfg, "listen", "a:1", "a:1");
	expect_refused(cfg, "listen", "b:2 bad");
	expect_get(cfg, "listen", "a:1");
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_listen_syntax)
{
	static const char *const good[] = {
		"0.0.0.0:7443", "0.0.0.0:0", "localhost:65535", "[::1]:7443",
		"[::]:1", "[fe80::1%eth0]:7443", "[::ffff:1.2.3.4]:80",
		"my-host.example_1:00080",
	};
	static const char *const bad[] = {
		"nohost", ":80", "host:", "host:65536", "host:-1", "::1:80",
		"[::1]", "[::1]80", "[]:80", "[zz]:80", "[1.2.3.4]:80",
		"host:99999999999999999999", "host:80x", "ho st:80",
		"host:8 0", "[::1%]:80", "[::1:80", "h/x:80", "host::80",
	};
	struct iris_config *cfg = new_cfg();
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		expect_set(cfg, "listen", "", "");
		expect_set(cfg, "listen", good[i], good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(cfg, "listen", bad[i]);
	expect_refused(cfg, "listen", "host:65536");
	expect_error(cfg, "listen: \"host:65536\": the port is out of range"
	    " (0-65535)");
	expect_refused(cfg, "listen", "::1:80");
	expect_error(cfg, "listen: \"::1:80\": an IPv6 address needs"
	    " brackets, as in [::1]:7443");
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_strings)
{
	struct iris_config *cfg = new_cfg();
	char *big;

	expect_set(cfg, "data_dir", "/srv/iris data", "/srv/iris data");
	ck_assert_str_eq(iris__config_str(cfg, IRIS__OPT_DATA_DIR),
	    "/srv/iris data");
	expect_set(cfg, "data_dir", "./data", "./data");
	expect_refused(cfg, "data_dir", "");
	expect_error(cfg, "data_dir: must not be empty");
	expect_refused(cfg, "data_dir", "/a\nb");
	expect_error(cfg, "data_dir: value contains a control character");
	expect_refused(cfg, "data_dir", "/a\x7f");
	big = malloc(IRIS__CONFIG_VALUE_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'd', IRIS__CONFIG_VALUE_MAX + 1);
	big[IRIS__CONFIG_VALUE_MAX + 1] = '\0';
	expect_refused(cfg, "data_dir", big);
	expect_error(cfg, "data_dir: value is longer than 4096 bytes");
	big[IRIS__CONFIG_VALUE_MAX] = '\0';
	expect_set(cfg, "data_dir", big, big);
	free(big);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_get_buffers)
{
	struct iris_config *cfg = new_cfg();
	char buf[64];

	ck_assert_int_eq(iris_config_get(cfg, "nope", buf, sizeof(buf)),
	    IRIS_ECONFIG);
	ck_assert_int_eq(iris_config_get(cfg, "node_id", buf, 0),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris_config_get(cfg, "node_id", NULL, 0),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris_config_get(cfg, "node_id", NULL, 4),
	    IRIS_EINVAL);
	/* "/var/lib/iris" is 13 bytes: 14 fits, 13 does not. */
	ck_assert_int_eq(iris_config_get(cfg, "data_dir", buf, 14), IRIS_OK);
	ck_assert_str_eq(buf, "/var/lib/iris");
	ck_assert_int_eq(iris_config_get(cfg, "data_dir", buf, 13),
	    IRIS_ETOOBIG);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(iris_config_get(cfg, "max_envelope", buf, 4),
	    IRIS_OK);
	ck_assert_str_eq(buf, "64K");
	ck_assert_int_eq(iris_config_get(cfg, "max_envelope", buf, 3),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris_config_get(cfg, "log_level", buf, 4),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris_config_set(cfg, "listen", "a:1 b:2"), IRIS_OK);
	ck_assert_int_eq(iris_config_get(cfg, "listen", buf, 8), IRIS_OK);
	ck_assert_str_eq(buf, "a:1 b:2");
	ck_assert_int_eq(iris_config_get(cfg, "listen", buf, 7),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris_config_get(cfg, "listen", buf, 4),
	    IRIS_ETOOBIG);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_null_args)
{
	struct iris_config *cfg = new_cfg();
	char buf[8];

	ck_assert_int_eq(iris_config_new(NULL), IRIS_EINVAL);
	iris_config_free(NULL);
	ck_assert_int_eq(iris_config_set(NULL, "node_id", "1"), IRIS_EINVAL);
	ck_assert_int_eq(iris_config_set(cfg, NULL, "1"), IRIS_EINVAL);
	ck_assert_str_ne(iris_config_error(cfg), "");
	expect_refused_rc(cfg, "node_id", NULL, IRIS_EINVAL);
	expect_error(cfg, "node_id: missing value");
	ck_assert_int_eq(iris_config_set(cfg, "nope", NULL), IRIS_ECONFIG);
	ck_assert_int_eq(iris_config_get(NULL, "node_id", buf, sizeof(buf)),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_config_get(cfg, NULL, buf, sizeof(buf)),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_config_load_file(NULL, "/x"), IRIS_EINVAL);
	ck_assert_int_eq(iris_config_load_file(cfg, NULL), IRIS_EINVAL);
	ck_assert_str_eq(iris_config_error(NULL), "");
	iris_config_set_log_cb(NULL, NULL, NULL);
	ck_assert_ptr_null(iris__config_logger(NULL));
	ck_assert_ptr_null(iris__config_str(NULL, IRIS__OPT_DATA_DIR));
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_error_cleared)
{
	struct iris_config *cfg = new_cfg();

	expect_refused(cfg, "node_id", "x");
	ck_assert_str_ne(iris_config_error(cfg), "");
	ck_assert_int_eq(iris_config_set(cfg, "node_id", "7"), IRIS_OK);
	ck_assert_str_eq(iris_config_error(cfg), "");
	ck_assert_uint_eq(iris__config_uint(cfg, IRIS__OPT_NODE_ID), 7);
	iris_config_free(cfg);
}
END_TEST

static void
log_cb(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

START_TEST(test_log_cb_and_dup)
{
	struct iris_config *cfg = new_cfg(), *copy = NULL;
	const struct iris_logger *lg;
	int token;
	char *a, *b;

	iris_config_set_log_cb(cfg, log_cb, &token);
	ck_assert_int_eq(iris_config_set(cfg, "log_level", "debug"), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "listen", "x:1"), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "data_dir", "/d"), IRIS_OK);
	lg = iris__config_logger(cfg);
	ck_assert_ptr_eq(lg->cb, log_cb);
	ck_assert_ptr_eq(lg->arg, &token);
	ck_assert_int_eq(lg->level, IRIS_LOG_DEBUG);

	ck_assert_int_eq(iris__config_dup(&copy, cfg), IRIS_OK);
	a = dump(cfg);
	b = dump(copy);
	ck_assert_str_eq(a, b);
	free(b);
	lg = iris__config_logger(copy);
	ck_assert_ptr_eq(lg->cb, log_cb);
	ck_assert_ptr_eq(lg->arg, &token);
	ck_assert_int_eq(lg->level, IRIS_LOG_DEBUG);

	/* The copy is deep, and remembers that listen was set. */
	ck_assert_int_eq(iris_config_set(cfg, "data_dir", "/e"), IRIS_OK);
	ck_assert_int_eq(iris_config_set(copy, "listen", "y:2"), IRIS_OK);
	expect_get(copy, "data_dir", "/d");
	expect_get(copy, "listen", "x:1 y:2");
	expect_get(cfg, "listen", "x:1");
	iris_config_free(cfg);
	b = dump(copy);
	ck_assert_ptr_nonnull(strstr(b, "data_dir=/d\n"));
	free(a);
	free(b);
	iris_config_free(copy);
}
END_TEST

START_TEST(test_oom)
{
	struct iris_config *cfg, *copy;
	unsigned long n, made;
	char *before, *after;
	int rc;

	/* new(): every failing allocation gives ENOMEM and no object. */
	for (n = 1;; n++) {
		cfg = (struct iris_config *)&n;
		iris__alloc_fail_after(n);
		rc = iris_config_new(&cfg);
		made = iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		ck_assert_ptr_null(cfg);
	}
	ck_assert_uint_lt(made, n);	/* the switch was past the last one */
	ck_assert_uint_ge(n, 3);

	ck_assert_int_eq(iris_config_set(cfg, "listen", "a:1 b:2"), IRIS_OK);
	before = dump(cfg);
	for (n = 1; n <= 3; n++) {
		iris__alloc_fail_after(n);
		rc = iris_config_set(cfg, "listen", "c:3 d:4 e:5");
		iris__alloc_fail_after(0);
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		ck_assert_str_eq(iris_config_error(cfg),
		    "listen: out of memory");
		after = dump(cfg);
		ck_assert_str_eq(before, after);
		free(after);
	}
	iris__alloc_fail_after(1);
	ck_assert_int_eq(iris_config_set(cfg, "data_dir", "/x"), IRIS_ENOMEM);
	iris__alloc_fail_after(0);
	after = dump(cfg);
	ck_assert_str_eq(before, after);
	free(after);

	for (n = 1;; n++) {
		copy = (struct iris_config *)&n;
		iris__alloc_fail_after(n);
		rc = iris__config_dup(&copy, cfg);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		ck_assert_ptr_null(copy);
	}
	after = dump(copy);
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	iris_config_free(copy);
	iris_config_free(cfg);
}
END_TEST

/* Writes len bytes to a new file in /tmp; path gets its name. */
static void
write_file(char path[64], const char *text, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/iris-check-config-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* Loads text; expects code and, unless NULL, the error after "PATH:". */
static void
load_text(struct iris_config *cfg, const char *text, int code,
    const char *err)
{
	char path[64], want[2048];

	int rc;

	write_file(path, text, strlen(text));
	rc = iris_config_load_file(cfg, path);
	unlink(path);		/* before any assertion can end the test */
	ck_assert_msg(rc == code, "loading [%s]: %s", text,
	    iris_config_error(cfg));
	if (err != NULL) {
		snprintf(want, sizeof(want), "%s:%s", path, err);
		ck_assert_str_eq(iris_config_error(cfg), want);
	}
}

START_TEST(test_file_good)
{
	struct iris_config *cfg = new_cfg();
	const char *text =
	    "# iris.conf\n"
	    "\n"
	    "   \t\n"
	    "data_dir \"/srv/a \\\"b\\\" \\\\c # not a comment\"  # comment\n"
	    "listen = [::1]:7443   # first replaces the default\n"
	    "listen=\"10.0.0.1:1 10.0.0.2:2\"\n"
	    "\tnode_id\t=\t7\r\n"
	    "max_envelope 32K#tight\n"
	    "log_level debug\n"
	    "frame_timeout \"2s\"\n"
	    "node_id 8";	/* no newline at the end */

	load_text(cfg, text, IRIS_OK, NULL);
	ck_assert_str_eq(iris_config_error(cfg), "");
	expect_get(cfg, "data_dir", "/srv/a \"b\" \\c # not a comment");
	expect_get(cfg, "listen", "[::1]:7443 10.0.0.1:1 10.0.0.2:2");
	expect_get(cfg, "node_id", "8");
	expect_get(cfg, "max_envelope", "32K");
	expect_get(cfg, "log_level", "debug");
	expect_get(cfg, "frame_timeout", "2s");
	ck_assert_int_eq(iris__config_logger(cfg)->level, IRIS_LOG_DEBUG);
	/* Untouched options keep their defaults. */
	expect_get(cfg, "inbox_cap", "100000");

	/* An empty file and a file of comments change nothing. */
	load_text(cfg, "", IRIS_OK, NULL);
	load_text(cfg, "# nothing\n\n", IRIS_OK, NULL);
	expect_get(cfg, "node_id", "8");
	/* "" in a file clears a list. */
	load_text(cfg, "listen \"\"\nlisten 1.2.3.4:5\n", IRIS_OK, NULL);
	expect_get(cfg, "listen", "1.2.3.4:5");
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_file_errors)
{
	static const struct {
		const char	*text;
		const char	*err;
	} cases[] = {
		{ "node_id 1\n\nlisen 1:1\n", "3: unknown option \"lisen\"" },
		{ "lisen\n", "1: unknown option \"lisen\"" },
		{ "#\nmax_envelope 70000\n", "2: max_envelope: 70000 is above"
		    " the maximum 65536 (64K)" },
		{ "\n\n\n\nlisten\n", "5: missing value for \"listen\"" },
		{ "listen =\n", "1: missing value for \"listen\"" },
		{ "listen = # none\n", "1: missing value for \"listen\"" },
		{ "listen# none\n", "1: missing value for \"listen\"" },
		{ "data_dir \"/x\n", "1: unterminated quote" },
		{ "data_dir \"/x\\\"\n", "1: unterminated quote" },
		{ "data_dir \"/x\\", "1: unterminated quote" },
		{ "data_dir \"/x\\n\"\n", "1: unknown escape \\n"
		    " (only \\\" and \\\\)" },
		{ "data_dir \"/x\" y\n", "1: unexpected text after the"
		    " closing quote" },
		{ "= 5\n", "1: missing option name" },
		{ "data_dir\"/x\"\n", "1: expected a space or = after the"
		    " option name" },
		{ "node_id 1 2\n", "1: node_id: \"1 2\" is not a number" },
		{ "node_id \"\"\n", "1: node_id: empty value" },
		{ "listen nohost\n", "1: listen: \"nohost\" is not HOST:PORT"
		    " (as in 0.0.0.0:7443 or [::1]:7443)" },
		{ "data_dir \"a\tb\"\n\x01x 1\n", "2: unknown option \"?x\"" },
	};
	struct iris_config *cfg = new_cfg();
	char *before, *after;
	size_t i;

	before = dump(cfg);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_text(cfg, cases[i].text, IRIS_ECONFIG, cases[i].err);
		after = dump(cfg);
		ck_assert_str_eq(before, after);
		free(after);
	}
	free(before);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_file_all_or_nothing)
{
	struct iris_config *cfg = new_cfg();
	char *before, *after;

	ck_assert_int_eq(iris_config_set(cfg, "listen", "keep:1"), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "log_level", "err"), IRIS_OK);
	before = dump(cfg);
	load_text(cfg,
	    "data_dir /elsewhere\n"
	    "listen \"\"\n"
	    "listen other:2\n"
	    "log_level debug\n"
	    "node_id 9\n"
	    "send_rate 0\n",
	    IRIS_ECONFIG, "6: send_rate: 0 is below the minimum 1");
	after = dump(cfg);
	ck_assert_str_eq(before, after);
	free(after);
	ck_assert_int_eq(iris__config_logger(cfg)->level, IRIS_LOG_ERR);

	/* The file appends to a list already set, as set() does. */
	load_text(cfg, "listen more:3\n", IRIS_OK, NULL);
	expect_get(cfg, "listen", "keep:1 more:3");
	ck_assert_str_eq(iris_config_error(cfg), "");
	free(before);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_file_unreadable)
{
	struct iris_config *cfg = new_cfg();
	char dir[] = "/tmp/iris-check-config-dir-XXXXXX";
	char want[400], path[300];

	int rc;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	ck_assert_int_eq(iris_config_load_file(cfg, path), IRIS_EIO);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or"
	    " directory", path);
	expect_error(cfg, want);
	rc = iris_config_load_file(cfg, dir);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(rc, IRIS_EIO);
	snprintf(want, sizeof(want), "%s:1: read error: Is a directory", dir);
	expect_error(cfg, want);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_file_lines)
{
	struct iris_config *cfg = new_cfg();
	char path[64], want[128], *text;
	size_t n = 4096;
	int rc;

	/* A 4096-byte line is fine; a 4097-byte one names its line. */
	text = malloc(2 * n + 16);
	ck_assert_ptr_nonnull(text);
	text[0] = '#';
	memset(text + 1, 'c', n - 1);
	text[n] = '\n';
	memcpy(text + n + 1, "node_id 4\n", 11);
	write_file(path, text, strlen(text));
	rc = iris_config_load_file(cfg, path);
	unlink(path);
	ck_assert_int_eq(rc, IRIS_OK);
	expect_get(cfg, "node_id", "4");

	memcpy(text + n + 1, "#", 1);
	memset(text + n + 2, 'c', n);
	memcpy(text + 2 * n + 2, "\n", 2);
	load_text(cfg, text, IRIS_ECONFIG, "2: line is longer than 4096"
	    " bytes");

	/* A NUL byte is refused, not silently cut at. */
	write_file(path, "node_id 5\0 junk\n", 16);
	rc = iris_config_load_file(cfg, path);
	unlink(path);
	ck_assert_int_eq(rc, IRIS_ECONFIG);
	snprintf(want, sizeof(want), "%s:1: NUL byte in line", path);
	expect_error(cfg, want);
	expect_get(cfg, "node_id", "4");
	free(text);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_file_oom)
{
	struct iris_config *cfg = new_cfg();
	char path[64], *before, *after;
	unsigned long n;
	int rc, unchanged = 1;

	ck_assert_int_eq(iris_config_set(cfg, "listen", "a:1"), IRIS_OK);
	before = dump(cfg);
	write_file(path, "data_dir /x\nlisten b:2\n", 23);
	for (n = 1;; n++) {
		iris__alloc_fail_after(n);
		rc = iris_config_load_file(cfg, path);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK || rc != IRIS_ENOMEM)
			break;
		after = dump(cfg);
		unchanged &= strcmp(before, after) == 0;
		free(after);
	}
	unlink(path);
	ck_assert_int_eq(rc, IRIS_OK);
	ck_assert(unchanged);
	ck_assert_uint_gt(n, 4);
	expect_get(cfg, "listen", "a:1 b:2");
	expect_get(cfg, "data_dir", "/x");
	free(before);
	iris_config_free(cfg);
}
END_TEST

Suite *
suite_config(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("config");
	tc = tcase_create("values");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_table_walk);
	tcase_add_test(tc, test_defaults_round_trip);
	tcase_add_test(tc, test_typed_defaults);
	tcase_add_test(tc, test_numeric_bounds);
	tcase_add_test(tc, test_exact_messages);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_enum);
	tcase_add_test(tc, test_bool_parser);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_listen_syntax);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_get_buffers);
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_error_cleared);
	tcase_add_test(tc, test_log_cb_and_dup);
	tcase_add_test(tc, test_oom);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_file_good);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_file_all_or_nothing);
	tcase_add_test(tc, test_file_unreadable);
	tcase_add_test(tc, test_file_lines);
	tcase_add_test(tc, test_file_oom);
	suite_add_tcase(s, tc);
	return s;
}

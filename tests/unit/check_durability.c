/* SPDX-License-Identifier: ISC */
/*
 * durability = none (iris.conf(5)): refused unless confirmed, with an
 * error naming the confirmation option; when confirmed, the store opens
 * with a loud warning, says it is not durable, and still stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "iris_store.h"
#include "loop.h"
#include "suites.h"

static struct event_base *base;
static char *dir;
static char path[600];
static char errlog[1024], warnlog[1024];

static void
logcb(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= IRIS_LOG_ERR)
		snprintf(errlog, sizeof(errlog), "%s", msg);
	else if (level == IRIS_LOG_WARNING)
		snprintf(warnlog, sizeof(warnlog), "%s", msg);
}

static void
setup(void)
{
	base = event_base_new();
	dir = make_tempdir("durability");
	snprintf(path, sizeof(path), "%s/iris.db", dir);
	errlog[0] = warnlog[0] = '\0';
}

static void
teardown(void)
{
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

static struct iris_config *
config(const char *durability, const char *confirm)
{
	struct iris_config *cfg;

	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	iris_config_set_log_cb(cfg, logcb, NULL);
	if (durability != NULL)
		ck_assert_int_eq(iris_config_set(cfg, "durability",
		    durability), IRIS_OK);
	if (confirm != NULL)
		ck_assert_int_eq(iris_config_set(cfg,
		    "durability_none_i_understand", confirm), IRIS_OK);
	return cfg;
}

struct res {
	int	 done, rc;
};

static void
on_append(struct iris_store *s, int rc, uint64_t id, const uint64_t *seqs,
    size_t n, int dup, void *arg)
{
	struct res *r = arg;

	(void)s, (void)id, (void)seqs, (void)n, (void)dup;
	r->rc = rc;
	r->done = 1;
}

static int
done(void *arg)
{
	return ((struct res *)arg)->done;
}

static int
seen(const struct iris_message *msg, void *arg)
{
	size_t len = 0;
	const void *p = iris_message_data(msg, &len);

	(void)arg;
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(p, "hi", 2);
	return 0;
}

START_TEST(test_durability_none_refused_unconfirmed)
{
	struct iris_config *cfg = config("none", NULL);
	struct iris_store *s = (struct iris_store *)1;

	ck_assert_int_eq(iris_store_open(&s, base, path, cfg), IRIS_ECONFIG);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(errlog, "durability_none_i_understand") !=
	    NULL, "log: %s", errlog);
	iris_config_free(cfg);
	/* An explicit "no" is no confirmation either. */
	cfg = config("none", "no");
	errlog[0] = '\0';
	ck_assert_int_eq(iris_store_open(&s, base, path, cfg), IRIS_ECONFIG);
	ck_assert_msg(strstr(errlog, "durability_none_i_understand") !=
	    NULL, "log: %s", errlog);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_durability_none_confirmed_opens_labelled)
{
	struct iris_config *cfg = config("none", "yes");
	struct iris_store *s = NULL;
	struct iris_send *snd;
	uint8_t cmid[16];
	uint64_t v = 1;
	struct res r = { 0, 1 };

	ck_assert_int_eq(iris_store_open(&s, base, path, cfg), IRIS_OK);
	ck_assert_msg(strstr(warnlog, "NOT synced") != NULL, "log: %s",
	    warnlog);
	ck_assert_int_eq(iris_store_stat(s, "durable", &v), IRIS_OK);
	ck_assert_uint_eq(v, 0);
	/* It still stores and reads back. */
	iris_uuid_v7(cmid);
	ck_assert_int_eq(iris_send_new(&snd, "a", 1, cmid,
	    IRIS_CLASS_MESSAGE), IRIS_OK);
	ck_assert_int_eq(iris_send_add(snd, "b", 1, "hi", 2), IRIS_OK);
	ck_assert_int_eq(iris_store_append(s, snd, on_append, &r), IRIS_OK);
	ck_assert(run_until(base, done, &r, 10000));
	ck_assert_int_eq(r.rc, IRIS_OK);
	ck_assert_int_eq(iris_store_scan(s, "b", 1, 0, 10, seen, NULL), 1);
	iris_store_close(s);
	iris_config_free(cfg);
}
END_TEST

START_TEST(test_durability_full_is_the_default)
{
	struct iris_config *cfg = config(NULL, NULL);
	struct iris_store *s = NULL;
	uint64_t v = 0;
	char val[16];

	ck_assert_int_eq(iris_config_get(cfg, "durability", val,
	    sizeof(val)), IRIS_OK);
	ck_assert_str_eq(val, "full");
	ck_assert_int_eq(iris_store_open(&s, base, path, cfg), IRIS_OK);
	ck_assert_int_eq(iris_store_stat(s, "durable", &v), IRIS_OK);
	ck_assert_uint_eq(v, 1);
	ck_assert_str_eq(warnlog, "");
	iris_store_close(s);
	iris_config_free(cfg);
	/* A bad word is a configuration error, not a mode. */
	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	ck_assert_int_lt(iris_config_set(cfg, "durability", "some"), 0);
	iris_config_free(cfg);
}
END_TEST

Suite *
suite_durability(void)
{
	Suite *s = suite_create("durability");
	TCase *tc = tcase_create("durability");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_durability_none_refused_unconfirmed);
	tcase_add_test(tc, test_durability_none_confirmed_opens_labelled);
	tcase_add_test(tc, test_durability_full_is_the_default);
	suite_add_tcase(s, tc);
	return s;
}

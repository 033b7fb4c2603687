/* SPDX-License-Identifier: ISC */
/*
 * The writer's cache of inboxes and receipts settings (lib/store/wcache.c)
 * never goes stale: after a failed batch the next seqs continue densely
 * from the file and an ack past the file's head is refused; more inboxes
 * than the cache holds keep exact heads and cursors; many acks of one
 * inbox written as one row per batch leave the right cursor in the file;
 * a receipts setting changed through the writer holds from the next ack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "iris.h"
#include "iris_store.h"
#include "store/accounts.h"
#include "store/store.h"
#include "faultvfs.h"
#include "loop.h"
#include "suites.h"

static struct event_base *base;
static char *dir;
static char path[600];
static char lastlog[1024];
static struct iris_config *cfg;
static uint8_t next_id;
static uint32_t next_hi;

static uint64_t
wall_clock(void *arg)
{
	(void)arg;
	return 1764000000000ULL;
}

static void
logcb(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= IRIS_LOG_ERR)
		snprintf(lastlog, sizeof(lastlog), "%s", msg);
}

static void
setup(void)
{
	ck_assert_int_eq(faultvfs_register(), SQLITE_OK);
	faultvfs_reset();
	base = event_base_new();
	dir = make_tempdir("wcache");
	snprintf(path, sizeof(path), "%s/iris.db", dir);
	lastlog[0] = '\0';
	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	iris_config_set_log_cb(cfg, logcb, NULL);
	next_id = 0;
	next_hi = 0;
}

static void
teardown(void)
{
	faultvfs_heal();
	iris_config_free(cfg);
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

static struct iris_store *
open_store(const char *vfs)
{
	struct iris__store_opts o = { 0 };
	struct iris_store *s;

	o.vfs = vfs;
	o.now_ms = wall_clock;
	o.tick_ms = 20;
	o.recover_ms = 10;
	ck_assert_int_eq(iris__store_open_ex(&s, base, path, cfg, &o),
	    IRIS_OK);
	return s;
}

/* Outcomes of the calls in flight. */
struct calls {
	int		 outstanding;
	int		 ok, failed;
	int		 last_rc;
	uint64_t	 seq;		/* the last send's first seq, or ack */
};

static void
send_cb(struct iris_store *s, int rc, uint64_t msg_id, const uint64_t *seqs,
    size_t n, int dup, void *arg)
{
	struct calls *c = arg;

	(void)s, (void)msg_id, (void)dup;
	c->outstanding--;
	c->last_rc = rc;
	if (rc == IRIS_OK) {
		c->ok++;
		if (n > 0)
			c->seq = seqs[0];
	} else
		c->failed++;
}

static void
ack_cb(struct iris_store *s, int rc, uint64_t acked, void *arg)
{
	struct calls *c = arg;

	(void)s;
	c->outstanding--;
	c->last_rc = rc;
	if (rc == IRIS_OK) {
		c->ok++;
		c->seq = acked;
	} else
		c->failed++;
}

static int
calls_done(void *arg)
{
	return ((struct calls *)arg)->outstanding == 0;
}

static int
calls_below(void *arg)
{
	return ((struct calls *)arg)->outstanding < 64;
}

/* A send from alice/1 (a fresh client msg id) to one or more inboxes. */
static struct iris_send *
new_send(void)
{
	struct iris_send *m;
	uint8_t cmid[16] = { 0x01, 0x93, 0, 0, 0, 0, 0x70, 0, 0x80 };

	next_hi++;
	memcpy(&cmid[10], &next_hi, 4);
	cmid[15] = ++next_id;
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid,
	    IRIS_CLASS_MESSAGE), IRIS_OK);
	return m;
}

static void
submit_send(struct iris_store *s, struct iris_send *m, struct calls *c)
{
	ck_assert(run_until(base, calls_below, c, 10000));
	ck_assert_int_eq(iris_store_append(s, m, send_cb, c), IRIS_OK);
	c->outstanding++;
}

static void
submit_ack(struct iris_store *s, const char *user, uint32_t dev,
    uint64_t seq, struct calls *c)
{
	ck_assert(run_until(base, calls_below, c, 10000));
	ck_assert_int_eq(iris_store_ack(s, user, dev, seq, ack_cb, c),
	    IRIS_OK);
	c->outstanding++;
}

static void
send_one(struct iris_store *s, const char *user, uint32_t dev,
    struct calls *c)
{
	struct iris_send *m = new_send();

	ck_assert_int_eq(iris_send_add(m, user, dev, "m", 1), IRIS_OK);
	submit_send(s, m, c);
}

static void
wait_calls(struct calls *c)
{
	ck_assert(run_until(base, calls_done, c, 20000));
}

static int
seq_cb(const struct iris_message *msg, void *arg)
{
	uint64_t *expect = arg;

	ck_assert_uint_eq(iris_message_seq(msg), *expect);
	(*expect)++;
	return 0;
}

/* The stored seqs of an inbox are 1..n: returns n. */
static uint64_t
dense_count(struct iris_store *s, const char *user, uint32_t dev)
{
	uint64_t expect = 1;

	ck_assert_int_ge(iris_store_scan(s, user, dev, 0, 4096, seq_cb,
	    &expect), 0);
	return expect - 1;
}

static uint64_t
stat_of(struct iris_store *s, const char *name)
{
	uint64_t v = 0;

	ck_assert_int_eq(iris_store_stat(s, name, &v), IRIS_OK);
	return v;
}

static int
recovered(void *arg)
{
	return stat_of(arg, "recoveries") >= 1;
}

/* One value of the file, read without the store. */
static int64_t
sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/*
 * A batch whose COMMIT fails (its WAL write refused by the VFS) had moved
 * bob/1's head and cursor in the cache: after recovery the next send
 * takes the seq after the file's head, and an ack past it is refused.
 */
START_TEST(test_wcache_failed_batch_forgets)
{
	struct iris_store *s = open_store(FAULTVFS_NAME);
	struct calls c = { 0 }, a = { 0 };
	uint64_t acked, head, n;
	int i;

	for (i = 0; i < 3; i++)
		send_one(s, "bob", 1, &c);
	wait_calls(&c);
	ck_assert_int_eq(c.ok, 3);
	ck_assert_uint_eq(c.seq, 3);
	/* The next write, which is the batch's WAL at its COMMIT. */
	faultvfs_fail_nth(FAULTVFS_WRITE, 1, 0);
	send_one(s, "bob", 1, &c);
	submit_ack(s, "bob", 1, 2, &a);
	wait_calls(&c);
	wait_calls(&a);
	ck_assert_int_eq(c.failed, 1);
	ck_assert_int_eq(c.last_rc, IRIS_ESTORE);
	ck_assert_ptr_nonnull(strstr(lastlog, "committing"));
	ck_assert(run_until(base, recovered, s, 10000));
	/* The file says where the inbox is (a lost commit or not). */
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(dense_count(s, "bob", 1), head);
	ck_assert_uint_le(acked, 2);
	/* An ack past the file's head is refused, not taken. */
	memset(&a, 0, sizeof(a));
	submit_ack(s, "bob", 1, head + 1, &a);
	wait_calls(&a);
	ck_assert_int_eq(a.last_rc, IRIS_EINVAL);
	/* Sends go on from the file's head, densely. */
	memset(&c, 0, sizeof(c));
	send_one(s, "bob", 1, &c);
	wait_calls(&c);
	ck_assert_int_eq(c.last_rc, IRIS_OK);
	ck_assert_uint_eq(c.seq, head + 1);
	n = dense_count(s, "bob", 1);
	ck_assert_uint_eq(n, head + 1);
	submit_ack(s, "bob", 1, n, &a);
	wait_calls(&a);
	ck_assert_int_eq(a.last_rc, IRIS_OK);
	iris_store_close(s);
	ck_assert_int_eq(sql_int("SELECT head_seq FROM boxes WHERE user ="
	    " 'bob' AND device = 1"), (int64_t)n);
	ck_assert_int_eq(sql_int("SELECT acked_seq FROM boxes WHERE user ="
	    " 'bob' AND device = 1"), (int64_t)n);
}
END_TEST

/*
 * More inboxes than the cache has slots (12 000 against 8 192), sent to
 * twice and acked once, in batches: entries are written back when their
 * slots are taken and the rest at each COMMIT, so every row is exact.
 */
START_TEST(test_wcache_more_boxes_than_slots)
{
	enum { USERS = 6000, PER_SEND = 16 };
	struct iris_store *s = open_store(NULL);
	struct calls c = { 0 }, a = { 0 };
	struct iris_send *m = NULL;
	char user[16];
	int round, u, d, n = 0;

	for (round = 0; round < 2; round++)
		for (u = 0; u < USERS; u++)
			for (d = 1; d <= 2; d++) {
				if (m == NULL)
					m = new_send();
				snprintf(user, sizeof(user), "u%d", u);
				ck_assert_int_eq(iris_send_add(m, user,
				    (uint32_t)d, "x", 1), IRIS_OK);
				if (++n % PER_SEND == 0) {
					submit_send(s, m, &c);
					m = NULL;
				}
			}
	ck_assert_ptr_null(m);
	wait_calls(&c);
	ck_assert_int_eq(c.failed, 0);
	for (u = 0; u < USERS; u++)
		for (d = 1; d <= 2; d++) {
			snprintf(user, sizeof(user), "u%d", u);
			submit_ack(s, user, (uint32_t)d, 1, &a);
		}
	wait_calls(&a);
	ck_assert_int_eq(a.failed, 0);
	ck_assert_int_eq(a.ok, USERS * 2);
	ck_assert_uint_eq(dense_count(s, "u17", 2), 2);
	iris_store_close(s);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM boxes"), USERS * 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM boxes WHERE"
	    " head_seq != 2 OR acked_seq != 1"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM boxes b WHERE"
	    " b.head_seq != (SELECT count(*) FROM inbox WHERE box = b.id)"),
	    0);
}
END_TEST

/*
 * Many acks of a few inboxes queued at once, so that batches carry
 * several acks of one inbox (written as one row each): the file's cursors
 * after a reopen are the last acks, and a lower ack in between changed
 * nothing.
 */
START_TEST(test_wcache_acks_in_one_batch)
{
	struct iris_store *s = open_store(NULL);
	struct calls c = { 0 }, a = { 0 };
	uint64_t acked, head, seq;
	int i;

	for (i = 0; i < 40; i++) {
		send_one(s, "bob", 1, &c);
		send_one(s, "carol", 3, &c);
	}
	wait_calls(&c);
	ck_assert_int_eq(c.ok, 80);
	for (seq = 1; seq <= 40; seq++) {
		submit_ack(s, "bob", 1, seq, &a);
		submit_ack(s, "carol", 3, seq == 20 ? 5 : seq, &a);
		if (seq % 10 == 0)
			send_one(s, "bob", 1, &c);
	}
	wait_calls(&a);
	wait_calls(&c);
	ck_assert_int_eq(a.failed, 0);
	ck_assert_int_eq(c.failed, 0);
	ck_assert_uint_ge(stat_of(s, "max_batch"), 2);
	iris_store_close(s);
	ck_assert_int_eq(sql_int("SELECT acked_seq FROM boxes WHERE"
	    " user = 'bob'"), 40);
	ck_assert_int_eq(sql_int("SELECT head_seq FROM boxes WHERE"
	    " user = 'bob'"), 44);
	ck_assert_int_eq(sql_int("SELECT acked_seq FROM boxes WHERE"
	    " user = 'carol'"), 40);
	s = open_store(NULL);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(acked, 40);
	ck_assert_uint_eq(head, 44);
	ck_assert_uint_eq(dense_count(s, "bob", 1), 44);
	/* A further send continues after the reopen. */
	send_one(s, "bob", 1, &c);
	wait_calls(&c);
	ck_assert_uint_eq(c.seq, 45);
	iris_store_close(s);
}
END_TEST

struct rc_res {
	int		 done;
	int		 rc;
	size_t		 nrcpts;
};

static void
rcpt_ack_cb(struct iris_ack_job *j, void *arg)
{
	struct rc_res *r = arg;

	r->done = 1;
	r->rc = j->job.rc;
	r->nrcpts = j->nrcpts;
}

static void
acct_cb(struct iris_acct_job *j, void *arg)
{
	struct rc_res *r = arg;

	r->done = 1;
	r->rc = j->job.rc;
}

static int
rc_done(void *arg)
{
	return ((struct rc_res *)arg)->done;
}

/* bob acks seq with receipts asked for: how many it stored. */
static size_t
ack_receipts(struct iris_store *s, uint64_t seq)
{
	struct rc_res r = { 0 };

	ck_assert_int_eq(iris__store_ack_ex(s, "bob", 1, seq, 1, rcpt_ack_cb,
	    &r), IRIS_OK);
	ck_assert(run_until(base, rc_done, &r, 10000));
	ck_assert_int_eq(r.rc, IRIS_OK);
	return r.nrcpts;
}

static void
set_receipts(struct iris_store *s, int on)
{
	struct rc_res r = { 0 };
	struct iris_acct_job *j;

	j = iris__acct_job_new(s, ACCT_SETTINGS, acct_cb, &r);
	ck_assert_ptr_nonnull(j);
	snprintf(j->user, sizeof(j->user), "bob");
	j->privacy = 0;
	j->receipts = on;
	ck_assert_int_eq(iris__acct_submit(s, j), IRIS_OK);
	ck_assert(run_until(base, rc_done, &r, 10000));
	ck_assert_int_eq(r.rc, IRIS_OK);
}

/* The setting read by each ack follows the writer's settings jobs. */
START_TEST(test_wcache_receipts_setting)
{
	struct iris_store *s = open_store(NULL);
	struct calls c = { 0 };
	sqlite3 *db;
	int i;

	for (i = 0; i < 5; i++)
		send_one(s, "bob", 1, &c);
	wait_calls(&c);
	/* No account: no receipts (and nothing held for bob). */
	ck_assert_uint_eq(ack_receipts(s, 1), 0);
	iris_store_close(s);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO accounts (user, shard,"
	    " created_ms) VALUES ('bob', 0, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_store(NULL);
	ck_assert_uint_eq(ack_receipts(s, 2), 1);	/* on by default */
	set_receipts(s, 0);
	ck_assert_uint_eq(ack_receipts(s, 3), 0);
	set_receipts(s, 1);
	ck_assert_uint_eq(ack_receipts(s, 5), 2);
	iris_store_close(s);
	/* alice/1 got a receipt for seqs 2, 4 and 5: dense 1..3. */
	ck_assert_int_eq(sql_int("SELECT head_seq FROM boxes WHERE"
	    " user = 'alice'"), 3);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM inbox i JOIN boxes b"
	    " ON i.box = b.id WHERE b.user = 'alice'"), 3);
}
END_TEST

Suite *
suite_store_wcache(void)
{
	Suite *s = suite_create("store_wcache");
	TCase *tc = tcase_create("writer cache");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT * 2);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_wcache_failed_batch_forgets);
	tcase_add_test(tc, test_wcache_more_boxes_than_slots);
	tcase_add_test(tc, test_wcache_acks_in_one_batch);
	tcase_add_test(tc, test_wcache_receipts_setting);
	suite_add_tcase(s, tc);
	return s;
}

/* SPDX-License-Identifier: ISC */
/*
 * The store's maintenance off the commit path: while the checkpointer's
 * sync of the database file is held (tests/support/faultvfs.c), sends
 * still commit and are acked; once it is released the WAL starts again
 * and its file is truncated back to store_wal_max. And pruning in slices
 * still clears a large backlog of acked messages and dedup records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iris.h"
#include "iris_store.h"
#include "store/store.h"
#include "faultvfs.h"
#include "loop.h"
#include "suites.h"

#define MIB		(1024 * 1024)
#define ENV_LEN		3000	/* bytes per envelope: about a page each */
#define WAIT_MS		20000

static struct event_base *base;
static char *dir;
static char path[600];
static char walpath[620];
static uint64_t fake_now = 1764000000000ULL;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static void
setup(void)
{
	base = event_base_new();
	dir = make_tempdir("store_ckpt");
	snprintf(path, sizeof(path), "%s/iris.db", dir);
	snprintf(walpath, sizeof(walpath), "%s-wal", path);
	ck_assert_int_eq(faultvfs_register(), SQLITE_OK);
	faultvfs_reset();
}

static void
teardown(void)
{
	faultvfs_hold_db_syncs(0);
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

static struct iris_store *
open_store(const char *vfs)
{
	struct iris__store_opts o = { 0 };
	struct iris_config *cfg;
	struct iris_store *s;

	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "store_wal_max", "1M"),
	    IRIS_OK);
	o.vfs = vfs;
	o.now_ms = fake_clock;
	o.tick_ms = 5;
	ck_assert_int_eq(iris__store_open_ex(&s, base, path, cfg, &o),
	    IRIS_OK);
	iris_config_free(cfg);
	return s;
}

/* Sends in flight and their outcomes. */
struct flow {
	struct iris_store *s;
	uint32_t	 next;		/* sends made */
	uint32_t	 limit;		/* stop making sends here */
	int		 outstanding;
	uint32_t	 acked;
	int		 failures;
	uint8_t		 buf[ENV_LEN];
};

static void
flow_cb(struct iris_store *s, int rc, uint64_t msg_id, const uint64_t *seqs,
    size_t n, int dup, void *arg)
{
	struct flow *f = arg;

	(void)s, (void)msg_id, (void)seqs, (void)n, (void)dup;
	f->outstanding--;
	if (rc == IRIS_OK)
		f->acked++;
	else
		f->failures++;
}

/* One send from alice/1 to bob/1 of an envelope numbered by its send. */
static void
flow_send(struct flow *f)
{
	struct iris_send *m;
	uint8_t cmid[16] = { 0x01, 0x93, 0, 0, 0, 0, 0x70, 0, 0x80 };
	uint32_t i = f->next++;

	memcpy(cmid + 10, &i, sizeof(i));
	memset(f->buf, (int)(i & 0xff), sizeof(f->buf));
	memcpy(f->buf, &i, sizeof(i));
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid,
	    IRIS_CLASS_MESSAGE), IRIS_OK);
	ck_assert_int_eq(iris_send_add(m, "bob", 1, f->buf, sizeof(f->buf)),
	    IRIS_OK);
	ck_assert_int_eq(iris_store_append(f->s, m, flow_cb, f), IRIS_OK);
	f->outstanding++;
}

static int
flow_done(void *arg)
{
	return ((struct flow *)arg)->outstanding == 0;
}

/* Up to 64 sends in flight, until limit are made. */
static void
flow_pump(struct flow *f, uint32_t limit)
{
	f->limit = limit;
	while (f->next < f->limit) {
		while (f->next < f->limit && f->outstanding < 64)
			flow_send(f);
		ck_assert(run_until(base, flow_done, f, WAIT_MS));
	}
}

static int
sync_held(void *arg)
{
	(void)arg;
	return faultvfs_held_db_syncs() > 0;
}

static uint64_t
wal_frames(struct iris_store *s)
{
	return __atomic_load_n(&s->wal_frames, __ATOMIC_RELAXED);
}

static long long
file_size(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/*
 * Sends kept in flight until the WAL has started again: the writer seldom
 * idles, so a checkpointer pass rarely copies all of the log by itself
 * and the writer's copy of the tail is what lets it start again.
 */
static int
restarted(void *arg)
{
	struct flow *f = arg;

	if (f->next > f->limit &&
	    wal_frames(f->s) < f->s->wal_restart_frames)
		return 1;
	while (f->outstanding < 16)
		flow_send(f);
	return 0;
}

struct count {
	uint32_t	 next;		/* the send the next message must be */
	uint64_t	 last_seq;
};

static int
count_cb(const struct iris_message *msg, void *arg)
{
	size_t len = 0;
	const uint8_t *d = iris_message_data(msg, &len);
	struct count *c = arg;
	uint32_t i;

	ck_assert_uint_eq(len, ENV_LEN);
	memcpy(&i, d, sizeof(i));
	ck_assert_uint_eq(i, c->next);	/* every send, in order */
	ck_assert_uint_eq(iris_message_seq(msg), (uint64_t)i + 1);
	c->next++;
	c->last_seq = iris_message_seq(msg);
	return 0;
}

/* Sends from..n-1 stored, once each, in order, and nothing else. */
static void
check_inbox(struct iris_store *s, uint32_t from, uint32_t n)
{
	struct count c = { from, 0 };
	int got;

	do
		ck_assert_int_ge(got = iris_store_scan(s, "bob", 1,
		    c.last_seq, 1000, count_cb, &c), 0);
	while (got > 0);
	ck_assert_uint_eq(c.next, n);
}

START_TEST(test_ckpt_commits_while_db_sync_held)
{
	struct iris_store *s = open_store(FAULTVFS_NAME);
	struct flow *f = calloc(1, sizeof(*f));
	uint64_t ckpts, limit = s->wal_restart_frames;

	ck_assert_ptr_nonnull(f);
	f->s = s;
	ck_assert_uint_gt(limit, 0);
	/* Hold the database file's syncs; a send gives the checkpointer
	 * frames to copy, so its pass ends up waiting in that sync. */
	faultvfs_hold_db_syncs(1);
	flow_pump(f, 1);
	ck_assert(run_until(base, sync_held, NULL, WAIT_MS));
	ckpts = 0;
	iris_store_stat(s, "checkpoints", &ckpts);

	/* Over twice store_wal_max of sends: all commit and are acked. */
	flow_pump(f, 1 + 2 * MIB / ENV_LEN + 64);
	ck_assert_int_eq(f->failures, 0);
	ck_assert_uint_eq(f->acked, f->next);
	/* The checkpointer is still held: nothing could restart the WAL. */
	ck_assert_uint_ge(faultvfs_held_db_syncs(), 1);
	ck_assert_uint_gt(wal_frames(s), 2 * limit);
	ck_assert_int_gt(file_size(walpath), MIB);

	/* Released: the pass ends, the tail is copied, the log restarts
	 * and its file is cut back to store_wal_max at the next commit. */
	faultvfs_hold_db_syncs(0);
	ck_assert(run_until(base, restarted, f, WAIT_MS));
	ck_assert_int_le(file_size(walpath), MIB);
	ck_assert(run_until(base, flow_done, f, WAIT_MS));
	ck_assert_uint_ge(__atomic_load_n(&s->wal_restarts,
	    __ATOMIC_RELAXED), 1);
	iris_store_stat(s, "checkpoints", &ckpts);
	ck_assert_uint_gt(ckpts, 0);
	ck_assert_int_eq(f->failures, 0);
	check_inbox(s, 0, f->next);
	iris_store_close(s);

	/* Everything is in the file after a reopen. */
	s = open_store(FAULTVFS_NAME);
	check_inbox(s, 0, f->next);
	iris_store_close(s);
	free(f);
}
END_TEST

static void
ack_cb(struct iris_store *s, int rc, uint64_t acked, void *arg)
{
	int *done = arg;

	(void)s;
	ck_assert_int_eq(rc, IRIS_OK);
	(void)acked;
	*done = 1;
}

static int
int_set(void *arg)
{
	return *(int *)arg;
}

struct want {
	struct iris_store *s;
	const char	*name;
	uint64_t	 value;
};

static int
stat_reached(void *arg)
{
	struct want *w = arg;
	uint64_t v = 0;

	iris_store_stat(w->s, w->name, &v);
	return v >= w->value;
}

/* A backlog far past one slice is pruned, and nothing before its time. */
START_TEST(test_ckpt_prune_slices_clear_backlog)
{
	enum { SENDS = 6000, KEEP = 500 };
	struct iris_store *s = open_store(NULL);
	struct flow *f = calloc(1, sizeof(*f));
	struct want w = { s, "pruned_messages", SENDS - KEEP };
	uint64_t v = 0;
	int done = 0;

	ck_assert_ptr_nonnull(f);
	f->s = s;
	flow_pump(f, SENDS - KEEP);
	/* The last KEEP arrive an hour later. */
	__atomic_add_fetch(&fake_now, 3600000ULL, __ATOMIC_RELAXED);
	flow_pump(f, SENDS);
	ck_assert_uint_eq(f->acked, SENDS);
	ck_assert_int_eq(iris_store_ack(s, "bob", 1, SENDS, ack_cb, &done),
	    IRIS_OK);
	ck_assert(run_until(base, int_set, &done, WAIT_MS));

	/* Past the retention (1h) of the first ones only. */
	__atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
	ck_assert(run_until(base, stat_reached, &w, WAIT_MS));
	iris_store_stat(s, "pruned_messages", &v);
	ck_assert_uint_eq(v, SENDS - KEEP);
	/* The newer ones are still there, every one. */
	check_inbox(s, SENDS - KEEP, SENDS);

	/* The dedup window (7d): every send's record goes, in slices. */
	__atomic_add_fetch(&fake_now, 7 * 86400000ULL, __ATOMIC_RELAXED);
	w.name = "pruned_sends";
	w.value = SENDS;
	ck_assert(run_until(base, stat_reached, &w, WAIT_MS));
	iris_store_stat(s, "pruned_sends", &v);
	ck_assert_uint_eq(v, SENDS);
	/* And the rest of the inbox now. */
	w.name = "pruned_messages";
	ck_assert(run_until(base, stat_reached, &w, WAIT_MS));
	iris_store_close(s);
	free(f);
}
END_TEST

Suite *
suite_store_ckpt(void)
{
	Suite *su = suite_create("store_ckpt");
	TCase *tc = tcase_create("ckpt");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ckpt_commits_while_db_sync_held);
	tcase_add_test(tc, test_ckpt_prune_slices_clear_backlog);
	suite_add_tcase(su, tc);
	return su;
}

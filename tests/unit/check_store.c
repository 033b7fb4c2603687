/* SPDX-License-Identifier: ISC */
/*
 * The durable store through its API on a real SQLite file: dense seqs,
 * sends as units with dedup before and after commit and across a reopen,
 * the dedup window with an injected clock, cursors, caps, migrations,
 * refusals of foreign and newer files, scan edges and bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "iris.h"
#include "iris_store.h"
#include "store/accounts.h"
#include "store/store.h"
#include "util/alloc.h"
#include "loop.h"
#include "suites.h"

/* One test's world: a loop, a temp dir, a store, a fake clock. */
static struct event_base *base;
static char *dir;
static char path[600];
static uint64_t fake_now = 1764000000000ULL;
static char lastlog[1024];

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
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
	base = event_base_new();
	dir = make_tempdir("store");
	snprintf(path, sizeof(path), "%s/iris.db", dir);
	lastlog[0] = '\0';
}

static void
teardown(void)
{
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

static struct iris_store *
open_store(struct iris_config *cfg)
{
	struct iris__store_opts o = { 0 };
	struct iris_store *s;

	o.now_ms = fake_clock;
	o.tick_ms = 20;
	ck_assert_int_eq(iris__store_open_ex(&s, base, path, cfg, &o),
	    IRIS_OK);
	return s;
}

/* The result of one append, filled by its callback. */
struct res {
	int		 done;
	int		 rc;
	uint64_t	 msg_id;
	uint64_t	 seqs[8];
	size_t		 n;
	int		 dup;
};

static void
append_cb(struct iris_store *s, int rc, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int dup, void *arg)
{
	struct res *r = arg;

	(void)s;
	r->done = 1;
	r->rc = rc;
	r->msg_id = msg_id;
	r->n = n;
	r->dup = dup;
	if (n > 0)
		memcpy(r->seqs, seqs, n * sizeof(*seqs));
}

static int
res_done(void *arg)
{
	return ((struct res *)arg)->done;
}

/* A send from alice/1 with one envelope per (user, device) given. */
static struct iris_send *
make_send(uint8_t id, const char *const *users, const uint32_t *devs,
    size_t n, const char *text)
{
	struct iris_send *m;
	uint8_t cmid[16] = { 0x01, 0x93, 0, 0, 0, 0, 0x70, 0, 0x80 };
	size_t i;

	cmid[15] = id;
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid,
	    IRIS_CLASS_MESSAGE), IRIS_OK);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(iris_send_add(m, users[i], devs[i], text,
		    strlen(text)), IRIS_OK);
	return m;
}

static void
append_wait(struct iris_store *s, struct iris_send *m, struct res *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(iris_store_append(s, m, append_cb, r), IRIS_OK);
	ck_assert(run_until(base, res_done, r, 10000));
}

/* Collects a scan. */
struct seen {
	uint64_t	 seqs[4096];
	char		 text[4096][32];
	size_t		 n;
	size_t		 stop_after;
};

static int
scan_cb(const struct iris_message *msg, void *arg)
{
	struct seen *sn = arg;
	size_t len;
	const void *d = iris_message_data(msg, &len);

	ck_assert_uint_lt(sn->n, 4096);
	sn->seqs[sn->n] = iris_message_seq(msg);
	snprintf(sn->text[sn->n], 32, "%.*s", (int)len, (const char *)d);
	sn->n++;
	return sn->stop_after != 0 && sn->n >= sn->stop_after;
}

static struct seen *
scan(struct iris_store *s, const char *user, uint32_t dev, uint64_t after,
    size_t limit)
{
	struct seen *sn = calloc(1, sizeof(*sn));

	ck_assert_ptr_nonnull(sn);
	ck_assert_int_ge(iris_store_scan(s, user, dev, after, limit, scan_cb,
	    sn), 0);
	return sn;
}

struct many {
	int	 outstanding;
	int	 failures;
};

static void
many_cb(struct iris_store *s, int rc, uint64_t msg_id, const uint64_t *seqs,
    size_t n, int dup, void *arg)
{
	struct many *mn = arg;

	(void)s, (void)msg_id, (void)seqs, (void)n, (void)dup;
	mn->outstanding--;
	if (rc != IRIS_OK)
		mn->failures++;
}

static int
many_done(void *arg)
{
	return ((struct many *)arg)->outstanding == 0;
}

START_TEST(test_store_dense_seqs_interleaved)
{
	static const char *const users[] = { "bob", "carol" };
	static const uint32_t devs[] = { 1, 2 };
	struct iris_store *s = open_store(NULL);
	struct many mn = { 0, 0 };
	struct seen *sn;
	uint8_t cmid[16];
	char text[32];
	size_t i, j;

	/* 300 sends in flight at once from three senders, each to a
	 * different subset of two inboxes. */
	for (i = 0; i < 300; i++) {
		struct iris_send *m;

		ck_assert_int_eq(iris_uuid_v7(cmid), IRIS_OK);
		ck_assert_int_eq(iris_send_new(&m, i % 3 == 0 ? "dave" :
		    i % 3 == 1 ? "erin" : "frank", 1, cmid,
		    IRIS_CLASS_MESSAGE), IRIS_OK);
		snprintf(text, sizeof(text), "m%zu", i);
		for (j = 0; j < 2; j++)
			if (i % 2 == 0 || j == 1)
				ck_assert_int_eq(iris_send_add(m, users[j],
				    devs[j], text, strlen(text)), IRIS_OK);
		ck_assert_int_eq(iris_store_append(s, m, many_cb, &mn),
		    IRIS_OK);
		mn.outstanding++;
	}
	ck_assert(run_until(base, many_done, &mn, 20000));
	ck_assert_int_eq(mn.failures, 0);
	/* bob/1 got the even sends, carol/2 all of them: dense, in order. */
	sn = scan(s, "bob", 1, 0, 4096);
	ck_assert_uint_eq(sn->n, 150);
	for (i = 0; i < sn->n; i++) {
		ck_assert_uint_eq(sn->seqs[i], i + 1);
		snprintf(text, sizeof(text), "m%zu", 2 * i);
		ck_assert_str_eq(sn->text[i], text);
	}
	free(sn);
	sn = scan(s, "carol", 2, 0, 4096);
	ck_assert_uint_eq(sn->n, 300);
	for (i = 0; i < sn->n; i++)
		ck_assert_uint_eq(sn->seqs[i], i + 1);
	free(sn);
	iris_store_close(s);

	/* Reopened: the same, and new seqs continue densely. */
	s = open_store(NULL);
	{
		static const char *const u[] = { "bob" };
		static const uint32_t d[] = { 1 };
		struct res r;

		append_wait(s, make_send(200, u, d, 1, "after"), &r);
		ck_assert_int_eq(r.rc, IRIS_OK);
		ck_assert_uint_eq(r.seqs[0], 151);
	}
	iris_store_close(s);
}
END_TEST

START_TEST(test_store_send_is_a_unit_with_dedup)
{
	static const char *const users[] = { "bob", "bob", "bob", "alice" };
	static const uint32_t devs[] = { 1, 2, 3, 2 };
	struct iris_store *s = open_store(NULL);
	struct res a, b, c, d;
	struct seen *sn;
	size_t i;

	/* Something already in bob/2, so seqs differ per device. */
	{
		static const char *const u[] = { "bob" };
		static const uint32_t dv[] = { 2 };

		append_wait(s, make_send(1, u, dv, 1, "first"), &a);
	}
	/* The send and a retry queued before its commit. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(iris_store_append(s, make_send(2, users, devs, 4,
	    "hello"), append_cb, &a), IRIS_OK);
	ck_assert_int_eq(iris_store_append(s, make_send(2, users, devs, 4,
	    "hello"), append_cb, &b), IRIS_OK);
	ck_assert(run_until(base, res_done, &a, 10000));
	ck_assert(run_until(base, res_done, &b, 10000));
	ck_assert_int_eq(a.rc, IRIS_OK);
	ck_assert_int_eq(b.rc, IRIS_OK);
	ck_assert(!a.dup);
	ck_assert(b.dup);
	ck_assert_uint_eq(a.n, 4);
	ck_assert_uint_eq(a.seqs[0], 1);
	ck_assert_uint_eq(a.seqs[1], 2);
	ck_assert_uint_eq(a.seqs[2], 1);
	ck_assert_uint_eq(b.msg_id, a.msg_id);
	ck_assert_mem_eq(b.seqs, a.seqs, sizeof(a.seqs[0]) * 4);

	/* A retry after the commit, and one after a reopen. */
	append_wait(s, make_send(2, users, devs, 4, "hello"), &c);
	ck_assert(c.dup);
	ck_assert_uint_eq(c.msg_id, a.msg_id);
	ck_assert_mem_eq(c.seqs, a.seqs, sizeof(a.seqs[0]) * 4);
	iris_store_close(s);
	s = open_store(NULL);
	append_wait(s, make_send(2, users, devs, 4, "hello"), &d);
	ck_assert(d.dup);
	ck_assert_uint_eq(d.msg_id, a.msg_id);
	ck_assert_mem_eq(d.seqs, a.seqs, sizeof(a.seqs[0]) * 4);

	/* One copy in each inbox. */
	for (i = 0; i < 4; i++) {
		sn = scan(s, users[i], devs[i], 0, 100);
		ck_assert_uint_eq(sn->n, i == 1 ? 2 : 1);
		ck_assert_str_eq(sn->text[sn->n - 1], "hello");
		free(sn);
	}
	{
		uint64_t v;

		ck_assert_int_eq(iris_store_stat(s, "duplicates", &v),
		    IRIS_OK);
		ck_assert_uint_eq(v, 1);	/* counted since the reopen */
	}
	iris_store_close(s);
}
END_TEST

static int
pruned(void *arg)
{
	uint64_t v = 0;

	iris_store_stat(arg, "pruned_sends", &v);
	return v > 0;
}

START_TEST(test_store_dedup_window)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s = open_store(NULL);
	struct res a, b;

	append_wait(s, make_send(7, u, d, 1, "x"), &a);
	/* Six days on: still a duplicate. */
	__atomic_add_fetch(&fake_now, 6 * 86400000ULL, __ATOMIC_RELAXED);
	append_wait(s, make_send(7, u, d, 1, "x"), &b);
	ck_assert(b.dup);
	ck_assert_uint_eq(b.seqs[0], a.seqs[0]);
	/* Past seven days the record is pruned: a new send. */
	__atomic_add_fetch(&fake_now, 86400000ULL + 1000, __ATOMIC_RELAXED);
	ck_assert(run_until(base, pruned, s, 5000));
	append_wait(s, make_send(7, u, d, 1, "x"), &b);
	ck_assert(!b.dup);
	ck_assert_uint_eq(b.seqs[0], a.seqs[0] + 1);
	iris_store_close(s);
}
END_TEST

struct ackres {
	int		 done;
	int		 rc;
	uint64_t	 acked;
};

static void
ack_cb(struct iris_store *s, int rc, uint64_t acked, void *arg)
{
	struct ackres *r = arg;

	(void)s;
	r->done = 1;
	r->rc = rc;
	r->acked = acked;
}

static int
ack_done(void *arg)
{
	return ((struct ackres *)arg)->done;
}

static struct ackres
ack_wait(struct iris_store *s, const char *user, uint32_t dev, uint64_t seq)
{
	struct ackres r = { 0, 0, 0 };

	ck_assert_int_eq(iris_store_ack(s, user, dev, seq, ack_cb, &r),
	    IRIS_OK);
	ck_assert(run_until(base, ack_done, &r, 10000));
	return r;
}

START_TEST(test_store_cursor_and_cap)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_config *cfg;
	struct iris_store *s;
	struct ackres ar;
	struct res r;
	uint64_t acked, head;
	uint8_t i;

	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "inbox_cap", "3"), IRIS_OK);
	s = open_store(cfg);
	iris_config_free(cfg);
	for (i = 1; i <= 3; i++) {
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
		ck_assert_int_eq(r.rc, IRIS_OK);
	}
	/* The fourth is refused, retryably, and stores nothing. */
	append_wait(s, make_send(4, u, d, 1, "m"), &r);
	ck_assert_int_eq(r.rc, IRIS_EAGAIN);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(head, 3);
	ck_assert_uint_eq(acked, 0);

	ar = ack_wait(s, "bob", 1, 2);
	ck_assert_int_eq(ar.rc, IRIS_OK);
	ck_assert_uint_eq(ar.acked, 2);
	/* Never backward; never beyond the inbox. */
	ar = ack_wait(s, "bob", 1, 1);
	ck_assert_int_eq(ar.rc, IRIS_OK);
	ck_assert_uint_eq(ar.acked, 2);
	ar = ack_wait(s, "bob", 1, 4);
	ck_assert_int_eq(ar.rc, IRIS_EINVAL);
	ar = ack_wait(s, "nobody", 1, 1);
	ck_assert_int_eq(ar.rc, IRIS_EINVAL);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(acked, 2);
	/* Room again after the ack. */
	append_wait(s, make_send(4, u, d, 1, "m"), &r);
	ck_assert_int_eq(r.rc, IRIS_OK);
	ck_assert_uint_eq(r.seqs[0], 4);
	iris_store_close(s);

	/* The cursor is durable. */
	s = open_store(NULL);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(acked, 2);
	ck_assert_uint_eq(head, 4);
	iris_store_close(s);
}
END_TEST

/*
 * The loop's copy of an inbox's cursor and head: raised by the completions
 * of committed appends and acks without reading the file, and read from
 * the file again when asked fresh (a change made behind the store's back
 * shows there only).
 */
START_TEST(test_store_positions_follow_commits)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s;
	struct ackres ar;
	struct res r;
	uint64_t acked = 9, head = 9;
	sqlite3 *db;
	uint8_t i;

	s = open_store(NULL);
	ck_assert_int_eq(iris__store_position(s, "bob", 1, 0, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(acked, 0);
	ck_assert_uint_eq(head, 0);
	for (i = 1; i <= 3; i++) {
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
		ck_assert_int_eq(r.rc, IRIS_OK);
		ck_assert_int_eq(iris__store_position(s, "bob", 1, 0, &acked,
		    &head), IRIS_OK);
		ck_assert_uint_eq(head, i);
	}
	ar = ack_wait(s, "bob", 1, 2);
	ck_assert_int_eq(ar.rc, IRIS_OK);
	ck_assert_int_eq(iris__store_position(s, "bob", 1, 0, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(acked, 2);
	ck_assert_uint_eq(head, 3);

	/* Behind the store's back: only a fresh read sees it. */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE boxes SET head_seq = 7"
	    " WHERE user = 'bob' AND device = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(iris__store_position(s, "bob", 1, 0, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(head, 3);
	ck_assert_int_eq(iris__store_position(s, "bob", 1, 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(head, 7);
	ck_assert_uint_eq(acked, 2);
	ck_assert_int_eq(iris__store_position(s, "bob", 1, 0, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(head, 7);
	/* Another device's inbox, never written: nothing to ack. */
	ck_assert_int_eq(iris__store_position(s, "bob", 2, 0, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(head, 0);
	iris_store_close(s);
}
END_TEST

/*
 * A read hold: the reads inside it see one snapshot (a commit made in
 * between shows only after the release), holds nest, a release without a
 * hold does nothing, and after the last release reads are live again.
 */
START_TEST(test_store_read_hold_one_snapshot)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s;
	struct res r;
	uint64_t head = 9;

	s = open_store(NULL);
	iris__acct_read_release(s);		/* not held: nothing */
	append_wait(s, make_send(1, u, d, 1, "m"), &r);
	ck_assert_int_eq(r.rc, IRIS_OK);
	iris__acct_read_hold(s);
	iris__acct_read_hold(s);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, NULL, &head), IRIS_OK);
	ck_assert_uint_eq(head, 1);
	append_wait(s, make_send(2, u, d, 1, "m"), &r);
	ck_assert_int_eq(r.rc, IRIS_OK);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, NULL, &head), IRIS_OK);
	ck_assert_uint_eq(head, 1);		/* the snapshot */
	iris__acct_read_release(s);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, NULL, &head), IRIS_OK);
	ck_assert_uint_eq(head, 1);		/* still held once */
	iris__acct_read_release(s);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, NULL, &head), IRIS_OK);
	ck_assert_uint_eq(head, 2);
	iris__acct_read_release(s);
	append_wait(s, make_send(3, u, d, 1, "m"), &r);
	ck_assert_int_eq(iris_store_depth(s, "bob", 1, NULL, &head), IRIS_OK);
	ck_assert_uint_eq(head, 3);		/* live */
	iris_store_close(s);
}
END_TEST

/*
 * A chain: once one of its sends is refused (here an inbox at its cap),
 * its later ones are refused too, even to another inbox with room, until
 * a new chain starts; sends outside chains are not held.
 */
START_TEST(test_store_chain_holds_order)
{
	static const char *const bob[] = { "bob" }, *const eve[] = { "eve" };
	static const uint32_t d[] = { 1 };
	struct iris_config *cfg;
	struct iris_chain *c, *c2;
	struct iris_send *m;
	struct iris_store *s;
	struct res r[4];
	uint8_t i;

	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "inbox_cap", "1"), IRIS_OK);
	s = open_store(cfg);
	iris_config_free(cfg);
	ck_assert_ptr_nonnull(c = iris__chain_new());
	/* Queued together, one batch: bob, bob (full), eve, eve. */
	for (i = 0; i < 4; i++) {
		m = make_send((uint8_t)(10 + i), i < 2 ? bob : eve, d, 1, "c");
		iris__send_chain(m, c);
		memset(&r[i], 0, sizeof(r[i]));
		ck_assert_int_eq(iris_store_append(s, m, append_cb, &r[i]),
		    IRIS_OK);
	}
	ck_assert(run_until(base, res_done, &r[3], 10000));
	ck_assert_int_eq(r[0].rc, IRIS_OK);
	ck_assert_int_eq(r[1].rc, IRIS_EAGAIN);
	ck_assert_int_eq(r[2].rc, IRIS_ESTATE);
	ck_assert_int_eq(r[3].rc, IRIS_ESTATE);
	/* A later batch of the same chain: still held. */
	m = make_send(20, eve, d, 1, "c");
	iris__send_chain(m, c);
	append_wait(s, m, &r[0]);
	ck_assert_int_eq(r[0].rc, IRIS_ESTATE);
	/* Unchained, and a new chain: taken. */
	append_wait(s, make_send(21, eve, d, 1, "c"), &r[0]);
	ck_assert_int_eq(r[0].rc, IRIS_OK);
	ck_assert_ptr_nonnull(c2 = iris__chain_new());
	m = make_send(22, bob, d, 1, "c");
	iris__send_chain(m, c2);
	append_wait(s, m, &r[0]);
	ck_assert_int_eq(r[0].rc, IRIS_EAGAIN);	/* bob is still full */
	iris__chain_unref(c);
	iris__chain_unref(c2);
	iris_store_close(s);
}
END_TEST

struct rcres {
	int		 done;
	int		 rc;
	size_t		 n;
	struct iris_rcpt r[4];
};

static void
rcpt_cb(struct iris_ack_job *j, void *arg)
{
	struct rcres *rr = arg;

	rr->done = 1;
	rr->rc = j->job.rc;
	rr->n = j->nrcpts;
	if (j->nrcpts > 0)
		memcpy(rr->r, j->rcpts, (j->nrcpts < 4 ? j->nrcpts : 4) *
		    sizeof(*rr->r));
}

static int
rc_done(void *arg)
{
	return ((struct rcres *)arg)->done;
}

/* The ack of bob/1 stores one receipt per covered message of alice's,
 * in alice/1's inbox, once; an account with receipts off makes none. */
START_TEST(test_store_ack_receipts)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s;
	struct rcres rr;
	struct res r;
	uint64_t acked, head;
	sqlite3 *db;
	uint8_t i;

	s = open_store(NULL);
	for (i = 1; i <= 3; i++)
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
	/* No account row for bob: receipts are off for it. */
	memset(&rr, 0, sizeof(rr));
	ck_assert_int_eq(iris__store_ack_ex(s, "bob", 1, 1, 1, rcpt_cb, &rr),
	    IRIS_OK);
	ck_assert(run_until(base, rc_done, &rr, 10000));
	ck_assert_int_eq(rr.rc, IRIS_OK);
	ck_assert_uint_eq(rr.n, 0);
	iris_store_close(s);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO accounts (user, shard,"
	    " created_ms) VALUES ('bob', 0, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_store(NULL);
	memset(&rr, 0, sizeof(rr));
	ck_assert_int_eq(iris__store_ack_ex(s, "bob", 1, 3, 1, rcpt_cb, &rr),
	    IRIS_OK);
	ck_assert(run_until(base, rc_done, &rr, 10000));
	ck_assert_int_eq(rr.rc, IRIS_OK);
	ck_assert_uint_eq(rr.n, 2);	/* seqs 2 and 3 */
	ck_assert_str_eq(rr.r[0].user, "alice");
	ck_assert_uint_eq(rr.r[0].seq, 1);
	ck_assert_uint_eq(rr.r[1].seq, 2);
	ck_assert_int_eq(iris_store_depth(s, "alice", 1, &acked, &head),
	    IRIS_OK);
	ck_assert_uint_eq(head, 2);
	/* The same ack again moves nothing and makes nothing. */
	memset(&rr, 0, sizeof(rr));
	ck_assert_int_eq(iris__store_ack_ex(s, "bob", 1, 3, 1, rcpt_cb, &rr),
	    IRIS_OK);
	ck_assert(run_until(base, rc_done, &rr, 10000));
	ck_assert_uint_eq(rr.n, 0);
	iris_store_close(s);
}
END_TEST

static int
msgs_pruned(void *arg)
{
	uint64_t v = 0;

	iris_store_stat(arg, "pruned_messages", &v);
	return v >= 2;
}

START_TEST(test_store_retention)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s = open_store(NULL);
	struct seen *sn;
	struct res r;
	uint8_t i;

	for (i = 1; i <= 3; i++)
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
	ack_wait(s, "bob", 1, 2);
	/* Acked messages stay for the retention period (1h by default). */
	sn = scan(s, "bob", 1, 0, 10);
	ck_assert_uint_eq(sn->n, 3);
	free(sn);
	__atomic_add_fetch(&fake_now, 3600000ULL + 1000, __ATOMIC_RELAXED);
	ck_assert(run_until(base, msgs_pruned, s, 5000));
	sn = scan(s, "bob", 1, 0, 10);
	ck_assert_uint_eq(sn->n, 1);
	ck_assert_uint_eq(sn->seqs[0], 3);
	free(sn);
	iris_store_close(s);
}
END_TEST

static int
msgs_pruned3(void *arg)
{
	uint64_t v = 0;

	iris_store_stat(arg, "pruned_messages", &v);
	return v >= 3;
}

/* Only the acked messages past their retention go, not the newer ones. */
START_TEST(test_store_retention_newer)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s = open_store(NULL);
	struct seen *sn;
	struct res r;
	uint64_t v = 0;
	uint8_t i;

	for (i = 1; i <= 3; i++)
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
	__atomic_add_fetch(&fake_now, 3000000ULL, __ATOMIC_RELAXED);
	for (i = 4; i <= 5; i++)
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
	ack_wait(s, "bob", 1, 5);
	/* 1..3 are past the hour, 4 and 5 are 40 minutes short of it. */
	__atomic_add_fetch(&fake_now, 600000ULL + 1000, __ATOMIC_RELAXED);
	ck_assert(run_until(base, msgs_pruned3, s, 5000));
	sn = scan(s, "bob", 1, 0, 10);
	ck_assert_uint_eq(sn->n, 2);
	ck_assert_uint_eq(sn->seqs[0], 4);
	ck_assert_uint_eq(sn->seqs[1], 5);
	free(sn);
	iris_store_stat(s, "pruned_messages", &v);
	ck_assert_uint_eq(v, 3);
	iris_store_close(s);
}
END_TEST

START_TEST(test_store_scan_edges)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s = open_store(NULL);
	struct seen *sn;
	struct res r;
	uint8_t i;

	for (i = 1; i <= 10; i++)
		append_wait(s, make_send(i, u, d, 1, "m"), &r);
	sn = scan(s, "bob", 1, 10, 100);	/* at the head */
	ck_assert_uint_eq(sn->n, 0);
	free(sn);
	sn = scan(s, "bob", 1, 99, 100);	/* past the head */
	ck_assert_uint_eq(sn->n, 0);
	free(sn);
	sn = scan(s, "bob", 1, 9, 100);		/* the last one */
	ck_assert_uint_eq(sn->n, 1);
	ck_assert_uint_eq(sn->seqs[0], 10);
	free(sn);
	sn = scan(s, "bob", 1, 3, 4);		/* a page */
	ck_assert_uint_eq(sn->n, 4);
	ck_assert_uint_eq(sn->seqs[0], 4);
	ck_assert_uint_eq(sn->seqs[3], 7);
	free(sn);
	sn = scan(s, "bob", 1, 0, 0);		/* limit 0 */
	ck_assert_uint_eq(sn->n, 0);
	free(sn);
	sn = calloc(1, sizeof(*sn));
	sn->stop_after = 2;			/* the callback stops it */
	ck_assert_int_eq(iris_store_scan(s, "bob", 1, 0, 100, scan_cb, sn), 2);
	free(sn);
	sn = scan(s, "bob", 2, 0, 100);		/* another device */
	ck_assert_uint_eq(sn->n, 0);
	free(sn);
	iris_store_close(s);
}
END_TEST

START_TEST(test_store_migrates_older_schema)
{
	struct iris__store_opts o = { 0 };
	struct iris_store *s;
	struct seen *sn;
	sqlite3 *db;
	int64_t v = 0;
	sqlite3_stmt *st;

	/* A store left at schema 1 by an older libiris, with a message. */
	o.max_schema = 1;
	ck_assert_int_eq(iris__store_open_ex(&s, base, path, NULL, &o),
	    IRIS_OK);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
	    "INSERT INTO boxes (id, shard, user, device, head_seq)"
	    " VALUES (1, 0, 'bob', 1, 1);"
	    "INSERT INTO inbox (box, seq, shard, msg_id, sender_user,"
	    " sender_device, client_msg_id, class, received_ms, envelope)"
	    " VALUES (1, 1, 0, 42, 'alice', 1, zeroblob(16), 0, 0, 'old');",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = open_store(NULL);
	sn = scan(s, "bob", 1, 0, 10);
	ck_assert_uint_eq(sn->n, 1);
	ck_assert_str_eq(sn->text[0], "old");
	free(sn);
	iris_store_close(s);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	ck_assert_int_eq(v, IRIS_SCHEMA_VERSION);
	ck_assert_int_eq(sqlite3_exec(db, "SELECT count(*) FROM accounts",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}
END_TEST

/* A file's bytes, to show a refused open changed nothing. */
static char *
slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	char *buf;
	struct stat sb;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fstat(fileno(f), &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	return buf;
}

static void
expect_refused(int code, const char *words)
{
	struct iris_config *cfg;
	struct iris_store *s = (struct iris_store *)1;
	size_t blen, alen;
	char *before, *after;

	before = slurp(path, &blen);
	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	iris_config_set_log_cb(cfg, logcb, NULL);
	ck_assert_int_eq(iris_store_open(&s, base, path, cfg), code);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(lastlog, words) != NULL, "log: %s", lastlog);
	iris_config_free(cfg);
	after = slurp(path, &alen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, alen);
	free(before);
	free(after);
}

START_TEST(test_store_refuses_newer_and_foreign)
{
	struct iris_store *s = open_store(NULL);
	sqlite3 *db;
	FILE *f;

	iris_store_close(s);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version=99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refused(IRIS_EVERSION, "newer");

	/* Another program's database. */
	unlink(path);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x);", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refused(IRIS_ECORRUPT, "not an Iris store");

	/* Not a database at all. */
	unlink(path);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, just some text........\n"
	    "................................................................"
	    "................................................................",
	    f);
	fclose(f);
	expect_refused(IRIS_ECORRUPT, "iris.db");
}
END_TEST

/* A second handle on the same files, in this or another process, is
 * refused before it touches them; the first one's close frees them. */
START_TEST(test_store_one_handle_at_a_time)
{
	struct iris_store *s = open_store(NULL), *again;

	expect_refused(IRIS_EBUSY, "in use by another process");
	iris_store_close(s);
	again = open_store(NULL);
	iris_store_close(again);
}
END_TEST

START_TEST(test_store_bad_input)
{
	struct iris_store *s = open_store(NULL);
	struct iris_send *m;
	uint8_t cmid[16] = { 1 };
	char big[65537];
	uint64_t v;

	ck_assert_int_eq(iris_send_new(&m, "", 1, cmid, 0), IRIS_EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(iris_send_new(&m, "a b", 1, cmid, 0), IRIS_EINVAL);
	ck_assert_int_eq(iris_send_new(&m, "alice", 0, cmid, 0), IRIS_EINVAL);
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid, 9), IRIS_EINVAL);
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, NULL, 0), IRIS_EINVAL);
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid, 0), IRIS_OK);
	ck_assert_int_eq(iris_send_add(m, "bob", 1, "x", 0), IRIS_EINVAL);
	ck_assert_int_eq(iris_send_add(m, "bob", 0, "x", 1), IRIS_EINVAL);
	ck_assert_int_eq(iris_send_add(m, "bob\n", 1, "x", 1), IRIS_EINVAL);
	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(iris_send_add(m, "bob", 1, big, sizeof(big)),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris_send_add(m, "bob", 1, "x", 1), IRIS_OK);
	ck_assert_int_eq(iris_send_add(m, "bob", 1, "y", 1), IRIS_EEXIST);
	iris_send_free(m);

	/* An empty send, and an envelope over the store's max_envelope. */
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid, 0), IRIS_OK);
	ck_assert_int_eq(iris_store_append(s, m, append_cb, NULL),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid, 0), IRIS_OK);
	ck_assert_int_eq(iris_send_add(m, "bob", 1, big, 65536), IRIS_OK);
	ck_assert_int_eq(iris_store_append(s, m, append_cb, NULL), IRIS_OK);
	ck_assert_int_eq(iris_send_new(&m, "alice", 1, cmid, 0), IRIS_OK);
	ck_assert_int_eq(iris_send_add(m, "bob", 1, big, 65536), IRIS_OK);
	ck_assert_int_eq(iris_store_append(NULL, m, append_cb, NULL),
	    IRIS_EINVAL);

	ck_assert_int_eq(iris_store_ack(s, "bob", 0, 1, NULL, NULL),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_store_scan(s, "bob", 1, 0, 1, NULL, NULL),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_store_stat(s, "nonsense", &v), IRIS_ENOTFOUND);
	ck_assert_int_eq(iris_store_stat(s, "read_only", &v), IRIS_OK);
	ck_assert_uint_eq(v, 0);
	ck_assert_ptr_nonnull(iris_store_stat_name(0));
	ck_assert_ptr_null(iris_store_stat_name(1000));
	iris_store_close(s);
	iris_store_close(NULL);
}
END_TEST

static void
close_in_cb(struct iris_store *s, int rc, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int dup, void *arg)
{
	(void)rc, (void)msg_id, (void)seqs, (void)n, (void)dup;
	iris_store_close(s);
	*(int *)arg = 1;
}

static int
flag_set(void *arg)
{
	return *(int *)arg;
}

START_TEST(test_store_close_inside_callback)
{
	static const char *const u[] = { "bob" };
	static const uint32_t d[] = { 1 };
	struct iris_store *s = open_store(NULL);
	struct res others[5];
	int closed = 0, i;

	ck_assert_int_eq(iris_store_append(s, make_send(1, u, d, 1, "a"),
	    close_in_cb, &closed), IRIS_OK);
	for (i = 0; i < 5; i++) {
		memset(&others[i], 0, sizeof(others[i]));
		ck_assert_int_eq(iris_store_append(s, make_send((uint8_t)(i +
		    2), u, d, 1, "b"), append_cb, &others[i]), IRIS_OK);
	}
	ck_assert(run_until(base, flag_set, &closed, 10000));
	/* Everything queued was committed before the close finished. */
	s = open_store(NULL);
	{
		uint64_t acked, head;

		ck_assert_int_eq(iris_store_depth(s, "bob", 1, &acked, &head),
		    IRIS_OK);
		ck_assert_uint_eq(head, 6);
	}
	iris_store_close(s);
}
END_TEST

Suite *
suite_store(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("api");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_dense_seqs_interleaved);
	tcase_add_test(tc, test_store_send_is_a_unit_with_dedup);
	tcase_add_test(tc, test_store_dedup_window);
	tcase_add_test(tc, test_store_cursor_and_cap);
	tcase_add_test(tc, test_store_positions_follow_commits);
	tcase_add_test(tc, test_store_chain_holds_order);
	tcase_add_test(tc, test_store_ack_receipts);
	tcase_add_test(tc, test_store_retention);
	tcase_add_test(tc, test_store_retention_newer);
	tcase_add_test(tc, test_store_scan_edges);
	tcase_add_test(tc, test_store_migrates_older_schema);
	tcase_add_test(tc, test_store_refuses_newer_and_foreign);
	tcase_add_test(tc, test_store_one_handle_at_a_time);
	tcase_add_test(tc, test_store_bad_input);
	tcase_add_test(tc, test_store_close_inside_callback);
	tcase_add_test(tc, test_store_read_hold_one_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

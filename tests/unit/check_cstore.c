/* SPDX-License-Identifier: ISC */
/*
 * The client store on a real SQLite file: records written in
 * transactions come back after a reopen; nothing written in clear is in
 * the file (database or WAL); a wrong key is refused with IRIS_ECRYPTO; a
 * record moved to another row does not open; a refused transaction leaves
 * nothing behind; foreign and newer files are refused; record coding
 * refuses short and overlong input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "iris.h"
#include "iris_client.h"
#include "client/cstore.h"
#include "client/rec.h"
#include "util/alloc.h"
#include "loop.h"
#include "suites.h"

static struct event_base *base;
static char *dir;
static char path[600];
static uint8_t key[32], key2[32];

#define MARK_BODY	"secret-body-marker-7f3a"
#define MARK_USER	"marker-user-9c2e"
#define MARK_KEY	"identity-key-marker-41d0"

static void
setup(void)
{
	base = event_base_new();
	dir = make_tempdir("cstore");
	snprintf(path, sizeof(path), "%s/client.db", dir);
	memset(key, 0x11, sizeof(key));
	memset(key2, 0x22, sizeof(key2));
}

static void
teardown(void)
{
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

struct done {
	int	 n;
	int	 rc;
};

static void
txn_cb(struct iris_cs_txn *t, int rc, int deliver, void *arg)
{
	struct done *d = arg;

	(void)t, (void)deliver;
	d->n++;
	d->rc = rc;
}

static int
is_done(void *arg)
{
	return ((struct done *)arg)->n > 0;
}

/* Submits t and waits for its outcome. */
static int
run_txn(struct iris_client_store *cs, struct iris_cs_txn *t,
    struct done *d)
{
	(void)cs;
	ck_assert_int_eq(iris__cs_txn_submit(t), IRIS_OK);
	ck_assert(run_until(base, is_done, d, 5000));
	return d->rc;
}

static struct iris_client_store *
open_cs(const uint8_t *k)
{
	struct iris_client_store *cs;

	ck_assert_int_eq(iris_client_store_open(&cs, base, path, k, NULL),
	    IRIS_OK);
	return cs;
}

/* Writes one account, two outbox entries, a device list, a state. */
static void
populate(struct iris_client_store *cs, uint8_t tag[32])
{
	struct done d = { 0, 0 };
	struct iris_cs_txn *t = iris__cs_txn_new(cs, txn_cb, &d);
	uint8_t ut[32];

	iris__cs_tag(cs, CS_D_ACCOUNT, MARK_USER, strlen(MARK_USER), tag);
	iris__cs_tag(cs, CS_D_USER, MARK_USER, strlen(MARK_USER), ut);
	ck_assert_int_eq(iris__cs_op_account_new(t, 42, tag, MARK_KEY,
	    strlen(MARK_KEY)), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_cursor(t, 42, 7), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_outbox_put(t, 42, 1, "meta1", 5,
	    MARK_BODY "1", strlen(MARK_BODY) + 1, NULL, 0), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_outbox_put(t, 42, 2, "meta2", 5,
	    MARK_BODY "2", strlen(MARK_BODY) + 1, MARK_BODY "s",
	    strlen(MARK_BODY) + 1), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_devlist(t, 42, ut, MARK_USER,
	    strlen(MARK_USER)), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_state_put(t, 42, ut, MARK_KEY,
	    strlen(MARK_KEY)), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_sent(t, 42, 99, MARK_USER,
	    strlen(MARK_USER)), IRIS_OK);
	ck_assert_int_eq(iris__cs_op_received(t, 42, ut), IRIS_OK);
	ck_assert_int_eq(run_txn(cs, t, &d), IRIS_OK);
}

static int
count_meta(uint64_t seq, const uint8_t *meta, size_t len, int sealed,
    void *arg)
{
	int *n = arg;

	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(meta, seq == 1 ? "meta1" : "meta2", 5) == 0);
	ck_assert_int_eq(sealed, seq == 2);
	(*n)++;
	return IRIS_OK;
}

START_TEST(test_cstore_roundtrip)
{
	struct iris_client_store *cs = open_cs(key);
	struct iris_buf b, s;
	uint8_t tag[32], ut[32];
	int64_t id;
	uint64_t cursor;
	int n = 0;

	populate(cs, tag);
	iris_client_store_close(cs);
	cs = open_cs(key);
	iris__buf_init(&b, 0);
	iris__buf_init(&s, 0);
	ck_assert_int_eq(iris__cs_account_get(cs, tag, &id, &cursor, &b),
	    IRIS_OK);
	ck_assert_int_eq(id, 42);
	ck_assert_uint_eq(cursor, 7);
	ck_assert(b.len == strlen(MARK_KEY) && memcmp(b.p, MARK_KEY,
	    b.len) == 0);
	ck_assert_int_eq(iris__cs_outbox_metas(cs, 42, count_meta, &n),
	    IRIS_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(iris__cs_outbox_get(cs, 42, 2, &b, &s), IRIS_OK);
	ck_assert(memcmp(b.p, MARK_BODY "2", b.len) == 0);
	ck_assert(memcmp(s.p, MARK_BODY "s", s.len) == 0);
	ck_assert_int_eq(iris__cs_outbox_get(cs, 42, 1, &b, &s), IRIS_OK);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(iris__cs_outbox_get(cs, 42, 3, &b, &s),
	    IRIS_ENOTFOUND);
	iris__cs_tag(cs, CS_D_USER, MARK_USER, strlen(MARK_USER), ut);
	ck_assert_int_eq(iris__cs_devlist_get(cs, 42, ut, &b), IRIS_OK);
	ck_assert_int_eq(iris__cs_state_get(cs, 42, ut, &b), IRIS_OK);
	ck_assert_int_eq(iris__cs_sent_get(cs, 42, 99, &b), IRIS_OK);
	ck_assert_int_eq(iris__cs_sent_get(cs, 42, 98, &b), IRIS_ENOTFOUND);
	ck_assert_int_eq(iris__cs_received_has(cs, 42, ut), IRIS_OK);
	ck_assert_int_eq(iris__cs_received_has(cs, 43, ut), IRIS_ENOTFOUND);
	/* The cursor only moves forward; a deleted entry is gone. */
	{
		struct done d = { 0, 0 };
		struct iris_cs_txn *t = iris__cs_txn_new(cs, txn_cb, &d);

		iris__cs_op_cursor(t, 42, 3);
		iris__cs_op_outbox_del(t, 42, 1);
		iris__cs_op_state_del(t, 42, ut);
		ck_assert_int_eq(run_txn(cs, t, &d), IRIS_OK);
	}
	ck_assert_int_eq(iris__cs_account_get(cs, tag, &id, &cursor, &b),
	    IRIS_OK);
	ck_assert_uint_eq(cursor, 7);
	ck_assert_int_eq(iris__cs_outbox_get(cs, 42, 1, &b, NULL),
	    IRIS_ENOTFOUND);
	ck_assert_int_eq(iris__cs_state_get(cs, 42, ut, &b), IRIS_ENOTFOUND);
	iris__buf_free(&b);
	iris__buf_free(&s);
	iris_client_store_close(cs);
}
END_TEST

/* Does the file at p contain the bytes s? */
static int
file_has(const char *p, const char *s)
{
	FILE *f = fopen(p, "rb");
	size_t n = strlen(s), len;
	char *buf;
	int found = 0;

	if (f == NULL)
		return 0;
	buf = malloc(8 << 20);
	len = fread(buf, 1, 8 << 20, f);
	fclose(f);
	for (size_t i = 0; i + n <= len && !found; i++)
		found = memcmp(buf + i, s, n) == 0;
	free(buf);
	return found;
}

START_TEST(test_cstore_no_plaintext)
{
	struct iris_client_store *cs = open_cs(key);
	const char *marks[] = { MARK_BODY, MARK_USER, MARK_KEY, "meta1" };
	char wal[640];
	uint8_t tag[32];
	size_t i;

	populate(cs, tag);
	/* Look while the WAL still holds the writes, then after close. */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		ck_assert_msg(!file_has(path, marks[i]), "%s in db", marks[i]);
		ck_assert_msg(!file_has(wal, marks[i]), "%s in wal", marks[i]);
	}
	iris_client_store_close(cs);
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		ck_assert_msg(!file_has(path, marks[i]), "%s in db", marks[i]);
}
END_TEST

START_TEST(test_cstore_wrong_key)
{
	struct iris_client_store *cs = open_cs(key);
	uint8_t tag[32];

	populate(cs, tag);
	/* One handle at a time: a second is refused, whatever its key. */
	{
		struct iris_client_store *again = NULL;

		ck_assert_int_eq(iris_client_store_open(&again, base, path,
		    key, NULL), IRIS_EBUSY);
		ck_assert_ptr_null(again);
	}
	iris_client_store_close(cs);
	ck_assert_int_eq(iris_client_store_open(&cs, base, path, key2, NULL),
	    IRIS_ECRYPTO);
	ck_assert_ptr_null(cs);
	/* The right key still opens it: nothing was changed. */
	cs = open_cs(key);
	iris_client_store_close(cs);
}
END_TEST

static void
raw_exec(const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

START_TEST(test_cstore_swapped_records)
{
	struct iris_client_store *cs = open_cs(key);
	struct iris_buf b;
	uint8_t tag[32];
	int64_t id;
	uint64_t cursor;
	int n = 0;

	populate(cs, tag);
	iris_client_store_close(cs);
	/* Swap the bodies of outbox entries 1 and 2. */
	raw_exec("CREATE TEMP TABLE x AS SELECT seq, body FROM outbox;"
	    " UPDATE outbox SET body = (SELECT body FROM x"
	    " WHERE x.seq = 3 - outbox.seq)");
	cs = open_cs(key);
	iris__buf_init(&b, 0);
	ck_assert_int_eq(iris__cs_outbox_get(cs, 42, 1, &b, NULL),
	    IRIS_ECRYPTO);
	ck_assert_int_eq(iris__cs_outbox_get(cs, 42, 2, &b, NULL),
	    IRIS_ECRYPTO);
	/* The metas were not moved and still open. */
	ck_assert_int_eq(iris__cs_outbox_metas(cs, 42, count_meta, &n),
	    IRIS_OK);
	iris_client_store_close(cs);
	/* An account moved to another id; a meta moved to another account. */
	raw_exec("UPDATE accounts SET id = 43; UPDATE outbox SET account = 43"
	    " WHERE seq = 1");
	cs = open_cs(key);
	ck_assert_int_eq(iris__cs_account_get(cs, tag, &id, &cursor, &b),
	    IRIS_ECRYPTO);
	ck_assert_int_eq(iris__cs_outbox_metas(cs, 43, count_meta, &n),
	    IRIS_ECRYPTO);
	iris__buf_free(&b);
	iris_client_store_close(cs);
}
END_TEST

START_TEST(test_cstore_refused_txn)
{
	struct iris_client_store *cs = open_cs(key);
	struct done d = { 0, 0 };
	struct iris_cs_txn *t;
	struct iris_buf b;
	uint8_t tag[32], st[32];

	populate(cs, tag);
	/* A taken account name: nothing of the transaction stays. */
	memset(st, 0x5a, sizeof(st));
	t = iris__cs_txn_new(cs, txn_cb, &d);
	iris__cs_op_state_put(t, 42, st, "x", 1);
	iris__cs_op_account_new(t, 77, tag, "y", 1);
	ck_assert_int_eq(run_txn(cs, t, &d), IRIS_EEXIST);
	iris__buf_init(&b, 0);
	ck_assert_int_eq(iris__cs_state_get(cs, 42, st, &b), IRIS_ENOTFOUND);
	/* A duplicate outbox seq likewise. */
	d.n = 0;
	t = iris__cs_txn_new(cs, txn_cb, &d);
	iris__cs_op_state_put(t, 42, st, "x", 1);
	iris__cs_op_outbox_put(t, 42, 2, "m", 1, "b", 1, NULL, 0);
	ck_assert_int_eq(run_txn(cs, t, &d), IRIS_EEXIST);
	ck_assert_int_eq(iris__cs_state_get(cs, 42, st, &b), IRIS_ENOTFOUND);
	/* And a good one in the same store still commits. */
	d.n = 0;
	t = iris__cs_txn_new(cs, txn_cb, &d);
	iris__cs_op_state_put(t, 42, st, "x", 1);
	ck_assert_int_eq(run_txn(cs, t, &d), IRIS_OK);
	ck_assert_int_eq(iris__cs_state_get(cs, 42, st, &b), IRIS_OK);
	iris__buf_free(&b);
	iris_client_store_close(cs);
}
END_TEST

START_TEST(test_cstore_foreign_files)
{
	struct iris_client_store *cs;
	FILE *f;

	/* Not SQLite. */
	f = fopen(path, "w");
	fputs("this is not a database, not even close to one.........", f);
	for (int i = 0; i < 100; i++)
		fputs("padding padding padding padding padding\n", f);
	fclose(f);
	ck_assert_int_eq(iris_client_store_open(&cs, base, path, key, NULL),
	    IRIS_ECORRUPT);
	remove(path);
	/* Another SQLite file. */
	raw_exec("CREATE TABLE t (x)");
	ck_assert_int_eq(iris_client_store_open(&cs, base, path, key, NULL),
	    IRIS_ECORRUPT);
	remove(path);
	/* A newer client store. */
	cs = open_cs(key);
	iris_client_store_close(cs);
	raw_exec("PRAGMA user_version = 99");
	ck_assert_int_eq(iris_client_store_open(&cs, base, path, key, NULL),
	    IRIS_EVERSION);
	/* Bad arguments. */
	ck_assert_int_eq(iris_client_store_open(&cs, base, NULL, key, NULL),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_client_store_open(&cs, base, path, NULL, NULL),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_client_store_open(NULL, base, path, key, NULL),
	    IRIS_EINVAL);
	iris_client_store_close(NULL);
	ck_assert_str_eq(iris_client_store_error(NULL), "");
}
END_TEST

START_TEST(test_cstore_rec_coding)
{
	struct iris_buf b;
	struct iris_rd r;
	char s[8];
	size_t n;
	const uint8_t *p;

	iris__buf_init(&b, 16);
	iris__buf_u8(&b, 1);
	iris__buf_u32(&b, 0xdeadbeef);
	iris__buf_str8(&b, "abc", 3);
	iris__buf_bytes32(&b, "xy", 2);
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_eq(b.len, 1 + 4 + 4 + 6);
	iris__rd_init(&r, b.p, b.len);
	ck_assert_uint_eq(iris__rd_u8(&r), 1);
	ck_assert_uint_eq(iris__rd_u32(&r), 0xdeadbeef);
	iris__rd_str8(&r, s, sizeof(s));
	ck_assert_str_eq(s, "abc");
	p = iris__rd_bytes32(&r, &n, 10);
	ck_assert(p != NULL && n == 2 && memcmp(p, "xy", 2) == 0);
	ck_assert_int_eq(iris__rd_done(&r), IRIS_OK);
	/* Short: every read past the end is refused and sticky. */
	iris__rd_init(&r, b.p, 3);
	(void)iris__rd_u32(&r);
	ck_assert_int_eq(iris__rd_done(&r), IRIS_ECORRUPT);
	/* Left over bytes are refused too. */
	iris__rd_init(&r, b.p, b.len);
	(void)iris__rd_u8(&r);
	ck_assert_int_eq(iris__rd_done(&r), IRIS_ECORRUPT);
	/* A length beyond what is there, or beyond the bound. */
	iris__rd_init(&r, b.p + 9, b.len - 9);
	ck_assert_ptr_null(iris__rd_bytes32(&r, &n, 1));
	/* The buffer's own bound. */
	iris__buf_put(&b, "0123456789", 10);
	ck_assert_int_eq(b.err, IRIS_ETOOBIG);
	iris__buf_free(&b);
}
END_TEST

START_TEST(test_cstore_oom)
{
	struct iris_client_store *cs;
	struct iris_cs_txn *t;
	struct done d = { 0, 0 };
	unsigned long nth;
	uint8_t tag[32];
	int rc, failed = 0;

	for (nth = 1; nth < 100; nth++) {
		iris__alloc_fail_after(nth);
		rc = iris_client_store_open(&cs, base, path, key, NULL);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_ptr_null(cs);
		failed++;
	}
	ck_assert_uint_lt(nth, 100);
	ck_assert_int_gt(failed, 0);
	/* Building a transaction under failures: refused, nothing kept. */
	memset(tag, 7, sizeof(tag));
	for (nth = 1, failed = 0; nth < 100; nth++) {
		t = iris__cs_txn_new(cs, txn_cb, &d);
		iris__alloc_fail_after(nth);
		rc = t == NULL ? IRIS_ENOMEM : iris__cs_op_state_put(t, 1, tag,
		    "abc", 3);
		if (rc == IRIS_OK)
			rc = iris__cs_op_outbox_put(t, 1, 1, "m", 1, "b", 1,
			    "s", 1);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		iris__cs_txn_free(t);
		failed++;
	}
	ck_assert_int_gt(failed, 0);
	ck_assert_int_eq(run_txn(cs, t, &d), IRIS_OK);
	iris_client_store_close(cs);
}
END_TEST

Suite *
suite_cstore(void)
{
	Suite *s = suite_create("cstore");
	TCase *tc = tcase_create("cstore");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cstore_roundtrip);
	tcase_add_test(tc, test_cstore_no_plaintext);
	tcase_add_test(tc, test_cstore_wrong_key);
	tcase_add_test(tc, test_cstore_swapped_records);
	tcase_add_test(tc, test_cstore_refused_txn);
	tcase_add_test(tc, test_cstore_foreign_files);
	tcase_add_test(tc, test_cstore_rec_coding);
	tcase_add_test(tc, test_cstore_oom);
	suite_add_tcase(s, tc);
	return s;
}

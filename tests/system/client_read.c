/* SPDX-License-Identifier: ISC */
/*
 * Read receipts through the client library against a real engine on
 * this process's loop: alice marks bob's message read, and the receipt
 * reaches bob's two devices and alice's other device (the read callback,
 * never the message callback, and no sent report at alice); it is end to
 * end encrypted (the message id it names is in none of the receipt
 * envelopes the server stored, nor in the sealed outbox record that
 * went out); one made offline waits in the outbox and goes once online;
 * with the receipts privacy setting off none reaches bob's devices
 * while alice's other device still gets it, shown by a later receipt
 * (with receipts on again) reaching bob in order; reads made in one loop
 * turn go as one receipt (counted in the server's store), an id twice
 * once; a read made just before the client is freed is kept and sent.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "devtest.h"
#include "evloop.h"

#define T		DT_T

static int failures;
static struct dt_env env;
static struct iris_engine *eng;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_read: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static struct dt_dev alice, alice2, bob, bob2;

/* bob sends body to alice; returns once alice and alice-2 have it. */
static void
bob_sends(const char *body, uint8_t id[16])
{
	size_t a = alice.r.nmsgs, a2 = alice2.r.nmsgs;

	EXPECT(iris_client_send(bob.c, "alice", 7, body, strlen(body), id) ==
	    IRIS_OK, "send %s", body);
	EXPECT(ct_wait_msgs(env.base, &alice.r, a + 1, T) &&
	    ct_wait_msgs(env.base, &alice2.r, a2 + 1, T), "alice got %s",
	    body);
	EXPECT(memcmp(alice.r.msgs[a].id, id, 16) == 0, "the id of %s",
	    body);
}

/* How many reads of id, by alice's device 1, d has seen. */
static int
reads_of(const struct dt_dev *d, const uint8_t id[16])
{
	size_t i;
	int n = 0;

	for (i = 0; i < d->nreads && i < DT_READS; i++)
		if (memcmp(d->reads[i].id, id, 16) == 0 &&
		    strcmp(d->reads[i].user, "alice") == 0 &&
		    d->reads[i].device == 1 && d->reads[i].time > 0)
			n++;
	return n;
}

struct read_want {
	struct dt_dev	*d;
	const uint8_t	*id;
};

static int
read_in(void *arg)
{
	struct read_want *w = arg;

	return reads_of(w->d, w->id) > 0;
}

static int
wait_read(struct dt_dev *d, const uint8_t id[16])
{
	struct read_want w = { d, id };

	return run_until(env.base, read_in, &w, T);
}

static int
has(const uint8_t *p, size_t len, const uint8_t id[16])
{
	size_t i;

	for (i = 0; i + 16 <= len; i++)
		if (memcmp(p + i, id, 16) == 0)
			return 1;
	return 0;
}

/* The receipt envelopes the server stored: n of them, none holds id. */
static int
stored_receipts(const uint8_t id[16], int *clear)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int n = 0;

	*clear = 1;
	if (sqlite3_open_v2("data/iris.db", &db, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT envelope FROM inbox WHERE class ="
	    " 1", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			n++;
			if (has(sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0), id))
				*clear = 0;
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

struct sealed_want {
	struct dt_dev	*d;
	struct iris_buf	*out;
};

static int
sealed_in(void *arg)
{
	struct sealed_want *w = arg;
	struct ob_entry *e = w->d->c->ob_head;

	return e != NULL && e->state == OB_READY && iris__cs_outbox_get(
	    w->d->c->cs, w->d->c->acct, e->seq, NULL, w->out) == IRIS_OK &&
	    w->out->len > 0;
}

static void
set_receipts(int on)
{
	struct ct_done done = { 0, 0 };

	EXPECT(iris_client_set_privacy(alice.c, IRIS_PRIVACY_EVERYONE, on,
	    ct_done_cb, &done) == IRIS_OK, "privacy");
	EXPECT(ct_wait_done(env.base, &done, T) == IRIS_OK, "privacy: %d",
	    done.rc);
}

static int
count_meta(uint64_t seq, const uint8_t *meta, size_t len, int sealed,
    void *arg)
{
	(void)seq, (void)meta, (void)len, (void)sealed;
	++*(int *)arg;
	return IRIS_OK;
}

static int64_t alice_acct;

/* The freed client's last transaction has committed the receipt. */
static int
in_store(void *arg)
{
	int n = 0;

	(void)arg;
	return iris__cs_outbox_metas(env.store, alice_acct, count_meta,
	    &n) == IRIS_OK && n > 0;
}

/* Three reads in one turn are one receipt; a read made just before
 * the client is freed is sent by the next client object. */
static void
batched(void)
{
	uint8_t m[4][16];
	int i;

	for (i = 0; i < 3; i++) {
		char body[16];

		snprintf(body, sizeof(body), "batch %d", i);
		bob_sends(body, m[i]);
	}
	for (i = 0; i < 3; i++)
		EXPECT(iris_client_read(alice.c, "bob", m[i]) == IRIS_OK,
		    "read %d", i);
	EXPECT(iris_client_read(alice.c, "bob", m[0]) == IRIS_OK, "again");
	for (i = 0; i < 3; i++)
		EXPECT(wait_read(&bob, m[i]) && wait_read(&alice2, m[i]),
		    "batched read %d", i);
	EXPECT(reads_of(&bob, m[0]) == 1, "a read twice in a batch: %d",
	    reads_of(&bob, m[0]));
	bob_sends("last", m[3]);
	EXPECT(iris_client_read(alice.c, "bob", m[3]) == IRIS_OK, "read");
	alice_acct = alice.c->acct;
	dt_close(&alice);
	EXPECT(run_until(env.base, in_store, NULL, T), "not in the outbox");
	dt_open(&env, &alice, "alice", "alice");
	EXPECT(iris_client_connect(alice.c) == IRIS_OK, "connect");
	EXPECT(wait_read(&bob, m[3]) && wait_read(&bob2, m[3]), "the read "
	    "made before the free");
}

int
main(void)
{
	struct sealed_want sw;
	struct iris_buf sealed;
	uint8_t key[32], m1[16], m2[16], m3[16], m4[16];
	size_t bob_msgs, queued;
	uint32_t seed;
	int n, clear;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("client_read: IRIS_TEST_SEED=%u (no randomness used)\n", seed);
	if (dt_env_up(&env, &eng, "client_read", 7) != 0)
		return 1;
	ct_key(key, 7);
	dt_register(&env, &alice, "alice");
	dt_register(&env, &bob, "bob");
	(void)dt_link(&env, &alice2, &alice, "alice-2", key);
	(void)dt_link(&env, &bob2, &bob, "bob-2", key);

	/* Read: to bob's devices and alice's other one, as reads only. */
	bob_sends("one", m1);
	bob_msgs = bob.r.nmsgs;
	queued = alice.r.queued;
	EXPECT(iris_client_read(alice.c, "bob", m1) == IRIS_OK, "read: %s",
	    iris_client_error(alice.c));
	EXPECT(wait_read(&bob, m1) && wait_read(&bob2, m1) &&
	    wait_read(&alice2, m1), "read receipts: bob %zu, bob-2 %zu, "
	    "alice-2 %zu", bob.nreads, bob2.nreads, alice2.nreads);
	EXPECT(reads_of(&bob, m1) == 1 && reads_of(&bob2, m1) == 1 &&
	    reads_of(&alice2, m1) == 1 && alice.nreads == 0, "once each");
	EXPECT(bob.r.nmsgs == bob_msgs && alice2.r.nmsgs == alice.r.nmsgs,
	    "a read receipt reached a message callback");
	EXPECT(alice.r.queued == queued && alice.r.failed == 0,
	    "read receipts reported as sends");

	/* Made offline: it waits in the outbox, sealed, and goes later. */
	bob_sends("two", m2);
	iris_client_disconnect(alice.c);
	EXPECT(iris_client_read(alice.c, "bob", m2) == IRIS_OK, "read two");
	iris__buf_init(&sealed, 0);
	sw.d = &alice;
	sw.out = &sealed;
	EXPECT(run_until(env.base, sealed_in, &sw, T) && alice.c->ob_n == 1 &&
	    iris_client_outbox(alice.c) == 0, "the receipt is not sealed in "
	    "the outbox");
	EXPECT(sealed.len > 3 && (sealed.p[1] << 8 | sealed.p[2]) == 3 &&
	    !has(sealed.p, sealed.len, m2), "the sealed receipt: %zu bytes, "
	    "clear %d", sealed.len, has(sealed.p, sealed.len, m2));
	iris__buf_free(&sealed);
	EXPECT(iris_client_connect(alice.c) == IRIS_OK, "connect");
	EXPECT(wait_read(&bob, m2) && wait_read(&alice2, m2), "the offline "
	    "read receipt");

	/* Receipts off: alice's other device only; then on again. */
	set_receipts(0);
	bob_sends("three", m3);
	EXPECT(iris_client_read(alice.c, "bob", m3) == IRIS_OK, "read three");
	EXPECT(wait_read(&alice2, m3), "alice-2 got the read of three");
	set_receipts(1);
	bob_sends("four", m4);
	EXPECT(iris_client_read(alice.c, "bob", m4) == IRIS_OK, "read four");
	EXPECT(wait_read(&bob, m4) && wait_read(&bob2, m4), "read of four");
	EXPECT(reads_of(&bob, m3) == 0 && reads_of(&bob2, m3) == 0,
	    "a read receipt went out with receipts off");
	EXPECT(iris_client_read(alice.c, "no one", m4) == IRIS_EINVAL &&
	    iris_client_read(alice.c, "bob", NULL) == IRIS_EINVAL,
	    "bad input");
	batched();
	dt_close(&alice);
	dt_close(&alice2);
	dt_close(&bob);
	dt_close(&bob2);
	iris_client_store_close(env.store);
	iris_engine_free(eng);
	event_base_free(env.base);
	/* 3 + 3 + 1 + 3 receipt envelopes, none naming what was read. */
	n = stored_receipts(m1, &clear);
	/* 3 + 3 + 1 + 3, then one batch of three ids for 3 devices, and
	 * the read made right before a free: 16 envelopes. */
	EXPECT(n == 16 && clear, "receipt envelopes stored: %d, clear %d",
	    n, clear);
	n = stored_receipts(m4, &clear);
	EXPECT(clear, "the read of four in the clear");
	if (failures > 0 || env.failures > 0)
		return 1;
	printf("client_read: read receipts to the sender's devices and the "
	    "reader's others, encrypted, durable offline, none with "
	    "receipts off: ok\n");
	return 0;
}

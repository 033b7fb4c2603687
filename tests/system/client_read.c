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
 * (with receipts on again) reaching bob in order.
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
#include "clienttest.h"
#include "evloop.h"

#define T		15000
#define READS_MAX	64

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static struct iris_client_store *store;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_read: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

struct read {
	uint8_t		 id[16];
	char		 user[65];
	uint32_t	 device;
	uint64_t	 time;
};

struct dev {
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
	struct read		 reads[READS_MAX];
	size_t			 nreads;
};

static struct dev alice, alice2, bob, bob2;

static void
on_read(struct iris_client *c, const uint8_t id[16], const char *user,
    uint32_t device, uint64_t time_ms, void *arg)
{
	struct dev *d = arg;
	struct read *x;

	(void)c;
	if (d->nreads < READS_MAX) {
		x = &d->reads[d->nreads];
		memcpy(x->id, id, 16);
		snprintf(x->user, sizeof(x->user), "%s", user);
		x->device = device;
		x->time = time_ms;
	}
	d->nreads++;
}

static void
dev_open(struct dev *d, const char *user, const char *account)
{
	snprintf(d->user, sizeof(d->user), "%s", user);
	ct_rec_init(&d->r, account);
	d->c = ct_client(base, store, port, fp, user, account, &d->r);
	if (d->c == NULL) {
		fprintf(stderr, "client_read: no client %s\n", account);
		exit(1);
	}
	iris_client_set_read_cb(d->c, on_read, d);
}

static void
dev_register(struct dev *d, const char *user)
{
	struct ct_done done = { 0, 0 };

	dev_open(d, user, user);
	EXPECT(iris_client_register(d->c, NULL, ct_done_cb, &done) ==
	    IRIS_OK, "register %s", user);
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "register %s: %d",
	    user, done.rc);
}

struct token {
	struct ct_done	 d;
	char		 token[80];
};

static void
token_cb(struct iris_client *c, int rc, const char *token, uint64_t exp,
    void *arg)
{
	struct token *t = arg;

	(void)c, (void)exp;
	t->d.done = 1;
	t->d.rc = rc;
	if (token != NULL)
		snprintf(t->token, sizeof(t->token), "%s", token);
}

static void
dev_link(struct dev *d, struct dev *primary, const char *account)
{
	struct ct_done done = { 0, 0 };
	struct token tk;
	uint8_t key[32];
	uint32_t id;

	memset(&tk, 0, sizeof(tk));
	EXPECT(iris_client_link_token(primary->c, token_cb, &tk) == IRIS_OK,
	    "link token");
	EXPECT(ct_wait_done(base, &tk.d, T) == IRIS_OK, "link token");
	dev_open(d, primary->user, account);
	EXPECT(iris_client_link(d->c, tk.token, ct_done_cb, &done) == IRIS_OK,
	    "link");
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "link %s", account);
	iris_client_user(d->c, &id);
	iris_client_identity(d->c, key);
	memset(&done, 0, sizeof(done));
	EXPECT(iris_client_add_device(primary->c, id, key, ct_done_cb,
	    &done) == IRIS_OK, "add");
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "add %s", account);
}

/* bob sends body to alice; returns once alice and alice-2 have it. */
static void
bob_sends(const char *body, uint8_t id[16])
{
	size_t a = alice.r.nmsgs, a2 = alice2.r.nmsgs;

	EXPECT(iris_client_send(bob.c, "alice", 7, body, strlen(body), id) ==
	    IRIS_OK, "send %s", body);
	EXPECT(ct_wait_msgs(base, &alice.r, a + 1, T) &&
	    ct_wait_msgs(base, &alice2.r, a2 + 1, T), "alice got %s", body);
	EXPECT(memcmp(alice.r.msgs[a].id, id, 16) == 0, "the id of %s",
	    body);
}

/* How many reads of id, by alice's device 1, d has seen. */
static int
reads_of(const struct dev *d, const uint8_t id[16])
{
	size_t i;
	int n = 0;

	for (i = 0; i < d->nreads && i < READS_MAX; i++)
		if (memcmp(d->reads[i].id, id, 16) == 0 &&
		    strcmp(d->reads[i].user, "alice") == 0 &&
		    d->reads[i].device == 1 && d->reads[i].time > 0)
			n++;
	return n;
}

struct read_want {
	struct dev	*d;
	const uint8_t	*id;
};

static int
read_in(void *arg)
{
	struct read_want *w = arg;

	return reads_of(w->d, w->id) > 0;
}

static int
wait_read(struct dev *d, const uint8_t id[16])
{
	struct read_want w = { d, id };

	return run_until(base, read_in, &w, T);
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
	struct dev	*d;
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
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "privacy: %d",
	    done.rc);
}

int
main(void)
{
	struct iris_config *cfg;
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
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_read: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 7);
	if (iris_client_store_open(&store, base, "client.db", key, NULL) !=
	    IRIS_OK)
		return 1;
	dev_register(&alice, "alice");
	dev_register(&bob, "bob");
	dev_link(&alice2, &alice, "alice-2");
	dev_link(&bob2, &bob, "bob-2");

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
	EXPECT(alice.c->ob_n == 1 && iris_client_outbox(alice.c) == 0 &&
	    run_until(base, sealed_in, &sw, T), "the receipt is not sealed "
	    "in the outbox");
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

	iris_client_free(alice.c);
	iris_client_free(alice2.c);
	iris_client_free(bob.c);
	iris_client_free(bob2.c);
	ct_rec_free(&alice.r);
	ct_rec_free(&alice2.r);
	ct_rec_free(&bob.r);
	ct_rec_free(&bob2.r);
	iris_client_store_close(store);
	iris_engine_free(eng);
	event_base_free(base);
	/* 3 + 3 + 1 + 3 receipt envelopes, none naming what was read. */
	n = stored_receipts(m1, &clear);
	EXPECT(n >= 10 && clear, "receipt envelopes stored: %d, clear %d",
	    n, clear);
	n = stored_receipts(m4, &clear);
	EXPECT(clear, "the read of four in the clear");
	if (failures > 0)
		return 1;
	printf("client_read: read receipts to the sender's devices and the "
	    "reader's others, encrypted, durable offline, none with "
	    "receipts off: ok\n");
	return 0;
}

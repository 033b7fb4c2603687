/* SPDX-License-Identifier: ISC */
/*
 * Delivery receipts when the sender's disk is slow: the server's ack of
 * a send and the receipt its recipient's ack makes can both arrive while
 * the sender's record of the ack is still committing. Every receipt must
 * still reach the embedder, naming the message it is for, exactly once.
 * Bob's client store runs on a VFS whose every sync takes 150 ms longer;
 * alice's on the real disk. Each sends to the other and waits for every
 * receipt.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/cstore.h"
#include "clienttest.h"
#include "evloop.h"
#include "faultvfs.h"

#define T		30000	/* ms, for any one wait */
#define N		12	/* messages each way */
#define SLOW_MS		150

static int failures;
static struct event_base *base;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_receipts: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

struct side {
	struct iris_client_store *cs;
	struct iris_client	*c;
	struct ct_rec		 r;
	uint8_t			 ids[N][16];
};

static int
open_side(struct side *s, const char *user, const char *path,
    const char *vfs, uint8_t seed, int port, const char *fp)
{
	struct iris__cs_opts o = { 0 };
	struct ct_done done = { 0, 0 };
	uint8_t key[32];

	ct_key(key, seed);
	o.vfs = vfs;
	if (iris__cs_open_ex(&s->cs, base, path, key, NULL, &o) != IRIS_OK) {
		fprintf(stderr, "client_receipts: no store %s\n", path);
		return -1;
	}
	ct_rec_init(&s->r, user);
	if ((s->c = ct_client(base, s->cs, port, fp, user, user, &s->r)) ==
	    NULL)
		return -1;
	EXPECT(iris_client_register(s->c, NULL, ct_done_cb, &done) ==
	    IRIS_OK, "register %s", user);
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "register %s: %d %s",
	    user, done.rc, iris_client_error(s->c));
	return done.rc == IRIS_OK ? 0 : -1;
}

static void
send_all(struct side *from, const char *to)
{
	char body[32];
	int i;

	for (i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "for %s %d", to, i);
		EXPECT(iris_client_send(from->c, to, 1, body, strlen(body),
		    from->ids[i]) == IRIS_OK, "send %s", body);
	}
}

struct want {
	const struct ct_rec	*r;
	size_t			 n;
};

static int
receipts_in(void *arg)
{
	const struct want *w = arg;

	return w->r->receipts >= w->n;
}

static int
acked_and_received(void *arg)
{
	struct side *const *s = arg;

	return s[0]->r.acked >= N && s[1]->r.acked >= N &&
	    s[0]->r.nmsgs >= N && s[1]->r.nmsgs >= N;
}

int
main(void)
{
	struct side alice, bob, *both[2] = { &alice, &bob };
	struct want wa = { &alice.r, N }, wb = { &bob.r, N };
	struct iris_engine *eng;
	struct iris_config *cfg;
	char fp[65];
	int port;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0 || faultvfs_register() != 0)
		return 1;
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	faultvfs_sync_delay("bob.db", SLOW_MS);
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_receipts: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	if (open_side(&alice, "alice", "alice.db", NULL, 1, port, fp) != 0 ||
	    open_side(&bob, "bob", "bob.db", FAULTVFS_NAME, 2, port, fp) != 0)
		return 1;
	send_all(&bob, "alice");
	send_all(&alice, "bob");
	EXPECT(run_until(base, acked_and_received, both, T),
	    "acked %zu/%zu, received %zu/%zu", alice.r.acked, bob.r.acked,
	    alice.r.nmsgs, bob.r.nmsgs);
	EXPECT(run_until(base, receipts_in, &wb, T), "bob (slow disk) saw "
	    "%zu of %d receipts", bob.r.receipts, N);
	EXPECT(run_until(base, receipts_in, &wa, T), "alice saw %zu of %d "
	    "receipts", alice.r.receipts, N);
	/* The last receipt names the last message; none came twice. */
	EXPECT(memcmp(bob.r.receipt_id, bob.ids[N - 1], 16) == 0 &&
	    strcmp(bob.r.receipt_user, "alice") == 0, "bob's last receipt");
	EXPECT(memcmp(alice.r.receipt_id, alice.ids[N - 1], 16) == 0 &&
	    strcmp(alice.r.receipt_user, "bob") == 0, "alice's last receipt");
	EXPECT(bob.r.receipts == N && alice.r.receipts == N,
	    "receipts twice: %zu %zu", bob.r.receipts, alice.r.receipts);
	iris_client_free(alice.c);
	iris_client_free(bob.c);
	ct_rec_free(&alice.r);
	ct_rec_free(&bob.r);
	iris_client_store_close(alice.cs);
	iris_client_store_close(bob.cs);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("client_receipts: %d receipts each way, sender's syncs %d ms "
	    "slower: ok\n", N, SLOW_MS);
	return 0;
}

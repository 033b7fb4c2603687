/* SPDX-License-Identifier: ISC */
/*
 * Device lists a client is given, against a real engine on this
 * process's loop. A delivery from a user whose list the receiver does
 * not have waits for the list to be fetched and then opens (the prekey
 * envelope's identity is never taken on its word). At bob, who has
 * alice's list: a forged list (signed by another key, or a changed byte)
 * and a rolled-back one (alice's primary's signature, a lower version)
 * are refused with IRIS_ECRYPTO and IRIS_ESTALE through the fetch path
 * and the stale-refusal path, each reported to the error callback, and
 * nothing stored changes (memory, store record, no identity event). At
 * carol: a list adding a device and then one changing its key give one
 * add and one identity-changed event with the keys, the same list again
 * gives none, and the rekeyed device's session is gone. The keys made
 * are random (libsodium); the seed printed orders nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "devtest.h"
#include "evloop.h"

static int failures;
static struct dt_env env;
static struct iris_engine *eng;
static struct dt_dev alice, bob, carol;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_devlists: line %d: ", __LINE__);\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

/* At bob: a forged list of alice and a rolled-back one, both paths. */
static void
refused(void)
{
	const char *want[] = { "alice", NULL };
	iris_v1_SignedDeviceList sl;
	struct iris_buf before, after;
	struct devlist *l, *known;
	uint8_t pk[32], sk[64], keys[2][32];
	uint32_t ids[2] = { 1, 2 };
	char user[65];
	uint64_t version;
	size_t nev = bob.nev, errs = bob.r.errors;
	int changed;

	iris__buf_init(&before, 0);
	iris__buf_init(&after, 0);
	known = iris__devlist_find(bob.c, "alice");
	EXPECT(known != NULL && dt_stored_list(&bob, "alice", &before) ==
	    IRIS_OK, "bob's list of alice");
	if (known == NULL)
		return;
	version = known->version;
	memcpy(keys[0], known->primary, 32);
	randombytes_buf(keys[1], 32);
	/* Forged: a higher version signed by a key that is not alice's
	 * primary; then the right signer, one byte changed after. */
	crypto_sign_keypair(pk, sk);
	EXPECT(dt_make_list(&sl, "alice", version + 10, ids,
	    (const uint8_t (*)[32])keys, 2, sk) == IRIS_OK, "make");
	EXPECT(iris__devlist_accept(bob.c, "alice", &sl, &l, &changed) ==
	    IRIS_ECRYPTO, "a forged list accepted");
	EXPECT(iris__devlist_accept_any(bob.c, &sl, want, user) ==
	    IRIS_ECRYPTO, "a forged list accepted from a stale refusal");
	EXPECT(dt_make_list(&sl, "alice", version + 10, ids,
	    (const uint8_t (*)[32])keys, 2, alice.c->sk) == IRIS_OK, "make");
	sl.list.bytes[sl.list.size - 1] ^= 0x01;
	EXPECT(iris__devlist_accept(bob.c, "alice", &sl, &l, &changed) ==
	    IRIS_ECRYPTO, "a list with a changed byte accepted");
	/* Rolled back: signed by alice's primary, a lower version. */
	EXPECT(dt_make_list(&sl, "alice", version - 1, ids,
	    (const uint8_t (*)[32])keys, 1, alice.c->sk) == IRIS_OK, "make");
	EXPECT(iris__devlist_accept(bob.c, "alice", &sl, &l, &changed) ==
	    IRIS_ESTALE, "a rolled-back list accepted");
	EXPECT(iris__devlist_accept_any(bob.c, &sl, want, user) ==
	    IRIS_ESTALE, "a rolled-back list from a stale refusal");
	/* Nothing changed: memory, store, events; each refusal reported. */
	known = iris__devlist_find(bob.c, "alice");
	EXPECT(known != NULL && known->version == version, "version moved");
	EXPECT(dt_stored_list(&bob, "alice", &after) == IRIS_OK &&
	    after.len == before.len && memcmp(after.p, before.p,
	    before.len) == 0, "the stored list changed");
	EXPECT(dt_wait_errors(&bob, errs + 5) && bob.r.last_error ==
	    IRIS_ESTALE, "the refusals reported: %zu, %d",
	    bob.r.errors - errs, bob.r.last_error);
	EXPECT(bob.nev == nev, "events for a refused list: %zu",
	    bob.nev - nev);
	/* Bob still talks to alice over the list he kept. */
	dt_send(&bob, "alice", "after refusals", NULL);
	EXPECT(dt_wait_body(&alice, "after refusals"), "alice got bob's");
	iris__buf_free(&before);
	iris__buf_free(&after);
}

/* At carol: device 9 added with k1, then given k2 (alice's primary
 * signs both); carol's list then differs from the server's. */
static void
rekeyed(void)
{
	iris_v1_SignedDeviceList sl;
	struct devlist *l, *known;
	uint8_t keys[2][32];
	uint32_t ids[2] = { 1, 9 };
	size_t nev = carol.nev;
	int changed;

	known = iris__devlist_find(carol.c, "alice");
	EXPECT(known != NULL, "carol's list of alice");
	if (known == NULL)
		return;
	memcpy(keys[0], known->primary, 32);
	randombytes_buf(keys[1], 32);
	EXPECT(dt_make_list(&sl, "alice", known->version + 1, ids,
	    (const uint8_t (*)[32])keys, 2, alice.c->sk) == IRIS_OK, "make");
	EXPECT(iris__devlist_accept(carol.c, "alice", &sl, &l, &changed) ==
	    IRIS_OK && changed, "a list with device 9");
	EXPECT(dt_wait_events(&carol, nev + 1) && dt_events(&carol, "alice",
	    IRIS_CLIENT_DEVICE_ADDED, 9, keys[1]) == 1, "the add of 9");
	randombytes_buf(keys[1], 32);
	EXPECT(dt_make_list(&sl, "alice", l->version + 1, ids,
	    (const uint8_t (*)[32])keys, 2, alice.c->sk) == IRIS_OK, "make");
	EXPECT(iris__devlist_accept(carol.c, "alice", &sl, &l, &changed) ==
	    IRIS_OK && changed, "a list with device 9 rekeyed");
	EXPECT(dt_wait_events(&carol, nev + 2) && dt_events(&carol, "alice",
	    IRIS_CLIENT_IDENTITY_CHANGED, 9, keys[1]) == 1,
	    "the key change of 9: %zu events", carol.nev - nev);
	/* The same list again changes nothing. */
	EXPECT(iris__devlist_accept(carol.c, "alice", &sl, &l, &changed) ==
	    IRIS_OK && !changed, "the same list again");
	dt_send(&carol, "bob", "control", NULL);
	EXPECT(dt_wait_body(&bob, "control") && carol.nev == nev + 2,
	    "carol's events: %zu", carol.nev - nev);
	EXPECT(dt_session(&carol, "alice", 9) == IRIS_ENOTFOUND, "session");
}

int
main(void)
{
	uint32_t seed;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("client_devlists: IRIS_TEST_SEED=%u\n", seed);
	if (dt_env_up(&env, &eng, "client_devlists", 6) != 0)
		return 1;
	dt_register(&env, &alice, "alice");
	dt_register(&env, &bob, "bob");
	dt_register(&env, &carol, "carol");
	/* First messages: each receiver fetches the sender's list first. */
	EXPECT(iris__devlist_find(alice.c, "bob") == NULL &&
	    iris__devlist_find(carol.c, "alice") == NULL, "lists known");
	dt_send(&bob, "alice", "bob to alice", NULL);
	dt_send(&alice, "carol", "alice to carol", NULL);
	EXPECT(dt_wait_body(&alice, "bob to alice") && dt_wait_body(&carol,
	    "alice to carol"), "the first messages");
	EXPECT(iris__devlist_find(alice.c, "bob") != NULL &&
	    iris__devlist_find(carol.c, "alice") != NULL, "lists fetched");
	EXPECT(alice.nev == 0 && bob.nev == 0 && carol.nev == 0,
	    "events on first sight");
	refused();
	rekeyed();
	dt_close(&alice);
	dt_close(&bob);
	dt_close(&carol);
	iris_client_store_close(env.store);
	iris_engine_free(eng);
	event_base_free(env.base);
	if (failures > 0 || env.failures > 0)
		return 1;
	printf("client_devlists: lists fetched before opening, forged and "
	    "rolled-back lists refused on both paths with nothing changed, "
	    "add and rekey events once each: ok\n");
	return 0;
}

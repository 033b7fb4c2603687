/* SPDX-License-Identifier: ISC */
/*
 * Multi-device through the client library against a real engine on this
 * process's loop: a second device of alice linked with the primary's
 * approval receives (decrypted) what bob sends from then on, and gets
 * copies of what alice sends, and bob gets what it sends; identity
 * events fire once per change with the device and key, at alice (her own
 * list) and at bob (through the stale-send refusal), none on the first
 * sight of a user; once the primary removes the device, it receives
 * nothing while control messages reach the remaining devices, bob and
 * alice have forgotten their sessions with it, and an envelope it still
 * sends is refused. Forged, rolled-back and rekeyed lists are
 * client_devlists.c's.
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

#define T		DT_T

static int failures;
static struct dt_env env;
static struct iris_engine *eng;
static struct dt_dev alice, alice2, bob;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_devices: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

/* The new device gets what is sent from then on, and the copies. */
static uint32_t
linked(uint8_t key2[32])
{
	uint32_t dev2;

	dev2 = dt_link(&env, &alice2, &alice, "alice-2", key2);
	EXPECT(dt_events(&alice, "alice", IRIS_CLIENT_DEVICE_ADDED, dev2,
	    key2) == 1 && alice.nev == 1, "alice's add event: %zu",
	    alice.nev);
	dt_send(&bob, "alice", "after link", NULL);
	EXPECT(dt_wait_body(&alice2, "after link") && dt_wait_body(&alice,
	    "after link"), "both alice devices got the message after the "
	    "link: %zu %zu", alice2.r.nmsgs, alice.r.nmsgs);
	EXPECT(!dt_has_body(&alice2, "first"), "the new device got an "
	    "earlier message");
	EXPECT(dt_wait_events(&bob, 1) && dt_events(&bob, "alice",
	    IRIS_CLIENT_DEVICE_ADDED, dev2, key2) == 1 && bob.nev == 1,
	    "bob's add event: %zu", bob.nev);
	/* Copies: alice's other device sees what alice sends. */
	dt_send(&alice, "bob", "from alice", NULL);
	EXPECT(dt_wait_body(&bob, "from alice") && dt_wait_body(&alice2,
	    "from alice"), "bob and alice-2 got alice's message");
	dt_send(&alice2, "bob", "from alice-2", NULL);
	EXPECT(dt_wait_body(&bob, "from alice-2") && dt_wait_body(&alice,
	    "from alice-2"), "bob and alice got alice-2's message");
	EXPECT(dt_session(&bob, "alice", dev2) == IRIS_OK &&
	    dt_session(&alice, "alice", dev2) == IRIS_OK,
	    "sessions with alice-2");
	EXPECT(alice2.nev == 0, "alice-2's events on first sight: %zu",
	    alice2.nev);
	return dev2;
}

/* After the removal the removed device receives nothing. */
static void
unlinked(uint32_t dev2, const uint8_t key2[32])
{
	struct ct_done done = { 0, 0 };
	size_t had2, errs;

	EXPECT(iris_client_remove_device(alice.c, dev2, ct_done_cb, &done) ==
	    IRIS_OK, "remove");
	EXPECT(ct_wait_done(env.base, &done, T) == IRIS_OK, "remove: %d",
	    done.rc);
	EXPECT(dt_wait_events(&alice, 2) && dt_events(&alice, "alice",
	    IRIS_CLIENT_DEVICE_REMOVED, dev2, key2) == 1 && alice.nev == 2,
	    "alice's remove event: %zu", alice.nev);
	had2 = alice2.r.nmsgs;
	dt_send(&bob, "alice", "after unlink", NULL);
	dt_send(&alice, "bob", "alice after unlink", NULL);
	EXPECT(dt_wait_body(&alice, "after unlink") && dt_wait_body(&bob,
	    "alice after unlink"), "the control messages arrived");
	EXPECT(dt_wait_events(&bob, 2) && dt_events(&bob, "alice",
	    IRIS_CLIENT_DEVICE_REMOVED, dev2, key2) == 1 && bob.nev == 2,
	    "bob's remove event: %zu", bob.nev);
	EXPECT(dt_session(&bob, "alice", dev2) == IRIS_ENOTFOUND &&
	    dt_session(&alice, "alice", dev2) == IRIS_ENOTFOUND,
	    "sessions with the removed device kept");
	/* What alice-2 still sends is refused by bob (and reported). */
	errs = bob.r.errors;
	dt_send(&alice2, "bob", "from removed", NULL);
	EXPECT(dt_wait_errors(&bob, errs + 1), "bob's refusal");
	dt_send(&alice, "bob", "control 2", NULL);
	dt_send(&bob, "alice", "control 3", NULL);
	EXPECT(dt_wait_body(&bob, "control 2") && dt_wait_body(&alice,
	    "control 3"), "the second controls");
	EXPECT(!dt_has_body(&bob, "from removed") && !dt_has_body(&alice,
	    "from removed"), "a message from the removed device opened");
	EXPECT(alice2.r.nmsgs == had2, "the removed device got %zu",
	    alice2.r.nmsgs - had2);
	EXPECT(alice.nev == 2 && bob.nev == 2, "events after: %zu %zu",
	    alice.nev, bob.nev);
}

int
main(void)
{
	uint8_t key2[32];
	uint32_t seed, dev2;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("client_devices: IRIS_TEST_SEED=%u (no randomness used)\n",
	    seed);
	if (dt_env_up(&env, &eng, "client_devices", 5) != 0)
		return 1;
	dt_register(&env, &alice, "alice");
	dt_register(&env, &bob, "bob");
	/* Before any link: bob learns alice's one-device list. */
	dt_send(&bob, "alice", "first", NULL);
	EXPECT(dt_wait_body(&alice, "first"), "alice got the first");
	EXPECT(alice.nev == 0 && bob.nev == 0, "events on first sight: %zu "
	    "%zu", alice.nev, bob.nev);
	dev2 = linked(key2);
	unlinked(dev2, key2);
	dt_close(&alice);
	dt_close(&alice2);
	dt_close(&bob);
	iris_client_store_close(env.store);
	iris_engine_free(eng);
	event_base_free(env.base);
	if (failures > 0 || env.failures > 0)
		return 1;
	printf("client_devices: link (new device receives from then on, "
	    "copies both ways), identity events once each, unlink (removed "
	    "device gets nothing, sessions gone, its envelopes refused): "
	    "ok\n");
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * Self-healing sessions by fault injection, through the client library
 * and a real engine on this process's loop (TLS on loopback; helpers in
 * tests/support/healtest.c). Every message is eventually delivered after
 * at most one retry round trip, none is lost and none is delivered twice:
 *  - bob's session with alice rolled back to an older copy: alice's next
 *    messages do not open, are kept, asked for again once each, resent
 *    over a fresh session and delivered once each under their own ids;
 *  - the same while bob's one-time prekeys are used up (carol's fetches
 *    while he is away): the fresh session starts on his signed prekey;
 *  - an envelope damaged on its way through the server (a test hook on
 *    what alice's outbox seals): asked for again and healed, the messages
 *    after it opening meanwhile.
 * The counters of iris_client_stats() are checked exactly.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"

#include "client/client.h"
#include "client/heal.h"
#include "client/seal_e2ee.h"
#include "clienttest.h"
#include "evloop.h"
#include "healtest.h"
#include "util/clock.h"

#define C(name)		(iris_client_stats(d->c, &st, sizeof(st)), st.name)

static uint32_t seed;
static int damage;		/* envelopes to damage on their way */

/* Bob rolled back: 3 of alice's messages heal in one retry round. */
static void
rollback(struct ht_dev *alice, struct ht_dev *bob)
{
	uint64_t t0;
	struct iris_client_stats st, a0, b0;
	struct iris_buf old;
	uint8_t ids[3][16];
	struct ht_dev *d;
	size_t first;

	iris__buf_init(&old, 0);
	/* Two rounds after the copy: both sides take a DH ratchet step
	 * past it, so that the copy cannot open what comes next. */
	ht_converse(alice, bob, "R0");
	ht_session(bob, alice->user, &old, 0);
	ht_converse(alice, bob, "R1");
	ht_converse(alice, bob, "R1b");
	ht_session(bob, alice->user, &old, 1);
	iris_client_stats(alice->c, &a0, sizeof(a0));
	iris_client_stats(bob->c, &b0, sizeof(b0));
	first = bob->r.nmsgs;
	t0 = iris__clock_mono_us();
	ht_send_n(alice, bob, "R2", 3, ids);
	ht_expect_once(bob, first, "R2", 3, ids);
	printf("client_heal: 3 messages after a rollback healed %.1f ms after "
	    "they were sent (one retry round trip, a bundle fetch, X3DH)\n",
	    (double)(iris__clock_mono_us() - t0) / 1000);
	d = bob;
	HT_WAIT_STAT(bob, messages_healed, b0.messages_healed + 3);
	HT_EXPECT(C(decrypt_failed[IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC]) ==
	    b0.decrypt_failed[IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC] + 3,
	    "bob: not authentic %llu", (unsigned long long)st.decrypt_failed[
	    IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC]);
	HT_EXPECT(C(messages_kept) == b0.messages_kept + 3, "kept");
	HT_EXPECT(C(retries_sent) == b0.retries_sent + 3, "one retry round: %llu",
	    (unsigned long long)(st.retries_sent - b0.retries_sent));
	HT_EXPECT(C(sessions_reset) == b0.sessions_reset + 1, "bob reset once");
	HT_EXPECT(C(messages_given_up) == b0.messages_given_up, "given up");
	HT_EXPECT(bob->failed == 3 && bob->healed == 3, "bob's callbacks: %d "
	    "failed, %d healed", bob->failed, bob->healed);
	d = alice;
	HT_EXPECT(C(retries_received) == a0.retries_received + 3 &&
	    st.resends == a0.resends + 3, "alice: %llu retries, %llu resends",
	    (unsigned long long)st.retries_received,
	    (unsigned long long)st.resends);
	HT_EXPECT(st.sessions_reset == a0.sessions_reset + 1 &&
	    st.resets_limited == a0.resets_limited + 2, "alice: resets %llu, "
	    "limited %llu", (unsigned long long)st.sessions_reset,
	    (unsigned long long)st.resets_limited);
	HT_EXPECT(alice->r.acked == 6 + 3 && alice->r.failed == 0,
	    "alice's sends: %zu acked, %zu failed", alice->r.acked,
	    alice->r.failed);
	/* Healed for good: both ways again, nothing more asked. */
	ht_converse(alice, bob, "R3");
	d = bob;
	HT_EXPECT(C(retries_sent) == b0.retries_sent + 3, "asked again");
	iris__buf_free(&old);
}

/* Rolled back while bob's one-time prekeys are used up (by carol's
 * fetches while he is away): the resends start on his signed prekey.
 * Stats are per client object: each ht_dev_up() starts from zero. */
static void
exhausted(struct ht_dev *alice, struct ht_dev *bob, struct ht_dev *carol)
{
	struct iris_client_stats st;
	struct iris_buf old;
	struct e2s_bundle *b = NULL;
	uint8_t ids[2][16];
	struct ht_dev *d = bob;
	int i;

	iris__buf_init(&old, 0);
	ht_converse(alice, bob, "X0");
	ht_session(bob, alice->user, &old, 0);
	ht_converse(alice, bob, "X0b");
	ht_converse(alice, bob, "X0c");
	ht_session(bob, alice->user, &old, 1);
	ht_dev_down(bob);
	ht_dev_down(alice);
	ht_dev_up(alice, "alice", 0);
	ht_send_n(alice, bob, "X1", 2, ids);
	HT_EXPECT(ct_wait_acked(ht_base, &alice->r, 2, T), "alice's sends");
	ht_dev_down(alice);
	ht_dev_up(bob, "bob", 0);
	HT_WAIT_STAT(bob, retries_sent, 2);
	HT_EXPECT(run_until(ht_base, ht_outbox_empty, bob, T), "bob's retries out");
	HT_EXPECT(C(messages_kept) == 2 && st.retries_sent == 2 &&
	    st.decrypt_failed[IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC] == 2,
	    "bob: kept %llu", (unsigned long long)st.messages_kept);
	ht_dev_down(bob);
	for (i = 0; i < 150; i++) {
		HT_EXPECT(iris__e2s_fetch(ht_sealer(carol), "bob") == IRIS_OK,
		    "fetch %d", i);
		HT_EXPECT(run_until(ht_base, ht_fetched, ht_sealer(carol), T), "fetch");
		b = iris__e2s_bundle_find(ht_sealer(carol), "bob", 1);
		if (b != NULL && !b->b.has_opk)
			break;
	}
	HT_EXPECT(b != NULL && !b->b.has_opk, "bob's pool not used up");
	ht_dev_up(alice, "alice", 0);
	d = alice;
	HT_WAIT_STAT(alice, resends, 2);
	HT_EXPECT(run_until(ht_base, ht_outbox_empty, alice, T), "resends out");
	HT_EXPECT(C(sessions_reset) == 1 && st.resets_limited == 1 &&
	    st.retries_received == 2, "alice: resets %llu",
	    (unsigned long long)st.sessions_reset);
	b = iris__e2s_bundle_find(ht_sealer(alice), "bob", 1);
	HT_EXPECT(b != NULL && !b->b.has_opk, "the fresh session had a "
	    "one-time prekey");
	ht_dev_up(bob, "bob", 0);
	ht_expect_once(bob, 0, "X1", 2, ids);
	d = bob;
	HT_WAIT_STAT(bob, messages_healed, 2);
	HT_EXPECT(C(retries_sent) == 0, "bob asked again at login: %llu",
	    (unsigned long long)st.retries_sent);
	HT_EXPECT(bob->healed >= 2, "healed callbacks: %d", bob->healed);
	ht_converse(alice, bob, "X2");
	iris__buf_free(&old);
}

/* Damages the first envelope of a message (not a resend) for bob. */
static void
damage_hook(struct iris_client *c, const char *user, uint32_t device,
    const struct iris__content *in, struct iris_buf *env)
{
	(void)c, (void)device;
	if (damage > 0 && in->kind == IRIS__CONTENT_MESSAGE &&
	    in->of == NULL && strcmp(user, "bob") == 0 && env->len > 40) {
		env->p[40 + seed % (env->len - 40)] ^= 0x10;
		damage--;
	}
}

static void
damaged(struct ht_dev *alice, struct ht_dev *bob)
{
	struct iris_client_stats st, b0;
	uint8_t ids[4][16];
	struct ht_dev *d = bob;
	size_t first = bob->r.nmsgs;

	iris_client_stats(bob->c, &b0, sizeof(b0));
	iris__client_seal_hook = damage_hook;
	damage = 1;
	ht_send_n(alice, bob, "D", 4, ids);
	ht_expect_once(bob, first, "D", 4, ids);
	iris__client_seal_hook = NULL;
	HT_WAIT_STAT(bob, messages_healed, b0.messages_healed + 1);
	HT_EXPECT(C(retries_sent) == b0.retries_sent + 1 && st.messages_kept ==
	    b0.messages_kept + 1, "bob: %llu asked, %llu kept",
	    (unsigned long long)(st.retries_sent - b0.retries_sent),
	    (unsigned long long)(st.messages_kept - b0.messages_kept));
	HT_EXPECT(ht_count_of(bob, first, "D", 0, NULL) == 1, "D-0");
}

int
main(void)
{
	struct ht_dev alice, bob, carol;

	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	memset(&carol, 0, sizeof(carol));
	seed = ht_start("client_heal");
	ht_dev_up(&alice, "alice", 1);
	ht_dev_up(&bob, "bob", 1);
	ht_dev_up(&carol, "carol", 1);
	rollback(&alice, &bob);
	damaged(&alice, &bob);
	exhausted(&alice, &bob, &carol);
	ht_dev_down(&alice);
	ht_dev_down(&bob);
	ht_dev_down(&carol);
	if (ht_finish() != 0)
		return 1;
	printf("client_heal: a rollback, a damaged envelope, a rollback with "
	    "no one-time prekeys left: each message healed after one retry, "
	    "none lost or doubled: ok\n");
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * Self-healing sessions, the peers' side, through the client library and
 * a real engine on this process's loop (helpers in healtest.c):
 *  - dave and erin start sessions with each other at once: everything
 *    opens (archived sessions tried and promoted), nothing is asked for
 *    again;
 *  - a retry request for a send not remembered is ignored, one from a
 *    device not in the verified list refused, session resets limited to
 *    one a minute per device (the resends still go, and bob opens and
 *    deduplicates them);
 *  - kept messages bounded per device, the oldest given up (reported);
 *  - a one-time prekey a receive used is not brought back by a sealer
 *    reset while that receive commits.
 * The counters of iris_client_stats() are checked exactly.
 */
#include <stddef.h>
#include <stdlib.h>
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

#define C(name)		(iris_client_stats(d->c, &st, sizeof(st)), st.name)

/* Dave and erin each start a session with the other at once. */
static void
simultaneous(struct ht_dev *dave, struct ht_dev *erin)
{
	struct iris_client_stats st;
	uint8_t ids[2][3][16];
	struct ht_dev *d;
	size_t fd = dave->r.nmsgs, fe = erin->r.nmsgs;
	int k;

	ht_send_n(dave, erin, "S0", 3, ids[0]);
	ht_send_n(erin, dave, "S1", 3, ids[1]);
	ht_expect_once(erin, fe, "S0", 3, ids[0]);
	ht_expect_once(dave, fd, "S1", 3, ids[1]);
	HT_EXPECT(ht_sealer(dave)->st.sessions_started == 1 &&
	    ht_sealer(erin)->st.sessions_started == 1 &&
	    ht_sealer(dave)->st.sessions_answered == 1 &&
	    ht_sealer(erin)->st.sessions_answered == 1,
	    "both sides started a session");
	for (k = 0; k < 3; k++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "S2%d", k);
		ht_converse(dave, erin, tag);
	}
	for (d = dave; d != NULL; d = d == dave ? erin : NULL) {
		HT_EXPECT(C(messages_kept) == 0 && st.retries_sent == 0 &&
		    st.sessions_reset == 0, "%s healed something", d->user);
		for (k = 0; k < IRIS_CLIENT_DECRYPT_CAUSES; k++)
			HT_EXPECT(st.decrypt_failed[k] == 0, "%s: cause %d",
			    d->user, k);
	}
}

struct want_opened {
	struct e2s	*s;
	uint64_t	 n;
};

static int
opened_n(void *arg)
{
	struct want_opened *w = arg;

	return w->s->st.opened >= w->n;
}

/* Retry requests that must not make resends or resets. */
static void
hostile(struct ht_dev *alice, struct ht_dev *bob)
{
	struct iris_client_stats st, a0;
	struct want_opened w;
	uint8_t cmid[16], body[22], ids[2][16];
	struct ht_dev *d = alice;
	size_t first = bob->r.nmsgs;
	int i;
	uint64_t wide[sizeof(st) / 8 + 4];

	/* Sizes: too small, not whole counters, NULL refused; a caller's
	 * later, longer struct gets zeros past what this library has. */
	HT_EXPECT(iris_client_stats(alice->c, &st, 8) == IRIS_EINVAL &&
	    iris_client_stats(alice->c, &st, sizeof(st) - 3) ==
	    IRIS_EINVAL && iris_client_stats(alice->c, NULL, sizeof(st)) ==
	    IRIS_EINVAL && iris_client_stats(NULL, &st, sizeof(st)) ==
	    IRIS_EINVAL, "bad stats sizes accepted");
	memset(wide, 0xff, sizeof(wide));
	HT_EXPECT(iris_client_stats(alice->c, (struct iris_client_stats *)
	    wide, sizeof(wide)) == IRIS_OK && wide[sizeof(st) / 8] == 0 &&
	    wide[sizeof(st) / 8 + 3] == 0, "a longer struct's tail");
	iris_client_stats(alice->c, &a0, sizeof(a0));
	randombytes_buf(cmid, sizeof(cmid));
	HT_EXPECT(iris__heal_ask(bob->c, alice->user, 1, cmid, 2) == IRIS_OK,
	    "ask");
	HT_WAIT_STAT(alice, retries_unknown, a0.retries_unknown + 1);
	HT_EXPECT(C(resends) == a0.resends && st.retries_received ==
	    a0.retries_received + 1, "unknown msg id answered");
	ht_send_n(alice, bob, "H", 2, ids);
	ht_expect_once(bob, first, "H", 2, ids);
	/* From a device bob's verified list does not name. */
	body[0] = 1;
	memcpy(body + 1, ids[0], 16);
	iris__e2ee_put32(body + 17, 1);
	body[21] = 2;
	HT_EXPECT(iris__heal_answer(alice->c, bob->user, 9, body,
	    sizeof(body)) == IRIS_EDENIED, "unlisted device answered");
	HT_EXPECT(C(retries_refused) == a0.retries_refused + 1 && st.resends ==
	    a0.resends, "refusal counted");
	/* Two asks within a minute (past the last reset): one reset, two
	 * resends, which bob opens and deduplicates. */
	alice->clock_skew += HEAL_RESET_MS + 1000;
	iris_client_stats(alice->c, &a0, sizeof(a0));
	w.s = ht_sealer(bob);
	w.n = w.s->st.opened + 2;
	HT_EXPECT(iris__heal_ask(bob->c, alice->user, 1, ids[0], 2) == IRIS_OK &&
	    iris__heal_ask(bob->c, alice->user, 1, ids[1], 2) == IRIS_OK,
	    "asks");
	HT_WAIT_STAT(alice, resends, a0.resends + 2);
	HT_EXPECT(C(sessions_reset) == a0.sessions_reset + 1 &&
	    st.resets_limited == a0.resets_limited + 1, "resets %llu, "
	    "limited %llu", (unsigned long long)(st.sessions_reset -
	    a0.sessions_reset), (unsigned long long)(st.resets_limited -
	    a0.resets_limited));
	HT_EXPECT(run_until(ht_base, opened_n, &w, T), "resends not opened");
	/* Resends a minute to one device are bounded: 2 went, 62 more do,
	 * the 63rd ask is refused. */
	for (i = 0; i < HEAL_RESENDS_MIN - 1; i++)
		HT_EXPECT(iris__heal_ask(bob->c, alice->user, 1, ids[1], 2) ==
		    IRIS_OK, "ask %d", i);
	HT_WAIT_STAT(alice, retries_received, a0.retries_received + 2 +
	    HEAL_RESENDS_MIN - 1);
	HT_EXPECT(C(resends) == a0.resends + HEAL_RESENDS_MIN &&
	    st.resends_limited == a0.resends_limited + 1, "resends %llu, "
	    "limited %llu", (unsigned long long)(st.resends - a0.resends),
	    (unsigned long long)(st.resends_limited - a0.resends_limited));
	HT_EXPECT(run_until(ht_base, ht_outbox_empty, alice, T), "out");
	ht_converse(alice, bob, "H2");
	ht_expect_once(bob, first, "H", 2, ids);
}

static int
gave_up(void *arg)
{
	return ((struct ht_dev *)arg)->given_up > 0;
}

/* At most HEAL_KEEP_DEV kept per device: the oldest is given up. */
static void
bounds(struct ht_dev *bob)
{
	struct iris_client_stats st, b0;
	struct iris_cs_txn *t;
	struct ht_dev *d = bob;
	uint8_t cmid[16];
	int i, ask, rc = IRIS_OK;

	iris_client_stats(bob->c, &b0, sizeof(b0));
	t = iris__client_txn(bob->c, NULL, NULL);
	for (i = 0; i < HEAL_KEEP_DEV + 1 && rc == IRIS_OK; i++) {
		randombytes_buf(cmid, sizeof(cmid));
		rc = iris__heal_keep(bob->c, t, "zed", 5, cmid,
		    (const uint8_t *)"junk", 4, IRIS_EPROTO, &ask);
		HT_EXPECT(ask == 1, "ask %d", i);
	}
	HT_EXPECT(rc == IRIS_OK, "keep: %d", rc);
	/* Kept again: not asked again. */
	HT_EXPECT(iris__heal_keep(bob->c, t, "zed", 5, cmid,
	    (const uint8_t *)"junk", 4, IRIS_EPROTO, &ask) == IRIS_OK &&
	    ask == 0, "asked twice");
	iris__client_txn_drop(t);
	iris__heal_reset(bob->c);
	bob->c->seal->reset(bob->c->sealer);
	HT_EXPECT(C(messages_kept) == b0.messages_kept + HEAL_KEEP_DEV + 1 &&
	    st.messages_given_up == b0.messages_given_up + 1, "kept %llu, "
	    "given up %llu", (unsigned long long)(st.messages_kept -
	    b0.messages_kept), (unsigned long long)(st.messages_given_up -
	    b0.messages_given_up));
	HT_EXPECT(run_until(ht_base, gave_up, bob, T) && bob->given_up == 1,
	    "given-up callbacks: %d", bob->given_up);
}

struct commit_wait {
	int	 n;
	int	 rc;
};

static void
one_done(struct iris_client *c, int rc, void *arg)
{
	struct commit_wait *w = arg;

	(void)c;
	if (rc != IRIS_OK)
		w->rc = rc;
	w->n++;
}

static int
two_done(void *arg)
{
	return ((struct commit_wait *)arg)->n == 2;
}

/* Whether the committed keys of d hold one-time prekey id. */
static int
stored_opk(struct ht_dev *d, uint32_t id)
{
	struct e2s_keys *k = calloc(1, sizeof(*k));
	struct iris_buf b;
	size_t i;
	int found = -1;

	iris__buf_init(&b, 0);
	if (k != NULL && iris__seal_state_get(d->c, "keys", 4, &b) ==
	    IRIS_OK && iris__e2s_keys_decode(k, b.p, b.len) == IRIS_OK)
		for (found = 0, i = 0; i < k->n; i++)
			found |= k->opks[i].id == id;
	iris__buf_free(&b);
	free(k);
	return found;
}

struct list_wait {
	int	 done;
	int	 rc;
};

static void
list_in(struct iris_client *c, int rc, const char *user, uint64_t version,
    const uint32_t *ids, const uint8_t (*keys)[32], size_t n, void *arg)
{
	struct list_wait *w = arg;

	(void)c; (void)user; (void)version; (void)ids; (void)keys; (void)n;
	w->rc = rc;
	w->done = 1;
}

static int
list_done(void *arg)
{
	return ((struct list_wait *)arg)->done;
}

/*
 * The one-time prekey a receive used must not come back when the sealer
 * is reset while that receive's commit is still out: bob opens frank's
 * prekey envelope into t1, is reset (his keys reloaded from the store,
 * which still has the prekey), then writes his keys into t2; t1 and t2
 * commit in turn. The prekey must be in neither his keys nor the store.
 */
static void
spent_prekey(struct ht_dev *frank, struct ht_dev *bob)
{
	struct iris_e2ee_prekey_info pi;
	struct iris_e2ee_keypair kp;
	struct commit_wait w = { 0, IRIS_OK };
	struct list_wait lw = { 0, IRIS_OK };
	struct iris__content in, out;
	struct iris_cs_txn *t, *t1, *t2;
	struct iris_buf env, keep;
	struct e2s *s = ht_sealer(bob);
	int rc;

	HT_EXPECT(iris__e2s_fetch(ht_sealer(frank), "bob") == IRIS_OK &&
	    run_until(ht_base, ht_fetched, ht_sealer(frank), T), "fetch");
	memset(&in, 0, sizeof(in));
	in.kind = IRIS__CONTENT_MESSAGE;
	in.recipient = "bob";
	in.body = (const uint8_t *)"p";
	in.len = 1;
	iris__buf_init(&env, 0);
	iris__buf_init(&keep, 0);
	t = iris__client_txn(frank->c, NULL, NULL);
	rc = frank->c->seal->seal(frank->c->sealer, t, "bob", 1, &in, &env);
	iris__client_txn_drop(t);
	frank->c->seal->reset(frank->c->sealer);
	HT_EXPECT(rc == IRIS_OK && iris__e2ee_prekey_info(env.p, env.len,
	    &pi) == IRIS_OK && pi.opk_id != IRIS_E2EE_OPK_NONE,
	    "a prekey envelope with a one-time prekey: %d", rc);
	HT_EXPECT(stored_opk(bob, pi.opk_id) == 1, "bob's store lacks it");
	/* A prekey envelope opens only under a key frank's list vouches
	 * for: bob has it first. */
	HT_EXPECT(iris_client_devices(bob->c, "frank", list_in, &lw) ==
	    IRIS_OK && run_until(ht_base, list_done, &lw, T) &&
	    lw.rc == IRIS_OK, "frank's list: %d", lw.rc);
	t1 = iris__client_txn(bob->c, one_done, &w);
	rc = bob->c->seal->open(bob->c->sealer, t1, "frank", 1, env.p,
	    env.len, &out, &keep);
	HT_EXPECT(rc == IRIS_OK, "open: %d", rc);
	bob->c->seal->reset(bob->c->sealer);
	HT_EXPECT(iris__e2s_keys_load(s) == IRIS_OK &&
	    iris__e2s_opk_find(s, pi.opk_id, &kp) == IRIS_ENOTFOUND,
	    "the used prekey is back after a reset");
	t2 = iris__client_txn(bob->c, one_done, &w);
	HT_EXPECT(iris__e2s_keys_put(s, t2) == IRIS_OK, "keys put");
	HT_EXPECT(iris__client_submit(bob->c, t1) == IRIS_OK &&
	    iris__client_submit(bob->c, t2) == IRIS_OK, "submit");
	HT_EXPECT(run_until(ht_base, two_done, &w, T) && w.rc == IRIS_OK,
	    "commits: %d", w.rc);
	HT_EXPECT(stored_opk(bob, pi.opk_id) == 0, "the used prekey is "
	    "stored again");
	bob->c->seal->reset(bob->c->sealer);
	iris__buf_free(&env);
	iris__buf_free(&keep);
}

int
main(void)
{
	struct ht_dev alice, bob, dave, erin, frank;

	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	memset(&dave, 0, sizeof(dave));
	memset(&erin, 0, sizeof(erin));
	memset(&frank, 0, sizeof(frank));
	(void)ht_start("client_heal_peers");
	ht_dev_up(&alice, "alice", 1);
	ht_dev_up(&bob, "bob", 1);
	ht_converse(&alice, &bob, "P0");
	hostile(&alice, &bob);
	bounds(&bob);
	ht_dev_up(&frank, "frank", 1);
	spent_prekey(&frank, &bob);
	ht_dev_down(&frank);
	ht_dev_up(&dave, "dave", 1);
	ht_dev_up(&erin, "erin", 1);
	simultaneous(&dave, &erin);
	ht_dev_down(&alice);
	ht_dev_down(&bob);
	ht_dev_down(&dave);
	ht_dev_down(&erin);
	if (ht_finish() != 0)
		return 1;
	printf("client_heal_peers: simultaneous start converges; unknown, "
	    "unlisted and too frequent retry requests; kept bounded; spent prekey "
	    "stays spent: ok\n");
	return 0;
}

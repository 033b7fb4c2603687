/* SPDX-License-Identifier: ISC */
/*
 * Self-healing sessions by fault injection, through the client library
 * and a real engine on this process's loop (TLS on loopback):
 *  - bob's session with alice rolled back to an older copy: alice's next
 *    messages do not open, are kept, asked for again once each, resent
 *    over a fresh session and delivered once each under their own ids;
 *  - the same while bob's one-time prekeys are used up: the fresh
 *    session starts on his signed prekey alone;
 *  - an envelope damaged on its way through the server: asked for again
 *    and healed, the messages after it opening meanwhile;
 *  - both sides starting a session with each other at once: everything
 *    opens, nothing is asked for again;
 *  - a retry request for a send not remembered is ignored, one from a
 *    device not in the verified list refused, session resets limited to
 *    one a minute per device (resends still go, and are deduplicated);
 *  - kept messages bounded per device, the oldest given up.
 * Every counter of iris_client_stats() is checked where it is certain.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "client/heal.h"
#include "client/seal_e2ee.h"
#include "clienttest.h"
#include "evloop.h"
#include "util/clock.h"

#define T		20000
#define C(name)		(iris_client_stats(d->c, &st), st.name)

static int failures;
static struct event_base *base;
static struct iris_client_store *store;
static char fp[65];
static int port;
static uint32_t seed;
static int damage;		/* envelopes to damage on their way */

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_heal: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

struct dev {
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
	int			 failed, healed, given_up;	/* callbacks */
	uint64_t		 clock_skew;
};

static void
decrypt_cb(struct iris_client *c, const char *user, uint32_t device,
    int cause, int healed, void *arg)
{
	struct dev *d = arg;

	(void)c, (void)user, (void)device;
	EXPECT(cause >= 0 && cause < IRIS_CLIENT_DECRYPT_CAUSES, "cause");
	if (healed == 0)
		d->failed++;
	else if (healed == 1)
		d->healed++;
	else
		d->given_up++;
}

static uint64_t
skewed_ms(void *arg)
{
	return iris__clock_mono_us() / 1000 + ((struct dev *)arg)->clock_skew;
}

static void
dev_up(struct dev *d, const char *user, int reg)
{
	struct ct_done done = { 0, 0 };
	int failed = d->failed, healed = d->healed, gone = d->given_up;

	snprintf(d->user, sizeof(d->user), "%s", user);
	ct_rec_init(&d->r, user);
	if ((d->c = ct_client(base, store, port, fp, user, user, &d->r)) ==
	    NULL)
		exit(1);
	d->failed = failed, d->healed = healed, d->given_up = gone;
	iris_client_set_decrypt_cb(d->c, decrypt_cb, d);
	d->c->now_ms = skewed_ms;
	d->c->now_arg = d;
	if (reg) {
		EXPECT(iris_client_register(d->c, NULL, ct_done_cb, &done) ==
		    IRIS_OK, "register %s", user);
		EXPECT(ct_wait_done(base, &done, T) == IRIS_OK,
		    "register %s: %d", user, done.rc);
	} else {
		EXPECT(iris_client_connect(d->c) == IRIS_OK, "connect");
		EXPECT(ct_wait_state(base, &d->r, IRIS_CLIENT_ONLINE, T),
		    "%s online", user);
	}
}

static void
dev_down(struct dev *d)
{
	iris_client_free(d->c);
	d->c = NULL;
	ct_rec_free(&d->r);
}

static struct e2s *
sealer(struct dev *d)
{
	return d->c->sealer;
}

/* n messages "tag-i" from a to b; their ids in ids. */
static void
send_n(struct dev *a, struct dev *b, const char *tag, int n,
    uint8_t (*ids)[16])
{
	char body[64];
	uint8_t id[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "%s-%d", tag, i);
		EXPECT(iris_client_send(a->c, b->user, 7, body, strlen(body),
		    ids != NULL ? ids[i] : id) == IRIS_OK, "send %s", body);
	}
}

/* How many of b's messages since first are "tag-i" with id ids[i]. */
static int
count_of(const struct dev *b, size_t first, const char *tag, int i,
    const uint8_t *id)
{
	char want[64];
	size_t k;
	int n = 0;

	snprintf(want, sizeof(want), "%s-%d", tag, i);
	for (k = first; k < b->r.nmsgs; k++)
		if (strcmp(b->r.msgs[k].body, want) == 0 && (id == NULL ||
		    memcmp(b->r.msgs[k].id, id, 16) == 0))
			n++;
	return n;
}

struct want_msgs {
	struct dev	*b;
	size_t		 first;
	const char	*tag;
	int		 n;
};

static int
all_in(void *arg)
{
	struct want_msgs *w = arg;
	int i;

	for (i = 0; i < w->n; i++)
		if (count_of(w->b, w->first, w->tag, i, NULL) == 0)
			return 0;
	return 1;
}

/* Every "tag-i" at b exactly once, under the id it was sent with. */
static void
expect_once(struct dev *b, size_t first, const char *tag, int n,
    uint8_t (*ids)[16])
{
	struct want_msgs w = { b, first, tag, n };
	int i;

	EXPECT(run_until(base, all_in, &w, T), "%s: %s messages missing "
	    "(%zu in)", b->user, tag, b->r.nmsgs - first);
	for (i = 0; i < n; i++)
		EXPECT(count_of(b, first, tag, i, ids[i]) == 1 &&
		    count_of(b, first, tag, i, NULL) == 1,
		    "%s: %s-%d delivered %d times", b->user, tag, i,
		    count_of(b, first, tag, i, NULL));
}

static size_t
sname(uint8_t *name, const char *peer)
{
	size_t ulen = strlen(peer);

	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, peer, ulen);
	iris__e2ee_put32(name + 2 + ulen, 1);
	return 2 + ulen + 4;
}

static void
put_done(struct iris_client *c, int rc, void *arg)
{
	struct ct_done *d = arg;

	(void)c;
	d->rc = rc;
	d->done = 1;
}

/* d's stored session with peer: saved into old, or written back. */
static void
session(struct dev *d, const char *peer, struct iris_buf *old, int restore)
{
	struct ct_done done = { 0, 0 };
	struct iris_cs_txn *t;
	uint8_t name[80];
	size_t n = sname(name, peer);

	if (!restore) {
		iris__buf_reset(old);
		EXPECT(iris__seal_state_get(d->c, name, n, old) == IRIS_OK,
		    "%s's session with %s", d->user, peer);
		return;
	}
	t = iris__client_txn(d->c, put_done, &done);
	EXPECT(t != NULL && iris__seal_state_put(d->c, t, name, n, old->p,
	    old->len) == IRIS_OK && iris__client_submit(d->c, t) == IRIS_OK,
	    "writing the old session back");
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "rolled back");
	d->c->seal->reset(d->c->sealer);	/* its cache is newer */
}

struct want_stat {
	struct dev	*d;
	size_t		 off;		/* into struct iris_client_stats */
	uint64_t	 at_least;
};

static int
stat_at(void *arg)
{
	struct want_stat *w = arg;
	struct iris_client_stats st;

	iris_client_stats(w->d->c, &st);
	return *(uint64_t *)((char *)&st + w->off) >= w->at_least;
}

#define WAIT_STAT(dv, name, v) do {					\
	struct want_stat w_ = { (dv), offsetof(struct iris_client_stats,	\
	    name), (v) };							\
	EXPECT(run_until(base, stat_at, &w_, T), "%s: " #name " < %llu",	\
	    (dv)->user, (unsigned long long)(v));				\
} while (0)

/* One message each way, so that both have a session. */
static void
converse(struct dev *a, struct dev *b, const char *tag)
{
	char ta[32], tb[32];
	uint8_t ida[2][16], idb[2][16];
	size_t fa = a->r.nmsgs, fb = b->r.nmsgs;

	snprintf(ta, sizeof(ta), "%s-ab", tag);
	snprintf(tb, sizeof(tb), "%s-ba", tag);
	send_n(a, b, ta, 2, ida);
	expect_once(b, fb, ta, 2, ida);
	send_n(b, a, tb, 2, idb);
	expect_once(a, fa, tb, 2, idb);
}

/* Bob rolled back: 3 of alice's messages heal in one retry round. */
static void
rollback(struct dev *alice, struct dev *bob)
{
	struct iris_client_stats st, a0, b0;
	struct iris_buf old;
	uint8_t ids[3][16];
	struct dev *d;
	size_t first;

	iris__buf_init(&old, 0);
	converse(alice, bob, "R0");
	session(bob, alice->user, &old, 0);
	converse(alice, bob, "R1");
	session(bob, alice->user, &old, 1);
	iris_client_stats(alice->c, &a0);
	iris_client_stats(bob->c, &b0);
	first = bob->r.nmsgs;
	send_n(alice, bob, "R2", 3, ids);
	expect_once(bob, first, "R2", 3, ids);
	d = bob;
	WAIT_STAT(bob, messages_healed, b0.messages_healed + 3);
	EXPECT(C(decrypt_failed[IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC]) ==
	    b0.decrypt_failed[IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC] + 3,
	    "bob: not authentic %llu", (unsigned long long)st.decrypt_failed[
	    IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC]);
	EXPECT(C(messages_kept) == b0.messages_kept + 3, "kept");
	EXPECT(C(retries_sent) == b0.retries_sent + 3, "one retry round: %llu",
	    (unsigned long long)(st.retries_sent - b0.retries_sent));
	EXPECT(C(sessions_reset) == b0.sessions_reset + 1, "bob reset once");
	EXPECT(C(messages_given_up) == b0.messages_given_up, "given up");
	EXPECT(bob->failed == 3 && bob->healed == 3, "bob's callbacks: %d "
	    "failed, %d healed", bob->failed, bob->healed);
	d = alice;
	EXPECT(C(retries_received) == a0.retries_received + 3 &&
	    st.resends == a0.resends + 3, "alice: %llu retries, %llu resends",
	    (unsigned long long)st.retries_received,
	    (unsigned long long)st.resends);
	EXPECT(st.sessions_reset == a0.sessions_reset + 1 &&
	    st.resets_limited == a0.resets_limited + 2, "alice: resets %llu, "
	    "limited %llu", (unsigned long long)st.sessions_reset,
	    (unsigned long long)st.resets_limited);
	EXPECT(alice->r.acked == 4 + 3 && alice->r.failed == 0,
	    "alice's sends: %zu acked, %zu failed", alice->r.acked,
	    alice->r.failed);
	/* Healed for good: both ways again, nothing more asked. */
	converse(alice, bob, "R3");
	d = bob;
	EXPECT(C(retries_sent) == b0.retries_sent + 3, "asked again");
	iris__buf_free(&old);
}

static int
fetched(void *arg)
{
	struct e2s *s = arg;
	size_t i;

	for (i = 0; i < E2S_FETCHES_MAX; i++)
		if (s->fetching[i][0] != '\0')
			return 0;
	return 1;
}

static int
outbox_empty(void *arg)
{
	return ((struct dev *)arg)->c->ob_n == 0;
}

/* Rolled back while bob's one-time prekeys are used up (by carol's
 * fetches while he is away): the resends start on his signed prekey.
 * Stats are per client object: each dev_up() starts from zero. */
static void
exhausted(struct dev *alice, struct dev *bob, struct dev *carol)
{
	struct iris_client_stats st;
	struct iris_buf old;
	struct e2s_bundle *b = NULL;
	uint8_t ids[2][16];
	struct dev *d = bob;
	int i;

	iris__buf_init(&old, 0);
	session(bob, alice->user, &old, 0);
	converse(alice, bob, "X0");
	session(bob, alice->user, &old, 1);
	dev_down(bob);
	dev_down(alice);
	dev_up(alice, "alice", 0);
	send_n(alice, bob, "X1", 2, ids);
	EXPECT(ct_wait_acked(base, &alice->r, 2, T), "alice's sends");
	dev_down(alice);
	dev_up(bob, "bob", 0);
	WAIT_STAT(bob, retries_sent, 2);
	EXPECT(run_until(base, outbox_empty, bob, T), "bob's retries out");
	EXPECT(C(messages_kept) == 2 && st.retries_sent == 2 &&
	    st.decrypt_failed[IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC] == 2,
	    "bob: kept %llu", (unsigned long long)st.messages_kept);
	dev_down(bob);
	for (i = 0; i < 150; i++) {
		EXPECT(iris__e2s_fetch(sealer(carol), "bob") == IRIS_OK,
		    "fetch %d", i);
		EXPECT(run_until(base, fetched, sealer(carol), T), "fetch");
		b = iris__e2s_bundle_find(sealer(carol), "bob", 1);
		if (b != NULL && !b->b.has_opk)
			break;
	}
	EXPECT(b != NULL && !b->b.has_opk, "bob's pool not used up");
	dev_up(alice, "alice", 0);
	d = alice;
	WAIT_STAT(alice, resends, 2);
	EXPECT(run_until(base, outbox_empty, alice, T), "resends out");
	EXPECT(C(sessions_reset) == 1 && st.resets_limited == 1 &&
	    st.retries_received == 2, "alice: resets %llu",
	    (unsigned long long)st.sessions_reset);
	b = iris__e2s_bundle_find(sealer(alice), "bob", 1);
	EXPECT(b != NULL && !b->b.has_opk, "the fresh session had a "
	    "one-time prekey");
	dev_up(bob, "bob", 0);
	expect_once(bob, 0, "X1", 2, ids);
	d = bob;
	WAIT_STAT(bob, messages_healed, 2);
	EXPECT(C(retries_sent) == 0, "bob asked again at login: %llu",
	    (unsigned long long)st.retries_sent);
	EXPECT(bob->healed >= 2, "healed callbacks: %d", bob->healed);
	converse(alice, bob, "X2");
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
damaged(struct dev *alice, struct dev *bob)
{
	struct iris_client_stats st, b0;
	uint8_t ids[4][16];
	struct dev *d = bob;
	size_t first = bob->r.nmsgs;

	iris_client_stats(bob->c, &b0);
	iris__client_seal_hook = damage_hook;
	damage = 1;
	send_n(alice, bob, "D", 4, ids);
	expect_once(bob, first, "D", 4, ids);
	iris__client_seal_hook = NULL;
	WAIT_STAT(bob, messages_healed, b0.messages_healed + 1);
	EXPECT(C(retries_sent) == b0.retries_sent + 1 && st.messages_kept ==
	    b0.messages_kept + 1, "bob: %llu asked, %llu kept",
	    (unsigned long long)(st.retries_sent - b0.retries_sent),
	    (unsigned long long)(st.messages_kept - b0.messages_kept));
	EXPECT(count_of(bob, first, "D", 0, NULL) == 1, "D-0");
}

/* Dave and erin each start a session with the other at once. */
static void
simultaneous(struct dev *dave, struct dev *erin)
{
	struct iris_client_stats st;
	uint8_t ids[2][3][16];
	struct dev *d;
	size_t fd = dave->r.nmsgs, fe = erin->r.nmsgs;
	int k;

	send_n(dave, erin, "S0", 3, ids[0]);
	send_n(erin, dave, "S1", 3, ids[1]);
	expect_once(erin, fe, "S0", 3, ids[0]);
	expect_once(dave, fd, "S1", 3, ids[1]);
	EXPECT(sealer(dave)->st.sessions_started == 1 &&
	    sealer(erin)->st.sessions_started == 1 &&
	    sealer(dave)->st.sessions_answered == 1 &&
	    sealer(erin)->st.sessions_answered == 1,
	    "both sides started a session");
	for (k = 0; k < 3; k++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "S2%d", k);
		converse(dave, erin, tag);
	}
	for (d = dave; d != NULL; d = d == dave ? erin : NULL) {
		EXPECT(C(messages_kept) == 0 && st.retries_sent == 0 &&
		    st.sessions_reset == 0, "%s healed something", d->user);
		for (k = 0; k < IRIS_CLIENT_DECRYPT_CAUSES; k++)
			EXPECT(st.decrypt_failed[k] == 0, "%s: cause %d",
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
hostile(struct dev *alice, struct dev *bob)
{
	struct iris_client_stats st, a0;
	struct want_opened w;
	uint8_t cmid[16], body[22], ids[2][16];
	struct dev *d = alice;
	size_t first = bob->r.nmsgs;

	iris_client_stats(alice->c, &a0);
	randombytes_buf(cmid, sizeof(cmid));
	EXPECT(iris__heal_ask(bob->c, alice->user, 1, cmid, 2) == IRIS_OK,
	    "ask");
	WAIT_STAT(alice, retries_unknown, a0.retries_unknown + 1);
	EXPECT(C(resends) == a0.resends && st.retries_received ==
	    a0.retries_received + 1, "unknown msg id answered");
	send_n(alice, bob, "H", 2, ids);
	expect_once(bob, first, "H", 2, ids);
	/* From a device bob's verified list does not name. */
	body[0] = 1;
	memcpy(body + 1, ids[0], 16);
	iris__e2ee_put32(body + 17, 1);
	body[21] = 2;
	EXPECT(iris__heal_answer(alice->c, bob->user, 9, body,
	    sizeof(body)) == IRIS_EDENIED, "unlisted device answered");
	EXPECT(C(retries_refused) == a0.retries_refused + 1 && st.resends ==
	    a0.resends, "refusal counted");
	/* Two asks within a minute (past the last reset): one reset, two
	 * resends, which bob opens and deduplicates. */
	alice->clock_skew += HEAL_RESET_MS + 1000;
	iris_client_stats(alice->c, &a0);
	w.s = sealer(bob);
	w.n = w.s->st.opened + 2;
	EXPECT(iris__heal_ask(bob->c, alice->user, 1, ids[0], 2) == IRIS_OK &&
	    iris__heal_ask(bob->c, alice->user, 1, ids[1], 2) == IRIS_OK,
	    "asks");
	WAIT_STAT(alice, resends, a0.resends + 2);
	EXPECT(C(sessions_reset) == a0.sessions_reset + 1 &&
	    st.resets_limited == a0.resets_limited + 1, "resets %llu, "
	    "limited %llu", (unsigned long long)(st.sessions_reset -
	    a0.sessions_reset), (unsigned long long)(st.resets_limited -
	    a0.resets_limited));
	EXPECT(run_until(base, opened_n, &w, T), "resends not opened");
	converse(alice, bob, "H2");
	expect_once(bob, first, "H", 2, ids);
}

static int
gave_up(void *arg)
{
	return ((struct dev *)arg)->given_up > 0;
}

/* At most HEAL_KEEP_DEV kept per device: the oldest is given up. */
static void
bounds(struct dev *bob)
{
	struct iris_client_stats st, b0;
	struct iris_cs_txn *t;
	struct dev *d = bob;
	uint8_t cmid[16];
	int i, ask, rc = IRIS_OK;

	iris_client_stats(bob->c, &b0);
	t = iris__client_txn(bob->c, NULL, NULL);
	for (i = 0; i < HEAL_KEEP_DEV + 1 && rc == IRIS_OK; i++) {
		randombytes_buf(cmid, sizeof(cmid));
		rc = iris__heal_keep(bob->c, t, "zed", 5, cmid,
		    (const uint8_t *)"junk", 4, IRIS_EPROTO, &ask);
		EXPECT(ask == 1, "ask %d", i);
	}
	EXPECT(rc == IRIS_OK, "keep: %d", rc);
	/* Kept again: not asked again. */
	EXPECT(iris__heal_keep(bob->c, t, "zed", 5, cmid,
	    (const uint8_t *)"junk", 4, IRIS_EPROTO, &ask) == IRIS_OK &&
	    ask == 0, "asked twice");
	iris__client_txn_drop(t);
	iris__heal_reset(bob->c);
	bob->c->seal->reset(bob->c->sealer);
	EXPECT(C(messages_kept) == b0.messages_kept + HEAL_KEEP_DEV + 1 &&
	    st.messages_given_up == b0.messages_given_up + 1, "kept %llu, "
	    "given up %llu", (unsigned long long)(st.messages_kept -
	    b0.messages_kept), (unsigned long long)(st.messages_given_up -
	    b0.messages_given_up));
	EXPECT(run_until(base, gave_up, bob, T) && bob->given_up == 1,
	    "given-up callbacks: %d", bob->given_up);
}

int
main(void)
{
	struct dev alice, bob, carol, dave, erin;
	struct iris_engine *eng;
	struct iris_config *cfg;
	uint8_t key[32];

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("client_heal: IRIS_TEST_SEED=%u\n", seed);
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	memset(&carol, 0, sizeof(carol));
	memset(&dave, 0, sizeof(dave));
	memset(&erin, 0, sizeof(erin));
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_heal: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 5);
	if (iris_client_store_open(&store, base, "client.db", key, NULL) !=
	    IRIS_OK) {
		fprintf(stderr, "client_heal: no client store\n");
		return 1;
	}
	dev_up(&alice, "alice", 1);
	dev_up(&bob, "bob", 1);
	dev_up(&carol, "carol", 1);
	rollback(&alice, &bob);
	damaged(&alice, &bob);
	hostile(&alice, &bob);
	exhausted(&alice, &bob, &carol);
	bounds(&bob);
	dev_up(&dave, "dave", 1);
	dev_up(&erin, "erin", 1);
	simultaneous(&dave, &erin);
	dev_down(&alice);
	dev_down(&bob);
	dev_down(&carol);
	dev_down(&dave);
	dev_down(&erin);
	iris_client_store_close(store);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("client_heal: rollback, exhausted prekeys, a damaged envelope "
	    "healed after one retry each, nothing lost or doubled; "
	    "simultaneous start; unknown, unlisted and too frequent retry "
	    "requests; kept bounded: ok\n");
	return 0;
}

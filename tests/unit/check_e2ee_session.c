/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for X3DH and the Double Ratchet: round trips both ways with
 * DH steps, out-of-order delivery within the skip limit and refusal past
 * it, replays, a flipped bit anywhere, the associated data's ids, state
 * left byte-identical by every failure, used keys gone, the stored-key
 * limit, one-time prekey exhaustion (the signed prekey alone), and the
 * strict parser of saved state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "suites.h"
#include "e2ee/e2ee.h"
#include "e2ee/session.h"
#include "util/alloc.h"

#define ENV_CAP		(IRIS_E2EE_PLAIN_MAX + 1024)

struct dev {
	char			 user[16];
	struct iris_e2ee_identity id;
	uint8_t			 ik_dh[32];
	struct iris_e2ee_local	 me;
	struct iris_e2ee_spk	 spk;
	struct iris_e2ee_opk	 opk[2];
};

struct env {
	uint8_t		*b;
	size_t		 n;
};

static uint8_t plainbuf[ENV_CAP];

static void
dev_init(struct dev *d, const char *user, uint32_t device)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->user, sizeof(d->user), "%s", user);
	iris__e2ee_identity_new(&d->id);
	ck_assert_int_eq(iris__e2ee_identity_dh(d->ik_dh, d->id.sec), IRIS_OK);
	d->me.user = d->user;
	d->me.device = device;
	d->me.ik = d->id.pub;
	d->me.ik_dh = d->ik_dh;
	ck_assert_int_eq(iris__e2ee_spk_new(&d->spk, 1, 1700000000000,
	    d->id.sec), IRIS_OK);
	iris__e2ee_opks_new(d->opk, 2, 10);
}

static void
bundle_of(struct iris_e2ee_bundle *b, const struct dev *d, int opk)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->user, sizeof(b->user), "%s", d->user);
	b->device = d->me.device;
	memcpy(b->ik, d->id.pub, 32);
	b->spk_id = d->spk.id;
	memcpy(b->spk_pub, d->spk.kp.pub, 32);
	memcpy(b->spk_sig, d->spk.sig, 64);
	b->spk_created_ms = d->spk.created_ms;
	if ((b->has_opk = opk >= 0)) {
		b->opk_id = d->opk[opk].id;
		memcpy(b->opk_pub, d->opk[opk].kp.pub, 32);
	}
}

static struct env
seal(struct iris_e2ee_session *s, const char *text)
{
	struct env e;
	size_t len = strlen(text);

	e.b = malloc(iris__e2ee_envelope_size(s, len));
	ck_assert_ptr_nonnull(e.b);
	ck_assert_int_eq(iris__e2ee_encrypt(s, (const uint8_t *)text, len,
	    e.b, iris__e2ee_envelope_size(s, len), &e.n), IRIS_OK);
	ck_assert_uint_eq(e.n, iris__e2ee_envelope_size(s, len));
	return e;
}

static void
open_ok(struct iris_e2ee_session **s, struct env e, const char *want)
{
	struct iris_e2ee_session *next;
	size_t plen;

	ck_assert_int_eq(iris__e2ee_decrypt(*s, e.b, e.n, plainbuf,
	    sizeof(plainbuf), &plen, &next), IRIS_OK);
	ck_assert_uint_eq(plen, strlen(want));
	ck_assert_mem_eq(plainbuf, want, plen);
	iris__e2ee_session_free(*s);
	*s = next;
}

/* A refused decrypt: the session's bytes are the same after it. */
static int
open_refused(const struct iris_e2ee_session *s, const uint8_t *b, size_t n)
{
	struct iris_e2ee_session *next = (void *)1;
	uint8_t *before, *after;
	size_t blen, alen, plen;
	int rc;

	ck_assert_int_eq(iris__e2ee_session_save(s, &before, &blen), IRIS_OK);
	rc = iris__e2ee_decrypt(s, b, n, plainbuf, sizeof(plainbuf), &plen,
	    &next);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(next);
	ck_assert_int_eq(iris__e2ee_session_save(s, &after, &alen), IRIS_OK);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, blen);
	iris__e2ee_bytes_free(before, blen);
	iris__e2ee_bytes_free(after, alen);
	return rc;
}

/* Alice (device 1) starts a session with Bob (device 7), Bob answers. */
static void
pair_open(struct dev *a, struct dev *b, struct iris_e2ee_session **sa,
    struct iris_e2ee_session **sb, int opk)
{
	struct iris_e2ee_bundle bun;
	struct iris_e2ee_prekey_info pi;
	struct env e;
	size_t plen;

	dev_init(a, "alice", 1);
	dev_init(b, "bob", 7);
	bundle_of(&bun, b, opk);
	ck_assert_int_eq(iris__e2ee_initiate(sa, &a->me, &bun), IRIS_OK);
	ck_assert(iris__e2ee_session_pending(*sa));
	e = seal(*sa, "hello bob");
	ck_assert_uint_eq(e.b[0], IRIS_E2EE_KIND_PREKEY);
	ck_assert_int_eq(iris__e2ee_prekey_info(e.b, e.n, &pi), IRIS_OK);
	ck_assert_mem_eq(pi.ik, a->id.pub, 32);
	ck_assert_uint_eq(pi.spk_id, b->spk.id);
	ck_assert_uint_eq(pi.opk_id, opk >= 0 ? b->opk[opk].id :
	    IRIS_E2EE_OPK_NONE);
	ck_assert_int_eq(iris__e2ee_respond(sb, &b->me, "alice", 1, a->id.pub,
	    &b->spk.kp, opk >= 0 ? &b->opk[opk].kp : NULL, e.b, e.n, plainbuf,
	    sizeof(plainbuf), &plen), IRIS_OK);
	ck_assert_uint_eq(plen, 9);
	ck_assert_mem_eq(plainbuf, "hello bob", 9);
	free(e.b);
}

START_TEST(test_roundtrip)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	struct env e;
	char text[64];
	int round, i;

	pair_open(&a, &b, &sa, &sb, 0);
	/* Alice repeats the X3DH header until Bob answers. */
	e = seal(sa, "again");
	ck_assert_uint_eq(e.b[0], IRIS_E2EE_KIND_PREKEY);
	open_ok(&sb, e, "again");
	free(e.b);
	for (round = 0; round < 12; round++) {
		struct iris_e2ee_session **from = round % 2 ? &sa : &sb;
		struct iris_e2ee_session **to = round % 2 ? &sb : &sa;

		for (i = 0; i <= round % 3; i++) {
			snprintf(text, sizeof(text), "round %d msg %d", round,
			    i);
			e = seal(*from, text);
			ck_assert_uint_eq(e.b[0], IRIS_E2EE_KIND_MSG);
			open_ok(to, e, text);
			free(e.b);
		}
	}
	ck_assert(!iris__e2ee_session_pending(sa));
	ck_assert_mem_eq(iris__e2ee_session_peer_ik(sa), b.id.pub, 32);
	ck_assert_mem_eq(iris__e2ee_session_peer_ik(sb), a.id.pub, 32);
	/* Empty and largest plaintexts. */
	e = seal(sa, "");
	open_ok(&sb, e, "");
	free(e.b);
	{
		static uint8_t big[IRIS_E2EE_PLAIN_MAX + 1];
		size_t n, plen;
		struct iris_e2ee_session *next;

		memset(big, 'x', sizeof(big));
		ck_assert_int_eq(iris__e2ee_encrypt(sb, big, sizeof(big),
		    plainbuf, sizeof(plainbuf), &n), IRIS_ETOOBIG);
		ck_assert_int_eq(iris__e2ee_encrypt(sb, big, sizeof(big) - 1,
		    plainbuf, sizeof(plainbuf), &n), IRIS_OK);
		ck_assert_uint_le(n, 65536);
		e.b = malloc(n);
		memcpy(e.b, plainbuf, n);
		ck_assert_int_eq(iris__e2ee_decrypt(sa, e.b, n, plainbuf,
		    sizeof(plainbuf), &plen, &next), IRIS_OK);
		ck_assert_uint_eq(plen, sizeof(big) - 1);
		ck_assert_mem_eq(plainbuf, big, plen);
		iris__e2ee_session_free(next);
		free(e.b);
	}
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

START_TEST(test_out_of_order)
{
	static const int order[] = { 4, 0, 3, 1, 2 };
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	struct env e[5], r;
	char text[16];
	size_t i;

	pair_open(&a, &b, &sa, &sb, 0);
	r = seal(sb, "answer");
	open_ok(&sa, r, "answer");
	free(r.b);
	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "m%zu", i);
		e[i] = seal(sa, text);
	}
	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "m%d", order[i]);
		open_ok(&sb, e[order[i]], text);
	}
	/* Every skipped key was used, and then deleted. */
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb), 0);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(open_refused(sb, e[i].b, e[i].n), IRIS_ESTALE);
		free(e[i].b);
	}
	/* Across a DH step: the old chain's late message still opens. */
	e[0] = seal(sa, "late");
	e[1] = seal(sa, "early");
	open_ok(&sb, e[1], "early");
	r = seal(sb, "step");
	open_ok(&sa, r, "step");
	free(r.b);
	r = seal(sa, "new chain");
	open_ok(&sb, r, "new chain");
	free(r.b);
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb), 1);
	open_ok(&sb, e[0], "late");
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb), 0);
	ck_assert_int_eq(open_refused(sb, e[0].b, e[0].n), IRIS_ESTALE);
	ck_assert_int_eq(open_refused(sb, e[1].b, e[1].n), IRIS_ESTALE);
	free(e[0].b);
	free(e[1].b);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

START_TEST(test_skip_limit)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb, *next;
	struct env *e, r;
	size_t i, n = IRIS_E2EE_MAX_SKIP + 2, plen;

	pair_open(&a, &b, &sa, &sb, 0);
	r = seal(sb, "answer");
	open_ok(&sa, r, "answer");
	free(r.b);
	e = calloc(n, sizeof(*e));
	for (i = 0; i < n; i++)
		e[i] = seal(sa, "x");
	/* Message 1001 is a jump of 1001 from message 0: refused. */
	ck_assert_int_eq(open_refused(sb, e[n - 1].b, e[n - 1].n), IRIS_ELIMIT);
	/* Message 1000 is a jump of 1000: it opens, storing 1000 keys. */
	ck_assert_int_eq(iris__e2ee_decrypt(sb, e[n - 2].b, e[n - 2].n,
	    plainbuf, sizeof(plainbuf), &plen, &next), IRIS_OK);
	ck_assert_uint_eq(iris__e2ee_session_nskipped(next),
	    IRIS_E2EE_MAX_SKIP);
	iris__e2ee_session_free(sb);
	sb = next;
	open_ok(&sb, e[n - 1], "x");
	for (i = 0; i < n - 2; i += 97)
		open_ok(&sb, e[i], "x");
	for (i = 0; i < n; i++)
		free(e[i].b);
	free(e);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

/* Alice sends count messages on a new chain; Bob opens only the last. */
static struct env *
chain_of(struct iris_e2ee_session **sa, struct iris_e2ee_session **sb,
    size_t count)
{
	struct env *e = calloc(count, sizeof(*e)), r;
	size_t i;

	r = seal(*sb, "turn");
	open_ok(sa, r, "turn");
	free(r.b);
	for (i = 0; i < count; i++)
		e[i] = seal(*sa, "k");
	open_ok(sb, e[count - 1], "k");
	return e;
}

static void
drop_chain(struct env *e, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(e[i].b);
	free(e);
}

START_TEST(test_stored_limit)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	struct env *c1, *c2, *c3;
	size_t i;

	pair_open(&a, &b, &sa, &sb, 0);
	c1 = chain_of(&sa, &sb, IRIS_E2EE_MAX_SKIP + 1);
	c2 = chain_of(&sa, &sb, IRIS_E2EE_MAX_SKIP + 1);
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb),
	    IRIS_E2EE_MAX_STORED);
	c3 = chain_of(&sa, &sb, 11);
	/* Ten more keys: the ten oldest are gone, the rest open. */
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb),
	    IRIS_E2EE_MAX_STORED);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(open_refused(sb, c1[i].b, c1[i].n),
		    IRIS_ESTALE);
	open_ok(&sb, c1[10], "k");
	open_ok(&sb, c2[0], "k");
	open_ok(&sb, c3[0], "k");
	drop_chain(c1, IRIS_E2EE_MAX_SKIP + 1);
	drop_chain(c2, IRIS_E2EE_MAX_SKIP + 1);
	drop_chain(c3, 11);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

START_TEST(test_old_chains_dropped)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	struct env *c;
	int i;

	pair_open(&a, &b, &sa, &sb, 0);
	c = chain_of(&sa, &sb, 2);
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb), 1);
	for (i = 0; i < IRIS_E2EE_OLD_CHAINS; i++)
		drop_chain(chain_of(&sa, &sb, 1), 1);
	/* Five steps on, the key is still kept; at six it is dropped. */
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb), 1);
	drop_chain(chain_of(&sa, &sb, 1), 1);
	ck_assert_uint_eq(iris__e2ee_session_nskipped(sb), 0);
	open_refused(sb, c[0].b, c[0].n);
	drop_chain(c, 2);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

START_TEST(test_bit_flips)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	struct env pre, msg;
	size_t i;
	int bit;

	pair_open(&a, &b, &sa, &sb, 0);
	pre = seal(sa, "prekey envelope");	/* still pending */
	msg = seal(sb, "bob's answer");
	/* Every bit of a message envelope, against Alice's session. */
	for (i = 0; i < msg.n; i++)
		for (bit = 0; bit < 8; bit++) {
			msg.b[i] ^= (uint8_t)(1 << bit);
			open_refused(sa, msg.b, msg.n);
			msg.b[i] ^= (uint8_t)(1 << bit);
		}
	/* Every bit of a prekey envelope, against Bob's session. */
	for (i = 0; i < pre.n; i++)
		for (bit = 0; bit < 8; bit++) {
			pre.b[i] ^= (uint8_t)(1 << bit);
			open_refused(sb, pre.b, pre.n);
			pre.b[i] ^= (uint8_t)(1 << bit);
		}
	/* Truncated and extended envelopes. */
	for (i = 0; i < msg.n; i++)
		open_refused(sa, msg.b, i);
	for (i = 0; i < pre.n; i++) {
		struct iris_e2ee_prekey_info pi;
		uint8_t *x = malloc(i > 0 ? i : 1);	/* exact, for ASan */

		memcpy(x, pre.b, i);
		open_refused(sb, x, i);
		ck_assert_int_lt(iris__e2ee_prekey_info(x, i, &pi), 0);
		free(x);
	}
	{
		uint8_t *x = malloc(msg.n + 1);

		memcpy(x, msg.b, msg.n);
		x[msg.n] = 0;
		open_refused(sa, x, msg.n + 1);
		free(x);
	}
	/* Untouched, both still open. */
	open_ok(&sa, msg, "bob's answer");
	open_ok(&sb, pre, "prekey envelope");
	free(pre.b);
	free(msg.b);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

/* The associated data binds both users and devices and both keys. */
START_TEST(test_ad_binds_ids)
{
	struct dev a, b, m;
	struct iris_e2ee_bundle bun;
	struct iris_e2ee_session *sa, *sb, *s;
	struct env e;
	size_t plen;

	pair_open(&a, &b, &sa, &sb, -1);
	iris__e2ee_session_free(sb);
	bundle_of(&bun, &b, -1);
	e = seal(sa, "for bob 7 from alice 1");
	/* The wrong sender user, sender device, or own ids. */
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alicf", 1, NULL,
	    &b.spk.kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_ECRYPTO);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alice", 2, NULL,
	    &b.spk.kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_ECRYPTO);
	b.me.device = 8;
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alice", 1, NULL,
	    &b.spk.kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_ECRYPTO);
	b.me.device = 7;
	/* Another identity than the one expected for the sender. */
	dev_init(&m, "mallory", 1);
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alice", 1, m.id.pub,
	    &b.spk.kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_ECRYPTO);
	/* A one-time prekey the envelope does not name. */
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alice", 1, NULL,
	    &b.spk.kp, &b.opk[0].kp, e.b, e.n, plainbuf, sizeof(plainbuf),
	    &plen), IRIS_EINVAL);
	/* Another signed prekey. */
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alice", 1, NULL,
	    &b.opk[1].kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_ECRYPTO);
	ck_assert_int_eq(iris__e2ee_respond(&s, &b.me, "alice", 1, a.id.pub,
	    &b.spk.kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_OK);
	ck_assert_mem_eq(plainbuf, "for bob 7 from alice 1", plen);
	free(e.b);
	iris__e2ee_session_free(s);
	iris__e2ee_session_free(sa);
}
END_TEST

START_TEST(test_prekey_paths)
{
	struct dev a, b;
	struct iris_e2ee_bundle bun;
	struct iris_e2ee_session *sa, *sb, *sa2, *sc;
	struct iris_e2ee_prekey_info pi;
	struct env e, first;
	size_t plen;

	/* Exhausted pool: the signed prekey alone (the last resort). */
	pair_open(&a, &b, &sa, &sb, -1);
	first = seal(sa, "second prekey envelope");
	ck_assert_int_eq(iris__e2ee_prekey_info(first.b, first.n, &pi),
	    IRIS_OK);
	ck_assert_uint_eq(pi.opk_id, IRIS_E2EE_OPK_NONE);
	ck_assert_mem_eq(pi.ek, iris__e2ee_session_base(sa), 32);
	open_ok(&sb, first, "second prekey envelope");
	/* The same prekey envelope again, to the session: a replay. */
	ck_assert_int_eq(open_refused(sb, first.b, first.n), IRIS_ESTALE);
	/* A prekey envelope of another session is not for this one. */
	bundle_of(&bun, &b, 1);
	ck_assert_int_eq(iris__e2ee_initiate(&sa2, &a.me, &bun), IRIS_OK);
	e = seal(sa2, "fresh start");
	ck_assert_int_eq(open_refused(sb, e.b, e.n), IRIS_ENOTFOUND);
	ck_assert_int_eq(open_refused(sa, e.b, e.n), IRIS_ENOTFOUND);
	ck_assert_int_eq(iris__e2ee_respond(&sc, &b.me, "alice", 1, a.id.pub,
	    &b.spk.kp, &b.opk[1].kp, e.b, e.n, plainbuf, sizeof(plainbuf),
	    &plen), IRIS_OK);
	ck_assert_mem_eq(plainbuf, "fresh start", plen);
	iris__e2ee_session_free(sc);
	free(e.b);
	free(first.b);
	/* A bad signed-prekey signature: no session. */
	bundle_of(&bun, &b, 0);
	bun.spk_sig[0] ^= 0x80;
	sc = (void *)1;
	ck_assert_int_eq(iris__e2ee_initiate(&sc, &a.me, &bun), IRIS_ECRYPTO);
	ck_assert_ptr_null(sc);
	/* Not a prekey envelope. */
	e = seal(sb, "plain message");
	ck_assert_int_eq(iris__e2ee_prekey_info(e.b, e.n, &pi), IRIS_EPROTO);
	ck_assert_int_eq(iris__e2ee_respond(&sc, &b.me, "alice", 1, NULL,
	    &b.spk.kp, NULL, e.b, e.n, plainbuf, sizeof(plainbuf), &plen),
	    IRIS_EPROTO);
	free(e.b);
	e.b = (uint8_t *)"\x00\x01";
	ck_assert_int_eq(iris__e2ee_prekey_info(e.b, 2, &pi), IRIS_ENOTSUP);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sa2);
	iris__e2ee_session_free(sb);
}
END_TEST

START_TEST(test_state_bytes)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb, *s;
	struct env e[3];
	uint8_t *buf, *buf2, *x, *ns;
	size_t len, len2, i, plen, nlen;

	pair_open(&a, &b, &sa, &sb, 0);
	e[0] = seal(sb, "one");
	e[1] = seal(sb, "two");
	e[2] = seal(sb, "three");
	open_ok(&sa, e[2], "three");	/* two skipped keys saved */
	ck_assert_int_eq(iris__e2ee_session_save(sa, &buf, &len), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_session_load(&s, buf, len), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_session_save(s, &buf2, &len2), IRIS_OK);
	ck_assert_uint_eq(len2, len);
	ck_assert_mem_eq(buf2, buf, len);
	iris__e2ee_bytes_free(buf2, len2);
	open_ok(&s, e[0], "one");
	iris__e2ee_session_free(s);
	/* Decrypt on bytes: new bytes on success, the old ones kept. */
	ck_assert_int_eq(iris__e2ee_decrypt_state(buf, len, e[1].b, e[1].n,
	    plainbuf, sizeof(plainbuf), &plen, &ns, &nlen), IRIS_OK);
	ck_assert_mem_eq(plainbuf, "two", 3);
	ck_assert_int_eq(iris__e2ee_decrypt_state(ns, nlen, e[1].b, e[1].n,
	    plainbuf, sizeof(plainbuf), &plen, &x, &len2), IRIS_ESTALE);
	ck_assert_ptr_null(x);
	iris__e2ee_bytes_free(ns, nlen);
	/* Encrypt on bytes: Bob's saved session sends, Alice opens. */
	{
		uint8_t *bs, *bn, out[512];
		size_t bsl, bnl, olen;

		ck_assert_int_eq(iris__e2ee_session_save(sb, &bs, &bsl),
		    IRIS_OK);
		ck_assert_int_eq(iris__e2ee_encrypt_state(bs, bsl,
		    (const uint8_t *)"four", 4, out, 10, &olen, &bn, &bnl),
		    IRIS_ETOOBIG);
		ck_assert_ptr_null(bn);
		ck_assert_int_eq(iris__e2ee_encrypt_state(bs, bsl,
		    (const uint8_t *)"four", 4, out, sizeof(out), &olen, &bn,
		    &bnl), IRIS_OK);
		ck_assert_int_eq(iris__e2ee_decrypt(sa, out, olen, plainbuf,
		    sizeof(plainbuf), &plen, &s), IRIS_OK);
		ck_assert_mem_eq(plainbuf, "four", 4);
		iris__e2ee_session_free(s);
		/* The new bytes load, and differ from the old (Ns moved). */
		ck_assert_int_eq(iris__e2ee_session_load(&s, bn, bnl),
		    IRIS_OK);
		ck_assert_uint_eq(bnl, bsl);
		ck_assert_mem_ne(bn, bs, bsl);
		iris__e2ee_session_free(s);
		iris__e2ee_bytes_free(bs, bsl);
		iris__e2ee_bytes_free(bn, bnl);
	}
	/* Every truncation, and one byte more. */
	for (i = 0; i < len; i++) {
		s = (void *)1;
		ck_assert_int_lt(iris__e2ee_session_load(&s, buf, i), 0);
		ck_assert_ptr_null(s);
	}
	x = malloc(len + 1);
	memcpy(x, buf, len);
	x[len] = 0;
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len + 1),
	    IRIS_ECORRUPT);
	/* Magic, version, type, length, flags, counts. */
	memcpy(x, buf, len);
	x[0] = 'J';
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len), IRIS_ECORRUPT);
	memcpy(x, buf, len);
	x[5] = 2;
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len), IRIS_EVERSION);
	memcpy(x, buf, len);
	x[7] = 2;
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len), IRIS_ECORRUPT);
	memcpy(x, buf, len);
	x[11] ^= 1;
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len), IRIS_ECORRUPT);
	memcpy(x, buf, len);
	x[12] = 0x80;
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len), IRIS_ECORRUPT);
	memcpy(x, buf, len);
	iris__e2ee_put32(x + len - 4 - 2 * 72, 0x10000);	/* skipped n */
	ck_assert_int_eq(iris__e2ee_session_load(&s, x, len), IRIS_ECORRUPT);
	/* Garbage of every length up to the real one. */
	for (i = 0; i < len; i++) {
		randombytes_buf(x, i);
		if (i >= 4)
			memcpy(x, "IRS1", 4);
		ck_assert_int_lt(iris__e2ee_session_load(&s, x, i), 0);
	}
	free(x);
	iris__e2ee_bytes_free(buf, len);
	for (i = 0; i < 3; i++)
		free(e[i].b);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

START_TEST(test_encrypt_refusals)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	uint8_t *before, *after, out[64];
	size_t blen, alen, n;

	pair_open(&a, &b, &sa, &sb, 0);
	ck_assert_int_eq(iris__e2ee_session_save(sa, &before, &blen), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_encrypt(sa, (const uint8_t *)"x", 1, out,
	    sizeof(out), &n), IRIS_ETOOBIG);
	ck_assert_int_eq(iris__e2ee_encrypt(sa, NULL, 1, out, sizeof(out),
	    &n), IRIS_EINVAL);
	ck_assert_int_eq(iris__e2ee_session_save(sa, &after, &alen), IRIS_OK);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, blen);
	iris__e2ee_bytes_free(before, blen);
	iris__e2ee_bytes_free(after, alen);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

/* Every allocation of a decrypt that skips keys fails in turn: each
 * failure is IRIS_ENOMEM with the session unchanged, then it opens. */
START_TEST(test_decrypt_oom)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb, *next;
	struct env e[40];
	uint8_t *before, *after, *ns;
	size_t i, blen, alen, plen, nlen;
	unsigned long nth;
	int rc = IRIS_ENOMEM;

	pair_open(&a, &b, &sa, &sb, 0);
	for (i = 0; i < 40; i++)
		e[i] = seal(sb, "many");
	ck_assert_int_eq(iris__e2ee_session_save(sa, &before, &blen), IRIS_OK);
	for (nth = 1; nth < 100 && rc == IRIS_ENOMEM; nth++) {
		iris__alloc_fail_after(nth);
		rc = iris__e2ee_decrypt(sa, e[39].b, e[39].n, plainbuf,
		    sizeof(plainbuf), &plen, &next);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		ck_assert_ptr_null(next);
		ck_assert_int_eq(iris__e2ee_session_save(sa, &after, &alen),
		    IRIS_OK);
		ck_assert_mem_eq(after, before, blen);
		iris__e2ee_bytes_free(after, alen);
	}
	ck_assert_int_eq(rc, IRIS_OK);
	ck_assert_uint_gt(nth, 1);
	ck_assert_uint_eq(iris__e2ee_session_nskipped(next), 39);
	iris__e2ee_session_free(next);
	/* The same through state bytes. */
	rc = IRIS_ENOMEM;
	for (nth = 1; nth < 100 && rc == IRIS_ENOMEM; nth++) {
		iris__alloc_fail_after(nth);
		rc = iris__e2ee_decrypt_state(before, blen, e[39].b, e[39].n,
		    plainbuf, sizeof(plainbuf), &plen, &ns, &nlen);
		iris__alloc_fail_after(0);
		if (rc != IRIS_OK)
			ck_assert_ptr_null(ns);
	}
	ck_assert_int_eq(rc, IRIS_OK);
	iris__e2ee_bytes_free(ns, nlen);
	iris__e2ee_bytes_free(before, blen);
	for (i = 0; i < 40; i++)
		free(e[i].b);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
}
END_TEST

static size_t
kat_hex(uint8_t *out, const char *hex)
{
	size_t n = 0;
	unsigned v;

	for (; hex[0] != '\0'; hex += 2, n++) {
		ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
		out[n] = (uint8_t)v;
	}
	return n;
}

/*
 * Frozen vectors, computed outside libsodium (Python's hmac and hashlib
 * from the formulas of research/e2ee.md §6.5): KDF_RK, and a receiving
 * chain whose message keys open envelopes built here by hand from the
 * documented header, associated data, padding and state layouts.
 */
START_TEST(test_frozen_kat)
{
	static const char *k_hex[] = {
		"634a75146a892c3c7ba7a2d0a1c332e9"
		    "d6996d9a93b1187ae62336a980d9f0f2",
		NULL,
		"a6bfcfdf4f48ff8f46c4a6ede92c5980"
		    "9a617b39c06fcc613316737d92b1bb40",
	};
	struct iris_e2ee_session *s, *next;
	uint8_t rk[32], ck[32], dh[32], want[32], ad[256], aad[512];
	uint8_t st[1024], env[512], k[32], pt[256], *p;
	size_t adlen, stlen, plen, padlen;
	uint32_t n;

	memset(rk, 0x22, 32);
	memset(dh, 0x33, 32);
	iris__e2ee_kdf_rk(rk, ck, dh);
	kat_hex(want, "13702a5561540c204bbe32cd2720ec18"
	    "77bd469888a60649f54fb2c3f4beae75");
	ck_assert_mem_eq(rk, want, 32);
	kat_hex(want, "d31b7106e292792756c03eb75037f319"
	    "47c8ed271594bbfd8a93834ec2979e62");
	ck_assert_mem_eq(ck, want, 32);

	/* AD: "IRIS-AD-v1" || IKa || IKb || 5 "alice" 1 || 3 "bob" 7. */
	p = ad;
	memcpy(p, "IRIS-AD-v1", 10), p += 10;
	memset(p, 0x0a, 32), p += 32;
	memset(p, 0x0b, 32), p += 32;
	memcpy(p, "\x05" "alice" "\0\0\0\x01", 10), p += 10;
	memcpy(p, "\x03" "bob" "\0\0\0\x07", 8), p += 8;
	adlen = (size_t)(p - ad);
	/* A responder's state: DHr 0x55.., CKr 0x11.., Nr 0, step 1. */
	p = st;
	memcpy(p, "IRS1\0\x01\0\x01", 8), p += 12;
	*p++ = 0x0e;			/* HAS_DHR | HAS_CKS | HAS_CKR */
	memset(p, 0x44, 32), p += 32;	/* DHs pub */
	memset(p, 0x45, 32), p += 32;	/* DHs sec */
	memset(p, 0x55, 32), p += 32;	/* DHr */
	memset(p, 0x22, 32), p += 32;	/* RK */
	memset(p, 0x66, 32), p += 32;	/* CKs */
	memset(p, 0x11, 32), p += 32;	/* CKr */
	memset(p, 0, 12), p += 12;	/* Ns, Nr, PN */
	iris__e2ee_put32(p, 1), p += 4;	/* step */
	memset(p, 0x0a, 32), p += 32;	/* peer IK */
	memset(p, 0x0b, 32), p += 32;	/* own IK */
	memset(p, 0x77, 32), p += 32;	/* base key */
	iris__e2ee_put32(p, 1), p += 4;
	iris__e2ee_put32(p, IRIS_E2EE_OPK_NONE), p += 4;
	*p++ = 0;			/* no old chains */
	iris__e2ee_put16(p, (uint16_t)adlen), p += 2;
	memcpy(p, ad, adlen), p += adlen;
	iris__e2ee_put32(p, 0), p += 4;	/* no skipped keys */
	stlen = (size_t)(p - st);
	iris__e2ee_put32(st + 8, (uint32_t)(stlen - 12));
	ck_assert_int_eq(iris__e2ee_session_load(&s, st, stlen), IRIS_OK);

	for (n = 0; n <= 2; n += 2) {
		/* 02 | 01 | DH | PN | N | nonce | clen | ct. */
		p = env;
		*p++ = IRIS_E2EE_KIND_MSG;
		*p++ = 1;
		memset(p, 0x55, 32), p += 32;
		iris__e2ee_put32(p, 0), p += 4;
		iris__e2ee_put32(p, n), p += 4;
		memcpy(aad, ad, adlen);
		iris__e2ee_put16(aad + adlen, 42);
		memcpy(aad + adlen + 2, env, 42);
		memset(p, 0x99, 24), p += 24;
		iris__e2ee_put32(p, 256 + 16), p += 4;
		memset(pt, 0, sizeof(pt));
		memcpy(pt, "kat", 3);
		pt[3] = 0x80;			/* ISO/IEC 7816-4 */
		padlen = 256;
		kat_hex(k, k_hex[n]);
		iris__e2ee_aead_seal(p, pt, padlen, aad, adlen + 2 + 42,
		    env + 42, k);
		p += padlen + 16;
		ck_assert_int_eq(iris__e2ee_decrypt(s, env, (size_t)(p - env),
		    plainbuf, sizeof(plainbuf), &plen, &next), IRIS_OK);
		ck_assert_uint_eq(plen, 3);
		ck_assert_mem_eq(plainbuf, "kat", 3);
		ck_assert_uint_eq(iris__e2ee_session_nskipped(next), n);
		iris__e2ee_session_free(next);
	}
	iris__e2ee_session_free(s);
}
END_TEST

static void
setup(void)
{
	ck_assert_int_eq(iris__e2ee_init(), IRIS_OK);
}

Suite *
suite_e2ee_session(void)
{
	Suite *s = suite_create("e2ee_session");
	TCase *tc = tcase_create("ratchet");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_skip_limit);
	tcase_add_test(tc, test_stored_limit);
	tcase_add_test(tc, test_old_chains_dropped);
	tcase_add_test(tc, test_bit_flips);
	tcase_add_test(tc, test_ad_binds_ids);
	tcase_add_test(tc, test_prekey_paths);
	tcase_add_test(tc, test_state_bytes);
	tcase_add_test(tc, test_encrypt_refusals);
	tcase_add_test(tc, test_decrypt_oom);
	tcase_add_test(tc, test_frozen_kat);
	suite_add_tcase(s, tc);
	return s;
}

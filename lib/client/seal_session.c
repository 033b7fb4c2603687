/* SPDX-License-Identifier: ISC */
/*
 * The end-to-end encrypting sealer's operations (see seal_e2ee.c for its
 * records and framing): seal() runs X3DH on a fetched bundle when it has
 * no session with the device, then the Double Ratchet, and writes the
 * advanced state into the send's transaction; open() decrypts on a copy
 * and writes the new state (and the used one-time prekey's removal) into
 * the receive's transaction. A prekey envelope whose base key is that of
 * a session held is decrypted with that session, never answered again.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/seal_e2ee.h"
#include "util/alloc.h"

static int
e2s_create(void **self, struct iris_client *c)
{
	struct e2s *s;

	if (iris__e2ee_init() != IRIS_OK)
		return IRIS_ECRYPTO;
	if ((s = sodium_malloc(sizeof(*s))) == NULL)
		return IRIS_ENOMEM;
	memset(s, 0, sizeof(*s));
	s->c = c;
	*self = s;
	return IRIS_OK;
}

static void
e2s_destroy(void *self)
{
	struct e2s *s = self;

	if (s == NULL)
		return;
	s->keys_busy = 0;
	iris__e2s_cache_clear(s);
	if (s->keys != NULL)
		sodium_free(s->keys);
	sodium_free(s);
}

/* The identity's X25519 secret, made once the account has its key. */
static int
ready(struct e2s *s)
{
	static const uint8_t zero[32];

	if (s->c->acct == 0)
		return IRIS_ESTATE;
	if (sodium_memcmp(s->ik_dh, zero, 32) != 0)
		return IRIS_OK;
	return iris__e2ee_identity_dh(s->ik_dh, s->c->sk);
}

static int
e2s_seal(void *self, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const struct iris__content *in, struct iris_buf *out)
{
	struct e2s *s = self;
	struct iris_e2ee_session *ses = NULL;
	struct iris_e2ee_local me;
	struct e2s_bundle *b;
	struct e2s_rec r;
	struct iris_buf inner;
	uint8_t *st = NULL, *nst = NULL, *env;
	size_t slen = 0, nlen = 0, elen, cap;
	int rc, fresh = 0;

	if ((rc = ready(s)) != IRIS_OK)
		return rc;
	if (in->kind == IRIS__CONTENT_TYPING ||
	    in->kind == IRIS__CONTENT_RETRY || txn == NULL)
		return iris__e2s_typing_seal(s, user, device, in, out);
	rc = iris__e2s_rec_load(s, user, device, &r);
	if (rc == IRIS_ENOTFOUND) {
		if ((b = iris__e2s_bundle_find(s, user, device)) == NULL) {
			(void)iris__e2s_fetch(s, user);
			return IRIS_EAGAIN;
		}
		if (b->bad != IRIS_OK)
			return b->bad;
		iris__e2s_local_of(s, &me);
		if ((rc = iris__e2ee_initiate(&ses, &me, &b->b)) != IRIS_OK)
			return rc;
		rc = iris__e2ee_session_save(ses, &st, &slen);
		iris__e2ee_session_free(ses);
		if (rc != IRIS_OK)
			return rc;
		fresh = 1;
	} else if (rc != IRIS_OK)
		return rc;
	else {
		st = r.st[0];
		slen = r.len[0];
	}
	iris__buf_init(&inner, 0);
	iris__e2s_inner_encode(s, user, device, in, &inner);
	cap = inner.len + IRIS_E2EE_MSG_OVERHEAD + IRIS_E2EE_PREKEY_EXTRA +
	    2 * IRIS_E2EE_PAD_BLOCK;
	if ((rc = inner.err) != 0)
		goto out;
	if (inner.len > IRIS_E2EE_PLAIN_MAX) {
		rc = IRIS_ETOOBIG;
		goto out;
	}
	if ((env = iris__buf_room(out, cap)) == NULL) {
		rc = out->err;
		goto out;
	}
	if ((rc = iris__e2ee_encrypt_state(st, slen, inner.p, inner.len,
	    env, cap, &elen, &nst, &nlen)) != IRIS_OK)
		goto out;
	out->len += elen;
	iris__e2s_rec_promote(&r, fresh ? r.n : 0, nst, nlen);
	if (!fresh)
		st = NULL;	/* r's, replaced and freed */
	if ((rc = iris__e2s_rec_put(s, txn, user, device, &r)) == IRIS_OK &&
	    fresh)
		s->st.sessions_started++;
out:
	iris__buf_free(&inner);
	if (fresh)
		iris__e2ee_bytes_free(st, slen);
	iris__e2s_rec_free(&r);
	return rc;
}

static void
count(struct e2s *s, int rc)
{
	switch (rc) {
	case IRIS_OK:
		s->st.opened++;
		break;
	case IRIS_ECRYPTO:
		s->st.failed_crypto++;
		break;
	case IRIS_ESTALE:
		s->st.failed_replay++;
		break;
	case IRIS_EPROTO:
	case IRIS_EVERSION:
	case IRIS_ENOTSUP:
	case IRIS_ELIMIT:
	case IRIS_ETOOBIG:
		s->st.failed_format++;
		break;
	case IRIS_ENOTFOUND:
	case IRIS_ESTATE:
		s->st.failed_nosession++;
		break;
	default:
		s->st.failed_other++;
		break;
	}
}

/* A prekey envelope that names no session held: answered with X3DH. */
static int
answer(struct e2s *s, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const struct iris_e2ee_prekey_info *pi,
    const uint8_t *env, size_t len, struct iris_buf *plain,
    struct e2s_rec *r)
{
	struct iris_e2ee_keypair spk, opk;
	struct iris_e2ee_session *ses = NULL;
	struct iris_e2ee_local me;
	const uint8_t *peer_ik;
	uint8_t *st;
	size_t slen;
	int rc;

	if ((rc = iris__e2s_keys_load(s)) != IRIS_OK)
		return rc == IRIS_ENOTFOUND ? IRIS_ESTATE : rc;
	if ((rc = iris__e2s_spk_find(s, pi->spk_id, &spk)) != IRIS_OK)
		return IRIS_ENOTFOUND;
	if (pi->opk_id != IRIS_E2EE_OPK_NONE &&
	    iris__e2s_opk_find(s, pi->opk_id, &opk) != IRIS_OK) {
		iris__e2ee_wipe(&spk, sizeof(spk));
		return IRIS_ESTALE;	/* used already, or never ours */
	}
	peer_ik = NULL;
	{
		struct devlist *l = iris__devlist_find(s->c, user);
		size_t i;

		for (i = 0; l != NULL && i < l->n; i++)
			if (l->ids[i] == device)
				peer_ik = l->keys[i];
	}
	/* Only an identity the sender's signed device list vouches for
	 * (the receive pipeline fetches the list first). */
	if (peer_ik == NULL)
		return IRIS_ECRYPTO;
	iris__e2s_local_of(s, &me);
	rc = iris__e2ee_respond(&ses, &me, user, device, peer_ik, &spk,
	    pi->opk_id != IRIS_E2EE_OPK_NONE ? &opk : NULL, env, len,
	    plain->p, plain->cap, &plain->len);
	iris__e2ee_wipe(&spk, sizeof(spk));
	iris__e2ee_wipe(&opk, sizeof(opk));
	if (rc != IRIS_OK)
		return rc;
	rc = iris__e2ee_session_save(ses, &st, &slen);
	iris__e2ee_session_free(ses);
	if (rc != IRIS_OK)
		return rc;
	iris__e2s_rec_promote(r, r->n, st, slen);
	if (pi->opk_id != IRIS_E2EE_OPK_NONE) {
		iris__e2s_opk_spend(s, pi->opk_id);
		if ((rc = iris__e2s_keys_put(s, txn)) != IRIS_OK)
			return rc;
	}
	s->st.sessions_answered++;
	return IRIS_OK;
}

static int
open_env(struct e2s *s, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const uint8_t *env, size_t len,
    struct iris_buf *plain)
{
	struct iris_e2ee_prekey_info pi;
	struct iris_e2ee_session *ses;
	struct e2s_rec r;
	uint8_t *nst = NULL;
	size_t i, nlen, first = 0, last;
	int rc, one;

	if (len < 1)
		return IRIS_EPROTO;
	if (env[0] != IRIS_E2EE_KIND_PREKEY && env[0] != IRIS_E2EE_KIND_MSG)
		return IRIS_ENOTSUP;
	rc = iris__e2s_rec_load(s, user, device, &r);
	if (rc != IRIS_OK && rc != IRIS_ENOTFOUND)
		return rc;
	last = r.n;
	if (env[0] == IRIS_E2EE_KIND_PREKEY) {
		if ((rc = iris__e2ee_prekey_info(env, len, &pi)) != IRIS_OK)
			goto out;
		/* Only the session this envelope started may open it. */
		for (i = 0; i < r.n; i++) {
			if (iris__e2ee_session_load(&ses, r.st[i],
			    r.len[i]) != IRIS_OK)
				continue;
			one = sodium_memcmp(iris__e2ee_session_base(ses),
			    pi.ek, 32) == 0;
			iris__e2ee_session_free(ses);
			if (one)
				break;
		}
		if (i == r.n) {
			if ((rc = answer(s, txn, user, device, &pi, env, len,
			    plain, &r)) == IRIS_OK)
				rc = iris__e2s_rec_put(s, txn, user, device,
				    &r);
			goto out;
		}
		first = i;
		last = i + 1;
	}
	rc = IRIS_ENOTFOUND;
	for (i = first; i < last; i++) {
		one = iris__e2ee_decrypt_state(r.st[i], r.len[i], env, len,
		    plain->p, plain->cap, &plain->len, &nst, &nlen);
		if (one == IRIS_OK) {
			iris__e2s_rec_promote(&r, i, nst, nlen);
			rc = iris__e2s_rec_put(s, txn, user, device, &r);
			goto out;
		}
		/* The active session's answer is the one reported. */
		if (i == first)
			rc = one;
	}
out:
	iris__e2s_rec_free(&r);
	return rc;
}

static int
e2s_open(void *self, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const uint8_t *env, size_t len,
    struct iris__content *out, struct iris_buf *keep)
{
	struct e2s *s = self;
	struct iris_buf plain;
	int rc;

	if ((rc = ready(s)) != IRIS_OK)
		return rc;
	if (len > 0 && env[0] == E2S_KIND_TYPING)
		rc = iris__e2s_typing_open(s, txn, user, device, env, len, out,
		    keep);
	else if (txn == NULL)
		rc = IRIS_EPROTO;	/* a message must carry state */
	else {
		iris__buf_init(&plain, 0);
		if (iris__buf_room(&plain, len) == NULL)
			rc = plain.err;
		else
			rc = open_env(s, txn, user, device, env, len, &plain);
		if (rc == IRIS_OK) {
			rc = iris__e2s_inner_decode(s, user, device, &plain,
			    out, keep);
			if (rc == IRIS_OK &&
			    out->kind != IRIS__CONTENT_MESSAGE &&
			    out->kind != IRIS__CONTENT_READ)
				rc = IRIS_EPROTO;
		}
		iris__buf_free(&plain);
	}
	count(s, rc);
	/* Asking again helps a message, never a retry request. */
	if (rc != IRIS_OK)
		out->kind = len > 0 && env[0] == E2S_KIND_TYPING ? -1 : 0;
	return rc;
}

static int
e2s_forget(void *self, struct iris_cs_txn *txn, const char *user,
    uint32_t device)
{
	struct e2s *s = self;
	struct e2s_bundle *b;
	size_t i;

	for (i = 0; i < s->nbundles; i++) {
		b = &s->bundles[i];
		if (b->b.device == device && strcmp(b->b.user, user) == 0) {
			s->bundles[i] = s->bundles[--s->nbundles];
			break;
		}
	}
	return iris__e2s_rec_del(s, txn, user, device);
}

static void
e2s_reset(void *self)
{
	iris__e2s_cache_clear(self);
}

const struct iris__sealer_ops iris__seal_e2ee = {
	"end-to-end encrypted (X3DH, Double Ratchet)",
	IRIS_E2EE_MSG_OVERHEAD + IRIS_E2EE_PREKEY_EXTRA + IRIS_E2EE_PAD_BLOCK +
	    (1 + 1 + 4 + 3 * (1 + IRIS_E2EE_USER_MAX) + 8 + 4),
	e2s_create, e2s_destroy, e2s_seal, e2s_open, e2s_reset, e2s_forget,
};

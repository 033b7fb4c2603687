/* SPDX-License-Identifier: ISC */
/*
 * The Double Ratchet (research/e2ee.md §6.5): KDF_RK on HKDF, KDF_CK on
 * HMAC, one message key per message turned into an XChaCha20-Poly1305
 * key, a random nonce per envelope. Skipped message keys are bounded
 * (a jump of at most IRIS_E2EE_MAX_SKIP per chain, at most
 * IRIS_E2EE_MAX_STORED kept, the oldest dropped first, none kept past
 * IRIS_E2EE_OLD_CHAINS DH steps); a key is deleted once used, so a
 * replayed envelope finds none. Decryption advances a working copy; the
 * caller keeps it only on success (state.c).
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"
#include "e2ee/session.h"

#define RK_INFO		"libiris/v1/rk"
#define MK_INFO		"libiris/v1/mk"
#define ENV_VERSION	1
/* AD || u16 length || every envelope byte before the nonce. */
#define AEAD_AD_MAX	\
	(SESSION_AD_MAX + 2 + 1 + IRIS_E2EE_PREKEY_EXTRA + 41)

void
iris__e2ee_kdf_rk(uint8_t rk[32], uint8_t ck[32], const uint8_t dh[32])
{
	uint8_t out[64];

	/* salt = rk, IKM = dh: cannot fail for 64 bytes. */
	(void)iris__e2ee_hkdf(out, sizeof(out), rk, 32, dh, 32,
	    (const uint8_t *)RK_INFO, sizeof(RK_INFO) - 1);
	memcpy(rk, out, 32);
	memcpy(ck, out + 32, 32);
	sodium_memzero(out, sizeof(out));
}

/* KDF_CK: mk = HMAC(ck, 0x01), ck' = HMAC(ck, 0x02). */
static void
kdf_ck(uint8_t ck[32], uint8_t mk[32])
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t next[32];

	iris__e2ee_hmac(mk, ck, 32, &one, 1);
	iris__e2ee_hmac(next, ck, 32, &two, 1);
	memcpy(ck, next, 32);
	sodium_memzero(next, sizeof(next));
}

static void
aead_key(uint8_t k[32], const uint8_t mk[32])
{
	static const uint8_t zero[32];

	(void)iris__e2ee_hkdf(k, 32, zero, sizeof(zero), mk, 32,
	    (const uint8_t *)MK_INFO, sizeof(MK_INFO) - 1);
}

static size_t
aead_ad(uint8_t out[AEAD_AD_MAX], const struct iris_e2ee_session *s,
    const uint8_t *hdr, size_t hdrlen)
{
	memcpy(out, s->ad, s->adlen);
	iris__e2ee_put16(out + s->adlen, (uint16_t)hdrlen);
	memcpy(out + s->adlen + 2, hdr, hdrlen);
	return s->adlen + 2 + hdrlen;
}

static size_t
padded(size_t plen)
{
	return (plen / IRIS_E2EE_PAD_BLOCK + 1) * IRIS_E2EE_PAD_BLOCK;
}

size_t
iris__e2ee_envelope_size(const struct iris_e2ee_session *s, size_t plen)
{
	size_t n = IRIS_E2EE_MSG_OVERHEAD + padded(plen);

	if (s != NULL && (s->flags & SESSION_PENDING))
		n += IRIS_E2EE_PREKEY_EXTRA;
	return n;
}

int
iris__e2ee_encrypt(struct iris_e2ee_session *s, const uint8_t *plain,
    size_t plen, uint8_t *env, size_t cap, size_t *elen)
{
	uint8_t ad[AEAD_AD_MAX], ck[32], mk[32], k[32], *p = env, *hdr, *ct;
	size_t need, padlen, adlen;

	if (s == NULL || env == NULL || elen == NULL ||
	    (plain == NULL && plen > 0))
		return IRIS_EINVAL;
	if (!(s->flags & SESSION_HAS_CKS))
		return IRIS_ESTATE;
	if (plen > IRIS_E2EE_PLAIN_MAX)
		return IRIS_ETOOBIG;
	if (s->ns == UINT32_MAX)
		return IRIS_ELIMIT;
	if (cap < (need = iris__e2ee_envelope_size(s, plen)))
		return IRIS_ETOOBIG;
	hdr = p;
	if (s->flags & SESSION_PENDING) {
		*p++ = IRIS_E2EE_KIND_PREKEY;
		*p++ = ENV_VERSION;
		memcpy(p, s->own_ik, 32);
		memcpy(p + 32, s->base, 32);
		iris__e2ee_put32(p + 64, s->spk_id);
		iris__e2ee_put32(p + 68, s->opk_id);
		p += 72;
	} else
		*p++ = IRIS_E2EE_KIND_MSG;
	*p++ = ENV_VERSION;
	memcpy(p, s->dhs.pub, 32);
	iris__e2ee_put32(p + 32, s->pn);
	iris__e2ee_put32(p + 36, s->ns);
	p += 40;
	adlen = aead_ad(ad, s, hdr, (size_t)(p - hdr));
	randombytes_buf(p, IRIS_E2EE_NONCE);
	ct = p + IRIS_E2EE_NONCE + 4;
	if (plen > 0)
		memmove(ct, plain, plen);
	/* Room for the block is there: need counted it. */
	(void)sodium_pad(&padlen, ct, plen, IRIS_E2EE_PAD_BLOCK,
	    padded(plen));
	iris__e2ee_put32(p + IRIS_E2EE_NONCE, (uint32_t)(padlen +
	    IRIS_E2EE_TAG));
	memcpy(ck, s->cks, 32);
	kdf_ck(ck, mk);
	aead_key(k, mk);
	iris__e2ee_aead_seal(ct, ct, padlen, ad, adlen, p, k);
	memcpy(s->cks, ck, 32);
	s->ns++;
	/* need, exactly */
	*elen = (size_t)(ct - env) + padlen + IRIS_E2EE_TAG;
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(mk, sizeof(mk));
	sodium_memzero(k, sizeof(k));
	return IRIS_OK;
}

/* Opens e with message key mk into plain and unpads it. */
static int
open_with(const struct iris_e2ee_session *s, const struct e2ee_env *e,
    const uint8_t mk[32], uint8_t *plain, size_t *plen)
{
	uint8_t ad[AEAD_AD_MAX], k[32];
	size_t adlen, n = e->ctlen - IRIS_E2EE_TAG, unpadded;
	int rc;

	adlen = aead_ad(ad, s, e->hdr, e->hdrlen);
	aead_key(k, mk);
	rc = iris__e2ee_aead_open(plain, e->ct, e->ctlen, ad, adlen, e->nonce,
	    k);
	sodium_memzero(k, sizeof(k));
	if (rc != IRIS_OK)
		return IRIS_ECRYPTO;
	/* Authentic, so a bad pad is the sender's bug: refused the same. */
	if (sodium_unpad(&unpadded, plain, n, IRIS_E2EE_PAD_BLOCK) != 0) {
		sodium_memzero(plain, n);
		return IRIS_ECRYPTO;
	}
	*plen = unpadded;
	return IRIS_OK;
}

/* Drops the skipped key i, wiping it. */
static void
skipped_del(struct iris_e2ee_session *s, uint32_t i)
{
	sodium_memzero(&s->sk[i], sizeof(s->sk[i]));
	memmove(&s->sk[i], &s->sk[i + 1], (s->nsk - i - 1) * sizeof(s->sk[0]));
	s->nsk--;
}

/* Keeps the newest IRIS_E2EE_MAX_STORED keys of chains young enough. */
static void
skipped_trim(struct iris_e2ee_session *s)
{
	uint32_t i, j, drop;

	for (i = j = 0; i < s->nsk; i++) {
		if (s->step - s->sk[i].step > IRIS_E2EE_OLD_CHAINS) {
			sodium_memzero(&s->sk[i], sizeof(s->sk[i]));
			continue;
		}
		if (i != j) {
			s->sk[j] = s->sk[i];
			sodium_memzero(&s->sk[i], sizeof(s->sk[i]));
		}
		j++;
	}
	s->nsk = j;
	if (s->nsk <= IRIS_E2EE_MAX_STORED)
		return;
	drop = s->nsk - IRIS_E2EE_MAX_STORED;
	sodium_memzero(s->sk, drop * sizeof(s->sk[0]));
	memmove(s->sk, s->sk + drop, IRIS_E2EE_MAX_STORED * sizeof(s->sk[0]));
	sodium_memzero(s->sk + IRIS_E2EE_MAX_STORED, drop * sizeof(s->sk[0]));
	s->nsk = IRIS_E2EE_MAX_STORED;
}

/* Stores the keys of the receiving chain's messages before until. */
static int
skip(struct iris_e2ee_session *s, uint32_t until)
{
	struct session_skipped *k;
	int rc;

	if (!(s->flags & SESSION_HAS_CKR) || until <= s->nr)
		return IRIS_OK;
	if (until - s->nr > IRIS_E2EE_MAX_SKIP)
		return IRIS_ELIMIT;
	if ((rc = iris__e2ee_session_reserve(s, s->nsk + (until - s->nr))) !=
	    IRIS_OK)
		return rc;
	while (s->nr < until) {
		k = &s->sk[s->nsk++];
		memcpy(k->dh, s->dhr, 32);
		k->n = s->nr++;
		k->step = s->step;
		kdf_ck(s->ckr, k->mk);
	}
	skipped_trim(s);
	return IRIS_OK;
}

/* A new receiving chain for the sender's ratchet key dh, then ours. */
static int
dh_ratchet(struct iris_e2ee_session *s, const uint8_t dh[32])
{
	uint8_t out[32];
	int rc;

	if (s->flags & SESSION_HAS_DHR) {
		memmove(s->old_dhr[1], s->old_dhr[0],
		    (IRIS_E2EE_OLD_CHAINS - 1) * 32);
		memcpy(s->old_dhr[0], s->dhr, 32);
		if (s->nold < IRIS_E2EE_OLD_CHAINS)
			s->nold++;
	}
	s->pn = s->ns;
	s->ns = 0;
	s->nr = 0;
	memcpy(s->dhr, dh, 32);
	s->flags |= SESSION_HAS_DHR;
	if ((rc = iris__e2ee_dh(out, s->dhs.sec, s->dhr)) != IRIS_OK)
		return rc;
	iris__e2ee_kdf_rk(s->rk, s->ckr, out);
	iris__e2ee_keypair_new(&s->dhs);
	rc = iris__e2ee_dh(out, s->dhs.sec, s->dhr);
	if (rc == IRIS_OK)
		iris__e2ee_kdf_rk(s->rk, s->cks, out);
	sodium_memzero(out, sizeof(out));
	s->flags |= SESSION_HAS_CKR | SESSION_HAS_CKS;
	s->step++;
	skipped_trim(s);
	return rc;
}

static int
old_chain(const struct iris_e2ee_session *s, const uint8_t dh[32])
{
	uint8_t i;

	for (i = 0; i < s->nold; i++)
		if (memcmp(s->old_dhr[i], dh, 32) == 0)
			return 1;
	return 0;
}

int
iris__e2ee_ratchet_open(struct iris_e2ee_session *s, const struct e2ee_env *e,
    uint8_t *plain, size_t cap, size_t *plen)
{
	uint8_t mk[32];
	uint32_t i;
	int rc;

	if (cap < e->ctlen - IRIS_E2EE_TAG)
		return IRIS_ETOOBIG;
	if (e->n == UINT32_MAX)
		return IRIS_ELIMIT;	/* Nr would wrap */
	/* Public keys and counters: no secret in these comparisons. */
	for (i = s->nsk; i-- > 0;) {
		if (s->sk[i].n != e->n || memcmp(s->sk[i].dh, e->dh, 32) != 0)
			continue;
		if ((rc = open_with(s, e, s->sk[i].mk, plain, plen)) ==
		    IRIS_OK)
			skipped_del(s, i);
		return rc;
	}
	if ((s->flags & SESSION_HAS_DHR) && memcmp(s->dhr, e->dh, 32) == 0) {
		if (!(s->flags & SESSION_HAS_CKR))
			return IRIS_ECRYPTO;	/* our own prekey, echoed */
		if (e->n < s->nr)
			return IRIS_ESTALE;	/* used, or dropped */
	} else {
		if (old_chain(s, e->dh))
			return IRIS_ESTALE;
		if (e->pn > s->nr && (s->flags & SESSION_HAS_CKR) &&
		    e->pn - s->nr > IRIS_E2EE_MAX_SKIP)
			return IRIS_ELIMIT;
		if (e->n > IRIS_E2EE_MAX_SKIP)
			return IRIS_ELIMIT;
		if ((rc = skip(s, e->pn)) != IRIS_OK ||
		    (rc = dh_ratchet(s, e->dh)) != IRIS_OK)
			return rc;
	}
	if ((rc = skip(s, e->n)) != IRIS_OK)
		return rc;
	kdf_ck(s->ckr, mk);
	s->nr++;
	rc = open_with(s, e, mk, plain, plen);
	sodium_memzero(mk, sizeof(mk));
	return rc;
}

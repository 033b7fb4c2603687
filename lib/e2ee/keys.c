/* SPDX-License-Identifier: ISC */
/*
 * Asymmetric keys: X25519 agreement with every result checked, Ed25519
 * device identities and their X25519 forms, signatures over a domain
 * prefix and the message, the signed and one-time prekeys a device
 * uploads, and the check of a bundle the key directory hands out (the
 * signed prekey's message is the one lib/core/keys.c verifies).
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"
#include "util/alloc.h"

#define SIGN_STACK	512	/* domain || message on the stack up to this */

int
iris__e2ee_dh(uint8_t out[32], const uint8_t sec[32], const uint8_t pub[32])
{
	/* -1: the peer's point has small order and the result is zero. */
	if (crypto_scalarmult(out, sec, pub) != 0 ||
	    sodium_is_zero(out, 32)) {
		sodium_memzero(out, 32);
		return IRIS_ECRYPTO;
	}
	return IRIS_OK;
}

void
iris__e2ee_keypair_new(struct iris_e2ee_keypair *kp)
{
	randombytes_buf(kp->sec, sizeof(kp->sec));
	crypto_scalarmult_base(kp->pub, kp->sec);
}

void
iris__e2ee_identity_new(struct iris_e2ee_identity *id)
{
	crypto_sign_keypair(id->pub, id->sec);
}

int
iris__e2ee_identity_dh(uint8_t xsec[32], const uint8_t edsec[64])
{
	if (crypto_sign_ed25519_sk_to_curve25519(xsec, edsec) != 0)
		return IRIS_ECRYPTO;
	return IRIS_OK;
}

int
iris__e2ee_identity_dh_pub(uint8_t xpub[32], const uint8_t edpub[32])
{
	/* Refuses points off the curve and of small order. */
	if (crypto_sign_ed25519_pk_to_curve25519(xpub, edpub) != 0 ||
	    sodium_is_zero(xpub, 32))
		return IRIS_ECRYPTO;
	return IRIS_OK;
}

/* domain || msg in buf (SIGN_STACK bytes) or a new allocation. */
static uint8_t *
signed_bytes(uint8_t *buf, const char *domain, const uint8_t *msg,
    size_t len, size_t *total)
{
	size_t dlen = strlen(domain);
	uint8_t *p = buf;

	if (len > SIZE_MAX - dlen)
		return NULL;
	*total = dlen + len;
	if (*total > SIGN_STACK && (p = iris__malloc(*total)) == NULL)
		return NULL;
	memcpy(p, domain, dlen);
	if (len > 0)
		memcpy(p + dlen, msg, len);
	return p;
}

int
iris__e2ee_sign(uint8_t sig[64], const uint8_t edsec[64], const char *domain,
    const uint8_t *msg, size_t len)
{
	uint8_t buf[SIGN_STACK], *p;
	size_t total;

	if (domain == NULL || domain[0] == '\0' || (msg == NULL && len > 0))
		return IRIS_EINVAL;
	if ((p = signed_bytes(buf, domain, msg, len, &total)) == NULL)
		return IRIS_ENOMEM;
	crypto_sign_detached(sig, NULL, p, total, edsec);
	if (p != buf)
		iris__free(p);
	return IRIS_OK;
}

int
iris__e2ee_verify(const uint8_t sig[64], const uint8_t edpub[32],
    const char *domain, const uint8_t *msg, size_t len)
{
	uint8_t buf[SIGN_STACK], *p;
	size_t total;
	int ok;

	if (domain == NULL || domain[0] == '\0' || (msg == NULL && len > 0))
		return IRIS_EINVAL;
	if ((p = signed_bytes(buf, domain, msg, len, &total)) == NULL)
		return IRIS_ENOMEM;
	/* 1.0.18 refuses non-canonical S and small-order R and A. */
	ok = crypto_sign_verify_detached(sig, p, total, edpub) == 0;
	if (p != buf)
		iris__free(p);
	return ok ? IRIS_OK : IRIS_ECRYPTO;
}

void
iris__e2ee_spk_message(uint8_t out[IRIS_E2EE_SPK_MSG], uint32_t id,
    const uint8_t pub[32], uint64_t created_ms)
{
	memcpy(out, IRIS_E2EE_DOM_SPK, 11);
	iris__e2ee_put32(out + 11, id);
	memcpy(out + 15, pub, 32);
	iris__e2ee_put64(out + 47, created_ms);
}

int
iris__e2ee_spk_new(struct iris_e2ee_spk *spk, uint32_t id,
    uint64_t created_ms, const uint8_t edsec[64])
{
	uint8_t msg[IRIS_E2EE_SPK_MSG];

	memset(spk, 0, sizeof(*spk));
	spk->id = id;
	spk->created_ms = created_ms;
	iris__e2ee_keypair_new(&spk->kp);
	iris__e2ee_spk_message(msg, id, spk->kp.pub, created_ms);
	/* The message starts with its domain prefix. */
	return iris__e2ee_sign(spk->sig, edsec, IRIS_E2EE_DOM_SPK, msg + 11,
	    sizeof(msg) - 11);
}

void
iris__e2ee_opks_new(struct iris_e2ee_opk *opks, size_t n, uint32_t first_id)
{
	size_t i;

	for (i = 0; i < n; i++) {
		opks[i].id = first_id + (uint32_t)i;
		iris__e2ee_keypair_new(&opks[i].kp);
	}
}

/* A public X25519 key that agreement accepts: not of small order. */
static int
x25519_pub_ok(const uint8_t pub[32])
{
	uint8_t probe[32], out[32];
	int rc;

	/* A point of small order makes any scalar's result zero. */
	randombytes_buf(probe, sizeof(probe));
	rc = iris__e2ee_dh(out, probe, pub);
	sodium_memzero(probe, sizeof(probe));
	sodium_memzero(out, sizeof(out));
	return rc == IRIS_OK;
}

int
iris__e2ee_bundle_verify(const struct iris_e2ee_bundle *b)
{
	uint8_t msg[IRIS_E2EE_SPK_MSG], xpub[32];
	size_t ulen;

	if (b == NULL)
		return IRIS_EINVAL;
	ulen = strnlen(b->user, sizeof(b->user));
	if (ulen == 0 || ulen > IRIS_E2EE_USER_MAX ||
	    (b->has_opk && b->opk_id == IRIS_E2EE_OPK_NONE))
		return IRIS_EINVAL;
	if (iris__e2ee_identity_dh_pub(xpub, b->ik) != IRIS_OK)
		return IRIS_ECRYPTO;
	iris__e2ee_spk_message(msg, b->spk_id, b->spk_pub, b->spk_created_ms);
	if (iris__e2ee_verify(b->spk_sig, b->ik, IRIS_E2EE_DOM_SPK, msg + 11,
	    sizeof(msg) - 11) != IRIS_OK)
		return IRIS_ECRYPTO;
	if (!x25519_pub_ok(b->spk_pub) ||
	    (b->has_opk && !x25519_pub_ok(b->opk_pub)))
		return IRIS_ECRYPTO;
	return IRIS_OK;
}

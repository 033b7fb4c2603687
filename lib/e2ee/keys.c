/* SPDX-License-Identifier: ISC */
/*
 * Asymmetric keys: X25519 agreement with every result checked, Ed25519
 * device identities and their X25519 forms, signatures over a domain
 * prefix and the message, the signed and one-time prekeys a device
 * uploads, the check of a bundle the key directory hands out (the
 * signed prekey's message is the one lib/core/keys.c verifies), and
 * safety numbers.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"
#include "util/alloc.h"

#define SIGN_STACK	512	/* signed bytes kept on the stack */
#define FP_VERSION	0
#define FP_ITERATIONS	5200
#define FP_DIGITS	30

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

/*
 * Safety numbers, shaped like Signal's: each side's 30 digits come from
 * 5200 iterations of SHA-512 over a version, its identity key and its
 * user id (the key mixed into every round); the two halves are joined in
 * sorted order, so both devices show the same 60 digits.
 */
static int
half(char out[FP_DIGITS + 1], const uint8_t ik[32], const char *user)
{
	crypto_hash_sha512_state st;
	uint8_t h[crypto_hash_sha512_BYTES], ver[2];
	uint64_t chunk;
	size_t ulen;
	int i, j;

	if (user == NULL || (ulen = strnlen(user, IRIS_E2EE_USER_MAX + 1)) ==
	    0 || ulen > IRIS_E2EE_USER_MAX)
		return IRIS_EINVAL;
	iris__e2ee_put16(ver, FP_VERSION);
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, ver, sizeof(ver));
	crypto_hash_sha512_update(&st, ik, 32);
	crypto_hash_sha512_update(&st, (const uint8_t *)user, ulen);
	crypto_hash_sha512_final(&st, h);
	for (i = 1; i < FP_ITERATIONS; i++) {
		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, h, sizeof(h));
		crypto_hash_sha512_update(&st, ik, 32);
		crypto_hash_sha512_final(&st, h);
	}
	/* Six 5-byte chunks, each taken mod 100000: five digits each. */
	for (i = 0; i < 6; i++) {
		for (chunk = 0, j = 0; j < 5; j++)
			chunk = chunk << 8 | h[5 * i + j];
		chunk %= 100000;
		for (j = 4; j >= 0; j--) {
			out[5 * i + j] = (char)('0' + chunk % 10);
			chunk /= 10;
		}
	}
	out[FP_DIGITS] = '\0';
	return IRIS_OK;
}

int
iris__e2ee_safety_number(char out[IRIS_E2EE_SAFETY_LEN + 1],
    const uint8_t ik_a[32], const char *user_a, const uint8_t ik_b[32],
    const char *user_b)
{
	char a[FP_DIGITS + 1], b[FP_DIGITS + 1];
	int rc;

	if (out == NULL || ik_a == NULL || ik_b == NULL)
		return IRIS_EINVAL;
	if ((rc = half(a, ik_a, user_a)) != IRIS_OK ||
	    (rc = half(b, ik_b, user_b)) != IRIS_OK)
		return rc;
	if (strcmp(a, b) <= 0) {
		memcpy(out, a, FP_DIGITS);
		memcpy(out + FP_DIGITS, b, FP_DIGITS + 1);
	} else {
		memcpy(out, b, FP_DIGITS);
		memcpy(out + FP_DIGITS, a, FP_DIGITS + 1);
	}
	return IRIS_OK;
}

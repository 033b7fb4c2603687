/* SPDX-License-Identifier: ISC */
/*
 * Symmetric primitives: HMAC-SHA256 through libsodium's streaming API
 * (the one-shot call takes only 32-byte keys), HKDF-SHA256 (RFC 5869;
 * libsodium 1.0.18 has none), XChaCha20-Poly1305-IETF, and the
 * big-endian field helpers of envelopes and state.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"

int
iris__e2ee_init(void)
{
	return sodium_init() < 0 ? IRIS_ECRYPTO : IRIS_OK;
}

void
iris__e2ee_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void
iris__e2ee_hmac(uint8_t out[32], const uint8_t *key, size_t klen,
    const uint8_t *msg, size_t len)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
iris__e2ee_hkdf_extract(uint8_t prk[32], const uint8_t *salt, size_t slen,
    const uint8_t *ikm, size_t ilen)
{
	static const uint8_t zero[32];

	/* RFC 5869 §2.2: no salt is HashLen zero bytes. */
	if (salt == NULL || slen == 0) {
		salt = zero;
		slen = sizeof(zero);
	}
	iris__e2ee_hmac(prk, salt, slen, ikm, ilen);
}

int
iris__e2ee_hkdf_expand(uint8_t *out, size_t olen, const uint8_t *prk,
    size_t plen, const uint8_t *info, size_t infolen)
{
	crypto_auth_hmacsha256_state st;
	uint8_t t[32], ctr;
	size_t done = 0, n;

	if (olen == 0 || olen > IRIS_E2EE_HKDF_MAX || prk == NULL ||
	    (info == NULL && infolen != 0))
		return IRIS_EINVAL;
	for (ctr = 1; done < olen; ctr++) {
		/* T(i) = HMAC(PRK, T(i-1) || info || i) */
		crypto_auth_hmacsha256_init(&st, prk, plen);
		if (ctr > 1)
			crypto_auth_hmacsha256_update(&st, t, sizeof(t));
		if (infolen > 0)
			crypto_auth_hmacsha256_update(&st, info, infolen);
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		n = olen - done < sizeof(t) ? olen - done : sizeof(t);
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(t, sizeof(t));
	return IRIS_OK;
}

int
iris__e2ee_hkdf(uint8_t *out, size_t olen, const uint8_t *salt, size_t slen,
    const uint8_t *ikm, size_t ilen, const uint8_t *info, size_t infolen)
{
	uint8_t prk[32];
	int rc;

	if (olen == 0 || olen > IRIS_E2EE_HKDF_MAX)
		return IRIS_EINVAL;
	iris__e2ee_hkdf_extract(prk, salt, slen, ikm, ilen);
	rc = iris__e2ee_hkdf_expand(out, olen, prk, sizeof(prk), info,
	    infolen);
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

void
iris__e2ee_aead_seal(uint8_t *c, const uint8_t *m, size_t mlen,
    const uint8_t *ad, size_t adlen, const uint8_t nonce[24],
    const uint8_t key[32])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad,
	    adlen, NULL, nonce, key);
}

int
iris__e2ee_aead_open(uint8_t *m, const uint8_t *c, size_t clen,
    const uint8_t *ad, size_t adlen, const uint8_t nonce[24],
    const uint8_t key[32])
{
	if (clen < IRIS_E2EE_TAG)
		return IRIS_EINVAL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen,
	    ad, adlen, nonce, key) != 0) {
		sodium_memzero(m, clen - IRIS_E2EE_TAG);
		return IRIS_ECRYPTO;
	}
	return IRIS_OK;
}

void
iris__e2ee_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void
iris__e2ee_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
iris__e2ee_put64(uint8_t *p, uint64_t v)
{
	iris__e2ee_put32(p, (uint32_t)(v >> 32));
	iris__e2ee_put32(p + 4, (uint32_t)v);
}

uint16_t
iris__e2ee_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t
iris__e2ee_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint64_t
iris__e2ee_get64(const uint8_t *p)
{
	return (uint64_t)iris__e2ee_get32(p) << 32 | iris__e2ee_get32(p + 4);
}

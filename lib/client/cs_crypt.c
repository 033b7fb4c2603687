/* SPDX-License-Identifier: ISC */
/*
 * Records at rest: XChaCha20-Poly1305 with a random nonce per write and
 * the record's place (kind, account, key) as associated data, under a
 * subkey of the embedder's key; and keyed BLAKE2b tags for lookups.
 * A sealed record is u8 version (1) | nonce[24] | ciphertext and tag.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/cstore.h"
#include "util/alloc.h"

#define SEAL_VERSION	1
#define AD_PREFIX	"IRIS-CS1"
#define AD_MAX		(8 + 1 + 8 + 64)
#define KDF_CONTEXT	"IRISCST1"

int
iris__cs_derive(struct iris_client_store *cs,
    const uint8_t key[IRIS_CS_KEY_LEN])
{
	if (crypto_kdf_derive_from_key(cs->rec_key, sizeof(cs->rec_key), 1,
	    KDF_CONTEXT, key) != 0 ||
	    crypto_kdf_derive_from_key(cs->tag_key, sizeof(cs->tag_key), 2,
	    KDF_CONTEXT, key) != 0)
		return IRIS_ECRYPTO;
	return IRIS_OK;
}

/* "IRIS-CS1" | u8 kind | u64be account | key. */
static size_t
make_ad(uint8_t ad[AD_MAX], int table, int64_t account, const void *key,
    size_t keylen)
{
	uint64_t a = (uint64_t)account;
	size_t n = 0;
	int i;

	memcpy(ad, AD_PREFIX, 8);
	n = 8;
	ad[n++] = (uint8_t)table;
	for (i = 7; i >= 0; i--)
		ad[n++] = (uint8_t)(a >> (8 * i));
	if (keylen > AD_MAX - n)
		keylen = AD_MAX - n;	/* keys are tags or integers */
	memcpy(ad + n, key, keylen);
	return n + keylen;
}

int
iris__cs_seal(const struct iris_client_store *cs, int table, int64_t account,
    const void *key, size_t keylen, const void *pt, size_t ptlen,
    uint8_t **out, size_t *outlen)
{
	uint8_t ad[AD_MAX], *p;
	unsigned long long clen;
	size_t adlen;

	*out = NULL;
	*outlen = 0;
	if (ptlen > SIZE_MAX - IRIS_CS_SEAL_OVERHEAD)
		return IRIS_ETOOBIG;
	if ((p = iris__malloc(IRIS_CS_SEAL_OVERHEAD + ptlen)) == NULL)
		return IRIS_ENOMEM;
	adlen = make_ad(ad, table, account, key, keylen);
	p[0] = SEAL_VERSION;
	randombytes_buf(p + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + 25, &clen, pt, ptlen,
	    ad, adlen, NULL, p + 1, cs->rec_key);
	*out = p;
	*outlen = 25 + (size_t)clen;
	return IRIS_OK;
}

int
iris__cs_unseal(const struct iris_client_store *cs, int table,
    int64_t account, const void *key, size_t keylen, const void *ct,
    size_t ctlen, struct iris_buf *out)
{
	const uint8_t *c = ct;
	uint8_t ad[AD_MAX], *p;
	unsigned long long plen;
	size_t adlen, need;

	iris__buf_reset(out);
	if (ctlen < IRIS_CS_SEAL_OVERHEAD || c[0] != SEAL_VERSION)
		return IRIS_ECRYPTO;
	need = ctlen - IRIS_CS_SEAL_OVERHEAD;
	if ((p = iris__buf_room(out, need + 1)) == NULL)
		return out->err;
	adlen = make_ad(ad, table, account, key, keylen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, c + 25,
	    ctlen - 25, ad, adlen, c + 1, cs->rec_key) != 0)
		return IRIS_ECRYPTO;
	out->len = (size_t)plen;
	return IRIS_OK;
}

void
iris__cs_tag(const struct iris_client_store *cs, int domain, const void *p,
    size_t n, uint8_t out[IRIS_CS_TAG_LEN])
{
	crypto_generichash_state st;
	uint8_t d = (uint8_t)domain;

	crypto_generichash_init(&st, cs->tag_key, sizeof(cs->tag_key),
	    IRIS_CS_TAG_LEN);
	crypto_generichash_update(&st, &d, 1);
	crypto_generichash_update(&st, p, n);
	crypto_generichash_final(&st, out, IRIS_CS_TAG_LEN);
}

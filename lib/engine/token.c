/* SPDX-License-Identifier: ISC */
/*
 * Session tokens: u8 version | u8 len | user | u32 device | u64 expires_ms
 * | 16-byte token id, then Ed25519 by the server key over "IRIS-TOKEN-v1"
 * and those bytes. Any node holding the public key can check one.
 *
 * A token login is the reconnect storm's common case, and the Ed25519
 * verification was a fifth of its server CPU: the tokens this server made
 * or verified are remembered, as a keyed BLAKE2b of their exact bytes, in
 * a fixed table until they expire, and a token found there is not verified
 * again. Only those bytes are trusted: user, device, id and expiry are
 * read from the token each time, and expiry and revocation are checked
 * each time as before.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "engine/engine.h"
#include "util/alloc.h"
#include "util/clock.h"

#define TOKEN_VERSION	1
#define TOKEN_SLOTS	16384		/* 40 bytes each: 640 KiB */

struct token_seen {
	uint8_t		 hash[32];
	uint64_t	 expires_ms;	/* 0: empty */
};

int
iris__token_init(struct iris_engine *eng)
{
	if ((eng->tokens_seen = iris__calloc(TOKEN_SLOTS,
	    sizeof(*eng->tokens_seen))) == NULL)
		return IRIS_ENOMEM;
	crypto_generichash_keygen(eng->tokens_key);
	return IRIS_OK;
}

void
iris__token_free(struct iris_engine *eng)
{
	iris__free(eng->tokens_seen);
	eng->tokens_seen = NULL;
	sodium_memzero(eng->tokens_key, sizeof(eng->tokens_key));
}

static struct token_seen *
slot(struct iris_engine *eng, const uint8_t *t, size_t len, uint8_t h[32])
{
	uint32_t i;

	crypto_generichash(h, 32, t, len, eng->tokens_key,
	    sizeof(eng->tokens_key));
	memcpy(&i, h, sizeof(i));
	return &eng->tokens_seen[i % TOKEN_SLOTS];
}

static void
remember(struct iris_engine *eng, const uint8_t *t, size_t len,
    uint64_t expires)
{
	struct token_seen *e;
	uint8_t h[32];

	if (eng->tokens_seen == NULL)
		return;
	e = slot(eng, t, len, h);
	memcpy(e->hash, h, sizeof(h));
	e->expires_ms = expires;
}

static int
seen(struct iris_engine *eng, const uint8_t *t, size_t len, uint64_t now)
{
	struct token_seen *e;
	uint8_t h[32];

	if (eng->tokens_seen == NULL)
		return 0;
	e = slot(eng, t, len, h);
	return e->expires_ms > now && sodium_memcmp(e->hash, h, 32) == 0;
}

size_t
iris__token_make(struct iris_engine *eng, uint8_t out[IRIS_TOKEN_MAX],
    const char *user, uint32_t device, uint64_t expires, uint8_t id[16])
{
	uint8_t msg[13 + IRIS_TOKEN_MAX];
	size_t ulen = strlen(user), n = 0;
	int i;

	randombytes_buf(id, 16);
	out[n++] = TOKEN_VERSION;
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, user, ulen);
	n += ulen;
	for (i = 3; i >= 0; i--)
		out[n++] = (uint8_t)(device >> (8 * i));
	for (i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(expires >> (8 * i));
	memcpy(out + n, id, 16);
	n += 16;
	memcpy(msg, "IRIS-TOKEN-v1", 13);
	memcpy(msg + 13, out, n);
	crypto_sign_detached(out + n, NULL, msg, 13 + n, eng->sign_sk);
	remember(eng, out, n + 64, expires);
	return n + 64;
}

int
iris__token_check(struct iris_engine *eng, const uint8_t *t, size_t len,
    char user[65], uint32_t *device, uint8_t id[16], uint64_t *expires_ms)
{
	uint8_t msg[13 + IRIS_TOKEN_MAX];
	uint64_t expires = 0, now = iris__clock_realtime_ms(NULL);
	size_t ulen, body;
	int i;

	if (len < 2 + 4 + 8 + 16 + 64 || len > IRIS_TOKEN_MAX ||
	    t[0] != TOKEN_VERSION)
		return IRIS_EAUTH;
	ulen = t[1];
	body = 2 + ulen + 4 + 8 + 16;
	if (body + 64 != len)
		return IRIS_EAUTH;
	for (i = 0; i < 8; i++)
		expires = expires << 8 | t[6 + ulen + i];
	if (!seen(eng, t, len, now)) {
		memcpy(msg, "IRIS-TOKEN-v1", 13);
		memcpy(msg + 13, t, body);
		if (crypto_sign_verify_detached(t + body, msg, 13 + body,
		    eng->sign_pk) != 0)
			return IRIS_EAUTH;
		if (now < expires)
			remember(eng, t, len, expires);
	}
	memcpy(user, t + 2, ulen);
	user[ulen] = '\0';
	*device = (uint32_t)t[2 + ulen] << 24 | (uint32_t)t[3 + ulen] << 16 |
	    (uint32_t)t[4 + ulen] << 8 | t[5 + ulen];
	memcpy(id, t + 14 + ulen, 16);
	*expires_ms = expires;
	return now < expires ? IRIS_OK : IRIS_ETIMEDOUT;
}

/* SPDX-License-Identifier: ISC */
/*
 * Safety numbers for out-of-band verification, shaped like Signal's: each
 * side's 30 digits come from 5200 iterations of SHA-512 over a version,
 * its identity key and its user id (the key mixed into every round, so a
 * precomputed table does not help an attacker looking for a collision);
 * the two halves are joined in sorted order, so both devices show the
 * same 60 digits.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"

#define FP_VERSION	0
#define FP_ITERATIONS	5200
#define FP_DIGITS	30

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

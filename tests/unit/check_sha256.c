/* SPDX-License-Identifier: ISC */
/*
 * irisd's SHA-256 block function for mbedTLS (server/irisd_sha256.c,
 * compiled in here): the portable block and, on a CPU with the SHA
 * extensions, the SHA-NI block give libsodium's SHA-256 for messages of
 * every length up to a few blocks and for long ones, the FIPS 180-4
 * examples among them; and mbedtls_internal_sha256_process drives
 * mbedTLS's own SHA-256 to the same digests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../../server/irisd_sha256.c"

#include "suites.h"

typedef void (*block_t)(uint32_t st[8], const unsigned char *p);

/* SHA-256 of msg with one block function: padding as FIPS 180-4 §5.1.1. */
static void
digest(block_t fn, const unsigned char *msg, size_t len, unsigned char out[32])
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	uint32_t st[8];
	unsigned char tail[128];
	uint64_t bits = (uint64_t)len * 8;
	size_t i, rest = len % 64, tlen;

	memcpy(st, iv, sizeof(st));
	for (i = 0; i + 64 <= len; i += 64)
		fn(st, msg + i);
	memset(tail, 0, sizeof(tail));
	memcpy(tail, msg + len - rest, rest);
	tail[rest] = 0x80;
	tlen = rest < 56 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (i = 0; i < tlen; i += 64)
		fn(st, tail + i);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(st[i] >> 24);
		out[4 * i + 1] = (unsigned char)(st[i] >> 16);
		out[4 * i + 2] = (unsigned char)(st[i] >> 8);
		out[4 * i + 3] = (unsigned char)st[i];
	}
}

static uint64_t
next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
check_against_sodium(block_t fn, const char *name)
{
	static const char abc_hex[] =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	unsigned char want[32], got[32], *msg;
	char hex[65];
	uint64_t seed = (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull, x;
	size_t len, n = 1u << 16, i;

	fprintf(stderr, "sha256 %s: seed %llu\n", name,
	    (unsigned long long)seed);
	x = seed | 1;
	msg = malloc(n);
	ck_assert_ptr_nonnull(msg);
	for (i = 0; i < n; i++)
		msg[i] = (unsigned char)next(&x);
	/* FIPS 180-4 example "abc". */
	digest(fn, (const unsigned char *)"abc", 3, got);
	sodium_bin2hex(hex, sizeof(hex), got, sizeof(got));
	ck_assert_str_eq(hex, abc_hex);
	/* Every length over the block and padding edges, then long ones. */
	for (len = 0; len <= 300; len++) {
		crypto_hash_sha256(want, msg, len);
		digest(fn, msg, len, got);
		ck_assert_msg(memcmp(want, got, 32) == 0, "%s: length %zu, "
		    "seed %llu", name, len, (unsigned long long)seed);
	}
	for (i = 0; i < 64; i++) {
		len = (size_t)(next(&x) % n);
		crypto_hash_sha256(want, msg, len);
		digest(fn, msg, len, got);
		ck_assert_msg(memcmp(want, got, 32) == 0, "%s: length %zu, "
		    "seed %llu", name, len, (unsigned long long)seed);
	}
	free(msg);
}

START_TEST(test_sha256_portable_block)
{
	check_against_sodium(sha256_block_c, "portable C");
}
END_TEST

START_TEST(test_sha256_sha_ni_block)
{
#ifdef HAVE_SHA_NI
	if (!cpu_has_sha()) {
		fprintf(stderr, "sha256: no SHA extensions on this CPU; "
		    "the portable block is what irisd uses here\n");
		return;
	}
	check_against_sodium(sha256_block_ni, "SHA-NI");
#endif
}
END_TEST

/* mbedTLS's SHA-256 with our block function under it. */
START_TEST(test_sha256_mbedtls_process)
{
	mbedtls_sha256_context ctx;
	unsigned char msg[1000], want[32], got[32];
	size_t i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	mbedtls_sha256_init(&ctx);
	ck_assert_int_eq(mbedtls_sha256_starts_ret(&ctx, 0), 0);
	/* Whole blocks straight, then the rest through our function. */
	for (i = 0; i + 64 <= sizeof(msg); i += 64)
		ck_assert_int_eq(mbedtls_internal_sha256_process(&ctx,
		    msg + i), 0);
	ctx.total[0] = (uint32_t)i;
	ck_assert_int_eq(mbedtls_sha256_update_ret(&ctx, msg + i,
	    sizeof(msg) - i), 0);
	ck_assert_int_eq(mbedtls_sha256_finish_ret(&ctx, got), 0);
	mbedtls_sha256_free(&ctx);
	crypto_hash_sha256(want, msg, sizeof(msg));
	ck_assert_mem_eq(got, want, 32);
}
END_TEST

Suite *
suite_sha256(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("block");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_sha256_portable_block);
	tcase_add_test(tc, test_sha256_sha_ni_block);
	tcase_add_test(tc, test_sha256_mbedtls_process);
	suite_add_tcase(s, tc);
	return s;
}

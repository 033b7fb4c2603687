/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the E2EE primitives: the public vectors of RFC 5869
 * (HKDF), RFC 4231 (HMAC-SHA256), RFC 7748 (X25519, with the 1 000
 * iteration case), RFC 8032 (Ed25519) and draft-irtf-cfrg-xchacha
 * (XChaCha20-Poly1305); HKDF against mbedTLS's on seeded random inputs;
 * low-order points, domain separation, signed prekeys in the server's
 * format, bundle checks and safety numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <sodium.h>

#include "iris.h"
#include "suites.h"
#include "e2ee/e2ee.h"

/* Decodes hex into out (at most cap bytes); returns the byte count. */
static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;
	unsigned v;

	while (hex[0] != '\0' && hex[1] != '\0') {
		ck_assert_uint_lt(n, cap + 1);
		ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want)
{
	uint8_t w[512];

	ck_assert_uint_eq(unhex(w, sizeof(w), want), len);
	ck_assert_mem_eq(got, w, len);
}

static void
range(uint8_t *out, unsigned from, unsigned to)
{
	unsigned i;

	for (i = from; i <= to; i++)
		out[i - from] = (uint8_t)i;
}

START_TEST(test_hkdf_rfc5869)
{
	uint8_t ikm[80], salt[80], info[80], prk[32], okm[82];

	/* A.1 */
	memset(ikm, 0x0b, 22);
	range(salt, 0x00, 0x0c);
	range(info, 0xf0, 0xf9);
	iris__e2ee_hkdf_extract(prk, salt, 13, ikm, 22);
	assert_hex(prk, 32, "077709362c2e32df0ddc3f0dc47bba63"
	    "90b6c73bb50f9c3122ec844ad7c2b3e5");
	ck_assert_int_eq(iris__e2ee_hkdf(okm, 42, salt, 13, ikm, 22, info, 10),
	    IRIS_OK);
	assert_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c"
	    "5db02d56ecc4c5bf34007208d5b887185865");
	/* A.2: three expand blocks. */
	range(ikm, 0x00, 0x4f);
	range(salt, 0x60, 0xaf);
	range(info, 0xb0, 0xff);
	iris__e2ee_hkdf_extract(prk, salt, 80, ikm, 80);
	assert_hex(prk, 32, "06a6b88c5853361a06104c9ceb35b45c"
	    "ef760014904671014a193f40c15fc244");
	ck_assert_int_eq(iris__e2ee_hkdf(okm, 82, salt, 80, ikm, 80, info, 80),
	    IRIS_OK);
	assert_hex(okm, 82, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8"
	    "a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8"
	    "367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
	/* A.3: no salt, no info. */
	memset(ikm, 0x0b, 22);
	iris__e2ee_hkdf_extract(prk, NULL, 0, ikm, 22);
	assert_hex(prk, 32, "19ef24a32c717b167f33a91d6f648bdf"
	    "96596776afdb6377ac434c1c293ccb04");
	ck_assert_int_eq(iris__e2ee_hkdf(okm, 42, NULL, 0, ikm, 22, NULL, 0),
	    IRIS_OK);
	assert_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879e"
	    "c3454e5f3c738d2d9d201395faa4b61a96c8");
	/* L out of range. */
	ck_assert_int_eq(iris__e2ee_hkdf(okm, 0, NULL, 0, ikm, 22, NULL, 0),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris__e2ee_hkdf_expand(okm, IRIS_E2EE_HKDF_MAX + 1,
	    prk, 32, NULL, 0), IRIS_EINVAL);
}
END_TEST

static void
hmac_case(const uint8_t *key, size_t klen, const char *data, size_t out,
    const char *want)
{
	uint8_t mac[32];

	iris__e2ee_hmac(mac, key, klen, (const uint8_t *)data, strlen(data));
	assert_hex(mac, out, want);
}

START_TEST(test_hmac_rfc4231)
{
	uint8_t key[131], data[50];

	memset(key, 0x0b, 20);
	hmac_case(key, 20, "Hi There", 32, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	hmac_case((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
	    32, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	{
		uint8_t mac[32];

		iris__e2ee_hmac(mac, key, 20, data, 50);
		assert_hex(mac, 32, "773ea91e36800e46854db8ebd09181a7"
		    "2959098b3ef8c122d9635514ced565fe");
		range(key, 0x01, 0x19);
		memset(data, 0xcd, 50);
		iris__e2ee_hmac(mac, key, 25, data, 50);
		assert_hex(mac, 32, "82558a389a443c0ea4cc819899f2083a"
		    "85f0faa3e578f8077a2e3ff46729665b");
	}
	memset(key, 0x0c, 20);
	hmac_case(key, 20, "Test With Truncation", 16,
	    "a3b6167473100ee06e0c796c2955552b");
	/* Keys longer than a block are hashed first. */
	memset(key, 0xaa, 131);
	hmac_case(key, 131, "Test Using Larger Than Block-Size Key - Hash Key "
	    "First", 32, "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54");
	hmac_case(key, 131, "This is a test using a larger than block-size key "
	    "and a larger than block-size data. The key needs to be hashed "
	    "before being used by the HMAC algorithm.", 32,
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}
END_TEST

static uint64_t
next_rand(uint64_t *s)
{
	/* xorshift64*: reproducible from the printed seed. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

START_TEST(test_hkdf_mbedtls)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(
	    MBEDTLS_MD_SHA256);
	static uint8_t salt[200], ikm[300], info[200], a[2000], b[2000];
	uint64_t seed, st;
	size_t sl, il, nl, ol, i, j;

	seed = (uint64_t)time(NULL) ^ (uint64_t)clock() << 32;
	if (getenv("IRIS_TEST_SEED") != NULL)
		seed = strtoull(getenv("IRIS_TEST_SEED"), NULL, 0);
	printf("check_e2ee: HKDF cross-check seed %llu\n",
	    (unsigned long long)seed);
	st = seed | 1;
	for (i = 0; i < 500; i++) {
		sl = next_rand(&st) % sizeof(salt);
		il = next_rand(&st) % sizeof(ikm);
		nl = next_rand(&st) % sizeof(info);
		ol = 1 + next_rand(&st) % sizeof(a);
		for (j = 0; j < sl; j++)
			salt[j] = (uint8_t)next_rand(&st);
		for (j = 0; j < il; j++)
			ikm[j] = (uint8_t)next_rand(&st);
		for (j = 0; j < nl; j++)
			info[j] = (uint8_t)next_rand(&st);
		ck_assert_int_eq(iris__e2ee_hkdf(a, ol, salt, sl, ikm, il, info,
		    nl), IRIS_OK);
		ck_assert_int_eq(mbedtls_hkdf(md, salt, sl, ikm, il, info, nl,
		    b, ol), 0);
		ck_assert_msg(memcmp(a, b, ol) == 0, "seed %llu case %zu",
		    (unsigned long long)seed, i);
	}
}
END_TEST

START_TEST(test_x25519_rfc7748)
{
	uint8_t k[32], u[32], r[32], a[32], b[32], ap[32], bp[32];
	int i;

	/* §5.2, first vector. */
	unhex(k, 32, "a546e36bf0527c9d3b16154b82465edd"
	    "62144c0ac1fc5a18506a2244ba449ac4");
	unhex(u, 32, "e6db6867583030db3594c1a424b15f7c"
	    "726624ec26b3353b10a903a6d0ab1c4c");
	ck_assert_int_eq(iris__e2ee_dh(r, k, u), IRIS_OK);
	assert_hex(r, 32, "c3da55379de9c6908e94ea4df28d084f"
	    "32eccf03491c71f754b4075577a28552");
	/* §5.2, iterated: k = u = 9; (k, u) = (X25519(k, u), k). */
	memset(k, 0, 32);
	k[0] = 9;
	memcpy(u, k, 32);
	for (i = 1; i <= 1000; i++) {
		ck_assert_int_eq(iris__e2ee_dh(r, k, u), IRIS_OK);
		memcpy(u, k, 32);
		memcpy(k, r, 32);
		if (i == 1)
			assert_hex(k, 32, "422c8e7a6227d7bca1350b3e2bb7279f"
			    "7897b87bb6854b783c60e80311ae3079");
	}
	assert_hex(k, 32, "684cf59ba83309552800ef566f2f4d3c"
	    "1c3887c49360e3875f2eb94d99532c51");
	/* §6.1 */
	unhex(a, 32, "77076d0a7318a57d3c16c17251b26645"
	    "df4c2f87ebc0992ab177fba51db92c2a");
	unhex(b, 32, "5dab087e624a8a4b79e17f8b83800ee6"
	    "6f3bb1292618b6fd1c2f8b27ff88e0eb");
	crypto_scalarmult_base(ap, a);
	crypto_scalarmult_base(bp, b);
	assert_hex(ap, 32, "8520f0098930a754748b7ddcb43ef75a"
	    "0dbf3a0d26381af4eba4a98eaa9b4e6a");
	assert_hex(bp, 32, "de9edb7d7b7dc1b4d35b61c2ece43537"
	    "3f8343c85b78674dadfc7e146f882b4f");
	ck_assert_int_eq(iris__e2ee_dh(r, a, bp), IRIS_OK);
	assert_hex(r, 32, "4a5d9d5ba4ce2de1728e3bf480350f25"
	    "e07e21c947d19e3376f09b3c1e161742");
	ck_assert_int_eq(iris__e2ee_dh(r, b, ap), IRIS_OK);
	assert_hex(r, 32, "4a5d9d5ba4ce2de1728e3bf480350f25"
	    "e07e21c947d19e3376f09b3c1e161742");
}
END_TEST

START_TEST(test_x25519_low_order)
{
	static const char *bad[] = {
		"00000000000000000000000000000000"
		    "00000000000000000000000000000000",
		"01000000000000000000000000000000"
		    "00000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46a"
		    "da098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b"
		    "04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffff"
		    "ffffffffffffffffffffffffffffff7f",
	};
	struct iris_e2ee_keypair kp;
	uint8_t pub[32], out[32];
	size_t i;

	iris__e2ee_keypair_new(&kp);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unhex(pub, 32, bad[i]);
		memset(out, 0x55, sizeof(out));
		ck_assert_int_eq(iris__e2ee_dh(out, kp.sec, pub), IRIS_ECRYPTO);
		ck_assert(sodium_is_zero(out, 32));
	}
}
END_TEST

static void
ed25519_case(const char *seed_hex, const char *pk_hex, const char *msg_hex,
    const char *sig_hex)
{
	uint8_t seed[32], pk[32], sk[64], msg[8], sig[64], want[64];
	size_t mlen;

	unhex(seed, 32, seed_hex);
	mlen = unhex(msg, sizeof(msg), msg_hex);
	ck_assert_int_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
	assert_hex(pk, 32, pk_hex);
	crypto_sign_detached(sig, NULL, msg, mlen, sk);
	unhex(want, 64, sig_hex);
	ck_assert_mem_eq(sig, want, 64);
	ck_assert_int_eq(crypto_sign_verify_detached(sig, msg, mlen, pk), 0);
	sig[63] ^= 0x10;
	ck_assert_int_ne(crypto_sign_verify_detached(sig, msg, mlen, pk), 0);
}

START_TEST(test_ed25519_rfc8032)
{
	ed25519_case("9d61b19deffd5a60ba844af492ec2cc4"
	    "4449c5697b326919703bac031cae7f60",
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	    "",
	    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	ed25519_case("4ccd089b28ff96da9db6c346ec114e0f"
	    "5b8a319f35aba624da8cf6ed4fb8a6fb",
	    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	    "72",
	    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
	ed25519_case("c5aa8df43f9f837bedb7442f31dcb7b1"
	    "66d38535076f094b85ce3a2e0b4458f7",
	    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	    "af82",
	    "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	    "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a");
}
END_TEST

START_TEST(test_xchacha_draft)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: "
	    "If I could offer you only one tip for the future, sunscreen "
	    "would be it.";
	uint8_t key[32], nonce[24], ad[12], c[sizeof(pt) - 1 + 16];
	uint8_t m[sizeof(pt) - 1];
	size_t n = sizeof(pt) - 1;

	range(key, 0x80, 0x9f);
	range(nonce, 0x40, 0x57);
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	iris__e2ee_aead_seal(c, (const uint8_t *)pt, n, ad, sizeof(ad), nonce,
	    key);
	assert_hex(c, sizeof(c), "bd6d179d3e83d43b9576579493c0e939"
	    "572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39"
	    "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e"
	    "3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13"
	    "b52ec0875924c1c7987947deafd8780acf49");
	ck_assert_int_eq(iris__e2ee_aead_open(m, c, sizeof(c), ad, sizeof(ad),
	    nonce, key), IRIS_OK);
	ck_assert_mem_eq(m, pt, n);
	ad[0] ^= 1;
	ck_assert_int_eq(iris__e2ee_aead_open(m, c, sizeof(c), ad, sizeof(ad),
	    nonce, key), IRIS_ECRYPTO);
	ck_assert(sodium_is_zero(m, n));
	ck_assert_int_eq(iris__e2ee_aead_open(m, c, 15, ad, sizeof(ad),
	    nonce, key), IRIS_EINVAL);
}
END_TEST

START_TEST(test_sign_domains)
{
	struct iris_e2ee_identity id;
	uint8_t sig[64], xs[32], xp[32], check[32];
	static uint8_t big[4096];

	iris__e2ee_identity_new(&id);
	ck_assert_int_eq(iris__e2ee_sign(sig, id.sec, "IRIS-A-v1",
	    (const uint8_t *)"msg", 3), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_verify(sig, id.pub, "IRIS-A-v1",
	    (const uint8_t *)"msg", 3), IRIS_OK);
	/* The same bytes under another domain, or shifted across it. */
	ck_assert_int_eq(iris__e2ee_verify(sig, id.pub, "IRIS-B-v1",
	    (const uint8_t *)"msg", 3), IRIS_ECRYPTO);
	ck_assert_int_eq(iris__e2ee_verify(sig, id.pub, "IRIS-A-v1",
	    (const uint8_t *)"msh", 3), IRIS_ECRYPTO);
	ck_assert_int_eq(iris__e2ee_sign(sig, id.sec, "", NULL, 0),
	    IRIS_EINVAL);
	/* Long messages go through the heap. */
	memset(big, 7, sizeof(big));
	ck_assert_int_eq(iris__e2ee_sign(sig, id.sec, IRIS_E2EE_DOM_DEVLIST,
	    big, sizeof(big)), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_verify(sig, id.pub, IRIS_E2EE_DOM_DEVLIST,
	    big, sizeof(big)), IRIS_OK);
	big[4000] ^= 1;
	ck_assert_int_eq(iris__e2ee_verify(sig, id.pub, IRIS_E2EE_DOM_DEVLIST,
	    big, sizeof(big)), IRIS_ECRYPTO);
	/* The identity's X25519 forms are a key pair. */
	ck_assert_int_eq(iris__e2ee_identity_dh(xs, id.sec), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_identity_dh_pub(xp, id.pub), IRIS_OK);
	crypto_scalarmult_base(check, xs);
	ck_assert_mem_eq(check, xp, 32);
	memset(check, 0, 32);
	ck_assert_int_eq(iris__e2ee_identity_dh_pub(xp, check), IRIS_ECRYPTO);
}
END_TEST

static void
make_bundle(struct iris_e2ee_bundle *b, const struct iris_e2ee_identity *id,
    const struct iris_e2ee_spk *spk, const struct iris_e2ee_opk *opk)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->user, sizeof(b->user), "bob");
	b->device = 7;
	memcpy(b->ik, id->pub, 32);
	b->spk_id = spk->id;
	memcpy(b->spk_pub, spk->kp.pub, 32);
	memcpy(b->spk_sig, spk->sig, 64);
	b->spk_created_ms = spk->created_ms;
	if ((b->has_opk = opk != NULL)) {
		b->opk_id = opk->id;
		memcpy(b->opk_pub, opk->kp.pub, 32);
	}
}

START_TEST(test_spk_and_bundle)
{
	struct iris_e2ee_identity id, other;
	struct iris_e2ee_spk spk;
	struct iris_e2ee_opk opks[3];
	struct iris_e2ee_bundle b;
	uint8_t msg[IRIS_E2EE_SPK_MSG], *p = msg, low[32];

	iris__e2ee_identity_new(&id);
	iris__e2ee_identity_new(&other);
	ck_assert_int_eq(iris__e2ee_spk_new(&spk, 0x01020304,
	    UINT64_C(0x1122334455667788), id.sec), IRIS_OK);
	/* The server's message (lib/core/keys.c), built by hand. */
	memcpy(p, "IRIS-SPK-v1", 11);
	memcpy(p + 11, "\x01\x02\x03\x04", 4);
	memcpy(p + 15, spk.kp.pub, 32);
	memcpy(p + 47, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	ck_assert_int_eq(crypto_sign_verify_detached(spk.sig, msg, sizeof(msg),
	    id.pub), 0);
	iris__e2ee_opks_new(opks, 3, 100);
	ck_assert_uint_eq(opks[2].id, 102);
	make_bundle(&b, &id, &spk, &opks[0]);
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_OK);
	b.has_opk = 0;
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_OK);
	b.spk_sig[10] ^= 0x01;
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_ECRYPTO);
	make_bundle(&b, &id, &spk, NULL);
	b.spk_created_ms++;
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_ECRYPTO);
	make_bundle(&b, &id, &spk, NULL);
	b.spk_id++;
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_ECRYPTO);
	make_bundle(&b, &id, &spk, NULL);
	memcpy(b.ik, other.pub, 32);
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_ECRYPTO);
	/* A low-order prekey, even correctly signed, is refused. */
	memset(low, 0, sizeof(low));
	low[0] = 1;
	make_bundle(&b, &id, &spk, &opks[1]);
	memcpy(b.opk_pub, low, 32);
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_ECRYPTO);
	make_bundle(&b, &id, &spk, NULL);
	memcpy(b.spk_pub, low, 32);
	iris__e2ee_spk_message(msg, b.spk_id, low, b.spk_created_ms);
	ck_assert_int_eq(iris__e2ee_sign(b.spk_sig, id.sec, IRIS_E2EE_DOM_SPK,
	    msg + 11, sizeof(msg) - 11), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_ECRYPTO);
	make_bundle(&b, &id, &spk, NULL);
	b.user[0] = '\0';
	ck_assert_int_eq(iris__e2ee_bundle_verify(&b), IRIS_EINVAL);
}
END_TEST

START_TEST(test_safety_number)
{
	struct iris_e2ee_identity a, b;
	char ab[IRIS_E2EE_SAFETY_LEN + 1], ba[IRIS_E2EE_SAFETY_LEN + 1];
	char x[IRIS_E2EE_SAFETY_LEN + 1];
	size_t i;

	iris__e2ee_identity_new(&a);
	iris__e2ee_identity_new(&b);
	ck_assert_int_eq(iris__e2ee_safety_number(ab, a.pub, "alice", b.pub,
	    "bob"), IRIS_OK);
	ck_assert_int_eq(iris__e2ee_safety_number(ba, b.pub, "bob", a.pub,
	    "alice"), IRIS_OK);
	ck_assert_str_eq(ab, ba);
	ck_assert_uint_eq(strlen(ab), IRIS_E2EE_SAFETY_LEN);
	for (i = 0; i < IRIS_E2EE_SAFETY_LEN; i++)
		ck_assert(ab[i] >= '0' && ab[i] <= '9');
	/* Another key or another user id: another number. */
	b.pub[5] ^= 1;
	ck_assert_int_eq(iris__e2ee_safety_number(x, a.pub, "alice", b.pub,
	    "bob"), IRIS_OK);
	ck_assert_str_ne(x, ab);
	b.pub[5] ^= 1;
	ck_assert_int_eq(iris__e2ee_safety_number(x, a.pub, "alice", b.pub,
	    "bob2"), IRIS_OK);
	ck_assert_str_ne(x, ab);
	ck_assert_int_eq(iris__e2ee_safety_number(x, a.pub, "", b.pub, "bob"),
	    IRIS_EINVAL);
}
END_TEST

static void
setup(void)
{
	ck_assert_int_eq(iris__e2ee_init(), IRIS_OK);
}

Suite *
suite_e2ee(void)
{
	Suite *s = suite_create("e2ee");
	TCase *tc = tcase_create("primitives");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_hkdf_rfc5869);
	tcase_add_test(tc, test_hmac_rfc4231);
	tcase_add_test(tc, test_hkdf_mbedtls);
	tcase_add_test(tc, test_x25519_rfc7748);
	tcase_add_test(tc, test_x25519_low_order);
	tcase_add_test(tc, test_ed25519_rfc8032);
	tcase_add_test(tc, test_xchacha_draft);
	tcase_add_test(tc, test_sign_domains);
	tcase_add_test(tc, test_spk_and_bundle);
	tcase_add_test(tc, test_safety_number);
	suite_add_tcase(s, tc);
	return s;
}

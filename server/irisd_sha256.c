/* SPDX-License-Identifier: ISC */
/*
 * irisd's SHA-256 block function for mbedTLS. mbedTLS 2.28 as packaged
 * hashes in portable C, and a resumed TLS 1.2 handshake runs ~125 SHA-256
 * blocks (its PRF derives a 256-byte key block, then both Finished
 * messages): over half of the CPU of a ticket login in user space. The
 * library calls mbedtls_internal_sha256_process() through its PLT, so the
 * daemon's own definition (exported from the executable, see the
 * Makefile) is the one used: the x86 SHA extensions when the CPU has
 * them, else the same portable computation. Same function, same results
 * (tests/unit/check_sha256.c holds it to libsodium's SHA-256); only the
 * daemon is affected, not programs embedding libiris.
 */
#include <stdint.h>
#include <string.h>

#include <mbedtls/sha256.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI	1
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

/* FIPS 180-4 §6.2.2, one 64-byte block into the state. */
static void
sha256_block_c(uint32_t st[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++, p += 4)
		w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
	for (; i < 64; i++)
		w[i] = (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
		    (w[i - 2] >> 10)) + w[i - 7] + (ROR(w[i - 15], 7) ^
		    ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	a = st[0], b = st[1], c = st[2], d = st[3];
	e = st[4], f = st[5], g = st[6], h = st[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		h = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	st[0] += a, st[1] += b, st[2] += c, st[3] += d;
	st[4] += e, st[5] += f, st[6] += g, st[7] += h;
}

#ifdef HAVE_SHA_NI
/*
 * The same block with SHA-NI: the state as ABEF and CDGH halves, two
 * rounds per SHA256RNDS2, the schedule four words at a time with
 * SHA256MSG1/MSG2.
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void
sha256_block_ni(uint32_t st[8], const unsigned char *p)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	    0x0405060700010203ULL);
	__m128i s0, s1, t, k, m[16], save0, save1;
	int i;

	t = _mm_loadu_si128((const __m128i *)(const void *)&st[0]);
	s1 = _mm_loadu_si128((const __m128i *)(const void *)&st[4]);
	t = _mm_shuffle_epi32(t, 0xb1);			/* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);		/* EFGH */
	s0 = _mm_alignr_epi8(t, s1, 8);			/* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0);		/* CDGH */
	save0 = s0;
	save1 = s1;
	for (i = 0; i < 16; i++) {
		if (i < 4)
			m[i] = _mm_shuffle_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)(p + 16 * i)),
			    bswap);
		else
			m[i] = _mm_sha256msg2_epu32(_mm_add_epi32(
			    _mm_sha256msg1_epu32(m[i - 4], m[i - 3]),
			    _mm_alignr_epi8(m[i - 1], m[i - 2], 4)), m[i - 1]);
		k = _mm_add_epi32(m[i], _mm_loadu_si128(
		    (const __m128i *)(const void *)&K[4 * i]));
		s1 = _mm_sha256rnds2_epu32(s1, s0, k);
		k = _mm_shuffle_epi32(k, 0x0e);
		s0 = _mm_sha256rnds2_epu32(s0, s1, k);
	}
	s0 = _mm_add_epi32(s0, save0);
	s1 = _mm_add_epi32(s1, save1);
	t = _mm_shuffle_epi32(s0, 0x1b);		/* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);		/* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xf0);		/* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);			/* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&st[0], s0);
	_mm_storeu_si128((__m128i *)(void *)&st[4], s1);
}

static int
cpu_has_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) ||
	    !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & bit_SHA) != 0;
}
#endif

/* The block function in use: chosen at the first call (any thread may
 * choose; they choose the same). */
static void (*block_fn)(uint32_t st[8], const unsigned char *p);

static void
choose(void)
{
	void (*fn)(uint32_t st[8], const unsigned char *p) = sha256_block_c;

#ifdef HAVE_SHA_NI
	if (cpu_has_sha())
		fn = sha256_block_ni;
#endif
	__atomic_store_n(&block_fn, fn, __ATOMIC_RELEASE);
}

__attribute__((visibility("default"))) int
mbedtls_internal_sha256_process(mbedtls_sha256_context *ctx,
    const unsigned char data[64])
{
	void (*fn)(uint32_t st[8], const unsigned char *p);

	if ((fn = __atomic_load_n(&block_fn, __ATOMIC_ACQUIRE)) == NULL) {
		choose();
		fn = block_fn;
	}
	fn(ctx->state, data);
	return 0;
}

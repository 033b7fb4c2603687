/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the E2EE parsers. Randomness is deterministic
 * (a counter into randombytes_buf_deterministic), so the two fixed
 * sessions built at start are the same in every run and in the seed
 * writer (built with -DFUZZ_E2EE_MKCORPUS: `make fuzz-corpus-e2ee`).
 * The first input byte picks the target:
 *   0  an envelope against Alice's session (a message from Bob),
 *   1  an envelope against Bob's session (a prekey message from Alice),
 *   2  an envelope answered as a new session by Bob (X3DH respond),
 *   3  state bytes: what loads must save back to the same bytes.
 * A refused envelope must leave its session byte-identical; a decrypted
 * one must fit the buffer it was given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_counter;

static void
det_buf(void *buf, size_t n)
{
	uint8_t seed[randombytes_SEEDBYTES] = { 0 };

	memcpy(seed, &rng_counter, sizeof(rng_counter));
	rng_counter++;
	randombytes_buf_deterministic(buf, n, seed);
}

static uint32_t
det_random(void)
{
	uint32_t v;

	det_buf(&v, sizeof(v));
	return v;
}

static const char *
det_name(void)
{
	return "iris-fuzz-deterministic";
}

static struct randombytes_implementation det_rng = {
	det_name, det_random, NULL, NULL, det_buf, NULL,
};

static struct {
	int				 ready;
	struct iris_e2ee_identity	 ida, idb;
	uint8_t				 dha[32], dhb[32];
	struct iris_e2ee_local		 a, b;
	struct iris_e2ee_spk		 spk;
	struct iris_e2ee_opk		 opk;
	struct iris_e2ee_session	*sa, *sb;
	uint8_t				 pre[512], msg[512];
	size_t				 prelen, msglen;
} fx;

static uint8_t plain[IRIS_E2EE_PLAIN_MAX + 1024];

static void
must(int ok)
{
	if (!ok)
		abort();
}

/* Alice starts, Bob answers; fx.pre is a second prekey envelope from
 * Alice to Bob, fx.msg a message from Bob to Alice. */
static void
setup(void)
{
	struct iris_e2ee_session *next;
	struct iris_e2ee_bundle b;
	uint8_t env[512];
	size_t n, plen;

	randombytes_set_implementation(&det_rng);
	must(iris__e2ee_init() == IRIS_OK);
	iris__e2ee_identity_new(&fx.ida);
	iris__e2ee_identity_new(&fx.idb);
	must(iris__e2ee_identity_dh(fx.dha, fx.ida.sec) == IRIS_OK);
	must(iris__e2ee_identity_dh(fx.dhb, fx.idb.sec) == IRIS_OK);
	fx.a = (struct iris_e2ee_local){ "alice", 1, fx.ida.pub, fx.dha };
	fx.b = (struct iris_e2ee_local){ "bob", 7, fx.idb.pub, fx.dhb };
	must(iris__e2ee_spk_new(&fx.spk, 1, 1700000000000, fx.idb.sec) ==
	    IRIS_OK);
	iris__e2ee_opks_new(&fx.opk, 1, 10);
	memset(&b, 0, sizeof(b));
	snprintf(b.user, sizeof(b.user), "bob");
	b.device = 7;
	memcpy(b.ik, fx.idb.pub, 32);
	b.spk_id = fx.spk.id;
	memcpy(b.spk_pub, fx.spk.kp.pub, 32);
	memcpy(b.spk_sig, fx.spk.sig, 64);
	b.spk_created_ms = fx.spk.created_ms;
	b.has_opk = 1;
	b.opk_id = fx.opk.id;
	memcpy(b.opk_pub, fx.opk.kp.pub, 32);
	must(iris__e2ee_initiate(&fx.sa, &fx.a, &b) == IRIS_OK);
	must(iris__e2ee_encrypt(fx.sa, (const uint8_t *)"first", 5, env,
	    sizeof(env), &n) == IRIS_OK);
	must(iris__e2ee_respond(&fx.sb, &fx.b, "alice", 1, fx.ida.pub,
	    &fx.spk.kp, &fx.opk.kp, env, n, plain, sizeof(plain), &plen) ==
	    IRIS_OK);
	must(iris__e2ee_encrypt(fx.sa, (const uint8_t *)"second", 6, fx.pre,
	    sizeof(fx.pre), &fx.prelen) == IRIS_OK);
	must(iris__e2ee_encrypt(fx.sb, (const uint8_t *)"reply", 5, fx.msg,
	    sizeof(fx.msg), &fx.msglen) == IRIS_OK);
	/* Check both open, then keep the sessions from before. */
	must(iris__e2ee_decrypt(fx.sa, fx.msg, fx.msglen, plain,
	    sizeof(plain), &plen, &next) == IRIS_OK);
	iris__e2ee_session_free(next);
	must(iris__e2ee_decrypt(fx.sb, fx.pre, fx.prelen, plain,
	    sizeof(plain), &plen, &next) == IRIS_OK);
	iris__e2ee_session_free(next);
	fx.ready = 1;
}

static void
against(const struct iris_e2ee_session *s, const uint8_t *env, size_t len)
{
	struct iris_e2ee_session *next;
	uint8_t *before, *after;
	size_t blen, alen, plen;
	int rc;

	must(iris__e2ee_session_save(s, &before, &blen) == IRIS_OK);
	rc = iris__e2ee_decrypt(s, env, len, plain, sizeof(plain), &plen,
	    &next);
	must((rc == IRIS_OK) == (next != NULL));
	if (rc == IRIS_OK)
		must(plen <= len);
	iris__e2ee_session_free(next);
	must(iris__e2ee_session_save(s, &after, &alen) == IRIS_OK);
	must(alen == blen && memcmp(before, after, blen) == 0);
	iris__e2ee_bytes_free(before, blen);
	iris__e2ee_bytes_free(after, alen);
}

static void
respond(const uint8_t *env, size_t len)
{
	struct iris_e2ee_prekey_info pi;
	struct iris_e2ee_session *s;
	size_t plen;

	if (iris__e2ee_prekey_info(env, len, &pi) != IRIS_OK)
		return;
	if (iris__e2ee_respond(&s, &fx.b, "alice", 1, NULL, &fx.spk.kp,
	    pi.opk_id == IRIS_E2EE_OPK_NONE ? NULL : &fx.opk.kp, env, len,
	    plain, sizeof(plain), &plen) == IRIS_OK) {
		must(s != NULL && plen <= len);
		iris__e2ee_session_free(s);
	} else
		must(s == NULL);
}

static void
state(const uint8_t *buf, size_t len)
{
	struct iris_e2ee_session *s;
	uint8_t *out;
	size_t olen;

	if (iris__e2ee_session_load(&s, buf, len) != IRIS_OK) {
		must(s == NULL);
		return;
	}
	/* The format has one encoding: what loads saves back the same. */
	must(iris__e2ee_session_save(s, &out, &olen) == IRIS_OK);
	must(olen == len && memcmp(out, buf, len) == 0);
	iris__e2ee_bytes_free(out, olen);
	iris__e2ee_session_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fx.ready)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		against(fx.sa, data + 1, size - 1);
		break;
	case 1:
		against(fx.sb, data + 1, size - 1);
		break;
	case 2:
		respond(data + 1, size - 1);
		break;
	default:
		state(data + 1, size - 1);
		break;
	}
	return 0;
}

#ifdef FUZZ_E2EE_MKCORPUS
static void
put(const char *dir, const char *name, uint8_t target, const uint8_t *p,
    size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(&target, 1, 1, f) != 1 ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	uint8_t *buf;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: %s dir\n", argv[0]);
		return 2;
	}
	setup();
	put(argv[1], "msg.bin", 0, fx.msg, fx.msglen);
	put(argv[1], "prekey.bin", 1, fx.pre, fx.prelen);
	put(argv[1], "respond.bin", 2, fx.pre, fx.prelen);
	must(iris__e2ee_session_save(fx.sa, &buf, &len) == IRIS_OK);
	put(argv[1], "state_alice.bin", 3, buf, len);
	iris__e2ee_bytes_free(buf, len);
	must(iris__e2ee_session_save(fx.sb, &buf, &len) == IRIS_OK);
	put(argv[1], "state_bob.bin", 3, buf, len);
	iris__e2ee_bytes_free(buf, len);
	return 0;
}
#endif

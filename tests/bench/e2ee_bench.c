/* SPDX-License-Identifier: ISC */
/*
 * The E2EE benchmark (not a test): the cost of session setup (bundle
 * check, X3DH both sides, the first message) and of encrypt + decrypt on
 * an existing session, in three shapes: one direction (the same chain),
 * a turn of direction every message (a DH ratchet step each time), and
 * bursts of 1-8 messages per turn with the session saved to and loaded
 * from bytes around every call, as the client's sealer does. Every
 * plaintext is compared; any failure exits non-zero. Prints a table and
 * one JSON line. Usage: e2ee_bench [-n messages] [-s size] [-k setups].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iris.h"
#include "benchutil.h"
#include "e2ee/e2ee.h"

#define SIZE_MAX_BENCH	4096

struct dev {
	struct iris_e2ee_identity id;
	uint8_t			 ik_dh[32];
	struct iris_e2ee_local	 me;
	struct iris_e2ee_spk	 spk;
	struct iris_e2ee_opk	 opk;
	struct iris_e2ee_bundle	 b;
};

static uint8_t envbuf[SIZE_MAX_BENCH + 1024], plain[SIZE_MAX_BENCH + 1024];
static uint8_t msgbuf[SIZE_MAX_BENCH];
static unsigned long failures;
static uint64_t env_bytes, plain_bytes;

static void
die(const char *what, int rc)
{
	fprintf(stderr, "e2ee_bench: %s: %s\n", what, iris_strerror(rc));
	exit(1);
}

static void
dev_init(struct dev *d, const char *user, uint32_t device)
{
	int rc;

	memset(d, 0, sizeof(*d));
	iris__e2ee_identity_new(&d->id);
	if ((rc = iris__e2ee_identity_dh(d->ik_dh, d->id.sec)) != IRIS_OK)
		die("identity", rc);
	d->me = (struct iris_e2ee_local){ user, device, d->id.pub, d->ik_dh };
	if ((rc = iris__e2ee_spk_new(&d->spk, 1, 1700000000000, d->id.sec)) !=
	    IRIS_OK)
		die("signed prekey", rc);
	iris__e2ee_opks_new(&d->opk, 1, 10);
	snprintf(d->b.user, sizeof(d->b.user), "%s", user);
	d->b.device = device;
	memcpy(d->b.ik, d->id.pub, 32);
	d->b.spk_id = d->spk.id;
	memcpy(d->b.spk_pub, d->spk.kp.pub, 32);
	memcpy(d->b.spk_sig, d->spk.sig, 64);
	d->b.spk_created_ms = d->spk.created_ms;
	d->b.has_opk = 1;
	d->b.opk_id = d->opk.id;
	memcpy(d->b.opk_pub, d->opk.kp.pub, 32);
}

/* One session set up: Alice's first message opened by Bob. */
static void
setup_once(struct dev *a, struct dev *b, struct iris_e2ee_session **sa,
    struct iris_e2ee_session **sb, size_t size)
{
	size_t n, plen;
	int rc;

	if ((rc = iris__e2ee_initiate(sa, &a->me, &b->b)) != IRIS_OK)
		die("initiate", rc);
	if ((rc = iris__e2ee_encrypt(*sa, msgbuf, size, envbuf,
	    sizeof(envbuf), &n)) != IRIS_OK)
		die("encrypt", rc);
	rc = iris__e2ee_respond(sb, &b->me, "alice", 1, a->id.pub,
	    &b->spk.kp, &b->opk.kp, envbuf, n, plain, sizeof(plain), &plen);
	if (rc != IRIS_OK || plen != size || memcmp(plain, msgbuf, size) != 0)
		failures++;
}

/* One message from from to *to on session objects; failures counted. */
static void
one(struct iris_e2ee_session *from, struct iris_e2ee_session **to,
    size_t size, uint64_t *rng)
{
	struct iris_e2ee_session *next;
	size_t n, plen;

	bu_fill(msgbuf, size, bu_rand(rng));
	if (iris__e2ee_encrypt(from, msgbuf, size, envbuf, sizeof(envbuf),
	    &n) != IRIS_OK || iris__e2ee_decrypt(*to, envbuf, n, plain,
	    sizeof(plain), &plen, &next) != IRIS_OK) {
		failures++;
		return;
	}
	if (plen != size || memcmp(plain, msgbuf, size) != 0)
		failures++;
	iris__e2ee_session_free(*to);
	*to = next;
	env_bytes += n;
	plain_bytes += size;
}

/* The same through state bytes: load, encrypt, save; load, decrypt. */
static void
one_bytes(uint8_t **fs, size_t *fl, uint8_t **ts, size_t *tl, size_t size,
    uint64_t *rng)
{
	struct iris_e2ee_session *s;
	uint8_t *ns;
	size_t n, plen, nl;

	bu_fill(msgbuf, size, bu_rand(rng));
	if (iris__e2ee_session_load(&s, *fs, *fl) != IRIS_OK ||
	    iris__e2ee_encrypt(s, msgbuf, size, envbuf, sizeof(envbuf),
	    &n) != IRIS_OK || iris__e2ee_session_save(s, &ns, &nl) !=
	    IRIS_OK) {
		failures++;
		return;
	}
	iris__e2ee_session_free(s);
	iris__e2ee_bytes_free(*fs, *fl);
	*fs = ns, *fl = nl;
	if (iris__e2ee_decrypt_state(*ts, *tl, envbuf, n, plain,
	    sizeof(plain), &plen, &ns, &nl) != IRIS_OK ||
	    plen != size || memcmp(plain, msgbuf, size) != 0) {
		failures++;
		return;
	}
	iris__e2ee_bytes_free(*ts, *tl);
	*ts = ns, *tl = nl;
}

static double
ms_since(uint64_t t0, unsigned long count)
{
	return (double)(bu_now_ns() - t0) / 1e6 / (double)count;
}

int
main(int argc, char **argv)
{
	struct dev a, b;
	struct iris_e2ee_session *sa, *sb;
	uint8_t *ba, *bb;
	size_t bal, bbl, size = 100;
	unsigned long msgs = 20000, setups = 200, i, burst = 0;
	double setup_ms, same_ms, turn_ms, bytes_ms, overhead;
	uint64_t seed = bu_seed(), rng, t0;
	int c, dir = 0;

	while ((c = getopt(argc, argv, "n:s:k:")) != -1) {
		if (c == 'n')
			msgs = strtoul(optarg, NULL, 10);
		else if (c == 's')
			size = strtoul(optarg, NULL, 10);
		else if (c == 'k')
			setups = strtoul(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: e2ee_bench [-n messages] "
			    "[-s size] [-k setups]\n");
			return 2;
		}
	}
	if (msgs == 0 || setups == 0 || size > SIZE_MAX_BENCH) {
		fprintf(stderr, "e2ee_bench: bad -n, -k or -s\n");
		return 2;
	}
	if (iris__e2ee_init() != IRIS_OK)
		die("sodium_init", IRIS_ECRYPTO);
	printf("e2ee_bench: seed %llu, %lu messages of %zu B, %lu setups\n",
	    (unsigned long long)seed, msgs, size, setups);
	rng = seed;
	dev_init(&a, "alice", 1);
	dev_init(&b, "bob", 7);
	bu_fill(msgbuf, size, bu_rand(&rng));

	t0 = bu_now_ns();
	for (i = 0; i < setups; i++) {
		setup_once(&a, &b, &sa, &sb, size);
		iris__e2ee_session_free(sa);
		iris__e2ee_session_free(sb);
	}
	setup_ms = ms_since(t0, setups);

	setup_once(&a, &b, &sa, &sb, size);
	one(sb, &sa, size, &rng);		/* Alice's header stops */
	env_bytes = plain_bytes = 0;
	t0 = bu_now_ns();
	for (i = 0; i < msgs; i++)
		one(sa, &sb, size, &rng);
	same_ms = ms_since(t0, msgs);
	overhead = (double)(env_bytes - plain_bytes) / (double)msgs;

	t0 = bu_now_ns();
	for (i = 0; i < msgs; i++) {
		if (i % 2 == 0)
			one(sa, &sb, size, &rng);
		else
			one(sb, &sa, size, &rng);
	}
	turn_ms = ms_since(t0, msgs);

	if (iris__e2ee_session_save(sa, &ba, &bal) != IRIS_OK ||
	    iris__e2ee_session_save(sb, &bb, &bbl) != IRIS_OK)
		die("save", IRIS_ENOMEM);
	iris__e2ee_session_free(sa);
	iris__e2ee_session_free(sb);
	t0 = bu_now_ns();
	for (i = 0; i < msgs; i++) {
		if (burst == 0) {
			burst = 1 + bu_uniform(&rng, 8);
			dir = !dir;
		}
		burst--;
		if (dir)
			one_bytes(&ba, &bal, &bb, &bbl, size, &rng);
		else
			one_bytes(&bb, &bbl, &ba, &bal, size, &rng);
	}
	bytes_ms = ms_since(t0, msgs);
	iris__e2ee_bytes_free(ba, bal);
	iris__e2ee_bytes_free(bb, bbl);

	printf("\n%-52s %12s\n", "phase", "ms each");
	printf("%-52s %12.4f\n", "session setup (bundle check, X3DH, 1st msg)",
	    setup_ms);
	printf("%-52s %12.4f\n", "encrypt+decrypt, one direction", same_ms);
	printf("%-52s %12.4f\n",
	    "encrypt+decrypt, turn every message (DH step)", turn_ms);
	printf("%-52s %12.4f\n", "encrypt+decrypt, bursts 1-8, via state bytes",
	    bytes_ms);
	printf("envelope: %d B framing and tag (+%d B with the X3DH header), "
	    "padding to %d B blocks: %.0f B over a %zu B message\n",
	    IRIS_E2EE_MSG_OVERHEAD, IRIS_E2EE_PREKEY_EXTRA,
	    IRIS_E2EE_PAD_BLOCK, overhead, size);
	printf("failures: %lu; target <= 0.1 ms per message (one direction)"
	    ": %s\n", failures, same_ms <= 0.1 ? "met" : "MISSED");
	printf("{\"workload\":\"e2ee\",\"e2ee_ms_per_msg\":%.4f,"
	    "\"e2ee_ms_per_msg_turn\":%.4f,\"e2ee_ms_per_msg_state_bytes\":"
	    "%.4f,\"setup_ms\":%.4f,\"overhead_bytes\":%.0f,"
	    "\"overhead_fixed_bytes\":%d,\"prekey_extra_bytes\":%d,"
	    "\"msg_bytes\":%zu,\"messages\":%lu,\"failures\":%lu,"
	    "\"seed\":%llu}\n", same_ms, turn_ms, bytes_ms, setup_ms,
	    overhead, IRIS_E2EE_MSG_OVERHEAD, IRIS_E2EE_PREKEY_EXTRA, size,
	    msgs, failures, (unsigned long long)seed);
	return failures == 0 ? 0 : 1;
}

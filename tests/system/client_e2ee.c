/* SPDX-License-Identifier: ISC */
/*
 * End-to-end encryption through the client library against a real engine
 * on this process's loop, over TLS on loopback: known plaintext markers
 * sent both ways arrive, and afterwards no server file (database, WAL,
 * every log line the engine gave its callback) and no client store file
 * holds any of them; an envelope with a flipped bit is refused and
 * counted and the stored session is byte-identical; a key bundle with a
 * bad signed-prekey signature is refused and a send to it fails; a
 * device whose one-time prekeys are used up by fetches while it is
 * offline is still reached over its signed prekey alone.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "client/seal_e2ee.h"
#include "clienttest.h"
#include "util/alloc.h"
#include "evloop.h"

#define T		15000
#define MARK		"MRK-e2ee-"
#define NMSG		10

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static struct iris_client_store *store;
static char fp[65];
static int port;
static char *logs;
static size_t loglen;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_e2ee: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

struct dev {
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
};

static void
log_cb(int level, const char *msg, void *arg)
{
	size_t n = strlen(msg);
	char *p;

	(void)level, (void)arg;
	if ((p = realloc(logs, loglen + n + 2)) == NULL)
		return;
	logs = p;
	memcpy(logs + loglen, msg, n);
	logs[loglen + n] = '\n';
	loglen += n + 1;
	logs[loglen] = '\0';
}

static void
dev_up(struct dev *d, const char *user, int reg)
{
	struct ct_done done = { 0, 0 };

	snprintf(d->user, sizeof(d->user), "%s", user);
	ct_rec_init(&d->r, user);
	d->c = ct_client(base, store, port, fp, user, user, &d->r);
	EXPECT(d->c != NULL, "client %s", user);
	if (d->c == NULL)
		exit(1);
	if (reg) {
		EXPECT(iris_client_register(d->c, NULL, ct_done_cb, &done) ==
		    IRIS_OK, "register %s", user);
		EXPECT(ct_wait_done(base, &done, T) == IRIS_OK,
		    "register %s: %d %s", user, done.rc,
		    iris_client_error(d->c));
	} else {
		EXPECT(iris_client_connect(d->c) == IRIS_OK, "connect");
		EXPECT(ct_wait_state(base, &d->r, IRIS_CLIENT_ONLINE, T),
		    "%s online: %s", user, iris_client_error(d->c));
	}
}

static void
dev_down(struct dev *d)
{
	iris_client_free(d->c);
	d->c = NULL;
	ct_rec_free(&d->r);
}

static struct e2s *
sealer(struct dev *d)
{
	return d->c->seal == &iris__seal_e2ee ? d->c->sealer : NULL;
}

static void
send_marks(struct dev *from, const char *to, const char *tag, int n)
{
	char body[64];
	uint8_t id[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), MARK "%s-%d", tag, i);
		EXPECT(iris_client_send(from->c, to, 7, body, strlen(body),
		    id) == IRIS_OK, "send %s", body);
	}
}

static int
got_marks(const struct ct_rec *r, size_t first, const char *tag, int n)
{
	char want[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), MARK "%s-%d", tag, i);
		if (r->nmsgs <= first + (size_t)i ||
		    strcmp(r->msgs[first + (size_t)i].body, want) != 0)
			return 0;
	}
	return 1;
}

/* A valid envelope from a to b's device 1, made on a dropped
 * transaction so that a's stored state does not move. */
static int
envelope(struct dev *a, struct dev *b, uint8_t **env, size_t *len)
{
	struct iris__content in;
	struct iris_cs_txn *t;
	struct iris_buf out;
	int rc;

	memset(&in, 0, sizeof(in));
	in.kind = IRIS__CONTENT_MESSAGE;
	in.type = 7;
	in.recipient = b->user;
	in.body = (const uint8_t *)MARK "injected";
	in.len = strlen((const char *)in.body);
	iris__buf_init(&out, 0);
	t = iris__client_txn(a->c, NULL, NULL);
	rc = a->c->seal->seal(a->c->sealer, t, b->user, 1, &in, &out);
	iris__client_txn_drop(t);
	a->c->seal->reset(a->c->sealer);
	*env = iris__buf_take(&out, len);
	iris__buf_free(&out);
	return rc;
}

static int
session_bytes(struct dev *d, const char *peer, struct iris_buf *out)
{
	uint8_t name[80];
	size_t ulen = strlen(peer);

	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, peer, ulen);
	iris__e2ee_put32(name + 2 + ulen, 1);
	return iris__seal_state_get(d->c, name, 2 + ulen + 4, out);
}

static void
flipped(struct dev *a, struct dev *b, uint32_t seed)
{
	struct iris__content out;
	struct iris_buf before, after, keep;
	struct iris_cs_txn *t;
	struct e2s *s = sealer(b);
	uint64_t failed;
	uint8_t *env;
	size_t len, i;
	int rc, refused = 0;

	EXPECT(envelope(a, b, &env, &len) == IRIS_OK && env != NULL,
	    "an envelope to inject");
	if (env == NULL || s == NULL)
		return;
	iris__buf_init(&before, 0);
	iris__buf_init(&after, 0);
	iris__buf_init(&keep, 0);
	EXPECT(session_bytes(b, a->user, &before) == IRIS_OK, "session");
	failed = s->st.failed_crypto + s->st.failed_format +
	    s->st.failed_replay + s->st.failed_nosession + s->st.failed_other;
	for (i = 0; i < 64; i++) {
		size_t bit = (seed + i * 2654435761u) % (len * 8);

		env[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		t = iris__client_txn(b->c, NULL, NULL);
		rc = b->c->seal->open(b->c->sealer, t, a->user, 1, env, len,
		    &out, &keep);
		iris__client_txn_drop(t);
		env[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (rc != IRIS_OK)
			refused++;
		else
			fprintf(stderr, "bit %zu of %zu opened\n", bit, len * 8);
	}
	EXPECT(refused == 64, "flipped bits refused: %d of 64", refused);
	EXPECT(s->st.failed_crypto + s->st.failed_format +
	    s->st.failed_replay + s->st.failed_nosession +
	    s->st.failed_other == failed + 64, "failures counted");
	EXPECT(session_bytes(b, a->user, &after) == IRIS_OK &&
	    after.len == before.len && memcmp(after.p, before.p,
	    before.len) == 0, "stored session changed");
	/* The unflipped envelope opens: the refusals were the bits. */
	t = iris__client_txn(b->c, NULL, NULL);
	rc = b->c->seal->open(b->c->sealer, t, a->user, 1, env, len, &out,
	    &keep);
	iris__client_txn_drop(t);
	b->c->seal->reset(b->c->sealer);
	EXPECT(rc == IRIS_OK && out.len == strlen(MARK "injected") &&
	    memcmp(out.body, MARK "injected", out.len) == 0,
	    "the intact envelope: %d", rc);
	iris__free(env);
	iris__buf_free(&before);
	iris__buf_free(&after);
	iris__buf_free(&keep);
}

/* A forged bundle for "mallory"/1: refused, and a send to it fails. */
static void
bad_bundle(struct dev *a)
{
	iris_v1_KeyBundles kb;
	struct iris_e2ee_identity id;
	struct iris_e2ee_spk spk;
	struct e2s_bundle *b;
	struct iris__content in;
	struct iris_buf out;
	struct iris_cs_txn *t;
	int rc;

	memset(&kb, 0, sizeof(kb));
	iris__e2ee_identity_new(&id);
	EXPECT(iris__e2ee_spk_new(&spk, 9, 1000, id.sec) == IRIS_OK, "spk");
	kb.bundles_count = 1;
	kb.bundles[0].device_id = 1;
	memcpy(kb.bundles[0].identity_key, id.pub, 32);
	kb.bundles[0].has_signed_prekey = true;
	kb.bundles[0].signed_prekey.id = spk.id;
	memcpy(kb.bundles[0].signed_prekey.public_key, spk.kp.pub, 32);
	memcpy(kb.bundles[0].signed_prekey.signature, spk.sig, 64);
	kb.bundles[0].signed_prekey.created_ms = spk.created_ms;
	/* The good one is taken (so the check below is the signature's). */
	EXPECT(iris__keys_accept(a->c, "mallory", &kb) == IRIS_OK,
	    "a good bundle");
	kb.bundles[0].signed_prekey.signature[17] ^= 0x04;
	EXPECT(iris__keys_accept(a->c, "mallory", &kb) == IRIS_ECRYPTO,
	    "a bad signature accepted");
	b = iris__e2s_bundle_find(sealer(a), "mallory", 1);
	EXPECT(b != NULL && b->bad == IRIS_ECRYPTO, "kept as refused");
	memset(&in, 0, sizeof(in));
	in.kind = IRIS__CONTENT_MESSAGE;
	in.recipient = "mallory";
	in.body = (const uint8_t *)"x";
	in.len = 1;
	iris__buf_init(&out, 0);
	t = iris__client_txn(a->c, NULL, NULL);
	rc = a->c->seal->seal(a->c->sealer, t, "mallory", 1, &in, &out);
	iris__client_txn_drop(t);
	a->c->seal->reset(a->c->sealer);
	EXPECT(rc == IRIS_ECRYPTO, "seal to a refused bundle: %d", rc);
	iris__buf_free(&out);
	iris__e2ee_wipe(&id, sizeof(id));
	iris__e2ee_wipe(&spk, sizeof(spk));
}

static int
fetched(void *arg)
{
	struct e2s *s = arg;
	size_t i;

	for (i = 0; i < E2S_FETCHES_MAX; i++)
		if (s->fetching[i][0] != '\0')
			return 0;
	return 1;
}

/* Bob offline; alice's fetches use up his one-time prekeys; carol still
 * reaches him over the signed prekey alone. */
static void
exhausted(struct dev *alice, struct dev *bob, struct dev *carol)
{
	struct e2s_bundle *b = NULL;
	struct e2s *s = sealer(alice);
	size_t first;
	int i;

	dev_down(bob);
	for (i = 0; i < 120; i++) {
		EXPECT(iris__e2s_fetch(s, "bob") == IRIS_OK, "fetch %d", i);
		EXPECT(run_until(base, fetched, s, T), "fetch %d answer", i);
		b = iris__e2s_bundle_find(s, "bob", 1);
		if (b != NULL && !b->b.has_opk)
			break;
	}
	EXPECT(b != NULL && !b->b.has_opk && i >= 90, "pool not used up "
	    "after %d fetches", i);
	dev_up(carol, "carol", 1);
	send_marks(carol, "bob", "C", 3);
	EXPECT(ct_wait_acked(base, &carol->r, 3, T), "carol acked %zu",
	    carol->r.acked);
	b = iris__e2s_bundle_find(sealer(carol), "bob", 1);
	EXPECT(b != NULL && b->bad == IRIS_OK && !b->b.has_opk,
	    "carol's bundle of bob had no one-time prekey");
	dev_up(bob, "bob", 0);
	first = bob->r.nmsgs;
	EXPECT(ct_wait_msgs(base, &bob->r, first + 3, T) &&
	    got_marks(&bob->r, first, "C", 3), "bob got %zu from carol",
	    bob->r.nmsgs - first);
	(void)first;
}

static int
receipts_in(void *arg)
{
	return ((struct ct_rec *)arg)->receipts >= 2 * NMSG;
}

struct sn_want {
	struct dev	*d;
	const char	*peer;
	char		 sn[IRIS_CLIENT_SAFETY_LEN + 1];
	int		 rc;
};

static int
sn_ready(void *arg)
{
	struct sn_want *w = arg;

	w->rc = iris_client_safety_number(w->d->c, w->peer, w->sn,
	    sizeof(w->sn));
	return w->rc != IRIS_EAGAIN;
}

/* Both sides compute the same 60 digits; bad input is refused. */
static void
safety(struct dev *a, struct dev *b)
{
	struct sn_want wa = { a, NULL, "", 0 }, wb = { b, NULL, "", 0 };
	char small[10];
	size_t i;

	wa.peer = b->user;
	wb.peer = a->user;
	EXPECT(run_until(base, sn_ready, &wa, T) && wa.rc == IRIS_OK,
	    "safety number at %s: %d", a->user, wa.rc);
	EXPECT(run_until(base, sn_ready, &wb, T) && wb.rc == IRIS_OK,
	    "safety number at %s: %d", b->user, wb.rc);
	EXPECT(strlen(wa.sn) == IRIS_CLIENT_SAFETY_LEN &&
	    strcmp(wa.sn, wb.sn) == 0, "safety numbers differ: %s %s",
	    wa.sn, wb.sn);
	for (i = 0; i < strlen(wa.sn); i++)
		EXPECT(wa.sn[i] >= '0' && wa.sn[i] <= '9', "digit %zu", i);
	EXPECT(iris_client_safety_number(a->c, b->user, small,
	    sizeof(small)) == IRIS_ETOOBIG, "short out");
	EXPECT(iris_client_safety_number(a->c, "no spaces", wa.sn,
	    sizeof(wa.sn)) == IRIS_EINVAL, "bad user");
}

/* Whether file path holds needle. */
static int
file_has(const char *path, const char *needle)
{
	size_t n = strlen(needle), len = 0, cap = 0, i;
	char *buf = NULL, *p;
	FILE *f;
	int found = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	for (;;) {
		if (len + 65536 > cap) {
			cap = (len + 65536) * 2;
			if ((p = realloc(buf, cap)) == NULL)
				break;
			buf = p;
		}
		if ((i = fread(buf + len, 1, 65536, f)) == 0)
			break;
		len += i;
	}
	fclose(f);
	for (i = 0; buf != NULL && i + n <= len && !found; i++)
		found = memcmp(buf + i, needle, n) == 0;
	free(buf);
	return found;
}

/* Every regular file under dir (and dir's files named like prefix). */
static int
scan(const char *dir, const char *needle, int *files)
{
	char path[1024];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int hits = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			hits += scan(path, needle, files);
		else if (S_ISREG(st.st_mode)) {
			(*files)++;
			if (file_has(path, needle)) {
				fprintf(stderr, "client_e2ee: %s holds a "
				    "marker\n", path);
				hits++;
			}
		}
	}
	closedir(d);
	return hits;
}

int
main(void)
{
	struct dev alice, bob, carol;
	struct iris_config *cfg;
	uint8_t key[32];
	uint32_t seed;
	int files = 0;
	size_t first;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("client_e2ee: IRIS_TEST_SEED=%u\n", seed);
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	iris_config_set_log_cb(cfg, log_cb, NULL);
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_e2ee: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 3);
	if (iris_client_store_open(&store, base, "client.db", key, NULL) !=
	    IRIS_OK) {
		fprintf(stderr, "client_e2ee: no client store\n");
		return 1;
	}
	dev_up(&alice, "alice", 1);
	dev_up(&bob, "bob", 1);
	send_marks(&alice, "bob", "A", NMSG);
	EXPECT(ct_wait_msgs(base, &bob.r, NMSG, T) &&
	    got_marks(&bob.r, 0, "A", NMSG), "bob got %zu", bob.r.nmsgs);
	send_marks(&bob, "alice", "B", NMSG);
	EXPECT(ct_wait_msgs(base, &alice.r, NMSG, T) &&
	    got_marks(&alice.r, 0, "B", NMSG), "alice got %zu",
	    alice.r.nmsgs);
	first = bob.r.nmsgs;
	send_marks(&alice, "bob", "A2", NMSG);
	EXPECT(ct_wait_msgs(base, &bob.r, first + NMSG, T) &&
	    got_marks(&bob.r, first, "A2", NMSG), "bob got the second "
	    "round: %zu", bob.r.nmsgs - first);
	EXPECT(sealer(&bob) != NULL && sealer(&alice) != NULL &&
	    sealer(&bob)->st.sessions_answered == 1 &&
	    sealer(&alice)->st.sessions_started == 1, "one session each way");
	/* Bob's receives committed (he acks only after): receipts back. */
	EXPECT(run_until(base, receipts_in, &alice.r, T), "receipts %zu",
	    alice.r.receipts);
	flipped(&alice, &bob, seed);
	safety(&alice, &bob);
	bad_bundle(&alice);
	exhausted(&alice, &bob, &carol);
	dev_down(&alice);
	dev_down(&bob);
	dev_down(&carol);
	iris_client_store_close(store);
	iris_engine_free(eng);
	event_base_free(base);
	/* No marker anywhere the server or the client store wrote. */
	EXPECT(scan("data", MARK, &files) == 0, "server files hold markers");
	EXPECT(files >= 2, "server files scanned: %d", files);
	EXPECT(!file_has("client.db", MARK) && !file_has("client.db-wal",
	    MARK), "the client store holds a marker");
	EXPECT(logs != NULL && strstr(logs, MARK) == NULL, "a log line "
	    "holds a marker");
	free(logs);
	if (failures > 0)
		return 1;
	printf("client_e2ee: markers both ways, none in server files, logs "
	    "or the client store (%d server files); flipped bits refused; "
	    "bad bundle refused; safety numbers agree; last-resort delivery: ok\n", files);
	return 0;
}

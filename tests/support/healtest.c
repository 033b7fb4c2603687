/* SPDX-License-Identifier: ISC */
/*
 * Helpers of the self-healing tests (healtest.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "client/heal.h"
#include "client/seal_e2ee.h"
#include "evloop.h"
#include "healtest.h"
#include "util/clock.h"

struct event_base *ht_base;
struct iris_client_store *ht_store;
int ht_failures;
const char *ht_prog = "healtest";
static struct iris_engine *eng;
static char ht_fp[65];
static int ht_port;

uint32_t
ht_start(const char *prog)
{
	struct iris_config *cfg;
	uint8_t key[32];
	uint32_t seed;

	ht_prog = prog;
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		exit(1);
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("%s: IRIS_TEST_SEED=%u\n", prog, seed);
	ht_base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	if (iris_engine_new(&eng, ht_base, cfg) != IRIS_OK) {
		fprintf(stderr, "%s: no engine\n", prog);
		exit(1);
	}
	iris_config_free(cfg);
	ht_port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, ht_fp, sizeof(ht_fp));
	ct_key(key, 5);
	if (iris_client_store_open(&ht_store, ht_base, "client.db", key,
	    NULL) != IRIS_OK) {
		fprintf(stderr, "%s: no client store\n", prog);
		exit(1);
	}
	return seed;
}

int
ht_finish(void)
{
	iris_client_store_close(ht_store);
	iris_engine_free(eng);
	event_base_free(ht_base);
	return ht_failures > 0;
}

static void
decrypt_cb(struct iris_client *c, const char *user, uint32_t device,
    int cause, int healed, void *arg)
{
	struct ht_dev *d = arg;

	(void)c, (void)user, (void)device;
	HT_EXPECT(cause >= 0 && cause < IRIS_CLIENT_DECRYPT_CAUSES, "cause");
	if (healed == 0)
		d->failed++;
	else if (healed == 1)
		d->healed++;
	else
		d->given_up++;
}

static uint64_t
skewed_ms(void *arg)
{
	return iris__clock_mono_us() / 1000 + ((struct ht_dev *)arg)->clock_skew;
}

void
ht_dev_up(struct ht_dev *d, const char *user, int reg)
{
	struct ct_done done = { 0, 0 };
	int failed = d->failed, healed = d->healed, gone = d->given_up;

	snprintf(d->user, sizeof(d->user), "%s", user);
	ct_rec_init(&d->r, user);
	if ((d->c = ct_client(ht_base, ht_store, ht_port, ht_fp, user, user, &d->r)) ==
	    NULL)
		exit(1);
	d->failed = failed, d->healed = healed, d->given_up = gone;
	iris_client_set_decrypt_cb(d->c, decrypt_cb, d);
	d->c->now_ms = skewed_ms;
	d->c->now_arg = d;
	if (reg) {
		HT_EXPECT(iris_client_register(d->c, NULL, ct_done_cb, &done) ==
		    IRIS_OK, "register %s", user);
		HT_EXPECT(ct_wait_done(ht_base, &done, T) == IRIS_OK,
		    "register %s: %d", user, done.rc);
	} else {
		HT_EXPECT(iris_client_connect(d->c) == IRIS_OK, "connect");
		HT_EXPECT(ct_wait_state(ht_base, &d->r, IRIS_CLIENT_ONLINE, T),
		    "%s online", user);
	}
}

void
ht_dev_down(struct ht_dev *d)
{
	iris_client_free(d->c);
	d->c = NULL;
	ct_rec_free(&d->r);
}

struct e2s *
ht_sealer(struct ht_dev *d)
{
	return d->c->sealer;
}

/* n messages "tag-i" from a to b; their ids in ids. */
void
ht_send_n(struct ht_dev *a, struct ht_dev *b, const char *tag, int n,
    uint8_t (*ids)[16])
{
	char body[64];
	uint8_t id[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "%s-%d", tag, i);
		HT_EXPECT(iris_client_send(a->c, b->user, 7, body, strlen(body),
		    ids != NULL ? ids[i] : id) == IRIS_OK, "send %s", body);
	}
}

/* How many of b's messages since first are "tag-i" with id ids[i]. */
int
ht_count_of(const struct ht_dev *b, size_t first, const char *tag, int i,
    const uint8_t *id)
{
	char want[64];
	size_t k;
	int n = 0;

	snprintf(want, sizeof(want), "%s-%d", tag, i);
	for (k = first; k < b->r.nmsgs; k++)
		if (strcmp(b->r.msgs[k].body, want) == 0 && (id == NULL ||
		    memcmp(b->r.msgs[k].id, id, 16) == 0))
			n++;
	return n;
}

struct want_msgs {
	struct ht_dev	*b;
	size_t		 first;
	const char	*tag;
	int		 n;
};

static int
all_in(void *arg)
{
	struct want_msgs *w = arg;
	int i;

	for (i = 0; i < w->n; i++)
		if (ht_count_of(w->b, w->first, w->tag, i, NULL) == 0)
			return 0;
	return 1;
}

/* Every "tag-i" at b exactly once, under the id it was sent with. */
void
ht_expect_once(struct ht_dev *b, size_t first, const char *tag, int n,
    uint8_t (*ids)[16])
{
	struct want_msgs w = { b, first, tag, n };
	int i;

	HT_EXPECT(run_until(ht_base, all_in, &w, T), "%s: %s messages missing "
	    "(%zu in)", b->user, tag, b->r.nmsgs - first);
	for (i = 0; i < n; i++)
		HT_EXPECT(ht_count_of(b, first, tag, i, ids[i]) == 1 &&
		    ht_count_of(b, first, tag, i, NULL) == 1,
		    "%s: %s-%d delivered %d times", b->user, tag, i,
		    ht_count_of(b, first, tag, i, NULL));
}

static size_t
sname(uint8_t *name, const char *peer)
{
	size_t ulen = strlen(peer);

	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, peer, ulen);
	iris__e2ee_put32(name + 2 + ulen, 1);
	return 2 + ulen + 4;
}

static void
put_done(struct iris_client *c, int rc, void *arg)
{
	struct ct_done *d = arg;

	(void)c;
	d->rc = rc;
	d->done = 1;
}

/* d's stored session with peer: saved into old, or written back. */
void
ht_session(struct ht_dev *d, const char *peer, struct iris_buf *old,
    int restore)
{
	struct ct_done done = { 0, 0 };
	struct iris_cs_txn *t;
	uint8_t name[80];
	size_t n = sname(name, peer);

	if (!restore) {
		iris__buf_reset(old);
		HT_EXPECT(iris__seal_state_get(d->c, name, n, old) == IRIS_OK,
		    "%s's session with %s", d->user, peer);
		return;
	}
	t = iris__client_txn(d->c, put_done, &done);
	HT_EXPECT(t != NULL && iris__seal_state_put(d->c, t, name, n, old->p,
	    old->len) == IRIS_OK && iris__client_submit(d->c, t) == IRIS_OK,
	    "writing the old session back");
	HT_EXPECT(ct_wait_done(ht_base, &done, T) == IRIS_OK, "rolled back");
	d->c->seal->reset(d->c->sealer);	/* its cache is newer */
}


int
ht_stat_at(void *arg)
{
	struct ht_want_stat *w = arg;
	struct iris_client_stats st;

	iris_client_stats(w->d->c, &st, sizeof(st));
	return *(uint64_t *)((char *)&st + w->off) >= w->at_least;
}


/* One message each way, so that both have a session. */
void
ht_converse(struct ht_dev *a, struct ht_dev *b, const char *tag)
{
	char ta[32], tb[32];
	uint8_t ida[2][16], idb[2][16];
	size_t fa = a->r.nmsgs, fb = b->r.nmsgs;

	snprintf(ta, sizeof(ta), "%s-ab", tag);
	snprintf(tb, sizeof(tb), "%s-ba", tag);
	ht_send_n(a, b, ta, 2, ida);
	ht_expect_once(b, fb, ta, 2, ida);
	ht_send_n(b, a, tb, 2, idb);
	ht_expect_once(a, fa, tb, 2, idb);
}

int
ht_fetched(void *arg)
{
	struct e2s *s = arg;
	size_t i;

	for (i = 0; i < E2S_FETCHES_MAX; i++)
		if (s->fetching[i][0] != '\0')
			return 0;
	return 1;
}

int
ht_outbox_empty(void *arg)
{
	return ((struct ht_dev *)arg)->c->ob_n == 0;
}


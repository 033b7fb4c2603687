/* SPDX-License-Identifier: ISC */
/*
 * Retries and cut connections against a real irisd. A send to a user
 * with 3 devices retried before its ack, after it, and after an irisd
 * restart gets the same ack each time and is delivered once to each
 * device. Then, at seeded random points, the sender's connection is cut
 * in the middle of pipelined sends (half a frame written) and the
 * receiver's in the middle of a sync: after each reconnect the outbox
 * resends what has no ack, and the receiver resumes from its cursor;
 * nothing is lost, nothing is stored twice, and nothing whose ack was
 * confirmed comes again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_store.h"

#include "daemon.h"
#include "msgclient.h"
#include "scrape.h"

#define T	10000
#define N	400		/* messages of the cut-connection part */

static int failures;
static struct event_base *base;
static struct daemon d;
static char fp[65];

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "msg_retry: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static void
start(void)
{
	const char *args[] = { "-f", "iris.conf", NULL };

	EXPECT(daemon_start(&d, args, 3 * T) == 0, "irisd did not start");
	if (fp[0] == '\0')
		memcpy(fp, d.fp, sizeof(fp));
}

static void
one_send(struct iris_wire_msg *m, uint64_t rid, const uint8_t cmid[16],
    struct mc_user *to, const char *text)
{
	mc_send(m, rid, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(m, &to, 1, NULL, -1, text, strlen(text));
}

/* Sends one frame and waits for the answer with the same request id. */
static struct iris_wire_msg *
answer(struct ac_conn *c, uint64_t rid)
{
	struct iris_wire_msg *r;

	while ((r = wc_next(&c->w, T)) != NULL)
		if (r->f.request_id == rid)
			return r;
	return NULL;
}

/* How many messages each of u's devices holds (synced from 0). */
static void
expect_once(struct mc_user *u, const char *text)
{
	struct iris_wire_msg m, *r;
	size_t len;
	const uint8_t *p;
	int i;

	for (i = 0; i < u->n; i++) {
		mc_sync(&m, 50, 0, 0);
		EXPECT(ac_ask(&u->c[i], &m, &r) == 0 && r->f.which_body ==
		    iris_v1_Frame_sync_page_tag, "%s/%d: sync", u->name, i);
		if (r == NULL || r->f.which_body != iris_v1_Frame_sync_page_tag)
			continue;
		p = mc_payload(r, 0, &len);
		EXPECT(r->nitems == 1 && p != NULL && len == strlen(text) &&
		    memcmp(p, text, len) == 0, "%s/%d holds %zu messages, not "
		    "one", u->name, u->dev[i].id, r->nitems);
	}
}

static void
retries(struct mc_user *a, struct mc_user *b)
{
	struct iris_wire_msg m, *r;
	uint8_t cmid[16];
	uint64_t id = 0;
	int i;

	iris_uuid_v7(cmid);
	/* Twice before the first ack: pipelined, the same id. */
	one_send(&m, 11, cmid, b, "retried");
	wc_send(&a->c[0].w, &m);
	m.f.request_id = 12;
	wc_send(&a->c[0].w, &m);
	mc_free(&m);
	r = answer(&a->c[0], 11);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_send_ack_tag &&
	    !r->f.body.send_ack.duplicate && r->f.body.send_ack.envelopes == 3,
	    "first send not acked for 3 devices");
	if (r != NULL)
		id = r->f.body.send_ack.msg_id;
	r = answer(&a->c[0], 12);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_send_ack_tag &&
	    r->f.body.send_ack.duplicate && r->f.body.send_ack.msg_id == id &&
	    r->f.body.send_ack.envelopes == 3, "retry before the ack");
	/* After the ack. */
	one_send(&m, 13, cmid, b, "retried");
	r = NULL;
	EXPECT(ac_ask(&a->c[0], &m, &r) == 0 && r->f.body.send_ack.duplicate &&
	    r->f.body.send_ack.msg_id == id, "retry after the ack");
	mc_free(&m);
	expect_once(b, "retried");
	/* After a restart. */
	EXPECT(daemon_stop(&d, SIGTERM, T) == 0, "irisd did not exit 0");
	start();
	EXPECT(mc_relogin(a, 0, base, d.port, fp) == 0, "A after restart");
	for (i = 0; i < b->n; i++)
		EXPECT(mc_relogin(b, i, base, d.port, fp) == 0, "B%d", i + 1);
	one_send(&m, 14, cmid, b, "retried");
	r = NULL;
	EXPECT(ac_ask(&a->c[0], &m, &r) == 0 && r->f.body.send_ack.duplicate &&
	    r->f.body.send_ack.msg_id == id &&
	    r->f.body.send_ack.envelopes == 3, "retry after a restart");
	mc_free(&m);
	expect_once(b, "retried");
	printf("msg_retry: a send retried before its ack, after it and after "
	    "a restart: one ack id, one delivery per device\n");
}

/* The sender's outbox for the cut-connection part. */
static uint8_t cmids[N][16];
static int acked[N];
static int refused, cut_sends, in_flight_at_cuts, cut_syncs;

static int
nacked(void)
{
	int i, n = 0;

	for (i = 0; i < N; i++)
		n += acked[i];
	return n;
}

static void
take_ack(struct iris_wire_msg *r, int *pending)
{
	if (r->f.request_id < 100 || r->f.request_id >= 100 + N)
		return;
	(*pending)--;
	/* Refusals with a retry-after (too many in flight, then out of
	 * order) are resent by the next round, in order. */
	EXPECT(r->f.which_body == iris_v1_Frame_send_ack_tag ||
	    (r->f.which_body == iris_v1_Frame_error_tag &&
	    iris__wire_err_retryable(r->f.body.error.code) &&
	    r->f.body.error.retry_after_ms > 0),
	    "send %llu: %s", (unsigned long long)r->f.request_id - 100,
	    r->f.which_body == iris_v1_Frame_error_tag ?
	    r->f.body.error.detail : "no ack");
	if (r->f.which_body == iris_v1_Frame_send_ack_tag)
		acked[r->f.request_id - 100] = 1;
	else
		refused++;
}

/*
 * One connection's worth: resend what has no ack, in order. With cut >= 0
 * it writes cut sends, waits for about half of their answers, writes half
 * of the next frame and drops the connection with the rest in flight.
 */
static void
send_round(struct mc_user *a, struct mc_user *b, int cut)
{
	struct iris_wire_msg m, *r;
	uint8_t buf[4096];
	size_t need, len;
	char text[32];
	int i, written = 0, pending = 0, half = 0;

	for (i = 0; i < N; i++) {
		if (acked[i])
			continue;
		snprintf(text, sizeof(text), "cut %d", i);
		one_send(&m, 100 + (uint64_t)i, cmids[i], b, text);
		if (cut >= 0 && written == cut / 2) {
			/* The first half answered, the rest in flight. */
			while (pending > 0 && (r = wc_next(&a->c[0].w, T)) !=
			    NULL)
				take_ack(r, &pending);
		}
		if (cut >= 0 && written == cut) {
			iris__wire_size(&m, &need);
			iris__wire_encode(&m, buf, sizeof(buf), &len);
			wc_send_raw(&a->c[0].w, buf, len / 2);
			half = 1;
			mc_free(&m);
			break;
		}
		wc_send(&a->c[0].w, &m);
		mc_free(&m);
		written++;
		pending++;
	}
	if (half) {
		/* Out go the half frame and what is queued; then the cut. */
		event_base_loop(base, EVLOOP_NONBLOCK);
		while ((r = wc_next(&a->c[0].w, 0)) != NULL)
			take_ack(r, &pending);
		cut_sends++;
		in_flight_at_cuts += pending;
		wc_close(&a->c[0].w);
		EXPECT(mc_relogin(a, 0, base, d.port, fp) == 0, "A again");
		return;
	}
	while (pending > 0 && (r = wc_next(&a->c[0].w, T)) != NULL)
		take_ack(r, &pending);
}

/* What the receiver holds: index by seq, and its confirmed cursor. */
static int by_seq[N + 2];
static uint64_t confirmed;

static void
receive_round(struct mc_user *b, int cut_after)
{
	struct iris_wire_msg m, *r;
	uint64_t after, seq;
	const uint8_t *p;
	size_t i, len;
	int idx, taken = 0;

	EXPECT(mc_relogin(b, 0, base, d.port, fp) == 0, "B1 again");
	after = confirmed;
	for (;;) {
		mc_sync(&m, 61, after, 16);
		if (ac_ask(&b->c[0], &m, &r) != 0) {
			EXPECT(0, "sync failed");
			return;
		}
		for (i = 0; i < r->nitems; i++) {
			seq = r->items[i].pb.seq;
			EXPECT(seq > confirmed, "seq %llu came again after its "
			    "ack was confirmed", (unsigned long long)seq);
			p = mc_payload(r, i, &len);
			/* Seq 1 is the retried message of the first part. */
			seq -= 1;
			if (p == NULL || sscanf((const char *)p, "cut %d",
			    &idx) != 1 || seq == 0 || seq > N) {
				EXPECT(0, "seq %llu: not a test message",
				    (unsigned long long)seq);
				continue;
			}
			EXPECT(by_seq[seq] < 0 || by_seq[seq] == idx,
			    "seq %llu changed", (unsigned long long)seq);
			by_seq[seq] = idx;
			after = seq + 1;
			if (++taken == cut_after) {
				/* Ack what it has for sure, then cut. */
				mc_ack(&m, 62, after);
				if (ac_ask(&b->c[0], &m, NULL) == 0)
					confirmed = after;
				/* More was asked for: the cut is mid-sync. */
				mc_sync(&m, 64, after, 0);
				wc_send(&b->c[0].w, &m);
				event_base_loop(base, EVLOOP_NONBLOCK);
				cut_syncs++;
				wc_close(&b->c[0].w);
				return;
			}
		}
		if (r->nitems > 0) {
			/* rid 0: unconfirmed, may be lost with the cut. */
			mc_ack(&m, 0, after);
			wc_send(&b->c[0].w, &m);
		}
		if (!r->f.body.sync_page.more)
			break;
	}
	mc_ack(&m, 63, after);
	if (after > confirmed && ac_ask(&b->c[0], &m, NULL) == 0)
		confirmed = after;
}

static void
cuts(struct mc_user *a, struct mc_user *b, unsigned seed)
{
	int i, round, last = -1;

	srand(seed);
	for (i = 0; i < N; i++)
		iris_uuid_v7(cmids[i]);
	for (i = 0; i < N + 2; i++)
		by_seq[i] = -1;
	for (round = 0; round < 6 && nacked() < N; round++)
		send_round(a, b, 2 + rand() % (N / 4));
	while (nacked() < N && failures == 0)
		send_round(a, b, -1);
	EXPECT(nacked() == N, "%d of %d acked", nacked(), N);
	confirmed = 1;		/* B1 took the first part's message */
	for (round = 0; round < 8 && failures == 0; round++)
		receive_round(b, 1 + rand() % (N / 6));
	receive_round(b, -1);
	/* Each message once, in the order it was sent. */
	for (i = 1; i <= N; i++) {
		EXPECT(by_seq[i] > last, "seq %d holds %d after %d", i,
		    by_seq[i], last);
		last = by_seq[i];
	}
	EXPECT(by_seq[N + 1] == -1 && last == N - 1, "stored %d of %d", last
	    + 1, N);
	EXPECT(cut_sends == 6 && cut_syncs > 0 && in_flight_at_cuts > 0,
	    "%d cut sends with %d in flight, %d cut syncs", cut_sends,
	    in_flight_at_cuts, cut_syncs);
	printf("msg_retry: %d messages through %d cuts mid-send (%d sends in "
	    "flight) and %d mid-sync, %d refusals with a retry-after resent "
	    "in order: none lost, none stored twice, none confirmed and "
	    "delivered again\n", N, cut_sends, in_flight_at_cuts, cut_syncs,
	    refused);
}

/*
 * After the run: B2 and B3 never acked their N + 1 messages, and each of
 * B1's acked messages left a delivery receipt in A's inbox, unacked.
 */
static void
metrics(void)
{
	static char page[1 << 18];
	const char *at = strstr(d.log, "metrics on http://127.0.0.1:");
	double depth, v;
	int mport = 0;

	EXPECT(at != NULL && sscanf(at + 28, "%d", &mport) == 1,
	    "no metrics port");
	EXPECT(scrape_get(mport, "/metrics", page, sizeof(page)) == 200,
	    "no /metrics");
	depth = scrape_value(page, "iris_inbox_depth");
	EXPECT(depth == 3 * (N + 1), "inbox depth %g, not %d", depth,
	    3 * (N + 1));
	EXPECT(scrape_value(page, "iris_oldest_unacked_ms") >= 0,
	    "no oldest unacked age");
	EXPECT((v = scrape_value(page, "iris_msg_in_total")) > 0, "msg_in %g",
	    v);
	EXPECT(scrape_value(page, "iris_msg_out_total") >= 0, "msg_out");
	EXPECT((v = scrape_value(page, "iris_ack_sent_total")) > 0,
	    "ack_sent %g", v);
	EXPECT((v = scrape_value(page, "iris_dedup_hit_total")) >= 1,
	    "dedup_hit %g", v);
	EXPECT((v = scrape_value(page, "iris_receipts_total")) > 0,
	    "receipts %g", v);
	EXPECT(scrape_value(page, "iris_send_ack_seconds_count") > 0 &&
	    scrape_value(page, "iris_send_ack_seconds_bucket{le=\"+Inf\"}") ==
	    scrape_value(page, "iris_send_ack_seconds_count"),
	    "no send->ack histogram");
	EXPECT(strstr(page, "# TYPE iris_send_delivery_seconds histogram") !=
	    NULL, "no send->delivery histogram");
	printf("msg_retry: /metrics: inbox depth %g, msg_in %g, dedup hits "
	    "%g since the restart\n", depth,
	    scrape_value(page, "iris_msg_in_total"),
	    scrape_value(page, "iris_dedup_hit_total"));
}

int
main(void)
{
	unsigned seed = (unsigned)time(NULL);
	struct mc_user a, b;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("IRIS_TEST_SEED") != NULL)
		seed = (unsigned)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10);
	printf("msg_retry: seed %u (IRIS_TEST_SEED=%u to repeat)\n", seed,
	    seed);
	if (sodium_init() < 0)
		return 1;
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nregistration open\n"
	    "send_rate 1000000\nsend_burst 1000000\n"
	    "metrics_listen 127.0.0.1:0\n");
	fclose(f);
	printf("msg_retry: send_rate 1000000, send_burst 1000000\n");
	base = event_base_new();
	start();
	if (failures > 0)
		return 1;
	EXPECT(mc_user_new(&a, "alice", 1, base, d.port, fp, NULL) == 0,
	    "alice");
	EXPECT(mc_user_new(&b, "bob", 3, base, d.port, fp, NULL) == 0, "bob");
	if (failures == 0)
		retries(&a, &b);
	if (failures == 0)
		cuts(&a, &b, seed);
	if (failures == 0)
		metrics();
	mc_user_close(&a);
	mc_user_close(&b);
	EXPECT(daemon_stop(&d, SIGTERM, T) == 0, "irisd exit");
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("msg_retry: ok\n");
	return 0;
}

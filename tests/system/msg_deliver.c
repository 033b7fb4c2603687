/* SPDX-License-Identifier: ISC */
/*
 * Messages end to end against a real engine on this process's loop, over
 * TLS on loopback, every frame decoded by the real codec: 1 000 messages
 * from A to B arrive at both of B's devices and at A's other device, in
 * order, once; then B goes offline while 10 000 are queued, and on
 * connecting gets them all in sync pages, in order, once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_server.h"
#include "iris_store.h"

#include "msgclient.h"

#define T		10000
#define SEND_RATE	"1000000"	/* raised: these tests need volume */
#define SEND_BURST	"1000000"

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "msg_deliver: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A receiving device: what it has seen, checked as it comes. */
struct rx {
	const char	*name;
	struct ac_conn	*c;
	uint64_t	 next;		/* the seq it expects */
	uint64_t	 acked;
	int		 got;		/* payloads in order */
	int		 syncing;
	int		 pages;
	int		 pushed;	/* deliveries pushed */
	int		 bad;
	uint64_t	 rid;
};

static void
rx_item(struct rx *x, uint64_t seq, const uint8_t *p, size_t len)
{
	char want[32];

	if (seq != x->next) {
		if (x->bad++ < 3)
			fprintf(stderr, "%s: seq %llu, expected %llu\n", x->name,
			    (unsigned long long)seq,
			    (unsigned long long)x->next);
		return;
	}
	snprintf(want, sizeof(want), "msg %d", x->got);
	if (p == NULL || len < strlen(want) ||
	    memcmp(p, want, strlen(want)) != 0) {
		if (x->bad++ < 3)
			fprintf(stderr, "%s: seq %llu holds another message "
			    "than %s\n", x->name, (unsigned long long)seq, want);
		return;
	}
	x->next++;
	x->got++;
}

static void
rx_sync(struct rx *x, uint64_t after)
{
	struct iris_wire_msg m;

	mc_sync(&m, ++x->rid, after, 0);
	wc_send(&x->c->w, &m);
	x->syncing = 1;
}

/* Takes every frame that came, then acks what it has. */
static void
rx_drain(struct rx *x)
{
	struct iris_wire_msg *r, m;
	size_t i, len;
	const uint8_t *p;

	while ((r = wc_next(&x->c->w, 0)) != NULL) {
		switch (r->f.which_body) {
		case iris_v1_Frame_deliver_tag:
			p = mc_payload(r, 0, &len);
			rx_item(x, r->f.body.deliver.seq, p, len);
			x->pushed++;
			break;
		case iris_v1_Frame_sync_page_tag:
			x->pages++;
			for (i = 0; i < r->nitems; i++) {
				p = mc_payload(r, i, &len);
				rx_item(x, r->items[i].pb.seq, p, len);
			}
			if (r->f.body.sync_page.more)
				rx_sync(x, x->next - 1);
			else
				x->syncing = 0;
			break;
		case iris_v1_Frame_error_tag:
			if (x->bad++ < 3)
				fprintf(stderr, "%s: error %s: %s\n", x->name,
				    iris__wire_errname(r->f.body.error.code),
				    r->f.body.error.detail);
			break;
		default:
			break;
		}
	}
	if (x->next - 1 > x->acked) {
		mc_ack(&m, 0, x->next - 1);
		wc_send(&x->c->w, &m);
		x->acked = x->next - 1;
	}
}

/* A sending device: pipelined sends, each to every device of to[]. */
struct tx {
	struct mc_user	*u;
	int		 dev;
	struct mc_user	*to[4];
	int		 nto;
	int		 total, sent, acked, errors;
	int		 window;
	size_t		 size;
};

static void
tx_fill(struct tx *t)
{
	struct iris_wire_msg m;
	uint8_t cmid[16];
	char payload[1024];

	while (t->sent < t->total && t->sent - t->acked - t->errors <
	    t->window) {
		memset(payload, 'x', sizeof(payload));
		snprintf(payload, sizeof(payload), "msg %d", t->sent);
		payload[strlen(payload)] = ' ';
		iris_uuid_v7(cmid);
		mc_send(&m, 1000 + (uint64_t)t->sent, cmid,
		    IRIS_CLASS_MESSAGE, 0);
		mc_env_all(&m, t->to, t->nto, t->u, t->dev, payload, t->size);
		wc_send(&t->u->c[t->dev].w, &m);
		mc_free(&m);
		t->sent++;
	}
}

static void
tx_drain(struct tx *t)
{
	struct iris_wire_msg *r;

	while ((r = wc_next(&t->u->c[t->dev].w, 0)) != NULL) {
		if (r->f.which_body == iris_v1_Frame_send_ack_tag)
			t->acked++;
		else if (r->f.which_body == iris_v1_Frame_error_tag) {
			if (t->errors++ < 3)
				fprintf(stderr, "sender: error %s: %s\n",
				    iris__wire_errname(r->f.body.error.code),
				    r->f.body.error.detail);
		}
	}
}

struct world {
	struct tx	*tx;
	struct rx	*rx;
	int		 nrx;
	int		 want;
};

static int
frame_waiting(void *arg)
{
	struct world *w = arg;
	int i;

	if (w->tx != NULL && w->tx->u->c[w->tx->dev].w.n > 0)
		return 1;
	for (i = 0; i < w->nrx; i++)
		if (w->rx[i].c->w.n > 0)
			return 1;
	return 0;
}

static int
all_done(struct world *w)
{
	int i;

	if (w->tx != NULL && w->tx->acked + w->tx->errors < w->tx->total)
		return 0;
	for (i = 0; i < w->nrx; i++)
		if (w->rx[i].got < w->want || w->rx[i].syncing)
			return 0;
	return 1;
}

/* Runs the loop until every sender is acked and every receiver has all. */
static int
run_world(struct world *w, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int i;

	while (!all_done(w) && now_ms() < deadline) {
		if (w->tx != NULL)
			tx_fill(w->tx);
		run_until(base, frame_waiting, w, 50);
		if (w->tx != NULL)
			tx_drain(w->tx);
		for (i = 0; i < w->nrx; i++)
			rx_drain(&w->rx[i]);
	}
	return all_done(w);
}

static void
rx_init(struct rx *x, const char *name, struct ac_conn *c)
{
	memset(x, 0, sizeof(*x));
	x->name = name;
	x->c = c;
	x->next = 1;
}

/* 1 000 messages A1 -> B: B1, B2 and A2 each get them all, in order. */
static void
thousand(struct mc_user *a, struct mc_user *b)
{
	struct rx rx[3];
	struct tx tx;
	struct world w;
	uint64_t t0 = now_ms(), v = 0;
	int i;

	rx_init(&rx[0], "B1", &b->c[0]);
	rx_init(&rx[1], "B2", &b->c[1]);
	rx_init(&rx[2], "A2", &a->c[1]);
	for (i = 0; i < 3; i++)
		rx_sync(&rx[i], 0);	/* empty: then pushes */
	memset(&tx, 0, sizeof(tx));
	tx.u = a;
	tx.dev = 0;
	tx.to[0] = b;
	tx.to[1] = a;
	tx.nto = 2;
	tx.total = 1000;
	tx.window = 64;
	tx.size = 200;
	w.tx = &tx;
	w.rx = rx;
	w.nrx = 3;
	w.want = 1000;
	EXPECT(run_world(&w, 60000), "1000 messages: acked %d errors %d, got "
	    "%d %d %d", tx.acked, tx.errors, rx[0].got, rx[1].got, rx[2].got);
	EXPECT(tx.errors == 0, "%d sends refused", tx.errors);
	for (i = 0; i < 3; i++) {
		EXPECT(rx[i].bad == 0 && rx[i].got == 1000 &&
		    rx[i].next == 1001, "%s got %d (next seq %llu), %d bad",
		    rx[i].name, rx[i].got, (unsigned long long)rx[i].next,
		    rx[i].bad);
		/* Live: they came as pushes, not in pages. */
		EXPECT(rx[i].pushed == 1000, "%s: %d of 1000 pushed",
		    rx[i].name, rx[i].pushed);
	}
	/* Nothing more comes: a sync from the cursor is empty. */
	for (i = 0; i < 3; i++) {
		struct iris_wire_msg m, *r;

		mc_sync(&m, 77, 1000, 0);
		EXPECT(ac_ask(rx[i].c, &m, &r) == 0 && r->f.which_body ==
		    iris_v1_Frame_sync_page_tag && r->nitems == 0 &&
		    !r->f.body.sync_page.more &&
		    r->f.body.sync_page.head_seq == 1000,
		    "%s: a sync after everything is not empty", rx[i].name);
	}
	iris_engine_stat(eng, "msg_in", &v);
	EXPECT(v == 1000, "msg_in %llu", (unsigned long long)v);
	iris_engine_stat(eng, "ack_sent", &v);
	EXPECT(v == 1000, "ack_sent %llu", (unsigned long long)v);
	printf("msg_deliver: 1000 messages to 3 devices in %llu ms\n",
	    (unsigned long long)(now_ms() - t0));
}

/* B offline, 10 000 queued; B connects and syncs them in pages. */
static void
backlog(struct mc_user *a, struct mc_user *b, int n)
{
	struct mc_user *to[1] = { b };
	struct rx rx;
	struct tx tx;
	struct world w;
	uint64_t t0 = now_ms(), base_seq;
	int i;

	for (i = 0; i < b->n; i++)
		wc_close(&b->c[i].w);
	/* A's own other device is in the list too: keep it listening. */
	memset(&tx, 0, sizeof(tx));
	tx.u = a;
	tx.to[0] = to[0];
	tx.to[1] = a;
	tx.nto = 2;
	tx.total = n;
	tx.window = 256;
	tx.size = 100;
	{
		struct rx a2;

		rx_init(&a2, "A2", &a->c[1]);
		a2.next = 1001;
		a2.acked = 1000;
		w.tx = &tx;
		w.rx = &a2;
		w.nrx = 1;
		w.want = n;
		EXPECT(run_world(&w, 120000), "queueing %d: acked %d, errors "
		    "%d, A2 got %d", n, tx.acked, tx.errors, a2.got);
	}
	printf("msg_deliver: %d messages queued in %llu ms\n", n,
	    (unsigned long long)(now_ms() - t0));
	t0 = now_ms();
	EXPECT(mc_relogin(b, 0, base, port, fp) == 0, "B1 back");
	base_seq = 1000;
	rx_init(&rx, "B1", &b->c[0]);
	rx.next = base_seq + 1;
	rx.acked = base_seq;
	rx_sync(&rx, base_seq);
	w.tx = NULL;
	w.rx = &rx;
	w.nrx = 1;
	w.want = n;
	EXPECT(run_world(&w, 60000), "sync of %d: got %d", n, rx.got);
	EXPECT(rx.bad == 0 && rx.got == n, "backlog: got %d, %d bad", rx.got,
	    rx.bad);
	EXPECT(rx.pages >= n / 256, "only %d pages for %d messages",
	    rx.pages, n);
	printf("msg_deliver: %d messages synced in %d pages in %llu ms\n", n,
	    rx.pages, (unsigned long long)(now_ms() - t0));
}

int
main(void)
{
	struct iris_config *cfg;
	struct mc_user a, b;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	iris_config_set(cfg, "send_rate", SEND_RATE);
	iris_config_set(cfg, "send_burst", SEND_BURST);
	printf("msg_deliver: send_rate %s, send_burst %s\n", SEND_RATE,
	    SEND_BURST);
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "msg_deliver: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	EXPECT(mc_user_new(&a, "alice", 2, base, port, fp, NULL) == 0,
	    "alice");
	EXPECT(mc_user_new(&b, "bob", 2, base, port, fp, NULL) == 0, "bob");
	if (failures == 0)
		thousand(&a, &b);
	if (failures == 0)
		backlog(&a, &b, 10000);
	mc_user_close(&a);
	mc_user_close(&b);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("msg_deliver: delivery to every device, in order, once: ok\n");
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * A small messaging load run against a real irisd (make bench-msg): pairs
 * of one sender and one recipient device, TLS on loopback, 512-byte
 * envelopes, receipts off, rate limits raised (printed). Each sender keeps
 * a window of sends in flight; each recipient is live (synced) and acks as
 * it goes. It reports messages/s and send->ack and send->delivery p50 and
 * p99 as the clients see them, and verifies while it measures: every
 * message decoded, delivered once, in order; a run with any loss, any
 * duplicate or no traffic is a failed run, not a result.
 *   msg_bench [-p pairs] [-w window] [-s seconds]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "iris.h"
#include "iris_store.h"

#include "daemon.h"
#include "msgclient.h"

#define MAX_PAIRS	64
#define MAX_MSGS	2000000
#define SIZE		512

struct pair {
	struct mc_user	 s, r;
	uint64_t	 sent, acked, got, next_seq, acked_seq;
	uint64_t	*t0;		/* µs when each index was sent */
	int		 bad;
};

static struct pair pairs[MAX_PAIRS];
static int npairs = 4, window = 64, seconds = 5;
static uint64_t *ack_us, *dlv_us;
static size_t nack, ndlv;
static struct event_base *base;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
fill(struct pair *p, uint64_t stop)
{
	struct iris_wire_msg m;
	uint8_t cmid[16], payload[SIZE];

	memset(payload, 'b', sizeof(payload));
	while (p->sent - p->acked < (uint64_t)window && p->sent < MAX_MSGS &&
	    now_us() < stop) {
		iris_uuid_v7(cmid);
		snprintf((char *)payload, 24, "%llu ",
		    (unsigned long long)p->sent);
		mc_send(&m, 1 + p->sent, cmid, IRIS_CLASS_MESSAGE, 0);
		mc_env(&m, p->r.name, 1, payload, sizeof(payload));
		p->t0[p->sent] = now_us();
		wc_send(&p->s.c[0].w, &m);
		mc_free(&m);
		p->sent++;
	}
}

static void
drain(struct pair *p)
{
	struct iris_wire_msg *r, m;
	unsigned long long idx;
	const uint8_t *pl;
	size_t len;
	uint64_t t = now_us();

	while ((r = wc_next(&p->s.c[0].w, 0)) != NULL) {
		if (r->f.which_body != iris_v1_Frame_send_ack_tag) {
			p->bad++;
			continue;
		}
		p->acked++;
		if (r->f.request_id >= 1 && r->f.request_id <= p->sent &&
		    nack < MAX_MSGS)
			ack_us[nack++] = t - p->t0[r->f.request_id - 1];
	}
	while ((r = wc_next(&p->r.c[0].w, 0)) != NULL) {
		if (r->f.which_body != iris_v1_Frame_deliver_tag)
			continue;
		pl = mc_payload(r, 0, &len);
		if (r->f.body.deliver.seq != p->next_seq || pl == NULL ||
		    sscanf((const char *)pl, "%llu", &idx) != 1 ||
		    idx != p->got) {
			p->bad++;
			continue;
		}
		if (ndlv < MAX_MSGS)
			dlv_us[ndlv++] = t - p->t0[idx];
		p->got++;
		p->next_seq++;
	}
	if (p->next_seq - 1 > p->acked_seq) {
		mc_ack(&m, 0, p->next_seq - 1);
		wc_send(&p->r.c[0].w, &m);
		p->acked_seq = p->next_seq - 1;
	}
}

static int
cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(uint64_t *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	return (double)v[(size_t)(q * (double)(n - 1))] / 1000.0;
}

static int
frames(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < npairs; i++)
		if (pairs[i].s.c[0].w.n > 0 || pairs[i].r.c[0].w.n > 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *args[] = { "-f", "iris.conf", NULL };
	struct daemon d;
	struct iris_wire_msg m, *r;
	uint64_t start, stop, sent = 0, got = 0, acked = 0;
	double secs;
	int i, c, bad = 0, done;
	char name[16];
	FILE *f;

	while ((c = getopt(argc, argv, "p:w:s:")) != -1)
		switch (c) {
		case 'p':
			npairs = atoi(optarg);
			break;
		case 'w':
			window = atoi(optarg);
			break;
		case 's':
			seconds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: msg_bench [-p pairs] "
			    "[-w window] [-s seconds]\n");
			return 2;
		}
	if (npairs < 1 || npairs > MAX_PAIRS || window < 1 || seconds < 1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nregistration open\n"
	    "send_rate 1000000\nsend_burst 1000000\nlog_level notice\n");
	fclose(f);
	printf("msg_bench: %d pairs, window %d, %d s, %d-byte envelopes, "
	    "receipts off, send_rate 1000000, send_burst 1000000\n", npairs,
	    window, seconds, SIZE);
	if (daemon_start(&d, args, 10000) != 0) {
		fprintf(stderr, "msg_bench: irisd did not start\n");
		return 1;
	}
	base = event_base_new();
	ack_us = calloc(MAX_MSGS, sizeof(*ack_us));
	dlv_us = calloc(MAX_MSGS, sizeof(*dlv_us));
	for (i = 0; i < npairs; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		if (mc_user_new(&pairs[i].s, name, 1, base, d.port, d.fp,
		    NULL) != 0)
			return 1;
		snprintf(name, sizeof(name), "r%d", i);
		if (mc_user_new(&pairs[i].r, name, 1, base, d.port, d.fp,
		    NULL) != 0)
			return 1;
		/* Receipts off (P1), then live. */
		iris__wire_msg_init(&m);
		m.f.request_id = 2;
		m.f.which_body = iris_v1_Frame_presence_settings_tag;
		if (ac_ask(&pairs[i].r.c[0], &m, NULL) != 0)
			return 1;
		mc_sync(&m, 3, 0, 0);
		if (ac_ask(&pairs[i].r.c[0], &m, &r) != 0)
			return 1;
		pairs[i].t0 = calloc(MAX_MSGS, sizeof(uint64_t));
		pairs[i].next_seq = 1;
	}
	start = now_us();
	stop = start + (uint64_t)seconds * 1000000;
	do {
		for (i = 0; i < npairs; i++)
			fill(&pairs[i], stop);
		run_until(base, frames, NULL, 20);
		done = 1;
		for (i = 0; i < npairs; i++) {
			drain(&pairs[i]);
			if (pairs[i].got < pairs[i].sent ||
			    pairs[i].acked < pairs[i].sent)
				done = 0;
		}
	} while (!done || now_us() < stop);
	secs = (double)(now_us() - start) / 1e6;
	for (i = 0; i < npairs; i++) {
		sent += pairs[i].sent;
		acked += pairs[i].acked;
		got += pairs[i].got;
		bad += pairs[i].bad;
	}
	qsort(ack_us, nack, sizeof(*ack_us), cmp);
	qsort(dlv_us, ndlv, sizeof(*dlv_us), cmp);
	printf("msg_bench: %llu sent, %llu acked, %llu delivered once in "
	    "order, %d wrong, in %.2f s: %.0f msg/s\n",
	    (unsigned long long)sent, (unsigned long long)acked,
	    (unsigned long long)got, bad, secs, (double)got / secs);
	printf("msg_bench: send->ack p50 %.2f ms p99 %.2f ms; send->delivery "
	    "p50 %.2f ms p99 %.2f ms\n", pct(ack_us, nack, 0.5),
	    pct(ack_us, nack, 0.99), pct(dlv_us, ndlv, 0.5),
	    pct(dlv_us, ndlv, 0.99));
	printf("{\"bench\":\"msg\",\"pairs\":%d,\"window\":%d,\"msgs\":%llu,"
	    "\"msg_per_s\":%.0f,\"ack_p50_ms\":%.2f,\"ack_p99_ms\":%.2f,"
	    "\"delivery_p50_ms\":%.2f,\"delivery_p99_ms\":%.2f}\n", npairs,
	    window, (unsigned long long)got, (double)got / secs,
	    pct(ack_us, nack, 0.5), pct(ack_us, nack, 0.99),
	    pct(dlv_us, ndlv, 0.5), pct(dlv_us, ndlv, 0.99));
	for (i = 0; i < npairs; i++) {
		mc_user_close(&pairs[i].s);
		mc_user_close(&pairs[i].r);
		free(pairs[i].t0);
	}
	daemon_stop(&d, SIGTERM, 10000);
	event_base_free(base);
	free(ack_us);
	free(dlv_us);
	if (bad > 0 || got == 0 || got != sent || acked != sent) {
		fprintf(stderr, "msg_bench: FAILED run (loss, duplicates or "
		    "no traffic)\n");
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * The client library end to end, as an embedder uses it: an engine and
 * two client objects (each with its own client store) on one loop in one
 * process, over TLS on loopback, rate limits raised (printed). alice
 * sends N messages of 512 bytes to bob through the durable outbox; the
 * run measures messages/s and the send->ack and send->delivery latency
 * percentiles, and fails unless bob got every message once, in order.
 * With a rate, sends are paced to it (latency at a given load); without,
 * they go as fast as the outbox takes them (throughput).
 * Not a test: `make bench-client [BENCH_ARGS="N [RATE]"]`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "clienttest.h"
#include "evloop.h"

#define BODY	512

static struct event_base *base;
static size_t n_msgs = 5000;
static double rate;		/* sends per second; 0: as fast as possible */
static uint64_t pace_t0;
static uint64_t *t_send, *t_ack, *t_deliv;
static uint8_t (*ids)[16];
static size_t sent, acked, delivered, bad_order, dups;
static int64_t next_expected;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
on_sent(struct iris_client *c, const uint8_t id[16], int status, void *arg)
{
	size_t lo = 0, hi = sent, mid;

	(void)c, (void)arg;
	if (status != IRIS_CLIENT_ACKED)
		return;
	/* Ids are UUIDv7 made in order: a binary search finds the send. */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (memcmp(ids[mid], id, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sent && memcmp(ids[lo], id, 16) == 0 && t_ack[lo] == 0) {
		t_ack[lo] = now_us();
		acked++;
	}
}

static void
on_message(struct iris_client *c, const struct iris_client_msg *m,
    void *arg)
{
	const char *body;
	size_t len;
	long i;

	(void)c, (void)arg;
	body = iris_client_msg_body(m, &len);
	if (len != BODY || (i = strtol(body, NULL, 10)) < 0 ||
	    (size_t)i >= n_msgs)
		return;
	if (t_deliv[i] != 0) {
		dups++;
		return;
	}
	if (i != next_expected)
		bad_order++;
	next_expected = i + 1;
	t_deliv[i] = now_us();
	delivered++;
}

static int
cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
percentiles(const char *what, const uint64_t *end)
{
	uint64_t *d = malloc(n_msgs * sizeof(*d));
	size_t i, k = 0;

	for (i = 0; i < n_msgs; i++)
		if (end[i] != 0)
			d[k++] = end[i] - t_send[i];
	qsort(d, k, sizeof(*d), cmp64);
	printf("%s: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what,
	    k ? d[k / 2] / 1000.0 : 0, k ? d[k * 99 / 100] / 1000.0 : 0,
	    k ? d[k - 1] / 1000.0 : 0);
	free(d);
}

static int
all_done(void *arg)
{
	(void)arg;
	return acked == n_msgs && delivered == n_msgs;
}

static int
due(void *arg)
{
	(void)arg;
	return now_us() >= pace_t0 + (uint64_t)(sent * 1e6 / rate);
}

static int
room(void *arg)
{
	struct iris_client *a = arg;

	return iris_client_outbox(a) < 2000;
}

int
main(int argc, char **argv)
{
	struct iris_client_store *sa, *sb;
	struct iris_client *a, *b;
	struct iris_config *cfg;
	struct iris_engine *eng;
	struct ct_rec ra, rb;
	struct ct_done d = { 0, 0 };
	char fp[65], body[BODY];
	uint8_t key[32];
	uint64_t t0, t1;
	int port;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		n_msgs = strtoul(argv[1], NULL, 10);
	if (argc > 2)
		rate = strtod(argv[2], NULL);
	if (sodium_init() < 0 || n_msgs == 0)
		return 1;
	t_send = calloc(n_msgs, sizeof(*t_send));
	t_ack = calloc(n_msgs, sizeof(*t_ack));
	t_deliv = calloc(n_msgs, sizeof(*t_deliv));
	ids = calloc(n_msgs, 16);
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	iris_config_set(cfg, "send_rate", "1000000");
	iris_config_set(cfg, "send_burst", "1000000");
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK)
		return 1;
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 4);
	if (iris_client_store_open(&sa, base, "alice.db", key, NULL) !=
	    IRIS_OK || iris_client_store_open(&sb, base, "bob.db", key,
	    NULL) != IRIS_OK)
		return 1;
	ct_rec_init(&ra, "alice");
	ct_rec_init(&rb, "bob");
	a = ct_client(base, sa, port, fp, "alice", NULL, &ra);
	b = ct_client(base, sb, port, fp, "bob", NULL, &rb);
	if (a == NULL || b == NULL ||
	    iris_client_register(a, NULL, ct_done_cb, &d) != IRIS_OK ||
	    ct_wait_done(base, &d, 10000) != IRIS_OK)
		return 1;
	memset(&d, 0, sizeof(d));
	if (iris_client_register(b, NULL, ct_done_cb, &d) != IRIS_OK ||
	    ct_wait_done(base, &d, 10000) != IRIS_OK)
		return 1;
	iris_client_set_sent_cb(a, on_sent, NULL);
	iris_client_set_message_cb(b, on_message, NULL);
	printf("client_bench: %zu messages of %d bytes alice -> bob, "
	    "send_rate 1000000/s, send_burst 1000000, TLS on loopback, one "
	    "process, %s\n", n_msgs, BODY, rate > 0 ? argv[2] : "unpaced");
	memset(body, '.', sizeof(body));
	t0 = pace_t0 = now_us();
	while (sent < n_msgs) {
		if (rate > 0 && !due(NULL))
			run_until(base, due, NULL, 60000);
		/* Keep the outbox within its default bound. */
		if (!room(a))
			run_until(base, room, a, 60000);
		snprintf(body, 16, "%zu", sent);
		body[strlen(body)] = ' ';
		t_send[sent] = now_us();
		if (iris_client_send(a, "bob", 1, body, sizeof(body),
		    ids[sent]) != IRIS_OK)
			return 1;
		sent++;
		if (rate > 0 || sent % 64 == 0)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	if (!run_until(base, all_done, NULL, 600000)) {
		fprintf(stderr, "client_bench: acked %zu, delivered %zu of "
		    "%zu\n", acked, delivered, n_msgs);
		return 1;
	}
	t1 = now_us();
	printf("client_bench: %.0f messages/s (all %zu acked and delivered "
	    "in %.2f s)\n", n_msgs / ((t1 - t0) / 1e6), n_msgs,
	    (t1 - t0) / 1e6);
	percentiles("send->ack", t_ack);
	percentiles("send->delivery", t_deliv);
	printf("{\"bench\":\"client\",\"messages\":%zu,\"seconds\":%.3f,"
	    "\"out_of_order\":%zu,\"duplicates\":%zu}\n", n_msgs,
	    (t1 - t0) / 1e6, bad_order, dups);
	iris_client_free(a);
	iris_client_free(b);
	iris_client_store_close(sa);
	iris_client_store_close(sb);
	iris_engine_free(eng);
	event_base_free(base);
	ct_rec_free(&ra);
	ct_rec_free(&rb);
	if (bad_order != 0 || dups != 0) {
		fprintf(stderr, "client_bench: %zu out of order, %zu twice: a "
		    "failed run\n", bad_order, dups);
		return 1;
	}
	return 0;
}

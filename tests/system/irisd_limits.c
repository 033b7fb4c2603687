/* SPDX-License-Identifier: ISC */
/*
 * Abuse limits of a real irisd: 1 000 connections sending malformed,
 * oversized and never-finished frames while one good client keeps working,
 * with irisd's memory flat across waves; then the per-IP connection rate
 * and max_connections, each refused with its error and a retry-after.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "iris.h"
#include "daemon.h"
#include "wire/frame.h"
#include "wireclient.h"

#define T	5000
static int WAVE = 250;	/* connections per kind and wave (IRIS_LIMITS_WAVE) */

static int failures;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "irisd_limits: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void
pong(struct wc *w, uint64_t rid)
{
	struct iris_wire_msg m, *r;

	wc_ping(&m, rid, "alive");
	wc_send(w, &m);
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_pong_tag &&
	    r->f.request_id == rid, "good client: no pong for %llu",
	    (unsigned long long)rid);
}

struct flood {
	struct wc	*w;
	size_t		 n;
};

static int
all_closed(void *arg)
{
	struct flood *f = arg;
	size_t i;

	for (i = 0; i < f->n; i++)
		if (!f->w[i].closed)
			return 0;
	return 1;
}

/* One wave: three kinds of bad clients, all refused and closed. */
static void
wave(struct event_base *base, const struct daemon *d, struct wc *good,
    int round)
{
	static const uint8_t garbage[] = { 0, 0, 0, 3, 0xff, 0xff, 0xff };
	struct flood f;
	struct iris_wire_msg m;
	uint8_t hdr[IRIS_FRAME_HEADER];
	size_t i, up = 0;

	f.n = 3 * WAVE;
	f.w = calloc(f.n, sizeof(*f.w));
	for (i = 0; i < f.n; i++) {
		if (wc_connect(&f.w[i], base, d->port, d->fp, NULL, 0, T) != 0)
			continue;
		up++;
		switch (i % 3) {
		case 0:		/* malformed after a hello */
			wc_hello(&m, 1, 1);
			wc_send(&f.w[i], &m);
			wc_send_raw(&f.w[i], garbage, sizeof(garbage));
			break;
		case 1:		/* over the pre-login frame cap */
			iris__frame_put_header(hdr, 1u << 20);
			wc_send_raw(&f.w[i], hdr, sizeof(hdr));
			break;
		case 2:		/* slowloris: a frame never finished */
			iris__frame_put_header(hdr, 1000);
			wc_send_raw(&f.w[i], hdr, sizeof(hdr));
			wc_send_raw(&f.w[i], "x", 1);
			break;
		}
	}
	EXPECT(up == f.n, "round %d: %zu of %zu connections up", round, up,
	    f.n);
	pong(good, (uint64_t)(1000 + round));
	EXPECT(run_until(base, all_closed, &f, 4 * T),
	    "round %d: not every bad connection was closed", round);
	for (i = 0; i < f.n; i++)
		wc_close(&f.w[i]);
	free(f.w);
	pong(good, (uint64_t)(2000 + round));
}

/* Connections until one is refused; returns its error code. */
static int
refused_with(struct event_base *base, const struct daemon *d, int n,
    uint32_t *retry)
{
	struct wc *w = calloc((size_t)n, sizeof(*w));
	struct iris_wire_msg *r;
	int i, code = -1;

	for (i = 0; i < n && code < 0; i++) {
		if (wc_connect(&w[i], base, d->port, d->fp, NULL, 0, T) != 0)
			break;
		r = wc_next(&w[i], 200);
		if (r != NULL && r->f.which_body == iris_v1_Frame_error_tag) {
			code = (int)r->f.body.error.code;
			*retry = r->f.body.error.retry_after_ms;
		}
	}
	while (i-- > 0)
		wc_close(&w[i]);
	free(w);
	return code;
}

int
main(void)
{
	static const char *const args[] = { "-f", "iris.conf", NULL };
	struct event_base *base = event_base_new();
	struct iris_wire_msg m, *r;
	struct daemon d;
	struct wc good;
	long rss[4];
	uint32_t retry = 0;
	int round;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("IRIS_LIMITS_WAVE") != NULL)
		WAVE = atoi(getenv("IRIS_LIMITS_WAVE"));
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nframe_timeout 1s\n"
	    "conn_rate 100000\nconn_burst 100000\nunauth_timeout 10m\n");
	fclose(f);
	if (daemon_start(&d, args, 3 * T) != 0) {
		fprintf(stderr, "irisd_limits: no irisd:\n%s\n", d.log);
		return 1;
	}
	EXPECT(wc_connect(&good, base, d.port, d.fp, NULL, 0, T) == 0,
	    "good client");
	wc_hello(&m, 1, 1);
	wc_send(&good, &m);
	r = wc_next(&good, T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_server_hello_tag,
	    "good hello");
	for (round = 0; round < 4; round++) {
		wave(base, &d, &good, round);
		rss[round] = rss_kib(d.pid);
		printf("irisd_limits: wave %d of %d bad connections: irisd "
		    "RSS %ld KiB\n", round + 1, 3 * WAVE, rss[round]);
	}
	/* Flat: the last waves cost no more memory than the first did. */
	EXPECT(rss[3] <= rss[1] + rss[1] / 10 + 2048,
	    "memory grew: %ld -> %ld KiB", rss[1], rss[3]);

	/* The per-IP connection rate, then the connection cap. */
	kill(d.pid, SIGTERM);
	daemon_stop(&d, 0, 3 * T);
	wc_close(&good);
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nconn_rate 1\n"
	    "conn_burst 5\n");
	fclose(f);
	EXPECT(daemon_start(&d, args, 3 * T) == 0, "restart");
	EXPECT(refused_with(base, &d, 10, &retry) ==
	    iris_v1_ErrorCode_ERR_RATE_LIMITED, "no per-IP rate limit");
	EXPECT(retry > 0, "rate limit without retry-after");
	kill(d.pid, SIGTERM);
	daemon_stop(&d, 0, 3 * T);
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nmax_connections 3\n");
	fclose(f);
	EXPECT(daemon_start(&d, args, 3 * T) == 0, "restart");
	EXPECT(refused_with(base, &d, 6, &retry) ==
	    iris_v1_ErrorCode_ERR_TOO_MANY_CONNECTIONS, "no connection cap");
	EXPECT(retry > 0, "connection cap without retry-after");
	kill(d.pid, SIGTERM);
	EXPECT(daemon_stop(&d, 0, 3 * T) == 0, "exit");
	event_base_free(base);
	if (failures > 0) {
		fprintf(stderr, "irisd_limits: %d failures\n", failures);
		return 1;
	}
	printf("irisd_limits: %d bad connections in 4 waves, good client "
	    "unaffected, memory flat; rate and cap refusals: ok\n",
	    4 * 3 * WAVE);
	return 0;
}

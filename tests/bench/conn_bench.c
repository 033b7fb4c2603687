/* SPDX-License-Identifier: ISC */
/*
 * Connection costs of a real irisd (make bench-conn): memory per idle
 * authenticated TLS connection (irisd's RSS, and the kernel's share from
 * /proc/meminfo), and server CPU per login with full handshakes and
 * signatures, and with session tickets and tokens, with logins per second.
 * Every login is checked; any failure is a failed run, not a figure.
 *   conn_bench [-n idle_connections] [-m logins]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "iris.h"
#include "daemon.h"
#include "authclient.h"


static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* irisd's CPU time (user + system) in seconds. */
static double
cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL || fgets(buf, sizeof(buf), f) ==
	    NULL)
		return -1;
	fclose(f);
	p = strrchr(buf, ')');
	sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
kib_of(const char *file, const char *key, pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "%s", file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			sscanf(line + strlen(key), " %ld", &v);
			break;
		}
	fclose(f);
	return v;
}

/* Hello, then register (reg) or log in by signature or token. */
static int
session(struct ac_conn *c, struct event_base *base, const struct daemon *d,
    struct ac_dev *me, int reg, int token, const uint8_t *sess, size_t slen)
{
	if (ac_open(c, base, d->port, d->fp, sess, slen) != 0)
		return -1;
	if (reg)
		return ac_register(c, me, NULL, NULL, 0);
	return ac_login(c, me, token ? AC_TOKEN : AC_SIGN, NULL);
}

int
main(int argc, char *argv[])
{
	static const char *const args[] = { "-f", "iris.conf", NULL };
	struct event_base *base = event_base_new();
	struct daemon d;
	struct ac_dev me;
	struct ac_conn *w, one;
	uint8_t sess[4096];
	size_t slen = 0;
	long rss0, rss1, mem0, mem1;
	double kern;
	double c0, c1, t0, t1, full_ms, full_rate, tick_ms, tick_rate;
	int n = 2000, logins = 300, tickets, i, ch, resumed = 0;
	FILE *f;

	while ((ch = getopt(argc, argv, "n:m:")) != -1)
		if (ch == 'n')
			n = atoi(optarg);
		else if (ch == 'm')
			logins = atoi(optarg);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0 || n < 1 || logins < 1)
		return 2;
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nregistration open\n"
	    "unauth_timeout 10m\nconn_rate 1000000\nconn_burst 1000000\n"
	    "max_connections 19000\nlog_level notice\n");
	fclose(f);
	if (daemon_start(&d, args, 3 * AC_TIMEOUT) != 0) {
		fprintf(stderr, "conn_bench: no irisd:\n%s\n", d.log);
		return 1;
	}
	ac_dev_new(&me, "bench");
	if (session(&one, base, &d, &me, 1, 0, NULL, 0) != 0 ||
	    session(&one, base, &d, &me, 0, 0, NULL, 0) != 0 ||
	    iris__netconn_session_save(one.w.c, sess, sizeof(sess), &slen) !=
	    IRIS_OK) {
		fprintf(stderr, "conn_bench: FAILED: no registration\n");
		return 1;
	}
	wc_close(&one.w);

	/* Idle authenticated connections. */
	w = calloc((size_t)n, sizeof(*w));
	rss0 = kib_of(NULL, "VmRSS:", d.pid);
	mem0 = kib_of("/proc/meminfo", "Slab:", 0);
	for (i = 0; i < n; i++)
		if (session(&w[i], base, &d, &me, 0, 1, sess, slen) != 0) {
			fprintf(stderr, "conn_bench: FAILED: login %d\n", i);
			return 1;
		}
	rss1 = kib_of(NULL, "VmRSS:", d.pid);
	mem1 = kib_of("/proc/meminfo", "Slab:", 0);
	/* The kernel's socket state, both ends of each connection. */
	kern = (mem1 - mem0) * 1024.0 / n / 2;
	for (i = 0; i < n; i++)
		wc_close(&w[i].w);
	free(w);

	/* Reconnect storms: full handshakes + signatures, then tickets. */
	c0 = cpu_s(d.pid);
	t0 = now_s();
	for (i = 0; i < logins; i++) {
		if (session(&one, base, &d, &me, 0, 0, NULL, 0) != 0) {
			fprintf(stderr, "conn_bench: FAILED: full login\n");
			return 1;
		}
		wc_close(&one.w);
	}
	c1 = cpu_s(d.pid);
	t1 = now_s();
	full_ms = (c1 - c0) * 1000 / logins;
	full_rate = logins / (t1 - t0);
	/* Tickets are cheap: more of them, for the CPU clock's 10 ms tick. */
	tickets = 10 * logins;
	c0 = cpu_s(d.pid);
	t0 = now_s();
	for (i = 0; i < tickets; i++) {
		if (session(&one, base, &d, &me, 0, 1, sess, slen) != 0) {
			fprintf(stderr, "conn_bench: FAILED: ticket login\n");
			return 1;
		}
		resumed += iris__netconn_resumed(one.w.c);
		wc_close(&one.w);
	}
	c1 = cpu_s(d.pid);
	t1 = now_s();
	tick_ms = (c1 - c0) * 1000 / tickets;
	tick_rate = tickets / (t1 - t0);
	kill(d.pid, SIGTERM);
	daemon_stop(&d, 0, 3 * AC_TIMEOUT);
	if (resumed != tickets || rss1 <= rss0) {
		fprintf(stderr, "conn_bench: FAILED: %d of %d resumed\n",
		    resumed, tickets);
		return 1;
	}
	printf("%-44s %10s\n", "figure", "value");
	printf("%-44s %10.1f\n", "irisd bytes per idle authenticated TLS conn",
	    (rss1 - rss0) * 1024.0 / n);
	printf("%-44s %10.1f\n", "kernel slab bytes per socket",
	    kern);
	printf("%-44s %10.3f\n", "server CPU ms per full handshake + login",
	    full_ms);
	printf("%-44s %10.0f\n", "full logins/s (client on the same box)",
	    full_rate);
	printf("%-44s %10.3f\n", "server CPU ms per ticket resume + token",
	    tick_ms);
	printf("%-44s %10.0f\n", "ticket logins/s", tick_rate);
	printf("{\"workload\":\"idle_connections\",\"connections\":%d,"
	    "\"bytes_per_conn\":%.0f,\"kernel_bytes_per_socket\":%.0f}\n", n,
	    (rss1 - rss0) * 1024.0 / n, kern);
	printf("{\"workload\":\"reconnect_storm\",\"logins\":%d,"
	    "\"cpu_ms_per_login\":%.3f,\"logins_per_s\":%.0f,"
	    "\"ticket_logins\":%d,\"cpu_ms_per_ticket_login\":%.3f,"
	    "\"ticket_logins_per_s\":%.0f}\n", logins, full_ms, full_rate,
	    tickets, tick_ms, tick_rate);
	event_base_free(base);
	return 0;
}

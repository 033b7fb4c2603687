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
#include "wireclient.h"

#define T	10000

struct who {
	char		 user[16];
	uint32_t	 id;
	unsigned char	 pk[32], sk[64];
	uint8_t		 token[256];
	size_t		 tlen;
};

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
session(struct wc *w, struct event_base *base, const struct daemon *d,
    struct who *me, int reg, int token, const uint8_t *sess, size_t slen)
{
	struct iris_wire_msg m, *r;
	uint8_t ch[32], sid[16], msg[256];
	size_t n, ulen = strlen(me->user);

	if (wc_connect(w, base, d->port, d->fp, sess, slen, T) != 0)
		return -1;
	wc_hello(&m, 1, 1);
	wc_send(w, &m);
	if ((r = wc_next(w, T)) == NULL ||
	    r->f.which_body != iris_v1_Frame_server_hello_tag)
		return -1;
	memcpy(ch, r->f.body.server_hello.challenge, 32);
	memcpy(sid, r->f.body.server_hello.server_id, 16);
	iris__wire_msg_init(&m);
	m.f.request_id = 2;
	n = strlen(reg ? "IRIS-REGISTER-v1" : "IRIS-LOGIN-v1");
	memcpy(msg, reg ? "IRIS-REGISTER-v1" : "IRIS-LOGIN-v1", n);
	memcpy(msg + n, sid, 16);
	memcpy(msg + n + 16, ch, 32);
	memcpy(msg + n + 48, iris__netconn_binding(w->c), 32);
	n += 80;
	msg[n++] = (uint8_t)ulen;
	memcpy(msg + n, me->user, ulen);
	n += ulen;
	if (reg) {
		m.f.which_body = iris_v1_Frame_register_device_tag;
		m.f.body.register_device.user.size = (pb_size_t)ulen;
		memcpy(m.f.body.register_device.user.bytes, me->user, ulen);
		memcpy(m.f.body.register_device.identity_key, me->pk, 32);
		memcpy(msg + n, me->pk, 32);
		crypto_sign_detached(m.f.body.register_device.signature, NULL,
		    msg, n + 32, me->sk);
	} else {
		m.f.which_body = iris_v1_Frame_login_tag;
		m.f.body.login.user.size = (pb_size_t)ulen;
		memcpy(m.f.body.login.user.bytes, me->user, ulen);
		m.f.body.login.device_id = me->id;
		if (token) {
			m.f.body.login.resume_token.size = (pb_size_t)me->tlen;
			memcpy(m.f.body.login.resume_token.bytes, me->token,
			    me->tlen);
		} else {
			msg[n++] = (uint8_t)(me->id >> 24);
			msg[n++] = (uint8_t)(me->id >> 16);
			msg[n++] = (uint8_t)(me->id >> 8);
			msg[n++] = (uint8_t)me->id;
			crypto_sign_detached(m.f.body.login.signature, NULL,
			    msg, n, me->sk);
		}
	}
	wc_send(w, &m);
	if ((r = wc_next(w, T)) == NULL)
		return -1;
	if (reg && r->f.which_body == iris_v1_Frame_registered_tag) {
		me->id = r->f.body.registered.device_id;
		return 0;
	}
	if (!reg && r->f.which_body == iris_v1_Frame_logged_in_tag) {
		me->tlen = r->f.body.logged_in.session_token.size;
		memcpy(me->token, r->f.body.logged_in.session_token.bytes,
		    me->tlen);
		return 0;
	}
	return -1;
}

int
main(int argc, char *argv[])
{
	static const char *const args[] = { "-f", "iris.conf", NULL };
	struct event_base *base = event_base_new();
	struct daemon d;
	struct who me;
	struct wc *w, one;
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
	if (daemon_start(&d, args, 3 * T) != 0) {
		fprintf(stderr, "conn_bench: no irisd:\n%s\n", d.log);
		return 1;
	}
	memset(&me, 0, sizeof(me));
	strcpy(me.user, "bench");
	crypto_sign_keypair(me.pk, me.sk);
	if (session(&one, base, &d, &me, 1, 0, NULL, 0) != 0 ||
	    session(&one, base, &d, &me, 0, 0, NULL, 0) != 0 ||
	    iris__netconn_session_save(one.c, sess, sizeof(sess), &slen) !=
	    IRIS_OK) {
		fprintf(stderr, "conn_bench: FAILED: no registration\n");
		return 1;
	}
	wc_close(&one);

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
		wc_close(&w[i]);
	free(w);

	/* Reconnect storms: full handshakes + signatures, then tickets. */
	c0 = cpu_s(d.pid);
	t0 = now_s();
	for (i = 0; i < logins; i++) {
		if (session(&one, base, &d, &me, 0, 0, NULL, 0) != 0) {
			fprintf(stderr, "conn_bench: FAILED: full login\n");
			return 1;
		}
		wc_close(&one);
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
		resumed += iris__netconn_resumed(one.c);
		wc_close(&one);
	}
	c1 = cpu_s(d.pid);
	t1 = now_s();
	tick_ms = (c1 - c0) * 1000 / tickets;
	tick_rate = tickets / (t1 - t0);
	kill(d.pid, SIGTERM);
	daemon_stop(&d, 0, 3 * T);
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

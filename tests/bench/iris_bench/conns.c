/* SPDX-License-Identifier: ISC */
/*
 * The connection workloads of iris-bench:
 *   idle       authenticated idle TLS connections (ticket + token logins)
 *              up to a limit: bytes per connection from irisd's RSS delta,
 *              and the kernel's share (slab caches and TCP buffers) apart;
 *   reconnect  server CPU per login and logins/s, full handshakes with
 *              signature logins, then session tickets with tokens.
 * Every login is checked; a failed one fails the workload.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "iris.h"
#include "procstat.h"
#include "ib.h"

/* A user with a saved TLS session and a token, to log in again. */
struct cred {
	struct ac_dev	 me;
	uint8_t		 sess[4096];
	size_t		 slen;
};

/* Hello, then a signature (token 0) or a token login. */
static int
session(struct ac_conn *c, struct event_base *base, const struct ib_server *s,
    struct ac_dev *me, int token, const uint8_t *sess, size_t slen)
{
	if (ac_open(c, base, s->d.port, s->d.fp, sess, slen) != 0)
		return -1;
	return ac_login(c, me, token ? AC_TOKEN : AC_SIGN, NULL);
}

static int
cred_new(struct cred *cr, struct event_base *base, const struct ib_server *s)
{
	struct ac_conn c;
	int rc;

	ac_dev_new(&cr->me, "bench");
	if (ac_open(&c, base, s->d.port, s->d.fp, NULL, 0) != 0)
		return -1;
	rc = ac_register(&c, &cr->me, NULL, NULL, 0);
	wc_close(&c.w);
	if (rc != 0 || session(&c, base, s, &cr->me, 0, NULL, 0) != 0 ||
	    iris__netconn_session_save(c.w.c, cr->sess, sizeof(cr->sess),
	    &cr->slen) != IRIS_OK)
		return -1;
	wc_close(&c.w);
	return 0;
}

int
ib_idle(const struct ib_opts *o, struct ib_server *s)
{
	struct event_base *base = event_base_new();
	struct rlimit rl;
	struct ac_conn *w;
	struct cred cr;
	long rss0, rss1;
	double k0, k1, per, kern;
	int n = o->idle_conns, i, rc = -1;

	/* Both ends are in this process's and irisd's files: keep room. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	    && (rlim_t)n + 64 > rl.rlim_cur)
		n = (int)rl.rlim_cur - 64;
	if (cred_new(&cr, base, s) != 0 || (w = calloc((size_t)n,
	    sizeof(*w))) == NULL) {
		fprintf(stderr, "iris-bench: idle FAILED: no login\n");
		return -1;
	}
	rss0 = ps_kib(NULL, "VmRSS:", s->d.pid);
	k0 = ps_kernel_sock_bytes();
	for (i = 0; i < n; i++)
		if (session(&w[i], base, s, &cr.me, 1, cr.sess, cr.slen) != 0) {
			fprintf(stderr, "iris-bench: idle FAILED: login %d of "
			    "%d\n", i, n);
			goto out;
		}
	/* They are held: a ping on each, answered, proves it. */
	for (i = 0; i < n; i++) {
		struct iris_wire_msg m;

		wc_ping(&m, 9, "idle");
		if (ac_ask(&w[i], &m, NULL) != 0) {
			fprintf(stderr, "iris-bench: idle FAILED: connection "
			    "%d dropped\n", i);
			goto out;
		}
	}
	rss1 = ps_kib(NULL, "VmRSS:", s->d.pid);
	k1 = ps_kernel_sock_bytes();
	if (rss0 < 0 || rss1 <= rss0) {
		fprintf(stderr, "iris-bench: idle FAILED: no RSS figure\n");
		goto out;
	}
	per = (double)(rss1 - rss0) * 1024.0 / n;
	/* Both ends of each connection are on this machine: half is irisd's. */
	kern = k0 >= 0 && k1 >= 0 ? (k1 - k0) / n / 2 : -1;
	ib_row("idle", "idle TLS conns held (authenticated)", "%d", n);
	ib_row("idle", "irisd bytes per conn (RSS delta)", "%.0f", per);
	ib_row("idle", "kernel bytes per conn (slab + TCP buffers)", "%.0f",
	    kern);
	ib_row("idle", "bytes per conn, kernel included", "%.0f", per +
	    (kern > 0 ? kern : 0));
	ib_json("{\"workload\":\"idle\",\"connections\":%d,\"bytes_per_conn\":"
	    "%.0f,\"kernel_bytes_per_conn\":%.0f,\"total_bytes_per_conn\":%.0f,"
	    "\"file_limit\":%llu", n, per, kern, per + (kern > 0 ? kern : 0),
	    (unsigned long long)rl.rlim_cur);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		if (w[i].w.c != NULL)
			wc_close(&w[i].w);
	free(w);
	event_base_free(base);
	return rc;
}

/* n logins one after another; CPU ms of irisd per login, logins/s. */
static int
storm(struct event_base *base, const struct ib_server *s, struct cred *cr,
    int token, int n, double *cpu_ms, double *rate)
{
	struct ac_conn c;
	double c0 = ib_server_cpu(s);
	uint64_t t0 = bu_now_ns();
	int i, resumed = 0;

	for (i = 0; i < n; i++) {
		if (session(&c, base, s, &cr->me, token, token ? cr->sess :
		    NULL, token ? cr->slen : 0) != 0) {
			fprintf(stderr, "iris-bench: reconnect FAILED: login "
			    "%d\n", i);
			return -1;
		}
		resumed += iris__netconn_resumed(c.w.c);
		wc_close(&c.w);
	}
	*cpu_ms = (ib_server_cpu(s) - c0) * 1000 / n;
	*rate = n / ((double)(bu_now_ns() - t0) / 1e9);
	if (token && resumed != n) {
		fprintf(stderr, "iris-bench: reconnect FAILED: %d of %d "
		    "tickets resumed\n", resumed, n);
		return -1;
	}
	if (!token && resumed != 0) {
		fprintf(stderr, "iris-bench: reconnect FAILED: a full "
		    "handshake resumed\n");
		return -1;
	}
	return 0;
}

int
ib_reconnect(const struct ib_opts *o, struct ib_server *s)
{
	struct event_base *base = event_base_new();
	struct cred cr;
	double full_ms, full_rate, tick_ms, tick_rate;
	int tickets = o->tickets;

	if (cred_new(&cr, base, s) != 0 ||
	    storm(base, s, &cr, 0, o->logins, &full_ms, &full_rate) != 0 ||
	    storm(base, s, &cr, 1, tickets, &tick_ms, &tick_rate) != 0) {
		event_base_free(base);
		return -1;
	}
	ib_row("reconnect", "server CPU ms per full handshake + login",
	    "%.3f", full_ms);
	ib_row("reconnect", "full logins/s (client on the same box)", "%.0f",
	    full_rate);
	ib_row("reconnect", "server CPU ms per ticket resume + token",
	    "%.3f", tick_ms);
	ib_row("reconnect", "ticket logins/s", "%.0f", tick_rate);
	ib_json("{\"workload\":\"reconnect\",\"cpu_ms_per_login\":%.3f,"
	    "\"logins_per_s\":%.0f,\"logins\":%d,"
	    "\"cpu_ms_per_ticket_login\":%.3f,\"ticket_logins_per_s\":%.0f,"
	    "\"ticket_logins\":%d", full_ms, full_rate, o->logins, tick_ms,
	    tick_rate, tickets);
	event_base_free(base);
	return 0;
}

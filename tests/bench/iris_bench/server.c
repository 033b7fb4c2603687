/* SPDX-License-Identifier: ISC */
/*
 * The irisd under test: a fresh data directory, limits raised for load
 * (printed with the figures), /metrics on a local port; and the output of
 * iris-bench, a table row per figure and a JSON line per workload.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"
#include "scrape.h"
#include "ib.h"

/* Raised for load; the rest are irisd's defaults. */
static const char limits[] =
    "registration open\nsend_rate 1000000\nsend_burst 1000000\n"
    "conn_rate 1000000\nconn_burst 1000000\nmax_connections 19500\n"
    "max_inflight 65536\npush_window 4096\nmax_sync_page 4096\n"
    "inbox_cap 1000000\noutput_cap 256M\nunauth_timeout 10m\n"
    "idle_timeout 1h\nstore_queue 1000000\nlog_level notice\n";

static char settings[1024];
static int not_durable;		/* the current irisd: durability none */

int
ib_server_start(struct ib_server *s, const struct ib_opts *o,
    const char *extra)
{
	const char *args[] = { "-f", NULL, NULL };
	char path[4200], page[65536];
	const char *p;
	double v;
	FILE *f;

	memset(s, 0, sizeof(*s));
	if ((s->dir = bu_mkdtemp(".", "irisd")) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/iris.conf", s->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "data_dir %s/data\nlisten 127.0.0.1:0\n"
	    "metrics_listen 127.0.0.1:0\n%s%s%s", s->dir, limits,
	    o->nodurable ? "durability none\n"
	    "durability_none_i_understand yes\n" : "",
	    extra != NULL ? extra : "");
	fclose(f);
	args[1] = path;
	if (daemon_start(&s->d, args, 30000) != 0) {
		fprintf(stderr, "iris-bench: irisd did not start:\n%s\n",
		    s->d.log);
		return -1;
	}
	pthread_mutex_lock(&s->d.mu);
	p = strstr(s->d.log, "metrics on http://127.0.0.1:");
	if (p != NULL)
		s->metrics_port = atoi(p + strlen("metrics on http://"
		    "127.0.0.1:"));
	pthread_mutex_unlock(&s->d.mu);
	printf("irisd: pid %d, port %d, metrics port %d, in %s\n",
	    (int)s->d.pid, s->d.port, s->metrics_port, s->dir);
	fflush(stdout);
	s->durable = -1;
	if (s->metrics_port > 0 && scrape_get(s->metrics_port, "/metrics",
	    page, sizeof(page)) == 200 && (v = scrape_value(page,
	    "iris_store_durable")) >= 0)
		s->durable = (int)v;
	not_durable = s->durable == 0;
	snprintf(settings, sizeof(settings), "\"durability\":\"%s\","
	    "\"limits\":\"%s\",\"seed\":%llu,\"scale\":\"%s\"",
	    s->durable == 1 ? "full (fsync before ack)" : s->durable == 0 ?
	    "none (NOT durable: acked before fsync)" : "unknown",
	    "send_rate=1000000 send_burst=1000000 conn_rate=1000000 "
	    "max_inflight=65536 push_window=4096 max_sync_page=4096 "
	    "inbox_cap=1000000 receipts=off", (unsigned long long)o->seed,
	    o->smoke ? "smoke" : o->full ? "full" : "short");
	return 0;
}

void
ib_server_stop(struct ib_server *s)
{
	if (s->d.pid > 0)
		daemon_stop(&s->d, SIGTERM, 30000);
	if (s->dir != NULL) {
		char cmd[4300];

		/* The data dir has subdirectories: not a flat rm. */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "iris-bench: %s left behind\n",
			    s->dir);
		free(s->dir);
	}
	memset(s, 0, sizeof(*s));
}

int
ib_server_commits(const struct ib_server *s, double *appends,
    double *commits)
{
	static char page[262144];

	*appends = *commits = -1;
	if (s->metrics_port <= 0 || scrape_get(s->metrics_port, "/metrics",
	    page, sizeof(page)) != 200)
		return -1;
	*appends = scrape_value(page, "iris_store_appends_total");
	*commits = scrape_value(page, "iris_store_commits_total");
	return *appends >= 0 && *commits >= 0 ? 0 : -1;
}

int
ib_server_hist(const struct ib_server *s, const char *name,
    struct ib_hist *h)
{
	static char page[262144];
	char key[128];
	const char *p;
	size_t n;

	memset(h, 0, sizeof(*h));
	if (s->metrics_port <= 0 || scrape_get(s->metrics_port, "/metrics",
	    page, sizeof(page)) != 200)
		return -1;
	n = (size_t)snprintf(key, sizeof(key), "\n%s_bucket{le=\"", name);
	for (p = page; (p = strstr(p, key)) != NULL && h->nb < IB_HBUCKETS;
	    p += n) {
		if (strncmp(p + n, "+Inf\"} ", 7) == 0) {
			h->le[h->nb] = 1e300;
			if (sscanf(p + n + 7, "%lf", &h->n[h->nb]) != 1)
				return -1;
		} else if (sscanf(p + n, "%lf\"} %lf", &h->le[h->nb],
		    &h->n[h->nb]) != 2)
			return -1;
		h->nb++;
	}
	return h->nb > 0 ? h->nb : -1;
}

double
ib_hist_quantile(const struct ib_hist *a, const struct ib_hist *b, double q)
{
	double total;
	int i;

	if (a->nb != b->nb || b->nb == 0 ||
	    (total = b->n[b->nb - 1] - a->n[a->nb - 1]) <= 0)
		return -1;
	for (i = 0; i < b->nb; i++)
		if (b->n[i] - a->n[i] >= q * total)
			return b->le[i] * 1e3;
	return -1;
}

double
ib_server_cpu(const struct ib_server *s)
{
	return ps_cpu_s(s->d.pid);
}

void
ib_row(const char *workload, const char *figure, const char *fmt, ...)
{
	char v[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	printf("| %-10s | %s%-*s | %20s |\n", workload, not_durable ?
	    "NOT DURABLE: " : "", not_durable ? 31 : 44, figure, v);
}

void
ib_json(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fprintf(stdout, ",%s}\n", settings);
	fflush(stdout);
}

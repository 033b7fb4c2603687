/* SPDX-License-Identifier: ISC */
/*
 * Observability over HTTP (libevent's evhttp) on metrics_listen, off by
 * default: /metrics in the Prometheus text format (every engine and store
 * counter, sends refused by cause, histograms of store commits, of send to
 * durable ack and of send to delivery, gauges such as the inbox depth and
 * the oldest unacked message's age), /healthz (503 while the store is
 * read-only) and /readyz (503 while stopping).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "iris.h"
#include "core/core.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/alloc.h"

struct iris_metrics {
	struct evhttp		*http;
	uint64_t		 scrapes;
};

static void
reply(struct evhttp_request *req, int code, const char *reason,
    struct evbuffer *body, const char *type)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, code, reason, body);
}

static void
counter(struct evbuffer *b, const char *name, const char *help,
    const char *type, uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name,
	    help, name, type, name, (unsigned long long)v);
}

/* The store's commit latency as a Prometheus histogram (seconds). */
static void
latency(struct evbuffer *b, struct iris_store *store)
{
	static const char name[] = "iris_store_commit_seconds";
	struct iris_worker_stats st;
	uint64_t cum = 0;
	size_t i;

	iris__store_worker_stats(store, &st);
	evbuffer_add_printf(b, "# HELP %s time to commit and fsync a batch\n"
	    "# TYPE %s histogram\n", name, name);
	for (i = 0; i < IRIS_LAT_BUCKETS; i++) {
		cum += st.lat[i];
		if (i < IRIS_LAT_BUCKETS - 1)
			evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n",
			    name, (double)iris__lat_bounds_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
			    name, (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)st.lat_sum_us / 1e6, name, (unsigned long long)cum);
}

/* A latency histogram of the edge (µs buckets) in seconds. */
static void
histogram(struct evbuffer *b, const char *name, const char *help,
    const struct iris_histo *h)
{
	uint64_t cum = 0;
	size_t i;

	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name,
	    help, name);
	for (i = 0; i < IRIS_HISTO_BUCKETS; i++) {
		cum += h->n[i];
		if (i < IRIS_HISTO_BUCKETS - 1)
			evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n",
			    name, (double)iris__histo_bounds_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
			    name, (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)h->sum_us / 1e6, name, (unsigned long long)h->count);
}

/* Sends refused, by the code they got, at the edge and in the core. */
static void
refusals(struct evbuffer *b, struct iris_engine *eng)
{
	const struct iris_core_stats *cs = iris__core_stats(eng->core);
	uint64_t n;
	size_t i;

	evbuffer_add_printf(b, "# HELP iris_sends_refused_total sends "
	    "refused, by cause\n# TYPE iris_sends_refused_total counter\n");
	for (i = 1; i < IRIS_WIRE_ERRS; i++) {
		n = eng->refused[i] + (i < IRIS_CORE_CODES ? cs->refused[i] :
		    0);
		if (n > 0)
			evbuffer_add_printf(b, "iris_sends_refused_total{cause="
			    "\"%s\"} %llu\n", iris__wire_errname((int)i),
			    (unsigned long long)n);
	}
}

static int
engine_gauge(size_t i)
{
	return i == ST_CONNECTIONS || i == ST_INBOX_DEPTH ||
	    i == ST_OLDEST_UNACKED_MS || i == ST_OVERLOAD;
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
	struct iris_engine *eng = arg;
	struct evbuffer *b = evbuffer_new();
	const char *name;
	char metric[96];
	uint64_t v;
	size_t i;

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	eng->metrics->scrapes++;
	for (i = 0; (name = iris_engine_stat_name(i)) != NULL; i++) {
		if (iris_engine_stat(eng, name, &v) != IRIS_OK)
			continue;
		snprintf(metric, sizeof(metric), "iris_%s%s", name,
		    engine_gauge(i) ? "" : "_total");
		counter(b, metric, "engine counter (iris_engine_stat(3))",
		    engine_gauge(i) ? "gauge" : "counter", v);
	}
	for (i = 0; (name = iris_store_stat_name(i)) != NULL; i++) {
		int gauge = strcmp(name, "queued") == 0 ||
		    strcmp(name, "read_only") == 0 ||
		    strcmp(name, "max_batch") == 0 ||
		    strcmp(name, "depth") == 0 ||
		    strcmp(name, "durable") == 0;

		if (iris_store_stat(eng->store, name, &v) != IRIS_OK)
			continue;
		snprintf(metric, sizeof(metric), "iris_store_%s%s", name,
		    gauge ? "" : "_total");
		counter(b, metric, "store counter (iris_store_stat(3))",
		    gauge ? "gauge" : "counter", v);
	}
	/* Errors sent by code: refusals, auth failures by cause, limits. */
	evbuffer_add_printf(b, "# HELP iris_errors_total error frames sent, "
	    "by code\n# TYPE iris_errors_total counter\n");
	for (i = 1; i < IRIS_WIRE_ERRS; i++)
		if (eng->errs[i] > 0)
			evbuffer_add_printf(b, "iris_errors_total{code=\"%s\"} "
			    "%llu\n", iris__wire_errname((int)i),
			    (unsigned long long)eng->errs[i]);
	latency(b, eng->store);
	refusals(b, eng);
	histogram(b, "iris_send_ack_seconds", "from a send's arrival to its "
	    "durable SendAck", &eng->ack_lat);
	histogram(b, "iris_send_delivery_seconds", "from a send's arrival to "
	    "its Deliver pushed to a recipient device", &eng->deliver_lat);
	counter(b, "iris_inbound_buffered_bytes",
	    "bytes held by connections' frame buffers", "gauge", eng->inbound);
	counter(b, "iris_metrics_scrapes_total", "scrapes of this endpoint",
	    "counter", eng->metrics->scrapes);
	reply(req, 200, "OK", b, "text/plain; version=0.0.4");
	evbuffer_free(b);
}

static void
on_health(struct evhttp_request *req, void *arg)
{
	struct iris_engine *eng = arg;
	struct evbuffer *b = evbuffer_new();
	uint64_t ro = 0;

	iris_store_stat(eng->store, "read_only", &ro);
	evbuffer_add_printf(b, "%s\n", ro ? "store read-only" : "ok");
	reply(req, ro ? 503 : 200, ro ? "Service Unavailable" : "OK", b,
	    "text/plain");
	evbuffer_free(b);
}

static void
on_ready(struct evhttp_request *req, void *arg)
{
	struct iris_engine *eng = arg;
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "%s\n", eng->stopping ? "stopping" : "ready");
	reply(req, eng->stopping ? 503 : 200, eng->stopping ?
	    "Service Unavailable" : "OK", b, "text/plain");
	evbuffer_free(b);
}

int
iris__metrics_start(struct iris_engine *eng)
{
	const char *addr = iris__config_str(eng->cfg, IRIS__OPT_METRICS_LISTEN);
	char host[128];
	const char *colon;
	struct evhttp_bound_socket *bs;
	struct iris_metrics *m;
	long port;

	if (*addr == '\0')
		return IRIS_OK;
	if ((colon = strrchr(addr, ':')) == NULL ||
	    (size_t)(colon - addr) >= sizeof(host))
		return IRIS_ECONFIG;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if ((m = iris__calloc(1, sizeof(*m))) == NULL)
		return IRIS_ENOMEM;
	if ((m->http = evhttp_new(eng->base)) == NULL) {
		iris__free(m);
		return IRIS_ENOMEM;
	}
	eng->metrics = m;
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_cb(m->http, "/metrics", on_metrics, eng);
	evhttp_set_cb(m->http, "/healthz", on_health, eng);
	evhttp_set_cb(m->http, "/readyz", on_ready, eng);
	if ((bs = evhttp_bind_socket_with_handle(m->http,
	    host[0] == '[' ? host + 1 : host, (uint16_t)port)) == NULL) {
		snprintf(eng->err, sizeof(eng->err), "metrics_listen %.200s: "
		    "cannot bind", addr);
		iris__log(&eng->log, IRIS_LOG_ERR, "%s", eng->err);
		iris__metrics_stop(eng);
		return IRIS_EIO;
	}
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(evhttp_bound_socket_get_fd(bs),
		    (struct sockaddr *)&ss, &len) == 0)
			eng->metrics_port = ntohs(((struct sockaddr_in *)&ss)->
			    sin_port);
	}
	iris__log(&eng->log, IRIS_LOG_NOTICE, "metrics on http://%s:%d/metrics",
	    host, eng->metrics_port);
	return IRIS_OK;
}

void
iris__metrics_stop(struct iris_engine *eng)
{
	if (eng->metrics == NULL)
		return;
	if (eng->metrics->http != NULL)
		evhttp_free(eng->metrics->http);
	iris__free(eng->metrics);
	eng->metrics = NULL;
}

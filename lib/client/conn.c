/* SPDX-License-Identifier: ISC */
/*
 * The client's connection: name resolution without blocking (libevent's
 * evdns on the embedder's loop, numeric addresses directly, the addresses
 * of a name tried in turn), TLS with the pinned key or a CA, framing
 * under the server's limits (frames.c decodes and routes), and
 * reconnection with doubling, jittered delays (longer when the server
 * asks for it) until the embedder disconnects or a failure that retrying
 * cannot fix.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "net/conn.h"
#include "util/alloc.h"

#define PRE_LOGIN_FRAME		65536

static void	attempt(struct iris_client *c);
static int	conn_setup(struct iris_client *c);

unsigned
iris__backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms,
    uint32_t rnd)
{
	uint64_t base = min_ms;

	/* Doubling from min up to max; half of it fixed, half random. */
	while (attempt-- > 0 && base < max_ms)
		base *= 2;
	if (base > max_ms)
		base = max_ms;
	return (unsigned)(base / 2 + rnd % (base - base / 2 + 1));
}

static void
on_data(struct iris_netconn *nc, const uint8_t *p, size_t n, void *arg)
{
	struct iris_client *c = arg;
	const uint8_t *frame;
	size_t used, flen;
	int rc;

	(void)nc;
	while (n > 0 && c->nc != NULL) {
		if ((rc = iris__framer_feed(&c->fr, p, n, &used, &frame,
		    &flen)) != IRIS_OK) {
			iris__conn_drop(c, IRIS_EPROTO, "the server sent a "
			    "frame over the limits");
			return;
		}
		p += used;
		n -= used;
		if (frame == NULL)
			break;
		iris__conn_frame(c, frame, flen);
	}
}

static void
on_open(struct iris_netconn *nc, void *arg)
{
	struct iris_client *c = arg;
	struct iris_wire_msg m;

	(void)nc;
	c->st = C_HELLO;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_client_hello_tag;
	m.f.body.client_hello.versions_count = 1;
	m.f.body.client_hello.versions[0] = IRIS_PROTOCOL_VERSION;
	snprintf(m.f.body.client_hello.client_name,
	    sizeof(m.f.body.client_hello.client_name), "libiris %s",
	    IRIS_VERSION_STRING);
	if (iris__conn_req(c, RQ_HELLO, &m) == NULL ||
	    iris__conn_send(c, &m) != IRIS_OK)
		iris__conn_drop(c, IRIS_ENOMEM, "cannot say hello");
}

static void
schedule(struct iris_client *c)
{
	unsigned ms;
	struct timeval tv;

	ms = iris__backoff_ms(c->attempt, c->cfg.backoff_min_ms,
	    c->cfg.backoff_max_ms, randombytes_random());
	if (c->retry_after_ms > ms)
		ms = c->retry_after_ms;
	c->retry_after_ms = 0;
	if (c->attempt < 32)
		c->attempt++;
	c->st = C_WAIT;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->ev_retry, &tv);
	iris__log(&c->log, IRIS_LOG_INFO, "client %s: reconnecting in %u ms",
	    c->user, ms);
}

/* The connection is gone: everything tied to it goes, then maybe retry. */
static void
closed(struct iris_client *c, int err)
{
	if (c->nc != NULL) {
		iris__netconn_free(c->nc);
		c->nc = NULL;
	}
	iris__framer_free(&c->fr);
	evtimer_del(c->ev_ping);
	c->ping_out = 0;
	c->challenge_fresh = 0;
	iris__conn_fail_requests(c);
	iris__outbox_offline(c);
	iris__recv_offline(c);
	if (c->last_err != IRIS_OK)
		err = c->last_err;
	c->last_err = IRIS_OK;
	if (c->stop_err != IRIS_OK) {
		c->want = 0;
		err = c->stop_err;
	}
	c->st = C_IDLE;
	if (c->want && !iris__client_tearing(c))
		schedule(c);
	iris__conn_set_pubstate(c, IRIS_CLIENT_OFFLINE, err);
}

static void	connect_to(struct iris_client *c, size_t i);

static void
on_close(struct iris_netconn *nc, int err, void *arg)
{
	struct iris_client *c = arg;

	/* Not through TCP and TLS: the name's next address, if any. */
	if (c->st == C_CONNECTING && c->addr_i + 1 < c->naddrs && c->want) {
		iris__netconn_free(c->nc);
		c->nc = NULL;
		iris__framer_free(&c->fr);
		connect_to(c, c->addr_i + 1);
		return;
	}
	if (err == IRIS_ETLS)
		iris__client_seterr(c, "TLS: %s", iris__netconn_error(nc));
	else if (err != IRIS_OK && c->last_err == IRIS_OK)
		iris__client_seterr(c, "connection: %s",
		    iris__netconn_error(nc));
	iris__log(&c->log, IRIS_LOG_INFO, "client %s: disconnected: %s",
	    c->user, err != IRIS_OK ? c->err : "closed by the server");
	closed(c, err != IRIS_OK ? err : IRIS_ECLOSED);
}

static const struct iris_netconn_cbs conn_cbs = {
	on_open, on_data, on_close,
};

static void
adopted_open(struct iris_netconn *nc, void *arg)
{
	(void)nc, (void)arg;
}

static const struct iris_netconn_cbs adopt_cbs = {
	adopted_open, on_data, on_close,
};

/*
 * Tests: a plaintext connection over fd taken as logged in already, with
 * the protocol's default limits, so that a test speaking for the server
 * drives the outbox and the receive pipeline frame by frame. Nothing is
 * sent by itself (no hello, sync or list fetch).
 */
int
iris__conn_adopt(struct iris_client *c, int fd)
{
	int rc;

	if ((rc = conn_setup(c)) != IRIS_OK)
		return rc;
	if ((rc = iris__netconn_new(&c->nc, c->base, fd, NULL, &adopt_cbs,
	    c)) != IRIS_OK)
		return rc;
	iris__wire_limits_default(&c->lim);
	iris__framer_init(&c->fr, iris__wire_max_frame(&c->lim));
	c->srv_max_envelope = c->lim.max_envelope;
	c->srv_max_envelopes = c->lim.max_envelopes;
	c->ob_have_bucket = 0;
	c->want = 0;
	c->st = C_ONLINE;
	return IRIS_OK;
}

static void
connect_to(struct iris_client *c, size_t i)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[i];
	socklen_t len = c->addrlens[i];
	int rc;

	c->addr_i = i;
	c->st = C_CONNECTING;
	iris__framer_init(&c->fr, PRE_LOGIN_FRAME);
	iris__wire_limits_max(&c->lim);
	if ((rc = iris__netconn_connect(&c->nc, c->base, sa, len, c->tls,
	    c->cfg.have_pin ? NULL : c->host, &conn_cbs, c)) != IRIS_OK) {
		iris__client_seterr(c, "connecting to %s: %s", c->cfg.server,
		    iris_strerror(rc));
		closed(c, rc);
		return;
	}
	/* Offer the last session: the handshake resumes from its ticket. */
	if (c->tls_slen > 0)
		(void)iris__netconn_session_offer(c->nc, c->tls_sess,
		    c->tls_slen);
}

static void
take_addrs(struct iris_client *c, const struct evutil_addrinfo *ai)
{
	for (c->naddrs = 0; ai != NULL && c->naddrs < IRIS_CLIENT_ADDRS;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->addrs[0]))
			continue;
		memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
		c->addrlens[c->naddrs++] = (socklen_t)ai->ai_addrlen;
	}
}

static void
resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct iris_client *c = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* stopping: nothing else to do */
	c->dnsreq = NULL;
	if (result == 0)
		take_addrs(c, ai);
	if (result != 0 || c->naddrs == 0) {
		iris__client_seterr(c, "resolving %s: %s", c->host,
		    evutil_gai_strerror(result));
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		closed(c, IRIS_ENOTFOUND);
		return;
	}
	evutil_freeaddrinfo(ai);
	connect_to(c, 0);
}

static void
attempt(struct iris_client *c)
{
	struct evutil_addrinfo hints, *ai = NULL;
	char port[8];

	iris__conn_set_pubstate(c, IRIS_CLIENT_CONNECTING, IRIS_OK);
	snprintf(port, sizeof(port), "%d", c->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(c->host, port, &hints, &ai) == 0) {
		take_addrs(c, ai);
		if (c->naddrs == 0) {
			evutil_freeaddrinfo(ai);
			iris__client_seterr(c, "no usable address for %s",
			    c->host);
			closed(c, IRIS_ENOTFOUND);
			return;
		}
		evutil_freeaddrinfo(ai);
		connect_to(c, 0);
		return;
	}
	/* A name: asked on the loop, never with a blocking call. */
	if (c->dns == NULL && (c->dns = evdns_base_new(c->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		iris__client_seterr(c, "no resolver for %s", c->host);
		closed(c, IRIS_ENOTFOUND);
		return;
	}
	c->st = C_RESOLVING;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	c->dnsreq = evdns_getaddrinfo(c->dns, c->host, port, &hints,
	    resolved, c);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct iris_client *c = arg;

	(void)fd, (void)what;
	if (c->want && c->st == C_WAIT)
		attempt(c);
}

static int
conn_setup(struct iris_client *c)
{
	char err[300];
	int rc;

	if (c->ev_retry != NULL)
		return IRIS_OK;
	if (iris__client_split_hostport(c->cfg.server, c->host,
	    sizeof(c->host), &c->port) != IRIS_OK)
		return IRIS_EINVAL;
	if ((c->ev_retry = evtimer_new(c->base, on_retry, c)) == NULL ||
	    (c->ev_ping = evtimer_new(c->base, iris__conn_ping_timer, c)) == NULL)
		return IRIS_ENOMEM;
	if ((rc = iris__tls_client_new(&c->tls, c->cfg.have_pin ?
	    c->cfg.pin : NULL, c->cfg.have_pin ? NULL : c->cfg.ca_path,
	    &c->log, err, sizeof(err))) != IRIS_OK) {
		iris__client_seterr(c, "TLS: %s", err);
		return rc;
	}
	return IRIS_OK;
}

int
iris__conn_start(struct iris_client *c)
{
	int rc;

	if ((rc = conn_setup(c)) != IRIS_OK)
		return rc;
	c->want = 1;
	c->stop_err = IRIS_OK;
	if (c->st == C_IDLE || c->st == C_WAIT) {
		evtimer_del(c->ev_retry);
		c->attempt = 0;
		attempt(c);
	}
	return IRIS_OK;
}

void
iris__conn_drop(struct iris_client *c, int err, const char *why)
{
	if (c->nc == NULL)
		return;
	if (why != NULL && why != c->err)
		iris__client_seterr(c, "%s", why);
	if (c->last_err == IRIS_OK)
		c->last_err = err;
	iris__netconn_abort(c->nc, err);
}

void
iris__conn_fail(struct iris_client *c, int err)
{
	c->stop_err = err;
	c->want = 0;
	if (c->nc != NULL)
		iris__conn_drop(c, err, NULL);
	else if (c->st != C_IDLE)
		closed(c, err);
}

/* Stops at once: no reconnect, nothing more reported for the link. */
void
iris__conn_stop(struct iris_client *c)
{
	c->want = 0;
	if (c->dnsreq != NULL) {
		struct evdns_getaddrinfo_request *q = c->dnsreq;

		c->dnsreq = NULL;
		evdns_getaddrinfo_cancel(q);
	}
	if (c->nc != NULL) {
		iris__netconn_free(c->nc);
		c->nc = NULL;
	}
	iris__framer_free(&c->fr);
	iris__conn_fail_requests(c);
	if (!iris__client_tearing(c)) {
		iris__outbox_offline(c);
		iris__recv_offline(c);
		iris__conn_set_pubstate(c, IRIS_CLIENT_OFFLINE, IRIS_OK);
	}
	c->st = C_IDLE;
	if (iris__client_tearing(c)) {
		if (c->ev_retry != NULL)
			event_free(c->ev_retry);
		if (c->ev_ping != NULL)
			event_free(c->ev_ping);
		c->ev_retry = c->ev_ping = NULL;
		if (c->dns != NULL)
			evdns_base_free(c->dns, 0);
		c->dns = NULL;
		iris__tls_ctx_free(c->tls);
		c->tls = NULL;
	} else if (c->ev_retry != NULL) {
		evtimer_del(c->ev_retry);
		evtimer_del(c->ev_ping);
	}
}

/* Logged in: the rest of the client may talk. */
void
iris__conn_online(struct iris_client *c)
{
	size_t len;

	c->st = C_ONLINE;
	c->attempt = 0;
	if (iris__netconn_session_save(c->nc, c->tls_sess,
	    sizeof(c->tls_sess), &len) == IRIS_OK)
		c->tls_slen = len;
	iris__log(&c->log, IRIS_LOG_INFO, "client %s/%u: online%s", c->user,
	    c->device, iris__netconn_resumed(c->nc) ? " (TLS resumed)" : "");
	iris__conn_set_pubstate(c, IRIS_CLIENT_ONLINE, IRIS_OK);
	iris__conn_ping_start(c);
	iris__devlist_online(c);
	iris__keys_online(c);
	iris__heal_online(c);
	iris__recv_online(c);
	iris__social_online(c);
	iris__outbox_kick(c);
}

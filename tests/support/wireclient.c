/* SPDX-License-Identifier: ISC */
/* A frame-by-frame protocol client for tests, over libiris's TLS and codec. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"
#include "wireclient.h"


static void
on_open(struct iris_netconn *c, void *arg)
{
	(void)c;
	((struct wc *)arg)->open = 1;
}

/* Doubles the ring, keeping the order of what it holds. */
static int
grow(struct wc *w)
{
	size_t cap = w->cap != 0 ? w->cap * 2 : 64, i;
	uint8_t **raw = malloc(cap * sizeof(*raw));
	size_t *len = malloc(cap * sizeof(*len));

	if (raw == NULL || len == NULL || cap > WC_QUEUE_MAX) {
		free(raw);
		free(len);
		return -1;
	}
	for (i = 0; i < w->n; i++) {
		raw[i] = w->raw[(w->head + i) % w->cap];
		len[i] = w->rawlen[(w->head + i) % w->cap];
	}
	free(w->raw);
	free(w->rawlen);
	w->raw = raw;
	w->rawlen = len;
	w->cap = cap;
	w->head = 0;
	return 0;
}

static void
on_data(struct iris_netconn *c, const uint8_t *p, size_t n, void *arg)
{
	struct wc *w = arg;
	const uint8_t *frame;
	size_t used, flen, slot;

	(void)c;
	while (n > 0) {
		if (iris__framer_feed(&w->fr, p, n, &used, &frame, &flen) !=
		    IRIS_OK) {
			w->bad = 1;
			return;
		}
		p += used;
		n -= used;
		if (frame == NULL)
			break;
		/* Growing moves the pointers, not the bytes: the frame
		 * handed out stays valid. */
		if (w->n == w->cap && grow(w) != 0) {
			w->bad = 1;
			return;
		}
		/* Each queued frame keeps its own copy of its bytes. */
		slot = (w->head + w->n) % w->cap;
		w->raw[slot] = malloc(flen);
		memcpy(w->raw[slot], frame, flen);
		w->rawlen[slot] = flen;
		w->n++;
	}
}

static void
on_close(struct iris_netconn *c, int err, void *arg)
{
	struct wc *w = arg;

	(void)c;
	w->closed = 1;
	w->close_err = err;
}

static const struct iris_netconn_cbs cbs = { on_open, on_data, on_close };

static int
opened(void *arg)
{
	struct wc *w = arg;

	return w->open || w->closed;
}

int
wc_connect(struct wc *w, struct event_base *base, int port,
    const char *fp_hex, const uint8_t *session, size_t slen,
    unsigned timeout_ms)
{
	struct sockaddr_in sin;
	uint8_t pin[IRIS_FP_LEN];
	char err[256];

	memset(w, 0, sizeof(*w));
	w->base = base;
	iris__wire_limits_max(&w->lim);
	iris__framer_init(&w->fr, iris__wire_max_frame(&w->lim) * 8);
	if (iris__fp_parse(pin, fp_hex) != IRIS_OK ||
	    iris__tls_client_new(&w->tls, pin, NULL, NULL, err,
	    sizeof(err)) != IRIS_OK)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (iris__netconn_connect(&w->c, base, (struct sockaddr *)&sin,
	    sizeof(sin), w->tls, NULL, &cbs, w) != IRIS_OK)
		return -1;
	iris__netconn_set_outcap(w->c, 64u << 20);
	if (session != NULL && iris__netconn_session_offer(w->c, session,
	    slen) != IRIS_OK)
		return -1;
	return run_until(base, opened, w, timeout_ms) && w->open ? 0 : -1;
}

static void
drop_head(struct wc *w)
{
	if (w->n == 0)
		return;
	iris__wire_msg_reset(&w->cur);
	free(w->raw[w->head]);
	w->head = (w->head + 1) % w->cap;
	w->n--;
}

void
wc_close(struct wc *w)
{
	while (w->n > 0)
		drop_head(w);
	free(w->raw);
	free(w->rawlen);
	iris__netconn_free(w->c);
	iris__framer_free(&w->fr);
	iris__tls_ctx_free(w->tls);
	memset(w, 0, sizeof(*w));
}

int
wc_send(struct wc *w, struct iris_wire_msg *m)
{
	uint8_t *buf;
	size_t need, len;
	int rc;

	if ((rc = iris__wire_size(m, &need)) != IRIS_OK)
		return rc;
	buf = malloc(need);
	if ((rc = iris__wire_encode(m, buf, need, &len)) == IRIS_OK)
		rc = iris__netconn_write(w->c, buf, len);
	free(buf);
	return rc;
}

int
wc_send_raw(struct wc *w, const void *p, size_t n)
{
	return iris__netconn_write(w->c, p, n);
}

static int
has_frame(void *arg)
{
	struct wc *w = arg;

	return w->n > 0 || w->closed;
}

struct iris_wire_msg *
wc_next(struct wc *w, unsigned timeout_ms)
{
	/* The frame handed out last time is released now. */
	if (w->taken) {
		drop_head(w);
		w->taken = 0;
	}
	for (;;) {
		if (!run_until(w->base, has_frame, w, timeout_ms) ||
		    w->n == 0)
			return NULL;
		/* cur is zero or was reset; the decode resets it again. */
		w->taken = 1;
		if (iris__wire_decode(&w->cur, w->raw[w->head],
		    w->rawlen[w->head], &w->lim) == IRIS_OK)
			return &w->cur;
		w->bad = 1;	/* undecodable: skip it */
		drop_head(w);
		w->taken = 0;
	}
}

static int
is_closed(void *arg)
{
	return ((struct wc *)arg)->closed;
}

int
wc_wait_closed(struct wc *w, unsigned timeout_ms)
{
	return run_until(w->base, is_closed, w, timeout_ms);
}

void
wc_hello(struct iris_wire_msg *m, uint64_t rid, uint32_t version)
{
	iris__wire_msg_init(m);
	m->f.request_id = rid;
	m->f.which_body = iris_v1_Frame_client_hello_tag;
	m->f.body.client_hello.versions_count = 1;
	m->f.body.client_hello.versions[0] = version;
	strcpy(m->f.body.client_hello.client_name, "wireclient");
}

void
wc_ping(struct iris_wire_msg *m, uint64_t rid, const char *data)
{
	iris__wire_msg_init(m);
	m->f.request_id = rid;
	m->f.which_body = iris_v1_Frame_ping_tag;
	m->f.body.ping.data.size = (pb_size_t)strlen(data);
	memcpy(m->f.body.ping.data.bytes, data, strlen(data));
}

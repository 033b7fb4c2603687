/* SPDX-License-Identifier: ISC */
/*
 * The clients of iris-bench: users of one device each on TLS connections
 * of one event loop. Every frame is decoded by the real codec; every
 * SendAck is matched to its send once, every delivery must carry the next
 * seq of its device and the next message of its sender to it, with an
 * intact payload. The first violation fails the workload.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "iris_store.h"
#include "ib.h"

#define MAGIC	0x49524953u	/* "IRIS" */

/* What leads every payload; the rest are bytes that follow from it. */
struct hdr {
	uint32_t	 magic, from;
	uint64_t	 k;		/* the sender's k-th message to this one */
	uint64_t	 t0;		/* ns, CLOCK_MONOTONIC, when sent */
	uint64_t	 sum;		/* FNV-1a of the rest */
};

void
ib_fail(struct ib_fleet *f, const char *fmt, ...)
{
	va_list ap;

	if (f->bad++ > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

/* A latency sample into *v (f->ack_ns or f->dlv_ns, grown together). */
static int
sample(struct ib_fleet *f, uint64_t **v, size_t *n, uint64_t ns)
{
	uint64_t *p;

	if (*n == f->scap) {
		size_t cap = f->scap * 2 + 65536;

		if ((p = realloc(f->ack_ns, cap * sizeof(*p))) == NULL)
			return -1;
		f->ack_ns = p;
		if ((p = realloc(f->dlv_ns, cap * sizeof(*p))) == NULL)
			return -1;
		f->dlv_ns = p;
		f->scap = cap;
	}
	(*v)[(*n)++] = ns;
	return 0;
}

/* Receipts off (P1), then live when asked. */
static int
prepare(struct ib_dev *d, int live)
{
	struct iris_wire_msg m, *r;

	iris__wire_msg_init(&m);
	m.f.request_id = 2;
	m.f.which_body = iris_v1_Frame_presence_settings_tag;
	if (ac_ask(&d->u.c[0], &m, NULL) != 0)
		return -1;
	if (live) {
		mc_sync(&m, 3, 0, 0);
		if (ac_ask(&d->u.c[0], &m, &r) != 0 ||
		    r->f.which_body != iris_v1_Frame_sync_page_tag)
			return -1;
		d->synced = 1;
	}
	d->next_seq = 1;
	return 0;
}

int
ib_fleet_init(struct ib_fleet *f, struct event_base *base,
    struct ib_server *srv, int n, const char *tag, int nlive, uint64_t seed)
{
	struct timeval tv = { 0, 1000 };
	char name[64];
	int i, rc;

	memset(f, 0, sizeof(*f));
	f->base = base;
	f->srv = srv;
	f->rng = seed;
	bu_map_init(&f->pairs, sizeof(struct ib_pair));
	if ((f->dev = calloc((size_t)n, sizeof(*f->dev))) == NULL)
		return -1;
	f->tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(f->tick, &tv);
	for (i = 0; i < n; i++) {
		if ((f->dev[i] = calloc(1, sizeof(**f->dev))) == NULL)
			return -1;
		f->n++;
		f->dev[i]->idx = (uint32_t)i;
		snprintf(name, sizeof(name), "%s%d", tag, i);
		if ((rc = mc_user_new(&f->dev[i]->u, name, 1, base,
		    srv->d.port, srv->d.fp, NULL)) != 0 ||
		    prepare(f->dev[i], i < nlive) != 0) {
			fprintf(stderr, "iris-bench: user %s: no login (%d)\n",
			    name, rc);
			return -1;
		}
	}
	return 0;
}

void
ib_fleet_free(struct ib_fleet *f)
{
	int i;

	for (i = 0; i < f->n; i++) {
		mc_user_close(&f->dev[i]->u);
		free(f->dev[i]->t0);
		free(f->dev[i]->acked);
		free(f->dev[i]);
	}
	free(f->dev);
	if (f->tick != NULL)
		event_free(f->tick);
	bu_map_free(&f->pairs);
	free(f->ack_ns);
	free(f->dlv_ns);
	memset(f, 0, sizeof(*f));
}

static int
grow(struct ib_dev *d)
{
	size_t cap = d->cap * 2 + 4096;
	uint64_t *t0 = realloc(d->t0, cap * sizeof(*t0));
	uint8_t *acked;

	if (t0 == NULL)
		return -1;
	d->t0 = t0;
	if ((acked = realloc(d->acked, cap)) == NULL)
		return -1;
	memset(acked + d->cap, 0, cap - d->cap);
	d->acked = acked;
	d->cap = cap;
	return 0;
}

int
ib_send(struct ib_fleet *f, int from, int to)
{
	struct ib_dev *d = f->dev[from], *r = f->dev[to];
	struct ib_pair *p;
	struct iris_wire_msg m;
	uint8_t payload[IB_PAYLOAD], cmid[16];
	struct hdr h;
	int rc;

	if (d->nsent == d->cap && grow(d) != 0)
		return -1;
	p = bu_map_get(&f->pairs, (uint64_t)from << 32 | (uint32_t)to, 1);
	h.magic = MAGIC;
	h.from = (uint32_t)from;
	h.k = p->sent++;
	bu_fill(payload + sizeof(h), sizeof(payload) - sizeof(h),
	    (uint64_t)from << 40 ^ (uint64_t)to << 20 ^ h.k);
	h.sum = bu_fnv64(payload + sizeof(h), sizeof(payload) - sizeof(h));
	iris_uuid_v7(cmid);
	mc_send(&m, IB_RID0 + d->nsent, cmid, IRIS_CLASS_MESSAGE, 0);
	h.t0 = bu_now_ns();
	memcpy(payload, &h, sizeof(h));
	if (mc_env(&m, r->u.name, r->u.dev[0].id, payload,
	    sizeof(payload)) != 0)
		return -1;
	d->t0[d->nsent++] = h.t0;
	rc = wc_send(&d->u.c[0].w, &m);
	mc_free(&m);
	f->sent++;
	return rc;
}

static void
on_ack(struct ib_fleet *f, struct ib_dev *d, uint64_t rid, uint64_t now)
{
	uint64_t i = rid - IB_RID0;

	if (rid < IB_RID0 || i >= d->nsent) {
		ib_fail(f, "%s: SendAck for unknown request %llu", d->u.name,
		    (unsigned long long)rid);
		return;
	}
	if (d->acked[i]++) {
		ib_fail(f, "%s: request %llu acked twice", d->u.name,
		    (unsigned long long)rid);
		return;
	}
	f->acked++;
	if (sample(f, &f->ack_ns, &f->nack, now - d->t0[i]) != 0)
		ib_fail(f, "out of memory");
}

/* One delivery to d: its seq, its sender's order, its bytes. */
static void
on_deliver(struct ib_fleet *f, struct ib_dev *d, const iris_v1_Deliver *dl,
    const uint8_t *pl, size_t len, uint64_t now)
{
	struct ib_pair *p;
	struct hdr h;

	if (dl->seq != d->next_seq) {
		ib_fail(f, "%s: delivery seq %llu, expected %llu (%s)",
		    d->u.name, (unsigned long long)dl->seq,
		    (unsigned long long)d->next_seq, dl->seq < d->next_seq ?
		    "duplicate" : "gap");
		return;
	}
	if (pl == NULL || len != IB_PAYLOAD) {
		ib_fail(f, "%s: delivery %llu without its payload", d->u.name,
		    (unsigned long long)dl->seq);
		return;
	}
	memcpy(&h, pl, sizeof(h));
	if (h.magic != MAGIC || h.from >= (uint32_t)f->n ||
	    bu_fnv64(pl + sizeof(h), len - sizeof(h)) != h.sum) {
		ib_fail(f, "%s: delivery %llu damaged", d->u.name,
		    (unsigned long long)dl->seq);
		return;
	}
	p = bu_map_get(&f->pairs, (uint64_t)h.from << 32 | d->idx, 0);
	if (p == NULL || h.k != p->got || h.k >= p->sent) {
		ib_fail(f, "%s: from %u message %llu out of order (expected "
		    "%llu)", d->u.name, h.from, (unsigned long long)h.k,
		    (unsigned long long)(p != NULL ? p->got : 0));
		return;
	}
	p->got++;
	d->next_seq++;
	d->got++;
	f->delivered++;
	if (sample(f, &f->dlv_ns, &f->ndlv, now - h.t0) != 0)
		ib_fail(f, "out of memory");
}

static void
on_frame(struct ib_fleet *f, struct ib_dev *d, struct iris_wire_msg *r,
    uint64_t now)
{
	const uint8_t *pl;
	size_t i, len;

	switch (r->f.which_body) {
	case iris_v1_Frame_send_ack_tag:
		on_ack(f, d, r->f.request_id, now);
		break;
	case iris_v1_Frame_deliver_tag:
		pl = mc_payload(r, 0, &len);
		on_deliver(f, d, &r->f.body.deliver, pl, len, now);
		break;
	case iris_v1_Frame_sync_page_tag:
		for (i = 0; i < r->nitems; i++) {
			pl = mc_payload(r, i, &len);
			on_deliver(f, d, &r->items[i].pb, pl, len, now);
		}
		d->paging = 0;
		d->synced = !r->f.body.sync_page.more;
		break;
	case iris_v1_Frame_error_tag:
		f->errors++;
		ib_fail(f, "%s: error %d (%s) for request %llu", d->u.name,
		    (int)r->f.body.error.code, r->f.body.error.detail,
		    (unsigned long long)r->f.request_id);
		break;
	default:
		break;		/* answers to cursor acks, notices */
	}
}

void
ib_poll(struct ib_fleet *f, int block)
{
	struct iris_wire_msg *r, m;
	struct ib_dev *d;
	uint64_t now;
	int i;

	event_base_loop(f->base, block ? EVLOOP_ONCE : EVLOOP_NONBLOCK);
	now = bu_now_ns();
	for (i = 0; i < f->n; i++) {
		d = f->dev[i];
		if (d->u.c[0].w.n == 0) {
			if (d->u.c[0].w.closed)
				ib_fail(f, "%s: connection closed",
				    d->u.name);
			continue;
		}
		while ((r = wc_next(&d->u.c[0].w, 0)) != NULL)
			on_frame(f, d, r, now);
		if (d->u.c[0].w.bad)
			ib_fail(f, "%s: undecodable frame", d->u.name);
		/* Cursor acks (on), one per batch. */
		if (d->next_seq - 1 > d->acked_seq) {
			mc_ack(&m, 0, d->next_seq - 1);
			wc_send(&d->u.c[0].w, &m);
			d->acked_seq = d->next_seq - 1;
		}
	}
}

int
ib_sync_page(struct ib_fleet *f, int i, uint32_t max)
{
	struct ib_dev *d = f->dev[i];
	struct iris_wire_msg m;

	mc_sync(&m, IB_SYNC_RID + d->next_seq, d->next_seq - 1, max);
	d->paging = 1;
	return wc_send(&d->u.c[0].w, &m);
}

int
ib_settled(const struct ib_fleet *f)
{
	return f->acked == f->sent && f->delivered == f->sent;
}

int
ib_settle(struct ib_fleet *f, unsigned timeout_ms)
{
	uint64_t end = bu_now_ns() + (uint64_t)timeout_ms * 1000000;

	while (!ib_settled(f) && f->bad == 0 && bu_now_ns() < end)
		ib_poll(f, 1);
	if (f->bad == 0 && !ib_settled(f))
		ib_fail(f, "%llu sent, %llu acked, %llu delivered after %u ms"
		    " (loss)", (unsigned long long)f->sent,
		    (unsigned long long)f->acked,
		    (unsigned long long)f->delivered, timeout_ms);
	return f->bad == 0 ? 0 : -1;
}

void
ib_samples_reset(struct ib_fleet *f)
{
	f->nack = f->ndlv = 0;
}

void
ib_lat(uint64_t *ns, size_t n, struct ib_lat *out)
{
	bu_sort_u64(ns, n);
	out->n = n;
	out->p50 = (double)bu_pct(ns, n, 50) / 1e6;
	out->p99 = (double)bu_pct(ns, n, 99) / 1e6;
	out->p999 = (double)bu_pct(ns, n, 99.9) / 1e6;
	out->max = n > 0 ? (double)ns[n - 1] / 1e6 : 0;
}

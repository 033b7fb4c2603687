/* SPDX-License-Identifier: ISC */
/*
 * What the core pushes, at the edge: the sessions of each (user, device),
 * told to the core as they log in and go; doorbells pushed to a live
 * session in seq order within its window of unacked deliveries, or, when
 * one shows a gap (or the window or the output queue was full), a fetch
 * of what it has not been given; transient relays, presence updates and
 * notices (prekey_low), which a congested connection sheds (they are
 * best effort, never messages; a notice is told again at the next
 * login).
 */
#include <string.h>

#include "iris.h"
#include "engine/engine.h"
#include "util/alloc.h"
#include "util/clock.h"

static uint64_t
dev_hash(struct iris_engine *eng, const char *user, uint32_t device)
{
	return iris__bus_hash(eng->bus, user, device);
}

static struct edge_user *
user_get(struct iris_engine *eng, const char *user)
{
	uint64_t h = iris__bus_hash(eng->bus, user, 0);
	struct iris_hnode *n;
	struct edge_user *u;

	for (n = iris__hmap_find(&eng->users, h); n != NULL;
	    n = iris__hmap_next(n)) {
		u = IRIS__CONTAINER(n, struct edge_user, node);
		if (strcmp(u->user, user) == 0)
			return u;
	}
	if ((u = iris__calloc(1, sizeof(*u))) == NULL)
		return NULL;
	strcpy(u->user, user);
	iris__bucket_init(&u->bucket, eng->send_rate, eng->send_burst,
	    iris__clock_mono_us());
	if (iris__hmap_put(&eng->users, &u->node, h) != IRIS_OK) {
		iris__free(u);
		return NULL;
	}
	return u;
}

/* An event for the core about s; never refused (one per session). */
static void
tell_core(struct iris_session *s, enum iris_bus_op op)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_bus_caller c;
	struct iris_bus_req *r;

	iris__edge_caller(s, &c);
	if ((r = iris__bus_req_new(eng->bus, op, &c, 0)) == NULL ||
	    iris__bus_request(r, NULL, NULL) != IRIS_OK)
		iris__log(&eng->log, IRIS_LOG_ERR, "%s: cannot tell the core "
		    "that %s/%u %s", iris__session_peer(s), c.user, c.device,
		    op == IRIS_BUS_ONLINE ? "came" : "went");
}

int
iris__edge_attach(struct iris_session *s, uint64_t acked, uint64_t head)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_edge_sess *e = iris__session_edge(s);
	uint32_t device;
	const char *user = iris__session_user(s, &device);

	e->acked = e->ack_max = e->sent = acked;
	e->head = head;
	if ((e->u = user_get(eng, user)) == NULL)
		return IRIS_ENOMEM;
	e->u->refs++;
	if (iris__hmap_put(&eng->by_dev, &e->node, dev_hash(eng, user,
	    device)) != IRIS_OK) {
		if (--e->u->refs == 0) {
			iris__hmap_del(&eng->users, &e->u->node);
			iris__free(e->u);
		}
		e->u = NULL;
		return IRIS_ENOMEM;
	}
	e->attached = 1;
	tell_core(s, IRIS_BUS_ONLINE);
	return IRIS_OK;
}

void
iris__edge_detach(struct iris_session *s)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_edge_sess *e = iris__session_edge(s);

	tell_core(s, IRIS_BUS_OFFLINE);
	iris__hmap_del(&eng->by_dev, &e->node);
	e->attached = 0;
	if (e->u != NULL && e->u->refs > 0 && --e->u->refs == 0) {
		iris__hmap_del(&eng->users, &e->u->node);
		iris__free(e->u);
	}
	e->u = NULL;
}

static uint32_t
room(struct iris_engine *eng, struct iris_edge_sess *e)
{
	uint64_t out = e->sent > e->acked ? e->sent - e->acked : 0;

	if (iris__session_outlen(e->s) >= eng->output_cap / 2)
		return 0;
	return out >= eng->push_window ? 0 :
	    (uint32_t)(eng->push_window - out);
}

static void
fetched(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;
	struct iris_engine *eng;
	struct iris_edge_sess *e;

	if (!iris__session_release(s))
		return;
	eng = iris__session_engine(s);
	e = iris__session_edge(s);
	e->fetching = 0;
	if (r->rep.code != 0) {
		iris__log(&eng->log, IRIS_LOG_INFO, "%s: a fetch failed (%s); "
		    "the next ack or delivery retries", iris__session_peer(s),
		    iris__wire_errname(r->rep.code));
		return;
	}
	/* Whatever came meanwhile was not pushed: this sends it all. */
	if (r->rep.len > 0 && r->rep.seq > e->sent) {
		if (iris__session_write(s, r->rep.frames, r->rep.len,
		    r->rep.count) != IRIS_OK)
			return;
		e->sent = r->rep.seq;
		eng->st[ST_MSG_OUT] += r->rep.count;
	}
	if (r->rep.head > e->head)
		e->head = r->rep.head;
	iris__edge_fetch(s);
}

void
iris__edge_fetch(struct iris_session *s)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_edge_sess *e = iris__session_edge(s);
	struct iris_bus_caller c;
	struct iris_bus_req *r;
	uint32_t n;

	if (!e->live || e->fetching || e->head <= e->sent ||
	    (n = room(eng, e)) == 0)
		return;
	iris__edge_caller(s, &c);
	if ((r = iris__bus_req_new(eng->bus, IRIS_BUS_FETCH, &c, 0)) == NULL)
		return;
	r->u.sync.after = e->sent;
	r->u.sync.max = n;
	e->fetching = 1;
	iris__session_hold(s);
	if (iris__bus_request(r, fetched, s) != IRIS_OK) {
		e->fetching = 0;
		iris__session_release(s);
	}
}

/* A stored delivery: pushed in its turn, or fetched with what it missed. */
static void
doorbell(struct iris_engine *eng, struct iris_edge_sess *e,
    const struct iris_bus_push *p)
{
	if (p->seq > e->head)
		e->head = p->seq;
	if (!e->live || p->seq <= e->sent)
		return;		/* syncing, or given already */
	if (!e->fetching && p->prev == e->sent && p->frame != NULL &&
	    room(eng, e) > 0) {
		if (iris__session_write(e->s, p->frame, p->len, 1) != IRIS_OK)
			return;
		e->sent = p->seq;
		eng->st[ST_MSG_OUT]++;
		if (p->t0_us != 0)
			iris__histo_add(&eng->deliver_lat,
			    iris__clock_realtime_us() - p->t0_us);
		return;
	}
	iris__edge_fetch(e->s);
}

/* Typing and presence: dropped for a connection whose output backs up. */
static void
best_effort(struct iris_engine *eng, struct iris_edge_sess *e,
    const struct iris_bus_push *p)
{
	size_t limit = p->msg_class == iris_v1_MsgClass_CLASS_TYPING ?
	    eng->output_cap / 4 : eng->output_cap / 2;

	if (iris__session_outlen(e->s) >= limit) {
		eng->st[ST_SHED_OUTPUT]++;
		return;
	}
	if (iris__session_write(e->s, p->frame, p->len, 1) == IRIS_OK &&
	    p->kind == IRIS_PUSH_RELAY)
		eng->st[ST_RELAYED_OUT]++;
}

static void
on_push(const struct iris_bus_push *p, void *arg)
{
	struct iris_engine *eng = arg;
	struct iris_hnode *n, *next;
	struct iris_edge_sess *e;
	uint32_t device;
	const char *user;

	for (n = iris__hmap_find(&eng->by_dev, dev_hash(eng, p->user,
	    p->device)); n != NULL; n = next) {
		/* A write can close a slow reader: step on first. */
		next = iris__hmap_next(n);
		e = IRIS__CONTAINER(n, struct iris_edge_sess, node);
		user = iris__session_user(e->s, &device);
		if (user == NULL || device != p->device ||
		    strcmp(user, p->user) != 0)
			continue;
		switch (p->kind) {
		case IRIS_PUSH_DOORBELL:
			doorbell(eng, e, p);
			break;
		case IRIS_PUSH_RELAY:
			best_effort(eng, e, p);
			break;
		case IRIS_PUSH_CONN:
			if (e->conn == p->conn)
				best_effort(eng, e, p);
			break;
		case IRIS_PUSH_NOTICE:
			best_effort(eng, e, p);
			break;
		}
	}
}

int
iris__edge_init(struct iris_engine *eng)
{
	iris__hmap_init(&eng->by_dev);
	iris__hmap_init(&eng->users);
	iris__edge_reconfigure(eng);
	iris__bus_set_edge(eng->bus, on_push, eng);
	return IRIS_OK;
}

void
iris__edge_reconfigure(struct iris_engine *eng)
{
	struct iris_hnode *n, *it;
	struct edge_user *u;
	size_t cur = 0;

	eng->push_window = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_PUSH_WINDOW);
	eng->max_inflight = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_MAX_INFLIGHT);
	eng->send_rate = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_SEND_RATE);
	eng->send_burst = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_SEND_BURST);
	/* Buckets keep their tokens and take the new rate. */
	while ((n = iris__hmap_each(&eng->users, &cur, &it)) != NULL) {
		u = IRIS__CONTAINER(n, struct edge_user, node);
		u->bucket.rate = eng->send_rate;
		u->bucket.burst = eng->send_burst;
	}
}

void
iris__edge_fini(struct iris_engine *eng)
{
	iris__hmap_free(&eng->by_dev);
	iris__hmap_free(&eng->users);
}

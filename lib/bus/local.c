/* SPDX-License-Identifier: ISC */
/*
 * The in-process bus: two FIFO queues on the loop, one to the core and one
 * back to the edge (answers and pushes in the order the core made them),
 * served by one event made active from this thread only. Each turn serves
 * what was queued when it began, so nothing runs inside the call that
 * queued it and one busy producer cannot hold the loop.
 */
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "iris.h"
#include "bus/bus.h"
#include "util/alloc.h"

struct itemq {
	struct iris_bus_item	*head;
	struct iris_bus_item	*tail;
	size_t			 n;
};

struct iris_bus {
	struct event_base	*base;
	struct event		*ev;
	size_t			 max_queue;
	struct itemq		 to_core;
	struct itemq		 to_edge;
	iris_bus_handler	 core;
	void			*core_arg;
	iris_bus_pusher		 edge;
	void			*edge_arg;
	unsigned char		 key[crypto_shorthash_KEYBYTES];
	int			 serving;	/* inside on_turn */
	int			 freed;		/* freed while serving */
};

static void
q_push(struct itemq *q, struct iris_bus_item *it)
{
	it->next = NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
}

static struct iris_bus_item *
q_pop(struct itemq *q)
{
	struct iris_bus_item *it = q->head;

	if (it == NULL)
		return NULL;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	return it;
}

static void
push_free(struct iris_bus_push *p)
{
	iris__free(p->frame);
	iris__free(p);
}

static void
item_free(struct iris_bus_item *it)
{
	if (it->is_push)
		push_free((struct iris_bus_push *)it);
	else
		iris__bus_req_free((struct iris_bus_req *)it);
}

static void
wake(struct iris_bus *bus)
{
	if (!bus->serving)
		event_active(bus->ev, EV_TIMEOUT, 0);
}

static void
on_turn(evutil_socket_t fd, short what, void *arg)
{
	struct iris_bus *bus = arg;
	struct iris_bus_item *it;
	struct iris_bus_req *r;
	size_t n;

	(void)fd, (void)what;
	bus->serving = 1;
	for (n = bus->to_core.n; n > 0 && !bus->freed; n--) {
		r = (struct iris_bus_req *)q_pop(&bus->to_core);
		bus->core(r, bus->core_arg);
	}
	for (n = bus->to_edge.n; n > 0 && !bus->freed; n--) {
		it = q_pop(&bus->to_edge);
		if (it->is_push) {
			if (bus->edge != NULL)
				bus->edge((struct iris_bus_push *)it,
				    bus->edge_arg);
		} else {
			r = (struct iris_bus_req *)it;
			if (r->cb != NULL)
				r->cb(r, r->arg);
		}
		item_free(it);
	}
	bus->serving = 0;
	if (bus->freed) {
		iris__bus_free(bus);
		return;
	}
	if (bus->to_core.n > 0 || bus->to_edge.n > 0)
		wake(bus);
}

int
iris__bus_new(struct iris_bus **busp, struct event_base *base,
    size_t max_queue)
{
	struct iris_bus *bus;

	*busp = NULL;
	if ((bus = iris__calloc(1, sizeof(*bus))) == NULL)
		return IRIS_ENOMEM;
	if ((bus->ev = event_new(base, -1, 0, on_turn, bus)) == NULL) {
		iris__free(bus);
		return IRIS_ENOMEM;
	}
	bus->base = base;
	bus->max_queue = max_queue;
	crypto_shorthash_keygen(bus->key);
	*busp = bus;
	return IRIS_OK;
}

void
iris__bus_free(struct iris_bus *bus)
{
	struct iris_bus_item *it;

	if (bus == NULL)
		return;
	if (bus->serving) {
		bus->freed = 1;		/* on_turn finishes the job */
		return;
	}
	while ((it = q_pop(&bus->to_core)) != NULL)
		item_free(it);
	while ((it = q_pop(&bus->to_edge)) != NULL)
		item_free(it);
	event_free(bus->ev);
	sodium_memzero(bus->key, sizeof(bus->key));
	iris__free(bus);
}

void
iris__bus_set_core(struct iris_bus *bus, iris_bus_handler h, void *arg)
{
	bus->core = h;
	bus->core_arg = arg;
}

void
iris__bus_set_edge(struct iris_bus *bus, iris_bus_pusher p, void *arg)
{
	bus->edge = p;
	bus->edge_arg = arg;
}

struct iris_bus_req *
iris__bus_req_new(struct iris_bus *bus, enum iris_bus_op op,
    const struct iris_bus_caller *caller, uint64_t rid)
{
	struct iris_bus_req *r;

	if ((r = iris__calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->bus = bus;
	r->op = op;
	r->rid = rid;
	if (caller != NULL)
		r->from = *caller;
	return r;
}

int
iris__bus_req_send(struct iris_bus_req *r, struct iris_wire_msg *m,
    const uint8_t *frame, size_t len)
{
	struct iris_bus_send *s = &r->u.send;
	const iris_v1_Send *pb = &m->f.body.send;
	size_t i;

	if ((s->buf = iris__memdup(frame, len)) == NULL)
		return IRIS_ENOMEM;
	memcpy(s->cmid, pb->client_msg_id, sizeof(s->cmid));
	s->msg_class = pb->class;
	s->transient = pb->transient;
	/* The payloads are slices of the frame: point them at the copy. */
	s->envs = m->envs;
	s->nenvs = m->nenvs;
	m->envs = NULL;
	m->nenvs = 0;
	m->cap = 0;
	for (i = 0; i < s->nenvs; i++)
		s->envs[i].payload.ptr = s->buf +
		    (s->envs[i].payload.ptr - frame);
	return IRIS_OK;
}

int
iris__bus_req_frame(struct iris_bus_req *r, const iris_v1_Frame *f)
{
	if ((r->u.frame = iris__memdup(f, sizeof(*f))) == NULL)
		return IRIS_ENOMEM;
	return IRIS_OK;
}

void
iris__bus_req_free(struct iris_bus_req *r)
{
	if (r == NULL)
		return;
	switch (r->op) {
	case IRIS_BUS_SEND:
		iris__free(r->u.send.envs);
		iris__free(r->u.send.buf);
		break;
	case IRIS_BUS_PRESENCE_SUB:
	case IRIS_BUS_PRESENCE_UNSUB:
	case IRIS_BUS_SETTINGS:
	case IRIS_BUS_CONTACTS_GET:
	case IRIS_BUS_CONTACTS_EDIT:
	case IRIS_BUS_DEVLIST_PUT:
	case IRIS_BUS_KEYS_UPLOAD:
	case IRIS_BUS_KEYS_FETCH:
		iris__free(r->u.frame);
		break;
	default:
		break;
	}
	iris__free(r->rep.frames);
	iris__free(r);
}

int
iris__bus_request(struct iris_bus_req *r, iris_bus_cb cb, void *arg)
{
	struct iris_bus *bus = r->bus;

	if (bus->to_core.n >= bus->max_queue && r->op != IRIS_BUS_ONLINE &&
	    r->op != IRIS_BUS_OFFLINE) {
		iris__bus_req_free(r);
		return IRIS_EAGAIN;
	}
	r->cb = cb;
	r->arg = arg;
	r->item.is_push = 0;
	q_push(&bus->to_core, &r->item);
	wake(bus);
	return IRIS_OK;
}

void
iris__bus_reply(struct iris_bus_req *r)
{
	struct iris_bus *bus = r->bus;

	q_push(&bus->to_edge, &r->item);
	wake(bus);
}

void
iris__bus_push(struct iris_bus *bus, struct iris_bus_push *p)
{
	p->item.is_push = 1;
	q_push(&bus->to_edge, &p->item);
	wake(bus);
}

uint64_t
iris__bus_hash(const struct iris_bus *bus, const char *user, uint32_t device)
{
	unsigned char in[IRIS_USER_MAX + 4], out[crypto_shorthash_BYTES];
	size_t n = strlen(user);
	uint64_t h = 0;
	int i;

	memcpy(in, user, n);
	in[n++] = (unsigned char)(device >> 24);
	in[n++] = (unsigned char)(device >> 16);
	in[n++] = (unsigned char)(device >> 8);
	in[n++] = (unsigned char)device;
	crypto_shorthash(out, in, n, bus->key);
	for (i = 0; i < 8; i++)
		h = h << 8 | out[i];
	return h;
}

size_t
iris__bus_queued(const struct iris_bus *bus)
{
	return bus->to_core.n + bus->to_edge.n;
}

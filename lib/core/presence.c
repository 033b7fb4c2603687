/* SPDX-License-Identifier: ISC */
/*
 * Presence by interest: the edges say which connections are up, watchers
 * subscribe to the users they want to see, and only they are told when
 * one comes online or goes (no global fan-out). Each user's privacy
 * (everyone, contacts, nobody) and contact list decide who sees it; the
 * others get "hidden" and no updates. Under load updates wait, marked,
 * and are told once the load has passed (R5). Also the settings and the
 * contact lists themselves. Last seen is kept in memory.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "core/core_priv.h"
#include "store/accounts.h"
#include "util/alloc.h"
#include "util/clock.h"

#define PRES_MAX	65536	/* entries kept; past it idle ones go */

struct conn_ent {
	struct conn_ent		*next;
	uint64_t		 conn;
	uint32_t		 device;
};

struct sub;

/* A user someone watches or who is connected. */
struct pres {
	struct iris_hnode	 node;
	char			 user[IRIS_USER_MAX + 1];
	struct conn_ent		*conns;
	uint32_t		 nconns;
	uint64_t		 last_seen_ms;
	int			 loaded;	/* privacy read from the store */
	int			 exists;
	int			 privacy;
	struct sub		*watchers;
};

/* A connection that watches users. */
struct watcher {
	struct iris_hnode	 node;
	uint64_t		 conn;
	char			 user[IRIS_USER_MAX + 1];
	uint32_t		 device;
	struct sub		*subs;
	uint32_t		 nsubs;
};

struct sub {
	struct watcher		*w;
	struct pres		*p;
	struct sub		*t_prev, *t_next;	/* p's watchers */
	struct sub		*w_prev, *w_next;	/* w's subscriptions */
	int			 visible;
	int			 dirty;
};

static struct pres *
pres_get(struct iris_core *core, const char *user, int create)
{
	uint64_t h = iris__bus_hash(core->bus, user, 0);
	struct iris_hnode *n;
	struct pres *p;

	for (n = iris__hmap_find(&core->presence, h); n != NULL;
	    n = iris__hmap_next(n)) {
		p = IRIS__CONTAINER(n, struct pres, node);
		if (strcmp(p->user, user) == 0)
			return p;
	}
	if (!create || (p = iris__calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->user, sizeof(p->user), "%s", user);
	if (iris__hmap_put(&core->presence, &p->node, h) != IRIS_OK) {
		iris__free(p);
		return NULL;
	}
	return p;
}

/* Past the cap, entries nobody watches of users not connected go. */
static void
pres_trim(struct iris_core *core)
{
	struct iris_hnode *n, *it;
	struct pres *p;
	size_t cur = 0;

	/* Each sweep at least halves what is idle, or waits until the
	 * map has doubled: never a sweep per login. */
	if (core->presence.n <= PRES_MAX || core->presence.n < core->trim_at)
		return;
	while ((n = iris__hmap_each(&core->presence, &cur, &it)) != NULL) {
		p = IRIS__CONTAINER(n, struct pres, node);
		if (p->nconns == 0 && p->watchers == NULL) {
			iris__hmap_del(&core->presence, &p->node);
			iris__free(p);
		}
	}
	core->trim_at = 2 * core->presence.n;
}

int
iris__core_online(struct iris_core *core, const char *user, uint32_t device)
{
	struct pres *p = pres_get(core, user, 0);
	struct conn_ent *c;

	if (p == NULL)
		return 0;
	for (c = p->conns; c != NULL; c = c->next)
		if (c->device == device)
			return 1;
	return 0;
}

static int
can_see(struct iris_core *core, struct pres *p, const char *who)
{
	int receipts;

	if (!p->loaded) {
		p->exists = iris__acct_settings(core->store, p->user,
		    &p->privacy, &receipts) == IRIS_OK;
		p->loaded = 1;
	}
	if (!p->exists)
		return 0;	/* unknown users look like hidden ones */
	if (strcmp(p->user, who) == 0)
		return 1;
	switch (p->privacy) {
	case iris_v1_Privacy_PRIVACY_EVERYONE:
		return 1;
	case iris_v1_Privacy_PRIVACY_CONTACTS:
		return iris__acct_is_contact(core->store, p->user, who) == 1;
	default:
		return 0;
	}
}

static void
item(const struct sub *s, iris_v1_Presence *it)
{
	size_t n = strlen(s->p->user);

	memset(it, 0, sizeof(*it));
	it->user.size = (pb_size_t)n;
	memcpy(it->user.bytes, s->p->user, n);
	it->hidden = !s->visible;
	if (s->visible) {
		it->online = s->p->nconns > 0;
		it->last_seen_ms = it->online ? 0 : s->p->last_seen_ms;
	}
}

/* One PresenceUpdate with one item, to the watcher's connection. */
static void
tell(struct iris_core *core, struct sub *s)
{
	struct iris_wire_msg m;
	struct iris_bus_push *p;

	if ((p = iris__calloc(1, sizeof(*p))) == NULL)
		return;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_presence_update_tag;
	m.f.body.presence_update.items_count = 1;
	item(s, &m.f.body.presence_update.items[0]);
	if (iris__core_encode(&m, &p->frame, &p->len) != IRIS_OK) {
		iris__free(p);
		return;
	}
	p->kind = IRIS_PUSH_CONN;
	p->conn = s->w->conn;
	snprintf(p->user, sizeof(p->user), "%s", s->w->user);
	p->device = s->w->device;
	p->msg_class = -1;	/* presence */
	iris__bus_push(core->bus, p);
	core->st.presence_sent++;
	if (s->dirty) {
		s->dirty = 0;
		core->dirty--;
	}
}

/* p came online or went: its visible watchers hear of it. */
static void
notify(struct iris_core *core, struct pres *p)
{
	int shed = iris__core_overload(core) >= 2;
	struct sub *s;

	for (s = p->watchers; s != NULL; s = s->t_next) {
		if (!s->visible)
			continue;
		if (!shed)
			tell(core, s);
		else if (!s->dirty) {
			s->dirty = 1;
			core->dirty++;
			core->st.presence_shed++;
		}
	}
}

void
iris__core_presence_tick(struct iris_core *core)
{
	struct iris_hnode *n, *it;
	struct watcher *w;
	struct sub *s;
	size_t cur = 0;

	while (core->dirty > 0 &&
	    (n = iris__hmap_each(&core->watchers, &cur, &it)) != NULL) {
		w = IRIS__CONTAINER(n, struct watcher, node);
		for (s = w->subs; s != NULL; s = s->w_next)
			if (s->dirty)
				tell(core, s);
	}
}

void
iris__core_presence_recheck(struct iris_core *core, const char *user)
{
	struct pres *p = pres_get(core, user, 0);
	struct sub *s;
	int v;

	if (p == NULL)
		return;
	p->loaded = 0;
	for (s = p->watchers; s != NULL; s = s->t_next)
		if ((v = can_see(core, p, s->w->user)) != s->visible) {
			s->visible = v;
			tell(core, s);	/* shown, or now hidden */
		}
}

static struct watcher *
watcher_get(struct iris_core *core, const struct iris_bus_caller *from,
    int create)
{
	uint64_t h = from->conn * 0x9e3779b97f4a7c15ull;
	struct iris_hnode *n;
	struct watcher *w;

	for (n = iris__hmap_find(&core->watchers, h); n != NULL;
	    n = iris__hmap_next(n)) {
		w = IRIS__CONTAINER(n, struct watcher, node);
		if (w->conn == from->conn)
			return w;
	}
	if (!create || (w = iris__calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->conn = from->conn;
	memcpy(w->user, from->user, sizeof(w->user));
	w->device = from->device;
	if (iris__hmap_put(&core->watchers, &w->node, h) != IRIS_OK) {
		iris__free(w);
		return NULL;
	}
	return w;
}

static void
sub_free(struct iris_core *core, struct sub *s)
{
	if (s->t_prev != NULL)
		s->t_prev->t_next = s->t_next;
	else
		s->p->watchers = s->t_next;
	if (s->t_next != NULL)
		s->t_next->t_prev = s->t_prev;
	if (s->w_prev != NULL)
		s->w_prev->w_next = s->w_next;
	else
		s->w->subs = s->w_next;
	if (s->w_next != NULL)
		s->w_next->w_prev = s->w_prev;
	s->w->nsubs--;
	if (s->dirty)
		core->dirty--;
	iris__free(s);
}

static void
watcher_free(struct iris_core *core, struct watcher *w)
{
	while (w->subs != NULL)
		sub_free(core, w->subs);
	iris__hmap_del(&core->watchers, &w->node);
	iris__free(w);
}

static struct sub *
sub_find(struct watcher *w, const char *user)
{
	struct sub *s;

	for (s = w->subs; s != NULL; s = s->w_next)
		if (strcmp(s->p->user, user) == 0)
			return s;
	return NULL;
}

static struct sub *
sub_add(struct iris_core *core, struct watcher *w, const char *user)
{
	struct sub *s;
	struct pres *p;

	if ((s = sub_find(w, user)) != NULL)
		return s;
	if ((p = pres_get(core, user, 1)) == NULL ||
	    (s = iris__calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->w = w;
	s->p = p;
	s->visible = can_see(core, p, w->user);
	s->t_next = p->watchers;
	if (s->t_next != NULL)
		s->t_next->t_prev = s;
	p->watchers = s;
	s->w_next = w->subs;
	if (s->w_next != NULL)
		s->w_next->w_prev = s;
	w->subs = s;
	w->nsubs++;
	return s;
}

#define copy_user(out, b) do {						\
	memcpy((out), (b).bytes, (b).size);				\
	(out)[(b).size] = '\0';						\
} while (0)

static void
subscribe(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_PresenceSubscribe *ps =
	    &req->u.frame->body.presence_subscribe;
	char user[IRIS_USER_MAX + 1];
	struct iris_wire_msg m;
	struct watcher *w;
	struct sub *s;
	pb_size_t i;

	if (iris__core_overload(core) >= 2) {
		core->st.presence_shed++;
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_OVERLOADED,
		    1000, "shedding presence");
		return;
	}
	if ((w = watcher_get(core, &req->from, 1)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	if (w->nsubs + ps->users_count > core->max_subs) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "too many presence subscriptions");
		return;
	}
	iris__wire_msg_init(&m);
	m.f.request_id = req->rid;
	memcpy(m.f.trace_id, req->from.trace, 16);
	m.f.which_body = iris_v1_Frame_presence_update_tag;
	for (i = 0; i < ps->users_count; i++) {
		copy_user(user, ps->users[i]);
		if ((s = sub_add(core, w, user)) == NULL) {
			iris__core_store_error(core, req, IRIS_ENOMEM);
			return;
		}
		item(s, &m.f.body.presence_update.items[
		    m.f.body.presence_update.items_count++]);
	}
	if (iris__core_encode(&m, &req->rep.frames, &req->rep.len) != IRIS_OK)
		iris__core_store_error(core, req, IRIS_ENOMEM);
	else
		iris__bus_reply(req);
}

static void
unsubscribe(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_PresenceUnsubscribe *pu =
	    &req->u.frame->body.presence_unsubscribe;
	char user[IRIS_USER_MAX + 1];
	struct watcher *w;
	struct sub *s;
	pb_size_t i;

	if ((w = watcher_get(core, &req->from, 0)) != NULL)
		for (i = 0; i < pu->users_count; i++) {
			copy_user(user, pu->users[i]);
			if ((s = sub_find(w, user)) != NULL)
				sub_free(core, s);
		}
	iris__bus_reply(req);
}

static void
online(struct iris_core *core, struct iris_bus_req *req)
{
	struct pres *p = pres_get(core, req->from.user, 1);
	struct conn_ent *c;

	if (p != NULL && (c = iris__calloc(1, sizeof(*c))) != NULL) {
		c->conn = req->from.conn;
		c->device = req->from.device;
		c->next = p->conns;
		p->conns = c;
		if (++p->nconns == 1)
			notify(core, p);
	}
	iris__bus_reply(req);
	pres_trim(core);
}

static void
offline(struct iris_core *core, struct iris_bus_req *req)
{
	struct pres *p = pres_get(core, req->from.user, 0);
	struct conn_ent **cp, *c;
	struct watcher *w;

	for (cp = p != NULL ? &p->conns : NULL; cp != NULL && *cp != NULL;
	    cp = &(*cp)->next)
		if ((*cp)->conn == req->from.conn) {
			c = *cp;
			*cp = c->next;
			iris__free(c);
			if (--p->nconns == 0) {
				p->last_seen_ms = iris__clock_realtime_ms(NULL);
				notify(core, p);
			}
			break;
		}
	if ((w = watcher_get(core, &req->from, 0)) != NULL)
		watcher_free(core, w);
	iris__core_senders_drop(core, req->from.conn);
	iris__bus_reply(req);
}

static void
settings_done(struct core_op *op, struct iris_acct_job *j)
{
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;

	if (j->job.rc != IRIS_OK) {
		iris__core_op_free(op);
		iris__core_store_error(core, req, j->job.rc);
		return;
	}
	iris__core_presence_recheck(core, req->from.user);
	iris__core_op_reply(op);
}

static void
settings(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_PresenceSettings *ps =
	    &req->u.frame->body.presence_settings;
	struct iris_acct_job *j;
	int rc;

	if ((j = iris__acct_job_new(core->store, ACCT_SETTINGS, NULL,
	    NULL)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	memcpy(j->user, req->from.user, sizeof(j->user));
	j->privacy = ps->privacy;
	j->receipts = ps->receipts;
	if ((rc = iris__core_acct_submit(core, req, j, settings_done)) !=
	    IRIS_OK)
		iris__core_store_error(core, req, rc);
}

static void
contacts_done(struct core_op *op, struct iris_acct_job *j)
{
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;

	if (j->job.rc == IRIS_OK) {
		iris__core_presence_recheck(core, req->from.user);
		iris__core_op_reply(op);
		return;
	}
	iris__core_op_free(op);
	if (j->job.rc == IRIS_ENOTFOUND)
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_UNKNOWN_USER,
		    0, "a contact added is not a user");
	else if (j->job.rc == IRIS_ELIMIT)
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "the contact list would be too long");
	else
		iris__core_store_error(core, req, j->job.rc);
}

static void
contacts_edit(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_ContactsEdit *ce = &req->u.frame->body.contacts_edit;
	struct iris_acct_job *j;
	pb_size_t i;
	int rc;

	if ((j = iris__acct_job_new(core->store, ACCT_CONTACTS, NULL,
	    NULL)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	memcpy(j->user, req->from.user, sizeof(j->user));
	for (i = 0; i < ce->add_count && i < IRIS_CONTACTS_EDIT_MAX; i++)
		copy_user(j->add[i], ce->add[i]);
	j->nadd = i;
	for (i = 0; i < ce->remove_count && i < IRIS_CONTACTS_EDIT_MAX; i++)
		copy_user(j->del[i], ce->remove[i]);
	j->ndel = i;
	j->max_contacts = core->max_contacts;
	if ((rc = iris__core_acct_submit(core, req, j, contacts_done)) !=
	    IRIS_OK)
		iris__core_store_error(core, req, rc);
}

struct clist {
	struct iris_slice	*users;
	char			*names;
	size_t			 n, max;
};

static void
one_contact(const char *contact, void *arg)
{
	struct clist *l = arg;
	char *slot;

	if (l->n >= l->max)
		return;
	slot = l->names + l->n * (IRIS_USER_MAX + 1);
	snprintf(slot, IRIS_USER_MAX + 1, "%s", contact);
	l->users[l->n].ptr = (const uint8_t *)slot;
	l->users[l->n].len = strlen(slot);
	l->n++;
}

static void
contacts_get(struct iris_core *core, struct iris_bus_req *req)
{
	struct iris_wire_msg m;
	struct clist l;
	int rc;

	memset(&l, 0, sizeof(l));
	l.max = core->max_contacts;
	if ((l.users = iris__calloc(l.max, sizeof(*l.users))) == NULL ||
	    (l.names = iris__calloc(l.max, IRIS_USER_MAX + 1)) == NULL) {
		iris__free(l.users);
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	rc = iris__acct_contacts(core->store, req->from.user, l.max,
	    one_contact, &l);
	iris__wire_msg_init(&m);
	m.f.request_id = req->rid;
	memcpy(m.f.trace_id, req->from.trace, 16);
	m.f.which_body = iris_v1_Frame_contacts_tag;
	m.users = l.users;
	m.nusers = l.n;
	if (rc >= 0)
		rc = iris__core_encode(&m, &req->rep.frames, &req->rep.len);
	m.users = NULL;
	m.nusers = 0;
	iris__wire_msg_reset(&m);
	iris__free(l.users);
	iris__free(l.names);
	if (rc < 0)
		iris__core_store_error(core, req, rc);
	else
		iris__bus_reply(req);
}

void
iris__core_presence(struct iris_core *core, struct iris_bus_req *req)
{
	switch (req->op) {
	case IRIS_BUS_ONLINE:
		online(core, req);
		break;
	case IRIS_BUS_OFFLINE:
		offline(core, req);
		break;
	case IRIS_BUS_PRESENCE_SUB:
		subscribe(core, req);
		break;
	case IRIS_BUS_PRESENCE_UNSUB:
		unsubscribe(core, req);
		break;
	case IRIS_BUS_SETTINGS:
		settings(core, req);
		break;
	case IRIS_BUS_CONTACTS_GET:
		contacts_get(core, req);
		break;
	default:
		contacts_edit(core, req);
		break;
	}
}

void
iris__core_presence_free(struct iris_core *core)
{
	struct iris_hnode *n, *it;
	struct conn_ent *c;
	struct pres *p;
	size_t cur = 0;

	while ((n = iris__hmap_each(&core->watchers, &cur, &it)) != NULL)
		watcher_free(core, IRIS__CONTAINER(n, struct watcher, node));
	cur = 0;
	while ((n = iris__hmap_each(&core->presence, &cur, &it)) != NULL) {
		p = IRIS__CONTAINER(n, struct pres, node);
		while ((c = p->conns) != NULL) {
			p->conns = c->next;
			iris__free(c);
		}
		iris__hmap_del(&core->presence, n);
		iris__free(p);
	}
	iris__hmap_free(&core->watchers);
	iris__hmap_free(&core->presence);
}

/* SPDX-License-Identifier: ISC */
/*
 * Presence, contacts and settings: the server-side contact list the
 * owner edits, the privacy setting (who sees my presence) and whether my
 * devices make delivery receipts, presence subscriptions kept across
 * reconnects, and link tokens from the primary device.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"

#define CHUNK	64	/* users in one request (the protocol's max) */

static int
answer_rc(const struct iris_wire_msg *m, pb_size_t want)
{
	if (m->f.which_body == iris_v1_Frame_error_tag)
		return m->f.body.error.code == iris_v1_ErrorCode_ERR_NONE ?
		    IRIS_ECLOSED : iris__wire_to_iris(m->f.body.error.code);
	return m->f.which_body == want ? IRIS_OK : IRIS_EPROTO;
}

/* Users given by the embedder: each a valid user id. */
static int
check_users(struct iris_client *c, const char *const *users, size_t n,
    size_t max)
{
	size_t i;

	if (n > 0 && users == NULL)
		return IRIS_EINVAL;
	if (n > max) {
		iris__client_seterr(c, "at most %zu users at once", max);
		return IRIS_ETOOBIG;
	}
	for (i = 0; i < n; i++)
		if (users[i] == NULL || !iris__wire_userid_ok(
		    (const uint8_t *)users[i], strlen(users[i]))) {
			iris__client_seterr(c, "user %zu is not a valid user "
			    "id", i);
			return IRIS_EINVAL;
		}
	return IRIS_OK;
}

/*
 * Sends m as a request of kind; the caller sets the callback in *rp
 * before the answer can come (answers come from the loop, later).
 * IRIS_ESTATE when offline.
 */
static int
ask(struct iris_client *c, struct iris_wire_msg *m, enum creq_kind kind,
    struct creq **rp, void *arg)
{
	struct creq *r;
	int rc;

	if (!iris__conn_is_online(c)) {
		iris__client_seterr(c, "not online");
		return IRIS_ESTATE;
	}
	if ((r = iris__conn_req(c, kind, m)) == NULL)
		return IRIS_EAGAIN;
	r->arg = arg;
	if ((rc = iris__conn_send(c, m)) != IRIS_OK) {
		iris__conn_req_free(c, r);
		return rc;
	}
	if (rp != NULL)
		*rp = r;
	return IRIS_OK;
}

/* Presence events. */
struct ev_presence {
	struct cev	 ev;
	char		 user[IRIS_USER_MAX + 1];
	int		 online;
	int		 hidden;
	uint64_t	 last_seen;
};

static void
presence_fire(struct iris_client *c, struct cev *e)
{
	struct ev_presence *x = (struct ev_presence *)e;

	if (c->on_presence != NULL)
		c->on_presence(c, x->user, x->online, x->last_seen, x->hidden,
		    c->on_presence_arg);
}

static void
free_drop(struct cev *e)
{
	iris__free(e);
}

void
iris__social_presence(struct iris_client *c, const iris_v1_PresenceUpdate *u)
{
	struct ev_presence *x;
	pb_size_t i;

	for (i = 0; i < u->items_count; i++) {
		if ((x = iris__calloc(1, sizeof(*x))) == NULL)
			return;
		x->ev.fire = presence_fire;
		x->ev.drop = free_drop;
		memcpy(x->user, u->items[i].user.bytes, u->items[i].user.size);
		x->online = u->items[i].online;
		x->hidden = u->items[i].hidden;
		x->last_seen = u->items[i].last_seen_ms;
		iris__client_event(c, &x->ev);
	}
}

/* Link tokens and contact lists carry data to their callbacks. */
struct ev_token {
	struct cev		 ev;
	iris_client_token_cb	 cb;
	void			*arg;
	int			 rc;
	char			 token[IRIS_USER_MAX + 1];
	uint64_t		 expires;
};

static void
token_fire(struct iris_client *c, struct cev *e)
{
	struct ev_token *x = (struct ev_token *)e;

	x->cb(c, x->rc, x->rc == IRIS_OK ? x->token : NULL, x->expires,
	    x->arg);
}

struct ev_contacts {
	struct cev		 ev;
	iris_client_contacts_cb	 cb;
	void			*arg;
	int			 rc;
	size_t			 n;
	char			**users;
};

static void
contacts_fire(struct iris_client *c, struct cev *e)
{
	struct ev_contacts *x = (struct ev_contacts *)e;

	x->cb(c, x->rc, (const char *const *)x->users, x->n, x->arg);
}

static void
contacts_drop(struct cev *e)
{
	struct ev_contacts *x = (struct ev_contacts *)e;

	iris__free(x->users);
	iris__free(x);
}

static void
got_contacts(struct iris_client *c, struct creq *r, struct iris_wire_msg *m)
{
	struct ev_contacts *x;
	char *p;
	size_t i, bytes = 0;

	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = contacts_fire;
	x->ev.drop = contacts_drop;
	x->cb = r->cb.contacts;
	x->arg = r->arg;
	if ((x->rc = answer_rc(m, iris_v1_Frame_contacts_tag)) == IRIS_OK) {
		/* One block: the pointers, then the strings. */
		for (i = 0; i < m->nusers; i++)
			bytes += m->users[i].len + 1;
		if ((x->users = iris__malloc((m->nusers + 1) *
		    sizeof(char *) + bytes)) == NULL)
			x->rc = IRIS_ENOMEM;
		else {
			p = (char *)(x->users + m->nusers + 1);
			for (i = 0; i < m->nusers; i++) {
				x->users[i] = p;
				memcpy(p, m->users[i].ptr, m->users[i].len);
				p += m->users[i].len;
				*p++ = '\0';
			}
			x->users[m->nusers] = NULL;
			x->n = m->nusers;
		}
	}
	iris__client_event(c, &x->ev);
}

void
iris__social_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	struct creq q = *r;
	struct ev_token *t;
	int rc;

	iris__conn_req_free(c, r);
	switch (q.kind) {
	case RQ_LINK_TOKEN:
		if ((t = iris__calloc(1, sizeof(*t))) == NULL)
			return;
		t->ev.fire = token_fire;
		t->ev.drop = free_drop;
		t->cb = q.cb.token;
		t->arg = q.arg;
		if ((t->rc = answer_rc(m, iris_v1_Frame_link_token_tag)) ==
		    IRIS_OK) {
			memcpy(t->token, m->f.body.link_token.token.bytes,
			    m->f.body.link_token.token.size);
			t->expires = m->f.body.link_token.expires_ms;
		}
		iris__client_event(c, &t->ev);
		break;
	case RQ_CONTACTS_GET:
		got_contacts(c, &q, m);
		break;
	case RQ_SUBSCRIBE:
		/* The answer holds the current presence of those named. */
		if (answer_rc(m, iris_v1_Frame_presence_update_tag) == IRIS_OK)
			iris__social_presence(c, &m->f.body.presence_update);
		break;
	case RQ_CONTACTS_EDIT:
	case RQ_SETTINGS:
		rc = answer_rc(m, iris_v1_Frame_done_tag);
		if (rc == IRIS_OK && q.kind == RQ_SETTINGS)
			iris__read_privacy(c, q.num == 2);
		iris__client_done_event(c, q.cb.done, q.arg, rc);
		break;
	default:
		break;
	}
}

int
iris_client_link_token(struct iris_client *c, iris_client_token_cb cb,
    void *arg)
{
	struct iris_wire_msg m;
	struct creq *r;
	int rc;

	if (c == NULL || cb == NULL)
		return IRIS_EINVAL;
	if (!c->primary) {
		iris__client_seterr(c, "only the primary device admits new "
		    "devices");
		return IRIS_EDENIED;
	}
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_link_token_create_tag;
	if ((rc = ask(c, &m, RQ_LINK_TOKEN, &r, arg)) == IRIS_OK)
		r->cb.token = cb;
	return rc;
}

#define PUT_USERS(arr, cnt, users, n) do {				\
	size_t i_;							\
									\
	for (i_ = 0; i_ < (n); i_++) {					\
		(arr)[i_].size = (pb_size_t)strlen((users)[i_]);	\
		memcpy((arr)[i_].bytes, (users)[i_], (arr)[i_].size);	\
	}								\
	(cnt) = (pb_size_t)(n);						\
} while (0)

int
iris_client_contacts_edit(struct iris_client *c, const char *const *add,
    size_t nadd, const char *const *remove, size_t nremove,
    iris_client_done_cb cb, void *arg)
{
	iris_v1_ContactsEdit *e;
	struct iris_wire_msg m;
	struct creq *r;
	int rc;

	if (c == NULL || (nadd == 0 && nremove == 0))
		return IRIS_EINVAL;
	if ((rc = check_users(c, add, nadd, CHUNK)) != IRIS_OK ||
	    (rc = check_users(c, remove, nremove, CHUNK)) != IRIS_OK)
		return rc;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_contacts_edit_tag;
	e = &m.f.body.contacts_edit;
	PUT_USERS(e->add, e->add_count, add, nadd);
	PUT_USERS(e->remove, e->remove_count, remove, nremove);
	if ((rc = ask(c, &m, RQ_CONTACTS_EDIT, &r, arg)) == IRIS_OK)
		r->cb.done = cb;
	return rc;
}

int
iris_client_contacts(struct iris_client *c, iris_client_contacts_cb cb,
    void *arg)
{
	struct iris_wire_msg m;
	struct creq *r;
	int rc;

	if (c == NULL || cb == NULL)
		return IRIS_EINVAL;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_contacts_get_tag;
	if ((rc = ask(c, &m, RQ_CONTACTS_GET, &r, arg)) == IRIS_OK)
		r->cb.contacts = cb;
	return rc;
}

int
iris_client_set_privacy(struct iris_client *c, int privacy, int receipts,
    iris_client_done_cb cb, void *arg)
{
	struct iris_wire_msg m;
	struct creq *r;
	int rc;

	if (c == NULL || privacy < IRIS_PRIVACY_EVERYONE ||
	    privacy > IRIS_PRIVACY_NOBODY)
		return IRIS_EINVAL;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_presence_settings_tag;
	m.f.body.presence_settings.privacy = (iris_v1_Privacy)privacy;
	m.f.body.presence_settings.receipts = receipts != 0;
	if ((rc = ask(c, &m, RQ_SETTINGS, &r, arg)) == IRIS_OK) {
		r->cb.done = cb;
		r->num = receipts != 0 ? 2 : 1;	/* for read receipts */
	}
	return rc;
}

/* Sends a (un)subscription for users, in chunks the protocol allows. */
static int
send_subs(struct iris_client *c, int sub, const char *const *users,
    size_t n)
{
	struct iris_wire_msg m;
	size_t off, k;
	int rc = IRIS_OK;

	for (off = 0; off < n && rc == IRIS_OK; off += k) {
		k = n - off < CHUNK ? n - off : CHUNK;
		iris__wire_msg_init(&m);
		if (sub) {
			m.f.which_body = iris_v1_Frame_presence_subscribe_tag;
			PUT_USERS(m.f.body.presence_subscribe.users,
			    m.f.body.presence_subscribe.users_count,
			    users + off, k);
		} else {
			m.f.which_body =
			    iris_v1_Frame_presence_unsubscribe_tag;
			PUT_USERS(m.f.body.presence_unsubscribe.users,
			    m.f.body.presence_unsubscribe.users_count,
			    users + off, k);
		}
		rc = ask(c, &m, sub ? RQ_SUBSCRIBE : RQ_UNSUBSCRIBE, NULL,
		    NULL);
	}
	return rc;
}

static ssize_t
sub_find(const struct iris_client *c, const char *user)
{
	size_t i;

	for (i = 0; i < c->nsubs; i++)
		if (strcmp(c->subs[i], user) == 0)
			return (ssize_t)i;
	return -1;
}

int
iris_client_subscribe(struct iris_client *c, const char *const *users,
    size_t n)
{
	size_t i, added = 0;
	int rc;

	if (c == NULL || n == 0)
		return IRIS_EINVAL;
	if ((rc = check_users(c, users, n, IRIS_CLIENT_SUBS_MAX)) != IRIS_OK)
		return rc;
	if (c->subs == NULL && (c->subs = iris__calloc(IRIS_CLIENT_SUBS_MAX,
	    sizeof(*c->subs))) == NULL)
		return IRIS_ENOMEM;
	for (i = 0; i < n; i++)
		if (sub_find(c, users[i]) < 0)
			added++;
	if (c->nsubs + added > IRIS_CLIENT_SUBS_MAX) {
		iris__client_seterr(c, "at most %d presence subscriptions",
		    IRIS_CLIENT_SUBS_MAX);
		return IRIS_ELIMIT;
	}
	for (i = 0; i < n; i++)
		if (sub_find(c, users[i]) < 0)
			snprintf(c->subs[c->nsubs++], IRIS_USER_MAX + 1, "%s",
			    users[i]);
	/* Offline: sent at the next login. */
	if (!iris__conn_is_online(c))
		return IRIS_OK;
	return send_subs(c, 1, users, n);
}

int
iris_client_unsubscribe(struct iris_client *c, const char *const *users,
    size_t n)
{
	ssize_t k;
	size_t i;
	int rc;

	if (c == NULL || n == 0)
		return IRIS_EINVAL;
	if ((rc = check_users(c, users, n, IRIS_CLIENT_SUBS_MAX)) != IRIS_OK)
		return rc;
	for (i = 0; i < n; i++)
		if ((k = sub_find(c, users[i])) >= 0) {
			memcpy(c->subs[k], c->subs[c->nsubs - 1],
			    sizeof(c->subs[k]));
			c->nsubs--;
		}
	if (!iris__conn_is_online(c))
		return IRIS_OK;
	return send_subs(c, 0, users, n);
}

void
iris__social_online(struct iris_client *c)
{
	const char *users[CHUNK];
	size_t i, k;

	for (i = 0; i < c->nsubs; i += k) {
		for (k = 0; k < CHUNK && i + k < c->nsubs; k++)
			users[k] = c->subs[i + k];
		if (send_subs(c, 1, users, k) != IRIS_OK)
			return;
	}
}

/* SPDX-License-Identifier: ISC */
/*
 * Device lists: fetched from the server, verified here (signed by the
 * user's primary device over "IRIS-DEVLIST-v1" || list, never a version
 * below the one seen before, and a primary key that does not change),
 * cached in memory and in the store. The own list, which the primary
 * signs, is devput.c's.
 */
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"

#define REC_VERSION	1

static void
rec_encode(const struct devlist *l, struct iris_buf *b)
{
	size_t i;

	iris__buf_u8(b, REC_VERSION);
	iris__buf_u64(b, l->version);
	iris__buf_u8(b, (uint8_t)l->n);
	for (i = 0; i < l->n; i++) {
		iris__buf_u32(b, l->ids[i]);
		iris__buf_put(b, l->keys[i], 32);
	}
	iris__buf_put(b, l->primary, 32);
}

static int
rec_decode(struct devlist *l, const uint8_t *p, size_t n)
{
	struct iris_rd r;
	size_t i;

	iris__rd_init(&r, p, n);
	if (iris__rd_u8(&r) != REC_VERSION)
		return IRIS_ECORRUPT;
	l->version = iris__rd_u64(&r);
	if ((l->n = iris__rd_u8(&r)) > IRIS_DEVICES_MAX)
		return IRIS_ECORRUPT;
	for (i = 0; i < l->n; i++) {
		l->ids[i] = iris__rd_u32(&r);
		iris__rd_copy(&r, l->keys[i], 32);
	}
	iris__rd_copy(&r, l->primary, 32);
	return iris__rd_done(&r);
}

static void
user_tag(struct iris_client *c, const char *user, uint8_t tag[32])
{
	iris__cs_tag(c->cs, CS_D_USER, user, strlen(user), tag);
}

/* Keeps at most LISTS_MAX in memory: the least used other one goes. */
static void
evict(struct iris_client *c)
{
	struct devlist **pp, **victim = NULL, *l;

	if (c->nlists < IRIS_CLIENT_LISTS_MAX)
		return;
	for (pp = &c->lists; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->user, c->user) != 0 &&
		    (victim == NULL || (*pp)->used < (*victim)->used))
			victim = pp;
	if (victim == NULL)
		return;
	l = *victim;
	*victim = l->next;
	iris__free(l);
	c->nlists--;
}

static struct devlist *
cache(struct iris_client *c, const struct devlist *src)
{
	struct devlist *l;

	for (l = c->lists; l != NULL; l = l->next)
		if (strcmp(l->user, src->user) == 0)
			break;
	if (l == NULL) {
		evict(c);
		if ((l = iris__malloc(sizeof(*l))) == NULL)
			return NULL;
		*l = *src;
		l->next = c->lists;
		c->lists = l;
		c->nlists++;
	} else {
		struct devlist *next = l->next;

		*l = *src;
		l->next = next;
	}
	l->used = ++c->list_clock;
	return l;
}

struct devlist *
iris__devlist_find(struct iris_client *c, const char *user)
{
	struct devlist *l, tmp;
	struct iris_buf b;
	uint8_t tag[32];

	for (l = c->lists; l != NULL; l = l->next)
		if (strcmp(l->user, user) == 0) {
			l->used = ++c->list_clock;
			return l;
		}
	if (c->acct == 0)
		return NULL;
	user_tag(c, user, tag);
	iris__buf_init(&b, 0);
	memset(&tmp, 0, sizeof(tmp));
	l = NULL;
	if (iris__cs_devlist_get(c->cs, c->acct, tag, &b) == IRIS_OK &&
	    rec_decode(&tmp, b.p, b.len) == IRIS_OK) {
		snprintf(tmp.user, sizeof(tmp.user), "%s", user);
		l = cache(c, &tmp);
	}
	iris__buf_free(&b);
	return l;
}

static void
persist(struct iris_client *c, const struct devlist *l)
{
	struct iris_cs_txn *t;
	struct iris_buf b;
	uint8_t tag[32];

	/* Best effort: a list not kept is fetched again. */
	if ((t = iris__client_txn(c, NULL, NULL)) == NULL)
		return;
	user_tag(c, l->user, tag);
	iris__buf_init(&b, 0);
	rec_encode(l, &b);
	if (b.err != 0 || iris__cs_op_devlist(t, c->acct, tag, b.p, b.len) !=
	    IRIS_OK || iris__client_submit(c, t) != IRIS_OK)
		iris__client_txn_drop(t);
	iris__buf_free(&b);
}

/* Checks a signed list: its user, its signature, no rollback. */
static int
verify(struct iris_client *c, const char *user,
    const iris_v1_SignedDeviceList *sl, struct devlist *out)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	const struct devlist *old = iris__devlist_find(c, user);
	uint8_t msg[sizeof(IRIS__DEVLIST_PREFIX) - 1 + 4096];
	const uint8_t *pkey = NULL;
	pb_istream_t in;
	size_t i;

	in = pb_istream_from_buffer(sl->list.bytes, sl->list.size);
	if (!pb_decode(&in, iris_v1_DeviceList_fields, &dl) ||
	    dl.user.size != strlen(user) ||
	    memcmp(dl.user.bytes, user, dl.user.size) != 0 ||
	    dl.devices_count == 0)
		return IRIS_EPROTO;
	memset(out, 0, sizeof(*out));
	memcpy(out->user, user, dl.user.size);
	out->version = dl.version;
	out->n = dl.devices_count;
	for (i = 0; i < out->n; i++) {
		out->ids[i] = dl.devices[i].device_id;
		memcpy(out->keys[i], dl.devices[i].identity_key, 32);
		if (out->ids[i] == IRIS_CLIENT_PRIMARY)
			pkey = out->keys[i];
	}
	/* The primary we know signs; a list without it needs us to know. */
	if (old != NULL)
		pkey = old->primary;
	else if (strcmp(user, c->user) == 0 && c->primary)
		pkey = c->pk;
	if (pkey == NULL)
		return IRIS_ECRYPTO;
	memcpy(out->primary, pkey, 32);
	memcpy(msg, IRIS__DEVLIST_PREFIX, sizeof(IRIS__DEVLIST_PREFIX) - 1);
	memcpy(msg + sizeof(IRIS__DEVLIST_PREFIX) - 1, sl->list.bytes,
	    sl->list.size);
	if (crypto_sign_verify_detached(sl->signature, msg,
	    sizeof(IRIS__DEVLIST_PREFIX) - 1 + sl->list.size, pkey) != 0)
		return IRIS_ECRYPTO;
	for (i = 0; i < out->n; i++)
		if (out->ids[i] == IRIS_CLIENT_PRIMARY &&
		    sodium_memcmp(out->keys[i], pkey, 32) != 0)
			return IRIS_ECRYPTO;	/* the primary's key changed */
	if (old != NULL && out->version < old->version)
		return IRIS_ESTALE;		/* rolled back */
	return IRIS_OK;
}

int
iris__devlist_accept(struct iris_client *c, const char *user,
    const iris_v1_SignedDeviceList *sl, struct devlist **out, int *changed)
{
	struct devlist tmp, *old, *l;
	int rc;

	*out = NULL;
	*changed = 0;
	if ((rc = verify(c, user, sl, &tmp)) != IRIS_OK) {
		iris__client_error_event(c, rc, "the device list of %s was "
		    "refused: %s", user, rc == IRIS_ESTALE ? "an older version"
		    : rc == IRIS_ECRYPTO ? "its signature does not verify with "
		    "the user's primary key" : "malformed");
		return rc;
	}
	old = iris__devlist_find(c, user);
	if (old != NULL && old->version == tmp.version) {
		*out = old;
		return IRIS_OK;
	}
	/* Before the cache takes it: old is overwritten in place. */
	iris__devlist_changes(c, old, &tmp);
	if ((l = cache(c, &tmp)) == NULL)
		return IRIS_ENOMEM;
	persist(c, l);
	*changed = 1;
	*out = l;
	if (strcmp(user, c->user) == 0) {
		size_t i;

		c->listed = 0;
		for (i = 0; i < l->n; i++)
			c->listed |= l->ids[i] == c->device;
	}
	return IRIS_OK;
}

int
iris__devlist_accept_any(struct iris_client *c,
    const iris_v1_SignedDeviceList *sl, const char *const *want,
    char user[IRIS_USER_MAX + 1])
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	struct devlist *l;
	pb_istream_t in;
	int changed;

	user[0] = '\0';
	in = pb_istream_from_buffer(sl->list.bytes, sl->list.size);
	if (!pb_decode(&in, iris_v1_DeviceList_fields, &dl) ||
	    !iris__wire_userid_ok(dl.user.bytes, dl.user.size))
		return IRIS_EPROTO;
	memcpy(user, dl.user.bytes, dl.user.size);
	user[dl.user.size] = '\0';
	for (; *want != NULL; want++)
		if (strcmp(*want, user) == 0)
			break;
	if (*want == NULL)
		return IRIS_EPROTO;	/* not a user of this send */
	return iris__devlist_accept(c, user, sl, &l, &changed);
}

/* A list of who a fetch is for, kept in the request. */
struct fetch {
	char			 user[IRIS_USER_MAX + 1];
};

static int
fetching(struct iris_client *c, const char *user)
{
	size_t i;

	for (i = 0; i < IRIS_CLIENT_MAX_REQS; i++)
		if (c->reqs[i].rid != 0 && c->reqs[i].kind == RQ_DEVLIST_GET &&
		    c->reqs[i].cb.devices == NULL && strcmp(((struct fetch *)
		    c->reqs[i].ctx)->user, user) == 0)
			return 1;
	return 0;
}

static int
fetch(struct iris_client *c, const char *user, iris_client_devices_cb cb,
    void *arg)
{
	struct iris_wire_msg m;
	struct fetch *f;
	struct creq *r;

	if (!iris__conn_is_online(c))
		return IRIS_ESTATE;
	if ((f = iris__calloc(1, sizeof(*f))) == NULL)
		return IRIS_ENOMEM;
	snprintf(f->user, sizeof(f->user), "%s", user);
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_device_list_get_tag;
	m.f.body.device_list_get.users_count = 1;
	m.f.body.device_list_get.users[0].size = (pb_size_t)strlen(user);
	memcpy(m.f.body.device_list_get.users[0].bytes, user, strlen(user));
	if ((r = iris__conn_req(c, RQ_DEVLIST_GET, &m)) == NULL) {
		iris__free(f);
		return IRIS_EAGAIN;
	}
	r->ctx = f;
	r->cb.devices = cb;
	r->arg = arg;
	if (iris__conn_send(c, &m) != IRIS_OK) {
		iris__free(f);
		iris__conn_req_free(c, r);
		return IRIS_EAGAIN;
	}
	return IRIS_OK;
}

int
iris__devlist_fetch(struct iris_client *c, const char *user)
{
	if (fetching(c, user))
		return IRIS_OK;
	return fetch(c, user, NULL, NULL);
}

/* The embedder's answer to iris_client_devices(). */
struct ev_devices {
	struct cev		 ev;
	iris_client_devices_cb	 cb;
	void			*arg;
	int			 rc;
	struct devlist		 l;
};

static void
devices_fire(struct iris_client *c, struct cev *e)
{
	struct ev_devices *x = (struct ev_devices *)e;

	x->cb(c, x->rc, x->l.user, x->l.version, x->l.ids,
	    (const uint8_t (*)[32])x->l.keys, x->l.n, x->arg);
}

static void
devices_drop(struct cev *e)
{
	iris__free(e);
}

static void
devices_event(struct iris_client *c, iris_client_devices_cb cb, void *arg,
    int rc, const char *user, const struct devlist *l)
{
	struct ev_devices *x;

	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = devices_fire;
	x->ev.drop = devices_drop;
	x->cb = cb;
	x->arg = arg;
	x->rc = rc;
	if (l != NULL)
		x->l = *l;
	snprintf(x->l.user, sizeof(x->l.user), "%s", user);
	iris__client_event(c, &x->ev);
}

static void
got_lists(struct iris_client *c, struct creq *r, struct iris_wire_msg *m)
{
	struct fetch *f = r->ctx;
	iris_client_devices_cb cb = r->cb.devices;
	void *arg = r->arg;
	struct devlist *l = NULL;
	int rc = IRIS_ENOTFOUND, changed = 0, lost;
	size_t i;

	lost = m->f.which_body == iris_v1_Frame_error_tag;
	if (lost && m->f.body.error.code != iris_v1_ErrorCode_ERR_NONE)
		rc = iris__wire_to_iris(m->f.body.error.code);
	else if (lost)
		rc = IRIS_ECLOSED;
	for (i = 0; !lost && i < m->nlists; i++)
		rc = iris__devlist_accept(c, f->user, &m->lists[i], &l,
		    &changed);
	if (rc == IRIS_ESTALE && (l = iris__devlist_find(c, f->user)) !=
	    NULL)
		rc = IRIS_OK;	/* an older one than we know: keep ours */
	if (rc != IRIS_OK)
		l = NULL;
	if (cb != NULL)
		devices_event(c, cb, arg, rc, f->user, l);
	if (strcmp(f->user, c->user) == 0)
		iris__devlist_own_seen(c, l, lost);
	/* The outbox waits for lists; a user without one fails its sends. */
	iris__outbox_lists(c, f->user, rc, changed);
	if (rc == IRIS_OK)
		iris__recv_typing_lists(c, f->user);
	iris__recv_hold_lists(c, f->user, lost ? IRIS_ECLOSED : rc);
	iris__free(f);
}

void
iris__devlist_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	enum creq_kind kind = r->kind;
	struct creq copy = *r;

	iris__conn_req_free(c, r);
	if (kind == RQ_DEVLIST_GET)
		got_lists(c, &copy, m);
	else
		iris__devlist_put_answer(c, &copy, m);
}

void
iris__devlist_online(struct iris_client *c)
{
	/* The own list may have changed on another device: fetch it. */
	c->own_fetching = 1;
	if (fetch(c, c->user, NULL, NULL) != IRIS_OK)
		c->own_fetching = 0;
}

void
iris__devlist_free_all(struct iris_client *c)
{
	struct devlist *l;

	while ((l = c->lists) != NULL) {
		c->lists = l->next;
		iris__free(l);
	}
	c->nlists = 0;
}

int
iris_client_devices(struct iris_client *c, const char *user,
    iris_client_devices_cb cb, void *arg)
{
	if (c == NULL || cb == NULL || user == NULL ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	return fetch(c, user, cb, arg);
}

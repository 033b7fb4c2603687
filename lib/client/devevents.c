/* SPDX-License-Identifier: ISC */
/*
 * What a newly verified device list changes, against the one kept
 * before: identity events for the embedder (a device added, removed, or
 * holding another key), and for each device removed or rekeyed, its
 * sessions and its fetched bundle forgotten by the sealer, so that no
 * later send is sealed for it and nothing from it opens over a session
 * made before. Nothing happens on the first list seen of a user: there
 * is nothing to compare it with, and it is the one trusted on first use.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/seal_e2ee.h"
#include "util/alloc.h"

struct ev_identity {
	struct cev	 ev;
	char		 user[IRIS_USER_MAX + 1];
	int		 event;
	uint32_t	 device;
	uint8_t		 key[32];
};

static void
identity_fire(struct iris_client *c, struct cev *e)
{
	struct ev_identity *x = (struct ev_identity *)e;

	if (c->on_identity != NULL)
		c->on_identity(c, x->user, x->event, x->device, x->key,
		    c->on_identity_arg);
}

static void
identity_drop(struct cev *e)
{
	iris__free(e);
}

static void
identity_event(struct iris_client *c, const char *user, int event,
    uint32_t device, const uint8_t key[32])
{
	struct ev_identity *x;

	iris__log(&c->log, IRIS_LOG_INFO, "client %s/%u: device %u of %s %s",
	    c->user, c->device, device, user,
	    event == IRIS_CLIENT_DEVICE_ADDED ? "added" :
	    event == IRIS_CLIENT_DEVICE_REMOVED ? "removed" :
	    "has a new identity key");
	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = identity_fire;
	x->ev.drop = identity_drop;
	snprintf(x->user, sizeof(x->user), "%s", user);
	x->event = event;
	x->device = device;
	memcpy(x->key, key, 32);
	iris__client_event(c, &x->ev);
}

/* The E2EE sealer forgets device's sessions (and its bundle). */
static void
forget(struct iris_client *c, const char *user, uint32_t device)
{
	uint8_t name[2 + IRIS_USER_MAX + 4];
	struct e2s_cached **pp, *e;
	struct e2s_bundle *b;
	struct iris_cs_txn *t;
	struct e2s *s;
	size_t ulen = strlen(user), nlen;

	if (c->seal != &iris__seal_e2ee || (s = c->sealer) == NULL ||
	    ulen > IRIS_E2EE_USER_MAX)
		return;
	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, user, ulen);
	iris__e2ee_put32(name + 2 + ulen, device);
	nlen = 2 + ulen + 4;
	for (pp = &s->cache; (e = *pp) != NULL; pp = &e->next)
		if (e->nlen == nlen && memcmp(e->name, name, nlen) == 0) {
			*pp = e->next;
			iris__e2ee_wipe(e->data, e->len);
			iris__free(e->data);
			iris__free(e->name);
			iris__free(e);
			break;
		}
	if ((b = iris__e2s_bundle_find(s, user, device)) != NULL) {
		/* The slot is free again (device ids are never 0). */
		iris__e2ee_wipe(b, sizeof(*b));
	}
	/* Transactions commit in order: seals made before this one were
	 * for the old list, and none after it is for this device. */
	if ((t = iris__client_txn(c, NULL, NULL)) == NULL)
		return;
	if (iris__seal_state_del(c, t, name, nlen) != IRIS_OK ||
	    iris__client_submit(c, t) != IRIS_OK)
		iris__client_txn_drop(t);
}

static const uint8_t *
key_of(const struct devlist *l, uint32_t device)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->ids[i] == device)
			return l->keys[i];
	return NULL;
}

void
iris__devlist_changes(struct iris_client *c, const struct devlist *old,
    const struct devlist *new)
{
	const uint8_t *k;
	size_t i;

	if (old == NULL)
		return;
	for (i = 0; i < old->n; i++) {
		if ((k = key_of(new, old->ids[i])) == NULL) {
			forget(c, new->user, old->ids[i]);
			identity_event(c, new->user, IRIS_CLIENT_DEVICE_REMOVED,
			    old->ids[i], old->keys[i]);
		} else if (sodium_memcmp(k, old->keys[i], 32) != 0) {
			forget(c, new->user, old->ids[i]);
			identity_event(c, new->user,
			    IRIS_CLIENT_IDENTITY_CHANGED, old->ids[i], k);
		}
	}
	for (i = 0; i < new->n; i++)
		if (key_of(old, new->ids[i]) == NULL)
			identity_event(c, new->user, IRIS_CLIENT_DEVICE_ADDED,
			    new->ids[i], new->keys[i]);
}

void
iris_client_set_identity_cb(struct iris_client *c,
    iris_client_identity_cb cb, void *arg)
{
	if (c == NULL)
		return;
	c->on_identity = cb;
	c->on_identity_arg = arg;
}

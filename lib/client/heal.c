/* SPDX-License-Identifier: ISC */
/*
 * Self-healing, the receiving side (heal.h): messages that did not open,
 * kept in the client store until the sender's resend heals them, with
 * their bounds, the failure streaks that make this side forget a session
 * too, decrypt failures counted by cause, and the embedder's calls
 * (iris_client_stats(), iris_client_set_decrypt_cb()).
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "util/alloc.h"
#include "util/clock.h"

#define KEPT_VERSION	1
static const char KEPT_INDEX[] = "hK";

int
iris__heal_new(struct iris_client *c)
{
	if ((c->heal = iris__calloc(1, sizeof(*c->heal))) == NULL)
		return IRIS_ENOMEM;
	return IRIS_OK;
}

void
iris__heal_free(struct iris_client *c)
{
	if (c->heal == NULL)
		return;
	iris__free(c->heal->ring);
	iris__free(c->heal);
	c->heal = NULL;
}

int
iris__heal_on(const struct iris_client *c)
{
	return c->heal != NULL && c->seal != NULL && c->seal->forget != NULL;
}

void
iris__heal_reset(struct iris_client *c)
{
	if (c->heal != NULL)
		c->heal->kept_loaded = 0;
}

int
iris__heal_cause(int rc)
{
	switch (rc) {
	case IRIS_EPROTO:
	case IRIS_EVERSION:
	case IRIS_ETOOBIG:
		return IRIS_CLIENT_DECRYPT_MALFORMED;
	case IRIS_ECRYPTO:
	case IRIS_ENOTFOUND:
	case IRIS_ESTATE:
		return IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC;
	case IRIS_ESTALE:
		return IRIS_CLIENT_DECRYPT_REPLAY;
	case IRIS_ELIMIT:
		return IRIS_CLIENT_DECRYPT_TOO_FAR;
	case IRIS_ENOTSUP:
		return IRIS_CLIENT_DECRYPT_FRAMING;
	default:
		return 0;
	}
}

void
iris__heal_count(struct iris_client *c, int rc)
{
	if (c->heal != NULL)
		c->heal->st.decrypt_failed[iris__heal_cause(rc)]++;
}

static struct heal_peer *
peer(struct heal *h, const char *user, uint32_t device)
{
	struct heal_peer *p, *old = &h->peers[0];
	size_t i;

	for (i = 0; i < HEAL_PEERS; i++) {
		p = &h->peers[i];
		if (p->device == device && strcmp(p->user, user) == 0) {
			p->used = ++h->clock;
			return p;
		}
		if (p->used < old->used)
			old = p;
	}
	memset(old, 0, sizeof(*old));
	snprintf(old->user, sizeof(old->user), "%s", user);
	old->device = device;
	old->used = ++h->clock;
	return old;
}

struct heal_peer *
iris__heal_peer(struct iris_client *c, const char *user, uint32_t device)
{
	return peer(c->heal, user, device);
}

void
iris__heal_opened(struct iris_client *c, const char *user, uint32_t device)
{
	if (c->heal != NULL)
		peer(c->heal, user, device)->streak = 0;
}

static int
kept_load(struct iris_client *c)
{
	struct heal *h = c->heal;
	struct heal_kept *k;
	struct iris_buf b;
	struct iris_rd r;
	size_t i, n;
	int rc;

	if (h->kept_loaded)
		return IRIS_OK;
	h->nkept = 0;
	iris__buf_init(&b, 0);
	rc = iris__seal_state_get(c, KEPT_INDEX, sizeof(KEPT_INDEX) - 1, &b);
	if (rc == IRIS_ENOTFOUND)
		rc = IRIS_OK;
	else if (rc == IRIS_OK) {
		iris__rd_init(&r, b.p, b.len);
		if (iris__rd_u8(&r) != KEPT_VERSION ||
		    (n = iris__rd_u16(&r)) > HEAL_KEEP_MAX)
			rc = IRIS_ECORRUPT;
		for (i = 0; rc == IRIS_OK && i < n; i++) {
			k = &h->kept[i];
			iris__rd_str8(&r, k->user, sizeof(k->user));
			k->device = iris__rd_u32(&r);
			iris__rd_copy(&r, k->cmid, 16);
			k->ms = iris__rd_u64(&r);
			k->cause = iris__rd_u8(&r);
			k->asked = iris__rd_u8(&r);
		}
		if (rc == IRIS_OK && iris__rd_done(&r) != IRIS_OK)
			rc = IRIS_ECORRUPT;
		if (rc == IRIS_OK)
			h->nkept = n;
	}
	iris__buf_free(&b);
	if (rc == IRIS_OK)
		h->kept_loaded = 1;
	return rc;
}

static int
kept_save(struct iris_client *c, struct iris_cs_txn *txn)
{
	struct heal *h = c->heal;
	struct iris_buf b;
	size_t i;
	int rc;

	iris__buf_init(&b, 0);
	iris__buf_u8(&b, KEPT_VERSION);
	iris__buf_u16(&b, (uint16_t)h->nkept);
	for (i = 0; i < h->nkept; i++) {
		iris__buf_str8(&b, h->kept[i].user, strlen(h->kept[i].user));
		iris__buf_u32(&b, h->kept[i].device);
		iris__buf_put(&b, h->kept[i].cmid, 16);
		iris__buf_u64(&b, h->kept[i].ms);
		iris__buf_u8(&b, h->kept[i].cause);
		iris__buf_u8(&b, h->kept[i].asked);
	}
	rc = b.err != 0 ? b.err : iris__seal_state_put(c, txn, KEPT_INDEX,
	    sizeof(KEPT_INDEX) - 1, b.p, b.len);
	iris__buf_free(&b);
	return rc;
}

static size_t
kept_name(uint8_t *name, const struct heal_kept *k)
{
	size_t ulen = strlen(k->user);

	name[0] = 'h';
	name[1] = 'k';
	memcpy(name + 2, k->cmid, 16);
	name[18] = (uint8_t)ulen;
	memcpy(name + 19, k->user, ulen);
	name[19 + ulen] = (uint8_t)(k->device >> 24);
	name[20 + ulen] = (uint8_t)(k->device >> 16);
	name[21 + ulen] = (uint8_t)(k->device >> 8);
	name[22 + ulen] = (uint8_t)k->device;
	return 23 + ulen;
}

/* The event of a kept message given up. */
struct ev_gone {
	struct cev	 ev;
	char		 user[IRIS_USER_MAX + 1];
	uint32_t	 device;
	int		 cause;
};

static void
gone_fire(struct iris_client *c, struct cev *e)
{
	struct ev_gone *x = (struct ev_gone *)e;

	iris__heal_report(c, x->user, x->device, x->cause, -1);
}

static void
gone_drop(struct cev *e)
{
	iris__free(e);
}

/* Kept message i leaves (its record into txn); healed or given up. */
static int
kept_drop(struct iris_client *c, struct iris_cs_txn *txn, size_t i,
    int healed)
{
	struct heal *h = c->heal;
	uint8_t name[23 + IRIS_USER_MAX];
	struct ev_gone *x;
	int rc;

	rc = iris__seal_state_del(c, txn, name, kept_name(name, &h->kept[i]));
	if (!healed) {
		h->st.messages_given_up++;
		iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: a message from "
		    "%s/%u that did not open is given up", c->user,
		    h->kept[i].user, h->kept[i].device);
		if ((x = iris__calloc(1, sizeof(*x))) != NULL) {
			x->ev.fire = gone_fire;
			x->ev.drop = gone_drop;
			memcpy(x->user, h->kept[i].user, sizeof(x->user));
			x->device = h->kept[i].device;
			x->cause = h->kept[i].cause;
			iris__client_event(c, &x->ev);
		}
	}
	memmove(&h->kept[i], &h->kept[i + 1], (h->nkept - i - 1) *
	    sizeof(h->kept[0]));
	h->nkept--;
	return rc;
}

static size_t
kept_find(const struct heal *h, const char *user, uint32_t device,
    const uint8_t cmid[16])
{
	size_t i;

	for (i = 0; i < h->nkept; i++)
		if (h->kept[i].device == device && memcmp(h->kept[i].cmid,
		    cmid, 16) == 0 && strcmp(h->kept[i].user, user) == 0)
			break;
	return i;
}

/* Room for one more from (user, device): the oldest go. */
static int
kept_room(struct iris_client *c, struct iris_cs_txn *txn, const char *user,
    uint32_t device, uint64_t now)
{
	struct heal *h = c->heal;
	size_t i, n = 0, first = h->nkept;
	int rc = IRIS_OK;

	for (i = 0; i < h->nkept && rc == IRIS_OK; )
		if (h->kept[i].ms + HEAL_KEEP_MS < now)
			rc = kept_drop(c, txn, i, 0);
		else
			i++;
	for (i = 0; i < h->nkept; i++)
		if (h->kept[i].device == device &&
		    strcmp(h->kept[i].user, user) == 0 && n++ == 0)
			first = i;
	if (rc == IRIS_OK && n >= HEAL_KEEP_DEV)
		rc = kept_drop(c, txn, first, 0);
	if (rc == IRIS_OK && h->nkept >= HEAL_KEEP_MAX)
		rc = kept_drop(c, txn, 0, 0);
	return rc;
}

int
iris__heal_keep(struct iris_client *c, struct iris_cs_txn *txn,
    const char *user, uint32_t device, const uint8_t cmid[16],
    const uint8_t *env, size_t len, int rc, int *ask)
{
	struct heal *h = c->heal;
	uint8_t name[23 + IRIS_USER_MAX];
	struct heal_kept *k;
	struct heal_peer *p;
	struct iris_buf b;
	uint64_t now = iris__clock_realtime_ms(NULL);
	int err;

	*ask = 0;
	if ((err = kept_load(c)) != IRIS_OK)
		return err;
	if (kept_find(h, user, device, cmid) < h->nkept)
		return IRIS_OK;		/* delivered again: asked already */
	if ((err = kept_room(c, txn, user, device, now)) != IRIS_OK)
		return err;
	k = &h->kept[h->nkept];
	memset(k, 0, sizeof(*k));
	snprintf(k->user, sizeof(k->user), "%s", user);
	k->device = device;
	memcpy(k->cmid, cmid, 16);
	k->ms = now;
	k->cause = (uint8_t)iris__heal_cause(rc);
	k->asked = 1;
	iris__buf_init(&b, 0);
	iris__buf_u8(&b, KEPT_VERSION);
	iris__buf_bytes32(&b, env, len);
	err = b.err != 0 ? b.err : iris__seal_state_put(c, txn, name,
	    kept_name(name, k), b.p, b.len);
	iris__buf_free(&b);
	if (err != IRIS_OK)
		return err;
	h->nkept++;
	if ((err = kept_save(c, txn)) != IRIS_OK)
		return err;
	h->st.messages_kept++;
	*ask = 1;
	/* Failing again and again: this side starts afresh too. */
	p = peer(h, user, device);
	if (++p->streak >= HEAL_STREAK) {
		p->streak = 0;
		if ((err = c->seal->forget(c->sealer, txn, user, device)) !=
		    IRIS_OK)
			return err;
		h->st.sessions_reset++;
	}
	return IRIS_OK;
}

int
iris__heal_take(struct iris_client *c, struct iris_cs_txn *txn,
    const char *user, uint32_t device, const uint8_t cmid[16], int *cause)
{
	struct heal *h = c->heal;
	size_t i;

	if (kept_load(c) != IRIS_OK ||
	    (i = kept_find(h, user, device, cmid)) == h->nkept)
		return 0;
	*cause = h->kept[i].cause;
	if (kept_drop(c, txn, i, 1) != IRIS_OK || kept_save(c, txn) !=
	    IRIS_OK)
		return 0;
	h->st.messages_healed++;
	return 1;
}

void
iris__heal_report(struct iris_client *c, const char *user, uint32_t device,
    int cause, int healed)
{
	if (c->heal != NULL && c->heal->cb != NULL)
		c->heal->cb(c, user, device, cause, healed, c->heal->cb_arg);
}

/* Logged in: the too old given up, the others asked for again. */
void
iris__heal_online(struct iris_client *c)
{
	struct heal *h = c->heal;
	struct iris_cs_txn *t;
	uint64_t now = iris__clock_realtime_ms(NULL);
	size_t i;
	int rc = IRIS_OK, dirty = 0;

	if (!iris__heal_on(c) || kept_load(c) != IRIS_OK || h->nkept == 0 ||
	    (t = iris__client_txn(c, NULL, NULL)) == NULL)
		return;
	for (i = 0; i < h->nkept && rc == IRIS_OK; ) {
		if (h->kept[i].ms + HEAL_KEEP_MS < now) {
			rc = kept_drop(c, t, i, 0);
			dirty = 1;
			continue;
		}
		if (h->kept[i].asked < HEAL_ASKS &&
		    h->kept[i].ms + HEAL_REASK_MS < now && iris__heal_ask(c,
		    h->kept[i].user, h->kept[i].device, h->kept[i].cmid,
		    h->kept[i].cause) == IRIS_OK) {
			h->kept[i].asked++;
			dirty = 1;
		}
		i++;
	}
	if (rc == IRIS_OK && dirty)
		rc = kept_save(c, t);
	if (rc != IRIS_OK || !dirty || iris__client_submit(c, t) != IRIS_OK) {
		iris__client_txn_drop(t);
		h->kept_loaded = 0;
	}
}

int
iris_client_stats(const struct iris_client *c, struct iris_client_stats *st,
    size_t size)
{
	struct iris_client_stats all;

	/* Counters come whole, at least the first array; a caller built
	 * against a later header gets zeros for what this one lacks. */
	if (c == NULL || st == NULL || size < sizeof(all.decrypt_failed) ||
	    size % sizeof(uint64_t) != 0)
		return IRIS_EINVAL;
	if (c->heal == NULL)
		memset(&all, 0, sizeof(all));
	else
		all = c->heal->st;
	if (size > sizeof(all)) {
		memset((uint8_t *)st + sizeof(all), 0, size - sizeof(all));
		size = sizeof(all);
	}
	memcpy(st, &all, size);
	return IRIS_OK;
}

void
iris_client_set_decrypt_cb(struct iris_client *c, iris_client_decrypt_cb cb,
    void *arg)
{
	if (c == NULL || c->heal == NULL)
		return;
	c->heal->cb = cb;
	c->heal->cb_arg = arg;
}

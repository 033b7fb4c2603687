/* SPDX-License-Identifier: ISC */
/*
 * Read receipts. iris_client_read() puts a content of kind
 * IRIS__CONTENT_READ into the durable outbox like a message: sealed end
 * to end for every device of the user whose message was read and for
 * this user's other devices (which then mark it read too), sent with
 * the receipt class (for which the server makes no delivery receipts),
 * retried until acknowledged, and never reported to the sent callback.
 * With the receipts privacy setting off (as this device last set it) the
 * receipt goes to this user's other devices only; a user with no other
 * device then has nothing to send. The setting is kept in a state record
 * of the account, "read-receipts": u8 version (1) | u8 on.
 *
 * Reads made in one loop turn are batched, per recipient user (up to 8
 * of them, 64 ids each): each batch is one outbox entry, queued on the
 * next turn, or at once when full or when the client is freed.
 *
 * Body: u8 version (1) | u64 read_ms | u8 n (1..IRIS__READ_IDS_MAX) |
 * n x id[16]. A received one goes to the read callback, once per id.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "util/alloc.h"
#include "util/clock.h"

#define READ_VERSION		1
#define IRIS__READ_IDS_MAX	64
#define SETTING_NAME		"read-receipts"
#define SETTING_VERSION		1
#define STAGE_SLOTS		8	/* recipients batched at once */

static void
load(struct iris_client *c)
{
	struct iris_buf b;

	if (c->read_loaded || c->acct == 0)
		return;
	c->read_loaded = 1;
	c->read_off = 0;
	iris__buf_init(&b, 0);
	if (iris__seal_state_get(c, SETTING_NAME, sizeof(SETTING_NAME) - 1,
	    &b) == IRIS_OK && b.len == 2 && b.p[0] == SETTING_VERSION)
		c->read_off = b.p[1] == 0;
	iris__buf_free(&b);
}

/* The server took a new receipts setting from this device. */
void
iris__read_privacy(struct iris_client *c, int receipts)
{
	struct iris_cs_txn *t;
	uint8_t rec[2];

	c->read_loaded = 1;
	c->read_off = receipts == 0;
	rec[0] = SETTING_VERSION;
	rec[1] = receipts != 0;
	/* Kept for the next start; until then the flag above holds. */
	if ((t = iris__client_txn(c, NULL, NULL)) == NULL)
		return;
	if (iris__seal_state_put(c, t, SETTING_NAME, sizeof(SETTING_NAME) - 1,
	    rec, sizeof(rec)) != IRIS_OK || iris__client_submit(c, t) !=
	    IRIS_OK)
		iris__client_txn_drop(t);
}

/* Does the own list name another device than this one? */
static int
other_own_device(struct iris_client *c)
{
	const struct devlist *l = iris__devlist_find(c, c->user);
	size_t i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (l->ids[i] != c->device)
			return 1;
	return l == NULL;	/* not known yet: the outbox waits for it */
}

/* Ids read in one loop turn, for one recipient user. */
struct read_stage {
	char		 to[IRIS_USER_MAX + 1];
	size_t		 n;
	uint8_t		 ids[IRIS__READ_IDS_MAX][16];
};

/* One receipt with the ids of s into the outbox. */
static void
flush_one(struct iris_client *c, struct read_stage *s)
{
	struct iris__send_req rq;
	struct iris_buf body;
	uint8_t cmid[16];
	size_t i;
	int rc;

	if (s->n == 0)
		return;
	iris__buf_init(&body, 0);
	iris__buf_u8(&body, READ_VERSION);
	iris__buf_u64(&body, iris__clock_realtime_ms(NULL));
	iris__buf_u8(&body, (uint8_t)s->n);
	for (i = 0; i < s->n; i++)
		iris__buf_put(&body, s->ids[i], 16);
	memset(&rq, 0, sizeof(rq));
	rq.to = s->to;
	rq.kind = IRIS__CONTENT_READ;
	rq.body = body.p;
	rq.len = body.len;
	rc = body.err != 0 ? body.err : iris__send_internal(c, &rq, cmid);
	iris__buf_free(&body);
	if (rc != IRIS_OK)
		iris__client_error_event(c, rc, "a read receipt for %zu "
		    "messages was not queued: %s", s->n, iris_strerror(rc));
	s->n = 0;
	s->to[0] = '\0';
}

static void
flush_all(struct iris_client *c)
{
	size_t i;

	for (i = 0; c->read_stage != NULL && i < STAGE_SLOTS; i++)
		flush_one(c, &c->read_stage[i]);
}

static void
on_turn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	flush_all(arg);
}

void
iris__read_flush(struct iris_client *c)
{
	if (c->read_stage != NULL && !iris__client_tearing(c))
		flush_all(c);
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	c->ev_read = NULL;
	iris__free(c->read_stage);
	c->read_stage = NULL;
}

/* The batch for to (a free one, or all sent to make one free). */
static struct read_stage *
stage_of(struct iris_client *c, const char *to)
{
	struct read_stage *s, *free_one = NULL;
	size_t i;

	for (i = 0; i < STAGE_SLOTS; i++) {
		s = &c->read_stage[i];
		if (s->n > 0 && strcmp(s->to, to) == 0)
			return s;
		if (s->n == 0 && free_one == NULL)
			free_one = s;
	}
	if (free_one == NULL) {
		flush_all(c);
		free_one = &c->read_stage[0];
	}
	snprintf(free_one->to, sizeof(free_one->to), "%s", to);
	return free_one;
}

int
iris_client_read(struct iris_client *c, const char *user,
    const uint8_t id[16])
{
	struct timeval now = { 0, 0 };
	struct read_stage *s;
	const char *to;
	size_t i;

	if (c == NULL || id == NULL || user == NULL ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	if (c->device == 0) {
		iris__client_seterr(c, "read: no account yet");
		return IRIS_ESTATE;
	}
	if (c->ob_n >= c->cfg.outbox_max) {
		iris__client_seterr(c, "read: the outbox is full");
		return IRIS_ELIMIT;
	}
	load(c);
	to = c->read_off ? c->user : user;
	if (strcmp(to, c->user) == 0 && !other_own_device(c))
		return IRIS_OK;		/* nobody to tell */
	if ((c->read_stage == NULL && (c->read_stage = iris__calloc(
	    STAGE_SLOTS, sizeof(*c->read_stage))) == NULL) ||
	    (c->ev_read == NULL && (c->ev_read = evtimer_new(c->base,
	    on_turn, c)) == NULL))
		return IRIS_ENOMEM;
	s = stage_of(c, to);
	for (i = 0; i < s->n; i++)
		if (memcmp(s->ids[i], id, 16) == 0)
			return IRIS_OK;		/* in this batch already */
	memcpy(s->ids[s->n++], id, 16);
	if (s->n == IRIS__READ_IDS_MAX)
		flush_one(c, s);
	else if (!evtimer_pending(c->ev_read, NULL))
		evtimer_add(c->ev_read, &now);
	return IRIS_OK;
}

/* From the receive pipeline's event: the read callback for each id. */
void
iris__read_received(struct iris_client *c, const char *user,
    uint32_t device, const uint8_t *body, size_t len)
{
	uint8_t ids[IRIS__READ_IDS_MAX][16];
	struct iris_rd r;
	uint64_t at;
	size_t i, n;

	iris__rd_init(&r, body, len);
	if (iris__rd_u8(&r) != READ_VERSION)
		goto bad;
	at = iris__rd_u64(&r);
	n = iris__rd_u8(&r);
	if (r.bad || n == 0 || n > IRIS__READ_IDS_MAX)
		goto bad;
	for (i = 0; i < n; i++)
		iris__rd_copy(&r, ids[i], 16);
	if (iris__rd_done(&r) != IRIS_OK)
		goto bad;
	for (i = 0; i < n && !c->dead; i++)
		if (c->on_read != NULL)
			c->on_read(c, ids[i], user, device, at,
			    c->on_read_arg);
	return;
bad:
	iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: a read receipt from "
	    "%s/%u is malformed", c->user, user, device);
	if (c->on_error != NULL)
		c->on_error(c, IRIS_EPROTO, "a read receipt is malformed",
		    c->on_error_arg);
}

void
iris_client_set_read_cb(struct iris_client *c, iris_client_read_cb cb,
    void *arg)
{
	if (c == NULL)
		return;
	c->on_read = cb;
	c->on_read_arg = arg;
}

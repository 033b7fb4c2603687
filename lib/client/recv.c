/* SPDX-License-Identifier: ISC */
/*
 * The receive pipeline, in the order of DESIGN.md §8: a delivery is
 * opened (the sealer's state changes go into the delivery's own
 * transaction, not yet committed), the embedder's callback handles it
 * and returns, then the library commits the new cursor, the dedup record
 * and the sealer's state together, and only then acknowledges it to the
 * server (cumulative Ack). A crash before the commit delivers it again
 * (at least once); a crash after the commit acks it on the next login
 * without a second callback. Each commit moves the cursor from exactly
 * where the one before left it, so a failed commit can never be skipped
 * over: the pipeline is reset and the server delivers again from the
 * durable cursor. Messages delivered again under another seq (a sender's
 * retry the server could not deduplicate) are recognised by (sender,
 * device, client msg id). Catching up and acks are sync.c's.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "net/conn.h"
#include "util/alloc.h"

enum { RX_MSG, RX_RECEIPT, RX_DUP, RX_BAD, RX_TYPING, RX_KEPT, RX_RETRY,
    RX_READ };


struct rx_item {
	struct cev		 ev;		/* first */
	struct rx_item		*next;
	int			 kind;
	uint64_t		 seq;		/* 0: transient */
	uint64_t		 prev;		/* the cursor before it */
	char			 sender[IRIS_USER_MAX + 1];
	uint32_t		 sender_device;
	uint8_t			 cmid[16];
	uint64_t		 msg_id;
	uint64_t		 time;
	uint8_t			 tag[IRIS_CS_TAG_LEN];
	struct iris__content	 content;
	struct iris_buf		 keep;		/* what the sealer opened */
	uint8_t			*env;		/* a copy of the envelope */
	size_t			 envlen;
	struct iris_cs_txn	*txn;		/* its state, uncommitted */
	int			 error;
	int			 in_pipe;	/* counted in rx_n */
	int			 fired;		/* its event ran */
	int			 committing;
	/* Healing (heal.h): a retry request to make once committed; a
	 * kept message this one heals, and the cause it had failed with. */
	int			 ask;
	int			 healed;
	int			 cause;
	/* Receipts: who got which of our messages. */
	char			 rcpt_user[IRIS_USER_MAX + 1];
	uint32_t		 rcpt_device;
	int			 rcpt_known;
};


static void
item_free(struct rx_item *it)
{
	iris__client_txn_drop(it->txn);
	iris__buf_free(&it->keep);
	iris__free(it->env);
	iris__free(it);
}

/* Events own transient items; pipeline items are freed by the pipeline. */
static void
ev_drop(struct cev *e)
{
	struct rx_item *it = (struct rx_item *)e;

	if (!it->in_pipe)
		item_free(it);
}

static void
pipe_remove(struct iris_client *c, struct rx_item *it)
{
	struct rx_item **pp, *prev = NULL;

	for (pp = &c->rx_head; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			if (c->rx_tail == it)
				c->rx_tail = prev;
			c->rx_n--;
			c->rx_bytes -= it->envlen;
			return;
		}
}

/* Something went wrong with the pipeline: start again from the cursor. */
static void
pipe_reset(struct iris_client *c, int err, const char *why)
{
	struct rx_item *it;

	while ((it = c->rx_head) != NULL) {
		c->rx_head = it->next;
		it->in_pipe = 0;
		/* Those still queued as events are freed by their drop. */
		if (it->fired)
			item_free(it);
	}
	c->rx_tail = NULL;
	c->rx_n = 0;
	c->rx_bytes = 0;
	/* A cursor that was not where a commit expected: ask the store. */
	if (err == IRIS_ESTALE)
		iris__recv_reload_cursor(c);
	c->rx_last = c->rx_cursor;
	c->seal->reset(c->sealer);
	iris__heal_reset(c);
	iris__conn_drop(c, err, why);
}

struct commit_ctx {
	uint64_t		 seq;
};

static void
committed(struct iris_client *c, int rc, void *arg)
{
	struct commit_ctx *x = arg;
	struct rx_item *it;
	uint64_t seq = x->seq;

	iris__free(x);
	if (iris__client_tearing(c))
		return;
	/* Durable is durable, even if the pipeline was reset meanwhile. */
	if (rc == IRIS_OK && seq > c->rx_cursor)
		c->rx_cursor = seq;
	for (it = c->rx_head; it != NULL; it = it->next)
		if (it->seq == seq && it->committing)
			break;
	if (it == NULL)
		return;
	if (rc != IRIS_OK) {
		iris__client_seterr(c, "recording a received message: %s",
		    iris_strerror(rc));
		pipe_reset(c, rc, c->err);
		return;
	}
	if (seq > c->rx_cursor)
		c->rx_cursor = seq;
	/* What healing does once the receive is durable. */
	if (it->kind == RX_KEPT && it->ask)
		(void)iris__heal_ask(c, it->sender, it->sender_device,
		    it->cmid, it->cause);
	else if (it->kind == RX_RETRY)
		(void)iris__heal_answer(c, it->sender, it->sender_device,
		    it->content.body, it->content.len);
	pipe_remove(c, it);
	it->in_pipe = 0;
	it->txn = NULL;		/* consumed by the commit */
	item_free(it);
	if (iris__client_test_hook != NULL)
		iris__client_test_hook(IRIS__HOOK_AFTER_COMMIT);
	iris__recv_ack_soon(c);
	iris__recv_flow(c);
}

/* After the callback: cursor, dedup record and state, in one commit. */
static void
commit(struct iris_client *c, struct rx_item *it)
{
	struct commit_ctx *x;
	struct iris_cs_txn *t = it->txn;
	int rc;

	if ((x = iris__calloc(1, sizeof(*x))) == NULL) {
		pipe_reset(c, IRIS_ENOMEM, "out of memory");
		return;
	}
	x->seq = it->seq;
	iris__client_txn_set(t, committed, x);
	rc = iris__cs_op_cursor_cas(t, c->acct, it->prev, it->seq);
	if (rc == IRIS_OK && (it->kind == RX_MSG || it->kind == RX_READ))
		rc = iris__cs_op_received(t, c->acct, it->tag);
	if (rc == IRIS_OK && (rc = iris__client_submit(c, t)) == IRIS_OK) {
		it->txn = NULL;
		it->committing = 1;
		return;
	}
	iris__free(x);
	pipe_reset(c, rc, "cannot record a received message");
}

static void
ev_fire(struct iris_client *c, struct cev *e)
{
	struct rx_item *it = (struct rx_item *)e;
	struct iris_client_msg m;

	it->fired = 1;
	if (!it->in_pipe && it->kind != RX_TYPING)
		return;		/* the pipeline was reset: delivered again */
	switch (it->kind) {
	case RX_MSG:
		memset(&m, 0, sizeof(m));
		m.id = it->cmid;
		m.sender = it->sender;
		m.sender_device = it->sender_device;
		m.recipient = it->content.recipient;
		m.type = it->content.type;
		m.body = it->content.body;
		m.len = it->content.len;
		m.time = it->time;
		if (c->on_message != NULL)
			c->on_message(c, &m, c->on_message_arg);
		if (c->dead)
			return;
		if (it->healed)
			iris__heal_report(c, it->sender, it->sender_device,
			    it->cause, 1);
		break;
	case RX_KEPT:
		iris__heal_report(c, it->sender, it->sender_device, it->cause,
		    0);
		break;
	case RX_RECEIPT:
		if (it->rcpt_known && c->on_receipt != NULL)
			c->on_receipt(c, it->cmid, it->rcpt_user,
			    it->rcpt_device, it->time, c->on_receipt_arg);
		break;
	case RX_READ:
		iris__read_received(c, it->sender, it->sender_device,
		    it->content.body, it->content.len);
		break;
	case RX_BAD:
		if (c->on_error != NULL)
			c->on_error(c, it->error, "a message from another "
			    "device could not be opened", c->on_error_arg);
		break;
	case RX_TYPING:
		if (c->on_typing != NULL)
			c->on_typing(c, it->sender, it->sender_device,
			    it->content.type != 0, c->on_typing_arg);
		return;
	default:
		break;
	}
	/* Freed in the callback: not recorded, so delivered again later. */
	if (c->dead || !it->in_pipe)
		return;
	if (iris__client_test_hook != NULL)
		iris__client_test_hook(IRIS__HOOK_AFTER_CALLBACK);
	commit(c, it);
}

static struct rx_item *
item_new(struct iris_client *c)
{
	struct rx_item *it;

	if ((it = iris__calloc(1, sizeof(*it))) == NULL)
		return NULL;
	iris__buf_init(&it->keep, 0);
	it->ev.fire = ev_fire;
	it->ev.drop = ev_drop;
	(void)c;
	return it;
}

/* The dedup tag: (sender, device, client msg id) under the store key. */
static void
make_tag(struct iris_client *c, struct rx_item *it)
{
	uint8_t buf[IRIS_USER_MAX + 1 + 4 + 16];
	size_t n = strlen(it->sender);

	memcpy(buf, it->sender, n);
	buf[n++] = 0;
	buf[n++] = (uint8_t)(it->sender_device >> 24);
	buf[n++] = (uint8_t)(it->sender_device >> 16);
	buf[n++] = (uint8_t)(it->sender_device >> 8);
	buf[n++] = (uint8_t)it->sender_device;
	memcpy(buf + n, it->cmid, 16);
	iris__cs_tag(c->cs, CS_D_RECEIVED, buf, n + 16, it->tag);
}

static int
seen(struct iris_client *c, const struct rx_item *it)
{
	const struct rx_item *p;

	for (p = c->rx_head; p != NULL; p = p->next)
		if (p != it && (p->kind == RX_MSG || p->kind == RX_READ) &&
		    memcmp(p->tag, it->tag,
		    sizeof(it->tag)) == 0)
			return 1;
	return iris__cs_received_has(c->cs, c->acct, it->tag) == IRIS_OK;
}

/* A resend (heal.h): delivered and deduplicated under the id of what it
 * repeats; the kept copy, if any, goes with its commit. */
static void
resent(struct iris_client *c, struct rx_item *it)
{
	memcpy(it->cmid, it->content.of, 16);
	make_tag(c, it);
	if (seen(c, it)) {
		it->kind = RX_DUP;	/* its state still commits */
		return;
	}
	it->healed = iris__heal_take(c, it->txn, it->sender,
	    it->sender_device, it->cmid, &it->cause);
}

/* Did not open: kept, to be asked for again, when that may help. */
static void
not_opened(struct iris_client *c, struct rx_item *it, int rc)
{
	/* A device its user's list does not name (a removed one) is
	 * refused, never asked to send again. */
	int heal = iris__heal_on(c) && it->content.kind == 0 &&
	    iris__recv_listed(c, it->sender, it->sender_device);

	iris__heal_count(c, rc);
	iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: a message "
	    "from %s/%u does not open: %s%s", c->user, it->sender,
	    it->sender_device, iris_strerror(rc), heal ? " (kept)" : "");
	it->kind = RX_BAD;
	it->error = rc;
	if (heal && iris__heal_keep(c, it->txn, it->sender,
	    it->sender_device, it->cmid, it->env, it->envlen, rc,
	    &it->ask) == IRIS_OK) {
		it->kind = RX_KEPT;
		it->cause = iris__heal_cause(rc);
	}
}

/* Opens the envelope of a message into it (state into it->txn). */
static void
open_message(struct iris_client *c, struct rx_item *it,
    const struct iris_slice *env)
{
	int rc;

	if ((it->env = iris__memdup(env->ptr, env->len)) == NULL) {
		it->kind = RX_BAD;
		it->error = IRIS_ENOMEM;
		return;
	}
	it->envlen = env->len;
	c->rx_bytes += env->len;
	rc = c->seal->open(c->sealer, it->txn, it->sender, it->sender_device,
	    it->env, it->envlen, &it->content, &it->keep);
	if (rc != IRIS_OK)
		not_opened(c, it, rc);
	else if (it->content.kind == IRIS__CONTENT_RETRY &&
	    iris__heal_on(c))
		it->kind = RX_RETRY;
	else if (it->content.kind == IRIS__CONTENT_READ)
		it->kind = RX_READ;
	else if (it->content.kind != IRIS__CONTENT_MESSAGE) {
		it->kind = RX_BAD;
		it->error = IRIS_EPROTO;
	} else {
		iris__heal_opened(c, it->sender, it->sender_device);
		if (it->content.of != NULL)
			resent(c, it);
	}
}

static void
receipt(struct iris_client *c, struct rx_item *it,
    const iris_v1_DeliveryReceipt *r)
{
	struct iris_buf rec;
	struct iris_rd rd;

	it->kind = RX_RECEIPT;
	it->msg_id = r->msg_id;
	it->time = r->delivered_ms;
	memcpy(it->rcpt_user, r->user.bytes, r->user.size);
	it->rcpt_user[r->user.size] = '\0';
	it->rcpt_device = r->device_id;
	/* The message it names: our record of the ack. */
	iris__buf_init(&rec, 0);
	if (iris__cs_sent_get(c->cs, c->acct, r->msg_id, &rec) == IRIS_OK) {
		iris__rd_init(&rd, rec.p, rec.len);
		iris__rd_copy(&rd, it->cmid, 16);
		it->rcpt_known = !rd.bad;
	} else if (iris__outbox_acking(c, r->msg_id, it->cmid) == IRIS_OK)
		it->rcpt_known = 1;	/* its record is still committing */
	iris__buf_free(&rec);
}

void
iris__recv_typing(struct iris_client *c, const iris_v1_Deliver *d,
    const struct iris_slice *env)
{
	struct rx_item *it;
	int rc = IRIS_ENOMEM;

	if (d->class != iris_v1_MsgClass_CLASS_TYPING ||
	    (it = item_new(c)) == NULL)
		return;		/* other transient kinds are not used */
	it->kind = RX_TYPING;
	memcpy(it->sender, d->sender_user.bytes, d->sender_user.size);
	it->sender[d->sender_user.size] = '\0';
	it->sender_device = d->sender_device;
	if ((it->env = iris__memdup(env->ptr, env->len)) == NULL ||
	    (rc = c->seal->open(c->sealer, NULL, it->sender,
	    it->sender_device, it->env, env->len, &it->content,
	    &it->keep)) != IRIS_OK ||
	    it->content.kind != IRIS__CONTENT_TYPING) {
		/* No key for the sender yet: again once its list is in. */
		if (rc == IRIS_ENOTFOUND)
			iris__recv_typing_wait(c, it->sender,
			    it->sender_device, env->ptr, env->len);
		item_free(it);
		return;
	}
	iris__client_event(c, &it->ev);
}

void
iris__recv_deliver(struct iris_client *c, const iris_v1_Deliver *d,
    const struct iris_slice *env)
{
	if (!iris__recv_hold(c, d, env))
		iris__recv_deliver_now(c, d, env);
}

void
iris__recv_deliver_now(struct iris_client *c, const iris_v1_Deliver *d,
    const struct iris_slice *env)
{
	struct rx_item *it;

	if (d->transient) {
		iris__recv_typing(c, d, env);
		return;
	}
	if (d->seq <= c->rx_last)
		return;		/* handled or in hand already */
	if ((it = item_new(c)) == NULL ||
	    (it->txn = iris__client_txn(c, NULL, NULL)) == NULL) {
		if (it != NULL)
			item_free(it);
		pipe_reset(c, IRIS_ENOMEM, "out of memory");
		return;
	}
	it->seq = d->seq;
	it->prev = c->rx_last;
	c->rx_last = d->seq;
	it->in_pipe = 1;
	if (c->rx_tail != NULL)
		c->rx_tail->next = it;
	else
		c->rx_head = it;
	c->rx_tail = it;
	c->rx_n++;
	if (d->has_receipt)
		receipt(c, it, &d->receipt);
	else {
		it->kind = RX_MSG;
		memcpy(it->sender, d->sender_user.bytes, d->sender_user.size);
		it->sender[d->sender_user.size] = '\0';
		it->sender_device = d->sender_device;
		memcpy(it->cmid, d->client_msg_id, 16);
		it->msg_id = d->msg_id;
		it->time = d->sent_ms;
		make_tag(c, it);
		if (seen(c, it))
			it->kind = RX_DUP;
		else
			open_message(c, it, env);
	}
	iris__client_event(c, &it->ev);
	iris__recv_flow(c);
}

void
iris__recv_offline(struct iris_client *c)
{
	/* What is in the pipeline is still handled and recorded; what is
	 * held comes again. */
	iris__recv_hold_clear(c);
	c->syncing = 0;
	c->sync_more = 0;
	c->paused = 0;
}

void
iris__recv_free_all(struct iris_client *c)
{
	struct rx_item *it;

	while ((it = c->rx_head) != NULL) {
		c->rx_head = it->next;
		it->in_pipe = 0;
		/* Those still queued as events went with the queue. */
		item_free(it);
	}
	c->rx_tail = NULL;
	c->rx_n = 0;
	c->rx_bytes = 0;
	iris__recv_hold_clear(c);
	if (c->ev_ack != NULL)
		event_free(c->ev_ack);
	c->ev_ack = NULL;
}

/* SPDX-License-Identifier: ISC */
/*
 * Cursors: a device's cumulative ack, advanced on the writer thread and
 * durable with its batch. A cursor never moves backward, and never past
 * the newest message of its inbox. The core's acks also store delivery
 * receipts for the senders of what they cover, in the same transaction,
 * so a receipt exists exactly when the cursor moved over its message.
 */
#include <string.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"
#include "wire/msg.h"

/* One receipt into the sender's inbox, unless that inbox is full. */
static int
put_receipt(struct iris_store *s, struct iris_ack_job *a,
    struct iris_rcpt *r)
{
	struct iris__wbox_pos pos;
	sqlite3_stmt *st;
	uint16_t shard = iris__store_shard(r->user);
	int rc, found;

	if ((rc = iris__wbox_get(s, r->user, r->device, shard, 1, &pos,
	    &found)) != IRIS_OK)
		return rc;
	if (pos.head - pos.acked >= s->inbox_cap)
		return IRIS_ELIMIT;	/* receipts never crowd out messages */
	r->seq = pos.head + 1;
	st = s->ws[WS_INBOX_PUT];
	sqlite3_bind_int64(st, 1, pos.id);
	sqlite3_bind_int64(st, 2, (int64_t)r->seq);
	sqlite3_bind_int(st, 3, shard);
	sqlite3_bind_int64(st, 4, (int64_t)r->msg_id);
	sqlite3_bind_text(st, 5, a->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, a->device);
	sqlite3_bind_blob(st, 7, r->cmid, 16, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, IRIS__CLASS_DELIVERY);
	sqlite3_bind_int64(st, 9, (int64_t)r->at_ms);
	sqlite3_bind_zeroblob(st, 10, 0);
	if ((rc = iris__store_step_done(s, st, "storing a receipt")) !=
	    IRIS_OK)
		return rc;
	pos.head = r->seq;
	return iris__wbox_set(s, r->user, r->device, &pos);
}

/* Receipts for the messages of (from, to] in box, from other users. */
static int
make_receipts(struct iris_store *s, struct iris_ack_job *a, int64_t box,
    uint64_t from, uint64_t to)
{
	sqlite3_stmt *st = s->ws[WS_RCPT_SCAN];
	struct iris_rcpt *r;
	uint64_t now = iris__store_now(s);
	const char *sender;
	size_t i, n = 0;
	int rc, on;

	if (to - from > IRIS_RCPT_MAX)
		return IRIS_OK;		/* the core splits longer acks */
	if ((rc = iris__wcache_receipts(s, a->user, &on)) != IRIS_OK ||
	    !on)
		return rc;
	if ((a->rcpts = iris__calloc(to - from, sizeof(*a->rcpts))) == NULL)
		return IRIS_ENOMEM;
	/* Read them all first: the inserts go into the same table. */
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_int64(st, 2, (int64_t)from);
	sqlite3_bind_int64(st, 3, (int64_t)to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sender = (const char *)sqlite3_column_text(st, 2);
		if (sender == NULL || strlen(sender) > 64 ||
		    strcmp(sender, a->user) == 0 ||
		    sqlite3_column_bytes(st, 4) != 16)
			continue;	/* own devices get no receipts */
		r = &a->rcpts[n++];
		strcpy(r->user, sender);
		r->device = (uint32_t)sqlite3_column_int64(st, 3);
		r->msg_id = (uint64_t)sqlite3_column_int64(st, 1);
		memcpy(r->cmid, sqlite3_column_blob(st, 4), 16);
		r->at_ms = now;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return iris__store_fatal(s, rc, "reading acked messages");
	for (i = 0; i < n; i++) {
		rc = put_receipt(s, a, &a->rcpts[i]);
		if (rc == IRIS_ELIMIT)
			continue;
		if (rc != IRIS_OK)
			return rc;
		a->rcpts[a->nrcpts++] = a->rcpts[i];
	}
	return IRIS_OK;
}

static int
exec_ack(struct iris_job *job, void *ctx)
{
	struct iris_ack_job *a = (struct iris_ack_job *)job;
	struct iris_store *s = ctx;
	struct iris__wbox_pos pos;
	int rc, found;

	a->nrcpts = 0;
	a->advanced = 0;
	if ((rc = iris__wbox_get(s, a->user, a->device, 0, 0, &pos,
	    &found)) != IRIS_OK)
		return rc;
	if (!found) {
		/* No inbox: nothing to ack but seq 0. */
		a->acked = 0;
		job->rc = a->seq == 0 ? IRIS_OK : IRIS_EINVAL;
		return IRIS_OK;
	}
	a->acked = pos.acked;
	if (a->seq > pos.head) {
		job->rc = IRIS_EINVAL;	/* beyond the inbox */
		return IRIS_OK;
	}
	if (a->seq <= a->acked)
		return IRIS_OK;		/* never backward */
	if (a->receipts && (rc = make_receipts(s, a, pos.id, a->acked,
	    a->seq)) != IRIS_OK)
		return rc;
	/* Written with the batch's other positions, before its COMMIT. */
	pos.acked = a->seq;
	if ((rc = iris__wbox_set(s, a->user, a->device, &pos)) != IRIS_OK)
		return rc;
	a->advanced = a->seq - a->acked;
	a->acked = a->seq;
	return IRIS_OK;
}

static void
done_ack(struct iris_job *job, int deliver)
{
	struct iris_ack_job *a = (struct iris_ack_job *)job;
	struct iris_store *s = a->store;
	size_t i;

	if (deliver && job->rc == IRIS_OK) {
		iris__boxcache_note(s, a->user, a->device, a->acked, 0);
		for (i = 0; i < a->nrcpts; i++)
			iris__boxcache_note(s, a->rcpts[i].user,
			    a->rcpts[i].device, 0, a->rcpts[i].seq);
		/* Unacked depth: down by what the cursor passed, up by the
		 * receipts it made. */
		__atomic_sub_fetch(&s->n_depth, a->advanced, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->n_depth, a->nrcpts, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->n_receipts, a->nrcpts,
		    __ATOMIC_RELAXED);
	} else
		a->nrcpts = 0;
	if (deliver && a->icb != NULL)
		a->icb(a, a->arg);
	else if (deliver && a->cb != NULL)
		a->cb(a->store, job->rc, job->rc == IRIS_OK ? a->acked : 0,
		    a->arg);
	iris__free(a->rcpts);
	iris__free(a);
}

const struct iris_job_ops iris__ack_job_ops = {
	.exec = exec_ack,
	.done = done_ack,
};

static struct iris_ack_job *
ack_job(struct iris_store *s, const char *user, uint32_t device,
    uint64_t seq)
{
	struct iris_ack_job *a;

	if ((a = iris__calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->job.ops = &iris__ack_job_ops;
	a->job.bytes = sizeof(*a);
	a->store = s;
	strcpy(a->user, user);
	a->device = device;
	a->seq = seq;
	return a;
}

static int
ack_submit(struct iris_store *s, struct iris_ack_job *a)
{
	int rc;

	if ((rc = iris__worker_submit(s->w, &a->job)) != IRIS_OK)
		iris__free(a);
	return rc;
}

int
iris_store_ack(struct iris_store *s, const char *user, uint32_t device,
    uint64_t seq, iris_ack_cb cb, void *arg)
{
	struct iris_ack_job *a;

	if (s == NULL || user == NULL || device == 0 || seq > INT64_MAX ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	if ((a = ack_job(s, user, device, seq)) == NULL)
		return IRIS_ENOMEM;
	a->cb = cb;
	a->arg = arg;
	return ack_submit(s, a);
}

int
iris__store_ack_ex(struct iris_store *s, const char *user, uint32_t device,
    uint64_t seq, int receipts, iris__ack_done_cb cb, void *arg)
{
	struct iris_ack_job *a;

	if (seq > INT64_MAX)
		return IRIS_EINVAL;
	if (__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE))
		return IRIS_ESTORE;
	if ((a = ack_job(s, user, device, seq)) == NULL)
		return IRIS_ENOMEM;
	a->icb = cb;
	a->arg = arg;
	a->receipts = receipts;
	return ack_submit(s, a);
}

/* Chains of sends (see store.h), on the loop. */
struct iris_chain *
iris__chain_new(void)
{
	struct iris_chain *c;

	if ((c = iris__calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->refs = 1;
	c->w_next = c->w_tent = 1;
	return c;
}

void
iris__chain_unref(struct iris_chain *c)
{
	if (c != NULL && --c->refs == 0)
		iris__free(c);
}

void
iris__send_chain(struct iris_send *m, struct iris_chain *c)
{
	c->refs++;
	m->chain = c;
	m->idx = ++c->submitted;
}

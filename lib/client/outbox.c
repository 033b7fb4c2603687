/* SPDX-License-Identifier: ISC */
/*
 * The durable outbox. A send is committed to the client store before
 * anything else happens to it, sealed for every device of the current
 * device lists (the sealed envelopes committed too, before any leaves),
 * then sent, pipelined up to a window and paced like the server's token
 * bucket, always with the same UUIDv7 client msg id, until the server
 * acknowledges it. Order holds per device: nothing is sent past a send
 * that is not ready, and after a retryable refusal (the server then
 * refuses the later ones in flight with ERR_OUT_OF_ORDER) everything is
 * sent again from the first refused one, after the retry-after. A stale
 * device set is corrected from the verified lists the refusal carries.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"

#define OUT_HIGH	(1u << 20)	/* queued bytes before pausing */
#define STALE_MAX	5		/* stale refusals before giving up */
#define REFETCH_MS	1000

static void	arm(struct iris_client *c, uint64_t ms);

struct ob_entry *
iris__outbox_append(struct iris_client *c, uint64_t seq)
{
	struct ob_entry *e;

	if ((e = iris__calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->seq = seq;
	if (c->ob_tail != NULL)
		c->ob_tail->next = e;
	else
		c->ob_head = e;
	c->ob_tail = e;
	c->ob_n++;
	return e;
}

void
iris__outbox_unlink(struct iris_client *c, struct ob_entry *e)
{
	struct ob_entry **pp, *prev = NULL;

	for (pp = &c->ob_head; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			if (c->ob_tail == e)
				c->ob_tail = prev;
			c->ob_n--;
			if (e->state == OB_INFLIGHT)
				c->ob_inflight--;
			iris__free(e);
			return;
		}
}

struct ob_entry *
iris__outbox_find(struct iris_client *c, uint64_t seq)
{
	struct ob_entry *e;

	for (e = c->ob_head; e != NULL; e = e->next)
		if (e->seq == seq)
			return e;
	return NULL;
}

static int
load_one(uint64_t seq, const uint8_t *meta, size_t len, int sealed,
    void *arg)
{
	struct iris_client *c = arg;
	struct ob_entry *e;
	struct iris_rd r;
	int version;

	if ((e = iris__outbox_append(c, seq)) == NULL)
		return IRIS_ENOMEM;
	iris__rd_init(&r, meta, len);
	version = iris__rd_u8(&r);
	if (version != IRIS__OB_META_VERSION && version != IRIS__OB_META_V2)
		return IRIS_ECORRUPT;
	iris__rd_copy(&r, e->cmid, 16);
	iris__rd_str8(&r, e->to, sizeof(e->to));
	e->type = iris__rd_u32(&r);
	e->kind = IRIS__CONTENT_MESSAGE;
	if (version == IRIS__OB_META_V2) {
		e->kind = iris__rd_u8(&r);
		if ((e->has_of = iris__rd_u8(&r)) != 0)
			iris__rd_copy(&r, e->of, 16);
	}
	if (iris__rd_done(&r) != IRIS_OK || (e->kind !=
	    IRIS__CONTENT_MESSAGE && e->kind != IRIS__CONTENT_RETRY &&
	    e->kind != IRIS__CONTENT_READ))
		return IRIS_ECORRUPT;
	e->state = sealed ? OB_READY : OB_QUEUED;
	if (seq >= c->next_seq)
		c->next_seq = seq + 1;
	return IRIS_OK;
}

/* At creation: the outbox as the store has it (metadata only). */
int
iris__outbox_load(struct iris_client *c)
{
	int rc;

	if ((c->ev_ob = evtimer_new(c->base, NULL, NULL)) == NULL)
		return IRIS_ENOMEM;
	if (c->next_seq == 0)
		c->next_seq = 1;
	if (c->acct == 0)
		return IRIS_OK;
	if ((rc = iris__cs_outbox_metas(c->cs, c->acct, load_one, c)) !=
	    IRIS_OK)
		iris__client_seterr(c, "loading the outbox: %s",
		    iris_strerror(rc));
	return rc;
}

/* Are the lists this send needs at hand? Asks for those that are not. */
int
iris__outbox_lists_ready(struct iris_client *c, const struct ob_entry *e)
{
	int ready = 1;

	if (iris__devlist_find(c, e->to) == NULL) {
		(void)iris__devlist_fetch(c, e->to);
		ready = 0;
	}
	/* Our own list comes with every login; without it, no copies. */
	if (c->own_fetching && iris__devlist_find(c, c->user) == NULL)
		ready = 0;
	return ready;
}

/* Leaves the outbox for good, with status for the embedder. */
static void
give_up(struct iris_client *c, struct ob_entry *e, int status)
{
	struct iris_cs_txn *t;

	iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: a send to %s failed:"
	    " %s", c->user, e->to, iris_strerror(status));
	if ((t = iris__client_txn(c, NULL, NULL)) != NULL) {
		if (iris__cs_op_outbox_del(t, c->acct, e->seq) != IRIS_OK ||
		    iris__client_submit(c, t) != IRIS_OK)
			iris__client_txn_drop(t);
	}
	if (!OB_QUIET(e))
		iris__outbox_sent_event(c, e->cmid, status);
	iris__outbox_unlink(c, e);
}

struct seal_ctx {
	uint64_t	 seq;
	int		 sealed;
};

static void
sealed_done(struct iris_client *c, int rc, void *arg)
{
	struct seal_ctx *x = arg;
	struct ob_entry *e;

	if (!iris__client_tearing(c) &&
	    (e = iris__outbox_find(c, x->seq)) != NULL &&
	    e->state == OB_SEALING) {
		if (rc == IRIS_OK)
			e->state = OB_READY;
		else {
			e->state = OB_QUEUED;
			c->seal->reset(c->sealer);
			arm(c, REFETCH_MS);
		}
		iris__outbox_kick(c);
	}
	iris__free(x);
}

/* Seals a queued send for the current lists and commits the envelopes. */
static void
reseal(struct iris_client *c, struct ob_entry *e)
{
	struct iris_buf body, sealed;
	struct iris_cs_txn *t;
	struct seal_ctx *x;
	int rc;

	iris__buf_init(&body, 0);
	iris__buf_init(&sealed, 0);
	if ((x = iris__calloc(1, sizeof(*x))) == NULL ||
	    (t = iris__client_txn(c, sealed_done, x)) == NULL) {
		iris__free(x);
		arm(c, REFETCH_MS);
		return;
	}
	x->seq = e->seq;
	rc = iris__cs_outbox_get(c->cs, c->acct, e->seq, &body, NULL);
	if (rc == IRIS_OK)
		rc = iris__outbox_seal(c, t, e, body.p, body.len, &sealed);
	if (rc == IRIS_OK)
		rc = iris__cs_op_outbox_sealed(t, c->acct, e->seq, sealed.p,
		    sealed.len);
	if (rc == IRIS_OK && (rc = iris__client_submit(c, t)) == IRIS_OK)
		e->state = OB_SEALING;
	if (rc != IRIS_OK) {
		iris__client_txn_drop(t);
		iris__free(x);
		/* Nothing it sealed was committed. */
		c->seal->reset(c->sealer);
		if (rc == IRIS_EAGAIN || rc == IRIS_ENOMEM ||
		    rc == IRIS_ESTORE || rc == IRIS_ESHUTDOWN)
			arm(c, REFETCH_MS);
		else
			give_up(c, e, rc);
	}
	iris__buf_free(&body);
	iris__buf_free(&sealed);
}

/* Builds the Send from the sealed record and writes it. */
static int
transmit(struct iris_client *c, struct ob_entry *e)
{
	struct iris_wire_envelope envs[IRIS_ENVELOPES_MAX];
	struct iris_wire_msg m;
	struct iris_buf sealed;
	struct iris_rd r;
	struct creq *q;
	char user[IRIS_USER_MAX + 1];
	size_t i, n, ulen;
	int rc;

	iris__buf_init(&sealed, 0);
	if ((rc = iris__cs_outbox_get(c->cs, c->acct, e->seq, NULL,
	    &sealed)) != IRIS_OK)
		goto out;
	iris__rd_init(&r, sealed.p, sealed.len);
	if (iris__rd_u8(&r) != IRIS__OB_SEALED_VERSION ||
	    (n = iris__rd_u16(&r)) > IRIS_ENVELOPES_MAX) {
		rc = IRIS_ECORRUPT;
		goto out;
	}
	iris__wire_msg_init(&m);
	for (i = 0; i < n; i++) {
		iris__rd_str8(&r, user, sizeof(user));
		ulen = strlen(user);
		envs[i].user.size = (pb_size_t)ulen;
		memcpy(envs[i].user.bytes, user, ulen);
		envs[i].device = iris__rd_u32(&r);
		envs[i].payload.ptr = iris__rd_bytes32(&r,
		    &envs[i].payload.len, IRIS_ENVELOPE_MAX);
	}
	if (iris__rd_done(&r) != IRIS_OK) {
		rc = IRIS_ECORRUPT;
		goto out;
	}
	m.f.which_body = iris_v1_Frame_send_tag;
	memcpy(m.f.body.send.client_msg_id, e->cmid, 16);
	/* Retry requests are control messages (iris-protocol(7)); read
	 * receipts a class of their own, for which the server makes no
	 * delivery receipts. */
	m.f.body.send.class = e->kind == IRIS__CONTENT_RETRY ?
	    iris_v1_MsgClass_CLASS_CONTROL : e->kind == IRIS__CONTENT_READ ?
	    iris_v1_MsgClass_CLASS_RECEIPT : iris_v1_MsgClass_CLASS_MESSAGE;
	m.envs = envs;
	m.nenvs = n;
	if ((q = iris__conn_req(c, RQ_SEND, &m)) == NULL) {
		rc = IRIS_EAGAIN;
		goto out;
	}
	q->num = e->seq;
	if ((rc = iris__conn_send(c, &m)) != IRIS_OK) {
		iris__conn_req_free(c, q);
		goto out;
	}
	e->rid = q->rid;
	e->state = OB_INFLIGHT;
	c->ob_inflight++;
out:
	iris__buf_free(&sealed);
	return rc;
}

void
iris__outbox_kick(struct iris_client *c)
{
	struct ob_entry *e, *next;
	uint64_t now = iris__client_now(c);
	uint32_t wait;
	int rc;

	if (iris__client_tearing(c))
		return;
	for (e = c->ob_head; e != NULL; e = next) {
		next = e->next;
		if (e->state == OB_INFLIGHT)
			continue;
		/* Order: nothing goes past a send that cannot go yet. */
		if (e->state == OB_COMMITTING || e->state == OB_SEALING ||
		    !iris__conn_is_online(c))
			return;
		if (now < c->ob_pause_until) {
			arm(c, c->ob_pause_until - now);
			return;
		}
		if (e->state == OB_QUEUED) {
			if (iris__outbox_lists_ready(c, e))
				reseal(c, e);
			return;
		}
		if (c->ob_inflight >= IRIS_CLIENT_INFLIGHT ||
		    iris__conn_outlen(c) > OUT_HIGH)
			return;		/* an answer or a flush calls again */
		if (c->ob_have_bucket && !iris__bucket_take(&c->ob_bucket,
		    now * 1000, 1, &wait)) {
			arm(c, wait);
			return;
		}
		if ((rc = transmit(c, e)) != IRIS_OK) {
			if (rc == IRIS_ECORRUPT || rc == IRIS_ECRYPTO ||
			    rc == IRIS_ENOTFOUND)
				give_up(c, e, rc);
			else
				arm(c, REFETCH_MS);
			return;
		}
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	iris__outbox_kick(arg);
}

static void
arm(struct iris_client *c, uint64_t ms)
{
	struct timeval tv;

	if (event_get_callback(c->ev_ob) == NULL)
		event_assign(c->ev_ob, c->base, -1, 0, on_timer, c);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->ev_ob, &tv);
}

/* ERR_STALE_DEVICES: take the attached lists and seal again. */
static void
on_stale(struct iris_client *c, struct ob_entry *e, struct iris_wire_msg *m)
{
	const char *want[3] = { e->to, c->user, NULL };
	char user[IRIS_USER_MAX + 1], to[IRIS_USER_MAX + 1];
	size_t i;
	int rc, any = 0;

	snprintf(to, sizeof(to), "%s", e->to);
	if (++e->stale > STALE_MAX) {
		give_up(c, e, IRIS_ESTALE);
		return;
	}
	e->state = OB_QUEUED;
	for (i = 0; i < m->nlists; i++)
		if ((rc = iris__devlist_accept_any(c, &m->lists[i], want,
		    user)) == IRIS_OK) {
			iris__outbox_lists(c, user, IRIS_OK, 1);
			any = 1;
		}
	if (!any) {
		/* Nothing usable attached: ask for both lists. */
		(void)iris__devlist_fetch(c, to);
		(void)iris__devlist_fetch(c, c->user);
	}
}

void
iris__outbox_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	struct ob_entry *e = iris__outbox_find(c, r->num);
	const iris_v1_Error *err = &m->f.body.error;
	uint64_t rid = r->rid, now;
	int code;

	iris__conn_req_free(c, r);
	if (e == NULL)
		return;
	if (m->f.which_body == iris_v1_Frame_send_ack_tag) {
		/* Even an answer to an older try: the server has it. */
		iris__outbox_acked(c, e, &m->f.body.send_ack);
		iris__outbox_kick(c);
		return;
	}
	if (e->rid != rid || e->state != OB_INFLIGHT)
		return;		/* superseded by a newer try */
	e->state = e->reseal ? OB_QUEUED : OB_READY;
	e->reseal = 0;
	e->rid = 0;
	c->ob_inflight--;
	code = m->f.which_body == iris_v1_Frame_error_tag ? (int)err->code :
	    iris_v1_ErrorCode_ERR_INTERNAL;
	if (code == iris_v1_ErrorCode_ERR_NONE)
		return;		/* the connection went: sent again later */
	if (code == iris_v1_ErrorCode_ERR_STALE_DEVICES)
		on_stale(c, e, m);
	else if (iris__wire_err_retryable(code)) {
		/* Resent in order from here, after the server's wait. */
		now = iris__client_now(c);
		if (now + err->retry_after_ms > c->ob_pause_until)
			c->ob_pause_until = now + err->retry_after_ms;
	} else
		give_up(c, e, iris__wire_to_iris(code));
	iris__outbox_kick(c);
}

void
iris__outbox_offline(struct iris_client *c)
{
	struct ob_entry *e;

	for (e = c->ob_head; e != NULL; e = e->next)
		if (e->state == OB_INFLIGHT) {
			e->state = e->reseal ? OB_QUEUED : OB_READY;
			e->reseal = 0;
			e->rid = 0;
		}
	c->ob_inflight = 0;
}

void
iris__outbox_lists(struct iris_client *c, const char *user, int rc,
    int changed)
{
	struct ob_entry *e, *next;
	int own = strcmp(user, c->user) == 0;

	for (e = c->ob_head; e != NULL; e = next) {
		next = e->next;
		if (!own && strcmp(e->to, user) != 0)
			continue;
		if (rc == IRIS_OK) {
			if (changed && e->state == OB_READY)
				e->state = OB_QUEUED;	/* seal again */
			else if (changed && e->state == OB_INFLIGHT)
				e->reseal = 1;	/* when it comes back */
		} else if (rc != IRIS_ECLOSED && rc != IRIS_EAGAIN &&
		    rc != IRIS_ESHUTDOWN && !own && e->state != OB_INFLIGHT &&
		    e->state != OB_SEALING && e->state != OB_COMMITTING)
			give_up(c, e, rc);
	}
	if (rc != IRIS_OK && (rc == IRIS_EAGAIN || rc == IRIS_ESHUTDOWN))
		arm(c, REFETCH_MS);
	iris__outbox_kick(c);
}

void
iris__outbox_free_all(struct iris_client *c)
{
	struct ob_entry *e;

	while ((e = c->ob_head) != NULL) {
		c->ob_head = e->next;
		iris__free(e);
	}
	c->ob_tail = NULL;
	c->ob_n = 0;
	c->ob_inflight = 0;
	if (c->ev_ob != NULL)
		event_free(c->ev_ob);
	c->ev_ob = NULL;
}

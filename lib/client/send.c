/* SPDX-License-Identifier: ISC */
/*
 * Sending: the public calls (a message into the durable outbox, a typing
 * indicator straight to the recipient's online devices) and the fan-out
 * that seals one envelope for every device of the recipient's verified
 * list and every other device of our own.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "util/alloc.h"

void (*iris__client_seal_hook)(struct iris_client *c, const char *user,
    uint32_t device, const struct iris__content *in, struct iris_buf *env);

/* The sent callback, fired from the loop. */
struct ev_sent {
	struct cev	 ev;
	uint8_t		 id[16];
	int		 status;
};

static void
sent_fire(struct iris_client *c, struct cev *e)
{
	struct ev_sent *x = (struct ev_sent *)e;

	if (c->on_sent != NULL)
		c->on_sent(c, x->id, x->status, c->on_sent_arg);
}

static void
sent_drop(struct cev *e)
{
	iris__free(e);
}

void
iris__outbox_sent_event(struct iris_client *c, const uint8_t id[16],
    int status)
{
	struct ev_sent *x;

	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = sent_fire;
	x->ev.drop = sent_drop;
	memcpy(x->id, id, 16);
	x->status = status;
	iris__client_event(c, &x->ev);
}

/* Outbox meta record: u8 version | cmid[16] | u8 len | to | u32 type;
 * version 2 (a send the library makes itself) then u8 kind |
 * u8 has_of | [of[16]]. */
static void
meta_encode(const struct ob_entry *e, struct iris_buf *b)
{
	iris__buf_u8(b, OB_QUIET(e) ? IRIS__OB_META_V2 :
	    IRIS__OB_META_VERSION);
	iris__buf_put(b, e->cmid, 16);
	iris__buf_str8(b, e->to, strlen(e->to));
	iris__buf_u32(b, e->type);
	if (OB_QUIET(e)) {
		iris__buf_u8(b, (uint8_t)e->kind);
		iris__buf_u8(b, e->has_of ? 1 : 0);
		if (e->has_of)
			iris__buf_put(b, e->of, 16);
	}
}

/* Seals in for every device of the lists; out gets u16 n then records. */
static int
fan_out(struct iris_client *c, struct iris_cs_txn *t, const char *to,
    const struct iris__content *in, int copies, struct iris_buf *out)
{
	const struct devlist *lists[2];
	struct iris_buf env;
	size_t i, k, n = 0, countat;
	int rc = IRIS_OK;

	lists[0] = iris__devlist_find(c, to);
	lists[1] = copies && strcmp(to, c->user) != 0 ?
	    iris__devlist_find(c, c->user) : NULL;
	iris__buf_init(&env, 0);
	countat = out->len;
	iris__buf_u16(out, 0);
	for (k = 0; k < 2 && rc == IRIS_OK; k++)
		for (i = 0; lists[k] != NULL && i < lists[k]->n; i++) {
			const char *user = lists[k]->user;
			uint32_t dev = lists[k]->ids[i];

			if (strcmp(user, c->user) == 0 && dev == c->device)
				continue;
			iris__buf_reset(&env);
			if ((rc = c->seal->seal(c->sealer, t, user, dev, in,
			    &env)) != IRIS_OK)
				break;
			if (t != NULL && iris__client_seal_hook != NULL)
				iris__client_seal_hook(c, user, dev, in, &env);
			if (c->srv_max_envelope != 0 &&
			    env.len > c->srv_max_envelope) {
				rc = IRIS_ETOOBIG;
				break;
			}
			iris__buf_str8(out, user, strlen(user));
			iris__buf_u32(out, dev);
			iris__buf_bytes32(out, env.p, env.len);
			n++;
		}
	iris__buf_free(&env);
	if (rc == IRIS_OK && n == 0)
		rc = IRIS_ENOTFOUND;	/* nobody to send it to */
	if (rc == IRIS_OK && c->srv_max_envelopes != 0 &&
	    n > c->srv_max_envelopes)
		rc = IRIS_ETOOBIG;
	if (rc == IRIS_OK && out->err != 0)
		rc = out->err;
	if (rc == IRIS_OK) {
		out->p[countat] = (uint8_t)(n >> 8);
		out->p[countat + 1] = (uint8_t)n;
	}
	return rc;
}

/*
 * The envelopes of one send. Sealed record: u8 version | u16 n |
 * n x (u8 len | user | u32 device | u32 len | envelope).
 */
int
iris__outbox_seal(struct iris_client *c, struct iris_cs_txn *t,
    const struct ob_entry *e, const uint8_t *body, size_t len,
    struct iris_buf *out)
{
	struct iris__content in;

	memset(&in, 0, sizeof(in));
	in.kind = e->kind;
	in.type = e->type;
	in.recipient = e->to;
	in.body = body;
	in.len = len;
	in.of = e->has_of ? e->of : NULL;
	iris__buf_u8(out, IRIS__OB_SEALED_VERSION);
	return fan_out(c, t, e->to, &in, 1, out);
}

struct queue_ctx {
	uint64_t	 seq;
	int		 sealed;
	int		 touched;	/* sealer state written */
};

/* The first commit of a send: durable locally, or failed. */
static void
queued(struct iris_client *c, int rc, void *arg)
{
	struct queue_ctx *x = arg;
	struct ob_entry *e;

	if (!iris__client_tearing(c) &&
	    (e = iris__outbox_find(c, x->seq)) != NULL) {
		if (rc != IRIS_OK) {
			if (x->sealed || x->touched)
				c->seal->reset(c->sealer);
			if (!OB_QUIET(e))
				iris__outbox_sent_event(c, e->cmid, rc);
			iris__outbox_unlink(c, e);
		} else {
			e->state = x->sealed ? OB_READY : OB_QUEUED;
			if (!OB_QUIET(e))
				iris__outbox_sent_event(c, e->cmid,
				    IRIS_CLIENT_QUEUED);
			iris__outbox_kick(c);
		}
	}
	iris__free(x);
}

static int
check_send(struct iris_client *c, const char *to, const void *body,
    size_t len)
{
	if (to == NULL || !iris__wire_userid_ok((const uint8_t *)to,
	    strlen(to))) {
		iris__client_seterr(c, "send: not a valid user id");
		return IRIS_EINVAL;
	}
	if (body == NULL && len > 0)
		return IRIS_EINVAL;
	if (len > IRIS_CLIENT_BODY_MAX) {
		iris__client_seterr(c, "send: %zu bytes is over the %d a "
		    "message may hold", len, IRIS_CLIENT_BODY_MAX);
		return IRIS_ETOOBIG;
	}
	if (c->device == 0) {
		iris__client_seterr(c, "send: no account yet");
		return IRIS_ESTATE;
	}
	if (c->ob_n >= c->cfg.outbox_max) {
		iris__client_seterr(c, "send: the outbox holds %zu sends, its "
		    "limit", c->ob_n);
		return IRIS_ELIMIT;
	}
	return IRIS_OK;
}

/* Into the outbox: durable, sealed in the same commit when it can be. */
static int
enqueue(struct iris_client *c, const struct iris__send_req *rq,
    uint8_t id[16])
{
	struct iris_buf meta, sealed;
	struct iris_cs_txn *t = NULL;
	struct queue_ctx *x = NULL;
	struct ob_entry tmp, *e = NULL;
	int rc, was_sealed, touched = 0;

	memset(&tmp, 0, sizeof(tmp));
	snprintf(tmp.to, sizeof(tmp.to), "%s", rq->to);
	tmp.type = rq->type;
	tmp.kind = rq->kind;
	if ((tmp.has_of = rq->of != NULL))
		memcpy(tmp.of, rq->of, 16);
	tmp.seq = c->next_seq;
	if ((rc = iris__uuid_v7(&c->uuids, tmp.cmid)) != IRIS_OK)
		return rc;
	iris__buf_init(&meta, 0);
	iris__buf_init(&sealed, 0);
	if ((x = iris__calloc(1, sizeof(*x))) == NULL ||
	    (t = iris__client_txn(c, queued, x)) == NULL) {
		iris__free(x);
		return IRIS_ENOMEM;
	}
	x->seq = tmp.seq;
	meta_encode(&tmp, &meta);
	rc = IRIS_OK;
	if (rq->forget_user != NULL && c->seal->forget != NULL) {
		touched = 1;
		rc = c->seal->forget(c->sealer, t, rq->forget_user,
		    rq->forget_device);
	}
	if (rc == IRIS_OK && rq->kind == IRIS__CONTENT_MESSAGE &&
	    iris__heal_on(c))
		rc = iris__heal_remember(c, t, tmp.cmid, tmp.to, tmp.type,
		    rq->of, rq->body, rq->len);
	/* With the lists at hand, sealed in the same commit. */
	if (rc == IRIS_OK && iris__outbox_lists_ready(c, &tmp) &&
	    iris__outbox_seal(c, t, &tmp, rq->body, rq->len, &sealed) ==
	    IRIS_OK)
		x->sealed = 1;
	else
		iris__buf_reset(&sealed);
	was_sealed = x->sealed || touched;
	x->touched = touched;
	if (rc == IRIS_OK)
		rc = meta.err != 0 ? meta.err : iris__cs_op_outbox_put(t,
		    c->acct, tmp.seq, meta.p, meta.len, rq->body != NULL ?
		    rq->body : "", rq->len, x->sealed ? sealed.p : NULL,
		    sealed.len);
	if (rc == IRIS_OK && (e = iris__outbox_append(c, tmp.seq)) == NULL)
		rc = IRIS_ENOMEM;
	if (rc == IRIS_OK) {
		memcpy(e->cmid, tmp.cmid, 16);
		memcpy(e->to, tmp.to, sizeof(e->to));
		e->type = tmp.type;
		e->kind = tmp.kind;
		e->has_of = tmp.has_of;
		memcpy(e->of, tmp.of, 16);
		e->state = OB_COMMITTING;
		if ((rc = iris__client_submit(c, t)) != IRIS_OK)
			iris__outbox_unlink(c, e);
	}
	if (rc == IRIS_OK) {
		c->next_seq++;
		memcpy(id, tmp.cmid, 16);
	} else {
		iris__client_txn_drop(t);
		iris__free(x);
	}
	if (rc != IRIS_OK && was_sealed)
		c->seal->reset(c->sealer);
	iris__buf_free(&meta);
	iris__buf_free(&sealed);
	return rc;
}

int
iris_client_send(struct iris_client *c, const char *to, uint32_t type,
    const void *body, size_t len, uint8_t id[16])
{
	struct iris__send_req rq;
	int rc;

	if (c == NULL || id == NULL)
		return IRIS_EINVAL;
	if ((rc = check_send(c, to, body, len)) != IRIS_OK)
		return rc;
	memset(&rq, 0, sizeof(rq));
	rq.to = to;
	rq.kind = IRIS__CONTENT_MESSAGE;
	rq.type = type;
	rq.body = body;
	rq.len = len;
	return enqueue(c, &rq, id);
}

int
iris__send_internal(struct iris_client *c, const struct iris__send_req *rq,
    uint8_t id[16])
{
	if (c->device == 0)
		return IRIS_ESTATE;
	/* Past the embedder's bound, but not past twice it. */
	if (c->ob_n >= 2 * c->cfg.outbox_max)
		return IRIS_ELIMIT;
	return enqueue(c, rq, id);
}

/* A typing indicator's answer: stale lists are learnt for the next one. */
void
iris__typing_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	const char *want[3];
	char user[IRIS_USER_MAX + 1], to[IRIS_USER_MAX + 1];
	size_t i;

	snprintf(to, sizeof(to), "%s", r->to);
	iris__conn_req_free(c, r);
	if (m->f.which_body != iris_v1_Frame_error_tag ||
	    m->f.body.error.code != iris_v1_ErrorCode_ERR_STALE_DEVICES)
		return;
	want[0] = to;
	want[1] = c->user;
	want[2] = NULL;
	for (i = 0; i < m->nlists; i++)
		if (iris__devlist_accept_any(c, &m->lists[i], want, user) ==
		    IRIS_OK)
			iris__outbox_lists(c, user, IRIS_OK, 1);
}

/* Typing: transient, to the recipient's online devices, never stored. */
int
iris_client_typing(struct iris_client *c, const char *to, int typing)
{
	struct iris_wire_envelope envs[IRIS_ENVELOPES_MAX];
	struct iris__content in;
	struct iris_wire_msg m;
	struct iris_buf sealed;
	struct iris_rd r;
	struct creq *q;
	char user[IRIS_USER_MAX + 1];
	size_t i, n;
	int rc;

	if (c == NULL || to == NULL || !iris__wire_userid_ok(
	    (const uint8_t *)to, strlen(to)))
		return IRIS_EINVAL;
	if (!iris__conn_is_online(c))
		return IRIS_ESTATE;
	if (iris__devlist_find(c, to) == NULL) {
		/* Best effort: learn the list for the next one. */
		(void)iris__devlist_fetch(c, to);
		return IRIS_EAGAIN;
	}
	memset(&in, 0, sizeof(in));
	in.kind = IRIS__CONTENT_TYPING;
	in.type = typing ? 1 : 0;
	in.recipient = to;
	in.body = (const uint8_t *)"";
	iris__buf_init(&sealed, 0);
	/* Typing state is not kept: no transaction for the sealer. The
	 * server wants the same device set as for messages, copies too. */
	if ((rc = fan_out(c, NULL, to, &in, 1, &sealed)) != IRIS_OK)
		goto out;
	iris__rd_init(&r, sealed.p, sealed.len);
	n = iris__rd_u16(&r);
	iris__wire_msg_init(&m);
	for (i = 0; i < n && i < IRIS_ENVELOPES_MAX; i++) {
		iris__rd_str8(&r, user, sizeof(user));
		envs[i].user.size = (pb_size_t)strlen(user);
		memcpy(envs[i].user.bytes, user, envs[i].user.size);
		envs[i].device = iris__rd_u32(&r);
		envs[i].payload.ptr = iris__rd_bytes32(&r,
		    &envs[i].payload.len, IRIS_ENVELOPE_MAX);
	}
	m.f.which_body = iris_v1_Frame_send_tag;
	m.f.body.send.class = iris_v1_MsgClass_CLASS_TYPING;
	m.f.body.send.transient = true;
	if ((rc = iris__uuid_v7(&c->uuids, m.f.body.send.client_msg_id)) !=
	    IRIS_OK)
		goto out;
	m.envs = envs;
	m.nenvs = i;
	if ((q = iris__conn_req(c, RQ_TYPING, &m)) == NULL) {
		rc = IRIS_EAGAIN;
		goto out;
	}
	snprintf(q->to, sizeof(q->to), "%s", to);
	if ((rc = iris__conn_send(c, &m)) != IRIS_OK)
		iris__conn_req_free(c, q);
out:
	iris__buf_free(&sealed);
	return rc;
}

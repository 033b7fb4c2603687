/* SPDX-License-Identifier: ISC */
/*
 * The send service: a send is checked against the latest signed device
 * list of each recipient user and of the sender itself (a stale set is
 * refused with the current lists), then either relayed to the devices
 * online now (transient) or appended as one unit, deduplicated, and
 * answered only once durable, after which every recipient device's
 * doorbell rings. Each connection's sends form a FIFO chain: once one is
 * refused the later ones are refused too until the first is resent.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "core/core_priv.h"
#include "store/accounts.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/hlc.h"

/* A connection's sends, in the order they came. */
struct sender {
	struct iris_hnode	 node;
	uint64_t		 conn;
	uint64_t		 epoch;
	struct iris_chain	*chain;
};

static struct sender *
sender_get(struct iris_core *core, uint64_t conn, int create)
{
	uint64_t h = conn * 0x9e3779b97f4a7c15ull;
	struct iris_hnode *n;
	struct sender *sd;

	for (n = iris__hmap_find(&core->senders, h); n != NULL;
	    n = iris__hmap_next(n)) {
		sd = IRIS__CONTAINER(n, struct sender, node);
		if (sd->conn == conn)
			return sd;
	}
	if (!create || (sd = iris__calloc(1, sizeof(*sd))) == NULL)
		return NULL;
	sd->conn = conn;
	if (iris__hmap_put(&core->senders, &sd->node, h) != IRIS_OK) {
		iris__free(sd);
		return NULL;
	}
	return sd;
}

static void
sender_free(struct iris_core *core, struct sender *sd)
{
	iris__hmap_del(&core->senders, &sd->node);
	iris__chain_unref(sd->chain);
	iris__free(sd);
}

void
iris__core_senders_drop(struct iris_core *core, uint64_t conn)
{
	struct sender *sd = sender_get(core, conn, 0);

	if (sd != NULL)
		sender_free(core, sd);
}

void
iris__core_senders_free(struct iris_core *core)
{
	struct iris_hnode *n, *it;
	size_t cur = 0;

	while ((n = iris__hmap_each(&core->senders, &cur, &it)) != NULL)
		sender_free(core, IRIS__CONTAINER(n, struct sender, node));
	iris__hmap_free(&core->senders);
}

/* The chain of the request's epoch: a new epoch starts a new chain. */
static struct iris_chain *
chain_of(struct iris_core *core, struct iris_bus_req *req)
{
	struct sender *sd;
	struct iris_chain *c;

	if ((sd = sender_get(core, req->from.conn, 1)) == NULL)
		return NULL;
	if (sd->chain == NULL || sd->epoch != req->u.send.chain) {
		if ((c = iris__chain_new()) == NULL)
			return NULL;
		iris__chain_unref(sd->chain);
		sd->chain = c;
		sd->epoch = req->u.send.chain;
	}
	return sd->chain;
}

int
iris__core_deliver_frame(const struct iris_message *msg, uint8_t **buf,
    size_t *len, size_t *cap)
{
	struct iris_wire_msg m;
	iris_v1_Deliver *d;
	size_t ulen = strlen(msg->sender);
	int rc;

	iris__wire_msg_init_body(&m, iris_v1_Frame_deliver_tag);
	d = &m.f.body.deliver;
	d->seq = msg->seq;
	d->msg_id = msg->msg_id;
	d->sender_user.size = (pb_size_t)ulen;
	memcpy(d->sender_user.bytes, msg->sender, ulen);
	d->sender_device = msg->sender_device;
	memcpy(d->client_msg_id, msg->cmid, 16);
	d->sent_ms = msg->received_ms;
	d->transient = msg->seq == 0;
	if (msg->msg_class == IRIS__CLASS_DELIVERY) {
		/* A delivery receipt: the sender fields name who got it. */
		d->class = iris_v1_MsgClass_CLASS_RECEIPT;
		d->has_receipt = true;
		d->receipt.msg_id = msg->msg_id;
		d->receipt.user.size = d->sender_user.size;
		memcpy(d->receipt.user.bytes, d->sender_user.bytes,
		    d->sender_user.size);
		d->receipt.device_id = msg->sender_device;
		d->receipt.delivered_ms = msg->received_ms;
	} else {
		d->class = (iris_v1_MsgClass)msg->msg_class;
		m.envelope.ptr = msg->data;
		m.envelope.len = msg->len;
	}
	rc = iris__core_encode_append(&m, buf, len, cap);
	iris__wire_msg_reset(&m);
	return rc;
}

/* One recipient user of a send, checked against its device list. */
struct group {
	char		 user[IRIS_USER_MAX + 1];
	int		 stale;
};

static int
same_user(const struct iris_wire_envelope *e, const char *user)
{
	return e->user.size == strlen(user) &&
	    memcmp(e->user.bytes, user, e->user.size) == 0;
}

static int
listed(const struct devinfo *info, uint32_t device)
{
	uint32_t i;

	for (i = 0; i < info->ndev; i++)
		if (info->dev[i] == device)
			return 1;
	return 0;
}

/*
 * Checks the envelopes of user g against its list: 0 and g->stale set
 * when they name other devices than the list's, or a refusal code.
 */
static int
check_group(struct iris_core *core, struct iris_bus_req *req,
    struct group *g, const char **why)
{
	const struct iris_bus_send *s = &req->u.send;
	const struct devinfo *info;
	int own = strcmp(g->user, req->from.user) == 0, rc, revoked;
	uint32_t expect, got = 0;
	uint8_t key[32];
	size_t i, k;

	if ((info = iris__core_devinfo(core, g->user, &rc)) == NULL) {
		*why = "the store could not be read";
		return iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE;
	}
	if (!info->exists) {
		*why = "no such recipient user";
		return iris_v1_ErrorCode_ERR_UNKNOWN_USER;
	}
	for (i = 0; i < s->nenvs; i++) {
		if (!same_user(&s->envs[i], g->user))
			continue;
		if (!info->has_list) {
			*why = "the recipient has no signed device list";
			return iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE;
		}
		if (own && s->envs[i].device == req->from.device) {
			*why = "an envelope for the sending device";
			return iris_v1_ErrorCode_ERR_BAD_REQUEST;
		}
		for (k = 0; k < i; k++)
			if (same_user(&s->envs[k], g->user) &&
			    s->envs[k].device == s->envs[i].device) {
				*why = "two envelopes for one device";
				return iris_v1_ErrorCode_ERR_BAD_REQUEST;
			}
		if (listed(info, s->envs[i].device)) {
			got++;
			continue;
		}
		/* Registered but not listed: it receives nothing. */
		rc = iris__acct_device(core->store, g->user, s->envs[i].device,
		    key, &revoked);
		if (rc == IRIS_ENOTFOUND) {
			*why = "no such recipient device";
			return iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE;
		}
		g->stale = 1;
	}
	expect = info->ndev;
	if (own && listed(info, req->from.device))
		expect--;
	if (info->has_list && got != expect)
		g->stale = 1;
	return 0;
}

/* ERR_STALE_DEVICES with the current list of each user it got wrong. */
static void
refuse_stale(struct iris_core *core, struct iris_bus_req *req,
    struct group *g, size_t ng)
{
	struct iris_wire_msg m;
	iris_v1_SignedDeviceList *l;
	uint64_t version;
	size_t i, len;

	iris__wire_msg_init(&m);
	m.f.request_id = req->rid;
	memcpy(m.f.trace_id, req->from.trace, 16);
	m.f.which_body = iris_v1_Frame_error_tag;
	m.f.body.error.code = iris_v1_ErrorCode_ERR_STALE_DEVICES;
	snprintf(m.f.body.error.detail, sizeof(m.f.body.error.detail),
	    "the device lists changed; they are attached");
	if ((m.lists = iris__calloc(IRIS_LISTS_MAX, sizeof(*m.lists))) ==
	    NULL) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "out of memory");
		return;
	}
	for (i = 0; i < ng && m.nlists < IRIS_LISTS_MAX; i++) {
		l = &m.lists[m.nlists];
		if (g[i].stale && iris__acct_devlist(core->store, g[i].user,
		    &version, l->list.bytes, &len, l->signature) == IRIS_OK) {
			l->list.size = (pb_size_t)len;
			m.nlists++;
		}
	}
	req->rep.code = iris_v1_ErrorCode_ERR_STALE_DEVICES;
	if (iris__core_encode(&m, &req->rep.frames, &req->rep.len) != IRIS_OK)
		req->rep.frames = NULL;		/* the edge says it plainly */
	iris__wire_msg_reset(&m);
	iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_STALE_DEVICES, 0,
	    "the device lists changed");
}

/* Checks every envelope; answers and returns non-zero when refused. */
static int
check_devices(struct iris_core *core, struct iris_bus_req *req)
{
	const struct iris_bus_send *s = &req->u.send;
	struct group g[IRIS_ENVELOPES_MAX + 1];
	const char *why = NULL;
	size_t ng = 0, i, k;
	int code, stale = 0;

	/* The sender's own list counts too: its other devices get copies. */
	k = strnlen(req->from.user, sizeof(g[ng].user) - 1);
	memcpy(g[ng].user, req->from.user, k);
	g[ng].user[k] = '\0';
	g[ng++].stale = 0;
	for (i = 0; i < s->nenvs; i++) {
		for (k = 0; k < ng; k++)
			if (same_user(&s->envs[i], g[k].user))
				break;
		if (k < ng)
			continue;
		memcpy(g[ng].user, s->envs[i].user.bytes, s->envs[i].user.size);
		g[ng].user[s->envs[i].user.size] = '\0';
		g[ng++].stale = 0;
	}
	for (i = 0; i < ng; i++) {
		if ((code = check_group(core, req, &g[i], &why)) != 0) {
			iris__core_refuse(core, req, code, code ==
			    iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE ? 1000 : 0,
			    why);
			return 1;
		}
		stale |= g[i].stale;
	}
	if (stale) {
		refuse_stale(core, req, g, ng);
		return 1;
	}
	return 0;
}

/* Transient: to the devices online now, never stored, no seq. */
static void
relay(struct iris_core *core, struct iris_bus_req *req)
{
	const struct iris_bus_send *s = &req->u.send;
	struct iris_message msg;
	struct iris_bus_push *p;
	char user[IRIS_USER_MAX + 1];
	size_t i, len, cap;
	uint8_t *buf;

	memset(&msg, 0, sizeof(msg));
	msg.sender = req->from.user;
	msg.sender_device = req->from.device;
	msg.cmid = s->cmid;
	msg.msg_class = s->msg_class;
	msg.received_ms = iris__clock_realtime_ms(NULL);
	for (i = 0; i < s->nenvs; i++) {
		memcpy(user, s->envs[i].user.bytes, s->envs[i].user.size);
		user[s->envs[i].user.size] = '\0';
		if (!iris__core_online(core, user, s->envs[i].device))
			continue;
		msg.data = s->envs[i].payload.ptr;
		msg.len = s->envs[i].payload.len;
		buf = NULL;
		len = cap = 0;
		if ((p = iris__calloc(1, sizeof(*p))) == NULL ||
		    iris__core_deliver_frame(&msg, &buf, &len, &cap) !=
		    IRIS_OK) {
			iris__free(p);
			iris__free(buf);
			continue;	/* best effort, as typing is */
		}
		p->kind = IRIS_PUSH_RELAY;
		memcpy(p->user, user, sizeof(p->user));
		p->device = s->envs[i].device;
		p->msg_class = s->msg_class;
		p->t0_us = req->from.t0_us;
		p->frame = buf;
		p->len = len;
		iris__bus_push(core->bus, p);
		req->rep.count++;
		if (s->msg_class == iris_v1_MsgClass_CLASS_TYPING)
			core->st.typing_relayed++;
	}
	iris__bus_reply(req);
}

static void
count_refusal(struct iris_core *core, int code)
{
	core->st.sends_refused++;
	core->st.refused[(unsigned)code < IRIS_CORE_CODES ? code : 0]++;
}

static void
appended(struct iris_store *store, int rc, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int duplicate, void *arg)
{
	struct core_op *op = arg;
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;
	const struct iris_bus_send *s = &req->u.send;
	struct iris_message msg;
	char user[IRIS_USER_MAX + 1], trace[33];
	size_t i, len, cap;
	uint8_t *buf;

	(void)store;
	iris__core_trace(&req->from, trace);
	if (rc != IRIS_OK) {
		struct sender *sd = sender_get(core, req->from.conn, 0);

		if (sd != NULL && sd->chain != NULL &&
		    sd->epoch == s->chain)
			sd->chain->broken = 1;
		req->rep.code = rc == IRIS_EAGAIN ?
		    iris_v1_ErrorCode_ERR_INBOX_FULL : rc == IRIS_ESTATE ?
		    iris_v1_ErrorCode_ERR_OUT_OF_ORDER : 0;
		iris__log(&core->log, IRIS_LOG_DEBUG, "core: trace %s: send "
		    "of %s/%u refused by the store: %s", trace,
		    req->from.user, req->from.device, iris_errname(rc));
		if (req->rep.code != 0) {
			count_refusal(core, req->rep.code);
			iris__core_op_free(op);
			iris__core_refuse(core, req, req->rep.code,
			    rc == IRIS_EAGAIN ? 1000 : 100, rc == IRIS_EAGAIN ?
			    "a recipient's inbox is full" :
			    "an earlier send of this device was refused");
			return;
		}
		count_refusal(core, rc == IRIS_EAGAIN ?
		    iris_v1_ErrorCode_ERR_OVERLOADED :
		    iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE);
		iris__core_op_free(op);
		iris__core_store_error(core, req, rc);
		return;
	}
	req->rep.msg_id = msg_id;
	req->rep.duplicate = duplicate;
	req->rep.count = (uint32_t)n;
	if (duplicate) {
		core->st.dedup_hit++;
		iris__core_op_reply(op);
		return;
	}
	core->st.stored++;
	memset(&msg, 0, sizeof(msg));
	msg.msg_id = msg_id;
	msg.sender = req->from.user;
	msg.sender_device = req->from.device;
	msg.cmid = s->cmid;
	msg.msg_class = s->msg_class;
	msg.received_ms = iris__hlc_ms(msg_id);
	/* Doorbells first: a recipient may see it before its ack. */
	for (i = 0; i < n && i < s->nenvs; i++) {
		msg.seq = seqs[i];
		msg.data = s->envs[i].payload.ptr;
		msg.len = s->envs[i].payload.len;
		buf = NULL;
		len = cap = 0;
		memcpy(user, s->envs[i].user.bytes, s->envs[i].user.size);
		user[s->envs[i].user.size] = '\0';
		if (iris__core_deliver_frame(&msg, &buf, &len, &cap) != IRIS_OK)
			buf = NULL;	/* the device finds it by a gap */
		iris__core_doorbell(core, user, s->envs[i].device, seqs[i],
		    s->msg_class, req->from.t0_us, buf, len);
	}
	iris__log(&core->log, IRIS_LOG_DEBUG, "core: trace %s: send of %s/%u "
	    "stored for %zu devices", trace, req->from.user, req->from.device,
	    n);
	iris__core_op_reply(op);
}

static void
append(struct iris_core *core, struct iris_bus_req *req,
    struct iris_chain *chain)
{
	const struct iris_bus_send *s = &req->u.send;
	char user[IRIS_USER_MAX + 1];
	struct iris_send *m = NULL;
	struct core_op *op;
	size_t i;
	int rc;

	rc = iris_send_new(&m, req->from.user, req->from.device, s->cmid,
	    s->msg_class);
	for (i = 0; rc == IRIS_OK && i < s->nenvs; i++) {
		memcpy(user, s->envs[i].user.bytes, s->envs[i].user.size);
		user[s->envs[i].user.size] = '\0';
		rc = iris_send_add(m, user, s->envs[i].device,
		    s->envs[i].payload.ptr, s->envs[i].payload.len);
	}
	if (rc == IRIS_OK && (op = iris__core_op_new(core, req)) == NULL)
		rc = IRIS_ENOMEM;
	if (rc != IRIS_OK) {
		iris_send_free(m);
		chain->broken = 1;
		count_refusal(core, iris_v1_ErrorCode_ERR_OVERLOADED);
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	iris__send_chain(m, chain);
	iris__core_trace(&req->from, m->trace);
	if (strcmp(m->trace, "-") == 0)
		m->trace[0] = '\0';
	if ((rc = iris_store_append(core->store, m, appended, op)) !=
	    IRIS_OK) {
		chain->broken = 1;
		iris__core_op_free(op);
		count_refusal(core, rc == IRIS_EAGAIN ?
		    iris_v1_ErrorCode_ERR_OVERLOADED :
		    iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE);
		iris__core_store_error(core, req, rc);
	}
}

void
iris__core_send(struct iris_core *core, struct iris_bus_req *req)
{
	const struct iris_bus_send *s = &req->u.send;
	struct iris_chain *chain = NULL;
	char trace[33];

	core->st.msg_in++;
	iris__core_trace(&req->from, trace);
	iris__log(&core->log, IRIS_LOG_DEBUG, "core: trace %s: send of %s/%u,"
	    " class %d%s, %zu envelopes", trace, req->from.user,
	    req->from.device, s->msg_class, s->transient ? " (transient)" : "",
	    s->nenvs);
	if (s->transient && s->msg_class == iris_v1_MsgClass_CLASS_TYPING &&
	    iris__core_overload(core) >= 1) {
		core->st.typing_shed++;
		count_refusal(core, iris_v1_ErrorCode_ERR_OVERLOADED);
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_OVERLOADED,
		    1000, "shedding typing indicators");
		return;
	}
	if (!s->transient) {
		if ((chain = chain_of(core, req)) == NULL) {
			count_refusal(core, iris_v1_ErrorCode_ERR_OVERLOADED);
			iris__core_store_error(core, req, IRIS_ENOMEM);
			return;
		}
		if (chain->broken) {
			count_refusal(core, iris_v1_ErrorCode_ERR_OUT_OF_ORDER);
			iris__core_refuse(core, req,
			    iris_v1_ErrorCode_ERR_OUT_OF_ORDER, 100,
			    "an earlier send of this device was refused");
			return;
		}
	}
	if (check_devices(core, req)) {
		count_refusal(core, req->rep.code);
		if (chain != NULL && iris__wire_err_retryable(req->rep.code))
			chain->broken = 1;
		return;
	}
	if (s->transient)
		relay(core, req);
	else
		append(core, req, chain);
}

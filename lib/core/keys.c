/* SPDX-License-Identifier: ISC */
/*
 * The key directory service: a device uploads its signed prekey (the
 * signature checked here against its registered identity key) and
 * one-time prekeys; anyone logged in fetches the bundles of a user's
 * listed devices, taking one one-time prekey of each on the store's
 * writer thread, or only the signed prekey once a pool is empty (the
 * last resort). A device whose pool falls below the low mark, or runs
 * out, is told with a prekey_low push; so is one that logs in with a
 * pool below it. Public keys only.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "core/core_priv.h"
#include "store/accounts.h"
#include "store/keys.h"
#include "util/alloc.h"

#define SPK_PREFIX	"IRIS-SPK-v1"
#define SPK_PREFIX_LEN	11

static uint64_t
now_ms(struct iris_core *core)
{
	return core->now_ms(core->now_arg);
}

/* "IRIS-SPK-v1" || u32be id || public_key || u64be created_ms. */
static int
spk_verifies(const iris_v1_SignedPrekey *k, const uint8_t ik[32])
{
	uint8_t msg[SPK_PREFIX_LEN + 4 + 32 + 8], *p = msg;
	int i;

	memcpy(p, SPK_PREFIX, SPK_PREFIX_LEN);
	p += SPK_PREFIX_LEN;
	for (i = 3; i >= 0; i--)
		*p++ = (uint8_t)(k->id >> (8 * i));
	memcpy(p, k->public_key, 32);
	p += 32;
	for (i = 7; i >= 0; i--)
		*p++ = (uint8_t)(k->created_ms >> (8 * i));
	return crypto_sign_verify_detached(k->signature, msg, sizeof(msg),
	    ik) == 0;
}

/* PrekeyLow to one connection (conn != 0) or every one of the device. */
static void
notice(struct iris_core *core, const char *user, uint32_t device,
    uint64_t conn, uint32_t remaining)
{
	struct iris_bus_push *p;
	struct iris_wire_msg m;
	uint8_t *buf;
	size_t len;

	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_prekey_low_tag;
	m.f.body.prekey_low.remaining = remaining;
	if (iris__core_encode(&m, &buf, &len) != IRIS_OK)
		return;
	if ((p = iris__calloc(1, sizeof(*p))) == NULL) {
		iris__free(buf);
		return;		/* told again at its next login */
	}
	p->kind = conn != 0 ? IRIS_PUSH_CONN : IRIS_PUSH_NOTICE;
	snprintf(p->user, sizeof(p->user), "%s", user);
	p->device = device;
	p->conn = conn;
	p->msg_class = iris_v1_MsgClass_CLASS_CONTROL;
	p->frame = buf;
	p->len = len;
	core->st.prekey_low_sent++;
	iris__bus_push(core->bus, p);
}

static void	upload_done(struct core_op *op, struct iris_keys_job *j);
static void	fetch_done(struct core_op *op, struct iris_keys_job *j);

static void
keys_back(struct iris_keys_job *j, void *arg)
{
	if (j->op == KEYS_UPLOAD)
		upload_done(arg, j);
	else
		fetch_done(arg, j);
}

/* Queues j for req (always taking it); a failure is answered here. */
static void
submit(struct iris_core *core, struct iris_bus_req *req,
    struct iris_keys_job *j)
{
	struct core_op *op;
	int rc;

	j->now_ms = now_ms(core);
	j->grace_ms = core->spk_grace_ms;
	j->low_mark = core->prekey_low;
	if ((op = iris__core_op_new(core, req)) == NULL) {
		iris__free(j);
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	j->cb = keys_back;
	j->arg = op;
	j->drop = NULL;		/* the core frees its ops itself */
	if ((rc = iris__keys_submit(core->store, j)) != IRIS_OK) {
		iris__core_op_free(op);		/* j was freed */
		iris__core_store_error(core, req, rc);
	}
}

static void
upload_done(struct core_op *op, struct iris_keys_job *j)
{
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;
	char why[128];
	int code = iris_v1_ErrorCode_ERR_BAD_REQUEST;

	switch (j->job.rc) {
	case IRIS_OK:
		core->st.keys_uploaded++;
		iris__core_op_reply(op);	/* Done, then the notice */
		if (core->prekey_low > 0 && j->u.up.pool < core->prekey_low)
			notice(core, j->user, j->u.up.device, 0, j->u.up.pool);
		return;
	case IRIS_ENOTFOUND:
		code = iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE;
		snprintf(why, sizeof(why), "this device is not registered or "
		    "is revoked");
		break;
	case IRIS_ESTALE:
		code = iris_v1_ErrorCode_ERR_STALE_VERSION;
		snprintf(why, sizeof(why), "signed prekey %u: created_ms is "
		    "not after the current signed prekey's", j->bad_id);
		break;
	case IRIS_EEXIST:
		snprintf(why, sizeof(why), "%s id %u is stored with another "
		    "key", j->bad_reason == IRIS_KEYS_SPK_TAKEN ?
		    "signed prekey" : "one-time prekey", j->bad_id);
		break;
	case IRIS_ELIMIT:
		snprintf(why, sizeof(why), "one-time prekeys: the pool holds "
		    "%u, %u more would pass max_prekeys (%u)", j->u.up.pool,
		    j->u.up.added, j->u.up.max_pool);
		break;
	default:
		iris__core_op_free(op);
		iris__core_store_error(core, req, j->job.rc);
		return;
	}
	iris__core_op_free(op);
	iris__core_refuse(core, req, code, 0, why);
}

static void
upload(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_KeyBundleUpload *k =
	    &req->u.frame->body.key_bundle_upload;
	struct iris_keys_job *j;
	uint8_t ik[32];
	pb_size_t i;
	int revoked, rc;

	rc = iris__acct_device(core->store, req->from.user, req->from.device,
	    ik, &revoked);
	if (rc == IRIS_ENOTFOUND || (rc == IRIS_OK && revoked)) {
		iris__core_refuse(core, req, rc == IRIS_OK ?
		    iris_v1_ErrorCode_ERR_REVOKED :
		    iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE, 0,
		    "this device cannot hold keys");
		return;
	}
	if (rc != IRIS_OK) {
		iris__core_store_error(core, req, rc);
		return;
	}
	if (k->has_signed_prekey && !spk_verifies(&k->signed_prekey, ik)) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_SIGNATURE,
		    0, "signed prekey: the signature does not verify with "
		    "this device's identity key");
		return;
	}
	if ((j = iris__keys_job_new(core->store, KEYS_UPLOAD, NULL,
	    NULL)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	snprintf(j->user, sizeof(j->user), "%s", req->from.user);
	j->u.up.device = req->from.device;
	j->u.up.max_pool = core->max_prekeys;
	if ((j->u.up.has_spk = k->has_signed_prekey)) {
		j->u.up.spk.id = k->signed_prekey.id;
		memcpy(j->u.up.spk.pub, k->signed_prekey.public_key, 32);
		memcpy(j->u.up.spk.sig, k->signed_prekey.signature, 64);
		j->u.up.spk.created_ms = k->signed_prekey.created_ms;
	}
	for (i = 0; i < k->one_time_prekeys_count &&
	    i < IRIS_OPK_BATCH_MAX; i++) {
		j->u.up.opks[i].id = k->one_time_prekeys[i].id;
		memcpy(j->u.up.opks[i].pub, k->one_time_prekeys[i].public_key,
		    32);
	}
	j->u.up.nopks = i;
	submit(core, req, j);
}

static void
spk_out(iris_v1_SignedPrekey *o, const struct iris_spk *k)
{
	o->id = k->id;
	memcpy(o->public_key, k->pub, 32);
	memcpy(o->signature, k->sig, 64);
	o->created_ms = k->created_ms;
}

/* The KeyBundles frame of a fetch, with the user's latest device list. */
static int
bundles_frame(struct iris_core *core, struct iris_bus_req *req,
    struct iris_keys_job *j)
{
	iris_v1_KeyBundles *kb;
	iris_v1_KeyBundle *o;
	const struct iris_keys_bundle *b;
	struct iris_wire_msg m;
	uint64_t version;
	size_t i, len;
	int rc;

	iris__wire_msg_init(&m);
	m.f.request_id = req->rid;
	memcpy(m.f.trace_id, req->from.trace, sizeof(m.f.trace_id));
	m.f.which_body = iris_v1_Frame_key_bundles_tag;
	kb = &m.f.body.key_bundles;
	for (i = 0; i < j->u.fetch.n; i++) {
		if (!(b = &j->u.fetch.b[i])->found)
			continue;
		o = &kb->bundles[kb->bundles_count++];
		o->device_id = b->device;
		memcpy(o->identity_key, b->ik, 32);
		o->has_signed_prekey = true;
		spk_out(&o->signed_prekey, &b->spk);
		if ((o->has_one_time_prekey = b->has_opk)) {
			o->one_time_prekey.id = b->opk.id;
			memcpy(o->one_time_prekey.public_key, b->opk.pub, 32);
		}
	}
	rc = iris__acct_devlist(core->store, j->user, &version,
	    kb->device_list.list.bytes, &len, kb->device_list.signature);
	if (rc == IRIS_OK) {
		kb->has_device_list = true;
		kb->device_list.list.size = (pb_size_t)len;
	} else if (rc != IRIS_ENOTFOUND)
		return rc;
	return iris__core_encode(&m, &req->rep.frames, &req->rep.len);
}

static void
fetch_done(struct core_op *op, struct iris_keys_job *j)
{
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;
	const struct iris_keys_bundle *b;
	char why[128];
	size_t i;
	int rc;

	if (j->job.rc == IRIS_ENOTFOUND) {
		b = &j->u.fetch.b[j->bad_index];
		snprintf(why, sizeof(why), j->bad_reason == IRIS_KEYS_NO_SPK ?
		    "device %u has not uploaded a signed prekey" :
		    "device %u is not registered or is revoked", b->device);
		iris__core_op_free(op);
		iris__core_refuse(core, req, j->bad_reason == IRIS_KEYS_NO_SPK ?
		    iris_v1_ErrorCode_ERR_NOT_FOUND :
		    iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE, 0, why);
		return;
	}
	if ((rc = j->job.rc) == IRIS_OK)
		rc = bundles_frame(core, req, j);
	if (rc != IRIS_OK) {
		/* Keys taken by a fetch that fails here are gone: a pool
		 * only loses keys, it never hands one out twice. */
		iris__free(req->rep.frames);
		req->rep.frames = NULL;
		req->rep.len = 0;
		iris__core_op_free(op);
		iris__core_store_error(core, req, rc);
		return;
	}
	iris__core_op_reply(op);
	for (i = 0; i < j->u.fetch.n; i++) {
		b = &j->u.fetch.b[i];
		if (!b->found)
			continue;
		core->st.bundles_fetched++;
		if (b->has_opk)
			core->st.prekeys_handed_out++;
		else
			core->st.prekeys_exhausted++;
		if (b->low)
			notice(core, j->user, b->device, 0, b->remaining);
	}
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

static void
fetch(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_KeyBundleFetch *k = &req->u.frame->body.key_bundle_fetch;
	const struct devinfo *info;
	struct iris_keys_job *j;
	char user[IRIS_USER_MAX + 1], why[96];
	pb_size_t i;
	int rc;

	memcpy(user, k->user.bytes, k->user.size);
	user[k->user.size] = '\0';
	if ((info = iris__core_devinfo(core, user, &rc)) == NULL) {
		iris__core_store_error(core, req, rc);
		return;
	}
	if (!info->exists || !info->has_list) {
		iris__core_refuse(core, req, !info->exists ?
		    iris_v1_ErrorCode_ERR_UNKNOWN_USER :
		    iris_v1_ErrorCode_ERR_NOT_FOUND, 0, !info->exists ?
		    "no such user" : "the user has no device list");
		return;
	}
	for (i = 0; i < k->device_ids_count; i++)
		if (!listed(info, k->device_ids[i])) {
			snprintf(why, sizeof(why), "device %u is not in the "
			    "user's device list", k->device_ids[i]);
			iris__core_refuse(core, req,
			    iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE, 0, why);
			return;
		}
	if ((j = iris__keys_job_new(core->store, KEYS_FETCH, NULL,
	    NULL)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	snprintf(j->user, sizeof(j->user), "%s", user);
	if (k->device_ids_count > 0)
		for (i = 0; i < k->device_ids_count &&
		    j->u.fetch.n < IRIS_FETCH_DEVS_MAX; i++) {
			j->u.fetch.b[j->u.fetch.n].device = k->device_ids[i];
			j->u.fetch.b[j->u.fetch.n++].named = 1;
		}
	else
		for (i = 0; i < info->ndev &&
		    j->u.fetch.n < IRIS_FETCH_DEVS_MAX; i++)
			j->u.fetch.b[j->u.fetch.n++].device = info->dev[i];
	submit(core, req, j);
}

void
iris__core_keys(struct iris_core *core, struct iris_bus_req *req)
{
	if (req->op == IRIS_BUS_KEYS_UPLOAD)
		upload(core, req);
	else
		fetch(core, req);
}

void
iris__core_keys_online(struct iris_core *core,
    const struct iris_bus_req *req)
{
	uint32_t pool;
	int has_spk;

	/* Devices that never uploaded a bundle are not nagged. */
	if (core->prekey_low == 0 || req->from.user[0] == '\0' ||
	    iris__keys_state(core->store, req->from.user, req->from.device,
	    &pool, &has_spk) != IRIS_OK || !has_spk ||
	    pool >= core->prekey_low)
		return;
	notice(core, req->from.user, req->from.device, req->from.conn, pool);
}

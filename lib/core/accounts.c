/* SPDX-License-Identifier: ISC */
/*
 * Account writes for the edge and the administrator: devices registered
 * (the edge checked the proof of the key and the policy), link tokens,
 * invites, revocations, accounts disabled, and signed device lists (a
 * put must be a higher version signed by the primary over the exact
 * bytes, naming registered devices with their keys). Each is answered
 * once durable; the device list cache forgets what changed.
 */
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <sodium.h>

#include "iris.h"
#include "core/core_priv.h"
#include "store/accounts.h"
#include "util/alloc.h"

#define PRIMARY_DEVICE	1

static const enum iris_acct_op acct_ops[IRIS_BUS_OPS] = {
	[IRIS_BUS_REGISTER] = ACCT_REGISTER,
	[IRIS_BUS_LINK] = ACCT_LINK,
	[IRIS_BUS_INVITE] = ACCT_INVITE,
	[IRIS_BUS_REVOKE] = ACCT_REVOKE,
	[IRIS_BUS_DISABLE] = ACCT_DISABLE,
	[IRIS_BUS_DEVLIST_PUT] = ACCT_DEVLIST_PUT,
};

static void
done(struct core_op *op, struct iris_acct_job *j)
{
	struct iris_core *core = op->core;
	struct iris_bus_req *req = op->req;
	struct iris_bus_acct *a = &req->rep.acct;

	a->rc = j->job.rc;
	a->out_device = j->out_device;
	a->out_primary = j->out_primary;
	memcpy(a->code, j->code, sizeof(a->code));
	a->expires_ms = j->expires_ms;
	/* What the send check knows of this user may have changed. */
	iris__core_devinfo_forget(core, j->user);
	if (j->op == ACCT_DEVLIST_PUT && j->job.rc == IRIS_ESTALE) {
		iris__core_op_free(op);
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_STALE_VERSION,
		    0, "a newer device list is stored");
		return;
	}
	if (j->job.rc == IRIS_ESTORE || j->job.rc == IRIS_EAGAIN ||
	    j->job.rc == IRIS_ENOMEM || j->job.rc == IRIS_ESHUTDOWN) {
		iris__core_op_free(op);
		iris__core_store_error(core, req, j->job.rc);
		return;
	}
	/* Refusals the caller tells apart (taken, denied, limit). */
	iris__core_op_reply(op);
}

static void
submit(struct iris_core *core, struct iris_bus_req *req,
    struct iris_acct_job *j)
{
	int rc;

	if ((rc = iris__core_acct_submit(core, req, j, done)) != IRIS_OK)
		iris__core_store_error(core, req, rc);
}

/* Every device of the list is registered with that key, not revoked. */
static const char *
check_devices(struct iris_core *core, const iris_v1_DeviceList *dl,
    const char *user)
{
	uint8_t key[32];
	pb_size_t i, k;
	int revoked;

	if (dl->devices_count == 0)
		return "an empty device list";
	if (dl->devices_count > core->max_devices)
		return "more devices than a user may have";
	for (i = 0; i < dl->devices_count; i++) {
		for (k = 0; k < i; k++)
			if (dl->devices[k].device_id == dl->devices[i].device_id)
				return "a device listed twice";
		if (iris__acct_device(core->store, user,
		    dl->devices[i].device_id, key, &revoked) != IRIS_OK ||
		    revoked || sodium_memcmp(key, dl->devices[i].identity_key,
		    32) != 0)
			return "a device that is not registered with that key";
	}
	return NULL;
}

static void
devlist_put(struct iris_core *core, struct iris_bus_req *req)
{
	const iris_v1_SignedDeviceList *sl =
	    &req->u.frame->body.device_list_put.list;
	const char *user = req->from.user, *why;
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[15 + IRIS_LIST_MAX], pkey[32];
	struct iris_acct_job *j;
	pb_istream_t in;
	int revoked;

	in = pb_istream_from_buffer(sl->list.bytes, sl->list.size);
	if (!pb_decode(&in, iris_v1_DeviceList_fields, &dl)) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "device list: not a DeviceList");
		return;
	}
	if (dl.user.size != strlen(user) ||
	    memcmp(dl.user.bytes, user, dl.user.size) != 0) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "device list: another user's");
		return;
	}
	/* Signed by the current primary over the exact bytes. */
	if (iris__acct_device(core->store, user, PRIMARY_DEVICE, pkey,
	    &revoked) != IRIS_OK || revoked ||
	    req->from.device != PRIMARY_DEVICE) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_NOT_PRIMARY,
		    0, "only the primary device signs device lists");
		return;
	}
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, sl->list.bytes, sl->list.size);
	if (crypto_sign_verify_detached(sl->signature, msg,
	    15 + sl->list.size, pkey) != 0) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_SIGNATURE,
		    0, "device list signature");
		return;
	}
	if ((why = check_devices(core, &dl, user)) != NULL) {
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, why);
		return;
	}
	if ((j = iris__acct_job_new(core->store, ACCT_DEVLIST_PUT, NULL,
	    NULL)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->version = dl.version;
	memcpy(j->list, sl->list.bytes, sl->list.size);
	j->list_len = sl->list.size;
	memcpy(j->sig, sl->signature, 64);
	submit(core, req, j);
}

void
iris__core_account(struct iris_core *core, struct iris_bus_req *req)
{
	const struct iris_bus_acct *a = &req->u.acct;
	struct iris_acct_job *j;

	if (req->op == IRIS_BUS_DEVLIST_PUT) {
		devlist_put(core, req);
		return;
	}
	if ((j = iris__acct_job_new(core->store, acct_ops[req->op], NULL,
	    NULL)) == NULL) {
		iris__core_store_error(core, req, IRIS_ENOMEM);
		return;
	}
	memcpy(j->user, a->user, sizeof(j->user));
	j->device = a->device;
	memcpy(j->key, a->key, sizeof(j->key));
	memcpy(j->name, a->name, sizeof(j->name));
	memcpy(j->code, a->code, sizeof(j->code));
	j->is_link = a->is_link;
	j->open_policy = a->open_policy;
	j->max_devices = a->max_devices;
	j->expires_ms = a->expires_ms;
	j->revoke_kind = a->revoke_kind;
	memcpy(j->revoke_key, a->revoke_key, sizeof(j->revoke_key));
	j->revoke_len = a->revoke_len;
	j->disabled = a->flag;
	submit(core, req, j);
}

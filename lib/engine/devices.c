/* SPDX-License-Identifier: ISC */
/*
 * Devices at the edge: link tokens from a user's primary device, signed
 * device lists (a put must be a higher version, signed by the primary,
 * naming registered devices with their keys), revocations checked on live
 * sessions, and the administration calls of the public API.
 */
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <sodium.h>

#include "iris.h"
#include "engine/engine.h"
#include "store/accounts.h"
#include "util/alloc.h"
#include "util/clock.h"

#define LINK_TTL_MS	(10 * 60 * 1000)
#define PRIMARY_DEVICE	1

static void
reply_done(struct iris_session *s, uint64_t rid)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.request_id = rid;
	m.f.which_body = iris_v1_Frame_done_tag;
	iris__session_send(s, &m);
}

static void
refused(struct iris_session *s, uint64_t rid, int rc)
{
	iris__session_error(s, rid, rc == IRIS_EAGAIN ?
	    iris_v1_ErrorCode_ERR_OVERLOADED :
	    iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE, rc == IRIS_EAGAIN ?
	    100 : 1000, NULL);
}

/* A random code of 32 lowercase hex digits. */
static void
make_code(char out[33])
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, 33, raw, sizeof(raw));
}

struct link_ctx {
	struct iris_session	*s;
	uint64_t		 rid;
};

static void
linked(struct iris_acct_job *j, void *arg)
{
	struct link_ctx *l = arg;
	struct iris_wire_msg m;

	if (iris__session_release(l->s)) {
		if (j->job.rc != IRIS_OK)
			refused(l->s, l->rid, j->job.rc);
		else {
			iris__wire_msg_init(&m);
			m.f.request_id = l->rid;
			m.f.which_body = iris_v1_Frame_link_token_tag;
			m.f.body.link_token.token.size =
			    (pb_size_t)strlen(j->code);
			memcpy(m.f.body.link_token.token.bytes, j->code,
			    strlen(j->code));
			m.f.body.link_token.expires_ms = j->expires_ms;
			iris__session_send(l->s, &m);
		}
	}
	iris__free(l);
}

void
iris__auth_link(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_acct_job *j;
	struct link_ctx *l;
	const char *user;
	uint32_t device;
	int rc;

	user = iris__session_user(s, &device);
	if (device != PRIMARY_DEVICE) {
		iris__session_error(s, m->f.request_id,
		    iris_v1_ErrorCode_ERR_NOT_PRIMARY, 0,
		    "only the primary device admits new devices");
		return;
	}
	if ((l = iris__calloc(1, sizeof(*l))) == NULL ||
	    (j = iris__acct_job_new(eng->store, ACCT_LINK, linked, l)) ==
	    NULL) {
		iris__free(l);
		refused(s, m->f.request_id, IRIS_EAGAIN);
		return;
	}
	l->s = s;
	l->rid = m->f.request_id;
	j->drop = iris__free;
	snprintf(j->user, sizeof(j->user), "%s", user);
	make_code(j->code);
	j->expires_ms = iris__clock_realtime_ms(NULL) + LINK_TTL_MS;
	iris__session_hold(s);
	if ((rc = iris__acct_submit(eng->store, j)) != IRIS_OK) {
		iris__session_release(s);
		iris__free(l);
		refused(s, m->f.request_id, rc);
	}
}

void
iris__devlist_get(struct iris_session *s, struct iris_wire_msg *m)
{
	const iris_v1_DeviceListGet *g = &m->f.body.device_list_get;
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_wire_msg r;
	iris_v1_SignedDeviceList *l;
	char user[65];
	uint64_t version;
	size_t len;
	pb_size_t i;

	iris__wire_msg_init(&r);
	r.f.request_id = m->f.request_id;
	r.f.which_body = iris_v1_Frame_device_lists_tag;
	if ((r.lists = iris__calloc(g->users_count, sizeof(*r.lists))) ==
	    NULL) {
		refused(s, m->f.request_id, IRIS_EAGAIN);
		return;
	}
	for (i = 0; i < g->users_count; i++) {
		memcpy(user, g->users[i].bytes, g->users[i].size);
		user[g->users[i].size] = '\0';
		l = &r.lists[r.nlists];
		/* Users without a list are left out. */
		if (iris__acct_devlist(eng->store, user, &version,
		    l->list.bytes, &len, l->signature) == IRIS_OK) {
			l->list.size = (pb_size_t)len;
			r.nlists++;
		}
	}
	iris__session_send(s, &r);
	iris__wire_msg_reset(&r);
}

/* Every device of the list is registered with that key, not revoked. */
static const char *
check_devices(struct iris_engine *eng, const iris_v1_DeviceList *dl,
    const char *user)
{
	uint8_t key[32];
	pb_size_t i, k;
	int revoked;

	if (dl->devices_count == 0)
		return "an empty device list";
	if (dl->devices_count > (eng->lim.max_envelopes + 1) / 2)
		return "more devices than a user may have";
	for (i = 0; i < dl->devices_count; i++) {
		for (k = 0; k < i; k++)
			if (dl->devices[k].device_id == dl->devices[i].device_id)
				return "a device listed twice";
		if (iris__acct_device(eng->store, user,
		    dl->devices[i].device_id, key, &revoked) != IRIS_OK ||
		    revoked || sodium_memcmp(key, dl->devices[i].identity_key,
		    32) != 0)
			return "a device that is not registered with that key";
	}
	return NULL;
}

struct put_ctx {
	struct iris_session	*s;
	uint64_t		 rid;
};

static void
put_done(struct iris_acct_job *j, void *arg)
{
	struct put_ctx *p = arg;

	if (iris__session_release(p->s)) {
		if (j->job.rc == IRIS_ESTALE)
			iris__session_error(p->s, p->rid,
			    iris_v1_ErrorCode_ERR_STALE_VERSION, 0,
			    "a newer device list is stored");
		else if (j->job.rc != IRIS_OK)
			refused(p->s, p->rid, j->job.rc);
		else
			reply_done(p->s, p->rid);
	}
	iris__free(p);
}

void
iris__devlist_put(struct iris_session *s, struct iris_wire_msg *m)
{
	const iris_v1_SignedDeviceList *sl = &m->f.body.device_list_put.list;
	struct iris_engine *eng = iris__session_engine(s);
	uint64_t rid = m->f.request_id;
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[15 + IRIS_LIST_MAX], pkey[32];
	struct iris_acct_job *j;
	struct put_ctx *p;
	pb_istream_t in;
	const char *user, *why;
	uint32_t device;
	int revoked, rc;

	user = iris__session_user(s, &device);
	in = pb_istream_from_buffer(sl->list.bytes, sl->list.size);
	if (!pb_decode(&in, iris_v1_DeviceList_fields, &dl)) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "device list: not a DeviceList");
		return;
	}
	if (dl.user.size != strlen(user) ||
	    memcmp(dl.user.bytes, user, dl.user.size) != 0) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "device list: another user's");
		return;
	}
	/* Signed by the current primary over the exact bytes. */
	if (iris__acct_device(eng->store, user, PRIMARY_DEVICE, pkey,
	    &revoked) != IRIS_OK || revoked || device != PRIMARY_DEVICE) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_NOT_PRIMARY,
		    0, "only the primary device signs device lists");
		return;
	}
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, sl->list.bytes, sl->list.size);
	if (crypto_sign_verify_detached(sl->signature, msg,
	    15 + sl->list.size, pkey) != 0) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_SIGNATURE,
		    0, "device list signature");
		return;
	}
	if ((why = check_devices(eng, &dl, user)) != NULL) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, why);
		return;
	}
	if ((p = iris__calloc(1, sizeof(*p))) == NULL ||
	    (j = iris__acct_job_new(eng->store, ACCT_DEVLIST_PUT, put_done,
	    p)) == NULL) {
		iris__free(p);
		refused(s, rid, IRIS_EAGAIN);
		return;
	}
	p->s = s;
	p->rid = rid;
	j->drop = iris__free;
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->version = dl.version;
	memcpy(j->list, sl->list.bytes, sl->list.size);
	j->list_len = sl->list.size;
	memcpy(j->sig, sl->signature, 64);
	iris__session_hold(s);
	if ((rc = iris__acct_submit(eng->store, j)) != IRIS_OK) {
		iris__session_release(s);
		iris__free(p);
		refused(s, rid, rc);
	}
}

int
iris__auth_revoked(struct iris_session *s)
{
	struct iris_engine *eng = iris__session_engine(s);
	const char *user;
	uint8_t key[32];
	uint32_t device;
	int revoked = 0;

	if ((user = iris__session_user(s, &device)) == NULL)
		return 0;
	if (iris__acct_device(eng->store, user, device, key, &revoked) ==
	    IRIS_OK && revoked)
		return 1;
	if (iris__acct_user(eng->store, user, &revoked) == IRIS_OK && revoked)
		return 1;	/* the account was disabled */
	return iris__acct_revoked(eng->store, IRIS_REVOKE_TOKEN,
	    iris__session_token_id(s), 16) == 1;
}

void
iris_engine_set_register_cb(struct iris_engine *eng, iris_register_cb cb,
    void *arg)
{
	if (eng == NULL)
		return;
	eng->register_cb = cb;
	eng->register_arg = arg;
}

/* Administration: outcomes reported once durable. */
struct admin_ctx {
	struct iris_engine	*eng;
	iris_admin_cb		 cb;
	void			*arg;
};

static void
admin_done(struct iris_acct_job *j, void *arg)
{
	struct admin_ctx *a = arg;

	if (a->cb != NULL)
		a->cb(a->eng, j->job.rc, a->arg);
	iris__free(a);
}

static int
admin_submit(struct iris_engine *eng, struct iris_acct_job *j,
    struct admin_ctx *a)
{
	int rc;

	if ((rc = iris__acct_submit(eng->store, j)) != IRIS_OK)
		iris__free(a);
	return rc;
}

static struct iris_acct_job *
admin_job(struct iris_engine *eng, enum iris_acct_op op, iris_admin_cb cb,
    void *arg, struct admin_ctx **ap)
{
	struct iris_acct_job *j;
	struct admin_ctx *a;

	if ((a = iris__calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((j = iris__acct_job_new(eng->store, op, admin_done, a)) == NULL) {
		iris__free(a);
		return NULL;
	}
	j->drop = iris__free;
	a->eng = eng;
	a->cb = cb;
	a->arg = arg;
	*ap = a;
	return j;
}

int
iris_engine_invite(struct iris_engine *eng, const char *user,
    uint64_t ttl_ms, char *code, size_t len, iris_admin_cb cb, void *arg)
{
	struct iris_acct_job *j;
	struct admin_ctx *a;

	if (eng == NULL || code == NULL || ttl_ms == 0 || (user != NULL &&
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user))))
		return IRIS_EINVAL;
	if (len < 33)
		return IRIS_ETOOBIG;
	if ((j = admin_job(eng, ACCT_INVITE, cb, arg, &a)) == NULL)
		return IRIS_ENOMEM;
	if (user != NULL)
		snprintf(j->user, sizeof(j->user), "%s", user);
	make_code(j->code);
	memcpy(code, j->code, 33);
	j->expires_ms = iris__clock_realtime_ms(NULL) + ttl_ms;
	return admin_submit(eng, j, a);
}

int
iris_engine_revoke_device(struct iris_engine *eng, const char *user,
    uint32_t device, iris_admin_cb cb, void *arg)
{
	struct iris_acct_job *j;
	struct admin_ctx *a;

	if (eng == NULL || user == NULL || device == 0 ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	if ((j = admin_job(eng, ACCT_REVOKE, cb, arg, &a)) == NULL)
		return IRIS_ENOMEM;
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->device = device;
	j->revoke_kind = IRIS_REVOKE_DEVICE;
	j->revoke_len = (size_t)snprintf((char *)j->revoke_key,
	    sizeof(j->revoke_key), "%s/%u", user, device);
	j->expires_ms = UINT64_MAX >> 1;
	return admin_submit(eng, j, a);
}

/* Periodically: sessions of revoked devices and tokens are closed. */
void
iris__auth_sweep(struct iris_engine *eng)
{
	struct iris_session *s, *next;

	for (s = eng->sessions; s != NULL; s = next) {
		next = iris__session_next(s);
		if (iris__auth_revoked(s)) {
			eng->st[ST_REVOKED_CLOSED]++;
			iris__session_bye(s, iris_v1_ErrorCode_ERR_REVOKED, 0,
			    "this device or session was revoked");
		}
	}
}

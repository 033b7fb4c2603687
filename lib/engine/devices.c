/* SPDX-License-Identifier: ISC */
/*
 * Devices at the edge: link tokens from a user's primary device, device
 * lists read for clients (puts are checked and stored by the core),
 * revocations checked on live sessions, and the administration calls of
 * the public API. Every write goes to the core over the bus.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "engine/engine.h"
#include "store/accounts.h"
#include "util/alloc.h"
#include "util/clock.h"

#define LINK_TTL_MS	(10 * 60 * 1000)
#define PRIMARY_DEVICE	1

/* A refusal of the core, for an administrator's callback. */
static int
admin_rc(const struct iris_bus_req *r)
{
	if (r->rep.code == 0)
		return r->rep.acct.rc;
	return r->rep.code == iris_v1_ErrorCode_ERR_OVERLOADED ? IRIS_EAGAIN :
	    IRIS_ESTORE;
}

/* A random code of 32 lowercase hex digits. */
static void
make_code(char out[33])
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, 33, raw, sizeof(raw));
}

static void
linked(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;
	struct iris_wire_msg m;
	size_t n = strlen(r->u.acct.code);

	if (!iris__edge_back(s))
		return;
	if (r->rep.code != 0 || r->rep.acct.rc != IRIS_OK) {
		if (r->rep.code == 0)
			r->rep.code = iris_v1_ErrorCode_ERR_INTERNAL;
		iris__edge_reply(s, r);
		return;
	}
	iris__wire_msg_init(&m);
	m.f.request_id = r->rid;
	m.f.which_body = iris_v1_Frame_link_token_tag;
	m.f.body.link_token.token.size = (pb_size_t)n;
	memcpy(m.f.body.link_token.token.bytes, r->u.acct.code, n);
	m.f.body.link_token.expires_ms = r->u.acct.expires_ms;
	iris__session_send(s, &m);
}

void
iris__auth_link(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_bus_req *r;
	const char *user;
	uint32_t device;

	user = iris__session_user(s, &device);
	if (device != PRIMARY_DEVICE) {
		iris__session_error(s, m->f.request_id,
		    iris_v1_ErrorCode_ERR_NOT_PRIMARY, 0,
		    "only the primary device admits new devices");
		return;
	}
	if ((r = iris__edge_req(s, IRIS_BUS_LINK, m->f.request_id)) == NULL)
		return;
	snprintf(r->u.acct.user, sizeof(r->u.acct.user), "%s", user);
	make_code(r->u.acct.code);
	r->u.acct.expires_ms = iris__clock_realtime_ms(NULL) + LINK_TTL_MS;
	(void)iris__edge_submit(s, r, linked);
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
		iris__session_error(s, m->f.request_id,
		    iris_v1_ErrorCode_ERR_OVERLOADED, 100, "out of memory");
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

/* Checked and stored by the core (lib/core/accounts.c). */
void
iris__devlist_put(struct iris_session *s, struct iris_wire_msg *m)
{
	iris__edge_forward(s, m, IRIS_BUS_DEVLIST_PUT);
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
	iris__acct_read_hold(eng->store);
	if ((iris__acct_device(eng->store, user, device, key, &revoked) ==
	    IRIS_OK && revoked) ||
	    /* the account was disabled */
	    (iris__acct_user(eng->store, user, &revoked) == IRIS_OK &&
	    revoked) ||
	    iris__acct_revoked(eng->store, IRIS_REVOKE_TOKEN,
	    iris__session_token_id(s), 16) == 1)
		revoked = 1;
	iris__acct_read_release(eng->store);
	return revoked;
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
admin_done(struct iris_bus_req *r, void *arg)
{
	struct admin_ctx *a = arg;

	if (a->cb != NULL)
		a->cb(a->eng, admin_rc(r), a->arg);
	iris__free(a);
}

static struct iris_bus_req *
admin_req(struct iris_engine *eng, enum iris_bus_op op, iris_admin_cb cb,
    void *arg, struct admin_ctx **ap)
{
	struct iris_bus_req *r;
	struct admin_ctx *a;

	if ((a = iris__calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((r = iris__bus_req_new(eng->bus, op, NULL, 0)) == NULL) {
		iris__free(a);
		return NULL;
	}
	a->eng = eng;
	a->cb = cb;
	a->arg = arg;
	*ap = a;
	return r;
}

static int
admin_submit(struct iris_bus_req *r, struct admin_ctx *a)
{
	int rc;

	if ((rc = iris__bus_request(r, admin_done, a)) != IRIS_OK)
		iris__free(a);
	return rc;
}

int
iris_engine_invite(struct iris_engine *eng, const char *user,
    uint64_t ttl_ms, char *code, size_t len, iris_admin_cb cb, void *arg)
{
	struct iris_bus_req *r;
	struct admin_ctx *a;

	if (eng == NULL || code == NULL || ttl_ms == 0 || (user != NULL &&
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user))))
		return IRIS_EINVAL;
	if (len < 33)
		return IRIS_ETOOBIG;
	if ((r = admin_req(eng, IRIS_BUS_INVITE, cb, arg, &a)) == NULL)
		return IRIS_ENOMEM;
	if (user != NULL)
		snprintf(r->u.acct.user, sizeof(r->u.acct.user), "%s", user);
	make_code(r->u.acct.code);
	memcpy(code, r->u.acct.code, 33);
	r->u.acct.expires_ms = iris__clock_realtime_ms(NULL) + ttl_ms;
	return admin_submit(r, a);
}

int
iris_engine_revoke_device(struct iris_engine *eng, const char *user,
    uint32_t device, iris_admin_cb cb, void *arg)
{
	struct iris_bus_req *r;
	struct iris_bus_acct *ac;
	struct admin_ctx *a;

	if (eng == NULL || user == NULL || device == 0 ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	if ((r = admin_req(eng, IRIS_BUS_REVOKE, cb, arg, &a)) == NULL)
		return IRIS_ENOMEM;
	ac = &r->u.acct;
	snprintf(ac->user, sizeof(ac->user), "%s", user);
	ac->device = device;
	ac->revoke_kind = IRIS_REVOKE_DEVICE;
	ac->revoke_len = (size_t)snprintf((char *)ac->revoke_key,
	    sizeof(ac->revoke_key), "%s/%u", user, device);
	ac->expires_ms = UINT64_MAX >> 1;
	return admin_submit(r, a);
}

int
iris__engine_revoke_token(struct iris_engine *eng, const uint8_t id[16],
    uint64_t expires_ms, iris_admin_cb cb, void *arg)
{
	struct iris_bus_req *r;
	struct admin_ctx *a;

	if ((r = admin_req(eng, IRIS_BUS_REVOKE, cb, arg, &a)) == NULL)
		return IRIS_ENOMEM;
	r->u.acct.revoke_kind = IRIS_REVOKE_TOKEN;
	memcpy(r->u.acct.revoke_key, id, 16);
	r->u.acct.revoke_len = 16;
	r->u.acct.expires_ms = expires_ms;
	return admin_submit(r, a);
}

int
iris__engine_disable(struct iris_engine *eng, const char *user,
    int disabled, iris_admin_cb cb, void *arg)
{
	struct iris_bus_req *r;
	struct admin_ctx *a;

	if ((r = admin_req(eng, IRIS_BUS_DISABLE, cb, arg, &a)) == NULL)
		return IRIS_ENOMEM;
	snprintf(r->u.acct.user, sizeof(r->u.acct.user), "%s", user);
	r->u.acct.flag = disabled;
	return admin_submit(r, a);
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

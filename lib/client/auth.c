/* SPDX-License-Identifier: ISC */
/*
 * Accounts and login: the account record (identity key, device id,
 * session token, the server it belongs to) kept sealed in the client
 * store; registration with an invite or a link token, the identity key
 * made and stored before it is ever sent; logins signed over the server's
 * challenge bound to the TLS channel, or resumed with the session token.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "net/conn.h"
#include "util/alloc.h"
#include "util/clock.h"

#define ACCT_VERSION	1
#define TOKEN_SLACK_MS	60000	/* a token this close to expiry is not used */

static void
encode(struct iris_client *c, struct iris_buf *b)
{
	iris__buf_u8(b, ACCT_VERSION);
	iris__buf_str8(b, c->user, strlen(c->user));
	iris__buf_u32(b, c->device);
	iris__buf_u8(b, (uint8_t)c->primary);
	iris__buf_put(b, c->pk, sizeof(c->pk));
	iris__buf_put(b, c->sk, sizeof(c->sk));
	iris__buf_str8(b, c->token, c->tlen);
	iris__buf_u64(b, c->token_exp);
	iris__buf_u8(b, (uint8_t)c->have_server_id);
	iris__buf_put(b, c->server_id, sizeof(c->server_id));
	iris__buf_u64(b, c->next_seq);
	iris__buf_u8(b, (uint8_t)c->listed);
}

static int
decode(struct iris_client *c, const uint8_t *p, size_t n)
{
	struct iris_rd r;
	char user[IRIS_USER_MAX + 1];
	const uint8_t *t;

	iris__rd_init(&r, p, n);
	if (iris__rd_u8(&r) != ACCT_VERSION)
		return IRIS_ECORRUPT;
	iris__rd_str8(&r, user, sizeof(user));
	c->device = iris__rd_u32(&r);
	c->primary = iris__rd_u8(&r);
	iris__rd_copy(&r, c->pk, sizeof(c->pk));
	iris__rd_copy(&r, c->sk, sizeof(c->sk));
	c->tlen = iris__rd_u8(&r);
	if (c->tlen > sizeof(c->token))
		return IRIS_ECORRUPT;
	if ((t = iris__rd_slice(&r, c->tlen)) != NULL)
		memcpy(c->token, t, c->tlen);
	c->token_exp = iris__rd_u64(&r);
	c->have_server_id = iris__rd_u8(&r);
	iris__rd_copy(&r, c->server_id, sizeof(c->server_id));
	c->next_seq = iris__rd_u64(&r);
	c->listed = iris__rd_u8(&r);
	if (iris__rd_done(&r) != IRIS_OK)
		return IRIS_ECORRUPT;
	if (strcmp(user, c->user) != 0) {
		iris__client_seterr(c, "the account in the store belongs to "
		    "user \"%s\"", user);
		return IRIS_EINVAL;
	}
	return IRIS_OK;
}

int
iris__auth_load(struct iris_client *c)
{
	struct iris_buf b;
	int64_t id;
	uint64_t cursor;
	int rc;

	iris__buf_init(&b, 0);
	rc = iris__cs_account_get(c->cs, c->acct_tag, &id, &cursor, &b);
	if (rc == IRIS_OK && (rc = decode(c, b.p, b.len)) == IRIS_OK) {
		c->acct = id;
		c->rx_cursor = c->rx_last = cursor;
	} else if (rc == IRIS_ENOTFOUND)
		rc = IRIS_OK;
	else if (rc == IRIS_ECRYPTO || rc == IRIS_ECORRUPT)
		iris__client_seterr(c, "the account record does not open "
		    "(%s)", iris_strerror(rc));
	iris__buf_free(&b);
	return rc;
}

/* Writes the account record; a new account is inserted. */
static int
save(struct iris_client *c, int fresh,
    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg)
{
	struct iris_cs_txn *t;
	struct iris_buf b;
	int rc;

	if ((t = iris__client_txn(c, cb, arg)) == NULL)
		return IRIS_ENOMEM;
	iris__buf_init(&b, 0);
	encode(c, &b);
	rc = b.err != 0 ? b.err : fresh ? iris__cs_op_account_new(t, c->acct,
	    c->acct_tag, b.p, b.len) : iris__cs_op_account_put(t, c->acct,
	    c->acct_tag, b.p, b.len);
	iris__buf_free(&b);
	if (rc == IRIS_OK && (rc = iris__client_submit(c, t)) == IRIS_OK)
		return IRIS_OK;
	iris__client_txn_drop(t);
	return rc;
}

int
iris__auth_save(struct iris_client *c,
    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg)
{
	return save(c, 0, cb, arg);
}

static void
signed_prefix(struct iris_client *c, struct iris_buf *b, const char *prefix,
    const uint8_t server_id[16])
{
	iris__buf_put(b, prefix, strlen(prefix));
	iris__buf_put(b, server_id, 16);
	iris__buf_put(b, c->challenge, sizeof(c->challenge));
	iris__buf_put(b, iris__netconn_binding(c->nc), IRIS_BINDING_LEN);
	iris__buf_str8(b, c->user, strlen(c->user));
}

static void
send_login(struct iris_client *c)
{
	struct iris_wire_msg m;
	iris_v1_Login *lg = &m.f.body.login;
	struct iris_buf b;
	uint64_t now = iris__clock_realtime_ms(NULL);

	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_login_tag;
	lg->user.size = (pb_size_t)strlen(c->user);
	memcpy(lg->user.bytes, c->user, lg->user.size);
	lg->device_id = c->device;
	if (c->tlen > 0 && c->token_exp > now + TOKEN_SLACK_MS) {
		lg->resume_token.size = (pb_size_t)c->tlen;
		memcpy(lg->resume_token.bytes, c->token, c->tlen);
	} else {
		iris__buf_init(&b, 0);
		signed_prefix(c, &b, "IRIS-LOGIN-v1", c->server_id);
		iris__buf_u32(&b, c->device);
		crypto_sign_detached(lg->signature, NULL, b.p, b.len, c->sk);
		iris__buf_free(&b);
		c->challenge_fresh = 0;
	}
	if (iris__conn_req(c, RQ_LOGIN, &m) == NULL ||
	    iris__conn_send(c, &m) != IRIS_OK)
		iris__conn_drop(c, IRIS_ENOMEM, "cannot send the login");
}

static void
send_register(struct iris_client *c)
{
	struct iris_wire_msg m;
	iris_v1_Register *rg = &m.f.body.register_device;
	struct iris_buf b;

	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_register_device_tag;
	rg->user.size = (pb_size_t)strlen(c->user);
	memcpy(rg->user.bytes, c->user, rg->user.size);
	memcpy(rg->identity_key, c->pk, 32);
	iris__buf_init(&b, 0);
	signed_prefix(c, &b, "IRIS-REGISTER-v1", c->server_id);
	iris__buf_put(&b, c->pk, 32);
	crypto_sign_detached(rg->signature, NULL, b.p, b.len, c->sk);
	iris__buf_free(&b);
	c->challenge_fresh = 0;
	if (c->registering == 2) {
		rg->link_token.size = (pb_size_t)strlen(c->invite);
		memcpy(rg->link_token.bytes, c->invite, rg->link_token.size);
	} else	/* at most 63 bytes: checked when it was given */
		memcpy(rg->invite_code, c->invite, strlen(c->invite) + 1);
	memcpy(rg->device_name, c->cfg.device_name,
	    strlen(c->cfg.device_name) + 1);
	if (iris__conn_req(c, RQ_REGISTER, &m) == NULL ||
	    iris__conn_send(c, &m) != IRIS_OK)
		iris__conn_drop(c, IRIS_ENOMEM, "cannot send the registration");
}

/* The limits of the server: what we accept and what we send. */
static void
take_limits(struct iris_client *c, const iris_v1_Limits *l)
{
	struct iris_wire_limits *lim = &c->lim;
	uint32_t max_frame;

	iris__wire_limits_max(lim);
	if (l->max_envelope > 0 && l->max_envelope < lim->max_envelope)
		lim->max_envelope = l->max_envelope;
	if (l->max_sync_page > 0 && l->max_sync_page < lim->max_sync_items)
		lim->max_sync_items = l->max_sync_page;
	c->srv_max_envelope = lim->max_envelope;
	c->srv_max_envelopes = l->max_envelopes_per_send > 0 &&
	    l->max_envelopes_per_send < IRIS_ENVELOPES_MAX ?
	    l->max_envelopes_per_send : IRIS_ENVELOPES_MAX;
	c->srv_idle_ms = l->idle_timeout_ms;
	max_frame = iris__wire_max_frame(lim);
	if (l->max_frame > max_frame)
		max_frame = l->max_frame;
	iris__framer_set_max(&c->fr, max_frame);
	/* Sends are paced like the server's bucket: few refusals. */
	if (l->send_rate_per_s > 0 && l->send_burst > 0) {
		iris__bucket_init(&c->ob_bucket, l->send_rate_per_s,
		    l->send_burst, iris__client_now(c) * 1000);
		c->ob_have_bucket = 1;
	} else
		c->ob_have_bucket = 0;
}

void
iris__auth_hello(struct iris_client *c, struct iris_wire_msg *m)
{
	const iris_v1_ServerHello *h = &m->f.body.server_hello;

	if (m->f.which_body != iris_v1_Frame_server_hello_tag ||
	    h->version != IRIS_PROTOCOL_VERSION) {
		iris__client_seterr(c, "the server does not speak protocol "
		    "version %d", IRIS_PROTOCOL_VERSION);
		iris__conn_fail(c, IRIS_EVERSION);
		return;
	}
	/* An account belongs to one server: a different one is refused. */
	if (c->have_server_id && c->device != 0 &&
	    sodium_memcmp(c->server_id, h->server_id, 16) != 0) {
		iris__client_seterr(c, "this is not the server the account "
		    "was registered with");
		iris__conn_fail(c, IRIS_EAUTH);
		return;
	}
	memcpy(c->challenge, h->challenge, sizeof(c->challenge));
	c->challenge_fresh = 1;
	memcpy(c->server_id, h->server_id, sizeof(c->server_id));
	take_limits(c, &h->limits);
	c->st = C_AUTH;
	if (c->device == 0 && c->registering)
		send_register(c);
	else if (c->device != 0)
		send_login(c);
	else {
		iris__client_seterr(c, "no account: register or link first");
		iris__conn_fail(c, IRIS_ESTATE);
	}
}

static void
reg_result(struct iris_client *c, int rc)
{
	if (c->registering && c->reg_cb != NULL)
		iris__client_done_event(c, c->reg_cb, c->reg_arg, rc);
	c->registering = 0;
	c->reg_cb = NULL;
	sodium_memzero(c->invite, sizeof(c->invite));
}

/* The device id is durable: now log in on the same connection. */
static void
registered_saved(struct iris_client *c, int rc, void *arg)
{
	(void)arg;
	if (iris__client_tearing(c))
		return;
	if (rc != IRIS_OK) {
		iris__client_seterr(c, "keeping the new account: %s",
		    iris_strerror(rc));
		reg_result(c, rc);
		iris__conn_fail(c, rc);
		return;
	}
	if (c->nc != NULL && c->challenge_fresh)
		send_login(c);
}

static void
on_registered(struct iris_client *c, const iris_v1_Registered *rg)
{
	c->device = rg->device_id;
	c->primary = rg->primary;
	c->have_server_id = 1;
	memcpy(c->challenge, rg->challenge, sizeof(c->challenge));
	c->challenge_fresh = 1;
	iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: registered device "
	    "%u%s", c->user, c->device, c->primary ? " (primary)" : "");
	if (iris__auth_save(c, registered_saved, NULL) != IRIS_OK) {
		reg_result(c, IRIS_ESTORE);
		iris__conn_fail(c, IRIS_ESTORE);
	}
}

static void
on_logged_in(struct iris_client *c, const iris_v1_LoggedIn *li)
{
	if (c->reg_probe) {
		/* It was us: registered before a crash lost the answer. */
		c->reg_probe = 0;
		c->have_server_id = 1;
		iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: found "
		    "registered as device 1", c->user);
	}
	if (li->session_token.size > 0 && li->session_token.size <=
	    sizeof(c->token)) {
		memcpy(c->token, li->session_token.bytes,
		    li->session_token.size);
		c->tlen = li->session_token.size;
		c->token_exp = li->token_expires_ms;
		/* Best effort: a lost token only costs a signature. */
		(void)iris__auth_save(c, NULL, NULL);
	}
	c->srv_acked = li->acked_seq;
	c->srv_head = li->head_seq;
	iris__conn_online(c);
	/* A linked device is done here; a new primary once it is listed. */
	if (c->registering && !c->primary)
		reg_result(c, IRIS_OK);
}

static void
login_refused(struct iris_client *c, const iris_v1_Error *e, int with_token)
{
	int rc = iris__wire_to_iris(e->code);

	iris__client_seterr(c, "login: %s: %.255s",
	    iris__wire_errname(e->code), e->detail);
	if (with_token && e->code != iris_v1_ErrorCode_ERR_RATE_LIMITED &&
	    e->code != iris_v1_ErrorCode_ERR_REVOKED) {
		/* An expired or unknown token: sign instead. */
		c->tlen = 0;
		if (c->challenge_fresh) {
			send_login(c);
			return;
		}
	}
	if (c->reg_probe) {
		/* The user is someone else's: it was not us after all. */
		c->reg_probe = 0;
		c->device = 0;
		c->primary = 0;
		rc = IRIS_EEXIST;
		iris__client_seterr(c, "register: the user id is taken");
	}
	switch (e->code) {
	case iris_v1_ErrorCode_ERR_AUTH_FAILED:
	case iris_v1_ErrorCode_ERR_REVOKED:
	case iris_v1_ErrorCode_ERR_UNKNOWN_USER:
	case iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE:
		reg_result(c, rc);
		iris__conn_fail(c, rc);
		break;
	default:
		c->retry_after_ms = e->retry_after_ms;
		iris__conn_drop(c, rc, NULL);
		break;
	}
}

void
iris__auth_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	enum creq_kind kind = r->kind;
	const iris_v1_Error *e = &m->f.body.error;
	int is_err = m->f.which_body == iris_v1_Frame_error_tag;
	int with_token = c->tlen > 0;

	iris__conn_req_free(c, r);
	if (is_err && e->code == iris_v1_ErrorCode_ERR_NONE)
		return;		/* the connection went */
	if (kind == RQ_HELLO) {
		if (is_err) {
			iris__client_seterr(c, "hello: %s: %.255s",
			    iris__wire_errname(e->code), e->detail);
			iris__conn_fail(c, iris__wire_to_iris(e->code));
		} else
			iris__auth_hello(c, m);
	} else if (kind == RQ_REGISTER) {
		if (is_err && e->code == iris_v1_ErrorCode_ERR_USER_EXISTS &&
		    c->registering == 1 && c->reg_again && !c->reg_probe) {
			/*
			 * A registration whose answer a crash lost leaves the
			 * user taken by our own key: log in as its primary
			 * (on a new connection, for a fresh challenge).
			 */
			c->reg_probe = 1;
			c->device = IRIS_CLIENT_PRIMARY;
			c->primary = 1;
			c->tlen = 0;
			iris__conn_drop(c, IRIS_EAGAIN, "registered before?");
		} else if (is_err) {
			iris__client_seterr(c, "register: %s: %.255s",
			    iris__wire_errname(e->code), e->detail);
			reg_result(c, iris__wire_to_iris(e->code));
			iris__conn_fail(c, iris__wire_to_iris(e->code));
		} else if (m->f.which_body == iris_v1_Frame_registered_tag)
			on_registered(c, &m->f.body.registered);
	} else if (kind == RQ_LOGIN) {
		if (is_err)
			login_refused(c, e, with_token);
		else if (m->f.which_body == iris_v1_Frame_logged_in_tag)
			on_logged_in(c, &m->f.body.logged_in);
	}
}

/* The primary's own list is in place: registration is complete. */
void
iris__auth_listed(struct iris_client *c, int rc)
{
	if (c->registering)
		reg_result(c, rc);
}

/* The key is durable before anything is sent. */
static void
account_made(struct iris_client *c, int rc, void *arg)
{
	(void)arg;
	if (iris__client_tearing(c))
		return;
	if (rc != IRIS_OK) {
		iris__client_seterr(c, rc == IRIS_EEXIST ? "the store already "
		    "holds an account of that name" : "keeping the new "
		    "account: %s", iris_strerror(rc));
		c->acct = 0;
		reg_result(c, rc);
		return;
	}
	if ((rc = iris__conn_start(c)) != IRIS_OK)
		reg_result(c, rc);
}

/* A new account: a new identity key, kept before it is ever used. */
int
iris__auth_create(struct iris_client *c,
    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg)
{
	int64_t id;
	int rc;

	crypto_sign_keypair(c->pk, c->sk);
	do
		randombytes_buf(&id, sizeof(id));
	while ((id &= INT64_MAX) == 0);
	c->acct = id;
	c->next_seq = 1;
	if ((rc = save(c, 1, cb, arg)) != IRIS_OK)
		c->acct = 0;
	return rc;
}

static int
start_registration(struct iris_client *c, int how, const char *code,
    iris_client_done_cb cb, void *arg)
{
	int rc;

	if (c == NULL || (how == 2 && code == NULL))
		return IRIS_EINVAL;
	if (code != NULL && (strlen(code) >= sizeof(c->invite) - (how == 1) ||
	    (how == 2 && *code == '\0'))) {
		iris__client_seterr(c, "invite or link token too long");
		return IRIS_EINVAL;
	}
	if (c->device != 0) {
		iris__client_seterr(c, "this account is registered already");
		return IRIS_EEXIST;
	}
	if (c->registering || c->want)
		return IRIS_ESTATE;
	c->registering = how;
	snprintf(c->invite, sizeof(c->invite), "%s", code != NULL ? code : "");
	c->reg_cb = cb;
	c->reg_arg = arg;
	c->reg_again = c->acct != 0;
	if (c->acct != 0)	/* made before, never registered: retry */
		return iris__conn_start(c);
	if ((rc = iris__auth_create(c, account_made, NULL)) != IRIS_OK)
		c->registering = 0;
	return rc;
}

int
iris_client_register(struct iris_client *c, const char *invite,
    iris_client_done_cb cb, void *arg)
{
	return start_registration(c, 1, invite, cb, arg);
}

int
iris_client_link(struct iris_client *c, const char *link_token,
    iris_client_done_cb cb, void *arg)
{
	return start_registration(c, 2, link_token, cb, arg);
}

int
iris_client_connect(struct iris_client *c)
{
	if (c == NULL)
		return IRIS_EINVAL;
	if (c->device == 0) {
		iris__client_seterr(c, "no account: register or link first");
		return IRIS_ESTATE;
	}
	return iris__conn_start(c);
}

void
iris_client_disconnect(struct iris_client *c)
{
	if (c == NULL)
		return;
	iris__conn_stop(c);
}

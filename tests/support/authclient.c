/* SPDX-License-Identifier: ISC */
/* Registration and logins signed by the test, as a client device would. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "authclient.h"

void
ac_dev_new(struct ac_dev *d, const char *user)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->user, sizeof(d->user), "%s", user);
	crypto_sign_keypair(d->pk, d->sk);
}

int
ac_open(struct ac_conn *c, struct event_base *base, int port, const char *fp,
    const uint8_t *sess, size_t slen)
{
	struct iris_wire_msg m, *r;

	memset(c, 0, sizeof(*c));
	if (wc_connect(&c->w, base, port, fp, sess, slen, AC_TIMEOUT) != 0)
		return -1;
	wc_hello(&m, 1, IRIS_PROTOCOL_VERSION);
	wc_send(&c->w, &m);
	r = wc_next(&c->w, AC_TIMEOUT);
	if (r == NULL || r->f.which_body != iris_v1_Frame_server_hello_tag)
		return -1;
	memcpy(c->challenge, r->f.body.server_hello.challenge, 32);
	memcpy(c->server_id, r->f.body.server_hello.server_id, 16);
	return 0;
}

int
ac_ask(struct ac_conn *c, struct iris_wire_msg *m,
    struct iris_wire_msg **answer)
{
	struct iris_wire_msg *r;

	wc_send(&c->w, m);
	r = wc_next(&c->w, AC_TIMEOUT);
	if (answer != NULL)
		*answer = r;
	if (r == NULL)
		return -1;
	if (r->f.request_id != m->f.request_id)
		return -2;
	return r->f.which_body == iris_v1_Frame_error_tag ?
	    (int)r->f.body.error.code : 0;
}

size_t
ac_signed(uint8_t *out, const char *prefix, const struct ac_conn *c,
    const uint8_t *challenge, const char *user)
{
	size_t n = strlen(prefix), ulen = strlen(user);

	memcpy(out, prefix, n);
	memcpy(out + n, c->server_id, 16);
	memcpy(out + n + 16, challenge, 32);
	memcpy(out + n + 48, iris__netconn_binding(c->w.c), 32);
	n += 80;
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, user, ulen);
	return n + ulen;
}

int
ac_register(struct ac_conn *c, struct ac_dev *d, const char *invite,
    const char *link, int tamper)
{
	struct iris_wire_msg m, *r;
	iris_v1_Register *rg = &m.f.body.register_device;
	uint8_t msg[256];
	size_t n;
	int rc;

	iris__wire_msg_init(&m);
	m.f.request_id = 2;
	m.f.which_body = iris_v1_Frame_register_device_tag;
	rg->user.size = (pb_size_t)strlen(d->user);
	memcpy(rg->user.bytes, d->user, strlen(d->user));
	memcpy(rg->identity_key, d->pk, 32);
	n = ac_signed(msg, "IRIS-REGISTER-v1", c, c->challenge, d->user);
	memcpy(msg + n, d->pk, 32);
	msg[0] ^= (uint8_t)tamper;
	crypto_sign_detached(rg->signature, NULL, msg, n + 32, d->sk);
	if (invite != NULL)
		snprintf(rg->invite_code, sizeof(rg->invite_code), "%s",
		    invite);
	if (link != NULL) {
		rg->link_token.size = (pb_size_t)strlen(link);
		memcpy(rg->link_token.bytes, link, strlen(link));
	}
	if ((rc = ac_ask(c, &m, &r)) == 0) {
		d->id = r->f.body.registered.device_id;
		memcpy(c->challenge, r->f.body.registered.challenge, 32);
	}
	return rc;
}

static void
login_msg(struct iris_wire_msg *m, const struct ac_dev *d)
{
	iris__wire_msg_init(m);
	m->f.request_id = 3;
	memset(m->f.trace_id, 0xab, sizeof(m->f.trace_id));
	m->f.which_body = iris_v1_Frame_login_tag;
	m->f.body.login.user.size = (pb_size_t)strlen(d->user);
	memcpy(m->f.body.login.user.bytes, d->user, strlen(d->user));
	m->f.body.login.device_id = d->id;
}

int
ac_login_token(struct ac_conn *c, const struct ac_dev *d,
    const uint8_t *token, size_t len)
{
	return ac_login_token_ex(c, d, token, len, NULL, NULL);
}

int
ac_login_token_ex(struct ac_conn *c, const struct ac_dev *d,
    const uint8_t *token, size_t len, uint8_t *got, size_t *glen)
{
	struct iris_wire_msg m, *r;
	int rc;

	login_msg(&m, d);
	m.f.request_id = 4;
	m.f.body.login.resume_token.size = (pb_size_t)len;
	memcpy(m.f.body.login.resume_token.bytes, token, len);
	rc = ac_ask(c, &m, got != NULL ? &r : NULL);
	if (rc == 0 && got != NULL) {
		*glen = r->f.body.logged_in.session_token.size;
		memcpy(got, r->f.body.logged_in.session_token.bytes, *glen);
	}
	return rc;
}

int
ac_login(struct ac_conn *c, struct ac_dev *d, int how,
    const uint8_t *other_ch)
{
	struct iris_wire_msg m, *r;
	uint8_t msg[256];
	size_t n;
	int rc;

	if (how == AC_TOKEN)
		return ac_login_token(c, d, d->token, d->tlen);
	login_msg(&m, d);
	if (how == AC_BARE)
		crypto_sign_detached(m.f.body.login.signature, NULL,
		    c->challenge, 32, d->sk);
	else {
		n = ac_signed(msg, "IRIS-LOGIN-v1", c, how == AC_RELAY ?
		    other_ch : c->challenge, d->user);
		msg[n++] = (uint8_t)(d->id >> 24);
		msg[n++] = (uint8_t)(d->id >> 16);
		msg[n++] = (uint8_t)(d->id >> 8);
		msg[n++] = (uint8_t)d->id;
		crypto_sign_detached(m.f.body.login.signature, NULL, msg, n,
		    d->sk);
	}
	if ((rc = ac_ask(c, &m, &r)) == 0) {
		d->tlen = r->f.body.logged_in.session_token.size;
		memcpy(d->token, r->f.body.logged_in.session_token.bytes,
		    d->tlen);
	}
	return rc;
}

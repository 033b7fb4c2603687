/* SPDX-License-Identifier: ISC */
/*
 * Registration and login against a real engine on this process's loop,
 * over TLS on loopback, with signatures made here independently of the
 * server's code: closed registration and invites, proof of the identity
 * key, logins bound to the TLS channel (a bare or relayed challenge
 * fails), tokens (resume, forged, expired, revoked), failed-login limits,
 * link tokens and device lists, and revocation closing a live session.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_server.h"
#include <pb_encode.h>

#include "authclient.h"

#define T	5000

static int failures;
static char logged[65536];
static size_t nlogged;
static struct event_base *base;
static struct iris_engine *eng;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "engine_auth: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static void
open_cx(struct ac_conn *c)
{
	EXPECT(ac_open(c, base, port, fp, NULL, 0) == 0, "connect and hello");
}

/* how: 0 proper, 1 bare challenge, 2 another connection's challenge. */
static int
do_login(struct ac_conn *c, struct ac_dev *d, int how,
    const uint8_t *other_ch, uint8_t *token, size_t *tlen)
{
	int rc = ac_login(c, d, how == 1 ? AC_BARE : how == 2 ? AC_RELAY :
	    AC_SIGN, other_ch);

	if (rc == 0 && token != NULL) {
		memcpy(token, d->token, d->tlen);
		*tlen = d->tlen;
	}
	return rc;
}

struct admin {
	int	 done;
	int	 rc;
};

static void
admin_cb(struct iris_engine *e, int rc, void *arg)
{
	struct admin *a = arg;

	(void)e;
	a->done = 1;
	a->rc = rc;
}

static int
admin_done(void *arg)
{
	return ((struct admin *)arg)->done;
}

static void
invite(char code[64], const char *user)
{
	struct admin a = { 0, 0 };

	EXPECT(iris_engine_invite(eng, user, 60000, code, 64, admin_cb, &a) ==
	    IRIS_OK, "invite");
	EXPECT(run_until(base, admin_done, &a, T) && a.rc == IRIS_OK,
	    "invite not durable");
}

/* A device list of devs, version v, signed by signer. */
static int
put_list(struct ac_conn *c, struct ac_dev **devs, int n, uint64_t v,
    const struct ac_dev *signer)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	struct iris_wire_msg m;
	iris_v1_SignedDeviceList *sl;
	uint8_t msg[15 + 4096];
	pb_ostream_t os;
	int i;

	dl.user.size = (pb_size_t)strlen(devs[0]->user);
	memcpy(dl.user.bytes, devs[0]->user, dl.user.size);
	dl.version = v;
	dl.devices_count = (pb_size_t)n;
	for (i = 0; i < n; i++) {
		dl.devices[i].device_id = devs[i]->id;
		memcpy(dl.devices[i].identity_key, devs[i]->pk, 32);
	}
	iris__wire_msg_init(&m);
	m.f.request_id = 5;
	m.f.which_body = iris_v1_Frame_device_list_put_tag;
	m.f.body.device_list_put.has_list = true;
	sl = &m.f.body.device_list_put.list;
	os = pb_ostream_from_buffer(sl->list.bytes, sizeof(sl->list.bytes));
	if (!pb_encode(&os, iris_v1_DeviceList_fields, &dl))
		return -3;
	sl->list.size = (pb_size_t)os.bytes_written;
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, sl->list.bytes, sl->list.size);
	crypto_sign_detached(sl->signature, NULL, msg, 15 + sl->list.size,
	    signer->sk);
	return ac_ask(c, &m, NULL);
}

/* A token signed with the server's own key (read from its data dir). */
static size_t
forge_token(uint8_t *out, const struct ac_dev *d, uint64_t expires)
{
	unsigned char seed[32], pk[32], sk[64], msg[256];
	char hex[80];
	FILE *f = fopen("data/server.key", "r");
	size_t n = 0, ulen = strlen(d->user);
	int i;

	if (f == NULL || fgets(hex, sizeof(hex), f) == NULL)
		return 0;
	fclose(f);
	sodium_hex2bin(seed, 32, hex, 64, NULL, NULL, NULL);
	crypto_sign_seed_keypair(pk, sk, seed);
	out[n++] = 1;
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, d->user, ulen);
	n += ulen;
	for (i = 3; i >= 0; i--)
		out[n++] = (uint8_t)(d->id >> (8 * i));
	for (i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(expires >> (8 * i));
	randombytes_buf(out + n, 16);
	n += 16;
	memcpy(msg, "IRIS-TOKEN-v1", 13);
	memcpy(msg + 13, out, n);
	crypto_sign_detached(out + n, NULL, msg, 13 + n, sk);
	return n + 64;
}

static void
registration_and_login(void)
{
	struct ac_dev alice, mallory, bob, alice2;
	struct ac_conn a, b;
	uint8_t token[256], bad[256], got[256];
	size_t glen = 0;
	size_t tlen = 0;
	char code[64], code2[64];
	struct iris_wire_msg m, *r;
	int i, rc;

	ac_dev_new(&alice, "alice");
	ac_dev_new(&mallory, "alice");
	ac_dev_new(&bob, "bob");
	/* Closed: no invite, a made-up one, a signature that lies. */
	open_cx(&a);
	EXPECT(ac_register(&a, &alice, NULL, NULL, 0) ==
	    iris_v1_ErrorCode_ERR_REGISTRATION_CLOSED, "closed, no invite");
	wc_close(&a.w);
	open_cx(&a);
	EXPECT(ac_register(&a, &alice, "not-a-code", NULL, 0) ==
	    iris_v1_ErrorCode_ERR_BAD_INVITE, "bad invite");
	wc_close(&a.w);
	invite(code, "alice");
	open_cx(&a);
	EXPECT(ac_register(&a, &alice, code, NULL, 1) ==
	    iris_v1_ErrorCode_ERR_BAD_SIGNATURE, "tampered proof");
	wc_close(&a.w);
	/* The invite is bound to alice: bob cannot use it. */
	open_cx(&b);
	EXPECT(ac_register(&b, &bob, code, NULL, 0) ==
	    iris_v1_ErrorCode_ERR_BAD_INVITE, "invite for someone else");
	wc_close(&b.w);
	open_cx(&a);
	EXPECT(ac_register(&a, &alice, code, NULL, 0) == 0, "register");
	EXPECT(alice.id == 1, "first device is %u", alice.id);
	/* Used up; and alice is taken. */
	open_cx(&b);
	EXPECT(ac_register(&b, &mallory, code, NULL, 0) ==
	    iris_v1_ErrorCode_ERR_USER_EXISTS, "user taken");
	wc_close(&b.w);
	/* Same connection: log in with the fresh challenge. */
	EXPECT(do_login(&a, &alice, 0, NULL, token, &tlen) == 0, "login");
	EXPECT(tlen > 0, "token");
	wc_close(&a.w);

	/* A bare challenge, a relayed one, another key: refused. */
	open_cx(&a);
	EXPECT(do_login(&a, &alice, 1, NULL, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_AUTH_FAILED, "bare challenge");
	wc_close(&a.w);
	open_cx(&a);
	open_cx(&b);
	EXPECT(do_login(&b, &alice, 2, a.challenge, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_AUTH_FAILED, "relayed challenge");
	wc_close(&b.w);
	mallory.id = 1;
	EXPECT(do_login(&a, &mallory, 0, NULL, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_AUTH_FAILED, "wrong key");
	wc_close(&a.w);
	/* Unknown user and device. */
	open_cx(&a);
	bob.id = 1;
	EXPECT(do_login(&a, &bob, 0, NULL, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_UNKNOWN_USER, "unknown user");
	wc_close(&a.w);
	open_cx(&a);
	alice.id = 7;
	EXPECT(do_login(&a, &alice, 0, NULL, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE, "unknown device");
	alice.id = 1;
	wc_close(&a.w);

	/* Tokens: resume; forged; expired. */
	open_cx(&a);
	EXPECT(ac_login_token_ex(&a, &alice, token, tlen, got, &glen) == 0,
	    "token login");
	/* Well within its lifetime: the same token again, not re-signed. */
	EXPECT(glen == tlen && memcmp(got, token, tlen) == 0,
	    "a fresh token login got another token");
	wc_close(&a.w);
	/* Past half its lifetime (valid for a minute more): a new one. */
	glen = forge_token(bad, &alice, (uint64_t)time(NULL) * 1000 + 60000);
	open_cx(&a);
	EXPECT(glen > 0 && ac_login_token_ex(&a, &alice, bad, glen, got,
	    &glen) == 0, "token login, token near its end");
	EXPECT(glen > 0 && memcmp(got, bad, glen) != 0,
	    "a token near its end was not renewed");
	wc_close(&a.w);
	/* The renewed one resumes too (it was remembered when made). */
	open_cx(&a);
	EXPECT(ac_login_token(&a, &alice, got, glen) == 0, "renewed token");
	wc_close(&a.w);
	memcpy(bad, token, tlen);
	bad[5] ^= 1;
	open_cx(&a);
	EXPECT(ac_login_token(&a, &alice, bad, tlen) ==
	    iris_v1_ErrorCode_ERR_AUTH_FAILED, "forged token");
	wc_close(&a.w);
	tlen = forge_token(bad, &alice, 1000);
	open_cx(&a);
	EXPECT(tlen > 0 && ac_login_token(&a, &alice, bad, tlen) ==
	    iris_v1_ErrorCode_ERR_TOKEN_EXPIRED, "expired token");
	wc_close(&a.w);

	/* A second device through a link token from the primary. */
	open_cx(&a);
	EXPECT(do_login(&a, &alice, 0, NULL, token, &tlen) == 0, "login 2");
	iris__wire_msg_init(&m);
	m.f.request_id = 8;
	m.f.which_body = iris_v1_Frame_link_token_create_tag;
	rc = ac_ask(&a, &m, &r);
	EXPECT(rc == 0 && r->f.which_body == iris_v1_Frame_link_token_tag,
	    "link token");
	snprintf(code2, sizeof(code2), "%.*s", rc == 0 ?
	    (int)r->f.body.link_token.token.size : 0,
	    rc == 0 ? (const char *)r->f.body.link_token.token.bytes : "");
	ac_dev_new(&alice2, "alice");
	open_cx(&b);
	EXPECT(ac_register(&b, &alice2, NULL, code2, 0) == 0, "link");
	EXPECT(alice2.id == 2, "second device id %u", alice2.id);
	EXPECT(do_login(&b, &alice2, 0, NULL, NULL, NULL) == 0, "login dev 2");
	{
		struct ac_dev *both[2] = { &alice, &alice2 };

		/* Only the primary signs; versions only go up. */
		EXPECT(put_list(&b, both, 2, 1, &alice2) ==
		    iris_v1_ErrorCode_ERR_NOT_PRIMARY, "non-primary put");
		EXPECT(put_list(&a, both, 2, 2, &alice2) ==
		    iris_v1_ErrorCode_ERR_BAD_SIGNATURE, "signed by dev 2");
		EXPECT(put_list(&a, both, 2, 2, &alice) == 0, "list v2");
		EXPECT(put_list(&a, both, 2, 2, &alice) ==
		    iris_v1_ErrorCode_ERR_STALE_VERSION, "same version");
		EXPECT(put_list(&a, both, 2, 1, &alice) ==
		    iris_v1_ErrorCode_ERR_STALE_VERSION, "lower version");
		both[1] = &mallory;
		mallory.id = 2;
		EXPECT(put_list(&a, both, 2, 3, &alice) ==
		    iris_v1_ErrorCode_ERR_BAD_REQUEST, "unknown key listed");
	}
	iris__wire_msg_init(&m);
	m.f.request_id = 9;
	m.f.which_body = iris_v1_Frame_device_list_get_tag;
	m.f.body.device_list_get.users_count = 2;
	memcpy(m.f.body.device_list_get.users[0].bytes, "alice", 5);
	m.f.body.device_list_get.users[0].size = 5;
	memcpy(m.f.body.device_list_get.users[1].bytes, "nobody", 6);
	m.f.body.device_list_get.users[1].size = 6;
	EXPECT(ac_ask(&a, &m, &r) == 0 && r->nlists == 1, "list get");

	/* Revoking device 2 closes its live session within the sweep. */
	{
		struct admin ad = { 0, 0 };

		EXPECT(iris_engine_revoke_device(eng, "alice", 2, admin_cb,
		    &ad) == IRIS_OK, "revoke");
		EXPECT(run_until(base, admin_done, &ad, T), "revoke done");
		r = wc_next(&b.w, T);
		EXPECT(r != NULL && r->f.body.error.code ==
		    iris_v1_ErrorCode_ERR_REVOKED, "revoked session not told");
		EXPECT(wc_wait_closed(&b.w, T), "revoked session not closed");
	}
	wc_close(&b.w);
	open_cx(&b);
	EXPECT(do_login(&b, &alice2, 0, NULL, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_REVOKED, "revoked device logs in");
	wc_close(&b.w);

	/* Logout revoking the token: it no longer resumes. */
	iris__wire_msg_init(&m);
	m.f.request_id = 10;
	m.f.which_body = iris_v1_Frame_logout_tag;
	m.f.body.logout.revoke_token = true;
	EXPECT(ac_ask(&a, &m, &r) == 0 && r->f.which_body ==
	    iris_v1_Frame_done_tag, "logout");
	wc_close(&a.w);
	open_cx(&a);
	EXPECT(ac_login_token(&a, &alice, token, tlen) ==
	    iris_v1_ErrorCode_ERR_REVOKED, "revoked token resumes");
	wc_close(&a.w);

	/* A restart keeps accounts, devices and revocations. */
	{
		struct iris_config *cfg;
		char fp2[65];

		iris_engine_free(eng);
		iris_config_new(&cfg);
		iris_config_set(cfg, "data_dir", "data");
		iris_config_set(cfg, "listen", "127.0.0.1:0");
		iris_config_set(cfg, "login_failures", "9");
		EXPECT(iris_engine_new(&eng, base, cfg) == IRIS_OK, "restart");
		iris_config_free(cfg);
		port = iris_engine_port(eng, 0);
		iris_engine_fingerprint(eng, fp2, sizeof(fp2));
		EXPECT(strcmp(fp, fp2) == 0, "identity changed on restart");
		open_cx(&a);
		EXPECT(do_login(&a, &alice, 0, NULL, NULL, NULL) == 0,
		    "alice after restart");
		wc_close(&a.w);
		open_cx(&b);
		EXPECT(do_login(&b, &alice2, 0, NULL, NULL, NULL) ==
		    iris_v1_ErrorCode_ERR_REVOKED, "revocation after restart");
		wc_close(&b.w);
	}

	/* Failed logins are limited per account. */
	for (i = 0; i < 12; i++) {
		open_cx(&a);
		rc = do_login(&a, &mallory, 0, NULL, NULL, NULL);
		wc_close(&a.w);
	}
	EXPECT(rc == iris_v1_ErrorCode_ERR_RATE_LIMITED, "no login limit");
	open_cx(&a);
	EXPECT(do_login(&a, &alice, 0, NULL, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_RATE_LIMITED, "limit is per account");
	wc_close(&a.w);
}

static void
capture(int level, const char *msg, void *arg)
{
	(void)level, (void)arg;
	nlogged += (size_t)snprintf(logged + nlogged, sizeof(logged) - nlogged,
	    "%s\n", msg);
	if (nlogged >= sizeof(logged))
		nlogged = 0;
}

int
main(void)
{
	struct iris_config *cfg;
	uint64_t v = 0;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "revocation_check", "100ms");
	iris_config_set(cfg, "login_failures", "9");
	iris_config_set_log_cb(cfg, capture, NULL);
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "engine_auth: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	registration_and_login();
	/* The frame's trace id is in the log line of what it caused. */
	EXPECT(strstr(logged, "trace abababababababababababababababab: alice/1"
	    " logged in") != NULL, "no trace id in the login log line");
	iris_engine_stat(eng, "auth_failures", &v);
	EXPECT(v >= 5, "auth_failures counter %llu", (unsigned long long)v);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("engine_auth: registration, login, tokens, devices, "
	    "revocation: ok\n");
	return 0;
}

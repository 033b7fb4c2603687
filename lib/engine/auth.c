/* SPDX-License-Identifier: ISC */
/*
 * Accounts and login at the edge: registration under the configured
 * policy with proof of the identity key, login by a signature bound to the
 * TLS channel or by a server-signed session token, logout, link tokens,
 * failed-login limits per account, revocations enforced on live sessions.
 * Proofs are checked here; writes go to the core over the bus and are
 * answered once durable. Logins read the store on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "iris.h"
#include "engine/engine.h"
#include "store/accounts.h"
#include "util/alloc.h"
#include "util/clock.h"

#define FAIL_SLOTS	4096

struct login_fail {
	char		 user[65];
	uint32_t	 count;
	uint64_t	 since_ms;
};

/* The token signing key: a seed made at first start, kept as hex. */
int
iris__auth_init(struct iris_engine *eng, const char *dir)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	char path[4096], hex[2 * sizeof(seed) + 2];
	int fd, ok = 0;
	ssize_t n;

	if ((eng->fails = iris__calloc(FAIL_SLOTS, sizeof(*eng->fails))) ==
	    NULL || iris__token_init(eng) != IRIS_OK)
		return IRIS_ENOMEM;
	snprintf(path, sizeof(path), "%s/server.key", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, hex, sizeof(hex) - 1);
		close(fd);
		ok = n >= (ssize_t)(2 * sizeof(seed)) &&
		    sodium_hex2bin(seed, sizeof(seed), hex, 2 * sizeof(seed),
		    NULL, NULL, NULL) == 0;
		if (!ok) {
			snprintf(eng->err, sizeof(eng->err), "%.300s: not a "
			    "server key", path);
			return IRIS_ECORRUPT;
		}
	} else if (errno == ENOENT) {
		randombytes_buf(seed, sizeof(seed));
		sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
		hex[2 * sizeof(seed)] = '\n';
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0)
			return IRIS_EIO;
		ok = write(fd, hex, 2 * sizeof(seed) + 1) ==
		    (ssize_t)(2 * sizeof(seed) + 1) && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		if (!ok)
			return IRIS_EIO;
	} else
		return IRIS_EIO;
	crypto_sign_seed_keypair(eng->sign_pk, eng->sign_sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(hex, sizeof(hex));
	return IRIS_OK;
}

/* prefix || server id || challenge || binding || u8 len || user [|| x]. */
static size_t
signed_string(uint8_t *out, const char *prefix, struct iris_session *s,
    const uint8_t *challenge, const char *user)
{
	struct iris_engine *eng = iris__session_engine(s);
	size_t n = strlen(prefix), ulen = strlen(user);

	memcpy(out, prefix, n);
	memcpy(out + n, eng->server_id, IRIS_SERVER_ID_LEN);
	n += IRIS_SERVER_ID_LEN;
	memcpy(out + n, challenge, IRIS_CHALLENGE_LEN);
	n += IRIS_CHALLENGE_LEN;
	memcpy(out + n, iris__session_binding(s), IRIS_BINDING_LEN);
	n += IRIS_BINDING_LEN;
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, user, ulen);
	return n + ulen;
}

/* The user id byte arrays are distinct nanopb types. */
#define copy_user(out, u) do {						\
	memcpy((out), (u)->bytes, (u)->size);				\
	(out)[(u)->size] = '\0';					\
} while (0)

static struct login_fail *
fail_slot(struct iris_engine *eng, const char *user)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = user; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &eng->fails[h % FAIL_SLOTS];
}

/* Refuses when the account saw too many failures lately. */
static int
too_many_failures(struct iris_engine *eng, const char *user,
    uint32_t *retry_ms)
{
	struct login_fail *f = fail_slot(eng, user);
	uint64_t now = iris__clock_mono_us() / 1000;
	uint64_t window = iris__config_uint(eng->cfg, IRIS__OPT_LOGIN_WINDOW);

	if (strcmp(f->user, user) != 0 || now >= f->since_ms + window)
		return 0;
	if (f->count < iris__config_uint(eng->cfg, IRIS__OPT_LOGIN_FAILURES))
		return 0;
	*retry_ms = (uint32_t)(f->since_ms + window - now);
	return 1;
}

static void
count_failure(struct iris_engine *eng, const char *user)
{
	struct login_fail *f = fail_slot(eng, user);
	uint64_t now = iris__clock_mono_us() / 1000;
	uint64_t window = iris__config_uint(eng->cfg, IRIS__OPT_LOGIN_WINDOW);

	eng->st[ST_AUTH_FAILURES]++;
	if (strcmp(f->user, user) != 0 || now >= f->since_ms + window) {
		snprintf(f->user, sizeof(f->user), "%s", user);
		f->count = 0;
		f->since_ms = now;
	}
	f->count++;
}

/* Registration: answered once the new device is durable. */
static void
registered(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;
	struct iris_wire_msg m;
	int code = 0;

	if (!iris__edge_back(s))
		return;
	if (r->rep.code != 0) {
		iris__edge_reply(s, r);
		return;
	}
	switch (r->rep.acct.rc) {
	case IRIS_OK:
		break;
	case IRIS_EEXIST:
		code = iris_v1_ErrorCode_ERR_USER_EXISTS;
		break;
	case IRIS_EDENIED:
		code = r->u.acct.code[0] == '\0' ?
		    iris_v1_ErrorCode_ERR_REGISTRATION_CLOSED :
		    iris_v1_ErrorCode_ERR_BAD_INVITE;
		break;
	case IRIS_ELIMIT:
		code = iris_v1_ErrorCode_ERR_TOO_MANY_DEVICES;
		break;
	default:
		code = iris_v1_ErrorCode_ERR_INTERNAL;
		break;
	}
	if (code != 0) {
		iris__session_error(s, r->rid, code, 0, NULL);
		return;
	}
	iris__session_engine(s)->st[ST_REGISTRATIONS]++;
	iris__wire_msg_init(&m);
	m.f.request_id = r->rid;
	m.f.which_body = iris_v1_Frame_registered_tag;
	m.f.body.registered.device_id = r->rep.acct.out_device;
	m.f.body.registered.primary = r->rep.acct.out_primary;
	iris__session_new_challenge(s, m.f.body.registered.challenge);
	iris__session_send(s, &m);
}

void
iris__auth_register(struct iris_session *s, struct iris_wire_msg *m)
{
	const iris_v1_Register *rg = &m->f.body.register_device;
	struct iris_engine *eng = iris__session_engine(s);
	uint64_t rid = m->f.request_id;
	uint8_t msg[256];
	const uint8_t *ch;
	struct iris_bus_req *r;
	struct iris_bus_acct *a;
	char user[65];
	size_t n;
	int policy;

	copy_user(user, &rg->user);
	if ((ch = iris__session_take_challenge(s)) == NULL) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "the challenge was used; register on a new connection");
		return;
	}
	n = signed_string(msg, "IRIS-REGISTER-v1", s, ch, user);
	memcpy(msg + n, rg->identity_key, 32);
	if (crypto_sign_verify_detached(rg->signature, msg, n + 32,
	    rg->identity_key) != 0) {
		eng->st[ST_AUTH_FAILURES]++;
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_SIGNATURE,
		    0, "registration signature");
		return;
	}
	policy = (int)iris__config_uint(eng->cfg, IRIS__OPT_REGISTRATION);
	if (policy == 2 && rg->link_token.size == 0 &&
	    iris__acct_user(eng->store, user, NULL) == IRIS_ENOTFOUND &&
	    (eng->register_cb == NULL || eng->register_cb(eng, user,
	    rg->invite_code, eng->register_arg) != IRIS_OK)) {
		iris__session_error(s, rid,
		    iris_v1_ErrorCode_ERR_REGISTRATION_CLOSED, 0,
		    "refused by the server's policy");
		return;
	}
	/* Not logged in: the request names the device being made. */
	if ((r = iris__edge_req(s, IRIS_BUS_REGISTER, rid)) == NULL)
		return;
	a = &r->u.acct;
	memcpy(a->user, user, sizeof(user));
	memcpy(r->from.user, user, sizeof(user));
	memcpy(a->key, rg->identity_key, 32);
	snprintf(a->name, sizeof(a->name), "%s", rg->device_name);
	if (rg->link_token.size > 0) {
		memcpy(a->code, rg->link_token.bytes, rg->link_token.size);
		a->code[rg->link_token.size] = '\0';
		a->is_link = 1;
	} else
		snprintf(a->code, sizeof(a->code), "%s", rg->invite_code);
	a->open_policy = policy != 0;
	a->max_devices = (eng->lim.max_envelopes + 1) / 2;
	(void)iris__edge_submit(s, r, registered);
}

/*
 * tok: the token a token login presented, answered again while more than
 * half its lifetime is left (no new signature: it was half the CPU of a
 * token login); NULL, or a token past that, gets a fresh one.
 */
static void
login_ok(struct iris_session *s, uint64_t rid, const char *user,
    uint32_t device, const uint8_t *tok, size_t toklen, uint64_t tok_expires,
    const uint8_t tok_id[16])
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_wire_msg m;
	iris_v1_LoggedIn *li;
	uint8_t id[16];
	uint64_t life = iris__config_uint(eng->cfg, IRIS__OPT_TOKEN_LIFETIME);
	uint64_t now = iris__clock_realtime_ms(NULL);

	iris__wire_msg_init_body(&m, iris_v1_Frame_logged_in_tag);
	m.f.request_id = rid;
	li = &m.f.body.logged_in;
	if (tok != NULL && tok_expires > now && tok_expires - now > life / 2 &&
	    toklen <= sizeof(li->session_token.bytes)) {
		memcpy(li->session_token.bytes, tok, toklen);
		li->session_token.size = (pb_size_t)toklen;
		li->token_expires_ms = tok_expires;
		memcpy(id, tok_id, sizeof(id));
	} else {
		li->session_token.size = (pb_size_t)iris__token_make(eng,
		    li->session_token.bytes, user, device, now + life, id);
		li->token_expires_ms = now + life;
	}
	(void)iris_store_depth(eng->store, user, device, &li->acked_seq,
	    &li->head_seq);
	iris__session_login(s, user, device, id);
	if (iris__edge_attach(s, li->acked_seq, li->head_seq) != IRIS_OK) {
		iris__session_bye(s, iris_v1_ErrorCode_ERR_OVERLOADED, 1000,
		    "out of memory");
		return;
	}
	eng->st[tok != NULL ? ST_LOGINS_RESUMED : ST_LOGINS]++;
	iris__log(&eng->log, IRIS_LOG_INFO, "%s: trace %s: %s/%u logged in%s",
	    iris__session_peer(s), iris__session_trace(s), user, device,
	    tok != NULL ? " (token)" : "");
	iris__session_send(s, &m);
}

static void login(struct iris_session *, struct iris_wire_msg *);

/* Its reads (device, account, token revocation, inbox) in one snapshot. */
void
iris__auth_login(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_store *store = iris__session_engine(s)->store;

	iris__acct_read_hold(store);
	login(s, m);
	iris__acct_read_release(store);
}

static void
login(struct iris_session *s, struct iris_wire_msg *m)
{
	const iris_v1_Login *lg = &m->f.body.login;
	struct iris_engine *eng = iris__session_engine(s);
	uint64_t rid = m->f.request_id;
	uint8_t key[32], msg[256], id[16];
	const uint8_t *ch;
	char user[65], tuser[65];
	uint32_t retry, tdev;
	uint64_t texp = 0;
	size_t n;
	int revoked, disabled = 0, rc;

	copy_user(user, &lg->user);
	if (too_many_failures(eng, user, &retry)) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_RATE_LIMITED,
		    retry, "too many failed logins for this account");
		return;
	}
	rc = iris__acct_device(eng->store, user, lg->device_id, key,
	    &revoked);
	if (rc != IRIS_OK) {
		count_failure(eng, user);
		iris__session_error(s, rid, rc != IRIS_ENOTFOUND ?
		    iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE :
		    iris__acct_user(eng->store, user, NULL) == IRIS_OK ?
		    iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE :
		    iris_v1_ErrorCode_ERR_UNKNOWN_USER, 0, NULL);
		return;
	}
	if (revoked || (iris__acct_user(eng->store, user, &disabled) ==
	    IRIS_OK && disabled)) {
		count_failure(eng, user);
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_REVOKED, 0,
		    revoked ? "this device was revoked" :
		    "this account is disabled");
		return;
	}
	if (lg->resume_token.size > 0) {
		rc = iris__token_check(eng, lg->resume_token.bytes,
		    lg->resume_token.size, tuser, &tdev, id, &texp);
		if (rc == IRIS_OK && (strcmp(tuser, user) != 0 ||
		    tdev != lg->device_id))
			rc = IRIS_EAUTH;
		if (rc == IRIS_OK && iris__acct_revoked(eng->store,
		    IRIS_REVOKE_TOKEN, id, sizeof(id)) != 0)
			rc = IRIS_EDENIED;
		if (rc != IRIS_OK) {
			count_failure(eng, user);
			iris__session_error(s, rid, rc == IRIS_ETIMEDOUT ?
			    iris_v1_ErrorCode_ERR_TOKEN_EXPIRED :
			    rc == IRIS_EDENIED ? iris_v1_ErrorCode_ERR_REVOKED :
			    iris_v1_ErrorCode_ERR_AUTH_FAILED, 0, NULL);
			return;
		}
		login_ok(s, rid, user, lg->device_id, lg->resume_token.bytes,
		    lg->resume_token.size, texp, id);
		return;
	}
	if ((ch = iris__session_take_challenge(s)) == NULL) {
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_BAD_REQUEST,
		    0, "the challenge was used; log in on a new connection");
		return;
	}
	n = signed_string(msg, "IRIS-LOGIN-v1", s, ch, user);
	msg[n++] = (uint8_t)(lg->device_id >> 24);
	msg[n++] = (uint8_t)(lg->device_id >> 16);
	msg[n++] = (uint8_t)(lg->device_id >> 8);
	msg[n++] = (uint8_t)lg->device_id;
	if (crypto_sign_verify_detached(lg->signature, msg, n, key) != 0) {
		count_failure(eng, user);
		IRIS__PEER_LOG(eng, IRIS_LOG_INFO, "%s: trace %s: failed login"
		    " as %s/%u", iris__session_peer(s), iris__session_trace(s),
		    user, lg->device_id);
		iris__session_error(s, rid, iris_v1_ErrorCode_ERR_AUTH_FAILED,
		    0, "bad login signature");
		return;
	}
	login_ok(s, rid, user, lg->device_id, NULL, 0, 0, NULL);
}

/* Logout: with revoke_token, the token is dead before the answer. */
static void
logged_out(struct iris_bus_req *r, void *arg)
{
	struct iris_session *s = arg;

	if (!iris__edge_back(s))
		return;
	iris__edge_reply(s, r);
	if (r->rep.code == 0)
		iris__session_bye(s, iris_v1_ErrorCode_ERR_NOT_AUTHENTICATED,
		    0, "logged out");
}

void
iris__auth_logout(struct iris_session *s, struct iris_wire_msg *m)
{
	struct iris_engine *eng = iris__session_engine(s);
	struct iris_bus_req *r;
	struct iris_wire_msg done;
	struct iris_bus_acct *a;

	if (!m->f.body.logout.revoke_token) {
		/* Nothing to make durable: answer now. */
		iris__wire_msg_init(&done);
		done.f.request_id = m->f.request_id;
		done.f.which_body = iris_v1_Frame_done_tag;
		iris__session_send(s, &done);
		iris__session_bye(s, iris_v1_ErrorCode_ERR_NOT_AUTHENTICATED,
		    0, "logged out");
		return;
	}
	if ((r = iris__edge_req(s, IRIS_BUS_REVOKE, m->f.request_id)) == NULL)
		return;
	a = &r->u.acct;
	snprintf(a->user, sizeof(a->user), "%s", r->from.user);
	a->revoke_kind = IRIS_REVOKE_TOKEN;
	memcpy(a->revoke_key, iris__session_token_id(s), 16);
	a->revoke_len = 16;
	a->expires_ms = iris__clock_realtime_ms(NULL) +
	    iris__config_uint(eng->cfg, IRIS__OPT_TOKEN_LIFETIME);
	(void)iris__edge_submit(s, r, logged_out);
}

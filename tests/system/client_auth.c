/* SPDX-License-Identifier: ISC */
/*
 * The client library against a real engine on this process's loop, over
 * TLS on loopback: registration with invites (none, a bad one, a good
 * one), the primary's device list version 1, login with the session
 * token and with a signature after a restart of the client object, a
 * second device linked and added by the primary, freeing a client inside
 * its own callback, and bad input: a wrong pinned key, a malformed one,
 * invalid user ids, a wrong store key, a second registration, revocation.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "clienttest.h"
#include "evloop.h"

#define T	10000

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static struct iris_client_store *store;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_auth: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

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

static uint64_t
stat(const char *name)
{
	uint64_t v = 0;

	iris_engine_stat(eng, name, &v);
	return v;
}

struct devs {
	struct ct_done	 d;
	uint64_t	 version;
	size_t		 n;
	uint32_t	 ids[8];
	uint8_t		 keys[8][32];
};

static void
devices_cb(struct iris_client *c, int rc, const char *user, uint64_t version,
    const uint32_t *ids, const uint8_t (*keys)[32], size_t n, void *arg)
{
	struct devs *d = arg;
	size_t i;

	(void)c, (void)user;
	d->d.done = 1;
	d->d.rc = rc;
	d->version = version;
	d->n = n;
	for (i = 0; i < n && i < 8; i++) {
		d->ids[i] = ids[i];
		memcpy(d->keys[i], keys[i], 32);
	}
}

static void
registration(void)
{
	struct ct_rec ra;
	struct iris_client *a;
	struct ct_done d = { 0, 0 };
	struct devs dv;
	uint8_t key[32];
	uint32_t dev = 0;
	char code[64];

	ct_rec_init(&ra, "alice");
	a = ct_client(base, store, port, fp, "alice", NULL, &ra);
	EXPECT(a != NULL, "client");
	EXPECT(iris_client_user(a, NULL) == NULL, "a user before registering");
	EXPECT(iris_client_connect(a) == IRIS_ESTATE,
	    "connect with no account");
	EXPECT(iris_client_identity(a, key) == IRIS_ESTATE, "identity");
	/* Closed registration: no invite, a made-up one. */
	EXPECT(iris_client_register(a, NULL, ct_done_cb, &d) == IRIS_OK,
	    "register");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_EDENIED, "no invite: %d",
	    d.rc);
	EXPECT(ra.state == IRIS_CLIENT_OFFLINE, "offline after refusal");
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_register(a, "0123456789abcdef0123456789abcdef",
	    ct_done_cb, &d) == IRIS_OK, "register 2");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_EDENIED, "bad invite: %d",
	    d.rc);
	invite(code, "alice");
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_register(a, code, ct_done_cb, &d) == IRIS_OK,
	    "register 3");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "register: %d (%s)",
	    d.rc, iris_client_error(a));
	EXPECT(ra.state == IRIS_CLIENT_ONLINE, "online after registering");
	EXPECT(iris_client_user(a, &dev) != NULL && dev == 1, "device %u",
	    dev);
	EXPECT(iris_client_identity(a, key) == IRIS_OK, "identity");
	/* Registering again is refused at once. */
	EXPECT(iris_client_register(a, code, ct_done_cb, &d) == IRIS_EEXIST,
	    "second registration");
	/* The primary listed itself, signed: version 1, its own key. */
	memset(&dv, 0, sizeof(dv));
	EXPECT(iris_client_devices(a, "alice", devices_cb, &dv) == IRIS_OK,
	    "devices");
	EXPECT(ct_wait_done(base, &dv.d, T) == IRIS_OK, "devices: %d",
	    dv.d.rc);
	EXPECT(dv.version == 1 && dv.n == 1 && dv.ids[0] == 1 &&
	    memcmp(dv.keys[0], key, 32) == 0, "own list v%llu n %zu",
	    (unsigned long long)dv.version, dv.n);
	memset(&dv, 0, sizeof(dv));
	EXPECT(iris_client_devices(a, "nobody", devices_cb, &dv) == IRIS_OK,
	    "devices of nobody");
	EXPECT(ct_wait_done(base, &dv.d, T) == IRIS_ENOTFOUND, "nobody: %d",
	    dv.d.rc);
	EXPECT(iris_client_devices(a, "bad user", devices_cb, &dv) ==
	    IRIS_EINVAL, "invalid user id");
	iris_client_free(a);
	ct_rec_free(&ra);
}

static int
is_done(void *arg)
{
	return *(int *)arg;
}

static void
saved(struct iris_client *c, int rc, void *arg)
{
	(void)c;
	*(int *)arg = rc == IRIS_OK ? 1 : -1;
}

/*
 * A crash after the server registered the user but before the client
 * kept the answer: registering again finds the user taken by its own key
 * and logs in as its primary.
 */
static void
lost_registration(void)
{
	struct ct_rec r;
	struct iris_client *c;
	struct ct_done d = { 0, 0 };
	char code[64];
	uint32_t dev = 9;
	int done = 0;

	ct_rec_init(&r, "dave");
	c = ct_client(base, store, port, fp, "dave", NULL, &r);
	invite(code, "dave");
	EXPECT(iris_client_register(c, code, ct_done_cb, &d) == IRIS_OK &&
	    ct_wait_done(base, &d, T) == IRIS_OK, "register dave");
	/* The account as it was before the answer came. */
	iris_client_disconnect(c);
	c->device = 0;
	c->primary = 0;
	c->have_server_id = 0;
	EXPECT(iris__auth_save(c, saved, &done) == IRIS_OK &&
	    run_until(base, is_done, &done, T) && done == 1, "roll back");
	iris_client_free(c);
	ct_rec_free(&r);
	ct_rec_init(&r, "dave");
	c = ct_client(base, store, port, fp, "dave", NULL, &r);
	EXPECT(iris_client_user(c, &dev) != NULL && dev == 0, "pending");
	invite(code, "dave");
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_register(c, code, ct_done_cb, &d) == IRIS_OK,
	    "register again");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "register again: %d %s",
	    d.rc, iris_client_error(c));
	EXPECT(iris_client_user(c, &dev) != NULL && dev == 1, "device %u",
	    dev);
	iris_client_free(c);
	ct_rec_free(&r);
	/* Someone else's key: taken, the first time and the second. */
	ct_rec_init(&r, "not dave");
	c = ct_client(base, store, port, fp, "dave", "mallory", &r);
	invite(code, "dave");
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_register(c, code, ct_done_cb, &d) == IRIS_OK &&
	    ct_wait_done(base, &d, T) == IRIS_EEXIST, "taken: %d", d.rc);
	invite(code, "dave");
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_register(c, code, ct_done_cb, &d) == IRIS_OK &&
	    ct_wait_done(base, &d, T) == IRIS_EEXIST, "taken again: %d",
	    d.rc);
	EXPECT(iris_client_user(c, &dev) != NULL && dev == 0, "device %u",
	    dev);
	iris_client_free(c);
	ct_rec_free(&r);
}

/* The account in the store logs in again: token, then signature. */
static void
relogin(void)
{
	struct ct_rec ra;
	struct iris_client *a;
	uint64_t logins = stat("logins"), resumed = stat("logins_resumed");

	ct_rec_init(&ra, "alice");
	a = ct_client(base, store, port, fp, "alice", NULL, &ra);
	EXPECT(a != NULL && iris_client_user(a, NULL) != NULL,
	    "account not loaded");
	EXPECT(iris_client_connect(a) == IRIS_OK, "connect");
	EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_ONLINE, T), "online: %s",
	    iris_client_error(a));
	EXPECT(stat("logins_resumed") == resumed + 1, "not a token login");
	iris_client_disconnect(a);
	EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_OFFLINE, T),
	    "offline after disconnect");
	/* Without its token (expired, say) it signs the challenge. */
	a->tlen = 0;
	EXPECT(iris_client_connect(a) == IRIS_OK, "connect 2");
	EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_ONLINE, T), "online 2");
	EXPECT(stat("logins") == logins + 1, "not a signature login");
	/* A garbled token: refused, then the signature works. */
	a->token[10] ^= 1;
	iris_client_disconnect(a);
	EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_OFFLINE, T), "offline 2");
	EXPECT(iris_client_connect(a) == IRIS_OK, "connect 3");
	EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_ONLINE, T), "online 3");
	EXPECT(stat("logins") == logins + 2, "no fallback to a signature");
	/* By name: resolved on the loop (the hosts file has localhost). */
	{
		struct iris_client_config *cfg;
		struct iris_client *n = NULL;
		struct ct_rec rn;
		char hp[64];

		ct_rec_init(&rn, "alice by name");
		cfg = ct_config(port, fp, "alice", NULL);
		snprintf(hp, sizeof(hp), "localhost:%d", port);
		EXPECT(iris_client_config_set_server(cfg, hp) == IRIS_OK,
		    "server by name");
		EXPECT(iris_client_new(&n, base, store, cfg) == IRIS_OK,
		    "client by name");
		iris_client_config_free(cfg);
		ct_attach(&rn, n);
		iris_client_disconnect(a);	/* one login per account here */
		EXPECT(iris_client_connect(n) == IRIS_OK, "connect by name");
		EXPECT(ct_wait_state(base, &rn, IRIS_CLIENT_ONLINE, T),
		    "online by name: %s", iris_client_error(n));
		iris_client_free(n);
		ct_rec_free(&rn);
		EXPECT(iris_client_connect(a) == IRIS_OK, "connect again");
		EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_ONLINE, T),
		    "online again");
	}
	/* The server going away: the client comes back by itself. */
	{
		int before = ra.onlines;
		uint64_t conns = stat("connections");

		(void)conns;
		iris__conn_drop(a, IRIS_ECLOSED, "test");
		EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_OFFLINE, T),
		    "offline after a drop");
		EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_ONLINE, T) &&
		    ra.onlines == before + 1, "no reconnect");
	}
	iris_client_free(a);
	ct_rec_free(&ra);
}

static void
second_device(void)
{
	struct ct_rec ra, rb;
	struct iris_client *a, *b;
	struct ct_done d = { 0, 0 };
	struct ct_token tk;
	struct devs dv;
	uint8_t key[32];
	uint32_t dev = 0;

	ct_rec_init(&ra, "alice");
	ct_rec_init(&rb, "alice2");
	a = ct_client(base, store, port, fp, "alice", NULL, &ra);
	EXPECT(iris_client_connect(a) == IRIS_OK, "connect");
	EXPECT(ct_wait_state(base, &ra, IRIS_CLIENT_ONLINE, T), "online");
	memset(&tk, 0, sizeof(tk));
	EXPECT(iris_client_link_token(a, ct_token_cb, &tk) == IRIS_OK, "token");
	EXPECT(ct_wait_done(base, &tk.d, T) == IRIS_OK && tk.token[0] != '\0',
	    "link token: %d", tk.d.rc);
	/* Another account of the same store, same user. */
	b = ct_client(base, store, port, fp, "alice", "alice-laptop", &rb);
	EXPECT(b != NULL, "second client");
	EXPECT(iris_client_link(b, tk.token, ct_done_cb, &d) == IRIS_OK,
	    "link");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "link: %d (%s)", d.rc,
	    iris_client_error(b));
	EXPECT(iris_client_user(b, &dev) != NULL && dev == 2, "device %u",
	    dev);
	/* Only the primary signs; it adds the new device by its key. */
	EXPECT(iris_client_link_token(b, ct_token_cb, &tk) == IRIS_EDENIED,
	    "token from a non-primary");
	EXPECT(iris_client_add_device(b, 3, key, ct_done_cb, &d) ==
	    IRIS_EDENIED, "add from a non-primary");
	EXPECT(iris_client_identity(b, key) == IRIS_OK, "identity");
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_add_device(a, dev, key, ct_done_cb, &d) ==
	    IRIS_OK, "add");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "add: %d", d.rc);
	memset(&dv, 0, sizeof(dv));
	EXPECT(iris_client_devices(b, "alice", devices_cb, &dv) == IRIS_OK,
	    "devices");
	EXPECT(ct_wait_done(base, &dv.d, T) == IRIS_OK && dv.version == 2 &&
	    dv.n == 2, "list v%llu with %zu", (unsigned long long)dv.version,
	    dv.n);
	/* A key the server does not know for that device is refused. */
	key[0] ^= 1;
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_add_device(a, 3, key, ct_done_cb, &d) == IRIS_OK,
	    "add unknown");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_EPROTO, "unknown device: %d",
	    d.rc);
	EXPECT(iris_client_remove_device(a, 1, ct_done_cb, &d) == IRIS_EINVAL,
	    "removing the primary");
	/* Revoked: told, offline, and no more reconnecting. */
	{
		struct admin ad = { 0, 0 };
		/* Counted before: the revocation may close b at once. */
		int before = rb.offlines;

		EXPECT(iris_engine_revoke_device(eng, "alice", 2, admin_cb,
		    &ad) == IRIS_OK, "revoke");
		EXPECT(run_until(base, admin_done, &ad, T), "revoked");
		EXPECT(ct_wait_offline(base, &rb, before, T) &&
		    rb.state_err == IRIS_EDENIED, "revoked: state %d err %d",
		    rb.state, rb.state_err);
		before = rb.offlines;
		EXPECT(iris_client_connect(b) == IRIS_OK, "connect revoked");
		EXPECT(ct_wait_offline(base, &rb, before, T) &&
		    rb.state_err == IRIS_EDENIED, "revoked login: %d",
		    rb.state_err);
	}
	iris_client_free(b);
	iris_client_free(a);
	ct_rec_free(&ra);
	ct_rec_free(&rb);
}

static int
freed(void *arg)
{
	return ((struct ct_rec *)arg)->c == NULL;
}

static void
bad_input(void)
{
	struct iris_client_config *cfg;
	struct iris_client_store *other;
	struct iris_client *c;
	struct ct_rec r;
	uint8_t key[32], id[16];
	char wrong[65];

	/* Config: malformed values are refused, with a reason. */
	EXPECT(iris_client_config_new(&cfg) == IRIS_OK, "config");
	EXPECT(iris_client_config_set_pin(cfg, "abc") == IRIS_EINVAL &&
	    strstr(iris_client_config_error(cfg), "64 hex") != NULL,
	    "short pin");
	EXPECT(iris_client_config_set_pin(cfg, "zz" "00000000000000000000000"
	    "000000000000000000000000000000000000000") == IRIS_EINVAL,
	    "non-hex pin");
	EXPECT(iris_client_config_set_user(cfg, "has space") == IRIS_EINVAL,
	    "user with a space");
	EXPECT(iris_client_config_set_user(cfg, "") == IRIS_EINVAL, "empty");
	EXPECT(iris_client_config_set_user(cfg, "a\x01" "b") == IRIS_EINVAL,
	    "control character");
	EXPECT(iris_client_config_set_user(cfg, "\xff\xfe") == IRIS_EINVAL,
	    "not UTF-8");
	EXPECT(iris_client_config_set_server(cfg, "nohost") == IRIS_EINVAL &&
	    iris_client_config_set_server(cfg, "h:0") == IRIS_EINVAL &&
	    iris_client_config_set_server(cfg, "h:99999") == IRIS_EINVAL,
	    "servers");
	EXPECT(iris_client_config_set_backoff(cfg, 0, 10) == IRIS_EINVAL,
	    "backoff");
	/* Incomplete: no server, user or trust. */
	EXPECT(iris_client_new(&c, base, store, cfg) == IRIS_EINVAL &&
	    c == NULL, "incomplete config");
	iris_client_config_free(cfg);
	iris_client_config_free(NULL);
	iris_client_free(NULL);

	/* A valid fingerprint that is not the server's: TLS refused. */
	snprintf(wrong, sizeof(wrong), "%s", fp);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	ct_rec_init(&r, "alice");
	c = ct_client(base, store, port, wrong, "alice", NULL, &r);
	EXPECT(c != NULL, "client with a wrong pin");
	EXPECT(iris_client_connect(c) == IRIS_OK, "connect");
	EXPECT(ct_wait_offline(base, &r, 0, T) && r.state_err == IRIS_ETLS,
	    "wrong pin: state %d err %d", r.state, r.state_err);
	EXPECT(strstr(iris_client_error(c), "pinned") != NULL, "error: %s",
	    iris_client_error(c));
	/* Sends: bad recipients, too big; queued while offline is fine. */
	EXPECT(iris_client_send(c, "bad user", 0, "x", 1, id) == IRIS_EINVAL,
	    "bad recipient");
	EXPECT(iris_client_send(c, "", 0, "x", 1, id) == IRIS_EINVAL, "empty");
	EXPECT(iris_client_send(c, "bob", 0, NULL, IRIS_CLIENT_BODY_MAX + 1,
	    id) == IRIS_EINVAL, "NULL body");
	{
		static char big[IRIS_CLIENT_BODY_MAX + 1];

		EXPECT(iris_client_send(c, "bob", 0, big, sizeof(big), id) ==
		    IRIS_ETOOBIG, "oversized");
	}
	EXPECT(iris_client_typing(c, "bob", 1) == IRIS_ESTATE, "typing off");
	iris_client_free(c);
	ct_rec_free(&r);

	/* Freed inside its own callback. */
	ct_rec_init(&r, "alice");
	c = ct_client(base, store, port, fp, "alice", NULL, &r);
	r.free_when_online = 1;
	EXPECT(iris_client_connect(c) == IRIS_OK, "connect");
	EXPECT(run_until(base, freed, &r, T), "not freed in the callback");
	ct_rec_free(&r);

	/* The store: held by this process, so refused whatever the key. */
	ct_key(key, 9);
	EXPECT(iris_client_store_open(&other, base, "client.db", key, NULL) ==
	    IRIS_EBUSY && other == NULL, "second handle on the store");
}

int
main(void)
{
	struct iris_config *cfg;
	uint8_t key[32];

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "revocation_check", "100ms");
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_auth: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 1);
	if (iris_client_store_open(&store, base, "client.db", key, NULL) !=
	    IRIS_OK) {
		fprintf(stderr, "client_auth: no client store\n");
		return 1;
	}
	registration();
	lost_registration();
	relogin();
	second_device();
	bad_input();
	iris_client_store_close(store);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("client_auth: register, login, resume, devices, bad input: "
	    "ok\n");
	return 0;
}

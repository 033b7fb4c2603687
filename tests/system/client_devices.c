/* SPDX-License-Identifier: ISC */
/*
 * Multi-device through the client library against a real engine on this
 * process's loop: a second device of alice linked with the primary's
 * approval receives (decrypted) what bob sends from then on, and gets
 * copies of what alice sends; once the primary removes it, it receives
 * nothing (while a control message reaches the remaining devices), bob
 * has forgotten his sessions with it, and an envelope it still sends is
 * refused; a forged device list (bad signature) and a rolled-back one
 * (lower version) are refused with IRIS_ECRYPTO and IRIS_ESTALE on every
 * path and change nothing stored; identity events fire once per change
 * with the device and key; a delivery from a user whose list is not
 * known waits for the list and then opens.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_encode.h>
#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "iris_server.h"

#include "client/client.h"
#include "client/seal_e2ee.h"
#include "clienttest.h"
#include "evloop.h"

#define T		15000
#define EVENTS_MAX	32

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static struct iris_client_store *store;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_devices: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

struct idev {
	char		 user[65];
	int		 event;
	uint32_t	 device;
	uint8_t		 key[32];
};

struct dev {
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
	struct idev		 ev[EVENTS_MAX];
	size_t			 nev;
};

static struct dev alice, alice2, bob, carol;

static void
on_identity(struct iris_client *c, const char *user, int event,
    uint32_t device, const uint8_t key[32], void *arg)
{
	struct dev *d = arg;
	struct idev *e;

	(void)c;
	if (d->nev < EVENTS_MAX) {
		e = &d->ev[d->nev];
		snprintf(e->user, sizeof(e->user), "%s", user);
		e->event = event;
		e->device = device;
		memcpy(e->key, key, 32);
	}
	d->nev++;
}

static void
dev_open(struct dev *d, const char *user, const char *account)
{
	snprintf(d->user, sizeof(d->user), "%s", user);
	ct_rec_init(&d->r, account);
	d->c = ct_client(base, store, port, fp, user, account, &d->r);
	if (d->c == NULL) {
		fprintf(stderr, "client_devices: no client %s\n", account);
		exit(1);
	}
	iris_client_set_identity_cb(d->c, on_identity, d);
}

static void
dev_register(struct dev *d, const char *user)
{
	struct ct_done done = { 0, 0 };

	dev_open(d, user, user);
	EXPECT(iris_client_register(d->c, NULL, ct_done_cb, &done) ==
	    IRIS_OK, "register %s", user);
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "register %s: %d %s",
	    user, done.rc, iris_client_error(d->c));
}

struct token {
	struct ct_done	 d;
	char		 token[80];
};

static void
token_cb(struct iris_client *c, int rc, const char *token, uint64_t exp,
    void *arg)
{
	struct token *t = arg;

	(void)c, (void)exp;
	t->d.done = 1;
	t->d.rc = rc;
	if (token != NULL)
		snprintf(t->token, sizeof(t->token), "%s", token);
}

/* A further device: a link token from the primary, then its approval. */
static uint32_t
dev_link(struct dev *d, struct dev *primary, const char *account,
    uint8_t key[32])
{
	struct ct_done done = { 0, 0 };
	struct token tk;
	uint32_t id = 0;

	memset(&tk, 0, sizeof(tk));
	EXPECT(iris_client_link_token(primary->c, token_cb, &tk) == IRIS_OK,
	    "link token");
	EXPECT(ct_wait_done(base, &tk.d, T) == IRIS_OK, "link token");
	dev_open(d, primary->user, account);
	EXPECT(iris_client_link(d->c, tk.token, ct_done_cb, &done) == IRIS_OK,
	    "link");
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "link %s", account);
	iris_client_user(d->c, &id);
	iris_client_identity(d->c, key);
	memset(&done, 0, sizeof(done));
	EXPECT(iris_client_add_device(primary->c, id, key, ct_done_cb,
	    &done) == IRIS_OK, "add");
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "add %s", account);
	return id;
}

static void
send1(struct dev *from, const char *to, const char *body)
{
	uint8_t id[16];

	EXPECT(iris_client_send(from->c, to, 7, body, strlen(body), id) ==
	    IRIS_OK, "send %s: %s", body, iris_client_error(from->c));
}

struct got_want {
	struct ct_rec	*r;
	const char	*body;
};

static int
has_body(const struct ct_rec *r, const char *body)
{
	size_t i;

	for (i = 0; i < r->nmsgs && i < CT_MSGS; i++)
		if (strcmp(r->msgs[i].body, body) == 0)
			return 1;
	return 0;
}

static int
got_it(void *arg)
{
	struct got_want *w = arg;

	return has_body(w->r, w->body);
}

static int
wait_body(struct dev *d, const char *body)
{
	struct got_want w = { &d->r, body };

	return run_until(base, got_it, &w, T);
}

/* How many events of kind for (user, device) d has seen; key checked. */
static int
events(const struct dev *d, const char *user, int event, uint32_t device,
    const uint8_t *key)
{
	size_t i;
	int n = 0;

	for (i = 0; i < d->nev && i < EVENTS_MAX; i++)
		if (strcmp(d->ev[i].user, user) == 0 &&
		    d->ev[i].event == event && d->ev[i].device == device &&
		    (key == NULL || memcmp(d->ev[i].key, key, 32) == 0))
			n++;
	return n;
}

struct ev_want {
	struct dev	*d;
	size_t		 n;
};

static int
has_events(void *arg)
{
	struct ev_want *w = arg;

	return w->d->nev >= w->n;
}

/* The session record of d with (user, device): IRIS_OK or not found. */
static int
session_of(struct dev *d, const char *user, uint32_t device)
{
	uint8_t name[80];
	size_t ulen = strlen(user);
	struct iris_buf b;
	int rc;

	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, user, ulen);
	iris__e2ee_put32(name + 2 + ulen, device);
	iris__buf_init(&b, 0);
	rc = iris__seal_state_get(d->c, name, 2 + ulen + 4, &b);
	iris__buf_free(&b);
	return rc;
}

/* The list record of user that d's store holds. */
static int
stored_list(struct dev *d, const char *user, struct iris_buf *out)
{
	uint8_t tag[IRIS_CS_TAG_LEN];

	iris__buf_reset(out);
	iris__cs_tag(d->c->cs, CS_D_USER, user, strlen(user), tag);
	return iris__cs_devlist_get(d->c->cs, d->c->acct, tag, out);
}

/* A signed list of user at version naming devices, signed with sk. */
static void
make_list(iris_v1_SignedDeviceList *sl, const char *user, uint64_t version,
    const uint32_t *ids, const uint8_t (*keys)[32], size_t n,
    const uint8_t sk[64])
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[sizeof(IRIS__DEVLIST_PREFIX) - 1 + 4096];
	pb_ostream_t os;
	size_t i, plen = sizeof(IRIS__DEVLIST_PREFIX) - 1;

	memset(sl, 0, sizeof(*sl));
	dl.user.size = (pb_size_t)strlen(user);
	memcpy(dl.user.bytes, user, dl.user.size);
	dl.version = version;
	for (i = 0; i < n; i++) {
		dl.devices[i].device_id = ids[i];
		memcpy(dl.devices[i].identity_key, keys[i], 32);
	}
	dl.devices_count = (pb_size_t)n;
	os = pb_ostream_from_buffer(sl->list.bytes, sizeof(sl->list.bytes));
	EXPECT(pb_encode(&os, iris_v1_DeviceList_fields, &dl), "encode");
	sl->list.size = (pb_size_t)os.bytes_written;
	memcpy(msg, IRIS__DEVLIST_PREFIX, plen);
	memcpy(msg + plen, sl->list.bytes, sl->list.size);
	crypto_sign_detached(sl->signature, NULL, msg, plen + sl->list.size,
	    sk);
}

struct err_want {
	struct ct_rec	*r;
	size_t		 n;
};

static int
has_errors(void *arg)
{
	struct err_want *w = arg;

	return w->r->errors >= w->n;
}

/* At bob: a forged list of alice and a rolled-back one, every path. */
static void
refused_lists(void)
{
	const char *want[] = { "alice", NULL };
	iris_v1_SignedDeviceList sl;
	struct iris_buf before, after;
	struct devlist *l, *known;
	uint8_t pk[32], sk[64], keys[2][32];
	uint32_t ids[2] = { 1, 2 };
	char user[65];
	uint64_t version;
	size_t nev = bob.nev;
	struct err_want ew = { &bob.r, bob.r.errors + 5 };
	int changed;

	iris__buf_init(&before, 0);
	iris__buf_init(&after, 0);
	known = iris__devlist_find(bob.c, "alice");
	EXPECT(known != NULL && stored_list(&bob, "alice", &before) ==
	    IRIS_OK, "bob's list of alice");
	if (known == NULL)
		return;
	version = known->version;
	memcpy(keys[0], known->primary, 32);
	randombytes_buf(keys[1], 32);
	/* Forged: a higher version signed by a key that is not alice's
	 * primary; then the right signer over other bytes. */
	crypto_sign_keypair(pk, sk);
	make_list(&sl, "alice", version + 10, ids, (const uint8_t (*)[32])keys,
	    2, sk);
	EXPECT(iris__devlist_accept(bob.c, "alice", &sl, &l, &changed) ==
	    IRIS_ECRYPTO, "a forged list accepted");
	EXPECT(iris__devlist_accept_any(bob.c, &sl, want, user) ==
	    IRIS_ECRYPTO, "a forged list accepted from a stale refusal");
	make_list(&sl, "alice", version + 10, ids, (const uint8_t (*)[32])keys,
	    2, alice.c->sk);
	sl.list.bytes[sl.list.size - 1] ^= 0x01;
	EXPECT(iris__devlist_accept(bob.c, "alice", &sl, &l, &changed) ==
	    IRIS_ECRYPTO, "a list with a changed byte accepted");
	/* Rolled back: properly signed by alice's primary, lower version. */
	make_list(&sl, "alice", version - 1, ids, (const uint8_t (*)[32])keys,
	    1, alice.c->sk);
	EXPECT(iris__devlist_accept(bob.c, "alice", &sl, &l, &changed) ==
	    IRIS_ESTALE, "a rolled-back list accepted");
	EXPECT(iris__devlist_accept_any(bob.c, &sl, want, user) ==
	    IRIS_ESTALE, "a rolled-back list from a stale refusal");
	/* Nothing changed: memory, store, events. */
	known = iris__devlist_find(bob.c, "alice");
	EXPECT(known != NULL && known->version == version, "version moved");
	EXPECT(stored_list(&bob, "alice", &after) == IRIS_OK &&
	    after.len == before.len && memcmp(after.p, before.p,
	    before.len) == 0, "the stored list changed");
	/* Each refusal is reported to the embedder, nothing else is. */
	EXPECT(run_until(base, has_errors, &ew, T) && bob.r.last_error ==
	    IRIS_ESTALE, "the refusals reported: %zu, %d", bob.r.errors,
	    bob.r.last_error);
	EXPECT(bob.nev == nev, "events for a refused list: %zu",
	    bob.nev - nev);
	iris__buf_free(&before);
	iris__buf_free(&after);
}

int
main(void)
{
	struct iris_config *cfg;
	struct ev_want ew;
	uint8_t key[32], key2[32];
	uint32_t seed, dev2;
	size_t had2, bob_had, errs;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = getenv("IRIS_TEST_SEED") != NULL ?
	    (uint32_t)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10) :
	    (uint32_t)time(NULL);
	printf("client_devices: IRIS_TEST_SEED=%u\n", seed);
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_devices: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 5);
	if (iris_client_store_open(&store, base, "client.db", key, NULL) !=
	    IRIS_OK)
		return 1;
	dev_register(&alice, "alice");
	dev_register(&bob, "bob");
	/* Before any link: bob learns alice's one-device list. */
	send1(&bob, "alice", "first");
	EXPECT(wait_body(&alice, "first"), "alice got the first");
	EXPECT(alice.nev == 0 && bob.nev == 0, "events on first sight: %zu "
	    "%zu", alice.nev, bob.nev);

	/* Link: the new device gets what bob sends from then on. */
	dev2 = dev_link(&alice2, &alice, "alice-2", key2);
	EXPECT(events(&alice, "alice", IRIS_CLIENT_DEVICE_ADDED, dev2,
	    key2) == 1 && alice.nev == 1, "alice's add event: %zu",
	    alice.nev);
	send1(&bob, "alice", "after link");
	EXPECT(wait_body(&alice2, "after link") && wait_body(&alice,
	    "after link"), "both alice devices got the message after the "
	    "link: %zu %zu", alice2.r.nmsgs, alice.r.nmsgs);
	EXPECT(!has_body(&alice2.r, "first"), "the new device got an "
	    "earlier message");
	ew.d = &bob;
	ew.n = 1;
	EXPECT(run_until(base, has_events, &ew, T) && events(&bob, "alice",
	    IRIS_CLIENT_DEVICE_ADDED, dev2, key2) == 1 && bob.nev == 1,
	    "bob's add event: %zu", bob.nev);
	/* Copies: alice's other device sees what alice sends. */
	send1(&alice, "bob", "from alice");
	EXPECT(wait_body(&bob, "from alice") && wait_body(&alice2,
	    "from alice"), "bob and alice-2 got alice's message");
	send1(&alice2, "bob", "from alice-2");
	EXPECT(wait_body(&bob, "from alice-2") && wait_body(&alice,
	    "from alice-2"), "bob and alice got alice-2's message");
	EXPECT(session_of(&bob, "alice", dev2) == IRIS_OK, "bob's session "
	    "with alice-2");

	refused_lists();

	/* Unlink: the removed device receives nothing after it. */
	{
		struct ct_done done = { 0, 0 };

		EXPECT(iris_client_remove_device(alice.c, dev2, ct_done_cb,
		    &done) == IRIS_OK, "remove");
		EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "remove: %d",
		    done.rc);
	}
	EXPECT(events(&alice, "alice", IRIS_CLIENT_DEVICE_REMOVED, dev2,
	    key2) == 1, "alice's remove event");
	had2 = alice2.r.nmsgs;
	send1(&bob, "alice", "after unlink");
	send1(&alice, "bob", "alice after unlink");
	EXPECT(wait_body(&alice, "after unlink") && wait_body(&bob,
	    "alice after unlink"), "the control messages arrived");
	ew.n = 2;
	EXPECT(run_until(base, has_events, &ew, T) && events(&bob, "alice",
	    IRIS_CLIENT_DEVICE_REMOVED, dev2, key2) == 1 && bob.nev == 2,
	    "bob's remove event: %zu", bob.nev);
	EXPECT(session_of(&bob, "alice", dev2) == IRIS_ENOTFOUND,
	    "bob kept his session with the removed device");
	/* A message alice-2 still sends is refused by bob (reported). */
	bob_had = bob.r.nmsgs;
	errs = bob.r.errors;
	{
		struct err_want w = { &bob.r, errs + 1 };

		send1(&alice2, "bob", "from removed");
		EXPECT(run_until(base, has_errors, &w, T), "bob's refusal");
	}
	send1(&alice, "bob", "control 2");
	EXPECT(wait_body(&bob, "control 2"), "bob got the second control");
	EXPECT(!has_body(&bob.r, "from removed") && bob.r.errors > errs,
	    "bob took a message from the removed device (%zu new, %zu "
	    "errors)", bob.r.nmsgs - bob_had, bob.r.errors - errs);
	EXPECT(alice2.r.nmsgs == had2, "the removed device got %zu",
	    alice2.r.nmsgs - had2);

	/* A first message from a user whose list carol does not have. */
	dev_register(&carol, "carol");
	EXPECT(iris__devlist_find(carol.c, "bob") == NULL, "carol knows bob");
	send1(&bob, "carol", "to carol");
	EXPECT(wait_body(&carol, "to carol"), "carol got bob's first");
	EXPECT(iris__devlist_find(carol.c, "bob") != NULL, "carol fetched "
	    "bob's list");
	EXPECT(carol.nev == 0, "carol's events %zu", carol.nev);

	iris_client_free(alice.c);
	iris_client_free(alice2.c);
	iris_client_free(bob.c);
	iris_client_free(carol.c);
	ct_rec_free(&alice.r);
	ct_rec_free(&alice2.r);
	ct_rec_free(&bob.r);
	ct_rec_free(&carol.r);
	iris_client_store_close(store);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("client_devices: link, copies, unlink (removed device gets "
	    "nothing, its sessions gone), forged and rolled-back lists "
	    "refused, identity events once each, list fetched before "
	    "opening: ok\n");
	return 0;
}

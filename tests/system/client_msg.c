/* SPDX-License-Identifier: ISC */
/*
 * Messaging through the client library against a real engine on this
 * process's loop, over TLS on loopback: A sends to B (in order, once,
 * queued then acked, copies on A's other device, delivery receipts back);
 * sends made offline are in the store and go out after the client object
 * is made again; a stale device set is corrected (B's new device gets the
 * next message); a flood beyond the server's rate limit still arrives in
 * order; typing, presence with privacy and contacts; and freeing a client
 * inside its message callback, after which the message comes again.
 * The rate limits used are printed.
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

#define T		15000
#define RATE		"50"
#define BURST		"20"

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static struct iris_client_store *store;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_msg: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

/* A user's device: its client and what it saw. */
struct dev {
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
	char			 account[65];
};

static void
dev_open(struct dev *d, const char *user, const char *account)
{
	snprintf(d->user, sizeof(d->user), "%s", user);
	snprintf(d->account, sizeof(d->account), "%s", account);
	ct_rec_init(&d->r, account);
	d->c = ct_client(base, store, port, fp, user, account, &d->r);
	EXPECT(d->c != NULL, "client %s", account);
}

static void
dev_close(struct dev *d)
{
	iris_client_free(d->c);
	d->c = NULL;
	ct_rec_free(&d->r);
}

/* Frees the object and makes it again from the store, online. */
static void
dev_restart(struct dev *d)
{
	iris_client_free(d->c);
	ct_rec_free(&d->r);
	ct_rec_init(&d->r, d->account);
	d->c = ct_client(base, store, port, fp, d->user, d->account, &d->r);
	EXPECT(d->c != NULL && iris_client_connect(d->c) == IRIS_OK,
	    "restart %s", d->account);
	EXPECT(ct_wait_state(base, &d->r, IRIS_CLIENT_ONLINE, T),
	    "%s online: %s", d->account, iris_client_error(d->c));
}

static void
dev_register(struct dev *d)
{
	struct ct_done done = { 0, 0 };

	EXPECT(iris_client_register(d->c, NULL, ct_done_cb, &done) ==
	    IRIS_OK, "register %s", d->account);
	EXPECT(ct_wait_done(base, &done, T) == IRIS_OK, "register %s: %d %s",
	    d->account, done.rc, iris_client_error(d->c));
}

/* A further device of primary's user, linked and listed. */
static void
dev_link(struct dev *d, struct dev *primary, const char *account)
{
	struct ct_done done = { 0, 0 };
	struct ct_token tk;
	uint8_t key[32];
	uint32_t id;

	memset(&tk, 0, sizeof(tk));
	EXPECT(iris_client_link_token(primary->c, ct_token_cb, &tk) == IRIS_OK,
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
}

static void
send_n(struct dev *from, const char *to, int n, const char *tag)
{
	uint8_t id[16];
	char body[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "%s %d", tag, i);
		EXPECT(iris_client_send(from->c, to, 7, body, strlen(body),
		    id) == IRIS_OK, "send %s: %s", body,
		    iris_client_error(from->c));
	}
}

/* The messages of r from first on are tag 0 .. tag n-1, in order. */
static int
in_order(const struct ct_rec *r, size_t first, int n, const char *tag,
    const char *from, const char *to)
{
	char want[64];
	int i;

	if (r->nmsgs < first + (size_t)n)
		return 0;
	for (i = 0; i < n; i++) {
		const struct ct_msg *m = &r->msgs[first + (size_t)i];

		snprintf(want, sizeof(want), "%s %d", tag, i);
		if (strcmp(m->body, want) != 0 ||
		    strcmp(m->sender, from) != 0 ||
		    strcmp(m->recipient, to) != 0 || m->type != 7) {
			fprintf(stderr, "message %zu: \"%s\" from %s to %s, "
			    "want \"%s\"\n", first + (size_t)i, m->body,
			    m->sender, m->recipient, want);
			return 0;
		}
	}
	return 1;
}

static struct dev alice, alice2, bob, bob2;

static int
receipts20(void *arg)
{
	return ((struct ct_rec *)arg)->receipts >= 20;
}

static void
basic(void)
{
	dev_open(&alice, "alice", "alice");
	dev_open(&bob, "bob", "bob");
	dev_register(&alice);
	dev_register(&bob);
	dev_link(&alice2, &alice, "alice-2");
	send_n(&alice, "bob", 20, "hello");
	EXPECT(ct_wait_msgs(base, &bob.r, 20, T), "bob got %zu of 20",
	    bob.r.nmsgs);
	EXPECT(ct_wait_acked(base, &alice.r, 20, T), "alice acked %zu",
	    alice.r.acked);
	EXPECT(in_order(&bob.r, 0, 20, "hello", "alice", "bob"), "bob order");
	EXPECT(alice.r.queued == 20, "queued %zu", alice.r.queued);
	/* Alice's other device gets a copy of what she sent. */
	EXPECT(ct_wait_msgs(base, &alice2.r, 20, T) &&
	    in_order(&alice2.r, 0, 20, "hello", "alice", "bob"),
	    "alice-2 copies %zu", alice2.r.nmsgs);
	EXPECT(iris_client_outbox(alice.c) == 0, "outbox %zu",
	    iris_client_outbox(alice.c));
	/* Bob's acks make delivery receipts for alice. */
	EXPECT(run_until(base, receipts20, &alice.r, T) &&
	    strcmp(alice.r.receipt_user, "bob") == 0, "receipts %zu",
	    alice.r.receipts);
	EXPECT(memcmp(alice.r.receipt_id, bob.r.msgs[19].id, 16) == 0,
	    "the last receipt names the last message");
	/* Nothing twice, even after bob comes back. */
	dev_restart(&bob);
	send_n(&alice, "bob", 1, "after");
	EXPECT(ct_wait_msgs(base, &bob.r, 1, T) && bob.r.nmsgs == 1 &&
	    in_order(&bob.r, 0, 1, "after", "alice", "bob"),
	    "bob after restart: %zu", bob.r.nmsgs);
}

static int
never(void *arg)
{
	(void)arg;
	return 0;
}

static int
queued5(void *arg)
{
	return ((struct ct_rec *)arg)->queued >= 5;
}

/* Sends made offline are durable; a new client object sends them. */
static void
offline_outbox(void)
{
	size_t had = bob.r.nmsgs;

	iris_client_disconnect(alice.c);
	EXPECT(ct_wait_state(base, &alice.r, IRIS_CLIENT_OFFLINE, T),
	    "alice offline");
	alice.r.queued = 0;
	send_n(&alice, "bob", 5, "offline");
	EXPECT(run_until(base, queued5, &alice.r, T), "queued %zu",
	    alice.r.queued);
	EXPECT(iris_client_outbox(alice.c) == 5, "outbox %zu",
	    iris_client_outbox(alice.c));
	dev_restart(&alice);
	EXPECT(iris_client_outbox(alice.c) == 5 || alice.r.acked > 0,
	    "outbox after restart %zu", iris_client_outbox(alice.c));
	EXPECT(ct_wait_acked(base, &alice.r, 5, T), "acked %zu",
	    alice.r.acked);
	EXPECT(ct_wait_msgs(base, &bob.r, had + 5, T) &&
	    in_order(&bob.r, had, 5, "offline", "alice", "bob"),
	    "bob got %zu", bob.r.nmsgs - had);
}

/* Bob gets a device alice does not know of: her send is refused as
 * stale, she takes the list the refusal carries and sends again. */
static void
stale(void)
{
	size_t had = bob.r.nmsgs;

	dev_link(&bob2, &bob, "bob-2");
	send_n(&alice, "bob", 1, "stale");
	EXPECT(ct_wait_msgs(base, &bob2.r, 1, T) &&
	    in_order(&bob2.r, 0, 1, "stale", "alice", "bob"),
	    "bob-2 got %zu", bob2.r.nmsgs);
	EXPECT(ct_wait_msgs(base, &bob.r, had + 1, T) &&
	    in_order(&bob.r, had, 1, "stale", "alice", "bob"),
	    "bob got %zu", bob.r.nmsgs - had);
	run_until(base, never, NULL, 200);
	EXPECT(bob.r.nmsgs == had + 1, "bob got it %zu times",
	    bob.r.nmsgs - had);
}

/* Past the server's rate: refused, resent in order, all arrive once. */
static void
flood(int paced)
{
	size_t had = bob2.r.nmsgs;
	size_t acked = alice.r.acked;
	const char *tag = paced ? "paced" : "flood";

	alice.c->ob_have_bucket = paced;
	send_n(&alice, "bob", 60, tag);
	EXPECT(ct_wait_acked(base, &alice.r, acked + 60, T), "%s acked %zu",
	    tag, alice.r.acked - acked);
	EXPECT(ct_wait_msgs(base, &bob2.r, had + 60, T) &&
	    in_order(&bob2.r, had, 60, tag, "alice", "bob"),
	    "%s: bob-2 got %zu", tag, bob2.r.nmsgs - had);
}

static int
typing_on(void *arg)
{
	return ((struct ct_rec *)arg)->typing == 1;
}

struct pres_want {
	struct ct_rec	*r;
	size_t		 after;
	int		 hidden;
};

static int
presence_seen(void *arg)
{
	struct pres_want *w = arg;

	return w->r->presences > w->after &&
	    w->r->presence_hidden == w->hidden;
}

struct contacts {
	struct ct_done	 d;
	size_t		 n;
	char		 first[65];
};

static void
contacts_cb(struct iris_client *c, int rc, const char *const *users,
    size_t n, void *arg)
{
	struct contacts *x = arg;

	(void)c;
	x->d.done = 1;
	x->d.rc = rc;
	x->n = n;
	if (n > 0)
		snprintf(x->first, sizeof(x->first), "%s", users[0]);
}

static void
resubscribe(struct pres_want *w, int hidden)
{
	const char *who[] = { "alice" };

	w->after = bob.r.presences;
	w->hidden = hidden;
	EXPECT(iris_client_unsubscribe(bob.c, who, 1) == IRIS_OK, "unsub");
	EXPECT(iris_client_subscribe(bob.c, who, 1) == IRIS_OK, "sub");
	EXPECT(run_until(base, presence_seen, w, T), "presence hidden=%d: "
	    "saw %zu, hidden %d", hidden, bob.r.presences - w->after,
	    bob.r.presence_hidden);
}

static void
social(void)
{
	const char *who[] = { "alice" }, *bobs[] = { "bob" };
	struct pres_want w = { &bob.r, 0, 0 };
	struct ct_done d = { 0, 0 };
	struct contacts cl;
	int i, seen = 0;

	/* Best effort (the flood may have used the rate up): try again. */
	for (i = 0; i < 20 && !seen; i++) {
		EXPECT(iris_client_typing(alice.c, "bob", 1) == IRIS_OK,
		    "typing");
		seen = run_until(base, typing_on, &bob.r, 500);
	}
	EXPECT(seen, "no typing seen");
	/* Presence by subscription; everyone may see it by default. */
	w.after = bob.r.presences;
	EXPECT(iris_client_subscribe(bob.c, who, 1) == IRIS_OK, "subscribe");
	EXPECT(run_until(base, presence_seen, &w, T) &&
	    strcmp(bob.r.presence_user, "alice") == 0 &&
	    bob.r.presence_online, "presence of alice");
	/* Nobody: hidden. */
	EXPECT(iris_client_set_privacy(alice.c, IRIS_PRIVACY_NOBODY, 1,
	    ct_done_cb, &d) == IRIS_OK, "privacy");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "privacy: %d", d.rc);
	resubscribe(&w, 1);
	/* Contacts: hidden until bob is one of alice's contacts. */
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_set_privacy(alice.c, IRIS_PRIVACY_CONTACTS, 1,
	    ct_done_cb, &d) == IRIS_OK, "privacy");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "privacy: %d", d.rc);
	resubscribe(&w, 1);
	memset(&d, 0, sizeof(d));
	EXPECT(iris_client_contacts_edit(alice.c, bobs, 1, NULL, 0,
	    ct_done_cb, &d) == IRIS_OK, "contacts edit");
	EXPECT(ct_wait_done(base, &d, T) == IRIS_OK, "edit: %d", d.rc);
	memset(&cl, 0, sizeof(cl));
	EXPECT(iris_client_contacts(alice.c, contacts_cb, &cl) == IRIS_OK,
	    "contacts");
	EXPECT(ct_wait_done(base, &cl.d, T) == IRIS_OK && cl.n == 1 &&
	    strcmp(cl.first, "bob") == 0, "contacts: %d n %zu", cl.d.rc,
	    cl.n);
	resubscribe(&w, 0);
	EXPECT(bob.r.presence_online, "alice online to a contact");
	/* Bad input. */
	EXPECT(iris_client_contacts_edit(alice.c, who, 0, NULL, 0, NULL,
	    NULL) == IRIS_EINVAL, "empty edit");
	{
		const char *bad[] = { "no spaces" };

		EXPECT(iris_client_subscribe(bob.c, bad, 1) == IRIS_EINVAL,
		    "bad subscription");
		EXPECT(iris_client_contacts_edit(alice.c, bad, 1, NULL, 0,
		    NULL, NULL) == IRIS_EINVAL, "bad contact");
	}
	EXPECT(iris_client_set_privacy(alice.c, 7, 1, NULL, NULL) ==
	    IRIS_EINVAL, "bad privacy");
}

static int
bob_freed(void *arg)
{
	return ((struct ct_rec *)arg)->c == NULL;
}

/* Freed inside the message callback: not recorded, so it comes again. */
static void
free_in_callback(void)
{
	bob.r.free_in_message = 1;
	send_n(&alice, "bob", 1, "freed");
	EXPECT(run_until(base, bob_freed, &bob.r, T), "bob not freed");
	bob.c = NULL;
	ct_rec_free(&bob.r);
	ct_rec_init(&bob.r, "bob");
	bob.c = ct_client(base, store, port, fp, "bob", "bob", &bob.r);
	EXPECT(bob.c != NULL && iris_client_connect(bob.c) == IRIS_OK,
	    "bob again");
	EXPECT(ct_wait_msgs(base, &bob.r, 1, T) &&
	    in_order(&bob.r, 0, 1, "freed", "alice", "bob"),
	    "the message after the free: %zu", bob.r.nmsgs);
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
	iris_config_set(cfg, "registration", "open");
	iris_config_set(cfg, "send_rate", RATE);
	iris_config_set(cfg, "send_burst", BURST);
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "client_msg: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	printf("client_msg: send_rate %s/s, send_burst %s\n", RATE, BURST);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	ct_key(key, 2);
	if (iris_client_store_open(&store, base, "client.db", key, NULL) !=
	    IRIS_OK) {
		fprintf(stderr, "client_msg: no client store\n");
		return 1;
	}
	basic();
	offline_outbox();
	stale();
	flood(0);
	flood(1);
	social();
	free_in_callback();
	dev_close(&alice);
	dev_close(&alice2);
	dev_close(&bob);
	dev_close(&bob2);
	iris_client_store_close(store);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("client_msg: send, receive, copies, receipts, offline outbox, "
	    "stale devices, floods, typing, presence: ok\n");
	return 0;
}

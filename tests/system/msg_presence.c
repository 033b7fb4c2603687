/* SPDX-License-Identifier: ISC */
/*
 * What travels besides messages, against a real engine on this loop:
 * delivery receipts (made when the recipient acks, unless it turned them
 * off), presence by subscription (a peer seen online within 2 s; privacy
 * everyone, contacts and nobody honoured, the contact list edited and
 * read), typing indicators relayed to online devices only and never
 * stored (the SQLite files are searched for them), and shedding under
 * injected overload: typing first, then presence (held back and told
 * later), then receipts, while every message still arrives.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "iris.h"
#include "iris_server.h"
#include "iris_store.h"
#include "core/core.h"
#include "engine/engine.h"

#include "msgclient.h"

#define T	5000

static int failures;
static char *logged;
static size_t nlogged;
static struct event_base *base;
static struct iris_engine *eng;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "msg_presence: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Syncs to the end, so that pushes follow. */
static void
go_live(struct ac_conn *c)
{
	struct iris_wire_msg m, *r;
	uint64_t after = 0;

	for (;;) {
		mc_sync(&m, 70, after, 0);
		if (ac_ask(c, &m, &r) != 0) {
			EXPECT(0, "sync");
			return;
		}
		if (r->nitems > 0)
			after = r->items[r->nitems - 1].pb.seq;
		if (!r->f.body.sync_page.more)
			return;
	}
}

/* The next frame that is not an answer to a ping. */
static struct iris_wire_msg *
next_push(struct ac_conn *c, unsigned ms)
{
	struct iris_wire_msg *r;

	while ((r = wc_next(&c->w, ms)) != NULL)
		if (r->f.which_body != iris_v1_Frame_pong_tag)
			return r;
	return NULL;
}

/* Nothing is pushed to c before the answer to a ping (a barrier). */
static int
quiet(struct ac_conn *c)
{
	struct iris_wire_msg m, *r;

	wc_ping(&m, 900, "barrier");
	wc_send(&c->w, &m);
	r = wc_next(&c->w, T);
	return r != NULL && r->f.which_body == iris_v1_Frame_pong_tag;
}

static int
send_text(struct mc_user *a, struct mc_user *b, const char *text,
    int msg_class, int transient, uint64_t *msg_id, uint32_t *count)
{
	struct iris_wire_msg m, *r;
	uint8_t cmid[16];
	int rc;

	iris_uuid_v7(cmid);
	mc_send(&m, 7, cmid, msg_class, transient);
	mc_env_all(&m, &b, 1, NULL, -1, text, strlen(text));
	rc = ac_ask(&a->c[0], &m, &r);
	mc_free(&m);
	if (rc == 0 && msg_id != NULL)
		*msg_id = r->f.body.send_ack.msg_id;
	if (rc == 0 && count != NULL)
		*count = r->f.body.send_ack.envelopes;
	return rc;
}

static int
settings(struct mc_user *u, int privacy, int receipts)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.request_id = 80;
	m.f.which_body = iris_v1_Frame_presence_settings_tag;
	m.f.body.presence_settings.privacy = (iris_v1_Privacy)privacy;
	m.f.body.presence_settings.receipts = receipts != 0;
	return ac_ask(&u->c[0], &m, NULL);
}

/* B acks a message from A: A is told, with the message's id. */
static void
receipts(struct mc_user *a, struct mc_user *b)
{
	struct iris_wire_msg m, *r;
	uint64_t id = 0, id2 = 0, seq;
	uint64_t made = 0;

	go_live(&a->c[0]);
	go_live(&b->c[0]);
	EXPECT(send_text(a, b, "hello", IRIS_CLASS_MESSAGE, 0, &id, NULL) == 0,
	    "send");
	r = next_push(&b->c[0], T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_deliver_tag,
	    "B got nothing");
	seq = r != NULL ? r->f.body.deliver.seq : 0;
	mc_ack(&m, 0, seq);
	wc_send(&b->c[0].w, &m);
	r = next_push(&a->c[0], T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_deliver_tag &&
	    r->f.body.deliver.has_receipt &&
	    r->f.body.deliver.receipt.msg_id == id &&
	    r->f.body.deliver.receipt.device_id == 1 &&
	    r->f.body.deliver.receipt.user.size == 3 &&
	    memcmp(r->f.body.deliver.receipt.user.bytes, "bob", 3) == 0,
	    "A got no delivery receipt for its message");
	if (r != NULL) {
		/* Acking a receipt makes none. */
		mc_ack(&m, 81, r->f.body.deliver.seq);
		EXPECT(ac_ask(&a->c[0], &m, NULL) == 0, "A acks the receipt");
	}
	/* With receipts off, B's acks make none. */
	EXPECT(settings(b, 0, 0) == 0, "receipts off");
	EXPECT(send_text(a, b, "again", IRIS_CLASS_MESSAGE, 0, &id2, NULL) ==
	    0, "send 2");
	r = next_push(&b->c[0], T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_deliver_tag,
	    "B got nothing the second time");
	mc_ack(&m, 82, r != NULL ? r->f.body.deliver.seq : 0);
	EXPECT(ac_ask(&b->c[0], &m, NULL) == 0, "B acks");
	EXPECT(quiet(&a->c[0]), "a receipt though B turned them off");
	EXPECT(quiet(&b->c[0]), "B: a receipt of a receipt");
	iris_engine_stat(eng, "receipts", &made);
	EXPECT(made == 1, "%llu receipts made", (unsigned long long)made);
	EXPECT(settings(b, 0, 1) == 0, "receipts on");
	printf("msg_presence: a delivery receipt when the recipient acks, "
	    "none when it turned them off\n");
}

static void
presence_msg(struct iris_wire_msg *m, uint64_t rid, int unsub,
    const char *user)
{
	iris_v1_PresenceSubscribe *p;

	iris__wire_msg_init(m);
	m->f.request_id = rid;
	m->f.which_body = unsub ? iris_v1_Frame_presence_unsubscribe_tag :
	    iris_v1_Frame_presence_subscribe_tag;
	p = &m->f.body.presence_subscribe;
	p->users_count = 1;
	p->users[0].size = (pb_size_t)strlen(user);
	memcpy(p->users[0].bytes, user, p->users[0].size);
}

/* Subscribes c to user: online, hidden as the answer says. */
static int
watch(struct ac_conn *c, const char *user, int *online, int *hidden)
{
	struct iris_wire_msg m, *r;
	int rc;

	presence_msg(&m, 90, 0, user);
	if ((rc = ac_ask(c, &m, &r)) != 0)
		return rc;
	if (r->f.which_body != iris_v1_Frame_presence_update_tag ||
	    r->f.body.presence_update.items_count != 1)
		return -1;
	*online = r->f.body.presence_update.items[0].online;
	*hidden = r->f.body.presence_update.items[0].hidden;
	return 0;
}

/* The next presence push to c: 1 online, 0 offline, -1 hidden/none. */
static int
pushed(struct ac_conn *c, const char *user, uint64_t *last_seen)
{
	struct iris_wire_msg *r = next_push(c, T);
	const iris_v1_Presence *it;

	if (r == NULL || r->f.which_body !=
	    iris_v1_Frame_presence_update_tag ||
	    r->f.body.presence_update.items_count != 1)
		return -2;
	it = &r->f.body.presence_update.items[0];
	if (it->user.size != strlen(user) ||
	    memcmp(it->user.bytes, user, it->user.size) != 0)
		return -2;
	if (last_seen != NULL)
		*last_seen = it->last_seen_ms;
	return it->hidden ? -1 : it->online;
}

static int
contacts_edit(struct mc_user *u, const char *add, const char *del)
{
	struct iris_wire_msg m;
	iris_v1_ContactsEdit *e;

	iris__wire_msg_init(&m);
	m.f.request_id = 91;
	m.f.which_body = iris_v1_Frame_contacts_edit_tag;
	e = &m.f.body.contacts_edit;
	if (add != NULL) {
		e->add_count = 1;
		e->add[0].size = (pb_size_t)strlen(add);
		memcpy(e->add[0].bytes, add, e->add[0].size);
	}
	if (del != NULL) {
		e->remove_count = 1;
		e->remove[0].size = (pb_size_t)strlen(del);
		memcpy(e->remove[0].bytes, del, e->remove[0].size);
	}
	return ac_ask(&u->c[0], &m, NULL);
}

static void
presence(struct mc_user *a, struct mc_user *c, struct mc_user *d)
{
	struct iris_wire_msg m, *r;
	int online = -1, hidden = -1;
	uint64_t t0, seen = 0;

	EXPECT(watch(&c->c[0], "alice", &online, &hidden) == 0 && online &&
	    !hidden, "C watching A: online %d hidden %d", online, hidden);
	EXPECT(watch(&c->c[0], "nobody-at-all", &online, &hidden) == 0 &&
	    hidden, "an unknown user looks hidden");
	wc_close(&a->c[0].w);
	EXPECT(pushed(&c->c[0], "alice", &seen) == 0 && seen > 0,
	    "C not told that A went");
	t0 = now_ms();
	EXPECT(mc_relogin(a, 0, base, port, fp) == 0, "A back");
	EXPECT(pushed(&c->c[0], "alice", NULL) == 1, "C not told A came");
	EXPECT(now_ms() - t0 < 2000, "A seen online after %llu ms",
	    (unsigned long long)(now_ms() - t0));
	printf("msg_presence: a watcher saw A come online %llu ms after its "
	    "login began\n", (unsigned long long)(now_ms() - t0));
	/* Contacts only: C is not one, so A is hidden from C now. */
	EXPECT(settings(a, iris_v1_Privacy_PRIVACY_CONTACTS, 1) == 0,
	    "contacts privacy");
	EXPECT(pushed(&c->c[0], "alice", NULL) == -1, "C not told A hid");
	EXPECT(watch(&d->c[0], "alice", &online, &hidden) == 0 && hidden,
	    "D sees A though not a contact");
	EXPECT(contacts_edit(a, "dave", NULL) == 0, "A adds D");
	EXPECT(pushed(&d->c[0], "alice", NULL) == 1, "D, now a contact, not "
	    "shown A");
	EXPECT(contacts_edit(a, "no-such-user", NULL) ==
	    iris_v1_ErrorCode_ERR_UNKNOWN_USER, "an unknown contact");
	iris__wire_msg_init(&m);
	m.f.request_id = 92;
	m.f.which_body = iris_v1_Frame_contacts_get_tag;
	EXPECT(ac_ask(&a->c[0], &m, &r) == 0 && r->nusers == 1 &&
	    r->users[0].len == 4 && memcmp(r->users[0].ptr, "dave", 4) == 0,
	    "A's contact list");
	wc_close(&a->c[0].w);
	EXPECT(pushed(&d->c[0], "alice", NULL) == 0, "D not told A went");
	EXPECT(quiet(&c->c[0]), "C, not a contact, told that A went");
	EXPECT(mc_relogin(a, 0, base, port, fp) == 0, "A back");
	EXPECT(pushed(&d->c[0], "alice", NULL) == 1, "D not told A came");
	/* Nobody: D loses sight of A too. */
	EXPECT(settings(a, iris_v1_Privacy_PRIVACY_NOBODY, 1) == 0, "nobody");
	EXPECT(pushed(&d->c[0], "alice", NULL) == -1, "D not told A hid");
	EXPECT(contacts_edit(a, NULL, "dave") == 0, "A removes D");
	EXPECT(settings(a, iris_v1_Privacy_PRIVACY_EVERYONE, 1) == 0,
	    "everyone");
	EXPECT(pushed(&d->c[0], "alice", NULL) == 1 &&
	    pushed(&c->c[0], "alice", NULL) == 1, "everyone sees A again");
	presence_msg(&m, 93, 1, "alice");
	EXPECT(ac_ask(&d->c[0], &m, NULL) == 0, "D unsubscribes");
	printf("msg_presence: presence privacy everyone, contacts and nobody "
	    "honoured; contacts edited and read\n");
}

/* Does the file hold these bytes? */
static int
file_has(const char *path, const char *what)
{
	static char buf[1 << 22];
	ssize_t n;
	size_t len = strlen(what), i, have = 0;
	int fd, found = 0;

	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	while (!found && (n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		have += (size_t)n;
		for (i = 0; i + len <= have; i++)
			if (memcmp(buf + i, what, len) == 0)
				found = 1;
		if (have > len) {
			memmove(buf, buf + have - len, len);
			have = len;
		}
	}
	close(fd);
	return found;
}

static void
typing(struct mc_user *a, struct mc_user *b, struct mc_user *c)
{
	struct iris_wire_msg *r;
	uint32_t count = 9;
	size_t len;
	const uint8_t *p;

	EXPECT(send_text(a, b, "TYPING-4c1d", IRIS_CLASS_TYPING, 1, NULL,
	    &count) == 0 && count == 1, "typing to B: reached %u", count);
	r = next_push(&b->c[0], T);
	p = r != NULL ? mc_payload(r, 0, &len) : NULL;
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_deliver_tag &&
	    r->f.body.deliver.transient && r->f.body.deliver.seq == 0 &&
	    p != NULL && len == 11 && memcmp(p, "TYPING-4c1d", 11) == 0,
	    "B got no typing indicator");
	/* C is offline: nobody gets it, and it is not kept for later. */
	wc_close(&c->c[0].w);
	EXPECT(quiet(&a->c[0]), "barrier");
	EXPECT(send_text(a, c, "TYPING-77ab", IRIS_CLASS_TYPING, 1, NULL,
	    &count) == 0 && count == 0, "typing to offline C reached %u",
	    count);
	EXPECT(send_text(a, b, "MESSAGE-90fe", IRIS_CLASS_MESSAGE, 0, NULL,
	    NULL) == 0, "a message");
	r = next_push(&b->c[0], T);
	EXPECT(r != NULL && r->f.body.deliver.seq > 0, "the message");
	EXPECT(mc_relogin(c, 0, base, port, fp) == 0, "C back");
	go_live(&c->c[0]);
	EXPECT(quiet(&c->c[0]), "C got the typing after all");
	/* Never in the store's files; the message is (the search works). */
	EXPECT(!file_has("data/iris.db", "TYPING-") &&
	    !file_has("data/iris.db-wal", "TYPING-"),
	    "a typing indicator reached the store");
	EXPECT(file_has("data/iris.db", "MESSAGE-90fe") ||
	    file_has("data/iris.db-wal", "MESSAGE-90fe"),
	    "the search of the store's files finds nothing at all");
	printf("msg_presence: typing relayed to online devices only, and "
	    "never in the store's files\n");
}

/* Overload forced level by level: what goes and what stays. */
static void
shedding(struct mc_user *a, struct mc_user *b, struct mc_user *c)
{
	struct iris_core *core = eng->core;
	struct iris_wire_msg m, *r;
	uint64_t shed = 0, v = 0;
	int online, hidden, i, got = 0;

	iris__core_force_overload(core, 1);
	EXPECT(send_text(a, b, "typing", IRIS_CLASS_TYPING, 1, NULL, NULL) ==
	    iris_v1_ErrorCode_ERR_OVERLOADED, "typing at level 1");
	EXPECT(send_text(a, b, "m1", IRIS_CLASS_MESSAGE, 0, NULL, NULL) == 0,
	    "a message at level 1");
	EXPECT(watch(&c->c[0], "bob", &online, &hidden) == 0,
	    "presence at level 1");
	iris__core_force_overload(core, 2);
	EXPECT(watch(&c->c[0], "dave", &online, &hidden) ==
	    iris_v1_ErrorCode_ERR_OVERLOADED, "a subscription at level 2");
	wc_close(&b->c[0].w);	/* C watches B: told later */
	EXPECT(quiet(&c->c[0]), "presence told at level 2");
	EXPECT(send_text(a, b, "m2", IRIS_CLASS_MESSAGE, 0, NULL, NULL) == 0,
	    "a message at level 2");
	iris__core_force_overload(core, 3);
	EXPECT(send_text(a, b, "m3", IRIS_CLASS_MESSAGE, 0, NULL, NULL) == 0,
	    "a message at level 3");
	EXPECT(mc_relogin(b, 0, base, port, fp) == 0, "B back");
	/* B's acks make no receipts at level 3; all three messages came. */
	for (;;) {
		mc_sync(&m, 71, 3, 0);
		if (ac_ask(&b->c[0], &m, &r) != 0)
			break;
		for (i = 0; i < (int)r->nitems; i++)
			got++;
		break;
	}
	EXPECT(got == 3, "B holds %d of the 3 messages sent under load", got);
	mc_ack(&m, 72, 6);
	EXPECT(ac_ask(&b->c[0], &m, NULL) == 0, "B acks");
	iris_engine_stat(eng, "receipts_shed", &shed);
	EXPECT(shed == 1, "%llu acks shed their receipts",
	    (unsigned long long)shed);
	iris__core_force_overload(core, -1);
	/* The held-back presence: B went and came back while it waited. */
	EXPECT(pushed(&c->c[0], "bob", NULL) == 1, "C never told about B");
	iris_engine_stat(eng, "typing_shed", &v);
	EXPECT(v == 1, "typing_shed %llu", (unsigned long long)v);
	iris_engine_stat(eng, "presence_shed", &v);
	EXPECT(v >= 2, "presence_shed %llu", (unsigned long long)v);
	printf("msg_presence: under overload typing went first, then "
	    "presence (told once it passed), then receipts; no message "
	    "lost\n");
}

#define LOG_MAX	(4u << 20)

static void
capture(int level, const char *msg, void *arg)
{
	size_t n = strlen(msg);

	(void)level, (void)arg;
	if (nlogged + n + 2 < LOG_MAX) {
		memcpy(logged + nlogged, msg, n);
		logged[nlogged + n] = '\n';
		nlogged += n + 1;
		logged[nlogged] = '\0';
	}
}

/* A send's trace id in the edge's, the core's and the store's lines;
 * no payload in any line. */
static void
traces(void)
{
	static const char id[] = "trace 00075e5e5e5e5e5e5e5e5e5e5e5e5e5e";
	const char *layer[] = { ": request 7 send", "core: ", "store: " };
	const char *p;
	char want[128];
	size_t i;

	for (i = 0; i < 3; i++) {
		if (i == 0)
			snprintf(want, sizeof(want), "%s%s", id, layer[0]);
		else
			snprintf(want, sizeof(want), "%s%s", layer[i], id);
		EXPECT((p = strstr(logged, want)) != NULL, "no log line with "
		    "\"%s\"", want);
	}
	EXPECT(strstr(logged, "MESSAGE-90fe") == NULL &&
	    strstr(logged, "TYPING-") == NULL && strstr(logged, "m1") == NULL,
	    "message content in the log");
	printf("msg_presence: a send's trace id in the edge's, core's and "
	    "store's log lines; no content in any of %zu bytes of log\n",
	    nlogged);
}

int
main(void)
{
	struct iris_config *cfg;
	struct mc_user a, b, c, d;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	iris_config_set(cfg, "log_level", "debug");
	logged = calloc(1, LOG_MAX);
	iris_config_set_log_cb(cfg, capture, NULL);
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "msg_presence: no engine\n");
		return 1;
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	EXPECT(mc_user_new(&a, "alice", 1, base, port, fp, NULL) == 0, "a");
	EXPECT(mc_user_new(&b, "bob", 1, base, port, fp, NULL) == 0, "b");
	EXPECT(mc_user_new(&c, "carol", 1, base, port, fp, NULL) == 0, "c");
	EXPECT(mc_user_new(&d, "dave", 1, base, port, fp, NULL) == 0, "d");
	if (failures == 0)
		receipts(&a, &b);
	if (failures == 0)
		presence(&a, &c, &d);
	if (failures == 0)
		typing(&a, &b, &c);
	if (failures == 0)
		shedding(&a, &b, &c);
	if (failures == 0)
		traces();
	mc_user_close(&a);
	mc_user_close(&b);
	mc_user_close(&c);
	mc_user_close(&d);
	iris_engine_free(eng);
	event_base_free(base);
	free(logged);
	if (failures > 0)
		return 1;
	printf("msg_presence: ok\n");
	return 0;
}

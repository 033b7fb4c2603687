/* SPDX-License-Identifier: ISC */
/*
 * Sending under limits against a real engine on this loop: the token
 * bucket refuses the 21st immediate send with a retry-after; pushes stop
 * at the window of unacked deliveries until acks come; a send past the
 * inbox cap is refused with ERR_INBOX_FULL and a retry-after; a flood
 * of pipelined sends retried as an outbox would still arrives in order;
 * a stale device set is refused with the current signed lists and
 * recovered from; a registered device that is not listed gets nothing;
 * the 17th device of a user is refused; bad input (unknown users and
 * devices, oversized envelopes, too many envelopes, acks beyond the
 * inbox or going backward, a sync from a future cursor, ...) each gets
 * its own error while the connection and everything else go on.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>
#include <sodium.h>

#include "iris.h"
#include "iris_server.h"
#include "iris_store.h"

#include "msgclient.h"

#define T	10000

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static char fp[65];
static int port;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "msg_limits: line %d: ", __LINE__);	\
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

static int
passed(void *arg)
{
	return now_ms() >= *(uint64_t *)arg;
}

/* Honours a retry-after: runs the loop until then. */
static void
wait_ms(uint64_t ms)
{
	uint64_t until = now_ms() + ms;

	run_until(base, passed, &until, (unsigned)ms + 100);
}

static void
engine_start(const char *dir, const char *rate, const char *burst)
{
	struct iris_config *cfg;

	iris_config_new(&cfg);
	if (strcmp(dir, "data3") == 0) {
		iris_config_set(cfg, "inbox_cap", "8");
		iris_config_set(cfg, "push_window", "3");
		printf("msg_limits: inbox_cap 8, push_window 3\n");
	}
	iris_config_set(cfg, "data_dir", dir);
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	iris_config_set(cfg, "send_rate", rate);
	iris_config_set(cfg, "send_burst", burst);
	printf("msg_limits: engine in %s: send_rate %s, send_burst %s\n", dir,
	    rate, burst);
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "msg_limits: no engine\n");
		exit(1);
	}
	iris_config_free(cfg);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
}

static void
text_send(struct iris_wire_msg *m, uint64_t rid, const uint8_t cmid[16],
    struct mc_user *to, const char *text)
{
	mc_send(m, rid, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(m, &to, 1, NULL, -1, text, strlen(text));
}

/* Sends one message a to b; the answer's error code or 0. */
static int
send_one(struct mc_user *a, int dev, struct mc_user *b, const char *text)
{
	struct iris_wire_msg m;
	uint8_t cmid[16];
	int rc;

	iris_uuid_v7(cmid);
	text_send(&m, 7, cmid, b, text);
	rc = ac_ask(&a->c[dev], &m, NULL);
	mc_free(&m);
	return rc;
}

/* Everything device i of u holds after seq after, as "a,b,c". */
static int
inbox(struct mc_user *u, int i, uint64_t after, char *out, size_t len)
{
	struct iris_wire_msg m, *r;
	const uint8_t *p;
	size_t k, n, used = 0;
	int count = 0;

	out[0] = '\0';
	for (;;) {
		mc_sync(&m, 40, after, 0);
		if (ac_ask(&u->c[i], &m, &r) != 0)
			return -1;
		for (k = 0; k < r->nitems; k++) {
			p = mc_payload(r, k, &n);
			used += (size_t)snprintf(out + used, len - used, "%s%.*s",
			    count > 0 ? "," : "", (int)n, (const char *)p);
			if (used >= len)
				used = len - 1;
			after = r->items[k].pb.seq;
			count++;
		}
		if (!r->f.body.sync_page.more)
			return count;
	}
}

static void
bucket(void)
{
	struct mc_user a, b;
	struct iris_wire_msg m, *r;
	uint8_t cmid[16];
	int i, acks = 0, limited = 0;
	uint32_t retry = 0;

	engine_start("data1", "5", "20");
	EXPECT(mc_user_new(&a, "alice", 1, base, port, fp, NULL) == 0, "a");
	EXPECT(mc_user_new(&b, "bob", 1, base, port, fp, NULL) == 0, "b");
	for (i = 0; i < 21; i++) {
		iris_uuid_v7(cmid);
		text_send(&m, 100 + (uint64_t)i, cmid, &b, "burst");
		wc_send(&a.c[0].w, &m);
		mc_free(&m);
	}
	for (i = 0; i < 21 && (r = wc_next(&a.c[0].w, T)) != NULL; i++) {
		if (r->f.which_body == iris_v1_Frame_send_ack_tag)
			acks++;
		else if (r->f.which_body == iris_v1_Frame_error_tag &&
		    r->f.body.error.code == iris_v1_ErrorCode_ERR_RATE_LIMITED &&
		    r->f.request_id == 120) {
			limited++;
			retry = r->f.body.error.retry_after_ms;
		}
	}
	EXPECT(acks == 20 && limited == 1, "21 at once: %d acks, %d refusals "
	    "for the 21st", acks, limited);
	EXPECT(retry > 0 && retry <= 200, "retry after %u ms at 5/s", retry);
	printf("msg_limits: 20 of 21 immediate sends acked, the 21st refused "
	    "with a retry after %u ms\n", retry);
	mc_user_close(&a);
	mc_user_close(&b);
	iris_engine_free(eng);
}

/* 300 pipelined sends through a bucket of 20 at 200/s, retried in order. */
static void
flood(struct mc_user *a, struct mc_user *b)
{
	enum { N = 300 };
	static uint8_t cmids[N][16];
	static int acked[N];
	struct iris_wire_msg m, *r;
	uint32_t wait;
	char text[16], *got, want[8 * N];
	int i, rounds = 0, pending, refusals = 0, done = 0, nwant = 0;

	for (i = 0; i < N; i++)
		iris_uuid_v7(cmids[i]);
	while (done < N && rounds++ < 200) {
		pending = 0;
		for (i = 0; i < N; i++) {
			if (acked[i])
				continue;
			snprintf(text, sizeof(text), "f%d", i);
			text_send(&m, 1000 + (uint64_t)i, cmids[i], b, text);
			wc_send(&a->c[0].w, &m);
			mc_free(&m);
			pending++;
		}
		wait = 0;
		while (pending > 0 && (r = wc_next(&a->c[0].w, T)) != NULL) {
			if (r->f.request_id < 1000)
				continue;
			pending--;
			if (r->f.which_body == iris_v1_Frame_send_ack_tag) {
				if (!acked[r->f.request_id - 1000]++)
					done++;
				continue;
			}
			refusals++;
			EXPECT(r->f.body.error.code ==
			    iris_v1_ErrorCode_ERR_RATE_LIMITED ||
			    r->f.body.error.code ==
			    iris_v1_ErrorCode_ERR_OUT_OF_ORDER, "flood: %s",
			    iris__wire_errname(r->f.body.error.code));
			if (r->f.body.error.retry_after_ms > wait)
				wait = r->f.body.error.retry_after_ms;
		}
		if (done < N)
			wait_ms(wait);
	}
	EXPECT(done == N, "flood: %d of %d acked in %d rounds", done, N,
	    rounds);
	/* What arrived: every one, in the order sent. */
	for (i = 0; i < N; i++)
		nwant += snprintf(want + nwant, sizeof(want) - (size_t)nwant,
		    "%sf%d", i > 0 ? "," : "", i);
	got = malloc(8 * N + 64);
	EXPECT(inbox(b, 0, 0, got, 8 * N + 64) == N && strcmp(got, want) == 0,
	    "flood: the inbox holds another sequence");
	free(got);
	printf("msg_limits: a flood of %d pipelined sends, %d refusals with "
	    "retry-after, %d rounds: all delivered once, in order\n", N,
	    refusals, rounds);
}

/* The list in an ERR_STALE_DEVICES: version and devices, checked. */
static int
stale_list(const struct iris_wire_msg *r, const struct mc_user *u,
    uint64_t *version, int *ndev)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[15 + 4096];
	pb_istream_t in;

	if (r->f.which_body != iris_v1_Frame_error_tag || r->nlists != 1 ||
	    r->f.body.error.code != iris_v1_ErrorCode_ERR_STALE_DEVICES)
		return -1;
	in = pb_istream_from_buffer(r->lists[0].list.bytes,
	    r->lists[0].list.size);
	if (!pb_decode(&in, iris_v1_DeviceList_fields, &dl) ||
	    dl.user.size != strlen(u->name) ||
	    memcmp(dl.user.bytes, u->name, dl.user.size) != 0)
		return -1;
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, r->lists[0].list.bytes, r->lists[0].list.size);
	if (crypto_sign_verify_detached(r->lists[0].signature, msg, 15 +
	    r->lists[0].list.size, u->dev[0].pk) != 0)
		return -1;	/* signed by the primary */
	*version = dl.version;
	*ndev = dl.devices_count;
	return 0;
}

static void
stale(struct mc_user *a, struct mc_user *b)
{
	struct iris_wire_msg m, *r;
	uint8_t cmid[16];
	uint64_t version = 0;
	int ndev = 0, rc;
	char got[256];

	/* B gets a third device and lists it: A's set of two is stale. */
	EXPECT(mc_user_add(b, base, port, fp) == 0, "B3");
	EXPECT(mc_user_list(b, 3) == 0, "B's list v2");
	iris_uuid_v7(cmid);
	mc_send(&m, 20, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env(&m, "bob", 1, "s", 1);
	mc_env(&m, "bob", 2, "s", 1);
	rc = ac_ask(&a->c[0], &m, &r);
	mc_free(&m);
	EXPECT(rc == iris_v1_ErrorCode_ERR_STALE_DEVICES && stale_list(r, b,
	    &version, &ndev) == 0 && version == 2 && ndev == 3,
	    "stale set: code %d, list v%llu with %d devices", rc,
	    (unsigned long long)version, ndev);
	/* Recovered: the same send for the devices the list names. */
	mc_send(&m, 21, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env(&m, "bob", 1, "s", 1);
	mc_env(&m, "bob", 2, "s", 1);
	mc_env(&m, "bob", 3, "s", 1);
	EXPECT(ac_ask(&a->c[0], &m, &r) == 0 && !r->f.body.send_ack.duplicate,
	    "resend after the stale set");
	mc_free(&m);
	/* A fourth device, registered, not listed: in a send it is stale;
	 * it receives nothing. */
	EXPECT(mc_user_add(b, base, port, fp) == 0, "B4");
	iris_uuid_v7(cmid);
	mc_send(&m, 22, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(&m, &b, 1, NULL, -1, "u", 1);
	EXPECT(ac_ask(&a->c[0], &m, &r) ==
	    iris_v1_ErrorCode_ERR_STALE_DEVICES, "an unlisted device named");
	mc_free(&m);
	/* A retryable refusal holds A's later sends until this one is
	 * sent again. */
	EXPECT(send_one(a, 0, b, "v") == iris_v1_ErrorCode_ERR_OUT_OF_ORDER,
	    "a later send while the refused one waits");
	b->n = 3;
	mc_send(&m, 23, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(&m, &b, 1, NULL, -1, "u", 1);
	EXPECT(ac_ask(&a->c[0], &m, &r) == 0, "to the listed three");
	mc_free(&m);
	b->n = 4;
	EXPECT(inbox(b, 3, 0, got, sizeof(got)) == 0, "B4 got %s", got);
	EXPECT(inbox(b, 2, 0, got, sizeof(got)) == 2 && strcmp(got, "s,u") ==
	    0, "B3 holds %s", got);
	b->n = 3;
	printf("msg_limits: a stale device set is refused with the signed "
	    "list and recovered from; an unlisted device gets nothing\n");
}

static void
seventeen(void)
{
	struct mc_user c;
	int rc;

	EXPECT(mc_user_new(&c, "carol", 16, base, port, fp, NULL) == 0,
	    "16 devices");
	rc = mc_user_add(&c, base, port, fp);
	EXPECT(rc == iris_v1_ErrorCode_ERR_TOO_MANY_DEVICES,
	    "the 17th device: %d", rc);
	printf("msg_limits: the 17th device of a user is refused\n");
	c.n = 17;	/* close the 17th connection too */
	mc_user_close(&c);
}

/* One bad send: its code, then a ping on the same connection works. */
static void
bad_send(struct mc_user *a, struct iris_wire_msg *m, int want,
    const char *what)
{
	struct iris_wire_msg p, *r;
	int rc = ac_ask(&a->c[0], m, &r);

	EXPECT(rc == want, "%s: %s, not %s", what, rc > 0 ?
	    iris__wire_errname(rc) : "no answer", iris__wire_errname(want));
	mc_free(m);
	wc_ping(&p, 99, "ok");
	EXPECT(ac_ask(&a->c[0], &p, &r) == 0 && r->f.which_body ==
	    iris_v1_Frame_pong_tag, "%s: the connection went", what);
}

static void
bad_input(struct mc_user *a, struct mc_user *b)
{
	static uint8_t big[65537];
	struct iris_wire_msg m;
	uint8_t cmid[16];
	char got[256];
	int i, before;

	before = inbox(b, 0, 0, got, sizeof(got));
	iris_uuid_v7(cmid);
	mc_send(&m, 30, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env(&m, "nobody", 1, "x", 1);
	bad_send(a, &m, iris_v1_ErrorCode_ERR_UNKNOWN_USER, "unknown user");
	mc_send(&m, 31, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(&m, &b, 1, NULL, -1, "x", 1);
	mc_env(&m, "bob", 9, "x", 1);
	bad_send(a, &m, iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE,
	    "unknown device");
	mc_send(&m, 32, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env(&m, "bob", 1, big, sizeof(big));
	mc_env(&m, "bob", 2, "x", 1);
	mc_env(&m, "bob", 3, "x", 1);
	bad_send(a, &m, iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE,
	    "oversized envelope");
	mc_send(&m, 33, cmid, IRIS_CLASS_MESSAGE, 0);
	for (i = 0; i < 32; i++)
		mc_env(&m, "bob", (uint32_t)(100 + i), "x", 1);
	bad_send(a, &m, iris_v1_ErrorCode_ERR_TOO_MANY_ENVELOPES,
	    "32 envelopes");
	mc_send(&m, 34, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(&m, &b, 1, NULL, -1, "x", 1);
	mc_env(&m, "bob", 1, "x", 1);
	bad_send(a, &m, iris_v1_ErrorCode_ERR_BAD_REQUEST, "two envelopes "
	    "for one device");
	mc_send(&m, 35, cmid, IRIS_CLASS_MESSAGE, 0);
	mc_env_all(&m, &b, 1, NULL, -1, "x", 1);
	m.f.body.send.client_msg_id[6] = 0x40;	/* a UUIDv4 */
	bad_send(a, &m, iris_v1_ErrorCode_ERR_BAD_REQUEST, "not a UUIDv7");
	/* Cursors, on B1: its inbox holds `before' messages. */
	mc_ack(&m, 36, (uint64_t)before + 5);
	bad_send(b, &m, iris_v1_ErrorCode_ERR_BAD_CURSOR, "ack beyond");
	mc_ack(&m, 37, (uint64_t)before);
	bad_send(b, &m, 0, "ack of the head");
	mc_ack(&m, 38, 1);
	bad_send(b, &m, iris_v1_ErrorCode_ERR_BAD_CURSOR, "ack backward");
	mc_sync(&m, 39, (uint64_t)before + 1, 0);
	bad_send(b, &m, iris_v1_ErrorCode_ERR_BAD_CURSOR, "future sync");
	/* Nothing of it was stored; a good send still goes. */
	EXPECT(send_one(a, 0, b, "after") == 0, "a good send after all that");
	EXPECT(inbox(b, 0, (uint64_t)before, got, sizeof(got)) == 1 &&
	    strcmp(got, "after") == 0, "B1 after the bad input: %s", got);
	printf("msg_limits: bad input: each its own error, the connection "
	    "and the inbox unaffected\n");
}

/* The next frame that is not a pong: NULL when the ping came first. */
static struct iris_wire_msg *
next_before_ping(struct ac_conn *c)
{
	struct iris_wire_msg m, *r;

	wc_ping(&m, 900, "barrier");
	wc_send(&c->w, &m);
	r = wc_next(&c->w, T);
	if (r == NULL || r->f.which_body == iris_v1_Frame_pong_tag)
		return NULL;
	return r;
}

/* Pushes stop at the window until acks come; sends stop at the cap. */
static void
window_and_cap(void)
{
	struct mc_user a, b;
	struct iris_wire_msg m, *r;
	uint8_t cmid[16];
	uint64_t seq = 0;
	int i, pushed = 0, rc;
	char text[8];

	engine_start("data3", "1000", "1000");
	EXPECT(mc_user_new(&a, "alice", 1, base, port, fp, NULL) == 0, "a");
	EXPECT(mc_user_new(&b, "bob", 1, base, port, fp, NULL) == 0, "b");
	mc_sync(&m, 41, 0, 0);
	EXPECT(ac_ask(&b.c[0], &m, NULL) == 0, "B live");
	for (i = 0; i < 6; i++) {
		snprintf(text, sizeof(text), "w%d", i);
		EXPECT(send_one(&a, 0, &b, text) == 0, "send %d", i);
	}
	while ((r = wc_next(&b.c[0].w, 200)) != NULL)
		if (r->f.which_body == iris_v1_Frame_deliver_tag) {
			pushed++;
			seq = r->f.body.deliver.seq;
		}
	EXPECT(pushed == 3 && seq == 3, "%d pushed before any ack", pushed);
	EXPECT(next_before_ping(&b.c[0]) == NULL, "a push past the window");
	mc_ack(&m, 0, 3);
	wc_send(&b.c[0].w, &m);
	for (i = 0; i < 3; i++) {
		r = wc_next(&b.c[0].w, T);
		EXPECT(r != NULL && r->f.which_body ==
		    iris_v1_Frame_deliver_tag && r->f.body.deliver.seq ==
		    (uint64_t)(4 + i), "after the ack: push %d", 4 + i);
	}
	printf("msg_limits: pushes stop at the window of 3 unacked and go on "
	    "after the ack\n");
	/* 3 unacked of a cap of 8: five more fit, the sixth is refused. */
	for (i = 0; i < 5; i++)
		EXPECT(send_one(&a, 0, &b, "c") == 0, "up to the cap");
	iris_uuid_v7(cmid);
	text_send(&m, 42, cmid, &b, "c9");
	rc = ac_ask(&a.c[0], &m, &r);
	mc_free(&m);
	EXPECT(rc == iris_v1_ErrorCode_ERR_INBOX_FULL &&
	    r->f.body.error.retry_after_ms > 0, "past the cap: %d", rc);
	mc_ack(&m, 43, 11);
	wc_send(&b.c[0].w, &m);
	while ((r = wc_next(&b.c[0].w, T)) != NULL && r->f.request_id != 43)
		;	/* pushes come as the window opens */
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_done_tag,
	    "B acks everything");
	text_send(&m, 44, cmid, &b, "c9");
	EXPECT(ac_ask(&a.c[0], &m, NULL) == 0, "the refused send, resent");
	mc_free(&m);
	printf("msg_limits: a send past the inbox cap is refused with "
	    "ERR_INBOX_FULL and a retry-after, and goes once acks make room\n");
	mc_user_close(&a);
	mc_user_close(&b);
	iris_engine_free(eng);
}

int
main(void)
{
	struct mc_user a, b;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	base = event_base_new();
	bucket();
	window_and_cap();
	engine_start("data2", "200", "20");
	EXPECT(mc_user_new(&a, "alice", 1, base, port, fp, NULL) == 0, "a");
	EXPECT(mc_user_new(&b, "bob", 2, base, port, fp, NULL) == 0, "b");
	if (failures == 0)
		flood(&a, &b);
	if (failures == 0)
		stale(&a, &b);
	if (failures == 0)
		seventeen();
	if (failures == 0)
		bad_input(&a, &b);
	mc_user_close(&a);
	b.n = 4;
	mc_user_close(&b);
	iris_engine_free(eng);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("msg_limits: ok\n");
	return 0;
}

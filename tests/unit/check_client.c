/* SPDX-License-Identifier: ISC */
/*
 * The outbox against a scripted server on a socketpair (every frame
 * through the real codec) with an injected clock: sends go out in order
 * with strictly increasing UUIDv7 client msg ids, one envelope per
 * listed device; after a retryable refusal nothing is resent before the
 * retry-after, then everything from the refused one, in order, with the
 * same ids; a stale device set is sealed again from the attached list; a
 * permanent refusal fails that send only; a lost connection and a new
 * client object on the same store resend the same ids in order; the
 * client's token bucket paces sends; reconnect delays double with jitter
 * within their bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <pb_encode.h>
#include <sodium.h>

#include "iris.h"
#include "iris_client.h"
#include "client/client.h"
#include "client/seal.h"
#include "util/alloc.h"
#include "util/uuid.h"
#include "clienttest.h"
#include "loop.h"
#include "suites.h"

#define PEER_MAX	64

/* The server's side: what the client sent, decoded. */
struct sent {
	uint64_t	 rid;
	uint8_t		 cmid[16];
	size_t		 nenvs;
	uint32_t	 devices[8];
	char		 body[32];
};

struct peer {
	int		 fd;
	struct event	*ev;
	struct iris_framer fr;
	struct iris_wire_limits lim;
	struct sent	 s[PEER_MAX];
	size_t		 n;
	uint64_t	 acked;		/* highest Ack seen */
	size_t		 acks;
	int		 closed;
};

static struct event_base *base;
static char *dir;
static struct iris_client_store *store;
static struct iris_client *c;
static struct ct_rec rec;
static struct peer peer;
static uint64_t fake_now = 1000000;
static uint8_t bob_pk[32], bob_sk[64];

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void
on_peer(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct iris_wire_msg m;
	const uint8_t *frame, *q, *b;
	uint8_t buf[65536];
	size_t used, flen, i, k;
	ssize_t n;

	(void)what;
	if ((n = read(fd, buf, sizeof(buf))) <= 0) {
		p->closed = 1;
		event_del(p->ev);
		return;
	}
	for (q = buf; n > 0; q += used, n -= (ssize_t)used) {
		ck_assert_int_eq(iris__framer_feed(&p->fr, q, (size_t)n,
		    &used, &frame, &flen), IRIS_OK);
		if (frame == NULL)
			break;
		iris__wire_msg_init(&m);
		ck_assert_int_eq(iris__wire_decode(&m, frame, flen, &p->lim),
		    IRIS_OK);
		ck_assert_int_eq(iris__wire_check(&m), IRIS_OK);
		if (m.f.which_body == iris_v1_Frame_ack_tag) {
			ck_assert_uint_gt(m.f.body.ack.seq, p->acked);
			p->acked = m.f.body.ack.seq;
			p->acks++;
		}
		if (m.f.which_body == iris_v1_Frame_send_tag &&
		    m.f.body.send.transient)
			;	/* typing: not recorded */
		else if (m.f.which_body == iris_v1_Frame_send_tag &&
		    p->n < PEER_MAX) {
			struct sent *s = &p->s[p->n++];
			struct iris_rd r;
			size_t len;

			s->rid = m.f.request_id;
			memcpy(s->cmid, m.f.body.send.client_msg_id, 16);
			s->nenvs = m.nenvs;
			for (i = 0; i < m.nenvs && i < 8; i++)
				s->devices[i] = m.envs[i].device;
			/* The plain framing: skip to the body. */
			iris__rd_init(&r, m.envs[0].payload.ptr,
			    m.envs[0].payload.len);
			(void)iris__rd_slice(&r, 7);
			k = iris__rd_u8(&r);
			(void)iris__rd_slice(&r, k);
			b = iris__rd_bytes32(&r, &len, 31);
			ck_assert_ptr_nonnull(b);
			memcpy(s->body, b, len);
			s->body[len] = '\0';
		}
		iris__wire_msg_reset(&m);
	}
}

static void
peer_open(int fd)
{
	int big = 1 << 20;

	/* Room for a burst the client has not read yet (the recv window). */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	memset(&peer, 0, sizeof(peer));
	peer.fd = fd;
	iris__wire_limits_max(&peer.lim);
	iris__framer_init(&peer.fr, 8u << 20);
	peer.ev = event_new(base, fd, EV_READ | EV_PERSIST, on_peer, &peer);
	event_add(peer.ev, NULL);
}

static void
peer_close(void)
{
	event_free(peer.ev);
	iris__framer_free(&peer.fr);
	close(peer.fd);
}

static void
peer_write(struct iris_wire_msg *m)
{
	uint8_t buf[16384];
	size_t len;

	ck_assert_int_eq(iris__wire_encode(m, buf, sizeof(buf), &len),
	    IRIS_OK);
	ck_assert(write(peer.fd, buf, len) == (ssize_t)len);
}

static void
ack(size_t i)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.request_id = peer.s[i].rid;
	m.f.which_body = iris_v1_Frame_send_ack_tag;
	m.f.body.send_ack.msg_id = 1000 + i;
	peer_write(&m);
}

static void
refuse(size_t i, int code, uint32_t retry, iris_v1_SignedDeviceList *l)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.request_id = peer.s[i].rid;
	m.f.which_body = iris_v1_Frame_error_tag;
	m.f.body.error.code = (iris_v1_ErrorCode)code;
	m.f.body.error.retry_after_ms = retry;
	if (l != NULL) {
		m.lists = l;
		m.nlists = 1;
	}
	peer_write(&m);
}

/* bob's list: devices 1..n, device 1's key signs. */
static void
bob_list(iris_v1_SignedDeviceList *sl, uint64_t version, int n)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[15 + 4096];
	pb_ostream_t os;
	int i;

	memset(sl, 0, sizeof(*sl));
	dl.user.size = 3;
	memcpy(dl.user.bytes, "bob", 3);
	dl.version = version;
	dl.devices_count = (pb_size_t)n;
	for (i = 0; i < n; i++) {
		dl.devices[i].device_id = (uint32_t)i + 1;
		if (i == 0)
			memcpy(dl.devices[i].identity_key, bob_pk, 32);
		else
			randombytes_buf(dl.devices[i].identity_key, 32);
	}
	os = pb_ostream_from_buffer(sl->list.bytes, sizeof(sl->list.bytes));
	ck_assert(pb_encode(&os, iris_v1_DeviceList_fields, &dl));
	sl->list.size = (pb_size_t)os.bytes_written;
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, sl->list.bytes, sl->list.size);
	crypto_sign_detached(sl->signature, NULL, msg, 15 + sl->list.size,
	    bob_sk);
}

static int
peer_has(void *arg)
{
	return peer.n >= *(size_t *)arg;
}

static void
wait_sent(size_t n)
{
	ck_assert_msg(run_until(base, peer_has, &n, 5000), "peer got %zu of "
	    "%zu", peer.n, n);
}

static int
never(void *arg)
{
	(void)arg;
	return 0;
}

static void
settle(void)
{
	run_until(base, never, NULL, 30);
}

static int
is_done(void *arg)
{
	return *(int *)arg;
}

static void
made(struct iris_client *cl, int rc, void *arg)
{
	(void)cl;
	ck_assert_int_eq(rc, IRIS_OK);
	*(int *)arg = 1;
}

/* A client of the store, as alice/1, its lists known, on a socketpair. */
static struct iris_client *
client_up(int fresh)
{
	struct iris_client_config *cfg;
	iris_v1_SignedDeviceList sl;
	struct devlist *l;
	int sv[2], changed, done = 0;

	cfg = ct_config(1, "00000000000000000000000000000000"
	    "00000000000000000000000000000000", "alice", NULL);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(iris_client_new(&c, base, store, cfg), IRIS_OK);
	iris_client_config_free(cfg);
	c->now_ms = fake_clock;
	ct_rec_init(&rec, "alice");
	ct_attach(&rec, c);
	if (fresh) {
		ck_assert_int_eq(iris__auth_create(c, made, &done), IRIS_OK);
		ck_assert(run_until(base, is_done, &done, 5000));
		c->device = 1;
		c->primary = 1;
		bob_list(&sl, 1, 2);
		ck_assert_int_eq(iris__devlist_accept(c, "bob", &sl, &l,
		    &changed), IRIS_OK);
		done = 0;
		ck_assert_int_eq(iris__auth_save(c, made, &done), IRIS_OK);
		ck_assert(run_until(base, is_done, &done, 5000));
	}
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(iris__conn_adopt(c, sv[0]), IRIS_OK);
	peer_open(sv[1]);
	return c;
}

static void
setup(void)
{
	uint8_t key[32];
	char path[600];

	/* The fake server here reads the plain framing. */
	iris__client_sealer = &iris__seal_plain;
	base = event_base_new();
	dir = make_tempdir("outbox");
	snprintf(path, sizeof(path), "%s/client.db", dir);
	ct_key(key, 3);
	ck_assert_int_eq(iris_client_store_open(&store, base, path, key,
	    NULL), IRIS_OK);
	crypto_sign_keypair(bob_pk, bob_sk);
	client_up(1);
}

static void
teardown(void)
{
	iris_client_free(c);
	peer_close();
	ct_rec_free(&rec);
	iris_client_store_close(store);
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

static void
send_n(int n, int from)
{
	uint8_t id[16];
	char body[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "m%d", from + i);
		ck_assert_int_eq(iris_client_send(c, "bob", 0, body,
		    strlen(body), id), IRIS_OK);
	}
}

static void
check_bodies(size_t first, int n, int from)
{
	char want[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "m%d", from + i);
		ck_assert_str_eq(peer.s[first + (size_t)i].body, want);
	}
}

static int
acked_is(void *arg)
{
	return rec.acked >= *(size_t *)arg;
}

static void
wait_acked(size_t n)
{
	ck_assert_msg(run_until(base, acked_is, &n, 5000), "acked %zu of %zu",
	    rec.acked, n);
}

START_TEST(test_outbox_order)
{
	size_t i;

	send_n(5, 0);
	wait_sent(5);
	check_bodies(0, 5, 0);
	for (i = 0; i < 5; i++) {
		ck_assert(iris__uuid_is_v7(peer.s[i].cmid));
		/* One envelope per device of bob's list; none for alice/1. */
		ck_assert_uint_eq(peer.s[i].nenvs, 2);
		ck_assert_uint_eq(peer.s[i].devices[0], 1);
		ck_assert_uint_eq(peer.s[i].devices[1], 2);
		if (i > 0)
			ck_assert(memcmp(peer.s[i - 1].cmid, peer.s[i].cmid,
			    16) < 0);
		ack(i);
	}
	wait_acked(5);
	ck_assert_uint_eq(rec.queued, 5);
	ck_assert_uint_eq(iris_client_outbox(c), 0);
}
END_TEST

START_TEST(test_outbox_retry_after)
{
	size_t i;

	send_n(4, 0);
	wait_sent(4);
	ack(0);
	refuse(1, iris_v1_ErrorCode_ERR_RATE_LIMITED, 1000, NULL);
	refuse(2, iris_v1_ErrorCode_ERR_OUT_OF_ORDER, 0, NULL);
	refuse(3, iris_v1_ErrorCode_ERR_OUT_OF_ORDER, 0, NULL);
	wait_acked(1);
	settle();
	ck_assert_uint_eq(peer.n, 4);
	/* Not before the server's wait is over. */
	fake_now += 999;
	iris__outbox_kick(c);
	settle();
	ck_assert_uint_eq(peer.n, 4);
	fake_now += 1;
	iris__outbox_kick(c);
	wait_sent(7);
	/* From the refused one, in order, the same ids. */
	for (i = 0; i < 3; i++)
		ck_assert(memcmp(peer.s[4 + i].cmid, peer.s[1 + i].cmid, 16) ==
		    0);
	check_bodies(4, 3, 1);
	for (i = 4; i < 7; i++)
		ack(i);
	wait_acked(4);
	ck_assert_uint_eq(rec.failed, 0);
	ck_assert_uint_eq(iris_client_outbox(c), 0);
}
END_TEST

START_TEST(test_outbox_stale)
{
	iris_v1_SignedDeviceList *sl = malloc(sizeof(*sl));

	send_n(2, 0);
	wait_sent(2);
	/* bob has a third device now: the refusal carries his list. */
	bob_list(sl, 2, 3);
	refuse(0, iris_v1_ErrorCode_ERR_STALE_DEVICES, 0, sl);
	refuse(1, iris_v1_ErrorCode_ERR_OUT_OF_ORDER, 0, NULL);
	wait_sent(4);
	ck_assert(memcmp(peer.s[2].cmid, peer.s[0].cmid, 16) == 0);
	ck_assert(memcmp(peer.s[3].cmid, peer.s[1].cmid, 16) == 0);
	ck_assert_uint_eq(peer.s[2].nenvs, 3);
	ck_assert_uint_eq(peer.s[3].nenvs, 3);
	check_bodies(2, 2, 0);
	ack(2);
	ack(3);
	wait_acked(2);
	/* A list signed by someone else is refused; nothing changes. */
	crypto_sign_keypair(bob_pk, bob_sk);
	bob_list(sl, 3, 1);
	send_n(1, 2);
	wait_sent(5);
	refuse(4, iris_v1_ErrorCode_ERR_STALE_DEVICES, 0, sl);
	wait_sent(6);
	ck_assert_uint_eq(peer.s[5].nenvs, 3);	/* still the verified list */
	ck_assert(rec.errors >= 1 && rec.last_error == IRIS_ECRYPTO);
	free(sl);
}
END_TEST

START_TEST(test_outbox_permanent)
{
	send_n(3, 0);
	wait_sent(3);
	ack(0);
	refuse(1, iris_v1_ErrorCode_ERR_UNKNOWN_USER, 0, NULL);
	ack(2);
	wait_acked(2);
	ck_assert_uint_eq(rec.failed, 1);
	ck_assert_int_eq(rec.last_fail, IRIS_ENOTFOUND);
	ck_assert_uint_eq(iris_client_outbox(c), 0);
	settle();
	ck_assert_uint_eq(peer.n, 3);	/* no retry of a permanent refusal */
}
END_TEST

START_TEST(test_outbox_reconnect_restart)
{
	uint8_t ids[2][16];
	int sv[2];
	size_t i;

	send_n(2, 0);
	wait_sent(2);
	/* The connection goes: both are sent again on the next one. */
	peer_close();
	ck_assert(ct_wait_offline(base, &rec, 0, 5000));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(iris__conn_adopt(c, sv[0]), IRIS_OK);
	peer_open(sv[1]);
	iris__outbox_kick(c);
	wait_sent(2);
	check_bodies(0, 2, 0);
	/* Offline again, one more; then a new client object. */
	memcpy(ids[0], peer.s[0].cmid, 16);
	memcpy(ids[1], peer.s[1].cmid, 16);
	peer_close();
	ck_assert(ct_wait_offline(base, &rec, rec.offlines, 5000));
	send_n(1, 2);
	settle();
	ck_assert_uint_eq(iris_client_outbox(c), 3);
	iris_client_free(c);
	ct_rec_free(&rec);
	client_up(0);
	ck_assert_uint_eq(iris_client_outbox(c), 3);
	iris__outbox_kick(c);
	wait_sent(3);
	ck_assert(memcmp(peer.s[0].cmid, ids[0], 16) == 0);
	ck_assert(memcmp(peer.s[1].cmid, ids[1], 16) == 0);
	check_bodies(0, 3, 0);
	for (i = 0; i < 3; i++)
		ack(i);
	wait_acked(3);
	ck_assert_uint_eq(iris_client_outbox(c), 0);
}
END_TEST

START_TEST(test_outbox_paced)
{
	iris__bucket_init(&c->ob_bucket, 5, 2, fake_now * 1000);
	c->ob_have_bucket = 1;
	send_n(4, 0);
	wait_sent(2);
	settle();
	ck_assert_uint_eq(peer.n, 2);	/* the burst */
	fake_now += 200;		/* one token at 5/s */
	iris__outbox_kick(c);
	wait_sent(3);
	settle();
	ck_assert_uint_eq(peer.n, 3);
	fake_now += 200;
	iris__outbox_kick(c);
	wait_sent(4);
	check_bodies(0, 4, 0);
}
END_TEST

START_TEST(test_outbox_limits)
{
	uint8_t id[16];
	size_t i;

	c->cfg.outbox_max = 3;
	send_n(3, 0);
	ck_assert_int_eq(iris_client_send(c, "bob", 0, "x", 1, id),
	    IRIS_ELIMIT);
	/* Bad input leaves the outbox as it was. */
	ck_assert_int_eq(iris_client_send(c, "b\tob", 0, "x", 1, id),
	    IRIS_EINVAL);
	ck_assert_int_eq(iris_client_send(c, "bob", 0, "x", 1, NULL),
	    IRIS_EINVAL);
	ck_assert_uint_eq(iris_client_outbox(c), 3);
	wait_sent(3);
	for (i = 0; i < 3; i++)
		ack(i);
	wait_acked(3);
	ck_assert_int_eq(iris_client_send(c, "bob", 0, "x", 1, id), IRIS_OK);
}
END_TEST

START_TEST(test_outbox_backoff)
{
	unsigned a, d, lo, hi;
	uint32_t r;

	for (a = 0; a < 12; a++) {
		hi = 250u << (a < 7 ? a : 7);
		if (hi > 30000)
			hi = 30000;
		lo = hi / 2;
		for (r = 0; r < 2000; r += 97) {
			d = iris__backoff_ms(a, 250, 30000, r * 7919u);
			ck_assert_msg(d >= lo && d <= hi, "attempt %u: %u "
			    "not in [%u, %u]", a, d, lo, hi);
		}
	}
	/* Jitter: not always the same. */
	ck_assert_uint_ne(iris__backoff_ms(3, 250, 30000, 1),
	    iris__backoff_ms(3, 250, 30000, 12345));
	ck_assert_uint_eq(iris__backoff_ms(40, 250, 30000, 0), 15000);
}
END_TEST

/* A delivery from the server: a plain-framed message, or garbage. */
static void
deliver(uint64_t seq, const char *from, uint32_t dev, uint8_t cmid_byte,
    const char *body, int transient, int garbage)
{
	struct iris_wire_msg m;
	struct iris_buf env;
	iris_v1_Deliver *d = &m.f.body.deliver;

	iris__buf_init(&env, 0);
	if (garbage)
		iris__buf_put(&env, "\x07garbage", 8);
	else {
		iris__buf_u8(&env, 0);
		iris__buf_u8(&env, 1);
		iris__buf_u8(&env, transient ? IRIS__CONTENT_TYPING :
		    IRIS__CONTENT_MESSAGE);
		iris__buf_u32(&env, transient ? 1 : 9);
		iris__buf_str8(&env, "alice", 5);
		iris__buf_bytes32(&env, body, strlen(body));
	}
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_deliver_tag;
	d->seq = transient ? 0 : seq;
	d->transient = transient != 0;
	d->msg_id = 5000 + seq;
	d->sender_user.size = (pb_size_t)strlen(from);
	memcpy(d->sender_user.bytes, from, d->sender_user.size);
	d->sender_device = dev;
	memset(d->client_msg_id, cmid_byte, 16);
	if (cmid_byte == 0)	/* one id per seq */
		memcpy(d->client_msg_id, &seq, sizeof(seq));
	d->class = transient ? iris_v1_MsgClass_CLASS_TYPING :
	    iris_v1_MsgClass_CLASS_MESSAGE;
	d->sent_ms = 1764000000000ULL;
	m.envelope.ptr = env.p;
	m.envelope.len = env.len;
	peer_write(&m);
	iris__buf_free(&env);
}

static int
acked_to(void *arg)
{
	return peer.acked >= *(uint64_t *)arg;
}

static void
wait_ack(uint64_t seq)
{
	ck_assert_msg(run_until(base, acked_to, &seq, 5000), "acked to %llu "
	    "of %llu", (unsigned long long)peer.acked,
	    (unsigned long long)seq);
}

static uint64_t
stored_cursor(void)
{
	struct iris_buf b;
	int64_t id;
	uint64_t cursor = 0;

	iris__buf_init(&b, 0);
	ck_assert_int_eq(iris__cs_account_get(store, c->acct_tag, &id,
	    &cursor, &b), IRIS_OK);
	iris__buf_free(&b);
	return cursor;
}

START_TEST(test_recv_order_and_dedup)
{
	deliver(1, "bob", 1, 0x71, "r0", 0, 0);
	deliver(2, "bob", 1, 0x72, "r1", 0, 0);
	deliver(3, "bob", 2, 0x71, "r2", 0, 0);	/* another device: new */
	ck_assert(ct_wait_msgs(base, &rec, 3, 5000));
	wait_ack(3);
	ck_assert_str_eq(rec.msgs[0].body, "r0");
	ck_assert_str_eq(rec.msgs[1].body, "r1");
	ck_assert_str_eq(rec.msgs[2].body, "r2");
	ck_assert_str_eq(rec.msgs[2].sender, "bob");
	ck_assert_uint_eq(rec.msgs[2].device, 2);
	ck_assert_str_eq(rec.msgs[0].recipient, "alice");
	ck_assert_uint_eq(rec.msgs[0].type, 9);
	ck_assert_uint_eq(stored_cursor(), 3);
	/* Redelivered by seq: not handed over again. */
	deliver(2, "bob", 1, 0x72, "r1", 0, 0);
	/* Under a new seq with a (sender, device, id) seen: not either. */
	deliver(4, "bob", 1, 0x71, "r0 again", 0, 0);
	deliver(5, "bob", 1, 0x73, "r3", 0, 0);
	ck_assert(ct_wait_msgs(base, &rec, 4, 5000));
	wait_ack(5);
	settle();
	ck_assert_uint_eq(rec.nmsgs, 4);
	ck_assert_str_eq(rec.msgs[3].body, "r3");
	ck_assert_uint_eq(stored_cursor(), 5);
}
END_TEST

START_TEST(test_recv_bad_and_transient)
{
	deliver(1, "bob", 1, 0x10, "", 0, 1);
	deliver(0, "bob", 1, 0x11, "", 1, 0);
	deliver(2, "bob", 1, 0x12, "fine", 0, 0);
	ck_assert(ct_wait_msgs(base, &rec, 1, 5000));
	wait_ack(2);
	/* The garbage is reported and passed (the cursor goes on). */
	ck_assert_uint_eq(rec.errors, 1);
	ck_assert_int_eq(rec.last_error, IRIS_ENOTSUP);
	ck_assert_str_eq(rec.msgs[0].body, "fine");
	/* Typing: reported, never acked (seq 0 has no place). */
	ck_assert_int_eq(rec.typing, 1);
	ck_assert_uint_eq(stored_cursor(), 2);
}
END_TEST

START_TEST(test_recv_receipt)
{
	struct iris_wire_msg m;
	iris_v1_Deliver *d = &m.f.body.deliver;
	uint8_t id[16];

	send_n(1, 0);
	wait_sent(1);
	ack(0);			/* msg id 1000 */
	wait_acked(1);
	memcpy(id, peer.s[0].cmid, 16);
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_deliver_tag;
	d->seq = 1;
	d->has_receipt = true;
	d->receipt.msg_id = 1000;
	d->receipt.user.size = 3;
	memcpy(d->receipt.user.bytes, "bob", 3);
	d->receipt.device_id = 2;
	d->receipt.delivered_ms = 1764000000001ULL;
	settle();	/* the ack's record is committed */
	peer_write(&m);
	wait_ack(1);
	ck_assert_uint_eq(rec.receipts, 1);
	ck_assert(memcmp(rec.receipt_id, id, 16) == 0);
	ck_assert_str_eq(rec.receipt_user, "bob");
}
END_TEST

/*
 * The durable cursor moved behind the client's back (another process of
 * the same account): the commit that expected it elsewhere is refused,
 * the pipeline starts again from the store's cursor, nothing loops.
 */
START_TEST(test_recv_cursor_moved)
{
	struct iris_cs_txn *t;
	int sv[2], done = 0;

	deliver(1, "bob", 1, 0x41, "c0", 0, 0);
	wait_ack(1);
	t = iris__client_txn(c, made, &done);
	ck_assert_int_eq(iris__cs_op_cursor(t, c->acct, 5), IRIS_OK);
	ck_assert_int_eq(iris__client_submit(c, t), IRIS_OK);
	ck_assert(run_until(base, is_done, &done, 5000));
	deliver(2, "bob", 1, 0x42, "c1", 0, 0);
	ck_assert(ct_wait_offline(base, &rec, 0, 5000));
	ck_assert_uint_eq(c->rx_cursor, 5);
	ck_assert_uint_eq(stored_cursor(), 5);
	peer_close();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(iris__conn_adopt(c, sv[0]), IRIS_OK);
	peer_open(sv[1]);
	c->rx_last = c->rx_cursor;	/* what a login does */
	deliver(6, "bob", 1, 0x46, "c5", 0, 0);
	wait_ack(6);
	ck_assert_uint_eq(stored_cursor(), 6);
	ck_assert_str_eq(rec.msgs[rec.nmsgs - 1].body, "c5");
}
END_TEST

/* More than the window at once: paced by pausing reads, all in order. */
START_TEST(test_recv_window)
{
	char body[32];
	int i, n = IRIS_CLIENT_RX_WINDOW + 100;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "w%d", i);
		deliver((uint64_t)i + 1, "bob", 1, 0, body, 0, 0);
	}
	ck_assert(ct_wait_msgs(base, &rec, (size_t)n, 10000));
	wait_ack((uint64_t)n);
	ck_assert_uint_ge(c->rx_pauses, 1);	/* the window held */
	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "w%d", i);
		ck_assert_str_eq(rec.msgs[i].body, body);
	}
}
END_TEST

/*
 * A sealer that keeps state: per peer device, how many envelopes it
 * sealed and opened, read from what is committed and written through the
 * transaction it is given (the plain framing does the envelopes).
 */
static struct iris_client *sealer_client;
static int sealer_resets;

static uint32_t
count_get(const char *kind, const char *user, uint32_t dev)
{
	struct iris_buf b;
	char name[128];
	uint32_t n = 0;
	struct iris_rd r;
	int rc;

	snprintf(name, sizeof(name), "%s:%s/%u", kind, user, dev);
	iris__buf_init(&b, 0);
	rc = iris__seal_state_get(sealer_client, name, strlen(name), &b);
	ck_assert(rc == IRIS_OK || rc == IRIS_ENOTFOUND);
	if (rc == IRIS_OK) {
		iris__rd_init(&r, b.p, b.len);
		n = iris__rd_u32(&r);
	}
	iris__buf_free(&b);
	return n;
}

static int
count_put(struct iris_cs_txn *t, const char *kind, const char *user,
    uint32_t dev)
{
	uint8_t v[4];
	uint32_t n = count_get(kind, user, dev) + 1;
	char name[128];

	snprintf(name, sizeof(name), "%s:%s/%u", kind, user, dev);
	v[0] = (uint8_t)(n >> 24), v[1] = (uint8_t)(n >> 16);
	v[2] = (uint8_t)(n >> 8), v[3] = (uint8_t)n;
	return iris__seal_state_put(sealer_client, t, name, strlen(name), v,
	    4);
}

static int
t_create(void **self, struct iris_client *cl)
{
	*self = cl;
	sealer_client = cl;
	return IRIS_OK;
}

static void
t_destroy(void *self)
{
	(void)self;
}

static int
t_seal(void *self, struct iris_cs_txn *t, const char *user, uint32_t dev,
    const struct iris__content *in, struct iris_buf *out)
{
	int rc;

	if ((rc = count_put(t, "sealed", user, dev)) != IRIS_OK)
		return rc;
	return iris__seal_plain.seal(self, t, user, dev, in, out);
}

static int
t_open(void *self, struct iris_cs_txn *t, const char *user, uint32_t dev,
    const uint8_t *env, size_t len, struct iris__content *out,
    struct iris_buf *keep)
{
	int rc;

	if ((rc = count_put(t, "opened", user, dev)) != IRIS_OK)
		return rc;
	return iris__seal_plain.open(self, t, user, dev, env, len, out, keep);
}

static void
t_reset(void *self)
{
	(void)self;
	sealer_resets++;
}

static const struct iris__sealer_ops counting_sealer = {
	"counting", 0, t_create, t_destroy, t_seal, t_open, t_reset, NULL,
};

static int
queued_is(void *arg)
{
	return rec.queued >= *(size_t *)arg;
}

START_TEST(test_seal_state_commits)
{
	size_t one = 1;
	uint32_t dev;

	c->seal->destroy(c->sealer);
	c->seal = &counting_sealer;
	ck_assert_int_eq(c->seal->create(&c->sealer, c), IRIS_OK);
	/* A send's state commits with its envelopes, before they leave. */
	send_n(1, 0);
	ck_assert(run_until(base, queued_is, &one, 5000));
	ck_assert_uint_eq(count_get("sealed", "bob", 1), 1);
	ck_assert_uint_eq(count_get("sealed", "bob", 2), 1);
	wait_sent(1);
	/* A receive's state commits after the callback, with the cursor. */
	deliver(1, "bob", 2, 0x31, "s0", 0, 0);
	ck_assert(ct_wait_msgs(base, &rec, 1, 5000));
	wait_ack(1);
	ck_assert_uint_eq(count_get("opened", "bob", 2), 1);
	/* Freed in the callback: nothing of that receive is kept. */
	rec.free_in_message = 1;
	deliver(2, "bob", 2, 0x32, "s1", 0, 0);
	ck_assert(ct_wait_msgs(base, &rec, 2, 5000));
	ck_assert_ptr_null(rec.c);
	c = NULL;
	peer_close();
	ct_rec_free(&rec);
	client_up(0);
	sealer_client = c;
	ck_assert_uint_eq(count_get("opened", "bob", 2), 1);
	ck_assert_uint_eq(c->rx_cursor, 1);
	iris_client_user(c, &dev);
	ck_assert_uint_eq(dev, 1);
}
END_TEST

/* Every allocation of a send and of a new object failing in turn. */
START_TEST(test_client_oom)
{
	struct iris_client_config *cfg;
	struct iris_client *c2;
	unsigned long nth;
	uint8_t id[16];
	size_t before = iris_client_outbox(c);
	int rc, failed = 0;

	settle();
	for (nth = 1; nth < 200; nth++) {
		iris__alloc_fail_after(nth);
		rc = iris_client_send(c, "bob", 0, "oom", 3, id);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		ck_assert_uint_eq(iris_client_outbox(c), before);
		failed++;
	}
	ck_assert_uint_lt(nth, 200);
	ck_assert_int_gt(failed, 0);
	ck_assert_uint_eq(iris_client_outbox(c), before + 1);
	wait_sent(1);
	ck_assert_str_eq(peer.s[0].body, "oom");
	/* A second object of the same account, made under failures. */
	cfg = ct_config(1, "00000000000000000000000000000000"
	    "00000000000000000000000000000000", "alice", NULL);
	settle();
	for (nth = 1, failed = 0; nth < 400; nth++) {
		iris__alloc_fail_after(nth);
		rc = iris_client_new(&c2, base, store, cfg);
		iris__alloc_fail_after(0);
		if (rc == IRIS_OK)
			break;
		ck_assert_ptr_null(c2);
		failed++;
	}
	ck_assert_uint_lt(nth, 400);
	ck_assert_int_gt(failed, 0);
	ck_assert_uint_eq(iris_client_outbox(c2), 1);
	iris_client_free(c2);
	iris_client_config_free(cfg);
}
END_TEST

Suite *
suite_client(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("outbox");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_outbox_order);
	tcase_add_test(tc, test_outbox_retry_after);
	tcase_add_test(tc, test_outbox_stale);
	tcase_add_test(tc, test_outbox_permanent);
	tcase_add_test(tc, test_outbox_reconnect_restart);
	tcase_add_test(tc, test_outbox_paced);
	tcase_add_test(tc, test_outbox_limits);
	tcase_add_test(tc, test_outbox_backoff);
	tcase_add_test(tc, test_client_oom);
	suite_add_tcase(s, tc);
	tc = tcase_create("recv");
	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_recv_order_and_dedup);
	tcase_add_test(tc, test_recv_bad_and_transient);
	tcase_add_test(tc, test_recv_receipt);
	tcase_add_test(tc, test_recv_window);
	tcase_add_test(tc, test_recv_cursor_moved);
	tcase_add_test(tc, test_seal_state_commits);
	suite_add_tcase(s, tc);
	return s;
}

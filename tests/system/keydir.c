/* SPDX-License-Identifier: ISC */
/*
 * The key directory against a real engine on this process's loop, over
 * TLS on loopback, every frame decoded by the real codec and every
 * signature made and checked here with libsodium: uploads (idempotent,
 * capped, each bad input refused with its own error and nothing stored),
 * fetches of a user's listed devices with their signed device list, one
 * device's pool drained by many concurrent fetchers (seeded) with every
 * one-time prekey handed out exactly once and then the signed prekey
 * alone, prekey_low notices, signed prekey rotation with the grace period
 * on a moved clock, and a restart that keeps every key.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>
#include <sodium.h>
#include <sqlite3.h>

#include "iris.h"
#include "iris_server.h"
#include "core/core.h"
#include "engine/engine.h"
#include "store/keys.h"
#include "util/clock.h"

#include "msgclient.h"

#define T		10000
#define MAX_PREKEYS	300
#define LOW		20
#define GRACE_MS	(3600 * 1000ULL)	/* signed_prekey_grace 1h */
#define NFETCHERS	8
#define MAXID		1024

static int failures;
static struct event_base *base;
static struct iris_engine *eng;
static char fp[65];
static int port;
static uint64_t fake_now;		/* the core's clock */

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "keydir: line %d: ", __LINE__);		\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static uint64_t
clock_now(void *arg)
{
	(void)arg;
	return fake_now;
}

/* prekey_low pushes seen, by connection. */
static struct {
	struct ac_conn	*c;
	uint32_t	 remaining;
} lows[256];
static int nlows;

static void
note(struct ac_conn *c, const struct iris_wire_msg *r)
{
	if (r->f.which_body == iris_v1_Frame_prekey_low_tag &&
	    nlows < (int)(sizeof(lows) / sizeof(lows[0]))) {
		lows[nlows].c = c;
		lows[nlows++].remaining = r->f.body.prekey_low.remaining;
	}
}

/* Lows of c since the last call, in order, into out. */
static int
take_lows(struct ac_conn *c, uint32_t *out, int max)
{
	int i, k, n = 0;

	for (i = k = 0; i < nlows; i++)
		if (lows[i].c == c) {
			if (n < max)
				out[n] = lows[i].remaining;
			n++;
		} else
			lows[k++] = lows[i];
	nlows = k;
	return n;
}

/* Sends m and waits for its answer, noting pushes on the way: the
 * answer's error code, 0 for success, -1 for none. */
static int
ask(struct ac_conn *c, struct iris_wire_msg *m, struct iris_wire_msg **ans)
{
	struct iris_wire_msg *r;
	uint64_t rid = m->f.request_id;

	wc_send(&c->w, m);
	for (;;) {
		if ((r = wc_next(&c->w, T)) == NULL)
			return -1;
		if (r->f.request_id == 0 && rid != 0) {
			note(c, r);
			continue;
		}
		if (ans != NULL)
			*ans = r;
		return r->f.which_body == iris_v1_Frame_error_tag ?
		    (int)r->f.body.error.code : 0;
	}
}

/* Takes pushes that came already (runs the loop briefly for them). */
static void
drain(struct ac_conn *c)
{
	struct iris_wire_msg *r;

	while ((r = wc_next(&c->w, 50)) != NULL)
		note(c, r);
}

/* A device's public keys, derived so that a fetch can be checked. */
static void
derive(uint8_t out[32], const struct ac_dev *d, int kind, uint32_t id,
    uint32_t variant)
{
	uint8_t in[80];
	size_t n = strlen(d->user);

	memcpy(in, d->user, n);
	in[n++] = (uint8_t)d->id;
	in[n++] = (uint8_t)kind;
	memcpy(in + n, &id, 4);
	memcpy(in + n + 4, &variant, 4);
	crypto_generichash(out, 32, in, n + 8, NULL, 0);
}

static size_t
spk_string(uint8_t *msg, uint32_t id, const uint8_t pub[32],
    uint64_t created)
{
	int i;

	memcpy(msg, "IRIS-SPK-v1", 11);
	for (i = 0; i < 4; i++)
		msg[11 + i] = (uint8_t)(id >> (24 - 8 * i));
	memcpy(msg + 15, pub, 32);
	for (i = 0; i < 8; i++)
		msg[47 + i] = (uint8_t)(created >> (56 - 8 * i));
	return 55;
}

static void
make_spk(iris_v1_SignedPrekey *k, const struct ac_dev *d,
    const struct ac_dev *signer, uint32_t id, uint64_t created)
{
	uint8_t msg[64];

	k->id = id;
	k->created_ms = created;
	derive(k->public_key, d, 1, id, 0);
	crypto_sign_detached(k->signature, NULL, msg, spk_string(msg, id,
	    k->public_key, created), signer->sk);
}

/* An upload by d: a signed prekey (spk_id 0: none) and n one-time
 * prekeys from first on (variant changes their keys). */
static void
upload(struct iris_wire_msg *m, uint64_t rid, const struct ac_dev *d,
    uint32_t spk_id, uint64_t created, uint32_t first, int n,
    uint32_t variant)
{
	iris_v1_KeyBundleUpload *u = &m->f.body.key_bundle_upload;
	int i;

	iris__wire_msg_init(m);
	m->f.request_id = rid;
	m->f.which_body = iris_v1_Frame_key_bundle_upload_tag;
	if (spk_id != 0) {
		u->has_signed_prekey = true;
		make_spk(&u->signed_prekey, d, d, spk_id, created);
	}
	for (i = 0; i < n; i++) {
		u->one_time_prekeys[i].id = first + (uint32_t)i;
		derive(u->one_time_prekeys[i].public_key, d, 2,
		    first + (uint32_t)i, variant);
	}
	u->one_time_prekeys_count = (pb_size_t)n;
}

static void
fetch_msg(struct iris_wire_msg *m, uint64_t rid, const char *user,
    const uint32_t *ids, int n)
{
	iris_v1_KeyBundleFetch *f = &m->f.body.key_bundle_fetch;

	iris__wire_msg_init(m);
	m->f.request_id = rid;
	m->f.which_body = iris_v1_Frame_key_bundle_fetch_tag;
	f->user.size = (pb_size_t)strlen(user);
	memcpy(f->user.bytes, user, f->user.size);
	if (n > 0)
		memcpy(f->device_ids, ids, (size_t)n * sizeof(*ids));
	f->device_ids_count = (pb_size_t)n;
}

static uint32_t
pool_of(const struct ac_dev *d)
{
	uint32_t pool = 0;
	int spk;

	EXPECT(iris__keys_state(eng->store, d->user, d->id, &pool, &spk) ==
	    IRIS_OK, "key state of %s/%u", d->user, d->id);
	return pool;
}

/* The ids of d's signed prekeys in the store, ascending, as a number
 * with one decimal digit per id (ids here are < 10). */
static int
spks_stored(const struct ac_dev *d)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = 0;

	if (sqlite3_open_v2("data/iris.db", &db, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT id FROM signed_prekeys WHERE"
	    " user = ?1 AND device = ?2 ORDER BY id", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, d->user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, d->id);
		while (sqlite3_step(st) == SQLITE_ROW)
			v = v * 10 + sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	} else
		v = -1;
	sqlite3_close(db);
	return v;
}

/* Protocol buffers written by hand, for what the codec cannot encode. */
struct pbw {
	uint8_t		 b[8192];
	size_t		 n;
};

static void
pb_varint(struct pbw *w, uint64_t v)
{
	while (v >= 0x80) {
		w->b[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (uint8_t)v;
}

static void
pb_len(struct pbw *w, uint32_t field, const void *p, size_t len)
{
	pb_varint(w, (uint64_t)field << 3 | 2);
	pb_varint(w, len);
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

/* Sends a frame {1: rid, tag: body} and returns its answer's code. */
static int
ask_raw(struct ac_conn *c, uint64_t rid, uint32_t tag, const struct pbw *body,
    struct iris_wire_msg **ans)
{
	struct pbw f;
	uint8_t hdr[4];
	struct iris_wire_msg *r;

	f.n = 0;
	pb_varint(&f, 1 << 3);
	pb_varint(&f, rid);
	pb_len(&f, tag, body->b, body->n);
	hdr[0] = (uint8_t)(f.n >> 24);
	hdr[1] = (uint8_t)(f.n >> 16);
	hdr[2] = (uint8_t)(f.n >> 8);
	hdr[3] = (uint8_t)f.n;
	wc_send_raw(&c->w, hdr, 4);
	wc_send_raw(&c->w, f.b, f.n);
	while ((r = wc_next(&c->w, T)) != NULL && r->f.request_id == 0)
		note(c, r);
	if (ans != NULL)
		*ans = r;
	if (r == NULL || r->f.request_id != rid)
		return -1;
	return r->f.which_body == iris_v1_Frame_error_tag ?
	    (int)r->f.body.error.code : 0;
}

/* The connection still answers. */
static int
alive(struct ac_conn *c)
{
	struct iris_wire_msg m, *r;

	wc_ping(&m, 77, "still here");
	return ask(c, &m, &r) == 0 && r->f.which_body == iris_v1_Frame_pong_tag;
}

struct world {
	struct mc_user	 a, b, f[NFETCHERS];
	struct ac_dev	 carol;			/* registered, no list */
	struct ac_conn	 cc;
	uint8_t		 inpool[MAXID + 1];	/* alice/1's pool, as known */
};
static struct world W;

static int
start(struct iris_config *cfg)
{
	if (iris_engine_new(&eng, base, cfg) != IRIS_OK) {
		fprintf(stderr, "keydir: no engine\n");
		return -1;
	}
	iris__core_set_clock(eng->core, clock_now, NULL);
	port = iris_engine_port(eng, 0);
	iris_engine_fingerprint(eng, fp, sizeof(fp));
	return 0;
}

static void
close_all(struct world *w)
{
	int i;

	mc_user_close(&w->a);
	mc_user_close(&w->b);
	for (i = 0; i < NFETCHERS; i++)
		mc_user_close(&w->f[i]);
	wc_close(&w->cc.w);
}

static void
users(struct world *w)
{
	char name[32];
	int i;

	EXPECT(mc_user_new(&w->a, "alice", 2, base, port, fp, NULL) == 0,
	    "alice");
	EXPECT(mc_user_new(&w->b, "bob", 1, base, port, fp, NULL) == 0, "bob");
	for (i = 0; i < NFETCHERS; i++) {
		snprintf(name, sizeof(name), "fetcher%d", i);
		EXPECT(mc_user_new(&w->f[i], name, 1, base, port, fp, NULL) ==
		    0, "%s", name);
	}
	ac_dev_new(&w->carol, "carol");
	EXPECT(ac_open(&w->cc, base, port, fp, NULL, 0) == 0 &&
	    ac_register(&w->cc, &w->carol, NULL, NULL, 0) == 0 &&
	    ac_login(&w->cc, &w->carol, AC_SIGN, NULL) == 0, "carol");
}

static void
pb_uint(struct pbw *w, uint32_t field, uint64_t v)
{
	pb_varint(w, (uint64_t)field << 3);
	pb_varint(w, v);
}

/* A prekey message {1: id, 2: key of klen [, 3: sig of slen, 4: ms]}. */
static void
pb_prekey(struct pbw *w, uint32_t field, uint32_t id, size_t klen,
    size_t slen)
{
	uint8_t bytes[128];
	struct pbw in;

	memset(bytes, 0x42, sizeof(bytes));
	in.n = 0;
	pb_uint(&in, 1, id);
	pb_len(&in, 2, bytes, klen);
	if (slen > 0) {
		pb_len(&in, 3, bytes, slen);
		pb_uint(&in, 4, 1000);
	}
	pb_len(w, field, in.b, in.n);
}

static void
bad_uploads(struct ac_conn *c, const struct ac_dev *d)
{
	struct iris_wire_msg *r;
	struct pbw b;
	int i;

	b.n = 0;
	pb_prekey(&b, 2, 5, 31, 0);
	EXPECT(ask_raw(c, 30, iris_v1_Frame_key_bundle_upload_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "a 31-byte one-time prekey");
	EXPECT(r != NULL && strstr(r->f.body.error.detail, "32 bytes") !=
	    NULL, "detail: %s", r != NULL ? r->f.body.error.detail : "-");
	EXPECT(alive(c), "the connection goes on after a bad key size");
	b.n = 0;
	pb_prekey(&b, 1, 9, 32, 63);
	EXPECT(ask_raw(c, 31, iris_v1_Frame_key_bundle_upload_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "a 63-byte signature");
	b.n = 0;
	pb_prekey(&b, 1, 9, 33, 64);
	EXPECT(ask_raw(c, 32, iris_v1_Frame_key_bundle_upload_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "a 33-byte signed prekey");
	b.n = 0;
	for (i = 0; i < 101; i++)
		pb_prekey(&b, 2, 500 + (uint32_t)i, 32, 0);
	EXPECT(ask_raw(c, 33, iris_v1_Frame_key_bundle_upload_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "101 one-time prekeys");
	EXPECT(r != NULL && strstr(r->f.body.error.detail, "more than 100") !=
	    NULL, "detail: %s", r != NULL ? r->f.body.error.detail : "-");
	b.n = 0;
	EXPECT(ask_raw(c, 34, iris_v1_Frame_key_bundle_upload_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "an empty upload");
	EXPECT(alive(c), "the connection goes on after bad uploads");
	EXPECT(pool_of(d) == MAX_PREKEYS && spks_stored(d) == 1,
	    "bad uploads changed the directory");
}

static void
uploads(struct world *w)
{
	struct ac_conn *c = &w->a.c[0], tmp;
	struct ac_dev *d = &w->a.dev[0];
	struct iris_wire_msg m, *r;
	uint32_t i;

	upload(&m, 10, d, 1, 1000, 1, 100, 0);
	EXPECT(ask(c, &m, &r) == 0 && r->f.which_body ==
	    iris_v1_Frame_done_tag, "first upload");
	EXPECT(pool_of(d) == 100, "pool %u", pool_of(d));
	upload(&m, 11, d, 1, 1000, 1, 100, 0);
	EXPECT(ask(c, &m, NULL) == 0, "the same upload again (a retry)");
	EXPECT(pool_of(d) == 100, "a retry added keys: %u", pool_of(d));
	upload(&m, 12, d, 0, 0, 101, 100, 0);
	EXPECT(ask(c, &m, NULL) == 0, "one-time prekeys 101-200");
	upload(&m, 13, d, 0, 0, 201, 100, 0);
	EXPECT(ask(c, &m, NULL) == 0, "one-time prekeys 201-300");
	EXPECT(pool_of(d) == MAX_PREKEYS, "pool %u", pool_of(d));
	for (i = 1; i <= MAX_PREKEYS; i++)
		w->inpool[i] = 1;

	upload(&m, 14, d, 0, 0, 301, 1, 0);
	EXPECT(ask(c, &m, &r) == iris_v1_ErrorCode_ERR_BAD_REQUEST &&
	    strstr(r->f.body.error.detail, "max_prekeys") != NULL,
	    "past the pool's cap");
	upload(&m, 15, d, 0, 0, 5, 1, 1);
	EXPECT(ask(c, &m, &r) == iris_v1_ErrorCode_ERR_BAD_REQUEST &&
	    strstr(r->f.body.error.detail, "another key") != NULL,
	    "a one-time prekey id again with another key");
	upload(&m, 16, d, 0, 0, 400, 2, 0);
	m.f.body.key_bundle_upload.one_time_prekeys[1].id = 400;
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_REQUEST,
	    "an id twice in one upload");
	upload(&m, 17, d, 2, 2000, 0, 0, 0);
	m.f.body.key_bundle_upload.signed_prekey.signature[5] ^= 1;
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_SIGNATURE,
	    "a signed prekey with a bad signature");
	upload(&m, 18, d, 2, 2000, 0, 0, 0);
	make_spk(&m.f.body.key_bundle_upload.signed_prekey, d, &w->a.dev[1],
	    2, 2000);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_SIGNATURE,
	    "a signed prekey signed by another device");
	upload(&m, 19, d, 2, 999, 0, 0, 0);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_STALE_VERSION,
	    "a signed prekey older than the current one");
	upload(&m, 20, d, 1, 5000, 0, 0, 0);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_REQUEST,
	    "signed prekey id 1 again with another signature");
	EXPECT(pool_of(d) == MAX_PREKEYS && spks_stored(d) == 1,
	    "refused uploads changed the directory: pool %u, spks %d",
	    pool_of(d), spks_stored(d));
	bad_uploads(c, d);

	upload(&m, 21, &w->a.dev[1], 1, 1000, 1, 30, 0);
	EXPECT(ask(&w->a.c[1], &m, NULL) == 0, "alice/2's upload");
	EXPECT(ac_open(&tmp, base, port, fp, NULL, 0) == 0, "connect");
	upload(&m, 22, d, 1, 1000, 1, 1, 0);
	EXPECT(ask(&tmp, &m, NULL) == iris_v1_ErrorCode_ERR_NOT_AUTHENTICATED,
	    "an upload before login");
	wc_close(&tmp.w);
}

static int
spk_verifies(const iris_v1_SignedPrekey *k, const struct ac_dev *d)
{
	uint8_t msg[64];

	return crypto_sign_verify_detached(k->signature, msg,
	    spk_string(msg, k->id, k->public_key, k->created_ms), d->pk) == 0;
}

/* Every bundle is the device's, signed by it, with the derived keys;
 * the device list verifies under the primary. */
static void
check_bundles(struct world *w, const iris_v1_KeyBundles *kb)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[15 + 4096], pub[32];
	const iris_v1_KeyBundle *b;
	const struct ac_dev *d;
	pb_istream_t in;
	pb_size_t i;

	for (i = 0; i < kb->bundles_count; i++) {
		b = &kb->bundles[i];
		EXPECT(b->device_id == 1 || b->device_id == 2, "device %u",
		    b->device_id);
		if (b->device_id != 1 && b->device_id != 2)
			continue;
		d = &w->a.dev[b->device_id - 1];
		EXPECT(memcmp(b->identity_key, d->pk, 32) == 0,
		    "identity key of %u", b->device_id);
		EXPECT(b->has_signed_prekey && spk_verifies(&b->signed_prekey,
		    d), "signed prekey of %u", b->device_id);
		if (b->has_one_time_prekey) {
			derive(pub, d, 2, b->one_time_prekey.id, 0);
			EXPECT(memcmp(pub, b->one_time_prekey.public_key, 32) ==
			    0, "one-time prekey %u of %u",
			    b->one_time_prekey.id, b->device_id);
		}
	}
	EXPECT(kb->has_device_list, "no device list with the bundles");
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, kb->device_list.list.bytes, kb->device_list.list.size);
	EXPECT(crypto_sign_verify_detached(kb->device_list.signature, msg,
	    15 + kb->device_list.list.size, w->a.dev[0].pk) == 0,
	    "device list signature");
	in = pb_istream_from_buffer(kb->device_list.list.bytes,
	    kb->device_list.list.size);
	EXPECT(pb_decode(&in, iris_v1_DeviceList_fields, &dl) &&
	    dl.version == w->a.version && dl.devices_count == 2,
	    "device list version %llu", (unsigned long long)dl.version);
}

static void
bad_fetches(struct world *w, struct ac_conn *c)
{
	static const uint32_t nine[] = { 9 }, zero[] = { 0 }, two2[] = { 2, 2 };
	struct iris_wire_msg m, *r;
	uint8_t ids[80];
	struct pbw b;
	int i;

	fetch_msg(&m, 50, "nobody", NULL, 0);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_UNKNOWN_USER,
	    "fetch of an unknown user");
	fetch_msg(&m, 51, "alice", nine, 1);
	EXPECT(ask(c, &m, &r) == iris_v1_ErrorCode_ERR_UNKNOWN_DEVICE,
	    "fetch of an unknown device");
	fetch_msg(&m, 52, "carol", NULL, 0);
	EXPECT(ask(c, &m, &r) == iris_v1_ErrorCode_ERR_NOT_FOUND &&
	    strstr(r->f.body.error.detail, "device list") != NULL,
	    "fetch of a user without a device list");
	fetch_msg(&m, 53, "bad user", NULL, 0);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_REQUEST,
	    "fetch with a bad user id");
	fetch_msg(&m, 54, "alice", zero, 1);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_REQUEST,
	    "fetch of device 0");
	fetch_msg(&m, 55, "alice", two2, 2);
	EXPECT(ask(c, &m, NULL) == iris_v1_ErrorCode_ERR_BAD_REQUEST,
	    "fetch naming a device twice");
	b.n = 0;
	pb_len(&b, 1, "alice", 5);
	for (i = 0; i < 65; i++)
		ids[i] = (uint8_t)(i + 1);
	pb_len(&b, 2, ids, 65);		/* packed, each one byte */
	EXPECT(ask_raw(c, 56, iris_v1_Frame_key_bundle_fetch_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "fetch of 65 devices");
	b.n = 0;
	memset(ids, 'x', sizeof(ids));
	pb_len(&b, 1, ids, 65);
	EXPECT(ask_raw(c, 57, iris_v1_Frame_key_bundle_fetch_tag, &b, &r) ==
	    iris_v1_ErrorCode_ERR_BAD_REQUEST, "fetch of a 65-byte user id");
	EXPECT(alive(c), "the connection goes on after bad fetches");
	EXPECT(pool_of(&w->a.dev[0]) == MAX_PREKEYS - 1 &&
	    pool_of(&w->a.dev[1]) == 28, "bad fetches took keys");
}

static void
fetches(struct world *w)
{
	static const uint32_t two[] = { 2 }, one[] = { 1 };
	struct ac_conn *c = &w->b.c[0];
	const iris_v1_KeyBundles *kb;
	struct iris_wire_msg m, *r;
	pb_size_t i;

	fetch_msg(&m, 40, "alice", NULL, 0);
	EXPECT(ask(c, &m, &r) == 0 && r->f.which_body ==
	    iris_v1_Frame_key_bundles_tag, "fetch of alice");
	if (r == NULL || r->f.which_body != iris_v1_Frame_key_bundles_tag)
		return;
	kb = &r->f.body.key_bundles;
	EXPECT(kb->bundles_count == 2, "%u bundles", kb->bundles_count);
	for (i = 0; i < kb->bundles_count; i++)
		EXPECT(kb->bundles[i].has_one_time_prekey &&
		    kb->bundles[i].one_time_prekey.id == 1,
		    "device %u: first one-time prekey not handed out",
		    kb->bundles[i].device_id);
	check_bundles(w, kb);
	w->inpool[1] = 0;
	fetch_msg(&m, 41, "alice", two, 1);
	EXPECT(ask(c, &m, &r) == 0 && r->f.body.key_bundles.bundles_count ==
	    1 && r->f.body.key_bundles.bundles[0].device_id == 2 &&
	    r->f.body.key_bundles.bundles[0].one_time_prekey.id == 2,
	    "fetch of alice/2");
	if (r != NULL && r->f.which_body == iris_v1_Frame_key_bundles_tag)
		check_bundles(w, &r->f.body.key_bundles);
	bad_fetches(w, c);
	/* A listed device without a bundle: left out, or refused named. */
	fetch_msg(&m, 42, "bob", NULL, 0);
	EXPECT(ask(c, &m, &r) == 0 && r->f.body.key_bundles.bundles_count ==
	    0 && r->f.body.key_bundles.has_device_list,
	    "fetch of bob, who has no keys");
	fetch_msg(&m, 43, "bob", one, 1);
	EXPECT(ask(c, &m, &r) == iris_v1_ErrorCode_ERR_NOT_FOUND &&
	    strstr(r->f.body.error.detail, "signed prekey") != NULL,
	    "fetch of bob/1 by name");
}

static uint32_t rng;

static uint32_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static int
all_answered(void *arg)
{
	size_t *want = arg, n = 0;
	int i;

	/* A frame handed out before (taken) is still in n until the next
	 * wc_next drops it: not an answer of this round. */
	for (i = 0; i < NFETCHERS; i++)
		n += W.f[i].c[0].w.n - (size_t)(W.f[i].c[0].w.taken != 0);
	return n >= *want;
}

static uint64_t
stat(const char *name)
{
	uint64_t v = 0;

	iris_engine_stat(eng, name, &v);
	return v;
}

/* Takes fetcher i's answers: one-time prekey ids into seen. */
static void
take_answers(struct world *w, int i, uint8_t *seen, int *got, int *last,
    int *bad)
{
	const iris_v1_KeyBundle *b;
	struct iris_wire_msg *r;
	uint8_t pub[32];
	uint32_t id;

	while ((r = wc_next(&w->f[i].c[0].w, 0)) != NULL) {
		if (r->f.which_body != iris_v1_Frame_key_bundles_tag ||
		    r->f.body.key_bundles.bundles_count != 1) {
			if ((*bad)++ < 3)
				fprintf(stderr, "keydir: fetcher %d: %s %s\n", i,
				    iris__wire_bodyname(r->f.which_body),
				    r->f.which_body == iris_v1_Frame_error_tag ?
				    r->f.body.error.detail : "");
			continue;
		}
		b = &r->f.body.key_bundles.bundles[0];
		EXPECT(b->has_signed_prekey && b->signed_prekey.id == 1,
		    "a bundle without the signed prekey");
		if (!b->has_one_time_prekey) {
			(*last)++;
			continue;
		}
		id = b->one_time_prekey.id;
		derive(pub, &w->a.dev[0], 2, id, 0);
		if (id > MAXID || !w->inpool[id] || seen[id] ||
		    memcmp(pub, b->one_time_prekey.public_key, 32) != 0) {
			if ((*bad)++ < 3)
				fprintf(stderr, "keydir: one-time prekey %u "
				    "handed out %s\n", id, seen[id] ? "twice" :
				    "that was not in the pool");
			continue;
		}
		seen[id] = 1;
		(*got)++;
	}
}

/* Many connections fetch alice/1 at once, past the end of its pool. */
static void
concurrent(struct world *w, unsigned seed)
{
	static const uint32_t one[] = { 1 };
	static uint8_t seen[MAXID + 1];
	struct iris_wire_msg m;
	uint64_t t0 = iris__clock_mono_us(), out0, last0, commits0, commits,
	    maxb = 0;
	uint32_t pool = pool_of(&w->a.dev[0]), low[8];
	size_t total, sent = 0;
	int i, k, got = 0, last = 0, bad = 0, nl;

	rng = seed != 0 ? seed : 1;
	total = pool + 61;
	iris_store_stat(eng->store, "commits", &commits0);
	out0 = stat("prekeys_handed_out");
	last0 = stat("prekeys_exhausted");
	while (sent < total) {
		i = (int)(next_rand() % NFETCHERS);
		for (k = 1 + (int)(next_rand() % 8); k > 0 && sent < total;
		    k--) {
			fetch_msg(&m, 1000 + sent, "alice", one, 1);
			wc_send(&w->f[i].c[0].w, &m);
			sent++;
		}
		if (next_rand() % 3 == 0)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	EXPECT(run_until(base, all_answered, &total, 30000),
	    "%zu fetches not all answered", total);
	iris_store_stat(eng->store, "commits", &commits);
	iris_store_stat(eng->store, "max_batch", &maxb);
	for (i = 0; i < NFETCHERS; i++)
		take_answers(w, i, seen, &got, &last, &bad);
	EXPECT(bad == 0, "%d bad answers", bad);
	EXPECT(got == (int)pool && last == (int)(total - pool),
	    "%d one-time prekeys and %d last-resort bundles for a pool of %u "
	    "and %zu fetches", got, last, pool, total);
	for (k = 1; k <= MAXID; k++)
		EXPECT(w->inpool[k] == seen[k], "one-time prekey %d %s", k,
		    seen[k] ? "handed out unasked" : "never handed out");
	memset(w->inpool, 0, sizeof(w->inpool));
	EXPECT(stat("prekeys_handed_out") - out0 == pool &&
	    stat("prekeys_exhausted") - last0 == total - pool,
	    "key counters");
	EXPECT(pool_of(&w->a.dev[0]) == 0, "pool not empty");
	printf("keydir: %zu fetches over %d connections in %llu commits "
	    "(largest batch %llu jobs): %d one-time prekeys each handed out "
	    "once, %d with the signed prekey alone, %llu ms\n", total,
	    NFETCHERS, (unsigned long long)(commits - commits0),
	    (unsigned long long)maxb, got, last,
	    (unsigned long long)((iris__clock_mono_us() - t0) / 1000));
	/* The owner heard when its pool went below the mark and ran out. */
	drain(&w->a.c[0]);
	drain(&w->a.c[1]);
	nl = take_lows(&w->a.c[0], low, 8);
	EXPECT(nl == 2 && low[0] == LOW - 1 && low[1] == 0,
	    "alice/1 got %d prekey_low notices (%u, %u)", nl,
	    nl > 0 ? low[0] : 0, nl > 1 ? low[1] : 0);
	EXPECT(take_lows(&w->a.c[1], low, 8) == 0, "alice/2 was told");
}

static void
notices(struct world *w)
{
	struct iris_wire_msg m, *r;
	uint32_t low[8], i;
	int n;

	/* A login with a pool below the mark is told. */
	EXPECT(mc_relogin(&w->a, 0, base, port, fp) == 0, "alice/1 again");
	r = wc_next(&w->a.c[0].w, T);
	EXPECT(r != NULL && r->f.request_id == 0 && r->f.which_body ==
	    iris_v1_Frame_prekey_low_tag && r->f.body.prekey_low.remaining ==
	    0, "no prekey_low after alice/1's login");
	/* Not above it, nor a device without a signed prekey. */
	EXPECT(mc_relogin(&w->a, 1, base, port, fp) == 0 && alive(&w->a.c[1]),
	    "alice/2 again");
	drain(&w->a.c[1]);
	EXPECT(take_lows(&w->a.c[1], low, 8) == 0, "alice/2 (28 keys) told");
	EXPECT(mc_relogin(&w->b, 0, base, port, fp) == 0 && alive(&w->b.c[0]),
	    "bob again");
	drain(&w->b.c[0]);
	EXPECT(take_lows(&w->b.c[0], low, 8) == 0, "bob (no keys) told");
	/* An upload that leaves the pool below the mark: done, then told. */
	upload(&m, 70, &w->a.dev[0], 0, 0, 301, 10, 0);
	EXPECT(ask(&w->a.c[0], &m, NULL) == 0, "ten more");
	for (i = 301; i <= 310; i++)
		w->inpool[i] = 1;
	drain(&w->a.c[0]);
	n = take_lows(&w->a.c[0], low, 8);
	EXPECT(n == 1 && low[0] == 10, "%d notices after the upload", n);
}

/* A fetch of alice/1 (by bob): the signed prekey's and the one-time
 * prekey's ids. */
static void
fetch_one(struct world *w, uint32_t *spk, uint32_t *opk)
{
	static const uint32_t one[] = { 1 };
	struct iris_wire_msg m, *r;

	*spk = *opk = 0;
	fetch_msg(&m, 80, "alice", one, 1);
	if (ask(&w->b.c[0], &m, &r) != 0 ||
	    r->f.body.key_bundles.bundles_count != 1)
		return;
	*spk = r->f.body.key_bundles.bundles[0].signed_prekey.id;
	if (r->f.body.key_bundles.bundles[0].has_one_time_prekey)
		*opk = r->f.body.key_bundles.bundles[0].one_time_prekey.id;
}

static void
rotation(struct world *w)
{
	struct ac_dev *d = &w->a.dev[0];
	struct iris_wire_msg m;
	uint32_t spk, opk;

	fake_now += 24 * 3600 * 1000ULL;
	upload(&m, 90, d, 2, 2000, 0, 0, 0);
	EXPECT(ask(&w->a.c[0], &m, NULL) == 0, "signed prekey 2");
	fetch_one(w, &spk, &opk);
	EXPECT(spk == 2 && opk == 301, "after rotation: spk %u, opk %u", spk,
	    opk);
	EXPECT(spks_stored(d) == 12, "signed prekeys %d", spks_stored(d));
	fake_now += 10 * 60 * 1000;
	upload(&m, 91, d, 3, 3000, 0, 0, 0);
	EXPECT(ask(&w->a.c[0], &m, NULL) == 0, "signed prekey 3");
	EXPECT(spks_stored(d) == 23, "only the previous one is kept: %d",
	    spks_stored(d));
	fake_now += GRACE_MS - 1;
	fetch_one(w, &spk, &opk);
	EXPECT(spk == 3 && opk == 302 && spks_stored(d) == 23,
	    "within the grace period: spk %u, stored %d", spk, spks_stored(d));
	fake_now += 1;
	fetch_one(w, &spk, &opk);
	EXPECT(spk == 3 && opk == 303 && spks_stored(d) == 3,
	    "after the grace period: spk %u, stored %d", spk, spks_stored(d));
	upload(&m, 92, d, 4, 2500, 0, 0, 0);
	EXPECT(ask(&w->a.c[0], &m, NULL) == iris_v1_ErrorCode_ERR_STALE_VERSION,
	    "a signed prekey older than the current one");
	EXPECT(spks_stored(d) == 3, "a refused rotation stored something");
}

static void
restart(struct world *w, struct iris_config *cfg)
{
	uint32_t spk, opk;

	close_all(w);
	iris_engine_free(eng);
	eng = NULL;
	if (start(cfg) != 0) {
		failures++;
		return;
	}
	EXPECT(mc_relogin(&w->b, 0, base, port, fp) == 0, "bob after restart");
	EXPECT(pool_of(&w->a.dev[0]) == 7 && pool_of(&w->a.dev[1]) == 28 &&
	    spks_stored(&w->a.dev[0]) == 3, "the directory after restart");
	fetch_one(w, &spk, &opk);
	EXPECT(spk == 3 && opk == 304, "after restart: spk %u, opk %u", spk,
	    opk);
}

int
main(void)
{
	struct iris_config *cfg;
	struct world *w = &W;
	unsigned seed;
	const char *env;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	seed = (env = getenv("KEYDIR_SEED")) != NULL ?
	    (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
	printf("keydir: seed %u (KEYDIR_SEED=%u repeats it)\n", seed, seed);
	base = event_base_new();
	iris_config_new(&cfg);
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	iris_config_set(cfg, "max_prekeys", "300");
	iris_config_set(cfg, "prekey_low", "20");
	iris_config_set(cfg, "signed_prekey_grace", "1h");
	if (start(cfg) != 0)
		return 1;
	fake_now = (uint64_t)time(NULL) * 1000;
	if (failures == 0)
		users(w);
	if (failures == 0)
		uploads(w);
	if (failures == 0)
		fetches(w);
	if (failures == 0)
		concurrent(w, seed);
	if (failures == 0)
		notices(w);
	if (failures == 0)
		rotation(w);
	if (failures == 0)
		restart(w, cfg);
	close_all(w);
	iris_engine_free(eng);
	iris_config_free(cfg);
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("keydir: uploads, fetches, %d concurrent fetchers, notices, "
	    "rotation, restart: ok\n", NFETCHERS);
	return 0;
}

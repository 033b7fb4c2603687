/* SPDX-License-Identifier: ISC */
/*
 * This device's prekeys (the "keys" record of seal_e2ee.h): made on the
 * first login and kept encrypted in the client store before anything is
 * uploaded; uploaded to the key directory after each login while the
 * server is not known to have them; topped up to a batch of one-time
 * prekeys on a prekey-low notice; the signed prekey rotated after 7 days,
 * the previous private key kept for a 14-day grace period so that
 * envelopes started on it still open. A one-time prekey's private key
 * goes in the commit of the receive that used it.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/seal_e2ee.h"
#include "util/alloc.h"
#include "util/clock.h"

static const char KEYS_NAME[] = "keys";
static const char UP_NAME[] = "keys-up";

static int
spent(const struct e2s *s, uint32_t id)
{
	size_t i;

	for (i = 0; s != NULL && i < s->nspent; i++)
		if (s->spent[i] == id)
			return 1;
	return 0;
}

static int
encode(const struct e2s *s, const struct e2s_keys *k, struct iris_buf *b)
{
	size_t i, n = 0;

	iris__buf_u8(b, E2S_KEYS_VERSION);
	iris__buf_u32(b, k->next_spk_id);
	iris__buf_u32(b, k->next_opk_id);
	iris__buf_u32(b, k->confirmed_opk_id);
	iris__buf_u8(b, k->spk_uploaded ? 1 : 0);
	iris__buf_u32(b, k->spk_id);
	iris__buf_u64(b, k->spk_created_ms);
	iris__buf_put(b, k->spk_sec, 32);
	iris__buf_put(b, k->spk_sig, 64);
	iris__buf_u8(b, k->has_prev ? 1 : 0);
	if (k->has_prev) {
		iris__buf_u32(b, k->prev_id);
		iris__buf_u64(b, k->prev_retired_ms);
		iris__buf_put(b, k->prev_sec, 32);
	}
	for (i = 0; i < k->n; i++)
		n += !spent(s, k->opks[i].id);
	iris__buf_u16(b, (uint16_t)n);
	for (i = 0; i < k->n; i++) {
		if (spent(s, k->opks[i].id))
			continue;
		iris__buf_u32(b, k->opks[i].id);
		iris__buf_put(b, k->opks[i].sec, 32);
	}
	return b->err;
}

int
iris__e2s_keys_encode(const struct e2s_keys *k, struct iris_buf *b)
{
	return encode(NULL, k, b);
}

int
iris__e2s_keys_decode(struct e2s_keys *k, const uint8_t *p, size_t len)
{
	struct iris_rd r;
	uint8_t v, up, prev;
	size_t i;

	memset(k, 0, sizeof(*k));
	iris__rd_init(&r, p, len);
	v = iris__rd_u8(&r);
	if (!r.bad && v != E2S_KEYS_VERSION)
		return IRIS_EVERSION;
	k->next_spk_id = iris__rd_u32(&r);
	k->next_opk_id = iris__rd_u32(&r);
	k->confirmed_opk_id = iris__rd_u32(&r);
	up = iris__rd_u8(&r);
	k->spk_uploaded = up == 1;
	k->spk_id = iris__rd_u32(&r);
	k->spk_created_ms = iris__rd_u64(&r);
	iris__rd_copy(&r, k->spk_sec, 32);
	iris__rd_copy(&r, k->spk_sig, 64);
	prev = iris__rd_u8(&r);
	if ((k->has_prev = prev == 1)) {
		k->prev_id = iris__rd_u32(&r);
		k->prev_retired_ms = iris__rd_u64(&r);
		iris__rd_copy(&r, k->prev_sec, 32);
	}
	k->n = iris__rd_u16(&r);
	if (r.bad || up > 1 || prev > 1 || k->n > E2S_OPK_KEEP) {
		iris__e2ee_wipe(k, sizeof(*k));
		return IRIS_ECORRUPT;
	}
	for (i = 0; i < k->n; i++) {
		k->opks[i].id = iris__rd_u32(&r);
		iris__rd_copy(&r, k->opks[i].sec, 32);
	}
	if (iris__rd_done(&r) != IRIS_OK) {
		iris__e2ee_wipe(k, sizeof(*k));
		return IRIS_ECORRUPT;
	}
	return IRIS_OK;
}

static void	opk_drop(struct e2s_keys *k, uint32_t id);

int
iris__e2s_keys_load(struct e2s *s)
{
	struct iris_buf b;
	struct e2s_keys *k;
	size_t i;
	int rc;

	if (s->keys != NULL)
		return IRIS_OK;
	if ((k = sodium_malloc(sizeof(*k))) == NULL)
		return IRIS_ENOMEM;
	iris__buf_init(&b, 0);
	rc = iris__e2s_get(s, KEYS_NAME, sizeof(KEYS_NAME) - 1, &b);
	if (rc == IRIS_OK)
		rc = iris__e2s_keys_decode(k, b.p, b.len);
	if (rc == IRIS_OK && iris__e2s_get(s, UP_NAME, sizeof(UP_NAME) - 1,
	    &b) == IRIS_OK && b.len == 9 && b.p[0] == 1) {
		if (iris__e2ee_get32(b.p + 1) == k->spk_id)
			k->spk_uploaded = 1;
		if (iris__e2ee_get32(b.p + 5) > k->confirmed_opk_id)
			k->confirmed_opk_id = iris__e2ee_get32(b.p + 5);
	}
	iris__buf_free(&b);
	if (rc != IRIS_OK) {
		sodium_free(k);
		return rc;
	}
	/* A receive that used one may still be committing: what the store
	 * has then is from before it, and must not bring the key back. */
	for (i = 0; i < s->nspent; i++)
		opk_drop(k, s->spent[i]);
	s->keys = k;
	return IRIS_OK;
}

int
iris__e2s_keys_put(struct e2s *s, struct iris_cs_txn *txn)
{
	struct iris_buf b;
	int rc;

	iris__buf_init(&b, 0);
	if ((rc = encode(s, s->keys, &b)) == IRIS_OK)
		rc = iris__e2s_put(s, txn, KEYS_NAME, sizeof(KEYS_NAME) - 1,
		    b.p, b.len);
	iris__buf_free(&b);
	return rc;
}

static void
keypair_of(struct iris_e2ee_keypair *kp, const uint8_t sec[32])
{
	memcpy(kp->sec, sec, 32);
	crypto_scalarmult_base(kp->pub, kp->sec);
}

int
iris__e2s_spk_find(const struct e2s *s, uint32_t id,
    struct iris_e2ee_keypair *kp)
{
	const struct e2s_keys *k = s->keys;

	if (k == NULL)
		return IRIS_ENOTFOUND;
	if (id == k->spk_id) {
		keypair_of(kp, k->spk_sec);
		return IRIS_OK;
	}
	if (k->has_prev && id == k->prev_id) {
		keypair_of(kp, k->prev_sec);
		return IRIS_OK;
	}
	return IRIS_ENOTFOUND;
}

int
iris__e2s_opk_find(const struct e2s *s, uint32_t id,
    struct iris_e2ee_keypair *kp)
{
	size_t i;

	for (i = 0; s->keys != NULL && i < s->keys->n; i++)
		if (s->keys->opks[i].id == id) {
			keypair_of(kp, s->keys->opks[i].sec);
			return IRIS_OK;
		}
	return IRIS_ENOTFOUND;
}

static void
opk_drop(struct e2s_keys *k, uint32_t id)
{
	size_t i;

	for (i = 0; k != NULL && i < k->n; i++)
		if (k->opks[i].id == id) {
			k->opks[i] = k->opks[k->n - 1];
			iris__e2ee_wipe(&k->opks[k->n - 1],
			    sizeof(k->opks[0]));
			k->n--;
			return;
		}
}

/*
 * The private key goes from memory at once and from the store with the
 * receive's commit. It stays listed as spent across reset(), so that
 * keys reloaded while that commit is in flight (or a keys record written
 * from them) never bring it back. A receive whose commit fails finds it
 * no more: its message heals through a retry request (heal.c).
 */
void
iris__e2s_opk_spend(struct e2s *s, uint32_t id)
{
	if (!spent(s, id)) {
		if (s->nspent == sizeof(s->spent) / sizeof(s->spent[0])) {
			/* The oldest receive has long committed. */
			memmove(s->spent, s->spent + 1,
			    (s->nspent - 1) * sizeof(s->spent[0]));
			s->nspent--;
		}
		s->spent[s->nspent++] = id;
	}
	opk_drop(s->keys, id);
}

/* n new one-time prekeys; the oldest go when more would be kept. */
static void
opks_add(struct e2s_keys *k, size_t n)
{
	struct iris_e2ee_keypair kp;
	size_t i, drop;

	if (k->n + n > E2S_OPK_KEEP) {
		drop = k->n + n - E2S_OPK_KEEP;
		iris__e2ee_wipe(k->opks, drop * sizeof(k->opks[0]));
		memmove(k->opks, k->opks + drop,
		    (k->n - drop) * sizeof(k->opks[0]));
		k->n -= drop;
	}
	for (i = 0; i < n; i++) {
		iris__e2ee_keypair_new(&kp);
		k->opks[k->n].id = k->next_opk_id++;
		memcpy(k->opks[k->n].sec, kp.sec, 32);
		k->n++;
	}
	iris__e2ee_wipe(&kp, sizeof(kp));
}

static int
spk_make(struct e2s *s, uint64_t now)
{
	struct e2s_keys *k = s->keys;
	struct iris_e2ee_spk spk;
	int rc;

	if ((rc = iris__e2ee_spk_new(&spk, k->next_spk_id, now,
	    s->c->sk)) != IRIS_OK)
		return rc;
	if (k->spk_id != 0) {
		k->has_prev = 1;
		k->prev_id = k->spk_id;
		k->prev_retired_ms = now;
		memcpy(k->prev_sec, k->spk_sec, 32);
	}
	k->spk_id = k->next_spk_id++;
	k->spk_created_ms = now;
	memcpy(k->spk_sec, spk.kp.sec, 32);
	memcpy(k->spk_sig, spk.sig, 64);
	k->spk_uploaded = 0;
	iris__e2ee_wipe(&spk, sizeof(spk));
	return IRIS_OK;
}

static void upload(struct e2s *s);

static void
keys_committed(struct iris_client *c, int rc, void *arg)
{
	struct e2s *s = arg;

	if (iris__client_tearing(c) || c->sealer != s)
		return;
	s->keys_busy = 0;
	if (rc != IRIS_OK) {
		iris__e2s_cache_clear(s);
		return;
	}
	upload(s);
}

/* Persists the keys, then uploads what the server lacks. */
static int
save_then_upload(struct e2s *s)
{
	struct iris_cs_txn *t;
	int rc;

	if ((t = iris__client_txn(s->c, keys_committed, s)) == NULL)
		return IRIS_ENOMEM;
	if ((rc = iris__e2s_keys_put(s, t)) == IRIS_OK &&
	    (rc = iris__client_submit(s->c, t)) == IRIS_OK) {
		s->keys_busy = 1;
		return IRIS_OK;
	}
	iris__client_txn_drop(t);
	iris__e2s_cache_clear(s);
	return rc;
}

/* The upload of the signed prekey (when not uploaded) and of every
 * one-time prekey not confirmed yet (at most a batch). */
static void
upload(struct e2s *s)
{
	struct iris_client *c = s->c;
	struct e2s_keys *k = s->keys;
	iris_v1_KeyBundleUpload *u;
	struct iris_e2ee_keypair kp;
	struct iris_wire_msg m;
	struct creq *r;
	size_t i;

	if (k == NULL || s->keys_busy || !iris__conn_is_online(c))
		return;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_key_bundle_upload_tag;
	u = &m.f.body.key_bundle_upload;
	if (!k->spk_uploaded) {
		u->has_signed_prekey = true;
		u->signed_prekey.id = k->spk_id;
		keypair_of(&kp, k->spk_sec);
		memcpy(u->signed_prekey.public_key, kp.pub, 32);
		memcpy(u->signed_prekey.signature, k->spk_sig, 64);
		u->signed_prekey.created_ms = k->spk_created_ms;
	}
	for (i = 0; i < k->n && u->one_time_prekeys_count < E2S_OPK_BATCH;
	    i++) {
		if (k->opks[i].id < k->confirmed_opk_id)
			continue;
		keypair_of(&kp, k->opks[i].sec);
		u->one_time_prekeys[u->one_time_prekeys_count].id =
		    k->opks[i].id;
		memcpy(u->one_time_prekeys[u->one_time_prekeys_count]
		    .public_key, kp.pub, 32);
		u->one_time_prekeys_count++;
	}
	iris__e2ee_wipe(&kp, sizeof(kp));
	if (!u->has_signed_prekey && u->one_time_prekeys_count == 0)
		return;
	if ((r = iris__conn_req(c, RQ_KEYS_UPLOAD, &m)) == NULL)
		return;
	/* What this upload confirms once answered. */
	r->num = (uint64_t)k->spk_id << 32 | k->next_opk_id;
	if (iris__conn_send(c, &m) != IRIS_OK) {
		iris__conn_req_free(c, r);
		return;
	}
	s->keys_busy = 1;
}

static void
upload_committed(struct iris_client *c, int rc, void *arg)
{
	(void)rc, (void)arg;
	if (!iris__client_tearing(c) && c->seal == &iris__seal_e2ee &&
	    c->sealer != NULL)
		((struct e2s *)c->sealer)->keys_busy = 0;
}

void
iris__keys_upload_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	struct e2s *s = c->seal == &iris__seal_e2ee ? c->sealer : NULL;
	struct iris_cs_txn *t;
	uint32_t spk_id = (uint32_t)(r->num >> 32);
	uint32_t opk_next = (uint32_t)r->num;
	uint8_t up[9];
	int rc = IRIS_OK;

	if (m->f.which_body == iris_v1_Frame_error_tag)
		rc = m->f.body.error.code == iris_v1_ErrorCode_ERR_NONE ?
		    IRIS_ECLOSED : iris__wire_to_iris(m->f.body.error.code);
	iris__conn_req_free(c, r);
	if (s == NULL || s->keys == NULL)
		return;
	s->keys_busy = 0;
	if (rc != IRIS_OK) {
		iris__log(&c->log, IRIS_LOG_WARNING, "client %s/%u: prekey "
		    "upload refused: %s", c->user, c->device,
		    iris_strerror(rc));
		return;
	}
	if (spk_id == s->keys->spk_id)
		s->keys->spk_uploaded = 1;
	if (opk_next > s->keys->confirmed_opk_id)
		s->keys->confirmed_opk_id = opk_next;
	if ((t = iris__client_txn(c, upload_committed, NULL)) == NULL)
		return;
	up[0] = 1;
	iris__e2ee_put32(up + 1, s->keys->spk_uploaded ? s->keys->spk_id : 0);
	iris__e2ee_put32(up + 5, s->keys->confirmed_opk_id);
	if (iris__e2s_put(s, t, UP_NAME, sizeof(UP_NAME) - 1, up,
	    sizeof(up)) != IRIS_OK ||
	    iris__client_submit(c, t) != IRIS_OK) {
		iris__client_txn_drop(t);
		iris__e2s_cache_clear(s);
		return;
	}
	s->keys_busy = 1;
}

/* Logged in: make the keys on the first login, rotate, upload. */
void
iris__keys_online(struct iris_client *c)
{
	struct e2s *s = c->seal == &iris__seal_e2ee ? c->sealer : NULL;
	uint64_t now = iris__clock_realtime_ms(NULL);
	int rc, dirty = 0;

	if (s == NULL || s->keys_busy)
		return;
	rc = iris__e2s_keys_load(s);
	if (rc == IRIS_ENOTFOUND) {
		if ((s->keys = sodium_malloc(sizeof(*s->keys))) == NULL)
			return;
		memset(s->keys, 0, sizeof(*s->keys));
		s->keys->next_spk_id = 1;
		s->keys->next_opk_id = 1;
		s->keys->confirmed_opk_id = 1;
		if (spk_make(s, now) != IRIS_OK) {
			sodium_free(s->keys);
			s->keys = NULL;
			return;
		}
		opks_add(s->keys, E2S_OPK_BATCH);
		dirty = 1;
	} else if (rc != IRIS_OK) {
		iris__log(&c->log, IRIS_LOG_ERR, "client %s/%u: prekeys do "
		    "not load: %s", c->user, c->device, iris_strerror(rc));
		return;
	}
	if (now - s->keys->spk_created_ms >= E2S_SPK_ROTATE_MS &&
	    s->keys->spk_created_ms <= now) {
		if (spk_make(s, now) == IRIS_OK)
			dirty = 1;
	}
	if (s->keys->has_prev && now - s->keys->prev_retired_ms >=
	    E2S_SPK_GRACE_MS) {
		iris__e2ee_wipe(s->keys->prev_sec, 32);
		s->keys->has_prev = 0;
		dirty = 1;
	}
	if (dirty)
		(void)save_then_upload(s);
	else
		upload(s);
}

/* The server's pool of this device's one-time prekeys is low. */
void
iris__keys_low(struct iris_client *c, uint32_t remaining)
{
	struct e2s *s = c->seal == &iris__seal_e2ee ? c->sealer : NULL;
	size_t pending = 0, i;

	if (s == NULL || s->keys == NULL || s->keys_busy)
		return;
	for (i = 0; i < s->keys->n; i++)
		if (s->keys->opks[i].id >= s->keys->confirmed_opk_id)
			pending++;
	if (remaining + pending >= E2S_OPK_BATCH) {
		upload(s);
		return;
	}
	opks_add(s->keys, E2S_OPK_BATCH - remaining - pending);
	(void)save_then_upload(s);
}

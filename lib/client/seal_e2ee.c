/* SPDX-License-Identifier: ISC */
/*
 * The end-to-end encrypting sealer (research/e2ee.md §6): one session
 * record per peer (user, device), "s" | u8 len | user | u32 device:
 * u8 version (1) | u8 n | n x (u32 len | session state bytes), the
 * active session first, then at most two archived ones (a peer that
 * started again, or both sides at once). The first send to a device runs
 * X3DH on its fetched bundle; then the Double Ratchet. Every state change
 * is written into the transaction of the send or receive it belongs to,
 * and kept in a cache of what was last written so that later seals and
 * opens before the commit see it; reset() drops the cache.
 *
 * Inside the ciphertext (padded by lib/e2ee): u8 version (1) | u8 kind |
 * u32 type | u8 len | sender user | u32 sender device | u8 len | the
 * send's recipient user | u8 len | device's user | u32 device |
 * u32 len | body; the receiver checks every id. A resend (heal_retry.c)
 * is version 2, the same followed by the client msg id it repeats[16].
 *
 * Typing indicators carry no state (a NULL transaction): they are sealed
 * under a key both identities derive without a session, HKDF over the
 * X25519 of the sender's identity and the recipient's (as listed in the
 * recipient's signed device list), bound to both ids and the direction:
 * u8 0x03 | nonce[24] | XChaCha20-Poly1305(inner). They are end-to-end
 * encrypted and authenticated but have no forward secrecy, and are
 * dropped when the device list is not known. Retry requests are sealed
 * the same way (they must not depend on the session they are about),
 * but travel as durable messages, and open only under the identity key
 * the sender's signed device list names.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/seal_e2ee.h"
#include "util/alloc.h"

#define INNER_VERSION	1
#define INNER_RESEND	2
#define REC_VERSION	1
#define INNER_MAX	(1 + 1 + 4 + 3 * (1 + IRIS_E2EE_USER_MAX) + 8 + 4)
#define TYPING_AD	"IRIS-TYPING-v1"

/* State records through the cache. */
static struct e2s_cached *
cached(struct e2s *s, const void *name, size_t nlen)
{
	struct e2s_cached *e;

	for (e = s->cache; e != NULL; e = e->next)
		if (e->nlen == nlen && memcmp(e->name, name, nlen) == 0)
			return e;
	return NULL;
}

int
iris__e2s_get(struct e2s *s, const void *name, size_t nlen,
    struct iris_buf *out)
{
	struct e2s_cached *e;

	if ((e = cached(s, name, nlen)) == NULL)
		return iris__seal_state_get(s->c, name, nlen, out);
	if (e->gone)
		return IRIS_ENOTFOUND;
	iris__buf_reset(out);
	iris__buf_put(out, e->data, e->len);
	return out->err;
}

int
iris__e2s_put(struct e2s *s, struct iris_cs_txn *txn, const void *name,
    size_t nlen, const void *data, size_t len)
{
	struct e2s_cached *e;
	uint8_t *copy;
	int rc;

	/* data NULL: the record is deleted. */
	rc = data == NULL ? iris__seal_state_del(s->c, txn, name, nlen) :
	    iris__seal_state_put(s->c, txn, name, nlen, data, len);
	if (rc != IRIS_OK)
		return rc;
	if (data == NULL)
		len = 0;
	if ((copy = iris__malloc(len + 1)) == NULL)
		return IRIS_ENOMEM;
	if (len > 0)
		memcpy(copy, data, len);
	if ((e = cached(s, name, nlen)) == NULL) {
		if ((e = iris__calloc(1, sizeof(*e))) == NULL ||
		    (e->name = iris__memdup(name, nlen)) == NULL) {
			iris__free(e);
			iris__e2ee_wipe(copy, len);
			iris__free(copy);
			return IRIS_ENOMEM;
		}
		e->nlen = nlen;
		e->next = s->cache;
		s->cache = e;
	} else {
		iris__e2ee_wipe(e->data, e->len);
		iris__free(e->data);
	}
	e->data = copy;
	e->len = len;
	e->gone = data == NULL;
	return IRIS_OK;
}

void
iris__e2s_cache_clear(struct e2s *s)
{
	struct e2s_cached *e;

	while ((e = s->cache) != NULL) {
		s->cache = e->next;
		iris__e2ee_wipe(e->data, e->len);
		iris__free(e->data);
		iris__free(e->name);
		iris__free(e);
	}
	/* s->spent stays: see iris__e2s_opk_spend(). */
	if (s->keys != NULL && !s->keys_busy) {
		sodium_free(s->keys);	/* reloaded from the store */
		s->keys = NULL;
	}
}

void
iris__e2s_rec_free(struct e2s_rec *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		iris__e2ee_bytes_free(r->st[i], r->len[i]);
	r->n = 0;
}

static size_t
rec_name(uint8_t *name, const char *user, uint32_t device)
{
	size_t ulen = strlen(user);

	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, user, ulen);
	iris__e2ee_put32(name + 2 + ulen, device);
	return 2 + ulen + 4;
}

/* IRIS_OK, IRIS_ENOTFOUND, IRIS_ECORRUPT. */
int
iris__e2s_rec_load(struct e2s *s, const char *user, uint32_t device,
    struct e2s_rec *r)
{
	uint8_t name[2 + IRIS_E2EE_USER_MAX + 4];
	const uint8_t *p;
	struct iris_buf b;
	struct iris_rd rd;
	size_t i, n, len;
	int rc;

	memset(r, 0, sizeof(*r));
	iris__buf_init(&b, 0);
	rc = iris__e2s_get(s, name, rec_name(name, user, device), &b);
	if (rc != IRIS_OK)
		goto out;
	iris__rd_init(&rd, b.p, b.len);
	rc = IRIS_ECORRUPT;
	if (iris__rd_u8(&rd) != REC_VERSION)
		goto out;
	n = iris__rd_u8(&rd);
	if (rd.bad || n == 0 || n > E2S_REC_SESSIONS)
		goto out;
	for (i = 0; i < n; i++) {
		if ((p = iris__rd_bytes32(&rd, &len, 1U << 24)) == NULL ||
		    (r->st[i] = iris__memdup(p, len)) == NULL)
			break;
		r->len[i] = len;
		r->n++;
	}
	if (r->n == n && iris__rd_done(&rd) == IRIS_OK)
		rc = IRIS_OK;
	else
		iris__e2s_rec_free(r);
out:
	iris__buf_free(&b);
	return rc;
}

int
iris__e2s_rec_put(struct e2s *s, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const struct e2s_rec *r)
{
	uint8_t name[2 + IRIS_E2EE_USER_MAX + 4];
	struct iris_buf b;
	size_t i;
	int rc;

	iris__buf_init(&b, 0);
	iris__buf_u8(&b, REC_VERSION);
	iris__buf_u8(&b, (uint8_t)r->n);
	for (i = 0; i < r->n; i++)
		iris__buf_bytes32(&b, r->st[i], r->len[i]);
	rc = b.err != 0 ? b.err : iris__e2s_put(s, txn, name,
	    rec_name(name, user, device), b.p, b.len);
	iris__buf_free(&b);
	return rc;
}

int
iris__e2s_rec_del(struct e2s *s, struct iris_cs_txn *txn, const char *user,
    uint32_t device)
{
	uint8_t name[2 + IRIS_E2EE_USER_MAX + 4];

	if (strlen(user) > IRIS_E2EE_USER_MAX)
		return IRIS_EINVAL;
	return iris__e2s_put(s, txn, name, rec_name(name, user, device),
	    NULL, 0);
}

/* Session i's state replaced by st (taken), and made the active one. */
void
iris__e2s_rec_promote(struct e2s_rec *r, size_t i, uint8_t *st,
    size_t len)
{
	if (i < r->n)
		iris__e2ee_bytes_free(r->st[i], r->len[i]);
	else {
		if (r->n == E2S_REC_SESSIONS) {
			r->n--;
			iris__e2ee_bytes_free(r->st[r->n], r->len[r->n]);
		}
		i = r->n++;
	}
	memmove(&r->st[1], &r->st[0], i * sizeof(r->st[0]));
	memmove(&r->len[1], &r->len[0], i * sizeof(r->len[0]));
	r->st[0] = st;
	r->len[0] = len;
}

void
iris__e2s_inner_encode(struct e2s *s, const char *user, uint32_t device,
    const struct iris__content *in, struct iris_buf *b)
{
	iris__buf_u8(b, in->of != NULL ? INNER_RESEND : INNER_VERSION);
	iris__buf_u8(b, (uint8_t)in->kind);
	iris__buf_u32(b, in->type);
	iris__buf_str8(b, s->c->user, strlen(s->c->user));
	iris__buf_u32(b, s->c->device);
	iris__buf_str8(b, in->recipient, strlen(in->recipient));
	iris__buf_str8(b, user, strlen(user));
	iris__buf_u32(b, device);
	iris__buf_bytes32(b, in->body, in->len);
	if (in->of != NULL)
		iris__buf_put(b, in->of, 16);
}

/* The inner content in p, checked against who sent it and to whom;
 * out points into keep (which the plaintext is moved into). */
int
iris__e2s_inner_decode(struct e2s *s, const char *user, uint32_t device,
    struct iris_buf *plain, struct iris__content *out, struct iris_buf *keep)
{
	char from[IRIS_USER_MAX + 1], to[IRIS_USER_MAX + 1], *rcpt;
	uint32_t from_dev, to_dev;
	struct iris_rd r;
	size_t at;
	int version;

	/* keep: the recipient (NUL-terminated), then the plaintext. */
	iris__buf_reset(keep);
	if ((rcpt = (char *)iris__buf_room(keep, IRIS_USER_MAX + 1)) == NULL)
		return keep->err;
	keep->len = IRIS_USER_MAX + 1;
	at = keep->len;
	iris__buf_put(keep, plain->p, plain->len);
	if (keep->err != 0)
		return keep->err;
	rcpt = (char *)keep->p;
	iris__rd_init(&r, keep->p + at, plain->len);
	memset(out, 0, sizeof(*out));
	version = iris__rd_u8(&r);
	if (version != INNER_VERSION && version != INNER_RESEND)
		return r.bad ? IRIS_EPROTO : IRIS_EVERSION;
	out->kind = iris__rd_u8(&r);
	out->type = iris__rd_u32(&r);
	iris__rd_str8(&r, from, sizeof(from));
	from_dev = iris__rd_u32(&r);
	iris__rd_str8(&r, rcpt, IRIS_USER_MAX + 1);
	iris__rd_str8(&r, to, sizeof(to));
	to_dev = iris__rd_u32(&r);
	out->body = iris__rd_bytes32(&r, &out->len, IRIS_E2EE_PLAIN_MAX);
	if (version == INNER_RESEND)
		out->of = iris__rd_slice(&r, 16);
	if (iris__rd_done(&r) != IRIS_OK || (out->kind !=
	    IRIS__CONTENT_MESSAGE && out->kind != IRIS__CONTENT_TYPING &&
	    out->kind != IRIS__CONTENT_RETRY &&
	    out->kind != IRIS__CONTENT_READ) ||
	    (version == INNER_RESEND && out->kind != IRIS__CONTENT_MESSAGE) ||
	    !iris__wire_userid_ok((const uint8_t *)rcpt, strlen(rcpt)))
		return IRIS_EPROTO;
	/* Who the envelope says it is from and for: the ids the server
	 * routed it by (the session's associated data binds them too). */
	if (strcmp(from, user) != 0 || from_dev != device ||
	    strcmp(to, s->c->user) != 0 || to_dev != s->c->device)
		return IRIS_ECRYPTO;
	out->recipient = rcpt;
	if (out->body == NULL)
		out->body = (const uint8_t *)"";
	return IRIS_OK;
}

/* The typing key of the direction from (fu, fd) to (tu, td). */
static int
typing_key(struct e2s *s, uint8_t key[32], const uint8_t peer_ik[32],
    const char *fu, uint32_t fd, const char *tu, uint32_t td)
{
	uint8_t xpub[32], dh[32], info[2 * (1 + IRIS_E2EE_USER_MAX + 4)];
	size_t n = 0;
	int rc;

	if ((rc = iris__e2ee_identity_dh_pub(xpub, peer_ik)) != IRIS_OK ||
	    (rc = iris__e2ee_dh(dh, s->ik_dh, xpub)) != IRIS_OK)
		return rc;
	info[n++] = (uint8_t)strlen(fu);
	memcpy(info + n, fu, strlen(fu));
	n += strlen(fu);
	iris__e2ee_put32(info + n, fd);
	n += 4;
	info[n++] = (uint8_t)strlen(tu);
	memcpy(info + n, tu, strlen(tu));
	n += strlen(tu);
	iris__e2ee_put32(info + n, td);
	n += 4;
	rc = iris__e2ee_hkdf(key, 32, (const uint8_t *)TYPING_AD,
	    sizeof(TYPING_AD) - 1, dh, 32, info, n);
	iris__e2ee_wipe(dh, sizeof(dh));
	return rc;
}

/* The identity key of a peer device: as its user's signed device list
 * names it, else as a session with it was started with. */
static int
peer_key(struct e2s *s, const char *user, uint32_t device, int listed,
    uint8_t ik[32])
{
	struct devlist *l = iris__devlist_find(s->c, user);
	struct iris_e2ee_session *ses;
	struct e2s_rec r;
	size_t i;
	int rc;

	for (i = 0; l != NULL && i < l->n; i++)
		if (l->ids[i] == device) {
			memcpy(ik, l->keys[i], 32);
			return IRIS_OK;
		}
	if (l == NULL)
		(void)iris__devlist_fetch(s->c, user);
	if (listed)
		return IRIS_ENOTFOUND;
	if ((rc = iris__e2s_rec_load(s, user, device, &r)) != IRIS_OK)
		return rc;
	if ((rc = iris__e2ee_session_load(&ses, r.st[0], r.len[0])) ==
	    IRIS_OK) {
		memcpy(ik, iris__e2ee_session_peer_ik(ses), 32);
		iris__e2ee_session_free(ses);
	}
	iris__e2s_rec_free(&r);
	return rc;
}

int
iris__e2s_typing_seal(struct e2s *s, const char *user, uint32_t device,
    const struct iris__content *in, struct iris_buf *out)
{
	uint8_t key[32], ik[32], *p;
	struct iris_buf inner;
	int rc;

	if (peer_key(s, user, device, 0, ik) != IRIS_OK)
		return IRIS_EAGAIN;
	if ((rc = typing_key(s, key, ik, s->c->user, s->c->device, user,
	    device)) != IRIS_OK)
		return rc;
	iris__buf_init(&inner, 0);
	iris__e2s_inner_encode(s, user, device, in, &inner);
	iris__buf_u8(out, E2S_KIND_TYPING);
	if (inner.err == 0 && (p = iris__buf_room(out, IRIS_E2EE_NONCE +
	    inner.len + IRIS_E2EE_TAG)) != NULL) {
		randombytes_buf(p, IRIS_E2EE_NONCE);
		iris__e2ee_aead_seal(p + IRIS_E2EE_NONCE, inner.p, inner.len,
		    (const uint8_t *)TYPING_AD, sizeof(TYPING_AD) - 1, p, key);
		out->len += IRIS_E2EE_NONCE + inner.len + IRIS_E2EE_TAG;
	}
	rc = inner.err != 0 ? inner.err : out->err;
	iris__buf_free(&inner);
	iris__e2ee_wipe(key, sizeof(key));
	return rc;
}

int
iris__e2s_typing_open(struct e2s *s, struct iris_cs_txn *txn,
    const char *user, uint32_t device, const uint8_t *env, size_t len,
    struct iris__content *out, struct iris_buf *keep)
{
	struct iris_buf plain;
	uint8_t key[32], ik[32];
	size_t clen;
	int rc;

	if (len < 1 + IRIS_E2EE_NONCE + IRIS_E2EE_TAG)
		return IRIS_EPROTO;
	/* A retry request (durable: a transaction) only from a listed
	 * device; a typing indicator (none) also from a session's. */
	if (peer_key(s, user, device, txn != NULL, ik) != IRIS_OK)
		return IRIS_ENOTFOUND;
	if ((rc = typing_key(s, key, ik, user, device, s->c->user,
	    s->c->device)) != IRIS_OK)
		return rc;
	clen = len - 1 - IRIS_E2EE_NONCE;
	iris__buf_init(&plain, 0);
	if (iris__buf_room(&plain, clen) == NULL)
		rc = plain.err;
	else
		rc = iris__e2ee_aead_open(plain.p, env + 1 + IRIS_E2EE_NONCE,
		    clen, (const uint8_t *)TYPING_AD, sizeof(TYPING_AD) - 1,
		    env + 1, key);
	iris__e2ee_wipe(key, sizeof(key));
	if (rc == IRIS_OK) {
		plain.len = clen - IRIS_E2EE_TAG;
		rc = iris__e2s_inner_decode(s, user, device, &plain, out, keep);
		if (rc == IRIS_OK && (out->kind != (txn != NULL ?
		    IRIS__CONTENT_RETRY : IRIS__CONTENT_TYPING)))
			rc = IRIS_EPROTO;
	}
	iris__buf_free(&plain);
	return rc;
}

void
iris__e2s_local_of(struct e2s *s, struct iris_e2ee_local *me)
{
	me->user = s->c->user;
	me->device = s->c->device;
	me->ik = s->c->pk;
	me->ik_dh = s->ik_dh;
}

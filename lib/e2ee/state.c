/* SPDX-License-Identifier: ISC */
/*
 * Sessions as objects and as bytes, and the envelope parser. Both
 * parsers are strict: every length is checked against what is left and
 * against the limits, and trailing bytes are refused. Decryption runs
 * on a deep copy that replaces the caller's session only once the
 * message authenticated (research/e2ee.md §6.5, DESIGN.md §8).
 *
 * State: "IRS1" | u16 format (1) | u16 type (1: session) | u32 length |
 * u8 flags | DHs pub, sec | DHr | RK | CKs | CKr | u32 Ns, Nr, PN, step |
 * peer IK | own IK | base key | u32 spk id | u32 opk id | u8 n | n old
 * DHr | u16 n | AD | u32 n | n x (DH | u32 N | u32 step | MK).
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"
#include "e2ee/session.h"
#include "util/alloc.h"

#define STATE_MAGIC	"IRS1"
#define STATE_FORMAT	1
#define STATE_SESSION	1
#define STATE_HEAD	12
#define STATE_FIXED	(1 + 32 * 6 + 16 + 32 * 3 + 8)
#define SKIPPED_LEN	(32 + 4 + 4 + 32)
#define ENV_VERSION	1

struct iris_e2ee_session *
iris__e2ee_session_new(void)
{
	return iris__calloc(1, sizeof(struct iris_e2ee_session));
}

int
iris__e2ee_session_reserve(struct iris_e2ee_session *s, uint32_t n)
{
	struct session_skipped *sk;
	uint32_t cap;

	if (n <= s->capsk)
		return IRIS_OK;
	cap = s->capsk < 16 ? 16 : s->capsk;
	while (cap < n)
		cap *= 2;
	/* A fresh block, the old one wiped: no secrets left by realloc. */
	if ((sk = iris__malloc(cap * sizeof(*sk))) == NULL)
		return IRIS_ENOMEM;
	if (s->nsk > 0)
		memcpy(sk, s->sk, s->nsk * sizeof(*sk));
	if (s->sk != NULL) {
		sodium_memzero(s->sk, s->capsk * sizeof(*sk));
		iris__free(s->sk);
	}
	s->sk = sk;
	s->capsk = cap;
	return IRIS_OK;
}

void
iris__e2ee_session_free(struct iris_e2ee_session *s)
{
	if (s == NULL)
		return;
	if (s->sk != NULL) {
		sodium_memzero(s->sk, s->capsk * sizeof(s->sk[0]));
		iris__free(s->sk);
	}
	sodium_memzero(s, sizeof(*s));
	iris__free(s);
}

struct iris_e2ee_session *
iris__e2ee_session_dup(const struct iris_e2ee_session *s)
{
	struct iris_e2ee_session *d;

	if ((d = iris__e2ee_session_new()) == NULL)
		return NULL;
	*d = *s;
	d->sk = NULL;
	d->nsk = d->capsk = 0;
	if (s->nsk > 0) {
		if (iris__e2ee_session_reserve(d, s->nsk) != IRIS_OK) {
			iris__e2ee_session_free(d);
			return NULL;
		}
		memcpy(d->sk, s->sk, s->nsk * sizeof(s->sk[0]));
		d->nsk = s->nsk;
	}
	return d;
}

const uint8_t *
iris__e2ee_session_base(const struct iris_e2ee_session *s)
{
	return s->base;
}

int
iris__e2ee_session_pending(const struct iris_e2ee_session *s)
{
	return (s->flags & SESSION_PENDING) != 0;
}

const uint8_t *
iris__e2ee_session_peer_ik(const struct iris_e2ee_session *s)
{
	return s->peer_ik;
}

size_t
iris__e2ee_session_nskipped(const struct iris_e2ee_session *s)
{
	return s->nsk;
}

int
iris__e2ee_env_parse(const uint8_t *env, size_t len, struct e2ee_env *e)
{
	const uint8_t *p = env;
	size_t left = len, clen;

	memset(e, 0, sizeof(*e));
	if (len < 1)
		return IRIS_EPROTO;
	e->kind = *p;
	if (e->kind != IRIS_E2EE_KIND_PREKEY && e->kind != IRIS_E2EE_KIND_MSG)
		return IRIS_ENOTSUP;
	p++, left--;
	if (e->kind == IRIS_E2EE_KIND_PREKEY) {
		if (left < IRIS_E2EE_PREKEY_EXTRA)
			return IRIS_EPROTO;
		if (p[0] != ENV_VERSION)
			return IRIS_EVERSION;
		memcpy(e->pre.ik, p + 1, 32);
		memcpy(e->pre.ek, p + 33, 32);
		e->pre.spk_id = iris__e2ee_get32(p + 65);
		e->pre.opk_id = iris__e2ee_get32(p + 69);
		p += 73, left -= 73;
	}
	if (left < 41 + IRIS_E2EE_NONCE + 4)
		return IRIS_EPROTO;
	if (p[0] != ENV_VERSION)
		return IRIS_EVERSION;
	e->dh = p + 1;
	e->pn = iris__e2ee_get32(p + 33);
	e->n = iris__e2ee_get32(p + 37);
	p += 41, left -= 41;
	e->hdr = env;
	e->hdrlen = (size_t)(p - env);
	e->nonce = p;
	clen = iris__e2ee_get32(p + IRIS_E2EE_NONCE);
	p += IRIS_E2EE_NONCE + 4, left -= IRIS_E2EE_NONCE + 4;
	/* A whole number of pad blocks and a tag, all of what is left. */
	if (clen != left || clen < IRIS_E2EE_TAG + IRIS_E2EE_PAD_BLOCK ||
	    (clen - IRIS_E2EE_TAG) % IRIS_E2EE_PAD_BLOCK != 0 ||
	    clen - IRIS_E2EE_TAG > IRIS_E2EE_PLAIN_MAX + IRIS_E2EE_PAD_BLOCK)
		return IRIS_EPROTO;
	e->ct = p;
	e->ctlen = clen;
	return IRIS_OK;
}

int
iris__e2ee_decrypt(const struct iris_e2ee_session *s, const uint8_t *env,
    size_t len, uint8_t *plain, size_t cap, size_t *plen,
    struct iris_e2ee_session **next)
{
	struct iris_e2ee_session *w;
	struct e2ee_env e;
	int rc;

	if (next == NULL)
		return IRIS_EINVAL;
	*next = NULL;
	if (s == NULL || env == NULL || plain == NULL || plen == NULL)
		return IRIS_EINVAL;
	if ((rc = iris__e2ee_env_parse(env, len, &e)) != IRIS_OK)
		return rc;
	/* A prekey envelope belongs here only if this session answered it. */
	if (e.kind == IRIS_E2EE_KIND_PREKEY && ((s->flags &
	    SESSION_INITIATOR) || sodium_memcmp(s->base, e.pre.ek, 32) != 0 ||
	    sodium_memcmp(s->peer_ik, e.pre.ik, 32) != 0))
		return IRIS_ENOTFOUND;
	if ((w = iris__e2ee_session_dup(s)) == NULL)
		return IRIS_ENOMEM;
	if ((rc = iris__e2ee_ratchet_open(w, &e, plain, cap, plen)) !=
	    IRIS_OK) {
		iris__e2ee_session_free(w);
		return rc;
	}
	w->flags &= ~SESSION_PENDING;	/* the peer has the session */
	*next = w;
	return IRIS_OK;
}

int
iris__e2ee_session_save(const struct iris_e2ee_session *s, uint8_t **buf,
    size_t *len)
{
	size_t n, body;
	uint8_t *b, *p;
	uint32_t i;

	if (buf == NULL || len == NULL)
		return IRIS_EINVAL;
	*buf = NULL;
	*len = 0;
	if (s == NULL)
		return IRIS_EINVAL;
	body = STATE_FIXED + 1 + 32 * (size_t)s->nold + 2 + s->adlen + 4 +
	    SKIPPED_LEN * (size_t)s->nsk;
	n = STATE_HEAD + body;
	if ((p = b = iris__malloc(n)) == NULL)
		return IRIS_ENOMEM;
	memcpy(p, STATE_MAGIC, 4);
	iris__e2ee_put16(p + 4, STATE_FORMAT);
	iris__e2ee_put16(p + 6, STATE_SESSION);
	iris__e2ee_put32(p + 8, (uint32_t)body);
	p += STATE_HEAD;
	*p++ = s->flags;
	memcpy(p, s->dhs.pub, 32);
	memcpy(p + 32, s->dhs.sec, 32);
	memcpy(p + 64, s->dhr, 32);
	memcpy(p + 96, s->rk, 32);
	memcpy(p + 128, s->cks, 32);
	memcpy(p + 160, s->ckr, 32);
	p += 192;
	iris__e2ee_put32(p, s->ns);
	iris__e2ee_put32(p + 4, s->nr);
	iris__e2ee_put32(p + 8, s->pn);
	iris__e2ee_put32(p + 12, s->step);
	p += 16;
	memcpy(p, s->peer_ik, 32);
	memcpy(p + 32, s->own_ik, 32);
	memcpy(p + 64, s->base, 32);
	iris__e2ee_put32(p + 96, s->spk_id);
	iris__e2ee_put32(p + 100, s->opk_id);
	p += 104;
	*p++ = s->nold;
	memcpy(p, s->old_dhr, 32 * (size_t)s->nold);
	p += 32 * (size_t)s->nold;
	iris__e2ee_put16(p, s->adlen);
	memcpy(p + 2, s->ad, s->adlen);
	p += 2 + s->adlen;
	iris__e2ee_put32(p, s->nsk);
	p += 4;
	for (i = 0; i < s->nsk; i++, p += SKIPPED_LEN) {
		memcpy(p, s->sk[i].dh, 32);
		iris__e2ee_put32(p + 32, s->sk[i].n);
		iris__e2ee_put32(p + 36, s->sk[i].step);
		memcpy(p + 40, s->sk[i].mk, 32);
	}
	*buf = b;
	*len = n;
	return IRIS_OK;
}

/* The fixed part of the body into s; p has STATE_FIXED bytes. */
static int
load_fixed(struct iris_e2ee_session *s, const uint8_t *p)
{
	if ((s->flags = *p++) & ~SESSION_FLAGS)
		return IRIS_ECORRUPT;
	memcpy(s->dhs.pub, p, 32);
	memcpy(s->dhs.sec, p + 32, 32);
	memcpy(s->dhr, p + 64, 32);
	memcpy(s->rk, p + 96, 32);
	memcpy(s->cks, p + 128, 32);
	memcpy(s->ckr, p + 160, 32);
	p += 192;
	s->ns = iris__e2ee_get32(p);
	s->nr = iris__e2ee_get32(p + 4);
	s->pn = iris__e2ee_get32(p + 8);
	s->step = iris__e2ee_get32(p + 12);
	p += 16;
	memcpy(s->peer_ik, p, 32);
	memcpy(s->own_ik, p + 32, 32);
	memcpy(s->base, p + 64, 32);
	s->spk_id = iris__e2ee_get32(p + 96);
	s->opk_id = iris__e2ee_get32(p + 100);
	/* Keys in use are never all zero; a responder may not be pending. */
	if (sodium_is_zero(s->dhs.pub, 32) || sodium_is_zero(s->peer_ik, 32) ||
	    sodium_is_zero(s->base, 32) ||
	    ((s->flags & SESSION_HAS_DHR) && sodium_is_zero(s->dhr, 32)) ||
	    ((s->flags & SESSION_PENDING) && !(s->flags & SESSION_INITIATOR)))
		return IRIS_ECORRUPT;
	return IRIS_OK;
}

static int
load_body(struct iris_e2ee_session *s, const uint8_t *p, size_t left)
{
	uint32_t i, n;
	int rc;

	if (left < STATE_FIXED + 1)
		return IRIS_ECORRUPT;
	if ((rc = load_fixed(s, p)) != IRIS_OK)
		return rc;
	p += STATE_FIXED, left -= STATE_FIXED;
	s->nold = *p++, left--;
	if (s->nold > IRIS_E2EE_OLD_CHAINS || left < 32 * (size_t)s->nold + 2)
		return IRIS_ECORRUPT;
	memcpy(s->old_dhr, p, 32 * (size_t)s->nold);
	p += 32 * (size_t)s->nold, left -= 32 * (size_t)s->nold;
	s->adlen = iris__e2ee_get16(p);
	p += 2, left -= 2;
	if (s->adlen < SESSION_AD_MIN || s->adlen > SESSION_AD_MAX ||
	    left < (size_t)s->adlen + 4 || memcmp(p, "IRIS-AD-v1", 10) != 0)
		return IRIS_ECORRUPT;
	memcpy(s->ad, p, s->adlen);
	p += s->adlen, left -= s->adlen;
	n = iris__e2ee_get32(p);
	p += 4, left -= 4;
	if (n > IRIS_E2EE_MAX_STORED || left != SKIPPED_LEN * (size_t)n)
		return IRIS_ECORRUPT;
	if ((rc = iris__e2ee_session_reserve(s, n)) != IRIS_OK)
		return rc;
	for (i = 0; i < n; i++, p += SKIPPED_LEN) {
		memcpy(s->sk[i].dh, p, 32);
		s->sk[i].n = iris__e2ee_get32(p + 32);
		s->sk[i].step = iris__e2ee_get32(p + 36);
		memcpy(s->sk[i].mk, p + 40, 32);
		if (s->sk[i].step > s->step)
			return IRIS_ECORRUPT;
	}
	s->nsk = n;
	return IRIS_OK;
}

int
iris__e2ee_session_load(struct iris_e2ee_session **out, const uint8_t *buf,
    size_t len)
{
	struct iris_e2ee_session *s;
	int rc;

	if (out == NULL)
		return IRIS_EINVAL;
	*out = NULL;
	if (buf == NULL)
		return IRIS_EINVAL;
	if (len < STATE_HEAD || memcmp(buf, STATE_MAGIC, 4) != 0)
		return IRIS_ECORRUPT;
	if (iris__e2ee_get16(buf + 4) != STATE_FORMAT)
		return IRIS_EVERSION;
	if (iris__e2ee_get16(buf + 6) != STATE_SESSION ||
	    iris__e2ee_get32(buf + 8) != len - STATE_HEAD)
		return IRIS_ECORRUPT;
	if ((s = iris__e2ee_session_new()) == NULL)
		return IRIS_ENOMEM;
	if ((rc = load_body(s, buf + STATE_HEAD, len - STATE_HEAD)) !=
	    IRIS_OK) {
		iris__e2ee_session_free(s);
		return rc;
	}
	*out = s;
	return IRIS_OK;
}

void
iris__e2ee_bytes_free(uint8_t *buf, size_t len)
{
	if (buf == NULL)
		return;
	sodium_memzero(buf, len);
	iris__free(buf);
}

int
iris__e2ee_decrypt_state(const uint8_t *state, size_t slen,
    const uint8_t *env, size_t len, uint8_t *plain, size_t cap, size_t *plen,
    uint8_t **nstate, size_t *nlen)
{
	struct iris_e2ee_session *s, *next;
	int rc;

	if (nstate == NULL || nlen == NULL)
		return IRIS_EINVAL;
	*nstate = NULL;
	*nlen = 0;
	if ((rc = iris__e2ee_session_load(&s, state, slen)) != IRIS_OK)
		return rc;
	rc = iris__e2ee_decrypt(s, env, len, plain, cap, plen, &next);
	iris__e2ee_session_free(s);
	if (rc != IRIS_OK)
		return rc;
	rc = iris__e2ee_session_save(next, nstate, nlen);
	iris__e2ee_session_free(next);
	if (rc != IRIS_OK)
		sodium_memzero(plain, *plen);
	return rc;
}

int
iris__e2ee_encrypt_state(const uint8_t *state, size_t slen,
    const uint8_t *plain, size_t plen, uint8_t *env, size_t cap,
    size_t *elen, uint8_t **nstate, size_t *nlen)
{
	struct iris_e2ee_session *s;
	int rc;

	if (nstate == NULL || nlen == NULL)
		return IRIS_EINVAL;
	*nstate = NULL;
	*nlen = 0;
	if ((rc = iris__e2ee_session_load(&s, state, slen)) != IRIS_OK)
		return rc;
	if ((rc = iris__e2ee_encrypt(s, plain, plen, env, cap, elen)) ==
	    IRIS_OK)
		rc = iris__e2ee_session_save(s, nstate, nlen);
	iris__e2ee_session_free(s);
	return rc;
}

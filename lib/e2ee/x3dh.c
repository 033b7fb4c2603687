/* SPDX-License-Identifier: ISC */
/*
 * X3DH session establishment (research/e2ee.md §6.4): the initiator's
 * identity and ephemeral keys against the responder's identity, signed
 * prekey and, while its pool lasts, one one-time prekey; without one (the
 * last resort) the signed prekey alone. The shared secret starts a
 * Double Ratchet whose associated data binds both identity keys, user
 * ids and device ids, so that neither side can be misled about who the
 * other is (the unknown key-share of Olm).
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "e2ee/e2ee.h"
#include "e2ee/session.h"

#define X3DH_INFO	"libiris/v1/x3dh"
#define AD_PREFIX	"IRIS-AD-v1"

static int
user_ok(const char *user, size_t *len)
{
	if (user == NULL)
		return 0;
	*len = strnlen(user, IRIS_E2EE_USER_MAX + 1);
	return *len > 0 && *len <= IRIS_E2EE_USER_MAX;
}

static int
local_ok(const struct iris_e2ee_local *me)
{
	size_t len;

	return me != NULL && user_ok(me->user, &len) && me->ik != NULL &&
	    me->ik_dh != NULL;
}

/* AD = "IRIS-AD-v1" || IKa || IKb || u8 len || user_a || u32 dev_a || ... b */
static int
build_ad(struct iris_e2ee_session *s, const uint8_t ik_a[32],
    const uint8_t ik_b[32], const char *user_a, uint32_t dev_a,
    const char *user_b, uint32_t dev_b)
{
	uint8_t *p = s->ad;
	size_t la, lb;

	if (!user_ok(user_a, &la) || !user_ok(user_b, &lb))
		return IRIS_EINVAL;
	memcpy(p, AD_PREFIX, 10);
	p += 10;
	memcpy(p, ik_a, 32);
	memcpy(p + 32, ik_b, 32);
	p += 64;
	*p++ = (uint8_t)la;
	memcpy(p, user_a, la);
	p += la;
	iris__e2ee_put32(p, dev_a);
	p += 4;
	*p++ = (uint8_t)lb;
	memcpy(p, user_b, lb);
	p += lb;
	iris__e2ee_put32(p, dev_b);
	p += 4;
	s->adlen = (uint16_t)(p - s->ad);
	return IRIS_OK;
}

/* SK = HKDF(0^32, 0xFF^32 || DH1 || DH2 || DH3 [|| DH4], info, 32). */
static int
derive_sk(uint8_t sk[32], uint8_t ikm[32 * 5], size_t ndh)
{
	static const uint8_t zero[32];
	int rc;

	memset(ikm, 0xff, 32);
	rc = iris__e2ee_hkdf(sk, 32, zero, sizeof(zero), ikm, 32 * (1 + ndh),
	    (const uint8_t *)X3DH_INFO, sizeof(X3DH_INFO) - 1);
	sodium_memzero(ikm, 32 * 5);
	return rc;
}

int
iris__e2ee_initiate(struct iris_e2ee_session **out,
    const struct iris_e2ee_local *me, const struct iris_e2ee_bundle *b)
{
	struct iris_e2ee_session *s = NULL;
	struct iris_e2ee_keypair ek;
	uint8_t ikb_x[32], ikm[32 * 5], sk[32], dh[32];
	size_t ndh = 3;
	int rc;

	if (out == NULL)
		return IRIS_EINVAL;
	*out = NULL;
	if (!local_ok(me))
		return IRIS_EINVAL;
	if ((rc = iris__e2ee_bundle_verify(b)) != IRIS_OK)
		return rc;
	if ((rc = iris__e2ee_identity_dh_pub(ikb_x, b->ik)) != IRIS_OK)
		return rc;
	iris__e2ee_keypair_new(&ek);
	rc = IRIS_ECRYPTO;
	if (iris__e2ee_dh(ikm + 32, me->ik_dh, b->spk_pub) != IRIS_OK ||
	    iris__e2ee_dh(ikm + 64, ek.sec, ikb_x) != IRIS_OK ||
	    iris__e2ee_dh(ikm + 96, ek.sec, b->spk_pub) != IRIS_OK)
		goto fail;
	if (b->has_opk) {
		if (iris__e2ee_dh(ikm + 128, ek.sec, b->opk_pub) != IRIS_OK)
			goto fail;
		ndh = 4;
	}
	if ((rc = derive_sk(sk, ikm, ndh)) != IRIS_OK)
		goto fail;
	rc = IRIS_ENOMEM;
	if ((s = iris__e2ee_session_new()) == NULL)
		goto fail;
	if ((rc = build_ad(s, me->ik, b->ik, me->user, me->device, b->user,
	    b->device)) != IRIS_OK)
		goto fail;
	/* RatchetInitAlice(SK, SPKb). */
	s->flags = SESSION_INITIATOR | SESSION_PENDING | SESSION_HAS_DHR |
	    SESSION_HAS_CKS;
	iris__e2ee_keypair_new(&s->dhs);
	memcpy(s->dhr, b->spk_pub, 32);
	memcpy(s->rk, sk, 32);
	if ((rc = iris__e2ee_dh(dh, s->dhs.sec, s->dhr)) != IRIS_OK)
		goto fail;
	iris__e2ee_kdf_rk(s->rk, s->cks, dh);
	memcpy(s->peer_ik, b->ik, 32);
	memcpy(s->own_ik, me->ik, 32);
	memcpy(s->base, ek.pub, 32);
	s->spk_id = b->spk_id;
	s->opk_id = b->has_opk ? b->opk_id : IRIS_E2EE_OPK_NONE;
	*out = s;
	s = NULL;
	rc = IRIS_OK;
fail:
	iris__e2ee_session_free(s);
	sodium_memzero(&ek, sizeof(ek));
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(dh, sizeof(dh));
	return rc;
}

int
iris__e2ee_prekey_info(const uint8_t *env, size_t len,
    struct iris_e2ee_prekey_info *pi)
{
	struct e2ee_env e;
	int rc;

	if (env == NULL || pi == NULL)
		return IRIS_EINVAL;
	if ((rc = iris__e2ee_env_parse(env, len, &e)) != IRIS_OK)
		return rc;
	if (e.kind != IRIS_E2EE_KIND_PREKEY)
		return IRIS_EPROTO;
	*pi = e.pre;
	return IRIS_OK;
}

int
iris__e2ee_respond(struct iris_e2ee_session **out,
    const struct iris_e2ee_local *me, const char *peer_user,
    uint32_t peer_dev, const uint8_t *peer_ik,
    const struct iris_e2ee_keypair *spk, const struct iris_e2ee_keypair *opk,
    const uint8_t *env, size_t len, uint8_t *plain, size_t cap, size_t *plen)
{
	struct iris_e2ee_session *s = NULL;
	struct e2ee_env e;
	uint8_t ika_x[32], ikm[32 * 5], sk[32];
	size_t ndh = 3;
	int rc;

	if (out == NULL)
		return IRIS_EINVAL;
	*out = NULL;
	if (!local_ok(me) || spk == NULL || env == NULL || plain == NULL ||
	    plen == NULL)
		return IRIS_EINVAL;
	if ((rc = iris__e2ee_env_parse(env, len, &e)) != IRIS_OK)
		return rc;
	if (e.kind != IRIS_E2EE_KIND_PREKEY)
		return IRIS_EPROTO;
	if ((e.pre.opk_id == IRIS_E2EE_OPK_NONE) != (opk == NULL))
		return IRIS_EINVAL;
	if (peer_ik != NULL && sodium_memcmp(peer_ik, e.pre.ik, 32) != 0)
		return IRIS_ECRYPTO;
	if ((rc = iris__e2ee_identity_dh_pub(ika_x, e.pre.ik)) != IRIS_OK)
		return rc;
	rc = IRIS_ECRYPTO;
	if (iris__e2ee_dh(ikm + 32, spk->sec, ika_x) != IRIS_OK ||
	    iris__e2ee_dh(ikm + 64, me->ik_dh, e.pre.ek) != IRIS_OK ||
	    iris__e2ee_dh(ikm + 96, spk->sec, e.pre.ek) != IRIS_OK)
		goto fail;
	if (opk != NULL) {
		if (iris__e2ee_dh(ikm + 128, opk->sec, e.pre.ek) != IRIS_OK)
			goto fail;
		ndh = 4;
	}
	if ((rc = derive_sk(sk, ikm, ndh)) != IRIS_OK)
		goto fail;
	rc = IRIS_ENOMEM;
	if ((s = iris__e2ee_session_new()) == NULL)
		goto fail;
	if ((rc = build_ad(s, e.pre.ik, me->ik, peer_user, peer_dev, me->user,
	    me->device)) != IRIS_OK)
		goto fail;
	/* RatchetInitBob(SK, SPK key pair). */
	s->flags = 0;
	s->dhs = *spk;
	memcpy(s->rk, sk, 32);
	memcpy(s->peer_ik, e.pre.ik, 32);
	memcpy(s->own_ik, me->ik, 32);
	memcpy(s->base, e.pre.ek, 32);
	s->spk_id = e.pre.spk_id;
	s->opk_id = e.pre.opk_id;
	if ((rc = iris__e2ee_ratchet_open(s, &e, plain, cap, plen)) != IRIS_OK)
		goto fail;
	*out = s;
	s = NULL;
fail:
	iris__e2ee_session_free(s);
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

/* SPDX-License-Identifier: ISC */
/*
 * Peer devices' key bundles: asked for when a send finds no session with
 * a device (the send's seal() answers IRIS_EAGAIN), checked when they
 * come (the signed prekey's signature, every key's form, and the identity
 * key against the user's signed device list when it is known), kept for
 * a while for the first send, and the outbox kicked so that it seals at
 * once. A bundle that does not verify is kept as refused: sends to that
 * device fail with IRIS_ECRYPTO instead of starting a session.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/seal_e2ee.h"

struct e2s_bundle *
iris__e2s_bundle_find(struct e2s *s, const char *user, uint32_t device)
{
	uint64_t now = iris__client_now(s->c);
	size_t i;

	for (i = 0; i < s->nbundles; i++) {
		struct e2s_bundle *b = &s->bundles[i];

		if (b->b.device != device || strcmp(b->b.user, user) != 0)
			continue;
		if (now - b->got_ms > E2S_BUNDLE_TTL_MS)
			return NULL;
		return b;
	}
	return NULL;
}

static struct e2s_bundle *
slot(struct e2s *s, const char *user, uint32_t device)
{
	size_t i, old = 0;

	for (i = 0; i < s->nbundles; i++) {
		if (s->bundles[i].b.device == device &&
		    strcmp(s->bundles[i].b.user, user) == 0)
			return &s->bundles[i];
		if (s->bundles[i].got_ms < s->bundles[old].got_ms)
			old = i;
	}
	if (s->nbundles < E2S_BUNDLES_MAX)
		return &s->bundles[s->nbundles++];
	return &s->bundles[old];
}

static int
fetching(struct e2s *s, const char *user, int set)
{
	size_t i, free_i = E2S_FETCHES_MAX;

	for (i = 0; i < E2S_FETCHES_MAX; i++) {
		if (strcmp(s->fetching[i], user) == 0) {
			if (set < 0)
				s->fetching[i][0] = '\0';
			return 1;
		}
		if (s->fetching[i][0] == '\0' && free_i == E2S_FETCHES_MAX)
			free_i = i;
	}
	if (set > 0 && free_i < E2S_FETCHES_MAX) {
		memcpy(s->fetching[free_i], user, strlen(user) + 1);
		return 0;
	}
	return set > 0 ? -1 : 0;
}

int
iris__e2s_fetch(struct e2s *s, const char *user)
{
	struct iris_client *c = s->c;
	iris_v1_KeyBundleFetch *f;
	struct iris_wire_msg m;
	struct creq *r;
	size_t ulen = strlen(user);
	int rc;

	if (!iris__conn_is_online(c) || ulen > IRIS_E2EE_USER_MAX)
		return IRIS_EAGAIN;
	if ((rc = fetching(s, user, 1)) != 0)
		return rc > 0 ? IRIS_OK : IRIS_EAGAIN;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_key_bundle_fetch_tag;
	f = &m.f.body.key_bundle_fetch;
	f->user.size = (pb_size_t)ulen;
	memcpy(f->user.bytes, user, ulen);
	if ((r = iris__conn_req(c, RQ_KEYS_FETCH, &m)) == NULL) {
		(void)fetching(s, user, -1);
		return IRIS_EAGAIN;
	}
	snprintf(r->to, sizeof(r->to), "%s", user);
	if (iris__conn_send(c, &m) != IRIS_OK) {
		iris__conn_req_free(c, r);
		(void)fetching(s, user, -1);
		return IRIS_EAGAIN;
	}
	return IRIS_OK;
}

/* One bundle of user: verified and kept, or kept as refused. */
static int
accept_one(struct e2s *s, const char *user, const iris_v1_KeyBundle *kb)
{
	struct iris_e2ee_bundle b;
	struct e2s_bundle *e;
	struct devlist *l;
	size_t i;
	int rc;

	memset(&b, 0, sizeof(b));
	memcpy(b.user, user, strlen(user) + 1);
	b.device = kb->device_id;
	memcpy(b.ik, kb->identity_key, 32);
	if (!kb->has_signed_prekey)
		rc = IRIS_EPROTO;
	else {
		b.spk_id = kb->signed_prekey.id;
		memcpy(b.spk_pub, kb->signed_prekey.public_key, 32);
		memcpy(b.spk_sig, kb->signed_prekey.signature, 64);
		b.spk_created_ms = kb->signed_prekey.created_ms;
		if ((b.has_opk = kb->has_one_time_prekey)) {
			b.opk_id = kb->one_time_prekey.id;
			memcpy(b.opk_pub, kb->one_time_prekey.public_key, 32);
		}
		rc = iris__e2ee_bundle_verify(&b);
	}
	/* The identity must be the one the signed device list names. */
	if (rc == IRIS_OK && (l = iris__devlist_find(s->c, user)) != NULL) {
		for (i = 0; i < l->n && l->ids[i] != b.device; i++)
			;
		if (i == l->n || sodium_memcmp(l->keys[i], b.ik, 32) != 0)
			rc = IRIS_ECRYPTO;
	}
	e = slot(s, user, b.device);
	e->b = b;
	e->got_ms = iris__client_now(s->c);
	e->bad = rc;
	if (rc != IRIS_OK) {
		s->st.bundles_refused++;
		iris__log(&s->c->log, IRIS_LOG_WARNING, "client %s/%u: the key "
		    "bundle of %s/%u is refused: %s", s->c->user,
		    s->c->device, user, b.device, iris_strerror(rc));
	}
	return rc;
}

int
iris__keys_accept(struct iris_client *c, const char *user,
    const iris_v1_KeyBundles *kb)
{
	struct e2s *s = c->seal == &iris__seal_e2ee ? c->sealer : NULL;
	pb_size_t i;
	int rc = IRIS_OK, one;

	if (s == NULL || strlen(user) > IRIS_E2EE_USER_MAX)
		return IRIS_EINVAL;
	for (i = 0; i < kb->bundles_count; i++)
		if ((one = accept_one(s, user, &kb->bundles[i])) != IRIS_OK)
			rc = one;
	return rc;
}

void
iris__keys_fetch_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	struct e2s *s = c->seal == &iris__seal_e2ee ? c->sealer : NULL;
	char user[IRIS_USER_MAX + 1];

	memcpy(user, r->to, sizeof(user));
	iris__conn_req_free(c, r);
	if (s == NULL)
		return;
	(void)fetching(s, user, -1);
	if (m->f.which_body == iris_v1_Frame_key_bundles_tag)
		(void)iris__keys_accept(c, user, &m->f.body.key_bundles);
	else
		iris__log(&c->log, IRIS_LOG_INFO, "client %s/%u: no key "
		    "bundles for %s", c->user, c->device, user);
	iris__outbox_kick(c);
}

/*
 * The safety number of this account and user: the identity keys of both
 * users' primary devices (which sign their device lists, and so vouch
 * for every other device) as their signed lists name them.
 */
int
iris_client_safety_number(struct iris_client *c, const char *user,
    char *out, size_t outlen)
{
	char sn[IRIS_E2EE_SAFETY_LEN + 1];
	struct devlist *mine, *theirs;
	int rc;

	if (c == NULL || user == NULL || out == NULL ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	if (outlen < sizeof(sn))
		return IRIS_ETOOBIG;
	if (c->acct == 0 || c->user[0] == '\0')
		return IRIS_ESTATE;
	mine = iris__devlist_find(c, c->user);
	theirs = iris__devlist_find(c, user);
	if (mine == NULL || theirs == NULL) {
		/* Learnt for the next call. */
		if (mine == NULL)
			(void)iris__devlist_fetch(c, c->user);
		if (theirs == NULL)
			(void)iris__devlist_fetch(c, user);
		return IRIS_EAGAIN;
	}
	if ((rc = iris__e2ee_safety_number(sn, mine->primary, c->user,
	    theirs->primary, user)) != IRIS_OK)
		return rc;
	memcpy(out, sn, sizeof(sn));
	return IRIS_OK;
}

/* SPDX-License-Identifier: ISC */
/*
 * The inside of a session, shared by x3dh.c, ratchet.c and state.c only:
 * the Double Ratchet state of the spec (DHs, DHr, RK, CKs, CKr, Ns, Nr,
 * PN, MKSKIPPED), the associated data binding both devices, and the X3DH
 * header an initiator repeats until its peer answers.
 */
#ifndef IRIS_E2EE_SESSION_H
#define IRIS_E2EE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/e2ee.h"

/* "IRIS-AD-v1" || IKa || IKb || u8 ulen || user || u32 device, twice. */
#define SESSION_AD_MAX	(10 + 32 + 32 + 2 * (1 + IRIS_E2EE_USER_MAX + 4))
#define SESSION_AD_MIN	(10 + 32 + 32 + 2 * (1 + 1 + 4))

/* flags */
#define SESSION_INITIATOR	0x01
#define SESSION_HAS_DHR		0x02
#define SESSION_HAS_CKS		0x04
#define SESSION_HAS_CKR		0x08
#define SESSION_PENDING		0x10	/* sends prekey envelopes */
#define SESSION_FLAGS		0x1f

struct session_skipped {
	uint8_t		 dh[32];	/* the chain's ratchet key */
	uint32_t	 n;		/* the message number */
	uint32_t	 step;		/* the DH step it was stored in */
	uint8_t		 mk[32];
};

struct iris_e2ee_session {
	uint8_t			 flags;
	struct iris_e2ee_keypair dhs;
	uint8_t			 dhr[32];
	uint8_t			 rk[32];
	uint8_t			 cks[32];
	uint8_t			 ckr[32];
	uint32_t		 ns, nr, pn;
	uint32_t		 step;		/* DH steps received */
	uint8_t			 peer_ik[32];
	/* The X3DH header: the initiator's identity and base key, and the
	 * prekeys it used; the responder keeps the base key to recognise
	 * prekey envelopes of this session. */
	uint8_t			 own_ik[32];
	uint8_t			 base[32];
	uint32_t		 spk_id, opk_id;
	/* The ratchet keys of the last receiving chains, newest first:
	 * a message of one of them that has no skipped key is a replay. */
	uint8_t			 old_dhr[IRIS_E2EE_OLD_CHAINS][32];
	uint8_t			 nold;
	uint16_t		 adlen;
	uint8_t			 ad[SESSION_AD_MAX];
	/* Skipped message keys, oldest first. */
	struct session_skipped	*sk;
	uint32_t		 nsk, capsk;
};

/* A new, zeroed session; NULL without memory. */
struct iris_e2ee_session *iris__e2ee_session_new(void);
/* Room for n skipped keys: IRIS_OK or IRIS_ENOMEM. */
int	 iris__e2ee_session_reserve(struct iris_e2ee_session *s, uint32_t n);

/* KDF_RK: (rk, dh) -> rk' || ck. */
void	 iris__e2ee_kdf_rk(uint8_t rk[32], uint8_t ck[32],
	    const uint8_t dh[32]);

/* A parsed envelope: pointers into the caller's bytes. */
struct e2ee_env {
	int		 kind;
	struct iris_e2ee_prekey_info pre;	/* IRIS_E2EE_KIND_PREKEY */
	const uint8_t	*hdr;		/* bytes before the nonce */
	size_t		 hdrlen;
	const uint8_t	*dh;		/* the sender's ratchet key */
	uint32_t	 pn, n;
	const uint8_t	*nonce;
	const uint8_t	*ct;		/* ciphertext || tag */
	size_t		 ctlen;
};

/*
 * Decrypts a parsed envelope with s, a working copy that it advances
 * (ratchet.c); on failure the caller drops the copy.
 */
int	 iris__e2ee_ratchet_open(struct iris_e2ee_session *s,
	    const struct e2ee_env *e, uint8_t *plain, size_t cap, size_t *plen);

/* IRIS_OK, IRIS_EPROTO, IRIS_EVERSION (state.c). */
int	 iris__e2ee_env_parse(const uint8_t *env, size_t len,
	    struct e2ee_env *e);

#endif /* IRIS_E2EE_SESSION_H */

/* SPDX-License-Identifier: ISC */
/*
 * The end-to-end encryption layer: pure cryptography on libsodium 1.0.18
 * (research/e2ee.md §6). HKDF on HMAC-SHA256, XChaCha20-Poly1305 with
 * random nonces, X25519 with every result checked, Ed25519 device
 * identities with their X25519 form, domain-separated signatures, X3DH
 * and the Double Ratchet, sessions as opaque objects saved to and loaded
 * from versioned bytes, and safety numbers. No I/O, no loop, no store:
 * the client's sealer (lib/client/seal.h) keeps the bytes.
 *
 * Errors: IRIS_EINVAL (bad arguments), IRIS_EPROTO (an envelope that is
 * not well formed), IRIS_EVERSION (an unknown envelope or state version),
 * IRIS_ECRYPTO (a MAC, signature or low-order key check failed),
 * IRIS_ESTALE (a replay: the message key was used or has been dropped),
 * IRIS_ELIMIT (a jump past IRIS_E2EE_MAX_SKIP), IRIS_ENOTFOUND (a prekey
 * envelope that starts another session than this one), IRIS_ESTATE (a
 * responder that has not received yet cannot send), IRIS_ECORRUPT (state
 * bytes that do not parse), IRIS_ETOOBIG, IRIS_ENOMEM.
 */
#ifndef IRIS_E2EE_E2EE_H
#define IRIS_E2EE_E2EE_H

#include <stddef.h>
#include <stdint.h>

#define IRIS_E2EE_KEY		32	/* X25519, Ed25519 pub, AEAD */
#define IRIS_E2EE_SIG		64
#define IRIS_E2EE_NONCE		24
#define IRIS_E2EE_TAG		16
#define IRIS_E2EE_USER_MAX	64	/* bytes of a user id */
#define IRIS_E2EE_MAX_SKIP	1000	/* forward jump in one chain */
#define IRIS_E2EE_MAX_STORED	2000	/* skipped message keys kept */
#define IRIS_E2EE_OLD_CHAINS	5	/* DH steps a skipped key lives */
#define IRIS_E2EE_PAD_BLOCK	256	/* plaintexts padded to this */
#define IRIS_E2EE_PLAIN_MAX	(63 * 1024)
#define IRIS_E2EE_HKDF_MAX	(255 * 32)

/* Envelope kinds (the first byte; 0x00 is the plain sealer's framing). */
#define IRIS_E2EE_KIND_PREKEY	0x01	/* X3DH header, a message */
#define IRIS_E2EE_KIND_MSG	0x02	/* a Double Ratchet message */

/* Header 41 + nonce 24 + length 4 + tag 16, after a kind byte. */
#define IRIS_E2EE_MSG_OVERHEAD	\
	(1 + 41 + IRIS_E2EE_NONCE + 4 + IRIS_E2EE_TAG)
#define IRIS_E2EE_PREKEY_EXTRA	(1 + 32 + 32 + 4 + 4)
#define IRIS_E2EE_OPK_NONE	UINT32_MAX	/* opk_id: none used */

/* Domain prefixes of every signature made with an identity key. */
#define IRIS_E2EE_DOM_SPK	"IRIS-SPK-v1"
#define IRIS_E2EE_DOM_DEVLIST	"IRIS-DEVLIST-v1"
#define IRIS_E2EE_SPK_MSG	(11 + 4 + 32 + 8)

/* libsodium ready (sodium_init); IRIS_OK or IRIS_ECRYPTO. */
int	 iris__e2ee_init(void);

/* kdf.c: HMAC-SHA256 with a key of any length, HKDF (RFC 5869). */
void	 iris__e2ee_hmac(uint8_t out[32], const uint8_t *key, size_t klen,
	    const uint8_t *msg, size_t len);
void	 iris__e2ee_hkdf_extract(uint8_t prk[32], const uint8_t *salt,
	    size_t slen, const uint8_t *ikm, size_t ilen);
/* IRIS_OK, or IRIS_EINVAL for 0 or more than IRIS_E2EE_HKDF_MAX bytes. */
int	 iris__e2ee_hkdf_expand(uint8_t *out, size_t olen,
	    const uint8_t *prk, size_t plen, const uint8_t *info,
	    size_t infolen);
int	 iris__e2ee_hkdf(uint8_t *out, size_t olen, const uint8_t *salt,
	    size_t slen, const uint8_t *ikm, size_t ilen, const uint8_t *info,
	    size_t infolen);

/*
 * XChaCha20-Poly1305: c gets mlen + IRIS_E2EE_TAG bytes. open() writes
 * clen - IRIS_E2EE_TAG bytes to m only when the tag verifies (m is
 * wiped otherwise): IRIS_OK, IRIS_ECRYPTO, IRIS_EINVAL.
 */
void	 iris__e2ee_aead_seal(uint8_t *c, const uint8_t *m, size_t mlen,
	    const uint8_t *ad, size_t adlen, const uint8_t nonce[24],
	    const uint8_t key[32]);
int	 iris__e2ee_aead_open(uint8_t *m, const uint8_t *c, size_t clen,
	    const uint8_t *ad, size_t adlen, const uint8_t nonce[24],
	    const uint8_t key[32]);

/* Big-endian fields of envelopes and state. */
void	 iris__e2ee_put16(uint8_t *p, uint16_t v);
void	 iris__e2ee_put32(uint8_t *p, uint32_t v);
void	 iris__e2ee_put64(uint8_t *p, uint64_t v);
uint16_t iris__e2ee_get16(const uint8_t *p);
uint32_t iris__e2ee_get32(const uint8_t *p);
uint64_t iris__e2ee_get64(const uint8_t *p);

/* keys.c */
struct iris_e2ee_keypair {
	uint8_t		 pub[32];	/* X25519 */
	uint8_t		 sec[32];
};

struct iris_e2ee_identity {
	uint8_t		 pub[32];	/* Ed25519 */
	uint8_t		 sec[64];
};

struct iris_e2ee_spk {
	uint32_t		 id;
	uint64_t		 created_ms;
	struct iris_e2ee_keypair kp;
	uint8_t			 sig[64];
};

struct iris_e2ee_opk {
	uint32_t		 id;
	struct iris_e2ee_keypair kp;
};

/* A peer device's keys as the directory hands them out (KeyBundle). */
struct iris_e2ee_bundle {
	char		 user[IRIS_E2EE_USER_MAX + 1];
	uint32_t	 device;
	uint8_t		 ik[32];	/* Ed25519 identity */
	uint32_t	 spk_id;
	uint8_t		 spk_pub[32];
	uint8_t		 spk_sig[64];
	uint64_t	 spk_created_ms;
	int		 has_opk;	/* 0: the pool was empty */
	uint32_t	 opk_id;
	uint8_t		 opk_pub[32];
};

/* This device: its ids, identity public key and the identity's X25519
 * secret (iris__e2ee_identity_dh). Borrowed for the call. */
struct iris_e2ee_local {
	const char	*user;
	uint32_t	 device;
	const uint8_t	*ik;		/* Ed25519 public [32] */
	const uint8_t	*ik_dh;		/* X25519 secret [32] */
};

/* IRIS_OK or IRIS_ECRYPTO (a low-order or all-zero result). */
int	 iris__e2ee_dh(uint8_t out[32], const uint8_t sec[32],
	    const uint8_t pub[32]);
void	 iris__e2ee_keypair_new(struct iris_e2ee_keypair *kp);
void	 iris__e2ee_identity_new(struct iris_e2ee_identity *id);
/* The X25519 forms of an Ed25519 identity: IRIS_OK or IRIS_ECRYPTO. */
int	 iris__e2ee_identity_dh(uint8_t xsec[32], const uint8_t edsec[64]);
int	 iris__e2ee_identity_dh_pub(uint8_t xpub[32],
	    const uint8_t edpub[32]);
/* Ed25519 over domain || msg: IRIS_OK, IRIS_ECRYPTO, IRIS_ENOMEM. */
int	 iris__e2ee_sign(uint8_t sig[64], const uint8_t edsec[64],
	    const char *domain, const uint8_t *msg, size_t len);
int	 iris__e2ee_verify(const uint8_t sig[64], const uint8_t edpub[32],
	    const char *domain, const uint8_t *msg, size_t len);
/* What a signed prekey's signature covers, as the server checks it:
 * "IRIS-SPK-v1" || u32be id || pub || u64be created_ms. */
void	 iris__e2ee_spk_message(uint8_t out[IRIS_E2EE_SPK_MSG], uint32_t id,
	    const uint8_t pub[32], uint64_t created_ms);
int	 iris__e2ee_spk_new(struct iris_e2ee_spk *spk, uint32_t id,
	    uint64_t created_ms, const uint8_t edsec[64]);
/* n one-time prekeys with ids first_id, first_id + 1, ... */
void	 iris__e2ee_opks_new(struct iris_e2ee_opk *opks, size_t n,
	    uint32_t first_id);
/* The signed prekey's signature and every key's form: IRIS_OK,
 * IRIS_EINVAL (ids), IRIS_ECRYPTO. */
int	 iris__e2ee_bundle_verify(const struct iris_e2ee_bundle *b);
void	 iris__e2ee_wipe(void *p, size_t len);

/*
 * Sessions (x3dh.c, ratchet.c, state.c). A session is one Double Ratchet
 * with one peer device; it holds secrets and is freed with
 * iris__e2ee_session_free() (NULL-safe), which wipes it.
 */
struct iris_e2ee_session;

/* What a prekey envelope names, so the receiver finds its keys. */
struct iris_e2ee_prekey_info {
	uint8_t		 ik[32];	/* the initiator's Ed25519 key */
	uint8_t		 ek[32];	/* its ephemeral: the base key */
	uint32_t	 spk_id;
	uint32_t	 opk_id;	/* IRIS_E2EE_OPK_NONE: last resort */
};

/*
 * Starts a session with the device of a verified bundle (verified again
 * here) and its one-time prekey when it has one. Until the peer answers,
 * every envelope carries the X3DH header (a prekey envelope).
 */
int	 iris__e2ee_initiate(struct iris_e2ee_session **out,
	    const struct iris_e2ee_local *me, const struct iris_e2ee_bundle *b);
/* IRIS_OK for a well-formed prekey envelope, IRIS_EPROTO, EVERSION. */
int	 iris__e2ee_prekey_info(const uint8_t *env, size_t len,
	    struct iris_e2ee_prekey_info *pi);
/*
 * Answers a prekey envelope from peer_user's peer_dev: X3DH with this
 * device's signed prekey spk and one-time prekey opk (NULL when the
 * envelope names none), then decrypts its message into plain (cap bytes,
 * at least len). peer_ik, when not NULL, must be the envelope's identity
 * key (IRIS_ECRYPTO otherwise). A new session in *out only on success;
 * the caller then deletes the one-time prekey. An envelope whose base key
 * (pi.ek) is that of a session the caller holds, active or archived, is
 * decrypted with that session instead and never answered again: that is
 * what refuses a replayed last-resort (signed prekey only) envelope.
 */
int	 iris__e2ee_respond(struct iris_e2ee_session **out,
	    const struct iris_e2ee_local *me, const char *peer_user,
	    uint32_t peer_dev, const uint8_t *peer_ik,
	    const struct iris_e2ee_keypair *spk,
	    const struct iris_e2ee_keypair *opk, const uint8_t *env,
	    size_t len, uint8_t *plain, size_t cap, size_t *plen);

/* Bytes an envelope of plen plaintext bytes takes at most. */
size_t	 iris__e2ee_envelope_size(const struct iris_e2ee_session *s,
	    size_t plen);
/*
 * Encrypts plain into env (cap bytes), advancing s: persist s before the
 * envelope leaves the device. On failure s is unchanged.
 */
int	 iris__e2ee_encrypt(struct iris_e2ee_session *s,
	    const uint8_t *plain, size_t plen, uint8_t *env, size_t cap,
	    size_t *elen);
/*
 * Decrypts env on a copy of s: on success the plaintext is in plain
 * (cap bytes, at least len) and *next is the advanced session, which the
 * caller commits with the receive and then uses instead of s; s itself
 * is never changed. On failure *next is NULL.
 */
int	 iris__e2ee_decrypt(const struct iris_e2ee_session *s,
	    const uint8_t *env, size_t len, uint8_t *plain, size_t cap,
	    size_t *plen, struct iris_e2ee_session **next);
void	 iris__e2ee_session_free(struct iris_e2ee_session *s);
/* A deep copy; NULL without memory. */
struct iris_e2ee_session *iris__e2ee_session_dup(
	    const struct iris_e2ee_session *s);
/* The initiator's base key, which names the session in prekey envelopes,
 * and whether the session still sends them. */
const uint8_t *iris__e2ee_session_base(const struct iris_e2ee_session *s);
int	 iris__e2ee_session_pending(const struct iris_e2ee_session *s);
/* The peer's Ed25519 identity key. */
const uint8_t *iris__e2ee_session_peer_ik(const struct iris_e2ee_session *s);
size_t	 iris__e2ee_session_nskipped(const struct iris_e2ee_session *s);

/*
 * State bytes: "IRS1" | u16 format | u16 type | u32 body length | body,
 * parsed strictly (IRIS_ECORRUPT, IRIS_EVERSION). save() allocates *buf
 * (free with iris__e2ee_bytes_free, which wipes).
 */
int	 iris__e2ee_session_save(const struct iris_e2ee_session *s,
	    uint8_t **buf, size_t *len);
int	 iris__e2ee_session_load(struct iris_e2ee_session **out,
	    const uint8_t *buf, size_t len);
void	 iris__e2ee_bytes_free(uint8_t *buf, size_t len);
/* decrypt() on saved bytes: *nstate, *nlen are the new state's bytes,
 * set only on success; state is never changed. */
int	 iris__e2ee_decrypt_state(const uint8_t *state, size_t slen,
	    const uint8_t *env, size_t len, uint8_t *plain, size_t cap,
	    size_t *plen, uint8_t **nstate, size_t *nlen);
/* encrypt() on saved bytes: the new state's bytes (to persist before the
 * envelope leaves) only on success; state is never changed. */
int	 iris__e2ee_encrypt_state(const uint8_t *state, size_t slen,
	    const uint8_t *plain, size_t plen, uint8_t *env, size_t cap,
	    size_t *elen, uint8_t **nstate, size_t *nlen);

/*
 * keys.c: the safety number of two devices, 60 digits and a NUL,
 * the same whichever side computes it (each side's 30 digits come from
 * 5200 iterations of SHA-512 over its identity key and user id).
 */
#define IRIS_E2EE_SAFETY_LEN	60
int	 iris__e2ee_safety_number(char out[IRIS_E2EE_SAFETY_LEN + 1],
	    const uint8_t ik_a[32], const char *user_a, const uint8_t ik_b[32],
	    const char *user_b);

#endif /* IRIS_E2EE_E2EE_H */

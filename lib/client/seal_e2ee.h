/* SPDX-License-Identifier: ISC */
/*
 * The end-to-end encrypting sealer (seal_e2ee.c) and this device's key
 * directory entry (seal_keys.c, seal_bundles.c): its signed and one-time
 * prekeys, kept in a sealer state record, uploaded after login, topped
 * up on a prekey-low notice and rotated every 7 days; and the bundles of
 * peer devices, fetched when a send finds no session.
 *
 * Local keys record "keys": u8 version (1) | u32 next_spk_id |
 * u32 next_opk_id | u32 confirmed_opk_id (one-time prekeys from this id
 * on are not known to be on the server yet) | u8 spk_uploaded |
 * spk: u32 id | u64 created_ms | sec[32] | sig[64] |
 * u8 has_prev | [prev: u32 id | u64 retired_ms | sec[32]] |
 * u16 n | n x (u32 id | sec[32]). Parsed strictly (IRIS_ECORRUPT).
 * What the server confirmed is its own small record "keys-up" (written
 * by the upload's answer without touching the keys): u8 version (1) |
 * u32 spk_id uploaded | u32 confirmed_opk_id.
 */
#ifndef IRIS_CLIENT_SEAL_E2EE_H
#define IRIS_CLIENT_SEAL_E2EE_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/e2ee.h"
#include "client/seal.h"

#define E2S_KEYS_VERSION	1
#define E2S_OPK_BATCH		100	/* uploaded at once */
#define E2S_OPK_KEEP		400	/* private keys kept at most */
#define E2S_SPK_ROTATE_MS	(7ULL * 24 * 3600 * 1000)
#define E2S_SPK_GRACE_MS	(14ULL * 24 * 3600 * 1000)
#define E2S_BUNDLE_TTL_MS	(10ULL * 60 * 1000)
#define E2S_BUNDLES_MAX		256
#define E2S_FETCHES_MAX		16

struct e2s_opk {
	uint32_t	 id;
	uint8_t		 sec[32];
};

struct e2s_keys {
	uint32_t	 next_spk_id;
	uint32_t	 next_opk_id;
	uint32_t	 confirmed_opk_id;
	int		 spk_uploaded;
	uint32_t	 spk_id;
	uint64_t	 spk_created_ms;
	uint8_t		 spk_sec[32];
	uint8_t		 spk_sig[64];
	int		 has_prev;
	uint32_t	 prev_id;
	uint64_t	 prev_retired_ms;
	uint8_t		 prev_sec[32];
	size_t		 n;
	struct e2s_opk	 opks[E2S_OPK_KEEP];
};

/* A peer device's bundle, verified, waiting for a first send. */
struct e2s_bundle {
	struct iris_e2ee_bundle	 b;
	uint64_t		 got_ms;	/* monotonic */
	int			 bad;		/* refused: its error */
};

/* A cached state record, as last written into a transaction. */
struct e2s_cached {
	struct e2s_cached	*next;
	uint8_t			*name;
	size_t			 nlen;
	uint8_t			*data;
	size_t			 len;
	int			 gone;		/* deleted */
};

/* Decrypt failures by cause. */
struct e2s_stats {
	uint64_t	 opened;
	uint64_t	 failed_crypto;		/* MAC, signature, key */
	uint64_t	 failed_replay;		/* IRIS_ESTALE */
	uint64_t	 failed_format;		/* EPROTO, EVERSION */
	uint64_t	 failed_nosession;	/* no session, no prekey */
	uint64_t	 failed_other;
	uint64_t	 bundles_refused;
	uint64_t	 sessions_started;	/* X3DH as initiator */
	uint64_t	 sessions_answered;	/* X3DH as responder */
};

struct e2s {
	struct iris_client	*c;
	uint8_t			 ik_dh[32];	/* identity, X25519 */
	struct e2s_keys		*keys;		/* NULL: not loaded */
	int			 keys_busy;	/* upload or save out */
	struct e2s_bundle	 bundles[E2S_BUNDLES_MAX];
	size_t			 nbundles;
	/* Users whose bundles are being fetched. */
	char		 fetching[E2S_FETCHES_MAX][IRIS_E2EE_USER_MAX + 1];
	struct e2s_cached	*cache;
	/* One-time prekeys used by receives, maybe not committed yet: out
	 * of keys, and left out of every keys record written or loaded,
	 * across reset() too (a receive that is lost finds its prekey
	 * again after a restart, from the store). */
	uint32_t		 spent[256];
	size_t			 nspent;
	struct e2s_stats	 st;
};

extern const struct iris__sealer_ops iris__seal_e2ee;

/* seal_e2ee.c: state records through the cache (see seal.h); data NULL
 * deletes. */
int	 iris__e2s_get(struct e2s *s, const void *name, size_t nlen,
	    struct iris_buf *out);
int	 iris__e2s_put(struct e2s *s, struct iris_cs_txn *txn,
	    const void *name, size_t nlen, const void *data, size_t len);
void	 iris__e2s_cache_clear(struct e2s *s);

/* A session record: the active session's state bytes, then archived. */
#define E2S_REC_SESSIONS	3
struct e2s_rec {
	uint8_t		*st[E2S_REC_SESSIONS];
	size_t		 len[E2S_REC_SESSIONS];
	size_t		 n;
};

void	 iris__e2s_rec_free(struct e2s_rec *r);
int	 iris__e2s_rec_load(struct e2s *s, const char *user, uint32_t device,
	    struct e2s_rec *r);
int	 iris__e2s_rec_put(struct e2s *s, struct iris_cs_txn *txn,
	    const char *user, uint32_t device, const struct e2s_rec *r);
/* Deletes the session record (seal.h forget()). */
int	 iris__e2s_rec_del(struct e2s *s, struct iris_cs_txn *txn,
	    const char *user, uint32_t device);
/* Session i's state replaced by st (taken) and made the active one; i
 * past the end adds it, the oldest archived one going when full. */
void	 iris__e2s_rec_promote(struct e2s_rec *r, size_t i, uint8_t *st,
	    size_t len);
void	 iris__e2s_inner_encode(struct e2s *s, const char *user,
	    uint32_t device, const struct iris__content *in,
	    struct iris_buf *b);
int	 iris__e2s_inner_decode(struct e2s *s, const char *user,
	    uint32_t device, struct iris_buf *plain, struct iris__content *out,
	    struct iris_buf *keep);
int	 iris__e2s_typing_seal(struct e2s *s, const char *user,
	    uint32_t device, const struct iris__content *in,
	    struct iris_buf *out);
/* Typing (txn NULL) or a retry request (the receive's txn, unused). */
int	 iris__e2s_typing_open(struct e2s *s, struct iris_cs_txn *txn,
	    const char *user, uint32_t device, const uint8_t *env,
	    size_t len, struct iris__content *out, struct iris_buf *keep);
void	 iris__e2s_local_of(struct e2s *s, struct iris_e2ee_local *me);
#define E2S_KIND_TYPING		0x03

/* seal_keys.c */
int	 iris__e2s_keys_encode(const struct e2s_keys *k, struct iris_buf *b);
int	 iris__e2s_keys_decode(struct e2s_keys *k, const uint8_t *p,
	    size_t len);
/* The keys, loaded (or IRIS_ENOTFOUND when none were made yet). */
int	 iris__e2s_keys_load(struct e2s *s);
/* Writes the keys into txn (and the cache). */
int	 iris__e2s_keys_put(struct e2s *s, struct iris_cs_txn *txn);
/* The private key of signed prekey id / one-time prekey id. */
int	 iris__e2s_spk_find(const struct e2s *s, uint32_t id,
	    struct iris_e2ee_keypair *kp);
int	 iris__e2s_opk_find(const struct e2s *s, uint32_t id,
	    struct iris_e2ee_keypair *kp);
/* Marks one-time prekey id used by the receive being written. */
void	 iris__e2s_opk_spend(struct e2s *s, uint32_t id);

/* seal_bundles.c */
struct e2s_bundle *iris__e2s_bundle_find(struct e2s *s, const char *user,
	    uint32_t device);
/* Asks for user's bundles unless that is being done: IRIS_OK, or
 * IRIS_EAGAIN when it cannot be asked now. */
int	 iris__e2s_fetch(struct e2s *s, const char *user);

#endif /* IRIS_CLIENT_SEAL_E2EE_H */

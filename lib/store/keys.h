/* SPDX-License-Identifier: ISC */
/*
 * The key directory in the store: signed prekeys and pools of one-time
 * prekeys per device, public keys only. Uploads and fetches are jobs on
 * the writer thread (a fetch consumes one-time prekeys, so it is a write:
 * one writer means a key is never handed out twice); the state read for
 * the login notice runs on the loop. Used by the core (lib/core/keys.c).
 */
#ifndef IRIS_STORE_KEYS_H
#define IRIS_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "store/worker.h"

struct iris_store;

#define IRIS_OPK_BATCH_MAX	100	/* one-time prekeys in one upload */
#define IRIS_FETCH_DEVS_MAX	64	/* bundles in one fetch */

struct iris_spk {
	uint32_t	 id;
	uint8_t		 pub[32];	/* X25519 */
	uint8_t		 sig[64];	/* by the device's identity key */
	uint64_t	 created_ms;	/* the client's, signed */
};

struct iris_opk {
	uint32_t	 id;
	uint8_t		 pub[32];
};

enum iris_keys_op { KEYS_UPLOAD, KEYS_FETCH };

/* Why a fetch was refused (iris_keys_job.bad_reason). */
#define IRIS_KEYS_NO_DEVICE	1	/* not registered, or revoked */
#define IRIS_KEYS_NO_SPK	2	/* no signed prekey uploaded */

/* Why an upload was refused with IRIS_EEXIST. */
#define IRIS_KEYS_SPK_TAKEN	1	/* signed prekey id, another key */
#define IRIS_KEYS_OPK_TAKEN	2	/* one-time prekey id, another key */

/* One device's bundle in a fetch: device and named in, the rest out. */
struct iris_keys_bundle {
	uint32_t	 device;
	int		 named;		/* asked for by id: must exist */
	int		 found;		/* has a signed prekey, not revoked */
	uint8_t		 ik[32];	/* its registered identity key */
	struct iris_spk	 spk;		/* the current signed prekey */
	int		 has_opk;	/* 0: the pool is empty (last resort) */
	struct iris_opk	 opk;
	uint32_t	 remaining;	/* one-time prekeys left */
	int		 low;		/* this fetch took the pool below the
					 * low mark, or emptied it */
};

struct iris_keys_job;
typedef void (*iris_keys_cb)(struct iris_keys_job *job, void *arg);

struct iris_keys_job {
	struct iris_job		 job;
	struct iris_store	*store;
	enum iris_keys_op	 op;
	iris_keys_cb		 cb;
	void			*arg;
	/* Frees arg when cb will never run (the store closed first). */
	void			(*drop)(void *arg);

	/* Inputs of both. */
	char			 user[65];
	uint64_t		 now_ms;	/* the caller's clock; 0: store's */
	uint64_t		 grace_ms;	/* a replaced signed prekey's */
	uint32_t		 low_mark;	/* 0: no notices */
	union {
		struct {
			uint32_t	 device;
			int		 has_spk;
			struct iris_spk	 spk;
			struct iris_opk	 opks[IRIS_OPK_BATCH_MAX];
			size_t		 nopks;
			uint32_t	 max_pool;
			/* Results. */
			uint8_t		 fresh[IRIS_OPK_BATCH_MAX];
			uint32_t	 added;		/* new in the pool */
			uint32_t	 pool;		/* its size after */
			int		 spk_new;	/* became current */
		} up;
		struct {
			struct iris_keys_bundle b[IRIS_FETCH_DEVS_MAX];
			size_t		 n;
		} fetch;
	} u;

	/*
	 * Result: job.rc is IRIS_OK or a refusal that stored nothing:
	 * upload: IRIS_ENOTFOUND (no such device, or revoked), IRIS_ESTALE
	 * (the signed prekey is not newer than the current one), IRIS_EEXIST
	 * (an id in use with another key: bad_reason, bad_id), IRIS_ELIMIT
	 * (the pool would pass max_pool; u.up.pool is its size now); fetch:
	 * IRIS_ENOTFOUND for the named device b[bad_index] (bad_reason).
	 */
	int			 bad_reason;
	uint32_t		 bad_id;
	size_t			 bad_index;
};

/* A zeroed job; NULL without memory. */
struct iris_keys_job *iris__keys_job_new(struct iris_store *s,
	    enum iris_keys_op op, iris_keys_cb cb, void *arg);
/* Queues j, always taking it: IRIS_OK (cb runs on the loop once it is
 * durable), or IRIS_EAGAIN, IRIS_ESTORE, IRIS_ESHUTDOWN (j was freed). */
int	 iris__keys_submit(struct iris_store *s, struct iris_keys_job *j);

/* On the loop: the size of a device's pool and whether it has a signed
 * prekey. IRIS_OK or IRIS_ESTORE. */
int	 iris__keys_state(struct iris_store *s, const char *user,
	    uint32_t device, uint32_t *pool, int *has_spk);

#endif /* IRIS_STORE_KEYS_H */

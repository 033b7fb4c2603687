/* SPDX-License-Identifier: ISC */
/*
 * The client store, inside: one SQLite file (WAL, synchronous=FULL) that
 * the client objects of a process share. Writes are transactions of
 * operations, committed by the generic writer thread of lib/store/worker.h
 * with group commit; reads run on the loop through a read-only connection.
 * Every record that holds keys or content is sealed with
 * XChaCha20-Poly1305 under a key derived from the embedder's, with the
 * record's table and primary key as associated data, so that a record
 * moved to another row no longer opens. Lookups by user id or message id
 * go through keyed hashes ("tags"), so the file names nobody in clear.
 */
#ifndef IRIS_CLIENT_CSTORE_H
#define IRIS_CLIENT_CSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "iris_client.h"
#include "client/rec.h"
#include "store/worker.h"
#include "util/log.h"

#define IRIS_CS_SCHEMA_VERSION	1
#define IRIS_CS_APPLICATION_ID	0x49524343	/* "IRCC" */
#define IRIS_CS_TAG_LEN		32
#define IRIS_CS_KEY_LEN		32

/* Record kinds: part of every record's associated data. Append only. */
enum iris_cs_table {
	CS_T_META = 1, CS_T_ACCOUNT, CS_T_OUTBOX_META, CS_T_OUTBOX_BODY,
	CS_T_OUTBOX_SEALED, CS_T_SENT, CS_T_DEVLIST, CS_T_STATE,
};

/* Domains of keyed hashes. */
enum iris_cs_tagdom {
	CS_D_ACCOUNT = 1, CS_D_USER, CS_D_RECEIVED, CS_D_STATE,
};

/* Statements of the writer connection (writer thread only). */
enum {
	CW_SAVEPOINT, CW_RELEASE, CW_ROLLBACK_TO, CW_ACCOUNT_NEW,
	CW_ACCOUNT_PUT, CW_CURSOR, CW_CURSOR_CAS, CW_OUTBOX_PUT,
	CW_OUTBOX_SEALED,
	CW_OUTBOX_DEL, CW_RECEIVED, CW_SENT, CW_DEVLIST, CW_STATE_PUT,
	CW_STATE_DEL, CW_PRUNE_RECEIVED, CW_PRUNE_SENT, CW_COUNT
};
/* Statements of the read connection (loop). */
enum {
	CR_ACCOUNT, CR_OUTBOX_METAS, CR_OUTBOX_ONE, CR_RECEIVED, CR_SENT,
	CR_DEVLIST, CR_STATE, CR_COUNT
};

struct iris_client_store {
	struct event_base	*base;
	char			*path;
	int			 lock_fd;	/* held while open */
	struct iris_logger	 log;
	char			 err[512];
	uint8_t			 rec_key[IRIS_CS_KEY_LEN];	/* records */
	uint8_t			 tag_key[IRIS_CS_KEY_LEN];	/* tags */
	int			 refs;		/* the embedder's + clients' */
	int			 closing;

	/* Writer thread only, once started. */
	sqlite3			*wdb;
	sqlite3_stmt		*ws[CW_COUNT];
	char			 werr[512];
	int			 failed;	/* reopen, then write */
	uint64_t		 next_prune_ms;
	uint64_t		 retention_ms;
	uint64_t		 (*now_ms)(void *arg);
	void			*now_arg;

	/* Loop side. */
	sqlite3			*rdb;
	sqlite3_stmt		*rs[CR_COUNT];
	struct iris_worker	*w;
};

/* Options for tests: a VFS, a clock, retention of dedup records. */
struct iris__cs_opts {
	const char	*vfs;
	uint64_t	(*now_ms)(void *arg);
	void		*now_arg;
	uint64_t	 retention_ms;	/* received/sent records; 0: 30 days */
};

int	 iris__cs_open_ex(struct iris_client_store **csp,
	    struct event_base *base, const char *path,
	    const uint8_t key[IRIS_CS_KEY_LEN], const struct iris_config *cfg,
	    const struct iris__cs_opts *o);
/* Clients hold a reference; the store closes when the last one goes. */
void	 iris__cs_ref(struct iris_client_store *cs);
void	 iris__cs_unref(struct iris_client_store *cs);

/* lib/client/cs_crypt.c: sealing records, tags. */
#define IRIS_CS_SEAL_OVERHEAD	(1 + 24 + 16)
int	 iris__cs_seal(const struct iris_client_store *cs, int table,
	    int64_t account, const void *key, size_t keylen, const void *pt,
	    size_t ptlen, uint8_t **out, size_t *outlen);
/* IRIS_OK with the plaintext in out, or IRIS_ECRYPTO. */
int	 iris__cs_unseal(const struct iris_client_store *cs, int table,
	    int64_t account, const void *key, size_t keylen, const void *ct,
	    size_t ctlen, struct iris_buf *out);
void	 iris__cs_tag(const struct iris_client_store *cs, int domain,
	    const void *p, size_t n, uint8_t out[IRIS_CS_TAG_LEN]);
int	 iris__cs_derive(struct iris_client_store *cs,
	    const uint8_t key[IRIS_CS_KEY_LEN]);

/* lib/client/cs_schema.c: connections, schema, the key check. */
int	 iris__cs_db_open(struct iris_client_store *cs, const char *vfs,
	    sqlite3 **dbp, int readonly, char *err, size_t errlen);
int	 iris__cs_migrate(struct iris_client_store *cs, sqlite3 *db,
	    char *err, size_t errlen);
int	 iris__cs_keycheck(struct iris_client_store *cs, sqlite3 *db,
	    char *err, size_t errlen);
int	 iris__cs_prepare(sqlite3 *db, sqlite3_stmt **st,
	    const char *const *sql, int n, char *err, size_t errlen);
void	 iris__cs_finalize(sqlite3_stmt **st, int n);
extern const char *const iris__cs_wsql[CW_COUNT];
extern const char *const iris__cs_rsql[CR_COUNT];

/*
 * Transactions (lib/client/cs_txn.c). Operations are appended on the
 * loop (sealed there: the job holds ciphertext only), then the whole
 * transaction is committed atomically with others of its batch. cb runs
 * on the loop with IRIS_OK once durable, IRIS_EEXIST when a new account's
 * name is taken and IRIS_ESTALE when a cursor CAS misses (nothing of the
 * transaction is written then), IRIS_ESTORE when
 * the commit failed (outcome unknown), or IRIS_ESHUTDOWN (deliver == 0:
 * the store is closing; the callback must only free).
 */
struct iris_cs_txn;
typedef void (*iris_cs_txn_cb)(struct iris_cs_txn *t, int rc, int deliver,
    void *arg);

struct iris_cs_txn *iris__cs_txn_new(struct iris_client_store *cs,
	    iris_cs_txn_cb cb, void *arg);
void	 iris__cs_txn_free(struct iris_cs_txn *t);
/* IRIS_OK, or IRIS_EAGAIN/IRIS_ESHUTDOWN (not taken: free it), or the
 * first error of building it (IRIS_ENOMEM). */
int	 iris__cs_txn_submit(struct iris_cs_txn *t);

int	 iris__cs_op_account_new(struct iris_cs_txn *t, int64_t id,
	    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len);
int	 iris__cs_op_account_put(struct iris_cs_txn *t, int64_t id,
	    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len);
int	 iris__cs_op_cursor(struct iris_cs_txn *t, int64_t id, uint64_t seq);
/* Moves the cursor from expect to seq; refused (IRIS_ESTALE, nothing of
 * the transaction written) when it is not at expect. */
int	 iris__cs_op_cursor_cas(struct iris_cs_txn *t, int64_t id,
	    uint64_t expect, uint64_t seq);
/* meta and body are separate records: starting needs only the metas. */
int	 iris__cs_op_outbox_put(struct iris_cs_txn *t, int64_t account,
	    uint64_t seq, const void *meta, size_t mlen, const void *body,
	    size_t blen, const void *sealed, size_t slen);
int	 iris__cs_op_outbox_sealed(struct iris_cs_txn *t, int64_t account,
	    uint64_t seq, const void *sealed, size_t slen);
int	 iris__cs_op_outbox_del(struct iris_cs_txn *t, int64_t account,
	    uint64_t seq);
int	 iris__cs_op_received(struct iris_cs_txn *t, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN]);
int	 iris__cs_op_sent(struct iris_cs_txn *t, int64_t account,
	    uint64_t msg_id, const void *rec, size_t len);
int	 iris__cs_op_devlist(struct iris_cs_txn *t, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len);
int	 iris__cs_op_state_put(struct iris_cs_txn *t, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len);
int	 iris__cs_op_state_del(struct iris_cs_txn *t, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN]);
size_t	 iris__cs_txn_ops(const struct iris_cs_txn *t);
void	*iris__cs_txn_arg(const struct iris_cs_txn *t);

extern const struct iris_worker_ops iris__cs_worker_ops;

/*
 * Reads on the loop (lib/client/cs_read.c), of committed data only.
 * Each returns IRIS_OK, IRIS_ENOTFOUND, IRIS_ECRYPTO (a record that does
 * not open: wrong key, tampered or moved) or IRIS_ESTORE.
 */
int	 iris__cs_account_get(struct iris_client_store *cs,
	    const uint8_t tag[IRIS_CS_TAG_LEN], int64_t *id, uint64_t *cursor,
	    struct iris_buf *rec);
/* Calls cb with each outbox meta of account in seq order; a non-zero
 * return from cb stops with that code. */
int	 iris__cs_outbox_metas(struct iris_client_store *cs, int64_t account,
	    int (*cb)(uint64_t seq, const uint8_t *meta, size_t len,
	    int sealed, void *arg), void *arg);
/* The body (and sealed envelopes when sealed != NULL; sealed->len 0 when
 * not sealed yet) of one outbox entry. */
int	 iris__cs_outbox_get(struct iris_client_store *cs, int64_t account,
	    uint64_t seq, struct iris_buf *body, struct iris_buf *sealed);
int	 iris__cs_received_has(struct iris_client_store *cs, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN]);
int	 iris__cs_sent_get(struct iris_client_store *cs, int64_t account,
	    uint64_t msg_id, struct iris_buf *rec);
int	 iris__cs_devlist_get(struct iris_client_store *cs, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN], struct iris_buf *rec);
int	 iris__cs_state_get(struct iris_client_store *cs, int64_t account,
	    const uint8_t tag[IRIS_CS_TAG_LEN], struct iris_buf *rec);

uint64_t iris__cs_now(const struct iris_client_store *cs);

#endif /* IRIS_CLIENT_CSTORE_H */

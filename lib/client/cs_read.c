/* SPDX-License-Identifier: ISC */
/*
 * Client store reads, on the loop through the read-only connection: short
 * statements over committed data, every record opened (and refused with
 * IRIS_ECRYPTO when it does not open where it is).
 */
#include <string.h>

#include "iris.h"
#include "client/cstore.h"

const char *const iris__cs_rsql[CR_COUNT] = {
	[CR_ACCOUNT] = "SELECT id, cursor, data FROM accounts WHERE tag = ?1",
	[CR_OUTBOX_METAS] = "SELECT seq, meta, sealed IS NOT NULL FROM outbox"
	    " WHERE account = ?1 ORDER BY seq",
	[CR_OUTBOX_ONE] = "SELECT body, sealed FROM outbox WHERE account = ?1"
	    " AND seq = ?2",
	[CR_RECEIVED] = "SELECT 1 FROM received WHERE account = ?1 AND"
	    " tag = ?2",
	[CR_SENT] = "SELECT data FROM sent WHERE account = ?1 AND"
	    " msg_id = ?2",
	[CR_DEVLIST] = "SELECT data FROM devlists WHERE account = ?1 AND"
	    " tag = ?2",
	[CR_STATE] = "SELECT data FROM seal_state WHERE account = ?1 AND"
	    " tag = ?2",
};

static void
be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static int
done(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int
open_col(struct iris_client_store *cs, sqlite3_stmt *st, int col, int table,
    int64_t account, const void *key, size_t keylen, struct iris_buf *out)
{
	return iris__cs_unseal(cs, table, account, key, keylen,
	    sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col),
	    out);
}

int
iris__cs_account_get(struct iris_client_store *cs,
    const uint8_t tag[IRIS_CS_TAG_LEN], int64_t *id, uint64_t *cursor,
    struct iris_buf *rec)
{
	sqlite3_stmt *st = cs->rs[CR_ACCOUNT];
	int rc;

	sqlite3_bind_blob(st, 1, tag, IRIS_CS_TAG_LEN, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return done(st, rc == SQLITE_DONE ? IRIS_ENOTFOUND :
		    IRIS_ESTORE);
	*id = sqlite3_column_int64(st, 0);
	*cursor = (uint64_t)sqlite3_column_int64(st, 1);
	rc = open_col(cs, st, 2, CS_T_ACCOUNT, *id, tag, IRIS_CS_TAG_LEN, rec);
	return done(st, rc);
}

int
iris__cs_outbox_metas(struct iris_client_store *cs, int64_t account,
    int (*cb)(uint64_t seq, const uint8_t *meta, size_t len, int sealed,
    void *arg), void *arg)
{
	sqlite3_stmt *st = cs->rs[CR_OUTBOX_METAS];
	struct iris_buf meta;
	uint8_t key[8];
	uint64_t seq;
	int rc;

	iris__buf_init(&meta, 0);
	sqlite3_bind_int64(st, 1, account);
	for (;;) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? IRIS_OK : IRIS_ESTORE;
			break;
		}
		seq = (uint64_t)sqlite3_column_int64(st, 0);
		be64(key, seq);
		if ((rc = open_col(cs, st, 1, CS_T_OUTBOX_META, account, key, 8,
		    &meta)) != IRIS_OK ||
		    (rc = cb(seq, meta.p, meta.len, sqlite3_column_int(st, 2),
		    arg)) != IRIS_OK)
			break;
	}
	iris__buf_free(&meta);
	return done(st, rc);
}

int
iris__cs_outbox_get(struct iris_client_store *cs, int64_t account,
    uint64_t seq, struct iris_buf *body, struct iris_buf *sealed)
{
	sqlite3_stmt *st = cs->rs[CR_OUTBOX_ONE];
	uint8_t key[8];
	int rc;

	be64(key, seq);
	sqlite3_bind_int64(st, 1, account);
	sqlite3_bind_int64(st, 2, (int64_t)seq);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return done(st, rc == SQLITE_DONE ? IRIS_ENOTFOUND :
		    IRIS_ESTORE);
	rc = body != NULL ? open_col(cs, st, 0, CS_T_OUTBOX_BODY, account,
	    key, 8, body) : IRIS_OK;
	if (rc == IRIS_OK && sealed != NULL) {
		iris__buf_reset(sealed);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			rc = open_col(cs, st, 1, CS_T_OUTBOX_SEALED, account,
			    key, 8, sealed);
	}
	return done(st, rc);
}

int
iris__cs_received_has(struct iris_client_store *cs, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN])
{
	sqlite3_stmt *st = cs->rs[CR_RECEIVED];
	int rc;

	sqlite3_bind_int64(st, 1, account);
	sqlite3_bind_blob(st, 2, tag, IRIS_CS_TAG_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	return done(st, rc == SQLITE_ROW ? IRIS_OK : rc == SQLITE_DONE ?
	    IRIS_ENOTFOUND : IRIS_ESTORE);
}

/* One sealed column of a row keyed by (account, key). */
static int
get_one(struct iris_client_store *cs, int which, int table, int64_t account,
    const void *key, size_t keylen, int is_int, uint64_t num,
    struct iris_buf *rec)
{
	sqlite3_stmt *st = cs->rs[which];
	int rc;

	sqlite3_bind_int64(st, 1, account);
	if (is_int)
		sqlite3_bind_int64(st, 2, (int64_t)num);
	else
		sqlite3_bind_blob(st, 2, key, (int)keylen, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return done(st, rc == SQLITE_DONE ? IRIS_ENOTFOUND :
		    IRIS_ESTORE);
	return done(st, open_col(cs, st, 0, table, account, key, keylen, rec));
}

int
iris__cs_sent_get(struct iris_client_store *cs, int64_t account,
    uint64_t msg_id, struct iris_buf *rec)
{
	uint8_t key[8];

	be64(key, msg_id);
	return get_one(cs, CR_SENT, CS_T_SENT, account, key, 8, 1, msg_id,
	    rec);
}

int
iris__cs_devlist_get(struct iris_client_store *cs, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN], struct iris_buf *rec)
{
	return get_one(cs, CR_DEVLIST, CS_T_DEVLIST, account, tag,
	    IRIS_CS_TAG_LEN, 0, 0, rec);
}

int
iris__cs_state_get(struct iris_client_store *cs, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN], struct iris_buf *rec)
{
	return get_one(cs, CR_STATE, CS_T_STATE, account, tag,
	    IRIS_CS_TAG_LEN, 0, 0, rec);
}

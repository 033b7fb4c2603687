/* SPDX-License-Identifier: ISC */
/*
 * Client store transactions: operations built and sealed on the loop, run
 * on the writer thread inside a savepoint of the batch's transaction (a
 * refused transaction leaves no trace, the batch goes on), reported back
 * on the loop once the batch's commit is durable.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "client/cstore.h"
#include "util/alloc.h"

enum opkind {
	OP_ACCOUNT_NEW, OP_ACCOUNT_PUT, OP_CURSOR, OP_CURSOR_CAS, OP_OUTBOX_PUT,
	OP_OUTBOX_SEALED, OP_OUTBOX_DEL, OP_RECEIVED, OP_SENT, OP_DEVLIST,
	OP_STATE_PUT, OP_STATE_DEL,
};

struct op {
	enum opkind	 kind;
	int64_t		 account;
	uint64_t	 num;		/* seq, msg id, cursor */
	uint64_t	 expect;	/* the cursor a CAS expects */
	uint8_t		 tag[IRIS_CS_TAG_LEN];
	uint8_t		*a;		/* sealed records */
	size_t		 alen;
	uint8_t		*b;
	size_t		 blen;
	uint8_t		*c;
	size_t		 clen;
};

struct iris_cs_txn {
	struct iris_job		 job;		/* first */
	struct iris_client_store *cs;
	iris_cs_txn_cb		 cb;
	void			*arg;
	struct op		*ops;
	size_t			 n;
	size_t			 cap;
	int			 err;		/* first building error */
};

const char *const iris__cs_wsql[CW_COUNT] = {
	[CW_SAVEPOINT] = "SAVEPOINT t",
	[CW_RELEASE] = "RELEASE t",
	[CW_ROLLBACK_TO] = "ROLLBACK TO t",
	[CW_ACCOUNT_NEW] = "INSERT INTO accounts (id, tag, data)"
	    " VALUES (?1, ?2, ?3)",
	[CW_ACCOUNT_PUT] = "UPDATE accounts SET data = ?2 WHERE id = ?1",
	[CW_CURSOR] = "UPDATE accounts SET cursor = max(cursor, ?2)"
	    " WHERE id = ?1",
	[CW_CURSOR_CAS] = "UPDATE accounts SET cursor = ?2"
	    " WHERE id = ?1 AND cursor = ?3",
	[CW_OUTBOX_PUT] = "INSERT INTO outbox (account, seq, meta, body,"
	    " sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
	[CW_OUTBOX_SEALED] = "UPDATE outbox SET sealed = ?3"
	    " WHERE account = ?1 AND seq = ?2",
	[CW_OUTBOX_DEL] = "DELETE FROM outbox WHERE account = ?1 AND"
	    " seq = ?2",
	[CW_RECEIVED] = "INSERT OR IGNORE INTO received (account, tag,"
	    " seen_ms) VALUES (?1, ?2, ?3)",
	[CW_SENT] = "INSERT OR REPLACE INTO sent (account, msg_id,"
	    " created_ms, data) VALUES (?1, ?2, ?3, ?4)",
	[CW_DEVLIST] = "INSERT INTO devlists (account, tag, data)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (account, tag)"
	    " DO UPDATE SET data = excluded.data",
	[CW_STATE_PUT] = "INSERT INTO seal_state (account, tag, data)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (account, tag)"
	    " DO UPDATE SET data = excluded.data",
	[CW_STATE_DEL] = "DELETE FROM seal_state WHERE account = ?1 AND"
	    " tag = ?2",
	[CW_PRUNE_RECEIVED] = "DELETE FROM received WHERE (account, tag) IN"
	    " (SELECT account, tag FROM received WHERE seen_ms < ?1"
	    " LIMIT 1000)",
	[CW_PRUNE_SENT] = "DELETE FROM sent WHERE (account, msg_id) IN"
	    " (SELECT account, msg_id FROM sent WHERE created_ms < ?1"
	    " LIMIT 1000)",
};

static const struct iris_job_ops txn_ops;

struct iris_cs_txn *
iris__cs_txn_new(struct iris_client_store *cs, iris_cs_txn_cb cb, void *arg)
{
	struct iris_cs_txn *t;

	if ((t = iris__calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->job.ops = &txn_ops;
	t->cs = cs;
	t->cb = cb;
	t->arg = arg;
	return t;
}

void
iris__cs_txn_free(struct iris_cs_txn *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		iris__free(t->ops[i].a);
		iris__free(t->ops[i].b);
		iris__free(t->ops[i].c);
	}
	iris__free(t->ops);
	iris__free(t);
}

void *
iris__cs_txn_arg(const struct iris_cs_txn *t)
{
	return t->arg;
}

size_t
iris__cs_txn_ops(const struct iris_cs_txn *t)
{
	return t->n;
}

static struct op *
add(struct iris_cs_txn *t, enum opkind kind, int64_t account, uint64_t num)
{
	struct op *o;
	size_t cap;

	if (t->err != 0)
		return NULL;
	if (t->n == t->cap) {
		cap = t->cap != 0 ? t->cap * 2 : 4;
		if ((o = iris__realloc(t->ops, cap * sizeof(*o))) == NULL) {
			t->err = IRIS_ENOMEM;
			return NULL;
		}
		t->ops = o;
		t->cap = cap;
	}
	o = &t->ops[t->n++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->account = account;
	o->num = num;
	return o;
}

/* Seals pt as a record of table at (account, key) into *out. */
static int
seal(struct iris_cs_txn *t, int table, int64_t account, const void *key,
    size_t keylen, const void *pt, size_t ptlen, uint8_t **out,
    size_t *outlen)
{
	int rc;

	if (t->err != 0)
		return t->err;
	if ((rc = iris__cs_seal(t->cs, table, account, key, keylen, pt,
	    ptlen, out, outlen)) != IRIS_OK)
		t->err = rc;
	t->job.bytes += *outlen;
	return rc;
}

static void
be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

int
iris__cs_op_account_new(struct iris_cs_txn *t, int64_t id,
    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len)
{
	struct op *o;

	if ((o = add(t, OP_ACCOUNT_NEW, id, 0)) == NULL)
		return t->err;
	memcpy(o->tag, tag, IRIS_CS_TAG_LEN);
	return seal(t, CS_T_ACCOUNT, id, tag, IRIS_CS_TAG_LEN, rec, len,
	    &o->a, &o->alen);
}

int
iris__cs_op_account_put(struct iris_cs_txn *t, int64_t id,
    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len)
{
	struct op *o;

	if ((o = add(t, OP_ACCOUNT_PUT, id, 0)) == NULL)
		return t->err;
	return seal(t, CS_T_ACCOUNT, id, tag, IRIS_CS_TAG_LEN, rec, len,
	    &o->a, &o->alen);
}

int
iris__cs_op_cursor(struct iris_cs_txn *t, int64_t id, uint64_t seq)
{
	return add(t, OP_CURSOR, id, seq) != NULL ? IRIS_OK : t->err;
}

int
iris__cs_op_cursor_cas(struct iris_cs_txn *t, int64_t id, uint64_t expect,
    uint64_t seq)
{
	struct op *o;

	if ((o = add(t, OP_CURSOR_CAS, id, seq)) == NULL)
		return t->err;
	o->expect = expect;
	return IRIS_OK;
}

int
iris__cs_op_outbox_put(struct iris_cs_txn *t, int64_t account, uint64_t seq,
    const void *meta, size_t mlen, const void *body, size_t blen,
    const void *sealed, size_t slen)
{
	uint8_t key[8];
	struct op *o;

	if ((o = add(t, OP_OUTBOX_PUT, account, seq)) == NULL)
		return t->err;
	be64(key, seq);
	seal(t, CS_T_OUTBOX_META, account, key, 8, meta, mlen, &o->a,
	    &o->alen);
	seal(t, CS_T_OUTBOX_BODY, account, key, 8, body, blen, &o->b,
	    &o->blen);
	if (sealed != NULL)
		seal(t, CS_T_OUTBOX_SEALED, account, key, 8, sealed, slen,
		    &o->c, &o->clen);
	return t->err;
}

int
iris__cs_op_outbox_sealed(struct iris_cs_txn *t, int64_t account,
    uint64_t seq, const void *sealed, size_t slen)
{
	uint8_t key[8];
	struct op *o;

	if ((o = add(t, OP_OUTBOX_SEALED, account, seq)) == NULL)
		return t->err;
	be64(key, seq);
	return seal(t, CS_T_OUTBOX_SEALED, account, key, 8, sealed, slen,
	    &o->c, &o->clen);
}

int
iris__cs_op_outbox_del(struct iris_cs_txn *t, int64_t account, uint64_t seq)
{
	return add(t, OP_OUTBOX_DEL, account, seq) != NULL ? IRIS_OK : t->err;
}

int
iris__cs_op_received(struct iris_cs_txn *t, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN])
{
	struct op *o;

	if ((o = add(t, OP_RECEIVED, account, 0)) == NULL)
		return t->err;
	memcpy(o->tag, tag, IRIS_CS_TAG_LEN);
	return IRIS_OK;
}

int
iris__cs_op_sent(struct iris_cs_txn *t, int64_t account, uint64_t msg_id,
    const void *rec, size_t len)
{
	uint8_t key[8];
	struct op *o;

	if ((o = add(t, OP_SENT, account, msg_id)) == NULL)
		return t->err;
	be64(key, msg_id);
	return seal(t, CS_T_SENT, account, key, 8, rec, len, &o->a, &o->alen);
}

int
iris__cs_op_devlist(struct iris_cs_txn *t, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len)
{
	struct op *o;

	if ((o = add(t, OP_DEVLIST, account, 0)) == NULL)
		return t->err;
	memcpy(o->tag, tag, IRIS_CS_TAG_LEN);
	return seal(t, CS_T_DEVLIST, account, tag, IRIS_CS_TAG_LEN, rec, len,
	    &o->a, &o->alen);
}

int
iris__cs_op_state_put(struct iris_cs_txn *t, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN], const void *rec, size_t len)
{
	struct op *o;

	if ((o = add(t, OP_STATE_PUT, account, 0)) == NULL)
		return t->err;
	memcpy(o->tag, tag, IRIS_CS_TAG_LEN);
	return seal(t, CS_T_STATE, account, tag, IRIS_CS_TAG_LEN, rec, len,
	    &o->a, &o->alen);
}

int
iris__cs_op_state_del(struct iris_cs_txn *t, int64_t account,
    const uint8_t tag[IRIS_CS_TAG_LEN])
{
	struct op *o;

	if ((o = add(t, OP_STATE_DEL, account, 0)) == NULL)
		return t->err;
	memcpy(o->tag, tag, IRIS_CS_TAG_LEN);
	return IRIS_OK;
}

int
iris__cs_txn_submit(struct iris_cs_txn *t)
{
	if (t->err != 0)
		return t->err;
	t->job.bytes += sizeof(*t) + t->n * sizeof(struct op);
	return iris__worker_submit(t->cs->w, &t->job);
}

/*
 * What each operation binds after the account (?1), in order: n its
 * number, e the cursor a CAS expects, t its tag, a b c its records (c
 * may be NULL), w the time now.
 */
static const struct {
	int		 stmt;
	const char	*binds;
} op_sql[] = {
	[OP_ACCOUNT_NEW] = { CW_ACCOUNT_NEW, "ta" },
	[OP_ACCOUNT_PUT] = { CW_ACCOUNT_PUT, "a" },
	[OP_CURSOR] = { CW_CURSOR, "n" },
	[OP_CURSOR_CAS] = { CW_CURSOR_CAS, "ne" },
	[OP_OUTBOX_PUT] = { CW_OUTBOX_PUT, "nabc" },
	[OP_OUTBOX_SEALED] = { CW_OUTBOX_SEALED, "nc" },
	[OP_OUTBOX_DEL] = { CW_OUTBOX_DEL, "n" },
	[OP_RECEIVED] = { CW_RECEIVED, "tw" },
	[OP_SENT] = { CW_SENT, "nwa" },
	[OP_DEVLIST] = { CW_DEVLIST, "ta" },
	[OP_STATE_PUT] = { CW_STATE_PUT, "ta" },
	[OP_STATE_DEL] = { CW_STATE_DEL, "t" },
};

static void
bind_blob(sqlite3_stmt *st, int col, const uint8_t *p, size_t len)
{
	if (p != NULL)
		sqlite3_bind_blob(st, col, p, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

/* Writer thread: binds and steps one statement. */
static int
run_op(struct iris_client_store *cs, const struct op *o)
{
	sqlite3_stmt *st = cs->ws[op_sql[o->kind].stmt];
	const char *b;
	int col = 2, rc;

	sqlite3_bind_int64(st, 1, o->account);
	for (b = op_sql[o->kind].binds; *b != '\0'; b++, col++)
		switch (*b) {
		case 'n':
			sqlite3_bind_int64(st, col, (int64_t)o->num);
			break;
		case 'e':
			sqlite3_bind_int64(st, col, (int64_t)o->expect);
			break;
		case 't':
			bind_blob(st, col, o->tag, IRIS_CS_TAG_LEN);
			break;
		case 'w':
			sqlite3_bind_int64(st, col, (int64_t)iris__cs_now(cs));
			break;
		case 'a':
			bind_blob(st, col, o->a, o->alen);
			break;
		case 'b':
			bind_blob(st, col, o->b, o->blen);
			break;
		default:
			bind_blob(st, col, o->c, o->clen);
			break;
		}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE && o->kind == OP_CURSOR_CAS &&
	    sqlite3_changes(cs->wdb) == 0)
		return SQLITE_CONSTRAINT_CHECK;	/* not where it was expected */
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
step(struct iris_client_store *cs, int which)
{
	sqlite3_stmt *st = cs->ws[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
txn_exec(struct iris_job *job, void *ctx)
{
	struct iris_cs_txn *t = (struct iris_cs_txn *)job;
	struct iris_client_store *cs = ctx;
	size_t i;
	int rc;

	if ((rc = step(cs, CW_SAVEPOINT)) != SQLITE_OK)
		return IRIS_ESTORE;
	for (i = 0, rc = SQLITE_OK; i < t->n && rc == SQLITE_OK; i++)
		rc = run_op(cs, &t->ops[i]);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		/* A taken account name or outbox seq, or a cursor that is not
		 * where the transaction expected: this one is refused. */
		job->rc = rc == SQLITE_CONSTRAINT_CHECK ? IRIS_ESTALE :
		    IRIS_EEXIST;
		if (step(cs, CW_ROLLBACK_TO) != SQLITE_OK)
			return IRIS_ESTORE;
	} else if (rc != SQLITE_OK) {
		snprintf(cs->werr, sizeof(cs->werr), "writing: %s",
		    sqlite3_errmsg(cs->wdb));
		return IRIS_ESTORE;
	}
	return step(cs, CW_RELEASE) == SQLITE_OK ? IRIS_OK : IRIS_ESTORE;
}

static void
txn_done(struct iris_job *job, int deliver)
{
	struct iris_cs_txn *t = (struct iris_cs_txn *)job;

	if (t->cb != NULL)
		t->cb(t, deliver ? job->rc : IRIS_ESHUTDOWN, deliver, t->arg);
	iris__cs_txn_free(t);
}

static const struct iris_job_ops txn_ops = { txn_exec, txn_done };

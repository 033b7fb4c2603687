/* SPDX-License-Identifier: ISC */
/*
 * Accounts and devices: registration (a user's first device is its
 * primary; a further device needs a link token), invites, link tokens,
 * signed device lists (only a higher version), and revocations. Writes
 * run on the writer thread in the batch transaction; reads on the loop.
 */
#include <string.h>

#include "iris.h"
#include "store/accounts.h"
#include "store/store.h"
#include "util/alloc.h"

/* One statement with text/int/blob parameters, stepped once. */
struct q {
	sqlite3_stmt	*st;
	int		 rc;
};

static int
prep(struct iris_store *s, struct q *q, const char *sql)
{
	q->rc = sqlite3_prepare_v2(s->wdb, sql, -1, &q->st, NULL);
	return q->rc == SQLITE_OK ? IRIS_OK : iris__store_fatal(s, q->rc,
	    "preparing an account statement");
}

/* Steps q; returns 1 for a row, 0 when done, negative on failure. */
static int
step(struct iris_store *s, struct q *q)
{
	q->rc = sqlite3_step(q->st);
	if (q->rc == SQLITE_ROW)
		return 1;
	if (q->rc == SQLITE_DONE)
		return 0;
	return iris__store_fatal(s, q->rc, "an account statement");
}

static int
run(struct iris_store *s, struct q *q)
{
	int r = step(s, q);

	sqlite3_finalize(q->st);
	return r < 0 ? r : IRIS_OK;
}

/* Uses up an unexpired invite (kind 1) or link token (kind 2). */
static int
use_code(struct iris_store *s, struct iris_acct_job *j, int kind,
    int *found)
{
	struct q q;
	int r;

	*found = 0;
	if ((r = prep(s, &q, "UPDATE invites SET used_ms = ?1, used_by = ?2"
	    " WHERE code = ?3 AND kind = ?4 AND used_ms IS NULL AND"
	    " expires_ms > ?1 AND (user IS NULL OR user = ?2)")) != IRIS_OK)
		return r;
	sqlite3_bind_int64(q.st, 1, (int64_t)j->now_ms);
	sqlite3_bind_text(q.st, 2, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 3, j->code, -1, SQLITE_STATIC);
	sqlite3_bind_int(q.st, 4, kind);
	if ((r = run(s, &q)) != IRIS_OK)
		return r;
	*found = sqlite3_changes(s->wdb) == 1;
	return IRIS_OK;
}

static int
add_device(struct iris_store *s, struct iris_acct_job *j, uint32_t id)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, "INSERT INTO devices (user, device, shard,"
	    " identity_key, name, created_ms) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6)")) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, id);
	sqlite3_bind_int(q.st, 3, iris__store_shard(j->user));
	sqlite3_bind_blob(q.st, 4, j->key, IRIS_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 5, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 6, (int64_t)j->now_ms);
	if ((r = run(s, &q)) != IRIS_OK)
		return r;
	j->out_device = id;
	j->out_primary = id == 1;
	return IRIS_OK;
}

static int
do_register(struct iris_store *s, struct iris_acct_job *j)
{
	struct q q;
	int64_t count = 0, maxid = 0;
	int r, exists, ok;

	if ((r = prep(s, &q, "SELECT count(*), coalesce(max(device), 0) FROM"
	    " devices WHERE user = ?1")) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	if ((r = step(s, &q)) == 1) {
		count = sqlite3_column_int64(q.st, 0);
		maxid = sqlite3_column_int64(q.st, 1);
	}
	sqlite3_finalize(q.st);
	if (r < 0)
		return r;
	exists = count > 0;
	if (!exists) {
		/* A new user: open registration, or an invite for it. */
		if (!j->open_policy) {
			if (j->code[0] == '\0' ||
			    (r = use_code(s, j, 1, &ok)) != IRIS_OK)
				return j->code[0] == '\0' ?
				    (j->job.rc = IRIS_EDENIED, IRIS_OK) : r;
			if (!ok) {
				j->job.rc = IRIS_EDENIED;
				return IRIS_OK;
			}
		}
		if ((r = prep(s, &q, "INSERT INTO accounts (user, shard,"
		    " created_ms) VALUES (?1, ?2, ?3)")) != IRIS_OK)
			return r;
		sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
		sqlite3_bind_int(q.st, 2, iris__store_shard(j->user));
		sqlite3_bind_int64(q.st, 3, (int64_t)j->now_ms);
		if ((r = run(s, &q)) != IRIS_OK)
			return r;
		return add_device(s, j, 1);
	}
	/* A further device: only with a link token from the primary. */
	if (!j->is_link) {
		j->job.rc = IRIS_EEXIST;
		return IRIS_OK;
	}
	if ((uint64_t)count >= j->max_devices) {
		j->job.rc = IRIS_ELIMIT;
		return IRIS_OK;
	}
	if ((r = use_code(s, j, 2, &ok)) != IRIS_OK)
		return r;
	if (!ok) {
		j->job.rc = IRIS_EDENIED;
		return IRIS_OK;
	}
	return add_device(s, j, (uint32_t)maxid + 1);
}

static int
do_code(struct iris_store *s, struct iris_acct_job *j, int kind)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, "INSERT INTO invites (code, kind, user,"
	    " created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)")) !=
	    IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->code, -1, SQLITE_STATIC);
	sqlite3_bind_int(q.st, 2, kind);
	if (j->user[0] != '\0')
		sqlite3_bind_text(q.st, 3, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 4, (int64_t)j->now_ms);
	sqlite3_bind_int64(q.st, 5, (int64_t)j->expires_ms);
	return run(s, &q);
}

static int
do_devlist(struct iris_store *s, struct iris_acct_job *j)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, "SELECT version FROM device_lists WHERE"
	    " user = ?1")) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	r = step(s, &q);
	if (r == 1 && (uint64_t)sqlite3_column_int64(q.st, 0) >= j->version)
		j->job.rc = IRIS_ESTALE;
	sqlite3_finalize(q.st);
	if (r < 0 || j->job.rc != IRIS_OK)
		return r < 0 ? r : IRIS_OK;
	if ((r = prep(s, &q, "INSERT INTO device_lists (user, shard, version,"
	    " list, signature) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user)"
	    " DO UPDATE SET version = ?3, list = ?4, signature = ?5")) !=
	    IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int(q.st, 2, iris__store_shard(j->user));
	sqlite3_bind_int64(q.st, 3, (int64_t)j->version);
	sqlite3_bind_blob(q.st, 4, j->list, (int)j->list_len, SQLITE_STATIC);
	sqlite3_bind_blob(q.st, 5, j->sig, IRIS_SIG_LEN, SQLITE_STATIC);
	return run(s, &q);
}

static int
do_revoke(struct iris_store *s, struct iris_acct_job *j)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, "INSERT OR IGNORE INTO revocations (kind, key,"
	    " shard, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)")) !=
	    IRIS_OK)
		return r;
	sqlite3_bind_int(q.st, 1, j->revoke_kind);
	sqlite3_bind_blob(q.st, 2, j->revoke_key, (int)j->revoke_len,
	    SQLITE_STATIC);
	sqlite3_bind_int(q.st, 3, iris__store_shard(j->user));
	sqlite3_bind_int64(q.st, 4, (int64_t)j->now_ms);
	sqlite3_bind_int64(q.st, 5, (int64_t)j->expires_ms);
	if ((r = run(s, &q)) != IRIS_OK || j->revoke_kind !=
	    IRIS_REVOKE_DEVICE)
		return r;
	if ((r = prep(s, &q, "UPDATE devices SET revoked_ms = ?3 WHERE"
	    " user = ?1 AND device = ?2 AND revoked_ms IS NULL")) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, j->device);
	sqlite3_bind_int64(q.st, 3, (int64_t)j->now_ms);
	if ((r = run(s, &q)) != IRIS_OK)
		return r;
	if (sqlite3_changes(s->wdb) == 0)
		j->job.rc = IRIS_ENOTFOUND;
	return IRIS_OK;
}

static int
do_settings(struct iris_store *s, struct iris_acct_job *j)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, "UPDATE accounts SET privacy = ?2, receipts = ?3"
	    " WHERE user = ?1")) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int(q.st, 2, j->privacy);
	sqlite3_bind_int(q.st, 3, j->receipts != 0);
	if ((r = run(s, &q)) != IRIS_OK)
		return r;
	/* The acks after this one read the new setting. */
	iris__wcache_receipts_forget(s, j->user);
	if (sqlite3_changes(s->wdb) == 0)
		j->job.rc = IRIS_ENOTFOUND;
	return IRIS_OK;
}

static int
do_disable(struct iris_store *s, struct iris_acct_job *j)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, "UPDATE accounts SET disabled = ?2 WHERE"
	    " user = ?1")) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int(q.st, 2, j->disabled != 0);
	if ((r = run(s, &q)) != IRIS_OK)
		return r;
	if (sqlite3_changes(s->wdb) == 0)
		j->job.rc = IRIS_ENOTFOUND;
	return IRIS_OK;
}

/* Single-row query returning one integer (or nothing: *out untouched). */
static int
query_one(struct iris_store *s, const char *sql, const char *a,
    const char *b, int64_t *out)
{
	struct q q;
	int r;

	if ((r = prep(s, &q, sql)) != IRIS_OK)
		return r;
	sqlite3_bind_text(q.st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(q.st, 2, b, -1, SQLITE_STATIC);
	if ((r = step(s, &q)) == 1)
		*out = sqlite3_column_int64(q.st, 0);
	sqlite3_finalize(q.st);
	return r < 0 ? r : IRIS_OK;
}

/* Removals first, then additions of existing users, within the cap. */
static int
do_contacts(struct iris_store *s, struct iris_acct_job *j)
{
	struct q q;
	int64_t n = 0, exists;
	size_t i;
	int r;

	for (i = 0; i < j->nadd; i++) {
		exists = 0;
		if ((r = query_one(s, "SELECT 1 FROM accounts WHERE user = ?1",
		    j->add[i], NULL, &exists)) != IRIS_OK)
			return r;
		if (!exists) {
			j->job.rc = IRIS_ENOTFOUND;
			return IRIS_OK;
		}
	}
	for (i = 0; i < j->ndel; i++) {
		if ((r = prep(s, &q, "DELETE FROM contacts WHERE user = ?1 AND"
		    " contact = ?2")) != IRIS_OK)
			return r;
		sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
		sqlite3_bind_text(q.st, 2, j->del[i], -1, SQLITE_STATIC);
		if ((r = run(s, &q)) != IRIS_OK)
			return r;
	}
	for (i = 0; i < j->nadd; i++) {
		if ((r = prep(s, &q, "INSERT OR IGNORE INTO contacts (user,"
		    " contact, shard) VALUES (?1, ?2, ?3)")) != IRIS_OK)
			return r;
		sqlite3_bind_text(q.st, 1, j->user, -1, SQLITE_STATIC);
		sqlite3_bind_text(q.st, 2, j->add[i], -1, SQLITE_STATIC);
		sqlite3_bind_int(q.st, 3, iris__store_shard(j->user));
		if ((r = run(s, &q)) != IRIS_OK)
			return r;
	}
	if ((r = query_one(s, "SELECT count(*) FROM contacts WHERE user = ?1",
	    j->user, NULL, &n)) != IRIS_OK)
		return r;
	/* Over the cap: refused; the writes above go with the savepoint. */
	if ((uint64_t)n > j->max_contacts)
		j->job.rc = IRIS_ELIMIT;
	return IRIS_OK;
}

static int
savepoint(struct iris_store *s, const char *sql)
{
	int rc = sqlite3_exec(s->wdb, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? IRIS_OK : iris__store_fatal(s, rc,
	    "a savepoint");
}

/* An edit of a contact list is all or nothing, inside the batch. */
static int
do_contacts_atomic(struct iris_store *s, struct iris_acct_job *j)
{
	int r;

	if ((r = savepoint(s, "SAVEPOINT contacts")) != IRIS_OK)
		return r;
	if ((r = do_contacts(s, j)) != IRIS_OK)
		return r;	/* the batch rolls back */
	if (j->job.rc != IRIS_OK &&
	    (r = savepoint(s, "ROLLBACK TO contacts")) != IRIS_OK)
		return r;
	return savepoint(s, "RELEASE contacts");
}

static int
exec_acct(struct iris_job *job, void *ctx)
{
	struct iris_acct_job *j = (struct iris_acct_job *)job;
	struct iris_store *s = ctx;

	j->now_ms = iris__store_now(s);
	switch (j->op) {
	case ACCT_REGISTER:
		return do_register(s, j);
	case ACCT_INVITE:
		return do_code(s, j, 1);
	case ACCT_LINK:
		return do_code(s, j, 2);
	case ACCT_DEVLIST_PUT:
		return do_devlist(s, j);
	case ACCT_REVOKE:
		return do_revoke(s, j);
	case ACCT_SETTINGS:
		return do_settings(s, j);
	case ACCT_CONTACTS:
		return do_contacts_atomic(s, j);
	case ACCT_DISABLE:
		return do_disable(s, j);
	}
	return IRIS_EINVAL;
}

static void
done_acct(struct iris_job *job, int deliver)
{
	struct iris_acct_job *j = (struct iris_acct_job *)job;

	if (deliver && j->cb != NULL)
		j->cb(j, j->arg);
	else if (!deliver && j->drop != NULL)
		j->drop(j->arg);
	iris__free(j);
}

static const struct iris_job_ops acct_ops = { exec_acct, done_acct };

struct iris_acct_job *
iris__acct_job_new(struct iris_store *s, enum iris_acct_op op,
    iris_acct_cb cb, void *arg)
{
	struct iris_acct_job *j;

	if ((j = iris__calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->job.ops = &acct_ops;
	j->job.bytes = sizeof(*j);
	j->store = s;
	j->op = op;
	j->cb = cb;
	j->arg = arg;
	return j;
}

int
iris__acct_submit(struct iris_store *s, struct iris_acct_job *j)
{
	int rc;

	if (__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE))
		rc = IRIS_ESTORE;
	else
		rc = iris__worker_submit(s->w, &j->job);
	if (rc != IRIS_OK)
		iris__free(j);
	return rc;
}

/* Reads. */

static int
read_done(struct iris_store *s, sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return IRIS_ENOTFOUND;
	iris__store_seterr(s, "reading accounts: %s", sqlite3_errmsg(s->rdb));
	return IRIS_ESTORE;
}

int
iris__acct_device(struct iris_store *s, const char *user, uint32_t device,
    uint8_t key[IRIS_KEY_LEN], int *revoked)
{
	sqlite3_stmt *st = s->rs[RS_DEVICE];
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return read_done(s, st, rc);
	if (sqlite3_column_bytes(st, 0) != IRIS_KEY_LEN) {
		sqlite3_reset(st);
		return IRIS_ECORRUPT;
	}
	memcpy(key, sqlite3_column_blob(st, 0), IRIS_KEY_LEN);
	*revoked = sqlite3_column_int(st, 1);
	sqlite3_reset(st);
	return IRIS_OK;
}

int
iris__acct_user(struct iris_store *s, const char *user, int *disabled)
{
	sqlite3_stmt *st = s->rs[RS_USER];
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return read_done(s, st, rc);
	if (disabled != NULL)
		*disabled = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	return IRIS_OK;
}

int
iris__acct_devlist(struct iris_store *s, const char *user,
    uint64_t *version, uint8_t *list, size_t *list_len,
    uint8_t sig[IRIS_SIG_LEN])
{
	sqlite3_stmt *st = s->rs[RS_DEVLIST];
	size_t n;
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return read_done(s, st, rc);
	n = (size_t)sqlite3_column_bytes(st, 1);
	if (n > IRIS_LIST_MAX || sqlite3_column_bytes(st, 2) != IRIS_SIG_LEN) {
		sqlite3_reset(st);
		return IRIS_ECORRUPT;
	}
	*version = (uint64_t)sqlite3_column_int64(st, 0);
	memcpy(list, sqlite3_column_blob(st, 1), n);
	*list_len = n;
	memcpy(sig, sqlite3_column_blob(st, 2), IRIS_SIG_LEN);
	sqlite3_reset(st);
	return IRIS_OK;
}

int
iris__acct_revoked(struct iris_store *s, int kind, const void *key,
    size_t len)
{
	sqlite3_stmt *st = s->rs[RS_REVOKED];
	int rc;

	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_blob(st, 2, key, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : IRIS_ESTORE;
}

int
iris__acct_settings(struct iris_store *s, const char *user, int *privacy,
    int *receipts)
{
	sqlite3_stmt *st = s->rs[RS_SETTINGS];
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return read_done(s, st, rc);
	*privacy = sqlite3_column_int(st, 0);
	*receipts = sqlite3_column_int(st, 1) != 0;
	sqlite3_reset(st);
	return IRIS_OK;
}

int
iris__acct_is_contact(struct iris_store *s, const char *user,
    const char *contact)
{
	sqlite3_stmt *st = s->rs[RS_CONTACT];
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : IRIS_ESTORE;
}

int
iris__acct_contacts(struct iris_store *s, const char *user, size_t max,
    void (*cb)(const char *contact, void *arg), void *arg)
{
	sqlite3_stmt *st = s->rs[RS_CONTACTS];
	const char *c;
	int rc, n = 0;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((c = (const char *)sqlite3_column_text(st, 0)) != NULL) {
			cb(c, arg);
			n++;
		}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return read_done(s, st, rc);
	return n;
}

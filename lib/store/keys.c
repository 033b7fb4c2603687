/* SPDX-License-Identifier: ISC */
/*
 * The key directory's writes and reads. An upload checks everything
 * before it writes, so a refusal stores nothing; a fetch takes the
 * lowest-numbered one-time prekey of each device it names inside the
 * writer's transaction, which is what makes a key go out at most once.
 * A replaced signed prekey stays until its grace period (counted from
 * when its successor was accepted) ends; at most one is kept.
 */
#include <string.h>

#include "iris.h"
#include "store/keys.h"
#include "store/store.h"
#include "util/alloc.h"

const char *const iris__store_keys_wsql[WK_COUNT] = {
	[WK_DEVICE] = "SELECT identity_key, revoked_ms IS NOT NULL"
	    " FROM devices WHERE user = ?1 AND device = ?2",
	[WK_SPK_BY_ID] = "SELECT public_key, signature, created_ms"
	    " FROM signed_prekeys WHERE user = ?1 AND device = ?2"
	    " AND id = ?3",
	[WK_SPK_CURRENT] = "SELECT id, public_key, signature, created_ms,"
	    " uploaded_ms FROM signed_prekeys WHERE user = ?1"
	    " AND device = ?2 ORDER BY created_ms DESC LIMIT 1",
	[WK_SPK_PUT] = "INSERT INTO signed_prekeys (user, device, id, shard,"
	    " public_key, signature, created_ms, uploaded_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* Everything older than the two newest. */
	[WK_SPK_TRIM] = "DELETE FROM signed_prekeys WHERE user = ?1"
	    " AND device = ?2 AND created_ms < (SELECT created_ms"
	    " FROM signed_prekeys WHERE user = ?1 AND device = ?2"
	    " ORDER BY created_ms DESC LIMIT 1 OFFSET 1)",
	[WK_SPK_RETIRE] = "DELETE FROM signed_prekeys WHERE user = ?1"
	    " AND device = ?2 AND created_ms < ?3",
	[WK_OPK_GET] = "SELECT public_key FROM one_time_prekeys"
	    " WHERE user = ?1 AND device = ?2 AND id = ?3",
	[WK_OPK_PUT] = "INSERT INTO one_time_prekeys (user, device, id,"
	    " shard, public_key) VALUES (?1, ?2, ?3, ?4, ?5)",
	[WK_OPK_COUNT] = "SELECT count(*) FROM one_time_prekeys"
	    " WHERE user = ?1 AND device = ?2",
	[WK_OPK_TAKE] = "DELETE FROM one_time_prekeys WHERE user = ?1"
	    " AND device = ?2 AND id = (SELECT min(id) FROM one_time_prekeys"
	    " WHERE user = ?1 AND device = ?2) RETURNING id, public_key",
};

const char *const iris__store_keys_rsql[RK_COUNT] = {
	[RK_STATE] = "SELECT (SELECT count(*) FROM one_time_prekeys"
	    " WHERE user = ?1 AND device = ?2), EXISTS (SELECT 1"
	    " FROM signed_prekeys WHERE user = ?1 AND device = ?2)",
};

/* A writer statement bound to (user, device). */
static sqlite3_stmt *
dev_stmt(struct iris_store *s, int which, const char *user, uint32_t device)
{
	sqlite3_stmt *st = s->wk[which];

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device);
	return st;
}

/* Steps st once: 1 for a row (reset it when done), 0 for none. */
static int
step(struct iris_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : iris__store_fatal(s, rc, what);
}

static int
blob_is(sqlite3_stmt *st, int col, const uint8_t *p, size_t n)
{
	return (size_t)sqlite3_column_bytes(st, col) == n &&
	    memcmp(sqlite3_column_blob(st, col), p, n) == 0;
}

static void
blob_get(sqlite3_stmt *st, int col, uint8_t *p, size_t n)
{
	memset(p, 0, n);
	if ((size_t)sqlite3_column_bytes(st, col) == n)
		memcpy(p, sqlite3_column_blob(st, col), n);
}

/* 1: registered and not revoked (its identity key in ik), 0: not. */
static int
device_ok(struct iris_store *s, const char *user, uint32_t device,
    uint8_t ik[32])
{
	sqlite3_stmt *st = dev_stmt(s, WK_DEVICE, user, device);
	int r, ok;

	if ((r = step(s, st, "reading a device")) <= 0)
		return r;
	ok = sqlite3_column_int(st, 1) == 0;
	if (ik != NULL)
		blob_get(st, 0, ik, 32);
	sqlite3_reset(st);
	return ok;
}

/* The current signed prekey: 1 and *spk (with its upload time), 0: none. */
static int
spk_current(struct iris_store *s, const char *user, uint32_t device,
    struct iris_spk *spk, uint64_t *uploaded_ms)
{
	sqlite3_stmt *st = dev_stmt(s, WK_SPK_CURRENT, user, device);
	int r;

	if ((r = step(s, st, "reading a signed prekey")) <= 0)
		return r;
	spk->id = (uint32_t)sqlite3_column_int64(st, 0);
	blob_get(st, 1, spk->pub, sizeof(spk->pub));
	blob_get(st, 2, spk->sig, sizeof(spk->sig));
	spk->created_ms = (uint64_t)sqlite3_column_int64(st, 3);
	*uploaded_ms = (uint64_t)sqlite3_column_int64(st, 4);
	sqlite3_reset(st);
	return 1;
}

/* Keeps the current signed prekey and, within its grace, the previous. */
static int
spk_retire(struct iris_store *s, struct iris_keys_job *j, uint32_t device)
{
	struct iris_spk cur;
	uint64_t up = 0;
	sqlite3_stmt *st;
	int r;

	if ((r = spk_current(s, j->user, device, &cur, &up)) <= 0)
		return r;
	if (j->now_ms >= up + j->grace_ms) {
		st = dev_stmt(s, WK_SPK_RETIRE, j->user, device);
		sqlite3_bind_int64(st, 3, (int64_t)cur.created_ms);
	} else
		st = dev_stmt(s, WK_SPK_TRIM, j->user, device);
	return iris__store_step_done(s, st, "retiring signed prekeys");
}

static int
pool_size(struct iris_store *s, const char *user, uint32_t device,
    uint32_t *n)
{
	sqlite3_stmt *st = dev_stmt(s, WK_OPK_COUNT, user, device);
	int r;

	if ((r = step(s, st, "counting one-time prekeys")) < 0)
		return r;
	*n = r == 1 ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return IRIS_OK;
}

static int
refuse(struct iris_keys_job *j, int rc, int reason, uint32_t id)
{
	j->job.rc = rc;
	j->bad_reason = reason;
	j->bad_id = id;
	return IRIS_OK;
}

/* The upload's signed prekey: new (1), a repeat of a stored one (0). */
static int
up_check_spk(struct iris_store *s, struct iris_keys_job *j)
{
	const struct iris_spk *k = &j->u.up.spk;
	struct iris_spk cur;
	sqlite3_stmt *st;
	uint64_t up;
	int r, same;

	st = dev_stmt(s, WK_SPK_BY_ID, j->user, j->u.up.device);
	sqlite3_bind_int64(st, 3, k->id);
	if ((r = step(s, st, "reading a signed prekey")) < 0)
		return r;
	if (r == 1) {
		same = blob_is(st, 0, k->pub, sizeof(k->pub)) &&
		    blob_is(st, 1, k->sig, sizeof(k->sig)) &&
		    (uint64_t)sqlite3_column_int64(st, 2) == k->created_ms;
		sqlite3_reset(st);
		if (!same)
			refuse(j, IRIS_EEXIST, IRIS_KEYS_SPK_TAKEN, k->id);
		return 0;
	}
	if ((r = spk_current(s, j->user, j->u.up.device, &cur, &up)) < 0)
		return r;
	if (r == 1 && cur.created_ms >= k->created_ms) {
		refuse(j, IRIS_ESTALE, 0, k->id);
		return 0;
	}
	return 1;
}

/* Marks the one-time prekeys not yet in the pool; refuses a reused id. */
static int
up_check_opks(struct iris_store *s, struct iris_keys_job *j)
{
	sqlite3_stmt *st;
	size_t i;
	int r, same;

	j->u.up.added = 0;
	for (i = 0; i < j->u.up.nopks; i++) {
		st = dev_stmt(s, WK_OPK_GET, j->user, j->u.up.device);
		sqlite3_bind_int64(st, 3, j->u.up.opks[i].id);
		if ((r = step(s, st, "reading a one-time prekey")) < 0)
			return r;
		j->u.up.fresh[i] = r == 0;
		if (r == 0) {
			j->u.up.added++;
			continue;
		}
		same = blob_is(st, 0, j->u.up.opks[i].pub, 32);
		sqlite3_reset(st);
		if (!same)
			return refuse(j, IRIS_EEXIST, IRIS_KEYS_OPK_TAKEN,
			    j->u.up.opks[i].id);
	}
	return IRIS_OK;
}

static int
up_write(struct iris_store *s, struct iris_keys_job *j, int spk_new)
{
	const struct iris_spk *k = &j->u.up.spk;
	uint16_t shard = iris__store_shard(j->user);
	sqlite3_stmt *st;
	size_t i;
	int r;

	if (spk_new) {
		st = dev_stmt(s, WK_SPK_PUT, j->user, j->u.up.device);
		sqlite3_bind_int64(st, 3, k->id);
		sqlite3_bind_int(st, 4, shard);
		sqlite3_bind_blob(st, 5, k->pub, sizeof(k->pub), SQLITE_STATIC);
		sqlite3_bind_blob(st, 6, k->sig, sizeof(k->sig), SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, (int64_t)k->created_ms);
		sqlite3_bind_int64(st, 8, (int64_t)j->now_ms);
		if ((r = iris__store_step_done(s, st,
		    "storing a signed prekey")) != IRIS_OK)
			return r;
	}
	for (i = 0; i < j->u.up.nopks; i++) {
		if (!j->u.up.fresh[i])
			continue;
		st = dev_stmt(s, WK_OPK_PUT, j->user, j->u.up.device);
		sqlite3_bind_int64(st, 3, j->u.up.opks[i].id);
		sqlite3_bind_int(st, 4, shard);
		sqlite3_bind_blob(st, 5, j->u.up.opks[i].pub, 32,
		    SQLITE_STATIC);
		if ((r = iris__store_step_done(s, st,
		    "storing a one-time prekey")) != IRIS_OK)
			return r;
	}
	return spk_retire(s, j, j->u.up.device);
}

static int
do_upload(struct iris_store *s, struct iris_keys_job *j)
{
	uint32_t pool = 0;
	int r, spk_new = 0;

	if ((r = device_ok(s, j->user, j->u.up.device, NULL)) <= 0)
		return r < 0 ? r : refuse(j, IRIS_ENOTFOUND, 0, 0);
	if (j->u.up.has_spk) {
		if ((spk_new = up_check_spk(s, j)) < 0)
			return spk_new;
		if (j->job.rc != IRIS_OK)
			return IRIS_OK;
	}
	if ((r = up_check_opks(s, j)) != IRIS_OK || j->job.rc != IRIS_OK)
		return r;
	if ((r = pool_size(s, j->user, j->u.up.device, &pool)) != IRIS_OK)
		return r;
	j->u.up.pool = pool;
	if ((uint64_t)pool + j->u.up.added > j->u.up.max_pool)
		return refuse(j, IRIS_ELIMIT, 0, 0);
	if ((r = up_write(s, j, spk_new)) != IRIS_OK)
		return r;
	j->u.up.pool = pool + j->u.up.added;
	j->u.up.spk_new = spk_new;
	return IRIS_OK;
}

/* Takes the lowest-numbered one-time prekey of b's device, if any. */
static int
take_opk(struct iris_store *s, struct iris_keys_job *j,
    struct iris_keys_bundle *b)
{
	sqlite3_stmt *st = dev_stmt(s, WK_OPK_TAKE, j->user, b->device);
	int r;

	if ((r = step(s, st, "taking a one-time prekey")) < 0)
		return r;
	if (r == 1) {
		b->has_opk = 1;
		b->opk.id = (uint32_t)sqlite3_column_int64(st, 0);
		blob_get(st, 1, b->opk.pub, sizeof(b->opk.pub));
		/* RETURNING: the row is gone after the first step; finish. */
		if ((r = iris__store_step_done(s, st,
		    "taking a one-time prekey")) != IRIS_OK)
			return r;
	}
	if ((r = pool_size(s, j->user, b->device, &b->remaining)) != IRIS_OK)
		return r;
	b->low = b->has_opk && j->low_mark > 0 && (b->remaining == 0 ||
	    (b->remaining < j->low_mark && b->remaining + 1 >= j->low_mark));
	return IRIS_OK;
}

static int
do_fetch(struct iris_store *s, struct iris_keys_job *j)
{
	struct iris_keys_bundle *b;
	uint64_t up;
	size_t i;
	int r;

	/* Every named device must have a bundle before any key is taken. */
	for (i = 0; i < j->u.fetch.n; i++) {
		b = &j->u.fetch.b[i];
		if ((r = device_ok(s, j->user, b->device, b->ik)) < 0)
			return r;
		if (r == 1 && (r = spk_current(s, j->user, b->device, &b->spk,
		    &up)) < 0)
			return r;
		b->found = r == 1;
		if (!b->found && b->named) {
			j->bad_index = i;
			return refuse(j, IRIS_ENOTFOUND, device_ok(s, j->user,
			    b->device, NULL) == 1 ? IRIS_KEYS_NO_SPK :
			    IRIS_KEYS_NO_DEVICE, b->device);
		}
	}
	for (i = 0; i < j->u.fetch.n; i++) {
		b = &j->u.fetch.b[i];
		if (!b->found)
			continue;
		if ((r = spk_retire(s, j, b->device)) != IRIS_OK ||
		    (r = take_opk(s, j, b)) != IRIS_OK)
			return r;
	}
	return IRIS_OK;
}

static int
exec_keys(struct iris_job *job, void *ctx)
{
	struct iris_keys_job *j = (struct iris_keys_job *)job;
	struct iris_store *s = ctx;

	if (j->now_ms == 0)
		j->now_ms = iris__store_now(s);
	return j->op == KEYS_UPLOAD ? do_upload(s, j) : do_fetch(s, j);
}

static void
done_keys(struct iris_job *job, int deliver)
{
	struct iris_keys_job *j = (struct iris_keys_job *)job;

	if (deliver && j->cb != NULL)
		j->cb(j, j->arg);
	else if (!deliver && j->drop != NULL)
		j->drop(j->arg);
	iris__free(j);
}

static const struct iris_job_ops keys_ops = { exec_keys, done_keys };

struct iris_keys_job *
iris__keys_job_new(struct iris_store *s, enum iris_keys_op op,
    iris_keys_cb cb, void *arg)
{
	struct iris_keys_job *j;

	if ((j = iris__calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->job.ops = &keys_ops;
	j->job.bytes = sizeof(*j);
	j->store = s;
	j->op = op;
	j->cb = cb;
	j->arg = arg;
	return j;
}

int
iris__keys_submit(struct iris_store *s, struct iris_keys_job *j)
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

int
iris__keys_state(struct iris_store *s, const char *user, uint32_t device,
    uint32_t *pool, int *has_spk)
{
	sqlite3_stmt *st = s->rk[RK_STATE];
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		iris__store_seterr(s, "reading the key directory: %s",
		    sqlite3_errmsg(s->rdb));
		sqlite3_reset(st);
		return IRIS_ESTORE;
	}
	*pool = (uint32_t)sqlite3_column_int64(st, 0);
	*has_spk = sqlite3_column_int(st, 1) != 0;
	sqlite3_reset(st);
	return IRIS_OK;
}

/* SPDX-License-Identifier: ISC */
/*
 * Writer-thread maintenance, between batches: PASSIVE checkpoints that keep
 * the WAL bounded, pruning of the dedup window and of acked messages past
 * their retention, and recovery after a failed commit (reopen, then a
 * TRUNCATE checkpoint must succeed before the store writes again).
 */
#include <stdarg.h>
#include <stdio.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/clock.h"

#define PRUNE_CHUNK	1000	/* rows per prune statement */
#define PRUNE_ROUNDS	8	/* statements per tick */
#define PRUNE_TXN_ROWS	4096	/* acked messages deleted per transaction */
#define PRUNE_BUDGET_MS	50	/* writer time per tick while behind */
#define RECOVER_MAX_MS	30000

uint64_t
iris__store_now(const struct iris_store *s)
{
	return s->opts.now_ms(s->opts.now_arg);
}

struct log_job {
	struct iris_job		 job;
	struct iris_store	*store;
	int			 level;
	char			 msg[600];
};

static void
log_done(struct iris_job *job, int deliver)
{
	struct log_job *l = (struct log_job *)job;

	if (deliver)
		iris__log(&l->store->log, l->level, "%s", l->msg);
	iris__free(l);
}

static const struct iris_job_ops log_ops = { NULL, log_done };

void
iris__store_wlog(struct iris_store *s, int level, const char *fmt, ...)
{
	struct log_job *l;
	va_list ap;

	if (!iris__log_enabled(&s->log, level) ||
	    (l = iris__calloc(1, sizeof(*l))) == NULL)
		return;
	l->job.ops = &log_ops;
	l->store = s;
	l->level = level;
	va_start(ap, fmt);
	vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
	va_end(ap);
	iris__worker_post(s->w, &l->job);
}

int
iris__store_writer_open(struct iris_store *s)
{
	int rc;

	if ((rc = iris__store_db_open(s, &s->wdb, 0, s->werr,
	    sizeof(s->werr))) != IRIS_OK)
		return rc;
	if ((rc = iris__store_prepare(s->wdb, s->ws, iris__store_wsql,
	    WS_COUNT, s->werr, sizeof(s->werr))) != IRIS_OK ||
	    (rc = iris__store_prepare(s->wdb, s->wk, iris__store_keys_wsql,
	    WK_COUNT, s->werr, sizeof(s->werr))) != IRIS_OK) {
		iris__store_finalize(s->ws, WS_COUNT);
		sqlite3_close(s->wdb);
		s->wdb = NULL;
	}
	return rc;
}

void
iris__store_writer_close(struct iris_store *s)
{
	iris__store_finalize(s->ws, WS_COUNT);
	iris__store_finalize(s->wk, WK_COUNT);
	sqlite3_close(s->wdb);
	s->wdb = NULL;
}

/* Runs one statement outside any batch, in its own transaction. */
static int
exec1(struct iris_store *s, const char *sql, int64_t a, int64_t b,
    int *changes)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL)) !=
	    SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (changes != NULL)
		*changes = sqlite3_changes(s->wdb);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/*
 * The dedup window: sends are in rowid order, which is time order, so the
 * oldest rows are pruned from the front in chunks.
 */
static int
prune_sends(struct iris_store *s, uint64_t now)
{
	uint64_t cutoff;
	int rc, n, round;

	if (now < s->dedup_window_ms)
		return SQLITE_OK;
	cutoff = now - s->dedup_window_ms;
	for (round = 0; round < PRUNE_ROUNDS; round++) {
		rc = exec1(s, "DELETE FROM sends WHERE id IN (SELECT id FROM"
		    " sends ORDER BY id LIMIT ?2) AND created_ms < ?1",
		    (int64_t)cutoff, PRUNE_CHUNK, &n);
		if (rc != SQLITE_OK)
			return rc;
		__atomic_add_fetch(&s->n_pruned_sends, (uint64_t)n,
		    __ATOMIC_RELAXED);
		if (n < PRUNE_CHUNK)
			break;
	}
	return SQLITE_OK;
}

/*
 * The newest acked seq of a box old enough to go, at most a chunk on: the
 * rows are walked in seq order and the walk stops at the first one still
 * within its retention. Seqs are given in arrival order, so that row is
 * almost always the first (one row read per box and tick while nothing is
 * due, where a max() over the chunk read up to a thousand); a row made
 * "newer" by a wall clock stepping back holds the ones after it until it
 * is due itself, so nothing is ever pruned early.
 */
static int
prune_upto(struct iris_store *s, int64_t box, int64_t acked, int64_t pruned,
    uint64_t cutoff, int64_t *upto)
{
	sqlite3_stmt *q;
	int rc;

	*upto = pruned;
	if (acked > pruned + PRUNE_CHUNK)
		acked = pruned + PRUNE_CHUNK;
	if ((rc = sqlite3_prepare_v2(s->wdb, "SELECT seq, received_ms FROM"
	    " inbox WHERE box = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
	    -1, &q, NULL)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(q, 1, box);
	sqlite3_bind_int64(q, 2, pruned);
	sqlite3_bind_int64(q, 3, acked);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW &&
	    (uint64_t)sqlite3_column_int64(q, 1) < cutoff)
		*upto = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Acked messages past their retention. Boxes with acks beyond what was
 * pruned are in a partial index; they are visited round robin, up to
 * PRUNE_TXN_ROWS messages in one transaction (one fsync), so the writer
 * is never held long. *more says whether a backlog remains.
 */
static int
prune_inbox(struct iris_store *s, uint64_t now, int *more)
{
	enum { BATCH = 64 };
	int64_t row[BATCH][3], upto;
	uint64_t cutoff = now > s->retention_ms ? now - s->retention_ms : 0;
	sqlite3_stmt *st;
	int rc, n = 0, i, changes, total = 0;

	*more = 0;
	rc = sqlite3_prepare_v2(s->wdb, "SELECT id, acked_seq, pruned_seq"
	    " FROM boxes WHERE pruned_seq < acked_seq AND id > ?1"
	    " ORDER BY id LIMIT ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, s->prune_from_box);
	sqlite3_bind_int(st, 2, BATCH);
	while (n < BATCH && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row[n][0] = sqlite3_column_int64(st, 0);
		row[n][1] = sqlite3_column_int64(st, 1);
		row[n][2] = sqlite3_column_int64(st, 2);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (n == 0) {
		s->prune_from_box = 0;
		return SQLITE_OK;
	}
	if ((rc = exec1(s, "BEGIN IMMEDIATE", 0, 0, NULL)) != SQLITE_OK)
		return rc;
	for (i = 0; i < n && total < PRUNE_TXN_ROWS; i++) {
		if ((rc = prune_upto(s, row[i][0], row[i][1], row[i][2],
		    cutoff, &upto)) != SQLITE_OK)
			goto fail;
		if (upto <= row[i][2])
			continue;
		if ((rc = exec1(s, "DELETE FROM inbox WHERE box = ?1 AND"
		    " seq <= ?2", row[i][0], upto, &changes)) != SQLITE_OK ||
		    (rc = exec1(s, "UPDATE boxes SET pruned_seq = ?2 WHERE"
		    " id = ?1", row[i][0], upto, NULL)) != SQLITE_OK)
			goto fail;
		total += changes;
		/* A box with more than a chunk behind is visited again. */
		if (upto < row[i][1])
			*more = 1;
	}
	if ((rc = exec1(s, "COMMIT", 0, 0, NULL)) != SQLITE_OK)
		goto fail;
	__atomic_add_fetch(&s->n_pruned_msgs, (uint64_t)total,
	    __ATOMIC_RELAXED);
	/* Go on after the last box visited, or start over. */
	s->prune_from_box = i < n || n == BATCH ? row[i - 1][0] : 0;
	/* More boxes waiting, and this round made progress: go on. */
	if ((i < n || n == BATCH) && total > 0)
		*more = 1;
	return SQLITE_OK;
fail:
	if (!sqlite3_get_autocommit(s->wdb))
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * After a failure: reopen, and write again only if TRUNCATE succeeds.
 * Paced by the monotonic clock: a wall clock stepping back must not stall
 * recovery.
 */
static void
recover(struct iris_store *s)
{
	uint64_t now = iris__clock_mono_us() / 1000;
	int log = -1, ckpt = -1, rc;

	if (now < s->next_recover_ms)
		return;
	s->recover_wait_ms = s->recover_wait_ms == 0 ? s->opts.recover_ms :
	    s->recover_wait_ms * 2;
	if (s->recover_wait_ms > RECOVER_MAX_MS)
		s->recover_wait_ms = RECOVER_MAX_MS;
	s->next_recover_ms = now + s->recover_wait_ms;

	iris__store_writer_close(s);
	if (iris__store_writer_open(s) != IRIS_OK)
		goto fail;
	rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt);
	if (rc != SQLITE_OK || log != 0) {
		snprintf(s->werr, sizeof(s->werr), "TRUNCATE checkpoint: %s",
		    sqlite3_errmsg(s->wdb));
		goto fail;
	}
	s->recover_wait_ms = 0;
	__atomic_add_fetch(&s->n_recoveries, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->read_only, 0, __ATOMIC_RELEASE);
	iris__store_wlog(s, IRIS_LOG_NOTICE, "store %s: recovered; writing "
	    "again", s->path);
	return;
fail:
	iris__store_wlog(s, IRIS_LOG_WARNING, "store %s: still read-only (%s;"
	    " a full disk needs free space for the write-ahead log); next try"
	    " in %u ms", s->path, s->werr, s->recover_wait_ms);
}

void
iris__store_tick(void *ctx)
{
	struct iris_store *s = ctx;
	uint64_t now = iris__store_now(s);
	int log = 0, ckpt = 0, rc;

	if (__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE)) {
		recover(s);
		return;
	}
	rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
	if (rc == SQLITE_OK && log > 0)
		__atomic_add_fetch(&s->n_checkpoints, 1, __ATOMIC_RELAXED);
	if (rc == SQLITE_OK && now >= s->next_prune_ms) {
		/* While behind, prune within a budget every tick. */
		uint64_t t0 = iris__clock_mono_us();
		int more = 1;

		if ((rc = prune_sends(s, now)) == SQLITE_OK)
			while (more && rc == SQLITE_OK &&
			    iris__clock_mono_us() - t0 < PRUNE_BUDGET_MS * 1000)
				rc = prune_inbox(s, now, &more);
		s->next_prune_ms = more ? now : now + 1000;
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		snprintf(s->werr, sizeof(s->werr), "maintenance: %s",
		    sqlite3_errmsg(s->wdb));
		__atomic_add_fetch(&s->n_io_errors, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->read_only, 1, __ATOMIC_RELEASE);
		s->next_recover_ms = 0;
		iris__store_wlog(s, IRIS_LOG_ERR, "store %s: %s; read-only "
		    "until it recovers", s->path, s->werr);
	}
}

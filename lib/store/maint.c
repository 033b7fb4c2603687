/* SPDX-License-Identifier: ISC */
/*
 * Writer-thread maintenance, between batches, each step short: the WAL's
 * tail (the checkpointer thread, lib/store/ckpt.c, copies the rest while
 * commits go on), pruning of the dedup window and of acked messages past
 * their retention in slices of a few ms, and recovery after a failed
 * commit (reopen, then a TRUNCATE checkpoint must succeed before the store
 * writes again).
 */
#include <stdarg.h>
#include <stdio.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/clock.h"

#define PRUNE_CHUNK	256	/* rows per prune statement */
#define PRUNE_SLICE_US	3000	/* statements of one slice, then commit */
#define PRUNE_BEHIND_MS	20	/* between slices while behind and busy */
#define PRUNE_IDLE_MS	1000	/* between looks while nothing is due */
#define RECOVER_MAX_MS	30000
/*
 * Most frames of a tail the writer copies itself (1 MiB): a longer one
 * (the checkpointer was slow) is left to another pass, which is shorter.
 */
#define TAIL_MAX	256

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

	if ((rc = iris__store_db_open(s, &s->wdb, IRIS__DB_WRITER, s->werr,
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

/* us of the slice begun at t0 are used up. */
static int
slice_over(uint64_t t0, uint64_t us)
{
	return iris__clock_mono_us() - t0 >= us;
}

/*
 * The dedup window: sends are in rowid order, which is time order, so the
 * oldest rows are pruned from the front in chunks. *more: a chunk was
 * full, so more may be due.
 */
static int
prune_sends(struct iris_store *s, uint64_t now, uint64_t t0, int *more,
    uint64_t *pruned)
{
	uint64_t cutoff;
	int rc, n;

	*more = 0;
	if (now < s->dedup_window_ms)
		return SQLITE_OK;
	cutoff = now - s->dedup_window_ms;
	do {
		rc = exec1(s, "DELETE FROM sends WHERE id IN (SELECT id FROM"
		    " sends ORDER BY id LIMIT ?2) AND created_ms < ?1",
		    (int64_t)cutoff, PRUNE_CHUNK, &n);
		if (rc != SQLITE_OK)
			return rc;
		*pruned += (uint64_t)n;
		*more = n == PRUNE_CHUNK;
	} while (*more && !slice_over(t0, PRUNE_SLICE_US / 2));
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
 * Acked messages past their retention, inside the slice's transaction.
 * Boxes with acks beyond what was pruned are in a partial index; they are
 * visited round robin, at most a chunk of each box per visit, until the
 * slice's time is up (at least one box per call). *more says whether a
 * backlog remains.
 */
static int
prune_inbox(struct iris_store *s, uint64_t now, uint64_t t0, int *more,
    uint64_t *pruned)
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
	for (i = 0; i < n && (i == 0 || !slice_over(t0, PRUNE_SLICE_US));
	    i++) {
		if ((rc = prune_upto(s, row[i][0], row[i][1], row[i][2],
		    cutoff, &upto)) != SQLITE_OK)
			return rc;
		if (upto <= row[i][2])
			continue;
		if ((rc = exec1(s, "DELETE FROM inbox WHERE box = ?1 AND"
		    " seq <= ?2", row[i][0], upto, &changes)) != SQLITE_OK ||
		    (rc = exec1(s, "UPDATE boxes SET pruned_seq = ?2 WHERE"
		    " id = ?1", row[i][0], upto, NULL)) != SQLITE_OK)
			return rc;
		total += changes;
		/* A box with more than a chunk behind is visited again. */
		if (upto < row[i][1])
			*more = 1;
	}
	*pruned += (uint64_t)total;
	/* Go on after the last box visited, or start over. */
	s->prune_from_box = i < n || n == BATCH ? row[i - 1][0] : 0;
	/* More boxes waiting, and this round made progress: go on. */
	if ((i < n || n == BATCH) && total > 0)
		*more = 1;
	return SQLITE_OK;
}

/*
 * One slice: a transaction of prune statements for about PRUNE_SLICE_US
 * (the dedup window first, then the inboxes), one commit. *more says
 * whether a backlog remains.
 */
static int
prune_slice(struct iris_store *s, uint64_t now, int *more)
{
	uint64_t t0 = iris__clock_mono_us(), sends = 0, msgs = 0;
	int more_sends = 0, more_msgs = 0, rc;

	*more = 0;
	if ((rc = exec1(s, "BEGIN IMMEDIATE", 0, 0, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = prune_sends(s, now, t0, &more_sends, &sends)) !=
	    SQLITE_OK)
		goto fail;
	/* The window takes at most half the slice; the inboxes go on with
	 * at least one box, so neither backlog holds up the other. */
	if ((rc = prune_inbox(s, now, t0, &more_msgs, &msgs)) != SQLITE_OK)
		goto fail;
	if ((rc = exec1(s, "COMMIT", 0, 0, NULL)) != SQLITE_OK)
		goto fail;
	__atomic_add_fetch(&s->n_pruned_sends, sends, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->n_pruned_msgs, msgs, __ATOMIC_RELAXED);
	*more = more_sends || more_msgs;
	return SQLITE_OK;
fail:
	if (!sqlite3_get_autocommit(s->wdb))
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
iris__store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct iris_store *s = arg;
	uint64_t before = __atomic_load_n(&s->wal_frames, __ATOMIC_RELAXED);

	(void)db;
	(void)name;
	if ((uint64_t)frames < before)
		__atomic_add_fetch(&s->wal_restarts, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&s->wal_frames, (uint64_t)frames,
	    __ATOMIC_RELAXED);
	s->wal_clean = 0;
	return SQLITE_OK;
}

/*
 * Past half of store_wal_max, the writer copies the tail the checkpointer
 * left (committed during its pass): then all of the WAL is in the
 * database file and SQLite starts the log again at the next transaction,
 * if no reader still holds an old snapshot (else this runs again). The
 * checkpointer synced what it copied, so this sync has little to flush.
 */
static int
wal_tail(struct iris_store *s)
{
	uint64_t frames = __atomic_load_n(&s->wal_frames, __ATOMIC_RELAXED);
	uint64_t seen_frames, copied, restarts;
	int log = -1, ckpt = -1, rc;

	if (s->ckpt == NULL || s->wal_clean ||
	    frames < s->wal_restart_frames)
		return SQLITE_OK;
	if (!iris__ckpt_result(s->ckpt, &s->tail_seen, &seen_frames, &copied,
	    &restarts))
		return SQLITE_OK;	/* a pass runs or was asked for */
	if (restarts != __atomic_load_n(&s->wal_restarts, __ATOMIC_ACQUIRE) ||
	    frames > copied + TAIL_MAX) {
		iris__ckpt_kick(s->ckpt);	/* first a shorter pass */
		return SQLITE_OK;
	}
	rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
	if (rc == SQLITE_OK && log > 0) {
		__atomic_add_fetch(&s->n_checkpoints, 1, __ATOMIC_RELAXED);
		if (ckpt == log)
			s->wal_clean = 1;
	}
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

	/* No pass runs now, and none starts while the store is read-only. */
	if (s->ckpt != NULL)
		iris__ckpt_wait_idle(s->ckpt);
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
	/* The WAL is empty: the next commit starts it again. */
	__atomic_store_n(&s->wal_frames, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->wal_restarts, 1, __ATOMIC_RELEASE);
	s->wal_clean = 1;
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
	int rc, more;

	if (__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE)) {
		recover(s);
		return;
	}
	rc = wal_tail(s);
	if (rc == SQLITE_OK && now >= s->next_prune_ms) {
		/* While behind, a slice every few batches, or at once when
		 * no job waits. */
		rc = prune_slice(s, now, &more);
		if (rc == SQLITE_OK && more) {
			s->next_prune_ms = now;
			iris__worker_tick_in(s->w, PRUNE_BEHIND_MS, 1);
		} else if (rc == SQLITE_OK)
			s->next_prune_ms = now + PRUNE_IDLE_MS;
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

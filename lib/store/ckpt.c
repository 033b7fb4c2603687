/* SPDX-License-Identifier: ISC */
/*
 * The checkpointer: a thread with its own connection to the store's file
 * that runs PASSIVE checkpoints, copying committed WAL frames into the
 * database file and syncing it, while the writer goes on committing (a
 * PASSIVE checkpoint takes neither the write lock nor a reader's lock the
 * writer needs). It never writes the WAL: the writer's connection alone
 * appends to it, through the walbuf shim; this one opens the store's VFS
 * as it is.
 *
 * SQLite syncs the database file in a checkpoint only when it copied the
 * whole WAL; under continuous commits a concurrent pass never does, so the
 * pass syncs the file itself: the frames it copied are then on disk, and
 * when the writer copies the small tail left (lib/store/maint.c) its own
 * sync has little to flush. The WAL is never restarted here: SQLite starts
 * it again at the writer's next transaction once all of it is copied.
 *
 * Passes run every tick and when kicked, and not while the store is
 * read-only: recovery reopens the writer and needs the checkpoint lock.
 * A failed pass (not SQLITE_BUSY) turns the store read-only as a failed
 * commit does, and its connection is reopened before the next pass.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"

struct iris__ckpt {
	struct iris_store	*s;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 started;
	int			 stopping;
	int			 kicked;
	int			 running;	/* a pass is under way */
	/* The last pass, under mu. */
	uint64_t		 passes;
	uint64_t		 frames;	/* the WAL's frames it saw */
	uint64_t		 copied;	/* frames in the database file */
	uint64_t		 restarts;	/* s->wal_restarts as it began */

	/* The thread's own. */
	sqlite3			*db;
	int			 open_failed;	/* logged once */
	uint64_t		 synced;	/* frames synced so far */
	uint64_t		 synced_restarts;
	char			 err[512];
};

int
iris__ckpt_new(struct iris_store *s, struct iris__ckpt **ckp)
{
	struct iris__ckpt *ck;

	*ckp = NULL;
	if ((ck = iris__calloc(1, sizeof(*ck))) == NULL)
		return IRIS_ENOMEM;
	ck->s = s;
	if (pthread_mutex_init(&ck->mu, NULL) != 0) {
		iris__free(ck);
		return IRIS_ENOMEM;
	}
	if (iris__worker_cond_init(&ck->cv) != 0)
		goto fail;
	*ckp = ck;
	return IRIS_OK;
fail:
	pthread_mutex_destroy(&ck->mu);
	iris__free(ck);
	return IRIS_ENOMEM;
}

/* A failed pass: the store stops writing until it has recovered. */
static void
failed(struct iris__ckpt *ck, int rc)
{
	struct iris_store *s = ck->s;

	snprintf(ck->err, sizeof(ck->err), "checkpoint: %s",
	    ck->db != NULL ? sqlite3_errmsg(ck->db) : sqlite3_errstr(rc));
	sqlite3_close(ck->db);
	ck->db = NULL;
	if (!__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&s->n_io_errors, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->read_only, 1, __ATOMIC_RELEASE);
		iris__store_wlog(s, IRIS_LOG_ERR, "store %s: %s; read-only "
		    "until it recovers", s->path, ck->err);
	}
	iris__worker_tick_now(s->w);
}

/* Syncs the database file: what this pass copied is then durable. */
static int
sync_db(struct iris__ckpt *ck)
{
	sqlite3_file *f = NULL;
	int rc;

	rc = sqlite3_file_control(ck->db, "main", SQLITE_FCNTL_FILE_POINTER,
	    &f);
	if (rc != SQLITE_OK || f == NULL || f->pMethods == NULL)
		return rc != SQLITE_OK ? rc : SQLITE_IOERR_FSYNC;
	return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/* One pass, without mu. */
static void
run_pass(struct iris__ckpt *ck)
{
	struct iris_store *s = ck->s;
	uint64_t restarts = __atomic_load_n(&s->wal_restarts,
	    __ATOMIC_ACQUIRE);
	int log = -1, copied = -1, rc;

	if (ck->db == NULL) {
		if (iris__store_db_open(s, &ck->db, IRIS__DB_CKPT, ck->err,
		    sizeof(ck->err)) != IRIS_OK) {
			if (!ck->open_failed)
				iris__store_wlog(s, IRIS_LOG_WARNING, "store "
				    "%s: checkpointer: %s; retrying", s->path,
				    ck->err);
			ck->open_failed = 1;
			return;
		}
		ck->open_failed = 0;
	}
	rc = sqlite3_wal_checkpoint_v2(ck->db, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
	if (rc == SQLITE_BUSY)
		return;		/* the writer's own checkpoint runs */
	if (rc == SQLITE_OK && s->durable && copied > 0 && copied < log &&
	    (restarts != ck->synced_restarts ||
	    (uint64_t)copied != ck->synced)) {
		if ((rc = sync_db(ck)) == SQLITE_OK) {
			ck->synced = (uint64_t)copied;
			ck->synced_restarts = restarts;
		}
	}
	if (rc != SQLITE_OK) {
		failed(ck, rc);
		return;
	}
	if (log > 0)
		__atomic_add_fetch(&s->n_checkpoints, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&ck->mu);
	ck->passes++;
	ck->frames = (uint64_t)log;
	ck->copied = (uint64_t)copied;
	ck->restarts = restarts;
	pthread_mutex_unlock(&ck->mu);
	/* The writer may now copy the tail and let the log start again. */
	if ((uint64_t)log >= s->wal_restart_frames)
		iris__worker_tick_now(s->w);
}

/* Waits until the next pass is due or kicked (mu held); 0: stopping. */
static int
wait_pass(struct iris__ckpt *ck)
{
	unsigned ms = ck->s->opts.tick_ms;
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!ck->stopping && !ck->kicked && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&ck->cv, &ck->mu, &ts);
	ck->kicked = 0;
	return !ck->stopping;
}

static void *
ckpt_main(void *arg)
{
	struct iris__ckpt *ck = arg;

	pthread_mutex_lock(&ck->mu);
	while (wait_pass(ck)) {
		/* Checked under mu: recovery waits for running to clear. */
		if (__atomic_load_n(&ck->s->read_only, __ATOMIC_ACQUIRE))
			continue;
		ck->running = 1;
		pthread_mutex_unlock(&ck->mu);
		run_pass(ck);
		pthread_mutex_lock(&ck->mu);
		ck->running = 0;
		pthread_cond_broadcast(&ck->cv);
	}
	pthread_mutex_unlock(&ck->mu);
	sqlite3_close(ck->db);
	ck->db = NULL;
	return NULL;
}

int
iris__ckpt_start(struct iris__ckpt *ck)
{
	if (pthread_create(&ck->thread, NULL, ckpt_main, ck) != 0)
		return IRIS_ENOMEM;
	ck->started = 1;
	return IRIS_OK;
}

void
iris__ckpt_stop(struct iris__ckpt *ck)
{
	if (ck == NULL || !ck->started)
		return;
	pthread_mutex_lock(&ck->mu);
	ck->stopping = 1;
	pthread_cond_broadcast(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->thread, NULL);
	ck->started = 0;
}

void
iris__ckpt_free(struct iris__ckpt *ck)
{
	if (ck == NULL)
		return;
	iris__ckpt_stop(ck);
	pthread_cond_destroy(&ck->cv);
	pthread_mutex_destroy(&ck->mu);
	iris__free(ck);
}

void
iris__ckpt_kick(struct iris__ckpt *ck)
{
	pthread_mutex_lock(&ck->mu);
	ck->kicked = 1;
	pthread_cond_broadcast(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
}

void
iris__ckpt_wait_idle(struct iris__ckpt *ck)
{
	pthread_mutex_lock(&ck->mu);
	while (ck->running)
		pthread_cond_wait(&ck->cv, &ck->mu);
	pthread_mutex_unlock(&ck->mu);
}

int
iris__ckpt_result(struct iris__ckpt *ck, uint64_t *seen, uint64_t *frames,
    uint64_t *copied, uint64_t *restarts)
{
	int ok = 0;

	pthread_mutex_lock(&ck->mu);
	if (!ck->running && ck->passes != *seen) {
		*seen = ck->passes;
		*frames = ck->frames;
		*copied = ck->copied;
		*restarts = ck->restarts;
		ok = 1;
	} else if (!ck->running && !ck->kicked) {
		ck->kicked = 1;
		pthread_cond_broadcast(&ck->cv);
	}
	pthread_mutex_unlock(&ck->mu);
	return ok;
}

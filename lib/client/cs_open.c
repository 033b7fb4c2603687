/* SPDX-License-Identifier: ISC */
/*
 * The client store's life: opening (both connections, migrations, the key
 * check), the writer thread's transactions and maintenance (PASSIVE
 * checkpoints, pruning of old dedup records, recovery after a failed
 * commit), and closing once the last client has let go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/cstore.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/lockfile.h"

#define RETENTION_MS	(30ULL * 24 * 60 * 60 * 1000)
#define PRUNE_EVERY_MS	60000

struct log_job {
	struct iris_job		 job;
	struct iris_client_store *cs;
	int			 level;
	char			 msg[600];
};

uint64_t
iris__cs_now(const struct iris_client_store *cs)
{
	return cs->now_ms(cs->now_arg);
}

static void
log_done(struct iris_job *job, int deliver)
{
	struct log_job *l = (struct log_job *)job;

	if (deliver)
		iris__log(&l->cs->log, l->level, "%s", l->msg);
	iris__free(l);
}

static const struct iris_job_ops log_ops = { NULL, log_done };

/* From the writer thread: the line is logged on the loop. */
static void __attribute__((format(printf, 3, 4)))
wlog(struct iris_client_store *cs, int level, const char *fmt, ...)
{
	struct log_job *l;
	va_list ap;

	if (!iris__log_enabled(&cs->log, level) ||
	    (l = iris__calloc(1, sizeof(*l))) == NULL)
		return;
	l->job.ops = &log_ops;
	l->cs = cs;
	l->level = level;
	va_start(ap, fmt);
	vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
	va_end(ap);
	iris__worker_post(cs->w, &l->job);
}

static int
writer_open(struct iris_client_store *cs)
{
	int rc;

	if ((rc = iris__cs_db_open(cs, NULL, &cs->wdb, 0, cs->werr,
	    sizeof(cs->werr))) != IRIS_OK)
		return rc;
	if ((rc = iris__cs_prepare(cs->wdb, cs->ws, iris__cs_wsql, CW_COUNT,
	    cs->werr, sizeof(cs->werr))) != IRIS_OK) {
		sqlite3_close(cs->wdb);
		cs->wdb = NULL;
	}
	return rc;
}

static void
writer_close(struct iris_client_store *cs)
{
	iris__cs_finalize(cs->ws, CW_COUNT);
	sqlite3_close(cs->wdb);
	cs->wdb = NULL;
}

static int
w_begin(void *ctx)
{
	struct iris_client_store *cs = ctx;

	return sqlite3_exec(cs->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK ? IRIS_OK : IRIS_ESTORE;
}

/* A failed commit's outcome is unknown: reopen before writing again. */
static int
w_commit(void *ctx)
{
	struct iris_client_store *cs = ctx;

	if (sqlite3_exec(cs->wdb, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return IRIS_OK;
	snprintf(cs->werr, sizeof(cs->werr), "commit: %s",
	    sqlite3_errmsg(cs->wdb));
	cs->failed = 1;
	wlog(cs, IRIS_LOG_ERR, "client store %s: %s; not writing until it "
	    "has reopened", cs->path, cs->werr);
	return IRIS_ESTORE;
}

static void
w_rollback(void *ctx)
{
	struct iris_client_store *cs = ctx;

	if (cs->wdb != NULL && !sqlite3_get_autocommit(cs->wdb))
		sqlite3_exec(cs->wdb, "ROLLBACK", NULL, NULL, NULL);
}

static int
w_writable(void *ctx)
{
	struct iris_client_store *cs = ctx;

	return cs->failed || cs->wdb == NULL ? IRIS_ESTORE : IRIS_OK;
}

static int
prune(struct iris_client_store *cs, int which, uint64_t cutoff)
{
	sqlite3_stmt *st = cs->ws[which];
	int rc;

	sqlite3_bind_int64(st, 1, (int64_t)cutoff);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void
w_tick(void *ctx)
{
	struct iris_client_store *cs = ctx;
	uint64_t now = iris__cs_now(cs);
	int log = -1, ckpt = -1, rc;

	if (cs->failed) {
		/* Reopen; write again only once TRUNCATE succeeds. */
		writer_close(cs);
		if (writer_open(cs) == IRIS_OK && sqlite3_wal_checkpoint_v2(
		    cs->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt) ==
		    SQLITE_OK && log == 0) {
			cs->failed = 0;
			wlog(cs, IRIS_LOG_NOTICE, "client store %s: writing "
			    "again", cs->path);
		}
		return;
	}
	rc = sqlite3_wal_checkpoint_v2(cs->wdb, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
	if (rc == SQLITE_OK && now >= cs->next_prune_ms && now >
	    cs->retention_ms) {
		if (sqlite3_exec(cs->wdb, "BEGIN IMMEDIATE", NULL, NULL,
		    NULL) == SQLITE_OK) {
			uint64_t cut = now - cs->retention_ms;

			if (prune(cs, CW_PRUNE_RECEIVED, cut) == SQLITE_OK &&
			    prune(cs, CW_PRUNE_SENT, cut) == SQLITE_OK)
				rc = sqlite3_exec(cs->wdb, "COMMIT", NULL, NULL,
				    NULL);
			w_rollback(cs);
		}
		cs->next_prune_ms = now + PRUNE_EVERY_MS;
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		snprintf(cs->werr, sizeof(cs->werr), "maintenance: %s",
		    sqlite3_errmsg(cs->wdb));
		cs->failed = 1;
		wlog(cs, IRIS_LOG_ERR, "client store %s: %s", cs->path,
		    cs->werr);
	}
}

static void
free_store(struct iris_client_store *cs)
{
	writer_close(cs);
	iris__cs_finalize(cs->rs, CR_COUNT);
	sqlite3_close(cs->rdb);
	iris__lockfile_release(cs->lock_fd);	/* after the files */
	sodium_memzero(cs->rec_key, sizeof(cs->rec_key));
	sodium_memzero(cs->tag_key, sizeof(cs->tag_key));
	iris__free(cs->path);
	iris__free(cs);
}

static void
w_release(void *ctx)
{
	free_store(ctx);
}

const struct iris_worker_ops iris__cs_worker_ops = {
	w_begin, w_commit, w_rollback, w_tick, w_writable, w_release,
};

int
iris__cs_open_ex(struct iris_client_store **csp, struct event_base *base,
    const char *path, const uint8_t key[IRIS_CS_KEY_LEN],
    const struct iris_config *cfg, const struct iris__cs_opts *o)
{
	struct iris_worker_limits wl = { 65536, 256u << 20, 4096, 250 };
	struct iris_client_store *cs;
	const char *vfs = o != NULL ? o->vfs : NULL;
	int rc;

	if (csp == NULL)
		return IRIS_EINVAL;
	*csp = NULL;
	if (base == NULL || path == NULL || *path == '\0' || key == NULL)
		return IRIS_EINVAL;
	if (sodium_init() < 0)
		return IRIS_ECRYPTO;
	if ((cs = iris__calloc(1, sizeof(*cs))) == NULL)
		return IRIS_ENOMEM;
	if ((cs->path = iris__strdup(path)) == NULL) {
		iris__free(cs);
		return IRIS_ENOMEM;
	}
	cs->base = base;
	cs->lock_fd = -1;
	cs->refs = 1;
	cs->now_ms = o != NULL && o->now_ms != NULL ? o->now_ms :
	    iris__clock_realtime_ms;
	cs->now_arg = o != NULL ? o->now_arg : NULL;
	cs->retention_ms = o != NULL && o->retention_ms != 0 ?
	    o->retention_ms : RETENTION_MS;
	if (cfg != NULL)
		cs->log = *iris__config_logger(cfg);
	if ((rc = iris__lockfile_take(path, &cs->lock_fd, cs->err,
	    sizeof(cs->err))) != IRIS_OK ||
	    (rc = iris__cs_derive(cs, key)) != IRIS_OK ||
	    (rc = iris__cs_db_open(cs, vfs, &cs->wdb, 0, cs->err,
	    sizeof(cs->err))) != IRIS_OK ||
	    (rc = iris__cs_migrate(cs, cs->wdb, cs->err, sizeof(cs->err))) !=
	    IRIS_OK ||
	    (rc = iris__cs_keycheck(cs, cs->wdb, cs->err, sizeof(cs->err))) !=
	    IRIS_OK ||
	    (rc = iris__cs_prepare(cs->wdb, cs->ws, iris__cs_wsql, CW_COUNT,
	    cs->err, sizeof(cs->err))) != IRIS_OK ||
	    (rc = iris__cs_db_open(cs, vfs, &cs->rdb, 1, cs->err,
	    sizeof(cs->err))) != IRIS_OK ||
	    (rc = iris__cs_prepare(cs->rdb, cs->rs, iris__cs_rsql, CR_COUNT,
	    cs->err, sizeof(cs->err))) != IRIS_OK ||
	    (rc = iris__worker_start(&cs->w, base, &iris__cs_worker_ops, cs,
	    &wl)) != IRIS_OK)
		goto fail;
	*csp = cs;
	return IRIS_OK;
fail:
	iris__log(&cs->log, IRIS_LOG_ERR, "client store %s: %s", path,
	    cs->err[0] != '\0' ? cs->err : iris_strerror(rc));
	free_store(cs);
	return rc;
}

int
iris_client_store_open(struct iris_client_store **storep,
    struct event_base *base, const char *path,
    const uint8_t key[IRIS_CLIENT_STORE_KEY_LEN],
    const struct iris_config *cfg)
{
	return iris__cs_open_ex(storep, base, path, key, cfg, NULL);
}

void
iris__cs_ref(struct iris_client_store *cs)
{
	cs->refs++;
}

void
iris__cs_unref(struct iris_client_store *cs)
{
	if (--cs->refs > 0)
		return;
	/* The thread commits what is queued; ops->release frees cs. */
	iris__worker_free(cs->w);
}

void
iris_client_store_close(struct iris_client_store *cs)
{
	if (cs == NULL || cs->closing)
		return;
	cs->closing = 1;
	iris__cs_unref(cs);
}

const char *
iris_client_store_error(const struct iris_client_store *cs)
{
	return cs != NULL ? cs->err : "";
}

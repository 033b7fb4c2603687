/* SPDX-License-Identifier: ISC */
/*
 * The durable queue API: opening and closing a store, building sends,
 * appending and acking through the writer thread, and the counters.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/lockfile.h"
#include "wire/msg.h"

void
iris__store_seterr(struct iris_store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

static void
limits_from_config(struct iris_store *s, struct iris_worker_limits *wl)
{
	const struct iris_config *c = s->cfg;

	s->inbox_cap = iris__config_uint(c, IRIS__OPT_INBOX_CAP);
	s->dedup_window_ms = iris__config_uint(c, IRIS__OPT_DEDUP_WINDOW);
	s->retention_ms = iris__config_uint(c, IRIS__OPT_STORE_RETENTION);
	s->wal_max = iris__config_uint(c, IRIS__OPT_STORE_WAL_MAX);
	/* The log starts again once it holds half of store_wal_max: its
	 * file stays below the size it is truncated back to. */
	s->wal_restart_frames = s->wal_max / 2 / (4096 + 24);
	s->durable = iris__config_uint(c, IRIS__OPT_DURABILITY) == 0;
	s->max_envelope = iris__config_uint(c, IRIS__OPT_MAX_ENVELOPE);
	s->max_envelopes = 2 * iris__config_uint(c,
	    IRIS__OPT_MAX_DEVICES_PER_USER) - 1;
	wl->max_jobs = iris__config_uint(c, IRIS__OPT_STORE_QUEUE);
	wl->max_bytes = iris__config_uint(c, IRIS__OPT_STORE_QUEUE_BYTES);
	wl->max_batch = iris__config_uint(c, IRIS__OPT_STORE_BATCH);
	wl->tick_ms = s->opts.tick_ms;
}

/* Opens both connections and migrates; the error text goes to err. */
static int
open_files(struct iris_store *s)
{
	char why[400];
	int rc;

	if ((rc = iris__lockfile_take(s->path, &s->lock_fd, why,
	    sizeof(why))) != IRIS_OK) {
		iris__store_seterr(s, "%s", why);
		return rc;
	}
	if ((rc = iris__store_db_open(s, &s->wdb, IRIS__DB_WRITER, s->err,
	    sizeof(s->err))) != IRIS_OK)
		return rc;
	if ((rc = iris__store_migrate(s, s->wdb, s->err, sizeof(s->err))) !=
	    IRIS_OK)
		return rc;
	if (s->opts.max_schema > 0)
		return IRIS_OK;		/* tests stop at an old schema */
	if ((rc = iris__store_prepare(s->wdb, s->ws, iris__store_wsql,
	    WS_COUNT, s->err, sizeof(s->err))) != IRIS_OK ||
	    (rc = iris__store_prepare(s->wdb, s->wk, iris__store_keys_wsql,
	    WK_COUNT, s->err, sizeof(s->err))) != IRIS_OK)
		return rc;
	if ((rc = iris__store_db_open(s, &s->rdb, IRIS__DB_READER, s->err,
	    sizeof(s->err))) != IRIS_OK)
		return rc;
	if ((rc = iris__store_prepare(s->rdb, s->rs, iris__store_rsql,
	    RS_COUNT, s->err, sizeof(s->err))) != IRIS_OK)
		return rc;
	return iris__store_prepare(s->rdb, s->rk, iris__store_keys_rsql,
	    RK_COUNT, s->err, sizeof(s->err));
}

void
iris__store_free_parts(struct iris_store *s)
{
	iris__ckpt_free(s->ckpt);
	iris__store_writer_close(s);
	iris__store_finalize(s->rs, RS_COUNT);
	iris__store_finalize(s->rk, RK_COUNT);
	sqlite3_close(s->rdb);
	iris__boxcache_free(s);
	/* Last: the files are closed, another handle may take them. */
	iris__lockfile_release(s->lock_fd);
	iris_config_free(s->cfg);
	iris__free(s->path);
	iris__free(s);
}

int
iris__store_open_ex(struct iris_store **storep, struct event_base *base,
    const char *path, const struct iris_config *cfg,
    const struct iris__store_opts *opts)
{
	struct iris_worker_limits wl;
	struct iris_store *s;
	int rc;

	if (storep == NULL)
		return IRIS_EINVAL;
	*storep = NULL;
	if (base == NULL || path == NULL || *path == '\0')
		return IRIS_EINVAL;
	if ((s = iris__calloc(1, sizeof(*s))) == NULL)
		return IRIS_ENOMEM;
	s->base = base;
	s->lock_fd = -1;
	rc = cfg != NULL ? iris__config_dup(&s->cfg, cfg) :
	    iris_config_new(&s->cfg);
	if (rc != IRIS_OK || (s->path = iris__strdup(path)) == NULL) {
		iris_config_free(s->cfg);
		iris__free(s);
		return IRIS_ENOMEM;
	}
	s->log = *iris__config_logger(s->cfg);
	if (opts != NULL)
		s->opts = *opts;
	if (s->opts.now_ms == NULL)
		s->opts.now_ms = iris__clock_realtime_ms;
	if (s->opts.tick_ms == 0)
		s->opts.tick_ms = 250;
	if (s->opts.recover_ms == 0)
		s->opts.recover_ms = 1000;
	limits_from_config(s, &wl);
	iris__hlc_init(&s->hlc, (uint8_t)iris__config_uint(s->cfg,
	    IRIS__OPT_NODE_ID), s->opts.now_ms, s->opts.now_arg);

	if (!s->durable && !iris__config_uint(s->cfg,
	    IRIS__OPT_DURABILITY_NONE_OK)) {
		iris__log(&s->log, IRIS_LOG_ERR, "store %s: durability none "
		    "refused: it acks sends before they are on disk; set "
		    "durability_none_i_understand = yes to run it anyway",
		    path);
		iris__store_free_parts(s);
		return IRIS_ECONFIG;
	}
	if (!s->durable)
		iris__log(&s->log, IRIS_LOG_WARNING, "store %s: WARNING: "
		    "durability none: commits are NOT synced, acked messages "
		    "are lost on a power loss or OS crash; for benchmark "
		    "comparisons only", path);
	if ((rc = open_files(s)) != IRIS_OK) {
		iris__log(&s->log, IRIS_LOG_ERR, "store %s: %s", path, s->err);
		iris__store_free_parts(s);
		return rc;
	}
	if (s->opts.max_schema > 0) {
		iris__store_free_parts(s);
		return IRIS_OK;
	}
	if ((rc = iris__ckpt_new(s, &s->ckpt)) != IRIS_OK ||
	    (rc = iris__worker_start(&s->w, base, &iris__store_worker_ops, s,
	    &wl)) != IRIS_OK) {
		iris__store_free_parts(s);
		return rc;
	}
	/* After the worker: the checkpointer wakes it and logs through it. */
	if ((rc = iris__ckpt_start(s->ckpt)) != IRIS_OK) {
		iris__log(&s->log, IRIS_LOG_ERR, "store %s: cannot start the "
		    "checkpointer", path);
		iris__worker_free(s->w);	/* frees s */
		return rc;
	}
	s->n_depth = iris__store_depth_all(s);
	iris__log(&s->log, IRIS_LOG_INFO, "store %s: open", path);
	*storep = s;
	return IRIS_OK;
}

int
iris_store_open(struct iris_store **storep, struct event_base *base,
    const char *path, const struct iris_config *cfg)
{
	return iris__store_open_ex(storep, base, path, cfg, NULL);
}

void
iris_store_close(struct iris_store *s)
{
	if (s == NULL)
		return;
	/*
	 * The checkpointer first: it wakes the worker and logs through it.
	 * Then the thread commits what is queued; ops->release frees s.
	 */
	iris__ckpt_stop(s->ckpt);
	iris__worker_free(s->w);
}

const char *
iris_store_error(const struct iris_store *s)
{
	return s != NULL ? s->err : "";
}

int
iris_send_new(struct iris_send **sendp, const char *user, uint32_t device,
    const uint8_t client_msg_id[16], int msg_class)
{
	struct iris_send *m;

	if (sendp == NULL)
		return IRIS_EINVAL;
	*sendp = NULL;
	if (user == NULL || client_msg_id == NULL || device == 0 ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)) ||
	    msg_class < IRIS_CLASS_MESSAGE || msg_class > IRIS_CLASS_CONTROL)
		return IRIS_EINVAL;
	if ((m = iris__calloc(1, sizeof(*m))) == NULL)
		return IRIS_ENOMEM;
	m->job.ops = &iris__send_job_ops;
	strcpy(m->user, user);
	m->device = device;
	memcpy(m->cmid, client_msg_id, 16);
	m->msg_class = msg_class;
	*sendp = m;
	return IRIS_OK;
}

int
iris_send_add(struct iris_send *m, const char *user, uint32_t device,
    const void *data, size_t len)
{
	struct iris_target *t;
	size_t i;

	if (m == NULL || user == NULL || device == 0 || data == NULL ||
	    len == 0 ||
	    !iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return IRIS_EINVAL;
	if (len > IRIS_ENVELOPE_MAX || m->n >= IRIS_STORE_MAX_TARGETS)
		return IRIS_ETOOBIG;
	for (i = 0; i < m->n; i++)
		if (m->t[i].device == device && strcmp(m->t[i].user, user) == 0)
			return IRIS_EEXIST;
	if (m->n == m->cap) {
		size_t cap = m->cap != 0 ? m->cap * 2 : 4;

		if ((t = iris__realloc(m->t, cap * sizeof(*t))) == NULL)
			return IRIS_ENOMEM;
		m->t = t;
		m->cap = cap;
	}
	t = &m->t[m->n];
	if ((t->data = iris__memdup(data, len)) == NULL)
		return IRIS_ENOMEM;
	strcpy(t->user, user);
	t->device = device;
	t->shard = iris__store_shard(user);
	t->len = len;
	m->n++;
	m->job.bytes += len + sizeof(*t);
	return IRIS_OK;
}

void
iris_send_free(struct iris_send *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		iris__free(m->t[i].data);
	iris__free(m->t);
	iris__free(m->seqs);
	iris__chain_unref(m->chain);
	iris__free(m);
}

static int
refuse_send(struct iris_send *m, int rc)
{
	iris_send_free(m);
	return rc;
}

int
iris_store_append(struct iris_store *s, struct iris_send *m,
    iris_append_cb cb, void *arg)
{
	size_t i;
	int rc;

	if (s == NULL || m == NULL || m->n == 0)
		return refuse_send(m, IRIS_EINVAL);
	if (m->n > s->max_envelopes) {
		iris__store_seterr(s, "%zu envelopes in one send; the most is "
		    "%zu", m->n, s->max_envelopes);
		return refuse_send(m, IRIS_ETOOBIG);
	}
	for (i = 0; i < m->n; i++)
		if (m->t[i].len > s->max_envelope) {
			iris__store_seterr(s, "an envelope of %zu bytes; the "
			    "most is %zu", m->t[i].len, s->max_envelope);
			return refuse_send(m, IRIS_ETOOBIG);
		}
	if (__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE)) {
		iris__store_seterr(s, "store is read-only after a write error;"
		    " it retries on its own");
		return refuse_send(m, IRIS_ESTORE);
	}
	if ((m->seqs = iris__calloc(m->n, sizeof(*m->seqs))) == NULL)
		return refuse_send(m, IRIS_ENOMEM);
	m->store = s;
	m->cb = cb;
	m->arg = arg;
	m->job.bytes += sizeof(*m);
	if ((rc = iris__worker_submit(s->w, &m->job)) != IRIS_OK) {
		if (rc == IRIS_EAGAIN) {
			s->n_busy++;
			iris__store_seterr(s, "the store's write queue is full");
		}
		return refuse_send(m, rc);
	}
	return IRIS_OK;
}

/* Counters by name; each reads one field of the store or the worker. */
static const char *const stat_names[] = {
	"appends", "envelopes", "duplicates", "refused_inbox_full",
	"refused_queue_full", "io_errors", "recoveries", "checkpoints",
	"pruned_messages", "pruned_sends", "receipts", "depth", "commits",
	"committed_jobs", "failed_commits", "max_batch", "queued",
	"read_only", "durable",
};

int
iris_store_stat(const struct iris_store *s, const char *name,
    uint64_t *value)
{
	struct iris_worker_stats ws;
	const uint64_t *f[] = {
		&s->n_appends, &s->n_envelopes, &s->n_dups, &s->n_refused_full,
		&s->n_busy, &s->n_io_errors, &s->n_recoveries,
		&s->n_checkpoints, &s->n_pruned_msgs, &s->n_pruned_sends,
		&s->n_receipts, &s->n_depth,
	};
	size_t i;

	if (s == NULL || name == NULL || value == NULL)
		return IRIS_EINVAL;
	for (i = 0; i < sizeof(stat_names) / sizeof(stat_names[0]); i++)
		if (strcmp(stat_names[i], name) == 0)
			break;
	if (i < sizeof(f) / sizeof(f[0])) {
		*value = __atomic_load_n(f[i], __ATOMIC_RELAXED);
		return IRIS_OK;
	}
	iris__worker_stats(s->w, &ws);
	switch (i - sizeof(f) / sizeof(f[0])) {
	case 0: *value = ws.batches; return IRIS_OK;
	case 1: *value = ws.jobs; return IRIS_OK;
	case 2: *value = ws.failed_batches; return IRIS_OK;
	case 3: *value = ws.max_batch; return IRIS_OK;
	case 4: *value = ws.queued; return IRIS_OK;
	case 5:
		*value = (uint64_t)__atomic_load_n(&s->read_only,
		    __ATOMIC_ACQUIRE);
		return IRIS_OK;
	case 6:
		*value = (uint64_t)s->durable;
		return IRIS_OK;
	default:
		return IRIS_ENOTFOUND;
	}
}

void
iris__store_worker_stats(struct iris_store *s, struct iris_worker_stats *st)
{
	iris__worker_stats(s->w, st);
}

const char *
iris_store_stat_name(size_t index)
{
	return index < sizeof(stat_names) / sizeof(stat_names[0]) ?
	    stat_names[index] : NULL;
}

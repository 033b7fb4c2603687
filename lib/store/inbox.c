/* SPDX-License-Identifier: ISC */
/*
 * The writer's side of the store, run on the writer thread inside one
 * transaction per batch: appending sends (dedup, caps, dense seqs),
 * advancing cursors, and the begin/commit that makes a batch durable.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "store/store.h"

const char *const iris__store_wsql[WS_COUNT] = {
	[WS_SEND_GET] = "SELECT msg_id, targets FROM sends"
	    " WHERE client_msg_id = ?1 AND sender_user = ?2"
	    " AND sender_device = ?3",
	[WS_SEND_PUT] = "INSERT INTO sends (client_msg_id, sender_user,"
	    " sender_device, shard, msg_id, created_ms, targets)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[WS_BOX_GET] = "SELECT id, head_seq, acked_seq FROM boxes"
	    " WHERE user = ?1 AND device = ?2",
	[WS_BOX_NEW] = "INSERT INTO boxes (shard, user, device)"
	    " VALUES (?1, ?2, ?3)",
	[WS_BOX_SET] = "UPDATE boxes SET head_seq = ?2, acked_seq = ?3"
	    " WHERE id = ?1",
	/* Cheaper: the partial index on acked_seq is left alone. */
	[WS_BOX_HEAD] = "UPDATE boxes SET head_seq = ?2 WHERE id = ?1",
	[WS_INBOX_PUT] = "INSERT INTO inbox (box, seq, shard, msg_id,"
	    " sender_user, sender_device, client_msg_id, class, received_ms,"
	    " envelope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[WS_RCPT_SCAN] = "SELECT seq, msg_id, sender_user, sender_device,"
	    " client_msg_id FROM inbox WHERE box = ?1 AND seq > ?2"
	    " AND seq <= ?3 AND class = 0 ORDER BY seq",
	[WS_RECEIPTS_ON] = "SELECT receipts FROM accounts WHERE user = ?1",
	/* Prepared once: sqlite3_exec() would parse them every batch. */
	[WS_BEGIN] = "BEGIN IMMEDIATE",
	[WS_COMMIT] = "COMMIT",
};

/* An SQLite failure inside a batch: the batch's outcome is unknown. */
int
iris__store_fatal(struct iris_store *s, int rc, const char *what)
{
	snprintf(s->werr, sizeof(s->werr), "%s: %s", what,
	    sqlite3_errmsg(s->wdb));
	(void)rc;
	return IRIS_ESTORE;
}

int
iris__store_step_done(struct iris_store *s, sqlite3_stmt *st,
    const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return iris__store_fatal(s, rc, what);
	return IRIS_OK;
}

/* The most bytes of a dedup record: length, user, device, seq. */
#define PACKED_MAX	(IRIS_STORE_MAX_TARGETS * (1 + 64 + 4 + 8))

/* Packs (user, device, seq) of every target: the dedup record. */
static size_t
pack_targets(const struct iris_send *m, uint8_t *buf)
{
	uint8_t *p = buf;
	size_t i, ulen;

	for (i = 0; i < m->n; i++) {
		ulen = strlen(m->t[i].user);
		*p++ = (uint8_t)ulen;
		memcpy(p, m->t[i].user, ulen);
		p += ulen;
		for (int b = 3; b >= 0; b--)
			*p++ = (uint8_t)(m->t[i].device >> (8 * b));
		for (int b = 7; b >= 0; b--)
			*p++ = (uint8_t)(m->seqs[i] >> (8 * b));
	}
	return (size_t)(p - buf);
}

/* A retry: give back the original seq of each of this send's targets. */
static void
unpack_targets(struct iris_send *m, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len, *user;
	uint32_t device;
	uint64_t seq;
	size_t ulen, i;

	for (i = 0; i < m->n; i++)
		m->seqs[i] = 0;
	while (p < end) {
		ulen = *p++;
		if ((size_t)(end - p) < ulen + 12)
			break;
		user = p;
		p += ulen;
		device = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		p += 4;
		for (seq = 0, i = 0; i < 8; i++)
			seq = seq << 8 | *p++;
		for (i = 0; i < m->n; i++)
			if (m->t[i].device == device &&
			    strlen(m->t[i].user) == ulen &&
			    memcmp(m->t[i].user, user, ulen) == 0)
				m->seqs[i] = seq;
	}
}

/* Returns 1 when the send was stored before (results filled in). */
static int
dedup(struct iris_store *s, struct iris_send *m, int *rc)
{
	sqlite3_stmt *st = s->ws[WS_SEND_GET];
	int r;

	sqlite3_bind_blob(st, 1, m->cmid, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->device);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		m->msg_id = (uint64_t)sqlite3_column_int64(st, 0);
		unpack_targets(m, sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1));
		m->duplicate = 1;
		sqlite3_reset(st);
		*rc = IRIS_OK;
		return 1;
	}
	sqlite3_reset(st);
	*rc = r == SQLITE_DONE ? IRIS_OK :
	    iris__store_fatal(s, r, "looking up a send");
	return 0;
}

static int
put_message(struct iris_store *s, struct iris_send *m, size_t i,
    int64_t box, uint64_t now)
{
	sqlite3_stmt *st = s->ws[WS_INBOX_PUT];

	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_int64(st, 2, (int64_t)m->seqs[i]);
	sqlite3_bind_int(st, 3, m->t[i].shard);
	sqlite3_bind_int64(st, 4, (int64_t)m->msg_id);
	sqlite3_bind_text(st, 5, m->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, m->device);
	sqlite3_bind_blob(st, 7, m->cmid, 16, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, m->msg_class);
	sqlite3_bind_int64(st, 9, (int64_t)now);
	sqlite3_bind_blob(st, 10, m->t[i].data, (int)m->t[i].len,
	    SQLITE_STATIC);
	return iris__store_step_done(s, st, "appending to an inbox");
}

/*
 * A chained send goes only in its turn: after every earlier send of its
 * chain went (in this batch or a committed one). Returns 0 when it may.
 */
static int
out_of_turn(struct iris_store *s, struct iris_send *m)
{
	struct iris_chain *c = m->chain;

	if (c == NULL)
		return 0;
	if (!c->w_touched) {
		c->w_touched = 1;
		c->w_link = s->touched;
		s->touched = c;
	}
	return m->idx != c->w_tent;
}

/* The send went (stored or found stored): its chain moves on. */
static void
in_turn(struct iris_send *m)
{
	if (m->chain != NULL)
		m->chain->w_tent++;
}

void
iris__chains_settle(struct iris_store *s, int committed)
{
	struct iris_chain *c;

	while ((c = s->touched) != NULL) {
		s->touched = c->w_link;
		if (committed)
			c->w_next = c->w_tent;
		else
			c->w_tent = c->w_next;
		c->w_touched = 0;
		c->w_link = NULL;
	}
}

static int
exec_send(struct iris_job *job, void *ctx)
{
	struct iris_send *m = (struct iris_send *)job;
	struct iris_store *s = ctx;
	struct iris__wbox_pos pos[IRIS_STORE_MAX_TARGETS];
	uint8_t packed[PACKED_MAX];
	uint64_t now;
	sqlite3_stmt *st;
	size_t i, plen;
	int rc, found;

	if (out_of_turn(s, m)) {
		job->rc = IRIS_ESTATE;
		return IRIS_OK;
	}
	if (dedup(s, m, &rc) || rc != IRIS_OK) {
		if (rc == IRIS_OK)
			in_turn(m);
		return rc;
	}
	/* Every inbox is checked before anything is written. */
	for (i = 0; i < m->n; i++) {
		if ((rc = iris__wbox_get(s, m->t[i].user, m->t[i].device,
		    m->t[i].shard, 1, &pos[i], &found)) != IRIS_OK)
			return rc;
		if (pos[i].head - pos[i].acked >= s->inbox_cap) {
			job->rc = IRIS_EAGAIN;
			__atomic_add_fetch(&s->n_refused_full, 1,
			    __ATOMIC_RELAXED);
			return IRIS_OK;
		}
		m->seqs[i] = pos[i].head + 1;
	}
	now = iris__store_now(s);
	m->msg_id = iris__hlc_next(&s->hlc);
	for (i = 0; i < m->n; i++) {
		if ((rc = put_message(s, m, i, pos[i].id, now)) != IRIS_OK)
			return rc;
		pos[i].head = m->seqs[i];
		if ((rc = iris__wbox_set(s, m->t[i].user, m->t[i].device,
		    &pos[i])) != IRIS_OK)
			return rc;
	}
	plen = pack_targets(m, packed);
	st = s->ws[WS_SEND_PUT];
	sqlite3_bind_blob(st, 1, m->cmid, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->device);
	sqlite3_bind_int(st, 4, iris__store_shard(m->user));
	sqlite3_bind_int64(st, 5, (int64_t)m->msg_id);
	sqlite3_bind_int64(st, 6, (int64_t)now);
	sqlite3_bind_blob(st, 7, packed, (int)plen, SQLITE_STATIC);
	if ((rc = iris__store_step_done(s, st, "recording a send")) ==
	    IRIS_OK)
		in_turn(m);
	return rc;
}

static int
w_begin(void *ctx)
{
	struct iris_store *s = ctx;

	return iris__store_step_done(s, s->ws[WS_BEGIN],
	    "beginning a transaction");
}

/* COMMIT runs the fsync (synchronous=FULL): on IRIS_OK, it is durable. */
static int
w_commit(void *ctx)
{
	struct iris_store *s = ctx;
	int rc;

	/* The batch's inbox heads and cursors, once each, in it. */
	if ((rc = iris__wcache_flush(s)) != IRIS_OK)
		return rc;
	if ((rc = iris__store_step_done(s, s->ws[WS_COMMIT], "committing")) !=
	    IRIS_OK)
		return rc;
	iris__chains_settle(s, 1);
	return IRIS_OK;
}

static void
w_rollback(void *ctx)
{
	struct iris_store *s = ctx;

	if (!sqlite3_get_autocommit(s->wdb))
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
	iris__chains_settle(s, 0);
	/* The file is the truth again (a failed COMMIT may have landed). */
	iris__wcache_clear(s);
	/*
	 * Any failure inside a batch means its outcome is unknown: no more
	 * writes until the store has been reopened and checkpointed.
	 */
	if (!__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&s->n_io_errors, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->read_only, 1, __ATOMIC_RELEASE);
		s->next_recover_ms = 0;
		iris__store_wlog(s, IRIS_LOG_ERR, "store %s: %s; read-only "
		    "until it recovers", s->path, s->werr);
	}
}

static int
w_writable(void *ctx)
{
	struct iris_store *s = ctx;

	return __atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE) ?
	    IRIS_ESTORE : IRIS_OK;
}

static void
w_release(void *ctx)
{
	iris__wcache_free(ctx);
	iris__store_free_parts(ctx);
}

const struct iris_worker_ops iris__store_worker_ops = {
	.begin = w_begin,
	.commit = w_commit,
	.rollback = w_rollback,
	.tick = iris__store_tick,
	.writable = w_writable,
	.release = w_release,
};

static void
done_send(struct iris_job *job, int deliver)
{
	struct iris_send *m = (struct iris_send *)job;
	size_t i;

	if (deliver && job->rc == IRIS_OK && !m->duplicate)
		for (i = 0; i < m->n; i++)
			iris__boxcache_note(m->store, m->t[i].user,
			    m->t[i].device, 0, m->seqs[i]);
	if (deliver && m->cb != NULL)
		m->cb(m->store, job->rc, job->rc == IRIS_OK ? m->msg_id : 0,
		    job->rc == IRIS_OK ? m->seqs : NULL,
		    job->rc == IRIS_OK ? m->n : 0,
		    job->rc == IRIS_OK && m->duplicate, m->arg);
	if (deliver && job->rc == IRIS_OK) {
		__atomic_add_fetch(&m->store->n_appends, 1, __ATOMIC_RELAXED);
		if (m->duplicate)
			__atomic_add_fetch(&m->store->n_dups, 1,
			    __ATOMIC_RELAXED);
		else {
			__atomic_add_fetch(&m->store->n_envelopes, m->n,
			    __ATOMIC_RELAXED);
			__atomic_add_fetch(&m->store->n_depth, m->n,
			    __ATOMIC_RELAXED);
		}
	}
	/* The trace id follows the send into the store's log lines. */
	if (deliver && m->trace[0] != '\0')
		iris__log(&m->store->log, IRIS_LOG_DEBUG, "store: trace %s: "
		    "send of %s/%u %s: %zu envelopes, msg %016llx%s",
		    m->trace, m->user, m->device, job->rc == IRIS_OK ?
		    "durable" : iris_errname(job->rc), m->n,
		    (unsigned long long)m->msg_id, m->duplicate ?
		    " (duplicate)" : "");
	iris_send_free(m);
}

const struct iris_job_ops iris__send_job_ops = {
	.exec = exec_send,
	.done = done_send,
};

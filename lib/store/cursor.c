/* SPDX-License-Identifier: ISC */
/*
 * Cursors: a device's cumulative ack, advanced on the writer thread and
 * durable with its batch. A cursor never moves backward, and never past
 * the newest message of its inbox.
 */
#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"

static int
exec_ack(struct iris_job *job, void *ctx)
{
	struct iris_ack_job *a = (struct iris_ack_job *)job;
	struct iris_store *s = ctx;
	sqlite3_stmt *st = s->ws[WS_BOX_GET];
	int64_t box;
	uint64_t head;
	int rc;

	sqlite3_bind_text(st, 1, a->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, a->device);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return iris__store_fatal(s, rc, "reading a cursor");
		/* No inbox: nothing to ack but seq 0. */
		a->acked = 0;
		job->rc = a->seq == 0 ? IRIS_OK : IRIS_EINVAL;
		return IRIS_OK;
	}
	box = sqlite3_column_int64(st, 0);
	head = (uint64_t)sqlite3_column_int64(st, 1);
	a->acked = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	if (a->seq > head) {
		job->rc = IRIS_EINVAL;	/* beyond the inbox */
		return IRIS_OK;
	}
	if (a->seq <= a->acked)
		return IRIS_OK;		/* never backward */
	st = s->ws[WS_ACK];
	sqlite3_bind_int64(st, 1, box);
	sqlite3_bind_int64(st, 2, (int64_t)a->seq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return iris__store_fatal(s, rc, "advancing a cursor");
	a->acked = a->seq;
	return IRIS_OK;
}

static void
done_ack(struct iris_job *job, int deliver)
{
	struct iris_ack_job *a = (struct iris_ack_job *)job;

	if (deliver && a->cb != NULL)
		a->cb(a->store, job->rc, job->rc == IRIS_OK ? a->acked : 0,
		    a->arg);
	iris__free(a);
}

const struct iris_job_ops iris__ack_job_ops = {
	.exec = exec_ack,
	.done = done_ack,
};

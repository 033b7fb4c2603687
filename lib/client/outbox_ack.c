/* SPDX-License-Identifier: ISC */
/*
 * A send the server acknowledged leaves the outbox: its removal and, for
 * a message, the record delivery receipts are matched against (the
 * server's msg id to the client msg id and recipient) commit together;
 * the sent callback says IRIS_CLIENT_ACKED once they have. While that
 * commit is out, the ack is kept in memory (c->ob_acking), so that a
 * delivery receipt arriving first still finds its message.
 */
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"

struct acked_ctx {
	uint8_t		 cmid[16];
	int		 quiet;
	uint64_t	 msg_id;
	struct acked_ctx *next;		/* c->ob_acking */
};

int
iris__outbox_acking(const struct iris_client *c, uint64_t msg_id,
    uint8_t cmid[16])
{
	const struct acked_ctx *x;

	for (x = c->ob_acking; x != NULL; x = x->next)
		if (x->msg_id == msg_id) {
			memcpy(cmid, x->cmid, 16);
			return IRIS_OK;
		}
	return IRIS_ENOTFOUND;
}

static void
acked_done(struct iris_client *c, int rc, void *arg)
{
	struct acked_ctx *x = arg, **pp;

	(void)rc;
	for (pp = &c->ob_acking; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	/* Even if the removal did not commit: the server has it, and a
	 * resend after a restart only gets the same ack again. */
	if (!iris__client_tearing(c) && !x->quiet)
		iris__outbox_sent_event(c, x->cmid, IRIS_CLIENT_ACKED);
	iris__free(x);
}

void
iris__outbox_acked(struct iris_client *c, struct ob_entry *e,
    const iris_v1_SendAck *a)
{
	struct acked_ctx *x;
	struct iris_cs_txn *t = NULL;
	struct iris_buf rec;

	iris__buf_init(&rec, 0);
	if ((x = iris__calloc(1, sizeof(*x))) != NULL)
		t = iris__client_txn(c, acked_done, x);
	if (t == NULL) {
		iris__free(x);
		if (!OB_QUIET(e))
			iris__outbox_sent_event(c, e->cmid,
			    IRIS_CLIENT_ACKED);
		iris__outbox_unlink(c, e);
		return;
	}
	memcpy(x->cmid, e->has_of ? e->of : e->cmid, 16);
	x->msg_id = e->kind == IRIS__CONTENT_MESSAGE ? a->msg_id : 0;
	x->quiet = OB_QUIET(e);
	/* The server's msg id names it in delivery receipts (a resend by
	 * the id of what it repeats; a retry request not at all). */
	iris__buf_put(&rec, e->has_of ? e->of : e->cmid, 16);
	iris__buf_str8(&rec, e->to, strlen(e->to));
	if (iris__cs_op_outbox_del(t, c->acct, e->seq) != IRIS_OK ||
	    (e->kind == IRIS__CONTENT_MESSAGE && iris__cs_op_sent(t, c->acct,
	    a->msg_id, rec.p, rec.len) != IRIS_OK) ||
	    iris__client_submit(c, t) != IRIS_OK) {
		iris__client_txn_drop(t);
		iris__free(x);
		if (!OB_QUIET(e))
			iris__outbox_sent_event(c, e->cmid,
			    IRIS_CLIENT_ACKED);
	} else {
		x->next = c->ob_acking;
		c->ob_acking = x;
	}
	iris__buf_free(&rec);
	iris__outbox_unlink(c, e);
}

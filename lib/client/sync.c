/* SPDX-License-Identifier: ISC */
/*
 * Catching up and acknowledging: at each login the cursor the server
 * knows is compared with the durable local one (a message recorded
 * before a crash but never acked is acked now; a server whose inbox no
 * longer reaches the local cursor is reported and followed), the backlog
 * is asked for in pages as the pipeline has room, and cumulative acks go
 * out once per loop turn for everything committed in it.
 */
#include <string.h>

#include <event2/event.h>

#include "iris.h"
#include "client/client.h"
#include "net/conn.h"

static void	rebase(struct iris_client *c);

/* Reads pause while the pipeline is full; pages are asked as it drains. */
void
iris__recv_flow(struct iris_client *c)
{
	/* Deliveries held for a sender's device list count too. */
	size_t n = c->rx_n + c->hold_n, bytes = c->rx_bytes + c->hold_bytes;
	int pause = n >= IRIS_CLIENT_RX_WINDOW ||
	    bytes >= IRIS_CLIENT_RX_BYTES;

	if (c->nc != NULL && pause != c->paused) {
		c->paused = pause;
		c->rx_pauses += (uint64_t)pause;
		iris__netconn_pause(c->nc, pause);
	}
	if (c->sync_more && !c->syncing &&
	    n < IRIS_CLIENT_RX_WINDOW / 2 && bytes < IRIS_CLIENT_RX_BYTES / 2)
		iris__recv_ask_page(c);
}

/* The durable cursor, as the store has it now. */
void
iris__recv_reload_cursor(struct iris_client *c)
{
	struct iris_buf b;
	int64_t id;
	uint64_t cursor;

	iris__buf_init(&b, 0);
	if (iris__cs_account_get(c->cs, c->acct_tag, &id, &cursor, &b) ==
	    IRIS_OK)
		c->rx_cursor = cursor;
	iris__buf_free(&b);
}


static void
send_ack(evutil_socket_t fd, short what, void *arg)
{
	struct iris_client *c = arg;
	struct iris_wire_msg m;
	struct creq *r;

	(void)fd, (void)what;
	if (c->rx_cursor <= c->rx_acked || !iris__conn_is_online(c))
		return;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_ack_tag;
	m.f.body.ack.seq = c->rx_cursor;
	/*
	 * With a request id, a refusal is an answer, not the end of the
	 * connection: an ack that crossed one of a previous connection on
	 * its way to the store is only "behind the cursor" for a moment.
	 */
	r = iris__conn_req(c, RQ_ACK, &m);
	if (iris__conn_send(c, &m) == IRIS_OK)
		c->rx_acked = c->rx_cursor;
	else if (r != NULL)
		iris__conn_req_free(c, r);
}

/* Acks are cumulative: one per loop turn covers every commit in it. */
void
iris__recv_ack_soon(struct iris_client *c)
{
	struct timeval tv = { 0, 0 };

	if (c->ev_ack == NULL &&
	    (c->ev_ack = evtimer_new(c->base, send_ack, c)) == NULL)
		return;
	if (!evtimer_pending(c->ev_ack, NULL))
		evtimer_add(c->ev_ack, &tv);
}

void
iris__recv_ask_page(struct iris_client *c)
{
	struct iris_wire_msg m;

	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_sync_request_tag;
	m.f.body.sync_request.after_seq = iris__recv_hold_after(c);
	if (iris__conn_req(c, RQ_SYNC, &m) == NULL)
		return;
	c->syncing = 1;
	c->sync_more = 0;
	if (iris__conn_send(c, &m) != IRIS_OK)
		iris__conn_drop(c, IRIS_EIO, "cannot ask for a sync page");
}

void
iris__recv_sync_page(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	const iris_v1_Error *e = &m->f.body.error;
	size_t i;

	iris__conn_req_free(c, r);
	c->syncing = 0;
	if (m->f.which_body == iris_v1_Frame_error_tag) {
		if (e->code == iris_v1_ErrorCode_ERR_NONE)
			return;
		if (e->code == iris_v1_ErrorCode_ERR_BAD_CURSOR &&
		    c->rx_last != c->srv_acked && c->rx_n == 0) {
			/* The server's inbox does not reach our cursor. */
			iris__client_error_event(c, IRIS_ESTALE, "the server's "
			    "inbox does not match the local cursor %llu; "
			    "continuing from the server's %llu",
			    (unsigned long long)c->rx_last,
			    (unsigned long long)c->srv_acked);
			rebase(c);
			return;
		}
		if (iris__wire_err_retryable(e->code)) {
			c->retry_after_ms = e->retry_after_ms;
			iris__conn_drop(c, IRIS_EAGAIN, "sync refused for now");
		} else
			/* The connection goes on; pushes may still come. */
			iris__client_error_event(c, iris__wire_to_iris(e->code),
			    "sync refused: %s: %.200s",
			    iris__wire_errname(e->code), e->detail);
		return;
	}
	for (i = 0; i < m->nitems; i++)
		iris__recv_deliver(c, &m->items[i].pb, &m->items[i].envelope);
	c->srv_head = m->f.body.sync_page.head_seq;
	c->sync_more = m->f.body.sync_page.more;
	iris__recv_flow(c);
}

void
iris__recv_online(struct iris_client *c)
{
	c->paused = 0;
	if (c->rx_last < c->rx_cursor)
		c->rx_last = c->rx_cursor;
	/* Handled before a crash, never acked: ack it now. */
	c->rx_acked = c->srv_acked;
	if (c->rx_cursor > c->srv_acked && c->rx_cursor <= c->srv_head)
		iris__recv_ack_soon(c);
	if (c->rx_last > c->srv_head && c->rx_n == 0) {
		iris__client_error_event(c, IRIS_ESTALE, "the local cursor "
		    "%llu is past the server's inbox (%llu); continuing from "
		    "the server's cursor", (unsigned long long)c->rx_last,
		    (unsigned long long)c->srv_head);
		rebase(c);
		return;
	}
	iris__recv_ask_page(c);
}

static void
rebased(struct iris_client *c, int rc, void *arg)
{
	(void)arg;
	if (iris__client_tearing(c))
		return;
	if (rc != IRIS_OK) {
		if (rc == IRIS_ESTALE)
			iris__recv_reload_cursor(c);
		iris__conn_drop(c, rc, "cannot move the cursor");
		return;
	}
	c->rx_cursor = c->rx_last = c->srv_acked;
	if (iris__conn_is_online(c))
		iris__recv_ask_page(c);
}

/* The server's cursor replaces ours (it has lost or pruned our place). */
static void
rebase(struct iris_client *c)
{
	struct iris_cs_txn *t;

	if ((t = iris__client_txn(c, rebased, NULL)) == NULL ||
	    iris__cs_op_cursor_cas(t, c->acct, c->rx_cursor, c->srv_acked) !=
	    IRIS_OK || iris__client_submit(c, t) != IRIS_OK) {
		iris__client_txn_drop(t);
		iris__conn_drop(c, IRIS_ENOMEM, "cannot move the cursor");
	}
}


/* SPDX-License-Identifier: ISC */
/*
 * Reads on the loop, through the read-only connection: a short implicit
 * transaction per statement over committed data (WAL), so a commit in
 * progress never blocks them.
 */
#include <string.h>

#include "iris.h"
#include "store/accounts.h"
#include "store/store.h"

const char *const iris__store_rsql[RS_COUNT] = {
	[RS_SCAN] = "SELECT i.seq, i.msg_id, i.sender_user, i.sender_device,"
	    " i.client_msg_id, i.class, i.received_ms, i.envelope"
	    " FROM boxes b JOIN inbox i ON i.box = b.id"
	    " WHERE b.user = ?1 AND b.device = ?2 AND i.seq > ?3"
	    " ORDER BY i.seq LIMIT ?4",
	[RS_DEPTH] = "SELECT acked_seq, head_seq FROM boxes"
	    " WHERE user = ?1 AND device = ?2",
	[RS_DEVICE] = "SELECT identity_key, revoked_ms IS NOT NULL"
	    " FROM devices WHERE user = ?1 AND device = ?2",
	[RS_USER] = "SELECT disabled FROM accounts WHERE user = ?1",
	[RS_DEVLIST] = "SELECT version, list, signature FROM device_lists"
	    " WHERE user = ?1",
	[RS_REVOKED] = "SELECT 1 FROM revocations WHERE kind = ?1"
	    " AND key = ?2",
	[RS_SETTINGS] = "SELECT privacy, receipts FROM accounts"
	    " WHERE user = ?1",
	[RS_CONTACT] = "SELECT 1 FROM contacts WHERE user = ?1"
	    " AND contact = ?2",
	[RS_CONTACTS] = "SELECT contact FROM contacts WHERE user = ?1"
	    " ORDER BY contact LIMIT ?2",
	[RS_DEPTH_ALL] = "SELECT coalesce(sum(head_seq - acked_seq), 0)"
	    " FROM boxes",
	/* The first unacked message of each inbox that has one: boxes
	 * first (CROSS JOIN keeps the order; the planner otherwise walked
	 * the whole inbox table, ~10 000 page reads on the loop). */
	[RS_BEGIN] = "BEGIN",
	[RS_COMMIT] = "COMMIT",
	[RS_OLDEST] = "SELECT min(i.received_ms) FROM boxes b"
	    " CROSS JOIN inbox i ON i.box = b.id"
	    " AND i.seq = b.acked_seq + 1"
	    " WHERE b.head_seq > b.acked_seq",
};

/* Steps a statement that returns no rows, and resets it. */
static int
step_rdone(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc;
}

static int
read_error(struct iris_store *s, const char *what)
{
	iris__store_seterr(s, "%s: %s", what, sqlite3_errmsg(s->rdb));
	return IRIS_ESTORE;
}

int
iris_store_scan(struct iris_store *s, const char *user, uint32_t device,
    uint64_t after_seq, size_t limit, iris_scan_cb cb, void *arg)
{
	sqlite3_stmt *st;
	struct iris_message m;
	int rc, n = 0;

	if (s == NULL || user == NULL || cb == NULL || after_seq > INT64_MAX)
		return IRIS_EINVAL;
	if (limit > IRIS_STORE_SCAN_MAX)
		limit = IRIS_STORE_SCAN_MAX;
	st = s->rs[RS_SCAN];
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device);
	sqlite3_bind_int64(st, 3, (int64_t)after_seq);
	sqlite3_bind_int64(st, 4, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		m.seq = (uint64_t)sqlite3_column_int64(st, 0);
		m.msg_id = (uint64_t)sqlite3_column_int64(st, 1);
		m.sender = (const char *)sqlite3_column_text(st, 2);
		m.sender_device = (uint32_t)sqlite3_column_int64(st, 3);
		m.cmid = sqlite3_column_blob(st, 4);
		m.msg_class = sqlite3_column_int(st, 5);
		m.received_ms = (uint64_t)sqlite3_column_int64(st, 6);
		m.data = sqlite3_column_blob(st, 7);
		m.len = (size_t)sqlite3_column_bytes(st, 7);
		if (m.sender == NULL || m.cmid == NULL ||
		    sqlite3_column_bytes(st, 4) != 16) {
			sqlite3_reset(st);
			iris__store_seterr(s, "corrupt message at seq %llu",
			    (unsigned long long)m.seq);
			return IRIS_ECORRUPT;
		}
		n++;
		if (cb(&m, arg) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return read_error(s, "scanning an inbox");
	return n;
}

int
iris_store_depth(struct iris_store *s, const char *user, uint32_t device,
    uint64_t *acked_seq, uint64_t *head_seq)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || user == NULL)
		return IRIS_EINVAL;
	st = s->rs[RS_DEPTH];
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device);
	rc = sqlite3_step(st);
	if (acked_seq != NULL)
		*acked_seq = rc == SQLITE_ROW ?
		    (uint64_t)sqlite3_column_int64(st, 0) : 0;
	if (head_seq != NULL)
		*head_seq = rc == SQLITE_ROW ?
		    (uint64_t)sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return read_error(s, "reading an inbox's depth");
	return IRIS_OK;
}

/* Run once at open: the depth is kept up to date from then on. */
uint64_t
iris__store_depth_all(struct iris_store *s)
{
	sqlite3_stmt *st = s->rs[RS_DEPTH_ALL];
	uint64_t n = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/*
 * When the oldest unacked message was stored (0: none). It looks at the
 * first unacked message of every inbox holding one, so callers keep the
 * answer for a while (the metrics endpoint does).
 */
int
iris__store_oldest_unacked(struct iris_store *s, uint64_t *ms)
{
	sqlite3_stmt *st = s->rs[RS_OLDEST];
	int rc;

	*ms = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ms = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return read_error(s, "finding the oldest unacked message");
	return IRIS_OK;
}

uint64_t
iris_message_seq(const struct iris_message *m)
{
	return m->seq;
}

uint64_t
iris_message_id(const struct iris_message *m)
{
	return m->msg_id;
}

const char *
iris_message_sender(const struct iris_message *m, uint32_t *device)
{
	if (device != NULL)
		*device = m->sender_device;
	return m->sender;
}

const uint8_t *
iris_message_client_id(const struct iris_message *m)
{
	return m->cmid;
}

int
iris_message_class(const struct iris_message *m)
{
	return m->msg_class;
}

uint64_t
iris_message_time(const struct iris_message *m)
{
	return m->received_ms;
}

const void *
iris_message_data(const struct iris_message *m, size_t *len)
{
	if (len != NULL)
		*len = m->len;
	return m->data;
}

/*
 * A read transaction around the reads of one synchronous call: they see
 * one snapshot and take the WAL's read mark once, not once per statement
 * (a token login's four checks were four read transactions, each with
 * its locks). Deferred: the snapshot starts at the first read.
 */
void
iris__acct_read_hold(struct iris_store *s)
{
	if (s->read_hold++ == 0 && sqlite3_get_autocommit(s->rdb))
		(void)step_rdone(s->rs[RS_BEGIN]);
}

void
iris__acct_read_release(struct iris_store *s)
{
	if (s->read_hold == 0 || --s->read_hold > 0 ||
	    sqlite3_get_autocommit(s->rdb))
		return;
	if (step_rdone(s->rs[RS_COMMIT]) != SQLITE_DONE)
		(void)sqlite3_exec(s->rdb, "ROLLBACK", NULL, NULL, NULL);
}

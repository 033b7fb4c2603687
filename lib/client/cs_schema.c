/* SPDX-License-Identifier: ISC */
/*
 * Opening the client store's SQLite file: synchronous=FULL on every
 * connection, the versioned schema with forward-only migrations (a newer
 * schema is refused, nothing is ever deleted on open), and the key check
 * that tells a wrong key (IRIS_ECRYPTO) from a damaged file.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/cstore.h"
#include "util/alloc.h"

#define KEYCHECK_TEXT	"iris client store key check v1"

/*
 * migrations[v - 1] takes the schema from v - 1 to v. Append only; a
 * released step never changes. Columns named data, body, meta and sealed
 * hold sealed records (lib/client/cs_crypt.c); tag columns hold keyed
 * hashes; only integers (ids, sequence numbers, times) are in clear.
 */
static const char *const migrations[IRIS_CS_SCHEMA_VERSION] = {
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL) WITHOUT ROWID;"
	/* One row per device account; cursor: last seq handled durably. */
	"CREATE TABLE accounts ("
	"  id INTEGER PRIMARY KEY,"
	"  tag BLOB NOT NULL UNIQUE,"
	"  cursor INTEGER NOT NULL DEFAULT 0,"
	"  data BLOB NOT NULL);"
	/* Sends not yet acknowledged, in the order they were made. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  account INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  meta BLOB NOT NULL,"
	"  body BLOB NOT NULL,"
	"  sealed BLOB,"
	"  UNIQUE (account, seq));"
	/* Messages handled: (sender, device, client msg id), for dedup. */
	"CREATE TABLE received ("
	"  account INTEGER NOT NULL,"
	"  tag BLOB NOT NULL,"
	"  seen_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (account, tag)) WITHOUT ROWID;"
	"CREATE INDEX received_age ON received (seen_ms);"
	/* Acknowledged sends by server message id, for receipts. */
	"CREATE TABLE sent ("
	"  account INTEGER NOT NULL,"
	"  msg_id INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (account, msg_id)) WITHOUT ROWID;"
	"CREATE INDEX sent_age ON sent (created_ms);"
	/* Verified signed device lists of the users we talk to. */
	"CREATE TABLE devlists ("
	"  id INTEGER PRIMARY KEY,"
	"  account INTEGER NOT NULL,"
	"  tag BLOB NOT NULL,"
	"  data BLOB NOT NULL,"
	"  UNIQUE (account, tag));"
	/* State of the envelope sealer (sessions, once E2EE is in). */
	"CREATE TABLE seal_state ("
	"  id INTEGER PRIMARY KEY,"
	"  account INTEGER NOT NULL,"
	"  tag BLOB NOT NULL,"
	"  data BLOB NOT NULL,"
	"  UNIQUE (account, tag));",
};

static const char *const required[] = {
	"meta", "accounts", "outbox", "received", "received_age", "sent",
	"sent_age", "devlists", "seal_state",
};

static int
fail(char *err, size_t errlen, sqlite3 *db, const char *what, int rc)
{
	snprintf(err, errlen, "%s: %s", what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? IRIS_ECORRUPT :
	    IRIS_ESTORE;
}

static int
query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc;
}

int
iris__cs_db_open(struct iris_client_store *cs, const char *vfs,
    sqlite3 **dbp, int readonly, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int flags, rc;

	*dbp = NULL;
	flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if ((rc = sqlite3_open_v2(cs->path, &db, flags, vfs)) != SQLITE_OK) {
		rc = fail(err, errlen, db, cs->path, rc);
		sqlite3_close(db);
		return rc;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	/* Not kept in the file: set on every connection. */
	if ((rc = sqlite3_exec(db, "PRAGMA synchronous=FULL;"
	    " PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=16777216;"
	    " PRAGMA secure_delete=ON;", NULL, NULL, NULL)) != SQLITE_OK) {
		rc = fail(err, errlen, db, "setting pragmas", rc);
		sqlite3_close(db);
		return rc;
	}
	*dbp = db;
	return IRIS_OK;
}

static int
check_header(sqlite3 *db, char *err, size_t errlen, int64_t *version)
{
	int64_t appid = 0, tables = 0;
	int rc;

	*version = 0;
	if ((rc = query_int(db, "PRAGMA application_id", &appid)) !=
	    SQLITE_OK || (rc = query_int(db, "PRAGMA user_version",
	    version)) != SQLITE_OK || (rc = query_int(db,
	    "SELECT count(*) FROM sqlite_master", &tables)) != SQLITE_OK)
		return fail(err, errlen, db, "reading the header", rc);
	if (appid == 0 && *version == 0 && tables == 0)
		return IRIS_OK;
	if (appid != IRIS_CS_APPLICATION_ID) {
		snprintf(err, errlen, "not an Iris client store (application "
		    "id 0x%08llx)", (unsigned long long)appid);
		return IRIS_ECORRUPT;
	}
	if (*version > IRIS_CS_SCHEMA_VERSION) {
		snprintf(err, errlen, "client store schema version %lld is "
		    "newer than this libiris understands (%d); refusing to "
		    "open it", (long long)*version, IRIS_CS_SCHEMA_VERSION);
		return IRIS_EVERSION;
	}
	return IRIS_OK;
}

static int
check_schema(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t i;
	int rc, found;

	if ((rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master "
	    "WHERE name = ?1", -1, &st, NULL)) != SQLITE_OK)
		return fail(err, errlen, db, "checking the schema", rc);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		sqlite3_bind_text(st, 1, required[i], -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (!found) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "client store schema is missing "
			    "\"%s\"", required[i]);
			return IRIS_ECORRUPT;
		}
	}
	sqlite3_finalize(st);
	return IRIS_OK;
}

int
iris__cs_migrate(struct iris_client_store *cs, sqlite3 *db, char *err,
    size_t errlen)
{
	char sql[128], *msg = NULL;
	int64_t version;
	int rc;

	(void)cs;
	if ((rc = check_header(db, err, errlen, &version)) != IRIS_OK)
		return rc;
	if ((rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
	    NULL)) != SQLITE_OK)
		return fail(err, errlen, db, "enabling WAL", rc);
	for (; version < IRIS_CS_SCHEMA_VERSION; version++) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id=%d;"
		    " PRAGMA user_version=%lld;", IRIS_CS_APPLICATION_ID,
		    (long long)version + 1);
		if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
		    NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, migrations[version], NULL, NULL,
		    &msg)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) !=
		    SQLITE_OK ||
		    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "migrating the client store to "
			    "schema version %lld: %s", (long long)version + 1,
			    msg != NULL ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return IRIS_ESTORE;
		}
	}
	return check_schema(db, err, errlen);
}

/*
 * The key check: a record sealed under the key when the store was made.
 * It opens with the right key only, so a wrong key is told apart from a
 * damaged record before anything else is read.
 */
int
iris__cs_keycheck(struct iris_client_store *cs, sqlite3 *db, char *err,
    size_t errlen)
{
	static const char sel[] = "SELECT value FROM meta WHERE key = "
	    "'keycheck'";
	static const char ins[] = "INSERT INTO meta (key, value) VALUES "
	    "('keycheck', ?1)";
	struct iris_buf pt;
	sqlite3_stmt *st;
	uint8_t *ct = NULL;
	size_t ctlen;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sel, -1, &st, NULL)) != SQLITE_OK)
		return fail(err, errlen, db, "reading the key check", rc);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		iris__buf_init(&pt, 0);
		rc = iris__cs_unseal(cs, CS_T_META, 0, "keycheck", 8,
		    sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), &pt);
		if (rc == IRIS_OK && (pt.len != sizeof(KEYCHECK_TEXT) - 1 ||
		    memcmp(pt.p, KEYCHECK_TEXT, pt.len) != 0))
			rc = IRIS_ECRYPTO;
		iris__buf_free(&pt);
		sqlite3_finalize(st);
		if (rc != IRIS_OK)
			snprintf(err, errlen, "%s: the key does not open this "
			    "client store", cs->path);
		return rc == IRIS_ENOMEM ? rc : rc != IRIS_OK ? IRIS_ECRYPTO :
		    IRIS_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(err, errlen, db, "reading the key check", rc);
	/* A new store: remember the key. */
	if ((rc = iris__cs_seal(cs, CS_T_META, 0, "keycheck", 8,
	    KEYCHECK_TEXT, sizeof(KEYCHECK_TEXT) - 1, &ct, &ctlen)) != IRIS_OK)
		return rc;
	if ((rc = sqlite3_prepare_v2(db, ins, -1, &st, NULL)) == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, ct, (int)ctlen, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	iris__free(ct);
	if (rc != SQLITE_DONE)
		return fail(err, errlen, db, "writing the key check", rc);
	return IRIS_OK;
}

int
iris__cs_prepare(sqlite3 *db, sqlite3_stmt **st, const char *const *sql,
    int n, char *err, size_t errlen)
{
	int i, rc;

	memset(st, 0, sizeof(*st) * (size_t)n);
	for (i = 0; i < n; i++)
		if ((rc = sqlite3_prepare_v3(db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st[i], NULL)) != SQLITE_OK) {
			rc = fail(err, errlen, db, "preparing statements", rc);
			iris__cs_finalize(st, n);
			return rc;
		}
	return IRIS_OK;
}

void
iris__cs_finalize(sqlite3_stmt **st, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
}

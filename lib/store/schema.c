/* SPDX-License-Identifier: ISC */
/*
 * Opening the store's SQLite file: connection settings that are not kept
 * in the file (synchronous=FULL on every open), the versioned schema with
 * forward-only migrations, and the checks that refuse a file that is not
 * an Iris store or is newer than this code. Opening never deletes or
 * rewrites data.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "store/store.h"

/*
 * Migrations: migrations[v - 1] takes the schema from version v - 1 to v.
 * Append only; a released step never changes.
 */
static const char *const migrations[IRIS_SCHEMA_VERSION] = {
	/* 1: per-device inbox logs, cursors and the dedup window. */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB) WITHOUT ROWID;"
	/* One row per (user, device) inbox: its head and cursor. */
	"CREATE TABLE boxes ("
	"  id INTEGER PRIMARY KEY,"
	"  shard INTEGER NOT NULL,"
	"  user TEXT NOT NULL,"
	"  device INTEGER NOT NULL,"
	"  head_seq INTEGER NOT NULL DEFAULT 0,"
	"  acked_seq INTEGER NOT NULL DEFAULT 0,"
	"  pruned_seq INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (user, device));"
	"CREATE INDEX boxes_to_prune ON boxes (id)"
	"  WHERE pruned_seq < acked_seq;"
	/* Append-only log in rowid order, found by (box, seq). */
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY,"
	"  box INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  msg_id INTEGER NOT NULL,"
	"  sender_user TEXT NOT NULL,"
	"  sender_device INTEGER NOT NULL,"
	"  client_msg_id BLOB NOT NULL,"
	"  class INTEGER NOT NULL,"
	"  received_ms INTEGER NOT NULL,"
	"  envelope BLOB NOT NULL);"
	"CREATE UNIQUE INDEX inbox_box_seq ON inbox (box, seq);"
	/* A send's key leads with its UUIDv7: index appends stay local. */
	"CREATE TABLE sends ("
	"  id INTEGER PRIMARY KEY,"
	"  client_msg_id BLOB NOT NULL,"
	"  sender_user TEXT NOT NULL,"
	"  sender_device INTEGER NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  msg_id INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  targets BLOB NOT NULL);"
	"CREATE UNIQUE INDEX sends_key ON sends"
	"  (client_msg_id, sender_user, sender_device);",

	/* 2: accounts, devices, device lists, key directory, contacts,
	 * revocations and invites (served by the edge and core). */
	"CREATE TABLE accounts ("
	"  user TEXT PRIMARY KEY,"
	"  shard INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  privacy INTEGER NOT NULL DEFAULT 0,"
	"  receipts INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"
	"CREATE TABLE devices ("
	"  user TEXT NOT NULL,"
	"  device INTEGER NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  identity_key BLOB NOT NULL,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  created_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER,"
	"  PRIMARY KEY (user, device)) WITHOUT ROWID;"
	"CREATE TABLE device_lists ("
	"  user TEXT PRIMARY KEY,"
	"  shard INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  list BLOB NOT NULL,"
	"  signature BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE signed_prekeys ("
	"  user TEXT NOT NULL,"
	"  device INTEGER NOT NULL,"
	"  id INTEGER NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  public_key BLOB NOT NULL,"
	"  signature BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (user, device, id)) WITHOUT ROWID;"
	"CREATE TABLE one_time_prekeys ("
	"  user TEXT NOT NULL,"
	"  device INTEGER NOT NULL,"
	"  id INTEGER NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  public_key BLOB NOT NULL,"
	"  PRIMARY KEY (user, device, id)) WITHOUT ROWID;"
	"CREATE TABLE contacts ("
	"  user TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  PRIMARY KEY (user, contact)) WITHOUT ROWID;"
	"CREATE TABLE revocations ("
	"  kind INTEGER NOT NULL,"
	"  key BLOB NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, key)) WITHOUT ROWID;"
	/* kind 1: an invite (user set: only for that user id); kind 2: a
	 * link token admitting a further device of user. Single use. */
	"CREATE TABLE invites ("
	"  code TEXT PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  user TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  used_ms INTEGER,"
	"  used_by TEXT) WITHOUT ROWID;",

	/* 3: when the server accepted each signed prekey (the grace period
	 * of a replaced one runs from the time its successor came). */
	"ALTER TABLE signed_prekeys ADD COLUMN"
	"  uploaded_ms INTEGER NOT NULL DEFAULT 0;",
};

/* What a store of the current version must hold. */
static const char *const required[] = {
	"meta", "boxes", "boxes_to_prune", "inbox", "inbox_box_seq", "sends",
	"sends_key", "accounts", "devices", "device_lists", "signed_prekeys",
	"one_time_prekeys", "contacts", "revocations", "invites",
};

static int
fail(char *err, size_t errlen, sqlite3 *db, const char *what, int rc)
{
	snprintf(err, errlen, "%s: %s", what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? IRIS_ECORRUPT :
	    IRIS_ESTORE;
}

/* Runs a PRAGMA or statement that returns at most one integer row. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (out != NULL)
			*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc;
}

int
iris__store_db_open(struct iris_store *s, sqlite3 **dbp, int mode,
    char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	const char *vfs = s->opts.vfs, *wb;
	char pragmas[256];
	int flags, rc;

	*dbp = NULL;
	flags = SQLITE_OPEN_NOMUTEX | (mode == IRIS__DB_READER ?
	    SQLITE_OPEN_READONLY : mode == IRIS__DB_CKPT ?
	    SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE);
	/*
	 * The writer's commits write their WAL frames in one call
	 * (synchronous=FULL only); no other connection writes the WAL.
	 */
	if (s->durable && mode == IRIS__DB_WRITER &&
	    (wb = iris__walbuf_vfs(vfs)) != NULL)
		vfs = wb;
	rc = sqlite3_open_v2(s->path, &db, flags, vfs);
	if (rc != SQLITE_OK) {
		rc = fail(err, errlen, db, s->path, rc);
		sqlite3_close(db);
		return rc;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	/*
	 * synchronous is a property of the connection, not of the file: set
	 * it on every open. The checkpointer thread (lib/store/ckpt.c) and
	 * the writer checkpoint on their own, so commits never run an
	 * automatic checkpoint.
	 */
	snprintf(pragmas, sizeof(pragmas),
	    "PRAGMA synchronous=%s; PRAGMA wal_autocheckpoint=0;"
	    " PRAGMA journal_size_limit=%llu; PRAGMA cache_size=%d;",
	    s->durable ? "FULL" : "OFF", (unsigned long long)s->wal_max,
	    mode == IRIS__DB_CKPT ? -512 : -16384);
	if ((rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL)) != SQLITE_OK) {
		rc = fail(err, errlen, db, "setting pragmas", rc);
		sqlite3_close(db);
		return rc;
	}
	/* After the pragmas: wal_autocheckpoint replaces the hook. */
	if (mode == IRIS__DB_WRITER)
		sqlite3_wal_hook(db, iris__store_wal_hook, s);
	*dbp = db;
	return IRIS_OK;
}

/* The file is ours, or new and empty. */
static int
check_header(sqlite3 *db, char *err, size_t errlen, int64_t *version)
{
	int64_t appid = 0, tables = 0;
	int rc;

	if ((rc = query_int(db, "PRAGMA application_id", &appid)) != SQLITE_OK
	    || (rc = query_int(db, "PRAGMA user_version", version)) !=
	    SQLITE_OK || (rc = query_int(db,
	    "SELECT count(*) FROM sqlite_master", &tables)) != SQLITE_OK)
		return fail(err, errlen, db, "reading the store header", rc);
	if (appid == 0 && *version == 0 && tables == 0)
		return IRIS_OK;		/* a new file */
	if (appid != IRIS_APPLICATION_ID) {
		snprintf(err, errlen, "not an Iris store (application id "
		    "0x%08llx)", (unsigned long long)appid);
		return IRIS_ECORRUPT;
	}
	if (*version > IRIS_SCHEMA_VERSION) {
		snprintf(err, errlen, "store schema version %lld is newer than"
		    " this libiris understands (%d); refusing to open it",
		    (long long)*version, IRIS_SCHEMA_VERSION);
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

	rc = sqlite3_prepare_v2(db,
	    "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(err, errlen, db, "checking the schema", rc);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		sqlite3_bind_text(st, 1, required[i], -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (!found) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "store schema is missing \"%s\"",
			    required[i]);
			return IRIS_ECORRUPT;
		}
	}
	sqlite3_finalize(st);
	return IRIS_OK;
}

int
iris__store_migrate(struct iris_store *s, sqlite3 *db, char *err,
    size_t errlen)
{
	char sql[128];
	int64_t version = 0;
	int target, rc;
	char *msg = NULL;

	if ((rc = check_header(db, err, errlen, &version)) != IRIS_OK)
		return rc;
	/* WAL before any user data; it is kept in the file. */
	if ((rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
	    NULL)) != SQLITE_OK)
		return fail(err, errlen, db, "enabling WAL", rc);
	target = s->opts.max_schema > 0 ? s->opts.max_schema :
	    IRIS_SCHEMA_VERSION;
	for (; version < target; version++) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id=%d;"
		    " PRAGMA user_version=%lld;", IRIS_APPLICATION_ID,
		    (long long)version + 1);
		if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
		    NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, migrations[version], NULL, NULL,
		    &msg)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) !=
		    SQLITE_OK ||
		    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "migrating the store to schema "
			    "version %lld: %s", (long long)version + 1,
			    msg != NULL ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return IRIS_ESTORE;
		}
		iris__log(&s->log, IRIS_LOG_NOTICE, "store %s: schema "
		    "version %lld", s->path, (long long)version + 1);
	}
	if (target == IRIS_SCHEMA_VERSION)
		return check_schema(db, err, errlen);
	return IRIS_OK;
}

int
iris__store_prepare(sqlite3 *db, sqlite3_stmt **st, const char *const *sql,
    int n, char *err, size_t errlen)
{
	int i, rc;

	memset(st, 0, sizeof(*st) * (size_t)n);
	for (i = 0; i < n; i++) {
		rc = sqlite3_prepare_v3(db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
		if (rc != SQLITE_OK) {
			rc = fail(err, errlen, db, "preparing statements", rc);
			iris__store_finalize(st, n);
			return rc;
		}
	}
	return IRIS_OK;
}

void
iris__store_finalize(sqlite3_stmt **st, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
}

uint16_t
iris__store_shard(const char *user)
{
	uint32_t h = 2166136261u;

	for (; *user != '\0'; user++) {
		h ^= (uint8_t)*user;
		h *= 16777619u;
	}
	return (uint16_t)(h % IRIS_SHARDS);
}

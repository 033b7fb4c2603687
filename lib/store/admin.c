/* SPDX-License-Identifier: ISC */
/*
 * What administration needs from the store: users and devices listed in
 * pages on the read connection, the disabled flag set by a write job,
 * PRAGMA integrity_check, and an online backup with SQLite's backup API
 * from a read-only connection of its own, copied a few pages at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iris.h"
#include "store/admin.h"
#include "store/store.h"
#include "util/alloc.h"

static int
read_fail(struct iris_store *s, sqlite3_stmt *st, const char *what)
{
	iris__store_seterr(s, "%s: %s", what, sqlite3_errmsg(s->rdb));
	sqlite3_finalize(st);
	return IRIS_ESTORE;
}

int
iris__store_users(struct iris_store *s, const char *after,
    struct iris_user_row *rows, size_t max)
{
	sqlite3_stmt *st;
	const char *user;
	size_t n = 0;
	int rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(s->rdb, "SELECT a.user, a.disabled,"
	    " (SELECT count(*) FROM devices d WHERE d.user = a.user AND"
	    " d.revoked_ms IS NULL) FROM accounts a WHERE a.user > ?1"
	    " ORDER BY a.user LIMIT ?2", -1, &st, NULL) != SQLITE_OK)
		return read_fail(s, NULL, "listing users");
	sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((user = (const char *)sqlite3_column_text(st, 0)) == NULL)
			continue;
		snprintf(rows[n].user, sizeof(rows[n].user), "%s", user);
		rows[n].disabled = sqlite3_column_int(st, 1) != 0;
		rows[n].devices = (uint64_t)sqlite3_column_int64(st, 2);
		n++;
	}
	if (n < max && rc != SQLITE_DONE)
		return read_fail(s, st, "listing users");
	sqlite3_finalize(st);
	return (int)n;
}

int
iris__store_devices(struct iris_store *s, const char *user,
    uint32_t after_device, struct iris_device_row *rows, size_t max)
{
	sqlite3_stmt *st;
	const char *name;
	size_t n = 0;
	int rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(s->rdb, "SELECT device, name, created_ms,"
	    " coalesce(revoked_ms, 0) FROM devices WHERE user = ?1 AND"
	    " device > ?2 ORDER BY device LIMIT ?3", -1, &st, NULL) !=
	    SQLITE_OK)
		return read_fail(s, NULL, "listing devices");
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_device);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows[n].device = (uint32_t)sqlite3_column_int64(st, 0);
		name = (const char *)sqlite3_column_text(st, 1);
		snprintf(rows[n].name, sizeof(rows[n].name), "%s",
		    name != NULL ? name : "");
		rows[n].created_ms = (uint64_t)sqlite3_column_int64(st, 2);
		rows[n].revoked_ms = (uint64_t)sqlite3_column_int64(st, 3);
		n++;
	}
	if (n < max && rc != SQLITE_DONE)
		return read_fail(s, st, "listing devices");
	sqlite3_finalize(st);
	return (int)n;
}

/* The disabled flag, written in the batch transaction. */
struct flag_job {
	struct iris_job		 job;
	iris_store_done_cb	 cb;
	void			*arg;
	char			 user[65];
	int			 disabled;
};

static int
exec_flag(struct iris_job *job, void *ctx)
{
	struct flag_job *j = (struct flag_job *)job;
	struct iris_store *s = ctx;
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(s->wdb, "UPDATE accounts SET"
	    " disabled = ?2 WHERE user = ?1", -1, &st, NULL)) != SQLITE_OK)
		return iris__store_fatal(s, rc, "preparing an account update");
	sqlite3_bind_text(st, 1, j->user, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, j->disabled);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		rc = iris__store_fatal(s, rc, "updating an account");
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	if (sqlite3_changes(s->wdb) == 0)
		j->job.rc = IRIS_ENOTFOUND;
	return IRIS_OK;
}

static void
done_flag(struct iris_job *job, int deliver)
{
	struct flag_job *j = (struct flag_job *)job;

	if (deliver && j->cb != NULL)
		j->cb(j->job.rc, j->arg);
	iris__free(j);
}

static const struct iris_job_ops flag_ops = { exec_flag, done_flag };

int
iris__store_set_disabled(struct iris_store *s, const char *user,
    int disabled, iris_store_done_cb cb, void *arg)
{
	struct flag_job *j;
	int rc;

	if (__atomic_load_n(&s->read_only, __ATOMIC_ACQUIRE))
		return IRIS_ESTORE;
	if ((j = iris__calloc(1, sizeof(*j))) == NULL)
		return IRIS_ENOMEM;
	j->job.ops = &flag_ops;
	j->job.bytes = sizeof(*j);
	j->cb = cb;
	j->arg = arg;
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->disabled = disabled != 0;
	if ((rc = iris__worker_submit(s->w, &j->job)) != IRIS_OK)
		iris__free(j);
	return rc;
}

int
iris__store_check(struct iris_store *s, iris_store_line_cb cb, void *arg,
    char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	const char *line;
	int rc, n = 0, ok = 0;

	if ((rc = iris__store_db_open(s, &db, 1, err, errlen)) != IRIS_OK)
		return rc;
	if ((rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	    NULL)) == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			line = (const char *)sqlite3_column_text(st, 0);
			if (line == NULL)
				continue;
			ok = ++n == 1 && strcmp(line, "ok") == 0;
			cb(line, arg);
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "integrity check: %s",
		    sqlite3_errmsg(db));
		rc = (rc & 0xff) == SQLITE_CORRUPT ||
		    (rc & 0xff) == SQLITE_NOTADB ? IRIS_ECORRUPT : IRIS_ESTORE;
	} else if (!ok) {
		snprintf(err, errlen, "the integrity check found problems");
		rc = IRIS_ECORRUPT;
	} else
		rc = IRIS_OK;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

struct iris_backup {
	sqlite3		*src;
	sqlite3		*dst;
	sqlite3_backup	*bk;
	char		*path;
	int		 pages;
	int		 created;	/* path is ours to remove */
	int		 done;
};

/* The new name must survive a crash once the backup says it is done. */
static void
sync_dir(const char *path)
{
	char dir[4096], *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int
iris__store_backup_new(struct iris_backup **bp, struct iris_store *s,
    const char *path, char *err, size_t errlen)
{
	struct iris_backup *b;
	int fd, rc;

	*bp = NULL;
	if ((b = iris__calloc(1, sizeof(*b))) == NULL ||
	    (b->path = iris__strdup(path)) == NULL) {
		iris__free(b);
		snprintf(err, errlen, "out of memory");
		return IRIS_ENOMEM;
	}
	/* Never over an existing file; 0600, since the copy holds secrets. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		rc = errno == EEXIST ? IRIS_EEXIST : IRIS_EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	b->created = 1;
	if ((rc = iris__store_db_open(s, &b->src, 1, err, errlen)) !=
	    IRIS_OK)
		goto fail;
	/*
	 * One read transaction for the whole copy: a WAL snapshot, which
	 * the writer's commits meanwhile neither block nor restart.
	 */
	rc = IRIS_ESTORE;
	if (sqlite3_exec(b->src, "BEGIN; SELECT count(*) FROM sqlite_master;",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "backup: %s", sqlite3_errmsg(b->src));
		goto fail;
	}
	if (sqlite3_open_v2(path, &b->dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    (b->bk = sqlite3_backup_init(b->dst, "main", b->src, "main")) ==
	    NULL) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(b->dst));
		goto fail;
	}
	*bp = b;
	return IRIS_OK;
fail:
	iris__store_backup_free(b);
	return rc;
}

int
iris__store_backup_step(struct iris_backup *b, int pages, char *err,
    size_t errlen)
{
	int rc;

	rc = sqlite3_backup_step(b->bk, pages);
	b->pages = sqlite3_backup_pagecount(b->bk);
	if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return 0;
	if (rc == SQLITE_DONE) {
		/* The last step committed (and synced) the copy. */
		rc = sqlite3_backup_finish(b->bk);
		b->bk = NULL;
		if (rc == SQLITE_OK) {
			sqlite3_close_v2(b->dst);
			b->dst = NULL;
			sync_dir(b->path);
			b->done = 1;
			return 1;
		}
	}
	snprintf(err, errlen, "backup to %s: %s", b->path,
	    sqlite3_errstr(rc));
	return IRIS_ESTORE;
}

int
iris__store_backup_pages(const struct iris_backup *b)
{
	return b->pages;
}

void
iris__store_backup_free(struct iris_backup *b)
{
	char journal[4200];

	if (b == NULL)
		return;
	if (b->bk != NULL)
		sqlite3_backup_finish(b->bk);
	sqlite3_close_v2(b->dst);
	if (b->src != NULL) {
		sqlite3_exec(b->src, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close_v2(b->src);
	}
	if (b->created && !b->done) {
		unlink(b->path);
		snprintf(journal, sizeof(journal), "%s-journal", b->path);
		unlink(journal);
	}
	iris__free(b->path);
	iris__free(b);
}

/* SPDX-License-Identifier: ISC */
/*
 * A thin SQLite VFS over another that gathers the writer's WAL appends:
 * SQLite writes each frame of a commit as two writes (its 24-byte header,
 * then the page), so a commit of n pages was 2n pwrite calls. Here the
 * contiguous writes to a WAL file are kept in a buffer and written with one
 * call when SQLite syncs the file (the commit's fsync, synchronous=FULL),
 * reads it, asks its size, truncates or closes it, or writes elsewhere in
 * it. Nothing is acknowledged earlier or later than before: the data is in
 * the file before the same fsync. Only used with synchronous=FULL, where
 * every commit syncs the WAL before SQLite publishes its frames to other
 * connections (with durability none, nothing would flush them in time).
 * Other files pass straight through.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "iris.h"
#include "store/store.h"

/*
 * A run is flushed when it would grow past this: the unix VFS writes at
 * most 128 KiB - 1 in one call (and takes a longer write for a full disk).
 */
#define WALBUF_CAP	(31 * 4096)
#define WALBUF_MAX	4		/* shims: one per VFS below */

struct wb_file {
	sqlite3_file	 base;
	sqlite3_file	*real;		/* follows this struct */
	int		 wal;
	unsigned char	*buf;		/* pending run, NULL until written */
	size_t		 len;
	sqlite3_int64	 off;		/* where the run starts */
};

struct wb_vfs {
	sqlite3_vfs	 vfs;
	sqlite3_vfs	*below;
	char		 name[64];
};

static pthread_mutex_t wb_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wb_vfs wb_vfs[WALBUF_MAX];
static int wb_n;

#define REAL(f)	(((struct wb_file *)(f))->real)

static int
flush(struct wb_file *w)
{
	int rc;

	if (w->len == 0)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
	w->len = 0;	/* on failure SQLite fails the transaction */
	return rc;
}

static int
wb_close(sqlite3_file *f)
{
	struct wb_file *w = (struct wb_file *)f;
	int rc = flush(w), rc2;

	rc2 = w->real->pMethods->xClose(w->real);
	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
wb_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	int rc;

	if ((rc = flush((struct wb_file *)f)) != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int
wb_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct wb_file *w = (struct wb_file *)f;
	int rc;

	if (!w->wal || n <= 0)
		return w->real->pMethods->xWrite(w->real, p, n, off);
	if (w->len > 0 && (off != w->off + (sqlite3_int64)w->len ||
	    w->len + (size_t)n > WALBUF_CAP) &&
	    (rc = flush(w)) != SQLITE_OK)
		return rc;
	if ((size_t)n > WALBUF_CAP)
		return w->real->pMethods->xWrite(w->real, p, n, off);
	if (w->buf == NULL && (w->buf = malloc(WALBUF_CAP)) == NULL)
		return w->real->pMethods->xWrite(w->real, p, n, off);
	if (w->len == 0)
		w->off = off;
	memcpy(w->buf + w->len, p, (size_t)n);
	w->len += (size_t)n;
	return SQLITE_OK;
}

static int
wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc;

	if ((rc = flush((struct wb_file *)f)) != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
wb_sync(sqlite3_file *f, int flags)
{
	int rc;

	if ((rc = flush((struct wb_file *)f)) != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
wb_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc;

	if ((rc = flush((struct wb_file *)f)) != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
wb_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
wb_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
wb_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
wb_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
wb_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
wb_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
wb_shmmap(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}

static int
wb_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
wb_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
wb_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
wb_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	if (REAL(f)->pMethods->iVersion < 3) {
		*pp = NULL;
		return SQLITE_OK;
	}
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int
wb_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	if (REAL(f)->pMethods->iVersion < 3)
		return SQLITE_OK;
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods wb_methods = {
	3, wb_close, wb_read, wb_write, wb_truncate, wb_sync, wb_size,
	wb_lock, wb_unlock, wb_reserved, wb_fcntl, wb_sector, wb_devchar,
	wb_shmmap, wb_shmlock, wb_shmbarrier, wb_shmunmap, wb_fetch,
	wb_unfetch,
};

static int
wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *outflags)
{
	sqlite3_vfs *below = ((struct wb_vfs *)vfs)->below;
	struct wb_file *w = (struct wb_file *)f;
	int rc;

	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)(w + 1);
	w->wal = (flags & SQLITE_OPEN_WAL) != 0 &&
	    (flags & SQLITE_OPEN_READONLY) == 0;
	if ((rc = below->xOpen(below, name, w->real, flags, outflags)) ==
	    SQLITE_OK) {
		/* Shared-memory calls need version 2 below (WAL needs it). */
		if (w->real->pMethods == NULL)
			return rc;
		w->base.pMethods = &wb_methods;
	}
	return rc;
}

static int
wb_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	sqlite3_vfs *below = ((struct wb_vfs *)vfs)->below;

	return below->xDelete(below, name, syncdir);
}

static int
wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	sqlite3_vfs *below = ((struct wb_vfs *)vfs)->below;

	return below->xAccess(below, name, flags, out);
}

static int
wb_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	sqlite3_vfs *below = ((struct wb_vfs *)vfs)->below;

	return below->xFullPathname(below, name, n, out);
}

/* The shim's name over below (NULL: the default VFS), registered once. */
const char *
iris__walbuf_vfs(const char *below_name)
{
	sqlite3_vfs *below;
	struct wb_vfs *v;
	const char *name = NULL;
	int i;

	pthread_mutex_lock(&wb_mu);
	if ((below = sqlite3_vfs_find(below_name)) == NULL)
		goto out;
	for (i = 0; i < wb_n; i++)
		if (wb_vfs[i].below == below) {
			name = wb_vfs[i].name;
			goto out;
		}
	if (wb_n == WALBUF_MAX || below->iVersion < 2)
		goto out;
	v = &wb_vfs[wb_n];
	/* The calls that touch no file go to below as they are. */
	v->vfs = *below;
	v->vfs.pNext = NULL;
	v->vfs.szOsFile = (int)sizeof(struct wb_file) + below->szOsFile;
	snprintf(v->name, sizeof(v->name), "iris-walbuf-%.40s",
	    below->zName);
	v->vfs.zName = v->name;
	v->vfs.xOpen = wb_open;
	v->vfs.xDelete = wb_delete;
	v->vfs.xAccess = wb_access;
	v->vfs.xFullPathname = wb_fullpath;
	v->below = below;
	if (sqlite3_vfs_register(&v->vfs, 0) != SQLITE_OK)
		goto out;
	wb_n++;
	name = v->name;
out:
	pthread_mutex_unlock(&wb_mu);
	return name;
}

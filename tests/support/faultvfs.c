/* SPDX-License-Identifier: ISC */
/* A fault-injecting SQLite VFS for tests: power loss, I/O errors, full disk. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "faultvfs.h"

/* One tracked path: its durable image and what changed since. */
struct rec {
	struct rec	*next;
	char		*path;
	int		 is_main;
	int		 durable;	/* exists after a power loss */
	unsigned char	*img;
	sqlite3_int64	 ilen;
	int		 unlinked;	/* unlink not yet durable */
	sqlite3_int64	 lo, hi;	/* written since the last sync */
	sqlite3_int64	 live;		/* size of the live file */
};

struct ffile {
	sqlite3_file	 base;
	struct rec	*rec;		/* NULL: not tracked (temp file) */
	sqlite3_file	*real;		/* follows this struct */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs *unix_vfs;
static struct rec *recs;
static struct faultvfs_stats st;
static uint64_t die_at, nth, budget;
static int nth_kind, nth_permanent, broken, drop_on_fail;
static char delay_substr[256];
static unsigned delay_ms;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_db;
static unsigned held;

/* Forgets the writes since the last sync. */
static void
clean(struct rec *r)
{
	r->lo = INT64_MAX;
	r->hi = 0;
}

static struct rec *
rec_find(const char *path)
{
	struct rec *r;

	for (r = recs; r != NULL; r = r->next)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

/*
 * Counts one changing operation of a kind (0: neither a write nor a
 * sync) and says whether it must fail. Called with mu held.
 */
static int
must_fail(int kind)
{
	uint64_t n = kind == FAULTVFS_WRITE ? ++st.writes :
	    kind == FAULTVFS_SYNC ? ++st.syncs : 0;

	st.ops++;
	if (die_at != 0 && st.ops >= die_at)
		st.dead = 1;
	if (!st.dead && !broken && (nth == 0 || kind != nth_kind || n != nth))
		return 0;
	if (!st.dead && !broken) {
		nth = 0;		/* this one fails */
		broken = nth_permanent;
	}
	st.faults++;
	return 1;
}

/* Makes pending unlinks durable: a sync commits the directory too. */
static void
unlinks_durable(void)
{
	struct rec *r;

	for (r = recs; r != NULL; r = r->next)
		if (r->unlinked) {
			r->unlinked = 0;
			r->durable = 0;
			free(r->img);
			r->img = NULL;
			r->ilen = 0;
		}
}

/* Copies what changed since the last sync into the durable image. */
static int
snapshot(struct rec *r, sqlite3_file *real)
{
	sqlite3_int64 size, lo = r->lo, hi = r->hi;
	unsigned char *img;
	int rc;

	if ((rc = real->pMethods->xFileSize(real, &size)) != SQLITE_OK)
		return rc;
	if (!r->durable)
		lo = 0, hi = size;
	else if (size > r->ilen) {
		if (lo > r->ilen)
			lo = r->ilen;
		hi = size;
	}
	if (hi > size)
		hi = size;
	if ((img = realloc(r->img, size > 0 ? (size_t)size : 1)) == NULL)
		return SQLITE_IOERR_NOMEM;
	r->img = img;
	r->ilen = size;
	r->durable = 1;
	if (lo < hi) {
		rc = real->pMethods->xRead(real, img + lo, (int)(hi - lo), lo);
		if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
			return rc;
	}
	clean(r);
	return SQLITE_OK;
}

/* The real file's method, for calls that only pass through. */
#define REAL(f)		(((struct ffile *)(f))->real)
#define PASS(name, params, call)					\
static int								\
name params								\
{									\
	return REAL(f)->pMethods->call;					\
}

PASS(f_close, (sqlite3_file *f), xClose(REAL(f)))
PASS(f_read, (sqlite3_file *f, void *buf, int n, sqlite3_int64 off),
    xRead(REAL(f), buf, n, off))
PASS(f_size, (sqlite3_file *f, sqlite3_int64 *size),
    xFileSize(REAL(f), size))
PASS(f_lock, (sqlite3_file *f, int lock), xLock(REAL(f), lock))
PASS(f_unlock, (sqlite3_file *f, int lock), xUnlock(REAL(f), lock))
PASS(f_reserved, (sqlite3_file *f, int *out),
    xCheckReservedLock(REAL(f), out))
PASS(f_fcntl, (sqlite3_file *f, int op, void *arg),
    xFileControl(REAL(f), op, arg))
PASS(f_sector, (sqlite3_file *f), xSectorSize(REAL(f)))
PASS(f_devchar, (sqlite3_file *f), xDeviceCharacteristics(REAL(f)))
PASS(f_shmmap, (sqlite3_file *f, int pg, int pgsz, int ext,
    void volatile **pp), xShmMap(REAL(f), pg, pgsz, ext, pp))
PASS(f_shmlock, (sqlite3_file *f, int off, int n, int flags),
    xShmLock(REAL(f), off, n, flags))
PASS(f_shmunmap, (sqlite3_file *f, int del), xShmUnmap(REAL(f), del))
PASS(f_fetch, (sqlite3_file *f, sqlite3_int64 off, int n, void **pp),
    xFetch(REAL(f), off, n, pp))
PASS(f_unfetch, (sqlite3_file *f, sqlite3_int64 off, void *p),
    xUnfetch(REAL(f), off, p))

static void
f_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

/*
 * Growing r to size would pass the byte budget (SQLite's size hints grow
 * nothing: the unix VFS only acts on them with a chunk size set).
 */
static int
over_budget(struct rec *r, sqlite3_int64 size)
{
	sqlite3_int64 total = size - r->live;
	struct rec *o;

	for (o = recs; o != NULL; o = o->next)
		total += o->live;
	if (budget == 0 || size <= r->live || total <= (sqlite3_int64)budget)
		return 0;
	st.full++;
	return 1;
}

static int
f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct rec *r = ((struct ffile *)f)->rec;
	int rc;

	if (r == NULL)
		return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
	pthread_mutex_lock(&mu);
	if (must_fail(FAULTVFS_WRITE))
		rc = SQLITE_IOERR_WRITE;
	else if (over_budget(r, off + n))
		rc = SQLITE_FULL;
	else if ((rc = REAL(f)->pMethods->xWrite(REAL(f), buf, n, off)) ==
	    SQLITE_OK) {
		if (off < r->lo)
			r->lo = off;
		if (off + n > r->hi)
			r->hi = off + n;
		if (off + n > r->live)
			r->live = off + n;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct rec *r = ((struct ffile *)f)->rec;
	int rc;

	if (r == NULL)
		return REAL(f)->pMethods->xTruncate(REAL(f), size);
	pthread_mutex_lock(&mu);
	if (must_fail(0))
		rc = SQLITE_IOERR_TRUNCATE;
	else if (over_budget(r, size))
		rc = SQLITE_FULL;
	else if ((rc = REAL(f)->pMethods->xTruncate(REAL(f), size)) ==
	    SQLITE_OK) {
		r->live = size;
		if (r->hi > size)
			r->hi = size;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

/* The real fsync is skipped: durability is what this VFS models. */
static int
f_sync(sqlite3_file *f, int flags)
{
	struct rec *r = ((struct ffile *)f)->rec;
	unsigned ms;
	int rc;

	if (r == NULL)
		return REAL(f)->pMethods->xSync(REAL(f), flags);
	pthread_mutex_lock(&mu);
	while (hold_db && r->is_main) {
		held++;
		pthread_cond_wait(&hold_cv, &mu);
		held--;
	}
	if (must_fail(FAULTVFS_SYNC)) {
		rc = SQLITE_IOERR_FSYNC;
		if (drop_on_fail)
			clean(r);
	} else {
		unlinks_durable();
		rc = snapshot(r, REAL(f));
	}
	ms = delay_ms != 0 && strstr(r->path, delay_substr) != NULL ?
	    delay_ms : 0;
	pthread_mutex_unlock(&mu);
	if (ms != 0) {
		struct timespec ts = { (time_t)(ms / 1000),
		    (long)(ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return rc;
}

void
faultvfs_sync_delay(const char *substr, unsigned ms)
{
	pthread_mutex_lock(&mu);
	snprintf(delay_substr, sizeof(delay_substr), "%s",
	    substr != NULL ? substr : "");
	delay_ms = substr != NULL ? ms : 0;
	pthread_mutex_unlock(&mu);
}

void
faultvfs_hold_db_syncs(int hold)
{
	pthread_mutex_lock(&mu);
	hold_db = hold;
	if (!hold)
		pthread_cond_broadcast(&hold_cv);
	pthread_mutex_unlock(&mu);
}

unsigned
faultvfs_held_db_syncs(void)
{
	unsigned n;

	pthread_mutex_lock(&mu);
	n = held;
	pthread_mutex_unlock(&mu);
	return n;
}

static const sqlite3_io_methods f_methods = {
	3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock,
	f_unlock, f_reserved, f_fcntl, f_sector, f_devchar, f_shmmap,
	f_shmlock, f_shmbarrier, f_shmunmap, f_fetch, f_unfetch,
};

/* A new record: what is on disk now counts as durable. */
static struct rec *
rec_new(const char *path, int is_main, sqlite3_file *real, int exists)
{
	struct rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->path = strdup(path)) == NULL) {
		free(r);
		return NULL;
	}
	r->is_main = is_main;
	clean(r);
	if (exists && snapshot(r, real) != SQLITE_OK) {
		free(r->path);
		free(r);
		return NULL;
	}
	r->live = r->ilen;
	r->next = recs;
	recs = r;
	return r;
}

static int
v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *outflags)
{
	struct ffile *ff = (struct ffile *)f;
	int tracked, exists = 0, rc;
	struct rec *r;

	(void)vfs;
	ff->base.pMethods = NULL;
	ff->rec = NULL;
	ff->real = (sqlite3_file *)(ff + 1);
	tracked = name != NULL && (flags & (SQLITE_OPEN_MAIN_DB |
	    SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL |
	    SQLITE_OPEN_SUPER_JOURNAL)) != 0;
	pthread_mutex_lock(&mu);
	if (tracked) {
		exists = access(name, F_OK) == 0;
		if (!exists && (flags & SQLITE_OPEN_CREATE) && must_fail(0)) {
			pthread_mutex_unlock(&mu);
			return SQLITE_CANTOPEN;
		}
	}
	rc = unix_vfs->xOpen(unix_vfs, name, ff->real, flags, outflags);
	if (rc == SQLITE_OK && tracked) {
		if ((r = rec_find(name)) == NULL)
			r = rec_new(name, (flags & SQLITE_OPEN_MAIN_DB) != 0,
			    ff->real, exists);
		else if (!exists) {
			/* A new incarnation: all of it is unsynced. */
			r->live = 0;
			clean(r);
		}
		if (r == NULL) {
			ff->real->pMethods->xClose(ff->real);
			rc = SQLITE_NOMEM;
		}
		ff->rec = r;
	}
	pthread_mutex_unlock(&mu);
	if (rc == SQLITE_OK)
		ff->base.pMethods = &f_methods;
	return rc;
}

static int
v_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	struct rec *r;
	int rc;

	(void)vfs;
	pthread_mutex_lock(&mu);
	if ((r = rec_find(name)) == NULL)
		rc = unix_vfs->xDelete(unix_vfs, name, syncdir);
	else if (must_fail(0))
		rc = SQLITE_IOERR_DELETE;
	else if ((rc = unix_vfs->xDelete(unix_vfs, name, 0)) == SQLITE_OK) {
		r->live = 0;
		clean(r);
		r->unlinked = r->durable;
		if (syncdir)
			unlinks_durable();
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static sqlite3_vfs fault_vfs;

int
faultvfs_register(void)
{
	sqlite3_vfs *u;

	if (unix_vfs != NULL)
		return SQLITE_OK;
	if ((u = sqlite3_vfs_find("unix")) == NULL)
		return SQLITE_ERROR;
	/* The unix VFS's calls that touch no file ignore their vfs argument. */
	fault_vfs = *u;
	fault_vfs.pNext = NULL;
	fault_vfs.pAppData = NULL;
	fault_vfs.zName = FAULTVFS_NAME;
	fault_vfs.szOsFile = (int)sizeof(struct ffile) + u->szOsFile;
	fault_vfs.xOpen = v_open;
	fault_vfs.xDelete = v_delete;
	unix_vfs = u;
	return sqlite3_vfs_register(&fault_vfs, 0);
}

void
faultvfs_reset(void)
{
	struct rec *r, *next;

	pthread_mutex_lock(&mu);
	for (r = recs; r != NULL; r = next) {
		next = r->next;
		free(r->img);
		free(r->path);
		free(r);
	}
	recs = NULL;
	memset(&st, 0, sizeof(st));
	die_at = nth = budget = 0;
	nth_kind = nth_permanent = broken = drop_on_fail = 0;
	pthread_mutex_unlock(&mu);
}

#define LOCKED(stmt)	do {						\
	pthread_mutex_lock(&mu);					\
	stmt;								\
	pthread_mutex_unlock(&mu);					\
} while (0)

void
faultvfs_die_at(uint64_t op)
{
	LOCKED(die_at = op);
}

void
faultvfs_fail_nth(int kind, uint64_t n, int permanent)
{
	LOCKED(nth_kind = kind; nth_permanent = permanent;
	    nth = n + (kind == FAULTVFS_WRITE ? st.writes : st.syncs));
}

void
faultvfs_heal(void)
{
	LOCKED(broken = 0; nth = 0);
}

void
faultvfs_sync_fail_drops(int drop)
{
	LOCKED(drop_on_fail = drop);
}

void
faultvfs_set_budget(uint64_t bytes)
{
	LOCKED(budget = bytes);
}

void
faultvfs_stats(struct faultvfs_stats *out)
{
	LOCKED(*out = st);
}

/*
 * Writes a file's durable image back. With torn, each page written since
 * the last sync may have reached the disk too (the kernel flushes dirty
 * pages when it likes): a random half of them is taken from the live file.
 */
static int
restore(struct rec *r, int torn, uint64_t *rng)
{
	sqlite3_int64 len = r->ilen, off, end = torn && !r->unlinked ?
	    r->hi : 0;
	unsigned char *buf;
	ssize_t n;
	int fd, ok;

	if ((fd = open(r->path, O_RDWR | O_CREAT, 0644)) < 0)
		return -1;
	if ((buf = calloc(1, (size_t)(end > len ? end : len) + 1)) == NULL) {
		close(fd);
		return -1;
	}
	if (r->ilen > 0)
		memcpy(buf, r->img, (size_t)r->ilen);
	for (off = r->lo & ~(sqlite3_int64)4095; off < end; off += 4096) {
		*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
		if ((*rng >> 40) & 1)
			continue;
		n = pread(fd, buf + off, (size_t)(end - off < 4096 ?
		    end - off : 4096), off);
		if (n > 0 && off + n > len)
			len = off + n;
	}
	ok = ftruncate(fd, 0) == 0 && (len == 0 ||
	    pwrite(fd, buf, (size_t)len, 0) == (ssize_t)len);
	free(buf);
	return close(fd) == 0 && ok ? 0 : -1;
}

int
faultvfs_powerloss(int torn, uint64_t *rng)
{
	char shm[1024];
	struct rec *r;
	int n = 0, rc = 0;

	pthread_mutex_lock(&mu);
	for (r = recs; r != NULL; r = r->next) {
		if (r->durable) {
			if (restore(r, torn, rng) != 0)
				rc = -1;
			n++;
		} else if (unlink(r->path) != 0 && errno != ENOENT)
			rc = -1;
		snprintf(shm, sizeof(shm), "%s-shm", r->path);
		if (r->is_main && unlink(shm) != 0 && errno != ENOENT)
			rc = -1;
	}
	pthread_mutex_unlock(&mu);
	faultvfs_reset();
	return rc == 0 ? n : -1;
}

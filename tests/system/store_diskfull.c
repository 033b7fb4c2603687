/* SPDX-License-Identifier: ISC */
/*
 * A full disk, twice: appends go on until the store refuses with a clear
 * error and turns read-only, nothing acked is lost; once space is freed
 * the store recovers by itself and appends succeed again. On a 4 MiB tmpfs
 * in a private mount namespace when root may mount one, else through the
 * byte budget of tests/support/faultvfs.c (IRIS_TEST_DISKFULL=vfs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultvfs.h"
#include "storetest.h"

#define FULL_DIR	"full"
/*
 * Two fillers, each freed in turn to let the store recover: its TRUNCATE
 * checkpoint must first copy the WAL into the database file, so the room
 * freed must hold the WAL, which can take all the room the store had.
 */
#define TMPFS_SIZE	(4 * 1024 * 1024)
#define FILLER		(1536 * 1024)
#define CYCLES		2
#define SENDS		100000
#define WAIT_MS		30000

static int use_tmpfs;

/* A tmpfs of our own: unshare before any thread exists. */
static int
mount_tmpfs(char *why, size_t len)
{
	char opts[64];

	if (geteuid() != 0)
		return snprintf(why, len, "not root"), -1;
	if (unshare(CLONE_NEWNS) != 0)
		return snprintf(why, len, "unshare: %s", strerror(errno)), -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return snprintf(why, len, "private /: %s", strerror(errno)), -1;
	snprintf(opts, sizeof(opts), "size=%d,mode=0700", TMPFS_SIZE);
	if (mount("tmpfs", FULL_DIR, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
		return snprintf(why, len, "mount: %s", strerror(errno)), -1;
	return 0;
}

static void
make_filler(int n)
{
	static char buf[64 * 1024];
	char name[32];
	int fd, i;

	memset(buf, 0xa5, sizeof(buf));
	snprintf(name, sizeof(name), "%s/filler%d", FULL_DIR, n);
	if ((fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		st_die("filler: %s", strerror(errno));
	for (i = 0; i < FILLER / (int)sizeof(buf); i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			st_die("filler: %s", strerror(errno));
	if (close(fd) != 0)
		st_die("filler: %s", strerror(errno));
}

static void
free_space(int n)
{
	char name[32];

	snprintf(name, sizeof(name), "%s/filler%d", FULL_DIR, n);
	if (!use_tmpfs)
		faultvfs_set_budget(TMPFS_SIZE - (CYCLES - 1 - n) * FILLER);
	else if (unlink(name) != 0)
		st_die("unlink %s: %s", name, strerror(errno));
}

/* Fills the disk: the store must refuse, clearly, and stay consistent. */
static void
fill(struct st_work *wk, const char *path)
{
	uint64_t acked = wk->acked, errors = wk->cb_errors;
	struct st_tally t;
	const char *err;
	int round;

	wk->nsends = SENDS;
	wk->first_error = 0;
	/* A recovery may find room again (its checkpoint empties the WAL):
	 * fill until the store stays read-only. */
	for (round = 0;; round++) {
		st_pump(wk);
		if (!run_until(wk->base, st_idle, wk, WAIT_MS))
			st_die("filling: the workload did not finish");
		/* A commit failed, or maintenance did and appends are
		 * refused at once. */
		if (wk->cb_errors == errors && !wk->refused)
			st_die("%zu sends stored and the disk is not full",
			    wk->next);
		wk->refused = 0;
		if (st_stat(wk->store, "read_only") == 1 &&
		    st_submit(wk, 0, 1) == IRIS_ESTORE)
			break;
		if (round == 100)
			st_die("the store never stayed read-only");
	}
	if (wk->first_error != 0 && wk->first_error != IRIS_ESTORE)
		st_die("a full disk gave %s, not IRIS_ESTORE",
		    iris_strerror(wk->first_error));
	err = st_last_error();
	if (strstr(err, "full") == NULL)
		st_die("the error does not say the disk is full: \"%s\"", err);
	printf("store_diskfull: full after %llu more acked sends (recovered "
	    "%d times on the way); %llu appends failed; logged: \"%s\"\n",
	    (unsigned long long)(wk->acked - acked), round,
	    (unsigned long long)(wk->cb_errors - errors), err);
	memset(&t, 0, sizeof(t));
	if (st_verify(wk, wk->store, path, &t) != 0)
		st_die("verification on the full disk failed (above)");
	printf("store_diskfull: on the full disk: %llu acked sends verified "
	    "(%llu envelopes), %llu refused absent\n",
	    (unsigned long long)t.acked_sends, (unsigned long long)t.envelopes,
	    (unsigned long long)t.unknown_absent);
}

/* Space is back: the store recovers by itself; appends succeed again. */
static void
resume(struct st_work *wk, const char *path, int cycle)
{
	uint64_t t0 = st_now_ms(), errors, rec;
	struct st_tally t;

	rec = st_stat(wk->store, "recoveries");
	free_space(cycle);
	if (!st_wait_stat(wk->base, wk->store, "recoveries", rec + 1,
	    UINT64_MAX, WAIT_MS) || !st_wait_stat(wk->base, wk->store,
	    "read_only", 0, 0, WAIT_MS))
		st_die("no recovery %u s after space was freed: %s",
		    WAIT_MS / 1000, st_last_error());
	printf("store_diskfull: recovered %llu ms after space was freed\n",
	    (unsigned long long)(st_now_ms() - t0));
	errors = wk->cb_errors;
	wk->refused = 0;
	wk->nsends = wk->next + 40;
	st_retry_unknown(wk);
	st_pump(wk);
	if (!run_until(wk->base, st_idle, wk, WAIT_MS) || wk->refused ||
	    wk->cb_errors != errors)
		st_die("appends failed after the recovery: %s",
		    st_last_error());
	memset(&t, 0, sizeof(t));
	if (st_verify(wk, wk->store, path, &t) != 0)
		st_die("verification after the recovery failed (above)");
	printf("store_diskfull: after the recovery: %llu acked sends verified "
	    "(%llu envelopes; %llu retried)\n",
	    (unsigned long long)t.acked_sends, (unsigned long long)t.envelopes,
	    (unsigned long long)wk->retried);
}

int
main(void)
{
	uint64_t seed = st_seed("store_diskfull");
	const char *mode = getenv("IRIS_TEST_DISKFULL"), *vfs = NULL;
	char why[128] = "IRIS_TEST_DISKFULL=vfs", path[64];
	struct event_base *base;
	struct st_work wk;
	struct st_tally t;
	int i;

	st_watchdog(st_env_uint("IRIS_TEST_TIMEOUT", 300));
	if (mkdir(FULL_DIR, 0700) != 0)
		st_die("mkdir %s: %s", FULL_DIR, strerror(errno));
	use_tmpfs = (mode == NULL || strcmp(mode, "vfs") != 0) &&
	    mount_tmpfs(why, sizeof(why)) == 0;
	if (use_tmpfs) {
		printf("store_diskfull: a %d KiB tmpfs in a private mount "
		    "namespace\n", TMPFS_SIZE / 1024);
		for (i = 0; i < CYCLES; i++)
			make_filler(i);
	} else {
		printf("store_diskfull: no tmpfs (%s): faultvfs answers "
		    "SQLITE_FULL past %d KiB\n", why, (TMPFS_SIZE - CYCLES *
		    FILLER) / 1024);
		if (faultvfs_register() != 0)
			st_die("faultvfs_register");
		faultvfs_set_budget(TMPFS_SIZE - CYCLES * FILLER);
		vfs = FAULTVFS_NAME;
	}
	snprintf(path, sizeof(path), "%s/store.db", FULL_DIR);
	if ((base = event_base_new()) == NULL)
		st_die("event_base_new");
	st_init(&wk, base, seed, SENDS, 1000, 6000);
	wk.retries = 1;
	wk.strict = 1;
	if (st_open(&wk.store, base, path, vfs, 5, 20) != IRIS_OK)
		st_die("open: %s", st_last_error());
	for (i = 0; i < CYCLES; i++) {
		fill(&wk, path);
		resume(&wk, path, i);
	}
	iris_store_close(wk.store);

	/* And once more from a fresh open. */
	if (st_open(&wk.store, base, path, vfs, 5, 20) != IRIS_OK)
		st_die("reopen: %s", st_last_error());
	memset(&t, 0, sizeof(t));
	if (st_verify(&wk, wk.store, path, &t) != 0)
		st_die("verification after a reopen failed (above)");
	iris_store_close(wk.store);
	st_free(&wk);
	event_base_free(base);
	if (use_tmpfs && umount2(FULL_DIR, MNT_DETACH) != 0)
		st_die("umount: %s", strerror(errno));
	printf("store_diskfull: ok (%s path)\n", use_tmpfs ? "tmpfs" :
	    "faultvfs");
	return 0;
}

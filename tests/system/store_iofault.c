/* SPDX-License-Identifier: ISC */
/*
 * I/O errors under a workload (tests/support/faultvfs.c): the Nth xWrite or
 * xSync fails once or for good. The batch it hits is refused, the store
 * turns read-only until it has recovered on its own, nothing acked is lost
 * or changed (also after a power loss that follows), nothing refused is
 * stored (unless the process crashes before the store recovered: then the
 * outcome is unknown and a retry is deduplicated), and the file passes
 * integrity_check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultvfs.h"
#include "storetest.h"

#define WAIT_MS	20000

struct fcase {
	unsigned	 index;
	int		 kind;		/* FAULTVFS_WRITE or _SYNC */
	uint64_t	 nth;		/* 0: no fault (calibration) */
	int		 permanent;
	int		 drop;		/* failed sync loses writes */
	int		 crash;		/* crash while still broken */
	uint64_t	 seed;
};

struct totals {
	unsigned	 cases, reached, permanent, drop, crashes;
	uint64_t	 faults, refused, io_errors, recoveries, retried;
	uint64_t	 failed_sends, phantoms;
	uint64_t	 writes, syncs;		/* of the last run */
	struct st_tally	 tally;
};

static unsigned nsends;

/* While the disk stays broken: read-only, appends refused at once. */
static void
check_broken(struct st_work *wk, const char *path)
{
	uint32_t i = wk->next < wk->nsends ? (uint32_t)wk->next : 0;
	struct st_tally t;

	if (!st_wait_stat(wk->base, wk->store, "read_only", 1, 1, WAIT_MS))
		st_die("%snot read-only on a broken disk", wk->where);
	wk->refused = 0;
	if (st_submit(wk, i, i == 0) != IRIS_ESTORE)
		st_die("%san append was taken while read-only", wk->where);
	if (st_stat(wk->store, "recoveries") != 0)
		st_die("%srecovered on a broken disk", wk->where);
	/* Reads go on: what was acked is there, what failed is not. */
	memset(&t, 0, sizeof(t));
	if (st_verify(wk, wk->store, path, &t) != 0)
		st_die("%sverification while read-only failed (above)",
		    wk->where);
}

/* The fault is noticed, then the store recovers by itself. */
static void
check_recovery(struct st_work *wk, const struct fcase *fc,
    const char *path)
{
	if (!st_wait_stat(wk->base, wk->store, "io_errors", 1, UINT64_MAX,
	    WAIT_MS))
		st_die("%san injected fault went unnoticed", wk->where);
	if (fc->permanent) {
		check_broken(wk, path);
		faultvfs_heal();
	}
	if (!st_wait_stat(wk->base, wk->store, "recoveries", 1, UINT64_MAX,
	    WAIT_MS) || !st_wait_stat(wk->base, wk->store, "read_only", 0, 0,
	    WAIT_MS))
		st_die("%sthe store did not recover: %s", wk->where,
		    st_last_error());
}

/*
 * A crash while the disk is broken (kill -9: the files stay as written),
 * then a restart on a sound disk. A send refused with an error may be
 * stored now: a commit whose fsync failed left its frames in the WAL.
 */
static void
crash_restart(struct st_work *wk, const struct fcase *fc, const char *path,
    struct totals *tot)
{
	struct st_tally t;

	check_broken(wk, path);
	tot->io_errors += st_stat(wk->store, "io_errors");
	iris_store_close(wk->store);
	faultvfs_reset();
	faultvfs_sync_fail_drops(fc->drop);
	if (st_open(&wk->store, wk->base, path, FAULTVFS_NAME, 2, 5) !=
	    IRIS_OK)
		st_die("%sreopening after a crash: %s", wk->where,
		    st_last_error());
	wk->strict = 0;
	memset(&t, 0, sizeof(t));
	if (st_verify(wk, wk->store, path, &t) != 0)
		st_die("%sverification after a crash failed (above)",
		    wk->where);
	tot->phantoms += t.unknown_stored;
	tot->crashes++;
}

/* Clients retry what failed, the rest of the workload follows. */
static void
finish_workload(struct st_work *wk)
{
	uint64_t errors = wk->cb_errors;

	wk->refused = 0;
	st_retry_unknown(wk);
	st_pump(wk);
	if (!run_until(wk->base, st_idle, wk, WAIT_MS) || wk->refused ||
	    wk->cb_errors != errors)
		st_die("%sappends failed after the recovery: %s", wk->where,
		    st_last_error());
}

static void
run_case(struct event_base *base, const struct fcase *fc,
    struct totals *tot)
{
	char path[64], where[128];
	struct faultvfs_stats open, fs;
	struct st_tally t;
	struct st_work wk;
	uint64_t rng = fc->seed;
	int rc;

	snprintf(path, sizeof(path), "io-%u.db", fc->index);
	snprintf(where, sizeof(where), "case %u (%s %s #%llu%s%s): ",
	    fc->index, fc->permanent ? "permanent" : "transient",
	    fc->kind == FAULTVFS_WRITE ? "write" : "sync",
	    (unsigned long long)fc->nth, fc->drop ? ", lost on failure" : "",
	    fc->crash ? ", crash" : "");
	st_remove_db(path);
	faultvfs_reset();
	faultvfs_sync_fail_drops(fc->drop);
	st_init(&wk, base, fc->seed, nsends, 16, 1500);
	wk.retries = 1;
	wk.strict = 1;
	wk.pace_ms = 1;
	wk.where = where;
	if ((rc = st_open(&wk.store, base, path, FAULTVFS_NAME, 2, 5)) !=
	    IRIS_OK)
		st_die("%sopen: %s", where, st_last_error());
	faultvfs_stats(&open);
	if (fc->nth != 0)
		faultvfs_fail_nth(fc->kind, fc->nth, fc->permanent);
	st_pump(&wk);
	if (!run_until(base, st_idle, &wk, WAIT_MS))
		st_die("%sthe workload did not finish", where);
	faultvfs_stats(&fs);
	tot->writes = fs.writes - open.writes;
	tot->syncs = fs.syncs - open.syncs;
	if (fs.faults > 0) {
		tot->reached++;
		tot->faults += fs.faults;
		if (fc->crash)
			crash_restart(&wk, fc, path, tot);
		else
			check_recovery(&wk, fc, path);
	} else {
		faultvfs_heal();	/* not reached: disarm */
		if (wk.cb_errors != 0 || st_stat(wk.store, "io_errors") != 0)
			st_die("%san error without a fault: %s", where,
			    st_last_error());
	}
	finish_workload(&wk);
	tot->retried += wk.retried;
	tot->failed_sends += wk.failed;
	memset(&t, 0, sizeof(t));
	if (st_verify(&wk, wk.store, path, &t) != 0)
		st_die("%sverification failed (above)", where);
	tot->refused += wk.cb_errors;
	tot->io_errors += st_stat(wk.store, "io_errors");
	tot->recoveries += st_stat(wk.store, "recoveries");
	iris_store_close(wk.store);

	/* A power loss now: everything acked must have been made durable. */
	if (faultvfs_powerloss((int)(rng & 1), &rng) < 0)
		st_die("%srolling back to the durable images failed", where);
	if ((rc = st_open(&wk.store, base, path, NULL, 10, 5)) != IRIS_OK)
		st_die("%sreopening after the power loss: %s", where,
		    st_last_error());
	if (st_verify(&wk, wk.store, path, &tot->tally) != 0)
		st_die("%sverification after a power loss failed (above)",
		    where);
	iris_store_close(wk.store);
	st_free(&wk);
	st_remove_db(path);
	tot->cases++;
	tot->permanent += fc->permanent;
	tot->drop += fc->drop;
}

int
main(void)
{
	uint64_t seed = st_seed("store_iofault"), rng = seed, t0, span;
	unsigned per = st_env_uint("IRIS_TEST_FAULT_POINTS", 40), i, k;
	struct event_base *base;
	struct totals tot;
	struct fcase fc;
	uint64_t total[2];

	nsends = st_env_uint("IRIS_TEST_SENDS", 120);
	st_watchdog(st_env_uint("IRIS_TEST_TIMEOUT", 300));
	if (faultvfs_register() != 0 || (base = event_base_new()) == NULL)
		st_die("setup");
	memset(&tot, 0, sizeof(tot));
	t0 = st_now_ms();

	/* Without a fault: how many writes and syncs the workload makes. */
	memset(&fc, 0, sizeof(fc));
	fc.seed = st_rand(&rng);
	run_case(base, &fc, &tot);
	total[0] = tot.writes;
	total[1] = tot.syncs;
	printf("store_iofault: %u sends make %llu writes and %llu syncs; %u "
	    "faults of each kind and mode over them\n", nsends,
	    (unsigned long long)total[0], (unsigned long long)total[1], per);
	for (k = 0; k < 4; k++)
		for (i = 1; i <= per; i++) {
			fc.index = k * per + i;
			fc.kind = k % 2 == 0 ? FAULTVFS_WRITE : FAULTVFS_SYNC;
			fc.permanent = k >= 2;
			fc.crash = fc.permanent && i % 2 == 1;
			fc.seed = st_rand(&rng);
			fc.drop = (int)(st_rand(&rng) % 2);
			span = total[k % 2] / per + 1;
			fc.nth = 1 + (i - 1) * total[k % 2] / per +
			    st_rand(&rng) % span;
			run_case(base, &fc, &tot);
		}
	printf("store_iofault: %u cases (%u permanent, %u of them crashing "
	    "before any recovery; %u losing the writes of a failed sync), %u "
	    "faults reached, %llu injected, %llu ms\n", tot.cases - 1,
	    tot.permanent, tot.crashes, tot.drop, tot.reached,
	    (unsigned long long)tot.faults,
	    (unsigned long long)(st_now_ms() - t0));
	printf("store_iofault: %llu appends refused, %llu I/O errors seen, "
	    "%llu recoveries, %llu retries; %llu refused sends (%llu of them "
	    "stored after a crash: outcome unknown, retries deduplicated); "
	    "%llu acked sends verified after a power loss (%llu envelopes)\n",
	    (unsigned long long)tot.refused,
	    (unsigned long long)tot.io_errors,
	    (unsigned long long)tot.recoveries,
	    (unsigned long long)tot.retried,
	    (unsigned long long)tot.failed_sends,
	    (unsigned long long)tot.phantoms,
	    (unsigned long long)tot.tally.acked_sends,
	    (unsigned long long)tot.tally.envelopes);
	if (tot.reached < tot.cases / 2 ||
	    tot.recoveries < tot.reached - tot.crashes)
		st_die("the sweep proved little (%u of %u faults reached, %llu "
		    "recoveries)", tot.reached, tot.cases,
		    (unsigned long long)tot.recoveries);
	event_base_free(base);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * Power loss at many points of a workload (tests/support/faultvfs.c): an
 * acked append is never lost, a send is stored whole or not at all and
 * once, seqs stay dense, and the file passes integrity_check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultvfs.h"
#include "storetest.h"

/* One crash point, and the totals over all of them. */
struct point {
	unsigned	 index;
	uint64_t	 die_at;	/* 0: no power loss before the close */
	int		 early;		/* close with callbacks due */
	int		 torn;		/* some unsynced pages kept */
	unsigned	 tick_ms;	/* checkpoint period */
	uint64_t	 seed;
};

struct totals {
	unsigned	 points, torn, early, open_failed, crashed;
	uint64_t	 failed, retried, close_max_ms, checkpoints, max_batch;
	struct st_tally	 tally;
};

static unsigned nsends;
static int early_close;

static int
done(void *arg)
{
	struct st_work *wk = arg;
	struct faultvfs_stats fs;

	if (st_idle(wk))
		return 1;
	faultvfs_stats(&fs);
	return fs.dead && early_close;
}

/* The workload through faultvfs until the disk dies at op die_at. */
static uint64_t
run_dying(struct st_work *wk, const struct point *pt, const char *path,
    struct totals *tot)
{
	struct faultvfs_stats fs;
	uint64_t t0;
	int rc;

	faultvfs_reset();
	faultvfs_die_at(pt->die_at);
	rc = st_open(&wk->store, wk->base, path, FAULTVFS_NAME,
	    pt->tick_ms, 5);
	if (rc != IRIS_OK) {
		faultvfs_stats(&fs);
		if (!fs.dead)
			st_die("%sopen failed with a sound disk: %s", wk->where,
			    st_last_error());
		tot->open_failed++;
		return fs.ops;
	}
	st_pump(wk);
	if (!run_until(wk->base, done, wk, 30000))
		st_die("%sthe workload did not finish (%d callbacks due)",
		    wk->where, wk->outstanding);
	faultvfs_stats(&fs);
	if (wk->cb_errors > 0 && st_stat(wk->store, "read_only") != 1)
		st_die("%sa commit failed and the store is not read-only",
		    wk->where);
	evtimer_del(wk->pacer);
	tot->checkpoints += st_stat(wk->store, "checkpoints");
	if (st_stat(wk->store, "max_batch") > tot->max_batch)
		tot->max_batch = st_stat(wk->store, "max_batch");
	t0 = st_now_ms();
	iris_store_close(wk->store);
	wk->store = NULL;
	if (st_now_ms() - t0 > tot->close_max_ms)
		tot->close_max_ms = st_now_ms() - t0;
	tot->crashed += fs.dead;
	return fs.ops;
}

/* Reopens on the plain VFS and checks; retries the unknown; checks again. */
static void
check_after(struct st_work *wk, const char *path, struct totals *tot)
{
	struct st_tally again;
	uint64_t errors, before;
	int rc;

	if ((rc = st_open(&wk->store, wk->base, path, NULL, 10, 5)) != IRIS_OK)
		st_die("%sreopening after the power loss: %s: %s", wk->where,
		    iris_strerror(rc), st_last_error());
	if (st_verify(wk, wk->store, path, &tot->tally) != 0)
		st_die("%sverification failed (above)", wk->where);
	/* Clients retry what they do not know; a few new sends follow. */
	wk->refused = 0;
	wk->outstanding = 0;
	wk->strict = 0;
	if (wk->nsends > wk->next + 8)
		wk->nsends = wk->next + 8;
	before = wk->retried;
	errors = wk->cb_errors;
	st_retry_unknown(wk);
	st_pump(wk);
	if (!run_until(wk->base, st_idle, wk, 30000) || wk->refused ||
	    wk->cb_errors != errors)
		st_die("%sappends after the power loss failed (%d due, %llu "
		    "errors, %s)", wk->where, wk->outstanding,
		    (unsigned long long)(wk->cb_errors - errors),
		    wk->refused ? "refused" : "not refused");
	tot->retried += wk->retried - before;
	memset(&again, 0, sizeof(again));
	if (st_verify(wk, wk->store, path, &again) != 0)
		st_die("%sverification after the retries failed (above)",
		    wk->where);
	if (again.unknown_stored + again.unknown_absent != 0)
		st_die("%sa retried send has no outcome", wk->where);
	iris_store_close(wk->store);
	wk->store = NULL;
}

static uint64_t
run_point(struct event_base *base, const struct point *pt,
    struct totals *tot)
{
	char path[64], where[96];
	struct st_work wk;
	uint64_t ops, rng = pt->seed;

	snprintf(path, sizeof(path), "pl-%u.db", pt->index);
	snprintf(where, sizeof(where), "crash point %u (die at op %llu%s): ",
	    pt->index, (unsigned long long)pt->die_at,
	    pt->early ? ", early close" : "");
	early_close = pt->early;
	st_remove_db(path);
	st_init(&wk, base, pt->seed, nsends, 16, 1500);
	wk.retries = 1;
	wk.pace_ms = 1;
	wk.where = where;
	ops = run_dying(&wk, pt, path, tot);
	if (faultvfs_powerloss(pt->torn, &rng) < 0)
		st_die("%srolling back to the durable images failed", where);
	tot->failed += wk.failed;
	check_after(&wk, path, tot);
	tot->points++;
	tot->torn += pt->torn;
	tot->early += pt->early;
	st_free(&wk);
	st_remove_db(path);
	return ops;
}

int
main(void)
{
	uint64_t seed = st_seed("store_powerloss"), rng = seed, ops, t0;
	unsigned points = st_env_uint("IRIS_TEST_CRASH_POINTS", 300), i;
	struct event_base *base;
	struct totals tot;
	struct point pt;

	nsends = st_env_uint("IRIS_TEST_SENDS", 200);
	st_watchdog(st_env_uint("IRIS_TEST_TIMEOUT", 300));
	if (faultvfs_register() != 0 || (base = event_base_new()) == NULL)
		st_die("setup");
	memset(&tot, 0, sizeof(tot));
	t0 = st_now_ms();

	/* The workload once without a fault: how many operations it makes. */
	memset(&pt, 0, sizeof(pt));
	pt.seed = st_rand(&rng);
	pt.tick_ms = 2;
	ops = run_point(base, &pt, &tot);
	printf("store_powerloss: %u sends, %llu file operations without a "
	    "fault; %u crash points over them\n", nsends,
	    (unsigned long long)ops, points);
	for (i = 1; i <= points; i++) {
		pt.index = i;
		pt.seed = st_rand(&rng);
		pt.die_at = 1 + (uint64_t)(i - 1) * ops / points +
		    st_rand(&rng) % (ops / points + 1);
		pt.torn = i % 2;
		pt.early = i % 5 == 0;
		pt.tick_ms = 1 + (unsigned)(st_rand(&rng) % 4);
		run_point(base, &pt, &tot);
	}
	printf("store_powerloss: %u crash points and a run without a fault "
	    "(%u disk deaths, %u during open, %u torn, %u closed with appends "
	    "in flight), %llu ms\n", tot.points - 1, tot.crashed,
	    tot.open_failed, tot.torn, tot.early,
	    (unsigned long long)(st_now_ms() - t0));
	printf("store_powerloss: %llu acked appends verified (%llu "
	    "envelopes), %llu failed, unknown outcome: %llu stored + %llu "
	    "absent; %llu retries deduplicated or stored once; %llu "
	    "checkpoints; up to %llu appends per commit; slowest close "
	    "%llu ms\n",
	    (unsigned long long)tot.tally.acked_sends,
	    (unsigned long long)tot.tally.envelopes,
	    (unsigned long long)tot.failed,
	    (unsigned long long)tot.tally.unknown_stored,
	    (unsigned long long)tot.tally.unknown_absent,
	    (unsigned long long)tot.retried,
	    (unsigned long long)tot.checkpoints,
	    (unsigned long long)tot.max_batch,
	    (unsigned long long)tot.close_max_ms);
	if (tot.tally.acked_sends == 0 || tot.crashed < points / 2)
		st_die("the sweep proved nothing (%llu acked, %u deaths)",
		    (unsigned long long)tot.tally.acked_sends, tot.crashed);
	event_base_free(base);
	return 0;
}

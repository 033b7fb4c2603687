/* SPDX-License-Identifier: ISC */
/*
 * The writer thread alone, with fake transactions: every completion
 * crosses back to the loop (100 000 of them, counted), the queue bound
 * holds, a failed commit fails its whole batch, and the worker can be freed
 * from inside a completion.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "store/worker.h"
#include "util/alloc.h"
#include "loop.h"
#include "suites.h"

struct fake {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 hold;		/* exec waits while set */
	int		 fail_commit;	/* next commit fails */
	int		 released;
	unsigned long	 commits;
	unsigned long	 done;
	unsigned long	 failed;
	unsigned long	 dropped;
	struct iris_worker *w;
	int		 free_in_done;
};

struct tjob {
	struct iris_job	 job;
	struct fake	*f;
	unsigned long	 n;
};

static int
f_begin(void *ctx)
{
	(void)ctx;
	return IRIS_OK;
}

static int
f_commit(void *ctx)
{
	struct fake *f = ctx;
	int rc = IRIS_OK;

	pthread_mutex_lock(&f->mu);
	if (f->fail_commit) {
		f->fail_commit = 0;
		rc = IRIS_ESTORE;
	} else
		f->commits++;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void
f_rollback(void *ctx)
{
	(void)ctx;
}

static void
f_tick(void *ctx)
{
	(void)ctx;
}

static int
f_writable(void *ctx)
{
	(void)ctx;
	return IRIS_OK;
}

static void
f_release(void *ctx)
{
	struct fake *f = ctx;

	f->released = 1;
}

static const struct iris_worker_ops fops = {
	f_begin, f_commit, f_rollback, f_tick, f_writable, f_release,
};

static int
j_exec(struct iris_job *job, void *ctx)
{
	struct fake *f = ctx;

	(void)job;
	pthread_mutex_lock(&f->mu);
	while (f->hold)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return IRIS_OK;
}

static void
j_done(struct iris_job *job, int deliver)
{
	struct tjob *t = (struct tjob *)job;
	struct fake *f = t->f;

	if (!deliver)
		f->dropped++;
	else if (job->rc == IRIS_OK)
		f->done++;
	else
		f->failed++;
	free(t);
	if (deliver && f->free_in_done) {
		f->free_in_done = 0;
		iris__worker_free(f->w);
	}
}

static const struct iris_job_ops jops = { j_exec, j_done };

static struct iris_job *
new_job(struct fake *f, unsigned long n)
{
	struct tjob *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	t->job.ops = &jops;
	t->job.bytes = 100;
	t->f = f;
	t->n = n;
	return &t->job;
}

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
}

static void
set_hold(struct fake *f, int hold)
{
	pthread_mutex_lock(&f->mu);
	f->hold = hold;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

struct want {
	struct fake	*f;
	unsigned long	 n;
};

static int
all_done(void *arg)
{
	struct want *w = arg;

	return w->f->done + w->f->failed >= w->n;
}

START_TEST(test_worker_100k_completions)
{
	struct iris_worker_limits lim = { 1000, 1 << 20, 256, 100 };
	struct event_base *base = event_base_new();
	struct fake f;
	struct want w = { &f, 100000 };
	unsigned long sent = 0;
	int rc;

	fake_init(&f);
	ck_assert_int_eq(iris__worker_start(&f.w, base, &fops, &f, &lim),
	    IRIS_OK);
	while (sent < w.n) {
		struct iris_job *job = new_job(&f, sent);

		rc = iris__worker_submit(f.w, job);
		if (rc == IRIS_EAGAIN) {
			/* Full: let completions drain, then go on. */
			free(job);
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
			continue;
		}
		ck_assert_int_eq(rc, IRIS_OK);
		sent++;
	}
	ck_assert(run_until(base, all_done, &w, 20000));
	ck_assert_uint_eq(f.done, 100000);
	ck_assert_uint_eq(f.failed, 0);
	/* Group commit: far fewer commits than jobs. */
	ck_assert_uint_lt(f.commits, 100000);
	iris__worker_free(f.w);
	ck_assert(f.released);
	event_base_free(base);
}
END_TEST

START_TEST(test_worker_queue_bound)
{
	struct iris_worker_limits lim = { 4, 1 << 20, 1, 100 };
	struct event_base *base = event_base_new();
	struct iris_job *extra;
	struct fake f;
	struct want w = { &f, 5 };
	int i;

	fake_init(&f);
	set_hold(&f, 1);
	ck_assert_int_eq(iris__worker_start(&f.w, base, &fops, &f, &lim),
	    IRIS_OK);
	/* One job is taken by the (held) thread, four wait: the queue is
	 * full at four, whenever the thread took the first. */
	ck_assert_int_eq(iris__worker_submit(f.w, new_job(&f, 0)), IRIS_OK);
	for (i = 1; i <= 4; i++) {
		struct iris_job *job = new_job(&f, (unsigned long)i);
		int rc;

		while ((rc = iris__worker_submit(f.w, job)) == IRIS_EAGAIN)
			;	/* the thread has not taken job 0 yet */
		ck_assert_int_eq(rc, IRIS_OK);
	}
	extra = new_job(&f, 99);
	ck_assert_int_eq(iris__worker_submit(f.w, extra), IRIS_EAGAIN);
	free(extra);
	set_hold(&f, 0);
	ck_assert(run_until(base, all_done, &w, 5000));
	ck_assert_uint_eq(f.done, 5);
	iris__worker_free(f.w);
	event_base_free(base);
}
END_TEST

START_TEST(test_worker_failed_commit_fails_batch)
{
	struct iris_worker_limits lim = { 100, 1 << 20, 100, 100 };
	struct event_base *base = event_base_new();
	struct fake f;
	struct want w = { &f, 10 };
	int i;

	fake_init(&f);
	set_hold(&f, 1);
	f.fail_commit = 1;
	ck_assert_int_eq(iris__worker_start(&f.w, base, &fops, &f, &lim),
	    IRIS_OK);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(iris__worker_submit(f.w,
		    new_job(&f, (unsigned long)i)), IRIS_OK);
	set_hold(&f, 0);
	ck_assert(run_until(base, all_done, &w, 5000));
	/* The first batch failed as a whole; nothing in it succeeded. */
	ck_assert_uint_gt(f.failed, 0);
	ck_assert_uint_eq(f.done + f.failed, 10);
	iris__worker_free(f.w);
	event_base_free(base);
}
END_TEST

START_TEST(test_worker_free_inside_done)
{
	struct iris_worker_limits lim = { 100, 1 << 20, 100, 100 };
	struct event_base *base = event_base_new();
	struct fake f;
	struct want w = { &f, 1 };
	int i;

	fake_init(&f);
	set_hold(&f, 1);
	ck_assert_int_eq(iris__worker_start(&f.w, base, &fops, &f, &lim),
	    IRIS_OK);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(iris__worker_submit(f.w,
		    new_job(&f, (unsigned long)i)), IRIS_OK);
	f.free_in_done = 1;
	set_hold(&f, 0);
	ck_assert(run_until(base, all_done, &w, 5000));
	/* Freed in the first completion: the rest are dropped, not lost
	 * in memory (ASan checks), and not delivered. */
	ck_assert(f.released);
	ck_assert_uint_eq(f.done, 1);
	ck_assert_uint_eq(f.done + f.dropped, 20);
	event_base_free(base);
}
END_TEST

Suite *
suite_worker(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("thread");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_worker_100k_completions);
	tcase_add_test(tc, test_worker_queue_bound);
	tcase_add_test(tc, test_worker_failed_commit_fails_batch);
	tcase_add_test(tc, test_worker_free_inside_done);
	suite_add_tcase(s, tc);
	return s;
}

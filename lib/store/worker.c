/* SPDX-License-Identifier: ISC */
/*
 * The writer thread: batches of queued jobs, one transaction and one
 * durable commit per batch, results handed back to the loop through an
 * eventfd and a locked list.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "iris.h"
#include "store/worker.h"
#include "util/alloc.h"

const uint64_t iris__lat_bounds_us[IRIS_LAT_BUCKETS - 1] = {
	250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000,
	1000000,
};

struct jobq {
	struct iris_job		*head;
	struct iris_job		*tail;
};

struct iris_worker {
	const struct iris_worker_ops *ops;
	void			*ctx;
	struct iris_worker_limits lim;

	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct jobq		 queue;		/* submitted, not yet run */
	size_t			 nqueued;
	size_t			 queued_bytes;
	struct jobq		 finished;	/* run, not yet delivered */
	int			 stopping;
	int			 tick_asap;	/* iris__worker_tick_now() */
	struct iris_worker_stats st;

	/* Writer thread only: when the next tick is due. */
	uint64_t		 next_tick;
	unsigned		 tick_in_ms;	/* asked by this tick */
	int			 tick_idle;	/* and at once when idle */

	/* Loop side. */
	int			 efd;
	struct event		*ev;
	int			 dispatching;
	int			 closing;
};

/* A condition variable whose timed waits run on CLOCK_MONOTONIC: 0 or -1. */
int
iris__worker_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return rc == 0 ? 0 : -1;
}

static void
q_push(struct jobq *q, struct iris_job *job)
{
	job->next = NULL;
	if (q->tail != NULL)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
}

static void
q_append(struct jobq *q, struct jobq *more)
{
	if (more->head == NULL)
		return;
	if (q->tail != NULL)
		q->tail->next = more->head;
	else
		q->head = more->head;
	q->tail = more->tail;
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

/* Runs one batch; every job leaves with its rc set. */
static void
run_batch(struct iris_worker *w, struct jobq *batch, size_t n)
{
	struct iris_job *job;
	uint64_t t0 = mono_us(), us;
	size_t b;
	int rc;

	rc = w->ops->writable(w->ctx);
	if (rc == IRIS_OK)
		rc = w->ops->begin(w->ctx);
	if (rc == IRIS_OK) {
		for (job = batch->head; job != NULL; job = job->next) {
			job->rc = IRIS_OK;
			if ((rc = job->ops->exec(job, w->ctx)) != IRIS_OK)
				break;
		}
		if (rc == IRIS_OK)
			rc = w->ops->commit(w->ctx);
		if (rc != IRIS_OK)
			w->ops->rollback(w->ctx);
	}
	pthread_mutex_lock(&w->mu);
	if (rc != IRIS_OK) {
		/* Outcome unknown or refused: nothing of it is acked. */
		for (job = batch->head; job != NULL; job = job->next)
			job->rc = rc;
		w->st.failed_batches++;
	} else {
		w->st.batches++;
		w->st.jobs += n;
		if (n > w->st.max_batch)
			w->st.max_batch = n;
		/* Transaction and fsync: what an ack waits for. */
		us = mono_us() - t0;
		for (b = 0; b < IRIS_LAT_BUCKETS - 1 &&
		    us > iris__lat_bounds_us[b]; b++)
			;
		w->st.lat[b]++;
		w->st.lat_sum_us += us;
	}
	q_append(&w->finished, batch);
	pthread_mutex_unlock(&w->mu);
}

static void
wake_loop(struct iris_worker *w)
{
	uint64_t one = 1;

	/* The counter cannot overflow before the loop reads it. */
	while (write(w->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Maintenance: it may ask for the next one sooner (iris__worker_tick_in). */
static void
run_tick(struct iris_worker *w)
{
	w->tick_in_ms = w->lim.tick_ms;
	w->tick_idle = 0;
	w->ops->tick(w->ctx);
	w->next_tick = mono_ms() + w->tick_in_ms;
}

/* Waits on the condition until the next tick is due (mu held). */
static void
wait_tick(struct iris_worker *w)
{
	struct timespec ts;
	uint64_t now = mono_ms(), ms;

	ms = w->next_tick > now ? w->next_tick - now : 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

static void *
writer_main(void *arg)
{
	struct iris_worker *w = arg;
	struct jobq batch;
	size_t n;
	int asap;

	w->next_tick = mono_ms() + w->lim.tick_ms;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->queue.head == NULL && !w->stopping) {
			if (w->tick_asap || w->tick_idle ||
			    mono_ms() >= w->next_tick) {
				w->tick_asap = 0;
				pthread_mutex_unlock(&w->mu);
				run_tick(w);
				pthread_mutex_lock(&w->mu);
			} else
				wait_tick(w);
		}
		if (w->queue.head == NULL)
			break;		/* stopping, and nothing left */
		batch.head = w->queue.head;
		for (n = 1, batch.tail = batch.head; n < w->lim.max_batch &&
		    batch.tail->next != NULL; n++)
			batch.tail = batch.tail->next;
		w->queue.head = batch.tail->next;
		if (w->queue.head == NULL)
			w->queue.tail = NULL;
		batch.tail->next = NULL;
		for (struct iris_job *j = batch.head; j != NULL; j = j->next)
			w->queued_bytes -= j->bytes;
		w->nqueued -= n;
		pthread_mutex_unlock(&w->mu);

		run_batch(w, &batch, n);
		wake_loop(w);
		pthread_mutex_lock(&w->mu);
		asap = w->tick_asap;
		w->tick_asap = 0;
		pthread_mutex_unlock(&w->mu);
		if (asap || mono_ms() >= w->next_tick)
			run_tick(w);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

void
iris__worker_tick_in(struct iris_worker *w, unsigned ms, int when_idle)
{
	if (ms < w->tick_in_ms)
		w->tick_in_ms = ms;
	if (when_idle)
		w->tick_idle = 1;
}

void
iris__worker_tick_now(struct iris_worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->tick_asap = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void
destroy(struct iris_worker *w)
{
	struct iris_job *job, *next;

	for (job = w->finished.head; job != NULL; job = next) {
		next = job->next;
		job->ops->done(job, 0);
	}
	event_free(w->ev);
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	w->ops->release(w->ctx);
	iris__free(w);
}

/* On the loop: deliver what the thread finished, in order. */
static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct iris_worker *w = arg;
	struct iris_job *job, *next;
	uint64_t count;
	ssize_t rc;

	(void)what;
	do
		rc = read(fd, &count, sizeof(count));
	while (rc < 0 && errno == EINTR);
	pthread_mutex_lock(&w->mu);
	job = w->finished.head;
	w->finished.head = w->finished.tail = NULL;
	pthread_mutex_unlock(&w->mu);

	w->dispatching = 1;
	for (; job != NULL; job = next) {
		next = job->next;
		job->ops->done(job, !w->closing);
	}
	w->dispatching = 0;
	if (w->closing)
		destroy(w);
}

int
iris__worker_start(struct iris_worker **wp, struct event_base *base,
    const struct iris_worker_ops *ops, void *ctx,
    const struct iris_worker_limits *lim)
{
	struct iris_worker *w;
	int stage = 0;

	*wp = NULL;
	if ((w = iris__calloc(1, sizeof(*w))) == NULL)
		return IRIS_ENOMEM;
	w->ops = ops;
	w->ctx = ctx;
	w->lim = *lim;
	if (w->lim.max_batch == 0)
		w->lim.max_batch = 1;
	if (w->lim.tick_ms == 0)
		w->lim.tick_ms = 1000;
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		goto fail;
	stage = 1;
	if ((w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_ready,
	    w)) == NULL || event_add(w->ev, NULL) != 0)
		goto fail;
	stage = 2;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto fail;
	stage = 3;
	if (iris__worker_cond_init(&w->cv) != 0)
		goto fail;
	stage = 4;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
		goto fail;
	*wp = w;
	return IRIS_OK;
fail:
	if (stage >= 4)
		pthread_cond_destroy(&w->cv);
	if (stage >= 3)
		pthread_mutex_destroy(&w->mu);
	if (w->ev != NULL)
		event_free(w->ev);
	if (stage >= 1)
		close(w->efd);
	iris__free(w);
	return IRIS_ENOMEM;
}

int
iris__worker_submit(struct iris_worker *w, struct iris_job *job)
{
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		return IRIS_ESHUTDOWN;
	}
	if (w->nqueued >= w->lim.max_jobs ||
	    (w->queued_bytes + job->bytes > w->lim.max_bytes &&
	    w->nqueued > 0)) {
		pthread_mutex_unlock(&w->mu);
		return IRIS_EAGAIN;
	}
	q_push(&w->queue, job);
	w->nqueued++;
	w->queued_bytes += job->bytes;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return IRIS_OK;
}

void
iris__worker_post(struct iris_worker *w, struct iris_job *job)
{
	struct jobq one = { job, job };

	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	q_append(&w->finished, &one);
	pthread_mutex_unlock(&w->mu);
	wake_loop(w);
}

void
iris__worker_free(struct iris_worker *w)
{
	if (w == NULL || w->closing)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->closing = 1;
	if (!w->dispatching)
		destroy(w);
}

void
iris__worker_stats(struct iris_worker *w, struct iris_worker_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	st->queued = w->nqueued;
	pthread_mutex_unlock(&w->mu);
}

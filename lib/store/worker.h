/* SPDX-License-Identifier: ISC */
/*
 * A writer thread with group commit. Jobs queued from the loop run on the
 * thread in batches, one transaction per batch: everything queued while a
 * commit runs goes into the next one, and one durable commit finishes the
 * whole batch. Results cross back to the loop through an eventfd read by
 * an ordinary event on the embedder's event_base plus a locked list (never
 * event_active() from the thread, which loses wake-ups without libevent's
 * global thread setup). The store and the client store both run on it.
 */
#ifndef IRIS_STORE_WORKER_H
#define IRIS_STORE_WORKER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct iris_worker;
struct iris_job;

struct iris_job_ops {
	/*
	 * Runs on the writer thread inside the batch's transaction. Sets
	 * job->rc for a refusal that leaves the transaction usable (the
	 * job's writes are skipped, the batch goes on); returns non-zero
	 * when the transaction itself failed, which fails the whole batch.
	 */
	int	(*exec)(struct iris_job *job, void *ctx);
	/*
	 * Runs on the loop: report job->rc (deliver != 0) or just free the
	 * job (deliver == 0: the owner is closing).
	 */
	void	(*done)(struct iris_job *job, int deliver);
};

struct iris_job {
	struct iris_job		*next;
	const struct iris_job_ops *ops;
	size_t			 bytes;		/* counted against the queue cap */
	int			 rc;
};

struct iris_worker_ops {
	int	(*begin)(void *ctx);
	int	(*commit)(void *ctx);		/* IRIS_OK: durable */
	void	(*rollback)(void *ctx);
	/*
	 * Between batches, at least every tick_ms: maintenance, in short
	 * steps (a tick holds up the batches behind it).
	 */
	void	(*tick)(void *ctx);
	/* IRIS_OK, or the code with which a batch is refused unrun. */
	int	(*writable)(void *ctx);
	/* The worker is gone: the owner may free what the jobs used. */
	void	(*release)(void *ctx);
};

struct iris_worker_limits {
	size_t		 max_jobs;	/* queued, not yet run */
	size_t		 max_bytes;
	size_t		 max_batch;	/* jobs per transaction */
	unsigned	 tick_ms;
};

int	 iris__worker_start(struct iris_worker **wp, struct event_base *base,
	    const struct iris_worker_ops *ops, void *ctx,
	    const struct iris_worker_limits *lim);
/* IRIS_OK (the job's done() will run on the loop), or IRIS_EAGAIN when
 * the queue is full and IRIS_ESHUTDOWN when stopping (the job is not
 * taken: the caller still owns it). */
int	 iris__worker_submit(struct iris_worker *w, struct iris_job *job);
/*
 * Hands a job straight to the loop (its done() runs there, its exec never
 * does): the writer thread uses it for what must happen on the loop, such
 * as log lines. Any thread; never fails.
 */
void	 iris__worker_post(struct iris_worker *w, struct iris_job *job);
/*
 * Stops the thread after it has run what is queued, drops undelivered
 * results, and frees the worker, calling ops->release; when called from
 * inside a done() callback, the free happens once that dispatch ends.
 */
void	 iris__worker_free(struct iris_worker *w);

/*
 * From inside tick, on the writer thread: run the next tick within ms
 * (at most tick_ms) and, with when_idle set, as soon as no job waits.
 */
void	 iris__worker_tick_in(struct iris_worker *w, unsigned ms,
	    int when_idle);
/* Any thread: run a tick after the batch that runs now, or at once. */
void	 iris__worker_tick_now(struct iris_worker *w);

/* Commit latency histogram: upper bounds in µs (the last is +Inf). */
#define IRIS_LAT_BUCKETS	12
extern const uint64_t iris__lat_bounds_us[IRIS_LAT_BUCKETS - 1];

/* Counters, read on the loop. */
struct iris_worker_stats {
	uint64_t	 lat[IRIS_LAT_BUCKETS];	/* commits per bucket */
	uint64_t	 lat_sum_us;
	uint64_t	 batches;	/* committed transactions */
	uint64_t	 jobs;		/* jobs run */
	uint64_t	 failed_batches;
	uint64_t	 max_batch;	/* most jobs seen in one batch */
	uint64_t	 queued;	/* jobs waiting now */
};
void	 iris__worker_stats(struct iris_worker *w,
	    struct iris_worker_stats *st);

/* A condition variable whose timed waits run on CLOCK_MONOTONIC: 0 or -1
 * (the writer's and the checkpointer's). */
int	 iris__worker_cond_init(pthread_cond_t *cv);

#endif /* IRIS_STORE_WORKER_H */

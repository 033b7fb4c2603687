/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by system tests and benchmarks: clocks, printed seeds,
 * deterministic bytes, percentiles, bounded event loop runs, scratch
 * directories.
 */
#ifndef IRIS_TESTS_BENCHUTIL_H
#define IRIS_TESTS_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "evloop.h"

struct event_base;
struct iris_store;
struct iris_send;

/* CLOCK_MONOTONIC in nanoseconds and milliseconds. */
uint64_t bu_now_ns(void);
uint64_t bu_now_ms(void);

/*
 * The run's seed: IRIS_TEST_SEED when set (decimal or 0x hex), else one
 * from the clock and the pid. The caller prints it.
 */
uint64_t bu_seed(void);
/* An unsigned from the environment, or def when unset or malformed. */
unsigned long bu_env_ulong(const char *name, unsigned long def);

/* splitmix64: a mixing function and a generator step. */
uint64_t bu_mix(uint64_t x);
uint64_t bu_rand(uint64_t *state);
/* Uniform in [0, n), n > 0. */
uint64_t bu_uniform(uint64_t *state, uint64_t n);

/* len pseudo-random bytes that depend only on key. */
void	 bu_fill(void *buf, size_t len, uint64_t key);
/* 64-bit FNV-1a. */
uint64_t bu_fnv64(const void *buf, size_t len);

/* Sorts v ascending; bu_pct() reads a percentile (0..100) from it. */
void	 bu_sort_u64(uint64_t *v, size_t n);
uint64_t bu_pct(const uint64_t *sorted, size_t n, double pct);


/*
 * A fresh directory "<parent>/<tag>.XXXXXX" (malloc'd), and the removal
 * of a flat directory with its files.
 */
char	*bu_mkdtemp(const char *parent, const char *tag);
int	 bu_rm_rf(const char *path);

/*
 * A map from uint64_t keys to fixed-size values (zeroed when created), by
 * open addressing; pointers into it stay valid until the next create.
 */
struct bu_map {
	uint64_t	*keys;		/* key + 1; 0: free slot */
	uint8_t		*vals;
	size_t		 vsize;
	size_t		 cap;
	size_t		 count;
};
void	 bu_map_init(struct bu_map *m, size_t vsize);
void	*bu_map_get(struct bu_map *m, uint64_t key, int create);
/* Iteration: *pos starts at 0; NULL at the end. */
void	*bu_map_next(const struct bu_map *m, size_t *pos, uint64_t *key);
void	 bu_map_free(struct bu_map *m);

/*
 * How many threads of pid, other than its main thread, are inside one of
 * the n system calls in nrs right now (racy by nature; -1: unreadable).
 */
int	 bu_threads_in(int pid, const long *nrs, size_t n);

/*
 * A child process that reports fixed-size records (at most PIPE_BUF
 * bytes, so each write(2) is atomic) on a pipe, for crash tests.
 */
typedef void (*bu_rec_cb)(const void *rec, void *arg);
struct bu_child {
	int		 pid;
	int		 fd;
	size_t		 recsize;
	size_t		 have;
	uint8_t		 buf[8192];
};
/* Forks; the child runs fn(write_fd, arg), which must not return. */
int	 bu_child_start(struct bu_child *c, size_t recsize,
	    void (*fn)(int fd, void *arg), void *arg);
/* Waits up to timeout_ms, passes whole records to cb: 0 at end of file. */
int	 bu_child_poll(struct bu_child *c, int timeout_ms, bu_rec_cb cb,
	    void *arg);
/* SIGKILL (harmless if it has exited), drain what it wrote, reap it:
 * returns its wait status, or -1 when a record was torn. */
int	 bu_child_kill(struct bu_child *c, bu_rec_cb cb, void *arg);
/* A record from the child's side; _exit(4) when the pipe is gone. */
void	 bu_child_put(int fd, const void *rec, size_t recsize);

/*
 * Appends n sends at once (each is consumed) and runs the loop until every
 * callback has come: res[i] is the outcome of sends[i]. Returns 0, or -1
 * when an append was refused at once (its res[i].rc says why) or the
 * callbacks did not all come within timeout_ms.
 */
#define BU_MAX_SEQS	8
struct bu_ack {
	int		 done, rc, dup;
	uint64_t	 msg_id;
	uint64_t	 seq[BU_MAX_SEQS];
	size_t		 n;
};
int	 bu_append_wait(struct event_base *base, struct iris_store *st,
	    struct iris_send **sends, struct bu_ack *res, size_t n,
	    unsigned timeout_ms);

/*
 * The fsync floor of the file system under dir: 512-byte writes, each
 * followed by fdatasync, for secs seconds, appending (the file grows, as
 * a new WAL does) or overwriting in place (as a reset WAL does, which is
 * cheaper: no size change to sync). Returns 0, or -1 (reason printed).
 */
int	 bu_fsync_rate(const char *dir, int overwrite, double secs,
	    double *per_s, double *p50_us, double *p99_us);

#endif /* IRIS_TESTS_BENCHUTIL_H */

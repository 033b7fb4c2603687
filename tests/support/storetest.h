/* SPDX-License-Identifier: ISC */
/* Store system tests: a seeded workload of sends, its model, a verifier. */
#ifndef IRIS_TESTS_STORETEST_H
#define IRIS_TESTS_STORETEST_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "evloop.h"

#include "iris.h"
#include "iris_store.h"

#define ST_BOXES	6	/* recipient inboxes (user, device) */
#define ST_TARGETS	4	/* most envelopes in one send */

/* What the test knows of a send: the outcome its callbacks reported. */
enum { ST_UNSENT, ST_PENDING, ST_ACKED, ST_FAILED };

struct st_send {
	int		 state;
	int		 n;			/* envelopes */
	int		 box[ST_TARGETS];	/* their inboxes */
	uint64_t	 msg_id;		/* when acked */
	uint64_t	 seqs[ST_TARGETS];
};

struct st_work;
struct st_call {			/* one iris_store_append() or ack */
	struct st_work	*wk;
	uint32_t	 send;		/* or the inbox, for an ack */
	int		 retry;		/* ack: one is in flight */
};

struct st_work {
	struct event_base *base;
	struct iris_store *store;
	uint64_t	 seed, rng;
	size_t		 env_min, env_max;	/* envelope sizes */
	uint8_t		*buf;			/* one envelope */
	struct st_send	*sends;
	size_t		 nsends;	/* planned */
	size_t		 next;		/* first send never taken */
	struct st_call	*calls;
	size_t		 ncalls, maxcalls;
	struct st_call	 ackcall[ST_BOXES];
	uint64_t	 cursor[ST_BOXES];	/* durable acks reported */
	uint64_t	 head[ST_BOXES];	/* highest acked seq */
	int		 outstanding;		/* callbacks to come */
	int		 refused;	/* an append said IRIS_ESTORE */
	int		 strict;	/* no failed send may be stored */
	int		 retries;	/* resend sends now and then */
	unsigned	 pace_ms;	/* wait between bursts (0: none) */
	struct event	*pacer;
	/* Counters. */
	uint64_t	 acked, failed, dups, phantoms, cb_errors, retried;
	int		 first_error;	/* first negative result */
	char		 violation[256];	/* first broken promise */
	const char	*where;		/* context for messages */
};

/* Result of st_verify(). */
struct st_tally {
	uint64_t	 acked_sends;	/* acked sends found whole */
	uint64_t	 envelopes;	/* envelopes compared */
	uint64_t	 unknown_stored;	/* failed or pending, stored */
	uint64_t	 unknown_absent;
};

/* The seed (IRIS_TEST_SEED or the clock), printed with the program name. */
uint64_t st_seed(const char *prog);
unsigned st_env_uint(const char *name, unsigned def);
uint64_t st_rand(uint64_t *state);
uint64_t st_now_ms(void);
/* Prints "prog: FAIL: ..." and exits 1. */
void	 st_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
/* Kills the program with a message if it runs past seconds. */
void	 st_watchdog(unsigned seconds);

/* A store with test options and a quiet logger (IRIS_TEST_VERBOSE=1). */
int	 st_open(struct iris_store **sp, struct event_base *base,
	    const char *path, const char *vfs, unsigned tick_ms,
	    unsigned recover_ms);
/* The last log line at IRIS_LOG_ERR or worse. */
const char *st_last_error(void);
uint64_t st_stat(struct iris_store *s, const char *name);
/* Runs the loop until lo <= stat name of s <= hi; 1 if it got there. */
int	 st_wait_stat(struct event_base *base, struct iris_store *s,
	    const char *name, uint64_t lo, uint64_t hi, unsigned timeout_ms);

void	 st_init(struct st_work *wk, struct event_base *base, uint64_t seed,
	    size_t nsends, size_t env_min, size_t env_max);
void	 st_free(struct st_work *wk);
/* Appends send i (a retry if retry is set): IRIS_OK or the refusal. */
int	 st_submit(struct st_work *wk, uint32_t i, int retry);
/* Submits sends (and retries) up to a random window of 1..16 in flight. */
void	 st_pump(struct st_work *wk);
/* Everything submitted has reported, and no more can be submitted. */
int	 st_idle(void *wk);
/* Resends every send whose outcome is unknown (and a few acked ones). */
void	 st_retry_unknown(struct st_work *wk);
/*
 * Checks the file at path (integrity_check, row counts) and, through the
 * store s opened on it, every inbox against the model: seqs dense from 1;
 * each message sent to that inbox, with its bytes, sender and class; no
 * send stored twice; a send whole or absent; each acked send at its acked
 * seqs with its msg id; cursors not behind their acks; one dedup record
 * per stored send; with wk->strict, no failed send stored. Returns 0, or
 * prints why and returns -1.
 */
int	 st_verify(struct st_work *wk, struct iris_store *s,
	    const char *path, struct st_tally *t);

/* Removes a store file with its -wal, -shm and -journal. */
void	 st_remove_db(const char *path);

#endif /* IRIS_TESTS_STORETEST_H */

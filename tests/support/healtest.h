/* SPDX-License-Identifier: ISC */
/*
 * Helpers of the self-healing tests (tests/system/client_heal*.c): an
 * engine on this process's loop and one client store, devices with their
 * recorders and decrypt callbacks, sends of tagged messages and checks
 * that each arrived exactly once under its id, a device's stored session
 * saved and written back (a rollback), and waits on stats counters.
 */
#ifndef IRIS_TESTS_HEALTEST_H
#define IRIS_TESTS_HEALTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "iris_client.h"
#include "client/rec.h"
#include "clienttest.h"

#define T		20000	/* ms, for any one wait */

extern struct event_base *ht_base;
extern struct iris_client_store *ht_store;
extern int ht_failures;
extern const char *ht_prog;

#define HT_EXPECT(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s: line %d: ", ht_prog, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		ht_failures++;						\
	}								\
} while (0)

struct ht_dev {
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
	int			 failed, healed, given_up;	/* callbacks */
	uint64_t		 clock_skew;	/* added to its clock */
};

struct ht_want_stat {
	struct ht_dev	*d;
	size_t		 off;		/* into struct iris_client_stats */
	uint64_t	 at_least;
};

/* Runs the loop until the counter of dv reaches v (or fails). */
#define HT_WAIT_STAT(dv, name, v) do {					\
	struct ht_want_stat w_ = { (dv), offsetof(struct iris_client_stats,\
	    name), (v) };						\
	HT_EXPECT(run_until(ht_base, ht_stat_at, &w_, T),		\
	    "%s: " #name " < %llu", (dv)->user, (unsigned long long)(v));	\
} while (0)

/* An engine (open registration) and a client store; the seed printed. */
uint32_t ht_start(const char *prog);
/* 0 when every expectation held. */
int	 ht_finish(void);
/* A device of user: registered (reg) or logged in again. */
void	 ht_dev_up(struct ht_dev *d, const char *user, int reg);
void	 ht_dev_down(struct ht_dev *d);
struct e2s *ht_sealer(struct ht_dev *d);
/* n messages "tag-i" from a to b; their ids into ids. */
void	 ht_send_n(struct ht_dev *a, struct ht_dev *b, const char *tag,
	    int n, uint8_t (*ids)[16]);
/* How many of b's messages since first are "tag-i" (with id, if any). */
int	 ht_count_of(const struct ht_dev *b, size_t first, const char *tag,
	    int i, const uint8_t *id);
/* Waits for every "tag-i" at b, then checks each came once, under the
 * id it was sent with. */
void	 ht_expect_once(struct ht_dev *b, size_t first, const char *tag,
	    int n, uint8_t (*ids)[16]);
/* d's stored session with peer's device 1: saved into old, or written
 * back from it (and d's sealer cache dropped). */
void	 ht_session(struct ht_dev *d, const char *peer, struct iris_buf *old,
	    int restore);
/* Two messages each way. */
void	 ht_converse(struct ht_dev *a, struct ht_dev *b, const char *tag);
int	 ht_stat_at(void *arg);
/* Predicates for run_until(): no bundle fetch out (an e2s), an empty
 * outbox (a device). */
int	 ht_fetched(void *arg);
int	 ht_outbox_empty(void *arg);

#endif

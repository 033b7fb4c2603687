/* SPDX-License-Identifier: ISC */
/* Hybrid logical clock: unique, increasing 64-bit server message ids. */
#ifndef IRIS_UTIL_HLC_H
#define IRIS_UTIL_HLC_H

#include <stdint.h>

/*
 * An id is (48-bit unix ms << 16) | (8-bit counter << 8) | 8-bit node.
 * Ids from one clock strictly increase even when the wall clock stands
 * still or steps back: the counter then counts up and carries into the
 * ms bits, so logical time runs ahead of the wall clock until the wall
 * clock catches up. Ids sort by time first, then by counter, then node.
 *
 * Not thread safe: a clock has one owner thread (its engine's loop).
 */
struct iris_hlc {
	uint64_t	  last;		/* last id made or observed */
	uint8_t		  node;
	uint64_t	(*now_ms)(void *arg);
	void		 *now_arg;
};

#define IRIS__HLC_MS_MAX	((UINT64_C(1) << 48) - 1)

/* now_ms NULL means the real-time clock (CLOCK_REALTIME). */
void		 iris__hlc_init(struct iris_hlc *hlc, uint8_t node,
		    uint64_t (*now_ms)(void *arg), void *arg);
/* The next id; greater than every id made or observed before. */
uint64_t	 iris__hlc_next(struct iris_hlc *hlc);
/*
 * Merges an id seen from another node so that later ids sort after it.
 * Returns IRIS_EINVAL, and merges nothing, when the id's time is more
 * than max_drift_ms ahead of this node's wall clock (a peer with a bad
 * clock must not drag every later id into the future).
 */
int		 iris__hlc_observe(struct iris_hlc *hlc, uint64_t remote,
		    uint64_t max_drift_ms);

/* The unix ms, counter and node parts of an id. */
static inline uint64_t
iris__hlc_ms(uint64_t id)
{
	return id >> 16;
}

static inline uint8_t
iris__hlc_counter(uint64_t id)
{
	return (uint8_t)(id >> 8);
}

static inline uint8_t
iris__hlc_node(uint64_t id)
{
	return (uint8_t)id;
}

#endif /* IRIS_UTIL_HLC_H */

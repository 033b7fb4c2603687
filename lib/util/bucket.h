/* SPDX-License-Identifier: ISC */
/* Token bucket rate limiter in integer arithmetic. */
#ifndef IRIS_UTIL_BUCKET_H
#define IRIS_UTIL_BUCKET_H

#include <stdint.h>

/*
 * Tokens are kept in millionths, so that refilling for t µs at `rate'
 * tokens per second adds exactly t * rate and never divides. Times are
 * µs of a monotonic clock chosen by the caller.
 */
struct iris_bucket {
	uint32_t	rate;		/* tokens per second */
	uint32_t	burst;		/* capacity in tokens */
	uint64_t	micro;		/* tokens * 1 000 000 */
	uint64_t	last_us;	/* time of the last refill */
};

/* Starts full. */
void	iris__bucket_init(struct iris_bucket *b, uint32_t rate,
	    uint32_t burst, uint64_t now_us);
/*
 * Takes n tokens and returns 1, or takes none and returns 0 with
 * *retry_after_ms (may be NULL) set to the wait until n tokens are there:
 * rounded up, at least 1, and UINT32_MAX when that never happens (n above
 * the burst, or a rate of 0). Time going backwards refills nothing.
 */
int	iris__bucket_take(struct iris_bucket *b, uint64_t now_us, uint32_t n,
	    uint32_t *retry_after_ms);

#endif /* IRIS_UTIL_BUCKET_H */

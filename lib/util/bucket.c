/* SPDX-License-Identifier: ISC */
/* Token bucket rate limiter in integer arithmetic. */
#include <stddef.h>
#include <stdint.h>

#include "util/bucket.h"

#define MICRO	UINT64_C(1000000)

void
iris__bucket_init(struct iris_bucket *b, uint32_t rate, uint32_t burst,
    uint64_t now_us)
{
	b->rate = rate;
	b->burst = burst;
	b->micro = (uint64_t)burst * MICRO;
	b->last_us = now_us;
}

static void
refill(struct iris_bucket *b, uint64_t now_us)
{
	uint64_t cap, elapsed, missing;

	if (now_us <= b->last_us) {
		/*
		 * Backwards: refill nothing, but restart from now, so that
		 * the bucket refills as soon as time moves on again instead
		 * of waiting for the old timestamp.
		 */
		b->last_us = now_us;
		return;
	}
	elapsed = now_us - b->last_us;
	b->last_us = now_us;
	cap = (uint64_t)b->burst * MICRO;
	if (b->micro >= cap || b->rate == 0)
		return;
	missing = cap - b->micro;
	/* Compare before multiplying: a huge gap must not overflow. */
	if (elapsed >= missing / b->rate + 1)
		b->micro = cap;
	else
		b->micro += elapsed * b->rate;
	if (b->micro > cap)
		b->micro = cap;
}

int
iris__bucket_take(struct iris_bucket *b, uint64_t now_us, uint32_t n,
    uint32_t *retry_after_ms)
{
	uint64_t need, us, ms;

	refill(b, now_us);
	need = (uint64_t)n * MICRO;
	if (b->micro >= need) {
		b->micro -= need;
		return 1;
	}
	if (retry_after_ms == NULL)
		return 0;
	if (n > b->burst || b->rate == 0) {
		*retry_after_ms = UINT32_MAX;
		return 0;
	}
	us = (need - b->micro + b->rate - 1) / b->rate;
	ms = (us + 999) / 1000;
	if (ms == 0)
		ms = 1;
	*retry_after_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	return 0;
}

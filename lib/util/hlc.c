/* SPDX-License-Identifier: ISC */
/* Hybrid logical clock: unique, increasing 64-bit server message ids. */
#include <stdint.h>

#include "iris.h"
#include "util/clock.h"
#include "util/hlc.h"

static uint64_t
wall_ms(const struct iris_hlc *hlc)
{
	uint64_t ms;

	ms = hlc->now_ms(hlc->now_arg);
	return ms > IRIS__HLC_MS_MAX ? IRIS__HLC_MS_MAX : ms;
}

void
iris__hlc_init(struct iris_hlc *hlc, uint8_t node,
    uint64_t (*now_ms)(void *arg), void *arg)
{
	hlc->last = 0;
	hlc->node = node;
	hlc->now_ms = now_ms != NULL ? now_ms : iris__clock_realtime_ms;
	hlc->now_arg = now_ms != NULL ? arg : NULL;
}

uint64_t
iris__hlc_next(struct iris_hlc *hlc)
{
	uint64_t id;

	id = wall_ms(hlc) << 16 | hlc->node;
	if (id <= hlc->last) {
		/*
		 * Same ms or the clock went back: count up from the last id,
		 * carrying into the ms bits. The node bits of `last' may be
		 * another node's (observe), so they are replaced, not added.
		 * This wraps only past the year 10889.
		 */
		id = ((hlc->last >> 8) + 1) << 8 | hlc->node;
	}
	hlc->last = id;
	return id;
}

int
iris__hlc_observe(struct iris_hlc *hlc, uint64_t remote, uint64_t max_drift_ms)
{
	uint64_t now, limit;

	now = wall_ms(hlc);
	limit = max_drift_ms > UINT64_MAX - now ? UINT64_MAX :
	    now + max_drift_ms;
	if (iris__hlc_ms(remote) > limit)
		return IRIS_EINVAL;
	if (remote > hlc->last)
		hlc->last = remote;
	return IRIS_OK;
}

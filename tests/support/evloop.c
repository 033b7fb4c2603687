/* SPDX-License-Identifier: ISC */
/* The one bounded event loop runner of the tests (unit, system, bench). */
#include <stdint.h>
#include <time.h>

#include "evloop.h"

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
recheck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

int
run_until(struct event_base *base, int (*pred)(void *), void *arg,
    unsigned timeout_ms)
{
	struct timeval tv = { 0, 5000 };
	uint64_t deadline = mono_ms() + timeout_ms;
	struct event *ev;
	int ok;

	/* Already true: no timer to make (the common case in a busy run). */
	if (pred(arg))
		return 1;
	if ((ev = event_new(base, -1, EV_PERSIST, recheck, NULL)) == NULL)
		return pred(arg);
	event_add(ev, &tv);
	while (!(ok = pred(arg)) && mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return ok;
}

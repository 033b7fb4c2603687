/* SPDX-License-Identifier: ISC */
/* Bounded event loop runs for tests: wait for a condition, never sleep. */
#ifndef IRIS_TESTS_EVLOOP_H
#define IRIS_TESTS_EVLOOP_H

#include <event2/event.h>

/*
 * Runs base until pred(arg) is true or timeout_ms passes; returns 1 when
 * the condition held. The loop wakes on its events and on a short timer
 * that re-checks the condition.
 */
int	 run_until(struct event_base *base, int (*pred)(void *), void *arg,
	    unsigned timeout_ms);

#endif

/* SPDX-License-Identifier: ISC */
/* Test helpers: run an event loop until a condition holds, temp dirs. */
#ifndef IRIS_TESTS_LOOP_H
#define IRIS_TESTS_LOOP_H

#include <event2/event.h>

/*
 * Runs base until pred(arg) is true or timeout_ms passes; returns 1 when
 * the condition held. Never sleeps blindly: the loop wakes on events and
 * on a short timer that re-checks the condition.
 */
int	 run_until(struct event_base *base, int (*pred)(void *), void *arg,
	    unsigned timeout_ms);
/* A fresh directory under $TMPDIR (or /tmp); rm_rf() removes it. */
char	*make_tempdir(const char *tag);
void	 rm_rf(const char *path);

#endif

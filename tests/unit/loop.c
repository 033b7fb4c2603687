/* SPDX-License-Identifier: ISC */
/* Test helpers: bounded event loop runs and temporary directories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "loop.h"

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static unsigned long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
run_until(struct event_base *base, int (*pred)(void *), void *arg,
    unsigned timeout_ms)
{
	struct timeval tv = { 0, 5000 };
	unsigned long long deadline = now_ms() + timeout_ms;
	struct event *ev;
	int ok;

	ev = event_new(base, -1, EV_PERSIST, tick, NULL);
	ck_assert_ptr_nonnull(ev);
	event_add(ev, &tv);
	while (!(ok = pred(arg)) && now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return ok;
}

char *
make_tempdir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	path = malloc(512);
	ck_assert_ptr_nonnull(path);
	snprintf(path, 512, "%s/iris-%s-XXXXXX", tmp != NULL ? tmp : "/tmp",
	    tag);
	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

void
rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "rm_rf: could not remove %s\n", path);
}

/* SPDX-License-Identifier: ISC */
/*
 * examples/iris-edge-hook for real: started on port 0 with an allow list,
 * it lets a listed user register over TLS and refuses one its hook
 * rejects (ERR_REGISTRATION_CLOSED), takes a new list on SIGHUP, and
 * stops cleanly (exit 0) on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "iris.h"
#include "authclient.h"
#include "daemon.h"

#define T	10000	/* ms: generous deadlines for a loaded machine */

static int failures;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "example_edge_hook: %s:%d: ", __FILE__,	\
		    __LINE__);						\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static void
write_users(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Registers a fresh device of user; returns the wire error (0: ok). */
static int
try_register(struct event_base *base, const struct daemon *d,
    const char *user)
{
	struct ac_conn c;
	struct ac_dev dev;
	int rc;

	ac_dev_new(&dev, user);
	if (ac_open(&c, base, d->port, d->fp, NULL, 0) != 0)
		return -1;
	rc = ac_register(&c, &dev, NULL, NULL, 0);
	wc_close(&c.w);
	return rc;
}

int
main(void)
{
	const char *args[] = { "-u", "users.txt", "-D", "data", "-l",
	    "127.0.0.1:0", NULL };
	struct event_base *base;
	struct daemon d;
	int rc;

	write_users("users.txt", "# who may register\nalice\n  carol  \n");
	if (daemon_start_prog(&d, "examples/iris-edge-hook", args, T) != 0) {
		fprintf(stderr, "example_edge_hook: did not start:\n%s\n",
		    d.log);
		return 1;
	}
	EXPECT(daemon_wait_line(&d, "2 users allowed", 0) != NULL ||
	    strstr(d.log, "2 users allowed") != NULL,
	    "the allow list was not read as 2 users");
	base = event_base_new();

	rc = try_register(base, &d, "alice");
	EXPECT(rc == 0, "alice (listed) refused: %d", rc);
	rc = try_register(base, &d, "carol");
	EXPECT(rc == 0, "carol (listed, spaces around) refused: %d", rc);
	rc = try_register(base, &d, "mallory");
	EXPECT(rc == iris_v1_ErrorCode_ERR_REGISTRATION_CLOSED,
	    "mallory (not listed): got %d, want ERR_REGISTRATION_CLOSED", rc);
	EXPECT(daemon_wait_line(&d, "registration of mallory refused", T) !=
	    NULL, "the hook did not log the refusal");
	/* A refusal harms nobody else: alice's second device still comes
	 * only with a link token, but a listed new user still registers. */
	rc = try_register(base, &d, "alice");
	EXPECT(rc == iris_v1_ErrorCode_ERR_USER_EXISTS ||
	    rc == iris_v1_ErrorCode_ERR_BAD_INVITE,
	    "a second alice without a link token: got %d", rc);

	write_users("users.txt", "alice\ncarol\nmallory\n");
	kill(d.pid, SIGHUP);
	EXPECT(daemon_wait_line(&d, "3 users allowed", T) != NULL,
	    "SIGHUP did not reload the list");
	rc = try_register(base, &d, "mallory");
	EXPECT(rc == 0, "mallory after the reload refused: %d", rc);

	rc = daemon_stop(&d, SIGTERM, T);
	EXPECT(rc == 0, "exit status %d after SIGTERM", rc);
	EXPECT(strstr(d.log, "iris-edge-hook: stopped") != NULL,
	    "no clean stop in the log");
	EXPECT(strstr(d.log, "registrations 3") != NULL,
	    "stats at exit do not count 3 registrations");
	event_base_free(base);
	if (failures != 0) {
		fprintf(stderr, "example_edge_hook: log:\n%s\n", d.log);
		return 1;
	}
	printf("example_edge_hook: listed users registered, an unlisted one "
	    "refused, reload and clean stop: ok\n");
	return 0;
}

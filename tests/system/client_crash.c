/* SPDX-License-Identifier: ISC */
/*
 * A client process dies at the two points of the receive order (DESIGN.md
 * §8), against a real irisd: after the embedder's callback but before the
 * library's commit, the message is delivered to the embedder again after
 * the restart (at least once); after the commit but before the ack to the
 * server, it is acked after the restart, with no second callback. Each
 * step is its own process (made before any loop or thread exists in it);
 * a test hook makes the process _exit(2) at the chosen point, which loses
 * everything not yet on disk, as kill -9 would. The embedder "handles" a
 * message by appending it to seen.txt.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "iris.h"
#include "iris_client.h"

#include "client/client.h"
#include "client/seal_e2ee.h"
#include "clienttest.h"
#include "daemon.h"
#include "evloop.h"

#define T	15000

static int failures;
static struct daemon d;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "client_crash: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

/* One step's world, in its own process. */
struct step {
	struct event_base	*base;
	struct iris_client_store *store;
	struct ct_rec		 r;
	struct iris_client	*c;
};

static int die_at;

static void
hook(int point)
{
	if (point == die_at)
		_exit(70 + point);
}

static void
seen(struct iris_client *c, const struct iris_client_msg *m, void *arg)
{
	struct ct_rec *r = arg;
	const void *body;
	size_t len;
	char line[128];
	int fd, n;

	(void)c;
	body = iris_client_msg_body(m, &len);
	n = snprintf(line, sizeof(line), "%.*s\n", (int)len,
	    (const char *)body);
	if ((fd = open("seen.txt", O_WRONLY | O_APPEND | O_CREAT, 0600)) >= 0) {
		(void)!write(fd, line, (size_t)n);
		close(fd);
	}
	r->nmsgs++;
}

static int
step_open(struct step *s, const char *user)
{
	char path[64];
	uint8_t key[32];

	memset(s, 0, sizeof(*s));
	s->base = event_base_new();
	snprintf(path, sizeof(path), "%s.db", user);
	ct_key(key, (uint8_t)user[0]);
	if (iris_client_store_open(&s->store, s->base, path, key, NULL) !=
	    IRIS_OK)
		return -1;
	ct_rec_init(&s->r, user);
	if ((s->c = ct_client(s->base, s->store, d.port, d.fp, user, NULL,
	    &s->r)) == NULL)
		return -1;
	iris_client_set_message_cb(s->c, seen, &s->r);
	return 0;
}

static void
step_close(struct step *s)
{
	iris_client_free(s->c);
	iris_client_store_close(s->store);
	ct_rec_free(&s->r);
	event_base_free(s->base);
}

struct logins {
	struct ct_rec	*r;
	int		 before;
};

static int
logged_in(void *arg)
{
	struct logins *l = arg;

	return l->r->onlines > l->before;
}

/* Connects and waits for a login (a new one, not a report from before). */
static int
online(struct step *s)
{
	struct logins l = { &s->r, s->r.onlines };

	return iris_client_connect(s->c) == IRIS_OK &&
	    run_until(s->base, logged_in, &l, T) ? 0 : -1;
}

static int
never(void *arg)
{
	(void)arg;
	return 0;
}

/* Runs fn in a child process; its exit status. */
static int
in_child(int (*fn)(const char *), const char *arg)
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The prekeys are on the server (uploaded after login, and committed). */
static int
keys_up(void *arg)
{
	struct iris_client *c = arg;
	struct e2s *e = c->seal == &iris__seal_e2ee ? c->sealer : NULL;

	return e == NULL || (e->keys != NULL && e->keys->spk_uploaded &&
	    !e->keys_busy);
}

static int
do_register(const char *user)
{
	struct step s;
	struct ct_done done = { 0, 0 };
	int rc = 1;

	if (step_open(&s, user) == 0 &&
	    iris_client_register(s.c, NULL, ct_done_cb, &done) == IRIS_OK &&
	    ct_wait_done(s.base, &done, T) == IRIS_OK &&
	    /* Else a send to this user can wait for a bundle that comes
	     * only at its next login (this failed about one run in ten). */
	    run_until(s.base, keys_up, s.c, T))
		rc = 0;
	step_close(&s);
	return rc;
}

/* alice sends one message, the text given, and waits for its ack. */
static int
do_send(const char *text)
{
	struct step s;
	uint8_t id[16];
	int rc = 1;

	if (step_open(&s, "alice") == 0 && online(&s) == 0 &&
	    iris_client_send(s.c, "bob", 1, text, strlen(text), id) ==
	    IRIS_OK && ct_wait_acked(s.base, &s.r, 1, T))
		rc = 0;
	step_close(&s);
	return rc;
}

/* bob comes online; with die_at set, the hook ends the process. */
static int
do_receive(const char *point)
{
	struct step s;

	die_at = atoi(point);
	iris__client_test_hook = hook;
	if (step_open(&s, "bob") != 0 || online(&s) != 0)
		return 1;
	run_until(s.base, never, NULL, T);
	return 2;	/* the hook did not end it */
}

struct acked {
	struct iris_client	*c;
};

static int
all_acked(void *arg)
{
	struct iris_client *c = arg;

	return c->rx_n == 0 && c->rx_cursor > 0 &&
	    c->rx_acked >= c->rx_cursor;
}

/*
 * bob comes online, handles what comes, and checks that the server's
 * cursor (told at each login) reaches the local one. want: how many
 * callbacks this process must see.
 */
static int
do_settle(const char *want)
{
	struct step s;
	int tries;

	if (step_open(&s, "bob") != 0 || online(&s) != 0)
		return 1;
	if (atoi(want) > 0)
		ct_wait_msgs(s.base, &s.r, (size_t)atoi(want), T);
	if (!run_until(s.base, all_acked, s.c, T))
		return 3;
	/* The ack is the core's to commit: logins say when it has. */
	for (tries = 0; tries < 50 && s.c->srv_acked < s.c->rx_cursor;
	    tries++) {
		iris_client_disconnect(s.c);
		if (online(&s) != 0)
			return 4;
		/*
		 * The client acks on the loop turn after its login: let it,
		 * or a disconnect in the same turn drops the ack every time
		 * (this failed about one run in eight).
		 */
		if (!run_until(s.base, all_acked, s.c, T))
			return 3;
	}
	if (s.c->srv_acked != s.c->rx_cursor)
		return 5;
	if (s.r.nmsgs != (size_t)atoi(want))
		return 6;
	step_close(&s);
	return 0;
}

static int
count(const char *text)
{
	char line[128], want[128];
	FILE *f = fopen("seen.txt", "r");
	int n = 0;

	if (f == NULL)
		return 0;
	snprintf(want, sizeof(want), "%s\n", text);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strcmp(line, want) == 0;
	fclose(f);
	return n;
}

int
main(void)
{
	const char *args[] = { "-f", "iris.conf", NULL };
	char point[8];
	FILE *f;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nregistration open\n");
	fclose(f);
	if (daemon_start(&d, args, T) != 0) {
		fprintf(stderr, "client_crash: irisd did not start\n");
		return 1;
	}
	EXPECT(in_child(do_register, "alice") == 0, "register alice");
	EXPECT(in_child(do_register, "bob") == 0, "register bob");

	/* 1: dead after the callback, before the commit. */
	EXPECT(in_child(do_send, "one") == 0, "send one");
	snprintf(point, sizeof(point), "%d", IRIS__HOOK_AFTER_CALLBACK);
	rc = in_child(do_receive, point);
	EXPECT(rc == 70 + IRIS__HOOK_AFTER_CALLBACK, "not ended after the "
	    "callback: %d", rc);
	EXPECT(count("one") == 1, "one seen %d times before the restart",
	    count("one"));
	rc = in_child(do_settle, "1");
	EXPECT(rc == 0, "after the restart: %d", rc);
	EXPECT(count("one") == 2, "one not delivered again: seen %d times",
	    count("one"));

	/* 2: dead after the commit, before the ack. */
	EXPECT(in_child(do_send, "two") == 0, "send two");
	snprintf(point, sizeof(point), "%d", IRIS__HOOK_AFTER_COMMIT);
	rc = in_child(do_receive, point);
	EXPECT(rc == 70 + IRIS__HOOK_AFTER_COMMIT, "not ended after the "
	    "commit: %d", rc);
	rc = in_child(do_settle, "0");
	EXPECT(rc == 0, "after the restart: %d (the server's cursor must "
	    "reach the local one with no callback)", rc);
	EXPECT(count("two") == 1, "two seen %d times", count("two"));

	EXPECT(daemon_stop(&d, SIGTERM, T) == 0, "irisd exit");
	if (failures > 0)
		return 1;
	printf("client_crash: dead after the callback: delivered again; "
	    "dead after the commit: acked, no second callback: ok\n");
	return 0;
}

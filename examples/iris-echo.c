/* SPDX-License-Identifier: ISC */
/*
 * iris-echo: a bot that answers every message with the same content. It
 * shows the client API (iris_client_new(3)) in one page: a client store
 * under a key kept in a file, a client object on our own event_base,
 * registration with an invite on the first run, then connecting as the
 * stored account, receiving, sending, and a clean shutdown.
 *
 *   iris-echo -s host:port -p fingerprint -f store.db [-i invite]
 *       [-n count] user
 *
 * With -n it exits 0 once count answers are durable on the server.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include <event2/event.h>

#include <iris_client.h>

struct echo {
	struct event_base	*base;
	struct iris_client	*client;
	long			 want;		/* -n, 0: run until a signal */
	long			 acked;
	int			 status;	/* exit status */
};

/* The store's key: read from path, or made and written there (0600). */
static int
store_key(const char *path, uint8_t key[IRIS_CLIENT_STORE_KEY_LEN])
{
	int fd, ok;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		ok = read(fd, key, IRIS_CLIENT_STORE_KEY_LEN) ==
		    IRIS_CLIENT_STORE_KEY_LEN;
	} else {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0)
			return -1;
		ok = getrandom(key, IRIS_CLIENT_STORE_KEY_LEN, 0) ==
		    IRIS_CLIENT_STORE_KEY_LEN &&
		    write(fd, key, IRIS_CLIENT_STORE_KEY_LEN) ==
		    IRIS_CLIENT_STORE_KEY_LEN && fsync(fd) == 0;
	}
	if (close(fd) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static void
on_message(struct iris_client *c, const struct iris_client_msg *m, void *arg)
{
	struct echo *e = arg;
	const char *from = iris_client_msg_sender(m, NULL);
	const void *body;
	uint8_t id[16];
	size_t len;
	int rc;

	if (strcmp(from, iris_client_user(c, NULL)) == 0)
		return;		/* a copy of our own send: no answer */
	body = iris_client_msg_body(m, &len);
	if ((rc = iris_client_send(c, from, iris_client_msg_type(m), body, len,
	    id)) != IRIS_OK) {
		fprintf(stderr, "iris-echo: answering %s: %s: %s\n", from,
		    iris_strerror(rc), iris_client_error(c));
		e->status = 1;
		return;
	}
	printf("echo %s %zu bytes\n", from, len);
	fflush(stdout);
}

static void
on_sent(struct iris_client *c, const uint8_t id[16], int status, void *arg)
{
	struct echo *e = arg;

	(void)c; (void)id;
	if (status < 0) {
		fprintf(stderr, "iris-echo: an answer failed: %s\n",
		    iris_strerror(status));
		e->status = 1;
	} else if (status == IRIS_CLIENT_ACKED && ++e->acked == e->want)
		event_base_loopexit(e->base, NULL);
}

static void
on_state(struct iris_client *c, int state, int error, void *arg)
{
	(void)arg;
	if (state == IRIS_CLIENT_ONLINE)
		printf("online %s\n", iris_client_user(c, NULL));
	else if (state == IRIS_CLIENT_OFFLINE && error != IRIS_OK)
		fprintf(stderr, "iris-echo: offline: %s: %s\n",
		    iris_strerror(error), iris_client_error(c));
	fflush(stdout);
}

static void
on_registered(struct iris_client *c, int rc, void *arg)
{
	struct echo *e = arg;

	if (rc == IRIS_OK)
		return;
	fprintf(stderr, "iris-echo: registering: %s: %s\n", iris_strerror(rc),
	    iris_client_error(c));
	e->status = 1;
	event_base_loopexit(e->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char *argv[])
{
	const char *server = NULL, *pin = NULL, *path = NULL, *invite = NULL;
	struct iris_client_store *store = NULL;
	struct iris_client_config *cfg = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	uint8_t key[IRIS_CLIENT_STORE_KEY_LEN];
	struct echo e = { 0 };
	char keypath[4096];
	uint32_t device = 0;
	int ch, rc = IRIS_ENOMEM;

	while ((ch = getopt(argc, argv, "f:i:n:p:s:")) != -1) {
		switch (ch) {
		case 'f': path = optarg; break;
		case 'i': invite = optarg; break;
		case 'n': e.want = strtol(optarg, NULL, 10); break;
		case 'p': pin = optarg; break;
		case 's': server = optarg; break;
		default: goto usage;
		}
	}
	if (argc - optind != 1 || server == NULL || pin == NULL ||
	    path == NULL || e.want < 0) {
usage:
		fprintf(stderr, "usage: iris-echo -s host:port -p fingerprint "
		    "-f store.db [-i invite] [-n count] user\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(keypath, sizeof(keypath), "%s.key", path);
	if (store_key(keypath, key) != 0) {
		perror(keypath);
		return 1;
	}
	e.status = 1;
	if ((e.base = event_base_new()) == NULL ||
	    (sigint = evsignal_new(e.base, SIGINT, on_signal, e.base)) == NULL ||
	    (sigterm = evsignal_new(e.base, SIGTERM, on_signal, e.base)) ==
	    NULL || evsignal_add(sigint, NULL) != 0 ||
	    evsignal_add(sigterm, NULL) != 0)
		goto out;
	if ((rc = iris_client_store_open(&store, e.base, path, key, NULL)) !=
	    IRIS_OK || (rc = iris_client_config_new(&cfg)) != IRIS_OK ||
	    (rc = iris_client_config_set_server(cfg, server)) != IRIS_OK ||
	    (rc = iris_client_config_set_pin(cfg, pin)) != IRIS_OK ||
	    (rc = iris_client_config_set_user(cfg, argv[optind])) != IRIS_OK ||
	    (rc = iris_client_new(&e.client, e.base, store, cfg)) != IRIS_OK)
		goto out;
	iris_client_set_message_cb(e.client, on_message, &e);
	iris_client_set_sent_cb(e.client, on_sent, &e);
	iris_client_set_state_cb(e.client, on_state, &e);
	if (iris_client_user(e.client, &device) != NULL && device != 0)
		rc = iris_client_connect(e.client);
	else
		rc = iris_client_register(e.client, invite, on_registered, &e);
	if (rc != IRIS_OK)
		goto out;
	e.status = 0;
	if (event_base_dispatch(e.base) != 0)
		e.status = 1;
out:
	if (rc != IRIS_OK)
		fprintf(stderr, "iris-echo: %s: %s\n", iris_strerror(rc),
		    e.client != NULL ? iris_client_error(e.client) :
		    cfg != NULL ? iris_client_config_error(cfg) :
		    store != NULL ? iris_client_store_error(store) : "setup");
	iris_client_free(e.client);
	iris_client_config_free(cfg);
	iris_client_store_close(store);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (e.base != NULL)
		event_base_free(e.base);
	return e.status;
}

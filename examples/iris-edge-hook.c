/* SPDX-License-Identifier: ISC */
/*
 * iris-edge-hook: a server that embeds the libiris engine on its own
 * event_base and decides registrations itself: only the user ids listed in
 * a file (one per line, '#' comments) may register. It shows the server
 * API (iris_engine_new(3)): configuration, the registration hook, ports,
 * the key fingerprint, counters, and a clean shutdown on SIGINT/SIGTERM.
 *
 *   iris-edge-hook -u users.txt -D datadir [-l 127.0.0.1:7443] [-v]
 *
 * The file is read again on SIGHUP.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <iris.h>
#include <iris_server.h>

#define USERS_MAX	10000

struct edge {
	struct event_base	*base;
	struct iris_engine	*eng;
	const char		*users_path;
	char			**users;	/* sorted */
	size_t			 nusers;
	int			 verbose;
	int			 stopping;
};

static void
usage(void)
{
	fprintf(stderr, "usage: iris-edge-hook -u users.txt -D datadir "
	    "[-l host:port] [-v]\n");
	exit(2);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_users(char **users, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(users[i]);
	free(users);
}

/* Reads the allow list; on failure the old list stays. */
static int
load_users(struct edge *e)
{
	char line[256], **users, *p;
	size_t n = 0, len;
	FILE *f;

	if ((f = fopen(e->users_path, "r")) == NULL) {
		perror(e->users_path);
		return -1;
	}
	if ((users = calloc(USERS_MAX, sizeof(*users))) == NULL) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		p = line + strspn(line, " \t");
		len = strcspn(p, "\r\n#");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		p[len] = '\0';
		if (len == 0)
			continue;
		if (n == USERS_MAX || (users[n] = strdup(p)) == NULL) {
			fprintf(stderr, "%s: more than %d users or out of "
			    "memory\n", e->users_path, USERS_MAX);
			free_users(users, n);
			fclose(f);
			return -1;
		}
		n++;
	}
	fclose(f);
	qsort(users, n, sizeof(*users), cmp_str);
	free_users(e->users, e->nusers);
	e->users = users;
	e->nusers = n;
	fprintf(stderr, "iris-edge-hook: %zu users allowed\n", n);
	return 0;
}

/* The registration hook: called on the loop for each new user. */
static int
allow_listed(struct iris_engine *eng, const char *user, const char *invite,
    void *arg)
{
	struct edge *e = arg;
	int ok;

	(void)eng, (void)invite;
	ok = bsearch(&user, e->users, e->nusers, sizeof(*e->users),
	    cmp_str) != NULL;
	fprintf(stderr, "iris-edge-hook: registration of %s %s\n", user,
	    ok ? "allowed" : "refused");
	return ok ? IRIS_OK : IRIS_EDENIED;
}

static void
log_line(int level, const char *msg, void *arg)
{
	struct edge *e = arg;

	if (level <= (e->verbose ? IRIS_LOG_DEBUG : IRIS_LOG_INFO))
		fprintf(stderr, "iris: %s\n", msg);
}

static void
stopped(struct iris_engine *eng, void *arg)
{
	struct edge *e = arg;

	(void)eng;
	event_base_loopexit(e->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct edge *e = arg;

	(void)what;
	if (sig == SIGHUP) {
		(void)load_users(e);
		return;
	}
	if (e->stopping++ || iris_engine_shutdown(e->eng, stopped, e) !=
	    IRIS_OK)
		event_base_loopexit(e->base, NULL);
}

static void
print_stats(const struct iris_engine *eng)
{
	const char *name;
	uint64_t v;
	size_t i;

	for (i = 0; (name = iris_engine_stat_name(i)) != NULL; i++)
		if (iris_engine_stat(eng, name, &v) == IRIS_OK && v != 0)
			fprintf(stderr, "iris-edge-hook: %s %" PRIu64 "\n",
			    name, v);
}

static int
make_config(struct iris_config **cfgp, struct edge *e, const char *dir,
    const char *listen)
{
	struct iris_config *cfg;

	if (iris_config_new(&cfg) != IRIS_OK)
		return -1;
	iris_config_set_log_cb(cfg, log_line, e);
	if (iris_config_set(cfg, "data_dir", dir) != IRIS_OK ||
	    iris_config_set(cfg, "listen", listen) != IRIS_OK ||
	    iris_config_set(cfg, "registration", "hook") != IRIS_OK) {
		fprintf(stderr, "iris-edge-hook: %s\n",
		    iris_config_error(cfg));
		iris_config_free(cfg);
		return -1;
	}
	*cfgp = cfg;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct edge e;
	struct iris_config *cfg = NULL;
	struct event *sigs[3] = { NULL, NULL, NULL };
	static const int signos[3] = { SIGINT, SIGTERM, SIGHUP };
	const char *dir = NULL, *listen = "127.0.0.1:7443";
	char fp[65];
	int ch, i, rc = 1;

	memset(&e, 0, sizeof(e));
	while ((ch = getopt(argc, argv, "D:l:u:v")) != -1) {
		switch (ch) {
		case 'D':
			dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'u':
			e.users_path = optarg;
			break;
		case 'v':
			e.verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (dir == NULL || e.users_path == NULL || optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);	/* libiris.3: evhttp writes with write() */
	if (load_users(&e) != 0 || make_config(&cfg, &e, dir, listen) != 0)
		goto out;
	if ((e.base = event_base_new()) == NULL)
		goto out;
	if (iris_engine_new(&e.eng, e.base, cfg) != IRIS_OK) {
		fprintf(stderr, "iris-edge-hook: cannot start (see above)\n");
		goto out;
	}
	/* The engine copied the configuration. */
	iris_config_free(cfg);
	cfg = NULL;
	iris_engine_set_register_cb(e.eng, allow_listed, &e);
	if (iris_engine_fingerprint(e.eng, fp, sizeof(fp)) == IRIS_OK)
		fprintf(stderr, "iris-edge-hook: fingerprint %s\n", fp);
	fprintf(stderr, "iris-edge-hook: listening on port %d\n",
	    iris_engine_port(e.eng, 0));
	for (i = 0; i < 3; i++)
		if ((sigs[i] = evsignal_new(e.base, signos[i], on_signal,
		    &e)) == NULL || event_add(sigs[i], NULL) != 0)
			goto out;
	fprintf(stderr, "iris-edge-hook: ready\n");
	if (event_base_dispatch(e.base) == 0)
		rc = 0;
	print_stats(e.eng);
	fprintf(stderr, "iris-edge-hook: stopped\n");
out:
	for (i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	iris_engine_free(e.eng);
	iris_config_free(cfg);
	if (e.base != NULL)
		event_base_free(e.base);
	free_users(e.users, e.nusers);
	return rc;
}

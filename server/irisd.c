/* SPDX-License-Identifier: ISC */
/*
 * irisd: the Iris daemon, a thin program over libiris's public API. It reads
 * iris.conf(5), applies command-line overrides and runs the engine.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <iris.h>
#include <iris_server.h>

#include "irisd_log.h"

#ifndef IRIS_SYSCONFDIR
#define IRIS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF	IRIS_SYSCONFDIR "/iris/iris.conf"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: irisd [-dnVv] [-f file] [--data-dir dir] "
	    "[--listen addr:port]...\n");
	exit(2);
}

/* A description as "# " comment lines of at most 72 columns. */
static void
print_comment(const char *text)
{
	size_t len, cut;

	while (*text != '\0') {
		len = strlen(text);
		cut = len;
		if (len > 70) {
			for (cut = 70; cut > 0 && text[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = 70;
		}
		printf("# %.*s\n", (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
	}
}

/*
 * Prints every option with its effective value (irisd -n -v), or, with
 * -vv, a sample iris.conf: each option described and commented out at its
 * value.
 */
static void
dump_config(const struct iris_config *cfg, int sample)
{
	char val[4096];
	const char *key;
	size_t i;

	if (sample)
		printf("# iris.conf: the configuration of irisd (iris.conf(5)).\n"
		    "# Every option is shown at its default, commented out.\n");
	for (i = 0; (key = iris_config_key(i)) != NULL; i++) {
		if (iris_config_get(cfg, key, val, sizeof(val)) != IRIS_OK)
			continue;
		if (!sample) {
			printf("%s \"%s\"\n", key, val);
			continue;
		}
		printf("\n");
		print_comment(iris_config_describe(i));
		printf("#%s \"%s\"\n", key, val);
	}
}

/* What the signal handlers need. */
struct daemon_state {
	struct event_base	*base;
	struct iris_engine	*eng;
	const char		*conffile;
	const char		*datadir;
	const char *const	*listen;
	int			 nlisten;
	int			 stopping;
};

/* The configuration: file, then command-line overrides. */
static int
load_config(struct iris_config *cfg, const struct daemon_state *d)
{
	int i;

	iris_config_set_log_cb(cfg, log_from_lib, NULL);
	if (d->conffile != NULL && iris_config_load_file(cfg,
	    d->conffile) != IRIS_OK)
		return -1;
	if (d->datadir != NULL && iris_config_set(cfg, "data_dir",
	    d->datadir) != IRIS_OK)
		return -1;
	if (d->nlisten > 0 && iris_config_set(cfg, "listen", "") != IRIS_OK)
		return -1;
	for (i = 0; i < d->nlisten; i++)
		if (iris_config_set(cfg, "listen", d->listen[i]) != IRIS_OK)
			return -1;
	return 0;
}

static void
stopped(struct iris_engine *eng, void *arg)
{
	struct daemon_state *d = arg;

	(void)eng;
	event_base_loopexit(d->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	struct iris_config *cfg;

	(void)what;
	if (sig == SIGHUP) {
		if (iris_config_new(&cfg) != IRIS_OK)
			return;
		if (load_config(cfg, d) != 0)
			log_warnx("reload refused, keeping the running "
			    "configuration: %s", iris_config_error(cfg));
		else if (iris_engine_reconfigure(d->eng, cfg) != IRIS_OK)
			log_warnx("reload failed: %s",
			    iris_engine_error(d->eng));
		iris_config_free(cfg);
		return;
	}
	if (d->stopping++) {
		log_warnx("second signal: stopping now");
		event_base_loopexit(d->base, NULL);
		return;
	}
	log_info("signal %d: draining, then stopping", (int)sig);
	if (iris_engine_shutdown(d->eng, stopped, d) != IRIS_OK)
		event_base_loopexit(d->base, NULL);
}

static int
serve(struct daemon_state *d, struct iris_config *cfg, int debug)
{
	struct event *sigs[4];
	static const int signos[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	char fp[65];
	int i;

	signal(SIGPIPE, SIG_IGN);
	if (!debug && daemon(1, 0) != 0)
		fatalx("daemon: %s", strerror(errno));
	if ((d->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	log_info("irisd %s starting (libiris %s, protocol %d)",
	    IRIS_VERSION_STRING, iris_version_string(), IRIS_PROTOCOL_VERSION);
	if (iris_engine_new(&d->eng, d->base, cfg) != IRIS_OK)
		fatalx("cannot start; see the messages above");
	iris_config_free(cfg);
	if (iris_engine_fingerprint(d->eng, fp, sizeof(fp)) == IRIS_OK)
		log_info("TLS key fingerprint (SHA-256 of SPKI): %s", fp);
	for (i = 0; signos[i] != 0; i++) {
		sigs[i] = evsignal_new(d->base, signos[i], on_signal, d);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0)
			fatalx("cannot watch signal %d", signos[i]);
	}
	log_info("ready");
	event_base_dispatch(d->base);
	for (i = 0; signos[i] != 0; i++)
		event_free(sigs[i]);
	iris_engine_free(d->eng);
	event_base_free(d->base);
	free((void *)d->listen);
	log_info("exiting");
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "data-dir",	required_argument,	NULL,	'D' },
		{ "listen",	required_argument,	NULL,	'L' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 }
	};
	const char *conffile = NULL, *datadir = NULL;
	const char **listen = NULL;
	struct iris_config *cfg;
	struct daemon_state d;
	int ch, debug = 0, noaction = 0, verbose = 0, nlisten = 0;

	memset(&d, 0, sizeof(d));
	if ((listen = calloc((size_t)argc, sizeof(*listen))) == NULL)
		fatalx("out of memory");
	while ((ch = getopt_long(argc, argv, "df:hnVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'V':
			printf("irisd %s (libiris %s, protocol %d)\n",
			    IRIS_VERSION_STRING, iris_version_string(),
			    IRIS_PROTOCOL_VERSION);
			free(listen);
			return 0;
		case 'v':
			verbose++;
			break;
		case 'D':
			datadir = optarg;
			break;
		case 'L':
			listen[nlisten++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(debug || noaction, IRIS_LOG_INFO + verbose);

	if (iris_config_new(&cfg) != IRIS_OK)
		fatalx("out of memory");
	if (conffile == NULL && access(DEFAULT_CONF, F_OK) == 0)
		conffile = DEFAULT_CONF;
	d.conffile = conffile;
	d.datadir = datadir;
	d.listen = listen;
	d.nlisten = nlisten;
	if (load_config(cfg, &d) != 0)
		fatalx("%s", iris_config_error(cfg));

	if (noaction) {
		if (verbose)
			dump_config(cfg, verbose > 1);
		fprintf(stderr, "configuration OK\n");
		iris_config_free(cfg);
		free(listen);
		return 0;
	}
	return serve(&d, cfg, debug);
}

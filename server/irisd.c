/* SPDX-License-Identifier: ISC */
/*
 * irisd: the Iris daemon, a thin program over libiris's public API. It reads
 * iris.conf(5), applies command-line overrides and runs the engine.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iris.h>

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

/* Prints every option with its effective value (irisd -n -v). */
static void
dump_config(const struct iris_config *cfg)
{
	char val[4096];
	const char *key;
	size_t i;

	for (i = 0; (key = iris_config_key(i)) != NULL; i++) {
		if (iris_config_get(cfg, key, val, sizeof(val)) != IRIS_OK)
			continue;
		printf("%s \"%s\"\n", key, val);
	}
}

static void
set_or_die(struct iris_config *cfg, const char *key, const char *value)
{
	if (iris_config_set(cfg, key, value) != IRIS_OK)
		fatalx("%s", iris_config_error(cfg));
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
	int ch, debug = 0, noaction = 0, verbose = 0, nlisten = 0, i, rc;

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
	iris_config_set_log_cb(cfg, log_from_lib, NULL);
	if (conffile == NULL && access(DEFAULT_CONF, F_OK) == 0)
		conffile = DEFAULT_CONF;
	if (conffile != NULL && (rc = iris_config_load_file(cfg,
	    conffile)) != IRIS_OK)
		fatalx("%s", iris_config_error(cfg));
	if (datadir != NULL)
		set_or_die(cfg, "data_dir", datadir);
	if (nlisten > 0)
		set_or_die(cfg, "listen", "");
	for (i = 0; i < nlisten; i++)
		set_or_die(cfg, "listen", listen[i]);
	free(listen);

	if (noaction) {
		if (verbose)
			dump_config(cfg);
		fprintf(stderr, "configuration OK\n");
		iris_config_free(cfg);
		return 0;
	}

	log_info("irisd %s starting (libiris %s, protocol %d)",
	    IRIS_VERSION_STRING, iris_version_string(), IRIS_PROTOCOL_VERSION);
	/*
	 * The engine (listeners, TLS, store) is not in this release yet:
	 * say so plainly instead of pretending to serve.
	 */
	log_warnx("this build has no server engine yet; nothing to serve, "
	    "exiting");
	iris_config_free(cfg);
	return 0;
}

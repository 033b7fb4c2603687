/* SPDX-License-Identifier: ISC */
/*
 * irisd logging, after OpenBSD's log.c: one line per event, to stderr with
 * -d or to syslog(3) as a daemon; levels are syslog priorities, which the
 * library's log callback uses too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <iris.h>

#include "irisd_log.h"

static int	 foreground = 1;
static int	 verbose = IRIS_LOG_INFO;

void
log_init(int fg, int verbosity)
{
	foreground = fg;
	verbose = verbosity;
	if (!foreground)
		openlog("irisd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbosity)
{
	verbose = verbosity;
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char buf[2048];

	if (pri > verbose)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (foreground)
		fprintf(stderr, "irisd: %s\n", buf);
	else
		syslog(pri, "%s", buf);
}

void
log_warn(const char *fmt, ...)
{
	char buf[1024];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(saved));
}

#define LEVEL_FN(name, pri)						\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
									\
	va_start(ap, fmt);						\
	vlog(pri, fmt, ap);						\
	va_end(ap);							\
}
LEVEL_FN(log_warnx, LOG_WARNING)
LEVEL_FN(log_info, LOG_INFO)
LEVEL_FN(log_debug, LOG_DEBUG)

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_from_lib(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level > verbose)
		return;
	if (foreground)
		fprintf(stderr, "irisd: %s\n", msg);
	else
		syslog(level, "%s", msg);
}

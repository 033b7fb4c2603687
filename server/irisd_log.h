/* SPDX-License-Identifier: ISC */
/* irisd logging: stderr in the foreground (-d), syslog otherwise. */
#ifndef IRISD_LOG_H
#define IRISD_LOG_H

#include <stdarg.h>

void	log_init(int foreground, int verbosity);
void	log_setverbose(int verbosity);
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* Bridge for the library's log callback (iris_log_cb). */
void	log_from_lib(int level, const char *msg, void *arg);

#endif

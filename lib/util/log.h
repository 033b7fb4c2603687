/* SPDX-License-Identifier: ISC */
/* The logging hook: formats one line for the embedder's callback. */
#ifndef IRIS_UTIL_LOG_H
#define IRIS_UTIL_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "iris.h"
#include "util/bucket.h"

/*
 * Where an object logs to. A copy lives in each object made from a
 * config (iris__config_logger()); level is the highest IRIS_LOG_* level
 * passed on, so IRIS_LOG_DEBUG lets everything through.
 */
struct iris_logger {
	iris_log_cb	 cb;
	void		*arg;
	int		 level;
};

/* Longest line handed to a callback, including the terminating NUL. */
#define IRIS__LOG_LINE_MAX	1024

/*
 * Formats and passes one line to lg->cb when lg and lg->cb are set and
 * level <= lg->level. Longer lines are cut and end in "..."; trailing
 * newlines are removed and other control characters become '?', so the
 * callback always gets exactly one line. lg may be NULL.
 */
void	 iris__log(const struct iris_logger *lg, int level, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 iris__vlog(const struct iris_logger *lg, int level, const char *fmt,
	    va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * A rate limit for lines that peers can cause (failed handshakes, bad
 * frames, failed logins): past it lines are counted, not written, and
 * the next line written first says how many were left out.
 */
struct iris_lograte {
	struct iris_bucket	 b;
	uint64_t		 suppressed;
};

void	 iris__lograte_init(struct iris_lograte *r, uint32_t per_s,
	    uint32_t burst, uint64_t now_us);
/* iris__log() within r's rate at now_us (monotonic µs). */
void	 iris__log_limited(const struct iris_logger *lg,
	    struct iris_lograte *r, uint64_t now_us, int level,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Nonzero when a message at level would reach the callback. */
int	 iris__log_enabled(const struct iris_logger *lg, int level);

/*
 * Lowercase hex of n bytes at p into out, always NUL-terminated when
 * outlen > 0; bytes that do not fit whole are left out. For trace ids.
 */
void	 iris__hex(char *out, size_t outlen, const void *p, size_t n);

#endif /* IRIS_UTIL_LOG_H */

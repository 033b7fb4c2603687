/* SPDX-License-Identifier: ISC */
/* The logging hook: formats one line for the embedder's callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

static const char	 truncated[] = "...";

int
iris__log_enabled(const struct iris_logger *lg, int level)
{
	return lg != NULL && lg->cb != NULL && level <= lg->level;
}

void
iris__vlog(const struct iris_logger *lg, int level, const char *fmt,
    va_list ap)
{
	char line[IRIS__LOG_LINE_MAX];
	size_t len, i;
	int n;

	if (!iris__log_enabled(lg, level))
		return;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0) {
		/* Only an encoding error gets here; say so rather than drop. */
		snprintf(line, sizeof(line), "(unformattable log message)");
		len = strlen(line);
	} else if ((size_t)n >= sizeof(line)) {
		len = sizeof(line) - 1;
		memcpy(line + len - (sizeof(truncated) - 1), truncated,
		    sizeof(truncated));
	} else
		len = (size_t)n;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	/* One line per call: an embedded newline could forge a log entry. */
	for (i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	}
	lg->cb(level, line, lg->arg);
}

void
iris__log(const struct iris_logger *lg, int level, const char *fmt, ...)
{
	va_list ap;

	if (!iris__log_enabled(lg, level))
		return;
	va_start(ap, fmt);
	iris__vlog(lg, level, fmt, ap);
	va_end(ap);
}

void
iris__lograte_init(struct iris_lograte *r, uint32_t per_s, uint32_t burst,
    uint64_t now_us)
{
	iris__bucket_init(&r->b, per_s, burst, now_us);
	r->suppressed = 0;
}

void
iris__log_limited(const struct iris_logger *lg, struct iris_lograte *r,
    uint64_t now_us, int level, const char *fmt, ...)
{
	va_list ap;

	if (!iris__log_enabled(lg, level))
		return;
	if (!iris__bucket_take(&r->b, now_us, 1, NULL)) {
		r->suppressed++;
		return;
	}
	if (r->suppressed > 0) {
		iris__log(lg, level, "(%llu similar lines left out: over the "
		    "log rate)", (unsigned long long)r->suppressed);
		r->suppressed = 0;
	}
	va_start(ap, fmt);
	iris__vlog(lg, level, fmt, ap);
	va_end(ap);
}

void
iris__hex(char *out, size_t outlen, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t i;

	if (outlen == 0)
		return;
	if (n > (outlen - 1) / 2)
		n = (outlen - 1) / 2;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

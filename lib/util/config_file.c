/* SPDX-License-Identifier: ISC */
/* Reads a file of `name value' lines into a config, all or nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iris.h"
#include "util/config_priv.h"

/* Longest line, in bytes, without its newline. */
#define LINE_MAX_BYTES	4096

/* A buffered reader on a file descriptor (stdio would allocate). */
struct reader {
	int		fd;
	int		err;		/* errno of a failed read, or 0 */
	size_t		pos;
	size_t		len;
	char		buf[4096];
};

/* The next byte, or -1 at the end of the file or on a read error. */
static int
next_byte(struct reader *rd)
{
	ssize_t n;

	if (rd->pos == rd->len) {
		do {
			n = read(rd->fd, rd->buf, sizeof(rd->buf));
		} while (n < 0 && errno == EINTR);
		if (n <= 0) {
			if (n < 0)
				rd->err = errno;
			return -1;
		}
		rd->pos = 0;
		rd->len = (size_t)n;
	}
	return (unsigned char)rd->buf[rd->pos++];
}

/*
 * Reads one line without its newline into line (LINE_MAX_BYTES + 1).
 * Returns 1 for a line, 0 at the end, or IRIS_ECONFIG / IRIS_EIO with
 * why set.
 */
static int
read_line(struct reader *rd, char *line, char *why, size_t whylen)
{
	size_t len = 0;
	int c, any = 0;

	for (;;) {
		if ((c = next_byte(rd)) < 0) {
			if (rd->err != 0) {
				snprintf(why, whylen, "read error: %s",
				    strerror(rd->err));
				return IRIS_EIO;
			}
			if (!any)
				return 0;
			break;
		}
		any = 1;
		if (c == '\n')
			break;
		if (c == '\0') {
			snprintf(why, whylen, "NUL byte in line");
			return IRIS_ECONFIG;
		}
		if (len == LINE_MAX_BYTES) {
			snprintf(why, whylen, "line is longer than %d bytes",
			    LINE_MAX_BYTES);
			return IRIS_ECONFIG;
		}
		line[len++] = (char)c;
	}
	line[len] = '\0';
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Unquotes a "..." value in place, from p at its opening quote. */
static int
parse_quoted(char *p, char *why, size_t whylen)
{
	char *src = p + 1, *dst = p;

	while (*src != '"') {
		if (*src == '\0')
			goto unterminated;
		if (*src == '\\') {
			src++;
			if (*src == '\0')
				goto unterminated;
			if (*src != '"' && *src != '\\') {
				snprintf(why, whylen, "unknown escape \\%c"
				    " (only \\\" and \\\\)",
				    (unsigned char)*src < 0x20 ? '?' : *src);
				return IRIS_ECONFIG;
			}
		}
		*dst++ = *src++;
	}
	for (src++; is_space(*src); src++)
		;
	if (*src != '\0' && *src != '#') {
		snprintf(why, whylen, "unexpected text after the closing"
		    " quote");
		return IRIS_ECONFIG;
	}
	*dst = '\0';
	return IRIS_OK;
unterminated:
	snprintf(why, whylen, "unterminated quote");
	return IRIS_ECONFIG;
}

/*
 * Splits a line into *name and *value (NULL when missing), in place.
 * Returns 1 for an option, 0 for a blank or comment line, or
 * IRIS_ECONFIG with why set.
 */
static int
parse_line(char *p, char **name, char **value, char *why, size_t whylen)
{
	char *end;
	int rc;

	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*name = p;
	while (*p != '\0' && !is_space(*p) && *p != '=' && *p != '#' &&
	    *p != '"')
		p++;
	if (p == *name) {
		snprintf(why, whylen, "missing option name");
		return IRIS_ECONFIG;
	}
	if (*p == '"') {
		snprintf(why, whylen, "expected a space or = after the"
		    " option name");
		return IRIS_ECONFIG;
	}
	end = p;
	while (is_space(*p))
		p++;
	if (*p == '=')
		for (p++; is_space(*p); p++)
			;
	/* Safe now: the byte at end has been looked at and passed. */
	if (*end != '#')
		*end = '\0';
	*value = NULL;
	if (*p == '"') {
		if ((rc = parse_quoted(p, why, whylen)) != IRIS_OK)
			return rc;
		*value = p;
	} else if (*p != '\0' && *p != '#') {
		*value = p;
		while (*p != '\0' && *p != '#')
			p++;
		while (p > *value && is_space(p[-1]))
			p--;
		*p = '\0';
	}
	if (*end == '#')
		*end = '\0';
	return 1;
}

/* Applies every line of the file to cfg; errors read "PATH:LINE: ...". */
static int
load(struct iris_config *cfg, const char *path, struct reader *rd)
{
	char line[LINE_MAX_BYTES + 1], why[IRIS__CONFIG_WHY_MAX], q[80];
	char prev[IRIS__CONFIG_ERR_MAX];
	char *name, *value = NULL;
	unsigned lineno;
	int rc;

	for (lineno = 1;; lineno++) {
		if ((rc = read_line(rd, line, why, sizeof(why))) == 0)
			return IRIS_OK;
		if (rc == 1)
			rc = parse_line(line, &name, &value, why, sizeof(why));
		if (rc < 0) {
			iris__config_seterr(cfg, "%s:%u: %s", path, lineno,
			    why);
			return rc;
		}
		if (rc == 0)
			continue;
		iris__config_quote(q, sizeof(q), name);
		if (value == NULL && iris__config_index(name) >= 0) {
			iris__config_seterr(cfg, "%s:%u: missing value for"
			    " \"%s\"", path, lineno, q);
			return IRIS_ECONFIG;
		}
		if ((rc = iris_config_set(cfg, name, value != NULL ? value :
		    "")) != IRIS_OK) {
			/* cfg is the scratch copy; prefix its error. */
			memcpy(prev, cfg->err, sizeof(prev));
			iris__config_seterr(cfg, "%s:%u: %s", path, lineno,
			    prev);
			return rc;
		}
	}
}

IRIS_API int
iris_config_load_file(struct iris_config *cfg, const char *path)
{
	struct iris_config *tmp = NULL;
	struct iris__cval swap;
	struct reader rd;
	size_t i;
	int fd, rc;

	if (cfg == NULL)
		return IRIS_EINVAL;
	if (path == NULL) {
		iris__config_seterr(cfg, "missing file name");
		return IRIS_EINVAL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		iris__config_seterr(cfg, "%s: cannot open: %s", path,
		    strerror(errno));
		return IRIS_EIO;
	}
	/* Apply to a copy, then swap: a bad line leaves cfg as it was. */
	if ((rc = iris__config_dup(&tmp, cfg)) != IRIS_OK) {
		iris__config_seterr(cfg, "%s: out of memory", path);
		goto out;
	}
	memset(&rd, 0, sizeof(rd));
	rd.fd = fd;
	if ((rc = load(tmp, path, &rd)) != IRIS_OK) {
		memcpy(cfg->err, tmp->err, sizeof(cfg->err));
		goto out;
	}
	for (i = 0; i < IRIS__OPT_COUNT; i++) {
		swap = cfg->v[i];
		cfg->v[i] = tmp->v[i];
		tmp->v[i] = swap;
	}
	cfg->lg.level = tmp->lg.level;
	cfg->err[0] = '\0';
out:
	iris_config_free(tmp);
	close(fd);
	return rc;
}

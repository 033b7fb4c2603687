/* SPDX-License-Identifier: ISC */
/* The option table, and parsing and canonical printing of each value type. */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "iris.h"
#include "util/alloc.h"
#include "util/config_priv.h"

static int	check_nonempty(const char *, char *, size_t);
static int	check_hostport(const char *, char *, size_t);

const struct iris__copt iris__copts[IRIS__OPT_COUNT] = {
#define IRIS__COPT_ROW(id, name, type, def, min, max, words, check, desc) \
	{ name, IRIS__CT_##type, def, min, max, words, check, desc },
	IRIS__CONFIG_TABLE(IRIS__COPT_ROW)
#undef IRIS__COPT_ROW
};

/* Boolean words, true at even and false at odd positions. */
static const char *const bool_words[] = {
	"yes", "no", "true", "false", "on", "off", "1", "0",
};

/* Suffixes in decreasing order of size, for printing. */
static const struct unit {
	const char	*suffix;
	uint64_t	 mult;
} size_units[] = {
	{ "G", UINT64_C(1) << 30 },
	{ "M", UINT64_C(1) << 20 },
	{ "K", UINT64_C(1) << 10 },
}, dur_units[] = {
	{ "d", 86400000 },
	{ "h", 3600000 },
	{ "m", 60000 },
	{ "s", 1000 },
	{ "ms", 1 },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

size_t
iris__config_count(void)
{
	return IRIS__OPT_COUNT;
}

int
iris__config_index(const char *name)
{
	size_t i;

	for (i = 0; i < IRIS__OPT_COUNT; i++) {
		if (strcmp(iris__copts[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

void
iris__config_quote(char *out, size_t outlen, const char *s)
{
	size_t i, max;

	if (outlen == 0)
		return;
	/* Values are echoed in errors; long ones only in part. */
	max = outlen - 1 < 64 ? outlen - 1 : 64;
	for (i = 0; s[i] != '\0' && i < max; i++) {
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    '?' : s[i];
	}
	if (s[i] != '\0' && i >= 3)
		memcpy(out + i - 3, "...", 3);
	out[i] = '\0';
}

/*
 * Reads decimal digits at *pp and moves *pp past them: 0, -1 when there
 * are none, -2 on overflow.
 */
static int
parse_digits(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			while (isdigit((unsigned char)*p))
				p++;
			*pp = p;
			return -2;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

/* Multiplies a number by the unit its suffix names, per the table. */
static int
parse_unit(const char *value, const struct unit *units, size_t nunits,
    uint64_t bare, int nocase, uint64_t *out)
{
	const char *p = value;
	uint64_t v, mult;
	size_t i;
	int rc;

	if ((rc = parse_digits(&p, &v)) != 0)
		return rc;
	mult = bare;
	if (*p != '\0') {
		for (i = 0; i < nunits; i++) {
			if ((nocase ? strcasecmp(p, units[i].suffix) :
			    strcmp(p, units[i].suffix)) == 0)
				break;
		}
		if (i == nunits)
			return -1;
		mult = units[i].mult;
	}
	if (v > UINT64_MAX / mult)
		return -2;
	*out = v * mult;
	return 0;
}

static void
format_unit(char *buf, size_t len, uint64_t v, const struct unit *units,
    size_t nunits, const char *zero)
{
	size_t i;

	if (v == 0) {
		snprintf(buf, len, "%s", zero);
		return;
	}
	for (i = 0; i < nunits; i++) {
		if (v % units[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / units[i].mult,
			    units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

/* How a bound reads in an error: "65536 (64K)", "100ms", "255". */
static void
format_bound(const struct iris__copt *opt, uint64_t v, char *buf, size_t len)
{
	char canon[32];

	switch (opt->type) {
	case IRIS__CT_SIZE:
		format_unit(canon, sizeof(canon), v, size_units,
		    NELEM(size_units), "0");
		if (v >= 1024 && v % 1024 == 0)
			snprintf(buf, len, "%" PRIu64 " (%s)", v, canon);
		else
			snprintf(buf, len, "%" PRIu64, v);
		break;
	case IRIS__CT_DURATION:
		format_unit(buf, len, v, dur_units, NELEM(dur_units), "0s");
		break;
	default:
		snprintf(buf, len, "%" PRIu64, v);
		break;
	}
}

/* The length of the index-th space-separated word, which starts at *w. */
static size_t
word_at(const char *words, uint64_t index, const char **w)
{
	const char *p = words, *end;

	for (;; index--) {
		while (*p == ' ')
			p++;
		for (end = p; *end != '\0' && *end != ' '; end++)
			;
		if (index == 0 || end == p) {
			*w = p;
			return (size_t)(end - p);
		}
		p = end;
	}
}

/* The index of value among the space-separated words, or -1. */
static int
find_word(const char *words, const char *value)
{
	const char *w;
	size_t n;
	int i;

	for (i = 0; (n = word_at(words, (uint64_t)i, &w)) > 0; i++) {
		if (strlen(value) == n && strncasecmp(w, value, n) == 0)
			return i;
	}
	return -1;
}

static int
parse_number(const struct iris__copt *opt, const char *value, uint64_t *out,
    char *why, size_t whylen)
{
	char q[80], b[64];
	int rc;

	iris__config_quote(q, sizeof(q), value);
	switch (opt->type) {
	case IRIS__CT_SIZE:
		rc = parse_unit(value, size_units, NELEM(size_units), 1, 1,
		    out);
		if (rc == -1)
			snprintf(why, whylen, "\"%s\" is not a size (a number"
			    " of bytes, with K, M or G for binary units)", q);
		break;
	case IRIS__CT_DURATION:
		rc = parse_unit(value, dur_units, NELEM(dur_units), 1000, 0,
		    out);
		if (rc == -1)
			snprintf(why, whylen, "\"%s\" is not a duration (a"
			    " number with ms, s, m or h; seconds if none)", q);
		break;
	default:
		if ((rc = parse_digits(&value, out)) == 0 && *value != '\0')
			rc = -1;
		if (rc == -1)
			snprintf(why, whylen, "\"%s\" is not a number", q);
		break;
	}
	if (rc == -2)
		snprintf(why, whylen, "%s is too large", q);
	if (rc != 0)
		return IRIS_ECONFIG;
	if (*out < opt->min || *out > opt->max) {
		format_bound(opt, *out < opt->min ? opt->min : opt->max, b,
		    sizeof(b));
		snprintf(why, whylen, "%s is %s %s", q, *out < opt->min ?
		    "below the minimum" : "above the maximum", b);
		return IRIS_ECONFIG;
	}
	return IRIS_OK;
}

static int
parse_list(const struct iris__copt *opt, const char *value,
    struct iris__cval *out, char *why, size_t whylen)
{
	char word[IRIS__CONFIG_VALUE_MAX + 1];
	const char *p, *end;
	size_t n;
	int rc;

	for (p = value;; p = end) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return IRIS_OK;
		for (end = p; *end != '\0' && *end != ' ' && *end != '\t';
		    end++)
			;
		if (out->n == IRIS__CONFIG_LIST_MAX) {
			snprintf(why, whylen, "more than %d values",
			    IRIS__CONFIG_LIST_MAX);
			rc = IRIS_ECONFIG;
			goto fail;
		}
		n = (size_t)(end - p);
		memcpy(word, p, n);
		word[n] = '\0';
		if (opt->check != NULL &&
		    (rc = opt->check(word, why, whylen)) != IRIS_OK)
			goto fail;
		if ((out->items[out->n] = iris__strdup(word)) == NULL) {
			snprintf(why, whylen, "out of memory");
			rc = IRIS_ENOMEM;
			goto fail;
		}
		out->n++;
	}
fail:
	iris__config_val_clear(out);
	return rc;
}

int
iris__config_parse(const struct iris__copt *opt, const char *value,
    struct iris__cval *out, char *why, size_t whylen)
{
	const unsigned char *p;
	char q[80];
	int i, rc;

	memset(out, 0, sizeof(*out));
	if (strlen(value) > IRIS__CONFIG_VALUE_MAX) {
		snprintf(why, whylen, "value is longer than %d bytes",
		    IRIS__CONFIG_VALUE_MAX);
		return IRIS_ECONFIG;
	}
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			snprintf(why, whylen, "value contains a control"
			    " character");
			return IRIS_ECONFIG;
		}
	}
	if (*value == '\0' && opt->type != IRIS__CT_STRING &&
	    opt->type != IRIS__CT_LIST) {
		snprintf(why, whylen, "empty value");
		return IRIS_ECONFIG;
	}
	iris__config_quote(q, sizeof(q), value);

	switch (opt->type) {
	case IRIS__CT_STRING:
		if (opt->check != NULL &&
		    (rc = opt->check(value, why, whylen)) != IRIS_OK)
			return rc;
		if ((out->s = iris__strdup(value)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return IRIS_ENOMEM;
		}
		return IRIS_OK;
	case IRIS__CT_LIST:
		return parse_list(opt, value, out, why, whylen);
	case IRIS__CT_BOOL:
		for (i = 0; i < (int)NELEM(bool_words); i++) {
			if (strcasecmp(value, bool_words[i]) == 0) {
				out->u = i % 2 == 0;
				return IRIS_OK;
			}
		}
		snprintf(why, whylen, "\"%s\" is not a boolean (yes/no,"
		    " true/false, on/off, 1/0)", q);
		return IRIS_ECONFIG;
	case IRIS__CT_ENUM:
		if ((i = find_word(opt->words, value)) < 0) {
			snprintf(why, whylen, "\"%s\" is not one of: %s", q,
			    opt->words);
			return IRIS_ECONFIG;
		}
		out->u = (uint64_t)i;
		return IRIS_OK;
	default:
		return parse_number(opt, value, &out->u, why, whylen);
	}
}

int
iris__config_format(const struct iris__copt *opt, const struct iris__cval *v,
    char *buf, size_t len)
{
	const char *w;
	char num[32];
	size_t i, n, off;

	if (len == 0)
		return IRIS_ETOOBIG;
	switch (opt->type) {
	case IRIS__CT_STRING:
		if (strlen(v->s) >= len)
			goto toobig;
		memcpy(buf, v->s, strlen(v->s) + 1);
		return IRIS_OK;
	case IRIS__CT_LIST:
		for (i = 0, off = 0; i < v->n; i++) {
			n = strlen(v->items[i]);
			if (off + (i > 0) + n >= len)
				goto toobig;
			if (i > 0)
				buf[off++] = ' ';
			memcpy(buf + off, v->items[i], n);
			off += n;
		}
		buf[off] = '\0';
		return IRIS_OK;
	case IRIS__CT_BOOL:
		snprintf(num, sizeof(num), "%s", v->u ? "yes" : "no");
		break;
	case IRIS__CT_ENUM:
		n = word_at(opt->words, v->u, &w);
		snprintf(num, sizeof(num), "%.*s", (int)n, w);
		break;
	case IRIS__CT_SIZE:
		format_unit(num, sizeof(num), v->u, size_units,
		    NELEM(size_units), "0");
		break;
	case IRIS__CT_DURATION:
		format_unit(num, sizeof(num), v->u, dur_units,
		    NELEM(dur_units), "0s");
		break;
	default:
		snprintf(num, sizeof(num), "%" PRIu64, v->u);
		break;
	}
	if (strlen(num) >= len)
		goto toobig;
	memcpy(buf, num, strlen(num) + 1);
	return IRIS_OK;
toobig:
	buf[0] = '\0';
	return IRIS_ETOOBIG;
}

void
iris__config_val_clear(struct iris__cval *v)
{
	size_t i;

	iris__free(v->s);
	for (i = 0; i < v->n; i++)
		iris__free(v->items[i]);
	memset(v, 0, sizeof(*v));
}

static int
check_nonempty(const char *v, char *why, size_t len)
{
	if (*v != '\0')
		return IRIS_OK;
	snprintf(why, len, "must not be empty");
	return IRIS_ECONFIG;
}

/* Nonzero when [p, end) is not empty and holds only host name characters. */
static int
name_chars(const char *p, const char *end)
{
	if (p == end)
		return 0;
	for (; p < end; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != '_')
			return 0;
	}
	return 1;
}

/* HOST:PORT, with an IPv6 host in brackets; port 0..65535. */
static int
check_hostport(const char *v, char *why, size_t len)
{
	const char *host, *hend, *port, *p;
	char q[80];
	uint64_t n;
	int rc;

	iris__config_quote(q, sizeof(q), v);
	if (*v == '[') {
		host = v + 1;
		if ((hend = strchr(host, ']')) == NULL || hend[1] != ':')
			goto syntax;
		port = hend + 2;
		for (p = host; p < hend && *p != '%'; p++) {
			if (!isxdigit((unsigned char)*p) && *p != ':' &&
			    *p != '.')
				goto syntax;
		}
		if (memchr(host, ':', (size_t)(p - host)) == NULL)
			goto syntax;
		/* A zone, as in [fe80::1%eth0]:7443. */
		if (p < hend && !name_chars(p + 1, hend))
			goto syntax;
	} else {
		host = v;
		if ((hend = strchr(v, ':')) == NULL)
			goto syntax;
		if (strchr(hend + 1, ':') != NULL) {
			snprintf(why, len, "\"%s\": an IPv6 address needs"
			    " brackets, as in [::1]:7443", q);
			return IRIS_ECONFIG;
		}
		port = hend + 1;
		if (!name_chars(host, hend))
			goto syntax;
	}
	p = port;
	if ((rc = parse_digits(&p, &n)) == -1 || *p != '\0')
		goto syntax;
	if (rc == -2 || n > 65535) {
		snprintf(why, len, "\"%s\": the port is out of range"
		    " (0-65535)", q);
		return IRIS_ECONFIG;
	}
	return IRIS_OK;
syntax:
	snprintf(why, len, "\"%s\" is not HOST:PORT (as in 0.0.0.0:7443 or"
	    " [::1]:7443)", q);
	return IRIS_ECONFIG;
}

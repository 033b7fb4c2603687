/* SPDX-License-Identifier: ISC */
/* What the config*.c files share, and no other file sees. */
#ifndef IRIS_UTIL_CONFIG_PRIV_H
#define IRIS_UTIL_CONFIG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "util/log.h"

/* Longest value accepted by iris_config_set(), in bytes. */
#define IRIS__CONFIG_VALUE_MAX	4096
/* Room for one error text; longer texts are cut. */
#define IRIS__CONFIG_ERR_MAX	1024
/* Room for the reason part of an error ("NAME: " comes in front). */
#define IRIS__CONFIG_WHY_MAX	512

enum iris__ctype {
	IRIS__CT_STRING,
	IRIS__CT_UINT,
	IRIS__CT_BOOL,
	IRIS__CT_SIZE,
	IRIS__CT_DURATION,
	IRIS__CT_ENUM,
	IRIS__CT_LIST
};

/* One row of the option table (config_table.h). */
struct iris__copt {
	const char		 *name;
	enum iris__ctype	  type;
	const char		 *def;
	uint64_t		  min;
	uint64_t		  max;
	const char		 *words;
	/* Checks one string or list item; writes why it is refused. */
	int			(*check)(const char *v, char *why, size_t len);
	const char		 *desc;
};

extern const struct iris__copt	iris__copts[IRIS__OPT_COUNT];

/* One option's value; which fields are used depends on the type. */
struct iris__cval {
	uint64_t	 u;
	char		*s;
	char		*items[IRIS__CONFIG_LIST_MAX];
	size_t		 n;
	int		 set;	/* LIST: set explicitly, later sets append */
};

struct iris_config {
	struct iris__cval	v[IRIS__OPT_COUNT];
	struct iris_logger	lg;
	char			err[IRIS__CONFIG_ERR_MAX];
};

/*
 * Parses value for opt into out (zeroed first). A LIST value is split at
 * spaces and tabs into out->items; no words means "clear". On error
 * returns IRIS_ECONFIG (or IRIS_ENOMEM) with the reason in why, and out
 * holds nothing to free.
 */
int	iris__config_parse(const struct iris__copt *opt, const char *value,
	    struct iris__cval *out, char *why, size_t whylen);
/* Canonical text of a value into buf: IRIS_OK or IRIS_ETOOBIG. */
int	iris__config_format(const struct iris__copt *opt,
	    const struct iris__cval *v, char *buf, size_t len);
/* Frees what a value owns and zeroes it. */
void	iris__config_val_clear(struct iris__cval *v);
/* Copies s into out for an error text, cut and with '?' for controls. */
void	iris__config_quote(char *out, size_t outlen, const char *s);
/* Sets cfg's error text. */
void	iris__config_seterr(struct iris_config *cfg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif /* IRIS_UTIL_CONFIG_PRIV_H */

/* SPDX-License-Identifier: ISC */
/* Configuration objects: defaults, string setters and getters, typed access. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "util/config_priv.h"

void
iris__config_seterr(struct iris_config *cfg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg->err, sizeof(cfg->err), fmt, ap);
	va_end(ap);
}

static void
sync_logger(struct iris_config *cfg)
{
	cfg->lg.level = iris__config_log_level(cfg);
}

/*
 * Stores a parsed value, taking what it owns. Cannot fail, so a set
 * either happens whole or not at all.
 */
static void
commit(struct iris_config *cfg, size_t idx, struct iris__cval *nv,
    int explicit)
{
	struct iris__cval *v = &cfg->v[idx];
	size_t i;

	if (iris__copts[idx].type != IRIS__CT_LIST) {
		iris__config_val_clear(v);
		*v = *nv;
	} else if (explicit && v->set && nv->n > 0) {
		/* The default is replaced once; later sets append. */
		for (i = 0; i < nv->n; i++)
			v->items[v->n++] = nv->items[i];
	} else {
		/* First explicit set, or "" which empties the list. */
		iris__config_val_clear(v);
		*v = *nv;
		v->set = explicit;
	}
	memset(nv, 0, sizeof(*nv));
}

/* Parses and stores one value; errors read "NAME: reason". */
static int
apply(struct iris_config *cfg, size_t idx, const char *value, int explicit)
{
	const struct iris__copt *opt = &iris__copts[idx];
	struct iris__cval *v = &cfg->v[idx], nv;
	char why[IRIS__CONFIG_WHY_MAX];
	int rc;

	if ((rc = iris__config_parse(opt, value, &nv, why, sizeof(why))) !=
	    IRIS_OK) {
		iris__config_seterr(cfg, "%s: %s", opt->name, why);
		return rc;
	}
	if (opt->type == IRIS__CT_LIST && explicit && v->set &&
	    v->n + nv.n > IRIS__CONFIG_LIST_MAX) {
		iris__config_val_clear(&nv);
		iris__config_seterr(cfg, "%s: more than %d values", opt->name,
		    IRIS__CONFIG_LIST_MAX);
		return IRIS_ECONFIG;
	}
	commit(cfg, idx, &nv, explicit);
	if (idx == IRIS__OPT_LOG_LEVEL)
		sync_logger(cfg);
	return IRIS_OK;
}

IRIS_API int
iris_config_new(struct iris_config **cfgp)
{
	struct iris_config *cfg;
	size_t i;
	int rc;

	if (cfgp == NULL)
		return IRIS_EINVAL;
	*cfgp = NULL;
	if ((cfg = iris__calloc(1, sizeof(*cfg))) == NULL)
		return IRIS_ENOMEM;
	for (i = 0; i < IRIS__OPT_COUNT; i++) {
		/* Only IRIS_ENOMEM in practice: check_config tests defaults. */
		if ((rc = apply(cfg, i, iris__copts[i].def, 0)) != IRIS_OK)
			goto fail;
	}
	sync_logger(cfg);
	cfg->err[0] = '\0';
	*cfgp = cfg;
	return IRIS_OK;
fail:
	iris_config_free(cfg);
	return rc;
}

IRIS_API void
iris_config_free(struct iris_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < IRIS__OPT_COUNT; i++)
		iris__config_val_clear(&cfg->v[i]);
	iris__free(cfg);
}

int
iris__config_dup(struct iris_config **out, const struct iris_config *src)
{
	struct iris_config *cfg;
	const struct iris__cval *s;
	struct iris__cval *d;
	size_t i, j;

	*out = NULL;
	if ((cfg = iris__calloc(1, sizeof(*cfg))) == NULL)
		return IRIS_ENOMEM;
	cfg->lg = src->lg;
	for (i = 0; i < IRIS__OPT_COUNT; i++) {
		s = &src->v[i];
		d = &cfg->v[i];
		d->u = s->u;
		d->set = s->set;
		if (s->s != NULL && (d->s = iris__strdup(s->s)) == NULL)
			goto fail;
		for (j = 0; j < s->n; j++) {
			if ((d->items[j] = iris__strdup(s->items[j])) == NULL)
				goto fail;
			d->n++;
		}
	}
	*out = cfg;
	return IRIS_OK;
fail:
	iris_config_free(cfg);
	return IRIS_ENOMEM;
}

IRIS_API int
iris_config_set(struct iris_config *cfg, const char *key, const char *value)
{
	char q[80];
	int idx, rc;

	if (cfg == NULL)
		return IRIS_EINVAL;
	if (key == NULL) {
		iris__config_seterr(cfg, "missing option name");
		return IRIS_EINVAL;
	}
	iris__config_quote(q, sizeof(q), key);
	if ((idx = iris__config_index(key)) < 0) {
		iris__config_seterr(cfg, "unknown option \"%s\"", q);
		return IRIS_ECONFIG;
	}
	if (value == NULL) {
		iris__config_seterr(cfg, "%s: missing value", q);
		return IRIS_EINVAL;
	}
	if ((rc = apply(cfg, (size_t)idx, value, 1)) != IRIS_OK)
		return rc;
	cfg->err[0] = '\0';
	return IRIS_OK;
}

IRIS_API int
iris_config_get(const struct iris_config *cfg, const char *key, char *buf,
    size_t len)
{
	int idx;

	if (cfg == NULL || key == NULL || (buf == NULL && len > 0))
		return IRIS_EINVAL;
	if ((idx = iris__config_index(key)) < 0) {
		if (len > 0)
			buf[0] = '\0';
		return IRIS_ECONFIG;
	}
	if (len == 0)
		return IRIS_ETOOBIG;
	return iris__config_format(&iris__copts[idx], &cfg->v[idx], buf, len);
}

IRIS_API const char *
iris_config_error(const struct iris_config *cfg)
{
	return cfg != NULL ? cfg->err : "";
}

IRIS_API void
iris_config_set_log_cb(struct iris_config *cfg, iris_log_cb cb, void *arg)
{
	if (cfg == NULL)
		return;
	cfg->lg.cb = cb;
	cfg->lg.arg = arg;
}

IRIS_API const char *
iris_config_key(size_t index)
{
	return index < IRIS__OPT_COUNT ? iris__copts[index].name : NULL;
}

IRIS_API const char *
iris_config_default(size_t index)
{
	return index < IRIS__OPT_COUNT ? iris__copts[index].def : NULL;
}

IRIS_API const char *
iris_config_describe(size_t index)
{
	return index < IRIS__OPT_COUNT ? iris__copts[index].desc : NULL;
}

/* NULL unless opt is a valid option of type t. */
static const struct iris__cval *
value_of(const struct iris_config *cfg, int opt, enum iris__ctype t)
{
	if (cfg == NULL || opt < 0 || opt >= IRIS__OPT_COUNT ||
	    iris__copts[opt].type != t)
		return NULL;
	return &cfg->v[opt];
}

uint64_t
iris__config_uint(const struct iris_config *cfg, int opt)
{
	if (cfg == NULL || opt < 0 || opt >= IRIS__OPT_COUNT)
		return 0;
	switch (iris__copts[opt].type) {
	case IRIS__CT_STRING:
	case IRIS__CT_LIST:
		return 0;
	default:
		return cfg->v[opt].u;
	}
}

const char *
iris__config_str(const struct iris_config *cfg, int opt)
{
	const struct iris__cval *v;

	v = value_of(cfg, opt, IRIS__CT_STRING);
	return v != NULL ? v->s : NULL;
}

size_t
iris__config_list(const struct iris_config *cfg, int opt,
    const char *const **items)
{
	const struct iris__cval *v;

	if ((v = value_of(cfg, opt, IRIS__CT_LIST)) == NULL) {
		if (items != NULL)
			*items = NULL;
		return 0;
	}
	if (items != NULL)
		*items = (const char *const *)v->items;
	return v->n;
}

int
iris__config_log_level(const struct iris_config *cfg)
{
	/* The enum's words run from err to debug, as IRIS_LOG_* do. */
	return IRIS_LOG_ERR + (int)iris__config_uint(cfg, IRIS__OPT_LOG_LEVEL);
}

const struct iris_logger *
iris__config_logger(const struct iris_config *cfg)
{
	return cfg != NULL ? &cfg->lg : NULL;
}

/* SPDX-License-Identifier: ISC */
/* Typed access to a configuration, for the modules built from one. */
#ifndef IRIS_UTIL_CONFIG_H
#define IRIS_UTIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "iris.h"
#include "util/config_table.h"
#include "util/log.h"

/*
 * A config is used by one thread at a time; objects made from one keep
 * their own copy (iris__config_dup()), so the embedder may change or
 * free it afterwards.
 */

/* Option ids, in table order: IRIS__OPT_DATA_DIR, IRIS__OPT_LISTEN, ... */
enum iris__opt {
#define IRIS__OPT_ENUM(id, ...)	IRIS__OPT_##id,
	IRIS__CONFIG_TABLE(IRIS__OPT_ENUM)
#undef IRIS__OPT_ENUM
	IRIS__OPT_COUNT
};

/* Most items of a LIST option. */
#define IRIS__CONFIG_LIST_MAX	16

/*
 * The value of option opt (an enum iris__opt): UINT and SIZE as is,
 * DURATION in ms, BOOL as 0 or 1, ENUM as the index of its word; 0 for
 * any other type.
 */
uint64_t	 iris__config_uint(const struct iris_config *cfg, int opt);
/* A STRING option's value, owned by cfg; NULL for other types. */
const char	*iris__config_str(const struct iris_config *cfg, int opt);
/* A LIST option's items (owned by cfg) in *items; returns their count. */
size_t		 iris__config_list(const struct iris_config *cfg, int opt,
		    const char *const **items);
/* The log_level option as an IRIS_LOG_* level. */
int		 iris__config_log_level(const struct iris_config *cfg);
/*
 * The config's logger (callback, argument and log_level), valid while
 * cfg lives; objects made from a config keep a copy of it.
 */
const struct iris_logger *iris__config_logger(const struct iris_config *cfg);
/* A deep copy of src in *out (NULL on failure): IRIS_OK or IRIS_ENOMEM. */
int		 iris__config_dup(struct iris_config **out,
		    const struct iris_config *src);

/* The number of options, and an option's index by name (-1 if unknown). */
size_t		 iris__config_count(void);
int		 iris__config_index(const char *name);

#endif /* IRIS_UTIL_CONFIG_H */

/* SPDX-License-Identifier: ISC */
/*
 * The core services behind the bus: sends checked against signed device
 * lists, appended durably and pushed to online devices; acks, delivery
 * receipts, sync pages; presence, contacts and settings; account writes.
 * The edge never calls these: it reaches the core through the bus
 * (lib/bus/bus.h). The engine makes one core per store.
 */
#ifndef IRIS_CORE_CORE_H
#define IRIS_CORE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/histo.h"

struct event_base;
struct iris_bus;
struct iris_config;
struct iris_logger;
struct iris_store;
struct iris_core;

#define IRIS_CORE_CODES		64	/* refusals counted by wire code */

struct iris_core_stats {
	uint64_t	 msg_in;	/* sends taken in */
	uint64_t	 stored;	/* sends stored (not duplicates) */
	uint64_t	 dedup_hit;	/* retries of stored sends */
	uint64_t	 sends_refused;
	uint64_t	 refused[IRIS_CORE_CODES];	/* by wire code */
	uint64_t	 doorbells;
	uint64_t	 typing_relayed;
	uint64_t	 typing_shed;
	uint64_t	 presence_sent;
	uint64_t	 presence_shed;
	uint64_t	 receipts_shed;	/* acks that made none under load */
	uint64_t	 sync_pages;
	/* The key directory (lib/core/keys.c). */
	uint64_t	 keys_uploaded;	/* uploads stored */
	uint64_t	 bundles_fetched;
	uint64_t	 prekeys_handed_out;
	uint64_t	 prekeys_exhausted;	/* bundles with no one-time key */
	uint64_t	 prekey_low_sent;	/* notices pushed */
};

int	 iris__core_new(struct iris_core **corep, struct event_base *base,
	    const struct iris_config *cfg, struct iris_store *store,
	    struct iris_bus *bus);
/* Frees what waits on the store without calling back. */
void	 iris__core_free(struct iris_core *core);
int	 iris__core_reconfigure(struct iris_core *core,
	    const struct iris_config *cfg);
const struct iris_core_stats *iris__core_stats(const struct iris_core *core);
/* Requests waiting on the store. */
size_t	 iris__core_pending(const struct iris_core *core);

/*
 * Overload, in levels: 0 none; 1 typing is shed; 2 presence too; 3
 * delivery receipts too. Measured from the store's write queue (shed_at,
 * twice and four times it); messages are never shed. A test can force
 * a level (-1 measures again).
 */
int	 iris__core_overload(struct iris_core *core);
void	 iris__core_force_overload(struct iris_core *core, int level);

/* The wall clock of the core's services (ms); tests move it. NULL: the
 * real one. */
void	 iris__core_set_clock(struct iris_core *core,
	    uint64_t (*now_ms)(void *arg), void *arg);

#endif /* IRIS_CORE_CORE_H */

/* SPDX-License-Identifier: ISC */
/* The core's insides, shared by the files of lib/core. */
#ifndef IRIS_CORE_PRIV_H
#define IRIS_CORE_PRIV_H

#include <stdint.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"
#include "util/config.h"
#include "util/hmap.h"
#include "util/log.h"
#include "wire/msg.h"

/* What the core knows of a user's devices (a cache of the store). */
struct devinfo {
	int		 exists;
	int		 has_list;
	uint64_t	 version;
	uint32_t	 ndev;
	uint32_t	 dev[IRIS_DEVICES_MAX];
};

/* Two ways per set: a hot user whose slot another takes stays held. */
#define DL_WAYS		2
#define DL_SLOTS	4096	/* ~350 bytes each, touched as used */

struct dl_slot {
	char		 user[IRIS_USER_MAX + 1];
	int		 valid;
	uint64_t	 used;		/* the core's clock at the last hit */
	struct devinfo	 info;
};

struct iris_acct_job;
struct core_op;
typedef void (*core_acct_done)(struct core_op *op, struct iris_acct_job *j);

/* A request waiting on the store; freed by whoever finishes it. */
struct core_op {
	struct core_op		*prev, *next;
	struct iris_core	*core;
	struct iris_bus_req	*req;
	void			*data;		/* the op's own state */
	core_acct_done		 acct_done;
};

struct iris_core {
	struct event_base	*base;
	struct iris_config	*cfg;
	struct iris_logger	 log;
	struct iris_store	*store;
	struct iris_bus		*bus;
	struct iris_wire_limits	 lim;
	uint32_t		 max_devices;
	size_t			 page_bytes;	/* budget of a page or fetch */
	uint64_t		 shed_at;
	uint32_t		 max_subs;
	uint32_t		 max_contacts;
	uint32_t		 max_prekeys;
	uint32_t		 prekey_low;
	uint64_t		 spk_grace_ms;
	uint64_t		(*now_ms)(void *arg);
	void			*now_arg;
	int			 forced;	/* -1: measured */
	int			 level;		/* last measured */

	struct core_op		*ops;
	size_t			 nops;
	struct dl_slot		*dl;
	uint64_t		 dl_clock;
	struct iris_hmap	 senders;	/* by conn: FIFO chains */
	struct iris_hmap	 presence;	/* by user */
	struct iris_hmap	 watchers;	/* by conn: subscriptions */
	size_t			 dirty;		/* presence not yet told */
	size_t			 trim_at;	/* presence entries */
	struct event		*tick;
	struct iris_core_stats	 st;
};

/* lib/core/core.c */
struct core_op *iris__core_op_new(struct iris_core *core,
	    struct iris_bus_req *req);
/* Unlinks op, frees it (not its data) and replies to its request. */
void	 iris__core_op_reply(struct core_op *op);
void	 iris__core_op_free(struct core_op *op);
/* Answers req with an error (retryable codes want retry_ms). */
void	 iris__core_refuse(struct iris_core *core, struct iris_bus_req *req,
	    int code, uint32_t retry_ms, const char *detail);
/* A store result as an answer: busy, unavailable, or internal. */
void	 iris__core_store_error(struct iris_core *core,
	    struct iris_bus_req *req, int rc);
/* Encodes m into *buf (malloc'd) with its header; IRIS_OK or an error. */
int	 iris__core_encode(struct iris_wire_msg *m, uint8_t **buf,
	    size_t *len);
/* Appends the encoding of m to a growing buffer. */
int	 iris__core_encode_append(struct iris_wire_msg *m, uint8_t **buf,
	    size_t *len, size_t *cap);
/* Submits an account job for req (always takes j); done runs with the
 * job's outcome. IRIS_OK, or an error after which req is still the
 * caller's to answer. */
int	 iris__core_acct_submit(struct iris_core *core,
	    struct iris_bus_req *req, struct iris_acct_job *j,
	    core_acct_done done);
const struct devinfo *iris__core_devinfo(struct iris_core *core,
	    const char *user, int *rc);
void	 iris__core_devinfo_forget(struct iris_core *core, const char *user);
void	 iris__core_trace(const struct iris_bus_caller *from, char out[33]);

/* lib/core/send.c */
void	 iris__core_send(struct iris_core *core, struct iris_bus_req *req);
void	 iris__core_senders_drop(struct iris_core *core, uint64_t conn);
void	 iris__core_senders_free(struct iris_core *core);
/* Encodes one Deliver of a stored message for a push or a fetch. */
int	 iris__core_deliver_frame(const struct iris_message *msg,
	    uint8_t **buf, size_t *len, size_t *cap);

/* lib/core/inbox.c */
void	 iris__core_ack(struct iris_core *core, struct iris_bus_req *req);
void	 iris__core_sync(struct iris_core *core, struct iris_bus_req *req,
	    int fetch);
/* Rings the doorbell of one device for a stored delivery. */
void	 iris__core_doorbell(struct iris_core *core, const char *user,
	    uint32_t device, uint64_t seq, int msg_class, uint64_t t0_us,
	    uint8_t *frame, size_t len);

/* lib/core/presence.c */
void	 iris__core_presence(struct iris_core *core, struct iris_bus_req *req);
/* Is (user, device) connected somewhere? */
int	 iris__core_online(struct iris_core *core, const char *user,
	    uint32_t device);
void	 iris__core_presence_tick(struct iris_core *core);
void	 iris__core_presence_free(struct iris_core *core);
/* The user's settings changed (privacy, contacts): re-tell watchers. */
void	 iris__core_presence_recheck(struct iris_core *core,
	    const char *user);

/* lib/core/accounts.c */
void	 iris__core_account(struct iris_core *core, struct iris_bus_req *req);

/* lib/core/keys.c: bundle uploads and fetches, prekey_low notices. */
void	 iris__core_keys(struct iris_core *core, struct iris_bus_req *req);
/* A device logged in: a notice if its pool is below the low mark. */
void	 iris__core_keys_online(struct iris_core *core,
	    const struct iris_bus_req *req);

#endif /* IRIS_CORE_PRIV_H */

/* SPDX-License-Identifier: ISC */
/*
 * The bus between the edge (client connections, lib/engine) and the core
 * services (inbox, presence, accounts, lib/core): named requests that the
 * core answers through a completion callback on the caller's loop, and
 * pushes from the core to whichever edge holds a device's connections.
 *
 * In one process the bus is an in-process queue (lib/bus/local.c): a
 * request is handled on a later turn of the loop and its answer comes on
 * a later one still, never inside the call that caused it. Everything a
 * message carries is plain data (ids, sizes, byte strings, encoded
 * frames), so that a network backend (NATS, DESIGN.md §9) can carry the
 * same messages: a request names the authenticated caller (user, device,
 * the edge's connection id) and the frame's trace id; the core pushes to
 * edges by (user, device), and its doorbells carry (device, seq, previous
 * seq) so that an edge can see a gap and fetch what it missed. Whatever
 * the core keeps per connection (FIFO chains, presence subscriptions) is
 * keyed by the connection id and dropped when the edge says it is gone.
 */
#ifndef IRIS_BUS_BUS_H
#define IRIS_BUS_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "wire/msg.h"

struct event_base;
struct iris_bus;

enum iris_bus_op {
	/* Messaging (lib/core/send.c, lib/core/inbox.c). */
	IRIS_BUS_SEND = 1,	/* u.send */
	IRIS_BUS_ACK,		/* u.seq: cumulative ack of the caller */
	IRIS_BUS_SYNC,		/* u.sync: a SyncPage for the client */
	IRIS_BUS_FETCH,		/* u.sync: Deliver frames to push */
	/* Presence and contacts (lib/core/presence.c); u.frame. */
	IRIS_BUS_PRESENCE_SUB,
	IRIS_BUS_PRESENCE_UNSUB,
	IRIS_BUS_SETTINGS,
	IRIS_BUS_CONTACTS_GET,
	IRIS_BUS_CONTACTS_EDIT,
	/* The edge tells who is connected (no answer). */
	IRIS_BUS_ONLINE,
	IRIS_BUS_OFFLINE,
	/* Accounts (lib/core/accounts.c): the edge has checked the proofs. */
	IRIS_BUS_REGISTER,	/* u.acct */
	IRIS_BUS_LINK,		/* u.acct: a link token */
	IRIS_BUS_INVITE,	/* u.acct: an invite code */
	IRIS_BUS_REVOKE,	/* u.acct: a token id or a device */
	IRIS_BUS_DISABLE,	/* u.acct: an account (dis)abled */
	IRIS_BUS_DEVLIST_PUT,	/* u.frame: a signed device list */
	/* The key directory (lib/core/keys.c); u.frame. */
	IRIS_BUS_KEYS_UPLOAD,
	IRIS_BUS_KEYS_FETCH,
	IRIS_BUS_OPS
};

/* Who asks: the authenticated device, as its edge vouches for it. */
struct iris_bus_caller {
	char		 user[IRIS_USER_MAX + 1];	/* "" for admin */
	uint32_t	 device;
	uint64_t	 conn;		/* the edge's connection id, 0: none */
	uint8_t		 trace[16];	/* the frame's trace id, or zeros */
	uint64_t	 t0_us;		/* wall clock µs when the frame came */
};

struct iris_bus_send {
	uint8_t			 cmid[16];
	int			 msg_class;
	int			 transient;
	struct iris_wire_envelope *envs;	/* payloads point into buf */
	size_t			 nenvs;
	uint8_t			*buf;
	/* The connection's FIFO chain: the edge starts a new one (a higher
	 * number) when it lets a refused send be resent. */
	uint64_t		 chain;
	uint64_t		 idx;		/* its place in the chain */
};

struct iris_bus_sync {
	uint64_t	 after;
	uint32_t	 max;
};

/* Account requests and their results (the store's account job). */
struct iris_bus_acct {
	char		 user[IRIS_USER_MAX + 1];
	uint32_t	 device;
	uint8_t		 key[32];
	char		 name[65];
	char		 code[65];	/* invite or link token */
	int		 is_link;
	int		 open_policy;
	int		 flag;		/* DISABLE: 1 disable, 0 enable */
	uint32_t	 max_devices;
	uint64_t	 expires_ms;
	int		 revoke_kind;
	uint8_t		 revoke_key[80];
	size_t		 revoke_len;
	/* Results. */
	int		 rc;		/* IRIS_OK or the store's refusal */
	uint32_t	 out_device;
	int		 out_primary;
};

/*
 * The answer, filled by the core. code is 0 or an iris_v1_ErrorCode;
 * frames, when set, are encoded frames the edge writes to the client as
 * they are (an error with device lists, a SendAck, a SyncPage, Deliver
 * frames); otherwise the edge makes the frame from the fields.
 */
struct iris_bus_reply {
	int		 code;
	uint32_t	 retry_ms;
	char		 detail[128];
	uint8_t		*frames;
	size_t		 len;
	uint64_t	 seq;		/* ACK: cursor; SYNC, FETCH: last seq */
	uint64_t	 head;		/* SYNC, FETCH: the inbox's head */
	int		 more;		/* SYNC: another page follows */
	uint32_t	 count;		/* SEND: envelopes; else: items */
	uint64_t	 msg_id;	/* SEND */
	int		 duplicate;	/* SEND */
	struct iris_bus_acct acct;	/* account ops */
};

/* What sits on the bus's queues: requests, answers and pushes. */
struct iris_bus_item {
	struct iris_bus_item	*next;
	int			 is_push;
};

struct iris_bus_req;
typedef void (*iris_bus_cb)(struct iris_bus_req *req, void *arg);

struct iris_bus_req {
	struct iris_bus_item	 item;		/* first */
	struct iris_bus		*bus;
	enum iris_bus_op	 op;
	struct iris_bus_caller	 from;
	uint64_t		 rid;		/* the client's request id */
	union {
		struct iris_bus_send	 send;
		struct iris_bus_sync	 sync;
		struct iris_bus_acct	 acct;
		uint64_t		 seq;
		iris_v1_Frame		*frame;	/* a copy of the frame */
	} u;
	struct iris_bus_reply	 rep;
	iris_bus_cb		 cb;
	void			*arg;
};

enum iris_push_kind {
	IRIS_PUSH_DOORBELL = 1,	/* a stored delivery: (device, seq, prev) */
	IRIS_PUSH_RELAY,	/* a transient delivery for online devices */
	IRIS_PUSH_CONN,		/* a frame for one connection (presence) */
	IRIS_PUSH_NOTICE,	/* a frame for every connection of a device */
};

struct iris_bus_push {
	struct iris_bus_item	 item;		/* first */
	enum iris_push_kind	 kind;
	char			 user[IRIS_USER_MAX + 1];
	uint32_t		 device;
	uint64_t		 conn;		/* CONN */
	uint64_t		 seq, prev;	/* DOORBELL */
	int			 msg_class;	/* for shedding at the edge */
	uint64_t		 t0_us;		/* when its send came in */
	uint8_t			*frame;		/* one frame, request id 0 */
	size_t			 len;
};

/*
 * A bus on base; max_queue bounds the requests waiting for the core
 * (past it iris__bus_request refuses with IRIS_EAGAIN). Answers and
 * pushes are bounded by the requests that cause them.
 */
int	 iris__bus_new(struct iris_bus **busp, struct event_base *base,
	    size_t max_queue);
/* Drops whatever is queued without calling back. */
void	 iris__bus_free(struct iris_bus *bus);

typedef void (*iris_bus_handler)(struct iris_bus_req *req, void *arg);
typedef void (*iris_bus_pusher)(const struct iris_bus_push *p, void *arg);
void	 iris__bus_set_core(struct iris_bus *bus, iris_bus_handler h,
	    void *arg);
void	 iris__bus_set_edge(struct iris_bus *bus, iris_bus_pusher p,
	    void *arg);

/* A zeroed request from caller (NULL: the administrator). */
struct iris_bus_req *iris__bus_req_new(struct iris_bus *bus,
	    enum iris_bus_op op, const struct iris_bus_caller *caller,
	    uint64_t rid);
/*
 * Moves a decoded Send into req: the frame bytes are copied once and the
 * envelope array is taken from m (m no longer frees it).
 */
int	 iris__bus_req_send(struct iris_bus_req *req, struct iris_wire_msg *m,
	    const uint8_t *frame, size_t len);
/* Copies the frame of a small request (presence, contacts, devlist). */
int	 iris__bus_req_frame(struct iris_bus_req *req,
	    const iris_v1_Frame *f);
void	 iris__bus_req_free(struct iris_bus_req *req);

/*
 * Queues req for the core and always takes it. IRIS_OK: cb (may be NULL)
 * runs on a later loop turn with req->rep filled, then req is freed;
 * IRIS_EAGAIN: the queue is full and cb never runs. ONLINE and OFFLINE
 * are never refused (there is one of each per connection).
 */
int	 iris__bus_request(struct iris_bus_req *req, iris_bus_cb cb,
	    void *arg);
/* The core's answer to req (req->rep filled). */
void	 iris__bus_reply(struct iris_bus_req *req);
/* The core's push; takes p and its frame. */
void	 iris__bus_push(struct iris_bus *bus, struct iris_bus_push *p);

/* Keyed hash (SipHash) of a (user, device) key, for hash maps. */
uint64_t iris__bus_hash(const struct iris_bus *bus, const char *user,
	    uint32_t device);
/* Requests waiting for the core plus items waiting for the edge. */
size_t	 iris__bus_queued(const struct iris_bus *bus);

#endif /* IRIS_BUS_BUS_H */

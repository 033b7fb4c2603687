/* SPDX-License-Identifier: ISC */
/*
 * The client object, inside. One device account on the embedder's loop:
 * a connection that reconnects by itself (conn.c), registration and login
 * (auth.c), device lists (devlist.c), the durable outbox (outbox.c), the
 * receive pipeline (recv.c), presence and contacts (social.c), and the
 * queue through which every callback reaches the embedder on the loop,
 * never from inside the call that caused it (client.c).
 */
#ifndef IRIS_CLIENT_CLIENT_H
#define IRIS_CLIENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "iris_client.h"
#include "client/cstore.h"
#include "client/rec.h"
#include "client/seal.h"
#include "net/tls.h"
#include "util/bucket.h"
#include "util/log.h"
#include "util/uuid.h"
#include "wire/frame.h"
#include "wire/msg.h"

#define IRIS_CLIENT_MAX_REQS	512	/* requests in flight */
#define IRIS_CLIENT_INFLIGHT	32	/* sends in flight */
#define IRIS_CLIENT_RX_WINDOW	512	/* deliveries not yet committed */
#define IRIS_CLIENT_RX_BYTES	(8u << 20)	/* their envelopes' bytes */
#define IRIS_CLIENT_SUBS_MAX	1024	/* presence subscriptions */
#define IRIS_CLIENT_LISTS_MAX	256	/* device lists cached in memory */
#define IRIS_CLIENT_OUTBOX_MAX	10000	/* default outbox bound */
#define IRIS_CLIENT_PRIMARY	1	/* the device that signs the list */
#define IRIS_CLIENT_ADDRS	4	/* addresses of a name tried in turn */

struct iris_client_config {
	char			 server[300];	/* host:port */
	int			 have_pin;
	uint8_t			 pin[IRIS_FP_LEN];
	char			*ca_path;
	char			 user[IRIS_USER_MAX + 1];
	char			 account[256];
	char			 device_name[64];
	unsigned		 backoff_min_ms;
	unsigned		 backoff_max_ms;
	size_t			 outbox_max;
	struct iris_logger	 log;
	char			 err[256];
};

/* Connection states, finer than the public ones. */
enum cstate {
	C_IDLE,			/* not asked to connect */
	C_WAIT,			/* waiting to reconnect */
	C_RESOLVING,
	C_CONNECTING,		/* TCP and TLS */
	C_HELLO,
	C_AUTH,			/* registering or logging in */
	C_ONLINE,
};

/* Kinds of requests in flight. */
enum creq_kind {
	RQ_NONE, RQ_HELLO, RQ_REGISTER, RQ_LOGIN, RQ_PING, RQ_DEVLIST_GET,
	RQ_DEVLIST_PUT, RQ_LINK_TOKEN, RQ_SEND, RQ_TYPING, RQ_SYNC, RQ_ACK,
	RQ_CONTACTS_GET, RQ_CONTACTS_EDIT, RQ_SETTINGS, RQ_SUBSCRIBE,
	RQ_UNSUBSCRIBE, RQ_KEYS_UPLOAD, RQ_KEYS_FETCH,
};

struct creq {
	uint64_t		 rid;		/* 0: free slot */
	enum creq_kind		 kind;
	uint64_t		 num;		/* outbox seq, ... */
	char			 to[IRIS_USER_MAX + 1];	/* typing */
	void			*ctx;		/* owned by the kind's code */
	union {
		iris_client_done_cb	 done;
		iris_client_token_cb	 token;
		iris_client_devices_cb	 devices;
		iris_client_contacts_cb	 contacts;
	}			 cb;
	void			*arg;
};

/* An event for the embedder, queued and fired from the loop. */
struct cev {
	struct cev		*next;
	/* Calls the embedder; then the event is freed by drop. */
	void			(*fire)(struct iris_client *c, struct cev *e);
	void			(*drop)(struct cev *e);
};

/* A verified device list. */
struct devlist {
	struct devlist		*next;
	char			 user[IRIS_USER_MAX + 1];
	uint64_t		 version;
	size_t			 n;
	uint32_t		 ids[IRIS_DEVICES_MAX];
	uint8_t			 keys[IRIS_DEVICES_MAX][32];
	uint8_t			 primary[32];	/* key of device 1 */
	uint64_t		 used;		/* for eviction */
};

/* One send in the outbox (metadata; content stays in the store). */
enum ob_state {
	OB_COMMITTING,		/* not durable yet */
	OB_QUEUED,		/* durable, not sealed for the current lists */
	OB_SEALING,		/* sealed envelopes being committed */
	OB_READY,		/* sealed and durable: may be sent */
	OB_INFLIGHT,		/* sent, no answer yet */
};

struct ob_entry {
	struct ob_entry		*next;
	uint64_t		 seq;		/* local order */
	uint8_t			 cmid[16];
	char			 to[IRIS_USER_MAX + 1];
	uint32_t		 type;
	enum ob_state		 state;
	uint64_t		 rid;		/* current request */
	unsigned		 stale;		/* stale-device refusals */
	int			 reseal;	/* lists changed in flight */
	/* What it carries (seal.h); a send the library made itself (a
	 * retry request, a read receipt, a resend of "of") reports no
	 * sent events. */
	int			 kind;
	int			 has_of;
	uint8_t			 of[16];
};
#define OB_QUIET(e)	((e)->kind != IRIS__CONTENT_MESSAGE || (e)->has_of)

struct rx_item;
struct rx_held;
struct read_stage;

/* A received message, as the message callback borrows it (recv.c). */
struct iris_client_msg {
	const uint8_t		*id;
	const char		*sender;
	uint32_t		 sender_device;
	const char		*recipient;
	uint32_t		 type;
	const uint8_t		*body;
	size_t			 len;
	uint64_t		 time;
};

struct iris_client {
	struct event_base	*base;
	struct iris_client_store *cs;
	struct iris_client_config cfg;
	struct iris_logger	 log;
	char			 err[512];

	/* The embedder's callbacks. */
	iris_client_state_cb	 on_state;	void *on_state_arg;
	iris_client_message_cb	 on_message;	void *on_message_arg;
	iris_client_sent_cb	 on_sent;	void *on_sent_arg;
	iris_client_receipt_cb	 on_receipt;	void *on_receipt_arg;
	iris_client_typing_cb	 on_typing;	void *on_typing_arg;
	iris_client_presence_cb	 on_presence;	void *on_presence_arg;
	iris_client_error_cb	 on_error;	void *on_error_arg;
	iris_client_identity_cb	 on_identity;	void *on_identity_arg;
	iris_client_read_cb	 on_read;	void *on_read_arg;

	/* Events waiting for the loop. */
	struct cev		*evq;
	struct cev		*evq_tail;
	struct event		*ev_dispatch;
	int			 in_cb;
	int			 dead;		/* freed inside a callback */
	int			 gone;		/* torn down, jobs pending */
	int			 jobs;		/* store transactions pending */

	/* The account (from the store, or being made). */
	int64_t			 acct;		/* 0: none yet */
	uint8_t			 acct_tag[IRIS_CS_TAG_LEN];
	char			 user[IRIS_USER_MAX + 1];
	uint32_t		 device;	/* 0: not registered yet */
	int			 primary;
	uint8_t			 pk[32];
	uint8_t			 sk[64];
	uint8_t			 token[192];
	size_t			 tlen;
	uint64_t		 token_exp;
	uint8_t			 server_id[16];
	int			 have_server_id;
	uint64_t		 next_seq;	/* next outbox seq */
	int			 listed;	/* own list names this device */

	/* Sealing (lib/client/seal.h). */
	const struct iris__sealer_ops *seal;
	void			*sealer;
	struct iris_uuidgen	 uuids;

	/* The connection. */
	enum cstate		 st;
	int			 pub_state;	/* last reported */
	int			 want;		/* connect asked for */
	struct iris_tls_ctx	*tls;
	struct iris_netconn	*nc;
	struct iris_framer	 fr;
	struct iris_wire_limits	 lim;		/* what we accept */
	uint32_t		 srv_max_envelope;
	uint32_t		 srv_max_envelopes;
	uint32_t		 srv_idle_ms;
	uint8_t			 challenge[32];
	int			 challenge_fresh;
	struct sockaddr_storage	 addrs[IRIS_CLIENT_ADDRS];	/* resolved */
	socklen_t		 addrlens[IRIS_CLIENT_ADDRS];
	size_t			 naddrs;
	size_t			 addr_i;	/* the one being tried */
	char			 host[256];	/* for CA name checks */
	int			 port;
	struct evdns_base	*dns;
	struct evdns_getaddrinfo_request *dnsreq;
	uint8_t			 tls_sess[2048];	/* for resumption */
	size_t			 tls_slen;
	struct event		*ev_retry;	/* reconnect timer */
	struct event		*ev_ping;
	int			 ping_out;
	unsigned		 attempt;	/* failures since online */
	uint32_t		 retry_after_ms;	/* from the server */
	int			 last_err;
	int			 stop_err;	/* retrying will not fix it */

	/* Registration in progress. */
	int			 registering;	/* 1 register, 2 link */
	int			 reg_again;	/* the key was made before */
	int			 reg_probe;	/* logging in to see if it was */
	char			 invite[65];
	iris_client_done_cb	 reg_cb;
	void			*reg_arg;

	/* Requests in flight. */
	struct creq		 reqs[IRIS_CLIENT_MAX_REQS];
	size_t			 nreqs;
	uint64_t		 next_rid;

	/* Device lists. */
	struct devlist		*lists;
	size_t			 nlists;
	uint64_t		 list_clock;
	int			 own_fetching;

	/* Outbox (outbox.c). */
	struct ob_entry		*ob_head;
	struct ob_entry		*ob_tail;
	size_t			 ob_n;
	size_t			 ob_inflight;
	uint64_t		 ob_pause_until;	/* ms, monotonic */
	struct event		*ev_ob;
	struct iris_bucket	 ob_bucket;
	int			 ob_have_bucket;
	/* Acks whose sent records are still committing: a receipt may
	 * come before its record is readable. */
	struct acked_ctx	*ob_acking;

	/* Receive pipeline (recv.c). */
	struct rx_item		*rx_head;	/* accepted, not committed */
	struct rx_item		*rx_tail;
	size_t			 rx_n;
	size_t			 rx_bytes;	/* envelopes held by rx_n */
	uint64_t		 rx_cursor;	/* committed */
	uint64_t		 rx_last;	/* highest seq accepted */
	uint64_t		 rx_acked;	/* highest ack sent */
	uint64_t		 srv_acked;
	uint64_t		 srv_head;
	int			 syncing;	/* a sync request out */
	int			 sync_more;
	int			 paused;
	uint64_t		 rx_pauses;	/* reads paused: window full */
	struct event		*ev_ack;
	struct {				/* typing held */
		char		 user[IRIS_USER_MAX + 1];
		uint32_t	 device;
		uint8_t		*env;
		size_t		 len;
	}			 typ[4];

	/* Deliveries held while their senders' lists are fetched
	 * (recv_hold.c), in order. */
	struct rx_held		*hold_head;
	struct rx_held		*hold_tail;
	size_t			 hold_n;
	size_t			 hold_bytes;
	uint64_t		 hold_last;	/* highest seq held */

	/* Read receipts (read.c): the receipts privacy setting made here,
	 * and ids read in this loop turn, batched per recipient. */
	int			 read_loaded;
	int			 read_off;
	struct read_stage	*read_stage;
	struct event		*ev_read;

	/* Presence subscriptions (social.c). */
	char			(*subs)[IRIS_USER_MAX + 1];
	size_t			 nsubs;

	/* Self-healing sessions (heal.h). */
	struct heal		*heal;

	/* Clock (monotonic ms) for backoff and retry-after; tests inject. */
	uint64_t		(*now_ms)(void *arg);
	void			*now_arg;
};

/* config.c */
int	 iris__client_split_hostport(const char *hp, char *host,
	    size_t hostlen, int *port);
int	 iris__client_config_copy(struct iris_client_config *dst,
	    const struct iris_client_config *src);

/* client.c */
extern const struct iris__sealer_ops *iris__client_sealer;
void	 iris__client_event(struct iris_client *c, struct cev *e);
void	 iris__client_seterr(struct iris_client *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
uint64_t iris__client_now(const struct iris_client *c);
void	 iris__client_error_event(struct iris_client *c, int error,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 iris__client_done_event(struct iris_client *c,
	    iris_client_done_cb cb, void *arg, int rc);
/* A store transaction of this client: counted, so a freed client lives
 * on until its transactions report. */
struct iris_cs_txn *iris__client_txn(struct iris_client *c,
	    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg);
/* On failure t stays the caller's: iris__client_txn_drop() frees it. */
int	 iris__client_submit(struct iris_client *c, struct iris_cs_txn *t);
void	 iris__client_txn_drop(struct iris_cs_txn *t);
void	 iris__client_txn_set(struct iris_cs_txn *t,
	    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg);
int	 iris__client_tearing(const struct iris_client *c);

/* seal_keys.c, seal_bundles.c (the E2EE sealer's key directory) */
void	 iris__keys_online(struct iris_client *c);
void	 iris__keys_low(struct iris_client *c, uint32_t remaining);
void	 iris__keys_upload_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__keys_fetch_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
/* Verifies and keeps user's bundles: IRIS_OK, or the error of the last
 * one refused (kept as refused). */
int	 iris__keys_accept(struct iris_client *c, const char *user,
	    const iris_v1_KeyBundles *kb);

/* conn.c */
int	 iris__conn_start(struct iris_client *c);
void	 iris__conn_stop(struct iris_client *c);
void	 iris__conn_drop(struct iris_client *c, int err, const char *why);
/* A failure retrying will not fix: stop and report. */
void	 iris__conn_fail(struct iris_client *c, int err);
int	 iris__conn_send(struct iris_client *c, struct iris_wire_msg *m);
/* A request slot and id for m (sets m->f.request_id); NULL when full. */
struct creq *iris__conn_req(struct iris_client *c, enum creq_kind kind,
	    struct iris_wire_msg *m);
void	 iris__conn_req_free(struct iris_client *c, struct creq *r);
void	 iris__conn_online(struct iris_client *c);
int	 iris__conn_adopt(struct iris_client *c, int fd);

/* frames.c */
void	 iris__conn_frame(struct iris_client *c, const uint8_t *p, size_t n);
void	 iris__conn_fail_requests(struct iris_client *c);
void	 iris__conn_ping_start(struct iris_client *c);
void	 iris__conn_ping_timer(int fd, short what, void *arg);
int	 iris__conn_is_online(const struct iris_client *c);
size_t	 iris__conn_outlen(const struct iris_client *c);
int	 iris__wire_to_iris(int code);
void	 iris__conn_set_pubstate(struct iris_client *c, int state, int err);
unsigned iris__backoff_ms(unsigned attempt, unsigned min_ms,
	    unsigned max_ms, uint32_t rnd);

/* auth.c */
int	 iris__auth_load(struct iris_client *c);
int	 iris__auth_save(struct iris_client *c,
	    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg);
int	 iris__auth_create(struct iris_client *c,
	    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg);
void	 iris__auth_hello(struct iris_client *c, struct iris_wire_msg *m);
void	 iris__auth_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__auth_listed(struct iris_client *c, int rc);

/* devlist.c */
struct devlist *iris__devlist_find(struct iris_client *c, const char *user);
/* Asks the server for user's list (once at a time per user). */
int	 iris__devlist_fetch(struct iris_client *c, const char *user);
/* Verifies a signed list of user against what is cached; on success
 * caches it (memory and store) and returns it in *out. */
int	 iris__devlist_accept(struct iris_client *c, const char *user,
	    const iris_v1_SignedDeviceList *sl, struct devlist **out,
	    int *changed);
/* The same for a list whose user is read from it; refused unless user
 * is one of the users in want (NULL-terminated). */
int	 iris__devlist_accept_any(struct iris_client *c,
	    const iris_v1_SignedDeviceList *sl, const char *const *want,
	    char user[IRIS_USER_MAX + 1]);
void	 iris__devlist_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__devlist_online(struct iris_client *c);
/* devput.c: the own list. */
#define IRIS__DEVLIST_PREFIX	"IRIS-DEVLIST-v1"
void	 iris__devlist_put_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__devlist_own_seen(struct iris_client *c, struct devlist *l,
	    int lost);
void	 iris__devlist_free_all(struct iris_client *c);
int	 iris__devlist_put_own(struct iris_client *c, uint32_t add,
	    const uint8_t *key, uint32_t remove, iris_client_done_cb cb,
	    void *arg);

/* outbox.c, send.c */
#define IRIS__OB_META_VERSION	1
#define IRIS__OB_META_V2	2	/* with kind and of */
#define IRIS__OB_SEALED_VERSION	1
struct ob_entry *iris__outbox_append(struct iris_client *c, uint64_t seq);
void	 iris__outbox_unlink(struct iris_client *c, struct ob_entry *e);
struct ob_entry *iris__outbox_find(struct iris_client *c, uint64_t seq);
int	 iris__outbox_lists_ready(struct iris_client *c,
	    const struct ob_entry *e);
int	 iris__outbox_seal(struct iris_client *c, struct iris_cs_txn *t,
	    const struct ob_entry *e, const uint8_t *body, size_t len,
	    struct iris_buf *out);
void	 iris__outbox_sent_event(struct iris_client *c, const uint8_t id[16],
	    int status);
void	 iris__typing_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
int	 iris__outbox_load(struct iris_client *c);
void	 iris__outbox_kick(struct iris_client *c);
void	 iris__outbox_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__outbox_offline(struct iris_client *c);
/* A fetch for user's device list ended: rc IRIS_OK (changed says whether
 * the list is new), a transient failure, or one that fails its sends. */
void	 iris__outbox_lists(struct iris_client *c, const char *user, int rc,
	    int changed);
void	 iris__outbox_free_all(struct iris_client *c);
/* outbox_ack.c: e was acknowledged (it leaves the outbox). The client
 * message id of our send the server named msg_id, from an ack still
 * committing: IRIS_OK or IRIS_ENOTFOUND. */
void	 iris__outbox_acked(struct iris_client *c, struct ob_entry *e,
	    const iris_v1_SendAck *a);
int	 iris__outbox_acking(const struct iris_client *c, uint64_t msg_id,
	    uint8_t cmid[16]);

/* recv.c */
void	 iris__recv_deliver(struct iris_client *c, const iris_v1_Deliver *d,
	    const struct iris_slice *env);
void	 iris__recv_sync_page(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__recv_online(struct iris_client *c);
void	 iris__recv_offline(struct iris_client *c);
void	 iris__recv_free_all(struct iris_client *c);
void	 iris__recv_typing(struct iris_client *c, const iris_v1_Deliver *d,
	    const struct iris_slice *env);
/* recv_typing.c: typing envelopes held (a few) while their senders'
 * device lists are fetched, opened in order when a list comes. */
void	 iris__recv_typing_wait(struct iris_client *c, const char *user,
	    uint32_t device, const uint8_t *env, size_t len);
void	 iris__recv_typing_lists(struct iris_client *c, const char *user);
void	 iris__recv_typing_free(struct iris_client *c);
void	 iris__recv_flow(struct iris_client *c);
void	 iris__recv_reload_cursor(struct iris_client *c);
/* sync.c */
void	 iris__recv_ack_soon(struct iris_client *c);
void	 iris__recv_ask_page(struct iris_client *c);

/* recv_hold.c: a delivery whose sender's device list is not known, or
 * does not list the sending device, waits (with all after it) until a
 * fetch of that list has answered, so that no envelope is opened with
 * an identity the signed list does not vouch for. */
int	 iris__recv_hold(struct iris_client *c, const iris_v1_Deliver *d,
	    const struct iris_slice *env);
void	 iris__recv_hold_lists(struct iris_client *c, const char *user,
	    int rc);
void	 iris__recv_hold_clear(struct iris_client *c);
/* The seq a sync page starts after: past what is held too. */
uint64_t iris__recv_hold_after(const struct iris_client *c);
/* Does the verified device list of user name device? */
int	 iris__recv_listed(struct iris_client *c, const char *user,
	    uint32_t device);
/* recv.c: a delivery past the hold. */
void	 iris__recv_deliver_now(struct iris_client *c,
	    const iris_v1_Deliver *d, const struct iris_slice *env);

/* devevents.c: identity events for the changes from old (NULL: first
 * sight, no events) to new, and the sealer told to forget the sessions
 * of devices removed or rekeyed. */
void	 iris__devlist_changes(struct iris_client *c,
	    const struct devlist *old, const struct devlist *new);

/* read.c: read receipts in and out. */
void	 iris__read_received(struct iris_client *c, const char *user,
	    uint32_t device, const uint8_t *body, size_t len);
void	 iris__read_privacy(struct iris_client *c, int receipts);
/* Into the outbox with what is batched; at teardown, before it. */
void	 iris__read_flush(struct iris_client *c);

/* social.c */
void	 iris__social_answer(struct iris_client *c, struct creq *r,
	    struct iris_wire_msg *m);
void	 iris__social_presence(struct iris_client *c,
	    const iris_v1_PresenceUpdate *u);
void	 iris__social_online(struct iris_client *c);

/* Test hook: called at the named points of the receive order, so that a
 * test process can die there (tests/system/client_crash.c). */
enum { IRIS__HOOK_AFTER_CALLBACK = 1, IRIS__HOOK_AFTER_COMMIT };
extern void (*iris__client_test_hook)(int point);
/* Test hook: sees each envelope a durable send seals (send.c), so that a
 * test can damage one on its way (tests/system/client_heal.c). */
extern void (*iris__client_seal_hook)(struct iris_client *c,
	    const char *user, uint32_t device, const struct iris__content *in,
	    struct iris_buf *env);

#endif /* IRIS_CLIENT_CLIENT_H */

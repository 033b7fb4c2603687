/* SPDX-License-Identifier: ISC */
/*
 * The client: what a program embeds to be one or more devices of Iris
 * users. A client object is one device account on the embedder's
 * event_base; it connects, registers or logs in, keeps a durable outbox
 * that it retries until the server has acknowledged each send, and hands
 * received messages to callbacks. Several client objects of a process
 * share one client store (one SQLite file). See iris_client_new(3).
 *
 * Threads: every function here is called from the thread that runs the
 * loop of its object, except the iris_client_config_* functions, which
 * touch only the config. Callbacks run on that loop, never from inside
 * the call that caused them.
 *
 * Until the end-to-end encryption of lib/e2ee is in place, envelopes are
 * a plain framing of the content: the server can read them.
 */
#ifndef IRIS_CLIENT_H
#define IRIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <iris.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct iris_client_store;
struct iris_client_config;
struct iris_client;
struct iris_client_msg;

/*
 * The client store (iris_client_store_open(3)): one SQLite file holding
 * the accounts, keys, outboxes and cursors of any number of client
 * objects, every record holding keys or content encrypted with key (32
 * bytes, copied; keep it somewhere safe: without it nothing opens).
 * IRIS_ECRYPTO when key is not the store's key. cfg (may be NULL) gives
 * the log callback; a failure to open is logged there.
 */
#define IRIS_CLIENT_STORE_KEY_LEN	32
IRIS_API int	 iris_client_store_open(struct iris_client_store **storep,
		    struct event_base *base, const char *path,
		    const uint8_t key[IRIS_CLIENT_STORE_KEY_LEN],
		    const struct iris_config *cfg);
/* Closes once the last client object using it is freed; NULL is fine. */
IRIS_API void	 iris_client_store_close(struct iris_client_store *store);
IRIS_API const char *iris_client_store_error(
		    const struct iris_client_store *store);

/*
 * Configuration of a client object (iris_client_config_new(3)): where the
 * server is, how to trust it, which account. Copied by iris_client_new().
 */
IRIS_API int	 iris_client_config_new(struct iris_client_config **cfgp);
IRIS_API void	 iris_client_config_free(struct iris_client_config *cfg);
/* "HOST:PORT", "[V6]:PORT"; a name is resolved without blocking. */
IRIS_API int	 iris_client_config_set_server(struct iris_client_config *cfg,
		    const char *hostport);
/* The server key's SHA-256 fingerprint, 64 hex digits (irisd logs it). */
IRIS_API int	 iris_client_config_set_pin(struct iris_client_config *cfg,
		    const char *fingerprint);
/* Or trust the CAs in a PEM file; the name checked is the server's host. */
IRIS_API int	 iris_client_config_set_ca(struct iris_client_config *cfg,
		    const char *ca_path);
IRIS_API int	 iris_client_config_set_user(struct iris_client_config *cfg,
		    const char *user);
/* The account's name in the store; the user id when not set. */
IRIS_API int	 iris_client_config_set_account(
		    struct iris_client_config *cfg, const char *name);
IRIS_API int	 iris_client_config_set_device_name(
		    struct iris_client_config *cfg, const char *name);
/* Reconnect delays: doubling from min_ms up to max_ms, with jitter. */
IRIS_API int	 iris_client_config_set_backoff(
		    struct iris_client_config *cfg, unsigned min_ms,
		    unsigned max_ms);
/* Entries the outbox may hold before sends are refused (IRIS_ELIMIT). */
IRIS_API int	 iris_client_config_set_outbox_max(
		    struct iris_client_config *cfg, size_t entries);
IRIS_API void	 iris_client_config_set_log_cb(
		    struct iris_client_config *cfg, iris_log_cb cb, void *arg,
		    int level);
IRIS_API const char *iris_client_config_error(
		    const struct iris_client_config *cfg);

/*
 * Client objects. new loads the account cfg names from store (if it is
 * there) and does not connect; free closes at once and may be called from
 * inside any of the object's callbacks.
 */
IRIS_API int	 iris_client_new(struct iris_client **clientp,
		    struct event_base *base, struct iris_client_store *store,
		    const struct iris_client_config *cfg);
IRIS_API void	 iris_client_free(struct iris_client *c);
IRIS_API const char *iris_client_error(const struct iris_client *c);

/* Outcome of a request: IRIS_OK or a negative code. */
typedef void (*iris_client_done_cb)(struct iris_client *c, int result,
    void *arg);

/*
 * Accounts. register makes a new user (the account's user id, invite NULL
 * when registration is open) with a new identity key; link registers a
 * further device of an existing user with a link token from its primary
 * device. Both connect, keep the account in the store and stay online.
 */
IRIS_API int	 iris_client_register(struct iris_client *c,
		    const char *invite, iris_client_done_cb cb, void *arg);
IRIS_API int	 iris_client_link(struct iris_client *c,
		    const char *link_token, iris_client_done_cb cb, void *arg);
/* Goes online and stays there, reconnecting, until disconnect. */
IRIS_API int	 iris_client_connect(struct iris_client *c);
IRIS_API void	 iris_client_disconnect(struct iris_client *c);

#define IRIS_CLIENT_OFFLINE	0	/* not connected; see the error */
#define IRIS_CLIENT_CONNECTING	1	/* connecting or logging in */
#define IRIS_CLIENT_ONLINE	2	/* logged in; sends flow */
IRIS_API int	 iris_client_state(const struct iris_client *c);
/* The user id (NULL before an account exists) and device id. */
IRIS_API const char *iris_client_user(const struct iris_client *c,
		    uint32_t *device);
/* The device's Ed25519 identity public key (IRIS_ESTATE: no account). */
IRIS_API int	 iris_client_identity(const struct iris_client *c,
		    uint8_t key[32]);
/*
 * The 60-digit safety number of this account and user (out gets it and a
 * NUL; outlen at least 61), the same on both sides, to compare out of
 * band: IRIS_OK, IRIS_EAGAIN while a device list is being fetched (ask
 * again), IRIS_ESTATE (no account), IRIS_ETOOBIG, IRIS_EINVAL.
 */
#define IRIS_CLIENT_SAFETY_LEN	60
IRIS_API int	 iris_client_safety_number(struct iris_client *c,
		    const char *user, char *out, size_t outlen);

/*
 * Events. Each setter replaces the previous callback; all are optional.
 * Data passed to a callback is borrowed until it returns.
 */
typedef void (*iris_client_state_cb)(struct iris_client *c, int state,
    int error, void *arg);
/*
 * A message. When the callback returns, the library records the message
 * as handled (durably) and then acknowledges it to the server; after a
 * crash before that record, the message is delivered again.
 */
typedef void (*iris_client_message_cb)(struct iris_client *c,
    const struct iris_client_msg *msg, void *arg);
/* A send's progress: IRIS_CLIENT_QUEUED, IRIS_CLIENT_ACKED, or a negative
 * code when the send failed for good (it leaves the outbox). */
#define IRIS_CLIENT_QUEUED	1	/* durable in the outbox */
#define IRIS_CLIENT_ACKED	2	/* durable on the server */
typedef void (*iris_client_sent_cb)(struct iris_client *c,
    const uint8_t id[16], int status, void *arg);
/* A delivery receipt: device of user received the message id. */
typedef void (*iris_client_receipt_cb)(struct iris_client *c,
    const uint8_t id[16], const char *user, uint32_t device,
    uint64_t time_ms, void *arg);
typedef void (*iris_client_typing_cb)(struct iris_client *c,
    const char *user, uint32_t device, int typing, void *arg);
/* last_seen_ms is 0 when unknown; hidden: the user's privacy hides it. */
typedef void (*iris_client_presence_cb)(struct iris_client *c,
    const char *user, int online, uint64_t last_seen_ms, int hidden,
    void *arg);
/* Trouble that no request reports, such as a message that could not be
 * opened and cannot be asked for again (error IRIS_EPROTO; others are
 * kept and healed: iris_client_stats(3)) or a gap in the inbox
 * (IRIS_ESTALE). */
typedef void (*iris_client_error_cb)(struct iris_client *c, int error,
    const char *detail, void *arg);

IRIS_API void	 iris_client_set_state_cb(struct iris_client *c,
		    iris_client_state_cb cb, void *arg);
IRIS_API void	 iris_client_set_message_cb(struct iris_client *c,
		    iris_client_message_cb cb, void *arg);
IRIS_API void	 iris_client_set_sent_cb(struct iris_client *c,
		    iris_client_sent_cb cb, void *arg);
IRIS_API void	 iris_client_set_receipt_cb(struct iris_client *c,
		    iris_client_receipt_cb cb, void *arg);
IRIS_API void	 iris_client_set_typing_cb(struct iris_client *c,
		    iris_client_typing_cb cb, void *arg);
IRIS_API void	 iris_client_set_presence_cb(struct iris_client *c,
		    iris_client_presence_cb cb, void *arg);
IRIS_API void	 iris_client_set_error_cb(struct iris_client *c,
		    iris_client_error_cb cb, void *arg);

/*
 * Sending (iris_client_send(3)). The send is queued in the outbox (body
 * copied) and its id, a UUIDv7, written to id; the sent callback reports
 * IRIS_CLIENT_QUEUED once it is durable locally and IRIS_CLIENT_ACKED once
 * the server has it. Sends of one client reach each device in order.
 * type is the embedder's content type (the library does not read it).
 */
#define IRIS_CLIENT_BODY_MAX	(63 * 1024)
IRIS_API int	 iris_client_send(struct iris_client *c, const char *to,
		    uint32_t type, const void *body, size_t len,
		    uint8_t id[16]);
/* Typing indicators: best effort, online only, never stored. */
IRIS_API int	 iris_client_typing(struct iris_client *c, const char *to,
		    int typing);
/* The embedder's sends not yet acknowledged by the server (not what the
 * library sends itself: read receipts, retry requests, resends). */
IRIS_API size_t	 iris_client_outbox(const struct iris_client *c);

/* A received message, borrowed for the duration of the callback. */
IRIS_API const uint8_t *iris_client_msg_id(const struct iris_client_msg *m);
IRIS_API const char *iris_client_msg_sender(const struct iris_client_msg *m,
		    uint32_t *device);
/* The user it was sent to: this user, or for a copy of what this user
 * sent from another of its devices, the one it was sent to. */
IRIS_API const char *iris_client_msg_recipient(
		    const struct iris_client_msg *m);
IRIS_API uint32_t iris_client_msg_type(const struct iris_client_msg *m);
IRIS_API const void *iris_client_msg_body(const struct iris_client_msg *m,
		    size_t *len);
/* When the server stored it (ms since the epoch). */
IRIS_API uint64_t iris_client_msg_time(const struct iris_client_msg *m);

/*
 * Devices (iris_client_devices(3)). The primary device (device 1) signs
 * the user's device list; a further device registered with a link token
 * receives nothing until the primary adds it with its id and identity
 * key, learnt from that device (iris_client_identity()).
 */
typedef void (*iris_client_token_cb)(struct iris_client *c, int result,
    const char *token, uint64_t expires_ms, void *arg);
IRIS_API int	 iris_client_link_token(struct iris_client *c,
		    iris_client_token_cb cb, void *arg);
IRIS_API int	 iris_client_add_device(struct iris_client *c,
		    uint32_t device, const uint8_t key[32],
		    iris_client_done_cb cb, void *arg);
IRIS_API int	 iris_client_remove_device(struct iris_client *c,
		    uint32_t device, iris_client_done_cb cb, void *arg);
/* A user's verified device list: n devices, ids[i] with keys[i]. */
typedef void (*iris_client_devices_cb)(struct iris_client *c, int result,
    const char *user, uint64_t version, const uint32_t *ids,
    const uint8_t (*keys)[32], size_t n, void *arg);
IRIS_API int	 iris_client_devices(struct iris_client *c, const char *user,
		    iris_client_devices_cb cb, void *arg);

/*
 * Contacts and presence (iris_client_contacts(3)). The server keeps each
 * user's contact list, which the "contacts" privacy setting refers to.
 */
#define IRIS_PRIVACY_EVERYONE	0
#define IRIS_PRIVACY_CONTACTS	1
#define IRIS_PRIVACY_NOBODY	2
IRIS_API int	 iris_client_contacts_edit(struct iris_client *c,
		    const char *const *add, size_t nadd,
		    const char *const *remove, size_t nremove,
		    iris_client_done_cb cb, void *arg);
typedef void (*iris_client_contacts_cb)(struct iris_client *c, int result,
    const char *const *users, size_t n, void *arg);
IRIS_API int	 iris_client_contacts(struct iris_client *c,
		    iris_client_contacts_cb cb, void *arg);
/* Who sees my presence, and whether my devices make delivery receipts. */
IRIS_API int	 iris_client_set_privacy(struct iris_client *c, int privacy,
		    int receipts, iris_client_done_cb cb, void *arg);
/* Presence interest, kept across reconnects (at most 1024 users). */
IRIS_API int	 iris_client_subscribe(struct iris_client *c,
		    const char *const *users, size_t n);
IRIS_API int	 iris_client_unsubscribe(struct iris_client *c,
		    const char *const *users, size_t n);

/*
 * Identity events and read receipts (iris_client_devices(3),
 * iris_client_read(3)).
 *
 * Identity events report what changed between the verified device list
 * of a user kept before and a newly verified one (this user's own list
 * too): a device added or removed, or a device whose identity key
 * changed (the safety number with that user changes when it is the
 * primary's; a list whose primary key differs from the one kept is
 * refused instead, with an error event). key is the new key, or for a
 * removal the key the device had. The first list seen of a user raises
 * no event: it is the one trusted on first use. Each change is reported
 * once, on the loop, whichever path brought the list.
 */
#define IRIS_CLIENT_DEVICE_ADDED	1
#define IRIS_CLIENT_DEVICE_REMOVED	2
#define IRIS_CLIENT_IDENTITY_CHANGED	3
typedef void (*iris_client_identity_cb)(struct iris_client *c,
    const char *user, int event, uint32_t device, const uint8_t key[32],
    void *arg);
IRIS_API void	 iris_client_set_identity_cb(struct iris_client *c,
		    iris_client_identity_cb cb, void *arg);

/*
 * Read receipts: the embedder marks a received message (id, from user)
 * read; the receipt goes end-to-end encrypted, through the durable
 * outbox, to that user's devices and to this user's other devices (so
 * they mark it read too). With receipts turned off (iris_client_set_privacy
 * with receipts 0, from this device), it goes to this user's other
 * devices only. A received read receipt reaches the read callback, never
 * the message callback: device of user read message id at time_ms.
 * Reads made in one loop turn go as one receipt per user (up to 64 ids).
 */
IRIS_API int	 iris_client_read(struct iris_client *c, const char *user,
		    const uint8_t id[16]);
typedef void (*iris_client_read_cb)(struct iris_client *c,
    const uint8_t id[16], const char *user, uint32_t device,
    uint64_t time_ms, void *arg);
IRIS_API void	 iris_client_set_read_cb(struct iris_client *c,
		    iris_client_read_cb cb, void *arg);

/*
 * Self-healing sessions and decrypt failures (iris_client_stats(3)). A
 * message that does not decrypt is kept, and the device that sent it is
 * asked to send it again over a fresh session; it is then delivered once,
 * under its own id. Causes of a failure:
 */
#define IRIS_CLIENT_DECRYPT_MALFORMED	1	/* not well formed */
#define IRIS_CLIENT_DECRYPT_NOT_AUTHENTIC 2	/* no session, bad MAC */
#define IRIS_CLIENT_DECRYPT_REPLAY	3	/* a key used already */
#define IRIS_CLIENT_DECRYPT_TOO_FAR	4	/* too far ahead */
#define IRIS_CLIENT_DECRYPT_FRAMING	5	/* unknown framing */
#define IRIS_CLIENT_DECRYPT_CAUSES	6

struct iris_client_stats {
	/* Messages that did not decrypt, by cause (index as above; 0 is
	 * any other cause, such as running out of memory). */
	uint64_t	 decrypt_failed[IRIS_CLIENT_DECRYPT_CAUSES];
	uint64_t	 retries_sent;		/* retry requests queued */
	uint64_t	 retries_received;	/* ... naming this device */
	uint64_t	 retries_refused;	/* from a device not listed */
	uint64_t	 retries_unknown;	/* for a send not remembered */
	uint64_t	 resends;		/* sends made again */
	uint64_t	 sessions_reset;	/* sessions forgotten */
	uint64_t	 resets_limited;	/* resets refused: too soon */
	uint64_t	 resends_limited;	/* resends refused: too many */
	uint64_t	 messages_kept;		/* kept to heal */
	uint64_t	 messages_healed;	/* kept, then delivered */
	uint64_t	 messages_given_up;	/* kept, never healed */
};

/*
 * size is sizeof(*st) as the caller was compiled: a later library with
 * more counters fills only that much, so the struct may grow at its end.
 */
IRIS_API int	 iris_client_stats(const struct iris_client *c,
		    struct iris_client_stats *st, size_t size);
/*
 * Called on the loop once when a message from device of user does not
 * decrypt (healed 0, cause one of the above), and once more when it is
 * healed (1) or given up (-1).
 */
typedef void (*iris_client_decrypt_cb)(struct iris_client *c,
    const char *user, uint32_t device, int cause, int healed, void *arg);
IRIS_API void	 iris_client_set_decrypt_cb(struct iris_client *c,
		    iris_client_decrypt_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* IRIS_CLIENT_H */

/* SPDX-License-Identifier: ISC */
/*
 * The durable queue: per-device inbox logs in one SQLite file, usable
 * without the rest of the engine. A send (one envelope per recipient
 * device) is appended as a unit and acknowledged only after its commit is
 * on disk; retries of a send are deduplicated. See iris_store_open(3).
 */
#ifndef IRIS_STORE_H
#define IRIS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <iris.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct iris_store;
struct iris_send;
struct iris_message;

/* Classes of a send, as in the protocol (iris-protocol(7)). */
#define IRIS_CLASS_MESSAGE	0
#define IRIS_CLASS_RECEIPT	1
#define IRIS_CLASS_TYPING	2
#define IRIS_CLASS_CONTROL	3

/*
 * Opening and closing. The store lives on the embedder's event_base:
 * completions are delivered there. cfg may be NULL for the defaults; it
 * is copied.
 */
IRIS_API int	 iris_store_open(struct iris_store **storep,
		    struct event_base *base, const char *path,
		    const struct iris_config *cfg);
IRIS_API void	 iris_store_close(struct iris_store *store);
IRIS_API const char *iris_store_error(const struct iris_store *store);

/*
 * A send under construction: who sends it, its client message id (a
 * UUIDv7 that stays the same on every retry) and class, then one
 * envelope per recipient device (the data is copied).
 */
IRIS_API int	 iris_send_new(struct iris_send **sendp, const char *user,
		    uint32_t device, const uint8_t client_msg_id[16],
		    int msg_class);
IRIS_API int	 iris_send_add(struct iris_send *send, const char *user,
		    uint32_t device, const void *data, size_t len);
IRIS_API void	 iris_send_free(struct iris_send *send);

/*
 * Appends a send; always takes ownership of send. On IRIS_OK, cb is
 * called later on the loop with the outcome: IRIS_OK with the message id
 * and the seq of each envelope (in the order they were added; duplicate
 * set when this was a retry of a stored send) once the commit is durable,
 * or a negative code (IRIS_EAGAIN: an inbox at its cap, nothing stored,
 * retry later; IRIS_ESTORE: the commit failed and its outcome is unknown,
 * since a crash before the store recovers can leave it stored: retry with
 * the same client msg id, which returns the original result if it was).
 * On a negative return cb is never called.
 */
typedef void (*iris_append_cb)(struct iris_store *store, int result,
    uint64_t msg_id, const uint64_t *seqs, size_t nseqs, int duplicate,
    void *arg);
IRIS_API int	 iris_store_append(struct iris_store *store,
		    struct iris_send *send, iris_append_cb cb, void *arg);

/*
 * Cumulative ack: the device has handled everything up to seq. The cursor
 * never moves backward (an older seq changes nothing). cb (may be NULL)
 * gets the durable cursor after the commit.
 */
typedef void (*iris_ack_cb)(struct iris_store *store, int result,
    uint64_t acked_seq, void *arg);
IRIS_API int	 iris_store_ack(struct iris_store *store, const char *user,
		    uint32_t device, uint64_t seq, iris_ack_cb cb, void *arg);

/*
 * Reads, on the loop, from committed data. scan calls cb for each stored
 * message of the device with a seq above after_seq, in seq order, at most
 * limit of them, before it returns; cb returns 0 to go on. Returns the
 * number of messages visited or a negative code.
 */
typedef int (*iris_scan_cb)(const struct iris_message *msg, void *arg);
IRIS_API int	 iris_store_scan(struct iris_store *store, const char *user,
		    uint32_t device, uint64_t after_seq, size_t limit,
		    iris_scan_cb cb, void *arg);
IRIS_API int	 iris_store_depth(struct iris_store *store, const char *user,
		    uint32_t device, uint64_t *acked_seq, uint64_t *head_seq);

/* A stored message, borrowed for the duration of the scan callback. */
IRIS_API uint64_t iris_message_seq(const struct iris_message *msg);
IRIS_API uint64_t iris_message_id(const struct iris_message *msg);
IRIS_API const char *iris_message_sender(const struct iris_message *msg,
		    uint32_t *device);
IRIS_API const uint8_t *iris_message_client_id(
		    const struct iris_message *msg);
IRIS_API int	 iris_message_class(const struct iris_message *msg);
IRIS_API uint64_t iris_message_time(const struct iris_message *msg);
IRIS_API const void *iris_message_data(const struct iris_message *msg,
		    size_t *len);

/*
 * Counters and state by name ("appends", "commits", "read_only", ...;
 * iris_store_stat_name() lists them): IRIS_OK or IRIS_ENOTFOUND.
 */
IRIS_API int	 iris_store_stat(const struct iris_store *store,
		    const char *name, uint64_t *value);
IRIS_API const char *iris_store_stat_name(size_t index);

#ifdef __cplusplus
}
#endif
#endif /* IRIS_STORE_H */

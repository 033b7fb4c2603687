/* SPDX-License-Identifier: ISC */
/*
 * Protocol messages: one decoded or to-be-encoded Frame. Small fields live
 * in the nanopb struct; the large ones (envelopes, sync items, device lists,
 * contact lists) are callback fields, decoded here under the limits into
 * arrays whose byte fields are slices of the frame buffer (no copies).
 * Pure: no I/O, no event loop.
 */
#ifndef IRIS_WIRE_MSG_H
#define IRIS_WIRE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "iris.pb.h"

#define IRIS_USER_MAX		64	/* bytes in a user id */
#define IRIS_ENVELOPE_MAX	65536	/* protocol ceiling of max_envelope */
#define IRIS_DEVICES_MAX	64	/* protocol ceiling of devices per user */
#define IRIS_ENVELOPES_MAX	(2 * IRIS_DEVICES_MAX - 1)
#define IRIS_SYNC_PAGE_MAX	4096
#define IRIS_LISTS_MAX		64	/* device lists in one frame */
#define IRIS_CONTACTS_MAX	4096
#define IRIS_FRAME_SLACK	65536	/* frame bytes beyond the envelopes */

/* Bytes borrowed from a frame buffer (or, when encoding, from the caller). */
struct iris_slice {
	const uint8_t	*ptr;
	size_t		 len;
};

/* What a decoder accepts; the edge derives these from its config. */
struct iris_wire_limits {
	uint32_t	 max_envelope;		/* bytes of one envelope */
	uint32_t	 max_envelopes;		/* envelopes in one send */
	uint32_t	 max_sync_items;	/* deliveries in one sync page */
	uint32_t	 max_lists;		/* device lists in one frame */
	uint32_t	 max_contacts;		/* users in one contact list */
};

struct iris_wire_envelope {
	iris_v1_Envelope_recipient_user_t user;	/* recipient user id */
	uint32_t		 device;	/* recipient device */
	struct iris_slice	 payload;	/* opaque */
};

struct iris_wire_delivery {
	iris_v1_Deliver		 pb;		/* metadata; pb.envelope unused */
	struct iris_slice	 envelope;
};

struct iris_wire_msg {
	iris_v1_Frame		 f;

	/* Callback-field contents, by body: */
	struct iris_wire_envelope *envs;	/* send.envelopes */
	size_t			 nenvs;
	struct iris_slice	 envelope;	/* deliver.envelope */
	struct iris_wire_delivery *items;	/* sync_page.items */
	size_t			 nitems;
	iris_v1_SignedDeviceList *lists;	/* error/device_lists lists */
	size_t			 nlists;
	struct iris_slice	*users;		/* contacts.users */
	size_t			 nusers;

	/* Decoder state. */
	size_t			 dirty;		/* f.body bytes a decode wrote */
	size_t			 cap;		/* capacity of the array in use */
	const struct iris_wire_limits *lim;
	int			 wire_err;	/* iris_v1_ErrorCode for a reply */
	const char		*detail;	/* static text about a failure */
};

/* The protocol's default limits (DESIGN.md §5) and its ceilings. */
void	 iris__wire_limits_default(struct iris_wire_limits *lim);
void	 iris__wire_limits_max(struct iris_wire_limits *lim);
/* The limits a server's config sets (max_envelope, max_devices_per_user,
 * max_sync_page); the rest stay at the protocol's values. */
struct iris_config;
void	 iris__wire_limits_config(struct iris_wire_limits *lim,
	    const struct iris_config *cfg);
/* Largest frame payload the limits allow after login. */
uint32_t iris__wire_max_frame(const struct iris_wire_limits *lim);

/*
 * Initialise before first use; reset frees what a decode allocated and
 * zeroes the message again, the body union over what was used of it (the
 * union is 16 KiB, the usual body tens of bytes: zeroing all of it was a
 * few percent of the server's CPU).
 *
 * init_body zeroes everything but the union, and of the union only the
 * member of body tag `which` (0: none, for a message to decode into),
 * which it selects: for a message built or decoded once, then reset or
 * dropped, not for one refilled with another body (init that one again).
 */
void	 iris__wire_msg_init(struct iris_wire_msg *m);
void	 iris__wire_msg_init_body(struct iris_wire_msg *m, pb_size_t which);
void	 iris__wire_msg_reset(struct iris_wire_msg *m);

/*
 * Decodes one frame payload (without its length header). Returns IRIS_OK,
 * IRIS_EPROTO for malformed bytes, IRIS_ETOOBIG when a limit is exceeded,
 * or IRIS_ENOMEM; on error m->wire_err and m->detail say what to answer.
 * Slices in m point into buf, which must outlive their use. Call
 * iris__wire_msg_reset() afterwards in every case.
 */
int	 iris__wire_decode(struct iris_wire_msg *m, const uint8_t *buf,
	    size_t len, const struct iris_wire_limits *lim);

/*
 * Semantic checks a server applies before acting on a decoded frame: user
 * ids well formed, enums known, ids present. IRIS_OK or IRIS_EPROTO with
 * m->wire_err = ERR_BAD_REQUEST and m->detail naming the field.
 */
int	 iris__wire_check(struct iris_wire_msg *m);

/*
 * Encoding: set m->f (which_body and the body) and the arrays of the
 * callback fields, then iris__wire_encode() writes the 4-byte header and
 * the frame into out. IRIS_ETOOBIG when it does not fit in cap; *len is
 * the number of bytes written. iris__wire_size() is the total it needs.
 */
int	 iris__wire_size(struct iris_wire_msg *m, size_t *size);
int	 iris__wire_encode(struct iris_wire_msg *m, uint8_t *out, size_t cap,
	    size_t *len);

/*
 * The hot bodies (send, send_ack, deliver, ack, done, sync_page), which
 * iris__wire_size() and iris__wire_encode() write without nanopb, byte for
 * byte as nanopb would (lib/wire/encode_hot.c); the _pb forms always use
 * nanopb (the reference the tests compare with). The _hot forms return
 * IRIS__WIRE_NOT_HOT for any other body.
 */
#define IRIS__WIRE_NOT_HOT	1
int	 iris__wire_hot(pb_size_t which_body);
int	 iris__wire_hot_size(const struct iris_wire_msg *m, size_t *size);
int	 iris__wire_hot_encode(const struct iris_wire_msg *m, uint8_t *out,
	    size_t cap, size_t *len);
/*
 * Decoding's counterpart (lib/wire/decode_hot.c): a hot frame in the shape
 * encoders write is read without nanopb, anything else declined
 * (IRIS__WIRE_NOT_HOT) for iris__wire_decode_pb, nanopb only, to decode;
 * IRIS_ENOMEM as that would answer it. The message must have been reset,
 * with m->lim set.
 */
int	 iris__wire_hot_decode(struct iris_wire_msg *m, const uint8_t *buf,
	    size_t len);
int	 iris__wire_decode_pb(struct iris_wire_msg *m, const uint8_t *buf,
	    size_t len, const struct iris_wire_limits *lim);
int	 iris__wire_size_pb(struct iris_wire_msg *m, size_t *size);
int	 iris__wire_encode_pb(struct iris_wire_msg *m, uint8_t *out,
	    size_t cap, size_t *len);

/* User ids: 1..64 bytes of UTF-8, no control characters, no whitespace. */
int	 iris__wire_userid_ok(const uint8_t *p, size_t len);

/* Names and properties of iris_v1_ErrorCode values. */
const char *iris__wire_errname(int code);
int	 iris__wire_err_retryable(int code);
const char *iris__wire_bodyname(pb_size_t which_body);

#endif /* IRIS_WIRE_MSG_H */

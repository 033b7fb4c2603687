/* SPDX-License-Identifier: ISC */
/*
 * The plain sealer: a versioned framing of the content, NOT encrypted.
 * Until lib/e2ee provides the encrypting sealer, anyone who can read an
 * envelope (the server, its store, its backups) can read the message.
 *
 * Envelope: u8 0x00 (plain framing: not end-to-end encrypted) | u8 1
 * (framing version) | u8 kind | u32 type | u8 len | recipient user |
 * u32 len | body. An end-to-end encrypted envelope never starts with
 * 0x00, so a receiver that requires encryption can refuse these.
 */
#include <string.h>

#include "iris.h"
#include "client/seal.h"
#include "wire/msg.h"

#define PLAIN_MARK	0x00
#define PLAIN_VERSION	1
#define PLAIN_OVERHEAD	(3 + 4 + 1 + IRIS_USER_MAX + 4)

static int
plain_create(void **self, struct iris_client *c)
{
	(void)c;
	*self = NULL;
	return IRIS_OK;
}

static void
plain_destroy(void *self)
{
	(void)self;
}

static int
plain_seal(void *self, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const struct iris__content *in, struct iris_buf *out)
{
	size_t rlen = strlen(in->recipient);

	(void)self, (void)txn, (void)user, (void)device;
	if (rlen == 0 || rlen > IRIS_USER_MAX)
		return IRIS_EINVAL;
	iris__buf_u8(out, PLAIN_MARK);
	iris__buf_u8(out, PLAIN_VERSION);
	iris__buf_u8(out, (uint8_t)in->kind);
	iris__buf_u32(out, in->type);
	iris__buf_str8(out, in->recipient, rlen);
	iris__buf_bytes32(out, in->body, in->len);
	return out->err;
}

static int
plain_open(void *self, struct iris_cs_txn *txn, const char *user,
    uint32_t device, const uint8_t *env, size_t len,
    struct iris__content *out, struct iris_buf *keep)
{
	struct iris_rd r;
	uint8_t mark, version;
	char *rcpt;
	size_t rlen;

	(void)self, (void)txn, (void)user, (void)device;
	iris__rd_init(&r, env, len);
	mark = iris__rd_u8(&r);
	version = iris__rd_u8(&r);
	if (r.bad)
		return IRIS_EPROTO;
	if (mark != PLAIN_MARK || version != PLAIN_VERSION)
		return IRIS_ENOTSUP;
	memset(out, 0, sizeof(*out));
	out->kind = iris__rd_u8(&r);
	out->type = iris__rd_u32(&r);
	/* The recipient is copied out (NUL-terminated) into keep. */
	iris__buf_reset(keep);
	if ((rcpt = (char *)iris__buf_room(keep, IRIS_USER_MAX + 1)) == NULL)
		return keep->err;
	keep->len = IRIS_USER_MAX + 1;
	iris__rd_str8(&r, rcpt, IRIS_USER_MAX + 1);
	rlen = strlen(rcpt);
	out->recipient = rcpt;
	out->body = iris__rd_bytes32(&r, &out->len, IRIS_ENVELOPE_MAX);
	if (iris__rd_done(&r) != IRIS_OK || (out->kind !=
	    IRIS__CONTENT_MESSAGE && out->kind != IRIS__CONTENT_TYPING) ||
	    !iris__wire_userid_ok((const uint8_t *)rcpt, rlen))
		return IRIS_EPROTO;
	if (out->body == NULL)
		out->body = (const uint8_t *)"";
	return IRIS_OK;
}

static void
plain_reset(void *self)
{
	(void)self;
}

const struct iris__sealer_ops iris__seal_plain = {
	"plain (not end-to-end encrypted)", PLAIN_OVERHEAD, plain_create,
	plain_destroy, plain_seal, plain_open, plain_reset, NULL,
};

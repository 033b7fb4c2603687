/* SPDX-License-Identifier: ISC */
/*
 * Frame encoding: the 4-byte length header, then the Frame, with the
 * callback fields written from the message's arrays and slices. The hot
 * bodies are written by lib/wire/encode_hot.c; nanopb writes the rest.
 */
#include <string.h>

#include <pb_encode.h>

#include "iris.h"
#include "wire/frame.h"
#include "wire/msg.h"

static bool
enc_slice(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct iris_slice *s = *arg;

	if (s->len == 0)
		return true;	/* proto3: an empty bytes field is absent */
	return pb_encode_tag_for_field(stream, field) &&
	    pb_encode_string(stream, s->ptr, s->len);
}

static bool
enc_envelopes(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct iris_wire_msg *m = *arg;
	iris_v1_Envelope pb;
	size_t i;

	for (i = 0; i < m->nenvs; i++) {
		memset(&pb, 0, sizeof(pb));
		pb.recipient_user = m->envs[i].user;
		pb.recipient_device = m->envs[i].device;
		pb.payload.funcs.encode = enc_slice;
		pb.payload.arg = (void *)&m->envs[i].payload;
		if (!pb_encode_tag_for_field(stream, field) ||
		    !pb_encode_submessage(stream, iris_v1_Envelope_fields, &pb))
			return false;
	}
	return true;
}

static bool
enc_items(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct iris_wire_msg *m = *arg;
	struct iris_wire_delivery *it;
	size_t i;

	for (i = 0; i < m->nitems; i++) {
		it = &m->items[i];
		it->pb.envelope.funcs.encode = enc_slice;
		it->pb.envelope.arg = &it->envelope;
		if (!pb_encode_tag_for_field(stream, field) ||
		    !pb_encode_submessage(stream, iris_v1_Deliver_fields,
		    &it->pb))
			return false;
	}
	return true;
}

static bool
enc_lists(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct iris_wire_msg *m = *arg;
	size_t i;

	for (i = 0; i < m->nlists; i++)
		if (!pb_encode_tag_for_field(stream, field) ||
		    !pb_encode_submessage(stream,
		    iris_v1_SignedDeviceList_fields, &m->lists[i]))
			return false;
	return true;
}

static bool
enc_users(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct iris_wire_msg *m = *arg;
	size_t i;

	for (i = 0; i < m->nusers; i++)
		if (!pb_encode_tag_for_field(stream, field) ||
		    !pb_encode_string(stream, m->users[i].ptr,
		    m->users[i].len))
			return false;
	return true;
}

/* Points the callback fields of the current body at the arrays. */
static void
prepare(struct iris_wire_msg *m)
{
	pb_callback_t *cb = NULL;
	iris_v1_Frame *f = &m->f;

	f->cb_body.funcs.encode = NULL;
	switch (f->which_body) {
	case iris_v1_Frame_send_tag:
		cb = &f->body.send.envelopes;
		cb->funcs.encode = enc_envelopes;
		cb->arg = m;
		break;
	case iris_v1_Frame_deliver_tag:
		cb = &f->body.deliver.envelope;
		cb->funcs.encode = enc_slice;
		cb->arg = &m->envelope;
		break;
	case iris_v1_Frame_sync_page_tag:
		cb = &f->body.sync_page.items;
		cb->funcs.encode = enc_items;
		cb->arg = m;
		break;
	case iris_v1_Frame_error_tag:
		cb = &f->body.error.device_lists;
		cb->funcs.encode = enc_lists;
		cb->arg = m;
		break;
	case iris_v1_Frame_device_lists_tag:
		cb = &f->body.device_lists.lists;
		cb->funcs.encode = enc_lists;
		cb->arg = m;
		break;
	case iris_v1_Frame_contacts_tag:
		cb = &f->body.contacts.users;
		cb->funcs.encode = enc_users;
		cb->arg = m;
		break;
	default:
		break;
	}
}

int
iris__wire_size(struct iris_wire_msg *m, size_t *size)
{
	if (iris__wire_hot(m->f.which_body))
		return iris__wire_hot_size(m, size);
	return iris__wire_size_pb(m, size);
}

int
iris__wire_encode(struct iris_wire_msg *m, uint8_t *out, size_t cap,
    size_t *len)
{
	if (iris__wire_hot(m->f.which_body))
		return iris__wire_hot_encode(m, out, cap, len);
	return iris__wire_encode_pb(m, out, cap, len);
}

int
iris__wire_size_pb(struct iris_wire_msg *m, size_t *size)
{
	size_t n;

	prepare(m);
	if (!pb_get_encoded_size(&n, iris_v1_Frame_fields, &m->f))
		return IRIS_EINVAL;
	if (n > UINT32_MAX)
		return IRIS_ETOOBIG;
	*size = IRIS_FRAME_HEADER + n;
	return IRIS_OK;
}

int
iris__wire_encode_pb(struct iris_wire_msg *m, uint8_t *out, size_t cap,
    size_t *len)
{
	pb_ostream_t stream;

	*len = 0;
	if (cap < IRIS_FRAME_HEADER)
		return IRIS_ETOOBIG;
	prepare(m);
	stream = pb_ostream_from_buffer(out + IRIS_FRAME_HEADER,
	    cap - IRIS_FRAME_HEADER);
	if (!pb_encode(&stream, iris_v1_Frame_fields, &m->f)) {
		/* Out of room, or a field over its static bound. */
		return strcmp(PB_GET_ERROR(&stream), "stream full") == 0 ?
		    IRIS_ETOOBIG : IRIS_EINVAL;
	}
	iris__frame_put_header(out, (uint32_t)stream.bytes_written);
	*len = IRIS_FRAME_HEADER + stream.bytes_written;
	return IRIS_OK;
}

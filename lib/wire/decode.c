/* SPDX-License-Identifier: ISC */
/*
 * Frame decoding. nanopb decodes the static fields; the callback fields of
 * the body being decoded are installed by the Frame's submessage callback
 * and enforce the limits as they go, so nothing is held that the limits did
 * not allow. Byte fields become slices of the frame buffer.
 */
#include <stddef.h>
#include <string.h>

#include <pb_common.h>
#include <pb_decode.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/msg.h"

/* The decode in progress: the message and the bounds of its buffer. */
struct dec {
	struct iris_wire_msg	*m;
	const uint8_t		*base;
	size_t			 len;
};

static bool
refuse(struct dec *d, int wire_err, const char *detail)
{
	d->m->wire_err = wire_err;
	d->m->detail = detail;
	return false;
}

/*
 * Takes the rest of a bytes field as a slice. nanopb hands a callback a
 * copy on its stack for non-length-delimited wire types; a slice must point
 * into the frame, so anything else is malformed.
 */
static bool
take_slice(struct dec *d, pb_istream_t *stream, struct iris_slice *out,
    size_t max, int too_big_err)
{
	const uint8_t *p = stream->state;

	if (p < d->base || p > d->base + d->len ||
	    stream->bytes_left > (size_t)(d->base + d->len - p))
		return refuse(d, iris_v1_ErrorCode_ERR_MALFORMED,
		    "bytes field with a wrong wire type");
	if (stream->bytes_left > max)
		return refuse(d, too_big_err, "field over its size limit");
	out->ptr = p;
	out->len = stream->bytes_left;
	return pb_read(stream, NULL, stream->bytes_left);
}

/* Returns the next element of the body's array, growing it to the limit. */
static void *
next_elem(struct dec *d, void **arr, size_t *n, size_t size, size_t limit,
    int too_many_err)
{
	struct iris_wire_msg *m = d->m;
	size_t cap;
	void *p;

	if (*n >= limit) {
		refuse(d, too_many_err, "too many items in a list");
		return NULL;
	}
	if (*n == m->cap) {
		cap = m->cap != 0 ? m->cap * 2 : 4;
		if (cap > limit)
			cap = limit;
		if ((p = iris__realloc(*arr, cap * size)) == NULL) {
			refuse(d, iris_v1_ErrorCode_ERR_OVERLOADED,
			    "out of memory");
			return NULL;
		}
		*arr = p;
		m->cap = cap;
	}
	p = (char *)*arr + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

static bool
dec_payload(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;

	(void)field;
	return take_slice(d, stream, &m->envs[m->nenvs - 1].payload,
	    m->lim->max_envelope, iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE);
}

static bool
dec_envelope(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;
	struct iris_wire_envelope *e;
	iris_v1_Envelope pb = iris_v1_Envelope_init_zero;

	(void)field;
	e = next_elem(d, (void **)&m->envs, &m->nenvs, sizeof(*e),
	    m->lim->max_envelopes, iris_v1_ErrorCode_ERR_TOO_MANY_ENVELOPES);
	if (e == NULL)
		return false;
	pb.payload.funcs.decode = dec_payload;
	pb.payload.arg = d;
	if (!pb_decode(stream, iris_v1_Envelope_fields, &pb))
		return false;
	if (stream->bytes_left != 0)
		return refuse(d, iris_v1_ErrorCode_ERR_MALFORMED,
		    "field number 0");
	e->user = pb.recipient_user;
	e->device = pb.recipient_device;
	return true;
}

static bool
dec_deliver_envelope(pb_istream_t *stream, const pb_field_t *field,
    void **arg)
{
	struct dec *d = *arg;

	(void)field;
	return take_slice(d, stream, &d->m->envelope, d->m->lim->max_envelope,
	    iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE);
}

static bool
dec_item_envelope(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;

	(void)field;
	return take_slice(d, stream, &m->items[m->nitems - 1].envelope,
	    m->lim->max_envelope, iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE);
}

static bool
dec_item(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;
	struct iris_wire_delivery *it;

	(void)field;
	it = next_elem(d, (void **)&m->items, &m->nitems, sizeof(*it),
	    m->lim->max_sync_items, iris_v1_ErrorCode_ERR_FRAME_TOO_LARGE);
	if (it == NULL)
		return false;
	it->pb.envelope.funcs.decode = dec_item_envelope;
	it->pb.envelope.arg = d;
	return pb_decode(stream, iris_v1_Deliver_fields, &it->pb);
}

static bool
dec_list(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;
	iris_v1_SignedDeviceList *l;

	(void)field;
	l = next_elem(d, (void **)&m->lists, &m->nlists, sizeof(*l),
	    m->lim->max_lists, iris_v1_ErrorCode_ERR_FRAME_TOO_LARGE);
	if (l == NULL)
		return false;
	return pb_decode(stream, iris_v1_SignedDeviceList_fields, l);
}

static bool
dec_user(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;
	struct iris_slice *u;

	(void)field;
	u = next_elem(d, (void **)&m->users, &m->nusers, sizeof(*u),
	    m->lim->max_contacts, iris_v1_ErrorCode_ERR_FRAME_TOO_LARGE);
	if (u == NULL)
		return false;
	return take_slice(d, stream, u, IRIS_USER_MAX,
	    iris_v1_ErrorCode_ERR_BAD_REQUEST);
}

static void
drop_arrays(struct iris_wire_msg *m)
{
	iris__free(m->envs);
	iris__free(m->items);
	iris__free(m->lists);
	iris__free(m->users);
	m->envs = NULL;
	m->items = NULL;
	m->lists = NULL;
	m->users = NULL;
	m->nenvs = m->nitems = m->nlists = m->nusers = 0;
	m->envelope.ptr = NULL;
	m->envelope.len = 0;
	m->cap = 0;
}

/*
 * Key bundle bodies: well-formed protocol buffers whose keys have another
 * size than their type's, or whose lists pass their bound, are refused as
 * bad requests (the connection goes on) instead of as malformed frames.
 * These scan a copy of the body before nanopb decodes it; anything that
 * is not well formed is left for nanopb to refuse.
 */
/* A prekey's field 2 (public key, 32) or 3 (signature, 64) of another
 * size: its number; 0 when none is. */
static uint32_t
scan_key(pb_istream_t *s, int signed_prekey)
{
	pb_wire_type_t wt;
	uint32_t tag, len;
	bool eof;

	while (pb_decode_tag(s, &wt, &tag, &eof)) {
		if (wt == PB_WT_STRING && (tag == 2 || (tag == 3 &&
		    signed_prekey))) {
			if (!pb_decode_varint32(s, &len))
				return 0;
			if (len != (tag == 2 ? 32u : 64u))
				return tag;
			if (!pb_read(s, NULL, len))
				return 0;
		} else if (!pb_skip_field(s, wt))
			return 0;
	}
	return 0;
}

static const char *
scan_upload(pb_istream_t body)
{
	static const size_t max = pb_arraysize(iris_v1_KeyBundleUpload,
	    one_time_prekeys);
	pb_istream_t sub;
	pb_wire_type_t wt;
	uint32_t tag, bad;
	size_t n = 0;
	bool eof;

	while (pb_decode_tag(&body, &wt, &tag, &eof)) {
		if (wt != PB_WT_STRING || (tag != 1 && tag != 2)) {
			if (!pb_skip_field(&body, wt))
				return NULL;
			continue;
		}
		if (tag == 2 && ++n > max)
			return "key_bundle_upload.one_time_prekeys: more than "
			    "100";
		if (!pb_make_string_substream(&body, &sub))
			return NULL;
		bad = scan_key(&sub, tag == 1);
		if (!pb_close_string_substream(&body, &sub))
			return NULL;
		if (bad == 0)
			continue;
		return tag == 2 ? "key_bundle_upload.one_time_prekeys."
		    "public_key: not 32 bytes" : bad == 2 ?
		    "key_bundle_upload.signed_prekey.public_key: not 32 bytes" :
		    "key_bundle_upload.signed_prekey.signature: not 64 bytes";
	}
	return NULL;
}

static const char *
scan_fetch(pb_istream_t body)
{
	static const size_t max = pb_arraysize(iris_v1_KeyBundleFetch,
	    device_ids);
	pb_istream_t sub;
	pb_wire_type_t wt;
	uint32_t tag, v;
	size_t n = 0;
	bool eof;

	while (pb_decode_tag(&body, &wt, &tag, &eof)) {
		if (tag == 1 && wt == PB_WT_STRING) {
			if (!pb_decode_varint32(&body, &v))
				return NULL;
			if (v > IRIS_USER_MAX)
				return "key_bundle_fetch.user: over 64 bytes";
			if (!pb_read(&body, NULL, v))
				return NULL;
		} else if (tag == 2 && wt == PB_WT_VARINT) {
			if (!pb_decode_varint32(&body, &v))
				return NULL;
			n++;
		} else if (tag == 2 && wt == PB_WT_STRING) {
			/* Packed: count the varints. */
			if (!pb_make_string_substream(&body, &sub))
				return NULL;
			while (sub.bytes_left > 0 && pb_decode_varint32(&sub,
			    &v))
				n++;
			if (!pb_close_string_substream(&body, &sub))
				return NULL;
		} else if (!pb_skip_field(&body, wt))
			return NULL;
		if (n > max)
			return "key_bundle_fetch.device_ids: more than 64";
	}
	return NULL;
}

/* Called by nanopb before each body is decoded: install its callbacks. */
static bool
dec_body(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct dec *d = *arg;
	struct iris_wire_msg *m = d->m;
	pb_callback_t *cb = NULL;
	const char *why;

	/* A second body in one frame replaces the first (last one wins). */
	drop_arrays(m);
	if (field->data_size > m->dirty)
		m->dirty = field->data_size;
	switch (field->tag) {
	case iris_v1_Frame_key_bundle_upload_tag:
	case iris_v1_Frame_key_bundle_fetch_tag:
		why = field->tag == iris_v1_Frame_key_bundle_upload_tag ?
		    scan_upload(*stream) : scan_fetch(*stream);
		if (why != NULL)
			return refuse(d, iris_v1_ErrorCode_ERR_BAD_REQUEST, why);
		break;
	case iris_v1_Frame_send_tag:
		cb = &((iris_v1_Send *)field->pData)->envelopes;
		cb->funcs.decode = dec_envelope;
		break;
	case iris_v1_Frame_deliver_tag:
		cb = &((iris_v1_Deliver *)field->pData)->envelope;
		cb->funcs.decode = dec_deliver_envelope;
		break;
	case iris_v1_Frame_sync_page_tag:
		cb = &((iris_v1_SyncPage *)field->pData)->items;
		cb->funcs.decode = dec_item;
		break;
	case iris_v1_Frame_error_tag:
		cb = &((iris_v1_Error *)field->pData)->device_lists;
		cb->funcs.decode = dec_list;
		break;
	case iris_v1_Frame_device_lists_tag:
		cb = &((iris_v1_DeviceLists *)field->pData)->lists;
		cb->funcs.decode = dec_list;
		break;
	case iris_v1_Frame_contacts_tag:
		cb = &((iris_v1_Contacts *)field->pData)->users;
		cb->funcs.decode = dec_user;
		break;
	default:
		break;
	}
	if (cb != NULL)
		cb->arg = d;
	return true;
}

void
iris__wire_msg_init(struct iris_wire_msg *m)
{
	memset(m, 0, sizeof(*m));
}

#define BODY_TAGS	256
/* Body sizes by tag (0: not a body), filled once from the descriptor. Any
 * thread may fill it; they store the same values, atomically. */
static uint32_t body_sizes[BODY_TAGS];
static int body_sizes_ready;

static void
body_sizes_init(void)
{
	iris_v1_Frame f;
	pb_field_iter_t it;

	if (!pb_field_iter_begin(&it, iris_v1_Frame_fields, &f))
		return;
	do
		if (PB_HTYPE(it.type) == PB_HTYPE_ONEOF && it.tag < BODY_TAGS)
			__atomic_store_n(&body_sizes[it.tag],
			    (uint32_t)it.data_size, __ATOMIC_RELAXED);
	while (pb_field_iter_next(&it));
	__atomic_store_n(&body_sizes_ready, 1, __ATOMIC_RELEASE);
}

/* Bytes of the body union that member `which` spans. */
static size_t
body_size(pb_size_t which)
{
	uint32_t n;

	if (!__atomic_load_n(&body_sizes_ready, __ATOMIC_ACQUIRE))
		body_sizes_init();
	if (which == 0)
		return 0;
	n = which < BODY_TAGS ? __atomic_load_n(&body_sizes[which],
	    __ATOMIC_RELAXED) : 0;
	/* An unknown tag: the whole union, to be safe. */
	return n != 0 ? n : sizeof(((iris_v1_Frame *)NULL)->body);
}

/* Zeroes all but the body union, and the union's first n bytes. */
static void
zero_but_body(struct iris_wire_msg *m, size_t n)
{
	memset(m, 0, offsetof(struct iris_wire_msg, f.body));
	memset(&m->f.body, 0, n);
	memset((uint8_t *)m + offsetof(struct iris_wire_msg, envs), 0,
	    sizeof(*m) - offsetof(struct iris_wire_msg, envs));
}

void
iris__wire_msg_init_body(struct iris_wire_msg *m, pb_size_t which)
{
	zero_but_body(m, body_size(which));
	m->f.which_body = which;
}

void
iris__wire_msg_reset(struct iris_wire_msg *m)
{
	size_t n = body_size(m->f.which_body);

	drop_arrays(m);
	/* Bodies written into and replaced by a decode are covered too. */
	zero_but_body(m, m->dirty > n ? m->dirty : n);
}

/* The request id of a frame that failed to decode, if it has one. */
static uint64_t
peek_request_id(const uint8_t *buf, size_t len)
{
	pb_istream_t s = pb_istream_from_buffer(buf, len);
	pb_wire_type_t wt;
	uint32_t tag;
	uint64_t v;
	bool eof;

	while (pb_decode_tag(&s, &wt, &tag, &eof)) {
		if (tag == iris_v1_Frame_request_id_tag && wt == PB_WT_VARINT)
			return pb_decode_varint(&s, &v) ? v : 0;
		if (!pb_skip_field(&s, wt))
			break;
	}
	return 0;
}

int
iris__wire_decode(struct iris_wire_msg *m, const uint8_t *buf, size_t len,
    const struct iris_wire_limits *lim)
{
	int rc;

	iris__wire_msg_reset(m);
	m->lim = lim;
	if ((rc = iris__wire_hot_decode(m, buf, len)) != IRIS__WIRE_NOT_HOT)
		return rc;
	return iris__wire_decode_pb(m, buf, len, lim);
}

int
iris__wire_decode_pb(struct iris_wire_msg *m, const uint8_t *buf,
    size_t len, const struct iris_wire_limits *lim)
{
	struct dec d = { m, buf, len };
	pb_istream_t stream;

	/* Also drops what a declined hot decode took. */
	iris__wire_msg_reset(m);
	m->lim = lim;
	m->f.cb_body.funcs.decode = dec_body;
	m->f.cb_body.arg = &d;
	stream = pb_istream_from_buffer(buf, len);
	/*
	 * The reset left the frame at its defaults (proto3: all zero), so
	 * nanopb need not walk the Frame's fields to set them again (half of
	 * what decoding a Send or an Ack cost).
	 */
	if (pb_decode_ex(&stream, iris_v1_Frame_fields, &m->f,
	    PB_DECODE_NOINIT)) {
		m->f.cb_body.arg = NULL;
		/* nanopb ends a message at a zero tag; protobuf forbids it. */
		if (stream.bytes_left == 0)
			return IRIS_OK;
		m->wire_err = iris_v1_ErrorCode_ERR_MALFORMED;
		m->detail = "field number 0";
		return IRIS_EPROTO;
	}
	m->f.cb_body.arg = NULL;
	switch (m->wire_err) {
	case iris_v1_ErrorCode_ERR_NONE:
		m->wire_err = iris_v1_ErrorCode_ERR_MALFORMED;
		m->detail = PB_GET_ERROR(&stream);
		return IRIS_EPROTO;
	case iris_v1_ErrorCode_ERR_MALFORMED:
		return IRIS_EPROTO;
	case iris_v1_ErrorCode_ERR_OVERLOADED:
		return IRIS_ENOMEM;
	case iris_v1_ErrorCode_ERR_BAD_REQUEST:
		/* Well formed, answerable: the request id says to what. */
		m->f.request_id = peek_request_id(buf, len);
		return IRIS_EPROTO;
	default:
		return IRIS_ETOOBIG;
	}
}

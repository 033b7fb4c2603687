/* SPDX-License-Identifier: ISC */
/*
 * Semantic checks on decoded frames (what nanopb cannot know: user id
 * syntax, enum ranges, required ids), the protocol limits, and names of
 * codes and bodies for logs.
 */
#include <string.h>

#include "iris.h"
#include "util/config.h"
#include "util/uuid.h"
#include "wire/msg.h"

void
iris__wire_limits_default(struct iris_wire_limits *lim)
{
	lim->max_envelope = IRIS_ENVELOPE_MAX;
	lim->max_envelopes = 2 * 16 - 1;
	lim->max_sync_items = 256;
	lim->max_lists = IRIS_LISTS_MAX;
	lim->max_contacts = IRIS_CONTACTS_MAX;
}

void
iris__wire_limits_max(struct iris_wire_limits *lim)
{
	lim->max_envelope = IRIS_ENVELOPE_MAX;
	lim->max_envelopes = IRIS_ENVELOPES_MAX;
	lim->max_sync_items = IRIS_SYNC_PAGE_MAX;
	lim->max_lists = IRIS_LISTS_MAX;
	lim->max_contacts = IRIS_CONTACTS_MAX;
}

void
iris__wire_limits_config(struct iris_wire_limits *lim,
    const struct iris_config *cfg)
{
	iris__wire_limits_default(lim);
	lim->max_envelope = (uint32_t)iris__config_uint(cfg,
	    IRIS__OPT_MAX_ENVELOPE);
	lim->max_envelopes = 2 * (uint32_t)iris__config_uint(cfg,
	    IRIS__OPT_MAX_DEVICES_PER_USER) - 1;
	lim->max_sync_items = (uint32_t)iris__config_uint(cfg,
	    IRIS__OPT_MAX_SYNC_PAGE);
}

uint32_t
iris__wire_max_frame(const struct iris_wire_limits *lim)
{
	return lim->max_envelopes * lim->max_envelope + IRIS_FRAME_SLACK;
}

/* Decodes one UTF-8 sequence; returns its length or 0 when invalid. */
static size_t
utf8_next(const uint8_t *p, size_t len, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2, c = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, c = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, c = p[0] & 0x07, min = 0x10000;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Control characters, whitespace and invisible separators. */
static int
forbidden(uint32_t c)
{
	return c < 0x21 || (c >= 0x7f && c <= 0xa0) || c == 0xad ||
	    c == 0x061c || c == 0x1680 || c == 0x180e ||
	    (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
	    (c >= 0x205f && c <= 0x206f) || c == 0x3000 || c == 0xfeff ||
	    (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xe0000 && c <= 0xe007f);
}

int
iris__wire_userid_ok(const uint8_t *p, size_t len)
{
	size_t off = 0, n;
	uint32_t c;

	if (len == 0 || len > IRIS_USER_MAX)
		return 0;
	while (off < len) {
		if ((n = utf8_next(p + off, len - off, &c)) == 0 ||
		    forbidden(c))
			return 0;
		off += n;
	}
	return 1;
}

static int
nonzero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= p[i];
	return acc != 0;
}

#define USER_OK(b)	iris__wire_userid_ok((b).bytes, (b).size)

static int
bad(struct iris_wire_msg *m, const char *detail)
{
	m->wire_err = iris_v1_ErrorCode_ERR_BAD_REQUEST;
	m->detail = detail;
	return IRIS_EPROTO;
}

static int
check_class(int class)
{
	return class >= iris_v1_MsgClass_CLASS_MESSAGE &&
	    class <= iris_v1_MsgClass_CLASS_CONTROL;
}

static int
check_deliver(struct iris_wire_msg *m, const iris_v1_Deliver *d, size_t len)
{
	if (d->has_receipt) {
		/* Receipts are stored in the sender's inbox: they have a seq. */
		if (!USER_OK(d->receipt.user))
			return bad(m, "deliver.receipt.user");
		if (d->seq == 0)
			return bad(m, "deliver.seq");
		return IRIS_OK;
	}
	if (!USER_OK(d->sender_user))
		return bad(m, "deliver.sender_user");
	if (!check_class(d->class))
		return bad(m, "deliver.class");
	if (!d->transient && d->seq == 0)
		return bad(m, "deliver.seq");
	if (len == 0)
		return bad(m, "deliver.envelope");
	return IRIS_OK;
}

static int
check_send(struct iris_wire_msg *m)
{
	const iris_v1_Send *s = &m->f.body.send;
	size_t i;

	if (!iris__uuid_is_v7(s->client_msg_id))
		return bad(m, "send.client_msg_id: not a UUIDv7");
	if (!check_class(s->class))
		return bad(m, "send.class");
	if (m->nenvs == 0)
		return bad(m, "send.envelopes: none");
	for (i = 0; i < m->nenvs; i++) {
		if (!USER_OK(m->envs[i].user))
			return bad(m, "send.envelopes.recipient_user");
		if (m->envs[i].device == 0)
			return bad(m, "send.envelopes.recipient_device");
		if (m->envs[i].payload.len == 0)
			return bad(m, "send.envelopes.payload: empty");
	}
	return IRIS_OK;
}

/* The bytes arrays of user ids are distinct nanopb types: a macro. */
#define CHECK_USERS(m, arr, n, need_one, what) do {			\
	pb_size_t i_;							\
									\
	if ((need_one) && (n) == 0)					\
		return bad((m), (what));				\
	for (i_ = 0; i_ < (n); i_++)					\
		if (!USER_OK((arr)[i_]))				\
			return bad((m), (what));			\
} while (0)

static int
check_upload(struct iris_wire_msg *m, const iris_v1_KeyBundleUpload *k)
{
	pb_size_t i, j;

	if (!k->has_signed_prekey && k->one_time_prekeys_count == 0)
		return bad(m, "key_bundle_upload: empty");
	if (k->has_signed_prekey &&
	    (!nonzero(k->signed_prekey.public_key, 32) ||
	    !nonzero(k->signed_prekey.signature, 64)))
		return bad(m, "key_bundle_upload.signed_prekey: key and "
		    "signature required");
	if (k->has_signed_prekey && k->signed_prekey.created_ms == 0)
		return bad(m, "key_bundle_upload.signed_prekey.created_ms");
	for (i = 0; i < k->one_time_prekeys_count; i++) {
		if (!nonzero(k->one_time_prekeys[i].public_key, 32))
			return bad(m, "key_bundle_upload.one_time_prekeys: "
			    "a zero public key");
		/* At most 100: quadratic is cheaper than anything else. */
		for (j = 0; j < i; j++)
			if (k->one_time_prekeys[j].id ==
			    k->one_time_prekeys[i].id)
				return bad(m, "key_bundle_upload."
				    "one_time_prekeys: an id twice");
	}
	return IRIS_OK;
}

static int
check_fetch(struct iris_wire_msg *m, const iris_v1_KeyBundleFetch *k)
{
	pb_size_t i, j;

	if (!USER_OK(k->user))
		return bad(m, "key_bundle_fetch.user");
	for (i = 0; i < k->device_ids_count; i++) {
		if (k->device_ids[i] == 0)
			return bad(m, "key_bundle_fetch.device_ids: zero");
		for (j = 0; j < i; j++)
			if (k->device_ids[j] == k->device_ids[i])
				return bad(m, "key_bundle_fetch.device_ids: "
				    "an id twice");
	}
	return IRIS_OK;
}

int
iris__wire_check(struct iris_wire_msg *m)
{
	const iris_v1_Frame *f = &m->f;
	size_t i;
	int rc;

	switch (f->which_body) {
	case 0:
		m->wire_err = iris_v1_ErrorCode_ERR_UNIMPLEMENTED;
		m->detail = "unknown or missing body";
		return IRIS_ENOTSUP;
	case iris_v1_Frame_client_hello_tag:
		if (f->body.client_hello.versions_count == 0)
			return bad(m, "client_hello.versions: none");
		return IRIS_OK;
	case iris_v1_Frame_register_device_tag:
		if (!USER_OK(f->body.register_device.user))
			return bad(m, "register.user");
		if (!nonzero(f->body.register_device.identity_key, 32) ||
		    !nonzero(f->body.register_device.signature, 64))
			return bad(m, "register: key and signature required");
		return IRIS_OK;
	case iris_v1_Frame_login_tag:
		if (!USER_OK(f->body.login.user))
			return bad(m, "login.user");
		if (f->body.login.device_id == 0)
			return bad(m, "login.device_id");
		if (nonzero(f->body.login.signature, 64) ==
		    (f->body.login.resume_token.size > 0))
			return bad(m, "login: one of signature or token");
		return IRIS_OK;
	case iris_v1_Frame_device_list_get_tag:
		CHECK_USERS(m, f->body.device_list_get.users,
		    f->body.device_list_get.users_count, 1,
		    "device_list_get.users");
		return IRIS_OK;
	case iris_v1_Frame_device_list_put_tag:
		if (!f->body.device_list_put.has_list ||
		    f->body.device_list_put.list.list.size == 0 ||
		    !nonzero(f->body.device_list_put.list.signature, 64))
			return bad(m, "device_list_put.list");
		return IRIS_OK;
	case iris_v1_Frame_key_bundle_upload_tag:
		return check_upload(m, &f->body.key_bundle_upload);
	case iris_v1_Frame_key_bundle_fetch_tag:
		return check_fetch(m, &f->body.key_bundle_fetch);
	case iris_v1_Frame_send_tag:
		return check_send(m);
	case iris_v1_Frame_deliver_tag:
		return check_deliver(m, &f->body.deliver, m->envelope.len);
	case iris_v1_Frame_sync_page_tag:
		for (i = 0; i < m->nitems; i++)
			if ((rc = check_deliver(m, &m->items[i].pb,
			    m->items[i].envelope.len)) != IRIS_OK)
				return rc;
		return IRIS_OK;
	case iris_v1_Frame_ack_tag:
		if (f->body.ack.seq == 0)
			return bad(m, "ack.seq");
		return IRIS_OK;
	case iris_v1_Frame_presence_subscribe_tag:
		CHECK_USERS(m, f->body.presence_subscribe.users,
		    f->body.presence_subscribe.users_count, 1,
		    "presence_subscribe.users");
		return IRIS_OK;
	case iris_v1_Frame_presence_unsubscribe_tag:
		CHECK_USERS(m, f->body.presence_unsubscribe.users,
		    f->body.presence_unsubscribe.users_count, 1,
		    "presence_unsubscribe.users");
		return IRIS_OK;
	case iris_v1_Frame_presence_settings_tag:
		if (f->body.presence_settings.privacy <
		    iris_v1_Privacy_PRIVACY_EVERYONE ||
		    f->body.presence_settings.privacy >
		    iris_v1_Privacy_PRIVACY_NOBODY)
			return bad(m, "presence_settings.privacy");
		return IRIS_OK;
	case iris_v1_Frame_contacts_edit_tag:
		CHECK_USERS(m, f->body.contacts_edit.add,
		    f->body.contacts_edit.add_count, 0, "contacts_edit.add");
		CHECK_USERS(m, f->body.contacts_edit.remove,
		    f->body.contacts_edit.remove_count, 0,
		    "contacts_edit.remove");
		return IRIS_OK;
	case iris_v1_Frame_contacts_tag:
		for (i = 0; i < m->nusers; i++)
			if (!iris__wire_userid_ok(m->users[i].ptr,
			    m->users[i].len))
				return bad(m, "contacts.users");
		return IRIS_OK;
	case iris_v1_Frame_presence_update_tag:
		for (i = 0; i < f->body.presence_update.items_count; i++)
			if (!USER_OK(f->body.presence_update.items[i].user))
				return bad(m, "presence_update.items.user");
		return IRIS_OK;
	default:
		return IRIS_OK;
	}
}

int
iris__wire_err_retryable(int code)
{
	switch (code) {
	case iris_v1_ErrorCode_ERR_RATE_LIMITED:
	case iris_v1_ErrorCode_ERR_STALE_DEVICES:
	case iris_v1_ErrorCode_ERR_INBOX_FULL:
	case iris_v1_ErrorCode_ERR_OVERLOADED:
	case iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE:
	case iris_v1_ErrorCode_ERR_SHUTTING_DOWN:
	case iris_v1_ErrorCode_ERR_OUT_OF_ORDER:
	case iris_v1_ErrorCode_ERR_TOO_MANY_CONNECTIONS:
		return 1;
	default:
		return 0;
	}
}

const char *
iris__wire_errname(int code)
{
	/* nanopb's generated table answers "unknown" past its end. */
	const char *s = iris_v1_ErrorCode_name((iris_v1_ErrorCode)code);

	return s != NULL && strncmp(s, "ERR_", 4) == 0 ? s : "ERR_UNKNOWN";
}

#define BODY(name)	{ iris_v1_Frame_##name##_tag, #name }
static const struct {
	pb_size_t	 tag;
	const char	*name;
} bodies[] = {
	BODY(client_hello), BODY(server_hello), BODY(error), BODY(ping),
	BODY(pong), BODY(done), BODY(register_device), BODY(registered),
	BODY(login), BODY(logged_in), BODY(logout), BODY(link_token_create),
	BODY(link_token), BODY(device_list_get),
	BODY(device_lists), BODY(device_list_put), BODY(key_bundle_upload),
	BODY(key_bundle_fetch), BODY(key_bundles), BODY(prekey_low),
	BODY(send), BODY(send_ack), BODY(deliver), BODY(ack),
	BODY(sync_request), BODY(sync_page), BODY(presence_subscribe),
	BODY(presence_unsubscribe), BODY(presence_update),
	BODY(presence_settings), BODY(contacts_get), BODY(contacts),
	BODY(contacts_edit),
};

const char *
iris__wire_bodyname(pb_size_t which_body)
{
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		if (bodies[i].tag == which_body)
			return bodies[i].name;
	return "unknown";
}

/* SPDX-License-Identifier: ISC */
/*
 * Representative frames of every body with every field set, shared by the
 * codec tests (round trips, allocation failures) and the fuzz corpus.
 */
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "samples.h"

const pb_size_t sample_bodies[] = {
	iris_v1_Frame_client_hello_tag, iris_v1_Frame_server_hello_tag,
	iris_v1_Frame_error_tag, iris_v1_Frame_ping_tag,
	iris_v1_Frame_pong_tag, iris_v1_Frame_done_tag,
	iris_v1_Frame_register_device_tag, iris_v1_Frame_registered_tag,
	iris_v1_Frame_login_tag, iris_v1_Frame_logged_in_tag,
	iris_v1_Frame_logout_tag, iris_v1_Frame_link_token_create_tag,
	iris_v1_Frame_link_token_tag, iris_v1_Frame_device_list_get_tag,
	iris_v1_Frame_device_lists_tag, iris_v1_Frame_device_list_put_tag,
	iris_v1_Frame_key_bundle_upload_tag,
	iris_v1_Frame_key_bundle_fetch_tag, iris_v1_Frame_key_bundles_tag,
	iris_v1_Frame_prekey_low_tag, iris_v1_Frame_send_tag,
	iris_v1_Frame_send_ack_tag, iris_v1_Frame_deliver_tag,
	iris_v1_Frame_ack_tag, iris_v1_Frame_sync_request_tag,
	iris_v1_Frame_sync_page_tag, iris_v1_Frame_presence_subscribe_tag,
	iris_v1_Frame_presence_unsubscribe_tag,
	iris_v1_Frame_presence_update_tag,
	iris_v1_Frame_presence_settings_tag, iris_v1_Frame_contacts_get_tag,
	iris_v1_Frame_contacts_tag, iris_v1_Frame_contacts_edit_tag,
};
const size_t sample_nbodies = sizeof(sample_bodies) / sizeof(sample_bodies[0]);

static const uint8_t payload_a[] = "ciphertext-a: opaque to the server";
static const uint8_t payload_b[] = "ciphertext-b";

void
sample_uuid(uint8_t out[16], uint8_t n)
{
	static const uint8_t base[16] = {
		0x01, 0x93, 0x5f, 0x2a, 0x10, 0x00, 0x70, 0x01,
		0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x00,
	};

	memcpy(out, base, 16);
	out[15] = n;
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + 1);
}

static void
signed_list(iris_v1_SignedDeviceList *l, uint8_t seed)
{
	l->list.size = 40;
	fill(l->list.bytes, 40, seed);
	fill(l->signature, 64, (uint8_t)(seed + 1));
}

static void
spk(iris_v1_SignedPrekey *k)
{
	k->id = 7;
	fill(k->public_key, 32, 3);
	fill(k->signature, 64, 4);
	k->created_ms = 1764000000000ULL;
}

static void
deliver(iris_v1_Deliver *d, uint64_t seq)
{
	d->seq = seq;
	d->msg_id = 0x0193f00dULL << 16 | seq;
	SET_BYTES(d->sender_user, "alice");
	d->sender_device = 2;
	sample_uuid(d->client_msg_id, (uint8_t)seq);
	d->class = iris_v1_MsgClass_CLASS_MESSAGE;
	d->sent_ms = 1764000000123ULL;
}

static int
body_lists(struct iris_wire_msg *m, size_t n)
{
	size_t i;

	if ((m->lists = iris__calloc(n, sizeof(*m->lists))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		signed_list(&m->lists[i], (uint8_t)i);
	m->nlists = n;
	return 0;
}

static int
body_send(struct iris_wire_msg *m)
{
	iris_v1_Send *s = &m->f.body.send;

	sample_uuid(s->client_msg_id, 1);
	s->class = iris_v1_MsgClass_CLASS_MESSAGE;
	if ((m->envs = iris__calloc(2, sizeof(*m->envs))) == NULL)
		return -1;
	SET_BYTES(m->envs[0].user, "bob");
	m->envs[0].device = 1;
	m->envs[0].payload.ptr = payload_a;
	m->envs[0].payload.len = sizeof(payload_a) - 1;
	SET_BYTES(m->envs[1].user, "alice");
	m->envs[1].device = 3;
	m->envs[1].payload.ptr = payload_b;
	m->envs[1].payload.len = sizeof(payload_b) - 1;
	m->nenvs = 2;
	return 0;
}

static int
body_sync_page(struct iris_wire_msg *m)
{
	size_t i;

	if ((m->items = iris__calloc(3, sizeof(*m->items))) == NULL)
		return -1;
	for (i = 0; i < 3; i++) {
		deliver(&m->items[i].pb, 10 + i);
		m->items[i].envelope.ptr = payload_a;
		m->items[i].envelope.len = sizeof(payload_a) - 1 - i;
	}
	m->nitems = 3;
	m->f.body.sync_page.head_seq = 40;
	m->f.body.sync_page.more = true;
	return 0;
}

static int
body_contacts(struct iris_wire_msg *m)
{
	static const char *const names[] = { "bob", "carol", "\xc3\xa9mile" };
	size_t i;

	if ((m->users = iris__calloc(3, sizeof(*m->users))) == NULL)
		return -1;
	for (i = 0; i < 3; i++) {
		m->users[i].ptr = (const uint8_t *)names[i];
		m->users[i].len = strlen(names[i]);
	}
	m->nusers = 3;
	return 0;
}

static void
body_static(iris_v1_Frame *f)
{
	size_t i;

	switch (f->which_body) {
	case iris_v1_Frame_client_hello_tag:
		f->body.client_hello.versions_count = 2;
		f->body.client_hello.versions[0] = 1;
		f->body.client_hello.versions[1] = 2;
		f->body.client_hello.capabilities_count = 1;
		strcpy(f->body.client_hello.capabilities[0], "receipts");
		strcpy(f->body.client_hello.client_name, "check_msg");
		break;
	case iris_v1_Frame_server_hello_tag:
		f->body.server_hello.version = 1;
		fill(f->body.server_hello.challenge, 32, 9);
		fill(f->body.server_hello.server_id, 16, 10);
		f->body.server_hello.server_time_ms = 1764000000000ULL;
		f->body.server_hello.has_limits = true;
		f->body.server_hello.limits.max_frame = 2097152;
		f->body.server_hello.limits.max_envelope = 65536;
		f->body.server_hello.limits.max_envelopes_per_send = 31;
		break;
	case iris_v1_Frame_error_tag:
		f->body.error.code = iris_v1_ErrorCode_ERR_STALE_DEVICES;
		f->body.error.retry_after_ms = 250;
		strcpy(f->body.error.detail, "device set is stale");
		break;
	case iris_v1_Frame_ping_tag:
		f->body.ping.data.size = 8;
		fill(f->body.ping.data.bytes, 8, 1);
		break;
	case iris_v1_Frame_pong_tag:
		f->body.pong.data.size = 8;
		fill(f->body.pong.data.bytes, 8, 1);
		break;
	case iris_v1_Frame_register_device_tag:
		SET_BYTES(f->body.register_device.user, "alice");
		fill(f->body.register_device.identity_key, 32, 5);
		fill(f->body.register_device.signature, 64, 6);
		strcpy(f->body.register_device.invite_code, "INVITE-1234");
		strcpy(f->body.register_device.device_name, "laptop");
		break;
	case iris_v1_Frame_registered_tag:
		f->body.registered.device_id = 1;
		f->body.registered.primary = true;
		fill(f->body.registered.challenge, 32, 13);
		break;
	case iris_v1_Frame_login_tag:
		SET_BYTES(f->body.login.user, "alice");
		f->body.login.device_id = 1;
		fill(f->body.login.signature, 64, 8);
		break;
	case iris_v1_Frame_logged_in_tag:
		f->body.logged_in.session_token.size = 100;
		fill(f->body.logged_in.session_token.bytes, 100, 2);
		f->body.logged_in.token_expires_ms = 1764086400000ULL;
		f->body.logged_in.acked_seq = 41;
		f->body.logged_in.head_seq = 57;
		break;
	case iris_v1_Frame_logout_tag:
		f->body.logout.revoke_token = true;
		break;
	case iris_v1_Frame_link_token_tag:
		f->body.link_token.token.size = 32;
		fill(f->body.link_token.token.bytes, 32, 14);
		f->body.link_token.expires_ms = 1764000600000ULL;
		break;
	case iris_v1_Frame_device_list_get_tag:
		f->body.device_list_get.users_count = 2;
		SET_BYTES(f->body.device_list_get.users[0], "bob");
		SET_BYTES(f->body.device_list_get.users[1], "carol");
		break;
	case iris_v1_Frame_device_list_put_tag:
		f->body.device_list_put.has_list = true;
		signed_list(&f->body.device_list_put.list, 3);
		break;
	case iris_v1_Frame_key_bundle_upload_tag:
		f->body.key_bundle_upload.has_signed_prekey = true;
		spk(&f->body.key_bundle_upload.signed_prekey);
		f->body.key_bundle_upload.one_time_prekeys_count = 100;
		for (i = 0; i < 100; i++) {
			f->body.key_bundle_upload.one_time_prekeys[i].id =
			    (uint32_t)i + 1;
			fill(f->body.key_bundle_upload.one_time_prekeys[i]
			    .public_key, 32, (uint8_t)i);
		}
		break;
	case iris_v1_Frame_key_bundle_fetch_tag:
		SET_BYTES(f->body.key_bundle_fetch.user, "bob");
		f->body.key_bundle_fetch.device_ids_count = 2;
		f->body.key_bundle_fetch.device_ids[0] = 1;
		f->body.key_bundle_fetch.device_ids[1] = 4;
		break;
	case iris_v1_Frame_key_bundles_tag:
		f->body.key_bundles.bundles_count = 2;
		for (i = 0; i < 2; i++) {
			iris_v1_KeyBundle *b = &f->body.key_bundles.bundles[i];

			b->device_id = (uint32_t)i + 1;
			fill(b->identity_key, 32, (uint8_t)i);
			b->has_signed_prekey = true;
			spk(&b->signed_prekey);
			if (i == 0) {
				b->has_one_time_prekey = true;
				b->one_time_prekey.id = 55;
				fill(b->one_time_prekey.public_key, 32, 12);
			}
		}
		f->body.key_bundles.has_device_list = true;
		signed_list(&f->body.key_bundles.device_list, 4);
		break;
	case iris_v1_Frame_prekey_low_tag:
		f->body.prekey_low.remaining = 19;
		break;
	case iris_v1_Frame_send_ack_tag:
		f->body.send_ack.msg_id = 0x0193f00dbeefULL;
		f->body.send_ack.duplicate = true;
		f->body.send_ack.stored_ms = 1764000000999ULL;
		f->body.send_ack.envelopes = 3;
		break;
	case iris_v1_Frame_ack_tag:
		f->body.ack.seq = 12345;
		break;
	case iris_v1_Frame_sync_request_tag:
		f->body.sync_request.after_seq = 100;
		f->body.sync_request.max = 50;
		break;
	case iris_v1_Frame_presence_subscribe_tag:
		f->body.presence_subscribe.users_count = 1;
		SET_BYTES(f->body.presence_subscribe.users[0], "bob");
		break;
	case iris_v1_Frame_presence_unsubscribe_tag:
		f->body.presence_unsubscribe.users_count = 1;
		SET_BYTES(f->body.presence_unsubscribe.users[0], "bob");
		break;
	case iris_v1_Frame_presence_update_tag:
		f->body.presence_update.items_count = 2;
		SET_BYTES(f->body.presence_update.items[0].user, "bob");
		f->body.presence_update.items[0].online = true;
		SET_BYTES(f->body.presence_update.items[1].user, "carol");
		f->body.presence_update.items[1].last_seen_ms = 1763999999000ULL;
		f->body.presence_update.items[1].hidden = true;
		break;
	case iris_v1_Frame_presence_settings_tag:
		f->body.presence_settings.privacy =
		    iris_v1_Privacy_PRIVACY_CONTACTS;
		f->body.presence_settings.receipts = true;
		break;
	case iris_v1_Frame_contacts_edit_tag:
		f->body.contacts_edit.add_count = 1;
		SET_BYTES(f->body.contacts_edit.add[0], "dave");
		f->body.contacts_edit.remove_count = 1;
		SET_BYTES(f->body.contacts_edit.remove[0], "eve");
		break;
	default:
		break;
	}
}

int
sample_frame(struct iris_wire_msg *m, pb_size_t which)
{
	size_t i;

	for (i = 0; i < sample_nbodies; i++)
		if (sample_bodies[i] == which)
			break;
	if (i == sample_nbodies)
		return -1;
	m->f.request_id = 1000 + which;
	fill(m->f.trace_id, 16, (uint8_t)which);
	m->f.which_body = which;
	body_static(&m->f);
	switch (which) {
	case iris_v1_Frame_error_tag:
		return body_lists(m, 2);
	case iris_v1_Frame_device_lists_tag:
		return body_lists(m, 3);
	case iris_v1_Frame_send_tag:
		return body_send(m);
	case iris_v1_Frame_deliver_tag:
		deliver(&m->f.body.deliver, 9);
		m->envelope.ptr = payload_b;
		m->envelope.len = sizeof(payload_b) - 1;
		return 0;
	case iris_v1_Frame_sync_page_tag:
		return body_sync_page(m);
	case iris_v1_Frame_contacts_tag:
		return body_contacts(m);
	default:
		return 0;
	}
}

uint8_t *
sample_encode(struct iris_wire_msg *m, size_t *len)
{
	uint8_t *buf;
	size_t need;

	if (iris__wire_size(m, &need) != IRIS_OK ||
	    (buf = malloc(need)) == NULL)
		return NULL;
	if (iris__wire_encode(m, buf, need, len) != IRIS_OK) {
		free(buf);
		return NULL;
	}
	return buf;
}

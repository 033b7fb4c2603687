/* SPDX-License-Identifier: ISC */
/*
 * Message codec: every body round-trips, unknown fields are ignored,
 * malformed and truncated input is refused with a distinct error, the
 * limits hold at their edges, and the semantic checks catch bad fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "samples.h"
#include "suites.h"

static struct iris_wire_limits lim;

static void
setup(void)
{
	iris__wire_limits_default(&lim);
}

/* Decodes an encoded frame (header included) into m. */
static int
decode(struct iris_wire_msg *m, const uint8_t *buf, size_t len)
{
	ck_assert_uint_ge(len, IRIS_FRAME_HEADER);
	return iris__wire_decode(m, buf + IRIS_FRAME_HEADER,
	    len - IRIS_FRAME_HEADER, &lim);
}

START_TEST(test_msg_every_body_round_trips)
{
	struct iris_wire_msg m, d;
	uint8_t *a, *b;
	size_t alen, blen, i;
	pb_size_t which = sample_bodies[_i];

	iris__wire_msg_init(&m);
	ck_assert_int_eq(sample_frame(&m, which), 0);
	a = sample_encode(&m, &alen);
	ck_assert_ptr_nonnull(a);

	iris__wire_msg_init(&d);
	ck_assert_int_eq(decode(&d, a, alen), IRIS_OK);
	ck_assert_uint_eq(d.f.which_body, which);
	ck_assert_uint_eq(d.f.request_id, m.f.request_id);
	ck_assert_mem_eq(d.f.trace_id, m.f.trace_id, 16);
	ck_assert_int_eq(iris__wire_check(&d), IRIS_OK);
	ck_assert_uint_eq(d.nenvs, m.nenvs);
	for (i = 0; i < m.nenvs; i++) {
		ck_assert_uint_eq(d.envs[i].device, m.envs[i].device);
		ck_assert_uint_eq(d.envs[i].user.size, m.envs[i].user.size);
		ck_assert_uint_eq(d.envs[i].payload.len,
		    m.envs[i].payload.len);
		ck_assert_mem_eq(d.envs[i].payload.ptr, m.envs[i].payload.ptr,
		    m.envs[i].payload.len);
	}
	ck_assert_uint_eq(d.nitems, m.nitems);
	for (i = 0; i < m.nitems; i++) {
		ck_assert_uint_eq(d.items[i].pb.seq, m.items[i].pb.seq);
		ck_assert_uint_eq(d.items[i].envelope.len,
		    m.items[i].envelope.len);
	}
	ck_assert_uint_eq(d.nlists, m.nlists);
	for (i = 0; i < m.nlists; i++)
		ck_assert_mem_eq(&d.lists[i], &m.lists[i], sizeof(m.lists[i]));
	ck_assert_uint_eq(d.nusers, m.nusers);
	ck_assert_uint_eq(d.envelope.len, m.envelope.len);
	if (m.envelope.len > 0)
		ck_assert_mem_eq(d.envelope.ptr, m.envelope.ptr,
		    m.envelope.len);
	if (which != iris_v1_Frame_send_tag &&
	    which != iris_v1_Frame_sync_page_tag &&
	    which != iris_v1_Frame_deliver_tag &&
	    which != iris_v1_Frame_error_tag &&
	    which != iris_v1_Frame_device_lists_tag &&
	    which != iris_v1_Frame_contacts_tag)
		/* Static bodies decode to exactly what was encoded. */
		ck_assert_mem_eq(&d.f.body, &m.f.body, sizeof(m.f.body));

	/* Encoding what was decoded gives the same bytes. */
	b = sample_encode(&d, &blen);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(blen, alen);
	ck_assert_mem_eq(a, b, alen);
	ck_assert_str_ne(iris__wire_bodyname(which), "unknown");

	free(a);
	free(b);
	iris__wire_msg_reset(&d);
	iris__wire_msg_reset(&m);
}
END_TEST

/* Appends a length-delimited unknown field (number 999) to a message. */
static uint8_t *
append_unknown(const uint8_t *buf, size_t len, size_t *outlen)
{
	static const uint8_t extra[] = {
		0xba, 0x3e, 0x03, 'x', 'y', 'z',	/* field 999, bytes */
		0xc0, 0x3e, 0x2a,			/* field 1000, varint */
	};
	uint8_t *out = malloc(len + sizeof(extra));

	ck_assert_ptr_nonnull(out);
	memcpy(out, buf, len);
	memcpy(out + len, extra, sizeof(extra));
	iris__frame_put_header(out,
	    (uint32_t)(len + sizeof(extra) - IRIS_FRAME_HEADER));
	*outlen = len + sizeof(extra);
	return out;
}

START_TEST(test_msg_unknown_fields_ignored)
{
	struct iris_wire_msg m, d;
	uint8_t *a, *b;
	size_t alen, blen;

	iris__wire_msg_init(&m);
	ck_assert_int_eq(sample_frame(&m, iris_v1_Frame_send_tag), 0);
	a = sample_encode(&m, &alen);
	b = append_unknown(a, alen, &blen);
	iris__wire_msg_init(&d);
	ck_assert_int_eq(decode(&d, b, blen), IRIS_OK);
	ck_assert_uint_eq(d.f.which_body, iris_v1_Frame_send_tag);
	ck_assert_uint_eq(d.nenvs, 2);
	ck_assert_mem_eq(d.envs[0].payload.ptr, m.envs[0].payload.ptr,
	    m.envs[0].payload.len);
	iris__wire_msg_reset(&d);
	free(a);
	free(b);
	iris__wire_msg_reset(&m);
}
END_TEST

START_TEST(test_msg_unknown_body_is_unimplemented)
{
	/* request_id 7, then field 70 (reserved for groups), bytes "g". */
	static const uint8_t groups[] = { 0x08, 0x07, 0xb2, 0x04, 0x01, 'g' };
	struct iris_wire_msg d;

	iris__wire_msg_init(&d);
	ck_assert_int_eq(iris__wire_decode(&d, groups, sizeof(groups), &lim),
	    IRIS_OK);
	ck_assert_uint_eq(d.f.request_id, 7);
	ck_assert_uint_eq(d.f.which_body, 0);
	ck_assert_int_eq(iris__wire_check(&d), IRIS_ENOTSUP);
	ck_assert_int_eq(d.wire_err, iris_v1_ErrorCode_ERR_UNIMPLEMENTED);
	iris__wire_msg_reset(&d);
}
END_TEST

START_TEST(test_msg_garbage_is_malformed)
{
	static const uint8_t garbage[][6] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },	/* endless varint */
		{ 0x0f, 0x01, 0x02, 0x03, 0x04, 0x05 },	/* wire type 7 */
		{ 0x92, 0x03, 0x7f, 0x00, 0x00, 0x00 },	/* send, 127 > rest */
		{ 0x12, 0x05, 0x01, 0x02, 0x03, 0x04 },	/* trace id too short */
		{ 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 },	/* field number 0 */
	};
	struct iris_wire_msg d;
	size_t i;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		iris__wire_msg_init(&d);
		ck_assert_int_eq(iris__wire_decode(&d, garbage[i], 6, &lim),
		    IRIS_EPROTO);
		ck_assert_int_eq(d.wire_err, iris_v1_ErrorCode_ERR_MALFORMED);
		ck_assert_ptr_nonnull(d.detail);
		iris__wire_msg_reset(&d);
	}
}
END_TEST

START_TEST(test_msg_truncated)
{
	struct iris_wire_msg m, d;
	uint8_t *a;
	size_t alen, cut;
	int rc, failures = 0;

	iris__wire_msg_init(&m);
	ck_assert_int_eq(sample_frame(&m, iris_v1_Frame_sync_page_tag), 0);
	a = sample_encode(&m, &alen);
	/* Every proper prefix: refused, or a valid frame with less in it;
	 * never a crash, a leak or more than was sent. */
	for (cut = IRIS_FRAME_HEADER; cut < alen; cut++) {
		iris__wire_msg_init(&d);
		rc = iris__wire_decode(&d, a + IRIS_FRAME_HEADER,
		    cut - IRIS_FRAME_HEADER, &lim);
		if (rc == IRIS_OK)
			ck_assert_uint_le(d.nitems, m.nitems);
		else {
			ck_assert_int_eq(rc, IRIS_EPROTO);
			failures++;
		}
		iris__wire_msg_reset(&d);
	}
	ck_assert_int_gt(failures, (int)(alen / 2));
	free(a);
	iris__wire_msg_reset(&m);
}
END_TEST

START_TEST(test_msg_bytes_field_with_wrong_wire_type)
{
	/* deliver { envelope (field 8) as a varint } */
	static const uint8_t bad[] = { 0xa2, 0x03, 0x02, 0x40, 0x05 };
	struct iris_wire_msg d;

	iris__wire_msg_init(&d);
	ck_assert_int_eq(iris__wire_decode(&d, bad, sizeof(bad), &lim),
	    IRIS_EPROTO);
	ck_assert_int_eq(d.wire_err, iris_v1_ErrorCode_ERR_MALFORMED);
	iris__wire_msg_reset(&d);
}
END_TEST

/* A send of n envelopes of size bytes each, padded with an unknown field
 * so that the frame payload is exactly total bytes (0: no padding). */
static uint8_t *
big_send(size_t n, size_t size, size_t total, size_t *len)
{
	struct iris_wire_msg m;
	uint8_t *payload, *buf, *out;
	size_t i, blen, pad, hdr;

	payload = malloc(size);
	ck_assert_ptr_nonnull(payload);
	memset(payload, 0xab, size);
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_send_tag;
	sample_uuid(m.f.body.send.client_msg_id, 1);
	m.envs = iris__calloc(n, sizeof(*m.envs));
	ck_assert_ptr_nonnull(m.envs);
	for (i = 0; i < n; i++) {
		SET_BYTES(m.envs[i].user, "bob");
		m.envs[i].device = (uint32_t)i + 1;
		m.envs[i].payload.ptr = payload;
		m.envs[i].payload.len = size;
	}
	m.nenvs = n;
	buf = sample_encode(&m, &blen);
	ck_assert_ptr_nonnull(buf);
	iris__wire_msg_reset(&m);
	free(payload);
	if (total == 0) {
		*len = blen;
		return buf;
	}
	/* Unknown field 999 (bytes): tag 2 bytes + 3-byte length + data. */
	hdr = 5;
	ck_assert_uint_gt(total, blen - IRIS_FRAME_HEADER + hdr);
	pad = total - (blen - IRIS_FRAME_HEADER) - hdr;
	ck_assert_uint_lt(pad, 1 << 21);
	out = malloc(IRIS_FRAME_HEADER + total);
	ck_assert_ptr_nonnull(out);
	memcpy(out, buf, blen);
	out[blen] = 0xba;
	out[blen + 1] = 0x3e;
	out[blen + 2] = (uint8_t)(0x80 | (pad & 0x7f));
	out[blen + 3] = (uint8_t)(0x80 | ((pad >> 7) & 0x7f));
	out[blen + 4] = (uint8_t)(pad >> 14);
	memset(out + blen + hdr, 0, pad);
	iris__frame_put_header(out, (uint32_t)total);
	free(buf);
	*len = IRIS_FRAME_HEADER + total;
	return out;
}

START_TEST(test_msg_limits_at_the_edge)
{
	struct iris_framer fr;
	struct iris_wire_msg d;
	const uint8_t *frame;
	uint32_t max = iris__wire_max_frame(&lim);
	uint8_t *buf;
	size_t len, used, flen;

	ck_assert_uint_eq(max, 2u << 20);
	/* 31 maximal envelopes in a frame of exactly 2 MiB: accepted. */
	buf = big_send(31, 65536, max, &len);
	iris__framer_init(&fr, max);
	ck_assert_int_eq(iris__framer_feed(&fr, buf, len, &used, &frame,
	    &flen), IRIS_OK);
	ck_assert_uint_eq(flen, max);
	iris__wire_msg_init(&d);
	ck_assert_int_eq(iris__wire_decode(&d, frame, flen, &lim), IRIS_OK);
	ck_assert_uint_eq(d.nenvs, 31);
	ck_assert_uint_eq(d.envs[30].payload.len, 65536);
	ck_assert_int_eq(iris__wire_check(&d), IRIS_OK);
	iris__wire_msg_reset(&d);
	iris__framer_free(&fr);
	free(buf);

	/* One byte more: the frame is refused by the framer. */
	buf = big_send(31, 65536, max + 1, &len);
	iris__framer_init(&fr, max);
	ck_assert_int_eq(iris__framer_feed(&fr, buf, len, &used, &frame,
	    &flen), IRIS_ETOOBIG);
	iris__framer_free(&fr);
	free(buf);

	/* One byte more in an envelope, or one envelope more. */
	buf = big_send(1, 65537, 0, &len);
	iris__wire_msg_init(&d);
	ck_assert_int_eq(decode(&d, buf, len), IRIS_ETOOBIG);
	ck_assert_int_eq(d.wire_err,
	    iris_v1_ErrorCode_ERR_ENVELOPE_TOO_LARGE);
	iris__wire_msg_reset(&d);
	free(buf);
	buf = big_send(32, 10, 0, &len);
	iris__wire_msg_init(&d);
	ck_assert_int_eq(decode(&d, buf, len), IRIS_ETOOBIG);
	ck_assert_int_eq(d.wire_err,
	    iris_v1_ErrorCode_ERR_TOO_MANY_ENVELOPES);
	iris__wire_msg_reset(&d);
	free(buf);
}
END_TEST

/* Encodes the sample of a body and decodes it under the test's limits. */
static int
sample_roundtrip_rc(pb_size_t which)
{
	struct iris_wire_msg m, d;
	uint8_t *a;
	size_t alen;
	int rc;

	iris__wire_msg_init(&m);
	ck_assert_int_eq(sample_frame(&m, which), 0);
	a = sample_encode(&m, &alen);
	ck_assert_ptr_nonnull(a);
	iris__wire_msg_init(&d);
	rc = decode(&d, a, alen);
	iris__wire_msg_reset(&d);
	free(a);
	iris__wire_msg_reset(&m);
	return rc;
}

START_TEST(test_msg_list_limits)
{
	/* Each list one item over its limit is refused (samples hold 3). */
	lim.max_sync_items = 2;
	ck_assert_int_eq(sample_roundtrip_rc(iris_v1_Frame_sync_page_tag),
	    IRIS_ETOOBIG);
	lim.max_lists = 2;
	ck_assert_int_eq(sample_roundtrip_rc(iris_v1_Frame_device_lists_tag),
	    IRIS_ETOOBIG);
	lim.max_contacts = 2;
	ck_assert_int_eq(sample_roundtrip_rc(iris_v1_Frame_contacts_tag),
	    IRIS_ETOOBIG);
	/* At the limit they pass. */
	lim.max_sync_items = lim.max_lists = lim.max_contacts = 3;
	ck_assert_int_eq(sample_roundtrip_rc(iris_v1_Frame_sync_page_tag),
	    IRIS_OK);
	ck_assert_int_eq(sample_roundtrip_rc(iris_v1_Frame_device_lists_tag),
	    IRIS_OK);
	ck_assert_int_eq(sample_roundtrip_rc(iris_v1_Frame_contacts_tag),
	    IRIS_OK);
}
END_TEST

START_TEST(test_msg_userid_rules)
{
	static const struct {
		const char	*id;
		size_t		 len;
		int		 ok;
	} cases[] = {
		{ "alice", 5, 1 },
		{ "\xc3\xa9mile", 6, 1 },		/* émile */
		{ "\xf0\x9f\x90\x88", 4, 1 },		/* U+1F408 */
		{ "", 0, 0 },
		{ "a b", 3, 0 },			/* space */
		{ "a\tb", 3, 0 },			/* control */
		{ "a\0b", 3, 0 },			/* NUL */
		{ "a\x7f", 2, 0 },			/* DEL */
		{ "a\xc2\xa0", 3, 0 },			/* NBSP */
		{ "a\xe2\x80\x8b", 4, 0 },		/* zero width space */
		{ "a\xd8\x9c", 3, 0 },			/* Arabic letter mark */
		{ "a\xf3\xa0\x80\x81", 5, 0 },		/* tag character */
		{ "\xc0\xaf", 2, 0 },			/* overlong '/' */
		{ "\xed\xa0\x80", 3, 0 },		/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },		/* above U+10FFFF */
		{ "\xe2\x82", 2, 0 },			/* cut short */
		{ "\x80", 1, 0 },			/* lone continuation */
	};
	char long_id[66];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(iris__wire_userid_ok((const uint8_t *)cases[i].id,
		    cases[i].len) == cases[i].ok, "user id case %zu", i);
	memset(long_id, 'x', sizeof(long_id));
	ck_assert(iris__wire_userid_ok((uint8_t *)long_id, 64));
	ck_assert(!iris__wire_userid_ok((uint8_t *)long_id, 65));
}
END_TEST

/* Each mutation makes a valid frame fail iris__wire_check(). */
START_TEST(test_msg_check_refuses_bad_fields)
{
	struct iris_wire_msg m;
	int i;

	for (i = 0; i < 9; i++) {
		iris__wire_msg_init(&m);
		switch (i) {
		case 0:
			sample_frame(&m, iris_v1_Frame_send_tag);
			m.f.body.send.client_msg_id[6] = 0x40;	/* v4 */
			break;
		case 1:
			sample_frame(&m, iris_v1_Frame_send_tag);
			m.f.body.send.class = (iris_v1_MsgClass)9;
			break;
		case 2:
			sample_frame(&m, iris_v1_Frame_send_tag);
			m.envs[1].device = 0;
			break;
		case 3:
			sample_frame(&m, iris_v1_Frame_send_tag);
			m.envs[0].payload.len = 0;
			break;
		case 4:
			sample_frame(&m, iris_v1_Frame_send_tag);
			SET_BYTES(m.envs[0].user, "bad user");
			break;
		case 5:
			sample_frame(&m, iris_v1_Frame_login_tag);
			m.f.body.login.resume_token.size = 10;
			break;
		case 6:
			sample_frame(&m, iris_v1_Frame_login_tag);
			memset(m.f.body.login.signature, 0, 64);
			break;
		case 7:
			sample_frame(&m, iris_v1_Frame_ack_tag);
			m.f.body.ack.seq = 0;
			break;
		case 8:
			sample_frame(&m, iris_v1_Frame_presence_settings_tag);
			m.f.body.presence_settings.privacy = (iris_v1_Privacy)3;
			break;
		}
		ck_assert_msg(iris__wire_check(&m) == IRIS_EPROTO,
		    "mutation %d passed the check", i);
		ck_assert_int_eq(m.wire_err, iris_v1_ErrorCode_ERR_BAD_REQUEST);
		ck_assert_ptr_nonnull(m.detail);
		iris__wire_msg_reset(&m);
	}
}
END_TEST

START_TEST(test_msg_encode_out_of_room)
{
	struct iris_wire_msg m;
	uint8_t buf[64];
	size_t len;

	iris__wire_msg_init(&m);
	sample_frame(&m, iris_v1_Frame_send_tag);
	ck_assert_int_eq(iris__wire_encode(&m, buf, sizeof(buf), &len),
	    IRIS_ETOOBIG);
	ck_assert_int_eq(iris__wire_encode(&m, buf, 2, &len), IRIS_ETOOBIG);
	iris__wire_msg_reset(&m);
}
END_TEST

START_TEST(test_msg_error_names)
{
	ck_assert_str_eq(iris__wire_errname(iris_v1_ErrorCode_ERR_RATE_LIMITED),
	    "ERR_RATE_LIMITED");
	ck_assert_str_eq(iris__wire_errname(9999), "ERR_UNKNOWN");
	ck_assert(iris__wire_err_retryable(iris_v1_ErrorCode_ERR_INBOX_FULL));
	ck_assert(!iris__wire_err_retryable(iris_v1_ErrorCode_ERR_MALFORMED));
	ck_assert_str_eq(iris__wire_bodyname(0), "unknown");
}
END_TEST

START_TEST(test_msg_limits_follow_config)
{
	struct iris_wire_limits l;
	struct iris_config *cfg;

	ck_assert_int_eq(iris_config_new(&cfg), IRIS_OK);
	iris__wire_limits_config(&l, cfg);
	ck_assert_uint_eq(l.max_envelope, 65536);
	ck_assert_uint_eq(l.max_envelopes, 31);
	ck_assert_uint_eq(iris__wire_max_frame(&l), 2u << 20);
	ck_assert_int_eq(iris_config_set(cfg, "max_envelope", "16K"), IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "max_devices_per_user", "64"),
	    IRIS_OK);
	ck_assert_int_eq(iris_config_set(cfg, "max_sync_page", "10"), IRIS_OK);
	iris__wire_limits_config(&l, cfg);
	ck_assert_uint_eq(l.max_envelope, 16384);
	ck_assert_uint_eq(l.max_envelopes, 127);
	ck_assert_uint_eq(l.max_sync_items, 10);
	ck_assert_uint_eq(iris__wire_max_frame(&l), 127 * 16384 + 65536);
	iris_config_free(cfg);
}
END_TEST

Suite *
suite_msg(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_msg_every_body_round_trips, 0,
	    (int)sample_nbodies);
	tcase_add_test(tc, test_msg_unknown_fields_ignored);
	tcase_add_test(tc, test_msg_unknown_body_is_unimplemented);
	tcase_add_test(tc, test_msg_garbage_is_malformed);
	tcase_add_test(tc, test_msg_truncated);
	tcase_add_test(tc, test_msg_bytes_field_with_wrong_wire_type);
	tcase_add_test(tc, test_msg_limits_at_the_edge);
	tcase_add_test(tc, test_msg_list_limits);
	tcase_add_test(tc, test_msg_userid_rules);
	tcase_add_test(tc, test_msg_check_refuses_bad_fields);
	tcase_add_test(tc, test_msg_encode_out_of_room);
	tcase_add_test(tc, test_msg_error_names);
	tcase_add_test(tc, test_msg_limits_follow_config);
	suite_add_tcase(s, tc);
	return s;
}

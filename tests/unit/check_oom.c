/* SPDX-License-Identifier: ISC */
/*
 * Allocation failure at every point of the codec: decoding each body with
 * the 1st, 2nd, ... allocation failing returns IRIS_ENOMEM and leaks
 * nothing (the sanitizer and valgrind runs see leaks), until the decode
 * needs no more allocations than allowed and succeeds.
 */
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "samples.h"
#include "suites.h"

START_TEST(test_oom_decode_every_body)
{
	struct iris_wire_limits lim;
	struct iris_wire_msg m, d;
	pb_size_t which = sample_bodies[_i];
	unsigned long nth;
	uint8_t *a;
	size_t alen;
	int rc, failed = 0;

	iris__wire_limits_default(&lim);
	iris__wire_msg_init(&m);
	ck_assert_int_eq(sample_frame(&m, which), 0);
	a = sample_encode(&m, &alen);
	ck_assert_ptr_nonnull(a);
	for (nth = 1; nth < 1000; nth++) {
		iris__wire_msg_init(&d);
		iris__alloc_fail_after(nth);
		rc = iris__wire_decode(&d, a + IRIS_FRAME_HEADER,
		    alen - IRIS_FRAME_HEADER, &lim);
		iris__alloc_fail_after(0);
		iris__wire_msg_reset(&d);
		if (rc == IRIS_OK)
			break;
		ck_assert_int_eq(rc, IRIS_ENOMEM);
		failed++;
	}
	ck_assert_uint_lt(nth, 1000);
	/* Bodies with arrays allocate, and each failure was seen. */
	if (m.nenvs || m.nitems || m.nlists || m.nusers)
		ck_assert_int_gt(failed, 0);
	free(a);
	iris__wire_msg_reset(&m);
}
END_TEST

START_TEST(test_oom_framer_spanning_frame)
{
	struct iris_framer fr;
	const uint8_t *frame;
	uint8_t buf[IRIS_FRAME_HEADER + 9000];
	unsigned long nth;
	size_t used, flen, off;
	int rc;

	memset(buf, 1, sizeof(buf));
	iris__frame_put_header(buf, 9000);
	for (nth = 1; nth < 100; nth++) {
		iris__framer_init(&fr, 10000);
		iris__alloc_fail_after(nth);
		rc = IRIS_OK;
		frame = NULL;
		/* 100-byte chunks: the buffer grows several times. */
		for (off = 0; off < sizeof(buf) && rc == IRIS_OK; off += used) {
			size_t n = sizeof(buf) - off < 100 ?
			    sizeof(buf) - off : 100;

			rc = iris__framer_feed(&fr, buf + off, n, &used,
			    &frame, &flen);
		}
		iris__alloc_fail_after(0);
		iris__framer_free(&fr);
		if (rc == IRIS_OK) {
			ck_assert_ptr_nonnull(frame);
			break;
		}
		ck_assert_int_eq(rc, IRIS_ENOMEM);
	}
	ck_assert_uint_gt(nth, 1);
	ck_assert_uint_lt(nth, 100);
}
END_TEST

Suite *
suite_oom(void)
{
	Suite *s = suite_create("oom");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_loop_test(tc, test_oom_decode_every_body, 0,
	    (int)sample_nbodies);
	tcase_add_test(tc, test_oom_framer_spanning_frame);
	suite_add_tcase(s, tc);
	return s;
}

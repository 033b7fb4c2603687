/* SPDX-License-Identifier: ISC */
/* Frame decoder: splits at every byte, limits, zero length, garbage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"
#include "suites.h"

/* A stream of frames of the given payload sizes; payload byte i of frame
 * f is (f * 31 + i) & 0xff. */
static uint8_t *
make_stream(const size_t *sizes, size_t n, size_t *len)
{
	size_t total = 0, f, i, off = 0;
	uint8_t *s;

	for (f = 0; f < n; f++)
		total += IRIS_FRAME_HEADER + sizes[f];
	s = malloc(total);
	ck_assert_ptr_nonnull(s);
	for (f = 0; f < n; f++) {
		iris__frame_put_header(s + off, (uint32_t)sizes[f]);
		off += IRIS_FRAME_HEADER;
		for (i = 0; i < sizes[f]; i++)
			s[off++] = (uint8_t)(f * 31 + i);
	}
	*len = total;
	return s;
}

/* Feeds s in the given chunks and checks every frame comes out intact. */
static void
feed_and_verify(const uint8_t *s, const size_t *cuts, size_t ncuts,
    size_t len, const size_t *sizes, size_t n)
{
	struct iris_framer fr;
	const uint8_t *frame;
	size_t got = 0, pos = 0, c, end, used, flen, i;

	iris__framer_init(&fr, 1 << 20);
	for (c = 0; c <= ncuts; c++) {
		end = c < ncuts ? cuts[c] : len;
		while (pos < end) {
			ck_assert_int_eq(iris__framer_feed(&fr, s + pos,
			    end - pos, &used, &frame, &flen), IRIS_OK);
			ck_assert_uint_le(used, end - pos);
			pos += used;
			if (frame == NULL) {
				ck_assert_uint_eq(pos, end);
				continue;
			}
			ck_assert_uint_lt(got, n);
			ck_assert_uint_eq(flen, sizes[got]);
			for (i = 0; i < flen; i++)
				ck_assert_uint_eq(frame[i],
				    (uint8_t)(got * 31 + i));
			got++;
		}
	}
	ck_assert_uint_eq(got, n);
	ck_assert(!iris__framer_partial(&fr));
	iris__framer_free(&fr);
}

START_TEST(test_frame_every_split)
{
	const size_t sizes[] = { 1, 5, 300, 2 };
	size_t len, k, j, cuts[2];
	uint8_t *s = make_stream(sizes, 4, &len);

	/* One cut at every position, then two cuts at every pair. */
	for (k = 0; k <= len; k++) {
		cuts[0] = k;
		feed_and_verify(s, cuts, 1, len, sizes, 4);
	}
	for (k = 0; k <= len; k += 3)
		for (j = k; j <= len; j += 5) {
			cuts[0] = k;
			cuts[1] = j;
			feed_and_verify(s, cuts, 2, len, sizes, 4);
		}
	free(s);
}
END_TEST

START_TEST(test_frame_byte_at_a_time)
{
	const size_t sizes[] = { 70000, 1, 4096 };
	size_t len, i, *cuts;
	uint8_t *s = make_stream(sizes, 3, &len);

	cuts = malloc(len * sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (i = 0; i < len; i++)
		cuts[i] = i;
	feed_and_verify(s, cuts, len, len, sizes, 3);
	free(cuts);
	free(s);
}
END_TEST

START_TEST(test_frame_whole_frame_not_copied)
{
	const size_t sizes[] = { 100 };
	struct iris_framer fr;
	const uint8_t *frame;
	size_t len, used, flen;
	uint8_t *s = make_stream(sizes, 1, &len);

	iris__framer_init(&fr, 1000);
	ck_assert_int_eq(iris__framer_feed(&fr, s, len, &used, &frame,
	    &flen), IRIS_OK);
	ck_assert_ptr_eq(frame, s + IRIS_FRAME_HEADER);
	ck_assert_uint_eq(iris__framer_buffered(&fr), 0);
	iris__framer_free(&fr);
	free(s);
}
END_TEST

START_TEST(test_frame_oversize_refused_before_buffering)
{
	struct iris_framer fr;
	const uint8_t *frame;
	uint8_t hdr[IRIS_FRAME_HEADER + 10] = { 0 };
	size_t used, flen;

	iris__framer_init(&fr, 4096);
	iris__frame_put_header(hdr, 4097);
	/* Refused as soon as the header is complete, holding nothing. */
	ck_assert_int_eq(iris__framer_feed(&fr, hdr, 3, &used, &frame,
	    &flen), IRIS_OK);
	ck_assert_int_eq(iris__framer_feed(&fr, hdr + 3, 1, &used, &frame,
	    &flen), IRIS_ETOOBIG);
	ck_assert_ptr_null(frame);
	ck_assert_uint_eq(iris__framer_buffered(&fr), 0);
	/* The error is sticky: the connection is done. */
	ck_assert_int_eq(iris__framer_feed(&fr, hdr + 4, 10, &used, &frame,
	    &flen), IRIS_ETOOBIG);
	iris__framer_free(&fr);

	/* Exactly the maximum is fine; the maximum can change. */
	iris__framer_init(&fr, 4096);
	iris__frame_put_header(hdr, 4096);
	ck_assert_int_eq(iris__framer_feed(&fr, hdr, 4, &used, &frame,
	    &flen), IRIS_OK);
	iris__framer_free(&fr);
	iris__framer_init(&fr, 4096);
	iris__framer_set_max(&fr, 2 << 20);
	iris__frame_put_header(hdr, (2 << 20) + 1);
	ck_assert_int_eq(iris__framer_feed(&fr, hdr, 4, &used, &frame,
	    &flen), IRIS_ETOOBIG);
	iris__framer_free(&fr);
	/* The largest length the header can carry. */
	iris__framer_init(&fr, 2 << 20);
	memset(hdr, 0xff, 4);
	ck_assert_int_eq(iris__framer_feed(&fr, hdr, 4, &used, &frame,
	    &flen), IRIS_ETOOBIG);
	iris__framer_free(&fr);
}
END_TEST

START_TEST(test_frame_zero_length)
{
	struct iris_framer fr;
	const uint8_t *frame;
	uint8_t z[8] = { 0 };
	size_t used, flen;

	iris__framer_init(&fr, 4096);
	ck_assert_int_eq(iris__framer_feed(&fr, z, sizeof(z), &used, &frame,
	    &flen), IRIS_EPROTO);
	ck_assert_ptr_null(frame);
	iris__framer_free(&fr);
}
END_TEST

START_TEST(test_frame_truncated_holds_what_arrived)
{
	struct iris_framer fr;
	const uint8_t *frame;
	uint8_t buf[IRIS_FRAME_HEADER + 100];
	size_t used, flen;

	memset(buf, 0x5a, sizeof(buf));
	iris__framer_init(&fr, 1 << 21);
	/* Announce 1 MiB, send 100 bytes: the buffer follows the bytes. */
	iris__frame_put_header(buf, 1 << 20);
	ck_assert_int_eq(iris__framer_feed(&fr, buf, sizeof(buf), &used,
	    &frame, &flen), IRIS_OK);
	ck_assert_uint_eq(used, sizeof(buf));
	ck_assert_ptr_null(frame);
	ck_assert(iris__framer_partial(&fr));
	ck_assert_uint_le(iris__framer_buffered(&fr), 4096);
	iris__framer_free(&fr);

	/* A header cut short is partial too. */
	iris__framer_init(&fr, 100);
	ck_assert_int_eq(iris__framer_feed(&fr, buf, 2, &used, &frame,
	    &flen), IRIS_OK);
	ck_assert(iris__framer_partial(&fr));
	iris__framer_free(&fr);
}
END_TEST

START_TEST(test_frame_garbage)
{
	struct iris_framer fr;
	const uint8_t *frame;
	uint8_t *buf;
	size_t used, flen, off, i, round;
	unsigned seed = (unsigned)time(NULL);
	int rc;

	printf("check_frame: garbage seed %u\n", seed);
	srand(seed);
	buf = malloc(65536);
	ck_assert_ptr_nonnull(buf);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < 65536; i++)
			buf[i] = (uint8_t)rand();
		iris__framer_init(&fr, 1 + (uint32_t)rand() % 70000);
		off = 0;
		rc = IRIS_OK;
		while (off < 65536 && rc == IRIS_OK) {
			rc = iris__framer_feed(&fr, buf + off, 65536 - off,
			    &used, &frame, &flen);
			if (rc == IRIS_OK && frame != NULL)
				ck_assert_uint_le(flen, fr.max);
			off += used;
		}
		ck_assert(rc == IRIS_OK || rc == IRIS_ETOOBIG ||
		    rc == IRIS_EPROTO);
		iris__framer_free(&fr);
	}
	free(buf);
}
END_TEST

START_TEST(test_frame_alloc_failure)
{
	struct iris_framer fr;
	const uint8_t *frame;
	uint8_t buf[IRIS_FRAME_HEADER + 10] = { 0 };
	size_t used, flen;

	iris__framer_init(&fr, 100);
	iris__frame_put_header(buf, 50);
	iris__alloc_fail_after(1);
	ck_assert_int_eq(iris__framer_feed(&fr, buf, sizeof(buf), &used,
	    &frame, &flen), IRIS_ENOMEM);
	iris__alloc_fail_after(0);
	ck_assert_uint_eq(iris__framer_buffered(&fr), 0);
	iris__framer_free(&fr);
}
END_TEST

Suite *
suite_frame(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("framer");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_test(tc, test_frame_every_split);
	tcase_add_test(tc, test_frame_byte_at_a_time);
	tcase_add_test(tc, test_frame_whole_frame_not_copied);
	tcase_add_test(tc, test_frame_oversize_refused_before_buffering);
	tcase_add_test(tc, test_frame_zero_length);
	tcase_add_test(tc, test_frame_truncated_holds_what_arrived);
	tcase_add_test(tc, test_frame_garbage);
	tcase_add_test(tc, test_frame_alloc_failure);
	suite_add_tcase(s, tc);
	return s;
}

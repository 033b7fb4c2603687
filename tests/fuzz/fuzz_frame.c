/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the frame decoder and the message codec. The first
 * input byte picks the chunk size the stream is fed in; every complete
 * frame is decoded under the default limits and checked; a frame that
 * decodes must re-encode, and its encoding must decode and re-encode to the
 * same bytes (the codec is a fixed point after one round).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"
#include "wire/msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
roundtrip(struct iris_wire_msg *m, const struct iris_wire_limits *lim)
{
	struct iris_wire_msg m2;
	uint8_t *a, *b;
	size_t need, alen, blen;

	if (iris__wire_size(m, &need) != IRIS_OK)
		return;		/* a decoded field over a static bound */
	if ((a = malloc(need)) == NULL || (b = malloc(need)) == NULL)
		abort();
	if (iris__wire_encode(m, a, need, &alen) != IRIS_OK || alen != need)
		abort();
	iris__wire_msg_init(&m2);
	if (iris__wire_decode(&m2, a + IRIS_FRAME_HEADER,
	    alen - IRIS_FRAME_HEADER, lim) != IRIS_OK)
		abort();
	if (iris__wire_encode(&m2, b, need, &blen) != IRIS_OK ||
	    blen != alen || memcmp(a, b, alen) != 0)
		abort();
	iris__wire_msg_reset(&m2);
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iris_wire_limits lim;
	struct iris_framer fr;
	struct iris_wire_msg m;
	const uint8_t *frame;
	size_t chunk, off = 0, n, used, flen;

	if (size < 1)
		return 0;
	chunk = data[0] == 0 ? size : data[0];
	data++, size--;
	iris__wire_limits_default(&lim);
	iris__framer_init(&fr, iris__wire_max_frame(&lim));
	iris__wire_msg_init(&m);
	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		while (n > 0) {
			if (iris__framer_feed(&fr, data + off, n, &used,
			    &frame, &flen) != IRIS_OK)
				goto out;
			off += used;
			n -= used;
			if (frame == NULL)
				continue;
			if (iris__wire_decode(&m, frame, flen, &lim) == IRIS_OK) {
				(void)iris__wire_check(&m);
				roundtrip(&m, &lim);
			}
			iris__wire_msg_reset(&m);
		}
	}
out:
	iris__wire_msg_reset(&m);
	iris__framer_free(&fr);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * Incremental frame decoder: length-prefixed frames out of bytes that
 * arrive in any split. A frame wholly inside one input chunk is handed out
 * in place; only a frame spanning chunks is copied, into a buffer of its
 * announced length, after that length has been checked against the limit.
 */
#include <string.h>

#include "iris.h"
#include "util/alloc.h"
#include "wire/frame.h"

void
iris__framer_init(struct iris_framer *fr, uint32_t max)
{
	memset(fr, 0, sizeof(*fr));
	fr->max = max;
}

void
iris__framer_set_max(struct iris_framer *fr, uint32_t max)
{
	fr->max = max;
}

static void
release(struct iris_framer *fr)
{
	iris__free(fr->buf);
	fr->buf = NULL;
	fr->have = 0;
	fr->cap = 0;
	fr->need = 0;
	fr->handed = 0;
}

void
iris__framer_free(struct iris_framer *fr)
{
	release(fr);
	fr->nhdr = 0;
}

static int
fail(struct iris_framer *fr, int err)
{
	release(fr);
	fr->err = err;
	return err;
}

static int
grow(struct iris_framer *fr, size_t want)
{
	size_t cap;
	uint8_t *p;

	cap = fr->cap != 0 ? fr->cap * 2 : 4096;
	if (cap < want)
		cap = want;
	if (cap > fr->need)
		cap = fr->need;
	if ((p = iris__realloc(fr->buf, cap)) == NULL)
		return IRIS_ENOMEM;
	fr->buf = p;
	fr->cap = cap;
	return IRIS_OK;
}

int
iris__framer_feed(struct iris_framer *fr, const uint8_t *in, size_t inlen,
    size_t *used, const uint8_t **frame, size_t *framelen)
{
	size_t off = 0, n;
	uint32_t len;

	*frame = NULL;
	*framelen = 0;
	*used = 0;
	if (fr->err != 0)
		return fr->err;
	if (fr->handed)
		release(fr);

	while (fr->nhdr < IRIS_FRAME_HEADER) {
		if (off == inlen) {
			*used = off;
			return IRIS_OK;
		}
		fr->hdr[fr->nhdr++] = in[off++];
	}
	if (fr->need == 0) {
		len = (uint32_t)fr->hdr[0] << 24 | (uint32_t)fr->hdr[1] << 16 |
		    (uint32_t)fr->hdr[2] << 8 | fr->hdr[3];
		if (len == 0)
			return fail(fr, IRIS_EPROTO);
		if (len > fr->max)
			return fail(fr, IRIS_ETOOBIG);
		fr->need = len;
	}

	if (fr->buf == NULL && inlen - off >= fr->need) {
		/* The whole payload is here: no copy. */
		*frame = in + off;
		*framelen = fr->need;
		*used = off + fr->need;
		fr->nhdr = 0;
		fr->need = 0;
		return IRIS_OK;
	}
	n = inlen - off;
	if (n > fr->need - fr->have)
		n = fr->need - fr->have;
	if (n == 0) {
		*used = off;
		return IRIS_OK;
	}
	if (fr->have + n > fr->cap && grow(fr, fr->have + n) != IRIS_OK)
		return fail(fr, IRIS_ENOMEM);
	memcpy(fr->buf + fr->have, in + off, n);
	fr->have += n;
	off += n;
	*used = off;
	if (fr->have == fr->need) {
		*frame = fr->buf;
		*framelen = fr->need;
		fr->nhdr = 0;
		fr->handed = 1;
	}
	return IRIS_OK;
}

int
iris__framer_partial(const struct iris_framer *fr)
{
	return fr->nhdr > 0 || (fr->need > 0 && !fr->handed);
}

size_t
iris__framer_buffered(const struct iris_framer *fr)
{
	return fr->cap;
}

void
iris__frame_put_header(uint8_t out[IRIS_FRAME_HEADER], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

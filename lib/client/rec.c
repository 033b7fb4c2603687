/* SPDX-License-Identifier: ISC */
/* Record coding: a bounded growable buffer and a checked reader. */
#include <string.h>

#include "iris.h"
#include "client/rec.h"
#include "util/alloc.h"

void
iris__buf_init(struct iris_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static void
wipe(volatile uint8_t *p, size_t n)
{
	while (n-- > 0)
		*p++ = 0;
}

void
iris__buf_free(struct iris_buf *b)
{
	if (b->p != NULL)
		wipe(b->p, b->cap);
	iris__free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

void
iris__buf_reset(struct iris_buf *b)
{
	if (b->p != NULL)
		wipe(b->p, b->len);
	b->len = 0;
	b->err = 0;
}

uint8_t *
iris__buf_room(struct iris_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->err != 0)
		return NULL;
	if (n > SIZE_MAX / 2 - b->len ||
	    (b->max != 0 && b->len + n > b->max)) {
		b->err = IRIS_ETOOBIG;
		return NULL;
	}
	if (b->len + n > b->cap) {
		cap = b->cap != 0 ? b->cap : 64;
		while (cap < b->len + n)
			cap *= 2;
		if (b->max != 0 && cap > b->max)
			cap = b->max;
		/* Not realloc: the old bytes are wiped before they go. */
		if ((p = iris__malloc(cap)) == NULL) {
			b->err = IRIS_ENOMEM;
			return NULL;
		}
		if (b->p != NULL) {
			memcpy(p, b->p, b->len);
			wipe(b->p, b->cap);
			iris__free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

void
iris__buf_put(struct iris_buf *b, const void *p, size_t n)
{
	uint8_t *d;

	if (n == 0 || (d = iris__buf_room(b, n)) == NULL)
		return;
	memcpy(d, p, n);
	b->len += n;
}

void
iris__buf_u8(struct iris_buf *b, uint8_t v)
{
	iris__buf_put(b, &v, 1);
}

void
iris__buf_u16(struct iris_buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	iris__buf_put(b, x, sizeof(x));
}

void
iris__buf_u32(struct iris_buf *b, uint32_t v)
{
	uint8_t x[4];
	int i;

	for (i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (24 - 8 * i));
	iris__buf_put(b, x, sizeof(x));
}

void
iris__buf_u64(struct iris_buf *b, uint64_t v)
{
	uint8_t x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (56 - 8 * i));
	iris__buf_put(b, x, sizeof(x));
}

void
iris__buf_str8(struct iris_buf *b, const void *p, size_t n)
{
	if (n > 255) {
		b->err = IRIS_ETOOBIG;
		return;
	}
	iris__buf_u8(b, (uint8_t)n);
	iris__buf_put(b, p, n);
}

void
iris__buf_bytes32(struct iris_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->err = IRIS_ETOOBIG;
		return;
	}
	iris__buf_u32(b, (uint32_t)n);
	iris__buf_put(b, p, n);
}

uint8_t *
iris__buf_take(struct iris_buf *b, size_t *len)
{
	uint8_t *p = b->p;

	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
iris__rd_init(struct iris_rd *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = 0;
}

const uint8_t *
iris__rd_slice(struct iris_rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

void
iris__rd_copy(struct iris_rd *r, void *out, size_t n)
{
	const uint8_t *p = iris__rd_slice(r, n);

	if (p != NULL)
		memcpy(out, p, n);
	else if (n > 0)
		memset(out, 0, n);
}

static uint64_t
rd_be(struct iris_rd *r, size_t n)
{
	const uint8_t *p = iris__rd_slice(r, n);
	uint64_t v = 0;
	size_t i;

	if (p == NULL)
		return 0;
	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

uint8_t
iris__rd_u8(struct iris_rd *r)
{
	return (uint8_t)rd_be(r, 1);
}

uint16_t
iris__rd_u16(struct iris_rd *r)
{
	return (uint16_t)rd_be(r, 2);
}

uint32_t
iris__rd_u32(struct iris_rd *r)
{
	return (uint32_t)rd_be(r, 4);
}

uint64_t
iris__rd_u64(struct iris_rd *r)
{
	return rd_be(r, 8);
}

void
iris__rd_str8(struct iris_rd *r, char *out, size_t cap)
{
	size_t n = iris__rd_u8(r);
	const uint8_t *p;

	out[0] = '\0';
	if (n >= cap) {
		r->bad = 1;
		return;
	}
	if ((p = iris__rd_slice(r, n)) == NULL)
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

const uint8_t *
iris__rd_bytes32(struct iris_rd *r, size_t *n, size_t max)
{
	uint32_t len = iris__rd_u32(r);

	*n = 0;
	if (r->bad || len > max) {
		r->bad = 1;
		return NULL;
	}
	*n = len;
	return iris__rd_slice(r, len);
}

int
iris__rd_done(const struct iris_rd *r)
{
	return !r->bad && r->left == 0 ? IRIS_OK : IRIS_ECORRUPT;
}

/* SPDX-License-Identifier: ISC */
/* UUIDv7 (RFC 9562) generation, checking and formatting. */
#include <sys/types.h>
#include <sys/random.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "iris.h"
#include "util/clock.h"
#include "util/uuid.h"

#define MS_MAX		((UINT64_C(1) << 48) - 1)
#define SEQ_MAX		0x0fffu
/* A new ms starts the sequence below half, leaving room to count up. */
#define SEQ_START_MASK	0x07ffu

void
iris__uuidgen_init(struct iris_uuidgen *g, uint64_t (*now_ms)(void *arg),
    void *arg)
{
	g->last_ms = 0;
	g->seq = 0;
	g->now_ms = now_ms != NULL ? now_ms : iris__clock_realtime_ms;
	g->now_arg = now_ms != NULL ? arg : NULL;
}

static int
fill_random(uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return IRIS_EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return IRIS_OK;
}

int
iris__uuid_v7(struct iris_uuidgen *g, uint8_t out[16])
{
	uint8_t rnd[10];
	uint64_t ms;
	unsigned seq;
	int i, rc;

	if ((rc = fill_random(rnd, sizeof(rnd))) != IRIS_OK)
		return rc;
	ms = g->now_ms(g->now_arg);
	if (ms > g->last_ms) {
		seq = ((unsigned)rnd[8] << 8 | rnd[9]) & SEQ_START_MASK;
	} else {
		/* Same ms or the clock went back: count on from the last id. */
		ms = g->last_ms;
		seq = g->seq + 1u;
		if (seq > SEQ_MAX) {
			ms++;
			seq = ((unsigned)rnd[8] << 8 | rnd[9]) &
			    SEQ_START_MASK;
		}
	}
	if (ms > MS_MAX)
		return IRIS_ELIMIT;
	g->last_ms = ms;
	g->seq = (uint16_t)seq;

	for (i = 0; i < 6; i++)
		out[i] = (uint8_t)(ms >> (40 - 8 * i));
	out[6] = (uint8_t)(0x70 | (seq >> 8));
	out[7] = (uint8_t)seq;
	out[8] = (uint8_t)(0x80 | (rnd[0] & 0x3f));
	for (i = 9; i < 16; i++)
		out[i] = rnd[i - 8];
	return IRIS_OK;
}

int
iris__uuid_is_v7(const uint8_t id[16])
{
	return (id[6] & 0xf0) == 0x70 && (id[8] & 0xc0) == 0x80;
}

void
iris__uuid_format(char out[37], const uint8_t id[16])
{
	static const char digits[] = "0123456789abcdef";
	int i, o;

	for (i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = digits[id[i] >> 4];
		out[o++] = digits[id[i] & 0x0f];
	}
	out[o] = '\0';
}

int
iris_uuid_v7(unsigned char out[16])
{
	struct iris_uuidgen gen;

	if (out == NULL)
		return IRIS_EINVAL;
	iris__uuidgen_init(&gen, NULL, NULL);
	return iris__uuid_v7(&gen, out);
}

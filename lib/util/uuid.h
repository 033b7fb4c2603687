/* SPDX-License-Identifier: ISC */
/* UUIDv7 (RFC 9562) generation, checking and formatting. */
#ifndef IRIS_UTIL_UUID_H
#define IRIS_UTIL_UUID_H

#include <stdint.h>

/*
 * A generator keeps the last time and the 12-bit rand_a sequence (RFC
 * 9562 §6.2 method 1), so that its ids strictly increase, byte by byte,
 * even when the clock stands still or steps back. One owner thread.
 */
struct iris_uuidgen {
	uint64_t	  last_ms;
	uint16_t	  seq;
	uint64_t	(*now_ms)(void *arg);
	void		 *now_arg;
};

#define IRIS__UUID_LEN		16
#define IRIS__UUID_STRLEN	36	/* without the NUL */

/* now_ms NULL means the real-time clock (CLOCK_REALTIME). */
void	iris__uuidgen_init(struct iris_uuidgen *g,
	    uint64_t (*now_ms)(void *arg), void *arg);
/*
 * A new id in out. IRIS_EIO when getrandom(2) fails, IRIS_ELIMIT past
 * the 48-bit ms range; the generator is unchanged on error.
 */
int	iris__uuid_v7(struct iris_uuidgen *g, uint8_t out[16]);
/* Nonzero when id has version 7 and the RFC 9562 variant (10). */
int	iris__uuid_is_v7(const uint8_t id[16]);
/* Lowercase 8-4-4-4-12 form, NUL-terminated. */
void	iris__uuid_format(char out[37], const uint8_t id[16]);

#endif /* IRIS_UTIL_UUID_H */

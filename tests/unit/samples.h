/* SPDX-License-Identifier: ISC */
/* Representative frames of every body, for codec tests and the fuzz corpus. */
#ifndef IRIS_TESTS_SAMPLES_H
#define IRIS_TESTS_SAMPLES_H

#include <stddef.h>

#include "wire/msg.h"

extern const pb_size_t	sample_bodies[];
extern const size_t	sample_nbodies;

/*
 * Fills m (after iris__wire_msg_init) with a frame of the given body with
 * every field set. Arrays are allocated with iris__malloc, so
 * iris__wire_msg_reset() frees them. Returns 0, or -1 on an unknown body
 * or allocation failure.
 */
int	sample_frame(struct iris_wire_msg *m, pb_size_t which);

/* Copies a C string into a nanopb bytes array (user ids and the like). */
#define SET_BYTES(dst, str) do {					\
	(dst).size = (pb_size_t)strlen(str);				\
	memcpy((dst).bytes, (str), (dst).size);				\
} while (0)

/* A valid UUIDv7 (version 7, variant 10) with a varying last byte. */
void	sample_uuid(uint8_t out[16], uint8_t n);

/* Encodes m into a malloc'd buffer (with the 4-byte header). */
uint8_t	*sample_encode(struct iris_wire_msg *m, size_t *len);

#endif

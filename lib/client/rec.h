/* SPDX-License-Identifier: ISC */
/*
 * Record coding for the client: a growable byte buffer that writes
 * big-endian integers and length-prefixed byte strings, and a reader that
 * checks every length against what is left (a short or overlong record is
 * refused, never read past). Pure: no I/O.
 */
#ifndef IRIS_CLIENT_REC_H
#define IRIS_CLIENT_REC_H

#include <stddef.h>
#include <stdint.h>

struct iris_buf {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
	size_t		 max;		/* 0: no limit */
	int		 err;		/* sticky: IRIS_ENOMEM, IRIS_ETOOBIG */
};

void	 iris__buf_init(struct iris_buf *b, size_t max);
/* Frees (wiping the bytes first: records hold keys and content). */
void	 iris__buf_free(struct iris_buf *b);
void	 iris__buf_reset(struct iris_buf *b);
/* Room for n more bytes; the pointer to them, or NULL (b->err set). */
uint8_t	*iris__buf_room(struct iris_buf *b, size_t n);
void	 iris__buf_put(struct iris_buf *b, const void *p, size_t n);
void	 iris__buf_u8(struct iris_buf *b, uint8_t v);
void	 iris__buf_u16(struct iris_buf *b, uint16_t v);
void	 iris__buf_u32(struct iris_buf *b, uint32_t v);
void	 iris__buf_u64(struct iris_buf *b, uint64_t v);
/* u8 length then the bytes (at most 255), or u32 length then bytes. */
void	 iris__buf_str8(struct iris_buf *b, const void *p, size_t n);
void	 iris__buf_bytes32(struct iris_buf *b, const void *p, size_t n);
/* Takes the bytes out: the caller frees them with iris__free(). */
uint8_t	*iris__buf_take(struct iris_buf *b, size_t *len);

struct iris_rd {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;		/* sticky: a read went past the end */
};

void	 iris__rd_init(struct iris_rd *r, const void *p, size_t n);
uint8_t	 iris__rd_u8(struct iris_rd *r);
uint16_t iris__rd_u16(struct iris_rd *r);
uint32_t iris__rd_u32(struct iris_rd *r);
uint64_t iris__rd_u64(struct iris_rd *r);
/* Copies n bytes out (zeros when short). */
void	 iris__rd_copy(struct iris_rd *r, void *out, size_t n);
/* A slice of n bytes, or NULL when short. */
const uint8_t *iris__rd_slice(struct iris_rd *r, size_t n);
/* A u8-prefixed string into out (NUL-terminated, cap > 255 not needed:
 * longer than cap - 1 marks the reader bad). */
void	 iris__rd_str8(struct iris_rd *r, char *out, size_t cap);
/* A u32-prefixed byte string as a slice; *n its length. */
const uint8_t *iris__rd_bytes32(struct iris_rd *r, size_t *n, size_t max);
/* IRIS_OK when everything was read and nothing is left over. */
int	 iris__rd_done(const struct iris_rd *r);

#endif /* IRIS_CLIENT_REC_H */

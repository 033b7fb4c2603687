/* SPDX-License-Identifier: ISC */
/*
 * Framing: a 4-byte big-endian length, then that many bytes of one encoded
 * Frame. The framer is sans-I/O: it takes bytes in any split and hands back
 * whole frames, refusing one over the current maximum before buffering it.
 */
#ifndef IRIS_WIRE_FRAME_H
#define IRIS_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define IRIS_FRAME_HEADER	4

struct iris_framer {
	uint8_t		 hdr[IRIS_FRAME_HEADER];
	uint8_t		 nhdr;		/* header bytes seen */
	uint32_t	 need;		/* payload length of the frame in progress */
	uint32_t	 max;		/* largest payload accepted */
	uint8_t		*buf;		/* payload spanning several feeds */
	size_t		 have;		/* payload bytes in buf */
	size_t		 cap;		/* bytes allocated for buf */
	int		 handed;	/* buf holds a frame handed out last call */
	int		 err;		/* sticky error */
};

void	 iris__framer_init(struct iris_framer *fr, uint32_t max);
void	 iris__framer_set_max(struct iris_framer *fr, uint32_t max);
void	 iris__framer_free(struct iris_framer *fr);
int	 iris__framer_feed(struct iris_framer *fr, const uint8_t *in,
	    size_t inlen, size_t *used, const uint8_t **frame, size_t *framelen);
/* A frame has started (a deadline to finish it applies). */
int	 iris__framer_partial(const struct iris_framer *fr);
/*
 * Bytes held for the frame in progress (counts toward inbound budgets).
 * The buffer grows with the bytes received, not with the announced length,
 * so a peer that announces a large frame and stalls holds little.
 */
size_t	 iris__framer_buffered(const struct iris_framer *fr);

void	 iris__frame_put_header(uint8_t out[IRIS_FRAME_HEADER], uint32_t len);

#endif /* IRIS_WIRE_FRAME_H */

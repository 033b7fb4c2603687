/* SPDX-License-Identifier: ISC */
/*
 * A test client that speaks the protocol frame by frame over libiris's
 * own TLS and codec: send a message, wait (with a deadline, running the
 * loop) for the next frame, which arrives decoded through the real codec.
 */
#ifndef IRIS_TESTS_WIRECLIENT_H
#define IRIS_TESTS_WIRECLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "evloop.h"

#include "net/conn.h"
#include "net/tls.h"
#include "wire/frame.h"
#include "wire/msg.h"

#define WC_QUEUE_MAX	(1u << 20)	/* frames received, not yet taken */

struct wc {
	struct event_base	*base;
	struct iris_tls_ctx	*tls;
	struct iris_netconn	*c;
	struct iris_framer	 fr;
	struct iris_wire_limits	 lim;
	int			 open;
	int			 closed;
	int			 close_err;
	/* Frames not yet taken (a ring that grows), each with its own
	 * bytes; the one handed out is decoded into cur. */
	uint8_t			**raw;
	size_t			*rawlen;
	size_t			 cap;
	struct iris_wire_msg	 cur;
	size_t			 head, n;
	int			 bad;		/* undecodable frame seen */
	int			 taken;		/* q[head] handed out */
};

/* Connects to 127.0.0.1:port, pinning the 64-hex-digit fingerprint;
 * returns 0 when the handshake completed within timeout_ms. */
int	 wc_connect(struct wc *w, struct event_base *base, int port,
	    const char *fp_hex, const uint8_t *session, size_t slen,
	    unsigned timeout_ms);
void	 wc_close(struct wc *w);
/* Encodes m (header added) and queues it. */
int	 wc_send(struct wc *w, struct iris_wire_msg *m);
/* Raw bytes, for malformed input. */
int	 wc_send_raw(struct wc *w, const void *p, size_t n);
/* The next frame, decoded; NULL if none came in time or the peer closed.
 * Valid until the next wc_* call; wc_next frees the previous one. */
struct iris_wire_msg *wc_next(struct wc *w, unsigned timeout_ms);
/* Waits for the peer to close; returns 1 if it did within the time. */
int	 wc_wait_closed(struct wc *w, unsigned timeout_ms);

/* Message builders. */
void	 wc_hello(struct iris_wire_msg *m, uint64_t rid, uint32_t version);
void	 wc_ping(struct iris_wire_msg *m, uint64_t rid, const char *data);


#endif

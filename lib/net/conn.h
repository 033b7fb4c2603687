/* SPDX-License-Identifier: ISC */
/*
 * A byte-stream connection on the embedder's event loop: TLS (mbedTLS,
 * driven by our own read/write events) or plaintext for the opt-in Unix
 * socket. Plaintext bytes in through on_data, out through a bounded queue
 * flushed once per loop turn so that many frames share a TLS record.
 */
#ifndef IRIS_NET_CONN_H
#define IRIS_NET_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct iris_tls_ctx;
struct iris_netconn;

struct iris_netconn_cbs {
	/* TLS handshake done (or plaintext connection ready). */
	void	(*on_open)(struct iris_netconn *c, void *arg);
	/* Bytes arrived; valid during the call. */
	void	(*on_data)(struct iris_netconn *c, const uint8_t *p, size_t n,
		    void *arg);
	/*
	 * The connection is closed: err is IRIS_OK after a clean close by
	 * either side, or why it failed. No callback follows; the owner frees
	 * the connection (it may do so here).
	 */
	void	(*on_close)(struct iris_netconn *c, int err, void *arg);
};

/* Takes a connected socket (made non-blocking here); tls NULL: plain. */
int	 iris__netconn_new(struct iris_netconn **cp, struct event_base *base,
	    int fd, struct iris_tls_ctx *tls, const struct iris_netconn_cbs *cbs,
	    void *arg);
/* Connects to sa (non-blocking); hostname is checked against a CA chain. */
int	 iris__netconn_connect(struct iris_netconn **cp,
	    struct event_base *base, const struct sockaddr *sa, socklen_t salen,
	    struct iris_tls_ctx *tls, const char *hostname,
	    const struct iris_netconn_cbs *cbs, void *arg);
/* Frees at once, closing the socket; no callback. Safe in a callback. */
void	 iris__netconn_free(struct iris_netconn *c);

/*
 * Queues bytes to send. IRIS_ELIMIT when the queue would pass its cap
 * (nothing queued: the owner decides, usually to close a slow reader),
 * IRIS_ECLOSED after close.
 */
int	 iris__netconn_write(struct iris_netconn *c, const void *p, size_t n);
void	 iris__netconn_set_outcap(struct iris_netconn *c, size_t cap);
size_t	 iris__netconn_outlen(const struct iris_netconn *c);
/* Stops (or resumes) reading; bytes stay in the kernel. */
void	 iris__netconn_pause(struct iris_netconn *c, int paused);
/* Drops the connection at once (nothing more is sent); on_close follows
 * on the loop with err. */
void	 iris__netconn_abort(struct iris_netconn *c, int err);
/* Flushes what is queued, says goodbye (close_notify), then on_close. */
void	 iris__netconn_close(struct iris_netconn *c);

/*
 * Client sessions: save the TLS session after on_open (a ticket inside),
 * and offer a saved one right after connect so the handshake resumes.
 */
int	 iris__netconn_session_save(const struct iris_netconn *c, uint8_t *buf,
	    size_t cap, size_t *len);
int	 iris__netconn_session_offer(struct iris_netconn *c, const uint8_t *buf,
	    size_t len);

/*
 * After on_open: the 32-byte login channel binding (zeros for plain),
 * made on the first call. Should it fail, the connection is failed and
 * the bytes are random: no signature over them verifies.
 */
const uint8_t *iris__netconn_binding(struct iris_netconn *c);
const char *iris__netconn_alpn(const struct iris_netconn *c);
int	 iris__netconn_resumed(const struct iris_netconn *c);
int	 iris__netconn_is_tls(const struct iris_netconn *c);
/* TLS: send(2) calls made so far, and how often a queued handshake
 * flight met a full socket (for tests). */
void	 iris__netconn_sends(const struct iris_netconn *c, unsigned *sends,
	    unsigned *blocked);
int	 iris__netconn_fd(const struct iris_netconn *c);
/* Why the last failure happened (TLS or socket text). */
const char *iris__netconn_error(const struct iris_netconn *c);

#endif /* IRIS_NET_CONN_H */

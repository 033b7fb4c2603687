/* SPDX-License-Identifier: ISC */
/*
 * Connections on the loop: non-blocking sockets driven by our own read and
 * write events, through mbedTLS (read until WANT_READ, minding bytes mbedTLS
 * already holds; a WANT_WRITE is retried with the same buffer and length)
 * or plain. Output is queued and flushed once per loop turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "iris.h"
#include "net/conn.h"
#include "net/tls.h"
#include <mbedtls/net_sockets.h>
#include "util/alloc.h"

#define READ_CHUNK	16384
#define READ_BUDGET	(256 * 1024)	/* bytes per event, then yield */
#define WRITE_CHUNK	16384
#define DEFAULT_OUTCAP	(4u << 20)

enum state { CONNECTING, HANDSHAKE, OPEN, CLOSING, CLOSED };

struct iris_netconn {
	struct event_base	*base;
	int			 fd;
	enum state		 state;
	int			 use_tls;
	struct iris_tls		 tls;
	struct event		*rev;		/* readable (persistent) */
	struct event		*wev;		/* writable, when blocked */
	struct event		*kick;		/* deferred work this turn */
	struct evbuffer		*out;
	size_t			 outcap;
	size_t			 retry_len;	/* a WANT_WRITE to repeat */
	const struct iris_netconn_cbs *cbs;
	void			*arg;
	int			 paused;
	int			 in_cb;		/* inside an owner callback */
	int			 dead;		/* freed while in_cb */
	int			 close_err;	/* pending on_close */
	int			 closed_notified;
	int			 more_to_read;
	char			 err[300];
};

static void	kick(struct iris_netconn *c);

static void
destroy(struct iris_netconn *c)
{
	/* Events first: epoll must not be told about a closed descriptor. */
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->kick);
	if (c->fd >= 0)
		close(c->fd);
	if (c->use_tls)
		iris__tls_clear(&c->tls);
	if (c->out != NULL)
		evbuffer_free(c->out);
	iris__free(c);
}

void
iris__netconn_free(struct iris_netconn *c)
{
	if (c == NULL)
		return;
	if (c->in_cb) {
		c->dead = 1;
		event_del(c->rev);
		event_del(c->wev);
		return;
	}
	destroy(c);
}

/* Tears the socket down and reports; the owner frees later. */
static void
fail(struct iris_netconn *c, int err)
{
	if (c->state == CLOSED)
		return;
	c->state = CLOSED;
	event_del(c->rev);
	event_del(c->wev);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->close_err = err;
	kick(c);
}

static void
sock_error(struct iris_netconn *c, const char *what)
{
	snprintf(c->err, sizeof(c->err), "%s: %s", what, strerror(errno));
	fail(c, errno == ECONNRESET || errno == EPIPE ? IRIS_ECLOSED :
	    IRIS_EIO);
}

static void
tls_error(struct iris_netconn *c, int rc)
{
	iris__tls_strerror(rc, c->err, sizeof(c->err));
	fail(c, rc == MBEDTLS_ERR_NET_CONN_RESET ? IRIS_ECLOSED : IRIS_ETLS);
}

/* Runs an owner callback; returns 0 if the connection died in it. */
#define CALLBACK(c, call) do {						\
	(c)->in_cb++;							\
	call;								\
	(c)->in_cb--;							\
	if ((c)->dead && (c)->in_cb == 0) {				\
		destroy(c);						\
		return;							\
	}								\
} while (0)

static void
do_read(struct iris_netconn *c)
{
	unsigned char buf[READ_CHUNK];
	size_t budget = READ_BUDGET;
	ssize_t n;

	c->more_to_read = 0;
	while (c->state == OPEN || c->state == CLOSING) {
		if (c->paused)
			return;
		if (budget == 0) {
			/* Fairness: yield, and come back this turn. */
			c->more_to_read = 1;
			kick(c);
			return;
		}
		if (c->use_tls) {
			n = mbedtls_ssl_read(&c->tls.ssl, buf, sizeof(buf));
			if (n == MBEDTLS_ERR_SSL_WANT_READ ||
			    n == MBEDTLS_ERR_SSL_WANT_WRITE) {
				(void)iris__tls_readahead(&c->tls);
				return;
			}
			if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == 0) {
				fail(c, IRIS_OK);
				return;
			}
			if (n < 0) {
				tls_error(c, (int)n);
				return;
			}
		} else {
			do
				n = read(c->fd, buf, sizeof(buf));
			while (n < 0 && errno == EINTR);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (n <= 0) {
				if (n == 0)
					fail(c, IRIS_OK);
				else
					sock_error(c, "read");
				return;
			}
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		if (c->state == OPEN)
			CALLBACK(c, c->cbs->on_data(c, buf, (size_t)n, c->arg));
	}
}

static void
flush(struct iris_netconn *c)
{
	size_t len;
	ssize_t n;
	unsigned char *p;
	int rc;

	/* The end of the handshake's last flight, if the socket was full. */
	if (c->use_tls && (rc = iris__tls_flush(&c->tls)) != IRIS_OK) {
		if (rc == IRIS_EAGAIN)
			event_add(c->wev, NULL);
		else {
			snprintf(c->err, sizeof(c->err), "TLS: %s",
			    c->tls.ctx->err);
			fail(c, rc);
		}
		return;
	}
	while ((len = evbuffer_get_length(c->out)) > 0) {
		if (c->retry_len != 0)
			len = c->retry_len;
		else if (len > WRITE_CHUNK)
			len = WRITE_CHUNK;
		p = evbuffer_pullup(c->out, (ssize_t)len);
		if (c->use_tls) {
			n = mbedtls_ssl_write(&c->tls.ssl, p, len);
			if (n == MBEDTLS_ERR_SSL_WANT_WRITE ||
			    n == MBEDTLS_ERR_SSL_WANT_READ) {
				c->retry_len = len;
				event_add(c->wev, NULL);
				return;
			}
			if (n < 0) {
				tls_error(c, (int)n);
				return;
			}
		} else {
			do
				n = send(c->fd, p, len, MSG_NOSIGNAL);
			while (n < 0 && errno == EINTR);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				event_add(c->wev, NULL);
				return;
			}
			if (n < 0) {
				sock_error(c, "write");
				return;
			}
		}
		c->retry_len = 0;
		evbuffer_drain(c->out, (size_t)n);
	}
	if (c->state == CLOSING) {
		/* All sent: say goodbye and close. */
		if (c->use_tls)
			(void)mbedtls_ssl_close_notify(&c->tls.ssl);
		shutdown(c->fd, SHUT_WR);
		fail(c, IRIS_OK);
	}
}

static void
open_done(struct iris_netconn *c)
{
	const char *alpn;

	if (c->use_tls) {
		alpn = mbedtls_ssl_get_alpn_protocol(&c->tls.ssl);
		if (alpn == NULL || strcmp(alpn, IRIS_ALPN) != 0) {
			snprintf(c->err, sizeof(c->err), "peer did not agree "
			    "on ALPN %s", IRIS_ALPN);
			fail(c, IRIS_ETLS);
			return;
		}
	}
	c->state = OPEN;
	CALLBACK(c, c->cbs->on_open(c, c->arg));
	if (c->state == OPEN || c->state == CLOSING) {
		kick(c);
		do_read(c);
	}
}

static void
step_handshake(struct iris_netconn *c)
{
	int want_write, rc;

	rc = iris__tls_handshake(&c->tls, &want_write);
	if (rc == IRIS_EAGAIN) {
		(void)iris__tls_readahead(&c->tls);
		if (want_write)
			event_add(c->wev, NULL);
		return;
	}
	if (rc != IRIS_OK) {
		snprintf(c->err, sizeof(c->err), "TLS handshake: %s",
		    c->tls.ctx->err);
		fail(c, IRIS_ETLS);
		return;
	}
	open_done(c);
}

static void
connected(struct iris_netconn *c)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
	    soerr != 0) {
		errno = soerr != 0 ? soerr : errno;
		sock_error(c, "connect");
		return;
	}
	if (c->use_tls) {
		c->state = HANDSHAKE;
		step_handshake(c);
	} else
		open_done(c);
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct iris_netconn *c = arg;

	(void)fd, (void)what;
	if (c->state == HANDSHAKE)
		step_handshake(c);
	else if (c->state == OPEN || c->state == CLOSING)
		do_read(c);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct iris_netconn *c = arg;

	(void)fd, (void)what;
	if (c->state == CONNECTING)
		connected(c);
	else if (c->state == HANDSHAKE)
		step_handshake(c);
	else if (c->state == OPEN || c->state == CLOSING)
		flush(c);
}

/* Deferred work of this loop turn: flush, read more, report a close. */
static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct iris_netconn *c = arg;

	(void)fd, (void)what;
	if (c->state == OPEN || c->state == CLOSING) {
		if (c->retry_len == 0)
			flush(c);
		if (c->more_to_read)
			do_read(c);
	}
	if (c->state == CLOSED && !c->closed_notified) {
		c->closed_notified = 1;
		CALLBACK(c, c->cbs->on_close(c, c->close_err, c->arg));
	}
}

static void
kick(struct iris_netconn *c)
{
	if (!event_pending(c->kick, EV_TIMEOUT, NULL))
		event_active(c->kick, EV_TIMEOUT, 0);
}

static int
setup(struct iris_netconn **cp, struct event_base *base, int fd,
    struct iris_tls_ctx *tls, const char *hostname, enum state st,
    const struct iris_netconn_cbs *cbs, void *arg)
{
	struct iris_netconn *c;
	int flags, one = 1, rc = IRIS_ENOMEM;

	*cp = NULL;
	/* Accepted sockets usually come non-blocking already. */
	if ((flags = fcntl(fd, F_GETFL)) < 0 || ((flags & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
		return IRIS_EIO;
	/*
	 * Output is already coalesced per loop turn; Nagle would only hold
	 * the second segment of a handshake flight for a delayed ACK.
	 * (Fails harmlessly on a Unix socket.)
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = iris__calloc(1, sizeof(*c))) == NULL)
		return IRIS_ENOMEM;
	c->base = base;
	c->fd = fd;
	c->cbs = cbs;
	c->arg = arg;
	c->outcap = DEFAULT_OUTCAP;
	c->state = st;
	if ((c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable,
	    c)) == NULL || (c->wev = event_new(base, fd, EV_WRITE,
	    on_writable, c)) == NULL || (c->kick = event_new(base, -1, 0,
	    on_kick, c)) == NULL || (c->out = evbuffer_new()) == NULL)
		goto fail;
	if (tls != NULL) {
		if ((rc = iris__tls_init(&c->tls, tls, fd, hostname)) !=
		    IRIS_OK)
			goto fail;
		c->use_tls = 1;
	}
	if (event_add(c->rev, NULL) != 0) {
		rc = IRIS_EIO;
		goto fail;
	}
	*cp = c;
	return IRIS_OK;
fail:
	c->fd = -1;	/* the caller still owns the socket */
	destroy(c);
	return rc;
}

int
iris__netconn_new(struct iris_netconn **cp, struct event_base *base, int fd,
    struct iris_tls_ctx *tls, const struct iris_netconn_cbs *cbs, void *arg)
{
	struct iris_netconn *c;
	int rc;

	if ((rc = setup(&c, base, fd, tls, NULL, tls != NULL ? HANDSHAKE :
	    OPEN, cbs, arg)) != IRIS_OK)
		return rc;
	if (tls == NULL) {
		c->state = CONNECTING;	/* reported open from the loop */
		event_add(c->wev, NULL);
	}
	*cp = c;
	return IRIS_OK;
}

int
iris__netconn_connect(struct iris_netconn **cp, struct event_base *base,
    const struct sockaddr *sa, socklen_t salen, struct iris_tls_ctx *tls,
    const char *hostname, const struct iris_netconn_cbs *cbs, void *arg)
{
	struct iris_netconn *c;
	int fd, rc;

	*cp = NULL;
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return IRIS_EIO;
	if (connect(fd, sa, salen) != 0 && errno != EINPROGRESS) {
		close(fd);
		return IRIS_EIO;
	}
	if ((rc = setup(&c, base, fd, tls, hostname, CONNECTING, cbs,
	    arg)) != IRIS_OK) {
		close(fd);
		return rc;
	}
	event_add(c->wev, NULL);
	*cp = c;
	return IRIS_OK;
}

int
iris__netconn_write(struct iris_netconn *c, const void *p, size_t n)
{
	if (c->state == CLOSING || c->state == CLOSED)
		return IRIS_ECLOSED;
	if (evbuffer_get_length(c->out) + n > c->outcap)
		return IRIS_ELIMIT;
	if (evbuffer_add(c->out, p, n) != 0)
		return IRIS_ENOMEM;
	if (c->state == OPEN)
		kick(c);
	return IRIS_OK;
}

void
iris__netconn_set_outcap(struct iris_netconn *c, size_t cap)
{
	c->outcap = cap;
}

size_t
iris__netconn_outlen(const struct iris_netconn *c)
{
	return evbuffer_get_length(c->out);
}

void
iris__netconn_pause(struct iris_netconn *c, int paused)
{
	if (c->paused == paused)
		return;
	c->paused = paused;
	if (!paused && (c->state == OPEN || c->state == CLOSING)) {
		/* mbedTLS may hold a record the socket will not signal. */
		c->more_to_read = 1;
		kick(c);
	}
}

void
iris__netconn_abort(struct iris_netconn *c, int err)
{
	snprintf(c->err, sizeof(c->err), "aborted: %s", iris_strerror(err));
	fail(c, err);
}

void
iris__netconn_close(struct iris_netconn *c)
{
	if (c->state == CLOSED || c->state == CLOSING)
		return;
	if (c->state != OPEN) {
		fail(c, IRIS_OK);
		return;
	}
	c->state = CLOSING;
	kick(c);
}

int
iris__netconn_session_save(const struct iris_netconn *c, uint8_t *buf,
    size_t cap, size_t *len)
{
	mbedtls_ssl_session sess;
	int rc;

	if (!c->use_tls || c->state != OPEN)
		return IRIS_ESTATE;
	mbedtls_ssl_session_init(&sess);
	rc = mbedtls_ssl_get_session(&c->tls.ssl, &sess);
	if (rc == 0)
		rc = mbedtls_ssl_session_save(&sess, buf, cap, len);
	mbedtls_ssl_session_free(&sess);
	if (rc == MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL)
		return IRIS_ETOOBIG;
	return rc == 0 ? IRIS_OK : IRIS_ETLS;
}

int
iris__netconn_session_offer(struct iris_netconn *c, const uint8_t *buf,
    size_t len)
{
	mbedtls_ssl_session sess;
	int rc;

	if (!c->use_tls || c->state != CONNECTING)
		return IRIS_ESTATE;
	mbedtls_ssl_session_init(&sess);
	rc = mbedtls_ssl_session_load(&sess, buf, len);
	if (rc == 0)
		rc = mbedtls_ssl_set_session(&c->tls.ssl, &sess);
	if (rc == 0) {
		memcpy(c->tls.offered_ms, sess.master, sizeof(sess.master));
		c->tls.offered = 1;
	}
	mbedtls_ssl_session_free(&sess);
	return rc == 0 ? IRIS_OK : IRIS_EINVAL;
}

const uint8_t *
iris__netconn_binding(struct iris_netconn *c)
{
	static const uint8_t zeros[IRIS_BINDING_LEN];
	const uint8_t *b;

	if (!c->use_tls)
		return zeros;
	if (iris__tls_binding(&c->tls, &b) != IRIS_OK && c->state != CLOSED) {
		snprintf(c->err, sizeof(c->err), "no channel binding");
		fail(c, IRIS_ETLS);
	}
	return b;
}

const char *
iris__netconn_alpn(const struct iris_netconn *c)
{
	return c->use_tls ? mbedtls_ssl_get_alpn_protocol(&c->tls.ssl) : NULL;
}

int
iris__netconn_resumed(const struct iris_netconn *c)
{
	return c->use_tls && c->tls.resumed;
}

void
iris__netconn_sends(const struct iris_netconn *c, unsigned *sends,
    unsigned *blocked)
{
	*sends = c->use_tls ? c->tls.sends : 0;
	*blocked = c->use_tls ? c->tls.blocked : 0;
}

int
iris__netconn_is_tls(const struct iris_netconn *c)
{
	return c->use_tls;
}

int
iris__netconn_fd(const struct iris_netconn *c)
{
	return c->fd;
}

const char *
iris__netconn_error(const struct iris_netconn *c)
{
	return c->err;
}

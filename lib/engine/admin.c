/* SPDX-License-Identifier: ISC */
/*
 * The administration socket irisctl(8) talks to: a Unix stream socket of
 * mode 0600 whose peers must be root or irisd's own uid (SO_PEERCRED); one
 * request line per connection (run by lib/engine/admin_cmd.c), answered
 * with lines of output and a final "ok" or "error: reason". Non-blocking
 * I/O with bounded buffers, written with send(MSG_NOSIGNAL), so the loop
 * never waits on a peer.
 */
#define _GNU_SOURCE	/* struct ucred */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>

#include "iris.h"
#include "engine/admin.h"
#include "engine/engine.h"
#include "store/admin.h"
#include "util/alloc.h"

#define REQUEST_MAX	1024	/* the request line with its newline */
#define IDLE_SECS	10	/* to send the request; to take each write */
#define CONNS_MAX	16

static void finish(struct admin_conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void out(struct admin_conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Lets go of the peer: its socket, events and buffers. */
static void
conn_close(struct admin_conn *c)
{
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->outb != NULL)
		evbuffer_free(c->outb);
	if (c->fd >= 0)
		evutil_closesocket(c->fd);
	c->rev = c->wev = NULL;
	c->in = c->outb = NULL;
	c->fd = -1;
}

static void
conn_free(struct admin_conn *c)
{
	struct iris_admin *adm = c->adm;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		adm->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	adm->nconns--;
	conn_close(c);
	if (c->step_ev != NULL)
		event_free(c->step_ev);
	iris__store_backup_free(c->backup);	/* removes a partial copy */
	sodium_memzero(c->code, sizeof(c->code));
	iris__free(c);
}

/* Done with the peer: free now, or when the pending job calls back. */
static void
conn_drop(struct admin_conn *c)
{
	if (c->pending)
		conn_close(c);
	else
		conn_free(c);
}

int
iris__admin_job_back(struct admin_conn *c)
{
	c->pending = 0;
	if (c->fd >= 0)
		return 1;
	conn_free(c);
	return 0;
}

void
iris__admin_vout(struct admin_conn *c, const char *fmt, va_list ap)
{
	evbuffer_add_vprintf(c->outb, fmt, ap);
}

static void
out(struct admin_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iris__admin_vout(c, fmt, ap);
	va_end(ap);
}

/*
 * After the status line, the connection goes: callers must not touch c
 * after a call that may end in a flush.
 */
void
iris__admin_flush(struct admin_conn *c)
{
	struct timeval idle = { IDLE_SECS, 0 };
	struct evbuffer_iovec v;
	ssize_t n;

	if (c->flushing)
		return;		/* the flush below us goes on */
	c->flushing = 1;
	for (;;) {
		if (evbuffer_peek(c->outb, -1, NULL, &v, 1) > 0) {
			n = send(c->fd, v.iov_base, v.iov_len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				evbuffer_drain(c->outb, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			c->flushing = 0;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				event_add(c->wev, &idle);
			else
				conn_drop(c);	/* the peer went away */
			return;
		}
		if (c->more == NULL)
			break;
		c->more(c);
	}
	c->flushing = 0;
	if (c->closing)
		conn_drop(c);
}

void
iris__admin_vfinish(struct admin_conn *c, const char *fmt, va_list ap)
{
	struct iris_engine *eng = c->adm->eng;
	char why[512];

	c->closing = 1;
	if (fmt == NULL)
		out(c, "ok\n");
	else {
		vsnprintf(why, sizeof(why), fmt, ap);
		out(c, "error: %s\n", why);
		iris__log(&eng->log, IRIS_LOG_INFO, "admin: %s: %s", c->what,
		    why);
	}
	iris__admin_flush(c);
}

static void
finish(struct admin_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iris__admin_vfinish(c, fmt, ap);
	va_end(ap);
}


static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *c = arg;
	struct iris_engine *eng = c->adm->eng;
	struct evbuffer_ptr eol;
	char line[REQUEST_MAX];
	size_t eol_len, len;
	int n;

	if (what & EV_TIMEOUT) {
		iris__log(&eng->log, IRIS_LOG_INFO, "admin: no request "
		    "within %d s (uid %u)", IDLE_SECS, (unsigned)c->uid);
		conn_drop(c);
		return;
	}
	n = evbuffer_read(c->in, fd, REQUEST_MAX -
	    (int)evbuffer_get_length(c->in));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	len = evbuffer_get_length(c->in);
	if (n < 0 || (n == 0 && len == 0)) {
		conn_drop(c);
		return;
	}
	eol = evbuffer_search_eol(c->in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos < 0 && n > 0 && len < REQUEST_MAX)
		return;		/* more to come */
	/* The request, or what came before the peer stopped sending. */
	event_del(c->rev);
	if (eol.pos >= REQUEST_MAX || (eol.pos < 0 && len >= REQUEST_MAX)) {
		snprintf(c->what, sizeof(c->what), "(a long request)");
		finish(c, "request over %d bytes", REQUEST_MAX);
		return;
	}
	len = eol.pos >= 0 ? (size_t)eol.pos : len;
	evbuffer_remove(c->in, line, len);
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	iris__admin_run(c, line);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *c = arg;
	struct iris_engine *eng = c->adm->eng;

	(void)fd;
	if (what & EV_TIMEOUT) {
		iris__log(&eng->log, IRIS_LOG_INFO, "admin: %s: the peer read "
		    "nothing for %d s", c->what, IDLE_SECS);
		conn_drop(c);
		return;
	}
	iris__admin_flush(c);
}

/* Only root and irisd's own uid get a connection. */
static void
on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct iris_admin *adm = arg;
	struct iris_engine *eng = adm->eng;
	struct timeval idle = { IDLE_SECS, 0 };
	struct ucred cr = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t crlen = sizeof(cr);
	const char *why = NULL;
	struct admin_conn *c = NULL;
	char msg[64];

	(void)l, (void)sa, (void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
	    (cr.uid != 0 && cr.uid != geteuid()))
		why = "permission denied";
	else if (adm->nconns >= CONNS_MAX)
		why = "too many admin connections";
	else if ((c = iris__calloc(1, sizeof(*c))) == NULL ||
	    (c->in = evbuffer_new()) == NULL ||
	    (c->outb = evbuffer_new()) == NULL ||
	    (c->rev = event_new(eng->base, fd, EV_READ | EV_PERSIST,
	    on_readable, c)) == NULL ||
	    (c->wev = event_new(eng->base, fd, EV_WRITE, on_writable, c)) ==
	    NULL || event_add(c->rev, &idle) != 0)
		why = "out of memory";
	if (why != NULL) {
		iris__log(&eng->log, IRIS_LOG_WARNING, "admin: refused uid %d "
		    "(pid %d): %s", (int)cr.uid, (int)cr.pid, why);
		snprintf(msg, sizeof(msg), "error: %s\n", why);
		(void)send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (c != NULL) {
			c->fd = -1;
			conn_close(c);
		}
		evutil_closesocket(fd);
		iris__free(c);
		return;
	}
	c->fd = fd;
	c->adm = adm;
	c->uid = cr.uid;
	if ((c->next = adm->conns) != NULL)
		c->next->prev = c;
	adm->conns = c;
	adm->nconns++;
}

/* Does a process answer on the socket? Then it is not stale. */
static int
socket_live(const struct sockaddr_un *sun)
{
	int fd, live;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) ==
	    0 || errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return live;
}

static int
open_socket(struct iris_admin *adm, int *fdp)
{
	struct iris_engine *eng = adm->eng;
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, adm->path, sizeof(sun.sun_path));
	if (lstat(adm->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return iris__engine_fail(eng, IRIS_EEXIST, "admin socket %s: "
			    "exists and is not a socket", adm->path);
		if (socket_live(&sun))
			return iris__engine_fail(eng, IRIS_EEXIST, "admin socket %s: "
			    "another process answers on it", adm->path);
		if (unlink(adm->path) != 0 && errno != ENOENT)
			return iris__engine_fail(eng, IRIS_EIO, "admin socket %s: %s",
			    adm->path, strerror(errno));
	} else if (errno != ENOENT)
		return iris__engine_fail(eng, IRIS_EIO, "admin socket %s: %s",
		    adm->path, strerror(errno));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return iris__engine_fail(eng, IRIS_EIO, "admin socket: %s",
		    strerror(errno));
	/*
	 * Linux gives the new file the socket's own mode less the umask: set
	 * it before bind(), so the path is never open to others, not even
	 * until the chmod(), and the process umask is left alone.
	 */
	if (fchmod(fd, 0600) != 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto fail;
	adm->bound = 1;
	if (chmod(adm->path, 0600) != 0 || lstat(adm->path, &st) != 0 ||
	    listen(fd, CONNS_MAX) != 0)
		goto fail;
	adm->dev = st.st_dev;
	adm->ino = st.st_ino;
	*fdp = fd;
	return IRIS_OK;
fail:
	rc = iris__engine_fail(eng, IRIS_EIO, "admin socket %s: %s", adm->path,
	    strerror(errno));
	close(fd);
	if (adm->bound)
		unlink(adm->path);
	adm->bound = 0;
	return rc;
}

int
iris__admin_start(struct iris_engine *eng)
{
	const char *opt = iris__config_str(eng->cfg, IRIS__OPT_ADMIN_SOCKET);
	const char *dir = iris__config_str(eng->cfg, IRIS__OPT_DATA_DIR);
	struct iris_admin *adm;
	int fd, n, rc;

	if ((adm = iris__calloc(1, sizeof(*adm))) == NULL)
		return iris__engine_fail(eng, IRIS_ENOMEM, "admin socket: out of "
		    "memory");
	adm->eng = eng;
	eng->admin = adm;	/* iris__admin_stop() undoes what was done */
	if (*opt != '\0')
		n = snprintf(adm->path, sizeof(adm->path), "%s", opt);
	else
		n = snprintf(adm->path, sizeof(adm->path), "%s/admin.sock",
		    dir);
	if (n < 0 || (size_t)n >= sizeof(adm->path))
		return iris__engine_fail(eng, IRIS_ECONFIG, "admin socket %.200s%s: "
		    "longer than %zu bytes", *opt != '\0' ? opt : dir,
		    *opt != '\0' ? "" : "/admin.sock", sizeof(adm->path) - 1);
	if ((rc = open_socket(adm, &fd)) != IRIS_OK)
		return rc;
	if ((adm->l = evconnlistener_new(eng->base, on_accept, adm,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		close(fd);
		return iris__engine_fail(eng, IRIS_ENOMEM, "admin socket %s: cannot "
		    "listen", adm->path);
	}
	iris__log(&eng->log, IRIS_LOG_NOTICE, "admin socket %s", adm->path);
	return IRIS_OK;
}

/*
 * Called from iris_engine_free() before the store closes: jobs that are
 * still pending then are dropped undelivered, so their connections can
 * go now.
 */
void
iris__admin_stop(struct iris_engine *eng)
{
	struct iris_admin *adm = eng->admin;
	struct stat st;

	if (adm == NULL)
		return;
	while (adm->conns != NULL)
		conn_free(adm->conns);
	if (adm->l != NULL)
		evconnlistener_free(adm->l);
	/* Only our own socket: another irisd may have taken the path. */
	if (adm->bound && lstat(adm->path, &st) == 0 && st.st_dev == adm->dev &&
	    st.st_ino == adm->ino)
		unlink(adm->path);
	iris__free(adm);
	eng->admin = NULL;
}

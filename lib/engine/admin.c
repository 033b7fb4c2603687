/* SPDX-License-Identifier: ISC */
/*
 * The administration socket irisctl(8) talks to: a Unix stream socket of
 * mode 0600 whose peers must be root or irisd's own uid (SO_PEERCRED); one
 * request line per connection, answered with lines of output and a final
 * "ok" or "error: reason". Non-blocking I/O with bounded buffers, written
 * with send(MSG_NOSIGNAL); store writes are jobs answered on completion and
 * a backup copies a few pages per loop turn, so the loop never waits.
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
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>

#include "iris.h"
#include "engine/engine.h"
#include "store/accounts.h"
#include "store/admin.h"
#include "util/alloc.h"
#include "util/clock.h"

#define REQUEST_MAX	1024	/* the request line with its newline */
#define IDLE_SECS	10	/* to send the request; to take each write */
#define CONNS_MAX	16
#define WORDS_MAX	8
#define SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)
#define BACKUP_PAGES	256	/* copied per loop turn */
#define LIST_PAGE	128	/* users read per page of output */
#define DEVICE_PAGE	16
#define TTL_DEFAULT	(7 * 86400)	/* invites, in seconds */
#define TTL_MAX		(366 * 86400)
/* Revoked token ids are kept as long as a token can live (token_lifetime
 * is at most a day). */
#define TOKEN_KEEP_MS	(24ULL * 60 * 60 * 1000)

struct admin_conn {
	struct iris_admin	*adm;
	struct admin_conn	*prev, *next;
	evutil_socket_t		 fd;	/* -1: the peer is gone, a job
					 * still points here */
	struct event		*rev, *wev;
	struct evbuffer		*in, *outb;
	int			 flushing;
	uid_t			 uid;
	int			 pending;	/* a store job will call back */
	int			 listing;	/* user list: more to come */
	int			 closing;	/* the status line is queued */
	char			 what[64];	/* the request, for the log */
	char			 after[65];	/* user list: last one sent */
	char			 code[33];	/* the invite being stored */
	struct iris_backup	*backup;
	struct event		*step_ev;
};

struct iris_admin {
	struct iris_engine	*eng;
	struct evconnlistener	*l;
	char			 path[SUN_PATH_MAX];
	int			 bound;
	dev_t			 dev;
	ino_t			 ino;
	struct admin_conn	*conns;
	size_t			 nconns;
};

struct command {
	const char	*word, *word2;
	int		 min, max;	/* arguments */
	void		(*fn)(struct admin_conn *, char **, int);
	const char	*usage;
};

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

/* A job called back: returns 0 when the peer has gone meanwhile. */
static int
job_back(struct admin_conn *c)
{
	c->pending = 0;
	if (c->fd >= 0)
		return 1;
	conn_free(c);
	return 0;
}

static void
out(struct admin_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(c->outb, fmt, ap);
	va_end(ap);
}

static void list_page(struct admin_conn *);

/*
 * Sends what is queued (a user list a page at a time) without blocking;
 * after the status line, the connection goes. Callers must not touch c
 * after a call that may end in flush().
 */
static void
flush(struct admin_conn *c)
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
		if (!c->listing)
			break;
		list_page(c);
	}
	c->flushing = 0;
	if (c->closing)
		conn_drop(c);
}

/* The status line (fmt NULL: "ok"); the connection closes once sent. */
static void
finish(struct admin_conn *c, const char *fmt, ...)
{
	struct iris_engine *eng = c->adm->eng;
	char why[512];
	va_list ap;

	c->closing = 1;
	if (fmt == NULL)
		out(c, "ok\n");
	else {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		out(c, "error: %s\n", why);
		iris__log(&eng->log, IRIS_LOG_INFO, "admin: %s: %s", c->what,
		    why);
	}
	flush(c);
}

static void
finish_rc(struct admin_conn *c, int rc, const char *what)
{
	if (rc == IRIS_OK)
		finish(c, NULL);
	else
		finish(c, "%s: %s", what, iris_strerror(rc));
}

static void
store_failed(struct admin_conn *c)
{
	finish(c, "reading the store: %s",
	    iris_store_error(c->adm->eng->store));
}

static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return -1;
	*v = n;
	return 0;
}

static int
user_ok(struct admin_conn *c, const char *user)
{
	if (iris__wire_userid_ok((const uint8_t *)user, strlen(user)))
		return 1;
	finish(c, "\"%.64s\" is not a valid user id", user);
	return 0;
}

static void
invited(struct iris_engine *eng, int result, void *arg)
{
	struct admin_conn *c = arg;

	(void)eng;
	if (!job_back(c))
		return;
	if (result == IRIS_OK)
		out(c, "%s\n", c->code);	/* a secret: never logged */
	sodium_memzero(c->code, sizeof(c->code));
	finish_rc(c, result, "storing the invite");
}

static void
invite(struct admin_conn *c, const char *user, const char *ttl_arg)
{
	uint64_t ttl = TTL_DEFAULT;
	int rc;

	if (ttl_arg != NULL && (parse_uint(ttl_arg, TTL_MAX, &ttl) != 0 ||
	    ttl == 0)) {
		finish(c, "TTL_SECONDS must be 1 to %d", TTL_MAX);
		return;
	}
	if ((rc = iris_engine_invite(c->adm->eng, user, ttl * 1000, c->code,
	    sizeof(c->code), invited, c)) != IRIS_OK) {
		finish_rc(c, rc, "making an invite");
		return;
	}
	c->pending = 1;
}

static void
cmd_user_add(struct admin_conn *c, char **av, int ac)
{
	int rc;

	if (!user_ok(c, av[0]))
		return;
	if ((rc = iris__acct_user(c->adm->eng->store, av[0], NULL)) ==
	    IRIS_OK)
		finish(c, "user %s exists", av[0]);
	else if (rc != IRIS_ENOTFOUND)
		store_failed(c);
	else
		invite(c, av[0], ac > 1 ? av[1] : NULL);
}

static void
cmd_invite(struct admin_conn *c, char **av, int ac)
{
	invite(c, NULL, ac > 0 ? av[0] : NULL);
}

/* A page of users; flush() asks for the next when this one is sent. */
static void
list_page(struct admin_conn *c)
{
	struct iris_user_row rows[LIST_PAGE];
	int i, n;

	n = iris__store_users(c->adm->eng->store, c->after, rows, LIST_PAGE);
	if (n < 0) {
		c->listing = 0;
		store_failed(c);
		return;
	}
	for (i = 0; i < n; i++)
		out(c, "%s %llu %s\n", rows[i].user,
		    (unsigned long long)rows[i].devices,
		    rows[i].disabled ? "disabled" : "enabled");
	if (n > 0)
		memcpy(c->after, rows[n - 1].user, sizeof(c->after));
	if (n < LIST_PAGE) {
		c->listing = 0;
		finish(c, NULL);
	}
}

static void
cmd_user_list(struct admin_conn *c, char **av, int ac)
{
	(void)av, (void)ac;
	c->listing = 1;
	flush(c);
}

static void
flagged(struct iris_engine *eng, int result, void *arg)
{
	struct admin_conn *c = arg;

	(void)eng;
	if (!job_back(c))
		return;
	if (result == IRIS_ENOTFOUND)
		finish(c, "no such user");
	else
		finish_rc(c, result, "storing the change");
}

static void
set_disabled(struct admin_conn *c, const char *user, int disabled)
{
	struct iris_store *store = c->adm->eng->store;
	int rc;

	if (!user_ok(c, user))
		return;
	if ((rc = iris__acct_user(store, user, NULL)) == IRIS_ENOTFOUND)
		finish(c, "no such user");
	else if (rc != IRIS_OK)
		store_failed(c);
	else if ((rc = iris__engine_disable(c->adm->eng, user, disabled,
	    flagged, c)) != IRIS_OK)
		finish_rc(c, rc, "storing the change");
	else
		c->pending = 1;
}

static void
cmd_user_disable(struct admin_conn *c, char **av, int ac)
{
	(void)ac;
	set_disabled(c, av[0], 1);
}

static void
cmd_user_enable(struct admin_conn *c, char **av, int ac)
{
	(void)ac;
	set_disabled(c, av[0], 0);
}

/* UTC, ISO 8601, or "-" for none. */
static void
fmt_time(char *buf, size_t len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

static void
cmd_device_list(struct admin_conn *c, char **av, int ac)
{
	struct iris_store *store = c->adm->eng->store;
	struct iris_device_row rows[DEVICE_PAGE];
	char created[32], revoked[32], *p;
	uint32_t after = 0;
	int i, n, total = 0;

	(void)ac;
	if (!user_ok(c, av[0]))
		return;
	do {
		if ((n = iris__store_devices(store, av[0], after, rows,
		    DEVICE_PAGE)) < 0) {
			store_failed(c);
			return;
		}
		for (i = 0; i < n; i++) {
			/* One word per column: the name has no blanks. */
			for (p = rows[i].name; *p != '\0'; p++)
				if (*p == ' ' || *p == '\t')
					*p = '_';
			fmt_time(created, sizeof(created), rows[i].created_ms);
			fmt_time(revoked, sizeof(revoked), rows[i].revoked_ms);
			out(c, "%u %s %s %s\n", rows[i].device,
			    rows[i].name[0] != '\0' ? rows[i].name : "-",
			    created, revoked);
			after = rows[i].device;
		}
		total += n;
	} while (n == DEVICE_PAGE);
	if (total == 0 && iris__acct_user(store, av[0], NULL) != IRIS_OK)
		finish(c, "no such user");
	else
		finish(c, NULL);
}

static void
revoked(struct iris_engine *eng, int result, void *arg)
{
	struct admin_conn *c = arg;

	(void)eng;
	if (!job_back(c))
		return;
	if (result == IRIS_ENOTFOUND)
		finish(c, "no such device, or already revoked");
	else
		finish_rc(c, result, "storing the revocation");
}

static void
cmd_device_revoke(struct admin_conn *c, char **av, int ac)
{
	struct iris_engine *eng = c->adm->eng;
	uint8_t key[IRIS_KEY_LEN];
	uint64_t id;
	int rc, gone = 0;

	(void)ac;
	if (!user_ok(c, av[0]))
		return;
	if (parse_uint(av[1], UINT32_MAX, &id) != 0 || id == 0) {
		finish(c, "ID must be a device number");
		return;
	}
	rc = iris__acct_device(eng->store, av[0], (uint32_t)id, key, &gone);
	if (rc == IRIS_ENOTFOUND)
		finish(c, "no such device");
	else if (rc != IRIS_OK)
		store_failed(c);
	else if (gone)
		finish(c, "device %s/%u is already revoked", av[0],
		    (unsigned)id);
	else if ((rc = iris_engine_revoke_device(eng, av[0], (uint32_t)id,
	    revoked, c)) != IRIS_OK)
		finish_rc(c, rc, "revoking");
	else
		c->pending = 1;
}

static void
token_revoked(struct iris_engine *eng, int result, void *arg)
{
	struct admin_conn *c = arg;

	(void)eng;
	if (job_back(c))
		finish_rc(c, result, "storing the revocation");
}

static void
cmd_token_revoke(struct admin_conn *c, char **av, int ac)
{
	uint8_t id[16];
	size_t len = 0;
	int rc;

	(void)ac;
	if (strlen(av[0]) != 2 * sizeof(id) || sodium_hex2bin(id, sizeof(id),
	    av[0], 2 * sizeof(id), NULL, &len, NULL) != 0 ||
	    len != sizeof(id)) {
		finish(c, "TOKEN_ID_HEX must be 32 hex digits");
		return;
	}
	if ((rc = iris__engine_revoke_token(c->adm->eng, id,
	    iris__clock_realtime_ms(NULL) + TOKEN_KEEP_MS, token_revoked, c)) !=
	    IRIS_OK)
		finish_rc(c, rc, "revoking");
	else
		c->pending = 1;
}

static void
cmd_stats(struct admin_conn *c, char **av, int ac)
{
	struct iris_engine *eng = c->adm->eng;
	const char *name;
	uint64_t v;
	size_t i;

	(void)av, (void)ac;
	for (i = 0; (name = iris_engine_stat_name(i)) != NULL; i++)
		if (iris_engine_stat(eng, name, &v) == IRIS_OK)
			out(c, "%s %llu\n", name, (unsigned long long)v);
	for (i = 0; (name = iris_store_stat_name(i)) != NULL; i++)
		if (iris_store_stat(eng->store, name, &v) == IRIS_OK)
			out(c, "store_%s %llu\n", name, (unsigned long long)v);
	finish(c, NULL);
}

static void
on_step(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *c = arg;
	struct iris_engine *eng = c->adm->eng;
	struct timeval now = { 0, 0 };
	char err[512];
	int rc, pages;

	(void)fd, (void)what;
	rc = iris__store_backup_step(c->backup, BACKUP_PAGES, err,
	    sizeof(err));
	if (rc == 0) {
		/* A timer, not event_active(): the loop polls in between. */
		evtimer_add(c->step_ev, &now);
		return;
	}
	pages = iris__store_backup_pages(c->backup);
	iris__store_backup_free(c->backup);	/* done: the copy stays */
	c->backup = NULL;
	if (rc < 0) {
		finish(c, "%s", err);
		return;
	}
	iris__log(&eng->log, IRIS_LOG_INFO, "admin: %s: %d pages copied",
	    c->what, pages);
	out(c, "%d pages\n", pages);
	finish(c, NULL);
}

static void
cmd_backup(struct admin_conn *c, char **av, int ac)
{
	struct iris_engine *eng = c->adm->eng;
	struct timeval now = { 0, 0 };
	char err[512];

	(void)ac;
	if (av[0][0] != '/') {
		finish(c, "PATH must be absolute");
		return;
	}
	if (iris__store_backup_new(&c->backup, eng->store, av[0], err,
	    sizeof(err)) != IRIS_OK)
		finish(c, "%s", err);
	else if ((c->step_ev = evtimer_new(eng->base, on_step, c)) == NULL ||
	    evtimer_add(c->step_ev, &now) != 0)
		finish_rc(c, IRIS_ENOMEM, "backup");
}

static void
check_line(const char *line, void *arg)
{
	out(arg, "%s\n", line);
}

static void
cmd_check(struct admin_conn *c, char **av, int ac)
{
	char err[512];

	(void)av, (void)ac;
	if (iris__store_check(c->adm->eng->store, check_line, c, err,
	    sizeof(err)) == IRIS_OK)
		finish(c, NULL);
	else
		finish(c, "%s", err);
}

static void
cmd_fingerprint(struct admin_conn *c, char **av, int ac)
{
	char fp[65];
	int rc;

	(void)av, (void)ac;
	if ((rc = iris_engine_fingerprint(c->adm->eng, fp, sizeof(fp))) ==
	    IRIS_OK)
		out(c, "%s\n", fp);
	finish_rc(c, rc, "fingerprint");
}

static const struct command commands[] = {
	{ "user", "add", 1, 2, cmd_user_add, "user add NAME [TTL_SECONDS]" },
	{ "user", "list", 0, 0, cmd_user_list, "user list" },
	{ "user", "disable", 1, 1, cmd_user_disable, "user disable NAME" },
	{ "user", "enable", 1, 1, cmd_user_enable, "user enable NAME" },
	{ "invite", "create", 0, 1, cmd_invite,
	    "invite create [TTL_SECONDS]" },
	{ "device", "list", 1, 1, cmd_device_list, "device list NAME" },
	{ "device", "revoke", 2, 2, cmd_device_revoke,
	    "device revoke NAME ID" },
	{ "token", "revoke", 1, 1, cmd_token_revoke,
	    "token revoke TOKEN_ID_HEX" },
	{ "stats", NULL, 0, 0, cmd_stats, "stats" },
	{ "backup", NULL, 1, 1, cmd_backup, "backup PATH" },
	{ "check", NULL, 0, 0, cmd_check, "check" },
	{ "fingerprint", NULL, 0, 0, cmd_fingerprint, "fingerprint" },
};

static void
run(struct admin_conn *c, char *line)
{
	struct iris_engine *eng = c->adm->eng;
	const struct command *cmd = NULL;
	char *av[WORDS_MAX + 1], *p, *save = NULL;
	int ac = 0, skip;
	size_t i;

	i = strnlen(line, sizeof(c->what) - 1);
	memcpy(c->what, line, i);
	c->what[i] = '\0';
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			finish(c, "control characters in the request");
			return;
		}
	iris__log(&eng->log, IRIS_LOG_INFO, "admin: %s (uid %u)", line,
	    (unsigned)c->uid);
	for (p = strtok_r(line, " ", &save); p != NULL && ac <= WORDS_MAX;
	    p = strtok_r(NULL, " ", &save))
		av[ac++] = p;
	for (i = 0; ac > 0 && i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(commands[i].word, av[0]) == 0 &&
		    (commands[i].word2 == NULL || (ac > 1 &&
		    strcmp(commands[i].word2, av[1]) == 0))) {
			cmd = &commands[i];
			break;
		}
	if (cmd == NULL) {
		finish(c, "unknown command \"%.40s\"; see irisctl(8)",
		    ac > 0 ? av[0] : "");
		return;
	}
	skip = cmd->word2 != NULL ? 2 : 1;
	if (ac - skip < cmd->min || ac - skip > cmd->max)
		finish(c, "usage: %s", cmd->usage);
	else if (eng->stopping)
		finish(c, "shutting down");
	else
		cmd->fn(c, av + skip, ac - skip);
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
	run(c, line);
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
	flush(c);
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

/* SPDX-License-Identifier: ISC */
/*
 * The commands of the administration socket (irisctl(8)): users, invites,
 * devices, tokens, stats, online backup, integrity check, fingerprint.
 * Store writes are requests answered on completion and a backup copies a
 * few pages per loop turn, so the loop never waits; reads use the store's
 * read connection.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "iris.h"
#include "engine/admin.h"
#include "engine/engine.h"
#include "store/accounts.h"
#include "store/admin.h"
#include "util/clock.h"

#define WORDS_MAX	8
#define BACKUP_PAGES	256	/* copied per loop turn */
#define LIST_PAGE	128	/* users read per page of output */
#define DEVICE_PAGE	16
#define TTL_DEFAULT	(7 * 86400)	/* invites, in seconds */
#define TTL_MAX		(366 * 86400)
/* Revoked token ids are kept as long as a token can live (token_lifetime
 * is at most a day). */
#define TOKEN_KEEP_MS	(24ULL * 60 * 60 * 1000)

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

static void
out(struct admin_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iris__admin_vout(c, fmt, ap);
	va_end(ap);
}

/* The status line; callers must not touch c afterwards. */
static void
finish(struct admin_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iris__admin_vfinish(c, fmt, ap);
	va_end(ap);
}

static int
job_back(struct admin_conn *c)
{
	return iris__admin_job_back(c);
}

static void list_page(struct admin_conn *);

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
		c->more = NULL;
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
		c->more = NULL;
		finish(c, NULL);
	}
}

static void
cmd_user_list(struct admin_conn *c, char **av, int ac)
{
	(void)av, (void)ac;
	c->more = list_page;
	iris__admin_flush(c);
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

void
iris__admin_run(struct admin_conn *c, char *line)
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

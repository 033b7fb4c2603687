/* SPDX-License-Identifier: ISC */
/*
 * irisctl against a real irisd: invites that a client registers with,
 * user and device listings, counters, disabling a user, revoking a token
 * and a device (the live session is closed, later logins refused), an
 * online backup that SQLite opens and checks, the integrity check, bad
 * requests, the 0600 socket and the SO_PEERCRED check refusing uid 65534,
 * and what irisd finds at the socket's path when it starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "iris.h"
#include "daemon.h"
#include "authclient.h"

#define T	5000	/* ms: generous deadlines for a loaded machine */
#define NOBODY	"65534"

static int failures;
static struct event_base *base;
static struct daemon d;
static char ctl_path[PATH_MAX], out[65536], err[4096];

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "irisctl_admin: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv; its stdout into out, stderr into err; the exit status. */
static int
run(const char *const *argv)
{
	struct pollfd p[2];
	char *buf[2] = { out, err };
	size_t len[2] = { 0, 0 }, cap[2] = { sizeof(out), sizeof(err) };
	long long deadline = mono_ms() + 3 * T;
	int po[2], pe[2], status, i, open = 2;
	pid_t pid;
	ssize_t n;

	out[0] = err[0] = '\0';
	if (pipe(po) != 0 || pipe(pe) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	p[0].fd = po[0];
	p[1].fd = pe[0];
	while (open > 0 && mono_ms() < deadline) {
		p[0].events = p[1].events = POLLIN;
		if (poll(p, 2, (int)(deadline - mono_ms())) <= 0)
			continue;
		for (i = 0; i < 2; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, buf[i] + len[i], cap[i] - 1 - len[i]);
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open--;
				continue;
			}
			len[i] += (size_t)n;
			buf[i][len[i]] = '\0';
		}
	}
	if (open > 0)
		kill(pid, SIGKILL);
	for (i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* irisctl -d data ARGS...; NULL-terminated. */
static int
ctl(const char *first, ...)
{
	const char *argv[16] = { ctl_path, "-d", "data" };
	va_list ap;
	int i = 3;

	va_start(ap, first);
	for (argv[i] = first; argv[i] != NULL && i < 14;)
		argv[++i] = va_arg(ap, const char *);
	va_end(ap);
	return run(argv);
}

/* Does text hold this exact line? */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* A client device and its connection (tests/support/authclient.h). */
struct dev {
	struct ac_dev	 a;
	struct ac_conn	 c;
};

static void
new_dev(struct dev *v, const char *user)
{
	memset(v, 0, sizeof(*v));
	ac_dev_new(&v->a, user);
}

static void
connect_dev(struct dev *v)
{
	EXPECT(ac_open(&v->c, base, d.port, d.fp, NULL, 0) == 0,
	    "connect and hello");
}

static int
do_register(struct dev *v, const char *invite)
{
	return ac_register(&v->c, &v->a, invite, NULL, 0);
}

/* Logs in by signature, or with the saved token when resume is set. */
static int
do_login(struct dev *v, int resume)
{
	return ac_login(&v->c, &v->a, resume ? AC_TOKEN : AC_SIGN, NULL);
}

/* A fresh connection, one login, closed again: the error code or 0. */
static int
login_once(struct dev *v, int resume)
{
	int rc;

	connect_dev(v);
	rc = do_login(v, resume);
	wc_close(&v->c.w);
	return rc;
}

/* The live session is told ERR_REVOKED and closed. */
static void
expect_kicked(struct dev *v, const char *what)
{
	struct iris_wire_msg *r = wc_next(&v->c.w, T);

	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_error_tag &&
	    r->f.body.error.code == iris_v1_ErrorCode_ERR_REVOKED,
	    "%s: the live session was not told", what);
	EXPECT(wc_wait_closed(&v->c.w, T), "%s: not closed", what);
	wc_close(&v->c.w);
}

/* user add: a code; the client registers with it and logs in. */
static void
users(struct dev *alice, struct dev *bob)
{
	char code[64];
	int rc;

	EXPECT(ctl("fingerprint", NULL) == 0, "fingerprint: %s", err);
	EXPECT(strncmp(out, d.fp, 64) == 0, "fingerprint: %s", out);
	EXPECT(ctl("user", "add", "alice", "3600", NULL) == 0, "user add: %s",
	    err);
	EXPECT(strlen(out) == 33 && out[32] == '\n', "user add: %s", out);
	snprintf(code, sizeof(code), "%.32s", out);
	connect_dev(alice);
	EXPECT((rc = do_register(alice, code)) == 0, "register: %d", rc);
	EXPECT(alice->a.id == 1, "device %u", alice->a.id);
	EXPECT(do_login(alice, 0) == 0, "login");	/* stays connected */
	EXPECT(ctl("user", "add", "alice", NULL) == 1 &&
	    strstr(err, "error: user alice exists") != NULL, "exists: %s", err);

	EXPECT(ctl("invite", "create", "600", NULL) == 0, "invite: %s", err);
	snprintf(code, sizeof(code), "%.32s", out);
	connect_dev(bob);
	EXPECT(do_register(bob, code) == 0, "bob registers with the invite");
	EXPECT(do_login(bob, 0) == 0, "bob logs in");

	EXPECT(ctl("user", "list", NULL) == 0, "user list: %s", err);
	EXPECT(has_line(out, "alice 1 enabled") &&
	    has_line(out, "bob 1 enabled"), "user list: %s", out);
	EXPECT(ctl("device", "list", "alice", NULL) == 0, "device list");
	EXPECT(strncmp(out, "1 - 20", 6) == 0 && strstr(out, "Z -\n") != NULL,
	    "device list: %s", out);
	EXPECT(ctl("device", "list", "nobody", NULL) == 1, "unknown user");
	EXPECT(ctl("stats", NULL) == 0, "stats: %s", err);
	EXPECT(has_line(out, "registrations 2") && has_line(out, "logins 2")
	    && has_line(out, "store_read_only 0"), "stats: %s", out);
}

/* Disabling closes bob's session and refuses logins until enabled. */
static void
disable(struct dev *bob)
{
	EXPECT(ctl("user", "disable", "bob", NULL) == 0, "disable: %s", err);
	expect_kicked(bob, "disable");
	EXPECT(ctl("user", "list", NULL) == 0 && has_line(out,
	    "bob 1 disabled"), "user list: %s", out);
	EXPECT(login_once(bob, 0) == iris_v1_ErrorCode_ERR_REVOKED,
	    "a disabled user logs in");
	EXPECT(ctl("user", "enable", "bob", NULL) == 0, "enable: %s", err);
	EXPECT(login_once(bob, 0) == 0, "enabled again, no login");
	EXPECT(ctl("user", "disable", "nobody", NULL) == 1, "unknown user");
}

/* A token id revoked: that token no longer resumes; others live on. */
static void
revocations(struct dev *alice)
{
	struct dev other = *alice;
	struct iris_wire_msg m, *r;
	char hex[33];
	size_t ulen = strlen(alice->a.user);

	memset(&other.c.w, 0, sizeof(other.c.w));
	EXPECT(login_once(&other, 0) == 0, "second login");
	/* version, user length, user, device, expiry, then the id */
	sodium_bin2hex(hex, sizeof(hex), other.a.token + 2 + ulen + 12, 16);
	EXPECT(ctl("token", "revoke", hex, NULL) == 0, "token revoke: %s",
	    err);
	EXPECT(login_once(&other, 1) == iris_v1_ErrorCode_ERR_REVOKED,
	    "a revoked token resumes");
	EXPECT(ctl("token", "revoke", "xyz", NULL) == 1, "bad token id");
	wc_ping(&m, 40, "alive");
	wc_send(&alice->c.w, &m);
	r = wc_next(&alice->c.w, T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_pong_tag,
	    "the session with another token was closed");

	/* The device: its live session goes within revocation_check. */
	EXPECT(ctl("device", "revoke", "alice", "1", NULL) == 0,
	    "device revoke: %s", err);
	expect_kicked(alice, "device revoke");
	EXPECT(login_once(alice, 0) == iris_v1_ErrorCode_ERR_REVOKED,
	    "a revoked device logs in");
	EXPECT(ctl("device", "list", "alice", NULL) == 0 &&
	    strstr(out, "Z -\n") == NULL, "revoked: %s", out);
	EXPECT(ctl("device", "revoke", "alice", "1", NULL) == 1 &&
	    strstr(err, "already revoked") != NULL, "again: %s", err);
	EXPECT(ctl("device", "revoke", "alice", "9", NULL) == 1,
	    "unknown device");
	EXPECT(ctl("stats", NULL) == 0 && has_line(out, "revoked_closed 2"),
	    "stats: %s", out);
}

static void
backup_and_check(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	struct stat sb;
	const char *v;
	int n = -1;

	EXPECT(ctl("backup", "copy.db", NULL) == 0, "backup: %s", err);
	EXPECT(strstr(out, " pages\n") != NULL, "backup: %s", out);
	EXPECT(stat("copy.db", &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "backup mode %o", (unsigned)sb.st_mode);
	EXPECT(sqlite3_open_v2("copy.db", &db, SQLITE_OPEN_READWRITE, NULL) ==
	    SQLITE_OK, "the backup does not open");
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM accounts WHERE"
	    " user = 'alice'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	EXPECT(n == 1, "alice in the backup: %d", n);
	n = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) ==
	    SQLITE_OK) {
		n = sqlite3_step(st) == SQLITE_ROW &&
		    (v = (const char *)sqlite3_column_text(st, 0)) != NULL &&
		    strcmp(v, "ok") == 0;
		sqlite3_finalize(st);
	}
	EXPECT(n == 1, "the backup fails its integrity check");
	sqlite3_close(db);
	EXPECT(ctl("backup", "copy.db", NULL) == 1 &&
	    strstr(err, "exists") != NULL, "over a file: %s", err);
	EXPECT(ctl("check", NULL) == 0 && strcmp(out, "ok\n") == 0,
	    "check: %s%s", out, err);
}

static void
bad_requests(void)
{
	const char *none[] = { ctl_path, "-d", "data", NULL };
	const char *bad_opt[] = { ctl_path, "-x", "stats", NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char big[2000], reply[256];
	ssize_t n, got = 0;
	int fd;

	EXPECT(ctl("frobnicate", NULL) == 1 &&
	    strstr(err, "error: unknown command") != NULL, "unknown: %s",
	    err);
	EXPECT(ctl("user", "add", NULL) == 1 && strstr(err, "usage") != NULL,
	    "no name: %s", err);
	EXPECT(ctl("user", "add", "bad name", NULL) == 2, "a blank");
	EXPECT(ctl("user", "add", "carol", "0", NULL) == 1, "ttl 0");
	EXPECT(run(none) == 2, "no command");
	EXPECT(run(bad_opt) == 2, "bad option");
	EXPECT(ctl("backup", NULL) == 1, "backup without a path");

	/* Over 1024 bytes without a newline: refused and closed. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "data/admin.sock");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	EXPECT(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "connect: %s", strerror(errno));
	memset(big, 'a', sizeof(big));
	(void)send(fd, big, sizeof(big), MSG_NOSIGNAL);
	while ((n = read(fd, reply + got, sizeof(reply) - 1 -
	    (size_t)got)) > 0)
		got += n;
	reply[got > 0 ? got : 0] = '\0';
	close(fd);
	EXPECT(strncmp(reply, "error: request over", 19) == 0,
	    "long request: %s", reply);
}

static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, o, ok = 1;

	if ((in = open(from, O_RDONLY)) < 0)
		return -1;
	if ((o = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ok &= write(o, buf, (size_t)n) == n;
	close(in);
	return close(o) == 0 && ok && n == 0 ? 0 : -1;
}

/* uid 65534 runs irisctl, but cannot reach the socket or is refused. */
static void
unprivileged(void)
{
	char dir[] = "/tmp/irisctl-nobody-XXXXXX", bin[PATH_MAX],
	    lib[PATH_MAX], src[PATH_MAX], sock[PATH_MAX + 32], cwd[PATH_MAX];
	const char *argv[] = { "/usr/bin/setpriv", "--reuid=" NOBODY,
	    "--regid=" NOBODY, "--clear-groups", bin, "-V", NULL, NULL,
	    NULL };
	const char *old = getenv("LD_LIBRARY_PATH");
	char *saved = old != NULL ? strdup(old) : NULL;

	EXPECT(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0, "mkdtemp");
	snprintf(bin, sizeof(bin), "%s/irisctl", dir);
	snprintf(lib, sizeof(lib), "%s/libiris.so.0", dir);
	snprintf(src, sizeof(src), "%s/libiris.so.0", getenv("IRIS_BUILD"));
	EXPECT(copy_file(ctl_path, bin) == 0 && copy_file(src, lib) == 0,
	    "copies");
	setenv("LD_LIBRARY_PATH", dir, 1);
	EXPECT(run(argv) == 0 && strncmp(out, "irisctl ", 8) == 0,
	    "irisctl -V as nobody: %s%s", out, err);

	/* The data dir is 0700 and the socket 0600: no way in. */
	EXPECT(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
	snprintf(sock, sizeof(sock), "%s/data/admin.sock", cwd);
	argv[5] = "-s";
	argv[6] = sock;
	argv[7] = "stats";
	EXPECT(run(argv) == 3 && strstr(err, "Permission denied") != NULL,
	    "nobody reached the socket: %s", err);
	/* Opened up on purpose: SO_PEERCRED still refuses. */
	chmod(cwd, 0711);
	chmod("data", 0711);
	chmod("data/admin.sock", 0666);
	EXPECT(run(argv) == 1 && strstr(err, "permission denied") != NULL,
	    "nobody was served: %s%s", out, err);
	EXPECT(daemon_wait_line(&d, "refused uid " NOBODY, T) != NULL,
	    "no log line for the refusal");
	chmod("data/admin.sock", 0600);
	chmod("data", 0700);
	chmod(cwd, 0700);
	if (saved != NULL)
		setenv("LD_LIBRARY_PATH", saved, 1);
	free(saved);
	unlink(bin);
	unlink(lib);
	rmdir(dir);
}

/* A file that is not a socket is kept (irisd refuses to start); a socket
 * nobody answers on is stale and replaced. */
static void
restarts(const char *const *args)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd;

	fd = open("data/admin.sock", O_WRONLY | O_CREAT | O_EXCL, 0600);
	close(fd);
	EXPECT(daemon_start(&d, args, 3 * T) != 0, "started over a file");
	EXPECT(strstr(d.log, "exists and is not a socket") != NULL,
	    "no reason given: %s", d.log);
	daemon_stop(&d, 0, T);
	EXPECT(lstat("data/admin.sock", &sb) == 0 && S_ISREG(sb.st_mode),
	    "the file was removed");
	unlink("data/admin.sock");

	snprintf(sun.sun_path, sizeof(sun.sun_path), "data/admin.sock");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	EXPECT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "bind");
	close(fd);
	if (daemon_start(&d, args, 3 * T) != 0) {
		EXPECT(0, "no start over a stale socket:\n%s", d.log);
		daemon_stop(&d, SIGKILL, T);
		return;
	}
	EXPECT(ctl("user", "list", NULL) == 0 && has_line(out,
	    "bob 1 enabled"), "after restart: %s%s", out, err);
	EXPECT(daemon_stop(&d, SIGTERM, 3 * T) == 0, "second exit status");
}

int
main(void)
{
	static const char *const args[] = { "-f", "iris.conf", NULL };
	struct dev alice, bob;
	struct stat sb;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0 || getenv("IRIS_BUILD") == NULL)
		return 1;
	snprintf(ctl_path, sizeof(ctl_path), "%s/irisctl",
	    getenv("IRIS_BUILD"));
	base = event_base_new();
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\n"
	    "revocation_check 100ms\n");
	fclose(f);
	if (daemon_start(&d, args, 3 * T) != 0) {
		fprintf(stderr, "irisctl_admin: irisd did not start:\n%s\n",
		    d.log);
		return 1;
	}
	EXPECT(lstat("data/admin.sock", &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    (sb.st_mode & 0777) == 0600, "socket mode %o",
	    (unsigned)sb.st_mode);
	new_dev(&alice, "alice");
	new_dev(&bob, "bob");
	users(&alice, &bob);
	disable(&bob);
	revocations(&alice);
	backup_and_check();
	bad_requests();
	unprivileged();

	EXPECT(daemon_stop(&d, SIGTERM, 3 * T) == 0, "exit status");
	EXPECT(lstat("data/admin.sock", &sb) != 0 && errno == ENOENT,
	    "socket left after a clean exit");
	restarts(args);
	event_base_free(base);
	if (failures > 0) {
		fprintf(stderr, "irisctl_admin: %d failures; irisd said:\n%s\n",
		    failures, d.log);
		return 1;
	}
	printf("irisctl_admin: invites, users, devices, stats, disable, token "
	    "and device revocation, backup, check, bad requests, peer "
	    "checks, stale socket: ok\n");
	return 0;
}

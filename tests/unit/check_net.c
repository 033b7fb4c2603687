/* SPDX-License-Identifier: ISC */
/*
 * TLS over real loopback sockets on one event loop: the server's identity
 * made on first start and kept, pinned and CA clients, the channel binding
 * agreed by both sides, large transfers in both directions, tickets that
 * resume across a restart of the server context, a peer vanishing in the
 * middle of a large write, and openssl s_client at our listener.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iris.h"
#include "net/conn.h"
#include "net/tls.h"
#include "loop.h"
#include "suites.h"

static struct event_base *base;
static char *dir;

/* One side of a test connection. */
struct side {
	struct iris_netconn	*c;
	int			 open;
	int			 closed;
	int			 close_err;
	size_t			 got;
	unsigned char		*buf;		/* what arrived */
	size_t			 cap;
	int			 echo;		/* write back what arrives */
	size_t			 want;
};

static int
got_all(void *arg)
{
	struct side *s = arg;

	return s->got >= s->want || s->closed;
}

static void
s_open(struct iris_netconn *c, void *arg)
{
	(void)c;
	((struct side *)arg)->open = 1;
}

static void
s_data(struct iris_netconn *c, const uint8_t *p, size_t n, void *arg)
{
	struct side *s = arg;

	if (s->echo)
		ck_assert_int_eq(iris__netconn_write(c, p, n), IRIS_OK);
	if (s->buf != NULL && s->got + n <= s->cap)
		memcpy(s->buf + s->got, p, n);
	s->got += n;
}

static void
s_close(struct iris_netconn *c, int err, void *arg)
{
	struct side *s = arg;

	(void)c;
	s->closed = 1;
	s->close_err = err;
	if (getenv("NET_DEBUG") != NULL)
		fprintf(stderr, "close %p: %d %s\n", (void *)c, err,
		    iris__netconn_error(c));
}

static const struct iris_netconn_cbs cbs = { s_open, s_data, s_close };

/* A listener on 127.0.0.1, port 0; accepted sockets become servers. */
struct lsn {
	int			 fd;
	struct event		*ev;
	struct iris_tls_ctx	*tls;
	struct side		 srv;
	uint16_t		 port;
};

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	int s;

	(void)what;
	if ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	if (l->srv.c != NULL) {
		iris__netconn_free(l->srv.c);
		memset(&l->srv, 0, sizeof(l->srv));
	}
	ck_assert_int_eq(iris__netconn_new(&l->srv.c, base, s, l->tls, &cbs,
	    &l->srv), IRIS_OK);
}

static void
listen_on(struct lsn *l, struct iris_tls_ctx *tls)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(l, 0, sizeof(*l));
	l->tls = tls;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l->fd, 0);
	ck_assert_int_eq(bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l->fd, 16), 0);
	ck_assert_int_eq(getsockname(l->fd, (struct sockaddr *)&sin, &len), 0);
	l->port = ntohs(sin.sin_port);
	l->ev = event_new(base, l->fd, EV_READ | EV_PERSIST, on_accept, l);
	event_add(l->ev, NULL);
}

static void
unlisten(struct lsn *l)
{
	iris__netconn_free(l->srv.c);
	event_free(l->ev);
	close(l->fd);
}

static void
connect_to(struct side *cl, const struct lsn *l, struct iris_tls_ctx *tls,
    const char *host)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(l->port);
	ck_assert_int_eq(iris__netconn_connect(&cl->c, base,
	    (struct sockaddr *)&sin, sizeof(sin), tls, host, &cbs, cl),
	    IRIS_OK);
}

static int
both_open(void *arg)
{
	struct side **s = arg;

	return (s[0]->open && s[1]->open) || s[0]->closed || s[1]->closed;
}

static int
closed(void *arg)
{
	return ((struct side *)arg)->closed;
}

static struct iris_tls_ctx *
server_ctx(void)
{
	struct iris_tls_ctx *ctx;
	char err[256];

	ck_assert_msg(iris__tls_server_new(&ctx, dir, NULL, NULL, NULL, err,
	    sizeof(err)) == IRIS_OK, "server ctx: %s", err);
	return ctx;
}

static struct iris_tls_ctx *
pinned_client(const uint8_t *pin)
{
	struct iris_tls_ctx *ctx;
	char err[256];

	ck_assert_int_eq(iris__tls_client_new(&ctx, pin, NULL, NULL, err,
	    sizeof(err)), IRIS_OK);
	return ctx;
}

static void
setup(void)
{
	signal(SIGPIPE, SIG_DFL);	/* a SIGPIPE would kill the test */
	base = event_base_new();
	dir = make_tempdir("net");
}

static void
teardown(void)
{
	event_base_free(base);
	rm_rf(dir);
	free(dir);
}

START_TEST(test_net_identity_made_once)
{
	struct iris_tls_ctx *a, *b;
	char path[600];
	struct stat sb;

	a = server_ctx();
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/tickets.key", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	b = server_ctx();	/* a restart: the same identity */
	ck_assert_mem_eq(a->fp, b->fp, IRIS_FP_LEN);
	iris__tls_ctx_free(a);
	iris__tls_ctx_free(b);
	/* A key file others can read is refused. */
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	ck_assert_int_eq(chmod(path, 0644), 0);
	{
		char err[256];

		ck_assert_int_eq(iris__tls_server_new(&a, dir, NULL, NULL,
		    NULL, err, sizeof(err)), IRIS_EDENIED);
		ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	}
}
END_TEST

START_TEST(test_net_pinned_transfer_and_binding)
{
	struct iris_tls_ctx *sctx = server_ctx(), *cctx = pinned_client(
	    sctx->fp);
	struct side cl = { 0 }, *both[2];
	struct lsn l;
	unsigned char *data;
	size_t n = 3u << 20, i;

	listen_on(&l, sctx);
	connect_to(&cl, &l, cctx, NULL);
	both[0] = &cl;
	both[1] = &l.srv;
	ck_assert(run_until(base, both_open, both, 10000));
	ck_assert(cl.open && l.srv.open);
	ck_assert_str_eq(iris__netconn_alpn(cl.c), IRIS_ALPN);
	ck_assert_str_eq(iris__netconn_alpn(l.srv.c), IRIS_ALPN);
	/* Both ends agree on the exporter value, and it is not zero. */
	ck_assert_mem_eq(iris__netconn_binding(cl.c),
	    iris__netconn_binding(l.srv.c), IRIS_BINDING_LEN);
	{
		static const uint8_t zero[IRIS_BINDING_LEN];

		ck_assert(memcmp(iris__netconn_binding(cl.c), zero,
		    IRIS_BINDING_LEN) != 0);
	}
	/* 3 MiB there and back through the echoing server. */
	data = malloc(n);
	cl.buf = malloc(n);
	cl.cap = n;
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 13));
	l.srv.echo = 1;
	iris__netconn_set_outcap(l.srv.c, n);
	iris__netconn_set_outcap(cl.c, n);
	ck_assert_int_eq(iris__netconn_write(cl.c, data, n), IRIS_OK);
	ck_assert_int_eq(iris__netconn_write(cl.c, "x", 1), IRIS_ELIMIT);
	cl.want = n;
	ck_assert(run_until(base, got_all, &cl, 20000));
	ck_assert_uint_eq(cl.got, n);
	ck_assert_mem_eq(cl.buf, data, n);
	/* A clean close reaches the other side as IRIS_OK. */
	iris__netconn_close(cl.c);
	ck_assert(run_until(base, closed, &l.srv, 5000));
	ck_assert_int_eq(l.srv.close_err, IRIS_OK);
	iris__netconn_free(cl.c);
	free(data);
	free(cl.buf);
	unlisten(&l);
	iris__tls_ctx_free(cctx);
	iris__tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_net_wrong_pin_refused)
{
	struct iris_tls_ctx *sctx = server_ctx(), *cctx;
	uint8_t pin[IRIS_FP_LEN];
	struct side cl = { 0 };
	struct lsn l;

	memcpy(pin, sctx->fp, sizeof(pin));
	pin[7] ^= 1;
	cctx = pinned_client(pin);
	listen_on(&l, sctx);
	connect_to(&cl, &l, cctx, NULL);
	ck_assert(run_until(base, closed, &cl, 10000));
	ck_assert(!cl.open);
	ck_assert_int_eq(cl.close_err, IRIS_ETLS);
	ck_assert(!l.srv.open);
	iris__netconn_free(cl.c);
	unlisten(&l);
	iris__tls_ctx_free(cctx);
	iris__tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_net_ca_mode_checks_the_name)
{
	struct iris_tls_ctx *sctx = server_ctx(), *cctx;
	struct side cl = { 0 }, *both[2];
	char ca[600], err[256];
	struct lsn l;

	snprintf(ca, sizeof(ca), "%s/tls.crt", dir);
	ck_assert_int_eq(iris__tls_client_new(&cctx, NULL, ca, NULL, err,
	    sizeof(err)), IRIS_OK);
	listen_on(&l, sctx);
	connect_to(&cl, &l, cctx, "irisd");	/* the certificate's CN */
	both[0] = &cl;
	both[1] = &l.srv;
	ck_assert(run_until(base, both_open, both, 10000));
	ck_assert(cl.open);
	iris__netconn_free(cl.c);
	memset(&cl, 0, sizeof(cl));
	connect_to(&cl, &l, cctx, "somebody-else");
	ck_assert(run_until(base, closed, &cl, 10000));
	ck_assert(!cl.open);
	iris__netconn_free(cl.c);
	unlisten(&l);
	iris__tls_ctx_free(cctx);
	iris__tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_net_ticket_resumes_after_restart)
{
	struct iris_tls_ctx *sctx = server_ctx(), *cctx = pinned_client(
	    sctx->fp);
	struct side cl = { 0 }, *both[2];
	uint8_t sess[4096], bind1[IRIS_BINDING_LEN];
	size_t slen;
	struct lsn l;
	unsigned sends, blocked;
	int round;

	listen_on(&l, sctx);
	connect_to(&cl, &l, cctx, NULL);
	both[0] = &cl;
	both[1] = &l.srv;
	ck_assert(run_until(base, both_open, both, 10000));
	ck_assert(!iris__netconn_resumed(l.srv.c));
	ck_assert(!iris__netconn_resumed(cl.c));
	/* Each flight in one send: the server's two, the client's two. */
	iris__netconn_sends(l.srv.c, &sends, &blocked);
	ck_assert_uint_eq(sends, 2);
	iris__netconn_sends(cl.c, &sends, &blocked);
	ck_assert_uint_eq(sends, 2);
	memcpy(bind1, iris__netconn_binding(cl.c), sizeof(bind1));
	ck_assert_int_eq(iris__netconn_session_save(cl.c, sess, sizeof(sess),
	    &slen), IRIS_OK);
	iris__netconn_free(cl.c);

	/* Same server, then a new server context from the same directory. */
	for (round = 0; round < 2; round++) {
		if (round == 1) {
			unlisten(&l);
			iris__tls_ctx_free(sctx);
			sctx = server_ctx();
			listen_on(&l, sctx);
		}
		memset(&cl, 0, sizeof(cl));
		connect_to(&cl, &l, cctx, NULL);
		ck_assert_int_eq(iris__netconn_session_offer(cl.c, sess, slen),
		    IRIS_OK);
		ck_assert(run_until(base, both_open, both, 10000));
		ck_assert(cl.open && l.srv.open);
		ck_assert_msg(iris__netconn_resumed(l.srv.c),
		    "round %d: no resumption", round);
		ck_assert_msg(iris__netconn_resumed(cl.c),
		    "round %d: the client did not see it resume", round);
		/* ServerHello to Finished, with the new ticket: one send. */
		iris__netconn_sends(l.srv.c, &sends, &blocked);
		ck_assert_uint_eq(sends, 1);
		iris__netconn_sends(cl.c, &sends, &blocked);
		ck_assert_uint_eq(sends, 2);
		/* A resumed session has its own binding. */
		ck_assert_mem_eq(iris__netconn_binding(cl.c),
		    iris__netconn_binding(l.srv.c), IRIS_BINDING_LEN);
		ck_assert(memcmp(iris__netconn_binding(cl.c), bind1,
		    IRIS_BINDING_LEN) != 0);
		iris__netconn_free(cl.c);
	}
	unlisten(&l);
	iris__tls_ctx_free(cctx);
	iris__tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_net_peer_gone_mid_write)
{
	struct iris_tls_ctx *sctx = server_ctx(), *cctx = pinned_client(
	    sctx->fp);
	struct side cl = { 0 }, *both[2];
	unsigned char *big;
	struct lsn l;
	size_t n = 8u << 20;

	listen_on(&l, sctx);
	connect_to(&cl, &l, cctx, NULL);
	both[0] = &cl;
	both[1] = &l.srv;
	ck_assert(run_until(base, both_open, both, 10000));
	big = calloc(1, n);
	iris__netconn_set_outcap(l.srv.c, n);
	ck_assert_int_eq(iris__netconn_write(l.srv.c, big, n), IRIS_OK);
	/* Let some of it go, then the client vanishes without a word. */
	run_until(base, closed, &l.srv, 50);
	iris__netconn_free(cl.c);
	ck_assert(run_until(base, closed, &l.srv, 10000));
	ck_assert_int_ne(l.srv.close_err, IRIS_OK);
	free(big);
	unlisten(&l);
	iris__tls_ctx_free(cctx);
	iris__tls_ctx_free(sctx);
}
END_TEST

struct child {
	pid_t	 pid;
	int	 status;
	int	 done;
};

static int
child_done(void *arg)
{
	struct child *ch = arg;

	if (!ch->done && waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid)
		ch->done = 1;
	return ch->done;
}

/* Runs openssl s_client against l with extra arguments; returns output. */
static char *
s_client(const struct lsn *l, const char *const *extra, int *status)
{
	static char out[65536];
	char port[32], outpath[600];
	const char *argv[32];
	struct child ch = { 0, 0, 0 };
	FILE *f;
	size_t n = 0;
	int i = 0, fd;

	snprintf(port, sizeof(port), "127.0.0.1:%u", l->port);
	snprintf(outpath, sizeof(outpath), "%s/s_client.out", dir);
	argv[i++] = "openssl";
	argv[i++] = "s_client";
	argv[i++] = "-connect";
	argv[i++] = port;
	while (*extra != NULL)
		argv[i++] = *extra++;
	argv[i] = NULL;
	if ((ch.pid = fork()) == 0) {
		fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		execvp("openssl", (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_gt(ch.pid, 0);
	ck_assert(run_until(base, child_done, &ch, 20000));
	*status = WIFEXITED(ch.status) ? WEXITSTATUS(ch.status) : -1;
	f = fopen(outpath, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	return out;
}

START_TEST(test_net_openssl_s_client)
{
	static const char *const good[] = { "-alpn", "iris/1", "-tls1_2",
	    NULL };
	static const char *const cbc[] = { "-alpn", "iris/1", "-tls1_2",
	    "-cipher", "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA",
	    NULL };
	static const char *const old[] = { "-alpn", "iris/1", "-tls1_1",
	    "-cipher", "DEFAULT:@SECLEVEL=0", NULL };
	struct iris_tls_ctx *sctx = server_ctx();
	struct lsn l;
	char *out;
	int st;

	listen_on(&l, sctx);
	out = s_client(&l, good, &st);
	ck_assert_msg(strstr(out, "ALPN protocol: iris/1") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Protocol  : TLSv1.2") != NULL ||
	    strstr(out, "TLSv1.2") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "-GCM-") != NULL ||
	    strstr(out, "CHACHA20") != NULL, "%s", out);
	/* CBC suites and TLS 1.1 end in an alert: no session. */
	out = s_client(&l, cbc, &st);
	ck_assert_msg(strstr(out, "alert") != NULL ||
	    strstr(out, "Cipher is (NONE)") != NULL, "%s", out);
	ck_assert_ptr_null(strstr(out, "ALPN protocol: iris/1"));
	out = s_client(&l, old, &st);
	ck_assert_msg(strstr(out, "alert") != NULL ||
	    strstr(out, "Cipher is (NONE)") != NULL, "%s", out);
	ck_assert_ptr_null(strstr(out, "ALPN protocol: iris/1"));
	unlisten(&l);
	iris__tls_ctx_free(sctx);
}
END_TEST

Suite *
suite_net(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_net_identity_made_once);
	tcase_add_test(tc, test_net_pinned_transfer_and_binding);
	tcase_add_test(tc, test_net_wrong_pin_refused);
	tcase_add_test(tc, test_net_ca_mode_checks_the_name);
	tcase_add_test(tc, test_net_ticket_resumes_after_restart);
	tcase_add_test(tc, test_net_peer_gone_mid_write);
	tcase_add_test(tc, test_net_openssl_s_client);
	suite_add_tcase(s, tc);
	return s;
}

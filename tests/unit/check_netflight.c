/* SPDX-License-Identifier: ISC */
/*
 * The TLS layer's write queue and lazy channel binding (lib/net/tls.c):
 * records handed over while a handshake step runs go out in one send, in
 * order, even when the socket is full when they are flushed; nothing sent
 * later overtakes them; and the login channel binding is made from the
 * captured exporter inputs only when asked for, which then are wiped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iris.h"
#include "net/conn.h"
#include "net/tls.h"
#include "loop.h"
#include "suites.h"

static char *dir;

static void
setup(void)
{
	dir = make_tempdir("netflight");
}

static void
teardown(void)
{
	rm_rf(dir);
	free(dir);
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

/* Reads everything the socket holds now. */
static size_t
drain(int fd, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = recv(fd, buf + got, cap - got,
	    MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	return got;
}

/* The bio mbedTLS writes records through. */
static int
bio_send(struct iris_tls *t, const unsigned char *p, size_t n)
{
	return t->ssl.f_send(t->ssl.p_bio, p, n);
}

START_TEST(test_netflight_queue_waits_for_a_full_socket)
{
	struct iris_tls_ctx *ctx = server_ctx();
	struct iris_tls t;
	unsigned char fill[4096], rec[3][300], *got;
	size_t cap = 1u << 20, n, filled = 0, i;
	int sp[2], small = 4096;
	ssize_t w;

	got = malloc(cap);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sp), 0);
	ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	ck_assert_int_eq(iris__tls_init(&t, ctx, sp[0], NULL), IRIS_OK);
	memset(fill, 'F', sizeof(fill));
	for (i = 0; i < 3; i++)
		memset(rec[i], 'a' + (int)i, sizeof(rec[i]));

	/* The socket takes no more. */
	while ((w = send(sp[0], fill, sizeof(fill), MSG_DONTWAIT)) > 0)
		filled += (size_t)w;
	ck_assert(w < 0 && errno == EAGAIN);
	ck_assert_uint_gt(filled, 0);

	/* In a handshake step, records are taken into the queue. */
	t.cork = 1;
	ck_assert_int_eq(bio_send(&t, rec[0], sizeof(rec[0])), sizeof(rec[0]));
	ck_assert_int_eq(bio_send(&t, rec[1], sizeof(rec[1])), sizeof(rec[1]));
	t.cork = 0;
	ck_assert_uint_eq(t.wlen, 2 * sizeof(rec[0]));
	ck_assert_uint_eq(t.sends, 0);

	/* Flushing meets the full socket: it says to wait, and keeps all. */
	ck_assert_int_eq(iris__tls_flush(&t), IRIS_EAGAIN);
	ck_assert_uint_eq(t.blocked, 1);
	ck_assert_ptr_nonnull(t.wbuf);
	/* A later record does not overtake the queued ones. */
	ck_assert_int_eq(bio_send(&t, rec[2], sizeof(rec[2])),
	    MBEDTLS_ERR_SSL_WANT_WRITE);

	/* The peer reads: the queue goes in one send, then the record. */
	n = drain(sp[1], got, cap);
	ck_assert_uint_eq(n, filled);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(got[i], 'F');
	w = t.sends;
	ck_assert_int_eq(iris__tls_flush(&t), IRIS_OK);
	ck_assert_int_eq((int)(t.sends - w), 1);
	ck_assert_ptr_null(t.wbuf);		/* none held once sent */
	ck_assert_uint_eq(t.wlen, 0);
	ck_assert_int_eq(bio_send(&t, rec[2], sizeof(rec[2])), sizeof(rec[2]));
	n = drain(sp[1], got, cap);
	ck_assert_uint_eq(n, 3 * sizeof(rec[0]));
	ck_assert_mem_eq(got, rec[0], sizeof(rec[0]));
	ck_assert_mem_eq(got + 300, rec[1], sizeof(rec[1]));
	ck_assert_mem_eq(got + 600, rec[2], sizeof(rec[2]));

	/* A record bigger than the queue goes straight to the socket. */
	t.cork = 1;
	ck_assert_int_eq(bio_send(&t, rec[0], 10), 10);
	ck_assert_int_gt(bio_send(&t, fill, sizeof(fill)), 0);
	t.cork = 0;
	ck_assert_uint_eq(t.wlen, 0);		/* the 10 went first */
	n = drain(sp[1], got, cap);
	ck_assert_uint_gt(n, 10);
	ck_assert_mem_eq(got, rec[0], 10);
	ck_assert_int_eq(got[10], 'F');

	/* A flush to a peer that went away is an error, not a wait. */
	t.cork = 1;
	ck_assert_int_eq(bio_send(&t, rec[1], 5), 5);
	t.cork = 0;
	close(sp[1]);
	ck_assert_int_ne(iris__tls_flush(&t), IRIS_OK);
	ck_assert_int_ne(iris__tls_flush(&t), IRIS_EAGAIN);

	iris__tls_clear(&t);
	ck_assert_ptr_null(t.wbuf);
	close(sp[0]);
	free(got);
	iris__tls_ctx_free(ctx);
}
END_TEST

START_TEST(test_netflight_no_binding_before_the_handshake)
{
	struct iris_tls_ctx *ctx = server_ctx();
	static const uint8_t zero[IRIS_BINDING_LEN];
	const uint8_t *b;
	struct iris_tls t;
	int sp[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sp), 0);
	ck_assert_int_eq(iris__tls_init(&t, ctx, sp[0], NULL), IRIS_OK);
	/* No key material: refused, and what stands in is not zeros. */
	ck_assert_int_eq(iris__tls_binding(&t, &b), IRIS_ETLS);
	ck_assert(memcmp(b, zero, sizeof(zero)) != 0);
	iris__tls_clear(&t);
	close(sp[0]);
	close(sp[1]);
	iris__tls_ctx_free(ctx);
}
END_TEST

Suite *
suite_netflight(void)
{
	Suite *s = suite_create("netflight");
	TCase *tc = tcase_create("queue");

	tcase_set_timeout(tc, IRIS_TEST_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_netflight_queue_waits_for_a_full_socket);
	tcase_add_test(tc, test_netflight_no_binding_before_the_handshake);
	suite_add_tcase(s, tc);
	return s;
}

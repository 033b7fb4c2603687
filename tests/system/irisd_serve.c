/* SPDX-License-Identifier: ISC */
/*
 * irisd serving for real: started in a temp dir, it negotiates over TLS,
 * answers pipelined requests with their ids, refuses bad input with the
 * right error frame while a good client stays unharmed, enforces the
 * pre-login frame cap and the frame deadline, reloads on SIGHUP, drains
 * and exits 0 on SIGTERM, and after a restart keeps its identity and
 * resumes a session ticket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iris.h"
#include "daemon.h"
#include "wire/frame.h"
#include "wireclient.h"

#define T	5000	/* ms: generous deadlines for a loaded machine */

static int failures;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "irisd_serve: %s:%d: ", __FILE__,	\
		    __LINE__);						\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

/* Sends m and expects an error frame with code and request id back. */
static void
expect_error(struct wc *w, struct iris_wire_msg *m, int code, uint64_t rid,
    const char *what)
{
	struct iris_wire_msg *r;

	EXPECT(wc_send(w, m) == IRIS_OK, "%s: send", what);
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_error_tag,
	    "%s: no error frame", what);
	if (r != NULL && r->f.which_body == iris_v1_Frame_error_tag) {
		EXPECT((int)r->f.body.error.code == code, "%s: got %s, want %s",
		    what, iris__wire_errname(r->f.body.error.code),
		    iris__wire_errname(code));
		EXPECT(r->f.request_id == rid, "%s: request id %llu", what,
		    (unsigned long long)r->f.request_id);
	}
}

static void
expect_pong(struct wc *w, uint64_t rid)
{
	struct iris_wire_msg m, *r;

	wc_ping(&m, rid, "still here");
	EXPECT(wc_send(w, &m) == IRIS_OK, "ping send");
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_pong_tag &&
	    r->f.request_id == rid && r->f.body.pong.data.size == 10 &&
	    memcmp(r->f.body.pong.data.bytes, "still here", 10) == 0,
	    "ping %llu: no matching pong", (unsigned long long)rid);
}

/* GET path from 127.0.0.1:port; returns the status, body in out. */
static int
http_get(int port, const char *path, char *out, size_t len)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	char req[256];
	size_t n = 0;
	ssize_t r;
	int fd, status = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n",
	    path);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (n + 1 < len && (r = read(fd, out + n, len - 1 - n)) > 0)
			n += (size_t)r;
		out[n] = '\0';
		sscanf(out, "HTTP/1.%*d %d", &status);
	}
	close(fd);
	return status;
}

/* The value of metric name, or -1; every line must be well formed. */
static long long
metric(const char *page, const char *name)
{
	const char *body = strstr(page, "\r\n\r\n"), *p, *eol;
	char line[512], mname[256];
	long long v, found = -1;
	double d;

	for (p = body != NULL ? body + 4 : page; *p != '\0'; p = eol + 1) {
		if ((eol = strchr(p, '\n')) == NULL)
			break;
		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		if (line[0] == '#') {
			EXPECT(strncmp(line, "# HELP ", 7) == 0 ||
			    strncmp(line, "# TYPE ", 7) == 0, "bad: %s", line);
			continue;
		}
		EXPECT(sscanf(line, "%255[a-zA-Z_{}=\".+0-9e-] %lf", mname, &d)
		    == 2, "not Prometheus text: %s", line);
		if (sscanf(line, "%255s %lld", mname, &v) == 2 &&
		    strcmp(mname, name) == 0)
			found = v;
	}
	return found;
}

static void
check_metrics(const struct daemon *d, struct wc *good)
{
	static char page[65536];
	const char *at = strstr(d->log, "metrics on http://127.0.0.1:");
	long long before, after;
	int port = 0;

	EXPECT(at != NULL && sscanf(at + 28, "%d", &port) == 1 && port > 0,
	    "no metrics port in the log");
	EXPECT(http_get(port, "/metrics", page, sizeof(page)) == 200,
	    "/metrics status");
	before = metric(page, "iris_frames_in_total");
	EXPECT(before > 0, "frames_in before: %lld", before);
	EXPECT(metric(page, "iris_store_commit_seconds_count") >= 0,
	    "no commit latency histogram");
	expect_pong(good, 30);
	expect_pong(good, 31);
	EXPECT(http_get(port, "/metrics", page, sizeof(page)) == 200,
	    "/metrics status");
	after = metric(page, "iris_frames_in_total");
	EXPECT(after >= before + 2, "frames_in did not move: %lld -> %lld",
	    before, after);
	EXPECT(http_get(port, "/healthz", page, sizeof(page)) == 200 &&
	    strstr(page, "ok") != NULL, "/healthz");
	EXPECT(http_get(port, "/readyz", page, sizeof(page)) == 200,
	    "/readyz");
	EXPECT(http_get(port, "/nothing", page, sizeof(page)) == 404,
	    "unknown path");
}

static int
hello(struct wc *w, struct event_base *base, const struct daemon *d,
    const uint8_t *sess, size_t slen)
{
	struct iris_wire_msg m, *r;

	if (wc_connect(w, base, d->port, d->fp, sess, slen, T) != 0)
		return -1;
	wc_hello(&m, 1, IRIS_PROTOCOL_VERSION);
	wc_send(w, &m);
	r = wc_next(w, T);
	if (r == NULL || r->f.which_body != iris_v1_Frame_server_hello_tag)
		return -1;
	EXPECT(r->f.request_id == 1, "hello: request id");
	EXPECT(r->f.body.server_hello.version == 1, "hello: version");
	EXPECT(r->f.body.server_hello.limits.max_frame_before_login == 4096,
	    "hello: pre-login limit %u",
	    r->f.body.server_hello.limits.max_frame_before_login);
	EXPECT(r->f.body.server_hello.limits.max_frame == 2u << 20,
	    "hello: frame limit");
	return 0;
}

/* Bad input on fresh connections; each gets its error and is closed. */
static void
bad_inputs(struct event_base *base, const struct daemon *d, struct wc *good)
{
	static const uint8_t garbage[] = { 0, 0, 0, 4, 0xff, 0xff, 0xff,
	    0xff };
	struct iris_wire_msg m, *r;
	uint8_t hdr[IRIS_FRAME_HEADER];
	struct wc w;

	/* Garbage after hello: ERR_MALFORMED, then closed. */
	EXPECT(hello(&w, base, d, NULL, 0) == 0, "hello");
	wc_send_raw(&w, garbage, sizeof(garbage));
	r = wc_next(&w, T);
	EXPECT(r != NULL && r->f.which_body == iris_v1_Frame_error_tag &&
	    r->f.body.error.code == iris_v1_ErrorCode_ERR_MALFORMED,
	    "garbage: no ERR_MALFORMED");
	EXPECT(wc_wait_closed(&w, T), "garbage: not closed");
	wc_close(&w);

	/* A frame over the pre-login cap: refused before it is sent. */
	EXPECT(wc_connect(&w, base, d->port, d->fp, NULL, 0, T) == 0, "conn");
	iris__frame_put_header(hdr, 4097);
	wc_send_raw(&w, hdr, sizeof(hdr));
	r = wc_next(&w, T);
	EXPECT(r != NULL && r->f.body.error.code ==
	    iris_v1_ErrorCode_ERR_FRAME_TOO_LARGE, "oversize: wrong answer");
	EXPECT(wc_wait_closed(&w, T), "oversize: not closed");
	wc_close(&w);

	/* Slowloris: half a frame, then nothing: the frame deadline. */
	EXPECT(wc_connect(&w, base, d->port, d->fp, NULL, 0, T) == 0, "conn");
	iris__frame_put_header(hdr, 100);
	wc_send_raw(&w, hdr, sizeof(hdr));
	wc_send_raw(&w, "abc", 3);
	r = wc_next(&w, 3 * T);
	EXPECT(r != NULL && r->f.body.error.code ==
	    iris_v1_ErrorCode_ERR_TIMEOUT, "slowloris: no ERR_TIMEOUT");
	EXPECT(wc_wait_closed(&w, T), "slowloris: not closed");
	wc_close(&w);

	/* An unknown version, and a first frame that is not a hello. */
	EXPECT(wc_connect(&w, base, d->port, d->fp, NULL, 0, T) == 0, "conn");
	wc_hello(&m, 3, 99);
	expect_error(&w, &m, iris_v1_ErrorCode_ERR_UNSUPPORTED_VERSION, 0,
	    "version 99");
	EXPECT(wc_wait_closed(&w, T), "version 99: not closed");
	wc_close(&w);
	EXPECT(wc_connect(&w, base, d->port, d->fp, NULL, 0, T) == 0, "conn");
	wc_ping(&m, 4, "x");
	expect_error(&w, &m, iris_v1_ErrorCode_ERR_BAD_REQUEST, 0,
	    "ping before hello");
	EXPECT(wc_wait_closed(&w, T), "ping before hello: not closed");
	wc_close(&w);

	/* A plaintext client on the TLS port gets nothing readable. */
	{
		struct iris_wire_msg hm;
		struct sockaddr_in sin;
		struct timeval tv = { 5, 0 };
		uint8_t buf[4096], reply[256];
		size_t len = 0;
		ssize_t got;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)d->port);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		wc_hello(&hm, 1, 1);
		EXPECT(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    iris__wire_encode(&hm, buf, sizeof(buf), &len) == IRIS_OK &&
		    write(fd, buf, len) == (ssize_t)len, "plaintext send");
		got = read(fd, reply, sizeof(reply));
		/* Nothing, or a TLS alert record (type 21): never a frame. */
		EXPECT(got <= 0 || reply[0] == 21, "plaintext got %zd bytes "
		    "starting 0x%02x", got, got > 0 ? reply[0] : 0);
		close(fd);
	}

	/* Through all of it the good client was unaffected. */
	expect_pong(good, 77);
}

static void
session_rules(struct wc *w)
{
	static const uint8_t groups[] = { 0x08, 0x09, 0xb2, 0x04, 0x01, 'g' };
	uint8_t frame[IRIS_FRAME_HEADER + sizeof(groups)];
	struct iris_wire_msg m, *r;

	/* Pipelined: three pings in one write, answered in order. */
	wc_ping(&m, 10, "still here");
	wc_send(w, &m);
	wc_ping(&m, 11, "still here");
	wc_send(w, &m);
	wc_ping(&m, 12, "still here");
	wc_send(w, &m);
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.request_id == 10, "pipelined 10");
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.request_id == 11, "pipelined 11");
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.request_id == 12, "pipelined 12");

	/* Before login: acks are refused, the connection stays. */
	iris__wire_msg_init(&m);
	m.f.request_id = 20;
	m.f.which_body = iris_v1_Frame_ack_tag;
	m.f.body.ack.seq = 5;
	expect_error(w, &m, iris_v1_ErrorCode_ERR_NOT_AUTHENTICATED, 20,
	    "ack before login");
	/* A bad field: refused with BAD_REQUEST, the connection stays. */
	m.f.request_id = 21;
	m.f.body.ack.seq = 0;
	expect_error(w, &m, iris_v1_ErrorCode_ERR_BAD_REQUEST, 21, "ack 0");
	/* A reserved body (groups): UNIMPLEMENTED, the connection stays. */
	iris__frame_put_header(frame, sizeof(groups));
	memcpy(frame + IRIS_FRAME_HEADER, groups, sizeof(groups));
	wc_send_raw(w, frame, sizeof(frame));
	r = wc_next(w, T);
	EXPECT(r != NULL && r->f.body.error.code ==
	    iris_v1_ErrorCode_ERR_UNIMPLEMENTED && r->f.request_id == 9,
	    "groups body: want ERR_UNIMPLEMENTED");
	expect_pong(w, 22);
}

/* An operator's new certificate, taken on SIGHUP for new connections. */
static void
reload_certificate(struct event_base *base, struct daemon *d)
{
	char newfp[80] = "";
	struct wc w;
	FILE *f;

	if (system("openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout op.key -out op.crt "
	    "-subj /CN=irisd -days 2 2>/dev/null && chmod 600 op.key") != 0 ||
	    (f = popen("openssl x509 -pubkey -noout -in op.crt | openssl pkey "
	    "-pubin -outform DER | sha256sum", "r")) == NULL) {
		EXPECT(0, "openssl could not make a certificate");
		return;
	}
	EXPECT(fscanf(f, "%64s", newfp) == 1, "no new fingerprint");
	pclose(f);
	f = fopen("iris.conf", "a");
	fprintf(f, "tls_cert op.crt\ntls_key op.key\n");
	fclose(f);
	kill(d->pid, SIGHUP);
	EXPECT(daemon_wait_line(d, "configuration reloaded", T) != NULL,
	    "certificate reload not done");
	EXPECT(wc_connect(&w, base, d->port, newfp, NULL, 0, T) == 0,
	    "the new certificate is not served");
	wc_close(&w);
	EXPECT(wc_connect(&w, base, d->port, d->fp, NULL, 0, T) != 0,
	    "the old certificate is still served");
	wc_close(&w);
}

int
main(void)
{
	static const char *const args[] = { "-f", "iris.conf", NULL };
	struct event_base *base = event_base_new();
	uint8_t sess[4096];
	size_t slen = 0;
	struct daemon d;
	struct wc good;
	char fp[65];
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nframe_timeout 1s\n"
	    "metrics_listen 127.0.0.1:0\n");
	fclose(f);
	if (daemon_start(&d, args, 3 * T) != 0) {
		fprintf(stderr, "irisd_serve: irisd did not start:\n%s\n",
		    d.log);
		return 1;
	}
	EXPECT(hello(&good, base, &d, NULL, 0) == 0, "good client: hello");
	session_rules(&good);
	bad_inputs(base, &d, &good);
	check_metrics(&d, &good);
	EXPECT(iris__netconn_session_save(good.c, sess, sizeof(sess),
	    &slen) == IRIS_OK, "session save");

	/* SIGHUP reloads; the good client keeps working. */
	kill(d.pid, SIGHUP);
	EXPECT(daemon_wait_line(&d, "configuration reloaded", T) != NULL,
	    "no reload");
	expect_pong(&good, 90);

	/* SIGTERM: the client hears why, irisd drains and exits 0. */
	{
		struct iris_wire_msg *r;

		kill(d.pid, SIGTERM);
		r = wc_next(&good, T);
		EXPECT(r != NULL && r->f.body.error.code ==
		    iris_v1_ErrorCode_ERR_SHUTTING_DOWN, "no shutdown notice");
		EXPECT(wc_wait_closed(&good, T), "not closed at shutdown");
	}
	/* Already signalled: just wait for the exit (signal 0). */
	EXPECT(daemon_stop(&d, 0, 3 * T) == 0, "exit status %d",
	    WEXITSTATUS(d.status));
	wc_close(&good);

	/* Restart: same identity, and the ticket resumes. */
	memcpy(fp, d.fp, sizeof(fp));
	if (daemon_start(&d, args, 3 * T) != 0) {
		fprintf(stderr, "irisd_serve: no restart:\n%s\n", d.log);
		return 1;
	}
	EXPECT(strcmp(fp, d.fp) == 0, "fingerprint changed on restart");
	EXPECT(hello(&good, base, &d, sess, slen) == 0, "resumed hello");
	EXPECT(iris__netconn_resumed(good.c), "ticket did not resume");
	expect_pong(&good, 5);
	wc_close(&good);
	reload_certificate(base, &d);
	EXPECT(daemon_stop(&d, SIGTERM, 3 * T) == 0, "second exit");
	event_base_free(base);
	if (failures > 0) {
		fprintf(stderr, "irisd_serve: %d failures; irisd said:\n%s\n",
		    failures, d.log);
		return 1;
	}
	printf("irisd_serve: negotiation, pipelining, 5 kinds of bad input, "
	    "reload, drain, restart with ticket: ok\n");
	return 0;
}

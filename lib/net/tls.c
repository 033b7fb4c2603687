/* SPDX-License-Identifier: ISC */
/*
 * TLS contexts and handshakes with mbedTLS 2.28: the versions and suites we
 * allow, ALPN, our socket callbacks (MSG_NOSIGNAL, never SIGPIPE), ticket
 * callbacks, and the capture of the key exporter's inputs for the login
 * channel binding.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform_util.h>

#include "iris.h"
#include "net/tls.h"
#include "util/alloc.h"

#define READAHEAD	16384	/* bytes per recv */
#define WQUEUE		4096	/* bytes of a handshake flight queued */

/* ECDHE with AEAD only (Debian's build also enables CBC and TLS 1.0/1.1). */
static const int suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	0
};

static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE
};

static const char *alpn[] = { IRIS_ALPN, NULL };

void
iris__tls_strerror(int rc, char *buf, size_t len)
{
	char tmp[128];

	mbedtls_strerror(rc, tmp, sizeof(tmp));
	snprintf(buf, len, "%s (-0x%04x)", tmp, (unsigned)-rc);
}

static int
send_errno(void)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == EPIPE || errno == ECONNRESET ?
	    MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* Sends what a handshake flight left queued: 0 when all went, else
 * MBEDTLS_ERR_SSL_WANT_WRITE (the rest stays) or an error. */
static int
send_queued(struct iris_tls *t)
{
	ssize_t n;

	while (t->woff < t->wlen) {
		do
			n = send(t->fd, t->wbuf + t->woff, t->wlen - t->woff,
			    MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		t->sends++;
		if (n < 0) {
			if (send_errno() == MBEDTLS_ERR_SSL_WANT_WRITE)
				t->blocked++;
			return send_errno();
		}
		t->woff += (size_t)n;
	}
	/* Sent: an open connection holds no write buffer. */
	iris__free(t->wbuf);
	t->wbuf = NULL;
	t->woff = t->wlen = 0;
	return 0;
}

/*
 * mbedTLS hands over each record of a handshake flight on its own; while
 * a handshake step runs (t->cork) they are queued and go in one send when
 * it returns, instead of a send, a TCP segment and a wakeup of the peer
 * each. Anything queued goes before anything sent after it.
 */
static int
net_send(void *arg, const unsigned char *buf, size_t len)
{
	struct iris_tls *t = arg;
	ssize_t n;
	int rc;

	if (t->cork && len <= WQUEUE - t->wlen) {
		if (t->wbuf == NULL && (t->wbuf = iris__malloc(WQUEUE)) ==
		    NULL)
			goto direct;	/* no memory: straight to the socket */
		memcpy(t->wbuf + t->wlen, buf, len);
		t->wlen += len;
		return (int)len;
	}
direct:
	if (t->wlen > 0 && (rc = send_queued(t)) != 0)
		return rc;
	do
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	t->sends++;
	return n >= 0 ? (int)n : send_errno();
}

int
iris__tls_flush(struct iris_tls *t)
{
	int rc;

	if (t->wlen == 0)
		return IRIS_OK;
	if ((rc = send_queued(t)) == 0)
		return IRIS_OK;
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return IRIS_EAGAIN;
	iris__tls_strerror(rc, t->ctx->err, sizeof(t->ctx->err));
	return rc == MBEDTLS_ERR_NET_CONN_RESET ? IRIS_ECLOSED : IRIS_ETLS;
}

/*
 * One recv per read event instead of two per record (mbedTLS asks for the
 * 5-byte header, then for the body): the socket is read into a buffer
 * held while it has bytes, and mbedTLS is served from it.
 */
static int
net_recv(void *arg, unsigned char *buf, size_t len)
{
	struct iris_tls *t = arg;
	ssize_t n;

	if (t->roff == t->rlen) {
		/*
		 * The last recv came back short, so the socket was empty
		 * then: the read event (level-triggered) fires again when
		 * more arrives. Saves the recv that would say EAGAIN.
		 */
		if (t->drained) {
			t->drained = 0;
			return MBEDTLS_ERR_SSL_WANT_READ;
		}
		if (t->rbuf == NULL &&
		    (t->rbuf = iris__malloc(READAHEAD)) == NULL)
			goto direct;	/* no memory: straight to the socket */
		do
			n = recv(t->fd, t->rbuf, READAHEAD, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			goto error;
		t->roff = 0;
		t->rlen = (size_t)n;
		t->drained = (size_t)n < READAHEAD;
	}
	if (len > t->rlen - t->roff)
		len = t->rlen - t->roff;
	memcpy(buf, t->rbuf + t->roff, len);
	t->roff += len;
	return (int)len;
direct:
	do
		n = recv(t->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
error:
	if (n >= 0)
		return (int)n;		/* 0: the peer closed */
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
	    MBEDTLS_ERR_NET_RECV_FAILED;
}

size_t
iris__tls_readahead(struct iris_tls *t)
{
	if (t->roff == t->rlen && t->rbuf != NULL) {
		iris__free(t->rbuf);
		t->rbuf = NULL;
		t->roff = t->rlen = 0;
	}
	return t->rlen - t->roff;
}

/* Keeps what the RFC 5705 exporter needs, for the handshaking conn. */
static int
export_keys(void *arg, const unsigned char *ms, const unsigned char *kb,
    size_t maclen, size_t keylen, size_t ivlen,
    const unsigned char client_random[32],
    const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
	struct iris_tls_ctx *ctx = arg;
	struct iris_tls *t = ctx->handshaking;

	(void)kb, (void)maclen, (void)keylen, (void)ivlen;
	if (t == NULL)
		return 0;
	memcpy(t->ms, ms, sizeof(t->ms));
	memcpy(t->randoms, client_random, 32);
	memcpy(t->randoms + 32, server_random, 32);
	t->prf = prf;
	t->have_keys = 1;
	return 0;
}

static int
ctx_common(struct iris_tls_ctx *ctx, int server, const struct iris_logger *log)
{
	static const char pers[] = "libiris tls";
	int rc;

	ctx->server = server;
	if (log != NULL)
		ctx->log = *log;
	mbedtls_ssl_config_init(&ctx->conf);
	mbedtls_entropy_init(&ctx->entropy);
	mbedtls_ctr_drbg_init(&ctx->drbg);
	mbedtls_x509_crt_init(&ctx->cert);
	mbedtls_pk_init(&ctx->key);
	if ((rc = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func,
	    &ctx->entropy, (const unsigned char *)pers, sizeof(pers))) != 0 ||
	    (rc = mbedtls_ssl_config_defaults(&ctx->conf, server ?
	    MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
	    (rc = mbedtls_ssl_conf_alpn_protocols(&ctx->conf, alpn)) != 0) {
		iris__tls_strerror(rc, ctx->err, sizeof(ctx->err));
		return IRIS_ETLS;
	}
	mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);
	mbedtls_ssl_conf_min_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&ctx->conf, suites);
	mbedtls_ssl_conf_curves(&ctx->conf, curves);
	mbedtls_ssl_conf_extended_master_secret(&ctx->conf,
	    MBEDTLS_SSL_EXTENDED_MS_ENABLED);
	mbedtls_ssl_conf_renegotiation(&ctx->conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_export_keys_ext_cb(&ctx->conf, export_keys, ctx);
	return IRIS_OK;
}

int
iris__tls_server_new(struct iris_tls_ctx **ctxp, const char *dir,
    const char *cert_path, const char *key_path,
    const struct iris_logger *log, char *err, size_t errlen)
{
	struct iris_tls_ctx *ctx;
	char cpath[4096], kpath[4096], tpath[4096], hex[2 * IRIS_FP_LEN + 1];
	int rc, made = 0;

	*ctxp = NULL;
	if ((ctx = iris__calloc(1, sizeof(*ctx))) == NULL)
		return IRIS_ENOMEM;
	if ((rc = ctx_common(ctx, 1, log)) != IRIS_OK)
		goto fail;
	if (cert_path == NULL || key_path == NULL) {
		snprintf(cpath, sizeof(cpath), "%s/tls.crt", dir);
		snprintf(kpath, sizeof(kpath), "%s/tls.key", dir);
		cert_path = cpath;
		key_path = kpath;
		made = 1;	/* may make them */
	}
	if ((rc = iris__cert_load_or_make(&ctx->cert, &ctx->key, cert_path,
	    key_path, made ? &ctx->drbg : NULL, &made, ctx->err,
	    sizeof(ctx->err))) != IRIS_OK)
		goto fail;
	ctx->have_cert = 1;
	if ((rc = mbedtls_ssl_conf_own_cert(&ctx->conf, &ctx->cert,
	    &ctx->key)) != 0) {
		iris__tls_strerror(rc, ctx->err, sizeof(ctx->err));
		rc = IRIS_ETLS;
		goto fail;
	}
	iris__cert_spki_sha256(&ctx->cert, ctx->fp);
	iris__fp_hex(hex, ctx->fp);
	iris__log(&ctx->log, made ? IRIS_LOG_NOTICE : IRIS_LOG_INFO,
	    "%s certificate %s; key fingerprint (SHA-256 of SPKI) %s",
	    made ? "made a self-signed" : "using", cert_path, hex);

	snprintf(tpath, sizeof(tpath), "%s/tickets.key", dir);
	if ((rc = iris__tickets_open(&ctx->tickets, tpath, &ctx->drbg,
	    ctx->err, sizeof(ctx->err))) != IRIS_OK)
		goto fail;
	mbedtls_ssl_conf_session_tickets_cb(&ctx->conf, iris__ticket_write,
	    iris__ticket_parse, ctx);
	*ctxp = ctx;
	return IRIS_OK;
fail:
	snprintf(err, errlen, "%s", ctx->err);
	iris__tls_ctx_free(ctx);
	return rc;
}

static int
ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/* Accepts a peer whose SPKI hashes to the pin, whatever signed it. */
static int
verify_pin(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct iris_tls_ctx *ctx = arg;
	uint8_t fp[IRIS_FP_LEN];

	if (depth != 0)
		return 0;
	if (iris__cert_spki_sha256(crt, fp) == IRIS_OK &&
	    ct_equal(fp, ctx->pin, IRIS_FP_LEN)) {
		*flags = 0;
		return 0;
	}
	/* Abort the handshake now, before the server thinks it is done. */
	ctx->pin_failed = 1;
	*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
}

int
iris__tls_client_new(struct iris_tls_ctx **ctxp, const uint8_t *pin,
    const char *ca_path, const struct iris_logger *log, char *err,
    size_t errlen)
{
	struct iris_tls_ctx *ctx;
	int rc;

	*ctxp = NULL;
	if ((pin == NULL) == (ca_path == NULL))
		return IRIS_EINVAL;
	if ((ctx = iris__calloc(1, sizeof(*ctx))) == NULL)
		return IRIS_ENOMEM;
	if ((rc = ctx_common(ctx, 0, log)) != IRIS_OK)
		goto fail;
	mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_session_tickets(&ctx->conf,
	    MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	if (pin != NULL) {
		/*
		 * No CA: mbedTLS verifies with our callback deciding, and the
		 * result is checked when the handshake ends.
		 */
		memcpy(ctx->pin, pin, IRIS_FP_LEN);
		ctx->pinned = 1;
		mbedtls_ssl_conf_authmode(&ctx->conf,
		    MBEDTLS_SSL_VERIFY_OPTIONAL);
		mbedtls_ssl_conf_verify(&ctx->conf, verify_pin, ctx);
	} else {
		if ((rc = mbedtls_x509_crt_parse_file(&ctx->cert,
		    ca_path)) != 0) {
			iris__tls_strerror(rc, ctx->err, sizeof(ctx->err));
			rc = IRIS_ETLS;
			goto fail;
		}
		ctx->have_ca = 1;
		mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->cert, NULL);
	}
	*ctxp = ctx;
	return IRIS_OK;
fail:
	snprintf(err, errlen, "%s", ctx->err);
	iris__tls_ctx_free(ctx);
	return rc;
}

void
iris__tls_ctx_free(struct iris_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	iris__tickets_free(ctx->tickets);
	mbedtls_ssl_config_free(&ctx->conf);
	mbedtls_x509_crt_free(&ctx->cert);
	mbedtls_pk_free(&ctx->key);
	mbedtls_ctr_drbg_free(&ctx->drbg);
	mbedtls_entropy_free(&ctx->entropy);
	iris__free(ctx);
}

int
iris__tls_init(struct iris_tls *t, struct iris_tls_ctx *ctx, int fd,
    const char *hostname)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	t->fd = fd;
	mbedtls_ssl_init(&t->ssl);
	if ((rc = mbedtls_ssl_setup(&t->ssl, &ctx->conf)) != 0 ||
	    (!ctx->server && hostname != NULL &&
	    (rc = mbedtls_ssl_set_hostname(&t->ssl, hostname)) != 0)) {
		iris__tls_strerror(rc, ctx->err, sizeof(ctx->err));
		mbedtls_ssl_free(&t->ssl);
		return rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? IRIS_ENOMEM :
		    IRIS_ETLS;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, net_send, net_recv, NULL);
	return IRIS_OK;
}

void
iris__tls_clear(struct iris_tls *t)
{
	mbedtls_ssl_free(&t->ssl);
	if (t->rbuf != NULL)
		mbedtls_platform_zeroize(t->rbuf, t->rlen);
	iris__free(t->rbuf);
	t->rbuf = NULL;
	t->roff = t->rlen = 0;
	t->drained = 0;
	iris__free(t->wbuf);
	t->wbuf = NULL;
	t->woff = t->wlen = 0;
	mbedtls_platform_zeroize(t->ms, sizeof(t->ms));
	t->have_keys = 0;
}

int
iris__tls_handshake(struct iris_tls *t, int *want_write)
{
	int rc, frc;

	*want_write = 0;
	/* The last flight first: the peer answers nothing before it. */
	if ((frc = iris__tls_flush(t)) != IRIS_OK) {
		*want_write = frc == IRIS_EAGAIN;
		return frc == IRIS_EAGAIN ? IRIS_EAGAIN : IRIS_ETLS;
	}
	t->ctx->handshaking = t;
	t->cork = 1;
	rc = mbedtls_ssl_handshake(&t->ssl);
	t->cork = 0;
	t->ctx->handshaking = NULL;
	/* The flight (or an alert) goes now; what the socket does not take
	 * waits for it to be writable (see iris__tls_flush). */
	frc = iris__tls_flush(t);
	if (frc != IRIS_OK && frc != IRIS_EAGAIN && rc == 0)
		return IRIS_ETLS;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		if (frc != IRIS_OK && frc != IRIS_EAGAIN)
			return IRIS_ETLS;
		*want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    frc == IRIS_EAGAIN;
		return IRIS_EAGAIN;
	}
	if (rc != 0) {
		if (t->ctx->pin_failed)
			snprintf(t->ctx->err, sizeof(t->ctx->err), "the "
			    "server's key does not match the pinned "
			    "fingerprint");
		else
			iris__tls_strerror(rc, t->ctx->err,
			    sizeof(t->ctx->err));
		t->ctx->pin_failed = 0;
		return IRIS_ETLS;
	}
	/* A resumed session keeps the master secret of the one offered. */
	if (!t->ctx->server && t->offered && t->ssl.session != NULL &&
	    ct_equal(t->ssl.session->master, t->offered_ms,
	    sizeof(t->offered_ms)))
		t->resumed = 1;
	mbedtls_platform_zeroize(t->offered_ms, sizeof(t->offered_ms));
	if (!t->ctx->server && mbedtls_ssl_get_verify_result(&t->ssl) != 0) {
		snprintf(t->ctx->err, sizeof(t->ctx->err), "the server's "
		    "certificate does not match the pinned key");
		return IRIS_ETLS;
	}
	/* The binding is made when asked for (a token login never does):
	 * its inputs must be here now. */
	if (!t->have_keys) {
		snprintf(t->ctx->err, sizeof(t->ctx->err),
		    "no key material for the channel binding");
		return IRIS_ETLS;
	}
	t->done = 1;
	return IRIS_OK;
}

int
iris__tls_binding(struct iris_tls *t, const uint8_t **binding)
{
	int rc = IRIS_OK;

	*binding = t->binding;
	if (t->have_binding)
		return IRIS_OK;
	/* RFC 5705: PRF(master secret, label, client ‖ server random). */
	if (!t->done || !t->have_keys || mbedtls_ssl_tls_prf(t->prf, t->ms,
	    sizeof(t->ms), IRIS_BINDING_LABEL, t->randoms,
	    sizeof(t->randoms), t->binding, sizeof(t->binding)) != 0) {
		/* Nothing anyone can sign for stands in for it. */
		if (mbedtls_ctr_drbg_random(&t->ctx->drbg, t->binding,
		    sizeof(t->binding)) != 0)
			memset(t->binding, 0xa5, sizeof(t->binding));
		rc = IRIS_ETLS;
	}
	mbedtls_platform_zeroize(t->ms, sizeof(t->ms));
	t->have_keys = 0;
	t->have_binding = 1;
	return rc;
}

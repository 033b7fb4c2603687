/* SPDX-License-Identifier: ISC */
/*
 * TLS with mbedTLS 2.28 for server and client sides: one context per role
 * (the mbedtls_ssl_config, its RNG, certificate, ticket keys), and the
 * connections built on it (lib/net/conn.c). Minimum TLS 1.2, ECDHE with
 * AEAD suites only, ALPN "iris/1", session tickets sealed with our own
 * rotating keys, and the RFC 5705 exporter value that login signatures
 * bind to.
 */
#ifndef IRIS_NET_TLS_H
#define IRIS_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "util/log.h"

#define IRIS_ALPN		"iris/1"
#define IRIS_BINDING_LABEL	"EXPORTER-iris-login-v1"
#define IRIS_BINDING_LEN	32
#define IRIS_FP_LEN		32	/* SHA-256 of the SubjectPublicKeyInfo */

struct iris_tickets;
struct iris_tls;

struct iris_tls_ctx {
	int			 server;
	mbedtls_ssl_config	 conf;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt	 cert;		/* ours (server) or CA (client) */
	mbedtls_pk_context	 key;
	int			 have_cert;
	int			 have_ca;
	uint8_t			 fp[IRIS_FP_LEN];	/* our SPKI (server) */
	uint8_t			 pin[IRIS_FP_LEN];	/* expected (client) */
	int			 pinned;
	int			 pin_failed;	/* the last handshake's peer */
	struct iris_tickets	*tickets;
	/* The connection whose handshake is being stepped: the key export
	 * callback belongs to the config, not to a connection. */
	struct iris_tls		*handshaking;
	struct iris_logger	 log;
	char			 err[256];
};

/* Per-connection TLS state. */
struct iris_tls {
	struct iris_tls_ctx	*ctx;
	mbedtls_ssl_context	 ssl;
	int			 fd;
	/* Read-ahead: one recv fills it, mbedTLS takes header and body from
	 * it; held only while it has bytes (an idle connection has none). */
	unsigned char		*rbuf;
	size_t			 roff, rlen;
	int			 drained;	/* the last recv was short */
	/* A handshake flight, queued while a handshake step runs (cork) and
	 * sent in one go; held only until the socket has taken it. */
	unsigned char		*wbuf;
	size_t			 woff, wlen;
	int			 cork;
	unsigned		 sends;		/* send(2) calls made */
	unsigned		 blocked;	/* queued bytes met a full socket */
	int			 done;		/* handshake finished */
	int			 resumed;	/* from a session ticket */
	/* Client: the master secret of the session offered for resumption;
	 * a resumed handshake keeps it. Wiped after the handshake. */
	unsigned char		 offered_ms[48];
	int			 offered;
	/* The exporter's inputs, captured in the handshake and wiped once
	 * the binding is made from them (or with the connection). */
	int			 have_keys;
	unsigned char		 ms[48];
	unsigned char		 randoms[64];
	mbedtls_tls_prf_types	 prf;
	int			 have_binding;
	uint8_t			 binding[IRIS_BINDING_LEN];
};

/*
 * Server context: the certificate and key in PEM files; when both paths
 * are NULL, dir/tls.crt and dir/tls.key are used, made on first start
 * (ECDSA P-256, self-signed, mode 0600). Session ticket keys live in
 * dir/tickets.key. IRIS_OK or a negative code with ctx->err set.
 */
int	 iris__tls_server_new(struct iris_tls_ctx **ctxp, const char *dir,
	    const char *cert_path, const char *key_path,
	    const struct iris_logger *log, char *err, size_t errlen);
/*
 * Client context: trusts a server whose SPKI SHA-256 is pin (32 bytes),
 * or a chain to the CAs in ca_path (then the name is checked against the
 * host given at connect time). Exactly one of pin and ca_path.
 */
int	 iris__tls_client_new(struct iris_tls_ctx **ctxp, const uint8_t *pin,
	    const char *ca_path, const struct iris_logger *log, char *err,
	    size_t errlen);
void	 iris__tls_ctx_free(struct iris_tls_ctx *ctx);

/* Per connection, over a connected non-blocking socket. */
int	 iris__tls_init(struct iris_tls *t, struct iris_tls_ctx *ctx, int fd,
	    const char *hostname);
void	 iris__tls_clear(struct iris_tls *t);
/* Bytes read ahead and not yet taken by mbedTLS; frees an empty buffer. */
size_t	 iris__tls_readahead(struct iris_tls *t);
/* Steps the handshake: IRIS_OK when done, IRIS_EAGAIN to wait for the
 * socket (*want_write says which way), or IRIS_ETLS. */
int	 iris__tls_handshake(struct iris_tls *t, int *want_write);
/*
 * After the handshake: the login channel binding (RFC 5705 exporter),
 * made on the first call. IRIS_ETLS if it cannot be: *binding then holds
 * random bytes that no signature can match.
 */
int	 iris__tls_binding(struct iris_tls *t, const uint8_t **binding);
/* Sends what the last handshake flight left queued: IRIS_OK when none is
 * left, IRIS_EAGAIN to wait for the socket to be writable, or an error
 * (IRIS_ECLOSED, IRIS_ETLS). */
int	 iris__tls_flush(struct iris_tls *t);

/* Certificates (lib/net/cert.c). */
int	 iris__cert_load_or_make(mbedtls_x509_crt *crt, mbedtls_pk_context *pk,
	    const char *cert_path, const char *key_path,
	    mbedtls_ctr_drbg_context *drbg, int *made, char *err,
	    size_t errlen);
int	 iris__cert_spki_sha256(const mbedtls_x509_crt *crt,
	    uint8_t out[IRIS_FP_LEN]);
void	 iris__fp_hex(char out[2 * IRIS_FP_LEN + 1],
	    const uint8_t fp[IRIS_FP_LEN]);
int	 iris__fp_parse(uint8_t out[IRIS_FP_LEN], const char *hex);

/* Session ticket keys (lib/net/ticket.c); the callbacks' argument is the
 * server context. */
int	 iris__tickets_open(struct iris_tickets **tp, const char *path,
	    mbedtls_ctr_drbg_context *drbg, char *err, size_t errlen);
void	 iris__tickets_free(struct iris_tickets *t);
mbedtls_ssl_ticket_write_t iris__ticket_write;
mbedtls_ssl_ticket_parse_t iris__ticket_parse;

/* Text for an mbedTLS error code. */
void	 iris__tls_strerror(int rc, char *buf, size_t len);

#endif /* IRIS_NET_TLS_H */

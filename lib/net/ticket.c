/* SPDX-License-Identifier: ISC */
/*
 * Session tickets sealed with our own keys, kept in the data directory so
 * that tickets survive a restart and work across engines of one irisd.
 * The current key seals; it and the previous one open. A key seals for
 * LIFETIME seconds, then a new one takes over, so a ticket lives at most
 * twice that. Ticket: key id (4) | nonce (12) | ChaCha20-Poly1305 of
 * (u64 issued_s | mbedtls session) | tag (16).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/chachapoly.h>
#include <mbedtls/platform_util.h>

#include "iris.h"
#include "net/tls.h"
#include "util/alloc.h"

#define LIFETIME	(12 * 3600)
#define KEYLEN		32
#define HDR		(4 + 12)
#define TAGLEN		16

struct tkey {
	uint32_t	 id;
	uint64_t	 created;
	unsigned char	 key[KEYLEN];
	int		 set;
};

struct iris_tickets {
	char			*path;
	mbedtls_ctr_drbg_context *drbg;
	struct tkey		 cur;
	struct tkey		 prev;
};

static int
hexbyte(const char *p)
{
	unsigned v;

	return sscanf(p, "%2x", &v) == 1 ? (int)v : -1;
}

/* File: one key per line, "id created hex-key", newest first. */
static int
load(struct iris_tickets *t)
{
	char line[256];
	struct tkey *k;
	FILE *f;
	unsigned id;
	unsigned long long created;
	char hex[2 * KEYLEN + 1];
	int n = 0, i, b;

	if ((f = fopen(t->path, "re")) == NULL)
		return errno == ENOENT ? IRIS_OK : IRIS_EIO;
	while (n < 2 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%x %llu %64s", &id, &created, hex) != 3 ||
		    strlen(hex) != 2 * KEYLEN)
			break;
		k = n == 0 ? &t->cur : &t->prev;
		for (i = 0; i < KEYLEN; i++) {
			if ((b = hexbyte(hex + 2 * i)) < 0)
				break;
			k->key[i] = (unsigned char)b;
		}
		if (i < KEYLEN)
			break;
		k->id = id;
		k->created = created;
		k->set = 1;
		n++;
	}
	fclose(f);
	mbedtls_platform_zeroize(line, sizeof(line));
	mbedtls_platform_zeroize(hex, sizeof(hex));
	return IRIS_OK;
}

static int
save(struct iris_tickets *t)
{
	char buf[512], tmp[4200];
	const struct tkey *ks[2] = { &t->cur, &t->prev };
	size_t len = 0;
	int fd, i, j, ok;

	for (i = 0; i < 2; i++) {
		if (!ks[i]->set)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "%08x %llu ", ks[i]->id,
		    (unsigned long long)ks[i]->created);
		for (j = 0; j < KEYLEN; j++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%02x", ks[i]->key[j]);
		buf[len++] = '\n';
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return IRIS_EIO;
	ok = write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, t->path) == 0;
	mbedtls_platform_zeroize(buf, sizeof(buf));
	if (!ok)
		unlink(tmp);
	return ok ? IRIS_OK : IRIS_EIO;
}

/* A new current key when the current one is too old (or missing). */
static int
rotate(struct iris_tickets *t, uint64_t now)
{
	struct tkey k;

	if (t->cur.set && now < t->cur.created + LIFETIME &&
	    now + 60 >= t->cur.created)
		return IRIS_OK;
	memset(&k, 0, sizeof(k));
	if (mbedtls_ctr_drbg_random(t->drbg, k.key, KEYLEN) != 0 ||
	    mbedtls_ctr_drbg_random(t->drbg, (unsigned char *)&k.id,
	    sizeof(k.id)) != 0)
		return IRIS_ETLS;
	k.created = now;
	k.set = 1;
	t->prev = t->cur;
	t->cur = k;
	mbedtls_platform_zeroize(&k, sizeof(k));
	return save(t);
}

int
iris__tickets_open(struct iris_tickets **tp, const char *path,
    mbedtls_ctr_drbg_context *drbg, char *err, size_t errlen)
{
	struct iris_tickets *t;
	int rc;

	*tp = NULL;
	if ((t = iris__calloc(1, sizeof(*t))) == NULL ||
	    (t->path = iris__strdup(path)) == NULL) {
		iris__free(t);
		return IRIS_ENOMEM;
	}
	t->drbg = drbg;
	if ((rc = load(t)) != IRIS_OK ||
	    (rc = rotate(t, (uint64_t)time(NULL))) != IRIS_OK) {
		snprintf(err, errlen, "%s: cannot %s session ticket keys: %s",
		    path, rc == IRIS_EIO ? "read or write" : "make",
		    strerror(errno));
		iris__tickets_free(t);
		return rc;
	}
	*tp = t;
	return IRIS_OK;
}

void
iris__tickets_free(struct iris_tickets *t)
{
	if (t == NULL)
		return;
	mbedtls_platform_zeroize(&t->cur, sizeof(t->cur));
	mbedtls_platform_zeroize(&t->prev, sizeof(t->prev));
	iris__free(t->path);
	iris__free(t);
}

int
iris__ticket_write(void *arg, const mbedtls_ssl_session *session,
    unsigned char *start, const unsigned char *end, size_t *tlen,
    uint32_t *lifetime)
{
	struct iris_tls_ctx *ctx = arg;
	struct iris_tickets *t = ctx->tickets;
	mbedtls_chachapoly_context cp;
	uint64_t now = (uint64_t)time(NULL);
	unsigned char *p = start + HDR;
	size_t room, slen;
	int rc, i;

	if ((size_t)(end - start) < HDR + 8 + TAGLEN)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	if (rotate(t, now) != IRIS_OK && !t->cur.set)
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	room = (size_t)(end - p) - 8 - TAGLEN;
	if ((rc = mbedtls_ssl_session_save(session, p + 8, room, &slen)) != 0)
		return rc;
	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(now >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		start[i] = (unsigned char)(t->cur.id >> (24 - 8 * i));
	if ((rc = mbedtls_ctr_drbg_random(t->drbg, start + 4, 12)) != 0)
		return rc;
	mbedtls_chachapoly_init(&cp);
	if ((rc = mbedtls_chachapoly_setkey(&cp, t->cur.key)) == 0)
		rc = mbedtls_chachapoly_encrypt_and_tag(&cp, 8 + slen,
		    start + 4, start, 4, p, p, p + 8 + slen);
	mbedtls_chachapoly_free(&cp);
	if (rc != 0)
		return rc;
	*tlen = HDR + 8 + slen + TAGLEN;
	*lifetime = LIFETIME;
	return 0;
}

int
iris__ticket_parse(void *arg, mbedtls_ssl_session *session,
    unsigned char *buf, size_t len)
{
	struct iris_tls_ctx *ctx = arg;
	struct iris_tickets *t = ctx->tickets;
	mbedtls_chachapoly_context cp;
	const struct tkey *k;
	unsigned char *p = buf + HDR;
	uint64_t issued = 0, now = (uint64_t)time(NULL);
	uint32_t id;
	size_t clen;
	int rc, i;

	if (len < HDR + 8 + TAGLEN)
		return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
	id = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	if (t->cur.set && id == t->cur.id)
		k = &t->cur;
	else if (t->prev.set && id == t->prev.id)
		k = &t->prev;
	else
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	clen = len - HDR - TAGLEN;
	mbedtls_chachapoly_init(&cp);
	if ((rc = mbedtls_chachapoly_setkey(&cp, k->key)) == 0)
		rc = mbedtls_chachapoly_auth_decrypt(&cp, clen, buf + 4, buf,
		    4, p + clen, p, p);
	mbedtls_chachapoly_free(&cp);
	if (rc != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	for (i = 0; i < 8; i++)
		issued = issued << 8 | p[i];
	if (issued > now + 60 || now - issued > 2 * LIFETIME)
		return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
	if ((rc = mbedtls_ssl_session_load(session, p + 8, clen - 8)) != 0)
		return rc;
	if (ctx->handshaking != NULL)
		ctx->handshaking->resumed = 1;
	return 0;
}

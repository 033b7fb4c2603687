/* SPDX-License-Identifier: ISC */
/*
 * The server's TLS identity: an operator's certificate and key, or on
 * first start a self-signed ECDSA P-256 certificate made in the data
 * directory (files mode 0600, written atomically, never overwritten).
 * Clients pin the SHA-256 of its SubjectPublicKeyInfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "iris.h"
#include "net/tls.h"

#define PEM_MAX		4096
#define VALID_YEARS	20

/* Writes data to path through a temporary file, fsync'd, mode 0600. */
static int
write_file(const char *path, const unsigned char *data, size_t len,
    char *err, size_t errlen)
{
	char tmp[4200];
	ssize_t n;
	size_t off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		goto fail;
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0)
		goto fail;
	return IRIS_OK;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	unlink(tmp);
	return IRIS_EIO;
}

static int
make_pair(mbedtls_x509_crt *crt, mbedtls_pk_context *pk,
    const char *cert_path, const char *key_path,
    mbedtls_ctr_drbg_context *drbg, char *err, size_t errlen)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char pem[PEM_MAX], sn[16];
	char from[16], until[16];
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	gmtime_r(&now, &tm);
	strftime(from, sizeof(from), "%Y%m%d%H%M%S", &tm);
	tm.tm_year += VALID_YEARS;
	strftime(until, sizeof(until), "%Y%m%d%H%M%S", &tm);
	if ((rc = mbedtls_pk_setup(pk,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random, drbg)) != 0 ||
	    (rc = mbedtls_ctr_drbg_random(drbg, sn, sizeof(sn))) != 0)
		goto tls_fail;
	sn[0] &= 0x7f;	/* a positive serial */
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, pk);
	mbedtls_x509write_crt_set_issuer_key(&w, pk);
	if ((rc = mbedtls_mpi_read_binary(&serial, sn, sizeof(sn))) != 0 ||
	    (rc = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&w,
	    "CN=irisd")) != 0 ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&w, "CN=irisd")) != 0 ||
	    (rc = mbedtls_x509write_crt_set_validity(&w, from, until)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1)) != 0
	    || (rc = mbedtls_x509write_crt_set_key_usage(&w,
	    MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0)
		goto tls_fail;
	/* The key first: a certificate without its key is useless. */
	if ((rc = mbedtls_pk_write_key_pem(pk, pem, sizeof(pem))) != 0)
		goto tls_fail;
	if ((rc = write_file(key_path, pem, strlen((char *)pem), err,
	    errlen)) != IRIS_OK)
		goto out;
	if ((rc = mbedtls_x509write_crt_pem(&w, pem, sizeof(pem),
	    mbedtls_ctr_drbg_random, drbg)) != 0)
		goto tls_fail;
	if ((rc = write_file(cert_path, pem, strlen((char *)pem), err,
	    errlen)) != IRIS_OK)
		goto out;
	if ((rc = mbedtls_x509_crt_parse(crt, pem, strlen((char *)pem) + 1))
	    != 0)
		goto tls_fail;
	rc = IRIS_OK;
	goto out;
tls_fail:
	iris__tls_strerror(rc, err, errlen);
	rc = IRIS_ETLS;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	return rc;
}

int
iris__cert_load_or_make(mbedtls_x509_crt *crt, mbedtls_pk_context *pk,
    const char *cert_path, const char *key_path,
    mbedtls_ctr_drbg_context *drbg, int *made, char *err, size_t errlen)
{
	struct stat sb;
	char why[200];
	int have_c, have_k, rc;

	*made = 0;
	have_c = stat(cert_path, &sb) == 0;
	have_k = stat(key_path, &sb) == 0;
	if (!have_c && !have_k && drbg != NULL) {
		if ((rc = make_pair(crt, pk, cert_path, key_path, drbg, err,
		    errlen)) == IRIS_OK)
			*made = 1;
		return rc;
	}
	if (!have_c || !have_k) {
		snprintf(err, errlen, "%s: %s", !have_c ? cert_path : key_path,
		    strerror(ENOENT));
		return IRIS_EIO;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: readable by others (mode %03o); "
		    "chmod 600 it", key_path, (unsigned)(sb.st_mode & 0777));
		return IRIS_EDENIED;
	}
	if ((rc = mbedtls_x509_crt_parse_file(crt, cert_path)) != 0) {
		iris__tls_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "%s: %s", cert_path, why);
		return IRIS_ETLS;
	}
	if ((rc = mbedtls_pk_parse_keyfile(pk, key_path, NULL)) != 0) {
		iris__tls_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "%s: %s", key_path, why);
		return IRIS_ETLS;
	}
	return IRIS_OK;
}

int
iris__cert_spki_sha256(const mbedtls_x509_crt *crt, uint8_t out[IRIS_FP_LEN])
{
	unsigned char der[1024];
	int n;

	/* mbedtls writes DER at the end of the buffer. */
	n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&crt->pk, der,
	    sizeof(der));
	if (n <= 0)
		return IRIS_ETLS;
	if (mbedtls_sha256_ret(der + sizeof(der) - (size_t)n, (size_t)n, out,
	    0) != 0)
		return IRIS_ETLS;
	return IRIS_OK;
}

void
iris__fp_hex(char out[2 * IRIS_FP_LEN + 1], const uint8_t fp[IRIS_FP_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < IRIS_FP_LEN; i++) {
		out[2 * i] = digits[fp[i] >> 4];
		out[2 * i + 1] = digits[fp[i] & 15];
	}
	out[2 * IRIS_FP_LEN] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits, optionally in pairs separated by ':'. */
int
iris__fp_parse(uint8_t out[IRIS_FP_LEN], const char *hex)
{
	size_t i = 0;
	int hi, lo;

	while (i < IRIS_FP_LEN) {
		if ((hi = hexval(hex[0])) < 0 || (lo = hexval(hex[1])) < 0)
			return IRIS_EINVAL;
		out[i++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
		if (*hex == ':' && i < IRIS_FP_LEN)
			hex++;
	}
	return *hex == '\0' ? IRIS_OK : IRIS_EINVAL;
}

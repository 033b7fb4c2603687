/* SPDX-License-Identifier: ISC */
/*
 * Client configuration: where the server is, how it is trusted (a pinned
 * key fingerprint or a CA file), which account, and the client's own
 * bounds. Every setter checks its value and leaves the config unchanged
 * on error, with the reason in iris_client_config_error().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "net/tls.h"
#include "util/alloc.h"

static int
cfg_err(struct iris_client_config *cfg, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg->err, sizeof(cfg->err), fmt, ap);
	va_end(ap);
	return rc;
}

int
iris_client_config_new(struct iris_client_config **cfgp)
{
	struct iris_client_config *cfg;

	if (cfgp == NULL)
		return IRIS_EINVAL;
	if ((*cfgp = cfg = iris__calloc(1, sizeof(*cfg))) == NULL)
		return IRIS_ENOMEM;
	cfg->backoff_min_ms = 250;
	cfg->backoff_max_ms = 30000;
	cfg->outbox_max = IRIS_CLIENT_OUTBOX_MAX;
	cfg->log.level = IRIS_LOG_INFO;
	return IRIS_OK;
}

void
iris_client_config_free(struct iris_client_config *cfg)
{
	if (cfg == NULL)
		return;
	iris__free(cfg->ca_path);
	iris__free(cfg);
}

/* HOST:PORT or [V6]:PORT, with a port of 1 to 65535. */
int
iris__client_split_hostport(const char *hp, char *host, size_t hostlen,
    int *port)
{
	const char *colon, *h = hp;
	size_t hl;
	char *end;
	long p;

	if (*hp == '[') {
		if ((colon = strchr(hp, ']')) == NULL || colon[1] != ':')
			return IRIS_EINVAL;
		h = hp + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(hp, ':')) == NULL ||
		    memchr(hp, ':', (size_t)(colon - hp)) != NULL)
			return IRIS_EINVAL;
		hl = (size_t)(colon - hp);
	}
	if (hl == 0 || hl >= hostlen)
		return IRIS_EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || p < 1 || p > 65535)
		return IRIS_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return IRIS_OK;
}

int
iris_client_config_set_server(struct iris_client_config *cfg,
    const char *hostport)
{
	char host[256];
	int port;

	if (cfg == NULL)
		return IRIS_EINVAL;
	if (hostport == NULL || strlen(hostport) >= sizeof(cfg->server) ||
	    iris__client_split_hostport(hostport, host, sizeof(host),
	    &port) != IRIS_OK)
		return cfg_err(cfg, IRIS_EINVAL, "server: \"%.200s\" is not "
		    "HOST:PORT", hostport != NULL ? hostport : "(null)");
	snprintf(cfg->server, sizeof(cfg->server), "%s", hostport);
	return IRIS_OK;
}

int
iris_client_config_set_pin(struct iris_client_config *cfg,
    const char *fingerprint)
{
	uint8_t fp[IRIS_FP_LEN];

	if (cfg == NULL)
		return IRIS_EINVAL;
	if (fingerprint == NULL || strlen(fingerprint) != 2 * IRIS_FP_LEN ||
	    iris__fp_parse(fp, fingerprint) != IRIS_OK)
		return cfg_err(cfg, IRIS_EINVAL, "pin: not a fingerprint of "
		    "64 hex digits");
	memcpy(cfg->pin, fp, sizeof(fp));
	cfg->have_pin = 1;
	iris__free(cfg->ca_path);
	cfg->ca_path = NULL;
	return IRIS_OK;
}

int
iris_client_config_set_ca(struct iris_client_config *cfg, const char *path)
{
	char *p;

	if (cfg == NULL)
		return IRIS_EINVAL;
	if (path == NULL || *path == '\0')
		return cfg_err(cfg, IRIS_EINVAL, "ca: empty path");
	if ((p = iris__strdup(path)) == NULL)
		return IRIS_ENOMEM;
	iris__free(cfg->ca_path);
	cfg->ca_path = p;
	cfg->have_pin = 0;
	return IRIS_OK;
}

int
iris_client_config_set_user(struct iris_client_config *cfg, const char *user)
{
	if (cfg == NULL)
		return IRIS_EINVAL;
	if (user == NULL || !iris__wire_userid_ok((const uint8_t *)user,
	    strlen(user)))
		return cfg_err(cfg, IRIS_EINVAL, "user: not a valid user id "
		    "(1 to 64 bytes of UTF-8, no spaces or control "
		    "characters)");
	snprintf(cfg->user, sizeof(cfg->user), "%s", user);
	return IRIS_OK;
}

int
iris_client_config_set_account(struct iris_client_config *cfg,
    const char *name)
{
	if (cfg == NULL)
		return IRIS_EINVAL;
	if (name == NULL || *name == '\0' || strlen(name) >=
	    sizeof(cfg->account))
		return cfg_err(cfg, IRIS_EINVAL, "account: 1 to 255 bytes");
	snprintf(cfg->account, sizeof(cfg->account), "%s", name);
	return IRIS_OK;
}

int
iris_client_config_set_device_name(struct iris_client_config *cfg,
    const char *name)
{
	if (cfg == NULL)
		return IRIS_EINVAL;
	if (name == NULL || strlen(name) >= sizeof(cfg->device_name))
		return cfg_err(cfg, IRIS_EINVAL, "device name: at most 63 "
		    "bytes");
	snprintf(cfg->device_name, sizeof(cfg->device_name), "%s", name);
	return IRIS_OK;
}

int
iris_client_config_set_backoff(struct iris_client_config *cfg,
    unsigned min_ms, unsigned max_ms)
{
	if (cfg == NULL)
		return IRIS_EINVAL;
	if (min_ms == 0 || max_ms < min_ms || max_ms > 3600000)
		return cfg_err(cfg, IRIS_EINVAL, "backoff: need 0 < min <= "
		    "max <= 1 h");
	cfg->backoff_min_ms = min_ms;
	cfg->backoff_max_ms = max_ms;
	return IRIS_OK;
}

int
iris_client_config_set_outbox_max(struct iris_client_config *cfg,
    size_t entries)
{
	if (cfg == NULL)
		return IRIS_EINVAL;
	if (entries == 0 || entries > 10000000)
		return cfg_err(cfg, IRIS_EINVAL, "outbox max: 1 to 10000000");
	cfg->outbox_max = entries;
	return IRIS_OK;
}

void
iris_client_config_set_log_cb(struct iris_client_config *cfg,
    iris_log_cb cb, void *arg, int level)
{
	if (cfg == NULL)
		return;
	cfg->log.cb = cb;
	cfg->log.arg = arg;
	cfg->log.level = level < IRIS_LOG_ERR ? IRIS_LOG_ERR :
	    level > IRIS_LOG_DEBUG ? IRIS_LOG_DEBUG : level;
}

const char *
iris_client_config_error(const struct iris_client_config *cfg)
{
	return cfg != NULL ? cfg->err : "";
}

/* A copy that owns its own strings. */
int
iris__client_config_copy(struct iris_client_config *dst,
    const struct iris_client_config *src)
{
	*dst = *src;
	dst->ca_path = NULL;
	if (src->ca_path != NULL &&
	    (dst->ca_path = iris__strdup(src->ca_path)) == NULL)
		return IRIS_ENOMEM;
	return IRIS_OK;
}

/* SPDX-License-Identifier: ISC */
/*
 * The engine's lifecycle: its data directory (store, TLS identity, server
 * id), its parts and listeners (lib/engine/listen.c), graceful shutdown,
 * reloads, and its counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sodium.h>

#include "iris.h"
#include "core/core.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/clock.h"

static const char *const stat_names[ST_COUNT] = {
	"connections", "accepted", "refused_full", "tls_failures",
	"frames_in", "frames_out", "bytes_in", "bytes_out", "errors_sent",
	"malformed", "timeouts", "slow_readers", "logins", "logins_resumed",
	"auth_failures", "registrations", "revoked_closed", "refused_rate",
	"msg_out", "ack_sent", "relayed_out", "shed_output",
	"sends_refused_edge", "msg_in", "dedup_hit", "sends_refused",
	"typing_shed", "presence_shed", "receipts", "receipts_shed",
	"inbox_depth", "oldest_unacked_ms", "overload",
	"keys_uploaded", "bundles_fetched", "prekeys_handed_out",
	"prekeys_exhausted", "prekey_low_sent",
};

int
iris__engine_fail(struct iris_engine *eng, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(eng->err, sizeof(eng->err), fmt, ap);
	va_end(ap);
	iris__log(&eng->log, IRIS_LOG_ERR, "%s", eng->err);
	return rc;
}

/* The server id: 16 random bytes made at first start, kept as hex. */
static int
load_server_id(struct iris_engine *eng, const char *dir)
{
	char path[4096], hex[2 * IRIS_SERVER_ID_LEN + 2], tmp[4200];
	unsigned v;
	FILE *f;
	int i, fd, ok;

	snprintf(path, sizeof(path), "%s/server.id", dir);
	if ((f = fopen(path, "re")) != NULL) {
		ok = fgets(hex, sizeof(hex), f) != NULL &&
		    strlen(hex) >= 2 * IRIS_SERVER_ID_LEN;
		fclose(f);
		for (i = 0; ok && i < IRIS_SERVER_ID_LEN; i++) {
			ok = sscanf(hex + 2 * i, "%2x", &v) == 1;
			eng->server_id[i] = (uint8_t)v;
		}
		return ok ? IRIS_OK : iris__engine_fail(eng, IRIS_ECORRUPT,
		    "%.300s: not a server id", path);
	}
	if (errno != ENOENT)
		return iris__engine_fail(eng, IRIS_EIO, "%.300s: %s", path,
		    strerror(errno));
	if (iris_uuid_v7(eng->server_id) != IRIS_OK)
		return iris__engine_fail(eng, IRIS_EIO, "no randomness for %.300s",
		    path);
	for (i = 0; i < IRIS_SERVER_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", eng->server_id[i]);
	hex[2 * IRIS_SERVER_ID_LEN] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return iris__engine_fail(eng, IRIS_EIO, "%.300s: %s", tmp,
		    strerror(errno));
	ok = write(fd, hex, 2 * IRIS_SERVER_ID_LEN + 1) ==
	    2 * IRIS_SERVER_ID_LEN + 1 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
	return ok ? IRIS_OK : iris__engine_fail(eng, IRIS_EIO, "%.300s: %s", path,
	    strerror(errno));
}

void
iris__engine_limits(struct iris_engine *eng)
{
	const struct iris_config *c = eng->cfg;
	struct rlimit rl;

	iris__wire_limits_config(&eng->lim, c);
	eng->max_frame = iris__wire_max_frame(&eng->lim);
	eng->max_frame_pre = (uint32_t)iris__config_uint(c,
	    IRIS__OPT_MAX_FRAME_BEFORE_LOGIN);
	eng->frame_timeout_ms = iris__config_uint(c, IRIS__OPT_FRAME_TIMEOUT);
	eng->idle_timeout_ms = iris__config_uint(c, IRIS__OPT_IDLE_TIMEOUT);
	eng->unauth_timeout_ms = iris__config_uint(c,
	    IRIS__OPT_UNAUTH_TIMEOUT);
	eng->max_conns = iris__config_uint(c, IRIS__OPT_MAX_CONNECTIONS);
	/* Within the file limit, leaving room for the store and listeners. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && rl.rlim_cur > 128 &&
	    eng->max_conns > rl.rlim_cur - 128) {
		eng->max_conns = rl.rlim_cur - 128;
		iris__log(&eng->log, IRIS_LOG_WARNING, "max_connections "
		    "lowered to %llu: the process may open %llu files",
		    (unsigned long long)eng->max_conns,
		    (unsigned long long)rl.rlim_cur);
	}
	eng->output_cap = iris__config_uint(c, IRIS__OPT_OUTPUT_CAP);
	eng->inbound_budget = iris__config_uint(c, IRIS__OPT_INBOUND_BUDGET);
}

/* Process-wide inbound budget: past it, every session stops reading. */
void
iris__engine_inbound(struct iris_engine *eng, int64_t delta)
{
	eng->inbound = (uint64_t)((int64_t)eng->inbound + delta);
	if (!eng->reads_paused && eng->inbound > eng->inbound_budget) {
		eng->reads_paused = 1;
		iris__log(&eng->log, IRIS_LOG_WARNING, "inbound buffers over "
		    "budget (%llu bytes): pausing reads",
		    (unsigned long long)eng->inbound);
		iris__sessions_pause(eng, 1);
	} else if (eng->reads_paused &&
	    eng->inbound < eng->inbound_budget / 2) {
		eng->reads_paused = 0;
		iris__sessions_pause(eng, 0);
	}
}

static int
open_parts(struct iris_engine *eng)
{
	const char *dir = iris__config_str(eng->cfg, IRIS__OPT_DATA_DIR);
	const char *cert = iris__config_str(eng->cfg, IRIS__OPT_TLS_CERT);
	const char *key = iris__config_str(eng->cfg, IRIS__OPT_TLS_KEY);
	const char *unix_path = iris__config_str(eng->cfg,
	    IRIS__OPT_UNIX_SOCKET);
	const char *const *addrs;
	char path[4096], why[256];
	size_t i, n;
	int rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return iris__engine_fail(eng, IRIS_EIO, "data_dir %.300s: %s", dir,
		    strerror(errno));
	if ((*cert == '\0') != (*key == '\0'))
		return iris__engine_fail(eng, IRIS_ECONFIG, "tls_cert and tls_key go "
		    "together");
	/* The store first: its lock keeps a second engine out of dir. */
	snprintf(path, sizeof(path), "%s/iris.db", dir);
	if ((rc = iris_store_open(&eng->store, eng->base, path, eng->cfg)) !=
	    IRIS_OK)
		return iris__engine_fail(eng, rc, "cannot open the store %.300s%s",
		    path, rc == IRIS_EBUSY ? ": another irisd or program uses "
		    "this data directory" : "");
	if ((rc = load_server_id(eng, dir)) != IRIS_OK ||
	    (rc = iris__auth_init(eng, dir)) != IRIS_OK)
		return rc;
	if ((rc = iris__tls_server_new(&eng->tls, dir, *cert ? cert : NULL,
	    *key ? key : NULL, &eng->log, why, sizeof(why))) != IRIS_OK)
		return iris__engine_fail(eng, rc, "TLS: %s", why);
	if ((rc = iris__bus_new(&eng->bus, eng->base, iris__config_uint(
	    eng->cfg, IRIS__OPT_BUS_QUEUE))) != IRIS_OK ||
	    (rc = iris__core_new(&eng->core, eng->base, eng->cfg, eng->store,
	    eng->bus)) != IRIS_OK ||
	    (rc = iris__edge_init(eng)) != IRIS_OK)
		return iris__engine_fail(eng, rc, "cannot start the core");
	n = iris__config_list(eng->cfg, IRIS__OPT_LISTEN, &addrs);
	for (i = 0; i < n; i++)
		if ((rc = iris__engine_listen(eng, addrs[i], 1)) != IRIS_OK)
			return rc;
	if (*unix_path != '\0' && (rc = iris__engine_listen(eng, unix_path, 0)) !=
	    IRIS_OK)
		return rc;
	return IRIS_OK;
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	iris__auth_sweep(arg);
}

static int
start_sweep(struct iris_engine *eng)
{
	uint64_t ms = iris__config_uint(eng->cfg, IRIS__OPT_REVOCATION_CHECK);
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	if (eng->sweep_ev == NULL && (eng->sweep_ev = event_new(eng->base,
	    -1, EV_PERSIST, on_sweep, eng)) == NULL)
		return IRIS_ENOMEM;
	return event_add(eng->sweep_ev, &tv) == 0 ? IRIS_OK : IRIS_EIO;
}

int
iris_engine_new(struct iris_engine **engp, struct event_base *base,
    const struct iris_config *cfg)
{
	struct iris_engine *eng;
	int rc;

	if (engp == NULL)
		return IRIS_EINVAL;
	*engp = NULL;
	if (base == NULL || cfg == NULL)
		return IRIS_EINVAL;
	if (sodium_init() < 0)
		return IRIS_ECRYPTO;
	if ((eng = iris__calloc(1, sizeof(*eng))) == NULL)
		return IRIS_ENOMEM;
	eng->base = base;
	if ((rc = iris__config_dup(&eng->cfg, cfg)) != IRIS_OK) {
		iris__free(eng);
		return rc;
	}
	eng->log = *iris__config_logger(eng->cfg);
	iris__lograte_init(&eng->peer_log, IRIS_PEER_LOG_RATE,
	    IRIS_PEER_LOG_BURST, iris__clock_mono_us());
	iris__engine_limits(eng);
	if ((rc = iris__engine_ip_init(eng)) != IRIS_OK ||
	    (rc = open_parts(eng)) != IRIS_OK ||
	    (rc = start_sweep(eng)) != IRIS_OK ||
	    (rc = iris__admin_start(eng)) != IRIS_OK ||
	    (rc = iris__metrics_start(eng)) != IRIS_OK) {
		iris_engine_free(eng);
		return rc;
	}
	*engp = eng;
	return IRIS_OK;
}

void
iris_engine_free(struct iris_engine *eng)
{
	size_t i;

	if (eng == NULL)
		return;
	iris__metrics_stop(eng);
	iris__admin_stop(eng);
	for (i = 0; i < eng->nlst; i++)
		evconnlistener_free(eng->lst[i].l);
	while (eng->sessions != NULL)
		iris__session_free(eng->sessions);
	/* The store first: what it finishes now calls nobody back. */
	iris_store_close(eng->store);
	iris__core_free(eng->core);
	iris__bus_free(eng->bus);
	iris__edge_fini(eng);
	iris__sessions_free_zombies(eng);
	iris__free(eng->fails);
	iris__token_free(eng);
	iris__free(eng->ip_buckets);
	sodium_memzero(eng->sign_sk, sizeof(eng->sign_sk));
	iris__tls_ctx_free(eng->tls);
	while (eng->nretired > 0)
		iris__tls_ctx_free(eng->retired[--eng->nretired]);
	if (eng->stop_ev != NULL)
		event_free(eng->stop_ev);
	if (eng->sweep_ev != NULL)
		event_free(eng->sweep_ev);
	iris_config_free(eng->cfg);
	iris__free(eng);
}

/* Polls until every session has gone and the store has drained. */
static void
check_stopped(evutil_socket_t fd, short what, void *arg)
{
	struct iris_engine *eng = arg;
	struct timeval tv = { 0, 20000 };
	uint64_t queued = 0;

	(void)fd, (void)what;
	iris_store_stat(eng->store, "queued", &queued);
	if (eng->sessions != NULL || queued > 0 ||
	    iris__core_pending(eng->core) > 0 ||
	    iris__bus_queued(eng->bus) > 0) {
		event_add(eng->stop_ev, &tv);
		return;
	}
	iris__log(&eng->log, IRIS_LOG_NOTICE, "stopped");
	if (eng->stop_cb != NULL)
		eng->stop_cb(eng, eng->stop_arg);
}

int
iris_engine_shutdown(struct iris_engine *eng, iris_engine_cb cb, void *arg)
{
	struct iris_session *s, *next;
	struct timeval tv = { 0, 0 };
	size_t i;

	if (eng == NULL || eng->stopping)
		return IRIS_ESTATE;
	eng->stopping = 1;
	eng->stop_cb = cb;
	eng->stop_arg = arg;
	for (i = 0; i < eng->nlst; i++)
		evconnlistener_disable(eng->lst[i].l);
	iris__log(&eng->log, IRIS_LOG_NOTICE, "shutting down: %llu "
	    "connections", (unsigned long long)eng->nsessions);
	for (s = eng->sessions; s != NULL; s = next) {
		next = iris__session_next(s);
		iris__session_bye(s, iris_v1_ErrorCode_ERR_SHUTTING_DOWN, 1000,
		    "server shutting down");
	}
	if ((eng->stop_ev = evtimer_new(eng->base, check_stopped, eng)) ==
	    NULL)
		return IRIS_ENOMEM;
	event_add(eng->stop_ev, &tv);
	return IRIS_OK;
}

/* A new certificate for new connections; the old one stays for those
 * already made with it. */
static int
reload_tls(struct iris_engine *eng)
{
	const char *dir = iris__config_str(eng->cfg, IRIS__OPT_DATA_DIR);
	const char *cert = iris__config_str(eng->cfg, IRIS__OPT_TLS_CERT);
	const char *key = iris__config_str(eng->cfg, IRIS__OPT_TLS_KEY);
	struct iris_tls_ctx *ctx;
	char why[256];
	int rc;

	if (eng->nretired == sizeof(eng->retired) / sizeof(eng->retired[0]))
		return iris__engine_fail(eng, IRIS_ELIMIT, "TLS: too many reloads; restart "
		    "irisd to take a new certificate");
	if ((*cert == '\0') != (*key == '\0'))
		return iris__engine_fail(eng, IRIS_ECONFIG, "tls_cert and tls_key go "
		    "together");
	if ((rc = iris__tls_server_new(&ctx, dir, *cert ? cert : NULL,
	    *key ? key : NULL, &eng->log, why, sizeof(why))) != IRIS_OK)
		return iris__engine_fail(eng, rc, "TLS reload refused, keeping the "
		    "certificate in use: %s", why);
	eng->retired[eng->nretired++] = eng->tls;
	eng->tls = ctx;
	return IRIS_OK;
}

int
iris_engine_reconfigure(struct iris_engine *eng,
    const struct iris_config *cfg)
{
	struct iris_config *copy;
	int rc;

	if (eng == NULL || cfg == NULL)
		return IRIS_EINVAL;
	if ((rc = iris__config_dup(&copy, cfg)) != IRIS_OK)
		return rc;
	/* Limits apply to new frames and connections from now on. */
	iris_config_free(eng->cfg);
	eng->cfg = copy;
	eng->log = *iris__config_logger(eng->cfg);
	iris__engine_limits(eng);
	(void)iris__engine_ip_init(eng);
	(void)start_sweep(eng);
	iris__edge_reconfigure(eng);
	(void)iris__core_reconfigure(eng->core, eng->cfg);
	if ((rc = reload_tls(eng)) != IRIS_OK)
		return rc;
	iris__log(&eng->log, IRIS_LOG_NOTICE, "configuration reloaded");
	return IRIS_OK;
}

const char *
iris_engine_error(const struct iris_engine *eng)
{
	return eng != NULL ? eng->err : "";
}

int
iris_engine_port(const struct iris_engine *eng, size_t idx)
{
	if (eng == NULL || idx >= eng->nlst)
		return -1;
	return eng->lst[idx].port;
}

int
iris_engine_metrics_port(const struct iris_engine *eng)
{
	return eng != NULL && eng->metrics != NULL ? eng->metrics_port : -1;
}

int
iris_engine_fingerprint(const struct iris_engine *eng, char *buf,
    size_t len)
{
	if (eng == NULL || buf == NULL)
		return IRIS_EINVAL;
	if (len < 2 * IRIS_FP_LEN + 1)
		return IRIS_ETOOBIG;
	iris__fp_hex(buf, eng->tls->fp);
	return IRIS_OK;
}

/* The oldest unacked message's age: a query over every inbox with a
 * backlog, so it is cached for a few seconds. */
static uint64_t
oldest_age(struct iris_engine *eng)
{
	uint64_t now = iris__clock_mono_us() / 1000, ms = 0;

	if (eng->oldest_at == 0 || now >= eng->oldest_at + 5000) {
		if (iris__store_oldest_unacked(eng->store, &ms) == IRIS_OK)
			eng->oldest_ms = ms;
		eng->oldest_at = now;
	}
	ms = iris__clock_realtime_ms(NULL);
	return eng->oldest_ms != 0 && ms > eng->oldest_ms ?
	    ms - eng->oldest_ms : 0;
}

static uint64_t
stat_value(struct iris_engine *eng, size_t i)
{
	const struct iris_core_stats *cs = iris__core_stats(eng->core);
	uint64_t v = 0;

	switch (i) {
	case ST_CONNECTIONS:
		return eng->nsessions;
	case ST_MSG_IN:
		return cs->msg_in;
	case ST_DEDUP_HIT:
		return cs->dedup_hit;
	case ST_SENDS_REFUSED:
		return cs->sends_refused + eng->st[ST_SENDS_REFUSED_EDGE];
	case ST_TYPING_SHED:
		return cs->typing_shed;
	case ST_PRESENCE_SHED:
		return cs->presence_shed;
	case ST_RECEIPTS:
		iris_store_stat(eng->store, "receipts", &v);
		return v;
	case ST_RECEIPTS_SHED:
		return cs->receipts_shed;
	case ST_INBOX_DEPTH:
		iris_store_stat(eng->store, "depth", &v);
		return v;
	case ST_OLDEST_UNACKED_MS:
		return oldest_age(eng);
	case ST_OVERLOAD:
		return (uint64_t)iris__core_overload(eng->core);
	case ST_KEYS_UPLOADED:
		return cs->keys_uploaded;
	case ST_BUNDLES_FETCHED:
		return cs->bundles_fetched;
	case ST_PREKEYS_HANDED_OUT:
		return cs->prekeys_handed_out;
	case ST_PREKEYS_EXHAUSTED:
		return cs->prekeys_exhausted;
	case ST_PREKEY_LOW_SENT:
		return cs->prekey_low_sent;
	default:
		return eng->st[i];
	}
}

int
iris_engine_stat(const struct iris_engine *eng, const char *name,
    uint64_t *value)
{
	size_t i;

	if (eng == NULL || name == NULL || value == NULL)
		return IRIS_EINVAL;
	for (i = 0; i < ST_COUNT; i++)
		if (strcmp(stat_names[i], name) == 0) {
			*value = stat_value((struct iris_engine *)eng, i);
			return IRIS_OK;
		}
	return IRIS_ENOTFOUND;
}

const char *
iris_engine_stat_name(size_t index)
{
	return index < ST_COUNT ? stat_names[index] : NULL;
}

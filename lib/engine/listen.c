/* SPDX-License-Identifier: ISC */
/*
 * Listening and accepting: TCP listeners (TLS) on the configured
 * addresses and the opt-in plaintext Unix socket, the per-IP
 * new-connection buckets, and accepting within the connection limit,
 * where a refusal is told over the connection with its retry-after.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "iris.h"
#include "engine/engine.h"
#include "util/alloc.h"
#include "util/clock.h"

#define IP_SLOTS	4096

/* Takes a token from the peer address's bucket; 0 when over the rate. */
static int
ip_allowed(struct iris_engine *eng, const struct sockaddr *sa,
    uint32_t *retry_ms)
{
	const uint8_t *p;
	size_t n, i;
	uint32_t h = 2166136261u;
	struct iris_bucket *b;

	if (sa->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		/* A /64 is one client: the rest is cheap to vary. */
		p = (const uint8_t *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 8;
	} else
		return 1;	/* the local socket */
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	b = &eng->ip_buckets[h % IP_SLOTS];
	return iris__bucket_take(b, iris__clock_mono_us(), 1, retry_ms);
}

int
iris__engine_ip_init(struct iris_engine *eng)
{
	uint64_t now = iris__clock_mono_us();
	uint32_t rate = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_CONN_RATE);
	uint32_t burst = (uint32_t)iris__config_uint(eng->cfg,
	    IRIS__OPT_CONN_BURST);
	size_t i;

	if (eng->ip_buckets == NULL && (eng->ip_buckets = iris__calloc(
	    IP_SLOTS, sizeof(*eng->ip_buckets))) == NULL)
		return IRIS_ENOMEM;
	for (i = 0; i < IP_SLOTS; i++)
		iris__bucket_init(&eng->ip_buckets[i], rate, burst, now);
	return IRIS_OK;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct iris_listener *lst = arg;
	struct iris_engine *eng = lst->eng;
	char peer[INET6_ADDRSTRLEN + 8] = "local";
	uint32_t retry = 0;
	int refuse = 0;

	(void)l, (void)salen;
	if (sa->sa_family == AF_INET)
		evutil_inet_ntop(AF_INET,
		    &((struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
	else if (sa->sa_family == AF_INET6)
		evutil_inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)sa)->sin6_addr, peer,
		    sizeof(peer));
	eng->st[ST_ACCEPTED]++;
	if (!ip_allowed(eng, sa, &retry)) {
		eng->st[ST_REFUSED_RATE]++;
		refuse = iris_v1_ErrorCode_ERR_RATE_LIMITED;
	} else if (eng->nsessions >= eng->max_conns) {
		eng->st[ST_REFUSED_FULL]++;
		refuse = iris_v1_ErrorCode_ERR_TOO_MANY_CONNECTIONS;
		retry = 1000;
	}
	/*
	 * Refusals are told over the connection, but not to more than a
	 * few beyond the limit at once: past that the socket just closes.
	 */
	if (eng->stopping || (refuse != 0 && eng->nrefusing >= 64) ||
	    iris__session_new(eng, fd, lst->tls, peer, refuse, retry) !=
	    IRIS_OK)
		evutil_closesocket(fd);
}

/* HOST:PORT or [V6]:PORT, numeric, port 0 allowed (libevent's refuses). */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, int *len)
{
	char host[128];
	const char *colon, *h = addr;
	size_t hlen;
	long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (*addr == '[') {
		if ((colon = strstr(addr, "]:")) == NULL)
			return -1;
		h = addr + 1;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - addr);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr)
	    == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

int
iris__engine_listen(struct iris_engine *eng, const char *addr, int tls)
{
	struct iris_listener *lst = &eng->lst[eng->nlst];
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	socklen_t len = sizeof(ss);
	int sslen = sizeof(ss);
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE;

	memset(&ss, 0, sizeof(ss));
	lst->eng = eng;
	lst->tls = tls;
	lst->port = -1;
	if (tls) {
		if (parse_addr(addr, &ss, &sslen) != 0)
			return iris__engine_fail(eng, IRIS_ECONFIG, "listen %.200s: not "
			    "an address", addr);
		lst->l = evconnlistener_new_bind(eng->base, on_accept, lst,
		    flags, 1024, (struct sockaddr *)&ss, sslen);
	} else {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof(sun.sun_path))
			return iris__engine_fail(eng, IRIS_ECONFIG, "unix_socket %.200s: "
			    "path too long", addr);
		strcpy(sun.sun_path, addr);
		unlink(addr);	/* a stale socket, never a regular file */
		lst->l = evconnlistener_new_bind(eng->base, on_accept, lst,
		    flags & ~LEV_OPT_REUSEABLE, 1024, (struct sockaddr *)&sun,
		    sizeof(sun));
		if (lst->l != NULL)
			chmod(addr, 0600);
	}
	if (lst->l == NULL)
		return iris__engine_fail(eng, IRIS_EIO, "listen %.200s: %s", addr,
		    strerror(errno));
	if (tls && getsockname(evconnlistener_get_fd(lst->l),
	    (struct sockaddr *)&ss, &len) == 0)
		lst->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	if (tls)
		snprintf(lst->name, sizeof(lst->name), "%.100s (port %d)",
		    addr, lst->port);
	else
		snprintf(lst->name, sizeof(lst->name), "%.100s (plaintext)",
		    addr);
	iris__log(&eng->log, IRIS_LOG_NOTICE, "listening on %s", lst->name);
	eng->nlst++;
	return IRIS_OK;
}

/* SPDX-License-Identifier: ISC */
/*
 * The server engine: what a program embeds to become an Iris server (irisd
 * is one such program). An engine lives on the embedder's event_base and
 * owns its listeners, TLS identity, connections and store. See
 * iris_engine_new(3).
 */
#ifndef IRIS_SERVER_H
#define IRIS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <iris.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct iris_engine;

/*
 * Creates an engine from cfg (copied): opens the store and the TLS
 * identity in data_dir (making them on first start) and starts listening.
 * On failure *engp is NULL and the reason is logged.
 */
IRIS_API int	 iris_engine_new(struct iris_engine **engp,
		    struct event_base *base, const struct iris_config *cfg);
/* Frees at once, closing every connection; NULL is fine. */
IRIS_API void	 iris_engine_free(struct iris_engine *eng);

/*
 * Graceful stop: stops accepting, tells connected clients, lets pending
 * store commits finish, then calls cb on the loop. Free the engine after.
 */
typedef void (*iris_engine_cb)(struct iris_engine *eng, void *arg);
IRIS_API int	 iris_engine_shutdown(struct iris_engine *eng,
		    iris_engine_cb cb, void *arg);

/* Takes new limits and certificates from cfg (on SIGHUP, for irisd). */
IRIS_API int	 iris_engine_reconfigure(struct iris_engine *eng,
		    const struct iris_config *cfg);

IRIS_API const char *iris_engine_error(const struct iris_engine *eng);
/* The port listener idx is bound to (useful with port 0), or -1. */
IRIS_API int	 iris_engine_port(const struct iris_engine *eng, size_t idx);
/* The port of the metrics endpoint (metrics_listen), or -1 when off. */
IRIS_API int	 iris_engine_metrics_port(const struct iris_engine *eng);
/* The SHA-256 of the certificate's public key, 64 hex digits. */
IRIS_API int	 iris_engine_fingerprint(const struct iris_engine *eng,
		    char *buf, size_t len);
/*
 * Registration hook, used when the registration option is "hook": called
 * on the loop for each new user; return IRIS_OK to allow it, anything
 * else to refuse. invite is the code the client sent ("" if none).
 */
typedef int (*iris_register_cb)(struct iris_engine *eng, const char *user,
    const char *invite, void *arg);
IRIS_API void	 iris_engine_set_register_cb(struct iris_engine *eng,
		    iris_register_cb cb, void *arg);

/*
 * Administration (irisctl, embedders): an invite code for a new user
 * (user NULL: any user id) valid for ttl_ms, written into code (at least
 * 33 bytes); a device revoked (its sessions are closed within the
 * revocation_check period). cb gets the outcome once it is durable.
 */
typedef void (*iris_admin_cb)(struct iris_engine *eng, int result,
    void *arg);
IRIS_API int	 iris_engine_invite(struct iris_engine *eng, const char *user,
		    uint64_t ttl_ms, char *code, size_t len, iris_admin_cb cb,
		    void *arg);
IRIS_API int	 iris_engine_revoke_device(struct iris_engine *eng,
		    const char *user, uint32_t device, iris_admin_cb cb,
		    void *arg);

/* Counters by name ("connections", "frames_in", ...), see the man page. */
IRIS_API int	 iris_engine_stat(const struct iris_engine *eng,
		    const char *name, uint64_t *value);
IRIS_API const char *iris_engine_stat_name(size_t index);

#ifdef __cplusplus
}
#endif
#endif /* IRIS_SERVER_H */

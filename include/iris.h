/* SPDX-License-Identifier: ISC */
/*
 * libiris: the embeddable, end-to-end encrypted messaging engine.
 * This header holds what every embedder needs: version, error codes,
 * logging and configuration. See libiris(3) for the object model,
 * threading and ownership rules, and one man page per function group.
 */
#ifndef IRIS_H
#define IRIS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version. These macros are the only place the version lives: the
 * Makefile, the pkg-config file and the man pages take it from here.
 * IRIS_ABI is the SONAME number; it changes on any incompatible change.
 */
#define IRIS_VERSION_MAJOR	0
#define IRIS_VERSION_MINOR	1
#define IRIS_VERSION_PATCH	0
#define IRIS_VERSION_STRING	"0.1.0"
#define IRIS_VERSION_NUMBER	((IRIS_VERSION_MAJOR << 16) | \
				 (IRIS_VERSION_MINOR << 8) | IRIS_VERSION_PATCH)
#define IRIS_ABI		0

/* The newest protocol version this library speaks (iris-protocol(7)). */
#define IRIS_PROTOCOL_VERSION	1

#if defined(__GNUC__) && __GNUC__ >= 4
#define IRIS_API	__attribute__((visibility("default")))
#else
#define IRIS_API
#endif

/* Runtime version, to compare with the header the program was built with. */
IRIS_API unsigned	 iris_version_number(void);
IRIS_API const char	*iris_version_string(void);

/*
 * Errors. Functions return IRIS_OK (0) or one of these negative codes.
 * The table is append only: a code's name and number never change.
 * XX(name, number, message)
 */
#define IRIS_ERRNO_MAP(XX)						\
	XX(IRIS_OK,		  0, "success")				\
	XX(IRIS_ENOMEM,		 -1, "out of memory")			\
	XX(IRIS_EINVAL,		 -2, "invalid argument")			\
	XX(IRIS_ESTATE,		 -3, "call not valid in the current state") \
	XX(IRIS_EIO,		 -4, "input/output error")		\
	XX(IRIS_ETLS,		 -5, "TLS error")			\
	XX(IRIS_EPROTO,		 -6, "malformed protocol data")		\
	XX(IRIS_ESTORE,		 -7, "storage error")			\
	XX(IRIS_ECLOSED,	 -8, "connection closed")		\
	XX(IRIS_ETOOBIG,	 -9, "too large")			\
	XX(IRIS_ELIMIT,		-10, "limit reached")			\
	XX(IRIS_EAGAIN,		-11, "temporarily refused, retry later")	\
	XX(IRIS_ENOTFOUND,	-12, "not found")			\
	XX(IRIS_EEXIST,		-13, "already exists")			\
	XX(IRIS_EAUTH,		-14, "authentication failed")		\
	XX(IRIS_EDENIED,	-15, "permission denied")		\
	XX(IRIS_ETIMEDOUT,	-16, "timed out")			\
	XX(IRIS_ENOTSUP,	-17, "not supported")			\
	XX(IRIS_EVERSION,	-18, "unsupported version")		\
	XX(IRIS_ECORRUPT,	-19, "corrupt data")			\
	XX(IRIS_ESTALE,		-20, "stale state")			\
	XX(IRIS_ECRYPTO,	-21, "cryptographic check failed")	\
	XX(IRIS_ECONFIG,	-22, "invalid configuration")		\
	XX(IRIS_ESHUTDOWN,	-23, "shutting down")			\
	XX(IRIS_EBUSY,		-24, "in use by another process")

enum iris_errno {
#define IRIS__ERRNO_ENUM(name, num, msg) name = (num),
	IRIS_ERRNO_MAP(IRIS__ERRNO_ENUM)
#undef IRIS__ERRNO_ENUM
	IRIS__ERRNO_LAST = IRIS_EBUSY	/* moves when codes are appended */
};

/* Text for an error code; never NULL (unknown codes get a generic text). */
IRIS_API const char	*iris_strerror(int code);
/* The code's name, such as "IRIS_EAGAIN"; never NULL. */
IRIS_API const char	*iris_errname(int code);

/*
 * A new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then random bits,
 * the form of client message ids. IRIS_OK, or IRIS_EIO when the system's
 * random source fails.
 */
IRIS_API int	 iris_uuid_v7(unsigned char out[16]);

/*
 * Logging. The library never writes to stderr or syslog itself: it calls
 * the embedder's callback, on the loop thread, with a syslog(3) priority
 * and one line of text without a trailing newline. No secret and no
 * message content ever appears in a log line.
 */
#define IRIS_LOG_ERR		3
#define IRIS_LOG_WARNING	4
#define IRIS_LOG_NOTICE		5
#define IRIS_LOG_INFO		6
#define IRIS_LOG_DEBUG		7

typedef void (*iris_log_cb)(int level, const char *msg, void *arg);

/*
 * Configuration: one table of options (name, type, default, validation)
 * behind string setters; iris.conf(5) lists every option. A config is
 * copied by whatever object is created from it, so it can be changed or
 * freed afterwards. Errors leave the config unchanged and put a message
 * naming the option (and file:line when loading a file) in
 * iris_config_error().
 */
struct iris_config;

IRIS_API int	 iris_config_new(struct iris_config **cfgp);
IRIS_API void	 iris_config_free(struct iris_config *cfg);
IRIS_API int	 iris_config_set(struct iris_config *cfg, const char *key,
		    const char *value);
IRIS_API int	 iris_config_get(const struct iris_config *cfg,
		    const char *key, char *buf, size_t len);
IRIS_API int	 iris_config_load_file(struct iris_config *cfg,
		    const char *path);
IRIS_API const char *iris_config_error(const struct iris_config *cfg);
IRIS_API void	 iris_config_set_log_cb(struct iris_config *cfg,
		    iris_log_cb cb, void *arg);
/* Option names in table order, for listing; NULL past the end. */
IRIS_API const char *iris_config_key(size_t index);
IRIS_API const char *iris_config_default(size_t index);
IRIS_API const char *iris_config_describe(size_t index);

#ifdef __cplusplus
}
#endif
#endif /* IRIS_H */

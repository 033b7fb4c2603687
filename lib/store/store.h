/* SPDX-License-Identifier: ISC */
/*
 * The durable store, inside: one SQLite file in WAL mode with
 * synchronous=FULL; a writer connection owned by the writer thread (group
 * commit, lib/store/worker.c) and a read-only connection used on the loop.
 */
#ifndef IRIS_STORE_STORE_H
#define IRIS_STORE_STORE_H

#include <stdint.h>

#include <sqlite3.h>

#include "iris_store.h"
#include "store/worker.h"
#include "util/hlc.h"
#include "util/log.h"

#define IRIS_SHARDS		1024
/* Envelopes in one send: the protocol's ceiling (2 x 64 devices - 1). */
#define IRIS_STORE_MAX_TARGETS	127
#define IRIS_SCHEMA_VERSION	2
#define IRIS_APPLICATION_ID	0x49524953	/* "IRIS" */

/* Options for tests and tools; the public open uses the defaults. */
struct iris__store_opts {
	const char	*vfs;		/* SQLite VFS name, NULL: default */
	uint64_t	(*now_ms)(void *arg);	/* wall clock */
	void		*now_arg;
	unsigned	 tick_ms;	/* writer maintenance period */
	unsigned	 recover_ms;	/* wait after a failed recovery try,
					 * doubling up to 30 s */
	int		 max_schema;	/* migrate only up to this (tests) */
};

/* Statements of the writer connection. */
enum {
	WS_SEND_GET, WS_SEND_PUT, WS_BOX_GET, WS_BOX_NEW, WS_BOX_HEAD,
	WS_INBOX_PUT, WS_ACK, WS_COUNT
};
/* Statements of the read connection. */
enum {
	RS_SCAN, RS_DEPTH, RS_DEVICE, RS_USER, RS_DEVLIST, RS_REVOKED,
	RS_COUNT
};

struct iris_store {
	struct event_base	*base;
	struct iris_config	*cfg;
	struct iris_logger	 log;
	char			*path;
	char			 err[512];
	struct iris__store_opts	 opts;

	/* Limits, from the config. */
	uint64_t		 inbox_cap;
	uint64_t		 dedup_window_ms;
	uint64_t		 retention_ms;
	uint64_t		 wal_max;
	size_t			 max_envelope;
	size_t			 max_envelopes;

	/* Writer thread only, once it runs. */
	sqlite3			*wdb;
	sqlite3_stmt		*ws[WS_COUNT];
	struct iris_hlc		 hlc;
	char			 werr[512];
	uint64_t		 next_recover_ms;
	unsigned		 recover_wait_ms;
	uint64_t		 next_prune_ms;
	int64_t			 prune_from_box;

	/* Shared: set by the writer, read anywhere (atomics). */
	int			 read_only;
	uint64_t		 n_appends;	/* sends stored */
	uint64_t		 n_envelopes;
	uint64_t		 n_dups;
	uint64_t		 n_refused_full;
	uint64_t		 n_io_errors;
	uint64_t		 n_recoveries;
	uint64_t		 n_checkpoints;
	uint64_t		 n_pruned_msgs;
	uint64_t		 n_pruned_sends;

	/* Loop side. */
	sqlite3			*rdb;
	sqlite3_stmt		*rs[RS_COUNT];
	struct iris_worker	*w;
	uint64_t		 n_busy;	/* appends refused: queue full */
};

struct iris_target {
	char			 user[65];
	uint32_t		 device;
	uint16_t		 shard;
	uint8_t			*data;
	size_t			 len;
};

struct iris_send {
	struct iris_job		 job;		/* first: jobs are sends */
	struct iris_store	*store;
	iris_append_cb		 cb;
	void			*arg;
	char			 user[65];
	uint32_t		 device;
	uint8_t			 cmid[16];
	int			 msg_class;
	struct iris_target	*t;
	size_t			 n;
	size_t			 cap;
	/* Results, set on the writer thread. */
	uint64_t		 msg_id;
	uint64_t		*seqs;
	int			 duplicate;
};

struct iris_message {
	uint64_t		 seq;
	uint64_t		 msg_id;
	const char		*sender;
	uint32_t		 sender_device;
	const uint8_t		*cmid;
	int			 msg_class;
	uint64_t		 received_ms;
	const void		*data;
	size_t			 len;
};

int	 iris__store_open_ex(struct iris_store **storep,
	    struct event_base *base, const char *path,
	    const struct iris_config *cfg, const struct iris__store_opts *opts);

/* lib/store/schema.c: open a connection, migrate, check. */
int	 iris__store_db_open(struct iris_store *s, sqlite3 **dbp,
	    int readonly, char *err, size_t errlen);
int	 iris__store_migrate(struct iris_store *s, sqlite3 *db, char *err,
	    size_t errlen);
int	 iris__store_prepare(sqlite3 *db, sqlite3_stmt **st,
	    const char *const *sql, int n, char *err, size_t errlen);
void	 iris__store_finalize(sqlite3_stmt **st, int n);

/* lib/store/inbox.c: the writer's side, run inside batch transactions. */
extern const struct iris_worker_ops iris__store_worker_ops;
extern const struct iris_job_ops iris__send_job_ops;
extern const char *const iris__store_wsql[WS_COUNT];
int	 iris__store_fatal(struct iris_store *s, int sqlite_rc,
	    const char *what);

/* lib/store/cursor.c: acks. */
extern const struct iris_job_ops iris__ack_job_ops;
struct iris_ack_job {
	struct iris_job		 job;
	struct iris_store	*store;
	iris_ack_cb		 cb;
	void			*arg;
	char			 user[65];
	uint32_t		 device;
	uint64_t		 seq;
	uint64_t		 acked;		/* result */
};

/* lib/store/maint.c: checkpoints, pruning, recovery (writer thread). */
void	 iris__store_tick(void *ctx);
int	 iris__store_writer_open(struct iris_store *s);
void	 iris__store_writer_close(struct iris_store *s);

/* The logical shard (0..1023) of a user id: stable, FNV-1a. */
uint16_t iris__store_shard(const char *user);

uint64_t iris__store_now(const struct iris_store *s);
/* Logs from the writer thread: the line is handed to the loop, where the
 * embedder's callback runs (libiris calls it on the loop only). */
void	 iris__store_wlog(struct iris_store *s, int level, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 iris__store_seterr(struct iris_store *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The writer's counters (commit latency histogram included). */
void	 iris__store_worker_stats(struct iris_store *s,
	    struct iris_worker_stats *st);

/* lib/store/read.c */
#define IRIS_STORE_SCAN_MAX	4096	/* messages in one scan */
extern const char *const iris__store_rsql[RS_COUNT];

#endif /* IRIS_STORE_STORE_H */

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
#define IRIS_SCHEMA_VERSION	3
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
	WS_SEND_GET, WS_SEND_PUT, WS_BOX_GET, WS_BOX_NEW, WS_BOX_SET,
	WS_BOX_HEAD, 	WS_INBOX_PUT, WS_RCPT_SCAN, WS_RECEIPTS_ON, WS_BEGIN, WS_COMMIT,
	WS_COUNT
};
/* Statements of the read connection. */
enum {
	RS_SCAN, RS_DEPTH, RS_DEVICE, RS_USER, RS_DEVLIST, RS_REVOKED,
	RS_SETTINGS, RS_CONTACT, RS_CONTACTS, RS_DEPTH_ALL, RS_OLDEST,
	RS_BEGIN, RS_COMMIT, RS_COUNT
};

/* Statements of the key directory (lib/store/keys.c): writer, read. */
enum {
	WK_DEVICE, WK_SPK_BY_ID, WK_SPK_CURRENT, WK_SPK_PUT, WK_SPK_TRIM,
	WK_SPK_RETIRE, WK_OPK_GET, WK_OPK_PUT, WK_OPK_COUNT, WK_OPK_TAKE,
	WK_COUNT
};
enum { RK_STATE, RK_COUNT };

struct iris_store {
	struct event_base	*base;
	struct iris_config	*cfg;
	struct iris_logger	 log;
	char			*path;
	int			 lock_fd;	/* held while open */
	char			 err[512];
	struct iris__store_opts	 opts;

	/* Limits, from the config. */
	uint64_t		 inbox_cap;
	uint64_t		 dedup_window_ms;
	uint64_t		 retention_ms;
	uint64_t		 wal_max;
	int			 durable;	/* 0: durability none */
	size_t			 max_envelope;
	size_t			 max_envelopes;

	/* Writer thread only, once it runs. */
	sqlite3			*wdb;
	sqlite3_stmt		*ws[WS_COUNT];
	sqlite3_stmt		*wk[WK_COUNT];
	struct iris_hlc		 hlc;
	char			 werr[512];
	uint64_t		 next_recover_ms;
	unsigned		 recover_wait_ms;
	uint64_t		 next_prune_ms;
	int64_t			 prune_from_box;
	struct iris_chain	*touched;	/* chains sent on in this batch */

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
	uint64_t		 n_receipts;	/* delivery receipts stored */
	uint64_t		 n_depth;	/* unacked messages, all inboxes */

	/* Loop side. */
	sqlite3			*rdb;
	sqlite3_stmt		*rs[RS_COUNT];
	sqlite3_stmt		*rk[RK_COUNT];
	struct iris_worker	*w;
	uint64_t		 n_busy;	/* appends refused: queue full */
	struct iris__boxcache	*boxcache;	/* inbox positions */
	unsigned		 read_hold;	/* iris__acct_read_hold depth */

	/*
	 * The WAL and its checkpointer (lib/store/ckpt.c). The writer learns
	 * the WAL's frames from each commit (its WAL hook) and, once they
	 * pass wal_restart_frames, copies the tail the checkpointer left.
	 */
	struct iris__ckpt	*ckpt;
	uint64_t		 wal_restart_frames;	/* set at open */
	uint64_t		 wal_frames;	/* after the last commit (atomic) */
	uint64_t		 wal_restarts;	/* the log began again (atomic) */
	int			 wal_clean;	/* writer: all of it copied */
	uint64_t		 tail_seen;	/* writer: passes looked at */

	/* Writer thread: its cache of inboxes and settings (wcache.c). */
	struct iris__wcache	*wcache;
	int			 wcache_failed;	/* no memory: write through */
};

struct iris_target {
	char			 user[65];
	uint32_t		 device;
	uint16_t		 shard;
	uint8_t			*data;
	size_t			 len;
};

/*
 * A sending device's FIFO chain (lib/core): a chained send is stored only
 * when every earlier send of its chain was, so once one is refused the
 * later ones are refused too (IRIS_ESTATE) and the sender starts a new
 * chain when it resends, in order. Sends carry their index in the chain.
 */
struct iris_chain {
	/* The loop's side. */
	int			 refs;
	uint64_t		 submitted;	/* index of the last send queued */
	int			 broken;	/* a send refused before the store */
	/* The writer thread's side: the next index the chain takes, as
	 * committed and within the batch being run. */
	uint64_t		 w_next;
	uint64_t		 w_tent;
	int			 w_touched;
	struct iris_chain	*w_link;
};

/* The stored class of the delivery receipts the server makes. */
#define IRIS__CLASS_DELIVERY	16

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
	struct iris_chain	*chain;		/* NULL: not chained */
	uint64_t		 idx;		/* its index in the chain */
	char			 trace[33];	/* for log lines, "" if none */
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
#define IRIS__DB_WRITER	0	/* the writer: WAL appends gathered */
#define IRIS__DB_READER	1	/* read-only */
#define IRIS__DB_CKPT	2	/* the checkpointer: read-write, plain VFS */
int	 iris__store_db_open(struct iris_store *s, sqlite3 **dbp,
	    int mode, char *err, size_t errlen);
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
int	 iris__store_step_done(struct iris_store *s, sqlite3_stmt *st,
	    const char *what);

/*
 * lib/store/wcache.c: the writer's inboxes, exact within its transaction.
 * get: the box of (user, device) (made when new, with create set; else
 * *found says whether it exists); set: its new head and cursor, written
 * to the file by flush before the batch commits (or earlier); clear: a
 * batch failed, forget everything. Writer thread only.
 */
struct iris__wbox_pos {
	int64_t			 id;
	uint64_t		 head;
	uint64_t		 acked;
};
int	 iris__wbox_get(struct iris_store *s, const char *user,
	    uint32_t device, uint16_t shard, int create,
	    struct iris__wbox_pos *p, int *found);
int	 iris__wbox_set(struct iris_store *s, const char *user,
	    uint32_t device, const struct iris__wbox_pos *p);
int	 iris__wcache_flush(struct iris_store *s);
void	 iris__wcache_clear(struct iris_store *s);
void	 iris__wcache_free(struct iris_store *s);
/* The acking user's receipts setting; forget: the writer changed it. */
int	 iris__wcache_receipts(struct iris_store *s, const char *user,
	    int *on);
void	 iris__wcache_receipts_forget(struct iris_store *s,
	    const char *user);

/* lib/store/cursor.c: acks. */
extern const struct iris_job_ops iris__ack_job_ops;

/* Most seqs one ack job may cover when it makes receipts. */
#define IRIS_RCPT_MAX		1024

/* A delivery receipt stored in the inbox of the message's sender. */
struct iris_rcpt {
	char			 user[65];	/* the sender: whose inbox */
	uint32_t		 device;
	uint64_t		 seq;		/* its seq there */
	uint64_t		 msg_id;	/* the message delivered */
	uint8_t			 cmid[16];
	uint64_t		 at_ms;
};

struct iris_ack_job;
typedef void (*iris__ack_done_cb)(struct iris_ack_job *job, void *arg);

struct iris_ack_job {
	struct iris_job		 job;
	struct iris_store	*store;
	iris_ack_cb		 cb;
	iris__ack_done_cb	 icb;		/* the core's, instead of cb */
	void			*arg;
	char			 user[65];
	uint32_t		 device;
	uint64_t		 seq;
	int			 receipts;	/* make delivery receipts */
	uint64_t		 acked;		/* result: the cursor */
	uint64_t		 advanced;	/* result: how far it moved */
	struct iris_rcpt	*rcpts;		/* result: receipts stored */
	size_t			 nrcpts;
};

/*
 * The core's ack: like iris_store_ack, and with receipts set, a delivery
 * receipt for the sender of each message (class 0 from another user)
 * that the ack covers, if the ack covers at most IRIS_RCPT_MAX seqs and
 * the acking user has receipts on. IRIS_EINVAL (job rc) past the head.
 */
int	 iris__store_ack_ex(struct iris_store *s, const char *user,
	    uint32_t device, uint64_t seq, int receipts, iris__ack_done_cb cb,
	    void *arg);

/* Chains (loop side). */
struct iris_chain *iris__chain_new(void);
void	 iris__chain_unref(struct iris_chain *c);
/* Chains a send before iris_store_append: takes a reference. */
void	 iris__send_chain(struct iris_send *m, struct iris_chain *c);
/* Writer side, at the end of a batch. */
void	 iris__chains_settle(struct iris_store *s, int committed);

/* lib/store/maint.c: checkpoints, pruning, recovery (writer thread). */
void	 iris__store_tick(void *ctx);
int	 iris__store_writer_open(struct iris_store *s);
void	 iris__store_writer_close(struct iris_store *s);
/* Closes the files, drops the lock and frees s (open failed or closed). */
void	 iris__store_free_parts(struct iris_store *s);

/* The writer connection's WAL hook: counts the WAL's frames. */
int	 iris__store_wal_hook(void *arg, sqlite3 *db, const char *name,
	    int frames);

/*
 * lib/store/ckpt.c: the checkpointer, a thread with its own connection
 * that copies the WAL into the database file and syncs it, PASSIVE, while
 * the writer goes on committing; it runs every tick and when kicked, and
 * skips its passes while the store is read-only.
 */
struct iris__ckpt;
int	 iris__ckpt_new(struct iris_store *s, struct iris__ckpt **ckp);
int	 iris__ckpt_start(struct iris__ckpt *ck);
/* Joins the thread and closes its connection; idempotent. */
void	 iris__ckpt_stop(struct iris__ckpt *ck);
void	 iris__ckpt_free(struct iris__ckpt *ck);
/* Writer: a pass soon. */
void	 iris__ckpt_kick(struct iris__ckpt *ck);
/* Writer, read-only set: returns once no pass runs (none starts). */
void	 iris__ckpt_wait_idle(struct iris__ckpt *ck);
/*
 * Writer: 1 when no pass runs and one finished since *seen (then *seen,
 * and what it left: the WAL's frames it saw, the frames copied, and the
 * writer's restart count when it began); else 0, and a pass is kicked
 * unless one runs.
 */
int	 iris__ckpt_result(struct iris__ckpt *ck, uint64_t *seen,
	    uint64_t *frames, uint64_t *copied, uint64_t *restarts);

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

/* lib/store/keys.c: the key directory's statements. */
extern const char *const iris__store_keys_wsql[WK_COUNT];
extern const char *const iris__store_keys_rsql[RK_COUNT];

/* lib/store/read.c */
#define IRIS_STORE_SCAN_MAX	4096	/* messages in one scan */
extern const char *const iris__store_rsql[RS_COUNT];
uint64_t iris__store_depth_all(struct iris_store *s);
int	 iris__store_oldest_unacked(struct iris_store *s, uint64_t *ms);

/*
 * lib/store/boxcache.c: a device's cursor and head as committed, from
 * memory (loop side). fresh: read the file (a refusal is confirmed so).
 */
int	 iris__store_position(struct iris_store *s, const char *user,
	    uint32_t device, int fresh, uint64_t *acked, uint64_t *head);
/* A commit raised them (0: unchanged); kept only if the entry is held. */
void	 iris__boxcache_note(struct iris_store *s, const char *user,
	    uint32_t device, uint64_t acked, uint64_t head);
void	 iris__boxcache_free(struct iris_store *s);

/*
 * lib/store/walbuf.c: the name of a VFS over below_name (NULL: the
 * default) that writes a commit's WAL frames with one call at its sync;
 * for synchronous=FULL only. NULL if it cannot be registered.
 */
const char *iris__walbuf_vfs(const char *below_name);

#endif /* IRIS_STORE_STORE_H */

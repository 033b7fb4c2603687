/* SPDX-License-Identifier: ISC */
/*
 * iris-bench: a load generator for a real irisd over libiris's wire codec
 * and TLS layer, many connections on one event loop, every frame decoded
 * and every sequence number checked while it measures (tests/bench/
 * iris_bench/, one program). A run with any loss, duplicate, gap,
 * error frame or no traffic fails and prints no figure.
 */
#ifndef IRIS_BENCH_IB_H
#define IRIS_BENCH_IB_H

#include <stddef.h>
#include <stdint.h>

#include "benchutil.h"
#include "daemon.h"
#include "msgclient.h"

#define IB_PAYLOAD	512		/* bytes per envelope (P1) */
#define IB_RID0		(1ull << 20)	/* first request id of sends */
#define IB_SYNC_RID	(1ull << 40)	/* request ids of sync pages */

/* Settings of a run, printed with its figures. */
struct ib_opts {
	int		 full;		/* full scale (else short) */
	int		 smoke;		/* seconds-long check run */
	int		 nodurable;	/* irisd with durability none */
	uint64_t	 seed;
	int		 users;		/* durable workload */
	double		 level_s;	/* seconds per rate level */
	int		 nlevels;
	unsigned	 rates[16];	/* offered msgs/s per level */
	unsigned	 latency_msgs;
	unsigned	 backlog;	/* drain */
	int		 idle_conns;
	int		 logins;	/* reconnect, full handshakes */
	int		 tickets;	/* reconnect, ticket resumes */
	double		 fsync_s;
	char		 workloads[128];
};

/* The irisd under test, in a fresh directory. */
struct ib_server {
	struct daemon	 d;
	char		*dir;
	int		 metrics_port;
	int		 durable;	/* its iris_store_durable gauge */
};

/* One user with one device on one connection. */
struct ib_dev {
	struct mc_user	 u;
	uint32_t	 idx;
	uint64_t	 nsent;		/* sends made; rid = IB_RID0 + i */
	uint64_t	*t0;		/* ns when send i left */
	uint8_t		*acked;
	size_t		 cap;
	uint64_t	 next_seq;	/* the delivery seq expected next */
	uint64_t	 acked_seq;	/* cursor acked to the server */
	uint64_t	 got;
	int		 paging;	/* a sync page asked for */
	int		 synced;	/* the last page came (no more) */
};

struct ib_pair {
	uint64_t	 sent, got;
};

/* The clients of a workload, their counters and their samples. */
struct ib_fleet {
	struct event_base *base;
	struct ib_server *srv;
	struct ib_dev	**dev;
	int		 n;
	struct bu_map	 pairs;		/* from << 32 | to -> ib_pair */
	uint64_t	 rng;
	struct event	*tick;
	uint64_t	 sent, acked, delivered, errors;
	uint64_t	*ack_ns, *dlv_ns;
	size_t		 nack, ndlv, scap;
	int		 bad;
	char		 why[256];	/* the first failure */
};

/* Latency figures in ms of sorted samples. */
struct ib_lat {
	double		 p50, p99, p999, max;
	size_t		 n;
};

/* fleet.c */
int	 ib_fleet_init(struct ib_fleet *f, struct event_base *base,
	    struct ib_server *srv, int n, const char *tag, int nlive,
	    uint64_t seed);
void	 ib_fleet_free(struct ib_fleet *f);
int	 ib_send(struct ib_fleet *f, int from, int to);
void	 ib_poll(struct ib_fleet *f, int block);
void	 ib_fail(struct ib_fleet *f, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 ib_settled(const struct ib_fleet *f);
int	 ib_settle(struct ib_fleet *f, unsigned timeout_ms);
int	 ib_sync_page(struct ib_fleet *f, int i, uint32_t max);
void	 ib_samples_reset(struct ib_fleet *f);
void	 ib_lat(uint64_t *ns, size_t n, struct ib_lat *out);

/* server.c */
int	 ib_server_start(struct ib_server *s, const struct ib_opts *o,
	    const char *extra_conf);
void	 ib_server_stop(struct ib_server *s);
/* appends/commits from /metrics: its two counters (-1 when unread). */
int	 ib_server_commits(const struct ib_server *s, double *appends,
	    double *commits);
double	 ib_server_cpu(const struct ib_server *s);
/*
 * irisd's own send->ack histogram (iris_send_ack_seconds in /metrics):
 * cumulative counts at its bucket bounds (seconds; the last +Inf).
 * Returns the number of buckets read, or -1.
 */
#define IB_HBUCKETS	16
struct ib_hist {
	double		 le[IB_HBUCKETS], n[IB_HBUCKETS];
	int		 nb;
};
int	 ib_server_hist(const struct ib_server *s, const char *name,
	    struct ib_hist *h);
/* The bucket bound (ms) under which fraction q of b - a fell; -1: none. */
double	 ib_hist_quantile(const struct ib_hist *a, const struct ib_hist *b,
	    double q);

/* Output: a row of the table, and a JSON line per workload. */
void	 ib_row(const char *workload, const char *figure, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 ib_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The workloads: 0, or -1 when the run failed (reason printed). */
int	 ib_durable(const struct ib_opts *o, struct ib_server *s);
int	 ib_latency(const struct ib_opts *o, struct ib_server *s);
int	 ib_drain(const struct ib_opts *o, struct ib_server *s);
int	 ib_idle(const struct ib_opts *o, struct ib_server *s);
int	 ib_reconnect(const struct ib_opts *o, struct ib_server *s);

#endif

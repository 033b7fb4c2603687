/* SPDX-License-Identifier: ISC */
/*
 * The store benchmark: this machine's fsync floor, durable appends with
 * one commit each, and group commit under many concurrent producers, all
 * verified by reading them back; prints a table and one JSON line. With
 * -l it also compares inbox layouts and secure_delete on raw SQLite.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "iris.h"
#include "iris_store.h"
#include "benchutil.h"

#define U(x)		((unsigned long long)(x))
#define TARGET_RATE	50000.0	/* durable appends/s with group commit */
#define TARGET_RATIO	6.0	/* ... and this many times the fsync rate */

struct opts {
	const char	*dir;
	double		 secs;		/* phases (a) and (b) */
	size_t		 total;		/* appends in phase (c) */
	size_t		 inflight;
	unsigned	 senders, recipients;
	size_t		 envlen;
	uint64_t	 seed;		/* of the envelopes' bytes */
	int		 layouts, keep;
	const char	*set[16];	/* -o key=value */
	int		 nset;
};

/* One append of a run. */
struct app {
	uint64_t	 t_submit;	/* ns */
	uint64_t	 lat;		/* ns, submit to callback */
	uint64_t	 msg_id, seq;
	uint32_t	 box;
	int		 rc, done;
};

/* One store run: appends, each to one device, many of them in flight. */
struct run {
	const struct opts *o;
	struct event_base *base;
	struct iris_store *st;
	uint64_t	 seed;
	struct app	*a;
	size_t		 total, submitted, acked, window;
	uint64_t	 t0, t1;	/* ns: first submit, last callback */
	uint64_t	 commits, jobs, max_batch;
	double		 cpu;		/* CPU seconds of the process */
	int		 bad;
};

struct figures {
	double		 fsync_per_s, fsync_p50_us, fsync_p99_us;
	double		 ow_per_s, ow_p50_us, ow_p99_us;
	double		 single_per_s, single_p50_ms, single_p99_ms;
	double		 group_per_s, msgs_per_commit, ack_p50_ms, ack_p99_ms;
	double		 group_cpu, wal_mb;
	uint64_t	 commits, max_batch, verified;
};

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Append id's envelope: its id, then bytes that follow from it. */
static void
envelope(const struct run *r, uint64_t id, uint8_t *buf)
{
	memcpy(buf, &id, sizeof(id));
	bu_fill(buf + 8, r->o->envlen - 8, r->seed ^ bu_mix(id));
}

static void	 on_append(struct iris_store *, int, uint64_t,
		    const uint64_t *, size_t, int, void *);

static int
submit(struct run *r)
{
	uint64_t id = r->submitted, x = bu_mix(r->seed ^ id), ms;
	uint8_t cmid[16], buf[65536];
	char sender[16], rcpt[16];
	struct iris_send *m;
	struct app *a = &r->a[id];
	struct timespec ts;
	int rc, i;

	/* A UUIDv7 as clients make them: milliseconds, then random. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < 6; i++)
		cmid[i] = (uint8_t)(ms >> (40 - 8 * i));
	bu_fill(cmid + 6, 10, x);
	cmid[6] = (uint8_t)(0x70 | (cmid[6] & 0x0f));
	cmid[8] = (uint8_t)(0x80 | (cmid[8] & 0x3f));
	a->box = (uint32_t)(x % r->o->recipients);
	snprintf(sender, sizeof(sender), "s%05u",
	    (unsigned)(id % r->o->senders));
	snprintf(rcpt, sizeof(rcpt), "r%05u", a->box);
	envelope(r, id, buf);
	if (iris_send_new(&m, sender, 1, cmid, IRIS_CLASS_MESSAGE) !=
	    IRIS_OK || iris_send_add(m, rcpt, 1, buf, r->o->envlen) !=
	    IRIS_OK)
		return -1;
	a->t_submit = bu_now_ns();
	if (r->submitted++ == 0)
		r->t0 = a->t_submit;
	if ((rc = iris_store_append(r->st, m, on_append,
	    (void *)(uintptr_t)id)) != IRIS_OK) {
		fprintf(stderr, "append %llu refused: %s\n", U(id),
		    iris_errname(rc));
		return -1;
	}
	return 0;
}

static struct run *the_run;	/* the callbacks' context */

static void
on_append(struct iris_store *st, int rc, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int dup, void *arg)
{
	struct run *r = the_run;
	struct app *a = &r->a[(uintptr_t)arg];

	(void)st;
	a->lat = bu_now_ns() - a->t_submit;
	a->rc = rc;
	a->done = 1;
	if (rc != IRIS_OK || n != 1 || dup || seqs[0] == 0) {
		r->bad = 1;
	} else {
		a->seq = seqs[0];
		a->msg_id = msg_id;
	}
	r->acked++;
	r->t1 = bu_now_ns();
	/* Closed loop: each ack lets one more in (phase (b) waits itself). */
	while (r->window > 1 && !r->bad && r->submitted < r->total &&
	    r->submitted - r->acked < r->window)
		if (submit(r) != 0)
			r->bad = 1;
}

static int
run_done(void *arg)
{
	struct run *r = arg;

	return r->bad || r->acked == r->submitted;
}

struct scanck {
	struct run	*r;
	uint32_t	 box;
	uint64_t	 next_seq, seen;
	uint8_t		*buf;
};

/* Each stored message: the one its append was told, byte for byte. */
static int
scan_cb(const struct iris_message *msg, void *arg)
{
	struct scanck *c = arg;
	const uint8_t *data;
	uint64_t id;
	size_t len;

	data = iris_message_data(msg, &len);
	if (len != c->r->o->envlen || iris_message_seq(msg) != c->next_seq) {
		c->r->bad = 1;
		return 1;
	}
	memcpy(&id, data, sizeof(id));
	envelope(c->r, id, c->buf);
	if (id >= c->r->total || c->r->a[id].box != c->box ||
	    c->r->a[id].seq != c->next_seq ||
	    c->r->a[id].msg_id != iris_message_id(msg) ||
	    memcmp(data, c->buf, len) != 0) {
		c->r->bad = 1;
		return 1;
	}
	c->next_seq++;
	c->seen++;
	return 0;
}

/* Every callback OK, seqs dense per device, all read back identical. */
static int
verify(struct run *r)
{
	uint64_t *count, total = 0;
	struct scanck c = { r, 0, 1, 0, NULL };
	char rcpt[16];
	size_t i;
	int n;

	if ((count = calloc(r->o->recipients, sizeof(*count))) == NULL ||
	    (c.buf = malloc(r->o->envlen)) == NULL)
		abort();
	for (i = 0; i < r->total && !r->bad; i++)
		if (!r->a[i].done || r->a[i].rc != IRIS_OK)
			r->bad = 1;
		else
			count[r->a[i].box]++;
	for (c.box = 0; c.box < r->o->recipients && !r->bad; c.box++) {
		snprintf(rcpt, sizeof(rcpt), "r%05u", c.box);
		c.next_seq = 1;
		c.seen = 0;
		while ((n = iris_store_scan(r->st, rcpt, 1, c.next_seq - 1,
		    4096, scan_cb, &c)) > 0 && !r->bad)
			;
		if (n < 0 || c.seen != count[c.box])
			r->bad = 1;	/* a gap, a loss or an extra */
		total += c.seen;
	}
	free(count);
	free(c.buf);
	if (r->bad || total != r->total) {
		fprintf(stderr, "store_bench: verification FAILED (%llu of "
		    "%llu appends read back intact)\n", U(total), U(r->total));
		return -1;
	}
	return 0;
}

static uint64_t
stat_of(struct iris_store *st, const char *name)
{
	uint64_t v = 0;

	iris_store_stat(st, name, &v);
	return v;
}

/* Opens a fresh store file in the run directory with the options. */
static struct iris_store *
open_store(const struct opts *o, struct event_base *base, const char *name,
    struct iris_config *cfg)
{
	struct iris_store *st;
	char path[4200];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", o->dir, name);
	if ((rc = iris_store_open(&st, base, path, cfg)) != IRIS_OK) {
		fprintf(stderr, "iris_store_open %s: %s\n", path,
		    iris_errname(rc));
		return NULL;
	}
	return st;
}

/*
 * (b) and (c): window appends in flight, total of them (or as many as fit
 * in o->secs when total is 0, one at a time), then verified.
 */
static int
run_store(const struct opts *o, struct iris_config *cfg, const char *name,
    size_t total, size_t window, struct run *r)
{
	uint64_t c0, j0, end;
	double cpu0;
	int ok;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->seed = bu_mix(o->seed ^ (uint64_t)window);
	r->window = window;
	r->total = total != 0 ? total : (size_t)(o->secs * 50000) + 1000;
	if ((r->a = calloc(r->total, sizeof(*r->a))) == NULL ||
	    (r->base = event_base_new()) == NULL ||
	    (r->st = open_store(o, r->base, name, cfg)) == NULL)
		return -1;
	the_run = r;
	c0 = stat_of(r->st, "commits");
	j0 = stat_of(r->st, "committed_jobs");
	cpu0 = cpu_seconds();
	end = bu_now_ns() + (uint64_t)(o->secs * 1e9);
	if (total == 0) {
		/* One commit per append: wait for each callback. */
		while (r->submitted < r->total && bu_now_ns() < end &&
		    !r->bad) {
			if (submit(r) != 0 ||
			    !run_until(r->base, run_done, r, 30000))
				r->bad = 1;
		}
		r->total = r->submitted;
		ok = !r->bad;
	} else {
		while (r->submitted < window && r->submitted < r->total &&
		    !r->bad)
			if (submit(r) != 0)
				r->bad = 1;
		ok = run_until(r->base, run_done, r, 600000) && !r->bad &&
		    r->acked == r->total;
	}
	r->cpu = cpu_seconds() - cpu0;
	r->commits = stat_of(r->st, "commits") - c0;
	r->jobs = stat_of(r->st, "committed_jobs") - j0;
	r->max_batch = stat_of(r->st, "max_batch");
	if (!ok || r->acked == 0) {
		fprintf(stderr, "store_bench: %s: %llu of %llu appends acked, "
		    "failure %d: %s\n", name, U(r->acked), U(r->total), r->bad,
		    iris_store_error(r->st));
		r->bad = 1;
	}
	return !r->bad && verify(r) == 0 ? 0 : -1;
}

static void
end_run(struct run *r)
{
	iris_store_close(r->st);
	if (r->base != NULL)
		event_base_free(r->base);
	free(r->a);
	memset(r, 0, sizeof(*r));
}

static void
latencies(const struct run *r, double *p50, double *p99)
{
	uint64_t *lat;
	size_t i;

	if ((lat = malloc(r->total * sizeof(*lat))) == NULL)
		abort();
	for (i = 0; i < r->total; i++)
		lat[i] = r->a[i].lat;
	bu_sort_u64(lat, r->total);
	*p50 = (double)bu_pct(lat, r->total, 50) / 1e6;
	*p99 = (double)bu_pct(lat, r->total, 99) / 1e6;
	free(lat);
}

static const char *const shown[] = {
	"inbox_cap", "store_queue", "store_queue_bytes", "store_batch",
	"store_wal_max",
};

/*
 * (d) Raw SQLite, no store code: the inbox table as a rowid log with a
 * (box, seq) index versus a WITHOUT ROWID (box, seq) table, each with
 * secure_delete on, fast and off: inserts in transactions of 1000 rows
 * (a group commit's batch), then pruning every box, as the store does.
 */
#define LAYOUT_ROWS	100000
#define LAYOUT_BOXES	1000
#define LAYOUT_TXN	1000

static const char *const layout_sql[2] = {
	"CREATE TABLE inbox (id INTEGER PRIMARY KEY, box INTEGER NOT NULL,"
	" seq INTEGER NOT NULL, shard INTEGER, msg_id INTEGER, sender TEXT,"
	" sdev INTEGER, cmid BLOB, class INTEGER, received INTEGER,"
	" envelope BLOB); CREATE UNIQUE INDEX inbox_bs ON inbox (box, seq);",
	"CREATE TABLE inbox (box INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" shard INTEGER, msg_id INTEGER, sender TEXT, sdev INTEGER,"
	" cmid BLOB, class INTEGER, received INTEGER, envelope BLOB,"
	" PRIMARY KEY (box, seq)) WITHOUT ROWID;",
};

static int
layout_run(const char *path, int layout, const char *sdel, size_t envlen,
    double *ins, double *del)
{
	uint64_t seq[LAYOUT_BOXES] = { 0 }, st = 7, t;
	uint8_t buf[65536], cmid[16];
	char sql[128];
	sqlite3_stmt *in, *rm;
	sqlite3 *db;
	size_t i, b;
	int rc = 0;

	unlink(path);
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=WAL; PRAGMA "
	    "synchronous=FULL; PRAGMA secure_delete=%s;", sdel);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, layout_sql[layout], NULL, NULL, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "INSERT INTO inbox (box, seq,"
	    " shard, msg_id, sender, sdev, cmid, class, received, envelope)"
	    " VALUES (?1, ?2, 7, ?3, 's00001', 1, ?4, 0, 1764000000000, ?5)",
	    -1, &in, NULL) != SQLITE_OK || sqlite3_prepare_v2(db, "DELETE "
	    "FROM inbox WHERE box = ?1 AND seq <= ?2", -1, &rm, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "layouts: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	t = bu_now_ns();
	for (i = 0; i < LAYOUT_ROWS && rc == 0; i++) {
		if (i % LAYOUT_TXN == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		b = bu_uniform(&st, LAYOUT_BOXES);
		bu_fill(buf, envlen, i);
		bu_fill(cmid, sizeof(cmid), i);
		sqlite3_bind_int64(in, 1, (int64_t)b);
		sqlite3_bind_int64(in, 2, (int64_t)++seq[b]);
		sqlite3_bind_int64(in, 3, (int64_t)i);
		sqlite3_bind_blob(in, 4, cmid, 16, SQLITE_STATIC);
		sqlite3_bind_blob(in, 5, buf, (int)envlen, SQLITE_STATIC);
		rc = sqlite3_step(in) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(in);
		if (i % LAYOUT_TXN == LAYOUT_TXN - 1 || i + 1 == LAYOUT_ROWS)
			rc |= sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (i % (25 * LAYOUT_TXN) == 0)
			sqlite3_wal_checkpoint_v2(db, NULL,
			    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	*ins = LAYOUT_ROWS / ((double)(bu_now_ns() - t) / 1e9);
	t = bu_now_ns();
	for (b = 0; b < LAYOUT_BOXES && rc == 0; b++) {
		if (b % 64 == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_int64(rm, 1, (int64_t)b);
		sqlite3_bind_int64(rm, 2, (int64_t)seq[b]);
		rc = sqlite3_step(rm) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(rm);
		if (b % 64 == 63 || b + 1 == LAYOUT_BOXES)
			rc |= sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	*del = LAYOUT_ROWS / ((double)(bu_now_ns() - t) / 1e9);
	sqlite3_finalize(in);
	sqlite3_finalize(rm);
	sqlite3_close(db);
	unlink(path);
	return rc;
}

static int
bench_layouts(const struct opts *o, char *json, size_t len)
{
	static const char *const name[2] = { "rowid_log+index",
	    "without_rowid" };
	static const char *const sdel[3] = { "ON", "FAST", "OFF" };
	char path[4200];
	double ins, del;
	size_t off;
	int l, d;

	snprintf(path, sizeof(path), "%s/layout.db", o->dir);
	printf("\n(d) raw SQLite inbox layouts: %d rows of %zu B, %d per "
	    "transaction, %d boxes (WAL, synchronous=FULL)\n", LAYOUT_ROWS,
	    o->envlen, LAYOUT_TXN, LAYOUT_BOXES);
	printf("    %-18s %-14s %12s %12s\n", "layout", "secure_delete",
	    "inserts/s", "prunes/s");
	off = (size_t)snprintf(json, len, ",\"layouts\":[");
	for (l = 0; l < 2; l++)
		for (d = 0; d < 3; d++) {
			if (layout_run(path, l, sdel[d], o->envlen, &ins,
			    &del) != 0)
				return -1;
			printf("    %-18s %-14s %12.0f %12.0f\n", name[l],
			    sdel[d], ins, del);
			off += (size_t)snprintf(json + off, len - off,
			    "%s{\"layout\":\"%s\",\"secure_delete\":\"%s\","
			    "\"inserts_per_s\":%.0f,\"prunes_per_s\":%.0f}",
			    l + d > 0 ? "," : "", name[l], sdel[d], ins, del);
		}
	snprintf(json + off, len - off, "]");
	return 0;
}

static int
target_met(const struct figures *f)
{
	return f->group_per_s >= TARGET_RATE &&
	    f->group_per_s >= TARGET_RATIO * f->fsync_per_s;
}

static void
print_table(const struct opts *o, const struct figures *f)
{
	char name[64];

	printf("\n%-44s %10s %10s %10s\n", "phase", "per s", "p50", "p99");
	printf("%-44s %10.0f %8.0fus %8.0fus\n", "(a) append 512 B + "
	    "fdatasync", f->fsync_per_s, f->fsync_p50_us, f->fsync_p99_us);
	printf("%-44s %10.0f %8.0fus %8.0fus\n", "    overwrite 512 B + "
	    "fdatasync", f->ow_per_s, f->ow_p50_us, f->ow_p99_us);
	printf("%-44s %10.0f %8.2fms %8.2fms\n", "(b) store append, 1 in "
	    "flight", f->single_per_s, f->single_p50_ms, f->single_p99_ms);
	snprintf(name, sizeof(name), "(c) store append, %zu in flight",
	    o->inflight);
	printf("%-44s %10.0f %8.2fms %8.2fms\n", name, f->group_per_s,
	    f->ack_p50_ms, f->ack_p99_ms);
	printf("    %zu appends of %zu B, %u senders -> %u devices, one "
	    "each: %llu commits,\n    %.1f msgs/commit (max %llu), CPU %.2f "
	    "cores of %ld, WAL %.1f MB at the end\n", o->total, o->envlen,
	    o->senders, o->recipients, U(f->commits), f->msgs_per_commit,
	    U(f->max_batch), f->group_cpu, sysconf(_SC_NPROCESSORS_ONLN),
	    f->wal_mb);
	printf("    group/fsync %.1fx (vs overwrite %.1fx), group/single "
	    "%.1fx; verified %llu appends\n", f->group_per_s / f->fsync_per_s,
	    f->group_per_s / f->ow_per_s, f->group_per_s / f->single_per_s,
	    U(f->verified));
	printf("    target >= %.0f/s and >= %.0fx the append+fdatasync rate:"
	    " %s\n", TARGET_RATE, TARGET_RATIO, target_met(f) ? "MET" :
	    "NOT MET");
}

static void
usage(void)
{
	fprintf(stderr, "usage: store_bench [-klL] [-c in_flight] [-d dir] "
	    "[-e bytes] [-n appends]\n"
	    "                   [-o store_option=value] [-R recipients] "
	    "[-S senders] [-t seconds]\n");
	exit(2);
}

static struct iris_config *
make_config(struct opts *o)
{
	struct iris_config *cfg;
	char v[32], *eq;
	int i;

	if (iris_config_new(&cfg) != IRIS_OK)
		abort();
	/* No inbox or queue limit may refuse an append of the run. */
	snprintf(v, sizeof(v), "%zu", o->total > 100000 ? o->total : 100000);
	iris_config_set(cfg, "inbox_cap", v);
	snprintf(v, sizeof(v), "%zu", 2 * o->inflight > 65536 ?
	    2 * o->inflight : 65536);
	iris_config_set(cfg, "store_queue", v);
	for (i = 0; i < o->nset; i++) {
		if ((eq = strchr(o->set[i], '=')) == NULL)
			usage();
		*eq = '\0';
		if (iris_config_set(cfg, o->set[i], eq + 1) != IRIS_OK) {
			fprintf(stderr, "-o %s: %s\n", o->set[i],
			    iris_config_error(cfg));
			exit(2);
		}
	}
	return cfg;
}

int
main(int argc, char **argv)
{
	struct opts o = { ".", 2.0, 200000, 10000, 1000, 1000, 512, 0, 0,
	    0, { NULL }, 0 };
	char conf[512], cjson[512], layouts[2048] = "", v[64], wal[4200];
	struct iris_config *cfg;
	struct figures f = { 0 };
	struct run r = { 0 };
	struct stat sb;
	char *dir;
	size_t i, off = 0, coff = 0;
	double wall;
	int ch, rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt(argc, argv, "c:d:e:kln:o:LR:S:t:")) != -1) {
		switch (ch) {
		case 'c': o.inflight = strtoul(optarg, NULL, 10); break;
		case 'd': o.dir = optarg; break;
		case 'e': o.envlen = strtoul(optarg, NULL, 10); break;
		case 'k': o.keep = 1; break;
		case 'l': o.layouts = 1; break;
		case 'n': o.total = strtoul(optarg, NULL, 10); break;
		case 'o':
			if (o.nset == 16)
				usage();
			o.set[o.nset++] = optarg;
			break;
		case 'L': o.secs = 10; o.total = 1000000; break;
		case 'R': o.recipients = (unsigned)atoi(optarg); break;
		case 'S': o.senders = (unsigned)atoi(optarg); break;
		case 't': o.secs = atof(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || o.inflight == 0 || o.total < o.inflight ||
	    o.envlen < 8 || o.envlen > 65536 || o.recipients == 0 ||
	    o.recipients > 99999 || o.senders == 0 || o.senders > 99999 ||
	    o.secs <= 0)
		usage();
	cfg = make_config(&o);
	if ((dir = bu_mkdtemp(o.dir, "store_bench")) == NULL) {
		perror(o.dir);
		return 1;
	}
	o.dir = dir;
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		iris_config_get(cfg, shown[i], v, sizeof(v));
		off += (size_t)snprintf(conf + off, sizeof(conf) - off,
		    "%s%s=%s", i > 0 ? " " : "", shown[i], v);
		coff += (size_t)snprintf(cjson + coff, sizeof(cjson) - coff,
		    ",\"%s\":\"%s\"", shown[i], v);
	}
	o.seed = bu_seed();
	printf("store_bench: seed %llu, files in %s, %ld CPUs online\n"
	    "store config: %s\n", U(o.seed), o.dir,
	    sysconf(_SC_NPROCESSORS_ONLN), conf);

	/* (a), (b), (c): every append is verified, or no figures. */
	if (bu_fsync_rate(o.dir, 0, o.secs, &f.fsync_per_s, &f.fsync_p50_us,
	    &f.fsync_p99_us) != 0 || bu_fsync_rate(o.dir, 1, o.secs,
	    &f.ow_per_s, &f.ow_p50_us, &f.ow_p99_us) != 0)
		goto out;
	if (run_store(&o, cfg, "single.db", 0, 1, &r) != 0)
		goto out;
	f.single_per_s = (double)r.total / ((double)(r.t1 - r.t0) / 1e9);
	latencies(&r, &f.single_p50_ms, &f.single_p99_ms);
	end_run(&r);
	if (run_store(&o, cfg, "group.db", o.total, o.inflight, &r) != 0)
		goto out;
	wall = (double)(r.t1 - r.t0) / 1e9;
	f.group_per_s = (double)r.total / wall;
	f.group_cpu = r.cpu / wall;
	f.commits = r.commits;
	f.max_batch = r.max_batch;
	f.msgs_per_commit = r.commits > 0 ? (double)r.jobs / r.commits : 0;
	f.verified = r.total;
	latencies(&r, &f.ack_p50_ms, &f.ack_p99_ms);
	snprintf(wal, sizeof(wal), "%s/group.db-wal", o.dir);
	f.wal_mb = stat(wal, &sb) == 0 ? (double)sb.st_size / 1048576 : 0;
	end_run(&r);
	print_table(&o, &f);
	if (o.layouts && bench_layouts(&o, layouts, sizeof(layouts)) != 0)
		goto out;
	printf("{\"bench\":\"store\",\"fsync_per_s\":%.0f,\"fsync_p50_us\":"
	    "%.0f,\"fsync_overwrite_per_s\":%.0f,\"single_commit_per_s\":"
	    "%.0f,\"group_commit_per_s\":%.0f,\"group_vs_fsync\":%.2f,"
	    "\"group_vs_single\":%.2f,\"msgs_per_commit\":%.1f,\"commits\":"
	    "%llu,\"ack_p50_ms\":%.2f,\"ack_p99_ms\":%.2f,\"cpu_cores\":"
	    "%.2f,\"verified\":%llu,\"target_met\":%s,\"settings\":{"
	    "\"appends\":%zu,\"in_flight\":%zu,\"senders\":%u,"
	    "\"recipients\":%u,\"envelope_bytes\":%zu,\"seconds\":%.1f%s}"
	    "%s}\n", f.fsync_per_s, f.fsync_p50_us, f.ow_per_s,
	    f.single_per_s, f.group_per_s, f.group_per_s / f.fsync_per_s,
	    f.group_per_s / f.single_per_s, f.msgs_per_commit, U(f.commits),
	    f.ack_p50_ms, f.ack_p99_ms, f.group_cpu, U(f.verified),
	    target_met(&f) ? "true" : "false", o.total, o.inflight,
	    o.senders, o.recipients, o.envlen, o.secs, cjson, layouts);
	rc = 0;
out:
	end_run(&r);		/* after a failed run: its store and loop */
	if (rc != 0)
		fprintf(stderr, "store_bench: FAILED; no figures\n");
	iris_config_free(cfg);
	if (!o.keep && bu_rm_rf(dir) != 0)
		fprintf(stderr, "store_bench: could not remove %s\n", dir);
	free(dir);
	return rc;
}

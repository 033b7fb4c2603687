/* SPDX-License-Identifier: ISC */
/* Store system tests: a seeded workload of sends, its model, a verifier. */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "storetest.h"

static const char *const box_user[ST_BOXES] = {
	"bob", "bob", "bob", "carol", "carol", "dave",
};
static const uint32_t box_dev[ST_BOXES] = { 1, 2, 3, 1, 2, 7 };
static const char *const sender_user[3] = { "alice", "alice", "erin" };
static const uint32_t sender_dev[3] = { 1, 2, 3 };

static const char *progname = "storetest";
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_last[1024];
static int verbose;

uint64_t
st_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
st_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned
st_env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 0) : def;
}

uint64_t
st_seed(const char *prog)
{
	const char *v = getenv("IRIS_TEST_SEED");
	uint64_t seed = v != NULL && *v != '\0' ? strtoull(v, NULL, 0) :
	    (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

	progname = prog;
	verbose = st_env_uint("IRIS_TEST_VERBOSE", 0) != 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%s: seed %llu (IRIS_TEST_SEED=%llu repeats this run)\n", prog,
	    (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

void
st_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAIL: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
on_alarm(int sig)
{
	static const char msg[] = "FAIL: watchdog: the test hung\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(2);
}

void
st_watchdog(unsigned seconds)
{
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}


/* The store logs from its writer thread too: this must be thread-safe. */
static void
logcb(int level, const char *msg, void *arg)
{
	(void)arg;
	if (verbose)
		fprintf(stderr, "%s: %llu ms: log %d: %s\n", progname,
		    (unsigned long long)st_now_ms() % 1000000, level, msg);
	pthread_mutex_lock(&log_mu);
	if (level <= IRIS_LOG_ERR)
		snprintf(log_last, sizeof(log_last), "%s", msg);
	pthread_mutex_unlock(&log_mu);
}

const char *
st_last_error(void)
{
	static char copy[1024];

	pthread_mutex_lock(&log_mu);
	memcpy(copy, log_last, sizeof(copy));
	pthread_mutex_unlock(&log_mu);
	return copy;
}

int
st_open(struct iris_store **sp, struct event_base *base, const char *path,
    const char *vfs, unsigned tick_ms, unsigned recover_ms)
{
	struct iris__store_opts o = { .vfs = vfs, .tick_ms = tick_ms,
	    .recover_ms = recover_ms };
	struct iris_config *cfg;
	int rc;

	if (iris_config_new(&cfg) != IRIS_OK)
		st_die("iris_config_new");
	iris_config_set_log_cb(cfg, logcb, NULL);
	rc = iris__store_open_ex(sp, base, path, cfg, &o);
	iris_config_free(cfg);
	return rc;
}

uint64_t
st_stat(struct iris_store *s, const char *name)
{
	uint64_t v = 0;

	if (iris_store_stat(s, name, &v) != IRIS_OK)
		st_die("no stat \"%s\"", name);
	return v;
}

struct stat_wait {
	struct iris_store *s;
	const char	*name;
	uint64_t	 lo, hi;
};

static int
stat_reached(void *arg)
{
	struct stat_wait *w = arg;
	uint64_t v = st_stat(w->s, w->name);

	return v >= w->lo && v <= w->hi;
}

int
st_wait_stat(struct event_base *base, struct iris_store *s, const char *name,
    uint64_t lo, uint64_t hi, unsigned timeout_ms)
{
	struct stat_wait w = { s, name, lo, hi };

	return run_until(base, stat_reached, &w, timeout_ms);
}

static void
pace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	st_pump(arg);
}

void
st_init(struct st_work *wk, struct event_base *base, uint64_t seed,
    size_t nsends, size_t env_min, size_t env_max)
{
	struct st_send *m;
	size_t i;
	int j, k;

	memset(wk, 0, sizeof(*wk));
	wk->base = base;
	wk->seed = wk->rng = seed;
	wk->nsends = nsends;
	wk->env_min = env_min;
	wk->env_max = env_max;
	wk->maxcalls = 3 * nsends + 64;
	wk->where = "";
	if ((wk->sends = calloc(nsends, sizeof(*wk->sends))) == NULL ||
	    (wk->calls = calloc(wk->maxcalls, sizeof(*wk->calls))) == NULL ||
	    (wk->buf = malloc(env_max)) == NULL ||
	    (wk->pacer = evtimer_new(base, pace_cb, wk)) == NULL)
		st_die("out of memory");
	for (i = 0; i < nsends; i++) {	/* 1 to 4 distinct inboxes */
		m = &wk->sends[i];
		m->n = 1 + (int)(st_rand(&wk->rng) % ST_TARGETS);
		for (j = 0; j < m->n; j++)
			do {
				m->box[j] = (int)(st_rand(&wk->rng) % ST_BOXES);
				for (k = 0; k < j &&
				    m->box[k] != m->box[j]; k++)
					;
			} while (k < j);
	}
	for (j = 0; j < ST_BOXES; j++) {
		wk->ackcall[j].wk = wk;
		wk->ackcall[j].send = (uint32_t)j;
	}
}

void
st_free(struct st_work *wk)
{
	event_free(wk->pacer);
	free(wk->buf);
	free(wk->sends);
	free(wk->calls);
}

/* A send's client id: time-ordered like a UUIDv7, naming its index. */
static void
make_cmid(const struct st_work *wk, uint32_t i, uint8_t cmid[16])
{
	uint64_t hi = 0x0193000000007000ULL | (uint64_t)i << 16 |
	    (wk->seed & 0xfff), lo = 0x8000000000000000ULL |
	    (uint64_t)i << 16 | (wk->seed >> 32 & 0xffff);
	int b;

	for (b = 0; b < 8; b++) {
		cmid[b] = (uint8_t)(hi >> (56 - 8 * b));
		cmid[8 + b] = (uint8_t)(lo >> (56 - 8 * b));
	}
}

/* The bytes of envelope t of send i, from the seed, into wk->buf. */
static size_t
envelope(const struct st_work *wk, uint32_t i, int t)
{
	uint64_t r = wk->seed ^ ((uint64_t)i << 8 | (uint64_t)t) * 0x9e37ULL;
	size_t len = wk->env_min + (size_t)(st_rand(&r) % (wk->env_max -
	    wk->env_min + 1)), k;

	for (k = 0; k < len; k++)
		wk->buf[k] = (uint8_t)(st_rand(&r) >> 24);
	return len;
}

static void
violation(struct st_work *wk, const char *what, uint32_t i)
{
	if (wk->violation[0] == '\0')
		snprintf(wk->violation, sizeof(wk->violation), "%s (send %u)",
		    what, i);
}

static void append_cb(struct iris_store *, int, uint64_t, const uint64_t *,
    size_t, int, void *);

int
st_submit(struct st_work *wk, uint32_t i, int retry)
{
	struct st_send *m = &wk->sends[i];
	struct st_call *c = &wk->calls[wk->ncalls];
	struct iris_send *snd;
	uint8_t cmid[16];
	int t, rc;

	if (wk->ncalls == wk->maxcalls)
		return IRIS_ELIMIT;
	make_cmid(wk, i, cmid);
	if (iris_send_new(&snd, sender_user[i % 3], sender_dev[i % 3], cmid,
	    (int)(i % 4)) != IRIS_OK)
		st_die("iris_send_new");
	for (t = 0; t < m->n; t++)
		if (iris_send_add(snd, box_user[m->box[t]], box_dev[m->box[t]],
		    wk->buf, envelope(wk, i, t)) != IRIS_OK)
			st_die("iris_send_add");
	c->wk = wk;
	c->send = i;
	c->retry = retry;
	rc = iris_store_append(wk->store, snd, append_cb, c);
	if (rc == IRIS_OK) {
		wk->ncalls++;
		wk->outstanding++;
		wk->retried += retry != 0;
		if (m->state == ST_UNSENT)
			m->state = ST_PENDING;
	} else if (rc == IRIS_ESTORE)
		wk->refused = 1;
	else
		st_die("%siris_store_append: %s", wk->where,
		    iris_strerror(rc));
	return rc;
}

void
st_pump(struct st_work *wk)
{
	int window = 1 + (int)(st_rand(&wk->rng) % 16), st;
	uint32_t i;

	while (wk->outstanding < window && !wk->refused) {
		/* Now and then a client retries a send, acked or in flight. */
		if (wk->retries && wk->next > 0 &&
		    st_rand(&wk->rng) % 16 == 0) {
			i = (uint32_t)(st_rand(&wk->rng) % wk->next);
			st = wk->sends[i].state;
			if (st == ST_ACKED || st == ST_PENDING) {
				if (st_submit(wk, i, 1) != IRIS_OK)
					break;
				continue;
			}
		}
		if (wk->next >= wk->nsends ||
		    st_submit(wk, (uint32_t)wk->next, 0) != IRIS_OK)
			break;
		wk->next++;
	}
}

int
st_idle(void *arg)
{
	struct st_work *wk = arg;

	return wk->outstanding == 0 && (wk->refused ||
	    wk->next >= wk->nsends);
}

void
st_retry_unknown(struct st_work *wk)
{
	uint32_t i;
	int st;

	for (i = 0; i < wk->next && !wk->refused; i++)
		if ((st = wk->sends[i].state) == ST_FAILED ||
		    st == ST_PENDING || (st == ST_ACKED && i % 16 == 0))
			st_submit(wk, i, 1);
}

/* After a callback: more sends now, or after the pause between bursts. */
static void
pump_later(struct st_work *wk)
{
	struct timeval tv = { 0, (long)wk->pace_ms * 1000 };

	if (wk->pace_ms == 0)
		st_pump(wk);
	else if (!evtimer_pending(wk->pacer, NULL))
		evtimer_add(wk->pacer, &tv);
}

static void
ack_cb(struct iris_store *s, int rc, uint64_t acked, void *arg)
{
	struct st_call *c = arg;
	struct st_work *wk = c->wk;

	(void)s;
	wk->outstanding--;
	c->retry = 0;			/* none of this inbox in flight */
	if (rc == IRIS_OK && acked > wk->cursor[c->send])
		wk->cursor[c->send] = acked;
	if (rc == IRIS_EINVAL)
		violation(wk, "an ack of an acked seq was refused", c->send);
	pump_later(wk);
}

/* Now and then a device acks part of its inbox (one ack in flight). */
static void
maybe_ack(struct st_work *wk)
{
	int b = (int)(st_rand(&wk->rng) % ST_BOXES);
	struct st_call *c = &wk->ackcall[b];

	if (st_rand(&wk->rng) % 8 != 0 || c->retry || wk->head[b] == 0)
		return;
	if (iris_store_ack(wk->store, box_user[b], box_dev[b], 1 +
	    st_rand(&wk->rng) % wk->head[b], ack_cb, c) == IRIS_OK) {
		c->retry = 1;
		wk->outstanding++;
	}
}

static void
append_ok(struct st_work *wk, struct st_call *c, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int dup)
{
	struct st_send *m = &wk->sends[c->send];
	int t;

	if (n != (size_t)m->n || msg_id == 0) {
		violation(wk, "an ack with the wrong seqs", c->send);
		return;
	}
	if (m->state == ST_ACKED) {
		if (!dup || msg_id != m->msg_id ||
		    memcmp(seqs, m->seqs, n * sizeof(*seqs)) != 0)
			violation(wk, "a retry got other acks", c->send);
		wk->dups++;
		return;
	}
	if (dup && !c->retry)
		violation(wk, "a first attempt was a duplicate", c->send);
	if (dup && m->state == ST_FAILED) {
		wk->phantoms++;	/* the failed attempt was stored */
		if (wk->strict)
			violation(wk, "a send refused with an error was stored",
			    c->send);
	}
	m->state = ST_ACKED;
	m->msg_id = msg_id;
	for (t = 0; t < m->n; t++) {
		if ((m->seqs[t] = seqs[t]) == 0)
			violation(wk, "an ack with seq 0", c->send);
		if (seqs[t] > wk->head[m->box[t]])
			wk->head[m->box[t]] = seqs[t];
	}
	wk->acked++;
}

static void
append_cb(struct iris_store *s, int rc, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int dup, void *arg)
{
	struct st_call *c = arg;
	struct st_work *wk = c->wk;
	struct st_send *m = &wk->sends[c->send];

	(void)s;
	wk->outstanding--;
	if (rc == IRIS_OK) {
		append_ok(wk, c, msg_id, seqs, n, dup);
		maybe_ack(wk);
	} else {
		wk->cb_errors++;
		if (wk->first_error == 0)
			wk->first_error = rc;
		if (rc != IRIS_ESTORE)
			violation(wk, "an append failed, not with IRIS_ESTORE",
			    c->send);
		if (!c->retry && m->state == ST_PENDING) {
			m->state = ST_FAILED;
			wk->failed++;
		}
	}
	pump_later(wk);
}

/* One inbox scan, checked message by message. */
struct scan_ctx {
	struct st_work	*wk;
	int		 box;
	uint64_t	 expect;	/* the next seq: dense from 1 */
	uint8_t		*seen;		/* per send, per envelope */
	uint64_t	*ids;		/* per send: its stored msg id */
	uint64_t	 envelopes;
	char		 err[256];
};

static int
scan_fail(struct scan_ctx *x, const char *what, uint64_t seq)
{
	snprintf(x->err, sizeof(x->err), "%s/%u seq %llu: %s",
	    box_user[x->box], box_dev[x->box], (unsigned long long)seq, what);
	return 1;
}

static int
scan_cb(const struct iris_message *msg, void *arg)
{
	struct scan_ctx *x = arg;
	struct st_work *wk = x->wk;
	const uint8_t *cmid = iris_message_client_id(msg);
	uint64_t seq = iris_message_seq(msg), id = iris_message_id(msg);
	const void *data;
	uint8_t want[16];
	uint32_t i, dev;
	size_t len;
	int t;

	if (seq != x->expect++)
		return scan_fail(x, "seqs are not dense from 1", seq);
	i = (uint32_t)cmid[10] << 24 | (uint32_t)cmid[11] << 16 |
	    (uint32_t)cmid[12] << 8 | cmid[13];
	if (i >= wk->next || (make_cmid(wk, i, want), memcmp(want, cmid, 16)))
		return scan_fail(x, "a message nobody sent", seq);
	if (strcmp(iris_message_sender(msg, &dev), sender_user[i % 3]) ||
	    dev != sender_dev[i % 3] || iris_message_class(msg) != (int)(i % 4))
		return scan_fail(x, "wrong sender or class", seq);
	for (t = 0; t < wk->sends[i].n && wk->sends[i].box[t] != x->box; t++)
		;
	if (t == wk->sends[i].n)
		return scan_fail(x, "a message in the wrong inbox", seq);
	if (x->seen[i] & (1u << t))
		return scan_fail(x, "a send stored twice", seq);
	x->seen[i] |= (uint8_t)(1u << t);
	data = iris_message_data(msg, &len);
	if (len != envelope(wk, i, t) || memcmp(data, wk->buf, len) != 0)
		return scan_fail(x, "envelope bytes differ", seq);
	if (x->ids[i] != 0 && x->ids[i] != id)
		return scan_fail(x, "one send, two msg ids", seq);
	x->ids[i] = id;
	if (wk->sends[i].state == ST_ACKED && (wk->sends[i].msg_id != id ||
	    wk->sends[i].seqs[t] != seq))
		return scan_fail(x, "msg id or seq differs from its ack", seq);
	x->envelopes++;
	return 0;
}

/* integrity_check, then the rows of the inbox and sends tables. */
static int
check_file(const char *path, int64_t count[2], char *err, size_t errlen)
{
	static const char *const sql[] = { "PRAGMA integrity_check",
	    "SELECT count(*) FROM inbox", "SELECT count(*) FROM sends" };
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int i, rc = -1;

	snprintf(err, errlen, "cannot open %s", path);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 10000);	/* the writer may checkpoint */
	for (i = 0; i < 3; i++) {
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) !=
		    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
			snprintf(err, errlen, "%s: %s", sql[i],
			    sqlite3_errmsg(db));
			goto out;
		}
		if (i == 0 && strcmp((const char *)sqlite3_column_text(st, 0),
		    "ok") != 0) {
			snprintf(err, errlen, "integrity_check: %s",
			    sqlite3_column_text(st, 0));
			goto out;
		}
		if (i > 0)
			count[i - 1] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
	}
	err[0] = '\0';
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Every send whole or absent, acked ones whole; the tables agree. */
static int
check_sends(struct st_work *wk, struct scan_ctx *x, int64_t sends,
    struct st_tally *tl)
{
	struct st_send *m;
	int64_t stored = 0;
	uint32_t i;
	int cnt, t;

	for (i = 0; i < wk->next; i++) {
		m = &wk->sends[i];
		for (cnt = 0, t = 0; t < m->n; t++)
			cnt += (x->seen[i] >> t) & 1;
		stored += cnt > 0;
		if (cnt != 0 && cnt != m->n)
			return snprintf(x->err, sizeof(x->err), "send %u: %d "
			    "of %d envelopes stored", i, cnt, m->n), -1;
		if (m->state == ST_ACKED && cnt == 0)
			return snprintf(x->err, sizeof(x->err), "send %u was "
			    "acked and is lost", i), -1;
		if (m->state == ST_FAILED && cnt != 0 && wk->strict)
			return snprintf(x->err, sizeof(x->err), "send %u "
			    "failed with an error and is stored", i), -1;
		if (m->state == ST_ACKED)
			tl->acked_sends++;
		else
			*(cnt != 0 ? &tl->unknown_stored :
			    &tl->unknown_absent) += 1;
	}
	if (stored != sends)
		return snprintf(x->err, sizeof(x->err), "%lld sends stored, "
		    "%lld dedup records", (long long)stored, (long long)sends),
		    -1;
	return 0;
}

/* Scans each inbox whole and checks its head and cursor. */
static int
check_box(struct st_work *wk, struct iris_store *s, struct scan_ctx *x)
{
	uint64_t acked, head;
	int n;

	x->expect = 1;
	do
		n = iris_store_scan(s, box_user[x->box], box_dev[x->box],
		    x->expect - 1, 1000, scan_cb, x);
	while (n == 1000 && x->err[0] == '\0');
	if (x->err[0] != '\0')
		return -1;
	if (n < 0 || iris_store_depth(s, box_user[x->box], box_dev[x->box],
	    &acked, &head) != IRIS_OK)
		return snprintf(x->err, sizeof(x->err), "scan: %s",
		    iris_store_error(s)), -1;
	if (head != x->expect - 1 || acked < wk->cursor[x->box] || acked > head)
		return snprintf(x->err, sizeof(x->err), "%s/%u: head %llu, "
		    "%llu stored; cursor %llu, %llu acked before",
		    box_user[x->box], box_dev[x->box], (unsigned long long)head,
		    (unsigned long long)x->expect - 1,
		    (unsigned long long)acked,
		    (unsigned long long)wk->cursor[x->box]), -1;
	return 0;
}

int
st_verify(struct st_work *wk, struct iris_store *s, const char *path,
    struct st_tally *tl)
{
	struct scan_ctx x;
	int64_t count[2] = { -1, -1 };
	int rc = -1;

	memset(&x, 0, sizeof(x));
	x.wk = wk;
	if ((x.seen = calloc(wk->nsends + 1, 1)) == NULL ||
	    (x.ids = calloc(wk->nsends + 1, sizeof(*x.ids))) == NULL)
		st_die("out of memory");
	if (wk->violation[0] != '\0') {
		snprintf(x.err, sizeof(x.err), "%s", wk->violation);
		goto out;
	}
	if (check_file(path, count, x.err, sizeof(x.err)) != 0)
		goto out;
	for (x.box = 0; x.box < ST_BOXES; x.box++)
		if (check_box(wk, s, &x) != 0)
			goto out;
	if ((int64_t)x.envelopes != count[0]) {
		snprintf(x.err, sizeof(x.err), "%lld inbox rows, %llu scanned",
		    (long long)count[0], (unsigned long long)x.envelopes);
		goto out;
	}
	if (check_sends(wk, &x, count[1], tl) != 0)
		goto out;
	tl->envelopes += x.envelopes;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "%s: %s%s\n", progname, wk->where, x.err);
	free(x.seen);
	free(x.ids);
	return rc;
}

void
st_remove_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char name[512];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", path, sfx[i]);
		unlink(name);
	}
}

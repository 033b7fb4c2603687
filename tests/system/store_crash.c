/* SPDX-License-Identifier: ISC */
/*
 * Crash test of the durable store: a child appends sends and reports each
 * acknowledged one on a pipe, the parent kill -9s it at a random moment
 * and checks on the same file that nothing acknowledged was lost or
 * changed, seqs stay dense, retries are deduplicated and SQLite's
 * integrity check passes. Knobs: IRIS_TEST_SEED, IRIS_CRASH_ROUNDS (50),
 * IRIS_CRASH_SENDS (appends per round, 3000).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "iris.h"
#include "iris_store.h"
#include "benchutil.h"

#define DB		"crash.db"
#define MAXT		6	/* envelopes in one send */
#define MAXLEN		700	/* bytes in one envelope */
#define NBOX		16
#define ACK_EVERY	37	/* a cursor ack after this many appends */
#define KEEP		1000	/* the checker acks all but this many */
#define U(x)		((unsigned long long)(x))

/* The inboxes (user, device) that sends go to. */
static const struct box {
	const char	*user;
	uint32_t	 dev;
} boxes[NBOX] = {
	{ "u0", 1 }, { "u1", 1 }, { "u1", 2 }, { "u2", 1 }, { "u2", 2 },
	{ "u2", 3 }, { "u3", 1 }, { "u3", 2 }, { "u3", 3 }, { "u3", 4 },
	{ "u4", 1 }, { "u4", 2 }, { "u4", 3 }, { "u5", 1 }, { "u5", 2 },
	{ "u5", 3 },
};

/* Send g (round * per_round + k), all of it derived from the seed. */
struct gsend {
	char		 sender[8];
	uint32_t	 sdev;
	int		 cls;
	uint8_t		 cmid[16];
	size_t		 n;
	int		 box[MAXT];
	size_t		 len[MAXT];
};

/* A report from the child: one atomic write(2) each. */
enum { R_READY = 1, R_SUBMIT, R_APPEND, R_CURSOR, R_DONE, R_FAIL };
struct rec {
	uint32_t	 type;
	int32_t		 rc;
	uint64_t	 g;
	uint64_t	 msg_id;
	uint32_t	 dup;
	uint32_t	 n;
	uint8_t		 box[8];
	uint64_t	 seq[MAXT];
	uint64_t	 digest[MAXT];
};

struct known {			/* an acknowledged send, by g */
	uint64_t	 msg_id;
	uint64_t	 seq[MAXT];
};
struct ent {			/* a stored message */
	uint64_t	 seq, g, msg_id;
};
struct boxview {		/* an inbox as the checker read it */
	struct ent	*e;
	size_t		 n, cap;
	uint64_t	 first;		/* first stored seq; head + 1: none */
};

static uint64_t	 seed, per_round, round_no;
static int	 child_pid = -1;
static uint8_t	*invoked;		/* bitmap of the g appended */
static struct bu_map known;		/* g -> struct known */
static uint64_t	 cursor_min[NBOX];	/* cursors acked to a child */
static struct boxview bv[NBOX];
static struct {
	uint64_t	 acked, dups, dup_of_unacked, cursors, checks;
	uint64_t	 unacked_committed, retries, kills, exits, early;
	uint64_t	 in_sync, in_write, integrity, distinct;
} cst;

static void	 die(const char *fmt, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	fflush(stdout);
	fprintf(stderr, "store_crash: FAIL in round %llu (IRIS_TEST_SEED=%llu)"
	    ": ", U(round_no), U(seed));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
gen_send(uint64_t g, struct gsend *gs)
{
	uint64_t st = seed ^ bu_mix(g), ms = 1700000000000ULL + g / 8;
	int perm[NBOX], i, j;

	snprintf(gs->sender, sizeof(gs->sender), "s%d", (int)(g % 4));
	gs->sdev = 1 + (uint32_t)bu_uniform(&st, 2);
	gs->cls = (int)bu_uniform(&st, 2);
	gs->n = bu_uniform(&st, 2) == 0 ? 1 : 2 + bu_uniform(&st, MAXT - 1);
	for (i = 0; i < NBOX; i++)
		perm[i] = i;
	for (i = 0; i < (int)gs->n; i++) {
		j = i + (int)bu_uniform(&st, NBOX - i);
		gs->box[i] = perm[j];
		perm[j] = perm[i];
		gs->len[i] = 1 + bu_uniform(&st, MAXLEN);
	}
	/* A UUIDv7 shape: 48 bits of milliseconds, g in the last 7 bytes. */
	for (i = 0; i < 6; i++)
		gs->cmid[i] = (uint8_t)(ms >> (40 - 8 * i));
	gs->cmid[6] = 0x70;
	gs->cmid[7] = (uint8_t)seed;
	gs->cmid[8] = 0x80;
	for (i = 0; i < 7; i++)
		gs->cmid[9 + i] = (uint8_t)(g >> (48 - 8 * i));
}

static void
gen_env(uint64_t g, size_t i, uint8_t *buf, size_t len)
{
	bu_fill(buf, len, bu_mix(seed ^ bu_mix(g) ^ (uint64_t)(i + 1) << 56));
}

/* Send g as an iris_send; digests (may be NULL) of its envelopes. */
static int
build_send(uint64_t g, struct iris_send **mp, uint64_t *digests)
{
	uint8_t buf[MAXLEN];
	struct gsend gs;
	size_t i;
	int rc;

	gen_send(g, &gs);
	if ((rc = iris_send_new(mp, gs.sender, gs.sdev, gs.cmid, gs.cls)) !=
	    IRIS_OK)
		return rc;
	for (i = 0; i < gs.n; i++) {
		gen_env(g, i, buf, gs.len[i]);
		if (digests != NULL)
			digests[i] = bu_fnv64(buf, gs.len[i]);
		if ((rc = iris_send_add(*mp, boxes[gs.box[i]].user,
		    boxes[gs.box[i]].dev, buf, gs.len[i])) != IRIS_OK) {
			iris_send_free(*mp);
			return rc;
		}
	}
	return IRIS_OK;
}

/* The child: appends its round's sends, reporting on fd as it goes. */
struct child {
	struct event_base	*base;
	struct iris_store	*st;
	int			 fd;
	uint64_t		 rng, next_k;
	unsigned		 window, inflight, nok;
};
struct pending {		/* one append or cursor ack in flight */
	struct child		*c;
	uint64_t		 g;
	int			 box;
	uint64_t		 digest[MAXT];
};

static void
put(struct child *c, uint32_t type, int rc, uint64_t g)
{
	struct rec r = { .type = type, .rc = rc, .g = g };

	bu_child_put(c->fd, &r, sizeof(r));
	if (type == R_FAIL)
		_exit(3);
}

static void	 child_submit(struct child *c);

static void
on_cursor(struct iris_store *st, int rc, uint64_t acked, void *arg)
{
	struct pending *p = arg;
	struct rec r = { .type = R_CURSOR };

	(void)st;
	if (rc != IRIS_OK)
		put(p->c, R_FAIL, rc, p->g);
	r.box[0] = (uint8_t)p->box;
	r.seq[0] = acked;
	bu_child_put(p->c->fd, &r, sizeof(r));
	p->c->inflight--;
	child_submit(p->c);
	free(p);
}

static void
on_append(struct iris_store *st, int rc, uint64_t msg_id,
    const uint64_t *seqs, size_t n, int dup, void *arg)
{
	struct pending *p = arg, *q;
	struct child *c = p->c;
	struct rec r = { .type = R_APPEND, .g = p->g, .msg_id = msg_id };
	struct gsend gs;
	size_t i;

	if (rc != IRIS_OK || n == 0 || n > MAXT)
		put(c, R_FAIL, rc != IRIS_OK ? rc : IRIS_EPROTO, p->g);
	gen_send(p->g, &gs);
	r.dup = (uint32_t)dup;
	r.n = (uint32_t)n;
	for (i = 0; i < n; i++) {
		r.box[i] = (uint8_t)gs.box[i];
		r.seq[i] = seqs[i];
		r.digest[i] = p->digest[i];
	}
	bu_child_put(c->fd, &r, sizeof(r));
	/* Now and then the first device acks what it was just given. */
	if (++c->nok % ACK_EVERY == 0) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			put(c, R_FAIL, IRIS_ENOMEM, p->g);
		q->c = c;
		q->g = p->g;
		q->box = gs.box[0];
		if ((rc = iris_store_ack(st, boxes[q->box].user,
		    boxes[q->box].dev, seqs[0], on_cursor, q)) != IRIS_OK)
			put(c, R_FAIL, rc, p->g);
		c->inflight++;
	}
	free(p);
	c->inflight--;
	child_submit(c);
}

/* Keeps window appends in flight; one in eight retries an older send. */
static void
child_submit(struct child *c)
{
	struct iris_send *m;
	struct pending *p;
	uint64_t g, span;
	int rc;

	while (c->inflight < c->window && c->next_k < per_round) {
		g = round_no * per_round + c->next_k++;
		if (g > 0 && bu_uniform(&c->rng, 8) == 0) {
			span = g < 3 * per_round ? g : 3 * per_round;
			g -= 1 + bu_uniform(&c->rng, span);
		}
		if ((p = calloc(1, sizeof(*p))) == NULL)
			put(c, R_FAIL, IRIS_ENOMEM, g);
		p->c = c;
		p->g = g;
		if ((rc = build_send(g, &m, p->digest)) != IRIS_OK)
			put(c, R_FAIL, rc, g);
		/* Reported before it can be stored: phantoms are caught. */
		put(c, R_SUBMIT, 0, g);
		if ((rc = iris_store_append(c->st, m, on_append, p)) !=
		    IRIS_OK)
			put(c, R_FAIL, rc, g);
		c->inflight++;
	}
	if (c->inflight == 0 && c->next_k >= per_round && c->st != NULL) {
		iris_store_close(c->st);	/* inside its callback: safe */
		c->st = NULL;
		put(c, R_DONE, 0, 0);
	}
}

static void
child_main(int fd, void *arg)
{
	static const unsigned windows[] = { 1, 8, 64, 512, 4096 };
	struct iris_config *cfg;
	struct child c = { .fd = fd };
	int rc;

	(void)arg;
	c.rng = bu_mix(seed + 2 * round_no);
	c.window = windows[bu_uniform(&c.rng, 5)];
	/* Acked messages go at the next prune: pruning races kills too. */
	if (iris_config_new(&cfg) != IRIS_OK ||
	    iris_config_set(cfg, "inbox_cap", "100000000") != IRIS_OK ||
	    iris_config_set(cfg, "store_retention", "0") != IRIS_OK ||
	    (c.base = event_base_new()) == NULL)
		put(&c, R_FAIL, IRIS_ECONFIG, 0);
	if ((rc = iris_store_open(&c.st, c.base, DB, cfg)) != IRIS_OK)
		put(&c, R_FAIL, rc, 0);
	iris_config_free(cfg);
	put(&c, R_READY, 0, 0);
	child_submit(&c);
	event_base_dispatch(c.base);
	event_base_free(c.base);
	_exit(0);
}

/*
 * The parent learns an acked result for send g: the first one is kept,
 * any later one (a retry) must be a duplicate with the same msg id and
 * seqs.
 */
static void
learn(uint64_t g, uint64_t msg_id, const uint64_t *seqs, size_t n, int dup,
    const char *who)
{
	struct known *k;
	struct gsend gs;
	size_t i;

	gen_send(g, &gs);
	if (n != gs.n || msg_id == 0)
		die("%s: send %llu acked with %zu seqs, msg id %llu", who, U(g),
		    n, U(msg_id));
	for (i = 0; i < n; i++)
		if (seqs[i] == 0)
			die("%s: send %llu acked with seq 0", who, U(g));
	if ((k = bu_map_get(&known, g, 0)) == NULL) {
		k = bu_map_get(&known, g, 1);
		k->msg_id = msg_id;
		memcpy(k->seq, seqs, n * sizeof(*seqs));
		cst.distinct++;
		return;
	}
	if (!dup || k->msg_id != msg_id ||
	    memcmp(k->seq, seqs, n * sizeof(*seqs)) != 0)
		die("%s: send %llu acked again (duplicate %d) with msg id %llu "
		    "seq %llu; the first ack said msg id %llu seq %llu", who,
		    U(g), dup, U(msg_id), U(seqs[0]), U(k->msg_id),
		    U(k->seq[0]));
}

static int
was_invoked(uint64_t g)
{
	return g < per_round * (round_no + 1) &&
	    (invoked[g / 8] & (1u << (g % 8))) != 0;
}

struct progress {
	int		 ready, done;
	uint64_t	 nacks, recs;
};

static void
on_rec(const void *buf, void *arg)
{
	struct progress *pr = arg;
	uint8_t env[MAXLEN];
	struct gsend gs;
	struct rec r;
	size_t i;

	memcpy(&r, buf, sizeof(r));
	pr->recs++;
	switch (r.type) {
	case R_READY:
		pr->ready = 1;
		break;
	case R_SUBMIT:
		if (r.g >= per_round * (round_no + 1))
			die("the child appended send %llu", U(r.g));
		invoked[r.g / 8] |= (uint8_t)(1u << (r.g % 8));
		break;
	case R_APPEND:
		gen_send(r.g, &gs);
		for (i = 0; i < r.n && i < gs.n; i++) {
			gen_env(r.g, i, env, gs.len[i]);
			if (r.box[i] != gs.box[i] ||
			    r.digest[i] != bu_fnv64(env, gs.len[i]))
				die("send %llu: the child appended something "
				    "else", U(r.g));
		}
		if (!was_invoked(r.g))
			die("an ack of send %llu, never appended", U(r.g));
		cst.dup_of_unacked += r.dup && !bu_map_get(&known, r.g, 0);
		learn(r.g, r.msg_id, r.seq, r.n, (int)r.dup, "child");
		cst.acked++;
		cst.dups += r.dup != 0;
		pr->nacks++;
		break;
	case R_CURSOR:
		if (r.box[0] < NBOX && r.seq[0] > cursor_min[r.box[0]])
			cursor_min[r.box[0]] = r.seq[0];
		cst.cursors++;
		break;
	case R_DONE:
		pr->done = 1;
		break;
	case R_FAIL:
		die("child: %s at send %llu", iris_errname(r.rc), U(r.g));
	default:
		die("a bad record from the child (type %u)", r.type);
	}
}

/* One round: a child appends until it is killed, or is done. */
static void
run_child(void)
{
	static const long sync[] = { SYS_fdatasync, SYS_fsync };
	static const long wr[] = { SYS_pwrite64, SYS_write };
	uint64_t rng = bu_mix(seed + 2 * round_no + 1), now, trigger;
	uint64_t last = bu_now_ms();
	struct progress pr = { 0, 0, 0, 0 };
	uint64_t seen = 0;
	struct bu_child ch;
	int by_time, status, open = 1;

	if (bu_child_start(&ch, sizeof(struct rec), child_main, NULL) != 0)
		die("fork: cannot start the child");
	child_pid = ch.pid;
	/* A kill after a random time (a quarter of them while the store
	 * opens or soon after) or after a random number of acks. */
	by_time = (int)bu_uniform(&rng, 2);
	trigger = !by_time ? 1 + bu_uniform(&rng, per_round) :
	    last + bu_uniform(&rng, bu_uniform(&rng, 4) == 0 ? 10 : 400);
	while (open && !pr.done) {
		now = bu_now_ms();
		if (by_time ? now >= trigger : pr.nacks >= trigger)
			break;
		if (now - last > 30000)
			die("the child made no progress for 30 s");
		open = bu_child_poll(&ch, by_time ? (int)(trigger - now) : 1000,
		    on_rec, &pr);
		if (pr.recs != seen) {
			seen = pr.recs;
			last = now;
		}
	}
	cst.in_sync += bu_threads_in(ch.pid, sync, 2) > 0;
	cst.in_write += bu_threads_in(ch.pid, wr, 2) > 0;
	/* What the child wrote before it died still counts. */
	if ((status = bu_child_kill(&ch, on_rec, &pr)) == -1)
		die("a torn record on the pipe");
	child_pid = -1;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		cst.kills++;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && pr.done)
		cst.exits++;
	else
		die("the child ended with status 0x%x", status);
	cst.early += !pr.ready;
}

/* Appends each send again, as a client would: all must be duplicates. */
static void
retry_all(struct event_base *base, struct iris_store *st, uint64_t *gs,
    size_t n)
{
	struct iris_send **m;
	struct bu_ack *res;
	size_t i;
	int rc;

	if ((m = calloc(n + 1, sizeof(*m))) == NULL ||
	    (res = calloc(n + 1, sizeof(*res))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		if ((rc = build_send(gs[i], &m[i], NULL)) != IRIS_OK)
			die("the checker's retry: %s", iris_errname(rc));
	if (bu_append_wait(base, st, m, res, n, 60000) != 0)
		die("the checker's retries failed or got no answer in 60 s");
	for (i = 0; i < n; i++) {
		if (res[i].rc != IRIS_OK || !res[i].dup)
			die("a retry of stored send %llu: %s, duplicate %d",
			    U(gs[i]), iris_errname(res[i].rc), res[i].dup);
		learn(gs[i], res[i].msg_id, res[i].seq, res[i].n, 1,
		    "checker");
		cst.retries++;
	}
	free(res);
	free(m);
}

/* Each stored message must be exactly what its send put there. */
static int
scan_cb(const struct iris_message *msg, void *arg)
{
	struct boxview *v = arg;
	int b = (int)(v - bv), ti;
	const uint8_t *cmid = iris_message_client_id(msg);
	uint64_t g = 0, seq = iris_message_seq(msg);
	uint8_t buf[MAXLEN];
	const void *data;
	const char *sender;
	struct gsend gs;
	uint32_t sdev;
	size_t len;

	for (ti = 9; ti < 16; ti++)
		g = g << 8 | cmid[ti];
	gen_send(g, &gs);
	if (memcmp(gs.cmid, cmid, 16) != 0 || !was_invoked(g))
		die("%s/%u seq %llu: a message no append made", boxes[b].user,
		    boxes[b].dev, U(seq));
	for (ti = 0; ti < (int)gs.n && gs.box[ti] != b; ti++)
		;
	sender = iris_message_sender(msg, &sdev);
	data = iris_message_data(msg, &len);
	if (ti < (int)gs.n)
		gen_env(g, (size_t)ti, buf, gs.len[ti]);
	if (ti == (int)gs.n || strcmp(sender, gs.sender) != 0 ||
	    sdev != gs.sdev || iris_message_class(msg) != gs.cls ||
	    len != gs.len[ti] || memcmp(buf, data, len) != 0)
		die("%s/%u seq %llu: not what send %llu put there",
		    boxes[b].user, boxes[b].dev, U(seq), U(g));
	if (v->n == v->cap) {
		v->cap = v->cap != 0 ? 2 * v->cap : 1024;
		if ((v->e = realloc(v->e, v->cap * sizeof(*v->e))) == NULL)
			die("out of memory");
	}
	v->e[v->n].seq = seq;
	v->e[v->n].g = g;
	v->e[v->n].msg_id = iris_message_id(msg);
	v->n++;
	return 0;
}

/* Dense seqs, cursor bounds, at most one copy of a send per inbox. */
static void
check_box(struct iris_store *st, int b, struct bu_map *unknown)
{
	struct boxview *v = &bv[b];
	uint64_t acked, head, after = 0, *gs;
	size_t i;
	int n;

	v->n = 0;
	while ((n = iris_store_scan(st, boxes[b].user, boxes[b].dev, after,
	    4096, scan_cb, v)) > 0)
		after = v->e[v->n - 1].seq;
	if (n < 0 || iris_store_depth(st, boxes[b].user, boxes[b].dev,
	    &acked, &head) != IRIS_OK)
		die("reading %s/%u: %s", boxes[b].user, boxes[b].dev,
		    iris_store_error(st));
	v->first = v->n > 0 ? v->e[0].seq : head + 1;
	for (i = 0; i < v->n; i++)
		if (v->e[i].seq != v->first + i)
			die("%s/%u: seq %llu follows %llu", boxes[b].user,
			    boxes[b].dev, U(v->e[i].seq), U(v->first + i - 1));
	/* Only acked-by-cursor messages may be gone (pruned). */
	if (v->first + v->n != head + 1 || v->first - 1 > acked ||
	    acked > head || acked < cursor_min[b])
		die("%s/%u: seqs %llu..%llu stored, head %llu, cursor %llu "
		    "(acked to the child: %llu)", boxes[b].user, boxes[b].dev,
		    U(v->first), U(v->first + v->n - 1), U(head), U(acked),
		    U(cursor_min[b]));
	if ((gs = malloc((v->n + 1) * sizeof(*gs))) == NULL)
		die("out of memory");
	for (i = 0; i < v->n; i++) {
		gs[i] = v->e[i].g;
		if (bu_map_get(&known, gs[i], 0) == NULL)
			bu_map_get(unknown, gs[i], 1);
	}
	bu_sort_u64(gs, v->n);
	for (i = 1; i < v->n; i++)
		if (gs[i] == gs[i - 1])
			die("%s/%u: send %llu stored twice", boxes[b].user,
			    boxes[b].dev, U(gs[i]));
	free(gs);
}

/* Every acked send: at its seqs with its msg id, or pruned. */
static void
check_known(void)
{
	struct boxview *v;
	struct known *k;
	struct gsend gs;
	size_t pos = 0, i;
	uint64_t g;

	while ((k = bu_map_next(&known, &pos, &g)) != NULL) {
		gen_send(g, &gs);
		for (i = 0; i < gs.n; i++) {
			v = &bv[gs.box[i]];
			if (k->seq[i] < v->first)
				continue;	/* pruned, below the cursor */
			if (k->seq[i] >= v->first + v->n ||
			    v->e[k->seq[i] - v->first].g != g ||
			    v->e[k->seq[i] - v->first].msg_id != k->msg_id)
				die("acked send %llu is not at %s/%u seq %llu",
				    U(g), boxes[gs.box[i]].user,
				    boxes[gs.box[i]].dev, U(k->seq[i]));
			cst.checks++;
		}
	}
}

struct trim {
	int		 box, done;
	uint64_t	 acked;
};

static void
on_trim(struct iris_store *st, int rc, uint64_t acked, void *arg)
{
	struct trim *t = arg;

	(void)st;
	if (rc != IRIS_OK)
		die("the checker's cursor ack: %s", iris_errname(rc));
	t->acked = acked;
	t->done = 1;
}

static int
trimmed(void *arg)
{
	struct trim *t = arg;
	int b;

	for (b = 0; b < NBOX; b++)
		if (!t[b].done)
			return 0;
	return 1;
}

/*
 * The checker acks each inbox up to its last KEEP messages, so that the
 * children prune (store_retention 0) and the file stays small however
 * many rounds run; each round's acked appends are checked in full first.
 */
static void
trim(struct event_base *base, struct iris_store *st)
{
	struct trim t[NBOX];
	uint64_t upto;
	int b, rc;

	for (b = 0; b < NBOX; b++) {
		t[b].box = b;
		t[b].done = 1;
		t[b].acked = 0;
		upto = bv[b].first + bv[b].n - 1;	/* the head */
		if (upto < KEEP || upto - KEEP <= cursor_min[b])
			continue;
		t[b].done = 0;
		if ((rc = iris_store_ack(st, boxes[b].user, boxes[b].dev,
		    upto - KEEP, on_trim, &t[b])) != IRIS_OK)
			die("iris_store_ack: %s", iris_errname(rc));
	}
	if (!run_until(base, trimmed, t, 60000))
		die("the checker's cursor acks got no answer in 60 s");
	for (b = 0; b < NBOX; b++)
		if (t[b].acked > cursor_min[b])
			cursor_min[b] = t[b].acked;
}

/*
 * After a kill: the store's own open, every inbox read whole, sends that
 * were committed but never acked learnt by retrying them, every acked
 * send located, a sample of acked sends retried, old messages acked.
 */
static void
verify_round(void)
{
	uint64_t rng = bu_mix(seed ^ (round_no << 20));
	struct event_base *base;
	struct iris_config *cfg;
	struct iris_store *st;
	struct bu_map unknown;
	uint64_t *gs;
	size_t pos = 0, i, n;
	int b, rc;

	if ((base = event_base_new()) == NULL || iris_config_new(&cfg) ||
	    iris_config_set(cfg, "inbox_cap", "100000000") != IRIS_OK)
		die("cannot set up the checker");
	if ((rc = iris_store_open(&st, base, DB, cfg)) != IRIS_OK)
		die("reopening the store after the kill: %s", iris_errname(rc));
	iris_config_free(cfg);
	bu_map_init(&unknown, 1);
	for (b = 0; b < NBOX; b++)
		check_box(st, b, &unknown);
	if ((gs = calloc(unknown.count + 8, sizeof(*gs))) == NULL)
		die("out of memory");
	for (n = 0; bu_map_next(&unknown, &pos, &gs[n]) != NULL; n++)
		;
	retry_all(base, st, gs, n);
	cst.unacked_committed += n;
	check_known();
	for (n = 0, i = 0; i < 64 && n < 8 && known.count > 0; i++) {
		pos = bu_uniform(&rng, known.cap);
		if (bu_map_next(&known, &pos, &gs[n]) != NULL)
			n++;
	}
	retry_all(base, st, gs, n);
	trim(base, st);
	free(gs);
	bu_map_free(&unknown);
	iris_store_close(st);
	event_base_free(base);
}

/*
 * PRAGMA integrity_check on the file as the kill left it. The connection
 * stays open while the store checks, and in three rounds of four closes
 * without a checkpoint, so the next child recovers a WAL.
 */
static sqlite3 *
integrity(void)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	const char *txt;

	if (access(DB, F_OK) != 0)
		return NULL;	/* killed before it created the file */
	if (sqlite3_open_v2(DB, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		die("sqlite3_open %s: %s", DB, sqlite3_errmsg(db));
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
	    round_no % 4 != 3, NULL);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK)
		die("integrity_check: %s", sqlite3_errmsg(db));
	txt = sqlite3_step(st) == SQLITE_ROW ?
	    (const char *)sqlite3_column_text(st, 0) : NULL;
	if (txt == NULL || strcmp(txt, "ok") != 0)
		die("PRAGMA integrity_check: %s", txt != NULL ? txt :
		    sqlite3_errmsg(db));
	if (sqlite3_step(st) != SQLITE_DONE)
		die("PRAGMA integrity_check: more than one row");
	sqlite3_finalize(st);
	cst.integrity++;
	return db;
}

int
main(void)
{
	unsigned long rounds = bu_env_ulong("IRIS_CRASH_ROUNDS", 50);
	uint64_t t0 = bu_now_ms();
	sqlite3 *db;
	int b;

	seed = bu_seed();
	per_round = bu_env_ulong("IRIS_CRASH_SENDS", 3000);
	printf("store_crash: seed %llu (IRIS_TEST_SEED to repeat), %lu "
	    "rounds of up to %llu appends\n", U(seed), rounds, U(per_round));
	if (per_round == 0 || rounds == 0)
		die("IRIS_CRASH_ROUNDS and IRIS_CRASH_SENDS must be positive");
	bu_map_init(&known, sizeof(struct known));
	if ((invoked = calloc(rounds * per_round / 8 + 1, 1)) == NULL)
		die("out of memory");
	unlink(DB);
	unlink(DB "-wal");
	unlink(DB "-shm");
	for (round_no = 0; round_no < rounds; round_no++) {
		run_child();
		db = integrity();
		verify_round();
		sqlite3_close(db);
		if ((round_no + 1) % 10 == 0 && round_no + 1 < rounds)
			printf("store_crash: %llu rounds, %llu acked appends\n",
			    U(round_no + 1), U(cst.acked));
	}
	if (cst.acked == 0 || cst.checks == 0)
		die("no append was acknowledged: the test proved nothing");
	printf("store_crash: ok: %lu rounds in %.1f s: %llu kill -9 (%llu "
	    "before the store was open), %llu clean exits\n", rounds,
	    (double)(bu_now_ms() - t0) / 1000, U(cst.kills), U(cst.early),
	    U(cst.exits));
	printf("store_crash: %llu acked appends (%llu sends, %llu duplicates"
	    " of which %llu of unacked attempts), %llu cursor acks\n",
	    U(cst.acked), U(cst.distinct), U(cst.dups), U(cst.dup_of_unacked),
	    U(cst.cursors));
	printf("store_crash: %llu envelope checks of acked appends after "
	    "kills; %llu sends committed but unacked at the kill; %llu "
	    "checker retries; integrity_check ok %llu times\n", U(cst.checks),
	    U(cst.unacked_committed), U(cst.retries), U(cst.integrity));
	printf("store_crash: kills with the writer thread in fdatasync %llu, "
	    "in pwrite %llu\n", U(cst.in_sync), U(cst.in_write));
	for (b = 0; b < NBOX; b++)
		free(bv[b].e);
	bu_map_free(&known);
	free(invoked);
	return 0;
}

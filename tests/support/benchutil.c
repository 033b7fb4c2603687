/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by system tests and benchmarks: clocks, seeds,
 * deterministic bytes, percentiles, bounded loop runs, scratch dirs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "iris.h"
#include "iris_store.h"
#include "benchutil.h"

uint64_t
bu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
bu_now_ms(void)
{
	return bu_now_ns() / 1000000;
}

unsigned long
bu_env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	unsigned long long x;
	char *end;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0')
		return def;
	return (unsigned long)x;
}

uint64_t
bu_seed(void)
{
	const char *v = getenv("IRIS_TEST_SEED");
	struct timespec ts;
	char *end;

	if (v != NULL && *v != '\0') {
		unsigned long long x = strtoull(v, &end, 0);

		if (*end == '\0')
			return x;
		fprintf(stderr, "IRIS_TEST_SEED=%s is not a number; "
		    "ignoring it\n", v);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return bu_mix(((uint64_t)ts.tv_sec * 1000000000ULL +
	    (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid() << 32) >> 16;
}

uint64_t
bu_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t
bu_rand(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return bu_mix(*state);
}

uint64_t
bu_uniform(uint64_t *state, uint64_t n)
{
	/* The modulo bias is negligible for the small n of tests. */
	return bu_rand(state) % n;
}

void
bu_fill(void *buf, size_t len, uint64_t key)
{
	uint8_t *p = buf;
	uint64_t st = key, r;
	size_t i, k;

	for (i = 0; i < len; i += 8) {
		r = bu_rand(&st);
		for (k = 0; k < 8 && i + k < len; k++)
			p[i + k] = (uint8_t)(r >> (8 * k));
	}
}

uint64_t
bu_fnv64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
bu_sort_u64(uint64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t
bu_pct(const uint64_t *sorted, size_t n, double pct)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}


char *
bu_mkdtemp(const char *parent, const char *tag)
{
	size_t len = strlen(parent) + strlen(tag) + 16;
	char *path;

	if ((path = malloc(len)) == NULL)
		return NULL;
	snprintf(path, len, "%s/%s.XXXXXX", parent, tag);
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

/* The scratch directories are flat: files only, no subdirectories. */
int
bu_rm_rf(const char *path)
{
	struct dirent *de;
	char file[4096];
	DIR *d;
	int rc = 0;

	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (unlink(file) != 0)
			rc = -1;
	}
	closedir(d);
	return rmdir(path) != 0 ? -1 : rc;
}

void
bu_map_init(struct bu_map *m, size_t vsize)
{
	memset(m, 0, sizeof(*m));
	m->vsize = vsize;
}

static void *
map_slot(struct bu_map *m, uint64_t key, int create)
{
	size_t i;

	for (i = bu_mix(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key + 1)
			return m->vals + i * m->vsize;
		if (m->keys[i] == 0)
			break;
	}
	if (!create)
		return NULL;
	m->keys[i] = key + 1;
	m->count++;
	return m->vals + i * m->vsize;
}

void *
bu_map_get(struct bu_map *m, uint64_t key, int create)
{
	struct bu_map old = *m;
	size_t i;

	if (create && 2 * (m->count + 1) > m->cap) {
		m->cap = m->cap != 0 ? 2 * m->cap : 1024;
		m->count = 0;
		m->keys = calloc(m->cap, sizeof(*m->keys));
		m->vals = calloc(m->cap, m->vsize);
		if (m->keys == NULL || m->vals == NULL) {
			fprintf(stderr, "bu_map: out of memory\n");
			abort();
		}
		for (i = 0; i < old.cap; i++)
			if (old.keys[i] != 0)
				memcpy(map_slot(m, old.keys[i] - 1, 1),
				    old.vals + i * m->vsize, m->vsize);
		free(old.keys);
		free(old.vals);
	}
	if (m->cap == 0)
		return NULL;
	return map_slot(m, key, create);
}

void *
bu_map_next(const struct bu_map *m, size_t *pos, uint64_t *key)
{
	for (; *pos < m->cap; (*pos)++)
		if (m->keys[*pos] != 0) {
			if (key != NULL)
				*key = m->keys[*pos] - 1;
			return m->vals + (*pos)++ * m->vsize;
		}
	return NULL;
}

void
bu_map_free(struct bu_map *m)
{
	free(m->keys);
	free(m->vals);
	bu_map_init(m, m->vsize);
}

int
bu_threads_in(int pid, const long *nrs, size_t n)
{
	char path[300], line[64];
	struct dirent *de;
	int count = 0;
	size_t i;
	long nr;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", pid,
		    de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
		    sscanf(line, "%ld", &nr) == 1)
			for (i = 0; i < n; i++)
				count += nr == nrs[i];
		fclose(f);
	}
	closedir(d);
	return count;
}

int
bu_child_start(struct bu_child *c, size_t recsize,
    void (*fn)(int fd, void *arg), void *arg)
{
	int p[2];

	memset(c, 0, sizeof(*c));
	c->recsize = recsize;
	if (recsize == 0 || recsize > PIPE_BUF || pipe(p) != 0)
		return -1;
	fflush(NULL);
	if ((c->pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (c->pid == 0) {
		close(p[0]);
		fn(p[1], arg);
		_exit(5);
	}
	close(p[1]);
	c->fd = p[0];
	return 0;
}

int
bu_child_poll(struct bu_child *c, int timeout_ms, bu_rec_cb cb, void *arg)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	size_t off;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return 1;
	do
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	c->have += (size_t)n;
	for (off = 0; c->have - off >= c->recsize; off += c->recsize)
		cb(c->buf + off, arg);
	memmove(c->buf, c->buf + off, c->have - off);
	c->have -= off;
	return 1;
}

int
bu_child_kill(struct bu_child *c, bu_rec_cb cb, void *arg)
{
	int status;

	kill(c->pid, SIGKILL);
	while (bu_child_poll(c, 10000, cb, arg))
		;
	close(c->fd);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	return c->have != 0 ? -1 : status;
}

void
bu_child_put(int fd, const void *rec, size_t recsize)
{
	ssize_t n;

	do
		n = write(fd, rec, recsize);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)recsize)
		_exit(4);
}

static void
on_ack(struct iris_store *st, int rc, uint64_t msg_id, const uint64_t *seqs,
    size_t n, int dup, void *arg)
{
	struct bu_ack *a = arg;

	(void)st;
	a->rc = rc;
	a->dup = dup;
	a->msg_id = msg_id;
	a->n = n < BU_MAX_SEQS ? n : BU_MAX_SEQS;
	if (a->n > 0)
		memcpy(a->seq, seqs, a->n * sizeof(*seqs));
	a->done = 1;
}

struct ackwait {
	struct bu_ack	*res;
	size_t		 next, n;
};

static int
all_acked(void *arg)
{
	struct ackwait *aw = arg;

	while (aw->next < aw->n && aw->res[aw->next].done)
		aw->next++;
	return aw->next == aw->n;
}

int
bu_append_wait(struct event_base *base, struct iris_store *st,
    struct iris_send **sends, struct bu_ack *res, size_t n,
    unsigned timeout_ms)
{
	struct ackwait aw = { res, 0, n };
	size_t i;
	int bad = 0;

	memset(res, 0, n * sizeof(*res));
	for (i = 0; i < n; i++)
		if ((res[i].rc = iris_store_append(st, sends[i], on_ack,
		    &res[i])) != IRIS_OK) {
			res[i].done = 1;
			bad = 1;
		}
	return run_until(base, all_acked, &aw, timeout_ms) && !bad ? 0 : -1;
}

#define FSYNC_OW_SIZE	(4 << 20)	/* file for overwrite+fdatasync */

int
bu_fsync_rate(const char *dir, int overwrite, double secs, double *per_s,
    double *p50_us, double *p99_us)
{
	char path[4200], buf[512];
	uint64_t *lat = NULL, end, t;
	size_t n = 0, cap = 0;
	off_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync.tmp", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0) {
		perror(path);
		return -1;
	}
	bu_fill(buf, sizeof(buf), 1);
	/* Overwrites go to blocks already written and synced. */
	for (; overwrite && off < FSYNC_OW_SIZE; off += (off_t)sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			overwrite = -1;
	if (overwrite < 0 || fsync(fd) != 0) {
		perror(path);
		close(fd);
		return -1;
	}
	off = 0;
	end = bu_now_ns() + (uint64_t)(secs * 1e9);
	while ((t = bu_now_ns()) < end) {
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) != 0) {
			perror("write+fdatasync");
			close(fd);
			return -1;
		}
		off += (off_t)sizeof(buf);
		if (overwrite && off >= FSYNC_OW_SIZE)
			off = 0;
		if (n == cap && (lat = realloc(lat, (cap = cap * 2 + 4096) *
		    sizeof(*lat))) == NULL)
			abort();
		lat[n++] = bu_now_ns() - t;
	}
	close(fd);
	unlink(path);
	bu_sort_u64(lat, n);
	*per_s = (double)n / secs;
	*p50_us = (double)bu_pct(lat, n, 50) / 1e3;
	*p99_us = (double)bu_pct(lat, n, 99) / 1e3;
	free(lat);
	return n > 0 ? 0 : -1;
}

/* SPDX-License-Identifier: ISC */
/* Starting, watching and stopping a real irisd in system tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The reader thread: everything irisd writes, until it closes stderr. */
static void *
reader_main(void *arg)
{
	struct daemon *d = arg;
	char buf[4096];
	ssize_t n;
	size_t room;

	while ((n = read(d->logfd, buf, sizeof(buf))) > 0 ||
	    (n < 0 && errno == EINTR)) {
		if (n <= 0)
			continue;
		if (getenv("IRIS_TEST_VERBOSE") != NULL)
			fwrite(buf, 1, (size_t)n, stderr);
		pthread_mutex_lock(&d->mu);
		room = sizeof(d->log) - 1 - d->loglen;
		if ((size_t)n > room)
			n = (ssize_t)room;	/* keep the start; drop more */
		memcpy(d->log + d->loglen, buf, (size_t)n);
		d->loglen += (size_t)n;
		d->log[d->loglen] = '\0';
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
	pthread_mutex_lock(&d->mu);
	d->eof = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

const char *
daemon_wait_line(struct daemon *d, const char *what, unsigned timeout_ms)
{
	static char line[1024];
	struct timespec ts;
	const char *ret = NULL;
	char *hit, *start, *end;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->mu);
	for (;;) {
		hit = strstr(d->log + d->scanned, what);
		if (hit != NULL && (end = strchr(hit, '\n')) != NULL) {
			for (start = hit; start > d->log && start[-1] != '\n';)
				start--;
			snprintf(line, sizeof(line), "%.*s",
			    (int)(end - start), start);
			d->scanned = (size_t)(end + 1 - d->log);
			ret = line;
			break;
		}
		if (d->eof || pthread_cond_timedwait(&d->cv, &d->mu, &ts) ==
		    ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int
daemon_start(struct daemon *d, const char *const *args, unsigned timeout_ms)
{
	const char *argv[64];
	int i = 0;

	argv[i++] = "-d";
	while (*args != NULL && i < 62)
		argv[i++] = *args++;
	argv[i] = NULL;
	return daemon_start_prog(d, "irisd", argv, timeout_ms);
}

int
daemon_start_prog(struct daemon *d, const char *prog,
    const char *const *args, unsigned timeout_ms)
{
	const char *build = getenv("IRIS_BUILD");
	const char *argv[64], *line;
	char path[4096];
	int pfd[2], i = 0;

	memset(d, 0, sizeof(*d));
	d->logfd = -1;
	if (build == NULL || pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", build, prog);
	argv[i++] = path;
	while (*args != NULL && i < 62)
		argv[i++] = *args++;
	argv[i] = NULL;
	if ((d->pid = fork()) == 0) {
		dup2(pfd[1], 2);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	d->logfd = pfd[0];
	if (d->pid < 0)
		return -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->reader, NULL, reader_main, d) != 0)
		return -1;
	if ((line = daemon_wait_line(d, "(port ", timeout_ms)) != NULL)
		sscanf(strstr(line, "(port ") + 6, "%d", &d->port);
	if ((line = daemon_wait_line(d, "fingerprint", timeout_ms)) != NULL)
		sscanf(strrchr(line, ' ') + 1, "%64s", d->fp);
	if (daemon_wait_line(d, "ready", timeout_ms) != NULL && d->port > 0 &&
	    strlen(d->fp) == 64)
		return 0;
	/* Not the daemon we expected: do not leave it running. */
	daemon_stop(d, SIGKILL, timeout_ms);
	return -1;
}

int
daemon_stop(struct daemon *d, int sig, unsigned timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	int exited;
	pid_t r;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	/* The exit closes its stderr: the reader sees the end. */
	while ((r = waitpid(d->pid, &d->status, WNOHANG)) == 0 &&
	    mono_ms() < deadline)
		daemon_wait_line(d, "\n\n", 20);	/* no such line: waits */
	exited = r == d->pid;
	if (!exited) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->status, 0);
	}
	d->pid = 0;
	pthread_join(d->reader, NULL);
	close(d->logfd);
	d->logfd = -1;
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	if (!exited)
		return -1;
	return WIFEXITED(d->status) ? WEXITSTATUS(d->status) : -1;
}

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

/* Reads what irisd wrote, waiting at most ms for something. */
static void
pump(struct daemon *d, int ms)
{
	struct pollfd p = { d->logfd, POLLIN, 0 };
	ssize_t n;

	if (d->logfd < 0 || poll(&p, 1, ms) <= 0)
		return;
	n = read(d->logfd, d->log + d->loglen, sizeof(d->log) - 1 - d->loglen);
	if (n <= 0) {
		close(d->logfd);
		d->logfd = -1;
		return;
	}
	d->loglen += (size_t)n;
	d->log[d->loglen] = '\0';
	if (getenv("IRIS_TEST_VERBOSE") != NULL)
		fwrite(d->log + d->loglen - (size_t)n, 1, (size_t)n, stderr);
}

const char *
daemon_wait_line(struct daemon *d, const char *what, unsigned timeout_ms)
{
	static char line[1024];
	long long deadline = mono_ms() + timeout_ms;
	char *hit, *start, *end;

	for (;;) {
		hit = strstr(d->log + d->scanned, what);
		if (hit != NULL && (end = strchr(hit, '\n')) != NULL) {
			for (start = hit; start > d->log && start[-1] != '\n';)
				start--;
			snprintf(line, sizeof(line), "%.*s",
			    (int)(end - start), start);
			d->scanned = (size_t)(end + 1 - d->log);
			return line;
		}
		if (mono_ms() >= deadline || d->logfd < 0)
			return NULL;
		pump(d, (int)(deadline - mono_ms()));
	}
}

int
daemon_start(struct daemon *d, const char *const *args, unsigned timeout_ms)
{
	const char *build = getenv("IRIS_BUILD");
	const char *argv[64], *line;
	char path[4096];
	int pfd[2], i = 0;

	memset(d, 0, sizeof(*d));
	d->logfd = -1;
	if (build == NULL || pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/irisd", build);
	argv[i++] = path;
	argv[i++] = "-d";
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
	if ((line = daemon_wait_line(d, "(port ", timeout_ms)) != NULL)
		sscanf(strstr(line, "(port ") + 6, "%d", &d->port);
	if ((line = daemon_wait_line(d, "fingerprint", timeout_ms)) != NULL)
		sscanf(strrchr(line, ' ') + 1, "%64s", d->fp);
	return daemon_wait_line(d, "ready", timeout_ms) != NULL &&
	    d->port > 0 && strlen(d->fp) == 64 ? 0 : -1;
}

int
daemon_stop(struct daemon *d, int sig, unsigned timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	pid_t r;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	while ((r = waitpid(d->pid, &d->status, WNOHANG)) == 0 &&
	    mono_ms() < deadline)
		pump(d, 20);	/* keep its log flowing while it drains */
	if (r != d->pid) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->status, 0);
		d->pid = 0;
		return -1;
	}
	d->pid = 0;
	while (d->logfd >= 0)
		pump(d, 100);
	return WIFEXITED(d->status) ? WEXITSTATUS(d->status) : -1;
}

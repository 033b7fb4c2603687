/* SPDX-License-Identifier: ISC */
/*
 * Exclusive lock files (see lockfile.h).
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iris.h"
#include "util/lockfile.h"

int
iris__lockfile_take(const char *path, int *fdp, char *why, size_t whylen)
{
	char lock[4096];
	int fd, n;

	*fdp = -1;
	n = snprintf(lock, sizeof(lock), "%s-lock", path);
	if (n < 0 || (size_t)n >= sizeof(lock)) {
		snprintf(why, whylen, "path too long");
		return IRIS_EINVAL;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "%.300s: %s", lock, strerror(errno));
		return IRIS_EIO;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		if (e == EWOULDBLOCK) {
			snprintf(why, whylen, "in use by another process or "
			    "handle (%.300s is locked)", lock);
			return IRIS_EBUSY;
		}
		snprintf(why, whylen, "%.300s: %s", lock, strerror(e));
		return IRIS_EIO;
	}
	*fdp = fd;
	return IRIS_OK;
}

void
iris__lockfile_release(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing the descriptor drops the lock */
}

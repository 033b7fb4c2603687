/* SPDX-License-Identifier: ISC */
/*
 * Exclusive lock files: one process (and one open handle) per store.
 * The store's writer assumes it is the only one assigning sequence
 * numbers, so a second engine or queue on the same files must be refused
 * before it touches them. The lock is an flock(2) on "<path>-lock",
 * released by the kernel when the holder exits, however it exits; the
 * file itself is left in place (removing it would race a new holder).
 */
#ifndef IRIS_UTIL_LOCKFILE_H
#define IRIS_UTIL_LOCKFILE_H

#include <stddef.h>

/*
 * Takes the lock of the file at path and stores its descriptor in *fdp.
 * IRIS_OK; IRIS_EBUSY when another handle holds it; IRIS_EIO otherwise.
 * On failure *fdp is -1 and why says what happened.
 */
int	 iris__lockfile_take(const char *path, int *fdp, char *why,
	    size_t whylen);
/* Releases a lock taken above; -1 is ignored. */
void	 iris__lockfile_release(int fd);

#endif /* IRIS_UTIL_LOCKFILE_H */

/* SPDX-License-Identifier: ISC */
/* A fault-injecting SQLite VFS for tests: power loss, I/O errors, full disk. */
#ifndef IRIS_TESTS_FAULTVFS_H
#define IRIS_TESTS_FAULTVFS_H

#include <stdint.h>

/*
 * "faultvfs" wraps SQLite's "unix" VFS. It tracks the database, WAL and
 * journal files by path and keeps, for each, the image a power loss would
 * leave: a file's content becomes durable at its own successful xSync (the
 * real fsync is skipped: the model is the disk), an unlink becomes durable
 * at the next successful sync of any file or at once when SQLite asks for
 * a directory sync (ext4 data=ordered). Operations that change a file
 * (xWrite, xSync, xTruncate, xDelete, creating open) are numbered from 1
 * since faultvfs_reset(). The state is process-global and locked: it is a
 * test double, used by the store's writer thread and loop alike.
 */
#define FAULTVFS_NAME	"faultvfs"

/* What faultvfs_fail_nth() counts. */
#define FAULTVFS_WRITE	1
#define FAULTVFS_SYNC	2

struct faultvfs_stats {
	uint64_t	 ops;		/* changing operations so far */
	uint64_t	 writes;
	uint64_t	 syncs;
	uint64_t	 faults;	/* operations failed on purpose */
	uint64_t	 full;		/* SQLITE_FULL (byte budget) */
	int		 dead;		/* the disk died (die_at) */
};

/* Registers "faultvfs" (not as the default); idempotent. SQLITE_OK. */
int	 faultvfs_register(void);
/* Forgets every file image and fault; counters back to 0. */
void	 faultvfs_reset(void);
/* From operation op on (0: never), every changing operation fails. */
void	 faultvfs_die_at(uint64_t op);
/*
 * The nth xWrite or xSync (kind) from now on fails; once, or with
 * permanent set, every changing operation after it fails too, until
 * faultvfs_heal().
 */
void	 faultvfs_fail_nth(int kind, uint64_t n, int permanent);
void	 faultvfs_heal(void);
/*
 * What a failed xSync leaves: with drop set, the writes it should have
 * made durable are lost to later syncs (Linux marks the pages clean after
 * a writeback error); otherwise the next sync still carries them.
 */
void	 faultvfs_sync_fail_drops(int drop);
/* xWrite and growth past this many bytes of live files: SQLITE_FULL. */
void	 faultvfs_set_budget(uint64_t bytes);	/* 0: no budget */
void	 faultvfs_stats(struct faultvfs_stats *st);
/*
 * A slow disk: every xSync of a tracked file whose path contains substr
 * takes ms longer (the caller's thread sleeps, outside the VFS's lock).
 * NULL or 0 ms: no delay. Kept across faultvfs_reset().
 */
void	 faultvfs_sync_delay(const char *substr, unsigned ms);
/*
 * Held database syncs: while hold is set, every xSync of a main database
 * file (not its WAL or journal) waits, before it does anything, until the
 * hold is released; other threads' operations go on meanwhile. Only
 * checkpoints sync the database file of a WAL store. Kept across
 * faultvfs_reset().
 */
void	 faultvfs_hold_db_syncs(int hold);
/* How many syncs wait on the hold now. */
unsigned faultvfs_held_db_syncs(void);
/*
 * Power loss, once every connection is closed: each tracked file goes
 * back to its durable image (or away, if it has none) and -shm files are
 * removed. With torn set, each 4 KiB page written since a file's last
 * sync may have reached the disk too: a random half of them (from *rng)
 * is taken from the live file. Then the state is reset. Returns the
 * number of files rewritten, or -1 on a system error.
 */
int	 faultvfs_powerloss(int torn, uint64_t *rng);

#endif /* IRIS_TESTS_FAULTVFS_H */

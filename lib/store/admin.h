/* SPDX-License-Identifier: ISC */
/*
 * Store-side administration (lib/store/admin.c), for the engine's admin
 * socket: listings on the read connection, the disabled flag as a write
 * job, an integrity check and an online backup on connections of their own.
 */
#ifndef IRIS_STORE_ADMIN_H
#define IRIS_STORE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

struct iris_store;
struct iris_backup;

struct iris_user_row {
	char		 user[65];
	uint64_t	 devices;	/* not revoked */
	int		 disabled;
};

struct iris_device_row {
	uint32_t	 device;
	char		 name[65];
	uint64_t	 created_ms;
	uint64_t	 revoked_ms;	/* 0: not revoked */
};

/*
 * Reads on the loop, through the read connection. users fills up to max
 * rows with the users after `after` ("" for the first) in user id order;
 * devices the devices of user numbered above after_device. Both return
 * the number of rows or IRIS_ESTORE.
 */
int	 iris__store_users(struct iris_store *s, const char *after,
	    struct iris_user_row *rows, size_t max);
int	 iris__store_devices(struct iris_store *s, const char *user,
	    uint32_t after_device, struct iris_device_row *rows, size_t max);

/*
 * Sets accounts.disabled in a write job. cb runs later on the loop with
 * IRIS_OK, IRIS_ENOTFOUND (no such user) or a store error, once the change
 * is durable; on a negative return it is never called.
 */
typedef void (*iris_store_done_cb)(int result, void *arg);
int	 iris__store_set_disabled(struct iris_store *s, const char *user,
	    int disabled, iris_store_done_cb cb, void *arg);

/*
 * PRAGMA integrity_check on a read-only connection of its own, on the
 * calling thread (it reads the whole file). cb gets each result line.
 * IRIS_OK when the result is "ok", IRIS_ECORRUPT when it lists problems,
 * IRIS_ESTORE (reason in err) when the check could not run.
 */
typedef void (*iris_store_line_cb)(const char *line, void *arg);
int	 iris__store_check(struct iris_store *s, iris_store_line_cb cb,
	    void *arg, char *err, size_t errlen);

/*
 * An online backup into path, which must not exist (made mode 0600),
 * from a read-only connection holding one snapshot, so commits go on
 * meanwhile. step copies up to pages pages: 0 more to do, 1 done (the
 * copy is durable), or a negative code with the reason in err. Freeing an
 * unfinished backup removes the partial file.
 */
int	 iris__store_backup_new(struct iris_backup **bp, struct iris_store *s,
	    const char *path, char *err, size_t errlen);
int	 iris__store_backup_step(struct iris_backup *b, int pages, char *err,
	    size_t errlen);
/* Pages in the copy (known after the first step). */
int	 iris__store_backup_pages(const struct iris_backup *b);
void	 iris__store_backup_free(struct iris_backup *b);

#endif /* IRIS_STORE_ADMIN_H */

/* SPDX-License-Identifier: ISC */
/*
 * Accounts, devices, device lists, invites and revocations in the store:
 * reads on the loop through the read connection, writes as jobs on the
 * writer thread (durable before their callback runs). Used by the core
 * services of the engine; not part of the public queue API.
 */
#ifndef IRIS_STORE_ACCOUNTS_H
#define IRIS_STORE_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/worker.h"

struct iris_store;

#define IRIS_KEY_LEN		32
#define IRIS_SIG_LEN		64
#define IRIS_LIST_MAX		4096	/* encoded device list */
#define IRIS_CODE_MAX		64	/* invite codes, link tokens */

enum iris_acct_op {
	ACCT_REGISTER,		/* a user's first or a further device */
	ACCT_INVITE,		/* make an invite code */
	ACCT_LINK,		/* make a link token for a user */
	ACCT_DEVLIST_PUT,	/* a newer signed device list */
	ACCT_REVOKE,		/* a token id or a device */
	ACCT_SETTINGS,		/* privacy and receipts of a user */
	ACCT_CONTACTS,		/* contacts added and removed */
	ACCT_DISABLE,		/* accounts.disabled set or cleared */
};

#define IRIS_CONTACTS_EDIT_MAX	64	/* users added or removed at once */

/* Revocation kinds (revocations.kind). */
#define IRIS_REVOKE_TOKEN	1
#define IRIS_REVOKE_DEVICE	2

struct iris_acct_job;
typedef void (*iris_acct_cb)(struct iris_acct_job *job, void *arg);

struct iris_acct_job {
	struct iris_job		 job;
	struct iris_store	*store;
	enum iris_acct_op	 op;
	iris_acct_cb		 cb;
	void			*arg;
	/* Frees arg when cb will never run (the store closed first). */
	void			(*drop)(void *arg);
	uint64_t		 now_ms;

	/* Inputs. */
	char			 user[65];
	uint32_t		 device;
	uint8_t			 key[IRIS_KEY_LEN];
	char			 name[65];
	char			 code[IRIS_CODE_MAX + 1];	/* invite/link */
	int			 open_policy;	/* no invite needed */
	int			 is_link;	/* code is a link token */
	uint32_t		 max_devices;
	uint64_t		 expires_ms;
	uint64_t		 version;
	uint8_t			 list[IRIS_LIST_MAX];
	size_t			 list_len;
	uint8_t			 sig[IRIS_SIG_LEN];
	int			 revoke_kind;
	uint8_t			 revoke_key[80];
	size_t			 revoke_len;
	int			 privacy;	/* SETTINGS */
	int			 receipts;
	int			 disabled;	/* DISABLE */
	/* CONTACTS: user ids to add, then to remove; at most
	 * max_contacts on the list after the edit. */
	char			 add[IRIS_CONTACTS_EDIT_MAX][65];
	size_t			 nadd;
	char			 del[IRIS_CONTACTS_EDIT_MAX][65];
	size_t			 ndel;
	uint32_t		 max_contacts;

	/*
	 * Result: job.rc is IRIS_OK or a refusal: IRIS_EEXIST (user taken),
	 * IRIS_EDENIED (no or a bad invite or link token), IRIS_ELIMIT (too
	 * many devices), IRIS_ESTALE (device list version not newer),
	 * IRIS_ENOTFOUND (no such user: SETTINGS, DISABLE, or an added
	 * contact), IRIS_ELIMIT (CONTACTS: the list would be too long).
	 */
	uint32_t		 out_device;
	int			 out_primary;
};

/* Queues a job (a copy is not made: the job is freed after its cb). */
int	 iris__acct_submit(struct iris_store *s, struct iris_acct_job *j);
struct iris_acct_job *iris__acct_job_new(struct iris_store *s,
	    enum iris_acct_op op, iris_acct_cb cb, void *arg);

/* Reads on the loop. IRIS_OK, IRIS_ENOTFOUND or IRIS_ESTORE. */
int	 iris__acct_device(struct iris_store *s, const char *user,
	    uint32_t device, uint8_t key[IRIS_KEY_LEN], int *revoked);
/* IRIS_OK when the user exists (disabled, if not NULL, says whether an
 * administrator disabled it), IRIS_ENOTFOUND, or IRIS_ESTORE. */
int	 iris__acct_user(struct iris_store *s, const char *user,
	    int *disabled);
int	 iris__acct_devlist(struct iris_store *s, const char *user,
	    uint64_t *version, uint8_t *list, size_t *list_len,
	    uint8_t sig[IRIS_SIG_LEN]);
int	 iris__acct_revoked(struct iris_store *s, int kind, const void *key,
	    size_t len);
/* Privacy (0 everyone, 1 contacts, 2 nobody) and receipts of a user. */
int	 iris__acct_settings(struct iris_store *s, const char *user,
	    int *privacy, int *receipts);
/* 1 when contact is on user's contact list, 0 when not, or IRIS_ESTORE. */
int	 iris__acct_is_contact(struct iris_store *s, const char *user,
	    const char *contact);
/* Calls cb for each contact of user, in order, at most max; returns how
 * many or IRIS_ESTORE. */
int	 iris__acct_contacts(struct iris_store *s, const char *user,
	    size_t max, void (*cb)(const char *contact, void *arg), void *arg);

/*
 * One read snapshot around several reads of one synchronous call on the
 * loop (a login's checks): one read transaction instead of one per
 * statement. Nests; never held across a return to the loop.
 */
void	 iris__acct_read_hold(struct iris_store *s);
void	 iris__acct_read_release(struct iris_store *s);

#endif /* IRIS_STORE_ACCOUNTS_H */

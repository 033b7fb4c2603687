/* SPDX-License-Identifier: ISC */
/*
 * Messaging for tests, over authclient connections: users with several
 * devices (registered, linked, logged in, listed in a device list signed
 * by the primary here), and the frames of sending, acking and syncing.
 */
#ifndef IRIS_TESTS_MSGCLIENT_H
#define IRIS_TESTS_MSGCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "authclient.h"

#define MC_DEVS		17

struct mc_user {
	char		 name[65];
	int		 n;
	struct ac_dev	 dev[MC_DEVS];
	struct ac_conn	 c[MC_DEVS];
	uint64_t	 version;	/* of the last device list put */
};

/*
 * Registers name with ndev devices (invite NULL: open registration), each
 * logged in on its own connection, and puts the list of all of them.
 * Returns 0, or the error code that stopped it (-1: no answer).
 */
int	 mc_user_new(struct mc_user *u, const char *name, int ndev,
	    struct event_base *base, int port, const char *fp,
	    const char *invite);
/* Adds a device (linked by the primary, logged in); no list put. */
int	 mc_user_add(struct mc_user *u, struct event_base *base, int port,
	    const char *fp);
/* Puts a list of the first n devices (version u->version + 1). */
int	 mc_user_list(struct mc_user *u, int n);
/* Reconnects device i and logs it in with a signature. */
int	 mc_relogin(struct mc_user *u, int i, struct event_base *base,
	    int port, const char *fp);
void	 mc_user_close(struct mc_user *u);

/* A device list of devs, version v, signed by signer, put over c. */
int	 mc_put_list(struct ac_conn *c, struct ac_dev *const *devs, int n,
	    uint64_t v, const struct ac_dev *signer);

/* Frames. Envelopes are added to a send one by one (copied). */
void	 mc_send(struct iris_wire_msg *m, uint64_t rid,
	    const uint8_t cmid[16], int msg_class, int transient);
int	 mc_env(struct iris_wire_msg *m, const char *user, uint32_t device,
	    const void *p, size_t len);
/* Envelopes for every device of each user in users, but the sender's. */
int	 mc_env_all(struct iris_wire_msg *m, struct mc_user *const *users,
	    int nusers, const struct mc_user *from, int from_dev,
	    const void *p, size_t len);
void	 mc_free(struct iris_wire_msg *m);
void	 mc_sync(struct iris_wire_msg *m, uint64_t rid, uint64_t after,
	    uint32_t max);
void	 mc_ack(struct iris_wire_msg *m, uint64_t rid, uint64_t seq);

/* The payload of a delivery or a sync item (NULL for receipts). */
const uint8_t *mc_payload(const struct iris_wire_msg *m, size_t item,
	    size_t *len);

#endif

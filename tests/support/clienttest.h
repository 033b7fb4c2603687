/* SPDX-License-Identifier: ISC */
/*
 * Client objects for tests: a recorder that keeps what each callback of
 * a client saw (states, messages in order, sends' progress, receipts,
 * typing, presence, errors), and the boilerplate of making a client of a
 * store for a server's port and fingerprint.
 */
#ifndef IRIS_TESTS_CLIENTTEST_H
#define IRIS_TESTS_CLIENTTEST_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "iris_client.h"

#define CT_MSGS		4096	/* messages a recorder keeps */

struct ct_msg {
	char		 sender[65];
	uint32_t	 device;
	char		 recipient[65];
	uint32_t	 type;
	uint8_t		 id[16];
	size_t		 len;
	char		 body[256];	/* the start of the body, NUL-ended */
};

struct ct_rec {
	struct iris_client *c;
	const char	*name;		/* for messages */
	int		 state;
	int		 state_err;
	int		 onlines;	/* ONLINE reports */
	int		 offlines;	/* OFFLINE reports with an error */
	struct ct_msg	*msgs;		/* CT_MSGS of them */
	size_t		 nmsgs;
	size_t		 queued;	/* IRIS_CLIENT_QUEUED reports */
	size_t		 acked;		/* IRIS_CLIENT_ACKED reports */
	size_t		 failed;	/* negative reports */
	int		 last_fail;
	size_t		 receipts;
	uint8_t		 receipt_id[16];
	char		 receipt_user[65];
	int		 typing;		/* last typing seen; -1 none */
	size_t		 presences;
	char		 presence_user[65];
	int		 presence_online;
	int		 presence_hidden;
	size_t		 errors;
	int		 last_error;
	/* Set to free the client inside its next message callback. */
	int		 free_in_message;
	/* Set to free the client inside its ONLINE state callback. */
	int		 free_when_online;
};

/* A done callback's outcome. */
struct ct_done {
	int		 done;
	int		 rc;
};

void	 ct_rec_init(struct ct_rec *r, const char *name);
void	 ct_rec_free(struct ct_rec *r);
/* Sets every callback of c to record into r. */
void	 ct_attach(struct ct_rec *r, struct iris_client *c);
/* A config for 127.0.0.1:port pinned to fp (64 hex), for user. */
struct iris_client_config *ct_config(int port, const char *fp,
	    const char *user, const char *account);
/* A client of store with r attached; NULL on failure (printed). */
struct iris_client *ct_client(struct event_base *base,
	    struct iris_client_store *store, int port, const char *fp,
	    const char *user, const char *account, struct ct_rec *r);

void	 ct_done_cb(struct iris_client *c, int rc, void *arg);
/* A link token callback's outcome (wait on its d). */
struct ct_token {
	struct ct_done	 d;
	char		 token[80];
};
void	 ct_token_cb(struct iris_client *c, int rc, const char *token,
	    uint64_t expires_ms, void *arg);
/* Runs base until d is done (or timeout_ms); returns d->rc or -1000. */
int	 ct_wait_done(struct event_base *base, struct ct_done *d,
	    unsigned timeout_ms);
/* Runs base until r has seen state (or timeout_ms); 1 if it has. */
int	 ct_wait_state(struct event_base *base, struct ct_rec *r, int state,
	    unsigned timeout_ms);
/* Runs base until r has seen an OFFLINE with an error, more than it had
 * seen when it was called (before, from r->offlines); 1 if it has. */
int	 ct_wait_offline(struct event_base *base, struct ct_rec *r,
	    int before, unsigned timeout_ms);
/* Runs base until r holds n messages, n acks, ...; 1 if it does. */
int	 ct_wait_msgs(struct event_base *base, struct ct_rec *r, size_t n,
	    unsigned timeout_ms);
int	 ct_wait_acked(struct event_base *base, struct ct_rec *r, size_t n,
	    unsigned timeout_ms);
/* A 32-byte store key from a seed byte. */
void	 ct_key(uint8_t key[32], uint8_t seed);

#endif

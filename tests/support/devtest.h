/* SPDX-License-Identifier: ISC */
/*
 * Devices of users for the multi-device and read-receipt system tests:
 * a client with a recorder (clienttest.h) plus what its identity and
 * read callbacks saw; registering, linking a device with the primary's
 * approval, sending and waiting for a body; and signed device lists made
 * by hand (to forge, roll back or rekey them).
 */
#ifndef IRIS_TESTS_DEVTEST_H
#define IRIS_TESTS_DEVTEST_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "iris_client.h"
#include "clienttest.h"
#include "wire/msg.h"

#define DT_T		15000	/* ms every wait gets */
#define DT_EVENTS	32
#define DT_READS	64

/* Where the clients connect, and into which store. */
struct dt_env {
	struct event_base	*base;
	struct iris_client_store *store;
	int			 port;
	char			 fp[65];
	int			 failures;	/* of the calls below */
};

/*
 * An engine on env->base (open registration, port 0, its data in
 * ./data) and a client store ./client.db under a test key made from
 * keyseed: 0, or -1 with the reason on stderr (prog names the test).
 */
struct iris_engine;
int	 dt_env_up(struct dt_env *env, struct iris_engine **engp,
	    const char *prog, int keyseed);

struct dt_ident {
	char		 user[65];
	int		 event;
	uint32_t	 device;
	uint8_t		 key[32];
};

struct dt_read {
	uint8_t		 id[16];
	char		 user[65];
	uint32_t	 device;
	uint64_t	 time;
};

struct dt_dev {
	struct dt_env		*env;
	struct ct_rec		 r;
	struct iris_client	*c;
	char			 user[65];
	struct dt_ident		 ev[DT_EVENTS];
	size_t			 nev;
	struct dt_read		 reads[DT_READS];
	size_t			 nreads;
};

/* A client of user under account, callbacks recorded (exits on
 * failure); register makes the user; link a further device of
 * primary's user, added by the primary: its id, key in key. */
void	 dt_open(struct dt_env *env, struct dt_dev *d, const char *user,
	    const char *account);
void	 dt_register(struct dt_env *env, struct dt_dev *d, const char *user);
uint32_t dt_link(struct dt_env *env, struct dt_dev *d,
	    struct dt_dev *primary, const char *account, uint8_t key[32]);
void	 dt_close(struct dt_dev *d);

/* Sends body (type 7); id may be NULL. */
void	 dt_send(struct dt_dev *from, const char *to, const char *body,
	    uint8_t *id);
int	 dt_has_body(const struct dt_dev *d, const char *body);
/* Runs the loop until d has body (1) or DT_T passed (0). */
int	 dt_wait_body(struct dt_dev *d, const char *body);
/* Until d has seen n identity events, n errors, a read of id. */
int	 dt_wait_events(struct dt_dev *d, size_t n);
int	 dt_wait_errors(struct dt_dev *d, size_t n);

/* Identity events of kind for (user, device), key checked unless NULL. */
int	 dt_events(const struct dt_dev *d, const char *user, int event,
	    uint32_t device, const uint8_t *key);
/* The sealer's session record with (user, device): IRIS_OK or not. */
int	 dt_session(struct dt_dev *d, const char *user, uint32_t device);
/* The list record of user in d's store. */
int	 dt_stored_list(struct dt_dev *d, const char *user,
	    struct iris_buf *out);
/* A list of user at version naming n devices, signed with sk. */
int	 dt_make_list(iris_v1_SignedDeviceList *sl, const char *user,
	    uint64_t version, const uint32_t *ids, const uint8_t (*keys)[32],
	    size_t n, const uint8_t sk[64]);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * Envelope sealing: the client's one interface to end-to-end encryption.
 * The library builds one envelope per recipient device and per own other
 * device by calling seal() for each, and hands each received envelope to
 * open(). Any state a sealer keeps (ratchet sessions, once lib/e2ee
 * provides a sealer) is written through the transaction it is given, as
 * iris__cs_op_state_put() records: a send's state is committed together
 * with its sealed envelopes, before any of them leaves the device, and a
 * receive's state together with the message's receipt, after the
 * embedder's callback (DESIGN.md §8). open() must therefore work on a
 * copy of its state and change nothing that the transaction does not
 * carry; reset() tells it that transactions it wrote into were dropped
 * or failed, so that any copy it caches must be reloaded from the store.
 *
 * The sealer in use is chosen in lib/client/client.c (setup()).
 * Typing indicators are sealed and opened with a NULL transaction: they
 * are never stored, and nothing may be kept for them. Retry requests
 * (IRIS__CONTENT_RETRY) are durable messages, but a sealer must seal them
 * without the session they are about (which may be broken).
 *
 * Clients use iris__seal_e2ee (seal_e2ee.h). iris__seal_plain, a
 * versioned plain framing that is NOT end-to-end encrypted, remains only
 * for the unit tests, whose fake server reads envelopes: they set
 * iris__client_sealer (client.c) to it.
 */
#ifndef IRIS_CLIENT_SEAL_H
#define IRIS_CLIENT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "client/rec.h"

struct iris_client;
struct iris_cs_txn;

/* What a message carries inside its envelope. */
enum {
	IRIS__CONTENT_MESSAGE = 1,	/* embedder content */
	IRIS__CONTENT_TYPING = 2,	/* type: 1 typing, 0 stopped */
	IRIS__CONTENT_RETRY = 3,	/* a retry request (heal_retry.c) */
	IRIS__CONTENT_READ = 4,		/* read receipts (read.c) */
};

struct iris__content {
	int		 kind;
	uint32_t	 type;		/* the embedder's content type */
	const char	*recipient;	/* the user the send is addressed to */
	const uint8_t	*body;
	size_t		 len;
	/* A resend: the client msg id of the send it repeats (16 bytes),
	 * under which the receiver delivers and deduplicates it; NULL for
	 * anything else. On a failed open(), kind is 0 when asking the
	 * sender to send again may help, -1 when it cannot. */
	const uint8_t	*of;
};

struct iris__sealer_ops {
	const char	*name;
	/* Most bytes an envelope adds to its content's body. */
	size_t		 overhead;
	int	(*create)(void **self, struct iris_client *c);
	void	(*destroy)(void *self);
	/*
	 * The envelope of in for device of user, appended to out. IRIS_OK,
	 * IRIS_EAGAIN when something must be fetched first (a key bundle):
	 * the outbox tries again a second later, or at once when the sealer
	 * calls iris__outbox_kick(); or another negative code, which fails
	 * the send (IRIS_ETOOBIG when it would not fit an envelope).
	 */
	int	(*seal)(void *self, struct iris_cs_txn *txn, const char *user,
		    uint32_t device, const struct iris__content *in,
		    struct iris_buf *out);
	/*
	 * The content of an envelope from device of user; out's pointers
	 * point into keep (or into env). IRIS_OK, IRIS_EPROTO for an
	 * envelope that is not well formed, IRIS_ECRYPTO for one that does
	 * not authenticate, IRIS_ENOTSUP for a framing it does not know.
	 */
	int	(*open)(void *self, struct iris_cs_txn *txn, const char *user,
		    uint32_t device, const uint8_t *env, size_t len,
		    struct iris__content *out, struct iris_buf *keep);
	void	(*reset)(void *self);
	/*
	 * Forgets the session with device of user (written into txn), and
	 * any key bundle of it fetched before, so that the next seal()
	 * starts a fresh one on a bundle fetched again. NULL for a sealer
	 * without sessions: the client then does not heal (heal.c).
	 */
	int	(*forget)(void *self, struct iris_cs_txn *txn, const char *user,
		    uint32_t device);
};

extern const struct iris__sealer_ops iris__seal_plain;

/*
 * What a sealer may use of its client (lib/client/seal.c). The user id
 * and device of the account, its identity key pair (the Ed25519 secret
 * key stays in the client; sign with it through iris__seal_sign), and
 * state records kept per account under names the sealer chooses (such
 * as "session" || user || device): read from what is committed, written
 * into a transaction, so that they commit with what they belong to.
 */
const char *iris__seal_user(const struct iris_client *c, uint32_t *device);
const uint8_t *iris__seal_identity(const struct iris_client *c);
int	 iris__seal_sign(const struct iris_client *c, uint8_t sig[64],
	    const void *msg, size_t len);
/* IRIS_OK, IRIS_ENOTFOUND, IRIS_ECRYPTO (a record that does not open). */
int	 iris__seal_state_get(struct iris_client *c, const void *name,
	    size_t nlen, struct iris_buf *out);
int	 iris__seal_state_put(struct iris_client *c, struct iris_cs_txn *txn,
	    const void *name, size_t nlen, const void *data, size_t len);
int	 iris__seal_state_del(struct iris_client *c, struct iris_cs_txn *txn,
	    const void *name, size_t nlen);

#endif /* IRIS_CLIENT_SEAL_H */

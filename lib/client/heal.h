/* SPDX-License-Identifier: ISC */
/*
 * Self-healing sessions (research/e2ee.md §1.4, Sesame §4.1; §6.7).
 *
 * Receiver (heal.c): a message that does not open is kept, sealed in the
 * client store, and a retry request naming its client msg id goes to the
 * device that sent it (heal_retry.c). The kept message is healed when
 * the sender's resend (same client msg id) opens, and given up when it
 * is 72 hours old or pushed out by newer ones (at most HEAL_KEEP_DEV per
 * sender device, HEAL_KEEP_MAX in all). After HEAL_STREAK messages in a
 * row from one device fail, this side forgets its session with it too.
 *
 * Sender (heal_retry.c): every send is remembered (recipient, type and
 * body, sealed in the client store) for 72 hours, the last HEAL_SENT_MAX
 * of them. A retry request from a device of the recipient's verified
 * device list (or of our own) for one of them makes the client forget
 * its session with that device (at most once a minute per device), and
 * send the content again over a fresh one, naming the original client
 * msg id, so that the receiver deduplicates; at most HEAL_RESENDS_MIN
 * resends a minute go to one device (it keeps at most HEAL_KEEP_DEV).
 *
 * Records (client state, lib/client/seal.c), names starting with 'h':
 *  "hr" | cmid[16]: a send: u8 version (1) | u64 sent ms (realtime) |
 *    u8 len | to | u32 type | u8 has_of | [of[16]] | u32 len | body.
 *  "hi" | u8 chunk: which sends are remembered: u8 version (1) |
 *    u64 next position | HEAL_CHUNK x cmid[16] (zeros: none).
 *  "hk" | cmid[16] | u8 len | user | u32 device: a kept envelope:
 *    u8 version (1) | u32 len | envelope.
 *  "hK": the kept ones: u8 version (1) | u16 n | n x (u8 len | user |
 *    u32 device | cmid[16] | u64 kept ms (realtime) | u8 cause |
 *    u8 asked).
 */
#ifndef IRIS_CLIENT_HEAL_H
#define IRIS_CLIENT_HEAL_H

#include <stddef.h>
#include <stdint.h>

#include "iris_client.h"

struct iris_cs_txn;

#define HEAL_KEEP_MAX		64
#define HEAL_KEEP_DEV		16
#define HEAL_KEEP_MS		(72ULL * 3600 * 1000)
#define HEAL_SENT_MAX		2048
#define HEAL_CHUNK		64
#define HEAL_STREAK		3
#define HEAL_RESET_MS		(60ULL * 1000)
#define HEAL_RESENDS_MIN	64	/* resends a minute per device */
#define HEAL_ASKS		3	/* retry requests per kept message */
#define HEAL_REASK_MS		(2ULL * 60 * 1000)	/* before asking again */
#define HEAL_PEERS		64	/* devices tracked in memory */

struct heal_kept {
	char		 user[IRIS_USER_MAX + 1];
	uint32_t	 device;
	uint8_t		 cmid[16];
	uint64_t	 ms;
	uint8_t		 cause;
	uint8_t		 asked;
};

/* A peer device's failure streak and last session reset. */
struct heal_peer {
	char		 user[IRIS_USER_MAX + 1];
	uint32_t	 device;
	unsigned	 streak;
	uint64_t	 reset_ms;	/* monotonic; 0: never */
	uint64_t	 win_ms;	/* resends to it since then */
	unsigned	 win_n;
	uint64_t	 used;
};

struct heal {
	struct iris_client_stats st;
	iris_client_decrypt_cb	 cb;
	void			*cb_arg;
	/* Kept messages: loaded when first needed, again after reset. */
	int			 kept_loaded;
	size_t			 nkept;
	struct heal_kept	 kept[HEAL_KEEP_MAX];
	struct heal_peer	 peers[HEAL_PEERS];
	uint64_t		 clock;
	/* Remembered sends: loaded when first needed. */
	int			 ring_loaded;
	uint64_t		 ring_pos;
	uint8_t			 (*ring)[16];	/* HEAL_SENT_MAX */
};

struct iris_client;

int	 iris__heal_new(struct iris_client *c);
void	 iris__heal_free(struct iris_client *c);
/* Whether the client heals (its sealer has sessions). */
int	 iris__heal_on(const struct iris_client *c);
/* What a store commit of the receive pipeline lost: reload. */
void	 iris__heal_reset(struct iris_client *c);
/* A decrypt failure of cause rc, counted. */
int	 iris__heal_cause(int rc);
void	 iris__heal_count(struct iris_client *c, int rc);
/* What is tracked of (user, device), made when it is not. */
struct heal_peer *iris__heal_peer(struct iris_client *c, const char *user,
	    uint32_t device);
/* A message from (user, device) opened: its streak ends. */
void	 iris__heal_opened(struct iris_client *c, const char *user,
	    uint32_t device);
/*
 * Keeps the envelope of a message that did not open (cause rc) into txn;
 * *ask set when a retry request should go once txn commits (not when
 * it is kept already). Forgets the session after a streak of failures.
 */
int	 iris__heal_keep(struct iris_client *c, struct iris_cs_txn *txn,
	    const char *user, uint32_t device, const uint8_t cmid[16],
	    const uint8_t *env, size_t len, int rc, int *ask);
/* A resend of cmid opened: the kept copy (if any) goes in txn; returns
 * 1 when there was one (*cause its failure). */
int	 iris__heal_take(struct iris_client *c, struct iris_cs_txn *txn,
	    const char *user, uint32_t device, const uint8_t cmid[16],
	    int *cause);
/* The embedder's callback (healed: 0 failed, 1 healed, -1 given up). */
void	 iris__heal_report(struct iris_client *c, const char *user,
	    uint32_t device, int cause, int healed);
/* Logged in: kept messages given up (too old), or asked for again when
 * kept for HEAL_REASK_MS (an answer may be on its way otherwise, and a
 * first ask may have been lost with a crash before it was queued). */
void	 iris__heal_online(struct iris_client *c);

/* heal_retry.c */
/* Queues a retry request for cmid to device of user. */
int	 iris__heal_ask(struct iris_client *c, const char *user,
	    uint32_t device, const uint8_t cmid[16], int cause);
/* A retry request from (user, device) opened (its body): answered with
 * a resend, or refused (IRIS_EDENIED), or ignored (IRIS_ENOTFOUND). */
int	 iris__heal_answer(struct iris_client *c, const char *user,
	    uint32_t device, const uint8_t *body, size_t len);
/* A send of content (kind MESSAGE) remembered into txn. */
int	 iris__heal_remember(struct iris_client *c, struct iris_cs_txn *txn,
	    const uint8_t cmid[16], const char *to, uint32_t type,
	    const uint8_t *of, const void *body, size_t len);

/* send.c: a send the library makes itself (no sent events). forget: a
 * device whose session is forgotten in the same commit, before sealing
 * (NULL: none). */
struct iris__send_req {
	const char	*to;
	int		 kind;
	uint32_t	 type;
	const void	*body;
	size_t		 len;
	const uint8_t	*of;
	const char	*forget_user;
	uint32_t	 forget_device;
};
int	 iris__send_internal(struct iris_client *c,
	    const struct iris__send_req *rq, uint8_t id[16]);

#endif /* IRIS_CLIENT_HEAL_H */

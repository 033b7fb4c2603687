/* SPDX-License-Identifier: ISC */
/*
 * A client device for tests: its Ed25519 identity, and registration and
 * logins signed here, independently of the server's code, over a
 * wireclient connection (tests/support/wireclient.h).
 */
#ifndef IRIS_TESTS_AUTHCLIENT_H
#define IRIS_TESTS_AUTHCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wireclient.h"

#define AC_TIMEOUT	10000	/* ms */

struct ac_dev {
	char		 user[65];
	uint32_t	 id;
	unsigned char	 pk[32], sk[64];
	uint8_t		 token[256];	/* from the last signature login */
	size_t		 tlen;
};

/* A connection past its hello, with what logins sign. */
struct ac_conn {
	struct wc	 w;
	uint8_t		 challenge[32];
	uint8_t		 server_id[16];
};

/* How to log in. */
enum { AC_SIGN, AC_BARE, AC_RELAY, AC_TOKEN };

void	 ac_dev_new(struct ac_dev *d, const char *user);
/* Connects (offering a saved TLS session if sess) and says hello. */
int	 ac_open(struct ac_conn *c, struct event_base *base, int port,
	    const char *fp, const uint8_t *sess, size_t slen);
/* Sends m; the answer's error code, 0 for success, -1 for no answer. */
int	 ac_ask(struct ac_conn *c, struct iris_wire_msg *m,
	    struct iris_wire_msg **answer);
/* prefix || server id || challenge || binding || u8 len || user. */
size_t	 ac_signed(uint8_t *out, const char *prefix, const struct ac_conn *c,
	    const uint8_t *challenge, const char *user);
/* Registers d (invite or link may be NULL; tamper spoils the proof). */
int	 ac_register(struct ac_conn *c, struct ac_dev *d, const char *invite,
	    const char *link, int tamper);
/*
 * Logs d in: AC_SIGN, AC_BARE (a signature over the bare challenge),
 * AC_RELAY (over other_ch, another connection's challenge) or AC_TOKEN
 * (d's token). A signature login keeps the token it gets in d.
 */
int	 ac_login(struct ac_conn *c, struct ac_dev *d, int how,
	    const uint8_t *other_ch);
/* Logs in with the given token bytes. */
int	 ac_login_token(struct ac_conn *c, const struct ac_dev *d,
	    const uint8_t *token, size_t len);
/* The same, with the session token LoggedIn answers in got (192 bytes). */
int	 ac_login_token_ex(struct ac_conn *c, const struct ac_dev *d,
	    const uint8_t *token, size_t len, uint8_t *got, size_t *glen);

#endif

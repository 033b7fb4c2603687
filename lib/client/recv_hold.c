/* SPDX-License-Identifier: ISC */
/*
 * Deliveries held for their senders' device lists. An envelope is opened
 * only with the identity its sender's verified device list names for the
 * sending device: a prekey envelope carries the sender's identity key,
 * and trusting that would let a server that made up a device talk to us.
 * So a delivery from a user whose list is not known here, or from a
 * device the known list does not name (it may have been added since),
 * waits while the list is fetched, and everything delivered after it
 * waits behind it, so that the receive order and the cursor's moves stay
 * those of the server. Once a fetch of that user's list has answered
 * (with a list or without), the deliveries go on in order; one from a
 * device still not listed is then refused by the sealer. What is held
 * is not acknowledged: a lost connection drops it all, and the server
 * delivers it again. Held deliveries count towards the receive window.
 */
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"

struct rx_held {
	struct rx_held		*next;
	iris_v1_Deliver		 d;
	uint8_t			*env;
	size_t			 len;
	int			 tried;		/* its sender's list came */
};

static int
sender_of(const iris_v1_Deliver *d, char user[IRIS_USER_MAX + 1])
{
	if (d->sender_user.size > IRIS_USER_MAX)
		return 0;
	memcpy(user, d->sender_user.bytes, d->sender_user.size);
	user[d->sender_user.size] = '\0';
	return 1;
}

int
iris__recv_listed(struct iris_client *c, const char *user, uint32_t device)
{
	struct devlist *l;
	size_t i;

	if ((l = iris__devlist_find(c, user)) == NULL)
		return 0;
	for (i = 0; i < l->n; i++)
		if (l->ids[i] == device)
			return 1;
	return 0;
}

/* Is the sending device named by its user's verified list? */
static int
vouched(struct iris_client *c, const iris_v1_Deliver *d)
{
	char user[IRIS_USER_MAX + 1];

	if (d->has_receipt || !sender_of(d, user))
		return 1;	/* the server's own, or refused later */
	return iris__recv_listed(c, user, d->sender_device);
}

/* A fetch that cannot be asked now would leave the hold stuck: the
 * connection goes instead, and all that is held comes again. */
static void
ask(struct iris_client *c, const iris_v1_Deliver *d)
{
	char user[IRIS_USER_MAX + 1];

	if (sender_of(d, user) && iris__devlist_fetch(c, user) != IRIS_OK)
		iris__conn_drop(c, IRIS_EAGAIN, "cannot ask for a device list");
}

int
iris__recv_hold(struct iris_client *c, const iris_v1_Deliver *d,
    const struct iris_slice *env)
{
	struct rx_held *h;

	if (d->transient)
		return 0;
	if (c->hold_head == NULL && vouched(c, d))
		return 0;
	if (d->seq <= c->hold_last || d->seq <= c->rx_last)
		return 1;	/* held already, or handled */
	if ((h = iris__calloc(1, sizeof(*h))) == NULL ||
	    (env->len > 0 && (h->env = iris__memdup(env->ptr, env->len)) ==
	    NULL)) {
		iris__free(h);
		iris__conn_drop(c, IRIS_ENOMEM, "out of memory");
		return 1;
	}
	h->d = *d;
	h->len = env->len;
	if (c->hold_tail != NULL)
		c->hold_tail->next = h;
	else
		c->hold_head = h;
	c->hold_tail = h;
	c->hold_n++;
	c->hold_bytes += h->len;
	c->hold_last = d->seq;
	if (!vouched(c, d))
		ask(c, d);
	iris__recv_flow(c);
	return 1;
}

/* Lets through what may go now, in order, up to the first that waits. */
static void
release(struct iris_client *c)
{
	struct iris_slice env;
	struct rx_held *h;

	while ((h = c->hold_head) != NULL) {
		if (!h->tried && !vouched(c, &h->d)) {
			ask(c, &h->d);	/* its own fetch may not be out yet */
			break;
		}
		c->hold_head = h->next;
		if (c->hold_head == NULL)
			c->hold_tail = NULL;
		c->hold_n--;
		c->hold_bytes -= h->len;
		env.ptr = h->env;
		env.len = h->len;
		iris__recv_deliver_now(c, &h->d, &env);
		iris__free(h->env);
		iris__free(h);
		if (iris__client_tearing(c) || !iris__conn_is_online(c))
			break;
	}
	if (c->hold_head == NULL)
		c->hold_last = 0;
	iris__recv_flow(c);
}

void
iris__recv_hold_lists(struct iris_client *c, const char *user, int rc)
{
	char sender[IRIS_USER_MAX + 1];
	struct rx_held *h;

	if (c->hold_head == NULL)
		return;
	/* A lost connection drops the hold; any other answer is final. */
	if (rc == IRIS_ECLOSED || rc == IRIS_ESHUTDOWN)
		return;
	for (h = c->hold_head; h != NULL; h = h->next)
		if (sender_of(&h->d, sender) && strcmp(sender, user) == 0)
			h->tried = 1;
	release(c);
}

void
iris__recv_hold_clear(struct iris_client *c)
{
	struct rx_held *h;

	while ((h = c->hold_head) != NULL) {
		c->hold_head = h->next;
		iris__free(h->env);
		iris__free(h);
	}
	c->hold_tail = NULL;
	c->hold_n = 0;
	c->hold_bytes = 0;
	c->hold_last = 0;
}

uint64_t
iris__recv_hold_after(const struct iris_client *c)
{
	return c->hold_last > c->rx_last ? c->hold_last : c->rx_last;
}

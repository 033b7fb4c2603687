/* SPDX-License-Identifier: ISC */
/*
 * A typing indicator is sealed under the identity keys of both devices
 * (seal_e2ee.c), so one that comes before its sender's signed device list
 * is known cannot be opened yet: the last few such envelopes are held
 * (the oldest going first) while the list is fetched, and opened in
 * order when it comes. Nothing of them is stored.
 */
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"

#define NHELD	(sizeof(((struct iris_client *)0)->typ) / \
	sizeof(((struct iris_client *)0)->typ[0]))

static void
drop(struct iris_client *c, size_t i)
{
	iris__free(c->typ[i].env);
	memmove(&c->typ[i], &c->typ[i + 1], (NHELD - i - 1) *
	    sizeof(c->typ[0]));
	memset(&c->typ[NHELD - 1], 0, sizeof(c->typ[0]));
}

void
iris__recv_typing_free(struct iris_client *c)
{
	while (c->typ[0].env != NULL)
		drop(c, 0);
}

void
iris__recv_typing_wait(struct iris_client *c, const char *user,
    uint32_t device, const uint8_t *env, size_t len)
{
	size_t ulen = strlen(user), i;

	if (iris__devlist_find(c, user) != NULL || ulen > IRIS_USER_MAX)
		return;		/* known: it did not open for good */
	for (i = 0; i < NHELD && c->typ[i].env != NULL; i++)
		;
	if (i == NHELD)
		drop(c, 0), i = NHELD - 1;
	if ((c->typ[i].env = iris__memdup(env, len)) == NULL)
		return;
	c->typ[i].len = len;
	memcpy(c->typ[i].user, user, ulen + 1);
	c->typ[i].device = device;
	(void)iris__devlist_fetch(c, user);
}

void
iris__recv_typing_lists(struct iris_client *c, const char *user)
{
	iris_v1_Deliver d;
	struct iris_slice env;
	uint8_t *held;
	size_t i = 0;

	if (iris__devlist_find(c, user) == NULL)
		return;
	while (i < NHELD && c->typ[i].env != NULL) {
		if (strcmp(c->typ[i].user, user) != 0) {
			i++;
			continue;
		}
		memset(&d, 0, sizeof(d));
		d.class = iris_v1_MsgClass_CLASS_TYPING;
		d.transient = true;
		d.sender_user.size = (pb_size_t)strlen(user);
		memcpy(d.sender_user.bytes, user, d.sender_user.size);
		d.sender_device = c->typ[i].device;
		held = c->typ[i].env;
		env.ptr = held;
		env.len = c->typ[i].len;
		c->typ[i].env = NULL;
		drop(c, i);
		/* The list is known now: it is not held again. */
		iris__recv_typing(c, &d, &env);
		iris__free(held);
	}
}

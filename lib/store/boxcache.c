/* SPDX-License-Identifier: ISC */
/*
 * Inbox positions on the loop: each device's cursor and head as the loop
 * has seen them committed, so a cumulative ack or a sync page needs no
 * read transaction. An entry is loaded from the read connection once and
 * raised by the completions of the writer's batches (sends, acks and the
 * receipts they store), only after their commit; both figures only grow,
 * so an entry is never ahead of the file, at most behind it by the
 * batches whose completions the loop has not run yet. Callers that would
 * refuse a request because it is beyond the head ask again with fresh
 * set. A fixed table, one entry per slot: a device whose slot another
 * takes is read again when it comes back.
 */
#include <string.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"

#define BOXCACHE_SLOTS	8192	/* a power of two; ~88 bytes each */

struct box_pos {
	char		 user[65];	/* "" : a free slot */
	uint32_t	 device;
	uint64_t	 acked;
	uint64_t	 head;
};

struct iris__boxcache {
	struct box_pos	 slot[BOXCACHE_SLOTS];
};

static struct box_pos *
slot_of(struct iris__boxcache *c, const char *user, uint32_t device)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ device) * 16777619u;
	h ^= h >> 15;
	return &c->slot[h & (BOXCACHE_SLOTS - 1)];
}

static int
same(const struct box_pos *e, const char *user, uint32_t device)
{
	return e->device == device && strcmp(e->user, user) == 0;
}

void
iris__boxcache_note(struct iris_store *s, const char *user,
    uint32_t device, uint64_t acked, uint64_t head)
{
	struct box_pos *e;

	if (s->boxcache == NULL)
		return;
	e = slot_of(s->boxcache, user, device);
	if (!same(e, user, device))
		return;		/* not held: read when asked */
	if (acked > e->acked)
		e->acked = acked;
	if (head > e->head)
		e->head = head;
}

int
iris__store_position(struct iris_store *s, const char *user,
    uint32_t device, int fresh, uint64_t *acked, uint64_t *head)
{
	struct box_pos *e = NULL;
	uint64_t a, h;
	int rc;

	if (s->boxcache == NULL)
		s->boxcache = iris__calloc(1, sizeof(*s->boxcache));
	if (s->boxcache != NULL && strlen(user) < sizeof(e->user)) {
		e = slot_of(s->boxcache, user, device);
		if (!fresh && same(e, user, device)) {
			*acked = e->acked;
			*head = e->head;
			return IRIS_OK;
		}
	}
	if ((rc = iris_store_depth(s, user, device, &a, &h)) != IRIS_OK)
		return rc;
	if (e != NULL) {
		if (same(e, user, device)) {
			/* Fresh: the file may be further than the loop was
			 * told, never behind it. */
			if (e->acked > a)
				a = e->acked;
			if (e->head > h)
				h = e->head;
		} else
			strcpy(e->user, user);
		e->device = device;
		e->acked = a;
		e->head = h;
	}
	*acked = a;
	*head = h;
	return IRIS_OK;
}

void
iris__boxcache_free(struct iris_store *s)
{
	iris__free(s->boxcache);
	s->boxcache = NULL;
}

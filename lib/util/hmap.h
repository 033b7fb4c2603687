/* SPDX-License-Identifier: ISC */
/* An intrusive chained hash map: the caller hashes and compares keys. */
#ifndef IRIS_UTIL_HMAP_H
#define IRIS_UTIL_HMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * A node lives inside the caller's object. The map only keeps the hash
 * of each node; lookups walk the nodes of one hash and let the caller
 * compare keys, so one map serves any key. Hashes come from a keyed hash
 * (the bus's SipHash) so that peers cannot choose colliding keys.
 */
struct iris_hnode {
	struct iris_hnode	*next;
	uint64_t		 hash;
};

struct iris_hmap {
	struct iris_hnode	**b;
	size_t			 nb;	/* a power of two, or 0 before first put */
	size_t			 n;
};

void	 iris__hmap_init(struct iris_hmap *m);
/* Frees the buckets, not the nodes. */
void	 iris__hmap_free(struct iris_hmap *m);
/* IRIS_OK or IRIS_ENOMEM (the map grows at a load of 1). */
int	 iris__hmap_put(struct iris_hmap *m, struct iris_hnode *node,
	    uint64_t hash);
void	 iris__hmap_del(struct iris_hmap *m, struct iris_hnode *node);
/* The first node with this hash, then the next with the same hash. */
struct iris_hnode *iris__hmap_find(const struct iris_hmap *m, uint64_t hash);
struct iris_hnode *iris__hmap_next(const struct iris_hnode *node);
/* Every node, in no order: start with *cursor = 0; NULL at the end.
 * Deleting the node returned is allowed before the next call. */
struct iris_hnode *iris__hmap_each(const struct iris_hmap *m, size_t *cursor,
	    struct iris_hnode **iter);

#define IRIS__CONTAINER(ptr, type, member)				\
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif /* IRIS_UTIL_HMAP_H */

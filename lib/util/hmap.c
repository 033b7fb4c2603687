/* SPDX-License-Identifier: ISC */
/* An intrusive chained hash map: the caller hashes and compares keys. */
#include <stddef.h>

#include "iris.h"
#include "util/alloc.h"
#include "util/hmap.h"

void
iris__hmap_init(struct iris_hmap *m)
{
	m->b = NULL;
	m->nb = 0;
	m->n = 0;
}

void
iris__hmap_free(struct iris_hmap *m)
{
	iris__free(m->b);
	iris__hmap_init(m);
}

static int
grow(struct iris_hmap *m)
{
	size_t nb = m->nb != 0 ? m->nb * 2 : 16, i;
	struct iris_hnode **b, *n, *next;

	if ((b = iris__calloc(nb, sizeof(*b))) == NULL)
		return IRIS_ENOMEM;
	for (i = 0; i < m->nb; i++)
		for (n = m->b[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	iris__free(m->b);
	m->b = b;
	m->nb = nb;
	return IRIS_OK;
}

int
iris__hmap_put(struct iris_hmap *m, struct iris_hnode *node, uint64_t hash)
{
	struct iris_hnode **slot;

	if (m->n >= m->nb && grow(m) != IRIS_OK && m->nb == 0)
		return IRIS_ENOMEM;	/* a full map still takes more */
	node->hash = hash;
	slot = &m->b[hash & (m->nb - 1)];
	node->next = *slot;
	*slot = node;
	m->n++;
	return IRIS_OK;
}

void
iris__hmap_del(struct iris_hmap *m, struct iris_hnode *node)
{
	struct iris_hnode **p;

	if (m->nb == 0)
		return;
	for (p = &m->b[node->hash & (m->nb - 1)]; *p != NULL; p = &(*p)->next)
		if (*p == node) {
			*p = node->next;
			node->next = NULL;
			m->n--;
			return;
		}
}

struct iris_hnode *
iris__hmap_find(const struct iris_hmap *m, uint64_t hash)
{
	struct iris_hnode *n;

	if (m->nb == 0)
		return NULL;
	for (n = m->b[hash & (m->nb - 1)]; n != NULL; n = n->next)
		if (n->hash == hash)
			return n;
	return NULL;
}

struct iris_hnode *
iris__hmap_next(const struct iris_hnode *node)
{
	struct iris_hnode *n;

	for (n = node->next; n != NULL; n = n->next)
		if (n->hash == node->hash)
			return n;
	return NULL;
}

struct iris_hnode *
iris__hmap_each(const struct iris_hmap *m, size_t *cursor,
    struct iris_hnode **iter)
{
	struct iris_hnode *n;

	/* *iter is the node to return next, read before the caller may
	 * delete the one it was given. */
	if (*cursor == 0)
		*iter = NULL;
	while ((n = *iter) == NULL) {
		if (*cursor >= m->nb)
			return NULL;
		*iter = m->b[(*cursor)++];
	}
	*iter = n->next;
	return n;
}

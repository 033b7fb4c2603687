/* SPDX-License-Identifier: ISC */
/* Allocation wrappers with a test switch that fails the Nth allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/*
 * Both counters are process-wide and touched with relaxed atomics: the
 * store's writer thread allocates too, and the switch must not race.
 * Only tests turn the switch on. `allocs' counts attempts (failed ones
 * included) since the last iris__alloc_fail_after(); `fail_nth' is the
 * attempt number that fails, 0 for none.
 */
static unsigned long	allocs;
static unsigned long	fail_nth;

unsigned long
iris__alloc_fail_after(unsigned long nth)
{
	unsigned long prev;

	/* Disarm first so that a concurrent attempt cannot hit a stale n. */
	__atomic_store_n(&fail_nth, 0, __ATOMIC_RELAXED);
	prev = __atomic_exchange_n(&allocs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_nth, nth, __ATOMIC_RELAXED);
	return prev;
}

/* Counts one attempt; returns 1 when this attempt is the one to fail. */
static int
should_fail(void)
{
	unsigned long n, nth;

	n = __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
	nth = __atomic_load_n(&fail_nth, __ATOMIC_RELAXED);
	return nth != 0 && n == nth;
}

void *
iris__malloc(size_t size)
{
	if (should_fail())
		return NULL;
	/* Never NULL for a successful zero-byte request. */
	return malloc(size == 0 ? 1 : size);
}

void *
iris__calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	if (n == 0 || size == 0)
		return calloc(1, 1);
	return calloc(n, size);
}

/*
 * Like realloc(3), except that a size of 0 keeps a one-byte block instead
 * of freeing: NULL always means failure, and the old block is then intact.
 */
void *
iris__realloc(void *ptr, size_t size)
{
	if (should_fail())
		return NULL;
	return realloc(ptr, size == 0 ? 1 : size);
}

void
iris__free(void *ptr)
{
	free(ptr);
}

char *
iris__strdup(const char *s)
{
	return iris__memdup(s, strlen(s) + 1);
}

void *
iris__memdup(const void *p, size_t size)
{
	void *q;

	if ((q = iris__malloc(size)) == NULL)
		return NULL;
	if (size > 0)
		memcpy(q, p, size);
	return q;
}

/* SPDX-License-Identifier: ISC */
/*
 * Allocation wrappers. Every allocation in libiris goes through these so
 * that tests can make the Nth allocation fail and prove that each error
 * path frees what it took (tests/unit/check_oom.c).
 */
#ifndef IRIS_UTIL_ALLOC_H
#define IRIS_UTIL_ALLOC_H

#include <stddef.h>

void	*iris__malloc(size_t size);
void	*iris__calloc(size_t n, size_t size);
void	*iris__realloc(void *ptr, size_t size);
void	 iris__free(void *ptr);
char	*iris__strdup(const char *s);
void	*iris__memdup(const void *p, size_t size);

/*
 * Test switch: the nth allocation from now fails (1 = the next one);
 * 0 turns failures off. Returns how many allocations were made since the
 * previous call, which lets a test find how many a code path makes.
 */
unsigned long	 iris__alloc_fail_after(unsigned long nth);

#endif /* IRIS_UTIL_ALLOC_H */

/* SPDX-License-Identifier: ISC */
/* The public header compiles alone as C99 (make check: -pedantic -Werror). */
#include <iris.h>

static const char *(*const strerror_fn)(int) = iris_strerror;

int
main(void)
{
	return strerror_fn(IRIS_OK) != 0 ? 0 : 1;
}

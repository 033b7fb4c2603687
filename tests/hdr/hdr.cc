/* SPDX-License-Identifier: ISC */
/* The public header compiles alone as C++ (make check: -pedantic -Werror). */
#include <iris.h>

int
main()
{
	struct iris_config *cfg = 0;
	return iris_config_new(&cfg) == IRIS_OK && IRIS_ENOMEM < 0 ? 0 : 1;
}

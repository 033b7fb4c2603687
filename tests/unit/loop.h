/* SPDX-License-Identifier: ISC */
/* Unit test helpers: temp dirs (and the loop runner of evloop.h). */
#ifndef IRIS_TESTS_LOOP_H
#define IRIS_TESTS_LOOP_H

#include <event2/event.h>

/* run_until() is in tests/support/evloop.h. */
#include "evloop.h"

/* A fresh directory under $TMPDIR (or /tmp); rm_rf() removes it. */
char	*make_tempdir(const char *tag);
void	 rm_rf(const char *path);

#endif

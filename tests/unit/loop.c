/* SPDX-License-Identifier: ISC */
/* Unit test helpers: temporary directories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "loop.h"


char *
make_tempdir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	path = malloc(512);
	ck_assert_ptr_nonnull(path);
	snprintf(path, 512, "%s/iris-%s-XXXXXX", tmp != NULL ? tmp : "/tmp",
	    tag);
	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

void
rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "rm_rf: could not remove %s\n", path);
}

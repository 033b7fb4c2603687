/* SPDX-License-Identifier: ISC */
/* Reading a server's /metrics in tests: one HTTP GET, one value. */
#ifndef IRIS_TESTS_SCRAPE_H
#define IRIS_TESTS_SCRAPE_H

#include <stddef.h>

/* GET path from 127.0.0.1:port into out; the HTTP status or -1. */
int	 scrape_get(int port, const char *path, char *out, size_t len);
/* The value of the sample named name (labels included), or -1. */
double	 scrape_value(const char *page, const char *name);

#endif

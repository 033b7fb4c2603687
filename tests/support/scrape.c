/* SPDX-License-Identifier: ISC */
/* Reading a server's /metrics in tests: one HTTP GET, one value. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "scrape.h"

int
scrape_get(int port, const char *path, char *out, size_t len)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	char req[256];
	size_t n = 0;
	ssize_t r;
	int fd, status = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n",
	    path);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (n + 1 < len && (r = read(fd, out + n, len - 1 - n)) > 0)
			n += (size_t)r;
		out[n] = '\0';
		sscanf(out, "HTTP/1.%*d %d", &status);
	}
	close(fd);
	return status;
}

double
scrape_value(const char *page, const char *name)
{
	const char *p = page;
	size_t n = strlen(name);
	double v;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == page || p[-1] == '\n') && p[n] == ' ' &&
		    sscanf(p + n + 1, "%lf", &v) == 1)
			return v;
		p += n;
	}
	return -1;
}

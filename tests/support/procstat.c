/* SPDX-License-Identifier: ISC */
/* CPU, memory and kernel socket figures from /proc, for benchmarks. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"

double
ps_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	/* The command name may hold spaces: fields follow its ')'. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %*d %*d "
	    "%*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long
ps_kib(const char *file, const char *key, pid_t pid)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "%s", file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0) {
			if (sscanf(line + klen, " %ld", &v) != 1)
				v = -1;
			break;
		}
	fclose(f);
	return v;
}

/* Bytes in the slab caches that hold TCP sockets and their parts. */
static double
slab_sock_bytes(void)
{
	static const char *const caches[] = { "TCP", "TCPv6",
	    "sock_inode_cache", "request_sock_TCP", "tw_sock_TCP",
	    "skbuff_head_cache", "dentry", "filp", "eventpoll_epi",
	    "ep_head" };
	char line[512], name[64];
	unsigned long active, size;
	double sum = 0;
	size_t i;
	FILE *f;
	int seen = 0;

	if ((f = fopen("/proc/slabinfo", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %lu %*u %lu", name, &active, &size) !=
		    3)
			continue;
		seen = 1;
		for (i = 0; i < sizeof(caches) / sizeof(caches[0]); i++)
			if (strcmp(name, caches[i]) == 0) {
				sum += (double)active * (double)size;
				break;
			}
	}
	fclose(f);
	return seen ? sum : -1;
}

double
ps_kernel_sock_bytes(void)
{
	char line[256];
	double slab = slab_sock_bytes();
	long pages = 0;
	FILE *f;

	if (slab < 0) {
		long kib = ps_kib("/proc/meminfo", "Slab:", 0);

		if (kib < 0)
			return -1;
		slab = (double)kib * 1024;
	}
	if ((f = fopen("/proc/net/sockstat", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "TCP:", 4) == 0 &&
			    (strstr(line, " mem ") == NULL || sscanf(strstr(
			    line, " mem ") + 5, "%ld", &pages) != 1))
				pages = 0;
		fclose(f);
	}
	return slab + (double)pages * (double)sysconf(_SC_PAGESIZE);
}

/* SPDX-License-Identifier: ISC */
/*
 * What /proc says about a process and the kernel, for benchmarks: CPU
 * time, resident memory, slab and socket buffer memory.
 */
#ifndef IRIS_TESTS_PROCSTAT_H
#define IRIS_TESTS_PROCSTAT_H

#include <sys/types.h>

/* CPU time of pid (user + system, all threads) in seconds; -1: none. */
double	 ps_cpu_s(pid_t pid);
/* A "Key: N kB" line of /proc/<pid>/status (pid > 0) or of file; -1. */
long	 ps_kib(const char *file, const char *key, pid_t pid);
/* The kernel's memory for sockets in bytes: the slab caches of TCP
 * sockets (/proc/slabinfo when readable, else the whole Slab line of
 * /proc/meminfo) plus TCP buffer pages (/proc/net/sockstat); -1. */
double	 ps_kernel_sock_bytes(void);

#endif

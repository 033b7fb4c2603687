/* SPDX-License-Identifier: ISC */
/*
 * A real irisd for system tests: started from $IRIS_BUILD with its log on
 * a pipe, waited on for log lines with deadlines, stopped by signal.
 */
#ifndef IRIS_TESTS_DAEMON_H
#define IRIS_TESTS_DAEMON_H

#include <pthread.h>
#include <sys/types.h>

/*
 * A thread drains irisd's stderr as it comes (a full pipe would block the
 * daemon) and keeps the last 256 KiB of it.
 */
struct daemon {
	pid_t		 pid;
	int		 logfd;		/* read end of its stderr */
	pthread_t	 reader;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 eof;
	char		 log[262144];	/* what it said (the start, if long) */
	size_t		 loglen;
	size_t		 scanned;	/* wait_line searches from here */
	int	 status;	/* after stop */
	int	 port;		/* from "listening on ... (port N)" */
	char	 fp[65];	/* from "fingerprint ... : HEX" */
};

/* Starts irisd -d with the given extra arguments (NULL-terminated) and
 * waits for "ready"; returns 0 on success. */
int	 daemon_start(struct daemon *d, const char *const *args,
	    unsigned timeout_ms);
/* The same for another program of the build (prog relative to
 * $IRIS_BUILD, such as "examples/iris-edge-hook"), which must log a
 * "(port N)", a "fingerprint ... HEX" and a "ready" line; args as given. */
int	 daemon_start_prog(struct daemon *d, const char *prog,
	    const char *const *args, unsigned timeout_ms);
/* Returns the first unread log line containing what, or NULL. */
const char *daemon_wait_line(struct daemon *d, const char *what,
	    unsigned timeout_ms);
/* Sends sig and waits for the exit; returns its exit status or -1. */
int	 daemon_stop(struct daemon *d, int sig, unsigned timeout_ms);

#endif

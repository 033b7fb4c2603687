/* SPDX-License-Identifier: ISC */
/*
 * The administration socket's insides, shared by its two halves: the
 * socket and its connections (lib/engine/admin.c) and the commands run on
 * a request line (lib/engine/admin_cmd.c).
 */
#ifndef IRIS_ENGINE_ADMIN_H
#define IRIS_ENGINE_ADMIN_H

#include <stdarg.h>
#include <sys/types.h>
#include <sys/un.h>

#include <event2/util.h>

struct evbuffer;
struct event;
struct evconnlistener;
struct iris_backup;
struct iris_engine;

#define IRIS_ADMIN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)

struct admin_conn {
	struct iris_admin	*adm;
	struct admin_conn	*prev, *next;
	evutil_socket_t		 fd;	/* -1: the peer is gone, a job
					 * still points here */
	struct event		*rev, *wev;
	struct evbuffer		*in, *outb;
	int			 flushing;
	uid_t			 uid;
	int			 pending;	/* a store job will call back */
	/* More output to make once what is queued is sent (a user list
	 * a page at a time); it clears itself at the end. */
	void			(*more)(struct admin_conn *);
	int			 closing;	/* the status line is queued */
	char			 what[64];	/* the request, for the log */
	char			 after[65];	/* user list: last one sent */
	char			 code[33];	/* the invite being stored */
	struct iris_backup	*backup;
	struct event		*step_ev;
};

struct iris_admin {
	struct iris_engine	*eng;
	struct evconnlistener	*l;
	char			 path[IRIS_ADMIN_PATH_MAX];
	int			 bound;
	dev_t			 dev;
	ino_t			 ino;
	struct admin_conn	*conns;
	size_t			 nconns;
};

/* lib/engine/admin.c */
/* Queues output for the peer. */
void	 iris__admin_vout(struct admin_conn *c, const char *fmt, va_list ap);
/* The status line (fmt NULL: "ok"); the connection closes once sent. */
void	 iris__admin_vfinish(struct admin_conn *c, const char *fmt,
	    va_list ap);
/* Sends what is queued without blocking; c may be gone afterwards. */
void	 iris__admin_flush(struct admin_conn *c);
/* A job called back: 0 when the peer went meanwhile (c was freed). */
int	 iris__admin_job_back(struct admin_conn *c);

/* lib/engine/admin_cmd.c: runs one request line (which it may change). */
void	 iris__admin_run(struct admin_conn *c, char *line);

#endif /* IRIS_ENGINE_ADMIN_H */

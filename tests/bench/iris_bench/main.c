/* SPDX-License-Identifier: ISC */
/*
 * iris-bench: measures a real irisd the way its users will judge it
 * (REQUIREMENTS.md P1-P6), verifying while it measures. Each workload
 * runs against a fresh irisd in a fresh directory under the current one.
 *   iris-bench [-F | -S] [-N] [-w durable,latency,drain,idle,reconnect]
 *              [-u users] [-s level_seconds] [-r rate,rate,...]
 *              [-l full_logins] [-t ticket_logins]
 * -F: full scale; -S: smoke (seconds); -N: irisd with durability none
 * (NOT durable, for comparisons with servers that ack before fsync).
 * -l and -t set the reconnect workload's counts (for profiles that take
 * the difference of two runs).
 * Exit 0 only when every workload ran clean; a failed one prints why and
 * no figure.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sodium.h>

#include "ib.h"

static const struct {
	const char	*name;
	int		(*run)(const struct ib_opts *, struct ib_server *);
} workloads[] = {
	{ "durable", ib_durable }, { "latency", ib_latency },
	{ "drain", ib_drain }, { "idle", ib_idle },
	{ "reconnect", ib_reconnect },
};

static void
rates(struct ib_opts *o, const char *list)
{
	char buf[256], *p, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	o->nlevels = 0;
	for (p = strtok_r(buf, ",", &save); p != NULL && o->nlevels < 16;
	    p = strtok_r(NULL, ",", &save))
		if (atoi(p) > 0)
			o->rates[o->nlevels++] = (unsigned)atoi(p);
}

static void
scale(struct ib_opts *o)
{
	if (o->smoke) {
		o->users = 8, o->level_s = 0.5, o->latency_msgs = 50;
		o->backlog = 300, o->idle_conns = 20, o->logins = 10;
		o->fsync_s = 0.2;
		rates(o, "500");
	} else if (o->full) {
		o->users = 1000, o->level_s = 10, o->latency_msgs = 10000;
		o->backlog = 100000, o->idle_conns = 19000, o->logins = 1000;
		o->fsync_s = 3;
		rates(o, "5000,10000,20000,30000,40000,50000,60000,80000");
	} else {
		o->users = 200, o->level_s = 3, o->latency_msgs = 2000;
		o->backlog = 10000, o->idle_conns = 2000, o->logins = 200;
		o->fsync_s = 1;
		rates(o, "2000,5000,10000,20000,30000,40000,50000");
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: iris-bench [-F | -S] [-N] [-w workloads] "
	    "[-u users] [-s level_seconds] [-r rate,...] [-l full_logins] "
	    "[-t ticket_logins]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct ib_opts o;
	struct ib_server s;
	struct utsname u;
	const char *users = NULL, *secs = NULL, *list = NULL, *full = NULL;
	const char *tickets = NULL;
	size_t i;
	int c, bad = 0, ran = 0;

	memset(&o, 0, sizeof(o));
	snprintf(o.workloads, sizeof(o.workloads),
	    "durable,latency,drain,idle,reconnect");
	while ((c = getopt(argc, argv, "FSNw:u:s:r:l:t:")) != -1)
		switch (c) {
		case 'F': o.full = 1; break;
		case 'S': o.smoke = 1; break;
		case 'N': o.nodurable = 1; break;
		case 'w':
			snprintf(o.workloads, sizeof(o.workloads), "%s",
			    optarg);
			break;
		case 'u': users = optarg; break;
		case 's': secs = optarg; break;
		case 'r': list = optarg; break;
		case 'l': full = optarg; break;
		case 't': tickets = optarg; break;
		default: return usage();
		}
	if (optind != argc || (o.full && o.smoke))
		return usage();
	scale(&o);
	if (users != NULL)
		o.users = atoi(users);
	if (secs != NULL)
		o.level_s = atof(secs);
	if (list != NULL)
		rates(&o, list);
	if (full != NULL)
		o.logins = atoi(full);
	/* Tickets are cheap: more of them, for the CPU clock's tick. */
	o.tickets = tickets != NULL ? atoi(tickets) : 10 * o.logins;
	if (o.users < 2 || o.level_s <= 0 || o.nlevels == 0 || o.logins < 1 ||
	    o.tickets < 1)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	o.seed = bu_seed();
	uname(&u);
	printf("iris-bench: seed %llu, %s scale, kernel %s, %ld CPUs; "
	    "irisd durability %s\n", (unsigned long long)o.seed,
	    o.smoke ? "smoke" : o.full ? "full" : "short", u.release,
	    sysconf(_SC_NPROCESSORS_ONLN), o.nodurable ?
	    "NONE (NOT durable: acks before fsync)" : "full (fsync before ack)");
	printf("durable: %d users, %d-byte envelopes, %.1f s per level, "
	    "rising rates until it no longer keeps up\n", o.users, IB_PAYLOAD,
	    o.level_s);
	fflush(stdout);
	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		char want[140];

		snprintf(want, sizeof(want), ",%s,", o.workloads);
		if (strstr(want, workloads[i].name) == NULL)
			continue;
		if (ib_server_start(&s, &o, NULL) != 0)
			return 1;
		if (o.nodurable != (s.durable == 0)) {
			fprintf(stderr, "iris-bench: irisd says durable=%d\n",
			    s.durable);
			bad++;
		} else if (workloads[i].run(&o, &s) != 0)
			bad++;
		ran++;
		ib_server_stop(&s);
	}
	if (ran == 0)
		return usage();
	if (o.nodurable)
		printf("iris-bench: irisd ran with durability none: these "
		    "figures are NOT durable (acked before fsync)\n");
	if (bad > 0) {
		fprintf(stderr, "iris-bench: %d workload(s) FAILED\n", bad);
		return 1;
	}
	return 0;
}

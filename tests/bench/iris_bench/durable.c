/* SPDX-License-Identifier: ISC */
/*
 * The messaging workloads of iris-bench:
 *   durable  senders to random recipients among many users, open loop at
 *            rising rates until irisd no longer keeps up, then once more
 *            at half the best rate (P1, P2), with the fsync floor of the
 *            data directory's file system measured in the same run;
 *   latency  one sender, one message in flight;
 *   drain    a device with a backlog catches up by sync pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iris.h"
#include "procstat.h"
#include "ib.h"

#define SETTLE_MS	60000	/* for what is in flight at a level's end */

struct level {
	double		 offered, msgs_per_s, cpu_s_per_m, per_commit;
	double		 srv_cores, cli_cores;	/* CPU used / wall time */
	struct ib_lat	 ack, dlv;
	double		 srv_p50, srv_p99;	/* irisd's own send->ack, ms */
};

/* One level: rate msgs/s offered for secs, then everything settled. */
static int
level(struct ib_fleet *f, double rate, double secs, struct level *lv)
{
	uint64_t t0, now, end, k = 0, due;
	double cpu0, cli0, a0, c0, a1, c1, wall;
	struct ib_hist h0, h1;
	int from, to;

	ib_samples_reset(f);
	(void)ib_server_hist(f->srv, "iris_send_ack_seconds", &h0);
	cpu0 = ib_server_cpu(f->srv);
	cli0 = ps_cpu_s(getpid());
	ib_server_commits(f->srv, &a0, &c0);
	t0 = bu_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	while ((now = bu_now_ns()) < end && f->bad == 0) {
		due = (uint64_t)(rate * (double)(now - t0) / 1e9);
		for (; k < due; k++) {
			from = (int)(k % (uint64_t)f->n);
			to = (int)bu_uniform(&f->rng, (uint64_t)f->n - 1);
			to += to >= from;
			if (ib_send(f, from, to) != 0)
				ib_fail(f, "send %llu not queued",
				    (unsigned long long)k);
		}
		ib_poll(f, 1);
	}
	if (ib_settle(f, SETTLE_MS) != 0)
		return -1;
	now = bu_now_ns();
	ib_server_commits(f->srv, &a1, &c1);
	(void)ib_server_hist(f->srv, "iris_send_ack_seconds", &h1);
	lv->srv_p50 = ib_hist_quantile(&h0, &h1, 0.5);
	lv->srv_p99 = ib_hist_quantile(&h0, &h1, 0.99);
	if (k == 0) {
		ib_fail(f, "no traffic");
		return -1;
	}
	wall = (double)(now - t0) / 1e9;
	lv->offered = rate;
	lv->msgs_per_s = (double)k / wall;
	lv->cpu_s_per_m = (ib_server_cpu(f->srv) - cpu0) * 1e6 / (double)k;
	lv->srv_cores = (ib_server_cpu(f->srv) - cpu0) / wall;
	lv->cli_cores = (ps_cpu_s(getpid()) - cli0) / wall;
	lv->per_commit = c1 > c0 ? (a1 - a0) / (c1 - c0) : -1;
	ib_lat(f->ack_ns, f->nack, &lv->ack);
	ib_lat(f->dlv_ns, f->ndlv, &lv->dlv);
	return 0;
}

static void
show(const struct level *lv, const char *tag)
{
	printf("  %-9s offered %7.0f/s  acked %7.0f/s  ack p50 %6.2f p99 "
	    "%7.2f p999 %7.2f ms  deliver p50 %6.2f p99 %7.2f p999 %7.2f ms"
	    "  irisd cpu %.1f s/M (%.2f cores)  client %.2f cores  %.1f "
	    "msgs/commit  irisd's own ack p50 <= %g p99 <= %g ms\n", tag,
	    lv->offered, lv->msgs_per_s, lv->ack.p50, lv->ack.p99,
	    lv->ack.p999, lv->dlv.p50, lv->dlv.p99, lv->dlv.p999,
	    lv->cpu_s_per_m, lv->srv_cores, lv->cli_cores, lv->per_commit,
	    lv->srv_p50, lv->srv_p99);
	fflush(stdout);
}

static int
failed(struct ib_fleet *f, const char *workload)
{
	fprintf(stderr, "iris-bench: %s FAILED: %s (no figures)\n", workload,
	    f->why[0] != '\0' ? f->why : "setup");
	ib_fleet_free(f);
	return -1;
}

int
ib_durable(const struct ib_opts *o, struct ib_server *s)
{
	struct event_base *base = event_base_new();
	struct level lv[16], half, *best = NULL;
	struct ib_fleet f;
	double fps, fp50, fp99;
	char dir[4200];
	int i;

	snprintf(dir, sizeof(dir), "%s/data", s->dir);
	if (bu_fsync_rate(dir, 0, o->fsync_s, &fps, &fp50, &fp99) != 0)
		return -1;
	printf("durable: fsync floor of %s: %.0f fdatasync/s (p50 %.0f us)\n",
	    dir, fps, fp50);
	if (ib_fleet_init(&f, base, s, o->users, "d", o->users, o->seed) != 0)
		return failed(&f, "durable");
	for (i = 0; i < o->nlevels; i++) {
		if (level(&f, o->rates[i], o->level_s, &lv[i]) != 0)
			return failed(&f, "durable");
		show(&lv[i], "level");
		if (best == NULL || lv[i].msgs_per_s > best->msgs_per_s)
			best = &lv[i];
		/* Saturated: it no longer keeps up, or p99 went past 50 ms. */
		if (lv[i].msgs_per_s < 0.9 * lv[i].offered ||
		    lv[i].ack.p99 > 50)
			break;
	}
	if (level(&f, best->msgs_per_s / 2, o->level_s, &half) != 0)
		return failed(&f, "durable");
	show(&half, "half-load");
	ib_row("durable", "acked msgs/s (best level)", "%.0f",
	    best->msgs_per_s);
	ib_row("durable", "fsync_per_s (same fs, same run)", "%.0f", fps);
	ib_row("durable", "ratio msgs/s : fsync/s", "%.1f",
	    best->msgs_per_s / fps);
	ib_row("durable", "send->ack p50 / p99 / p999 ms (best)",
	    "%.2f/%.2f/%.2f", best->ack.p50, best->ack.p99, best->ack.p999);
	ib_row("durable", "send->deliver p50 / p99 / p999 ms (best)",
	    "%.2f/%.2f/%.2f", best->dlv.p50, best->dlv.p99, best->dlv.p999);
	ib_row("durable", "half load: msgs/s", "%.0f", half.msgs_per_s);
	ib_row("durable", "half load: send->ack p50 / p99 ms", "%.2f/%.2f",
	    half.ack.p50, half.ack.p99);
	ib_row("durable", "half load: send->deliver p99 ms", "%.2f",
	    half.dlv.p99);
	/* Arrival to SendAck inside irisd, without the load generator's
	 * own delays (bucket bounds of its histogram). */
	ib_row("durable", "half load: irisd's own ack p50 / p99 ms", "<= %g/%g",
	    half.srv_p50, half.srv_p99);
	ib_row("durable", "server CPU s per million msgs", "%.1f",
	    best->cpu_s_per_m);
	ib_row("durable", "msgs per commit", "%.1f", best->per_commit);
	ib_row("durable", "CPU cores used: irisd / load generator", "%.2f/%.2f",
	    best->srv_cores, best->cli_cores);
	ib_json("{\"workload\":\"durable\",\"msgs_per_s\":%.0f,"
	    "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ack_p999_ms\":%.3f,"
	    "\"deliver_p50_ms\":%.3f,\"deliver_p99_ms\":%.3f,"
	    "\"deliver_p999_ms\":%.3f,\"fsync_per_s\":%.0f,"
	    "\"fsync_ratio\":%.2f,\"cpu_s_per_million\":%.2f,"
	    "\"msgs_per_commit\":%.1f,\"irisd_cores\":%.2f,"
	    "\"client_cores\":%.2f,\"half_load_msgs_per_s\":%.0f,"
	    "\"half_ack_p50_ms\":%.3f,\"half_ack_p99_ms\":%.3f,"
	    "\"half_deliver_p99_ms\":%.3f,\"half_irisd_ack_p50_ms_le\":%g,"
	    "\"half_irisd_ack_p99_ms_le\":%g,\"users\":%d,\"payload\":%d,"
	    "\"level_s\":%.1f,\"levels\":%d,\"msgs\":%llu",
	    best->msgs_per_s, best->ack.p50, best->ack.p99, best->ack.p999,
	    best->dlv.p50, best->dlv.p99, best->dlv.p999, fps,
	    best->msgs_per_s / fps, best->cpu_s_per_m, best->per_commit,
	    best->srv_cores, best->cli_cores,
	    half.msgs_per_s, half.ack.p50, half.ack.p99, half.dlv.p99,
	    half.srv_p50, half.srv_p99, o->users, IB_PAYLOAD, o->level_s, (int)(best - lv) + 1,
	    (unsigned long long)f.sent);
	ib_fleet_free(&f);
	event_base_free(base);
	return 0;
}

int
ib_latency(const struct ib_opts *o, struct ib_server *s)
{
	struct event_base *base = event_base_new();
	struct ib_fleet f;
	struct ib_lat ack, dlv;
	uint64_t t0, t1;
	unsigned i;

	if (ib_fleet_init(&f, base, s, 2, "l", 2, o->seed) != 0)
		return failed(&f, "latency");
	t0 = bu_now_ns();
	for (i = 0; i < o->latency_msgs && f.bad == 0; i++) {
		if (ib_send(&f, 0, 1) != 0)
			ib_fail(&f, "send not queued");
		while (!ib_settled(&f) && f.bad == 0)
			ib_poll(&f, 1);
	}
	t1 = bu_now_ns();
	if (f.bad != 0 || ib_settle(&f, SETTLE_MS) != 0 || f.sent == 0)
		return failed(&f, "latency");
	ib_lat(f.ack_ns, f.nack, &ack);
	ib_lat(f.dlv_ns, f.ndlv, &dlv);
	ib_row("latency", "1 in flight: send->ack p50 / p99 / p999 ms",
	    "%.2f/%.2f/%.2f", ack.p50, ack.p99, ack.p999);
	ib_row("latency", "1 in flight: send->deliver p50 / p99 ms",
	    "%.2f/%.2f", dlv.p50, dlv.p99);
	ib_json("{\"workload\":\"latency\",\"msgs_per_s\":%.0f,"
	    "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ack_p999_ms\":%.3f,"
	    "\"deliver_p50_ms\":%.3f,\"deliver_p99_ms\":%.3f,\"msgs\":%llu,"
	    "\"in_flight\":1", (double)f.sent / ((double)(t1 - t0) / 1e9),
	    ack.p50, ack.p99, ack.p999, dlv.p50, dlv.p99,
	    (unsigned long long)f.sent);
	ib_fleet_free(&f);
	event_base_free(base);
	return 0;
}

#define DRAIN_SENDERS	8
#define DRAIN_WINDOW	2048	/* sends in flight while filling */

int
ib_drain(const struct ib_opts *o, struct ib_server *s)
{
	struct event_base *base = event_base_new();
	struct ib_fleet f;
	struct ib_dev *d;
	uint64_t t0, t1, k = 0;
	int n = DRAIN_SENDERS + 1;

	if (ib_fleet_init(&f, base, s, n, "q", n - 1, o->seed) != 0)
		return failed(&f, "drain");
	d = f.dev[n - 1];
	/* The backlog, while the device is not live. */
	while (f.acked < o->backlog && f.bad == 0) {
		while (k < o->backlog && f.sent - f.acked < DRAIN_WINDOW)
			if (ib_send(&f, (int)(k++ % DRAIN_SENDERS), n - 1) != 0)
				ib_fail(&f, "send not queued");
		ib_poll(&f, 1);
	}
	if (f.bad != 0 || f.delivered != 0) {
		if (f.bad == 0)
			ib_fail(&f, "a device that is not live got a push");
		return failed(&f, "drain");
	}
	/* It comes back (a new connection, a signature login), catches up. */
	if (mc_relogin(&d->u, 0, base, s->d.port, s->d.fp) != 0) {
		ib_fail(&f, "no login for the drain");
		return failed(&f, "drain");
	}
	t0 = bu_now_ns();
	ib_sync_page(&f, n - 1, 4096);
	while (f.bad == 0 && !(d->synced && f.delivered == f.sent) &&
	    bu_now_ns() - t0 < (uint64_t)SETTLE_MS * 1000000) {
		ib_poll(&f, 1);
		if (!d->paging && !d->synced)
			ib_sync_page(&f, n - 1, 4096);
	}
	t1 = bu_now_ns();
	if (f.bad != 0 || ib_settle(&f, SETTLE_MS) != 0 || f.delivered == 0)
		return failed(&f, "drain");
	ib_row("drain", "backlog caught up (msgs)", "%llu",
	    (unsigned long long)f.delivered);
	ib_row("drain", "drain msgs/s", "%.0f",
	    (double)f.delivered / ((double)(t1 - t0) / 1e9));
	ib_json("{\"workload\":\"drain\",\"msgs_per_s\":%.0f,\"backlog\":%llu,"
	    "\"drain_s\":%.3f,\"page\":4096",
	    (double)f.delivered / ((double)(t1 - t0) / 1e9),
	    (unsigned long long)f.delivered, (double)(t1 - t0) / 1e9);
	ib_fleet_free(&f);
	event_base_free(base);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * kill -9 of a real irisd while 10 clients send 10 000 messages to one
 * recipient. Each sender keeps an outbox: after a restart it logs in
 * again and resends, in order and with the same client message ids,
 * everything it has no ack for. Right after each restart, before any
 * resend, the recipient syncs its whole inbox and every message whose
 * ack a sender saw must be there; at the end every message is there
 * exactly once, in per-sender order. Kill points are seeded.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "iris.h"
#include "iris_store.h"

#include "daemon.h"
#include "msgclient.h"

#define T		10000
#define SENDERS		10
#define PER_SENDER	1000
#define WINDOW		32
#define KILLS		3

static int failures;
static struct event_base *base;
static struct daemon d;
static char fp[65];

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "msg_crash: line %d: ", __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct sender {
	struct mc_user	 u;
	uint8_t		 cmid[PER_SENDER][16];
	uint64_t	 msg_id[PER_SENDER];
	int		 acked[PER_SENDER];
	int		 nacked;
	int		 next;		/* next index to send */
	int		 inflight;
	int		 up;		/* connected */
};

static struct sender snd[SENDERS];
static struct mc_user rcpt;

static void
start(void)
{
	const char *args[] = { "-f", "iris.conf", NULL };

	EXPECT(daemon_start(&d, args, 3 * T) == 0, "irisd did not start");
	if (fp[0] == '\0')
		memcpy(fp, d.fp, sizeof(fp));
	EXPECT(strcmp(fp, d.fp) == 0, "the key changed on restart");
}

static void
fill(struct sender *s, struct mc_user *to)
{
	struct iris_wire_msg m;
	char payload[64], tag[32];
	int i = s->next;

	while (s->up && s->next < PER_SENDER && s->inflight < WINDOW) {
		i = s->next++;
		if (s->acked[i])
			continue;
		memset(payload, '.', sizeof(payload));
		snprintf(tag, sizeof(tag), "%.8s %d", s->u.name, i);
		memcpy(payload, tag, strlen(tag));
		mc_send(&m, 1 + (uint64_t)i, s->cmid[i], IRIS_CLASS_MESSAGE, 0);
		mc_env(&m, to->name, to->dev[0].id, payload, sizeof(payload));
		wc_send(&s->u.c[0].w, &m);
		mc_free(&m);
		s->inflight++;
	}
}

static void
drain(struct sender *s)
{
	struct iris_wire_msg *r;
	uint64_t i;

	while ((r = wc_next(&s->u.c[0].w, 0)) != NULL) {
		i = r->f.request_id - 1;
		if (r->f.request_id == 0 || i >= PER_SENDER)
			continue;
		s->inflight--;
		if (r->f.which_body == iris_v1_Frame_send_ack_tag) {
			/* A retry gets the original ack. */
			EXPECT(!s->acked[i] || s->msg_id[i] ==
			    r->f.body.send_ack.msg_id, "%s %llu: two msg ids",
			    s->u.name, (unsigned long long)i);
			if (!s->acked[i]) {
				s->acked[i] = 1;
				s->msg_id[i] = r->f.body.send_ack.msg_id;
				s->nacked++;
			}
		} else if (r->f.which_body == iris_v1_Frame_error_tag)
			EXPECT(0, "%s %llu: %s %s", s->u.name,
			    (unsigned long long)i,
			    iris__wire_errname(r->f.body.error.code),
			    r->f.body.error.detail);
	}
	if (s->u.c[0].w.closed)
		s->up = 0;
}

static int
acked_total(void)
{
	int i, n = 0;

	for (i = 0; i < SENDERS; i++)
		n += snd[i].nacked;
	return n;
}

static int
any_frame(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < SENDERS; i++)
		if (snd[i].u.c[0].w.n > 0 || snd[i].u.c[0].w.closed)
			return 1;
	return 0;
}

/*
 * The recipient syncs its whole inbox: each sender's messages must come
 * in order, once each, and every acked one must be there.
 */
static void
verify(int require_all)
{
	struct iris_wire_msg m, *r;
	int seen[SENDERS][PER_SENDER], last[SENDERS], k, idx, total = 0;
	uint64_t after = 0, seq;
	size_t i, len;
	const uint8_t *p;
	char name[32];

	memset(seen, 0, sizeof(seen));
	for (k = 0; k < SENDERS; k++)
		last[k] = -1;
	for (;;) {
		mc_sync(&m, 9, after, 0);
		if (ac_ask(&rcpt.c[0], &m, &r) != 0 || r->f.which_body !=
		    iris_v1_Frame_sync_page_tag) {
			EXPECT(0, "the recipient cannot sync");
			return;
		}
		for (i = 0; i < r->nitems; i++) {
			seq = r->items[i].pb.seq;
			EXPECT(seq == after + 1, "seq %llu after %llu",
			    (unsigned long long)seq,
			    (unsigned long long)after);
			after = seq;
			p = mc_payload(r, i, &len);
			if (p == NULL || len < 4 || sscanf((const char *)p,
			    "s%d %d", &k, &idx) != 2 || k < 0 ||
			    k >= SENDERS || idx < 0 || idx >= PER_SENDER) {
				EXPECT(0, "seq %llu: not a test message",
				    (unsigned long long)seq);
				continue;
			}
			snprintf(name, sizeof(name), "s%d", k);
			EXPECT(!seen[k][idx], "%s %d delivered twice", name,
			    idx);
			EXPECT(idx > last[k], "%s %d after %d: out of order",
			    name, idx, last[k]);
			seen[k][idx] = 1;
			last[k] = idx;
			total++;
		}
		if (!r->f.body.sync_page.more)
			break;
	}
	for (k = 0; k < SENDERS; k++)
		for (idx = 0; idx < PER_SENDER; idx++)
			if ((snd[k].acked[idx] || require_all) &&
			    !seen[k][idx]) {
				EXPECT(0, "s%d %d %s but not delivered", k, idx,
				    snd[k].acked[idx] ? "acked" : "sent");
				return;
			}
	printf("msg_crash: the recipient holds %d messages, every acked one "
	    "among them, in order\n", total);
}

static void
reconnect_all(void)
{
	int k;

	for (k = 0; k < SENDERS; k++) {
		EXPECT(mc_relogin(&snd[k].u, 0, base, d.port, fp) == 0,
		    "s%d logs in again", k);
		snd[k].up = 1;
		snd[k].inflight = 0;
		/* The outbox resends, in order, what has no ack. */
		for (snd[k].next = 0; snd[k].next < PER_SENDER &&
		    snd[k].acked[snd[k].next]; snd[k].next++)
			;
	}
	EXPECT(mc_relogin(&rcpt, 0, base, d.port, fp) == 0, "recipient");
}

int
main(void)
{
	unsigned seed = (unsigned)time(NULL);
	int kill_at[KILLS], kills = 0, k, i;
	uint64_t deadline;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("IRIS_TEST_SEED") != NULL)
		seed = (unsigned)strtoul(getenv("IRIS_TEST_SEED"), NULL, 10);
	srand(seed);
	printf("msg_crash: seed %u (IRIS_TEST_SEED=%u to repeat)\n", seed,
	    seed);
	if (sodium_init() < 0)
		return 1;
	for (k = 0; k < KILLS; k++)
		kill_at[k] = (k + 1) * SENDERS * PER_SENDER / (KILLS + 1) +
		    rand() % 1000 - 500;
	f = fopen("iris.conf", "w");
	fprintf(f, "data_dir data\nlisten 127.0.0.1:0\nregistration open\n"
	    "send_rate 1000000\nsend_burst 1000000\n");
	fclose(f);
	printf("msg_crash: send_rate 1000000, send_burst 1000000; kills "
	    "after %d, %d and %d acks\n", kill_at[0], kill_at[1], kill_at[2]);
	base = event_base_new();
	start();
	if (failures > 0)
		return 1;
	EXPECT(mc_user_new(&rcpt, "r", 1, base, d.port, fp, NULL) == 0, "r");
	for (k = 0; k < SENDERS; k++) {
		char name[8];

		snprintf(name, sizeof(name), "s%d", k);
		EXPECT(mc_user_new(&snd[k].u, name, 1, base, d.port, fp, NULL)
		    == 0, "%s", name);
		for (i = 0; i < PER_SENDER; i++)
			iris_uuid_v7(snd[k].cmid[i]);
		snd[k].up = 1;
	}
	deadline = now_ms() + 240000;
	while (failures == 0 && acked_total() < SENDERS * PER_SENDER &&
	    now_ms() < deadline) {
		for (k = 0; k < SENDERS; k++)
			fill(&snd[k], &rcpt);
		run_until(base, any_frame, NULL, 50);
		for (k = 0; k < SENDERS; k++)
			drain(&snd[k]);
		if (kills < KILLS && acked_total() >= kill_at[kills]) {
			EXPECT(daemon_stop(&d, SIGKILL, T) == -1 &&
			    WIFSIGNALED(d.status), "kill -9");
			printf("msg_crash: killed irisd after %d acks\n",
			    acked_total());
			start();
			kills++;
			reconnect_all();
			verify(0);	/* before any resend */
		}
	}
	EXPECT(acked_total() == SENDERS * PER_SENDER, "only %d acked",
	    acked_total());
	if (failures == 0)
		verify(1);
	for (k = 0; k < SENDERS; k++)
		mc_user_close(&snd[k].u);
	mc_user_close(&rcpt);
	EXPECT(daemon_stop(&d, SIGTERM, T) == 0, "irisd exit");
	event_base_free(base);
	if (failures > 0)
		return 1;
	printf("msg_crash: %d kills, every acked message delivered once, in "
	    "order: ok\n", kills);
	return 0;
}

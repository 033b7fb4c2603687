/* SPDX-License-Identifier: ISC */
/* Client objects for tests: callbacks recorded, waits with deadlines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clienttest.h"
#include "evloop.h"

void
ct_rec_init(struct ct_rec *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->typing = -1;
	r->msgs = calloc(CT_MSGS, sizeof(*r->msgs));
}

void
ct_rec_free(struct ct_rec *r)
{
	free(r->msgs);
	r->msgs = NULL;
}

static void
on_state(struct iris_client *c, int state, int err, void *arg)
{
	struct ct_rec *r = arg;

	r->state = state;
	r->state_err = err;
	if (state == IRIS_CLIENT_ONLINE)
		r->onlines++;
	if (state == IRIS_CLIENT_OFFLINE && err != IRIS_OK)
		r->offlines++;
	if (state == IRIS_CLIENT_ONLINE && r->free_when_online) {
		iris_client_free(c);
		r->c = NULL;
	}
}

static void
on_message(struct iris_client *c, const struct iris_client_msg *m,
    void *arg)
{
	struct ct_rec *r = arg;
	struct ct_msg *x;
	const char *s;
	size_t len;
	const void *body;

	if (r->nmsgs < CT_MSGS && r->msgs != NULL) {
		x = &r->msgs[r->nmsgs];
		s = iris_client_msg_sender(m, &x->device);
		snprintf(x->sender, sizeof(x->sender), "%s", s);
		snprintf(x->recipient, sizeof(x->recipient), "%s",
		    iris_client_msg_recipient(m));
		x->type = iris_client_msg_type(m);
		memcpy(x->id, iris_client_msg_id(m), 16);
		body = iris_client_msg_body(m, &len);
		x->len = len;
		if (len >= sizeof(x->body))
			len = sizeof(x->body) - 1;
		memcpy(x->body, body, len);
		x->body[len] = '\0';
	}
	r->nmsgs++;
	if (r->free_in_message) {
		iris_client_free(c);
		r->c = NULL;
	}
}

static void
on_sent(struct iris_client *c, const uint8_t id[16], int status, void *arg)
{
	struct ct_rec *r = arg;

	(void)c, (void)id;
	if (status == IRIS_CLIENT_QUEUED)
		r->queued++;
	else if (status == IRIS_CLIENT_ACKED)
		r->acked++;
	else {
		r->failed++;
		r->last_fail = status;
	}
}

static void
on_receipt(struct iris_client *c, const uint8_t id[16], const char *user,
    uint32_t device, uint64_t t, void *arg)
{
	struct ct_rec *r = arg;

	(void)c, (void)device, (void)t;
	r->receipts++;
	memcpy(r->receipt_id, id, 16);
	snprintf(r->receipt_user, sizeof(r->receipt_user), "%s", user);
}

static void
on_typing(struct iris_client *c, const char *user, uint32_t device,
    int typing, void *arg)
{
	struct ct_rec *r = arg;

	(void)c, (void)user, (void)device;
	r->typing = typing;
}

static void
on_presence(struct iris_client *c, const char *user, int online,
    uint64_t last, int hidden, void *arg)
{
	struct ct_rec *r = arg;

	(void)c, (void)last;
	r->presences++;
	snprintf(r->presence_user, sizeof(r->presence_user), "%s", user);
	r->presence_online = online;
	r->presence_hidden = hidden;
}

static void
on_error(struct iris_client *c, int err, const char *detail, void *arg)
{
	struct ct_rec *r = arg;

	(void)c;
	r->errors++;
	r->last_error = err;
	fprintf(stderr, "%s: client error: %s: %s\n", r->name,
	    iris_errname(err), detail);
}

void
ct_attach(struct ct_rec *r, struct iris_client *c)
{
	r->c = c;
	iris_client_set_state_cb(c, on_state, r);
	iris_client_set_message_cb(c, on_message, r);
	iris_client_set_sent_cb(c, on_sent, r);
	iris_client_set_receipt_cb(c, on_receipt, r);
	iris_client_set_typing_cb(c, on_typing, r);
	iris_client_set_presence_cb(c, on_presence, r);
	iris_client_set_error_cb(c, on_error, r);
}

struct iris_client_config *
ct_config(int port, const char *fp, const char *user, const char *account)
{
	struct iris_client_config *cfg;
	char hp[64];

	if (iris_client_config_new(&cfg) != IRIS_OK)
		return NULL;
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	if (iris_client_config_set_server(cfg, hp) != IRIS_OK ||
	    iris_client_config_set_pin(cfg, fp) != IRIS_OK ||
	    iris_client_config_set_user(cfg, user) != IRIS_OK ||
	    (account != NULL &&
	    iris_client_config_set_account(cfg, account) != IRIS_OK) ||
	    iris_client_config_set_backoff(cfg, 20, 500) != IRIS_OK) {
		fprintf(stderr, "ct_config: %s\n",
		    iris_client_config_error(cfg));
		iris_client_config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct iris_client *
ct_client(struct event_base *base, struct iris_client_store *store,
    int port, const char *fp, const char *user, const char *account,
    struct ct_rec *r)
{
	struct iris_client_config *cfg;
	struct iris_client *c = NULL;
	int rc;

	if ((cfg = ct_config(port, fp, user, account)) == NULL)
		return NULL;
	if ((rc = iris_client_new(&c, base, store, cfg)) != IRIS_OK)
		fprintf(stderr, "ct_client %s: %s\n", user, iris_strerror(rc));
	iris_client_config_free(cfg);
	if (c != NULL && r != NULL)
		ct_attach(r, c);
	return c;
}

void
ct_done_cb(struct iris_client *c, int rc, void *arg)
{
	struct ct_done *d = arg;

	(void)c;
	d->done = 1;
	d->rc = rc;
}

void
ct_token_cb(struct iris_client *c, int rc, const char *token,
    uint64_t expires_ms, void *arg)
{
	struct ct_token *t = arg;

	(void)c, (void)expires_ms;
	t->d.done = 1;
	t->d.rc = rc;
	if (token != NULL)
		snprintf(t->token, sizeof(t->token), "%s", token);
}

static int
is_done(void *arg)
{
	return ((struct ct_done *)arg)->done;
}

int
ct_wait_done(struct event_base *base, struct ct_done *d, unsigned timeout_ms)
{
	if (!run_until(base, is_done, d, timeout_ms))
		return -1000;
	return d->rc;
}

struct want {
	struct ct_rec	*r;
	int		 state;
	size_t		 n;
};

static int
has_state(void *arg)
{
	struct want *w = arg;

	return w->r->state == w->state;
}

int
ct_wait_state(struct event_base *base, struct ct_rec *r, int state,
    unsigned timeout_ms)
{
	struct want w = { r, state, 0 };

	return run_until(base, has_state, &w, timeout_ms);
}

static int
more_offlines(void *arg)
{
	struct want *w = arg;

	return (size_t)w->r->offlines > w->n;
}

int
ct_wait_offline(struct event_base *base, struct ct_rec *r, int before,
    unsigned timeout_ms)
{
	struct want w = { r, 0, (size_t)before };

	return run_until(base, more_offlines, &w, timeout_ms);
}

static int
has_msgs(void *arg)
{
	struct want *w = arg;

	return w->r->nmsgs >= w->n;
}

int
ct_wait_msgs(struct event_base *base, struct ct_rec *r, size_t n,
    unsigned timeout_ms)
{
	struct want w = { r, 0, n };

	return run_until(base, has_msgs, &w, timeout_ms);
}

static int
has_acked(void *arg)
{
	struct want *w = arg;

	return w->r->acked >= w->n;
}

int
ct_wait_acked(struct event_base *base, struct ct_rec *r, size_t n,
    unsigned timeout_ms)
{
	struct want w = { r, 0, n };

	return run_until(base, has_acked, &w, timeout_ms);
}

void
ct_key(uint8_t key[32], uint8_t seed)
{
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(seed * 31 + i);
}

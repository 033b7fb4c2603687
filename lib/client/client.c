/* SPDX-License-Identifier: ISC */
/*
 * Client objects: creation from a config and the account in the store,
 * the queue through which every callback reaches the embedder from the
 * loop (never from inside the call that caused it), and freeing, which is
 * safe at any time, callbacks included: a client torn down while store
 * transactions are pending stays allocated, silent, until they report.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "client/seal_e2ee.h"
#include "net/conn.h"
#include "util/alloc.h"
#include "util/clock.h"

void	(*iris__client_test_hook)(int point);

/* The sealer new clients use; unit tests whose fake server reads the
 * plain framing set it to &iris__seal_plain before making clients. */
const struct iris__sealer_ops *iris__client_sealer = &iris__seal_e2ee;

static uint64_t
mono_ms(void *arg)
{
	(void)arg;
	return iris__clock_mono_us() / 1000;
}

uint64_t
iris__client_now(const struct iris_client *c)
{
	return c->now_ms(c->now_arg);
}

void
iris__client_seterr(struct iris_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

int
iris__client_tearing(const struct iris_client *c)
{
	return c->gone || c->dead;
}

/* The dispatcher: events queued before it started, in order. */
static void
dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct iris_client *c = arg;
	struct cev *e, *last = c->evq_tail;

	(void)fd, (void)what;
	c->in_cb = 1;
	while ((e = c->evq) != NULL) {
		c->evq = e->next;
		if (c->evq == NULL)
			c->evq_tail = NULL;
		if (!c->dead)
			e->fire(c, e);
		e->drop(e);
		if (e == last)
			break;
	}
	c->in_cb = 0;
	if (c->dead) {
		c->dead = 0;
		iris_client_free(c);
		return;
	}
	if (c->evq != NULL)
		event_active(c->ev_dispatch, EV_TIMEOUT, 0);
}

void
iris__client_event(struct iris_client *c, struct cev *e)
{
	if (iris__client_tearing(c)) {
		e->drop(e);
		return;
	}
	e->next = NULL;
	if (c->evq_tail != NULL)
		c->evq_tail->next = e;
	else
		c->evq = e;
	c->evq_tail = e;
	if (!c->in_cb && !event_pending(c->ev_dispatch, EV_TIMEOUT, NULL))
		event_active(c->ev_dispatch, EV_TIMEOUT, 0);
}

struct ev_error {
	struct cev	 ev;
	int		 error;
	char		 detail[256];
};

static void
error_fire(struct iris_client *c, struct cev *e)
{
	struct ev_error *x = (struct ev_error *)e;

	if (c->on_error != NULL)
		c->on_error(c, x->error, x->detail, c->on_error_arg);
}

static void
plain_drop(struct cev *e)
{
	iris__free(e);
}

void
iris__client_error_event(struct iris_client *c, int error, const char *fmt,
    ...)
{
	struct ev_error *x;
	va_list ap;

	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = error_fire;
	x->ev.drop = plain_drop;
	x->error = error;
	va_start(ap, fmt);
	vsnprintf(x->detail, sizeof(x->detail), fmt, ap);
	va_end(ap);
	iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: %s", c->user,
	    x->detail);
	iris__client_event(c, &x->ev);
}

struct ev_done {
	struct cev		 ev;
	iris_client_done_cb	 cb;
	void			*arg;
	int			 rc;
};

static void
done_fire(struct iris_client *c, struct cev *e)
{
	struct ev_done *x = (struct ev_done *)e;

	x->cb(c, x->rc, x->arg);
}

void
iris__client_done_event(struct iris_client *c, iris_client_done_cb cb,
    void *arg, int rc)
{
	struct ev_done *x;

	if (cb == NULL || (x = iris__calloc(1, sizeof(*x))) == NULL)
		return;
	x->ev.fire = done_fire;
	x->ev.drop = plain_drop;
	x->cb = cb;
	x->arg = arg;
	x->rc = rc;
	iris__client_event(c, &x->ev);
}

/* Store transactions of a client, counted. */
struct txn_ctx {
	struct iris_client	*c;
	void			(*cb)(struct iris_client *c, int rc, void *arg);
	void			*arg;
};

static void	final_free(struct iris_client *c);
static void	teardown(struct iris_client *c);

static void
txn_done(struct iris_cs_txn *t, int rc, int deliver, void *arg)
{
	struct txn_ctx *x = arg;
	struct iris_client *c = x->c;

	(void)t, (void)deliver;
	c->jobs--;
	if (x->cb != NULL)
		x->cb(c, rc, x->arg);
	iris__free(x);
	if (c->gone && c->jobs == 0)
		final_free(c);
}

struct iris_cs_txn *
iris__client_txn(struct iris_client *c,
    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg)
{
	struct iris_cs_txn *t;
	struct txn_ctx *x;

	if ((x = iris__calloc(1, sizeof(*x))) == NULL)
		return NULL;
	if ((t = iris__cs_txn_new(c->cs, txn_done, x)) == NULL) {
		iris__free(x);
		return NULL;
	}
	x->c = c;
	x->cb = cb;
	x->arg = arg;
	return t;
}

/* Submits t; on failure t is still the caller's (iris__client_txn_drop). */
int
iris__client_submit(struct iris_client *c, struct iris_cs_txn *t)
{
	int rc;

	if ((rc = iris__cs_txn_submit(t)) != IRIS_OK)
		return rc;
	c->jobs++;
	return IRIS_OK;
}

/* A transaction not submitted: freed, its callback never runs. */
void
iris__client_txn_drop(struct iris_cs_txn *t)
{
	if (t == NULL)
		return;
	iris__free(iris__cs_txn_arg(t));
	iris__cs_txn_free(t);
}

/* Sets the callback and its argument of a transaction not yet submitted. */
void
iris__client_txn_set(struct iris_cs_txn *t,
    void (*cb)(struct iris_client *c, int rc, void *arg), void *arg)
{
	struct txn_ctx *x = iris__cs_txn_arg(t);

	x->cb = cb;
	x->arg = arg;
}

static int
setup(struct iris_client *c, const struct iris_client_config *cfg)
{
	const char *name;
	int rc;

	if ((rc = iris__client_config_copy(&c->cfg, cfg)) != IRIS_OK)
		return rc;
	c->log = cfg->log;
	c->now_ms = mono_ms;
	snprintf(c->user, sizeof(c->user), "%s", cfg->user);
	name = cfg->account[0] != '\0' ? cfg->account : cfg->user;
	iris__cs_tag(c->cs, CS_D_ACCOUNT, name, strlen(name), c->acct_tag);
	iris__uuidgen_init(&c->uuids, NULL, NULL);
	if ((c->ev_dispatch = event_new(c->base, -1, 0, dispatch, c)) ==
	    NULL)
		return IRIS_ENOMEM;
	/* The sealer: see lib/client/seal.h. */
	if ((rc = iris__client_sealer->create(&c->sealer, c)) != IRIS_OK)
		return rc;
	c->seal = iris__client_sealer;
	if ((rc = iris__heal_new(c)) != IRIS_OK)
		return rc;
	if ((rc = iris__auth_load(c)) != IRIS_OK)
		return rc;
	return iris__outbox_load(c);
}

int
iris_client_new(struct iris_client **clientp, struct event_base *base,
    struct iris_client_store *store, const struct iris_client_config *cfg)
{
	struct iris_client *c;
	int rc;

	if (clientp == NULL)
		return IRIS_EINVAL;
	*clientp = NULL;
	if (base == NULL || store == NULL || cfg == NULL ||
	    cfg->server[0] == '\0' || cfg->user[0] == '\0' ||
	    (!cfg->have_pin && cfg->ca_path == NULL))
		return IRIS_EINVAL;
	if (sodium_init() < 0)
		return IRIS_ECRYPTO;
	if ((c = iris__calloc(1, sizeof(*c))) == NULL)
		return IRIS_ENOMEM;
	c->base = base;
	c->cs = store;
	iris__cs_ref(store);
	if ((rc = setup(c, cfg)) != IRIS_OK) {
		iris__log(&cfg->log, IRIS_LOG_ERR, "client %s: %s", cfg->user,
		    c->err[0] != '\0' ? c->err : iris_strerror(rc));
		teardown(c);
		final_free(c);
		return rc;
	}
	*clientp = c;
	return IRIS_OK;
}

static void
final_free(struct iris_client *c)
{
	iris__cs_unref(c->cs);
	iris__heal_free(c);
	iris__free(c->cfg.ca_path);
	sodium_memzero(c, sizeof(*c));
	iris__free(c);
}

/* Everything but what pending transactions point to. */
static void
teardown(struct iris_client *c)
{
	struct cev *e;

	iris__read_flush(c);	/* reads made just before: kept */
	c->gone = 1;
	iris__conn_stop(c);
	while ((e = c->evq) != NULL) {
		c->evq = e->next;
		e->drop(e);
	}
	c->evq_tail = NULL;
	iris__recv_free_all(c);
	iris__recv_typing_free(c);
	iris__outbox_free_all(c);
	iris__devlist_free_all(c);
	if (c->seal != NULL)
		c->seal->destroy(c->sealer);
	c->sealer = NULL;
	if (c->ev_dispatch != NULL)
		event_free(c->ev_dispatch);
	c->ev_dispatch = NULL;
	iris__free(c->subs);
	c->subs = NULL;
	sodium_memzero(c->sk, sizeof(c->sk));
	sodium_memzero(c->token, sizeof(c->token));
}

void
iris_client_free(struct iris_client *c)
{
	if (c == NULL || c->gone)
		return;
	if (c->in_cb) {
		/* Freed from inside a callback: after it returns. */
		c->dead = 1;
		return;
	}
	teardown(c);
	if (c->jobs == 0)
		final_free(c);
}

const char *
iris_client_error(const struct iris_client *c)
{
	return c != NULL ? c->err : "";
}

int
iris_client_state(const struct iris_client *c)
{
	return c != NULL ? c->pub_state : IRIS_CLIENT_OFFLINE;
}

const char *
iris_client_user(const struct iris_client *c, uint32_t *device)
{
	if (device != NULL)
		*device = c != NULL ? c->device : 0;
	return c != NULL && c->acct != 0 ? c->user : NULL;
}

int
iris_client_identity(const struct iris_client *c, uint8_t key[32])
{
	if (c == NULL || key == NULL)
		return IRIS_EINVAL;
	if (c->acct == 0)
		return IRIS_ESTATE;
	memcpy(key, c->pk, 32);
	return IRIS_OK;
}

/* The embedder's sends only: what the library sends itself reports to
 * nobody, so an embedder waiting for this to reach 0 would have no event
 * to look again on. */
size_t
iris_client_outbox(const struct iris_client *c)
{
	const struct ob_entry *e;
	size_t n = 0;

	for (e = c != NULL ? c->ob_head : NULL; e != NULL; e = e->next)
		n += !OB_QUIET(e);
	return n;
}

#define SETTER(name, type, field)					\
void									\
iris_client_set_##name##_cb(struct iris_client *c, type cb, void *arg)	\
{									\
	if (c == NULL)							\
		return;							\
	c->field = cb;							\
	c->field##_arg = arg;						\
}

SETTER(state, iris_client_state_cb, on_state)
SETTER(message, iris_client_message_cb, on_message)
SETTER(sent, iris_client_sent_cb, on_sent)
SETTER(receipt, iris_client_receipt_cb, on_receipt)
SETTER(typing, iris_client_typing_cb, on_typing)
SETTER(presence, iris_client_presence_cb, on_presence)
SETTER(error, iris_client_error_cb, on_error)

/* The received message the message callback borrows. */
const uint8_t *
iris_client_msg_id(const struct iris_client_msg *m)
{
	return m->id;
}

const char *
iris_client_msg_sender(const struct iris_client_msg *m, uint32_t *device)
{
	if (device != NULL)
		*device = m->sender_device;
	return m->sender;
}

const char *
iris_client_msg_recipient(const struct iris_client_msg *m)
{
	return m->recipient;
}

uint32_t
iris_client_msg_type(const struct iris_client_msg *m)
{
	return m->type;
}

const void *
iris_client_msg_body(const struct iris_client_msg *m, size_t *len)
{
	if (len != NULL)
		*len = m->len;
	return m->body;
}

uint64_t
iris_client_msg_time(const struct iris_client_msg *m)
{
	return m->time;
}

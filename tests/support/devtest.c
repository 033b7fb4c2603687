/* SPDX-License-Identifier: ISC */
/* Devices of users for system tests: see devtest.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>
#include <sodium.h>

#include "iris.h"
#include "iris_server.h"
#include "client/client.h"
#include "e2ee/e2ee.h"
#include "devtest.h"
#include "evloop.h"

#define CHECK(env, cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "devtest: ");				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		(env)->failures++;					\
	}								\
} while (0)

static void
on_identity(struct iris_client *c, const char *user, int event,
    uint32_t device, const uint8_t key[32], void *arg)
{
	struct dt_dev *d = arg;
	struct dt_ident *e;

	(void)c;
	if (d->nev < DT_EVENTS) {
		e = &d->ev[d->nev];
		snprintf(e->user, sizeof(e->user), "%s", user);
		e->event = event;
		e->device = device;
		memcpy(e->key, key, 32);
	}
	d->nev++;
}

static void
on_read(struct iris_client *c, const uint8_t id[16], const char *user,
    uint32_t device, uint64_t time_ms, void *arg)
{
	struct dt_dev *d = arg;
	struct dt_read *x;

	(void)c;
	if (d->nreads < DT_READS) {
		x = &d->reads[d->nreads];
		memcpy(x->id, id, 16);
		snprintf(x->user, sizeof(x->user), "%s", user);
		x->device = device;
		x->time = time_ms;
	}
	d->nreads++;
}

void
dt_open(struct dt_env *env, struct dt_dev *d, const char *user,
    const char *account)
{
	memset(d, 0, sizeof(*d));
	d->env = env;
	snprintf(d->user, sizeof(d->user), "%s", user);
	ct_rec_init(&d->r, account);
	d->c = ct_client(env->base, env->store, env->port, env->fp, user,
	    account, &d->r);
	if (d->c == NULL) {
		fprintf(stderr, "devtest: no client %s\n", account);
		exit(1);
	}
	iris_client_set_identity_cb(d->c, on_identity, d);
	iris_client_set_read_cb(d->c, on_read, d);
}

void
dt_register(struct dt_env *env, struct dt_dev *d, const char *user)
{
	struct ct_done done = { 0, 0 };

	dt_open(env, d, user, user);
	CHECK(env, iris_client_register(d->c, NULL, ct_done_cb, &done) ==
	    IRIS_OK, "register %s", user);
	CHECK(env, ct_wait_done(env->base, &done, DT_T) == IRIS_OK,
	    "register %s: %d %s", user, done.rc, iris_client_error(d->c));
}

uint32_t
dt_link(struct dt_env *env, struct dt_dev *d, struct dt_dev *primary,
    const char *account, uint8_t key[32])
{
	struct ct_done done = { 0, 0 };
	struct ct_token tk;
	uint32_t id = 0;

	memset(&tk, 0, sizeof(tk));
	CHECK(env, iris_client_link_token(primary->c, ct_token_cb, &tk) ==
	    IRIS_OK, "link token");
	CHECK(env, ct_wait_done(env->base, &tk.d, DT_T) == IRIS_OK,
	    "link token: %d", tk.d.rc);
	dt_open(env, d, primary->user, account);
	CHECK(env, iris_client_link(d->c, tk.token, ct_done_cb, &done) ==
	    IRIS_OK, "link");
	CHECK(env, ct_wait_done(env->base, &done, DT_T) == IRIS_OK,
	    "link %s: %d", account, done.rc);
	iris_client_user(d->c, &id);
	iris_client_identity(d->c, key);
	memset(&done, 0, sizeof(done));
	CHECK(env, iris_client_add_device(primary->c, id, key, ct_done_cb,
	    &done) == IRIS_OK, "add");
	CHECK(env, ct_wait_done(env->base, &done, DT_T) == IRIS_OK,
	    "add %s: %d", account, done.rc);
	return id;
}

void
dt_close(struct dt_dev *d)
{
	iris_client_free(d->c);
	d->c = NULL;
	ct_rec_free(&d->r);
}

void
dt_send(struct dt_dev *from, const char *to, const char *body,
    uint8_t *id)
{
	uint8_t tmp[16];

	CHECK(from->env, iris_client_send(from->c, to, 7, body, strlen(body),
	    id != NULL ? id : tmp) == IRIS_OK, "send %s: %s", body,
	    iris_client_error(from->c));
}

int
dt_has_body(const struct dt_dev *d, const char *body)
{
	size_t i;

	for (i = 0; i < d->r.nmsgs && i < CT_MSGS; i++)
		if (strcmp(d->r.msgs[i].body, body) == 0)
			return 1;
	return 0;
}

struct want {
	struct dt_dev	*d;
	const char	*body;
	size_t		 n;
};

static int
body_in(void *arg)
{
	struct want *w = arg;

	return dt_has_body(w->d, w->body);
}

static int
events_in(void *arg)
{
	struct want *w = arg;

	return w->d->nev >= w->n;
}

static int
errors_in(void *arg)
{
	struct want *w = arg;

	return w->d->r.errors >= w->n;
}

int
dt_wait_body(struct dt_dev *d, const char *body)
{
	struct want w = { d, body, 0 };

	return run_until(d->env->base, body_in, &w, DT_T);
}

int
dt_wait_events(struct dt_dev *d, size_t n)
{
	struct want w = { d, NULL, n };

	return run_until(d->env->base, events_in, &w, DT_T);
}

int
dt_wait_errors(struct dt_dev *d, size_t n)
{
	struct want w = { d, NULL, n };

	return run_until(d->env->base, errors_in, &w, DT_T);
}

int
dt_events(const struct dt_dev *d, const char *user, int event,
    uint32_t device, const uint8_t *key)
{
	size_t i;
	int n = 0;

	for (i = 0; i < d->nev && i < DT_EVENTS; i++)
		if (strcmp(d->ev[i].user, user) == 0 &&
		    d->ev[i].event == event && d->ev[i].device == device &&
		    (key == NULL || memcmp(d->ev[i].key, key, 32) == 0))
			n++;
	return n;
}

int
dt_session(struct dt_dev *d, const char *user, uint32_t device)
{
	uint8_t name[80];
	size_t ulen = strlen(user);
	struct iris_buf b;
	int rc;

	name[0] = 's';
	name[1] = (uint8_t)ulen;
	memcpy(name + 2, user, ulen);
	iris__e2ee_put32(name + 2 + ulen, device);
	iris__buf_init(&b, 0);
	rc = iris__seal_state_get(d->c, name, 2 + ulen + 4, &b);
	iris__buf_free(&b);
	return rc;
}

int
dt_stored_list(struct dt_dev *d, const char *user, struct iris_buf *out)
{
	uint8_t tag[IRIS_CS_TAG_LEN];

	iris__buf_reset(out);
	iris__cs_tag(d->c->cs, CS_D_USER, user, strlen(user), tag);
	return iris__cs_devlist_get(d->c->cs, d->c->acct, tag, out);
}

int
dt_make_list(iris_v1_SignedDeviceList *sl, const char *user,
    uint64_t version, const uint32_t *ids, const uint8_t (*keys)[32],
    size_t n, const uint8_t sk[64])
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[sizeof(IRIS__DEVLIST_PREFIX) - 1 + 4096];
	pb_ostream_t os;
	size_t i, plen = sizeof(IRIS__DEVLIST_PREFIX) - 1;

	memset(sl, 0, sizeof(*sl));
	dl.user.size = (pb_size_t)strlen(user);
	memcpy(dl.user.bytes, user, dl.user.size);
	dl.version = version;
	for (i = 0; i < n; i++) {
		dl.devices[i].device_id = ids[i];
		memcpy(dl.devices[i].identity_key, keys[i], 32);
	}
	dl.devices_count = (pb_size_t)n;
	os = pb_ostream_from_buffer(sl->list.bytes, sizeof(sl->list.bytes));
	if (!pb_encode(&os, iris_v1_DeviceList_fields, &dl))
		return IRIS_ETOOBIG;
	sl->list.size = (pb_size_t)os.bytes_written;
	memcpy(msg, IRIS__DEVLIST_PREFIX, plen);
	memcpy(msg + plen, sl->list.bytes, sl->list.size);
	crypto_sign_detached(sl->signature, NULL, msg, plen + sl->list.size,
	    sk);
	return IRIS_OK;
}

int
dt_env_up(struct dt_env *env, struct iris_engine **engp, const char *prog,
    int keyseed)
{
	struct iris_config *cfg;
	uint8_t key[32];
	int rc;

	if ((env->base = event_base_new()) == NULL ||
	    iris_config_new(&cfg) != IRIS_OK) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	iris_config_set(cfg, "data_dir", "data");
	iris_config_set(cfg, "listen", "127.0.0.1:0");
	iris_config_set(cfg, "registration", "open");
	rc = iris_engine_new(engp, env->base, cfg);
	iris_config_free(cfg);
	if (rc != IRIS_OK) {
		fprintf(stderr, "%s: no engine: %s\n", prog, iris_strerror(rc));
		return -1;
	}
	env->port = iris_engine_port(*engp, 0);
	iris_engine_fingerprint(*engp, env->fp, sizeof(env->fp));
	ct_key(key, keyseed);
	if ((rc = iris_client_store_open(&env->store, env->base, "client.db",
	    key, NULL)) != IRIS_OK) {
		fprintf(stderr, "%s: no client store: %s\n", prog,
		    iris_strerror(rc));
		return -1;
	}
	return 0;
}

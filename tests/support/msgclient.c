/* SPDX-License-Identifier: ISC */
/* Users with devices and messaging frames for tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>
#include <sodium.h>

#include "iris.h"
#include "util/alloc.h"
#include "msgclient.h"

int
mc_put_list(struct ac_conn *c, struct ac_dev *const *devs, int n, uint64_t v,
    const struct ac_dev *signer)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	struct iris_wire_msg m;
	iris_v1_SignedDeviceList *sl;
	uint8_t msg[15 + 4096];
	pb_ostream_t os;
	int i;

	dl.user.size = (pb_size_t)strlen(devs[0]->user);
	memcpy(dl.user.bytes, devs[0]->user, dl.user.size);
	dl.version = v;
	dl.devices_count = (pb_size_t)n;
	for (i = 0; i < n; i++) {
		dl.devices[i].device_id = devs[i]->id;
		memcpy(dl.devices[i].identity_key, devs[i]->pk, 32);
	}
	iris__wire_msg_init(&m);
	m.f.request_id = 5;
	m.f.which_body = iris_v1_Frame_device_list_put_tag;
	m.f.body.device_list_put.has_list = true;
	sl = &m.f.body.device_list_put.list;
	os = pb_ostream_from_buffer(sl->list.bytes, sizeof(sl->list.bytes));
	if (!pb_encode(&os, iris_v1_DeviceList_fields, &dl))
		return -3;
	sl->list.size = (pb_size_t)os.bytes_written;
	memcpy(msg, "IRIS-DEVLIST-v1", 15);
	memcpy(msg + 15, sl->list.bytes, sl->list.size);
	crypto_sign_detached(sl->signature, NULL, msg, 15 + sl->list.size,
	    signer->sk);
	return ac_ask(c, &m, NULL);
}

int
mc_user_list(struct mc_user *u, int n)
{
	struct ac_dev *devs[MC_DEVS];
	int i, rc;

	for (i = 0; i < n; i++)
		devs[i] = &u->dev[i];
	if ((rc = mc_put_list(&u->c[0], devs, n, u->version + 1,
	    &u->dev[0])) == 0)
		u->version++;
	return rc;
}

int
mc_user_add(struct mc_user *u, struct event_base *base, int port,
    const char *fp)
{
	struct iris_wire_msg m, *r;
	char link[80];
	int rc, i = u->n;

	if (i >= MC_DEVS)
		return -1;
	iris__wire_msg_init(&m);
	m.f.request_id = 8;
	m.f.which_body = iris_v1_Frame_link_token_create_tag;
	if ((rc = ac_ask(&u->c[0], &m, &r)) != 0)
		return rc;
	snprintf(link, sizeof(link), "%.*s",
	    (int)r->f.body.link_token.token.size,
	    (const char *)r->f.body.link_token.token.bytes);
	ac_dev_new(&u->dev[i], u->name);
	if (ac_open(&u->c[i], base, port, fp, NULL, 0) != 0)
		return -1;
	if ((rc = ac_register(&u->c[i], &u->dev[i], NULL, link, 0)) != 0)
		return rc;
	u->n++;
	return ac_login(&u->c[i], &u->dev[i], AC_SIGN, NULL);
}

int
mc_user_new(struct mc_user *u, const char *name, int ndev,
    struct event_base *base, int port, const char *fp, const char *invite)
{
	int rc;

	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	ac_dev_new(&u->dev[0], name);
	if (ac_open(&u->c[0], base, port, fp, NULL, 0) != 0)
		return -1;
	if ((rc = ac_register(&u->c[0], &u->dev[0], invite, NULL, 0)) != 0 ||
	    (rc = ac_login(&u->c[0], &u->dev[0], AC_SIGN, NULL)) != 0)
		return rc;
	u->n = 1;
	while (u->n < ndev)
		if ((rc = mc_user_add(u, base, port, fp)) != 0)
			return rc;
	return mc_user_list(u, u->n);
}

int
mc_relogin(struct mc_user *u, int i, struct event_base *base, int port,
    const char *fp)
{
	wc_close(&u->c[i].w);
	if (ac_open(&u->c[i], base, port, fp, NULL, 0) != 0)
		return -1;
	return ac_login(&u->c[i], &u->dev[i], AC_SIGN, NULL);
}

void
mc_user_close(struct mc_user *u)
{
	int i;

	for (i = 0; i < u->n; i++)
		wc_close(&u->c[i].w);
}

void
mc_send(struct iris_wire_msg *m, uint64_t rid, const uint8_t cmid[16],
    int msg_class, int transient)
{
	/* Of the 16 KiB body union only the Send is zeroed. */
	iris__wire_msg_init_body(m, iris_v1_Frame_send_tag);
	m->f.request_id = rid;
	memset(m->f.trace_id, 0x5e, sizeof(m->f.trace_id));
	m->f.trace_id[0] = (uint8_t)(rid >> 8);
	m->f.trace_id[1] = (uint8_t)rid;
	memcpy(m->f.body.send.client_msg_id, cmid, 16);
	m->f.body.send.class = (iris_v1_MsgClass)msg_class;
	m->f.body.send.transient = transient != 0;
}

int
mc_env(struct iris_wire_msg *m, const char *user, uint32_t device,
    const void *p, size_t len)
{
	struct iris_wire_envelope *e;
	uint8_t *copy;

	if ((e = iris__realloc(m->envs, (m->nenvs + 1) * sizeof(*e))) ==
	    NULL || (copy = malloc(len > 0 ? len : 1)) == NULL)
		return -1;
	m->envs = e;
	e = &m->envs[m->nenvs++];
	memset(e, 0, sizeof(*e));
	e->user.size = (pb_size_t)strlen(user);
	memcpy(e->user.bytes, user, e->user.size);
	e->device = device;
	memcpy(copy, p, len);
	e->payload.ptr = copy;
	e->payload.len = len;
	return 0;
}

int
mc_env_all(struct iris_wire_msg *m, struct mc_user *const *users,
    int nusers, const struct mc_user *from, int from_dev, const void *p,
    size_t len)
{
	int i, k;

	for (i = 0; i < nusers; i++)
		for (k = 0; k < users[i]->n; k++)
			if ((users[i] != from || k != from_dev) &&
			    mc_env(m, users[i]->name, users[i]->dev[k].id, p,
			    len) != 0)
				return -1;
	return 0;
}

void
mc_free(struct iris_wire_msg *m)
{
	size_t i;

	for (i = 0; i < m->nenvs; i++)
		free((void *)m->envs[i].payload.ptr);
	iris__wire_msg_reset(m);
}

void
mc_sync(struct iris_wire_msg *m, uint64_t rid, uint64_t after, uint32_t max)
{
	iris__wire_msg_init(m);
	m->f.request_id = rid;
	m->f.which_body = iris_v1_Frame_sync_request_tag;
	m->f.body.sync_request.after_seq = after;
	m->f.body.sync_request.max = max;
}

void
mc_ack(struct iris_wire_msg *m, uint64_t rid, uint64_t seq)
{
	iris__wire_msg_init_body(m, iris_v1_Frame_ack_tag);
	m->f.request_id = rid;
	m->f.body.ack.seq = seq;
}

const uint8_t *
mc_payload(const struct iris_wire_msg *m, size_t item, size_t *len)
{
	if (m->f.which_body == iris_v1_Frame_deliver_tag) {
		*len = m->envelope.len;
		return m->f.body.deliver.has_receipt ? NULL : m->envelope.ptr;
	}
	if (m->f.which_body == iris_v1_Frame_sync_page_tag &&
	    item < m->nitems) {
		*len = m->items[item].envelope.len;
		return m->items[item].pb.has_receipt ? NULL :
		    m->items[item].envelope.ptr;
	}
	*len = 0;
	return NULL;
}

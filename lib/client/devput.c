/* SPDX-License-Identifier: ISC */
/*
 * The own device list, which the primary device signs over
 * "IRIS-DEVLIST-v1" || the encoded list: version 1 naming itself right
 * after registration, later versions adding a device (whose id and key
 * the embedder brought from it) or removing one. Each put is answered
 * once the server has stored it, and the new list is then the one the
 * outbox seals for.
 */
#include <string.h>

#include <pb_encode.h>
#include <sodium.h>

#include "iris.h"
#include "client/client.h"
#include "util/alloc.h"
#include "util/clock.h"

/* A signed own list being put. */
struct put {
	struct devlist		 l;
	iris_v1_SignedDeviceList sl;
	iris_client_done_cb	 cb;
	void			*arg;
	int			 first;		/* version 1, at registration */
};

void
iris__devlist_put_answer(struct iris_client *c, struct creq *r,
    struct iris_wire_msg *m)
{
	struct put *p = r->ctx;
	int rc = IRIS_OK, changed;
	struct devlist *l;

	if (m->f.which_body == iris_v1_Frame_error_tag)
		rc = m->f.body.error.code == iris_v1_ErrorCode_ERR_NONE ?
		    IRIS_ECLOSED : iris__wire_to_iris(m->f.body.error.code);
	if (rc == IRIS_OK) {
		rc = iris__devlist_accept(c, c->user, &p->sl, &l, &changed);
		if (rc == IRIS_OK)
			iris__outbox_lists(c, c->user, IRIS_OK, changed);
	} else if (rc == IRIS_ESTALE)
		/* Someone put a newer one: learn it; the caller may retry. */
		(void)iris__devlist_fetch(c, c->user);
	if (p->cb != NULL)
		iris__client_done_event(c, p->cb, p->arg, rc);
	if (p->first)
		iris__auth_listed(c, rc);
	iris__free(p);
}

/* Signs and puts the own list with add (and key) added, remove removed. */
static int
put_list(struct iris_client *c, const struct devlist *base, uint32_t add,
    const uint8_t *key, uint32_t remove, iris_client_done_cb cb,
    void *arg, int first)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t msg[sizeof(IRIS__DEVLIST_PREFIX) - 1 + 4096];
	struct iris_wire_msg m;
	struct put *p;
	struct creq *r;
	pb_ostream_t os;
	size_t i;

	if ((p = iris__calloc(1, sizeof(*p))) == NULL)
		return IRIS_ENOMEM;
	dl.user.size = (pb_size_t)strlen(c->user);
	memcpy(dl.user.bytes, c->user, dl.user.size);
	dl.version = base != NULL ? base->version + 1 : 1;
	for (i = 0; base != NULL && i < base->n; i++) {
		if (base->ids[i] == remove || base->ids[i] == add)
			continue;
		dl.devices[dl.devices_count].device_id = base->ids[i];
		memcpy(dl.devices[dl.devices_count].identity_key,
		    base->keys[i], 32);
		dl.devices_count++;
	}
	if (add != 0 && dl.devices_count < IRIS_DEVICES_MAX) {
		dl.devices[dl.devices_count].device_id = add;
		memcpy(dl.devices[dl.devices_count].identity_key, key, 32);
		dl.devices[dl.devices_count].added_ms =
		    iris__clock_realtime_ms(NULL);
		dl.devices_count++;
	}
	os = pb_ostream_from_buffer(p->sl.list.bytes, sizeof(p->sl.list.bytes));
	if (!pb_encode(&os, iris_v1_DeviceList_fields, &dl)) {
		iris__free(p);
		return IRIS_ETOOBIG;
	}
	p->sl.list.size = (pb_size_t)os.bytes_written;
	memcpy(msg, IRIS__DEVLIST_PREFIX, sizeof(IRIS__DEVLIST_PREFIX) - 1);
	memcpy(msg + sizeof(IRIS__DEVLIST_PREFIX) - 1, p->sl.list.bytes,
	    p->sl.list.size);
	crypto_sign_detached(p->sl.signature, NULL, msg,
	    sizeof(IRIS__DEVLIST_PREFIX) - 1 + p->sl.list.size, c->sk);
	p->cb = cb;
	p->arg = arg;
	p->first = first;
	iris__wire_msg_init(&m);
	m.f.which_body = iris_v1_Frame_device_list_put_tag;
	m.f.body.device_list_put.has_list = true;
	m.f.body.device_list_put.list = p->sl;
	if ((r = iris__conn_req(c, RQ_DEVLIST_PUT, &m)) == NULL) {
		iris__free(p);
		return IRIS_EAGAIN;
	}
	r->ctx = p;
	if (iris__conn_send(c, &m) != IRIS_OK) {
		iris__conn_req_free(c, r);
		iris__free(p);
		return IRIS_EAGAIN;
	}
	return IRIS_OK;
}

/* What the own list says after a login's fetch. */
void
iris__devlist_own_seen(struct iris_client *c, struct devlist *l, int lost)
{
	int rc;

	c->own_fetching = 0;
	if (lost)
		return;
	if (l == NULL && c->primary) {
		/* A new primary: sign version 1, naming itself. */
		if ((rc = put_list(c, NULL, c->device, c->pk, 0, NULL, NULL,
		    1)) != IRIS_OK)
			iris__auth_listed(c, rc);
		return;
	}
	if (c->registering)
		iris__auth_listed(c, l != NULL ? IRIS_OK : IRIS_ENOTFOUND);
	if (l != NULL && !c->listed)
		iris__log(&c->log, IRIS_LOG_NOTICE, "client %s/%u: not in the "
		    "user's device list yet; the primary device adds it",
		    c->user, c->device);
}

int
iris__devlist_put_own(struct iris_client *c, uint32_t add,
    const uint8_t *key, uint32_t remove, iris_client_done_cb cb, void *arg)
{
	struct devlist *own;

	if (!iris__conn_is_online(c))
		return IRIS_ESTATE;
	if (!c->primary) {
		iris__client_seterr(c, "only the primary device signs the "
		    "device list");
		return IRIS_EDENIED;
	}
	if ((own = iris__devlist_find(c, c->user)) == NULL) {
		iris__client_seterr(c, "the own device list is not known yet");
		return IRIS_ESTATE;
	}
	return put_list(c, own, add, key, remove, cb, arg, 0);
}

int
iris_client_add_device(struct iris_client *c, uint32_t device,
    const uint8_t key[32], iris_client_done_cb cb, void *arg)
{
	if (c == NULL || device == 0 || key == NULL)
		return IRIS_EINVAL;
	return iris__devlist_put_own(c, device, key, 0, cb, arg);
}

int
iris_client_remove_device(struct iris_client *c, uint32_t device,
    iris_client_done_cb cb, void *arg)
{
	if (c == NULL || device == 0)
		return IRIS_EINVAL;
	if (device == IRIS_CLIENT_PRIMARY) {
		iris__client_seterr(c, "the primary device cannot be removed");
		return IRIS_EINVAL;
	}
	return iris__devlist_put_own(c, 0, NULL, device, cb, arg);
}


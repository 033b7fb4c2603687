/* SPDX-License-Identifier: ISC */
/*
 * The core: requests from the bus handed to their service, answers and
 * refusals, the requests waiting on the store, the cache of device lists
 * the send check reads, and the overload level that decides shedding.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <pb_decode.h>

#include "iris.h"
#include "core/core_priv.h"
#include "store/accounts.h"
#include "util/alloc.h"
#include "util/clock.h"

#define TICK_MS		100

struct core_op *
iris__core_op_new(struct iris_core *core, struct iris_bus_req *req)
{
	struct core_op *op;

	if ((op = iris__calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->core = core;
	op->req = req;
	op->next = core->ops;
	if (op->next != NULL)
		op->next->prev = op;
	core->ops = op;
	core->nops++;
	return op;
}

void
iris__core_op_free(struct core_op *op)
{
	struct iris_core *core = op->core;

	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		core->ops = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	core->nops--;
	iris__free(op);
}

void
iris__core_op_reply(struct core_op *op)
{
	struct iris_bus_req *req = op->req;

	iris__core_op_free(op);
	iris__bus_reply(req);
}

void
iris__core_refuse(struct iris_core *core, struct iris_bus_req *req,
    int code, uint32_t retry_ms, const char *detail)
{
	(void)core;
	req->rep.code = code;
	req->rep.retry_ms = retry_ms;
	snprintf(req->rep.detail, sizeof(req->rep.detail), "%s",
	    detail != NULL ? detail : "");
	iris__bus_reply(req);
}

void
iris__core_store_error(struct iris_core *core, struct iris_bus_req *req,
    int rc)
{
	switch (rc) {
	case IRIS_EAGAIN:
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "the store's write queue is full");
		break;
	case IRIS_ESTORE:
	case IRIS_ESHUTDOWN:
		iris__core_refuse(core, req,
		    iris_v1_ErrorCode_ERR_STORE_UNAVAILABLE, 1000,
		    "the store is not writable");
		break;
	case IRIS_ENOMEM:
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_OVERLOADED,
		    100, "out of memory");
		break;
	default:
		iris__core_refuse(core, req, iris_v1_ErrorCode_ERR_INTERNAL, 0,
		    iris_strerror(rc));
		break;
	}
}

int
iris__core_encode(struct iris_wire_msg *m, uint8_t **buf, size_t *len)
{
	size_t cap = 0;

	*buf = NULL;
	*len = 0;
	return iris__core_encode_append(m, buf, len, &cap);
}

int
iris__core_encode_append(struct iris_wire_msg *m, uint8_t **buf,
    size_t *len, size_t *cap)
{
	size_t need, n;
	uint8_t *p;
	int rc;

	/* Into the room there is, when there is some: one encoding pass
	 * instead of sizing and encoding (each costs the same in nanopb). */
	if (*cap == 0) {	/* the size a first frame would get anyway */
		if ((p = iris__realloc(*buf, 4096)) == NULL)
			return IRIS_ENOMEM;
		*buf = p;
		*cap = 4096;
	}
	if (*cap - *len >= 1024) {
		rc = iris__wire_encode(m, *buf + *len, *cap - *len, &n);
		if (rc == IRIS_OK)
			*len += n;
		if (rc != IRIS_ETOOBIG)
			return rc;
	}
	if ((rc = iris__wire_size(m, &need)) != IRIS_OK)
		return rc;
	if (*len + need > *cap) {
		n = *cap != 0 ? *cap : 4096;
		while (n < *len + need)
			n *= 2;
		if ((p = iris__realloc(*buf, n)) == NULL)
			return IRIS_ENOMEM;
		*buf = p;
		*cap = n;
	}
	if ((rc = iris__wire_encode(m, *buf + *len, *cap - *len, &n)) !=
	    IRIS_OK)
		return rc;
	*len += n;
	return IRIS_OK;
}

void
iris__core_trace(const struct iris_bus_caller *from, char out[33])
{
	static const uint8_t zero[16];

	if (memcmp(from->trace, zero, sizeof(zero)) == 0)
		strcpy(out, "-");
	else
		iris__hex(out, 33, from->trace, 16);
}

static void
acct_back(struct iris_acct_job *j, void *arg)
{
	struct core_op *op = arg;

	op->acct_done(op, j);
}

int
iris__core_acct_submit(struct iris_core *core, struct iris_bus_req *req,
    struct iris_acct_job *j, core_acct_done done)
{
	struct core_op *op;
	int rc;

	if ((op = iris__core_op_new(core, req)) == NULL) {
		iris__free(j);
		return IRIS_ENOMEM;
	}
	op->acct_done = done;
	j->cb = acct_back;
	j->arg = op;
	j->drop = NULL;		/* the core frees its ops itself */
	if ((rc = iris__acct_submit(core->store, j)) != IRIS_OK)
		iris__core_op_free(op);		/* j was freed */
	return rc;
}

/* The first slot of the user's set. */
static struct dl_slot *
set_of(struct iris_core *core, const char *user)
{
	return &core->dl[iris__bus_hash(core->bus, user, 0) %
	    (DL_SLOTS / DL_WAYS) * DL_WAYS];
}

/* Fills info from the store: the account, then its signed list. */
static int
devinfo_load(struct iris_core *core, const char *user, struct devinfo *info)
{
	iris_v1_DeviceList dl = iris_v1_DeviceList_init_zero;
	uint8_t list[IRIS_LIST_MAX], sig[IRIS_SIG_LEN];
	pb_istream_t in;
	size_t len;
	pb_size_t i;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = iris__acct_user(core->store, user, NULL);
	if (rc == IRIS_ENOTFOUND)
		return IRIS_OK;
	if (rc != IRIS_OK)
		return rc;
	info->exists = 1;
	rc = iris__acct_devlist(core->store, user, &info->version, list, &len,
	    sig);
	if (rc == IRIS_ENOTFOUND)
		return IRIS_OK;
	if (rc != IRIS_OK)
		return rc;
	in = pb_istream_from_buffer(list, len);
	if (!pb_decode(&in, iris_v1_DeviceList_fields, &dl))
		return IRIS_ECORRUPT;	/* it was checked when stored */
	info->has_list = 1;
	for (i = 0; i < dl.devices_count && i < IRIS_DEVICES_MAX; i++)
		info->dev[info->ndev++] = dl.devices[i].device_id;
	return IRIS_OK;
}

const struct devinfo *
iris__core_devinfo(struct iris_core *core, const char *user, int *rc)
{
	struct dl_slot *set = set_of(core, user), *sl = NULL;
	int w;

	*rc = IRIS_OK;
	for (w = 0; w < DL_WAYS; w++)
		if (set[w].valid && strcmp(set[w].user, user) == 0) {
			set[w].used = ++core->dl_clock;
			return &set[w].info;
		}
	/* An empty way, else the least recently used. */
	for (w = 0; w < DL_WAYS; w++) {
		if (!set[w].valid) {
			sl = &set[w];
			break;
		}
		if (sl == NULL || set[w].used < sl->used)
			sl = &set[w];
	}
	sl->valid = 0;
	if ((*rc = devinfo_load(core, user, &sl->info)) != IRIS_OK)
		return NULL;
	snprintf(sl->user, sizeof(sl->user), "%s", user);
	sl->valid = 1;
	sl->used = ++core->dl_clock;
	return &sl->info;
}

void
iris__core_devinfo_forget(struct iris_core *core, const char *user)
{
	struct dl_slot *set = set_of(core, user);
	int w;

	for (w = 0; w < DL_WAYS; w++)
		if (strcmp(set[w].user, user) == 0)
			set[w].valid = 0;
}

/* Requests from the bus, each to its service. */
static void
handle(struct iris_bus_req *req, void *arg)
{
	struct iris_core *core = arg;

	switch (req->op) {
	case IRIS_BUS_SEND:
		iris__core_send(core, req);
		break;
	case IRIS_BUS_ACK:
		iris__core_ack(core, req);
		break;
	case IRIS_BUS_SYNC:
		iris__core_sync(core, req, 0);
		break;
	case IRIS_BUS_FETCH:
		iris__core_sync(core, req, 1);
		break;
	case IRIS_BUS_ONLINE:
		iris__core_keys_online(core, req);
		iris__core_presence(core, req);
		break;
	case IRIS_BUS_PRESENCE_SUB:
	case IRIS_BUS_PRESENCE_UNSUB:
	case IRIS_BUS_SETTINGS:
	case IRIS_BUS_CONTACTS_GET:
	case IRIS_BUS_CONTACTS_EDIT:
	case IRIS_BUS_OFFLINE:
		iris__core_presence(core, req);
		break;
	case IRIS_BUS_KEYS_UPLOAD:
	case IRIS_BUS_KEYS_FETCH:
		iris__core_keys(core, req);
		break;
	case IRIS_BUS_REGISTER:
	case IRIS_BUS_LINK:
	case IRIS_BUS_INVITE:
	case IRIS_BUS_REVOKE:
	case IRIS_BUS_DISABLE:
	case IRIS_BUS_DEVLIST_PUT:
		iris__core_account(core, req);
		break;
	default:
		iris__core_refuse(core, req,
		    iris_v1_ErrorCode_ERR_UNIMPLEMENTED,
		    0, "no such core service");
		break;
	}
}

int
iris__core_overload(struct iris_core *core)
{
	uint64_t q = 0;

	if (core->forced >= 0)
		return core->forced;
	iris_store_stat(core->store, "queued", &q);
	core->level = q >= 4 * core->shed_at ? 3 : q >= 2 * core->shed_at ?
	    2 : q >= core->shed_at ? 1 : 0;
	return core->level;
}

void
iris__core_force_overload(struct iris_core *core, int level)
{
	core->forced = level < 0 ? -1 : level > 3 ? 3 : level;
}

void
iris__core_set_clock(struct iris_core *core, uint64_t (*now_ms)(void *arg),
    void *arg)
{
	core->now_ms = now_ms != NULL ? now_ms : iris__clock_realtime_ms;
	core->now_arg = now_ms != NULL ? arg : NULL;
}

/* Presence held back under load is told once the load has passed. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct iris_core *core = arg;

	(void)fd, (void)what;
	if (core->dirty > 0 && iris__core_overload(core) < 2)
		iris__core_presence_tick(core);
}

static void
limits(struct iris_core *core)
{
	const struct iris_config *c = core->cfg;
	size_t cap = iris__config_uint(c, IRIS__OPT_OUTPUT_CAP) / 2;

	iris__wire_limits_config(&core->lim, c);
	core->max_devices = (uint32_t)iris__config_uint(c,
	    IRIS__OPT_MAX_DEVICES_PER_USER);
	/* A page fits a frame and half a connection's output queue. */
	core->page_bytes = iris__wire_max_frame(&core->lim) - 4096;
	if (core->page_bytes > cap)
		core->page_bytes = cap;
	core->shed_at = iris__config_uint(c, IRIS__OPT_SHED_AT);
	core->max_subs = (uint32_t)iris__config_uint(c,
	    IRIS__OPT_MAX_PRESENCE_SUBS);
	core->max_contacts = (uint32_t)iris__config_uint(c,
	    IRIS__OPT_MAX_CONTACTS);
	core->max_prekeys = (uint32_t)iris__config_uint(c,
	    IRIS__OPT_MAX_PREKEYS);
	core->prekey_low = (uint32_t)iris__config_uint(c,
	    IRIS__OPT_PREKEY_LOW);
	core->spk_grace_ms = iris__config_uint(c,
	    IRIS__OPT_SIGNED_PREKEY_GRACE);
}

int
iris__core_new(struct iris_core **corep, struct event_base *base,
    const struct iris_config *cfg, struct iris_store *store,
    struct iris_bus *bus)
{
	struct timeval tv = { 0, TICK_MS * 1000 };
	struct iris_core *core;

	*corep = NULL;
	if ((core = iris__calloc(1, sizeof(*core))) == NULL)
		return IRIS_ENOMEM;
	core->base = base;
	core->store = store;
	core->bus = bus;
	core->forced = -1;
	core->now_ms = iris__clock_realtime_ms;
	iris__hmap_init(&core->senders);
	iris__hmap_init(&core->presence);
	iris__hmap_init(&core->watchers);
	if (iris__config_dup(&core->cfg, cfg) != IRIS_OK ||
	    (core->dl = iris__calloc(DL_SLOTS, sizeof(*core->dl))) == NULL ||
	    (core->tick = event_new(base, -1, EV_PERSIST, on_tick, core)) ==
	    NULL || event_add(core->tick, &tv) != 0) {
		iris__core_free(core);
		return IRIS_ENOMEM;
	}
	core->log = *iris__config_logger(core->cfg);
	limits(core);
	iris__bus_set_core(bus, handle, core);
	*corep = core;
	return IRIS_OK;
}

int
iris__core_reconfigure(struct iris_core *core, const struct iris_config *cfg)
{
	struct iris_config *copy;
	int rc;

	if ((rc = iris__config_dup(&copy, cfg)) != IRIS_OK)
		return rc;
	iris_config_free(core->cfg);
	core->cfg = copy;
	core->log = *iris__config_logger(core->cfg);
	limits(core);
	return IRIS_OK;
}

void
iris__core_free(struct iris_core *core)
{
	struct core_op *op;

	if (core == NULL)
		return;
	/* What waits on the store never hears back: the store was closed
	 * first, or is closed without delivering. */
	while ((op = core->ops) != NULL) {
		iris__bus_req_free(op->req);
		iris__free(op->data);
		iris__core_op_free(op);
	}
	iris__core_senders_free(core);
	iris__core_presence_free(core);
	if (core->tick != NULL)
		event_free(core->tick);
	iris__free(core->dl);
	iris_config_free(core->cfg);
	iris__free(core);
}

const struct iris_core_stats *
iris__core_stats(const struct iris_core *core)
{
	return &core->st;
}

size_t
iris__core_pending(const struct iris_core *core)
{
	return core->nops;
}

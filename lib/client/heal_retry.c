/* SPDX-License-Identifier: ISC */
/*
 * Self-healing, the sending side (heal.h): every send remembered for a
 * while, retry requests made and answered. A retry request's content
 * (IRIS__CONTENT_RETRY) is u8 version (1) | cmid[16] of the message that
 * did not open | u32 the device that sent it | u8 cause. It is sealed
 * without a session (seal.h) and goes like any message to every device
 * of that device's user (the server wants the whole set); only the
 * device it names answers, at most HEAL_RESENDS_MIN times a minute for
 * one device, resetting the session at most once a minute.
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "client/client.h"
#include "client/heal.h"
#include "util/alloc.h"
#include "util/clock.h"

#define SENT_VERSION	1
#define RING_VERSION	1
#define RETRY_VERSION	1
#define RETRY_LEN	(1 + 16 + 4 + 1)
#define NCHUNKS		(HEAL_SENT_MAX / HEAL_CHUNK)

static const uint8_t zero16[16];

static size_t
sent_name(uint8_t name[18], const uint8_t cmid[16])
{
	name[0] = 'h';
	name[1] = 'r';
	memcpy(name + 2, cmid, 16);
	return 18;
}

/* Which sends are remembered, as the store has them. */
static int
ring_load(struct iris_client *c)
{
	struct heal *h = c->heal;
	struct iris_buf b;
	struct iris_rd r;
	uint8_t name[3] = { 'h', 'i', 0 };
	uint64_t pos;
	size_t i;
	int rc = IRIS_OK;

	if (h->ring_loaded)
		return IRIS_OK;
	if (h->ring == NULL && (h->ring = iris__calloc(HEAL_SENT_MAX,
	    16)) == NULL)
		return IRIS_ENOMEM;
	memset(h->ring, 0, HEAL_SENT_MAX * 16);
	h->ring_pos = 0;
	iris__buf_init(&b, 0);
	for (i = 0; i < NCHUNKS && rc == IRIS_OK; i++) {
		name[2] = (uint8_t)i;
		if ((rc = iris__seal_state_get(c, name, 3, &b)) ==
		    IRIS_ENOTFOUND) {
			rc = IRIS_OK;
			continue;
		}
		if (rc != IRIS_OK)
			break;
		iris__rd_init(&r, b.p, b.len);
		if (iris__rd_u8(&r) != RING_VERSION) {
			rc = IRIS_ECORRUPT;
			break;
		}
		pos = iris__rd_u64(&r);
		iris__rd_copy(&r, h->ring[i * HEAL_CHUNK], HEAL_CHUNK * 16);
		if (iris__rd_done(&r) != IRIS_OK)
			rc = IRIS_ECORRUPT;
		else if (pos > h->ring_pos)
			h->ring_pos = pos;
	}
	iris__buf_free(&b);
	if (rc == IRIS_OK)
		h->ring_loaded = 1;
	return rc;
}

int
iris__heal_remember(struct iris_client *c, struct iris_cs_txn *txn,
    const uint8_t cmid[16], const char *to, uint32_t type,
    const uint8_t *of, const void *body, size_t len)
{
	struct heal *h = c->heal;
	struct iris_buf b;
	uint8_t name[18], chunk[3] = { 'h', 'i', 0 };
	size_t slot, first;
	int rc;

	if ((rc = ring_load(c)) != IRIS_OK)
		return rc;
	slot = (size_t)(h->ring_pos % HEAL_SENT_MAX);
	iris__buf_init(&b, 0);
	/* The oldest remembered goes. */
	if (memcmp(h->ring[slot], zero16, 16) != 0)
		rc = iris__seal_state_del(c, txn, name, sent_name(name,
		    h->ring[slot]));
	iris__buf_u8(&b, SENT_VERSION);
	iris__buf_u64(&b, iris__clock_realtime_ms(NULL));
	iris__buf_str8(&b, to, strlen(to));
	iris__buf_u32(&b, type);
	iris__buf_u8(&b, of != NULL ? 1 : 0);
	if (of != NULL)
		iris__buf_put(&b, of, 16);
	iris__buf_bytes32(&b, body, len);
	if (rc == IRIS_OK)
		rc = b.err != 0 ? b.err : iris__seal_state_put(c, txn, name,
		    sent_name(name, cmid), b.p, b.len);
	if (rc == IRIS_OK) {
		memcpy(h->ring[slot], cmid, 16);
		h->ring_pos++;
		first = slot - slot % HEAL_CHUNK;
		chunk[2] = (uint8_t)(slot / HEAL_CHUNK);
		iris__buf_reset(&b);
		iris__buf_u8(&b, RING_VERSION);
		iris__buf_u64(&b, h->ring_pos);
		iris__buf_put(&b, h->ring[first], HEAL_CHUNK * 16);
		rc = b.err != 0 ? b.err : iris__seal_state_put(c, txn, chunk,
		    3, b.p, b.len);
	}
	if (rc != IRIS_OK)
		h->ring_loaded = 0;
	iris__buf_free(&b);
	return rc;
}

int
iris__heal_ask(struct iris_client *c, const char *user, uint32_t device,
    const uint8_t cmid[16], int cause)
{
	struct iris__send_req rq;
	uint8_t body[RETRY_LEN], id[16];
	int rc;

	body[0] = RETRY_VERSION;
	memcpy(body + 1, cmid, 16);
	body[17] = (uint8_t)(device >> 24);
	body[18] = (uint8_t)(device >> 16);
	body[19] = (uint8_t)(device >> 8);
	body[20] = (uint8_t)device;
	body[21] = (uint8_t)cause;
	memset(&rq, 0, sizeof(rq));
	rq.to = user;
	rq.kind = IRIS__CONTENT_RETRY;
	rq.body = body;
	rq.len = sizeof(body);
	if ((rc = iris__send_internal(c, &rq, id)) == IRIS_OK)
		c->heal->st.retries_sent++;
	else
		iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: a retry "
		    "request to %s/%u is not queued: %s", c->user, user,
		    device, iris_strerror(rc));
	return rc;
}

/* Whether user's verified device list names device. */
static int
listed(struct iris_client *c, const char *user, uint32_t device)
{
	struct devlist *l = iris__devlist_find(c, user);
	size_t i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (l->ids[i] == device)
			return 1;
	if (l == NULL)
		(void)iris__devlist_fetch(c, user);
	return 0;
}

/* At most one session reset a minute per device. */
static int
reset_allowed(struct heal_peer *p, uint64_t now)
{
	if (p->reset_ms != 0 && now < p->reset_ms + HEAL_RESET_MS)
		return 0;
	p->reset_ms = now != 0 ? now : 1;
	return 1;
}

/* At most HEAL_RESENDS_MIN resends a minute to one device. */
static int
resend_allowed(struct heal_peer *p, uint64_t now)
{
	if (p->win_ms == 0 || now >= p->win_ms + 60 * 1000) {
		p->win_ms = now != 0 ? now : 1;
		p->win_n = 0;
	}
	if (p->win_n >= HEAL_RESENDS_MIN)
		return 0;
	p->win_n++;
	return 1;
}

int
iris__heal_answer(struct iris_client *c, const char *user, uint32_t device,
    const uint8_t *body, size_t len)
{
	struct heal *h = c->heal;
	struct heal_peer *p;
	struct iris__send_req rq;
	struct iris_buf rec;
	struct iris_rd r;
	const uint8_t *of = NULL, *content;
	char to[IRIS_USER_MAX + 1];
	uint8_t name[18], id[16];
	uint64_t ms;
	uint32_t type;
	size_t clen;
	int rc;

	if (len != RETRY_LEN || body[0] != RETRY_VERSION)
		return IRIS_EPROTO;
	if (((uint32_t)body[17] << 24 | (uint32_t)body[18] << 16 |
	    (uint32_t)body[19] << 8 | body[20]) != c->device)
		return IRIS_OK;		/* for another device of ours */
	h->st.retries_received++;
	/* From the recipient's device list (or our own), verified. */
	if (!listed(c, user, device)) {
		h->st.retries_refused++;
		iris__log(&c->log, IRIS_LOG_NOTICE, "client %s: a retry request "
		    "from %s/%u, not a listed device, is refused", c->user,
		    user, device);
		return IRIS_EDENIED;
	}
	iris__buf_init(&rec, 0);
	rc = iris__seal_state_get(c, name, sent_name(name, body + 1), &rec);
	iris__rd_init(&r, rec.p, rec.len);
	if (rc == IRIS_OK) {
		rc = iris__rd_u8(&r) == SENT_VERSION ? IRIS_OK :
		    IRIS_ECORRUPT;
		ms = iris__rd_u64(&r);
		iris__rd_str8(&r, to, sizeof(to));
		type = iris__rd_u32(&r);
		if (iris__rd_u8(&r) != 0)
			of = iris__rd_slice(&r, 16);
		content = iris__rd_bytes32(&r, &clen, IRIS_CLIENT_BODY_MAX);
		if (rc == IRIS_OK && iris__rd_done(&r) != IRIS_OK)
			rc = IRIS_ECORRUPT;
		if (rc == IRIS_OK && ms + HEAL_KEEP_MS <
		    iris__clock_realtime_ms(NULL))
			rc = IRIS_ENOTFOUND;	/* too old to send again */
	}
	if (rc != IRIS_OK) {
		h->st.retries_unknown++;
		iris__buf_free(&rec);
		return IRIS_ENOTFOUND;
	}
	/* Only a device the send went to may have it again. */
	if (strcmp(to, user) != 0 && strcmp(user, c->user) != 0) {
		h->st.retries_refused++;
		iris__buf_free(&rec);
		return IRIS_EDENIED;
	}
	p = iris__heal_peer(c, user, device);
	if (!resend_allowed(p, iris__client_now(c))) {
		h->st.resends_limited++;
		iris__buf_free(&rec);
		return IRIS_ELIMIT;
	}
	memset(&rq, 0, sizeof(rq));
	rq.to = to;
	rq.kind = IRIS__CONTENT_MESSAGE;
	rq.type = type;
	rq.body = content != NULL ? content : (const uint8_t *)"";
	rq.len = clen;
	rq.of = of != NULL ? of : body + 1;
	if (reset_allowed(p, iris__client_now(c))) {
		rq.forget_user = user;
		rq.forget_device = device;
	} else
		h->st.resets_limited++;
	if ((rc = iris__send_internal(c, &rq, id)) == IRIS_OK) {
		h->st.resends++;
		if (rq.forget_user != NULL)
			h->st.sessions_reset++;
	}
	iris__buf_free(&rec);
	return rc;
}

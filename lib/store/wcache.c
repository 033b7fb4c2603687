/* SPDX-License-Identifier: ISC */
/*
 * The writer thread's cache of inboxes: (user, device) -> box id, head
 * and cursor, as in the writer's own transaction, so a send or an ack
 * needs no SELECT of its boxes row and a batch writes each row it changed
 * once, just before its COMMIT (iris__wcache_flush), instead of one
 * UPDATE per message and per ack. The writer is the only one that writes
 * head_seq and acked_seq, so an entry is exact while it is held: it is
 * filled from the file on a miss, changed only with the statements that
 * change the file, written back before its slot is taken by another box,
 * and the whole cache is dropped when a batch fails (the rollback, or a
 * COMMIT of unknown outcome, leaves the file as the truth). Pruning
 * writes pruned_seq only, which is not held here.
 *
 * The per-user receipts setting read by every ack is held too, one entry
 * per slot, forgotten when the writer updates the account's settings and
 * with the rest on a failed batch; a user without an account row is not
 * held (its row, made later, starts with receipts on).
 *
 * Without memory for the table, every call goes to the file (the same
 * statements, written through).
 */
#include <stdio.h>
#include <string.h>

#include "iris.h"
#include "store/store.h"
#include "util/alloc.h"

#define WBOX_SETS	4096	/* a power of two; two ways each */
#define WBOX_DIRTY	1024	/* rows written back at once when full */
#define WRCPT_SLOTS	1024	/* a power of two */

struct wbox {
	char		 user[65];	/* "" : a free slot */
	uint8_t		 dirty;		/* head/acked not in the file yet */
	uint32_t	 device;
	int64_t		 id;
	uint64_t	 head;
	uint64_t	 acked;
	uint64_t	 file_acked;	/* acked as in the file */
};

struct wrcpt {
	char		 user[65];	/* "" : a free slot */
	uint8_t		 on;
};

struct iris__wcache {
	struct wbox	 box[WBOX_SETS][2];
	uint8_t		 older[WBOX_SETS];	/* the way to give up next */
	struct wbox	*dirty[WBOX_DIRTY];	/* may repeat; see flush */
	size_t		 ndirty;
	struct wrcpt	 rcpt[WRCPT_SLOTS];
};

static uint32_t
hash_of(const char *user, uint32_t device)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ device) * 16777619u;
	return h ^ h >> 15;
}

static struct iris__wcache *
cache_of(struct iris_store *s)
{
	if (s->wcache == NULL && !s->wcache_failed &&
	    (s->wcache = iris__calloc(1, sizeof(*s->wcache))) == NULL)
		s->wcache_failed = 1;	/* write through from now on */
	return s->wcache;
}

/* The file's row of a box written from an entry; the head alone when
 * the cursor did not move. */
static int
write_row(struct iris_store *s, int64_t id, uint64_t head, uint64_t acked,
    int acked_moved)
{
	sqlite3_stmt *st = s->ws[acked_moved ? WS_BOX_SET : WS_BOX_HEAD];

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)head);
	if (acked_moved)
		sqlite3_bind_int64(st, 3, (int64_t)acked);
	return iris__store_step_done(s, st, "writing an inbox's positions");
}

static int
write_back(struct iris_store *s, struct wbox *e)
{
	int rc;

	if (!e->dirty)
		return IRIS_OK;
	if ((rc = write_row(s, e->id, e->head, e->acked,
	    e->acked != e->file_acked)) != IRIS_OK)
		return rc;
	e->file_acked = e->acked;
	e->dirty = 0;
	return IRIS_OK;
}

/* The entry of (user, device), or NULL; *way: the slot it would take. */
static struct wbox *
find(struct iris__wcache *c, const char *user, uint32_t device,
    struct wbox **way)
{
	uint32_t set = hash_of(user, device) & (WBOX_SETS - 1);
	struct wbox *e = c->box[set];
	int i;

	for (i = 0; i < 2; i++)
		if (e[i].device == device && e[i].user[0] != '\0' &&
		    strcmp(e[i].user, user) == 0) {
			c->older[set] = (uint8_t)!i;
			return &e[i];
		}
	i = e[0].user[0] == '\0' ? 0 : e[1].user[0] == '\0' ? 1 :
	    c->older[set];
	c->older[set] = (uint8_t)!i;
	*way = &e[i];
	return NULL;
}

/* Takes a slot for (user, device), writing its old entry back first. */
static int
take(struct iris_store *s, struct wbox *e, const char *user,
    uint32_t device, const struct iris__wbox_pos *p)
{
	int rc;

	if ((rc = write_back(s, e)) != IRIS_OK)
		return rc;
	snprintf(e->user, sizeof(e->user), "%s", user);
	e->device = device;
	e->id = p->id;
	e->head = p->head;
	e->acked = e->file_acked = p->acked;
	return IRIS_OK;
}

static int
read_row(struct iris_store *s, const char *user, uint32_t device,
    struct iris__wbox_pos *p, int *found)
{
	sqlite3_stmt *st = s->ws[WS_BOX_GET];
	int rc;

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device);
	rc = sqlite3_step(st);
	if ((*found = rc == SQLITE_ROW)) {
		p->id = sqlite3_column_int64(st, 0);
		p->head = (uint64_t)sqlite3_column_int64(st, 1);
		p->acked = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return iris__store_fatal(s, rc, "reading an inbox");
	return IRIS_OK;
}

static int
new_row(struct iris_store *s, const char *user, uint32_t device,
    uint16_t shard, struct iris__wbox_pos *p)
{
	sqlite3_stmt *st = s->ws[WS_BOX_NEW];
	int rc;

	sqlite3_bind_int(st, 1, shard);
	sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, device);
	if ((rc = iris__store_step_done(s, st, "creating an inbox")) !=
	    IRIS_OK)
		return rc;
	p->id = sqlite3_last_insert_rowid(s->wdb);
	p->head = p->acked = 0;
	return IRIS_OK;
}

int
iris__wbox_get(struct iris_store *s, const char *user, uint32_t device,
    uint16_t shard, int create, struct iris__wbox_pos *p, int *found)
{
	struct iris__wcache *c = cache_of(s);
	struct wbox *e, *way = NULL;
	int rc;

	if (c != NULL && (e = find(c, user, device, &way)) != NULL) {
		p->id = e->id;
		p->head = e->head;
		p->acked = e->acked;
		*found = 1;
		return IRIS_OK;
	}
	if ((rc = read_row(s, user, device, p, found)) != IRIS_OK)
		return rc;
	if (!*found) {
		if (!create)
			return IRIS_OK;
		if ((rc = new_row(s, user, device, shard, p)) != IRIS_OK)
			return rc;
		*found = 1;
	}
	if (c != NULL && strlen(user) < sizeof(way->user))
		return take(s, way, user, device, p);
	return IRIS_OK;
}

int
iris__wbox_set(struct iris_store *s, const char *user, uint32_t device,
    const struct iris__wbox_pos *p)
{
	struct iris__wcache *c = cache_of(s);
	struct wbox *e, *way = NULL;
	int rc;

	if (c == NULL || strlen(user) >= sizeof(e->user))
		return write_row(s, p->id, p->head, p->acked, 1);
	if ((e = find(c, user, device, &way)) == NULL) {
		if ((rc = take(s, way, user, device, p)) != IRIS_OK)
			return rc;
		e = way;
		e->file_acked = UINT64_MAX;	/* not known: write both */
	}
	e->head = p->head;
	e->acked = p->acked;
	if (e->dirty)
		return IRIS_OK;
	if (c->ndirty == WBOX_DIRTY && (rc = iris__wcache_flush(s)) !=
	    IRIS_OK)
		return rc;
	e->dirty = 1;
	c->dirty[c->ndirty++] = e;
	return IRIS_OK;
}

/*
 * Writes every changed row (inside the batch's transaction). A slot may
 * be listed twice when its entry was written back and the slot reused:
 * the second time it is clean, or dirty with the newer entry's values.
 */
int
iris__wcache_flush(struct iris_store *s)
{
	struct iris__wcache *c = s->wcache;
	size_t i;
	int rc;

	if (c == NULL)
		return IRIS_OK;
	for (i = 0; i < c->ndirty; i++)
		if ((rc = write_back(s, c->dirty[i])) != IRIS_OK)
			return rc;
	c->ndirty = 0;
	return IRIS_OK;
}

void
iris__wcache_clear(struct iris_store *s)
{
	struct iris__wcache *c = s->wcache;

	if (c == NULL)
		return;
	memset(c, 0, sizeof(*c));
}

void
iris__wcache_free(struct iris_store *s)
{
	iris__free(s->wcache);
	s->wcache = NULL;
}

static struct wrcpt *
rcpt_slot(struct iris__wcache *c, const char *user)
{
	return &c->rcpt[hash_of(user, 0) & (WRCPT_SLOTS - 1)];
}

int
iris__wcache_receipts(struct iris_store *s, const char *user, int *on)
{
	struct iris__wcache *c = cache_of(s);
	sqlite3_stmt *st = s->ws[WS_RECEIPTS_ON];
	struct wrcpt *e = NULL;
	int rc;

	if (c != NULL && strlen(user) < sizeof(e->user)) {
		e = rcpt_slot(c, user);
		if (strcmp(e->user, user) == 0) {
			*on = e->on;
			return IRIS_OK;
		}
	}
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*on = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return iris__store_fatal(s, rc, "reading receipt settings");
	if (e != NULL && rc == SQLITE_ROW) {
		snprintf(e->user, sizeof(e->user), "%s", user);
		e->on = (uint8_t)*on;
	}
	return IRIS_OK;
}

void
iris__wcache_receipts_forget(struct iris_store *s, const char *user)
{
	struct wrcpt *e;

	if (s->wcache == NULL || strlen(user) >= sizeof(e->user))
		return;
	e = rcpt_slot(s->wcache, user);
	if (strcmp(e->user, user) == 0)
		e->user[0] = '\0';
}

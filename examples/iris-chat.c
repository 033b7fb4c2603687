/* SPDX-License-Identifier: ISC */
/*
 * iris-chat: a terminal chat client on the client API (iris_client_new(3)).
 * It reads commands from standard input on the libevent loop, one a line,
 * and prints one line per event, so that a person can chat with it on a
 * terminal and a script can drive it through a pipe:
 *
 *   iris-chat -s host:port -p fingerprint -f store.db [-i invite | -O |
 *       -L link_token] [-w seconds] user
 *
 * The first run registers the user with an invite (-i), on a server whose
 * registration is open (-O), or links this device to an existing user with
 * a token from its primary device (-L); later runs log in as the account
 * kept in the store. The store's key is kept in store.db.key (0600).
 *
 * Commands (a line not starting with '/' is sent to the current peer):
 *   /to USER             who plain lines go to (and their devices)
 *   /msg USER TEXT       send TEXT to USER
 *   /typing on|off       tell the current peer that we type, or stopped
 *   /contacts            list the contact list and watch its presence
 *   /add USER, /del USER edit the contact list (and watch USER)
 *   /privacy everyone|contacts|nobody on|off
 *                        who sees our presence; whether we make receipts
 *   /whoami              user, device and identity key of this device
 *   /verify USER         the safety number to compare with USER's
 *   /devices [USER]      a user's verified device list
 *   /link-token          a token for linking a further device
 *   /add-device ID KEY   (primary) add a linked device with its key (hex)
 *   /remove-device ID    (primary) remove a device
 *   /wait online|outbox|presence USER|msg N|receipt N|acked N|typing N|
 *         read N
 *                        hold later commands until the condition holds
 *                        (N counted since the start); fails after -w s
 *   /quit                leave once the outbox is empty (also at EOF)
 *
 * Events printed: online, connecting, offline, registered, linked, msg,
 * sent, receipt, read, identity, undecryptable, healed, typing, presence,
 * contacts, devices, link-token, me, safety, ok, error. Message text is printed with control
 * characters as '?'. Each message shown from another user is marked
 * read: a read receipt goes to its sender's devices (unless receipts are
 * turned off with /privacy) and to this user's other devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <iris_client.h>

#define USER_MAX	64
#define SEEN_MAX	64
#define LINE_MAX_LEN	(IRIS_CLIENT_BODY_MAX + 64)

enum wait_kind {
	W_NONE, W_ONLINE, W_OUTBOX, W_PRESENCE, W_REPLY, W_QUIT,
	W_MSG, W_RECEIPT, W_ACKED, W_TYPING, W_READ	/* the counted ones */
};
static const char *const wait_names[] = {
	"", "online", "outbox", "presence", "reply", "quit",
	"msg", "receipt", "acked", "typing", "read"
};

struct chat {
	struct event_base	*base;
	struct iris_client	*client;
	struct event		*stdin_ev, *deadline, *sigint, *sigterm;
	struct evbuffer		*in;
	int			 in_eof, in_polled;
	char			 to[USER_MAX + 1];
	long			 count[W_READ + 1];
	long			 sends, failed;	/* made here, failed for good */
	struct {
		int		 add;
		uint32_t	 id;
		uint8_t		 key[32];
	}			 devop;		/* waiting for our own list */
	char			 verify[USER_MAX + 1];	/* /verify's user */
	int			 verify_fetches;
	enum wait_kind		 wait;
	long			 wait_n;
	char			 wait_user[USER_MAX + 1];
	struct { char user[USER_MAX + 1]; int online; } seen[SEEN_MAX];
	unsigned		 timeout_s;
	char			 request[16];	/* the command awaited */
	int			 registering;	/* until the account is made */
	int			 status;
	int			 done;
};

static void	pump(struct chat *);

/* One line per event on stdout, flushed so that a reader sees it now. */
static void
emit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
fail(struct chat *ch, int rc, const char *what)
{
	const char *detail = ch->client != NULL ?
	    iris_client_error(ch->client) : "";

	emit("error %s %s: %s", iris_errname(rc), what,
	    *detail != '\0' ? detail : iris_strerror(rc));
	ch->status = 1;
}

static void
hex(char *out, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int
unhex(uint8_t *b, size_t n, const char *s)
{
	size_t i;
	unsigned v;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		b[i] = (uint8_t)v;
	}
	return 0;
}

/* The store's key: read from path, or made and written there (0600). */
static int
store_key(const char *path, uint8_t key[IRIS_CLIENT_STORE_KEY_LEN])
{
	int fd, ok;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		ok = read(fd, key, IRIS_CLIENT_STORE_KEY_LEN) ==
		    IRIS_CLIENT_STORE_KEY_LEN;
	} else {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0)
			return -1;
		ok = getrandom(key, IRIS_CLIENT_STORE_KEY_LEN, 0) ==
		    IRIS_CLIENT_STORE_KEY_LEN &&
		    write(fd, key, IRIS_CLIENT_STORE_KEY_LEN) ==
		    IRIS_CLIENT_STORE_KEY_LEN && fsync(fd) == 0;
	}
	if (close(fd) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int *
seen_slot(struct chat *ch, const char *user)
{
	size_t i;

	for (i = 0; i < SEEN_MAX && ch->seen[i].user[0] != '\0'; i++)
		if (strcmp(ch->seen[i].user, user) == 0)
			return &ch->seen[i].online;
	if (i == SEEN_MAX)
		return NULL;
	snprintf(ch->seen[i].user, sizeof(ch->seen[i].user), "%s", user);
	return &ch->seen[i].online;
}

/* Whether the condition a /wait (or /quit) holds on is true now. */
static int
wait_done(struct chat *ch)
{
	int *online;

	switch (ch->wait) {
	case W_NONE:
		return 1;
	case W_ONLINE:
		return iris_client_state(ch->client) == IRIS_CLIENT_ONLINE;
	case W_QUIT:
		if (ch->registering)
			return 0;
		/* FALLTHROUGH */
	case W_OUTBOX:
		/* And every send made here reported: the outbox may empty
		 * before the sent callback has told the last ack. */
		return iris_client_outbox(ch->client) == 0 &&
		    ch->count[W_ACKED] + ch->failed >= ch->sends;
	case W_PRESENCE:
		online = seen_slot(ch, ch->wait_user);
		return online != NULL && *online;
	case W_REPLY:
		return 0;	/* the request's callback ends it */
	default:
		return ch->count[ch->wait] >= ch->wait_n;
	}
}

static void
wait_for(struct chat *ch, enum wait_kind kind)
{
	struct timeval tv = { (time_t)ch->timeout_s, 0 };

	ch->wait = kind;
	if (!wait_done(ch) && evtimer_add(ch->deadline, &tv) != 0) {
		emit("error IRIS_ENOMEM cannot arm the deadline");
		ch->status = 1;
		ch->done = 1;
		event_base_loopexit(ch->base, NULL);
	}
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct chat *ch = arg;

	(void)fd; (void)what;
	emit("error IRIS_ETIMEDOUT waiting for %s (%ld seen, outbox %zu)",
	    wait_names[ch->wait], ch->wait >= W_MSG ? ch->count[ch->wait] : 0,
	    iris_client_outbox(ch->client));
	ch->status = 1;
	ch->done = 1;
	event_base_loopexit(ch->base, NULL);
}

/* A request's answer: print its outcome, then go on with the commands. */
static void
reply_done(struct chat *ch, int rc, const char *what)
{
	if (rc == IRIS_OK)
		emit("ok %s", what);
	else
		fail(ch, rc, what);
	if (ch->wait == W_REPLY)
		ch->wait = W_NONE;
	pump(ch);
}

static void
on_done(struct iris_client *c, int rc, void *arg)
{
	struct chat *ch = arg;

	(void)c;
	reply_done(ch, rc, ch->request);
}

static void
on_account(struct iris_client *c, int rc, void *arg)
{
	struct chat *ch = arg;
	char key[65];
	uint8_t id[32];
	uint32_t device;
	const char *user = iris_client_user(c, &device);

	ch->registering = 0;
	if (rc != IRIS_OK) {
		fail(ch, rc, "account");
		ch->done = 1;
		event_base_loopexit(ch->base, NULL);
		return;
	}
	if (device == 1) {
		emit("registered %s %u", user, device);
	} else if (iris_client_identity(c, id) == IRIS_OK) {
		hex(key, id, sizeof(id));
		emit("linked %s %u %s", user, device, key);
	}
	pump(ch);
}


/* Events of the client object. */

static void
on_state(struct iris_client *c, int state, int error, void *arg)
{
	uint32_t device;
	const char *user = iris_client_user(c, &device);

	if (state == IRIS_CLIENT_ONLINE)
		emit("online %s %u", user, device);
	else if (state == IRIS_CLIENT_CONNECTING)
		emit("connecting");
	else
		emit("offline %s %s", iris_errname(error),
		    error != IRIS_OK ? iris_client_error(c) : "");
	pump(arg);
}

static void
on_message(struct iris_client *c, const struct iris_client_msg *m, void *arg)
{
	struct chat *ch = arg;
	const char *from, *body;
	char id[33], *text;
	uint32_t device;
	size_t len, i;
	int rc;

	from = iris_client_msg_sender(m, &device);
	body = iris_client_msg_body(m, &len);
	hex(id, iris_client_msg_id(m), 16);
	if ((text = malloc(len + 1)) == NULL) {
		fail(ch, IRIS_ENOMEM, "showing a message");
		return;
	}
	for (i = 0; i < len; i++)
		text[i] = (unsigned char)body[i] < ' ' || body[i] == 0x7f ?
		    '?' : body[i];
	text[len] = '\0';
	emit("msg %s %u %s %s %s", from, device, iris_client_msg_recipient(m),
	    id, text);
	free(text);
	ch->count[W_MSG]++;
	/* Shown, so read (not our own sends, copied from another device). */
	if (strcmp(from, iris_client_user(c, NULL)) != 0 &&
	    (rc = iris_client_read(c, from, iris_client_msg_id(m))) !=
	    IRIS_OK)
		fail(ch, rc, "sending a read receipt");
	pump(ch);
}

static void
on_sent(struct iris_client *c, const uint8_t id[16], int status, void *arg)
{
	struct chat *ch = arg;
	char h[33];

	(void)c;
	hex(h, id, 16);
	if (status == IRIS_CLIENT_QUEUED) {
		emit("sent %s queued", h);
	} else if (status == IRIS_CLIENT_ACKED) {
		emit("sent %s acked", h);
		ch->count[W_ACKED]++;
	} else {
		emit("sent %s failed %s", h, iris_errname(status));
		ch->failed++;
		ch->status = 1;
	}
	pump(ch);
}

static void
on_receipt(struct iris_client *c, const uint8_t id[16], const char *user,
    uint32_t device, uint64_t time_ms, void *arg)
{
	struct chat *ch = arg;
	char h[33];

	(void)c;
	hex(h, id, 16);
	emit("receipt %s %s %u %llu", h, user, device,
	    (unsigned long long)time_ms);
	ch->count[W_RECEIPT]++;
	pump(ch);
}

/* "read ID USER DEVICE TIME": device of user read our message ID. */
static void
on_read(struct iris_client *c, const uint8_t id[16], const char *user,
    uint32_t device, uint64_t time_ms, void *arg)
{
	char h[33];

	(void)c;
	hex(h, id, 16);
	emit("read %s %s %u %llu", h, user, device,
	    (unsigned long long)time_ms);
	((struct chat *)arg)->count[W_READ]++;
	pump(arg);
}

/* "undecryptable USER DEVICE CAUSE": a message that did not decrypt is
 * kept and asked for again; "healed USER DEVICE" when it came (it is
 * then shown as a msg), "lost USER DEVICE" when it was given up. */
static void
on_decrypt(struct iris_client *c, const char *user, uint32_t device,
    int cause, int healed, void *arg)
{
	(void)c;
	if (healed == 0)
		emit("undecryptable %s %u %d", user, device, cause);
	else
		emit("%s %s %u", healed > 0 ? "healed" : "lost", user, device);
	pump(arg);
}

/* "identity USER added|removed|changed DEVICE KEY": a device list moved
 * (after "changed", compare the safety number again). */
static void
on_identity(struct iris_client *c, const char *user, int event,
    uint32_t device, const uint8_t key[32], void *arg)
{
	char k[65];

	(void)c;
	hex(k, key, 32);
	emit("identity %s %s %u %s", user,
	    event == IRIS_CLIENT_DEVICE_ADDED ? "added" :
	    event == IRIS_CLIENT_DEVICE_REMOVED ? "removed" : "changed",
	    device, k);
	pump(arg);
}

static void
on_typing(struct iris_client *c, const char *user, uint32_t device,
    int typing, void *arg)
{
	struct chat *ch = arg;

	(void)c;
	emit("typing %s %u %s", user, device, typing ? "on" : "off");
	ch->count[W_TYPING]++;
	pump(ch);
}

static void
on_presence(struct iris_client *c, const char *user, int online,
    uint64_t last_seen_ms, int hidden, void *arg)
{
	struct chat *ch = arg;
	int *slot;

	(void)c;
	emit("presence %s %s %llu", user, hidden ? "hidden" : online ?
	    "online" : "offline", (unsigned long long)last_seen_ms);
	if ((slot = seen_slot(ch, user)) != NULL)
		*slot = online && !hidden;
	pump(ch);
}

static void
on_error(struct iris_client *c, int error, const char *detail, void *arg)
{
	(void)c; (void)arg;
	emit("error %s %s", iris_errname(error), detail != NULL ? detail : "");
}

/* Answers of requests. */

static void
on_contacts(struct iris_client *c, int rc, const char *const *users,
    size_t n, void *arg)
{
	struct chat *ch = arg;
	char line[1024];
	size_t i, len = 0;

	if (rc == IRIS_OK) {
		for (i = 0; i < n && len < sizeof(line); i++)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    " %s", users[i]);
		emit("contacts %zu%s", n, n > 0 ? line : "");
		if (n > 0 && (rc = iris_client_subscribe(c, users, n)) !=
		    IRIS_OK)
			fail(ch, rc, "watching the contacts");
		rc = IRIS_OK;
	}
	reply_done(ch, rc, "contacts");
}

static void
on_devices(struct iris_client *c, int rc, const char *user,
    uint64_t version, const uint32_t *ids, const uint8_t (*keys)[32],
    size_t n, void *arg)
{
	char key[65];
	size_t i;

	(void)c;
	if (rc == IRIS_OK) {
		emit("devices %s version %llu count %zu", user,
		    (unsigned long long)version, n);
		for (i = 0; i < n; i++) {
			hex(key, keys[i], 32);
			emit("device %s %u %s", user, ids[i], key);
		}
	}
	reply_done(arg, rc, "devices");
}

static void
on_token(struct iris_client *c, int rc, const char *token,
    uint64_t expires_ms, void *arg)
{
	(void)c;
	if (rc == IRIS_OK)
		emit("link-token %s %llu", token,
		    (unsigned long long)expires_ms);
	reply_done(arg, rc, "link-token");
}

/* Commands. */

static const char help[] =
    "commands: /to USER, /msg USER TEXT, /typing on|off, /contacts,\n"
    "  /add USER, /del USER, /privacy everyone|contacts|nobody on|off,\n"
    "  /whoami, /verify USER, /devices [USER], /link-token,\n"
    "  /add-device ID KEYHEX,"
    " /remove-device ID, /wait online|outbox|presence USER|msg N|\n"
    "  receipt N|acked N|typing N|read N, /quit; other lines go to the\n"
    "  /to peer";

static int
user_arg(char *out, const char *arg)
{
	if (arg == NULL || *arg == '\0' || strlen(arg) > USER_MAX)
		return IRIS_EINVAL;
	snprintf(out, USER_MAX + 1, "%s", arg);
	return IRIS_OK;
}

static int
send_text(struct chat *ch, const char *to, const char *text)
{
	uint8_t id[16];
	int rc;

	if (to == NULL || *to == '\0') {
		emit("error IRIS_EINVAL no peer: /to USER first");
		ch->status = 1;
		return IRIS_OK;
	}
	if ((rc = iris_client_send(ch->client, to, 0, text, strlen(text),
	    id)) == IRIS_OK)
		ch->sends++;
	return rc;
}

/* /wait KIND [ARG] */
static int
cmd_wait(struct chat *ch, const char *kind, const char *arg)
{
	enum wait_kind k;
	char *end;

	for (k = W_ONLINE; k <= W_READ; k++)
		if (k != W_REPLY && k != W_QUIT &&
		    strcmp(kind, wait_names[k]) == 0)
			break;
	if (k > W_READ)
		return IRIS_EINVAL;
	if (k == W_PRESENCE && user_arg(ch->wait_user, arg) != IRIS_OK)
		return IRIS_EINVAL;
	if (k >= W_MSG) {
		if (arg == NULL)
			return IRIS_EINVAL;
		ch->wait_n = strtol(arg, &end, 10);
		if (*end != '\0' || ch->wait_n < 0)
			return IRIS_EINVAL;
	}
	wait_for(ch, k);
	return IRIS_OK;
}

static int
cmd_privacy(struct chat *ch, const char *who, const char *receipts)
{
	int p;

	if (who == NULL || receipts == NULL)
		return IRIS_EINVAL;
	if (strcmp(who, "everyone") == 0)
		p = IRIS_PRIVACY_EVERYONE;
	else if (strcmp(who, "contacts") == 0)
		p = IRIS_PRIVACY_CONTACTS;
	else if (strcmp(who, "nobody") == 0)
		p = IRIS_PRIVACY_NOBODY;
	else
		return IRIS_EINVAL;
	if (strcmp(receipts, "on") != 0 && strcmp(receipts, "off") != 0)
		return IRIS_EINVAL;
	return iris_client_set_privacy(ch->client, p,
	    strcmp(receipts, "on") == 0, on_done, ch);
}

static int
cmd_whoami(struct chat *ch)
{
	char key[65];
	uint8_t id[32];
	uint32_t device;
	const char *user = iris_client_user(ch->client, &device);
	int rc;

	if ((rc = iris_client_identity(ch->client, id)) != IRIS_OK)
		return rc;
	hex(key, id, sizeof(id));
	emit("me %s %u %s", user, device, key);
	return IRIS_OK;
}

/* Our own list is known now: the device change waiting for it goes. */
static void
on_own_devices(struct iris_client *c, int rc, const char *user,
    uint64_t version, const uint32_t *ids, const uint8_t (*keys)[32],
    size_t n, void *arg)
{
	struct chat *ch = arg;

	(void)user; (void)version; (void)ids; (void)keys; (void)n;
	if (rc == IRIS_OK)
		rc = ch->devop.add ? iris_client_add_device(c, ch->devop.id,
		    ch->devop.key, on_done, ch) :
		    iris_client_remove_device(c, ch->devop.id, on_done, ch);
	if (rc != IRIS_OK)
		reply_done(ch, rc, ch->request);
}

static int
cmd_device(struct chat *ch, int add, const char *idarg, const char *keyarg)
{
	uint8_t key[32] = { 0 };
	char *end;
	unsigned long id;
	int rc;

	if (idarg == NULL)
		return IRIS_EINVAL;
	id = strtoul(idarg, &end, 10);
	if (*end != '\0' || id == 0 || id > UINT32_MAX)
		return IRIS_EINVAL;
	if (add && (keyarg == NULL || unhex(key, sizeof(key), keyarg) != 0))
		return IRIS_EINVAL;
	rc = add ? iris_client_add_device(ch->client, (uint32_t)id, key,
	    on_done, ch) : iris_client_remove_device(ch->client, (uint32_t)id,
	    on_done, ch);
	if (rc != IRIS_ESTATE ||
	    iris_client_state(ch->client) != IRIS_CLIENT_ONLINE)
		return rc;
	/* Online, but our own device list is not loaded yet: fetch it and
	 * make the change once it is there. */
	ch->devop.add = add;
	ch->devop.id = (uint32_t)id;
	memcpy(ch->devop.key, key, sizeof(key));
	return iris_client_devices(ch->client, iris_client_user(ch->client,
	    NULL), on_own_devices, ch);
}

static void	on_verify_devices(struct iris_client *, int, const char *,
		    uint64_t, const uint32_t *, const uint8_t (*)[32], size_t,
		    void *);

/*
 * The safety number of ch->verify, in groups of five digits as people
 * read them out: IRIS_OK once printed, 1 while a device list it needs is
 * fetched (ours, then theirs; on_verify_devices asks again), or an error.
 */
static int
verify(struct chat *ch)
{
	char num[IRIS_CLIENT_SAFETY_LEN + 1], out[IRIS_CLIENT_SAFETY_LEN +
	    IRIS_CLIENT_SAFETY_LEN / 5];
	size_t i, n = 0;
	int rc;

	rc = iris_client_safety_number(ch->client, ch->verify, num,
	    sizeof(num));
	if (rc == IRIS_EAGAIN && ch->verify_fetches < 2) {
		ch->verify_fetches++;
		rc = iris_client_devices(ch->client, ch->verify_fetches == 1 ?
		    iris_client_user(ch->client, NULL) : ch->verify,
		    on_verify_devices, ch);
		return rc == IRIS_OK ? 1 : rc;
	}
	if (rc != IRIS_OK)
		return rc;
	for (i = 0; i < IRIS_CLIENT_SAFETY_LEN; i++) {
		if (i > 0 && i % 5 == 0)
			out[n++] = ' ';
		out[n++] = num[i];
	}
	out[n] = '\0';
	emit("safety %s %s", ch->verify, out);
	return IRIS_OK;
}

static void
on_verify_devices(struct iris_client *c, int rc, const char *user,
    uint64_t version, const uint32_t *ids, const uint8_t (*keys)[32],
    size_t n, void *arg)
{
	struct chat *ch = arg;

	(void)c; (void)user; (void)version; (void)ids; (void)keys; (void)n;
	if (rc == IRIS_OK && (rc = verify(ch)) == 1)
		return;			/* the next list is on its way */
	reply_done(ch, rc, "verify");
}

/* Runs one command line; a request holds the later ones until it ends. */
static void
command(struct chat *ch, char *line)
{
	char *cmd = line, *a1, *a2, *rest, user[USER_MAX + 1];
	const char *users[1] = { user };
	int rc = IRIS_OK, request = 0;

	line[strcspn(line, "\r")] = '\0';
	if (line[0] == '\0')
		return;
	if (line[0] != '/' || line[1] == '/') {
		rc = send_text(ch, ch->to, line + (line[0] == '/'));
		goto out;
	}
	cmd = strtok_r(line, " ", &rest);
	a1 = strtok_r(NULL, " ", &rest);
	a2 = rest != NULL ? rest + strspn(rest, " ") : NULL;
	if (a2 != NULL && *a2 == '\0')
		a2 = NULL;
	if (strcmp(cmd, "/to") == 0) {
		if ((rc = user_arg(ch->to, a1)) != IRIS_OK)
			goto out;
		emit("to %s", ch->to);
		/* Typing goes only to devices we know: learn them now. */
		if (iris_client_state(ch->client) == IRIS_CLIENT_ONLINE) {
			rc = iris_client_devices(ch->client, ch->to,
			    on_devices, ch);
			request = 1;
		}
	} else if (strcmp(cmd, "/msg") == 0) {
		rc = a2 == NULL ? IRIS_EINVAL : send_text(ch, a1, a2);
	} else if (strcmp(cmd, "/typing") == 0) {
		rc = a1 == NULL || ch->to[0] == '\0' ? IRIS_EINVAL :
		    iris_client_typing(ch->client, ch->to,
		    strcmp(a1, "on") == 0);
	} else if (strcmp(cmd, "/contacts") == 0) {
		rc = iris_client_contacts(ch->client, on_contacts, ch);
		request = 1;
	} else if (strcmp(cmd, "/add") == 0 || strcmp(cmd, "/del") == 0) {
		if ((rc = user_arg(user, a1)) != IRIS_OK)
			goto out;
		if (cmd[1] == 'a')
			rc = iris_client_contacts_edit(ch->client, users, 1,
			    NULL, 0, on_done, ch);
		else
			rc = iris_client_contacts_edit(ch->client, NULL, 0,
			    users, 1, on_done, ch);
		if (rc == IRIS_OK)
			rc = cmd[1] == 'a' ?
			    iris_client_subscribe(ch->client, users, 1) :
			    iris_client_unsubscribe(ch->client, users, 1);
		request = 1;
	} else if (strcmp(cmd, "/privacy") == 0) {
		rc = cmd_privacy(ch, a1, a2);
		request = 1;
	} else if (strcmp(cmd, "/whoami") == 0) {
		rc = cmd_whoami(ch);
	} else if (strcmp(cmd, "/verify") == 0) {
		if ((rc = user_arg(ch->verify, a1)) != IRIS_OK)
			goto out;
		ch->verify_fetches = 0;
		if ((rc = verify(ch)) == 1) {
			rc = IRIS_OK;
			request = 1;	/* printed once the lists are in */
		}
	} else if (strcmp(cmd, "/devices") == 0) {
		rc = iris_client_devices(ch->client, a1 != NULL ? a1 :
		    iris_client_user(ch->client, NULL), on_devices, ch);
		request = 1;
	} else if (strcmp(cmd, "/link-token") == 0) {
		rc = iris_client_link_token(ch->client, on_token, ch);
		request = 1;
	} else if (strcmp(cmd, "/add-device") == 0 ||
	    strcmp(cmd, "/remove-device") == 0) {
		rc = cmd_device(ch, cmd[1] == 'a', a1, a2);
		request = 1;
	} else if (strcmp(cmd, "/wait") == 0) {
		rc = a1 == NULL ? IRIS_EINVAL : cmd_wait(ch, a1, a2);
	} else if (strcmp(cmd, "/quit") == 0) {
		wait_for(ch, W_QUIT);
	} else if (strcmp(cmd, "/help") == 0) {
		emit("%s", help);
	} else {
		emit("error IRIS_EINVAL unknown command %s (/help)", cmd);
		ch->status = 1;
	}
out:
	if (rc != IRIS_OK)
		fail(ch, rc, line);
	else if (request) {
		snprintf(ch->request, sizeof(ch->request), "%s", cmd + 1);
		wait_for(ch, W_REPLY);
	}
}

/* Standard input: a pipe or terminal is read on the loop; a file or
 * /dev/null (which epoll cannot watch) is read when lines are wanted. */
static void
read_input(struct chat *ch)
{
	int n = evbuffer_read(ch->in, STDIN_FILENO, 4096);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		emit("error IRIS_EIO reading standard input: %s",
		    strerror(errno));
	if (n <= 0) {
		ch->in_eof = 1;
		if (ch->stdin_ev != NULL)
			event_del(ch->stdin_ev);
	}
}

static void
on_stdin(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	read_input(arg);
	pump(arg);
}

/* Runs the commands that can run now. */
static void
pump(struct chat *ch)
{
	size_t n;
	char *line;

	while (!ch->done) {
		if (ch->wait != W_NONE) {
			if (!wait_done(ch))
				return;
			evtimer_del(ch->deadline);
			if (ch->wait == W_QUIT) {
				ch->done = 1;
				event_base_loopexit(ch->base, NULL);
				return;
			}
			ch->wait = W_NONE;
		}
		if ((line = evbuffer_readln(ch->in, &n, EVBUFFER_EOL_LF)) !=
		    NULL) {
			command(ch, line);
			free(line);
		} else if (evbuffer_get_length(ch->in) > LINE_MAX_LEN) {
			emit("error IRIS_ETOOBIG a line over %d bytes",
			    LINE_MAX_LEN);
			ch->status = 1;
			evbuffer_drain(ch->in, evbuffer_get_length(ch->in));
		} else if (ch->in_eof) {
			if (evbuffer_get_length(ch->in) > 0 &&
			    evbuffer_add(ch->in, "\n", 1) == 0)
				continue;
			wait_for(ch, W_QUIT);
		} else if (!ch->in_polled) {
			read_input(ch);
		} else {
			return;
		}
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct chat *ch = arg;

	(void)sig; (void)what;
	ch->done = 1;
	event_base_loopexit(ch->base, NULL);
}

static int
setup_loop(struct chat *ch)
{
	struct stat st;

	if ((ch->base = event_base_new()) == NULL ||
	    (ch->in = evbuffer_new()) == NULL ||
	    (ch->deadline = evtimer_new(ch->base, on_deadline, ch)) == NULL ||
	    (ch->sigint = evsignal_new(ch->base, SIGINT, on_signal, ch)) ==
	    NULL || (ch->sigterm = evsignal_new(ch->base, SIGTERM, on_signal,
	    ch)) == NULL || evsignal_add(ch->sigint, NULL) != 0 ||
	    evsignal_add(ch->sigterm, NULL) != 0 ||
	    fstat(STDIN_FILENO, &st) != 0)
		return -1;
	ch->in_polled = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    isatty(STDIN_FILENO);
	if (!ch->in_polled)
		return 0;
	/* Left blocking (a terminal's flags are the shell's too): one read
	 * per readiness never blocks. */
	if ((ch->stdin_ev = event_new(ch->base, STDIN_FILENO,
	    EV_READ | EV_PERSIST, on_stdin, ch)) == NULL ||
	    event_add(ch->stdin_ev, NULL) != 0)
		return -1;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: iris-chat -s host:port -p fingerprint "
	    "-f store.db [-i invite | -O | -L link_token]\n"
	    "    [-w seconds] user\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *server = NULL, *pin = NULL, *path = NULL, *invite = NULL;
	const char *token = NULL;
	struct iris_client_store *store = NULL;
	struct iris_client_config *cfg = NULL;
	uint8_t key[IRIS_CLIENT_STORE_KEY_LEN];
	struct chat ch = { .timeout_s = 30 };
	char keypath[4096];
	uint32_t device = 0;
	int c, open_reg = 0, rc = IRIS_ENOMEM;

	while ((c = getopt(argc, argv, "f:i:L:Op:s:w:")) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 'i': invite = optarg; break;
		case 'L': token = optarg; break;
		case 'O': open_reg = 1; break;
		case 'p': pin = optarg; break;
		case 's': server = optarg; break;
		case 'w': ch.timeout_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default: usage();
		}
	}
	if (argc - optind != 1 || server == NULL || pin == NULL ||
	    path == NULL || ch.timeout_s == 0 ||
	    (invite != NULL) + open_reg + (token != NULL) > 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	snprintf(keypath, sizeof(keypath), "%s.key", path);
	if (store_key(keypath, key) != 0) {
		perror(keypath);
		return 1;
	}
	ch.status = 1;
	if (setup_loop(&ch) != 0) {
		fprintf(stderr, "iris-chat: cannot set up the event loop\n");
		goto out;
	}
	if ((rc = iris_client_store_open(&store, ch.base, path, key, NULL)) !=
	    IRIS_OK || (rc = iris_client_config_new(&cfg)) != IRIS_OK ||
	    (rc = iris_client_config_set_server(cfg, server)) != IRIS_OK ||
	    (rc = iris_client_config_set_pin(cfg, pin)) != IRIS_OK ||
	    (rc = iris_client_config_set_user(cfg, argv[optind])) != IRIS_OK ||
	    (rc = iris_client_config_set_device_name(cfg, "iris-chat")) !=
	    IRIS_OK ||
	    (rc = iris_client_new(&ch.client, ch.base, store, cfg)) != IRIS_OK)
		goto out;
	iris_client_set_state_cb(ch.client, on_state, &ch);
	iris_client_set_message_cb(ch.client, on_message, &ch);
	iris_client_set_sent_cb(ch.client, on_sent, &ch);
	iris_client_set_receipt_cb(ch.client, on_receipt, &ch);
	iris_client_set_typing_cb(ch.client, on_typing, &ch);
	iris_client_set_presence_cb(ch.client, on_presence, &ch);
	iris_client_set_error_cb(ch.client, on_error, &ch);
	iris_client_set_read_cb(ch.client, on_read, &ch);
	iris_client_set_identity_cb(ch.client, on_identity, &ch);
	iris_client_set_decrypt_cb(ch.client, on_decrypt, &ch);
	if (iris_client_user(ch.client, &device) != NULL && device != 0)
		rc = iris_client_connect(ch.client);
	else if (token != NULL)
		rc = iris_client_link(ch.client, token, on_account, &ch);
	else if (invite != NULL || open_reg)
		rc = iris_client_register(ch.client, invite, on_account, &ch);
	else
		rc = IRIS_ENOTFOUND;
	if (rc != IRIS_OK)
		goto out;
	ch.registering = device == 0;
	if (isatty(STDIN_FILENO))
		emit("iris-chat: /help for the commands, /quit to leave");
	ch.status = 0;
	pump(&ch);
	if (!ch.done && event_base_dispatch(ch.base) != 0)
		ch.status = 1;
out:
	if (rc != IRIS_OK)
		fprintf(stderr, "iris-chat: %s: %s\n", iris_strerror(rc),
		    rc == IRIS_ENOTFOUND && ch.client != NULL ?
		    "no account in the store: register with -i, -O or -L" :
		    ch.client != NULL ? iris_client_error(ch.client) :
		    cfg != NULL ? iris_client_config_error(cfg) :
		    store != NULL ? iris_client_store_error(store) : "setup");
	iris_client_free(ch.client);
	iris_client_config_free(cfg);
	iris_client_store_close(store);
	if (ch.stdin_ev != NULL)
		event_free(ch.stdin_ev);
	if (ch.deadline != NULL)
		event_free(ch.deadline);
	if (ch.sigint != NULL)
		event_free(ch.sigint);
	if (ch.sigterm != NULL)
		event_free(ch.sigterm);
	if (ch.in != NULL)
		evbuffer_free(ch.in);
	if (ch.base != NULL)
		event_base_free(ch.base);
	return ch.status;
}

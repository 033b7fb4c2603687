/* SPDX-License-Identifier: ISC */
/*
 * iris-queue: a durable per-device queue on the command line, built on the
 * durable queue API of libiris alone (iris_store_open(3)). Every append is
 * reported only once it is on disk; every retry with the same message id
 * is recognised.
 *
 *   iris-queue FILE append FROM TO[,TO...] [ID] < message
 *   iris-queue FILE read USER DEVICE [AFTER [LIMIT]]
 *   iris-queue FILE ack USER DEVICE SEQ
 *   iris-queue FILE depth USER DEVICE
 *   iris-queue FILE stats
 *
 * A device is written USER/DEVICE (alice/1). ID is 32 hex digits; without
 * it, a new UUIDv7 is made and printed, so that the caller can retry with
 * it after a failure whose outcome it does not know.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <iris.h>
#include <iris_store.h>

#define MESSAGE_MAX	65536

struct job {
	struct event_base	*base;
	int			 result;
	int			 done;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: iris-queue FILE append FROM TO[,TO...] [ID] < message\n"
	    "       iris-queue FILE read USER DEVICE [AFTER [LIMIT]]\n"
	    "       iris-queue FILE ack USER DEVICE SEQ\n"
	    "       iris-queue FILE depth USER DEVICE\n"
	    "       iris-queue FILE stats\n"
	    "A device is USER/DEVICE, such as alice/1.\n");
	exit(2);
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-' ? 0 : -1;
}

static int
parse_device(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) != 0 || v == 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "user/device" into user (at most 64 bytes) and device. */
static int
parse_target(const char *s, char user[65], uint32_t *device)
{
	const char *slash = strrchr(s, '/');
	size_t n;

	if (slash == NULL || (n = (size_t)(slash - s)) == 0 || n > 64)
		return -1;
	memcpy(user, s, n);
	user[n] = '\0';
	return parse_device(slash + 1, device);
}

static int
parse_id(const char *hex, uint8_t id[16])
{
	unsigned v;
	int i;

	if (strlen(hex) != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = (uint8_t)v;
	}
	return 0;
}

static void
print_id(const char *label, const uint8_t id[16])
{
	int i;

	printf("%s ", label);
	for (i = 0; i < 16; i++)
		printf("%02x", id[i]);
	printf("\n");
}

static void
appended(struct iris_store *store, int result, uint64_t msg_id,
    const uint64_t *seqs, size_t nseqs, int duplicate, void *arg)
{
	struct job *j = arg;
	size_t i;

	(void)store;
	j->result = result;
	j->done = 1;
	if (result == IRIS_OK) {
		printf("stored msg_id %" PRIu64 "%s\n", msg_id,
		    duplicate ? " (a retry: stored before)" : "");
		for (i = 0; i < nseqs; i++)
			printf("seq %" PRIu64 "\n", seqs[i]);
	}
	event_base_loopbreak(j->base);
}

static void
acked(struct iris_store *store, int result, uint64_t acked_seq, void *arg)
{
	struct job *j = arg;

	(void)store;
	j->result = result;
	j->done = 1;
	if (result == IRIS_OK)
		printf("acked up to %" PRIu64 "\n", acked_seq);
	event_base_loopbreak(j->base);
}

/* Runs the loop until the operation's callback has run. */
static int
wait_job(struct job *j)
{
	while (!j->done)
		if (event_base_dispatch(j->base) < 0)
			return IRIS_EIO;
	return j->result;
}

static int
cmd_append(struct iris_store *st, struct job *j, int argc, char **argv)
{
	static char msg[MESSAGE_MAX + 1];
	struct iris_send *send = NULL;
	char user[65], *list, *tok, *save = NULL;
	uint8_t id[16];
	uint32_t device;
	size_t len;
	int rc;

	if (argc < 2 || argc > 3 || parse_target(argv[0], user, &device) != 0)
		usage();
	if (argc == 3 ? parse_id(argv[2], id) != 0 : iris_uuid_v7(id) !=
	    IRIS_OK) {
		fprintf(stderr, "iris-queue: bad message id\n");
		return IRIS_EINVAL;
	}
	len = fread(msg, 1, sizeof(msg), stdin);
	if (ferror(stdin) || len > MESSAGE_MAX) {
		fprintf(stderr, "iris-queue: message unreadable or over "
		    "%d bytes\n", MESSAGE_MAX);
		return IRIS_ETOOBIG;
	}
	if ((rc = iris_send_new(&send, user, device, id,
	    IRIS_CLASS_MESSAGE)) != IRIS_OK)
		return rc;
	if ((list = strdup(argv[1])) == NULL) {
		iris_send_free(send);
		return IRIS_ENOMEM;
	}
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (parse_target(tok, user, &device) != 0) {
			fprintf(stderr, "iris-queue: bad device %s\n", tok);
			rc = IRIS_EINVAL;
		} else
			rc = iris_send_add(send, user, device, msg, len);
		if (rc != IRIS_OK)
			break;
	}
	free(list);
	if (rc != IRIS_OK) {
		iris_send_free(send);
		return rc;
	}
	print_id("id", id);
	/* Takes send in every case. */
	if ((rc = iris_store_append(st, send, appended, j)) != IRIS_OK)
		return rc;
	return wait_job(j);
}

static int
print_message(const struct iris_message *m, void *arg)
{
	const void *data;
	const char *sender;
	uint32_t device;
	size_t len;

	(void)arg;
	sender = iris_message_sender(m, &device);
	data = iris_message_data(m, &len);
	printf("seq %" PRIu64 " msg_id %" PRIu64 " from %s/%" PRIu32
	    " at %" PRIu64 " (%zu bytes)\n", iris_message_seq(m),
	    iris_message_id(m), sender, device, iris_message_time(m), len);
	fwrite(data, 1, len, stdout);
	if (len > 0 && ((const char *)data)[len - 1] != '\n')
		putchar('\n');
	return 0;
}

static int
cmd_read(struct iris_store *st, int argc, char **argv)
{
	uint64_t after = 0, limit = 100;
	uint32_t device;
	int n;

	if (argc < 2 || argc > 4 || parse_device(argv[1], &device) != 0 ||
	    (argc > 2 && parse_u64(argv[2], &after) != 0) ||
	    (argc > 3 && parse_u64(argv[3], &limit) != 0))
		usage();
	n = iris_store_scan(st, argv[0], device, after, (size_t)limit,
	    print_message, NULL);
	if (n < 0)
		return n;
	printf("%d message%s\n", n, n == 1 ? "" : "s");
	return IRIS_OK;
}

static int
cmd_ack(struct iris_store *st, struct job *j, int argc, char **argv)
{
	uint64_t seq;
	uint32_t device;
	int rc;

	if (argc != 3 || parse_device(argv[1], &device) != 0 ||
	    parse_u64(argv[2], &seq) != 0)
		usage();
	if ((rc = iris_store_ack(st, argv[0], device, seq, acked, j)) !=
	    IRIS_OK)
		return rc;
	return wait_job(j);
}

static int
cmd_depth(struct iris_store *st, int argc, char **argv)
{
	uint64_t acked_seq, head_seq;
	uint32_t device;
	int rc;

	if (argc != 2 || parse_device(argv[1], &device) != 0)
		usage();
	if ((rc = iris_store_depth(st, argv[0], device, &acked_seq,
	    &head_seq)) != IRIS_OK)
		return rc;
	printf("acked %" PRIu64 " head %" PRIu64 " unacked %" PRIu64 "\n",
	    acked_seq, head_seq, head_seq - acked_seq);
	return IRIS_OK;
}

static int
cmd_stats(struct iris_store *st)
{
	const char *name;
	uint64_t v;
	size_t i;

	for (i = 0; (name = iris_store_stat_name(i)) != NULL; i++)
		if (iris_store_stat(st, name, &v) == IRIS_OK)
			printf("%s %" PRIu64 "\n", name, v);
	return IRIS_OK;
}

static void
log_line(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= IRIS_LOG_WARNING)
		fprintf(stderr, "iris-queue: %s\n", msg);
}

int
main(int argc, char *argv[])
{
	struct iris_config *cfg = NULL;
	struct iris_store *st = NULL;
	struct job j = { NULL, 0, 0 };
	const char *cmd;
	int rc;

	if (argc < 3)
		usage();
	cmd = argv[2];
	if ((j.base = event_base_new()) == NULL) {
		fprintf(stderr, "iris-queue: event_base_new failed\n");
		return 1;
	}
	if ((rc = iris_config_new(&cfg)) != IRIS_OK)
		goto out;
	iris_config_set_log_cb(cfg, log_line, NULL);
	if ((rc = iris_store_open(&st, j.base, argv[1], cfg)) != IRIS_OK)
		goto out;
	if (strcmp(cmd, "append") == 0)
		rc = cmd_append(st, &j, argc - 3, argv + 3);
	else if (strcmp(cmd, "read") == 0)
		rc = cmd_read(st, argc - 3, argv + 3);
	else if (strcmp(cmd, "ack") == 0)
		rc = cmd_ack(st, &j, argc - 3, argv + 3);
	else if (strcmp(cmd, "depth") == 0)
		rc = cmd_depth(st, argc - 3, argv + 3);
	else if (strcmp(cmd, "stats") == 0 && argc == 3)
		rc = cmd_stats(st);
	else
		usage();
	if (rc != IRIS_OK && st != NULL && *iris_store_error(st) != '\0')
		fprintf(stderr, "iris-queue: %s\n", iris_store_error(st));
out:
	if (rc != IRIS_OK)
		fprintf(stderr, "iris-queue: %s (%s)\n", iris_strerror(rc),
		    iris_errname(rc));
	iris_store_close(st);
	iris_config_free(cfg);
	event_base_free(j.base);
	return rc == IRIS_OK ? 0 : 1;
}

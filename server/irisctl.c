/* SPDX-License-Identifier: ISC */
/*
 * irisctl: administers a running irisd over its admin socket. It sends one
 * request line, prints the answer's lines and exits on its status line.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <iris.h>

#define DEFAULT_SOCKET	"/var/lib/iris/admin.sock"
#define REQUEST_MAX	1024	/* with the newline, as irisd reads it */

/* Exit statuses (irisctl(8)). */
#define EXIT_OK		0
#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_CONNECT	3

static void
usage(void)
{
	fprintf(stderr, "usage: irisctl [-V] [-d data_dir] [-s socket] "
	    "command [argument ...]\n"
	    "commands: user add NAME [TTL_SECONDS], user list, "
	    "user disable NAME,\n"
	    "  user enable NAME, invite create [TTL_SECONDS], "
	    "device list NAME,\n"
	    "  device revoke NAME ID, token revoke TOKEN_ID_HEX, stats, "
	    "backup PATH,\n"
	    "  check, fingerprint\n");
	exit(EXIT_USAGE);
}

/* Words go over the wire separated by spaces: they cannot hold blanks. */
static int
word_ok(const char *w)
{
	if (*w == '\0')
		return 0;
	for (; *w != '\0'; w++)
		if ((unsigned char)*w <= ' ' || *w == 0x7f)
			return 0;
	return 1;
}

/* The request line; backup's PATH made absolute (irisd has its own cwd). */
static int
build_request(char *req, size_t len, int argc, char *argv[])
{
	char cwd[PATH_MAX], abspath[PATH_MAX + 1024];
	const char *w;
	size_t n = 0;
	int i, k;

	for (i = 0; i < argc; i++) {
		if (!word_ok(argv[i])) {
			fprintf(stderr, "irisctl: \"%s\": arguments cannot be "
			    "empty or contain blanks\n", argv[i]);
			return -1;
		}
		w = argv[i];
		if (i == 1 && strcmp(argv[0], "backup") == 0 && *w != '/') {
			if (getcwd(cwd, sizeof(cwd)) == NULL) {
				fprintf(stderr, "irisctl: getcwd: %s\n",
				    strerror(errno));
				return -1;
			}
			snprintf(abspath, sizeof(abspath), "%s/%s", cwd, w);
			w = abspath;
		}
		k = snprintf(req + n, len - n, "%s%s", i > 0 ? " " : "", w);
		if (k < 0 || (size_t)k >= len - n - 1) {
			fprintf(stderr, "irisctl: request longer than %d "
			    "bytes\n", REQUEST_MAX - 1);
			return -1;
		}
		n += (size_t)k;
	}
	req[n++] = '\n';
	req[n] = '\0';
	return 0;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "irisctl: %s: socket path too long\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "irisctl: cannot connect to %s: %s\n", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Output lines are printed as they come, one behind: the last line
 * before irisd closes is the status, which may look like output ("ok").
 */
static int
read_answer(int fd, const char *path)
{
	FILE *in;
	char *line = NULL, *prev = NULL;
	size_t cap = 0;
	ssize_t n;
	int status;

	if ((in = fdopen(fd, "r")) == NULL) {
		fprintf(stderr, "irisctl: %s\n", strerror(errno));
		close(fd);
		return EXIT_ERROR;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (prev != NULL)
			printf("%s\n", prev);
		free(prev);
		prev = line;
		line = NULL;
		cap = 0;
	}
	fclose(in);
	free(line);
	if (prev != NULL && strcmp(prev, "ok") == 0)
		status = EXIT_OK;
	else if (prev != NULL && strncmp(prev, "error: ", 7) == 0) {
		fprintf(stderr, "irisctl: %s\n", prev);
		status = EXIT_ERROR;
	} else {
		fprintf(stderr, "irisctl: %s closed without an answer\n",
		    path);
		status = EXIT_ERROR;
	}
	free(prev);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "irisctl: writing the output failed\n");
		status = EXIT_ERROR;
	}
	return status;
}

int
main(int argc, char *argv[])
{
	const char *sock = NULL, *datadir = NULL;
	char path[PATH_MAX], req[REQUEST_MAX + 1];
	int ch, fd;

	while ((ch = getopt(argc, argv, "+d:hs:V")) != -1) {
		switch (ch) {
		case 'd':
			datadir = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'V':
			printf("irisctl %s (libiris %s)\n", IRIS_VERSION_STRING,
			    iris_version_string());
			return EXIT_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	if (sock == NULL && datadir != NULL) {
		snprintf(path, sizeof(path), "%s/admin.sock", datadir);
		sock = path;
	} else if (sock == NULL)
		sock = DEFAULT_SOCKET;
	if (build_request(req, sizeof(req) - 1, argc, argv) != 0)
		return EXIT_USAGE;
	if ((fd = connect_to(sock)) < 0)
		return EXIT_CONNECT;
	if (send_all(fd, req, strlen(req)) != 0) {
		/* irisd may have refused us and closed: read why. */
		if (errno != EPIPE && errno != ECONNRESET) {
			fprintf(stderr, "irisctl: sending to %s: %s\n", sock,
			    strerror(errno));
			close(fd);
			return EXIT_CONNECT;
		}
	}
	return read_answer(fd, sock);
}

#!/bin/sh
# SPDX-License-Identifier: ISC
# make install into a staging tree (DESTDIR, PREFIX=/usr): every file is
# where it belongs, a program built with `pkg-config --cflags --libs
# libiris` against the tree runs (shared, and static with Libs.private),
# the client API of the tree runs against the staged irisd, and make
# uninstall removes every file again.
set -eu
build=$1 sanflags=${2:-}
make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install: $*" >&2; exit 1; }
stage=$tmp/stage

$make --no-print-directory -s install DESTDIR="$stage" PREFIX=/usr \
    BUILD="$build" SANITIZE="${SANITIZE:-0}" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make install failed"; }
for f in usr/lib/libiris.so.0 usr/lib/libiris.so usr/lib/libiris.a \
    usr/include/iris.h usr/lib/pkgconfig/libiris.pc usr/sbin/irisd \
    usr/share/man/man3/libiris.3 usr/share/man/man3/iris_strerror.3 \
    usr/share/man/man3/iris_errname.3 usr/share/man/man7/iris-protocol.7 \
    usr/share/man/man3/iris_client_send.3 usr/share/man/man3/iris_client_msg_body.3 \
    usr/etc/iris/iris.conf usr/etc/iris/iris.conf.sample \
    usr/lib/systemd/system/irisd.service; do
	[ -e "$stage/$f" ] || fail "missing $f"
done
grep -q '^prefix=/usr$' "$stage/usr/lib/pkgconfig/libiris.pc" || fail ".pc prefix not substituted"
grep -q '^libdir=/usr/lib$' "$stage/usr/lib/pkgconfig/libiris.pc" || fail ".pc libdir not substituted"
grep -q '^ExecStart=/usr/sbin/irisd -d -f /usr/etc/iris/iris.conf' "$stage/usr/lib/systemd/system/irisd.service" || fail "unit paths not substituted"
# The sample is a valid configuration that names every option.
LD_LIBRARY_PATH="$build" "$build/irisd" -n -f "$stage/usr/etc/iris/iris.conf.sample" 2>/dev/null || fail "the sample iris.conf is not valid"
n_opts=$(LD_LIBRARY_PATH="$build" "$build/irisd" -n -v -f /dev/null 2>/dev/null | wc -l)
n_sample=$(grep -c '^#[a-z_]* "' "$stage/usr/etc/iris/iris.conf.sample")
[ "$n_opts" = "$n_sample" ] || fail "the sample has $n_sample options, irisd $n_opts"
readelf -d "$stage/usr/lib/libiris.so.0" | grep -q 'SONAME.*libiris.so.0' || fail "no SONAME"

cat > "$tmp/tiny.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <event2/event.h>
#include <iris_store.h>
static int acked;
static void cb(struct iris_store *s, int rc, uint64_t id, const uint64_t *seqs,
    size_t n, int dup, void *arg) {
	(void)s; (void)id; (void)dup; (void)arg;
	acked = rc == IRIS_OK && n == 1 && seqs[0] == 1;
}
int main(int argc, char **argv) {
	struct event_base *base = event_base_new();
	struct iris_config *cfg;
	struct iris_store *st;
	struct iris_send *m;
	unsigned char id[16];
	if (argc != 2 || strcmp(iris_version_string(), IRIS_VERSION_STRING) != 0) return 1;
	if (iris_config_new(&cfg) != IRIS_OK) return 2;
	if (iris_config_set(cfg, "max_envelope", "1G") != IRIS_ECONFIG) return 3;
	if (iris_store_open(&st, base, argv[1], cfg) != IRIS_OK) return 4;
	if (iris_uuid_v7(id) != IRIS_OK || iris_send_new(&m, "alice", 1, id, IRIS_CLASS_MESSAGE) != IRIS_OK ||
	    iris_send_add(m, "bob", 1, "hi", 2) != IRIS_OK || iris_store_append(st, m, cb, NULL) != IRIS_OK) return 5;
	while (!acked && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	printf("tiny: %s; %s; acked %d\n", iris_version_string(), iris_config_error(cfg), acked);
	iris_store_close(st);
	iris_config_free(cfg);
	event_base_free(base);
	return acked ? 0 : 6;
}
C
# The staged .pc names /usr; the tree is under $stage, so its directories
# come first (a sysroot would misplace libevent's and SQLite's too).
export PKG_CONFIG_PATH="$stage/usr/lib/pkgconfig"
flags="-I$stage/usr/include -L$stage/usr/lib $(pkg-config --cflags --libs libiris)"
cc $sanflags -o "$tmp/tiny" "$tmp/tiny.c" $flags || fail "cannot build against the tree: $flags"
LD_LIBRARY_PATH="$stage/usr/lib" "$tmp/tiny" "$tmp/a.db" | grep -q "acked 1" || fail "tiny program failed"
ldd_out=$(LD_LIBRARY_PATH="$stage/usr/lib" ldd "$tmp/tiny")
echo "$ldd_out" | grep -q "libiris.so.0 => $stage/usr/lib/libiris.so.0" || fail "not linked to the staged libiris"
sflags="-I$stage/usr/include $(pkg-config --cflags --static --libs libiris)"
cc $sanflags -o "$tmp/tiny-static" "$tmp/tiny.c" \
    $(echo "$sflags" | sed "s|-liris|$stage/usr/lib/libiris.a|") || fail "static link failed: $sflags"
"$tmp/tiny-static" "$tmp/b.db" | grep -q "acked 1" || fail "static tiny program failed"

# The client API from the tree: the staged irisd, two users invited with
# the staged irisctl, a program built with pkg-config only registers both
# (two client objects sharing one client store) and sends from one to the
# other, which receives exactly that.
cat > "$tmp/tinyclient.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <event2/event.h>
#include <iris_client.h>
static int registered, got;
static struct event_base *base;
static void reg(struct iris_client *c, int rc, void *arg) {
	(void)c; (void)arg;
	registered += rc == IRIS_OK;
	if (rc != IRIS_OK) fprintf(stderr, "register: %s\n", iris_errname(rc));
}
static void msg(struct iris_client *c, const struct iris_client_msg *m, void *arg) {
	size_t len;
	const char *body = iris_client_msg_body(m, &len);
	(void)c; (void)arg;
	got = len == 5 && memcmp(body, "hello", 5) == 0 &&
	    strcmp(iris_client_msg_sender(m, NULL), "alice") == 0;
	event_base_loopbreak(base);
}
static struct iris_client *mk(struct iris_client_store *st, const char *srv,
    const char *pin, const char *user, const char *invite) {
	struct iris_client_config *cfg;
	struct iris_client *c = NULL;
	if (iris_client_config_new(&cfg) != IRIS_OK) return NULL;
	if (iris_client_config_set_server(cfg, srv) != IRIS_OK ||
	    iris_client_config_set_pin(cfg, pin) != IRIS_OK ||
	    iris_client_config_set_user(cfg, user) != IRIS_OK ||
	    iris_client_new(&c, base, st, cfg) != IRIS_OK ||
	    iris_client_register(c, invite, reg, NULL) != IRIS_OK) {
		iris_client_free(c);
		c = NULL;
	}
	iris_client_config_free(cfg);
	return c;
}
int main(int argc, char **argv) {
	static const uint8_t key[IRIS_CLIENT_STORE_KEY_LEN];
	struct iris_client_store *st;
	struct iris_client *a, *b;
	struct timeval limit = { 20, 0 };
	uint8_t id[16];
	int rc = 1;
	if (argc != 6 || (base = event_base_new()) == NULL) return 2;
	if (iris_client_store_open(&st, base, argv[1], key, NULL) != IRIS_OK) return 3;
	a = mk(st, argv[2], argv[3], "alice", argv[4]);
	b = mk(st, argv[2], argv[3], "bob", argv[5]);
	iris_client_set_message_cb(b, msg, NULL);
	event_base_loopexit(base, &limit);
	while (a != NULL && b != NULL && registered < 2 &&
	    event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	if (registered == 2 &&
	    iris_client_send(a, "bob", 0, "hello", 5, id) == IRIS_OK)
		event_base_dispatch(base);
	printf("tinyclient: registered %d, received %d\n", registered, got);
	rc = registered == 2 && got ? 0 : 1;
	iris_client_free(a);
	iris_client_free(b);
	iris_client_store_close(st);
	event_base_free(base);
	return rc;
}
C
cc $sanflags -o "$tmp/tinyclient" "$tmp/tinyclient.c" $flags || fail "cannot build the client program against the tree: $flags"
IRIS_BUILD_DIR=$stage/usr/sbin
LD_LIBRARY_PATH="$stage/usr/lib"
export IRIS_BUILD_DIR LD_LIBRARY_PATH
. tests/system/irisd_lib.sh
mkdir "$tmp/srv"
irisd_start "$tmp/srv" || fail "the staged irisd did not start"
ia=$("$stage/usr/sbin/irisctl" -d "$tmp/srv/data" user add alice 600)
ib=$("$stage/usr/sbin/irisctl" -d "$tmp/srv/data" user add bob 600)
"$tmp/tinyclient" "$tmp/c.db" "127.0.0.1:$IRISD_PORT" "$IRISD_FP" "$ia" "$ib" > "$tmp/tc" 2>&1 ||
    { kill "$IRISD_PID"; fail "the client program failed: $(cat "$tmp/tc")"; }
grep -q 'registered 2, received 1' "$tmp/tc" || fail "client program: $(cat "$tmp/tc")"
irisd_stop || fail "the staged irisd did not exit 0"
unset LD_LIBRARY_PATH

$make --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/usr BUILD="$build" SANITIZE="${SANITIZE:-0}" > "$tmp/log" 2>&1 || fail "make uninstall failed"
left=$(find "$stage" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left files: $left"
echo "install: staged install, pkg-config build (shared and static), $(cat "$tmp/tc"), uninstall ok"

#!/bin/sh
# SPDX-License-Identifier: ISC
# make install into a staging tree (DESTDIR, PREFIX=/usr): every file is
# where it belongs, a program built with `pkg-config --cflags --libs
# libiris` against the tree runs (shared, and static with Libs.private),
# and make uninstall removes every file again.
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
    usr/share/man/man3/iris_errname.3 usr/share/man/man7/iris-protocol.7; do
	[ -e "$stage/$f" ] || fail "missing $f"
done
grep -q '^prefix=/usr$' "$stage/usr/lib/pkgconfig/libiris.pc" || fail ".pc prefix not substituted"
grep -q '^libdir=/usr/lib$' "$stage/usr/lib/pkgconfig/libiris.pc" || fail ".pc libdir not substituted"
readelf -d "$stage/usr/lib/libiris.so.0" | grep -q 'SONAME.*libiris.so.0' || fail "no SONAME"

cat > "$tmp/tiny.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <iris.h>
int main(void) {
	struct iris_config *cfg;
	if (strcmp(iris_version_string(), IRIS_VERSION_STRING) != 0) return 1;
	if (iris_config_new(&cfg) != IRIS_OK) return 2;
	if (iris_config_set(cfg, "max_envelope", "1G") != IRIS_ECONFIG) return 3;
	printf("tiny: %s; %s\n", iris_version_string(), iris_config_error(cfg));
	iris_config_free(cfg);
	return 0;
}
C
export PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_LIBDIR="$stage/usr/lib/pkgconfig"
flags=$(pkg-config --cflags --libs libiris)
cc $sanflags -o "$tmp/tiny" "$tmp/tiny.c" $flags || fail "cannot build against the tree: $flags"
LD_LIBRARY_PATH="$stage/usr/lib" "$tmp/tiny" | grep -q "tiny: " || fail "tiny program failed"
ldd_out=$(LD_LIBRARY_PATH="$stage/usr/lib" ldd "$tmp/tiny")
echo "$ldd_out" | grep -q "libiris.so.0 => $stage/usr/lib/libiris.so.0" || fail "not linked to the staged libiris"
sflags=$(pkg-config --cflags --static --libs libiris)
cc $sanflags -o "$tmp/tiny-static" "$tmp/tiny.c" \
    $(echo "$sflags" | sed "s|-liris|$stage/usr/lib/libiris.a|") || fail "static link failed: $sflags"
"$tmp/tiny-static" | grep -q "tiny: " || fail "static tiny program failed"

$make --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/usr BUILD="$build" SANITIZE="${SANITIZE:-0}" > "$tmp/log" 2>&1 || fail "make uninstall failed"
left=$(find "$stage" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left files: $left"
echo "install: staged install, pkg-config build (shared and static) and uninstall ok"

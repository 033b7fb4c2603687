#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs the Debian 12 packages that building and testing Iris need, when
# any is missing: as root directly, otherwise through sudo without a
# password; failing both, prints the exact command and fails. Needs no
# standard input. Set IRIS_NO_DEPS=1 to skip (non-Debian systems).
set -eu

PKGS="build-essential pkg-config libevent-dev libmbedtls-dev libsqlite3-dev
libsodium-dev nanopb libnanopb-dev python3-protobuf check openssl clang
libclang-rt-14-dev groff-base valgrind tmux sqlite3 procps util-linux iproute2"

[ "${IRIS_NO_DEPS:-0}" = 1 ] && exit 0
if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; install the equivalents of:" $PKGS >&2
	exit 0
fi

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
echo "deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
	sh -c "$cmd"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo -n sh -c "$cmd"
else
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root:  $cmd" >&2
	exit 1
fi

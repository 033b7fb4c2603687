#!/bin/sh
# SPDX-License-Identifier: ISC
# Every option of the library's table is documented in iris.conf(5), with
# its default in its own entry: the table (through `irisd -n -v`) is the
# source, the page must follow it.
set -eu
build=$1
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
page=man/iris.conf.5
fail=0
"$build/irisd" -n -v -f /dev/null 2>/dev/null |
    sed -n 's/^\([a-z_]*\) "\(.*\)"$/\1 \2/p' > "${TMPDIR:-/tmp}/confdoc.$$"
[ -s "${TMPDIR:-/tmp}/confdoc.$$" ] || { echo "confdoc: irisd listed no options" >&2; exit 1; }
while read -r key def; do
	entry=$(awk -v k="$key" '
	    $0 ~ "^\\.It Ic " k "( |$)" { on = 1; next }
	    on && /^\.(It|El)/ { exit }
	    on { print }' "$page")
	if [ -z "$entry" ]; then
		echo "confdoc: $key is not documented in $page" >&2
		fail=1
	elif ! printf '%s\n' "$entry" | grep -qF -- "$def"; then
		echo "confdoc: $page does not give $key's default \"$def\"" >&2
		fail=1
	fi
done < "${TMPDIR:-/tmp}/confdoc.$$"
n=$(wc -l < "${TMPDIR:-/tmp}/confdoc.$$")
rm -f "${TMPDIR:-/tmp}/confdoc.$$"
[ $fail = 0 ] && echo "confdoc: all $n options documented with their defaults"
exit $fail

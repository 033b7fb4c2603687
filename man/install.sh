#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs (or removes) man pages, with a link for every name a page
# documents in its NAME (.Nm) or SYNOPSIS (.Fn, .Fo), so that
# `man iris_errname` finds iris_strerror.3.
# usage: install.sh install|uninstall MANDIR page...
set -eu
mode=$1 mandir=$2
shift 2
for page in "$@"; do
	base=$(basename "$page")
	sec=${base##*.}
	dir=$mandir/man$sec
	names=$(awk '/^\.Sh / { s = $2 } s == "NAME" && /^\.Nm / { print $2 }
	    s == "SYNOPSIS" && /^\.F[no] / { print $2 }' "$page" |
	    sed 's/[^A-Za-z0-9_.-].*//' | sort -u)
	if [ "$mode" = install ]; then
		mkdir -p "$dir"
		cp "$page" "$dir/$base"
		chmod 0644 "$dir/$base"
	else
		rm -f "$dir/$base"
	fi
	for n in $names; do
		[ "$n.$sec" = "$base" ] && continue
		if [ "$mode" = install ]; then
			ln -sf "$base" "$dir/$n.$sec"
		else
			rm -f "$dir/$n.$sec"
		fi
	done
done

#!/bin/sh
# SPDX-License-Identifier: ISC
# Lints every man page with groff's warnings on. groff exits 0 even on an
# undefined macro, so any output on stderr is a failure. Also checks that
# every page has EXAMPLES and SEE ALSO sections; that every public
# function (each IRIS_API declaration of include/*.h, and each symbol of
# lib/libiris.map) is named in the NAME or SYNOPSIS section of some page,
# and gets its own link when the pages are installed (man/install.sh);
# and that libiris(3) lists every page.
set -eu
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for page in man/*.[1-8]; do
	out=$(groff -mandoc -ww -z "$page" 2>&1 >/dev/null || true)
	if [ -n "$out" ]; then
		echo "$page:"; echo "$out"
		fail=1
	fi
	for sh in EXAMPLES "SEE ALSO"; do
		if ! grep -q "^\.Sh $sh\$" "$page"; then
			echo "man: $page has no $sh section" >&2
			fail=1
		fi
	done
done

# The public functions: each IRIS_API declaration joined up to its ';',
# the name being the identifier before its first '('.
awk '/IRIS_API/ { d = "" } /IRIS_API/, /;/ { d = d " " $0 }
    /;/ && d != "" { print d; d = "" }' include/*.h |
    sed -n 's/^[^(]*[^a-zA-Z0-9_]\(iris_[a-z0-9_]*\)[[:space:]]*(.*/\1/p' \
    > "$tmp/decl"
sed -n 's/^[[:space:]]*\(iris_[a-z0-9_]*\);.*/\1/p' lib/libiris.map \
    > "$tmp/map"
sort -u "$tmp/decl" "$tmp/map" > "$tmp/fns"
[ "$(wc -l < "$tmp/decl")" -gt 0 ] || { echo "man: no IRIS_API declarations found" >&2; exit 1; }
# Names in NAME (.Nm) or in SYNOPSIS (.Fn, .Fo) of every page.
for page in man/*.[1-8]; do
	awk '/^\.Sh / { s = $2 } s == "NAME" && /^\.Nm / { print $2 }
	    s == "SYNOPSIS" && /^\.F[no] / { print $2 }' "$page" |
	    sed 's/[^a-zA-Z0-9_.-].*//' | sort -u
done > "$tmp/names"
sort -u "$tmp/names" > "$tmp/documented"
# A name in two pages would make their links clash.
for n in $(sort "$tmp/names" | uniq -d); do
	echo "man: $n is documented by two pages" >&2
	fail=1
done
for fn in $(comm -23 "$tmp/fns" "$tmp/documented"); do
	echo "man: $fn is in the NAME or SYNOPSIS of no page" >&2
	fail=1
done
# Every documented function is found by `man FUNCTION` once installed.
sh man/install.sh install "$tmp/mandir" man/*.[1-8]
for fn in $(cat "$tmp/fns"); do
	if [ ! -e "$tmp/mandir/man3/$fn.3" ]; then
		echo "man: no installed page or link for $fn" >&2
		fail=1
	fi
done
# libiris(3) lists every page under Pages.
for page in man/*.[1-8]; do
	base=$(basename "$page")
	if ! sed -n '/^\.Ss Pages/,/^\.Sh/p' man/libiris.3 |
	    grep -q "^\.It Xr ${base%.*} ${base##*.}\$"; then
		echo "man: libiris(3) does not list $base under Pages" >&2
		fail=1
	fi
done
[ $fail = 0 ] && echo "man: $(ls man/*.[1-8] | wc -l) pages clean," \
    "$(wc -l < "$tmp/fns") public functions documented and linked"
exit $fail

#!/bin/sh
# SPDX-License-Identifier: ISC
# Lints every man page with groff's warnings on. groff exits 0 even on an
# undefined macro, so any output on stderr is a failure. Also checks that
# every public function of include/ is documented by some page, and that
# every page has EXAMPLES and SEE ALSO sections.
set -eu
fail=0
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
for fn in $(grep -ho '\biris_[a-z0-9_]*[[:space:]]*(' include/*.h |
    sed 's/[[:space:](]//g' | sort -u); do
	if ! grep -q "^\.Nm $fn\b\|^\.Fn $fn\b\|^\.Fo $fn\b" man/*.[1-8]; then
		echo "man: $fn is documented in no page" >&2
		fail=1
	fi
done
[ $fail = 0 ] && echo "man: $(ls man/*.[1-8] | wc -l) pages clean"
exit $fail

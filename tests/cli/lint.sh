#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every long option --help shows is documented in the man page and offered by
# both completions; every category name too; every column of each mode is in
# the man page's list for that mode; the man page renders cleanly.
. "$TESTS_SRCDIR/cli/lib.sh"

opts=$("$PMSCAN" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
[ -n "$opts" ] || bail "no options in --help"
for f in man/pmscan.1 completions/bash/pmscan completions/zsh/_pmscan; do
	missing=
	for o in $opts; do
		sed 's/\\//g' "$TOP_SRCDIR/$f" | grep -q -- "$o" || missing="$missing $o"
	done
	check "$f documents every option of --help${missing:+ (missing:$missing)}" [ -z "$missing" ]
	missing=
	for c in $("$PMSCAN" --list-categories -n | awk '{ print $1 }'); do
		sed 's/\\//g' "$TOP_SRCDIR/$f" | grep -q -- "$c" || missing="$missing $c"
	done
	check "$f names every category${missing:+ (missing:$missing)}" [ -z "$missing" ]
done
# The man page's column lists: each mode's subsection of OUTPUT names exactly
# the columns --list-columns prints for that mode, in its order.
man_columns() {
	awk -v sec="$1" '
		/^\.S[HS] / { t = substr($0, 5); gsub(/"/, "", t); on = ($0 ~ /^\.SS / && t == sec); next }
		on && prev ~ /^\.TP/ && /^\.B / { sub(/^\.B /, ""); gsub(/\\/, ""); print }
		{ prev = $0 }' "$TOP_SRCDIR/man/pmscan.1"
}
for m in "Region columns:" "Summary columns:-s" "Watch columns:--watch" "Category list columns:--list-categories"; do
	sec=${m%%:*}
	"$PMSCAN" ${m#*:} --list-columns -n -r | awk '{ print $1 }' >"$WORK/cols"
	man_columns "$sec" >"$WORK/man-cols"
	missing=$(comm -23 <(sort "$WORK/cols") <(sort "$WORK/man-cols") | paste -sd' ' -)
	check "man/pmscan.1 '$sec' has every column of --list-columns ${m#*:}${missing:+ (missing: $missing)}" \
		[ -s "$WORK/cols" -a -z "$missing" ]
	check "man/pmscan.1 '$sec' lists exactly those columns, in order" same "$WORK/cols" "$WORK/man-cols"
done
if command -v groff >/dev/null; then
	warnings=$(groff -man -ww -z "$TOP_SRCDIR/man/pmscan.1" 2>&1)
	check "man page renders without warnings" [ -z "$warnings" ]
else
	skip "man page renders without warnings" "groff is not installed"
fi
if bash -n "$TOP_SRCDIR/completions/bash/pmscan"; then ok 0 "bash completion parses"; else ok 1 "bash completion parses"; fi
if command -v zsh >/dev/null; then
	check "zsh completion parses" zsh -n "$TOP_SRCDIR/completions/zsh/_pmscan"
else
	skip "zsh completion parses" "zsh is not installed"
fi
done_testing

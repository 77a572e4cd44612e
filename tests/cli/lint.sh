#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every long option --help shows is documented in the man page and offered by
# both completions; every category name too; the man page renders cleanly.
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

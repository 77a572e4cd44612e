#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: written pages and mappings that are not tracked. Kernels
# differ in what PAGEMAP_SCAN says there (6.7 to 7.2: every page written,
# 7.3: none), so pmscan must know tracking from the mapping: in an untracked
# mapping no page is reported written, the mapping shows as untracked, and
# a tracked mapping next to it stays exact. Every scan names the uffd tracker:
# where the kernel has no async write-protect, auto would pick soft-dirty,
# which tracks every mapping (tests/cli/softdirty.sh).
. "$TESTS_SRCDIR/cli/lib.sh"

target_start
map U 300 anon
tcmd write U 0 1 200
RU=$(range "$U" 300)

run_pmscan -p "$T_PID" --tracker=uffd --summary --json --range="$RU"
if [ "$RC" -eq 3 ] && ! kernel_has pagemap_scan; then
	echo "1..0 # SKIP pmscan cannot scan here: $(kernel_lacks_reason pagemap_scan)"
	exit 0
fi
check "summary of a never-tracked mapping: exit 0" [ "$RC" -eq 0 ]
check "summary: the mapping shows as untracked" [ "$(jq -r '.mappings[0].tracked' "$WORK/out")" = false ]
# written_unavailable: pmscan refused 'written' (exit 3) where the kernel
# cannot track writes at all: a skip, with pmscan's reason.
written_unavailable() { [ "$RC" -eq 3 ] && ! kernel_has wp_async; }

run_pmscan -p "$T_PID" --tracker=uffd --written --addresses --range="$RU"
if written_unavailable; then
	skip "--written on an untracked mapping: exit 0" "$(head -n 1 "$WORK/err")"
else
	check "--written on an untracked mapping: exit 0" [ "$RC" -eq 0 ]
	[ "$RC" -eq 0 ] || diag "exit $RC: $(head -c 300 "$WORK/err")"
fi
check "--written on an untracked mapping: no page reported written" [ ! -s "$WORK/out" ]
run_pmscan -p "$T_PID" --tracker=uffd --json --range="$RU"
check "default scan of an untracked mapping: no region carries 'written'" \
	[ "$(jq '[.regions[] | select(.categories | index("written"))] | length' "$WORK/out")" = 0 ]
run_pmscan -p "$T_PID" --tracker=uffd --check-wpasync --written --range="$RU"
if written_unavailable; then
	skip "--check-wpasync over an untracked mapping: exit 1" "$(head -n 1 "$WORK/err")"
else
	check "--check-wpasync over an untracked mapping: exit 1" [ "$RC" -eq 1 ]
	[ "$RC" -eq 1 ] || diag "exit $RC: $(head -c 300 "$WORK/err")"
fi

if kernel_has wp_async; then
	map T 600 anon
	tcmd track T
	tcmd write T 5 7 40
	pages_of "$T" 5 7 40 >"$WORK/expect"
	RT=$(range "$T" 600)
	run_pmscan -p "$T_PID" --tracker=uffd --written --addresses --range="$RT"
	check "tracked mapping: exactly the pages written" same "$WORK/out" "$WORK/expect"
	check "tracked mapping alone: no untracked warning" [ ! -s "$WORK/err" ]
	run_pmscan -p "$T_PID" --tracker=uffd --summary --json --range="$RT"
	check "summary: the tracked mapping shows as tracked" [ "$(jq -r '.mappings[0].tracked' "$WORK/out")" = true ]
	run_pmscan -p "$T_PID" --tracker=uffd --written --addresses --range="$RU" --range="$RT"
	check "tracked and untracked together: only the tracked pages written" same "$WORK/out" "$WORK/expect"
else
	skip "tracked mapping next to an untracked one" "$(kernel_lacks_reason wp_async)"
fi
done_testing

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Written pages in a tracked area, page by page against what the target did:
# patterns large enough that one scan takes many PAGEMAP_SCAN batches, both
# kernel mask shapes (fast path and generic path), merging, dense and empty.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

target_start
# 48000 pages, every other one written: 24000 one-page regions, several
# times the 4096 regions pmscan asks for per call and 47 kernel refills.
N=48000
map A $N anon
tcmd track A
tcmd write A 0 2 24000
pages_of "$A" 0 2 24000 >"$WORK/expect"

run_pmscan -p "$T_PID" --written --addresses --range="$(range "$A" $N)"
check "sparse stride: exit 0" [ "$RC" -eq 0 ]
check "sparse stride: 24000 written pages, exactly those written" same "$WORK/out" "$WORK/expect"

# Text rows of a scan this large: every row's bounds exact, in order.
while read -r a; do printf '%s 0x%x\n' "$a" $((a + PAGE)); done <"$WORK/expect" >"$WORK/expect-rows"
run_pmscan -p "$T_PID" --written --raw --noheadings -o start,end --range="$(range "$A" $N)"
check "sparse stride: 24000 text rows, each region's bounds exact" same "$WORK/out" "$WORK/expect-rows"

run_pmscan -p "$T_PID" --written --json --range="$(range "$A" $N)"
check "sparse stride: 24000 separate regions" \
	[ "$(jq '.regions | length' "$WORK/out")" = 24000 ]
check "sparse stride: JSON total_pages 24000" [ "$(jq .total_pages "$WORK/out")" = 24000 ]

# The other kernel path: a return mask that is not just 'written'.
run_pmscan -p "$T_PID" --written --return=written,present --addresses --range="$(range "$A" $N)"
check "generic mask path: same pages as the fast path" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --anyof=written --return=written --addresses --range="$(range "$A" $N)"
check "anyof path: same pages" same "$WORK/out" "$WORK/expect"

# Runs of two written pages every five: regions must merge to 2 pages each,
# also where a batch boundary falls inside a run.
map B 30000 anon
tcmd track B
tcmd write B 0 5 6000
tcmd write B 1 5 6000
{ pages_of "$B" 0 5 6000; pages_of "$B" 1 5 6000; } | sort >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$B" 30000)"
sort "$WORK/out" >"$WORK/got"
check "runs of two: exactly the pages written" same "$WORK/got" "$WORK/expect"
run_pmscan -p "$T_PID" --written --json --range="$(range "$B" 30000)"
check "runs of two: 6000 regions of 2 pages each" \
	[ "$(jq '[.regions[] | select(.pages == 2)] | length' "$WORK/out")" = 6000 ]
for ((i = 0; i < 6000; i++)); do
	printf '0x%x 0x%x 0x2\n' $((B + 5 * i * PAGE)) $((B + (5 * i + 2) * PAGE))
done >"$WORK/expect"
json_to_raw <"$WORK/out" >"$WORK/got"
check "runs of two: region bounds exact" same "$WORK/got" "$WORK/expect"

# Dense: every page written is one region.
map C 5000 anon
tcmd track C
tcmd fill C
run_pmscan -p "$T_PID" --written --json --range="$(range "$C" 5000)"
check "dense: one region of 5000 pages" \
	[ "$(jq -c '[.regions[] | .pages]' "$WORK/out")" = "[5000]" ]
check "dense: region bounds are the area" \
	[ "$(jq -r '.regions[0] | .start + " " + .end' "$WORK/out")" = "$(printf '0x%x 0x%x' $((C)) $((C + 5000 * PAGE)))" ]

# Tracked and untouched, or only read: nothing written.
map D 4096 anon
tcmd track D
tcmd read D 0 3 1000
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$D" 4096)"
check "read-only faults are not writes" succeeded_empty
run_pmscan -p "$T_PID" --written --return=written,present,pfnzero --addresses --range="$(range "$D" 4096)"
check "read-only faults are not writes (generic path)" succeeded_empty

# MADV_DONTNEED on tracked memory reads as written (documented in pmscan(1)).
tcmd dontneed D 10 4
pages_of "$D" 10 1 4 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$D" 4096)"
check "MADV_DONTNEED pages read as written" same "$WORK/out" "$WORK/expect"

# Whole-process scan: area A appears with exactly its pages.
pages_of "$A" 0 2 24000 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses
check "whole process: exit 0" [ "$RC" -eq 0 ]
while read -r a; do
	((a >= A && a < A + N * PAGE)) && echo "$a"
done <"$WORK/out" >"$WORK/got"
check "whole process: area A has exactly its written pages" same "$WORK/got" "$WORK/expect"
done_testing

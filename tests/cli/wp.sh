#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --wp resets exactly what it reported; --max-pages with and without --wp;
# --range limits both the scan and the reset.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

target_start
N=40000
map A $N anon
tcmd track A
RA=$(range "$A" $N)

tcmd write A 0 2 20000
pages_of "$A" 0 2 20000 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --wp --addresses --range="$RA"
check "--wp reports the written pages" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "after --wp nothing reads as written" succeeded_empty
tcmd write A 1 4 5000
pages_of "$A" 1 4 5000 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "new writes after the reset: exactly those" same "$WORK/out" "$WORK/expect"
# The headline invocation, as the README writes it (whole process).
run_pmscan -p "$T_PID" --written --wp
check "'pmscan -p PID --written --wp' works as written" [ "$RC" -eq 0 -a "$(grep -c '^total:' "$WORK/out")" = 1 ]
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "the headline invocation reset area A" succeeded_empty

# --max-pages without --wp: the first N pages, ascending, and repeatable.
tcmd write A 0 3 9000
pages_of "$A" 0 3 9000 >"$WORK/all"
head -n 5000 "$WORK/all" >"$WORK/expect"
run_pmscan -p "$T_PID" --written --max-pages=5000 --addresses --range="$RA"
check "--max-pages 5000: the first 5000 written pages" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --written --max-pages=5000 --json --range="$RA"
check "--max-pages: JSON total_pages is the limit" [ "$(jq .total_pages "$WORK/out")" = 5000 ]
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "--max-pages without --wp leaves every page written" same "$WORK/out" "$WORK/all"

# --max-pages with --wp: exactly the reported pages are reset, including
# when the limit falls inside a multi-page region.
run_pmscan -p "$T_PID" --written --wp --max-pages=5000 --addresses --range="$RA"
check "--max-pages --wp: the first 5000 pages" same "$WORK/out" "$WORK/expect"
tail -n +5001 "$WORK/all" >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "--max-pages --wp: the rest stays written" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --written --wp --addresses --range="$RA"

map B 1024 anon
tcmd track B
tcmd write B 0 1 100
pages_of "$B" 0 1 7 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --wp --max-pages=7 --addresses --range="$(range "$B" 1024)"
check "limit inside a 100-page region: 7 pages reported" same "$WORK/out" "$WORK/expect"
pages_of "$B" 7 1 93 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$B" 1024)"
check "limit inside a region: the other 93 stay written" same "$WORK/out" "$WORK/expect"

# --range limits the scan and the reset: reset only the first half of A.
tcmd write A 0 2 20000
half=$((N / 2))
pages_of "$A" 0 2 $((half / 2)) >"$WORK/expect"
run_pmscan -p "$T_PID" --written --wp --addresses --range="$(range "$A" $half)"
check "--range --wp: reports only the range" same "$WORK/out" "$WORK/expect"
pages_of "$A" "$half" 2 $((half / 2)) >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "--range --wp: pages outside the range stay written" same "$WORK/out" "$WORK/expect"

# Two overlapping ranges are scanned once; two disjoint ones both count.
run_pmscan -p "$T_PID" --written --addresses --range="$RA" --range="$(range "$A" 100)"
check "overlapping ranges: no page twice" same "$WORK/out" "$WORK/expect"
r1=$(range $((A + half * PAGE)) 10)
r2=$(range $((A + (half + 100) * PAGE)) 10)
{ pages_of "$A" "$half" 2 5; pages_of "$A" $((half + 100)) 2 5; } >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$r2" --range="$r1"
check "disjoint ranges in any order: both, ascending" same "$WORK/out" "$WORK/expect"

# An unaligned range is widened to whole pages, and pmscan says so.
lo=$(printf '0x%x' $((A + half * PAGE + 100)))
hi=$(printf '%x' $((A + (half + 4) * PAGE - 100)))
pages_of "$A" "$half" 2 2 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$lo-$hi"
check "unaligned range: the pages it touches" same "$WORK/out" "$WORK/expect"
check "unaligned range: a note on stderr" grep -q "rounded out to whole pages" "$WORK/err"
done_testing

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: --arm exactness on the running kernel. Pages written after
# arming, in memory populated before arming and in memory never touched
# (2 MiB ranges with no page table when armed: the 6.12.95 WP_MATCHING bug
# reported all 512 pages of such a range written), with both kernel mask
# shapes, then --wp and --disarm.
. "$TESTS_SRCDIR/cli/lib.sh"

require_arming
require_kernel pagemap_scan wp_async

target_start
# A: 4096 pages (8 PMD ranges), the first 1024 written before arming.
# B: 4096 pages never touched at all.
map A 4096 anon
map B 4096 anon
tcmd write A 0 1 1024
RA=$(range "$A" 4096)
RB=$(range "$B" 4096)

run_pmscan --arm -p "$T_PID"
check "--arm: exit 0" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(head -c 300 "$WORK/err")"
run_pmscan -p "$T_PID" --written --addresses --range="$RA" --range="$RB"
check "right after --arm nothing reads as written" succeeded_empty

tcmd write A 0 7 100         # populated before arming
tcmd write A 1100 301 10     # never touched, page tables partly there
tcmd write B 5 513 8         # never touched, one page per 2 MiB range
{ pages_of "$A" 0 7 100; pages_of "$A" 1100 301 10; pages_of "$B" 5 513 8; } | sort -u >"$WORK/expect"

run_pmscan -p "$T_PID" --written --addresses --range="$RA" --range="$RB"
sort "$WORK/out" >"$WORK/got"
check "fast mask path: exactly the pages written (incl. never-touched)" same "$WORK/got" "$WORK/expect"
diag "reported $(wc -l <"$WORK/got"), written $(wc -l <"$WORK/expect")"
run_pmscan -p "$T_PID" --written --return=written,present --addresses --range="$RA" --range="$RB"
sort "$WORK/out" >"$WORK/got"
check "generic mask path: exactly the pages written" same "$WORK/got" "$WORK/expect"

# The kernel's own view agrees: pagemap's uffd-wp bit is clear exactly on them.
{ "$HELPERS/pagemap" "$T_PID" "$A" 4096; "$HELPERS/pagemap" "$T_PID" "$B" 4096; } |
	awk '$2 == 1 && $6 == 0 { print $1 }' | sort >"$WORK/got"
check "pagemap: uffd-wp clear exactly on the pages written" same "$WORK/got" "$WORK/expect"

run_pmscan -p "$T_PID" --wp --addresses --range="$RA" --range="$RB"
sort "$WORK/out" >"$WORK/got"
check "--wp reports the same pages" same "$WORK/got" "$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA" --range="$RB"
check "after --wp nothing reads as written" succeeded_empty
tcmd write B 2000 3 40
tcmd write A 3000 1 20
{ pages_of "$B" 2000 3 40; pages_of "$A" 3000 1 20; } | sort -u >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA" --range="$RB"
sort "$WORK/out" >"$WORK/got"
check "writes after --wp: exactly those" same "$WORK/got" "$WORK/expect"

# A mapping created after arming is registered by the next scan (which reads
# all of it as written once, see tests/cli/arm.sh), then tracked exactly,
# its never-touched pages included.
map C 2048 anon
tcmd write C 0 9 50
run_pmscan -p "$T_PID" --wp --addresses --range="$(range "$C" 2048)"
check "new mapping after --arm: the scan that registers it succeeds" [ "$RC" -eq 0 ]
tcmd write C 4 9 50
tcmd write C 1024 97 10
{ pages_of "$C" 4 9 50; pages_of "$C" 1024 97 10; } | sort >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$C" 2048)"
sort "$WORK/out" >"$WORK/got"
check "new mapping: exactly the pages written after its registration" same "$WORK/got" "$WORK/expect"

run_pmscan --disarm -p "$T_PID"
check "--disarm: exit 0" [ "$RC" -eq 0 ]
check "--disarm: no userfaultfd left in the target" [ "$(uffds "$T_PID")" = 0 ]
tcmd pid
check "the target still answers" [ "$R" = "$T_PID" ]
done_testing

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: hugetlb memory (the guest boots with hugepages=16): present
# and huge categories against what the target touched, and written pages
# at huge-page granularity once tracked.
. "$TESTS_SRCDIR/cli/lib.sh"

require_kernel hugetlb
target_start
HP=$(awk '/^Hugepagesize:/ { print $2 * 1024 }' /proc/meminfo)
PPH=$((HP / PAGE))
map H $((4 * PPH)) hugetlb
tcmd write H 0 "$PPH" 2          # huge pages 0 and 1
RH=$(range "$H" $((4 * PPH)))

run_pmscan -p "$T_PID" --present --json --range="$RH"
if [ "$RC" -eq 3 ] && ! kernel_has pagemap_scan; then
	echo "1..0 # SKIP pmscan cannot scan here: $(kernel_lacks_reason pagemap_scan)"
	exit 0
fi
check "hugetlb --present: exit 0" [ "$RC" -eq 0 ]
check "hugetlb --present: the two huge pages touched" [ "$(jq .total_pages "$WORK/out")" = $((2 * PPH)) ]
"$HELPERS/pagemap" "$T_PID" "$H" $((4 * PPH)) | awk '$2 == 1' | wc -l >"$WORK/expect"
jq .total_pages "$WORK/out" >"$WORK/got"
check "hugetlb --present: as many pages as pagemap shows present" same "$WORK/got" "$WORK/expect"
run_pmscan -p "$T_PID" --huge --present --json --range="$RH"
check "hugetlb --huge: the same pages are huge" [ "$(jq .total_pages "$WORK/out")" = $((2 * PPH)) ]

if kernel_has wp_async; then
	tcmd track H
	run_pmscan -p "$T_PID" --written --addresses --range="$RH"
	check "tracked hugetlb: nothing written after protecting" succeeded_empty
	tcmd write H $((2 * PPH + 5)) 1 1   # one byte in huge page 2
	pages_of "$H" $((2 * PPH)) 1 "$PPH" >"$WORK/expect"
	run_pmscan -p "$T_PID" --written --addresses --range="$RH"
	check "tracked hugetlb: one write marks its whole huge page" same "$WORK/out" "$WORK/expect"
else
	skip "tracked hugetlb" "$(kernel_lacks_reason wp_async)"
fi
done_testing

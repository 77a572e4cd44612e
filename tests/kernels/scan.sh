#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: a plain scan (no tracking) against /proc/PID/pagemap on the
# running kernel: present pages of anonymous memory written, read (zero
# page), dropped, and of a file mapping; nothing swapped without swap.
. "$TESTS_SRCDIR/cli/lib.sh"

# pm_pages BASE PAGES COLUMN: the addresses whose pagemap COLUMN is 1
# (2 present, 3 swapped, 4 file, 5 soft-dirty, 6 uffd-wp).
pm_pages() {
	"$HELPERS/pagemap" "$T_PID" "$1" "$2" | awk -v c="$3" '$c == 1 { print $1 }'
}

target_start
N=3000
map A $N anon
tcmd write A 0 3 600
tcmd read A 1 3 600
tcmd dontneed A 30 60
RA=$(range "$A" $N)

run_pmscan -p "$T_PID" --present --addresses --range="$RA"
if [ "$RC" -eq 3 ] && ! kernel_has pagemap_scan; then
	echo "1..0 # SKIP pmscan cannot scan here: $(kernel_lacks_reason pagemap_scan): $(head -n 1 "$WORK/err")"
	exit 0
fi
check "anon --present: exit 0" [ "$RC" -eq 0 ]
pm_pages "$A" $N 2 >"$WORK/expect"
check "anon: pagemap shows the pages touched and not dropped" [ "$(wc -l <"$WORK/expect")" -gt 1000 ]
check "anon --present: exactly pagemap's present pages" same "$WORK/out" "$WORK/expect"

run_pmscan -p "$T_PID" --exclude=present --addresses --range="$RA"
comm -23 <(pages_of "$A" 0 1 $N | sort) <(sort "$WORK/expect") | sort >"$WORK/absent"
sort "$WORK/out" >"$WORK/got"
check "anon --exclude=present: exactly the pages pagemap shows absent" same "$WORK/got" "$WORK/absent"

pm_pages "$A" $N 3 >"$WORK/expect"
run_pmscan -p "$T_PID" --swapped --addresses --range="$RA"
check "anon --swapped: exactly pagemap's swapped pages" same "$WORK/out" "$WORK/expect"

# A file mapping, partly read: present and file-backed.
F=$WORK/file
head -c $((512 * PAGE)) /dev/zero | tr '\0' x >"$F"
map B 512 "file:$F"
tcmd read B 0 5 100
RB=$(range "$B" 512)
run_pmscan -p "$T_PID" --present --addresses --range="$RB"
pm_pages "$B" 512 2 >"$WORK/expect"
check "file --present: exactly pagemap's present pages" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --file --present --addresses --range="$RB"
check "file --file --present: the same pages, all file-backed" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --file --addresses --range="$RA"
check "anon --file: nothing" succeeded_empty

# Whole process, JSON: the anonymous area's present pages agree again.
run_pmscan -p "$T_PID" --present --json
check "whole process --present --json: exit 0 and parses" parses "$WORK/out"
pm_pages "$A" $N 2 | wc -l >"$WORK/expect"
n=0
while read -r s e _; do
	((s >= A && s < A + N * PAGE)) && n=$((n + (e - s) / PAGE))
done < <(json_to_raw <"$WORK/out")
echo "$n" >"$WORK/got"
check "whole process: area A's present page count as pagemap" same "$WORK/got" "$WORK/expect"
done_testing

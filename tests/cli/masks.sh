#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every selection option against a direct PAGEMAP_SCAN (tests/helpers/rawscan)
# on the same target, and file-backed, zero-page and THP memory against
# what the target did.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel pagemap_scan wp_async

target_start
# A tracked area in every state: written, read (zero page), untouched,
# written then dropped.
N=6000
map A $N anon
tcmd track A
tcmd write A 0 7 800
tcmd read A 3 7 800
tcmd dontneed A 700 50
RA=$(range "$A" $N)
END=$((A + N * PAGE))

# Without swap no page is swapped: pmscan does not report the kernel's
# write-protect markers (in the tracked area A) as swap entries, so the
# reference drops that bit from what it returns.
NOSWAP=$(awk '/^SwapTotal:/ { print ($2 == 0) }' /proc/meminfo)

# compare DESCRIPTION "PMSCAN OPTIONS" FLAGS INVERTED MASK ANYOF RETURN
compare() {
	local desc=$1 opts=$2
	shift 2
	if [ "$NOSWAP" = 1 ]; then
		set -- "$1" "$2" "$3" "$4" "$(printf '0x%x' $(($5 & ~0x10)))" "${@:6}"
	fi
	# shellcheck disable=SC2086
	run_pmscan -p "$T_PID" $opts --json --range="$RA"
	if [ "$RC" -ne 0 ]; then
		diag "pmscan exit $RC: $(cat "$WORK/err")"
		ok 1 "$desc"
		return
	fi
	json_to_raw <"$WORK/out" >"$WORK/got"
	"$HELPERS/rawscan" "$T_PID" "$A" "$END" "$@" >"$WORK/expect" || bail "rawscan failed"
	if [ ! -s "$WORK/expect" ]; then
		diag "the reference found nothing: the test setup is wrong"
		ok 1 "$desc"
		return
	fi
	check "$desc" same "$WORK/got" "$WORK/expect"
}

ALL=0x$(printf '%x' $(( $( "$PMSCAN" --list-categories -n | awk '$2 == "yes" { print NR - 1 }' |
	while read -r b; do echo "+(1<<$b)"; done | tr -d '\n') )))
compare "--written" "--written" 0 0 0x2 0 0x2
compare "--present" "--present" 0 0 0x8 0 0x8
compare "--pfnzero" "--pfnzero" 0 0 0x20 0 0x20
if [ "$NOSWAP" = 1 ]; then
	run_pmscan -p "$T_PID" --swapped --addresses --range="$RA"
	check "--swapped with no swap configured: nothing, though the kernel reports markers as swap" \
		cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ] && [ -n "$("$HELPERS/rawscan" "$T_PID" "$A" "$END" 0 0 0x10 0 0x10)" ]'
else
	compare "--swapped (protected holes read as swapped)" "--swapped" 0 0 0x10 0 0x10
fi
compare "--require=present,written" "--require=present,written" 0 0 0xa 0 0xa
compare "--require=0xa (numeric)" "--require=0xa" 0 0 0xa 0 0xa
compare "--anyof=written,pfnzero" "--anyof=written,pfnzero" 0 0 0 0x22 0x22
compare "--exclude=written with --present" "--present --exclude=written" 0 0x2 0xa 0 0x8
compare "--exclude=present alone" "--exclude=present --return=written,swapped" 0 0x8 0x8 0 0x12
compare "--return=present,pfnzero with --anyof" "--anyof=present --return=present,pfnzero" 0 0 0 0x8 0x28
compare "no selection: every known category" "" 0 0 0 0 "$ALL"
compare "--max-pages=123 --present" "--present --max-pages=123" 0 0 0x8 0 0x8 123

# Zero-page reads are exactly the pages read (but those dropped later).
pages_of "$A" 3 7 800 | while read -r p; do
	((p >= A + 700 * PAGE && p < A + 750 * PAGE)) || echo "$p"
done | sort >"$WORK/expect"
run_pmscan -p "$T_PID" --pfnzero --addresses --range="$RA"
sort "$WORK/out" >"$WORK/got"
check "--pfnzero: exactly the pages only read" same "$WORK/got" "$WORK/expect"

# File-backed: a shared file mapping with some pages touched.
head -c $((256 * PAGE)) /dev/urandom >"$WORK/file"
map F 256 "file:$WORK/file"
tcmd read F 0 4 64
pages_of "$F" 0 4 64 >"$WORK/expect"
# Fault-around maps neighbours of a touched page too, so the touched pages
# must all be present, and the rest is held to the ioctl below.
run_pmscan -p "$T_PID" --file --present --addresses --range="$(range "$F" 256)"
check "--file --present: every touched page of a file mapping" \
	[ -z "$(comm -23 "$WORK/expect" "$WORK/out")" ]
run_pmscan -p "$T_PID" --file --json --range="$(range "$F" 256)"
check "--file: categories name 'file'" \
	[ "$(jq -r '[.regions[].categories[]] | unique | join(",")' "$WORK/out")" = file ]
"$HELPERS/rawscan" "$T_PID" "$F" $((F + 256 * PAGE)) 0 0 0x4 0 0xc >"$WORK/expect"
run_pmscan -p "$T_PID" --file --return=file,present --json --range="$(range "$F" 256)"
json_to_raw <"$WORK/out" >"$WORK/got"
check "--file --return=file,present against the ioctl" same "$WORK/got" "$WORK/expect"

# Shared anonymous memory reads as file-backed (shmem).
map S 64 shared
tcmd write S 0 1 64
run_pmscan -p "$T_PID" --file --present --json --range="$(range "$S" 64)"
check "shared anonymous memory is 'file'" [ "$(jq .total_pages "$WORK/out")" = 64 ]

# THP: a written 2 MiB huge page reports as huge, all 512 pages.
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
case $thp in
*"[never]"*|"") skip "--huge on THP" "transparent huge pages are disabled or absent" ;;
*)
	map H 1024 thp
	tcmd write H 0 512 2
	run_pmscan -p "$T_PID" --huge --json --range="$(range "$H" 1024)"
	huge=$(jq .total_pages "$WORK/out")
	if [ "$huge" = 0 ] && ! grep -q 'AnonHugePages: *[1-9]' "/proc/$T_PID/smaps_rollup"; then
		skip "--huge on THP" "the kernel gave this process no huge page (memory fragmented?)"
	else
		grep AnonHugePages "/proc/$T_PID/smaps_rollup" | sed 's/^/# /'
		check "--huge: both 2 MiB pages, 1024 pages" [ "$huge" = 1024 ]
		"$HELPERS/rawscan" "$T_PID" "$H" $((H + 1024 * PAGE)) 0 0 0x40 0 0x48 >"$WORK/expect"
		run_pmscan -p "$T_PID" --huge --return=huge,present --json --range="$(range "$H" 1024)"
		json_to_raw <"$WORK/out" >"$WORK/got"
		check "--huge against the ioctl" same "$WORK/got" "$WORK/expect"
	fi
	;;
esac

# The kernel's answer to a category it lacks is exit 3, named.
unknown=$("$PMSCAN" --list-categories -n | awk '$2 == "no" { print $1; exit }')
if [ -n "$unknown" ]; then
	expect_exit 3 "a category the kernel lacks: exit 3" "category '$unknown' is not available with the ioctl engine: " \
		-p "$T_PID" --require="$unknown"
else
	skip "a category the kernel lacks: exit 3" "this kernel knows every category pmscan knows"
fi
done_testing

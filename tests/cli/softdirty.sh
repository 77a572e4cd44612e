#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The soft-dirty tracker (--tracker=soft-dirty): --arm and --wp reset with
# clear_refs, 'written' is the soft-dirty bit; exactly the pages the target
# wrote after a reset, through each engine that can read the bit, page by
# page; the whole-process limits refused or noted; and, where the kernel
# has both trackers, both give the same exact answer for the same writes.
# Where the kernel has no soft-dirty, every check skips with the reason
# and --tracker=soft-dirty must fail naming it.
# tests/kernels/softdirty.sh sources this file (SOFTDIRTY_SOURCED=1) so the
# kernel matrix runs it on every kernel.
if [ -z "${SOFTDIRTY_SOURCED:-}" ]; then
	. "$TESTS_SRCDIR/cli/lib.sh"
fi

sd_cases=(
	"--arm resets: nothing reads written right after"
	"read engine: exactly the pages written after the reset"
	"ioctl engine: exactly the pages written after the reset"
	"JSON regions carry 'written'"
	"whole-process scan: the area's pages exactly"
	"--wp reports the writes of the whole process and resets them"
	"after --wp: nothing written until the next write"
	"after --wp: exactly the new writes"
	"read faults are not writes"
	"before the first reset every page written since start reads written, with a note"
	"a mapping created after the reset: noted on stderr"
	"--disarm: nothing to undo, said so"
	"both trackers: the same exact pages for the same writes"
	"--watch: intervals count the ticker's pages, each once"
	"a page dropped with MADV_DONTNEED reads clean"
)

if ! kernel_has soft_dirty; then
	why=$(kernel_lacks_reason soft_dirty)
	expect_exit 3 "no soft-dirty: --tracker=soft-dirty fails naming why" \
		"soft-dirty tracker cannot work here: .*(CONFIG_MEM_SOFT_DIRTY|architecture)" \
		-p $$ --tracker=soft-dirty --written
	expect_exit 3 "no soft-dirty: --tracker=soft-dirty --arm fails naming why" \
		"soft-dirty tracker cannot work here" -p $$ --tracker=soft-dirty --arm
	check "no soft-dirty: --list-categories --tracker=soft-dirty: 'written' unavailable, and why" \
		cond '"$PMSCAN" --list-categories --tracker=soft-dirty --json | jq -e '\''.categories[] | select(.category == "written") | .kernel == false and (.reason | test("soft-dirty"))'\'' >/dev/null'
	# The other tracker still answers exactly here.
	if kernel_has wp_async; then
		target_start
		map E 600 nothp
		tcmd track E
		tcmd write E 5 7 40
		pages_of "$E" 5 7 40 >"$WORK/expect"
		run_pmscan -p "$T_PID" --tracker=uffd --written --addresses --range="$(range "$E" 600)"
		check "--tracker=uffd: exactly the pages written" \
			cond '[ "$RC" -eq 0 ] && same "$WORK/out" "$WORK/expect"'
		target_stop
	else
		skip "--tracker=uffd: exactly the pages written" "$(kernel_lacks_reason wp_async)"
	fi
	for c in "${sd_cases[@]}"; do
		skip "soft-dirty tracker: $c" "$why"
	done
	[ -n "${SOFTDIRTY_SOURCED:-}" ] || done_testing
	return 0 2>/dev/null || exit 0
fi

SD=--tracker=soft-dirty
check "--list-categories --tracker=soft-dirty: 'written' is the soft-dirty bit" \
	cond '"$PMSCAN" --list-categories --tracker=soft-dirty | grep -qE "^written +yes +soft-dirty since the last reset"'
# in_area BASE PAGES: the addresses of standard input inside the area.
in_area() {
	local a
	while read -r a; do
		((a >= $1 && a < $1 + $2 * PAGE)) && echo "$a"
	done
}
# why_not: what pmscan said, for a failed check.
why_not() {
	diag "exit $RC; stderr: $(head -c 300 "$WORK/err"); stdout: $(head -c 200 "$WORK/out" | tr '\n' ' ')"
	grep VmFlags "/proc/$T_PID/smaps" | sort | uniq -c | sed 's/^/# /'
}
# sdcheck DESCRIPTION COMMAND...: check, saying what pmscan said on failure.
sdcheck() {
	local d=$1
	shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; why_not; fi
}
target_start
N=3000
map A $N nothp
map D 400 nothp
map E 600 nothp
tcmd fill A
RA=$(range "$A" $N)

# Never reset: every page written since the process started is written.
run_pmscan -p "$T_PID" $SD --written --addresses --range="$RA"
pages_of "$A" 0 1 $N >"$WORK/expect"
sdcheck "soft-dirty tracker: before the first reset every page written since start reads written, with a note" \
	cond '[ "$RC" -eq 0 ] && same "$WORK/out" "$WORK/expect" && grep -q "not been reset since it started" "$WORK/err"'

if kernel_has wp_async; then
	tcmd track E
fi
run_pmscan -p "$T_PID" $SD --arm
sdcheck "--tracker=soft-dirty --arm: exit 0, reset reported" \
	cond '[ "$RC" -eq 0 ] && grep -q "^reset the soft-dirty bits of process $T_PID" "$WORK/out"'
sdcheck "--tracker=soft-dirty --arm: one note on its limits" \
	cond '[ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "whole process" "$WORK/err"'
run_pmscan -p "$T_PID" $SD --written --addresses --range="$RA"
sdcheck "soft-dirty tracker: --arm resets: nothing reads written right after" succeeded_empty

tcmd write A 3 11 150
tcmd write A 1500 1 30
tcmd write A 2999 1 1
{ pages_of "$A" 3 11 150; pages_of "$A" 1500 1 30; pages_of "$A" 2999 1 1; } | sort -u >"$WORK/expect"
tcmd read D 0 3 100
tcmd write E 5 7 40
pages_of "$E" 5 7 40 >"$WORK/expect-e"

run_pmscan -p "$T_PID" $SD --engine=read --written --addresses --range="$RA"
sort "$WORK/out" >"$WORK/got"
sdcheck "soft-dirty tracker: read engine: exactly the pages written after the reset" \
	cond '[ "$RC" -eq 0 ] && same "$WORK/got" "$WORK/expect"'
if kernel_has pagemap_scan && kernel_knows soft-dirty; then
	run_pmscan -p "$T_PID" $SD --engine=ioctl --written --addresses --range="$RA"
	sort "$WORK/out" >"$WORK/got"
	sdcheck "soft-dirty tracker: ioctl engine: exactly the pages written after the reset" \
		cond '[ "$RC" -eq 0 ] && same "$WORK/got" "$WORK/expect"'
	# The generic kernel path: more than the one category returned.
	run_pmscan -p "$T_PID" $SD --engine=ioctl --written --return=written,present --addresses --range="$RA"
	sort "$WORK/out" >"$WORK/got"
	sdcheck "soft-dirty tracker: ioctl engine, generic mask path: the same pages" same "$WORK/got" "$WORK/expect"
else
	skip "soft-dirty tracker: ioctl engine: exactly the pages written after the reset" \
		"the kernel's PAGEMAP_SCAN has no SOFT_DIRTY category (Linux 6.8+), or no PAGEMAP_SCAN"
fi
run_pmscan -p "$T_PID" $SD --written --json --range="$RA"
sdcheck "soft-dirty tracker: JSON regions carry 'written'" \
	cond '[ "$RC" -eq 0 ] && [ "$(jq "[.regions[] | select(.categories | index(\"written\"))] | length" "$WORK/out")" = "$(jq ".regions | length" "$WORK/out")" ] && [ "$(jq .total_pages "$WORK/out")" = "$(wc -l <"$WORK/expect")" ]'
run_pmscan -p "$T_PID" $SD --written --addresses
in_area "$A" $N <"$WORK/out" | sort >"$WORK/got"
sdcheck "soft-dirty tracker: whole-process scan: the area's pages exactly" \
	cond '[ "$RC" -eq 0 ] && same "$WORK/got" "$WORK/expect"'
run_pmscan -p "$T_PID" $SD --written --addresses --range="$(range "$D" 400)"
sdcheck "soft-dirty tracker: read faults are not writes" succeeded_empty

# Both trackers on the same writes: area E is also registered for async
# write-protect by the target itself (tracked before the reset above).
if kernel_has wp_async; then
	run_pmscan -p "$T_PID" --tracker=uffd --written --addresses --range="$(range "$E" 600)"
	cp "$WORK/out" "$WORK/uffd"
	run_pmscan -p "$T_PID" $SD --written --addresses --range="$(range "$E" 600)"
	sdcheck "soft-dirty tracker: both trackers: the same exact pages for the same writes" \
		cond 'same "$WORK/uffd" "$WORK/expect-e" && same "$WORK/out" "$WORK/expect-e"'
else
	skip "soft-dirty tracker: both trackers: the same exact pages for the same writes" \
		"$(kernel_lacks_reason wp_async)"
fi

# --wp: the whole process's writes, then a reset of all of them.
run_pmscan -p "$T_PID" $SD --written --wp --addresses
in_area "$A" $N <"$WORK/out" | sort >"$WORK/got"
sdcheck "soft-dirty tracker: --wp reports the writes of the whole process and resets them" \
	cond '[ "$RC" -eq 0 ] && same "$WORK/got" "$WORK/expect" && grep -qx "$(pages_of "$E" 5 1 1)" "$WORK/out"'
run_pmscan -p "$T_PID" $SD --written --addresses --range="$RA"
sdcheck "soft-dirty tracker: after --wp: nothing written until the next write" succeeded_empty
tcmd write A 100 2 10
pages_of "$A" 100 2 10 >"$WORK/expect"
run_pmscan -p "$T_PID" $SD --written --addresses --range="$RA"
sdcheck "soft-dirty tracker: after --wp: exactly the new writes" \
	cond '[ "$RC" -eq 0 ] && same "$WORK/out" "$WORK/expect"'
# MADV_DONTNEED empties the entry, and with it the bit (pmscan(1) says so).
tcmd dontneed A 100 1
pages_of "$A" 102 2 9 >"$WORK/expect"
run_pmscan -p "$T_PID" $SD --written --addresses --range="$RA"
sdcheck "soft-dirty tracker: a page dropped with MADV_DONTNEED reads clean" \
	cond '[ "$RC" -eq 0 ] && same "$WORK/out" "$WORK/expect"'

# What a reset of the whole process cannot do is refused.
expect_exit 2 "--tracker=soft-dirty --arm --range: refused" "whole process" \
	-p "$T_PID" $SD --arm --range="$RA"
expect_exit 2 "--tracker=soft-dirty --wp --range: refused" "whole process" \
	-p "$T_PID" $SD --wp --range="$RA"
expect_exit 2 "--tracker=soft-dirty --wp --max-pages: refused" "whole process" \
	-p "$T_PID" $SD --wp --max-pages=3

# A mapping made after the reset reads written in full: said on stderr.
map C 50 nothp
run_pmscan -p "$T_PID" $SD --written --addresses --range="$(range "$C" 50)"
sdcheck "soft-dirty tracker: a mapping created after the reset: noted on stderr" \
	cond '[ "$RC" -eq 0 ] && grep -q "created, grown, merged or moved since the last soft-dirty reset" "$WORK/err"'

run_pmscan -p "$T_PID" $SD --disarm
sdcheck "soft-dirty tracker: --disarm: nothing to undo, said so" \
	cond '[ "$RC" -eq 0 ] && grep -q "nothing to undo" "$WORK/out"'

# --watch resets every interval with clear_refs: a ticker's distinct pages
# are each counted once (none wraps in 20000 pages).
map W 20000 nothp
tcmd ticker W 50 100
"$PMSCAN" $SD --watch=0.5 --count=4 --json -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
RC=$?
total=$(jq -s '[.[] | select(.summary == true)][0].written_pages // 0' "$WORK/out" 2>/dev/null)
distinct=$(jq -s '[.[] | select(.summary == true)][0].distinct_pages // 0' "$WORK/out" 2>/dev/null)
diag "--watch: total ${total:-?}, distinct ${distinct:-?}"
sdcheck "soft-dirty tracker: --watch: intervals count the ticker's pages, each once" \
	cond '[ "$RC" -eq 0 ] && [ "${total:-0}" -gt 0 ] && [ "$(jq -n --argjson t "$total" --argjson d "$distinct" '"'"'$d <= $t and $d >= 0.95 * $t'"'"')" = true ]'

target_stop
[ -n "${SOFTDIRTY_SOURCED:-}" ] || done_testing

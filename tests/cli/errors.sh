#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every error path with its exit code and its one-line message; the
# untracked-mapping warning and --check-wpasync; permissions as an
# ordinary user; targets that are gone, zombies, or exit mid-scan.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

target_start
map A 2000 anon
tcmd track A
tcmd write A 0 2 1000
RA=$(range "$A" 2000)

# Usage errors: exit 2, the bad value named.
expect_exit 2 "invalid pid" "invalid pid 'abc'" -p abc
expect_exit 2 "pid 0" "invalid pid '0'" -p 0
expect_exit 2 "no pid" "no process given" --written
expect_exit 2 "unknown category" "unknown category 'writen'" -p "$T_PID" --require=writen
expect_exit 2 "unknown category in a list" "unknown category 'bogus'" -p "$T_PID" --anyof=present,bogus
expect_exit 2 "empty category list item" "empty category" -p "$T_PID" --require=present,
expect_exit 2 "numeric mask with an unknown bit" "unknown category '0x10000'" -p "$T_PID" --require=0x10000
expect_exit 2 "required and excluded" "category 'file' is both wanted and excluded" \
	-p "$T_PID" --require=file --exclude=file
expect_exit 2 "any-of and excluded" "category 'present' is both wanted and excluded" \
	-p "$T_PID" --anyof=present,written --exclude=present
expect_exit 2 "--wp with written excluded" "'written' cannot be excluded" -p "$T_PID" --wp --exclude=written
expect_exit 2 "invalid range" "invalid range 'zzz'" -p "$T_PID" --range=zzz
expect_exit 2 "empty range" "invalid range '0x2000-0x1000'" -p "$T_PID" --range=0x2000-0x1000
expect_exit 2 "range with a bad length" "invalid range '0x1000\+12Q'" -p "$T_PID" --range=0x1000+12Q
expect_exit 2 "--max-pages=0" "invalid page count '0'" -p "$T_PID" --max-pages=0
expect_exit 2 "--max-pages=x" "invalid page count 'x'" -p "$T_PID" --max-pages=x
expect_exit 2 "--addresses with --json" "--addresses takes no --json" -p "$T_PID" --addresses --json
expect_exit 2 "--addresses with --summary" "exclude each other" -p "$T_PID" --addresses --summary
expect_exit 2 "stray argument" "unexpected argument 'foo'" -p "$T_PID" foo
expect_exit 2 "unknown option" "unrecognized option" -p "$T_PID" --frobnicate

# --help and --version go to stdout and succeed.
run_pmscan --help
check "--help: exit 0, exit codes listed" [ "$RC" -eq 0 -a "$(grep -c '^  [0-3]  ' "$WORK/out")" = 4 ]
run_pmscan --version
check "--version: exit 0" [ "$RC" -eq 0 -a -s "$WORK/out" ]

# Processes that are not there.
sh -c 'exit 0' &
gone=$!
wait $gone
expect_exit 1 "no such process" "no such process: $gone" -p $gone --written
if make_zombie; then
	expect_exit 1 "a zombie" "process $ZOMBIE has exited" -p "$ZOMBIE" --written
else
	skip "a zombie" "could not make a zombie process in 5 s"
fi
end_zombie

# Write errors on stdout.
"$PMSCAN" -p "$T_PID" --written --range="$RA" >/dev/full 2>"$WORK/err"
RC=$?
check "stdout is /dev/full: exit 1" [ "$RC" -eq 1 ]
check "stdout is /dev/full: 'write error' said" grep -q "write error" "$WORK/err"

# Untracked memory: the warning, and what --check-wpasync and --wp do.
map U 300 anon
tcmd write U 0 1 300
RU=$(range "$U" 300)
run_pmscan -p "$T_PID" --written --addresses --range="$RU"
check "untracked --written: exit 0" [ "$RC" -eq 0 ]
# Written exists only where tracking is (the kernels disagree elsewhere:
# 6.7-7.2 call every page written, 7.3 none), so nothing is reported.
check "untracked --written: no page reported written" [ ! -s "$WORK/out" ]
check "untracked --written: a one-line warning naming the cause" \
	[ "$(grep -c 'not tracked for writes, so which of their pages were written is unknown' "$WORK/err")" = 1 ]
run_pmscan -p "$T_PID" --json --range="$RU"
check "untracked, no selection: no region says written" \
	[ "$RC" -eq 0 -a "$(jq '[.regions[].categories[] | select(. == "written")] | length' "$WORK/out")" = 0 ]
run_pmscan -p "$T_PID" --written --range="$RA"
check "tracked only: no warning" [ "$RC" -eq 0 -a ! -s "$WORK/err" ]
run_pmscan -p "$T_PID" --present --range="$RU"
check "no written in the selection: no warning" [ "$RC" -eq 0 -a ! -s "$WORK/err" ]
run_pmscan -p "$T_PID" --written --wp --addresses --range="$RU"
check "untracked --wp: nothing reported" succeeded_empty
check "untracked --wp: warned that they were skipped" grep -q "were skipped" "$WORK/err"

expect_exit 1 "--check-wpasync over untracked memory" "mapping 0x[0-9a-f]+-0x[0-9a-f]+ .* is not tracked for writes" \
	-p "$T_PID" --written --wp --check-wpasync
pages_of "$A" 0 2 1000 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
check "--check-wpasync refused before resetting anything" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --written --check-wpasync --addresses --range="$RA"
check "--check-wpasync over tracked memory succeeds" same "$WORK/out" "$WORK/expect"

# A target that exits in the middle of a scan: pmscan blocks writing to a
# pipe while the reader kills the target, then resumes.
map B 60000 anon
tcmd track B
tcmd write B 0 2 30000

# Output errors of a large scan (many buffer flushes): said once, and a
# closed pipe ends pmscan as it ends any filter.
RB=$(range "$B" 60000)
"$PMSCAN" -p "$T_PID" --written --range="$RB" >/dev/full 2>"$WORK/err"
RC=$?
check "30000 rows to /dev/full: exit 1, one line: 'write error: No space left on device'" \
	cond '[ "$RC" -eq 1 ] && [ "$(cat "$WORK/err")" = "pmscan: write error: No space left on device" ]'
sigign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status)
if (((0x${sigign:-0} >> 12) & 1)); then
	skip "30000 rows into a pipe closed early: SIGPIPE" "SIGPIPE is ignored by whatever started the suite, and cannot be restored from a shell"
else
	"$PMSCAN" -p "$T_PID" --written --json --range="$RB" 2>"$WORK/err" | head -c 100 >/dev/null
	RC=${PIPESTATUS[0]}
	check "30000 rows into a pipe closed early: ended by SIGPIPE as any filter (exit 141, got $RC)" [ "$RC" -eq 141 ]
fi
(
	trap '' PIPE
	"$PMSCAN" -p "$T_PID" --written --json --range="$RB" 2>"$WORK/err" | head -c 100 >/dev/null
	exit "${PIPESTATUS[0]}"
)
RC=$?
check "... with SIGPIPE ignored: exit 1, one line: 'write error: Broken pipe'" \
	cond '[ "$RC" -eq 1 ] && [ "$(cat "$WORK/err")" = "pmscan: write error: Broken pipe" ]'
victim=$T_PID
for fmt in text json; do
	opt=
	[ $fmt = json ] && opt=--json
	if [ $fmt = json ]; then
		target_start
		map B 60000 anon
		tcmd track B
		tcmd write B 0 2 30000
		victim=$T_PID
	fi
	"$PMSCAN" -p "$victim" --written $opt 2>"$WORK/err" |
		{ head -c 1000 >/dev/null; kill -9 "$victim"; sleep 0.2; cat >"$WORK/out"; }
	RC=${PIPESTATUS[0]}
	check "target killed mid-scan ($fmt): exit 1" [ "$RC" -eq 1 ]
	check "target killed mid-scan ($fmt): says so" grep -q "process $victim exited during the scan" "$WORK/err"
done
check "target killed mid-scan (json): the document carries the error" \
	[ "$( (printf '{"regions":['; cat "$WORK/out") | tail -c 200 | grep -c '"error":"process')" = 1 ]

# A target that runs execve(2) in the middle of a scan is not said to have
# exited: it lives on, with other memory.
target_start
map B 60000 anon
tcmd track B
tcmd write B 0 2 30000
victim=$T_PID
"$PMSCAN" -p "$victim" --written 2>"$WORK/err" |
	{ head -c 1000 >/dev/null; echo exec >&"$T_IN"; sleep 0.2; cat >/dev/null; }
RC=${PIPESTATUS[0]}
check "target runs execve(2) mid-scan: exit 1" [ "$RC" -eq 1 ]
check "target runs execve(2) mid-scan: says so, not that it exited" \
	grep -q "process $victim ran execve(2) during the scan" "$WORK/err"
check "target runs execve(2) mid-scan: it lives on as the new program" \
	[ "$(cat "/proc/$victim/comm" 2>/dev/null)" = sleep ]
target_stop

# As an ordinary user: its own process works; root's is refused, naming
# the privilege.
why=$(other_user_reason)
if [ -n "$why" ]; then
	skip "unprivileged scans" "$why"
else
	target_start
	root_target=$T_PID
	$NOBODY "$PMSCAN" -p "$root_target" --written >"$WORK/out" 2>"$WORK/err"
	RC=$?
	check "user scanning root's process: exit 1" [ "$RC" -eq 1 ]
	check "user scanning root's process: names CAP_SYS_PTRACE" grep -q "CAP_SYS_PTRACE" "$WORK/err"
	target_start $NOBODY "$HELPERS/target"
	map A 500 anon
	tcmd track A
	tcmd write A 0 5 100
	pages_of "$A" 0 5 100 >"$WORK/expect"
	$NOBODY "$PMSCAN" -p "$T_PID" --written --wp --addresses --range="$(range "$A" 500)" >"$WORK/out" 2>"$WORK/err"
	check "user scanning its own tracked process: exact pages" same "$WORK/out" "$WORK/expect"
	$NOBODY "$PMSCAN" -p "$T_PID" --written --addresses --range="$(range "$A" 500)" >"$WORK/out" 2>"$WORK/err"
	check "user's --wp reset its own process" [ ! -s "$WORK/out" ]
fi

# Every output to a full stdout is an error: exit 1 and one message saying so.
full() {
	local desc=$1
	shift
	"$PMSCAN" "$@" >/dev/full 2>"$WORK/err"
	RC=$?
	if [ "$RC" -ne 1 ]; then
		diag "exit $RC, wanted 1; stderr: $(head -c 300 "$WORK/err")"
		ok 1 "$desc"
	elif [ "$(grep -c 'write error' "$WORK/err")" != 1 ]; then
		diag "stderr: $(head -c 300 "$WORK/err")"
		ok 1 "$desc"
	else
		ok 0 "$desc"
	fi
}
target_start
map A 200 anon
tcmd track A
tcmd write A 0 2 100
RA=$(range "$A" 200)
full "--help to a full stdout: exit 1, 'write error'" --help
full "--version to a full stdout: exit 1, 'write error'" --version
full "--usage to a full stdout: exit 1, 'write error'" --usage
full "--list-categories to a full stdout: exit 1, 'write error'" --list-categories
full "table to a full stdout: exit 1, 'write error'" -p "$T_PID" --written --range="$RA"
full "--json to a full stdout: exit 1, 'write error'" -p "$T_PID" --written --json --range="$RA"
full "--addresses to a full stdout: exit 1, 'write error'" -p "$T_PID" --written --addresses --range="$RA"
full "--summary to a full stdout: exit 1, 'write error'" -p "$T_PID" --written --summary --range="$RA"
full "--arm report to a full stdout: exit 1, 'write error'" --arm -p "$T_PID"
full "--watch to a full stdout: exit 1, 'write error'" --watch=0.2 --count=1 -p "$T_PID"
full "--watch --json to a full stdout: exit 1, 'write error'" --watch=0.2 --count=1 --json -p "$T_PID"
full "--disarm report to a full stdout: exit 1, 'write error'" --disarm -p "$T_PID"
target_stop
done_testing

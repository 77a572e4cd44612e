#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Armed answers through the life of a process: fork (a child is never taken
# for armed; disarming it leaves the parent alone), new mappings (only the
# pages written in them count), exec and job control under
# --watch -- COMMAND, --count with a command, the exit status of a command.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

require_arming


# ---- fork ----
target_start
map A 64 anon
tcmd fill A
run_pmscan --arm -p "$T_PID"
check "--arm: exit 0" [ "$RC" -eq 0 ]
tcmd fork A
CHILD=${R#ok }
sleep 0.1
check "the child inherited the tracker fd" [ "$(uffds "$CHILD")" = 1 ]
run_pmscan -p "$CHILD" --written --addresses --range="$(range "$A" 64)"
check "child: no page reported written (its copy is not tracked)" cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ]'
check "child: the warning says its memory is not tracked" grep -qi "not tracked" "$WORK/err"
run_pmscan --disarm -p "$CHILD"
check "--disarm of the child: nothing to do, says so" grep -q "is not armed" "$WORK/out"
tcmd write A 5 1 1
pages_of "$A" 5 1 1 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$A" 64)"
check "the parent is still tracked exactly after the child's --disarm" same "$WORK/out" "$WORK/expect"
kill -KILL "$CHILD" 2>/dev/null

# ---- new mappings: only what is written in them counts ----
run_pmscan -p "$T_PID" --written --wp >/dev/null
map G 262144 anon
tcmd write G 1000 20000 10
pages_of "$G" 1000 20000 10 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$G" 262144)"
check "1 GiB mapped after --arm, 10 pages written: exactly those 10 read as written" same "$WORK/out" "$WORK/expect"
tcmd read G 0 7 1000
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$G" 262144)"
check "reading untouched pages of the new mapping writes nothing" same "$WORK/out" "$WORK/expect"
map H 100 anon
tcmd write H 0 1 100
run_pmscan -p "$T_PID" --no-rearm --written --addresses --range="$(range "$H" 100)"
check "--no-rearm: a new mapping is never reported written" cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ]'
target_stop

# ---- --arm --range sticks ----
target_start
map A 64 anon
map B 64 shared
tcmd fill A
tcmd fill B
run_pmscan --arm --range="$(range "$A" 64)" -p "$T_PID"
map N 64 anon
tcmd write N 0 1 4
tcmd write B 0 1 4
run_pmscan -p "$T_PID" --written --addresses
check "after --arm --range, a plain scan reports nothing outside the range" cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ]'
tracked_of() { run_pmscan -p "$T_PID" --no-rearm --summary --json --range="$(range "$1" 64)"; jq -r '.mappings[0].tracked' "$WORK/out"; }
check "... and a mapping outside the armed range stays untracked" [ "$(tracked_of "$B")" = false ]
check "... and so does a new mapping outside it" [ "$(tracked_of "$N")" = false ]
tcmd write A 3 1 2
pages_of "$A" 3 1 2 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$A" 64)"
check "... while the armed range is tracked exactly" same "$WORK/out" "$WORK/expect"
target_stop

# ---- page tables are a budget ----
vmpte() { awk '/^VmPTE:/ { print $2 }' "/proc/$1/status"; }
target_start
map P 1048576 anon
tcmd write P 0 1 1
before=$(vmpte "$T_PID")
run_pmscan --arm --max-page-tables=4M -p "$T_PID"
check "a sparse 4 GiB mapping over a 4M page-table budget: not tracked, the reason names the cost and the option" \
	cond 'grep -q "tracking $(printf "0x%x" $((P)))-.*page tables.*--max-page-tables" "$WORK/err"'
after=$(vmpte "$T_PID")
check "... and the page tables did not grow past the budget ($before kB -> $after kB)" [ $((after - before)) -le 4096 ]
run_pmscan --disarm -p "$T_PID"
run_pmscan --arm -p "$T_PID"
after=$(vmpte "$T_PID")
check "with the default budget (64M) it is tracked: page tables $before kB -> $after kB, within the budget" \
	cond '! grep -q "tracking $(printf "0x%x" $((P)))-.*page tables" "$WORK/err" && [ $((after - before)) -le 65536 ] && [ $((after - before)) -gt 4096 ]'
tcmd write P 5000 1000 3
pages_of "$P" 5000 1000 3 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$P" 1048576)"
check "the sparse mapping is tracked exactly" same "$WORK/out" "$WORK/expect"
run_pmscan --disarm -p "$T_PID"
diag "VmPTE after --disarm: $(vmpte "$T_PID") kB (page tables are freed only when the memory is unmapped)"
target_stop

# The budget holds across runs: what tracked mappings hold counts.
target_start
map P 1048576 anon
tcmd write P 0 1 1
before=$(vmpte "$T_PID")
run_pmscan --arm --max-page-tables=12M -p "$T_PID"
map Q 1048576 anon
tcmd write Q 0 1 1
run_pmscan -p "$T_PID" --max-page-tables=12M --written --addresses
after=$(vmpte "$T_PID")
check "a second sparse 4 GiB mapping after --arm: refused by a later scan, the budget counting the first ($before kB -> $after kB)" \
	cond '[ $((after - before)) -le 12288 ] && [ "$(tracked_of "$Q")" = false ] && [ "$(tracked_of "$P")" = true ]'
target_stop

# ---- tracking markers are not swap ----
if [ "$(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo)" != 0 ]; then
	skip "--swapped on an armed process with no swap" "this machine has swap configured"
else
	target_start
	map S 4096 anon
	tcmd write S 0 1 10
	run_pmscan --arm -p "$T_PID"
	tcmd write S 100 1 5
	run_pmscan -p "$T_PID" --swapped --addresses
	check "no swap here: --swapped on an armed process reports 0 pages (got $(wc -l <"$WORK/out"))" \
		cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ]'
	run_pmscan -p "$T_PID" --json --range="$(range "$S" 4096)"
	check "no swap here: no region of an armed mapping says swapped" \
		cond '! jq -e ".regions[] | select(.categories | index(\"swapped\"))" "$WORK/out" >/dev/null'
	target_stop
fi

# ---- a target that exits during a scan: an error, never a partial answer as a whole one ----
partial=0 complete=0 failed=0 badjson=0
for i in $(seq 15); do
	target_start
	tcmd manymaps 20000
	# The whole answer, from the same idle target (a sanitizer's allocator
	# maps memory of its own, so the count varies between targets).
	start=$(date +%s%N)
	run_pmscan -p "$T_PID" --summary --json
	scan_us=$((($(date +%s%N) - start) / 1000))
	full=$(jq '.mappings | length' "$WORK/out")
	"$PMSCAN" -p "$T_PID" --summary --json >"$WORK/out" 2>"$WORK/err" &
	spid=$!
	sleep "$(awk -v m="$scan_us" -v r="$RANDOM" 'BEGIN { printf "%.6f", m * (r / 32768) / 1e6 }')"
	kill -KILL "$T_PID"
	wait "$spid"
	RC=$?
	jq -e . "$WORK/out" >/dev/null 2>&1 || badjson=$((badjson + 1))
	if [ "$RC" -eq 0 ]; then
		n=$(jq '.mappings | length' "$WORK/out" 2>/dev/null)
		if [ "$n" = "$full" ]; then complete=$((complete + 1)); else partial=$((partial + 1)); fi
	else
		failed=$((failed + 1))
		jq -e '.processes[0].error' "$WORK/out" >/dev/null 2>&1 || badjson=$((badjson + 1))
	fi
	target_stop
done
diag "target killed mid-scan (scan ${scan_us} us): $complete complete, $failed errors, $partial partial answers with exit 0"
check "a target killed mid-scan never gives exit 0 with a partial answer ($partial of 15)" [ "$partial" -eq 0 ]
check "... and every JSON document is complete and valid, with an error member on failure" [ "$badjson" -eq 0 ]
check "... and some kills did land during the scan" [ "$failed" -gt 0 ]

# ---- hugetlb: --wp on part of a huge page is an error, never a silent no-op ----
old_nr=$(cat /proc/sys/vm/nr_hugepages)
hp=$(awk '/^Hugepagesize:/ { print $2 * 1024 }' /proc/meminfo)
if [ "$(id -u)" -ne 0 ] || [ -z "$hp" ]; then
	skip "--wp inside a hugetlb page" "needs root to reserve hugetlb pages"
elif ! echo $((old_nr + 2)) >/proc/sys/vm/nr_hugepages ||
     [ "$(cat /proc/sys/vm/nr_hugepages)" -lt $((old_nr + 2)) ]; then
	echo "$old_nr" >/proc/sys/vm/nr_hugepages
	skip "--wp inside a hugetlb page" "the kernel could not reserve 2 hugetlb pages"
else
	hpages=$((hp / PAGE))
	target_start
	if tcmd_try map U $((2 * hpages)) hugetlb && U=$R && run_pmscan --arm -p "$T_PID" && [ "$RC" -eq 0 ]; then
		tcmd write U 0 1 1
		run_pmscan -p "$T_PID" --written --wp --addresses --range="$(range "$U" $((hpages / 2)))"
		check "--wp over half a hugetlb page: an error (exit 1), not a silent success" [ "$RC" -eq 1 ]
		check "the error names the hugetlb page" grep -q "hugetlb page" "$WORK/err"
		run_pmscan -p "$T_PID" --written --addresses --range="$(range "$U" "$hpages")"
		check "the huge page still reads written after the refused reset" [ -s "$WORK/out" ]
		run_pmscan -p "$T_PID" --written --wp --addresses --range="$(range "$U" "$hpages")"
		check "--wp over the whole huge page resets it" [ "$RC" -eq 0 ]
		run_pmscan -p "$T_PID" --written --addresses --range="$(range "$U" "$hpages")"
		check "after that it reads unwritten" cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ]'
	else
		skip "--wp inside a hugetlb page" "a hugetlb mapping could not be made and armed here"
	fi
	target_stop
	echo "$old_nr" >/proc/sys/vm/nr_hugepages
fi

# ---- --watch -- COMMAND: exec, signals, job control, --count ----
# LeakSanitizer cannot run in a traced process (the sanitizer build's target).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
cmdin=$WORK/cmd.in
printf 'map A 200 anon\nwrite A 0 1 150\nsleep 1\nexit 3\n' >"$cmdin"
"$PMSCAN" --watch=0.2 --json -- sh -c "exec env '$HELPERS/target'" <"$cmdin" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "through sh -c 'exec env PROG': exits with the command's status (3)" [ "$RC" -eq 3 ]
[ "$RC" -eq 3 ] || { echo "exit $RC; stderr:"; cat "$WORK/err"; } | sed 's/^/# /'
written=$(tail -n 1 "$WORK/out" | jq .written_pages)
check "through two execs the last image is tracked: its 150 written pages counted (got $written)" \
	[ "${written:-0}" -ge 150 ]

# A process watched by pid that runs execve(2) (twice: env, then the
# target) is still the same process: the watch re-arms the new image and
# goes on to its real end.
printf 'sleep 1\nmap A 200 anon\nwrite A 0 1 150\nsleep 1\nexit 3\n' >"$cmdin"
sh -c "sleep 0.5; exec env '$HELPERS/target'" <"$cmdin" >"$WORK/cmd.out" &
spid=$!
"$PMSCAN" --watch=0.2 --json -p "$spid" >"$WORK/out" 2>"$WORK/err"
RC=$?
wait "$spid"
SRC=$?
check "-p PID that runs execve(2): the watch goes on to the process's end, exit 0 (got $RC)" \
	cond '[ "$RC" -eq 0 ] && [ "$SRC" -eq 3 ]'
check "-p PID that runs execve(2): stderr says the new image is armed" grep -q 'ran execve(2): its new image is armed' "$WORK/err"
written=$(tail -n 1 "$WORK/out" | jq .written_pages)
check "-p PID that runs execve(2): the new image's 150 written pages counted (got $written)" \
	[ "${written:-0}" -ge 150 ]
check "-p PID that runs execve(2): the process was not disturbed (its answers intact)" \
	grep -qx 'ok 150' "$WORK/cmd.out"

# An ordinary user's process that execs a set-user-ID program is no longer
# the user's to watch: said, exit 1, no crash.
why=$(other_user_reason)
suid=$(command -v chfn)
if [ -n "$why" ]; then
	skip "-p PID that execs a set-user-ID program" "$why"
elif [ -z "$suid" ] || [ ! -u "$suid" ]; then
	skip "-p PID that execs a set-user-ID program" "chfn is not installed set-user-ID here"
else
	rm -f "$WORK/suid.in"
	mkfifo -m 666 "$WORK/suid.in"
	$NOBODY sh -c "sleep 0.6; exec '$suid'" <"$WORK/suid.in" >/dev/null 2>&1 &
	spid=$!
	exec {hold}>"$WORK/suid.in"	# chfn waits on it, reading
	$NOBODY "$PMSCAN" --watch=0.2 -p "$spid" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	exec {hold}>&-
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	check "-p PID that execs a set-user-ID program: exit 1 (got $RC)" [ "$RC" -eq 1 ]
	check "-p PID that execs a set-user-ID program: says why, naming CAP_SYS_PTRACE" \
		grep -q "cannot open process $spid: .*CAP_SYS_PTRACE" "$WORK/err"
fi

# Commands ending near interval boundaries (--watch=0.01): the exit status
# is always the one reaped, never assumed from a scan that found no memory.
wrong=
for ((i = 0; i < 40; i++)); do
	"$PMSCAN" --watch=0.01 -- sh -c "sleep 0.0$((i % 10))$((i % 7)); exit 7" >/dev/null 2>&1
	RC=$?
	[ "$RC" -eq 7 ] || wrong="$wrong $RC"
done
check "40 commands ending at --watch=0.01: every exit status 7${wrong:+ (got$wrong)}" [ -z "$wrong" ]

"$PMSCAN" --watch=0.2 -- sh -c 'kill -TRAP $$' >/dev/null 2>&1
RC=$?
check "a SIGTRAP the command raises itself has its usual effect: exit 133" [ "$RC" -eq 133 ]

"$PMSCAN" --watch=0.2 -- sleep 1.5 >/dev/null 2>&1 &
wpid=$!
sleep 0.3
cpid=$(pgrep -P "$wpid" sleep)
kill -STOP "$cpid"
sleep 0.3
check "SIGSTOP to the watched command stops it (job control stop, listened to)" grep -q '^State:.*[Tt] (' "/proc/$cpid/status"
kill -CONT "$cpid"
start=$(date +%s%N)
wait "$wpid"
RC=$?
took=$((($(date +%s%N) - start) / 1000000))
check "after SIGCONT it runs to its end (exit 0 in ${took} ms)" cond '[ "$RC" -eq 0 ] && [ "$took" -lt 4000 ]'

start=$(date +%s%N)
"$PMSCAN" --watch=0.2 --count=2 -- sleep 30 >"$WORK/out" 2>"$WORK/err"
RC=$?
took=$((($(date +%s%N) - start) / 1000000))
cpid=$(sed -n 's/^command left running: process \([0-9]*\).*/\1/p' "$WORK/out")
check "--count=2 with a command: stops after 2 intervals (${took} ms), exit 0" cond '[ "$RC" -eq 0 ] && [ "$took" -lt 2000 ]'
check "--count with a command: says the command is left running" grep -q "command left running" "$WORK/out"
check "the command is left running, untraced and not tracked" \
	cond '[ -n "$cpid" ] && [ "$(awk "/^TracerPid/ { print \$2 }" "/proc/$cpid/status")" = 0 ] && [ "$(uffds "$cpid")" = 0 ]'
[ -n "$cpid" ] && kill "$cpid"

done_testing

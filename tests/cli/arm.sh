#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --arm and --disarm on a process that never asked for tracking, while four
# of its threads write and verify their own memory and its main thread is
# blocked in read(2); new mappings after arming; 30 arm/disarm cycles;
# privileges; debuggers, zombies and targets that exit mid-arm.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

nfds() { find "/proc/$1/fd" -maxdepth 1 -mindepth 1 2>/dev/null | wc -l; }

require_arming

target_start
map A 4096 anon
tcmd write A 0 1 4096
tcmd sum A
sum_before=$R
map T 2048 anon
tcmd threads T 4
fds_before=$(nfds "$T_PID")

# The main thread sits in read(2) on its command pipe while pmscan arms.
sleep 0.2
run_pmscan --arm -p "$T_PID"
check "--arm: exit 0" [ "$RC" -eq 0 ]
check "--arm: says what it did" grep -q "^armed process $T_PID: [0-9]* mappings tracked" "$WORK/out"
check "--arm: lists what it cannot track, with the reason" grep -q "not tracking .* \[vdso\]: kernel-provided mapping" "$WORK/err"
check "the target has one userfaultfd" [ "$(uffds "$T_PID")" = 1 ]
tcmd pid
check "the read(2) the target was blocked in completed normally" [ "$R" = "$T_PID" ]
tcmd sum A
check "no byte of the target changed" [ "$R" = "$sum_before" ]
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$A" 4096)"
check "right after --arm nothing reads as written" succeeded_empty
tcmd write A 0 3 500
pages_of "$A" 0 3 500 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --wp --addresses --range="$(range "$A" 4096)"
check "writes after --arm: exact, page by page" same "$WORK/out" "$WORK/expect"
run_pmscan -p "$T_PID" --written --summary --json --range="$(range "$A" 4096)"
check "--summary: area A tracked" [ "$(jq -r '.mappings[0].tracked' "$WORK/out")" = true ]

run_pmscan --arm -p "$T_PID"
check "--arm again: exit 0, a no-op that says so" [ "$RC" -eq 0 -a "$(grep -c 'already armed' "$WORK/out")" = 1 ]
check "--arm again: still one userfaultfd" [ "$(uffds "$T_PID")" = 1 ]

# New mappings are registered by the next scan; only the pages written in
# them since they appeared read as written.
map N 1000 anon
tcmd write N 0 2 10
pages_of "$N" 0 2 10 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --wp --addresses --range="$(range "$N" 1000)"
check "a mapping made after --arm: exactly the 10 pages written in it read as written" same "$WORK/out" "$WORK/expect"
tcmd write N 7 1 1
pages_of "$N" 7 1 1 >"$WORK/expect"
run_pmscan -p "$T_PID" --written --addresses --range="$(range "$N" 1000)"
check "then it is tracked exactly" same "$WORK/out" "$WORK/expect"
map M 100 anon
run_pmscan -p "$T_PID" --no-rearm --summary --json --range="$(range "$M" 100)"
check "--no-rearm leaves a new mapping untracked" [ "$(jq -r '.mappings[0].tracked' "$WORK/out")" = false ]
run_pmscan -p "$T_PID" --summary --json --range="$(range "$M" 100)"
check "without --no-rearm the next scan tracks it" [ "$(jq -r '.mappings[0].tracked' "$WORK/out")" = true ]

tcmd stopthreads
read -r corrupt rounds <<<"$R"
check "the four threads saw no corruption ($rounds rounds)" [ "$corrupt" = 0 -a "$rounds" -gt 0 ]

run_pmscan --disarm -p "$T_PID"
check "--disarm: exit 0" [ "$RC" -eq 0 -a "$(grep -c "^disarmed process $T_PID" "$WORK/out")" = 1 ]
check "--disarm: no userfaultfd left in the target" [ "$(uffds "$T_PID")" = 0 ]
check "--disarm: the target's fd table is as before" [ "$(nfds "$T_PID")" = "$fds_before" ]
run_pmscan -p "$T_PID" --summary --json --range="$(range "$A" 4096)"
check "--disarm: area A no longer tracked" [ "$(jq -r '.mappings[0].tracked' "$WORK/out")" = false ]
run_pmscan --disarm -p "$T_PID"
check "--disarm again: exit 0, a no-op that says so" [ "$RC" -eq 0 -a "$(grep -c 'not armed' "$WORK/out")" = 1 ]
tcmd sum A
sum_before=$R

# 30 arm/disarm cycles under load.
tcmd threads T 4
failures=0
for ((i = 0; i < 30; i++)); do
	"$PMSCAN" --arm -p "$T_PID" >/dev/null 2>&1 || failures=$((failures + 1))
	"$PMSCAN" --disarm -p "$T_PID" >/dev/null 2>&1 || failures=$((failures + 1))
done
check "30 arm/disarm cycles under load: all succeed" [ "$failures" = 0 ]
check "30 cycles: no userfaultfd leaked" [ "$(uffds "$T_PID")" = 0 ]
check "30 cycles: no fd leaked" [ "$(nfds "$T_PID")" = "$fds_before" ]
tcmd stopthreads
read -r corrupt rounds <<<"$R"
check "30 cycles: no corruption seen by the threads" [ "$corrupt" = 0 ]
tcmd sum A
check "30 cycles: no byte of area A changed" [ "$R" = "$sum_before" ]
tcmd pid
check "30 cycles: the target still answers" [ "$R" = "$T_PID" ]

# A process already being traced.
if command -v strace >/dev/null; then
	strace -qq -p "$T_PID" -e trace=none -o /dev/null &
	tracer=$!
	for ((i = 0; i < 50; i++)); do
		[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$T_PID/status")" != 0 ] && break
		sleep 0.1
	done
	expect_exit 1 "--arm on a traced process" "already traced by process $tracer" --arm -p "$T_PID"
	kill "$tracer"; wait "$tracer" 2>/dev/null
	check "the traced process was left alone" [ "$(uffds "$T_PID")" = 0 ]
else
	skip "--arm on a traced process" "strace is not installed"
fi

# A zombie cannot be armed.
if make_zombie; then
	expect_exit 1 "--arm on a zombie" "process $ZOMBIE has exited" --arm -p "$ZOMBIE"
else
	skip "--arm on a zombie" "could not make a zombie process in 5 s"
fi
end_zombie

# A target that exits while being armed: many mappings make arming long
# enough to kill the target in the middle of it.
exited=0
for n in 20000 40000 60000; do
	target_start
	tcmd manymaps $n
	victim=$T_PID
	"$PMSCAN" --arm -p "$victim" >"$WORK/out" 2>"$WORK/err" &
	armer=$!
	sleep 0.05
	kill -9 "$victim"
	wait "$armer"
	RC=$?
	if [ "$RC" -eq 1 ] && grep -q "process $victim exited while being armed\|no such process" "$WORK/err"; then
		exited=1
		break
	fi
	diag "arming $n mappings finished before the kill (exit $RC); trying more"
done
if [ "$exited" = 1 ]; then
	check "target exiting mid-arm: exit 1, one error line" [ "$(grep -vc 'not tracking' "$WORK/err")" = 1 ]
	# (Only pmscan's own processes: tests running beside this one may trace.)
	check "target exiting mid-arm: no pmscan process (injector) left behind" \
		cond '! pgrep -f -- "--arm -p $victim\$" >/dev/null'
else
	skip "target exiting mid-arm" "arming always finished before the target could be killed"
fi
target_stop

# Privileges: an ordinary user arms its own process; not root's.
why=$(other_user_reason)
if [ -n "$why" ]; then
	skip "unprivileged arming" "$why"
else
	target_start
	$NOBODY "$PMSCAN" --arm -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	check "user arming root's process: exit 1" [ "$RC" -eq 1 ]
	check "user arming root's process: names CAP_SYS_PTRACE" grep -q "CAP_SYS_PTRACE" "$WORK/err"
	check "user arming root's process: one line" [ "$(wc -l <"$WORK/err")" = 1 ]
	target_start $NOBODY "$HELPERS/target"
	map A 500 anon
	$NOBODY "$PMSCAN" --arm -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
	check "user arming its own process: exit 0" [ $? -eq 0 ]
	tcmd write A 0 5 100
	pages_of "$A" 0 5 100 >"$WORK/expect"
	$NOBODY "$PMSCAN" -p "$T_PID" --written --addresses --range="$(range "$A" 500)" >"$WORK/out" 2>"$WORK/err"
	check "user's own armed process: exact written pages" same "$WORK/out" "$WORK/expect"
	$NOBODY "$PMSCAN" --disarm -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
	check "user disarming its own process" [ $? -eq 0 -a "$(uffds "$T_PID")" = 0 ]
fi
done_testing

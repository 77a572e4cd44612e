#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Arming must be invisible to the target (tests/helpers/victim.c): no
# spurious EINTR in blocked calls, a handler without SA_RESTART still makes
# pause() return EINTR, queued signals all arrive once and in order, signal
# masks unchanged; seccomp filters, a vfork parent, a zombie leader, a
# stopped process; signals and SIGKILL to pmscan at random moments of
# --arm and --disarm (fault injection); a set-user-ID pmscan refuses to run.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

require_arming

V_PID=
V_IN=
V_OUT=
V_SEQ=0

# vstart ARGS...: start the victim (as $V_AS, if set), wait for "ready".
vstart() {
	vstop
	V_SEQ=$((V_SEQ + 1))
	mkfifo "$WORK/v$V_SEQ.in" "$WORK/v$V_SEQ.out" || bail "mkfifo failed"
	${V_AS:-} "$HELPERS/victim" "$@" <"$WORK/v$V_SEQ.in" >"$WORK/v$V_SEQ.out" &
	exec {V_IN}>"$WORK/v$V_SEQ.in" {V_OUT}<"$WORK/v$V_SEQ.out"
	local line
	read -r -t 10 line <&"$V_OUT" || bail "victim did not start"
	V_PID=${line#ready }
}

vstop() {
	if [ -n "$V_PID" ]; then
		kill -KILL "$V_PID" 2>/dev/null
		wait 2>/dev/null
		exec {V_IN}>&- {V_OUT}<&-
		V_PID=
	fi
}

# vcounts: the victim's counters as shell variables (pause_eintr=0 ...).
vcounts() {
	local line
	echo counts >&"$V_IN"
	read -r -t 10 line <&"$V_OUT" || return 1
	VC=${line#counts }
	eval "${VC// / ; }"
}

alive() { [ -d "/proc/$V_PID" ] && ! grep -q '^State:.*[ZX]' "/proc/$V_PID/status"; }
# A zombie leader has no fd table of its own: look through its threads.
uffds_any() { find /proc/"$1"/task/*/fd -maxdepth 1 -lname 'anon_inode:\[userfaultfd\]' 2>/dev/null | head -n 1 | wc -l; }
sigcgt() { awk '/^SigCgt/ { print $2 }' "/proc/$1/status"; }
fdlist() { ls "/proc/$1/fd" | sort -n | tr '\n' ' '; }

# arm_and_signal MS SIG: --arm the victim, send it SIG 0 to MS-1 ms into it.
arm_and_signal() {
	"$PMSCAN" --arm -p "$V_PID" >/dev/null 2>&1 &
	local armer=$!
	sleep "0.00$((RANDOM % $1))"
	kill -"$2" "$V_PID"
	wait $armer
}

cleanup_v() { vstop; cleanup; }
trap cleanup_v EXIT

# ---- blocked calls see nothing: 20 arm/disarm cycles, no signal sent ----
vstart -t
sleep 0.2
cgt=$(sigcgt "$V_PID")
fds=$(fdlist "$V_PID")
fails=0
for i in $(seq 20); do
	"$PMSCAN" --arm -p "$V_PID" >/dev/null 2>"$WORK/err" || fails=$((fails + 1))
	"$PMSCAN" --disarm -p "$V_PID" >/dev/null 2>>"$WORK/err" || fails=$((fails + 1))
done
check "20 arm/disarm cycles of a process with blocked threads succeed" [ "$fails" -eq 0 ]
vcounts || bail "victim gave no counts"
diag "$VC"
for c in pause read epoll accept nanosleep futex; do
	e=${c}_eintr w=${c}_woke
	check "no spurious EINTR in $c() (blocked through 40 injections)" [ "${!e}" -eq 0 ] 
	check "$c() was never woken" [ "${!w}" -eq 0 ]
done
check "signal masks of every thread unchanged" [ "$mask_bad" -eq 0 ]
check "a computing thread saw no corruption" [ "$sum_bad" -eq 0 ] 
check "handlers unchanged" [ "$(sigcgt "$V_PID")" = "$cgt" ]
check "fd table unchanged after disarm" [ "$(fdlist "$V_PID")" = "$fds" ]

# ---- a handler without SA_RESTART during arming: pause() returns EINTR ----
for flags in "" "-r"; do
	vstart -t $flags
	sleep 0.2
	sent=0
	for i in $(seq 30); do
		arm_and_signal 4 USR1
		sent=$((sent + 1))
		sleep 0.03
		"$PMSCAN" --disarm -p "$V_PID" >/dev/null 2>&1
	done
	sleep 0.1
	vcounts
	diag "${flags:-no SA_RESTART}: $VC"
	check "SIGUSR1 during arming (${flags:-no SA_RESTART}): every signal handled once" [ "$usr1" -eq "$sent" ]
	check "SIGUSR1 during arming (${flags:-no SA_RESTART}): pause() returned EINTR for each" [ "$pause_eintr" -eq "$sent" ]
	check "SIGUSR1 during arming (${flags:-no SA_RESTART}): no other call saw EINTR" \
		[ $((read_eintr + epoll_eintr + accept_eintr + nanosleep_eintr + futex_eintr)) -eq 0 ]
done

# ---- queued real-time signals while arming and disarming ----
vstart -t
sleep 0.2
N=3000
"$HELPERS/victim" send "$V_PID" $N &
spid=$!
cycles=0
while kill -0 $spid 2>/dev/null; do
	"$PMSCAN" --arm -p "$V_PID" >/dev/null 2>&1
	"$PMSCAN" --disarm -p "$V_PID" >/dev/null 2>&1
	cycles=$((cycles + 1))
done
wait $spid
sleep 0.2
vcounts
diag "$cycles arm/disarm cycles during $N queued signals: $VC"
check "queued signals during arming: all $N arrived" [ "$rt" -eq $N ]
check "queued signals during arming: none duplicated or out of order" [ "$rt_bad" -eq 0 ]
check "queued signals during arming: at least one arm/disarm cycle overlapped" [ "$cycles" -gt 0 ]

# ---- seccomp ----
# As root (CAP_SYS_ADMIN) the filter is suspended for the call; without it
# arming is refused. Not root: this user is the unprivileged one.
why=$(other_user_reason)
AS_USER=
[ "$(id -u)" -eq 0 ] && AS_USER=$NOBODY
for mode in kill trap errno; do
	if [ "$(id -u)" -eq 0 ]; then
		vstart -s $mode
		run_pmscan --arm -p "$V_PID"
		check "seccomp $mode, as root: armed by suspending the filter for the call" [ "$RC" -eq 0 ]
		check "seccomp $mode, as root: the target is alive" alive
		vcounts
		check "seccomp $mode, as root: no SIGSYS reached the target" [ "$sigsys" -eq 0 ]
		run_pmscan --disarm -p "$V_PID"
		check "seccomp $mode, as root: disarmed, no userfaultfd left" cond '[ "$RC" -eq 0 ] && [ "$(uffds "$V_PID")" -eq 0 ]'
	else
		skip "seccomp $mode, with CAP_SYS_ADMIN" "the tests are not running as root"
	fi
	if [ "$(id -u)" -eq 0 ] && [ -n "$why" ]; then
		skip "seccomp $mode, unprivileged" "$why"
		continue
	fi
	V_AS=$AS_USER vstart -s $mode
	$AS_USER "$PMSCAN" --arm -p "$V_PID" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	check "seccomp $mode, unprivileged: refused (exit 1)" [ "$RC" -eq 1 ]
	check "seccomp $mode, unprivileged: the message names seccomp and CAP_SYS_ADMIN" \
		grep -q "seccomp.*CAP_SYS_ADMIN" "$WORK/err"
	check "seccomp $mode, unprivileged: the target is alive and untouched" alive
	vcounts
	check "seccomp $mode, unprivileged: no SIGSYS, no userfaultfd" cond '[ "$sigsys" -eq 0 ] && [ "$(uffds "$V_PID")" -eq 0 ]'
done
vstop

# ---- vfork, zombie leader, stopped ----
vstart -1 -v 30
sleep 0.2
start=$(date +%s%N)
run_pmscan --arm --timeout=1 -p "$V_PID"
took=$((($(date +%s%N) - start) / 1000000))
check "vfork parent: fails within the bound (${took} ms for --timeout=1)" cond '[ "$RC" -eq 1 ] && [ "$took" -lt 2500 ]'
check "vfork parent: the message says it did not stop in time and names vfork" \
	grep -q "did not stop within 1 s: thread $V_PID is in vfork()" "$WORK/err"
check "vfork parent: left untouched (no userfaultfd)" [ "$(uffds "$V_PID")" -eq 0 ]
vstart -v 30
sleep 0.2
run_pmscan --arm -p "$V_PID"
check "vfork parent with other threads: armed through another thread" cond '[ "$RC" -eq 0 ] && [ "$(uffds "$V_PID")" -eq 1 ]'
vstart -z
sleep 0.2
run_pmscan --arm -p "$V_PID"
check "zombie leader with live threads: armed" cond '[ "$RC" -eq 0 ] && [ "$(uffds_any "$V_PID")" -eq 1 ]'
run_pmscan --disarm -p "$V_PID"
check "zombie leader with live threads: disarmed" cond '[ "$RC" -eq 0 ] && [ "$(uffds_any "$V_PID")" -eq 0 ]'
vstart -t
kill -STOP "$V_PID"
sleep 0.1
run_pmscan --arm -p "$V_PID"
check "stopped process: refused, saying it is stopped" cond '[ "$RC" -eq 1 ] && grep -q "is stopped" "$WORK/err"'
check "stopped process: still stopped, untouched" grep -q '^State:.*T' "/proc/$V_PID/status"
kill -CONT "$V_PID"

# ---- a group stop during arming is kept ----
vstart -t
sleep 0.2
kept=0
for i in $(seq 10); do
	arm_and_signal 6 STOP
	sleep 0.05
	grep -q '^State:.*T' "/proc/$V_PID/status" && kept=$((kept + 1))
	kill -CONT "$V_PID"
	"$PMSCAN" --disarm -p "$V_PID" >/dev/null 2>&1
done
check "SIGSTOP from someone else during arming: the process stays stopped ($kept of 10)" [ "$kept" -eq 10 ]
vcounts
check "SIGSTOP/SIGCONT during arming: no EINTR in blocked calls, masks unchanged" \
	cond '[ $((pause_eintr + read_eintr + futex_eintr + nanosleep_eintr)) -eq 0 ] && [ "$mask_bad" -eq 0 ]'

# ---- a recycled pid is never attached ----
if [ "$(id -u)" -ne 0 ]; then
	skip "a recycled pid is never attached" "needs root to choose the next pid (ns_last_pid)"
else
	out=$("$HELPERS/reuse")
	diag "$out"
	case $out in
	skip:*) skip "a recycled pid is never attached" "${out#skip: }" ;;
	*) check "a recycled pid is never attached: arm and disarm fail with ESRCH, the new process untouched" \
		cond '[[ $out == *"arm=3 disarm=3 uffds=0" ]]' ;;
	esac
fi

# ---- fault injection: signals and SIGKILL to pmscan at random moments ----
vstart -t
sleep 0.2
cgt=$(sigcgt "$V_PID")
for sig in INT TERM HUP QUIT PIPE KILL; do
	for op in --arm --disarm; do
		n=$(kill -l $sig)
		if [ $op = --disarm ]; then
			"$PMSCAN" --arm -p "$V_PID" >/dev/null 2>&1
		fi
		out=$("$HELPERS/victim" killer "$V_PID" "$n" 25 20000 "$PMSCAN" $op -p "$V_PID")
		diag "SIG$sig during $op: $out"
		check "SIG$sig to pmscan at random moments of $op: the target lives, pmscan ends by the signal or done" \
			cond '[[ $out == *" dead=0 "* ]] && [[ $out == *" other=0" ]] && alive'
	done
done
"$PMSCAN" --disarm -p "$V_PID" >/dev/null 2>&1
vcounts
diag "$VC"
check "fault injection: no spurious EINTR in any blocked call" \
	[ $((pause_eintr + read_eintr + epoll_eintr + accept_eintr + nanosleep_eintr + futex_eintr)) -eq 0 ]
check "fault injection: signal masks and handlers unchanged" cond '[ "$mask_bad" -eq 0 ] && [ "$(sigcgt "$V_PID")" = "$cgt" ]'
check "fault injection: no corruption, no userfaultfd left" cond '[ "$sum_bad" -eq 0 ] && [ "$(uffds "$V_PID")" -eq 0 ]'
vstop

# ---- permission errors name the cause, in every mode ----
why=$(other_user_reason)
if [ -n "$why" ]; then
	skip "--watch -p on another user's process names the cause" "$why"
else
	vstart -t
	$NOBODY "$PMSCAN" --watch=0.2 --count=1 -p "$V_PID" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	check "--watch -p on another user's process: exit 1, the message names CAP_SYS_PTRACE" \
		cond '[ "$RC" -eq 1 ] && grep -q "CAP_SYS_PTRACE" "$WORK/err" && ! grep -qx ".*: Permission denied" "$WORK/err"'
	vstop
fi

# ---- privileges pmscan did not get from its caller ----
why=$(other_user_reason)
if [ -n "$why" ]; then
	skip "set-user-ID pmscan refuses to run" "$why"
else
	mkdir -p "$WORK/suid"
	cp "$HELPERS/pmscan-static" "$WORK/suid/pmscan"
	chmod 4755 "$WORK/suid/pmscan"
	$NOBODY "$WORK/suid/pmscan" --watch -- head -c 1 /etc/shadow \
		>"$WORK/out" 2>"$WORK/err"
	RC=$?
	check "set-user-ID pmscan run by an ordinary user: refuses (exit 1), prints nothing" \
		cond '[ "$RC" -eq 1 ] && [ ! -s "$WORK/out" ]'
	check "set-user-ID pmscan: says why" grep -q "refusing to run with privileges" "$WORK/err"
fi

done_testing

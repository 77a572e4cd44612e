#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: --watch on the running kernel, both ways it arms. A command
# it launches (armed at its first syscall after exec, through the tracer it
# already is): every page the command writes is counted and pmscan exits
# with its status. A running process (-p: the injector borrows one of its
# threads): writes of known pages land in exactly the count written, and
# the process is disarmed and runs on after SIGINT.
. "$TESTS_SRCDIR/cli/lib.sh"

require_arming
require_kernel pagemap_scan wp_async

# ---- --watch -- COMMAND ----
printf 'map A 3000 anon\nwrite A 0 1 3000\nexit 7\n' >"$WORK/script"
"$PMSCAN" --watch=0.5 --json -- "$HELPERS/target" <"$WORK/script" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "--watch -- COMMAND: pmscan exits with the command's status, 7" [ "$RC" -eq 7 ]
[ "$RC" -eq 7 ] || diag "$(head -c 300 "$WORK/err")"
last=$(grep -v '^ok' "$WORK/out" | tail -n 1)
check "--watch -- COMMAND: all 3000 pages it wrote are counted" \
	[ "$(jq '[.mappings[] | select(.mapping == "[anon]") | .written_pages] | add >= 3000' <<<"$last")" = true ]
check "--watch -- COMMAND: the summary has its exit status" [ "$(jq .exit_status <<<"$last")" = 7 ]

# ---- --watch -p PID ----
# wait_intervals N: until the watch has printed N interval objects (90 s at most).
wait_intervals() { wait_count "$1" '"interval_s"' 900; }
target_start
map M 400 memfd
: >"$WORK/out"
"$PMSCAN" --watch=0.3 --json -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
watcher=$!
if wait_intervals 1; then
	check "--watch -p: the target is armed while watched" [ "$(uffds "$T_PID")" = 1 ]
	write_batches M 4 0.2
	wait_intervals $(($(grep -c '"interval_s"' "$WORK/out") + 2))
	kill -INT $watcher
	wait $watcher
	RC=$?
	check "--watch -p: SIGINT ends it cleanly" [ "$RC" -eq 0 ]
	check_memfd_counts 400 "--watch -p"
else
	diag "stderr: $(head -c 300 "$WORK/err")"
	ok 1 "--watch -p: the watch printed its first interval"
	kill -INT $watcher 2>/dev/null
	wait $watcher
fi
check "--watch -p: disarmed afterwards (no userfaultfd left)" [ "$(uffds "$T_PID")" = 0 ]
tcmd pid
check "--watch -p: the target runs on" [ "$R" = "$T_PID" ]
done_testing

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pmscan --watch: per-interval counts and the distinct count against a
# target writing a fixed number of pages per 100 ms; a launched command's
# pages and exit status; Ctrl-C; the target exiting; the terminal display.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

require_arming

# A target writing 50 distinct pages every 100 ms: 500 pages a second.
target_start
map A 20000 anon
tcmd ticker A 50 100
"$PMSCAN" --watch=1 --count=4 --json -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "--watch --count=4: exit 0" [ "$RC" -eq 0 ]
check "--watch --json: 4 interval objects and a summary" \
	[ "$(jq -s '[.[] | select(.summary != true)] | length' "$WORK/out")" = 4 -a \
	  "$(jq -s '[.[] | select(.summary == true)] | length' "$WORK/out")" = 1 ]
check "--watch --json: interval keys" \
	[ "$(jq -sc '.[0] | keys' "$WORK/out")" = '["distinct_pages","elapsed_s","interval_s","mappings","pid","rate_bytes_per_s","top_mapping","written_bytes","written_pages"]' ]
# How many pages land in each interval depends on the scheduler (a busy
# machine delays the ticker and stretches intervals), so the counts are only
# shown; what the kernel guarantees is checked below against ground truth.
jq -c 'select(.summary != true) | [.interval_s, .written_pages]' "$WORK/out" | sed 's/^/# /'
check "the top writer is the target's area" \
	[ "$(jq -rs '[.[] | select(.summary != true) | .mappings[0].mapping] | unique | join(",")' "$WORK/out")" = "[anon]" ]
total=$(jq -s '[.[] | select(.summary == true)][0].written_pages' "$WORK/out")
distinct=$(jq -s '[.[] | select(.summary == true)][0].distinct_pages' "$WORK/out")
elapsed=$(jq -s '[.[] | select(.summary == true)][0].elapsed_s' "$WORK/out")
diag "total $total, distinct $distinct over $elapsed s"
check "distinct pages: every page written once (no wrap in 20000), within 5% of the total" \
	[ "$(jq -n --argjson t "$total" --argjson d "$distinct" '$d <= $t and $d >= 0.95 * $t')" = true ]
check "the watch disarmed the target it armed" [ "$(uffds "$T_PID")" = 0 ]

# Ground truth: while a watch runs, the test makes the target write 800
# distinct pages of a memfd area (a mapping no other write lands in), in 8
# batches spread over several intervals. Each page written once after the
# watch's first reset is reported by one interval's read-and-reset, however
# the intervals fall, and by the next one too only when its store was in
# flight at the reset (check_memfd_counts): the summary's distinct count of
# the area is exactly 800. Waits are for events, bounded, not for time.
# wait_intervals N: until the watch has printed N interval objects (60 s at most).
wait_intervals() { wait_count "$1" '"interval_s"'; }
target_start
map M 1000 memfd
: >"$WORK/out"	# empty before the watch starts: wait_intervals reads it
"$PMSCAN" --watch=0.2 --json -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
watcher=$!
if wait_intervals 1; then
	write_batches M 8 0.1
	# An interval whose scan began after the last write returned.
	wait_intervals $(($(grep -c '"interval_s"' "$WORK/out") + 2))
	kill -INT $watcher
	wait $watcher
	RC=$?
	check "ground truth: the watch ends cleanly on SIGINT" [ "$RC" -eq 0 ]
	check_memfd_counts 800 "ground truth"
	check "ground truth: at least 800 distinct pages" \
		[ "$(jq -s '[.[] | select(.summary == true)][0].distinct_pages >= 800' "$WORK/out")" = true ]
else
	diag "stderr: $(head -c 300 "$WORK/err")"
	ok 1 "ground truth: the watch printed its first interval"
	kill -INT $watcher 2>/dev/null
	wait $watcher
fi

# The steady writer again, for the rest.
target_start
map A 20000 anon
tcmd ticker A 50 100

# Plain lines when stdout is not a terminal.
"$PMSCAN" --watch=0.3 --count=2 -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
check "plain output: a header and one line per interval" \
	[ "$(head -n 1 "$WORK/out" | tr -s ' ' | sed 's/^ //')" = "ELAPSED INTERVAL PAGES BYTES RATE DISTINCT TOP" -a \
	  "$(sed -n '2,3p' "$WORK/out" | awk 'NF == 7 && $3 > 0' | wc -l)" = 2 ]
check "plain output: a summary" grep -q "^distinct pages written: " "$WORK/out"
check "plain output: BYTES and RATE human-readable, as every table's sizes" \
	[ "$(sed -n '2,3p' "$WORK/out" | awk '$4 ~ /^[0-9][0-9.]*[BKMGTPE]$/ && $5 ~ /^[0-9][0-9.]*[BKMGTPE]$/' | wc -l)" = 2 ]
"$PMSCAN" --watch=0.3 --count=2 -b -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
check "-b: BYTES is PAGES times the page size, RATE a whole number of bytes" \
	[ "$(sed -n '2,3p' "$WORK/out" | awk -v ps="$PAGE" '$3 > 0 && $4 == $3 * ps && $5 ~ /^[0-9]+$/' | wc -l)" = 2 ]

# Ctrl-C mid-watch: clean exit, disarmed, summary.
: >"$WORK/out"
"$PMSCAN" --watch=0.2 --json -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
watcher=$!
wait_intervals 1
check "while watching, the target is armed" [ "$(uffds "$T_PID")" = 1 ]
kill -INT $watcher
wait $watcher
RC=$?
check "SIGINT: exit 0" [ "$RC" -eq 0 ]
check "SIGINT: summary printed" [ "$(tail -n 1 "$WORK/out" | jq .summary)" = true ]
check "SIGINT: the target disarmed (no userfaultfd left)" [ "$(uffds "$T_PID")" = 0 ]
tcmd pid
check "SIGINT: the target runs on" [ "$R" = "$T_PID" ]

# A target already armed stays armed.
"$PMSCAN" --arm -p "$T_PID" >/dev/null 2>&1
"$PMSCAN" --watch=0.2 --count=2 -p "$T_PID" >/dev/null 2>&1
check "a target armed before the watch stays armed" [ "$(uffds "$T_PID")" = 1 ]

# The target exiting mid-watch: summary, exit 0.
"$PMSCAN" --watch=0.2 --json -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
watcher=$!
sleep 0.7
target_stop
wait $watcher
RC=$?
check "target exits mid-watch: exit 0" [ "$RC" -eq 0 ]
check "target exits mid-watch: summary printed" [ "$(tail -n 1 "$WORK/out" | jq .summary)" = true ]

# A launched command: maps and writes 3000 pages, exits 7 at once.
printf 'map A 3000 anon\nwrite A 0 1 3000\nexit 7\n' >"$WORK/script"
# LeakSanitizer cannot run in a traced process (the sanitizer build's target).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
"$PMSCAN" --watch=0.5 --json -- "$HELPERS/target" <"$WORK/script" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "launched command: pmscan exits with its status, 7" [ "$RC" -eq 7 ]
sed -n '$p' "$WORK/out" | jq -c '.mappings' | sed 's/^/# /'
check "launched command: all 3000 pages it wrote are counted" \
	[ "$(grep -v '^ok' "$WORK/out" | tail -n 1 | jq '[.mappings[] | select(.mapping == "[anon]") | .written_pages] | add >= 3000')" = true ]
check "launched command: the summary has its exit status" \
	[ "$(grep -v '^ok' "$WORK/out" | tail -n 1 | jq .exit_status)" = 7 ]
"$PMSCAN" --watch -- sh -c 'kill -TERM $$' >"$WORK/out" 2>"$WORK/err"
check "launched command killed by a signal: 128+signal" [ $? -eq 143 ]
expect_exit 127 "a command that does not exist: 127" "cannot run '/nonexistent/pmscan-no-such-command'" \
	--watch -- /nonexistent/pmscan-no-such-command
expect_exit 2 "--watch with both -p and a command" "either -p PID or -- COMMAND" --watch -p 1 -- true
expect_exit 2 "--watch with a selection" "--watch takes only" --watch -p 1 --present
expect_exit 2 "--watch=0" "invalid interval '0'" --watch=0 -p 1
expect_exit 2 "--count without --watch" "--count goes with --watch" -p 1 --count=3

# A mapping name far longer than PATH_MAX (a file deep in directories named with
# control bytes: the maps show the whole path, 4 bytes each as \xHH, 6 as
# \u00XX): the MAPPINGS cell of the interval rows holds it whole (it was
# sized for five 4096-byte names: the scratch buffer overflowed into a write to
# no stream, a crash).
if command -v python3 >/dev/null; then
	python3 - "$WORK/deep" >"$WORK/deep.out" <<'PY' &
import mmap, os, sys, time
base = sys.argv[1]
os.makedirs(base, exist_ok=True)
fd = os.open(base, os.O_RDONLY)
for i in range(170):           # 170 levels of 200 bytes: 34000 and more
    name = "\x01" * 199 + "d"
    try:
        os.mkdir(name, dir_fd=fd)
    except FileExistsError:
        pass
    nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open("file", os.O_RDWR | os.O_CREAT, 0o600, dir_fd=fd)
os.ftruncate(f, 4096 * 8)
m = mmap.mmap(f, 4096 * 8)
print(os.getpid(), flush=True)
for _ in range(2000):
    for p in range(8):
        m[p * 4096] = (m[p * 4096] + 1) & 0xff
    time.sleep(0.02)
PY
	deep=$!
	for ((i = 0; i < 100; i++)); do [ -s "$WORK/deep.out" ] && break; sleep 0.1; done
	for fmt in "" --raw --json; do
		"$PMSCAN" --watch=0.2 --count=2 $fmt -o pages,mappings -p "$deep" >"$WORK/out" 2>"$WORK/err"
		RC=$?
		check "a mapping name of 34000 control bytes ${fmt:-(text)}: exit 0" [ "$RC" -eq 0 ]
		if [ "$fmt" = --json ]; then
			check "--json: the whole name in mappings" \
				[ "$(jq -rs '[.[] | select(.summary != true) | .mappings[] | .mapping | select(endswith("/file")) | length] | max' "$WORK/out")" -gt 34000 ]
		else
			check "${fmt:-text}: the whole name, escaped, in MAPPINGS" grep -q '\\x01d/\\x01.*/file=[0-9]' "$WORK/out"
		fi
	done
	kill "$deep" 2>/dev/null
	wait "$deep" 2>/dev/null
else
	skip "a mapping name longer than PATH_MAX" "python3 is not installed"
fi

# On a terminal: the live display shows the rate.
target_start
map A 20000 anon
tcmd ticker A 50 100
if command -v script >/dev/null; then
	script -qec "$PMSCAN --watch=0.3 --count=3 -p $T_PID" /dev/null </dev/null >"$WORK/tty" 2>&1
	check "terminal: the screen shows the rate" grep -q "^rate  *[0-9.]*[KMG]\?/s" <(tr -d '\r' <"$WORK/tty" | sed 's/\x1b\[[0-9]*[AK]//g')
	check "terminal: the display is redrawn in place" grep -q $'\x1b\\[5A' "$WORK/tty"
	check "terminal: a sparkline" grep -q "history  *[▁▂▃▄▅▆▇█]" "$WORK/tty"
	# -b: the sizes in bytes, the live view as the rest; each interval's
	# bytes exactly its pages (and a ticker's interval writes some).
	script -qec "$PMSCAN --watch=0.3 --count=3 -b -p $T_PID" /dev/null </dev/null >"$WORK/tty" 2>&1
	tr -d '\r' <"$WORK/tty" | sed 's/\x1b\[[0-9]*[AK]//g' >"$WORK/screen"
	lines=$(grep -c "^rate  *[0-9]*/s   written [0-9]* pages ([0-9]*) this interval" "$WORK/screen")
	bad=$(sed -n 's/^rate  *[0-9]*\/s   written \([0-9]*\) pages (\([0-9]*\)) this interval$/\1 \2/p' "$WORK/screen" |
		awk -v ps="$PAGE" '$1 * ps != $2' | wc -l)
	check "terminal, -b: rates and sizes in bytes, each interval's bytes its pages ($lines lines)" \
		test "$lines" -ge 3 -a "$bad" = 0 -a "$(grep -c "^rate.*[KMG]" "$WORK/screen")" = 0
	check "terminal, -b: the summary in bytes" \
		grep -Eq "^written: [0-9]+ pages \([0-9]+\); peak rate [0-9]+/s; mean rate [0-9]+/s$" "$WORK/screen"
else
	skip "terminal display" "script(1) is not installed"
	skip "terminal, -b" "script(1) is not installed"
	skip "terminal, -b: the summary" "script(1) is not installed"
fi
# -b in a pipe: the summary's sizes are bytes, exactly the pages counted.
"$PMSCAN" --watch=0.3 --count=2 -b -p "$T_PID" >"$WORK/out" 2>"$WORK/err"
w=$(sed -n 's/^written: \([0-9]*\) pages (\([0-9]*\)); peak rate [0-9]*\/s; mean rate [0-9]*\/s$/\1 \2/p' "$WORK/out")
d=$(sed -n 's/^distinct pages written: \([0-9]*\) (\([0-9]*\))$/\1 \2/p' "$WORK/out")
diag "-b summary: written ${w:-?}, distinct ${d:-?}"
check "-b: the summary's written and distinct sizes are their pages in bytes" \
	test -n "$w" -a -n "$d" -a "$(printf '%s\n%s\n' "$w" "$d" | awk -v ps="$PAGE" '{ print ($1 * ps == $2) ? "y" : "n" }' | sort -u)" = y
done_testing

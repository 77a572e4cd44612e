#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pmscan --watch --format=openmetrics: every exposition parsed by a real
# OpenMetrics parser (python3-prometheus-client), its families and labels
# checked, its counts compared with the pages the target wrote; label values
# made from a hostile process name and file name (quote, backslash, newline,
# a byte that is not UTF-8) survive parsing; names that escape alike make one
# series. The option's usage errors.
. "$TESTS_SRCDIR/cli/lib.sh"

# ---- the option (no kernel feature needed) ----
expect_exit 2 "--format=openmetrics without --watch" "--format=openmetrics goes with --watch" \
	-p 1 --format=openmetrics
expect_exit 2 "--openmetrics without --watch" "--openmetrics goes with --watch" -p 1 --openmetrics
expect_exit 2 "an unknown --format" "unknown format 'xml' \(text, raw, json or openmetrics\)" \
	--watch -p 1 --format=xml
expect_exit 2 "--json and --format=openmetrics" "--json and --format=openmetrics exclude each other" \
	--watch -p 1 --json --format=openmetrics
expect_exit 2 "--format=raw and --json" "--format=raw and --json exclude each other" \
	-p 1 --format=raw --json
expect_exit 2 "--openmetrics with -o" "--openmetrics takes no --output" --watch -p 1 --openmetrics -o pages
for f in json:--json raw:--raw; do
	"$PMSCAN" --list-columns --format="${f%%:*}" >"$WORK/a" 2>&1
	"$PMSCAN" --list-columns "${f#*:}" >"$WORK/b" 2>&1
	check "--format=${f%%:*} is ${f#*:}" same "$WORK/a" "$WORK/b"
done
"$PMSCAN" --list-columns --format=text >"$WORK/a" 2>&1
"$PMSCAN" --list-columns >"$WORK/b" 2>&1
check "--format=text is the default" same "$WORK/a" "$WORK/b"

# ---- the expositions ----
OM_PY=
for py in python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null && "$py" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
		OM_PY=$py
		break
	fi
done
why=
case $(uname -m) in
x86_64 | aarch64) ;;
*) why="arming is implemented for x86_64 and aarch64 only" ;;
esac
[ -n "$why" ] || kernel_has wp_async || why=$(kernel_lacks_reason wp_async)
[ -n "$why" ] || [ -n "$OM_PY" ] ||
	why="no OpenMetrics parser: python3-prometheus-client is not installed (tools/setup.sh --deps-only installs it)"
if [ -n "$why" ]; then
	skip "--watch --format=openmetrics: expositions parsed and checked against ground truth" "$why"
	done_testing
fi

# om.py parse FILE: the expositions in FILE (strict UTF-8, nothing a terminal
# would obey but newlines, each ending in "# EOF", nothing after the last),
# each parsed by prometheus_client's OpenMetrics parser, one JSON line each:
# {"families":{NAME:{"type","unit","help"}},"samples":[{"name","labels","value"}]}.
# om.py maps PID ADDR: the pathname /proc/PID/maps shows for the mapping at
# ADDR, as a JSON string, its bytes that are not UTF-8 as U+FFFD.
cat >"$WORK/om.py" <<'EOF'
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

def parse(path):
    text = open(path, 'rb').read().decode('utf-8')  # raises on invalid UTF-8
    bad = [c for c in text if (ord(c) < 32 and c != '\n') or 0x7f <= ord(c) < 0xa0]
    if bad:
        sys.exit('control characters in the output: %r' % bad[:5])
    expo, n = [], 0
    for line in text.split('\n')[:-1] if text.endswith('\n') else text.split('\n'):
        expo.append(line)
        if line != '# EOF':
            continue
        fams = list(text_string_to_metric_families('\n'.join(expo) + '\n'))
        print(json.dumps({
            'families': {f.name: {'type': f.type, 'unit': f.unit, 'help': f.documentation}
                         for f in fams},
            'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value}
                        for f in fams for s in f.samples]}))
        expo, n = [], n + 1
    if expo or not text.endswith('# EOF\n'):
        sys.exit('text after the last "# EOF": %r' % '\n'.join(expo)[:200])
    if not n:
        sys.exit('no exposition')

def maps(pid, addr):
    for line in open('/proc/%s/maps' % pid, 'rb'):
        fields = line.rstrip(b'\n').split(None, 5)
        if int(fields[0].split(b'-')[0], 16) == int(addr, 0):
            print(json.dumps(fields[5].decode('utf-8', 'replace')))
            return
    sys.exit('no mapping at %s' % addr)

if sys.argv[1] == 'parse':
    parse(sys.argv[2])
else:
    maps(sys.argv[2], sys.argv[3])
EOF

# om_parse: parse $WORK/out into $WORK/om (one JSON line per exposition).
om_parse() {
	if "$OM_PY" "$WORK/om.py" parse "$WORK/out" >"$WORK/om" 2>"$WORK/om.err"; then
		return 0
	fi
	diag "parser: $(tail -n 3 "$WORK/om.err")"
	return 1
}
# om Q: jq Q over the expositions, slurped into one array.
om() { jq -r -s "$@" "$WORK/om"; }
# expositions: how many have been written to $WORK/out so far.
expositions() { grep -c '^# EOF$' "$WORK/out"; }
# wait_expositions N: until the watch has written N (60 s at most).
wait_expositions() { wait_count "$1" '^# EOF$'; }

# A steady writer: 50 distinct pages every 100 ms.
target_start
map A 20000 anon
tcmd ticker A 50 100
run_pmscan --watch=0.5 --count=3 --format=openmetrics -p "$T_PID"
check "--count=3: exit 0, nothing on stderr" cond '[ "$RC" -eq 0 ] && [ ! -s "$WORK/err" ]'
check "three expositions, each one parsed whole by the OpenMetrics parser" \
	cond 'om_parse && [ "$(wc -l <"$WORK/om")" = 3 ]'
om '.[0].families | to_entries[] | "\(.key) \(.value.type) \(.value.unit)"' >"$WORK/families"
cat >"$WORK/expect" <<'EOF'
pmscan_written_pages counter 
pmscan_written_bytes counter bytes
pmscan_write_rate_bytes_per_second gauge bytes_per_second
pmscan_written_working_set_pages gauge 
pmscan_written_working_set_bytes gauge bytes
pmscan_interval_seconds gauge seconds
pmscan_watch_start_time_seconds gauge seconds
pmscan_mapping_written_pages counter 
pmscan_mapping_written_bytes counter bytes
pmscan_mapping_write_rate_bytes_per_second gauge bytes_per_second
pmscan_mapping_written_working_set_pages gauge 
pmscan_mapping_written_working_set_bytes gauge bytes
EOF
check "the families, their types and units" same "$WORK/families" "$WORK/expect"
check "every family has help text" \
	[ "$(om '[.[].families[] | select(.help == "")] | length')" = 0 ]
check "every sample is labelled with the pid and comm; per-mapping ones with the mapping" \
	[ "$(om --arg pid "$T_PID" '[.[].samples[] | select(.labels.pid != $pid or .labels.comm != "target"
		or ((.name | startswith("pmscan_mapping_")) != (.labels | has("mapping"))))] | length')" = 0 ]
# v NAME: that process sample's value in each exposition, as an array.
v() { printf '[.[] | .samples[] | select(.name == "%s") | .value]' "$1"; }
check "the counters never go back" \
	[ "$(om "$(v pmscan_written_pages_total) as \$p | [range(1; \$p | length) | \$p[.] >= \$p[. - 1]] | all")" = true ]
check "bytes are pages times the page size" \
	[ "$(om --argjson ps "$PAGE" "($(v pmscan_written_pages_total) | map(. * \$ps)) == $(v pmscan_written_bytes_total) and
		($(v pmscan_written_working_set_pages) | map(. * \$ps)) == $(v pmscan_written_working_set_bytes)")" = true ]
check "the working set is at most the pages written, and the ticker's area wrote" \
	[ "$(om "([$(v pmscan_written_working_set_pages), $(v pmscan_written_pages_total)] | transpose | all(.[0] <= .[1]))
		and ([.[-1].samples[] | select(.name == \"pmscan_mapping_written_pages_total\" and .labels.mapping == \"[anon]\") | .value][0] > 0)")" = true ]
check "the mappings add up to the process, written and working set, in every exposition" \
	[ "$(om 'map(.samples | (map(select(.name == "pmscan_written_pages_total") | .value) | add)
		== (map(select(.name == "pmscan_mapping_written_pages_total") | .value) | add)
		and (map(select(.name == "pmscan_written_working_set_pages") | .value) | add)
		== (map(select(.name == "pmscan_mapping_written_working_set_pages") | .value) | add)) | all')" = true ]
# The rate is the interval's pages (the counter's step) over its length.
check "the write rate is the counter's step over the interval" \
	[ "$(om --argjson ps "$PAGE" "[$(v pmscan_written_pages_total), $(v pmscan_interval_seconds),
		$(v pmscan_write_rate_bytes_per_second)] as [\$p, \$s, \$r] |
		[range(1; \$p | length) as \$i | ((\$p[\$i] - \$p[\$i - 1]) * \$ps / \$s[\$i] - \$r[\$i] | fabs) <= 1 + 0.00001 * \$r[\$i]] | all")" = true ]
check "the watch's start is one time, now give or take a minute" \
	[ "$(om --argjson now "$(date +%s)" "$(v pmscan_watch_start_time_seconds) | unique | length == 1 and (.[0] - \$now | fabs) < 60")" = true ]

# Ground truth, as in watch.sh: 800 distinct pages of a memfd area written in
# 8 batches over several intervals, then all 800 again after an interval
# boundary: each exposition's counter holds every write after a reset once
# (twice for a store in flight at a reset), so 800 after the first round and
# 1600 after the second, while the working set stays exactly 800. Waits are for events, bounded, not for time.
target_start
map M 1000 memfd
: >"$WORK/out"
"$PMSCAN" --watch=0.2 --openmetrics -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
watcher=$!
if wait_expositions 1; then
	write_batches M 8 0.1
	# An exposition whose scan began after the last write returned.
	wait_expositions $(($(expositions) + 2))
	first=$(expositions)
	tcmd write M 0 1 800
	wait_expositions $((first + 2))
	kill -INT $watcher
	wait $watcher
	RC=$?
	check "ground truth: the watch ends cleanly on SIGINT" [ "$RC" -eq 0 ]
	check "ground truth: the output parses" om_parse
	memfd='[.samples[] | select((.labels.mapping // "") | startswith("/memfd:pmscan-test"))]'
	mval() { printf '([%s[] | select(.name == "%s") | .value] | add // 0)' "$memfd" "$1"; }
	# [written, distinct, cut] at exposition I (1-based): cut counts the
	# expositions up to I whose increment holds part of a batch of 100.
	at() {
		om --argjson i "$1" "[.[] | $(mval pmscan_mapping_written_pages_total)] as \$w |
			([range(0; \$i) | \$w[.] - (if . > 0 then \$w[. - 1] else 0 end) | select(. % 100 != 0)] | length) as \$cut |
			.[\$i - 1] | [$(mval pmscan_mapping_written_pages_total), $(mval pmscan_mapping_written_working_set_pages), \$cut, $(mval pmscan_mapping_written_bytes_total)] | join(\" \")"
	}
	# A page whose store was in flight at a reset counts in both intervals
	# (check_memfd_counts in lib.sh): at most one more per cut batch.
	read -r w d cut _ <<<"$(at "$first")"
	check "ground truth: after the first round, 800 distinct, 800 written, +1 at most per cut batch (got $w $d, $cut cut)" \
		test "$d" = 800 -a "$w" -ge 800 -a "$((w - 800))" -le "$cut"
	read -r w d cut b <<<"$(at "$(om length)")"
	check "ground truth: after the second, 800 distinct, 1600 written, +1 at most per cut batch (got $w $d, $cut cut)" \
		test "$d" = 800 -a "$w" -ge 1600 -a "$((w - 1600))" -le "$cut" -a "$b" = "$((w * PAGE))"
else
	diag "stderr: $(head -c 300 "$WORK/err")"
	ok 1 "ground truth: the watch wrote its first exposition"
	kill -INT $watcher 2>/dev/null
	wait $watcher
fi

# Hostile names: the target runs as a symlink whose name (its comm) has a
# quote, a backslash, a newline and the byte 0xff, and maps a tmpfs file
# (tracked as memfd is) named so; two more files differ only in a byte that
# is not UTF-8, so their names escape alike.
weird=$'q"b\\s\nn\xff'
SHM=$(mktemp -d /dev/shm/pmscan-test.XXXXXX 2>/dev/null)
if [ -n "$SHM" ] && [ "$(stat -f -c %T "$SHM")" = tmpfs ]; then
	trap 'cleanup; rm -rf "$SHM"' EXIT
	ln -s "$HELPERS/target" "$WORK/$weird"
	for f in "$weird" $'x\xfe' $'x\xff'; do
		head -c $((16 * PAGE)) /dev/zero >"$SHM/$f.dat"
	done
	ln -s "$SHM/$weird.dat" "$WORK/w.dat"
	ln -s "$SHM/"$'x\xfe.dat' "$WORK/fe.dat"
	ln -s "$SHM/"$'x\xff.dat' "$WORK/ff.dat"
	target_start "$WORK/$weird"
	map W 16 "file:$WORK/w.dat"
	map FE 16 "file:$WORK/fe.dat"
	map FF 16 "file:$WORK/ff.dat"
	"$OM_PY" "$WORK/om.py" maps "$T_PID" "$W" >"$WORK/wname"
	"$OM_PY" "$WORK/om.py" maps "$T_PID" "$FE" >"$WORK/fename"
	: >"$WORK/out"
	"$PMSCAN" --watch=0.2 --openmetrics -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
	watcher=$!
	if wait_expositions 1; then
		tcmd write W 0 1 16
		tcmd write FE 0 1 5
		tcmd write FF 0 1 7
		wait_expositions $(($(expositions) + 2))
		kill -INT $watcher
		wait $watcher
		check "hostile names: the output parses (valid UTF-8, nothing a terminal obeys)" om_parse
		comm=$(om '.[-1].samples[0].labels.comm | @json')
		check "hostile names: the comm label is the name, its bad byte U+FFFD (got $comm)" \
			[ "$comm" = '"q\"b\\s\nn�"' ]
		check "hostile names: the mapping label is the path /proc shows, its bad byte U+FFFD" \
			[ "$(om --slurpfile n "$WORK/wname" '[.[-1].samples[] | select(.name == "pmscan_mapping_written_pages_total"
				and .labels.mapping == $n[0]) | .value] == [16]')" = true ]
		diag "mapping label: $(cat "$WORK/wname")"
		check "hostile names: two names that escape alike make one series (5 + 7 pages)" \
			[ "$(om --slurpfile n "$WORK/fename" '[.[-1].samples[] | select(.name == "pmscan_mapping_written_pages_total"
				and .labels.mapping == $n[0]) | .value] == [12]')" = true ]
	else
		diag "stderr: $(head -c 300 "$WORK/err")"
		ok 1 "hostile names: the watch wrote its first exposition"
		kill -INT $watcher 2>/dev/null
		wait $watcher
	fi
	rm -rf "$SHM"
else
	skip "hostile names in labels" "/dev/shm is not a tmpfs this test can write"
fi

# The process gone before the first interval: still one exposition, zeros.
target_start
"$PMSCAN" --watch=5 --openmetrics -p "$T_PID" >"$WORK/out" 2>"$WORK/err" &
watcher=$!
for ((i = 0; i < 600; i++)); do
	[ "$(uffds "$T_PID")" = 1 ] && break
	sleep 0.1
done
sleep 0.3	# past the first reset, so that the watch sees the exit at once
target_stop
wait $watcher
RC=$?
check "process gone before the first interval: exit 0, one exposition of zeros" \
	cond '[ "$RC" -eq 0 ] && om_parse && [ "$(om "length == 1 and ([.[0].samples[] | select(.name | test(\"written\")) | .value] | all(. == 0))")" = true ]'

# A launched command: its 3000 pages counted, its exit status kept.
printf 'map A 3000 anon\nwrite A 0 1 3000\nexit 7\n' >"$WORK/script"
# LeakSanitizer cannot run in a traced process (the sanitizer build's target).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
"$PMSCAN" --watch=0.5 --format=openmetrics -- sh -c 'exec "$0" >/dev/null' "$HELPERS/target" \
	<"$WORK/script" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "launched command: exit status 7" [ "$RC" -eq 7 ]
check "launched command: the output parses, and counts the 3000 pages it wrote" \
	cond 'om_parse && [ "$(om "[.[-1].samples[] | select(.name == \"pmscan_mapping_written_pages_total\" and .labels.mapping == \"[anon]\") | .value][0] >= 3000")" = true ]'
done_testing

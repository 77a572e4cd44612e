#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every JSON output against data/pmscan.schema.json (python3-jsonschema, a
# real validator) and through json-c (tests/helpers/json-check): the scan,
# the summary, -o subsets, several processes with one that does not exist,
# --list-categories, --list-columns of each mode, --watch lines, and a scan
# whose target is killed half-way. The validator is shown to refuse broken
# documents, so a pass means something.
. "$TESTS_SRCDIR/cli/lib.sh"

SCHEMA=$TOP_SRCDIR/data/pmscan.schema.json
[ -f "$SCHEMA" ] || bail "no schema at $SCHEMA"
[ -x "$HELPERS/json-check" ] || bail "no json-check helper in $HELPERS"

# The validator: python3 with jsonschema (Debian: python3-jsonschema), the
# one on PATH or the system's.
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import jsonschema; jsonschema.Draft202012Validator' 2>/dev/null; then
		PY=$p
		break
	fi
done
NO_VALIDATOR="python3-jsonschema (with Draft 2020-12 support) is not installed"
cat >"$WORK/validate.py" <<'END'
# validate.py SCHEMA DEF FILE [lines]: FILE (one document, or one per line)
# against $defs/DEF, and against the whole schema, where exactly one shape
# must match.
import json, sys
from jsonschema import Draft202012Validator

schema = json.load(open(sys.argv[1], encoding="utf-8"))
Draft202012Validator.check_schema(schema)
name = sys.argv[2]
if name not in schema["$defs"]:
    sys.exit("no definition " + name)
sub = {k: v for k, v in schema.items() if k != "oneOf"}
sub["$ref"] = "#/$defs/" + name
one, whole = Draft202012Validator(sub), Draft202012Validator(schema)
with open(sys.argv[3], encoding="utf-8") as f:
    docs = [json.loads(l) for l in f] if sys.argv[4:] == ["lines"] else [json.load(f)]
bad = 0
for i, d in enumerate(docs):
    for e in sorted(one.iter_errors(d), key=str)[:3]:
        print("document %d: /%s: %s" % (i + 1, "/".join(map(str, e.absolute_path)), e.message[:300]))
        bad = 1
    if not bad and not whole.is_valid(d):
        print("document %d: matches no shape, or more than one, of the whole schema" % (i + 1))
        bad = 1
sys.exit(bad)
END

# valid DESC DEF FILE [lines]: two test points, FILE parses with json-c, and
# validates against the schema's DEF (skipped without the validator).
valid() {
	local desc=$1 def=$2 file=$3 lines=${4:-}
	if [ ! -s "$file" ]; then
		diag "$file is empty"
		ok 1 "$desc: json-c parses it"
	elif "$HELPERS/json-check" ${lines:+--lines} "$file" >"$WORK/jc.out" 2>"$WORK/jc.err"; then
		ok 0 "$desc: json-c parses it"
	else
		sed 's/^/# /' "$WORK/jc.err"
		ok 1 "$desc: json-c parses it"
	fi
	if [ -z "$PY" ]; then
		skip "$desc: valid against \$defs/$def" "$NO_VALIDATOR"
	elif "$PY" "$WORK/validate.py" "$SCHEMA" "$def" "$file" $lines >"$WORK/v.out" 2>&1; then
		ok 0 "$desc: valid against \$defs/$def"
	else
		head -n 6 "$WORK/v.out" | sed 's/^/# /'
		ok 1 "$desc: valid against \$defs/$def"
	fi
}

# refused DESC DEF FILE: the validator rejects FILE (a broken document).
refused() {
	if [ -z "$PY" ]; then
		skip "$1" "$NO_VALIDATOR"
	else
		"$PY" "$WORK/validate.py" "$SCHEMA" "$2" "$3" >"$WORK/v.out" 2>&1
		check "$1" [ $? -eq 1 ]
	fi
}

# keys FILE: the distinct key sets of the rows of the document's first array
# (regions, mappings, categories or columns), one per line.
row_keys() { jq -r '[.regions // .mappings // .categories // .columns][0][] | keys_unsorted | join(",")' "$1" | sort -u; }

if [ -n "$PY" ]; then
	check "the schema is a valid Draft 2020-12 schema" \
		"$PY" -c 'import json, sys, jsonschema; jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))' "$SCHEMA"
else
	skip "the schema is a valid Draft 2020-12 schema" "$NO_VALIDATOR"
fi
"$PMSCAN" --version >/dev/null || bail "pmscan does not run"

# A target with a tracked area, written pages, and a file whose name holds a
# control character and a byte that is not UTF-8 (mapped, then renamed:
# /proc/PID/maps shows the new name).
target_start
map A 300 anon
tracked=
if kernel_has wp_async && tcmd_try track A; then tracked=1; fi
tcmd write A 0 2 100
head -c $((4 * PAGE)) /dev/zero >"$WORK/plain"
map F 4 "file:$WORK/plain"
tcmd read F 0 1 4
mv "$WORK/plain" "$WORK/$(printf 'odd\x1bname\xff')"
RA=$(range "$A" 300)
pid=$T_PID

# ---- the scan ------------------------------------------------------------
run_pmscan -p "$pid" -J
check "scan: exit 0" [ "$RC" -eq 0 ]
valid "scan" scan "$WORK/out"
cp "$WORK/out" "$WORK/scan.json"
check "scan: U+FFFD and \\u001b in the renamed file's name" \
	grep -q "odd\\\\u001bname$(printf '\xef\xbf\xbd')\"" "$WORK/scan.json"
run_pmscan -p "$pid" -j
check "-j is -J" cond '[ "$RC" -eq 0 ] && [ "$(jq -c .processes "$WORK/out")" = "$(jq -c .processes "$WORK/scan.json")" ]'
if [ -n "$tracked" ]; then
	run_pmscan -p "$pid" --written -J --range="$RA"
	valid "scan --written --range" scan "$WORK/out"
	check "scan --written: 100 pages in 100 regions" \
		[ "$(jq -c '[.total_pages, .total_regions, .processes[0].untracked_mappings]' "$WORK/out")" = "[100,100,0]" ]
else
	skip "scan --written --range" "$(kernel_lacks_reason wp_async)"
fi
run_pmscan -p "$pid" -J -o start
valid "scan -o start" scan "$WORK/out"
check "scan -o start: rows hold pid and start only" [ "$(row_keys "$WORK/out")" = "pid,start" ]
all=$("$PMSCAN" --list-columns -r -n | awk '{ print $1 }' | paste -sd, -)
run_pmscan -p "$pid" -J -o "$all"
valid "scan -o (every column)" scan "$WORK/out"
check "scan -o (every column): every key" \
	[ "$(row_keys "$WORK/out")" = "$("$PMSCAN" --list-columns -J | jq -r '[.columns[].key] | join(",")')" ]
run_pmscan -p "$pid" -J -o +perms,tracked
valid "scan -o +perms,tracked" scan "$WORK/out"
run_pmscan -p "$pid" -J --range="$(range "$A" 1)" --require=swapped
valid "scan, nothing matched" scan "$WORK/out"
check "scan, nothing matched: an empty regions array" [ "$(jq -c '[.regions, .total_pages]' "$WORK/out")" = '[[],0]' ]

# ---- the summary ---------------------------------------------------------
run_pmscan -p "$pid" -s -J
check "summary: exit 0" [ "$RC" -eq 0 ]
valid "summary" summary "$WORK/out"
check "summary: total_matched is the sum of the mappings" \
	[ "$(jq '[.mappings[].matched] | add' "$WORK/out")" = "$(jq .total_matched "$WORK/out")" ]
run_pmscan -p "$pid" -s -J -o matched
valid "summary -o matched" summary "$WORK/out"
check "summary -o matched: rows hold pid and matched only" [ "$(row_keys "$WORK/out")" = "pid,matched" ]
all=$("$PMSCAN" -s --list-columns -r -n | awk '{ print $1 }' | paste -sd, -)
run_pmscan -p "$pid" -s -J -o "$all"
valid "summary -o (every column, categories not reported among them)" summary "$WORK/out"
run_pmscan -p "$pid" -s --present -J -o written,present,tracked
valid "summary --present -o written,present,tracked" summary "$WORK/out"
check "summary --present: 'written' is not reported (null)" \
	[ "$(jq -c '[.mappings[].written] | unique' "$WORK/out")" = "[null]" ]

# ---- several processes, one of them gone ------------------------------------
sh -c 'exit 0' &
gone=$!
wait $gone
tcmd fork
second=$R
for mode in scan summary; do
	opt=
	[ $mode = summary ] && opt=-s
	run_pmscan -p "$pid,$gone" -p "$second" $opt -J
	check "$mode of 3 processes, one gone: exit 1" [ "$RC" -eq 1 ]
	valid "$mode of 3 processes, one gone" $mode "$WORK/out"
	check "$mode of 3 processes: processes[] in order, the gone one with its error" \
		[ "$(jq -c '[.processes[] | [.pid, (.error != null)]]' "$WORK/out")" = "[[$pid,false],[$gone,true],[$second,false]]" ]
	check "$mode of 3 processes: rows of both live ones, none of the gone one" \
		[ "$(jq -c '[(.regions // .mappings)[].pid] | unique' "$WORK/out")" = "$(printf '[%s]' "$(printf '%s\n' "$pid" "$second" | sort -n | paste -sd, -)")" ]
done
kill "$second" 2>/dev/null

# ---- the lists -------------------------------------------------------------
run_pmscan --list-categories -J
check "--list-categories -J: exit 0" [ "$RC" -eq 0 ]
valid "--list-categories -J" category_list "$WORK/out"
check "--list-categories -J: every category, kernel true where text says yes" \
	[ "$(jq -r '.categories[] | "\(.category) \(if .kernel then "yes" else "no" end)"' "$WORK/out")" = \
	  "$("$PMSCAN" --list-categories -n -r | awk '{ print $1, $2 }')" ]
run_pmscan --list-categories -J -o reason
valid "--list-categories -J -o reason" category_list "$WORK/out"
run_pmscan --list-categories -J --tracker=soft-dirty
valid "--list-categories -J --tracker=soft-dirty" category_list "$WORK/out"
for mode in "" -s --watch --list-categories; do
	run_pmscan $mode --list-columns -J
	check "--list-columns -J ${mode:-(scan)}: exit 0" [ "$RC" -eq 0 ]
	valid "--list-columns -J ${mode:-(scan)}" column_list "$WORK/out"
	check "--list-columns -J ${mode:-(scan)}: the names of the text list" \
		[ "$(jq -r '.columns[].name' "$WORK/out")" = "$("$PMSCAN" $mode --list-columns -n -r | awk '{ print $1 }')" ]
done

# ---- --watch -----------------------------------------------------------------
if ! kernel_has wp_async; then
	skip "--watch -J" "$(kernel_lacks_reason wp_async)"
elif ! case $(uname -m) in x86_64 | aarch64) true ;; *) false ;; esac; then
	skip "--watch -J" "arming is implemented for x86_64 and aarch64 only"
else
	map W 2000 anon
	tcmd ticker W 20 50
	run_pmscan --watch=0.2 --count=2 -J -p "$pid"
	check "--watch -J --count=2: exit 0" [ "$RC" -eq 0 ]
	valid "--watch -J --count=2" watch_line "$WORK/out" lines
	check "--watch -J --count=2: 2 intervals, then the summary" \
		[ "$(jq -c '[.summary // false, .pid]' "$WORK/out" | paste -sd' ' -)" = "[false,$pid] [false,$pid] [true,$pid]" ]
	head -n 1 "$WORK/out" >"$WORK/interval"
	valid "--watch -J: an interval line" watch_interval "$WORK/interval"
	tail -n 1 "$WORK/out" >"$WORK/summary"
	valid "--watch -J: the summary line" watch_summary "$WORK/summary"
	run_pmscan --watch=0.2 --count=1 -J -o pages,top -p "$pid"
	valid "--watch -J -o pages,top" watch_line "$WORK/out" lines
	check "--watch -J -o pages,top: interval rows hold pid and the chosen keys" \
		[ "$(head -n 1 "$WORK/out" | jq -r 'keys_unsorted | join(",")')" = "pid,written_pages,top_mapping" ]
	run_pmscan --watch=0.2 -J -- sh -c 'exit 3'
	check "--watch -J -- COMMAND: the command's exit status" [ "$RC" -eq 3 ]
	valid "--watch -J -- COMMAND" watch_line "$WORK/out" lines
	check "--watch -J -- COMMAND: exit_status 3 in the summary" \
		[ "$(tail -n 1 "$WORK/out" | jq -c '[.exit_status, .command_left_running]')" = "[3,false]" ]
fi

# ---- a scan that fails half-way --------------------------------------------
# pmscan blocks writing to a pipe while the reader kills the target; the
# document it then finishes is still whole and names the error.
target_start
map B 60000 anon
tcmd write B 0 2 30000
victim=$T_PID
"$PMSCAN" -p "$victim" -J 2>"$WORK/err" |
	{ head -c 1000 >"$WORK/part"; kill -9 "$victim"; sleep 0.2; cat >>"$WORK/part"; }
RC=${PIPESTATUS[0]}
check "target killed mid-scan: exit 1" [ "$RC" -eq 1 ]
valid "target killed mid-scan" scan "$WORK/part"
check "target killed mid-scan: processes[0].error says it exited" \
	[ "$(jq -r '.processes[0].error' "$WORK/part")" = "process $victim exited during the scan" ]
target_stop

# ---- the validator refuses what is wrong ----------------------------------------
jq '.regions[0].start = "12345"' "$WORK/scan.json" >"$WORK/bad"
refused "refused: an address without 0x" scan "$WORK/bad"
jq '.regions[0].colour = "red"' "$WORK/scan.json" >"$WORK/bad"
refused "refused: a key no column has" scan "$WORK/bad"
jq '.total_pages = -1' "$WORK/scan.json" >"$WORK/bad"
refused "refused: a negative count" scan "$WORK/bad"
jq 'del(.processes)' "$WORK/scan.json" >"$WORK/bad"
refused "refused: no processes" scan "$WORK/bad"
jq '.regions[0].categories = ["writen"]' "$WORK/scan.json" >"$WORK/bad"
refused "refused: an unknown category" scan "$WORK/bad"
jq 'del(.regions[0].pid)' "$WORK/scan.json" >"$WORK/bad"
refused "refused: a region without its pid" scan "$WORK/bad"
done_testing

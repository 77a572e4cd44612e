#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The output formats: JSON parses and agrees with the text table and the
# address list; the summary; the aligned table on a terminal; --noheadings.
. "$TESTS_SRCDIR/cli/lib.sh"
require_kernel wp_async

target_start
map A 3000 anon
tcmd track A
tcmd write A 0 3 500
tcmd write A 1 3 100
RA=$(range "$A" 3000)

run_pmscan -p "$T_PID" --written --json --range="$RA"
check "JSON: exit 0 and parses" parses "$WORK/out"
cp "$WORK/out" "$WORK/json"
check "JSON: top-level keys" \
	[ "$(jq -c 'keys_unsorted' "$WORK/json")" = '["page_size","regions","total_regions","total_pages","processes"]' ]
check "JSON: pid and page_size" \
	[ "$(jq -r '"\(.processes[0].pid) \(.page_size) \(.processes | length) \(.processes[0].error)"' "$WORK/json")" = "$T_PID $PAGE 1 null" ]
check "JSON: region keys and types" \
	[ "$(jq -c '[.regions[0] | to_entries[] | "\(.key):\(.value | type)"]' "$WORK/json")" = \
	  '["pid:number","start:string","end:string","pages:number","size:number","categories:array","mapping:string"]' ]
check "JSON: total_pages is the sum of the regions" \
	[ "$(jq '[.regions[].pages] | add' "$WORK/json")" = "$(jq .total_pages "$WORK/json")" ]
check "JSON: 600 pages written" [ "$(jq .total_pages "$WORK/json")" = 600 ]
check "JSON: the mapping is [anon]" [ "$(jq -r '[.regions[].mapping] | unique | join(",")' "$WORK/json")" = "[anon]" ]

# The raw table (single spaces) has the same regions.
run_pmscan -p "$T_PID" --written --raw --range="$RA"
check "raw: header line" [ "$(head -n 1 "$WORK/out")" = "START END PAGES SIZE CATEGORIES MAPPING" ]
sed '1d' "$WORK/out" | awk '{ print $1, $2, $3, $5, $6 }' >"$WORK/got"
jq -r '.regions[] | "\(.start) \(.end) \(.pages) \(.categories | join(",")) \(.mapping)"' "$WORK/json" >"$WORK/expect"
check "raw: same regions as JSON, awk-split" same "$WORK/got" "$WORK/expect"
check "raw: no totals line" [ "$(wc -l <"$WORK/out")" = $(($(jq .total_regions "$WORK/json") + 1)) ]
check "raw: SIZE in human units" [ "$(sed -n 2p "$WORK/out" | awk '{ print $4 }')" = 8K ]
# The text table: aligned, the same fields, a totals line.
run_pmscan -p "$T_PID" --written --range="$RA"
check "text: header line" matches "$(head -n 1 "$WORK/out")" '^START +END +PAGES +SIZE CATEGORIES +MAPPING$'
sed '1d;$d' "$WORK/out" | awk '{ print $1, $2, $3, $5, $6 }' >"$WORK/got"
check "text: same regions as JSON, awk-split" same "$WORK/got" "$WORK/expect"
check "text: totals line" [ "$(tail -n 1 "$WORK/out")" = "total: $(jq .total_regions "$WORK/json") regions, 600 pages, 2.3M" ]
check "text: SIZE in human units" [ "$(sed -n 2p "$WORK/out" | awk '{ print $4 }')" = 8K ]
run_pmscan -p "$T_PID" --written --noheadings --range="$RA"
check "--noheadings: regions only" [ "$(wc -l <"$WORK/out")" = "$(jq .total_regions "$WORK/json")" ]

# The address list: one line per page, the pages of the JSON regions.
run_pmscan -p "$T_PID" --written --addresses --range="$RA"
{ pages_of "$A" 0 3 500; pages_of "$A" 1 3 100; } | sort >"$WORK/expect"
sort "$WORK/out" >"$WORK/got"
check "--addresses: exactly the written pages" same "$WORK/got" "$WORK/expect"

# Summary: per mapping, per category; tracked says which mappings are.
run_pmscan -p "$T_PID" --written --summary --json
check "summary JSON: parses" parses "$WORK/out"
a_hex=$(printf '0x%x' $((A)))
check "summary JSON: area A has 600 written pages and is tracked" \
	[ "$(jq -c --arg a "$a_hex" '.mappings[] | select(.start == $a) | [.matched, .written, .tracked, .pages, .size]' "$WORK/out")" = "[600,600,true,3000,$((3000 * PAGE))]" ]
check "summary JSON: [stack] is untracked" \
	[ "$(jq -c '[.mappings[] | select(.mapping == "[stack]") | .tracked] | unique' "$WORK/out")" = "[false]" ]
check "summary JSON: totals add up" \
	[ "$(jq '[.mappings[].matched] | add' "$WORK/out")" = "$(jq .total_matched "$WORK/out")" -a "$(jq .total_matched "$WORK/out")" -gt 0 ]
run_pmscan -p "$T_PID" --written --summary
check "summary text: header" [ "$(head -n 1 "$WORK/out" | tr -s ' ')" = "START END SIZE MATCHED WRITTEN TRACKED MAPPING" ]
check "summary text: area A's row" \
	grep -qx "$a_hex $(printf '0x%x' $((A + 3000 * PAGE))) 12M 600 600 yes \[anon\]" <(tr -s ' ' <"$WORK/out")

# An empty answer is still a whole document.
map E 16 anon
tcmd track E
run_pmscan -p "$T_PID" --written --json --range="$(range "$E" 16)"
check "JSON, nothing matched: empty regions, totals 0" \
	[ "$(jq -c '[.regions, .total_pages]' "$WORK/out")" = '[[],0]' ]

# On a terminal: an aligned table (columns padded to fixed widths).
if command -v script >/dev/null; then
	script -qec "$PMSCAN -p $T_PID --written --range=$RA" /dev/null </dev/null | tr -d '\r' >"$WORK/tty"
	hdr=$(head -n 1 "$WORK/tty")
	row=$(sed -n 2p "$WORK/tty")
	check "terminal: header aligned" matches "$hdr" '^START {10}END {16}PAGES {3}SIZE CATEGORIES'
	check "terminal: rows padded to the header's columns" \
		[ "${row:0:15}|${row:30:9}" = "$(printf '%-14s |        2' "$a_hex")" ]
else
	skip "terminal: aligned table" "script(1) is not installed"
fi

# An address below 4 GiB is shorter than START's 14 columns: the row is
# padded with spaces (the hex writer's slack once showed as zeros there:
# 0x200000000000 for 0x20000000).
if command -v python3 >/dev/null; then
	python3 -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
p = libc.mmap(0x20000000, 8192, 3, 0x22 | 0x100000, -1, 0)   # anonymous, MAP_FIXED_NOREPLACE
if p != 0x20000000:
    sys.exit(1)
ctypes.memset(p, 1, 8192)
print(os.getpid(), flush=True)
time.sleep(60)' >"$WORK/low.out" &
	low=$!
	for ((i = 0; i < 100; i++)); do [ -s "$WORK/low.out" ] && break; sleep 0.1; done
	if [ -s "$WORK/low.out" ]; then
		"$PMSCAN" -p "$low" --present -A 0x20000000-0x20002000 >"$WORK/out" 2>"$WORK/err"
		check "an address below 4 GiB: padded with spaces" \
			grep -q '^0x20000000     0x20002000             2     8K present ' "$WORK/out"
	else
		skip "an address below 4 GiB" "cannot map at 0x20000000 here"
	fi
	kill "$low" 2>/dev/null
	wait "$low" 2>/dev/null
else
	skip "an address below 4 GiB" "python3 is not installed"
fi
done_testing

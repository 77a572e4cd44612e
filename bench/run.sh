#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Times pmscan against a bare PAGEMAP_SCAN loop and a /proc/PID/pagemap
# reader answering the same question on the same 4 GiB target, alternating
# runs, and prints median times, ratios and pmscan's peak RSS.
#   bench/run.sh [BUILD_DIR]     (make bench runs it)
set -euo pipefail
B=${1:-$(cd "$(dirname "$0")/.." && pwd)}
RUNS=${RUNS:-9}
PMSCAN=$B/src/cli/pmscan
BS=$B/bench/bench-scan
. "$(dirname "$0")/lib.sh"
bench_start bench/bench-scan bench/bench-read

PAGES=$((4 << 18))     # 4 GiB of 4 KiB pages
PS=$(getconf PAGESIZE)
say map big $PAGES anon
base=${reply#ok }
end=$(printf '0x%x' $((base + PAGES * PS)))
say fill big
say track big
range="$base-$end"

div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# bench NAME: alternate the commands, RUNS times each; report medians.
bench() {
	local name=$1
	: >"$work/pm" ; : >"$work/pmj"; : >"$work/pms"; : >"$work/bare"; : >"$work/quiet"; : >"$work/pagemap"; : >"$work/rss"; : >"$work/rssj"; : >"$work/rsss"
	for ((i = 0; i < RUNS; i++)); do
		"$BS" time "$PMSCAN" -p $tpid --written --range="$range" >"$work/t"
		read -r us kb rc <"$work/t"; echo "$us" >>"$work/pm"; echo "$kb" >>"$work/rss"
		"$BS" time "$BS" bare $tpid "$base" "$end" | awk '{ print $1 }' >>"$work/bare"
		"$BS" time "$BS" quiet $tpid "$base" "$end" | awk '{ print $1 }' >>"$work/quiet"
		"$BS" time "$PMSCAN" -p $tpid --written --json --range="$range" >"$work/t"
		read -r us kb rc <"$work/t"; echo "$us" >>"$work/pmj"; echo "$kb" >>"$work/rssj"
		"$BS" time "$PMSCAN" -p $tpid --written --summary --range="$range" >"$work/t"
		read -r us kb rc <"$work/t"; echo "$us" >>"$work/pms"; echo "$kb" >>"$work/rsss"
		"$BS" time "$BS" pagemap $tpid "$base" "$end" | awk '{ print $1 }' >>"$work/pagemap"
	done
	local pm pmj pms bare quiet pg rss rssj rsss regions
	pm=$(median <"$work/pm"); pmj=$(median <"$work/pmj"); pms=$(median <"$work/pms"); bare=$(median <"$work/bare")
	rsss=$(sort -n "$work/rsss" | tail -n 1); quiet=$(median <"$work/quiet")
	pg=$(median <"$work/pagemap"); rss=$(sort -n "$work/rss" | tail -n 1); rssj=$(sort -n "$work/rssj" | tail -n 1)
	regions=$("$BS" bare $tpid "$base" "$end" | wc -l)
	printf '%s: %d regions over 4 GiB (median of %d alternating runs)\n' "$name" "$regions" "$RUNS"
	printf '  bare PAGEMAP_SCAN loop   %8.2f ms   (printing each region with printf)\n' "$(div "$bare" 1000)"
	printf '  quiet PAGEMAP_SCAN loop  %8.2f ms   (printing nothing: the kernel alone)\n' "$(div "$quiet" 1000)"
	printf '  pmscan (text)            %8.2f ms   %.2fx the bare loop, %.2fx the quiet loop, peak RSS %d KiB\n' \
		"$(div "$pm" 1000)" "$(div "$pm" "$bare")" "$(div "$pm" "$quiet")" "$rss"
	printf '  pmscan --json            %8.2f ms   %.2fx the bare loop, %.2fx the quiet loop, peak RSS %d KiB\n' \
		"$(div "$pmj" 1000)" "$(div "$pmj" "$bare")" "$(div "$pmj" "$quiet")" "$rssj"
	printf '  pmscan --summary         %8.2f ms   %.2fx the bare loop, %.2fx the quiet loop, peak RSS %d KiB\n' \
		"$(div "$pms" 1000)" "$(div "$pms" "$bare")" "$(div "$pms" "$quiet")" "$rsss"
	printf '  pagemap reader           %8.2f ms   pmscan is %.2fx faster\n' \
		"$(div "$pg" 1000)" "$(div "$pg" "$pm")"
}

# read_engines NAME: the read engine against the ioctl engine and a
# page-types style pagemap reader, same target, same questions.
read_engines() {
	echo "$1: read engine vs ioctl engine vs plain pagemap reader (median of $RUNS)"
	"$B/bench/bench-read" $tpid "$base" "$end" "$RUNS" | sed 's/^/  /'
}

say write big 0 16 65536
bench "sparse (every 16th page written)"
read_engines "sparse (every 16th page written)"
say write big 0 2 $((PAGES / 2))
bench "sparse (every other page written)"
say fill big
bench "dense (every page written)"
read_engines "dense (every page written)"

# The read engine against the kernel's page-types, on a target of its own
# (one line saying why where page-types cannot be built or run).
bash "$(dirname "$0")/page-types.sh" "$B"

# Cost that grows only with the work (issue 14): each figure a ratio of two
# things measured side by side in one run, by bench-scale. The 4 GiB target
# goes first, so that the 8 GiB one of armcost fits (it shrinks to what
# MemAvailable allows, and says so).
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null || true
trap 'rm -rf "$work"' EXIT
make -s -C "$B" bench/bench-scale
"$B/bench/bench-scale" watch "$PMSCAN"
"$B/bench/bench-scale" fds "$PMSCAN"
"$B/bench/bench-scale" rescan "$PMSCAN"
"$B/bench/bench-scale" stop "$PMSCAN"
"$B/bench/bench-scale" armcost "$PMSCAN" 8

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Times pmscan against a bare PAGEMAP_SCAN loop and a /proc/PID/pagemap
# reader answering the same question on the same 4 GiB target, alternating
# runs, and prints median times, ratios and pmscan's peak RSS.
#   bench/run.sh [BUILD_DIR]     (make bench runs it; ONLY=output stops
#                                after the 524,288-region output figures)
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

# timeit NAME CMD...: one run; its wall time, peak RSS and CPU time (all
# threads) appended to $work/NAME.{wall,rss,cpu}.
timeit() {
	local name=$1 us kb rc cpu
	shift
	read -r us kb rc cpu < <("$BS" time "$@")
	echo "$us" >>"$work/$name.wall"
	echo "$kb" >>"$work/$name.rss"
	echo "$cpu" >>"$work/$name.cpu"
}

# bench NAME: the commands in turn, RUNS times each; report medians of wall
# time and of CPU time (user and system).
bench() {
	local name=$1 k
	rm -f "$work"/*.wall "$work"/*.rss "$work"/*.cpu
	# The order turns each round, so that none of them always follows the
	# same one; the pagemap reader (slow, and hard on the caches) apart.
	local order=(pm bare quiet pmj pms)
	for ((i = 0; i < RUNS; i++)); do
		for ((j = 0; j < ${#order[@]}; j++)); do
			case ${order[(i + j) % ${#order[@]}]} in
			pm) timeit pm "$PMSCAN" -p $tpid --written --range="$range" ;;
			bare) timeit bare "$BS" bare $tpid "$base" "$end" ;;
			quiet) timeit quiet "$BS" quiet $tpid "$base" "$end" ;;
			pmj) timeit pmj "$PMSCAN" -p $tpid --written --json --range="$range" ;;
			pms) timeit pms "$PMSCAN" -p $tpid --written --summary --range="$range" ;;
			esac
		done
	done
	for ((i = 0; i < RUNS; i++)); do
		timeit pagemap "$BS" pagemap $tpid "$base" "$end"
	done
	declare -A wall cpu rss
	for k in pm bare quiet pmj pms pagemap; do
		wall[$k]=$(median <"$work/$k.wall")
		cpu[$k]=$(median <"$work/$k.cpu")
		rss[$k]=$(sort -n "$work/$k.rss" | tail -n 1)
	done
	local regions
	regions=$("$BS" bare $tpid "$base" "$end" | wc -l)
	printf '%s: %d regions over 4 GiB (median of %d alternating runs)\n' "$name" "$regions" "$RUNS"
	printf '  bare PAGEMAP_SCAN loop   %8.2f ms   (printing each region with printf)\n' "$(div "${wall[bare]}" 1000)"
	printf '  quiet PAGEMAP_SCAN loop  %8.2f ms   (printing nothing: the kernel alone; CPU %.2f ms)\n' \
		"$(div "${wall[quiet]}" 1000)" "$(div "${cpu[quiet]}" 1000)"
	for k in pm pmj pms; do
		case $k in
		pm) label='pmscan (text)   ' ;;
		pmj) label='pmscan --json   ' ;;
		pms) label='pmscan --summary' ;;
		esac
		printf '  %s         %8.2f ms   %.2fx the bare loop, %.2fx the quiet loop; CPU %.2f ms, %.2fx the quiet loop'"'"'s; peak RSS %d KiB\n' \
			"$label" "$(div "${wall[$k]}" 1000)" "$(div "${wall[$k]}" "${wall[bare]}")" \
			"$(div "${wall[$k]}" "${wall[quiet]}")" "$(div "${cpu[$k]}" 1000)" \
			"$(div "${cpu[$k]}" "${cpu[quiet]}")" "${rss[$k]}"
	done
	printf '  pagemap reader           %8.2f ms   pmscan is %.2fx faster\n' \
		"$(div "${wall[pagemap]}" 1000)" "$(div "${wall[pagemap]}" "${wall[pm]}")"
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
# ONLY=output: the output figures alone (the 524,288-region case)
[ "${ONLY:-}" = output ] && exit 0
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

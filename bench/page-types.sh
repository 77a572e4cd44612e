#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pmscan's read engine against the kernel's own pagemap reader, page-types
# (tools/mm/page-types.c, tools/vm/ before Linux 6.3), asked the same
# questions about the same target: alternating runs, output to /dev/null,
# median times and the ratio pmscan/page-types (below 1: pmscan is faster).
# Each answer is checked to be the same, page by page, before it is timed.
#   bench/page-types.sh [BUILD_DIR]
# page-types: $PAGE_TYPES, else page-types on PATH, else built from the
# installed kernel source (Debian: apt-get install linux-source-6.1) in
# ${TMPDIR:-/tmp}/pmscan-page-types-VERSION, kept for the next run. Nothing
# of the kernel's code enters this tree. Needs root: page-types needs page
# frame numbers and /proc/kpageflags.
set -euo pipefail
B=${1:-$(cd "$(dirname "$0")/.." && pwd)}
RUNS=${RUNS:-9}
PMSCAN=$B/src/cli/pmscan
BS=$B/bench/bench-scan

skip() {
	echo "page-types comparison skipped: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "page-types needs root (page frame numbers, /proc/kpageflags)"
[ -r /proc/kpageflags ] || skip "no /proc/kpageflags (CONFIG_PROC_PAGE_MONITOR)"

# build_page_types TARBALL DIR: extract only what page-types needs (its
# source, tools/lib/api, the headers and build scripts) and build it there.
build_page_types() {
	local src=$1 dir=$2 top sub
	rm -rf "$dir"
	mkdir -p "$dir"
	# One of tools/vm and tools/mm is missing from every version: tar says
	# so and fails; what was found is checked below.
	tar -xf "$src" -C "$dir" --wildcards '*/tools/vm/*' '*/tools/mm/*' '*/tools/lib/api/*' \
		'*/tools/lib/str_error_r.c' '*/tools/include/*' '*/tools/scripts/*' '*/tools/build/*' \
		'*/include/uapi/linux/magic.h' '*/include/uapi/linux/kernel-page-flags.h' 2>/dev/null || true
	top=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	for sub in mm vm; do
		[ -f "$top/tools/$sub/page-types.c" ] && break
	done
	[ -f "$top/tools/$sub/page-types.c" ] || { echo "no page-types.c in $src" >&2; return 1; }
	# The kernel's Makefile compiles page-types without optimisation; it
	# gets -O2 here, its best case.
	if ! { make -s -C "$top/tools/lib/api" && cc -O2 -I "$top/tools/lib" -o "$dir/page-types" \
		"$top/tools/$sub/page-types.c" "$top/tools/lib/api/libapi.a"; } >"$dir/build.log" 2>&1; then
		echo "building page-types failed: see $dir/build.log" >&2
		return 1
	fi
	echo "$src ($sub/page-types.c, cc -O2)" >"$dir/origin"
}

PT=${PAGE_TYPES:-$(command -v page-types || true)}
if [ -n "$PT" ]; then
	origin=$PT
else
	src=$(find /usr/src -maxdepth 1 -name 'linux-source-*.tar.*' 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$src" ] || skip "page-types is not on PATH and there is no kernel source to build it from (apt-get install linux-source-6.1)"
	version=${src##*/linux-source-}
	version=${version%%.tar.*}
	dir=${TMPDIR:-/tmp}/pmscan-page-types-$version
	if ! [ -x "$dir/page-types" ] || ! [ -f "$dir/origin" ] || [ "$src" -nt "$dir/page-types" ]; then
		echo "building page-types from $src in $dir"
		build_page_types "$src" "$dir" || exit 1
	fi
	PT=$dir/page-types
	origin="$PT, built from $(cat "$dir/origin")"
fi

. "$(dirname "$0")/lib.sh"
bench_start bench/bench-scan

# The target: 1 GiB in six areas, some pages present and some not, plus
# 2000 one-page mappings (none of them merge) and the program's own.
PS=$(getconf PAGESIZE)
P=$(((256 << 20) / PS))	# pages in 256 MiB
say map sparse "$P" anon	# every other page written
say write sparse 0 2 $((P / 2))
say map dense "$P" anon		# every page written
say fill dense
say map zero $((P / 2)) anon	# every 4th page read: the zero page
say read zero 0 4 $((P / 8))
say map memfd $((P / 2)) memfd	# every 3rd page written: file pages
say write memfd 0 3 $((P / 6))
say map shared $((P / 2)) shared	# every 8th page written
say write shared 0 8 $((P / 16))
say map empty $((P / 2)) anon	# nothing
say manymaps 2000
maps=$(wc -l <"/proc/$tpid/maps")

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The page numbers in an answer, one per line, in decimal: page-types
# lists hex page numbers after a header, pmscan --addresses hex addresses.
pt_pages() {
	awk 'function hex(s, i, v) { v = 0; for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
		NR > 1 { printf "%.0f\n", hex($1) }'
}
pm_pages() {
	awk -v ps="$PS" 'function hex(s, i, v) { v = 0; for (i = 3; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
		{ printf "%.0f\n", hex($1) / ps }'
}

echo "pmscan --engine=read against page-types ($origin)"
printf 'target: 1 GiB in 6 areas (written, read, memfd, shared, empty), %d mappings in all;\n' "$maps"
printf 'median of %d alternating runs, both writing to /dev/null\n' "$RUNS"
awk '$1 == "SwapTotal:" && $2 == 0 { f = 1 } END { exit !f }' /proc/meminfo &&
	echo "(no swap here: the swapped answer is empty, and pmscan knows it without reading pagemap)"

status=0
# question NAME VERIFY PAGE-TYPES-ARGS -- PMSCAN-ARGS: check both give the
# same pages (VERIFY list: both lists; count: page-types' summary total
# against the pages pmscan lists with --addresses), then time them.
question() {
	local name=$1 verify=$2 ptargs=() pmargs=() n_pt n_pm i pt pm
	shift 2
	while [ "$1" != -- ]; do ptargs+=("$1"); shift; done
	shift
	pmargs=("$@")
	if [ "$verify" = list ]; then
		"$PT" -p $tpid "${ptargs[@]}" | pt_pages >"$work/pt"
		"$PMSCAN" -p $tpid --engine=read "${pmargs[@]}" | pm_pages >"$work/pm"
		n_pt=$(wc -l <"$work/pt")
		n_pm=$(wc -l <"$work/pm")
		cmp -s "$work/pt" "$work/pm" || n_pt="$n_pt, not the same pages"
	else
		n_pt=$("$PT" -p $tpid "${ptargs[@]}" | awk '$1 == "total" { print $2 }')
		n_pm=$("$PMSCAN" -p $tpid --engine=read "${pmargs[@]/--summary/--addresses}" | wc -l)
	fi
	printf '%s:\n' "$name"
	if [ "$n_pt" != "$n_pm" ]; then
		printf '  ANSWERS DIFFER: page-types %s pages, pmscan %s\n' "$n_pt" "$n_pm"
		status=1
		return
	fi
	: >"$work/tpt"
	: >"$work/tpm"
	for ((i = 0; i < RUNS; i++)); do
		"$BS" time "$PT" -p $tpid "${ptargs[@]}" | awk '{ print $1 }' >>"$work/tpt"
		"$BS" time "$PMSCAN" -p $tpid --engine=read "${pmargs[@]}" | awk '{ print $1 }' >>"$work/tpm"
	done
	pt=$(median <"$work/tpt")
	pm=$(median <"$work/tpm")
	printf '  %-50s %8.2f ms\n' "page-types -p PID ${ptargs[*]}" "$(div "$pt" 1000)"
	printf '  %-50s %8.2f ms   pmscan/page-types %.2fx   (%d pages, the same)\n' \
		"pmscan -p PID --engine=read ${pmargs[*]}" "$(div "$pm" 1000)" "$(div "$pm" "$pt")" "$n_pm"
}

# Raw mode (-r) adds pagemap's swap and file bits to page-types' flags, so
# that -b can select on them; -L lists every page, -N drops the summary.
question "present pages, one per line" list -r -b '~swap' -L -N -- --present --addresses
question "file pages, one per line" list -r -b file -L -N -- --file --addresses
question "swapped pages, one per line" list -r -b swap -L -N -- --swapped --addresses
question "present pages, counted (page-types' summary)" count -r -b '~swap' -- --present --summary
exit $status

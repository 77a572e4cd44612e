#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The slowdown pmscan --watch=1 causes a memory-writing benchmark: the same
# run (bench-scan writer: one byte per page over 256 MiB, round after round,
# for 5 s) unwatched and under the watch, alternating, 3 runs each.
#   bench/watch.sh [BUILD_DIR]
set -euo pipefail
B=${1:-$(cd "$(dirname "$0")/.." && pwd)}
PMSCAN=$B/src/cli/pmscan
if [ -x "$B/src/cli/.libs/pmscan" ]; then
	PMSCAN=$B/src/cli/.libs/pmscan
	export LD_LIBRARY_PATH=$B/src/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
make -s -C "$B" bench/bench-scan
W="$B/bench/bench-scan writer 5 256"
plain=() watched=()
for i in 1 2 3; do
	plain+=("$($W 2>&1 >/dev/null)")
	watched+=("$("$PMSCAN" --watch=1 --json -- $W 2>&1 >/dev/null | tail -n 1)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
p=$(median "${plain[@]}")
w=$(median "${watched[@]}")
echo "memory-writing benchmark, 256 MiB rewritten page by page for 5 s, median of 3:"
echo "  unwatched                 $p pages/s"
echo "  under pmscan --watch=1    $w pages/s"
awk -v p="$p" -v w="$w" 'BEGIN { printf "  slowdown                  %.1f%%\n", (p - w) * 100 / p }'

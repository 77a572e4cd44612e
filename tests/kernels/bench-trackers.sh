#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix, on request only (PMSCAN_KM_GROUPS=bench-trackers): what each
# tracker costs the tracked process on this kernel, from bench/bench-arm
# (build it first: make bench/bench-arm). Figures go out as TAP comments;
# nothing here is a timed assertion. Under qemu TCG the absolute times are
# emulation's; compare the trackers' ratios to the untracked write.
. "$TESTS_SRCDIR/cli/lib.sh"

BENCH=$BUILDDIR/bench/bench-arm
if [ ! -x "$BENCH" ]; then
	skip "bench-arm: first-write cost of each tracker" "bench/bench-arm is not built (make bench/bench-arm)"
	done_testing
fi
"$BENCH" "$PMSCAN" 0.25 >"$WORK/bench" 2>"$WORK/err"
RC=$?
sed 's/^/# /' "$WORK/bench"
check "bench-arm: first-write cost of each tracker (exit 0)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || diag "$(head -c 300 "$WORK/err")"
done_testing

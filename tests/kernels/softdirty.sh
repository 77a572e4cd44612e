#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: soft-dirty where the kernel really has it (probed by clearing
# and writing a page, not by the category mask, which kernels without
# CONFIG_MEM_SOFT_DIRTY accept too): --list-categories must not offer it
# where it is missing; where present, --soft-dirty after clear_refs reports
# exactly the pages written, as pagemap's bit 55 does. Then the soft-dirty
# tracker's tests (tests/cli/softdirty.sh), on every kernel of the matrix.
. "$TESTS_SRCDIR/cli/lib.sh"

# The library's tracker API on this kernel (tests/lib/test-tracker: the
# soft-dirty arm, rearm, disarm and refusals where soft-dirty works;
# tests/lib/test-stats: the stats structs' size rule, through the soft-dirty
# arm where uffd is missing).
tracker_api() {
	local tt what
	for tt in test-tracker test-stats; do
		case $tt in
		test-tracker) what="libpmscan tracker API" ;;
		test-stats) what="libpmscan stats structs" ;;
		esac
		if [ ! -x "$BUILDDIR/tests/lib/$tt" ]; then
			skip "$what (tests/lib/$tt)" "not built in $BUILDDIR"
			continue
		fi
		"$BUILDDIR/tests/lib/$tt" >"$WORK/tt" 2>&1
		local rc=$?
		sed 's/^/# /' "$WORK/tt"
		check "$what (tests/lib/$tt)" [ "$rc" -eq 0 ]
	done
}

if kernel_has soft_dirty; then
	diag "the kernel tracks soft-dirty bits"
else
	check "no soft-dirty here: --list-categories does not offer it" \
		[ "$("$PMSCAN" --list-categories 2>/dev/null | awk '$1 == "soft-dirty" { print $2 }')" != yes ]
	run_pmscan -p $$ --soft-dirty --addresses
	check "no soft-dirty here: --soft-dirty fails or warns, never a silent empty answer" \
		[ "$RC" -ne 0 -o -s "$WORK/err" ]
	skip "--soft-dirty against pagemap bit 55" "$(kernel_lacks_reason soft_dirty)"
	SOFTDIRTY_SOURCED=1 . "$TESTS_SRCDIR/cli/softdirty.sh"
	tracker_api
	done_testing
fi

target_start
N=2000
map A $N anon
tcmd fill A
echo 4 >"/proc/$T_PID/clear_refs" || bail "cannot write /proc/$T_PID/clear_refs"
tcmd write A 3 11 150
tcmd write A 1500 1 30
{ pages_of "$A" 3 11 150; pages_of "$A" 1500 1 30; } | sort -u >"$WORK/expect"
RA=$(range "$A" $N)

"$HELPERS/pagemap" "$T_PID" "$A" $N | awk '$5 == 1 { print $1 }' | sort >"$WORK/got"
check "pagemap bit 55: exactly the pages written since clear_refs" same "$WORK/got" "$WORK/expect"

run_pmscan -p "$T_PID" --soft-dirty --addresses --range="$RA"
if [ "$RC" -eq 3 ] || { [ "$RC" -ne 0 ] && ! kernel_has pagemap_scan; }; then
	skip "--soft-dirty: exactly the pages written since clear_refs" \
		"pmscan cannot scan here ($(head -n 1 "$WORK/err"))"
else
	sort "$WORK/out" >"$WORK/got"
	check "--soft-dirty: exactly the pages written since clear_refs" same "$WORK/got" "$WORK/expect"
	check "--list-categories offers soft-dirty" \
		[ "$("$PMSCAN" --list-categories 2>/dev/null | awk '$1 == "soft-dirty" { print $2 }')" = yes ]
fi
SOFTDIRTY_SOURCED=1 . "$TESTS_SRCDIR/cli/softdirty.sh"
tracker_api
done_testing

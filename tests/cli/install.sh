#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libpmscan as installed: make install into a temporary root, then build the
# example against it with pkg-config alone and run it; only pmscan_* symbols
# are exported; headers and man pages are in place.
. "$TESTS_SRCDIR/cli/lib.sh"

: "${BUILDDIR:?BUILDDIR must name the build tree (make check sets it)}"
root=$WORK/root
if ! make -s -C "$BUILDDIR" install DESTDIR="$root" >"$WORK/install.log" 2>&1; then
	sed 's/^/# /' "$WORK/install.log" | tail -n 20
	bail "make install DESTDIR failed"
fi
prefix=$(sed -n 's/^prefix=//p' "$BUILDDIR/src/lib/libpmscan.pc")
libdir=$(sed -n 's/^libdir=//p' "$BUILDDIR/src/lib/libpmscan.pc" | sed "s|\${exec_prefix}|$prefix|; s|\${prefix}|$prefix|")
pcdir=$(find "$root" -name libpmscan.pc -printf '%h\n' | head -n 1)
check "libpmscan.pc installed" [ -n "$pcdir" ]
check "pmscan.h installed" [ -n "$(find "$root" -name pmscan.h)" ]
check "pmscan(1) installed" [ -n "$(find "$root" -name pmscan.1)" ]
check "libpmscan(3) installed" [ -n "$(find "$root" -name libpmscan.3)" ]
check "bash completion installed" [ -n "$(find "$root" -path '*bash-completion/completions/pmscan')" ]
check "zsh completion installed" [ -n "$(find "$root" -name _pmscan)" ]

so=$(find "$root" -name 'libpmscan.so.*.*' | head -n 1)
check "a versioned libpmscan.so" [ -n "$so" ]
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ { sub(/@.*/, "", $3); print $3 }' | sort >"$WORK/syms"
check "only pmscan_* symbols are exported" [ -s "$WORK/syms" -a -z "$(grep -v '^pmscan_' "$WORK/syms")" ]
for f in pmscan_ww_open pmscan_ww_close pmscan_ww_watch pmscan_ww_unwatch pmscan_ww_get pmscan_ww_reset \
	 pmscan_target_open pmscan_scan_run pmscan_arm pmscan_disarm; do
	grep -qx "$f" "$WORK/syms" || { diag "missing export $f"; missing_export=1; }
done
check "the public functions are exported" [ -z "${missing_export:-}" ]

export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_PATH=$pcdir PKG_CONFIG_LIBDIR=$pcdir
flags=$(pkg-config --cflags --libs libpmscan)
check "pkg-config knows libpmscan" [ -n "$flags" ]
# shellcheck disable=SC2086
if ${CC:-cc} ${EXAMPLE_FLAGS:-} -Wall -Wextra -Werror -o "$WORK/example" "$TOP_SRCDIR/examples/getwritewatch.c" $flags 2>"$WORK/cc.log"; then
	ok 0 "the example builds against the installed library"
	LD_LIBRARY_PATH=$root$libdir "$WORK/example" >"$WORK/out" 2>&1
	check "the example runs: pages 5, 6 and 40 written, then nothing" \
		[ "$(cat "$WORK/out")" = "$(printf '3 pages written (granularity %d): 5 6 40\n0 pages written since the reset' "$PAGE")" ]
	check "the example uses the installed library" \
		grep -q "$root" <(LD_LIBRARY_PATH=$root$libdir ldd "$WORK/example")
else
	sed 's/^/# /' "$WORK/cc.log" | head
	ok 1 "the example builds against the installed library"
fi
done_testing

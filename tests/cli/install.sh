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
schema=$(find "$root" -path '*/share/pmscan/pmscan.schema.json' | head -n 1)
check "the JSON schema installed under the data directory (share/pmscan)" \
	cond '[ -n "$schema" ] && cmp -s "$schema" "$TOP_SRCDIR/data/pmscan.schema.json"'

so=$(find "$root" -name 'libpmscan.so.*.*' | head -n 1)
check "a versioned libpmscan.so" [ -n "$so" ]
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ { sub(/@.*/, "", $3); print $3 }' | sort >"$WORK/syms"
check "only pmscan_* symbols are exported" [ -s "$WORK/syms" -a -z "$(grep -v '^pmscan_' "$WORK/syms")" ]
for f in pmscan_ww_open pmscan_ww_close pmscan_ww_watch pmscan_ww_unwatch pmscan_ww_get pmscan_ww_reset \
	 pmscan_target_open pmscan_scan_run pmscan_arm pmscan_disarm; do
	grep -qx "$f" "$WORK/syms" || { diag "missing export $f"; missing_export=1; }
done
check "the public functions are exported" [ -z "${missing_export:-}" ]
# Exactly the list in libpmscan.sym, each under its version node.
sed 's|/\*.*\*/||; /\/\*/,/\*\//d' "$TOP_SRCDIR/src/lib/libpmscan.sym" |
	awk '/^[ \t]*global:/ { g = 1; next } /^[ \t]*local:/ { g = 0 } g { gsub(/[ \t;]/, ""); if ($0 != "") print }' |
	sort >"$WORK/sym-list"
check "libpmscan.sym names symbols, no wildcard" [ -s "$WORK/sym-list" -a -z "$(grep '[*?]' "$WORK/sym-list")" ]
check "the library exports exactly the symbols libpmscan.sym lists" same "$WORK/syms" "$WORK/sym-list"
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | grep -v '@@PMSCAN_' >"$WORK/unversioned"
check "every export carries a version (PMSCAN_*)" [ ! -s "$WORK/unversioned" ]
check "every exported function is declared in pmscan.h" \
	[ -z "$(while read -r f; do grep -q "\b$f(" "$TOP_SRCDIR/src/lib/pmscan.h" || echo "$f"; done <"$WORK/syms")" ]
# The Debian symbols file follows the list: a function added to
# libpmscan.sym goes into debian/libpmscan0.symbols too (dpkg-gensymbols
# refuses a package whose library lost a symbol the file lists).
if [ -f "$TOP_SRCDIR/debian/libpmscan0.symbols" ]; then
	sed -n 's/^ \([a-z_0-9]*\)@PMSCAN_[0-9.]* .*/\1/p' "$TOP_SRCDIR/debian/libpmscan0.symbols" | sort >"$WORK/deb-syms"
	comm -3 "$WORK/sym-list" "$WORK/deb-syms" | sed 's/^\t/only in debian\/libpmscan0.symbols: /; /^only/!s/^/only in libpmscan.sym: /' | sed 's/^/# /'
	check "debian/libpmscan0.symbols lists exactly the symbols of libpmscan.sym" same "$WORK/sym-list" "$WORK/deb-syms"
else
	skip "debian/libpmscan0.symbols follows libpmscan.sym" "no debian/ directory in $TOP_SRCDIR"
fi
check "every exported function has its man page link" \
	[ -z "$(while read -r f; do [ -n "$(find "$root" -name "$f.3")" ] || echo "$f"; done <"$WORK/syms")" ]

export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_PATH=$pcdir PKG_CONFIG_LIBDIR=$pcdir
flags=$(pkg-config --cflags --libs libpmscan)
check "pkg-config knows libpmscan" [ -n "$flags" ]
# shellcheck disable=SC2086
if ${CC:-cc} ${EXAMPLE_FLAGS:-} -Wall -Wextra -Werror -o "$WORK/example" "$TOP_SRCDIR/examples/getwritewatch.c" $flags 2>"$WORK/cc.log"; then
	ok 0 "the example builds against the installed library"
	LD_LIBRARY_PATH=$root$libdir "$WORK/example" >"$WORK/out" 2>&1
	skip_unless wp_async "the example runs: pages 5, 6 and 40 written, then nothing" \
		[ "$(cat "$WORK/out")" = "$(printf '3 pages written (granularity %d): 5 6 40\n0 pages written since the reset' "$PAGE")" ]
	check "the example uses the installed library" \
		grep -q "$root" <(LD_LIBRARY_PATH=$root$libdir ldd "$WORK/example")
else
	sed 's/^/# /' "$WORK/cc.log" | head
	ok 1 "the example builds against the installed library"
fi

# pmscan_version() names the library the program runs with: the .pc's version.
printf '#include <pmscan.h>\n#include <stdio.h>\nint main(void) { puts(pmscan_version()); return 0; }\n' >"$WORK/version.c"
# shellcheck disable=SC2086
if ${CC:-cc} ${EXAMPLE_FLAGS:-} -Wall -Werror -o "$WORK/version" "$WORK/version.c" $flags 2>"$WORK/cc.log"; then
	check "pmscan_version() is the package version" \
		[ "$(LD_LIBRARY_PATH=$root$libdir "$WORK/version")" = "$(pkg-config --modversion libpmscan)" ]
else
	sed 's/^/# /' "$WORK/cc.log" | head
	ok 1 "pmscan_version() is the package version"
fi

# The statistics structs as a program built against the installed header
# uses them (size set first, see pmscan.h): a scan of a child with the read
# engine (any kernel, any user), and counts that say it scanned
# something.
cat >"$WORK/stats.c" <<'END'
#include <pmscan.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void)
{
	/* A child that holds still (a scan of oneself races one's own
	   allocations, under a sanitizer above all). */
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	struct pmscan_target *t = pmscan_target_open(child);
	struct pmscan_scan *s = t ? pmscan_scan_new(t) : NULL;
	struct pmscan_scan_stats st = { .size = sizeof(st) };
	int ok = s && pmscan_scan_set_engine(s, PMSCAN_ENGINE_READ) == 0 && pmscan_scan_run(s) == 0 &&
		 pmscan_scan_get_stats(s, &st) == 0;
	if (ok)
		printf("%llu %llu\n", (unsigned long long)st.mappings, (unsigned long long)st.pages);
	pmscan_scan_free(s);
	pmscan_target_close(t);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return !ok;
}
END
# shellcheck disable=SC2086
if ${CC:-cc} ${EXAMPLE_FLAGS:-} -Wall -Wextra -Werror -o "$WORK/stats" "$WORK/stats.c" $flags 2>"$WORK/cc.log"; then
	read -r maps pages < <(LD_LIBRARY_PATH=$root$libdir "$WORK/stats")
	check "a program using struct pmscan_scan_stats (size set) builds and gets its counts" \
		[ "${maps:-0}" -gt 0 -a "${pages:-0}" -gt 0 ]
else
	sed 's/^/# /' "$WORK/cc.log" | head
	ok 1 "a program using struct pmscan_scan_stats (size set) builds and gets its counts"
fi
done_testing

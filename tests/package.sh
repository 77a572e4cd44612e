#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian packages, end to end: build them from a clone of this tree with
# dpkg-buildpackage (which runs the test suite unless DEB_BUILD_OPTIONS has
# nocheck), check their contents and lintian, install them, run the installed
# pmscan on a real process and a program compiled against the installed
# library through pkg-config (debian/tests), then remove them. TAP output.
# Skips (exit 77) when not root, without dpkg-buildpackage or debhelper, or
# when a pmscan package is already installed: it leaves the machine as it
# found it. Not part of `make check` (a package build runs make check itself);
# .ci/run runs it.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
n=0 failed=0

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
check() {
	local desc=$1
	shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
skip_all() { echo "1..0 # SKIP $*"; exit 77; }
diag() { sed 's/^/# /'; }

[ "$(id -u)" -eq 0 ] || skip_all "installing packages needs root"
command -v dpkg-buildpackage >/dev/null || skip_all "dpkg-buildpackage is not installed (Debian package dpkg-dev)"
command -v dh >/dev/null || skip_all "dh is not installed (Debian package debhelper)"
command -v git >/dev/null || skip_all "git is not installed (needed to copy the tree)"
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || skip_all "$top is not a git checkout"
[ -f "$top/debian/control" ] || skip_all "no debian/ directory in $top"

# One package test at a time on a machine (two CI runs side by side would
# install and purge the same packages under each other).
lockdir=/run/lock
[ -d "$lockdir" ] || lockdir=/tmp
exec 9>"$lockdir/pmscan-package-test.lock" || exit 99
flock -w 1800 9 || skip_all "another package test held the lock for 30 minutes"

pkgs=$(sed -n 's/^Package: //p' "$top/debian/control")
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
		skip_all "package $p is already installed; this test would remove it"
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pmscan-package.XXXXXX") || exit 99
# The suite runs pmscan as another user too, which must reach the build.
chmod 755 "$work"
installed=
cleanup() {
	if [ -n "$installed" ]; then
		# shellcheck disable=SC2086
		dpkg --purge $pkgs >/dev/null 2>&1
	fi
	kill "${sleeper:-}" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# A clone of the committed tree (HEAD): dpkg-buildpackage builds in the
# source directory, which must not be this one.
src=$work/pmscan
git clone -q "$top" "$src" || exit 99
diag <<<"building $(git -C "$src" log -1 --format='%h %s' | cut -c 1-70)"

opts=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
(cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
st=$?
if [ $st -ne 0 ]; then
	# the suite's verdicts first: the log's tail holds only make's exit
	grep -E '^(FAIL|ERROR|XPASS):' "$work/build.log" | sort -u | diag
	grep -h -A6 '^not ok' "$src"/tests/*/*.log 2>/dev/null | head -n 60 | diag
	tail -n 20 "$work/build.log" | diag
fi
ok $st "dpkg-buildpackage -us -uc -b builds the packages (DEB_BUILD_OPTIONS=$opts)"
[ $st -eq 0 ] || { echo "1..$n"; exit 1; }
grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$work/build.log" | diag
grep -h '# SKIP' "$src"/tests/*/*.log 2>/dev/null | sort -u | diag

debs=
for p in $pkgs; do
	deb=$(ls "$work/${p}_"*.deb 2>/dev/null | head -n 1)
	check "package $p built" [ -n "$deb" ]
	debs="$debs $deb"
done
libpkg=$(echo "$pkgs" | grep -x 'libpmscan[0-9]*')
contents() { dpkg-deb -c "$work/${1}_"*.deb | awk '{ print $6 }' | sed 's|^\.||'; }
check "pmscan: the command, its man page, bash and zsh completions" \
	[ "$(contents pmscan | grep -cE '^/usr/bin/pmscan$|^/usr/share/man/man1/pmscan\.1\.gz$|^/usr/share/bash-completion/completions/pmscan$|^/usr/share/zsh/vendor-completions/_pmscan$')" = 4 ]
check "pmscan: the JSON schema of its output" \
	[ -n "$(contents pmscan | grep -E '^/usr/share/pmscan/pmscan\.schema\.json$')" ]
check "$libpkg: the versioned shared library" \
	[ -n "$(contents "$libpkg" | grep -E '/libpmscan\.so\.[0-9]+')" ]
check "libpmscan-dev: header, .so link, pkg-config file, man 3 pages" \
	[ "$(contents libpmscan-dev | grep -cE '^/usr/include/pmscan\.h$|/libpmscan\.so$|/pkgconfig/libpmscan\.pc$|^/usr/share/man/man3/libpmscan\.3\.gz$')" = 4 ]
check "libpmscan-dev: a man page link per exported function (pmscan_version)" \
	[ -n "$(contents libpmscan-dev | grep -E '/man3/pmscan_version\.3\.gz$')" ]
# shellcheck disable=SC2086
check "no .la file in any package" [ -z "$(for d in $debs; do dpkg-deb -c "$d"; done | grep '\.la$')" ]

if command -v lintian >/dev/null; then
	lintian --allow-root "$work"/*.changes >"$work/lintian.log" 2>&1
	diag <"$work/lintian.log"
	check "lintian: no errors" [ "$(grep -c '^E: ' "$work/lintian.log")" = 0 ]
else
	skip "lintian: no errors" "lintian is not installed"
fi

# Install, use, remove.
installed=1
# shellcheck disable=SC2086
dpkg -i $debs >"$work/install.log" 2>&1
st=$?
[ $st -ne 0 ] && diag <"$work/install.log"
ok $st "the packages install"
check "the installed pmscan runs" /usr/bin/pmscan --version
sleep 300 &
sleeper=$!
if /usr/bin/pmscan --list-categories | grep -q '^present  *yes'; then
	/usr/bin/pmscan -p "$sleeper" --present --summary >"$work/out" 2>&1
	st=$?
	[ $st -ne 0 ] && diag <"$work/out"
	ok $st "the installed pmscan scans a live process"
	check "... and finds its resident pages" grep -q '^total: [1-9][0-9]* mappings' "$work/out"
	if [ "$(uname -m)" = x86_64 ]; then
		/usr/bin/pmscan --arm -p "$sleeper" >"$work/out" 2>&1 &&
			/usr/bin/pmscan -p "$sleeper" --written --wp >>"$work/out" 2>&1 &&
			/usr/bin/pmscan --disarm -p "$sleeper" >>"$work/out" 2>&1
		st=$?
		[ $st -ne 0 ] && diag <"$work/out"
		ok $st "the installed pmscan arms, scans and disarms a live process"
	else
		skip "the installed pmscan arms a live process" "arming is implemented for x86_64 only"
	fi
else
	skip "the installed pmscan scans a live process" "the running kernel $(uname -r) has no PAGEMAP_SCAN"
fi
kill "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null

# The autopkgtests, run from the source copy as autopkgtest would.
for t in build-against-library installed-command; do
	(cd "$src" && AUTOPKGTEST_TMP=$work/$t && mkdir -p "$AUTOPKGTEST_TMP" &&
		export AUTOPKGTEST_TMP && debian/tests/$t) >"$work/$t.log" 2>&1
	st=$?
	diag <"$work/$t.log"
	if [ $st -eq 77 ]; then
		skip "autopkgtest $t" "$(tail -n 1 "$work/$t.log")"
	else
		ok $st "autopkgtest $t"
	fi
done

# shellcheck disable=SC2086
dpkg --purge $pkgs >"$work/purge.log" 2>&1
st=$?
[ $st -ne 0 ] && diag <"$work/purge.log"
ok $st "the packages purge"
installed=
left=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed' && left="$left $p"
done
check "nothing of them is left installed${left:+:$left}" \
	[ -z "$left" -a ! -e /usr/bin/pmscan -a ! -e /usr/include/pmscan.h ]
echo "1..$n"
exit $failed

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sets up and runs the whole test suite twice: a plain build (build-plain/),
# and one under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-sanitize/). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

tools/setup.sh --deps-only || exit 1
# Both builds live out of the tree (build-plain/, build-sanitize/), like the
# demo's build-demo/, so the commands work in any order.
if [ -f config.status ]; then
	echo "check: the source tree is configured in place; run 'make distclean' in $top first" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || { echo "check: ./autogen.sh failed" >&2; echo "0 passed, 1 failed"; exit 1; }

run_suite() {
	local name=$1 cflags=$2 ldflags=$3
	local dir="$top/build-$name"
	mkdir -p "$dir"
	(
		cd "$dir" || exit 1
		if [ ! -f Makefile ]; then
			"$top/configure" -q CFLAGS="$cflags" LDFLAGS="$ldflags" || exit 1
		fi
		make -s -j"$(nproc)" || exit 1
		make -s -j"$(nproc)" check >/dev/null 2>&1
		true
	) || { echo "check: the $name build failed" >&2; return 1; }
}

status=0
run_suite plain "-O2 -g" "" || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite sanitize "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	"-fsanitize=address,undefined" || status=1

passed=0 failed=0 skipped=0
for dir in build-plain build-sanitize; do
	log="$dir/test-suite.log"
	if [ ! -f "$log" ]; then
		echo "check: $dir has no test-suite.log" >&2
		failed=$((failed + 1))
		continue
	fi
	for trs in $(find "$dir/tests" -name '*.trs'); do
		p=$(grep -c '^:test-result: PASS' "$trs")
		x=$(grep -c '^:test-result: XFAIL' "$trs")
		s=$(grep -c '^:test-result: SKIP' "$trs")
		f=$(grep -cE '^:test-result: (FAIL|ERROR|XPASS)' "$trs")
		passed=$((passed + p + x))
		skipped=$((skipped + s))
		failed=$((failed + f))
		if [ "$f" -gt 0 ]; then
			echo "--- ${trs%.trs}.log ($dir)"
			grep -E '^(not ok|# |Bail out)|ERROR|ERROR:|runtime error|AddressSanitizer' "${trs%.trs}.log" | head -n 20
		fi
	done
	grep -h '# SKIP' "$dir"/tests/*/*.log 2>/dev/null | sed "s|^|skipped ($dir): |" | sort -u
done
echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]

# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the CLI tests: TAP output, a work directory, and a target
# process driven through two FIFOs (see tests/helpers/target.c).
# Exit 77 would skip a whole script; single checks skip with a reason.
set -u

: "${PMSCAN:?PMSCAN must name the pmscan binary (make check sets it)}"
: "${HELPERS:?HELPERS must name tests/helpers in the build tree}"

PAGE=$(getconf PAGESIZE)
T_NUM=0
T_FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmscan-test.XXXXXX") || exit 99
T_PID=
T_IN=
T_OUT=

cleanup() {
	target_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() {
	T_NUM=$((T_NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_NUM - $2"
	else
		echo "not ok $T_NUM - $2"
		T_FAILED=1
	fi
}

# check DESCRIPTION COMMAND...: one test point from a command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

# wait_count N PATTERN [TENTHS]: until $WORK/out holds N lines matching
# PATTERN, while $watcher runs; at most TENTHS tenths of a second (600).
wait_count() {
	local i
	for ((i = 0; i < ${3:-600}; i++)); do
		[ "$(grep -c -- "$2" "$WORK/out")" -ge "$1" ] && return 0
		kill -0 "$watcher" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# watch_memfd_counts: from the --watch --json lines in $WORK/out, the pages
# of the test's memfd area counted over the intervals (PER), in the summary
# (SUM), and its distinct pages in the summary (DIST); CUT: how many
# intervals counted a part of a batch of 100 (a reset fell inside a batch).
watch_memfd_counts() {
	local memfd='[.mappings[] | select(.mapping | startswith("/memfd:pmscan-test")) | .written_pages] | add // 0'
	local dist='[.mappings[] | select(.mapping | startswith("/memfd:pmscan-test")) | .distinct_pages] | add // 0'
	PER=$(jq -s "[.[] | select(.summary != true) | $memfd] | add" "$WORK/out")
	SUM=$(jq -s "[.[] | select(.summary == true)][0] | $memfd" "$WORK/out")
	DIST=$(jq -s "[.[] | select(.summary == true)][0] | $dist" "$WORK/out")
	CUT=$(jq -s "[.[] | select(.summary != true) | $memfd | select(. % 100 != 0)] | length" "$WORK/out")
	diag "memfd pages per interval: $(jq -s -c "[.[] | select(.summary != true) | $memfd]" "$WORK/out"), distinct $DIST"
}

# check_memfd_counts N WHAT: the checks on watch_memfd_counts's figures when
# the test wrote N distinct pages of the memfd area once each, in batches of
# 100. Exact: the distinct count, and the summary agreeing with the
# intervals. A page whose write is in flight at a reset counts in both
# intervals (the kernel marks it written when the fault is resolved, the
# store retires after; man page, WATCH): the intervals may exceed N by one
# page per interval that cut a batch, never more, never fall short.
check_memfd_counts() {
	watch_memfd_counts
	check "$2: the summary counts exactly the $1 distinct pages written (got $DIST)" [ "$DIST" = "$1" ]
	check "$2: the intervals count each of the $1 pages, a page in flight at a reset twice at most (got $PER, $CUT cut batches)" \
		test "$PER" -ge "$1" -a "$((PER - $1))" -le "$CUT"
	check "$2: the summary's count is the intervals' sum (got $SUM, $PER)" [ "$SUM" = "$PER" ]
}

# require_arming: skip the whole script where pmscan cannot arm a process
# (syscall injection exists for x86_64 and aarch64).
require_arming() {
	case $(uname -m) in
	x86_64 | aarch64) ;;
	*) echo "1..0 # SKIP arming is implemented for x86_64 and aarch64 only"; exit 0 ;;
	esac
}

# uffds PID: how many userfaultfds process PID holds.
uffds() { find "/proc/$1/fd" -maxdepth 1 -lname 'anon_inode:\[userfaultfd\]' 2>/dev/null | wc -l; }

# other_user_reason: empty when the tests can run commands as an ordinary
# user (nobody), else why not. That needs root, setpriv, and a build tree
# the user can reach (a clone under a 0700 home directory is not).
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
other_user_reason() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "the tests are not running as root, so cannot switch to an ordinary user"
	elif ! command -v setpriv >/dev/null; then
		echo "setpriv is not installed"
	elif ! $NOBODY "$PMSCAN" --version >/dev/null 2>&1 || ! $NOBODY test -x "$HELPERS/target"; then
		echo "an ordinary user cannot reach the build tree (a parent directory is not searchable by others)"
	else
		chmod 755 "$WORK"
	fi
}

# cond 'SHELL CONDITION': for check, when one command is not enough.
cond() { eval "$1"; }

skip() {
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM - $1 # SKIP $2"
}

diag() { printf '# %s\n' "$*"; }

# The test itself broke (not the code under test).
bail() {
	echo "Bail out! $*"
	exit 99
}

done_testing() {
	echo "1..$T_NUM"
	exit 0
}

# same FILE1 FILE2: like cmp, but shows the first differences on failure.
same() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	diff "$1" "$2" | head -n 8 | sed 's/^/# /'
	return 1
}

target_start() {
	target_stop
	local n=$((${T_SEQ:-0} + 1))
	T_SEQ=$n
	mkfifo "$WORK/t$n.in" "$WORK/t$n.out" || bail "mkfifo failed"
	"${@:-$HELPERS/target}" <"$WORK/t$n.in" >"$WORK/t$n.out" &
	exec {T_IN}>"$WORK/t$n.in" {T_OUT}<"$WORK/t$n.out"
	tcmd pid
	T_PID=$R
}

target_stop() {
	if [ -n "$T_PID" ]; then
		kill -9 "$T_PID" 2>/dev/null
		wait "$T_PID" 2>/dev/null
		exec {T_IN}>&- {T_OUT}<&-
	fi
	T_PID=
}

# tcmd COMMAND...: send a command to the target; its answer is left in R.
tcmd() {
	tcmd_try "$@" || bail "target: '$*' answered '$R'"
}

# Like tcmd but returns 1 when the target answers "err" (R holds why).
tcmd_try() {
	local line
	echo "$*" >&"$T_IN" || bail "target is gone (command '$*')"
	IFS= read -r -t 120 line <&"$T_OUT" || bail "target did not answer '$*'"
	case $line in
	ok*) R=${line#ok}; R=${R# }; return 0 ;;
	*) R=$line; return 1 ;;
	esac
}

# map NAME PAGES KIND: map an area in the target; its address goes in $NAME.
map() {
	tcmd map "$1" "$2" "$3"
	printf -v "$1" '%s' "$R"
}

# pages_of BASE FIRST STRIDE COUNT: the page addresses the target writes for
# "write NAME FIRST STRIDE COUNT", as pmscan --addresses prints them.
pages_of() {
	local base=$1 first=$2 stride=$3 count=$4 i
	for ((i = 0; i < count; i++)); do
		printf '0x%x\n' $((base + (first + i * stride) * PAGE))
	done
}

# write_batches NAME N PAUSE: the target writes pages 0-99 of NAME, then
# 100-199, ..., N batches of 100 pages, PAUSE seconds apart (so that they
# fall in several --watch intervals).
write_batches() {
	local b
	for ((b = 0; b < $2; b++)); do
		tcmd write "$1" $((b * 100)) 1 100
		sleep "$3"
	done
}

# range BASE PAGES: a --range argument covering an area.
range() {
	printf '0x%x+%d' $(($1)) $(($2 * PAGE))
}

# run_pmscan ARGS...: run pmscan; stdout in $WORK/out, stderr in $WORK/err,
# status in RC.
run_pmscan() {
	"$PMSCAN" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
}

# expect_exit CODE DESCRIPTION PATTERN ARGS...: pmscan exits CODE with a
# one-line stderr message matching PATTERN (grep -E).
expect_exit() {
	local code=$1 desc=$2 pat=$3
	shift 3
	run_pmscan "$@"
	if [ "$RC" -ne "$code" ]; then
		diag "exit $RC, wanted $code; stderr: $(head -c 300 "$WORK/err")"
		ok 1 "$desc"
	elif ! head -n 1 "$WORK/err" | grep -qE -- "$pat"; then
		diag "stderr does not start with a line matching '$pat': $(head -c 300 "$WORK/err")"
		ok 1 "$desc"
	elif [ "$code" -ne 2 ] && [ "$(wc -l <"$WORK/err")" -ne 1 ]; then
		diag "more than one line on stderr: $(head -c 300 "$WORK/err")"
		ok 1 "$desc"
	else
		ok 0 "$desc"
	fi
}

# JSON regions as "START END MASK" lines (hex), the form rawscan prints.
json_to_raw() {
	jq -r '
	  def bit: {"wpallowed":1,"written":2,"file":4,"present":8,"swapped":16,
	            "pfnzero":32,"huge":64,"soft-dirty":128,"guard":256,"accessed":512}[.];
	  .regions[] | "\(.start) \(.end) \(.categories | map(bit) | add // 0)"' |
	while read -r s e m; do printf '%s %s 0x%x\n' "$s" "$e" "$m"; done
}

# kernel_has FEATURE: what the running kernel can do, probed once by the
# target helper on its own memory: pagemap_scan, wp_async (userfaultfd async
# write-protect, what "track" and arming need), soft_dirty, hugetlb.
kernel_has() {
	[ -n "${K_FEATURES:-}" ] || K_FEATURES=" $(echo features | "$HELPERS/target" 2>/dev/null) "
	[[ $K_FEATURES == *" $1=1 "* ]]
}

# kernel_lacks_reason FEATURE: why a test needing FEATURE cannot run here.
kernel_lacks_reason() {
	case $1 in
	pagemap_scan) echo "kernel $(uname -r) has no PAGEMAP_SCAN ioctl (Linux 6.7+)" ;;
	wp_async) echo "kernel $(uname -r) has no userfaultfd async write-protect (Linux 6.7+)" ;;
	soft_dirty) echo "kernel $(uname -r) has no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY off)" ;;
	hugetlb) echo "no hugetlb page can be mapped (vm.nr_hugepages is 0)" ;;
	*) echo "kernel $(uname -r) lacks $1" ;;
	esac
}

# require_kernel FEATURE...: skip the whole script, with the reason, unless
# the running kernel has every FEATURE (see kernel_has).
require_kernel() {
	local f
	for f; do
		kernel_has "$f" && continue
		echo "1..0 # SKIP $(kernel_lacks_reason "$f")"
		exit 0
	done
}

# skip_unless FEATURE DESCRIPTION COMMAND...: check, or skip where the kernel
# lacks FEATURE.
skip_unless() {
	local f=$1 desc=$2
	shift 2
	if kernel_has "$f"; then check "$desc" "$@"; else skip "$desc" "$(kernel_lacks_reason "$f")"; fi
}

kernel_knows() {
	"$PMSCAN" --list-categories 2>/dev/null | awk -v c="$1" '$1 == c && $2 == "yes" { f = 1 } END { exit !f }'
}

# Predicates for check (which runs one command).
succeeded_empty() { [ "$RC" -eq 0 ] && [ ! -s "$WORK/out" ]; }
parses() { [ "$RC" -eq 0 ] && jq -e . "$1" >/dev/null 2>&1; }
matches() { [[ $1 =~ $2 ]]; }

# make_zombie: a process that exited and is never reaped (its parent exec'd
# into sleep), in ZOMBIE; fails if none appears in 5 s. end_zombie reaps it.
make_zombie() {
	local i
	bash -c 'sleep 0.5 & echo $! $$; exec sleep 60' >"$WORK/zombie" &
	ZOMBIE_PARENT=$!
	ZOMBIE=
	for ((i = 0; i < 50; i++)); do
		read -r ZOMBIE _ 2>/dev/null <"$WORK/zombie" &&
			grep -q '^State:.*Z' "/proc/$ZOMBIE/status" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

end_zombie() {
	kill "$ZOMBIE_PARENT" 2>/dev/null
	wait "$ZOMBIE_PARENT" 2>/dev/null
}

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The two engines against each other: every selection of masks.sh through
# --engine=ioctl and --engine=read on the same target must print the same
# bytes, and both must report exactly the pages the target wrote.
. "$TESTS_SRCDIR/cli/lib.sh"

knows() { # ENGINE CATEGORY
	"$PMSCAN" --engine="$1" --list-categories -n 2>/dev/null |
		awk -v c="$2" '$1 == c && $2 == "yes" { f = 1 } END { exit !f }'
}
if ! knows ioctl present; then
	HAVE_IOCTL=0
	diag "no PAGEMAP_SCAN here: only the read engine runs"
else
	HAVE_IOCTL=1
fi

# The categories both engines can report here.
COMMON=$(for c in wpallowed written file present swapped soft-dirty guard; do
	knows read "$c" && knows ioctl "$c" && printf '%s,' "$c"
done)
COMMON=${COMMON%,}

target_start
N=6000
map A $N anon
if tcmd_try track A; then TRACKED=1; else TRACKED=0; diag "cannot track: $R"; fi
tcmd write A 0 7 800
tcmd read A 3 7 800
tcmd dontneed A 700 50
RA=$(range "$A" $N)

# The read engine alone, on every kernel (without PAGEMAP_SCAN there is
# nothing to compare with): present pages are exactly those written or read
# but not dropped, zero pages exactly those only read.
drop_dontneed() {
	while read -r p; do
		((p >= A + 700 * PAGE && p < A + 750 * PAGE)) || echo "$p"
	done
}
{ pages_of "$A" 0 7 800; pages_of "$A" 3 7 800; } | drop_dontneed | sort >"$WORK/expect"
run_pmscan -p "$T_PID" --engine=read --present --addresses --range="$RA"
sort "$WORK/out" >"$WORK/got"
check "--engine=read --present: exactly the pages touched" same "$WORK/got" "$WORK/expect"
if knows read pfnzero; then
	pages_of "$A" 3 7 800 | drop_dontneed | sort >"$WORK/expect"
	run_pmscan -p "$T_PID" --engine=read --pfnzero --addresses --range="$RA"
	sort "$WORK/out" >"$WORK/got"
	check "--engine=read --pfnzero: exactly the pages only read" same "$WORK/got" "$WORK/expect"
else
	expect_exit 3 "--engine=read --pfnzero without CAP_SYS_ADMIN: exit 3 with the reason" \
		"category 'pfnzero' is not available with the read engine: .*CAP_SYS_ADMIN" \
		-p "$T_PID" --engine=read --pfnzero --range="$RA"
fi

# both DESCRIPTION OPTIONS...: the same output from both engines (text, JSON
# and addresses), and not empty (so the comparison means something).
both() {
	local desc=$1 fmt
	shift
	if [ "$HAVE_IOCTL" = 0 ]; then
		skip "$desc: engines agree" "no PAGEMAP_SCAN to compare with"
		return
	fi
	# Without CAP_SYS_ADMIN the read engine has no page frame numbers: no
	# pfnzero, no huge. Compare what both can say.
	if ! knows read pfnzero; then
		case " $* " in
		*pfnzero* | *huge*)
			skip "$desc: engines agree" "the read engine needs CAP_SYS_ADMIN for pfnzero and huge"
			return ;;
		*--return=*) ;;
		*) set -- "$@" --return="$COMMON" ;;
		esac
	fi
	for fmt in "" --json --summary; do
		# shellcheck disable=SC2086
		run_pmscan -p "$T_PID" --engine=ioctl $fmt "$@"
		mv "$WORK/out" "$WORK/ioctl"
		local rc_i=$RC
		cp "$WORK/err" "$WORK/err_ioctl"
		# shellcheck disable=SC2086
		run_pmscan -p "$T_PID" --engine=read $fmt "$@"
		if [ "$rc_i" -ne 0 ] || [ "$RC" -ne 0 ]; then
			diag "exit ioctl $rc_i read $RC: $(cat "$WORK/err_ioctl" "$WORK/err")"
			ok 1 "$desc${fmt:+ $fmt}: engines agree"
			continue
		fi
		check "$desc${fmt:+ $fmt}: engines agree" same "$WORK/ioctl" "$WORK/out"
	done
}

both "--written" --written --range="$RA"
both "--present" --present --range="$RA"
both "--pfnzero" --pfnzero --range="$RA"
both "--swapped" --swapped --range="$RA"
both "--require=present,written" --require=present,written --range="$RA"
both "--anyof=written,pfnzero" --anyof=written,pfnzero --range="$RA"
both "--present --exclude=written" --present --exclude=written --range="$RA"
both "--exclude=present --return=written,swapped" --exclude=present --return=written,swapped --range="$RA"
both "--anyof=present --return=present,pfnzero" --anyof=present --return=present,pfnzero --range="$RA"
both "--exclude=wpallowed (nothing in a tracked area)" --exclude=wpallowed --range="$RA"
both "no selection" --range="$RA"
both "--max-pages=123 --present" --present --max-pages=123 --range="$RA"
both "--max-pages=5 --written" --written --max-pages=5 --range="$RA"
both "two ranges" --present --range="$(range "$A" 100)" --range="$(range $((A + 3000 * PAGE)) 200)"

# Untracked memory: no written page from either engine, on every kernel.
map U 300 anon
tcmd write U 0 1 300
both "untracked --written (nothing)" --written --range="$(range "$U" 300)"
both "untracked, no selection" --range="$(range "$U" 300)"
both "untracked --anyof=written,present" --anyof=written,present --range="$(range "$U" 300)"
both "untracked --exclude=written" --present --exclude=written --range="$(range "$U" 300)"

# File-backed and shared memory.
head -c $((256 * PAGE)) /dev/urandom >"$WORK/file"
map F 256 "file:$WORK/file"
tcmd read F 0 4 64
both "--file" --file --range="$(range "$F" 256)"
map S 64 shared
tcmd write S 0 1 64
both "shared anonymous memory" --file --present --range="$(range "$S" 64)"

# Small mappings side by side, private and shared by turns (so none merge),
# each in its own state: the read engine reads several of them at once.
lo= hi=
for i in $(seq 0 39); do
	if ((i % 2)); then kind=shared; else kind=anon; fi
	map "M$i" 3 $kind
	a=$R
	case $((i % 4)) in
	0) tcmd write "M$i" 0 1 3 ;;
	1) tcmd write "M$i" 1 1 1 ;;
	2) tcmd read "M$i" 0 2 2 ;;
	esac
	if [ -z "$lo" ] || ((a < lo)); then lo=$a; fi
	if [ -z "$hi" ] || ((a + 3 * PAGE > hi)); then hi=$((a + 3 * PAGE)); fi
done
RM=$(printf '0x%x-0x%x' "$lo" "$hi")
both "small mappings side by side: --present" --present --range="$RM"
both "small mappings side by side" --range="$RM"

# THP: the read engine finds PMD-mapped huge pages through kpageflags.
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
case $thp in
*"[never]"*|"") skip "--huge on THP: engines agree" "transparent huge pages are disabled or absent" ;;
*)
	map H 1024 thp
	tcmd write H 0 512 2
	if knows read huge && [ -r /proc/kpageflags ]; then
		both "--huge" --huge --return=huge,present --range="$(range "$H" 1024)"
		both "no selection over THP" --range="$(range "$H" 1024)"
		# Read faults there map the huge zero page: pfnzero and huge, not file.
		map HZ 2048 thp
		tcmd read HZ 0 512 2
		tcmd write HZ 1024 512 1
		both "the huge zero page" --range="$(range "$HZ" 2048)"
		both "the huge zero page: --pfnzero" --pfnzero --range="$(range "$HZ" 2048)"
		both "the huge zero page: --file" --file --range="$(range "$HZ" 2048)"
	else
		skip "--huge on THP: engines agree" "the read engine needs /proc/kpageflags (root)"
	fi
	;;
esac

# The whole process, every category: the mappings of libc, stack, vDSO...
both "the whole process"

# Written pages are exactly those written, through each engine.
if [ "$TRACKED" = 1 ]; then
	map W 2000 anon
	tcmd track W
	tcmd write W 5 3 400
	pages_of "$W" 5 3 400 >"$WORK/expect"
	for e in ioctl read; do
		if ! knows $e written; then
			skip "--engine=$e --written: exactly the pages written" "no PAGEMAP_SCAN"
			continue
		fi
		run_pmscan -p "$T_PID" --engine=$e --written --addresses --range="$(range "$W" 2000)"
		check "--engine=$e --written: exactly the pages written" same "$WORK/out" "$WORK/expect"
	done
	# A reset through the ioctl engine, read back through the read engine.
	if [ "$HAVE_IOCTL" = 1 ]; then
		run_pmscan -p "$T_PID" --written --wp --addresses --range="$(range "$W" 2000)"
		tcmd write W 1 1 3
		pages_of "$W" 1 1 3 >"$WORK/expect"
		run_pmscan -p "$T_PID" --engine=read --written --addresses --range="$(range "$W" 2000)"
		check "after --wp, --engine=read sees only the new writes" same "$WORK/out" "$WORK/expect"
	fi
else
	skip "written pages through both engines" "this kernel cannot track writes"
fi

# A mapping made after --arm is registered by the next scan but never
# protected: its untouched pages, without a page table, read as written.
target_start
if [ "$HAVE_IOCTL" = 1 ] && "$PMSCAN" --arm -p "$T_PID" >/dev/null 2>&1; then
	map N 1000 anon
	tcmd write N 0 2 10
	RN=$(range "$N" 1000)
	run_pmscan -p "$T_PID" --present --range="$RN"
	both "registered, never protected: --written" --no-rearm --written --range="$RN"
	both "registered, never protected: no selection" --no-rearm --range="$RN"
else
	skip "registered, never protected: engines agree" "cannot arm here"
fi

# Without CAP_SYS_ADMIN pagemap hides page frame numbers: the read engine
# says pfnzero and huge are unavailable and why, and agrees on the rest.
why=$(other_user_reason)
if [ -n "$why" ]; then
	skip "unprivileged read engine" "$why"
elif [ "$HAVE_IOCTL" = 0 ]; then
	skip "unprivileged read engine" "no PAGEMAP_SCAN to compare with"
else
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all"
	chmod 755 "$WORK"
	target_start $NOBODY "$HELPERS/target"
	map A 3000 anon
	tcmd_try track A || true
	tcmd write A 0 3 600
	tcmd read A 1 3 600
	RA=$(range "$A" 3000)
	$NOBODY "$PMSCAN" --engine=read --list-categories -n >"$WORK/cats" 2>&1
	check "unprivileged: pfnzero and huge unavailable, naming CAP_SYS_ADMIN" \
		[ "$(awk '($1 == "pfnzero" || $1 == "huge") && $2 == "no" && /CAP_SYS_ADMIN/' "$WORK/cats" | wc -l)" = 2 ]
	for sel in "--written" "--present --return=present,written,file,swapped" \
		"--exclude=present --return=written,swapped,wpallowed"; do
		# shellcheck disable=SC2086
		$NOBODY "$PMSCAN" -p "$T_PID" --engine=ioctl $sel --json --range="$RA" >"$WORK/ioctl" 2>&1
		# shellcheck disable=SC2086
		$NOBODY "$PMSCAN" -p "$T_PID" --engine=read $sel --json --range="$RA" >"$WORK/read" 2>&1
		check "unprivileged $sel: engines agree" same "$WORK/ioctl" "$WORK/read"
	done
	$NOBODY "$PMSCAN" -p "$T_PID" --engine=read --pfnzero --range="$RA" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	check "unprivileged --engine=read --pfnzero: exit 3 naming the category and CAP_SYS_ADMIN" \
		[ "$RC" -eq 3 -a "$(grep -c "category 'pfnzero' is not available with the read engine: .*CAP_SYS_ADMIN" "$WORK/err")" = 1 ]
fi

# What the read engine cannot do, it says.
expect_exit 2 "--engine=read --wp: a usage error" "only the ioctl engine" \
	-p "$T_PID" --engine=read --wp
expect_exit 2 "--engine=bogus: a usage error" "unknown engine 'bogus'" -p "$T_PID" --engine=bogus
expect_exit 3 "--engine=read --require=accessed: exit 3, named, with the reason" \
	"category 'accessed' is not available with the read engine: pagemap has no accessed bit" \
	-p "$T_PID" --engine=read --require=accessed
done_testing

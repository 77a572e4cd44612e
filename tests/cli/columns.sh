#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The output layer's conventions: unsafe bytes in a mapping name escaped in
# text, raw and JSON; -o (case-insensitive, +LIST, unknown names);
# --list-columns against what each mode prints; -b and human sizes that roll
# over; decimal numbers on the command line; several processes (-p lists,
# --cgroup); width fitting on a terminal, raw output the same everywhere.
. "$TESTS_SRCDIR/cli/lib.sh"

C1=$(printf '\xc2\x9b')
FFFD=$(printf '\xef\xbf\xbd')

# bad_bytes FILE: the C0 controls but newline, DEL, C1 controls (as UTF-8)
# and bytes that are not UTF-8 that FILE holds, in od's form (empty: none).
bad_bytes() {
	{
		LC_ALL=C grep -aoP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"
		iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1 || echo "(not valid UTF-8)"
	} | od -An -c | head -n 3
}

# A target mapping a file whose name holds ESC, a newline, a space, a
# backslash, a C1 control and a byte that is not UTF-8. The target reads
# paths without spaces, so it maps a plain name that is then renamed
# (/proc/PID/maps shows the new name; the kernel itself writes the newline
# as the four characters \012, so pmscan sees a backslash there).
target_start
head -c $((2 * PAGE)) /dev/zero >"$WORK/plain"
map F 2 "file:$WORK/plain"
tcmd read F 0 1 2
name="$WORK/a"$'\x1b'"b"$'\n'"c d\\e${C1}f"$'\xff'"g"
mv "$WORK/plain" "$name" || bail "cannot rename to an odd name"
f_hex=$(printf '0x%x' $((F)))
# What each format must show for it.
text_name="$WORK/a\\x1bb\\x5c012c d\\x5ce\\xc2\\x9bf\\xffg"
raw_name="$WORK/a\\x1bb\\x5c012c\\x20d\\x5ce\\xc2\\x9bf\\xffg"
json_name="$WORK/a"$'\x1b'"b\\012c d\\e${C1}f${FFFD}g"

# ---- escaping ----------------------------------------------------------------
for fmt in text raw; do
	opt=
	[ $fmt = raw ] && opt=-r
	for mode in scan summary; do
		mopt=
		[ $mode = summary ] && mopt=-s
		run_pmscan -p "$T_PID" $opt $mopt
		check "$fmt $mode: exit 0" [ "$RC" -eq 0 ]
		bad=$(bad_bytes "$WORK/out")
		check "$fmt $mode: no control byte, C1 control or invalid UTF-8${bad:+ (found:$bad)}" [ -z "$bad" ]
		want=$text_name
		[ $fmt = raw ] && want=$raw_name
		check "$fmt $mode: the name escaped as \\xHH" \
			[ "$(grep -cF -- " $want" "$WORK/out")" -ge 1 ]
	done
done
run_pmscan -p "$T_PID" -r
check "raw: every row has as many fields as the header" \
	[ "$(awk '{ print NF }' "$WORK/out" | sort -u)" = 6 ]
check "raw: the odd name is the sixth field of its row" \
	[ "$(awk -v s="$f_hex" '$1 == s { print $6 }' "$WORK/out")" = "$raw_name" ]
run_pmscan -p "$T_PID" -J
check "JSON: exit 0" [ "$RC" -eq 0 ]
check "JSON: valid UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$WORK/out"
bad=$(LC_ALL=C grep -aoP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$WORK/out" | od -An -c | head -n 2)
check "JSON: no raw control byte or C1 control${bad:+ (found:$bad)}" [ -z "$bad" ]
check "JSON: the name with \\u001b, \\\\, \\u009b and U+FFFD for 0xff" \
	grep -qF "a\\u001bb\\\\012c d\\\\e\\u009bf${FFFD}g\"" "$WORK/out"
check "JSON: the name decodes to the bytes it stands for" \
	[ "$(jq -r --arg s "$f_hex" '.regions[] | select(.start == $s) | .mapping' "$WORK/out")" = "$json_name" ]
if kernel_has wp_async && case $(uname -m) in x86_64 | aarch64) true ;; *) false ;; esac; then
	tcmd ticker F 1 20
	for fmt in text raw; do
		opt=
		[ $fmt = raw ] && opt=-r
		run_pmscan --watch=0.2 --count=2 -p "$T_PID" $opt -o +mappings
		check "--watch $fmt: exit 0" [ "$RC" -eq 0 ]
		bad=$(bad_bytes "$WORK/out")
		check "--watch $fmt: no control byte, C1 control or invalid UTF-8${bad:+ (found:$bad)}" [ -z "$bad" ]
		want=$text_name
		[ $fmt = raw ] && want=$raw_name
		check "--watch $fmt: the name escaped in the rows and the summary" \
			[ "$(grep -cF -- "$want" "$WORK/out")" -ge 2 ]
	done
else
	skip "--watch: the name escaped" "$(kernel_lacks_reason wp_async), or arming is not implemented here"
fi

# ---- -o --------------------------------------------------------------------------
run_pmscan -p "$T_PID" -r -o START,SIZE,MAPPING
cp "$WORK/out" "$WORK/upper"
run_pmscan -p "$T_PID" -r -o start,Size,mApPiNg
check "-o: names are case-insensitive" same "$WORK/out" "$WORK/upper"
check "-o start,size,mapping: that header" [ "$(head -n 1 "$WORK/out")" = "START SIZE MAPPING" ]
run_pmscan -p "$T_PID" -r -o +perms,Inode
check "-o +LIST: the defaults, then LIST" \
	[ "$(head -n 1 "$WORK/out")" = "START END PAGES SIZE CATEGORIES MAPPING PERMS INODE" ]
check "-o +LIST: the file's inode in its row" \
	[ "$(awk -v s="$f_hex" '$1 == s { print $8 }' "$WORK/out")" = "$(stat -c %i "$name")" ]
run_pmscan -p "$T_PID" -s -r -o +perms
check "-s -o +LIST: the summary's defaults, then LIST" \
	[ "$(head -n 1 "$WORK/out" | awk '{ print $1, $2, $3, $NF }')" = "START END SIZE PERMS" ]
expect_exit 2 "-o with an unknown column: exit 2, named" "unknown column 'bogus'" -p "$T_PID" -o start,bogus
expect_exit 2 "-o +unknown: exit 2, named" "unknown column 'nope'" -p "$T_PID" -o +nope
expect_exit 2 "-s -o with a region-only column: exit 2, named" "unknown column 'categories' \\(see pmscan --summary --list-columns\\)" \
	-p "$T_PID" -s -o categories
expect_exit 2 "-o unknown where the kernel would refuse the run: exit 2 first" "unknown column 'bogus'" \
	-p "$T_PID" --tracker=soft-dirty --engine=ioctl -o bogus
expect_exit 2 "--list-categories -o unknown: exit 2, named" "unknown column 'colour'" \
	--list-categories -o colour
expect_exit 2 "--watch -o unknown: exit 2, named" "unknown column 'colour'" \
	--watch=1 --count=1 -p "$T_PID" -o colour

# ---- --list-columns against what each mode prints ---------------------------------
# names MODE...: the names --list-columns gives for a mode, comma-separated.
names() { "$PMSCAN" "$@" --list-columns -r -n | awk '{ print $1 }' | paste -sd, -; }
keys() { "$PMSCAN" "$@" --list-columns -J | jq -r '[.columns[].key] | join(",")'; }
defaults() { "$PMSCAN" "$@" --list-columns -J | jq -r '[.columns[] | select(.default) | .name] | join(" ")'; }
for mode in scan summary list-categories; do
	case $mode in
	scan) m=() ;;
	summary) m=(-s) ;;
	list-categories) m=(--list-categories) ;;
	esac
	args=(-p "$T_PID")
	[ $mode = list-categories ] && args=()
	all=$(names "${m[@]}")
	check "--list-columns ($mode): lists columns" [ -n "$all" ]
	run_pmscan "${args[@]}" "${m[@]}" -r -o "$all"
	check "$mode -o (every listed column): exit 0" [ "$RC" -eq 0 ]
	check "$mode -o (every listed column): the header is the list" \
		[ "$(head -n 1 "$WORK/out" | tr ' ' ,)" = "$all" ]
	run_pmscan "${args[@]}" "${m[@]}" -J -o "$all"
	check "$mode -J -o (every listed column): the keys are the list's keys" \
		[ "$(jq -r '[(.regions // .mappings // .categories)[0] | keys_unsorted[]] | join(",")' "$WORK/out")" = "$(keys "${m[@]}")" ]
	run_pmscan "${args[@]}" "${m[@]}" -r
	check "$mode: the default header is the list's default columns" \
		[ "$(head -n 1 "$WORK/out")" = "$(defaults "${m[@]}")" ]
	col=$(echo "$all" | cut -d, -f2)
	run_pmscan "${args[@]}" "${m[@]}" -r -o "$col"
	check "$mode -o $col: one listed column alone" [ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out")" = "$col" ]
done
if kernel_has wp_async && case $(uname -m) in x86_64 | aarch64) true ;; *) false ;; esac; then
	all=$(names --watch)
	run_pmscan --watch=0.1 --count=1 -p "$T_PID" -r -o "$all"
	check "--watch -o (every listed column): the header is the list" \
		[ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out" | tr ' ' ,)" = "$all" ]
	run_pmscan --watch=0.1 --count=1 -p "$T_PID" -J -o "$all"
	check "--watch -J -o (every listed column): the keys are the list's keys" \
		[ "$(head -n 1 "$WORK/out" | jq -r 'keys_unsorted | join(",")')" = "$(keys --watch)" ]
else
	skip "--watch -o (every listed column)" "$(kernel_lacks_reason wp_async), or arming is not implemented here"
fi
run_pmscan --list-columns -n
check "--list-columns -n: no header" [ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out" | awk '{ print $1 }')" = PID ]

# ---- -b and human sizes --------------------------------------------------------------
# Separate memfds never merge with a neighbour, so each is a mapping of its own.
map M1 256 memfd
map M2 384 memfd
map M3 255 memfd
map MB 262016 memfd	# 1023.5 MiB, never touched
run_pmscan -p "$T_PID" -s -r -o start,size
sizes=$(for a in "$M1" "$M2" "$M3" "$MB"; do awk -v s="$(printf '0x%x' $((a)))" '$1 == s { print $2 }' "$WORK/out"; done | paste -sd' ' -)
check "human sizes: 1M 1.5M 1020K, and 1023.5 MiB is 1G (not 1024M)" [ "$sizes" = "1M 1.5M 1020K 1G" ]
run_pmscan -p "$T_PID" -s -r -b -o start,size
sizes=$(for a in "$M1" "$MB"; do awk -v s="$(printf '0x%x' $((a)))" '$1 == s { print $2 }' "$WORK/out"; done | paste -sd' ' -)
check "-b: sizes in bytes" [ "$sizes" = "$((256 * PAGE)) $((262016 * PAGE))" ]
run_pmscan -p "$T_PID" -b -o start,pages,size
check "-b, regions: SIZE is PAGES times the page size on every row" \
	[ -z "$(sed '1d;$d' "$WORK/out" | awk -v p="$PAGE" '$3 != $2 * p')" ]
check "-b: the totals line in bytes" \
	matches "$(tail -n 1 "$WORK/out")" "^total: [0-9]+ regions, ([0-9]+) pages, [0-9]+$"
t=$(tail -n 1 "$WORK/out")
check "-b: the totals line's bytes are its pages times the page size" \
	[ "$(echo "$t" | awk -v p="$PAGE" '{ print ($4 * p == $NF) }')" = 1 ]

# ---- numbers are decimal -------------------------------------------------------------
run_pmscan -p "0$T_PID" -J -o start
check "-p 0PID is pid PID (decimal, no octal)" [ "$RC" -eq 0 -a "$(jq '.processes[0].pid' "$WORK/out")" = "$T_PID" ]
map N 64 anon
tcmd write N 0 1 64
run_pmscan -p "$T_PID" -a --present --max-pages=010 --range="$(range "$N" 64)"
check "--max-pages=010 is 10" [ "$(wc -l <"$WORK/out")" = 10 ]
expect_exit 2 "-p 0x10: exit 2, named" "invalid pid '0x10'" -p 0x10
expect_exit 2 "--max-pages=0x10: exit 2, named" "invalid page count '0x10'" -p "$T_PID" --max-pages=0x10
expect_exit 2 "-m 1e3: exit 2, named" "invalid page count '1e3'" -p "$T_PID" -m 1e3
expect_exit 2 "--watch=0x0.4p0: exit 2, named" "invalid interval '0x0.4p0'" --watch=0x0.4p0 -p "$T_PID"
expect_exit 2 "--timeout=1e1: exit 2, named" "invalid timeout '1e1'" --arm --timeout=1e1 -p "$T_PID"
expect_exit 2 "--count=0x2: exit 2, named" "invalid count '0x2'" --watch --count=0x2 -p "$T_PID"
expect_exit 2 "--max-page-tables=0x10: exit 2, named" "invalid size '0x10'" --arm --max-page-tables=0x10 -p "$T_PID"

# ---- several processes -------------------------------------------------------------
tcmd fork
second=$R
run_pmscan -p "$T_PID" -o start,pages -n
check "one process: no PID column" [ "$(awk '{ print NF }' "$WORK/out" | sort -u)" = 2 ]
run_pmscan -p "$T_PID" -p "$second" -r
check "a second -p adds a process: text gains a PID column" \
	[ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out")" = "PID START END PAGES SIZE CATEGORIES MAPPING" ]
check "a second -p: rows of both processes" \
	[ "$(sed 1d "$WORK/out" | awk '{ print $1 }' | sort -u | paste -sd' ' -)" = "$(printf '%s\n' "$T_PID" "$second" | sort -u | paste -sd' ' -)" ]
run_pmscan -p "$T_PID" -p "$second" -r -o +perms
check "several processes, -o +LIST: the defaults with PID, then the list" \
	[ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out")" = "PID START END PAGES SIZE CATEGORIES MAPPING PERMS" ]
run_pmscan -p "$T_PID" -p "$second" -r -o start,pages
check "several processes, -o LIST: exactly the columns asked for" \
	[ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out")" = "START PAGES" ]
run_pmscan -p "$T_PID,$second" -J
check "-p PID,PID: JSON regions carry their pid, processes in order" \
	[ "$(jq -c '[[.processes[].pid], ([.regions[].pid] | unique)]' "$WORK/out")" = \
	  "[[$T_PID,$second],$(printf '[%s]' "$(printf '%s\n' "$T_PID" "$second" | sort -n | paste -sd, -)")]" ]

# --cgroup: a cgroup v2 directory holding both processes.
cg_mnt=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1)
if [ -z "$cg_mnt" ]; then
	skip "--cgroup" "cgroup v2 is not mounted"
elif ! mkdir "$cg_mnt/pmscan-test-$$" 2>/dev/null; then
	skip "--cgroup" "cannot create a cgroup under $cg_mnt (not root, or not delegated)"
else
	cg=$cg_mnt/pmscan-test-$$
	cg_cleanup() {
		local p
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do echo "$p" >"$cg_mnt/cgroup.procs"; done 2>/dev/null
		rmdir "$cg" 2>/dev/null
	}
	trap 'cg_cleanup; cleanup' EXIT
	if echo "$T_PID" >"$cg/cgroup.procs" && echo "$second" >"$cg/cgroup.procs"; then
		run_pmscan --cgroup="$cg" -J -o start
		check "--cgroup=DIR: exit 0" [ "$RC" -eq 0 ]
		check "--cgroup=DIR: both processes scanned" \
			[ "$(jq -c '[.processes[] | [.pid, .error]] | sort' "$WORK/out")" = \
			  "$(printf '[[%s,null],[%s,null]]' $(printf '%s\n' "$T_PID" "$second" | sort -n))" ]
		check "--cgroup=DIR: regions of both" [ "$(jq '[.regions[].pid] | unique | length' "$WORK/out")" = 2 ]
		case $cg in
		/sys/fs/cgroup/*)
			run_pmscan --cgroup="${cg#/sys/fs/cgroup/}" -J -o start
			check "--cgroup=DIR relative to /sys/fs/cgroup" [ "$RC" -eq 0 -a "$(jq '.processes | length' "$WORK/out")" = 2 ] ;;
		*) skip "--cgroup=DIR relative to /sys/fs/cgroup" "cgroup v2 is mounted at $cg_mnt" ;;
		esac
		run_pmscan --cgroup="$cg" -p "$second" -J -o start
		check "--cgroup with -p: the -p process first, then the cgroup's others, none twice" \
			[ "$RC" -eq 0 -a "$(jq -c '[.processes[].pid]' "$WORK/out")" = "[$second,$T_PID]" ]
		run_pmscan --cgroup="$cg" -r
		check "--cgroup: text gains a PID column" [ "$RC" -eq 0 -a "$(head -n 1 "$WORK/out" | cut -d' ' -f1)" = PID ]
		mkdir "$cg/empty"
		expect_exit 1 "--cgroup of an empty cgroup: exit 1" "cgroup '.*' has no processes" --cgroup="$cg/empty"
		rmdir "$cg/empty"
	else
		skip "--cgroup" "cannot move processes into $cg"
	fi
	expect_exit 1 "--cgroup of no such directory: exit 1" "no such cgroup v2 directory" \
		--cgroup="$cg_mnt/pmscan-no-such-cgroup"
fi
kill "$second" 2>/dev/null

# ---- on a terminal ------------------------------------------------------------------
if command -v script >/dev/null; then
	tty() { COLUMNS=60 script -qec "$*" /dev/null </dev/null | tr -d '\r'; }
	tty "$PMSCAN" -p "$T_PID" -o start,size,mapping >"$WORK/tty"
	"$PMSCAN" -p "$T_PID" -o start,size,mapping >"$WORK/pipe"
	# Display width: "…" is one column; everything else is ASCII once escaped.
	widest=$(sed 's/\xe2\x80\xa6/~/g' "$WORK/tty" | awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }')
	check "terminal, COLUMNS=60: no line wider than 60 columns (widest $widest)" [ "$widest" -le 60 ]
	row=$(grep -F "$f_hex" "$WORK/tty")
	check "terminal: the long name cut to the width, ending with …" \
		matches "$row" "^$f_hex +8K $WORK/a\\\\x1bb.*…\$"
	check "terminal: the cut row is exactly 60 columns" [ "$(printf '%s' "$row" | sed 's/\xe2\x80\xa6/~/g' | wc -c)" = 60 ]
	check "pipe: nothing cut" \
		[ "$(grep -c '…' "$WORK/pipe")" = 0 -a "$(grep -cF " $text_name" "$WORK/pipe")" = 1 ]
	tty "$PMSCAN" -p "$T_PID" >"$WORK/tty"
	check "terminal, default columns: the mapping column still cut, with …" \
		matches "$(grep -F "$f_hex" "$WORK/tty")" "…\$"
	for m in "" -s; do
		tty "$PMSCAN" -p "$T_PID" -r $m >"$WORK/tty"
		"$PMSCAN" -p "$T_PID" -r $m >"$WORK/pipe"
		check "raw${m:+ $m}: byte-identical on a terminal and a pipe" same "$WORK/tty" "$WORK/pipe"
	done
else
	skip "terminal width" "script(1) is not installed"
fi
done_testing

#!/bin/bash
# Sets up pmscan and shows its main job on a live process: a program that
# tracks its own memory writes a few pages at a time, and pmscan reports
# exactly what it wrote since the last call, resetting as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
make -s tests/helpers/target

work=$(mktemp -d)
trap 'kill $tpid 2>/dev/null; rm -rf "$work"' EXIT
mkfifo "$work/in" "$work/out"
tests/helpers/target <"$work/in" >"$work/out" &
tpid=$!
exec 3>"$work/in" 4<"$work/out"
say() { echo "$*" >&3; read -r reply <&4; }
show() { echo; echo "\$ $*"; "$@"; }

say map buf 4096 anon
buf=${reply#ok }
say track buf
page=$(getconf PAGESIZE)
range=$(printf '0x%x+16M' $((buf)))
echo "demo: process $tpid maps 16 MiB at $buf and tracks its writes (userfaultfd async write-protect)."

say write buf 0 1 100
echo "demo: it writes pages 0-99 of the buffer"
show src/cli/pmscan -p "$tpid" --written --wp --range="$range"
say write buf 1000 8 6
echo; echo "demo: it writes 6 pages, 8 apart, from page 1000; only those are new"
show src/cli/pmscan -p "$tpid" --written --wp --range="$range"
show src/cli/pmscan -p "$tpid" --written --wp --range="$range"
say write buf 2000 1 3
echo; echo "demo: the same answer as JSON, and one address per page"
show src/cli/pmscan -p "$tpid" --written --json --range="$range"
show src/cli/pmscan -p "$tpid" --written --wp --addresses --range="$range"
echo; echo "demo: the whole process, per mapping (only the buffer is tracked, so pmscan warns)"
show src/cli/pmscan -p "$tpid" --written --summary

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sets up pmscan and shows its main job on a live process that never asked
# for it: pmscan arms write tracking in it, then reports exactly what it
# wrote since the last call, resetting as it goes; then a few seconds of
# the live write-rate view, and disarming. Builds in build-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh build-demo
make -s -C build-demo tests/helpers/target

work=$(mktemp -d)
tpid=
trap '[ -n "$tpid" ] && kill $tpid 2>/dev/null; rm -rf "$work"' EXIT
mkfifo "$work/in" "$work/out"
build-demo/tests/helpers/target <"$work/in" >"$work/out" &
tpid=$!
exec 3>"$work/in" 4<"$work/out"
say() { echo "$*" >&3; read -r reply <&4; }
show() { echo; echo "\$ pmscan ${*:2}"; "$@"; }
P=build-demo/src/cli/pmscan

say map buf 4096 anon
buf=${reply#ok }
range=$(printf '0x%x+16M' $((buf)))
echo "demo: process $tpid maps 16 MiB at $buf; nothing in it tracks writes."
show $P --arm -p "$tpid"
say write buf 0 1 100
echo; echo "demo: it writes pages 0-99 of the buffer"
show $P -p "$tpid" --written --wp --range="$range"
say write buf 1000 8 6
echo; echo "demo: it writes 6 pages, 8 apart, from page 1000; only those are new"
show $P -p "$tpid" --written --wp --range="$range"
show $P -p "$tpid" --written --wp --range="$range"
say write buf 2000 1 3
echo; echo "demo: the same question as JSON, and one address per page"
show $P -p "$tpid" --written --json --range="$range"
show $P -p "$tpid" --written --wp --addresses --range="$range"
echo; echo "demo: a thread now writes 50 pages every 100 ms; the live view, 3 intervals"
say ticker buf 50 100
show $P --watch=1 --count=3 -p "$tpid"
show $P --disarm -p "$tpid"

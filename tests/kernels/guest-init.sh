#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the kernel matrix's initramfs: mount the pseudo file systems, run
# each test group with a bounded time, write its TAP output framed by @@
# lines to the results port (a second serial port or a virtio console, never
# the kernel console), then power off.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# The tree sits at its host path, which may be under /tmp (CI clones there):
# a tmpfs over a /tmp that holds it would hide it. The initramfs is writable.
mkdir -p /tmp
[ -n "$(ls -A /tmp 2>/dev/null)" ] || mount -t tmpfs -o size=1g tmpfs /tmp
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
. /km/env

run_group() {
	local g=$1 t0 rc
	local -a cmd
	# A group is a script of tests/kernels/, else of tests/cli/ (any of the
	# suite's scripts that need no compiler), or writewatch.
	if [ "$g" = writewatch ]; then
		cmd=("$BUILDDIR/tests/lib/test-writewatch")
	elif [ -e "$TESTS_SRCDIR/kernels/$g.sh" ]; then
		cmd=(bash "$TESTS_SRCDIR/kernels/$g.sh")
	else
		cmd=(bash "$TESTS_SRCDIR/cli/$g.sh")
	fi
	echo "@@group $g"
	echo "== group $g" >/dev/console
	t0=$(date +%s)
	(cd /tmp && timeout -k 5 240 "${cmd[@]}" 2>/dev/console)
	rc=$?
	echo "@@end $g $rc $(($(date +%s) - t0))"
}

main() {
	stty -F "$KM_PORT" raw -echo 2>/dev/null
	echo "@@kernel $(uname -r) $(uname -m)"
	for g in $KM_GROUPS; do
		run_group "$g"
	done
	echo "@@done"
}

main >"$KM_PORT"
sync
poweroff -f

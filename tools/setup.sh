#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what a fresh Debian 12 machine lacks for building and testing
# pmscan; with a directory, also builds pmscan there, out of the source tree
# (the source tree itself is never configured, so any number of builds can
# live beside each other). Idempotent.
#
#   tools/setup.sh --deps-only            packages only
#   tools/setup.sh --packaging            packages, plus what building the Debian package needs
#   tools/setup.sh BUILDDIR [CONFIGURE-ARGS...]   packages, then configure and make in BUILDDIR
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

# The last line is for the tests only: python3-jsonschema validates every JSON
# output against data/pmscan.schema.json (tests/cli/json.sh), and
# python3-prometheus-client parses every OpenMetrics exposition
# (tests/cli/openmetrics.sh).
PACKAGES="build-essential autoconf automake libtool pkg-config libjson-c-dev libcap-dev
	libcmocka-dev jq groff-base zsh util-linux bsdextrautils procps strace git
	python3-jsonschema python3-prometheus-client"
PACKAGING="dpkg-dev debhelper fakeroot lintian"

mode=build
case ${1:-} in
--deps-only) mode=deps; shift ;;
--packaging) mode=deps; PACKAGES="$PACKAGES $PACKAGING"; shift ;;
'') echo "usage: tools/setup.sh --deps-only | --packaging | BUILDDIR [CONFIGURE-ARGS...]" >&2; exit 2 ;;
esac

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=
	elif command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "setup: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "$mode" = deps ] && exit 0

if [ -f config.status ]; then
	echo "setup: the source tree is configured in place; run 'make distclean' in $top first" >&2
	exit 1
fi
[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || { echo "setup: ./autogen.sh failed" >&2; exit 1; }

dir=$1
shift
case $dir in /*) ;; *) dir=$top/$dir ;; esac
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" -q "$@"
make -s -j"$(nproc)"

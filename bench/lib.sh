# SPDX-License-Identifier: GPL-2.0-or-later
# What the benchmark scripts share, sourced with B (the build directory) and
# PMSCAN set. bench_start PROGRAM...: builds the programs and the target
# helper, times pmscan itself rather than libtool's wrapper script, and
# starts the target (tests/helpers/target) on two fifos: say CMD sends it a
# command and leaves its answer in $reply (exits unless it says ok); tpid is
# its pid, work a scratch directory, both cleaned up on exit.
bench_start() {
	make -s -C "$B" tests/helpers/target "$@"
	[ -x "$PMSCAN" ] || { echo "build pmscan first" >&2; exit 1; }
	if [ -x "$B/src/cli/.libs/pmscan" ]; then
		PMSCAN=$B/src/cli/.libs/pmscan
		export LD_LIBRARY_PATH=$B/src/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	fi
	work=$(mktemp -d)
	mkfifo "$work/in" "$work/out"
	"$B/tests/helpers/target" <"$work/in" >"$work/out" &
	tpid=$!
	trap 'kill $tpid 2>/dev/null; rm -rf "$work"' EXIT
	exec 3>"$work/in" 4<"$work/out"
}

say() { echo "$*" >&3; read -r reply <&4; case $reply in ok*) ;; *) echo "target: $*: $reply" >&2; exit 1 ;; esac; }

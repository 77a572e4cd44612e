#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel matrix: boot Debian's stock kernels under qemu with an initramfs
# holding a small Debian userland and the built tree at its own absolute
# path, run the kernel-sensitive tests inside, and collect their TAP output
# from a second serial port (never from the console). One summary line per
# kernel, then "N passed, N failed"; exit 1 on any failure.
#
#   run.sh [--builddir=DIR] [--srcdir=DIR] [--keep] [KERNEL...]
#   KERNEL: bookworm bookworm-backports trixie sid experimental arm64
#
# Environment: PMSCAN_KERNEL_CACHE (default /var/cache/pmscan-kernels:
# packages, unpacked kernels and userlands, reused by every run),
# PMSCAN_KM_ACCEL (default tcg; kvm where stock kernels boot under it),
# PMSCAN_KM_GROUPS (test groups to run, default all).
set -u
shopt -s nullglob

HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${TOP_SRCDIR:-$(cd "$HERE/../.." && pwd)}
BUILDDIR=${BUILDDIR:-}
KERNELS=()
for a; do
	case $a in
	--builddir=*) BUILDDIR=${a#*=} ;;
	--srcdir=*) SRCDIR=${a#*=} ;;
	-h | --help) sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option '$a'" >&2; exit 2 ;;
	*) KERNELS+=("$a") ;;
	esac
done
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=(bookworm bookworm-backports trixie sid experimental arm64)
[ -n "$BUILDDIR" ] && [ -x "$BUILDDIR/src/cli/pmscan" ] ||
	{ echo "run.sh: --builddir must name a built x86_64 tree (make check-kernels sets it)" >&2; exit 2; }
BUILDDIR=$(cd "$BUILDDIR" && pwd)
SRCDIR=$(cd "$SRCDIR" && pwd)
OUT=$BUILDDIR/tests/kernels
ARMBUILD=${PMSCAN_KM_ARM64_BUILD:-$BUILDDIR-arm64}
ACCEL=${PMSCAN_KM_ACCEL:-tcg}
GROUPS_X86=${PMSCAN_KM_GROUPS:-scan masks arm softdirty untracked hugetlb writewatch}
GROUPS_ARM=${PMSCAN_KM_GROUPS:-scan masks arm softdirty untracked hugetlb writewatch watch}

. "$HERE/apt.sh"

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "run.sh: $*"; exit 99; }

# ---- the host: qemu, toolchains, Debian's packages ------------------------
HOST_PKGS=(qemu-system-x86 qemu-system-arm busybox-static cpio gcc make pkg-config jq
	libjson-c-dev libcap-dev libcmocka-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross)

host_setup() {
	local p missing=()
	for p in "${HOST_PKGS[@]}"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (run as root to install them): ${missing[*]}"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${missing[@]}" >"$OUT/apt-install.log" 2>&1 ||
		{ apt-get update -q >>"$OUT/apt-install.log" 2>&1 &&
		  apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$OUT/apt-install.log" 2>&1; } ||
		die "apt-get install failed, see $OUT/apt-install.log"
}

# ---- a Debian userland for the guest, per architecture ---------------------
# From bookworm (the release the tree is built on): libraries the built
# tree links, bash and the tools the tests run; busybox for everything else.
GUEST_PKGS=(libc6 libc-bin libgcc-s1 bash libtinfo6 busybox-static coreutils libacl1 libattr1
	libgmp10 libselinux1 libpcre2-8-0 grep sed mawk diffutils findutils jq libjq1 libonig5
	libjson-c5 libcap2 libcmocka0)

# debs_of ARCH PKG...: the bookworm versions of the packages, downloaded in
# one apt-get call the first time; prints their paths.
debs_of() {
	local arch=$1 name ver f want=() paths=()
	shift
	while read -r name ver; do
		f=$KCACHE/debs/${name%:*}_${ver//:/%3a}_$arch.deb
		paths+=("$f")
		[ -s "$f" ] || want+=("$name=$ver")
	done < <(kcache madison "${@/%/:$arch}" 2>/dev/null |
		awk -F' *[|] *' '$3 ~ /bookworm\/main/ && !seen[$1]++ { sub(/^ +/, "", $1); print $1, $2 }')
	[ ${#paths[@]} -eq $# ] || { log "not all of $* found in bookworm for $arch"; return 1; }
	if [ ${#want[@]} -gt 0 ]; then
		(cd "$KCACHE/debs" && kapt download "${want[@]}" >/dev/null) || return 1
	fi
	for f in "${paths[@]}"; do
		[ -s "$f" ] || { log "download failed: $f"; return 1; }
		echo "$f"
	done
}

rootfs_setup() {
	local arch=$1 dir=$KCACHE/rootfs-$1 p f a debs
	[ -e "$dir/.done" ] && return 0
	log "unpacking a bookworm $arch userland"
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	debs=$(debs_of "$arch" "${GUEST_PKGS[@]}") || return 1
	for f in $debs; do
		dpkg-deb -x "$f" "$dir" || return 1
	done
	# Merge /bin, /sbin and /lib into /usr as on an installed system: the
	# built tree's libtool wrappers name /usr/bin/sed and the like.
	for p in bin sbin lib lib64; do
		[ -d "$dir/$p" ] && [ ! -L "$dir/$p" ] || continue
		mkdir -p "$dir/usr/$p" && cp -a "$dir/$p/." "$dir/usr/$p/" && rm -rf "${dir:?}/$p" || return 1
	done
	for p in bin sbin lib lib64; do
		[ -e "$dir/$p" ] || { mkdir -p "$dir/usr/$p" && ln -s "usr/$p" "$dir/$p"; } || return 1
	done
	# Busybox applets where Debian's tools are absent (mount, poweroff, ...).
	for a in $(busybox --list-full); do
		[ -e "$dir/$a" ] || [ -L "$dir/$a" ] || { mkdir -p "$dir/${a%/*}" && ln -s /bin/busybox "$dir/$a"; }
	done
	mkdir -p "$dir"/{proc,sys,dev,tmp,run,km} && touch "$dir/.done"
}

# The arm64 libraries and headers to cross-build against, from bookworm.
sysroot_setup() {
	local dir=$KCACHE/sysroot-arm64 f debs
	[ -e "$dir/.done" ] && return 0
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	debs=$(debs_of arm64 libjson-c-dev libjson-c5 libcap-dev libcap2 libcmocka-dev libcmocka0) || return 1
	for f in $debs; do
		dpkg-deb -x "$f" "$dir" || return 1
	done
	touch "$dir/.done"
}

# The test programs the guest runs (besides pmscan).
GUEST_PROGRAMS=(tests/helpers/target tests/helpers/rawscan tests/helpers/pagemap tests/lib/test-writewatch tests/lib/test-tracker tests/lib/test-stats)

arm64_build() {
	local sr=$KCACHE/sysroot-arm64
	sysroot_setup || die "arm64 sysroot"
	mkdir -p "$ARMBUILD" || return 1
	log "cross-building the tree for arm64 in $ARMBUILD"
	(
		cd "$ARMBUILD" || exit 1
		export PKG_CONFIG_SYSROOT_DIR=$sr PKG_CONFIG_PATH=
		export PKG_CONFIG_LIBDIR=$sr/usr/lib/aarch64-linux-gnu/pkgconfig:$sr/usr/share/pkgconfig
		if [ ! -e Makefile ]; then
			"$SRCDIR/configure" -q --host=aarch64-linux-gnu \
				LDFLAGS="-L$sr/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,$sr/usr/lib/aarch64-linux-gnu" ||
				exit 1
		fi
		make -j2 >build.log 2>&1 && make -j2 "${GUEST_PROGRAMS[@]}" >>build.log 2>&1
	) || { tail -n 30 "$ARMBUILD/build.log" >&2; return 1; }
}

x86_build() {
	log "building the x86_64 tree and its test programs in $BUILDDIR"
	make -C "$BUILDDIR" -j2 >"$OUT/build.log" 2>&1 &&
		make -C "$BUILDDIR" -j2 "${GUEST_PROGRAMS[@]}" >>"$OUT/build.log" 2>&1 ||
		{ tail -n 30 "$OUT/build.log" >&2; return 1; }
}

# ---- the initramfs ---------------------------------------------------------
# initramfs ARCH TREE FILE: the userland, /init, the source's tests/ and the
# built TREE at their absolute paths.
initramfs() {
	local arch=$1 tree=$2 img=$3 stage=$OUT/stage-$1 groups port
	if [ "$arch" = arm64 ]; then groups=$GROUPS_ARM port=/dev/hvc0; else groups=$GROUPS_X86 port=/dev/ttyS1; fi
	rm -rf "$stage" && mkdir -p "$stage/km" "$stage$tree" "$stage$SRCDIR" || return 1
	install -m 755 "$HERE/guest-init.sh" "$stage/init"
	cat >"$stage/km/env" <<-EOF
	KM_PORT=$port
	KM_GROUPS="$groups"
	export PMSCAN=$tree/src/cli/pmscan HELPERS=$tree/tests/helpers BUILDDIR=$tree
	export TESTS_SRCDIR=$SRCDIR/tests TOP_SRCDIR=$SRCDIR CMOCKA_MESSAGE_OUTPUT=TAP
	EOF
	cp -a "$SRCDIR/tests" "$stage$SRCDIR/" &&
		(cd "$tree" && find . -path ./tests/kernels/stage-\* -prune -o -path ./tests/kernels/\*.cpio -prune -o \
			-path ./.git -prune -o -print | cpio -pdm --quiet "$stage$tree") || return 1
	(cd "$KCACHE/rootfs-$arch" && find . ! -name .done | cpio -o -H newc --quiet) >"$img" &&
		(cd "$stage" && find . | cpio -o -H newc --quiet) >>"$img"
}

# ---- booting -----------------------------------------------------------------
# boot ARCH KDIR IMG LOG RESULTS: one boot, bounded.
boot() {
	local arch=$1 kdir=$2 img=$3 console=$4 results=$5 vmlinuz
	# boot/vmlinuz-VERSION; 7.x packages put it in lib/modules/VERSION/vmlinuz.
	vmlinuz=$(find "$kdir" \( -path '*/boot/vmlinuz-*' -o -path '*/modules/*/vmlinuz' \) -print | head -n 1)
	[ -n "$vmlinuz" ] || { log "no vmlinuz in $kdir"; return 1; }
	: >"$results"
	if [ "$arch" = arm64 ]; then
		timeout -k 10 900 qemu-system-aarch64 -M virt -accel tcg -cpu cortex-a57 -smp 2 -m 2048 \
			-nodefaults -display none -no-reboot -kernel "$vmlinuz" -initrd "$img" \
			-append "console=ttyAMA0 panic=-1 quiet hugepages=16" \
			-serial "file:$console" -device virtio-serial-pci \
			-chardev "file,id=res,path=$results" -device virtconsole,chardev=res
	else
		timeout -k 10 600 qemu-system-x86_64 -accel "$ACCEL" -cpu max -smp 2 -m 2048 \
			-nodefaults -display none -no-reboot -kernel "$vmlinuz" -initrd "$img" \
			-append "console=ttyS0 panic=-1 quiet mitigations=off hugepages=16" \
			-serial "file:$console" -serial "file:$results"
	fi
}

# ---- results -------------------------------------------------------------
PASSED=0
FAILED=0
FAILURES=()

# summarize NAME RESULTS: one line for the kernel; counts into the totals.
summarize() {
	local name=$1 res=$2 line kver g p s f rc planned points
	local -a cells=()
	kver=$(tr -d '\r' <"$res" | sed -n 's/^@@kernel //p' | head -n 1)
	if [ -z "$kver" ]; then
		printf '%-19s %s\n' "$name" "did not boot (see $OUT/$name.console)"
		FAILED=$((FAILED + 1))
		FAILURES+=("$name: did not boot")
		return
	fi
	g=
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"@@group "*) g=${line#@@group }; p=0 s=0 f=0 planned='' points=0 ;;
		"@@end "*)
			rc=$(echo "$line" | awk '{print $3}')
			if [ "$rc" = 77 ]; then
				s=$((s + 1))
			elif [ "$rc" != 0 ] || { [ -n "$planned" ] && [ "$planned" != "$points" ]; }; then
				f=$((f + 1))
				FAILURES+=("$kver $g: exit $rc, ${points} of ${planned:-?} planned tests ran")
			fi
			cells+=("$g $p/$s/$f")
			PASSED=$((PASSED + p))
			FAILED=$((FAILED + f))
			g= ;;
		*)
			[ -n "$g" ] || continue
			case $line in
			"1..0 # SKIP"* | "1..0 #SKIP"*) s=$((s + 1)); planned=0 ;;
			1..*) planned=${line#1..}; planned=${planned%% *} ;;
			"ok "*"# SKIP"* | "ok "*"# skip"*) s=$((s + 1)); points=$((points + 1)) ;;
			"ok "*) p=$((p + 1)); points=$((points + 1)) ;;
			"not ok "*) f=$((f + 1)); points=$((points + 1)); FAILURES+=("$kver $g: ${line#not ok }") ;;
			"Bail out!"*) f=$((f + 1)); FAILURES+=("$kver $g: $line") ;;
			esac ;;
		esac
	done <"$res"
	if [ -n "$g" ]; then
		cells+=("$g $p/$s/$((f + 1))")
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f + 1))
		FAILURES+=("$kver $g: did not finish (timeout or crash)")
	fi
	if ! tr -d '\r' <"$res" | grep -q '^@@done'; then
		FAILED=$((FAILED + 1))
		FAILURES+=("$kver: the guest did not finish its run")
	fi
	printf '%-19s %-24s' "$name" "$kver"
	printf ' %s' "${cells[@]}"
	printf '\n'
}

# ---- main ------------------------------------------------------------------
T0=$(date +%s)
mkdir -p "$OUT" || exit 99
host_setup
kapt_setup && kapt_update || die "private apt update failed"
x86_build || die "build failed"
need_arm=
for k in "${KERNELS[@]}"; do [ "$k" = arm64 ] && need_arm=1; done
rootfs_setup amd64 || die "amd64 userland"
if [ -n "$need_arm" ]; then
	rootfs_setup arm64 && arm64_build || die "arm64 tree"
fi
initramfs amd64 "$BUILDDIR" "$OUT/initramfs-amd64.cpio" || die "initramfs amd64"
[ -z "$need_arm" ] || initramfs arm64 "$ARMBUILD" "$OUT/initramfs-arm64.cpio" || die "initramfs arm64"

printf '%-19s %-24s %s\n' suite kernel "group pass/skip/fail ..."
for k in "${KERNELS[@]}"; do
	case $k in
	arm64) suite=trixie arch=arm64 ;;
	bookworm | bookworm-backports | trixie | sid | experimental) suite=$k arch=amd64 ;;
	*) die "unknown kernel '$k'" ;;
	esac
	kdir=$(kernel_fetch "$suite" "$arch") || { FAILED=$((FAILED + 1)); FAILURES+=("$k: kernel download failed"); continue; }
	for try in 1 2; do
		t=$(date +%s)
		boot "$arch" "$kdir" "$OUT/initramfs-$arch.cpio" "$OUT/$k.console" "$OUT/$k.results"
		log "$k: boot $try took $(($(date +%s) - t)) s"
		tr -d '\r' <"$OUT/$k.results" | grep -q '^@@kernel' && break
		log "$k: the guest did not start its tests (console: $OUT/$k.console)"
	done
	summarize "$k" "$OUT/$k.results"
done
for f in "${FAILURES[@]}"; do echo "FAIL: $f"; done
log "matrix wall time $(($(date +%s) - T0)) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# A private apt configuration for the kernel matrix: Debian's suites from the
# same mirror as the machine's sources, its own state and cache under
# $KCACHE, so the system's sources and package lists are never touched.
# Sourced by run.sh; defines kapt (apt-get) and kcache (apt-cache).

KCACHE=${PMSCAN_KERNEL_CACHE:-/var/cache/pmscan-kernels}

# The mirror the machine already uses (first deb.debian.org-like URI).
kapt_mirror() {
	local m
	m=$(grep -rhoE '(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		grep -v security | head -n 1 | awk '{print $2}')
	echo "${m:-http://deb.debian.org/debian}"
}

kapt_setup() {
	local mirror
	mirror=$(kapt_mirror)
	mkdir -p "$KCACHE/apt/lists/partial" "$KCACHE/apt/archives/partial" \
		"$KCACHE/apt/etc/preferences.d" "$KCACHE/debs" || return 1
	: >>"$KCACHE/apt/status"
	cat >"$KCACHE/apt/sources.list.new" <<EOS
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror experimental main
EOS
	cmp -s "$KCACHE/apt/sources.list.new" "$KCACHE/apt/sources.list" &&
		rm -f "$KCACHE/apt/sources.list.new" ||
		mv "$KCACHE/apt/sources.list.new" "$KCACHE/apt/sources.list"
	KAPT_OPTS=(
		-o "Dir::Etc::sourcelist=$KCACHE/apt/sources.list"
		-o "Dir::Etc::sourceparts=-"
		-o "Dir::Etc::preferencesparts=$KCACHE/apt/etc/preferences.d"
		-o "Dir::State=$KCACHE/apt"
		-o "Dir::State::lists=$KCACHE/apt/lists"
		-o "Dir::State::status=$KCACHE/apt/status"
		-o "Dir::Cache=$KCACHE/apt"
		-o "Dir::Cache::archives=$KCACHE/apt/archives"
		-o "Dir::Cache::pkgcache=$KCACHE/apt/pkgcache.bin"
		-o "Dir::Cache::srcpkgcache=$KCACHE/apt/srcpkgcache.bin"
		-o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
		-o "Acquire::Languages=none"
		-o "Debug::NoLocking=1"
		-o "APT::Sandbox::User=root"
	)
}

kapt() { apt-get -q "${KAPT_OPTS[@]}" "$@"; }
kcache() { apt-cache "${KAPT_OPTS[@]}" "$@"; }

# kapt_update: refresh the private lists at most once a day.
kapt_update() {
	local stamp=$KCACHE/apt/updated
	if [ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		return 0
	fi
	kapt update >"$KCACHE/apt/update.log" 2>&1 || { cat "$KCACHE/apt/update.log" >&2; return 1; }
	touch "$stamp"
}

# kapt_get PKG[:ARCH][=VERSION]: the .deb in $KCACHE/debs (downloaded once);
# prints its path.
kapt_get() {
	local spec=$1 name arch ver f
	name=${spec%%[:=]*}
	arch=amd64
	case $spec in *:arm64*) arch=arm64 ;; esac
	ver=${spec#*=}
	[ "$ver" = "$spec" ] && ver=$(kcache policy "$name:$arch" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "no package $spec" >&2; return 1; }
	f=$KCACHE/debs/${name}_${ver//:/%3a}_$arch.deb
	if [ ! -s "$f" ]; then
		(cd "$KCACHE/debs" && kapt download "$name:$arch=$ver" >/dev/null) || return 1
	fi
	[ -s "$f" ] || { echo "download of $spec failed" >&2; return 1; }
	echo "$f"
}

# kernel_fetch SUITE ARCH: unpack Debian's newest generic kernel of SUITE
# (through its linux-image-ARCH meta package) under $KCACHE/kernels/ once;
# prints that directory (boot/vmlinuz-*, boot/config-*, lib/modules/*).
kernel_fetch() {
	local suite=$1 arch=$2 img ver dir p debs=() f
	read -r img ver < <(kcache show "linux-image-$arch/$suite" 2>/dev/null |
		sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[^ ]*\) (= \([^)]*\)).*/\1 \2/p' | head -n 1)
	[ -n "${img:-}" ] || { echo "no linux-image-$arch in $suite" >&2; return 1; }
	dir=$KCACHE/kernels/${img#linux-image-}_${ver//[:~]/_}
	if [ -e "$dir/.unpacked" ]; then
		echo "$dir"
		return 0
	fi
	if kcache show "$img-unsigned:$arch=$ver" >/dev/null 2>&1; then
		debs=("$img-unsigned:$arch=$ver")
	else
		# 7.x split the image into linux-binary-* (vmlinuz) and linux-modules-*.
		for p in $(kcache show "$img:$arch=$ver" | sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
			sed -n 's/^ *\(linux-\(binary\|modules\)-[^ ]*\) (= .*/\1/p'); do
			debs+=("$p:$arch=$ver")
		done
		[ ${#debs[@]} -gt 0 ] || debs=("$img:$arch=$ver")
	fi
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" || return 1
	for p in "${debs[@]}"; do
		f=$(kapt_get "$p") || return 1
		dpkg-deb -x "$f" "$dir.tmp" || return 1
	done
	# The guests load no module: keep vmlinuz and config, not 400 MB of drivers.
	find "$dir.tmp" -depth -path '*/lib/modules/*/kernel' -exec rm -rf {} + || return 1
	rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.unpacked" && echo "$dir"
}

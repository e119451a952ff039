#!/usr/bin/env bash
# Build (or reuse) a Debian bookworm guest image that boots Debian's own 6.1
# kernel under QEMU, for testing the kprobe and fentry backends.
#
#   tests/vm/build-image.sh WORKDIR
#
# Produces WORKDIR/rootfs.img (ext4), WORKDIR/vmlinuz (+ vmlinux, the same
# kernel uncompressed, which boots faster), WORKDIR/initrd.img and
# WORKDIR/image.stamp; step logs in WORKDIR/build-logs. Run as root.
# Idempotent: when the stamp (kernel, headers and libbpfcc versions, packages,
# mirror, hash of these scripts) matches, the image is reused (~3 s) and
# nothing is downloaded. See tests/vm/README.md.
#
# Environment:
#   VM_EXTRA_PACKAGES  extra guest packages, space separated (e.g. "libcmocka0")
#   VM_MIRROR          Debian mirror for debootstrap (default: the host's apt one)
#   VM_KEEP_BUILD=1    keep WORKDIR/build (the unpacked rootfs) for inspection
#   VM_FORCE=1         rebuild even when the stamp matches
set -euo pipefail

# Messages go to the original stderr, also from traps that fire while a
# command's output is redirected to a log file.
exec {ERR}>&2
log() { printf 'build-image: %s\n' "$*" >&"$ERR"; }
die() { printf 'build-image: error: %s\n' "$*" >&"$ERR"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=bookworm
T0=$SECONDS

mkdir -p "$1"
WORKDIR=$(cd "$1" && pwd)

# One build at a time per WORKDIR; a second caller waits, then finds the stamp.
exec 9>"$WORKDIR/.build.lock"
flock 9

export DEBIAN_FRONTEND=noninteractive
APT_Q=(-y -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 --no-install-recommends)

# Long commands run in the background and are waited for, so that a signal to
# this script is handled at once (bash runs traps only between commands); the
# exit trap then ends every process this script started.
bgrun() { "$@" & wait "$!"; }
children_of() { # PID: its child processes' ids (from /proc: procps may be absent)
	local f line ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		read -r _ ppid _ <<<"${line##*) }"
		[ "$ppid" != "$1" ] || { f=${f#/proc/}; echo "${f%/stat}"; }
	done
}
kill_tree() { # PID: the process and its descendants, by id
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(children_of "$1"); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null
	kill -CONT "$1" 2>/dev/null || true
}
kill_children() {
	local c
	for c in $(children_of $$); do kill_tree "$c"; done
	wait 2>/dev/null || true
}

# ---- host packages --------------------------------------------------------
host_pkgs=(qemu-system-x86 debootstrap e2fsprogs cpio gzip xz-utils debian-archive-keyring)
lists_fresh() {
	# apt lists younger than 6 hours count as fresh (a fresh machine has none)
	[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_InRelease' -mmin -360 2>/dev/null | head -n1)" ]
}
updated=0
apt_update() { log "apt-get update"; bgrun apt-get update -qq -o DPkg::Lock::Timeout=600 || die "apt-get update failed"; updated=1; }

missing=()
for p in "${host_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	lists_fresh || apt_update
	log "installing host packages: ${missing[*]}"
	bgrun apt-get install "${APT_Q[@]}" "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
lists_fresh || apt_update
T_HOSTPKG=$((SECONDS - T0))

# ---- resolve versions -----------------------------------------------------
# (apt-cache is called as few times as possible: with the package cache
# disabled, as in Debian's docker images, each call re-reads all the lists)
candidate() { # PKG <policy output>
	awk -v p="$1:" '$1 == p {f = 1; next} f && /Candidate:/ {print $2; exit}' <<<"$2"
}

resolve() {
	local pol
	KIMG=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$KIMG" ] || return 1
	KVER=${KIMG#linux-image-}
	KHDR=linux-headers-$KVER
	KCOMMON=linux-headers-${KVER%-amd64}-common
	pol=$(apt-cache policy "$KIMG" "$KHDR" "$KCOMMON" libbpfcc 2>/dev/null)
	KIMG_V=$(candidate "$KIMG" "$pol")
	KHDR_V=$(candidate "$KHDR" "$pol")
	KCOMMON_V=$(candidate "$KCOMMON" "$pol")
	# libbpfcc pinned to what the host has (the bccflow binary is linked to it)
	BCC_V=$(dpkg-query -W -f='${Version}' libbpfcc 2>/dev/null || true)
	[ -n "$BCC_V" ] || BCC_V=$(candidate libbpfcc "$pol")
	local v
	for v in "$KIMG_V" "$KHDR_V" "$KCOMMON_V" "$BCC_V"; do
		[ -n "$v" ] && [ "$v" != "(none)" ] || return 1
	done
}
if ! resolve; then
	[ "$updated" = 1 ] || { apt_update; resolve; } ||
		die "cannot resolve the kernel/headers/libbpfcc versions from the host's apt lists"
fi
[ "$KIMG_V" = "$KHDR_V" ] || die "$KIMG ($KIMG_V) and $KHDR ($KHDR_V) versions differ"

# Mirror: the one the host's apt uses for $SUITE (deb822 or one-line format).
host_mirror() {
	local f
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		awk -v s="$SUITE" '
			/^[ \t]*$/ { if (uri != "" && suite) { print uri; exit } uri=""; suite=0; next }
			/^URIs:/   { uri=$2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) suite=1 }
			END        { if (uri != "" && suite) print uri }' /etc/apt/sources.list.d/debian.sources | head -n1
		return
	fi
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i+1) == s) { print $i; exit } }' "$f"
	done | head -n1
}
MIRROR=${VM_MIRROR:-$(host_mirror)}
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

EXTRA=${VM_EXTRA_PACKAGES:-}
GUEST_PKGS=("libbpfcc=$BCC_V" libbpf1 libmicrohttpd12 iproute2 kmod procps busybox-static bpftool)
# shellcheck disable=SC2206
[ -z "$EXTRA" ] || GUEST_PKGS+=($EXTRA)

SCRIPTS_HASH=$(cat "$HERE/build-image.sh" "$HERE/guest-init.sh" "$HERE/initrd-init.sh" | sha256sum | cut -c1-16)
STAMP_TEXT="kernel=$KIMG=$KIMG_V
headers=$KHDR=$KHDR_V $KCOMMON=$KCOMMON_V
libbpfcc=$BCC_V
packages=${GUEST_PKGS[*]}
mirror=$MIRROR
scripts=$SCRIPTS_HASH"

if [ "${VM_FORCE:-0}" != 1 ] && [ -f "$WORKDIR/image.stamp" ] &&
   [ -f "$WORKDIR/rootfs.img" ] && [ -f "$WORKDIR/vmlinuz" ] && [ -f "$WORKDIR/initrd.img" ] &&
   [ "$(sed '/^kver=/d' "$WORKDIR/image.stamp")" = "$STAMP_TEXT" ]; then
	log "image up to date ($KIMG $KIMG_V, libbpfcc $BCC_V), reused in $((SECONDS - T0)) s"
	exit 0
fi

log "building: $KIMG $KIMG_V, $KHDR, libbpfcc $BCC_V, mirror $MIRROR"

# ---- rootfs ---------------------------------------------------------------
BUILD=$WORKDIR/build
LOGS=$WORKDIR/build-logs   # kept: small
R=$BUILD/rootfs

umount_all() {
	local m
	# deepest first
	for m in $(awk -v r="$BUILD" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}
KSTAGE_PID=
cleanup() {
	local rc=$?
	kill_children
	[ "$rc" -eq 0 ] || log "FAILED (exit $rc) after $((SECONDS - T0)) s; logs in $LOGS"
	umount_all
	[ "${VM_KEEP_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
	rm -f "$WORKDIR"/{rootfs.img,initrd.img,vmlinuz,vmlinux}.tmp
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umount_all
rm -rf "$BUILD" "$LOGS"
mkdir -p "$BUILD" "$LOGS"
# Build in a tmpfs when there is memory to spare (peak ~1.3 GB): the tree is
# ~25,000 files that are written once, read once by mke2fs and thrown away.
avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
if [ "${VM_KEEP_BUILD:-0}" != 1 ] && [ "${avail_mb:-0}" -ge 6144 ]; then
	mount -t tmpfs -o size=4g,mode=755 vmbuild "$BUILD"
fi
mkdir -p "$R/etc/dpkg/dpkg.cfg.d"

# dpkg inside the chroot: no fsync, no docs/man/locales
cat >"$R/etc/dpkg/dpkg.cfg.d/90-vm" <<'EOF'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
EOF

# Kernel and headers: downloaded and unpacked (not installed, so that no
# initramfs generator, linux-kbuild or gcc gets pulled in: BCC needs only the
# headers tree) into $K, in the background while debootstrap runs.
K=$BUILD/kernel
kernel_stage() {
	set -e
	mkdir -p "$BUILD/debs" "$K"
	cd "$BUILD/debs"
	apt-get download -q "$KIMG=$KIMG_V" "$KHDR=$KHDR_V" "$KCOMMON=$KCOMMON_V"
	for deb in "$BUILD"/debs/*.deb; do
		dpkg-deb --fsys-tarfile "$deb" | tar -C "$K" -x --exclude='./usr/share/*'
	done
	cd "$BUILD"
	rm -rf "$BUILD/debs"
	# modules no guest of ours loads: hardware drivers and sound
	local M=$K/lib/modules/$KVER/kernel d
	for d in "$M"/drivers/*; do
		case ${d##*/} in virtio|block|net|char|md|nvdimm) ;; *) rm -rf "$d" ;; esac
	done
	for d in "$M"/drivers/net/*/; do
		case $(basename "$d") in team|bonding|ipvlan|vxlan|netdevsim) ;; *) rm -rf "$d" ;; esac
	done
	rm -rf "$M/sound" "$M/lib/test_bpf.ko"
}
log "downloading and unpacking $KIMG $KHDR $KCOMMON ($KIMG_V) in the background"
kernel_stage >"$LOGS/kernel.log" 2>&1 &
KSTAGE_PID=$!

T1=$SECONDS
log "debootstrap --variant=minbase $SUITE"
bgrun debootstrap --variant=minbase --arch=amd64 --components=main "$SUITE" "$R" "$MIRROR" \
	>"$LOGS/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$LOGS/debootstrap.log" >&2; die "debootstrap failed (log: $LOGS/debootstrap.log)"; }
T_DEBOOTSTRAP=$((SECONDS - T1))

# apt inside the chroot: same sources, configuration and (fresh) lists as the host
T1=$SECONDS
rm -f "$R/etc/apt/sources.list"
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$R/etc/apt/sources.list.d/"
elif [ -r /etc/apt/sources.list ]; then
	grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list >"$R/etc/apt/sources.list" || true
fi
[ -s "$R/etc/apt/sources.list" ] || [ -e "$R/etc/apt/sources.list.d/debian.sources" ] ||
	echo "deb $MIRROR $SUITE main" >"$R/etc/apt/sources.list"
for d in apt.conf.d auth.conf.d; do
	[ -d "/etc/apt/$d" ] && cp -a "/etc/apt/$d/." "$R/etc/apt/$d/" 2>/dev/null || true
done
cp -a /var/lib/apt/lists/*_dists_* "$R/var/lib/apt/lists/" 2>/dev/null || true
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc"

in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
if [ -z "$(in_root apt-cache policy libbpfcc | awk '/Candidate:/ && $2 != "(none)"')" ]; then
	log "the host's apt lists do not fit the chroot; apt-get update in the chroot"
	in_root apt-get update -qq || die "apt-get update in the chroot failed"
fi
log "apt-get install in the guest: ${GUEST_PKGS[*]}"
bgrun in_root apt-get install "${APT_Q[@]}" "${GUEST_PKGS[@]}" >"$LOGS/apt.log" 2>&1 ||
	{ tail -n 30 "$LOGS/apt.log" >&2; die "apt-get install in the guest rootfs failed (log: $LOGS/apt.log)"; }
T_APT=$((SECONDS - T1))

# Kernel and headers (staged in the background, see kernel_stage): moved in.
T1=$SECONDS
wait "$KSTAGE_PID" || { tail -n 20 "$LOGS/kernel.log" >&2; die "staging the kernel packages failed (log: $LOGS/kernel.log)"; }
KSTAGE_PID=
mkdir -p "$R/usr/lib/modules" "$R/usr/src" "$R/boot"
mv "$K/lib/modules/$KVER" "$R/usr/lib/modules/"
mv "$K"/usr/src/* "$R/usr/src/"
mv "$K"/boot/* "$R/boot/"
rm -rf "$K"
[ -f "$R/boot/vmlinuz-$KVER" ] || die "no /boot/vmlinuz-$KVER in $KIMG"
# Debian splits the headers: build/ (generated, .config) and source/ (-common,
# where include/linux/kconfig.h lives); BCC uses both.
[ -e "$R/lib/modules/$KVER/build/include/generated/autoconf.h" ] &&
[ -e "$R/lib/modules/$KVER/source/include/linux/kconfig.h" ] ||
	die "kernel headers incomplete in /lib/modules/$KVER/{build,source} after unpacking $KHDR $KCOMMON"
in_root depmod -a "$KVER" || die "depmod failed"
T_KERNEL=$((SECONDS - T1))

# ---- guest init and cleanup -------------------------------------------------
install -m 755 "$HERE/guest-init.sh" "$R/sbin/vm-init"
mkdir -p "$R/payload"
echo vm >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"
in_root apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/debconf/*-old \
	"$R"/var/log/* "$R/usr/sbin/policy-rc.d" "$R/etc/apt/apt.conf.d"/* "$R/etc/apt/auth.conf.d"/* \
	"$R/usr/share/doc" "$R/usr/share/man" "$R/usr/share/info" "$R/usr/share/locale"
umount "$R/proc"

# ---- initrd: busybox + the modules needed to mount the root disk ---------
T1=$SECONDS
I=$BUILD/initrd
mkdir -p "$I/bin" "$I/proc" "$I/sys" "$I/dev" "$I/newroot" "$I/lib/modules"
cp "$R/bin/busybox" "$I/bin/busybox"
for a in sh mount umount mkdir insmod switch_root sleep cat echo ls; do ln -s busybox "$I/bin/$a"; done
install -m 755 "$HERE/initrd-init.sh" "$I/init"
: >"$I/modules"
# (9p too, so that the guest's init needs no modprobe; crc32c-intel needs
# SSE4.2, which -cpu qemu64 lacks: crc32c_generic does the work)
for mod in virtio_pci virtio_blk ext4 9pnet_virtio 9p; do
	chroot "$R" modprobe -S "$KVER" --show-depends "$mod" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++ && !/crc32c-intel/' | while read -r ko; do
	cp "$R$ko" "$I/lib/modules/"
	echo "${ko##*/}" >>"$I/modules"
done
[ -s "$I/modules" ] || die "found no modules for the initrd"
( cd "$I" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 ) >"$WORKDIR/initrd.img.tmp"

# ---- outputs --------------------------------------------------------------
cp "$R/boot/vmlinuz-$KVER" "$WORKDIR/vmlinuz.tmp"
# The uncompressed ELF kernel boots through its PVH entry: this skips ~5 s of
# XZ decompression under TCG on every boot. run-guest.sh prefers it.
off=$(LC_ALL=C grep -aobUP '\xfd7zXZ\x00' "$WORKDIR/vmlinuz.tmp" | head -n1 | cut -d: -f1)
rm -f "$WORKDIR/vmlinux.tmp"
if [ -n "$off" ] && grep -q '^CONFIG_PVH=y' "$R/boot/config-$KVER" &&
   { tail -c +$((off + 1)) "$WORKDIR/vmlinuz.tmp" 2>/dev/null || true; } |
	xz -dc --single-stream >"$WORKDIR/vmlinux.tmp" 2>/dev/null &&
   [ "$(head -c 4 "$WORKDIR/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
	:
else
	log "no PVH-bootable vmlinux could be extracted; guests boot the compressed vmlinuz"
	rm -f "$WORKDIR/vmlinux.tmp" "$WORKDIR/vmlinux"
fi
rm -f "$R/boot/vmlinuz-$KVER" "$R/boot/System.map-$KVER"
mb=$(du -sm "$R" | cut -f1)
size=$(( (mb * 12 / 10 + 512 + 63) / 64 * 64 ))
log "rootfs ${mb} MB, image ${size} MB (sparse)"
bgrun mke2fs -q -F -t ext4 -O ^has_journal -L vmroot -d "$R" "$WORKDIR/rootfs.img.tmp" "${size}M" \
	>"$LOGS/mke2fs.log" 2>&1 || { cat "$LOGS/mke2fs.log" >&2; die "mke2fs failed"; }
T_IMAGE=$((SECONDS - T1))

rm -f "$WORKDIR/image.stamp"
mv -f "$WORKDIR/rootfs.img.tmp" "$WORKDIR/rootfs.img"
mv -f "$WORKDIR/initrd.img.tmp" "$WORKDIR/initrd.img"
mv -f "$WORKDIR/vmlinuz.tmp" "$WORKDIR/vmlinuz"
[ ! -f "$WORKDIR/vmlinux.tmp" ] || mv -f "$WORKDIR/vmlinux.tmp" "$WORKDIR/vmlinux"
printf '%s\nkver=%s\n' "$STAMP_TEXT" "$KVER" >"$WORKDIR/image.stamp"
log "done in $((SECONDS - T0)) s (host packages ${T_HOSTPKG} s, debootstrap ${T_DEBOOTSTRAP} s," \
	"guest apt ${T_APT} s, kernel ${T_KERNEL} s, initrd+mke2fs ${T_IMAGE} s); guest kernel $KVER"

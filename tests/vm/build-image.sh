#!/usr/bin/env bash
# Build (or reuse) a Debian guest image that boots Debian's own kernel under
# QEMU, for testing the kprobe and fentry backends: bookworm (Debian 12, 6.1,
# the default) or trixie (Debian 13, 6.12).
#
#   tests/vm/build-image.sh WORKDIR [SUITE]      (SUITE: bookworm | trixie)
#
# Produces WORKDIR/rootfs.img (ext4), WORKDIR/vmlinuz (+ vmlinux, the same
# kernel uncompressed, which boots faster), WORKDIR/initrd.img and
# WORKDIR/image.stamp; step logs in WORKDIR/build-logs. Run as root.
# Idempotent: when the stamp (kernel, headers and libbpfcc versions, packages,
# mirror, hash of these scripts) matches, the image is reused (~3 s) and
# nothing is downloaded. See tests/vm/README.md.
#
# Versions come from the host's apt lists when the host's sources carry SUITE
# (bookworm here; libbpfcc is then pinned to the host's installed version),
# else from SUITE's own lists, fetched into WORKDIR/apt (refreshed when older
# than 6 hours; libbpfcc is then SUITE's candidate or VM_LIBBPFCC_VERSION).
#
# Environment:
#   VM_SUITE           SUITE when the argument is not given (default bookworm)
#   VM_LIBBPFCC_VERSION  pin libbpfcc (default: see above)
#   VM_EXTRA_PACKAGES  extra guest packages, space separated (e.g. "libcmocka0")
#   VM_MIRROR          Debian mirror (default: the host's apt one for SUITE, else
#                      http://deb.debian.org/debian)
#   VM_SECURITY_MIRROR security mirror when SUITE's lists are fetched
#                      (default http://deb.debian.org/debian-security)
#   VM_KEEP_BUILD=1    keep WORKDIR/build (the unpacked rootfs) for inspection
#   VM_FORCE=1         rebuild even when the stamp matches
set -euo pipefail

# Messages go to the original stderr, also from traps that fire while a
# command's output is redirected to a log file.
exec {ERR}>&2
log() { printf 'build-image: %s\n' "$*" >&"$ERR"; }
die() { printf 'build-image: error: %s\n' "$*" >&"$ERR"; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 WORKDIR [SUITE]"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=${2:-${VM_SUITE:-bookworm}}
# per suite: runtime packages whose names differ (the bccflow binary needs them)
case $SUITE in
bookworm) SUITE_PKGS=(libmicrohttpd12) ;;
trixie) SUITE_PKGS=(libmicrohttpd12t64) ;;
*) die "unsupported SUITE '$SUITE' (bookworm or trixie)" ;;
esac
T0=$SECONDS

mkdir -p "$1"
WORKDIR=$(cd "$1" && pwd)

# One build at a time per WORKDIR; a second caller waits, then finds the stamp.
exec 9>"$WORKDIR/.build.lock"
flock 9

export DEBIAN_FRONTEND=noninteractive
APT_Q=(-y -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 --no-install-recommends)

# bgrun, children_of, kill_tree, kill_children: signals handled at once, and
# the exit trap ends every process this script started
. "$HERE/../lib/proctree.sh"

# ---- host packages --------------------------------------------------------
host_pkgs=(qemu-system-x86 debootstrap e2fsprogs cpio gzip xz-utils zstd debian-archive-keyring)
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
T_HOSTPKG=$((SECONDS - T0))

# ---- resolve versions -----------------------------------------------------
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
HOST_MIRROR=$(host_mirror)
MIRROR=${VM_MIRROR:-$HOST_MIRROR}
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

# When the host's sources do not carry $SUITE, apt runs with SUITE's own
# sources and lists in $WORKDIR/apt (APTO: the options that say so).
APTO=()
APTDIR=
if [ -z "$HOST_MIRROR" ]; then
	APTDIR=$WORKDIR/apt
	SECURITY=${VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/none"
	: >"$APTDIR/status"
	kr=/usr/share/keyrings/debian-archive-keyring.gpg
	printf 'deb [signed-by=%s] %s %s main\n' "$kr" "$MIRROR" "$SUITE" "$kr" "$MIRROR" "$SUITE-updates" \
		"$kr" "$SECURITY" "$SUITE-security" >"$APTDIR/sources.list.new"
	cmp -s "$APTDIR/sources.list.new" "$APTDIR/sources.list" ||
		{ mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"; rm -f "$APTDIR"/lists/*_* "$APTDIR/updated"; }
	rm -f "$APTDIR/sources.list.new"
	APTO=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o "Dir::Etc::SourceParts=$APTDIR/none"
		-o "Dir::Etc::Preferences=$APTDIR/none/x" -o "Dir::Etc::PreferencesParts=$APTDIR/none"
		-o "Dir::State::Lists=$APTDIR/lists" -o "Dir::State::status=$APTDIR/status"
		-o "Dir::Cache=$APTDIR/cache" -o APT::Architectures::=amd64 -o Acquire::Languages=none)
	# (apt may date the lists by the server's Last-Modified: a file of our own
	# records the last successful update)
	if [ -z "$(find "$APTDIR/updated" -mmin -360 2>/dev/null)" ]; then
		log "apt-get update for $SUITE (lists in $APTDIR)"
		if bgrun apt-get "${APTO[@]}" update -qq -o DPkg::Lock::Timeout=600; then
			touch "$APTDIR/updated"
		else
			[ -n "$(find "$APTDIR/lists" -maxdepth 1 -name '*_InRelease' 2>/dev/null | head -n1)" ] ||
				die "apt-get update of $SUITE's lists failed"
			log "warning: apt-get update of $SUITE's lists failed; going on with the old lists"
		fi
	fi
else
	lists_fresh || apt_update
fi

# (apt-cache is called as few times as possible: with the package cache
# disabled, as in Debian's docker images, each call re-reads all the lists)
candidate() { # PKG <policy output>
	awk -v p="$1:" '$1 == p {f = 1; next} f && /Candidate:/ {print $2; exit}' <<<"$2"
}

resolve() {
	local pol
	KIMG=$(apt-cache "${APTO[@]}" depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$KIMG" ] || return 1
	KVER=${KIMG#linux-image-}
	KHDR=linux-headers-$KVER
	KCOMMON=linux-headers-${KVER%-amd64}-common
	pol=$(apt-cache "${APTO[@]}" policy "$KIMG" "$KHDR" "$KCOMMON" libbpfcc 2>/dev/null)
	KIMG_V=$(candidate "$KIMG" "$pol")
	KHDR_V=$(candidate "$KHDR" "$pol")
	KCOMMON_V=$(candidate "$KCOMMON" "$pol")
	# libbpfcc pinned to what the host has (the bccflow binary is linked to it),
	# or for another suite than the host's, that suite's (the binary is built there)
	BCC_V=${VM_LIBBPFCC_VERSION:-}
	[ -n "$BCC_V" ] || [ -n "$APTDIR" ] || BCC_V=$(dpkg-query -W -f='${Version}' libbpfcc 2>/dev/null || true)
	[ -n "$BCC_V" ] || BCC_V=$(candidate libbpfcc "$pol")
	local v
	for v in "$KIMG_V" "$KHDR_V" "$KCOMMON_V" "$BCC_V"; do
		[ -n "$v" ] && [ "$v" != "(none)" ] || return 1
	done
}
if ! resolve; then
	if [ -n "$APTDIR" ]; then
		log "apt-get update for $SUITE (lists in $APTDIR)"
		bgrun apt-get "${APTO[@]}" update -qq -o DPkg::Lock::Timeout=600 && touch "$APTDIR/updated" &&
			resolve || die "cannot resolve the kernel/headers/libbpfcc versions from $SUITE's apt lists"
	else
		[ "$updated" = 1 ] || { apt_update; resolve; } ||
			die "cannot resolve the kernel/headers/libbpfcc versions from the host's apt lists"
	fi
fi
[ "$KIMG_V" = "$KHDR_V" ] || die "$KIMG ($KIMG_V) and $KHDR ($KHDR_V) versions differ"


EXTRA=${VM_EXTRA_PACKAGES:-}
# libyaml: --web-config; libgnutls, libcap and libcrypt come with the others
GUEST_PKGS=("libbpfcc=$BCC_V" libbpf1 "${SUITE_PKGS[@]}" libyaml-0-2 iproute2 kmod procps busybox-static bpftool)
# shellcheck disable=SC2206
[ -z "$EXTRA" ] || GUEST_PKGS+=($EXTRA)

SCRIPTS_HASH=$(cat "$HERE/build-image.sh" "$HERE/guest-init.sh" "$HERE/initrd-init.sh" | sha256sum | cut -c1-16)
STAMP_TEXT="suite=$SUITE
kernel=$KIMG=$KIMG_V
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
install -m 644 "$HERE/../lib/dpkg-minimal.cfg" "$R/etc/dpkg/dpkg.cfg.d/90-vm"

# Kernel and headers: downloaded and unpacked (not installed, so that no
# initramfs generator, linux-kbuild or gcc gets pulled in: BCC needs only the
# headers tree) into $K, in the background while debootstrap runs.
K=$BUILD/kernel
kernel_stage() {
	set -e
	mkdir -p "$BUILD/debs" "$K"
	cd "$BUILD/debs"
	apt-get "${APTO[@]}" download -q "$KIMG=$KIMG_V" "$KHDR=$KHDR_V" "$KCOMMON=$KCOMMON_V"
	for deb in "$BUILD"/debs/*.deb; do
		dpkg-deb --fsys-tarfile "$deb" | tar -C "$K" -x --exclude='./usr/share/*'
	done
	cd "$BUILD"
	rm -rf "$BUILD/debs"
	# modules no guest of ours loads: hardware drivers and sound
	# (bookworm's packages have them in /lib/modules, trixie's in /usr/lib/modules)
	[ ! -d "$K/usr/lib/modules/$KVER" ] || { mkdir -p "$K/lib/modules"; mv "$K/usr/lib/modules/$KVER" "$K/lib/modules/"; }
	local M=$K/lib/modules/$KVER/kernel d
	for d in "$M"/drivers/*; do
		case ${d##*/} in virtio|block|net|char|md|nvdimm) ;; *) rm -rf "$d" ;; esac
	done
	for d in "$M"/drivers/net/*/; do
		case $(basename "$d") in team|bonding|ipvlan|vxlan|netdevsim) ;; *) rm -rf "$d" ;; esac
	done
	rm -rf "$M/sound" "$M"/lib/test_bpf.ko*
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

# apt inside the chroot: same sources, configuration and (fresh) lists as the
# host, or $SUITE's own (APTDIR)
T1=$SECONDS
rm -f "$R/etc/apt/sources.list"
if [ -n "$APTDIR" ]; then
	cp "$APTDIR/sources.list" "$R/etc/apt/sources.list"
elif [ -r /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$R/etc/apt/sources.list.d/"
elif [ -r /etc/apt/sources.list ]; then
	grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list >"$R/etc/apt/sources.list" || true
fi
[ -s "$R/etc/apt/sources.list" ] || [ -e "$R/etc/apt/sources.list.d/debian.sources" ] ||
	echo "deb $MIRROR $SUITE main" >"$R/etc/apt/sources.list"
for d in apt.conf.d auth.conf.d; do
	[ -d "/etc/apt/$d" ] && cp -a "/etc/apt/$d/." "$R/etc/apt/$d/" 2>/dev/null || true
done
LISTS=/var/lib/apt/lists
[ -z "$APTDIR" ] || LISTS=$APTDIR/lists
cp -a "$LISTS"/*_dists_* "$R/var/lib/apt/lists/" 2>/dev/null || true
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
	# busybox insmod reads plain .ko files only: trixie's .ko.xz are unpacked
	base=${ko##*/}
	case $ko in
	*.ko.xz) base=${base%.xz}; xz -dc "$R$ko" >"$I/lib/modules/$base" ;;
	*.ko.zst) base=${base%.zst}; zstd -qdc "$R$ko" >"$I/lib/modules/$base" ;;
	*.ko.gz) base=${base%.gz}; gzip -dc "$R$ko" >"$I/lib/modules/$base" ;;
	*) cp "$R$ko" "$I/lib/modules/" ;;
	esac || die "cannot put $ko in the initrd"
	echo "$base" >>"$I/modules"
done
[ -s "$I/modules" ] || die "found no modules for the initrd"
( cd "$I" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 ) >"$WORKDIR/initrd.img.tmp"

# ---- outputs --------------------------------------------------------------
cp "$R/boot/vmlinuz-$KVER" "$WORKDIR/vmlinuz.tmp"
# The uncompressed ELF kernel boots through its PVH entry: this skips the
# decompression under TCG on every boot (~5 s for bookworm's XZ). run-guest.sh
# prefers it. The compressed payload's place is in the bzImage's setup header
# (payload_offset/payload_length, boot protocol 2.08+); its last 4 bytes are
# the uncompressed size. bookworm's kernel is XZ-compressed, trixie's zstd.
extract_vmlinux() { # BZIMAGE OUT
	local f=$1 u32 setup off len start magic dec
	u32() { od -An -tu4 -j "$1" -N4 "$f" | tr -d ' '; }
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$f" | tr -d ' ')
	[ "${setup:-0}" -ne 0 ] || setup=4
	off=$(u32 $((0x248))) len=$(u32 $((0x24c)))
	[ -n "$off" ] && [ -n "$len" ] && [ "$len" -gt 4 ] || return 1
	start=$(((setup + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N6 "$f" | tr -d ' \n')
	case $magic in
	fd377a585a00) dec=(xz -dc --single-stream) ;;
	28b52ffd*) dec=(zstd -qdc) ;;
	1f8b*) dec=(gzip -dc) ;;
	*) log "kernel payload of unknown compression (magic $magic)"; return 1 ;;
	esac
	# (zstd refuses trailing bytes: the size word is cut off)
	tail -c +$((start + 1)) "$f" | head -c $((len - 4)) | "${dec[@]}" >"$2" 2>/dev/null || true
	[ "$(head -c 4 "$2" | od -An -c | tr -d ' ')" = '177ELF' ] &&
		[ "$(stat -c %s "$2")" = "$(u32 $((start + len - 4)))" ]
}
cp "$R/boot/vmlinuz-$KVER" "$WORKDIR/vmlinuz.tmp"
rm -f "$WORKDIR/vmlinux.tmp"
if grep -q '^CONFIG_PVH=y' "$R/boot/config-$KVER" && extract_vmlinux "$WORKDIR/vmlinuz.tmp" "$WORKDIR/vmlinux.tmp"; then
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

#!/usr/bin/env bash
# Prepare a fresh Debian 12 or 13 machine for building, running and testing bccflow.
# Idempotent: installs only what is missing, links borrowed kernel headers when
# the running kernel has none, and mounts tracefs when it is not mounted.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "setup: must run as root (try: sudo $0)" >&2; exit 1; }

PKGS=(build-essential cmake pkg-config libbpfcc-dev libbpfcc libbpf-dev libmicrohttpd-dev
      libyaml-dev libgnutls28-dev libcrypt-dev libcap-dev libcmocka-dev bpftool python3 linux-headers-amd64 iproute2 procps)
[ "${BCCFLOW_SETUP_EXTRA:-}" ] && read -r -a extra <<<"$BCCFLOW_SETUP_EXTRA" && PKGS+=("${extra[@]}")

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Kernel headers: BCC looks in /lib/modules/$(uname -r)/{build,source}. A kernel
# without its own headers (as on our VMs) gets Debian's newest installed ones;
# bccflow checks the struct offsets it reads against BTF before trusting them.
kdir="/lib/modules/$(uname -r)"
if [ -z "${BCC_KERNEL_SOURCE:-}" ] && [ ! -e "$kdir/build/include/linux/kconfig.h" ] &&
   [ ! -e "$kdir/source/include/linux/kconfig.h" ]; then
	amd64=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)
	[ -n "$amd64" ] || { log "no linux-headers-*-amd64 in /usr/src"; exit 1; }
	common="${amd64%-amd64}-common"
	mkdir -p "$kdir"
	ln -sfn "$amd64" "$kdir/build"
	ln -sfn "$common" "$kdir/source"
	log "linked $kdir/build -> $amd64, source -> $common"
fi

# tracefs: tracepoint attach needs events/*/id.
if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing
	log "mounted tracefs on /sys/kernel/tracing"
fi

#!/bin/sh
# PID 1 of the test guest (installed as /sbin/vm-init by build-image.sh).
# Mounts the pseudo file systems, brings lo up, mounts the 9p share "payload" on
# /payload (plus any vm.shares=TAG:/PATH,... from the kernel command line), runs
# /payload/guest-main.sh, writes its exit code to /payload/guest-exit-code,
# prints "VM-GUEST-EXIT-CODE: N" on the console and powers the machine off.
# Every exec costs ~0.1 s under TCG: shell builtins and the static busybox
# (~0.03 s) are used where they can be.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
BB=/bin/busybox

say() { echo "vm-init: $*"; }

mnt() { # TYPE DIR [OPTIONS]
	[ -d "$2" ] || $BB mkdir -p "$2"
	$BB mount -t "$1" ${3:+-o "$3"} "$1" "$2" || say "mount -t $1 $2 failed"
}

poweroff_now() {
	$BB sync
	echo o >/proc/sysrq-trigger
	$BB sleep 20
	$BB poweroff -f
}

mnt proc /proc
mnt sysfs /sys
[ -e /dev/null ] || $BB mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mnt devpts /dev/pts gid=5,mode=620,ptmxmode=666
mnt tmpfs /dev/shm mode=1777,nosuid,nodev
mnt tmpfs /run mode=755,nosuid,nodev
mnt tmpfs /tmp mode=1777,nosuid,nodev
mnt tmpfs /var/tmp mode=1777,nosuid,nodev
mnt tracefs /sys/kernel/tracing
mnt debugfs /sys/kernel/debug
mnt bpf /sys/fs/bpf mode=700
mnt cgroup2 /sys/fs/cgroup
$BB ln -sf /proc/self/fd /dev/fd
$BB ln -sf /proc/self/fd/0 /dev/stdin
$BB ln -sf /proc/self/fd/1 /dev/stdout
$BB ln -sf /proc/self/fd/2 /dev/stderr
echo vm >/proc/sys/kernel/hostname
$BB ip link set lo up 2>/dev/null || ip link set lo up || say "ip link set lo up failed"

# 9p normally comes loaded from the initrd
case $(cat /proc/filesystems) in *9p*) ;; *) modprobe -q 9pnet_virtio; modprobe -q 9p ;; esac
P9OPTS=trans=virtio,version=9p2000.L,msize=512000,access=any
if ! $BB mount -t 9p -o "$P9OPTS" payload /payload; then
	say "cannot mount the 9p share 'payload' on /payload"
	echo "VM-GUEST-EXIT-CODE: 125"
	poweroff_now
fi
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case $arg in
	vm.shares=*)
		shares=${arg#vm.shares=}
		while [ -n "$shares" ]; do
			share=${shares%%,*}
			case $shares in *,*) shares=${shares#*,} ;; *) shares= ;; esac
			tag=${share%%:*} dir=${share#*:}
			{ [ -d "$dir" ] || $BB mkdir -p "$dir"; } && $BB mount -t 9p -o "$P9OPTS" "$tag" "$dir" ||
				say "cannot mount the 9p share '$tag' on $dir"
		done ;;
	esac
done

rc=125
if [ -f /payload/guest-main.sh ]; then
	read -r kver </proc/sys/kernel/osrelease
	read -r up _ </proc/uptime
	say "running /payload/guest-main.sh (kernel $kver, uptime $up s)"
	cd /payload || true
	if [ -x /payload/guest-main.sh ]; then
		/payload/guest-main.sh </dev/null
	else
		/bin/bash /payload/guest-main.sh </dev/null
	fi
	rc=$?
	cd /
else
	say "/payload/guest-main.sh not found"
fi
echo "$rc" >/payload/guest-exit-code.tmp && $BB mv /payload/guest-exit-code.tmp /payload/guest-exit-code ||
	say "cannot write /payload/guest-exit-code"
$BB sync
echo "VM-GUEST-EXIT-CODE: $rc"
$BB umount /payload 2>/dev/null
poweroff_now

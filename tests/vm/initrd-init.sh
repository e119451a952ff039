#!/bin/sh
# /init of the guest's initrd (busybox sh): load the modules the root disk needs,
# mount it (root=, default /dev/vda), and switch_root to init= (default
# /sbin/vm-init, written by build-image.sh from guest-init.sh).
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev

root=/dev/vda
init=/sbin/vm-init
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=*) root=${arg#root=} ;;
	init=*) init=${arg#init=} ;;
	esac
done

for m in $(cat /modules); do
	insmod "/lib/modules/$m" || echo "initrd: insmod $m failed"
done

i=0
while [ ! -b "$root" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
if ! mount -t ext4 -o rw "$root" /newroot; then
	echo "initrd: cannot mount $root; giving up"
	ls /dev
	exit 1   # init exits: the kernel panics, panic=-1 reboots, QEMU -no-reboot stops
fi
mount -o move /dev /newroot/dev
umount /proc
exec switch_root /newroot "$init"

#!/usr/bin/env bash
# Boot the test guest built by build-image.sh and run SHAREDIR/guest-main.sh in it.
#
#   tests/vm/run-guest.sh WORKDIR SHAREDIR [TIMEOUT_S]
#
# SHAREDIR is shared read-write with the guest over virtio-9p and mounted on
# /payload; the guest runs /payload/guest-main.sh there (with its shebang when it
# is executable, with bash otherwise), as root, cwd /payload, stdin /dev/null,
# its output on the serial console. The console is saved to SHAREDIR/console.log
# (and echoed to stderr unless VM_QUIET=1).
#
# Exit status: guest-main.sh's exit code; 124 if TIMEOUT_S (default 1200) ran
# out and QEMU was killed; 125 if the guest wrote no exit code (boot failure,
# kernel panic, ...). Several instances can share one WORKDIR at once: the root
# disk is opened read-only with a throw-away copy-on-write overlay (snapshot=on),
# so the guest may write anywhere, and nothing it writes outside the shares is kept.
#
# Environment:
#   VM_SMP (2), VM_MEM (2048, MiB)   guest size
#   VM_SHARES="DIR:/guest/path ..."  more host directories shared in (read-write)
#   VM_APPEND="..."                  more kernel command line parameters
#   VM_QUIET=1                       do not echo the console to stderr
set -euo pipefail

log() { printf 'run-guest: %s\n' "$*" >&2; }
die() { printf 'run-guest: error: %s\n' "$*" >&2; exit 125; }

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 WORKDIR SHAREDIR [TIMEOUT_S]"
WORKDIR=$(cd "$1" 2>/dev/null && pwd) || die "no such WORKDIR: $1"
SHAREDIR=$(cd "$2" 2>/dev/null && pwd) || die "no such SHAREDIR: $2"
TIMEOUT_S=${3:-1200}
[[ $TIMEOUT_S =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT_S must be a positive number of seconds, not '$TIMEOUT_S'"

for f in vmlinuz initrd.img rootfs.img; do
	[ -f "$WORKDIR/$f" ] || die "$WORKDIR/$f missing: run tests/vm/build-image.sh $WORKDIR first"
done
[ -f "$SHAREDIR/guest-main.sh" ] || die "$SHAREDIR/guest-main.sh missing: the guest has nothing to run"
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 not found: run tests/vm/build-image.sh (it installs qemu-system-x86)"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# the uncompressed PVH kernel boots ~5 s faster than the XZ bzImage
KERNEL=$WORKDIR/vmlinuz
[ ! -f "$WORKDIR/vmlinux" ] || KERNEL=$WORKDIR/vmlinux
CONSOLE=$SHAREDIR/console.log
rm -f "$SHAREDIR/guest-exit-code" "$SHAREDIR/guest-exit-code.tmp"
: >"$CONSOLE"

qesc() { printf '%s' "${1//,/,,}"; } # commas in QEMU option values are doubled
virtfs=(-virtfs "local,path=$(qesc "$SHAREDIR"),mount_tag=payload,security_model=none,id=payload")
shares=""
n=0
for s in ${VM_SHARES:-}; do
	dir=${s%%:*} gpath=${s#*:}
	[ -d "$dir" ] && [ "$dir" != "$s" ] && [[ $gpath == /* ]] ||
		die "VM_SHARES entry '$s' is not HOSTDIR:/guest/path with an existing HOSTDIR"
	dir=$(cd "$dir" && pwd)
	n=$((n + 1))
	virtfs+=(-virtfs "local,path=$(qesc "$dir"),mount_tag=share$n,security_model=none,id=share$n")
	shares+="${shares:+,}share$n:$gpath"
done

append="console=ttyS0 root=/dev/vda init=/sbin/vm-init panic=-1 quiet loglevel=3"
append+=" mitigations=off"
[ -z "$shares" ] || append+=" vm.shares=$shares"
[ -z "${VM_APPEND:-}" ] || append+=" $VM_APPEND"

QEMU_PID=
TAIL_PID=
cleanup() {
	local p
	for p in $QEMU_PID $TAIL_PID; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $QEMU_PID $TAIL_PID; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null || true
	done
	# the timeout(1) wrapper passes the signal on; make sure QEMU itself is gone too
	if [ -n "${QEMU_REAL:-}" ] && [ "$(cat "/proc/$QEMU_REAL/comm" 2>/dev/null)" = qemu-system-x86 ]; then
		kill -KILL "$QEMU_REAL" 2>/dev/null || true
	fi
	[ -z "${PRIV:-}" ] || rm -rf "$PRIV"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM HUP

T0=$SECONDS
log "booting $(sed -n 's/^kver=//p' "$WORKDIR/image.stamp" 2>/dev/null) (timeout ${TIMEOUT_S} s, console: $CONSOLE)"
PRIV=$(mktemp -d /tmp/run-guest.XXXXXX)
PIDFILE=$PRIV/qemu.pid
# timeout(1) bounds QEMU even if this script is killed with SIGKILL.
timeout --kill-after=10 "$TIMEOUT_S" \
	qemu-system-x86_64 -accel tcg -cpu qemu64 -smp "${VM_SMP:-2}" -m "${VM_MEM:-2048}" \
	-nodefaults -no-user-config -display none -no-reboot -nic none \
	-pidfile "$PIDFILE" \
	-serial "file:$CONSOLE" \
	-kernel "$KERNEL" -initrd "$WORKDIR/initrd.img" -append "$append" \
	-drive "file=$(qesc "$WORKDIR/rootfs.img"),if=virtio,format=raw,snapshot=on,cache=unsafe" \
	"${virtfs[@]}" \
	</dev/null &
QEMU_PID=$!
for _ in $(seq 50); do [ -s "$PIDFILE" ] && break; kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
QEMU_REAL=$(cat "$PIDFILE" 2>/dev/null || true)

if [ "${VM_QUIET:-0}" != 1 ]; then
	tail -n +1 -F --pid="$QEMU_PID" "$CONSOLE" >&2 2>/dev/null &
	TAIL_PID=$!
fi

set +e
wait "$QEMU_PID"
qrc=$?
set -e
QEMU_PID=
if [ -n "$TAIL_PID" ]; then
	# let tail print the last lines, then stop it
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$TAIL_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$TAIL_PID" 2>/dev/null || true
	wait "$TAIL_PID" 2>/dev/null || true
	TAIL_PID=
fi
elapsed=$((SECONDS - T0))

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	log "TIMEOUT: guest still running after ${TIMEOUT_S} s, QEMU killed; last console lines:"
	tail -n 20 "$CONSOLE" | sed 's/^/  | /' >&2
	exit 124
fi
[ "$qrc" -eq 0 ] || log "QEMU exited with status $qrc"

KPAT='^\[ *[0-9]+\.[0-9]+\] .*((Oops|BUG|WARNING|Kernel panic)[: ]|Call Trace:)'
if grep -aqE "$KPAT" "$CONSOLE"; then
	log "the guest kernel reported problems (see $CONSOLE):"
	grep -aE "$KPAT" "$CONSOLE" | head -n 5 | sed 's/^/  | /' >&2
fi
code=$(cat "$SHAREDIR/guest-exit-code" 2>/dev/null || true)
if ! [[ $code =~ ^[0-9]+$ ]]; then
	code=$(sed -n 's/.*VM-GUEST-EXIT-CODE: \([0-9][0-9]*\).*/\1/p' "$CONSOLE" | tail -n1)
fi
if ! [[ ${code:-} =~ ^[0-9]+$ ]]; then
	log "the guest wrote no exit code (boot failure or panic?) after ${elapsed} s; last console lines:"
	tail -n 30 "$CONSOLE" | sed 's/^/  | /' >&2
	exit 125
fi
log "guest-main.sh exited with $code after ${elapsed} s"
exit "$code"

#!/usr/bin/env bash
# Build bccflow with Debian 13 (trixie) packages in a chroot and run its tests
# there, on the host kernel (issue 11, "works on Debian 13").
#
#   tests/userland/run.sh [OPTIONS] [WORKDIR] [-- CTEST_ARGS...]
#
#   WORKDIR         where the chroot and caches live (default
#                   $BCCFLOW_USERLAND_DIR or /var/tmp/bccflow-trixie)
#   --build-only    create/reuse the root, run scripts/setup.sh and
#                   scripts/build.sh in it, and stop. The binaries are then
#                   WORKDIR/root/build/bccflow and WORKDIR/root/build/tests/flowgen
#                   (stable paths: /build inside the chroot).
#   --shell         the same mounts, then an interactive shell in the chroot
#   --force         rebuild the root from scratch even when its stamp matches
#   --full          run the fuzz and sanitize ctest tests in full (20 s per
#                   fuzz target, the sanitizer's e2e subset) instead of briefly
#   --committed     build and test the committed HEAD (git archive) instead of
#                   the working tree (which may hold others' unfinished edits)
#   -- CTEST_ARGS   passed to scripts/test.sh --no-vm --no-userland inside the
#                   chroot instead of the default run, e.g. -- -R e2e_exact
#
# The default run: scripts/test.sh --no-vm --no-userland --no-fuzz
# --no-sanitize (every unit_* and e2e_* test), then tests/fuzz/run.sh
# --seconds 2 and tests/sanitize/run.sh --unit-only (trixie's clang proven).
#
# The root is `debootstrap --variant=minbase trixie` from Debian's archive
# (USERLAND_MIRROR, default http://deb.debian.org/debian) plus what the
# project's own scripts/setup.sh installs in it: that is the proof that
# setup.sh works on Debian 13. It is cached: WORKDIR/root.stamp records the
# suite, mirror and a hash of scripts/setup.sh and of the part of this script
# that makes the root; when they match the root is reused (seconds),
# otherwise rebuilt. Downloaded .debs are
# kept in WORKDIR/debs, so a rebuild downloads nothing new. When the chroot's
# apt lists are older than USERLAND_REFRESH_HOURS (default 24) they are
# updated and newer trixie packages installed; the installed versions of the
# packages that matter (libbpfcc, LLVM, gcc, libmicrohttpd, headers) are in
# WORKDIR/packages.txt and printed on every run.
#
# For the run it mounts proc, sys (recursively: cgroup2 at the host's path,
# tracefs, BTF), dev with a private devpts and /dev/shm, and copies the source
# tree (git's view of the working tree: tracked and untracked, not ignored
# files) to /src. It builds in /build. On every exit (error, INT, TERM) it ends
# the processes it started and any process left inside the root, and unmounts
# everything under WORKDIR. See tests/userland/README.md. Run as root.
set -euo pipefail

exec {ERR}>&2
log() { printf 'userland: %s\n' "$*" >&"$ERR"; }
die() { printf 'userland: error: %s\n' "$*" >&"$ERR"; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
SUITE=trixie
MIRROR=${USERLAND_MIRROR:-http://deb.debian.org/debian}
REFRESH_H=${USERLAND_REFRESH_HOURS:-24}

mode="test"
force=${USERLAND_FORCE:-0}
committed=0
full=0
workdir=${BCCFLOW_USERLAND_DIR:-/var/tmp/bccflow-trixie}
ctest_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build-only) mode=build; shift ;;
	--shell) mode=shell; shift ;;
	--force) force=1; shift ;;
	--committed) committed=1; shift ;;
	--full) full=1; shift ;;
	-h|--help) sed -n '2,44p' "$0"; exit 0 ;;
	--) shift; ctest_args=("$@"); break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) workdir=$1; shift ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mounts, BPF)"

T0=$SECONDS
mkdir -p "$workdir"
WORKDIR=$(cd "$workdir" && pwd)
[ "$WORKDIR" != / ] || die "WORKDIR must not be /"
R=$WORKDIR/root
LOGS=$WORKDIR/logs
DEBS=$WORKDIR/debs
mkdir -p "$LOGS" "$DEBS"

# One run at a time per WORKDIR (a second caller waits).
exec 9>"$WORKDIR/.lock"
if ! flock -n 9; then
	log "another run holds $WORKDIR/.lock; waiting"
	flock 9
fi

export DEBIAN_FRONTEND=noninteractive
APT_Q=(-y -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 --no-install-recommends)

# bgrun, children_of, kill_tree: signals handled at once, and the exit trap
# ends every process this script started
. "$HERE/../lib/proctree.sh"
# LOG CMD...: CMD's output also to LOG, the same way (a foreground pipeline
# would hold a signal back until it ends); returns CMD's status.
run_logged() {
	local logf=$1
	shift
	rm -f "$WORKDIR/.rc"
	{ rc_=0; "$@" || rc_=$?; echo "$rc_" >"$WORKDIR/.rc"; } 2>&1 | tee -a "$logf" >&"$ERR" &
	wait "$!" || true
	[ -s "$WORKDIR/.rc" ] || return 1
	return "$(cat "$WORKDIR/.rc")"
}
in_root_pids() { # processes whose root directory is the chroot
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[ "$r" != "$R" ] || echo "${p#/proc/}"
	done
	return 0
}
kill_all() {
	local c i
	for c in $(children_of $$); do kill_tree "$c"; done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		c=$(in_root_pids)
		[ -n "$c" ] || break
		# shellcheck disable=SC2086
		if [ "$i" -lt 6 ]; then kill -TERM $c 2>/dev/null; else kill -KILL $c 2>/dev/null; fi
		sleep 0.5
	done
	[ -z "$(in_root_pids)" ] || log "warning: processes still inside $R: $(in_root_pids | paste -sd' ')"
	wait 2>/dev/null || true
}
mounts_under() { # mount points at or below $1, deepest first
	awk -v r="$1" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r
}
umount_all() {
	local m
	for m in $(mounts_under "$WORKDIR"); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	# a recursive bind may have left more behind than the first pass saw
	for m in $(mounts_under "$WORKDIR"); do umount -l "$m" 2>/dev/null || true; done
	[ -z "$(mounts_under "$WORKDIR")" ] || log "warning: still mounted: $(mounts_under "$WORKDIR" | paste -sd' ')"
}
cleanup() {
	local rc=$?
	set +e	# (errexit would end the trap at the first failing test)
	trap - INT TERM
	kill_all
	umount_all
	[ "$rc" -eq 0 ] || log "FAILED (exit $rc) after $((SECONDS - T0)) s; logs in $LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

umount_all	# leftovers of a run that was SIGKILLed

# ---- host packages --------------------------------------------------------
T1=$SECONDS
missing=()
for p in debootstrap debian-archive-keyring; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing host packages: ${missing[*]}"
	bgrun apt-get update -qq -o DPkg::Lock::Timeout=600 || die "apt-get update failed"
	bgrun apt-get install "${APT_Q[@]}" "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
[ -e "/usr/share/debootstrap/scripts/$SUITE" ] ||
	die "this debootstrap does not know $SUITE (Debian 12's 1.0.128+nmu2+deb12u2 does)"

# ---- the root: reuse or build ----------------------------------------------
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive "$@"
}
# (the part of this script that makes the root, and setup.sh)
SCRIPTS_HASH=$({ sed -n '/^# ---- the root:/,/^# ---- mounts/p' "$HERE/run.sh"
	cat "$SRC/scripts/setup.sh"; } | sha256sum | cut -c1-16)
STAMP_TEXT="suite=$SUITE
mirror=$MIRROR
scripts=$SCRIPTS_HASH"

reuse=0
if [ "$force" != 1 ] && [ -f "$WORKDIR/root.stamp" ] && [ -x "$R/usr/bin/apt-get" ] &&
   [ "$(cat "$WORKDIR/root.stamp")" = "$STAMP_TEXT" ]; then
	reuse=1
fi

if [ "$reuse" = 0 ]; then
	log "building the $SUITE root in $R"
	rm -f "$WORKDIR/root.stamp" "$WORKDIR/packages.txt"
	[ -z "$(mounts_under "$WORKDIR")" ] || die "refusing to delete $R: mounts below it"
	rm -rf --one-file-system "$R"
	mkdir -p "$R/etc/dpkg/dpkg.cfg.d"
	# dpkg in the chroot: no fsync, no docs/man/locales
	install -m 644 "$HERE/../lib/dpkg-minimal.cfg" "$R/etc/dpkg/dpkg.cfg.d/90-userland"
	log "debootstrap --variant=minbase $SUITE $MIRROR"
	bgrun debootstrap --variant=minbase --arch=amd64 --components=main --cache-dir="$DEBS" \
		"$SUITE" "$R" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$LOGS/debootstrap.log" >&"$ERR"; die "debootstrap failed (log: $LOGS/debootstrap.log)"; }
	# apt: trixie with its updates and security suites, as an installed Debian 13 has
	rm -f "$R/etc/apt/sources.list"
	sec=${MIRROR%/debian}/debian-security
	cat >"$R/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $MIRROR
	Suites: $SUITE $SUITE-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: $sec
	Suites: $SUITE-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	# keep downloaded .debs (WORKDIR/debs is bind-mounted on the archives dir)
	echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$R/etc/apt/apt.conf.d/90-userland-keep"
	rm -f "$R/etc/apt/apt.conf.d/docker-clean"
	# no daemon started by a package's postinst (prometheus has one)
	printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
	chmod 755 "$R/usr/sbin/policy-rc.d"
	echo "bccflow-$SUITE" >"$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
	mkdir -p "$R/src" "$R/build"
	printf '%s\n' "$STAMP_TEXT" >"$WORKDIR/root.stamp"
	T_ROOT=$((SECONDS - T1))
	log "root built in $T_ROOT s"
else
	T_ROOT=$((SECONDS - T1))
	log "root up to date ($SUITE, scripts $SCRIPTS_HASH), reused in $T_ROOT s"
fi

# ---- mounts, apt refresh ------------------------------------------------------
mount_all() {
	# The root is a mount point of its own, private: `unshare -m` in the tests
	# makes / private and fails on a plain directory (EINVAL), and nothing
	# mounted below it propagates anywhere.
	mount --bind "$R" "$R"
	mount --make-private "$R"
	mount -t proc proc "$R/proc"
	mount --rbind /sys "$R/sys"
	mount --make-rslave "$R/sys"
	mount --bind /dev "$R/dev"
	mount --make-slave "$R/dev"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
	mount --bind "$R/dev/pts/ptmx" "$R/dev/ptmx"
	mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
	mount --bind "$DEBS" "$R/var/cache/apt/archives"
}
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
mount_all
# an earlier run killed inside dpkg leaves it half-configured
in_root dpkg --configure -a >/dev/null 2>&1 || true

# Newer trixie packages, at most every REFRESH_H hours (setup.sh installs only
# what is missing and never upgrades).
T1=$SECONDS
# (WORKDIR/apt.refreshed: apt keeps the lists' mtimes when nothing changed)
[ "$reuse" = 1 ] || touch "$WORKDIR/apt.refreshed"	# setup.sh will run apt-get update
fresh=$(find "$WORKDIR" -maxdepth 1 -name apt.refreshed -mmin -$((REFRESH_H * 60)) 2>/dev/null)
if [ -z "$fresh" ]; then
	log "apt lists older than $REFRESH_H h: apt-get update and upgrade in the chroot"
	bgrun in_root apt-get update -qq >"$LOGS/upgrade.log" 2>&1 &&
		bgrun in_root apt-get dist-upgrade "${APT_Q[@]}" >>"$LOGS/upgrade.log" 2>&1 ||
		{ tail -n 20 "$LOGS/upgrade.log" >&"$ERR"; die "upgrading the chroot failed (log: $LOGS/upgrade.log)"; }
	in_root apt-get autoclean -qq >/dev/null 2>&1 || true
	touch "$WORKDIR/apt.refreshed"
	log "upgraded: $(grep -c '^Setting up' "$LOGS/upgrade.log" || true) packages (log: $LOGS/upgrade.log)"
fi
T_REFRESH=$((SECONDS - T1))

# ---- the source tree --------------------------------------------------------
T1=$SECONDS
rm -rf --one-file-system "$R/src"
mkdir -p "$R/src"
if [ "$committed" = 1 ]; then
	git -C "$SRC" archive --format=tar HEAD | tar -C "$R/src" -xf - ||
		die "git archive HEAD failed in $SRC"
	log "source: committed HEAD $(git -C "$SRC" rev-parse --short HEAD)"
elif git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and untracked files, not ignored ones (build dirs); mtimes kept,
	# so the build in /build is incremental
	(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -C "$R/src" -xf -
else
	tar -C "$SRC" --exclude='./build*' --exclude='./.git' --exclude='__pycache__' -cf - . |
		tar -C "$R/src" -xf -
fi
T_COPY=$((SECONDS - T1))

# ---- run --------------------------------------------------------------------
versions() {
	in_root dpkg-query -W -f='${Package} ${Version}\n' libbpfcc libbpfcc-dev 'libllvm*' 'libclang-cpp*' \
		gcc cmake libmicrohttpd-dev libcmocka-dev 'linux-headers-*-amd64' python3 prometheus clang 2>/dev/null |
		awk 'NF == 2' | sort || true
}

T1=$SECONDS
rc=0
case "$mode" in
build)
	log "scripts/setup.sh in the chroot"
	bgrun in_root /src/scripts/setup.sh || die "scripts/setup.sh failed in the $SUITE chroot"
	T_SETUP=$((SECONDS - T1))
	versions >"$WORKDIR/packages.txt"
	T1=$SECONDS
	log "scripts/build.sh in the chroot (build dir /build)"
	bgrun in_root env BCCFLOW_BUILD_DIR=/build /src/scripts/build.sh ||
		die "scripts/build.sh failed in the $SUITE chroot"
	T_BUILD=$((SECONDS - T1))
	log "packages: $(paste -sd, "$WORKDIR/packages.txt" | sed 's/,/, /g')"
	log "binaries: $R/build/bccflow $R/build/tests/flowgen"
	log "done in $((SECONDS - T0)) s (root ${T_ROOT} s, refresh ${T_REFRESH} s, copy ${T_COPY} s," \
		"setup ${T_SETUP} s, build ${T_BUILD} s)"
	;;
shell)
	log "shell in the chroot (source /src, build /build); exit to unmount"
	in_root env BCCFLOW_BUILD_DIR=/build bash -l || rc=$?
	exit "$rc"
	;;
test)
	# scripts/test.sh itself, as on any machine: setup.sh with the test-only
	# packages, build.sh, ctest; it prints its own part times.
	t_args=(--no-vm --no-userland)
	[ "$full" = 1 ] || [ "${#ctest_args[@]}" -gt 0 ] || t_args+=(--no-fuzz --no-sanitize)
	log "scripts/test.sh ${t_args[*]} ${ctest_args[*]} in the chroot"
	: >"$LOGS/test.log"
	run_logged "$LOGS/test.log" in_root env BCCFLOW_BUILD_DIR=/build /src/scripts/test.sh \
		"${t_args[@]}" "${ctest_args[@]}" || rc=$?
	T_TESTSH=$((SECONDS - T1))
	# unittest's "skipped" lines are in ctest's full log only
	skipped=$(grep -a -E "\.\.\. skipped" "$R/build/Testing/Temporary/LastTest.log" 2>/dev/null || true)
	[ -z "$skipped" ] || log "WARNING: skipped tests (from /build/Testing/Temporary/LastTest.log):"$'\n'"$skipped"
	# By default the fuzz and sanitizer scripts run briefly: each installs
	# trixie's clang and its runtime, builds its own tree and runs (libFuzzer
	# 2 s per target after the regression inputs and seeds; the unit tests
	# under ASan+UBSan). --full runs them as ctest does at home.
	T1=$SECONDS
	smoke=""
	: >"$LOGS/smoke.log"
	if [ "$full" != 1 ] && [ "${#ctest_args[@]}" -eq 0 ]; then
		for s in "fuzz/run.sh --seconds 2 --build /build/fuzz" \
			 "sanitize/run.sh --unit-only --build /build/sanitize"; do
			log "tests/$s in the chroot"
			src=0
			# shellcheck disable=SC2086
			run_logged "$LOGS/smoke.log" in_root env BCCFLOW_BUILD_DIR=/build /src/tests/$s || src=$?
			smoke="$smoke ${s%%/*} $([ "$src" -eq 0 ] && echo passed || echo FAILED),"
			[ "$src" -eq 0 ] || rc=1
		done
		smoke="; smoke:${smoke%,} $((SECONDS - T1)) s"
	fi
	versions >"$WORKDIR/packages.txt"
	log "packages: $(paste -sd, "$WORKDIR/packages.txt" | sed 's/,/, /g')"
	parts=$(sed -n 's/^test\.sh: parts: //p' "$LOGS/test.log" | tail -n1)
	log "done in $((SECONDS - T0)) s (root ${T_ROOT} s, refresh ${T_REFRESH} s, copy ${T_COPY} s;" \
		"test.sh in the chroot ${T_TESTSH} s: ${parts:-?}${smoke}); $(grep -c . <<<"$skipped" || true) skipped;" \
		"exit $rc; logs in $LOGS"
	exit "$rc"
	;;
esac

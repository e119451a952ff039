#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (cmocka),
# end-to-end tests against the real kernel, fuzzing and sanitizers, the QEMU
# guest suite (tests/vm/) and the same build and tests with Debian 13 (trixie)
# packages in a chroot on this kernel (tests/userland/).
#   sudo ./scripts/test.sh [--no-vm] [--no-userland] [--no-fuzz] [--no-sanitize]
#                          [extra ctest arguments]
#     --no-vm        skip the QEMU guest suites (label vm)
#     --no-userland  skip the Debian 13 chroot suite (label userland)
#     --no-fuzz, --no-sanitize  skip the fuzzing / sanitizer runs
#     e.g. sudo ./scripts/test.sh --no-vm --no-userland -R e2e_exact
# Prints the wall time of each part (setup, build, tests) at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${BCCFLOW_BUILD_DIR:-$root/build}"
ctest_args=()
skip=()
for a in "$@"; do
	case "$a" in
	--no-vm) skip+=(vm) ;;
	--no-userland) skip+=(userland) ;;
	--no-fuzz) skip+=(fuzz) ;;
	--no-sanitize) skip+=(sanitize) ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) ctest_args+=("$a") ;;
	esac
done
# one -LE: ctest keeps only the last of several
[ "${#skip[@]}" -eq 0 ] || ctest_args=(-LE "^($(IFS='|'; echo "${skip[*]}"))\$" "${ctest_args[@]}")
if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the end-to-end tests load BPF programs and need root: sudo $0 $*" >&2
	exit 1
fi
start=$(date +%s)
# test-only packages: a real Prometheus for the metrics end-to-end tests,
# traffic from real programs, certificates, bcrypt hashes and the unit check,
# tmux for the live screen's
BCCFLOW_SETUP_EXTRA="prometheus iperf3 dnsmasq-base bind9-dnsutils openssl apache2-utils systemd man-db util-linux tmux ${BCCFLOW_SETUP_EXTRA:-}" "$root/scripts/setup.sh"
t_setup=$(( $(date +%s) - start ))
"$root/scripts/build.sh"
t_build=$(( $(date +%s) - start - t_setup ))
cd "$build"
rc=0
ctest --output-on-failure "${ctest_args[@]}" || rc=$?
t_tests=$(( $(date +%s) - start - t_setup - t_build ))
echo "test.sh: parts: setup ${t_setup} s, build ${t_build} s, tests ${t_tests} s"
echo "test.sh: finished in $(( $(date +%s) - start )) s (exit $rc)"
exit $rc

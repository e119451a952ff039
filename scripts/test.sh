#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (cmocka),
# end-to-end tests against the real kernel, and the QEMU guest suite.
#   sudo ./scripts/test.sh [--no-vm] [extra ctest arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${BCCFLOW_BUILD_DIR:-$root/build}"
ctest_args=()
for a in "$@"; do
	case "$a" in
	--no-vm) ctest_args+=(-LE vm) ;;
	*) ctest_args+=("$a") ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the end-to-end tests load BPF programs and need root: sudo $0 $*" >&2
	exit 1
fi
start=$(date +%s)
# test-only packages: a real Prometheus for the metrics end-to-end test
BCCFLOW_SETUP_EXTRA="prometheus ${BCCFLOW_SETUP_EXTRA:-}" "$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "$build"
rc=0
ctest --output-on-failure "${ctest_args[@]}" || rc=$?
echo "test.sh: finished in $(( $(date +%s) - start )) s (exit $rc)"
exit $rc

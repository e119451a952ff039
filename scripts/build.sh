#!/usr/bin/env bash
# Configures (once) and builds bccflow and its tests in build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${BCCFLOW_BUILD_DIR:-$root/build}"
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" -- --no-print-directory >/dev/null

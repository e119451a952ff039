#!/usr/bin/env bash
# Installs what is missing, builds, and runs bccflow with the given arguments.
#   sudo ./scripts/run.sh [bccflow options] [interval [count]]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: bccflow loads BPF programs and needs root: sudo $0 $*" >&2
	exit 1
fi
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
exec "${BCCFLOW_BUILD_DIR:-$root/build}/bccflow" "$@"

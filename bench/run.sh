#!/usr/bin/env bash
# bccflow benchmark, one command, as root, on a fresh Debian 12 machine:
#
#   sudo bench/run.sh            # full run (about 20-25 min): bench/results/<date>.{md,png,json,dat}
#   sudo bench/run.sh --quick    # a few minutes, for development: results/<date>-quick.*
#   sudo bench/run.sh --percall [--quick]  # per-call cost only, one run (about 7 min;
#                                # --quick about 3): results/<date>-percall[-quick].{md,json}
#
# Installs what it needs with apt-get (BCC and kernel headers via scripts/setup.sh;
# python3-bpfcc for the reference tool, nethogs, gnuplot-nox for the plot, a C
# compiler), builds bccflow (scripts/build.sh, unless BCCFLOW names a binary)
# and the bench tools (bench/build/), then runs bench/bench.py.
# Traffic stays on loopback. See bench/README.md.
set -euo pipefail

t_start=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
log() { printf 'bench: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "bench: must run as root (try: sudo $0 $*)" >&2; exit 1; }

args=()
percall=
for a in "$@"; do
	case "$a" in
	--quick) args+=(--quick) ;;
	--percall) percall=1 ;;
	--skip-workloads|--skip-population) args+=("$a") ;;  # development only
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "bench: unknown option: $a (try --quick or --percall)" >&2; exit 2 ;;
	esac
done

# bccflow's own dependencies (BCC, headers, tracefs) plus the bench's: the
# reference tool's python3-bpfcc, nethogs, gnuplot for the plot, a C compiler
BCCFLOW_SETUP_EXTRA="python3-bpfcc nethogs gnuplot-nox gcc libc6-dev coreutils util-linux procps bpftool ${BCCFLOW_SETUP_EXTRA:-}" \
	"$root/scripts/setup.sh"

if [ -z "${BCCFLOW:-}" ]; then
	log "building bccflow (scripts/build.sh)"
	"$root/scripts/build.sh"
	BCCFLOW="${BCCFLOW_BUILD_DIR:-$root/build}/bccflow"
fi
[ -x "$BCCFLOW" ] || { echo "bench: no bccflow binary at $BCCFLOW" >&2; exit 1; }

export BENCH_BUILD="${BENCH_BUILD:-$here/build}"
mkdir -p "$BENCH_BUILD"
for t in trafficgen popgen monwrap; do
	cc -std=c11 -O2 -Wall -Wextra -o "$BENCH_BUILD/$t" "$here/$t.c"
done
# the per-call benchmark's LD_PRELOAD shim (divert.c)
cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -o "$BENCH_BUILD/divert.so" "$here/divert.c" -ldl

# the reference tool's bcc module lives in Debian's python, not in a pyenv one
if [ -n "$percall" ]; then
	exec /usr/bin/python3 "$here/percall.py" run --bccflow "$BCCFLOW" "${args[@]}"
fi
# --deadline: the whole command, installs included, should end within 30 minutes
exec /usr/bin/python3 "$here/bench.py" run --bccflow "$BCCFLOW" \
	--deadline $((t_start + ${BENCH_BUDGET_S:-1740})) "${args[@]}"

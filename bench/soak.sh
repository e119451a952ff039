#!/usr/bin/env bash
# Soak test: bccflow --json 60 for a long time against a steady mix of
# long-lived flows and short connections from short-lived processes
# (bench/soak/soakgen.c, which counts every byte it moves).
#   sudo bench/soak.sh [--minutes N] [--quick] [--conns C] [--rate R]
#     --minutes N  run time (default 60)
#     --quick      10 minutes
#     --conns C    long-lived connections (default 5000 = 10,000 flows, split
#                  over 2 processes)
#     --rate R     new short connections a second (default 200)
#     --no-filter  count every flow on the machine; by default bccflow gets
#                  --port with the load's two listening ports, so that other
#                  traffic on a shared machine can neither fill its table nor
#                  blur its CPU and memory figures
# Every minute it records bccflow's RSS, CPU and tracked flows. At the end it
# compares bccflow's per-flow totals with the generator's byte counts
# exactly, checks that RSS and the flow table stayed flat and CPU did not
# grow, and writes bench/results/soak-<date>.md with a PNG plot beside it.
# Exit 0 only if every check passed. Loopback traffic only.
# BCCFLOW=path uses that binary instead of building build/bccflow.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=60
mode="full"
conns=5000
rate=200
filter=1
long_port=29901
short_port=29902
while [ $# -gt 0 ]; do
	case "$1" in
	--minutes) minutes="$2"; shift 2 ;;
	--quick) minutes=10; mode="quick"; shift ;;
	--conns) conns="$2"; shift 2 ;;
	--rate) rate="$2"; shift 2 ;;
	--no-filter) filter=0; shift ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "soak: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (bccflow loads BPF programs): sudo $0" >&2; exit 1; }
log() { printf 'soak: %s\n' "$*" >&2; }

if ! command -v gnuplot >/dev/null; then
	log "installing gnuplot-nox"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; }
fi
if [ -z "${BCCFLOW:-}" ]; then
	"$root/scripts/setup.sh"
	"$root/scripts/build.sh"
	BCCFLOW="${BCCFLOW_BUILD_DIR:-$root/build}/bccflow"
fi

date=$(date +%Y-%m-%d-%H%M)
work=$(mktemp -d /tmp/bccflow-soak.XXXXXX)
results="$root/bench/results"
mkdir -p "$results"
cc -std=c11 -O2 -Wall -Wextra -o "$work/soakgen" "$root/bench/soak/soakgen.c"

# 60-s intervals: a closed flow leaves the table within 2 intervals, so up to
# 2 min of short flows (2 ends x rate x 120 s) are tracked besides the long
# ones; the table is sized for that with room to spare.
max_flows=$(( (2 * conns + 2 * rate * 130) * 2 ))
[ "$max_flows" -le 4194304 ] || max_flows=4194304
args="--json --max-flows $max_flows 60"
[ "$filter" -eq 1 ] && args="--port $long_port,$short_port $args"
cat >"$work/meta.txt" <<EOF
date=$date
mode=$mode
minutes=$minutes
conns=$conns
rate=$rate
bccflow_args=$args
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
kernel=$(uname -r)
cores=$(nproc)
EOF

bpid=""
gpid=""
cleanup() {
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null || true
	[ -n "$bpid" ] && kill -INT "$bpid" 2>/dev/null || true
}
trap cleanup EXIT

# shellcheck disable=SC2086
"$BCCFLOW" $args >"$work/bccflow.jsonl" 2>"$work/bccflow.err" &
bpid=$!
for _ in $(seq 600); do
	grep -q '"type":"start"' "$work/bccflow.jsonl" 2>/dev/null && break
	kill -0 "$bpid" 2>/dev/null || { cat "$work/bccflow.err" >&2; exit 1; }
	sleep 0.1
done
grep -q '"type":"start"' "$work/bccflow.jsonl" || { log "bccflow did not start"; exit 1; }
t0=$(date +%s)
log "bccflow $bpid counting ($args); load for $minutes min; work dir $work"

"$work/soakgen" --out "$work/truth.jsonl" --conns "$conns" --rate "$rate" \
	--seconds $((minutes * 60)) --long-port "$long_port" --short-port "$short_port" \
	2>"$work/soakgen.err" &
gpid=$!

tck=$(getconf CLK_TCK)
cpu_s() { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/$bpid/stat"; }
echo "minute,rss_kib,cpu_s,cpu_pct,tracked,flows,evicted,events,dropped,collect_us" >"$work/samples.csv"
prev_cpu=$(cpu_s)
prev_t=$t0
m=0
# one sample 3 s after each interval record is due
while kill -0 "$gpid" 2>/dev/null; do
	next=$((t0 + (m + 1) * 60 + 3))
	while [ "$(date +%s)" -lt "$next" ] && kill -0 "$gpid" 2>/dev/null; do sleep 1; done
	kill -0 "$gpid" 2>/dev/null || break
	m=$((m + 1))
	now=$(date +%s)
	cpu=$(cpu_s)
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$bpid/status")
	iv=$(tail -c 4000000 "$work/bccflow.jsonl" | grep '"type":"interval"' | tail -n1)
	get() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$iv"; }
	pct=$(awk -v a="$cpu" -v b="$prev_cpu" -v t="$((now - prev_t))" 'BEGIN { printf "%.3f", (a - b) * 100 / t }')
	echo "$m,$rss,$cpu,$pct,$(get tracked),$(get flows),$(get evicted),$(get events),$(get dropped),$(get collect_us)" >>"$work/samples.csv"
	log "minute $m: RSS $((rss / 1024)) MiB, CPU $pct% of a core, tracked $(get tracked), flows $(get flows), dropped $(get dropped)"
	prev_cpu=$cpu
	prev_t=$now
done
grc=0
wait "$gpid" || grc=$?
gpid=""
cat "$work/soakgen.err" >&2
[ "$grc" -eq 0 ] || log "soakgen exited $grc"
# the last bytes (and the flows' final counters) are in the final, partial interval
kill -INT "$bpid"
brc=0
wait "$bpid" || brc=$?
bpid=""
[ "$brc" -eq 0 ] || { log "bccflow exited $brc:"; tail -n 5 "$work/bccflow.err" >&2; }

report="$results/soak-$date.md"
plot="$results/soak-$date.png"
arc=0
python3 "$root/bench/soak/analyze.py" "$work" "$report" "$plot" || arc=$?
log "report: $report"
if [ "$arc" -ne 0 ] || [ "$brc" -ne 0 ] || [ "$grc" -ne 0 ]; then
	log "FAILED (data kept in $work)"
	exit 1
fi
rm -rf "$work"
log "passed"

#!/usr/bin/env bash
# Builds bccflow's libFuzzer targets (tests/fuzz/fuzz_*.c, clang with
# -fsanitize=fuzzer,address,undefined) and runs each of them:
#   1. every committed regression input (regress/TARGET/CHECK--what) once:
#      each is a bug that was found (CHECK names the harness check that
#      caught it); it fails until the bug is fixed and guards the fix after;
#   2. the committed seed corpus (corpus/TARGET) once;
#   3. fuzzing for N seconds from the seeds, in a scratch corpus. Checks named
#      by still-failing regression inputs are switched off here
#      (BCCFLOW_FUZZ_SKIP), so fuzzing looks past the known bugs.
# Exits 1 on any crash, sanitizer report, leak or failed check; the input is
# kept under BUILD/artifacts. A summary line per target gives the executions.
#
#   tests/fuzz/run.sh [--seconds N] [--build DIR] [--report FILE] [TARGET...]
#     --seconds N   fuzzing time per target (default 20; ctest uses 20)
#     --build DIR   build directory (default $BCCFLOW_BUILD_DIR/fuzz or build/fuzz)
#     --report FILE also write a Markdown summary (e.g. for bench/results/)
#   Long run (bench): tests/fuzz/run.sh --seconds 600 \
#                       --report bench/results/fuzz-$(date +%F).md
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=20
build="${BCCFLOW_BUILD_DIR:-$root/build}/fuzz"
report=""
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds="$2"; shift 2 ;;
	--build) build="$2"; shift 2 ;;
	--report) report="$2"; shift 2 ;;
	-h|--help) sed -n '2,21p' "$0"; exit 0 ;;
	-*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(opts probe_text format escape prom collect webconfig)

log() { printf 'fuzz: %s\n' "$*" >&2; }

# clang with the libFuzzer runtime (Debian: clang, libclang-rt-dev)
have_libfuzzer() {
	command -v clang >/dev/null &&
		printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
		clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null
}
if ! have_libfuzzer; then
	if [ "$(id -u)" -ne 0 ]; then
		log "needs clang and libclang-rt-dev (apt-get install clang libclang-rt-dev)"
		exit 1
	fi
	log "installing clang and libclang-rt-dev"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
	have_libfuzzer || { log "clang cannot link -fsanitize=fuzzer"; exit 1; }
fi

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DBCCFLOW_FUZZ=ON -DCMAKE_C_FLAGS="$flags" >"$build.configure.log" 2>&1 ||
		{ cat "$build.configure.log" >&2; exit 1; }
fi
cmake --build "$build" --target fuzzers -j "$(nproc)" -- --no-print-directory >"$build.build.log" 2>&1 ||
	{ tail -n 40 "$build.build.log" >&2; log "build failed"; exit 1; }

bin="$build/tests/fuzz"
art="$build/artifacts"
work="$build/corpus"
logs="$build/logs"
mkdir -p "$art" "$work" "$logs"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
unset BCCFLOW_FUZZ_SKIP

fail=0
summary=()
for t in "${targets[@]}"; do
	exe="$bin/fuzz_$t"
	[ -x "$exe" ] || { log "$t: no such target"; fail=1; continue; }
	skip=""
	known=0
	# 1. regressions: each must pass once its bug is fixed (checks named by the
	#    target's other regression inputs are off: each input tests its own)
	all=$(for f in "$here/regress/$t"/*--*; do
		if [ -f "$f" ]; then b=$(basename "$f"); echo "${b%%--*}"; fi
	done | sort -u | paste -sd, -)
	for f in "$here/regress/$t"/*; do
		[ -f "$f" ] || continue
		own=$(basename "$f"); own=${own%%--*}
		others=$(tr ',' '\n' <<<"$all" | grep -vx -- "$own" | paste -sd, - || true)
		if BCCFLOW_FUZZ_SKIP="$others" "$exe" "$f" >"$logs/$t.regress.log" 2>&1; then
			log "$t: regression input $(basename "$f") passes"
		else
			check=$(basename "$f"); check=${check%%--*}
			log "$t: KNOWN BUG still present: regress/$t/$(basename "$f"):"
			grep -a -m1 -E 'fuzz check failed|ERROR: (Address|Leak|Undefined)|runtime error' \
				"$logs/$t.regress.log" | sed 's/^/      /' >&2 || tail -n 5 "$logs/$t.regress.log" >&2
			skip="${skip:+$skip,}$check"
			known=$((known + 1))
			fail=1
		fi
	done
	# 2. + 3. the seeds, then fuzzing from them
	rm -rf "${work:?}/$t"
	mkdir -p "$work/$t"
	dict=()
	[ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
	rc=0
	BCCFLOW_FUZZ_SKIP="$skip" "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len=4096 -print_final_stats=1 -artifact_prefix="$art/$t-" "${dict[@]}" \
		"$work/$t" "$here/corpus/$t" >"$logs/$t.log" 2>&1 || rc=$?
	# (a target that dies before its first report has no cov: line: grep finds
	# nothing, which must not end this script under pipefail before it says so)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n1)
	cov=$(grep -a -o 'cov: [0-9]*' "$logs/$t.log" | tail -n1 | cut -d' ' -f2 || true)
	if [ "$rc" -ne 0 ]; then
		fail=1
		crash=$(grep -a -o 'Test unit written to .*' "$logs/$t.log" | tail -n1 |
			sed 's/Test unit written to //' || true)
		log "$t: NEW FAILURE after ${execs:-?} executions (input: ${crash:-see log}; log: $logs/$t.log):"
		grep -a -m3 -E 'fuzz check failed|ERROR: |runtime error|SUMMARY' "$logs/$t.log" |
			sed 's/^/      /' >&2 || true
		summary+=("| $t | ${execs:-?} | ${cov:-?} | FAILED: $(grep -a -m1 -E 'fuzz check failed|ERROR: ' "$logs/$t.log" | cut -c1-120) |")
	else
		log "$t: ${execs:-?} executions in ${seconds}s, coverage ${cov:-?}, no new failure${skip:+ (known bugs: $skip)}"
		summary+=("| $t | ${execs:-?} | ${cov:-?} | ok${skip:+ (known: $skip)} |")
	fi
done

if [ -n "$report" ]; then
	{
		echo "# Fuzzing run $(date -u +%F' '%H:%M) UTC"
		echo
		echo "$seconds s per target, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), clang $(clang -dumpversion)."
		echo
		echo "| target | executions | coverage | result |"
		echo "|---|---|---|---|"
		printf '%s\n' "${summary[@]}"
	} >"$report"
	log "report: $report"
fi
if [ "$fail" -ne 0 ]; then
	log "FAILED (inputs under $art, logs under $logs)"
	exit 1
fi
log "all targets passed"

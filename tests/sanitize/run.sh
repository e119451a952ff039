#!/usr/bin/env bash
# Builds bccflow with -DBCCFLOW_SANITIZE=ON (clang: ASan + UBSan, LSan at
# exit) in its own directory, runs the unit tests and an e2e subset against
# the sanitized binary, and fails on any sanitizer report (each process
# writes its reports to BUILD/sanitizer-logs/san.PID; any such file fails
# the run) as well as on any failed test.
#   sudo tests/sanitize/run.sh [--build DIR] [--unit-only] [TEST...]
#   tests/sanitize/run.sh --check-names [TEST...]
#     --build DIR  build directory (default $BCCFLOW_BUILD_DIR/sanitize or
#                  build/sanitize)
#     --unit-only  skip the e2e subset (no root needed)
#     --check-names  only check that every e2e test of the subset exists, then
#                  exit (no root, no build; ctest runs it as sanitize_names)
#     TEST         e2e tests to run instead of the default subset, as
#                  module.Class.test (module = file in tests/e2e)
# A listed e2e test that does not exist (renamed, removed) fails the run
# before anything is built, and so does one that was skipped or not run.
# Leaks proven to be inside libbcc/LLVM would go to tests/sanitize/lsan.supp
# (none is needed today; see there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="${BCCFLOW_BUILD_DIR:-$root/build}/sanitize"
unit_only=0
check_only=0
tests=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build="$2"; shift 2 ;;
	--unit-only) unit_only=1; shift ;;
	--check-names) check_only=1; shift ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
	-*) echo "sanitize: unknown option $1" >&2; exit 2 ;;
	*) tests+=("$1"); shift ;;
	esac
done
log() { printf 'sanitize: %s\n' "$*" >&2; }
# The e2e subset: exact IPv4/IPv6 counting over intervals, signals, -p, a
# closed pipe, eviction and a full table (flow table growth, rehash), bad
# probe files and --ebpf (libbcc/LLVM error paths), faults. A test renamed
# elsewhere must be renamed here too: a missing name fails the run.
[ ${#tests[@]} -gt 0 ] || tests=(
	test_traffic.Traffic.test_ipv4_ipv6_both_directions_several_intervals
	test_traffic.Traffic.test_signals_report_partial_interval_and_exit_0
	test_traffic.Traffic.test_pid_filter_shows_only_that_process
	test_traffic.Traffic.test_closed_pipe_exits_quietly
	test_traffic.Traffic.test_table_rows_exact
	test_exact.Exact.test_closed_flows_are_evicted
	test_exact.Exact.test_full_table_counts_drops
	test_exact.Exact.test_dual_stack_mapped_reported_as_ipv4
	test_cli.Cli.test_bad_probe_files
	test_cli.Cli.test_ebpf_prints_substituted_text_without_loading
	test_faults.Faults.test_stdout_dev_full_exit_1_one_write_error
	test_faults.Faults.test_no_tracefs_mounts_it_and_leaves_no_mount
	test_faults.Faults.test_sigkill_leaves_nothing_and_next_run_works
)

# e2e_tests check|run NAME...: check that each named e2e test exists (every
# missing one is named, exit 1), or run them and fail unless each ran and
# passed (none skipped)
e2e_tests() {
	E2E_DIR="$root/tests/e2e" python3 - "$@" <<'PY'
import importlib, os, sys, unittest
sys.path.insert(0, os.environ["E2E_DIR"])
mode, names = sys.argv[1], sys.argv[2:]
suite = unittest.TestSuite()
missing = []
for name in names:
    try:
        mod, cls, meth = name.split(".")
        klass = getattr(importlib.import_module(mod), cls)
        getattr(klass, meth)
        suite.addTest(klass(meth))
    except (ValueError, AttributeError, ImportError) as e:
        missing.append("%s (%s)" % (name, e))
for name in missing:
    print("sanitize: no such e2e test (renamed? update tests/sanitize/run.sh): %s" % name,
          file=sys.stderr)
if missing or not names:
    sys.exit(1)
if mode == "check":
    print("sanitize: all %d e2e tests of the subset exist" % len(names), file=sys.stderr)
    sys.exit(0)
r = unittest.TextTestRunner(verbosity=2).run(suite)
for test, why in r.skipped:
    print("sanitize: skipped, so not run under the sanitizers: %s (%s)" % (test.id(), why),
          file=sys.stderr)
if r.testsRun != len(names):
    print("sanitize: %d e2e tests listed, %d ran" % (len(names), r.testsRun), file=sys.stderr)
ok = r.wasSuccessful() and not r.skipped and r.testsRun == len(names)
sys.exit(0 if ok else 1)
PY
}
if [ "$check_only" -eq 1 ]; then
	e2e_tests check "${tests[@]}"
	exit
fi
# before anything is built: a renamed test fails the run at once
[ "$unit_only" -eq 1 ] || e2e_tests check "${tests[@]}" || { log "FAILED"; exit 1; }

# clang with the sanitizer runtimes, whichever version the distribution has
# (Debian's clang and libclang-rt-dev name its default)
have_asan() {
	command -v clang >/dev/null &&
		printf 'int main(void){return 0;}\n' |
		clang -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null
}
if ! have_asan; then
	[ "$(id -u)" -eq 0 ] || { log "needs clang (apt-get install clang libclang-rt-dev)"; exit 1; }
	log "installing clang and libclang-rt-dev"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
	have_asan || { log "clang cannot link -fsanitize=address,undefined"; exit 1; }
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DBCCFLOW_SANITIZE=ON >"$build.configure.log" 2>&1 ||
		{ cat "$build.configure.log" >&2; exit 1; }
fi
cmake --build "$build" -j "$(nproc)" -- --no-print-directory >"$build.build.log" 2>&1 ||
	{ tail -n 40 "$build.build.log" >&2; log "build failed"; exit 1; }
# The traffic generator is a test tool, not what is under test: a plain build
# (the sanitized one reports its own exit-time leak; see the report of issue 7).
cc -std=c11 -O2 -Wall -Wextra -o "$build/flowgen-plain" "$root/tests/tools/flowgen.c"

logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
chmod 1777 "$logs"	# a test may run bccflow as nobody
common="halt_on_error=1:print_stacktrace=1:log_path=$logs/san"
export ASAN_OPTIONS="$common:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:detect_invalid_pointer_pairs=0:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="$common"

fail=0
log "unit tests under ASan/UBSan/LSan"
(cd "$build" && ctest -R '^unit_' --output-on-failure) || fail=1

if [ "$unit_only" -eq 0 ]; then
	[ "$(id -u)" -eq 0 ] || { log "the e2e subset needs root (or use --unit-only)"; exit 1; }
	log "e2e subset against $build/bccflow"
	BCCFLOW="$build/bccflow" FLOWGEN="$build/flowgen-plain" \
	COMPILE_PROBE="$build/tests/compile_probe" \
		e2e_tests run "${tests[@]}" || fail=1
fi

reports=$(find "$logs" -type f -size +0c | sort)
if [ -n "$reports" ]; then
	log "sanitizer reports:"
	for f in $reports; do
		echo "---- $f" >&2
		head -n 60 "$f" >&2
	done
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	log "FAILED"
	exit 1
fi
log "passed: no ASan, UBSan or LSan report; every test passed"

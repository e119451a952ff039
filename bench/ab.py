#!/usr/bin/python3
"""Side by side: the probe body's cost per event of several bccflow binaries,
in the same run, rounds interleaved (A B C A B C ...), from the kernel's BPF
statistics (run_time_ns / run_cnt of bccflow's counting programs), while
trafficgen runs a workload. The machine's noise moves every binary alike
within a round; the medians and the spread over rounds are printed.

  sudo bench/ab.py [--rounds N] [--workload W2] [--count 2000000] [--attach B] BIN...

Needs root, bpftool, and bench/build/trafficgen (bench/run.sh builds it).
Loopback only; each bccflow runs with --port 0-free filters off.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFICGEN = os.path.join(HERE, "build", "trafficgen")


def prog_stats():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"]: p for p in json.loads(out or "[]")}


def one(binary, attach, workload, count):
    """ns per run of the counting programs and runs per call, for one bccflow run."""
    before = set(prog_stats())
    m = subprocess.Popen([binary, "--json", "--attach", attach, "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        if '"type":"start"' not in m.stdout.readline():
            raise SystemExit("%s did not start" % binary)
        ours = [i for i, p in prog_stats().items() if i not in before and
                p.get("name", "").startswith(("raw_tracepoint", "tracepoint__sock__sock",
                                              "kretfunc", "kretprobe"))]
        base = prog_stats()
        tg = json.loads(subprocess.run(["taskset", "-c", "1", TRAFFICGEN, "-w", workload,
                                        "-n", str(count)], capture_output=True, text=True,
                                       check=True).stdout)
        after = prog_stats()
    finally:
        m.send_signal(signal.SIGINT)
        m.wait(30)
    ns = sum(after[i].get("run_time_ns", 0) - base[i].get("run_time_ns", 0) for i in ours)
    cnt = sum(after[i].get("run_cnt", 0) - base[i].get("run_cnt", 0) for i in ours)
    return ns / cnt if cnt else float("nan"), cnt / tg["calls"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--workload", default="W2")
    ap.add_argument("--count", type=int, default=2000000)
    ap.add_argument("--attach", default="raw-tracepoint")
    ap.add_argument("binaries", nargs="+")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    if not os.path.exists(TRAFFICGEN):
        raise SystemExit("no %s: run bench/run.sh once, or cc -O2 -o it bench/trafficgen.c"
                         % TRAFFICGEN)
    stats = "/proc/sys/kernel/bpf_stats_enabled"
    with open(stats) as f:
        was = f.read().strip()
    with open(stats, "w") as f:
        f.write("1")
    res = {b: [] for b in a.binaries}
    try:
        for r in range(a.rounds):
            order = a.binaries[r % len(a.binaries):] + a.binaries[:r % len(a.binaries)]
            for b in order:
                ns, per_call = one(b, a.attach, a.workload, a.count)
                res[b].append(ns)
                print("round %d %s: %.1f ns/run (%.2f runs/call)" % (r + 1, b, ns, per_call),
                      file=sys.stderr)
                time.sleep(0.5)
    finally:
        with open(stats, "w") as f:
            f.write(was)
    for b, v in res.items():
        q = statistics.quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
        print("%s: median %.1f ns/run, IQR %.1f-%.1f, %d rounds, %s --attach %s" %
              (b, statistics.median(v), q[0], q[2], len(v), a.workload, a.attach))


if __name__ == "__main__":
    main()

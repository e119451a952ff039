#!/usr/bin/python3
"""bccflow benchmark driver; bench/run.sh builds the tools and calls this.

Standard library only. Runs, interleaved and repeated:
  A. per-call cost: trafficgen workloads W1-W4 (IPv4, IPv6) under each monitor
     (none, bccflow per supported backend, the reference, nethogs), plus
     start-up times, plus BPF program run time per event (kernel bpf_stats);
  B. flow populations (popgen): monitor CPU per interval and drain+print wall
     time at 1k / 10k / 100k flows; steady RSS after 60 s at 10k flows.
Writes results/<date>.json (raw), .md (tables), .dat + .png (plot).

  bench.py run [--quick] --bccflow PATH [--out DIR]
  bench.py report RESULTS.json      (re-render .md/.dat/.png from raw data)
"""
import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MON_CPU = 0          # monitors are pinned here
TRAFFIC_CPU = 1      # trafficgen (both ends) and popgen are pinned here
MAX_FLOWS = 262144   # bccflow --max-flows (the reference keeps the article's 10240)
INTERVAL = 1         # monitor report interval, seconds
WORKLOADS = [(w, f) for w in ("W1", "W2", "W3", "W4") for f in (4, 6)] + [("U1", 4), ("U2", 4)]
POP_FLOWS = [1000, 10000, 100000]
RSS_FLOWS = 10000
NICE = -5            # priority of everything the benchmark runs

PROFILES = {
    # rounds: workload rounds (monitors interleaved in each); reps: runs of
    # each workload per block (the cheapest counts; more for the W1/W2
    # targets); dur: seconds per trafficgen run; bpf_dur: seconds per run with bpf_stats on;
    # pop_rounds: rounds per population; pop_warm/pop_reports: reports
    # skipped / measured per monitor start; pop_cap: seconds a monitor gets to
    # deliver them (nethogs stalls with many flows); rss_s: seconds before
    # the RSS read
    "full": dict(rounds=5, reps={"W1": 3, "W2": 3, "W3": 1, "W4": 1, "U1": 2, "U2": 2}, dur=0.6, bpf_dur=0.5,
                 pop_rounds={1000: 5, 10000: 5, 100000: 3}, pop_warm=1,
                 pop_reports={1000: 4, 10000: 4, 100000: 3}, pop_cap=30, rss_s=60),
    "quick": dict(rounds=2, reps={"W1": 2, "W2": 2, "W3": 1, "W4": 1, "U1": 1, "U2": 1}, dur=0.5, bpf_dur=0.3,
                  pop_rounds={1000: 1, 10000: 1, 100000: 1}, pop_warm=1,
                  pop_reports={1000: 2, 10000: 2, 100000: 2}, pop_cap=20, rss_s=10),
}

children = []  # every process we started and must stop on the way out


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def tool(name):
    d = os.environ.get("BENCH_BUILD", os.path.join(HERE, "build"))
    return os.path.join(d, name)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_pressure():
    try:
        with open("/proc/pressure/cpu") as f:
            return f.readline().strip()
    except OSError:
        return None


# --------------------------------------------------------------------------
# monitors

class Monitor:
    def __init__(self, name, label, kind, argv, markers, start, report, bpf, workloads=None):
        self.name, self.label, self.kind = name, label, kind
        self.argv, self.markers = argv, markers
        self.start, self.report, self.bpf = start, report, bpf
        self.workloads = workloads or WORKLOADS  # calibrations run only W1/W2 IPv4
        self.calibration = kind == "calibration"


def out_prefix(prefix):
    return lambda e: e["stream"] == "out" and e["text"].startswith(prefix)


def err_prefix(prefix):
    return lambda e: e["stream"] == "err" and e["text"].startswith(prefix)


def bccflow_monitor(bccflow, backend):
    return Monitor(
        "bccflow-" + backend, "bccflow (%s)" % backend, "bccflow",
        [bccflow, "--json", "--attach", backend, "--max-flows", str(MAX_FLOWS), str(INTERVAL)],
        ['{"type":"start"', '{"type":"interval"'],
        out_prefix('{"type":"start"'), out_prefix('{"type":"interval"'), True)


def reference_monitor():
    return Monitor(
        "reference", "reference (article design, adapted; maps of 10240)", "reference",
        ["/usr/bin/python3", os.path.join(HERE, "reference", "flow.py"), "--bench",
         str(INTERVAL)],
        [], err_prefix("BENCH attached"), err_prefix("BENCH interval"), True)


def null_monitor(raw):
    """Calibration, not a monitor: empty programs on the same two tracepoints."""
    return Monitor(
        "null-raw-tracepoint" if raw else "null-tracepoint",
        "calibration: empty %s program" % ("raw-tracepoint" if raw else "tracepoint"),
        "calibration",
        ["/usr/bin/python3", os.path.join(HERE, "null_probe.py")] + (["--raw"] if raw else []),
        [], err_prefix("BENCH attached"), err_prefix("BENCH interval"), True,
        [("W1", 4), ("W2", 4)])


def nethogs_monitor(nethogs):
    # stdbuf: nethogs writes through stdio, block-buffered on a pipe
    return Monitor(
        "nethogs", "nethogs -t -C", "nethogs",
        ["stdbuf", "-oL", nethogs, "-t", "-C", "-a", "-d", str(INTERVAL), "lo"],
        ["Refreshing:"], out_prefix("Refreshing:"), out_prefix("Refreshing:"), False)


def task_cpu_ns(pid):
    """CPU of all threads of pid, ns (schedstat); None once it is gone."""
    total, seen = 0, False
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
                seen = True
        except (OSError, ValueError, IndexError):
            pass
    return total if seen else None


def proc_mem(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                    out[k] = int(v.split()[0])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Pss", "Pss_Anon", "Pss_File"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def bpf_prog_stats(pid):
    """{prog_id: (run_time_ns, run_cnt)} for the BPF programs pid holds open."""
    out = {}
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            if "bpf-prog" not in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                continue
            info = {}
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k] = v.strip()
            out[info["prog_id"]] = (int(info["run_time_ns"]), int(info["run_cnt"]))
        except (OSError, KeyError, ValueError):
            pass
    return out


class BpfStats:
    """Kernel BPF run-time statistics while open (BPF_ENABLE_STATS, an fd)."""
    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.create_string_buffer(16)  # enable_stats.type = BPF_STATS_RUN_TIME (0)
        nr_bpf = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)
        self.fd = libc.syscall(nr_bpf, 32, attr, 16)  # 32 = BPF_ENABLE_STATS
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS")

    def close(self):
        os.close(self.fd)


class Run:
    """One monitor process under monwrap, with its timestamped events."""

    def __init__(self, mon, copy=None, env=None):
        argv = [tool("monwrap"), "-c", str(MON_CPU)]
        for m in mon.markers:
            argv += ["-m", m]
        if copy:
            argv += ["-O", copy]
        argv += ["--"] + mon.argv
        self.mon = mon
        self.events, self.pid, self.t_exec, self.exit = [], None, None, None
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True, errors="replace", start_new_session=True,
                                     env=dict(os.environ, **env) if env else None)
        children.append(self)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self.cond:
                if line.startswith("X "):
                    self.t_exec = int(line.split()[1])
                elif line.startswith("P "):
                    self.pid = int(line.split()[1])
                elif line.startswith("E "):
                    p = line.split(" ", 6)
                    self.events.append(dict(t=int(p[1]), stream=p[2], cpu=int(p[3]),
                                            rss=int(p[4]), anon=int(p[5]),
                                            text=p[6] if len(p) > 6 else ""))
                elif line.startswith("Z "):
                    p = line.split()
                    self.exit = dict(t=int(p[1]), status=int(p[2]), cpu=int(p[3]),
                                     maxrss=int(p[4]), out_lines=int(p[5]), out_bytes=int(p[6]))
                self.cond.notify_all()
        with self.cond:
            if self.exit is None:
                self.exit = dict(t=time.monotonic_ns(), status=-1, cpu=0, maxrss=0,
                                 out_lines=0, out_bytes=0)
            self.cond.notify_all()

    def wait_events(self, pred, n, timeout):
        """The first n events matching pred, or None (timeout, or the monitor ended)."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [e for e in self.events if pred(e)]
                if len(got) >= n:
                    return got[:n]
                left = end - time.monotonic()
                if self.exit is not None or left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))

    def stderr_tail(self, n=5):
        with self.cond:
            return [e["text"] for e in self.events if e["stream"] == "err"][-n:]

    def cpu_ns(self):
        return task_cpu_ns(self.pid) if self.pid else None

    def stop(self, timeout=60):
        """SIGINT to the monitor (monwrap ignores it), then SIGKILL to the group if needed.

        monwrap leads its own process group and is reaped only here, so the
        group id cannot have been reused while we signal it."""
        if self.exit is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        self.thread.join(timeout)
        if self.thread.is_alive():
            log("%s did not stop on SIGINT within %d s: killing it" % (self.mon.name, timeout))
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.thread.join(10)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        if self in children:
            children.remove(self)
        return self.exit


def cleanup():
    for c in list(children):
        try:
            if isinstance(c, Run):
                c.stop(timeout=15)
            else:
                c.send_signal(signal.SIGTERM)
                c.wait(30)
        except Exception as e:  # best effort on the way out
            log("cleanup: %s" % e)
    children.clear()


# --------------------------------------------------------------------------
# traffic

def trafficgen(w, fam, dur):
    argv = ["taskset", "-c", str(TRAFFIC_CPU), tool("trafficgen"), "-w", w, "-%d" % fam,
            "-d", "%.3f" % dur]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=dur + 120)
    if p.returncode != 0:
        raise RuntimeError("trafficgen %s/%d failed: %s" % (w, fam, p.stderr.strip()))
    return json.loads(p.stdout)


class Population:
    def __init__(self, flows):
        self.flows = flows
        # not pinned: at 100k flows popgen needs more than what one busy CPU leaves it
        self.proc = subprocess.Popen(
            [tool("popgen"), "-n", str(flows)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        children.append(self.proc)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("popgen -n %d failed to start" % flows)
        self.ready = json.loads(line)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        done = self.proc.stdout.readline()
        self.proc.wait(120)
        children.remove(self.proc)
        return json.loads(done) if done else None


def rotate(seq, r):
    r %= len(seq)
    return seq[r:] + seq[:r]


# --------------------------------------------------------------------------
# phase A: workloads, start-up, BPF program time

def check_exact(copy_path, tgs):
    """bccflow's flow records of the trafficgen pids against trafficgen's own counts."""
    by_pid = {}
    try:
        with open(copy_path) as f:
            for line in f:
                if not line.startswith('{"type":"flow"'):
                    continue
                d = json.loads(line)
                a = by_pid.setdefault(d["pid"], [0, 0])
                a[0] += d["tx_bytes"]
                a[1] += d["rx_bytes"]
    except (OSError, ValueError) as e:
        return dict(ok=False, checked=0, bad=["cannot read bccflow output: %s" % e])
    bad = []
    for t in tgs:
        want = {t["client_pid"]: [t["client_tx_bytes"], t["client_rx_bytes"]],
                t["server_pid"]: [t["client_rx_bytes"], t["client_tx_bytes"]]}
        for pid, (tx, rx) in want.items():
            got = by_pid.get(pid, [0, 0])
            if got != [tx, rx]:
                bad.append("%s/%d pid %d: tx %d rx %d, trafficgen says tx %d rx %d" %
                           (t["workload"], t["family"], pid, got[0], got[1], tx, rx))
    return dict(ok=not bad, checked=len(tgs), bad=bad[:5])


def foreign_progs(own):
    """Ids of tracing BPF programs that are not our monitor's: another user's
    probes on the same calls would add to every measurement while attached."""
    try:
        p = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                           timeout=30)
        progs = json.loads(p.stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []
    kinds = ("tracepoint", "raw_tracepoint", "tracing", "kprobe", "perf_event")
    return sorted(x["id"] for x in progs if x.get("type") in kinds and str(x["id"]) not in own)


def workload_block(P, res, block, r, name, run, workloads=WORKLOADS):
    """Every workload, reps[W] times each, under whatever monitor is running."""
    tgs = []
    own = set(bpf_prog_stats(run.pid)) if run else set()
    plan = []
    for rep in range(max(P["reps"].values())):
        plan += [(w, fam, rep) for w, fam in workloads if rep < P["reps"][w]]
    for w, fam, rep in plan:
        f0 = foreign_progs(own)
        c0 = run.cpu_ns() if run else 0
        t0 = time.monotonic_ns()
        tg = trafficgen(w, fam, P["dur"])
        t1 = time.monotonic_ns()
        c1 = run.cpu_ns() if run else 0
        f1 = foreign_progs(own)
        tgs.append(tg)
        res["workloads"].append(dict(block=block, round=r, rep=rep, monitor=name, workload=w,
                                     family=fam, tg=tg, mon_cpu_ns=(c1 or 0) - (c0 or 0),
                                     wall_ns=t1 - t0, foreign=len(set(f0) | set(f1))))
    return tgs


def bpf_block(P, res, r, name, run, tgs):
    """BPF program run time per event, with the kernel's statistics on (W1, W2)."""
    try:
        stats = BpfStats()
    except OSError as e:
        log("bpf_stats unavailable: %s" % e)
        return
    try:
        for w, fam in run.mon.workloads:
            if w not in ("W1", "W2"):
                continue
            p0 = bpf_prog_stats(run.pid)
            tg = trafficgen(w, fam, P["bpf_dur"])
            p1 = bpf_prog_stats(run.pid)
            tgs.append(tg)
            rt = sum(p1[k][0] - p0.get(k, (0, 0))[0] for k in p1)
            cnt = sum(p1[k][1] - p0.get(k, (0, 0))[1] for k in p1)
            res["bpf"].append(dict(round=r, monitor=name, workload=w, family=fam,
                                   run_time_ns=rt, run_cnt=cnt, calls=tg["calls"]))
    finally:
        stats.close()


def phase_workloads(P, mons, res, tmp):
    """Per round, each monitor's block is preceded by a block with no monitor;
    one more no-monitor block closes the phase. A monitor's cost is measured
    against the no-monitor blocks on both sides of it."""
    block = 0
    for r in range(P["rounds"]):
        for m in rotate(mons, r):
            log("round %d/%d: workloads, no monitor" % (r + 1, P["rounds"]))
            workload_block(P, res, block, r, "none", None, m.workloads)
            block += 1
            log("round %d/%d: workloads under %s" % (r + 1, P["rounds"], m.name))
            copy = os.path.join(tmp, "out-%s-%d.jsonl" % (m.name, r)) if m.kind == "bccflow" else None
            run = Run(m, copy)
            st = run.wait_events(m.start, 1, 180)
            fr = run.wait_events(m.report, 1, 60) if st else None
            if not st or not fr:
                ex = run.stop(timeout=15)
                block += 1  # keep the no-monitor blocks around it apart
                res["failures"].append(dict(phase="workloads", round=r, monitor=m.name,
                                            why="no start/report line", exit=ex,
                                            stderr=run.stderr_tail()))
                log("%s did not start: %s" % (m.name, run.stderr_tail()))
                continue
            if not m.calibration:
                res["startup"].append(dict(round=r, monitor=m.name,
                                           start_s=(st[0]["t"] - run.t_exec) / 1e9,
                                           first_report_s=(fr[0]["t"] - run.t_exec) / 1e9,
                                           rss_kb_at_start=st[0]["rss"]))
            time.sleep(0.2)
            tgs = workload_block(P, res, block, r, m.name, run, m.workloads)
            block += 1
            if m.bpf:
                bpf_block(P, res, r, m.name, run, tgs)
            ex = run.stop(timeout=15 if m.kind == "nethogs" else 60)
            if m.kind == "bccflow":
                chk = check_exact(copy, tgs)
                chk.update(round=r, monitor=m.name)
                res["exactness"].append(chk)
                if not chk["ok"]:
                    log("bccflow byte counts differ from trafficgen's: %s" % chk["bad"][:2])
                os.unlink(copy)
            if ex and ex["status"] not in (0, signal.SIGINT) and m.kind != "nethogs":
                log("%s exited with status %d" % (m.name, ex["status"]))
    log("workloads: closing no-monitor block")
    workload_block(P, res, block, P["rounds"] - 1, "none", None)


# --------------------------------------------------------------------------
# phase B: flow populations

def report_details(m, ev, st):
    """Per-report numbers a monitor's own report line gives."""
    d = {}
    if m.kind == "bccflow":
        j = json.loads(ev["text"])
        tick = st["t"] + j["interval"] * INTERVAL * 10**9
        d.update(interval=j["interval"], seen_flows=j["flows"], tracked=j["tracked"],
                 events=j.get("events"), dropped=j["dropped"], collect_us=j.get("collect_us"),
                 wall_us=(ev["t"] - tick) / 1e3)
    elif m.kind == "reference":
        p = ev["text"].split()
        d.update(interval=int(p[2]), rows=int(p[4]), drain_us=int(p[6]), wall_us=int(p[8]))
    return d


def measure_population(P, m, flows, warm, k, res, r):
    f0 = foreign_progs(set())
    run = Run(m)
    st = run.wait_events(m.start, 1, 180)
    if not st:
        ex = run.stop(timeout=15)
        res["failures"].append(dict(phase="population", flows=flows, round=r, monitor=m.name,
                                    why="no start line", exit=ex, stderr=run.stderr_tail()))
        return
    full = run.wait_events(m.report, warm + k, P["pop_cap"])
    with run.cond:
        reps = [e for e in run.events if m.report(e)][:warm + k]
    t_end, cpu_end = time.monotonic_ns(), run.cpu_ns()
    mem = proc_mem(run.pid)
    f1 = foreign_progs(set(bpf_prog_stats(run.pid)))
    run.stop(timeout=5 if m.kind == "nethogs" else 60)
    for j in range(warm, len(reps)):
        a, b = reps[j - 1] if j else st[0], reps[j]
        rec = dict(round=r, monitor=m.name, flows=flows, index=j,
                   cpu_ns=b["cpu"] - a["cpu"], gap_ns=b["t"] - a["t"], rss_kb=b["rss"],
                   foreign=len(set(f0) | set(f1)))
        rec.update(report_details(m, b, st[0]))
        res["population"].append(rec)
    if not full:
        last = reps[-1] if reps else st[0]
        # the interval in progress has used at least this much CPU already
        res["stalls"].append(dict(round=r, monitor=m.name, flows=flows, reports=len(reps),
                                  window_s=(t_end - st[0]["t"]) / 1e9,
                                  since_last_s=(t_end - last["t"]) / 1e9,
                                  cpu_since_last_ns=(cpu_end or last["cpu"]) - last["cpu"]))
        log("  %s at %d flows: %d of %d reports in %d s" % (m.name, flows, len(reps), warm + k,
                                                           P["pop_cap"]))
    res["pop_mem"].append(dict(round=r, monitor=m.name, flows=flows, mem=mem))


ROUND_EST_S = {1000: 40, 10000: 60, 100000: 90}  # rough cost of one population round


def phase_population(P, mons, res, deadline):
    for i, flows in enumerate(POP_FLOWS):
        log("population: %d flows" % flows)
        pop = Population(flows)
        res["popgen"].append(dict(flows=flows, ready=pop.ready))
        time.sleep(2)
        try:
            for r in range(P["pop_rounds"][flows]):
                # keep within the time budget: extra rounds go first, the first
                # round of every population and the RSS runs are kept
                need = ROUND_EST_S[flows] + sum(ROUND_EST_S[n] + 20 for n in POP_FLOWS[i + 1:])
                if flows <= RSS_FLOWS:
                    need += len(mons) * (P["rss_s"] + 10)
                if r > 0 and deadline and time.time() + need > deadline:
                    log("  time budget: %d of %d rounds at %d flows" % (r, P["pop_rounds"][flows], flows))
                    res["skipped"].append(dict(flows=flows, rounds_done=r,
                                               rounds_planned=P["pop_rounds"][flows]))
                    break
                for m in rotate(mons, r):
                    log("  %d flows, round %d/%d: %s" % (flows, r + 1, P["pop_rounds"][flows], m.name))
                    measure_population(P, m, flows, P["pop_warm"], P["pop_reports"][flows], res, r)
            if flows == RSS_FLOWS:
                for m in mons:
                    log("  steady RSS: %s for %d s at %d flows" % (m.name, P["rss_s"], flows))
                    run = Run(m)
                    st = run.wait_events(m.start, 1, 180)
                    if not st:
                        run.stop()
                        res["failures"].append(dict(phase="rss", monitor=m.name, why="no start"))
                        continue
                    time.sleep(max(0, P["rss_s"] - (time.monotonic_ns() - run.t_exec) / 1e9))
                    mem = proc_mem(run.pid)
                    t = time.monotonic_ns()
                    with run.cond:
                        reps = [e for e in run.events if m.report(e)]
                    run.stop(timeout=5 if m.kind == "nethogs" else 60)
                    res["rss"].append(dict(monitor=m.name, flows=flows,
                                           seconds=(t - run.t_exec) / 1e9, mem=mem,
                                           reports=len(reps)))
        finally:
            done = pop.stop()
            res["popgen"][-1]["done"] = done


# --------------------------------------------------------------------------
# environment

def backend_works(bccflow, backend):
    try:
        p = subprocess.run([bccflow, "--json", "--attach", backend, "1", "1"],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "timed out"
    ok = p.returncode == 0 and '"type":"start"' in p.stdout
    return ok, (p.stderr.strip().splitlines() or [""])[-1]


def other_tracepoint_progs():
    """BPF programs already on the sock tracepoints (other users of the machine)."""
    try:
        p = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                           timeout=30)
        return sum(1 for x in json.loads(p.stdout or "[]")
                   if "sock_send_length" in x.get("name", "") or
                   "sock_recv_length" in x.get("name", ""))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def background_flows(bccflow):
    """Flows other processes on this machine move per second, before we start."""
    try:
        p = subprocess.run([bccflow, "--json", "--attach", "tracepoint", "--max-flows",
                            str(MAX_FLOWS), "1", "3"], capture_output=True, text=True, timeout=120)
        iv = [json.loads(l) for l in p.stdout.splitlines() if l.startswith('{"type":"interval"')]
        return dict(flows=[x["flows"] for x in iv], events=[x.get("events") for x in iv])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def environment(bccflow):
    env = dict(kernel=platform.release(), machine=platform.machine(), cpus=os.cpu_count(),
               loadavg_start=loadavg(), cpu_pressure_start=cpu_pressure(),
               other_sock_tracepoint_progs_start=other_tracepoint_progs())
    try:
        with open("/proc/cpuinfo") as f:
            env["cpu_model"] = next((l.split(":", 1)[1].strip() for l in f
                                     if l.startswith("model name")), "?")
    except OSError:
        pass

    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    env["bccflow"] = bccflow
    env["background"] = background_flows(bccflow)
    env["bccflow_version"] = cmd([bccflow, "--version"])
    env["git_commit"] = cmd(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    env["git_dirty"] = bool(cmd(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "probes"]))
    env["bcc"] = cmd(["dpkg-query", "-W", "-f", "${Version}", "libbpfcc"])
    env["python3_bpfcc"] = cmd(["dpkg-query", "-W", "-f", "${Version}", "python3-bpfcc"])
    env["nethogs"] = cmd(["dpkg-query", "-W", "-f", "${Version}", "nethogs"])
    env["python"] = platform.python_version()
    try:
        with open("/etc/debian_version") as f:
            env["debian"] = f.read().strip()
    except OSError:
        pass
    return env


def run_bench(args):
    if os.geteuid() != 0:
        sys.exit("bench: must run as root")
    # everything started from here (traffic, monitors) runs at this priority,
    # to be disturbed less by other load on a shared machine
    os.setpriority(os.PRIO_PROCESS, 0, NICE)
    P = dict(PROFILES["quick" if args.quick else "full"])
    t_start = time.time()
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    stem = date + ("-quick" if args.quick else "")
    os.makedirs(args.out, exist_ok=True)
    tmp = os.path.join(HERE, "build", "tmp")
    os.makedirs(tmp, exist_ok=True)

    res = dict(profile="quick" if args.quick else "full", params=P, env=environment(args.bccflow),
               monitors=[], backends={}, startup=[], workloads=[], bpf=[], exactness=[],
               population=[], stalls=[], pop_mem=[], popgen=[], rss=[], failures=[], skipped=[])
    res["params"] = dict(P, pop_reports={str(k): v for k, v in P["pop_reports"].items()},
                         pop_rounds={str(k): v for k, v in P["pop_rounds"].items()},
                         interval_s=INTERVAL, max_flows=MAX_FLOWS, monitor_cpu=MON_CPU, nice=NICE,
                         traffic_cpu=TRAFFIC_CPU)
    mons = []
    for b in ("fentry", "kprobe", "raw-tracepoint", "tracepoint"):
        ok, why = backend_works(args.bccflow, b)
        res["backends"][b] = dict(ok=ok, why=why)
        log("bccflow --attach %s: %s" % (b, "works" if ok else "not on this kernel (%s)" % why))
        if ok:
            mons.append(bccflow_monitor(args.bccflow, b))
    mons.append(reference_monitor())
    nethogs = shutil.which("nethogs") or ("/usr/sbin/nethogs" if os.path.exists("/usr/sbin/nethogs") else None)
    if nethogs:
        mons.append(nethogs_monitor(nethogs))
    else:
        log("nethogs not found: skipped")
    res["monitors"] = [dict(name=m.name, label=m.label, kind=m.kind, argv=m.argv) for m in mons]

    calib = [null_monitor(False), null_monitor(True)]
    res["calibrations"] = [dict(name=m.name, label=m.label, kind=m.kind, argv=m.argv) for m in calib]

    def handler(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)
    try:
        if not args.skip_workloads:
            phase_workloads(P, mons + calib, res, tmp)
        if not args.skip_population:
            phase_population(P, mons, res, args.deadline)
    finally:
        cleanup()
        res["env"]["loadavg_end"] = loadavg()
        res["env"]["cpu_pressure_end"] = cpu_pressure()
        res["env"]["duration_s"] = round(time.time() - t_start, 1)
        res["env"]["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        path = os.path.join(args.out, stem + ".json")
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        log("raw results: %s" % path)
    render(path)


# --------------------------------------------------------------------------
# report

def reps_str(P):
    r = P.get("reps", 1)
    return ", ".join("%s×%d" % kv for kv in sorted(r.items())) if isinstance(r, dict) else "×%d" % r


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    if x is None:
        return "n/a"
    if nd == 0:
        return "{:,.0f}".format(x)
    return "{:,.{}f}".format(x, nd)


def cell(xs, nd=0, unit=""):
    if not xs:
        return "n/a"
    return "%s%s [%s–%s]" % (fmt(med(xs), nd), unit, fmt(min(xs), nd), fmt(max(xs), nd))


def ratio(a, b, nd=2):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.*f×" % (nd, a / b)


def mb(kb):
    return None if kb is None else kb / 1024.0


def render(path):
    with open(path) as f:
        res = json.load(f)
    stem = path[:-5]
    mons = [m["name"] for m in res["monitors"]]
    labels = {m["name"]: m["label"] for m in res["monitors"] + res.get("calibrations", [])}
    cal = [m["name"] for m in res.get("calibrations", [])]
    bcc = [m for m in mons if m.startswith("bccflow-")]
    ref = "reference"
    env, P = res["env"], res["params"]
    L = []
    A = L.append

    A("# bccflow benchmark results, %s%s" % (env.get("finished", "?")[:10],
                                             " (quick mode: not for publishing)" if res["profile"] == "quick" else ""))
    A("")
    A("Produced by `sudo bench/run.sh%s` in %s min. Raw data: [`%s`](%s). "
      "Method, tools and caveats: [bench/README.md](../README.md)." %
      (" --quick" if res["profile"] == "quick" else "", fmt(env.get("duration_s", 0) / 60, 1),
       os.path.basename(stem) + ".json", os.path.basename(stem) + ".json"))
    A("")
    A("Every cell is the **median [min–max] over rounds**; the monitors run one after "
      "another, in a rotated order, within each round. Ratios are of medians, bccflow ÷ "
      "reference, same run.")
    A("")

    # ---- environment
    A("## Machine")
    A("")
    A("| | |")
    A("|---|---|")
    A("| kernel | %s (%s), %s CPUs: %s |" % (env.get("kernel"), env.get("machine"), env.get("cpus"), env.get("cpu_model")))
    A("| Debian / BCC / python3-bpfcc / nethogs | %s / %s / %s / %s |" % (env.get("debian"), env.get("bcc"), env.get("python3_bpfcc"), env.get("nethogs")))
    A("| bccflow | `%s` %s, commit %s%s |" % (env.get("bccflow"), env.get("bccflow_version"), env.get("git_commit"), " (src/ or probes/ modified)" if env.get("git_dirty") else ""))
    A("| bccflow backends | %s |" % ", ".join("%s: %s" % (b, "yes" if v["ok"] else "no (%s)" % v["why"].replace("|", "/")) for b, v in res["backends"].items()))
    A("| load average start → end | %s → %s |" % (env.get("loadavg_start"), env.get("loadavg_end")))
    A("| CPU pressure start → end | %s → %s |" % (env.get("cpu_pressure_start"), env.get("cpu_pressure_end")))
    A("| BPF programs of other processes on the sock tracepoints at start | %s |" % env.get("other_sock_tracepoint_progs_start"))
    bg = env.get("background") or {}
    A("| other TCP traffic on the machine before the run (bccflow, 3 × 1 s) | flows per interval %s, socket calls per interval %s |" % (bg.get("flows"), bg.get("events")))
    A("| pinning, priority | monitors on CPU %d; trafficgen (both ends) on CPU %d; popgen not pinned; all at nice %s |" % (P["monitor_cpu"], P["traffic_cpu"], P.get("nice", 0)))
    A("| profile | %s: %d rounds; runs per block %s, %.1f s each; population %s rounds, %s measured reports after %d warm-up; RSS after %d s |" % (
        res["profile"], P["rounds"], reps_str(P), P["dur"], "/".join(str(v) for v in P["pop_rounds"].values()),
        "/".join(str(v) for v in P["pop_reports"].values()), P["pop_warm"], P["rss_s"]))
    A("")
    for sk in res.get("skipped", []):
        A("**Time budget:** %d of %d population rounds were run at %s flows." % (
            sk["rounds_done"], sk["rounds_planned"], fmt(sk["flows"])))
        A("")
    if res["failures"]:
        A("**Failures during the run:**")
        A("")
        for fl in res["failures"]:
            A("- %s %s%s: %s %s" % (fl.get("phase"), fl.get("monitor"),
                                     " @%s flows" % fl["flows"] if "flows" in fl else "",
                                     fl.get("why"), "; ".join(fl.get("stderr") or [])))
        A("")

    # ---- 1. per-call cost
    W_all = res["workloads"]
    # runs during which someone else's tracing BPF programs were loaded do not count
    W = [x for x in W_all if not x.get("foreign")]
    bmon = {x.get("block", x["round"]): x["monitor"] for x in W_all}
    bests, fell_back = {}, set()

    def best_of(metric, clean):
        """Per block and workload: the cheapest of the reps (other load only adds)."""
        if (metric, clean) not in bests:
            b = {}
            for x in (W if clean else W_all):
                k = (x.get("block", x["round"]), x["workload"], x["family"])
                v = x["tg"].get(metric)
                if v is not None:
                    b[k] = min(v, b.get(k, v))
            bests[(metric, clean)] = b
        return bests[(metric, clean)]

    def added_from(best, mon, w, fam):
        def nearest_none(blk, step):
            b = blk + step
            while b in bmon:
                if bmon[b] == "none" and (b, w, fam) in best:
                    return best[(b, w, fam)]
                b += step
            return None
        out = []
        for blk in sorted(bmon):
            if bmon[blk] != mon or (blk, w, fam) not in best:
                continue
            nb = [v for v in (nearest_none(blk, -1), nearest_none(blk, 1)) if v is not None]
            if nb:
                out.append(best[(blk, w, fam)] - statistics.mean(nb))
        return out

    def added(mon, w, fam, metric="cpu_ns_per_call"):
        """Per monitor block: its cost − the mean of the nearest no-monitor blocks around it.
        Runs with someone else's tracing programs loaded are left out, unless that leaves
        fewer than 3 values (then all runs count, and the cell is marked)."""
        out = added_from(best_of(metric, True), mon, w, fam)
        if len(out) < 3:
            every = added_from(best_of(metric, False), mon, w, fam)
            if len(every) > len(out):
                fell_back.add((mon, w, fam, metric))
                return every
        return out

    def acell(mon, w, fam, metric="cpu_ns_per_call"):
        c = cell(added(mon, w, fam, metric))
        return c + (" †" if (mon, w, fam, metric) in fell_back else "")

    def series(mon, w, fam, f):
        for runs in (W, W_all):  # all runs if none is clean
            xs = [f(x) for x in runs if x["monitor"] == mon and x["workload"] == w and x["family"] == fam]
            xs = [v for v in xs if v is not None]
            if xs:
                return xs
        return []

    A("## 1. Added CPU per send/recv call in the traffic processes")
    A("")
    A("ns/call = (CPU of both trafficgen processes ÷ their send+recv calls) with the monitor "
      "− the same without a monitor (getrusage, traffic phase only). Each monitor's block of "
      "runs sits between two no-monitor blocks and is compared with their mean; in each block a "
      "workload's value is the cheapest of its runs (%s, %.1f s each), as other load on the "
      "machine can only add. No-monitor column: median of all no-monitor runs. " % (
          reps_str(P), P["dur"]) +
      "W1 64 B ping-pong (TCP_NODELAY), W2 64 B writes streaming, W3 16 KiB writes, "
      "W4 1 MiB writes; the receiver of W2–W4 reads 128 KiB at a time. UDP: U1 64 B "
      "ping-pong (connected client, unconnected server answering with sendto), U2 64 B "
      "datagrams streaming with a 1-byte acknowledgement every 32 (nethogs runs with -C to "
      "count UDP; the reference counts TCP only, so on U1/U2 it pays its hooks for nothing).")
    A("")
    others = [m for m in mons if m != ref]
    A("| workload | no monitor: ns/call (calls/s) | " + " | ".join("%s: added ns/call" % labels[m] for m in mons + cal) +
      " | " + " | ".join("%s ÷ reference" % labels[m] for m in others + cal) + " |")
    A("|---" * (2 + len(mons + cal) + len(others + cal)) + "|")
    for w, fam in WORKLOADS:
        row = ["%s IPv%d" % (w, fam),
               "%s (%s)" % (fmt(med(series("none", w, fam, lambda x: x["tg"]["cpu_ns_per_call"]))),
                            fmt(med(series("none", w, fam, lambda x: x["tg"]["calls_per_s"]))))]
        for m in mons + cal:
            row.append(acell(m, w, fam))
        for m in others + cal:
            row.append(ratio(med(added(m, w, fam)), med(added(ref, w, fam))))
        A("| " + " | ".join(row) + " |")
    A("")
    A("The reference follows the article and counts IPv4 only: on IPv6 its programs read the "
      "family and return, so its IPv6 numbers are not a like-for-like baseline. The two "
      "calibration columns are not monitors: empty BPF programs on the same two tracepoints "
      "(W1 and W2 over IPv4 only), i.e. what any tool hooked there pays before its probe does "
      "any work, with perf-event tracepoints (as bccflow and the reference attach) and with raw "
      "tracepoints.")
    A("")
    nf = len(W_all) - len(W)
    A("Runs left out because another user's tracing BPF programs were loaded during them "
      "(they would add their own cost): %d of %d. † = too few clean runs were left for that "
      "cell, so it uses all runs." % (nf, len(W_all)))
    A("")
    if any("p10_ns_per_call" in x["tg"] for x in W):
        A("Same measurement with a steadier statistic: each end's run is cut into ~10 ms slices "
          "and the 10th-percentile slice CPU per call is used instead of the run's mean "
          "(trafficgen `p10_ns_per_call`), W1 and W2:")
        A("")
        A("| workload | no monitor: p10 ns/call | " + " | ".join("%s: added" % labels[m] for m in mons + cal) +
          " | " + " | ".join("%s ÷ reference" % labels[m] for m in others + cal) + " |")
        A("|---" * (2 + len(mons + cal) + len(others + cal)) + "|")
        for w, fam in WORKLOADS:
            if w not in ("W1", "W2"):
                continue
            row = ["%s IPv%d" % (w, fam), fmt(med(series("none", w, fam, lambda x: x["tg"].get("p10_ns_per_call"))))]
            for m in mons + cal:
                row.append(acell(m, w, fam, "p10_ns_per_call"))
            for m in others + cal:
                row.append(ratio(med(added(m, w, fam, "p10_ns_per_call")), med(added(ref, w, fam, "p10_ns_per_call"))))
            A("| " + " | ".join(row) + " |")
        A("")

    A("### Monitor's own CPU while the workloads run")
    A("")
    A("Over each monitor block (all its trafficgen runs): the monitor's CPU time as a percentage "
      "of one CPU, and divided by the send/recv calls made in the block. The BPF tools do their "
      "user-space work once per interval, whatever the traffic; nethogs handles every packet.")
    A("")
    A("| monitor | CPU % of one core | CPU ns per traffic call |")
    A("|---|---|---|")
    for m in mons:
        pct, per = [], []
        for blk in sorted({x["block"] for x in W_all if x["monitor"] == m and "block" in x}):
            xs = [x for x in W_all if x.get("block") == blk]
            cpu = sum(x["mon_cpu_ns"] for x in xs)
            pct.append(100.0 * cpu / max(1, sum(x["wall_ns"] for x in xs)))
            per.append(cpu / max(1, sum(x["tg"]["calls"] for x in xs)))
        A("| %s | %s | %s |" % (labels[m], cell(pct, 1, "%"), cell(per, 1)))
    A("")

    B = res["bpf"]
    if B:
        bmons = [m for m in mons if any(x["monitor"] == m for x in B)]
        A("### BPF program run time (kernel `bpf_stats`)")
        A("")
        A("Nanoseconds per program run, from the run_time_ns/run_cnt the kernel keeps per program "
          "while statistics are enabled (separate %.1f s runs; stats add a little to each run). This "
          "is the probe body only; what the tracepoint costs around it is the same for every "
          "tracepoint-based monitor." % P["bpf_dur"])
        A("")
        A("| workload | " + " | ".join("%s: ns/run (runs/call)" % labels[m] for m in bmons) +
          " | " + " | ".join("%s ÷ reference" % labels[m] for m in bmons if m != ref) + " |")
        A("|---" * (1 + len(bmons) + len([m for m in bmons if m != ref])) + "|")
        for w, fam in WORKLOADS:
            row = ["%s IPv%d" % (w, fam)]
            per = {}
            for m in bmons:
                xs = [x for x in B if x["monitor"] == m and x["workload"] == w and x["family"] == fam and x["run_cnt"]]
                ns = [x["run_time_ns"] / x["run_cnt"] for x in xs]
                rpc = [x["run_cnt"] / x["calls"] for x in xs]
                per[m] = med(ns)
                row.append("%s (%s)" % (cell(ns), fmt(med(rpc), 2)))
            for m in bmons:
                if m != ref:
                    row.append(ratio(per.get(m), per.get(ref)))
            A("| " + " | ".join(row) + " |")
        A("")

    if res["exactness"]:
        ok = all(x["ok"] for x in res["exactness"])
        n = sum(x["checked"] for x in res["exactness"])
        A("**bccflow exactness during the runs:** %s (%d trafficgen runs: per-process tx/rx "
          "bytes in bccflow's flow records vs trafficgen's own counts)." %
          ("every byte matched" if ok else "MISMATCH", n))
        for x in res["exactness"]:
            for b in x["bad"]:
                A("- round %d %s: %s" % (x["round"], x["monitor"], b))
        A("")

    # ---- 3. start-up
    S = res["startup"]
    A("## 3. Start-up")
    A("")
    A("From the command's exec to: probes attached (bccflow's JSON `start` line; the "
      "reference's `BENCH attached` line, printed right after `BPF(text=...)` returns; "
      "nethogs's first `Refreshing:`), and to the first report (first interval record / "
      "first printed interval / first `Refreshing:`). Measured at the start of each workload "
      "block, with no trafficgen running.")
    A("")
    A("| monitor | to start (s) | to first report (s) | RSS at start (MB) |")
    A("|---|---|---|---|")
    for m in mons:
        xs = [x for x in S if x["monitor"] == m]
        A("| %s | %s | %s | %s |" % (labels[m], cell([x["start_s"] for x in xs], 3),
                                     cell([x["first_report_s"] for x in xs], 3),
                                     fmt(mb(med([x["rss_kb_at_start"] for x in xs])), 1)))
    A("")

    # ---- 2. populations
    PP = res["population"]
    A("## 2. Monitor cost per interval vs number of flows")
    A("")
    A("popgen keeps N flows active: N/2 loopback connections whose client end sends 64 B once "
      "per second and whose server end reads it, i.e. N sockets each moving bytes every "
      "interval, spread over %s processes (≤ 5,000 connections, 10,001 descriptors each). "
      "CPU per interval = the monitor's CPU time between two consecutive reports "
      "(schedstat, read when the report line arrives). Drain+print wall = from the interval's "
      "tick to the report's last line: bccflow, its scheduled tick (start line + k × interval) "
      "to the arrival of the interval record; the reference, its own timing around "
      "items()/clear()/sort/print/flush (instrumented, printed on stderr). nethogs has no such "
      "hook." % "/".join(str(p["ready"]["workers"]) for p in res["popgen"]))
    A("")

    def per_round(m, n, key):
        out = []
        rounds = sorted({x["round"] for x in PP if x["monitor"] == m and x["flows"] == n})
        for r in rounds:
            xs = [x[key] for x in PP if x["monitor"] == m and x["flows"] == n and x["round"] == r and x.get(key) is not None]
            if xs:
                out.append(statistics.mean(xs))
        return out

    flows_list = sorted({x["flows"] for x in PP})
    A("| flows | " + " | ".join("%s: CPU ms/interval" % labels[m] for m in mons) +
      " | " + " | ".join("%s ÷ reference" % labels[m] for m in others) + " |")
    A("|---" * (1 + len(mons) + len(others)) + "|")
    cpu_med = {}
    ST = res.get("stalls", [])
    flows_list = sorted(set(flows_list) | {x["flows"] for x in ST})
    for n in flows_list:
        row = [fmt(n)]
        for m in mons:
            xs = [v / 1e6 for v in per_round(m, n, "cpu_ns")]
            cpu_med[(m, n)] = med(xs)
            c = cell(xs, 2)
            stl = [x for x in ST if x["monitor"] == m and x["flows"] == n]
            if stl:
                lb = max(x["cpu_since_last_ns"] for x in stl) / 1e6
                note = "%d of %d starts stalled: no report for %s s, ≥ %s ms CPU meanwhile" % (
                    len(stl), P["pop_rounds"].get(str(n), len(stl)),
                    fmt(max(x["since_last_s"] for x in stl), 0), fmt(lb, 0))
                c = note if not xs else c + " (%s)" % note
            row.append(c)
        for m in others:
            row.append(ratio(cpu_med.get((m, n)), cpu_med.get((ref, n)), 3))
        A("| " + " | ".join(row) + " |")
    A("")
    A("| flows | " + " | ".join("%s: drain+print wall ms" % labels[m] for m in mons if m != "nethogs") +
      " | " + " | ".join("%s: collect (drain) ms" % labels[m] for m in bcc) +
      " | reference: items()+clear() ms | flows seen by bccflow | reference rows |")
    A("|---" * (1 + len([m for m in mons if m != "nethogs"]) + len(bcc) + 3) + "|")
    for n in flows_list:
        row = [fmt(n)]
        for m in mons:
            if m != "nethogs":
                row.append(cell([v / 1e3 for v in per_round(m, n, "wall_us")], 2))
        for m in bcc:
            row.append(cell([v / 1e3 for v in per_round(m, n, "collect_us")], 2))
        row.append(cell([v / 1e3 for v in per_round(ref, n, "drain_us")], 1))
        row.append(fmt(med([x["seen_flows"] for x in PP if x["flows"] == n and x["monitor"] in bcc and "seen_flows" in x])))
        row.append(fmt(med([x["rows"] for x in PP if x["flows"] == n and x["monitor"] == ref and "rows" in x])))
        A("| " + " | ".join(row) + " |")
    A("")
    gaps = {m: med([x["gap_ns"] / 1e9 for x in PP if x["monitor"] == m and x["flows"] == max(flows_list or [0])]) for m in mons}
    A("Time between reports at %s flows (interval %d s): %s." % (
        fmt(max(flows_list or [0])), INTERVAL,
        ", ".join("%s %s s" % (labels[m], fmt(gaps[m], 2)) for m in mons)))
    A("")
    A("![monitor CPU per interval vs flows](%s)" % (os.path.basename(stem) + ".png"))
    A("")

    # ---- 4. RSS
    R = res["rss"]
    A("## 4. Steady memory after %d s at %s flows" % (P["rss_s"], fmt(RSS_FLOWS)))
    A("")
    A("From /proc/PID/status and smaps_rollup. RssFile is mostly shared library text "
      "(libLLVM/libclang for both BCC tools); PSS divides shared pages among their users.")
    A("")
    A("| monitor | VmRSS MB | RssAnon MB | RssFile MB | PSS MB | reports seen |")
    A("|---|---|---|---|---|---|")
    rss = {}
    for x in R:
        mm = x["mem"]
        rss[x["monitor"]] = mm
        A("| %s | %s | %s | %s | %s | %d |" % (labels[x["monitor"]], fmt(mb(mm.get("VmRSS")), 1),
                                              fmt(mb(mm.get("RssAnon")), 1), fmt(mb(mm.get("RssFile")), 1),
                                              fmt(mb(mm.get("Pss")), 1), x["reports"]))
    A("")

    # ---- targets
    A("## Targets (issue 4)")
    A("")
    A("| target | measured | verdict |")
    A("|---|---|---|")
    verdicts = []
    for m in bcc:
        for w in ("W1", "W2"):
            a, b = med(added(m, w, 4)), med(added(ref, w, 4))
            ok = a is not None and b is not None and a > 0 and b > 0 and a / b <= 0.5
            verdicts.append(("added ns/call ≤ 0.5× reference, %s IPv4 (%s)" % (w, labels[m]),
                             "%s vs %s ns = %s" % (fmt(a), fmt(b), ratio(a, b)),
                             ("met" if ok else "missed by %.2f× (needs %s ns or less)" % (a / b / 0.5, fmt(0.5 * b)) if a and b and a > 0 and b > 0 else "not measurable (noise: a median ≤ 0)")))
        a, b = cpu_med.get((m, 10000)), cpu_med.get((ref, 10000))
        ok = a is not None and b and a / b <= 0.1
        verdicts.append(("CPU/interval ≤ 0.1× reference at 10k flows (%s)" % labels[m],
                         "%s vs %s ms = %s" % (fmt(a, 2), fmt(b, 2), ratio(a, b, 3)),
                         "met" if ok else ("missed by %.1f×" % (a / b / 0.1) if a and b else "n/a")))
        a10, a100 = cpu_med.get((m, 10000)), cpu_med.get((m, 100000))
        if a10 and a100:
            slope = math.log10(a100 / a10)
            r10 = [v / 1e6 for v in per_round(m, 10000, "cpu_ns")]
            r100 = [v / 1e6 for v in per_round(m, 100000, "cpu_ns")]
            lo, hi = min(r100) / max(r10), max(r100) / min(r10)
            if slope <= 1.0:
                verdict = "met"
            elif lo <= 10:
                verdict = "on the limit: ×%.1f is within the rounds' spread (×%.1f–×%.1f)" % (a100 / a10, lo, hi)
            else:
                verdict = "missed (slope %.2f > 1)" % slope
            verdicts.append(("grows no worse than linearly 10k → 100k (%s)" % labels[m],
                             "%s → %s ms: ×%.1f for ×10 flows (log-log slope %.2f); %s → %s µs per flow" % (
                                 fmt(a10, 2), fmt(a100, 2), a100 / a10, slope,
                                 fmt(1000 * a10 / 10000, 2), fmt(1000 * a100 / 100000, 2)),
                             verdict))
        st = [x["start_s"] for x in S if x["monitor"] == m]
        if st:
            verdicts.append(("start-up to `start` line ≤ 1.5 s (%s)" % labels[m],
                             "median %s s, max %s s" % (fmt(med(st), 3), fmt(max(st), 3)),
                             "met" if med(st) <= 1.5 else "missed by %s s" % fmt(med(st) - 1.5, 3)))
        a, b = rss.get(m, {}).get("VmRSS"), rss.get(ref, {}).get("VmRSS")
        if a and b:
            verdicts.append(("steady RSS ≤ 0.5× reference (%s)" % labels[m],
                             "%s vs %s MB = %s" % (fmt(mb(a), 1), fmt(mb(b), 1), ratio(a, b)),
                             "met" if a / b <= 0.5 else "missed by %.2f× (needs ≤ %s MB)" % (a / b / 0.5, fmt(mb(0.5 * b), 1))))
    for t, v, d in verdicts:
        A("| %s | %s | **%s** |" % (t, v, d))
    A("")

    # ---- data behind the verdicts
    A("### Why, in numbers")
    A("")

    def body(mon, w, fam):
        xs = [x["run_time_ns"] / x["run_cnt"] for x in B
              if x["monitor"] == mon and x["workload"] == w and x["family"] == fam and x["run_cnt"]]
        return med(xs)
    for m in bcc:
        for w in ("W1", "W2"):
            a, b = med(added(m, w, 4)), med(added(ref, w, 4))
            bm, br = body(m, w, 4), body(ref, w, 4)
            fl = {c: med(added(c, w, 4)) for c in cal}
            ap, bp = med(added(m, w, 4, "p10_ns_per_call")), med(added(ref, w, 4, "p10_ns_per_call"))
            A("- **%s IPv4, added ns/call**: %s %s ns, reference %s ns (slice p10: %s vs %s). "
              "Probe bodies (bpf_stats): %s %s ns per event, reference %s ns (%s). "
              "Empty programs on the same hooks: %s." % (
                  w, labels[m], fmt(a), fmt(b), fmt(ap), fmt(bp), labels[m], fmt(bm), fmt(br),
                  ratio(bm, br), "; ".join("%s %s ns/call" % (labels[c], fmt(v)) for c, v in fl.items())))
    a_rss, b_rss = rss.get(bcc[0] if bcc else "", {}), rss.get(ref, {})
    if a_rss and b_rss:
        A("- **RSS**: %s %s MB = %s MB file-backed (RssFile: shared-library pages, mostly libLLVM "
          "and libclang code touched while compiling the probe) + %s MB anonymous; reference %s MB "
          "= %s MB file-backed + %s MB anonymous. Anonymous memory alone: %s." % (
              labels[bcc[0]], fmt(mb(a_rss.get("VmRSS")), 1), fmt(mb(a_rss.get("RssFile")), 1),
              fmt(mb(a_rss.get("RssAnon")), 1), fmt(mb(b_rss.get("VmRSS")), 1),
              fmt(mb(b_rss.get("RssFile")), 1), fmt(mb(b_rss.get("RssAnon")), 1),
              ratio(a_rss.get("RssAnon"), b_rss.get("RssAnon"))))
    A("")
    notes = stem + ".notes.md"  # hand-written analysis of this run, kept across re-renders
    if os.path.exists(notes):
        with open(notes) as f:
            A(f.read().rstrip("\n"))
        A("")

    md = stem + ".md"
    with open(md, "w") as f:
        f.write("\n".join(L))
    # plot data: flows, then median/min/max CPU ms per interval per monitor
    # plot data: x = flows seen by bccflow (other users' flows included), then
    # median/min/max CPU ms per interval per monitor
    def seen(n):
        return med([x["seen_flows"] for x in PP if x["flows"] == n and "seen_flows" in x]) or n
    dat = stem + ".dat"
    with open(dat, "w") as f:
        f.write("# flows_seen " + " ".join("%s_med %s_min %s_max" % (m, m, m) for m in mons) +
                "  (populations: %s)\n" % " ".join(str(n) for n in flows_list))
        for n in flows_list:
            cols = ["%d" % seen(n)]
            for m in mons:
                xs = [v / 1e6 for v in per_round(m, n, "cpu_ns")]
                cols += ["%.4f" % med(xs), "%.4f" % min(xs), "%.4f" % max(xs)] if xs else ["NaN"] * 3
            f.write(" ".join(cols) + "\n")
    k = (cpu_med.get((mons[0], 10000)) or 0) / seen(10000)
    plot(dat, stem + ".png", [labels[m] for m in mons], k)
    log("report: %s" % md)


def plot(dat, png, titles, k):
    gp = os.path.join(HERE, "plot.gp")
    if not shutil.which("gnuplot"):
        log("gnuplot not installed: no plot (apt-get install gnuplot-nox)")
        return
    args = "datafile='%s'; outfile='%s'; n=%d; k=%g" % (dat, png, len(titles), k)
    for i, t in enumerate(titles):
        args += "; t%d='%s'" % (i + 1, t.replace("'", ""))
    p = subprocess.run(["gnuplot", "-e", args, gp], capture_output=True, text=True)
    if p.returncode:
        log("gnuplot failed: %s" % p.stderr.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--bccflow", required=True)
    r.add_argument("--out", default=os.path.join(HERE, "results"))
    r.add_argument("--deadline", type=float, default=0,
                   help="Unix time by which to be done: drops extra population rounds")
    r.add_argument("--skip-workloads", action="store_true", help="development: population only")
    r.add_argument("--skip-population", action="store_true", help="development: workloads only")
    p = sub.add_parser("report")
    p.add_argument("json")
    args = ap.parse_args()
    if args.cmd == "run":
        try:
            run_bench(args)
        except KeyboardInterrupt:
            sys.exit("bench: interrupted")
    else:
        render(args.json)


if __name__ == "__main__":
    main()

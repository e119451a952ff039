#!/usr/bin/env python3
"""Soak verdicts (bench/soak.sh): exactness against soakgen's truth, and
whether bccflow's RSS, tracked flows and CPU stayed flat.

  analyze.py WORKDIR REPORT.md PLOT.png

WORKDIR holds truth.jsonl (soakgen), bccflow.jsonl (bccflow --json),
samples.csv (one line a minute: minute,rss_kib,cpu_s,cpu_pct,tracked,...)
and meta.txt. Exit 0 only if every check passed.
"""
import collections
import json
import os
import subprocess
import sys


def load_truth(path):
    truth = collections.defaultdict(lambda: [0, 0])
    kinds = collections.Counter()
    summary = None
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] == "summary":
                summary = r
                continue
            kinds[r["kind"]] += 1
            t = truth[(r["pid"], r["lport"], r["rport"])]
            t[0] += r["rx"]
            t[1] += r["tx"]
    return truth, kinds, summary


def load_bccflow(path, truth):
    got = collections.defaultdict(lambda: [0, 0])
    last_total = {}
    intervals = []
    start = None
    with open(path) as f:
        for line in f:
            if '"type":"flow"' in line:
                r = json.loads(line)
                if r["laddr"] != "127.0.0.1" or r["raddr"] != "127.0.0.1":
                    continue
                k = (r["pid"], r["lport"], r["rport"])
                if k in truth:
                    g = got[k]
                    g[0] += r["rx_bytes"]
                    g[1] += r["tx_bytes"]
                    last_total[k] = (r["rx_total"], r["tx_total"])
            elif '"type":"interval"' in line:
                intervals.append(json.loads(line))
            elif '"type":"start"' in line:
                start = json.loads(line)
    return got, last_total, intervals, start


def read_samples(path):
    rows = []
    with open(path) as f:
        head = f.readline().strip().split(",")
        for line in f:
            v = line.strip().split(",")
            if len(v) == len(head):
                rows.append({h: float(x) for h, x in zip(head, v)})
    return rows


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    work, report, plot = sys.argv[1:4]
    meta = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(work, "meta.txt")))
    truth, kinds, summary = load_truth(os.path.join(work, "truth.jsonl"))
    got, last_total, ivs, start = load_bccflow(os.path.join(work, "bccflow.jsonl"), truth)
    samples = read_samples(os.path.join(work, "samples.csv"))
    checks = []

    # exactness: every flow end of the generator, summed interval bytes
    missing = [k for k in truth if k not in got and truth[k] != [0, 0]]
    wrong = [k for k in truth if k in got and got[k] != truth[k]]
    t_rx = sum(v[0] for v in truth.values())
    t_tx = sum(v[1] for v in truth.values())
    g_rx = sum(v[0] for v in got.values())
    g_tx = sum(v[1] for v in got.values())
    dropped = sum(r["dropped"] for r in ivs)
    exact = not missing and not wrong and (t_rx, t_tx) == (g_rx, g_tx)
    checks.append(("exact bytes, every flow (%d distinct flow keys)" % len(truth), exact,
                   "truth rx/tx %d/%d, bccflow %d/%d; %d missing, %d differ"
                   % (t_rx, t_tx, g_rx, g_tx, len(missing), len(wrong))))
    checks.append(("no drops", dropped == 0, "%d events dropped" % dropped))
    gen_ok = summary is not None and summary.get("rc") == 0
    checks.append(("load generator exact and complete", gen_ok,
                   "soakgen rc %s" % (summary or {}).get("rc")))

    # flatness after a warm-up (the first 2 intervals fill the table)
    warm = [s for s in samples if s["minute"] > 2]
    if len(warm) >= 3:
        xs = [s["minute"] for s in warm]
        rss = [s["rss_kib"] / 1024 for s in warm]
        trk = [s["tracked"] for s in warm]
        cpu = [s["cpu_pct"] for s in warm]
        third = max(1, len(warm) // 3)
        rss_first, rss_last = max(rss[:third]), max(rss[-third:])
        rss_slope_h = slope(xs, rss) * 60
        trk_mean = sum(trk) / len(trk)
        trk_slope_h = slope(xs, trk) * 60
        cpu_first = sum(cpu[:third]) / third
        cpu_last = sum(cpu[-third:]) / third
        checks.append(("RSS flat", rss_last <= rss_first * 1.05 + 2,
                       "max %.1f MiB in the first third, %.1f MiB in the last; min %.1f, max %.1f; "
                       "least-squares trend %+.1f MiB/h over %d samples"
                       % (rss_first, rss_last, min(rss), max(rss), rss_slope_h, len(warm))))
        checks.append(("tracked flows flat", abs(trk_slope_h) * len(warm) / 60 <= 0.1 * trk_mean + 100,
                       "mean %.0f, min %.0f, max %.0f; trend %+.0f flows/h"
                       % (trk_mean, min(trk), max(trk), trk_slope_h)))
        checks.append(("CPU not growing", cpu_last <= cpu_first * 1.25 + 0.5,
                       "mean %.2f%% of a core in the first third, %.2f%% in the last"
                       % (cpu_first, cpu_last)))
    else:
        checks.append(("enough samples for trends", False, "%d samples after warm-up" % len(warm)))

    ok = all(c[1] for c in checks)
    # the plot
    dat = os.path.join(work, "samples.dat")
    with open(dat, "w") as f:
        for s in samples:
            f.write("%g %g %g %g\n" % (s["minute"], s["rss_kib"] / 1024, s["tracked"], s["cpu_pct"]))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak.gp")
    subprocess.run(["gnuplot", "-e", "datafile='%s'; outfile='%s'; ttl='%s'"
                    % (dat, plot, "bccflow soak, %s min, %s" % (meta.get("minutes"), meta.get("date"))),
                    gp], check=True)

    with open(report, "w") as f:
        f.write("# bccflow soak %s\n\n" % meta.get("date"))
        f.write("%s (%s)\n\n" % ("PASSED" if ok else "FAILED", meta.get("mode")))
        f.write("- %s min, bccflow `%s` (commit %s, attach %s), kernel %s, %s cores\n"
                % (meta.get("minutes"), meta.get("bccflow_args"), meta.get("commit"),
                   (start or {}).get("attach"), meta.get("kernel"), meta.get("cores")))
        f.write("- load (soakgen): %s long-lived connections = %s flows over 2 processes, "
                "%s new short connections/s from short-lived processes; %d long and %d short "
                "flow ends in the truth (a server end's key repeats when a client port is reused, "
                "so there are fewer distinct keys; both sides are summed per key)\n" % (meta.get("conns"), 2 * int(meta.get("conns", 0)),
                                              meta.get("rate"), kinds["long"], kinds["short"]))
        f.write("- sampled every minute: bccflow's RSS (VmRSS), CPU (utime+stime, % of one core "
                "over the minute), tracked flows (`tracked` of the last interval record)\n\n")
        f.write("| check | result | detail |\n|---|---|---|\n")
        for name, passed, detail in checks:
            f.write("| %s | %s | %s |\n" % (name, "ok" if passed else "**FAILED**", detail))
        f.write("\n![soak](%s)\n\n" % os.path.basename(plot))
        f.write("| minute | RSS MiB | CPU % | tracked | flows in interval | evicted | events | "
                "collect ms |\n|---|---|---|---|---|---|---|---|\n")
        for s in samples:
            f.write("| %d | %.1f | %.2f | %d | %d | %d | %d | %.1f |\n"
                    % (s["minute"], s["rss_kib"] / 1024, s["cpu_pct"], s["tracked"], s["flows"],
                       s["evicted"], s["events"], s["collect_us"] / 1000))
        if missing or wrong:
            f.write("\nFirst differences (pid, lport, rport: truth vs bccflow):\n\n")
            for k in (missing + wrong)[:20]:
                f.write("- %s: %s vs %s\n" % (k, truth[k], got.get(k)))
    for name, passed, detail in checks:
        print("soak: %-40s %s  %s" % (name, "ok" if passed else "FAILED", detail))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

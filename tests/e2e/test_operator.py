"""Operator features (issue 5): in-kernel filters, --by aggregation,
sorting and row limits with an 'others' row, units and rates, screen mode,
CSV. Every number is compared exactly with what flowgen really moved."""
import csv
import fcntl
import io
import json
import os
import pty
import random
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import (AUTO_ATTACH, BCCFLOW, FLOWGEN, E2ETest, Monitor, expected_flows, flow_sums,  # noqa: E402
                 flowgen, largest_filters)

CGROUP2 = next((p for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                if os.path.exists(os.path.join(p, "cgroup.procs")) and
                subprocess.run(["stat", "-f", "-c", "%T", p], capture_output=True,
                               text=True).stdout.strip() == "cgroup2fs"), None)


def names():
    """A unique client/server comm pair, so other traffic never matches."""
    tag = "%04x" % random.randrange(1 << 16)
    return "op-cli-" + tag, "op-srv-" + tag


def gen(cli, srv, *args):
    return flowgen("--client-comm", cli, "--server-comm", srv, *args)


class Filters(E2ETest):
    def only(self, recs, conns, **kw):
        """Flows seen are exactly the expected ones (comm-tagged), with exact bytes."""
        got = flow_sums(recs)
        want = expected_flows(conns, kw.get("mapped", True))
        tagged = {k for k, v in got.items() if v["recs"][-1]["comm"].startswith("op-")}
        self.assertEqual(tagged, set(want))
        self.assertFlowsExact(recs, conns, kw.get("mapped", True))

    def test_comm_filter(self):
        cli, srv = names()
        m = Monitor("--comm", cli, "1")
        conns = gen(cli, srv, "--tx", 70001, "--rx", 5003, "-n", 2)
        gen(*names(), "--tx", 999)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        recs = m.records()
        self.assertEqual({r["comm"] for r in recs if r["type"] == "flow"}, {cli})
        got = flow_sums(recs)
        for key, (rx, tx, comm) in expected_flows(conns).items():
            if comm == cli:
                self.assertEqual((got[key]["rx"], got[key]["tx"]), (rx, tx))

    def test_port_filter(self):
        cli, srv = names()
        m = Monitor("--port", "1,2", "1")  # no flow uses ports 1 or 2
        gen(cli, srv, "--tx", 1000)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        self.assertEqual(m.records("flow"), [])
        # the server's port, known only once flowgen listens: filter on its client
        # side instead by running a second monitor on a fixed-port listener
        import socket
        l = socket.socket()
        l.bind(("127.0.0.1", 0))
        port = l.getsockname()[1]
        l.listen()
        m = Monitor("--port", str(port), "1")
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = l.accept()
        c.sendall(b"p" * 4321)
        n = 0
        while n < 4321:
            n += len(a.recv(65536))
        gen(cli, srv, "--tx", 1000)  # other ports: filtered out
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        for s in (c, a, l):
            s.close()
        flows = m.records("flow")
        self.assertTrue(flows)
        self.assertTrue(all(port in (r["lport"], r["rport"]) for r in flows))
        self.assertEqual(sum(r["tx_bytes"] for r in flows), 4321)
        self.assertEqual(sum(r["rx_bytes"] for r in flows), 4321)

    def test_largest_filter_set_counts_exactly(self):
        """All filters at their maximum load and pass exactly the traffic that
        matches all of them: this process, its listener's port, loopback."""
        import socket
        comm = open("/proc/self/comm").read().strip()
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with self.subTest(family=fam):
                l = socket.socket(fam)
                l.bind((host, 0))
                port = l.getsockname()[1]
                l.listen()
                m = Monitor(*largest_filters(os.getpid(), port, comm), "1")
                c = socket.create_connection((host, port))
                a, _ = l.accept()
                for src, dst, size in ((c, a, 54321), (a, c, 1234)):
                    src.sendall(b"q" * size)
                    n = 0
                    while n < size:
                        n += len(dst.recv(65536))
                gen(*names(), "--tx", 1000)  # other processes and ports: filtered out
                time.sleep(1.2)
                self.assertEqual(m.stop(), 0)
                for s in (c, a, l):
                    s.close()
                flows = m.records("flow")
                self.assertEqual({r["pid"] for r in flows}, {os.getpid()})
                self.assertEqual(sum(r["tx_bytes"] for r in flows), 54321 + 1234)
                self.assertEqual(sum(r["rx_bytes"] for r in flows), 54321 + 1234)

    def test_addr_filters_and_families(self):
        cases = [
            (["--raddr", "127.0.0.0/8", "--laddr", "127.0.0.1"], ["4", "mapped"], ["6"]),
            (["--raddr", "::1/128"], ["6"], ["4", "mapped"]),
            (["-4"], ["4", "mapped"], ["6"]),
            (["-6"], ["6"], ["4", "mapped"]),
            (["--laddr", "10.0.0.0/8"], [], ["4", "6", "mapped"]),
        ]
        for args, seen, unseen in cases:
            with self.subTest(args=args):
                m = Monitor(*args, "1")
                conns = {}
                for fam in ("4", "6", "mapped"):
                    cli, srv = names()
                    conns[fam] = gen(cli, srv, "-f", fam, "--tx", 20000 + len(fam), "--rx", 300)
                time.sleep(1.2)
                self.assertEqual(m.stop(), 0)
                recs = m.records()
                got = flow_sums(recs)
                for fam in seen:
                    self.assertFlowsExact(recs, conns[fam])
                for fam in unseen:
                    for key in expected_flows(conns[fam]):
                        self.assertNotIn(key, got, fam)

    @unittest.skipUnless(CGROUP2, "no cgroup v2 hierarchy")
    def test_cgroup_filter(self):
        cg = tempfile.mkdtemp(prefix="bccflow-test-", dir=CGROUP2)
        try:
            m = Monitor("--cgroup", cg, "1")
            cli, srv = names()
            script = 'echo $$ > %s/cgroup.procs && exec "$@"' % cg
            p = subprocess.run(["sh", "-c", script, "sh", FLOWGEN, "--client-comm", cli,
                                "--server-comm", srv, "--tx", "54321", "--rx", "1234"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            inside = [json.loads(l) for l in p.stdout.splitlines()]
            outside = gen(*names(), "--tx", 777)
            time.sleep(1.2)
            self.assertEqual(m.stop(), 0)
            recs = m.records()
            self.assertFlowsExact(recs, inside)
            got = flow_sums(recs)
            for key in expected_flows(outside):
                self.assertNotIn(key, got)
        finally:
            time.sleep(0.2)
            os.rmdir(cg)


class Aggregation(E2ETest):
    def run_by(self, by, *extra):
        m = Monitor("--by", by, *extra, "1")
        cli, srv = names()
        conns = gen(cli, srv, "-n", 3, "--tx", 10000, "--rx", 2000, "--step", 100)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        return m.records(), conns, cli, srv

    def sums(self, recs, field, value):
        rows = [r for r in recs if r["type"] == "group" and r.get(field) == value]
        return (sum(r["rx_bytes"] for r in rows), sum(r["tx_bytes"] for r in rows),
                rows[-1] if rows else None)

    def test_by_comm(self):
        recs, conns, cli, srv = self.run_by("comm")
        rx, tx, last = self.sums(recs, "comm", cli)
        self.assertEqual((rx, tx), (sum(c["client_rx"] for c in conns),
                                    sum(c["client_tx"] for c in conns)))
        self.assertEqual((last["rx_total"], last["tx_total"]), (rx, tx))
        self.assertEqual(last["flows"], 3)
        self.assertEqual(last["by"], "comm")
        rx, tx, _ = self.sums(recs, "comm", srv)
        self.assertEqual(tx, sum(c["server_tx"] for c in conns))

    def test_by_pid(self):
        recs, conns, cli, _ = self.run_by("pid")
        rx, tx, last = self.sums(recs, "pid", conns[0]["client_pid"])
        self.assertEqual((rx, tx), (sum(c["client_rx"] for c in conns),
                                    sum(c["client_tx"] for c in conns)))
        self.assertEqual(last["comm"], cli)

    def test_by_lport(self):
        recs, conns, _, _ = self.run_by("lport")
        rx, tx, last = self.sums(recs, "lport", conns[0]["server_port"])
        self.assertEqual((rx, tx), (sum(c["server_rx"] for c in conns),
                                    sum(c["server_tx"] for c in conns)))
        self.assertEqual(last["flows"], 3)

    def test_by_raddr(self):
        recs, _, _, _ = self.run_by("raddr")
        groups = [r for r in recs if r["type"] == "group"]
        self.assertTrue(all(set(r) >= {"family", "raddr", "flows"} for r in groups))
        ivs = {r["interval"]: r for r in recs if r["type"] == "interval"}
        for k, iv in ivs.items():
            rows = [r for r in groups if r["interval"] == k]
            self.assertEqual(sum(r["tx_bytes"] for r in rows), iv["tx_bytes"])

    def test_rows_others_and_sort(self):
        m = Monitor("-r", "2", "--sort", "tx", "1")
        cli, srv = names()
        gen(cli, srv, "-n", 6, "--tx", 1000, "--rx", 50, "--step", 1000)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        recs = m.records()
        for iv in [r for r in recs if r["type"] == "interval" and r["flows"] > 2]:
            rows = [r for r in recs if r.get("interval") == iv["interval"] and
                    r["type"] in ("flow", "others")]
            self.assertEqual(len(rows), 3)
            self.assertEqual(rows[-1]["type"], "others")
            self.assertEqual(rows[-1]["flows"], iv["flows"] - 2)
            self.assertGreaterEqual(rows[0]["tx_bytes"], rows[1]["tx_bytes"])
            self.assertEqual(sum(r["tx_bytes"] for r in rows), iv["tx_bytes"])
            self.assertEqual(sum(r["rx_bytes"] for r in rows), iv["rx_bytes"])


def bpf_stats_sysctl():
    """kernel.bpf_stats_enabled. It shows only what was written to it, not the
    statistics a process holds on with BPF_ENABLE_STATS (as bccflow does):
    those are seen in the process's descriptors and its programs' run counts."""
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        return f.read().strip()


def bpf_fds(pid):
    """pid's BPF descriptors: how many hold the statistics on (bpf-stats), and
    the runs its programs counted (each bpf-prog's fdinfo run_cnt, which the
    kernel counts only while the statistics are on, for anyone's programs)."""
    stats = runs = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            if link == "anon_inode:bpf-stats":
                stats += 1
            elif link == "anon_inode:bpf-prog":
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    runs += sum(int(l.split()[1]) for l in f if l.startswith("run_cnt:"))
        except FileNotFoundError:
            continue
    return stats, runs


class Output(E2ETest):
    def test_own_cost_reported(self):
        """With --bpf-stats each interval says what bccflow itself cost: its
        BPF programs' run time and runs (the kernel's statistics, on only
        while it runs) and its own CPU."""
        self.assertEqual(bpf_stats_sysctl(), "0", "the statistics are on by sysctl")
        m = Monitor("--bpf-stats", "1")
        cli, srv = names()
        gen(cli, srv, "--tx", 200000, "--rx", 3000)
        stats, runs = bpf_fds(m.proc.pid)
        self.assertEqual(stats, 1, "bccflow holds the statistics on")
        self.assertGreater(runs, 0, "its programs' runs are counted")
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0, m.err)
        self.assertFalse([l for l in m.err if "statistics" in l], m.err)  # no warning
        ivs = m.records("interval")
        self.assertTrue(all(iv["bpf_runs"] >= iv["events"] for iv in ivs), ivs)
        busy = [iv for iv in ivs if iv["events"]]
        self.assertTrue(busy)
        for iv in busy:
            self.assertGreater(iv["bpf_run_ns"], iv["bpf_runs"], iv)  # at least 1 ns a run
            self.assertLess(iv["bpf_run_ns"], 100000 * iv["bpf_runs"], iv)  # < 100 us a run
        self.assertTrue(any(iv["cpu_ns"] > 0 for iv in ivs))
        # off again after exit: another bccflow's programs run uncounted
        self.assertEqual(bpf_stats_sysctl(), "0")
        self.assert_stats_off_while_running()

    def test_own_cost_without_bpf_stats(self):
        """By default the kernel's statistics stay off (they are global): the
        BPF numbers are unknown, null with their keys kept; the CPU is
        there."""
        self.assertEqual(bpf_stats_sysctl(), "0", "the statistics are on by sysctl")
        self.assert_stats_off_while_running()

    def assert_stats_off_while_running(self):
        """A bccflow without --bpf-stats, with traffic: no statistics on
        anywhere, its BPF numbers null."""
        m = Monitor("1")
        cli, srv = names()
        gen(cli, srv, "--tx", 200000, "--rx", 3000)
        m.wait_intervals(1)
        stats, runs = bpf_fds(m.proc.pid)
        self.assertEqual(bpf_stats_sysctl(), "0")
        self.assertEqual(stats, 0, "no statistics held")
        self.assertEqual(runs, 0, "nobody has the statistics on: runs go uncounted")
        self.assertEqual(m.stop(), 0, m.err)
        self.assertFalse([l for l in m.err if "statistics" in l], m.err)
        ivs = m.records("interval")
        self.assertTrue(ivs)
        for iv in ivs:
            self.assertIn("bpf_run_ns", iv)
            self.assertIn("bpf_runs", iv)
            self.assertIsNone(iv["bpf_run_ns"], iv)
            self.assertIsNone(iv["bpf_runs"], iv)
            self.assertIsInstance(iv["cpu_ns"], int)
        self.assertTrue(any(iv["events"] for iv in ivs), ivs)
        self.assertTrue(any(iv["cpu_ns"] > 0 for iv in ivs), ivs)

    def test_csv_exact(self):
        m = Monitor("--csv", "1", json_mode=False)
        cli, srv = names()
        conns = gen(cli, srv, "--tx", 33333, "--rx", 4444, "-f", "6")
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        rows = list(csv.DictReader(io.StringIO("\n".join(m.lines) + "\n")))
        self.assertEqual(m.lines[0], "interval,ts,pid,comm,family,laddr,lport,raddr,rport,"
                         "netns,cgroup,container,proto,rx_bytes,tx_bytes,rx_total,tx_total")
        c = conns[0]
        mine = [r for r in rows if r["comm"] == cli]
        self.assertEqual(sum(int(r["tx_bytes"]) for r in mine), c["client_tx"])
        self.assertEqual(sum(int(r["rx_bytes"]) for r in mine), c["client_rx"])
        self.assertEqual((mine[-1]["laddr"], mine[-1]["raddr"], mine[-1]["family"]),
                         ("::1", "::1", "6"))
        self.assertEqual(int(mine[-1]["tx_total"]), c["client_tx"])

    def test_units_and_rate(self):
        m = Monitor("--units", "B", "--rate", "-C", "2", json_mode=False)
        cli, srv = names()
        conns = gen(cli, srv, "--tx", 100000, "--rx", 5000)
        time.sleep(2.2)
        self.assertEqual(m.stop(), 0)
        head = next(l for l in m.lines if l.startswith("PID")).split()
        self.assertEqual(head[2:9], ["RX_B", "TX_B", "RX_B/s", "TX_B/s", "RXSUM_B", "TXSUM_B",
                                     "SUM_B"])
        rows = [l.split() for l in m.lines if cli in l.split()[1:2]]
        self.assertEqual(sum(int(r[3]) for r in rows), 100000)
        self.assertEqual(rows[-1][6:9], [str(conns[0]["client_rx"]), "100000",
                                         str(100000 + conns[0]["client_rx"])])
        # rate = bytes / real interval length (about 2 s)
        for r in rows:
            if int(r[3]):
                self.assertAlmostEqual(int(r[5]) / (int(r[3]) / 2.0), 1.0, delta=0.2)

    def test_screen_mode_on_a_terminal_only(self):
        pid, fd = pty.fork()
        if pid == 0:
            # wide enough for the whole status line (tests/e2e/test_screen.py
            # tests the screen itself)
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
            os.execv(BCCFLOW, [BCCFLOW, "1", "2"])
        out = b""
        deadline = time.time() + 60
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        os.waitpid(pid, 0)
        self.assertIn(b"\x1b[H\x1b[2J", out)
        self.assertIn(b"attach " + AUTO_ATTACH.encode(), out)
        p = subprocess.run([BCCFLOW, "1", "2"], capture_output=True, timeout=60)
        self.assertNotIn(b"\x1b", p.stdout)
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BCCFLOW, [BCCFLOW, "-C", "1", "1"])
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.waitpid(pid, 0)
        self.assertNotIn(b"\x1b[2J", out)


if __name__ == "__main__":
    unittest.main()

"""Core numbers: exact per-flow bytes over IPv4 and IPv6, both directions,
across several intervals; -p; the article's table; --probe; signals."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import (AUTO_ATTACH, BCCFLOW, MONITOR_ATTACH, E2ETest, Monitor, flow_sums,  # noqa: E402
                 flowgen)

# A process whose pid we know before it makes traffic: waits for a line on
# stdin, then sends 123457 bytes and receives 65432 over IPv4 loopback.
CHILD = r"""
import socket, sys
sys.stdin.readline()
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
c.sendall(b"x" * 123457); n = 0
while n < 123457: n += len(a.recv(1 << 16))
a.sendall(b"y" * 65432); n = 0
while n < 65432: n += len(c.recv(1 << 16))
print(c.getsockname()[1], a.getsockname()[1], flush=True)
"""


class Traffic(E2ETest):
    def test_ipv4_ipv6_both_directions_several_intervals(self):
        m = Monitor("1")
        conns = []
        for fam in ("4", "6"):
            conns += flowgen("-f", fam, "-n", 3, "--tx", 300001, "--rx", 200003, "--step", 7,
                             "--rounds", 3, "--period-ms", 1100)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertEqual(recs[0]["type"], "start")
        self.assertEqual(recs[0]["attach"], MONITOR_ATTACH)
        self.assertIsNone(recs[0]["pid_filter"])
        self.assertFlowsExact(recs, conns)
        self.assertIntervalsAddUp(recs)
        # bytes were spread over several intervals, and each flow's totals grew
        got = flow_sums(recs)
        c = conns[0]
        key = (c["client_pid"], "127.0.0.1", c["client_port"], "127.0.0.1", c["server_port"])
        self.assertGreaterEqual(len(got[key]["recs"]), 3)
        totals = [r["tx_total"] for r in got[key]["recs"]]
        self.assertEqual(totals, sorted(totals))
        v6 = [r for r in recs if r["type"] == "flow" and r["laddr"] == "::1"]
        self.assertTrue(v6 and all(r["family"] == 6 for r in v6))

    def test_pid_filter_shows_only_that_process(self):
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            m = Monitor("-p", str(child.pid), "1")
            child.stdin.write("go\n")
            child.stdin.flush()
            cport, sport = map(int, child.stdout.readline().split())
            flowgen("--tx", 5000, "--rx", 5000)  # other traffic, must not show
            time.sleep(1.2)
            self.assertEqual(m.stop(), 0)
        finally:
            child.kill()
            child.wait()
        recs = m.records()
        self.assertEqual(recs[0]["pid_filter"], child.pid)
        flows = flow_sums(recs)
        self.assertEqual({k[0] for k in flows}, {child.pid})
        self.assertEqual(flows[(child.pid, "127.0.0.1", cport, "127.0.0.1", sport)]["tx"], 123457)
        self.assertEqual(flows[(child.pid, "127.0.0.1", cport, "127.0.0.1", sport)]["rx"], 65432)
        self.assertEqual(flows[(child.pid, "127.0.0.1", sport, "127.0.0.1", cport)]["rx"], 123457)
        self.assertEqual(flows[(child.pid, "127.0.0.1", sport, "127.0.0.1", cport)]["tx"], 65432)

    def test_article_table(self):
        p = subprocess.run([BCCFLOW, "1", "1"], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines()[0].split(),
                         "PID COMM RX_KB TX_KB RXSUM_KB TXSUM_KB SUM_KB LADDR RADDR".split())
        self.assertIn("with %s " % AUTO_ATTACH, p.stderr)

    def test_table_rows_exact(self):
        m = Monitor("2", json_mode=False)
        conns = flowgen("--tx", 102400, "--rx", 1536, "--rounds", 2, "--period-ms", 2100)
        time.sleep(2.2)
        self.assertEqual(m.stop(), 0)
        c = conns[0]
        rows = [l.split() for l in m.lines
                if re.match(r"^%d\s" % c["client_pid"], l) and
                l.split()[7] == "127.0.0.1:%d" % c["client_port"]]
        self.assertGreaterEqual(len(rows), 2)
        # interval KB sum to the truth; the last row's sums are the totals
        self.assertAlmostEqual(sum(float(r[3]) for r in rows), 100.0, places=1)
        self.assertEqual(rows[-1][1], "fg-client")
        self.assertEqual(rows[-1][4:7], ["1.50", "100.00", "101.50"])
        self.assertEqual(rows[-1][8], "127.0.0.1:%d" % c["server_port"])
        headers = [l for l in m.lines if l.startswith("PID")]
        self.assertGreaterEqual(len(headers), 2)

    def test_probe_file_is_used(self):
        """--probe compiles the given text: a copy that doubles tx shows it."""
        src = os.path.join(os.path.dirname(__file__), "..", "..", "probes", "flow.bpf.c")
        with open(src) as f:
            text = f.read()
        self.assertIn("lock_xadd(&val->tx_bytes, bytes);", text)
        text = text.replace("lock_xadd(&val->tx_bytes, bytes);",
                            "lock_xadd(&val->tx_bytes, 2 * bytes);")
        with tempfile.NamedTemporaryFile("w", suffix=".bpf.c") as f:
            f.write(text)
            f.flush()
            m = Monitor("--probe", f.name, "1")
            conns = flowgen("--tx", 1000, "--rx", 10)
            time.sleep(1.2)
            self.assertEqual(m.stop(), 0)
        c = conns[0]
        got = flow_sums(m.records())
        key = (c["client_pid"], "127.0.0.1", c["client_port"], "127.0.0.1", c["server_port"])
        self.assertEqual((got[key]["tx"], got[key]["rx"]), (2000, 10))

    def test_signals_report_partial_interval_and_exit_0(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig):
                m = Monitor("60")  # no interval ends by itself during the test
                t0 = time.monotonic()
                conns = flowgen("--tx", 77777, "--rx", 3333)
                rc = m.stop(sig)
                self.assertEqual(rc, 0, m.err)
                self.assertLess(time.monotonic() - t0, 30)
                recs = m.records()
                self.assertEqual(recs[-1]["type"], "interval")
                self.assertEqual(recs[-1]["interval"], 1)
                self.assertFlowsExact(recs, conns)

    def test_sigterm_with_a_stalled_reader_still_exits(self):
        """A reader that stops reading (pipe full) cannot keep bccflow alive."""
        p = subprocess.Popen([BCCFLOW, "--json", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdout.readline()
        flowgen("-n", 300, "--tx", 10, "--rounds", 3, "--period-ms", 1000)  # > 64 KiB of JSON
        p.terminate()
        t0 = time.monotonic()
        rc = p.wait(timeout=30)
        err = p.stderr.read().decode()
        p.stdout.close()
        p.stderr.close()
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(rc, 1, err)
        self.assertIn("stdout was not being read", err)

    def test_closed_pipe_exits_quietly(self):
        p = subprocess.run("%s --json 1 | head -n 1" % BCCFLOW, shell=True, capture_output=True,
                           text=True, timeout=120)
        self.assertIn('"type":"start"', p.stdout)
        self.assertNotIn("error", p.stderr.lower())
        self.assertNotIn("cannot", p.stderr.split("trying the next method")[-1])

    def test_count_ends_run(self):
        m = Monitor("1", "3")
        self.assertEqual(m.wait_exit(30), 0)
        ivs = m.records("interval")
        self.assertEqual([r["interval"] for r in ivs], [1, 2, 3])


if __name__ == "__main__":
    unittest.main()

"""UDP (issue 14): every datagram byte per process and remote endpoint,
exact against what the sockets' own calls returned (tests/tools/udpgen.c),
and against real clients nobody here wrote: iperf3 -u and dig against
dnsmasq. Loopback only."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import E2ETest, Monitor, flowgen  # noqa: E402

UDPGEN = os.environ.get("UDPGEN", "build/tests/udpgen")


def udpgen(*args):
    out = subprocess.run([UDPGEN] + [str(a) for a in args], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def fold(a):
    return a[7:] if a.startswith("::ffff:") else a


def truth_sums(truth):
    """udpgen's flows summed by key: a port reused by a later socket is one flow."""
    want = {}
    for t in truth:
        s = want.setdefault((t["pid"], fold(t["laddr"]), t["lport"], fold(t["raddr"]),
                             t["rport"]), [0, 0])
        s[0] += t["rx"]
        s[1] += t["tx"]
    return want


def sums(recs, proto="udp"):
    """Per (pid, laddr, lport, raddr, rport) of one protocol: [rx, tx] over the intervals."""
    got = {}
    for r in recs:
        if r["type"] == "flow" and r["proto"] == proto:
            k = (r["pid"], r["laddr"], r["lport"], r["raddr"], r["rport"])
            s = got.setdefault(k, [0, 0])
            s[0] += r["rx_bytes"]
            s[1] += r["tx_bytes"]
    return got


class Udp(E2ETest):
    def run_gen(self, *args, monitor=("1",), settle=1.5):
        m = Monitor(*monitor)
        truth = udpgen(*args)
        time.sleep(settle)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertIntervalsAddUp(recs)
        return truth, recs

    def assertExact(self, truth, recs):
        got = sums(recs)
        want = truth_sums(truth)
        for k, v in want.items():
            self.assertIn(k, got, "flow %s missing; have %s" % (k, sorted(got)[:20]))
            self.assertEqual(got[k], v, "bytes of %s" % (k,))
        pids = {t["pid"] for t in truth}
        self.assertEqual({k for k in got if k[0] in pids}, set(want),
                         "flows of udpgen beyond the truth")

    def test_connected_client_unconnected_server(self):
        truth, recs = self.run_gen("connected")
        self.assertExact(truth, recs)

    def test_unconnected_ipv6_socket_to_two_peers(self):
        truth, recs = self.run_gen("multi6")
        self.assertEqual(len({(t["raddr"], t["rport"]) for t in truth if t["tx"]}), 2)
        self.assertExact(truth, recs)

    def test_sendmmsg_recvmmsg(self):
        truth, recs = self.run_gen("mmsg")
        self.assertExact(truth, recs)

    def test_msg_peek_not_counted(self):
        truth, recs = self.run_gen("peek")
        self.assertExact(truth, recs)

    def test_full_receive_buffer_counts_what_was_received(self):
        truth, recs = self.run_gen("full")
        rx = [t["rx"] for t in truth if t["rx"]][0]
        self.assertLess(rx, 400000, "the receiver's buffer did not overflow")
        self.assertExact(truth, recs)

    def test_many_short_lived_endpoints_evicted_without_loss(self):
        m = Monitor("1")
        truth = udpgen("many", 300)
        # the clients closed: their flows go at once; the server's per-peer
        # flows once idle (UDP_IDLE_INTERVALS = 5)
        deadline = time.time() + 30
        while time.time() < deadline:
            ivs = [r for r in m.records("interval")]
            if len(ivs) > 8 and ivs[-1]["evicted"] == 0 and ivs[-2]["evicted"] == 0 \
                    and sum(r["evicted"] for r in ivs) >= len(truth_sums(truth)):
                break
            time.sleep(0.5)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertExact(truth, recs)
        ivs = [r for r in recs if r["type"] == "interval"]
        # (a client port the kernel hands out again is the same flow)
        self.assertGreaterEqual(sum(r["evicted"] for r in ivs), len(truth_sums(truth)), ivs[-3:])
        self.assertLess(ivs[-1]["tracked"], 50, ivs[-3:])

    def test_proto_filter(self):
        for proto in ("udp", "tcp"):
            with self.subTest(proto=proto):
                m = Monitor("--proto", proto, "1")
                truth = udpgen("connected")
                conns = flowgen("--tx", 30001, "--rx", 20002)
                time.sleep(1.5)
                self.assertEqual(m.stop(), 0, m.err)
                recs = m.records()
                self.assertEqual({r["proto"] for r in recs if r["type"] == "flow"}, {proto})
                if proto == "udp":
                    self.assertExact(truth, recs)
                else:
                    self.assertEqual(sums(recs), {})
                    self.assertFlowsExact(recs, conns)

    @unittest.skipUnless(shutil.which("iperf3"), "needs iperf3")
    def test_iperf3_udp(self):
        port = 15301
        srv = subprocess.Popen(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port), "-1", "-J"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: (srv.kill(), srv.wait()))
        time.sleep(0.5)
        m = Monitor("--proto", "udp", "1")
        cli = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-u", "-b", "20M",
                              "-l", "1200", "-n", "3M", "-J"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        sj = json.loads(srv.communicate(timeout=30)[0])
        cj = json.loads(cli.stdout)
        time.sleep(1.5)
        self.assertEqual(m.stop(), 0, m.err)
        got = sums(m.records())
        sent = cj["end"]["sum"]["bytes"]
        received = sj["end"]["sum_received"]["bytes"]
        # iperf3 -u opens the test with one 4-byte datagram each way (its UDP
        # "connect" message and reply), which its byte counts leave out
        hello = 4
        tx = sum(v[1] for k, v in got.items() if k[4] == port)
        rx = sum(v[0] for k, v in got.items() if k[2] == port)
        back = sum(v[1] for k, v in got.items() if k[2] == port)
        self.assertEqual((tx, rx, back), (sent + hello, received + hello, hello))
        self.assertGreater(received, 0)

    @unittest.skipUnless(shutil.which("dnsmasq") and shutil.which("dig"), "needs dnsmasq, dig")
    def test_dig_against_dnsmasq(self):
        port = 15353
        d = subprocess.Popen(["dnsmasq", "-k", "-C", "/dev/null", "--port", str(port),
                              "--listen-address", "127.0.0.1", "--bind-interfaces",
                              "--no-resolv", "--no-hosts", "--pid-file=",
                              "--address=/bccflow.test/192.0.2.7", "--user=root"],
                             stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (d.kill(), d.wait()))
        time.sleep(0.5)
        m = Monitor("--proto", "udp", "1")
        query = answer = 0
        pids = set()
        for i in range(20):
            p = subprocess.Popen(["dig", "@127.0.0.1", "-p", str(port), "+noedns",
                                  "+tries=1", "+time=2", "n%d.bccflow.test" % i, "A"],
                                 stdout=subprocess.PIPE, text=True)
            out = p.communicate(timeout=10)[0]
            pids.add(p.pid)
            self.assertIn("192.0.2.7", out)
            for line in out.splitlines():  # ";; MSG SIZE  rcvd: N" is the answer's size
                if "MSG SIZE" in line:
                    answer += int(line.split()[-1])
            query += 12 + len("n%d.bccflow.test" % i) + 2 + 4
        time.sleep(1.5)
        self.assertEqual(m.stop(), 0, m.err)
        got = sums(m.records())
        dig = [v for k, v in got.items() if k[0] in pids]
        self.assertEqual(sum(v[1] for v in dig), query)
        self.assertEqual(sum(v[0] for v in dig), answer)
        srv = [v for k, v in got.items() if k[2] == port]
        self.assertEqual(sum(v[0] for v in srv), query)
        self.assertEqual(sum(v[1] for v in srv), answer)


if __name__ == "__main__":
    unittest.main()

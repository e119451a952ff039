"""Exact accounting (issue 3): every byte once, on every path the kernel
offers here, compared with what the sockets really moved."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import E2ETest, Monitor, expected_flows, flow_sums, flowgen  # noqa: E402

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sockpeers.py")


def key(c, side, mapped=True):
    """The flow key of one side of a flowgen connection."""
    ks = [k for k in expected_flows([c], mapped)
          if k[0] == c["%s_pid" % side] and k[2] == c["%s_port" % side]]
    return ks[0]


class Exact(E2ETest):
    def run_traffic(self, *fg_args, monitor_args=("1",)):
        m = Monitor(*monitor_args)
        conns = flowgen(*fg_args)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertIntervalsAddUp(recs)
        return conns, recs

    def test_msg_waitall_receiver(self):
        conns, recs = self.run_traffic("--tx", 4000000, "--chunk", 1000, "--recv", "waitall",
                                       "--recv-size", 1000000)
        self.assertEqual(conns[0]["server_rx"], 4000000)
        self.assertFlowsExact(recs, conns)

    def test_so_rcvlowat_receiver(self):
        conns, recs = self.run_traffic("--tx", 3000000, "--chunk", 1000, "--lowat", 65536)
        self.assertFlowsExact(recs, conns)

    def test_msg_peek_not_counted(self):
        conns, recs = self.run_traffic("--tx", 500000, "--rx", 70000, "--peek")
        self.assertFlowsExact(recs, conns)

    def test_nonblocking_sender_eagain_and_partial(self):
        conns, recs = self.run_traffic("--tx", 2000000, "--rx", 1000000, "--send", "nonblock",
                                       "--chunk", 65536)
        self.assertGreater(conns[0]["eagain"], 0, "the test must provoke EAGAIN")
        self.assertGreater(conns[0]["partial"], 0, "the test must provoke partial sends")
        self.assertFlowsExact(recs, conns)

    def test_sendfile(self):
        conns, recs = self.run_traffic("--tx", 3000017, "--rx", 100003, "--send", "sendfile")
        self.assertFlowsExact(recs, conns)

    def test_splice(self):
        conns, recs = self.run_traffic("--tx", 2000029, "--rx", 90001, "--send", "splice")
        self.assertFlowsExact(recs, conns)

    def test_no_loss_between_intervals_64_flows(self):
        conns, recs = self.run_traffic("-n", 64, "--tx", 240000, "--rx", 120000, "--step", 13,
                                       "--chunk", 4096, "--rounds", 13, "--period-ms", 500)
        self.assertFlowsExact(recs, conns)
        flows = flow_sums(recs)
        spans = [len({r["interval"] for r in flows[key(c, "client")]["recs"]}) for c in conns]
        self.assertGreaterEqual(min(spans), 6, "each flow must span 6 intervals")

    def test_dual_stack_mapped_reported_as_ipv4(self):
        conns, recs = self.run_traffic("-f", "mapped", "--tx", 40000, "--rx", 30000)
        c = conns[0]
        self.assertTrue(c["server_addr"].startswith("::ffff:"))
        self.assertFlowsExact(recs, conns, mapped_v4=True)
        server = flow_sums(recs)[key(c, "server")]["recs"][-1]
        self.assertEqual((server["family"], server["laddr"], server["raddr"]),
                         (4, "127.0.0.1", "127.0.0.1"))

    def test_dual_stack_raw_with_no_map_v4(self):
        conns, recs = self.run_traffic("-f", "mapped", "--tx", 40000, "--rx", 30000,
                                       monitor_args=("--no-map-v4", "1"))
        c = conns[0]
        self.assertFlowsExact(recs, conns, mapped_v4=False)
        server = flow_sums(recs)[key(c, "server", mapped=False)]["recs"][-1]
        self.assertEqual((server["family"], server["laddr"], server["raddr"]),
                         (6, "::ffff:127.0.0.1", "::ffff:127.0.0.1"))

    def test_exited_process_still_reported(self):
        conns, recs = self.run_traffic("--tx", 500000, "--client-exit-early",
                                       monitor_args=("3",))
        c = conns[0]
        with self.assertRaises(ProcessLookupError):
            os.kill(c["client_pid"], 0)
        f = flow_sums(recs)[key(c, "client")]
        self.assertEqual((f["tx"], f["recs"][-1]["comm"]), (500000, "fg-client"))
        self.assertFlowsExact(recs, conns)

    def test_closed_flows_are_evicted(self):
        # --comm: only this test's flows, whatever else the machine does
        m = Monitor("--comm", "fg-evict", "1")
        conns = flowgen("-n", 50, "--tx", 1000, "--rx", 1000, "--client-comm", "fg-evict",
                        "--server-comm", "fg-evict")
        m.wait_intervals(len(m.records("interval")) + 3)
        self.assertEqual(m.stop(), 0)
        recs = m.records()
        self.assertFlowsExact(recs, conns)
        ivs = [r for r in recs if r["type"] == "interval"]
        self.assertEqual(sum(r["evicted"] for r in ivs), 100)
        self.assertEqual(max(r["tracked"] for r in ivs), 100)
        self.assertEqual(ivs[-1]["tracked"], 0, "closed flows must leave the table")

    def peers(self, *args, monitor_args=("1",)):
        """Runs sockpeers.py under bccflow (-p its pid is unknown before: all flows)."""
        m = Monitor(*monitor_args)
        p = subprocess.run([sys.executable, PEERS] + list(args), capture_output=True,
                           text=True, timeout=300, check=True)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertIntervalsAddUp(recs)
        return json.loads(p.stdout), flow_sums(recs)

    def test_socket_shared_with_a_forked_child(self):
        # the parent's socket entry must not take the child's bytes
        r, got = self.peers("shared")
        lo = "127.0.0.1"
        want = {(r["parent"], lo, r["cport"], lo, r["sport"]): (0, 1001 + 4004),
                (r["child"], lo, r["cport"], lo, r["sport"]): (3003, 2002),
                (r["parent"], lo, r["sport"], lo, r["cport"]): (1001 + 2002 + 4004, 3003)}
        for k, (rx, tx) in want.items():
            self.assertIn(k, got)
            self.assertEqual((got[k]["rx"], got[k]["tx"]), (rx, tx), k)
            self.assertEqual((got[k]["rx_total"], got[k]["tx_total"]), (rx, tx), k)

    def test_reused_socket_memory_keeps_flows_apart(self):
        # closed sockets' memory is handed to the next connection at once
        r, got = self.peers("churn", "1500")
        lo, pid = "127.0.0.1", r["pid"]
        for c in r["conns"]:
            ck = (pid, lo, c["cport"], lo, c["sport"])
            sk = (pid, lo, c["sport"], lo, c["cport"])
            self.assertIn(ck, got)
            self.assertEqual((got[ck]["rx"], got[ck]["tx"]), (c["rx"], c["tx"]), ck)
            self.assertEqual((got[sk]["rx"], got[sk]["tx"]), (c["tx"], c["rx"]), sk)
        self.assertEqual(len([k for k in got if k[0] == pid]), 2 * 1500)

    def test_comm_filter_holds_per_thread_on_a_known_socket(self):
        # cm-other writes on a socket whose entry cm-main made: not counted
        r, got = self.peers("threads", monitor_args=("--comm", "cm-main", "1"))
        lo = "127.0.0.1"
        c = got[(r["pid"], lo, r["cport"], lo, r["sport"])]
        s = got[(r["pid"], lo, r["sport"], lo, r["cport"])]
        self.assertEqual((c["rx"], c["tx"]), (0, 1111 + 3333))
        self.assertEqual((s["rx"], s["tx"]), (1111 + 2222 + 3333, 0))
        self.assertEqual(c["recs"][-1]["comm"], "cm-main")

    def test_full_table_counts_drops(self):
        m = Monitor("--max-flows", "16", "--comm", "fg-full", "1")
        conns = flowgen("-n", 40, "--tx", 1000, "--rx", 1000, "--hold-ms", 1500,
                        "--client-comm", "fg-full", "--server-comm", "fg-full")
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        recs = m.records()
        self.assertIntervalsAddUp(recs)
        ivs = m.records("interval")
        dropped = sum(r["dropped"] for r in ivs)
        self.assertGreater(dropped, 0)
        self.assertEqual(sum(r["dropped_bytes"] for r in ivs) % 1000, 0)
        self.assertTrue(any("flow table full" in e for e in m.err), m.err)
        # every flow that got a slot is exact; flows + dropped cover all traffic
        got = flow_sums(recs)
        counted = 0
        for c in conns:
            for side in ("client", "server"):
                if key(c, side) in got:
                    f = got[key(c, side)]
                    self.assertEqual((f["rx"], f["tx"]), (1000, 1000))
                    counted += 2000
        self.assertEqual(counted + sum(r["dropped_bytes"] for r in ivs), 40 * 4000)

    def test_scale_19800_flows(self):
        t0 = time.monotonic()
        m = Monitor("1")
        conns = flowgen("-n", 9900, "--tx", 100, "--rx", 50, "--step", 1, "--hold-ms", 2500)
        time.sleep(1.2)
        hwm = 0
        with open("/proc/%d/status" % m.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        self.assertEqual(m.stop(), 0)
        recs = m.records()
        self.assertEqual(len(conns), 9900)
        self.assertEqual(len({c["client_tx"] for c in conns}), 9900)
        self.assertFlowsExact(recs, conns)
        self.assertIntervalsAddUp(recs)
        self.assertEqual(sum(r["dropped"] for r in recs if r["type"] == "interval"), 0)
        print("\nscale: 19800 flows exact in %.1f s, bccflow peak RSS %d KiB"
              % (time.monotonic() - t0, hwm), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()

"""Shared helpers for bccflow's end-to-end tests (run as root, real kernel).

The tests run the real binary, make loopback traffic with exactly known byte
counts (tests/tools/flowgen.c) and compare bccflow's numbers exactly.
"""
import json
import os
import signal
import subprocess
import threading
import time
import unittest

BCCFLOW = os.environ.get("BCCFLOW", "build/bccflow")
FLOWGEN = os.environ.get("FLOWGEN", "build/tests/flowgen")
NSFLOWS = os.environ.get("NSFLOWS", "build/tests/nsflows")
COMPILE_PROBE = os.environ.get("COMPILE_PROBE", "build/tests/compile_probe")
START_TIMEOUT = 90
# What --attach auto picks on our machines (no kprobes, no fentry); ctest also
# runs some suites with BCCFLOW_E2E_ATTACH=tracepoint, which Monitor passes on.
AUTO_ATTACH = "tp-btf"
E2E_ATTACH = os.environ.get("BCCFLOW_E2E_ATTACH")
MONITOR_ATTACH = E2E_ATTACH or AUTO_ATTACH


def bpf_ids(kind):
    """Ids of loaded BPF objects of a kind ('prog', 'link', 'map')."""
    out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True,
                         check=True).stdout
    return {o["id"] for o in json.loads(out or "[]")}


def loaded_snapshot():
    return {k: bpf_ids(k) for k in ("prog", "link")}


def held_ids():
    """Prog and link ids that living processes hold an fd for (fdinfo): the
    objects of other tools still running are theirs, not leaks."""
    held = {"prog": set(), "link": set()}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fdinfo = "/proc/%s/fdinfo" % pid
        try:
            fds = os.listdir(fdinfo)
        except OSError:
            continue
        for fd in fds:
            try:
                with open(os.path.join(fdinfo, fd)) as f:
                    for line in f:
                        if line.startswith(("prog_id:", "link_id:")):
                            kind = "prog" if line[0] == "p" else "link"
                            held[kind].add(int(line.split()[1]))
            except OSError:
                pass
    return held


def largest_filters(pid=1, port=1001, comm="abcdefghijklmno"):
    """The most of every filter the options allow (16 pids, 16 ports, 8+8
    networks of both families, a 15-byte comm), letting pid, port and
    loopback (IPv4, mapped and ::1) through."""
    pids = [pid] + [p for p in range(2, 40) if p != pid][:15]
    ports = [port] + [p for p in range(1001, 1040) if p != port][:15]
    nets = ["127.0.0.0/8", "::ffff:127.0.0.0/104", "::1/128", "10.0.0.0/8",
            "192.168.1.0/24", "2001:db8::/32", "fe80::/10", "fd00:1:2:3::/64"]
    args = ["-p", ",".join(map(str, pids)), "--port", ",".join(map(str, ports)),
            "--comm", comm]
    for n in nets:
        args += ["--laddr", n, "--raddr", n]
    return args


class Monitor:
    """A running bccflow; stop() returns (records or lines, stderr, rc)."""

    def __init__(self, *args, json_mode=True, wait_start=True, env=None):
        self.json_mode = json_mode
        argv = [BCCFLOW] + (["--json"] if json_mode else []) + list(args)
        if E2E_ATTACH and "--attach" not in argv:
            argv[1:1] = ["--attach", E2E_ATTACH]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines = []
        self.err = []
        self.started = threading.Event()
        self._out_t = threading.Thread(target=self._read_out, daemon=True)
        self._err_t = threading.Thread(target=self._read_err, daemon=True)
        self._out_t.start()
        self._err_t.start()
        if wait_start:
            self.wait_started()

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if '"type":"start"' in line:
                self.started.set()

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))
            if line.startswith("bccflow: counting "):
                self.started.set()

    def wait_started(self):
        if not self.started.wait(START_TIMEOUT):
            self.proc.kill()
            raise AssertionError("bccflow did not start: " + "\n".join(self.err))
        if self.proc.poll() is not None and self.proc.returncode != 0:
            raise AssertionError("bccflow exited: " + "\n".join(self.err))

    def records(self, type_=None):
        recs = [json.loads(line) for line in self.lines]
        return [r for r in recs if type_ is None or r["type"] == type_]

    def wait_intervals(self, n, timeout=60):
        """Waits until n interval records have been printed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if sum('"type":"interval"' in l for l in self.lines) >= n:
                return
            time.sleep(0.05)
        raise AssertionError("no %d intervals within %ds" % (n, timeout))

    def wait_exit(self, timeout=60):
        rc = self.proc.wait(timeout)
        self._out_t.join(10)
        self._err_t.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc

    def stop(self, sig=signal.SIGINT, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)


def flowgen(*args, timeout=600):
    """Runs flowgen; returns its per-connection truth records."""
    p = subprocess.run([FLOWGEN] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("flowgen failed: %s" % p.stderr)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def flow_sums(records):
    """Per flow key: summed interval bytes, last totals, and the records."""
    flows = {}
    for r in records:
        if r["type"] != "flow":
            continue
        k = (r["pid"], r["laddr"], r["lport"], r["raddr"], r["rport"])
        f = flows.setdefault(k, {"rx": 0, "tx": 0, "recs": []})
        f["rx"] += r["rx_bytes"]
        f["tx"] += r["tx_bytes"]
        f["rx_total"] = r["rx_total"]
        f["tx_total"] = r["tx_total"]
        f["recs"].append(r)
    return flows


def expected_flows(conns, mapped_v4=True):
    """The two flows (client side, server side) of each flowgen connection,
    with addresses as each side's socket sees them."""
    def fold(a):
        return a[7:] if mapped_v4 and a.startswith("::ffff:") else a

    def seen_by(local, remote):
        if ":" not in local:  # an IPv4 socket sees IPv4 peers
            return remote[7:] if remote.startswith("::ffff:") else remote
        return remote if ":" in remote else "::ffff:" + remote

    out = {}
    for c in conns:
        ca, sa = c["client_addr"], c["server_addr"]
        out[(c["client_pid"], fold(ca), c["client_port"], fold(seen_by(ca, sa)),
             c["server_port"])] = (c["client_rx"], c["client_tx"], c["client_comm"])
        out[(c["server_pid"], fold(sa), c["server_port"], fold(seen_by(sa, ca)),
             c["client_port"])] = (c["server_rx"], c["server_tx"], c["server_comm"])
    return out


class E2ETest(unittest.TestCase):
    """Checks after every test that bccflow left nothing loaded."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        self.before = loaded_snapshot()

    def tearDown(self):
        after = loaded_snapshot()
        new = {kind: after[kind] - self.before[kind] for kind in after}
        # another tool on the machine may be starting or exiting right now:
        # look twice, a second apart, before calling anything a leak
        for attempt in range(2):
            if not any(new.values()):
                return
            held = held_ids()
            now = loaded_snapshot()
            new = {kind: (new[kind] & now[kind]) - held[kind] for kind in new}
            if attempt == 0 and any(new.values()):
                time.sleep(1)
        for kind in new:
            self.assertFalse(new[kind], "BPF %s(s) left loaded, held by no process: %s"
                             % (kind, sorted(new[kind])))

    def assertFlowsExact(self, records, conns, mapped_v4=True):
        got = flow_sums(records)
        for key, (rx, tx, comm) in expected_flows(conns, mapped_v4).items():
            if key not in got:  # (a message built eagerly would cost O(n^2) at scale)
                self.fail("flow %s missing; have %s" % (key, sorted(got)[:10]))
            f = got[key]
            self.assertEqual((f["rx"], f["tx"]), (rx, tx), "interval bytes of %s" % (key,))
            self.assertEqual((f["rx_total"], f["tx_total"]), (rx, tx), "totals of %s" % (key,))
            self.assertEqual(f["recs"][-1]["comm"], comm)

    def assertIntervalsAddUp(self, records):
        by_iv = {}
        for r in records:
            if r["type"] == "flow":
                s = by_iv.setdefault(r["interval"], [0, 0, 0])
                s[0] += r["rx_bytes"]
                s[1] += r["tx_bytes"]
                s[2] += 1
        ivs = [r for r in records if r["type"] == "interval"]
        self.assertTrue(ivs)
        for iv in ivs:
            s = by_iv.get(iv["interval"], [0, 0, 0])
            self.assertEqual((iv["rx_bytes"], iv["tx_bytes"], iv["flows"]), tuple(s),
                             "interval %d sums" % iv["interval"])

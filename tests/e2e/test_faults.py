"""Faults (issue 7): each ends with one clear stderr line (or none, where
quiet is right), a defined exit code, and nothing left loaded: not root, an
unwritable or closed stdout, no tracefs, a full flow table, SIGKILL."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import (BCCFLOW, E2ETest, Monitor, bpf_ids, flow_sums,  # noqa: E402
                 flowgen)

# Lines bccflow prints while it picks an attach method: not errors.
STARTUP = re.compile(r"^bccflow: (cannot use \w+: .*; trying the next method|"
                     r"counting (TCP|UDP|TCP and UDP) bytes with .*)$")
COMM = "fault-fg"  # flowgen's processes here, so --comm keeps other traffic out


def problems(stderr):
    """stderr lines other than the attach-method chatter."""
    return [l for l in stderr.splitlines() if l.strip() and not STARTUP.match(l)]


def held_bpf_ids(pid):
    """BPF prog and link ids held by the fds of a process (from fdinfo)."""
    ids = {"prog": set(), "link": set()}
    fddir = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                for line in f:
                    m = re.match(r"(prog|link)_id:\s*(\d+)", line)
                    if m:
                        ids[m.group(1)].add(int(m.group(2)))
        except OSError:
            pass
    return ids


class Faults(E2ETest):
    def run_bccflow(self, *args, timeout=120, **kw):
        return subprocess.run([BCCFLOW] + list(args), capture_output=True, text=True,
                              timeout=timeout, **kw)

    def test_not_root_exit_1_one_line(self):
        # a copy nobody can execute, wherever the build directory is
        d = tempfile.mkdtemp()
        try:
            os.chmod(d, 0o755)
            exe = os.path.join(d, "bccflow")
            shutil.copy(BCCFLOW, exe)
            os.chmod(exe, 0o755)
            for args in (["1", "1"], ["--json", "1", "1"]):
                with self.subTest(args=args):
                    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                                        "--clear-groups", exe] + args,
                                       capture_output=True, text=True, timeout=60)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertEqual(p.stdout, "")
                    lines = p.stderr.splitlines()
                    self.assertEqual(len(lines), 1, p.stderr)
                    self.assertRegex(lines[0], r"^bccflow: .*needs root")
        finally:
            shutil.rmtree(d)

    def test_stdout_dev_full_exit_1_one_write_error(self):
        for args in (["--json", "1", "2"], ["1", "2"], ["--csv", "1", "2"]):
            with self.subTest(args=args):
                with open("/dev/full", "w") as full:
                    p = subprocess.run([BCCFLOW] + args, stdout=full, stderr=subprocess.PIPE,
                                       text=True, timeout=120)
                self.assertEqual(p.returncode, 1, p.stderr)
                errs = problems(p.stderr)
                self.assertEqual(len(errs), 1, p.stderr)
                self.assertRegex(errs[0], r"^bccflow: .*(write|output).*No space left on device$")

    def test_stdout_closed_pipe_quiet_exit_0(self):
        for args in (["--json", "1", "3"], ["1", "3"], ["--csv", "1", "3"]):
            with self.subTest(args=args):
                r, w = os.pipe()
                os.close(r)  # nobody will ever read
                try:
                    t0 = time.monotonic()
                    p = subprocess.run([BCCFLOW] + args, stdout=w, stderr=subprocess.PIPE,
                                       text=True, timeout=120)
                finally:
                    os.close(w)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(problems(p.stderr), [], p.stderr)
                # it left at the first write, not after all intervals
                self.assertLess(time.monotonic() - t0, 60)

    def test_no_tracefs_mounts_it_and_leaves_no_mount(self):
        # a private mount namespace: tracefs unmounted there only
        script = r"""
set -e
while m=$(awk '$9 == "tracefs" { print $5; exit }' /proc/self/mountinfo) && [ -n "$m" ]; do
    umount -l "$m"
done
echo "before: $(awk '$9 == "tracefs"' /proc/self/mountinfo | wc -l)"
rc=0
"$BCCFLOW" --json --comm %s 1 2 >"$OUT" 2>"$ERR" || rc=$?
echo "rc: $rc"
echo "after: $(awk '$9 == "tracefs"' /proc/self/mountinfo | wc -l)"
""" % COMM
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, BCCFLOW=os.path.abspath(BCCFLOW),
                       OUT=os.path.join(d, "out"), ERR=os.path.join(d, "err"))
            p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                script], capture_output=True, text=True, env=env, timeout=180)
            with open(env["OUT"]) as f:
                out = f.read()
            with open(env["ERR"]) as f:
                err = f.read()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("before: 0", p.stdout, "tracefs still mounted in the namespace")
        self.assertIn("rc: 0", p.stdout, err)
        self.assertIn("after: 0", p.stdout, "bccflow left its tracefs mount behind")
        self.assertEqual(problems(err), [], err)
        self.assertIn('"type":"start"', out)
        self.assertEqual(out.count('"type":"interval"'), 2, out)
        # and the host's tracefs is untouched
        with open("/proc/self/mountinfo") as f:
            self.assertIn(" - tracefs ", f.read())

    def test_full_table_recovers_when_flows_close(self):
        """Drops while the table is full (dropped, one warning a line), exact
        flows that fit, and once those closed and left the table, new flows are
        counted again, exactly, with no drops (extends test_exact's case)."""
        # --max-flows 8: 16 socket slots (the least there is) and 8 flows by
        # tuple, so 20 connections (40 sockets) cannot all fit
        conns = 20
        m = Monitor("--comm", COMM, "--max-flows", "8", "1")
        full = flowgen("-n", conns, "--tx", 3000, "--rx", 1000, "--hold-ms", 1500,
                       "--client-comm", COMM, "--server-comm", COMM)
        ivs_full = len(m.records("interval"))
        m.wait_intervals(ivs_full + 3)  # closed, then evicted
        # every flow left, those counted by tuple too (their close marks match)
        last = m.records("interval")[-1]
        self.assertEqual(last["tracked"], 0, last)
        after = flowgen("-n", 3, "--tx", 7001, "--rx", 5003,
                        "--client-comm", COMM, "--server-comm", COMM)
        m.wait_intervals(len(m.records("interval")) + 2)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertIntervalsAddUp(recs)
        ivs = m.records("interval")
        self.assertGreater(sum(r["dropped"] for r in ivs), 0)
        warn = [e for e in m.err if "flow table full" in e]
        self.assertTrue(warn, m.err)
        self.assertEqual(len(warn), sum(1 for r in ivs if r["dropped"]), "one warning an interval")
        self.assertEqual(problems("\n".join(e for e in m.err if e not in warn)), [], m.err)
        got = flow_sums(recs)
        counted = 0
        for c in full:
            for side, rx, tx in (("client", 1000, 3000), ("server", 3000, 1000)):
                k = (c["%s_pid" % side], "127.0.0.1", c["%s_port" % side], "127.0.0.1",
                     c["%s_port" % ("server" if side == "client" else "client")])
                if k in got:
                    self.assertEqual((got[k]["rx"], got[k]["tx"]), (rx, tx), k)
                    counted += rx + tx
        self.assertEqual(counted + sum(r["dropped_bytes"] for r in ivs), conns * 8000)
        # the table emptied: the later flows all fit, exactly
        self.assertFlowsExact([r for r in recs if r["type"] == "flow"], after)
        late = [r for r in ivs if r["interval"] > ivs_full + 3]
        self.assertEqual(sum(r["dropped"] for r in late), 0)

    def test_closed_flows_leave_even_after_many_other_closes(self):
        """The eviction marks are made for every TCP socket that closes on the
        host, filtered or not, in a table as big as --max-flows. Many other
        sockets closing in one interval must not keep our closed flows in the
        table for ever."""
        m = Monitor("--comm", COMM, "--max-flows", "64", "5")
        iv0 = len(m.records("interval"))
        # 400 other sockets close (not counted: other comm) ...
        flowgen("-n", 200, "--tx", 10, "--rx", 10)
        # ... then ours, in the same 5-s interval
        conns = flowgen("--tx", 4321, "--rx", 1234, "--client-comm", COMM,
                        "--server-comm", COMM)
        m.wait_intervals(iv0 + 3, timeout=60)
        self.assertEqual(m.stop(), 0, m.err)
        recs = m.records()
        self.assertFlowsExact(recs, conns)
        ivs = m.records("interval")
        self.assertEqual(sum(r["evicted"] for r in ivs), 2, "our 2 closed flows must be evicted")
        self.assertEqual(ivs[-1]["tracked"], 0, "closed flows stayed in the table")

    def test_sigkill_leaves_nothing_and_next_run_works(self):
        for when in ("running", "starting"):
            with self.subTest(when=when):
                p = subprocess.Popen([BCCFLOW, "--json", "1"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                held = {"prog": set(), "link": set()}
                if when == "running":
                    line = p.stdout.readline()  # the start record: attached
                    self.assertIn('"type":"start"', line)
                    held = held_bpf_ids(p.pid)
                    self.assertTrue(held["prog"], "bccflow holds no BPF program")
                else:
                    time.sleep(0.3)  # while compiling or loading
                p.kill()
                p.wait(30)
                p.stdout.close()
                p.stderr.close()
                # the kernel frees them once the last fd is gone (asynchronously)
                deadline = time.time() + 10
                while time.time() < deadline:
                    left = {k: held[k] & bpf_ids(k) for k in held}
                    if not any(left.values()):
                        break
                    time.sleep(0.2)
                self.assertFalse(any(left.values()), "left loaded after SIGKILL: %s" % left)
                # a new run works and counts exactly
                m = Monitor("--comm", COMM, "1")
                conns = flowgen("--tx", 123457, "--rx", 7654, "--client-comm", COMM,
                                "--server-comm", COMM)
                time.sleep(1.2)
                self.assertEqual(m.stop(), 0, m.err)
                self.assertEqual(problems("\n".join(m.err)), [])
                self.assertFlowsExact(m.records(), conns)


if __name__ == "__main__":
    unittest.main()

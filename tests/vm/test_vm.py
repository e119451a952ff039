"""The kprobe and fentry methods, for real, in a Debian 6.1 guest kernel
under QEMU (TCG): the real bccflow binary, flowgen traffic with exact byte
counts, exact comparisons on the host. Both backends run in parallel guests.
Needs root; builds (or reuses) the guest image first."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from e2e import BCCFLOW, FLOWGEN, E2ETest, expected_flows, flow_sums  # noqa: E402

WORKDIR = os.environ.get("BCCFLOW_VM_DIR", "/var/tmp/bccflow-vm")
RUNDIR = os.environ.get("BCCFLOW_VM_RUN", "/var/tmp/bccflow-vm-run")
BACKENDS = ("kprobe", "fentry")
SCENARIOS = ("v4", "v6", "mapped", "waitall", "lowat", "nonblock", "sendfile", "splice",
             "peek", "intervals")
results = {}


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root")
    t0 = time.monotonic()
    subprocess.run([os.path.join(HERE, "build-image.sh"), WORKDIR], check=True)
    t_image = time.monotonic() - t0
    procs = {}
    for b in BACKENDS:
        share = os.path.join(RUNDIR, b)
        shutil.rmtree(share, ignore_errors=True)
        os.makedirs(os.path.join(share, "bin"))
        shutil.copy(BCCFLOW, os.path.join(share, "bin", "bccflow"))
        shutil.copy(FLOWGEN, os.path.join(share, "bin", "flowgen"))
        shutil.copy(os.path.join(HERE, "guest-bccflow.sh"), os.path.join(share, "guest-main.sh"))
        with open(os.path.join(share, "backend"), "w") as f:
            f.write(b)
        procs[b] = subprocess.Popen([os.path.join(HERE, "run-guest.sh"), WORKDIR, share, "1500"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for b, p in procs.items():
        _, err = p.communicate(timeout=1800)
        results[b] = (p.returncode, err)
    print("\nvm: image %.0f s, guests (in parallel) %.0f s, total %.0f s"
          % (t_image, time.monotonic() - t0 - t_image, time.monotonic() - t0), file=sys.stderr)


def out(backend, name):
    return os.path.join(RUNDIR, backend, "out", name)


def read_json(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


class Guest(E2ETest):
    def check_backend(self, b):
        rc, err = results[b]
        console = os.path.join(RUNDIR, b, "console.log")
        self.assertEqual(rc, 0, "guest for %s failed (%s); console: %s" % (b, err[-500:], console))
        with open(out(b, "main.rc")) as f:
            self.assertEqual(f.read().strip(), "0", "bccflow exit code after SIGINT")
        recs = read_json(out(b, "main.jsonl"))
        self.assertEqual(recs[0]["type"], "start")
        self.assertEqual(recs[0]["attach"], b)
        self.assertIntervalsAddUp(recs)
        for name in SCENARIOS:
            with self.subTest(backend=b, scenario=name):
                conns = read_json(out(b, name + ".truth"))
                self.assertTrue(conns, "flowgen wrote no truth for " + name)
                self.assertFlowsExact(recs, conns)
                if name == "nonblock":
                    self.assertGreater(conns[0]["eagain"], 0)
                    self.assertGreater(conns[0]["partial"], 0)
                if name == "intervals":
                    got = flow_sums(recs)
                    spans = [len({r["interval"] for r in got[k]["recs"]})
                             for k in expected_flows(conns)]
                    self.assertGreaterEqual(min(spans), 6)
        self.assertEqual(sum(r["dropped"] for r in recs if r["type"] == "interval"), 0)

    def check_pid_filter(self, b):
        with open(out(b, "pid.rc")) as f:
            self.assertEqual(f.read().strip(), "0")
        recs = read_json(out(b, "pid.jsonl"))
        # the kprobe guest ran this one with --attach auto: fentry comes first
        self.assertEqual(recs[0]["attach"], "fentry")
        conns = read_json(out(b, "pfilter.truth"))
        self.assertFlowsExact(recs, conns)
        pids = {conns[0]["client_pid"], conns[0]["server_pid"]}
        self.assertEqual({r["pid"] for r in recs if r["type"] == "flow"}, pids)

    def check_nothing_left(self, b):
        with open(out(b, "progs.after")) as f:
            self.assertEqual(f.read().strip(), "", "BPF programs left in the guest")
        with open(out(b, "links.after")) as f:
            self.assertEqual(f.read().strip(), "", "BPF links left in the guest")
        with open(out(b, "kprobe_events.after")) as f:
            self.assertNotIn("bccflow", f.read())

    def test_kprobe_exact(self):
        self.check_backend("kprobe")

    def test_fentry_exact(self):
        self.check_backend("fentry")

    def test_pid_filter(self):
        for b in BACKENDS:
            with self.subTest(backend=b):
                self.check_pid_filter(b)

    def test_sigint_leaves_nothing(self):
        for b in BACKENDS:
            with self.subTest(backend=b):
                self.check_nothing_left(b)

    def test_startup_reported(self):
        for b in BACKENDS:
            with open(out(b, "startup.seconds")) as f:
                print("vm: %s started in %s s in the guest" % (b, f.read().strip()),
                      file=sys.stderr)


if __name__ == "__main__":
    unittest.main()

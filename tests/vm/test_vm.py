"""The backends, for real, in a Debian guest kernel under QEMU (TCG): the real
bccflow binary, flowgen traffic with exact byte counts, exact comparisons on
the host. Needs root; builds (or reuses) the guest image first.

BCCFLOW_VM_SUITE picks the guest (default bookworm):
  bookworm  Debian 12, 6.1: kprobe and fentry, one guest each, in parallel;
            the binary under test is $BCCFLOW / $FLOWGEN (built on the host).
  trixie    Debian 13, 6.12: kprobe, fentry, tp-btf, raw-tracepoint and tracepoint,
            all five at once in one guest; the binary is built in a trixie
            chroot by tests/userland/run.sh --build-only (unless
            BCCFLOW_VM_BCCFLOW and BCCFLOW_VM_FLOWGEN name one), at the same
            time as the image.
In every guest one more bccflow runs with -p (and --attach auto, which must
pick fentry, in the guest that runs kprobe)."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from e2e import BCCFLOW, FLOWGEN, NSFLOWS, E2ETest, expected_flows, flow_sums  # noqa: E402
from test_udp import UDPGEN, sums, truth_sums  # noqa: E402

SUITE = os.environ.get("BCCFLOW_VM_SUITE", "bookworm")
# per suite: image and run directories, and the guests: name -> (backends
# counted at once, --attach of the -p instance)
SUITES = {
    "bookworm": ("/var/tmp/bccflow-vm", "/var/tmp/bccflow-vm-run",
                 {"kprobe": (("kprobe",), "auto"), "fentry": (("fentry",), "fentry")}),
    "trixie": ("/var/tmp/bccflow-vm-trixie", "/var/tmp/bccflow-vm-trixie-run",
               {"all": (("kprobe", "fentry", "tp-btf", "raw-tracepoint", "tracepoint"),
                        "auto")}),
}
if SUITE not in SUITES:
    raise SystemExit("BCCFLOW_VM_SUITE must be one of %s" % ", ".join(SUITES))
WORKDIR = os.environ.get("BCCFLOW_VM_DIR", SUITES[SUITE][0])
RUNDIR = os.environ.get("BCCFLOW_VM_RUN", SUITES[SUITE][1])
GUESTS = SUITES[SUITE][2]
BACKENDS = tuple(b for g in GUESTS.values() for b in g[0])
GUEST_OF = {b: g for g, (bs, _) in GUESTS.items() for b in bs}
# the trixie binaries: built by tests/userland/run.sh --build-only in its chroot
USERLAND_DIR = os.environ.get("BCCFLOW_USERLAND_DIR", "/var/tmp/bccflow-trixie")
SCENARIOS = ("v4", "v6", "mapped", "waitall", "lowat", "nonblock", "sendfile", "splice",
             "peek", "intervals")
results = {}
binaries = {"bccflow": BCCFLOW, "flowgen": FLOWGEN, "nsflows": NSFLOWS, "udpgen": UDPGEN}
UDP_SCENARIOS = ("connected", "multi6", "mmsg", "peek")


def get_binaries(t0):
    """The binaries to test; for trixie built in its userland. Returns when
    they were ready (s after t0), None when nothing was built."""
    if SUITE != "trixie":
        return None
    if os.environ.get("BCCFLOW_VM_BCCFLOW"):
        binaries["bccflow"] = os.environ["BCCFLOW_VM_BCCFLOW"]
        binaries["flowgen"] = os.environ["BCCFLOW_VM_FLOWGEN"]
        binaries["nsflows"] = os.path.join(os.path.dirname(binaries["flowgen"]), "nsflows")
        binaries["udpgen"] = os.path.join(os.path.dirname(binaries["flowgen"]), "udpgen")
        return None
    # the userland chroot build (cached) runs while the image builds
    subprocess.run([os.path.join(HERE, "..", "userland", "run.sh"), "--build-only",
                    USERLAND_DIR], check=True)
    binaries["bccflow"] = os.path.join(USERLAND_DIR, "root", "build", "bccflow")
    binaries["flowgen"] = os.path.join(USERLAND_DIR, "root", "build", "tests", "flowgen")
    binaries["nsflows"] = os.path.join(USERLAND_DIR, "root", "build", "tests", "nsflows")
    binaries["udpgen"] = os.path.join(USERLAND_DIR, "root", "build", "tests", "udpgen")
    return time.monotonic() - t0


def check_libbpfcc():
    """Warn when the binary was built against another libbpfcc than the
    guest has (both come from trixie's lists, refreshed at different times)."""
    def version(path, sep):
        try:
            with open(path) as f:
                for line in f:
                    k, _, v = line.strip().partition(sep)
                    if k == "libbpfcc":
                        return v.split()[0] if sep == " " else v
        except OSError:
            pass
        return None
    built = version(os.path.join(USERLAND_DIR, "packages.txt"), " ")
    guest = version(os.path.join(WORKDIR, "image.stamp"), "=")
    if built and guest and built != guest:
        print("vm[%s]: warning: bccflow built against libbpfcc %s, the guest has %s"
              % (SUITE, built, guest), file=sys.stderr)


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root")
    t0 = time.monotonic()
    image = subprocess.Popen([os.path.join(HERE, "build-image.sh"), WORKDIR, SUITE])
    try:
        t_bin = get_binaries(t0)
        if image.wait() != 0:
            raise RuntimeError("build-image.sh %s %s failed" % (WORKDIR, SUITE))
    finally:
        if image.poll() is None:  # (build-image.sh cleans up on TERM)
            image.terminate()
            image.wait()
    t_image = time.monotonic() - t0
    if t_bin is not None:
        check_libbpfcc()
    procs = {}
    for g, (backends, pid_attach) in GUESTS.items():
        share = os.path.join(RUNDIR, g)
        shutil.rmtree(share, ignore_errors=True)
        os.makedirs(os.path.join(share, "bin"))
        shutil.copy(binaries["bccflow"], os.path.join(share, "bin", "bccflow"))
        shutil.copy(binaries["flowgen"], os.path.join(share, "bin", "flowgen"))
        shutil.copy(binaries["nsflows"], os.path.join(share, "bin", "nsflows"))
        shutil.copy(binaries["udpgen"], os.path.join(share, "bin", "udpgen"))
        shutil.copy(os.path.join(HERE, "guest-bccflow.sh"), os.path.join(share, "guest-main.sh"))
        with open(os.path.join(share, "backends"), "w") as f:
            f.write(" ".join(backends))
        with open(os.path.join(share, "pid-attach"), "w") as f:
            f.write(pid_attach)
        procs[g] = subprocess.Popen([os.path.join(HERE, "run-guest.sh"), WORKDIR, share, "1500"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for g, p in procs.items():
            _, err = p.communicate(timeout=1800)
            results[g] = (p.returncode, err)
    finally:
        for p in procs.values():  # (run-guest.sh kills its QEMU on TERM)
            if p.poll() is None:
                p.terminate()
                p.wait()
    t_end = time.monotonic()
    print("\nvm[%s]: image %.0f s%s, guests (in parallel) %.0f s, total %.0f s"
          % (SUITE, t_image, "" if t_bin is None else " (binaries ready after %.0f s)" % t_bin,
             t_end - t0 - t_image, t_end - t0), file=sys.stderr)


def out(guest, name):
    return os.path.join(RUNDIR, guest, "out", name)


def read_json(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


class Guest(E2ETest):
    def check_guest(self, g):
        rc, err = results[g]
        console = os.path.join(RUNDIR, g, "console.log")
        self.assertEqual(rc, 0, "guest %s failed (%s); console: %s" % (g, err[-500:], console))

    def check_backend(self, b):
        g = GUEST_OF[b]
        self.check_guest(g)
        with open(out(g, "main.%s.err" % b), errors="replace") as f:
            err = f.read()[-1000:]
        with open(out(g, "main.%s.rc" % b)) as f:
            self.assertEqual(f.read().strip(), "0", "bccflow --attach %s exit code after SIGINT"
                             " ('nostart': it never started); its stderr:\n%s" % (b, err))
        recs = read_json(out(g, "main.%s.jsonl" % b))
        self.assertEqual(recs[0]["type"], "start")
        self.assertEqual(recs[0]["attach"], b)
        self.assertIntervalsAddUp(recs)
        for name in SCENARIOS:
            with self.subTest(backend=b, scenario=name):
                conns = read_json(out(g, name + ".truth"))
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
        self.check_two_namespaces(g, b, recs)
        self.check_udp(g, b, recs)

    def check_udp(self, g, b, recs):
        """udpgen's flows, exact: what each call returned, per peer."""
        got = sums(recs)
        for name in UDP_SCENARIOS:
            with self.subTest(backend=b, scenario="udp-" + name):
                truth = read_json(out(g, "udp-%s.truth" % name))
                self.assertTrue(truth, "udpgen wrote no truth for " + name)
                for k, v in truth_sums(truth).items():
                    self.assertEqual(got.get(k), v, "bytes of %s" % (k,))

    def check_two_namespaces(self, g, b, recs):
        """One process, the same 4-tuple in two namespaces: two flows each side, exact."""
        with self.subTest(backend=b, scenario="twons"):
            w = read_json(out(g, "twons.truth"))[0]
            self.assertNotEqual(w["netns"][0], w["netns"][1])
            got = {}
            for r in recs:
                if r["type"] == "flow" and r["pid"] == w["pid"]:
                    s = got.setdefault((r["netns"], r["lport"], r["rport"]), [0, 0])
                    s[0] += r["rx_bytes"]
                    s[1] += r["tx_bytes"]
            want = {}
            for ns, n in zip(w["netns"], w["bytes"]):
                want[(ns, w["cport"], w["sport"])] = [0, n]
                want[(ns, w["sport"], w["cport"])] = [n, 0]
            self.assertEqual(got, want)

    def check_pid_filter(self, g):
        self.check_guest(g)
        with open(out(g, "pid.rc")) as f:
            self.assertEqual(f.read().strip(), "0")
        recs = read_json(out(g, "pid.jsonl"))
        # the guest that runs kprobe ran this one with --attach auto: fentry comes first
        self.assertEqual(recs[0]["attach"], "fentry")
        conns = read_json(out(g, "pfilter.truth"))
        self.assertFlowsExact(recs, conns)
        pids = {conns[0]["client_pid"], conns[0]["server_pid"]}
        self.assertEqual({r["pid"] for r in recs if r["type"] == "flow"}, pids)

    def check_nothing_left(self, g):
        self.check_guest(g)
        with open(out(g, "progs.after")) as f:
            self.assertEqual(f.read().strip(), "", "BPF programs left in the guest")
        with open(out(g, "links.after")) as f:
            self.assertEqual(f.read().strip(), "", "BPF links left in the guest")
        with open(out(g, "kprobe_events.after")) as f:
            self.assertEqual(f.read().strip(), "", "kprobe events left in the guest")

    def test_privileges_dropped_after_attach(self):
        """Every instance, kprobe and fentry ones included, went on as nobody
        with no capabilities: reading its maps and detaching needed none."""
        for g, (backends, _) in GUESTS.items():
            self.check_guest(g)
            for n in ["main." + b for b in backends] + ["pid"]:
                with self.subTest(guest=g, instance=n), open(out(g, n + ".status")) as f:
                    st = dict(l.split(":", 1) for l in f.read().splitlines())
                    self.assertEqual(st["Uid"].split(), ["65534"] * 4)
                    self.assertEqual(st["Gid"].split(), ["65534"] * 4)
                    for cap in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
                        self.assertEqual(int(st[cap], 16), 0, cap)
                    self.assertEqual(st["NoNewPrivs"].strip(), "1")

    def test_pid_filter(self):
        for g in GUESTS:
            with self.subTest(guest=g):
                self.check_pid_filter(g)

    def test_auto_picks_fentry(self):
        g = GUEST_OF["kprobe"]
        self.assertEqual(GUESTS[g][1], "auto")
        self.check_guest(g)
        self.assertEqual(read_json(out(g, "pid.jsonl"))[0]["attach"], "fentry")

    def test_sigint_leaves_nothing(self):
        for g in GUESTS:
            with self.subTest(guest=g):
                self.check_nothing_left(g)

    def test_startup_reported(self):
        for g, (backends, _) in GUESTS.items():
            for n in ["main." + b for b in backends] + ["pid"]:
                try:
                    with open(out(g, n + ".startup")) as f:
                        t = f.read().strip()
                except OSError:
                    t = "(did not start)"
                print("vm[%s]: guest %s: %s started after %s s" % (SUITE, g, n, t),
                      file=sys.stderr)


# one test per backend: test_kprobe_exact, test_fentry_exact, ...
for _b in BACKENDS:
    setattr(Guest, "test_%s_exact" % _b.replace("-", "_"),
            lambda self, b=_b: self.check_backend(b))


if __name__ == "__main__":
    unittest.main()

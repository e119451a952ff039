"""Network namespaces, cgroups and containers (issue 13): which workload
owns every byte. Traffic is on loopback only, in this host's namespace or
in namespaces the tests make; namespaces and cgroups are removed on every
exit path (addCleanup)."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from e2e import BCCFLOW, NSFLOWS, E2ETest, Monitor  # noqa: E402

WORKLOADS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workloads.py")
DOCKER_ID = "0123456789abcdef" * 4


def cgroup2_root():
    """The cgroup2 mount point (/sys/fs/cgroup, or .../unified on hybrid hosts)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    raise unittest.SkipTest("no cgroup2 mount")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def walked(m):
    """Waits for the JSON start record: bccflow's first walk of the cgroup tree is over."""
    deadline = time.time() + 30
    while not any('"type":"start"' in l for l in m.lines):
        if time.time() > deadline:
            raise AssertionError("no start record: %s" % m.err)
        time.sleep(0.02)


def own_cgroup():
    """This process's cgroup v2 path, relative to the root."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return "/"


class Workloads(E2ETest):
    def netns(self, name):
        """A namespace with its loopback up; its inode number."""
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", name])
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return os.stat("/run/netns/" + name).st_ino

    def cgroup(self, rel):
        """Makes ROOT/rel (and its parents); removed at the end, innermost first."""
        root = cgroup2_root()
        parts = rel.strip("/").split("/")
        for i in range(len(parts)):
            d = os.path.join(root, *parts[:i + 1])
            if not os.path.isdir(d):
                os.mkdir(d)
                self.addCleanup(self.rmdir_cgroup, d)
        return os.path.join(root, *parts)

    def rmdir_cgroup(self, d):
        if not os.path.isdir(d):
            return
        # a process still inside (a failed test) goes back to ours first
        back = os.path.join(cgroup2_root(), own_cgroup().lstrip("/"), "cgroup.procs")
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                ids = f.read().split()
        except OSError:  # a threaded cgroup lists its threads only; a thread's id moves its process
            with open(os.path.join(d, "cgroup.threads")) as f:
                ids = f.read().split()
        for pid in ids:
            try:
                with open(back, "w") as b:
                    b.write(pid)
            except OSError:
                pass
        os.rmdir(d)

    def move(self, pid, cg_dir):
        with open(os.path.join(cg_dir, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def steps(self, *counts):
        """workloads.py steps; returns the process (stdin, stdout are pipes)."""
        p = subprocess.Popen([sys.executable, WORKLOADS, "steps"] + [str(c) for c in counts],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        return p

    def step(self, p):
        """Runs the next step of p; its record."""
        p.stdin.write("\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    def finish(self, p):
        p.stdin.close()
        self.assertEqual(p.wait(30), 0)
        p.stdout.close()

    def stopped(self, m, intervals=None):
        if intervals:
            m.wait_intervals(intervals)
        self.assertEqual(m.stop(), 0, m.err)
        return m.records()

    def sums(self, recs, pid, *fields):
        """Bytes of pid's flows summed per value of fields: {values: [rx, tx]}."""
        out = {}
        for r in recs:
            if r["type"] == "flow" and r["pid"] == pid:
                s = out.setdefault(tuple(r[f] for f in fields), [0, 0])
                s[0] += r["rx_bytes"]
                s[1] += r["tx_bytes"]
        return out

    def twons(self, a, b):
        """nsflows in namespaces a and b; its record."""
        out = subprocess.run([NSFLOWS, "1000003", "2000005", "/run/netns/" + a,
                              "/run/netns/" + b], check=True, capture_output=True, text=True,
                             timeout=120).stdout
        return json.loads(out)

    def test_same_tuple_in_two_namespaces_is_two_flows(self):
        ino_a, ino_b = self.netns("bccflow-e2e-a"), self.netns("bccflow-e2e-b")
        self.assertNotEqual(ino_a, ino_b)
        m = Monitor("--port", "41001", "1")
        w = self.twons("bccflow-e2e-a", "bccflow-e2e-b")
        self.assertEqual(w["netns"], [ino_a, ino_b])
        time.sleep(1.5)
        recs = self.stopped(m)
        got = self.sums(recs, w["pid"], "netns", "lport", "rport", "laddr", "raddr")
        self.assertEqual(got, {
            (ino_a, 43001, 41001, "127.0.0.1", "127.0.0.1"): [0, 1000003],
            (ino_a, 41001, 43001, "127.0.0.1", "127.0.0.1"): [1000003, 0],
            (ino_b, 43001, 41001, "127.0.0.1", "127.0.0.1"): [0, 2000005],
            (ino_b, 41001, 43001, "127.0.0.1", "127.0.0.1"): [2000005, 0],
        })
        self.assertIntervalsAddUp(recs)

    def test_netns_filter_keeps_one_namespace(self):
        for run, pick in ((1, "path"), (2, "inode")):
            # new namespaces each run: the last run's client port waits in TIME_WAIT
            a, b = "bccflow-e2e-a%d" % run, "bccflow-e2e-b%d" % run
            ino_a, ino_b = self.netns(a), self.netns(b)
            arg, want = ("/run/netns/" + a, ino_a) if pick == "path" else (str(ino_b), ino_b)
            with self.subTest(netns=arg):
                m = Monitor("--netns", arg, "1")
                w = self.twons(a, b)
                time.sleep(1.5)
                got = self.sums(self.stopped(m), w["pid"], "netns")
                n = 1000003 if want == ino_a else 2000005
                self.assertEqual(got, {(want,): [n, n]})

    def test_bad_netns_is_a_usage_error(self):
        for arg, what in (("/etc/hostname", "not a network namespace"),
                          ("/nonexistent", "No such file"), ("0", "inode number"),
                          ("4294967296", "inode number")):
            p = subprocess.run([BCCFLOW, "--netns", arg], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(what, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_docker_like_cgroup_path_container_and_groups(self):
        rel = "/bccflow-e2e.slice/docker-%s.scope" % DOCKER_ID
        runs = {}
        for by in ("flow", "cgroup", "container"):
            # made after bccflow started: found by asking the kernel, not the first walk
            m = Monitor("--by", by, "1")
            walked(m)
            d = self.cgroup(rel)
            p = self.steps(3001, 4002)
            self.move(p.pid, d)
            w = self.step(p)
            self.step(p)
            self.finish(p)
            time.sleep(1.5)
            runs[by] = (self.stopped(m), w["pid"])
            self.rmdir_cgroup(d)
        recs, pid = runs["flow"]
        self.assertEqual(self.sums(recs, pid, "cgroup", "container"),
                         {(rel, DOCKER_ID[:12]): [7003, 7003]})
        groups = [r for r in runs["cgroup"][0] if r["type"] == "group" and r["cgroup"] == rel]
        self.assertEqual(sum(r["rx_bytes"] for r in groups), 7003)
        self.assertEqual(sum(r["tx_bytes"] for r in groups), 7003)
        self.assertEqual({(r["by"], r["container"], r["flows"]) for r in groups},
                         {("cgroup", DOCKER_ID[:12], 2)})
        groups = [r for r in runs["container"][0]
                  if r["type"] == "group" and r["container"] == DOCKER_ID[:12]]
        self.assertEqual((sum(r["rx_bytes"] for r in groups), sum(r["tx_bytes"] for r in groups)),
                         (7003, 7003))
        self.assertNotIn("cgroup", groups[0])

    def test_process_moved_mid_connection_counts_in_each_cgroup(self):
        one = self.cgroup("/bccflow-e2e.slice/one.service")
        two = self.cgroup("/bccflow-e2e.slice/two.service")
        m = Monitor("1")
        p = self.steps(1001, 2002, 4004)
        self.move(p.pid, one)
        w = self.step(p)
        self.move(p.pid, two)
        self.step(p)
        self.move(p.pid, one)
        self.step(p)
        self.finish(p)
        time.sleep(1.5)
        recs = self.stopped(m)
        self.assertEqual(self.sums(recs, w["pid"], "cgroup", "container"), {
            ("/bccflow-e2e.slice/one.service", "one.service"): [5005, 5005],
            ("/bccflow-e2e.slice/two.service", "two.service"): [2002, 2002],
        })
        self.assertIntervalsAddUp(recs)

    def test_threads_in_two_cgroups_on_one_socket_count_in_each(self):
        """Two threads of one process in two threaded cgroups take turns on
        one socket: each one's bytes count in its own cgroup (a socket
        entry's stamp names a thread, not only its process)."""
        rel = "/bccflow-e2e-threads.slice"
        dom = self.cgroup(rel)
        sub = {t: self.cgroup("%s/%s" % (rel, t)) for t in ("a", "b")}
        for d in sub.values():
            with open(os.path.join(d, "cgroup.type"), "w") as f:
                f.write("threaded")
        m = Monitor("1")
        p = subprocess.Popen([sys.executable, WORKLOADS, "threads", "1001", "2002", "5"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait, 30)
        self.addCleanup(p.kill)
        ids = json.loads(p.stdout.readline())
        self.move(p.pid, dom)
        for t, d in sub.items():
            with open(os.path.join(d, "cgroup.threads"), "w") as f:
                f.write(str(ids[t]))
        p.stdin.write("\n")
        p.stdin.flush()
        self.assertEqual(json.loads(p.stdout.readline()), {"received": 15015})
        self.finish(p)
        time.sleep(1.5)
        recs = self.stopped(m)
        self.assertEqual(self.sums(recs, ids["pid"], "cgroup"), {
            (rel,): [15015, 0], (rel + "/a",): [0, 5005], (rel + "/b",): [0, 10010],
        })
        self.assertIntervalsAddUp(recs)

    def test_cgroup_made_where_a_removed_one_was_counts_as_itself(self):
        """A cgroup made after another was removed often gets its memory, so
        its address: each one in turn still gets exactly its own bytes (a probe
        that knew cgroups by address would count them to the removed one)."""
        home = self.cgroup("/bccflow-e2e.slice/home.service")
        counts = [1001 * (i + 1) for i in range(8)]
        m = Monitor("1")
        p = self.steps(*counts)
        want = {}
        for i, n in enumerate(counts):
            rel = "/bccflow-e2e.slice/turn-%d.scope" % i
            d = self.cgroup(rel)
            self.move(p.pid, d)
            w = self.step(p)
            self.move(p.pid, home)
            self.rmdir_cgroup(d)
            want[(rel,)] = [n, n]
            time.sleep(0.2)  # the kernel frees a removed cgroup after an RCU grace period
        self.finish(p)
        time.sleep(1.5)
        recs = self.stopped(m)
        self.assertEqual(self.sums(recs, w["pid"], "cgroup"), want)
        self.assertIntervalsAddUp(recs)

    def test_cgroup_removed_before_the_report_keeps_its_path(self):
        rel = "/bccflow-e2e.slice/gone-%d.scope" % os.getpid()
        m = Monitor("5")  # the cgroup is made and removed well inside interval 1
        walked(m)  # so only the kernel's record of the removal can name the cgroup
        t0 = time.time()
        d = self.cgroup(rel)
        p = self.steps(5005)
        self.move(p.pid, d)
        w = self.step(p)
        self.finish(p)  # exited: the cgroup is empty
        self.rmdir_cgroup(d)
        self.assertLess(time.time() - t0, 4, "too slow to test a removal before the report")
        recs = self.stopped(m, intervals=1)
        self.assertEqual(self.sums(recs, w["pid"], "cgroup", "container", "interval"),
                         {(rel, "gone-%d.scope" % os.getpid(), 1): [5005, 5005]})

    def test_csv_and_wide_table_carry_the_fields(self):
        rel = "/bccflow-e2e.slice/docker-%s.scope" % DOCKER_ID
        d = self.cgroup(rel)
        ino = os.stat("/proc/self/ns/net").st_ino
        for args, check in (
                (("--csv",), self.check_csv), (("-w", "-C"), self.check_wide),
                (("--by", "container", "-C"), self.check_by_container)):
            with self.subTest(args=args):
                m = Monitor(*args, "1", json_mode=False)
                p = self.steps(6006)
                self.move(p.pid, d)
                w = self.step(p)
                self.finish(p)
                time.sleep(1.5)
                self.assertEqual(m.stop(), 0, m.err)
                check(m.lines, w, rel, ino)

    def check_csv(self, lines, w, rel, ino):
        self.assertEqual(lines[0], "interval,ts,pid,comm,family,laddr,lport,raddr,rport,"
                         "netns,cgroup,container,proto,rx_bytes,tx_bytes,rx_total,tx_total")
        rows = [l.split(",") for l in lines[1:] if l.split(",")[2] == str(w["pid"])]
        self.assertEqual(len(rows), 2, lines)
        for r in rows:
            self.assertEqual(r[9:13], [str(ino), rel, DOCKER_ID[:12], "tcp"])
        self.assertEqual(sorted(int(r[13]) for r in rows), [0, 6006])

    def check_wide(self, lines, w, rel, ino):
        head = [l for l in lines if l.startswith("PID")][0]
        self.assertEqual(head.split()[-3:], ["NETNS", "CONTAINER", "CGROUP"])
        rows = [l.split() for l in lines if l.split()[:1] == [str(w["pid"])]]
        self.assertEqual(len(rows), 2, lines)
        for r in rows:
            self.assertEqual(r[-3:], [str(ino), DOCKER_ID[:12], rel])

    def check_by_container(self, lines, w, rel, ino):
        head = [l for l in lines if "FLOWS" in l][0]
        self.assertEqual(head.split()[-2:], ["FLOWS", "CONTAINER"])
        rows = [l.split() for l in lines if l.split()[-1:] == [DOCKER_ID[:12]]]
        self.assertTrue(rows, lines)
        # RX_KB TX_KB RXSUM_KB TXSUM_KB SUM_KB FLOWS CONTAINER: 6006 B each way, 2 flows
        self.assertEqual(rows[0], ["5.87", "5.87", "5.87", "5.87", "11.73", "2",
                                   DOCKER_ID[:12]])

    def test_prometheus_container_and_cgroup_labels(self):
        rel = "/bccflow-e2e.slice/docker-%s.scope" % DOCKER_ID
        d = self.cgroup(rel)
        for by, labels in (("container", 'container="%s"' % DOCKER_ID[:12]),
                           ("cgroup", 'cgroup="%s",container="%s"' % (rel, DOCKER_ID[:12]))):
            with self.subTest(by=by):
                port = free_port()
                m = Monitor("--listen", "127.0.0.1:%d" % port, "--by", by, "1",
                            json_mode=False)
                p = self.steps(8008)
                self.move(p.pid, d)
                self.step(p)
                self.finish(p)
                time.sleep(2.5)
                text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                              timeout=10).read().decode()
                self.assertEqual(m.stop(), 0, m.err)
                for metric in ("bccflow_rx_bytes_total", "bccflow_tx_bytes_total"):
                    line = "%s{%s,proto=\"tcp\"} 8008" % (metric, labels)
                    self.assertIn(line, text.splitlines(), text)



if __name__ == "__main__":
    unittest.main()

"""The live screen (issue 16) in a real terminal: tmux at 80x24, 100x25 and
200x60 with 320 active flows. Every refresh starts with the status line and
the header, no line is wider than the terminal, no more lines than it has;
the busiest flow is shown and the others row sums the rest exactly (against
flowgen's own counts and a --json run of the same traffic); each key
changes what is shown as documented; q, Ctrl-C and SIGTERM leave the
terminal as it was, exit 0, and nothing loaded; a resize reflows at once; a
DNS server that never answers delays no refresh."""
import json
import os
import random
import shlex
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import BCCFLOW, E2ETest, FLOWGEN, Monitor, expected_flows, flow_sums  # noqa: E402

STATUS = re.compile(r"bccflow \d\d:\d\d:\d\d")


def tag():
    """Four letters that are no hex digits: found in no address or port."""
    return "".join(random.choice("ghijkmnopqrstuvwxyz") for _ in range(4))


class Tmux:
    """bccflow in a tmux pane of its own server; the shell around it stays
    after it exits, so the terminal it left can be looked at."""

    def __init__(self, args, width, height, env=None, wrap=None):
        self.dir = tempfile.mkdtemp(prefix="bccflow-screen.")
        self.sock = "bccflow-e2e-%d-%d" % (os.getpid(), random.randrange(1 << 30))
        self.err = os.path.join(self.dir, "err")
        self.rc = os.path.join(self.dir, "rc")
        argv = [BCCFLOW] + (["--attach", os.environ["BCCFLOW_E2E_ATTACH"]]
                            if os.environ.get("BCCFLOW_E2E_ATTACH") else []) + list(args)
        cmd = " ".join(shlex.quote(a) for a in argv)
        if wrap:
            cmd = wrap(cmd)
        envs = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in
                        dict({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}, **(env or {})).items())
        # the terminal's settings before and after: the screen must put them back
        # like an interactive shell, the shell around bccflow outlives Ctrl-C
        script = ("trap '' INT QUIT; stty -a > %s/stty.before; env %s %s 2>%s; echo $? > %s; "
                  "stty -a > %s/stty.after; exec sleep 3600" % (self.dir, envs, cmd, self.err, self.rc,
                                                             self.dir))
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
                  "-s", "s", "sh", "-c", script)
        self.width, self.height = width, height

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                              text=True, check=True).stdout

    def wait_started(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.err) if os.path.exists(self.err) else open(os.devnull) as f:
                text = f.read()
            # then the first frame: the terminal is in raw mode from there on,
            # and keys sent before would be echoed onto the shell's screen
            if "bccflow: counting " in text and any(STATUS.match(l) for l in self.lines()[:1]):
                return
            if os.path.exists(self.rc):
                raise AssertionError("bccflow exited: " + text)
            time.sleep(0.1)
        raise AssertionError("bccflow did not start")

    def lines(self):
        """The pane as shown, each wrapped line joined (-J): a wrap makes it longer."""
        return self.tmux("capture-pane", "-p", "-J", "-t", "s").split("\n")[:-1]

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "s", *keys)

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "s", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def flag(self, name):
        return self.tmux("display-message", "-p", "-t", "s", "#{%s}" % name).strip()

    def wait(self, pred, timeout=10, what="the screen"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.lines()
            if pred(last):
                return last
            time.sleep(0.05)
        raise AssertionError("%s never came; the pane:\n%s" % (what, "\n".join(last or [])))

    def exit_code(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.rc) and os.path.exists(os.path.join(self.dir, "stty.after")):
                time.sleep(0.1)
                with open(self.rc) as f:
                    return int(f.read())
            time.sleep(0.05)
        raise AssertionError("bccflow did not exit; the pane:\n" + "\n".join(self.lines()))

    def stty(self, which):
        with open(os.path.join(self.dir, "stty." + which)) as f:
            return f.read()

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def status_time(lines):
    m = STATUS.match(lines[0]) if lines else None
    return m.group(0) if m else None


def fields(line):
    return line.split()


class Traffic:
    """flowgen in the background: 160 connections (320 flows), tagged comms."""

    def __init__(self, name, *args):
        self.cli, self.srv = "sc-cli-" + name, "sc-srv-" + name
        self.p = subprocess.Popen([FLOWGEN, "--client-comm", self.cli, "--server-comm",
                                   self.srv] + [str(a) for a in args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def truth(self, timeout=120):
        out, err = self.p.communicate(timeout=timeout)
        if self.p.returncode != 0:
            raise AssertionError("flowgen failed: " + err)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.communicate()


def others_row(lines):
    rows = [fields(l) for l in lines[2:] if re.match(r"\s*\d+ others\b", l)]
    return rows[0] if rows else None


def flow_rows(lines, comms):
    """PID COMM RX TX ... rows of these comms."""
    return [fields(l) for l in lines[2:]
            if len(fields(l)) > 3 and fields(l)[0].isdigit() and fields(l)[1] in comms]


class Screen(E2ETest):
    def setUp(self):
        super().setUp()
        if not shutil.which("tmux"):
            self.skipTest("needs tmux (scripts/test.sh installs it)")
        self.panes = []
        self.traffic = []

    def tearDown(self):
        for t in self.traffic:
            t.stop()
        for p in self.panes:
            p.close()
        super().tearDown()

    def pane(self, args, width, height, **kw):
        p = Tmux(args, width, height, **kw)
        self.panes.append(p)
        p.wait_started()
        return p

    def gen(self, name, *args):
        t = Traffic(name, *args)
        self.traffic.append(t)
        return t

    def assertFrame(self, lines, width, height):
        """The shape of every refresh: status, header, no wraps, no scroll."""
        text = "\n".join(lines)
        self.assertLessEqual(len(lines), height, text)
        self.assertTrue(STATUS.match(lines[0]), "first line is not the status line:\n" + text)
        self.assertRegex(lines[1], r"^ *(PID|COMM|RADDR|LPORT|RX)", text)
        for line in lines:
            self.assertLessEqual(len(line), width, "a line wider than the terminal (wrapped):"
                                 "\n" + text)

    def assertRestored(self, p):
        self.assertEqual(p.stty("before"), p.stty("after"), "terminal settings not restored")
        self.assertEqual(p.flag("alternate_on"), "0", "still on the alternate screen")
        self.assertEqual(p.flag("cursor_flag"), "1", "the cursor is still hidden")
        # nothing of the screen is left on the terminal
        left = [l for l in p.lines() if l.strip()]
        self.assertEqual(left, [], "\n".join(p.lines()))

    def wait_refresh(self, p, timeout=15):
        t0 = status_time(p.lines())
        return p.wait(lambda l: status_time(l) not in (t0, None), timeout, "a refresh")

    # ---- fit the terminal; the others row exact --------------------------------------

    def burst(self, p, name):
        """flowgen's 320 flows in one burst just after a refresh; every frame
        meanwhile checked; returns the frame that holds the whole burst (all
        320 flows: the rows shown and the others row) and the truth."""
        for attempt in range(3):
            self.wait_refresh(p)
            t = self.gen(name, "-n", 160, "--tx", 20000, "--rx", 3000, "--step", 97,
                         "--hold-ms", 1500)
            frames = []
            end = time.time() + 8  # the burst's refresh and the next, at 3 s
            while time.time() < end:
                lines = p.lines()
                self.assertFrame(lines, p.width, p.height)
                o = others_row(lines)
                if o:
                    n = int(o[0]) + len(flow_rows(lines, (t.cli, t.srv)))
                    frames.append((n, lines))
                time.sleep(0.1)
            truth = t.truth()
            full = [f for n, f in frames if n == 2 * len(truth)]
            if full:
                return full[-1], truth, t
            # the burst crossed a refresh: again
        self.fail("no refresh held the whole burst in three tries")

    def check_burst(self, p, frame, truth, t, json_recs):
        text = "\n".join(frame)
        want = expected_flows(truth)
        shown = flow_rows(frame, (t.cli, t.srv))
        o = others_row(frame)
        # as many rows as fit: status, header, rows, others, hint
        self.assertEqual(len(shown), p.height - 4, text)
        self.assertEqual(int(o[0]) + len(shown), len(want), text)
        # the busiest flow first (client and server of a connection tie)
        top = max(rx + tx for rx, tx, _ in want.values())
        self.assertEqual(int(shown[0][2]) + int(shown[0][3]), top, "busiest first:\n" + text)
        sums = sorted((rx + tx for rx, tx, _ in want.values()), reverse=True)
        self.assertEqual(sum(int(r[2]) + int(r[3]) for r in shown), sum(sums[:len(shown)]),
                         "the busiest rows:\n" + text)
        # others: exactly the rest, by flowgen's counts and by --json's
        rx = sum(v[0] for v in want.values()) - sum(int(r[2]) for r in shown)
        tx = sum(v[1] for v in want.values()) - sum(int(r[3]) for r in shown)
        self.assertEqual((int(o[2]), int(o[3])), (rx, tx), text)
        js = {k: v for k, v in flow_sums(json_recs).items()
              if v["recs"][-1]["comm"] in (t.cli, t.srv)}
        self.assertEqual(len(js), len(want))
        self.assertEqual(int(o[2]), sum(v["rx"] for v in js.values()) -
                         sum(int(r[2]) for r in shown))
        self.assertEqual(int(o[3]), sum(v["tx"] for v in js.values()) -
                         sum(int(r[3]) for r in shown))

    def test_sizes_fit_and_others_row_exact(self):
        for width, height in ((80, 24), (100, 25), (200, 60)):
            with self.subTest(size="%dx%d" % (width, height)):
                name = tag()
                mon = Monitor("1")  # the same traffic as JSON, beside the screen
                p = self.pane(["--units", "B", "3"], width, height)
                # totals since start, and only this test's flows (display only)
                p.keys("t", "/", name, "Enter")
                p.wait(lambda l: "RXSUM_B" in l[1] and ('filter:"%s"' % name) in l[-1], 5,
                       "totals and the filter")
                frame, truth, t = self.burst(p, name)
                self.assertEqual(mon.stop(), 0)
                self.check_burst(p, frame, truth, t, mon.records())
                p.keys("q")
                self.assertEqual(p.exit_code(), 0)
                self.assertRestored(p)

    def test_resize_reflows_at_once(self):
        name = tag()
        self.gen(name, "-n", 160, "--tx", 400000, "--rx", 40000, "--step", 997,
                 "--rounds", 100, "--period-ms", 200)
        p = self.pane(["8"], 200, 60)  # a refresh each 8 s: the resizes come between two
        lines = p.wait(lambda l: len(flow_rows(l, ("sc-cli-" + name, "sc-srv-" + name))) > 10,
                       30, "rows")
        self.assertFrame(lines, 200, 60)
        when = status_time(lines)
        for width, height in ((80, 24), (100, 25), (60, 15), (200, 60)):
            t0 = time.time()
            p.resize(width, height)
            # tmux crops the old frame at once: the new one starts with the status line
            lines = p.wait(lambda l: len(l) == height and STATUS.match(l[0]) and
                           re.match(r" *PID", l[1]) and
                           sum(1 for x in l if x.strip()) == height and
                           all(len(x) <= width for x in l), 2, "the reflow to %dx%d" %
                           (width, height))
            self.assertLess(time.time() - t0, 1.5)
            self.assertFrame(lines, width, height)
            self.assertEqual(status_time(lines), when, "a refresh, not the resize, redrew")
            self.assertTrue(others_row(lines), "\n".join(lines))
        p.keys("q")
        self.assertEqual(p.exit_code(), 0)
        self.assertRestored(p)

    # ---- keys -------------------------------------------------------------------

    def test_each_key(self):
        name = tag()
        cli, srv = "sc-cli-" + name, "sc-srv-" + name
        self.gen(name, "-n", 160, "--tx", 2000000, "--rx", 200000, "--step", 9973,
                 "--rounds", 150, "--period-ms", 200)
        p = self.pane(["--units", "B", "4"], 120, 30)  # 4 s: keys act long before a refresh
        lines = p.wait(lambda l: len(flow_rows(l, (cli, srv))) > 5, 30, "rows")
        self.assertIn("sort:total", lines[-1])
        self.assertIn("by:flow", lines[-1])
        self.assertIn("RX_B/s", lines[1])

        def key(k, pred, what):
            before = status_time(p.lines())
            p.keys(k)
            got = p.wait(pred, 2, what)
            self.assertFrame(got, 120, 30)
            return got, before

        def column_sorted(lines, i):
            vals = [int(r[i]) for r in flow_rows(lines, (cli, srv))]
            return vals == sorted(vals, reverse=True) and len(vals) > 5

        # s: the next sort key, rows sorted by it at once
        got, _ = key("s", lambda l: "sort:rx " in l[-1] and column_sorted(l, 2), "sort by rx")
        got, _ = key("s", lambda l: "sort:tx " in l[-1] and column_sorted(l, 3), "sort by tx")
        for label in ("rx_total", "tx_total", "total_all", "total"):
            key("s", lambda l: ("sort:%s " % label) in l[-1], "sort " + label)
        # t / r: totals since start, then rates
        key("t", lambda l: "RXSUM_B" in l[1] and "TXSUM_B" in l[1], "totals")
        key("r", lambda l: "RX_B/s" in l[1], "rates")
        # b: every grouping in turn
        key("b", lambda l: "by:pid" in l[-1] and "FLOWS" in l[1] and
            any(r[1] == cli and r[-1] == "160" for r in flow_rows(l, (cli,))), "by pid")
        key("b", lambda l: "by:comm" in l[-1] and l[1].startswith("COMM") and
            any(x.startswith(cli + " ") for x in l), "by comm")
        key("b", lambda l: "by:raddr" in l[-1] and l[1].startswith("RADDR") and
            any(x.startswith("127.0.0.1 ") for x in l), "by raddr")
        key("b", lambda l: "by:lport" in l[-1] and l[1].startswith("LPORT"), "by lport")
        key("b", lambda l: "by:cgroup" in l[-1] and "CGROUP" in l[1], "by cgroup")
        key("b", lambda l: "by:container" in l[-1] and "CONTAINER" in l[1] and
            "CGROUP" not in l[1], "by container")
        key("b", lambda l: "by:flow" in l[-1] and "LADDR" in l[1], "by flow")
        # /: only rows whose comm or address has the text; Esc drops it
        key("/", lambda l: "filter (Enter" in l[-1], "the filter prompt")
        p.keys(srv)
        got, _ = key("Enter", lambda l: ('filter:"%s"' % srv) in l[-1], "the filter")
        rows = [fields(x) for x in got[2:-1] if x.strip()]
        self.assertTrue(rows)
        self.assertTrue(all(r[1] == srv or "others" in r for r in rows), "\n".join(got))
        key("/", lambda l: "filter (Enter" in l[-1], "the filter prompt")
        key("Escape", lambda l: "filter:" not in l[-1] and
            len(flow_rows(l, (cli,))) > 0, "the filter dropped")
        # h: the keys; any key goes back
        key("h", lambda l: any(x.startswith("bccflow keys:") for x in l), "help")
        key("x", lambda l: len(flow_rows(l, (cli, srv))) > 5, "back from help")
        # p: the rows stay while counting goes on (the status line moves)
        got, _ = key("p", lambda l: "[paused]" in l[0], "paused")
        frozen = got[1:-1]
        when = status_time(got)
        later = p.wait(lambda l: status_time(l) != when, 10, "a refresh while paused")
        later = p.wait(lambda l: status_time(l) != when, 10, "a refresh while paused")
        self.assertIn("[paused]", later[0])
        self.assertEqual(later[1:-1], frozen, "rows changed while paused")
        key("p", lambda l: "[paused]" not in l[0] and l[1:-1] != frozen, "resumed")
        # n: remote names (127.0.0.1 is localhost in /etc/hosts), once looked up
        key("n", lambda l: "names:on" in l[-1], "names on")
        got = p.wait(lambda l: any("localhost:" in x for x in l), 15, "a name")
        self.assertFrame(got, 120, 30)
        key("n", lambda l: "names:off" in l[-1] and not any("localhost:" in x for x in l),
            "names off")
        # q: exit 0, the terminal as it was (and nothing loaded: tearDown)
        p.keys("q")
        self.assertEqual(p.exit_code(), 0)
        self.assertRestored(p)

    def test_ctrl_c_and_sigterm_restore(self):
        for how in ("C-c", "SIGTERM", "C-\\"):
            with self.subTest(how=how):
                p = self.pane(["1"], 100, 25)
                self.wait_refresh(p)
                if how == "SIGTERM":
                    pid = subprocess.run(["pgrep", "-P", p.flag("pane_pid")],
                                         capture_output=True, text=True).stdout.split()
                    self.assertEqual(len(pid), 1)
                    os.kill(int(pid[0]), signal.SIGTERM)
                else:
                    p.keys(how)
                self.assertEqual(p.exit_code(), 0)
                self.assertRestored(p)

    def test_ctrl_z_gives_the_terminal_back(self):
        p = self.pane(["1"], 100, 25)
        self.wait_refresh(p)
        pid = int(subprocess.run(["pgrep", "-P", p.flag("pane_pid")], capture_output=True,
                                 text=True).stdout.split()[0])
        tty = p.flag("pane_tty")
        # what Ctrl-Z sends: the terminal as it was while stopped
        os.kill(pid, signal.SIGTSTP)
        deadline = time.time() + 5
        while time.time() < deadline and p.flag("alternate_on") != "0":
            time.sleep(0.05)
        with open("/proc/%d/stat" % pid) as f:
            self.assertEqual(f.read().rsplit(")", 1)[1].split()[0], "T", "not stopped")
        self.assertEqual(p.flag("alternate_on"), "0")
        self.assertEqual(p.flag("cursor_flag"), "1")
        now = subprocess.run(["stty", "-a", "-F", tty], capture_output=True, text=True).stdout
        self.assertEqual(now, p.stty("before"))
        # fg: the screen again, at once
        os.kill(pid, signal.SIGCONT)
        lines = p.wait(lambda l: STATUS.match(l[0]) is not None, 3, "the screen back")
        self.assertFrame(lines, 100, 25)
        self.assertEqual(p.flag("alternate_on"), "1")
        p.keys("q")
        self.assertEqual(p.exit_code(), 0)
        self.assertRestored(p)

    def test_no_color_and_ascii(self):
        name = tag()
        # outlasts the four panes below (each compiles the probe and may wait 20 s for
        # rows; 10 s of traffic ran out before the last on a busy host); stopped at tearDown
        self.gen(name, "-n", 20, "--tx", 400000, "--rounds", 500, "--period-ms", 200)
        comms = ("sc-cli-" + name, "sc-srv-" + name)
        for env, args, color, blocks in (({}, [], True, True),
                                         ({"NO_COLOR": "1"}, [], False, True),
                                         ({}, ["--ascii"], True, False),
                                         ({"LANG": "C", "LC_ALL": "C"}, [], True, False)):
            with self.subTest(env=env, args=args):
                p = self.pane(args + ["1"], 100, 25, env=env)
                p.wait(lambda l: len(flow_rows(l, comms)) > 3, 20, "rows")
                raw = p.tmux("capture-pane", "-p", "-e", "-t", "s")
                self.assertEqual("\x1b[" in raw.replace("\x1b[0m", "").replace(
                    "\x1b[39m", "").replace("\x1b[49m", ""), color, raw[:500])
                self.assertEqual("\u2588" in raw or "\u258f" in raw, blocks, raw[:500])
                if not blocks:
                    self.assertTrue(all(ord(c) < 128 for c in raw))
                p.keys("q")
                self.assertEqual(p.exit_code(), 0)

    # ---- names: a resolver that never answers ------------------------------------------

    def test_silent_dns_delays_no_refresh(self):
        with open("/etc/hosts") as f:
            hosts = f.read()
        addrs = [a for a in ("127.0.0.77", "127.0.0.78", "127.0.0.87", "127.0.0.88")
                 if a not in hosts][:2]
        self.assertEqual(len(addrs), 2)
        # a DNS server on a loopback address that reads queries and never answers
        dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dns.bind(("127.0.0.79", 53))
        queries = []
        stop = threading.Event()

        def listen():
            dns.settimeout(0.2)
            while not stop.is_set():
                try:
                    queries.append(dns.recvfrom(4096)[0])
                except socket.timeout:
                    pass
        threading.Thread(target=listen, daemon=True).start()
        conf = tempfile.NamedTemporaryFile("w", suffix=".resolv.conf", delete=False)
        conf.write("nameserver 127.0.0.79\noptions timeout:30 attempts:5\n")
        conf.close()
        os.chmod(conf.name, 0o644)  # bccflow reads it as nobody, after the drop
        # traffic between the two addresses, for the whole test
        srv = socket.socket()
        srv.bind((addrs[0], 0))
        srv.listen()
        cli = socket.socket()
        cli.bind((addrs[1], 0))
        cli.connect(srv.getsockname())
        acc, _ = srv.accept()

        def talk():
            while not stop.is_set():
                cli.sendall(b"x" * 1000)
                n = 0
                while n < 1000:
                    n += len(acc.recv(1000 - n))
                time.sleep(0.05)
        threading.Thread(target=talk, daemon=True).start()
        try:
            # bccflow in its own mount namespace, where resolv.conf names that server
            wrap = lambda cmd: ("unshare -m sh -c %s" % shlex.quote(
                "mount --bind %s /etc/resolv.conf && exec %s" % (conf.name, cmd)))
            p = self.pane(["--names", "1"], 120, 25, wrap=wrap)
            start = time.time()
            seen = []
            while time.time() - start < 6:
                lines = p.lines()
                self.assertFrame(lines, 120, 25)
                t = status_time(lines)
                if not seen or seen[-1][1] != t:
                    seen.append((time.time(), t))
                time.sleep(0.05)
            self.assertTrue(queries, "the resolver never asked the DNS server")
            # a refresh every second all along
            self.assertGreaterEqual(len(seen), 5, seen)
            gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:])]
            self.assertLess(max(gaps), 1.6, gaps)
            # the addresses stay until a name arrives (never, here)
            ends = {f[-2]: f[-1] for f in map(fields, lines[2:-1]) if len(f) > 4}
            cport, sport = cli.getsockname()[1], srv.getsockname()[1]
            self.assertEqual(ends.get("%s:%d" % (addrs[1], cport)), "%s:%d" % (addrs[0], sport),
                             "\n".join(lines))
            self.assertEqual(ends.get("%s:%d" % (addrs[0], sport)), "%s:%d" % (addrs[1], cport),
                             "\n".join(lines))
            self.assertIn("names:on", lines[-1])
            # keys answer at once, and q ends at once, the lookup still pending
            t0 = time.time()
            p.keys("h")
            p.wait(lambda l: any(x.startswith("bccflow keys:") for x in l), 1, "help")
            p.keys("x", "q")
            self.assertEqual(p.exit_code(5), 0)
            self.assertLess(time.time() - t0, 3)
            self.assertRestored(p)
        finally:
            stop.set()
            for s in (cli, acc, srv, dns):
                s.close()
            os.unlink(conf.name)


if __name__ == "__main__":
    unittest.main()

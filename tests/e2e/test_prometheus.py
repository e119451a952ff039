"""bccflow --listen scraped by a real Prometheus server (Debian's package).

Each test starts its own Prometheus (temporary TSDB, loopback port, 1 s
scrapes of bccflow's endpoint) and its own bccflow, makes traffic with
exactly known byte counts (flowgen), and compares the counters that
Prometheus stored with the truth, exactly. Process names are unique per run,
so other traffic on the machine (Prometheus' own scrapes included) cannot
land in the series compared.

Prometheus: $PROMETHEUS, else /usr/bin/prometheus; installed with apt-get
(as root) when missing. The Debian service is never used: if the install
started one it is stopped and disabled.
"""
import json
import os
import random
import resource
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from e2e import BCCFLOW, E2ETest, Monitor, flowgen  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCRAPE_S = 1
PROM_START_TIMEOUT = 60
UP_TIMEOUT = 60        # Prometheus' target discovery alone takes about 5 s
VALUE_TIMEOUT = 30     # traffic done -> the exact value stored
SETTLE_S = 3.5         # a few more scrapes, to see that nothing changes after


def own_workload():
    """The netns, cgroup and container labels of flowgen's flows (it runs where
    this test runs). Prometheus drops empty labels: no container outside a
    systemd unit. (Inside a container this test would need its id.)"""
    with open("/proc/self/cgroup") as f:
        cg = next((l[3:].strip() for l in f if l.startswith("0::")), "/")
    out = {"netns": str(os.stat("/proc/self/ns/net").st_ino), "cgroup": cg, "proto": "tcp"}
    last = cg.rsplit("/", 1)[-1]
    if last.endswith((".service", ".scope", ".socket", ".mount", ".swap")):
        out["container"] = last
    return out


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A loopback port that was free a moment ago."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def unique(prefix):
    """A process name nothing else on the machine has (<= 15 bytes)."""
    name = prefix + "".join(random.choice(string.ascii_lowercase + string.digits)
                            for _ in range(4))
    assert len(name) <= 15, name
    return name


_checked = False


def ensure_prometheus():
    """The Prometheus binary, installed from Debian's archive when missing."""
    global _checked
    if not _checked:
        if not os.access(PROMETHEUS, os.X_OK):
            install_prometheus()
        stop_debian_service()
        _checked = True
    return PROMETHEUS


def install_prometheus():
    if PROMETHEUS != "/usr/bin/prometheus":
        raise AssertionError("$PROMETHEUS=%s is not an executable" % PROMETHEUS)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    p = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if p.returncode != 0:  # maybe the package lists are old or missing
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=900)
        p = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if p.returncode != 0 or not os.access(PROMETHEUS, os.X_OK):
        raise AssertionError("cannot install prometheus: %s" % p.stderr[-2000:])


def run_quiet(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=60).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1


def stop_debian_service():
    """The tests run their own instance; the package's service (if an install
    started one) is stopped and disabled so that it neither scrapes nor
    holds :9090. Nothing is done where no service runs."""
    if run_quiet(["pgrep", "-x", "prometheus"]) != 0:
        return
    if run_quiet(["systemctl", "is-active", "--quiet", "prometheus"]) == 0:
        run_quiet(["systemctl", "stop", "prometheus"])
        run_quiet(["systemctl", "disable", "prometheus"])
    elif run_quiet(["service", "prometheus", "status"]) == 0:
        run_quiet(["service", "prometheus", "stop"])


def number(s):
    """A sample value from the query API as an exact integer."""
    v = float(s)
    if v != int(v) or abs(v) >= 2 ** 53:
        raise AssertionError("sample value %r is not an exact integer" % s)
    return int(v)


class Prometheus:
    """A private Prometheus scraping one target every second."""

    def __init__(self, target, job_extra=""):
        """job_extra: more lines of the scrape job (4-space indent), e.g.
        scheme, tls_config, basic_auth."""
        self.dir = tempfile.mkdtemp(prefix="bccflow-prom-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.target = target
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: %ds\n"
                    "  scrape_timeout: %ds\n"
                    "scrape_configs:\n"
                    "  - job_name: bccflow\n"
                    "    static_configs:\n"
                    "      - targets: ['%s']\n" % (SCRAPE_S, SCRAPE_S, target) + job_extra)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [ensure_prometheus(), "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def log_tail(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def _get(self, path, params=None, timeout=10):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()

    def _wait_ready(self):
        deadline = time.time() + PROM_START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited %d: %s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                if self._get("/-/ready", timeout=2)[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise AssertionError("prometheus not ready in %ds: %s"
                             % (PROM_START_TIMEOUT, self.log_tail()))

    def api(self, path, **params):
        try:
            _, body = self._get("/api/v1/" + path, params)
        except urllib.error.HTTPError as e:
            raise AssertionError("prometheus %s %s: %s" % (path, params, e.read().decode()))
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise AssertionError("prometheus %s %s: %s" % (path, params, body))
        return doc["data"]

    def query(self, q):
        """Instant vector: {labels without __name__/job/instance: value}."""
        data = self.api("query", query=q)
        if data["resultType"] == "scalar":
            return {(): number(data["result"][1])}
        out = {}
        for r in data["result"]:
            labels = tuple(sorted((k, v) for k, v in r["metric"].items()
                                  if k not in ("__name__", "job", "instance")))
            out[labels] = number(r["value"][1])
        return out

    def value(self, q):
        """The value of a query that must give one sample, or None for none."""
        res = self.query(q)
        if len(res) > 1:
            raise AssertionError("%s: more than one series: %s" % (q, res))
        return next(iter(res.values())) if res else None

    def target_health(self):
        ts = self.api("targets", state="active")["activeTargets"]
        return [(t["health"], t.get("lastError", "")) for t in ts]

    def wait_up(self, timeout=UP_TIMEOUT):
        deadline = time.time() + timeout
        health = []
        while time.time() < deadline:
            health = self.target_health()
            if health and all(h == "up" for h, _ in health):
                return
            time.sleep(0.2)
        raise AssertionError("target %s not up in %ds: %s; log: %s"
                             % (self.target, timeout, health, self.log_tail()))

    def wait_until(self, what, check, timeout=VALUE_TIMEOUT):
        """Polls check() (None while not there yet, else the result)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = check()
            if last is not None and last[0]:
                return last[1]
            time.sleep(0.25)
        raise AssertionError("%s: not within %ds; last: %s; targets: %s"
                             % (what, timeout, last, self.target_health()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def truth_by_comm(conns):
    """{comm: (rx, tx)} summed over flowgen's connections, both ends."""
    out = {}
    for c in conns:
        for side in ("client", "server"):
            rx, tx = out.get(c[side + "_comm"], (0, 0))
            out[c[side + "_comm"]] = (rx + c[side + "_rx"], tx + c[side + "_tx"])
    return out


def series_by_comm(truth):
    """[(metric, labels, bytes)] of truth_by_comm() as --by comm exposes it."""
    series = []
    for comm, (rx, tx) in truth.items():
        series += [("bccflow_rx_bytes_total", {"comm": comm, "proto": "tcp"}, rx),
                   ("bccflow_tx_bytes_total", {"comm": comm, "proto": "tcp"}, tx)]
    return series


def http_get(url, timeout=10):
    """(status, headers, body) without raising on 4xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class PromTest(E2ETest):
    """bccflow and Prometheus per test; both stopped before the BPF check."""

    def setUp(self):
        super().setUp()
        self.prom = None
        self.mon = None

    def tearDown(self):
        try:
            if self.mon is not None and self.mon.proc.poll() is None:
                self.mon.stop()
            if self.prom is not None:
                self.prom.stop()
        finally:
            super().tearDown()

    def start(self, *args):
        """Prometheus, then bccflow --listen (1 s intervals); waits for 'up'."""
        port = free_port()
        self.addr = "127.0.0.1:%d" % port
        self.prom = Prometheus(self.addr)
        self.mon = Monitor("--listen", self.addr, *(list(args) + ["1"]))
        self.prom.wait_up()

    def stop_monitor(self):
        rc = self.mon.stop()
        self.assertEqual(rc, 0, "\n".join(self.mon.err))
        host, port = self.addr.rsplit(":", 1)
        with self.assertRaises(ConnectionRefusedError, msg="port still open after exit"):
            socket.create_connection((host, int(port)), timeout=5).close()

    def sel(self, metric, **labels):
        return "%s{%s}" % (metric, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))

    def wait_exact(self, metric, labels, want):
        """Waits until Prometheus stored want for the series of labels."""
        q = self.sel(metric, **labels)

        def check():
            v = self.prom.value(q)
            return v == want, v
        try:
            return self.prom.wait_until("%s == %d" % (q, want), check)
        except AssertionError as e:
            ids = {kv for kv in labels.items() if kv[0] in ("pid", "comm", "lport")}
            near = sorted((k, v) for k, v in self.prom.query(metric).items() if set(k) & ids)
            raise AssertionError("%s\nseries with the same pid, comm or lport: %s"
                                 % (e, near[:10])) from None

    def assert_settled(self, series):
        """After a few more scrapes: still exact, never above the truth, and
        freshly scraped (the last sample is the value, not a stale one)."""
        time.sleep(SETTLE_S)
        for metric, labels, want in series:
            q = self.sel(metric, **labels)
            self.assertEqual(self.prom.query(q), {tuple(sorted(labels.items())): want}, q)
            self.assertEqual(self.prom.value("max_over_time(%s[1m])" % q), want, q)
            self.assertEqual(self.prom.value("last_over_time(%s[1m])" % q), want, q)
            age = self.prom.value("floor(time() - timestamp(%s))" % q)
            self.assertLessEqual(age, 3 * SCRAPE_S, "%s: last sample %ds old" % (q, age))

    def assert_exposition(self):
        """bccflow's endpoint: the content type, HELP and TYPE before every
        family's samples, no series twice; and Prometheus ingested every
        scrape without complaint."""
        status, headers, body = http_get("http://%s/metrics" % self.addr)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], CONTENT_TYPE)
        self.assertTrue(body.endswith("\n"))
        seen, typed, helped = set(), set(), set()
        for line in body.splitlines():
            if line.startswith("# HELP "):
                helped.add(line.split()[2])
            elif line.startswith("# TYPE "):
                typed.add(line.split()[2])
            else:
                key = line.rsplit(" ", 1)[0]
                self.assertNotIn(key, seen, "series twice in the exposition")
                seen.add(key)
                family = key.split("{", 1)[0]
                self.assertIn(family, typed, line)
                self.assertIn(family, helped, line)
        _, prom_own = self.prom._get("/metrics")
        for m in ("prometheus_target_scrapes_sample_duplicate_timestamp_total",
                  "prometheus_target_scrapes_sample_out_of_order_total",
                  "prometheus_target_scrapes_sample_out_of_bounds_total"):
            vals = [l.split()[-1] for l in prom_own.splitlines() if l.startswith(m + " ")]
            self.assertEqual(vals, ["0"], m)
        return body

    def assert_self_metrics(self, bpf_stats=True):
        """bpf_stats: bccflow runs with --bpf-stats (else the two BPF run
        families are absent)."""
        p = self.prom
        self.assertEqual(p.value('up{job="bccflow"}'), 1)
        self.assertGreater(p.value("bccflow_intervals_total"), 0)
        self.assertGreater(p.value("bccflow_bpf_events_total"), 0)
        self.assertEqual(p.value("bccflow_dropped_events_total"), 0)
        self.assertEqual(p.value("bccflow_dropped_bytes_total"), 0)
        self.assertIsNotNone(p.value("bccflow_flows_tracked"))
        self.assertIsNotNone(p.value("bccflow_series_limited"))
        info = p.query("bccflow_info")
        self.assertEqual(len(info), 1, info)
        labels, v = next(iter(info.items()))
        self.assertEqual(v, 1)
        labels = dict(labels)
        self.assertEqual(sorted(labels), ["attach", "version"])
        self.assertTrue(labels["version"] and labels["attach"], labels)
        # Prometheus took every family's TYPE and HELP
        meta = p.api("metadata")
        types = {"bccflow_rx_bytes_total": "counter", "bccflow_tx_bytes_total": "counter",
                 "bccflow_flows_tracked": "gauge", "bccflow_dropped_events_total": "counter",
                 "bccflow_dropped_bytes_total": "counter", "bccflow_intervals_total": "counter",
                 "bccflow_bpf_events_total": "counter", "bccflow_series_limited": "gauge",
                 "bccflow_cpu_seconds_total": "counter",
                 "bccflow_info": "gauge"}
        if bpf_stats:
            types.update({"bccflow_bpf_run_seconds_total": "counter",
                          "bccflow_bpf_runs_total": "counter"})
        for name, t in types.items():
            self.assertIn(name, meta, "no metadata for %s" % name)
            self.assertEqual(meta[name][0]["type"], t, name)
            self.assertTrue(meta[name][0]["help"], name)
        self.assertGreater(p.value('scrape_samples_scraped{job="bccflow"}'), 0)
        # our own cost: the programs ran, and took time; bccflow used CPU
        # (seconds are not whole: compared as whole nanoseconds)
        self.assertGreater(p.value("round(bccflow_cpu_seconds_total * 1e9) > 0"), 0)
        if not bpf_stats:  # unknown: no series at all, not 0
            self.assertIsNone(p.value("bccflow_bpf_runs_total"))
            self.assertIsNone(p.value("bccflow_bpf_run_seconds_total"))
            return
        self.assertGreater(p.value("bccflow_bpf_runs_total"), 0)
        self.assertGreater(p.value("round(bccflow_bpf_run_seconds_total * 1e9) > 0"), 0)


class PrometheusScrape(PromTest):
    def test_counters_by_comm_exact(self):
        cli, srv = unique("pt-cli-"), unique("pt-srv-")
        self.start("--bpf-stats")  # --by comm is the default with --listen
        conns = flowgen("--flows", 3, "--tx", 1000003, "--rx", 200011, "--step", 7,
                        "--client-comm", cli, "--server-comm", srv)
        self.assertEqual(len(conns), 3)
        truth = truth_by_comm(conns)
        self.assertEqual(truth[cli], (3 * 200011 + 21, 3 * 1000003 + 21))
        series = series_by_comm(truth)
        for metric, labels, want in series:
            self.wait_exact(metric, labels, want)
        # the client's tx is the server's rx and the other way round
        self.assertEqual(truth[cli][1], truth[srv][0])
        self.assertEqual(truth[cli][0], truth[srv][1])
        self.assert_settled(series)
        self.assert_self_metrics()
        # (increase() extrapolates, and a series born with all its bytes has
        # no increase at all: raw values are what is compared.) The counters
        # never went back:
        for metric, labels, _ in series:
            self.assertEqual(self.prom.value("resets(%s[1m])" % self.sel(metric, **labels)), 0)

        # the endpoint itself, as Prometheus sees it
        body = self.assert_exposition()
        self.assertIn("# TYPE bccflow_tx_bytes_total counter\n", body)
        self.assertIn('\nbccflow_tx_bytes_total{comm="%s",proto="tcp"} %d\n' % (cli, truth[cli][1]), body)
        self.assertEqual(http_get("http://%s/other" % self.addr)[0], 404)
        self.stop_monitor()

    def test_counters_by_pid_exact(self):
        cli, srv = unique("pt-pc-"), unique("pt-ps-")
        self.start("--by", "pid")
        conns = flowgen("--flows", 2, "--tx", 300007, "--rx", 5003, "--client-comm", cli,
                        "--server-comm", srv)
        c = conns[0]
        series = [
            ("bccflow_tx_bytes_total", {"pid": str(c["client_pid"]), "comm": cli, "proto": "tcp"},
             sum(x["client_tx"] for x in conns)),
            ("bccflow_rx_bytes_total", {"pid": str(c["client_pid"]), "comm": cli, "proto": "tcp"},
             sum(x["client_rx"] for x in conns)),
            ("bccflow_tx_bytes_total", {"pid": str(c["server_pid"]), "comm": srv, "proto": "tcp"},
             sum(x["server_tx"] for x in conns)),
            ("bccflow_rx_bytes_total", {"pid": str(c["server_pid"]), "comm": srv, "proto": "tcp"},
             sum(x["server_rx"] for x in conns)),
        ]
        for metric, labels, want in series:
            self.wait_exact(metric, labels, want)
        self.assert_settled(series)
        # no other labels than pid, comm and proto
        got = self.prom.query('bccflow_tx_bytes_total{comm="%s"}' % cli)
        self.assertEqual([sorted(dict(k)) for k in got], [["comm", "pid", "proto"]])
        # without --bpf-stats: the BPF run time is unknown, so not served
        self.assert_self_metrics(bpf_stats=False)
        body = self.assert_exposition()
        self.assertNotIn("bccflow_bpf_run", body)
        self.assertIn("\nbccflow_cpu_seconds_total ", body)
        self.stop_monitor()

    def test_counters_by_flow_exact(self):
        cli, srv = unique("pt-fc-"), unique("pt-fs-")
        where = own_workload()
        self.start("--by", "flow")
        conns = flowgen("--flows", 3, "--tx", 70001, "--rx", 90001, "--step", 1000,
                        "--client-comm", cli, "--server-comm", srv)
        series = []
        for c in conns:
            client = {"pid": str(c["client_pid"]), "comm": cli,
                      "laddr": c["client_addr"], "lport": str(c["client_port"]),
                      "raddr": c["server_addr"], "rport": str(c["server_port"]), **where}
            server = {"pid": str(c["server_pid"]), "comm": srv,
                      "laddr": c["server_addr"], "lport": str(c["server_port"]),
                      "raddr": c["client_addr"], "rport": str(c["client_port"]), **where}
            series += [("bccflow_tx_bytes_total", client, c["client_tx"]),
                       ("bccflow_rx_bytes_total", client, c["client_rx"]),
                       ("bccflow_tx_bytes_total", server, c["server_tx"]),
                       ("bccflow_rx_bytes_total", server, c["server_rx"])]
        for metric, labels, want in series:
            self.wait_exact(metric, labels, want)
        self.assert_settled(series)
        self.assertEqual(len(self.prom.query('bccflow_tx_bytes_total{comm="%s"}' % cli)), 3)
        self.assert_exposition()
        self.stop_monitor()

    def test_max_series_folds_into_other(self):
        """--max-series 2: at most 2 series, one of them comm="other".

        Which groups get their own series depends on what bccflow saw first,
        and that includes Prometheus' own scrapes (comm "prometheus") and
        the reply side in bccflow. So "other" holds our folded names plus
        whatever else was folded: it is compared with >=, while our names that
        kept a series of their own must be exact.
        """
        names = [unique("pt-m%d-" % i) for i in range(4)]
        self.start("--max-series", "2")
        conns = flowgen("--tx", 400009, "--rx", 3001, "--client-comm", names[0],
                        "--server-comm", names[1])
        conns += flowgen("--tx", 100003, "--rx", 7001, "--client-comm", names[2],
                         "--server-comm", names[3])
        truth = truth_by_comm(conns)
        self.assertEqual(sorted(truth), sorted(names))

        def state():
            s = {}
            for d in ("rx", "tx"):
                for labels, v in self.prom.query("bccflow_%s_bytes_total" % d).items():
                    s.setdefault(dict(labels)["comm"], {})[d] = v
            return s

        def consistent():
            s = state()
            other = s.get("other")
            if not other:
                return False, s
            folded = [n for n in names if n not in s]
            for n in names:
                if n in s and (s[n].get("rx"), s[n].get("tx")) != truth[n]:
                    return False, s
            if (other.get("rx", 0) < sum(truth[n][0] for n in folded) or
                    other.get("tx", 0) < sum(truth[n][1] for n in folded)):
                return False, s
            return True, s

        s = self.prom.wait_until("our traffic in its series or in 'other'", consistent)
        time.sleep(SETTLE_S)
        ok, s2 = consistent()
        self.assertTrue(ok, s2)
        self.assertEqual(sorted(s2), sorted(s), "series are sticky")
        for d in ("rx", "tx"):
            got = self.prom.query("bccflow_%s_bytes_total" % d)
            self.assertLessEqual(len(got), 2, got)
            self.assertIn((("comm", "other"), ("proto", "other")), got, got)
            total = self.prom.value("sum(bccflow_%s_bytes_total)" % d)
            mine = sum(truth[n][0 if d == "rx" else 1] for n in names)
            self.assertGreaterEqual(total, mine, d)
        folded = [n for n in names if n not in s2]
        self.assertGreaterEqual(len(folded), 3, s2)  # at most one own series is left
        self.assertGreaterEqual(self.prom.value("bccflow_series_limited"), len(folded))
        self.assert_exposition()
        self.stop_monitor()


class ListenOption(E2ETest):
    def run_bccflow(self, *args, timeout=120):
        p = subprocess.run([BCCFLOW] + list(args), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr

    def test_bad_listen_values(self):
        for v in ("127.0.0.1", "[::1]", "1.2.3.4:0", "localhost:80", "::1:9877",
                  "127.0.0.1:65536", "abc:1", "127.0.0.1:+80", ""):
            rc, out, err = self.run_bccflow("--listen", v, "1")
            self.assertEqual(rc, 2, "--listen %r: rc %d, %s" % (v, rc, err))
            self.assertEqual(out, "")
            lines = err.splitlines()
            self.assertEqual(len(lines), 1, "--listen %r: %s" % (v, err))
            self.assertIn("--listen", lines[0])
            self.assertIn("'%s'" % v, lines[0])
            self.assertIn("e.g.", lines[0])

    def test_max_series_needs_listen(self):
        rc, _, err = self.run_bccflow("--max-series", "2", "1")
        self.assertEqual(rc, 2, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("--listen", err)

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            addr = "127.0.0.1:%d" % s.getsockname()[1]
            rc, out, err = self.run_bccflow("--listen", addr, "1")
        self.assertEqual(rc, 1, err)
        lines = [l for l in err.splitlines() if "in use" in l]
        self.assertEqual(len(lines), 1, err)
        self.assertIn(addr, lines[0])

    def test_ipv6_listen(self):
        try:
            port = free_port(socket.AF_INET6, "::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        m = Monitor("--listen", "[::1]:%d" % port, "1")
        try:
            deadline = time.time() + 30
            while True:
                try:
                    status, headers, body = http_get("http://[::1]:%d/metrics" % port)
                    if "bccflow_info" in body:
                        break
                except OSError:
                    pass
                self.assertLess(time.time(), deadline, "no exposition on [::1]:%d" % port)
                time.sleep(0.2)
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], CONTENT_TYPE)
            self.assertIn("# TYPE bccflow_rx_bytes_total counter\n", body)
            # exactly [::1]: nothing on 127.0.0.1 with that port
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
        finally:
            self.assertEqual(m.stop(), 0, "\n".join(m.err))

    def test_stuck_clients_do_not_starve_scrapes(self):
        """1,000 connections that never finish a request: a scrape still answers
        within a second; a malformed request gets 400 and an oversized header
        431, without a line on stderr."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        port = free_port()
        url = "http://127.0.0.1:%d/metrics" % port
        m = Monitor("--listen", "127.0.0.1:%d" % port, "1", json_mode=False)
        stuck = []
        try:
            deadline = time.time() + 30
            while "bccflow_info" not in http_get(url)[2]:  # the first interval's exposition
                self.assertLess(time.time(), deadline, "no exposition on %s" % url)
                time.sleep(0.2)
            for _ in range(1000):
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and no more
                stuck.append(c)
            worst = 0.0
            for _ in range(10):
                t0 = time.monotonic()
                status, _, body = http_get(url, timeout=5)
                worst = max(worst, time.monotonic() - t0)
                self.assertEqual(status, 200)
                self.assertIn("bccflow_info", body)
            self.assertLess(worst, 1.0, "a scrape took %.2f s beside 1,000 stuck clients" % worst)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHo st\r\n\r\n")
                self.assertIn(b" 400 ", c.recv(4096).split(b"\r\n")[0] + b" ")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                          b"\r\n\r\n")
                self.assertRegex(c.recv(4096).split(b"\r\n")[0], rb" 4(31|13) ")
        finally:
            for c in stuck:
                c.close()
            self.assertEqual(m.stop(), 0, "\n".join(m.err))
        self.assertEqual([l for l in m.err if "metrics server" in l], [])

if __name__ == "__main__":
    unittest.main()

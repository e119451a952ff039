"""bccflow as a long-running exporter: privileges after attach, --web-config
(TLS and basic auth, scraped by Debian's Prometheus), and the service unit.

- Privileges: after the start line every thread of bccflow has the target
  uid and gid, no supplementary groups, empty CapEff/CapPrm/CapBnd/CapAmb and
  no_new_privs; counting stays exact, and SIGINT still leaves nothing loaded.
- --web-config: a CA, a server certificate for 127.0.0.1 and a client
  certificate are made with openssl for each run, the basic-auth hash with
  htpasswd -B (apache2-utils). The key files are root's, mode 0600, in a
  0700 directory: bccflow can read them only before it drops root.
- The unit: `cmake --install` into a temporary prefix, `systemd-analyze
  verify` on the installed unit (no output allowed), and bccflow started
  with exactly the unit's capability bounding set and NoNewPrivileges, on a
  read-only root (as ProtectSystem=strict makes it), counting exactly.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from e2e import BCCFLOW, E2ETest, Monitor, flowgen  # noqa: E402
from test_prometheus import (PromTest, Prometheus, free_port, series_by_comm,  # noqa: E402
                             truth_by_comm, unique)

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT_IN = os.path.join(SRC, "packaging", "bccflow-exporter.service.in")
NOBODY = 65534
USER, PASSWORD = "prom", "s3cret-Pa55"


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (cmd, p.returncode, p.stderr[-2000:]))
    return p.stdout


def status_of(pid):
    """{task id: {field: value}} of /proc/PID/task/*/status."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            out[tid] = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    return out


def count_exactly_as(test, argv, uid, tx, rx):
    """Starts argv (a wrapper that ends by running bccflow --json 1), waits
    until the process is bccflow done dropping to uid, makes traffic, stops it with
    SIGINT and checks exit 0 and exact counts. Returns the pid's last status."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    st = {}
    try:
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            try:
                with open("/proc/%d/comm" % p.pid) as f:
                    comm = f.read().strip()
                st = status_of(p.pid)[str(p.pid)]
            except OSError:
                break
            # the drop ends with no_new_privs, after the capabilities went
            if comm == "bccflow" and st["Uid"].split()[0] == str(uid) and \
                    int(st["CapEff"], 16) == 0 and st["NoNewPrivs"] == "1":
                break
            time.sleep(0.1)
        test.assertEqual(st.get("Uid", "").split()[:1], [str(uid)],
                         "bccflow did not start and become uid %d" % uid)
        statuses = status_of(p.pid)
        conns = flowgen("--tx", tx, "--rx", rx)
        time.sleep(2.2)
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    test.assertEqual(p.returncode, 0, err)
    test.assertFlowsExact([json.loads(l) for l in out.splitlines()], conns)
    return statuses


class Pki:
    """CA, server (127.0.0.1) and client certificates in a 0700 directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bccflow-pki-")
        os.chmod(self.dir, 0o700)
        self.path = lambda n: os.path.join(self.dir, n)
        self._ca("ca")
        self._leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")
        self._leaf("client", "ca", "extendedKeyUsage=clientAuth")
        self._ca("rogue")  # a client certificate nobody signed
        self.hash = run(["htpasswd", "-nbBC", "10", USER, PASSWORD]).strip().split(":", 1)[1]

    def _key(self, name):
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", self.path(name + ".key")])
        os.chmod(self.path(name + ".key"), 0o600)

    def _ca(self, name):
        self._key(name)
        # the extensions strict verifiers (Python 3.13's default) want of a CA
        run(["openssl", "req", "-x509", "-new", "-key", self.path(name + ".key"), "-days", "2",
             "-subj", "/CN=bccflow test %s" % name, "-out", self.path(name + ".crt"),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash"])

    def _leaf(self, name, ca, ext):
        self._key(name)
        run(["openssl", "req", "-new", "-key", self.path(name + ".key"), "-subj",
             "/CN=bccflow test %s" % name, "-out", self.path(name + ".csr")])
        extfile = self.path(name + ".ext")
        with open(extfile, "w") as f:
            f.write(ext + "\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid,issuer\n")
        run(["openssl", "x509", "-req", "-in", self.path(name + ".csr"), "-CA",
             self.path(ca + ".crt"), "-CAkey", self.path(ca + ".key"), "-CAcreateserial",
             "-days", "2", "-extfile", extfile, "-out", self.path(name + ".crt")])

    def web_config(self, text):
        path = self.path("web-%d.yml" % len(os.listdir(self.dir)))
        with open(path, "w") as f:
            f.write(text)
        return path

    def tls_config(self, extra=""):
        return self.web_config("tls_server_config:\n  cert_file: server.crt\n"
                               "  key_file: server.key\n" + extra)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def https_get(url, ca, auth=None, cert=None, timeout=10):
    """(status, headers, body) over TLS checked against ca."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(*cert)
    req = urllib.request.Request(url)
    if auth:
        import base64
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Privileges(E2ETest):
    def assert_unprivileged(self, pid, uid, gid):
        self.assert_statuses(status_of(pid), uid, gid)

    def assert_statuses(self, tasks, uid, gid):
        self.assertTrue(tasks)
        for tid, st in tasks.items():
            with self.subTest(task=tid):
                self.assertEqual(st["Uid"].split(), [str(uid)] * 4)
                self.assertEqual(st["Gid"].split(), [str(gid)] * 4)
                self.assertEqual(st["Groups"].strip(), "")
                for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                    self.assertEqual(int(st[cap], 16), 0, "%s of task %s" % (cap, tid))
                self.assertEqual(st["NoNewPrivs"], "1")

    def test_nobody_without_capabilities_counts_exactly(self):
        m = Monitor("1")
        self.assert_unprivileged(m.proc.pid, NOBODY, NOBODY)
        conns = flowgen("-n", 3, "--tx", 300001, "--rx", 200003, "--rounds", 2,
                        "--period-ms", 1100)
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0, m.err)
        self.assertFlowsExact(m.records(), conns)
        self.assertFalse([l for l in m.err if "privilege" in l or "keeping" in l], m.err)

    def test_listen_thread_is_unprivileged_too(self):
        addr = "127.0.0.1:%d" % free_port()
        m = Monitor("--listen", addr, "--by", "pid", "1")
        # the server thread starts after the drop: it must hold nothing either
        self.assertGreaterEqual(len(status_of(m.proc.pid)), 2)
        self.assert_unprivileged(m.proc.pid, NOBODY, NOBODY)
        cli = unique("pv-cli-")
        c = flowgen("--tx", 4321, "--rx", 1234, "--client-comm", cli)[0]
        n = len(m.records("interval"))
        m.wait_intervals(n + 2)
        with urllib.request.urlopen("http://%s/metrics" % addr, timeout=10) as r:
            body = r.read().decode()
        self.assertIn('bccflow_tx_bytes_total{pid="%d",comm="%s",proto="tcp"} %d\n'
                      % (c["client_pid"], cli, c["client_tx"]), body)
        self.assertEqual(m.stop(), 0, m.err)
        rows = [r for r in m.records("group") if r["pid"] == c["client_pid"]]
        self.assertEqual((rows[-1]["rx_total"], rows[-1]["tx_total"]),
                         (c["client_rx"], c["client_tx"]))

    def test_user_option(self):
        m = Monitor("--user", "daemon", "1")  # Debian's daemon: uid 1, gid 1
        self.assert_unprivileged(m.proc.pid, 1, 1)
        self.assertEqual(m.stop(), 0, m.err)

    def test_started_by_a_user_with_capabilities_ends_with_none(self):
        # as a service might start it: a plain user with ambient capabilities
        # (dac_read_search: tracefs is root's; setpcap: to empty CapBnd)
        caps = "+sys_admin,+bpf,+perfmon,+net_admin,+dac_read_search,+setpcap"
        argv = ["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups",
                "--inh-caps", caps, "--ambient-caps", caps, BCCFLOW, "--json", "1"]
        statuses = count_exactly_as(self, argv, 4242, 55555, 4444)
        self.assert_statuses(statuses, 4242, 4242)

    def test_user_root_keeps_root_and_says_so(self):
        m = Monitor("--user", "root", "1")
        st = status_of(m.proc.pid)[str(m.proc.pid)]
        self.assertEqual(st["Uid"].split()[1], "0")
        self.assertNotEqual(int(st["CapEff"], 16), 0)
        self.assertEqual(m.stop(), 0, m.err)
        self.assertIn("bccflow: warning: --user root: staying root with every capability",
                      m.err)

    def test_unknown_user_exits_2_before_loading(self):
        t0 = time.monotonic()
        p = subprocess.run([BCCFLOW, "--user", "no-such-user-bccflow"], capture_output=True,
                           text=True, timeout=30)
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr.splitlines(),
                         ["bccflow: --user no-such-user-bccflow: no such user in the password "
                          "database (name an existing user, e.g. --user nobody)"])


class WebConfig(PromTest):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()

    def start_tls(self, config, job_extra=None, auth=(USER, PASSWORD)):
        """bccflow --listen --web-config, and a Prometheus scraping it over
        https with the CA and these credentials."""
        port = free_port()
        self.addr = "127.0.0.1:%d" % port
        if job_extra is None:
            job_extra = ("    scheme: https\n"
                         "    tls_config:\n      ca_file: %s\n"
                         "    basic_auth:\n      username: %s\n      password: %s\n"
                         % (self.pki.path("ca.crt"), auth[0], auth[1]))
        self.prom = Prometheus(self.addr, job_extra)
        self.mon = Monitor("--listen", self.addr, "--web-config", config, "1")

    def test_prometheus_scrapes_https_with_basic_auth_exactly(self):
        config = self.pki.tls_config(
            "basic_auth_users:\n  %s: %s\n"
            "http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=60\n"
            % (USER, self.pki.hash))
        self.start_tls(config)
        self.prom.wait_up()
        cli, srv = unique("wc-cli-"), unique("wc-srv-")
        conns = flowgen("--flows", 2, "--tx", 500009, "--rx", 70001, "--step", 3,
                        "--client-comm", cli, "--server-comm", srv)
        truth = truth_by_comm(conns)
        series = series_by_comm(truth)
        for metric, labels, want in series:
            self.wait_exact(metric, labels, want)
        self.assert_settled(series)

        url = "https://%s/metrics" % self.addr
        ca = self.pki.path("ca.crt")
        status, headers, body = https_get(url, ca, auth=(USER, PASSWORD))
        self.assertEqual(status, 200)
        self.assertEqual(headers["Strict-Transport-Security"], "max-age=60")
        self.assertIn('bccflow_tx_bytes_total{comm="%s",proto="tcp"} %d\n'
                      % (cli, truth[cli][1]), body)
        for auth in (None, (USER, "wrong"), ("nobody", PASSWORD), (USER, "")):
            with self.subTest(auth=auth):
                status, headers, body = https_get(url, ca, auth=auth)
                self.assertEqual(status, 401)
                self.assertIn("Basic realm=", headers["WWW-Authenticate"])
                self.assertNotIn("bccflow_", body)
        # plain HTTP gets no answer at all
        with self.assertRaises(Exception):
            urllib.request.urlopen("http://%s/metrics" % self.addr, timeout=5).read()
        self.stop_monitor()
        self.assertEqual([l for l in self.mon.err if not l.startswith(
            ("bccflow: counting", "bccflow: cannot use"))], [])

    def test_wrong_credentials_are_refused(self):
        config = self.pki.tls_config("basic_auth_users:\n  %s: %s\n" % (USER, self.pki.hash))
        self.start_tls(config, auth=(USER, "not-the-password"))
        # (the first scrape can time out while bcrypt runs on a busy machine;
        # the answer is remembered, and the next ones get 401 at once)
        deadline = time.time() + 60
        health = []
        while time.time() < deadline:
            health = self.prom.target_health()
            if health and health[0][0] == "down" and "401" in health[0][1]:
                break
            time.sleep(0.3)
        self.assertEqual(health[0][0], "down", health)
        self.assertIn("401", health[0][1])
        self.assertIsNone(self.prom.value('up{job="bccflow"} == 1'))
        self.stop_monitor()

    def test_client_certificates(self):
        config = self.pki.tls_config("  client_ca_file: ca.crt\n"
                                     "  client_auth_type: RequireAndVerifyClientCert\n")
        self.start_tls(config, job_extra="    scheme: https\n"
                       "    tls_config:\n      ca_file: %s\n      cert_file: %s\n"
                       "      key_file: %s\n" % (self.pki.path("ca.crt"),
                                                  self.pki.path("client.crt"),
                                                  self.pki.path("client.key")))
        self.prom.wait_up()
        url, ca = "https://%s/metrics" % self.addr, self.pki.path("ca.crt")
        good = (self.pki.path("client.crt"), self.pki.path("client.key"))
        rogue = (self.pki.path("rogue.crt"), self.pki.path("rogue.key"))
        self.assertEqual(https_get(url, ca, cert=good)[0], 200)
        self.assertEqual(https_get(url, ca)[0], 403)
        # a certificate no trusted CA signed: 403, or (libmicrohttpd 1.0 with
        # GnuTLS 3.8) refused already in the handshake
        try:
            status = https_get(url, ca, cert=rogue)[0]
        except (OSError, urllib.error.URLError):  # SSLError, reset, broken pipe
            status = "refused in the handshake"
        self.assertIn(status, (403, "refused in the handshake"))
        self.stop_monitor()

    def test_garbage_on_the_tls_port_leaves_stderr_quiet(self):
        config = self.pki.tls_config()
        self.start_tls(config, job_extra="    scheme: https\n    tls_config:\n"
                       "      ca_file: %s\n" % self.pki.path("ca.crt"))
        self.prom.wait_up()
        host, port = self.addr.rsplit(":", 1)
        before = list(self.mon.err)
        for i in range(60):
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n" if i % 3 == 0 else
                          os.urandom(200) if i % 3 == 1 else b"\x16\x03\x01\x00\x05hello")
                s.settimeout(2)
                try:
                    s.recv(100)
                except (socket.timeout, ConnectionError):
                    pass
        time.sleep(2)
        self.assertEqual(self.prom.target_health()[0][0], "up")
        self.assertEqual(self.mon.err, before)
        self.stop_monitor()

    def test_bad_files_exit_2_with_one_line(self):
        pki = self.pki
        cases = [
            ("tls_server_config:\n  cert_file: server.crt\n", "needs both cert_file and key_file"),
            ("tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
             "cert_file and key_file: "),
            ("tls_server_config:\n  cert_file: gone.crt\n  key_file: server.key\n",
             "gone.crt: No such file or directory"),
            ("basic_auth_users:\n  prom: plain\n", "must be a bcrypt hash"),
            ("tls_server_config:\n  cipher_suites: [x]\n", "is not supported by bccflow"),
            ("listen: 1\n", "unknown key listen"),
            ("tls_server_config: [\n", "not valid YAML"),
        ]
        for text, want in cases:
            with self.subTest(text=text):
                path = pki.web_config(text)
                t0 = time.monotonic()
                p = subprocess.run([BCCFLOW, "--listen", "127.0.0.1:%d" % free_port(),
                                    "--web-config", path], capture_output=True, text=True,
                                   timeout=30)
                self.assertLess(time.monotonic() - t0, 0.5)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stdout, "")
                lines = p.stderr.splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("bccflow: " + path), lines)
                self.assertIn(want, lines[0])
        for args, want in ((["--web-config", "/nonexistent.yml", "--listen", "127.0.0.1:1"],
                            "bccflow: --web-config /nonexistent.yml: No such file or directory"),
                           (["--web-config", pki.tls_config()],
                            "bccflow: --web-config needs --listen")):
            p = subprocess.run([BCCFLOW] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual((p.returncode, p.stderr.splitlines()), (2, [want]))


class ServiceUnit(E2ETest):
    def test_installed_unit_verifies(self):
        prefix = tempfile.mkdtemp(prefix="bccflow-inst-")
        try:
            run(["cmake", "--install", os.path.dirname(BCCFLOW), "--prefix", prefix])
            unit = os.path.join(prefix, "lib/systemd/system/bccflow-exporter.service")
            with open(unit) as f:
                text = f.read()
            self.assertIn("ExecStart=%s/sbin/bccflow $ARGS\n" % prefix, text)
            self.assertTrue(os.access(os.path.join(prefix, "sbin/bccflow"), os.X_OK))
            # the man page the unit names, where man looks for it
            env = dict(os.environ, MANPATH=os.path.join(prefix, "share/man"))
            p = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True,
                               text=True, env=env, timeout=60)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        finally:
            shutil.rmtree(prefix, ignore_errors=True)

    def unit_caps(self):
        with open(UNIT_IN) as f:
            text = f.read()
        self.assertIn("\nNoNewPrivileges=yes\n", text)
        self.assertIn("\nProtectSystem=strict\n", text)
        caps = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M).group(1).split()
        self.assertTrue(caps)
        return caps

    def test_starts_with_the_units_capabilities_on_a_read_only_root(self):
        caps = ",".join("+" + c.lower()[4:] for c in self.unit_caps())
        # a private mount namespace whose root is read-only, like
        # ProtectSystem=strict; then the unit's bounding set and NoNewPrivileges
        script = ('mount --make-rprivate / && mount -o bind,remount,ro / && '
                  'exec setpriv --bounding-set=-all,%s --no-new-privs "$@"' % caps)
        argv = ["unshare", "-m", "sh", "-c", script, "sh", BCCFLOW, "--json", "1"]
        count_exactly_as(self, argv, NOBODY, 123457, 7654)


if __name__ == "__main__":
    unittest.main()

"""Kernel headers and BTF (issue 6, item 2): offsets from BTF by default;
borrowed headers are checked field by field against BTF; missing headers
get one line with the fix. Run in a private mount namespace, so the real
header tree is never touched."""
import os
import platform
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e import BCCFLOW, E2ETest, Monitor, flowgen  # noqa: E402

KDIR = "/lib/modules/" + platform.release()


def sock_h():
    """The net/sock.h BCC compiles with on this machine."""
    for d in ("source", "build"):
        p = os.path.realpath(os.path.join(KDIR, d, "include/net/sock.h"))
        if os.path.exists(p):
            return p
    raise unittest.SkipTest("no kernel header tree with include/net/sock.h")


def in_namespace(mount_cmd, args):
    """Runs bccflow in a new mount namespace after mount_cmd."""
    script = '%s && exec "$0" "$@"' % mount_cmd
    return subprocess.run(["unshare", "-m", "sh", "-c", script, BCCFLOW] + args,
                          capture_output=True, text=True, timeout=120)


class Headers(E2ETest):
    def test_headers_mode_counts_exactly(self):
        m = Monitor("--offsets", "headers", "1")
        conns = flowgen("--tx", 123456, "--rx", 654321, "-f", "6")
        time.sleep(1.2)
        self.assertEqual(m.stop(), 0)
        self.assertFlowsExact(m.records(), conns)

    def test_btf_offsets_default_needs_no_struct_headers(self):
        p = subprocess.run([BCCFLOW, "--ebpf"], capture_output=True, text=True)
        self.assertIn("#define BCCFLOW_BTF_OFFSETS 1", p.stdout)
        self.assertRegex(p.stdout, r"#define OFF_skc_num \d+")
        p = subprocess.run([BCCFLOW, "--ebpf", "--offsets", "headers"], capture_output=True,
                           text=True)
        self.assertNotIn("BCCFLOW_BTF_OFFSETS 1", p.stdout)

    def test_mismatched_headers_refused(self):
        src = sock_h()
        with open(src) as f:
            text = f.read()
        marker = "\tunsigned short\t\tskc_family;"
        self.assertIn(marker, text)
        with tempfile.NamedTemporaryFile("w", suffix=".h") as bad:
            bad.write(text.replace(marker, "\tint bccflow_test_pad;\n" + marker, 1))
            bad.flush()
            p = in_namespace("mount --bind %s %s" % (bad.name, src),
                             ["--offsets", "headers", "--attach", "tracepoint", "1", "1"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        last = p.stderr.strip().splitlines()[-1]
        self.assertIn("skc_family is at offset 20 in the headers but 16", last)
        # the same broken headers are harmless with BTF offsets
        with tempfile.NamedTemporaryFile("w", suffix=".h") as bad:
            bad.write(text.replace(marker, "\tint bccflow_test_pad;\n" + marker, 1))
            bad.flush()
            p = in_namespace("mount --bind %s %s" % (bad.name, src),
                             ["--json", "--attach", "tracepoint", "1", "1"])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_probe_missing_one_witness_refused(self):
        """A text that checks some fields' layout but not one it reads is refused."""
        src = os.path.join(os.path.dirname(__file__), "..", "..", "probes", "flow.bpf.c")
        with open(src) as f:
            text = f.read()
        marker = "FLOW_SK_FIELDS(FLOW_WITNESS)"
        self.assertIn(marker, text)
        witnesses = "".join("FLOW_WITNESS(%s)\n" % f for f in
                            ("skc_daddr", "skc_rcv_saddr", "skc_dport", "skc_num",
                             "skc_v6_daddr", "skc_v6_rcv_saddr"))  # no skc_family
        with tempfile.NamedTemporaryFile("w", suffix=".c") as bad:
            bad.write(text.replace(marker, witnesses, 1))
            bad.flush()
            p = subprocess.run([BCCFLOW, "--offsets", "headers", "--attach", "tracepoint",
                                "--probe", bad.name, "1", "1"], capture_output=True, text=True,
                               timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("none for struct sock field skc_family", p.stderr.strip().splitlines()[-1])

    def test_no_headers_one_line_with_fix(self):
        with tempfile.TemporaryDirectory() as empty:
            p = in_namespace("mount --bind %s %s" % (empty, KDIR), ["1", "1"])
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("no kernel headers for %s" % platform.release(), lines[0])
        self.assertIn("linux-headers-", lines[0])
        self.assertIn("BCC_KERNEL_SOURCE", lines[0])

    def test_bad_kernel_source_env(self):
        env = dict(os.environ, BCC_KERNEL_SOURCE="/nonexistent/tree")
        p = subprocess.run([BCCFLOW, "1", "1"], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertIn("BCC_KERNEL_SOURCE=/nonexistent/tree", p.stderr)


if __name__ == "__main__":
    unittest.main()

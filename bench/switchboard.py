"""Attaching monitors' per-call programs on demand, for percall.py.

A monitor started with env() (bench/divert.c, LD_PRELOAD) hands the
programs it would attach to the per-call tracepoints to a Switchboard
instead, and goes on running. The switchboard attaches them (on()) and
detaches them (off()) itself, in a few hundred microseconds, so the
benchmark can alternate runs with and without a monitor every half second.
"""
import ctypes
import os
import platform
import socket
import tempfile
import threading
import time

NR_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), 321)
NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(platform.machine(), 298)
BPF_RAW_TRACEPOINT_OPEN = 17
PERF_TYPE_TRACEPOINT = 2
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
TRACEFS = "/sys/kernel/tracing"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]


def _check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return r


def tracepoint_id(cat, name):
    with open(os.path.join(TRACEFS, "events", cat, name, "id")) as f:
        return int(f.read())


class Prog:
    """One diverted program: how to attach it, and its fd (ours)."""

    def __init__(self, kind, target, fd):
        self.kind, self.target, self.fd = kind, target, fd
        self.link = None
        with open("/proc/self/fdinfo/%d" % fd) as f:
            self.prog_id = next(line.split()[1] for line in f if line.startswith("prog_id:"))

    def attach(self):
        if self.kind == "perf":
            attr = ctypes.create_string_buffer(128)
            ctypes.c_uint32.from_buffer(attr, 0).value = PERF_TYPE_TRACEPOINT
            ctypes.c_uint32.from_buffer(attr, 4).value = 128              # size
            ctypes.c_uint64.from_buffer(attr, 8).value = int(self.target)  # config
            ctypes.c_uint64.from_buffer(attr, 16).value = 1               # sample_period
            ctypes.c_uint32.from_buffer(attr, 48).value = 1               # wakeup_events
            fd = _check(_libc.syscall(NR_PERF_EVENT_OPEN, attr, -1, 0, -1,
                                      PERF_FLAG_FD_CLOEXEC), "perf_event_open")
            try:
                _check(_libc.ioctl(fd, PERF_EVENT_IOC_SET_BPF, self.fd), "PERF_EVENT_IOC_SET_BPF")
                _check(_libc.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0), "PERF_EVENT_IOC_ENABLE")
            except OSError:
                os.close(fd)
                raise
            self.link = fd
            return
        # raw tracepoint by name; a BTF raw tracepoint program knows its own
        name = ctypes.create_string_buffer(self.target.encode()) if self.kind == "rawtp" else None
        attr = ctypes.create_string_buffer(16)
        ctypes.c_uint64.from_buffer(attr, 0).value = ctypes.addressof(name) if name else 0
        ctypes.c_uint32.from_buffer(attr, 8).value = self.fd
        self.link = _check(_libc.syscall(NR_BPF, BPF_RAW_TRACEPOINT_OPEN, attr, 16),
                           "BPF_RAW_TRACEPOINT_OPEN %s" % self.target)

    def detach(self):
        if self.link is not None:
            os.close(self.link)
            self.link = None


class Switchboard:
    """Receives diverted programs, by monitor, and attaches them on demand."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-divert-")
        self.path = os.path.join(self.dir, "sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.cond = threading.Condition()
        self.pending = []          # Progs received since the last take()
        self.errors = []
        self.progs = {}            # monitor name: [Prog]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def env(self, shim, tps=("sock_send_length", "sock_recv_length"), cat="sock"):
        """What a monitor's environment needs for its programs on tps to come here
        (shim: the path of divert.so)."""
        return {"LD_PRELOAD": shim,
                "BENCH_DIVERT": self.path, "BENCH_DIVERT_TPS": ",".join(tps),
                "BENCH_DIVERT_IDS": ",".join(str(tracepoint_id(cat, t)) for t in tps)}

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    msg, fds, _, _ = socket.recv_fds(conn, 256, 1)
                    kind, target = msg.decode().split(" ", 1)
                    if len(fds) != 1 or kind not in ("rawtp", "tp_btf", "perf"):
                        raise ValueError("bad message %r" % msg)
                    p = Prog(kind, target, fds[0])
                    with self.cond:
                        self.pending.append(p)
                        self.cond.notify_all()
                    conn.send(b"ok")
                except (OSError, ValueError, StopIteration) as e:
                    with self.cond:
                        self.errors.append(str(e))
                        self.cond.notify_all()

    def take(self, name, n, timeout, alive=lambda: True):
        """The programs a monitor handed over (n expected within timeout seconds, while
        alive() holds), now called name."""
        end = time.monotonic() + timeout
        with self.cond:
            # woken by each program that comes; alive() is polled
            while len(self.pending) < n and alive() and time.monotonic() < end:
                self.cond.wait(0.2)
            got, self.pending = self.pending, []
        self.progs[name] = got
        return got

    def drop(self, name):
        """Forgets name's programs (their monitor is gone or going)."""
        for p in self.progs.pop(name, []):
            p.detach()
            os.close(p.fd)

    def on(self, name):
        for p in self.progs.get(name, []):
            p.attach()

    def off(self, name):
        for p in self.progs.get(name, []):
            p.detach()

    def prog_ids(self, name):
        return {p.prog_id for p in self.progs.get(name, [])}

    def close(self):
        for name in list(self.progs):
            self.drop(name)
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass

#!/usr/bin/python3
"""Calibration for the bccflow benchmark, NOT a monitor.

Attaches BPF programs that do nothing (return 0) to sock:sock_send_length and
sock:sock_recv_length, so the benchmark can measure what any tool hooked
there pays per send/recv call before its probe does any work. --raw uses raw
tracepoints (BPF_PROG_TYPE_RAW_TRACEPOINT) instead of the perf-event
tracepoints that bccflow and the reference use.

Prints "BENCH attached" on stderr once attached, then "BENCH interval N"
every second (so the driver sees it alive); SIGINT or SIGTERM ends it.
"""
import argparse
import signal
import sys
import time

from bcc import BPF

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--raw", action="store_true", help="raw tracepoints")
args = ap.parse_args()

if args.raw:
    text = """
RAW_TRACEPOINT_PROBE(sock_send_length) { return 0; }
RAW_TRACEPOINT_PROBE(sock_recv_length) { return 0; }
"""
else:
    text = """
TRACEPOINT_PROBE(sock, sock_send_length) { return 0; }
TRACEPOINT_PROBE(sock, sock_recv_length) { return 0; }
"""
b = BPF(text=text)  # bcc attaches both kinds by their function names
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
print("BENCH attached", file=sys.stderr, flush=True)
n = 0
try:
    while True:
        time.sleep(1)
        n += 1
        print("BENCH interval %d" % n, file=sys.stderr, flush=True)
except KeyboardInterrupt:
    pass

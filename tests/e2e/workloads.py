"""Traffic for the cgroup tests (run by test_workloads.py; the namespace
tests use tests/tools/nsflows.c).

  workloads.py steps BYTES [BYTES ...]
      One loopback connection, both ends in this process: waits for a line
      on stdin before each step, then sends that many bytes over it and
      prints {"pid", "sport", "cport", "sent"} for the step. The test moves
      the process between cgroups between steps; EOF ends it.

Byte counts are what send/recv returned.
"""
import json
import os
import socket
import sys

from sockpeers import drain


def connected(sport=0, cport=0):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", sport))
    srv.listen(1)
    c = socket.socket()
    c.bind(("127.0.0.1", cport))
    c.connect(srv.getsockname())
    a, _ = srv.accept()
    srv.close()
    return c, a


def move(c, a, n):
    """Sends n bytes from c, read by a, a block at a time (no deadlock)."""
    left = n
    while left:
        k = min(65536, left)
        c.sendall(b"x" * k)
        drain(a, k)
        left -= k


def steps(counts):
    c, a = connected()
    for n in counts:
        if not sys.stdin.readline():
            break
        move(c, a, n)
        print(json.dumps({"pid": os.getpid(), "sport": a.getsockname()[1],
                          "cport": c.getsockname()[1], "sent": n}), flush=True)
    c.close()
    a.close()


def main():
    if sys.argv[1] == "steps":
        steps([int(x) for x in sys.argv[2:]])
    else:
        raise SystemExit("unknown mode " + sys.argv[1])


if __name__ == "__main__":
    main()

"""Traffic for the cgroup tests (run by test_workloads.py; the namespace
tests use tests/tools/nsflows.c).

  workloads.py steps BYTES [BYTES ...]
      One loopback connection, both ends in this process: waits for a line
      on stdin before each step, then sends that many bytes over it and
      prints {"pid", "sport", "cport", "sent"} for the step. The test moves
      the process between cgroups between steps; EOF ends it.

  workloads.py threads BYTES_A BYTES_B ROUNDS
      One loopback connection, both ends in this process, and two sending
      threads, a and b: prints {"pid", "a", "b"} (the threads' ids), waits
      for a line on stdin (the test moves the threads meanwhile), then a
      sends BYTES_A and b BYTES_B over the same socket in turns, ROUNDS
      times; the main thread reads each send and prints {"received"}.

Byte counts are what send/recv returned.
"""
import json
import os
import socket
import sys
import threading

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


def threads(sizes, rounds):
    c, a = connected()
    turn = [threading.Semaphore(0) for _ in sizes]
    sent = threading.Semaphore(0)
    ids = [0] * len(sizes)
    started = threading.Barrier(len(sizes) + 1)

    def sender(i):
        ids[i] = threading.get_native_id()
        started.wait()
        for _ in range(rounds):
            turn[i].acquire()
            c.sendall(b"x" * sizes[i])
            sent.release()

    ts = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(len(sizes))]
    for t in ts:
        t.start()
    started.wait()
    print(json.dumps({"pid": os.getpid(), "a": ids[0], "b": ids[1]}), flush=True)
    sys.stdin.readline()
    received = 0
    for _ in range(rounds):
        for i, n in enumerate(sizes):
            turn[i].release()
            sent.acquire()
            drain(a, n)
            received += n
    for t in ts:
        t.join()
    print(json.dumps({"received": received}), flush=True)
    c.close()
    a.close()


def main():
    if sys.argv[1] == "steps":
        steps([int(x) for x in sys.argv[2:]])
    elif sys.argv[1] == "threads":
        threads([int(sys.argv[2]), int(sys.argv[3])], int(sys.argv[4]))
    else:
        raise SystemExit("unknown mode " + sys.argv[1])


if __name__ == "__main__":
    main()

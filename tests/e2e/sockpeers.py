"""Traffic shapes that exercise bccflow's socket table (run by test_exact.py).

  sockpeers.py shared  one connection whose client socket a forked child
                       also uses; prints the byte counts per process
  sockpeers.py churn N N sequential connections in one process, each closed
                       before the next, so socket memory is reused; prints
                       the bytes of every connection
  sockpeers.py threads one connection written by two threads with different
                       names (cm-main, then cm-other, then cm-main again)

Output: one JSON object on stdout. Byte counts are what send/recv returned.
"""
import ctypes
import json
import os
import socket
import sys
import threading


def drain(s, n):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            raise SystemExit("peer closed early")
        got += len(b)


def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    return srv


def pair(srv):
    c = socket.create_connection(srv.getsockname())
    a, _ = srv.accept()
    return c, a


def shared():
    srv = listener()
    c, a = pair(srv)
    c.sendall(b"a" * 1001)
    drain(a, 1001)
    child = os.fork()
    if child == 0:  # the child writes and reads on the parent's client socket
        c.sendall(b"b" * 2002)
        drain(c, 3003)
        os._exit(0)
    drain(a, 2002)
    a.sendall(b"c" * 3003)
    os.waitpid(child, 0)
    c.sendall(b"d" * 4004)
    drain(a, 4004)
    print(json.dumps({"parent": os.getpid(), "child": child, "cport": c.getsockname()[1],
                      "sport": a.getsockname()[1]}))
    c.close()
    a.close()


def churn(n):
    srv = listener()
    conns = []
    for i in range(n):
        c, a = pair(srv)
        tx, rx = 1 + i, i % 7
        c.sendall(b"x" * tx)
        drain(a, tx)
        if rx:
            a.sendall(b"y" * rx)
            drain(c, rx)
        conns.append({"cport": c.getsockname()[1], "sport": a.getsockname()[1],
                      "tx": tx, "rx": rx})
        c.close()
        a.close()
    print(json.dumps({"pid": os.getpid(), "conns": conns}))


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, name.encode(), 0, 0, 0):  # PR_SET_NAME: this thread only
        raise OSError(ctypes.get_errno(), "prctl")


def threads():
    set_comm("cm-main")
    srv = listener()
    c, a = pair(srv)
    c.sendall(b"a" * 1111)
    drain(a, 1111)

    def other():
        set_comm("cm-other")
        c.sendall(b"b" * 2222)
    t = threading.Thread(target=other)
    t.start()
    t.join()
    drain(a, 2222)
    c.sendall(b"c" * 3333)
    drain(a, 3333)
    print(json.dumps({"pid": os.getpid(), "cport": c.getsockname()[1],
                      "sport": a.getsockname()[1]}))


if __name__ == "__main__":
    if sys.argv[1] == "shared":
        shared()
    elif sys.argv[1] == "threads":
        threads()
    else:
        churn(int(sys.argv[2]))

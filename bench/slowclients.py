#!/usr/bin/python3
"""Load test of bccflow's metrics endpoint: how long a real scrape takes
while N clients hold connections with half a request header (they never
finish it). Loopback only, bounded in count (at most 3,500 clients) and
time (each step at most 60 s).

  sudo bench/slowclients.py [--bccflow build/bccflow] [--clients 0,500,1000,3000]
                            [--scrapes 20]

Prints one line per step: clients held, scrapes, median and worst latency.
"""
import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

MAX_CLIENTS = 3500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url):
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as r:
        r.read()
        assert r.status == 200
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bccflow", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                      "bccflow"))
    ap.add_argument("--clients", default="0,500,1000,3000")
    ap.add_argument("--scrapes", type=int, default=20)
    a = ap.parse_args()
    steps = [min(int(x), MAX_CLIENTS) for x in a.clients.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, MAX_CLIENTS + 256), hard))
    port = free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    m = subprocess.Popen([a.bccflow, "--listen", "127.0.0.1:%d" % port, "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                scrape(url)
                break
            except OSError:
                if time.time() > deadline or m.poll() is not None:
                    raise SystemExit("bccflow --listen did not answer")
                time.sleep(0.2)
        print("| stuck clients | scrapes | median s | worst s |")
        print("|---|---|---|---|")
        for n in steps:
            held = []
            try:
                t_end = time.time() + 60
                for _ in range(n):
                    c = socket.create_connection(("127.0.0.1", port), timeout=5)
                    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                    held.append(c)
                    if time.time() > t_end:
                        break
                lat = [scrape(url) for _ in range(a.scrapes)]
                print("| %d | %d | %.4f | %.4f |" % (len(held), len(lat), statistics.median(lat),
                                                     max(lat)))
                sys.stdout.flush()
            finally:
                for c in held:
                    c.close()
    finally:
        m.send_signal(2)
        _, err = m.communicate(timeout=30)
        if err.strip():
            print("bccflow stderr:\n" + err, file=sys.stderr)


if __name__ == "__main__":
    main()

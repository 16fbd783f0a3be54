#!/usr/bin/env python3
"""RSS per idle keep-alive connection of `sockless serve`.

Starts `sockless serve --hello` (driver and protocol from the arguments),
opens N connections, makes one request on each (HTTP/1.1 GET, or h2c: the
preface, SETTINGS and one GET), reads the answer, leaves the connections
open and idle, and prints the server's RSS growth divided by N.

    python3 benches/idle/rss_per_idle.py [--driver tokio] [--h2c] [-n 2000] [--bin target/release/sockless]
"""
import argparse, os, re, socket, subprocess, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
# HEADERS (stream 1, END_STREAM|END_HEADERS): :method GET, :scheme http, :path /, :authority x (literal, no index)
_block = b"\x82\x86\x84" + b"\x01\x01x"
H2_GET = len(_block).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + _block

def open_idle(port, h2c):
    s = socket.create_connection(("127.0.0.1", port))
    if h2c:
        s.sendall(H2_PREFACE + H2_SETTINGS + H2_GET)
        want = b"Hello, World!"
    else:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        want = b"Hello, World!"
    got = b""
    while want not in got:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("closed early")
        got += chunk
    return s

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", default="tokio")
    ap.add_argument("--h2c", action="store_true")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--bin", default="target/release/sockless")
    a = ap.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.n * 2 + 100)), hard))
    srv = subprocess.Popen([a.bin, "serve", "--hello", "--driver", a.driver, "--addr", "127.0.0.1:0", "--threads", "1"],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        port = int(re.search(r":(\d+)$", line.strip()).group(1))
        warm = [open_idle(port, a.h2c) for _ in range(50)]
        time.sleep(0.5)
        before = rss_kib(srv.pid)
        conns = [open_idle(port, a.h2c) for _ in range(a.n)]
        time.sleep(1.0)
        after = rss_kib(srv.pid)
        per = (after - before) * 1024 / a.n
        proto = "h2c" if a.h2c else "HTTP/1.1"
        print(f"{a.driver} {proto}: {a.n} idle connections, RSS {before} -> {after} KiB, {per:.0f} bytes per idle connection")
        for c in conns + warm:
            c.close()
    finally:
        srv.terminate()
        srv.wait()

if __name__ == "__main__":
    main()

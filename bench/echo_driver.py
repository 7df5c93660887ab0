#!/usr/bin/env python3
"""Keystroke echo latency over many concurrent interactive sessions.

Reads a JSON list of argv lists (one per session) on stdin; every session
runs `stty raw -echo; cat` on a remote terminal, so what is typed comes back
from the program (the whole round trip, application included). Each
session types one key at a time, at random intervals (mean --interval), and
times it until its echo comes back. Prints one JSON object: the number of
samples, lost keystrokes and the p50/p90/p99/max latencies in milliseconds.
"""
import argparse, json, os, random, selectors, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=20)
p.add_argument("--interval", type=float, default=0.1)
args = p.parse_args()
commands = json.load(sys.stdin)

class Session:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.pending = None   # (key, sent_at)
        self.next_at = 0.0
        self.typed = 0
        self.buffer = b""

    def type(self, key):
        self.proc.stdin.write(key)
        self.pending = (key, time.monotonic())

sel = selectors.DefaultSelector()
sessions = []
# Started one after another, each typing until it echoes: every session is
# up before the clock starts (and sshd's MaxStartups is not hit).
for argv in commands:
    s = Session(argv)
    sel.register(s.proc.stdout, selectors.EVENT_READ, s)
    deadline = time.monotonic() + 30
    ready = False
    while not ready and time.monotonic() < deadline:
        s.proc.stdin.write(b"r")
        for key, _ in sel.select(timeout=0.3):
            data = key.fileobj.read(65536) or b""
            if key.data is s and b"r" in data:
                ready = True
    if not ready:
        sys.exit("a session did not start: %s" % argv)
    sessions.append(s)
time.sleep(0.5)
for key, _ in sel.select(timeout=0):
    key.fileobj.read(65536)

samples, lost = [], 0
end = time.monotonic() + args.seconds
keys = b"abcdefghijklmnopqrstuvwxyz"
while time.monotonic() < end:
    now = time.monotonic()
    for s in sessions:
        if s.pending and now - s.pending[1] > 2.0:
            lost += 1
            s.pending = None
        if not s.pending and now >= s.next_at:
            s.typed += 1
            s.type(keys[s.typed % len(keys):][:1])
    for key, _ in sel.select(timeout=0.002):
        s = key.data
        data = key.fileobj.read(65536) or b""
        if s.pending and s.pending[0] in data:
            samples.append((time.monotonic() - s.pending[1]) * 1000)
            s.pending = None
            s.next_at = time.monotonic() + random.expovariate(1 / args.interval)

for s in sessions:
    s.proc.stdin.close()
    s.proc.terminate()
for s in sessions:
    try:
        s.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        s.proc.kill()
samples.sort()
pct = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] if samples else float("nan")
print(json.dumps({"samples": len(samples), "lost": lost, "p50": pct(0.5), "p90": pct(0.9),
                  "p99": pct(0.99), "max": samples[-1] if samples else float("nan")}))

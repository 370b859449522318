#!/usr/bin/env python3
"""make bench-harness: wall-clock cost of the kernel harness's virtual clock.

Runs bench/hour.kh (one hour of CARP between two hosts, IPv4 and IPv6, six failovers)
several times and prints the wall time per run and the virtual/wall ratio.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kharness", required=True)
    ap.add_argument("--ko", default="build/carp.ko")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    script = os.path.join(HERE, "hour.kh")
    times = []
    for _ in range(a.runs):
        t0 = time.monotonic()
        p = subprocess.run([a.kharness, "--ko", a.ko, script], capture_output=True, text=True)
        dt = time.monotonic() - t0
        if p.returncode != 0:
            print(p.stdout + p.stderr)
            return 1
        times.append(dt)
    med = statistics.median(times)
    print(f"bench-harness: 3600 s of virtual time (2 hosts, IPv4+IPv6, 6 failovers), {a.runs} runs")
    print(f"  wall time: min {min(times) * 1000:.0f} ms, median {med * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    print(f"  virtual/wall: {3600 / med:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

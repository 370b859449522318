#!/usr/bin/env python3
"""make bench-kpath: the cost of carp.ko's kernel paths, measured on the real module.

Each case runs a harness script on the virtual clock with profiling on (`profile on`): the
simulated kernel reads the TSC around every call it makes into the module, so a figure is
the module's own code plus the kernel functions it calls (the simulated ones: mbuf copy,
locks, ip_output of the simulated stack for an advertisement).

Cases:
  input   protocol-112 input of a valid, authenticated advertisement (pr_input), on the
          MASTER (a slower peer: compared, ignored) and on a BACKUP (a faster master: its
          master-down timer restarted)
  send    one advertisement sent (the advertisement callout: build, HMAC, ip_output)
  arp     an ARP request for a CARP address answered (carp_iamatch, modern model)
  forus   an Ethernet frame to a virtual MAC (carp_forus), with 1 and with 255 vhids
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "fixtures", "ucarp-vhid42.pcapng")


def frame4_ip_hex():
    """The IPv4 packet of frame 4 of the ucarp capture (a valid advert, vhid 42)."""
    data = open(FIXTURE, "rb").read()
    # pcapng: walk blocks, take the 4th Enhanced Packet Block.
    off, n = 0, 0
    import struct
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if btype == 6:
            n += 1
            if n == 4:
                caplen = struct.unpack_from("<I", data, off + 20)[0]
                pkt = data[off + 28: off + 28 + caplen]
                return pkt[14:].hex()
        off += blen
    raise SystemExit("frame 4 not found in " + FIXTURE)


def run(kharness, ko, lines):
    with tempfile.NamedTemporaryFile("w", suffix=".kh", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        p = subprocess.run([kharness, "--ko", ko, path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        print(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit("kharness failed")
    out = {}
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if f[0] == "profile" and len(f) >= 6:
            out[f[1]] = (int(float(f[2])), float(f[3]), float(f[4]), float(f[5]))
    return out


def head(extra=()):
    return ["nic em0 wire lan", "nic em1 wire lan2", "kldload carp", "ifconfig em0 inet 10.99.0.3/24"] + list(extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kharness", required=True)
    ap.add_argument("--ko", default="build/carp.ko")
    ap.add_argument("-n", type=int, default=20000)
    a = ap.parse_args()
    n = a.n
    adv = frame4_ip_hex()
    rows = []

    def pick(out, key, what):
        for k, v in out.items():
            if k.startswith(key):
                rows.append((what,) + v)
                return
        raise SystemExit(f"no profile entry {key}: {sorted(out)}")

    # Input on the MASTER (slower peer) and on a BACKUP (faster master).
    for skew, state, what in ((0, "MASTER", "input: valid advert, MASTER (slower peer)"),
                              (200, "BACKUP", "input: valid advert, BACKUP (master-down restarted)")):
        out = run(a.kharness, a.ko, head([
            f"ifconfig em0 vhid 42 advskew {skew} pass s3cretpw alias 10.99.0.100/32",
            "advance 4" if skew == 0 else "advance 0.5",
            f"expect state em0 vhid 42 {state}",
            "profile on",
            f"repeat {n}", f"deliver em0 20 hex {adv}", "end",
            "profile print",
        ]))
        pick(out, "IPv4 protocol input", what)
    # Sending: a MASTER alone for n seconds.
    out = run(a.kharness, a.ko, head([
        "ifconfig em0 vhid 42 pass s3cretpw alias 10.99.0.100/32", "advance 4",
        "profile on", f"advance {n // 4}", "profile print"]))
    pick(out, "callout handler", "send: one advertisement (callout)")
    # ARP answered.
    out = run(a.kharness, a.ko, head([
        "ifconfig em0 vhid 42 pass s3cretpw alias 10.99.0.100/32", "advance 4",
        "profile on", f"repeat {n // 4}",
        "arp-request lan from 02:00:00:00:00:99 10.99.0.99 who-has 10.99.0.100", "end",
        "profile print"]))
    pick(out, "carp_iamatch_p", "ARP request answered (carp_iamatch)")
    # carp_forus with 1 and with 255 vhids (the frame's vhid is the last one configured).
    for count in (1, 255):
        cfg = [f"ifconfig em0 vhid {v} pass x alias 10.99.{1 + v // 250}.{v % 250 + 1}/32" for v in range(1, count + 1)]
        mac = f"00:00:5e:00:01:{count:02x}"
        out = run(a.kharness, a.ko, head(cfg + ["advance 4", "profile on", f"repeat {n // 4}",
                                                f"ping lan from 02:00:00:00:00:99 10.99.0.99 to {mac} 10.99.0.3", "end",
                                                "profile print"]))
        pick(out, "carp_forus_p", f"carp_forus, {count} vhid{'s' if count > 1 else ''}")

    out = run(a.kharness, a.ko, ["profile kernel"])
    for k in ("simulated mtx_lock+mtx_unlock", "simulated NET_EPOCH_ENTER+EXIT", "simulated counter_u64_add"):
        pick(out, k, k + " (harness)")

    print(f"bench-kpath: carp.ko's kernel paths (TSC cycles per call, mean and min; {n} inputs)")
    print(f"  {'path':52} {'calls':>7} {'mean cyc':>9} {'min cyc':>8} {'mean ns':>8}")
    for what, calls, mean, mn, ns in rows:
        print(f"  {what:52} {calls:7d} {mean:9.0f} {mn:8.0f} {ns:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

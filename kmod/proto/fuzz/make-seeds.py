#!/usr/bin/env python3
"""Regenerate the checked-in seed corpus (corpus/<target>/) from small real packets.

Sources: every frame of shared/fixtures/ucarp-vhid42.pcapng (ucarp 1.5.2 CARP adverts, valid
and deliberately broken ones, ARP, IGMP), the byte vectors of the wire module's unit tests
(VRRPv3 and NS/NA vectors checked with tshark, FreeBSD-style IPv6 CARP advert), and small
hand-made carpreq / netlink requests. Each seed is named by the SHA-1 of its contents, as
libFuzzer does. Usage: python3 make-seeds.py [path/to/ucarp-vhid42.pcapng]
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PCAP = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../tests/fixtures/ucarp-vhid42.pcapng")


def pcapng_frames(path):
    """Packet data of every Enhanced/Simple Packet Block (little- or big-endian sections)."""
    data = open(path, "rb").read()
    off, end, frames = 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack_from(end + "I", data, off)[0]
        if btype == 0x0A0D0D0A:  # section header: byte-order magic decides endianness
            end = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack_from(end + "I", data, off + 4)[0]
        if blen < 12:
            break
        if btype == 6:  # enhanced packet block
            caplen = struct.unpack_from(end + "I", data, off + 20)[0]
            frames.append(data[off + 28:off + 28 + caplen])
        elif btype == 3:  # simple packet block
            caplen = struct.unpack_from(end + "I", data, off + 8)[0]
            frames.append(data[off + 12:off + 12 + caplen])
        off += blen
    return frames


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


# Vectors from kmod/proto/src/wire/*.rs tests.
VRRP4_IP = h("45e0002412344000ff70c641c0000201e0000012 3101640200644339c0000264c0000265")
VRRP6_IP = h("6e000000002870fffe800000000000000000000000000001ff020000000000000000000000000012"
             "3101640200643e2ffe80000000000000000000000000010020010db8000000000000000000000100")
UNSOL_NA = h("6000000000203afffe800000000000000000000000000001ff020000000000000000000000000001"
             "8800ca632000000020010db8000000000000000000000100020100005e000101")
NS = h("6000000000203afffe800000000000000000000000000002ff0200000000000000000001ff000100"
       "870049610000000020010db80000000000000000000001000101020000000002")
SOL_NA = h("6000000000203afffe800000000000000000000000000001fe800000000000000000000000000002"
           "88008ae46000000020010db8000000000000000000000100020100005e000101")
CARP6_IP = h("6e000000002470fffe800000000000000000000000000001ff020000000000000000000000000012"
             "212a64070001157504914c88dc7e9aec7da4e7c62872c7ed83bb1a7deb573080489e4459")
ETH_V4 = h("01005e000012 00005e000101 0800")
ETH_V6 = h("333300000012 00005e000101 86dd")
ETH_NA = h("333300000001 00005e000101 86dd")


def carpreq(count, vhid, state, advskew, advbase, key=b""):
    return struct.pack("<iiiii20s", count, vhid, state, advskew, advbase, key)


def nla(ty, payload):
    n = struct.pack("<HH", 4 + len(payload), ty) + payload
    return n + b"\0" * (-len(n) % 4)


def nlmsg(cmd, attrs, family=0x1c):
    body = struct.pack("<BBH", cmd, 2, 0) + b"".join(attrs)
    return struct.pack("<IHHII", 16 + len(body), family, 0x5, 1, 0) + body


NL_SET = nlmsg(2, [nla(1, struct.pack("<I", 42)), nla(3, struct.pack("<i", 1)), nla(4, struct.pack("<i", 100)),
                   nla(5, b"s3cretpw"), nla(9, b"em0\0")])
NL_SET_VRRP = nlmsg(2, [nla(1, struct.pack("<I", 7)), nla(10, b"\x03"), nla(11, b"\x96"),
                        nla(12, struct.pack("<H", 100)), nla(6, struct.pack("<I", 2))])
NL_SET_PEER = nlmsg(2, [nla(1, struct.pack("<I", 1)), nla(7, bytes([192, 0, 2, 2])),
                        nla(8, h("20010db8000000000000000000000002")), nla(2, struct.pack("<I", 2)), nla(9, b"vtnet0\0")])
NL_GET = nlmsg(1, [nla(9, b"em0\0")])
NL_GET_VHID = nlmsg(1, [nla(6, struct.pack("<I", 1)), nla(1, struct.pack("<I", 42))])
NL_STATUS = struct.pack("<BBH", 1, 2, 0) + b"".join([
    nla(1, struct.pack("<I", 42)), nla(2, struct.pack("<I", 2)), nla(10, b"\x02"), nla(3, struct.pack("<i", 1)),
    nla(4, struct.pack("<i", 100)), nla(7, bytes([224, 0, 0, 18])), nla(8, h("ff020000000000000000000000000012")),
    nla(5, b"s3cretpw".ljust(20, b"\0"))])


def interesting(frames):
    """Frame numbers (1-based) worth a seed in the IP/Ethernet-level corpora: every non-CARP
    frame, every CARP frame whose expected verdict is not "valid", and the first four valid
    adverts of each sender. (wire_carp gets every CARP packet.)"""
    tsv = os.path.splitext(PCAP)[0] + ".expected.tsv"
    verdict = {}
    if os.path.exists(tsv):
        for line in open(tsv).read().splitlines()[1:]:
            num, src, v = line.split("\t")
            verdict[int(num)] = (src, v)
    keep, valid_seen = set(), {}
    for i, f in enumerate(frames, 1):
        if i not in verdict:
            keep.add(i)
        elif verdict[i][1] != "valid":
            keep.add(i)
        elif valid_seen.get(verdict[i][0], 0) < 4:
            valid_seen[verdict[i][0]] = valid_seen.get(verdict[i][0], 0) + 1
            keep.add(i)
    return keep


def main():
    frames = pcapng_frames(PCAP)
    keep = interesting(frames)
    seeds = {t: set() for t in ["wire_carp", "wire_vrrp", "wire_ipv4", "wire_ipv6", "wire_ethernet", "wire_arp",
                                 "wire_ndp", "wire_checksum", "carpreq", "netlink"]}
    carp_payloads = []
    for i, f in enumerate(frames, 1):
        if i in keep:
            seeds["wire_ethernet"].add(f)
        ethertype = f[12:14]
        if ethertype == b"\x08\x06":
            seeds["wire_arp"].add(f[14:])
            seeds["wire_arp"].add(f)
        elif ethertype == b"\x08\x00":
            ip = f[14:]
            ihl = (ip[0] & 15) * 4
            if i in keep:
                seeds["wire_ipv4"].add(ip)
            if ip[9] == 112:
                carp_payloads.append(ip[ihl:])
                if i in keep:
                    seeds["wire_vrrp"].add(ip)  # CARP packets exercise the version dispatch
    seeds["wire_carp"].update(carp_payloads)
    seeds["wire_checksum"].update(carp_payloads[:8])
    seeds["wire_carp"].add(CARP6_IP[40:])
    for ip in (VRRP4_IP, VRRP6_IP):
        seeds["wire_vrrp"].add(ip)
        seeds["wire_vrrp"].add(ip[20:] if ip[0] >> 4 == 4 else ip[40:])
        seeds["wire_checksum"].add(ip)
    seeds["wire_ipv4"].add(VRRP4_IP)
    for ip in (VRRP6_IP, UNSOL_NA, NS, SOL_NA, CARP6_IP):
        seeds["wire_ipv6"].add(ip)
    for ip in (UNSOL_NA, NS, SOL_NA):
        seeds["wire_ndp"].add(ip)
        seeds["wire_ndp"].add(ip[40:])
    seeds["wire_ethernet"].update([ETH_V4 + VRRP4_IP, ETH_V6 + VRRP6_IP, ETH_V6 + CARP6_IP, ETH_NA + UNSOL_NA,
                                   h("3333ff000100 020000000002 86dd") + NS])
    seeds["carpreq"].update([carpreq(1, 42, 0, 100, 1, b"s3cretpw"), carpreq(1, 1, 2, 0, 1), carpreq(255, 0, 0, 0, 0),
                             carpreq(1, 256, 0, 241, 0), carpreq(0, -1, 3, -1, -1, b"\xff" * 20)])
    seeds["netlink"].update([NL_SET, NL_SET_VRRP, NL_SET_PEER, NL_GET, NL_GET_VHID, NL_STATUS])

    total = 0
    for target, items in seeds.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for item in items:
            with open(os.path.join(d, hashlib.sha1(item).hexdigest()), "wb") as fh:
                fh.write(item)
        total += len(items)
        print(f"{target}: {len(items)} seeds")
    print(f"{len(frames)} frames read, {len(carp_payloads)} CARP packets, {total} seeds")


if __name__ == "__main__":
    main()

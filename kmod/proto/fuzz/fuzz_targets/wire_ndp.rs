//! Neighbor solicitation / advertisement. Input: an IPv6 packet (parse_ipv6); the same
//! bytes are also parsed as a bare ICMPv6 message between fixed addresses.
#![no_main]

use core::net::Ipv6Addr;

use carp_proto::wire::{ipv6, ndp};
use libfuzzer_sys::fuzz_target;

fn roundtrip(repr: &ndp::Repr, src: &Ipv6Addr, dst: &Ipv6Addr) {
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut ndp::Packet::new_unchecked(&mut out[..]), src, dst);
    let q = ndp::Packet::new_checked(&out[..]).unwrap();
    assert!(q.verify_checksum(src, dst));
    assert_eq!(ndp::Repr::parse(&q, src, dst).unwrap(), *repr);
    let mut pkt = vec![0u8; ipv6::HEADER_LEN + repr.buffer_len()];
    let n = ndp::emit_ipv6(&mut pkt, *src, *dst, repr).unwrap();
    assert_eq!(n, pkt.len());
    assert_eq!(ndp::parse_ipv6(&pkt).unwrap().1, *repr);
}

fuzz_target!(|data: &[u8]| {
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
    let dst = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let p = ndp::Packet::new_unchecked(data);
    let _ = (
        p.msg_type(),
        p.msg_code(),
        p.checksum(),
        p.flags(),
        p.reserved_word(),
        p.target_addr(),
    );
    for o in p.option_iter() {
        if let Ok(o) = o {
            let _ = o.lladdr();
        }
    }
    if let Ok(r) = ndp::Packet::new_checked(data).and_then(|p| ndp::Repr::parse(&p, &src, &dst)) {
        roundtrip(&r, &src, &dst);
    }

    if let Ok((ip, r)) = ndp::parse_ipv6(data) {
        assert_eq!(ip.hop_limit, 255);
        assert_eq!(ip.next_header, 58);
        roundtrip(&r, &ip.src_addr, &ip.dst_addr);
        if let ndp::Repr::NeighborSolicit { target_addr, .. } = r {
            let (to, na) = ndp::answer_ns(ip.src_addr, target_addr, [0, 0, 0x5e, 0, 1, 1], false);
            // An answer from a unicast source must itself be valid.
            let from = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
            let mut pkt = [0u8; ndp::NA_PACKET_LEN];
            ndp::emit_ipv6(&mut pkt, from, to, &na).unwrap();
            if !to.is_multicast()
                || !matches!(na, ndp::Repr::NeighborAdvert { flags, .. } if flags.contains(ndp::NeighborFlags::SOLICITED))
            {
                assert_eq!(ndp::parse_ipv6(&pkt).unwrap().1, na);
            }
        }
    }
});

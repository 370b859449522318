//! Property tests: for every format, any valid representation emits into exactly
//! `buffer_len()` bytes and parses back to itself, and emitting into any shorter buffer
//! does not panic. (The fuzz targets in kmod/proto/fuzz check the other direction: any
//! bytes, parse, emit.)

extern crate std;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::ndp::NeighborFlags;
use super::{arp, carp, ethernet, ipv4, ipv6, ndp, vrrp};
use crate::types::Family;

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn unicast_v6() -> impl Strategy<Value = Ipv6Addr> {
    v6().prop_filter("not multicast", |a| !a.is_multicast())
}

fn carp_repr() -> impl Strategy<Value = carp::Repr> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
        any::<[u8; 20]>(),
    )
        .prop_map(
            |(vhid, advskew, advbase, authlen, counter, md)| carp::Repr {
                vhid,
                advskew,
                advbase,
                authlen,
                counter,
                md,
            },
        )
}

fn lladdr() -> impl Strategy<Value = Option<[u8; 6]>> {
    proptest::option::of(any::<[u8; 6]>())
}

proptest! {
    #[test]
    fn carp_round_trip(repr in carp_repr(), src in v4(), dst in v4(), dscp in 0u8..64, ident: u16,
                       src6 in v6(), dst6 in v6(), cut in 0usize..36) {
        let mut b = [0u8; carp::HEADER_LEN];
        repr.emit(&mut carp::Packet::new_unchecked(&mut b[..]));
        let p = carp::Packet::new_checked(&b[..]).unwrap();
        prop_assert!(p.verify_checksum() && p.verify_header_checksum());
        prop_assert_eq!(carp::Repr::parse(&p).unwrap(), repr);

        let mut f = [0u8; carp::IPV4_PACKET_LEN];
        carp::emit_ipv4(&mut f, src, dst, dscp, ident, &repr).unwrap();
        let ip = ipv4::Packet::new_checked(&f[..]).unwrap();
        let ipr = ipv4::Repr::parse(&ip).unwrap();
        prop_assert_eq!((ipr.src_addr, ipr.dst_addr, ipr.dscp, ipr.ident), (src, dst, dscp, ident));
        prop_assert!(ipr.dont_frag);
        prop_assert_eq!(ip.payload(), &b[..]);

        let mut g = [0u8; carp::IPV6_PACKET_LEN];
        carp::emit_ipv6(&mut g, src6, dst6, dscp, &repr).unwrap();
        let ip = ipv6::Packet::new_checked(&g[..]).unwrap();
        let ipr = ipv6::Repr::parse(&ip).unwrap();
        prop_assert_eq!((ipr.src_addr, ipr.dst_addr, ipr.dscp, ipr.hop_limit), (src6, dst6, dscp, 255));
        prop_assert_eq!(ip.payload(), &b[..]);

        let mut short = vec![0u8; cut];
        repr.emit(&mut carp::Packet::new_unchecked(&mut short[..]));
        prop_assert!(carp::emit_ipv4(&mut f[..cut], src, dst, dscp, ident, &repr).is_err());
    }

    #[test]
    fn vrrp_round_trip(vrid: u8, priority: u8, interval in 0u16..4096, a4 in proptest::collection::vec(v4(), 0..20),
                       a6 in proptest::collection::vec(v6(), 0..8), src in v4(), src6 in v6(), dscp in 0u8..64) {
        let g4 = IpAddr::V4(crate::types::CARP_GROUP_V4);
        let g6 = IpAddr::V6(crate::types::CARP_GROUP_V6);
        for (addresses, s, g, family) in [
            (vrrp::Addresses::Ipv4(&a4), IpAddr::V4(src), g4, Family::Inet),
            (vrrp::Addresses::Ipv6(&a6), IpAddr::V6(src6), g6, Family::Inet6),
        ] {
            let repr = vrrp::Repr { vrid, priority, max_adver_int_cs: interval, addresses };
            let mut b = vec![0u8; repr.buffer_len()];
            repr.emit(&mut vrrp::Packet::new_unchecked(&mut b[..]), &s, &g);
            let p = vrrp::Packet::new_checked(&b[..]).unwrap();
            prop_assert!(p.verify_checksum(&s, &g));
            prop_assert_eq!(vrrp::Repr::parse(&p, family).unwrap(), repr);
            for cut in [0, 1, 7, b.len().saturating_sub(1)] {
                let mut short = vec![0u8; cut.min(b.len())];
                repr.emit(&mut vrrp::Packet::new_unchecked(&mut short[..]), &s, &g);
            }
        }
        let r4 = vrrp::Repr { vrid, priority, max_adver_int_cs: interval, addresses: vrrp::Addresses::Ipv4(&a4) };
        let mut f = vec![0u8; 20 + r4.buffer_len()];
        prop_assert_eq!(vrrp::emit_ipv4(&mut f, src, crate::types::CARP_GROUP_V4, dscp, 1, &r4).unwrap(), f.len());
        let r6 = vrrp::Repr { vrid, priority, max_adver_int_cs: interval, addresses: vrrp::Addresses::Ipv6(&a6) };
        let mut f = vec![0u8; 40 + r6.buffer_len()];
        prop_assert_eq!(vrrp::emit_ipv6(&mut f, src6, crate::types::CARP_GROUP_V6, dscp, &r6).unwrap(), f.len());
        let ip = ipv6::Packet::new_checked(&f[..]).unwrap();
        let p = vrrp::Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(p.verify_checksum(&IpAddr::V6(src6), &g6));
    }

    #[test]
    fn ipv4_round_trip(src in v4(), dst in v4(), protocol: u8, payload_len in 0usize..1500, ttl: u8,
                       dscp in 0u8..64, ident: u16, dont_frag: bool) {
        let repr = ipv4::Repr { src_addr: src, dst_addr: dst, protocol, payload_len, ttl, dscp, ident, dont_frag };
        let mut b = vec![0u8; repr.buffer_len() + payload_len];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
        prop_assert_eq!(ipv4::Repr::parse(&ipv4::Packet::new_checked(&b[..]).unwrap()).unwrap(), repr);
    }

    #[test]
    fn ipv6_round_trip(src in v6(), dst in v6(), next_header: u8, payload_len in 0usize..1500, hop_limit: u8,
                       dscp in 0u8..64) {
        let repr = ipv6::Repr { src_addr: src, dst_addr: dst, next_header, payload_len, hop_limit, dscp };
        let mut b = vec![0u8; repr.buffer_len() + payload_len];
        repr.emit(&mut ipv6::Packet::new_unchecked(&mut b[..]));
        prop_assert_eq!(ipv6::Repr::parse(&ipv6::Packet::new_checked(&b[..]).unwrap()).unwrap(), repr);
    }

    #[test]
    fn ethernet_and_arp_round_trip(src: [u8; 6], dst: [u8; 6], op: u16, sha: [u8; 6], spa in v4(),
                                   tha: [u8; 6], tpa in v4()) {
        let arp = arp::Repr {
            operation: arp::Operation::from(op),
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: tha,
            target_protocol_addr: tpa,
        };
        let mut f = [0u8; arp::FRAME_LEN];
        prop_assert_eq!(arp::emit_frame(&mut f, src, dst, &arp).unwrap(), arp::FRAME_LEN);
        let (eth, back) = arp::parse_frame(&f).unwrap();
        prop_assert_eq!(back, arp);
        prop_assert_eq!(eth, ethernet::Repr { src_addr: src, dst_addr: dst, ethertype: ethernet::EtherType::Arp });
        prop_assert_eq!(u16::from(arp.operation), op);
        if let Some(reply) = arp.reply_to(src) {
            prop_assert_eq!(reply.reply_to(src), None);
            prop_assert_eq!(reply.target_protocol_addr, spa);
        }
    }

    #[test]
    fn ndp_round_trip(src in v6().prop_filter("unicast", |a| !a.is_multicast() && !a.is_unspecified()),
                      target in unicast_v6(), flags: u8, ll in lladdr(), solicit: bool) {
        let dst = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
        let repr = if solicit {
            ndp::Repr::NeighborSolicit { target_addr: target, source_lladdr: ll }
        } else {
            ndp::Repr::NeighborAdvert { flags: NeighborFlags::from_bits_retain(flags), target_addr: target, target_lladdr: ll }
        };
        let mut b: Vec<u8> = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ndp::Packet::new_unchecked(&mut b[..]), &src, &dst);
        let p = ndp::Packet::new_checked(&b[..]).unwrap();
        prop_assert_eq!(ndp::Repr::parse(&p, &src, &dst).unwrap(), repr);
        let mut f = vec![0u8; 40 + repr.buffer_len()];
        ndp::emit_ipv6(&mut f, src, dst, &repr).unwrap();
        prop_assert_eq!(ndp::parse_ipv6(&f).unwrap().1, repr);
        if let Some(mac) = ll {
            let mut u = [0u8; ndp::NA_PACKET_LEN];
            ndp::emit_unsolicited_na(&mut u, src, target, mac, flags & 1 == 1).unwrap();
            let (ip, na) = ndp::parse_ipv6(&u).unwrap();
            prop_assert_eq!(ip.dst_addr, ipv6::LINK_LOCAL_ALL_NODES);
            let ndp::Repr::NeighborAdvert { flags: got, target_lladdr, .. } = na else {
                return Err(TestCaseError::fail("not an NA"));
            };
            prop_assert!(got.contains(NeighborFlags::OVERRIDE) && !got.contains(NeighborFlags::SOLICITED));
            prop_assert_eq!(target_lladdr, Some(mac));
        }
    }
}

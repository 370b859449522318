//! A whole received Ethernet frame, dispatched the way a receiver does: Ethernet header,
//! then ARP, or IPv4/IPv6 carrying CARP (version 2) / VRRPv3 (version 3) or, for IPv6,
//! neighbor discovery. Checks the Ethernet header round trip.
#![no_main]

use carp_proto::types::Family;
use carp_proto::wire::{arp, carp, ethernet, ipv4, ipv6, ndp, vrrp, IPPROTO_CARP, IPPROTO_ICMPV6};
use libfuzzer_sys::fuzz_target;

fn proto112(payload: &[u8], family: Family) {
    match payload.first().map(|b| b >> 4) {
        Some(2) => {
            if let Ok(p) = carp::Packet::new_checked(payload) {
                let _ = (
                    p.verify_checksum(),
                    p.verify_header_checksum(),
                    carp::Repr::parse(&p),
                );
            }
        }
        Some(3) => {
            if let Ok(p) = vrrp::Packet::new_checked(payload) {
                let _ = vrrp::Repr::parse(&p, family);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let f = ethernet::Frame::new_unchecked(data);
    let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
    let Ok(f) = ethernet::Frame::new_checked(data) else {
        return;
    };
    let eth = ethernet::Repr::parse(&f).unwrap();
    let mut h = [0u8; ethernet::HEADER_LEN];
    let rest = ethernet::emit_header(&mut h, &eth).unwrap();
    assert!(rest.is_empty());
    assert_eq!(h[..], data[..ethernet::HEADER_LEN]);
    let _ = carp_proto::types::vhid_of_virtual_mac(&eth.src_addr);

    match eth.ethertype {
        ethernet::EtherType::Arp => {
            let _ = arp::Packet::new_checked(f.payload()).and_then(|p| arp::Repr::parse(&p));
        }
        ethernet::EtherType::Ipv4 => {
            let Ok(ip) = ipv4::Packet::new_checked(f.payload()) else {
                return;
            };
            let Ok(r) = ipv4::Repr::parse(&ip) else {
                return;
            };
            if r.protocol == IPPROTO_CARP {
                proto112(ip.payload(), Family::Inet);
                let _ = vrrp::Packet::new_unchecked(ip.payload())
                    .verify_checksum(&r.src_addr.into(), &r.dst_addr.into());
            }
        }
        ethernet::EtherType::Ipv6 => {
            let Ok(ip) = ipv6::Packet::new_checked(f.payload()) else {
                return;
            };
            let Ok(r) = ipv6::Repr::parse(&ip) else {
                return;
            };
            match r.next_header {
                IPPROTO_CARP => proto112(ip.payload(), Family::Inet6),
                IPPROTO_ICMPV6 => {
                    let _ = ndp::parse_ipv6(f.payload());
                }
                _ => {}
            }
        }
        ethernet::EtherType::Unknown(_) => {}
    }
});

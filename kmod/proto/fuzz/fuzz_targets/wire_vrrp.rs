//! VRRPv3 advertisement. Input: an IPv4 or IPv6 packet (by its version nibble) whose
//! payload is parsed as VRRPv3 with the packet's addresses; the same bytes are also parsed
//! as a bare VRRPv3 payload of both families.
#![no_main]

use core::net::IpAddr;

use carp_proto::types::Family;
use carp_proto::wire::{ipv4, ipv6, vrrp};
use libfuzzer_sys::fuzz_target;

fn check(payload: &[u8], family: Family, src: IpAddr, dst: IpAddr) {
    let p = vrrp::Packet::new_unchecked(payload);
    let _ = (
        p.version(),
        p.msg_type(),
        p.vrid(),
        p.priority(),
        p.count(),
        p.reserved(),
    );
    let _ = (
        p.max_adver_int(),
        p.max_adver_int_word(),
        p.checksum(),
        p.addresses().len(),
    );
    let sum_ok = p.verify_checksum(&src, &dst);
    let Ok(repr) = vrrp::Repr::parse(&p, family) else {
        return;
    };
    assert!(p.check_addresses(family).is_ok());
    assert_eq!(repr.addresses.len(), usize::from(p.count()));
    assert_eq!(repr.addresses.iter().count(), repr.addresses.len());
    assert!(repr.addresses.iter().all(|a| matches!(
        (a, family),
        (IpAddr::V4(_), Family::Inet) | (IpAddr::V6(_), Family::Inet6)
    )));

    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut vrrp::Packet::new_unchecked(&mut out[..]), &src, &dst);
    let q = vrrp::Packet::new_checked(&out[..]).unwrap();
    assert!(q.verify_checksum(&src, &dst));
    assert_eq!(vrrp::Repr::parse(&q, family).unwrap(), repr);
    // Same bytes as the input, the checksum aside (ones' complement has two zeros), when
    // the input had a correct checksum, no reserved bits and no trailing bytes.
    if sum_ok && p.reserved() == 0 && payload.len() == out.len() {
        assert_eq!(payload[..6], out[..6]);
        assert_eq!(payload[8..], out[8..]);
    }
}

fuzz_target!(|data: &[u8]| {
    let v4 = IpAddr::from([192, 0, 2, 1]);
    let g4 = IpAddr::from([224, 0, 0, 18]);
    let v6 = IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    let g6 = IpAddr::from([0xff02, 0, 0, 0, 0, 0, 0, 0x12]);
    check(data, Family::Inet, v4, g4);
    check(data, Family::Inet6, v6, g6);
    // Mixed families never verify and never panic.
    assert!(!vrrp::Packet::new_unchecked(data).verify_checksum(&v4, &g6));

    match data.first().map(|b| b >> 4) {
        Some(4) => {
            if let Ok(ip) = ipv4::Packet::new_checked(data) {
                if let Ok(r) = ipv4::Repr::parse(&ip) {
                    check(
                        ip.payload(),
                        Family::Inet,
                        r.src_addr.into(),
                        r.dst_addr.into(),
                    );
                    let addrs: Vec<_> = match vrrp::Repr::parse(
                        &vrrp::Packet::new_unchecked(ip.payload()),
                        Family::Inet,
                    ) {
                        Ok(v) => v
                            .addresses
                            .iter()
                            .filter_map(|a| match a {
                                IpAddr::V4(a) => Some(a),
                                _ => None,
                            })
                            .collect(),
                        Err(_) => return,
                    };
                    let v = vrrp::Repr {
                        vrid: 1,
                        priority: 100,
                        max_adver_int_cs: 100,
                        addresses: vrrp::Addresses::Ipv4(&addrs),
                    };
                    let mut buf = vec![0u8; 20 + v.buffer_len()];
                    let n = vrrp::emit_ipv4(&mut buf, r.src_addr, r.dst_addr, r.dscp, r.ident, &v)
                        .unwrap();
                    assert_eq!(n, buf.len());
                    let ip2 = ipv4::Packet::new_checked(&buf[..]).unwrap();
                    assert!(vrrp::Packet::new_unchecked(ip2.payload())
                        .verify_checksum(&r.src_addr.into(), &r.dst_addr.into()));
                }
            }
        }
        Some(6) => {
            if let Ok(ip) = ipv6::Packet::new_checked(data) {
                if let Ok(r) = ipv6::Repr::parse(&ip) {
                    check(
                        ip.payload(),
                        Family::Inet6,
                        r.src_addr.into(),
                        r.dst_addr.into(),
                    );
                }
            }
        }
        _ => {}
    }
});

//! CARP v2 advertisement: accessors on any bytes, parse, and emit/parse round trips
//! (bare, inside IPv4, inside IPv6). Input: the CARP bytes (the IP payload).
#![no_main]

use core::net::{Ipv4Addr, Ipv6Addr};

use carp_proto::wire::{carp, ipv4, ipv6};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Accessors never panic, checked or not.
    let p = carp::Packet::new_unchecked(data);
    let _ = (
        p.version(),
        p.msg_type(),
        p.vhid(),
        p.advskew(),
        p.authlen(),
        p.reserved(),
    );
    let _ = (
        p.advbase(),
        p.checksum(),
        p.counter(),
        p.counter_words(),
        p.md(),
    );
    let _ = (p.verify_checksum(), p.verify_header_checksum());

    let Ok(p) = carp::Packet::new_checked(data) else {
        assert!(data.len() < carp::HEADER_LEN);
        return;
    };
    let Ok(repr) = carp::Repr::parse(&p) else {
        assert!(p.version() != carp::VERSION || p.msg_type() != carp::Type::Advertisement);
        return;
    };
    assert_eq!(repr.counter, u64::from_be_bytes(p.counter_bytes()));

    // Emit into exactly buffer_len bytes, parse back.
    let mut out = [0u8; carp::HEADER_LEN];
    assert_eq!(repr.buffer_len(), out.len());
    repr.emit(&mut carp::Packet::new_unchecked(&mut out[..]));
    let q = carp::Packet::new_checked(&out[..]).unwrap();
    assert!(q.verify_checksum() && q.verify_header_checksum());
    assert_eq!(carp::Repr::parse(&q).unwrap(), repr);
    // Only the reserved byte and the checksum may differ from the input.
    let mut a = [0u8; carp::HEADER_LEN];
    a.copy_from_slice(&data[..carp::HEADER_LEN]);
    a[4] = 0;
    a[6..8].copy_from_slice(&out[6..8]);
    assert_eq!(a, out);

    // Complete IPv4 / IPv6 adverts.
    let mut b4 = [0u8; carp::IPV4_PACKET_LEN];
    let n = carp::emit_ipv4(
        &mut b4,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(224, 0, 0, 18),
        56,
        7,
        &repr,
    )
    .unwrap();
    let ip = ipv4::Packet::new_checked(&b4[..n]).unwrap();
    let ipr = ipv4::Repr::parse(&ip).unwrap();
    assert_eq!(
        (ipr.protocol, ipr.ttl, ipr.dscp, ipr.payload_len),
        (112, 255, 56, 36)
    );
    assert_eq!(
        carp::Repr::parse(&carp::Packet::new_checked(ip.payload()).unwrap()).unwrap(),
        repr
    );

    let mut b6 = [0u8; carp::IPV6_PACKET_LEN];
    let n = carp::emit_ipv6(
        &mut b6,
        Ipv6Addr::LOCALHOST,
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
        56,
        &repr,
    )
    .unwrap();
    let ip = ipv6::Packet::new_checked(&b6[..n]).unwrap();
    assert_eq!(ipv6::Repr::parse(&ip).unwrap().next_header, 112);
    assert_eq!(&b6[40..], &out[..]);
    // Too-short buffers are an error, not a panic.
    assert!(carp::emit_ipv4(
        &mut b4[..55],
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        0,
        0,
        &repr
    )
    .is_err());
});

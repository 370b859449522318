//! IPv4 header: accessors on any bytes, parse, emit/parse round trip.
#![no_main]

use carp_proto::wire::{checksum, ipv4};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = ipv4::Packet::new_unchecked(data);
    let _ = (
        p.version(),
        p.header_len(),
        p.tos(),
        p.dscp(),
        p.ecn(),
        p.total_len(),
        p.ident(),
    );
    let _ = (
        p.dont_frag(),
        p.more_frags(),
        p.frag_offset(),
        p.ttl(),
        p.protocol(),
        p.checksum(),
    );
    let _ = (
        p.src_addr(),
        p.dst_addr(),
        p.verify_checksum(),
        p.payload().len(),
    );

    let Ok(p) = ipv4::Packet::new_checked(data) else {
        return;
    };
    assert!(p.header_len() >= ipv4::HEADER_LEN && p.header_len() <= data.len());
    assert_eq!(
        p.payload().len(),
        usize::from(p.total_len()) - p.header_len()
    );
    let Ok(repr) = ipv4::Repr::parse(&p) else {
        return;
    };
    assert!(p.verify_checksum());
    assert_eq!(repr.payload_len, p.payload().len());

    let mut out = vec![0u8; repr.buffer_len() + repr.payload_len];
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut out[..]));
    let q = ipv4::Packet::new_checked(&out[..]).unwrap();
    assert!(checksum::verify(checksum::data(&out[..ipv4::HEADER_LEN])));
    assert_eq!(ipv4::Repr::parse(&q).unwrap(), repr);
    // Without options, ECN 0 and the reserved flag bit clear, the header is reproduced
    // exactly (the checksum aside: ones' complement has two zeros).
    if p.header_len() == ipv4::HEADER_LEN && p.ecn() == 0 && data[6] & 0x80 == 0 {
        assert_eq!(data[..10], out[..10]);
        assert_eq!(data[12..20], out[12..20]);
    }
});

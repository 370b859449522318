//! IPv6 fixed header: accessors on any bytes, parse, emit/parse round trip, and the
//! header builder.
#![no_main]

use carp_proto::wire::ipv6;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = ipv6::Packet::new_unchecked(data);
    let _ = (
        p.version(),
        p.traffic_class(),
        p.dscp(),
        p.flow_label(),
        p.payload_len(),
    );
    let _ = (
        p.next_header(),
        p.hop_limit(),
        p.src_addr(),
        p.dst_addr(),
        p.payload().len(),
    );
    let _ = ipv6::solicited_node(&p.dst_addr());

    let Ok(p) = ipv6::Packet::new_checked(data) else {
        return;
    };
    assert_eq!(p.payload().len(), usize::from(p.payload_len()));
    let Ok(repr) = ipv6::Repr::parse(&p) else {
        return;
    };

    let mut out = vec![0u8; repr.buffer_len() + repr.payload_len];
    repr.emit(&mut ipv6::Packet::new_unchecked(&mut out[..]));
    let q = ipv6::Packet::new_checked(&out[..]).unwrap();
    assert_eq!(ipv6::Repr::parse(&q).unwrap(), repr);
    if p.flow_label() == 0 && p.traffic_class() & 3 == 0 {
        assert_eq!(data[..ipv6::HEADER_LEN], out[..ipv6::HEADER_LEN]);
    }

    let mut out2 = vec![0u8; out.len()];
    let rest = ipv6::emit_header(
        &mut out2,
        repr.src_addr,
        repr.dst_addr,
        repr.dscp,
        repr.next_header,
        repr.payload_len,
    )
    .unwrap();
    assert_eq!(rest.len(), repr.payload_len);
    let r2 = ipv6::Repr::parse(&ipv6::Packet::new_checked(&out2[..]).unwrap()).unwrap();
    assert_eq!((r2.hop_limit, r2.payload_len), (255, repr.payload_len));
});

//! ARP (Ethernet/IPv4): accessors, parse, exact emit round trip, reply construction.
//! Input: an ARP packet; the same bytes are also tried as an Ethernet frame.
#![no_main]

use carp_proto::wire::{arp, ethernet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = arp::Packet::new_unchecked(data);
    let _ = (
        p.hardware_type(),
        p.protocol_type(),
        p.hardware_len(),
        p.protocol_len(),
        p.operation(),
    );
    let _ = (
        p.source_hardware_addr(),
        p.source_protocol_addr(),
        p.target_hardware_addr(),
        p.target_protocol_addr(),
    );

    if let Ok(repr) = arp::Packet::new_checked(data).and_then(|p| arp::Repr::parse(&p)) {
        let mut out = [0u8; arp::PACKET_LEN];
        repr.emit(&mut arp::Packet::new_unchecked(&mut out[..]));
        // Every byte of an Ethernet/IPv4 ARP packet is represented: exact round trip.
        assert_eq!(out[..], data[..arp::PACKET_LEN]);
        if let Some(reply) = repr.reply_to([0, 0, 0x5e, 0, 1, 1]) {
            assert_eq!(reply.operation, arp::Operation::Reply);
            assert_eq!(reply.source_protocol_addr, repr.target_protocol_addr);
            assert_eq!(reply.target_hardware_addr, repr.source_hardware_addr);
            let mut f = [0u8; arp::FRAME_LEN];
            assert_eq!(
                arp::emit_frame(&mut f, [2; 6], repr.source_hardware_addr, &reply).unwrap(),
                arp::FRAME_LEN
            );
            assert_eq!(arp::parse_frame(&f).unwrap().1, reply);
        }
    }

    if let Ok((eth, repr)) = arp::parse_frame(data) {
        assert_eq!(eth.ethertype, ethernet::EtherType::Arp);
        let mut f = [0u8; arp::FRAME_LEN];
        arp::emit_frame(&mut f, eth.src_addr, eth.dst_addr, &repr).unwrap();
        assert_eq!(f[..], data[..arp::FRAME_LEN]);
    }
});

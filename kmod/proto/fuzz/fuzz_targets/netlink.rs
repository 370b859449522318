//! Generic netlink "carp" family (engineer E's `config::netlink`): SET/GET request decoding
//! of any bytes (as a whole message and as a bare payload), header round trip, attribute
//! walking, and GET-reply decode/encode never panic.
#![no_main]

use carp_proto::config::netlink::{self, NlMsgHeader, ReplyHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = netlink::decode_set(data);
    if let Ok(g) = netlink::decode_get(data) {
        let _ = (g.query(), g.iface.name_str());
    }
    let _ = netlink::decode_set_payload(data);
    let _ = netlink::decode_get_payload(data);
    if let Ok(p) = netlink::parse_payload(data) {
        let _ = p.iface().name_str();
    }
    for a in netlink::Attrs::new(data.get(4..).unwrap_or(&[])) {
        if a.is_err() {
            break;
        }
    }

    if let Ok(h) = NlMsgHeader::parse(data) {
        let mut o = [0u8; 16];
        h.emit(&mut o).unwrap();
        assert_eq!(o[..], data[..16]);
        let _ = ReplyHeader::for_get_reply(&h);
    }
    if let Ok(p) = netlink::payload_of(data) {
        let _ = netlink::decode_set_payload(p);
        let _ = netlink::decode_get_payload(p);
    }

    // A GET reply payload read back by the tools, re-encoded.
    if let Ok(st) = netlink::decode_status_payload(data) {
        let hdr = ReplyHeader {
            family_id: 0x20,
            flags: 0,
            seq: 1,
            pid: 2,
        };
        for privileged in [false, true] {
            let mut out = vec![0u8; netlink::status_msg_len(&st, privileged)];
            let n = netlink::encode_status(&hdr, &st, privileged, &mut out).unwrap();
            assert_eq!(n, out.len());
            let back = netlink::decode_status_payload(netlink::payload_of(&out).unwrap()).unwrap();
            assert_eq!(
                (back.vhid, back.state, back.version),
                (st.vhid, st.state, st.version)
            );
            assert!(netlink::encode_status(&hdr, &st, privileged, &mut out[..n - 1]).is_err());
        }
    }
});

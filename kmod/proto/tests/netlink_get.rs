//! CARP_NL_CMD_GET: the dump request stock FreeBSD 15 `ifconfig` sends, and the replies
//! the 15 kernel's `carp_nl_get` / `carp_nl_send` write, byte for byte.
//!
//! Where the bytes come from:
//! - `lib/libifconfig/libifconfig_carp.c` `_ifconfig_carp_get`: fresh snl socket, family
//!   lookup (seq 1), then `snl_create_genl_msg_request(family, CARP_NL_CMD_GET)` with
//!   `nlmsg_flags |= NLM_F_DUMP` (0x0305 in all), IFNAME string, and VHID u32 only when a
//!   vhid is asked for (`ifconfig em0 vhid 1 ...` asks for it; plain `ifconfig em0`
//!   status does not);
//! - `sys/netinet/ip_carp.c` `carp_nl_send`: `nlmsg_reply(hdr)` (type, flags, seq and pid
//!   of the request; `carp_nl_get` added NLM_F_MULTI to the request's flags first; the
//!   netlink layer stamped the request's pid with the socket's port id), a `genlmsghdr`
//!   {CARP_NL_CMD_GET, 0, 0}, then VHID u32, STATE u32, VERSION u8 and, for CARP,
//!   ADVBASE s32, ADVSKEW s32, ADDR, ADDR6 and KEY (20 bytes, privileged readers only);
//!   for VRRPv3, VRRP_PRIORITY u8 and VRRP_ADV_INTER u16;
//! - the family id 0x0017 and port id 4242 are examples (both assigned at run time).

use carp_proto::config::netlink::{self, IfSelector, NlMsgHeader, ReplyHeader};
use carp_proto::config::{select, GetQuery, Selection};
use carp_proto::{CarpState, Errno, Version, VhidStatus, CARP_GROUP_V4, CARP_GROUP_V6};
use core::net::{Ipv4Addr, Ipv6Addr};

fn key(s: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..s.len()].copy_from_slice(s);
    k
}

/// GET dump for vhid 1 on em0, as sent first by `ifconfig em0 vhid 1 ...`.
#[rustfmt::skip]
const GET_EM0_VHID1: [u8; 36] = [
    0x24, 0x00, 0x00, 0x00,             // nlmsg_len 36
    0x17, 0x00,                         // family id of "carp" (example)
    0x05, 0x03,                         // NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP = 0x0305
    0x02, 0x00, 0x00, 0x00,             // seq 2 (1 was the family lookup)
    0x00, 0x00, 0x00, 0x00,             // pid 0
    0x01, 0x00, 0x00, 0x00,             // genlmsghdr: CARP_NL_CMD_GET, version 0
    0x08, 0x00, 0x09, 0x00,  b'e', b'm', b'0', 0x00, // CARP_NL_IFNAME "em0"
    0x08, 0x00, 0x01, 0x00,  0x01, 0x00, 0x00, 0x00, // CARP_NL_VHID 1
];

/// GET dump of every vhid on carp0, as sent by `ifconfig carp0` (status).
#[rustfmt::skip]
const GET_CARP0_ALL: [u8; 32] = [
    0x20, 0x00, 0x00, 0x00, 0x17, 0x00, 0x05, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00,
    0x0a, 0x00, 0x09, 0x00,  b'c', b'a', b'r', b'p', b'0', 0x00, 0x00, 0x00, // IFNAME "carp0"
];

fn vhid1_master() -> VhidStatus {
    VhidStatus {
        vhid: 1,
        state: CarpState::Master,
        advbase: 1,
        advskew: 100,
        key: key(b"testpass"),
        peer4: CARP_GROUP_V4,
        peer6: CARP_GROUP_V6,
        version: Version::Carp,
        vrrp_priority: 100,
        vrrp_interval_cs: 100,
    }
}

/// The kernel's reply to GET_EM0_VHID1 for vhid 1 (MASTER, advbase 1, advskew 100, key
/// "testpass", multicast peers), read by root.
#[rustfmt::skip]
const REPLY_VHID1_PRIVILEGED: [u8; 112] = [
    0x70, 0x00, 0x00, 0x00,             // nlmsg_len 112
    0x17, 0x00,                         // nlmsg_type: the request's (family id)
    0x07, 0x03,                         // request flags 0x0305 | NLM_F_MULTI
    0x02, 0x00, 0x00, 0x00,             // the request's seq
    0x92, 0x10, 0x00, 0x00,             // pid: the requesting socket's port id (4242)
    0x01, 0x00, 0x00, 0x00,             // genlmsghdr: CARP_NL_CMD_GET, version 0
    0x08, 0x00, 0x01, 0x00,  0x01, 0x00, 0x00, 0x00, // VHID 1
    0x08, 0x00, 0x02, 0x00,  0x02, 0x00, 0x00, 0x00, // STATE 2 (MASTER)
    0x05, 0x00, 0x0a, 0x00,  0x02, 0x00, 0x00, 0x00, // VERSION 2 + 3 padding bytes
    0x08, 0x00, 0x03, 0x00,  0x01, 0x00, 0x00, 0x00, // ADVBASE 1
    0x08, 0x00, 0x04, 0x00,  0x64, 0x00, 0x00, 0x00, // ADVSKEW 100
    0x08, 0x00, 0x07, 0x00,  224, 0, 0, 18,          // ADDR 224.0.0.18
    0x14, 0x00, 0x08, 0x00,                          // ADDR6 ff02::12
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0x18, 0x00, 0x05, 0x00,                          // KEY, 20 bytes
    b't', b'e', b's', b't', b'p', b'a', b's', b's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

#[test]
fn stock_get_with_ifname_and_vhid_decodes() {
    let cmd = netlink::decode_get(&GET_EM0_VHID1).unwrap();
    assert_eq!(cmd.iface, IfSelector::Name(b"em0"));
    assert_eq!(cmd.vhid, 1);
    assert_eq!(
        cmd.query(),
        Ok(GetQuery {
            vhid: Some(1),
            max: 255
        })
    );
}

#[test]
fn stock_status_get_asks_for_every_vhid() {
    let cmd = netlink::decode_get(&GET_CARP0_ALL).unwrap();
    assert_eq!(cmd.iface, IfSelector::Name(b"carp0"));
    assert_eq!(
        cmd.query(),
        Ok(GetQuery {
            vhid: None,
            max: 255
        })
    );
}

#[test]
fn get_vhid_above_255_is_einval_after_the_interface() {
    let mut m = GET_EM0_VHID1;
    m[32..36].copy_from_slice(&256u32.to_le_bytes());
    let cmd = netlink::decode_get(&m).unwrap(); // parsing succeeds ...
    assert_eq!(cmd.query(), Err(Errno::EINVAL)); // ... the query check fails
}

#[test]
fn get_shares_the_set_parser_errors() {
    // A 21-byte KEY in a GET is refused by the shared parser.
    let mut m = GET_CARP0_ALL.to_vec();
    m.extend_from_slice(&[25, 0, 5, 0]);
    m.extend_from_slice(&[1; 21]);
    m.extend_from_slice(&[0, 0, 0]);
    let len = m.len() as u32;
    m[..4].copy_from_slice(&len.to_le_bytes());
    assert_eq!(netlink::decode_get(&m), Err(Errno::EINVAL));
}

#[test]
fn reply_for_a_privileged_reader_is_byte_exact() {
    let request = NlMsgHeader::parse(&GET_EM0_VHID1).unwrap();
    // The netlink layer stamps the request with the socket's port id before dispatch.
    let request = NlMsgHeader {
        pid: 4242,
        ..request
    };
    let hdr = ReplyHeader::for_get_reply(&request);
    let mut out = [0xaau8; 200];
    let n = netlink::encode_status(&hdr, &vhid1_master(), true, &mut out).unwrap();
    assert_eq!(n, netlink::status_msg_len(&vhid1_master(), true));
    assert_eq!(&out[..n], &REPLY_VHID1_PRIVILEGED[..]);
    assert!(
        out[n..].iter().all(|&b| b == 0xaa),
        "nothing written past the message"
    );
}

#[test]
fn unprivileged_reader_gets_no_key_attribute() {
    let hdr = ReplyHeader {
        family_id: 0x17,
        flags: 0x0307,
        seq: 2,
        pid: 4242,
    };
    let mut out = [0u8; 200];
    let n = netlink::encode_status(&hdr, &vhid1_master(), false, &mut out).unwrap();
    assert_eq!(n, 112 - 24);
    let mut expected = REPLY_VHID1_PRIVILEGED[..88].to_vec();
    expected[0] = 88; // nlmsg_len
    assert_eq!(&out[..n], &expected[..]);
}

#[test]
fn vrrp_reply_carries_priority_and_interval_only() {
    let st = VhidStatus {
        vhid: 7,
        state: CarpState::Backup,
        version: Version::Vrrp3,
        vrrp_priority: 50,
        vrrp_interval_cs: 200,
        ..vhid1_master()
    };
    let mut out = [0u8; 64];
    let n = netlink::encode_status_payload(&st, true, &mut out).unwrap();
    #[rustfmt::skip]
    let expected: [u8; 44] = [
        0x01, 0x00, 0x00, 0x00,                          // genlmsghdr GET
        0x08, 0x00, 0x01, 0x00,  0x07, 0x00, 0x00, 0x00, // VHID 7
        0x08, 0x00, 0x02, 0x00,  0x01, 0x00, 0x00, 0x00, // STATE 1 (BACKUP)
        0x05, 0x00, 0x0a, 0x00,  0x03, 0x00, 0x00, 0x00, // VERSION 3
        0x05, 0x00, 0x0b, 0x00,  0x32, 0x00, 0x00, 0x00, // VRRP_PRIORITY 50
        0x06, 0x00, 0x0c, 0x00,  0xc8, 0x00, 0x00, 0x00, // VRRP_ADV_INTER 200
    ];
    assert_eq!(&out[..n], &expected[..]);
}

#[test]
fn short_output_buffer_is_enomem_and_reply_round_trips() {
    let mut small = [0u8; 111];
    let hdr = ReplyHeader {
        family_id: 0x17,
        flags: 0x0307,
        seq: 2,
        pid: 4242,
    };
    assert_eq!(
        netlink::encode_status(&hdr, &vhid1_master(), true, &mut small),
        Err(Errno::ENOMEM)
    );
    // What libifconfig reads back from the reply is what we encoded.
    let back = netlink::decode_status_payload(&REPLY_VHID1_PRIVILEGED[16..]).unwrap();
    assert_eq!(
        back,
        VhidStatus {
            vrrp_priority: 0,
            vrrp_interval_cs: 0,
            ..vhid1_master()
        }
    );
}

#[test]
fn unicast_peers_are_reported() {
    let st = VhidStatus {
        peer4: Ipv4Addr::new(192, 0, 2, 7),
        peer6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7),
        ..vhid1_master()
    };
    let mut out = [0u8; 128];
    let n = netlink::encode_status_payload(&st, false, &mut out).unwrap();
    let back = netlink::decode_status_payload(&out[..n]).unwrap();
    assert_eq!((back.peer4, back.peer6), (st.peer4, st.peer6));
    assert_eq!(back.key, [0; 20]);
}

#[test]
fn selection_follows_carp_ioctl_get() {
    let a = vhid1_master();
    let b = VhidStatus { vhid: 2, ..a };
    let all = [a, b];
    let one = GetQuery {
        vhid: Some(2),
        max: 255,
    };
    assert_eq!(select(&one, Some(&all)), Ok(Selection::One(&all[1])));
    assert_eq!(
        select(
            &GetQuery {
                vhid: Some(3),
                max: 255
            },
            Some(&all)
        ),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        select(&one, None),
        Err(Errno::ENOENT),
        "no CARP container on the interface"
    );
    let every = GetQuery {
        vhid: None,
        max: 255,
    };
    let s = select(&every, Some(&all)).unwrap();
    assert_eq!(s.iter().map(|s| s.vhid).collect::<Vec<_>>(), [1, 2]);
}

//! CARP_NL_CMD_SET as stock FreeBSD 15 `ifconfig` sends it, decoded as the 15 kernel's
//! `carp_nl_set` does.
//!
//! Where the bytes come from:
//! - `sbin/ifconfig/carp.c` `setcarp_callback`: a GET for the vhid first (ENOENT for a new
//!   vhid leaves the zeroed `struct ifconfig_carp`), then `vhid`, `pass` (strlcpy into the
//!   20-byte key), `advskew`, `advbase`, `state`, `peer`, `peer6`, `carpver`, `vrrpprio`,
//!   `vrrpinterval` overwrite fields that were given, then `ifconfig_carp_set_info`;
//! - `lib/libifconfig/libifconfig_carp.c` `ifconfig_carp_set_info`: a fresh snl socket,
//!   family lookup (CTRL_CMD_GETFAMILY takes `nlmsg_seq` 1), then
//!   `snl_create_genl_msg_request(family, CARP_NL_CMD_SET)` and the attributes in this
//!   order: VHID u32, STATE u32, ADVBASE s32, ADVSKEW s32, IFNAME string, ADDR 4 bytes,
//!   ADDR6 16 bytes, KEY 20 bytes, VERSION u8, VRRP_PRIORITY u8, VRRP_ADV_INTER u16;
//! - `sys/netlink/netlink_snl.h` / `netlink_snl_generic.h`: `nlmsg_flags` =
//!   NLM_F_REQUEST|NLM_F_ACK (0x0005), `nlmsg_seq` = 2 (second message on that socket),
//!   `nlmsg_pid` = 0, `genlmsghdr` {cmd, version 0, reserved 0}, `nla_len` = 4 + data
//!   length, data padded with zeros to 4 bytes, `nlmsg_len` = bytes written (padding
//!   included);
//! - `nlmsg_type` is the family id the kernel assigned to "carp" at registration; 0x0017
//!   below is an example (ids are allocated upwards from GENL_ID_CTRL = 16).
//!
//! All integers little-endian (amd64).

use carp_proto::config::netlink::{self, IfSelector};
use carp_proto::{CarpState, Errno, SetRequest, Version};
use core::net::{Ipv4Addr, Ipv6Addr};

fn key(s: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..s.len()].copy_from_slice(s);
    k
}

/// `ifconfig em0 vhid 1 advskew 100 pass testpass` (vhid 1 not yet configured).
#[rustfmt::skip]
const EM0_VHID1_ADVSKEW100_PASS_TESTPASS: [u8; 136] = [
    // nlmsghdr
    0x88, 0x00, 0x00, 0x00,             // nlmsg_len 136
    0x17, 0x00,                         // nlmsg_type: family id of "carp" (example)
    0x05, 0x00,                         // NLM_F_REQUEST | NLM_F_ACK
    0x02, 0x00, 0x00, 0x00,             // nlmsg_seq 2 (1 was CTRL_CMD_GETFAMILY)
    0x00, 0x00, 0x00, 0x00,             // nlmsg_pid 0
    // genlmsghdr
    0x02, 0x00, 0x00, 0x00,             // cmd CARP_NL_CMD_SET, version 0, reserved 0
    // CARP_NL_VHID u32 = 1
    0x08, 0x00, 0x01, 0x00,  0x01, 0x00, 0x00, 0x00,
    // CARP_NL_STATE u32 = 0 (no `state` keyword, zeroed by the failed GET)
    0x08, 0x00, 0x02, 0x00,  0x00, 0x00, 0x00, 0x00,
    // CARP_NL_ADVBASE s32 = 0 (no `advbase` keyword)
    0x08, 0x00, 0x03, 0x00,  0x00, 0x00, 0x00, 0x00,
    // CARP_NL_ADVSKEW s32 = 100
    0x08, 0x00, 0x04, 0x00,  0x64, 0x00, 0x00, 0x00,
    // CARP_NL_IFNAME "em0\0"
    0x08, 0x00, 0x09, 0x00,  b'e', b'm', b'0', 0x00,
    // CARP_NL_ADDR 0.0.0.0 (no `peer`)
    0x08, 0x00, 0x07, 0x00,  0x00, 0x00, 0x00, 0x00,
    // CARP_NL_ADDR6 :: (no `peer6`)
    0x14, 0x00, 0x08, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // CARP_NL_KEY: 20 bytes, "testpass" NUL-padded by strlcpy into the zeroed key
    0x18, 0x00, 0x05, 0x00,
    b't', b'e', b's', b't', b'p', b'a', b's', b's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // CARP_NL_VERSION u8 = 0 (no `carpver`), 3 padding bytes
    0x05, 0x00, 0x0a, 0x00,  0x00, 0x00, 0x00, 0x00,
    // CARP_NL_VRRP_PRIORITY u8 = 0
    0x05, 0x00, 0x0b, 0x00,  0x00, 0x00, 0x00, 0x00,
    // CARP_NL_VRRP_ADV_INTER u16 = 0, 2 padding bytes
    0x06, 0x00, 0x0c, 0x00,  0x00, 0x00, 0x00, 0x00,
];

/// `ifconfig carp0 vhid 1 pass x` (legacy carpN; the SET comes before the address add).
#[rustfmt::skip]
const CARP0_VHID1_PASS_X: [u8; 140] = [
    0x8c, 0x00, 0x00, 0x00,             // nlmsg_len 140
    0x17, 0x00, 0x05, 0x00,             // type (example family id), REQUEST|ACK
    0x02, 0x00, 0x00, 0x00,             // seq 2
    0x00, 0x00, 0x00, 0x00,             // pid 0
    0x02, 0x00, 0x00, 0x00,             // CARP_NL_CMD_SET
    0x08, 0x00, 0x01, 0x00,  0x01, 0x00, 0x00, 0x00, // VHID 1
    0x08, 0x00, 0x02, 0x00,  0x00, 0x00, 0x00, 0x00, // STATE 0
    0x08, 0x00, 0x03, 0x00,  0x00, 0x00, 0x00, 0x00, // ADVBASE 0
    0x08, 0x00, 0x04, 0x00,  0x00, 0x00, 0x00, 0x00, // ADVSKEW 0
    // IFNAME "carp0\0": nla_len 10, then 2 padding bytes
    0x0a, 0x00, 0x09, 0x00,  b'c', b'a', b'r', b'p', b'0', 0x00, 0x00, 0x00,
    0x08, 0x00, 0x07, 0x00,  0x00, 0x00, 0x00, 0x00, // ADDR 0.0.0.0
    0x14, 0x00, 0x08, 0x00,                          // ADDR6 ::
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x18, 0x00, 0x05, 0x00,                          // KEY "x" NUL-padded to 20
    b'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x05, 0x00, 0x0a, 0x00,  0x00, 0x00, 0x00, 0x00, // VERSION 0
    0x05, 0x00, 0x0b, 0x00,  0x00, 0x00, 0x00, 0x00, // VRRP_PRIORITY 0
    0x06, 0x00, 0x0c, 0x00,  0x00, 0x00, 0x00, 0x00, // VRRP_ADV_INTER 0
];

/// `ifconfig em0 vhid 1 state backup` on a host where vhid 1 exists (MASTER, advbase 1,
/// advskew 100, key "testpass", multicast peers): the GET filled every field from the
/// kernel (root sees the key), then `state` set carpr_state = 1.
#[rustfmt::skip]
const EM0_VHID1_STATE_BACKUP_EXISTING: [u8; 136] = [
    0x88, 0x00, 0x00, 0x00, 0x17, 0x00, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x01, 0x00,  0x01, 0x00, 0x00, 0x00, // VHID 1
    0x08, 0x00, 0x02, 0x00,  0x01, 0x00, 0x00, 0x00, // STATE 1 = BACKUP
    0x08, 0x00, 0x03, 0x00,  0x01, 0x00, 0x00, 0x00, // ADVBASE 1 (from GET)
    0x08, 0x00, 0x04, 0x00,  0x64, 0x00, 0x00, 0x00, // ADVSKEW 100 (from GET)
    0x08, 0x00, 0x09, 0x00,  b'e', b'm', b'0', 0x00, // IFNAME "em0"
    0x08, 0x00, 0x07, 0x00,  224, 0, 0, 18,          // ADDR 224.0.0.18 (from GET)
    0x14, 0x00, 0x08, 0x00,                          // ADDR6 ff02::12 (from GET)
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0x18, 0x00, 0x05, 0x00,                          // KEY (from GET)
    b't', b'e', b's', b't', b'p', b'a', b's', b's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x05, 0x00, 0x0a, 0x00,  0x02, 0x00, 0x00, 0x00, // VERSION 2 (from GET)
    0x05, 0x00, 0x0b, 0x00,  0x00, 0x00, 0x00, 0x00, // VRRP_PRIORITY 0 (not in a CARP GET)
    0x06, 0x00, 0x0c, 0x00,  0x00, 0x00, 0x00, 0x00, // VRRP_ADV_INTER 0
];

/// `ifconfig em0 vhid 7 carpver 3 vrrpprio 50 vrrpinterval 200` (new VRRPv3 vhid).
#[rustfmt::skip]
const EM0_VHID7_VRRP: [u8; 136] = [
    0x88, 0x00, 0x00, 0x00, 0x17, 0x00, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x01, 0x00,  0x07, 0x00, 0x00, 0x00, // VHID 7
    0x08, 0x00, 0x02, 0x00,  0x00, 0x00, 0x00, 0x00, // STATE 0
    0x08, 0x00, 0x03, 0x00,  0x00, 0x00, 0x00, 0x00, // ADVBASE 0
    0x08, 0x00, 0x04, 0x00,  0x00, 0x00, 0x00, 0x00, // ADVSKEW 0
    0x08, 0x00, 0x09, 0x00,  b'e', b'm', b'0', 0x00, // IFNAME "em0"
    0x08, 0x00, 0x07, 0x00,  0, 0, 0, 0,             // ADDR
    0x14, 0x00, 0x08, 0x00,                          // ADDR6
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x18, 0x00, 0x05, 0x00,                          // KEY: all zero (no `pass`)
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x05, 0x00, 0x0a, 0x00,  0x03, 0x00, 0x00, 0x00, // VERSION 3
    0x05, 0x00, 0x0b, 0x00,  0x32, 0x00, 0x00, 0x00, // VRRP_PRIORITY 50
    0x06, 0x00, 0x0c, 0x00,  0xc8, 0x00, 0x00, 0x00, // VRRP_ADV_INTER 200 cs
];

fn carp_req(vhid: u8) -> SetRequest {
    SetRequest {
        vhid,
        state: None,
        advbase: None,
        advskew: Some(0),
        key: None,
        peer4: None,
        peer6: None,
        version: Version::Carp,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    }
}

#[test]
fn stock_ifconfig_em0_vhid_advskew_pass_decodes_to_the_set_request() {
    let cmd = netlink::decode_set(&EM0_VHID1_ADVSKEW100_PASS_TESTPASS).unwrap();
    assert_eq!(cmd.iface, IfSelector::Name(b"em0"));
    assert_eq!(cmd.iface.name_str(), Some("em0"));
    assert_eq!(
        cmd.request,
        SetRequest {
            advskew: Some(100),
            key: Some(key(b"testpass")),
            ..carp_req(1)
        }
    );
}

#[test]
fn stock_ifconfig_carp0_vhid_pass_decodes_with_the_carp0_name() {
    let cmd = netlink::decode_set(&CARP0_VHID1_PASS_X).unwrap();
    assert_eq!(cmd.iface, IfSelector::Name(b"carp0"));
    assert_eq!(
        cmd.request,
        SetRequest {
            key: Some(key(b"x")),
            ..carp_req(1)
        }
    );
}

#[test]
fn read_modify_write_of_an_existing_vhid_forces_backup_and_keeps_values() {
    let cmd = netlink::decode_set(&EM0_VHID1_STATE_BACKUP_EXISTING).unwrap();
    assert_eq!(
        cmd.request,
        SetRequest {
            state: Some(CarpState::Backup),
            advbase: Some(1),
            advskew: Some(100),
            key: Some(key(b"testpass")),
            peer4: Some(Ipv4Addr::new(224, 0, 0, 18)),
            peer6: Some(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
            ..carp_req(1)
        }
    );
}

#[test]
fn vrrp_set_carries_priority_and_interval_and_ignores_carp_fields() {
    let cmd = netlink::decode_set(&EM0_VHID7_VRRP).unwrap();
    assert_eq!(
        cmd.request,
        SetRequest {
            vhid: 7,
            state: None,
            advbase: None,
            advskew: None,
            key: None,
            peer4: None,
            peer6: None,
            version: Version::Vrrp3,
            vrrp_priority: Some(50),
            vrrp_interval_cs: Some(200),
        }
    );
}

#[test]
fn payload_entry_point_matches_the_whole_message_one() {
    let whole = netlink::decode_set(&EM0_VHID1_ADVSKEW100_PASS_TESTPASS).unwrap();
    let payload = netlink::decode_set_payload(&EM0_VHID1_ADVSKEW100_PASS_TESTPASS[16..]).unwrap();
    assert_eq!(whole, payload);
}

// ---- value errors, each EINVAL as carp_nl_set returns them -------------------------

/// The em0 message with one attribute's 4 data bytes replaced. `at` is the offset of the
/// attribute's data in the message.
fn patched(at: usize, data: [u8; 4]) -> [u8; 136] {
    let mut m = EM0_VHID1_ADVSKEW100_PASS_TESTPASS;
    m[at..at + 4].copy_from_slice(&data);
    m
}
const VHID_AT: usize = 24;
const STATE_AT: usize = 32;
const ADVBASE_AT: usize = 40;
const ADVSKEW_AT: usize = 48;
const VERSION_AT: usize = 116;
const INTER_AT: usize = 132;

#[test]
fn vhid_outside_1_to_255_is_einval() {
    for bad in [0u32, 256, u32::MAX] {
        assert_eq!(
            netlink::decode_set(&patched(VHID_AT, bad.to_le_bytes())),
            Err(Errno::EINVAL),
            "vhid {bad}"
        );
    }
    assert_eq!(
        netlink::decode_set(&patched(VHID_AT, 255u32.to_le_bytes()))
            .unwrap()
            .request
            .vhid,
        255
    );
}

#[test]
fn state_above_master_is_einval_and_init_forces_nothing() {
    assert_eq!(
        netlink::decode_set(&patched(STATE_AT, 3u32.to_le_bytes())),
        Err(Errno::EINVAL)
    );
    let m = netlink::decode_set(&patched(STATE_AT, 2u32.to_le_bytes()))
        .unwrap()
        .request;
    assert_eq!(m.state, Some(CarpState::Master));
    let i = netlink::decode_set(&patched(STATE_AT, 0u32.to_le_bytes()))
        .unwrap()
        .request;
    assert_eq!(i.state, None);
}

#[test]
fn advbase_and_advskew_ranges() {
    assert_eq!(
        netlink::decode_set(&patched(ADVBASE_AT, 256i32.to_le_bytes())),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        netlink::decode_set(&patched(ADVBASE_AT, (-1i32).to_le_bytes())),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        netlink::decode_set(&patched(ADVSKEW_AT, 255i32.to_le_bytes())),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        netlink::decode_set(&patched(ADVSKEW_AT, (-1i32).to_le_bytes())),
        Err(Errno::EINVAL)
    );
    let ok = netlink::decode_set(&patched(ADVBASE_AT, 255i32.to_le_bytes()))
        .unwrap()
        .request;
    assert_eq!(ok.advbase, Some(255));
    let ok = netlink::decode_set(&patched(ADVSKEW_AT, 254i32.to_le_bytes()))
        .unwrap()
        .request;
    assert_eq!(ok.advskew, Some(254));
}

#[test]
fn unknown_versions_are_einval_and_zero_means_carp() {
    for bad in [1u8, 4, 255] {
        assert_eq!(
            netlink::decode_set(&patched(VERSION_AT, [bad, 0, 0, 0])),
            Err(Errno::EINVAL),
            "version {bad}"
        );
    }
    let two = netlink::decode_set(&patched(VERSION_AT, [2, 0, 0, 0]))
        .unwrap()
        .request;
    assert_eq!(two.version, Version::Carp);
}

#[test]
fn vrrp_interval_above_4095_is_einval_but_carp_ignores_it() {
    let mut m = EM0_VHID7_VRRP;
    m[INTER_AT..INTER_AT + 2].copy_from_slice(&4096u16.to_le_bytes());
    assert_eq!(netlink::decode_set(&m), Err(Errno::EINVAL));
    m[INTER_AT..INTER_AT + 2].copy_from_slice(&4095u16.to_le_bytes());
    assert_eq!(
        netlink::decode_set(&m).unwrap().request.vrrp_interval_cs,
        Some(4095)
    );
    // A CARP vhid never looks at the VRRP interval.
    let mut c = EM0_VHID1_ADVSKEW100_PASS_TESTPASS;
    c[INTER_AT..INTER_AT + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(netlink::decode_set(&c).is_ok());
}

// ---- attribute-level rules of the netlink parser -------------------------------------

/// genlmsghdr + the given attributes, wrapped in an nlmsghdr.
fn msg(attrs: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![2u8, 0, 0, 0];
    for a in attrs {
        body.extend_from_slice(a);
    }
    let len = 16 + body.len();
    let mut m = Vec::new();
    m.extend_from_slice(&(len as u32).to_le_bytes());
    m.extend_from_slice(&[0x17, 0, 0x05, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&body);
    m
}
/// One attribute with `nla_len` = 4 + data, padded.
fn nla(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + data.len()) as u16).to_le_bytes());
    a.extend_from_slice(&ty.to_le_bytes());
    a.extend_from_slice(data);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}
/// Decodes a message built by [`msg`] (leaked so the borrowed name outlives the call).
fn set(attrs: &[&[u8]]) -> Result<netlink::SetCommand<'static>, Errno> {
    netlink::decode_set(Box::leak(msg(attrs).into_boxed_slice()))
}
const VHID1: [u8; 8] = [8, 0, 1, 0, 1, 0, 0, 0];

#[test]
fn minimal_set_has_vhid_only_and_no_interface() {
    let cmd = set(&[&VHID1]).unwrap();
    assert_eq!(cmd.iface, IfSelector::None);
    assert_eq!(cmd.request, carp_req(1));
}

#[test]
fn ifname_wins_over_ifindex_and_index_zero_is_absent() {
    let both = msg(&[&VHID1, &nla(6, &3u32.to_le_bytes()), &nla(9, b"em1\0")]);
    assert_eq!(
        netlink::decode_set(&both).unwrap().iface,
        IfSelector::Name(b"em1")
    );
    let idx = msg(&[&VHID1, &nla(6, &3u32.to_le_bytes())]);
    assert_eq!(
        netlink::decode_set(&idx).unwrap().iface,
        IfSelector::Index(3)
    );
    let zero = msg(&[&VHID1, &nla(6, &0u32.to_le_bytes())]);
    assert_eq!(netlink::decode_set(&zero).unwrap().iface, IfSelector::None);
}

#[test]
fn wrong_attribute_lengths_are_einval() {
    let cases: [(&str, Vec<u8>); 9] = [
        ("vhid u16", nla(1, &[1, 0])),
        ("state 8 bytes", nla(2, &[0; 8])),
        ("advbase 2 bytes", nla(3, &[1, 0])),
        ("ifindex 1 byte", nla(6, &[1])),
        ("addr 16 bytes", nla(7, &[0; 16])),
        ("addr6 4 bytes", nla(8, &[0; 4])),
        ("version u16", nla(10, &[2, 0])),
        ("prio u32", nla(11, &[1, 0, 0, 0])),
        ("interval u8", nla(12, &[1])),
    ];
    for (what, a) in cases {
        assert_eq!(set(&[&VHID1, &a]), Err(Errno::EINVAL), "{what}");
    }
}

#[test]
fn key_longer_than_20_bytes_is_einval_shorter_is_zero_padded() {
    assert_eq!(set(&[&VHID1, &nla(5, &[b'k'; 21])]), Err(Errno::EINVAL));
    let short = set(&[&VHID1, &nla(5, b"abc")]).unwrap();
    assert_eq!(short.request.key, Some(key(b"abc")));
    // A key starting with NUL means "keep the current key".
    let keep = set(&[&VHID1, &nla(5, b"\0bc")]).unwrap();
    assert_eq!(keep.request.key, None);
    // A second KEY overwrites only as many bytes as it carries (kernel memcpy).
    let twice = set(&[&VHID1, &nla(5, b"abcdef"), &nla(5, b"xy")]).unwrap();
    assert_eq!(twice.request.key, Some(key(b"xycdef")));
}

#[test]
fn ifname_without_nul_is_einval() {
    assert_eq!(set(&[&VHID1, &nla(9, b"em0")]), Err(Errno::EINVAL));
    assert_eq!(set(&[&VHID1, &nla(9, b"")]), Err(Errno::EINVAL));
    // Bytes after the first NUL are ignored (strnlen semantics).
    let cmd = set(&[&VHID1, &nla(9, b"em0\0junk")]).unwrap();
    assert_eq!(cmd.iface, IfSelector::Name(b"em0"));
}

#[test]
fn attribute_shorter_than_its_header_is_einval() {
    for nla_len in [0u16, 1, 2, 3] {
        let mut bad = nla_len.to_le_bytes().to_vec();
        bad.extend_from_slice(&[1, 0, 0, 0, 0, 0]); // type 1 + bytes so the padded length fits
        assert_eq!(
            set(&[&VHID1, &bad]),
            Err(Errno::EINVAL),
            "nla_len {nla_len}"
        );
    }
}

#[test]
fn attribute_running_past_the_end_is_silently_ignored() {
    // A STATE attribute claiming 12 bytes with only 8 present: the walk stops before it,
    // so its bogus value 7 is never seen.
    let truncated = [12u8, 0, 2, 0, 7, 0, 0, 0];
    let cmd = set(&[&VHID1, &truncated]).unwrap();
    assert_eq!(cmd.request.state, None);
    // Fewer than 4 trailing bytes cannot hold a header: ignored too.
    let cmd = set(&[&VHID1, &[9, 9]]).unwrap();
    assert_eq!(cmd.request, carp_req(1));
}

#[test]
fn nested_and_byteorder_flags_are_masked_off_the_type() {
    let flagged = [8u8, 0, 0x01, 0xc0, 9, 0, 0, 0]; // type 0xc001 = VHID with both flags
    assert_eq!(set(&[&flagged]).unwrap().request.vhid, 9);
}

#[test]
fn unknown_attribute_types_are_ignored() {
    let cmd = set(&[
        &VHID1,
        &nla(0, &[1, 2, 3]),
        &nla(13, &[0; 40]),
        &nla(0x3fff, &[]),
    ]);
    assert_eq!(cmd.unwrap().request, carp_req(1));
}

#[test]
fn later_attributes_overwrite_earlier_ones() {
    let cmd = set(&[&VHID1, &nla(1, &5u32.to_le_bytes())]).unwrap();
    assert_eq!(cmd.request.vhid, 5);
}

#[test]
fn attribute_errors_win_over_value_errors() {
    // vhid 0 would be EINVAL too, but the parser fails first on the bad KEY; both EINVAL,
    // and nothing is returned.
    assert_eq!(set(&[&nla(5, &[1; 21])]), Err(Errno::EINVAL));
}

#[test]
fn missing_genl_header_or_bad_nlmsg_len_is_einval() {
    // nlmsg_len 18: only 2 bytes of genlmsghdr.
    let mut m = msg(&[]);
    m[0] = 18;
    assert_eq!(netlink::decode_set(&m[..18]), Err(Errno::EINVAL));
    // nlmsg_len larger than the buffer, or smaller than the header.
    let mut m = EM0_VHID1_ADVSKEW100_PASS_TESTPASS;
    m[0] = 200;
    assert_eq!(netlink::decode_set(&m), Err(Errno::EINVAL));
    m[0] = 8;
    assert_eq!(netlink::decode_set(&m), Err(Errno::EINVAL));
    assert_eq!(netlink::decode_set(&[]), Err(Errno::EINVAL));
}

#[test]
fn nlmsg_len_bounds_the_attributes() {
    // Bytes after nlmsg_len belong to the next message and are not parsed.
    let mut m = msg(&[&VHID1]);
    m.extend_from_slice(&nla(2, &7u32.to_le_bytes()));
    assert_eq!(netlink::decode_set(&m).unwrap().request.state, None);
}

#[test]
fn version_reads_its_first_padding_byte_like_the_15_kernel() {
    // nlattr_get_uint8 stores a uint16_t: [2, 0x01] becomes version 0x0102 → EINVAL.
    let mut m = EM0_VHID1_ADVSKEW100_PASS_TESTPASS;
    m[VERSION_AT..VERSION_AT + 4].copy_from_slice(&[2, 1, 0, 0]);
    assert_eq!(netlink::decode_set(&m), Err(Errno::EINVAL));
    // The other padding bytes are never read.
    m[VERSION_AT..VERSION_AT + 4].copy_from_slice(&[2, 0, 0xff, 0xff]);
    assert_eq!(
        netlink::decode_set(&m).unwrap().request.version,
        Version::Carp
    );
}

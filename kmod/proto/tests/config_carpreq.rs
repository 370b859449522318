//! SIOCSVH / SIOCGVH with FreeBSD 15's 40-byte `struct carpreq`, the interface checks
//! of `carp_ioctl` / `carp_nl_*`, and `carp_attach`'s refusals.
//!
//! Byte layout (`netinet/ip_carp.h`, amd64, little-endian): int carpr_count @0,
//! carpr_vhid @4, carpr_state @8, carpr_advskew @12, carpr_advbase @16, u_char
//! carpr_key[20] @20. A WITHOUT_NETLINK 15 `ifconfig` (or any program built on 15)
//! fills it as `ifconfig em0 vhid 1 advskew 100 pass testpass` would: count 0 or 1,
//! vhid 1, state 0, advskew 100, advbase 0 (unchanged), key "testpass".

use carp_proto::config::carpreq::{self, CarpReq, CARPREQ_LEN, SIOCGVH, SIOCSVH};
use carp_proto::config::{
    attach_check, check_interface, check_privilege, Interface, Model, Op, AF_INET, AF_INET6,
    IFF_MULTICAST, IFF_UP, IFT_BRIDGE, IFT_ETHER, IFT_L2VLAN,
};
use carp_proto::{CarpState, Errno, SetRequest, Version, VhidStatus, CARP_GROUP_V4, CARP_GROUP_V6};

fn key(s: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..s.len()].copy_from_slice(s);
    k
}

#[rustfmt::skip]
const SET_VHID1_ADVSKEW100_TESTPASS: [u8; 40] = [
    0x01, 0x00, 0x00, 0x00,             // carpr_count 1
    0x01, 0x00, 0x00, 0x00,             // carpr_vhid 1
    0x00, 0x00, 0x00, 0x00,             // carpr_state 0 (INIT: no forcing)
    0x64, 0x00, 0x00, 0x00,             // carpr_advskew 100
    0x00, 0x00, 0x00, 0x00,             // carpr_advbase 0 (keep)
    b't', b'e', b's', b't', b'p', b'a', b's', b's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

#[test]
fn ioctl_numbers_are_amd64_iowr_ifreq() {
    // _IOWR('i', n, struct ifreq): IOC_INOUT 0xc0000000 | sizeof(ifreq)=32 << 16 | 'i' << 8 | n
    assert_eq!(
        SIOCSVH,
        0xc000_0000 | (32 << 16) | (u64::from(b'i') << 8) | 245
    );
    assert_eq!(
        SIOCGVH,
        0xc000_0000 | (32 << 16) | (u64::from(b'i') << 8) | 246
    );
}

#[test]
fn decode_reads_every_field_and_encode_round_trips() {
    let r = carpreq::decode(&SET_VHID1_ADVSKEW100_TESTPASS).unwrap();
    assert_eq!(
        r,
        CarpReq {
            count: 1,
            vhid: 1,
            state: 0,
            advskew: 100,
            advbase: 0,
            key: key(b"testpass")
        }
    );
    assert_eq!(r.encode(), SET_VHID1_ADVSKEW100_TESTPASS);
    // Only the first 40 bytes are a carpreq.
    let mut longer = SET_VHID1_ADVSKEW100_TESTPASS.to_vec();
    longer.extend_from_slice(&[0xff; 8]);
    assert_eq!(carpreq::decode(&longer), Ok(r));
}

#[test]
fn short_copyin_is_efault() {
    assert_eq!(
        carpreq::decode(&SET_VHID1_ADVSKEW100_TESTPASS[..39]),
        Err(Errno::EFAULT)
    );
    assert_eq!(carpreq::decode(&[]), Err(Errno::EFAULT));
    // The 9.x 36-byte layout is too short as well.
    assert_eq!(carpreq::decode(&[0u8; 36]), Err(Errno::EFAULT));
}

#[test]
fn set_decodes_to_a_carp_set_request() {
    let r = carpreq::decode(&SET_VHID1_ADVSKEW100_TESTPASS).unwrap();
    assert_eq!(
        carpreq::ioctl_set(&r, true),
        Ok(SetRequest {
            vhid: 1,
            state: None,
            advbase: None,
            advskew: Some(100),
            key: Some(key(b"testpass")),
            peer4: None,
            peer6: None,
            version: Version::Carp,
            vrrp_priority: None,
            vrrp_interval_cs: None,
        })
    );
}

#[test]
fn set_needs_privilege_before_anything_else() {
    let bad = CarpReq {
        vhid: 0,
        ..Default::default()
    };
    assert_eq!(carpreq::ioctl_set(&bad, false), Err(Errno::EPERM));
    assert_eq!(check_privilege(false), Err(Errno::EPERM));
    assert_eq!(check_privilege(true), Ok(()));
}

#[test]
fn set_value_checks_map_to_einval() {
    let ok = carpreq::decode(&SET_VHID1_ADVSKEW100_TESTPASS).unwrap();
    let cases: [(&str, CarpReq); 8] = [
        ("vhid 0", CarpReq { vhid: 0, ..ok }),
        ("vhid 256", CarpReq { vhid: 256, ..ok }),
        ("vhid -1", CarpReq { vhid: -1, ..ok }),
        ("advbase 256", CarpReq { advbase: 256, ..ok }),
        ("advbase -1", CarpReq { advbase: -1, ..ok }),
        ("advskew 255", CarpReq { advskew: 255, ..ok }),
        ("advskew -1", CarpReq { advskew: -1, ..ok }),
        (
            "advskew i32::MAX",
            CarpReq {
                advskew: i32::MAX,
                ..ok
            },
        ),
    ];
    for (what, r) in cases {
        assert_eq!(r.set_request(), Err(Errno::EINVAL), "{what}");
    }
    let edge = CarpReq {
        vhid: 255,
        advbase: 255,
        advskew: 254,
        ..ok
    }
    .set_request()
    .unwrap();
    assert_eq!(
        (edge.vhid, edge.advbase, edge.advskew),
        (255, Some(255), Some(254))
    );
}

#[test]
fn set_state_forcing_and_key_rules() {
    let ok = carpreq::decode(&SET_VHID1_ADVSKEW100_TESTPASS).unwrap();
    assert_eq!(
        CarpReq { state: 1, ..ok }.set_request().unwrap().state,
        Some(CarpState::Backup)
    );
    assert_eq!(
        CarpReq { state: 2, ..ok }.set_request().unwrap().state,
        Some(CarpState::Master)
    );
    // Out-of-range states are ignored by carp_ioctl_set (no error, no forcing).
    assert_eq!(
        CarpReq { state: 3, ..ok }.set_request().unwrap().state,
        None
    );
    assert_eq!(
        CarpReq { state: -5, ..ok }.set_request().unwrap().state,
        None
    );
    // A key whose first byte is NUL keeps the current key.
    let mut k = key(b"xsecret");
    k[0] = 0;
    assert_eq!(CarpReq { key: k, ..ok }.set_request().unwrap().key, None);
    // advskew is always applied, even 0 (carp_ioctl_set assigns it unconditionally).
    assert_eq!(
        CarpReq { advskew: 0, ..ok }.set_request().unwrap().advskew,
        Some(0)
    );
}

fn status(vhid: u8, state: CarpState) -> VhidStatus {
    VhidStatus {
        vhid,
        state,
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

#[test]
fn get_one_vhid_writes_one_record() {
    let all = [status(1, CarpState::Master), status(2, CarpState::Backup)];
    let req = CarpReq {
        count: 1,
        vhid: 2,
        ..Default::default()
    };
    let mut out = [0xaau8; 3 * CARPREQ_LEN];
    let n = carpreq::ioctl_get(&req, Some(&all), true, &mut out).unwrap();
    assert_eq!(n, CARPREQ_LEN);
    #[rustfmt::skip]
    let expected: [u8; 40] = [
        1, 0, 0, 0,         // carpr_count 1
        2, 0, 0, 0,         // carpr_vhid 2
        1, 0, 0, 0,         // carpr_state BACKUP
        100, 0, 0, 0,       // carpr_advskew
        1, 0, 0, 0,         // carpr_advbase
        b't', b'e', b's', b't', b'p', b'a', b's', b's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(out[..n], expected);
    assert!(out[n..].iter().all(|&b| b == 0xaa));
}

#[test]
fn get_all_vhids_fills_one_record_per_vhid_and_no_more() {
    // The 15 kernel copies out carpr_count * 40 bytes from a single on-stack record;
    // we write exactly one filled record per vhid.
    let all = [
        status(1, CarpState::Master),
        status(5, CarpState::Backup),
        status(9, CarpState::Init),
    ];
    let req = CarpReq {
        count: 255,
        vhid: 0,
        ..Default::default()
    };
    let mut out = vec![0xaau8; 255 * CARPREQ_LEN];
    let n = carpreq::ioctl_get(&req, Some(&all), true, &mut out).unwrap();
    assert_eq!(n, 3 * CARPREQ_LEN);
    let recs: Vec<CarpReq> = out[..n]
        .chunks(CARPREQ_LEN)
        .map(|c| carpreq::decode(c).unwrap())
        .collect();
    assert_eq!(
        recs.iter()
            .map(|r| (r.count, r.vhid, r.state))
            .collect::<Vec<_>>(),
        [(3, 1, 2), (3, 5, 1), (3, 9, 0)]
    );
    assert!(out[n..].iter().all(|&b| b == 0xaa));
}

#[test]
fn get_hides_the_key_from_unprivileged_readers() {
    let all = [status(1, CarpState::Master)];
    let req = CarpReq {
        count: 1,
        vhid: 1,
        ..Default::default()
    };
    let mut out = [0u8; CARPREQ_LEN];
    carpreq::ioctl_get(&req, Some(&all), false, &mut out).unwrap();
    assert_eq!(carpreq::decode(&out).unwrap().key, [0; 20]);
    assert_eq!(carpreq::decode(&out).unwrap().advskew, 100);
}

#[test]
fn get_errors_in_freebsd_order() {
    let all = [status(1, CarpState::Master), status(2, CarpState::Backup)];
    let mut out = [0u8; 255 * CARPREQ_LEN];
    let get = |vhid, count, all: Option<&[VhidStatus]>, out: &mut [u8]| {
        carpreq::ioctl_get(
            &CarpReq {
                count,
                vhid,
                ..Default::default()
            },
            all,
            true,
            out,
        )
    };
    // vhid range is checked before count ...
    assert_eq!(get(256, 0, Some(&all), &mut out), Err(Errno::EINVAL));
    assert_eq!(get(-1, 1, Some(&all), &mut out), Err(Errno::EINVAL));
    // ... count before the container ...
    assert_eq!(get(1, 0, None, &mut out), Err(Errno::EMSGSIZE));
    // ... container before the vhid.
    assert_eq!(get(1, 1, None, &mut out), Err(Errno::ENOENT));
    assert_eq!(get(3, 1, Some(&all), &mut out), Err(Errno::ENOENT));
    // More vhids than the caller has room for.
    assert_eq!(get(0, 1, Some(&all), &mut out), Err(Errno::EMSGSIZE));
    assert_eq!(get(0, 2, Some(&all), &mut out), Ok(80));
    // An output area smaller than the records is refused rather than overrun.
    assert_eq!(get(0, 2, Some(&all), &mut out[..79]), Err(Errno::EMSGSIZE));
}

#[test]
fn get_on_an_empty_container_reports_zero_records() {
    let mut out = [0xaau8; CARPREQ_LEN];
    let n = carpreq::ioctl_get(
        &CarpReq {
            count: 4,
            ..Default::default()
        },
        Some(&[]),
        true,
        &mut out,
    )
    .unwrap();
    assert_eq!(n, CARPREQ_LEN);
    assert_eq!(carpreq::decode(&out).unwrap(), CarpReq::default());
}

#[test]
fn get_of_a_vrrp_vhid_reports_state_and_vhid_only() {
    let v = VhidStatus {
        version: Version::Vrrp3,
        ..status(4, CarpState::Master)
    };
    let r = CarpReq::from_status(&v, 1, true);
    assert_eq!(
        r,
        CarpReq {
            count: 1,
            vhid: 4,
            state: 2,
            advskew: 0,
            advbase: 0,
            key: [0; 20]
        }
    );
}

#[test]
fn interface_checks_follow_carp_is_supported_if_then_multicast() {
    let eth = Interface {
        if_type: IFT_ETHER,
        if_flags: IFF_UP | IFF_MULTICAST,
        carp_clone: false,
    };
    for op in [Op::IoctlSet, Op::IoctlGet, Op::NetlinkSet, Op::NetlinkGet] {
        assert_eq!(check_interface(None, op), Err(Errno::ENXIO), "{op:?}");
        assert_eq!(check_interface(Some(eth), op), Ok(Model::Modern));
        for t in [IFT_L2VLAN, IFT_BRIDGE] {
            assert_eq!(
                check_interface(Some(Interface { if_type: t, ..eth }), op),
                Ok(Model::Modern)
            );
        }
        // lo0 (IFT_LOOP 0x18), gif (0xf0), tun (IFT_PROPVIRTUAL 0x35): EOPNOTSUPP
        for t in [0x18u8, 0xf0, 0x35] {
            assert_eq!(
                check_interface(Some(Interface { if_type: t, ..eth }), op),
                Err(Errno::EOPNOTSUPP)
            );
        }
    }
    let no_mcast = Interface {
        if_flags: IFF_UP,
        ..eth
    };
    assert_eq!(
        check_interface(Some(no_mcast), Op::IoctlSet),
        Err(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(
        check_interface(Some(no_mcast), Op::IoctlGet),
        Err(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(
        check_interface(Some(no_mcast), Op::NetlinkSet),
        Err(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(
        check_interface(Some(no_mcast), Op::NetlinkGet),
        Ok(Model::Modern)
    );
    // The type check comes first.
    let odd = Interface {
        if_type: 0x18,
        if_flags: 0,
        carp_clone: false,
    };
    assert_eq!(
        check_interface(Some(odd), Op::IoctlSet),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn our_carp_clones_are_accepted_as_legacy() {
    let carp0 = Interface {
        if_type: 0xf8,
        if_flags: IFF_UP,
        carp_clone: true,
    };
    for op in [Op::IoctlSet, Op::IoctlGet, Op::NetlinkSet, Op::NetlinkGet] {
        assert_eq!(check_interface(Some(carp0), op), Ok(Model::Legacy));
    }
}

#[test]
fn attach_refusals_in_carp_attach_order() {
    const AF_LINK: u8 = 18;
    assert_eq!(attach_check(AF_LINK, false, false), Err(Errno::EPROTOTYPE));
    assert_eq!(attach_check(AF_INET, false, false), Err(Errno::ENOPROTOOPT));
    assert_eq!(attach_check(AF_INET6, true, false), Err(Errno::ENOENT));
    assert_eq!(attach_check(AF_INET, true, true), Ok(()));
    assert_eq!(attach_check(AF_INET6, true, true), Ok(()));
}

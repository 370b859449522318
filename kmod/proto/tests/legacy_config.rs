//! Configuration aimed at a cloned `carpN`: SIOCSVH with the FreeBSD 15 `struct carpreq`
//! and 9.3 semantics (reference D.2), stock 15 `ifconfig`'s netlink SET naming `carp0`
//! (D.6), and the rule that one vhid number lives once per parent across both models.

use carp_proto::config::carpreq::{self, CarpReq};
use carp_proto::config::legacy::{self, CarpIf, CarpIfStatus, LegacyChange, ParentVhids};
use carp_proto::config::{netlink, GetQuery};
use carp_proto::{CarpState, Errno, SetRequest, Version};

fn key(s: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..s.len()].copy_from_slice(s);
    k
}

const FRESH: CarpIf<'static> = CarpIf {
    vhid: None,
    parent: None,
};

fn req(vhid: i32, advbase: i32, advskew: i32) -> CarpReq {
    CarpReq {
        count: 1,
        vhid,
        state: 0,
        advskew,
        advbase,
        key: key(b"testpass"),
    }
}

#[test]
fn fresh_carp0_takes_vhid_adv_and_key() {
    let ch = legacy::ioctl_set(&req(1, 1, 100), &FRESH, true).unwrap();
    assert_eq!(
        ch,
        LegacyChange {
            vhid: Some(1),
            renumber: true,
            state: None,
            advbase: Some(1),
            advskew: Some(100),
            key: Some(key(b"testpass")),
            version: Version::Carp,
            peer4: None,
            peer6: None,
            vrrp_priority: None,
            vrrp_interval_cs: None,
        }
    );
    let sr = ch.set_request().unwrap();
    assert_eq!((sr.vhid, sr.advbase, sr.advskew), (1, Some(1), Some(100)));
}

#[test]
fn unprivileged_set_is_eperm() {
    assert_eq!(
        legacy::ioctl_set(&req(1, 1, 0), &FRESH, false),
        Err(Errno::EPERM)
    );
}

#[test]
fn neither_vhid_nor_advertisement_values_is_einval() {
    assert_eq!(
        legacy::ioctl_set(&req(0, 0, 0), &FRESH, true),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        legacy::ioctl_set(&req(-1, -3, 0), &FRESH, true),
        Err(Errno::EINVAL)
    );
}

#[test]
fn vhid_above_255_is_einval() {
    assert_eq!(
        legacy::ioctl_set(&req(256, 0, 0), &FRESH, true),
        Err(Errno::EINVAL)
    );
}

#[test]
fn advertisement_values_out_of_range_are_einval() {
    assert_eq!(
        legacy::ioctl_set(&req(1, 1, 255), &FRESH, true),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        legacy::ioctl_set(&req(1, 256, 0), &FRESH, true),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        legacy::ioctl_set(&req(1, 2, -1), &FRESH, true),
        Err(Errno::EINVAL)
    );
}

#[test]
fn advskew_alone_keeps_advbase_and_the_vhid() {
    let cur = CarpIf {
        vhid: Some(3),
        parent: None,
    };
    let ch = legacy::ioctl_set(&req(0, 0, 50), &cur, true).unwrap();
    assert_eq!(
        (ch.vhid, ch.renumber, ch.advbase, ch.advskew),
        (Some(3), false, None, Some(50))
    );
}

#[test]
fn adv_without_a_vhid_is_accepted_but_has_no_table_request() {
    // 9.x let `ifconfig carp0 advskew 100` run before `vhid`; the values wait on carp0.
    let ch = legacy::ioctl_set(&req(0, 2, 0), &FRESH, true).unwrap();
    assert_eq!((ch.vhid, ch.advbase, ch.advskew), (None, Some(2), Some(0)));
    assert_eq!(ch.set_request(), None);
}

#[test]
fn key_is_always_replaced_even_by_zeros() {
    let r = CarpReq {
        key: [0; 20],
        ..req(1, 0, 0)
    };
    let cur = CarpIf {
        vhid: Some(1),
        parent: None,
    };
    assert_eq!(
        legacy::ioctl_set(&r, &cur, true).unwrap().key,
        Some([0; 20])
    );
}

#[test]
fn state_forcing_is_passed_on() {
    let cur = CarpIf {
        vhid: Some(1),
        parent: None,
    };
    let r = CarpReq {
        state: 2,
        ..req(1, 0, 0)
    };
    assert_eq!(
        legacy::ioctl_set(&r, &cur, true).unwrap().state,
        Some(CarpState::Master)
    );
    let r = CarpReq {
        state: 1,
        ..req(1, 0, 0)
    };
    assert_eq!(
        legacy::ioctl_set(&r, &cur, true).unwrap().state,
        Some(CarpState::Backup)
    );
}

#[test]
fn second_carp_with_the_same_vhid_on_the_parent_is_eexist() {
    let cur = CarpIf {
        vhid: Some(2),
        parent: Some(ParentVhids {
            siblings: &[1, 5],
            modern: &[],
        }),
    };
    assert_eq!(
        legacy::ioctl_set(&req(1, 0, 0), &cur, true),
        Err(Errno::EEXIST)
    );
    // Its own vhid again is fine; a free one renumbers.
    assert!(
        !legacy::ioctl_set(&req(2, 0, 0), &cur, true)
            .unwrap()
            .renumber
    );
    assert!(
        legacy::ioctl_set(&req(3, 0, 0), &cur, true)
            .unwrap()
            .renumber
    );
}

#[test]
fn carp_vhid_equal_to_a_modern_vhid_on_the_parent_is_eexist() {
    let cur = CarpIf {
        vhid: Some(2),
        parent: Some(ParentVhids {
            siblings: &[],
            modern: &[7],
        }),
    };
    assert_eq!(
        legacy::ioctl_set(&req(7, 0, 0), &cur, true),
        Err(Errno::EEXIST)
    );
    // And the other way round: a modern SET for a vhid a carpN on that parent uses.
    assert_eq!(legacy::check_modern_set(2, &[2]), Err(Errno::EEXIST));
    assert_eq!(legacy::check_modern_set(3, &[2]), Ok(()));
}

#[test]
fn refused_requests_change_nothing() {
    // 9.3 forced the state and copied the key before finding vhid 300 invalid; we return
    // only the error, so the glue has nothing to apply.
    let r = CarpReq {
        state: 2,
        ..req(300, 0, 0)
    };
    assert_eq!(
        legacy::ioctl_set(
            &r,
            &CarpIf {
                vhid: Some(1),
                parent: None
            },
            true
        ),
        Err(Errno::EINVAL)
    );
}

/// `ifconfig carp0 vhid 1 pass x` as stock 15 ifconfig sends it (see netlink_set.rs for
/// the byte-by-byte origin).
#[rustfmt::skip]
const CARP0_VHID1_PASS_X: [u8; 140] = [
    0x8c, 0x00, 0x00, 0x00, 0x17, 0x00, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x01, 0x00,  0x01, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x02, 0x00,  0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x03, 0x00,  0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x04, 0x00,  0x00, 0x00, 0x00, 0x00,
    0x0a, 0x00, 0x09, 0x00,  b'c', b'a', b'r', b'p', b'0', 0x00, 0x00, 0x00,
    0x08, 0x00, 0x07, 0x00,  0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x08, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x18, 0x00, 0x05, 0x00,
    b'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x05, 0x00, 0x0a, 0x00,  0x00, 0x00, 0x00, 0x00,
    0x05, 0x00, 0x0b, 0x00,  0x00, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x0c, 0x00,  0x00, 0x00, 0x00, 0x00,
];

#[test]
fn stock_netlink_set_on_carp0_gives_carp0_its_vhid() {
    let cmd = netlink::decode_set(&CARP0_VHID1_PASS_X).unwrap();
    assert_eq!(cmd.iface.name_str(), Some("carp0"));
    let ch = legacy::netlink_set(&cmd.request, &FRESH).unwrap();
    assert_eq!(
        (ch.vhid, ch.renumber, ch.key),
        (Some(1), true, Some(key(b"x")))
    );
    assert_eq!(ch.set_request(), Some(cmd.request));
}

#[test]
fn netlink_set_on_carp1_with_a_vhid_carp0_holds_on_the_same_parent_is_eexist() {
    let cmd = netlink::decode_set(&CARP0_VHID1_PASS_X).unwrap();
    let carp1 = CarpIf {
        vhid: Some(2),
        parent: Some(ParentVhids {
            siblings: &[1],
            modern: &[],
        }),
    };
    assert_eq!(
        legacy::netlink_set(&cmd.request, &carp1),
        Err(Errno::EEXIST)
    );
}

#[test]
fn address_add_binds_only_the_carps_own_vhid() {
    let parent = ParentVhids {
        siblings: &[4],
        modern: &[9],
    };
    assert_eq!(legacy::attach_check(1, Some(1), &parent), Ok(1));
    assert_eq!(
        legacy::attach_check(0, Some(1), &parent),
        Ok(1),
        "address without vhid keyword"
    );
    assert_eq!(
        legacy::attach_check(2, Some(1), &parent),
        Err(Errno::ENOENT)
    );
    assert_eq!(legacy::attach_check(1, None, &parent), Err(Errno::ENOENT));
    // The parent found by subnet already has vhid 4 on another carpN / 9 modern-style.
    assert_eq!(
        legacy::attach_check(4, Some(4), &parent),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        legacy::attach_check(0, Some(9), &parent),
        Err(Errno::EEXIST)
    );
}

#[test]
fn ioctl_get_on_carp_reports_its_single_vhid() {
    let st = CarpIfStatus {
        vhid: Some(1),
        state: CarpState::Master,
        advbase: 1,
        advskew: 100,
        key: key(b"x"),
    };
    let rec = carpreq::decode(&legacy::ioctl_get(&st, true)).unwrap();
    assert_eq!(
        rec,
        CarpReq {
            count: 1,
            vhid: 1,
            state: 2,
            advskew: 100,
            advbase: 1,
            key: key(b"x")
        }
    );
    let rec = carpreq::decode(&legacy::ioctl_get(&st, false)).unwrap();
    assert_eq!(rec.key, [0; 20]);
    // A fresh carpN reports vhid -1 (9.x) with the defaults.
    let rec = carpreq::decode(&legacy::ioctl_get(&CarpIfStatus::default(), true)).unwrap();
    assert_eq!(
        rec,
        CarpReq {
            count: 1,
            vhid: -1,
            state: 0,
            advskew: 0,
            advbase: 1,
            key: [0; 20]
        }
    );
}

#[test]
fn netlink_get_on_carp_reports_its_own_vhid_or_enoent() {
    let all = GetQuery {
        vhid: None,
        max: 255,
    };
    assert_eq!(legacy::get_select(&all, Some(3)), Ok(3));
    assert_eq!(legacy::get_select(&all, None), Err(Errno::ENOENT));
    assert_eq!(
        legacy::get_select(
            &GetQuery {
                vhid: Some(3),
                max: 255
            },
            Some(3)
        ),
        Ok(3)
    );
    assert_eq!(
        legacy::get_select(
            &GetQuery {
                vhid: Some(1),
                max: 255
            },
            Some(3)
        ),
        Ok(3),
        "ifconfig carp0 vhid 1 reads the record it renumbers"
    );
    assert_eq!(
        legacy::get_select(
            &GetQuery {
                vhid: Some(1),
                max: 255
            },
            None
        ),
        Err(Errno::ENOENT)
    );
}

#[test]
fn modern_set_request_is_unchanged_by_the_legacy_path() {
    // The same SetRequest fields flow through; only the vhid bookkeeping is added.
    let r = SetRequest {
        vhid: 4,
        state: Some(CarpState::Backup),
        advbase: Some(3),
        advskew: Some(10),
        key: None,
        peer4: None,
        peer6: None,
        version: Version::Vrrp3,
        vrrp_priority: Some(20),
        vrrp_interval_cs: Some(50),
    };
    let ch = legacy::netlink_set(
        &r,
        &CarpIf {
            vhid: Some(4),
            parent: None,
        },
    )
    .unwrap();
    assert!(!ch.renumber);
    assert_eq!(ch.set_request(), Some(r));
}

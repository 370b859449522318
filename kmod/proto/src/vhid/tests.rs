//! Unit tests of the vhid state machine, one behaviour each.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::demotion::DemotionReason;

const SEED: u64 = 0x1122_3344_5566_7788;
const SEC: u64 = 1_000_000;

fn at(us: u64) -> Instant {
    Instant::from_micros(us)
}

fn sys() -> Sysctls {
    Sysctls::default()
}

fn preempt() -> Sysctls {
    Sysctls { preempt: true, ..Sysctls::default() }
}

fn vip4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
}

fn vip6() -> IpAddr {
    IpAddr::V6("2001:db8::1".parse().unwrap())
}

fn carp(demotion: &Demotion) -> Vhid {
    Vhid::new(1, Version::Carp, IfName::new("em0"), demotion.clone(), SEED)
}

fn req(v: &Vhid) -> SetRequest {
    SetRequest {
        vhid: v.vhid(),
        state: None,
        advbase: None,
        advskew: None,
        key: None,
        peer4: None,
        peer6: None,
        version: v.version(),
        vrrp_priority: None,
        vrrp_interval_cs: None,
    }
}

/// A CARP vhid with one IPv4 address, BACKUP at t=0, all outputs drained.
fn backup() -> (Vhid, Demotion) {
    let d = Demotion::new();
    let mut v = carp(&d);
    v.add_address(at(0), vip4(), &sys()).unwrap();
    drain(&mut v);
    (v, d)
}

/// Same, then MASTER by master-down at t=3s, drained.
fn master() -> (Vhid, Demotion) {
    let (mut v, d) = backup();
    v.handle_timeout(at(3 * SEC), &sys());
    assert!(v.is_master());
    drain(&mut v);
    (v, d)
}

fn events(v: &mut Vhid) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = v.poll_event() {
        out.push(e.to_string());
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
enum Tx {
    Carp(CarpTransmit),
    Vrrp { family: Family, vrid: u8, priority: u8, interval: u16, naddrs: usize },
    Garp(Ipv4Addr),
    Na(Ipv6Addr),
}

fn transmits(v: &mut Vhid) -> Vec<Tx> {
    let mut out = Vec::new();
    while let Some(t) = v.poll_transmit() {
        out.push(match t {
            Transmit::Carp(c) => Tx::Carp(c),
            Transmit::Vrrp(x) => Tx::Vrrp {
                family: x.family,
                vrid: x.vrid,
                priority: x.priority,
                interval: x.max_adver_int_cs,
                naddrs: x.addresses.len(),
            },
            Transmit::GratuitousArp { addr, mac } => {
                assert_eq!(mac, virtual_mac(1));
                Tx::Garp(addr)
            }
            Transmit::NeighborAdvert { addr, mac } => {
                assert_eq!(mac, virtual_mac(1));
                Tx::Na(addr)
            }
        });
    }
    out
}

fn routes(v: &mut Vhid) -> Vec<RouteOp> {
    core::iter::from_fn(|| v.poll_route()).collect()
}

fn drain(v: &mut Vhid) {
    events(v);
    transmits(v);
    routes(v);
}

fn adv(advbase: u8, advskew: u8, counter: u64) -> CarpAdvert {
    CarpAdvert { family: Family::Inet, advbase, advskew, counter }
}

fn carp_tx(list: &[Tx]) -> Vec<CarpTransmit> {
    list.iter()
        .filter_map(|t| match t {
            Tx::Carp(c) => Some(*c),
            _ => None,
        })
        .collect()
}

#[test]
fn new_vhid_is_init_without_timers_or_outputs() {
    let d = Demotion::new();
    let mut v = carp(&d);
    assert_eq!(v.state(), CarpState::Init);
    assert_eq!(v.poll_timeout(), None);
    assert!(v.poll_event().is_none());
    assert!(v.poll_transmit().is_none());
    assert!(v.poll_route().is_none());
    let s = v.status();
    assert_eq!((s.advbase, s.advskew, s.key), (1, 0, [0; CARP_KEY_LEN]));
    assert_eq!((s.peer4, s.peer6), (CARP_GROUP_V4, CARP_GROUP_V6));
    assert_eq!((s.vrrp_priority, s.vrrp_interval_cs), (100, 100));
}

#[test]
fn first_address_moves_init_to_backup_and_arms_master_down() {
    let d = Demotion::new();
    let mut v = carp(&d);
    v.add_address(at(5), vip4(), &sys()).unwrap();
    assert_eq!(v.state(), CarpState::Backup);
    // INIT -> INIT ("hardware interface up") is not a change and is not reported.
    assert_eq!(events(&mut v), ["carp: 1@em0: INIT -> BACKUP (initialization complete)"]);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(5 + 3 * SEC)));
    assert_eq!(v.timer(Timer::MasterDown6), None);
    assert_eq!(v.timer(Timer::Advertise), None);
    assert!(transmits(&mut v).is_empty());
}

#[test]
fn ipv6_address_on_a_backup_has_the_kernels_routes_removed() {
    // in6_update_ifa installed the address's loopback route and neighbour entry before
    // carp_attach: a vhid that is not MASTER asks for them to go.
    let d = Demotion::new();
    let mut v = carp(&d);
    v.add_address(at(0), vip4(), &sys()).unwrap();
    drain(&mut v);
    assert_eq!(v.state(), CarpState::Backup);
    v.add_address(at(0), IpAddr::V6("2001:db8::100".parse().unwrap()), &sys()).unwrap();
    assert_eq!(routes(&mut v), [RouteOp::Delete]);
    assert!(!v.routes_installed());
    // A later MASTER adds them back.
    v.handle_timeout(at(3 * SEC), &sys());
    assert_eq!(v.state(), CarpState::Master);
    assert_eq!(routes(&mut v), [RouteOp::Add]);
}

#[test]
fn master_down_takeover_advertises_announces_and_adds_routes() {
    let (mut v, _d) = backup();
    v.add_address(at(0), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), &sys()).unwrap();
    drain(&mut v);
    v.handle_timeout(at(3 * SEC), &sys());
    assert_eq!(events(&mut v), ["carp: 1@em0: BACKUP -> MASTER (master timed out)"]);
    let tx = transmits(&mut v);
    assert_eq!(tx.len(), 3);
    let Tx::Carp(c) = &tx[0] else { panic!("advert first: {tx:?}") };
    assert_eq!(c.family, Family::Inet);
    assert_eq!(c.dst, IpAddr::V4(CARP_GROUP_V4));
    assert!(c.tag_virtual_mac());
    assert_eq!((c.vhid, c.advbase, c.advskew), (1, 1, 0));
    assert_eq!(c.counter, SEED, "the first advert carries the seed");
    assert!(v.verify(c.counter, &c.md));
    assert_eq!(tx[1], Tx::Garp(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(tx[2], Tx::Garp(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(routes(&mut v), [RouteOp::Add]);
    assert_eq!(v.timer(Timer::Advertise), Some(at(4 * SEC)));
    assert_eq!(v.timer(Timer::MasterDown4), None);
}

#[test]
fn master_advertises_every_advbase_plus_demoted_skew_with_incrementing_counter() {
    let d = Demotion::new();
    let mut v = carp(&d);
    let mut r = req(&v);
    r.advskew = Some(128);
    v.apply(at(0), &r, &sys()).unwrap();
    v.add_address(at(0), vip4(), &sys()).unwrap();
    // Master-down with the configured skew: 3 s + 128/256 s.
    assert_eq!(v.poll_timeout(), Some(at(3 * SEC + 500_000)));
    v.handle_timeout(at(3 * SEC + 500_000), &sys());
    drain(&mut v);
    // Takeover re-arms with the configured skew ...
    let t1 = v.poll_timeout().unwrap();
    assert_eq!(t1, at(5 * SEC));
    // ... later re-arms use the demoted skew.
    d.adjust(64, DemotionReason::Sysctl);
    v.handle_timeout(t1, &sys());
    let tx = carp_tx(&transmits(&mut v));
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].counter, SEED.wrapping_add(1));
    assert_eq!(tx[0].advskew, 192);
    assert_eq!(v.poll_timeout(), Some(at(5 * SEC + SEC + 750_000)));
    v.handle_timeout(v.poll_timeout().unwrap(), &sys());
    assert_eq!(carp_tx(&transmits(&mut v))[0].counter, SEED.wrapping_add(2));
}

#[test]
fn tie_goes_to_the_sender() {
    let (mut v, _d) = master();
    v.handle_carp_advert(at(4 * SEC), &adv(1, 0, 9), &sys());
    assert_eq!(v.state(), CarpState::Backup);
    assert_eq!(events(&mut v), ["carp: 1@em0: MASTER -> BACKUP (more frequent advertisement received)"]);
    assert_eq!(routes(&mut v), [RouteOp::Delete]);
    assert_eq!(v.timer(Timer::Advertise), None);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(7 * SEC)));
}

#[test]
fn master_ignores_a_slower_master() {
    let (mut v, _d) = master();
    v.handle_carp_advert(at(4 * SEC), &adv(1, 1, 9), &sys());
    v.handle_carp_advert(at(4 * SEC), &adv(2, 0, 9), &sys());
    assert!(v.is_master());
    assert!(events(&mut v).is_empty());
}

#[test]
fn master_yields_to_a_faster_master() {
    let (mut v, _d) = master();
    let mut r = req(&v);
    r.advskew = Some(100);
    v.apply(at(3 * SEC), &r, &sys()).unwrap();
    v.handle_carp_advert(at(4 * SEC), &adv(1, 99, 9), &sys());
    assert_eq!(v.state(), CarpState::Backup);
}

#[test]
fn backup_without_preempt_restarts_master_down_on_each_advert() {
    let (mut v, _d) = backup();
    v.handle_carp_advert(at(2 * SEC), &adv(1, 200, 1), &sys());
    assert_eq!(v.state(), CarpState::Backup);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(5 * SEC)));
    assert!(events(&mut v).is_empty());
}

#[test]
fn backup_with_preempt_takes_over_from_a_slower_master() {
    let (mut v, _d) = backup();
    v.handle_carp_advert(at(2 * SEC), &adv(1, 200, 1), &preempt());
    assert!(v.is_master());
    assert_eq!(events(&mut v), ["carp: 1@em0: BACKUP -> MASTER (preempting a slower master)"]);
    // Not from an equal one.
    let (mut v, _d) = backup();
    v.handle_carp_advert(at(2 * SEC), &adv(1, 0, 1), &preempt());
    assert_eq!(v.state(), CarpState::Backup);
}

#[test]
fn backup_takes_over_when_the_master_will_time_out() {
    let (mut v, _d) = backup();
    // (3*1 s, 0) < (4 s, 0): the master is bound to miss our master-down interval.
    v.handle_carp_advert(at(2 * SEC), &adv(4, 0, 1), &sys());
    assert!(v.is_master());
    assert_eq!(events(&mut v), ["carp: 1@em0: BACKUP -> MASTER (master will time out)"]);
    // (3 s, 0) == (3 s, 0) is not "less": stay BACKUP.
    let (mut v, _d) = backup();
    v.handle_carp_advert(at(2 * SEC), &adv(3, 0, 1), &sys());
    assert_eq!(v.state(), CarpState::Backup);
    // The comparison uses the microseconds of the skews: (3 s, 0) < (3 s, 1/256 s).
    let (mut v, _d) = backup();
    v.handle_carp_advert(at(2 * SEC), &adv(3, 1, 1), &sys());
    assert!(v.is_master());
}

#[test]
fn every_authenticated_advert_is_adopted_as_our_counter() {
    let (mut v, _d) = backup();
    v.handle_carp_advert(at(SEC), &adv(1, 0, 0xdead_beef_0000_0001), &sys());
    assert_eq!(v.counter(), 0xdead_beef_0000_0001);
    v.handle_timeout(at(4 * SEC + 1), &sys());
    let tx = carp_tx(&transmits(&mut v));
    assert_eq!(tx[0].counter, 0xdead_beef_0000_0002, "continues from the peer's counter");
    // Adopted in MASTER too.
    v.handle_carp_advert(at(5 * SEC), &adv(1, 200, 77), &sys());
    assert!(v.is_master());
    v.handle_demotion_change(at(5 * SEC));
    assert_eq!(carp_tx(&transmits(&mut v))[0].counter, 78);
    // And the counter wraps instead of overflowing.
    v.handle_carp_advert(at(5 * SEC), &adv(1, 200, u64::MAX), &sys());
    v.handle_demotion_change(at(5 * SEC));
    assert_eq!(carp_tx(&transmits(&mut v))[0].counter, 0);
}

#[test]
fn our_comparison_value_uses_the_demoted_skew() {
    let (mut v, d) = master();
    d.adjust(200, DemotionReason::Sysctl);
    // L = (1 s, 200/256) > R = (1 s, 100/256): yield.
    v.handle_carp_advert(at(4 * SEC), &adv(1, 100, 1), &sys());
    assert_eq!(v.state(), CarpState::Backup);
    // The master-down interval still uses the configured skew (0).
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(7 * SEC)));
}

#[test]
fn negative_demotion_clamps_the_advertised_skew_at_zero() {
    let (mut v, d) = master();
    d.adjust(-1, DemotionReason::Sysctl);
    v.handle_demotion_change(at(4 * SEC));
    let tx = carp_tx(&transmits(&mut v));
    assert_eq!(tx[0].advskew, 0);
    assert_eq!(v.effective_advskew(), 0);
}

#[test]
fn advertised_skew_is_clamped_to_240() {
    let (mut v, d) = master();
    let mut r = req(&v);
    r.advskew = Some(254);
    v.apply(at(3 * SEC), &r, &sys()).unwrap();
    v.handle_demotion_change(at(4 * SEC));
    assert_eq!(carp_tx(&transmits(&mut v))[0].advskew, 240);
    d.adjust(1000, DemotionReason::Sysctl);
    v.handle_demotion_change(at(4 * SEC));
    assert_eq!(carp_tx(&transmits(&mut v))[0].advskew, 240);
    // While the master-down interval uses the raw configured 254.
    assert_eq!(v.master_down_interval(), core::time::Duration::from_micros(3 * SEC + 992_187));
}

#[test]
fn demotion_change_makes_a_master_advertise_at_once_and_rearm() {
    let (mut v, d) = master();
    d.adjust(100, DemotionReason::Sysctl);
    v.handle_demotion_change(at(3 * SEC + 200_000));
    assert_eq!(carp_tx(&transmits(&mut v)).len(), 1);
    assert_eq!(v.timer(Timer::Advertise), Some(at(4 * SEC + 200_000 + 390_625)));
    // A BACKUP does nothing.
    let (mut b, _d) = backup();
    b.handle_demotion_change(at(1));
    assert!(transmits(&mut b).is_empty());
}

#[test]
fn link_down_forces_init_with_one_ifdown_demotion() {
    let (mut v, d) = master();
    v.handle_parent(at(4 * SEC), true, false, &sys());
    assert_eq!(v.state(), CarpState::Init);
    assert_eq!(
        events(&mut v),
        ["carp: 1@em0: MASTER -> INIT (hardware interface down)", "carp: demoted by 240 to 240 (interface down)"]
    );
    assert_eq!(routes(&mut v), [RouteOp::Delete]);
    assert_eq!(v.poll_timeout(), None);
    assert!(v.is_suppressed());
    assert_eq!(d.value(), 240);
    // IFF_UP going down too does not demote twice.
    v.handle_parent(at(5 * SEC), false, false, &sys());
    assert_eq!(d.value(), 240);
    assert!(events(&mut v).is_empty());
    // Back up: BACKUP, demotion undone.
    v.handle_parent(at(6 * SEC), true, true, &sys());
    assert_eq!(
        events(&mut v),
        ["carp: 1@em0: INIT -> BACKUP (initialization complete)", "carp: demoted by -240 to 0 (interface up)"]
    );
    assert_eq!(d.value(), 0);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(9 * SEC)));
}

#[test]
fn ifdown_factor_is_read_when_demoting() {
    let (mut v, d) = backup();
    let s = Sysctls { ifdown_demotion_factor: 17, ..Sysctls::default() };
    v.handle_parent(at(1), false, true, &s);
    assert_eq!(d.value(), 17);
    // Undo is exact even if the factor changed meanwhile.
    v.handle_parent(at(2), true, true, &sys());
    assert_eq!(d.value(), 0);
}

#[test]
fn allow_off_forces_init_and_on_restarts() {
    let (mut v, d) = master();
    let off = Sysctls { allow: false, ..Sysctls::default() };
    v.handle_allow(at(4 * SEC), &off);
    assert_eq!(v.state(), CarpState::Init);
    assert_eq!(d.value(), 240);
    // Adverts received while INIT are ignored (apart from the counter).
    v.handle_carp_advert(at(4 * SEC), &adv(1, 200, 5), &off);
    assert_eq!(v.state(), CarpState::Init);
    v.handle_allow(at(5 * SEC), &sys());
    assert_eq!(v.state(), CarpState::Backup);
    assert_eq!(d.value(), 0);
}

#[test]
fn address_attached_on_a_down_parent_demotes() {
    let d = Demotion::new();
    let mut v = carp(&d);
    v.set_parent_flags(true, false);
    v.add_address(at(0), vip4(), &sys()).unwrap();
    assert_eq!(v.state(), CarpState::Init);
    assert_eq!(events(&mut v), ["carp: demoted by 240 to 240 (interface down)"]);
}

#[test]
fn adding_an_address_bounces_a_master_through_init_to_backup() {
    let (mut v, _d) = master();
    v.add_address(at(4 * SEC), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), &sys()).unwrap();
    assert_eq!(
        events(&mut v),
        [
            "carp: 1@em0: MASTER -> INIT (hardware interface up)",
            "carp: 1@em0: INIT -> BACKUP (initialization complete)"
        ]
    );
    assert_eq!(routes(&mut v), [RouteOp::Delete]);
    assert_eq!(v.timer(Timer::Advertise), None);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(7 * SEC)));
}

#[test]
fn removing_the_last_address_leaves_init() {
    let (mut v, _d) = master();
    assert!(!v.remove_address(at(4 * SEC), &vip6(), &sys()));
    assert!(v.remove_address(at(4 * SEC), &vip4(), &sys()));
    assert_eq!(v.state(), CarpState::Init);
    assert_eq!(v.poll_timeout(), None);
    assert_eq!(events(&mut v), ["carp: 1@em0: MASTER -> INIT (hardware interface up)"]);
}

#[test]
fn hmac_covers_the_address_list() {
    let (mut v, _d) = backup();
    let md_one = Authenticator::new(&[0; 20], 1, &[Ipv4Addr::new(192, 0, 2, 1)], &[]).sign(5);
    assert!(v.verify(5, &md_one));
    v.add_address(at(0), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), &sys()).unwrap();
    assert!(!v.verify(5, &md_one), "recomputed on attach");
    let mut r = req(&v);
    r.key = Some(*b"foobar\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    v.apply(at(0), &r, &sys()).unwrap();
    let md = Authenticator::new(r.key.as_ref().unwrap(), 1, &[Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 1)], &[])
        .sign(5);
    assert!(v.verify(5, &md), "recomputed on key change");
}

#[test]
fn state_forcing_follows_ifconfig_state() {
    // carp.sh "switch": advskew 100, then state backup, then state master.
    let d = Demotion::new();
    let mut v = carp(&d);
    let mut r = req(&v);
    r.advskew = Some(100);
    r.state = Some(CarpState::Master);
    v.apply(at(0), &r, &sys()).unwrap();
    assert_eq!(v.state(), CarpState::Init, "no forcing out of INIT");
    v.add_address(at(0), vip4(), &sys()).unwrap();
    drain(&mut v);

    let mut r = req(&v);
    r.state = Some(CarpState::Backup);
    v.apply(at(1), &r, &sys()).unwrap();
    assert!(events(&mut v).is_empty(), "already BACKUP");

    r.state = Some(CarpState::Master);
    v.apply(at(1), &r, &sys()).unwrap();
    assert_eq!(events(&mut v), ["carp: 1@em0: BACKUP -> MASTER (user requested via ifconfig)"]);
    assert_eq!(carp_tx(&transmits(&mut v)).len(), 1);
    assert_eq!(routes(&mut v), [RouteOp::Add]);

    r.state = Some(CarpState::Backup);
    v.apply(at(2), &r, &sys()).unwrap();
    assert_eq!(events(&mut v), ["carp: 1@em0: MASTER -> BACKUP (user requested via ifconfig)"]);
    assert_eq!(routes(&mut v), [RouteOp::Delete]);
    assert_eq!(v.timer(Timer::Advertise), None);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(2 + 3 * SEC + 390_625)));

    r.state = Some(CarpState::Init);
    v.apply(at(3), &r, &sys()).unwrap();
    assert_eq!(v.state(), CarpState::Backup, "INIT cannot be forced");
}

#[test]
fn apply_rejects_the_other_version_without_change() {
    let (mut v, _d) = backup();
    let mut r = req(&v);
    r.version = Version::Vrrp3;
    r.vrrp_priority = Some(1);
    r.state = Some(CarpState::Master);
    assert_eq!(v.apply(at(0), &r, &sys()), Err(Errno::EINVAL));
    assert_eq!(v.state(), CarpState::Backup);
    assert_eq!(v.vrrp_priority(), 100);
}

#[test]
fn three_send_errors_demote_and_three_successes_undo() {
    let (mut v, d) = master();
    let mut stats = CarpStats::default();
    let s = sys();
    v.handle_send_result(Family::Inet, SendResult::Error(55), &s, &mut stats);
    v.handle_send_result(Family::Inet, SendResult::Error(55), &s, &mut stats);
    assert_eq!(d.value(), 0);
    v.handle_send_result(Family::Inet6, SendResult::Error(65), &s, &mut stats);
    assert_eq!(d.value(), 240);
    assert!(v.in_send_error());
    assert_eq!(events(&mut v), ["carp: demoted by 240 to 240 (send error 65 on em0)"]);
    v.handle_send_result(Family::Inet, SendResult::Error(55), &s, &mut stats);
    assert_eq!(d.value(), 240, "demoted once");
    v.handle_send_result(Family::Inet, SendResult::Sent, &s, &mut stats);
    v.handle_send_result(Family::Inet, SendResult::Sent, &s, &mut stats);
    v.handle_send_result(Family::Inet, SendResult::Error(55), &s, &mut stats);
    v.handle_send_result(Family::Inet, SendResult::Sent, &s, &mut stats);
    v.handle_send_result(Family::Inet, SendResult::Sent, &s, &mut stats);
    assert_eq!(d.value(), 240, "an error resets the success count");
    v.handle_send_result(Family::Inet, SendResult::Sent, &s, &mut stats);
    assert_eq!(d.value(), 0);
    assert_eq!(events(&mut v), ["carp: demoted by -240 to 0 (send ok on em0)"]);
    v.handle_send_result(Family::Inet, SendResult::NoMemory, &s, &mut stats);
    assert_eq!(stats.get(Stat::OPackets), 9);
    assert_eq!(stats.get(Stat::OPackets6), 1);
    assert_eq!(stats.get(Stat::ONoMem), 1);
}

#[test]
fn shutdown_releases_both_demotions() {
    let (mut v, d) = master();
    let mut stats = CarpStats::default();
    for _ in 0..3 {
        v.handle_send_result(Family::Inet, SendResult::Error(50), &sys(), &mut stats);
    }
    v.handle_parent(at(5 * SEC), true, false, &sys());
    assert_eq!(d.value(), 480);
    assert_eq!(d.suppress_preempt(), 2);
    drain(&mut v);
    v.shutdown();
    assert_eq!(d.value(), 0);
    assert_eq!(d.suppress_preempt(), 0);
    assert_eq!(
        events(&mut v),
        ["carp: demoted by -240 to 240 (vhid removed)", "carp: demoted by -240 to 0 (vhid removed)"]
    );
}

#[test]
fn dropping_a_vhid_cannot_leak_demotion() {
    let (mut v, d) = backup();
    v.handle_parent(at(1), false, false, &sys());
    assert_eq!(d.value(), 240);
    drop(v);
    assert_eq!(d.value(), 0);
}

#[test]
fn unicast_peer_is_the_destination_and_is_not_tagged() {
    let (mut v, _d) = backup();
    let mut r = req(&v);
    // x.x.x.224 is multicast-looking only in the wrong byte order (PR 284872).
    r.peer4 = Some(Ipv4Addr::new(198, 51, 100, 224));
    v.apply(at(0), &r, &sys()).unwrap();
    assert!(!v.advert_dst_is_multicast(Family::Inet));
    assert!(v.advert_dst_is_multicast(Family::Inet6));
    v.handle_timeout(at(3 * SEC), &sys());
    let tx = carp_tx(&transmits(&mut v));
    assert_eq!(tx[0].dst, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 224)));
    assert!(!tx[0].tag_virtual_mac());
    // Restoring the group (`mcast`) re-enables tagging and the TTL check.
    r.peer4 = Some(CARP_GROUP_V4);
    v.apply(at(0), &r, &sys()).unwrap();
    assert!(v.advert_dst_is_multicast(Family::Inet));
}

#[test]
fn ipv6_vhid_uses_its_own_master_down_timer_and_sends_nas() {
    let d = Demotion::new();
    let mut v = carp(&d);
    v.add_address(at(0), vip6(), &sys()).unwrap();
    assert_eq!(v.timer(Timer::MasterDown4), None);
    assert_eq!(v.timer(Timer::MasterDown6), Some(at(3 * SEC)));
    drain(&mut v);
    v.handle_timeout(at(3 * SEC), &sys());
    let tx = transmits(&mut v);
    let Tx::Carp(c) = &tx[0] else { panic!("{tx:?}") };
    assert_eq!(c.family, Family::Inet6);
    assert_eq!(c.dst, IpAddr::V6(CARP_GROUP_V6));
    assert_eq!(tx[1], Tx::Na("2001:db8::1".parse().unwrap()));
    assert_eq!(tx.len(), 2);
}

#[test]
fn dual_family_takeover_order_and_counters() {
    let d = Demotion::new();
    let mut v = carp(&d);
    v.add_address(at(0), vip6(), &sys()).unwrap();
    v.add_address(at(0), vip4(), &sys()).unwrap();
    drain(&mut v);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(3 * SEC)));
    assert_eq!(v.timer(Timer::MasterDown6), Some(at(3 * SEC)));
    // An IPv6 advert restarts only the IPv6 timer.
    v.handle_carp_advert(at(SEC), &CarpAdvert { family: Family::Inet6, advbase: 1, advskew: 0, counter: 10 }, &sys());
    assert_eq!(v.timer(Timer::MasterDown6), Some(at(4 * SEC)));
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(3 * SEC)));
    v.handle_timeout(at(3 * SEC), &sys());
    let tx = transmits(&mut v);
    let counters: Vec<(Family, u64)> = carp_tx(&tx).iter().map(|c| (c.family, c.counter)).collect();
    assert_eq!(counters, [(Family::Inet, 11), (Family::Inet6, 12)]);
    assert_eq!(&tx[2..], [Tx::Garp(Ipv4Addr::new(192, 0, 2, 1)), Tx::Na("2001:db8::1".parse().unwrap())]);
    assert_eq!(v.timer(Timer::MasterDown6), None, "the other family's timer is stopped too");
}

#[test]
fn leaving_master_cancels_a_pending_announcement() {
    let (mut v, _d) = backup();
    v.handle_timeout(at(3 * SEC), &sys());
    v.handle_carp_advert(at(3 * SEC), &adv(1, 0, 1), &sys());
    let tx = transmits(&mut v);
    assert_eq!(carp_tx(&tx).len(), 1, "the takeover advert was already sent");
    assert!(!tx.iter().any(|t| matches!(t, Tx::Garp(_))));
    // Routes: added then removed before the caller looked: nothing to do.
    assert!(routes(&mut v).is_empty());
}

fn vrrp(prio: u8) -> (Vhid, Demotion) {
    let d = Demotion::new();
    let mut v = Vhid::new(1, Version::Vrrp3, IfName::new("em0"), d.clone(), SEED);
    let mut r = req(&v);
    r.vrrp_priority = Some(prio);
    v.apply(at(0), &r, &sys()).unwrap();
    v.add_address(at(0), vip4(), &sys()).unwrap();
    drain(&mut v);
    (v, d)
}

fn vadv(priority: u8, max_adver_int: u16) -> VrrpAdvert {
    VrrpAdvert { family: Family::Inet, priority, max_adver_int }
}

#[test]
fn vrrp_timers_follow_rfc9568_exactly() {
    let (mut v, _d) = vrrp(100);
    // 3*100 + (256-100)*100/256 = 300 + 60.9375 cs (exact, in microseconds).
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(3_609_375)));
    v.handle_timeout(at(3_609_375), &sys());
    let tx = transmits(&mut v);
    assert_eq!(
        tx[0],
        Tx::Vrrp { family: Family::Inet, vrid: 1, priority: 100, interval: 100, naddrs: 1 }
    );
    assert_eq!(tx[1], Tx::Garp(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(v.poll_timeout(), Some(at(4_609_375)));
    v.handle_timeout(at(4_609_375), &sys());
    assert_eq!(transmits(&mut v).len(), 1);
    assert_eq!(v.poll_timeout(), Some(at(5_609_375)));
}

#[test]
fn vrrp_backup_starts_from_the_configured_interval() {
    // A router configured for 1 cs must not wait the 3.x s of the 100 cs default
    // (RFC 9568 6.4.1: Master_Adver_Interval = Advertisement_Interval on start-up).
    let d = Demotion::new();
    let mut v = Vhid::new(1, Version::Vrrp3, IfName::new("em0"), d, SEED);
    let mut r = req(&v);
    r.vrrp_priority = Some(100);
    r.vrrp_interval_cs = Some(1);
    v.apply(at(0), &r, &sys()).unwrap();
    v.add_address(at(0), vip4(), &sys()).unwrap();
    assert_eq!(v.vrrp_master_interval_cs(), 1);
    // 3*1 cs + (256-100)*1/256 cs = 30 ms + 6.09375 ms (FreeBSD truncates to 30 ms).
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(36_093)));
}

#[test]
fn vrrp_demotion_does_not_apply() {
    let (mut v, d) = vrrp(100);
    d.adjust(240, DemotionReason::Sysctl);
    v.handle_timeout(at(3_609_375), &sys());
    assert_eq!(transmits(&mut v)[0], Tx::Vrrp { family: Family::Inet, vrid: 1, priority: 100, interval: 100, naddrs: 1 });
    assert_eq!(v.poll_timeout(), Some(at(4_609_375)));
}

#[test]
fn vrrp_master_yields_to_higher_priority_or_shorter_interval() {
    let (mut v, _d) = vrrp(100);
    v.handle_timeout(at(3_609_375), &sys());
    drain(&mut v);
    v.handle_vrrp_advert(at(4_000_000), &vadv(100, 100), &sys());
    assert!(v.is_master(), "equal priority and interval: no change");
    v.handle_vrrp_advert(at(4_000_000), &vadv(50, 200), &sys());
    assert!(v.is_master());
    v.handle_vrrp_advert(at(4_000_000), &vadv(101, 100), &sys());
    assert_eq!(v.state(), CarpState::Backup);
    assert_eq!(events(&mut v), ["carp: 1@em0: MASTER -> BACKUP (more frequent advertisement received)"]);
    // The peer's interval became the master interval: 300 + 60.9375 cs from now.
    assert_eq!(v.vrrp_master_interval_cs(), 100);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(7_609_375)));

    let (mut v, _d) = vrrp(100);
    v.handle_timeout(at(3_609_375), &sys());
    v.handle_vrrp_advert(at(4_000_000), &vadv(1, 99), &sys());
    assert_eq!(v.state(), CarpState::Backup);
}

#[test]
fn vrrp_backup_learns_the_master_interval() {
    let (mut v, _d) = vrrp(200);
    v.handle_vrrp_advert(at(1_000_000), &vadv(100, 200), &sys());
    assert_eq!(v.vrrp_master_interval_cs(), 200);
    // 3*200 + (256-200)*200/256 = 600 + 43.75 cs.
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(1_000_000 + 6_437_500)));
    assert_eq!(v.state(), CarpState::Backup, "no preempt");
    v.handle_vrrp_advert(at(2_000_000), &vadv(100, 200), &preempt());
    assert!(v.is_master());
    assert_eq!(events(&mut v), ["carp: 1@em0: BACKUP -> MASTER (preempting a slower master)"]);
}

#[test]
fn vrrp_priority_255_ignores_peers() {
    let (mut v, _d) = vrrp(255);
    // 3*100 + (256-255)*100/256 cs = 3.00390625 s.
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(3_003_906)));
    v.handle_timeout(at(3_003_906), &sys());
    assert!(v.is_master());
    v.handle_vrrp_advert(at(4_000_000), &vadv(255, 1), &sys());
    assert!(v.is_master());
    assert_eq!(v.vrrp_master_interval_cs(), 100, "not even the interval is stored");
}

#[test]
fn vrrp_and_carp_ignore_each_others_adverts() {
    let (mut v, _d) = vrrp(100);
    v.handle_carp_advert(at(1), &adv(1, 0, 1), &sys());
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(3_609_375)));
    let (mut c, _d) = backup();
    c.handle_vrrp_advert(at(1), &vadv(255, 1), &sys());
    assert_eq!(c.timer(Timer::MasterDown4), Some(at(3 * SEC)));
}

#[test]
fn vrrp_v6_adverts_go_to_the_group_with_the_virtual_mac() {
    let d = Demotion::new();
    let mut v = Vhid::new(7, Version::Vrrp3, IfName::new("em0"), d, SEED);
    v.add_address(at(0), vip6(), &sys()).unwrap();
    v.handle_timeout(at(3_609_375), &sys());
    match v.poll_transmit() {
        Some(Transmit::Vrrp(t)) => {
            assert_eq!(t.dst(), IpAddr::V6(CARP_GROUP_V6));
            assert!(t.tag_virtual_mac());
            assert_eq!(t.virtual_mac(), [0, 0, 0x5e, 0, 1, 7]);
            assert_eq!(t.addresses, VrrpAddresses::V6(&["2001:db8::1".parse::<Ipv6Addr>().unwrap()]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn status_reports_configuration() {
    let (mut v, _d) = master();
    let mut r = req(&v);
    r.advbase = Some(2);
    r.advskew = Some(7);
    r.key = Some([1; CARP_KEY_LEN]);
    r.peer6 = Some("fe80::2".parse().unwrap());
    v.apply(at(4 * SEC), &r, &sys()).unwrap();
    let s = v.status();
    assert_eq!(s.state, CarpState::Master);
    assert_eq!((s.vhid, s.advbase, s.advskew, s.key), (1, 2, 7, [1; CARP_KEY_LEN]));
    assert_eq!(s.peer6, "fe80::2".parse::<Ipv6Addr>().unwrap());
    assert_eq!(s.version, Version::Carp);
}

#[test]
fn undrained_events_are_counted_not_panicking() {
    let (mut v, _d) = backup();
    for i in 0..10u64 {
        v.handle_parent(at(i), i % 2 == 0, true, &sys());
    }
    assert!(v.lost_events() > 0);
    assert!(events(&mut v).len() <= EVENT_CAPACITY);
}

#[test]
fn per_vhid_state_is_small() {
    // The bench prints the exact figure; keep a generous guard here.
    assert!(core::mem::size_of::<Vhid>() <= 512, "{}", core::mem::size_of::<Vhid>());
}

#[test]
fn display_of_events_is_the_log_line() {
    let (mut v, _d) = backup();
    v.handle_parent(at(1), true, false, &sys());
    let e = v.poll_event().unwrap();
    let Event::StateChanged(c) = e else { panic!() };
    assert_eq!(c.devd().to_string(), "system=CARP subsystem=1@em0 type=INIT");
    assert!(e.should_log(1) && !e.should_log(0));
    let e = v.poll_event().unwrap();
    assert!(matches!(e, Event::DemotionChanged(_)));
}


#[test]
fn legacy_handoff_advertises_255_255_once_per_family() {
    let d = Demotion::new();
    let mut v = carp(&d);
    v.add_address(at(0), vip4(), &sys()).unwrap();
    v.add_address(at(0), vip6(), &sys()).unwrap();
    assert!(!v.queue_handoff(), "only a MASTER hands off");
    v.handle_timeout(at(3 * SEC), &sys());
    drain(&mut v);
    assert!(v.queue_handoff());
    let tx = carp_tx(&transmits(&mut v));
    assert_eq!(tx.len(), 2);
    assert!(tx.iter().all(|c| c.advbase == 255 && c.advskew == 255 && v.verify(c.counter, &c.md)));
    assert_eq!(tx[1].counter, tx[0].counter.wrapping_add(1));
    // The next regular advert is normal again, even if the caller stopped polling right
    // after the last hand-off advert.
    assert!(v.queue_handoff());
    assert!(v.poll_transmit().is_some());
    assert!(v.poll_transmit().is_some());
    v.handle_demotion_change(at(4 * SEC));
    let tx = carp_tx(&transmits(&mut v));
    assert!(tx.iter().all(|c| c.advbase == 1 && c.advskew == 0));
    // A backup receiving the hand-off takes over at once.
    let (mut b, _d) = backup();
    b.handle_carp_advert(at(1), &adv(255, 255, 1), &sys());
    assert_eq!(events(&mut b), ["carp: 1@em0: BACKUP -> MASTER (master will time out)"]);
}

#[test]
fn legacy_carp_down_as_master_hands_off_then_goes_init_without_demotion() {
    let (mut v, d) = master();
    v.handle_admin(at(5 * SEC), false, &sys());
    assert_eq!(v.state(), CarpState::Init);
    assert!(!v.is_admin_up());
    assert_eq!(events(&mut v), ["carp: 1@em0: MASTER -> INIT (user requested via ifconfig)"]);
    let tx = carp_tx(&transmits(&mut v));
    assert_eq!(tx.len(), 1, "one hand-off advert for the one family");
    assert_eq!((tx[0].advbase, tx[0].advskew), (255, 255));
    assert_eq!(routes(&mut v), [RouteOp::Delete]);
    assert_eq!(v.poll_timeout(), None, "INIT runs no timer");
    assert_eq!(d.value(), 0, "an administrative down is not a fault");
    assert_eq!(d.suppress_preempt(), 0);
    // Repeating "down" does nothing; address changes keep it down.
    v.handle_admin(at(6 * SEC), false, &sys());
    v.add_address(at(6 * SEC), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), &sys()).unwrap();
    assert_eq!(v.state(), CarpState::Init);
    assert_eq!(v.poll_timeout(), None);
}

#[test]
fn legacy_carp_up_runs_the_election_again() {
    let (mut v, _d) = master();
    v.handle_admin(at(5 * SEC), false, &sys());
    drain(&mut v);
    v.handle_admin(at(7 * SEC), true, &sys());
    assert_eq!(events(&mut v), ["carp: 1@em0: INIT -> BACKUP (initialization complete)"]);
    assert_eq!(v.timer(Timer::MasterDown4), Some(at(10 * SEC)));
    v.handle_timeout(at(10 * SEC), &sys());
    assert!(v.is_master());
}

#[test]
fn legacy_carp_down_as_backup_sends_nothing() {
    let (mut v, _d) = backup();
    v.handle_admin(at(SEC), false, &sys());
    assert_eq!(v.state(), CarpState::Init);
    assert!(transmits(&mut v).is_empty());
}

#[test]
fn legacy_link_state_follows_the_carp_state() {
    use crate::types::LinkState;
    assert_eq!(CarpState::Master.legacy_link_state(), LinkState::Up);
    assert_eq!(CarpState::Backup.legacy_link_state(), LinkState::Down);
    assert_eq!(CarpState::Init.legacy_link_state(), LinkState::Unknown);
}

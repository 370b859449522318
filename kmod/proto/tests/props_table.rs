//! Property: any sequence of configuration, link, sysctl, timer, advertisement and send
//! events applied to a vhid table never panics and keeps the table's invariants:
//! sorted O(1) index, address counts, demotion accounting (no leak: the accumulator is
//! exactly the sysctl writes plus the live paired sources), state/timer consistency, and
//! routes that follow the MASTER state.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use carp_proto::demotion::{Demotion, DemotionReason};
use carp_proto::timer::Timer;
use carp_proto::vhid::{CarpAdvert, IfName, RouteOp, SendResult, VrrpAdvert};
use carp_proto::{CarpState, CarpStats, Family, Instant, SetRequest, Sysctls, Version, CARP_KEY_LEN};

#[derive(Clone, Debug)]
enum Op {
    Set { vhid: u8, vrrp: bool, state: Option<u8>, advbase: Option<u8>, advskew: Option<u8>, key: Option<u8>, prio: Option<u8>, inter: Option<u16> },
    Attach { vhid: u8, addr: u8 },
    Detach { vhid: u8, addr: u8, keep: bool },
    Remove { vhid: u8 },
    Renumber { old: u8, new: u8 },
    Parent { iff_up: bool, link_up: bool },
    Allow(bool),
    Preempt(bool),
    Advance(u32),
    Carp { vhid: u8, v6: bool, advbase: u8, advskew: u8, counter: u64 },
    Vrrp { vhid: u8, v6: bool, prio: u8, inter: u16 },
    Demote(i32),
    Send { vhid: u8, v6: bool, result: u8 },
    DemotionChanged,
}

fn addr(i: u8) -> IpAddr {
    if i % 2 == 0 {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, i))
    } else {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(i)))
    }
}

fn op() -> impl Strategy<Value = Op> {
    let vhid = 1u8..=6;
    prop_oneof![
        3 => (vhid.clone(), any::<bool>(), proptest::option::of(0u8..3), proptest::option::of(0u8..=4), proptest::option::of(0u8..=254),
              proptest::option::of(any::<u8>()), proptest::option::of(any::<u8>()), proptest::option::of(0u16..=4095))
            .prop_map(|(vhid, vrrp, state, advbase, advskew, key, prio, inter)| Op::Set { vhid, vrrp, state, advbase, advskew, key, prio, inter }),
        4 => (vhid.clone(), 0u8..8).prop_map(|(vhid, addr)| Op::Attach { vhid, addr }),
        2 => (vhid.clone(), 0u8..8, any::<bool>()).prop_map(|(vhid, addr, keep)| Op::Detach { vhid, addr, keep }),
        1 => vhid.clone().prop_map(|vhid| Op::Remove { vhid }),
        1 => (vhid.clone(), 0u8..=8).prop_map(|(old, new)| Op::Renumber { old, new }),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(iff_up, link_up)| Op::Parent { iff_up, link_up }),
        1 => any::<bool>().prop_map(Op::Allow),
        1 => any::<bool>().prop_map(Op::Preempt),
        6 => (0u32..5_000_000).prop_map(Op::Advance),
        4 => (vhid.clone(), any::<bool>(), any::<u8>(), any::<u8>(), any::<u64>())
            .prop_map(|(vhid, v6, advbase, advskew, counter)| Op::Carp { vhid, v6, advbase, advskew, counter }),
        2 => (vhid.clone(), any::<bool>(), any::<u8>(), any::<u16>()).prop_map(|(vhid, v6, prio, inter)| Op::Vrrp { vhid, v6, prio, inter }),
        1 => (-500i32..=500).prop_map(Op::Demote),
        2 => (vhid.clone(), any::<bool>(), 0u8..3).prop_map(|(vhid, v6, result)| Op::Send { vhid, v6, result }),
        1 => Just(Op::DemotionChanged),
    ]
}

struct World {
    now: u64,
    sys: Sysctls,
    demotion: Demotion,
    sysctl_sum: i32,
    table: carp_proto::table::Table,
    stats: CarpStats,
}

impl World {
    fn at(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    fn drain(&mut self) {
        let mut send_all = false;
        for v in self.table.iter_mut() {
            while let Some(e) = v.poll_event() {
                let _ = e.to_string();
                if let carp_proto::vhid::Event::DemotionChanged(_) = e {
                    send_all = true;
                }
            }
            while let Some(t) = v.poll_transmit() {
                let _ = format!("{t:?}");
            }
            let mut last = None;
            while let Some(r) = v.poll_route() {
                assert_ne!(Some(r), last, "route ops alternate");
                last = Some(r);
            }
            assert_eq!(v.routes_installed(), v.is_master());
            if let Some(r) = last {
                assert_eq!(r == RouteOp::Add, v.is_master());
            }
        }
        if send_all {
            let now = self.at();
            self.table.handle_demotion_change(now);
            for v in self.table.iter_mut() {
                while v.poll_transmit().is_some() {}
            }
        }
    }

    fn check(&self) {
        let t = &self.table;
        let vhids: Vec<u8> = t.iter().map(|v| v.vhid()).collect();
        assert!(vhids.windows(2).all(|w| w[0] < w[1]), "sorted: {vhids:?}");
        for x in 0..=255u8 {
            match t.get(x) {
                Some(v) => assert_eq!(v.vhid(), x),
                None => assert!(!vhids.contains(&x)),
            }
        }
        let n4: usize = t.iter().map(|v| v.address_count(Family::Inet)).sum();
        let n6: usize = t.iter().map(|v| v.address_count(Family::Inet6)).sum();
        assert_eq!(t.address_count(Family::Inet) as usize, n4);
        assert_eq!(t.address_count(Family::Inet6) as usize, n6);

        let sources = t.iter().filter(|v| v.is_suppressed()).count() + t.iter().filter(|v| v.in_send_error()).count();
        assert_eq!(self.demotion.suppress_preempt() as usize, sources);
        assert_eq!(self.demotion.value(), self.sysctl_sum.wrapping_add(240 * sources as i32), "no demotion leak");

        for v in t.iter() {
            let has_addr = v.address_count(Family::Inet) + v.address_count(Family::Inet6) > 0;
            match v.state() {
                CarpState::Init => assert_eq!(v.poll_timeout(), None, "INIT has no timers"),
                CarpState::Backup => {
                    assert!(has_addr && self.sys.allow, "BACKUP only when running");
                    assert_eq!(v.timer(Timer::Advertise), None);
                }
                CarpState::Master => {
                    assert!(has_addr && self.sys.allow, "MASTER only when running");
                    assert_eq!(v.timer(Timer::MasterDown4), None);
                    assert_eq!(v.timer(Timer::MasterDown6), None);
                }
            }
            assert!(v.effective_advskew() <= 240);
            assert_eq!(t.forus(&v.virtual_mac()), v.is_master());
        }
    }
}

fn run(ops: &[Op]) {
    let demotion = Demotion::new();
    let mut w = World {
        now: 0,
        sys: Sysctls::default(),
        demotion: demotion.clone(),
        sysctl_sum: 0,
        table: carp_proto::table::Table::new(IfName::new("vlan100"), demotion),
        stats: CarpStats::default(),
    };
    let mut seed = 1u64;
    for op in ops {
        let now = w.at();
        match *op {
            Op::Set { vhid, vrrp, state, advbase, advskew, key, prio, inter } => {
                let r = SetRequest {
                    vhid,
                    state: state.and_then(|s| CarpState::from_u32(u32::from(s))),
                    advbase,
                    advskew,
                    key: key.map(|k| [k; CARP_KEY_LEN]),
                    peer4: None,
                    peer6: None,
                    version: if vrrp { Version::Vrrp3 } else { Version::Carp },
                    vrrp_priority: prio,
                    vrrp_interval_cs: inter,
                };
                let before: Vec<_> = w.table.status(None).unwrap().collect();
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let res = w.table.set(now, &r, seed, &w.sys);
                if res.is_err() {
                    let after: Vec<_> = w.table.status(None).unwrap().collect();
                    assert_eq!(before, after, "nothing changes on error");
                }
            }
            Op::Attach { vhid, addr: a } => {
                let _ = w.table.attach(now, vhid, addr(a), &w.sys);
            }
            Op::Detach { vhid, addr: a, keep } => {
                if let Ok(d) = w.table.detach(now, vhid, &addr(a), keep, &w.sys) {
                    if let Some(mut v) = d.destroyed {
                        while v.poll_event().is_some() {}
                    }
                }
            }
            Op::Remove { vhid } => {
                if let Some(mut v) = w.table.remove(vhid) {
                    while v.poll_event().is_some() {}
                }
            }
            Op::Renumber { old, new } => {
                let before: Vec<(u8, CarpState, usize)> = w.table.iter().map(|v| (v.vhid(), v.state(), v.address_count(Family::Inet) + v.address_count(Family::Inet6))).collect();
                let r = w.table.renumber(now, old, new);
                let expected = if new == 0 {
                    Err(carp_proto::Errno::EINVAL)
                } else if !before.iter().any(|b| b.0 == old) {
                    Err(carp_proto::Errno::ENOENT)
                } else if old != new && before.iter().any(|b| b.0 == new) {
                    Err(carp_proto::Errno::EEXIST)
                } else {
                    Ok(())
                };
                assert_eq!(r, expected);
                // The same vhids (one renamed), same states and addresses.
                let mut want: Vec<(u8, CarpState, usize)> = before.iter().map(|&(v, st, n)| (if r.is_ok() && v == old { new } else { v }, st, n)).collect();
                want.sort_by_key(|b| b.0);
                let after: Vec<(u8, CarpState, usize)> = w.table.iter().map(|v| (v.vhid(), v.state(), v.address_count(Family::Inet) + v.address_count(Family::Inet6))).collect();
                assert_eq!(after, want);
            }
            Op::Parent { iff_up, link_up } => w.table.handle_parent(now, iff_up, link_up, &w.sys),
            Op::Allow(a) => {
                if w.sys.allow != a {
                    w.sys.allow = a;
                    w.table.handle_allow(now, &w.sys);
                }
            }
            Op::Preempt(p) => w.sys.preempt = p,
            Op::Advance(us) => {
                w.now += u64::from(us);
                let now = w.at();
                w.table.handle_timeout(now, &w.sys);
            }
            Op::Carp { vhid, v6, advbase, advskew, counter } => {
                if let Some(v) = w.table.get_mut(vhid) {
                    let family = if v6 { Family::Inet6 } else { Family::Inet };
                    v.handle_carp_advert(now, &CarpAdvert { family, advbase, advskew, counter }, &w.sys);
                }
            }
            Op::Vrrp { vhid, v6, prio, inter } => {
                if let Some(v) = w.table.get_mut(vhid) {
                    let family = if v6 { Family::Inet6 } else { Family::Inet };
                    v.handle_vrrp_advert(now, &VrrpAdvert { family, priority: prio, max_adver_int: inter }, &w.sys);
                }
            }
            Op::Demote(d) => {
                w.demotion.adjust(d, DemotionReason::Sysctl);
                w.sysctl_sum = w.sysctl_sum.wrapping_add(d);
                w.table.handle_demotion_change(now);
            }
            Op::Send { vhid, v6, result } => {
                if let Some(v) = w.table.get_mut(vhid) {
                    let family = if v6 { Family::Inet6 } else { Family::Inet };
                    let r = match result {
                        0 => SendResult::Sent,
                        1 => SendResult::Error(55),
                        _ => SendResult::NoMemory,
                    };
                    v.handle_send_result(family, r, &w.sys, &mut w.stats);
                }
            }
            Op::DemotionChanged => {
                w.table.handle_demotion_change(now);
            }
        }
        w.drain();
        w.check();
    }
    // Tearing everything down releases every demotion.
    let vhids: Vec<u8> = w.table.iter().map(|v| v.vhid()).collect();
    for v in vhids {
        let _ = w.table.remove(v);
    }
    assert_eq!(w.demotion.value(), w.sysctl_sum);
    assert_eq!(w.demotion.suppress_preempt(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn table_invariants_hold_under_any_event_sequence(ops in proptest::collection::vec(op(), 0..80)) {
        run(&ops);
    }
}

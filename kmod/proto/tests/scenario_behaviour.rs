//! Behaviour scenarios on the simulated LAN, named after what they show.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use carp_proto::table::Table;
use carp_proto::vhid::{IfName, RouteOp};
use carp_proto::demotion::Demotion;
use carp_proto::{CarpState, Errno, Instant, Stat, Sysctls, Version};
use common::*;

fn carp(vhid: u8, advskew: u8) -> carp_proto::SetRequest {
    let mut r = req(vhid, Version::Carp);
    r.advskew = Some(advskew);
    r.key = Some(key("secret"));
    r
}

/// Two hosts, each with em0 on segment 0 (vhid 1) and em1 on segment 1 (vhid 2).
/// Host A (advskew 0) is started first and becomes MASTER of both.
fn two_homed_pair(preempt: bool) -> (Lan, usize, usize) {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.add_iface(a, 1);
    lan.add_iface(b, 1);
    for n in [a, b] {
        lan.sysctl(n, |s| s.preempt = preempt);
    }
    lan.configure(Port(a, 0), carp(1, 0), &[v4(1)]);
    lan.configure(Port(a, 1), carp(2, 0), &[IpAddr::V4(Ipv4Addr::new(192, 0, 3, 1))]);
    lan.run_for(500 * MS);
    lan.configure(Port(b, 0), carp(1, 100), &[v4(1)]);
    lan.configure(Port(b, 1), carp(2, 100), &[IpAddr::V4(Ipv4Addr::new(192, 0, 3, 1))]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters_on(0, 1), vec![Port(a, 0)], "{}", lan.dump());
    assert_eq!(lan.masters_on(1, 2), vec![Port(a, 1)], "{}", lan.dump());
    (lan, a, b)
}

#[test]
fn link_down_demotes_every_vhid_of_the_host_and_the_peer_takes_over_all() {
    let (mut lan, a, b) = two_homed_pair(true);
    let t = lan.now;
    lan.link(Port(a, 1), false);
    assert_eq!(lan.state(Port(a, 1), 2), Some(CarpState::Init));
    assert_eq!(lan.node(a).demotion.value(), 240);
    assert!(lan.node(a).log.contains(&"carp: 2@em1: MASTER -> INIT (hardware interface down)".to_string()));
    assert!(lan.node(a).log.contains(&"carp: demoted by 240 to 240 (interface down)".to_string()));
    // The demotion made A's healthy vhid 1 advertise at once with skew 240 ...
    assert!(lan
        .iface(Port(a, 0))
        .sent
        .iter()
        .any(|s| matches!(s, Sent::Advert { at, advskew: 240, .. } if *at == t)));
    // ... so B preempts it right away, and takes vhid 2 when its master-down expires.
    lan.run_for(10 * MS);
    assert_eq!(lan.masters_on(0, 1), vec![Port(b, 0)], "{}", lan.dump());
    lan.run_for(4 * SEC);
    assert_eq!(lan.masters_on(1, 2), vec![Port(b, 1)], "{}", lan.dump());

    // Link back: demotion undone, and with preempt A takes everything back.
    lan.link(Port(a, 1), true);
    assert_eq!(lan.node(a).demotion.value(), 0);
    assert!(lan.node(a).log.contains(&"carp: demoted by -240 to 0 (interface up)".to_string()));
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters_on(0, 1), vec![Port(a, 0)], "{}", lan.dump());
    assert_eq!(lan.masters_on(1, 2), vec![Port(a, 1)], "{}", lan.dump());
}

#[test]
fn without_preempt_the_demoted_host_keeps_its_healthy_vhids() {
    let (mut lan, a, _b) = two_homed_pair(false);
    lan.link(Port(a, 1), false);
    lan.run_for(5 * SEC);
    // A advertises 240 now but B does not preempt: a MASTER only yields to more frequent
    // adverts, and B as BACKUP never takes over from a live master without preempt.
    assert_eq!(lan.masters_on(0, 1), vec![Port(a, 0)], "{}", lan.dump());
}

#[test]
fn each_vhid_on_a_downed_interface_adds_its_own_demotion() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    for vhid in 1..=12u8 {
        lan.configure(a, carp(vhid, 0), &[v4(vhid)]);
    }
    lan.link(a, false);
    // opnsense/core#1100: "demoted 2880" with 12 vhids.
    assert_eq!(lan.node(a).demotion.value(), 12 * 240);
    assert_eq!(lan.node(a).demotion.suppress_preempt(), 12);
    lan.link(a, true);
    assert_eq!(lan.node(a).demotion.value(), 0);
    assert_eq!(lan.node(a).demotion.suppress_preempt(), 0);
}

#[test]
fn address_re_add_keeps_the_vhid() {
    // rc.newwanip re-adding the same address (opnsense/core#2486): the replace path detaches
    // with keep_cif, so the vhid and its configuration survive for the new address.
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a]);

    assert!(lan.detach(a, 1, v4(1), true));
    let st = lan.node(a).table().status(Some(1)).expect("vhid kept").next().unwrap();
    assert_eq!(st.state, CarpState::Init);
    assert_eq!(st.advskew, 0);
    assert_eq!(st.key, key("secret"));
    lan.attach(a, 1, v4(1));
    assert_eq!(lan.state(a, 1), Some(CarpState::Backup));
    lan.run_for(10 * SEC);
    // Peers still authenticate each other (same key, same address set).
    assert_eq!(lan.stat(a, Stat::BadAuth), 0);
    assert_eq!(lan.stat(b, Stat::BadAuth), 0);
    assert_eq!(lan.masters(1).len(), 1, "{}", lan.dump());

    // Whereas a plain delete destroys the vhid, and attaching then fails like the stock
    // kernel without the fix (ENOENT: SET must create the vhid first).
    let now = Instant::from_micros(lan.now);
    let sys = lan.node(a).sys;
    let t = &mut lan.iface_mut(a).table;
    let d = t.detach(now, 1, &v4(1), false, &sys).unwrap();
    assert!(d.destroyed.is_some());
    assert!(t.is_empty());
    assert_eq!(t.attach(now, 1, v4(1), &sys), Err(Errno::ENOENT));
}

#[test]
fn address_add_bounces_a_master_through_init_and_the_peer_takes_over() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![a]);
    // Adding an address on A alone bounces A to BACKUP (so B's master-down expires and B
    // takes over) and changes A's HMAC input (so each side rejects the other: split brain).
    lan.attach(a, 1, v4(2));
    assert!(lan.node(a).log.contains(&"carp: 1@em0: MASTER -> INIT (hardware interface up)".to_string()));
    assert!(lan.node(a).log.contains(&"carp: 1@em0: INIT -> BACKUP (initialization complete)".to_string()));
    assert_eq!(lan.node(a).routes().last(), Some(&(1, RouteOp::Delete)));
    lan.run_for(4 * SEC);
    assert_eq!(lan.masters(1), vec![a, b], "{}", lan.dump());
    assert!(lan.stat(a, Stat::BadAuth) > 0 && lan.stat(b, Stat::BadAuth) > 0);
    // Adding it on B too restores authentication; B bounces and A stays MASTER.
    lan.attach(b, 1, v4(2));
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a], "{}", lan.dump());
}

#[test]
fn backups_adopt_the_masters_counter_and_continue_it_after_failover() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(10 * SEC);
    let last_a = match lan.node(a).adverts_sent(1).last() {
        Some(Sent::Advert { counter: Some(c), .. }) => *c,
        other => panic!("{other:?}"),
    };
    assert_eq!(lan.node(b).table().get(1).unwrap().counter(), last_a);
    lan.link(a, false);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![b]);
    let first_b = lan
        .node(b)
        .adverts_sent(1)
        .first()
        .map(|s| match s {
            Sent::Advert { counter: Some(c), .. } => *c,
            _ => unreachable!(),
        })
        .unwrap();
    assert_eq!(first_b, last_a.wrapping_add(1), "continues from the last counter heard");
}

#[test]
fn tie_goes_to_the_sender() {
    // Equal advbase and advskew, both MASTER after a partition: the first advert received
    // after healing makes its receiver yield; the sender stays MASTER.
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(300 * MS);
    lan.configure(b, carp(1, 0), &[v4(1)]);
    lan.partition(&[0, 1]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a, b]);
    // A advertises at x.0+0.3 s, B at x.0+0.6 s (offset by setup): A's advert arrives first.
    let healed = lan.now;
    lan.heal();
    lan.run_for(2 * SEC);
    assert_eq!(lan.masters(1), vec![a], "{}", lan.dump());
    let t = lan.transitions_since(1, healed);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].node, t[0].reason), (b, "more frequent advertisement received"));
}

#[test]
fn a_backup_takes_over_at_once_when_the_master_will_time_out() {
    // Master advertising every 5 s, backup with advbase 1: (3*1 s) < 5 s.
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    let mut slow = carp(1, 0);
    slow.advbase = Some(5);
    lan.configure(a, slow, &[v4(1)]);
    // A: MASTER at 15 s (3*5 s), adverts at 15, 20, 25 s ...
    lan.run_for(17 * SEC + 500 * MS);
    assert_eq!(lan.masters(1), vec![a]);
    let joined = lan.now;
    lan.configure(b, carp(1, 200), &[v4(1)]);
    lan.run_for(6 * SEC);
    let t = lan.transitions_since(1, joined);
    let takeover = t.iter().find(|t| t.node == b && t.new == CarpState::Master).expect("b takes over");
    assert_eq!(takeover.reason, "master will time out");
    assert!(takeover.at - joined < 3 * SEC, "on A's advert, before B's own master-down");
    assert_eq!(lan.masters(1), vec![b], "{}", lan.dump());
}

#[test]
fn preemption_off_keeps_the_slower_master() {
    let mut lan = Lan::new(MS);
    let slow = lan.add_node();
    let fast = lan.add_node();
    lan.configure(slow, carp(1, 100), &[v4(1)]);
    lan.run_for(5 * SEC);
    lan.configure(fast, carp(1, 0), &[v4(1)]);
    lan.run_for(20 * SEC);
    assert_eq!(lan.masters(1), vec![slow]);
}

#[test]
fn preemption_on_lets_the_faster_backup_take_over() {
    let mut lan = Lan::new(MS);
    let slow = lan.add_node();
    let fast = lan.add_node();
    lan.sysctl(fast, |s| s.preempt = true);
    lan.configure(slow, carp(1, 100), &[v4(1)]);
    lan.run_for(5 * SEC);
    let joined = lan.now;
    lan.configure(fast, carp(1, 0), &[v4(1)]);
    lan.run_for(3 * SEC);
    assert_eq!(lan.masters(1), vec![fast]);
    let reasons: Vec<(usize, &str)> = lan.transitions_since(1, joined).iter().map(|t| (t.node, t.reason)).collect();
    assert!(reasons.contains(&(fast, "preempting a slower master")), "{reasons:?}");
    assert!(reasons.contains(&(slow, "more frequent advertisement received")), "{reasons:?}");
}

#[test]
fn a_demotion_change_is_advertised_immediately() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.sysctl(b, |s| s.preempt = true);
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(5 * SEC + 300 * MS);
    assert_eq!(lan.masters(1), vec![a]);
    let t = lan.now;
    lan.demote(a, 200);
    lan.run_for(5 * MS);
    assert_eq!(lan.masters(1), vec![b], "within one latency, not one advert period\n{}", lan.dump());
    assert!(lan.transitions_since(1, t).iter().all(|x| x.at <= t + 2 * MS));
}

#[test]
fn send_errors_demote_until_three_adverts_succeed() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![a]);

    lan.iface_mut(a).send_error = Some(55); // ENOBUFS
    lan.run_for(3 * SEC);
    assert_eq!(lan.node(a).demotion.value(), 240);
    assert!(lan.node(a).log.contains(&"carp: demoted by 240 to 240 (send error 55 on em0)".to_string()));
    // Nothing reaches B: it takes over, and A (demoted to 240) yields to B's adverts.
    lan.iface_mut(a).send_error = None;
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![b], "{}", lan.dump());
    // A BACKUP sends nothing, so its send-error demotion stays (as in FreeBSD) ...
    assert_eq!(lan.node(a).demotion.value(), 240);
    // ... until it is MASTER again and three adverts go out.
    lan.link(b, false);
    lan.run_for(8 * SEC);
    assert_eq!(lan.masters(1), vec![a]);
    assert_eq!(lan.node(a).demotion.value(), 0);
    assert!(lan.node(a).log.contains(&"carp: demoted by -240 to 0 (send ok on em0)".to_string()));
}

#[test]
fn allow_off_stops_the_vhids_and_the_peer_takes_over() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(5 * SEC);
    lan.sysctl(a, |s| s.allow = false);
    assert_eq!(lan.state(a, 1), Some(CarpState::Init));
    assert_eq!(lan.node(a).demotion.value(), 240);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![b]);
    // Adverts arriving while allow=0 are dropped silently (only ipackets counted).
    assert!(lan.node(a).verdict_count("dropped_disabled") > 0);
    lan.sysctl(a, |s| s.allow = true);
    assert_eq!(lan.state(a, 1), Some(CarpState::Backup));
    assert_eq!(lan.node(a).demotion.value(), 0);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![b], "no preempt: B keeps it");
}

#[test]
fn a_restarted_master_rejoins_as_backup() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1), v6(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1), v6(1)]);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![a]);
    lan.link(a, false);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![b]);
    lan.restart(a);
    lan.link(a, true);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![b], "{}", lan.dump());
    assert_eq!(lan.stat(a, Stat::BadAuth), 0);
}

#[test]
fn dual_stack_vhid_advertises_on_both_families() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1), v6(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, carp(1, 100), &[v4(1), v6(1)]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a]);
    assert!(lan.stat(b, Stat::IPackets) > 5 && lan.stat(b, Stat::IPackets6) > 5);
    // Both families' adverts carry the same HMAC input: every one authenticates.
    assert_eq!(lan.node(b).verdict_count("valid"), lan.stat(b, Stat::IPackets) + lan.stat(b, Stat::IPackets6));
    // Counters: each family's advert consumes one.
    let counters: Vec<u64> = lan
        .node(a)
        .adverts_sent(1)
        .iter()
        .filter_map(|s| match s {
            Sent::Advert { counter, .. } => *counter,
            _ => None,
        })
        .collect();
    assert!(counters.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "{counters:?}");
}

#[test]
fn vrrp_higher_priority_preempts_and_priority_255_owns() {
    let mut lan = Lan::new(MS);
    let low = lan.add_node();
    let high = lan.add_node();
    lan.sysctl(high, |s| s.preempt = true);
    let mut r = req(1, Version::Vrrp3);
    r.vrrp_priority = Some(50);
    lan.configure(low, r, &[v4(1)]);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![low]);
    r.vrrp_priority = Some(255);
    lan.configure(high, r, &[v4(1)]);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![high], "{}", lan.dump());
}

#[test]
fn vrrp_backup_uses_the_masters_interval_for_master_down() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    let mut r = req(1, Version::Vrrp3);
    r.vrrp_interval_cs = Some(300);
    r.vrrp_priority = Some(200);
    lan.configure(a, r, &[v4(1)]);
    lan.run_for(15 * SEC);
    let mut r2 = req(1, Version::Vrrp3);
    r2.vrrp_priority = Some(100);
    lan.configure(b, r2, &[v4(1)]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a]);
    assert_eq!(lan.node(b).table().get(1).unwrap().vrrp_master_interval_cs(), 300);
    // B's master-down: 3*300 + (256-100)*300/256 = 900 + 182 cs.
    let down = lan.now;
    lan.link(a, false);
    lan.run_for(20 * SEC);
    let t = lan.transitions_since(1, down);
    let takeover = t.iter().find(|t| t.node == b && t.new == CarpState::Master).unwrap();
    assert!(takeover.at - down <= 10_820_000, "{}", takeover.at - down);
    assert!(takeover.at - down > 7_000_000, "{}", takeover.at - down);
}

#[test]
fn a_table_never_panics_on_a_lone_node_with_everything_toggled() {
    // A smoke test of odd sequences outside the LAN.
    let d = Demotion::new();
    let mut t = Table::new(IfName::new("em0"), d);
    let sys = Sysctls::default();
    let now = Instant::from_micros(0);
    t.set(now, &carp(9, 254), 0, &sys).unwrap();
    t.attach(now, 9, v4(9), &sys).unwrap();
    t.handle_parent(now, false, false, &sys);
    t.handle_parent(now, true, true, &sys);
    t.handle_timeout(Instant::from_micros(u64::MAX), &sys);
    assert_eq!(t.state(9), Some(CarpState::Master));
    // At the end of time the advertisement timer saturates to "never": no panic, no loop.
    t.handle_timeout(Instant::from_micros(u64::MAX), &sys);
}

/// carp(4) of old: `ifconfig carp0 down && ifconfig carp0 up` on the master hands the
/// address to the backup at once (its last advertisement says advbase/advskew 255, so the
/// backup's "master will time out" rule fires), then re-elects; the host that went down
/// comes back as BACKUP and, without preemption, stays so.
#[test]
fn legacy_down_hands_off_at_once_and_up_reelects() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, carp(1, 0), &[v4(1)]);
    lan.configure(b, carp(1, 100), &[v4(1)]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a]);

    let down = lan.now;
    lan.admin(a, 1, false);
    lan.run_for(50 * MS);
    assert_eq!(lan.masters(1), vec![b], "{}", lan.dump());
    assert_eq!(lan.state(a, 1), Some(CarpState::Init));
    let t = lan.transitions_since(1, down);
    let took = t.iter().find(|t| t.node == b && t.new == CarpState::Master).expect("b took over");
    assert_eq!(took.reason, "master will time out");
    assert!(took.at - down <= 5 * MS, "hand-off took {} us", took.at - down);

    lan.admin(a, 1, true);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![b]);
    assert_eq!(lan.state(a, 1), Some(CarpState::Backup));
}

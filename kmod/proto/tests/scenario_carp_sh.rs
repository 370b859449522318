//! FreeBSD's own CARP scenarios (tests/sys/netinet/carp.sh), replayed on the simulated LAN.
//!
//! Each test follows its carp.sh counterpart's configuration and checks what the shell test
//! checks (one MASTER, the virtual address answers) plus what the state machine must have
//! done to get there (gratuitous ARP / NA, routes, devd notifications, log lines).

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_proto::table::Iamatch6;
use carp_proto::vhid::RouteOp;
use carp_proto::{CarpState, Stat, Version};
use common::*;

const VMAC1: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];

/// `wait_for_carp`: one of the two is MASTER; fail if both are.
fn wait_for_carp(lan: &mut Lan, vhid: u8, a: usize, b: usize) {
    for _ in 0..30 {
        if lan.state(a, vhid) == Some(CarpState::Master) || lan.state(b, vhid) == Some(CarpState::Master) {
            break;
        }
        lan.run_for(SEC);
    }
    let masters = lan.masters(vhid);
    assert_eq!(masters.len(), 1, "exactly one master expected\n{}", lan.dump());
}

/// Then stay stable for a while: no further transitions, still one master.
fn assert_stable(lan: &mut Lan, vhid: u8, secs: u64) -> usize {
    let since = lan.now;
    let m = lan.masters(vhid);
    lan.run_for(secs * SEC);
    assert_eq!(lan.masters(vhid), m, "{}", lan.dump());
    assert!(lan.transitions_since(vhid, since).is_empty(), "{}", lan.dump());
    assert_eq!(m.len(), 1);
    m[0]
}

#[test]
fn basic_v4() {
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    lan.configure(two, req(1, Version::Carp), &[v4(1)]);
    lan.run_for(200 * MS);
    lan.configure(three, req(1, Version::Carp), &[v4(1)]);
    wait_for_carp(&mut lan, 1, two, three);
    let master = assert_stable(&mut lan, 1, 10);
    let backup = if master == two { three } else { two };
    assert_eq!(master, two, "the first node up times out first");

    // `ping 192.0.2.1` from the bridge: only the MASTER answers ARP, with the virtual MAC,
    // and accepts frames to the virtual MAC.
    assert_eq!(lan.node(master).table().iamatch(1), Some(VMAC1));
    assert_eq!(lan.node(backup).table().iamatch(1), None);
    assert!(lan.node(master).table().forus(&VMAC1));
    assert!(!lan.node(backup).table().forus(&VMAC1));
    assert_eq!(lan.node(master).table().iamatch_v4(&Ipv4Addr::new(192, 0, 2, 1)), Some((1, VMAC1)));

    // The takeover announced the address and installed its routes.
    assert!(lan.node(master).sent().iter().any(|s| matches!(s, Sent::Garp { addr, .. } if *addr == Ipv4Addr::new(192, 0, 2, 1))));
    assert_eq!(lan.node(master).routes(), &[(1, RouteOp::Add)]);
    assert!(lan.node(backup).routes().is_empty());
    assert!(lan.node(master).devd.contains(&"system=CARP subsystem=1@em0 type=MASTER".to_string()));
    assert!(lan.node(master).log.contains(&"carp: 1@em0: BACKUP -> MASTER (master timed out)".to_string()));
    assert!(lan.node(backup).devd.contains(&"system=CARP subsystem=1@em0 type=BACKUP".to_string()));
    // Adverts went to 224.0.0.18 from the virtual MAC.
    let (g4, _) = groups();
    assert!(lan.node(master).adverts_sent(1).iter().all(|s| matches!(s, Sent::Advert { dst, vmac: true, .. } if *dst == g4)));
    assert_eq!(lan.stat(backup, Stat::BadTtl), 0);
}

#[test]
fn basic_v6() {
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    lan.configure(two, req(1, Version::Carp), &[v6(1)]);
    lan.run_for(200 * MS);
    lan.configure(three, req(1, Version::Carp), &[v6(1)]);
    wait_for_carp(&mut lan, 1, two, three);
    let master = assert_stable(&mut lan, 1, 10);
    let backup = if master == two { three } else { two };
    let vip: Ipv6Addr = "2001:db8::1".parse().unwrap();

    // `ping -6 2001:db8::1`: the MASTER answers neighbor solicitations, the BACKUP doesn't.
    assert_eq!(lan.node(master).table().iamatch6(&vip), Iamatch6::Master { vhid: 1, mac: VMAC1 });
    assert_eq!(lan.node(backup).table().iamatch6(&vip), Iamatch6::Backup);
    assert!(lan.node(master).sent().iter().any(|s| matches!(s, Sent::Na { addr, .. } if *addr == vip)));
    assert!(lan.stat(backup, Stat::IPackets6) > 5);
    assert_eq!(lan.stat(backup, Stat::IPackets), 0);
    assert_eq!(lan.node(backup).verdict_count("valid"), lan.stat(backup, Stat::IPackets6));
}

#[test]
fn vrrp_v4() {
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    lan.configure(two, req(1, Version::Vrrp3), &[v4(1)]);
    lan.run_for(200 * MS);
    lan.configure(three, req(1, Version::Vrrp3), &[v4(1)]);
    wait_for_carp(&mut lan, 1, two, three);
    let master = assert_stable(&mut lan, 1, 10);
    let backup = if master == two { three } else { two };
    assert_eq!(lan.node(master).table().iamatch(1), Some(VMAC1));
    assert_eq!(lan.node(backup).table().iamatch(1), None);
    // VRRPv3 adverts: to the group, with the virtual MAC, priority 100.
    assert!(lan
        .node(master)
        .adverts_sent(1)
        .iter()
        .all(|s| matches!(s, Sent::Advert { vmac: true, advskew: 100, counter: None, .. })));
    assert_eq!(lan.node(backup).verdict_count("valid"), lan.stat(backup, Stat::IPackets));
    assert_eq!(lan.stat(backup, Stat::BadSum), 0);
}

#[test]
fn vrrp_v6() {
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    lan.configure(two, req(1, Version::Vrrp3), &[v6(1)]);
    lan.run_for(200 * MS);
    lan.configure(three, req(1, Version::Vrrp3), &[v6(1)]);
    wait_for_carp(&mut lan, 1, two, three);
    let master = assert_stable(&mut lan, 1, 10);
    let backup = if master == two { three } else { two };
    let vip: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(lan.node(master).table().iamatch6(&vip), Iamatch6::Master { vhid: 1, mac: VMAC1 });
    assert_eq!(lan.node(backup).table().iamatch6(&vip), Iamatch6::Backup);
    let (_, g6) = groups();
    assert!(lan.node(master).adverts_sent(1).iter().all(|s| matches!(s, Sent::Advert { dst, vmac: true, .. } if *dst == g6)));
}

#[test]
fn unicast_v4() {
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    // Different subnets, routed through a forwarding host: unicast adverts arrive with a
    // decremented TTL, which must not matter.
    lan.set_primary(two, Ipv4Addr::new(198, 51, 100, 2), "2001:db8:1::2".parse().unwrap());
    lan.set_primary(three, Ipv4Addr::new(198, 51, 100, 224), "2001:db8:2::2".parse().unwrap());
    lan.node_mut(two).unicast_hops = 1;
    lan.node_mut(three).unicast_hops = 1;
    let vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    // A peer address x.x.x.224 to catch PR 284872.
    let mut r = req(1, Version::Carp);
    r.peer4 = Some(Ipv4Addr::new(198, 51, 100, 224));
    lan.configure(two, r, &[vip]);
    lan.run_for(200 * MS);
    r.peer4 = Some(Ipv4Addr::new(198, 51, 100, 2));
    lan.configure(three, r, &[vip]);

    wait_for_carp(&mut lan, 1, two, three);
    let master = assert_stable(&mut lan, 1, 10);
    let backup = if master == two { three } else { two };
    assert_eq!(lan.stat(backup, Stat::BadTtl), 0, "TTL check is off for unicast peers");
    assert!(lan.node(backup).verdict_count("valid") > 5);
    // Unicast adverts use the physical MAC.
    assert!(lan.node(master).adverts_sent(1).iter().all(|s| matches!(s, Sent::Advert { vmac: false, .. })));

    // "Check that we remain in unicast when tweaking settings".
    let mut tweak = req(1, Version::Carp);
    tweak.advskew = Some(2);
    lan.set(two, tweak).unwrap();
    let st = lan.node(two).table().status(Some(1)).unwrap().next().unwrap();
    assert_eq!(st.peer4, Ipv4Addr::new(198, 51, 100, 224));
    assert_eq!(st.advskew, 2);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1).len(), 1);
}

#[test]
fn unicast_v4_with_multicast_would_fail_the_ttl_check() {
    // The converse of unicast_v4: with the default multicast destination, an advert that
    // crossed a router (TTL 254) is rejected as badttl.
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    lan.set_primary(two, Ipv4Addr::new(198, 51, 100, 2), "2001:db8:1::2".parse().unwrap());
    lan.set_primary(three, Ipv4Addr::new(198, 51, 100, 224), "2001:db8:2::2".parse().unwrap());
    lan.node_mut(three).unicast_hops = 1;
    let vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut r = req(1, Version::Carp);
    r.peer4 = Some(Ipv4Addr::new(198, 51, 100, 224));
    lan.configure(two, r, &[vip]);
    // three keeps the multicast destination, so it checks the TTL of what two sends.
    lan.configure(three, req(1, Version::Carp), &[vip]);
    lan.run_for(10 * SEC);
    assert!(lan.stat(three, Stat::BadTtl) > 0);
}

#[test]
fn unicast_v6() {
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    let p2: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
    let p3: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
    lan.set_primary(two, Ipv4Addr::new(198, 51, 100, 2), p2);
    lan.set_primary(three, Ipv4Addr::new(198, 51, 100, 130), p3);
    lan.node_mut(two).unicast_hops = 1;
    lan.node_mut(three).unicast_hops = 1;
    let vip = v6(1);
    let mut r = req(1, Version::Carp);
    r.peer6 = Some(p3);
    lan.configure(two, r, &[vip]);
    lan.run_for(200 * MS);
    r.peer6 = Some(p2);
    lan.configure(three, r, &[vip]);
    wait_for_carp(&mut lan, 1, two, three);
    let master = assert_stable(&mut lan, 1, 10);
    let backup = if master == two { three } else { two };
    assert_eq!(lan.stat(backup, Stat::BadTtl), 0);
    assert!(lan.node(master).adverts_sent(1).iter().all(|s| matches!(s, Sent::Advert { vmac: false, dst: IpAddr::V6(_), .. })));
}

#[test]
fn unicast_ll_v6() {
    // Link-local unicast peers on one segment.
    let mut lan = Lan::new(MS);
    let two = lan.add_node();
    let three = lan.add_node();
    let ll2: Ipv6Addr = "fe80::2".parse().unwrap();
    let ll3: Ipv6Addr = "fe80::3".parse().unwrap();
    lan.set_primary(two, Ipv4Addr::new(192, 0, 2, 2), ll2);
    lan.set_primary(three, Ipv4Addr::new(192, 0, 2, 3), ll3);
    let mut r = req(1, Version::Carp);
    r.peer6 = Some(ll3);
    lan.configure(two, r, &[v6(1)]);
    lan.run_for(200 * MS);
    r.peer6 = Some(ll2);
    lan.configure(three, r, &[v6(1)]);
    wait_for_carp(&mut lan, 1, two, three);
    assert_stable(&mut lan, 1, 10);
}

#[test]
fn negative_demotion() {
    // PR 259528: preempt on both; one advskew 0, two advskew 100; then demotion -1 on one.
    let mut lan = Lan::new(MS);
    let one = lan.add_node();
    let two = lan.add_node();
    lan.sysctl(one, |s| s.preempt = true);
    lan.sysctl(two, |s| s.preempt = true);
    let mut r = req(1, Version::Carp);
    r.key = Some(key("foobar"));
    r.advskew = Some(0);
    lan.configure(one, r, &[v4(254)]);
    r.advskew = Some(100);
    lan.configure(two, r, &[v4(254)]);
    wait_for_carp(&mut lan, 1, one, two);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![one], "{}", lan.dump());

    lan.demote(one, -1);
    assert_eq!(lan.node(one).demotion.value(), -1);
    assert!(lan.node(one).log.contains(&"carp: demoted by -1 to -1 (sysctl)".to_string()));
    lan.run_for(3 * SEC);
    assert_eq!(lan.masters(1), vec![one], "{}", lan.dump());
    // The advertised skew is clamped at 0, never negative (wrapping to 255).
    assert!(lan.node(one).adverts_sent(1).iter().all(|s| matches!(s, Sent::Advert { advskew: 0, .. })));
    assert_stable(&mut lan, 1, 10);
}

#[test]
fn nd6_ns_source_mac() {
    let mut lan = Lan::new(MS);
    let master = lan.add_node();
    let slave = lan.add_node();
    let mut r = req(1, Version::Carp);
    r.advskew = Some(0);
    lan.configure(master, r, &[v6(1)]);
    r.advskew = Some(100);
    lan.configure(slave, r, &[v6(1)]);
    wait_for_carp(&mut lan, 1, master, slave);
    lan.run_for(5 * SEC);
    assert_eq!(lan.masters(1), vec![master]);
    let vip: Ipv6Addr = "2001:db8::1".parse().unwrap();
    // The BACKUP cannot use the VIP for ND (its NS would never be answered for it) ...
    assert_eq!(lan.node(slave).table().iamatch6(&vip), Iamatch6::Backup);
    // ... the MASTER can, and its NAs carry the virtual MAC.
    assert_eq!(lan.node(master).table().iamatch6(&vip), Iamatch6::Master { vhid: 1, mac: VMAC1 });
    assert_eq!(lan.node(master).table().macmatch6(&vip), Some((1, VMAC1)));
}

#[test]
fn switch() {
    // ifconfig epair0a vhid 1 advskew 100 192.0.2.1/24; state backup; state master.
    let mut lan = Lan::new(MS);
    let n = lan.add_node();
    let mut r = req(1, Version::Carp);
    r.advskew = Some(100);
    lan.configure(n, r, &[v4(1)]);
    assert_eq!(lan.state(n, 1), Some(CarpState::Backup));
    let mut s = req(1, Version::Carp);
    s.state = Some(CarpState::Backup);
    lan.set(n, s).unwrap();
    assert_eq!(lan.state(n, 1), Some(CarpState::Backup));
    s.state = Some(CarpState::Master);
    lan.set(n, s).unwrap();
    assert_eq!(lan.state(n, 1), Some(CarpState::Master));
    assert!(lan.node(n).log.contains(&"carp: 1@em0: BACKUP -> MASTER (user requested via ifconfig)".to_string()));
    s.state = Some(CarpState::Backup);
    lan.set(n, s).unwrap();
    assert_eq!(lan.state(n, 1), Some(CarpState::Backup));
    assert!(lan.node(n).log.contains(&"carp: 1@em0: MASTER -> BACKUP (user requested via ifconfig)".to_string()));
    assert_eq!(lan.node(n).routes(), &[(1, RouteOp::Add), (1, RouteOp::Delete)]);
}

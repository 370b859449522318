//! ARP balancing (`net.inet.carp.arpbalance=1`, FreeBSD 9.x `carp_iamatch`, reference D.4)
//! with the seeds' example: two hosts, one shared address 192.168.1.50 on carp0 (vhid 1)
//! and carp1 (vhid 2) of each host; host A is master of vhid 1, host B of vhid 2.

use carp_proto::arpbalance::{answer_mac, decide, ArpVhid};
use core::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 50);

/// The vhids one host has on its parent, for a request targeting `target`.
fn host(masters: &[u8], running: &[u8], target: Ipv4Addr) -> Vec<ArpVhid> {
    [1u8, 2]
        .iter()
        .map(|&v| {
            ArpVhid::with_addrs(
                v,
                running.contains(&v),
                masters.contains(&v),
                &[VIP],
                target,
            )
        })
        .collect()
}

/// Which host answers `client`: (answers of A, answers of B).
fn who(client: Ipv4Addr, a: &[ArpVhid], b: &[ArpVhid]) -> (Option<u8>, Option<u8>) {
    (decide(true, client, a), decide(true, client, b))
}

fn clients() -> Vec<Ipv4Addr> {
    (1..=40)
        .map(|i| Ipv4Addr::new(192, 168, 1, 100 + i))
        .collect()
}

#[test]
fn clients_with_different_sources_spread_over_two_masters() {
    let a = host(&[1], &[1, 2], VIP);
    let b = host(&[2], &[1, 2], VIP);
    let (mut by_a, mut by_b) = (0, 0);
    for c in clients() {
        match who(c, &a, &b) {
            (Some(1), None) => by_a += 1,
            (None, Some(2)) => by_b += 1,
            other => panic!("client {c}: exactly one host must answer, got {other:?}"),
        }
        // index = ntohl(source) mod 2: even sources map to vhid 1, odd to vhid 2.
        let expect = if u32::from(c) % 2 == 0 {
            (Some(1), None)
        } else {
            (None, Some(2))
        };
        assert_eq!(who(c, &a, &b), expect, "client {c}");
    }
    assert_eq!((by_a, by_b), (20, 20));
}

#[test]
fn the_answer_carries_the_chosen_vhids_virtual_mac() {
    let a = host(&[1], &[1, 2], VIP);
    let v = decide(true, Ipv4Addr::new(10, 0, 0, 2), &a).unwrap();
    assert_eq!(answer_mac(v), [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01]);
}

#[test]
fn one_host_fails_and_all_clients_move_to_the_other() {
    // B dies: A's carp1 (vhid 2) times out waiting and becomes MASTER; vhid 2 keeps
    // running on A, so the count stays 2 and every client keeps its vhid — but A now
    // answers for both.
    let a = host(&[1, 2], &[1, 2], VIP);
    for c in clients() {
        let expect = if u32::from(c) % 2 == 0 { 1 } else { 2 };
        assert_eq!(decide(true, c, &a), Some(expect), "client {c}");
    }
}

#[test]
fn a_vhid_that_stops_running_is_recounted_and_its_clients_move() {
    // carp1 (vhid 2) is taken down on both hosts: only vhid 1 runs, the count drops to 1
    // and every client maps to vhid 1, answered by A (its master).
    let a = host(&[1], &[1], VIP);
    let b = host(&[], &[1], VIP);
    for c in clients() {
        assert_eq!(who(c, &a, &b), (Some(1), None), "client {c}");
    }
}

#[test]
fn backup_of_the_chosen_vhid_stays_silent() {
    // Before B is master of vhid 2 (both BACKUP there), clients mapped to vhid 2 get no
    // answer from A: balancing never falls back to another vhid.
    let a = host(&[1], &[1, 2], VIP);
    let odd = Ipv4Addr::new(192, 168, 1, 101);
    assert_eq!(decide(true, odd, &a), None);
}

#[test]
fn requests_for_other_targets_are_not_ours() {
    let a = host(&[1, 2], &[1, 2], Ipv4Addr::new(192, 168, 1, 99));
    assert_eq!(decide(true, Ipv4Addr::new(192, 168, 1, 101), &a), None);
    assert_eq!(decide(false, Ipv4Addr::new(192, 168, 1, 101), &a), None);
    assert_eq!(decide(true, Ipv4Addr::new(192, 168, 1, 101), &[]), None);
}

#[test]
fn source_is_taken_in_host_order() {
    // 10.0.0.1 = 0x0a000001: odd in host order (vhid 2); the raw network-order value
    // 0x0100000a (FreeBSD 6.0) would have been even (vhid 1).
    let a = host(&[1, 2], &[1, 2], VIP);
    assert_eq!(decide(true, Ipv4Addr::new(10, 0, 0, 1), &a), Some(2));
}

#[test]
fn without_balancing_the_first_master_answers() {
    let a = host(&[2], &[1, 2], VIP);
    let b = host(&[1], &[1, 2], VIP);
    for c in clients() {
        assert_eq!(decide(false, c, &a), Some(2));
        assert_eq!(decide(false, c, &b), Some(1));
    }
    // A master that is not running (its carpN down) does not answer.
    let stopped = host(&[2], &[1], VIP);
    assert_eq!(decide(false, Ipv4Addr::new(1, 1, 1, 1), &stopped), None);
}

#[test]
fn three_vhids_spread_by_source_modulo_three() {
    let vhids: Vec<ArpVhid> = [3u8, 8, 20]
        .iter()
        .map(|&v| ArpVhid {
            vhid: v,
            running: true,
            owns_target: true,
            master: true,
        })
        .collect();
    for s in 0u32..9 {
        let expect = [3, 8, 20][(s % 3) as usize];
        assert_eq!(
            decide(true, Ipv4Addr::from(s), &vhids),
            Some(expect),
            "source {s}"
        );
    }
}

//! The simulated LAN itself: real bytes, deterministic, and the receive pipeline wired in.

mod common;

use carp_proto::{CarpState, Stat, Version};
use common::*;

#[test]
fn two_nodes_exchange_real_authenticated_adverts() {
    let mut lan = Lan::new(100 * MS);
    let a = lan.add_node();
    let b = lan.add_node();
    let mut r = req(1, Version::Carp);
    r.key = Some(key("foobar"));
    lan.configure(a, r, &[v4(1)]);
    lan.run_for(500 * MS);
    lan.configure(b, r, &[v4(1)]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a], "{}", lan.dump());
    assert_eq!(lan.state(b, 1), Some(CarpState::Backup));
    // Every advert b received went through input and was valid.
    let received = lan.stat(b, Stat::IPackets);
    assert!(received >= 8, "{received}");
    assert_eq!(lan.node(b).verdict_count("valid"), received);
    assert_eq!(lan.stat(b, Stat::BadAuth), 0);
    assert_eq!(lan.stat(a, Stat::OPackets), lan.node(a).adverts_sent(1).len() as u64);
}

#[test]
fn the_simulation_is_deterministic() {
    let run = || {
        let mut lan = Lan::new(3 * MS).with_seed(42);
        lan.jitter = 2 * MS;
        lan.loss_permille = 200;
        for _ in 0..3 {
            lan.add_node();
        }
        for i in 0..3 {
            let mut r = req(1, Version::Carp);
            r.advskew = Some(10 * i as u8);
            lan.configure(i, r, &[v4(1), v6(1)]);
        }
        lan.run_for(30 * SEC);
        (lan.transitions.clone(), lan.delivered, lan.dropped)
    };
    assert_eq!(run(), run());
}

#[test]
fn wrong_key_is_counted_as_bad_auth_and_both_become_master() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    let mut r = req(1, Version::Carp);
    r.key = Some(key("one"));
    lan.configure(a, r, &[v4(1)]);
    r.key = Some(key("two"));
    lan.configure(b, r, &[v4(1)]);
    lan.run_for(10 * SEC);
    assert_eq!(lan.masters(1), vec![a, b]);
    assert!(lan.stat(a, Stat::BadAuth) > 0);
    assert!(lan.stat(b, Stat::BadAuth) > 0);
}

#[test]
fn different_address_sets_do_not_authenticate() {
    let mut lan = Lan::new(MS);
    let a = lan.add_node();
    let b = lan.add_node();
    lan.configure(a, req(1, Version::Carp), &[v4(1)]);
    lan.configure(b, req(1, Version::Carp), &[v4(1), v4(2)]);
    lan.run_for(10 * SEC);
    assert!(lan.stat(b, Stat::BadAuth) > 0, "{}", lan.dump());
}

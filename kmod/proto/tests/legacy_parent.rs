//! Legacy parent discovery by subnet (FreeBSD 9.3 `carp_set_addr` / `carp_set_addr6`,
//! reference D.1): `ifconfig carp0 vhid 1 pass x 192.168.1.50/24` binds carp0 to the
//! interface that already has an address in 192.168.1.0/24.

use carp_proto::config::{IFF_BROADCAST, IFF_LOOPBACK, IFF_MULTICAST, IFF_UP};
use carp_proto::parent::{find_parent, Candidate, ParentChoice};
use carp_proto::Errno;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ETH: u32 = IFF_UP | IFF_BROADCAST | IFF_MULTICAST;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

/// lo0 127.0.0.1/8, em0 10.0.0.2/8, em1 192.168.1.10/24, em1 alias 192.168.1.20/24,
/// carp1 192.168.1.60/24 (an existing carpN), em0 2001:db8::2/64, em1 fe80::1%em1/64.
fn host() -> Vec<Candidate<&'static str>> {
    vec![
        Candidate::with_prefix(
            "lo0",
            v4(127, 0, 0, 1),
            8,
            IFF_UP | IFF_LOOPBACK | IFF_MULTICAST,
            false,
        ),
        Candidate::with_prefix("em0", v4(10, 0, 0, 2), 8, ETH, false),
        Candidate::with_prefix("carp1", v4(192, 168, 1, 60), 24, ETH, true),
        Candidate::with_prefix("em1", v4(192, 168, 1, 10), 24, ETH, false),
        Candidate::with_prefix("em1", v4(192, 168, 1, 20), 24, ETH, false),
        Candidate::with_prefix("em0", v6("2001:db8::2"), 64, ETH, false),
        Candidate::with_prefix("em1", v6("fe80::1"), 64, ETH, false),
    ]
}

#[test]
fn vip_in_an_interface_subnet_picks_that_interface() {
    let got = find_parent(v4(192, 168, 1, 50), &host(), None).unwrap();
    // The first em1 address (index 3) is the advertisement source; carp1's address at
    // index 2 is skipped although it is in the same subnet.
    assert_eq!(
        got,
        ParentChoice {
            iface: "em1",
            index: 3,
            owner: false
        }
    );
}

#[test]
fn no_address_in_the_subnet_is_eaddrnotavail() {
    assert_eq!(
        find_parent(v4(172, 16, 0, 1), &host(), None),
        Err(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(
        find_parent(v6("2001:db8:1::1"), &host(), None),
        Err(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(
        find_parent::<u32>(v4(192, 168, 1, 50), &[], None),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn non_multicast_interfaces_are_not_parents() {
    let cands = vec![
        Candidate::with_prefix("tun0", v4(192, 168, 1, 1), 24, IFF_UP, false),
        Candidate::with_prefix("em1", v4(192, 168, 1, 10), 24, ETH, false),
    ];
    assert_eq!(
        find_parent(v4(192, 168, 1, 50), &cands, None)
            .unwrap()
            .iface,
        "em1"
    );
    assert_eq!(
        find_parent(v4(192, 168, 1, 50), &cands[..1], None),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn addresses_on_carp_interfaces_are_never_parents() {
    let cands = vec![Candidate::with_prefix(
        "carp1",
        v4(192, 168, 1, 60),
        24,
        ETH,
        true,
    )];
    assert_eq!(
        find_parent(v4(192, 168, 1, 50), &cands, None),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn vip_equal_to_a_parent_address_makes_the_address_owner() {
    let own = find_parent(v4(192, 168, 1, 10), &host(), None).unwrap();
    assert_eq!(
        own,
        ParentChoice {
            iface: "em1",
            index: 3,
            owner: true
        }
    );
    // 9.3 counted ownership over every matching address, not only the first one.
    let alias = find_parent(v4(192, 168, 1, 20), &host(), None).unwrap();
    assert_eq!(
        alias,
        ParentChoice {
            iface: "em1",
            index: 3,
            owner: true
        }
    );
}

#[test]
fn second_address_must_stay_on_the_same_parent() {
    assert_eq!(
        find_parent(v4(192, 168, 1, 51), &host(), Some("em1"))
            .unwrap()
            .iface,
        "em1"
    );
    assert_eq!(
        find_parent(v4(10, 1, 2, 3), &host(), Some("em1")),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn ipv6_matches_by_prefix() {
    let got = find_parent(v6("2001:db8::50"), &host(), None).unwrap();
    assert_eq!(
        got,
        ParentChoice {
            iface: "em0",
            index: 5,
            owner: false
        }
    );
    let ll = find_parent(v6("fe80::50"), &host(), None).unwrap();
    assert_eq!(ll.iface, "em1");
    assert!(find_parent(v6("2001:db8::2"), &host(), None).unwrap().owner);
}

#[test]
fn families_do_not_mix() {
    // An IPv4-mapped IPv6 VIP never matches an IPv4 subnet, and vice versa.
    assert_eq!(
        find_parent(v6("::ffff:192.168.1.50"), &host(), None),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn explicit_masks_behave_like_prefix_lengths() {
    let explicit = Candidate {
        iface: 7u32,
        addr: v4(192, 168, 1, 10),
        mask: v4(255, 255, 255, 0),
        if_flags: ETH,
        on_carp: false,
    };
    assert_eq!(
        explicit,
        Candidate::with_prefix(7u32, v4(192, 168, 1, 10), 24, ETH, false)
    );
    assert_eq!(
        find_parent(v4(192, 168, 1, 99), &[explicit], None)
            .unwrap()
            .iface,
        7
    );
    assert_eq!(
        find_parent(v4(192, 168, 2, 99), &[explicit], None),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn host_route_prefixes_only_match_themselves() {
    let h = [Candidate::with_prefix(
        1u32,
        v4(192, 168, 1, 10),
        32,
        ETH,
        false,
    )];
    assert!(find_parent(v4(192, 168, 1, 10), &h, None).unwrap().owner);
    assert_eq!(
        find_parent(v4(192, 168, 1, 11), &h, None),
        Err(Errno::EADDRNOTAVAIL)
    );
    // A /0 matches everything of its family.
    let any = [Candidate::with_prefix(1u32, v4(0, 0, 0, 0), 0, ETH, false)];
    assert!(find_parent(v4(8, 8, 8, 8), &any, None).is_ok());
}

//! Legacy parent discovery by subnet (FreeBSD ≤ 9 `carp_set_addr` / `carp_set_addr6`,
//! reference D.1).
//!
//! A cloned `carpN` has no parent until its first address is added; the parent is the
//! interface that already carries an address in the new address's subnet:
//!
//! - scan the system's addresses of the same family, in the kernel's list order;
//! - skip addresses that live on a `carpN` (9.3 skipped the `carpN` itself, and other
//!   `carpN` interfaces were never `IFF_MULTICAST` there, so they could not match either);
//! - keep those on an `IFF_MULTICAST` interface whose subnet contains the new address:
//!   IPv4 `(vip & netmask) == (addr & netmask)`, IPv6 the same per 32-bit word with the
//!   prefix mask;
//! - the first one kept is the parent (its address becomes the advertisement source);
//!   none → `EADDRNOTAVAIL` ("the parent must already have an address in the same
//!   subnet");
//! - if the `carpN` already has a parent (an earlier address) and the match is on another
//!   interface → `EADDRNOTAVAIL` (9.3: the multicast interface was already bound);
//! - "address owner": the new address equals one of the kept addresses → the vhid's
//!   advskew is forced to 0.
//!
//! IPv6 addresses are compared exactly as given: pass them as the kernel stores them
//! (link-local addresses with their embedded scope), or all with the scope cleared.

use crate::config::IFF_MULTICAST;
use crate::types::Errno;
use core::net::IpAddr;

/// One address already configured on the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate<I> {
    /// Whatever the glue uses to name the interface (ifindex, a pointer key, ...).
    pub iface: I,
    /// The address.
    pub addr: IpAddr,
    /// Its mask: `ia_subnetmask` (IPv4) / `ia_prefixmask` (IPv6), same family as `addr`.
    pub mask: IpAddr,
    /// The interface's `if_flags` (`IFF_*`).
    pub if_flags: u32,
    /// The address is on one of our `carpN` interfaces.
    pub on_carp: bool,
}

impl<I> Candidate<I> {
    /// An address with its mask given as a prefix length (IPv4 0..=32, IPv6 0..=128;
    /// longer lengths saturate).
    pub fn with_prefix(
        iface: I,
        addr: IpAddr,
        prefix_len: u8,
        if_flags: u32,
        on_carp: bool,
    ) -> Candidate<I> {
        let mask = match addr {
            IpAddr::V4(_) => IpAddr::V4(u32_mask(prefix_len).into()),
            IpAddr::V6(_) => IpAddr::V6(u128_mask(prefix_len).into()),
        };
        Candidate {
            iface,
            addr,
            mask,
            if_flags,
            on_carp,
        }
    }
}

fn u32_mask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        n => u32::MAX
            .checked_shl(32u32.saturating_sub(u32::from(n.min(32))))
            .unwrap_or(0),
    }
}

fn u128_mask(prefix_len: u8) -> u128 {
    match prefix_len {
        0 => 0,
        n => u128::MAX
            .checked_shl(128u32.saturating_sub(u32::from(n.min(128))))
            .unwrap_or(0),
    }
}

/// The result of a successful discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentChoice<I> {
    /// The parent interface.
    pub iface: I,
    /// Index in the candidate list of the parent's address (the advertisement source).
    pub index: usize,
    /// The new address is one of the parent's own addresses: advskew is forced to 0.
    pub owner: bool,
}

/// `vip` lies in `c`'s subnet (same family, masked equality).
fn in_subnet<I>(vip: IpAddr, c: &Candidate<I>) -> bool {
    match (vip, c.addr, c.mask) {
        (IpAddr::V4(v), IpAddr::V4(a), IpAddr::V4(m)) => {
            let m = u32::from(m);
            u32::from(v) & m == u32::from(a) & m
        }
        (IpAddr::V6(v), IpAddr::V6(a), IpAddr::V6(m)) => {
            let m = u128::from(m);
            u128::from(v) & m == u128::from(a) & m
        }
        _ => false,
    }
}

/// Finds the parent for `vip` among `candidates` (see the module doc). `current` is the
/// `carpN`'s parent if an earlier address already chose one.
pub fn find_parent<I: Copy + PartialEq>(
    vip: IpAddr,
    candidates: &[Candidate<I>],
    current: Option<I>,
) -> Result<ParentChoice<I>, Errno> {
    let mut first: Option<(usize, I)> = None;
    let mut owner = false;
    let eligible = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.on_carp && c.if_flags & IFF_MULTICAST != 0 && in_subnet(vip, c));
    for (i, c) in eligible {
        if first.is_none() {
            first = Some((i, c.iface));
        }
        if c.addr == vip {
            owner = true;
        }
    }
    let Some((index, iface)) = first else {
        return Err(Errno::EADDRNOTAVAIL);
    };
    if current.is_some_and(|p| p != iface) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    Ok(ParentChoice {
        iface,
        index,
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn masks_from_prefix_lengths() {
        assert_eq!(u32_mask(0), 0);
        assert_eq!(u32_mask(24), 0xffff_ff00);
        assert_eq!(u32_mask(32), u32::MAX);
        assert_eq!(u32_mask(40), u32::MAX);
        assert_eq!(u128_mask(64), u128::MAX << 64);
        assert_eq!(u128_mask(128), u128::MAX);
        assert_eq!(u128_mask(200), u128::MAX);
    }

    #[test]
    fn mixed_families_never_match() {
        let c = Candidate::with_prefix(
            1u32,
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            0,
            IFF_MULTICAST,
            false,
        );
        assert!(!in_subnet(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), &c));
    }
}

//! Which local vhid answers an ARP request for a legacy `carpN` address
//! (`net.inet.carp.arpbalance`, FreeBSD ≤ 9 `carp_iamatch`, reference D.4).
//!
//! ARP balancing configures several `carpN` with the *same* address and different vhids
//! on one parent; each host is master of some of them. For a request for target T from
//! source S received on the parent:
//!
//! - **balancing on**: count the vhids that are up and running and own T; index =
//!   `ntohl(S) mod count` (FreeBSD 6.0 used the raw network-order value; 9.x and we use
//!   host order, i.e. `u32::from(S)`); walk those vhids in vhid order; the one at that
//!   index answers with its virtual MAC — if this host is its MASTER. Otherwise nobody on
//!   this host answers (another host is master of that vhid and answers instead).
//! - **balancing off**: the first (lowest) vhid that is up and running, owns T and is
//!   MASTER answers.
//!
//! All hosts see the same running vhids and compute the same index, so each client is
//! answered by exactly one host. When a host fails, its vhids are taken over (MASTER
//! elsewhere) and keep running, so clients keep the same vhid — its virtual MAC simply
//! moves. A vhid that stops running everywhere (its `carpN` is down) drops out of the
//! count and the clients are spread again over the rest.

use crate::types::virtual_mac;
use core::net::Ipv4Addr;

/// One local vhid on the parent the request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpVhid {
    pub vhid: u8,
    /// The `carpN` is IFF_UP and running (vhid set, an address, parent link up).
    pub running: bool,
    /// One of its addresses is the request's target.
    pub owns_target: bool,
    /// This host is MASTER for it.
    pub master: bool,
}

impl ArpVhid {
    /// Builds the entry from the vhid's addresses and the request's target.
    pub fn with_addrs(
        vhid: u8,
        running: bool,
        master: bool,
        addrs: &[Ipv4Addr],
        target: Ipv4Addr,
    ) -> ArpVhid {
        ArpVhid {
            vhid,
            running,
            owns_target: addrs.contains(&target),
            master,
        }
    }

    fn eligible(&self) -> bool {
        self.running && self.owns_target
    }
}

/// The vhid of the `k`-th (from 0) entry in vhid order among those `keep` accepts.
/// `vhids` is expected in vhid order (the per-parent table keeps it sorted); any other
/// order gives the same answer, only slower.
fn nth_in_vhid_order(
    vhids: &[ArpVhid],
    keep: impl Fn(&ArpVhid) -> bool,
    k: usize,
) -> Option<&ArpVhid> {
    let sorted = vhids
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.vhid < b.vhid));
    if sorted {
        return vhids.iter().filter(|v| keep(v)).nth(k);
    }
    // Rank each kept entry by how many kept entries have a smaller vhid (vhids are unique).
    vhids
        .iter()
        .filter(|v| keep(v))
        .find(|v| vhids.iter().filter(|w| keep(w) && w.vhid < v.vhid).count() == k)
}

/// The vhid that answers the request from `source` for the target the entries were built
/// for, or `None` when this host stays silent. The reply carries
/// [`answer_mac`]`(vhid)` = `00:00:5e:00:01:<vhid>`.
pub fn decide(arpbalance: bool, source: Ipv4Addr, vhids: &[ArpVhid]) -> Option<u8> {
    if !arpbalance {
        return nth_in_vhid_order(vhids, |v| v.eligible() && v.master, 0).map(|v| v.vhid);
    }
    let count = vhids.iter().filter(|v| v.eligible()).count();
    let count = u32::try_from(count).ok().filter(|&c| c > 0)?;
    let index = u32::from(source).checked_rem(count)?;
    let chosen = nth_in_vhid_order(vhids, ArpVhid::eligible, usize::try_from(index).ok()?)?;
    chosen.master.then_some(chosen.vhid)
}

/// The same decision over every vhid at once, in a fixed 64 bytes (one bit per vhid for
/// "running and owns the target" and one for "master"): what the kernel's ARP hook fills
/// while walking a parent's addresses, with no limit on how many vhids share an address
/// and no allocation. Entries that do not own the target are ignored, as in [`decide`];
/// a vhid inserted twice counts once (running and master are or-ed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArpVhidSet {
    eligible: [u64; 4],
    master: [u64; 4],
}

impl ArpVhidSet {
    /// No vhid.
    pub const fn new() -> ArpVhidSet {
        ArpVhidSet { eligible: [0; 4], master: [0; 4] }
    }

    /// Adds one local vhid.
    pub fn insert(&mut self, v: ArpVhid) {
        if !v.eligible() {
            return;
        }
        let (w, bit) = (usize::from(v.vhid >> 6), 1u64 << (v.vhid & 63));
        if let Some(e) = self.eligible.get_mut(w) {
            *e |= bit;
        }
        if v.master {
            if let Some(m) = self.master.get_mut(w) {
                *m |= bit;
            }
        }
    }

    /// How many vhids are eligible (running and own the target).
    pub fn count(&self) -> u32 {
        self.eligible.iter().map(|w| w.count_ones()).sum()
    }

    /// The `k`-th eligible vhid in vhid order.
    fn nth(&self, mut k: u32) -> Option<u8> {
        for (i, &word) in (0u8..).zip(self.eligible.iter()) {
            let ones = word.count_ones();
            if k >= ones {
                k -= ones;
                continue;
            }
            let mut w = word;
            for _ in 0..k {
                w &= w.wrapping_sub(1);
            }
            let bit = u8::try_from(w.trailing_zeros()).ok()?;
            return i.checked_mul(64)?.checked_add(bit);
        }
        None
    }

    fn is_master(&self, vhid: u8) -> bool {
        self.master.get(usize::from(vhid >> 6)).is_some_and(|m| m & (1u64 << (vhid & 63)) != 0)
    }

    /// [`decide`] over the set.
    pub fn decide(&self, arpbalance: bool, source: Ipv4Addr) -> Option<u8> {
        if !arpbalance {
            let first = self
                .eligible
                .iter()
                .zip(self.master.iter())
                .zip(0u8..)
                .find_map(|((e, m), i)| {
                    let both = e & m;
                    (both != 0).then(|| i.checked_mul(64).and_then(|b| b.checked_add(u8::try_from(both.trailing_zeros()).ok()?)))
                })
                .flatten();
            return first;
        }
        let count = self.count();
        let index = u32::from(source).checked_rem(count)?;
        let chosen = self.nth(index)?;
        self.is_master(chosen).then_some(chosen)
    }
}

/// The hardware address an answer carries: the vhid's virtual MAC.
pub fn answer_mac(vhid: u8) -> [u8; 6] {
    virtual_mac(vhid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(vhid: u8, master: bool) -> ArpVhid {
        ArpVhid {
            vhid,
            running: true,
            owns_target: true,
            master,
        }
    }

    #[test]
    fn the_set_decides_as_the_slice_for_every_vhid_position() {
        // vhids across all four words, the edges included, some not master, some down.
        let mut list = alloc::vec::Vec::new();
        for (i, vhid) in [1u8, 2, 63, 64, 65, 127, 128, 200, 254, 255].into_iter().enumerate() {
            list.push(ArpVhid { vhid, running: i % 4 != 3, owns_target: i != 5, master: i % 3 != 1 });
        }
        let mut set = ArpVhidSet::new();
        for e in list.iter().rev() {
            set.insert(*e);
        }
        for s in 0..40u32 {
            let src = Ipv4Addr::from(s.wrapping_mul(2_654_435_761));
            assert_eq!(set.decide(true, src), decide(true, src, &list), "source {s}");
        }
        assert_eq!(set.decide(false, Ipv4Addr::UNSPECIFIED), decide(false, Ipv4Addr::UNSPECIFIED, &list));
        assert_eq!(ArpVhidSet::new().decide(true, Ipv4Addr::new(10, 0, 0, 1)), None);
        assert_eq!(ArpVhidSet::new().decide(false, Ipv4Addr::new(10, 0, 0, 1)), None);
    }

    #[test]
    fn unsorted_input_gives_the_sorted_answer() {
        let sorted = [v(1, true), v(2, false), v(5, true)];
        let shuffled = [v(5, true), v(1, true), v(2, false)];
        for s in 0..12u32 {
            let src = Ipv4Addr::from(s);
            assert_eq!(
                decide(true, src, &sorted),
                decide(true, src, &shuffled),
                "source {s}"
            );
        }
        assert_eq!(decide(false, Ipv4Addr::new(1, 2, 3, 4), &shuffled), Some(1));
    }
}

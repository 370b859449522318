//! The per-parent vhid container (FreeBSD's `struct carp_if`, "cif").
//!
//! A [`Table`] holds the vhids configured on one parent interface, sorted by vhid, with an
//! O(1) index from vhid (and therefore from virtual MAC `00:00:5e:00:01:<vhid>`) to its
//! slot. It answers the data-plane questions the kernel hooks ask
//! ([`Table::forus`], [`Table::is_master`], [`Table::iamatch`], [`Table::iamatch6`],
//! [`Table::macmatch6`], [`Table::vhid_of`]), applies configuration ([`Table::set`],
//! [`Table::attach`], [`Table::detach`]) and produces the GET listing ([`Table::status`]).
//!
//! Table-wide inputs ([`Table::handle_parent`], [`Table::handle_allow`],
//! [`Table::handle_demotion_change`], [`Table::handle_timeout`]) forward to every vhid in
//! vhid order; afterwards drain every vhid ([`Table::iter_mut`]) as described in
//! [`crate::vhid`].
//!
//! Allocation happens only here, on the configuration path (creating a vhid, adding an
//! address), and fails with `ENOMEM` instead of aborting. Lookups never allocate.
//!
//! Locking is the caller's: FreeBSD's `carp_forus` takes only the container lock because it
//! runs under the bridge lock; a caller holding one lock for the whole table must not send
//! packets while holding it (collect the outputs, unlock, then transmit), or it can mirror the
//! MASTER bits from `StateChanged` events for a lock-free `forus`.

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::demotion::Demotion;
use crate::types::{
    vhid_of_virtual_mac, CarpState, Errno, Family, Instant, SetRequest, Sysctls, VhidStatus,
};
use crate::vhid::{IfName, Vhid};

/// Result of [`Table::attach`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    /// This is the parent's first CARP address of its family: join 224.0.0.18 (IPv4) or
    /// ff02::12 and ff02::1:ff00:0 (IPv6) on the parent ([`Table::attach_check`] tells it
    /// before committing, so a failed join changes nothing).
    pub join_multicast: bool,
}

/// Result of [`Table::detach`].
#[derive(Debug)]
pub struct Detached {
    /// The vhid the address belonged to.
    pub vhid: u8,
    /// That was the parent's last CARP address of its family: leave the groups.
    pub leave_multicast: bool,
    /// The vhid had no address left and was destroyed (not with `keep_cif`): it has been
    /// shut down; drain its events (`poll_event`, e.g. "vhid removed"), then drop it.
    pub destroyed: Option<Vhid>,
}

/// Answer of [`Table::iamatch6`] (`carp_iamatch6`, for neighbor solicitations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Iamatch6 {
    /// Not a CARP address: the caller uses its ordinary interface address, if any.
    NotCarp,
    /// A CARP address of a MASTER vhid: answer, with the virtual MAC.
    Master { vhid: u8, mac: [u8; 6] },
    /// A CARP address of which no owning vhid is MASTER: stay silent.
    Backup,
}

/// The vhids of one parent interface.
#[derive(Debug)]
pub struct Table {
    ifname: IfName,
    demotion: Demotion,
    iff_up: bool,
    link_up: bool,
    naddrs4: u32,
    naddrs6: u32,
    /// Sorted by vhid.
    vhids: Vec<Vhid>,
    /// vhid -> position in `vhids` plus one; 0 = not configured.
    index: [u8; 256],
}

impl Table {
    /// An empty container for parent `ifname` in the VNET whose demotion is `demotion`. The
    /// parent is assumed `IFF_UP` with link up until told otherwise.
    pub fn new(ifname: IfName, demotion: Demotion) -> Table {
        Table { ifname, demotion, iff_up: true, link_up: true, naddrs4: 0, naddrs6: 0, vhids: Vec::new(), index: [0; 256] }
    }

    /// Record the parent's flags (for new vhids and for [`Table::set`]) without running the
    /// state logic; use [`Table::handle_parent`] for a change.
    pub fn set_parent_flags(&mut self, iff_up: bool, link_up: bool) {
        self.iff_up = iff_up;
        self.link_up = link_up;
        for v in self.vhids.iter_mut() {
            v.set_parent_flags(iff_up, link_up);
        }
    }

    pub fn ifname(&self) -> &IfName {
        &self.ifname
    }

    /// The parent was renamed (`ifconfig em0 name lan0`): the vhids stay, their log lines
    /// and devd subsystems (`<vhid>@<ifname>`) use the new name from now on.
    pub fn rename(&mut self, ifname: IfName) {
        self.ifname = ifname;
        for v in self.vhids.iter_mut() {
            v.set_ifname(ifname);
        }
    }

    pub fn demotion(&self) -> &Demotion {
        &self.demotion
    }

    /// Number of vhids.
    pub fn len(&self) -> usize {
        self.vhids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vhids.is_empty()
    }

    /// Number of CARP addresses of `family` on the parent (`cif_naddrs`, `cif_naddrs6`).
    pub fn address_count(&self, family: Family) -> u32 {
        match family {
            Family::Inet => self.naddrs4,
            Family::Inet6 => self.naddrs6,
        }
    }

    fn position(&self, vhid: u8) -> Option<usize> {
        let slot = *self.index.get(usize::from(vhid))?;
        usize::from(slot).checked_sub(1)
    }

    /// The vhid, in O(1).
    pub fn get(&self, vhid: u8) -> Option<&Vhid> {
        self.vhids.get(self.position(vhid)?)
    }

    pub fn get_mut(&mut self, vhid: u8) -> Option<&mut Vhid> {
        let pos = self.position(vhid)?;
        self.vhids.get_mut(pos)
    }

    /// Every vhid, in vhid order.
    pub fn iter(&self) -> core::slice::Iter<'_, Vhid> {
        self.vhids.iter()
    }

    /// Every vhid, in vhid order, mutably (to drain outputs).
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, Vhid> {
        self.vhids.iter_mut()
    }

    fn rebuild_index(&mut self) {
        self.index = [0; 256];
        for (pos, v) in self.vhids.iter().enumerate() {
            if let (Some(slot), Ok(p)) = (self.index.get_mut(usize::from(v.vhid())), u8::try_from(pos.saturating_add(1))) {
                *slot = p;
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Configuration
    // ----------------------------------------------------------------------------------

    /// Apply a SET request (SIOCSVH / netlink SET): find or create the vhid, then apply.
    /// `EINVAL` for vhid 0 or a version different from the existing vhid's; `ENOMEM` if the
    /// table cannot grow. Nothing changes on error. A created vhid starts in INIT with
    /// FreeBSD's defaults and `counter_seed` as its counter seed; it stays INIT until an
    /// address is attached.
    pub fn set(&mut self, now: Instant, req: &SetRequest, counter_seed: u64, sys: &Sysctls) -> Result<(), Errno> {
        if req.vhid == 0 {
            return Err(Errno::EINVAL);
        }
        if let Some(v) = self.get_mut(req.vhid) {
            return v.apply(now, req, sys);
        }
        let mut v = Vhid::new(req.vhid, req.version, self.ifname, self.demotion.clone(), counter_seed);
        v.set_parent_flags(self.iff_up, self.link_up);
        v.apply(now, req, sys)?;
        // Append (fallibly, without a panic path), then rotate into vhid order.
        let at = self.vhids.partition_point(|x| x.vhid() < req.vhid);
        if !crate::vhid::push_fallible(&mut self.vhids, v) {
            return Err(Errno::ENOMEM);
        }
        if let Some(tail) = self.vhids.get_mut(at..) {
            if !tail.is_empty() {
                tail.rotate_right(1);
            }
        }
        self.rebuild_index();
        Ok(())
    }

    /// The GET listing: one [`VhidStatus`] per vhid in vhid order, or only `vhid` when given
    /// (`Some(0)` means all, as in FreeBSD). `ENOENT` if that vhid does not exist.
    pub fn status(&self, vhid: Option<u8>) -> Result<StatusIter<'_>, Errno> {
        match vhid.filter(|&v| v != 0) {
            None => Ok(StatusIter { inner: self.vhids.iter() }),
            Some(v) => {
                let pos = self.position(v).ok_or(Errno::ENOENT)?;
                let slice = self.vhids.get(pos..=pos).ok_or(Errno::ENOENT)?;
                Ok(StatusIter { inner: slice.iter() })
            }
        }
    }

    /// Pre-check of [`Table::attach`]: `ENOENT` if `vhid` is not configured here; otherwise
    /// whether the caller must join the family's multicast groups before attaching.
    pub fn attach_check(&self, vhid: u8, family: Family) -> Result<bool, Errno> {
        if self.get(vhid).is_none() {
            return Err(Errno::ENOENT);
        }
        Ok(self.address_count(family) == 0)
    }

    /// Attach an address to `vhid` (`carp_attach`, B.5): the vhid recomputes its HMAC and
    /// bounces through INIT to BACKUP. `ENOENT` if the vhid does not exist (SET must create
    /// it first), `ENOMEM` if its address list cannot grow; nothing changes on error.
    pub fn attach(&mut self, now: Instant, vhid: u8, addr: IpAddr, sys: &Sysctls) -> Result<Attached, Errno> {
        let family = family_of(&addr);
        let join_multicast = self.attach_check(vhid, family)?;
        let v = self.get_mut(vhid).ok_or(Errno::ENOENT)?;
        v.add_address(now, addr, sys)?;
        match family {
            Family::Inet => self.naddrs4 = self.naddrs4.saturating_add(1),
            Family::Inet6 => self.naddrs6 = self.naddrs6.saturating_add(1),
        }
        Ok(Attached { join_multicast })
    }

    /// Detach an address from `vhid` (`carp_detach`, B.5). The caller removes that
    /// address's routes. Without `keep_cif` a vhid left without addresses is destroyed (and
    /// the caller frees the container when [`Table::is_empty`]); with `keep_cif` (the
    /// address is being replaced, E.1 "rc.newwanip") the vhid stays, in INIT, ready for the
    /// new address. `ENOENT` if the address is not attached to that vhid.
    pub fn detach(&mut self, now: Instant, vhid: u8, addr: &IpAddr, keep_cif: bool, sys: &Sysctls) -> Result<Detached, Errno> {
        let pos = self.position(vhid).ok_or(Errno::ENOENT)?;
        let v = self.vhids.get_mut(pos).ok_or(Errno::ENOENT)?;
        if !v.remove_address(now, addr, sys) {
            return Err(Errno::ENOENT);
        }
        let empty = v.address_count(Family::Inet) == 0 && v.address_count(Family::Inet6) == 0;
        let family = family_of(addr);
        let count = match family {
            Family::Inet => {
                self.naddrs4 = self.naddrs4.saturating_sub(1);
                self.naddrs4
            }
            Family::Inet6 => {
                self.naddrs6 = self.naddrs6.saturating_sub(1);
                self.naddrs6
            }
        };
        let destroyed = if empty && !keep_cif { self.remove(vhid) } else { None };
        Ok(Detached { vhid, leave_multicast: count == 0, destroyed })
    }

    /// Gives vhid `old` the number `new` in place ([`Vhid::renumber`]: state, addresses
    /// and configuration kept), keeping the table in vhid order. `EINVAL` for `new` 0,
    /// `ENOENT` if `old` is not configured, `EEXIST` if `new` is; nothing changes on
    /// error.
    pub fn renumber(&mut self, now: Instant, old: u8, new: u8) -> Result<(), Errno> {
        if new == 0 {
            return Err(Errno::EINVAL);
        }
        let pos = self.position(old).ok_or(Errno::ENOENT)?;
        if old == new {
            return Ok(());
        }
        if self.get(new).is_some() {
            return Err(Errno::EEXIST);
        }
        self.vhids.get_mut(pos).ok_or(Errno::ENOENT)?.renumber(now, new)?;
        // Move it to its new place (its index once the others stay in order): a rotation
        // of the range between the two positions, without allocation or panic path.
        let to = self
            .vhids
            .iter()
            .enumerate()
            .filter(|&(i, x)| i != pos && x.vhid() < new)
            .count();
        if to > pos {
            if let Some(range) = self.vhids.get_mut(pos..=to) {
                if !range.is_empty() {
                    range.rotate_left(1);
                }
            }
        } else if let Some(range) = self.vhids.get_mut(to..=pos) {
            if !range.is_empty() {
                range.rotate_right(1);
            }
        }
        self.rebuild_index();
        Ok(())
    }

    /// Remove a vhid (shut down, ready to drain and drop). Its addresses stop counting.
    pub fn remove(&mut self, vhid: u8) -> Option<Vhid> {
        let pos = self.position(vhid)?;
        // Rotate it to the end and pop it (order kept, no panic path).
        let tail = self.vhids.get_mut(pos..)?;
        if tail.is_empty() {
            return None;
        }
        tail.rotate_left(1);
        let mut v = self.vhids.pop()?;
        self.naddrs4 = self.naddrs4.saturating_sub(u32::try_from(v.address_count(Family::Inet)).unwrap_or(u32::MAX));
        self.naddrs6 = self.naddrs6.saturating_sub(u32::try_from(v.address_count(Family::Inet6)).unwrap_or(u32::MAX));
        self.rebuild_index();
        v.shutdown();
        Some(v)
    }

    // ----------------------------------------------------------------------------------
    // Table-wide inputs
    // ----------------------------------------------------------------------------------

    /// The parent's `IFF_UP` or link state changed (`carp_linkstate`): every vhid.
    pub fn handle_parent(&mut self, now: Instant, iff_up: bool, link_up: bool, sys: &Sysctls) {
        self.iff_up = iff_up;
        self.link_up = link_up;
        for v in self.vhids.iter_mut() {
            v.handle_parent(now, iff_up, link_up, sys);
        }
    }

    /// `allow` changed: every vhid re-runs the interface-state logic.
    pub fn handle_allow(&mut self, now: Instant, sys: &Sysctls) {
        for v in self.vhids.iter_mut() {
            v.handle_allow(now, sys);
        }
    }

    /// The send-all task: every MASTER advertises now. Returns how many will.
    pub fn handle_demotion_change(&mut self, now: Instant) -> usize {
        let mut n = 0usize;
        for v in self.vhids.iter_mut() {
            if v.is_master() {
                v.handle_demotion_change(now);
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// Earliest deadline over all vhids.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.vhids.iter().filter_map(Vhid::poll_timeout).min()
    }

    /// Run the expired timers of every vhid.
    pub fn handle_timeout(&mut self, now: Instant, sys: &Sysctls) {
        for v in self.vhids.iter_mut() {
            if v.poll_timeout().is_some_and(|t| t <= now) {
                v.handle_timeout(now, sys);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Data-plane lookups (hooks)
    // ----------------------------------------------------------------------------------

    /// `carp_forus`: is `dhost` the virtual MAC of a MASTER vhid of this parent? Frames
    /// outside 00:00:5e:00:01:xx are rejected before any lookup.
    pub fn forus(&self, dhost: &[u8; 6]) -> bool {
        let Some(vhid) = vhid_of_virtual_mac(dhost) else { return false };
        self.is_master(vhid)
    }

    /// `carp_master`: is `vhid` MASTER?
    pub fn is_master(&self, vhid: u8) -> bool {
        self.get(vhid).is_some_and(Vhid::is_master)
    }

    /// `carp_iamatch` for an address of `vhid`: the virtual MAC to answer ARP with when
    /// MASTER; `None` (stay silent) otherwise.
    pub fn iamatch(&self, vhid: u8) -> Option<[u8; 6]> {
        self.get(vhid).filter(|v| v.is_master()).map(Vhid::virtual_mac)
    }

    /// `carp_iamatch` by address: the first MASTER vhid (vhid order) owning `addr`, with
    /// its virtual MAC.
    pub fn iamatch_v4(&self, addr: &Ipv4Addr) -> Option<(u8, [u8; 6])> {
        self.vhids
            .iter()
            .find(|v| v.is_master() && v.addresses_v4().contains(addr))
            .map(|v| (v.vhid(), v.virtual_mac()))
    }

    /// `carp_master` by address: is some vhid owning `addr` MASTER?
    pub fn master_for(&self, addr: &IpAddr) -> bool {
        self.vhids.iter().any(|v| v.is_master() && v.has_address(addr))
    }

    /// `carp_iamatch6`: whether a neighbor solicitation for `addr` gets an answer.
    pub fn iamatch6(&self, addr: &Ipv6Addr) -> Iamatch6 {
        let mut carp = false;
        for v in self.vhids.iter() {
            if v.addresses_v6().contains(addr) {
                if v.is_master() {
                    return Iamatch6::Master { vhid: v.vhid(), mac: v.virtual_mac() };
                }
                carp = true;
            }
        }
        if carp {
            Iamatch6::Backup
        } else {
            Iamatch6::NotCarp
        }
    }

    /// `carp_macmatch6`: for a CARP address (any state), the vhid and virtual MAC to put in
    /// the NA's target link-layer option and the packet tag; `None` if not a CARP address.
    pub fn macmatch6(&self, addr: &Ipv6Addr) -> Option<(u8, [u8; 6])> {
        self.vhids.iter().find(|v| v.addresses_v6().contains(addr)).map(|v| (v.vhid(), v.virtual_mac()))
    }

    /// `carp_get_vhid` by address: the vhid `addr` is attached to (first in vhid order).
    pub fn vhid_of(&self, addr: &IpAddr) -> Option<u8> {
        self.vhids.iter().find(|v| v.has_address(addr)).map(Vhid::vhid)
    }

    /// Whether any vhid may have something to send ([`Vhid::transmit_pending`]).
    pub fn transmit_pending(&self) -> bool {
        self.vhids.iter().any(Vhid::transmit_pending)
    }

    /// Hand an advertisement accepted by [`crate::input`] (run with this table as its
    /// [`crate::input::VhidLookup`]) to its vhid. Returns `false` if the vhid is gone.
    pub fn handle_advert(&mut self, now: Instant, adv: &crate::input::Advert, sys: &Sysctls) -> bool {
        match self.get_mut(adv.vhid()) {
            Some(v) => {
                v.handle_advert(now, adv, sys);
                true
            }
            None => false,
        }
    }

    /// State of `vhid`, if configured.
    pub fn state(&self, vhid: u8) -> Option<CarpState> {
        self.get(vhid).map(Vhid::state)
    }
}

/// The receiving interface's CARP container, as the receive pipeline sees it.
impl crate::input::VhidLookup for Table {
    type Vhid = Vhid;

    /// `carp_find_ifa`: the vhid, if it has an address of `family` here.
    fn find(&self, family: Family, vhid: u8) -> Option<&Vhid> {
        self.get(vhid).filter(|v| v.address_count(family) > 0)
    }

    /// `carp_source_is_self`: `src` is one of this parent's CARP addresses.
    fn source_is_self(&self, src: &IpAddr) -> bool {
        self.vhids.iter().any(|v| v.has_address(src))
    }
}

/// Iterator over [`VhidStatus`] records, in vhid order.
#[derive(Clone, Debug)]
pub struct StatusIter<'a> {
    inner: core::slice::Iter<'a, Vhid>,
}

impl Iterator for StatusIter<'_> {
    type Item = VhidStatus;

    fn next(&mut self) -> Option<VhidStatus> {
        self.inner.next().map(Vhid::status)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for StatusIter<'_> {}

fn family_of(addr: &IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::Inet,
        IpAddr::V6(_) => Family::Inet6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Version, CARP_KEY_LEN};
    use crate::vhid::Event;
    use alloc::vec::Vec;

    fn sys() -> Sysctls {
        Sysctls::default()
    }

    fn t0() -> Instant {
        Instant::from_micros(1_000_000)
    }

    fn req(vhid: u8) -> SetRequest {
        SetRequest {
            vhid,
            state: None,
            advbase: None,
            advskew: None,
            key: None,
            peer4: None,
            peer6: None,
            version: Version::Carp,
            vrrp_priority: None,
            vrrp_interval_cs: None,
        }
    }

    fn table() -> Table {
        Table::new(IfName::new("em0"), Demotion::new())
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn drain(t: &mut Table) {
        for v in t.iter_mut() {
            while v.poll_event().is_some() {}
            while v.poll_transmit().is_some() {}
            while v.poll_route().is_some() {}
        }
    }

    #[test]
    fn rename_changes_the_name_in_state_lines_and_devd() {
        let mut t = table();
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        drain(&mut t);
        t.rename(IfName::new("lan0"));
        assert_eq!(t.ifname().as_str(), "lan0");
        let later = Instant::from_micros(10_000_000);
        t.handle_timeout(later, &sys());
        let v = t.get_mut(1).unwrap();
        assert!(v.is_master());
        let mut lines = Vec::new();
        while let Some(e) = v.poll_event() {
            if let Event::StateChanged(c) = e {
                lines.push((alloc::format!("{c}"), alloc::format!("{}", c.devd())));
            }
        }
        assert_eq!(
            lines,
            [(
                alloc::string::String::from("carp: 1@lan0: BACKUP -> MASTER (master timed out)"),
                alloc::string::String::from("system=CARP subsystem=1@lan0 type=MASTER")
            )]
        );
    }

    #[test]
    fn renumber_keeps_state_and_order_and_rekeys() {
        let mut t = table();
        for vhid in [2u8, 5, 9, 30] {
            t.set(t0(), &req(vhid), 0, &sys()).unwrap();
            t.attach(t0(), vhid, v4(vhid), &sys()).unwrap();
        }
        let later = Instant::from_micros(10_000_000);
        t.handle_timeout(later, &sys());
        drain(&mut t);
        assert!(t.is_master(5));
        let md_old = t.get(5).unwrap().status();
        assert_eq!(t.renumber(later, 5, 20), Ok(()));
        assert_eq!(t.iter().map(Vhid::vhid).collect::<Vec<_>>(), [2, 9, 20, 30]);
        assert!(t.get(5).is_none());
        let v = t.get(20).unwrap();
        assert!(v.is_master());
        assert!(v.has_address(&v4(5)));
        assert_eq!(v.virtual_mac(), [0, 0, 0x5e, 0, 1, 20]);
        assert!(t.forus(&[0, 0, 0x5e, 0, 1, 20]));
        assert!(!t.forus(&[0, 0, 0x5e, 0, 1, 5]));
        assert_eq!(t.vhid_of(&v4(5)), Some(20));
        // Same configuration, new number.
        let s = t.status(Some(20)).unwrap().next().unwrap();
        assert_eq!((s.advbase, s.advskew, s.key), (md_old.advbase, md_old.advskew, md_old.key));
        // A MASTER advertises at once under the new number and announces its address.
        let v = t.get_mut(20).unwrap();
        let mut carp = None;
        let mut garp = None;
        while let Some(tx) = v.poll_transmit() {
            match tx {
                crate::vhid::Transmit::Carp(c) => carp = Some((c.vhid, c.counter, c.md)),
                crate::vhid::Transmit::GratuitousArp { addr, mac } => garp = Some((addr, mac)),
                _ => {}
            }
        }
        let (vh, counter, md) = carp.expect("an advertisement");
        assert_eq!(vh, 20);
        assert!(t.get(20).unwrap().verify(counter, &md), "signed with the new vhid");
        let signed_old = crate::auth::Authenticator::new(&[0; CARP_KEY_LEN], 5, &[Ipv4Addr::new(192, 0, 2, 5)], &[]).sign(counter);
        assert_ne!(signed_old, md);
        assert_eq!(garp, Some((Ipv4Addr::new(192, 0, 2, 5), [0, 0, 0x5e, 0, 1, 20])));
        // Downwards too, past two others.
        assert_eq!(t.renumber(later, 30, 1), Ok(()));
        assert_eq!(t.iter().map(Vhid::vhid).collect::<Vec<_>>(), [1, 2, 9, 20]);
        for vhid in [1u8, 2, 9, 20] {
            assert_eq!(t.get(vhid).unwrap().vhid(), vhid);
        }
    }

    #[test]
    fn renumber_refuses_taken_missing_and_zero_without_change() {
        let mut t = table();
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.set(t0(), &req(2), 0, &sys()).unwrap();
        assert_eq!(t.renumber(t0(), 1, 2), Err(Errno::EEXIST));
        assert_eq!(t.renumber(t0(), 3, 4), Err(Errno::ENOENT));
        assert_eq!(t.renumber(t0(), 1, 0), Err(Errno::EINVAL));
        assert_eq!(t.renumber(t0(), 1, 1), Ok(()));
        assert_eq!(t.iter().map(Vhid::vhid).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn set_creates_vhids_sorted_with_o1_index() {
        let mut t = table();
        for vhid in [7u8, 3, 200, 1, 255] {
            t.set(t0(), &req(vhid), 0, &sys()).unwrap();
        }
        let order: Vec<u8> = t.iter().map(Vhid::vhid).collect();
        assert_eq!(order, [1, 3, 7, 200, 255]);
        for vhid in [1u8, 3, 7, 200, 255] {
            assert_eq!(t.get(vhid).unwrap().vhid(), vhid);
        }
        assert!(t.get(2).is_none());
        assert!(t.get(0).is_none());
        let statuses: Vec<u8> = t.status(None).unwrap().map(|s| s.vhid).collect();
        assert_eq!(statuses, [1, 3, 7, 200, 255]);
    }

    #[test]
    fn set_rejects_vhid_zero_and_version_mismatch_without_change() {
        let mut t = table();
        assert_eq!(t.set(t0(), &req(0), 0, &sys()), Err(Errno::EINVAL));
        assert!(t.is_empty());
        let mut r = req(5);
        r.advskew = Some(50);
        t.set(t0(), &r, 0, &sys()).unwrap();
        let mut vrrp = req(5);
        vrrp.version = Version::Vrrp3;
        vrrp.vrrp_priority = Some(200);
        vrrp.state = Some(CarpState::Master);
        assert_eq!(t.set(t0(), &vrrp, 0, &sys()), Err(Errno::EINVAL));
        let s = t.status(Some(5)).unwrap().next().unwrap();
        assert_eq!(s.version, Version::Carp);
        assert_eq!(s.advskew, 50);
        assert_eq!(s.vrrp_priority, 100);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn set_keeps_unspecified_fields() {
        let mut t = table();
        let mut r = req(1);
        r.advbase = Some(3);
        r.advskew = Some(100);
        r.key = Some([7; CARP_KEY_LEN]);
        r.peer4 = Some(Ipv4Addr::new(198, 51, 100, 224));
        t.set(t0(), &r, 0, &sys()).unwrap();
        let mut r2 = req(1);
        r2.advskew = Some(2);
        t.set(t0(), &r2, 0, &sys()).unwrap();
        let s = t.status(Some(1)).unwrap().next().unwrap();
        assert_eq!((s.advbase, s.advskew), (3, 2));
        assert_eq!(s.key, [7; CARP_KEY_LEN]);
        // unicast_v4: tweaking settings keeps the peer.
        assert_eq!(s.peer4, Ipv4Addr::new(198, 51, 100, 224));
        assert_eq!(s.peer6, crate::types::CARP_GROUP_V6);
    }

    #[test]
    fn status_filter_and_enoent() {
        let mut t = table();
        t.set(t0(), &req(2), 0, &sys()).unwrap();
        t.set(t0(), &req(4), 0, &sys()).unwrap();
        assert_eq!(t.status(Some(4)).unwrap().map(|s| s.vhid).collect::<Vec<_>>(), [4]);
        assert_eq!(t.status(Some(0)).unwrap().len(), 2);
        assert_eq!(t.status(Some(3)).err(), Some(Errno::ENOENT));
    }

    #[test]
    fn attach_requires_an_existing_vhid_and_reports_multicast_join() {
        let mut t = table();
        assert_eq!(t.attach(t0(), 1, v4(1), &sys()), Err(Errno::ENOENT));
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.set(t0(), &req(2), 0, &sys()).unwrap();
        assert_eq!(t.attach_check(1, Family::Inet), Ok(true));
        assert_eq!(t.attach(t0(), 1, v4(1), &sys()), Ok(Attached { join_multicast: true }));
        assert_eq!(t.attach(t0(), 2, v4(2), &sys()), Ok(Attached { join_multicast: false }));
        let v6 = IpAddr::V6("2001:db8::1".parse().unwrap());
        assert_eq!(t.attach(t0(), 2, v6, &sys()), Ok(Attached { join_multicast: true }));
        assert_eq!(t.address_count(Family::Inet), 2);
        assert_eq!(t.address_count(Family::Inet6), 1);
        assert_eq!(t.state(1), Some(CarpState::Backup));
    }

    #[test]
    fn detach_last_address_destroys_the_vhid_unless_keep_cif() {
        let mut t = table();
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        drain(&mut t);

        // Replacing the address (keep_cif): the vhid survives, in INIT.
        let d = t.detach(t0(), 1, &v4(1), true, &sys()).unwrap();
        assert!(d.destroyed.is_none());
        assert!(d.leave_multicast);
        assert_eq!(t.state(1), Some(CarpState::Init));
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        assert_eq!(t.state(1), Some(CarpState::Backup));

        // Plain delete: the vhid goes away.
        let d = t.detach(t0(), 1, &v4(1), false, &sys()).unwrap();
        let mut gone = d.destroyed.unwrap();
        assert_eq!(gone.vhid(), 1);
        assert!(t.is_empty());
        assert_eq!(t.address_count(Family::Inet), 0);
        assert!(matches!(gone.poll_event(), Some(Event::StateChanged(_))));
        assert_eq!(t.detach(t0(), 1, &v4(1), false, &sys()).err(), Some(Errno::ENOENT));
    }

    #[test]
    fn removing_a_demoted_vhid_releases_its_demotion() {
        let mut t = table();
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        t.handle_parent(t0(), true, false, &sys());
        assert_eq!(t.demotion().value(), 240);
        drain(&mut t);
        let d = t.detach(t0(), 1, &v4(1), false, &sys()).unwrap();
        let mut v = d.destroyed.unwrap();
        assert_eq!(t.demotion().value(), 0);
        let mut lines = Vec::new();
        while let Some(e) = v.poll_event() {
            lines.push(alloc::format!("{e}"));
        }
        assert_eq!(lines.last().map(|s| s.as_str()), Some("carp: demoted by -240 to 0 (vhid removed)"));
    }

    #[test]
    fn forus_matches_only_master_virtual_macs() {
        let mut t = table();
        let mut r = req(1);
        r.state = None;
        t.set(t0(), &r, 0, &sys()).unwrap();
        t.set(t0(), &req(2), 0, &sys()).unwrap();
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        t.attach(t0(), 2, v4(2), &sys()).unwrap();
        t.get_mut(1).unwrap().force_state(t0(), CarpState::Master, &sys());
        assert!(t.forus(&[0, 0, 0x5e, 0, 1, 1]));
        assert!(!t.forus(&[0, 0, 0x5e, 0, 1, 2]), "vhid 2 is BACKUP");
        assert!(!t.forus(&[0, 0, 0x5e, 0, 1, 3]), "vhid 3 does not exist");
        assert!(!t.forus(&[0, 0, 0x5e, 0, 2, 1]), "not the CARP prefix");
        assert!(!t.forus(&[0x02, 0, 0x5e, 0, 1, 1]));
        assert!(!t.forus(&[0, 0, 0x5e, 0, 1, 0]));
    }

    #[test]
    fn arp_and_nd_lookups() {
        let mut t = table();
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.set(t0(), &req(2), 0, &sys()).unwrap();
        let a6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let b6: Ipv6Addr = "2001:db8::2".parse().unwrap();
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        t.attach(t0(), 1, IpAddr::V6(a6), &sys()).unwrap();
        t.attach(t0(), 2, IpAddr::V6(b6), &sys()).unwrap();
        t.get_mut(1).unwrap().force_state(t0(), CarpState::Master, &sys());

        assert_eq!(t.iamatch(1), Some([0, 0, 0x5e, 0, 1, 1]));
        assert_eq!(t.iamatch(2), None);
        assert_eq!(t.iamatch_v4(&Ipv4Addr::new(192, 0, 2, 1)), Some((1, [0, 0, 0x5e, 0, 1, 1])));
        assert_eq!(t.iamatch_v4(&Ipv4Addr::new(192, 0, 2, 9)), None);
        assert!(t.master_for(&v4(1)));
        assert!(!t.master_for(&IpAddr::V6(b6)));

        assert_eq!(t.iamatch6(&a6), Iamatch6::Master { vhid: 1, mac: [0, 0, 0x5e, 0, 1, 1] });
        assert_eq!(t.iamatch6(&b6), Iamatch6::Backup);
        assert_eq!(t.iamatch6(&"2001:db8::99".parse().unwrap()), Iamatch6::NotCarp);
        // macmatch6 answers for any CARP address, whatever its state.
        assert_eq!(t.macmatch6(&b6), Some((2, [0, 0, 0x5e, 0, 1, 2])));
        assert_eq!(t.macmatch6(&"2001:db8::99".parse().unwrap()), None);

        assert_eq!(t.vhid_of(&IpAddr::V6(b6)), Some(2));
        assert_eq!(t.vhid_of(&v4(1)), Some(1));
        assert_eq!(t.vhid_of(&v4(77)), None);
    }

    #[test]
    fn parent_down_demotes_every_vhid_once() {
        let mut t = table();
        for vhid in 1..=3u8 {
            t.set(t0(), &req(vhid), 0, &sys()).unwrap();
            t.attach(t0(), vhid, v4(vhid), &sys()).unwrap();
        }
        t.handle_parent(t0(), true, false, &sys());
        assert_eq!(t.demotion().value(), 3 * 240);
        assert_eq!(t.demotion().suppress_preempt(), 3);
        // A second down event does not stack.
        t.handle_parent(t0(), false, false, &sys());
        assert_eq!(t.demotion().value(), 3 * 240);
        assert!(t.iter().all(|v| v.state() == CarpState::Init));
        t.handle_parent(t0(), true, true, &sys());
        assert_eq!(t.demotion().value(), 0);
        assert!(t.iter().all(|v| v.state() == CarpState::Backup));
    }

    #[test]
    fn demotion_change_makes_every_master_advertise() {
        let mut t = table();
        for vhid in 1..=3u8 {
            t.set(t0(), &req(vhid), 0, &sys()).unwrap();
            t.attach(t0(), vhid, v4(vhid), &sys()).unwrap();
        }
        t.get_mut(1).unwrap().force_state(t0(), CarpState::Master, &sys());
        t.get_mut(3).unwrap().force_state(t0(), CarpState::Master, &sys());
        drain(&mut t);
        t.demotion().adjust(50, crate::demotion::DemotionReason::Sysctl);
        assert_eq!(t.handle_demotion_change(t0()), 2);
        let skews: Vec<(u8, u8)> = t
            .iter_mut()
            .filter_map(|v| match v.poll_transmit() {
                Some(crate::vhid::Transmit::Carp(c)) => Some((c.vhid, c.advskew)),
                _ => None,
            })
            .collect();
        assert_eq!(skews, [(1, 50), (3, 50)]);
    }

    #[test]
    fn table_timeouts_drive_every_vhid() {
        let mut t = table();
        t.set(t0(), &req(1), 0, &sys()).unwrap();
        t.set(t0(), &req(2), 0, &sys()).unwrap();
        t.attach(t0(), 1, v4(1), &sys()).unwrap();
        t.attach(t0(), 2, v4(2), &sys()).unwrap();
        let dl = t.poll_timeout().unwrap();
        assert_eq!(dl.as_micros() - t0().as_micros(), 3_000_000);
        t.handle_timeout(dl, &sys());
        assert!(t.iter().all(Vhid::is_master));
    }
}

//! The modern model's configuration: a parent's vhids ([`set`]), the addresses bound to
//! them ([`attach_to`], [`detach_from`]), and the parent containers, created on the first
//! vhid and freed with [`release_parent`]. Every check and codec is carp-proto's
//! (`carp_proto::config`), called in FreeBSD's order; requests reach these functions
//! through [`crate::request`] (modern) and [`crate::legacy`] (a `carpN` binds through
//! the same functions). Callers hold the configuration lock.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::IpAddr;

use carp_proto::config;
use carp_proto::table::Table;
use carp_proto::{Errno, Family, SetRequest, VhidStatus};

use crate::cif::{self, CifData};
use carp_kpi::container::Published;
use carp_kpi::ifnet::{IfRef, IfaRef, Ifaddr, Ifnet, Promisc};
use carp_kpi::log;
use carp_kpi::net;
use carp_kpi::sync::ConfigGuard;
use crate::state::{self, Global, Parent, GLOBAL};


fn family_of(a: &IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::Inet,
        IpAddr::V6(_) => Family::Inet6,
    }
}

/// Detaches every address of a parent and frees it (unload, interface departure, or last
/// vhid gone), as removing each address would (`carp_detach`): each vhid bounces through
/// INIT and is destroyed with its last address, with the log lines, devd events and
/// demotion release that brings; a vhid without addresses is destroyed too. Each address
/// that was bound, now plain, is handed to `unbound` with a reference: unload removes
/// them from their interfaces; other callers pass `drop`. The caller is in the parent's
/// VNET and holds the configuration lock, not the container's.
pub fn release_parent(p: Parent, mut unbound: impl FnMut(IfaRef)) {
    let cif = p.link.get();
    let sys = net::with_vnet(cif.vnet, state::sysctls);
    loop {
        let mut taken: Option<(IfaRef, bool)> = None;
        let mut destroyed = None;
        net::in_net_epoch(|e| {
            cif::run(cif, p.link.ifp(), e, &sys, |inner, now| {
                // The first bound address (in the order they were added).
                if inner.ifas.is_empty() {
                    return;
                }
                let list = inner.ifas.edit();
                list.rotate_left(1);
                let Some((r, vhid)) = list.pop() else { return };
                let had_routes = inner.table.get(vhid).is_some_and(|v| v.routes_installed());
                if let Ok(addr) = r.get().addr() {
                    if let Ok(d) = inner.table.detach(now, vhid, &addr, false, &sys) {
                        destroyed = d.destroyed;
                    }
                }
                taken = Some((r, had_routes));
            })
        });
        let Some((r, had_routes)) = taken else { break };
        if had_routes {
            r.routes(false);
        }
        r.clear_carp();
        net::defer_release();
        if let Some(mut v) = destroyed {
            cif::drain_removed(&mut v, &sys);
        }
        unbound(r);
    }
    // Vhids that had no address (created by SET, never bound).
    loop {
        let removed = {
            let mut g = cif.inner.lock();
            let first = g.table.iter().next().map(|v| v.vhid());
            first.and_then(|vhid| g.table.remove(vhid))
        };
        let Some(mut v) = removed else { break };
        cif::drain_removed(&mut v, &sys);
    }
    let _ = cif.mcast4.take();
    let _ = cif.mcast6.take();
    drop(p);
}

/// The number of addresses bound to vhids (unload reserves room to list them).
pub fn bound_count(global: &Global) -> usize {
    global.parents.iter().map(|p| p.link.get().inner.lock().ifas.len()).fold(0usize, usize::saturating_add)
}

/// Applies a validated SET to `ifp` (creating its container on the first vhid).
/// (A carpN's vhid is created on its parent through it too.)
pub(crate) fn set(g: &mut ConfigGuard, ifp: IfRef, req: &SetRequest) -> Result<(), Errno> {
    let global = GLOBAL.get(g);
    let idx = match global.parent_index(&ifp.get()) {
        Some(i) => i,
        None => {
            let i = ifp.get();
            // The interface may have departed since the caller looked it up (its
            // departure handler, which needs the configuration lock we hold, found no
            // container): a container now would never be released. Departure unlinks
            // the interface before the event, so this check under the lock closes it.
            if !i.is_linked() {
                return Err(Errno::ENXIO);
            }
            let mut table = Table::new(i.name(), net::with_vnet(i.vnet(), state::demotion));
            table.set_parent_flags(i.is_up(), i.link_up());
            let data = CifData::new(table, i.vnet(), i.is_up(), i.link_up());
            let promisc = match Promisc::enable(&i) {
                Ok(p) => Some(p),
                Err(e) => {
                    log::info_fmt(format_args!("carp_alloc_if: ifpromisc({}) failed: {}", i.name(), e.as_i32()));
                    None
                }
            };
            let link = Published::publish(i.to_ref(), data)?;
            if let Err(p) = crate::util::push(&mut global.parents, Parent { link, _promisc: promisc }) {
                release_parent(p, drop);
                return Err(Errno::ENOMEM);
            }
            global.parents.len().saturating_sub(1)
        }
    };
    let Some(p) = global.parents.get(idx) else { return Err(Errno::ENOENT) };
    let cif = p.link.get();
    let ifp = p.link.ifp();
    let sys = net::with_vnet(cif.vnet, state::sysctls);
    let seed = net::random_u64();
    let mut result = Ok(());
    net::in_net_epoch(|e| {
        cif::run(cif, ifp, e, &sys, |inner, now| result = inner.table.set(now, req, seed, &sys));
    });
    let empty = cif.inner.lock().table.is_empty();
    if empty {
        // A failed first SET leaves no container behind.
        if let Some(p) = crate::util::take_at(&mut global.parents, idx) {
            release_parent(p, drop);
        }
    }
    result
}

/// Statuses of every vhid of `ifp`'s container (`None`: no container).
pub(crate) fn statuses(global: &mut Global, ifp: &Ifnet<'_>) -> Result<Option<Vec<VhidStatus>>, Errno> {
    let Some(idx) = global.parent_index(&ifp) else { return Ok(None) };
    let Some(p) = global.parents.get(idx) else { return Ok(None) };
    let g = p.link.get().inner.lock();
    let mut v = Vec::new();
    v.try_reserve_exact(g.table.len()).map_err(|_| Errno::ENOMEM)?;
    for s in g.table.status(None)? {
        if crate::util::push(&mut v, s).is_err() {
            return Err(Errno::ENOMEM);
        }
    }
    Ok(Some(v))
}






/// Binds `ifa` to `vhid` of the container of `ifp` (the address's own interface, or for
/// a carpN, the parent found by subnet).
pub(crate) fn attach_to(global: &mut Global, ifa: Ifaddr<'_>, ifp: Ifnet<'_>, vhid: u8) -> Result<(), Errno> {
    let addr = ifa.addr();
    let sa_family = match addr {
        Ok(IpAddr::V4(_)) => config::AF_INET,
        Ok(IpAddr::V6(_)) => config::AF_INET6,
        Err(af) => af,
    };
    let idx = global.parent_index(&ifp);
    let configured = idx
        .and_then(|i| global.parents.get(i))
        .is_some_and(|p| p.link.get().inner.lock().table.get(vhid).is_some());
    config::attach_check(sa_family, idx.is_some(), configured)?;
    let (Ok(addr), Some(p)) = (addr, idx.and_then(|i| global.parents.get(i))) else {
        return Err(Errno::EPROTOTYPE);
    };
    let cif = p.link.get();
    let family = family_of(&addr);
    if !cif.mcast(family).is_set() {
        let mc = carp_kpi::ifnet::Mcast::join(&ifp, family)?;
        let mc = Box::try_new(mc).map_err(|_| Errno::ENOMEM)?;
        let _ = cif.mcast(family).set(mc);
    }
    let r = ifa.to_ref();
    let sys = net::with_vnet(cif.vnet, state::sysctls);
    // A spare entry first, so that its detach can always be deferred
    // (carp_kpi::entry::detach); given back if the binding fails.
    net::defer_reserve();
    let mut result = Ok(());
    net::in_net_epoch(|e| {
        cif::run(cif, p.link.ifp(), e, &sys, |inner, now| {
            let entry = (r.clone_ref(), vhid);
            if let Err(entry) = crate::util::push(inner.ifas.edit(), entry) {
                drop(entry);
                result = Err(Errno::ENOMEM);
                return;
            }
            match inner.table.attach(now, vhid, addr, &sys) {
                Ok(_) => r.set_carp(cif),
                Err(e) => {
                    let _ = inner.ifas.edit().pop();
                    result = Err(e);
                }
            }
        })
    });
    if result.is_err() && cif.inner.lock().table.address_count(family) == 0 {
        drop(cif.mcast(family).take());
    }
    if result.is_err() {
        net::defer_release();
    }
    result
}


/// Unbinds `ifa` from the container of `ifp` (its own interface, or for a carpN,
/// the parent). Returns the vhid the address was bound to if that vhid was destroyed.
pub(crate) fn detach_from(global: &mut Global, ifa: Ifaddr<'_>, ifp: Ifnet<'_>, keep_cif: bool) -> Option<u8> {
    let idx = global.parent_index(&ifp)?;
    let p = global.parents.get(idx)?;
    let cif = p.link.get();
    let Ok(addr) = ifa.addr() else { return None };
    let sys = net::with_vnet(cif.vnet, state::sysctls);
    let mut removed = None;
    let mut leave = false;
    let mut destroyed = None;
    net::in_net_epoch(|e| {
        cif::run(cif, p.link.ifp(), e, &sys, |inner, now| {
            let Some(vhid) = inner.vhid_of_ifa(&ifa) else { return };
            if let Some(pos) = inner.ifas.iter().position(|(r, _)| ifa.same(r)) {
                removed = crate::util::take_at(inner.ifas.edit(), pos).map(|(r, _)| r);
            }
            if let Ok(d) = inner.table.detach(now, vhid, &addr, keep_cif, &sys) {
                leave = d.leave_multicast;
                destroyed = d.destroyed;
            }
        })
    });
    if let Some(r) = removed {
        // A deferred detach (see carp_kpi::entry::detach) can come after the same address was
        // added again: its loopback route and neighbour entry are the new address's now.
        let readded = r.get().ifp().is_some_and(|i| i.has_other_ifa_like(&r.get()));
        if !readded {
            r.routes(false);
        }
        r.clear_carp();
        net::defer_release();
    }
    let gone = destroyed.as_ref().map(|v| v.vhid());
    if let Some(mut v) = destroyed {
        cif::drain_removed(&mut v, &sys);
    }
    if leave {
        drop(cif.mcast(family_of(&addr)).take());
    }
    let empty = cif.inner.lock().table.is_empty();
    if empty && !keep_cif {
        if let Some(p) = crate::util::take_at(&mut global.parents, idx) {
            release_parent(p, drop);
        }
    }
    gone
}




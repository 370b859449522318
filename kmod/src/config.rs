//! The configuration plane: SIOCSVH/SIOCGVH, the generic netlink family "carp",
//! carp_attach and carp_detach. Every check and codec is carp-proto's
//! (`carp_proto::config`), called in FreeBSD's order; this file looks up interfaces,
//! creates and frees parent containers and holds the locks (see [`crate::module`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::CStr;
use core::net::IpAddr;

use carp_proto::config::{self, carpreq, netlink, Interface, Model, Op};
use carp_proto::table::Table;
use carp_proto::{Errno, Family, SetRequest, VhidStatus};

use crate::cif::{self, Cif};
use crate::kpi::ifnet::{CifLink, IfRef, IfaRef, Ifaddr, Ifnet, Promisc};
use crate::kpi::log;
use crate::kpi::net;
use crate::kpi::req::{Ifreq, NlRequest, Thread};
use crate::kpi::sync::ConfigGuard;
use crate::module::{self, Global, Parent, GLOBAL};

fn interface_of(ifp: Option<&IfRef>) -> Option<Interface> {
    ifp.map(|r| {
        let i = r.get();
        // Issue 5: our own carpN are the legacy model.
        Interface { if_type: i.if_type(), if_flags: i.flags(), carp_clone: i.is_carp_clone() }
    })
}

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
    let cif = p.link.cif();
    let sys = net::with_vnet(cif.vnet, module::sysctls);
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
        r.set_carp(None);
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
    global.parents.iter().map(|p| p.link.cif().inner.lock().ifas.len()).fold(0usize, usize::saturating_add)
}

/// Applies a validated SET to `ifp` (creating its container on the first vhid).
/// (pub(crate): issue 5's legacy carpN create their vhid on the parent through it.)
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
            let table = Table::new(i.name(), net::with_vnet(i.vnet(), module::demotion));
            let cif = Box::try_new(Cif::new(table, i.to_ref(), i.is_up(), i.link_up())).map_err(|_| Errno::ENOMEM)?;
            cif.init_in_place();
            cif.inner.lock().table.set_parent_flags(i.is_up(), i.link_up());
            let promisc = match Promisc::enable(&i) {
                Ok(p) => Some(p),
                Err(e) => {
                    log::info_fmt(format_args!("carp_alloc_if: ifpromisc({}) failed: {}", i.name(), e.as_i32()));
                    None
                }
            };
            let link = CifLink::publish(cif);
            if let Err(p) = crate::util::push(&mut global.parents, Parent { link, _promisc: promisc }) {
                release_parent(p, drop);
                return Err(Errno::ENOMEM);
            }
            global.parents.len().saturating_sub(1)
        }
    };
    let Some(p) = global.parents.get(idx) else { return Err(Errno::ENOENT) };
    let cif = p.link.cif();
    let ifp = p.link.ifp();
    let sys = net::with_vnet(cif.vnet, module::sysctls);
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
fn statuses(global: &mut Global, ifp: &Ifnet<'_>) -> Result<Option<Vec<VhidStatus>>, Errno> {
    let Some(idx) = global.parent_index(&ifp) else { return Ok(None) };
    let Some(p) = global.parents.get(idx) else { return Ok(None) };
    let g = p.link.cif().inner.lock();
    let mut v = Vec::new();
    v.try_reserve_exact(g.table.len()).map_err(|_| Errno::ENOMEM)?;
    for s in g.table.status(None)? {
        if crate::util::push(&mut v, s).is_err() {
            return Err(Errno::ENOMEM);
        }
    }
    Ok(Some(v))
}

/// SIOCSVH / SIOCGVH.
pub fn ioctl(ifr: &Ifreq<'_>, cmd: u64, td: Thread<'_>) -> Result<(), Errno> {
    let op = match cmd {
        carpreq::SIOCSVH => Op::IoctlSet,
        carpreq::SIOCGVH => Op::IoctlGet,
        _ => return Err(Errno::EINVAL),
    };
    let mut raw = [0u8; carpreq::CARPREQ_LEN];
    ifr.copyin(&mut raw)?;
    let req = carpreq::decode(&raw)?;
    let name = ifr.name();
    let ifp = CStr::from_bytes_until_nul(&name).ok().and_then(IfRef::by_name);
    let model = config::check_interface(interface_of(ifp.as_ref()), op)?;
    let Some(ifp) = ifp else { return Err(Errno::ENXIO) };
    // Issue 5: SIOCSVH/SIOCGVH naming one of our carpN act on that carpN's vhid.
    if model == Model::Legacy {
        return match op {
            Op::IoctlSet => crate::legacy::ioctl_set(&ifp, &req, td.has_carp_priv()),
            _ => ifr.copyout(&crate::legacy::ioctl_get(&ifp, td.cred_has_carp_priv())?),
        };
    }
    let mut g = ConfigGuard::lock();
    match op {
        Op::IoctlSet => {
            let sr = carpreq::ioctl_set(&req, td.has_carp_priv())?;
            // Issue 5: a vhid one of our carpN uses on this parent is EEXIST.
            crate::legacy::check_modern(&mut g, &ifp.get(), sr.vhid)?;
            set(&mut g, ifp, &sr)
        }
        _ => {
            let all = statuses(GLOBAL.get(&mut g), &ifp.get())?;
            let count = usize::try_from(req.count.clamp(1, 255)).unwrap_or(1);
            let mut out = crate::kpi::alloc::zeroed_bytes(count.saturating_mul(carpreq::CARPREQ_LEN))?;
            let n = carpreq::ioctl_get(&req, all.as_deref(), td.cred_has_carp_priv(), &mut out)?;
            ifr.copyout(out.get(..n).ok_or(Errno::EMSGSIZE)?)
        }
    }
}

/// Netlink: the interface a request names.
fn nl_ifp(sel: &netlink::IfSelector<'_>) -> Option<IfRef> {
    match sel {
        netlink::IfSelector::Name(n) => {
            let mut buf = [0u8; 17];
            if n.len() >= buf.len() {
                return None;
            }
            buf.get_mut(..n.len())?.copy_from_slice(n);
            IfRef::by_name(CStr::from_bytes_until_nul(&buf).ok()?)
        }
        netlink::IfSelector::Index(i) => IfRef::by_index(*i),
        netlink::IfSelector::None => None,
    }
}

/// CARP_NL_CMD_SET (privilege already checked by the genl framework: PRIV_NETINET_CARP).
pub fn nl_set(r: &NlRequest<'_>) -> Result<(), Errno> {
    let cmd = netlink::decode_set(r.msg())?;
    let ifp = nl_ifp(&cmd.iface);
    let model = config::check_interface(interface_of(ifp.as_ref()), Op::NetlinkSet)?;
    let Some(ifp) = ifp else { return Err(Errno::ENXIO) };
    // Issue 5: a SET naming one of our carpN configures that carpN.
    if model == Model::Legacy {
        return crate::legacy::nl_set(&ifp, &cmd.request);
    }
    let mut g = ConfigGuard::lock();
    // Issue 5: a vhid one of our carpN uses on this parent is EEXIST.
    crate::legacy::check_modern(&mut g, &ifp.get(), cmd.request.vhid)?;
    set(&mut g, ifp, &cmd.request)
}

/// CARP_NL_CMD_GET: one message per vhid (dump), the key only for privileged readers.
/// As FreeBSD's carp_nl_get: attribute and interface errors are returned as is; once the
/// interface is known, the dump is always terminated (NLMSG_DONE) carrying the error of
/// the query, which is also returned.
pub fn nl_get(r: &NlRequest<'_>) -> Result<(), Errno> {
    let cmd = netlink::decode_get(r.msg())?;
    let ifp = nl_ifp(&cmd.iface);
    let model = config::check_interface(interface_of(ifp.as_ref()), Op::NetlinkGet)?;
    let Some(ifp) = ifp else { return Err(Errno::ENXIO) };
    let result = (|| -> Result<(), Errno> {
        let query = cmd.query()?;
        // Issue 5: a GET naming one of our carpN reports that carpN's vhid.
        if model == Model::Legacy {
            let s = crate::legacy::nl_get(&ifp, &query)?;
            let mut buf = [0u8; 128];
            let n = netlink::encode_status_payload(&s, r.privileged(), &mut buf)?;
            return r.reply(buf.get(..n).ok_or(Errno::ENOMEM)?);
        }
        let mut g = ConfigGuard::lock();
        let all = statuses(GLOBAL.get(&mut g), &ifp.get())?;
        let sel = config::select(&query, all.as_deref())?;
        let privileged = r.privileged();
        let mut buf = [0u8; 128];
        for s in sel.iter() {
            let n = netlink::encode_status_payload(s, privileged, &mut buf)?;
            r.reply(buf.get(..n).ok_or(Errno::ENOMEM)?)?;
        }
        Ok(())
    })();
    let code = match result {
        Ok(()) => 0,
        Err(e) => e.as_i32(),
    };
    r.end_dump(code)?;
    result
}

/// carp_attach(ifa, vhid): bind an address being added to a configured vhid.
pub fn attach(ifa: Ifaddr<'_>, vhid: i32) -> Result<(), Errno> {
    let mut g = ConfigGuard::lock();
    let ifp = ifa.ifp().ok_or(Errno::EINVAL)?;
    // Issue 5: an address added to one of our carpN binds it to a parent found by subnet.
    if ifp.is_carp_clone() {
        return crate::legacy::attach(&mut g, ifa, u8::try_from(vhid).unwrap_or(0));
    }
    let vhid = u8::try_from(vhid).unwrap_or(0);
    // Issue 5: a vhid one of our carpN uses on this parent is EEXIST.
    crate::legacy::check_modern(&mut g, &ifp, vhid)?;
    attach_to(GLOBAL.get(&mut g), ifa, ifp, vhid)
}

/// Binds `ifa` to `vhid` of the container of `ifp` (the address's own interface, or for
/// issue 5's carpN, the parent found by subnet).
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
        .is_some_and(|p| p.link.cif().inner.lock().table.get(vhid).is_some());
    config::attach_check(sa_family, idx.is_some(), configured)?;
    let (Ok(addr), Some(p)) = (addr, idx.and_then(|i| global.parents.get(i))) else {
        return Err(Errno::EPROTOTYPE);
    };
    let cif = p.link.cif();
    let family = family_of(&addr);
    if !cif.mcast(family).is_set() {
        let mc = crate::kpi::ifnet::Mcast::join(&ifp, family)?;
        let mc = Box::try_new(mc).map_err(|_| Errno::ENOMEM)?;
        let _ = cif.mcast(family).set(mc);
    }
    let r = ifa.to_ref();
    let sys = net::with_vnet(cif.vnet, module::sysctls);
    // A spare entry first, so that its detach can always be deferred (carp_hook_detach);
    // given back if the binding fails.
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
                Ok(_) => r.set_carp(Some(cif)),
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

/// carp_detach(ifa, keep_cif): unbind an address being removed.
pub fn detach(ifa: Ifaddr<'_>, keep_cif: bool) {
    let mut g = ConfigGuard::lock();
    let Some(ifp) = ifa.ifp() else { return };
    // Issue 5: an address of one of our carpN is bound to the carpN's parent.
    if ifp.is_carp_clone() {
        crate::legacy::detach(&mut g, ifa, keep_cif);
        return;
    }
    detach_from(GLOBAL.get(&mut g), ifa, ifp, keep_cif);
}

/// Unbinds `ifa` from the container of `ifp` (its own interface, or for issue 5's carpN,
/// the parent). Returns the vhid the address was bound to if that vhid was destroyed.
pub(crate) fn detach_from(global: &mut Global, ifa: Ifaddr<'_>, ifp: Ifnet<'_>, keep_cif: bool) -> Option<u8> {
    let idx = global.parent_index(&ifp)?;
    let p = global.parents.get(idx)?;
    let cif = p.link.cif();
    let Ok(addr) = ifa.addr() else { return None };
    let sys = net::with_vnet(cif.vnet, module::sysctls);
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
        // A deferred detach (see carp_hook_detach) can come after the same address was
        // added again: its loopback route and neighbour entry are the new address's now.
        let readded = r.get().ifp().is_some_and(|i| i.has_other_ifa_like(&r.get()));
        if !readded {
            r.routes(false);
        }
        r.set_carp(None);
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

/// `IFNET_EVENT_UP` (`if_up`) on a parent with vhids or one of our carpN. FreeBSD's
/// `in_ifnet_event` has just given every IPv4 address without `IFA_ROUTE` its prefix and
/// loopback routes, CARP addresses included (it does not look at `ifa_carp`): those of a
/// vhid that is not MASTER go again (routes only while MASTER). For a carpN, its vhid on
/// its parent; for a parent, every vhid.
pub fn ifup(ifp: Ifnet<'_>) {
    let mut g = ConfigGuard::lock();
    let (parent, vhids) = if ifp.is_carp_clone() {
        let Some((p, vhid)) = crate::legacy::binding(&mut g, &ifp) else { return };
        (p, vhid..=vhid)
    } else {
        (ifp.to_ref(), 1..=u8::MAX)
    };
    let Some(p) = GLOBAL.get(&mut g).parent(&parent.get()) else { return };
    let cif = p.link.cif();
    for vhid in vhids {
        let withdraw = cif.inner.lock().table.get(vhid).is_some_and(|v| !v.routes_installed());
        if withdraw {
            cif::withdraw_routes(cif, vhid);
        }
    }
}

/// A parent was renamed (`ifconfig em0 name lan0`): it keeps its container; state lines
/// and devd subsystems use the new name from now on.
pub fn ifrename(ifp: Ifnet<'_>) {
    let mut g = ConfigGuard::lock();
    let global = GLOBAL.get(&mut g);
    let Some(idx) = global.parent_index(&ifp) else { return };
    if let Some(p) = global.parents.get(idx) {
        let name = ifp.name();
        p.link.cif().inner.lock().table.rename(name);
    }
}

/// An interface with a container departs (destroyed, or moved to another VNET): its
/// addresses are unbound and its container freed; the configuration is lost, as when the
/// addresses are purged in FreeBSD.
pub fn ifdetach(ifp: Ifnet<'_>) {
    let mut g = ConfigGuard::lock();
    let global = GLOBAL.get(&mut g);
    let Some(idx) = global.parent_index(&ifp) else {
        // Issue 5: a departing carpN (moved to another VNET) leaves its parent.
        crate::legacy::clone_departing(&mut g, &ifp);
        return;
    };
    if let Some(p) = crate::util::take_at(&mut global.parents, idx) {
        release_parent(p, drop);
    }
    // Issue 5: carpN bound to this parent lose their binding (they keep their vhid).
    crate::legacy::parent_gone(&mut g, &ifp);
}

//! Requests from the kernel's configuration paths, each routed to the modern model
//! ([`crate::config`]: vhids on a parent's addresses) or to the classic one
//! ([`crate::legacy`]: `carpN` interfaces): SIOCSVH/SIOCGVH, the netlink family's GET and
//! SET, carp_attach/carp_detach, and the interface events (up, rename, departure).
//!
//! Each request is decoded and checked by the core (`carp_proto::config`), which also
//! says which model an interface belongs to; this module only routes and carries out.

use core::ffi::CStr;

use carp_proto::config::{self, carpreq, netlink, Interface, Model, Op};
use carp_proto::Errno;

use carp_kpi::ifnet::{IfRef, Ifaddr, Ifnet};
use carp_kpi::req::{Ifreq, NlRequest, Thread};
use carp_kpi::sync::ConfigGuard;

use crate::cif;
use crate::config::{attach_to, detach_from, release_parent, set, statuses};
use crate::state::GLOBAL;

fn interface_of(ifp: Option<&IfRef>) -> Option<Interface> {
    ifp.map(|r| {
        let i = r.get();
        // Our own carpN are the classic model.
        Interface { if_type: i.if_type(), if_flags: i.flags(), carp_clone: i.is_carp_clone() }
    })
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
    // SIOCSVH/SIOCGVH naming one of our carpN act on that carpN's vhid.
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
            // A vhid one of our carpN uses on this parent is EEXIST.
            crate::legacy::check_modern(&mut g, &ifp.get(), sr.vhid)?;
            set(&mut g, ifp, &sr)
        }
        _ => {
            let all = statuses(GLOBAL.get(&mut g), &ifp.get())?;
            let count = usize::try_from(req.count.clamp(1, 255)).unwrap_or(1);
            let mut out = carp_kpi::malloc::zeroed_bytes(count.saturating_mul(carpreq::CARPREQ_LEN))?;
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
    // A SET naming one of our carpN configures that carpN.
    if model == Model::Legacy {
        return crate::legacy::nl_set(&ifp, &cmd.request);
    }
    let mut g = ConfigGuard::lock();
    // A vhid one of our carpN uses on this parent is EEXIST.
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
        // A GET naming one of our carpN reports that carpN's vhid.
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
    // An address added to one of our carpN binds it to a parent found by subnet.
    if ifp.is_carp_clone() {
        return crate::legacy::attach(&mut g, ifa, u8::try_from(vhid).unwrap_or(0));
    }
    let vhid = u8::try_from(vhid).unwrap_or(0);
    // A vhid one of our carpN uses on this parent is EEXIST.
    crate::legacy::check_modern(&mut g, &ifp, vhid)?;
    attach_to(GLOBAL.get(&mut g), ifa, ifp, vhid)
}

/// carp_detach(ifa, keep_cif): unbind an address being removed.
pub fn detach(ifa: Ifaddr<'_>, keep_cif: bool) {
    let mut g = ConfigGuard::lock();
    let Some(ifp) = ifa.ifp() else { return };
    // An address of one of our carpN is bound to the carpN's parent.
    if ifp.is_carp_clone() {
        crate::legacy::detach(&mut g, ifa, keep_cif);
        return;
    }
    detach_from(GLOBAL.get(&mut g), ifa, ifp, keep_cif);
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
    let cif = p.link.get();
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
        p.link.get().inner.lock().table.rename(name);
    }
}

/// An interface with a container departs (destroyed, or moved to another VNET): its
/// addresses are unbound and its container freed; the configuration is lost, as when the
/// addresses are purged in FreeBSD.
pub fn ifdetach(ifp: Ifnet<'_>) {
    let mut g = ConfigGuard::lock();
    let global = GLOBAL.get(&mut g);
    let Some(idx) = global.parent_index(&ifp) else {
        // A departing carpN (moved to another VNET) leaves its parent.
        crate::legacy::clone_departing(&mut g, &ifp);
        return;
    };
    if let Some(p) = crate::util::take_at(&mut global.parents, idx) {
        release_parent(p, drop);
    }
    // CarpN bound to this parent lose their binding (they keep their vhid).
    crate::legacy::parent_gone(&mut g, &ifp);
}

//! The classic model: cloned `carpN` interfaces (FreeBSD 9's), beside the modern model of
//! [`crate::config`], on the same protocol machinery.
//!
//! # What this module owns
//!
//! - [`CLONES`]: every `carpN` of every VNET with its configuration (vhid, advbase,
//!   advskew, key, and what a netlink SET also carries) and its binding (the parent and
//!   the vhid it runs there), under the configuration lock. Filled by netlink SET /
//!   SIOCSVH naming a `carpN` ([`nl_set`], [`ioctl_set`], with carp-proto's
//!   `config::legacy` rules), read back by GET / SIOCGVH ([`nl_get`], [`ioctl_get`]):
//!   `ifconfig carp0 vhid 1 advskew 100 pass x` stores it, `ifconfig carp0` shows it.
//!   Setting a vhid gives the `carpN` its link-level address 00:00:5e:00:01:<vhid>.
//! - The `carpN`'s `if_ioctl` policy ([`clone_ioctl`]); the interface itself (type,
//!   flags, output, the cloner) is `carp_kpi::clone`'s.
//!
//! # Binding a `carpN` to a parent
//!
//! An address added to a `carpN` (with a vhid through `carp_attach_p`, or IPv4 without one
//! through its SIOCSIFADDR) binds it ([`attach`]): the parent is the interface that
//! already has an address in the new address's subnet (`carp_proto::parent::find_parent`
//! over the VNET's addresses; none: `EADDRNOTAVAIL`), Ethernet-like and multicast-capable.
//! The `carpN`'s vhid is created on the parent's container with the `carpN`'s
//! configuration (advskew 0 when the address is the parent's own, as in 9.x) unless the
//! parent already has that vhid (another `carpN`'s or a modern one: `EEXIST`), and the
//! address is bound to it exactly as a modern CARP address is (`config::attach_to`). So
//! the protocol, the data-plane hooks (which find the parent's container through
//! `ifa_carp`), routes, gratuitous ARP and devd events are the modern model's. The first
//! address marks the `carpN` IFF_UP; later ones must fall in the same parent.
//!
//! Unbinding ([`detach`]): the last address gone removes the vhid from the parent; the
//! `carpN` keeps its configuration. A departing parent ([`parent_gone`]) or a destroyed
//! `carpN` unbinds too. A `carpN` left unbound by its parent's departure binds again by
//! itself when an IPv4 address appears on another interface of its VNET and a parent is
//! found ([`rebind_unbound`]). SET/SIOCSVH on a bound `carpN` reconfigure the vhid on the
//! parent; a new vhid number ([`renumber`], as 9.x allowed) moves the `carpN` to a fresh
//! vhid on the same parent (`EEXIST` if taken) and binds its addresses again.
//! `ifconfig carpN down`/`up` hand the vhid over (`Vhid::handle_admin`).
//!
//! Mixing with the modern model ([`check_modern`]): a modern SET or attach of a vhid a
//! `carpN` uses on that parent is `EEXIST`.
//!
//! # What a `carpN` shows
//!
//! - Its link state follows its vhid (MASTER up, BACKUP down, INIT and unbound unknown;
//!   devd IFNET LINK_UP/LINK_DOWN), set by `cif`'s drain loop under the container lock,
//!   besides the modern `system=CARP` events (whose subsystem names the parent).
//! - ARP for its addresses ([`arp_input`], from the ARP hook on the parent's "ethernet"
//!   pfil head): answered with the virtual MAC by the MASTER only, the answering vhid
//!   chosen by carp-proto's `arpbalance::decide` (`net.inet.carp.arpbalance`); the
//!   request continues into the stack unless the address is also a plain address of the
//!   parent (the stack would answer with the parent's MAC).
//! - IPv6 neighbour discovery for its addresses: the parent's `carp_iamatch6` also
//!   returns a MASTER `carpN` address whose `ifa_carp` is the parent's container, and
//!   `carp_macmatch6` finds it in the parent's table: NS on the parent are answered with
//!   the virtual MAC by the MASTER only.
//! - IPv6 addresses: with `vhid N` they bind through `carp_attach_p`; without, from the
//!   address event after the kernel added them ([`clone_addr6_added`]): FreeBSD 15 sends
//!   SIOCSIFADDR only for an interface's first IPv6 address and does not undo a binding
//!   made there on every failure path, so SIOCSIFADDR only refuses an IPv6 address while
//!   the `carpN` has no vhid.
//!
//! # VNETs
//!
//! The cloner and the ARP hook exist in every VNET (`carp_kpi::clone::PerVnet`), so
//! `carpN` can be created inside vnet jails; a `carpN` binds to a parent of its own VNET
//! (parent discovery lists the current VNET's addresses); one moved to another VNET is
//! unbound on departure ([`clone_departing`]) and binds again there.
//!
//! # Locking
//!
//! [`CLONES`] is only touched under the configuration lock (`carp_sx`), like
//! `state::GLOBAL`; the order is the crate's (`carp_sx` → network epoch → `carp_if`).
//! The cloner's callbacks run in sleepable context without it. [`clone_ioctl`] takes it
//! for SIOCSIFFLAGS and SIOCSIFADDR (sleepable ioctl paths, where the kernel may hold
//! in_control_sx, as for `carp_attach_p`), never for SIOCADDMULTI/SIOCDELMULTI. Nothing
//! here calls into a `carpN`'s `if_ioctl` while holding `carp_sx` (IFF_UP is set with
//! if_setflagbits).

use alloc::vec::Vec;
use core::net::IpAddr;

use carp_proto::config::carpreq::{CarpReq, CARPREQ_LEN};
use carp_proto::config::legacy::{self, CarpIf, CarpIfStatus, LegacyChange, ParentVhids};
use carp_proto::config::{self as pconfig, GetQuery, Interface, Op};
use carp_proto::{
    virtual_mac, CarpState, Errno, Family, LinkState, SetRequest, VhidStatus, Version, CARP_DFLTINTV,
    CARP_GROUP_V4, CARP_GROUP_V6, CARP_KEY_LEN, VRRP_DEFAULT_INTERVAL_CS, VRRP_DEFAULT_PRIORITY,
};


use crate::cif::{self, CifData};
use crate::config;
use carp_kpi::clone::{self, ArpAnswer, CloneIoctl};
use carp_kpi::ifnet::{IfRef, Ifaddr, Ifnet};
use carp_kpi::net::{self, Epoch};
use carp_kpi::sync::{ConfigCell, ConfigGuard};
use crate::state::{self, GLOBAL};

/// One `carpN`.
pub struct CarpN {
    /// The interface (a counted reference, released when the `carpN` is destroyed).
    pub ifp: IfRef,
    /// Its configuration, `None` until it is given a vhid (state INIT while unbound).
    pub cfg: Option<VhidStatus>,
    /// The parent its vhid lives on, while bound (from its first address until its last
    /// one is removed, the parent departs, or the `carpN` is destroyed).
    pub parent: Option<IfRef>,
    /// The parent's memberships in the solicited-node groups of the `carpN`'s bound IPv6
    /// addresses (neighbour solicitations for them arrive on the parent; 9.x joined them
    /// in carp_set_addr6). Kept in step by [`sync_sn6`].
    pub sn6: Vec<carp_kpi::ifnet::Sn6>,
}

/// Every `carpN` of the module.
pub static CLONES: ConfigCell<Vec<CarpN>> = ConfigCell::new(Vec::new());

/// The cloner attached `ifp`: remember it.
pub fn clone_created(ifp: Ifnet<'_>) -> Result<(), Errno> {
    let entry = CarpN { ifp: ifp.to_ref(), cfg: None, parent: None, sn6: Vec::new() };
    let mut g = ConfigGuard::lock();
    crate::util::push(CLONES.get(&mut g), entry).map_err(|_| Errno::ENOMEM)
}

/// Unload, past its point of no return (creation is refused): destroys every `carpN`
/// through the kernel, one at a time and outside every lock, so that the per-VNET
/// destructors that follow find their cloners empty. A `carpN` whose creation is still
/// finishing (not yet on its cloner's list: `ENXIO`) is tried again, for up to about five
/// seconds.
pub fn destroy_all() {
    for _ in 0..500 {
        let mut list: Vec<IfRef> = Vec::new();
        {
            let mut g = ConfigGuard::lock();
            for c in CLONES.get(&mut g).iter() {
                if crate::util::push(&mut list, c.ifp.get().to_ref()).is_err() {
                    break;
                }
            }
        }
        if list.is_empty() {
            return;
        }
        for c in list.iter() {
            let _ = c.get().clone_destroy();
        }
        drop(list);
        let left = {
            let mut g = ConfigGuard::lock();
            !CLONES.get(&mut g).is_empty()
        };
        if !left {
            return;
        }
        for _ in 0..10 {
            net::pause_ms();
        }
    }
    carp_kpi::log::info(c"carp: unload: a carp interface could not be destroyed");
}

/// The cloner is destroying `ifp`: unbind its addresses, remove its vhid from the parent,
/// forget it (its reference is released here, before the shim detaches and frees the
/// interface, whose address purge then finds nothing bound).
pub fn clone_destroyed(ifp: Ifnet<'_>) {
    let mut g = ConfigGuard::lock();
    unbind_all(&mut g, &ifp);
    sync_sn6(&mut g);
    let removed = {
        let list = CLONES.get(&mut g);
        list.iter().position(|c| c.ifp.get().same(&ifp)).and_then(|i| crate::util::take_at(list, i))
    };
    drop(g);
    drop(removed);
}

/// The `carpN`'s `if_ioctl`:
/// - SIOCSIFFLAGS: a bound `carpN`'s vhid follows IFF_UP (`Vhid::handle_admin`: down
///   hands mastership off and goes INIT, up runs the election again); unbound, nothing to do;
/// - SIOCADDMULTI/SIOCDELMULTI: accepted (a `carpN` is not IFF_MULTICAST; nothing to do);
/// - SIOCSIFADDR: an address already bound by `carp_attach_p` is accepted; an IPv4
///   address added without a vhid binds here ([`attach`] with vhid 0: the `carpN`'s own
///   vhid); IPv6: see the module documentation;
/// - SIOCSIFMTU and anything else: `EINVAL` (the MTU stays 1500).
pub fn clone_ioctl(ifp: Ifnet<'_>, kind: CloneIoctl, ifa: Option<Ifaddr<'_>>) -> Result<(), Errno> {
    match kind {
        CloneIoctl::Multi => Ok(()),
        CloneIoctl::SetFlags => {
            let mut g = ConfigGuard::lock();
            admin(&mut g, &ifp);
            Ok(())
        }
        CloneIoctl::SetAddr => {
            let ifa = ifa.ok_or(Errno::EINVAL)?;
            if ifa.is_carp() {
                return Ok(());
            }
            let mut g = ConfigGuard::lock();
            match ifa.addr() {
                Ok(IpAddr::V4(_)) => attach(&mut g, ifa, 0),
                Ok(IpAddr::V6(a)) => {
                    let Some(c) = find(CLONES.get(&mut g), &ifp).filter(|c| c.cfg.is_some()) else {
                        return Err(Errno::EADDRNOTAVAIL);
                    };
                    // The address binds later (its address event), but with no parent in
                    // its prefix it never could: refused here, the kernel then removes it
                    // (only an interface's first IPv6 address comes through SIOCSIFADDR).
                    let cur = c.parent.as_ref().map(|p| p.get().index());
                    let candidates = clone::addresses(Family::Inet6)?;
                    carp_proto::parent::find_parent(IpAddr::V6(a), &candidates, cur).map(|_| ())
                }
                Err(_) => Err(Errno::EPROTOTYPE),
            }
        }
        CloneIoctl::SetMtu | CloneIoctl::Other => Err(Errno::EINVAL),
    }
}

fn find<'l>(list: &'l mut [CarpN], ifp: &Ifnet<'_>) -> Option<&'l mut CarpN> {
    list.iter_mut().find(|c| c.ifp.get().same(ifp))
}

/// A fresh vhid's configuration: FreeBSD's defaults.
fn fresh(vhid: u8) -> VhidStatus {
    VhidStatus {
        vhid,
        state: CarpState::Init,
        advbase: CARP_DFLTINTV,
        advskew: 0,
        key: [0; CARP_KEY_LEN],
        peer4: CARP_GROUP_V4,
        peer6: CARP_GROUP_V6,
        version: Version::Carp,
        vrrp_priority: VRRP_DEFAULT_PRIORITY,
        vrrp_interval_cs: VRRP_DEFAULT_INTERVAL_CS,
    }
}

/// Applies a validated change to an unbound `carpN`: administrative state forcing is
/// ignored (it only applies to a vhid that is not INIT, and an unbound one is INIT); the
/// other fields are stored; a new vhid number also becomes the link-level address.
fn apply(c: &mut CarpN, ch: &LegacyChange) -> Result<(), Errno> {
    let Some(vhid) = ch.vhid else { return Err(Errno::EINVAL) };
    let mut st = c.cfg.unwrap_or_else(|| fresh(vhid));
    st.vhid = vhid;
    if let Some(b) = ch.advbase {
        st.advbase = b;
    }
    if let Some(s) = ch.advskew {
        st.advskew = s;
    }
    if let Some(k) = ch.key {
        st.key = k;
    }
    if let Some(p) = ch.peer4 {
        st.peer4 = p;
    }
    if let Some(p) = ch.peer6 {
        st.peer6 = p;
    }
    st.version = ch.version;
    if let Some(p) = ch.vrrp_priority {
        st.vrrp_priority = p;
    }
    if let Some(i) = ch.vrrp_interval_cs {
        st.vrrp_interval_cs = i;
    }
    if ch.renumber || c.cfg.is_none() {
        c.ifp.get().set_clone_lladdr(&virtual_mac(vhid))?;
    }
    c.cfg = Some(st);
    Ok(())
}

/// What `config::legacy` needs to know about a `carpN` for a change: its vhid. The
/// parent's vhids are checked where they matter: a bound `carpN`'s new number by
/// [`renumber`] (`Table::renumber`), an unbound one's when it binds ([`attach`]).
fn current(c: &CarpN) -> CarpIf<'static> {
    CarpIf { vhid: c.cfg.map(|s| s.vhid), parent: None }
}

fn family_of(a: &IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::Inet,
        IpAddr::V6(_) => Family::Inet6,
    }
}

/// The vhid numbers of the container of `parent` (empty if it has none).
fn parent_vhids(g: &mut ConfigGuard, parent: &Ifnet<'_>) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let global = GLOBAL.get(g);
    let Some(p) = global.parent(parent) else { return Ok(out) };
    let inner = p.link.get().inner.lock();
    out.try_reserve_exact(inner.table.len()).map_err(|_| Errno::ENOMEM)?;
    for v in inner.table.iter() {
        if crate::util::push(&mut out, v.vhid()).is_err() {
            return Err(Errno::ENOMEM);
        }
    }
    Ok(out)
}

/// The live status of `vhid` on `parent`'s container.
fn live_status(g: &mut ConfigGuard, parent: &Ifnet<'_>, vhid: u8) -> Option<VhidStatus> {
    let global = GLOBAL.get(g);
    let p = global.parent(parent)?;
    let inner = p.link.get().inner.lock();
    let mut it = inner.table.status(Some(vhid)).ok()?;
    it.next()
}

/// The parent a `carpN` is bound to (another counted reference) and its vhid.
pub(crate) fn binding(g: &mut ConfigGuard, ifp: &Ifnet<'_>) -> Option<(IfRef, u8)> {
    let c = find(CLONES.get(g), ifp)?;
    let vhid = c.cfg?.vhid;
    Some((c.parent.as_ref()?.get().to_ref(), vhid))
}

/// Brings every `carpN`'s solicited-node memberships in line with its bound IPv6
/// addresses: joined on the parent for each one, left for addresses no longer bound or
/// bound elsewhere. Called at the end of every operation that binds or unbinds.
fn sync_sn6(g: &mut ConfigGuard) {
    let n = CLONES.get(g).len();
    for i in 0..n {
        let Some((carp, parent)) = CLONES.get(g).get(i).map(|c| (c.ifp.get().to_ref(), c.parent.as_ref().map(|p| p.get().to_ref()))) else {
            return;
        };
        let mut want: Vec<core::net::Ipv6Addr> = Vec::new();
        if let Some(p) = parent.as_ref().and_then(|p| GLOBAL.get(g).parent(&p.get())) {
            let inner = p.link.get().inner.lock();
            for (r, _) in inner.ifas.iter() {
                let a = r.get();
                if !a.ifp().is_some_and(|x| x.same(&carp.get())) {
                    continue;
                }
                if let Ok(IpAddr::V6(v6)) = a.addr() {
                    if crate::util::push(&mut want, v6).is_err() {
                        carp_kpi::log::info(c"carp: out of memory listing carp interface addresses");
                        return;
                    }
                }
            }
        }
        let Some(c) = CLONES.get(g).get_mut(i) else { return };
        c.sn6.retain(|m| parent.as_ref().is_some_and(|p| m.on(&p.get())) && want.contains(&m.addr()));
        let Some(p) = parent else { continue };
        for a in want {
            if c.sn6.iter().any(|m| m.addr() == a) {
                continue;
            }
            match carp_kpi::ifnet::Sn6::join(&p.get(), a) {
                Ok(m) => {
                    if crate::util::push(&mut c.sn6, m).is_err() {
                        carp_kpi::log::info(c"carp: out of memory joining a solicited-node group");
                    }
                }
                Err(e) => carp_kpi::log::info_fmt(format_args!(
                    "carp: {}: error {} joining the solicited-node group of {}",
                    p.get().name().as_str(),
                    e.as_i32(),
                    crate::util::LogAddr(IpAddr::V6(a))
                )),
            }
        }
    }
}

/// Binds (`Some`) or unbinds the `carpN` to a parent. The `carpN`'s output path reads the
/// parent from the interface (`if_softc`), published before the reference is stored and
/// cleared before the old reference is released (an ifnet is freed only after a network
/// epoch, and the output path reads it inside one).
fn set_parent(g: &mut ConfigGuard, ifp: &Ifnet<'_>, parent: Option<IfRef>) {
    if let Some(c) = find(CLONES.get(g), ifp) {
        c.ifp.get().set_clone_parent(parent.as_ref().map(|p| p.get().to_ref()));
        let old = core::mem::replace(&mut c.parent, parent);
        drop(old);
    }
}

/// A packet routed through a bound `carpN` (`if_output`, network epoch): the vhid whose
/// virtual MAC becomes the frame's source, if this host is its MASTER, else 0 (the
/// parent's own MAC). Takes only the parent container's lock.
pub fn output_vhid(carp: Ifnet<'_>, parent: Ifnet<'_>, e: &Epoch) -> u8 {
    let Some(cif) = parent.container::<CifData>(e) else { return 0 };
    let inner = cif.inner.lock();
    let Some(vhid) = inner
        .ifas
        .iter()
        .find(|(r, _)| r.get().ifp().is_some_and(|i| i.same(&carp)))
        .map(|(_, v)| *v)
    else {
        return 0;
    };
    if inner.table.is_master(vhid) {
        vhid
    } else {
        0
    }
}

/// A SET naming a `carpN` (netlink or SIOCSVH), after the `config::legacy` checks.
fn change(g: &mut ConfigGuard, ifp: &Ifnet<'_>, ch: &LegacyChange) -> Result<(), Errno> {
    if let Some((parent, old)) = binding(g, ifp) {
        if ch.renumber {
            return renumber(g, ifp, &parent.get(), old, ch);
        }
        let sr = ch.set_request().ok_or(Errno::EINVAL)?;
        config::set(g, parent, &sr)?;
    }
    let c = find(CLONES.get(g), ifp).ok_or(Errno::ENXIO)?;
    apply(c, ch)
}

/// A new vhid number for a bound `carpN`, in place as 9.x did: the vhid on the parent
/// takes the new number (`EEXIST` if the parent already has it, nothing changed),
/// keeping its state, addresses and counter; its HMAC is keyed anew, a MASTER advertises
/// and announces its addresses at once from the new MAC, and the `carpN` takes the new
/// MAC. The addresses stay bound throughout (`ifa_carp` never cleared), so a concurrent
/// address removal still reaches `carp_detach_p`. The change's other fields apply first,
/// to the vhid under its old number: a refused change (`EINVAL`, e.g. another version)
/// leaves everything as it was.
fn renumber(g: &mut ConfigGuard, carp: &Ifnet<'_>, parent: &Ifnet<'_>, old: u8, ch: &LegacyChange) -> Result<(), Errno> {
    let new = ch.vhid.ok_or(Errno::EINVAL)?;
    // Everything that can fail first, nothing changed yet: the new number must be free,
    // and the other fields are applied to the live vhid under its old number (which
    // checks them, e.g. the version).
    if parent_vhids(g, parent)?.contains(&new) {
        return Err(Errno::EEXIST);
    }
    let mut sr = ch.set_request().ok_or(Errno::EINVAL)?;
    sr.vhid = old;
    config::set(g, parent.to_ref(), &sr)?;
    {
        let global = GLOBAL.get(g);
        let p = global.parent(parent).ok_or(Errno::ENXIO)?;
        let cif = p.link.get();
        let sys = net::with_vnet(cif.vnet, state::sysctls);
        let mut result = Err(Errno::ENOENT);
        net::in_net_epoch(|e| {
            cif::run(cif, p.link.ifp(), e, &sys, |inner, now| {
                result = inner.table.renumber(now, old, new);
                if result.is_ok() {
                    for (_, v) in inner.ifas.edit().iter_mut() {
                        if *v == old {
                            *v = new;
                        }
                    }
                }
            })
        });
        result?;
    }
    let c = find(CLONES.get(g), carp).ok_or(Errno::ENXIO)?;
    apply(c, ch)
}

/// An IPv4 address appeared on an interface that is not a `carpN` (a parent coming back,
/// or its subnet configured again): every configured, unbound `carpN` of the current VNET
/// binds its IPv4 addresses again where a parent is found (errors, such as no parent
/// yet, are expected and ignored). IPv6 addresses stay plain here: they bind when added
/// again. A `carpN` the
/// administrator set down stays down (its vhid is created administratively down).
///
/// Runs from `ifaddr_event_ext` at the end of `in_aifaddr`, with `in_control_sx` held:
/// no IPv4 address can be added or removed meanwhile, so the addresses listed here are
/// still there when they bind.
pub fn rebind_unbound() {
    let mut g = ConfigGuard::lock();
    let cur = carp_kpi::vnet::current();
    let mut waiting: Vec<IfRef> = Vec::new();
    for c in CLONES.get(&mut g).iter() {
        let i = c.ifp.get();
        if c.cfg.is_some() && c.parent.is_none() && i.vnet() == cur && crate::util::push(&mut waiting, i.to_ref()).is_err() {
            return;
        }
    }
    for carp in waiting.iter() {
        let carp = carp.get();
        let Ok(addrs) = carp.ip_addrs() else { return };
        for r in addrs.iter() {
            let a = r.get();
            if a.is_carp() || !matches!(a.addr(), Ok(IpAddr::V4(_))) {
                continue;
            }
            let _ = attach_as(&mut g, a, 0, false);
        }
    }
    sync_sn6(&mut g);
}

/// CARP_NL_CMD_SET naming a `carpN` (already decoded and validated by
/// `netlink::decode_set`; privilege checked by the genl framework).
pub fn nl_set(ifp: &IfRef, req: &SetRequest) -> Result<(), Errno> {
    let mut g = ConfigGuard::lock();
    let c = find(CLONES.get(&mut g), &ifp.get()).ok_or(Errno::ENXIO)?;
    let ch = legacy::netlink_set(req, &current(c))?;
    let r = change(&mut g, &ifp.get(), &ch);
    sync_sn6(&mut g);
    r
}

/// The configuration to report for a `carpN`: the live vhid when bound.
fn report(g: &mut ConfigGuard, ifp: &Ifnet<'_>) -> Result<Option<VhidStatus>, Errno> {
    if let Some((parent, vhid)) = binding(g, ifp) {
        if let Some(s) = live_status(g, &parent.get(), vhid) {
            return Ok(Some(s));
        }
    }
    Ok(find(CLONES.get(g), ifp).ok_or(Errno::ENXIO)?.cfg)
}

/// CARP_NL_CMD_GET naming a `carpN`: its vhid if it has one matching the query
/// (`ENOENT` otherwise, which `ifconfig` expects before a first SET).
pub fn nl_get(ifp: &IfRef, query: &GetQuery) -> Result<VhidStatus, Errno> {
    let mut g = ConfigGuard::lock();
    let st = report(&mut g, &ifp.get())?;
    legacy::get_select(query, st.map(|s| s.vhid))?;
    st.ok_or(Errno::ENOENT)
}

/// SIOCSVH naming a `carpN` (FreeBSD 15 `struct carpreq`, 9.3 semantics).
pub fn ioctl_set(ifp: &IfRef, req: &CarpReq, privileged: bool) -> Result<(), Errno> {
    let mut g = ConfigGuard::lock();
    let c = find(CLONES.get(&mut g), &ifp.get()).ok_or(Errno::ENXIO)?;
    let ch = legacy::ioctl_set(req, &current(c), privileged)?;
    let r = change(&mut g, &ifp.get(), &ch);
    sync_sn6(&mut g);
    r
}

/// SIOCGVH naming a `carpN`: one 40-byte `struct carpreq` (vhid -1 when unset).
pub fn ioctl_get(ifp: &IfRef, privileged: bool) -> Result<[u8; CARPREQ_LEN], Errno> {
    let mut g = ConfigGuard::lock();
    let st = report(&mut g, &ifp.get())?.map_or_else(CarpIfStatus::default, |s| CarpIfStatus {
        vhid: Some(s.vhid),
        state: s.state,
        advbase: s.advbase,
        advskew: s.advskew,
        key: s.key,
    });
    Ok(legacy::ioctl_get(&st, privileged))
}

/// The modern side of the mixing rule: `EEXIST` if one of our `carpN` uses `vhid` on
/// `parent`.
pub fn check_modern(g: &mut ConfigGuard, parent: &Ifnet<'_>, vhid: u8) -> Result<(), Errno> {
    for c in CLONES.get(g).iter() {
        let on_parent = c.parent.as_ref().is_some_and(|p| p.get().same(parent));
        if let (true, Some(st)) = (on_parent, c.cfg) {
            legacy::check_modern_set(vhid, core::slice::from_ref(&st.vhid))?;
        }
    }
    Ok(())
}

/// Binds an address being added to a `carpN` (see the module documentation). `vhid` is
/// the address request's vhid (0: none given).
pub fn attach(g: &mut ConfigGuard, ifa: Ifaddr<'_>, vhid: u8) -> Result<(), Errno> {
    let r = attach_as(g, ifa, vhid, true);
    sync_sn6(g);
    r
}

/// [`attach`]; `mark_up`: the first address marks the `carpN` IFF_UP (a new address, as
/// in 9.x), not when binding again an address it already had.
fn attach_as(g: &mut ConfigGuard, ifa: Ifaddr<'_>, vhid: u8, mark_up: bool) -> Result<(), Errno> {
    let carp = ifa.ifp().ok_or(Errno::EINVAL)?;
    if ifa.is_carp() {
        // Already bound (IPv6: the kernel's address event comes before `carp_attach_p`),
        // as stock carp_attach: the same vhid (or none asked) is done; another one is
        // refused and the address unbound, since a carpN has only its own vhid.
        let own = find(CLONES.get(g), &carp).and_then(|c| c.cfg).map(|s| s.vhid);
        if vhid == 0 || Some(vhid) == own {
            return Ok(());
        }
        detach(g, ifa, false);
        return Err(Errno::ENOENT);
    }
    let addr = ifa.addr().map_err(|_| Errno::EPROTOTYPE)?;
    let c = find(CLONES.get(g), &carp).ok_or(Errno::ENXIO)?;
    let cfg = c.cfg;
    let cur_parent = c.parent.as_ref().map(|p| p.get().index());
    // The parent: by subnet, among every address of the family in this VNET.
    let candidates = clone::addresses(family_of(&addr))?;
    let choice = carp_proto::parent::find_parent(addr, &candidates, cur_parent)?;
    let parent = IfRef::by_index(choice.iface).ok_or(Errno::EADDRNOTAVAIL)?;
    let pi = parent.get();
    let iface = Interface { if_type: pi.if_type(), if_flags: pi.flags(), carp_clone: false };
    if pconfig::check_interface(Some(iface), Op::NetlinkSet).is_err() {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let bound = binding(g, &carp).is_some_and(|(p, v)| {
        p.get().same(&pi) && parent_vhids(g, &pi).is_ok_and(|l| l.contains(&v))
    });
    let own = if bound {
        // Another address of a bound carpN: its own vhid (or none) only.
        let own = cfg.map(|s| s.vhid).ok_or(Errno::ENOENT)?;
        if vhid != 0 && vhid != own {
            return Err(Errno::ENOENT);
        }
        own
    } else {
        let taken = parent_vhids(g, &pi)?;
        let own = legacy::attach_check(vhid, cfg.map(|s| s.vhid), &ParentVhids { siblings: &[], modern: &taken })?;
        let st = cfg.ok_or(Errno::ENOENT)?;
        let sr = SetRequest {
            vhid: own,
            state: None,
            advbase: Some(st.advbase),
            // 9.x: the parent's own address ("address owner") always advertises at skew 0.
            advskew: Some(if choice.owner { 0 } else { st.advskew }),
            key: Some(st.key),
            peer4: Some(st.peer4),
            peer6: Some(st.peer6),
            version: st.version,
            vrrp_priority: Some(st.vrrp_priority),
            vrrp_interval_cs: Some(st.vrrp_interval_cs),
        };
        config::set(g, pi.to_ref(), &sr)?;
        set_parent(g, &carp, Some(pi.to_ref()));
        if !mark_up && !carp.is_up() {
            // Bound again while administratively down: the vhid starts down, before any
            // address can start its election.
            admin(g, &carp);
        }
        own
    };
    let r = config::attach_to(GLOBAL.get(g), ifa, pi, own);
    match r {
        // The first address marks the carpN up (9.x); its new vhid is administratively up.
        Ok(()) if !bound && mark_up => carp.clone_up(),
        Ok(()) => {}
        Err(_) if !bound => {
            // The vhid was created for this address: take it away again.
            drop_vhid(g, &pi, own);
            set_parent(g, &carp, None);
            carp.clone_link_state(LinkState::Unknown);
        }
        Err(_) => {}
    }
    r
}

/// Removes `vhid` (with no address bound) from `parent`'s container, freeing the
/// container when it was the last vhid.
fn drop_vhid(g: &mut ConfigGuard, parent: &Ifnet<'_>, vhid: u8) {
    let global = GLOBAL.get(g);
    let Some(idx) = global.parent_index(parent) else { return };
    let Some(p) = global.parents.get(idx) else { return };
    let cif = p.link.get();
    let sys = net::with_vnet(cif.vnet, state::sysctls);
    let mut removed = None;
    net::in_net_epoch(|e| {
        cif::run(cif, p.link.ifp(), e, &sys, |inner, _| {
            if inner.ifas.iter().all(|(_, v)| *v != vhid) {
                removed = inner.table.remove(vhid);
            }
        })
    });
    if let Some(mut v) = removed {
        cif::drain_removed(&mut v, &sys);
    }
    let empty = cif.inner.lock().table.is_empty();
    if empty {
        if let Some(p) = crate::util::take_at(&mut global.parents, idx) {
            config::release_parent(p, drop);
        }
    }
}

/// An address of a `carpN` is removed (`carp_detach_p`): unbind it from the parent; the
/// last one destroys the vhid there (unless `keep_cif`) and unbinds the `carpN`.
pub fn detach(g: &mut ConfigGuard, ifa: Ifaddr<'_>, keep_cif: bool) {
    let Some(carp) = ifa.ifp() else { return };
    let Some((parent, _)) = binding(g, &carp) else { return };
    if config::detach_from(GLOBAL.get(g), ifa, parent.get(), keep_cif).is_some() {
        set_parent(g, &carp, None);
        carp.clone_link_state(LinkState::Unknown);
    }
    sync_sn6(g);
}

/// Unbinds every address of `carp` and removes its vhid from its parent.
fn unbind_all(g: &mut ConfigGuard, carp: &Ifnet<'_>) {
    let Some((parent, vhid)) = binding(g, carp) else { return };
    // One address at a time and without allocating: no address of the carpN can stay
    // bound (its ifa_carp set) for lack of memory after the carpN is gone. Bounded by the
    // number found on the first pass.
    let mut budget: Option<usize> = None;
    loop {
        let found = GLOBAL.get(g).parent(&parent.get()).and_then(|p| {
            let inner = p.link.get().inner.lock();
            let mut mine = inner.ifas.iter().filter(|(r, _)| r.get().ifp().is_some_and(|i| i.same(carp)));
            let first = mine.next().map(|(r, _)| r.clone_ref());
            let n = usize::from(first.is_some()).saturating_add(mine.count());
            first.map(|r| (r, n))
        });
        let Some((r, n)) = found else { break };
        let left = budget.get_or_insert(n);
        if *left == 0 {
            break;
        }
        *left -= 1;
        let _ = config::detach_from(GLOBAL.get(g), r.get(), parent.get(), false);
    }
    drop_vhid(g, &parent.get(), vhid);
    set_parent(g, carp, None);
    carp.clone_link_state(LinkState::Unknown);
}

/// An IPv6 address was added to a `carpN` (`ifaddr_event_ext`, fired inside
/// `in6_update_ifa`; the shim defers it to its task, so this runs after the request that
/// added the address, including its `carp_attach_p` for `vhid N` or its `carp_detach_p`
/// when an existing address was given again): it binds to the `carpN`'s vhid, as an IPv4
/// address does through SIOCSIFADDR, if the `carpN` is configured (otherwise it stays a
/// plain address) and the address is not bound yet. The address must still be on the
/// `carpN` (checked under the configuration lock): one removed meanwhile is left alone,
/// and one removed after it bound is unbound by [`clone_addr6_removed`]. Residual: if
/// `in6_update_ifa` fails after its event and unlinks the address (it sends no DEL
/// event) while this runs at that very moment, the vhid keeps the address until the
/// `carpN` is destroyed.
pub fn clone_addr6_added(carp: Ifnet<'_>, ifa: Ifaddr<'_>) {
    let mut g = ConfigGuard::lock();
    if ifa.is_carp() || !find(CLONES.get(&mut g), &carp).is_some_and(|c| c.cfg.is_some()) {
        return;
    }
    if !carp.has_ifa(&ifa) {
        return;
    }
    let _ = attach(&mut g, ifa, 0);
}

/// An IPv6 address was removed from a `carpN` while still bound (the kernel unbinds
/// through `carp_detach_p` only when it saw the binding before removing it): unbind it.
pub fn clone_addr6_removed(ifa: Ifaddr<'_>) {
    let mut g = ConfigGuard::lock();
    if ifa.is_carp() {
        detach(&mut g, ifa, false);
    }
}

/// A `carpN` departs without being destroyed (moved to another VNET with `ifconfig
/// carpN vnet <jail>`; the kernel purges its addresses first, which unbinds them through
/// `carp_detach_p`): whatever is still bound leaves the parent, whose VNET it no longer
/// shares; it keeps its configuration and binds again in its new VNET when given an
/// address there. After a destroy it is already forgotten: nothing to do.
pub fn clone_departing(g: &mut ConfigGuard, carp: &Ifnet<'_>) {
    if carp.is_carp_clone() {
        unbind_all(g, carp);
        sync_sn6(g);
    }
}

/// A parent with a container departs (its container was just released, every address
/// unbound): the `carpN` bound to it are unbound and keep their configuration.
pub fn parent_gone(g: &mut ConfigGuard, parent: &Ifnet<'_>) {
    for c in CLONES.get(g).iter_mut() {
        if c.parent.as_ref().is_some_and(|p| p.get().same(parent)) {
            c.ifp.get().set_clone_parent(None);
            c.parent = None;
            c.ifp.get().clone_link_state(LinkState::Unknown);
        }
    }
    sync_sn6(g);
}


/// SIOCSIFFLAGS on a `carpN`: a bound vhid follows IFF_UP.
fn admin(g: &mut ConfigGuard, carp: &Ifnet<'_>) {
    let Some((parent, vhid)) = binding(g, carp) else { return };
    let up = carp.is_up();
    let global = GLOBAL.get(g);
    let Some(p) = global.parent(&parent.get()) else { return };
    let cif = p.link.get();
    let sys = net::with_vnet(cif.vnet, state::sysctls);
    net::in_net_epoch(|e| {
        cif::run(cif, p.link.ifp(), e, &sys, |inner, now| {
            if let Some(v) = inner.table.get_mut(vhid) {
                v.handle_admin(now, up, &sys);
            }
        })
    });
}


/// An ARP frame (Ethernet header + ARP packet) received on `ifp`, a parent with a
/// container: the reply frame (Ethernet source and ARP sender = the answering vhid's
/// virtual MAC, Ethernet destination = the requester's ARP sender address as FreeBSD's
/// ARP replies have it, padded to 60 bytes) written to `out`. Only addresses of `carpN`
/// are considered (modern CARP addresses live on the parent and are answered by the
/// stock ARP code through `carp_iamatch`). The answering vhid is carp-proto's
/// arpbalance decision (`ArpVhidSet`: every vhid sharing the address, no limit): without
/// `net.inet.carp.arpbalance` the first MASTER vhid (in vhid order) owning the address;
/// with it, the vhid chosen from the requester's address among the running ones, if this
/// host is its MASTER. Runs in the network epoch; takes only the container's lock; no
/// allocation.
pub fn arp_input(ifp: Ifnet<'_>, frame: &[u8; 42], out: &mut [u8; 60], e: &Epoch) -> ArpAnswer {
    use carp_proto::arpbalance::{self, ArpVhid, ArpVhidSet};
    use carp_proto::wire::arp;

    let none = ArpAnswer::default();
    let Ok((_, req)) = arp::parse_frame(frame) else { return none };
    let target = req.target_protocol_addr;
    let source = req.source_protocol_addr;
    let Some(cif) = ifp.container::<CifData>(e) else { return none };
    let balance = net::sysctls().arpbalance;
    let mut set = ArpVhidSet::new();
    {
        let inner = cif.inner.lock();
        for (r, v) in inner.ifas.iter() {
            let a = r.get();
            if !a.ifp().is_some_and(|i| i.is_carp_clone()) || a.addr() != Ok(IpAddr::V4(target)) {
                continue;
            }
            let state = inner.table.state(*v);
            set.insert(ArpVhid {
                vhid: *v,
                running: state.is_some_and(|s| s != CarpState::Init),
                owns_target: true,
                master: state == Some(CarpState::Master),
            });
        }
    }
    if set.count() == 0 {
        return none;
    }
    // Requests only (replies to our own requests must reach the stack): one for the
    // address would be answered by the stack with the parent's MAC, even on a BACKUP.
    // A peer's gratuitous ARP for the address (its takeover) must not reach the stack
    // either: it would log a duplicate address and answer with the parent's MAC.
    let consume = req.operation == arp::Operation::Request && ifp.has_plain_in4(target);
    let Some(vhid) = set.decide(balance, source) else { return ArpAnswer { reply_len: 0, consume } };
    let mac = arpbalance::answer_mac(vhid);
    let Some(rep) = req.reply_to(mac.into()) else { return ArpAnswer { reply_len: 0, consume } };
    let reply_len = match arp::emit_frame(out, mac.into(), req.source_hardware_addr, &rep) {
        // Minimum Ethernet frame (without FCS): the rest of `out` is zero padding.
        Ok(_) => out.len(),
        Err(_) => 0,
    };
    ArpAnswer { reply_len, consume }
}

//! Issue 5: the legacy `carpN` interfaces (FreeBSD ≤ 9 model on a FreeBSD 15 kernel,
//! reference D), beside the modern model of [`crate::config`].
//!
//! What exists so far:
//! - the cloner "carp" (`kpi::clone::Cloner`, registered last at load and dropped first at
//!   unload): `ifconfig carpN create` / `destroy`; each `carpN` is a pseudo
//!   interface (IFT_OTHER; see kmod/shim/carp_clone.c for its type, flags, MTU and output);
//! - the registry of `carpN` ([`CLONES`], under the configuration lock) holding each
//!   one's pending legacy configuration (vhid, advbase, advskew, key, and what a netlink
//!   SET also carries), filled by netlink SET / SIOCSVH naming the `carpN`
//!   ([`nl_set`], [`ioctl_set`]) with carp-proto's `config::legacy` rules, read back by
//!   netlink GET / SIOCGVH ([`nl_get`], [`ioctl_get`]): `ifconfig carp0 vhid 1 advskew
//!   100 pass x` stores it and `ifconfig carp0` shows `carp: INIT vhid 1 ...`; setting a
//!   vhid gives the `carpN` its link-level address 00:00:5e:00:01:<vhid>;
//! - the `carpN`'s `if_ioctl` policy ([`clone_ioctl`]).
//!
//! Not there yet (refused cleanly, nothing half-wired): binding a `carpN` to a parent.
//! An address added to a `carpN` is refused (with a vhid: `carp_attach` finds no
//! container on the `carpN` → `ENOPROTOOPT`; without: its SIOCSIFADDR → `EOPNOTSUPP`), so
//! a `carpN` never has a running vhid and always reports INIT. Down/up hand-off and ARP
//! from the parent's pfil hook depend on that binding. Because no `carpN` is bound, the
//! mixing rule (a `carpN` vhid equal to a vhid on its parent) cannot arise yet.
//!
//! Locking: [`CLONES`] is only touched under the configuration lock (`carp_sx`); the
//! cloner's callbacks run in sleepable context without it. `clone_ioctl` takes no lock for
//! the requests it accepts or refuses outright (SIOCADDMULTI may come with other locks
//! held).

use alloc::vec::Vec;

use carp_proto::config::carpreq::{CarpReq, CARPREQ_LEN};
use carp_proto::config::legacy::{self, CarpIf, CarpIfStatus, LegacyChange};
use carp_proto::config::GetQuery;
use carp_proto::{
    virtual_mac, CarpState, Errno, SetRequest, VhidStatus, Version, CARP_DFLTINTV, CARP_GROUP_V4,
    CARP_GROUP_V6, CARP_KEY_LEN, VRRP_DEFAULT_INTERVAL_CS, VRRP_DEFAULT_PRIORITY,
};

use crate::kpi::clone::CloneIoctl;
use crate::kpi::ifnet::{IfRef, Ifnet};
use crate::kpi::sync::{ConfigCell, ConfigGuard};

/// One `carpN`.
pub struct CarpN {
    /// The interface (a counted reference, released when the `carpN` is destroyed).
    pub ifp: IfRef,
    /// Its pending configuration, `None` until it is given a vhid. Its state is always
    /// INIT (a `carpN` is not bound to a parent yet).
    pub cfg: Option<VhidStatus>,
}

/// Every `carpN` of the module.
pub static CLONES: ConfigCell<Vec<CarpN>> = ConfigCell::new(Vec::new());

/// The cloner attached `ifp`: remember it.
pub fn clone_created(ifp: Ifnet<'_>) -> Result<(), Errno> {
    let entry = CarpN { ifp: ifp.to_ref(), cfg: None };
    let mut g = ConfigGuard::lock();
    crate::util::push(CLONES.get(&mut g), entry).map_err(|_| Errno::ENOMEM)
}

/// The cloner is destroying `ifp`: forget it (its reference is released here, before the
/// shim detaches and frees the interface).
pub fn clone_destroyed(ifp: Ifnet<'_>) {
    let removed = {
        let mut g = ConfigGuard::lock();
        let list = CLONES.get(&mut g);
        list.iter().position(|c| c.ifp.get().same(&ifp)).and_then(|i| crate::util::take_at(list, i))
    };
    drop(removed);
}

/// The `carpN`'s `if_ioctl`:
/// - SIOCSIFFLAGS: accepted (`IFF_UP` is recorded by the kernel; nothing runs on a `carpN`
///   without a bound vhid);
/// - SIOCADDMULTI/SIOCDELMULTI: accepted (a `carpN` is not IFF_MULTICAST; nothing to do);
/// - SIOCSIFADDR: `EOPNOTSUPP` until a `carpN` can be bound to a parent: an address on it
///   would otherwise be a local address with no CARP behind it;
/// - SIOCSIFMTU and anything else: `EINVAL` (the MTU stays 1500).
pub fn clone_ioctl(_ifp: Ifnet<'_>, kind: CloneIoctl) -> Result<(), Errno> {
    match kind {
        CloneIoctl::SetFlags | CloneIoctl::Multi => Ok(()),
        CloneIoctl::SetAddr => Err(Errno::EOPNOTSUPP),
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

/// What `config::legacy` needs to know about a `carpN` (no parent yet).
fn current(c: &CarpN) -> CarpIf<'static> {
    CarpIf { vhid: c.cfg.map(|s| s.vhid), parent: None }
}

/// CARP_NL_CMD_SET naming a `carpN` (already decoded and validated by
/// `netlink::decode_set`; privilege checked by the genl framework).
pub fn nl_set(ifp: &IfRef, req: &SetRequest) -> Result<(), Errno> {
    let mut g = ConfigGuard::lock();
    let c = find(CLONES.get(&mut g), &ifp.get()).ok_or(Errno::ENXIO)?;
    let ch = legacy::netlink_set(req, &current(c))?;
    apply(c, &ch)
}

/// CARP_NL_CMD_GET naming a `carpN`: its configuration if it has a vhid matching the
/// query (`ENOENT` otherwise, which `ifconfig` expects before a first SET).
pub fn nl_get(ifp: &IfRef, query: &GetQuery) -> Result<VhidStatus, Errno> {
    let mut g = ConfigGuard::lock();
    let c = find(CLONES.get(&mut g), &ifp.get()).ok_or(Errno::ENXIO)?;
    legacy::get_select(query, c.cfg.map(|s| s.vhid))?;
    c.cfg.ok_or(Errno::ENOENT)
}

/// SIOCSVH naming a `carpN` (FreeBSD 15 `struct carpreq`, 9.3 semantics).
pub fn ioctl_set(ifp: &IfRef, req: &CarpReq, privileged: bool) -> Result<(), Errno> {
    let mut g = ConfigGuard::lock();
    let c = find(CLONES.get(&mut g), &ifp.get()).ok_or(Errno::ENXIO)?;
    let ch = legacy::ioctl_set(req, &current(c), privileged)?;
    apply(c, &ch)
}

/// SIOCGVH naming a `carpN`: one 40-byte `struct carpreq` (vhid -1 when unset).
pub fn ioctl_get(ifp: &IfRef, privileged: bool) -> Result<[u8; CARPREQ_LEN], Errno> {
    let mut g = ConfigGuard::lock();
    let c = find(CLONES.get(&mut g), &ifp.get()).ok_or(Errno::ENXIO)?;
    let st = c.cfg.map_or_else(CarpIfStatus::default, |s| CarpIfStatus {
        vhid: Some(s.vhid),
        state: s.state,
        advbase: s.advbase,
        advskew: s.advskew,
        key: s.key,
    });
    Ok(legacy::ioctl_get(&st, privileged))
}

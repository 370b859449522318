//! Issue 5: the legacy `carpN` interfaces (FreeBSD ≤ 9 model on a FreeBSD 15 kernel,
//! reference D), beside the modern model of [`crate::config`].
//!
//! What exists so far:
//! - the cloner "carp" (`kpi::clone::Cloner`, registered last at load and dropped first at
//!   unload): `ifconfig carpN create` / `destroy`; each `carpN` is a pseudo
//!   interface (IFT_OTHER; see kmod/shim/carp_clone.c for its type, flags, MTU and output);
//! - the registry of `carpN` ([`CLONES`], under the configuration lock) holding each
//!   one's legacy configuration ([`CarpIfStatus`]: vhid, advbase, advskew, key), as
//!   SIOCSVH/netlink SET will fill it;
//! - the `carpN`'s `if_ioctl` policy ([`clone_ioctl`]).
//!
//! Not there yet (refused cleanly, nothing half-wired): binding a `carpN` to a parent
//! (netlink SET/GET on a `carpN` answer `EOPNOTSUPP` in `config`; an address added to a
//! `carpN` is refused: `carp_attach` finds no container, SIOCSIFADDR answers
//! `EOPNOTSUPP`), down/up hand-off, ARP from the parent's pfil hook.
//!
//! Locking: [`CLONES`] is only touched under the configuration lock (`carp_sx`); the
//! cloner's callbacks run in sleepable context without it. `clone_ioctl` takes no lock for
//! the requests it accepts or refuses outright (SIOCADDMULTI may come with other locks
//! held).

use alloc::vec::Vec;

use carp_proto::config::legacy::CarpIfStatus;
use carp_proto::Errno;

use crate::kpi::clone::CloneIoctl;
use crate::kpi::ifnet::{IfRef, Ifnet};
use crate::kpi::sync::{ConfigCell, ConfigGuard};

/// One `carpN`.
pub struct CarpN {
    /// The interface (a counted reference, released when the `carpN` is destroyed).
    pub ifp: IfRef,
    /// Its legacy configuration (no vhid, INIT, advbase 1, advskew 0 when created).
    pub status: CarpIfStatus,
}

/// Every `carpN` of the module.
pub static CLONES: ConfigCell<Vec<CarpN>> = ConfigCell::new(Vec::new());

/// The cloner attached `ifp`: remember it.
pub fn clone_created(ifp: Ifnet<'_>) -> Result<(), Errno> {
    let entry = CarpN { ifp: ifp.to_ref(), status: CarpIfStatus::default() };
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

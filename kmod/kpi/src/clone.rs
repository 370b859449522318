//! The interface cloner "carp" (kmod/shim/carp_clone.c) and what the classic model needs
//! of interfaces and addresses: address lists, the `carpN` link-level address and parent,
//! the ioctl kinds its `if_ioctl` forwards, the ARP hook's answer.
//!
//! The cloner and the ARP hook are one RAII registration per VNET ([`PerVnet`]):
//! dropping it destroys every remaining `carpN` (FreeBSD's `if_clone_detach` calls the
//! destroy callback for each), so it goes first once unload is past its point of no
//! return.

use alloc::vec::Vec;
use core::ffi::c_int;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_proto::parent::Candidate;
use carp_proto::{Errno, Family, LinkState};
use sys_bindings as sys;


use crate::ifnet::Ifnet;
use crate::net::{errno as errno_of, in_net_epoch};
use crate::walk;

/// The cloner "carp" and the ARP pfil hook, in every VNET present and future (a VNET
/// constructor/destructor pair registered with the kernel). Dropping it runs the
/// destructor in every VNET: every `carpN` is destroyed and every ARP hook unlinked (the
/// hook may still run until the next network epoch, which unload waits for).
pub struct PerVnet(());

impl PerVnet {
    /// Registers the pair; `EEXIST` (nothing left registered) if the default VNET did not
    /// get both (another "carp" cloner exists). The caller must not hold the
    /// configuration lock: the kernel runs the constructor under its VNET sysinit lock,
    /// which a VNET being destroyed holds while its interfaces depart through our
    /// departure handler (which takes the configuration lock).
    pub fn register() -> Result<PerVnet, Errno> {
        // SAFETY: registers the shim's static constructor/destructor descriptions;
        // sleepable caller (load) without the configuration lock.
        errno_of(unsafe { sys::carp_shim_pervnet_register() })?;
        Ok(PerVnet(()))
    }
}

impl Drop for PerVnet {
    fn drop(&mut self) {
        // SAFETY: undoes the successful registration above; the caller does not hold the
        // configuration lock (the cloner's destroy callbacks take it).
        unsafe { sys::carp_shim_pervnet_deregister() };
    }
}

/// What the ARP hook does with one request (see [`crate::entry::Carp::arp_input`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArpAnswer {
    /// Length of the reply frame written, 0 for none.
    pub reply_len: usize,
    /// The request is for a CARP-run `carpN` address that is also a plain address of the
    /// parent: the stack must not see it (it would answer with the parent's own MAC, even
    /// on a BACKUP host), so the hook consumes it.
    pub consume: bool,
}

impl Ifnet<'_> {
    /// Destroys this `carpN` the way `ifconfig carpN destroy` does (`if_clone_destroy` by
    /// name, in the interface's VNET): `ENXIO` if it is not (or no longer, or not yet) on
    /// its cloner's list. Sleepable, without the configuration lock (the destroy callback
    /// takes it). Only for `carpN`.
    pub fn clone_destroy(&self) -> Result<(), Errno> {
        if !self.is_carp_clone() {
            return Err(Errno::EINVAL);
        }
        // SAFETY: live carpN interface (the caller holds a reference); sleepable caller.
        errno_of(unsafe { sys::carp_shim_clone_destroy(self.raw()) })
    }

    /// Publishes (or clears) the parent a `carpN`'s output path forwards to. Only for
    /// `carpN`; callers hold the configuration lock and a counted reference on `parent`
    /// for as long as it stays published.
    pub fn set_clone_parent(&self, parent: Option<&Ifnet<'_>>) {
        if !self.is_carp_clone() {
            return;
        }
        let p = parent.map_or(core::ptr::null_mut(), |p| p.raw());
        // SAFETY: live carpN interface; stores one pointer (NULL or a referenced ifnet).
        unsafe { sys::carp_shim_clone_set_parent(self.raw(), p) };
    }

    /// Whether this interface is one of this module's `carpN`.
    pub fn is_carp_clone(&self) -> bool {
        // SAFETY: live interface; the shim compares its if_ioctl with the cloner's.
        unsafe { sys::carp_shim_is_clone(self.raw()) != 0 }
    }

    /// Sets a `carpN`'s link-level address (its virtual MAC). Only for `carpN`.
    pub fn set_clone_lladdr(&self, mac: &[u8; 6]) -> Result<(), Errno> {
        if !self.is_carp_clone() {
            return Err(Errno::EINVAL);
        }
        // SAFETY: live carpN interface (checked above), 6 readable bytes.
        errno_of(unsafe { sys::carp_shim_clone_set_lladdr(self.raw(), mac.as_ptr()) })
    }
}

impl Ifnet<'_> {
    /// `if_link_state_change` on a `carpN` (its link state mirrors its CARP state; devd
    /// then reports `system=IFNET subsystem=carpN type=LINK_UP/LINK_DOWN`). Does not
    /// sleep (the kernel defers the work to a task); callers make sure the `carpN` is not
    /// being destroyed (they hold the configuration lock or the container lock it is
    /// bound under).
    pub fn clone_link_state(&self, state: LinkState) {
        if !self.is_carp_clone() {
            return;
        }
        let s = match state {
            LinkState::Unknown => sys::LINK_STATE_UNKNOWN,
            LinkState::Down => sys::LINK_STATE_DOWN,
            LinkState::Up => sys::LINK_STATE_UP,
        };
        // SAFETY: live carpN interface; if_link_state_change only stores the state and
        // enqueues the interface's link task.
        unsafe { sys::if_link_state_change(self.raw(), s as c_int) };
    }

    /// Marks a `carpN` IFF_UP (its first address bound it).
    pub fn clone_up(&self) {
        if self.is_carp_clone() {
            // SAFETY: live carpN interface; sets one flag bit.
            unsafe { sys::carp_shim_clone_up(self.raw()) };
        }
    }
}

fn af_of(family: Family) -> u8 {
    match family {
        Family::Inet => walk::AF_INET,
        Family::Inet6 => walk::AF_INET6,
    }
}

fn ip_of(family: Family, b: &[u8; 16]) -> IpAddr {
    match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::from(*b)),
    }
}

/// Every address of `family` in the current VNET, as parent-discovery candidates named by
/// interface index (IPv6 addresses and masks with their embedded scope cleared). A
/// snapshot: interfaces may change right after.
pub fn addresses(family: Family) -> Result<Vec<Candidate<u32>>, Errno> {
    let af = af_of(family);
    let count = in_net_epoch(|e| {
        walk::vnet_ifnets(e).fold(0usize, |n, ifp| {
            n.saturating_add(ifp.addrs(e).filter(|a| walk::family(walk::sa_of(a)) == af).count())
        })
    });
    // Room for a few addresses added meanwhile; more are ignored (the next try sees them).
    let room = count.saturating_add(8);
    let mut out = Vec::new();
    out.try_reserve_exact(room).map_err(|_| Errno::ENOMEM)?;
    in_net_epoch(|e| {
        for ifp in walk::vnet_ifnets(e) {
            for ifa in ifp.addrs(e).filter(|a| walk::family(walk::sa_of(a)) == af) {
                if out.len() >= room {
                    return;
                }
                let c = Candidate {
                    iface: ifp.index(),
                    addr: ip_of(family, &walk::sa_bytes(walk::sa_of(&ifa), af)),
                    mask: ip_of(family, &walk::sa_bytes(walk::mask_of(&ifa), af)),
                    if_flags: ifp.flags(),
                    on_carp: ifp.is_carp_clone(),
                };
                // Cannot fail: `out` has room for `room` entries (reserved above).
                let _ = crate::vec::push(&mut out, c);
            }
        }
    });
    Ok(out)
}

/// What a `carpN`'s `if_ioctl` was asked (carp_shim.h `CARP_CLONE_IOC_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CloneIoctl {
    /// SIOCSIFFLAGS (the kernel already updated `if_flags`).
    SetFlags,
    /// SIOCSIFADDR: an address is being added.
    SetAddr,
    /// SIOCADDMULTI / SIOCDELMULTI.
    Multi,
    /// SIOCSIFMTU.
    SetMtu,
    /// Anything else.
    Other,
}

pub(crate) fn ioctl_kind(kind: c_int) -> CloneIoctl {
    match u32::try_from(kind) {
        Ok(sys::CARP_CLONE_IOC_SETFLAGS) => CloneIoctl::SetFlags,
        Ok(sys::CARP_CLONE_IOC_SETADDR) => CloneIoctl::SetAddr,
        Ok(sys::CARP_CLONE_IOC_MULTI) => CloneIoctl::Multi,
        Ok(sys::CARP_CLONE_IOC_SETMTU) => CloneIoctl::SetMtu,
        _ => CloneIoctl::Other,
    }
}

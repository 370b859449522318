//! Walks of the kernel's interface list (`V_ifnet`) and of an interface's address list
//! (`if_addrhead`) for the classic model: a `carpN`'s addresses, whether an interface or
//! an address is still linked, the checks the `carpN` output path and the ARP hook make,
//! and the pieces of parent discovery ([`crate::clone::addresses`]).
//!
//! Both lists are CK_STAILQs: each link is read with an Acquire load ([`load_ptr`]), inside
//! the network epoch, which keeps every interface and address seen allocated until the
//! section ends (the kernel frees them through the epoch after unlinking them).

use alloc::vec::Vec;
use core::marker::PhantomData;
use core::net::Ipv4Addr;
use core::ptr::NonNull;

use carp_proto::Errno;
use sys_bindings as sys;

use crate::ifnet::{load_ptr, s_addr, scope_cleared, sin6_addr, IfaRef, Ifaddr, Ifnet};
use crate::net::{in_net_epoch, with_vnet, Epoch};

pub(crate) const AF_INET: u8 = sys::AF_INET as u8;
pub(crate) const AF_INET6: u8 = sys::AF_INET6 as u8;

/// The interfaces of the current VNET in list order (`CK_STAILQ_FOREACH(ifp, &V_ifnet,
/// if_link)`), each valid until the end of the epoch section `'e`.
pub(crate) struct Ifnets<'e> {
    next: *mut sys::ifnet,
    _epoch: PhantomData<&'e Epoch>,
}

/// Starts a walk of the current VNET's interfaces (curvnet must be set).
pub(crate) fn vnet_ifnets(_e: &Epoch) -> Ifnets<'_> {
    // SAFETY: the shim returns the address of the current VNET's V_ifnet (VNET storage,
    // alive as long as the VNET).
    let head = unsafe { sys::carp_shim_vnet_ifnet() };
    let next = if head.is_null() {
        core::ptr::null_mut()
    } else {
        // SAFETY: a live list head; its first link is read as CK reads it.
        unsafe { load_ptr(core::ptr::addr_of_mut!((*head).cstqh_first)) }
    };
    Ifnets { next, _epoch: PhantomData }
}

impl<'e> Iterator for Ifnets<'e> {
    type Item = Ifnet<'e>;

    fn next(&mut self) -> Option<Ifnet<'e>> {
        let p = NonNull::new(self.next)?;
        // SAFETY: `p` is a linked interface, alive for the epoch section 'e; its link is
        // read as CK reads it.
        self.next = unsafe { load_ptr(core::ptr::addr_of_mut!((*p.as_ptr()).if_link.cstqe_next)) };
        // SAFETY: as above.
        unsafe { Ifnet::from_raw(p.as_ptr()) }
    }
}

/// `ifa->ifa_addr` (null for none).
pub(crate) fn sa_of(ifa: &Ifaddr<'_>) -> *const sys::sockaddr {
    // SAFETY: live ifaddr (type invariant); ifa_addr is set when the address is created.
    unsafe { (*ifa.raw()).ifa_addr }
}

/// `ifa->ifa_netmask` (null for none).
pub(crate) fn mask_of(ifa: &Ifaddr<'_>) -> *const sys::sockaddr {
    // SAFETY: live ifaddr (type invariant); ifa_netmask is set when the address is
    // created.
    unsafe { (*ifa.raw()).ifa_netmask }
}

/// The family of a socket address, 0 for a null pointer.
pub(crate) fn family(sa: *const sys::sockaddr) -> u8 {
    // SAFETY: null or a live socket address (an ifaddr's ifa_addr/ifa_netmask, or the
    // destination the stack passes to if_output), whose header is readable.
    unsafe { sa.as_ref() }.map_or(0, |h| h.sa_family)
}

/// The 16 bytes of `sa` as parent discovery lists them for an address of family `af`: 4
/// bytes of an IPv4 address, or an IPv6 address with its embedded scope cleared; zero when
/// `sa` is null or shorter than that family's socket address. The family tested is the
/// address's: for a netmask (whose own `sa_family` may be unset), its address's.
pub(crate) fn sa_bytes(sa: *const sys::sockaddr, af: u8) -> [u8; 16] {
    // SAFETY: null or a live socket address whose header is readable.
    let Some(h) = (unsafe { sa.as_ref() }) else { return [0; 16] };
    let len = usize::from(h.sa_len);
    if af == AF_INET && len >= core::mem::size_of::<sys::sockaddr_in>() {
        // SAFETY: a sockaddr_in of that length (checked).
        let [a, b, c, d] = unsafe { s_addr(sa) }.to_ne_bytes();
        [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    } else if af == AF_INET6 && len >= core::mem::size_of::<sys::sockaddr_in6>() {
        // SAFETY: a sockaddr_in6 of that length (checked).
        scope_cleared(unsafe { sin6_addr(sa) })
    } else {
        [0; 16]
    }
}

/// Whether one of `ifp`'s IPv4 addresses has a prefix covering `dst` (`s_addr`, network
/// order): the parent's own resolution of a next hop (in_lltable_rtcheck) needs one.
pub(crate) fn covers4(ifp: &Ifnet<'_>, e: &Epoch, dst: u32) -> bool {
    ifp.addrs(e).any(|ifa| {
        let (sa, mask) = (sa_of(&ifa), mask_of(&ifa));
        if family(sa) != AF_INET || mask.is_null() {
            return false;
        }
        // SAFETY: an AF_INET address and its netmask (a sockaddr_in's storage), non-null.
        let (a, m) = unsafe { (s_addr(sa), s_addr(mask)) };
        (a ^ dst) & m == 0
    })
}

impl Ifnet<'_> {
    /// This interface's IPv4 and IPv6 addresses, each a counted reference. Sleepable
    /// context (it allocates with M_NOWAIT; `ENOMEM` if that fails).
    pub fn ip_addrs(&self) -> Result<Vec<IfaRef>, Errno> {
        let is_ip = |a: &Ifaddr<'_>| matches!(family(sa_of(a)), AF_INET | AF_INET6);
        let count = in_net_epoch(|e| self.addrs(e).filter(is_ip).count());
        // Room for a few addresses added meanwhile; more are ignored.
        let room = count.saturating_add(4);
        let mut out: Vec<IfaRef> = Vec::new();
        out.try_reserve_exact(room).map_err(|_| Errno::ENOMEM)?;
        in_net_epoch(|e| {
            for ifa in self.addrs(e).filter(is_ip) {
                if out.len() >= room {
                    break;
                }
                // An address being deleted may have dropped its last reference already.
                // SAFETY: a linked address, alive for the epoch section.
                if unsafe { sys::ifa_try_ref(ifa.raw()) } == 0 {
                    continue;
                }
                // SAFETY: the reference just taken is handed to the IfaRef (released when
                // it drops).
                let r = unsafe { IfaRef::from_counted(ifa) };
                // Cannot fail: `out` has room for `room` entries (reserved above).
                let _ = crate::vec::push(&mut out, r);
            }
        });
        Ok(out)
    }

    /// Whether this interface is still on its VNET's interface list (not departed).
    pub fn is_linked(&self) -> bool {
        if self.flags() & sys::IFF_DYING != 0 {
            return false;
        }
        with_vnet(self.vnet(), || in_net_epoch(|e| vnet_ifnets(e).any(|it| it.same(self))))
    }

    /// Whether another address than `ifa` on this interface has the same family and
    /// address (`ifa` itself may already be unlinked). Addresses compare as stored (an
    /// IPv6 address with its embedded scope).
    pub fn has_other_ifa_like(&self, ifa: &Ifaddr<'_>) -> bool {
        let a = sa_of(ifa);
        let af = family(a);
        if af != AF_INET && af != AF_INET6 {
            return false;
        }
        in_net_epoch(|e| {
            self.addrs(e).any(|it| {
                let b = sa_of(&it);
                if it.raw() == ifa.raw() || family(b) != af {
                    return false;
                }
                if af == AF_INET {
                    // SAFETY: both AF_INET socket addresses (non-null: a family was read).
                    unsafe { s_addr(a) == s_addr(b) }
                } else {
                    // SAFETY: both AF_INET6 socket addresses (non-null); every bit pattern
                    // of the 16-byte unions is a valid byte array.
                    unsafe { sin6_addr(a).__u6_addr.__u6_addr8 == sin6_addr(b).__u6_addr.__u6_addr8 }
                }
            })
        })
    }

    /// Whether `ifa` is still on this interface's address list.
    pub fn has_ifa(&self, ifa: &Ifaddr<'_>) -> bool {
        in_net_epoch(|e| self.addrs(e).any(|it| it.raw() == ifa.raw()))
    }

    /// Whether `addr` is one of this interface's own IPv4 addresses that CARP does not
    /// run (`ifa_carp` unset). Called by the ARP hook, inside the network epoch; the walk
    /// nests its own section in it.
    pub fn has_plain_in4(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from_ne_bytes(addr.octets());
        in_net_epoch(|e| {
            self.addrs(e).any(|ifa| {
                let sa = sa_of(&ifa);
                // SAFETY: live ifaddr; ifa_carp is read as the kernel's hooks read it.
                let carp = unsafe { load_ptr(core::ptr::addr_of_mut!((*ifa.raw()).ifa_carp)) };
                // SAFETY: an AF_INET socket address (non-null: a family was read).
                family(sa) == AF_INET && carp.is_null() && unsafe { s_addr(sa) } == a
            })
        })
    }
}

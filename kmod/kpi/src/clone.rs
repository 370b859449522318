//! The interface cloner "carp" and its `carpN` interfaces, and what the classic model
//! needs of interfaces: parent discovery by subnet, the `carpN` link-level address, parent
//! and link state, the ioctl kinds its `if_ioctl` tells apart.
//!
//! `ifconfig carpN create` / `destroy` (SIOCIFCREATE2 / SIOCIFDESTROY) reach the cloner's
//! callbacks through FreeBSD 15's if_clone KPI ([`attach_cloner`], `ifc_attach_cloner`
//! with a `struct if_clone_addreq`). Each `carpN` is a pseudo interface ([`create`]):
//!
//! - type `IFT_OTHER`: FreeBSD 15's net/if_types.h no longer has IFT_CARP (0xf8 is now
//!   IFT_WIREGUARD), and IFT_OTHER has no special handling in the stack, so no Ethernet
//!   consumer (vlan, bridge, lagg, ng_ether, ARP, ND resolution) ever attaches to or
//!   resolves through a `carpN` (reference D.6.5); this module recognises its own `carpN`
//!   by their `if_ioctl` ([`Ifnet::is_carp_clone`]), not by type;
//! - no IFF_LOOPBACK (D.6.5), no IFF_MULTICAST (so IPv6 does not auto-configure a
//!   link-local address on it), no IFF_BROADCAST;
//! - a 6-byte link-level address (`sdl_alen` 6), all zero until the `carpN` has a vhid,
//!   then 00:00:5e:00:01:<vhid> ([`Ifnet::set_clone_lladdr`]);
//! - MTU 1500;
//! - `if_output` forwards to the bound parent ([`output`]); `if_transmit` drops (nothing
//!   hands a `carpN` Ethernet frames);
//! - `if_ioctl` hands every decision to the logic ([`ioctl_kind`] tells the requests
//!   apart).
//!
//! The kernel callbacks themselves (`carp_rs_clone_create`, `_destroy`, `_output`,
//! `_ioctl`) are defined for the logic type by [`export_carp!`](crate::export_carp) with
//! the kernel's prototypes, each calling the body here through its adapter in
//! [`crate::entry`]; this module names them (declared below) to hand their addresses to
//! the kernel. The logic keeps the per-`carpN` state, keyed by the ifnet.
//!
//! The cloner and the ARP hook ([`crate::arp`]) are one RAII registration per VNET
//! ([`PerVnet`]): dropping it destroys every remaining `carpN` (FreeBSD's
//! `ifc_detach_cloner` calls the destroy callback for each), so it goes first once unload
//! is past its point of no return.

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_ulong, CStr};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicPtr, Ordering};

use carp_proto::parent::Candidate;
use carp_proto::{Errno, Family, LinkState};
use sys_bindings as sys;

use crate::ifnet::{IfRef, Ifnet};
use crate::net::{errno as errno_of, in_net_epoch, Epoch};
use crate::pkt;
use crate::walk;

pub use crate::arp::ArpAnswer;

/// The cloner's name, and so the `carpN` driver name.
const CLONE_NAME: &CStr = c"carp";

extern "C" {
    // Defined by export_carp! (entry.rs) for the logic type, each checked there against
    // the kernel's typedef (ifc_create_f, ifc_destroy_f, if_output_fn_t, if_ioctl_fn_t);
    // the uses below check these declarations against the same typedefs.
    fn carp_rs_clone_create(
        ifc: *mut sys::if_clone,
        name: *mut c_char,
        maxlen: usize,
        ifd: *mut sys::ifc_data,
        ifpp: *mut *mut sys::ifnet,
    ) -> c_int;
    fn carp_rs_clone_destroy(ifc: *mut sys::if_clone, ifp: *mut sys::ifnet, flags: u32) -> c_int;
    fn carp_rs_clone_output(ifp: sys::if_t, m: *mut sys::mbuf, dst: *const sys::sockaddr, ro: *mut sys::route)
        -> c_int;
    fn carp_rs_clone_ioctl(ifp: sys::if_t, cmd: sys::u_long, data: sys::caddr_t) -> c_int;
}

/// The `carpN`'s `if_ioctl`, by which this module recognises its interfaces.
const CLONE_IOCTL: sys::if_ioctl_fn_t = Some(carp_rs_clone_ioctl);

/// The cloner and the ARP pfil hook, in every VNET present and future (a VNET
/// constructor/destructor pair registered with the kernel, kmod/shim/carp_clone.c).
/// Dropping it runs the destructor in every VNET: every `carpN` is destroyed and every ARP
/// hook unlinked (the hook may still run until the next network epoch, which unload waits
/// for).
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

/// Attaches the cloner "carp" in the current VNET (the VNET constructor's call, curvnet
/// set, sleepable): units allocated by the kernel (`IFC_F_AUTOUNIT`, `carpN` with the
/// lowest free N unless the user names one). Null if another cloner of that name exists.
pub(crate) fn attach_cloner() -> *mut sys::if_clone {
    let mut req = sys::if_clone_addreq {
        version: 0,
        spare: 0,
        flags: sys::IFC_F_AUTOUNIT,
        maxunit: 0,
        match_f: None,
        create_f: Some(carp_rs_clone_create),
        destroy_f: Some(carp_rs_clone_destroy),
    };
    // SAFETY: a static name and a request the kernel copies; the callbacks stay in memory
    // until the cloner is detached (the VNET destructor, before unload completes).
    unsafe { sys::ifc_attach_cloner(CLONE_NAME.as_ptr(), &mut req) }
}

/// The cloner's create callback, after the adapter's checks: allocates, names and
/// attaches the `carpN` (unit from the kernel), then lets the logic record it with
/// `created`; on its error, undoes everything and returns that errno. Sleepable.
///
/// # Safety
///
/// `ifd` and `ifpp` are the kernel's arguments to `ifc_create_f` (valid for the call).
pub(crate) unsafe fn create(
    ifd: *const sys::ifc_data,
    ifpp: *mut *mut sys::ifnet,
    created: impl FnOnce(Ifnet<'_>) -> Result<(), Errno>,
) -> c_int {
    if ifd.is_null() || ifpp.is_null() {
        return Errno::EINVAL.as_i32();
    }
    // SAFETY: caller's contract.
    let unit = unsafe { (*ifd).unit };
    // SAFETY: if_alloc sleeps for memory (sleepable caller) and returns a fresh ifnet.
    let ifp = unsafe { sys::if_alloc(sys::ifType_IFT_OTHER as u8) };
    if ifp.is_null() {
        return Errno::ENOMEM.as_i32();
    }
    // SAFETY: `ifp` is ours and not yet attached: nothing else sees it. The fields are
    // those a pseudo interface sets before if_attach (module documentation above); the
    // callbacks are checked against the field types (the kernel's typedefs).
    unsafe {
        sys::if_initname(ifp, CLONE_NAME.as_ptr(), unit as c_int);
        // The published parent: none yet (read atomically by the output path).
        AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*ifp).if_softc)).store(core::ptr::null_mut(), Ordering::Release);
        (*ifp).if_flags = 0;
        (*ifp).if_mtu = sys::ETHERMTU;
        (*ifp).if_addrlen = sys::ETHER_ADDR_LEN as u8;
        (*ifp).if_hdrlen = 0;
        (*ifp).if_output = Some(carp_rs_clone_output);
        (*ifp).if_transmit = Some(transmit);
        (*ifp).if_qflush = Some(qflush);
        (*ifp).if_ioctl = CLONE_IOCTL;
        (*ifp).if_link_state = sys::LINK_STATE_UNKNOWN as u8;
        sys::if_attach(ifp);
    }
    // if_attach sizes the link-level address for if_addrlen bytes but leaves its length 0
    // (ether_ifattach sets it for Ethernet): a carpN has a 6-byte address, all zero until
    // it has a vhid.
    if let Some(sdl) = lladdr_sdl(ifp) {
        // SAFETY: the carpN's own link-level sockaddr, not yet visible to any reader.
        unsafe { (*sdl).sdl_alen = sys::ETHER_ADDR_LEN as u8 };
    }
    // SAFETY: an attached interface; BPF sees its output as DLT_NULL (a 4-byte family).
    unsafe { sys::bpfattach(ifp, sys::DLT_NULL, core::mem::size_of::<u32>() as u32) };
    // SAFETY: attached until the destroy callback (or the undo below).
    let r = unsafe { Ifnet::from_raw(ifp) }.map_or(Err(Errno::EINVAL), created);
    match r {
        Ok(()) => {
            // SAFETY: caller's contract (the kernel's out-parameter).
            unsafe { ifpp.write(ifp) };
            0
        }
        Err(e) => {
            // SAFETY: undoes the attach above; nothing else holds the interface (the
            // logic refused it and the kernel links it on its cloner only on success).
            unsafe {
                sys::bpfdetach(ifp);
                sys::if_detach(ifp);
                sys::if_free(ifp);
            }
            e.as_i32()
        }
    }
}

/// The cloner's destroy callback, after the adapter's checks: the logic unbinds the
/// `carpN`'s vhid and forgets it first (`destroyed`), then the ifnet goes away. Sleepable.
///
/// # Safety
///
/// `ifp` is null or a `carpN` the kernel is destroying (attached, referenced).
pub(crate) unsafe fn destroy(ifp: *mut sys::ifnet, destroyed: impl FnOnce(Ifnet<'_>)) -> c_int {
    // SAFETY: caller's contract.
    let Some(i) = (unsafe { Ifnet::from_raw(ifp) }) else { return Errno::EINVAL.as_i32() };
    destroyed(i);
    // The reference on the parent the output path used goes with the carpN.
    i.set_clone_parent(None);
    // The addresses are removed here, while the protocols are alive: at VNET teardown
    // if_detach skips the purge (VNET_IS_SHUTTING_DOWN), and this destructor runs before
    // the protocols' own teardown, which would then never see them. Elsewhere if_detach
    // would find nothing left to purge. ifa_carp is already clear (the logic unbound
    // them): no carp_detach_p.
    // SAFETY: the attached carpN of the caller's contract, freed last.
    unsafe {
        sys::if_purgeaddrs(ifp);
        sys::bpfdetach(ifp);
        sys::if_detach(ifp);
        sys::if_free(ifp);
    }
    0
}

/// The `carpN`'s `if_output`: a packet routed through a `carpN` (its subnet route can end
/// up on the `carpN`, e.g. when the parent's own address in that subnet goes away) is
/// forwarded to the bound parent's `if_output` with the same next hop, as 9.x's
/// carp_output did, tagged for the vhid's virtual MAC as source when this host is its
/// MASTER (`vhid_of` answers, 0 for none). Unbound: dropped (`ENETDOWN`). The parent
/// pointer (`if_softc`) is published by [`Ifnet::set_clone_parent`] under the module's
/// configuration lock and read here inside the network epoch, which keeps the ifnet
/// allocated. Consumes `m`; counts the `carpN`'s output packets, bytes and errors.
///
/// # Safety
///
/// The kernel's `if_output` arguments: `ifp` a live `carpN`, `m` a packet-header mbuf
/// handed over, `dst` null or the next hop's socket address.
pub(crate) unsafe fn output(
    ifp: *mut sys::ifnet,
    m: *mut sys::mbuf,
    dst: *const sys::sockaddr,
    vhid_of: impl FnOnce(Ifnet<'_>, Ifnet<'_>, &Epoch) -> u8,
) -> c_int {
    let r = in_net_epoch(|e| {
        // SAFETY: live carpN (caller's contract); its parent pointer is read atomically.
        let parent = unsafe { AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*ifp).if_softc)) }.load(Ordering::Acquire);
        // SAFETY: a live carpN, and null or its published parent, kept allocated by the
        // epoch section.
        let (Some(carp), Some(parent)) = (unsafe { Ifnet::from_raw(ifp) }, unsafe { Ifnet::from_raw(parent.cast()) })
        else {
            return Err(sys::ENETDOWN as c_int);
        };
        let af = walk::family(dst);
        if (af != walk::AF_INET && af != walk::AF_INET6) || parent.flags() & sys::IFF_DYING != 0 {
            return Err(sys::ENETDOWN as c_int);
        }
        // IPv4: the parent resolves the next hop only if one of its own addresses covers
        // it (in_lltable_rtcheck); otherwise fail here, without arpresolve's log line for
        // every packet. IPv6 resolution accepts any address of the parent.
        if af == walk::AF_INET {
            // SAFETY: an AF_INET destination (non-null: a family was read).
            let a = unsafe { core::ptr::addr_of!((*dst.cast::<sys::sockaddr_in>()).sin_addr.s_addr).read_unaligned() };
            if !walk::covers4(&parent, e, a) {
                return Err(sys::EHOSTUNREACH as c_int);
            }
        }
        // SAFETY: the parent is live for the section; its if_output is set by its driver.
        let Some(out) = (unsafe { (*parent.raw()).if_output }) else { return Err(sys::ENETDOWN as c_int) };
        let vhid = vhid_of(carp, parent, e);
        if vhid > 0 {
            // Without memory for the tag the packet leaves with the parent's own MAC.
            // SAFETY: the packet handed over to us; vhid in 1..=255.
            let _ = unsafe { crate::hooks::tag_carpn_output(m, c_int::from(vhid)) };
        }
        // SAFETY: live carpN; a packet-header mbuf (caller's contract); if_output consumes
        // it and is called inside the epoch as the stack calls it.
        unsafe {
            sys::if_inc_counter(ifp, sys::ift_counter_IFCOUNTER_OPACKETS, 1);
            sys::if_inc_counter(ifp, sys::ift_counter_IFCOUNTER_OBYTES, i64::from(pkt::pkt_len(m)));
            Ok(out(parent.raw(), m, dst, core::ptr::null_mut()))
        }
    });
    r.unwrap_or_else(|error| {
        // SAFETY: the packet was not handed on: ours to free; live carpN.
        unsafe {
            sys::m_freem(m);
            sys::if_inc_counter(ifp, sys::ift_counter_IFCOUNTER_OERRORS, 1);
        }
        error
    })
}

/// The `carpN`'s `if_transmit`: nothing hands a `carpN` Ethernet frames; one that comes
/// is dropped (`ENETDOWN`).
///
/// # Safety
///
/// The kernel's `if_transmit` arguments: a live `carpN` and an mbuf handed over.
unsafe extern "C" fn transmit(ifp: sys::if_t, m: *mut sys::mbuf) -> c_int {
    // SAFETY: caller's contract.
    unsafe {
        sys::m_freem(m);
        sys::if_inc_counter(ifp, sys::ift_counter_IFCOUNTER_OERRORS, 1);
    }
    sys::ENETDOWN as c_int
}

/// The `carpN`'s `if_qflush`: it queues nothing.
///
/// # Safety
///
/// None (nothing is touched).
unsafe extern "C" fn qflush(_ifp: sys::if_t) {}

/// `_IOW('i', num, struct ifreq)`: the interface ioctls of sys/sockio.h.
const fn iow_ifreq(num: u8) -> c_ulong {
    crate::ifnet::iow_i::<sys::ifreq>(num)
}
const SIOCSIFADDR: c_ulong = iow_ifreq(12);
const SIOCSIFFLAGS: c_ulong = iow_ifreq(16);
const SIOCADDMULTI: c_ulong = iow_ifreq(49);
const SIOCDELMULTI: c_ulong = iow_ifreq(50);
const SIOCSIFMTU: c_ulong = iow_ifreq(52);
// The values of FreeBSD's sys/sockio.h (an ABI: the same on every architecture).
const _: () = assert!(
    SIOCSIFADDR == 0x8020_690c
        && SIOCSIFFLAGS == 0x8020_6910
        && SIOCADDMULTI == 0x8020_6931
        && SIOCDELMULTI == 0x8020_6932
        && SIOCSIFMTU == 0x8020_6934
);

/// What a `carpN`'s `if_ioctl` was asked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CloneIoctl {
    /// SIOCSIFFLAGS (the kernel already updated `if_flags`).
    SetFlags,
    /// SIOCSIFADDR: an address is being added (the ioctl's data is its `struct ifaddr`,
    /// as in_aifaddr_ioctl/in6_ifinit pass it).
    SetAddr,
    /// SIOCADDMULTI / SIOCDELMULTI.
    Multi,
    /// SIOCSIFMTU (data: the `struct ifreq`).
    SetMtu,
    /// Anything else.
    Other,
}

/// The kind of a `carpN` ioctl command.
pub(crate) fn ioctl_kind(cmd: c_ulong) -> CloneIoctl {
    match cmd {
        SIOCSIFFLAGS => CloneIoctl::SetFlags,
        SIOCSIFADDR => CloneIoctl::SetAddr,
        SIOCADDMULTI | SIOCDELMULTI => CloneIoctl::Multi,
        SIOCSIFMTU => CloneIoctl::SetMtu,
        _ => CloneIoctl::Other,
    }
}

/// The link-level `sockaddr_dl` of an attached interface (`if_addr->ifa_addr`), if any.
fn lladdr_sdl(ifp: *mut sys::ifnet) -> Option<*mut sys::sockaddr_dl> {
    // SAFETY: live interface (callers'); if_addr is set by if_attach and stays until
    // if_detach; its ifa_addr is the link-level sockaddr_dl.
    let ifa = unsafe { (*ifp).if_addr };
    if ifa.is_null() {
        return None;
    }
    // SAFETY: as above.
    let sa = unsafe { (*ifa).ifa_addr };
    (!sa.is_null()).then(|| sa.cast::<sys::sockaddr_dl>())
}

/// `ifnet_detach_sxlock` (sx_xlock), held until dropped: the lock SIOCIFDESTROY and a VNET
/// teardown take around destroying interfaces.
struct DetachLock(());

/// Where the lock is taken, for the kernel's lock debugging (LOCK_FILE/LOCK_LINE).
const LOCK_FILE: &CStr = match CStr::from_bytes_with_nul(concat!(file!(), "\0").as_bytes()) {
    Ok(f) => f,
    Err(_) => c"clone.rs",
};

impl DetachLock {
    fn lock() -> DetachLock {
        // SAFETY: the kernel's sx lock (initialised at boot); sleepable callers without
        // the configuration lock or a mutex. sx_xlock for a module is this call
        // (LOCK_DEBUG).
        unsafe {
            sys::_sx_xlock(core::ptr::addr_of_mut!(sys::ifnet_detach_sxlock), 0, LOCK_FILE.as_ptr(), line!() as c_int)
        };
        DetachLock(())
    }
}

impl Drop for DetachLock {
    fn drop(&mut self) {
        // SAFETY: releases the lock taken in `lock`, on the same thread.
        unsafe {
            sys::_sx_xunlock(core::ptr::addr_of_mut!(sys::ifnet_detach_sxlock), LOCK_FILE.as_ptr(), line!() as c_int)
        };
    }
}

impl Ifnet<'_> {
    /// Destroys this `carpN` the way `ifconfig carpN destroy` does (`if_clone_destroyif`
    /// through its home VNET's cloner, by pointer: a name could have been reused by a
    /// rename): `ENXIO` if it is not (or no longer, or not yet) on its cloner's list.
    /// Sleepable, without the configuration lock (the destroy callback takes it). Only for
    /// `carpN` (`EINVAL` otherwise).
    pub fn clone_destroy(&self) -> Result<(), Errno> {
        if !self.is_carp_clone() {
            return Err(Errno::EINVAL);
        }
        // Under ifnet_detach_sxlock, as SIOCIFDESTROY, which a VNET being destroyed holds
        // across its destructors: either its teardown has not begun (the VNETs and the
        // cloner are alive) or it is over, and then this carpN was destroyed by it
        // (IFF_DYING, set by if_free; its if_ioctl replaced by if_detach) and is left
        // alone.
        let _detach = DetachLock::lock();
        if self.flags() & sys::IFF_DYING != 0 || !self.is_carp_clone() {
            return Err(Errno::ENXIO);
        }
        // SAFETY: a live carpN that is not dying: its home VNET is alive (see above).
        let ifc = unsafe { sys::carp_shim_home_cloner(self.raw()) };
        if ifc.is_null() {
            return Err(Errno::ENXIO);
        }
        // SAFETY: the cloner and one of its interfaces (the kernel checks it is linked on
        // it); sleepable caller holding ifnet_detach_sxlock, as the kernel's own callers.
        errno_of(unsafe { sys::if_clone_destroyif(ifc, self.raw()) })
    }

    /// Publishes (or clears) the parent a `carpN`'s output path forwards to, keeping the
    /// counted reference `parent` for as long as it stays published (the one it replaces
    /// is released: an interface is freed only after a network-epoch wait, so an output
    /// still using it in its epoch section is safe). Only for `carpN` (otherwise `parent`
    /// is just dropped); the carpN's destruction clears it.
    pub fn set_clone_parent(&self, parent: Option<IfRef>) {
        if !self.is_carp_clone() {
            return;
        }
        let p = parent.map_or(core::ptr::null_mut(), IfRef::into_raw);
        // SAFETY: live carpN interface; its if_softc is this module's, read atomically by
        // [`output`].
        let old = unsafe { AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*self.raw()).if_softc)) }
            .swap(p.cast(), Ordering::AcqRel);
        // SAFETY: a non-null if_softc of a carpN carries the reference stored above.
        drop(unsafe { IfRef::from_counted(old.cast()) });
    }

    /// Whether this interface is one of this module's `carpN`: its `if_ioctl` is the
    /// `carpN` ioctl (if_detach replaces it, so a detached `carpN` is no longer one).
    pub fn is_carp_clone(&self) -> bool {
        is_clone(self.raw())
    }

    /// Sets a `carpN`'s link-level address (its virtual MAC). Only for `carpN`; `EINVAL`
    /// if it has no 6-byte link-level address.
    pub fn set_clone_lladdr(&self, mac: &[u8; 6]) -> Result<(), Errno> {
        if !self.is_carp_clone() {
            return Err(Errno::EINVAL);
        }
        let sdl = lladdr_sdl(self.raw()).ok_or(Errno::EINVAL)?;
        // SAFETY: the carpN's link-level sockaddr_dl (alive while it is attached).
        let (alen, nlen) = unsafe { ((*sdl).sdl_alen, (*sdl).sdl_nlen) };
        if usize::from(alen) != mac.len() {
            return Err(Errno::EINVAL);
        }
        let off = core::mem::offset_of!(sys::sockaddr_dl, sdl_data).saturating_add(usize::from(nlen));
        // SAFETY: LLADDR(sdl) = sdl_data + sdl_nlen: if_attach allocated the sockaddr_dl
        // with room for the name and if_addrlen (6) address bytes; 6 bytes written there.
        unsafe { core::ptr::copy_nonoverlapping(mac.as_ptr(), sdl.cast::<u8>().add(off), mac.len()) };
        Ok(())
    }

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

    /// Marks a `carpN` IFF_UP when its first address binds it (as 9.x and ether_ioctl do).
    pub fn clone_up(&self) {
        if self.is_carp_clone() {
            // SAFETY: live carpN interface; sets one flag bit.
            unsafe { sys::if_setflagbits(self.raw(), sys::IFF_UP as c_int, 0) };
        }
    }
}

/// Whether `ifp` (null or a live interface) is one of this module's `carpN`.
pub(crate) fn is_clone(ifp: *mut sys::ifnet) -> bool {
    if ifp.is_null() {
        return false;
    }
    let ours = CLONE_IOCTL.map(|f| f as *mut core::ffi::c_void);
    // SAFETY: live interface; its if_ioctl (a function pointer, replaced by if_detach) is
    // read as one word.
    let cur = unsafe { AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*ifp).if_ioctl).cast::<*mut core::ffi::c_void>()) }
        .load(Ordering::Relaxed);
    ours == Some(cur)
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

//! How the C shim reaches the module's logic without this crate naming it (the
//! Rust-for-Linux way: a trait the driver implements, adapters generic over it).
//!
//! - [`Carp`] is everything the kernel asks of the module, in safe types: the logic crate
//!   implements it.
//! - The adapters below (`pub unsafe fn`, generic over `C: Carp`) turn the C arguments into
//!   this crate's views, enter the network epoch or count the thread for unload
//!   ([`InFlight`]) as the hook requires, call `C` and convert the result.
//! - [`export_carp!`](crate::export_carp) in the final staticlib defines the
//!   `#[no_mangle]` functions carp_shim.h declares, each calling its adapter for the one
//!   `C`; each definition is checked at compile time against the typedef bindgen generated
//!   from carp_shim.h, so C and Rust cannot disagree on a signature.
//!
//! The entry points that need no logic (`carp_rs_output`
//! in `crate::hooks`, the cloner and ARP hook registration `carp_rs_cloner_attach` /
//! `carp_rs_arp_hook_add`) are defined directly.
//!
//! Most entry points have the exact prototype of the kernel interface that calls them:
//! the twelve CARP hooks (published by `crate::hooks`), protocol 112 input, the event
//! handlers, the task functions, the callout function, the netlink commands, and the
//! `carpN` cloner's and interfaces' callbacks and the ARP pfil hook, which this crate hands
//! the kernel as pointers (checked against the kernel's typedefs: `ifc_create_f`,
//! `if_output_fn_t`, `pfil_mbuf_chk_t`...).

use core::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use core::net::Ipv6Addr;

use carp_proto::Errno;
use sys_bindings as sys;

use crate::arp::{self, ArpAnswer};
use crate::clone::{self, ioctl_kind, CloneIoctl};
use crate::container::{self, Contained};
use crate::errno;
use crate::hooks;
use crate::ifnet::{Ifaddr, Ifnet};
use crate::net::{self, in_net_epoch, Epoch, InFlight};
use crate::req::{Ifreq, Mbuf, NlRequest, Thread};
use crate::task::{self, Kind};

/// What the kernel asks of carp.ko. Each method runs in the context its documentation
/// names (the adapters establish it); none may sleep unless it says so.
pub trait Carp: 'static {
    /// The value published in a parent's `if_carp`.
    type Container: Contained;

    /// MOD_LOAD (sleepable).
    fn load() -> Result<(), Errno>;
    /// MOD_UNLOAD (sleepable); an error refuses the unload.
    fn unload() -> Result<(), Errno>;
    /// `net.inet.carp.allow` written in the current VNET (sleepable).
    fn allow_changed(old: bool, new: bool) -> Result<(), Errno>;
    /// `net.inet.carp.dscp` write check.
    fn dscp_check(v: i32) -> Result<(), Errno>;
    /// `net.inet.carp.demotion` read.
    fn demotion() -> i32;
    /// `net.inet.carp.suppress_preempt` read.
    fn suppress_preempt() -> u32;
    /// carp_ioctl_p: SIOCSVH/SIOCGVH (sleepable).
    fn ioctl(ifr: &Ifreq<'_>, cmd: u64, td: Thread<'_>) -> Result<(), Errno>;
    /// carp_attach_p (sleepable).
    fn attach(ifa: Ifaddr<'_>, vhid: i32) -> Result<(), Errno>;
    /// carp_detach_p, or a detach deferred to the deferred-address task (sleepable).
    fn detach(ifa: Ifaddr<'_>, keep_cif: bool);
    /// carp_linkstate_p (network epoch).
    fn linkstate(ifp: Ifnet<'_>, e: &Epoch);
    /// carp_demote_adj_p (pfsync) and the `demotion` sysctl.
    fn demote_adj(adj: i32, reason: &str);
    /// carp_master_p (network epoch).
    fn master(ifa: Ifaddr<'_>, e: &Epoch) -> bool;
    /// carp_forus_p (network epoch, under the bridge lock) for a virtual MAC.
    fn forus(ifp: Ifnet<'_>, mac: &[u8; 6], e: &Epoch) -> bool;
    /// carp_get_vhid_p (network epoch).
    fn get_vhid(ifa: Ifaddr<'_>, e: &Epoch) -> i32;
    /// carp_iamatch_p (network epoch): the vhid whose virtual MAC answers, or 0.
    fn iamatch(ifa: Ifaddr<'_>, e: &Epoch) -> i32;
    /// carp_iamatch6_p (network epoch).
    fn iamatch6(ifp: Ifnet<'_>, a: Ipv6Addr, e: &Epoch) -> i32;
    /// carp_macmatch6_p (network epoch).
    fn macmatch6(ifp: Ifnet<'_>, a: Ipv6Addr, e: &Epoch) -> i32;
    /// Protocol 112 input (network epoch); consumes the packet.
    fn input(m: Mbuf, v6: bool, off: usize, e: &Epoch);
    /// The send-all task (sleepable).
    fn sendall();
    /// CARP_NL_CMD_GET (sleepable).
    fn nl_get(r: &NlRequest<'_>) -> Result<(), Errno>;
    /// CARP_NL_CMD_SET (sleepable).
    fn nl_set(r: &NlRequest<'_>) -> Result<(), Errno>;
    /// ifnet_departure_event for an interface with a container (sleepable).
    fn ifdetach(ifp: Ifnet<'_>);
    /// IFNET_EVENT_UP for a parent with vhids or a `carpN` (sleepable).
    fn ifup(ifp: Ifnet<'_>);
    /// ifnet_arrival_event of a renamed interface with a container (sleepable).
    fn ifrename(ifp: Ifnet<'_>);
    /// An IPv4 address was added to an interface that is not a `carpN` (sleepable).
    fn ifaddr_added(ifp: Ifnet<'_>);
    /// An IPv6 address was added to the `carpN` `ifp` (deferred; sleepable).
    fn clone_addr6_added(ifp: Ifnet<'_>, ifa: Ifaddr<'_>);
    /// An IPv6 address was removed from a `carpN` (deferred; sleepable).
    fn clone_addr6_removed(ifa: Ifaddr<'_>);
    /// A packet leaves through a bound `carpN` (network epoch): the vhid whose virtual MAC
    /// is its source, or 0.
    fn clone_output_vhid(carp: Ifnet<'_>, parent: Ifnet<'_>, e: &Epoch) -> u8;
    /// An ARP frame on a parent with a container (network epoch, curvnet set).
    fn arp_input(ifp: Ifnet<'_>, frame: &[u8; ARP_FRAME_LEN], reply: &mut [u8; ARP_REPLY_LEN], e: &Epoch) -> ArpAnswer;
    /// The cloner created `ifp` (attached, named carpN; sleepable).
    fn clone_created(ifp: Ifnet<'_>) -> Result<(), Errno>;
    /// The cloner is destroying `ifp`, still attached (sleepable).
    fn clone_destroyed(ifp: Ifnet<'_>);
    /// A `carpN`'s `if_ioctl`; `ifa` is the address being added for SIOCSIFADDR.
    fn clone_ioctl(ifp: Ifnet<'_>, kind: CloneIoctl, ifa: Option<Ifaddr<'_>>) -> Result<(), Errno>;
}

pub use crate::arp::{ARP_FRAME_LEN, ARP_REPLY_LEN};

/// What configuration hooks answer once unload has begun: what the stack answers when
/// carp is not loaded.
fn unloading() -> c_int {
    Errno::EPROTONOSUPPORT.as_i32()
}

fn einval() -> c_int {
    Errno::EINVAL.as_i32()
}

/// MOD_LOAD.
pub fn load<C: Carp>() -> c_int {
    task::init();
    let r = C::load();
    if r.is_err() {
        task::fini();
    }
    errno::to_c(r)
}

/// MOD_UNLOAD.
pub fn unload<C: Carp>() -> c_int {
    let r = C::unload();
    if r.is_ok() {
        task::fini();
    }
    errno::to_c(r)
}

/// `net.inet.carp.allow` written.
pub fn allow_changed<C: Carp>(oldval: c_int, newval: c_int) -> c_int {
    errno::to_c(C::allow_changed(oldval != 0, newval != 0))
}

/// `net.inet.carp.dscp` write check.
pub fn dscp_check<C: Carp>(newval: c_int) -> c_int {
    errno::to_c(C::dscp_check(newval))
}

/// `net.inet.carp.demotion` read.
pub fn demotion_get<C: Carp>() -> c_int {
    C::demotion()
}

/// `net.inet.carp.suppress_preempt` read.
pub fn suppress_preempt<C: Carp>() -> c_int {
    c_int::try_from(C::suppress_preempt()).unwrap_or(c_int::MAX)
}

/// carp_ioctl_p.
///
/// # Safety
///
/// The kernel's arguments: the ioctl's own ifreq (a kernel copy) and thread.
pub unsafe fn ioctl<C: Carp>(ifr: *mut sys::ifreq, cmd: c_ulong, td: *mut sys::thread) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: caller's contract.
    let Some((ifr, td)) = (unsafe { Ifreq::from_raw(ifr, td) }) else { return einval() };
    errno::to_c(C::ioctl(&ifr, u64::from(cmd), td))
}

/// carp_attach_p.
///
/// # Safety
///
/// `ifa` is null or a live ifaddr for the duration of the call.
pub unsafe fn attach<C: Carp>(ifa: *mut sys::ifaddr, vhid: c_int) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: caller's contract.
    let Some(ifa) = (unsafe { Ifaddr::from_raw(ifa) }) else { return einval() };
    errno::to_c(C::attach(ifa, vhid))
}

/// carp_detach_p. The detach takes the configuration sx lock and waits for the network
/// epoch: called where the thread may not sleep (an address expiring from nd6_timer or a
/// callout, maybe inside the epoch), it is deferred to the deferred-address task
/// ([`crate::task`]).
///
/// # Safety
///
/// As for [`attach`].
pub unsafe fn detach<C: Carp>(ifa: *mut sys::ifaddr, keep_cif: bool) {
    // Unload waits for this, queueing included.
    let _in = InFlight::enter();
    if ifa.is_null() {
        return;
    }
    if !net::may_sleep() {
        let kind = if keep_cif { Kind::DetachKeep } else { Kind::Detach };
        // The pool holds a spare entry per bound address: failing here needs an address
        // this module never bound, or every spare out with queued detaches and no memory
        // at all.
        // SAFETY: caller's contract (a live address).
        if unsafe { task::defer(ifa, kind) }.is_err() {
            crate::log::warning(
                c"carp: cannot defer the detach of an address; it stays bound until its interface leaves CARP",
            );
        }
        return;
    }
    // SAFETY: caller's contract.
    if let Some(ifa) = unsafe { Ifaddr::from_raw(ifa) } {
        C::detach(ifa, keep_cif);
    }
}

/// carp_linkstate_p.
///
/// # Safety
///
/// `ifp` is null or a live interface for the duration of the call.
pub unsafe fn linkstate<C: Carp>(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    in_net_epoch(|e| {
        // SAFETY: caller's contract.
        if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
            C::linkstate(ifp, e);
        }
    });
}

/// carp_demote_adj_p and the `demotion` sysctl.
///
/// # Safety
///
/// `reason` is null or a NUL-terminated string valid for the call.
pub unsafe fn demote_adj<C: Carp>(adj: c_int, reason: *mut c_char) {
    let _in = InFlight::enter();
    let text = if reason.is_null() {
        ""
    } else {
        // SAFETY: caller's contract.
        unsafe { CStr::from_ptr(reason) }.to_str().unwrap_or("")
    };
    C::demote_adj(adj, text);
}

/// carp_master_p.
///
/// # Safety
///
/// As for [`attach`].
pub unsafe fn master<C: Carp>(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|e| {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(ifa) }.is_some_and(|a| C::master(a, e)).into()
    })
}

/// carp_forus_p (under the bridge lock: container lock only).
///
/// # Safety
///
/// `ifp` as for [`linkstate`]; `dhost` null or the frame's 6-byte destination address.
pub unsafe fn forus<C: Carp>(ifp: *mut sys::ifnet, dhost: *mut u8) -> c_int {
    if dhost.is_null() {
        return 0;
    }
    // SAFETY: caller's contract (6 readable bytes).
    let mac: [u8; 6] = unsafe { dhost.cast::<[u8; 6]>().read_unaligned() };
    // Every unicast frame not for the parent's own MAC comes here (the parent is
    // promiscuous): reject non-virtual MACs before the epoch and the container lock.
    if carp_proto::vhid_of_virtual_mac(&mac).is_none() {
        return 0;
    }
    in_net_epoch(|e| {
        // SAFETY: caller's contract.
        unsafe { Ifnet::from_raw(ifp) }.is_some_and(|i| C::forus(i, &mac, e)).into()
    })
}

/// carp_get_vhid_p.
///
/// # Safety
///
/// As for [`attach`].
pub unsafe fn get_vhid<C: Carp>(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|e| {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(ifa) }.map_or(0, |a| C::get_vhid(a, e))
    })
}

/// carp_iamatch_p: 1 with `*enaddr` set to the virtual MAC that answers ARP for `ifa`
/// (its vhid is MASTER), 0 otherwise.
///
/// # Safety
///
/// As for [`attach`]; `enaddr` null or writable.
pub unsafe fn iamatch<C: Carp>(ifa: *mut sys::ifaddr, enaddr: *mut *mut u8) -> c_int {
    let vhid = in_net_epoch(|e| {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(ifa) }.map_or(0, |a| C::iamatch(a, e))
    });
    match hooks::vmac_ptr(vhid) {
        Some(mac) if !enaddr.is_null() => {
            // SAFETY: caller's contract (writable); the MAC is static storage.
            unsafe { enaddr.write(mac) };
            1
        }
        _ => 0,
    }
}

/// The scope-cleared form of the kernel's IPv6 address `a`.
///
/// # Safety
///
/// `a` is null or points to a readable in6_addr.
unsafe fn addr6(a: *const sys::in6_addr) -> Option<Ipv6Addr> {
    // SAFETY: caller's contract.
    let a = unsafe { a.as_ref() }.copied()?;
    Some(Ipv6Addr::from(crate::ifnet::scope_cleared(a)))
}

/// carp_iamatch6_p (nd6_ns_input): the referenced address that answers a neighbour
/// solicitation for `taddr` on `ifp`, or NULL.
///
/// # Safety
///
/// `ifp` as for [`linkstate`]; `taddr` null or a readable in6_addr (with its scope).
pub unsafe fn iamatch6<C: Carp>(ifp: *mut sys::ifnet, taddr: *mut sys::in6_addr) -> *mut sys::ifaddr {
    // SAFETY: caller's contract.
    let (Some(a), Some(i)) = (unsafe { addr6(taddr) }, unsafe { Ifnet::from_raw(ifp) }) else {
        return core::ptr::null_mut();
    };
    let r = in_net_epoch(|e| C::iamatch6(i, a, e));
    if r < 0 {
        // A CARP address we do not own: stay silent.
        return core::ptr::null_mut();
    }
    // SAFETY: caller's contract; the result is referenced, as the caller expects.
    let mut ia = unsafe { sys::in6ifa_ifpwithaddr(ifp, taddr) };
    if ia.is_null() && r > 0 {
        // A MASTER address of a `carpN` lives on the `carpN`, not on this parent: it is
        // ours to answer iff its ifa_carp is this parent's container.
        // SAFETY: caller's contract; referenced result (or null).
        ia = unsafe { sys::in6ifa_ifwithaddr(taddr, 0, true) };
        // SAFETY: a referenced in6_ifaddr (its ifaddr first) and the live parent; the
        // CARP pointers are read atomically.
        if !ia.is_null() && !unsafe { i.same_container(core::ptr::addr_of_mut!((*ia).ia_ifa)) } {
            // SAFETY: releases the reference in6ifa_ifwithaddr took.
            unsafe { sys::ifa_free(core::ptr::addr_of_mut!((*ia).ia_ifa)) };
            ia = core::ptr::null_mut();
        }
    }
    if ia.is_null() {
        core::ptr::null_mut()
    } else {
        // SAFETY: a live in6_ifaddr, whose first member is its ifaddr.
        unsafe { core::ptr::addr_of_mut!((*ia).ia_ifa) }
    }
}

/// carp_macmatch6_p (nd6_na_output): the virtual MAC an NA for `taddr` names, or NULL
/// when it is not a CARP address. The NA is tagged so that carp_output sends it from the
/// virtual MAC too.
///
/// # Safety
///
/// `ifp` as for [`linkstate`]; `m` null or the NA being built (a packet-header mbuf);
/// `taddr` null or a readable in6_addr.
pub unsafe fn macmatch6<C: Carp>(ifp: *mut sys::ifnet, m: *mut sys::mbuf, taddr: *const sys::in6_addr) -> *mut c_char {
    // SAFETY: caller's contract.
    let (Some(a), Some(i)) = (unsafe { addr6(taddr) }, unsafe { Ifnet::from_raw(ifp) }) else {
        return core::ptr::null_mut();
    };
    let r = in_net_epoch(|e| C::macmatch6(i, a, e));
    // Bit 0x100: keep the interface's Ethernet source (the logic never sets it).
    let rewrite = r & 0x100 == 0;
    let vhid = r & 0xff;
    if vhid == 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: caller's contract (the NA's mbuf, ours to tag).
    let tagged = if m.is_null() { None } else { unsafe { hooks::tag_vmac(m, vhid, rewrite) } };
    // No memory for the tag: the option still names the virtual MAC (stock's "better a
    // bit than nothing"); only the Ethernet source stays the parent's.
    tagged.or_else(|| hooks::vmac_ptr(vhid)).map_or(core::ptr::null_mut(), |p| p.cast())
}

/// Protocol 112 input; consumes `m`.
///
/// # Safety
///
/// `m` is null or a packet handed over by ip_input/ip6_input (ours to free).
unsafe fn input<C: Carp>(m: *mut sys::mbuf, v6: bool, off: c_int) {
    // SAFETY: caller's contract.
    let Some(m) = (unsafe { Mbuf::from_raw(m) }) else { return };
    // IPv4 finds its header length in the packet; IPv6 starts at `off` (`*offp`).
    let off = usize::try_from(off).unwrap_or(0);
    in_net_epoch(|e| C::input(m, v6, off, e));
}

/// ipproto_input_t / ip6proto_input_t of protocol 112: consumes `*mp` (set to NULL) and
/// returns IPPROTO_DONE. For IPv6, `*offp` is where the CARP/VRRP header starts, past
/// any extension headers.
///
/// # Safety
///
/// The stack's arguments: `mp` points to the packet (ours from now on), `offp` to its
/// offset.
unsafe fn input_proto<C: Carp>(mp: *mut *mut sys::mbuf, offp: *mut c_int, v6: bool) -> c_int {
    if !mp.is_null() && !offp.is_null() {
        // SAFETY: caller's contract; the packet is handed over and `*mp` cleared.
        unsafe {
            let m = mp.replace(core::ptr::null_mut());
            input::<C>(m, v6, offp.read());
        }
    }
    sys::IPPROTO_DONE as c_int
}

/// ipproto_input_t of protocol 112.
///
/// # Safety
///
/// See [`input_proto`].
pub unsafe fn input4<C: Carp>(mp: *mut *mut sys::mbuf, offp: *mut c_int, _proto: c_int) -> c_int {
    // SAFETY: caller's contract.
    unsafe { input_proto::<C>(mp, offp, false) }
}

/// ip6proto_input_t of protocol 112.
///
/// # Safety
///
/// See [`input_proto`].
pub unsafe fn input6<C: Carp>(mp: *mut *mut sys::mbuf, offp: *mut c_int, _proto: c_int) -> c_int {
    // SAFETY: caller's contract.
    unsafe { input_proto::<C>(mp, offp, true) }
}

/// A container's callout.
///
/// # Safety
///
/// `arg` is the argument a container's callout was armed with
/// ([`container::Container::arm_at`]).
pub unsafe fn callout<C: Carp>(arg: *mut c_void) {
    // SAFETY: caller's contract.
    unsafe { container::expire::<C::Container>(arg) };
}

/// The send-all task's function.
pub fn sendall<C: Carp>(_context: *mut c_void, _pending: c_int) {
    let _in = InFlight::enter();
    C::sendall();
}

/// CARP_NL_CMD_GET.
///
/// # Safety
///
/// The genl framework's parsed message and its state, valid for the call.
pub unsafe fn nl_get<C: Carp>(hdr: *mut sys::nlmsghdr, npt: *mut sys::nl_pstate) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: caller's contract.
    let Some(r) = (unsafe { NlRequest::from_raw(hdr, npt) }) else { return einval() };
    errno::to_c(C::nl_get(&r))
}

/// CARP_NL_CMD_SET.
///
/// # Safety
///
/// As for [`nl_get`].
pub unsafe fn nl_set<C: Carp>(hdr: *mut sys::nlmsghdr, npt: *mut sys::nl_pstate) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: caller's contract.
    let Some(r) = (unsafe { NlRequest::from_raw(hdr, npt) }) else { return einval() };
    errno::to_c(C::nl_set(&r))
}

/// ifnet_departure_event (sleepable): a parent with vhids, or one of our `carpN` (moved
/// to another VNET, or destroyed), loses its CARP state.
///
/// # Safety
///
/// `ifp` is null or the departing interface, live for the call.
pub unsafe fn ifnet_departure<C: Carp>(_arg: *mut c_void, ifp: *mut sys::ifnet) {
    // SAFETY: caller's contract.
    let Some(ifp) = (unsafe { Ifnet::from_raw(ifp) }) else { return };
    // if_rename() sends a departure event (and an arrival) with IFF_RENAMING set: the
    // interface stays, so does its CARP configuration.
    if ifp.flags() & sys::IFF_RENAMING != 0 {
        return;
    }
    if ifp.has_container() || ifp.is_carp_clone() {
        let _in = InFlight::enter();
        C::ifdetach(ifp);
    }
}

/// ifnet_arrival_event (sleepable): the arrival half of if_rename() (the new name is in
/// place, IFF_RENAMING still set) for an interface with a container.
///
/// # Safety
///
/// As for [`ifnet_departure`].
pub unsafe fn ifnet_arrival<C: Carp>(_arg: *mut c_void, ifp: *mut sys::ifnet) {
    // SAFETY: caller's contract.
    let Some(ifp) = (unsafe { Ifnet::from_raw(ifp) }) else { return };
    if ifp.flags() & sys::IFF_RENAMING != 0 && ifp.has_container() {
        let _in = InFlight::enter();
        C::ifrename(ifp);
    }
}

/// ifnet_event: on IFNET_EVENT_UP (if_up, sleepable), the kernel's in_ifnet_event,
/// registered before us, has just given every IPv4 address without IFA_ROUTE its prefix
/// and loopback routes, CARP addresses of vhids that are not MASTER included: a parent
/// with vhids or a `carpN` puts them right.
///
/// # Safety
///
/// As for [`ifnet_departure`].
pub unsafe fn ifnet_event<C: Carp>(_arg: *mut c_void, ifp: *mut sys::ifnet, event: c_int) {
    if event != sys::IFNET_EVENT_UP as c_int {
        return;
    }
    // SAFETY: caller's contract.
    let Some(ifp) = (unsafe { Ifnet::from_raw(ifp) }) else { return };
    if ifp.has_container() || ifp.is_carp_clone() {
        let _in = InFlight::enter();
        C::ifup(ifp);
    }
}

/// ifaddr_event_ext (sleepable; the caller holds a reference on `ifa`):
///  - an IPv4 address added to another interface than a `carpN` (in_aifaddr's end,
///    in_control_sx held): a parent coming back with its subnet lets unbound `carpN`
///    bind again;
///  - an IPv6 address added to or removed from a `carpN` (after in6_update_ifa /
///    in6_purgeaddr): always through the deferred-address task ([`crate::task`]).
///    Added without a vhid, it binds there (IPv6 gives a cloned interface no other
///    reliable call); removed while still bound, it is unbound.
///
/// # Safety
///
/// `ifp` and `ifa` null or live for the call.
pub unsafe fn ifaddr_event<C: Carp>(_arg: *mut c_void, ifp: *mut sys::ifnet, ifa: *mut sys::ifaddr, event: c_int) {
    // SAFETY: caller's contract.
    let (Some(i), Some(a)) = (unsafe { Ifnet::from_raw(ifp) }, unsafe { Ifaddr::from_raw(ifa) }) else {
        return;
    };
    let Some(family) = a.family() else { return };
    let (add, del) = (event == sys::IFADDR_EVENT_ADD as c_int, event == sys::IFADDR_EVENT_DEL as c_int);
    if i.is_carp_clone() {
        if family == crate::ifnet::AF_INET6 && (add || del) {
            let kind = if add { Kind::Addr6Added } else { Kind::Addr6Removed };
            // No memory: the address stays as the kernel left it (as before the event).
            // SAFETY: caller's contract (a live, referenced address).
            let _ = unsafe { task::defer(ifa, kind) };
        }
        return;
    }
    // in_aifaddr's end, in_control_sx held: sleepable, but be sure.
    if add && family == crate::ifnet::AF_INET && net::may_sleep() {
        let Some(_in) = InFlight::enter_config() else { return };
        C::ifaddr_added(i);
    }
}

/// The deferred-address task's function (taskqueue_thread; also run inline by
/// [`net::deferred_drain`] at unload): runs the queued work in order, each in its
/// interface's VNET.
pub fn deferred<C: Carp>(_context: *mut c_void, _pending: c_int) {
    while let Some(w) = task::next() {
        let _in = InFlight::enter();
        // SAFETY: the work holds references on both until it is dropped.
        let (Some(ifp), Some(ifa)) = (unsafe { Ifnet::from_raw(w.ifp()) }, unsafe { Ifaddr::from_raw(w.ifa()) }) else {
            continue;
        };
        // A dying interface (IFF_DYING, set when if_detach unlinks it, before its
        // departure event) may belong to a VNET freed since; its container or `carpN`
        // was released when it departed: nothing to do.
        if ifp.flags() & sys::IFF_DYING != 0 {
            continue;
        }
        net::with_vnet(ifp.vnet(), || match w.kind() {
            Kind::Detach => C::detach(ifa, false),
            Kind::DetachKeep => C::detach(ifa, true),
            Kind::Addr6Added if net::accepting_new_config() => C::clone_addr6_added(ifp, ifa),
            Kind::Addr6Added => {}
            Kind::Addr6Removed => C::clone_addr6_removed(ifa),
        });
    }
}

/// The `carpN`'s `if_output` ([`clone::output`]): the logic names the vhid whose virtual
/// MAC the packet leaves with.
///
/// # Safety
///
/// The kernel's `if_output` arguments for a `carpN` (see [`clone::output`]).
pub unsafe fn clone_output<C: Carp>(
    ifp: *mut sys::ifnet,
    m: *mut sys::mbuf,
    dst: *const sys::sockaddr,
    _ro: *mut sys::route,
) -> c_int {
    // Inside the network epoch (entered by clone::output), no unload count: unload waits
    // for the epoch after the carpN are gone.
    // SAFETY: caller's contract.
    unsafe { clone::output(ifp, m, dst, C::clone_output_vhid) }
}

/// The ARP pfil hook ([`arp::pfil`]): the logic answers ARP for `carpN` addresses.
///
/// # Safety
///
/// The kernel's pfil arguments (see [`arp::pfil`]).
pub unsafe fn arp_pfil<C: Carp>(
    mp: *mut *mut sys::mbuf,
    ifp: *mut sys::ifnet,
    _flags: c_int,
    _ruleset: *mut c_void,
    _inp: *mut sys::inpcb,
) -> sys::pfil_return_t {
    // Run by ether_demux inside the network epoch (network epoch, curvnet set), which
    // unload waits for after unlinking the hook: no unload count.
    // SAFETY: caller's contract.
    unsafe { arp::pfil(mp, ifp, C::arp_input) }
}

/// The cloner's `create_f` ([`clone::create`]).
///
/// # Safety
///
/// The kernel's `ifc_create_f` arguments.
pub unsafe fn clone_create<C: Carp>(
    _ifc: *mut sys::if_clone,
    _name: *mut c_char,
    _maxlen: usize,
    ifd: *mut sys::ifc_data,
    ifpp: *mut *mut sys::ifnet,
) -> c_int {
    // Counted for unload from the first to the last statement run in module text, and
    // refused once unload has begun (the cloner is going away); asked again once the
    // interface exists, before the logic records it.
    let Some(_in) = InFlight::enter_config() else { return Errno::EBUSY.as_i32() };
    let created = |ifp: Ifnet<'_>| if net::accepting_new_config() { C::clone_created(ifp) } else { Err(Errno::EBUSY) };
    // SAFETY: caller's contract.
    unsafe { clone::create(ifd, ifpp, created) }
}

/// The cloner's `destroy_f` ([`clone::destroy`]).
///
/// # Safety
///
/// The kernel's `ifc_destroy_f` arguments.
pub unsafe fn clone_destroy<C: Carp>(_ifc: *mut sys::if_clone, ifp: *mut sys::ifnet, _flags: u32) -> c_int {
    // Counted for unload from the first to the last statement run in module text.
    let _in = InFlight::enter();
    // SAFETY: caller's contract.
    unsafe { clone::destroy(ifp, C::clone_destroyed) }
}

/// A `carpN`'s `if_ioctl`. `data` is read only for SIOCSIFADDR (the ifaddr being added).
///
/// # Safety
///
/// `ifp` as for [`linkstate`]; for SIOCSIFADDR, `data` is the struct ifaddr being added
/// (linked on this interface, referenced by the caller), as in_aifaddr_ioctl/in6_ifinit
/// pass it.
pub unsafe fn clone_ioctl<C: Carp>(ifp: *mut sys::ifnet, cmd: c_ulong, data: sys::caddr_t) -> c_int {
    // Like the other configuration hooks, refused once unload has begun (binding an
    // address may create a container).
    let Some(_in) = InFlight::enter_config() else { return Errno::EBUSY.as_i32() };
    // SAFETY: caller's contract.
    let Some(ifp) = (unsafe { Ifnet::from_raw(ifp) }) else { return einval() };
    let kind = ioctl_kind(cmd);
    let ifa = if kind == CloneIoctl::SetAddr {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(data.cast()) }
    } else {
        None
    };
    errno::to_c(C::clone_ioctl(ifp, kind, ifa))
}

/// The VNET constructor attaches the cloner "carp" ([`clone::attach_cloner`]).
#[no_mangle]
pub extern "C" fn carp_rs_cloner_attach() -> *mut sys::if_clone {
    clone::attach_cloner()
}
const _: sys::carp_rs_cloner_attach_t = Some(carp_rs_cloner_attach);

/// The VNET constructor adds the ARP hook ([`arp::hook_add`]) on `head`, storing it in
/// `*hookp`.
///
/// # Safety
///
/// `head` null or the current VNET's "ethernet" pfil head; `hookp` null or writable.
#[no_mangle]
pub unsafe extern "C" fn carp_rs_arp_hook_add(head: *mut sys::pfil_head, hookp: *mut *mut sys::pfil_hook) -> c_int {
    if hookp.is_null() {
        return einval();
    }
    match arp::hook_add(head) {
        Ok(hook) => {
            // SAFETY: caller's contract (checked non-null).
            unsafe { hookp.write(hook) };
            0
        }
        Err(e) => e,
    }
}
const _: sys::carp_rs_arp_hook_add_t = Some(carp_rs_arp_hook_add);

/// Defines the `#[no_mangle]` entry points of carp_shim.h for the logic type `$c`
/// (implementing [`Carp`]). Used once, by the staticlib that ties the crates together.
#[macro_export]
macro_rules! export_carp {
    ($c:ty) => {
        $crate::export_carp!(@safe $c;
            carp_rs_load / carp_rs_load_t() -> ::core::ffi::c_int = load;
            carp_rs_unload / carp_rs_unload_t() -> ::core::ffi::c_int = unload;
            carp_rs_allow_changed / carp_rs_allow_changed_t(o: ::core::ffi::c_int, n: ::core::ffi::c_int) -> ::core::ffi::c_int = allow_changed;
            carp_rs_dscp_check / carp_rs_dscp_check_t(v: ::core::ffi::c_int) -> ::core::ffi::c_int = dscp_check;
            carp_rs_demotion_get / carp_rs_demotion_get_t() -> ::core::ffi::c_int = demotion_get;
            carp_rs_suppress_preempt / carp_rs_suppress_preempt_t() -> ::core::ffi::c_int = suppress_preempt;
            carp_rs_sendall / carp_rs_sendall_t(c: *mut ::core::ffi::c_void, p: ::core::ffi::c_int) -> () = sendall;
            carp_rs_deferred / carp_rs_deferred_t(c: *mut ::core::ffi::c_void, p: ::core::ffi::c_int) -> () = deferred;
        );
        $crate::export_carp!(@unsafe $c;
            carp_rs_ioctl / carp_rs_ioctl_t(ifr: *mut $crate::sys::ifreq, cmd: ::core::ffi::c_ulong, td: *mut $crate::sys::thread) -> ::core::ffi::c_int = ioctl;
            carp_rs_attach / carp_rs_attach_t(ifa: *mut $crate::sys::ifaddr, vhid: ::core::ffi::c_int) -> ::core::ffi::c_int = attach;
            carp_rs_detach / carp_rs_detach_t(ifa: *mut $crate::sys::ifaddr, keep: bool) -> () = detach;
            carp_rs_linkstate / carp_rs_linkstate_t(ifp: *mut $crate::sys::ifnet) -> () = linkstate;
            carp_rs_demote_adj / carp_rs_demote_adj_t(adj: ::core::ffi::c_int, reason: *mut ::core::ffi::c_char) -> () = demote_adj;
            carp_rs_master / carp_rs_master_t(ifa: *mut $crate::sys::ifaddr) -> ::core::ffi::c_int = master;
            carp_rs_forus / carp_rs_forus_t(ifp: *mut $crate::sys::ifnet, dhost: *mut u8) -> ::core::ffi::c_int = forus;
            carp_rs_get_vhid / carp_rs_get_vhid_t(ifa: *mut $crate::sys::ifaddr) -> ::core::ffi::c_int = get_vhid;
            carp_rs_iamatch / carp_rs_iamatch_t(ifa: *mut $crate::sys::ifaddr, enaddr: *mut *mut u8) -> ::core::ffi::c_int = iamatch;
            carp_rs_iamatch6 / carp_rs_iamatch6_t(ifp: *mut $crate::sys::ifnet, a: *mut $crate::sys::in6_addr) -> *mut $crate::sys::ifaddr = iamatch6;
            carp_rs_macmatch6 / carp_rs_macmatch6_t(ifp: *mut $crate::sys::ifnet, m: *mut $crate::sys::mbuf, a: *const $crate::sys::in6_addr) -> *mut ::core::ffi::c_char = macmatch6;
            carp_rs_input4 / carp_rs_input4_t(mp: *mut *mut $crate::sys::mbuf, offp: *mut ::core::ffi::c_int, proto: ::core::ffi::c_int) -> ::core::ffi::c_int = input4;
            carp_rs_input6 / carp_rs_input6_t(mp: *mut *mut $crate::sys::mbuf, offp: *mut ::core::ffi::c_int, proto: ::core::ffi::c_int) -> ::core::ffi::c_int = input6;
            carp_rs_callout / carp_rs_callout_t(arg: *mut ::core::ffi::c_void) -> () = callout;
            carp_rs_nl_get / carp_rs_nl_get_t(hdr: *mut $crate::sys::nlmsghdr, npt: *mut $crate::sys::nl_pstate) -> ::core::ffi::c_int = nl_get;
            carp_rs_nl_set / carp_rs_nl_set_t(hdr: *mut $crate::sys::nlmsghdr, npt: *mut $crate::sys::nl_pstate) -> ::core::ffi::c_int = nl_set;
            carp_rs_ifnet_departure / carp_rs_ifnet_departure_t(arg: *mut ::core::ffi::c_void, ifp: *mut $crate::sys::ifnet) -> () = ifnet_departure;
            carp_rs_ifnet_arrival / carp_rs_ifnet_arrival_t(arg: *mut ::core::ffi::c_void, ifp: *mut $crate::sys::ifnet) -> () = ifnet_arrival;
            carp_rs_ifaddr_event / carp_rs_ifaddr_event_t(arg: *mut ::core::ffi::c_void, ifp: *mut $crate::sys::ifnet, ifa: *mut $crate::sys::ifaddr, event: ::core::ffi::c_int) -> () = ifaddr_event;
            carp_rs_ifnet_event / carp_rs_ifnet_event_t(arg: *mut ::core::ffi::c_void, ifp: *mut $crate::sys::ifnet, event: ::core::ffi::c_int) -> () = ifnet_event;
            // The carpN cloner and interfaces, and the ARP pfil hook (kpi::clone,
            // kpi::arp): called by the kernel through the pointers kpi hands it, checked
            // against the kernel's typedefs.
            carp_rs_clone_create / ifc_create_f(ifc: *mut $crate::sys::if_clone, name: *mut ::core::ffi::c_char, maxlen: usize, ifd: *mut $crate::sys::ifc_data, ifpp: *mut *mut $crate::sys::ifnet) -> ::core::ffi::c_int = clone_create;
            carp_rs_clone_destroy / ifc_destroy_f(ifc: *mut $crate::sys::if_clone, ifp: *mut $crate::sys::ifnet, flags: u32) -> ::core::ffi::c_int = clone_destroy;
            carp_rs_clone_output / if_output_fn_t(ifp: $crate::sys::if_t, m: *mut $crate::sys::mbuf, dst: *const $crate::sys::sockaddr, ro: *mut $crate::sys::route) -> ::core::ffi::c_int = clone_output;
            carp_rs_clone_ioctl / if_ioctl_fn_t(ifp: $crate::sys::if_t, cmd: $crate::sys::u_long, data: $crate::sys::caddr_t) -> ::core::ffi::c_int = clone_ioctl;
            carp_rs_arp_pfil / pfil_mbuf_chk_t(mp: *mut *mut $crate::sys::mbuf, ifp: *mut $crate::sys::ifnet, flags: ::core::ffi::c_int, ruleset: *mut ::core::ffi::c_void, inp: *mut $crate::sys::inpcb) -> $crate::sys::pfil_return_t = arp_pfil;
        );
    };
    (@safe $c:ty; $($name:ident / $tn:ident($($a:ident: $t:ty),*) -> $r:ty = $f:ident;)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "` (kmod/shim/carp_shim.h), for [`", stringify!($c), "`].")]
            #[no_mangle]
            pub extern "C" fn $name($($a: $t),*) -> $r {
                $crate::entry::$f::<$c>($($a),*)
            }
            const _: $crate::sys::$tn = Some($name);
        )*
    };
    (@unsafe $c:ty; $($name:ident / $tn:ident($($a:ident: $t:ty),*) -> $r:ty = $f:ident;)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "` (kmod/shim/carp_shim.h), for [`", stringify!($c), "`].")]
            #[no_mangle]
            pub extern "C" fn $name($($a: $t),*) -> $r {
                // SAFETY: the shim calls this function as carp_shim.h documents it, which
                // is the adapter's contract (see its `# Safety` section).
                unsafe { $crate::entry::$f::<$c>($($a),*) }
            }
            const _: $crate::sys::$tn = Some($name);
        )*
    };
}

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
//! The entry points that need no logic (`carp_rs_inflight_enter/exit`, the cloner and ARP
//! hook registration `carp_rs_cloner_attach` / `carp_rs_arp_hook_add`, and
//! `carp_shim_is_clone` / `carp_shim_if_has_ifa` for the shim's event handlers and address
//! removal) are defined here directly.
//!
//! The kernel calls some of the adapters' `extern "C"` instances through pointers this
//! crate hands it (the `carpN` cloner's and interfaces' callbacks, the ARP pfil hook):
//! export_carp! defines those with the kernel's own prototypes, checked against the
//! kernel's typedefs (`ifc_create_f`, `if_output_fn_t`, `pfil_mbuf_chk_t`...).

use core::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use core::net::Ipv6Addr;

use carp_proto::Errno;
use sys_bindings as sys;

use crate::arp::{self, ArpAnswer};
use crate::clone::{self, ioctl_kind, CloneIoctl};
use crate::container::{self, Contained};
use crate::errno;
use crate::ifnet::{Ifaddr, Ifnet};
use crate::net::{self, in_net_epoch, Epoch, InFlight};
use crate::req::{Ifreq, Mbuf, NlRequest, Thread};

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
    /// carp_detach_p, or a detach the shim deferred to its task (sleepable).
    fn detach(ifa: Ifaddr<'_>, keep_cif: bool);
    /// carp_linkstate_p (network epoch).
    fn linkstate(ifp: Ifnet<'_>, e: &Epoch);
    /// carp_demote_adj_p (pfsync) and the `demotion` sysctl.
    fn demote_adj(adj: i32, reason: &str);
    /// carp_master_p (network epoch).
    fn master(ifa: Ifaddr<'_>) -> bool;
    /// carp_forus_p (network epoch, under the bridge lock) for a virtual MAC.
    fn forus(ifp: Ifnet<'_>, mac: &[u8; 6]) -> bool;
    /// carp_get_vhid_p (network epoch).
    fn get_vhid(ifa: Ifaddr<'_>) -> i32;
    /// carp_iamatch_p (network epoch): the vhid whose virtual MAC answers, or 0.
    fn iamatch(ifa: Ifaddr<'_>) -> i32;
    /// carp_iamatch6_p (network epoch).
    fn iamatch6(ifp: Ifnet<'_>, a: Ipv6Addr) -> i32;
    /// carp_macmatch6_p (network epoch).
    fn macmatch6(ifp: Ifnet<'_>, a: Ipv6Addr) -> i32;
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
    fn clone_output_vhid(carp: Ifnet<'_>, parent: Ifnet<'_>) -> u8;
    /// An ARP frame on a parent with a container (network epoch, curvnet set).
    fn arp_input(ifp: Ifnet<'_>, frame: &[u8; ARP_FRAME_LEN], reply: &mut [u8; ARP_REPLY_LEN]) -> ArpAnswer;
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
    errno::to_c(C::load())
}

/// MOD_UNLOAD.
pub fn unload<C: Carp>() -> c_int {
    errno::to_c(C::unload())
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

/// carp_detach_p.
///
/// # Safety
///
/// As for [`attach`].
pub unsafe fn detach<C: Carp>(ifa: *mut sys::ifaddr, keep_cif: bool) {
    let _in = InFlight::enter();
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
pub unsafe fn demote_adj<C: Carp>(adj: c_int, reason: *const c_char) {
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
    in_net_epoch(|_| {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(ifa) }.is_some_and(C::master).into()
    })
}

/// carp_forus_p (under the bridge lock: container lock only).
///
/// # Safety
///
/// `ifp` as for [`linkstate`]; `dhost` null or the frame's 6-byte destination address.
pub unsafe fn forus<C: Carp>(ifp: *mut sys::ifnet, dhost: *const u8) -> c_int {
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
    in_net_epoch(|_| {
        // SAFETY: caller's contract.
        unsafe { Ifnet::from_raw(ifp) }.is_some_and(|i| C::forus(i, &mac)).into()
    })
}

/// carp_get_vhid_p.
///
/// # Safety
///
/// As for [`attach`].
pub unsafe fn get_vhid<C: Carp>(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|_| {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(ifa) }.map_or(0, C::get_vhid)
    })
}

/// carp_iamatch_p (the shim turns the vhid into the virtual MAC pointer).
///
/// # Safety
///
/// As for [`attach`].
pub unsafe fn iamatch<C: Carp>(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|_| {
        // SAFETY: caller's contract.
        unsafe { Ifaddr::from_raw(ifa) }.map_or(0, C::iamatch)
    })
}

/// # Safety
///
/// `p` is null or 16 readable bytes.
unsafe fn addr6(p: *const u8) -> Option<Ipv6Addr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: caller's contract.
    Some(Ipv6Addr::from(unsafe { p.cast::<[u8; 16]>().read_unaligned() }))
}

/// carp_iamatch6_p.
///
/// # Safety
///
/// `ifp` as for [`linkstate`]; `a` null or 16 readable bytes (a scope-cleared in6_addr).
pub unsafe fn iamatch6<C: Carp>(ifp: *mut sys::ifnet, a: *const u8) -> c_int {
    // SAFETY: caller's contract.
    let Some(a) = (unsafe { addr6(a) }) else { return 0 };
    in_net_epoch(|_| {
        // SAFETY: caller's contract.
        unsafe { Ifnet::from_raw(ifp) }.map_or(0, |i| C::iamatch6(i, a))
    })
}

/// carp_macmatch6_p.
///
/// # Safety
///
/// As for [`iamatch6`].
pub unsafe fn macmatch6<C: Carp>(ifp: *mut sys::ifnet, a: *const u8) -> c_int {
    // SAFETY: caller's contract.
    let Some(a) = (unsafe { addr6(a) }) else { return 0 };
    in_net_epoch(|_| {
        // SAFETY: caller's contract.
        unsafe { Ifnet::from_raw(ifp) }.map_or(0, |i| C::macmatch6(i, a))
    })
}

/// Protocol 112 input; consumes `m`.
///
/// # Safety
///
/// `m` is null or a packet handed over by ip_input/ip6_input (ours to free).
pub unsafe fn input<C: Carp>(m: *mut sys::mbuf, af: c_int, off: c_int) {
    // SAFETY: caller's contract.
    let Some(m) = (unsafe { Mbuf::from_raw(m) }) else { return };
    // IPv4 finds its header length in the packet; IPv6 starts at `off` (`*offp`).
    let off = usize::try_from(off).unwrap_or(0);
    in_net_epoch(|e| C::input(m, af == 28, off, e));
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

/// The send-all task.
pub fn sendall<C: Carp>() {
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

/// ifnet_departure_event for an interface with a container.
///
/// # Safety
///
/// As for [`linkstate`].
pub unsafe fn ifdetach<C: Carp>(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    // SAFETY: caller's contract.
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        C::ifdetach(ifp);
    }
}

/// ifnet_event IFNET_EVENT_UP for a parent with vhids or one of our `carpN`.
///
/// # Safety
///
/// As for [`linkstate`].
pub unsafe fn ifup<C: Carp>(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    // SAFETY: caller's contract.
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        C::ifup(ifp);
    }
}

/// ifaddr_event_ext, IFADDR_EVENT_ADD of an IPv4 address on an interface that is not a
/// `carpN`.
///
/// # Safety
///
/// As for [`linkstate`].
pub unsafe fn ifaddr_added<C: Carp>(ifp: *mut sys::ifnet) {
    let Some(_in) = InFlight::enter_config() else { return };
    // SAFETY: caller's contract.
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        C::ifaddr_added(ifp);
    }
}

/// ifnet_arrival_event of a renamed interface with a container.
///
/// # Safety
///
/// As for [`linkstate`].
pub unsafe fn ifrename<C: Carp>(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    // SAFETY: caller's contract.
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        C::ifrename(ifp);
    }
}

/// Address work the shim deferred to its task (sleepable, curvnet set): a `carp_detach_p`
/// from a context that may not sleep (kinds 1 and 2: `keep_cif` false/true), or an IPv6
/// address added to (3) or removed from (4) the `carpN` `ifp`.
///
/// # Safety
///
/// `ifp` and `ifa` are null or live, referenced by the shim's task for the call.
pub unsafe fn deferred<C: Carp>(ifp: *mut sys::ifnet, ifa: *mut sys::ifaddr, kind: c_int) {
    let _in = InFlight::enter();
    // SAFETY: caller's contract.
    let (Some(ifp), Some(ifa)) = (unsafe { Ifnet::from_raw(ifp) }, unsafe { Ifaddr::from_raw(ifa) }) else {
        return;
    };
    match kind {
        1 | 2 => C::detach(ifa, kind == 2),
        3 if net::accepting_new_config() => C::clone_addr6_added(ifp, ifa),
        4 => C::clone_addr6_removed(ifa),
        _ => {}
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

/// C code of the module outside a Rust hook: counted as inside a hook until
/// [`carp_rs_inflight_exit`], so unload waits for it.
#[no_mangle]
pub extern "C" fn carp_rs_inflight_enter() {
    core::mem::forget(InFlight::enter());
}
const _: sys::carp_rs_inflight_enter_t = Some(carp_rs_inflight_enter);

/// Ends what [`carp_rs_inflight_enter`] began.
#[no_mangle]
pub extern "C" fn carp_rs_inflight_exit() {
    net::inflight_exit();
}
const _: sys::carp_rs_inflight_exit_t = Some(carp_rs_inflight_exit);

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

/// For the shim's event handlers: whether `ifp` (null or live) is one of our `carpN`.
#[no_mangle]
pub extern "C" fn carp_shim_is_clone(ifp: *mut sys::ifnet) -> c_int {
    c_int::from(clone::is_clone(ifp))
}
const _: sys::carp_shim_is_clone_t = Some(carp_shim_is_clone);

/// For the shim's address removal: whether `ifa` is still on `ifp`'s address list.
///
/// # Safety
///
/// Both null or live (referenced by the caller) for the call.
#[no_mangle]
pub unsafe extern "C" fn carp_shim_if_has_ifa(ifp: *mut sys::ifnet, ifa: *mut sys::ifaddr) -> c_int {
    // SAFETY: caller's contract.
    match unsafe { (Ifnet::from_raw(ifp), Ifaddr::from_raw(ifa)) } {
        (Some(ifp), Some(ifa)) => c_int::from(ifp.has_ifa(&ifa)),
        _ => 0,
    }
}
const _: sys::carp_shim_if_has_ifa_t = Some(carp_shim_if_has_ifa);

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
            carp_rs_sendall / carp_rs_sendall_t() -> () = sendall;
        );
        $crate::export_carp!(@unsafe $c;
            carp_rs_ioctl / carp_rs_ioctl_t(ifr: *mut $crate::sys::ifreq, cmd: ::core::ffi::c_ulong, td: *mut $crate::sys::thread) -> ::core::ffi::c_int = ioctl;
            carp_rs_attach / carp_rs_attach_t(ifa: *mut $crate::sys::ifaddr, vhid: ::core::ffi::c_int) -> ::core::ffi::c_int = attach;
            carp_rs_detach / carp_rs_detach_t(ifa: *mut $crate::sys::ifaddr, keep: bool) -> () = detach;
            carp_rs_linkstate / carp_rs_linkstate_t(ifp: *mut $crate::sys::ifnet) -> () = linkstate;
            carp_rs_demote_adj / carp_rs_demote_adj_t(adj: ::core::ffi::c_int, reason: *const ::core::ffi::c_char) -> () = demote_adj;
            carp_rs_master / carp_rs_master_t(ifa: *mut $crate::sys::ifaddr) -> ::core::ffi::c_int = master;
            carp_rs_forus / carp_rs_forus_t(ifp: *mut $crate::sys::ifnet, dhost: *const u8) -> ::core::ffi::c_int = forus;
            carp_rs_get_vhid / carp_rs_get_vhid_t(ifa: *mut $crate::sys::ifaddr) -> ::core::ffi::c_int = get_vhid;
            carp_rs_iamatch / carp_rs_iamatch_t(ifa: *mut $crate::sys::ifaddr) -> ::core::ffi::c_int = iamatch;
            carp_rs_iamatch6 / carp_rs_iamatch6_t(ifp: *mut $crate::sys::ifnet, a: *const u8) -> ::core::ffi::c_int = iamatch6;
            carp_rs_macmatch6 / carp_rs_macmatch6_t(ifp: *mut $crate::sys::ifnet, a: *const u8) -> ::core::ffi::c_int = macmatch6;
            carp_rs_input / carp_rs_input_t(m: *mut $crate::sys::mbuf, af: ::core::ffi::c_int, off: ::core::ffi::c_int) -> () = input;
            carp_rs_callout / carp_rs_callout_t(arg: *mut ::core::ffi::c_void) -> () = callout;
            carp_rs_nl_get / carp_rs_nl_get_t(hdr: *mut $crate::sys::nlmsghdr, npt: *mut $crate::sys::nl_pstate) -> ::core::ffi::c_int = nl_get;
            carp_rs_nl_set / carp_rs_nl_set_t(hdr: *mut $crate::sys::nlmsghdr, npt: *mut $crate::sys::nl_pstate) -> ::core::ffi::c_int = nl_set;
            carp_rs_ifdetach / carp_rs_ifdetach_t(ifp: *mut $crate::sys::ifnet) -> () = ifdetach;
            carp_rs_ifup / carp_rs_ifup_t(ifp: *mut $crate::sys::ifnet) -> () = ifup;
            carp_rs_ifaddr_added / carp_rs_ifaddr_added_t(ifp: *mut $crate::sys::ifnet) -> () = ifaddr_added;
            carp_rs_ifrename / carp_rs_ifrename_t(ifp: *mut $crate::sys::ifnet) -> () = ifrename;
            carp_rs_deferred / carp_rs_deferred_t(ifp: *mut $crate::sys::ifnet, ifa: *mut $crate::sys::ifaddr, kind: ::core::ffi::c_int) -> () = deferred;
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

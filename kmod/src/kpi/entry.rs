//! Functions the C shim calls (declared in kmod/shim/carp_shim.h). Each one converts its
//! arguments into the KPI layer's safe views, calls the safe implementation and converts
//! the result.
//!
//! Each definition is checked at compile time against the typedef bindgen generated from
//! carp_shim.h (`const _: sys::X_t = Some(X)`), so C and Rust cannot disagree on a signature.
//! Hooks that read `if_carp` run inside the network epoch (entered here when the kernel
//! does not already guarantee it; nesting is allowed).

use core::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use core::net::Ipv6Addr;

use sys_bindings as sys;

use super::errno;
use super::ifnet::{Ifaddr, Ifnet};
use super::net::{self, in_net_epoch, InFlight};
use super::req::{Ifreq, Mbuf, NlRequest};
use crate::{config, hooks, module};

/// MOD_LOAD.
#[no_mangle]
pub extern "C" fn carp_rs_load() -> c_int {
    errno::to_c(module::load())
}
const _: sys::carp_rs_load_t = Some(carp_rs_load);

/// MOD_UNLOAD.
#[no_mangle]
pub extern "C" fn carp_rs_unload() -> c_int {
    errno::to_c(module::unload())
}
const _: sys::carp_rs_unload_t = Some(carp_rs_unload);

/// `net.inet.carp.allow` written in the current VNET.
#[no_mangle]
pub extern "C" fn carp_rs_allow_changed(oldval: c_int, newval: c_int) -> c_int {
    errno::to_c(module::allow_changed(oldval != 0, newval != 0))
}
const _: sys::carp_rs_allow_changed_t = Some(carp_rs_allow_changed);

/// `net.inet.carp.dscp` write check.
#[no_mangle]
pub extern "C" fn carp_rs_dscp_check(newval: c_int) -> c_int {
    errno::to_c(module::dscp_check(newval))
}
const _: sys::carp_rs_dscp_check_t = Some(carp_rs_dscp_check);

/// `net.inet.carp.demotion` read.
#[no_mangle]
pub extern "C" fn carp_rs_demotion_get() -> c_int {
    module::demotion().value()
}
const _: sys::carp_rs_demotion_get_t = Some(carp_rs_demotion_get);

/// `net.inet.carp.suppress_preempt` read.
#[no_mangle]
pub extern "C" fn carp_rs_suppress_preempt() -> c_int {
    c_int::try_from(module::demotion().suppress_preempt()).unwrap_or(c_int::MAX)
}
const _: sys::carp_rs_suppress_preempt_t = Some(carp_rs_suppress_preempt);

/// carp_ioctl_p.
#[no_mangle]
pub extern "C" fn carp_rs_ioctl(ifr: *mut sys::ifreq, cmd: c_ulong, td: *mut sys::thread) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: the kernel passes the ioctl's own ifreq (a kernel copy) and thread.
    let Some((ifr, td)) = (unsafe { Ifreq::from_raw(ifr, td) }) else { return libc_einval() };
    errno::to_c(config::ioctl(&ifr, u64::from(cmd), td))
}
const _: sys::carp_rs_ioctl_t = Some(carp_rs_ioctl);

fn libc_einval() -> c_int {
    carp_proto::Errno::EINVAL.as_i32()
}

/// What configuration hooks answer once unload has begun: what the stack answers when
/// carp is not loaded.
fn unloading() -> c_int {
    carp_proto::Errno::EPROTONOSUPPORT.as_i32()
}

/// carp_attach_p.
#[no_mangle]
pub extern "C" fn carp_rs_attach(ifa: *mut sys::ifaddr, vhid: c_int) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: the kernel passes a live ifaddr for the duration of the call.
    let Some(ifa) = (unsafe { Ifaddr::from_raw(ifa) }) else { return libc_einval() };
    errno::to_c(config::attach(ifa, vhid))
}
const _: sys::carp_rs_attach_t = Some(carp_rs_attach);

/// carp_detach_p.
#[no_mangle]
pub extern "C" fn carp_rs_detach(ifa: *mut sys::ifaddr, keep_cif: bool) {
    let _in = InFlight::enter();
    // SAFETY: as for attach.
    if let Some(ifa) = unsafe { Ifaddr::from_raw(ifa) } {
        config::detach(ifa, keep_cif);
    }
}
const _: sys::carp_rs_detach_t = Some(carp_rs_detach);

/// carp_linkstate_p.
#[no_mangle]
pub extern "C" fn carp_rs_linkstate(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    in_net_epoch(|e| {
        // SAFETY: the kernel passes a live interface for the duration of the call.
        if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
            hooks::linkstate(ifp, e);
        }
    });
}
const _: sys::carp_rs_linkstate_t = Some(carp_rs_linkstate);

/// carp_demote_adj_p (pfsync) and the `demotion` sysctl.
#[no_mangle]
pub extern "C" fn carp_rs_demote_adj(adj: c_int, reason: *const c_char) {
    let _in = InFlight::enter();
    let text = if reason.is_null() {
        ""
    } else {
        // SAFETY: callers pass a NUL-terminated string valid for the call.
        unsafe { CStr::from_ptr(reason) }.to_str().unwrap_or("")
    };
    module::demote_adj(adj, text);
}
const _: sys::carp_rs_demote_adj_t = Some(carp_rs_demote_adj);

/// carp_master_p.
#[no_mangle]
pub extern "C" fn carp_rs_master(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|_| {
        // SAFETY: live ifaddr for the call.
        unsafe { Ifaddr::from_raw(ifa) }.is_some_and(hooks::master).into()
    })
}
const _: sys::carp_rs_master_t = Some(carp_rs_master);

/// carp_forus_p (under the bridge lock: container lock only).
#[no_mangle]
pub extern "C" fn carp_rs_forus(ifp: *mut sys::ifnet, dhost: *const u8) -> c_int {
    if dhost.is_null() {
        return 0;
    }
    // SAFETY: ether_input/bridge_input pass the frame's 6-byte destination address.
    let mac: [u8; 6] = unsafe { dhost.cast::<[u8; 6]>().read_unaligned() };
    // Every unicast frame not for the parent's own MAC comes here (the parent is
    // promiscuous): reject non-virtual MACs before the epoch and the container lock.
    if carp_proto::vhid_of_virtual_mac(&mac).is_none() {
        return 0;
    }
    in_net_epoch(|_| {
        // SAFETY: live interface for the call.
        unsafe { Ifnet::from_raw(ifp) }.is_some_and(|i| hooks::forus(i, &mac)).into()
    })
}
const _: sys::carp_rs_forus_t = Some(carp_rs_forus);

/// carp_get_vhid_p.
#[no_mangle]
pub extern "C" fn carp_rs_get_vhid(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|_| {
        // SAFETY: live ifaddr for the call.
        unsafe { Ifaddr::from_raw(ifa) }.map_or(0, hooks::get_vhid)
    })
}
const _: sys::carp_rs_get_vhid_t = Some(carp_rs_get_vhid);

/// carp_iamatch_p (the shim turns the vhid into the virtual MAC pointer).
#[no_mangle]
pub extern "C" fn carp_rs_iamatch(ifa: *mut sys::ifaddr) -> c_int {
    in_net_epoch(|_| {
        // SAFETY: live ifaddr for the call.
        unsafe { Ifaddr::from_raw(ifa) }.map_or(0, hooks::iamatch)
    })
}
const _: sys::carp_rs_iamatch_t = Some(carp_rs_iamatch);

fn addr6(p: *const u8) -> Option<Ipv6Addr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the shim passes 16 readable bytes (a scope-cleared in6_addr copy).
    Some(Ipv6Addr::from(unsafe { p.cast::<[u8; 16]>().read_unaligned() }))
}

/// carp_iamatch6_p.
#[no_mangle]
pub extern "C" fn carp_rs_iamatch6(ifp: *mut sys::ifnet, a: *const u8) -> c_int {
    let Some(a) = addr6(a) else { return 0 };
    in_net_epoch(|_| {
        // SAFETY: live interface for the call.
        unsafe { Ifnet::from_raw(ifp) }.map_or(0, |i| hooks::iamatch6(i, a))
    })
}
const _: sys::carp_rs_iamatch6_t = Some(carp_rs_iamatch6);

/// carp_macmatch6_p.
#[no_mangle]
pub extern "C" fn carp_rs_macmatch6(ifp: *mut sys::ifnet, a: *const u8) -> c_int {
    let Some(a) = addr6(a) else { return 0 };
    in_net_epoch(|_| {
        // SAFETY: live interface for the call.
        unsafe { Ifnet::from_raw(ifp) }.map_or(0, |i| hooks::macmatch6(i, a))
    })
}
const _: sys::carp_rs_macmatch6_t = Some(carp_rs_macmatch6);

/// Protocol 112 input; consumes `m`.
#[no_mangle]
pub extern "C" fn carp_rs_input(m: *mut sys::mbuf, af: c_int, off: c_int) {
    // SAFETY: ip_input/ip6_input hand over the packet (we free it).
    let Some(m) = (unsafe { Mbuf::from_raw(m) }) else { return };
    // IPv4 finds its header length in the packet; IPv6 starts at `off` (`*offp`).
    let off = usize::try_from(off).unwrap_or(0);
    in_net_epoch(|e| hooks::input(m, af == 28, off, e));
}
const _: sys::carp_rs_input_t = Some(carp_rs_input);

/// A container's callout.
#[no_mangle]
pub extern "C" fn carp_rs_callout(arg: *mut c_void) {
    // SAFETY: `arg` is the Cif embedding the callout (kpi::callout::Callout::arm_at); a
    // container drains its callout before it is freed, so it is alive here.
    let Some(cif) = (unsafe { arg.cast::<crate::cif::Cif>().as_ref() }) else { return };
    in_net_epoch(|e| hooks::callout(cif, e));
}
const _: sys::carp_rs_callout_t = Some(carp_rs_callout);

/// The send-all task.
#[no_mangle]
pub extern "C" fn carp_rs_sendall() {
    let _in = InFlight::enter();
    module::sendall();
}
const _: sys::carp_rs_sendall_t = Some(carp_rs_sendall);

/// CARP_NL_CMD_GET.
#[no_mangle]
pub extern "C" fn carp_rs_nl_get(hdr: *mut sys::nlmsghdr, npt: *mut sys::nl_pstate) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: the genl framework passes the parsed message and its state.
    let Some(r) = (unsafe { NlRequest::from_raw(hdr, npt) }) else { return libc_einval() };
    errno::to_c(config::nl_get(&r))
}
const _: sys::carp_rs_nl_get_t = Some(carp_rs_nl_get);

/// CARP_NL_CMD_SET.
#[no_mangle]
pub extern "C" fn carp_rs_nl_set(hdr: *mut sys::nlmsghdr, npt: *mut sys::nl_pstate) -> c_int {
    let Some(_in) = InFlight::enter_config() else { return unloading() };
    // SAFETY: as for GET.
    let Some(r) = (unsafe { NlRequest::from_raw(hdr, npt) }) else { return libc_einval() };
    errno::to_c(config::nl_set(&r))
}
const _: sys::carp_rs_nl_set_t = Some(carp_rs_nl_set);

/// ifnet_departure_event for an interface with a CARP container.
#[no_mangle]
pub extern "C" fn carp_rs_ifdetach(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    // SAFETY: the event handler runs with the departing interface still valid.
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        config::ifdetach(ifp);
    }
}
const _: sys::carp_rs_ifdetach_t = Some(carp_rs_ifdetach);

/// ifnet_event IFNET_EVENT_UP for a parent with vhids or one of our `carpN`.
#[no_mangle]
pub extern "C" fn carp_rs_ifup(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    // SAFETY: the event handler runs with the interface valid (if_up's caller holds it).
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        config::ifup(ifp);
    }
}
const _: sys::carp_rs_ifup_t = Some(carp_rs_ifup);

/// ifaddr_event_ext, IFADDR_EVENT_ADD of an IPv4 address on an interface that is not a
/// `carpN`: unbound `carpN` of this VNET try to bind again (their parent may be back).
#[no_mangle]
pub extern "C" fn carp_rs_ifaddr_added(ifp: *mut sys::ifnet) {
    let Some(_in) = InFlight::enter_config() else { return };
    // SAFETY: the event handler runs with the interface valid for the call.
    if unsafe { Ifnet::from_raw(ifp) }.is_some() {
        crate::legacy::rebind_unbound();
    }
}
const _: sys::carp_rs_ifaddr_added_t = Some(carp_rs_ifaddr_added);

/// Address work the shim deferred to its task (sleepable, curvnet set, references held
/// on `ifp` and `ifa` for the call): a `carp_detach_p` from a context that may not sleep
/// (kinds 1 and 2: `keep_cif` false/true), or an IPv6 address added to (3) or removed
/// from (4) the `carpN` `ifp`.
#[no_mangle]
pub extern "C" fn carp_rs_deferred(ifp: *mut sys::ifnet, ifa: *mut sys::ifaddr, kind: c_int) {
    let _in = InFlight::enter();
    // SAFETY: the shim's task holds references on both for the call.
    let (Some(ifp), Some(ifa)) = (unsafe { Ifnet::from_raw(ifp) }, unsafe { Ifaddr::from_raw(ifa) }) else {
        return;
    };
    match kind {
        1 | 2 => config::detach(ifa, kind == 2),
        3 if net::accepting_new_config() => crate::legacy::clone_addr6_added(ifp, ifa),
        4 => crate::legacy::clone_addr6_removed(ifa),
        _ => {}
    }
}
const _: sys::carp_rs_deferred_t = Some(carp_rs_deferred);

/// C code of the module outside a Rust hook (cloner callbacks): counted as inside a hook
/// until [`carp_rs_inflight_exit`], so unload waits for it.
#[no_mangle]
pub extern "C" fn carp_rs_inflight_enter() {
    core::mem::forget(InFlight::enter());
}
const _: sys::carp_rs_inflight_enter_t = Some(carp_rs_inflight_enter);

/// Ends what [`carp_rs_inflight_enter`] began.
#[no_mangle]
pub extern "C" fn carp_rs_inflight_exit() {
    crate::kpi::net::inflight_exit();
}
const _: sys::carp_rs_inflight_exit_t = Some(carp_rs_inflight_exit);

/// 1 until unload begins.
#[no_mangle]
pub extern "C" fn carp_rs_accepting() -> c_int {
    c_int::from(crate::kpi::net::accepting_new_config())
}
const _: sys::carp_rs_accepting_t = Some(carp_rs_accepting);

/// ifnet_arrival_event of a renamed interface with a CARP container.
#[no_mangle]
pub extern "C" fn carp_rs_ifrename(ifp: *mut sys::ifnet) {
    let _in = InFlight::enter();
    // SAFETY: the event handler runs with the renamed interface valid.
    if let Some(ifp) = unsafe { Ifnet::from_raw(ifp) } {
        config::ifrename(ifp);
    }
}
const _: sys::carp_rs_ifrename_t = Some(carp_rs_ifrename);


//! Per-VNET values owned by the C shim (VNET() is a macro, unreachable from Rust).

use sys_bindings as sys;

use super::net::Vnet;

/// `net.inet.carp.allow` of the current VNET.
///
/// The caller runs with `curvnet` set (true for packet input, sysctl handlers and any code
/// between `CURVNET_SET`/`CURVNET_RESTORE`).
pub fn allow() -> bool {
    // SAFETY: carp_shim_allow only reads an int from the current VNET's copy of the
    // module's VNET area; it has no other precondition than curvnet being set (documented
    // above) and cannot fail.
    unsafe { sys::carp_shim_allow() != 0 }
}

/// The current VNET (curvnet).
pub fn current() -> Vnet {
    // SAFETY: reads curthread's vnet pointer; no precondition.
    Vnet::from_raw(unsafe { sys::carp_shim_curvnet() })
}

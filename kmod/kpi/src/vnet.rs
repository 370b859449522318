//! Per-VNET values owned by the C shim (VNET() is a macro, unreachable from Rust).

use sys_bindings as sys;

use crate::net::Vnet;

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

/// The current VNET's demotion accumulator: VNET storage of the shim (as stock keeps
/// `V_carp_demotion`), so nothing is allocated or freed and every VNET has one.
///
/// The `'static` lifetime stands for "as long as the VNET": the storage lives until the
/// VNET is freed at the very end of its teardown, after every interface of it (and so
/// every container and vhid holding this reference) has gone; at module unload every
/// container is released before the module's VNET storage is returned.
pub fn demotion_state() -> &'static carp_proto::demotion::DemotionState {
    use carp_proto::demotion::DemotionState;
    const _: () = assert!(core::mem::size_of::<DemotionState>() == 8 && core::mem::align_of::<DemotionState>() == 4);
    // SAFETY: the shim returns the address of 8 bytes of the current VNET's storage,
    // 4-aligned, zero-initialised (a valid DemotionState: two atomics at zero), laid out
    // as the #[repr(C)] DemotionState (checked above and by the shim's _Static_assert);
    // it is only ever accessed through the atomics, and lives as documented above.
    unsafe { &*sys::carp_shim_vnet_demotion().cast::<DemotionState>() }
}

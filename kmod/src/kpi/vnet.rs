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

/// The current VNET's demotion accumulator, allocated on first use (M_NOWAIT; `None` if
/// memory is short). Valid until [`retire_demotion`] in this VNET proves it unused.
pub fn demotion_state() -> Option<&'static carp_proto::demotion::DemotionState> {
    use alloc::boxed::Box;
    use carp_proto::demotion::DemotionState;
    // SAFETY: reads the current VNET's pointer (curvnet set by every caller).
    let mut p = unsafe { sys::carp_shim_vnet_demotion() }.cast::<DemotionState>();
    if p.is_null() {
        let fresh = Box::into_raw(Box::try_new(DemotionState::new()).ok()?);
        // SAFETY: atomic compare-and-set of the VNET's pointer from null to ours.
        if unsafe { sys::carp_shim_vnet_demotion_cas(core::ptr::null_mut(), fresh.cast()) } != 0 {
            p = fresh;
        } else {
            // SAFETY: `fresh` came from Box::into_raw above and was not published.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as the first read.
            p = unsafe { sys::carp_shim_vnet_demotion() }.cast::<DemotionState>();
        }
    }
    // SAFETY: a non-null pointer was published by this function from Box::into_raw and is
    // freed only by `retire_demotion`, whose caller guarantees no vhid or token of this
    // VNET exists any more (otherwise the state is kept alive, i.e. leaked).
    unsafe { p.as_ref() }
}

/// Unpublishes the current VNET's demotion accumulator (VNET teardown or module unload).
/// With `unused`, it is freed; otherwise it is leaked on purpose (vhids of the dying VNET
/// still point at it; 8 bytes).
pub fn retire_demotion(unused: bool) {
    use carp_proto::demotion::DemotionState;
    // SAFETY: reads the current VNET's pointer.
    let p = unsafe { sys::carp_shim_vnet_demotion() }.cast::<DemotionState>();
    if p.is_null() {
        return;
    }
    // SAFETY: atomic compare-and-set of the VNET's pointer back to null.
    if unsafe { sys::carp_shim_vnet_demotion_cas(p.cast(), core::ptr::null_mut()) } == 0 {
        return;
    }
    if unused {
        // SAFETY: published from Box::into_raw by demotion_state, now unpublished, and
        // the caller guarantees nothing refers to it.
        drop(unsafe { alloc::boxed::Box::from_raw(p) });
    }
}

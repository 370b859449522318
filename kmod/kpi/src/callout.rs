//! callout(9) embedded in a heap object, MPSAFE, drained before it is freed.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering};

use carp_proto::Instant;
use sys_bindings as sys;

/// One callout, owned by a [`crate::container::Container`]: its handler is
/// `carp_rs_callout(arg)` ([`crate::entry::callout`]), whose `arg` is that container.
/// Dropping it drains it (callout_drain: may sleep), so the memory is never freed while the
/// handler may still run.
pub struct Callout {
    c: UnsafeCell<sys::callout>,
    inited: AtomicBool,
}

// SAFETY: callout(9) functions are thread-safe (the callout has its own internal lock).
unsafe impl Sync for Callout {}
// SAFETY: only moved before `init` (see Mutex in kpi::sync).
unsafe impl Send for Callout {}

impl Callout {
    /// A callout not yet initialised.
    pub const fn new() -> Callout {
        Callout {
            // SAFETY: all-zero is the state of a callout before callout_init.
            c: UnsafeCell::new(unsafe { core::mem::zeroed() }),
            inited: AtomicBool::new(false),
        }
    }

    /// callout_init(c, 1) at the callout's final address (inside a container, see crate::container).
    pub(crate) fn init(&self) {
        if self.inited.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: first initialisation, at the final address.
        unsafe { sys::carp_shim_callout_init(self.c.get()) };
    }

    /// Arm (or re-arm) for the absolute uptime `at`, calling the handler with `arg`.
    ///
    /// `arg` must stay valid until the callout is drained: callers pass the address of
    /// the object that embeds this callout, whose drop drains it first.
    pub(crate) fn arm_at(&self, at: Instant, arg: *const c_void) {
        if !self.inited.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: initialised; the handler's argument outlives the callout (documented).
        unsafe { sys::carp_shim_callout_at(self.c.get(), at.as_micros(), arg.cast_mut()) };
    }

    /// Cancel if pending (does not wait for a running handler).
    pub(crate) fn stop(&self) {
        if self.inited.load(Ordering::Acquire) {
            // SAFETY: initialised callout.
            unsafe { sys::carp_shim_callout_stop(self.c.get()) };
        }
    }

    /// Cancel and wait until no handler runs (sleeps): sleepable context only.
    pub(crate) fn drain(&self) {
        if self.inited.load(Ordering::Acquire) {
            // SAFETY: initialised callout; callers are sleepable (configuration path or
            // unload, documented on the callers).
            unsafe { sys::carp_shim_callout_drain(self.c.get()) };
        }
    }
}

impl Drop for Callout {
    fn drop(&mut self) {
        self.drain();
    }
}

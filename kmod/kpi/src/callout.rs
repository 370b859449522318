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
        // SAFETY: first initialisation (callout_init(c, 1): MPSAFE), at the final address.
        unsafe { sys::callout_init(self.c.get(), 1) };
    }

    /// Arm (or re-arm) for the absolute uptime `at`, calling the handler with `arg`.
    ///
    /// `arg` must stay valid until the callout is drained: callers pass the address of
    /// the object that embeds this callout, whose drop drains it first.
    pub(crate) fn arm_at(&self, at: Instant, arg: *const c_void) {
        if !self.inited.load(Ordering::Acquire) {
            return;
        }
        // A deadline past i64 microseconds (about 292,000 years) is clamped, never wrapped
        // into the past.
        let sbt = us_to_sbt(i64::try_from(at.as_micros()).unwrap_or(i64::MAX));
        // SAFETY: initialised; callout_reset_sbt(c, sbt, 0, carp_rs_callout, arg,
        // C_ABSOLUTE) (a macro over callout_reset_sbt_on, any CPU); the handler's argument
        // outlives the callout (documented).
        unsafe {
            sys::callout_reset_sbt_on(
                self.c.get(),
                sbt,
                0,
                Some(sys::carp_rs_callout),
                arg.cast_mut(),
                -1,
                sys::C_ABSOLUTE as i32,
            )
        };
    }

    /// Cancel if pending (does not wait for a running handler).
    pub(crate) fn stop(&self) {
        if self.inited.load(Ordering::Acquire) {
            // SAFETY: initialised callout; callout_stop is _callout_stop_safe(c, 0).
            unsafe { sys::_callout_stop_safe(self.c.get(), 0) };
        }
    }

    /// Cancel and wait until no handler runs (sleeps): sleepable context only.
    pub(crate) fn drain(&self) {
        if self.inited.load(Ordering::Acquire) {
            // SAFETY: initialised callout; callout_drain is _callout_stop_safe(c,
            // CS_DRAIN); callers are sleepable (configuration path or unload, documented
            // on the callers).
            unsafe { sys::_callout_stop_safe(self.c.get(), sys::CS_DRAIN as i32) };
        }
    }
}

impl Drop for Callout {
    fn drop(&mut self) {
        self.drain();
    }
}

/// sbttous (sys/time.h): the microseconds of a sbintime (32.32 fixed-point seconds),
/// rounded down, exact for every non-negative value (scaling by 15625 / 2^26, the
/// reduced 10^6 / 2^32, without the overflow of a plain `10^6 * sbt >> 32`).
pub(crate) fn sbt_to_us(sbt: i64) -> u64 {
    const FACTOR: i64 = 15625;
    const DIVISOR: i64 = 1 << 26;
    let us = (sbt / DIVISOR).wrapping_mul(FACTOR).wrapping_add((sbt % DIVISOR).wrapping_mul(FACTOR) / DIVISOR);
    us as u64
}

/// ustosbt (sys/time.h): the sbintime of a number of microseconds, rounded up, as the
/// kernel's inline computes it (scaling by 2^26 / 15625).
fn us_to_sbt(us: i64) -> i64 {
    const FACTOR: i64 = 1 << 26;
    const DIVISOR: i64 = 15625;
    (us / DIVISOR)
        .saturating_mul(FACTOR)
        .saturating_add((us % DIVISOR).saturating_mul(FACTOR).saturating_add(DIVISOR - 1) / DIVISOR)
}

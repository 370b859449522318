//! Locks: mtx(9) as a data-owning [`Mutex`] with an RAII guard, the module's global sx(9)
//! configuration lock as [`ConfigGuard`] + [`ConfigCell`], and the global list mutex.
//!
//! A `Mutex` embeds its `struct mtx`, initialised (mtx_init) once it has its final address:
//! a container's locks in [`crate::container::Contained::init_in_place`], right after the
//! container is boxed; `lock` initialises a mutex that was not. Moving one afterwards is
//! harmless: FreeBSD keeps no pointer to an unlocked mtx (WITNESS points from the lock to
//! its class, not back; turnstiles are looked up by address only while it is contended),
//! and a locked one cannot move (its guard borrows it).

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU8, Ordering};

use sys_bindings as sys;

/// A mtx(9) (MTX_DEF) protecting a `T`.
pub struct Mutex<T> {
    mtx: UnsafeCell<sys::mtx>,
    /// UNINIT, INITING (one thread is running mtx_init) or READY.
    state: AtomicU8,
    data: UnsafeCell<T>,
}

const UNINIT: u8 = 0;
const INITING: u8 = 1;
const READY: u8 = 2;

// SAFETY: the data is only reached through a guard, which holds the mtx; the mtx itself is
// designed to be shared between threads.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: moving a Mutex between threads moves its T; the mtx is not initialised yet while
// it can still move (see `init`).
unsafe impl<T: Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A mutex not yet initialised: call [`Mutex::init`] once it has its final address.
    pub const fn new(data: T) -> Mutex<T> {
        Mutex {
            // SAFETY: `struct mtx` is plain data for which all-zero is the state before
            // mtx_init (what a zeroed softc holds in C).
            mtx: UnsafeCell::new(unsafe { core::mem::zeroed() }),
            state: AtomicU8::new(UNINIT),
            data: UnsafeCell::new(data),
        }
    }

    /// mtx_init, once, at the mutex's final address (the caller keeps it there: it is
    /// only called on values inside a Box that is never moved out of).
    /// Returns once the mutex is initialised (by this call or a concurrent one).
    #[cold]
    #[inline(never)]
    pub fn init(&self, name: &'static CStr) {
        if self.state.compare_exchange(UNINIT, INITING, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // SAFETY: the only initialisation of this mtx (the state moved from UNINIT),
            // at its final address; `name` outlives the lock (static).
            unsafe { sys::carp_shim_mtx_init(self.mtx.get(), name.as_ptr()) };
            self.state.store(READY, Ordering::Release);
            return;
        }
        // Another thread is initialising it: not usable before it is done.
        while self.state.load(Ordering::Acquire) == INITING {
            core::hint::spin_loop();
        }
    }

    /// Takes the lock (may spin/block briefly; never sleeps).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // A mutex is initialised before it is shared (a container initialises its locks in
        // place); an uninitialised one is initialised now rather than locked in that state.
        if self.state.load(Ordering::Acquire) != READY {
            self.init(c"carp");
        }
        // SAFETY: the mtx is initialised and not destroyed while `self` is borrowed.
        unsafe { sys::carp_shim_mtx_lock(self.mtx.get()) };
        MutexGuard { m: self, _not_send: PhantomData }
    }

    /// mtx_destroy of a mutex that is never dropped (a static); a later [`Mutex::lock`]
    /// would initialise it again.
    ///
    /// # Safety
    ///
    /// No thread holds or uses the mutex, now or until it is initialised again.
    pub unsafe fn destroy(&self) {
        if self.state.compare_exchange(READY, UNINIT, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // SAFETY: initialised and unused (caller's contract).
            unsafe { sys::carp_shim_mtx_destroy(self.mtx.get()) };
        }
    }

    /// Mutable access without locking, through exclusive ownership.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        if *self.state.get_mut() == READY {
            // SAFETY: initialised, and unowned: `&mut self` proves no guard exists.
            unsafe { sys::carp_shim_mtx_destroy(self.mtx.get()) };
        }
    }
}

/// Holds a [`Mutex`]; unlocks when dropped.
pub struct MutexGuard<'a, T> {
    m: &'a Mutex<T>,
    /// mtx(9) must be unlocked by the thread that locked it.
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the data exists
        // except through this guard.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for deref; `&mut self` makes this the only access.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this thread locked the mtx when creating the guard.
        unsafe { sys::carp_shim_mtx_unlock(self.m.mtx.get()) };
    }
}

/// The global configuration lock (`carp_sx`, exclusive). Sleepable: SIOCSVH/SIOCGVH,
/// netlink, attach/detach, load/unload hold it. Taking it may sleep.
pub struct ConfigGuard {
    _not_send: PhantomData<*const ()>,
}

impl ConfigGuard {
    /// sx_xlock(&carp_sx).
    pub fn lock() -> ConfigGuard {
        // SAFETY: carp_sx is initialised by SX_SYSINIT before the module's event handler
        // runs and destroyed only after it; the callers are sleepable contexts.
        unsafe { sys::carp_shim_sx_xlock() };
        ConfigGuard { _not_send: PhantomData }
    }
}

impl Drop for ConfigGuard {
    fn drop(&mut self) {
        // SAFETY: this thread holds carp_sx exclusively (taken in `lock`).
        unsafe { sys::carp_shim_sx_xunlock() };
    }
}

/// Data only reachable while holding the [`ConfigGuard`].
pub struct ConfigCell<T> {
    data: UnsafeCell<T>,
}

// SAFETY: access requires `&mut ConfigGuard`, and there is one global sx: at most one
// thread at a time holds a guard, and the guard's &mut borrow excludes aliasing.
unsafe impl<T: Send> Sync for ConfigCell<T> {}

impl<T> ConfigCell<T> {
    /// A cell holding `data`.
    pub const fn new(data: T) -> ConfigCell<T> {
        ConfigCell { data: UnsafeCell::new(data) }
    }

    /// The data, for as long as the configuration lock is borrowed.
    pub fn get<'g>(&'g self, _guard: &'g mut ConfigGuard) -> &'g mut T {
        // SAFETY: see the Sync impl: holding `&mut ConfigGuard` means holding carp_sx
        // exclusively and no other borrow from this cell can be alive.
        unsafe { &mut *self.data.get() }
    }
}

//! A module's per-interface container: a value of the logic's type published in
//! `ifp->if_carp` (and named by `ifa_carp` of the addresses bound to it), with its own
//! callout.
//!
//! - [`Published<T>`] owns the heap [`Container<T>`]: creating it boxes the value, lets it
//!   initialise its locks at their final address ([`Contained::init_in_place`]) and
//!   stores the pointer in `if_carp`; dropping it clears the pointer, waits for the network
//!   epoch (hook readers are gone), stops the callout for good and drains it, then frees.
//! - Readers get `&Container<T>` back from an interface or an address
//!   ([`crate::ifnet::Ifnet::container`], [`crate::ifnet::Ifaddr::container`]) inside the
//!   network epoch or under the configuration lock. The pointer is type-checked: every
//!   container begins with the `TypeId` of its value, so a reader asking for another type
//!   gets `None` instead of a wrong cast.
//! - The callout is armed only through [`Container::arm_at`]; it calls
//!   [`Contained::expire`] inside the network epoch with the container, which stays alive
//!   until the callout is drained.

use core::any::TypeId;
use core::ffi::c_void;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, Ordering};

use alloc::boxed::Box;

use carp_proto::{Errno, Instant};

use crate::callout::Callout;
use crate::ifnet::{load_ptr, store_ptr, IfRef, IfaRef, Ifaddr, Ifnet};
use crate::net::Epoch;

/// What the logic keeps in a container.
pub trait Contained: Send + Sync + Sized + 'static {
    /// Called once the value is at its final (heap) address, before it is published: the
    /// place to initialise its locks.
    fn init_in_place(&self);

    /// The container's callout fired (network epoch entered, no lock held).
    fn expire(c: &Container<Self>, e: &Epoch);
}

/// A published value, its parent and its callout. Only [`Published`] creates one, on the
/// heap, and frees it.
#[repr(C)]
pub struct Container<T> {
    /// First: read through a `*const TypeId` before the pointer is trusted as `Self`.
    tag: TypeId,
    /// Drained before the value is dropped (see [`Published`]'s drop).
    callout: Callout,
    dying: AtomicBool,
    ifp: IfRef,
    value: T,
}

impl<T: Contained> Container<T> {
    /// The parent.
    pub fn ifp(&self) -> Ifnet<'_> {
        self.ifp.get()
    }

    /// The parent's counted reference.
    pub fn ifref(&self) -> &IfRef {
        &self.ifp
    }

    /// Whether the container is being freed (its callout stopped for good).
    pub fn is_dying(&self) -> bool {
        self.dying.load(Ordering::Acquire)
    }

    /// Arms (or re-arms) the callout for the absolute uptime `at`; nothing once dying.
    pub fn arm_at(&self, at: Instant) {
        if !self.is_dying() {
            let arg: *const Container<T> = self;
            self.callout.arm_at(at, arg.cast());
        }
    }

    /// Cancels the callout if pending (a running handler finishes).
    pub fn stop_timer(&self) {
        self.callout.stop();
    }

    /// The container `p` points to, if it holds a `T`.
    ///
    /// # Safety
    ///
    /// `p` must be null or point to a live `Container` of some type (the value of an
    /// `if_carp`/`ifa_carp` this crate wrote, or a callout argument), alive for `'a`.
    pub(crate) unsafe fn from_ptr<'a>(p: *const c_void) -> Option<&'a Container<T>> {
        if p.is_null() {
            return None;
        }
        // SAFETY: every Container is repr(C) with the TypeId first (caller's contract:
        // `p` points to one).
        let tag = unsafe { p.cast::<TypeId>().read() };
        if tag != TypeId::of::<T>() {
            return None;
        }
        // SAFETY: the tag says the container holds a T; alive for 'a (caller's contract).
        unsafe { p.cast::<Container<T>>().as_ref() }
    }

    pub(crate) fn as_ptr(&self) -> *mut c_void {
        let p: *const Container<T> = self;
        p.cast_mut().cast()
    }
}

impl<T> Deref for Container<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The callout handler the shim calls with a container's address (`carp_rs_callout`).
///
/// # Safety
///
/// `arg` must be the argument [`Container::arm_at`] passed: a container that is alive
/// until its callout is drained.
pub(crate) unsafe fn expire<T: Contained>(arg: *mut c_void) {
    // SAFETY: caller's contract; the tag check rejects a container of another type.
    let Some(c) = (unsafe { Container::<T>::from_ptr(arg) }) else { return };
    crate::net::in_net_epoch(|e| T::expire(c, e));
}

/// Ownership of a container published in its parent's `if_carp`.
pub struct Published<T: Contained> {
    c: Box<Container<T>>,
}

impl<T: Contained> Published<T> {
    /// Boxes `value` for parent `ifp` and publishes it (configuration lock held by the
    /// caller, the parent without a container). `ENOMEM` if the box cannot be allocated.
    pub fn publish(ifp: IfRef, value: T) -> Result<Published<T>, Errno> {
        let c = Box::try_new(Container {
            tag: TypeId::of::<T>(),
            callout: Callout::new(),
            dying: AtomicBool::new(false),
            ifp,
            value,
        })
        .map_err(|_| Errno::ENOMEM)?;
        c.callout.init();
        c.value.init_in_place();
        // SAFETY: live interface (the container's counted reference); the Box gives the
        // container a stable address until this value is dropped, which clears it first.
        unsafe { store_ptr(core::ptr::addr_of_mut!((*c.ifp.raw()).if_carp), c.as_ptr().cast()) };
        Ok(Published { c })
    }

    /// The parent.
    pub fn ifp(&self) -> Ifnet<'_> {
        self.c.ifp()
    }

    /// The container.
    pub fn get(&self) -> &Container<T> {
        &self.c
    }
}

impl<T: Contained> Drop for Published<T> {
    fn drop(&mut self) {
        // SAFETY: clears the pointer `publish` stored (live interface: counted reference).
        unsafe { store_ptr(core::ptr::addr_of_mut!((*self.c.ifp.raw()).if_carp), core::ptr::null_mut()) };
        // Hooks that read the pointer run inside the network epoch: after this wait none
        // can still use the container.
        crate::net::net_epoch_wait();
        self.c.dying.store(true, Ordering::Release);
        self.c.callout.drain();
    }
}

impl<'a> Ifnet<'a> {
    /// The container of type `T` hanging off `if_carp`, if any.
    ///
    /// Valid for `'a`: containers are published by [`crate::container::Published`] and
    /// unpublished before a network-epoch wait that precedes their release, and every
    /// caller runs inside the network epoch (the entry adapters wrap the hooks) or holds
    /// the configuration lock.
    pub fn container<T: Contained>(&self) -> Option<&'a Container<T>> {
        // SAFETY: live interface; reads one pointer field as the kernel writes it.
        let p = unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).if_carp)) }.cast::<c_void>();
        // SAFETY: if_carp is either null or the address of a container owned by a
        // Published (this crate is the only writer), alive for `'a` as documented above.
        unsafe { Container::from_ptr(p) }
    }
}

impl<'a> Ifaddr<'a> {
    /// The container `ifa_carp` points to (this crate stores it there), for addresses of a
    /// `carpN`, whose container hangs off the parent, not `ifa_ifp`. Valid for `'a` under
    /// the same rule as [`Ifnet::container`]: `ifa_carp` is cleared before a container is
    /// unpublished, the epoch waited for and the container freed; callers run in the
    /// network epoch or hold the configuration lock.
    pub fn container<T: Contained>(&self) -> Option<&'a Container<T>> {
        // SAFETY: live ifaddr; reads one pointer field as the kernel writes it.
        let p = unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).ifa_carp)) }.cast::<c_void>();
        // SAFETY: null or the address of a live container (see above; this crate is the
        // only writer of ifa_carp).
        unsafe { Container::from_ptr(p) }
    }
}

impl IfaRef {
    /// Sets `ifa_carp` to the container the address is bound to (the kernel only tests it
    /// for NULL).
    pub fn set_carp<T: Contained>(&self, c: &Container<T>) {
        // SAFETY: live ifaddr (counted reference); writes one pointer field atomically.
        unsafe { store_ptr(core::ptr::addr_of_mut!((*self.get().raw()).ifa_carp), c.as_ptr().cast()) };
    }

    /// Clears `ifa_carp`.
    pub fn clear_carp(&self) {
        // SAFETY: live ifaddr (counted reference); writes one pointer field atomically.
        unsafe { store_ptr(core::ptr::addr_of_mut!((*self.get().raw()).ifa_carp), core::ptr::null_mut()) };
    }
}

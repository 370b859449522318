//! A module's per-interface container: a value of the logic's type published in
//! `ifp->if_carp` (and named by `ifa_carp` of the addresses bound to it), with its own
//! callout.
//!
//! - [`Published<T>`] owns the heap [`Container<T>`]: creating it boxes the value, lets it
//!   initialise its locks at their final address ([`Contained::init_in_place`]) and
//!   stores the pointer in `if_carp`; dropping it clears the pointer, waits for the network
//!   epoch (hook readers are gone), stops the callout for good and drains it, then frees
//!   the container, unless an address's `ifa_carp` still names it: then it is leaked
//!   (logged), never freed under a pointer the kernel and the hooks can still follow.
//! - `ifa_carp` is written only by [`IfaRef::set_carp`] and [`IfaRef::clear_carp`], which
//!   count, in the container, the addresses naming it.
//! - Readers get `&Container<T>` back from an interface or an address
//!   ([`Ifnet::container`], [`Ifaddr::container`]) for the network-epoch section they pass
//!   in. The pointer is type-checked: every container begins with the `TypeId` of its
//!   value, so a reader asking for another type gets `None` instead of a wrong cast.
//! - The callout is armed only through [`Container::arm_at`]; it calls
//!   [`Contained::expire`] inside the network epoch with the container, which stays alive
//!   until the callout is drained.

use core::any::TypeId;
use core::ffi::c_void;
use core::ops::Deref;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

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
    /// First: read through a `*const Header` before the pointer is trusted as `Self`.
    header: Header,
    /// Drained before the value is dropped (see [`Published`]'s drop).
    callout: Callout,
    dying: AtomicBool,
    ifp: IfRef,
    value: T,
}

/// The part of a container read before its value's type is known.
#[repr(C)]
struct Header {
    tag: TypeId,
    /// Addresses whose `ifa_carp` names this container.
    bound: AtomicUsize,
}

/// The header of the container `p` points to.
///
/// # Safety
///
/// `p` is non-null and points to a live `Container` of some type.
unsafe fn header<'a>(p: *const c_void) -> &'a Header {
    // SAFETY: every Container is repr(C) with its Header first (caller's contract).
    unsafe { &*p.cast::<Header>() }
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
        // SAFETY: caller's contract (non-null checked).
        if unsafe { header(p) }.tag != TypeId::of::<T>() {
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
    /// Freed by the drop, or leaked there while an address still names it.
    c: ManuallyDrop<Box<Container<T>>>,
}

impl<T: Contained> Published<T> {
    /// Boxes `value` for parent `ifp` and publishes it (configuration lock held by the
    /// caller, the parent without a container). `ENOMEM` if the box cannot be allocated.
    pub fn publish(ifp: IfRef, value: T) -> Result<Published<T>, Errno> {
        let c = Box::try_new(Container {
            header: Header { tag: TypeId::of::<T>(), bound: AtomicUsize::new(0) },
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
        Ok(Published { c: ManuallyDrop::new(c) })
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
        // After the wait no reader holds the container but through an `ifa_carp` that
        // still names it (a reference from a lookup ends with its epoch section, and a new
        // binding needs such a reference): with none, nothing can reach it any more.
        if self.c.header.bound.load(Ordering::Acquire) != 0 {
            crate::log::info(c"carp: a container is still named by an address; leaked, not freed");
            return;
        }
        // SAFETY: dropped once, here; nothing can reach the container any more (above).
        unsafe { ManuallyDrop::drop(&mut self.c) };
    }
}

impl<'a> Ifnet<'a> {
    /// The container of type `T` hanging off `if_carp`, if any, for the epoch section
    /// `_e` (containers are unpublished before a network-epoch wait that precedes their
    /// release).
    pub fn container<'e, T: Contained>(&self, _e: &'e Epoch) -> Option<&'e Container<T>>
    where
        'a: 'e,
    {
        // SAFETY: live interface; reads one pointer field as the kernel writes it.
        let p = unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).if_carp)) }.cast::<c_void>();
        // SAFETY: if_carp is either null or the address of a container owned by a
        // Published (this crate is the only writer), alive for the section `_e`.
        unsafe { Container::from_ptr(p) }
    }
}

impl<'a> Ifaddr<'a> {
    /// The container `ifa_carp` points to (this crate stores it there), for addresses of a
    /// `carpN`, whose container hangs off the parent, not `ifa_ifp`; for the epoch section
    /// `_e`. A container named by an `ifa_carp` is never freed ([`Published`]'s drop).
    pub fn container<'e, T: Contained>(&self, _e: &'e Epoch) -> Option<&'e Container<T>>
    where
        'a: 'e,
    {
        // SAFETY: live ifaddr; reads one pointer field as the kernel writes it.
        let p = unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).ifa_carp)) }.cast::<c_void>();
        // SAFETY: null or the address of a container that is not freed while named there
        // (see above; this crate is the only writer of ifa_carp).
        unsafe { Container::from_ptr(p) }
    }
}

impl IfaRef {
    /// Sets `ifa_carp` to the container the address is bound to (the kernel only tests it
    /// for NULL).
    pub fn set_carp<T: Contained>(&self, c: &Container<T>) {
        // Counted before it is named, so the count is never below the names.
        c.header.bound.fetch_add(1, Ordering::AcqRel);
        self.swap_carp(c.as_ptr());
    }

    /// Clears `ifa_carp`.
    pub fn clear_carp(&self) {
        self.swap_carp(core::ptr::null_mut());
    }

    fn swap_carp(&self, new: *mut c_void) {
        // SAFETY: live ifaddr (counted reference); the field is swapped atomically.
        let old = unsafe { AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*self.get().raw()).ifa_carp).cast::<*mut c_void>()) }
            .swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` was named by this address, so counted in its container, which
            // is therefore not freed (Published's drop) and still readable here.
            unsafe { header(old) }.bound.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

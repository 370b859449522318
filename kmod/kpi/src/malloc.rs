//! The global allocator: malloc(9)/free(9) with the module's malloc type `M_CARP`.
//!
//! - Never sleeps: every request uses `M_NOWAIT`, so allocation is allowed wherever the
//!   kernel allows `M_NOWAIT` (including under mutexes and in the network epoch) and may
//!   fail. Failure returns null; kernel code must use fallible APIs (`try_reserve`...),
//!   because the infallible ones (`Box::new`, `Vec::push` on a full vector) would reach
//!   the panic handler, which the build rejects.
//! - Honours alignment: malloc(9) returns memory aligned for any pointer-sized object; larger
//!   alignments (up to a page) go through malloc_aligned(9); beyond a page the request fails.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_int;
use core::ptr;

use sys_bindings as sys;

/// Alignment every malloc(9) result has (UMA zones are at least pointer-aligned).
const MALLOC_MIN_ALIGN: usize = core::mem::align_of::<usize>();
/// malloc_aligned(9) accepts power-of-two alignments up to PAGE_SIZE (4096 on amd64).
const MALLOC_MAX_ALIGN: usize = 4096;

/// `GlobalAlloc` over malloc(9).
pub struct KernelAllocator;

#[global_allocator]
static ALLOCATOR: KernelAllocator = KernelAllocator;

impl KernelAllocator {
    fn malloc(layout: Layout, flags: c_int) -> *mut u8 {
        let flags = flags | sys::M_NOWAIT as c_int;
        let mtp = malloc_type();
        if layout.align() <= MALLOC_MIN_ALIGN {
            // SAFETY: malloc(9) with M_NOWAIT never sleeps and returns null or a block of
            // at least `size` bytes, aligned to at least MALLOC_MIN_ALIGN; `mtp` is the
            // module's malloc type, registered by the shim's MALLOC_DEFINE for the whole
            // life of the module.
            unsafe { sys::malloc(layout.size(), mtp, flags) }.cast()
        } else if layout.align() <= MALLOC_MAX_ALIGN {
            // SAFETY: as above; `Layout` guarantees a power-of-two alignment, and it is at
            // most PAGE_SIZE, the two preconditions of malloc_aligned(9).
            unsafe { sys::malloc_aligned(layout.size(), layout.align(), mtp, flags) }.cast()
        } else {
            ptr::null_mut()
        }
    }
}

fn malloc_type() -> *mut sys::malloc_type {
    // Taking the address of an extern static is safe; only accesses are not.
    (&raw mut sys::M_CARP).cast()
}

// SAFETY: `alloc` returns null or a fresh block of at least `layout.size()` bytes aligned
// to `layout.align()` (see `malloc`), blocks are only released through `dealloc`, and
// malloc(9)/free(9) are thread-safe.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::malloc(layout, 0)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::malloc(layout, sys::M_ZERO as c_int)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from this allocator, i.e. from malloc(9)
        // or malloc_aligned(9) with M_CARP, both released by free(9) with the same type;
        // free(9) never sleeps.
        unsafe { sys::free(ptr.cast(), malloc_type()) }
    }
}

/// A vector of `n` zero bytes, or `ENOMEM` (no infallible-allocation path).
pub fn zeroed_bytes(n: usize) -> Result<alloc::vec::Vec<u8>, carp_proto::Errno> {
    let mut v = alloc::vec::Vec::new();
    v.try_reserve_exact(n).map_err(|_| carp_proto::Errno::ENOMEM)?;
    for b in v.spare_capacity_mut().iter_mut().take(n) {
        b.write(0);
    }
    // SAFETY: the capacity is at least `n` (reserved above) and the first `n` elements
    // were initialised by the loop.
    unsafe { v.set_len(n) };
    Ok(v)
}

/// Boxes `v` in memory from malloc(9) with `M_WAITOK`: sleeps until memory is available
/// (sleepable callers without a mutex only). `None` only for a type whose alignment
/// malloc(9) does not guarantee.
pub fn box_sleeping<T>(v: T) -> Option<alloc::boxed::Box<T>> {
    let layout = Layout::new::<T>();
    if layout.align() > MALLOC_MIN_ALIGN || layout.size() == 0 {
        return None;
    }
    // SAFETY: malloc(9) with M_WAITOK (the caller may sleep) returns a block of at least
    // `size` bytes aligned to MALLOC_MIN_ALIGN (checked against T's alignment above).
    let p = unsafe { sys::malloc(layout.size(), malloc_type(), sys::M_WAITOK as c_int) }.cast::<T>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is a fresh, suitably sized and aligned block: initialised here, then
    // owned by the Box. It came from malloc(9) with M_CARP, exactly what this allocator
    // returns for T's layout, so the Box's deallocation (free(9) with M_CARP) matches.
    unsafe {
        p.write(v);
        Some(alloc::boxed::Box::from_raw(p))
    }
}

//! The panic handler.
//!
//! carp.ko must contain no reachable panic: the protocol core is written without panicking
//! operations and the kernel glue uses fallible APIs only. To make that checkable, the
//! handler calls [`carp_rust_panic_path_reachable`], a function that is deliberately
//! defined NOWHERE (not in carp.ko, not in the kernel):
//!
//! - if optimisation (LTO) removes every call to the panic machinery, the handler is dead
//!   code and the symbol disappears;
//! - if any panic path survives, carp.ko keeps an undefined reference to it. The artifact
//!   check (tests/artifact, part of `make test`) fails on it, and even an unchecked module
//!   would be refused by the kernel linker ("undefined symbol") instead of loading with a
//!   latent panic.
//!
//! The check also rejects any surviving symbol of core's panic machinery
//! (`core::panicking::*`, `rust_begin_unwind`).

use core::panic::PanicInfo;

extern "C" {
    /// Never defined anywhere: see the module documentation.
    fn carp_rust_panic_path_reachable() -> !;
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    // SAFETY: this call can only be reached after a panic, which the build forbids. Its
    // target does not exist, so a module in which this call survives cannot be linked into
    // the kernel at all; that is the intent.
    unsafe { carp_rust_panic_path_reachable() }
}

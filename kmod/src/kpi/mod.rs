//! The KPI layer: every `unsafe` operation of carp.ko lives under this module.
//!
//! Rules (from Rust-for-Linux's coding guidelines):
//! - each `unsafe` block carries a `// SAFETY:` comment saying why it is sound, and each
//!   `unsafe fn` a `# Safety` section (`unsafe_op_in_unsafe_fn` is denied crate-wide);
//! - raw bindings (`sys_bindings`) are used here and nowhere else; the rest of the crate
//!   sees safe functions and types, errors as [`carp_proto::Errno`];
//! - paired kernel operations are RAII values (lock guards, registrations, references,
//!   promiscuous mode, multicast membership, published containers);
//! - nothing here may panic or sleep unless its documentation says so.
//!
//! Submodules:
//! - [`alloc`]: `#[global_allocator]` over malloc(9)/free(9) (M_NOWAIT, alignment honoured);
//! - [`errno`]: `Result<(), Errno>` to and from C `int`;
//! - [`log`]: log(9) and a truncating text buffer;
//! - [`vnet`]: per-VNET values kept by the shim;
//! - [`sync`]: mtx(9) `Mutex<T>`, the global sx(9) configuration lock;
//! - [`callout`]: callout(9), drained before free;
//! - [`net`]: network epoch, CURVNET, time, random, devctl, sysctls, statistics,
//!   registrations (hooks, protocol 112, netlink family);
//! - [`ifnet`]: interfaces, addresses, the CARP fields, promiscuous mode, multicast, routes,
//!   announcements, advertisement output;
//! - [`req`]: received mbufs, ioctl requests, netlink requests;
//! - `entry`: the `#[no_mangle]` functions the C shim calls (see kmod/shim/carp_shim.h);
//! - `panic`: the panic handler, which makes any surviving panic path visible at link time.

pub mod alloc;
pub mod callout;
// Issue 5: the interface cloner "carp" (legacy carpN).
pub mod clone;
mod entry;
pub mod errno;
pub mod ifnet;
pub mod log;
pub mod net;
mod panic;
pub mod req;
pub mod sync;
pub mod vnet;

//! carp-kpi: the KPI layer of carp.ko, every `unsafe` operation of the module, knowing
//! nothing of CARP's decisions (as Rust for Linux's `kernel` crate is to a driver).
//!
//! Layers (Cargo enforces the order: no crate below may name one above):
//!
//! ```text
//! carp-kmod (kmod/src)    the staticlib: export_carp!(carp_logic::Carp)
//!   carp-logic (kmod/logic)  #![forbid(unsafe_code)]: module state, configuration, hooks
//!     carp-kpi (kmod/kpi)      this crate: safe wrappers, entry adapters, allocator, panic
//!       sys-bindings             raw bindgen declarations (kernel headers, carp_shim.h)
//!       carp-proto (kmod/proto)  the pure protocol core (forbid(unsafe_code), host-tested)
//! ```
//!
//! Rules (from Rust for Linux's coding guidelines):
//! - each `unsafe` block carries a `// SAFETY:` comment saying why it is sound, and each
//!   `unsafe fn` a `# Safety` section (`unsafe_op_in_unsafe_fn` is denied);
//! - raw bindings (`sys_bindings`) are used here and nowhere else; the logic sees safe
//!   functions and types, errors as [`carp_proto::Errno`];
//! - paired kernel operations are RAII values (lock guards, registrations, references,
//!   promiscuous mode, multicast membership, published containers);
//! - nothing here may panic or sleep unless its documentation says so.
//!
//! Modules:
//! - [`entry`]: the [`entry::Carp`] trait the logic implements, the adapters the C entry
//!   points call, and [`export_carp!`] which defines those entry points;
//! - [`container`]: the per-parent container published in `if_carp`, with its callout;
//! - [`malloc`]: `#[global_allocator]` over malloc(9)/free(9) (M_NOWAIT, alignment
//!   honoured); [`vec`]: vector edits without panic paths;
//! - [`errno`]: `Result<(), Errno>` to and from C `int`;
//! - [`log`]: log(9) and a truncating text buffer;
//! - [`vnet`]: per-VNET values kept by the shim;
//! - [`sync`]: mtx(9) `Mutex<T>`, the global sx(9) configuration lock and what it guards;
//! - `callout`: callout(9), drained before free (used by [`container`] only);
//! - [`net`]: network epoch, CURVNET, time, random, devctl, sysctls, statistics,
//!   registrations (hooks, protocol 112, netlink family), counting threads inside hooks;
//! - [`ifnet`]: interfaces, addresses, the CARP fields, promiscuous mode, multicast,
//!   routes, announcements, advertisement output;
//! - `mcast`: the multicast memberships and options of a parent (ip_carp.c's setup);
//! - `hooks`: the twelve CARP hook pointers (published and cleared), the virtual MACs,
//!   the `PACKET_TAG_CARP` tag and `carp_output`'s Ethernet source rewrite;
//! - `task`: the send-all and deferred-address tasks on taskqueue_thread, and the queue of
//!   deferred address work with its pool of spare entries;
//! - [`clone`]: the `carpN` cloner, its interfaces' callbacks, and what the classic model
//!   needs of interfaces; [`arp`]: the ARP pfil hook answering for `carpN` addresses;
//!   `walk`: walks of the interface and address lists (CK lists, in the epoch);
//!   `pkt`: raw mbuf fields for those callbacks;
//! - [`req`]: received mbufs, ioctl requests, netlink requests;
//! - `panic`: the panic handler, which makes any surviving panic path visible at link time.
#![no_std]
#![feature(allocator_api)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

extern crate alloc;

/// The raw bindings, for [`export_carp!`]'s expansion.
#[doc(hidden)]
pub use sys_bindings as sys;

pub mod arp;
mod callout;
pub mod clone;
pub mod container;
pub mod entry;
pub mod errno;
mod hooks;
pub mod ifnet;
pub mod log;
pub mod malloc;
mod mcast;
pub mod net;
mod panic;
mod pkt;
pub mod req;
pub mod sync;
mod task;
pub mod vec;
pub mod vnet;
mod walk;

//! carp.ko: the Common Address Redundancy Protocol for the FreeBSD 15 amd64 kernel.
//!
//! Layers (the Rust-for-Linux model):
//! - `sys-bindings`: raw bindgen declarations of the kernel headers and the C shim header;
//! - `kmod/shim/*.c`: C helpers for what only exists as kernel macros (DECLARE_MODULE,
//!   SYSCTL_*, VNET(), MALLOC_DEFINE...), declared in `kmod/shim/carp_shim.h`;
//! - [`kpi`]: the only module allowed to use `unsafe`: safe wrappers over the kernel
//!   interfaces, the C entry points, the allocator and the panic handler;
//! - [`module`] and the `carp-proto` crate: the logic, safe Rust only.
//!
//! No panics may survive optimisation: see `kpi::panic` and tests/artifact.
//!
//! # Where things are
//!
//! - [`module`]: load/unload (RAII registrations), module-wide state, sysctl policy, the
//!   send-all task, per-VNET demotion;
//! - [`config`]: SIOCSVH/SIOCGVH, netlink GET/SET, carp_attach/carp_detach, interface
//!   departure: parent containers are created and freed here;
//! - [`cif`]: the per-parent container and [`cif::run`], the one place where inputs reach
//!   the core's `Table` and its outputs (events, packets, routes, the next deadline) are
//!   carried out;
//! - [`hooks`]: protocol 112 input and the data-plane hooks (forus, master, iamatch,
//!   iamatch6, macmatch6, get_vhid, linkstate), and the callout handler.
//!
//! # Locking
//!
//! | lock | kind | protects | taken by |
//! |---|---|---|---|
//! | `carp_sx` (`kpi::sync::ConfigGuard`) | sx, sleepable | `module::GLOBAL`: the registrations and the list of parents (each a published container and its promiscuous mode) | SIOCSVH/SIOCGVH, netlink GET/SET, carp_attach/carp_detach, interface departure, the send-all task, the allow sysctl, VNET teardown, load/unload |
//! | `carp_if` (`cif::Cif::inner`) | mtx, one per parent | the core's `Table` (every vhid of the parent, their timers and counters) and the parent's bound addresses | everything that reads or changes vhid state, including `carp_forus`, which runs under the bridge lock and therefore takes only this lock |
//! | network epoch | epoch (preemptible) | `ifp->if_carp`, the containers, the multicast options | every hook and callout reads under it; containers and multicast state are unpublished, then `NET_EPOCH_WAIT`, then freed |
//!
//! Order: `carp_sx` → network epoch → `carp_if`. Nothing sleeps while holding `carp_if`, and
//! nothing that may re-enter a hook (ip_output, ARP/NA, route changes, log, devctl) runs
//! while holding it: [`cif::run`] collects the core's outputs under the lock and carries
//! them out after releasing it. FreeBSD uses one mutex per vhid plus one per parent; here
//! the parent's mutex holds the whole table (the core's lookups are O(1)), which gives
//! `carp_forus` the same guarantee with one lock fewer.
//!
//! Callouts: one per parent container, MPSAFE (no associated lock), re-armed to the table's
//! earliest deadline after every drain; the handler enters the network epoch, sets the
//! parent's VNET and calls [`cif::run`]. A container's callout is drained (callout_drain)
//! before the container is freed, after it was unpublished and the epoch waited for.
//!
//! Unload: netlink and protocol 112 are unregistered and the hooks cleared first, then the
//! epoch is waited for and the threads still inside a sleepable hook (counted by
//! `kpi::net::InFlight`) are waited for, then every container is released.
#![no_std]
#![no_builtins]
#![feature(allocator_api)]
// `unsafe` is confined to `kpi` (which re-allows it), every unsafe block there is explained.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

extern crate alloc;

#[allow(unsafe_code)]
pub mod kpi;
pub mod cif;
pub mod config;
pub mod hooks;
// Issue 5: legacy carpN (cloner and their configuration).
pub mod legacy;
pub mod module;
pub mod util;

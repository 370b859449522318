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
pub mod module;
pub mod util;

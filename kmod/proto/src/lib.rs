//! carp-proto: the Common Address Redundancy Protocol (CARP v2) and VRRPv3, as FreeBSD 15
//! speaks them, as a pure, deterministic, sans-IO core.
//!
//! Every protocol decision of `carp.ko` lives here; the kernel glue (and the Linux test
//! node `carpd`) only feeds events in and carries out what comes back. Time is always an
//! argument ([`Instant`]), never read; nothing here performs I/O, and nothing here may
//! panic: parsing returns errors, arithmetic is checked or saturating, indexing fallible.
//!
//! Layout:
//! - [`wire`]: zero-copy packet views and validated representations (CARP, VRRPv3, IPv4,
//!   IPv6, Ethernet, ARP, neighbor advertisement) and the Internet checksum;
//! - [`auth`]: FreeBSD's HMAC-SHA1 over vhid, addresses and counter, precomputed;
//! - [`input`]: the receive checks in FreeBSD's order, with their statistics;
//! - [`vhid`], [`timer`], [`demotion`], [`table`]: the per-vhid state machine, its timer
//!   table, global demotion and per-parent vhid container;
//! - [`config`]: SIOCSVH/SIOCGVH `struct carpreq` and the generic netlink "carp" family,
//!   decoded and validated into [`SetRequest`]s, with FreeBSD's errno for every bad value;
//! - [`arpbalance`], [`parent`]: the legacy model's decisions (ARP load balancing, parent
//!   discovery by subnet);
//! - [`logaddr`]: addresses for the kernel's log lines, without `core::net`'s panic path.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;

pub mod arpbalance;
pub mod auth;
pub mod config;
pub mod demotion;
pub mod input;
pub mod logaddr;
pub mod parent;
pub mod table;
pub mod timer;
pub mod types;
pub mod vhid;
pub mod wire;

pub use logaddr::LogAddr;
pub use types::*;

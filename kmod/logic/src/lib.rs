//! carp-logic: what carp.ko decides, in safe Rust (`#![forbid(unsafe_code)]`), over the
//! safe interfaces of `carp-kpi` and the protocol core `carp-proto`. [`Carp`] implements
//! `carp_kpi::entry::Carp`, through which every C entry point reaches this crate (the
//! staticlib in kmod/src instantiates them with `carp_kpi::export_carp!`).
//!
//! No panics may survive optimisation: see carp-kpi's panic handler and tests/artifact.
//!
//! # Where things are
//!
//! Files, each depending only on those listed before it (no cycle; `make test` checks):
//!
//! - [`util`]: fallible vector edits and log addresses;
//! - [`cif`]: a parent's container (the core's `Table` and the bound addresses under one
//!   mutex, the multicast state) and [`cif::run`], the one place where inputs reach a
//!   `Table` and its outputs (events, packets, routes, the next deadline) are carried
//!   out;
//! - [`state`]: what the configuration lock guards ([`state::GLOBAL`]: the registrations
//!   made at load, every parent with its published container and promiscuous mode) and
//!   the current VNET's demotion and sysctl values;
//! - [`hooks`]: protocol 112 input, the data-plane hooks (forus, master, iamatch,
//!   iamatch6, macmatch6, get_vhid, linkstate) and the callout handler;
//! - [`config`]: the modern model: a parent's vhids, binding and unbinding addresses,
//!   creating and freeing parent containers;
//! - [`legacy`]: the classic model: `carpN` interfaces, their configuration and binding
//!   to a parent, ARP for their addresses;
//! - [`request`]: SIOCSVH/SIOCGVH, netlink GET/SET, carp_attach/carp_detach and the
//!   interface events, each routed to [`config`] or [`legacy`];
//! - [`module`]: load and unload (RAII registrations), sysctl policy, demotion
//!   adjustments, the send-all task;
//! - this file: [`Carp`], the table from the kernel's questions to the functions above.
//!
//! # Locking
//!
//! | lock | kind | protects | taken by |
//! |---|---|---|---|
//! | `carp_sx` (`carp_kpi::sync::ConfigGuard`) | sx, sleepable | `state::GLOBAL` and `legacy::CLONES`: the registrations and the list of parents (each a published container and its promiscuous mode) | SIOCSVH/SIOCGVH, netlink GET/SET, carp_attach/carp_detach, interface departure, the send-all task, the allow sysctl, VNET teardown, load/unload |
//! | `carp_if` (`cif::CifData::inner`) | mtx, one per parent | the core's `Table` (every vhid of the parent, their timers and counters) and the parent's bound addresses | everything that reads or changes vhid state, including `carp_forus`, which runs under the bridge lock and therefore takes only this lock |
//! | network epoch | epoch (preemptible) | `ifp->if_carp`, the containers, the multicast options | every hook and callout reads under it; containers and multicast state are unpublished, then `NET_EPOCH_WAIT`, then freed |
//!
//! Order: `carp_sx` → network epoch → `carp_if`. Nothing sleeps while holding `carp_if`, and
//! nothing that may re-enter a hook (ip_output, ARP/NA, route changes, log, devctl) runs
//! while holding it: [`cif::run`] collects the core's outputs under the lock and carries
//! them out after releasing it. FreeBSD uses one mutex per vhid plus one per parent; here
//! the parent's mutex holds the whole table (the core's lookups are O(1)), which gives
//! `carp_forus` the same guarantee with one lock fewer.
//!
//! Callouts: one per parent container (owned by `carp_kpi::container::Container`), MPSAFE
//! (no associated lock), re-armed to the table's earliest deadline after every drain; the
//! handler enters the network epoch, sets the parent's VNET and calls [`cif::run`]. A
//! container's callout is stopped for good and drained before the container is freed,
//! after it was unpublished and the epoch waited for (`carp_kpi::container::Published`).
//!
//! Unload: netlink and protocol 112 are unregistered and the hooks cleared first, then the
//! epoch is waited for and the threads still inside a sleepable hook (counted by
//! `carp_kpi::net::InFlight`) are waited for, then every container is released.
#![no_std]
#![feature(allocator_api)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use core::net::Ipv6Addr;

use carp_kpi::clone::{ArpAnswer, CloneIoctl};
use carp_kpi::entry::{ARP_FRAME_LEN, ARP_REPLY_LEN};
use carp_kpi::ifnet::{Ifaddr, Ifnet};
use carp_kpi::net::Epoch;
use carp_kpi::req::{Ifreq, Mbuf, NlRequest, Thread};
use carp_proto::Errno;

pub mod cif;
pub mod config;
pub mod hooks;
pub mod legacy;
pub mod module;
pub mod request;
pub mod state;
pub mod util;

/// carp.ko's answer to everything the kernel asks (see `carp_kpi::entry::Carp`).
pub enum Carp {}

impl carp_kpi::entry::Carp for Carp {
    type Container = cif::CifData;

    fn load() -> Result<(), Errno> {
        module::load()
    }
    fn unload() -> Result<(), Errno> {
        module::unload()
    }
    fn allow_changed(old: bool, new: bool) -> Result<(), Errno> {
        module::allow_changed(old, new)
    }
    fn dscp_check(v: i32) -> Result<(), Errno> {
        module::dscp_check(v)
    }
    fn demotion() -> i32 {
        state::demotion().value()
    }
    fn suppress_preempt() -> u32 {
        state::demotion().suppress_preempt()
    }
    fn ioctl(ifr: &Ifreq<'_>, cmd: u64, td: Thread<'_>) -> Result<(), Errno> {
        request::ioctl(ifr, cmd, td)
    }
    fn attach(ifa: Ifaddr<'_>, vhid: i32) -> Result<(), Errno> {
        request::attach(ifa, vhid)
    }
    fn detach(ifa: Ifaddr<'_>, keep_cif: bool) {
        request::detach(ifa, keep_cif);
    }
    fn linkstate(ifp: Ifnet<'_>, e: &Epoch) {
        hooks::linkstate(ifp, e);
    }
    fn demote_adj(adj: i32, reason: &str) {
        module::demote_adj(adj, reason);
    }
    fn master(ifa: Ifaddr<'_>, e: &Epoch) -> bool {
        hooks::master(ifa, e)
    }
    fn forus(ifp: Ifnet<'_>, mac: &[u8; 6], e: &Epoch) -> bool {
        hooks::forus(ifp, mac, e)
    }
    fn get_vhid(ifa: Ifaddr<'_>, e: &Epoch) -> i32 {
        hooks::get_vhid(ifa, e)
    }
    fn iamatch(ifa: Ifaddr<'_>, e: &Epoch) -> i32 {
        hooks::iamatch(ifa, e)
    }
    fn iamatch6(ifp: Ifnet<'_>, a: Ipv6Addr, e: &Epoch) -> i32 {
        hooks::iamatch6(ifp, a, e)
    }
    fn macmatch6(ifp: Ifnet<'_>, a: Ipv6Addr, e: &Epoch) -> i32 {
        hooks::macmatch6(ifp, a, e)
    }
    fn input(m: Mbuf, v6: bool, off: usize, e: &Epoch) {
        hooks::input(m, v6, off, e);
    }
    fn sendall() {
        module::sendall();
    }
    fn nl_get(r: &NlRequest<'_>) -> Result<(), Errno> {
        request::nl_get(r)
    }
    fn nl_set(r: &NlRequest<'_>) -> Result<(), Errno> {
        request::nl_set(r)
    }
    fn ifdetach(ifp: Ifnet<'_>) {
        request::ifdetach(ifp);
    }
    fn ifup(ifp: Ifnet<'_>) {
        request::ifup(ifp);
    }
    fn ifrename(ifp: Ifnet<'_>) {
        request::ifrename(ifp);
    }
    fn ifaddr_added(_ifp: Ifnet<'_>) {
        legacy::rebind_unbound();
    }
    fn clone_addr6_added(ifp: Ifnet<'_>, ifa: Ifaddr<'_>) {
        legacy::clone_addr6_added(ifp, ifa);
    }
    fn clone_addr6_removed(ifa: Ifaddr<'_>) {
        legacy::clone_addr6_removed(ifa);
    }
    fn clone_output_vhid(carp: Ifnet<'_>, parent: Ifnet<'_>, e: &Epoch) -> u8 {
        legacy::output_vhid(carp, parent, e)
    }
    fn arp_input(ifp: Ifnet<'_>, frame: &[u8; ARP_FRAME_LEN], reply: &mut [u8; ARP_REPLY_LEN], e: &Epoch) -> ArpAnswer {
        legacy::arp_input(ifp, frame, reply, e)
    }
    fn clone_created(ifp: Ifnet<'_>) -> Result<(), Errno> {
        legacy::clone_created(ifp)
    }
    fn clone_destroyed(ifp: Ifnet<'_>) {
        legacy::clone_destroyed(ifp);
    }
    fn clone_ioctl(ifp: Ifnet<'_>, kind: CloneIoctl, ifa: Option<Ifaddr<'_>>) -> Result<(), Errno> {
        legacy::clone_ioctl(ifp, kind, ifa)
    }
}

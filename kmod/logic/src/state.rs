//! Module-wide state: what the configuration lock protects ([`GLOBAL`]: the registrations
//! made at load and every parent with vhids), and the current VNET's demotion and sysctl
//! values.
//!
//! Demotion: one accumulator per VNET, in the shim's VNET storage, shared by the VNET's
//! vhids.

use alloc::vec::Vec;

use carp_proto::demotion::Demotion;
use carp_proto::Sysctls;

use carp_kpi::container::Published;
use carp_kpi::ifnet::Promisc;
use carp_kpi::net::{self, Hooks, IfDeparture, Netlink, Proto4, Proto6};
use carp_kpi::sync::ConfigCell;

/// The current VNET's demotion accumulator (`net.inet.carp.demotion`), shared by every
/// vhid of the VNET.
pub fn demotion() -> Demotion {
    Demotion::from_static(carp_kpi::vnet::demotion_state())
}

/// Registrations made at load; dropped (in field order) at unload.
pub struct Loaded {
    /// The cloner "carp" and the ARP pfil hook, in every VNET. First, so dropped first:
    /// destroys every carpN before anything else goes.
    pub pervnet: carp_kpi::clone::PerVnet,
    /// The interface departure, arrival, event and address handlers.
    pub ifdeparture: IfDeparture,
    /// The generic netlink family "carp".
    pub netlink: Netlink,
    /// Protocol 112 over IPv4.
    pub proto4: Proto4,
    /// Protocol 112 over IPv6.
    pub proto6: Proto6,
    /// The kernel's carp_*_p hooks.
    pub hooks: Hooks,
}

/// One parent interface with vhids. Dropping it unpublishes and frees the container
/// (after an epoch wait, with its callout drained), then leaves promiscuous mode.
pub struct Parent {
    /// The published container.
    pub link: Published<crate::cif::CifData>,
    /// Promiscuous mode on the parent (None if the driver refused).
    pub _promisc: Option<Promisc>,
}

/// Everything the configuration lock protects.
pub struct Global {
    /// Registrations, while loaded.
    pub loaded: Option<Loaded>,
    /// Every parent with vhids (all VNETs).
    pub parents: Vec<Parent>,
}

impl Global {
    /// Where `ifp`'s container is in [`Global::parents`], if it has one.
    pub fn parent_index(&self, ifp: &carp_kpi::ifnet::Ifnet<'_>) -> Option<usize> {
        self.parents.iter().position(|p| p.link.ifp().same(ifp))
    }

    /// `ifp`'s container, if it has one.
    pub fn parent(&self, ifp: &carp_kpi::ifnet::Ifnet<'_>) -> Option<&Parent> {
        self.parents.iter().find(|p| p.link.ifp().same(ifp))
    }
}

/// Module-wide state, under the configuration lock.
pub static GLOBAL: ConfigCell<Global> = ConfigCell::new(Global { loaded: None, parents: Vec::new() });

/// The current VNET's sysctl values with the live demotion.
pub fn sysctls() -> Sysctls {
    let mut s = net::sysctls();
    s.demotion = demotion().value();
    s
}

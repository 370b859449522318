//! What a vhid asks its caller to put on the wire or install in the routing table.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::auth::MD_LEN;
use crate::types::{virtual_mac, Family, CARP_GROUP_V4, CARP_GROUP_V6};
use crate::wire;

/// A CARP v2 advertisement, with every field the wire needs (reference A.1, A.4).
///
/// The caller builds the 36-byte header (version 2, type 1, `authlen` 7, reserved 0,
/// checksum over the header), the IP header (TTL/hop limit 255, DSCP from the sysctl, DF,
/// protocol 112, source = the parent's preferred address of `family`, destination `dst`)
/// and, when [`CarpTransmit::tag_virtual_mac`] is set, sends the frame with the virtual MAC
/// as Ethernet source (FreeBSD's `PACKET_TAG_CARP`); unicast-peer adverts use the physical
/// MAC. It then reports the outcome with `Vhid::handle_send_result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarpTransmit {
    pub family: Family,
    /// 224.0.0.18 / ff02::12 or the configured unicast peer.
    pub dst: IpAddr,
    pub vhid: u8,
    pub advbase: u8,
    /// Effective (demoted, clamped 0..=240) skew.
    pub advskew: u8,
    pub counter: u64,
    pub md: [u8; MD_LEN],
}

impl CarpTransmit {
    /// Multicast destinations get the virtual MAC as source; unicast peers do not.
    /// Multicast-ness is a property of the address value (host order, PR 284872).
    pub fn tag_virtual_mac(&self) -> bool {
        self.dst.is_multicast()
    }

    /// The Ethernet source to use when tagged.
    pub fn virtual_mac(&self) -> [u8; 6] {
        virtual_mac(self.vhid)
    }

    /// The CARP header to emit (authlen 7).
    pub fn repr(&self) -> wire::carp::Repr {
        wire::carp::Repr::new(self.vhid, self.advbase, self.advskew, self.counter, self.md)
    }

    /// Write the whole IP packet (IPv4: 56 bytes, IPv6: 76 bytes) into `buf`: source `src`
    /// (the parent's preferred address of this family), DSCP from the sysctl, IPv4
    /// identification `ident` (ignored for IPv6). `Err` if `src` is of the other family or
    /// `buf` is too short.
    pub fn emit(&self, buf: &mut [u8], src: IpAddr, dscp: u8, ident: u16) -> wire::Result<usize> {
        match (src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => wire::carp::emit_ipv4(buf, s, d, dscp, ident, &self.repr()),
            (IpAddr::V6(s), IpAddr::V6(d)) => wire::carp::emit_ipv6(buf, s, d, dscp, &self.repr()),
            _ => Err(wire::Error),
        }
    }
}

/// The address list carried by a VRRPv3 advertisement (the vhid's addresses of that family).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpAddresses<'a> {
    V4(&'a [Ipv4Addr]),
    V6(&'a [Ipv6Addr]),
}

impl VrrpAddresses<'_> {
    /// Number of addresses (the header's count byte is this, truncated to 255 by the wire).
    pub fn len(&self) -> usize {
        match self {
            VrrpAddresses::V4(a) => a.len(),
            VrrpAddresses::V6(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A VRRPv3 advertisement (reference A.7): always to 224.0.0.18 / ff02::12, always with the
/// virtual MAC `00:00:5e:00:01:<vrid>` as source (both families), no authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrrpTransmit<'a> {
    pub family: Family,
    pub vrid: u8,
    pub priority: u8,
    /// Max Adver Int in centiseconds (our configured advertisement interval).
    pub max_adver_int_cs: u16,
    pub addresses: VrrpAddresses<'a>,
}

impl VrrpTransmit<'_> {
    /// Destination group of this family.
    pub fn dst(&self) -> IpAddr {
        match self.family {
            Family::Inet => IpAddr::V4(CARP_GROUP_V4),
            Family::Inet6 => IpAddr::V6(CARP_GROUP_V6),
        }
    }

    /// Always tagged with the virtual MAC.
    pub fn tag_virtual_mac(&self) -> bool {
        true
    }

    pub fn virtual_mac(&self) -> [u8; 6] {
        virtual_mac(self.vrid)
    }

    /// The VRRPv3 header and address list to emit.
    pub fn repr(&self) -> wire::vrrp::Repr<'_> {
        wire::vrrp::Repr {
            vrid: self.vrid,
            priority: self.priority,
            max_adver_int_cs: self.max_adver_int_cs,
            addresses: match self.addresses {
                VrrpAddresses::V4(a) => wire::vrrp::Addresses::Ipv4(a),
                VrrpAddresses::V6(a) => wire::vrrp::Addresses::Ipv6(a),
            },
        }
    }

    /// Write the whole IP packet into `buf` (checksum over the pseudo-header included).
    /// `Err` if `src` is of the other family, there are more than 255 addresses or `buf` is
    /// too short.
    pub fn emit(&self, buf: &mut [u8], src: IpAddr, dscp: u8, ident: u16) -> wire::Result<usize> {
        match (src, self.dst()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => wire::vrrp::emit_ipv4(buf, s, d, dscp, ident, &self.repr()),
            (IpAddr::V6(s), IpAddr::V6(d)) => wire::vrrp::emit_ipv6(buf, s, d, dscp, &self.repr()),
            _ => Err(wire::Error),
        }
    }
}

/// A packet to send, handed out by `Vhid::poll_transmit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit<'a> {
    /// A CARP advertisement.
    Carp(CarpTransmit),
    /// A VRRPv3 advertisement.
    Vrrp(VrrpTransmit<'a>),
    /// A gratuitous ARP request announcing `addr` at `mac` (the virtual MAC), on takeover
    /// (`arp_announce_ifaddr(parent, addr, mac)`).
    GratuitousArp { addr: Ipv4Addr, mac: [u8; 6] },
    /// An unsolicited neighbor advertisement for `addr` to ff02::1 with the Override flag and
    /// a target link-layer option carrying `mac` (the virtual MAC), on takeover. FreeBSD
    /// busy-waits 1 ms between two; pacing is the caller's choice.
    NeighborAdvert { addr: Ipv6Addr, mac: [u8; 6] },
}

impl Transmit<'_> {
    /// The advertisement's family, for `Vhid::handle_send_result` (`None` for ARP/NA).
    pub fn advert_family(&self) -> Option<Family> {
        match self {
            Transmit::Carp(c) => Some(c.family),
            Transmit::Vrrp(v) => Some(v.family),
            Transmit::GratuitousArp { .. } | Transmit::NeighborAdvert { .. } => None,
        }
    }
}

/// A routing-table action for every address of the vhid, handed out by `Vhid::poll_route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteOp {
    /// On becoming MASTER: IPv4 `in_addprefix` + `ifa_add_loopback_route`; IPv6
    /// `ifa_add_loopback_route` + `nd6_add_ifa_lle`.
    Add,
    /// On leaving MASTER: IPv4 `ifa_del_loopback_route` + `in_scrubprefix(LLE_STATIC)`;
    /// IPv6 `ifa_del_loopback_route` + `nd6_rem_ifa_lle`.
    Delete,
}

/// Outcome of sending one advertisement, reported with `Vhid::handle_send_result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendResult {
    /// `ip_output`/`ip6_output` returned 0.
    Sent,
    /// `ip_output`/`ip6_output` returned this errno.
    Error(i32),
    /// No mbuf or tag could be allocated: the packet was not handed to the stack
    /// (`carps_onomem`; not a send error).
    NoMemory,
}

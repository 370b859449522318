//! Turning the core's `Transmit`s into bytes (with carp-proto's `wire` builders) and
//! putting them on the wire: multicast adverts, gratuitous ARP and NAs as whole Ethernet
//! frames on the AF_PACKET socket (virtual MAC as source when the core says so), unicast
//! adverts as IP packets on a raw IP socket so that the kernel resolves the peer's MAC
//! (FreeBSD sends them from the physical MAC too).

use carp_proto::vhid::{Transmit, VrrpAddresses};
use carp_proto::wire::{arp, carp, ethernet, ndp, vrrp};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Built {
    pub len: usize,
    /// `Some(dst)`: an IP packet (no Ethernet header) for a unicast destination.
    pub unicast: Option<IpAddr>,
}

fn eth(buf: &mut [u8], src: [u8; 6], dst: [u8; 6], ty: ethernet::EtherType) -> Result<&mut [u8], String> {
    let repr = ethernet::Repr { src_addr: src, dst_addr: dst, ethertype: ty };
    ethernet::emit_header(buf, &repr).map_err(|e| e.to_string())
}

/// Build the frame (or unicast IP packet) for one transmit request.
pub fn build(
    t: &Transmit<'_>,
    buf: &mut [u8],
    hwaddr: [u8; 6],
    src4: Option<Ipv4Addr>,
    src6: Option<Ipv6Addr>,
    dscp: u8,
    ident: u16,
) -> Result<Built, String> {
    match t {
        Transmit::Carp(c) => {
            let repr = carp::Repr::new(c.vhid, c.advbase, c.advskew, c.counter, c.md);
            let smac = if c.tag_virtual_mac() { c.virtual_mac() } else { hwaddr };
            match c.dst {
                IpAddr::V4(dst) => {
                    let src = src4.unwrap_or(Ipv4Addr::UNSPECIFIED);
                    if dst.is_multicast() {
                        let rest = eth(buf, smac, ethernet::ipv4_multicast_mac(dst), ethernet::EtherType::Ipv4)?;
                        let n = carp::emit_ipv4(rest, src, dst, dscp, ident, &repr).map_err(|e| e.to_string())?;
                        Ok(Built { len: ethernet::HEADER_LEN + n, unicast: None })
                    } else {
                        let n = carp::emit_ipv4(buf, src, dst, dscp, ident, &repr).map_err(|e| e.to_string())?;
                        Ok(Built { len: n, unicast: Some(IpAddr::V4(dst)) })
                    }
                }
                IpAddr::V6(dst) => {
                    let src = src6.unwrap_or(Ipv6Addr::UNSPECIFIED);
                    if dst.is_multicast() {
                        let rest = eth(buf, smac, ethernet::ipv6_multicast_mac(dst), ethernet::EtherType::Ipv6)?;
                        let n = carp::emit_ipv6(rest, src, dst, dscp, &repr).map_err(|e| e.to_string())?;
                        Ok(Built { len: ethernet::HEADER_LEN + n, unicast: None })
                    } else {
                        let n = carp::emit_ipv6(buf, src, dst, dscp, &repr).map_err(|e| e.to_string())?;
                        Ok(Built { len: n, unicast: Some(IpAddr::V6(dst)) })
                    }
                }
            }
        }
        Transmit::Vrrp(v) => {
            let smac = v.virtual_mac();
            let addrs = match v.addresses {
                VrrpAddresses::V4(a) => vrrp::Addresses::Ipv4(a),
                VrrpAddresses::V6(a) => vrrp::Addresses::Ipv6(a),
            };
            let repr = vrrp::Repr { vrid: v.vrid, priority: v.priority, max_adver_int_cs: v.max_adver_int_cs, addresses: addrs };
            match v.dst() {
                IpAddr::V4(dst) => {
                    let src = src4.unwrap_or(Ipv4Addr::UNSPECIFIED);
                    let rest = eth(buf, smac, ethernet::ipv4_multicast_mac(dst), ethernet::EtherType::Ipv4)?;
                    let n = vrrp::emit_ipv4(rest, src, dst, dscp, ident, &repr).map_err(|e| e.to_string())?;
                    Ok(Built { len: ethernet::HEADER_LEN + n, unicast: None })
                }
                IpAddr::V6(dst) => {
                    let src = src6.unwrap_or(Ipv6Addr::UNSPECIFIED);
                    let rest = eth(buf, smac, ethernet::ipv6_multicast_mac(dst), ethernet::EtherType::Ipv6)?;
                    let n = vrrp::emit_ipv6(rest, src, dst, dscp, &repr).map_err(|e| e.to_string())?;
                    Ok(Built { len: ethernet::HEADER_LEN + n, unicast: None })
                }
            }
        }
        Transmit::GratuitousArp { addr, mac } => {
            // FreeBSD's arp_announce_ifaddr: a broadcast request, spa = tpa = addr, sha = the
            // virtual MAC; the frame itself leaves from the parent's MAC.
            let r = arp::Repr::gratuitous(*mac, *addr);
            let n = arp::emit_frame(buf, hwaddr, ethernet::BROADCAST, &r).map_err(|e| e.to_string())?;
            Ok(Built { len: pad(buf, n), unicast: None })
        }
        Transmit::NeighborAdvert { addr, mac } => {
            let src = src6.unwrap_or(Ipv6Addr::UNSPECIFIED);
            let dst = carp_proto::wire::ipv6::LINK_LOCAL_ALL_NODES;
            let rest = eth(buf, *mac, ethernet::ipv6_multicast_mac(dst), ethernet::EtherType::Ipv6)?;
            let n = ndp::emit_unsolicited_na(rest, src, *addr, *mac, false).map_err(|e| e.to_string())?;
            Ok(Built { len: ethernet::HEADER_LEN + n, unicast: None })
        }
    }
}

/// Ethernet minimum frame size (without FCS): short frames are zero-padded.
pub fn pad(buf: &mut [u8], n: usize) -> usize {
    const MIN: usize = 60;
    if n >= MIN || buf.len() < MIN {
        return n;
    }
    buf[n..MIN].fill(0);
    MIN
}

/// A raw IP socket for sending complete IP packets to unicast peers (IP_HDRINCL /
/// IPV6_HDRINCL): the kernel routes them and resolves the neighbour.
pub fn open_raw(v6: bool) -> io::Result<OwnedFd> {
    let (af, level, opt) = if v6 {
        (libc::AF_INET6, libc::IPPROTO_IPV6, 36 /* IPV6_HDRINCL */)
    } else {
        (libc::AF_INET, libc::IPPROTO_IP, libc::IP_HDRINCL)
    };
    // SAFETY: plain socket calls; the fd is owned right away.
    unsafe {
        let fd = libc::socket(af, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        );
        Ok(fd)
    }
}

pub fn send_raw(raw4: Option<&OwnedFd>, raw6: Option<&OwnedFd>, pkt: &[u8], dst: IpAddr) -> io::Result<()> {
    let r = match dst {
        IpAddr::V4(d) => {
            let fd = raw4.ok_or_else(|| io::Error::other("no raw IPv4 socket"))?;
            let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as u16;
            sin.sin_addr.s_addr = u32::from(d).to_be();
            // SAFETY: valid buffer and sockaddr.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    pkt.as_ptr() as *const libc::c_void,
                    pkt.len(),
                    0,
                    &sin as *const libc::sockaddr_in as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                )
            }
        }
        IpAddr::V6(d) => {
            let fd = raw6.ok_or_else(|| io::Error::other("no raw IPv6 socket"))?;
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as u16;
            sin6.sin6_addr.s6_addr = d.octets();
            // SAFETY: valid buffer and sockaddr.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    pkt.as_ptr() as *const libc::c_void,
                    pkt.len(),
                    0,
                    &sin6 as *const libc::sockaddr_in6 as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                )
            }
        }
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

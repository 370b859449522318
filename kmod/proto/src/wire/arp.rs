//! ARP for Ethernet and IPv4 (RFC 826): request, reply, gratuitous ARP.
//!
//! ```text
//!  0       2       4    5    6       8       14      18      24      28
//! +-------+-------+----+----+-------+-------+-------+-------+-------+
//! | htype | ptype |hlen|plen|  oper |  sha  |  spa  |  tha  |  tpa  |
//! +-------+-------+----+----+-------+-------+-------+-------+-------+
//!    1    0x0800    6    4   1 / 2
//! ```
//!
//! Only the Ethernet/IPv4 shape exists here: [`Packet::check_len`] requires 28 bytes and
//! [`Repr::parse`] requires htype 1, ptype 0x0800, hlen 6, plen 4.
//!
//! CARP uses ARP three ways (FreeBSD 15):
//! - on becoming MASTER it broadcasts a *gratuitous ARP* for every IPv4 address of the
//!   vhid: an ARP **request** with spa = tpa = the address, sha = the virtual MAC, tha
//!   zero, to ff:ff:ff:ff:ff:ff ([`Repr::gratuitous`]);
//! - a MASTER answers requests for its addresses with sha = the virtual MAC
//!   ([`Repr::reply_to`]); a BACKUP never answers;
//! - with `net.inet.carp.arpbalance` the request's sender address picks the vhid.

use core::net::Ipv4Addr;

use super::ethernet::{self, EtherType, EthernetAddress};
use super::{bytes, Error, Field, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// Length of an Ethernet frame carrying ARP (14 + 28, before any padding to 60).
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;

/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// Protocol type IPv4.
pub const PTYPE_IPV4: u16 = 0x0800;

/// ARP operation. Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// 1
    Request,
    /// 2
    Reply,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Operation {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(v: Operation) -> u16 {
        match v {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

mod field {
    use super::Field;

    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// A read/write view of an Ethernet/IPv4 ARP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer, checking it with [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Ok` if the buffer holds 28 bytes (trailing padding is allowed).
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 = Ethernet).
    pub fn hardware_type(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 = IPv4).
    pub fn protocol_type(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::HLEN)
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::PLEN)
    }

    /// Operation.
    pub fn operation(&self) -> Operation {
        Operation::from(bytes::u16_at(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        bytes::array(self.buffer.as_ref(), field::SHA.start)
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(self.buffer.as_ref(), field::SPA.start))
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        bytes::array(self.buffer.as_ref(), field::THA.start)
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(self.buffer.as_ref(), field::TPA.start))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Set the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Set the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::HLEN, value);
    }

    /// Set the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::PLEN, value);
    }

    /// Set the operation.
    pub fn set_operation(&mut self, value: Operation) {
        bytes::set_u16_at(self.buffer.as_mut(), field::OPER, value.into());
    }

    /// Set the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, value: EthernetAddress) {
        bytes::set_bytes(self.buffer.as_mut(), field::SHA.start, &value);
    }

    /// Set the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, value: Ipv4Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::SPA.start, &value.octets());
    }

    /// Set the target hardware address.
    pub fn set_target_hardware_addr(&mut self, value: EthernetAddress) {
        bytes::set_bytes(self.buffer.as_mut(), field::THA.start, &value);
    }

    /// Set the target protocol address.
    pub fn set_target_protocol_addr(&mut self, value: Ipv4Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::TPA.start, &value.octets());
    }
}

/// A validated Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub operation: Operation,
    pub source_hardware_addr: EthernetAddress,
    pub source_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: EthernetAddress,
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    /// A request "who has `tpa`? tell `spa`" (tha zero).
    pub const fn request(sha: EthernetAddress, spa: Ipv4Addr, tpa: Ipv4Addr) -> Repr {
        Repr {
            operation: Operation::Request,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: [0; 6],
            target_protocol_addr: tpa,
        }
    }

    /// A reply "`spa` is at `sha`" to (`tha`, `tpa`).
    pub const fn reply(
        sha: EthernetAddress,
        spa: Ipv4Addr,
        tha: EthernetAddress,
        tpa: Ipv4Addr,
    ) -> Repr {
        Repr {
            operation: Operation::Reply,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: tha,
            target_protocol_addr: tpa,
        }
    }

    /// FreeBSD's gratuitous ARP on takeover (`arp_announce_ifaddr` -> `arprequest`): a
    /// request with spa = tpa = `addr`, sha = `mac` (the virtual MAC), tha zero. Send it to
    /// [`ethernet::BROADCAST`].
    pub const fn gratuitous(mac: EthernetAddress, addr: Ipv4Addr) -> Repr {
        Repr::request(mac, addr, addr)
    }

    /// Whether this announces its own address (spa == tpa), as a request or a reply.
    pub fn is_gratuitous(&self) -> bool {
        self.source_protocol_addr == self.target_protocol_addr
    }

    /// The reply that answers this request with `mac` as the owner of the requested
    /// address: sha = `mac`, spa = the request's tpa, tha/tpa = the requester. `None` if
    /// this is not a request, or is a gratuitous one (nobody answers an announcement).
    pub fn reply_to(&self, mac: EthernetAddress) -> Option<Repr> {
        if self.operation != Operation::Request || self.is_gratuitous() {
            return None;
        }
        Some(Repr::reply(
            mac,
            self.target_protocol_addr,
            self.source_hardware_addr,
            self.source_protocol_addr,
        ))
    }

    /// Parse: htype Ethernet, ptype IPv4, hlen 6, plen 4. Any operation is accepted (and
    /// kept); [`Operation::Unknown`] is for the caller to ignore.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != PTYPE_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error);
        }
        Ok(Repr {
            operation: packet.operation(),
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Bytes `emit` writes: [`PACKET_LEN`].
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Write the packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(PTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(self.source_hardware_addr);
        packet.set_source_protocol_addr(self.source_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
    }
}

/// Write an Ethernet frame carrying `arp`:
///
/// ```text
/// [0..14)  Ethernet: eth_dst, eth_src, type 0x0806
/// [14..42) ARP packet
/// ```
///
/// For FreeBSD's gratuitous ARP, `eth_dst` is [`ethernet::BROADCAST`] and `eth_src` the
/// parent's MAC (the virtual MAC is in the ARP sender field). Returns the bytes written
/// ([`FRAME_LEN`] = 42; pad to 60 yourself if the link does not); `Err` if `buf` is shorter.
pub fn emit_frame(
    buf: &mut [u8],
    eth_src: EthernetAddress,
    eth_dst: EthernetAddress,
    arp: &Repr,
) -> Result<usize> {
    let eth = ethernet::Repr {
        src_addr: eth_src,
        dst_addr: eth_dst,
        ethertype: EtherType::Arp,
    };
    let rest = ethernet::emit_header(buf, &eth)?;
    let body = rest.get_mut(..PACKET_LEN).ok_or(Error)?;
    arp.emit(&mut Packet::new_unchecked(body));
    Ok(FRAME_LEN)
}

/// Parse an Ethernet frame carrying ARP: its Ethernet header and the ARP packet. `Err` if
/// the EtherType is not ARP or the ARP packet does not parse.
pub fn parse_frame(frame: &[u8]) -> Result<(ethernet::Repr, Repr)> {
    let f = ethernet::Frame::new_checked(frame)?;
    let eth = ethernet::Repr::parse(&f)?;
    if eth.ethertype != EtherType::Arp {
        return Err(Error);
    }
    let arp = Repr::parse(&Packet::new_checked(f.payload())?)?;
    Ok((eth, arp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UCARP_MAC: EthernetAddress = [0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7];
    const PEER_MAC: EthernetAddress = [0x8e, 0xa5, 0x60, 0xc1, 0xe9, 0x15];
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
    const NODE1: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const NODE2: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

    // Frames 6 and 8 of ucarp-vhid42.pcapng: "who has 10.99.0.1? tell 10.99.0.2" and
    // "10.99.0.1 is at 22:95:63:9c:94:a7".
    #[rustfmt::skip]
    static REQUEST_FRAME: [u8; 42] = [
        0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, // eth dst
        0x8e, 0xa5, 0x60, 0xc1, 0xe9, 0x15, // eth src
        0x08, 0x06, // EtherType ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, oper
        0x8e, 0xa5, 0x60, 0xc1, 0xe9, 0x15, // sha
        0x0a, 0x63, 0x00, 0x02, // spa
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tha
        0x0a, 0x63, 0x00, 0x01, // tpa
    ];
    #[rustfmt::skip]
    static REPLY_FRAME: [u8; 42] = [
        0x8e, 0xa5, 0x60, 0xc1, 0xe9, 0x15, // eth dst
        0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, // eth src
        0x08, 0x06, // EtherType ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, // htype, ptype, hlen, plen, oper
        0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, // sha
        0x0a, 0x63, 0x00, 0x01, // spa
        0x8e, 0xa5, 0x60, 0xc1, 0xe9, 0x15, // tha
        0x0a, 0x63, 0x00, 0x02, // tpa
    ];
    // Frame 3: ucarp's gratuitous ARP for 10.99.0.100 (ucarp puts its MAC in tha too).
    #[rustfmt::skip]
    static UCARP_GARP_FRAME: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // eth dst
        0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, // eth src
        0x08, 0x06, // EtherType ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, oper
        0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, // sha
        0x0a, 0x63, 0x00, 0x64, // spa
        0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, // tha
        0x0a, 0x63, 0x00, 0x64, // tpa
    ];

    #[test]
    fn deconstruct_request() {
        let p = Packet::new_checked(&REQUEST_FRAME[14..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!(p.hardware_len(), 6);
        assert_eq!(p.protocol_len(), 4);
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(p.source_hardware_addr(), PEER_MAC);
        assert_eq!(p.source_protocol_addr(), NODE2);
        assert_eq!(p.target_hardware_addr(), [0; 6]);
        assert_eq!(p.target_protocol_addr(), NODE1);
    }

    #[test]
    fn construct_reply() {
        let mut b = [0u8; 28];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_hardware_type(1);
        p.set_protocol_type(0x0800);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(Operation::Reply);
        p.set_source_hardware_addr(UCARP_MAC);
        p.set_source_protocol_addr(NODE1);
        p.set_target_hardware_addr(PEER_MAC);
        p.set_target_protocol_addr(NODE2);
        assert_eq!(b[..], REPLY_FRAME[14..]);
    }

    #[test]
    fn parse_frames() {
        let (eth, req) = parse_frame(&REQUEST_FRAME).unwrap();
        assert_eq!(eth.src_addr, PEER_MAC);
        assert_eq!(req, Repr::request(PEER_MAC, NODE2, NODE1));
        assert!(!req.is_gratuitous());
        let (_, rep) = parse_frame(&REPLY_FRAME).unwrap();
        assert_eq!(rep, Repr::reply(UCARP_MAC, NODE1, PEER_MAC, NODE2));
        let (eth, garp) = parse_frame(&UCARP_GARP_FRAME).unwrap();
        assert_eq!(eth.dst_addr, ethernet::BROADCAST);
        assert!(garp.is_gratuitous());
        assert_eq!(garp.operation, Operation::Request);
        assert_eq!(garp.reply_to(PEER_MAC), None);
    }

    #[test]
    fn answer_request_reproduces_real_reply() {
        let (eth, req) = parse_frame(&REQUEST_FRAME).unwrap();
        let reply = req.reply_to(UCARP_MAC).unwrap();
        let mut out = [0u8; 60];
        let n = emit_frame(&mut out, UCARP_MAC, eth.src_addr, &reply).unwrap();
        assert_eq!(n, 42);
        assert_eq!(out[..42], REPLY_FRAME);
        assert_eq!(reply.reply_to(UCARP_MAC), None);
    }

    #[test]
    fn freebsd_gratuitous_arp() {
        let vmac = crate::types::virtual_mac(42);
        let g = Repr::gratuitous(vmac, VIP);
        let mut out = [0u8; 42];
        assert_eq!(
            emit_frame(&mut out, UCARP_MAC, ethernet::BROADCAST, &g).unwrap(),
            42
        );
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x22, 0x95, 0x63, 0x9c, 0x94, 0xa7, 0x08,
            0x06, // eth
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // request
            0x00, 0x00, 0x5e, 0x00, 0x01, 0x2a, 0x0a, 0x63, 0x00,
            0x64, // sha = vmac, spa = VIP
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x63, 0x00, 0x64, // tha = 0, tpa = VIP
        ];
        assert_eq!(out, expected);
        assert_eq!(parse_frame(&out).unwrap().1, g);
        assert_eq!(
            emit_frame(&mut out[..41], UCARP_MAC, ethernet::BROADCAST, &g),
            Err(Error)
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(Packet::new_checked(&REQUEST_FRAME[14..41]), Err(Error));
        let mut b = REQUEST_FRAME;
        b[18] = 8; // hlen
        assert_eq!(parse_frame(&b), Err(Error));
        let mut b = REQUEST_FRAME;
        b[17] = 0xdd; // ptype 0x08dd
        assert_eq!(parse_frame(&b), Err(Error));
        let mut b = REQUEST_FRAME;
        b[13] = 0x00; // EtherType IPv4
        assert_eq!(parse_frame(&b), Err(Error));
        let mut b = REQUEST_FRAME;
        b[21] = 9; // unknown operation is kept
        let (_, r) = parse_frame(&b).unwrap();
        assert_eq!(r.operation, Operation::Unknown(9));
        assert_eq!(r.reply_to(UCARP_MAC), None);
        let mut out = [0u8; 28];
        r.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out[..], b[14..]);
    }
}

//! IPv6 fixed header (RFC 8200), as CARP, VRRPv3 and neighbor discovery send it.
//!
//! ```text
//!  0       4               12                              31
//! +-------+---------------+--------------------------------+
//! |version| traffic class |           flow label           |
//! +-------+---------------+-------+------------+-----------+
//! |        payload length         | next header| hop limit |
//! +-------------------------------+------------+-----------+
//! |                 source address (16 bytes)              |
//! +--------------------------------------------------------+
//! |              destination address (16 bytes)            |
//! +--------------------------------------------------------+
//! ```
//!
//! FreeBSD's CARP advertisement: traffic class `net.inet.carp.dscp << 2`, flow label 0,
//! payload length 36, next header 112, hop limit 255, destination ff02::12 or a unicast
//! peer. Extension headers are not parsed (FreeBSD's carp6_input assumes there are none).

use core::net::Ipv6Addr;

use super::bytes;
use super::{Error, Field, Result};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// IP version number.
pub const VERSION: u8 = 6;

/// All-nodes link-local multicast ff02::1 (destination of unsolicited NAs).
pub const LINK_LOCAL_ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The solicited-node multicast address of `addr` (ff02::1:ffXX:XXXX, RFC 4291).
pub const fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        ((o[14] as u16) << 8) | o[15] as u16,
    )
}

mod field {
    use super::Field;

    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// A read/write view of an IPv6 packet.
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

    /// `Ok` if the buffer holds the fixed header and the payload length fits in the buffer
    /// (trailing bytes are allowed and ignored by [`Packet::payload`]).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        let needed = HEADER_LEN
            .checked_add(usize::from(self.payload_len()))
            .ok_or(Error)?;
        if len < HEADER_LEN || len < needed {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word0(&self) -> u32 {
        bytes::u32_at(self.buffer.as_ref(), field::VER_TC_FLOW)
    }

    /// Version (6).
    pub fn version(&self) -> u8 {
        u8::try_from(self.word0() >> 28).unwrap_or(0)
    }

    /// Traffic class (DSCP << 2 | ECN).
    pub fn traffic_class(&self) -> u8 {
        u8::try_from((self.word0() >> 20) & 0xff).unwrap_or(0)
    }

    /// DSCP (traffic class >> 2).
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    /// Payload length.
    pub fn payload_len(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::LENGTH)
    }

    /// Next header (112 for CARP/VRRP, 58 for ICMPv6).
    pub fn next_header(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::NXT_HDR)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::HOP_LIMIT)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::array::<16>(
            self.buffer.as_ref(),
            field::SRC_ADDR.start,
        ))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::array::<16>(
            self.buffer.as_ref(),
            field::DST_ADDR.start,
        ))
    }

    /// The payload (`payload_len` bytes after the header; empty if inconsistent).
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN.saturating_add(usize::from(self.payload_len()));
        bytes::slice(self.buffer.as_ref(), HEADER_LEN..end)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_word0(&mut self, value: u32) {
        bytes::set_u32_at(self.buffer.as_mut(), field::VER_TC_FLOW, value);
    }

    /// Set the version (4 bits).
    pub fn set_version(&mut self, value: u8) {
        let w = (self.word0() & 0x0fff_ffff) | (u32::from(value & 0x0f) << 28);
        self.set_word0(w);
    }

    /// Set the traffic class.
    pub fn set_traffic_class(&mut self, value: u8) {
        let w = (self.word0() & 0xf00f_ffff) | (u32::from(value) << 20);
        self.set_word0(w);
    }

    /// Set the flow label (20 bits).
    pub fn set_flow_label(&mut self, value: u32) {
        let w = (self.word0() & 0xfff0_0000) | (value & 0x000f_ffff);
        self.set_word0(w);
    }

    /// Set the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Set the next header.
    pub fn set_next_header(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::NXT_HDR, value);
    }

    /// Set the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::HOP_LIMIT, value);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, value: Ipv6Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::SRC_ADDR.start, &value.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, value: Ipv6Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::DST_ADDR.start, &value.octets());
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN.saturating_add(usize::from(self.payload_len()));
        bytes::slice_mut(self.buffer.as_mut(), HEADER_LEN..end)
    }
}

/// The meaning of an IPv6 fixed header. ECN and flow label are not kept; `emit` writes 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    /// Next header (112 for CARP/VRRP, 58 for ICMPv6).
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
    /// DSCP, 0..=63 (traffic class is `dscp << 2`).
    pub dscp: u8,
}

impl Repr {
    /// Parse a fixed header: version 6 and `check_len`'s length rule.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != VERSION {
            return Err(Error);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            dscp: packet.dscp(),
        })
    }

    /// Bytes `emit` writes: [`HEADER_LEN`] (the payload is not included).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the fixed header. The payload length saturates at 65535.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_word0(0);
        packet.set_version(VERSION);
        packet.set_traffic_class((self.dscp & 0x3f) << 2);
        packet.set_payload_len(u16::try_from(self.payload_len).unwrap_or(u16::MAX));
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

/// Write an IPv6 header (hop limit 255, traffic class `dscp << 2`, flow label 0) with next
/// header `next_header` for a payload of `payload_len` bytes at the start of `buf`, and
/// return the rest of the buffer, which must hold the payload. `Err` if `buf` is shorter
/// than `40 + payload_len` or `payload_len` exceeds 65535.
pub fn emit_header(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    dscp: u8,
    next_header: u8,
    payload_len: usize,
) -> Result<&mut [u8]> {
    let total = payload_len.checked_add(HEADER_LEN).ok_or(Error)?;
    if u16::try_from(payload_len).is_err() || buf.len() < total {
        return Err(Error);
    }
    let (head, rest) = buf.split_at_mut(HEADER_LEN);
    let repr = Repr {
        src_addr: src,
        dst_addr: dst,
        next_header,
        payload_len,
        hop_limit: super::CARP_TTL,
        dscp,
    };
    repr.emit(&mut Packet::new_unchecked(head));
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A FreeBSD 15 style CARP advertisement header: DSCP 56 (traffic class 0xe0),
    // payload 36, next header 112, hop limit 255, fe80::1 -> ff02::12.
    #[rustfmt::skip]
    static HEADER: [u8; 40] = [
        0x6e, 0x00, 0x00, 0x00, 0x00, 0x24, 0x70, 0xff, // ver/tc/flow, payload length, next header, hop limit
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, // dst
    ];

    fn repr() -> Repr {
        Repr {
            src_addr: "fe80::1".parse().unwrap(),
            dst_addr: "ff02::12".parse().unwrap(),
            next_header: 112,
            payload_len: 36,
            hop_limit: 255,
            dscp: 56,
        }
    }

    fn packet_bytes() -> [u8; 76] {
        let mut b = [0u8; 76];
        b[..40].copy_from_slice(&HEADER);
        b
    }

    #[test]
    fn deconstruct() {
        let b = packet_bytes();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xe0);
        assert_eq!(p.dscp(), 56);
        assert_eq!(p.flow_label(), 0);
        assert_eq!(p.payload_len(), 36);
        assert_eq!(p.next_header(), 112);
        assert_eq!(p.hop_limit(), 255);
        assert_eq!(p.src_addr(), "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "ff02::12".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload().len(), 36);
    }

    #[test]
    fn construct() {
        let mut b = [0xffu8; 40];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version(6);
        p.set_traffic_class(0xe0);
        p.set_flow_label(0);
        p.set_payload_len(36);
        p.set_next_header(112);
        p.set_hop_limit(255);
        p.set_src_addr("fe80::1".parse().unwrap());
        p.set_dst_addr("ff02::12".parse().unwrap());
        assert_eq!(b, HEADER);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_flow_label(0x12345);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.traffic_class(), 0xe0);
        assert_eq!(p.version(), 6);
    }

    #[test]
    fn parse_and_emit() {
        let b = packet_bytes();
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])).unwrap(), repr());
        let mut out = [0xaau8; 40];
        repr().emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, HEADER);
        let mut out = [0u8; 76];
        let rest = emit_header(&mut out, repr().src_addr, repr().dst_addr, 56, 112, 36).unwrap();
        assert_eq!(rest.len(), 36);
        assert_eq!(out[..40], HEADER);
        assert_eq!(
            emit_header(
                &mut out[..75],
                repr().src_addr,
                repr().dst_addr,
                56,
                112,
                36
            ),
            Err(Error)
        );
        assert_eq!(
            emit_header(&mut out, repr().src_addr, repr().dst_addr, 56, 112, 70_000),
            Err(Error)
        );
    }

    #[test]
    fn rejects() {
        let b = packet_bytes();
        assert_eq!(Packet::new_checked(&b[..39]), Err(Error));
        assert_eq!(Packet::new_checked(&b[..75]), Err(Error));
        let mut c = b;
        c[0] = 0x4e;
        assert_eq!(Repr::parse(&Packet::new_unchecked(&c[..])), Err(Error));
        // Short-buffer accessors return zeroes.
        let p = Packet::new_unchecked(&b[..5]);
        assert_eq!(p.payload_len(), 0);
        assert_eq!(p.dst_addr(), Ipv6Addr::UNSPECIFIED);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn solicited_node_group() {
        let a: Ipv6Addr = "2001:db8::12:3456".parse().unwrap();
        assert_eq!(
            solicited_node(&a),
            "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap()
        );
    }
}

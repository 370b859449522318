//! IPv4 header (RFC 791), as CARP and VRRPv3 send it.
//!
//! ```text
//!  0       4       8              16      19             31
//! +-------+-------+--------------+----------------------+
//! |version|  IHL  | DSCP   | ECN |     total length     |
//! +-------+-------+--------------+------+---------------+
//! |        identification        |flags | frag offset   |
//! +---------------+--------------+------+---------------+
//! |     TTL       |   protocol   |   header checksum    |
//! +---------------+--------------+----------------------+
//! |                    source address                   |
//! +-----------------------------------------------------+
//! |                  destination address                |
//! +-----------------------------------------------------+
//! |               options (IHL > 5), payload            |
//! ```
//!
//! FreeBSD's CARP advertisement header: IHL 5, TOS = `net.inet.carp.dscp << 2` (default
//! DSCP 56, TOS 0xe0), total length 56, DF, TTL 255, protocol 112, destination 224.0.0.18
//! or a unicast peer. [`Repr`] emits exactly that shape (no options, ECN 0).

use core::net::Ipv4Addr;

use super::{bytes, checksum};
use super::{Error, Field, Result};

/// Length of the header without options (IHL 5).
pub const HEADER_LEN: usize = 20;

/// IP version number.
pub const VERSION: u8 = 4;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

mod field {
    use super::Field;

    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// A read/write view of an IPv4 packet.
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

    /// `Ok` if the buffer holds a fixed header, the header length (IHL) is at least 20 and
    /// fits, and the total length covers the header and fits in the buffer. Trailing bytes
    /// beyond the total length (Ethernet padding) are allowed and ignored by
    /// [`Packet::payload`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error);
        }
        let hl = self.header_len();
        let total = usize::from(self.total_len());
        if hl < HEADER_LEN || hl > len || total < hl || total > len {
            return Err(Error);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version (4 for IPv4).
    pub fn version(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(bytes::u8_at(self.buffer.as_ref(), field::VER_IHL) & 0x0f) * 4
    }

    /// The whole TOS byte (DSCP << 2 | ECN).
    pub fn tos(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::TOS)
    }

    /// Differentiated services code point (TOS >> 2).
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// ECN bits (TOS & 3).
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    /// Total length (header + payload).
    pub fn total_len(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        bytes::u16_at(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        bytes::u16_at(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (bytes::u16_at(self.buffer.as_ref(), field::FLG_OFF) & FRAG_OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::TTL)
    }

    /// Protocol (112 for CARP/VRRP).
    pub fn protocol(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// Header checksum as stored.
    pub fn checksum(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(
            self.buffer.as_ref(),
            field::SRC_ADDR.start,
        ))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::array::<4>(
            self.buffer.as_ref(),
            field::DST_ADDR.start,
        ))
    }

    /// Whether the header checksum (over `header_len()` bytes, options included) is correct.
    pub fn verify_checksum(&self) -> bool {
        let hdr = bytes::slice(self.buffer.as_ref(), 0..self.header_len());
        !hdr.is_empty() && checksum::verify(checksum::data(hdr))
    }

    /// The payload: from the end of the header to the total length (empty if inconsistent).
    pub fn payload(&self) -> &[u8] {
        bytes::slice(
            self.buffer.as_ref(),
            self.header_len()..usize::from(self.total_len()),
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set version and header length (in bytes; stored as IHL = len / 4).
    pub fn set_version_and_header_len(&mut self, version: u8, header_len: usize) {
        let ihl = u8::try_from(header_len / 4).unwrap_or(0x0f) & 0x0f;
        bytes::set_u8_at(self.buffer.as_mut(), field::VER_IHL, (version << 4) | ihl);
    }

    /// Set the whole TOS byte.
    pub fn set_tos(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::TOS, value);
    }

    /// Set DSCP (6 bits) with ECN 0.
    pub fn set_dscp(&mut self, dscp: u8) {
        self.set_tos((dscp & 0x3f) << 2);
    }

    /// Set the total length.
    pub fn set_total_len(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Set the identification.
    pub fn set_ident(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::IDENT, value);
    }

    /// Set flags and fragment offset: DF as given, MF clear, offset 0.
    pub fn set_dont_frag_unfragmented(&mut self, dont_frag: bool) {
        bytes::set_u16_at(
            self.buffer.as_mut(),
            field::FLG_OFF,
            if dont_frag { FLAG_DF } else { 0 },
        );
    }

    /// Set the TTL.
    pub fn set_ttl(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::TTL, value);
    }

    /// Set the protocol.
    pub fn set_protocol(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::PROTOCOL, value);
    }

    /// Set the stored header checksum.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::SRC_ADDR.start, &value.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::DST_ADDR.start, &value.octets());
    }

    /// Compute and store the header checksum over `header_len()` bytes.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(bytes::slice(self.buffer.as_ref(), 0..self.header_len()));
        self.set_checksum(checksum::finish(sum));
    }

    /// Mutable payload (from the end of the header to the total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        bytes::slice_mut(self.buffer.as_mut(), range)
    }
}

/// The meaning of an IPv4 header, as far as CARP cares. ECN and options are not kept;
/// `emit` writes IHL 5, ECN 0, MF 0, fragment offset 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    /// Protocol number (112 for CARP/VRRP).
    pub protocol: u8,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    pub ttl: u8,
    /// DSCP, 0..=63 (the TOS byte is `dscp << 2`).
    pub dscp: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Repr {
    /// Parse a header: version 4, correct header checksum, not a fragment (MF clear and
    /// offset 0), and `check_len`'s length rules. Options are skipped.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != VERSION || !packet.verify_checksum() {
            return Err(Error);
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error);
        }
        let payload_len = usize::from(packet.total_len())
            .checked_sub(packet.header_len())
            .ok_or(Error)?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len,
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Bytes `emit` writes: [`HEADER_LEN`] (the payload is not included).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header (20 bytes) with its checksum. The total length is
    /// `20 + payload_len`, saturated at 65535.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version_and_header_len(VERSION, HEADER_LEN);
        packet.set_dscp(self.dscp);
        let total = u16::try_from(self.payload_len.saturating_add(HEADER_LEN)).unwrap_or(u16::MAX);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_dont_frag_unfragmented(self.dont_frag);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

/// Write the IPv4 header CARP/VRRP sends (IHL 5, TOS `dscp << 2`, DF, TTL 255,
/// protocol 112) for a payload of `payload_len` bytes at the start of `buf`, and return
/// the rest of the buffer, which must hold the payload. `Err` if `buf` is shorter than
/// `20 + payload_len` or the total length exceeds 65535.
pub fn emit_carp_header(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dscp: u8,
    ident: u16,
    payload_len: usize,
) -> Result<&mut [u8]> {
    let total = payload_len.checked_add(HEADER_LEN).ok_or(Error)?;
    if u16::try_from(total).is_err() || buf.len() < total {
        return Err(Error);
    }
    let (head, rest) = buf.split_at_mut(HEADER_LEN);
    let repr = Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: super::IPPROTO_CARP,
        payload_len,
        ttl: super::CARP_TTL,
        dscp,
        ident,
        dont_frag: true,
    };
    repr.emit(&mut Packet::new_unchecked(head));
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv4 header of frame 4 of ucarp-vhid42.pcapng (ucarp: TOS 0x10, id 0x3b29, DF,
    // TTL 255, proto 112, checksum 0x55a6, 10.99.0.1 -> 224.0.0.18), with its 36-byte
    // CARP payload zeroed here (the CARP module tests the payload).
    #[rustfmt::skip]
    static HEADER: [u8; 20] = [
        0x45, 0x10, 0x00, 0x38, 0x3b, 0x29, 0x40, 0x00, 0xff, 0x70, 0x55, 0xa6, // IPv4: ver/IHL, TOS, length, id, flags/offset, TTL, proto, cksum
        0x0a, 0x63, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x12, // IPv4: src, dst
    ];

    fn packet_bytes() -> [u8; 56] {
        let mut b = [0u8; 56];
        b[..20].copy_from_slice(&HEADER);
        b
    }

    fn repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(10, 99, 0, 1),
            dst_addr: Ipv4Addr::new(224, 0, 0, 18),
            protocol: 112,
            payload_len: 36,
            ttl: 255,
            dscp: 4,
            ident: 0x3b29,
            dont_frag: true,
        }
    }

    #[test]
    fn deconstruct() {
        let b = packet_bytes();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.tos(), 0x10);
        assert_eq!(p.dscp(), 4);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 56);
        assert_eq!(p.ident(), 0x3b29);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 255);
        assert_eq!(p.protocol(), 112);
        assert_eq!(p.checksum(), 0x55a6);
        assert!(p.verify_checksum());
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 99, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(p.payload().len(), 36);
    }

    #[test]
    fn construct() {
        let mut b = [0u8; 20];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_and_header_len(4, 20);
        p.set_tos(0x10);
        p.set_total_len(56);
        p.set_ident(0x3b29);
        p.set_dont_frag_unfragmented(true);
        p.set_ttl(255);
        p.set_protocol(112);
        p.set_src_addr(Ipv4Addr::new(10, 99, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(224, 0, 0, 18));
        p.fill_checksum();
        assert_eq!(b, HEADER);
    }

    #[test]
    fn parse_and_emit() {
        let b = packet_bytes();
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])).unwrap(), repr());
        let mut out = [0u8; 20];
        repr().emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, HEADER);
        assert_eq!(repr().buffer_len(), 20);
    }

    #[test]
    fn freebsd_carp_header() {
        // FreeBSD 15 default: DSCP 56 -> TOS 0xe0.
        let mut b = [0u8; 56];
        let rest = emit_carp_header(
            &mut b,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(224, 0, 0, 18),
            56,
            0x1234,
            36,
        )
        .unwrap();
        assert_eq!(rest.len(), 36);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.tos(), 0xe0);
        assert!(p.dont_frag());
        assert_eq!(p.ttl(), 255);
        assert_eq!(p.total_len(), 56);
        assert!(p.verify_checksum());
        // Checksum computed independently (Python RFC 1071) over
        // 45e0 0038 1234 4000 ff70 0000 c000 0201 e000 0012
        assert_eq!(p.checksum(), 0xc62d);
        assert_eq!(
            emit_carp_header(
                &mut b[..55],
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                0,
                0,
                36
            ),
            Err(Error)
        );
        assert_eq!(
            emit_carp_header(
                &mut b,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                0,
                0,
                usize::MAX
            ),
            Err(Error)
        );
    }

    #[test]
    fn rejects() {
        let b = packet_bytes();
        // Truncated.
        assert_eq!(Packet::new_checked(&b[..19]), Err(Error));
        assert_eq!(Packet::new_checked(&b[..55]), Err(Error));
        // Bad checksum.
        let mut c = b;
        c[8] = 1;
        assert!(Packet::new_checked(&c[..]).is_ok());
        assert_eq!(Repr::parse(&Packet::new_unchecked(&c[..])), Err(Error));
        // IHL < 5.
        let mut c = b;
        c[0] = 0x44;
        assert_eq!(Packet::new_checked(&c[..]), Err(Error));
        // Total length < header length.
        let mut c = b;
        c[2..4].copy_from_slice(&[0, 19]);
        assert_eq!(Packet::new_checked(&c[..]), Err(Error));
        // Wrong version (checksum fixed up).
        let mut c = b;
        let mut p = Packet::new_unchecked(&mut c[..]);
        p.set_version_and_header_len(6, 20);
        p.fill_checksum();
        assert_eq!(Repr::parse(&p), Err(Error));
        // Fragment.
        let mut c = b;
        let mut p = Packet::new_unchecked(&mut c[..]);
        bytes::set_u16_at(p.buffer, field::FLG_OFF, FLAG_MF);
        p.fill_checksum();
        assert_eq!(Repr::parse(&p), Err(Error));
    }

    #[test]
    fn options_and_padding() {
        // IHL 6 (one NOP option word) and 4 bytes of trailing Ethernet padding.
        let mut b = [0u8; 24 + 36 + 4];
        let mut p = Packet::new_unchecked(&mut b[..]);
        repr().emit(&mut p);
        p.set_version_and_header_len(4, 24);
        p.set_total_len(60);
        p.fill_checksum();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 36);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 36);
    }
}

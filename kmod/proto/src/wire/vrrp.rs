//! VRRPv3 advertisement (RFC 9568), as FreeBSD 15 sends it for a vhid with `carpver 3`.
//!
//! ```text
//!  0       4       8               16              24              31
//! +-------+-------+---------------+---------------+---------------+
//! |version| type  |     VRID      |   priority    |  count addrs  |
//! +-------+-------+---------------+---------------+---------------+
//! | rsvd  |   max adver int (cs)  |           checksum            |
//! +-------+-----------------------+-------------------------------+
//! |        count addrs IPv4 (4 bytes) or IPv6 (16 bytes) addresses |
//! +---------------------------------------------------------------+
//! ```
//!
//! - version 3, type 1 = advertisement: first byte 0x31;
//! - max adver int: low 12 bits of the 16-bit word, centiseconds (1..=4095); the upper 4
//!   bits are reserved and sent as 0. Note: FreeBSD's receiver uses the whole 16-bit word
//!   unmasked; [`Packet::max_adver_int_word`] gives that reading, [`Repr`] the RFC one;
//! - the checksum covers the IPv4/IPv6 pseudo-header (protocol 112, length = the VRRP
//!   packet's length) and the whole VRRP packet, addresses included;
//! - the address family is the one of the enclosing IP packet; it is an argument of
//!   [`Repr::parse`].
//!
//! FreeBSD's receiver only needs the 8-byte header ([`Packet::check_len`]); it does not look
//! at the address list. [`Repr::parse`] is stricter: the list announced by `count` must be
//! present. A receive path that must accept exactly what FreeBSD accepts uses the
//! [`Packet`] accessors.
//!
//! The address list is an [`Addresses`]: borrowed from the packet when parsed
//! ([`Addresses::Wire`]), or from the caller's typed slice when emitting; no allocation.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{bytes, checksum, ipv4, ipv6};
use super::{Error, Field, Result};
use crate::types::Family;

/// Length of the fixed VRRPv3 header (no addresses).
pub const HEADER_LEN: usize = 8;

/// Version nibble of VRRPv3.
pub const VERSION: u8 = 3;

/// Mask of the max-adver-int field within its 16-bit word.
pub const MAX_ADVER_INT_MASK: u16 = 0x0fff;

/// Most addresses one advertisement can carry (the count field is one byte).
pub const MAX_ADDRESSES: usize = 255;

/// Bytes per address of `family`: 4 or 16.
pub const fn addr_len(family: Family) -> usize {
    match family {
        Family::Inet => 4,
        Family::Inet6 => 16,
    }
}

/// VRRP message type (low nibble of byte 0). Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// 1 (advertisement).
    Advertisement,
    /// Anything else (0..=15).
    Unknown(u8),
}

impl From<u8> for Type {
    fn from(v: u8) -> Type {
        match v {
            1 => Type::Advertisement,
            other => Type::Unknown(other),
        }
    }
}

impl From<Type> for u8 {
    fn from(v: Type) -> u8 {
        match v {
            Type::Advertisement => 1,
            Type::Unknown(other) => other,
        }
    }
}

mod field {
    use super::Field;

    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    pub const INTERVAL: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// A read/write view of a VRRPv3 advertisement.
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

    /// `Ok` if the buffer holds the 8-byte header (FreeBSD's minimum). The address list is
    /// checked by [`Packet::check_addresses`] / [`Repr::parse`].
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// `Ok` if the buffer also holds `count` addresses of `family`.
    pub fn check_addresses(&self, family: Family) -> Result<()> {
        self.check_len()?;
        let need = self
            .addresses_len(family)
            .checked_add(HEADER_LEN)
            .ok_or(Error)?;
        if self.buffer.as_ref().len() < need {
            Err(Error)
        } else {
            Ok(())
        }
    }

    fn addresses_len(&self, family: Family) -> usize {
        usize::from(self.count()).saturating_mul(addr_len(family))
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version (high nibble of byte 0): 3 for VRRPv3, 2 for CARP.
    pub fn version(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::VER_TYPE) >> 4
    }

    /// Message type (low nibble of byte 0).
    pub fn msg_type(&self) -> Type {
        Type::from(bytes::u8_at(self.buffer.as_ref(), field::VER_TYPE) & 0x0f)
    }

    /// Virtual router id (the vhid).
    pub fn vrid(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::VRID)
    }

    /// Priority.
    pub fn priority(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::PRIORITY)
    }

    /// Number of addresses.
    pub fn count(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::COUNT)
    }

    /// The whole 16-bit interval word (reserved bits included) - FreeBSD's reading.
    pub fn max_adver_int_word(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::INTERVAL)
    }

    /// The reserved upper 4 bits of the interval word.
    pub fn reserved(&self) -> u8 {
        u8::try_from(self.max_adver_int_word() >> 12).unwrap_or(0)
    }

    /// Max advertisement interval in centiseconds (low 12 bits) - the RFC's reading.
    pub fn max_adver_int(&self) -> u16 {
        self.max_adver_int_word() & MAX_ADVER_INT_MASK
    }

    /// Checksum as stored.
    pub fn checksum(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Everything after the header (the address list, and any trailing bytes).
    pub fn addresses(&self) -> &[u8] {
        self.buffer.as_ref().get(field::ADDRESSES..).unwrap_or(&[])
    }

    /// Whether the checksum over the pseudo-header of (`src`, `dst`, 112, buffer length)
    /// and the *whole buffer* is correct. Pass exactly the IP payload. `false` if `src`
    /// and `dst` are of different families.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        let b = self.buffer.as_ref();
        let Ok(len) = u32::try_from(b.len()) else {
            return false;
        };
        let Some(ph) = checksum::pseudo_header(src, dst, super::IPPROTO_CARP, len) else {
            return false;
        };
        checksum::verify(checksum::combine(&[ph, checksum::data(b)]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the version nibble.
    pub fn set_version(&mut self, value: u8) {
        let b = self.buffer.as_mut();
        let old = bytes::u8_at(b, field::VER_TYPE);
        bytes::set_u8_at(b, field::VER_TYPE, (old & 0x0f) | (value << 4));
    }

    /// Set the type nibble.
    pub fn set_msg_type(&mut self, value: Type) {
        let b = self.buffer.as_mut();
        let old = bytes::u8_at(b, field::VER_TYPE);
        bytes::set_u8_at(b, field::VER_TYPE, (old & 0xf0) | (u8::from(value) & 0x0f));
    }

    /// Set the VRID.
    pub fn set_vrid(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::VRID, value);
    }

    /// Set the priority.
    pub fn set_priority(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::PRIORITY, value);
    }

    /// Set the address count.
    pub fn set_count(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::COUNT, value);
    }

    /// Set the whole interval word (reserved bits included).
    pub fn set_max_adver_int_word(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::INTERVAL, value);
    }

    /// Set the max advertisement interval (centiseconds, masked to 12 bits; reserved 0).
    pub fn set_max_adver_int(&mut self, value: u16) {
        self.set_max_adver_int_word(value & MAX_ADVER_INT_MASK);
    }

    /// Set the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Mutable bytes after the header.
    pub fn addresses_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::ADDRESSES..)
            .unwrap_or(&mut [])
    }

    /// Compute and store the checksum over the pseudo-header and the whole buffer. Stores
    /// 0 if `src` and `dst` are of different families.
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_over(src, dst, len);
    }

    fn fill_checksum_over(&mut self, src: &IpAddr, dst: &IpAddr, len: usize) {
        self.set_checksum(0);
        let data = bytes::slice(self.buffer.as_ref(), 0..len);
        let ph = u32::try_from(data.len())
            .ok()
            .and_then(|l| checksum::pseudo_header(src, dst, super::IPPROTO_CARP, l));
        let value = match ph {
            Some(ph) => checksum::finish(checksum::combine(&[ph, checksum::data(data)])),
            None => 0,
        };
        self.set_checksum(value);
    }
}

/// The address list of an advertisement: the caller's typed slice (to emit) or the bytes
/// found in a packet (after parsing). Two lists are equal when they hold the same
/// addresses of the same family in the same order, whichever variant holds them.
#[derive(Clone, Copy, Debug)]
pub enum Addresses<'a> {
    /// IPv4 addresses to send.
    Ipv4(&'a [Ipv4Addr]),
    /// IPv6 addresses to send.
    Ipv6(&'a [Ipv6Addr]),
    /// Addresses as found on the wire: `bytes.len() / addr_len(family)` addresses (a
    /// partial trailing address is ignored).
    Wire { family: Family, bytes: &'a [u8] },
}

impl<'a> Addresses<'a> {
    /// The family of the addresses.
    pub fn family(&self) -> Family {
        match self {
            Addresses::Ipv4(_) => Family::Inet,
            Addresses::Ipv6(_) => Family::Inet6,
            Addresses::Wire { family, .. } => *family,
        }
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        match self {
            Addresses::Ipv4(a) => a.len(),
            Addresses::Ipv6(a) => a.len(),
            Addresses::Wire { family, bytes } => bytes.len() / addr_len(*family),
        }
    }

    /// Whether there are no addresses.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The addresses, in order.
    pub fn iter(&self) -> AddressIter<'a> {
        AddressIter {
            list: *self,
            next: 0,
        }
    }

    /// The `i`-th address.
    pub fn get(&self, i: usize) -> Option<IpAddr> {
        match self {
            Addresses::Ipv4(a) => a.get(i).map(|a| IpAddr::V4(*a)),
            Addresses::Ipv6(a) => a.get(i).map(|a| IpAddr::V6(*a)),
            Addresses::Wire {
                family: Family::Inet,
                bytes,
            } => {
                let start = i.checked_mul(4)?;
                let b: [u8; 4] = bytes.get(start..start.checked_add(4)?)?.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(b)))
            }
            Addresses::Wire {
                family: Family::Inet6,
                bytes,
            } => {
                let start = i.checked_mul(16)?;
                let b: [u8; 16] = bytes.get(start..start.checked_add(16)?)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)))
            }
        }
    }

    /// Write the first `min(len, 255)` addresses into `buf` in wire order (what fits).
    fn write(&self, buf: &mut [u8]) {
        let alen = addr_len(self.family());
        for (i, chunk) in buf.chunks_exact_mut(alen).enumerate().take(MAX_ADDRESSES) {
            match self.get(i) {
                Some(IpAddr::V4(a)) => bytes::set_bytes(chunk, 0, &a.octets()),
                Some(IpAddr::V6(a)) => bytes::set_bytes(chunk, 0, &a.octets()),
                None => break,
            }
        }
    }
}

impl PartialEq for Addresses<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.family() == other.family() && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Addresses<'_> {}

/// Iterator over an [`Addresses`] list.
#[derive(Clone, Debug)]
pub struct AddressIter<'a> {
    list: Addresses<'a>,
    next: usize,
}

impl Iterator for AddressIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        let a = self.list.get(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(a)
    }
}

/// A validated VRRPv3 advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    pub vrid: u8,
    pub priority: u8,
    /// Max advertisement interval in centiseconds, 0..=4095 (higher bits are not sent).
    pub max_adver_int_cs: u16,
    pub addresses: Addresses<'a>,
}

impl<'a> Repr<'a> {
    /// Parse an advertisement carried in an IP packet of `family`: version 3, type
    /// advertisement, and `count` addresses present (trailing bytes are ignored). The
    /// checksum is *not* verified here (see [`Packet::verify_checksum`]); the reserved
    /// bits are ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        family: Family,
    ) -> Result<Repr<'a>> {
        packet.check_addresses(family)?;
        if packet.version() != VERSION || packet.msg_type() != Type::Advertisement {
            return Err(Error);
        }
        let inner: &'a T = packet.buffer;
        let buf: &'a [u8] = inner.as_ref();
        let end = packet
            .addresses_len(family)
            .checked_add(HEADER_LEN)
            .ok_or(Error)?;
        let list = buf.get(HEADER_LEN..end).ok_or(Error)?;
        Ok(Repr {
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_adver_int_cs: packet.max_adver_int(),
            addresses: Addresses::Wire {
                family,
                bytes: list,
            },
        })
    }

    /// Bytes `emit` writes: 8 + min(addresses, 255) * (4 or 16).
    pub fn buffer_len(&self) -> usize {
        let n = self.addresses.len().min(MAX_ADDRESSES);
        HEADER_LEN.saturating_add(n.saturating_mul(addr_len(self.addresses.family())))
    }

    /// Write the advertisement (reserved bits 0, at most 255 addresses) and its checksum
    /// with the pseudo-header of (`src`, `dst`, 112, `buffer_len()`). `src` and `dst`
    /// must be of the addresses' family; otherwise the checksum is left 0.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &IpAddr,
        dst: &IpAddr,
    ) {
        let n = self.addresses.len().min(MAX_ADDRESSES);
        packet.set_version(VERSION);
        packet.set_msg_type(Type::Advertisement);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_count(u8::try_from(n).unwrap_or(u8::MAX));
        packet.set_max_adver_int(self.max_adver_int_cs);
        self.addresses.write(packet.addresses_mut());
        packet.fill_checksum_over(src, dst, self.buffer_len());
    }
}

/// Write a complete IPv4 VRRPv3 advertisement into `buf`:
///
/// ```text
/// [0..20)   IPv4 header: IHL 5, TOS dscp<<2, id `ident`, DF, TTL 255, protocol 112,
///           header checksum, src -> dst (224.0.0.18)
/// [20..28)  VRRPv3 header, checksum with the IPv4 pseudo-header
/// [28..)    the IPv4 addresses, 4 bytes each
/// ```
///
/// Returns the bytes written (20 + 8 + 4 * n). `Err` if the addresses are not IPv4, there
/// are more than 255, or `buf` is too short.
pub fn emit_ipv4(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dscp: u8,
    ident: u16,
    vrrp: &Repr,
) -> Result<usize> {
    if vrrp.addresses.family() != Family::Inet || vrrp.addresses.len() > MAX_ADDRESSES {
        return Err(Error);
    }
    let len = vrrp.buffer_len();
    let rest = ipv4::emit_carp_header(buf, src, dst, dscp, ident, len)?;
    let body = rest.get_mut(..len).ok_or(Error)?;
    vrrp.emit(
        &mut Packet::new_unchecked(body),
        &IpAddr::V4(src),
        &IpAddr::V4(dst),
    );
    Ok(ipv4::HEADER_LEN.saturating_add(len))
}

/// Write a complete IPv6 VRRPv3 advertisement into `buf`:
///
/// ```text
/// [0..40)   IPv6 header: traffic class dscp<<2, next header 112, hop limit 255,
///           src -> dst (ff02::12)
/// [40..48)  VRRPv3 header, checksum with the IPv6 pseudo-header
/// [48..)    the IPv6 addresses, 16 bytes each
/// ```
///
/// Returns the bytes written (40 + 8 + 16 * n). `Err` if the addresses are not IPv6, there
/// are more than 255, or `buf` is too short.
pub fn emit_ipv6(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    dscp: u8,
    vrrp: &Repr,
) -> Result<usize> {
    if vrrp.addresses.family() != Family::Inet6 || vrrp.addresses.len() > MAX_ADDRESSES {
        return Err(Error);
    }
    let len = vrrp.buffer_len();
    let rest = ipv6::emit_header(buf, src, dst, dscp, super::IPPROTO_CARP, len)?;
    let body = rest.get_mut(..len).ok_or(Error)?;
    vrrp.emit(
        &mut Packet::new_unchecked(body),
        &IpAddr::V6(src),
        &IpAddr::V6(dst),
    );
    Ok(ipv6::HEADER_LEN.saturating_add(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors built independently (Python, RFC 1071 + RFC 9568 pseudo-header) and checked
    // with tshark 4.0.17 ("Checksum: 0x4339 [correct]", "0x3e2f [correct]", IPv4 header
    // checksum 0xc641 correct).
    // VRID 1, priority 100, interval 100 cs, 192.0.2.100 and .101; 192.0.2.1 -> 224.0.0.18,
    // TOS 0xe0, id 0x1234, DF, TTL 255.
    #[rustfmt::skip]
    static IPV4_ADVERT: [u8; 36] = [
        0x45, 0xe0, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0xff, 0x70, 0xc6, 0x41, // IPv4: ver/IHL, TOS, length, id, flags/offset, TTL, proto, cksum
        0xc0, 0x00, 0x02, 0x01, 0xe0, 0x00, 0x00, 0x12, // IPv4: src, dst
        0x31, 0x01, 0x64, 0x02, 0x00, 0x64, 0x43, 0x39, // VRRPv3: ver/type, VRID, priority, count, interval, cksum
        0xc0, 0x00, 0x02, 0x64, 0xc0, 0x00, 0x02, 0x65, // addresses
    ];
    // VRID 1, priority 100, interval 100 cs, fe80::100 and 2001:db8::100;
    // fe80::1 -> ff02::12, traffic class 0xe0, hop limit 255.
    #[rustfmt::skip]
    static IPV6_ADVERT: [u8; 80] = [
        0x6e, 0x00, 0x00, 0x00, 0x00, 0x28, 0x70, 0xff, // IPv6: ver/tc/flow, payload length, next header, hop limit
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, // dst
        0x31, 0x01, 0x64, 0x02, 0x00, 0x64, 0x3e, 0x2f, // VRRPv3: ver/type, VRID, priority, count, interval, cksum
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // address 1
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // address 2
    ];

    const V4_ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 101)];
    const V4_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

    fn v6_addrs() -> [Ipv6Addr; 2] {
        [
            "fe80::100".parse().unwrap(),
            "2001:db8::100".parse().unwrap(),
        ]
    }

    fn v6_src() -> Ipv6Addr {
        "fe80::1".parse().unwrap()
    }

    #[test]
    fn deconstruct_ipv4() {
        let p = Packet::new_checked(&IPV4_ADVERT[20..]).unwrap();
        assert_eq!(p.version(), 3);
        assert_eq!(p.msg_type(), Type::Advertisement);
        assert_eq!(p.vrid(), 1);
        assert_eq!(p.priority(), 100);
        assert_eq!(p.count(), 2);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.max_adver_int(), 100);
        assert_eq!(p.max_adver_int_word(), 100);
        assert_eq!(p.checksum(), 0x4339);
        assert_eq!(p.addresses(), &IPV4_ADVERT[28..]);
        assert!(p.verify_checksum(&V4_SRC.into(), &GROUP4.into()));
        assert!(!p.verify_checksum(&Ipv4Addr::new(192, 0, 2, 2).into(), &GROUP4.into()));
        assert!(!p.verify_checksum(&v6_src().into(), &GROUP4.into()));
    }

    #[test]
    fn construct_ipv4() {
        let mut b = [0u8; 16];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version(3);
        p.set_msg_type(Type::Advertisement);
        p.set_vrid(1);
        p.set_priority(100);
        p.set_count(2);
        p.set_max_adver_int(100);
        p.addresses_mut()
            .copy_from_slice(&[192, 0, 2, 100, 192, 0, 2, 101]);
        p.fill_checksum(&V4_SRC.into(), &GROUP4.into());
        assert_eq!(b[..], IPV4_ADVERT[20..]);
    }

    #[test]
    fn parse_and_emit_ipv4() {
        let p = Packet::new_checked(&IPV4_ADVERT[20..]).unwrap();
        let r = Repr::parse(&p, Family::Inet).unwrap();
        let expected = Repr {
            vrid: 1,
            priority: 100,
            max_adver_int_cs: 100,
            addresses: Addresses::Ipv4(&V4_ADDRS),
        };
        assert_eq!(r, expected);
        assert_eq!(r.addresses.len(), 2);
        assert_eq!(
            r.addresses.iter().collect::<alloc::vec::Vec<_>>(),
            [IpAddr::V4(V4_ADDRS[0]), IpAddr::V4(V4_ADDRS[1])]
        );
        assert_eq!(expected.buffer_len(), 16);

        let mut out = [0u8; 16];
        expected.emit(
            &mut Packet::new_unchecked(&mut out[..]),
            &V4_SRC.into(),
            &GROUP4.into(),
        );
        assert_eq!(out[..], IPV4_ADVERT[20..]);
        // Emitting a parsed (wire) list gives the same bytes.
        let mut out2 = [0u8; 16];
        r.emit(
            &mut Packet::new_unchecked(&mut out2[..]),
            &V4_SRC.into(),
            &GROUP4.into(),
        );
        assert_eq!(out2, out);
    }

    #[test]
    fn emit_ipv4_packet() {
        let r = Repr {
            vrid: 1,
            priority: 100,
            max_adver_int_cs: 100,
            addresses: Addresses::Ipv4(&V4_ADDRS),
        };
        let mut b = [0u8; 64];
        let n = emit_ipv4(&mut b, V4_SRC, GROUP4, 56, 0x1234, &r).unwrap();
        assert_eq!(n, 36);
        assert_eq!(b[..n], IPV4_ADVERT);
        assert_eq!(
            emit_ipv4(&mut b[..35], V4_SRC, GROUP4, 56, 0x1234, &r),
            Err(Error)
        );
        let v6 = v6_addrs();
        let wrong = Repr {
            addresses: Addresses::Ipv6(&v6),
            ..r
        };
        assert_eq!(
            emit_ipv4(&mut b, V4_SRC, GROUP4, 56, 0x1234, &wrong),
            Err(Error)
        );
    }

    #[test]
    fn deconstruct_and_parse_ipv6() {
        let ip = ipv6::Packet::new_checked(&IPV6_ADVERT[..]).unwrap();
        let ipr = ipv6::Repr::parse(&ip).unwrap();
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(p.checksum(), 0x3e2f);
        assert!(p.verify_checksum(&ipr.src_addr.into(), &ipr.dst_addr.into()));
        let r = Repr::parse(&p, Family::Inet6).unwrap();
        let addrs = v6_addrs();
        assert_eq!(
            r,
            Repr {
                vrid: 1,
                priority: 100,
                max_adver_int_cs: 100,
                addresses: Addresses::Ipv6(&addrs)
            }
        );
        assert_eq!(r.addresses.get(1), Some(IpAddr::V6(addrs[1])));
        assert_eq!(r.addresses.get(2), None);
        // The same bytes read as IPv4 announce 2 addresses of 4 bytes: a different list.
        let r4 = Repr::parse(&p, Family::Inet).unwrap();
        assert_eq!(r4.addresses.len(), 2);
        assert_ne!(r4, r);
    }

    #[test]
    fn emit_ipv6_packet() {
        let addrs = v6_addrs();
        let r = Repr {
            vrid: 1,
            priority: 100,
            max_adver_int_cs: 100,
            addresses: Addresses::Ipv6(&addrs),
        };
        let mut b = [0u8; 80];
        let n = emit_ipv6(&mut b, v6_src(), crate::types::CARP_GROUP_V6, 56, &r).unwrap();
        assert_eq!(n, 80);
        assert_eq!(b, IPV6_ADVERT);
        assert_eq!(
            emit_ipv6(&mut b[..79], v6_src(), crate::types::CARP_GROUP_V6, 56, &r),
            Err(Error)
        );
    }

    #[test]
    fn rejects_and_edge_cases() {
        // Header only: fine for the view (FreeBSD's minimum), not for Repr.
        let p = Packet::new_checked(&IPV4_ADVERT[20..28]).unwrap();
        assert_eq!(p.check_addresses(Family::Inet), Err(Error));
        assert_eq!(Repr::parse(&p, Family::Inet), Err(Error));
        assert_eq!(Packet::new_checked(&IPV4_ADVERT[20..27]), Err(Error));
        // Trailing partial address is ignored.
        let p = Packet::new_checked(&IPV4_ADVERT[20..]).unwrap();
        assert_eq!(Repr::parse(&p, Family::Inet).unwrap().addresses.len(), 2);
        // CARP version / unknown type.
        let mut b = [0u8; 16];
        b.copy_from_slice(&IPV4_ADVERT[20..]);
        b[0] = 0x21;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..]), Family::Inet),
            Err(Error)
        );
        b[0] = 0x37;
        let p = Packet::new_unchecked(&b[..]);
        assert_eq!(p.msg_type(), Type::Unknown(7));
        assert_eq!(Repr::parse(&p, Family::Inet), Err(Error));
        // Reserved bits: FreeBSD reads the whole word, the RFC the low 12 bits.
        let mut b = [0u8; 16];
        b.copy_from_slice(&IPV4_ADVERT[20..]);
        b[4] = 0x10;
        let p = Packet::new_unchecked(&b[..]);
        assert_eq!(p.reserved(), 1);
        assert_eq!(p.max_adver_int_word(), 0x1064);
        assert_eq!(Repr::parse(&p, Family::Inet).unwrap().max_adver_int_cs, 100);
        // Short accessors.
        let p = Packet::new_unchecked(&b[..2]);
        assert_eq!(p.count(), 0);
        assert!(p.addresses().is_empty());
    }

    #[test]
    fn address_list_limits() {
        let many = [Ipv4Addr::new(10, 0, 0, 1); 300];
        let r = Repr {
            vrid: 7,
            priority: 255,
            max_adver_int_cs: 4095,
            addresses: Addresses::Ipv4(&many),
        };
        assert_eq!(r.buffer_len(), 8 + 255 * 4);
        let mut b = [0u8; 8 + 255 * 4];
        r.emit(
            &mut Packet::new_unchecked(&mut b[..]),
            &V4_SRC.into(),
            &GROUP4.into(),
        );
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.count(), 255);
        assert!(p.verify_checksum(&V4_SRC.into(), &GROUP4.into()));
        let mut big = [0u8; 2048];
        assert_eq!(emit_ipv4(&mut big, V4_SRC, GROUP4, 0, 0, &r), Err(Error));
        // Empty list.
        let r = Repr {
            vrid: 7,
            priority: 1,
            max_adver_int_cs: 1,
            addresses: Addresses::Ipv4(&[]),
        };
        let n = emit_ipv4(&mut big, V4_SRC, GROUP4, 0, 0, &r).unwrap();
        assert_eq!(n, 28);
        let p = Packet::new_checked(&big[20..28]).unwrap();
        assert_eq!(Repr::parse(&p, Family::Inet).unwrap(), r);
        // Mixed families: checksum left zero, no panic.
        let mut b = [0u8; 8];
        r.emit(
            &mut Packet::new_unchecked(&mut b[..]),
            &V4_SRC.into(),
            &v6_src().into(),
        );
        assert_eq!(u16::from_be_bytes([b[6], b[7]]), 0);
    }
}

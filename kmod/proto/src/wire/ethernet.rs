//! Ethernet II header (14 bytes: destination, source, EtherType), no VLAN tag.
//!
//! ```text
//!  0      6      12   14
//! +------+------+----+---------
//! | dst  | src  |type| payload
//! +------+------+----+---------
//! ```
//!
//! CARP and VRRPv3 advertisements go to the IP multicast MACs ([`ipv4_multicast_mac`]:
//! 01:00:5e:00:00:12 for 224.0.0.18, [`ipv6_multicast_mac`]: 33:33:00:00:00:12 for
//! ff02::12) with the vhid's virtual MAC (`types::virtual_mac`) as source.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::bytes;
use super::{Error, Field, Result};

/// A 48-bit Ethernet (MAC) address, in wire order.
pub type EthernetAddress = [u8; 6];

/// The broadcast address ff:ff:ff:ff:ff:ff.
pub const BROADCAST: EthernetAddress = [0xff; 6];

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// EtherType. Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// 0x0800
    Ipv4,
    /// 0x0806
    Arp,
    /// 0x86dd
    Ipv6,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> EtherType {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

/// Whether `mac` is a group (multicast or broadcast) address: I/G bit set.
pub const fn is_multicast(mac: &EthernetAddress) -> bool {
    mac[0] & 0x01 != 0
}

/// The Ethernet group address of an IPv4 multicast group (RFC 1112): 01:00:5e + the low
/// 23 bits of the group. 224.0.0.18 maps to 01:00:5e:00:00:12.
pub const fn ipv4_multicast_mac(group: Ipv4Addr) -> EthernetAddress {
    let o = group.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

/// The Ethernet group address of an IPv6 multicast group (RFC 2464): 33:33 + the low 32
/// bits of the group. ff02::12 maps to 33:33:00:00:00:12.
pub const fn ipv6_multicast_mac(group: Ipv6Addr) -> EthernetAddress {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

mod field {
    use super::Field;

    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// A read/write view of an Ethernet II frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wrap a buffer, checking that it holds at least a header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// `Ok` if the buffer holds the 14-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        bytes::array(self.buffer.as_ref(), field::DESTINATION.start)
    }

    /// Source address.
    pub fn src_addr(&self) -> EthernetAddress {
        bytes::array(self.buffer.as_ref(), field::SOURCE.start)
    }

    /// EtherType.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(bytes::u16_at(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the header (empty if the buffer is shorter).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Set the destination address.
    pub fn set_dst_addr(&mut self, value: EthernetAddress) {
        bytes::set_bytes(self.buffer.as_mut(), field::DESTINATION.start, &value);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, value: EthernetAddress) {
        bytes::set_bytes(self.buffer.as_mut(), field::SOURCE.start, &value);
    }

    /// Set the EtherType.
    pub fn set_ethertype(&mut self, value: EtherType) {
        bytes::set_u16_at(self.buffer.as_mut(), field::ETHERTYPE, value.into());
    }

    /// Mutable payload (empty if the buffer is shorter than the header).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..)
            .unwrap_or(&mut [])
    }
}

/// The meaning of an Ethernet II header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: EthernetAddress,
    pub dst_addr: EthernetAddress,
    pub ethertype: EtherType,
}

impl Repr {
    /// Parse a header (only its length is checked; any addresses and EtherType are valid).
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr> {
        frame.check_len()?;
        Ok(Repr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Bytes `emit` writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

/// Write an Ethernet II header at the start of `buf` and return the rest of the buffer
/// (where the payload goes). `Err` if `buf` is shorter than [`HEADER_LEN`].
pub fn emit_header<'a>(buf: &'a mut [u8], repr: &Repr) -> Result<&'a mut [u8]> {
    if buf.len() < HEADER_LEN {
        return Err(Error);
    }
    let (head, rest) = buf.split_at_mut(HEADER_LEN);
    repr.emit(&mut Frame::new_unchecked(head));
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Frame 4 of ucarp-vhid42.pcapng: ucarp's advert, Ethernet header.
    #[rustfmt::skip]
    static HEADER: [u8; 14] = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, // dst
        0x00, 0x00, 0x5e, 0x00, 0x00, 0x2a, // src
        0x08, 0x00, // EtherType
    ];

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(&HEADER[..]).unwrap();
        assert_eq!(f.dst_addr(), [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
        assert_eq!(f.src_addr(), [0x00, 0x00, 0x5e, 0x00, 0x00, 0x2a]);
        assert_eq!(f.ethertype(), EtherType::Ipv4);
        assert!(f.payload().is_empty());
    }

    #[test]
    fn construct_and_emit() {
        let mut buf = [0u8; 14];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
        f.set_src_addr([0x00, 0x00, 0x5e, 0x00, 0x00, 0x2a]);
        f.set_ethertype(EtherType::Ipv4);
        assert_eq!(buf, HEADER);

        let repr = Repr::parse(&Frame::new_checked(&HEADER[..]).unwrap()).unwrap();
        let mut out = [0xaau8; 20];
        let rest = emit_header(&mut out, &repr).unwrap();
        assert_eq!(rest.len(), 6);
        assert_eq!(&out[..14], &HEADER);
        assert_eq!(emit_header(&mut [0u8; 13], &repr), Err(Error));
    }

    #[test]
    fn short_and_unknown() {
        assert_eq!(Frame::new_checked(&HEADER[..13]), Err(Error));
        let mut b = HEADER;
        b[12] = 0x88;
        b[13] = 0xcc;
        let f = Frame::new_checked(&b[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Unknown(0x88cc));
        assert_eq!(u16::from(f.ethertype()), 0x88cc);
        // Accessors on a short buffer do not panic.
        let s = Frame::new_unchecked(&b[..3]);
        assert_eq!(s.src_addr(), [0; 6]);
        assert_eq!(s.ethertype(), EtherType::Unknown(0));
    }

    #[test]
    fn multicast_mapping() {
        assert_eq!(
            ipv4_multicast_mac(Ipv4Addr::new(224, 0, 0, 18)),
            [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]
        );
        assert_eq!(
            ipv4_multicast_mac(Ipv4Addr::new(239, 255, 1, 2)),
            [0x01, 0x00, 0x5e, 0x7f, 0x01, 0x02]
        );
        assert_eq!(
            ipv6_multicast_mac("ff02::12".parse().unwrap()),
            [0x33, 0x33, 0, 0, 0, 0x12]
        );
        assert_eq!(
            ipv6_multicast_mac("ff02::1:ff00:64".parse().unwrap()),
            [0x33, 0x33, 0xff, 0, 0, 0x64]
        );
        assert!(is_multicast(&BROADCAST));
        assert!(is_multicast(&[0x01, 0x00, 0x5e, 0, 0, 0x12]));
        assert!(!is_multicast(&[0x00, 0x00, 0x5e, 0, 1, 1]));
    }
}

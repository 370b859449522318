//! Wire formats: zero-copy packet views and validated representations.
//!
//! Every format CARP touches on the wire, in the style of smoltcp's `wire` module:
//!
//! | module        | format                                                           |
//! |---------------|------------------------------------------------------------------|
//! | [`checksum`]  | the Internet checksum (RFC 1071/1624), IPv4/IPv6 pseudo-headers   |
//! | [`carp`]      | CARP v2 advertisement (36 bytes, IP protocol 112)                |
//! | [`vrrp`]      | VRRPv3 advertisement (RFC 9568: 8 bytes + address list)          |
//! | [`ipv4`]      | the IPv4 header (as CARP sends it: IHL 5, DF, TTL 255)           |
//! | [`ipv6`]      | the IPv6 fixed header (hop limit 255, no extension headers)      |
//! | [`ethernet`]  | Ethernet II header, multicast MAC mapping                        |
//! | [`arp`]       | ARP for Ethernet/IPv4: request, reply, gratuitous ARP            |
//! | [`ndp`]       | IPv6 neighbor solicitation / advertisement (ICMPv6 135/136)      |
//!
//! Each format has two layers:
//!
//! - `Packet<T: AsRef<[u8]>>` (`Frame` for Ethernet) is a zero-copy view over a buffer, with
//!   a getter per field and, when `T: AsMut<[u8]>`, a setter per field. Field offsets live in
//!   a private `mod field`. Constructors come as a trio: `new_unchecked` (wraps anything),
//!   `check_len` (validates that every accessor is in bounds, including the length fields
//!   inside the packet), and `new_checked` (both at once).
//! - `Repr` is the validated meaning of a packet: `Repr::parse(&packet)` checks the semantic
//!   rules (version, type, lengths) and `Repr::emit(&mut packet)` writes it back;
//!   `Repr::buffer_len()` is the exact number of bytes `emit` writes.
//!
//! # Contract
//!
//! - Nothing in this module panics, for any input. Accessors never index directly; after
//!   `check_len` has succeeded they return the packet's fields, and on a buffer that did not
//!   pass `check_len` they return zeroes for the missing bytes instead of panicking (setters
//!   ignore bytes outside the buffer). `emit` into a buffer of at least `buffer_len()` bytes
//!   writes the whole representation; into a shorter buffer it writes what fits, without
//!   panicking. The `emit_*` builders return [`Error`] for a buffer that is too short.
//! - Nothing allocates.
//! - Enumerations keep unknown values (`Unknown(u8)` / `Unknown(u16)`) so they round-trip.
//! - Checksums are never checked implicitly by `Packet` accessors; each format says whether
//!   its `Repr::parse` verifies one. CARP and VRRPv3 parsing does *not* (the receive path
//!   counts a bad checksum separately, in FreeBSD's order); IPv4 header and ICMPv6 (NDP)
//!   parsing does.
//! - Addresses are [`core::net::Ipv4Addr`] / [`core::net::Ipv6Addr`]; link-layer addresses
//!   are [`EthernetAddress`] (`[u8; 6]`).
//!
//! [`Error`] is a unit struct: a packet is either usable or not; the reason is for logs,
//! which the caller writes from the accessors if it wants to.

pub mod arp;
pub mod carp;
pub mod checksum;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod ndp;
pub mod vrrp;

pub use ethernet::EthernetAddress;

#[cfg(test)]
mod proptests;

/// A packet could not be parsed or emitted (truncated, malformed, unsupported, buffer too
/// short). Deliberately carries no detail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Error;

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("malformed or truncated packet")
    }
}

/// Result of wire operations.
pub type Result<T> = core::result::Result<T, Error>;

/// TTL / hop limit CARP and VRRPv3 send and (for multicast) require (`CARP_DFLTTL`).
pub const CARP_TTL: u8 = 255;

/// IP protocol number of CARP and VRRP (112).
pub const IPPROTO_CARP: u8 = 112;

/// IP protocol (next header) number of ICMPv6 (58).
pub const IPPROTO_ICMPV6: u8 = 58;

/// Byte range of a fixed-size field.
pub(crate) type Field = core::ops::Range<usize>;

/// Panic-free big-endian field access shared by the formats. Reads of bytes outside the
/// buffer yield zeroes; writes outside the buffer are dropped.
pub(crate) mod bytes {
    use super::Field;

    #[inline]
    pub fn u8_at(buf: &[u8], at: usize) -> u8 {
        buf.get(at).copied().unwrap_or(0)
    }

    #[inline]
    pub fn set_u8_at(buf: &mut [u8], at: usize, value: u8) {
        if let Some(b) = buf.get_mut(at) {
            *b = value;
        }
    }

    /// The `N` bytes starting at `start`; missing bytes read as zero.
    #[inline]
    pub fn array<const N: usize>(buf: &[u8], start: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = buf.get(start..) {
            for (d, s) in out.iter_mut().zip(src) {
                *d = *s;
            }
        }
        out
    }

    /// Copy `value` to `start..`; bytes that do not fit are dropped.
    #[inline]
    pub fn set_bytes(buf: &mut [u8], start: usize, value: &[u8]) {
        if let Some(dst) = buf.get_mut(start..) {
            for (d, s) in dst.iter_mut().zip(value) {
                *d = *s;
            }
        }
    }

    #[inline]
    pub fn u16_at(buf: &[u8], field: Field) -> u16 {
        u16::from_be_bytes(array::<2>(buf, field.start))
    }

    #[inline]
    pub fn set_u16_at(buf: &mut [u8], field: Field, value: u16) {
        set_bytes(buf, field.start, &value.to_be_bytes());
    }

    #[inline]
    pub fn u32_at(buf: &[u8], field: Field) -> u32 {
        u32::from_be_bytes(array::<4>(buf, field.start))
    }

    #[inline]
    pub fn set_u32_at(buf: &mut [u8], field: Field, value: u32) {
        set_bytes(buf, field.start, &value.to_be_bytes());
    }

    /// `buf[field]` if in bounds, else the empty slice.
    #[inline]
    pub fn slice(buf: &[u8], field: Field) -> &[u8] {
        buf.get(field).unwrap_or(&[])
    }

    /// `buf[field]` if in bounds, else the empty slice.
    #[inline]
    pub fn slice_mut(buf: &mut [u8], field: Field) -> &mut [u8] {
        buf.get_mut(field).unwrap_or(&mut [])
    }
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn field_helpers_never_panic_out_of_bounds() {
        let mut b = [1u8, 2, 3];
        assert_eq!(bytes::u16_at(&b, 2..4), 0x0300);
        assert_eq!(bytes::u32_at(&b, 7..11), 0);
        assert_eq!(bytes::array::<4>(&b, 1), [2, 3, 0, 0]);
        bytes::set_u32_at(&mut b, 1..5, 0xaabb_ccdd);
        assert_eq!(b, [1, 0xaa, 0xbb]);
        bytes::set_u8_at(&mut b, 9, 7);
        assert_eq!(bytes::slice(&b, 2..9), &[] as &[u8]);
        assert_eq!(bytes::slice_mut(&mut b, 1..2), &mut [0xaa]);
    }
}

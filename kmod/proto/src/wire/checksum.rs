//! The Internet checksum (RFC 1071), with incremental update (RFC 1624) and the IPv4 /
//! IPv6 pseudo-headers.
//!
//! Vocabulary, as in smoltcp:
//! - a *sum* is the folded 16-bit ones'-complement sum of some data ([`data`], [`combine`],
//!   [`Checksum::sum`]);
//! - the *checksum* stored in a header is the complement of the sum over everything it covers
//!   with the checksum field zeroed ([`finish`], [`Checksum::finish`]);
//! - data carrying a correct checksum sums to `0xffff` ([`verify`]), i.e. FreeBSD's
//!   `in_cksum(...) == 0`.
//!
//! Sums of separately summed pieces can be combined with [`combine`] as long as every piece
//! but the last has an even length; the [`Checksum`] accumulator has no such restriction.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Ones'-complement addition of two 32-bit partial sums (end-around carry).
#[inline]
fn add32(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    // s <= u32::MAX - 1 whenever carry is set, so this never wraps.
    s.wrapping_add(u32::from(carry))
}

/// Fold a 32-bit partial sum into 16 bits.
#[inline]
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    // sum <= 0xffff here.
    u16::try_from(sum).unwrap_or(0xffff)
}

/// An incremental ones'-complement sum accumulator. Bytes may be fed in pieces of any
/// length; an odd trailing byte is carried over to the next piece.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    sum: u32,
    pending: Option<u8>,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Checksum {
        Checksum {
            sum: 0,
            pending: None,
        }
    }

    /// Add bytes (big-endian 16-bit words; an odd last byte waits for the next call).
    pub fn add_bytes(&mut self, mut data: &[u8]) -> &mut Self {
        if let Some(hi) = self.pending.take() {
            match data.split_first() {
                Some((lo, rest)) => {
                    self.sum = add32(self.sum, u32::from(u16::from_be_bytes([hi, *lo])));
                    data = rest;
                }
                None => {
                    self.pending = Some(hi);
                    return self;
                }
            }
        }
        let mut words = data.chunks_exact(4);
        for w in &mut words {
            let v = u32::from_be_bytes([
                w.first().copied().unwrap_or(0),
                w.get(1).copied().unwrap_or(0),
                w.get(2).copied().unwrap_or(0),
                w.get(3).copied().unwrap_or(0),
            ]);
            // A 32-bit word sums like its two 16-bit halves in ones' complement.
            self.sum = add32(self.sum, v);
        }
        let rest = words.remainder();
        let mut pairs = rest.chunks_exact(2);
        for p in &mut pairs {
            let v = u16::from_be_bytes([
                p.first().copied().unwrap_or(0),
                p.get(1).copied().unwrap_or(0),
            ]);
            self.sum = add32(self.sum, u32::from(v));
        }
        self.pending = pairs.remainder().first().copied();
        self
    }

    /// Add one big-endian 16-bit word. Any pending odd byte is first completed with a zero.
    pub fn add_u16(&mut self, word: u16) -> &mut Self {
        self.flush();
        self.sum = add32(self.sum, u32::from(word));
        self
    }

    /// Add one 32-bit value as two big-endian 16-bit words.
    pub fn add_u32(&mut self, word: u32) -> &mut Self {
        self.flush();
        self.sum = add32(self.sum, word);
        self
    }

    /// Pad a pending odd byte with a zero low byte (RFC 1071 end-of-data rule).
    fn flush(&mut self) {
        if let Some(hi) = self.pending.take() {
            self.sum = add32(self.sum, u32::from(hi) << 8);
        }
    }

    /// The folded sum (not complemented). A pending odd byte counts as padded with zero.
    pub fn sum(&self) -> u16 {
        let mut c = *self;
        c.flush();
        fold(c.sum)
    }

    /// The checksum to store: the complement of [`Checksum::sum`].
    pub fn finish(&self) -> u16 {
        !self.sum()
    }
}

/// Folded ones'-complement sum of `data` (an odd last byte is padded with zero).
pub fn data(data: &[u8]) -> u16 {
    Checksum::new().add_bytes(data).sum()
}

/// Ones'-complement sum of several folded sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().fold(0u32, |acc, s| add32(acc, u32::from(*s))))
}

/// The checksum to store for a folded sum: its complement.
pub const fn finish(sum: u16) -> u16 {
    !sum
}

/// Whether a folded sum over data that includes its checksum field is correct.
pub const fn verify(sum: u16) -> bool {
    sum == 0xffff
}

/// RFC 1624 incremental update: the new checksum after one 16-bit word of the covered data
/// changed from `old_word` to `new_word` (HC' = ~(~HC + ~m + m'), eqn. 3).
///
/// The result verifies exactly like a recomputed one, with one exception inherent to the
/// equation: when every covered word other than the checksum is zero after the change, it
/// yields 0x0000 where recomputation gives 0xffff (which no IP, CARP or VRRP header hits:
/// they all carry a nonzero version field).
pub fn update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    !combine(&[!old_checksum, !old_word, new_word])
}

/// Sum of the IPv4 pseudo-header (RFC 768/793): source, destination, zero, protocol, and
/// the upper-layer length.
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut c = Checksum::new();
    c.add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_u16(u16::from(protocol))
        .add_u16(length);
    c.sum()
}

/// Sum of the IPv6 pseudo-header (RFC 8200 8.1): source, destination, 32-bit upper-layer
/// length, three zero bytes, next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut c = Checksum::new();
    c.add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_u32(length)
        .add_u16(u16::from(next_header));
    c.sum()
}

/// Pseudo-header sum for either family; `None` when `src` and `dst` are of different
/// families, or an IPv4 length does not fit 16 bits.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: u8, length: u32) -> Option<u16> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(pseudo_header_v4(
            s,
            d,
            protocol,
            u16::try_from(length).ok()?,
        )),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(pseudo_header_v6(s, d, protocol, length)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: straightforward RFC 1071 over 16-bit words with a 64-bit accumulator.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            sum += u64::from(u16::from_be_bytes([data[i], data[i + 1]]));
            i += 2;
        }
        if i < data.len() {
            sum += u64::from(data[i]) << 8;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&d), 0xddf2);
        assert_eq!(finish(data(&d)), 0x220d);
    }

    #[test]
    fn matches_reference_on_all_lengths_and_splits() {
        let mut buf = [0u8; 67];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(97).wrapping_add(0xa5);
        }
        for len in 0..buf.len() {
            let d = &buf[..len];
            assert_eq!(data(d), reference(d), "len {len}");
            for split in 0..=len {
                let mut c = Checksum::new();
                c.add_bytes(&d[..split]).add_bytes(&d[split..]);
                assert_eq!(c.sum(), reference(d), "len {len} split {split}");
            }
        }
    }

    #[test]
    fn all_ones_does_not_overflow() {
        let d = [0xffu8; 4096];
        assert_eq!(data(&d), 0xffff);
        assert_eq!(combine(&[0xffff, 0xffff, 0x0001]), 0x0001);
    }

    #[test]
    fn verify_accepts_stored_checksum() {
        let mut d = [
            0x45, 0x00, 0x00, 0x38, 0x12, 0x34, 0x40, 0x00, 0xff, 0x70, 0, 0, 10, 0, 0, 1, 224, 0,
            0, 18,
        ];
        let c = finish(data(&d));
        d[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verify(data(&d)));
        d[3] ^= 1;
        assert!(!verify(data(&d)));
        // All-zero data never verifies (FreeBSD's in_cksum returns 0xffff for it).
        assert!(!verify(data(&[0u8; 36])));
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut d = [
            0x21u8, 0x2a, 0x64, 0x07, 0x00, 0x01, 0, 0, 0xde, 0xad, 0xbe, 0xef,
        ];
        let c0 = finish(data(&d));
        for new in [0x0000u16, 0x0001, 0xfffe, 0xffff, 0x1234] {
            let old = u16::from_be_bytes([d[2], d[3]]);
            let mut e = d;
            e[2..4].copy_from_slice(&new.to_be_bytes());
            let recomputed = finish(data(&e));
            let inc = update(c0, old, new);
            // Ones' complement has two zeros; both encodings verify.
            e[6..8].copy_from_slice(&inc.to_be_bytes());
            assert!(
                verify(data(&e)),
                "new {new:#x}: inc {inc:#x} vs {recomputed:#x}"
            );
        }
        d[6..8].copy_from_slice(&c0.to_be_bytes());
        assert!(verify(data(&d)));
    }

    #[test]
    fn incremental_update_all_zero_exception() {
        // Data [checksum, word] with word 0x1234 -> 0: everything else is zero now.
        assert_eq!(update(!0x1234, 0x1234, 0), 0x0000);
        assert_eq!(finish(data(&[0, 0, 0, 0])), 0xffff);
    }

    #[test]
    fn pseudo_headers() {
        let s4 = Ipv4Addr::new(10, 99, 0, 1);
        let d4 = Ipv4Addr::new(224, 0, 0, 18);
        let mut raw = [0u8; 12];
        raw[..4].copy_from_slice(&s4.octets());
        raw[4..8].copy_from_slice(&d4.octets());
        raw[9] = 112;
        raw[10..12].copy_from_slice(&36u16.to_be_bytes());
        assert_eq!(pseudo_header_v4(&s4, &d4, 112, 36), data(&raw));

        let s6: Ipv6Addr = "fe80::1".parse().unwrap();
        let d6: Ipv6Addr = "ff02::12".parse().unwrap();
        let mut raw6 = [0u8; 40];
        raw6[..16].copy_from_slice(&s6.octets());
        raw6[16..32].copy_from_slice(&d6.octets());
        raw6[32..36].copy_from_slice(&8u32.to_be_bytes());
        raw6[39] = 112;
        assert_eq!(pseudo_header_v6(&s6, &d6, 112, 8), data(&raw6));

        assert_eq!(pseudo_header(&s4.into(), &d6.into(), 112, 8), None);
        assert_eq!(pseudo_header(&s4.into(), &d4.into(), 112, 70_000), None);
        assert_eq!(
            pseudo_header(&s6.into(), &d6.into(), 112, 8),
            Some(data(&raw6))
        );
    }
}

//! CARP v2 advertisement (IP protocol 112), 36 bytes, as FreeBSD 15 sends it.
//!
//! ```text
//!  0       4       8              16              24              31
//! +-------+-------+---------------+---------------+---------------+
//! |version| type  |     vhid      |    advskew    |    authlen    |
//! +-------+-------+---------------+---------------+---------------+
//! |   reserved    |    advbase    |           checksum            |
//! +---------------+---------------+-------------------------------+
//! |                     counter, high 32 bits                     |
//! +---------------------------------------------------------------+
//! |                     counter, low 32 bits                      |
//! +---------------------------------------------------------------+
//! |                 md: HMAC-SHA1, 20 bytes (5 words)             |
//! +---------------------------------------------------------------+
//! ```
//!
//! - version 2 (high nibble), type 1 = advertisement (low nibble): first byte 0x21;
//! - advskew is the *effective* skew (configured + demotion, clamped to 0..=240);
//! - authlen is 7 (32-bit words of counter + md), not checked by receivers;
//! - the reserved byte (OpenBSD's `carp_demote`) is sent as 0 and ignored on receive;
//! - the checksum is the Internet checksum over the CARP header only (no pseudo-header);
//! - the counter is 64 bits, sent as two big-endian words (high first);
//! - md is computed by `auth` from the counter; this module carries it as given.
//!
//! Checksum coverage differs between FreeBSD's senders and receivers, so there are two
//! checks: [`Packet::fill_checksum`] and [`Packet::verify_header_checksum`] cover exactly
//! the 36-byte header (what FreeBSD sends, and what `carp6_input` checks);
//! [`Packet::verify_checksum`] covers the whole buffer (what `carp_input` checks for IPv4:
//! everything from the end of the IP header up to `ip_len`; pass exactly that slice).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::{bytes, checksum, ipv4, ipv6};
use super::{Error, Field, Result};

/// Length of a CARP advertisement.
pub const HEADER_LEN: usize = 36;

/// Version nibble of CARP (`CARP_VERSION_CARP`).
pub const VERSION: u8 = 2;

/// `authlen` FreeBSD sends: 7 32-bit words (counter + md).
pub const AUTHLEN: u8 = 7;

/// Length of the HMAC-SHA1 digest.
pub const MD_LEN: usize = 20;

/// Length of an IPv4 CARP advertisement: 20 + 36.
pub const IPV4_PACKET_LEN: usize = ipv4::HEADER_LEN + HEADER_LEN;

/// Length of an IPv6 CARP advertisement: 40 + 36.
pub const IPV6_PACKET_LEN: usize = ipv6::HEADER_LEN + HEADER_LEN;

/// CARP message type (low nibble of byte 0). Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// 1 (`CARP_ADVERTISEMENT`).
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
    pub const VHID: usize = 1;
    pub const ADVSKEW: usize = 2;
    pub const AUTHLEN: usize = 3;
    pub const RESERVED: usize = 4;
    pub const ADVBASE: usize = 5;
    pub const CHECKSUM: Field = 6..8;
    pub const COUNTER_HI: Field = 8..12;
    pub const COUNTER_LO: Field = 12..16;
    pub const COUNTER: Field = 8..16;
    pub const MD: Field = 16..36;
}

/// A read/write view of a CARP advertisement.
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

    /// `Ok` if the buffer holds at least the 36-byte header (longer buffers are accepted:
    /// FreeBSD's IPv4 input accepts trailing bytes and checksums them too).
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

    /// Version (high nibble of byte 0): 2 for CARP, 3 for VRRPv3.
    pub fn version(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::VER_TYPE) >> 4
    }

    /// Message type (low nibble of byte 0).
    pub fn msg_type(&self) -> Type {
        Type::from(bytes::u8_at(self.buffer.as_ref(), field::VER_TYPE) & 0x0f)
    }

    /// Virtual host id.
    pub fn vhid(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::VHID)
    }

    /// Advertisement skew.
    pub fn advskew(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::ADVSKEW)
    }

    /// Authentication length in 32-bit words.
    pub fn authlen(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::AUTHLEN)
    }

    /// The reserved byte (FreeBSD `carp_pad1`, OpenBSD `carp_demote`).
    pub fn reserved(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::RESERVED)
    }

    /// Advertisement base interval in seconds.
    pub fn advbase(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::ADVBASE)
    }

    /// Checksum as stored.
    pub fn checksum(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The 64-bit counter (high word first on the wire).
    pub fn counter(&self) -> u64 {
        u64::from_be_bytes(self.counter_bytes())
    }

    /// The 8 counter bytes exactly as sent (the HMAC input).
    pub fn counter_bytes(&self) -> [u8; 8] {
        bytes::array(self.buffer.as_ref(), field::COUNTER.start)
    }

    /// The two counter words (`carp_counter[0]`, `carp_counter[1]`) in host order.
    pub fn counter_words(&self) -> [u32; 2] {
        let b = self.buffer.as_ref();
        [
            bytes::u32_at(b, field::COUNTER_HI),
            bytes::u32_at(b, field::COUNTER_LO),
        ]
    }

    /// The HMAC-SHA1 digest.
    pub fn md(&self) -> [u8; MD_LEN] {
        bytes::array(self.buffer.as_ref(), field::MD.start)
    }

    /// Whether the ones'-complement sum over the *whole buffer* is correct (FreeBSD's IPv4
    /// receive check: pass the IP payload up to the IP total length).
    pub fn verify_checksum(&self) -> bool {
        let b = self.buffer.as_ref();
        !b.is_empty() && checksum::verify(checksum::data(b))
    }

    /// Whether the ones'-complement sum over the first 36 bytes is correct (FreeBSD's IPv6
    /// receive check). `false` if the buffer is shorter.
    pub fn verify_header_checksum(&self) -> bool {
        match self.buffer.as_ref().get(..HEADER_LEN) {
            Some(h) => checksum::verify(checksum::data(h)),
            None => false,
        }
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

    /// Set the vhid.
    pub fn set_vhid(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::VHID, value);
    }

    /// Set the advskew.
    pub fn set_advskew(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::ADVSKEW, value);
    }

    /// Set the authlen.
    pub fn set_authlen(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::AUTHLEN, value);
    }

    /// Set the reserved byte.
    pub fn set_reserved(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::RESERVED, value);
    }

    /// Set the advbase.
    pub fn set_advbase(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::ADVBASE, value);
    }

    /// Set the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Set the 64-bit counter (high word first).
    pub fn set_counter(&mut self, value: u64) {
        bytes::set_bytes(
            self.buffer.as_mut(),
            field::COUNTER.start,
            &value.to_be_bytes(),
        );
    }

    /// Set the digest.
    pub fn set_md(&mut self, value: &[u8; MD_LEN]) {
        bytes::set_bytes(self.buffer.as_mut(), field::MD.start, value);
    }

    /// Compute and store the checksum over the 36-byte header (as FreeBSD's sender does).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(bytes::slice(self.buffer.as_ref(), 0..HEADER_LEN));
        self.set_checksum(checksum::finish(sum));
    }
}

/// A validated CARP advertisement. `md` is carried as given: `auth` computes it from
/// `counter` (and verifies it); this module never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub vhid: u8,
    pub advskew: u8,
    pub advbase: u8,
    /// Normally [`AUTHLEN`] (7); kept as received (FreeBSD does not check it).
    pub authlen: u8,
    pub counter: u64,
    pub md: [u8; MD_LEN],
}

impl Repr {
    /// An advertisement as FreeBSD sends it (authlen 7).
    pub const fn new(vhid: u8, advbase: u8, advskew: u8, counter: u64, md: [u8; MD_LEN]) -> Repr {
        Repr {
            vhid,
            advskew,
            advbase,
            authlen: AUTHLEN,
            counter,
            md,
        }
    }

    /// Parse an advertisement: at least 36 bytes, version 2, type advertisement. The
    /// checksum is *not* verified here (the receive path checks it, in FreeBSD's order,
    /// with [`Packet::verify_checksum`] / [`Packet::verify_header_checksum`]); the reserved
    /// byte and authlen's value are not checked (as in FreeBSD).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != VERSION || packet.msg_type() != Type::Advertisement {
            return Err(Error);
        }
        Ok(Repr {
            vhid: packet.vhid(),
            advskew: packet.advskew(),
            advbase: packet.advbase(),
            authlen: packet.authlen(),
            counter: packet.counter(),
            md: packet.md(),
        })
    }

    /// Bytes `emit` writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the advertisement (reserved byte 0) and its checksum over the 36 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version(VERSION);
        packet.set_msg_type(Type::Advertisement);
        packet.set_vhid(self.vhid);
        packet.set_advskew(self.advskew);
        packet.set_authlen(self.authlen);
        packet.set_reserved(0);
        packet.set_advbase(self.advbase);
        packet.set_counter(self.counter);
        packet.set_md(&self.md);
        packet.fill_checksum();
    }
}

/// Write a complete IPv4 CARP advertisement into `buf`:
///
/// ```text
/// [0..20)  IPv4 header: IHL 5, TOS dscp<<2, total length 56, id `ident`, DF, TTL 255,
///          protocol 112, header checksum, src -> dst
/// [20..56) CARP advertisement `carp`, with its checksum
/// ```
///
/// `dst` is 224.0.0.18 ([`crate::types::CARP_GROUP_V4`]) or a unicast peer. Returns the
/// number of bytes written ([`IPV4_PACKET_LEN`] = 56); `Err` if `buf` is shorter.
pub fn emit_ipv4(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dscp: u8,
    ident: u16,
    carp: &Repr,
) -> Result<usize> {
    let rest = ipv4::emit_carp_header(buf, src, dst, dscp, ident, HEADER_LEN)?;
    let body = rest.get_mut(..HEADER_LEN).ok_or(Error)?;
    carp.emit(&mut Packet::new_unchecked(body));
    Ok(IPV4_PACKET_LEN)
}

/// Write a complete IPv6 CARP advertisement into `buf`:
///
/// ```text
/// [0..40)  IPv6 header: traffic class dscp<<2, flow 0, payload length 36,
///          next header 112, hop limit 255, src -> dst
/// [40..76) CARP advertisement `carp`, with its checksum
/// ```
///
/// `dst` is ff02::12 ([`crate::types::CARP_GROUP_V6`]) or a unicast peer. Returns the
/// number of bytes written ([`IPV6_PACKET_LEN`] = 76); `Err` if `buf` is shorter.
pub fn emit_ipv6(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    dscp: u8,
    carp: &Repr,
) -> Result<usize> {
    let rest = ipv6::emit_header(buf, src, dst, dscp, super::IPPROTO_CARP, HEADER_LEN)?;
    let body = rest.get_mut(..HEADER_LEN).ok_or(Error)?;
    carp.emit(&mut Packet::new_unchecked(body));
    Ok(IPV6_PACKET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame 4 of shared/fixtures/ucarp-vhid42.pcapng, from the IPv4 header on: ucarp 1.5.2,
    /// vhid 42, advskew 100, advbase 1, counter 329128398473304812, checksum 0x1575
    /// (tshark: correct), 10.99.0.1 -> 224.0.0.18, TOS 0x10, id 0x3b29.
    #[rustfmt::skip]
    static UCARP_IPV4: [u8; 56] = [
        0x45, 0x10, 0x00, 0x38, 0x3b, 0x29, 0x40, 0x00, 0xff, 0x70, 0x55, 0xa6, // IPv4: ver/IHL, TOS, length, id, flags/offset, TTL, proto, cksum
        0x0a, 0x63, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x12, // IPv4: src, dst
        0x21, 0x2a, 0x64, 0x07, 0x00, 0x01, 0x15, 0x75, // CARP: ver/type, vhid, advskew, authlen, pad, advbase, cksum
        0x04, 0x91, 0x4c, 0x88, 0xdc, 0x7e, 0x9a, 0xec, // counter
        0x7d, 0xa4, 0xe7, 0xc6, 0x28, 0x72, 0xc7, 0xed, 0x83, 0xbb, 0x1a, 0x7d, 0xeb, 0x57, 0x30, 0x80, 0x48, 0x9e, 0x44, 0x59, // md
    ];

    #[rustfmt::skip]
    const UCARP_MD: [u8; 20] = [
        0x7d, 0xa4, 0xe7, 0xc6, 0x28, 0x72, 0xc7, 0xed, 0x83, 0xbb, 0x1a, 0x7d, 0xeb, 0x57, 0x30, 0x80, 0x48, 0x9e, 0x44, 0x59,
    ];

    fn ucarp_repr() -> Repr {
        Repr {
            vhid: 42,
            advskew: 100,
            advbase: 1,
            authlen: 7,
            counter: 329_128_398_473_304_812,
            md: UCARP_MD,
        }
    }

    #[test]
    fn deconstruct_real_ucarp_frame() {
        let ip = ipv4::Packet::new_checked(&UCARP_IPV4[..]).unwrap();
        assert!(ip.verify_checksum());
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.msg_type(), Type::Advertisement);
        assert_eq!(p.vhid(), 42);
        assert_eq!(p.advskew(), 100);
        assert_eq!(p.authlen(), 7);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.advbase(), 1);
        assert_eq!(p.checksum(), 0x1575);
        assert_eq!(p.counter(), 0x0491_4c88_dc7e_9aec);
        assert_eq!(p.counter_words(), [0x0491_4c88, 0xdc7e_9aec]);
        assert_eq!(
            p.counter_bytes(),
            [0x04, 0x91, 0x4c, 0x88, 0xdc, 0x7e, 0x9a, 0xec]
        );
        assert_eq!(p.md(), UCARP_MD);
        assert!(p.verify_checksum());
        assert!(p.verify_header_checksum());
    }

    #[test]
    fn parse_real_ucarp_frame() {
        let p = Packet::new_checked(&UCARP_IPV4[20..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), ucarp_repr());
    }

    #[test]
    fn construct() {
        let mut b = [0u8; 36];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version(2);
        p.set_msg_type(Type::Advertisement);
        p.set_vhid(42);
        p.set_advskew(100);
        p.set_authlen(7);
        p.set_reserved(0);
        p.set_advbase(1);
        p.set_counter(329_128_398_473_304_812);
        p.set_md(&UCARP_MD);
        p.fill_checksum();
        assert_eq!(b[..], UCARP_IPV4[20..]);
    }

    #[test]
    fn emit_round_trip() {
        let mut b = [0xeeu8; 36];
        ucarp_repr().emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b[..], UCARP_IPV4[20..]);
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap(),
            ucarp_repr()
        );
    }

    #[test]
    fn emit_ipv4_reproduces_ucarp_frame() {
        // ucarp sends TOS 0x10 = DSCP 4.
        let mut b = [0u8; 64];
        let n = emit_ipv4(
            &mut b,
            Ipv4Addr::new(10, 99, 0, 1),
            Ipv4Addr::new(224, 0, 0, 18),
            4,
            0x3b29,
            &ucarp_repr(),
        )
        .unwrap();
        assert_eq!(n, IPV4_PACKET_LEN);
        assert_eq!(b[..n], UCARP_IPV4);
        assert_eq!(
            emit_ipv4(
                &mut b[..55],
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                0,
                0,
                &ucarp_repr()
            ),
            Err(Error)
        );
    }

    #[test]
    fn emit_ipv6_advert() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst = crate::types::CARP_GROUP_V6;
        let mut b = [0u8; 76];
        let n = emit_ipv6(&mut b, src, dst, 56, &ucarp_repr()).unwrap();
        assert_eq!(n, 76);
        let ip = ipv6::Packet::new_checked(&b[..]).unwrap();
        let r = ipv6::Repr::parse(&ip).unwrap();
        assert_eq!(
            r,
            ipv6::Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: 112,
                payload_len: 36,
                hop_limit: 255,
                dscp: 56
            }
        );
        // The CARP checksum has no pseudo-header: same bytes as over IPv4.
        assert_eq!(b[40..], UCARP_IPV4[20..]);
        assert_eq!(
            emit_ipv6(&mut b[..75], src, dst, 56, &ucarp_repr()),
            Err(Error)
        );
    }

    #[test]
    fn checksum_coverage() {
        // IPv4 receivers sum everything up to ip_len: trailing garbage breaks the sum,
        // the IPv6 receiver looks at 36 bytes only.
        let mut b = [0u8; 38];
        b[..36].copy_from_slice(&UCARP_IPV4[20..]);
        b[36] = 0x12;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert!(p.verify_header_checksum());
        // Corrupted checksum.
        let mut c = [0u8; 36];
        c.copy_from_slice(&UCARP_IPV4[20..]);
        c[7] ^= 0x01;
        let p = Packet::new_checked(&c[..]).unwrap();
        assert!(!p.verify_checksum());
        assert!(!p.verify_header_checksum());
        // A corrupted checksum still parses (the receive path counts it separately).
        assert_eq!(Repr::parse(&p).unwrap(), ucarp_repr());
    }

    #[test]
    fn rejects() {
        assert_eq!(Packet::new_checked(&UCARP_IPV4[20..55]), Err(Error));
        let mut c = [0u8; 36];
        c.copy_from_slice(&UCARP_IPV4[20..]);
        c[0] = 0x31; // VRRPv3
        assert_eq!(Repr::parse(&Packet::new_unchecked(&c[..])), Err(Error));
        c[0] = 0x22; // unknown type 2
        let p = Packet::new_unchecked(&c[..]);
        assert_eq!(p.msg_type(), Type::Unknown(2));
        assert_eq!(u8::from(p.msg_type()), 2);
        assert_eq!(Repr::parse(&p), Err(Error));
        // Accessors on a short buffer read missing bytes as zero.
        let p = Packet::new_unchecked(&c[..10]);
        assert_eq!(p.md(), [0; 20]);
        assert_eq!(p.counter(), 0x0491_0000_0000_0000); // partial: missing bytes are zero
        assert!(!p.verify_header_checksum());
        // Emitting into a short buffer writes what fits.
        let mut short = [0u8; 10];
        ucarp_repr().emit(&mut Packet::new_unchecked(&mut short[..]));
        assert_eq!(short[..6], UCARP_IPV4[20..26]);
    }

    /// Every CARP packet of shared/fixtures/ucarp-vhid42.pcapng (139, from ucarp 1.5.2 and a
    /// test peer, some deliberately broken): each parses; the checksum verifies exactly for
    /// those not listed as `bad_checksum` in the expected verdicts; and for those, emitting
    /// the parsed Repr reproduces the packet byte for byte (IPv4 header included).
    #[test]
    fn every_capture_packet_parses_and_reemits() {
        extern crate std;
        use pcap_file::pcapng::{Block, PcapNgReader};
        use std::collections::BTreeMap;
        use std::string::String;

        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let tsv =
            std::fs::read_to_string(dir.join("ucarp-vhid42.expected.tsv")).expect("expected.tsv");
        let verdicts: BTreeMap<usize, String> = tsv
            .lines()
            .skip(1)
            .map(|l| {
                let f: std::vec::Vec<&str> = l.split('\t').collect();
                (f[0].parse().unwrap(), String::from(f[2]))
            })
            .collect();
        let file = std::fs::File::open(dir.join("ucarp-vhid42.pcapng")).expect("capture");
        let mut reader = PcapNgReader::new(file).unwrap();
        let (mut frame_no, mut seen, mut bad_sums) = (0usize, 0usize, 0usize);
        while let Some(block) = reader.next_block() {
            let Block::EnhancedPacket(epb) = block.unwrap() else {
                continue;
            };
            frame_no += 1;
            let frame = &epb.data[..];
            if frame.get(12..14) != Some(&[0x08, 0x00][..]) {
                continue;
            }
            let ip = ipv4::Packet::new_checked(&frame[14..]).unwrap();
            let ipr = ipv4::Repr::parse(&ip).unwrap();
            if ipr.protocol != 112 {
                continue;
            }
            seen += 1;
            let verdict = verdicts
                .get(&frame_no)
                .map(String::as_str)
                .unwrap_or("missing");
            let p = Packet::new_checked(ip.payload()).unwrap();
            let repr = Repr::parse(&p).unwrap();
            let sum_ok = p.verify_checksum();
            assert_eq!(
                sum_ok,
                verdict != "bad_checksum",
                "frame {frame_no} ({verdict})"
            );
            assert_eq!(p.verify_header_checksum(), sum_ok);
            if sum_ok {
                let mut out = [0u8; IPV4_PACKET_LEN];
                let n = emit_ipv4(
                    &mut out,
                    ipr.src_addr,
                    ipr.dst_addr,
                    ipr.dscp,
                    ipr.ident,
                    &repr,
                )
                .unwrap();
                // The capture's TTL-1 packets differ in TTL and header checksum only.
                if ipr.ttl == 255 {
                    assert_eq!(out[..n], frame[14..14 + n], "frame {frame_no}");
                } else {
                    assert_eq!(verdict, "bad_ttl");
                    assert_eq!(out[20..n], frame[34..14 + n], "frame {frame_no}");
                }
            } else {
                bad_sums += 1;
            }
        }
        assert_eq!((seen, bad_sums), (139, 4));
    }

    #[test]
    fn freebsd_defaults() {
        let r = Repr::new(1, 1, 0, 0, [0; 20]);
        assert_eq!(r.authlen, AUTHLEN);
        let mut b = [0u8; 36];
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b[0], 0x21);
        assert_eq!(&b[1..6], &[1, 0, 7, 0, 1]);
        // ~(0x2101 + 0x0007 + 0x0001) = ~0x2109
        assert_eq!(u16::from_be_bytes([b[6], b[7]]), !0x2109);
    }
}

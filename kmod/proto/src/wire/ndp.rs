//! IPv6 neighbor discovery (RFC 4861): neighbor solicitation (ICMPv6 135) and neighbor
//! advertisement (ICMPv6 136) with the link-layer address options.
//!
//! ```text
//!  0               8              16                              31
//! +---------------+---------------+-------------------------------+
//! |  type 135/136 |    code 0     |           checksum            |
//! +-+-+-+---------+---------------+-------------------------------+
//! |R|S|O|                 reserved (NA flags; NS: all reserved)   |
//! +-+-+-+---------------------------------------------------------+
//! |                   target address (16 bytes)                   |
//! +---------------+---------------+-------------------------------+
//! | option type   | option length (units of 8 bytes) | data ...  |
//! +---------------+---------------+-------------------------------+
//! ```
//!
//! Option 1 = source link-layer address (in NS), option 2 = target link-layer address (in
//! NA); for Ethernet both are 8 bytes: type, length 1, the 6-byte MAC. The ICMPv6 checksum
//! covers the IPv6 pseudo-header (next header 58) and the whole ICMPv6 message.
//!
//! CARP uses:
//! - on becoming MASTER, an *unsolicited NA* per IPv6 address of the vhid: to ff02::1,
//!   flags Override (plus Router when forwarding), target = the address, target
//!   link-layer option = the virtual MAC ([`emit_unsolicited_na`]);
//! - a MASTER answers NS for its addresses with a solicited NA (Solicited + Override)
//!   carrying the virtual MAC ([`answer_ns`]); a BACKUP ignores NS.
//!
//! Unlike CARP/VRRP, [`Repr::parse`] verifies the checksum (there is no FreeBSD ordering
//! of checks to preserve here) along with RFC 4861's validity rules that do not need the
//! IPv6 header's hop limit; [`parse_ipv6`] also checks the hop limit (255).

use core::net::Ipv6Addr;

use bitflags::bitflags;

use super::ethernet::EthernetAddress;
use super::{bytes, checksum, ipv6};
use super::{Error, Field, Result, IPPROTO_ICMPV6};

/// Length of an NS/NA message without options.
pub const HEADER_LEN: usize = 24;

/// Length of an Ethernet link-layer address option.
pub const LLADDR_OPT_LEN: usize = 8;

/// Option type: source link-layer address.
pub const OPT_SOURCE_LLADDR: u8 = 1;

/// Option type: target link-layer address.
pub const OPT_TARGET_LLADDR: u8 = 2;

/// Length of an IPv6 packet carrying an NA with a target link-layer option: 40 + 32.
pub const NA_PACKET_LEN: usize = ipv6::HEADER_LEN + HEADER_LEN + LLADDR_OPT_LEN;

/// ICMPv6 message type. Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// 135
    NeighborSolicit,
    /// 136
    NeighborAdvert,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Message {
        match v {
            135 => Message::NeighborSolicit,
            136 => Message::NeighborAdvert,
            other => Message::Unknown(other),
        }
    }
}

impl From<Message> for u8 {
    fn from(v: Message) -> u8 {
        match v {
            Message::NeighborSolicit => 135,
            Message::NeighborAdvert => 136,
            Message::Unknown(other) => other,
        }
    }
}

bitflags! {
    /// Neighbor advertisement flags (first byte of the reserved word). Unknown bits are kept.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct NeighborFlags: u8 {
        /// R: the sender is a router.
        const ROUTER = 0x80;
        /// S: sent in response to a solicitation.
        const SOLICITED = 0x40;
        /// O: override an existing cache entry.
        const OVERRIDE = 0x20;
        const _ = !0;
    }
}

mod field {
    use super::Field;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const FLAGS: usize = 4;
    pub const RESERVED: Field = 4..8;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: usize = 24;
}

/// One ND option: its type and the bytes after its 2-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdOption<'a> {
    pub kind: u8,
    pub data: &'a [u8],
}

impl NdOption<'_> {
    /// The Ethernet address in a link-layer address option (first 6 data bytes).
    pub fn lladdr(&self) -> Option<EthernetAddress> {
        self.data.get(..6)?.try_into().ok()
    }
}

/// Iterator over the options of an ND message. Yields `Err` (once, then stops) on a
/// zero-length or truncated option, which makes the whole message invalid (RFC 4861 4.6).
#[derive(Clone, Debug)]
pub struct NdOptions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<NdOption<'a>>;

    fn next(&mut self) -> Option<Result<NdOption<'a>>> {
        if self.rest.is_empty() {
            return None;
        }
        let kind = bytes::u8_at(self.rest, 0);
        let len = usize::from(bytes::u8_at(self.rest, 1)).saturating_mul(8);
        match (
            self.rest.len() >= 2,
            len,
            self.rest.get(2..len),
            self.rest.get(len..),
        ) {
            (true, 2.., Some(data), Some(rest)) => {
                self.rest = rest;
                Some(Ok(NdOption { kind, data }))
            }
            _ => {
                self.rest = &[];
                Some(Err(Error))
            }
        }
    }
}

/// A read/write view of an NS or NA message.
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

    /// `Ok` if the buffer holds the 24-byte NS/NA body (options are checked while
    /// iterating them).
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

    /// ICMPv6 type.
    pub fn msg_type(&self) -> Message {
        Message::from(bytes::u8_at(self.buffer.as_ref(), field::TYPE))
    }

    /// ICMPv6 code (0 for NS/NA).
    pub fn msg_code(&self) -> u8 {
        bytes::u8_at(self.buffer.as_ref(), field::CODE)
    }

    /// Checksum as stored.
    pub fn checksum(&self) -> u16 {
        bytes::u16_at(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// NA flags (first byte of the reserved word).
    pub fn flags(&self) -> NeighborFlags {
        NeighborFlags::from_bits_retain(bytes::u8_at(self.buffer.as_ref(), field::FLAGS))
    }

    /// The whole 32-bit flags/reserved word.
    pub fn reserved_word(&self) -> u32 {
        bytes::u32_at(self.buffer.as_ref(), field::RESERVED)
    }

    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::array::<16>(
            self.buffer.as_ref(),
            field::TARGET.start,
        ))
    }

    /// The raw options area.
    pub fn options(&self) -> &[u8] {
        self.buffer.as_ref().get(field::OPTIONS..).unwrap_or(&[])
    }

    /// Iterate over the options.
    pub fn option_iter(&self) -> NdOptions<'_> {
        NdOptions {
            rest: self.options(),
        }
    }

    /// Whether the ICMPv6 checksum over the pseudo-header of (`src`, `dst`, 58, buffer
    /// length) and the whole buffer is correct. Pass exactly the IPv6 payload.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let Ok(len) = u32::try_from(b.len()) else {
            return false;
        };
        let ph = checksum::pseudo_header_v6(src, dst, IPPROTO_ICMPV6, len);
        checksum::verify(checksum::combine(&[ph, checksum::data(b)]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the ICMPv6 type.
    pub fn set_msg_type(&mut self, value: Message) {
        bytes::set_u8_at(self.buffer.as_mut(), field::TYPE, value.into());
    }

    /// Set the ICMPv6 code.
    pub fn set_msg_code(&mut self, value: u8) {
        bytes::set_u8_at(self.buffer.as_mut(), field::CODE, value);
    }

    /// Set the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        bytes::set_u16_at(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Set the flags byte and clear the rest of the reserved word.
    pub fn set_flags(&mut self, value: NeighborFlags) {
        bytes::set_u32_at(
            self.buffer.as_mut(),
            field::RESERVED,
            u32::from(value.bits()) << 24,
        );
    }

    /// Set the target address.
    pub fn set_target_addr(&mut self, value: Ipv6Addr) {
        bytes::set_bytes(self.buffer.as_mut(), field::TARGET.start, &value.octets());
    }

    /// Mutable options area.
    pub fn options_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::OPTIONS..)
            .unwrap_or(&mut [])
    }

    /// Compute and store the checksum over the pseudo-header and the whole buffer.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_over(src, dst, len);
    }

    fn fill_checksum_over(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr, len: usize) {
        self.set_checksum(0);
        let data = bytes::slice(self.buffer.as_ref(), 0..len);
        let plen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let ph = checksum::pseudo_header_v6(src, dst, IPPROTO_ICMPV6, plen);
        self.set_checksum(checksum::finish(checksum::combine(&[
            ph,
            checksum::data(data),
        ])));
    }
}

/// A validated neighbor solicitation or advertisement (Ethernet link layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Repr {
    /// "Who has `target_addr`?" from `source_lladdr` (absent when the source is ::, DAD).
    NeighborSolicit {
        target_addr: Ipv6Addr,
        source_lladdr: Option<EthernetAddress>,
    },
    /// "`target_addr` is at `target_lladdr`".
    NeighborAdvert {
        flags: NeighborFlags,
        target_addr: Ipv6Addr,
        target_lladdr: Option<EthernetAddress>,
    },
}

fn is_multicast(a: &Ipv6Addr) -> bool {
    a.octets()[0] == 0xff
}

impl Repr {
    /// Parse an NS or NA carried from `src` to `dst` (the IPv6 addresses): correct ICMPv6
    /// checksum, code 0, well-formed options, target not multicast; NS from `::` carries
    /// no source link-layer option; NA to a multicast destination is not Solicited. The
    /// first link-layer option of the right kind is taken; other options are skipped.
    /// The hop limit (255) is the caller's to check, or use [`parse_ipv6`].
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) || packet.msg_code() != 0 {
            return Err(Error);
        }
        let target_addr = packet.target_addr();
        if is_multicast(&target_addr) {
            return Err(Error);
        }
        let wanted = match packet.msg_type() {
            Message::NeighborSolicit => OPT_SOURCE_LLADDR,
            Message::NeighborAdvert => OPT_TARGET_LLADDR,
            Message::Unknown(_) => return Err(Error),
        };
        let mut lladdr = None;
        for opt in packet.option_iter() {
            let opt = opt?;
            if opt.kind == wanted && lladdr.is_none() {
                lladdr = Some(opt.lladdr().ok_or(Error)?);
            }
        }
        match packet.msg_type() {
            Message::NeighborSolicit => {
                if src.is_unspecified() && lladdr.is_some() {
                    return Err(Error);
                }
                Ok(Repr::NeighborSolicit {
                    target_addr,
                    source_lladdr: lladdr,
                })
            }
            _ => {
                let flags = packet.flags();
                if is_multicast(dst) && flags.contains(NeighborFlags::SOLICITED) {
                    return Err(Error);
                }
                Ok(Repr::NeighborAdvert {
                    flags,
                    target_addr,
                    target_lladdr: lladdr,
                })
            }
        }
    }

    /// Bytes `emit` writes: 24, plus 8 with a link-layer option.
    pub const fn buffer_len(&self) -> usize {
        let lladdr = match self {
            Repr::NeighborSolicit { source_lladdr, .. } => source_lladdr.is_some(),
            Repr::NeighborAdvert { target_lladdr, .. } => target_lladdr.is_some(),
        };
        if lladdr {
            HEADER_LEN + LLADDR_OPT_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Write the message and its ICMPv6 checksum (pseudo-header of `src`, `dst`, 58,
    /// `buffer_len()`).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) {
        let (msg, flags, target, opt) = match *self {
            Repr::NeighborSolicit {
                target_addr,
                source_lladdr,
            } => (
                Message::NeighborSolicit,
                NeighborFlags::empty(),
                target_addr,
                source_lladdr.map(|m| (OPT_SOURCE_LLADDR, m)),
            ),
            Repr::NeighborAdvert {
                flags,
                target_addr,
                target_lladdr,
            } => (
                Message::NeighborAdvert,
                flags,
                target_addr,
                target_lladdr.map(|m| (OPT_TARGET_LLADDR, m)),
            ),
        };
        packet.set_msg_type(msg);
        packet.set_msg_code(0);
        packet.set_flags(flags);
        packet.set_target_addr(target);
        if let Some((kind, mac)) = opt {
            let o = packet.options_mut();
            bytes::set_u8_at(o, 0, kind);
            bytes::set_u8_at(o, 1, 1);
            bytes::set_bytes(o, 2, &mac);
        }
        packet.fill_checksum_over(src, dst, self.buffer_len());
    }
}

/// Write a complete IPv6 packet carrying `nd`:
///
/// ```text
/// [0..40)  IPv6 header: traffic class 0, next header 58, hop limit 255, src -> dst
/// [40..)   the NS/NA message with its ICMPv6 checksum (24 or 32 bytes)
/// ```
///
/// Returns the bytes written; `Err` if `buf` is too short.
pub fn emit_ipv6(buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, nd: &Repr) -> Result<usize> {
    let len = nd.buffer_len();
    let rest = ipv6::emit_header(buf, src, dst, 0, IPPROTO_ICMPV6, len)?;
    let body = rest.get_mut(..len).ok_or(Error)?;
    nd.emit(&mut Packet::new_unchecked(body), &src, &dst);
    Ok(ipv6::HEADER_LEN.saturating_add(len))
}

/// Write the unsolicited neighbor advertisement FreeBSD's CARP sends for `target` on
/// becoming MASTER: `src` (the parent's address, usually link-local) -> ff02::1, flags
/// Override (plus Router if `router`, i.e. when forwarding), target link-layer option =
/// `lladdr` (the virtual MAC). Send it in a frame from the virtual MAC to 33:33:00:00:00:01.
/// Returns the bytes written ([`NA_PACKET_LEN`] = 72); `Err` if `buf` is shorter.
pub fn emit_unsolicited_na(
    buf: &mut [u8],
    src: Ipv6Addr,
    target: Ipv6Addr,
    lladdr: EthernetAddress,
    router: bool,
) -> Result<usize> {
    let mut flags = NeighborFlags::OVERRIDE;
    flags.set(NeighborFlags::ROUTER, router);
    let na = Repr::NeighborAdvert {
        flags,
        target_addr: target,
        target_lladdr: Some(lladdr),
    };
    emit_ipv6(buf, src, ipv6::LINK_LOCAL_ALL_NODES, &na)
}

/// The answer to a neighbor solicitation from `ns_src` for `target`, owned with link-layer
/// address `lladdr` (RFC 4861 7.2.4, as FreeBSD answers for a MASTER CARP address):
/// to `ns_src` with Solicited + Override, or, if `ns_src` is `::` (DAD), to ff02::1 with
/// Override only; Router if `router`. Returns the IPv6 destination and the NA to send
/// (e.g. with [`emit_ipv6`]).
pub fn answer_ns(
    ns_src: Ipv6Addr,
    target: Ipv6Addr,
    lladdr: EthernetAddress,
    router: bool,
) -> (Ipv6Addr, Repr) {
    let mut flags = NeighborFlags::OVERRIDE;
    flags.set(NeighborFlags::ROUTER, router);
    let dst = if ns_src.is_unspecified() {
        ipv6::LINK_LOCAL_ALL_NODES
    } else {
        flags.insert(NeighborFlags::SOLICITED);
        ns_src
    };
    (
        dst,
        Repr::NeighborAdvert {
            flags,
            target_addr: target,
            target_lladdr: Some(lladdr),
        },
    )
}

/// Parse an IPv6 packet carrying an NS or NA: version 6, next header 58 (no extension
/// headers), hop limit 255, then [`Repr::parse`] on the payload.
pub fn parse_ipv6(packet: &[u8]) -> Result<(ipv6::Repr, Repr)> {
    let ip = ipv6::Packet::new_checked(packet)?;
    let ipr = ipv6::Repr::parse(&ip)?;
    if ipr.next_header != IPPROTO_ICMPV6 || ipr.hop_limit != super::CARP_TTL {
        return Err(Error);
    }
    let nd = Repr::parse(
        &Packet::new_checked(ip.payload())?,
        &ipr.src_addr,
        &ipr.dst_addr,
    )?;
    Ok((ipr, nd))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors built independently (Python) and checked with tshark 4.0.17 (checksums
    // 0xca63, 0x4961, 0x8ae4 "[correct]").
    /// Unsolicited NA: fe80::1 -> ff02::1, O, target 2001:db8::100, TLLA 00:00:5e:00:01:01.
    #[rustfmt::skip]
    static UNSOLICITED_NA: [u8; 72] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, // IPv6: ver/tc/flow, payload length, next header 58, hop limit
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // dst
        0x88, 0x00, 0xca, 0x63, 0x20, 0x00, 0x00, 0x00, // ICMPv6: type, code, cksum, flags/reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // target
        0x02, 0x01, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x01, // link-layer address option
    ];
    /// NS: fe80::2 -> ff02::1:ff00:100, target 2001:db8::100, SLLA 02:00:00:00:00:02.
    #[rustfmt::skip]
    static NS: [u8; 72] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, // IPv6: ver/tc/flow, payload length, next header 58, hop limit
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // src
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x01, 0x00, // dst
        0x87, 0x00, 0x49, 0x61, 0x00, 0x00, 0x00, 0x00, // ICMPv6: type, code, cksum, flags/reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // target
        0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // link-layer address option
    ];
    /// Solicited NA answering NS: fe80::1 -> fe80::2, S|O, TLLA 00:00:5e:00:01:01.
    #[rustfmt::skip]
    static SOLICITED_NA: [u8; 72] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, // IPv6: ver/tc/flow, payload length, next header 58, hop limit
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // dst
        0x88, 0x00, 0x8a, 0xe4, 0x60, 0x00, 0x00, 0x00, // ICMPv6: type, code, cksum, flags/reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // target
        0x02, 0x01, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x01, // link-layer address option
    ];

    const VMAC: EthernetAddress = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];
    const PEER_MAC: EthernetAddress = [0x02, 0, 0, 0, 0, 0x02];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn deconstruct_na() {
        let p = Packet::new_checked(&UNSOLICITED_NA[40..]).unwrap();
        assert_eq!(p.msg_type(), Message::NeighborAdvert);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0xca63);
        assert_eq!(p.flags(), NeighborFlags::OVERRIDE);
        assert_eq!(p.reserved_word(), 0x2000_0000);
        assert_eq!(p.target_addr(), a("2001:db8::100"));
        let opts: alloc::vec::Vec<_> = p.option_iter().collect();
        assert_eq!(
            opts,
            [Ok(NdOption {
                kind: 2,
                data: &VMAC
            })]
        );
        assert!(p.verify_checksum(&a("fe80::1"), &a("ff02::1")));
        assert!(!p.verify_checksum(&a("fe80::2"), &a("ff02::1")));
    }

    #[test]
    fn construct_na() {
        let mut b = [0u8; 32];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::NeighborAdvert);
        p.set_msg_code(0);
        p.set_flags(NeighborFlags::OVERRIDE);
        p.set_target_addr(a("2001:db8::100"));
        p.options_mut()
            .copy_from_slice(&[2, 1, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x01]);
        p.fill_checksum(&a("fe80::1"), &a("ff02::1"));
        assert_eq!(b[..], UNSOLICITED_NA[40..]);
    }

    #[test]
    fn unsolicited_na_builder() {
        let mut b = [0u8; 80];
        let n = emit_unsolicited_na(&mut b, a("fe80::1"), a("2001:db8::100"), VMAC, false).unwrap();
        assert_eq!(n, NA_PACKET_LEN);
        assert_eq!(b[..n], UNSOLICITED_NA);
        let (ip, na) = parse_ipv6(&b[..n]).unwrap();
        assert_eq!(ip.dst_addr, ipv6::LINK_LOCAL_ALL_NODES);
        assert_eq!(
            na,
            Repr::NeighborAdvert {
                flags: NeighborFlags::OVERRIDE,
                target_addr: a("2001:db8::100"),
                target_lladdr: Some(VMAC)
            }
        );
        assert_eq!(
            emit_unsolicited_na(&mut b[..71], a("fe80::1"), a("2001:db8::100"), VMAC, false),
            Err(Error)
        );
        // Router flag when forwarding.
        emit_unsolicited_na(&mut b, a("fe80::1"), a("2001:db8::100"), VMAC, true).unwrap();
        let (_, na) = parse_ipv6(&b[..72]).unwrap();
        let Repr::NeighborAdvert { flags, .. } = na else {
            panic!()
        };
        assert_eq!(flags, NeighborFlags::OVERRIDE | NeighborFlags::ROUTER);
    }

    #[test]
    fn parse_ns_and_answer() {
        let (ip, ns) = parse_ipv6(&NS).unwrap();
        assert_eq!(
            ns,
            Repr::NeighborSolicit {
                target_addr: a("2001:db8::100"),
                source_lladdr: Some(PEER_MAC)
            }
        );
        assert_eq!(ip.dst_addr, ipv6::solicited_node(&a("2001:db8::100")));
        let Repr::NeighborSolicit { target_addr, .. } = ns else {
            panic!()
        };
        let (dst, na) = answer_ns(ip.src_addr, target_addr, VMAC, false);
        assert_eq!(dst, a("fe80::2"));
        let mut b = [0u8; 72];
        assert_eq!(emit_ipv6(&mut b, a("fe80::1"), dst, &na).unwrap(), 72);
        assert_eq!(b, SOLICITED_NA);
        // Round trip of the NS itself.
        let mut c = [0u8; 72];
        assert_eq!(
            emit_ipv6(&mut c, ip.src_addr, ip.dst_addr, &ns).unwrap(),
            72
        );
        assert_eq!(c, NS);
    }

    #[test]
    fn dad_ns() {
        // NS from :: (DAD) has no SLLA; the answer goes to all-nodes without S.
        let ns = Repr::NeighborSolicit {
            target_addr: a("2001:db8::100"),
            source_lladdr: None,
        };
        assert_eq!(ns.buffer_len(), 24);
        let mut b = [0u8; 72];
        let dst = ipv6::solicited_node(&a("2001:db8::100"));
        let n = emit_ipv6(&mut b, Ipv6Addr::UNSPECIFIED, dst, &ns).unwrap();
        assert_eq!(n, 64);
        assert_eq!(parse_ipv6(&b[..n]).unwrap().1, ns);
        let (dst, na) = answer_ns(Ipv6Addr::UNSPECIFIED, a("2001:db8::100"), VMAC, false);
        assert_eq!(dst, ipv6::LINK_LOCAL_ALL_NODES);
        assert_eq!(
            na,
            Repr::NeighborAdvert {
                flags: NeighborFlags::OVERRIDE,
                target_addr: a("2001:db8::100"),
                target_lladdr: Some(VMAC)
            }
        );
        // An SLLA from :: is invalid.
        let bad = Repr::NeighborSolicit {
            target_addr: a("2001:db8::100"),
            source_lladdr: Some(PEER_MAC),
        };
        let n = emit_ipv6(&mut b, Ipv6Addr::UNSPECIFIED, dst, &bad).unwrap();
        assert_eq!(parse_ipv6(&b[..n]), Err(Error));
    }

    #[test]
    fn rejects() {
        // Bad checksum.
        let mut b = NS;
        b[50] ^= 1;
        assert_eq!(parse_ipv6(&b), Err(Error));
        // Hop limit 64.
        let mut b = NS;
        b[7] = 64;
        assert_eq!(parse_ipv6(&b), Err(Error));
        // Zero-length option (checksum fixed up).
        let mut b = NS;
        b[65] = 0;
        let mut p = Packet::new_unchecked(&mut b[40..]);
        p.fill_checksum(&a("fe80::2"), &a("ff02::1:ff00:100"));
        assert_eq!(parse_ipv6(&b), Err(Error));
        let p = Packet::new_unchecked(&b[40..]);
        assert_eq!(
            p.option_iter().collect::<alloc::vec::Vec<_>>(),
            [Err(Error)]
        );
        // Option longer than the message.
        let mut b = NS;
        b[65] = 2;
        let mut p = Packet::new_unchecked(&mut b[40..]);
        p.fill_checksum(&a("fe80::2"), &a("ff02::1:ff00:100"));
        assert_eq!(parse_ipv6(&b), Err(Error));
        // Multicast target.
        let ns = Repr::NeighborSolicit {
            target_addr: a("ff02::1"),
            source_lladdr: None,
        };
        let mut c = [0u8; 64];
        let n = emit_ipv6(&mut c, a("fe80::2"), a("ff02::1"), &ns).unwrap();
        assert_eq!(parse_ipv6(&c[..n]), Err(Error));
        // Solicited NA to a multicast destination.
        let na = Repr::NeighborAdvert {
            flags: NeighborFlags::SOLICITED,
            target_addr: a("2001:db8::1"),
            target_lladdr: None,
        };
        let n = emit_ipv6(&mut c, a("fe80::2"), a("ff02::1"), &na).unwrap();
        assert_eq!(parse_ipv6(&c[..n]), Err(Error));
        // Other ICMPv6 type, nonzero code, short.
        let mut b = NS;
        b[40] = 128;
        let mut p = Packet::new_unchecked(&mut b[40..]);
        p.fill_checksum(&a("fe80::2"), &a("ff02::1:ff00:100"));
        assert_eq!(p.msg_type(), Message::Unknown(128));
        assert_eq!(parse_ipv6(&b), Err(Error));
        let mut b = NS;
        b[41] = 1;
        let mut p = Packet::new_unchecked(&mut b[40..]);
        p.fill_checksum(&a("fe80::2"), &a("ff02::1:ff00:100"));
        assert_eq!(parse_ipv6(&b), Err(Error));
        assert_eq!(Packet::new_checked(&NS[40..63]), Err(Error));
    }

    #[test]
    fn unknown_options_skipped_and_flags_kept() {
        // NA with an unknown option (type 14, nonce, 8 bytes) before the TLLA and an
        // unknown flag bit.
        let mut b = [0u8; 40];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(Message::NeighborAdvert);
        p.set_flags(NeighborFlags::from_bits_retain(0x21));
        p.set_target_addr(a("2001:db8::5"));
        p.options_mut()[..8].copy_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
        p.options_mut()[8..].copy_from_slice(&[2, 1, 0, 0, 0x5e, 0, 1, 9]);
        p.fill_checksum(&a("fe80::9"), &a("fe80::1"));
        let r = Repr::parse(&p, &a("fe80::9"), &a("fe80::1")).unwrap();
        assert_eq!(
            r,
            Repr::NeighborAdvert {
                flags: NeighborFlags::from_bits_retain(0x21),
                target_addr: a("2001:db8::5"),
                target_lladdr: Some([0, 0, 0x5e, 0, 1, 9])
            }
        );
    }
}

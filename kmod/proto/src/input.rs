//! The receive path: every check FreeBSD 15 applies to an incoming CARP or VRRPv3
//! advertisement, in its order, with the statistic each failure counts (reference A.5, A.7).
//!
//! Sans-IO and allocation-free: the caller hands in one received IP packet (or the IP-level
//! facts about it, [`IpFacts`]) and a [`VhidLookup`] through which the vhid-level facts are
//! asked (the vhid table implements it); the result is an [`Outcome`]: the [`Verdict`], the
//! statistics to count, a log-level-2 diagnostic as data ([`Diag`]) and, for an accepted
//! packet, the parsed [`Advert`] to hand to the vhid state machine.
//!
//! # Order of checks (FreeBSD 15, `carp_input` / `carp6_input` / `carp_input_c` / `vrrp_input_c`)
//!
//! IPv4 (`carp_input`):
//! 1. count `ipackets`;
//! 2. `net.inet.carp.allow` off: drop, nothing else counted;
//! 3. fewer than 8 bytes (a VRRPv3 header) after the IP header: `badlen`;
//! 4. version nibble 2 (CARP, minimum 36 bytes) or 3 (VRRPv3, minimum 8), else `badver`;
//! 5. shorter than the version's minimum: `badlen`;
//! 6. CARP: Internet checksum over everything from the end of the IP header to `ip_len`
//!    must verify, else `badsum`; then the common CARP part with the TTL.
//!    VRRPv3: straight to the common VRRP part with the pseudo-header sum.
//!
//! IPv6 (`carp6_input`): count `ipackets6`; allow; the receiving interface has no CARP at
//! all: `badif`; fewer than 8 bytes: `badlen`; version dispatch (`badver`); shorter than
//! 40 + minimum: `badlen`; CARP: checksum over exactly 36 bytes (`badsum`).
//!
//! Common CARP part (`carp_input_c`): the vhid among the interface's CARP addresses of the
//! same family, else `badvhid` (vhid 0 from one of our own CARP addresses is a looped
//! packet: `badif`); the vhid is configured as VRRPv3: `badver`; the vhid's advertisement
//! destination for this family is multicast and the TTL/hop limit is not 255: `badttl`
//! (unicast peers skip it); HMAC: `badauth`; accepted.
//!
//! Common VRRPv3 part (`vrrp_input_c`): vhid lookup as above; the vhid is configured as
//! CARP: `badver`; TTL/hop limit not 255 (always required): `badttl`; checksum with the
//! IPv4/IPv6 pseudo-header: `badsum`; accepted. (FreeBSD then ignores the advertisement
//! if its own priority is 255; that, like everything after acceptance, is the vhid state
//! machine's business.)
//!
//! Never counted by FreeBSD 15's receive path and so not here either: `hdrops` (m_pullup
//! failures; a contiguous buffer cannot fail), `badaddrs`.
//!
//! Not checked, as in FreeBSD: the CARP type nibble, authlen, the reserved byte, the VRRPv3
//! type nibble, address count and address list, the VRRPv3 reserved bits of the interval
//! word, and replay (the counter is adopted, not compared).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::auth::{scope_cleared, MD_LEN};
use crate::types::{CarpStats, Family, Stat, Version, IPPROTO_CARP};
use crate::wire::{carp, checksum, ipv4, ipv6, vrrp};

/// TTL / hop limit required of multicast advertisements (`CARP_DFLTTL`).
pub const CARP_DFLTTL: u8 = 255;
/// Size of a VRRPv3 header: the minimum for any advertisement (`sizeof(struct vrrpv3_header)`).
pub const VRRP_HEADER_LEN: usize = vrrp::HEADER_LEN;
/// Size of a CARP advertisement (`sizeof(struct carp_header)`).
pub const CARP_HEADER_LEN: usize = carp::HEADER_LEN;
/// `sizeof(struct ip)`, which FreeBSD subtracts in two length diagnostics (also for IPv6).
const SIZEOF_STRUCT_IP: usize = 20;

/// What the receive path asks about one vhid (implemented by the vhid state machine).
pub trait VhidView {
    /// Protocol the vhid is configured for (`sc_version`).
    fn version(&self) -> Version;
    /// Whether the vhid's advertisement destination for `family` (`sc_carpaddr` /
    /// `sc_carpaddr6`) is a multicast address. Only then is TTL/hop limit 255 required of
    /// CARP advertisements (a unicast `peer`/`peer6` disables the check).
    fn advert_dest_is_multicast(&self, family: Family) -> bool;
    /// Whether `md` is the vhid's HMAC for `counter` ([`crate::auth::Authenticator::verify`]).
    /// Only asked of CARP vhids.
    fn verify(&self, counter: u64, md: &[u8; MD_LEN]) -> bool;
}

/// The vhid-level facts of the receiving interface (its CARP container, `ifp->if_carp`).
pub trait VhidLookup {
    /// The per-vhid view.
    type Vhid: VhidView + ?Sized;
    /// The vhid numbered `vhid` that has at least one address of `family` on the receiving
    /// interface (`carp_find_ifa`: first match in the interface's address list), if any.
    fn find(&self, family: Family, vhid: u8) -> Option<&Self::Vhid>;
    /// Whether `src` is one of the CARP addresses (any vhid) on the receiving interface
    /// (`carp_source_is_self`). Only asked for advertisements claiming vhid 0.
    fn source_is_self(&self, src: &IpAddr) -> bool;
}

/// What became of a received packet. [`Verdict::as_str`] gives the stable names used by
/// the fixtures and tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Authenticated (CARP) or checked (VRRPv3): hand [`Outcome::advert`] to the vhid.
    Valid,
    /// `net.inet.carp.allow` is 0: dropped silently (only `ipackets`/`ipackets6` counted).
    DroppedDisabled,
    /// Too short (`badlen`).
    BadLength,
    /// Unknown version nibble, or version different from the vhid's (`badver`).
    BadVersion,
    /// Checksum does not verify (`badsum`).
    BadChecksum,
    /// IPv6 advertisement on an interface without CARP (`badif`).
    BadInterface,
    /// vhid 0 from one of our own CARP addresses: a looped packet (`badif`).
    Looped,
    /// No vhid with that number and an address of that family here (`badvhid`).
    UnknownVhid,
    /// TTL/hop limit not 255 where required (`badttl`).
    BadTtl,
    /// HMAC mismatch (`badauth`).
    BadAuth,
    /// Not an IP packet FreeBSD's IP layer would deliver to protocol 112 (bad IP header or
    /// checksum, fragment, other protocol, IPv6 extension headers): nothing counted. Only
    /// returned by the whole-packet entry points.
    NotDelivered,
}

impl Verdict {
    /// Stable name: `valid`, `dropped_disabled`, `bad_length`, `bad_version`,
    /// `bad_checksum`, `bad_interface`, `looped`, `unknown_vhid`, `bad_ttl`, `bad_auth`,
    /// `not_delivered`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::DroppedDisabled => "dropped_disabled",
            Verdict::BadLength => "bad_length",
            Verdict::BadVersion => "bad_version",
            Verdict::BadChecksum => "bad_checksum",
            Verdict::BadInterface => "bad_interface",
            Verdict::Looped => "looped",
            Verdict::UnknownVhid => "unknown_vhid",
            Verdict::BadTtl => "bad_ttl",
            Verdict::BadAuth => "bad_auth",
            Verdict::NotDelivered => "not_delivered",
        }
    }

    /// The `struct carpstats` error counter this verdict increments, if any (in addition
    /// to `ipackets`/`ipackets6`, see [`Outcome::received`]).
    pub const fn stat(self) -> Option<Stat> {
        match self {
            Verdict::Valid | Verdict::DroppedDisabled | Verdict::NotDelivered => None,
            Verdict::BadLength => Some(Stat::BadLen),
            Verdict::BadVersion => Some(Stat::BadVer),
            Verdict::BadChecksum => Some(Stat::BadSum),
            Verdict::BadInterface | Verdict::Looped => Some(Stat::BadIf),
            Verdict::UnknownVhid => Some(Stat::BadVhid),
            Verdict::BadTtl => Some(Stat::BadTtl),
            Verdict::BadAuth => Some(Stat::BadAuth),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CARP advertisement that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CarpAdvert {
    pub vhid: u8,
    pub advbase: u8,
    pub advskew: u8,
    /// The sender's counter (the receiver adopts it, reference A.3).
    pub counter: u64,
}

/// A VRRPv3 advertisement that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VrrpAdvert {
    pub vrid: u8,
    pub priority: u8,
    /// Count of addresses field, as received (not checked).
    pub addr_count: u8,
    /// The whole 16-bit word holding the advertisement interval, as FreeBSD uses it
    /// (`ntohs(vrrp_max_adver_int)`, reserved upper 4 bits *not* masked).
    pub max_adver_int_raw: u16,
}

impl VrrpAdvert {
    /// The RFC 9568 Max Advertise Interval in centiseconds (low 12 bits).
    pub const fn max_adver_int_cs(&self) -> u16 {
        self.max_adver_int_raw & 0x0fff
    }
}

/// The protocol-specific content of an accepted advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdvertBody {
    Carp(CarpAdvert),
    Vrrp(VrrpAdvert),
}

/// An accepted advertisement, for the vhid state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Family it arrived in (selects the master-down timer, `carp_setrun(sc, af)`).
    pub family: Family,
    /// IP source address.
    pub src: IpAddr,
    pub body: AdvertBody,
}

impl Advert {
    /// The vhid (CARP) or VRID (VRRPv3) it is for.
    pub const fn vhid(&self) -> u8 {
        match self.body {
            AdvertBody::Carp(c) => c.vhid,
            AdvertBody::Vrrp(v) => v.vrid,
        }
    }
}

/// The function FreeBSD logs a diagnostic from (`__func__`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    CarpInput,
    Carp6Input,
    CarpInputC,
    VrrpInputC,
}

impl Func {
    pub const fn as_str(self) -> &'static str {
        match self {
            Func::CarpInput => "carp_input",
            Func::Carp6Input => "carp6_input",
            Func::CarpInputC => "carp_input_c",
            Func::VrrpInputC => "vrrp_input_c",
        }
    }
}

/// The diagnostic FreeBSD 15 logs for a dropped packet when `net.inet.carp.log` > 1
/// (`CARP_DEBUG`, syslog `LOG_DEBUG`, no "carp: " prefix), as data. Render it with
/// [`Diag::write`] / [`Diag::display`], which reproduce FreeBSD's format strings; the
/// interface name is the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Diag {
    /// `"carp_input: received len <len> < sizeof(struct vrrpv3_header) on <if>"`;
    /// `len` is FreeBSD's `m_len - sizeof(struct ip)`.
    ShortForHeader { len: usize },
    /// `"<func>: unsupported version <version> on <if>"`.
    UnsupportedVersion { func: Func, version: u8 },
    /// `"<func>: received len <len> < <min> on <if>"`; `len` is FreeBSD's
    /// `m_len - sizeof(struct ip)` (20 is subtracted for IPv6 too), `min` the IP header
    /// length plus the version's minimum.
    ShortForVersion { func: Func, len: usize, min: usize },
    /// `"carp_input: checksum failed on <if>"` / `"carp6_input: checksum failed, on <if>"`.
    ChecksumFailed { func: Func },
    /// `"carp6_input: packet received on non-carp interface: <if>"`.
    NonCarpInterface,
    /// `"carp6_input: packet size <len> too small"` (`len`: the packet's length).
    PacketTooSmall { len: usize },
    /// `"dropping looped packet on interface <if>"`.
    Looped,
    /// `"<if>: invalid version <version>"` (vhid configured for the other protocol).
    InvalidVersion { version: u8 },
    /// `"<func>: received ttl <ttl> != 255 on <if>"`.
    BadTtl { func: Func, ttl: u8 },
    /// `"carp_input_c: incorrect hash for VHID <vhid>@<if>"`.
    IncorrectHash { vhid: u8 },
    /// `"vrrp_input_c: incorrect checksum for VRID <vhid>@<if>"`.
    VrrpIncorrectChecksum { vhid: u8 },
}

impl Diag {
    /// Write FreeBSD's message (without the trailing newline) for interface `ifname`.
    pub fn write<W: fmt::Write>(&self, w: &mut W, ifname: &str) -> fmt::Result {
        match *self {
            Diag::ShortForHeader { len } => write!(
                w,
                "{}: received len {} < sizeof(struct vrrpv3_header) on {}",
                Func::CarpInput.as_str(),
                len,
                ifname
            ),
            Diag::UnsupportedVersion { func, version } => {
                write!(
                    w,
                    "{}: unsupported version {} on {}",
                    func.as_str(),
                    version,
                    ifname
                )
            }
            Diag::ShortForVersion { func, len, min } => {
                write!(
                    w,
                    "{}: received len {} < {} on {}",
                    func.as_str(),
                    len,
                    min,
                    ifname
                )
            }
            Diag::ChecksumFailed {
                func: Func::Carp6Input,
            } => {
                write!(
                    w,
                    "{}: checksum failed, on {}",
                    Func::Carp6Input.as_str(),
                    ifname
                )
            }
            Diag::ChecksumFailed { func } => {
                write!(w, "{}: checksum failed on {}", func.as_str(), ifname)
            }
            Diag::NonCarpInterface => write!(
                w,
                "{}: packet received on non-carp interface: {}",
                Func::Carp6Input.as_str(),
                ifname
            ),
            Diag::PacketTooSmall { len } => {
                write!(
                    w,
                    "{}: packet size {} too small",
                    Func::Carp6Input.as_str(),
                    len
                )
            }
            Diag::Looped => write!(w, "dropping looped packet on interface {}", ifname),
            Diag::InvalidVersion { version } => {
                write!(w, "{}: invalid version {}", ifname, version)
            }
            Diag::BadTtl { func, ttl } => {
                write!(
                    w,
                    "{}: received ttl {} != 255 on {}",
                    func.as_str(),
                    ttl,
                    ifname
                )
            }
            Diag::IncorrectHash { vhid } => write!(
                w,
                "{}: incorrect hash for VHID {}@{}",
                Func::CarpInputC.as_str(),
                vhid,
                ifname
            ),
            Diag::VrrpIncorrectChecksum { vhid } => write!(
                w,
                "{}: incorrect checksum for VRID {}@{}",
                Func::VrrpInputC.as_str(),
                vhid,
                ifname
            ),
        }
    }

    /// A `Display` adapter (for `log`-style formatting without allocation).
    pub fn display<'a>(&'a self, ifname: &'a str) -> DiagDisplay<'a> {
        DiagDisplay { diag: self, ifname }
    }
}

/// See [`Diag::display`].
#[derive(Clone, Copy, Debug)]
pub struct DiagDisplay<'a> {
    diag: &'a Diag,
    ifname: &'a str,
}

impl fmt::Display for DiagDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diag.write(f, self.ifname)
    }
}

/// The result of the receive checks on one packet.
///
/// Invariant: `advert` is `Some` exactly when `verdict` is [`Verdict::Valid`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// `ipackets` or `ipackets6`, counted first for every packet the IP layer delivers
    /// (`None` only for [`Verdict::NotDelivered`]).
    pub received: Option<Stat>,
    /// The log-level-2 diagnostic FreeBSD prints for this drop, if it prints one.
    pub diag: Option<Diag>,
    /// The advertisement, when accepted.
    pub advert: Option<Advert>,
}

impl Outcome {
    const NOT_DELIVERED: Outcome = Outcome {
        verdict: Verdict::NotDelivered,
        received: None,
        diag: None,
        advert: None,
    };

    fn drop(received: Stat, verdict: Verdict, diag: Option<Diag>) -> Outcome {
        Outcome {
            verdict,
            received: Some(received),
            diag,
            advert: None,
        }
    }

    fn accept(received: Stat, advert: Advert) -> Outcome {
        Outcome {
            verdict: Verdict::Valid,
            received: Some(received),
            diag: None,
            advert: Some(advert),
        }
    }

    /// The statistics to increment, in order (at most two: the received counter, then the
    /// verdict's error counter).
    pub fn stats(&self) -> impl Iterator<Item = Stat> {
        self.received.into_iter().chain(self.verdict.stat())
    }

    /// Increment this outcome's statistics in `stats`.
    pub fn count(&self, stats: &mut CarpStats) {
        for s in self.stats() {
            stats.bump(s);
        }
    }
}

/// The IP-level facts about one received CARP/VRRP packet (what `ip_input`/`ip6_input`
/// established before calling the protocol handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpFacts<'a> {
    /// Source address; its family selects the IPv4 or IPv6 path.
    pub src: IpAddr,
    /// Destination address (same family as `src`; used in the VRRPv3 pseudo-header).
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// Length of the IP header (IPv4: IHL * 4; IPv6: 40). Only used to reproduce FreeBSD's
    /// diagnostics exactly.
    pub header_len: usize,
    /// The protocol-112 bytes: IPv4, from the end of the IP header to `ip_len`; IPv6, the
    /// `payload_len` bytes after the fixed header (FreeBSD's `carp6_input` assumes no
    /// extension headers; callers should not pass packets that have them).
    pub payload: &'a [u8],
}

/// Run a whole received IPv4 packet (header included; bytes after `ip_len`, e.g. Ethernet
/// padding, are ignored) through the receive checks. A packet `ip_input` would not deliver
/// to protocol 112 (not IPv4, bad header checksum, a fragment, bad lengths, another
/// protocol) gives [`Verdict::NotDelivered`] with nothing counted.
pub fn input_ipv4<L: VhidLookup + ?Sized>(
    allow: bool,
    lookup: Option<&L>,
    packet: &[u8],
) -> Outcome {
    let Ok(p) = ipv4::Packet::new_checked(packet) else {
        return Outcome::NOT_DELIVERED;
    };
    let Ok(ip) = ipv4::Repr::parse(&p) else {
        return Outcome::NOT_DELIVERED;
    };
    if ip.protocol != IPPROTO_CARP {
        return Outcome::NOT_DELIVERED;
    }
    let facts = IpFacts {
        src: IpAddr::V4(ip.src_addr),
        dst: IpAddr::V4(ip.dst_addr),
        ttl: ip.ttl,
        header_len: p.header_len(),
        payload: p.payload(),
    };
    input(allow, lookup, &facts)
}

/// The kernel's protocol-112 input for IPv4, as FreeBSD's `carp_input` reads what
/// `ip_input` delivered: `packet` starts at the IP header, `offset` is `*offp` (the header
/// length `ip_input` validated), the payload ends at `ip_len` (`ip_input` trimmed the
/// packet to it). Nothing `ip_input` already checked is checked again: not the header
/// checksum, which `ip_dooptions` (timestamp and record-route options) and reassembly
/// (`ip_len`, `ip_off`) leave stale by design, nor the fragment fields. Every packet is
/// counted (`ipackets` first); one too short for the header it claims is `badlen`, as
/// FreeBSD counts it, never dropped silently.
pub fn input_ipv4_at<L: VhidLookup + ?Sized>(
    allow: bool,
    lookup: Option<&L>,
    packet: &[u8],
    offset: usize,
) -> Outcome {
    let header = ipv4::Packet::new_unchecked(packet);
    let fixed = packet.len() >= ipv4::HEADER_LEN;
    let (src, dst, ttl) = if fixed {
        (header.src_addr(), header.dst_addr(), header.ttl())
    } else {
        (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0)
    };
    let end = if fixed { usize::from(header.total_len()).min(packet.len()) } else { 0 };
    // A header shorter than the fixed one or past ip_len leaves no payload: badlen.
    let payload = if fixed && offset >= ipv4::HEADER_LEN {
        packet.get(offset..end).unwrap_or(&[])
    } else {
        &[]
    };
    let facts = IpFacts {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl,
        header_len: offset,
        payload,
    };
    input(allow, lookup, &facts)
}

/// Run a whole received IPv6 packet (fixed header, no extension headers; bytes after the
/// payload length are ignored) through the receive checks. A packet that is not IPv6 with
/// next header 112 right after the fixed header gives [`Verdict::NotDelivered`].
pub fn input_ipv6<L: VhidLookup + ?Sized>(
    allow: bool,
    lookup: Option<&L>,
    packet: &[u8],
) -> Outcome {
    input_ipv6_at(allow, lookup, packet, ipv6::HEADER_LEN)
}

/// [`input_ipv6`] for a packet whose CARP/VRRP header starts at `offset`, as the kernel's
/// IPv6 input hands it over (`*offp`, past any extension headers it processed), which is
/// where FreeBSD's `carp6_input` reads it. At `offset` 40 the fixed header must name
/// protocol 112; past it the caller vouches that the last next-header did. An `offset`
/// inside the fixed header or beyond the payload gives [`Verdict::NotDelivered`].
pub fn input_ipv6_at<L: VhidLookup + ?Sized>(
    allow: bool,
    lookup: Option<&L>,
    packet: &[u8],
    offset: usize,
) -> Outcome {
    let Ok(p) = ipv6::Packet::new_checked(packet) else {
        return Outcome::NOT_DELIVERED;
    };
    let Ok(ip) = ipv6::Repr::parse(&p) else {
        return Outcome::NOT_DELIVERED;
    };
    if offset == ipv6::HEADER_LEN && ip.next_header != IPPROTO_CARP {
        return Outcome::NOT_DELIVERED;
    }
    let Some(payload) = offset.checked_sub(ipv6::HEADER_LEN).and_then(|skip| p.payload().get(skip..)) else {
        return Outcome::NOT_DELIVERED;
    };
    let facts = IpFacts {
        src: IpAddr::V6(ip.src_addr),
        dst: IpAddr::V6(ip.dst_addr),
        ttl: ip.hop_limit,
        header_len: offset,
        payload,
    };
    input(allow, lookup, &facts)
}

/// The receive checks on the IP-level facts of one packet (`allow` is
/// `net.inet.carp.allow`; `lookup` is the receiving interface's CARP container, `None` when
/// it has none). If `src` and `dst` are of different families the packet is
/// [`Verdict::NotDelivered`].
pub fn input<L: VhidLookup + ?Sized>(allow: bool, lookup: Option<&L>, ip: &IpFacts<'_>) -> Outcome {
    match (ip.src, ip.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => input4(allow, lookup, ip, src, dst),
        (IpAddr::V6(src), IpAddr::V6(dst)) => input6(allow, lookup, ip, src, dst),
        _ => Outcome::NOT_DELIVERED,
    }
}

/// The protocol an advertisement claims (version nibble) and its minimum length.
#[derive(Clone, Copy)]
enum Proto {
    Carp,
    Vrrp,
}

impl Proto {
    fn dispatch(version_nibble: u8) -> Option<Proto> {
        match version_nibble {
            2 => Some(Proto::Carp),
            3 => Some(Proto::Vrrp),
            _ => None,
        }
    }

    const fn min_len(self) -> usize {
        match self {
            Proto::Carp => CARP_HEADER_LEN,
            Proto::Vrrp => VRRP_HEADER_LEN,
        }
    }
}

/// The version nibble (high nibble of the first byte), 0 if absent.
fn version_nibble(payload: &[u8]) -> u8 {
    payload.first().copied().unwrap_or(0) >> 4
}

/// `carp_input`.
fn input4<L: VhidLookup + ?Sized>(
    allow: bool,
    lookup: Option<&L>,
    ip: &IpFacts<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Outcome {
    const RX: Stat = Stat::IPackets;
    if !allow {
        return Outcome::drop(RX, Verdict::DroppedDisabled, None);
    }
    let payload = ip.payload;
    // FreeBSD prints m_len - sizeof(struct ip): the whole packet minus 20.
    let printed_len = ip
        .header_len
        .saturating_add(payload.len())
        .saturating_sub(SIZEOF_STRUCT_IP);
    if payload.len() < VRRP_HEADER_LEN {
        return Outcome::drop(
            RX,
            Verdict::BadLength,
            Some(Diag::ShortForHeader { len: printed_len }),
        );
    }
    let version = version_nibble(payload);
    let Some(proto) = Proto::dispatch(version) else {
        let diag = Diag::UnsupportedVersion {
            func: Func::CarpInput,
            version,
        };
        return Outcome::drop(RX, Verdict::BadVersion, Some(diag));
    };
    if payload.len() < proto.min_len() {
        let min = ip.header_len.saturating_add(proto.min_len());
        let diag = Diag::ShortForVersion {
            func: Func::CarpInput,
            len: printed_len,
            min,
        };
        return Outcome::drop(RX, Verdict::BadLength, Some(diag));
    }
    match proto {
        Proto::Carp => {
            // Checksum over the whole CARP payload, up to ip_len.
            let packet = carp::Packet::new_unchecked(payload);
            if !packet.verify_checksum() {
                let diag = Diag::ChecksumFailed {
                    func: Func::CarpInput,
                };
                return Outcome::drop(RX, Verdict::BadChecksum, Some(diag));
            }
            carp_common(RX, lookup, Family::Inet, ip.src, ip.ttl, &packet)
        }
        Proto::Vrrp => {
            let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
            let phdr = checksum::pseudo_header_v4(&src, &dst, IPPROTO_CARP, len);
            vrrp_common(RX, lookup, Family::Inet, ip.src, ip.ttl, payload, phdr)
        }
    }
}

/// `carp6_input`.
fn input6<L: VhidLookup + ?Sized>(
    allow: bool,
    lookup: Option<&L>,
    ip: &IpFacts<'_>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Outcome {
    const RX: Stat = Stat::IPackets6;
    if !allow {
        return Outcome::drop(RX, Verdict::DroppedDisabled, None);
    }
    let Some(lookup) = lookup else {
        return Outcome::drop(RX, Verdict::BadInterface, Some(Diag::NonCarpInterface));
    };
    let payload = ip.payload;
    let packet_len = ip.header_len.saturating_add(payload.len());
    if payload.len() < VRRP_HEADER_LEN {
        return Outcome::drop(
            RX,
            Verdict::BadLength,
            Some(Diag::PacketTooSmall { len: packet_len }),
        );
    }
    let version = version_nibble(payload);
    let Some(proto) = Proto::dispatch(version) else {
        let diag = Diag::UnsupportedVersion {
            func: Func::Carp6Input,
            version,
        };
        return Outcome::drop(RX, Verdict::BadVersion, Some(diag));
    };
    if payload.len() < proto.min_len() {
        let diag = Diag::ShortForVersion {
            func: Func::Carp6Input,
            len: packet_len.saturating_sub(SIZEOF_STRUCT_IP),
            min: ipv6::HEADER_LEN.saturating_add(proto.min_len()),
        };
        return Outcome::drop(RX, Verdict::BadLength, Some(diag));
    }
    match proto {
        Proto::Carp => {
            // Checksum over exactly the 36-byte header (trailing bytes ignored).
            let packet = carp::Packet::new_unchecked(payload);
            if !packet.verify_header_checksum() {
                let diag = Diag::ChecksumFailed {
                    func: Func::Carp6Input,
                };
                return Outcome::drop(RX, Verdict::BadChecksum, Some(diag));
            }
            carp_common(RX, Some(lookup), Family::Inet6, ip.src, ip.ttl, &packet)
        }
        Proto::Vrrp => {
            // in6_cksum_pseudo skips the embedded scope word of scoped addresses.
            let s = Ipv6Addr::from(scope_cleared(&src));
            let d = Ipv6Addr::from(scope_cleared(&dst));
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            let phdr = checksum::pseudo_header_v6(&s, &d, IPPROTO_CARP, len);
            vrrp_common(
                RX,
                Some(lookup),
                Family::Inet6,
                ip.src,
                ip.ttl,
                payload,
                phdr,
            )
        }
    }
}

/// `carp_find_ifa`: the vhid, or the verdict when there is none.
fn find_vhid<'l, L: VhidLookup + ?Sized>(
    lookup: Option<&'l L>,
    family: Family,
    vhid: u8,
    src: &IpAddr,
) -> Result<&'l L::Vhid, (Verdict, Option<Diag>)> {
    let Some(lookup) = lookup else {
        // No CARP on the interface (possible on the IPv4 path): no address matches.
        return Err((Verdict::UnknownVhid, None));
    };
    // vhid 0 is never configured, so it never matches; it is a loop if it comes from us.
    if vhid == 0 && lookup.source_is_self(src) {
        return Err((Verdict::Looped, Some(Diag::Looped)));
    }
    lookup
        .find(family, vhid)
        .ok_or((Verdict::UnknownVhid, None))
}

/// `carp_input_c`, on a packet whose length (>= 36) and checksum were checked.
fn carp_common<L: VhidLookup + ?Sized>(
    rx: Stat,
    lookup: Option<&L>,
    family: Family,
    src: IpAddr,
    ttl: u8,
    packet: &carp::Packet<&[u8]>,
) -> Outcome {
    let vhid = packet.vhid();
    let sc = match find_vhid(lookup, family, vhid, &src) {
        Ok(sc) => sc,
        Err((verdict, diag)) => return Outcome::drop(rx, verdict, diag),
    };
    if sc.version() != Version::Carp {
        let diag = Diag::InvalidVersion {
            version: packet.version(),
        };
        return Outcome::drop(rx, Verdict::BadVersion, Some(diag));
    }
    if sc.advert_dest_is_multicast(family) && ttl != CARP_DFLTTL {
        let diag = Diag::BadTtl {
            func: Func::CarpInputC,
            ttl,
        };
        return Outcome::drop(rx, Verdict::BadTtl, Some(diag));
    }
    let counter = packet.counter();
    if !sc.verify(counter, &packet.md()) {
        return Outcome::drop(rx, Verdict::BadAuth, Some(Diag::IncorrectHash { vhid }));
    }
    let advert = CarpAdvert {
        vhid,
        advbase: packet.advbase(),
        advskew: packet.advskew(),
        counter,
    };
    Outcome::accept(
        rx,
        Advert {
            family,
            src,
            body: AdvertBody::Carp(advert),
        },
    )
}

/// `vrrp_input_c`, on a packet of at least 8 bytes; `phdr` is the pseudo-header sum.
fn vrrp_common<L: VhidLookup + ?Sized>(
    rx: Stat,
    lookup: Option<&L>,
    family: Family,
    src: IpAddr,
    ttl: u8,
    payload: &[u8],
    phdr: u16,
) -> Outcome {
    let packet = vrrp::Packet::new_unchecked(payload);
    let vrid = packet.vrid();
    let sc = match find_vhid(lookup, family, vrid, &src) {
        Ok(sc) => sc,
        Err((verdict, diag)) => return Outcome::drop(rx, verdict, diag),
    };
    if sc.version() != Version::Vrrp3 {
        let diag = Diag::InvalidVersion {
            version: version_nibble(payload),
        };
        return Outcome::drop(rx, Verdict::BadVersion, Some(diag));
    }
    if ttl != CARP_DFLTTL {
        let diag = Diag::BadTtl {
            func: Func::VrrpInputC,
            ttl,
        };
        return Outcome::drop(rx, Verdict::BadTtl, Some(diag));
    }
    // FreeBSD: (in_cksum over the payload, i.e. the complemented sum) - phdr, as plain
    // 16-bit arithmetic, must be 0. That is "~sum == phdr", which differs from the usual
    // ones'-complement check only when both the payload sum and phdr are 0xffff.
    if !checksum::data(payload) != phdr {
        return Outcome::drop(
            rx,
            Verdict::BadChecksum,
            Some(Diag::VrrpIncorrectChecksum { vhid: vrid }),
        );
    }
    let advert = VrrpAdvert {
        vrid,
        priority: packet.priority(),
        addr_count: packet.count(),
        max_adver_int_raw: packet.max_adver_int_word(),
    };
    Outcome::accept(
        rx,
        Advert {
            family,
            src,
            body: AdvertBody::Vrrp(advert),
        },
    )
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::auth::Authenticator;
    use crate::types::CARP_GROUP_V4;
    use crate::types::CARP_GROUP_V6;
    use std::string::String;
    use std::vec::Vec;

    struct TestVhid {
        vhid: u8,
        version: Version,
        v4: Vec<Ipv4Addr>,
        v6: Vec<Ipv6Addr>,
        mcast4: bool,
        mcast6: bool,
        auth: Authenticator,
    }

    impl VhidView for TestVhid {
        fn version(&self) -> Version {
            self.version
        }
        fn advert_dest_is_multicast(&self, family: Family) -> bool {
            match family {
                Family::Inet => self.mcast4,
                Family::Inet6 => self.mcast6,
            }
        }
        fn verify(&self, counter: u64, md: &[u8; MD_LEN]) -> bool {
            self.auth.verify(counter, md)
        }
    }

    struct TestIf(Vec<TestVhid>);

    impl VhidLookup for TestIf {
        type Vhid = TestVhid;
        fn find(&self, family: Family, vhid: u8) -> Option<&TestVhid> {
            self.0.iter().find(|v| {
                v.vhid == vhid
                    && match family {
                        Family::Inet => !v.v4.is_empty(),
                        Family::Inet6 => !v.v6.is_empty(),
                    }
            })
        }
        fn source_is_self(&self, src: &IpAddr) -> bool {
            self.0.iter().any(|v| match src {
                IpAddr::V4(a) => v.v4.contains(a),
                IpAddr::V6(a) => v.v6.contains(a),
            })
        }
    }

    const KEY: [u8; 20] = *b"s3cretpw\0\0\0\0\0\0\0\0\0\0\0\0";
    const VIP4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
    const PEER4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
    const PEER6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);

    fn vhid(n: u8, version: Version) -> TestVhid {
        TestVhid {
            vhid: n,
            version,
            v4: std::vec![VIP4],
            v6: std::vec![VIP6],
            mcast4: true,
            mcast6: true,
            auth: Authenticator::new(&KEY, n, &[VIP4], &[VIP6]),
        }
    }

    /// vhid 42 (CARP), vhid 7 (VRRPv3), vhid 9 (CARP, IPv4 only, unicast peer).
    fn iface() -> TestIf {
        let mut unicast = vhid(9, Version::Carp);
        unicast.v6.clear();
        unicast.mcast4 = false;
        unicast.auth = Authenticator::new(&KEY, 9, &[VIP4], &[]);
        TestIf(std::vec![
            vhid(42, Version::Carp),
            vhid(7, Version::Vrrp3),
            unicast
        ])
    }

    fn carp_repr(n: u8, counter: u64) -> carp::Repr {
        let md = Authenticator::new(&KEY, n, &[VIP4], &[VIP6]).sign(counter);
        carp::Repr::new(n, 1, 10, counter, md)
    }

    fn carp4(repr: &carp::Repr) -> Vec<u8> {
        let mut b = std::vec![0u8; carp::IPV4_PACKET_LEN];
        carp::emit_ipv4(&mut b, PEER4, CARP_GROUP_V4, 56, 1, repr).unwrap();
        b
    }

    fn carp6(repr: &carp::Repr) -> Vec<u8> {
        let mut b = std::vec![0u8; carp::IPV6_PACKET_LEN];
        carp::emit_ipv6(&mut b, PEER6, CARP_GROUP_V6, 56, repr).unwrap();
        b
    }

    /// Rewrite IPv4 TTL (and the header checksum).
    fn set_ttl4(b: &mut [u8], ttl: u8) {
        let mut p = ipv4::Packet::new_unchecked(b);
        p.set_ttl(ttl);
        p.fill_checksum();
    }

    /// An IPv4 packet with an arbitrary payload (header checksum correct).
    fn ip4_with(payload: &[u8], ttl: u8) -> Vec<u8> {
        let mut b = std::vec![0u8; 20 + payload.len()];
        let rest =
            ipv4::emit_carp_header(&mut b, PEER4, CARP_GROUP_V4, 56, 1, payload.len()).unwrap();
        rest.copy_from_slice(payload);
        set_ttl4(&mut b, ttl);
        b
    }

    fn ip6_with(payload: &[u8], hlim: u8) -> Vec<u8> {
        let mut b = std::vec![0u8; 40 + payload.len()];
        let rest = ipv6::emit_header(
            &mut b,
            PEER6,
            CARP_GROUP_V6,
            56,
            IPPROTO_CARP,
            payload.len(),
        )
        .unwrap();
        rest.copy_from_slice(payload);
        ipv6::Packet::new_unchecked(&mut b[..]).set_hop_limit(hlim);
        b
    }

    /// A VRRPv3 advertisement for IPv4 with a correct pseudo-header checksum.
    fn vrrp4(vrid: u8, prio: u8, interval: u16) -> Vec<u8> {
        let mut v = std::vec![0x31, vrid, prio, 1];
        v.extend_from_slice(&interval.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&VIP4.octets());
        let ph = checksum::pseudo_header_v4(&PEER4, &CARP_GROUP_V4, 112, v.len() as u16);
        let c = !checksum::combine(&[ph, checksum::data(&v)]);
        v[6..8].copy_from_slice(&c.to_be_bytes());
        v
    }

    fn vrrp6(vrid: u8, prio: u8, interval: u16) -> Vec<u8> {
        let mut v = std::vec![0x31, vrid, prio, 1];
        v.extend_from_slice(&interval.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&VIP6.octets());
        let ph = checksum::pseudo_header_v6(&PEER6, &CARP_GROUP_V6, 112, v.len() as u32);
        let c = !checksum::combine(&[ph, checksum::data(&v)]);
        v[6..8].copy_from_slice(&c.to_be_bytes());
        v
    }

    fn run4(b: &[u8]) -> Outcome {
        input_ipv4(true, Some(&iface()), b)
    }

    fn run6(b: &[u8]) -> Outcome {
        input_ipv6(true, Some(&iface()), b)
    }

    fn stats(o: &Outcome) -> Vec<Stat> {
        o.stats().collect()
    }

    fn diag_str(o: &Outcome) -> String {
        let mut s = String::new();
        o.diag.unwrap().write(&mut s, "em0").unwrap();
        s
    }

    #[test]
    fn valid_carp_v4_is_accepted_with_its_fields() {
        let o = run4(&carp4(&carp_repr(42, 0xdead_beef_0000_0001)));
        assert_eq!(o.verdict, Verdict::Valid);
        assert_eq!(stats(&o), [Stat::IPackets]);
        assert_eq!(o.diag, None);
        let a = o.advert.unwrap();
        assert_eq!(a.family, Family::Inet);
        assert_eq!(a.src, IpAddr::V4(PEER4));
        assert_eq!(a.vhid(), 42);
        assert_eq!(
            a.body,
            AdvertBody::Carp(CarpAdvert {
                vhid: 42,
                advbase: 1,
                advskew: 10,
                counter: 0xdead_beef_0000_0001
            })
        );
    }

    #[test]
    fn valid_carp_v6_is_accepted() {
        let o = run6(&carp6(&carp_repr(42, 5)));
        assert_eq!(o.verdict, Verdict::Valid);
        assert_eq!(stats(&o), [Stat::IPackets6]);
        assert_eq!(o.advert.unwrap().family, Family::Inet6);
    }

    /// `carp6(repr)` with an 8-byte hop-by-hop options header (PadN) between the fixed
    /// header and the CARP header, as the kernel hands it over with `*offp` = 48.
    fn carp6_with_hbh(repr: &carp::Repr) -> Vec<u8> {
        let plain = carp6(repr);
        let mut b = plain[..40].to_vec();
        // next header 0 (hop-by-hop), payload length + 8
        b[6] = 0;
        let plen = u16::from_be_bytes([b[4], b[5]]) + 8;
        b[4..6].copy_from_slice(&plen.to_be_bytes());
        // hop-by-hop: next header 112, length 0 (8 bytes), PadN of 4 bytes of padding
        b.extend_from_slice(&[112, 0, 1, 4, 0, 0, 0, 0]);
        b.extend_from_slice(&plain[40..]);
        b
    }

    #[test]
    fn carp_v6_after_an_extension_header_is_read_at_the_kernels_offset() {
        let r = carp_repr(42, 5);
        let plain = run6(&carp6(&r));
        let b = carp6_with_hbh(&r);
        let o = input_ipv6_at(true, Some(&iface()), &b, 48);
        assert_eq!(o.verdict, Verdict::Valid);
        assert_eq!(o.advert, plain.advert);
        assert_eq!(stats(&o), [Stat::IPackets6]);
        // Read at the fixed header's end, the hop-by-hop header is not protocol 112.
        assert_eq!(input_ipv6(true, Some(&iface()), &b).verdict, Verdict::NotDelivered);
        // An offset inside the fixed header, or past the payload, is refused.
        assert_eq!(input_ipv6_at(true, Some(&iface()), &b, 39).verdict, Verdict::NotDelivered);
        assert_eq!(input_ipv6_at(true, Some(&iface()), &b, b.len() + 1).verdict, Verdict::NotDelivered);
        // An offset at the very end leaves nothing: too short, counted as FreeBSD does.
        let end = input_ipv6_at(true, Some(&iface()), &b, b.len());
        assert_eq!(end.verdict, Verdict::BadLength);
        // At 40, input_ipv6_at is input_ipv6.
        assert_eq!(input_ipv6_at(true, Some(&iface()), &carp6(&r), 40), plain);
    }

    #[test]
    fn kernel_ipv4_input_trusts_ip_input_for_the_header() {
        let r = carp_repr(42, 5);
        let good = carp4(&r);
        let plain = input_ipv4(true, Some(&iface()), &good);
        assert_eq!(plain.verdict, Verdict::Valid);
        assert_eq!(input_ipv4_at(true, Some(&iface()), &good, 20), plain);
        // A stale header checksum (ip_dooptions and reassembly rewrite the header after
        // ip_input checked it) is not the protocol's business: still accepted, as stock.
        let mut stale = good.clone();
        stale[10] ^= 0xff;
        assert_eq!(input_ipv4(true, Some(&iface()), &stale).verdict, Verdict::NotDelivered);
        let o = input_ipv4_at(true, Some(&iface()), &stale, 20);
        assert_eq!(o.verdict, Verdict::Valid);
        assert_eq!(o.advert, plain.advert);
        // A reassembled packet keeps its fragment fields: not looked at either.
        let mut frag = good.clone();
        frag[6] |= 0x20;
        assert_eq!(input_ipv4_at(true, Some(&iface()), &frag, 20).verdict, Verdict::Valid);
        // Bytes past ip_len (Ethernet padding) are not part of the payload.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0u8; 6]);
        assert_eq!(input_ipv4_at(true, Some(&iface()), &padded, 20).verdict, Verdict::Valid);
        // Nothing is dropped silently: too short for any header is counted as badlen.
        for (b, off) in [(&good[..10], 20usize), (&good[..], 19), (&good[..], good.len() + 1), (&good[..24], 20)] {
            let o = input_ipv4_at(true, Some(&iface()), b, off);
            assert_eq!(o.verdict, Verdict::BadLength, "len {} off {off}", b.len());
            assert_eq!(stats(&o), [Stat::IPackets, Stat::BadLen]);
        }
    }

    #[test]
    fn allow_off_drops_silently_after_counting_ipackets() {
        let b = carp4(&carp_repr(42, 1));
        let o = input_ipv4(false, Some(&iface()), &b);
        assert_eq!(o.verdict, Verdict::DroppedDisabled);
        assert_eq!(stats(&o), [Stat::IPackets]);
        assert_eq!(o.diag, None);
        let o6 = input_ipv6(false, None::<&TestIf>, &carp6(&carp_repr(42, 1)));
        assert_eq!(o6.verdict, Verdict::DroppedDisabled);
        assert_eq!(stats(&o6), [Stat::IPackets6]);
    }

    #[test]
    fn short_payloads_are_badlen() {
        let o = run4(&ip4_with(&[0x21, 42, 0, 7, 0, 1, 0], 255));
        assert_eq!(o.verdict, Verdict::BadLength);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadLen]);
        assert_eq!(
            diag_str(&o),
            "carp_input: received len 7 < sizeof(struct vrrpv3_header) on em0"
        );

        // Enough for VRRP's 8 but not CARP's 36.
        let o = run4(&ip4_with(&[0x21, 42, 0, 7, 0, 1, 0, 0, 0, 0], 255));
        assert_eq!(o.verdict, Verdict::BadLength);
        assert_eq!(diag_str(&o), "carp_input: received len 10 < 56 on em0");

        let o = run6(&ip6_with(&[0x21, 42, 0], 255));
        assert_eq!(o.verdict, Verdict::BadLength);
        assert_eq!(stats(&o), [Stat::IPackets6, Stat::BadLen]);
        assert_eq!(diag_str(&o), "carp6_input: packet size 43 too small");

        let o = run6(&ip6_with(&[0x21; 20], 255));
        assert_eq!(o.verdict, Verdict::BadLength);
        assert_eq!(diag_str(&o), "carp6_input: received len 40 < 76 on em0");
    }

    #[test]
    fn unknown_version_nibble_is_badver() {
        let mut b = carp4(&carp_repr(42, 1));
        b[20] = 0x11;
        let o = run4(&b);
        assert_eq!(o.verdict, Verdict::BadVersion);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadVer]);
        assert_eq!(diag_str(&o), "carp_input: unsupported version 1 on em0");
        let mut b6 = carp6(&carp_repr(42, 1));
        b6[40] = 0x41;
        let o = run6(&b6);
        assert_eq!(o.verdict, Verdict::BadVersion);
        assert_eq!(diag_str(&o), "carp6_input: unsupported version 4 on em0");
    }

    #[test]
    fn bad_checksum_is_badsum_and_comes_before_the_vhid_lookup() {
        let mut b = carp4(&carp_repr(99, 1)); // unknown vhid too
        b[27] ^= 0x01; // checksum low byte
        let o = run4(&b);
        assert_eq!(o.verdict, Verdict::BadChecksum);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadSum]);
        assert_eq!(diag_str(&o), "carp_input: checksum failed on em0");
        let mut b6 = carp6(&carp_repr(42, 1));
        b6[50] ^= 0x80;
        let o = run6(&b6);
        assert_eq!(o.verdict, Verdict::BadChecksum);
        assert_eq!(diag_str(&o), "carp6_input: checksum failed, on em0");
    }

    #[test]
    fn ipv4_checksum_covers_trailing_bytes_ipv6_only_36() {
        // IPv4: 4 extra bytes inside ip_len are part of the checksummed payload.
        let mut payload = carp4(&carp_repr(42, 3))[20..].to_vec();
        payload.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(run4(&ip4_with(&payload, 255)).verdict, Verdict::BadChecksum);
        payload[36..40].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(run4(&ip4_with(&payload, 255)).verdict, Verdict::Valid);
        // IPv6: only the first 36 bytes are checksummed.
        let mut payload6 = carp6(&carp_repr(42, 3))[40..].to_vec();
        payload6.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(run6(&ip6_with(&payload6, 255)).verdict, Verdict::Valid);
    }

    #[test]
    fn ethernet_padding_after_ip_len_is_ignored() {
        let mut b = carp4(&carp_repr(42, 3));
        b.extend_from_slice(&[0xaa; 6]);
        assert_eq!(run4(&b).verdict, Verdict::Valid);
    }

    #[test]
    fn unknown_vhid_is_badvhid_without_diag() {
        let o = run4(&carp4(&carp_repr(43, 1)));
        assert_eq!(o.verdict, Verdict::UnknownVhid);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadVhid]);
        assert_eq!(o.diag, None);
        // vhid 9 has no IPv6 address: an IPv6 advert for it is an unknown vhid.
        let o = run6(&carp6(&carp_repr(9, 1)));
        assert_eq!(o.verdict, Verdict::UnknownVhid);
        // No CARP at all on the interface: IPv4 gets badvhid, IPv6 badif.
        let o = input_ipv4(true, None::<&TestIf>, &carp4(&carp_repr(42, 1)));
        assert_eq!(o.verdict, Verdict::UnknownVhid);
        let o = input_ipv6(true, None::<&TestIf>, &carp6(&carp_repr(42, 1)));
        assert_eq!(o.verdict, Verdict::BadInterface);
        assert_eq!(stats(&o), [Stat::IPackets6, Stat::BadIf]);
        assert_eq!(
            diag_str(&o),
            "carp6_input: packet received on non-carp interface: em0"
        );
    }

    #[test]
    fn vhid_zero_from_our_own_address_is_a_loop() {
        let repr = carp_repr(0, 1);
        let mut b = std::vec![0u8; 56];
        carp::emit_ipv4(&mut b, VIP4, CARP_GROUP_V4, 56, 1, &repr).unwrap();
        let o = run4(&b);
        assert_eq!(o.verdict, Verdict::Looped);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadIf]);
        assert_eq!(diag_str(&o), "dropping looped packet on interface em0");
        // vhid 0 from a stranger: just an unknown vhid.
        assert_eq!(run4(&carp4(&repr)).verdict, Verdict::UnknownVhid);
    }

    #[test]
    fn carp_advert_for_a_vrrp_vhid_is_badver() {
        let o = run4(&carp4(&carp_repr(7, 1)));
        assert_eq!(o.verdict, Verdict::BadVersion);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadVer]);
        assert_eq!(diag_str(&o), "em0: invalid version 2");
    }

    #[test]
    fn ttl_must_be_255_only_for_multicast_destinations() {
        let mut b = carp4(&carp_repr(42, 1));
        set_ttl4(&mut b, 1);
        let o = run4(&b);
        assert_eq!(o.verdict, Verdict::BadTtl);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadTtl]);
        assert_eq!(diag_str(&o), "carp_input_c: received ttl 1 != 255 on em0");
        // vhid 9 uses a unicast peer: TTL not checked.
        let mut u = std::vec![0u8; 56];
        let md = Authenticator::new(&KEY, 9, &[VIP4], &[]).sign(1);
        carp::emit_ipv4(
            &mut u,
            PEER4,
            Ipv4Addr::new(10, 99, 0, 3),
            56,
            1,
            &carp::Repr::new(9, 1, 0, 1, md),
        )
        .unwrap();
        set_ttl4(&mut u, 64);
        assert_eq!(run4(&u).verdict, Verdict::Valid);
        // IPv6 hop limit.
        let mut b6 = carp6(&carp_repr(42, 1));
        b6[7] = 64;
        assert_eq!(run6(&b6).verdict, Verdict::BadTtl);
    }

    #[test]
    fn wrong_hmac_is_badauth() {
        let mut repr = carp_repr(42, 77);
        repr.md[19] ^= 1;
        let o = run4(&carp4(&repr));
        assert_eq!(o.verdict, Verdict::BadAuth);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadAuth]);
        assert_eq!(diag_str(&o), "carp_input_c: incorrect hash for VHID 42@em0");
        // Counter changed after signing.
        let mut repr = carp_repr(42, 77);
        repr.counter = 78;
        assert_eq!(run6(&carp6(&repr)).verdict, Verdict::BadAuth);
    }

    #[test]
    fn check_order_vhid_then_version_then_ttl_then_hmac() {
        // Unknown vhid + bad TTL: the vhid lookup comes first in 15.
        let mut b = carp4(&carp_repr(43, 1));
        set_ttl4(&mut b, 1);
        assert_eq!(run4(&b).verdict, Verdict::UnknownVhid);
        // Wrong configured version + bad TTL: version first.
        let mut b = carp4(&carp_repr(7, 1));
        set_ttl4(&mut b, 1);
        assert_eq!(run4(&b).verdict, Verdict::BadVersion);
        // Bad TTL + bad HMAC: TTL first.
        let mut repr = carp_repr(42, 1);
        repr.md = [0; 20];
        let mut b = carp4(&repr);
        set_ttl4(&mut b, 1);
        assert_eq!(run4(&b).verdict, Verdict::BadTtl);
        // Short + bad version nibble: length (8) first, then version.
        assert_eq!(
            run4(&ip4_with(&[0x51, 0, 0], 255)).verdict,
            Verdict::BadLength
        );
        assert_eq!(
            run4(&ip4_with(&[0x51; 8], 255)).verdict,
            Verdict::BadVersion
        );
    }

    #[test]
    fn carp_type_authlen_and_reserved_are_not_checked() {
        let repr = carp_repr(42, 9);
        let mut b = carp4(&repr);
        {
            let mut p = carp::Packet::new_unchecked(&mut b[20..]);
            p.set_msg_type(carp::Type::from(5));
            p.set_authlen(3);
            p.set_reserved(0xee);
            p.fill_checksum();
        }
        assert_eq!(run4(&b).verdict, Verdict::Valid);
    }

    #[test]
    fn vrrp_v4_and_v6_valid() {
        let o = run4(&ip4_with(&vrrp4(7, 150, 0xf064), 255));
        assert_eq!(o.verdict, Verdict::Valid);
        let AdvertBody::Vrrp(v) = o.advert.unwrap().body else {
            panic!()
        };
        assert_eq!(
            v,
            VrrpAdvert {
                vrid: 7,
                priority: 150,
                addr_count: 1,
                max_adver_int_raw: 0xf064
            }
        );
        assert_eq!(v.max_adver_int_cs(), 100);
        let o = run6(&ip6_with(&vrrp6(7, 100, 100), 255));
        assert_eq!(o.verdict, Verdict::Valid);
        assert_eq!(o.advert.unwrap().family, Family::Inet6);
    }

    #[test]
    fn vrrp_checks() {
        // Bad checksum (counted by vrrp_input_c, after lookup/version/ttl).
        let mut v = vrrp4(7, 100, 100);
        v[7] ^= 1;
        let o = run4(&ip4_with(&v, 255));
        assert_eq!(o.verdict, Verdict::BadChecksum);
        assert_eq!(stats(&o), [Stat::IPackets, Stat::BadSum]);
        assert_eq!(
            diag_str(&o),
            "vrrp_input_c: incorrect checksum for VRID 7@em0"
        );
        // Bad checksum + unknown vrid: vrid first (unlike CARP).
        let mut v = vrrp4(8, 100, 100);
        v[7] ^= 1;
        assert_eq!(run4(&ip4_with(&v, 255)).verdict, Verdict::UnknownVhid);
        // TTL always required, before the checksum.
        let mut v = vrrp4(7, 100, 100);
        v[7] ^= 1;
        let o = run4(&ip4_with(&v, 254));
        assert_eq!(o.verdict, Verdict::BadTtl);
        assert_eq!(diag_str(&o), "vrrp_input_c: received ttl 254 != 255 on em0");
        // VRRP advert for a CARP vhid.
        let o = run4(&ip4_with(&vrrp4(42, 100, 100), 255));
        assert_eq!(o.verdict, Verdict::BadVersion);
        assert_eq!(diag_str(&o), "em0: invalid version 3");
        // The pseudo-header matters: the same payload to another destination fails.
        let v = vrrp4(7, 100, 100);
        let mut b = ip4_with(&v, 255);
        let mut p = ipv4::Packet::new_unchecked(&mut b[..]);
        p.set_dst_addr(Ipv4Addr::new(224, 0, 0, 19));
        p.fill_checksum();
        assert_eq!(run4(&b).verdict, Verdict::BadChecksum);
        // IPv6 bad checksum.
        let mut v6 = vrrp6(7, 100, 100);
        v6[20] ^= 1;
        assert_eq!(run6(&ip6_with(&v6, 255)).verdict, Verdict::BadChecksum);
    }

    #[test]
    fn packets_ip_would_not_deliver() {
        let good = carp4(&carp_repr(42, 1));
        let mut bad_hdr_sum = good.clone();
        bad_hdr_sum[10] ^= 1;
        let mut tcp = good.clone();
        {
            let mut p = ipv4::Packet::new_unchecked(&mut tcp[..]);
            p.set_protocol(6);
            p.fill_checksum();
        }
        for b in [&bad_hdr_sum[..], &tcp[..], &good[..30], &[][..]] {
            let o = run4(b);
            assert_eq!(o.verdict, Verdict::NotDelivered);
            assert_eq!(stats(&o), []);
        }
        assert_eq!(run6(&good).verdict, Verdict::NotDelivered);
        assert_eq!(
            run4(&carp6(&carp_repr(42, 1))).verdict,
            Verdict::NotDelivered
        );
        let facts = IpFacts {
            src: IpAddr::V4(PEER4),
            dst: IpAddr::V6(CARP_GROUP_V6),
            ttl: 255,
            header_len: 20,
            payload: &good[20..],
        };
        assert_eq!(
            input(true, Some(&iface()), &facts).verdict,
            Verdict::NotDelivered
        );
    }

    #[test]
    fn facts_entry_point_matches_packet_entry_point() {
        let b = carp4(&carp_repr(42, 11));
        let facts = IpFacts {
            src: IpAddr::V4(PEER4),
            dst: IpAddr::V4(CARP_GROUP_V4),
            ttl: 255,
            header_len: 20,
            payload: &b[20..],
        };
        assert_eq!(input(true, Some(&iface()), &facts), run4(&b));
    }

    #[test]
    fn outcome_counts_into_carpstats() {
        let mut s = CarpStats::default();
        run4(&carp4(&carp_repr(42, 1))).count(&mut s);
        run4(&carp4(&carp_repr(43, 1))).count(&mut s);
        run6(&carp6(&carp_repr(42, 1))).count(&mut s);
        assert_eq!(s.get(Stat::IPackets), 2);
        assert_eq!(s.get(Stat::IPackets6), 1);
        assert_eq!(s.get(Stat::BadVhid), 1);
        assert_eq!(s.0.iter().sum::<u64>(), 4);
    }

    #[test]
    fn verdict_names() {
        let all = [
            (Verdict::Valid, "valid"),
            (Verdict::DroppedDisabled, "dropped_disabled"),
            (Verdict::BadLength, "bad_length"),
            (Verdict::BadVersion, "bad_version"),
            (Verdict::BadChecksum, "bad_checksum"),
            (Verdict::BadInterface, "bad_interface"),
            (Verdict::Looped, "looped"),
            (Verdict::UnknownVhid, "unknown_vhid"),
            (Verdict::BadTtl, "bad_ttl"),
            (Verdict::BadAuth, "bad_auth"),
            (Verdict::NotDelivered, "not_delivered"),
        ];
        for (v, s) in all {
            assert_eq!(v.as_str(), s);
            assert_eq!(std::format!("{v}"), s);
        }
        assert_eq!(
            std::format!("{}", Diag::Looped.display("vtnet0")),
            "dropping looped packet on interface vtnet0"
        );
    }

    /// Arbitrary bytes never panic, and the invariants hold.
    #[test]
    fn arbitrary_payloads_never_panic() {
        use proptest::prelude::*;
        let lookup = iface();
        proptest!(|(payload in proptest::collection::vec(any::<u8>(), 0..120), ttl in any::<u8>(), v6 in any::<bool>())| {
            let (src, dst) = if v6 {
                (IpAddr::V6(PEER6), IpAddr::V6(CARP_GROUP_V6))
            } else {
                (IpAddr::V4(PEER4), IpAddr::V4(CARP_GROUP_V4))
            };
            let facts = IpFacts { src, dst, ttl, header_len: if v6 { 40 } else { 20 }, payload: &payload };
            let o = input(true, Some(&lookup), &facts);
            prop_assert_eq!(o.advert.is_some(), o.verdict == Verdict::Valid);
            prop_assert!(o.received.is_some());
            let _ = input_ipv4(true, Some(&lookup), &payload);
            let _ = input_ipv6(true, Some(&lookup), &payload);
        });
    }
}

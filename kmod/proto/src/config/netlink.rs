//! The generic netlink family `"carp"` (`netinet/ip_carp_nl.h`): what stock FreeBSD 15
//! `ifconfig` (through libifconfig) sends, parsed exactly as the 15 kernel parses it, and
//! the GET replies it reads back.
//!
//! # Messages
//!
//! A request is `struct nlmsghdr` (16 bytes: `nlmsg_len` u32, `nlmsg_type` u16 = the
//! family id the kernel assigned to `"carp"`, `nlmsg_flags` u16, `nlmsg_seq` u32,
//! `nlmsg_pid` u32), then `struct genlmsghdr` (4 bytes: `cmd` u8, `version` u8, `reserved`
//! u16), then attributes. Each attribute is `struct nlattr` (`nla_len` u16 counting the
//! 4-byte header and the data but not the padding, `nla_type` u16) followed by its data,
//! padded with zeros to a multiple of 4. All integers are in host byte order
//! (little-endian on amd64).
//!
//! # Parsing rules (FreeBSD `netlink_message_parser.{c,h}`, `NLA_FOREACH`)
//!
//! - fewer than 4 bytes after the `nlmsghdr` (no room for the `genlmsghdr`) → `EINVAL`;
//! - attributes are walked while the next one starts inside the message and its padded
//!   length ends inside it; an attribute whose padded length runs past the end stops the
//!   walk silently (it and what follows are ignored);
//! - an attribute with `nla_len` < 4 → `EINVAL`;
//! - the type is `nla_type & 0x3fff` (the NESTED / NET_BYTEORDER flags are masked off);
//!   types this family does not know are ignored;
//! - a known attribute with the wrong data length → `EINVAL` (u32 and in_addr: exactly 4,
//!   u16: exactly 2, u8: exactly 1, in6_addr: exactly 16, KEY: at most 20, IFNAME: must
//!   contain a NUL within its data);
//! - a repeated attribute overwrites the earlier value (KEY overwrites only as many bytes
//!   as the later attribute carries);
//! - fewer than 4 trailing bytes cannot hold an attribute header; the kernel would read
//!   beyond the message there, we stop (ignored).
//!
//! The 15 kernel's `nlattr_get_uint8` checks for one data byte but stores a `uint16_t`
//! read from the data: the value and the first padding byte after it. Senders such as
//! libifconfig zero the padding, so only a sender with garbage padding notices; it is
//! observable for VERSION alone (stored into a 4-byte enum, so `[2, 0x01]` reads as
//! 0x0102 → `EINVAL`), and we reproduce that. VRRP_PRIORITY's extra byte lands in struct
//! padding in the kernel and is ignored here too.
//!
//! Privilege: SET is registered with `cmd_priv = PRIV_NETINET_CARP`, so the framework
//! answers `EPERM` before [`decode_set`] would run; GET needs no privilege, but the key is
//! only included for privileged readers ([`encode_status`]'s `privileged`).

use super::bytes;
use super::carpreq::{forced_state, key_if_set, valid_vhid};
use super::GetQuery;
use crate::types::{
    Errno, SetRequest, Version, VhidStatus, CARP_KEY_LEN, CARP_MAXVHID, VRRP_MAX_INTERVAL_CS,
};
use core::net::{Ipv4Addr, Ipv6Addr};

/// `CARP_NL_FAMILY_NAME`.
pub const FAMILY_NAME: &str = "carp";
/// Family version passed to `genl_register_family`.
pub const FAMILY_VERSION: u16 = 2;
/// Header size passed to `genl_register_family` (no family-specific header).
pub const FAMILY_HDRSIZE: usize = 0;
/// The max-attribute argument FreeBSD 15 passes to `genl_register_family`: quirkily
/// `CARP_NL_CMD_MAX` (2), not the last attribute number.
pub const FAMILY_MAX_ATTR: u16 = CMD_MAX as u16;

/// `CARP_NL_CMD_GET` (dump; no privilege needed).
pub const CMD_GET: u8 = 1;
/// `CARP_NL_CMD_SET` (needs `PRIV_NETINET_CARP`).
pub const CMD_SET: u8 = 2;
/// `CARP_NL_CMD_MAX`.
pub const CMD_MAX: u8 = 2;
/// `cmd_name` of the GET command.
pub const CMD_GET_NAME: &str = "SIOCGVH";
/// `cmd_name` of the SET command.
pub const CMD_SET_NAME: &str = "SIOCSVH";

/// Attribute numbers (`enum carp_nl_type_t`) with the types the kernel expects.
pub mod attr {
    /// u32.
    pub const VHID: u16 = 1;
    /// u32, 0..=2.
    pub const STATE: u16 = 2;
    /// s32 (parsed as 32 bits).
    pub const ADVBASE: u16 = 3;
    /// s32 (parsed as 32 bits).
    pub const ADVSKEW: u16 = 4;
    /// Bytes, at most 20.
    pub const KEY: u16 = 5;
    /// u32.
    pub const IFINDEX: u16 = 6;
    /// `struct in_addr` (4 bytes, network order).
    pub const ADDR: u16 = 7;
    /// `struct in6_addr` (16 bytes).
    pub const ADDR6: u16 = 8;
    /// NUL-terminated string.
    pub const IFNAME: u16 = 9;
    /// u8: 0 (= 2), 2 CARP, 3 VRRPv3.
    pub const VERSION: u16 = 10;
    /// u8.
    pub const VRRP_PRIORITY: u16 = 11;
    /// u16, centiseconds, ≤ 4095.
    pub const VRRP_ADV_INTER: u16 = 12;
}

/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;
/// `sizeof(struct genlmsghdr)`.
pub const GENL_HDRLEN: usize = 4;
/// `sizeof(struct nlattr)`.
pub const NLA_HDRLEN: usize = 4;
/// `NLA_TYPE_MASK`: `nla_type` without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
pub const NLA_TYPE_MASK: u16 = 0x3fff;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x01;
/// `NLM_F_MULTI`.
pub const NLM_F_MULTI: u16 = 0x02;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `GENL_ID_CTRL`, the generic netlink controller's family id.
pub const GENL_ID_CTRL: u16 = 16;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align4(len: usize) -> usize {
    (len.saturating_add(3)) & !3
}

/// The fixed `struct nlmsghdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NlMsgHeader {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl NlMsgHeader {
    /// Reads the header at the start of `msg`; `EINVAL` if `msg` is shorter than 16 bytes.
    pub fn parse(msg: &[u8]) -> Result<NlMsgHeader, Errno> {
        let f32 = |off| bytes::u32_le(msg, off).ok_or(Errno::EINVAL);
        let f16 = |off| bytes::u16_le(msg, off).ok_or(Errno::EINVAL);
        Ok(NlMsgHeader {
            len: f32(0)?,
            ty: f16(4)?,
            flags: f16(6)?,
            seq: f32(8)?,
            pid: f32(12)?,
        })
    }

    /// Writes the 16 bytes into the start of `out`; `ENOMEM` if it does not fit.
    pub fn emit(&self, out: &mut [u8]) -> Result<(), Errno> {
        let mut b = [0u8; NLMSG_HDRLEN];
        let parts: [(usize, &[u8]); 5] = [
            (0, &self.len.to_le_bytes()),
            (4, &self.ty.to_le_bytes()),
            (6, &self.flags.to_le_bytes()),
            (8, &self.seq.to_le_bytes()),
            (12, &self.pid.to_le_bytes()),
        ];
        for (off, src) in parts {
            bytes::put(&mut b, off, src).ok_or(Errno::ENOMEM)?;
        }
        bytes::put(out, 0, &b).ok_or(Errno::ENOMEM)
    }
}

/// The generic netlink payload of a whole message: the bytes after the `nlmsghdr`, up to
/// `nlmsg_len`. `EINVAL` when the header is missing or `nlmsg_len` is smaller than the
/// header or larger than `msg` (the netlink socket layer never delivers such messages).
pub fn payload_of(msg: &[u8]) -> Result<&[u8], Errno> {
    let hdr = NlMsgHeader::parse(msg)?;
    let len = usize::try_from(hdr.len).map_err(|_| Errno::EINVAL)?;
    if len < NLMSG_HDRLEN {
        return Err(Errno::EINVAL);
    }
    msg.get(NLMSG_HDRLEN..len).ok_or(Errno::EINVAL)
}

/// One attribute: its type (already masked with [`NLA_TYPE_MASK`]) and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    pub ty: u16,
    pub data: &'a [u8],
    /// The data followed by its padding (up to the next attribute).
    pub padded: &'a [u8],
}

/// Walks an attribute area with the kernel's `NLA_FOREACH` rules (see the module doc).
/// Yields `Err(EINVAL)` once for an attribute shorter than its header, then stops.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Attrs<'a> {
    pub fn new(area: &'a [u8]) -> Attrs<'a> {
        Attrs {
            rest: area,
            failed: false,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, Errno>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let nla_len = usize::from(bytes::u16_le(self.rest, 0)?);
        let nla_type = bytes::u16_le(self.rest, 2)?;
        let padded = align4(nla_len);
        if padded > self.rest.len() {
            self.rest = &[];
            return None;
        }
        if nla_len < NLA_HDRLEN {
            self.failed = true;
            return Some(Err(Errno::EINVAL));
        }
        let data = self.rest.get(NLA_HDRLEN..nla_len)?;
        let with_padding = self.rest.get(NLA_HDRLEN..padded)?;
        self.rest = self.rest.get(padded..).unwrap_or(&[]);
        Some(Ok(Attr {
            ty: nla_type & NLA_TYPE_MASK,
            data,
            padded: with_padding,
        }))
    }
}

/// How the request names the interface: `CARP_NL_IFNAME` wins over `CARP_NL_IFINDEX`;
/// an index of 0 counts as absent. [`IfSelector::None`] means the lookup yields nothing
/// (`ENXIO` from [`super::check_interface`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfSelector<'a> {
    /// The name, without its terminating NUL (bytes up to the first NUL).
    Name(&'a [u8]),
    /// `ifnet_byindex` argument.
    Index(u32),
    /// Neither attribute present.
    None,
}

impl<'a> IfSelector<'a> {
    /// The name as text, when it is a name and valid UTF-8.
    pub fn name_str(&self) -> Option<&'a str> {
        match self {
            IfSelector::Name(n) => core::str::from_utf8(n).ok(),
            _ => None,
        }
    }
}

/// Every attribute of the family as the kernel's parser leaves them in
/// `struct nl_carp_parsed` (zero when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub ifindex: u32,
    pub ifname: Option<&'a [u8]>,
    pub state: u32,
    pub vhid: u32,
    pub advbase: i32,
    pub advskew: i32,
    pub key: [u8; CARP_KEY_LEN],
    pub addr: Ipv4Addr,
    pub addr6: Ipv6Addr,
    /// As the kernel stores it: the VERSION byte | first padding byte << 8.
    pub version: u16,
    pub vrrp_prio: u8,
    pub vrrp_adv_inter: u16,
}

impl Default for Parsed<'_> {
    fn default() -> Self {
        Parsed {
            ifindex: 0,
            ifname: None,
            state: 0,
            vhid: 0,
            advbase: 0,
            advskew: 0,
            key: [0; CARP_KEY_LEN],
            addr: Ipv4Addr::UNSPECIFIED,
            addr6: Ipv6Addr::UNSPECIFIED,
            version: 0,
            vrrp_prio: 0,
            vrrp_adv_inter: 0,
        }
    }
}

impl<'a> Parsed<'a> {
    /// The interface selector these attributes make.
    pub fn iface(&self) -> IfSelector<'a> {
        match (self.ifname, self.ifindex) {
            (Some(name), _) => IfSelector::Name(name),
            (None, 0) => IfSelector::None,
            (None, idx) => IfSelector::Index(idx),
        }
    }
}

fn exact<const N: usize>(data: &[u8]) -> Result<[u8; N], Errno> {
    data.try_into().map_err(|_| Errno::EINVAL)
}

/// Parses a generic netlink payload (the `genlmsghdr` and the attributes after it) with
/// the `carp` family's parser, which SET and GET share. The `genlmsghdr` contents are not
/// looked at (the framework has already dispatched on `cmd`).
pub fn parse_payload(payload: &[u8]) -> Result<Parsed<'_>, Errno> {
    let area = payload.get(GENL_HDRLEN..).ok_or(Errno::EINVAL)?;
    let mut p = Parsed::default();
    for a in Attrs::new(area) {
        let a = a?;
        match a.ty {
            attr::VHID => p.vhid = u32::from_le_bytes(exact(a.data)?),
            attr::STATE => p.state = u32::from_le_bytes(exact(a.data)?),
            attr::ADVBASE => p.advbase = i32::from_le_bytes(exact(a.data)?),
            attr::ADVSKEW => p.advskew = i32::from_le_bytes(exact(a.data)?),
            attr::KEY => {
                let dst = p.key.get_mut(..a.data.len()).ok_or(Errno::EINVAL)?;
                dst.copy_from_slice(a.data);
            }
            attr::IFINDEX => p.ifindex = u32::from_le_bytes(exact(a.data)?),
            attr::ADDR => p.addr = Ipv4Addr::from(exact::<4>(a.data)?),
            attr::ADDR6 => p.addr6 = Ipv6Addr::from(exact::<16>(a.data)?),
            attr::IFNAME => {
                let nul = a.data.iter().position(|&b| b == 0).ok_or(Errno::EINVAL)?;
                p.ifname = Some(a.data.get(..nul).ok_or(Errno::EINVAL)?);
            }
            attr::VERSION => {
                let [v] = exact::<1>(a.data)?;
                let pad = a.padded.get(1).copied().unwrap_or(0);
                p.version = u16::from_le_bytes([v, pad]);
            }
            attr::VRRP_PRIORITY => p.vrrp_prio = u8::from_le_bytes(exact(a.data)?),
            attr::VRRP_ADV_INTER => p.vrrp_adv_inter = u16::from_le_bytes(exact(a.data)?),
            _ => {}
        }
    }
    Ok(p)
}

/// A decoded and validated CARP_NL_CMD_SET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetCommand<'a> {
    /// The interface to look up next (then [`super::check_interface`] with
    /// [`super::Op::NetlinkSet`]).
    pub iface: IfSelector<'a>,
    /// What to change.
    pub request: SetRequest,
}

/// Decodes a whole CARP_NL_CMD_SET message, starting at its `nlmsghdr`.
pub fn decode_set(msg: &[u8]) -> Result<SetCommand<'_>, Errno> {
    decode_set_payload(payload_of(msg)?)
}

/// Decodes a CARP_NL_CMD_SET payload (starting at the `genlmsghdr`) and validates it as
/// `carp_nl_set` does, in its order:
///
/// - attribute errors (see the module doc) → `EINVAL`;
/// - VHID not in 1..=255 → `EINVAL`;
/// - STATE > 2 → `EINVAL` (1 and 2 request forcing; 0 requests nothing);
/// - VERSION 0 means 2; other than 2 or 3 → `EINVAL`;
/// - CARP: ADVBASE or ADVSKEW negative, ADVBASE > 255, ADVSKEW ≥ 255 → `EINVAL`;
///   ADVBASE 0 = unchanged; ADVSKEW is always applied (0 when absent); ADDR 0.0.0.0 and
///   ADDR6 :: = unchanged; the KEY (zero-padded to 20) replaces the current key unless its
///   first byte is NUL;
/// - VRRPv3: VRRP_ADV_INTER > 4095 → `EINVAL`; priority 0 and interval 0 = unchanged; the
///   CARP attributes are ignored.
pub fn decode_set_payload(payload: &[u8]) -> Result<SetCommand<'_>, Errno> {
    let p = parse_payload(payload)?;
    let vhid = valid_vhid(i64::from(p.vhid))?;
    if p.state > 2 {
        return Err(Errno::EINVAL);
    }
    let version = match p.version {
        0 | 2 => Version::Carp,
        3 => Version::Vrrp3,
        _ => return Err(Errno::EINVAL),
    };
    let mut request = SetRequest {
        vhid,
        state: forced_state(i64::from(p.state)),
        advbase: None,
        advskew: None,
        key: None,
        peer4: None,
        peer6: None,
        version,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    };
    match version {
        Version::Carp => {
            if p.advbase < 0 || p.advskew < 0 || p.advbase > 255 || p.advskew >= 255 {
                return Err(Errno::EINVAL);
            }
            request.advbase = match u8::try_from(p.advbase) {
                Ok(0) => None,
                Ok(b) => Some(b),
                Err(_) => return Err(Errno::EINVAL),
            };
            request.advskew = Some(u8::try_from(p.advskew).map_err(|_| Errno::EINVAL)?);
            request.key = key_if_set(&p.key);
            request.peer4 = (!p.addr.is_unspecified()).then_some(p.addr);
            request.peer6 = (!p.addr6.is_unspecified()).then_some(p.addr6);
        }
        Version::Vrrp3 => {
            if p.vrrp_adv_inter > VRRP_MAX_INTERVAL_CS {
                return Err(Errno::EINVAL);
            }
            request.vrrp_priority = (p.vrrp_prio != 0).then_some(p.vrrp_prio);
            request.vrrp_interval_cs = (p.vrrp_adv_inter != 0).then_some(p.vrrp_adv_inter);
        }
    }
    Ok(SetCommand {
        iface: p.iface(),
        request,
    })
}

/// A decoded CARP_NL_CMD_GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetCommand<'a> {
    /// The interface to look up next (then [`super::check_interface`] with
    /// [`super::Op::NetlinkGet`]).
    pub iface: IfSelector<'a>,
    /// CARP_NL_VHID as sent (0 or absent: every vhid).
    pub vhid: u32,
}

impl GetCommand<'_> {
    /// The query, checked after the interface: VHID > 255 → `EINVAL`. The kernel asks for
    /// up to `CARP_MAXVHID` records, so a netlink GET never fails with `EMSGSIZE`.
    pub fn query(&self) -> Result<GetQuery, Errno> {
        GetQuery::new(i64::from(self.vhid), i64::from(CARP_MAXVHID))
    }
}

/// Decodes a whole CARP_NL_CMD_GET message, starting at its `nlmsghdr`.
pub fn decode_get(msg: &[u8]) -> Result<GetCommand<'_>, Errno> {
    decode_get_payload(payload_of(msg)?)
}

/// Decodes a CARP_NL_CMD_GET payload (starting at the `genlmsghdr`). Only attribute
/// errors fail here (the same parser as SET, so e.g. a 21-byte KEY is `EINVAL` in a GET
/// too).
pub fn decode_get_payload(payload: &[u8]) -> Result<GetCommand<'_>, Errno> {
    let p = parse_payload(payload)?;
    Ok(GetCommand {
        iface: p.iface(),
        vhid: p.vhid,
    })
}

/// Writes attributes one after another, padding each to 4 bytes with zeros.
struct AttrWriter<'o> {
    out: &'o mut [u8],
    off: usize,
}

impl AttrWriter<'_> {
    fn put(&mut self, ty: u16, data: &[u8]) -> Result<(), Errno> {
        let len = NLA_HDRLEN.checked_add(data.len()).ok_or(Errno::ENOMEM)?;
        let nla_len = u16::try_from(len).map_err(|_| Errno::ENOMEM)?;
        let end = self.off.checked_add(align4(len)).ok_or(Errno::ENOMEM)?;
        let dst = self.out.get_mut(self.off..end).ok_or(Errno::ENOMEM)?;
        dst.fill(0);
        bytes::put(dst, 0, &nla_len.to_le_bytes()).ok_or(Errno::ENOMEM)?;
        bytes::put(dst, 2, &ty.to_le_bytes()).ok_or(Errno::ENOMEM)?;
        bytes::put(dst, NLA_HDRLEN, data).ok_or(Errno::ENOMEM)?;
        self.off = end;
        Ok(())
    }
}

/// Bytes [`encode_status_attrs`] writes for `status`.
pub fn status_attrs_len(status: &VhidStatus, privileged: bool) -> usize {
    // VHID, STATE (u32) and VERSION (u8) each take 8 bytes.
    let common = 3 * 8;
    match status.version {
        // ADVBASE, ADVSKEW, ADDR: 8 each; ADDR6: 20; KEY: 24.
        Version::Carp => common + 3 * 8 + 20 + if privileged { 24 } else { 0 },
        // VRRP_PRIORITY (u8) and VRRP_ADV_INTER (u16): 8 each.
        Version::Vrrp3 => common + 2 * 8,
    }
}

/// Writes the attributes of one GET reply (`carp_nl_send`): VHID u32, STATE u32,
/// VERSION u8, then for CARP: ADVBASE s32, ADVSKEW s32, ADDR, ADDR6 and — only for a
/// privileged reader — KEY (20 bytes); for VRRPv3: VRRP_PRIORITY u8, VRRP_ADV_INTER u16.
/// Returns the bytes written; `ENOMEM` if `out` is too short.
pub fn encode_status_attrs(
    status: &VhidStatus,
    privileged: bool,
    out: &mut [u8],
) -> Result<usize, Errno> {
    let mut w = AttrWriter { out, off: 0 };
    w.put(attr::VHID, &u32::from(status.vhid).to_le_bytes())?;
    w.put(attr::STATE, &(status.state as u32).to_le_bytes())?;
    w.put(attr::VERSION, &[status.version as u8])?;
    match status.version {
        Version::Carp => {
            w.put(attr::ADVBASE, &i32::from(status.advbase).to_le_bytes())?;
            w.put(attr::ADVSKEW, &i32::from(status.advskew).to_le_bytes())?;
            w.put(attr::ADDR, &status.peer4.octets())?;
            w.put(attr::ADDR6, &status.peer6.octets())?;
            if privileged {
                w.put(attr::KEY, &status.key)?;
            }
        }
        Version::Vrrp3 => {
            w.put(attr::VRRP_PRIORITY, &[status.vrrp_priority])?;
            w.put(attr::VRRP_ADV_INTER, &status.vrrp_interval_cs.to_le_bytes())?;
        }
    }
    Ok(w.off)
}

/// Writes the payload of one GET reply: `genlmsghdr` {cmd GET, version 0, reserved 0},
/// then [`encode_status_attrs`]. For a glue that lets the kernel write the `nlmsghdr`
/// (`nlmsg_reply`) and reserves this many bytes after it.
pub fn encode_status_payload(
    status: &VhidStatus,
    privileged: bool,
    out: &mut [u8],
) -> Result<usize, Errno> {
    bytes::put(out, 0, &[CMD_GET, 0, 0, 0]).ok_or(Errno::ENOMEM)?;
    let rest = out.get_mut(GENL_HDRLEN..).ok_or(Errno::ENOMEM)?;
    let n = encode_status_attrs(status, privileged, rest)?;
    GENL_HDRLEN.checked_add(n).ok_or(Errno::ENOMEM)
}

/// The `nlmsghdr` fields of a reply, copied from the request as `nlmsg_reply` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    /// `nlmsg_type`: the family id of `"carp"`.
    pub family_id: u16,
    /// `nlmsg_flags`: the request's flags; a GET dump adds [`NLM_F_MULTI`].
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl ReplyHeader {
    /// The header of a GET dump reply to `request`: its type, seq and pid, and its flags
    /// with `NLM_F_MULTI` added (as `carp_nl_get` does before replying).
    pub fn for_get_reply(request: &NlMsgHeader) -> ReplyHeader {
        ReplyHeader {
            family_id: request.ty,
            flags: request.flags | NLM_F_MULTI,
            seq: request.seq,
            pid: request.pid,
        }
    }
}

/// Bytes [`encode_status`] writes for `status`.
pub fn status_msg_len(status: &VhidStatus, privileged: bool) -> usize {
    NLMSG_HDRLEN + GENL_HDRLEN + status_attrs_len(status, privileged)
}

/// Writes one complete GET reply message (`nlmsghdr` with `nlmsg_len` filled in,
/// `genlmsghdr`, attributes). Returns its length; `ENOMEM` if `out` is too short.
pub fn encode_status(
    hdr: &ReplyHeader,
    status: &VhidStatus,
    privileged: bool,
    out: &mut [u8],
) -> Result<usize, Errno> {
    let body = out.get_mut(NLMSG_HDRLEN..).ok_or(Errno::ENOMEM)?;
    let n = encode_status_payload(status, privileged, body)?;
    let total = NLMSG_HDRLEN.checked_add(n).ok_or(Errno::ENOMEM)?;
    NlMsgHeader {
        len: u32::try_from(total).map_err(|_| Errno::ENOMEM)?,
        ty: hdr.family_id,
        flags: hdr.flags,
        seq: hdr.seq,
        pid: hdr.pid,
    }
    .emit(out)?;
    Ok(total)
}

/// Reads a GET reply payload (from the `genlmsghdr`) back into a [`VhidStatus`], as
/// libifconfig does (used by the host tools and tests). Missing attributes take FreeBSD's
/// defaults; `EINVAL` for malformed attributes or an out-of-range vhid/state/version.
pub fn decode_status_payload(payload: &[u8]) -> Result<VhidStatus, Errno> {
    let p = parse_payload(payload)?;
    let vhid = valid_vhid(i64::from(p.vhid))?;
    let state = crate::types::CarpState::from_u32(p.state).ok_or(Errno::EINVAL)?;
    let version = match p.version {
        0 | 2 => Version::Carp,
        3 => Version::Vrrp3,
        _ => return Err(Errno::EINVAL),
    };
    Ok(VhidStatus {
        vhid,
        state,
        advbase: u8::try_from(p.advbase).map_err(|_| Errno::EINVAL)?,
        advskew: u8::try_from(p.advskew).map_err(|_| Errno::EINVAL)?,
        key: p.key,
        peer4: p.addr,
        peer6: p.addr6,
        version,
        vrrp_priority: p.vrrp_prio,
        vrrp_interval_cs: p.vrrp_adv_inter,
    })
}

//! Configuration requests as pure functions: what the kernel glue calls when userland
//! configures or queries a vhid, with FreeBSD 15's errno for every bad value and nothing
//! changed when a request is refused.
//!
//! | module        | entry points                                                          |
//! |---------------|-----------------------------------------------------------------------|
//! | [`carpreq`]   | SIOCSVH / SIOCGVH `struct carpreq` (FreeBSD 15 layout, 40 bytes)      |
//! | [`netlink`]   | generic netlink family `"carp"`: SET / GET decode, GET reply encode   |
//! | [`legacy`]    | the same requests aimed at one of our cloned `carpN` (9.x semantics)  |
//! | this module   | interface checks, privilege, GET selection, `carp_attach` errors      |
//!
//! # Order of checks (FreeBSD 15, `sys/netinet/ip_carp.c`)
//!
//! The errno a caller sees depends on the order in which the checks run, so the glue must
//! call these functions in this order:
//!
//! - **ioctl SIOCSVH**: copy in 40 bytes ([`carpreq::decode`], `EFAULT` when short) →
//!   look up `ifr_name` and [`check_interface`] with [`Op::IoctlSet`] (`ENXIO`,
//!   `EOPNOTSUPP`, `EADDRNOTAVAIL`) → [`check_privilege`] (`EPERM`) →
//!   [`carpreq::CarpReq::set_request`] (`EINVAL`) → the vhid table applies it (a version
//!   mismatch with an existing vhid is `EINVAL` there). [`carpreq::ioctl_set`] runs the
//!   last two steps.
//! - **ioctl SIOCGVH**: copy in → [`check_interface`] with [`Op::IoctlGet`] →
//!   [`carpreq::ioctl_get`] (`EINVAL`, `EMSGSIZE`, `ENOENT`, then the records).
//! - **netlink SET**: privilege (the generic netlink framework refuses the command with
//!   `EPERM` before the handler runs, because the command is registered with
//!   `PRIV_NETINET_CARP`) → [`netlink::decode_set`] (attribute errors, then vhid, state,
//!   version, advbase/advskew or VRRP interval: `EINVAL`) → interface lookup by
//!   [`netlink::IfSelector`] and [`check_interface`] with [`Op::NetlinkSet`].
//! - **netlink GET**: [`netlink::decode_get`] → interface lookup and [`check_interface`]
//!   with [`Op::NetlinkGet`] (no multicast check on this path) →
//!   [`netlink::GetCommand::query`] (`EINVAL`) → [`select`] (`ENOENT`) → one reply per
//!   vhid ([`netlink::encode_status`]).
//!
//! Our own cloned `carpN` interfaces pass [`check_interface`] as [`Model::Legacy`]; the
//! request is then handled by [`legacy`] instead of the per-parent vhid table.

pub mod carpreq;
pub mod legacy;
pub mod netlink;

use crate::types::{Errno, VhidStatus, CARP_MAXVHID};

/// `IFT_ETHER` (`net/if_types.h`).
pub const IFT_ETHER: u8 = 0x06;
/// `IFT_L2VLAN` (`net/if_types.h`).
pub const IFT_L2VLAN: u8 = 0x87;
/// `IFT_BRIDGE` (`net/if_types.h`).
pub const IFT_BRIDGE: u8 = 0xd1;

/// `IFF_UP` (`net/if.h`).
pub const IFF_UP: u32 = 0x1;
/// `IFF_BROADCAST` (`net/if.h`).
pub const IFF_BROADCAST: u32 = 0x2;
/// `IFF_LOOPBACK` (`net/if.h`).
pub const IFF_LOOPBACK: u32 = 0x8;
/// `IFF_MULTICAST` (`net/if.h`).
pub const IFF_MULTICAST: u32 = 0x8000;

/// `AF_INET` on FreeBSD.
pub const AF_INET: u8 = 2;
/// `AF_INET6` on FreeBSD.
pub const AF_INET6: u8 = 28;

/// What the glue knows about the interface a request names, after looking it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `if_type` (`IFT_*`).
    pub if_type: u8,
    /// `if_flags` (`IFF_*`).
    pub if_flags: u32,
    /// The interface is one of this module's own cloned `carpN`.
    pub carp_clone: bool,
}

/// Which request path is checking the interface: they differ in whether the parent
/// must be multicast-capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// SIOCSVH: type check, then `IFF_MULTICAST`.
    IoctlSet,
    /// SIOCGVH: type check, then `IFF_MULTICAST` (the ioctl checks both for GET too).
    IoctlGet,
    /// CARP_NL_CMD_SET: type check, then `IFF_MULTICAST`.
    NetlinkSet,
    /// CARP_NL_CMD_GET: type check only.
    NetlinkGet,
}

/// Which configuration model applies to the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// A real Ethernet-like parent: vhids live on its addresses (FreeBSD 10+).
    Modern,
    /// One of our cloned `carpN`: one vhid per interface, 9.x semantics ([`legacy`]).
    Legacy,
}

/// `carp_is_supported_if` plus the `IFF_MULTICAST` check of the request paths.
///
/// - interface not found → `ENXIO`;
/// - our own `carpN` clone → [`Model::Legacy`] (whatever its type and flags: its parent is
///   found later, by subnet, and must be multicast-capable then — see
///   [`crate::parent`]);
/// - type other than `IFT_ETHER`, `IFT_L2VLAN`, `IFT_BRIDGE` → `EOPNOTSUPP`;
/// - no `IFF_MULTICAST` on every path except [`Op::NetlinkGet`] → `EADDRNOTAVAIL`.
pub fn check_interface(iface: Option<Interface>, op: Op) -> Result<Model, Errno> {
    let Some(ifp) = iface else {
        return Err(Errno::ENXIO);
    };
    if ifp.carp_clone {
        return Ok(Model::Legacy);
    }
    match ifp.if_type {
        IFT_ETHER | IFT_L2VLAN | IFT_BRIDGE => {}
        _ => return Err(Errno::EOPNOTSUPP),
    }
    let needs_multicast = !matches!(op, Op::NetlinkGet);
    if needs_multicast && ifp.if_flags & IFF_MULTICAST == 0 {
        return Err(Errno::EADDRNOTAVAIL);
    }
    Ok(Model::Modern)
}

/// `priv_check(td, PRIV_NETINET_CARP)` as a function of its outcome: `EPERM` when the
/// caller is not privileged. Readers are never refused; they only lose the key.
pub fn check_privilege(privileged: bool) -> Result<(), Errno> {
    if privileged {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// `carp_attach(ifa, vhid)` refusals, in FreeBSD's order: the address family is neither
/// `AF_INET` nor `AF_INET6` → `EPROTOTYPE`; the interface has no CARP container (no vhid
/// was ever configured on it) → `ENOPROTOOPT`; the vhid is not configured on it →
/// `ENOENT`. A multicast join failure afterwards is the glue's own errno.
pub fn attach_check(
    sa_family: u8,
    has_container: bool,
    vhid_configured: bool,
) -> Result<(), Errno> {
    if sa_family != AF_INET && sa_family != AF_INET6 {
        return Err(Errno::EPROTOTYPE);
    }
    if !has_container {
        return Err(Errno::ENOPROTOOPT);
    }
    if !vhid_configured {
        return Err(Errno::ENOENT);
    }
    Ok(())
}

/// A validated GET query (`carp_ioctl_get`'s argument checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetQuery {
    /// `None`: every vhid on the interface; `Some(v)`: only vhid `v`.
    pub vhid: Option<u8>,
    /// How many records the caller has room for (`carpr_count`, ≥ 1).
    pub max: u32,
}

impl GetQuery {
    /// Checks `carpr_vhid` (0..=255, else `EINVAL`) and then `carpr_count` (≥ 1, else
    /// `EMSGSIZE`), in that order.
    pub fn new(vhid: i64, count: i64) -> Result<GetQuery, Errno> {
        if vhid < 0 || vhid > i64::from(CARP_MAXVHID) {
            return Err(Errno::EINVAL);
        }
        if count < 1 {
            return Err(Errno::EMSGSIZE);
        }
        let vhid = u8::try_from(vhid).map_err(|_| Errno::EINVAL)?;
        Ok(GetQuery {
            vhid: if vhid == 0 { None } else { Some(vhid) },
            max: u32::try_from(count).unwrap_or(u32::MAX),
        })
    }
}

/// The vhids a GET returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection<'a> {
    /// The one vhid asked for.
    One(&'a VhidStatus),
    /// Every vhid on the interface, in the table's order.
    All(&'a [VhidStatus]),
}

impl<'a> Selection<'a> {
    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Selection::One(_) => 1,
            Selection::All(all) => all.len(),
        }
    }

    /// No record at all (a container that holds no vhid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records, in order.
    pub fn iter(&self) -> core::slice::Iter<'a, VhidStatus> {
        match *self {
            Selection::One(one) => core::slice::from_ref(one).iter(),
            Selection::All(all) => all.iter(),
        }
    }
}

/// Chooses what a GET returns, after [`GetQuery::new`]: no CARP container on the interface
/// (`all` is `None`) → `ENOENT`; a vhid that is not configured → `ENOENT`; all vhids but
/// more of them than `max` → `EMSGSIZE`.
pub fn select<'a>(query: &GetQuery, all: Option<&'a [VhidStatus]>) -> Result<Selection<'a>, Errno> {
    let Some(all) = all else {
        return Err(Errno::ENOENT);
    };
    match query.vhid {
        Some(v) => all
            .iter()
            .find(|s| s.vhid == v)
            .map(Selection::One)
            .ok_or(Errno::ENOENT),
        None => {
            let n = u32::try_from(all.len()).unwrap_or(u32::MAX);
            if n > query.max {
                return Err(Errno::EMSGSIZE);
            }
            Ok(Selection::All(all))
        }
    }
}

/// Little-endian field helpers shared by the codecs (FreeBSD amd64 host byte order).
pub(crate) mod bytes {
    pub(crate) fn get<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
        let end = off.checked_add(N)?;
        buf.get(off..end)?.try_into().ok()
    }

    pub(crate) fn u16_le(buf: &[u8], off: usize) -> Option<u16> {
        get::<2>(buf, off).map(u16::from_le_bytes)
    }

    pub(crate) fn u32_le(buf: &[u8], off: usize) -> Option<u32> {
        get::<4>(buf, off).map(u32::from_le_bytes)
    }

    pub(crate) fn i32_le(buf: &[u8], off: usize) -> Option<i32> {
        get::<4>(buf, off).map(i32::from_le_bytes)
    }

    /// Copies `src` into `out[off..]`; `None` if it does not fit.
    pub(crate) fn put(out: &mut [u8], off: usize, src: &[u8]) -> Option<()> {
        let end = off.checked_add(src.len())?;
        out.get_mut(off..end)?.copy_from_slice(src);
        Some(())
    }
}

//! Configuration aimed at one of our cloned `carpN` interfaces (the FreeBSD ≤ 9 model
//! brought back on a 15 kernel, reference D.2 and D.6).
//!
//! A `carpN` holds at most one vhid. Its parent is found by subnet when its first address
//! is added ([`crate::parent`]), so a `carpN` may have a vhid and no parent yet. Three
//! request paths reach it:
//!
//! - **SIOCSVH on `carpN`** ([`ioctl_set`]): FreeBSD 15 `struct carpreq` layout (what every
//!   program built on 15 sends), FreeBSD 9.3 semantics;
//! - **netlink CARP_NL_CMD_SET with IFNAME=`carpN`** ([`netlink_set`]): what stock 15
//!   `ifconfig carp0 vhid 1 pass x …` sends before adding the address; validated by
//!   [`super::netlink::decode_set`] first, then checked here;
//! - **SIOCGVH / CARP_NL_CMD_GET on `carpN`** ([`ioctl_get`], [`get_select`]).
//!
//! # Mixing the models
//!
//! A vhid number may exist only once per parent, whatever the model: a second `carpN`
//! with the same vhid on the same parent is `EEXIST` (as 9.3's IPv4 path; 9.3's IPv6 path
//! said `EINVAL`, we say `EEXIST` for both), and a `carpN` vhid that equals a modern
//! vhid on the same parent — or a modern SET on a parent for a vhid a `carpN` there
//! already uses — is `EEXIST` too (reference D.6.6). `EEXIST` is what `ifconfig` prints as
//! "File exists", the clearest message the errno space offers, and it is what 9.x already
//! answered for the legacy-only duplicate.
//!
//! # Deviations from 9.3, on purpose
//!
//! - Atomic: 9.3 forced the state and copied the key *before* finding that the vhid or the
//!   advertisement values were invalid, and returned `EINVAL` after partly applying the
//!   request. Here a refused request changes nothing.
//! - 9.3 stored `carpr_advbase` even when it was 0 (it entered the block because
//!   `carpr_advskew` > 0), leaving a zero advertisement interval; 0 keeps the current
//!   advbase, as in 15. A negative advskew inside that block is `EINVAL` (9.3 stored it).

use super::carpreq::{forced_state, CarpReq, CARPREQ_LEN};
use super::GetQuery;
use crate::types::{
    CarpState, Errno, SetRequest, Version, CARP_DFLTINTV, CARP_KEY_LEN, CARP_MAXVHID,
};

/// The vhids already in use on the `carpN`'s parent (when it has one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParentVhids<'a> {
    /// Vhids of the *other* `carpN` interfaces on the same parent.
    pub siblings: &'a [u8],
    /// Vhids configured the modern way (on the parent's addresses).
    pub modern: &'a [u8],
}

/// What a `carpN` currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarpIf<'a> {
    /// Its vhid (`None`: not set yet; 9.x kept -1 there).
    pub vhid: Option<u8>,
    /// Its parent's vhids, `None` before its first address found a parent.
    pub parent: Option<ParentVhids<'a>>,
}

/// A change to apply to a `carpN`; `None` fields stay as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacyChange {
    /// The vhid after the change (the new one, or the current one).
    pub vhid: Option<u8>,
    /// The vhid number changes: the glue re-keys the vhid, and the `carpN`'s link-layer
    /// address becomes `00:00:5e:00:01:<vhid>`.
    pub renumber: bool,
    /// Administrative forcing (applied only if the vhid is not INIT and differs).
    pub state: Option<CarpState>,
    pub advbase: Option<u8>,
    pub advskew: Option<u8>,
    pub key: Option<[u8; CARP_KEY_LEN]>,
    /// Carried over from a netlink SET (CARP defaults for an ioctl).
    pub version: Version,
    pub peer4: Option<core::net::Ipv4Addr>,
    pub peer6: Option<core::net::Ipv6Addr>,
    pub vrrp_priority: Option<u8>,
    pub vrrp_interval_cs: Option<u16>,
}

impl LegacyChange {
    /// The same change as a [`SetRequest`] for the vhid table, when the `carpN` has a vhid.
    pub fn set_request(&self) -> Option<SetRequest> {
        Some(SetRequest {
            vhid: self.vhid?,
            state: self.state,
            advbase: self.advbase,
            advskew: self.advskew,
            key: self.key,
            peer4: self.peer4,
            peer6: self.peer6,
            version: self.version,
            vrrp_priority: self.vrrp_priority,
            vrrp_interval_cs: self.vrrp_interval_cs,
        })
    }
}

/// `EEXIST` if `vhid` is taken on the parent by another `carpN` or by a modern vhid.
pub fn check_vhid_free(vhid: u8, parent: Option<&ParentVhids<'_>>) -> Result<(), Errno> {
    match parent {
        Some(p) if p.siblings.contains(&vhid) || p.modern.contains(&vhid) => Err(Errno::EEXIST),
        _ => Ok(()),
    }
}

/// The modern side of the mixing rule: a SET for `vhid` on a parent where one of our
/// `carpN` already uses that vhid → `EEXIST` (`legacy_on_parent` = vhids of the `carpN`
/// interfaces whose parent this is). Call it after [`super::netlink::decode_set`] /
/// [`CarpReq::set_request`] and the interface checks, before applying the request.
pub fn check_modern_set(vhid: u8, legacy_on_parent: &[u8]) -> Result<(), Errno> {
    if legacy_on_parent.contains(&vhid) {
        Err(Errno::EEXIST)
    } else {
        Ok(())
    }
}

/// SIOCSVH on a `carpN`: `EPERM` when unprivileged, then 9.3's rules on the FreeBSD 15
/// layout (`carpr_count` ignored):
///
/// - `carpr_state` 1/2 asks for BACKUP/MASTER forcing (applied only when not INIT and
///   different), anything else nothing;
/// - `carpr_vhid` > 0: > 255 → `EINVAL`; taken on the parent → `EEXIST`
///   ([`check_vhid_free`]); else the `carpN` takes that vhid;
/// - `carpr_advbase` > 0 or `carpr_advskew` > 0: advskew ≥ 255 or < 0 → `EINVAL`, advbase
///   > 255 → `EINVAL`; else both are set (advbase 0 keeps the current one);
/// - the key is always replaced (20 bytes, all zero = no authentication key);
/// - neither a vhid nor advertisement values given → `EINVAL`.
pub fn ioctl_set(req: &CarpReq, cur: &CarpIf<'_>, privileged: bool) -> Result<LegacyChange, Errno> {
    super::check_privilege(privileged)?;
    let mut given = false;
    let mut vhid = cur.vhid;
    let mut renumber = false;
    if req.vhid > 0 {
        if req.vhid > i32::from(CARP_MAXVHID) {
            return Err(Errno::EINVAL);
        }
        let v = u8::try_from(req.vhid).map_err(|_| Errno::EINVAL)?;
        check_vhid_free(v, cur.parent.as_ref())?;
        renumber = cur.vhid != Some(v);
        vhid = Some(v);
        given = true;
    }
    let (mut advbase, mut advskew) = (None, None);
    if req.advbase > 0 || req.advskew > 0 {
        if req.advskew >= 255 || req.advskew < 0 || req.advbase > 255 {
            return Err(Errno::EINVAL);
        }
        advskew = Some(u8::try_from(req.advskew).map_err(|_| Errno::EINVAL)?);
        advbase = match u8::try_from(req.advbase) {
            Ok(b) if b > 0 => Some(b),
            _ => None,
        };
        given = true;
    }
    if !given {
        return Err(Errno::EINVAL);
    }
    Ok(LegacyChange {
        vhid,
        renumber,
        state: forced_state(i64::from(req.state)),
        advbase,
        advskew,
        key: Some(req.key),
        version: Version::Carp,
        peer4: None,
        peer6: None,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    })
}

/// CARP_NL_CMD_SET naming a `carpN`, after [`super::netlink::decode_set`] validated it
/// (so the vhid is 1..=255 and the values in range): the `carpN` takes the request's
/// vhid, unless the parent already has it elsewhere (`EEXIST`); everything else is
/// applied with 15's SET semantics.
pub fn netlink_set(req: &SetRequest, cur: &CarpIf<'_>) -> Result<LegacyChange, Errno> {
    check_vhid_free(req.vhid, cur.parent.as_ref())?;
    Ok(LegacyChange {
        vhid: Some(req.vhid),
        renumber: cur.vhid != Some(req.vhid),
        state: req.state,
        advbase: req.advbase,
        advskew: req.advskew,
        key: req.key,
        version: req.version,
        peer4: req.peer4,
        peer6: req.peer6,
        vrrp_priority: req.vrrp_priority,
        vrrp_interval_cs: req.vrrp_interval_cs,
    })
}

/// The binding step when an address is added to a `carpN` (`carp_attach_p` for a `carpN`
/// ifa, or its SIOCSIFADDR): `vhid` is the address request's vhid (0 when `ifconfig` was
/// given none). The `carpN` must have a vhid (`ENOENT` otherwise, as `carp_attach` for an
/// unconfigured vhid); a non-zero `vhid` must be the `carpN`'s own (`ENOENT`); the vhid
/// must be free on the parent just found ([`check_vhid_free`], `EEXIST`). Returns the
/// `carpN`'s vhid. Parent discovery itself is [`crate::parent::find_parent`].
pub fn attach_check(
    vhid: u8,
    carp_vhid: Option<u8>,
    parent: &ParentVhids<'_>,
) -> Result<u8, Errno> {
    let Some(own) = carp_vhid else {
        return Err(Errno::ENOENT);
    };
    if vhid != 0 && vhid != own {
        return Err(Errno::ENOENT);
    }
    check_vhid_free(own, Some(parent))?;
    Ok(own)
}

/// A `carpN`'s current configuration, for SIOCGVH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarpIfStatus {
    pub vhid: Option<u8>,
    pub state: CarpState,
    pub advbase: u8,
    pub advskew: u8,
    pub key: [u8; CARP_KEY_LEN],
}

impl Default for CarpIfStatus {
    /// A freshly created `carpN`: no vhid, INIT, advbase 1, advskew 0, no key.
    fn default() -> Self {
        CarpIfStatus {
            vhid: None,
            state: CarpState::Init,
            advbase: CARP_DFLTINTV,
            advskew: 0,
            key: [0; CARP_KEY_LEN],
        }
    }
}

/// SIOCGVH on a `carpN` (9.3): one record with state, vhid (-1 when unset), advbase,
/// advskew and the key only for a privileged reader; `carpr_count` = 1. The caller's
/// `carpr_count`/`carpr_vhid` are not looked at, as in 9.3.
pub fn ioctl_get(status: &CarpIfStatus, privileged: bool) -> [u8; CARPREQ_LEN] {
    CarpReq {
        count: 1,
        vhid: status.vhid.map_or(-1, i32::from),
        state: status.state as i32,
        advskew: i32::from(status.advskew),
        advbase: i32::from(status.advbase),
        key: if privileged {
            status.key
        } else {
            [0; CARP_KEY_LEN]
        },
    }
    .encode()
}

/// CARP_NL_CMD_GET naming a `carpN`, after [`super::netlink::GetCommand::query`]: the
/// vhid to report. No vhid on the `carpN` → `ENOENT` (what makes plain `ifconfig carp0`
/// print no `carp:` line). A VHID filter naming another vhid still gets the carpN's own
/// record: a carpN has one vhid, and FreeBSD 15's ifconfig reads the record of the vhid
/// it is about to set (`ifconfig carp0 vhid 6` looks up vhid 6) before writing it back
/// whole, so a renumbering keeps the carpN's advskew, advbase and key as 9.x's
/// SIOCGVH-then-SIOCSVH did.
pub fn get_select(_query: &GetQuery, carp_vhid: Option<u8>) -> Result<u8, Errno> {
    carp_vhid.ok_or(Errno::ENOENT)
}

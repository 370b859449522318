//! `struct carpreq` as FreeBSD 15 defines it (`netinet/ip_carp.h`) and the SIOCSVH /
//! SIOCGVH semantics of 15's `carp_ioctl`, `carp_ioctl_set` and `carp_ioctl_get`.
//!
//! Layout (40 bytes, host byte order = little-endian on amd64):
//!
//! | offset | size | field           |
//! |--------|------|-----------------|
//! | 0      | 4    | `carpr_count`   |
//! | 4      | 4    | `carpr_vhid`    |
//! | 8      | 4    | `carpr_state`   |
//! | 12     | 4    | `carpr_advskew` |
//! | 16     | 4    | `carpr_advbase` |
//! | 20     | 20   | `carpr_key`     |
//!
//! FreeBSD ≤ 9 used a 36-byte layout without `carpr_count` and the same ioctl numbers;
//! every caller is treated as a FreeBSD 15 program (reference D.6.8).
//!
//! SIOCGVH fix: FreeBSD 15 fills one on-stack `carpreq` and then copies out
//! `carpr_count * 40` bytes, reading past the structure when several vhids are returned.
//! [`ioctl_get`] writes one 40-byte record per vhid and reports exactly how many bytes it
//! filled; the glue copies out that many and no more.

use super::bytes;
use super::{check_privilege, select, GetQuery};
use crate::types::{CarpState, Errno, SetRequest, Version, VhidStatus, CARP_KEY_LEN, CARP_MAXVHID};

/// `sizeof(struct carpreq)` on FreeBSD 15.
pub const CARPREQ_LEN: usize = 40;
/// `SIOCSVH = _IOWR('i', 245, struct ifreq)` on amd64.
pub const SIOCSVH: u64 = 0xc020_69f5;
/// `SIOCGVH = _IOWR('i', 246, struct ifreq)` on amd64.
pub const SIOCGVH: u64 = 0xc020_69f6;

mod field {
    pub const COUNT: usize = 0;
    pub const VHID: usize = 4;
    pub const STATE: usize = 8;
    pub const ADVSKEW: usize = 12;
    pub const ADVBASE: usize = 16;
    pub const KEY: usize = 20;
}

/// The raw fields of one `struct carpreq`, exactly as the caller wrote them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarpReq {
    pub count: i32,
    pub vhid: i32,
    pub state: i32,
    pub advskew: i32,
    pub advbase: i32,
    pub key: [u8; CARP_KEY_LEN],
}

/// Decodes the first 40 bytes of `buf`. A shorter buffer is what a failing `copyin` of
/// `sizeof(struct carpreq)` bytes looks like: `EFAULT`. Nothing is validated here; see
/// [`CarpReq::set_request`] and [`CarpReq::get_query`].
pub fn decode(buf: &[u8]) -> Result<CarpReq, Errno> {
    let field = |off| bytes::i32_le(buf, off).ok_or(Errno::EFAULT);
    Ok(CarpReq {
        count: field(field::COUNT)?,
        vhid: field(field::VHID)?,
        state: field(field::STATE)?,
        advskew: field(field::ADVSKEW)?,
        advbase: field(field::ADVBASE)?,
        key: bytes::get::<CARP_KEY_LEN>(buf, field::KEY).ok_or(Errno::EFAULT)?,
    })
}

impl CarpReq {
    /// The 40 bytes of this request.
    pub fn encode(&self) -> [u8; CARPREQ_LEN] {
        let mut out = [0u8; CARPREQ_LEN];
        // The array is exactly CARPREQ_LEN long, so every put below fits.
        let _ = self.emit(&mut out);
        out
    }

    /// Writes the 40 bytes into the start of `out`; `EFAULT` if `out` is shorter.
    pub fn emit(&self, out: &mut [u8]) -> Result<(), Errno> {
        let fields = [
            (field::COUNT, self.count),
            (field::VHID, self.vhid),
            (field::STATE, self.state),
            (field::ADVSKEW, self.advskew),
            (field::ADVBASE, self.advbase),
        ];
        if out.len() < CARPREQ_LEN {
            return Err(Errno::EFAULT);
        }
        for (off, v) in fields {
            bytes::put(out, off, &v.to_le_bytes()).ok_or(Errno::EFAULT)?;
        }
        bytes::put(out, field::KEY, &self.key).ok_or(Errno::EFAULT)
    }

    /// The record SIOCGVH returns for one vhid (`carp_carprcp`): state, vhid, and for a
    /// CARP vhid advbase, advskew and the key — zeroed unless the reader is privileged.
    /// For a VRRPv3 vhid FreeBSD leaves advbase/advskew/key untouched (stale caller or
    /// previous-record bytes); we write zeros.
    pub fn from_status(status: &VhidStatus, count: i32, privileged: bool) -> CarpReq {
        let carp = status.version == Version::Carp;
        CarpReq {
            count,
            vhid: i32::from(status.vhid),
            state: status.state as i32,
            advskew: if carp { i32::from(status.advskew) } else { 0 },
            advbase: if carp { i32::from(status.advbase) } else { 0 },
            key: if carp && privileged {
                status.key
            } else {
                [0; CARP_KEY_LEN]
            },
        }
    }

    /// `carp_ioctl_set`'s validation of an ioctl SET (always CARP version 2: the ioctl
    /// cannot carry a version), in FreeBSD's order:
    ///
    /// - `carpr_vhid` not in 1..=255 → `EINVAL`;
    /// - `carpr_advbase` not 0 and not in 1..=255 → `EINVAL` (0 = unchanged);
    /// - `carpr_advskew` not in 0..=254 → `EINVAL` (always applied; 241..=254 clamp to
    ///   240 on the wire);
    /// - `carpr_state` 1 (BACKUP) or 2 (MASTER) requests forcing; any other value
    ///   (INIT included) is ignored, as FreeBSD ignores it;
    /// - the key replaces the current one only if its first byte is not NUL.
    pub fn set_request(&self) -> Result<SetRequest, Errno> {
        let vhid = valid_vhid(i64::from(self.vhid))?;
        let advbase = match self.advbase {
            0 => None,
            1..=255 => Some(u8::try_from(self.advbase).map_err(|_| Errno::EINVAL)?),
            _ => return Err(Errno::EINVAL),
        };
        let advskew = match self.advskew {
            0..=254 => u8::try_from(self.advskew).map_err(|_| Errno::EINVAL)?,
            _ => return Err(Errno::EINVAL),
        };
        Ok(SetRequest {
            vhid,
            state: forced_state(i64::from(self.state)),
            advbase,
            advskew: Some(advskew),
            key: key_if_set(&self.key),
            peer4: None,
            peer6: None,
            version: Version::Carp,
            vrrp_priority: None,
            vrrp_interval_cs: None,
        })
    }

    /// The GET query this request makes (`carpr_vhid` 0..=255 else `EINVAL`, then
    /// `carpr_count` ≥ 1 else `EMSGSIZE`).
    pub fn get_query(&self) -> Result<GetQuery, Errno> {
        GetQuery::new(i64::from(self.vhid), i64::from(self.count))
    }
}

/// SIOCSVH after the interface checks: `EPERM` for an unprivileged caller, then
/// [`CarpReq::set_request`].
pub fn ioctl_set(req: &CarpReq, privileged: bool) -> Result<SetRequest, Errno> {
    check_privilege(privileged)?;
    req.set_request()
}

/// SIOCGVH after the interface checks: validates the query, chooses the vhids (`all` is
/// `None` when the interface has no CARP container) and writes one 40-byte record per vhid
/// into `out`. Returns the number of bytes written — what the glue must copy out, never
/// more. Every record carries `carpr_count` = number of records (what old programs read
/// from the first record). `out` shorter than needed → `EMSGSIZE` (the glue sizes it
/// `min(carpr_count, 255) * 40`, which always suffices).
///
/// A container without any vhid (possible only transiently) yields one all-zero record
/// with `carpr_count` = 0, so a caller looping over `carpr_count` records reads nothing.
pub fn ioctl_get(
    req: &CarpReq,
    all: Option<&[VhidStatus]>,
    privileged: bool,
    out: &mut [u8],
) -> Result<usize, Errno> {
    let query = req.get_query()?;
    let selection = select(&query, all)?;
    let n = selection.len();
    let count = i32::try_from(n).map_err(|_| Errno::EMSGSIZE)?;
    if n == 0 {
        CarpReq::default().emit(out).map_err(|_| Errno::EMSGSIZE)?;
        return Ok(CARPREQ_LEN);
    }
    let needed = n.checked_mul(CARPREQ_LEN).ok_or(Errno::EMSGSIZE)?;
    if out.len() < needed {
        return Err(Errno::EMSGSIZE);
    }
    for (status, chunk) in selection.iter().zip(out.chunks_exact_mut(CARPREQ_LEN)) {
        CarpReq::from_status(status, count, privileged).emit(chunk)?;
    }
    Ok(needed)
}

/// 1..=255 as a vhid, else `EINVAL`.
pub(crate) fn valid_vhid(v: i64) -> Result<u8, Errno> {
    if v <= 0 || v > i64::from(CARP_MAXVHID) {
        return Err(Errno::EINVAL);
    }
    u8::try_from(v).map_err(|_| Errno::EINVAL)
}

/// The state forcing a SET asks for: BACKUP or MASTER; INIT and anything else mean none.
pub(crate) fn forced_state(v: i64) -> Option<CarpState> {
    match v {
        1 => Some(CarpState::Backup),
        2 => Some(CarpState::Master),
        _ => None,
    }
}

/// The key, unless its first byte is NUL ("keep the current key").
pub(crate) fn key_if_set(key: &[u8; CARP_KEY_LEN]) -> Option<[u8; CARP_KEY_LEN]> {
    match key.first() {
        Some(0) | None => None,
        Some(_) => Some(*key),
    }
}

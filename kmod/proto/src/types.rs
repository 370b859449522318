//! Vocabulary shared by every part of the core: states, versions, time, errno values,
//! statistics, sysctl values and the configuration request/status records that the
//! ioctl and netlink codecs produce and the vhid state machine consumes.
//!
//! Everything here is plain data: no I/O, no clocks, no allocation.

use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;

/// Largest vhid (`CARP_MAXVHID`). vhid 0 is never configured.
pub const CARP_MAXVHID: u8 = 255;
/// Largest advskew that goes on the wire (`CARP_MAXSKEW`).
pub const CARP_MAXSKEW: u8 = 240;
/// Default advertisement base in seconds (`CARP_DFLTINTV`).
pub const CARP_DFLTINTV: u8 = 1;
/// Key length in bytes (`CARP_KEY_LEN`).
pub const CARP_KEY_LEN: usize = 20;
/// IP protocol number of CARP and VRRP.
pub const IPPROTO_CARP: u8 = 112;
/// Default VRRPv3 priority.
pub const VRRP_DEFAULT_PRIORITY: u8 = 100;
/// Default VRRPv3 advertisement interval in centiseconds.
pub const VRRP_DEFAULT_INTERVAL_CS: u16 = 100;
/// Largest VRRPv3 interval in centiseconds (`VRRP_MAX_INTERVAL`).
pub const VRRP_MAX_INTERVAL_CS: u16 = 4095;
/// Default `net.inet.carp.dscp` (CS7).
pub const CARP_DEFAULT_DSCP: u8 = 56;
/// Default demotion factors (`ifdown_demotion_factor`, `senderr_demotion_factor`).
pub const CARP_DEFAULT_DEMOTION_FACTOR: i32 = 240;
/// IPv4 CARP/VRRP multicast group 224.0.0.18.
pub const CARP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 CARP/VRRP multicast group ff02::12.
pub const CARP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// The virtual MAC of a vhid: 00:00:5e:00:01:<vhid> (CARP and VRRPv3, IPv4 and IPv6).
pub const fn virtual_mac(vhid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vhid]
}

/// If `mac` is a CARP virtual MAC, the vhid it names.
pub fn vhid_of_virtual_mac(mac: &[u8; 6]) -> Option<u8> {
    match mac {
        [0x00, 0x00, 0x5e, 0x00, 0x01, v] if *v != 0 => Some(*v),
        _ => None,
    }
}

/// State of one vhid (`CARP_STATES`). The discriminants are FreeBSD's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CarpState {
    Init = 0,
    Backup = 1,
    Master = 2,
}

impl CarpState {
    /// FreeBSD's upper-case name, as printed by ifconfig and sent to devd.
    pub const fn as_str(self) -> &'static str {
        match self {
            CarpState::Init => "INIT",
            CarpState::Backup => "BACKUP",
            CarpState::Master => "MASTER",
        }
    }

    /// From the numeric value used by carpreq and netlink (0..=2).
    pub const fn from_u32(v: u32) -> Option<CarpState> {
        match v {
            0 => Some(CarpState::Init),
            1 => Some(CarpState::Backup),
            2 => Some(CarpState::Master),
            _ => None,
        }
    }
}

/// Interface link state (`LINK_STATE_*` of net/if.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkState {
    Unknown = 0,
    Down = 1,
    Up = 2,
}

impl CarpState {
    /// The link state a legacy cloned carpN shows for this CARP state (FreeBSD <= 9.x):
    /// MASTER up, BACKUP down, INIT unknown; devd then reports `system=IFNET
    /// subsystem=carpN type=LINK_UP|LINK_DOWN`.
    pub const fn legacy_link_state(self) -> LinkState {
        match self {
            CarpState::Init => LinkState::Unknown,
            CarpState::Backup => LinkState::Down,
            CarpState::Master => LinkState::Up,
        }
    }
}

/// Protocol a vhid speaks (`carp_version_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// CARP version 2 (FreeBSD/OpenBSD CARP).
    Carp = 2,
    /// VRRPv3 (RFC 9568).
    Vrrp3 = 3,
}

/// Address family of an advertisement, address or timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

/// A point in time, in microseconds since an arbitrary epoch chosen by the caller
/// (the kernel glue uses uptime, the simulator virtual time). The core never reads a clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_micros(us: u64) -> Instant {
        Instant(us)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Instant {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(us))
    }

    /// `self - earlier`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// FreeBSD errno values (sys/errno.h), as returned to ioctl/netlink callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ENXIO = 6,
    ENOMEM = 12,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EINVAL = 22,
    EMSGSIZE = 40,
    EPROTOTYPE = 41,
    ENOPROTOOPT = 42,
    EPROTONOSUPPORT = 43,
    EOPNOTSUPP = 45,
    EAFNOSUPPORT = 47,
    EADDRNOTAVAIL = 49,
    ENOBUFS = 55,
}

impl Errno {
    pub const fn as_i32(self) -> i32 {
        self as i32
    }
}

/// Index into `struct carpstats` (16 × uint64, this order, `net.inet.carp.stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stat {
    IPackets = 0,
    IPackets6 = 1,
    BadIf = 2,
    BadTtl = 3,
    HdrOps = 4,
    BadSum = 5,
    BadVer = 6,
    BadLen = 7,
    BadAuth = 8,
    BadVhid = 9,
    BadAddrs = 10,
    OPackets = 11,
    OPackets6 = 12,
    ONoMem = 13,
    OStates = 14,
    Preempt = 15,
}

/// Number of counters in `struct carpstats`.
pub const CARP_NSTATS: usize = 16;

/// A plain copy of `struct carpstats` (the kernel keeps per-CPU counters and sums them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarpStats(pub [u64; CARP_NSTATS]);

impl CarpStats {
    pub fn bump(&mut self, s: Stat) {
        if let Some(c) = self.0.get_mut(s as usize) {
            *c = c.wrapping_add(1);
        }
    }

    pub fn get(&self, s: Stat) -> u64 {
        self.0.get(s as usize).copied().unwrap_or(0)
    }
}

/// The values of the `net.inet.carp` sysctls that decisions depend on (one VNET's worth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sysctls {
    /// `allow`: accept advertisements and run vhids.
    pub allow: bool,
    /// `preempt`: a backup takes over from a slower master.
    pub preempt: bool,
    /// `log`: 0 silent, 1 state changes, 2 also bad packets.
    pub log: u8,
    /// `arpbalance`: legacy ARP load balancing across carpN sharing an address.
    pub arpbalance: bool,
    /// `dscp`: 0..=63.
    pub dscp: u8,
    /// `demotion`: current global demotion (may be negative).
    pub demotion: i32,
    /// `senderr_demotion_factor`.
    pub senderr_demotion_factor: i32,
    /// `ifdown_demotion_factor`.
    pub ifdown_demotion_factor: i32,
}

impl Default for Sysctls {
    fn default() -> Self {
        Sysctls {
            allow: true,
            preempt: false,
            log: 1,
            arpbalance: false,
            dscp: CARP_DEFAULT_DSCP,
            demotion: 0,
            senderr_demotion_factor: CARP_DEFAULT_DEMOTION_FACTOR,
            ifdown_demotion_factor: CARP_DEFAULT_DEMOTION_FACTOR,
        }
    }
}

/// A validated SET request (from SIOCSVH or netlink CARP_NL_CMD_SET). `None` means
/// "leave unchanged". Produced by `config`, applied by the vhid table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetRequest {
    /// 1..=255.
    pub vhid: u8,
    /// Administrative state forcing (B.6); `None` when not requested (or INIT given).
    pub state: Option<CarpState>,
    /// 1..=255 when present.
    pub advbase: Option<u8>,
    /// 0..=254 when present (values above 240 clamp to 240 on the wire).
    pub advskew: Option<u8>,
    /// New key; `None` when the request's key started with a NUL byte ("keep").
    pub key: Option<[u8; CARP_KEY_LEN]>,
    /// New IPv4 advertisement destination (unicast peer, or 224.0.0.18 to restore multicast).
    pub peer4: Option<Ipv4Addr>,
    /// New IPv6 advertisement destination (unicast peer6, or ff02::12).
    pub peer6: Option<Ipv6Addr>,
    /// Protocol version requested (0 on the wire means CARP).
    pub version: Version,
    /// VRRPv3 priority; `None` = unchanged (0 on the wire).
    pub vrrp_priority: Option<u8>,
    /// VRRPv3 interval in centiseconds, 1..=4095; `None` = unchanged (0 on the wire).
    pub vrrp_interval_cs: Option<u16>,
}

/// A snapshot of one vhid as reported by SIOCGVH / CARP_NL_CMD_GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VhidStatus {
    pub vhid: u8,
    pub state: CarpState,
    pub advbase: u8,
    /// Configured (not demoted) advskew.
    pub advskew: u8,
    pub key: [u8; CARP_KEY_LEN],
    /// IPv4 advertisement destination (224.0.0.18 unless a unicast peer is set).
    pub peer4: Ipv4Addr,
    /// IPv6 advertisement destination (ff02::12 unless a unicast peer6 is set).
    pub peer6: Ipv6Addr,
    pub version: Version,
    pub vrrp_priority: u8,
    pub vrrp_interval_cs: u16,
}

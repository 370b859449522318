//! The per-vhid state machine (FreeBSD 15's `carp_softc` logic, reference B), sans-IO.
//!
//! A [`Vhid`] is one virtual host id on one parent interface, speaking CARP v2 or VRRPv3.
//! It never reads a clock and never performs I/O: the caller feeds it inputs through the
//! `handle_*` methods (and [`Vhid::apply`], [`Vhid::add_address`], ...), always passing the
//! current time and the VNET's [`Sysctls`], and then drains its outputs.
//!
//! # Inputs
//!
//! | input | method | FreeBSD |
//! |---|---|---|
//! | authenticated CARP advertisement | [`Vhid::handle_carp_advert`] | `carp_input_c` after the HMAC check |
//! | VRRPv3 advertisement | [`Vhid::handle_vrrp_advert`] | `vrrp_input_c` after the checksum |
//! | a deadline passed | [`Vhid::handle_timeout`] | `carp_callout`, `carp_master_down` |
//! | parent `IFF_UP` / link state | [`Vhid::handle_parent`] | `carp_linkstate` → `carp_sc_state` |
//! | `allow` sysctl changed | [`Vhid::handle_allow`] | `carp_allow_sysctl` → `carp_sc_state` |
//! | address attached / detached | [`Vhid::add_address`], [`Vhid::remove_address`] | `carp_attach`, `carp_detach` |
//! | SET request | [`Vhid::apply`] | `carp_ioctl_set` |
//! | demotion changed (send-all task) | [`Vhid::handle_demotion_change`] | `carp_send_ad_all` |
//! | result of sending an advert | [`Vhid::handle_send_result`] | `carp_send_ad_error` |
//! | vhid destroyed | [`Vhid::shutdown`] | `carp_destroy` |
//!
//! The vhid-level receive checks (version, multicast-ness of our advert destination for the
//! TTL rule, HMAC) are [`Vhid::version`], [`Vhid::advert_dst_is_multicast`] and
//! [`Vhid::verify`]; the receive pipeline (`crate::input`) runs them in FreeBSD's order before
//! calling [`Vhid::handle_carp_advert`].
//!
//! # Outputs and polling order
//!
//! After every input, drain in this order (it is FreeBSD's order of side effects, e.g. on
//! takeover: state change and devd, advertisement, gratuitous ARPs, NAs, routes):
//!
//! 1. [`Vhid::poll_event`] until `None`: state changes (log line + devd tuple) and demotion
//!    changes (log line; then run the send-all task: `Table::handle_demotion_change` on every
//!    table, which makes every MASTER advertise at once);
//! 2. [`Vhid::poll_transmit`] until `None`: advertisements (IPv4 then IPv6), then one
//!    gratuitous ARP per IPv4 address, then one unsolicited NA per IPv6 address; report each
//!    advertisement's fate with [`Vhid::handle_send_result`];
//! 3. [`Vhid::poll_route`] until `None`: route add/delete for every address of the vhid;
//! 4. [`Vhid::poll_timeout`]: (re)arm the single callout of this vhid for that instant, and
//!    call [`Vhid::handle_timeout`] when it fires.
//!
//! Advertisement contents (counter, HMAC, effective skew) are computed when polled, so poll
//! right after the input that asked for them. Events live in a small fixed ring: a caller
//! that does not drain after each input loses the oldest ones ([`Vhid::lost_events`]).
//!
//! # Rules (reference B, A.3, A.7)
//!
//! * The live demotion comes from the [`Demotion`] handle given at creation (shared by every
//!   vhid of the VNET); `Sysctls::demotion` is not read.
//! * Timing values are compared as FreeBSD's `struct timeval`s: `(advbase s, skew*1000000/256
//!   µs)`. Our own value uses the *demoted* skew (`clamp(advskew + demotion, 0, 240)`); the
//!   master-down interval uses the *configured* skew: `3*advbase + advskew/256` s.
//! * MASTER receiving an advertisement at least as frequent as ours (`L >= R`, so a tie goes
//!   to the sender) → BACKUP "more frequent advertisement received". BACKUP: with `preempt`
//!   and `L < R` → MASTER "preempting a slower master"; else if `(3*advbase, our µs) < R` →
//!   MASTER "master will time out"; else restart the master-down timer of that family.
//! * After the first advertisement following a takeover (sent with the demoted skew's
//!   interval) the advertisement timer is re-armed with the *configured* skew (FreeBSD's
//!   `carp_setrun` after `send_ad_locked`); later re-arms use the demoted skew.
//! * The counter starts at the caller-supplied random seed, is incremented once per
//!   advertisement (each family's advert consumes one), and is replaced by the peer's
//!   counter on every authenticated advertisement received (A.3; no replay protection).
//! * VRRPv3: priority 255 ignores peers; the peer's interval becomes the master interval;
//!   MASTER → BACKUP if the peer's interval is shorter or its priority higher; BACKUP with
//!   `preempt` takes over if the peer's interval is longer or its priority lower; master-down
//!   is `3*master_inter + (256-prio)*master_inter/256` cs; adverts every `adv_inter` cs; no
//!   authentication, no counter, no demotion.
//!   Two deliberate refinements (RFC 9568, invisible on the wire): the skew time is exact
//!   (microseconds) where FreeBSD truncates it to whole centiseconds, and the master
//!   interval restarts from the configured interval on INIT → BACKUP.
//!
//! # Deliberate differences from FreeBSD (none visible on the wire)
//!
//! * Entering INIT stops all three timers (FreeBSD may leave an advertisement callout
//!   running that sends nothing); entering MASTER stops the master-down timers (FreeBSD
//!   lets them fire and ignores them).
//! * Routes follow the state: leaving MASTER for any reason deletes them (FreeBSD leaves
//!   them installed when an address add/remove bounces a MASTER through INIT).
//! * The send-error demotion is undone by exactly the amount applied, also when the vhid is
//!   destroyed (FreeBSD undoes the factor's current value and forgets it on destroy).
//! * The counter is seeded once (FreeBSD re-seeds on every advertisement until it first
//!   receives one; peers never check it).

mod event;
mod ifname;
mod transmit;

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use crate::auth::{Authenticator, MD_LEN};
use crate::demotion::{effective_skew, Demotion, DemotionToken};
use crate::timer::{Timer, TimerTable};
use crate::types::{
    virtual_mac, CarpState, CarpStats, Errno, Family, Instant, SetRequest, Stat, Sysctls,
    Version, VhidStatus, CARP_DFLTINTV, CARP_GROUP_V4, CARP_GROUP_V6, CARP_KEY_LEN,
    VRRP_DEFAULT_INTERVAL_CS, VRRP_DEFAULT_PRIORITY,
};

pub use event::{Devd, Event, StateChange, StateReason, Subsystem, EVENT_CAPACITY};
pub use ifname::{IfName, IFNAMSIZ};
pub use transmit::{CarpTransmit, RouteOp, SendResult, Transmit, VrrpAddresses, VrrpTransmit};

use event::{DemotionCause, EventQueue, EventRecord};

/// Consecutive send errors that demote (`CARP_SENDAD_MAX_ERRORS`).
pub const CARP_SENDAD_MAX_ERRORS: u32 = 3;
/// Consecutive successes that undo it (`CARP_SENDAD_MIN_SUCCESS`).
pub const CARP_SENDAD_MIN_SUCCESS: u32 = 3;

const USEC_PER_SEC: u64 = 1_000_000;
const USEC_PER_CS: u64 = 10_000;
/// Announcement cursor value meaning "nothing (more) to announce".
const ANNOUNCE_DONE: u16 = u16::MAX;
const ADV_V4: u8 = 1;
const ADV_V6: u8 = 2;
/// The queued advertisements are the legacy hand-off ones (advbase 255, advskew 255).
const ADV_HANDOFF: u8 = 4;
/// Upper bound on timers handled by one `handle_timeout` call (there are three; a timer
/// re-armed at `now` by a zero interval must not loop).
const MAX_TIMERS_PER_CALL: usize = 6;

/// An authenticated CARP advertisement as the state machine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarpAdvert {
    /// Family of the packet (selects the master-down timer to restart).
    pub family: Family,
    pub advbase: u8,
    pub advskew: u8,
    pub counter: u64,
}

/// A VRRPv3 advertisement (checksum already verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrrpAdvert {
    pub family: Family,
    pub priority: u8,
    /// The 16-bit Max Adver Int word as received (FreeBSD does not mask the reserved bits).
    pub max_adver_int: u16,
}

/// `(tv_sec, tv_usec)` of a CARP timing value, as FreeBSD compares them.
fn timeval(sec: u32, skew: u8) -> (u32, u32) {
    (sec, u32::from(skew).saturating_mul(1_000_000) / 256)
}

/// `sec` seconds plus `skew`/256 seconds, in µs (FreeBSD's `tv` before `tvtohz`).
fn interval_us(sec: u64, skew: u8) -> u64 {
    sec.saturating_mul(USEC_PER_SEC).saturating_add(u64::from(skew).saturating_mul(USEC_PER_SEC) / 256)
}

fn after(now: Instant, us: u64) -> Instant {
    Instant::from_micros(now.as_micros().saturating_add(us))
}

/// Append without any panic or abort path: grow by exactly one element fallibly, and push
/// only when the capacity is visibly there (so the optimiser drops `push`'s growth path;
/// carp.ko's build rejects any surviving panic path). `false` when memory is short.
pub(crate) fn push_fallible<T>(v: &mut Vec<T>, x: T) -> bool {
    if v.try_reserve_exact(1).is_err() {
        return false;
    }
    if v.len() < v.capacity() {
        v.push(x);
        true
    } else {
        false
    }
}

/// Remove the first element equal to `x`, keeping the order, without a panic path.
fn remove_first<T: PartialEq>(v: &mut Vec<T>, x: &T) -> bool {
    let mut found = false;
    v.retain(|y| {
        if !found && y == x {
            found = true;
            false
        } else {
            true
        }
    });
    found
}

/// One virtual host id on one parent interface.
#[derive(Debug)]
pub struct Vhid {
    vhid: u8,
    version: Version,
    state: CarpState,
    iff_up: bool,
    link_up: bool,
    /// Legacy carpN `IFF_UP` (always true for vhids on addresses).
    admin_up: bool,
    init_counter: bool,
    routes_installed: bool,
    adv_pending: u8,
    ifname: IfName,

    // CARP configuration and state.
    advbase: u8,
    advskew: u8,
    key: [u8; CARP_KEY_LEN],
    peer4: Ipv4Addr,
    peer6: Ipv6Addr,
    counter: u64,
    auth: Authenticator,

    // VRRPv3 configuration and state.
    vrrp_prio: u8,
    vrrp_adv_inter: u16,
    vrrp_master_inter: u16,

    // Announcement cursors (index of the next address to announce).
    garp_next: u16,
    na_next: u16,

    addrs4: Vec<Ipv4Addr>,
    addrs6: Vec<Ipv6Addr>,

    timers: TimerTable,

    demotion: Demotion,
    /// The interface-down demotion of this vhid (`sc_suppress`).
    ifdown: Option<DemotionToken>,
    /// The send-error demotion of this vhid.
    senderr: Option<DemotionToken>,
    sendad_errors: u32,
    sendad_success: u32,

    events: EventQueue,
}

impl Vhid {
    /// A new vhid in INIT with FreeBSD's defaults (`carp_alloc`): CARP advbase 1, advskew 0,
    /// all-zero key, multicast destinations; VRRPv3 priority 100, interval 100 cs. It has no
    /// address, so it stays INIT until one is added. The parent is assumed up with link up
    /// until told otherwise ([`Vhid::set_parent_flags`], [`Vhid::handle_parent`]).
    ///
    /// `counter_seed` is a random 64-bit value (FreeBSD: two `arc4random()` words): the
    /// counter of the first advertisement unless a peer's counter is adopted before.
    pub fn new(vhid: u8, version: Version, ifname: IfName, demotion: Demotion, counter_seed: u64) -> Vhid {
        let key = [0u8; CARP_KEY_LEN];
        Vhid {
            vhid,
            version,
            state: CarpState::Init,
            iff_up: true,
            admin_up: true,
            link_up: true,
            init_counter: true,
            routes_installed: false,
            adv_pending: 0,
            ifname,
            advbase: CARP_DFLTINTV,
            advskew: 0,
            key,
            peer4: CARP_GROUP_V4,
            peer6: CARP_GROUP_V6,
            counter: counter_seed,
            auth: Authenticator::new(&key, vhid, &[], &[]),
            vrrp_prio: VRRP_DEFAULT_PRIORITY,
            vrrp_adv_inter: VRRP_DEFAULT_INTERVAL_CS,
            vrrp_master_inter: VRRP_DEFAULT_INTERVAL_CS,
            garp_next: ANNOUNCE_DONE,
            na_next: ANNOUNCE_DONE,
            addrs4: Vec::new(),
            addrs6: Vec::new(),
            timers: TimerTable::new(),
            demotion,
            ifdown: None,
            senderr: None,
            sendad_errors: 0,
            sendad_success: 0,
            events: EventQueue::new(),
        }
    }

    // ----------------------------------------------------------------------------------
    // Queries
    // ----------------------------------------------------------------------------------

    pub fn vhid(&self) -> u8 {
        self.vhid
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn state(&self) -> CarpState {
        self.state
    }

    pub fn is_master(&self) -> bool {
        self.state == CarpState::Master
    }

    /// Name of the parent interface.
    pub fn ifname(&self) -> &IfName {
        &self.ifname
    }

    /// The parent's new name after a rename (see [`crate::table::Table::rename`]).
    pub fn set_ifname(&mut self, ifname: IfName) {
        self.ifname = ifname;
    }

    /// `00:00:5e:00:01:<vhid>`.
    pub fn virtual_mac(&self) -> [u8; 6] {
        virtual_mac(self.vhid)
    }

    pub fn addresses_v4(&self) -> &[Ipv4Addr] {
        &self.addrs4
    }

    pub fn addresses_v6(&self) -> &[Ipv6Addr] {
        &self.addrs6
    }

    /// Whether `addr` is attached to this vhid.
    pub fn has_address(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.addrs4.contains(a),
            IpAddr::V6(a) => self.addrs6.contains(a),
        }
    }

    /// Number of addresses of `family`.
    pub fn address_count(&self, family: Family) -> usize {
        match family {
            Family::Inet => self.addrs4.len(),
            Family::Inet6 => self.addrs6.len(),
        }
    }

    /// Configured advbase (seconds).
    pub fn advbase(&self) -> u8 {
        self.advbase
    }

    /// Configured advskew (0..=254).
    pub fn advskew(&self) -> u8 {
        self.advskew
    }

    /// The skew we advertise and compare with: `clamp(advskew + demotion, 0, 240)`.
    pub fn effective_advskew(&self) -> u8 {
        effective_skew(self.advskew, self.demotion.value())
    }

    /// Current counter (the last one sent or adopted, or the seed before the first advert).
    pub fn counter(&self) -> u64 {
        self.counter
    }

    pub fn key(&self) -> &[u8; CARP_KEY_LEN] {
        &self.key
    }

    /// IPv4 advertisement destination (224.0.0.18 or the unicast peer).
    pub fn peer4(&self) -> Ipv4Addr {
        self.peer4
    }

    /// IPv6 advertisement destination (ff02::12 or the unicast peer6).
    pub fn peer6(&self) -> Ipv6Addr {
        self.peer6
    }

    pub fn vrrp_priority(&self) -> u8 {
        self.vrrp_prio
    }

    /// Our VRRPv3 advertisement interval (centiseconds).
    pub fn vrrp_interval_cs(&self) -> u16 {
        self.vrrp_adv_inter
    }

    /// The master's interval learnt from its advertisements (centiseconds).
    pub fn vrrp_master_interval_cs(&self) -> u16 {
        self.vrrp_master_inter
    }

    /// The demotion accumulator this vhid uses.
    pub fn demotion(&self) -> &Demotion {
        &self.demotion
    }

    /// Whether this vhid holds the interface-down demotion (`sc_suppress`).
    pub fn is_suppressed(&self) -> bool {
        self.ifdown.is_some()
    }

    /// Whether this vhid holds the send-error demotion.
    pub fn in_send_error(&self) -> bool {
        self.senderr.is_some()
    }

    /// Heap bytes owned by this vhid (its address lists, by capacity): with
    /// `size_of::<Vhid>()` the whole per-vhid state.
    pub fn heap_bytes(&self) -> usize {
        self.addrs4
            .capacity()
            .saturating_mul(core::mem::size_of::<Ipv4Addr>())
            .saturating_add(self.addrs6.capacity().saturating_mul(core::mem::size_of::<Ipv6Addr>()))
    }

    /// Whether [`Vhid::poll_event`] has something.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Events overwritten because they were not drained in time.
    pub fn lost_events(&self) -> u16 {
        self.events.lost()
    }

    /// Deadline of one timer (for tests and diagnostics).
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.get(timer)
    }

    /// Master-down interval: CARP `3*advbase + advskew/256` s with the configured skew;
    /// VRRPv3 `3*master_inter + (256-prio)*master_inter/256` cs.
    pub fn master_down_interval(&self) -> Duration {
        Duration::from_micros(self.master_down_us())
    }

    /// Advertisement interval as re-armed after a periodic advertisement: CARP
    /// `advbase + effective_skew/256` s; VRRPv3 `adv_inter` cs.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_micros(self.advert_us(self.effective_advskew()))
    }

    /// The snapshot SIOCGVH / netlink GET report.
    pub fn status(&self) -> VhidStatus {
        VhidStatus {
            vhid: self.vhid,
            state: self.state,
            advbase: self.advbase,
            advskew: self.advskew,
            key: self.key,
            peer4: self.peer4,
            peer6: self.peer6,
            version: self.version,
            vrrp_priority: self.vrrp_prio,
            vrrp_interval_cs: self.vrrp_adv_inter,
        }
    }

    // ----------------------------------------------------------------------------------
    // Receive checks (used by the input pipeline)
    // ----------------------------------------------------------------------------------

    /// Whether our advertisement destination of `family` is multicast: only then must a
    /// received CARP advertisement have TTL/hop limit 255. Tested on the address value
    /// (host order, PR 284872).
    pub fn advert_dst_is_multicast(&self, family: Family) -> bool {
        match self.version {
            Version::Vrrp3 => true,
            Version::Carp => match family {
                Family::Inet => self.peer4.is_multicast(),
                Family::Inet6 => self.peer6.is_multicast(),
            },
        }
    }

    /// Verify a received advertisement's HMAC (constant time).
    pub fn verify(&self, counter: u64, md: &[u8; MD_LEN]) -> bool {
        self.auth.verify(counter, md)
    }

    /// Hand an advertisement accepted by the receive pipeline ([`crate::input`]) to the
    /// matching handler: [`Vhid::handle_carp_advert`] or [`Vhid::handle_vrrp_advert`].
    pub fn handle_advert(&mut self, now: Instant, adv: &crate::input::Advert, sys: &Sysctls) {
        match adv.body {
            crate::input::AdvertBody::Carp(c) => {
                let a = CarpAdvert { family: adv.family, advbase: c.advbase, advskew: c.advskew, counter: c.counter };
                self.handle_carp_advert(now, &a, sys);
            }
            crate::input::AdvertBody::Vrrp(v) => {
                let a = VrrpAdvert { family: adv.family, priority: v.priority, max_adver_int: v.max_adver_int_raw };
                self.handle_vrrp_advert(now, &a, sys);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Configuration inputs
    // ----------------------------------------------------------------------------------

    /// Record the parent's flags without running the state logic (for a vhid created on a
    /// parent whose state is already known; FreeBSD reads them live from the ifnet).
    pub fn set_parent_flags(&mut self, iff_up: bool, link_up: bool) {
        self.iff_up = iff_up;
        self.link_up = link_up;
    }

    /// Apply a SET request (`carp_ioctl_set`): parameters of our version, then the optional
    /// administrative state change (B.6). A request for the other version is `EINVAL` and
    /// changes nothing. Zero advbase / VRRP priority / VRRP interval mean "unchanged".
    /// Changed timing takes effect when the timers are next armed, as in FreeBSD.
    pub fn apply(&mut self, now: Instant, req: &SetRequest, sys: &Sysctls) -> Result<(), Errno> {
        if req.version != self.version || req.vhid != self.vhid {
            return Err(Errno::EINVAL);
        }
        match self.version {
            Version::Carp => {
                if let Some(b) = req.advbase.filter(|&b| b != 0) {
                    self.advbase = b;
                }
                if let Some(s) = req.advskew {
                    self.advskew = s;
                }
                if let Some(p) = req.peer4 {
                    self.peer4 = p;
                }
                if let Some(p) = req.peer6 {
                    self.peer6 = p;
                }
                if let Some(k) = req.key {
                    self.key = k;
                    self.rebuild_auth();
                }
            }
            Version::Vrrp3 => {
                if let Some(p) = req.vrrp_priority.filter(|&p| p != 0) {
                    self.vrrp_prio = p;
                }
                if let Some(i) = req.vrrp_interval_cs.filter(|&i| i != 0) {
                    self.vrrp_adv_inter = i;
                }
            }
        }
        if let Some(state) = req.state {
            self.force_state(now, state, sys);
        }
        Ok(())
    }

    /// Administrative state change (B.6): only when not INIT and different from the current
    /// state. BACKUP: stop advertising, BACKUP "user requested via ifconfig", master-down
    /// timers, routes removed. MASTER: take over as on master-down. INIT: ignored.
    pub fn force_state(&mut self, now: Instant, state: CarpState, sys: &Sysctls) {
        if self.state == CarpState::Init || state == self.state {
            return;
        }
        match state {
            CarpState::Backup => {
                self.timers.stop(Timer::Advertise);
                self.set_state(CarpState::Backup, StateReason::UserRequested);
                self.setrun(now, None, sys);
            }
            CarpState::Master => self.master_down(now, StateReason::UserRequested, sys),
            CarpState::Init => {}
        }
    }

    /// Attach an address (B.5): recompute the HMAC and re-run the interface-state logic,
    /// which bounces the vhid through INIT to BACKUP (or keeps it INIT with the ifdown
    /// demotion if the parent is down). `ENOMEM` if the address list cannot grow.
    pub fn add_address(&mut self, now: Instant, addr: IpAddr, sys: &Sysctls) -> Result<(), Errno> {
        let pushed = match addr {
            IpAddr::V4(a) => push_fallible(&mut self.addrs4, a),
            IpAddr::V6(a) => push_fallible(&mut self.addrs6, a),
        };
        if !pushed {
            return Err(Errno::ENOMEM);
        }
        // The kernel installs an IPv6 address's loopback route and neighbour entry
        // before carp_attach (in6_update_ifa / in6_notify_ifa), an IPv4 one's never: count
        // them as installed, so that a vhid that is not MASTER removes them (routes only
        // while MASTER; stock leaves them on a new BACKUP until its next carp_delroute).
        if addr.is_ipv6() {
            self.routes_installed = true;
        }
        self.rebuild_auth();
        self.sc_state(now, sys);
        Ok(())
    }

    /// Detach an address (B.5). Returns `false` (and changes nothing) if it is not attached.
    /// The caller removes that address's own routes (`carp_ifa_delroute`) and destroys the
    /// vhid when it has no address left, unless the address is being replaced (`keep_cif`).
    pub fn remove_address(&mut self, now: Instant, addr: &IpAddr, sys: &Sysctls) -> bool {
        let removed = match addr {
            IpAddr::V4(a) => remove_first(&mut self.addrs4, a),
            IpAddr::V6(a) => remove_first(&mut self.addrs6, a),
        };
        if removed {
            self.rebuild_auth();
            self.sc_state(now, sys);
        }
        removed
    }

    /// The parent's `IFF_UP` flag or link state changed (`carp_linkstate`, B.4). Like
    /// FreeBSD's `carp_sc_state`, this re-runs the whole interface-state logic, so an "up"
    /// call bounces even a MASTER through INIT to BACKUP: call it on real changes only.
    pub fn handle_parent(&mut self, now: Instant, iff_up: bool, link_up: bool, sys: &Sysctls) {
        self.iff_up = iff_up;
        self.link_up = link_up;
        self.sc_state(now, sys);
    }

    /// Legacy `ifconfig carpN down` / `up` (reference D.2; cloned interfaces only).
    ///
    /// Down: a MASTER CARP vhid queues its hand-off advertisement (advbase and advskew 255,
    /// so every backup takes over at once through "master will time out"), then the vhid
    /// goes INIT with its timers stopped and its routes withdrawn. Unlike a parent going
    /// down this is no fault: no demotion. Up: the election runs again (INIT → BACKUP →
    /// master-down timer → MASTER if nobody else is master). Repeating the current value
    /// does nothing. Poll afterwards as after any input (the hand-off advertisement is
    /// still handed out although the vhid is already INIT).
    pub fn handle_admin(&mut self, now: Instant, up: bool, sys: &Sysctls) {
        if self.admin_up == up {
            return;
        }
        self.admin_up = up;
        if up {
            self.setrun(now, None, sys);
            return;
        }
        if self.state == CarpState::Init {
            return;
        }
        self.queue_handoff();
        self.timers.stop_all();
        self.set_state(CarpState::Init, StateReason::UserRequested);
    }

    /// Legacy `ifconfig carpN vhid M` on a bound `carpN` (9.x changed `sc_vhid` in
    /// place): the vhid takes the number `new`, keeping its state, configuration,
    /// addresses, counter and timers; its HMAC is keyed anew (the vhid is part of it) and
    /// its virtual MAC becomes 00:00:5e:00:01:`new`. A MASTER advertises at once under the
    /// new number and announces its addresses again from the new MAC. `EINVAL` for 0;
    /// the caller makes sure `new` is free on the parent ([`crate::table::Table::renumber`]).
    pub fn renumber(&mut self, now: Instant, new: u8) -> Result<(), Errno> {
        if new == 0 {
            return Err(Errno::EINVAL);
        }
        if new == self.vhid {
            return Ok(());
        }
        self.vhid = new;
        self.rebuild_auth();
        if self.state == CarpState::Master {
            self.send_ad(now);
            self.garp_next = 0;
            self.na_next = 0;
        }
        Ok(())
    }

    /// Whether a legacy carpN is administratively up ([`Vhid::handle_admin`]).
    pub fn is_admin_up(&self) -> bool {
        self.admin_up
    }

    /// `net.inet.carp.allow` changed (B.4): off forces INIT with the ifdown demotion; on
    /// restarts the vhid.
    pub fn handle_allow(&mut self, now: Instant, sys: &Sysctls) {
        self.sc_state(now, sys);
    }

    /// The vhid is being destroyed (`carp_destroy`): stop the timers and release its
    /// demotions ("vhid removed"); drain the resulting events before dropping it.
    pub fn shutdown(&mut self) {
        self.timers.stop_all();
        self.adv_pending = 0;
        self.cancel_announce();
        if let Some(t) = self.ifdown.take() {
            let c = t.release(DemotionCause::VhidRemoved.reason(self.ifname));
            self.push_demotion(c.adj, c.value, DemotionCause::VhidRemoved);
        }
        if let Some(t) = self.senderr.take() {
            let c = t.release(DemotionCause::VhidRemoved.reason(self.ifname));
            self.push_demotion(c.adj, c.value, DemotionCause::VhidRemoved);
        }
    }

    // ----------------------------------------------------------------------------------
    // Protocol inputs
    // ----------------------------------------------------------------------------------

    /// An authenticated CARP advertisement (B.3). Adopts the peer's counter, then compares
    /// timing. Ignored by a VRRPv3 vhid (the input pipeline counts that as `badver`).
    pub fn handle_carp_advert(&mut self, now: Instant, adv: &CarpAdvert, sys: &Sysctls) {
        if self.version != Version::Carp {
            return;
        }
        self.init_counter = false;
        self.counter = adv.counter;

        let ours = self.effective_advskew();
        let local = timeval(u32::from(self.advbase), ours);
        let remote = timeval(u32::from(adv.advbase), adv.advskew);
        match self.state {
            CarpState::Init => {}
            CarpState::Master => {
                if local >= remote {
                    self.timers.stop(Timer::Advertise);
                    self.set_state(CarpState::Backup, StateReason::MoreFrequentAdvertisement);
                    self.setrun(now, None, sys);
                }
            }
            CarpState::Backup => {
                let will_time_out = (u32::from(self.advbase).saturating_mul(3), local.1);
                if sys.preempt && local < remote {
                    self.master_down(now, StateReason::PreemptingSlowerMaster, sys);
                } else if will_time_out < remote {
                    self.master_down(now, StateReason::MasterWillTimeOut, sys);
                } else {
                    self.setrun(now, Some(adv.family), sys);
                }
            }
        }
    }

    /// A VRRPv3 advertisement (A.7). Ignored by a CARP vhid.
    pub fn handle_vrrp_advert(&mut self, now: Instant, adv: &VrrpAdvert, sys: &Sysctls) {
        if self.version != Version::Vrrp3 || self.vrrp_prio == 255 {
            return;
        }
        self.vrrp_master_inter = adv.max_adver_int;
        match self.state {
            CarpState::Init => {}
            CarpState::Master => {
                if adv.max_adver_int < self.vrrp_adv_inter || adv.priority > self.vrrp_prio {
                    self.timers.stop(Timer::Advertise);
                    self.set_state(CarpState::Backup, StateReason::MoreFrequentAdvertisement);
                    self.setrun(now, None, sys);
                }
            }
            CarpState::Backup => {
                if sys.preempt
                    && (adv.max_adver_int > self.vrrp_adv_inter || adv.priority < self.vrrp_prio)
                {
                    self.master_down(now, StateReason::PreemptingSlowerMaster, sys);
                } else {
                    self.setrun(now, Some(adv.family), sys);
                }
            }
        }
    }

    /// Process every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant, sys: &Sysctls) {
        for _ in 0..MAX_TIMERS_PER_CALL {
            let Some(timer) = self.timers.take_expired(now) else { break };
            match timer {
                Timer::Advertise => {
                    if self.state == CarpState::Master {
                        self.send_ad(now);
                    }
                }
                Timer::MasterDown4 | Timer::MasterDown6 => {
                    if self.state == CarpState::Backup {
                        self.master_down(now, StateReason::MasterTimedOut, sys);
                    }
                }
            }
        }
    }

    /// Legacy graceful hand-off (FreeBSD <= 9.x `ifconfig carpN down`, reference D.2): a
    /// MASTER CARP vhid queues one last advertisement per family with advbase 255 and
    /// advskew 255, so every backup takes over at once ("master will time out"). The caller
    /// polls and sends them, then takes the vhid down ([`Vhid::handle_parent`] with the
    /// interface down, or [`Vhid::shutdown`]). Returns whether anything was queued (not
    /// MASTER, or a VRRPv3 vhid: nothing).
    pub fn queue_handoff(&mut self) -> bool {
        if self.state != CarpState::Master || self.version != Version::Carp || !self.has_addresses() {
            return false;
        }
        if !self.addrs4.is_empty() {
            self.adv_pending |= ADV_V4;
        }
        if !self.addrs6.is_empty() {
            self.adv_pending |= ADV_V6;
        }
        self.adv_pending |= ADV_HANDOFF;
        true
    }

    /// The global demotion changed (FreeBSD's send-all task): a MASTER advertises now, with
    /// the new effective skew, and re-arms its advertisement timer.
    pub fn handle_demotion_change(&mut self, now: Instant) {
        if self.state == CarpState::Master {
            self.send_ad(now);
        }
    }

    /// What happened to an advertisement handed out by [`Vhid::poll_transmit`]:
    /// `opackets`/`opackets6` (or `onomem`) and the send-error demotion (A.4): three
    /// consecutive errors demote by `senderr_demotion_factor` (`"send error <errno> on
    /// <if>"`), three successes after that undo it (`"send ok on <if>"`).
    pub fn handle_send_result(&mut self, family: Family, result: SendResult, sys: &Sysctls, stats: &mut CarpStats) {
        let sent = match family {
            Family::Inet => Stat::OPackets,
            Family::Inet6 => Stat::OPackets6,
        };
        match result {
            SendResult::NoMemory => stats.bump(Stat::ONoMem),
            SendResult::Error(errno) => {
                stats.bump(sent);
                self.sendad_errors = self.sendad_errors.saturating_add(1);
                if self.sendad_errors >= CARP_SENDAD_MAX_ERRORS && self.senderr.is_none() {
                    let cause = DemotionCause::SendError(errno);
                    let (token, c) = self.demotion.demote(sys.senderr_demotion_factor, cause.reason(self.ifname));
                    self.senderr = Some(token);
                    self.push_demotion(c.adj, c.value, cause);
                }
                self.sendad_success = 0;
            }
            SendResult::Sent => {
                stats.bump(sent);
                if self.sendad_errors > 0 {
                    self.sendad_success = self.sendad_success.saturating_add(1);
                    if self.sendad_success >= CARP_SENDAD_MIN_SUCCESS {
                        if let Some(token) = self.senderr.take() {
                            let c = token.release(DemotionCause::SendOk.reason(self.ifname));
                            self.push_demotion(c.adj, c.value, DemotionCause::SendOk);
                        }
                        self.sendad_errors = 0;
                    }
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Outputs
    // ----------------------------------------------------------------------------------

    /// Next notification (state change or demotion change), oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        let rec = self.events.pop()?;
        Some(match rec {
            EventRecord::State { old, new, reason } => Event::StateChanged(StateChange {
                vhid: self.vhid,
                ifname: self.ifname,
                old,
                new,
                reason,
            }),
            EventRecord::Demotion { adj, value, cause } => {
                Event::DemotionChanged(crate::demotion::DemotionChange { adj, value, reason: cause.reason(self.ifname) })
            }
        })
    }

    /// Whether [`Vhid::poll_transmit`] may have something to send (cheap; it may answer
    /// true for pending work that turns out empty, never false when there is some).
    pub fn transmit_pending(&self) -> bool {
        self.adv_pending != 0 || self.garp_next != ANNOUNCE_DONE || self.na_next != ANNOUNCE_DONE
    }

    /// Next packet to send: advertisements (IPv4, then IPv6), then gratuitous ARPs, then
    /// unsolicited NAs. A CARP advertisement consumes a counter value and is signed here.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        while self.adv_pending != 0 {
            let handoff = self.adv_pending & ADV_HANDOFF != 0;
            let family = if self.adv_pending & ADV_V4 != 0 {
                self.adv_pending &= !ADV_V4;
                Family::Inet
            } else if self.adv_pending & ADV_V6 != 0 {
                self.adv_pending &= !ADV_V6;
                Family::Inet6
            } else {
                self.adv_pending = 0;
                break;
            };
            if self.adv_pending & (ADV_V4 | ADV_V6) == 0 {
                // The hand-off flag covers this batch only.
                self.adv_pending = 0;
            }
            if self.address_count(family) > 0 {
                return Some(self.advert(family, handoff));
            }
        }
        let mac = self.virtual_mac();
        if self.garp_next != ANNOUNCE_DONE {
            match self.addrs4.get(usize::from(self.garp_next)) {
                Some(&addr) => {
                    self.garp_next = self.garp_next.saturating_add(1);
                    return Some(Transmit::GratuitousArp { addr, mac });
                }
                None => self.garp_next = ANNOUNCE_DONE,
            }
        }
        if self.na_next != ANNOUNCE_DONE {
            match self.addrs6.get(usize::from(self.na_next)) {
                Some(&addr) => {
                    self.na_next = self.na_next.saturating_add(1);
                    return Some(Transmit::NeighborAdvert { addr, mac });
                }
                None => self.na_next = ANNOUNCE_DONE,
            }
        }
        None
    }

    /// Next routing action: routes are installed while MASTER and removed otherwise.
    pub fn poll_route(&mut self) -> Option<RouteOp> {
        let want = self.state == CarpState::Master;
        if want == self.routes_installed {
            return None;
        }
        self.routes_installed = want;
        Some(if want { RouteOp::Add } else { RouteOp::Delete })
    }

    /// Whether routes are currently reported as installed.
    pub fn routes_installed(&self) -> bool {
        self.routes_installed
    }

    /// The earliest armed deadline: arm the callout for it.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------

    fn rebuild_auth(&mut self) {
        if self.version == Version::Carp {
            self.auth = Authenticator::new(&self.key, self.vhid, &self.addrs4, &self.addrs6);
        }
    }

    fn has_addresses(&self) -> bool {
        !self.addrs4.is_empty() || !self.addrs6.is_empty()
    }

    fn master_down_us(&self) -> u64 {
        match self.version {
            Version::Carp => interval_us(u64::from(self.advbase).saturating_mul(3), self.advskew),
            Version::Vrrp3 => {
                // RFC 9568 exactly, in microseconds: FreeBSD computes the skew time in whole
                // centiseconds (truncating it to 0 at a 1 cs interval), which takes over up
                // to 1 cs early; see "Deliberate differences".
                let mi_us = u64::from(self.vrrp_master_inter).saturating_mul(USEC_PER_CS);
                let prio_gap = 256u64.saturating_sub(u64::from(self.vrrp_prio));
                let skew_us = prio_gap.saturating_mul(mi_us) / 256;
                mi_us.saturating_mul(3).saturating_add(skew_us)
            }
        }
    }

    /// Advertisement interval with the given skew (CARP) or the VRRP interval.
    fn advert_us(&self, skew: u8) -> u64 {
        match self.version {
            Version::Carp => interval_us(u64::from(self.advbase), skew),
            Version::Vrrp3 => u64::from(self.vrrp_adv_inter).saturating_mul(USEC_PER_CS),
        }
    }

    fn set_state(&mut self, new: CarpState, reason: StateReason) {
        if self.state == new {
            return;
        }
        self.events.push(EventRecord::State { old: self.state, new, reason });
        self.state = new;
        if new != CarpState::Master {
            self.cancel_announce();
        }
    }

    fn push_demotion(&mut self, adj: i32, value: i32, cause: DemotionCause) {
        self.events.push(EventRecord::Demotion { adj, value, cause });
    }

    fn cancel_announce(&mut self) {
        self.garp_next = ANNOUNCE_DONE;
        self.na_next = ANNOUNCE_DONE;
    }

    /// `carp_sc_state` (B.4).
    fn sc_state(&mut self, now: Instant, sys: &Sysctls) {
        self.timers.stop_all();
        if !self.link_up || !self.iff_up || !sys.allow {
            self.set_state(CarpState::Init, StateReason::HardwareInterfaceDown);
            if self.ifdown.is_none() {
                let cause = DemotionCause::InterfaceDown;
                let (token, c) = self.demotion.demote(sys.ifdown_demotion_factor, cause.reason(self.ifname));
                self.ifdown = Some(token);
                self.push_demotion(c.adj, c.value, cause);
            }
        } else {
            self.set_state(CarpState::Init, StateReason::HardwareInterfaceUp);
            self.setrun(now, None, sys);
            if let Some(token) = self.ifdown.take() {
                let cause = DemotionCause::InterfaceUp;
                let c = token.release(cause.reason(self.ifname));
                self.push_demotion(c.adj, c.value, cause);
            }
        }
    }

    /// `carp_setrun` (B.1): `family` restarts only that family's master-down timer; `None`
    /// arms the timer of every family that has addresses.
    fn setrun(&mut self, now: Instant, family: Option<Family>, sys: &Sysctls) {
        if !self.iff_up || !self.link_up || !self.admin_up || !self.has_addresses() || !sys.allow {
            return;
        }
        let family = if self.state == CarpState::Init {
            self.set_state(CarpState::Backup, StateReason::InitializationComplete);
            // RFC 9568 6.4.1: a backup starts with Master_Adver_Interval =
            // Advertisement_Interval (FreeBSD keeps whatever it last learned, 100 cs at
            // creation, so a 1 cs router first waits 3.x s).
            self.vrrp_master_inter = self.vrrp_adv_inter;
            None
        } else {
            family
        };
        match self.state {
            CarpState::Init => {}
            CarpState::Backup => {
                self.timers.stop(Timer::Advertise);
                let at = after(now, self.master_down_us());
                match family {
                    Some(f) => self.timers.set(Timer::master_down(f), at),
                    None => {
                        if !self.addrs4.is_empty() {
                            self.timers.set(Timer::MasterDown4, at);
                        }
                        if !self.addrs6.is_empty() {
                            self.timers.set(Timer::MasterDown6, at);
                        }
                    }
                }
            }
            CarpState::Master => {
                // The configured skew, not the demoted one (FreeBSD's carp_setrun).
                let at = after(now, self.advert_us(self.advskew));
                self.timers.set(Timer::Advertise, at);
            }
        }
    }

    /// `carp_master_down_locked` (B.2): BACKUP → MASTER, advertise, announce, routes.
    fn master_down(&mut self, now: Instant, reason: StateReason, sys: &Sysctls) {
        if self.state != CarpState::Backup {
            return;
        }
        self.set_state(CarpState::Master, reason);
        self.timers.stop(Timer::MasterDown4);
        self.timers.stop(Timer::MasterDown6);
        self.send_ad(now);
        self.garp_next = 0;
        self.na_next = 0;
        self.setrun(now, None, sys);
    }

    /// `send_ad_locked`: queue one advertisement per family with addresses and re-arm the
    /// advertisement timer with the demoted skew.
    fn send_ad(&mut self, now: Instant) {
        if !self.addrs4.is_empty() {
            self.adv_pending |= ADV_V4;
        }
        if !self.addrs6.is_empty() {
            self.adv_pending |= ADV_V6;
        }
        let at = after(now, self.advert_us(self.effective_advskew()));
        self.timers.set(Timer::Advertise, at);
    }

    fn advert(&mut self, family: Family, handoff: bool) -> Transmit<'_> {
        match self.version {
            Version::Carp => {
                let counter = if self.init_counter {
                    self.init_counter = false;
                    self.counter
                } else {
                    self.counter.wrapping_add(1)
                };
                self.counter = counter;
                let dst = match family {
                    Family::Inet => IpAddr::V4(self.peer4),
                    Family::Inet6 => IpAddr::V6(self.peer6),
                };
                Transmit::Carp(CarpTransmit {
                    family,
                    dst,
                    vhid: self.vhid,
                    advbase: if handoff { u8::MAX } else { self.advbase },
                    advskew: if handoff { u8::MAX } else { self.effective_advskew() },
                    counter,
                    md: self.auth.sign(counter),
                })
            }
            Version::Vrrp3 => Transmit::Vrrp(VrrpTransmit {
                family,
                vrid: self.vhid,
                priority: self.vrrp_prio,
                max_adver_int_cs: self.vrrp_adv_inter,
                addresses: match family {
                    Family::Inet => VrrpAddresses::V4(&self.addrs4),
                    Family::Inet6 => VrrpAddresses::V6(&self.addrs6),
                },
            }),
        }
    }
}

/// The vhid-level receive checks of [`crate::input`].
impl crate::input::VhidView for Vhid {
    fn version(&self) -> Version {
        self.version
    }

    fn advert_dest_is_multicast(&self, family: Family) -> bool {
        self.advert_dst_is_multicast(family)
    }

    fn verify(&self, counter: u64, md: &[u8; MD_LEN]) -> bool {
        self.auth.verify(counter, md)
    }
}

#[cfg(test)]
mod tests;

//! Notifications a vhid produces: state changes (log line + devd tuple) and demotion changes.
//!
//! Events are stored compactly in a fixed ring inside the vhid (no allocation, also on the
//! per-packet path where a received advertisement may change the state) and handed out
//! rich, with the parent's name, by `Vhid::poll_event`.

use core::fmt;

use crate::demotion::{DemotionChange, DemotionReason};
use crate::types::CarpState;

use super::IfName;

/// Why a vhid changed state: FreeBSD's exact reason strings (reference C.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateReason {
    /// INIT -> BACKUP once the vhid can run.
    InitializationComplete,
    /// MASTER -> BACKUP: a peer advertises at least as often.
    MoreFrequentAdvertisement,
    /// BACKUP -> MASTER: `preempt` and the master is slower.
    PreemptingSlowerMaster,
    /// BACKUP -> MASTER: the master advertises so rarely it is bound to time out.
    MasterWillTimeOut,
    /// BACKUP -> MASTER: master-down timer expired.
    MasterTimedOut,
    /// -> INIT: parent down, link down, or `allow` off.
    HardwareInterfaceDown,
    /// -> INIT (then BACKUP): parent usable again, or an address was added/removed.
    HardwareInterfaceUp,
    /// Administrative state forcing (SIOCSVH / netlink SET with a state).
    UserRequested,
}

impl StateReason {
    /// The text FreeBSD logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateReason::InitializationComplete => "initialization complete",
            StateReason::MoreFrequentAdvertisement => "more frequent advertisement received",
            StateReason::PreemptingSlowerMaster => "preempting a slower master",
            StateReason::MasterWillTimeOut => "master will time out",
            StateReason::MasterTimedOut => "master timed out",
            StateReason::HardwareInterfaceDown => "hardware interface down",
            StateReason::HardwareInterfaceUp => "hardware interface up",
            StateReason::UserRequested => "user requested via ifconfig",
        }
    }
}

impl fmt::Display for StateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A vhid changed state.
///
/// * `Display` is FreeBSD's log line, `carp: <vhid>@<if>: <OLD> -> <NEW> (<reason>)`,
///   logged at `LOG_INFO` when `net.inet.carp.log` >= 1 ([`StateChange::should_log`]);
/// * [`StateChange::devd`] is the `devctl_notify("CARP", "<vhid>@<if>", "<NEW>", NULL)`
///   tuple, sent on every change regardless of `log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub vhid: u8,
    pub ifname: IfName,
    pub old: CarpState,
    pub new: CarpState,
    pub reason: StateReason,
}

impl StateChange {
    /// Log level FreeBSD uses for state changes (`CARP_LOG`).
    pub const LOG_LEVEL: u8 = 1;

    /// Whether the log line is printed at `net.inet.carp.log` = `log`.
    pub fn should_log(&self, log: u8) -> bool {
        log >= Self::LOG_LEVEL
    }

    /// The devd notification.
    pub fn devd(&self) -> Devd {
        Devd { subsystem: Subsystem { vhid: self.vhid, ifname: self.ifname }, kind: self.new }
    }
}

impl fmt::Display for StateChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "carp: {}@{}: {} -> {} ({})",
            self.vhid,
            self.ifname,
            self.old.as_str(),
            self.new.as_str(),
            self.reason
        )
    }
}

/// `<vhid>@<ifname>`, the devd subsystem of a vhid (at most 3 + 1 + 15 bytes, which fits
/// FreeBSD's `IFNAMSIZ + 5` buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subsystem {
    pub vhid: u8,
    pub ifname: IfName,
}

impl fmt::Display for Subsystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.vhid, self.ifname)
    }
}

/// A devd (devctl) notification: `system=CARP subsystem=<vhid>@<if> type=<STATE>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Devd {
    pub subsystem: Subsystem,
    /// The new state; its name ([`Devd::type_str`]) is the devd `type`.
    pub kind: CarpState,
}

impl Devd {
    /// devd `system`.
    pub const SYSTEM: &'static str = "CARP";

    /// devd `type`: `INIT`, `BACKUP` or `MASTER`.
    pub fn type_str(&self) -> &'static str {
        self.kind.as_str()
    }
}

impl fmt::Display for Devd {
    /// The form devd matches on: `system=CARP subsystem=1@em0 type=MASTER`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system={} subsystem={} type={}", Self::SYSTEM, self.subsystem, self.type_str())
    }
}

/// A notification from a vhid, handed out by `Vhid::poll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The vhid changed state: log it (if `log` >= 1) and send the devd notification.
    StateChanged(StateChange),
    /// The global demotion changed because of this vhid: log it (if `log` >= 1) and run the
    /// send-all task (`Table::handle_demotion_change` on every table).
    DemotionChanged(DemotionChange),
}

impl Event {
    /// Whether the event's log line is printed at `net.inet.carp.log` = `log`.
    pub fn should_log(&self, log: u8) -> bool {
        match self {
            Event::StateChanged(c) => c.should_log(log),
            Event::DemotionChanged(c) => c.should_log(log),
        }
    }
}

impl fmt::Display for Event {
    /// The log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::StateChanged(c) => c.fmt(f),
            Event::DemotionChanged(c) => c.fmt(f),
        }
    }
}

/// Compact cause of a demotion change (the interface name is added when handed out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DemotionCause {
    InterfaceDown,
    InterfaceUp,
    SendError(i32),
    SendOk,
    VhidRemoved,
}

impl DemotionCause {
    pub(crate) fn reason(self, ifname: IfName) -> DemotionReason {
        match self {
            DemotionCause::InterfaceDown => DemotionReason::InterfaceDown,
            DemotionCause::InterfaceUp => DemotionReason::InterfaceUp,
            DemotionCause::SendError(errno) => DemotionReason::SendError { errno, ifname },
            DemotionCause::SendOk => DemotionReason::SendOk { ifname },
            DemotionCause::VhidRemoved => DemotionReason::VhidRemoved,
        }
    }
}

/// One stored event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventRecord {
    State { old: CarpState, new: CarpState, reason: StateReason },
    Demotion { adj: i32, value: i32, cause: DemotionCause },
}

/// How many events a vhid holds between two drains. One handler call produces at most
/// four (MASTER -> INIT -> BACKUP plus a demotion undo, or two demotion releases on
/// shutdown); when the caller does not drain, the oldest is overwritten and counted.
pub const EVENT_CAPACITY: usize = 4;

/// Fixed ring of events (FIFO).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventQueue {
    slots: [Option<EventRecord>; EVENT_CAPACITY],
    head: u8,
    len: u8,
    lost: u16,
}

impl EventQueue {
    pub(crate) const fn new() -> EventQueue {
        EventQueue { slots: [None; EVENT_CAPACITY], head: 0, len: 0, lost: 0 }
    }

    fn slot(i: usize) -> usize {
        i % EVENT_CAPACITY
    }

    pub(crate) fn push(&mut self, rec: EventRecord) {
        let len = usize::from(self.len);
        if len >= EVENT_CAPACITY {
            // Full: overwrite the oldest.
            if let Some(s) = self.slots.get_mut(Self::slot(usize::from(self.head))) {
                *s = Some(rec);
            }
            self.head = u8::try_from(Self::slot(usize::from(self.head).saturating_add(1))).unwrap_or(0);
            self.lost = self.lost.saturating_add(1);
            return;
        }
        let at = Self::slot(usize::from(self.head).saturating_add(len));
        if let Some(s) = self.slots.get_mut(at) {
            *s = Some(rec);
            self.len = self.len.saturating_add(1);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<EventRecord> {
        if self.len == 0 {
            return None;
        }
        let rec = self.slots.get_mut(Self::slot(usize::from(self.head))).and_then(Option::take);
        self.head = u8::try_from(Self::slot(usize::from(self.head).saturating_add(1))).unwrap_or(0);
        self.len = self.len.saturating_sub(1);
        rec
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Events overwritten because the queue was not drained.
    pub(crate) fn lost(&self) -> u16 {
        self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn state(new: CarpState) -> EventRecord {
        EventRecord::State { old: CarpState::Init, new, reason: StateReason::MasterTimedOut }
    }

    #[test]
    fn reason_strings_are_freebsds() {
        assert_eq!(StateReason::InitializationComplete.as_str(), "initialization complete");
        assert_eq!(
            StateReason::MoreFrequentAdvertisement.as_str(),
            "more frequent advertisement received"
        );
        assert_eq!(StateReason::PreemptingSlowerMaster.as_str(), "preempting a slower master");
        assert_eq!(StateReason::MasterWillTimeOut.as_str(), "master will time out");
        assert_eq!(StateReason::MasterTimedOut.as_str(), "master timed out");
        assert_eq!(StateReason::HardwareInterfaceDown.as_str(), "hardware interface down");
        assert_eq!(StateReason::HardwareInterfaceUp.as_str(), "hardware interface up");
        assert_eq!(StateReason::UserRequested.as_str(), "user requested via ifconfig");
    }

    #[test]
    fn state_change_log_line_and_devd() {
        let c = StateChange {
            vhid: 1,
            ifname: IfName::new("em0"),
            old: CarpState::Backup,
            new: CarpState::Master,
            reason: StateReason::MasterTimedOut,
        };
        assert_eq!(c.to_string(), "carp: 1@em0: BACKUP -> MASTER (master timed out)");
        let d = c.devd();
        assert_eq!(Devd::SYSTEM, "CARP");
        assert_eq!(d.subsystem.to_string(), "1@em0");
        assert_eq!(d.type_str(), "MASTER");
        assert_eq!(d.to_string(), "system=CARP subsystem=1@em0 type=MASTER");
        assert!(!c.should_log(0));
        assert!(c.should_log(1));
        assert!(c.should_log(2));
    }

    #[test]
    fn queue_is_fifo_and_overwrites_oldest_when_full() {
        let mut q = EventQueue::new();
        assert!(q.pop().is_none());
        q.push(state(CarpState::Backup));
        q.push(state(CarpState::Master));
        assert_eq!(q.pop(), Some(state(CarpState::Backup)));
        for _ in 0..EVENT_CAPACITY {
            q.push(state(CarpState::Init));
        }
        assert_eq!(q.lost(), 1);
        // The MASTER record was the oldest and got overwritten.
        for _ in 0..EVENT_CAPACITY {
            assert_eq!(q.pop(), Some(state(CarpState::Init)));
        }
        assert!(q.is_empty());
        assert!(q.pop().is_none());
    }
}

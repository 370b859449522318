//! The timer table of one vhid, as data.
//!
//! FreeBSD gives every vhid three callouts: the advertisement timer (`sc_ad_tmo`) and one
//! master-down timer per address family (`sc_md_tmo`, `sc_md6_tmo`). Here they are three
//! deadlines in a small table: the state machine arms and stops them, the caller asks for
//! the earliest one ([`TimerTable::next`], surfaced as `Vhid::poll_timeout`) and feeds
//! the current time back (`Vhid::handle_timeout`). Nothing here reads a clock.
//!
//! A deadline is stored as microseconds with `u64::MAX` meaning "not armed", so the table
//! costs 24 bytes per vhid. A deadline that would land at the very end of time
//! (`Instant::from_micros(u64::MAX)`) is indistinguishable from "never" and is treated so.

use crate::types::{Family, Instant};

/// One of a vhid's three timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Send the next advertisement (MASTER only).
    Advertise = 0,
    /// No IPv4 advertisement heard for the master-down interval (BACKUP only).
    MasterDown4 = 1,
    /// No IPv6 advertisement heard for the master-down interval (BACKUP only).
    MasterDown6 = 2,
}

impl Timer {
    /// Every timer, in the order ties between equal deadlines are resolved.
    pub const ALL: [Timer; 3] = [Timer::Advertise, Timer::MasterDown4, Timer::MasterDown6];

    /// The master-down timer of an address family.
    pub const fn master_down(family: Family) -> Timer {
        match family {
            Family::Inet => Timer::MasterDown4,
            Family::Inet6 => Timer::MasterDown6,
        }
    }

    const fn slot(self) -> usize {
        self as usize
    }
}

const UNSET: u64 = u64::MAX;

/// Deadlines of the three timers of one vhid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerTable {
    deadlines: [u64; 3],
}

impl Default for TimerTable {
    fn default() -> Self {
        TimerTable::new()
    }
}

impl TimerTable {
    /// A table with every timer stopped.
    pub const fn new() -> TimerTable {
        TimerTable { deadlines: [UNSET; 3] }
    }

    /// Arm (or re-arm) `timer` to fire at `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(d) = self.deadlines.get_mut(timer.slot()) {
            *d = at.as_micros();
        }
    }

    /// Stop `timer` (no effect if it is not armed).
    pub fn stop(&mut self, timer: Timer) {
        if let Some(d) = self.deadlines.get_mut(timer.slot()) {
            *d = UNSET;
        }
    }

    /// Stop every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = [UNSET; 3];
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        match self.deadlines.get(timer.slot()) {
            Some(&d) if d != UNSET => Some(Instant::from_micros(d)),
            _ => None,
        }
    }

    /// Whether `timer` is armed.
    pub fn is_armed(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        let min = self.deadlines.iter().copied().min().unwrap_or(UNSET);
        (min != UNSET).then(|| Instant::from_micros(min))
    }

    /// Stop and return the earliest timer whose deadline is at or before `now` (ties in
    /// [`Timer::ALL`] order), or `None` when nothing has expired.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let mut best: Option<(u64, Timer)> = None;
        for t in Timer::ALL {
            if let Some(at) = self.get(t) {
                let at = at.as_micros();
                if at <= now.as_micros() && best.map_or(true, |(b, _)| at < b) {
                    best = Some((at, t));
                }
            }
        }
        let (_, t) = best?;
        self.stop(t);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: u64) -> Instant {
        Instant::from_micros(us)
    }

    #[test]
    fn new_table_has_nothing_armed() {
        let t = TimerTable::new();
        assert_eq!(t.next(), None);
        for timer in Timer::ALL {
            assert!(!t.is_armed(timer));
        }
    }

    #[test]
    fn next_is_the_earliest_deadline() {
        let mut t = TimerTable::new();
        t.set(Timer::MasterDown6, at(300));
        t.set(Timer::MasterDown4, at(200));
        assert_eq!(t.next(), Some(at(200)));
        t.stop(Timer::MasterDown4);
        assert_eq!(t.next(), Some(at(300)));
        t.stop_all();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn take_expired_returns_in_deadline_order_then_timer_order() {
        let mut t = TimerTable::new();
        t.set(Timer::MasterDown6, at(100));
        t.set(Timer::MasterDown4, at(100));
        t.set(Timer::Advertise, at(150));
        assert_eq!(t.take_expired(at(99)), None);
        assert_eq!(t.take_expired(at(200)), Some(Timer::MasterDown4));
        assert_eq!(t.take_expired(at(200)), Some(Timer::MasterDown6));
        assert_eq!(t.take_expired(at(200)), Some(Timer::Advertise));
        assert_eq!(t.take_expired(at(200)), None);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn rearming_replaces_the_deadline() {
        let mut t = TimerTable::new();
        t.set(Timer::Advertise, at(10));
        t.set(Timer::Advertise, at(50));
        assert_eq!(t.get(Timer::Advertise), Some(at(50)));
        assert_eq!(t.take_expired(at(10)), None);
    }

    #[test]
    fn master_down_timer_per_family() {
        assert_eq!(Timer::master_down(Family::Inet), Timer::MasterDown4);
        assert_eq!(Timer::master_down(Family::Inet6), Timer::MasterDown6);
    }
}

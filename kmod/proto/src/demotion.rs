//! Global demotion (FreeBSD 15 `net.inet.carp.demotion`, reference B.7) and the legacy
//! read-only `suppress_preempt` view of the same sources (B.8, D.4).
//!
//! One [`Demotion`] exists per VNET. It is an accumulator that is *added* to every vhid's
//! configured advskew: the effective skew is `clamp(advskew + demotion, 0, 240)`
//! ([`Demotion::effective_skew`]); it goes into the advskew byte of every advertisement and
//! is our own value when comparing received advertisements, but not into the master-down
//! interval.
//!
//! # Sources and pairing
//!
//! Demotion comes from paired sources (a parent interface going down, three consecutive
//! send errors, pfsync's bulk update) and from unpaired administrator writes
//! (`sysctl net.inet.carp.demotion=N` adds N). FreeBSD pairs its sources by hand (an
//! `sc_suppress` flag, an error counter) and has leaked in the field (a vhid destroyed
//! while send errors had demoted it never undoes that demotion; the undo uses the factor's
//! *current* value, not the one applied). Here a paired source is a [`DemotionToken`]:
//! [`Demotion::demote`] applies an amount and returns the token; dropping the token (or
//! [`DemotionToken::release`], which also returns the log record) subtracts exactly the
//! amount it added. A token cannot be copied, so an adjustment cannot be undone twice or
//! forgotten.
//!
//! [`Demotion::suppress_preempt`] is the number of live tokens: the legacy
//! `net.inet.carp.suppress_preempt` counter (+1 per downed vhid, per vhid in send-error
//! state, per pfsync bulk update in progress).
//!
//! # Notification
//!
//! Every change must be logged ("demoted by %d to %d (%s)", [`DemotionChange`]'s `Display`)
//! and must make every MASTER vhid advertise at once (FreeBSD's send-all task), so peers
//! see the new skew immediately. The functions here return a [`DemotionChange`]; the vhid
//! state machine hands those out as events, and the caller then runs
//! `Table::handle_demotion_change` on every table (the send-all task).
//!
//! # Concurrency and ownership
//!
//! The state is two atomics ([`DemotionState`]), so tokens can be dropped from any context
//! without a lock. A [`Demotion`] handle either shares it through an `Arc`
//! ([`Demotion::new`]: userspace, tests) or points at a `'static` [`DemotionState`] the
//! caller owns ([`Demotion::from_static`]: the kernel's per-VNET storage). The latter
//! allocates nothing, so it has no allocation-failure (panic) path, which carp.ko's build
//! forbids. The value uses wrapping arithmetic (like FreeBSD's `atomic_add_int`),
//! which keeps every add/subtract pair exactly reversible; effective skews are computed in
//! 64 bits and clamped, so no value of the accumulator can overflow anything.

use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crate::types::CARP_MAXSKEW;
use crate::vhid::IfName;

/// The accumulator itself: the demotion value and the number of live paired sources.
#[derive(Debug, Default)]
#[repr(C)]
pub struct DemotionState {
    value: AtomicI32,
    sources: AtomicU32,
}

impl DemotionState {
    /// Demotion 0, no sources (usable in a `static`).
    pub const fn new() -> DemotionState {
        DemotionState { value: AtomicI32::new(0), sources: AtomicU32::new(0) }
    }

    /// Add `adj` and return the new value.
    fn add(&self, adj: i32) -> i32 {
        self.value.fetch_add(adj, Ordering::AcqRel).wrapping_add(adj)
    }
}

#[derive(Clone, Debug)]
enum Handle {
    Shared(Arc<DemotionState>),
    Static(&'static DemotionState),
}

impl Handle {
    fn state(&self) -> &DemotionState {
        match self {
            Handle::Shared(a) => a,
            Handle::Static(s) => s,
        }
    }
}

/// The per-VNET demotion accumulator. Cloning gives another handle to the same value.
#[derive(Clone, Debug)]
pub struct Demotion {
    handle: Handle,
}

impl Default for Demotion {
    fn default() -> Self {
        Demotion::new()
    }
}

impl Demotion {
    /// A fresh accumulator at 0 with no sources, shared through an `Arc` (allocates, and
    /// cannot report an allocation failure: for userspace and tests).
    pub fn new() -> Demotion {
        Demotion { handle: Handle::Shared(Arc::new(DemotionState::new())) }
    }

    /// A handle to an accumulator the caller owns for the whole life of every vhid and token
    /// using it (the kernel's per-VNET storage). Allocates nothing.
    pub fn from_static(state: &'static DemotionState) -> Demotion {
        Demotion { handle: Handle::Static(state) }
    }

    fn state(&self) -> &DemotionState {
        self.handle.state()
    }

    /// Current demotion (`net.inet.carp.demotion` read).
    pub fn value(&self) -> i32 {
        self.state().value.load(Ordering::Acquire)
    }

    /// Number of active paired sources: the legacy `suppress_preempt` counter.
    pub fn suppress_preempt(&self) -> u32 {
        self.state().sources.load(Ordering::Acquire)
    }

    /// An unpaired adjustment: the `demotion` sysctl write handler (which *adds* the
    /// written value) or an unpaired external caller. Returns the record to log.
    pub fn adjust(&self, adj: i32, reason: DemotionReason) -> DemotionChange {
        let value = self.state().add(adj);
        DemotionChange { adj, value, reason }
    }

    /// A paired adjustment: add `amount` now, subtract it when the token is released or
    /// dropped. Returns the token and the record to log.
    pub fn demote(&self, amount: i32, reason: DemotionReason) -> (DemotionToken, DemotionChange) {
        self.state().sources.fetch_add(1, Ordering::AcqRel);
        let value = self.state().add(amount);
        let token = DemotionToken { handle: self.handle.clone(), amount, live: true };
        (token, DemotionChange { adj: amount, value, reason })
    }

    /// Effective advskew for a configured `advskew`: `clamp(advskew + demotion, 0, 240)`
    /// (FreeBSD's `DEMOTE_ADVSKEW`, with the lower clamp of PR 259528).
    pub fn effective_skew(&self, advskew: u8) -> u8 {
        effective_skew(advskew, self.value())
    }

    /// Whether `other` is a handle to the same accumulator.
    pub fn same_as(&self, other: &Demotion) -> bool {
        core::ptr::eq(self.state(), other.state())
    }
}

/// `clamp(advskew + demotion, 0, CARP_MAXSKEW)` without any possible overflow.
pub fn effective_skew(advskew: u8, demotion: i32) -> u8 {
    let v = i64::from(advskew).saturating_add(i64::from(demotion));
    let clamped = v.clamp(0, i64::from(CARP_MAXSKEW));
    u8::try_from(clamped).unwrap_or(CARP_MAXSKEW)
}

/// One active demotion source. Dropping it undoes exactly its adjustment.
#[must_use = "dropping a DemotionToken immediately undoes the demotion"]
#[derive(Debug)]
pub struct DemotionToken {
    handle: Handle,
    amount: i32,
    live: bool,
}

impl DemotionToken {
    /// The amount this token added.
    pub fn amount(&self) -> i32 {
        self.amount
    }

    /// Undo the adjustment now and return the record to log (`adj` is the negated amount).
    pub fn release(mut self, reason: DemotionReason) -> DemotionChange {
        let adj = self.amount.wrapping_neg();
        let value = self.undo();
        DemotionChange { adj, value, reason }
    }

    fn undo(&mut self) -> i32 {
        let state = self.handle.state();
        if !self.live {
            return state.value.load(Ordering::Acquire);
        }
        self.live = false;
        state.sources.fetch_sub(1, Ordering::AcqRel);
        state.add(self.amount.wrapping_neg())
    }
}

impl Drop for DemotionToken {
    fn drop(&mut self) {
        self.undo();
    }
}

/// Why demotion changed (the `%s` of FreeBSD's log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemotionReason {
    /// A parent interface (or `allow`) went down: `ifdown_demotion_factor` per vhid.
    InterfaceDown,
    /// It came back.
    InterfaceUp,
    /// Three consecutive advertisement send errors: `"send error <errno> on <if>"`.
    SendError { errno: i32, ifname: IfName },
    /// Three successful sends after that: `"send ok on <if>"`.
    SendOk { ifname: IfName },
    /// A demoted vhid was destroyed.
    VhidRemoved,
    /// A write to the `demotion` sysctl.
    Sysctl,
    /// Another caller (e.g. pfsync through `carp_demote_adj_p`), with a short label.
    Other(&'static str),
}

impl fmt::Display for DemotionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemotionReason::InterfaceDown => f.write_str("interface down"),
            DemotionReason::InterfaceUp => f.write_str("interface up"),
            DemotionReason::SendError { errno, ifname } => {
                write!(f, "send error {errno} on {ifname}")
            }
            DemotionReason::SendOk { ifname } => write!(f, "send ok on {ifname}"),
            DemotionReason::VhidRemoved => f.write_str("vhid removed"),
            DemotionReason::Sysctl => f.write_str("sysctl"),
            DemotionReason::Other(s) => f.write_str(s),
        }
    }
}

/// A change of the global demotion. `Display` gives FreeBSD's log line (logged at
/// `LOG_INFO` when `net.inet.carp.log` >= 1):
/// `carp: demoted by <adj> to <value> (<reason>)`.
///
/// On receiving one, the caller must also run the send-all task: every MASTER vhid of
/// every table advertises immediately (`Table::handle_demotion_change`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemotionChange {
    /// The amount added (negative when undone).
    pub adj: i32,
    /// The demotion after the change.
    pub value: i32,
    pub reason: DemotionReason,
}

impl DemotionChange {
    /// Log level FreeBSD uses (`CARP_LOG`: printed when the `log` sysctl is at least 1).
    pub const LOG_LEVEL: u8 = 1;

    /// Whether this is printed at `net.inet.carp.log` = `log`.
    pub fn should_log(&self, log: u8) -> bool {
        log >= Self::LOG_LEVEL
    }
}

impl fmt::Display for DemotionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "carp: demoted by {} to {} ({})", self.adj, self.value, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn effective_skew_clamps_both_ends() {
        assert_eq!(effective_skew(0, 0), 0);
        assert_eq!(effective_skew(100, 0), 100);
        assert_eq!(effective_skew(100, 240), 240);
        assert_eq!(effective_skew(254, 0), 240);
        // PR 259528: negative demotion never produces a negative skew.
        assert_eq!(effective_skew(0, -1), 0);
        assert_eq!(effective_skew(100, -50), 50);
        assert_eq!(effective_skew(100, i32::MIN), 0);
        assert_eq!(effective_skew(100, i32::MAX), 240);
    }

    #[test]
    fn adjust_adds_like_the_sysctl() {
        let d = Demotion::new();
        let c = d.adjust(10, DemotionReason::Sysctl);
        assert_eq!(c.value, 10);
        let c = d.adjust(-25, DemotionReason::Sysctl);
        assert_eq!(c.value, -15);
        assert_eq!(d.value(), -15);
        assert_eq!(c.to_string(), "carp: demoted by -25 to -15 (sysctl)");
        assert_eq!(d.suppress_preempt(), 0, "sysctl writes are not paired sources");
    }

    #[test]
    fn dropping_a_token_undoes_exactly_its_amount() {
        let d = Demotion::new();
        let (t1, c1) = d.demote(240, DemotionReason::InterfaceDown);
        assert_eq!(c1.to_string(), "carp: demoted by 240 to 240 (interface down)");
        let (t2, _) = d.demote(240, DemotionReason::InterfaceDown);
        assert_eq!(d.value(), 480);
        assert_eq!(d.suppress_preempt(), 2);
        drop(t1);
        assert_eq!(d.value(), 240);
        assert_eq!(d.suppress_preempt(), 1);
        let c = t2.release(DemotionReason::InterfaceUp);
        assert_eq!(c.adj, -240);
        assert_eq!(c.value, 0);
        assert_eq!(c.to_string(), "carp: demoted by -240 to 0 (interface up)");
        assert_eq!(d.value(), 0);
        assert_eq!(d.suppress_preempt(), 0);
    }

    #[test]
    fn tokens_and_sysctl_writes_commute() {
        let d = Demotion::new();
        let (t, _) = d.demote(240, DemotionReason::InterfaceDown);
        d.adjust(-1, DemotionReason::Sysctl);
        drop(t);
        assert_eq!(d.value(), -1);
    }

    #[test]
    fn clones_share_one_accumulator() {
        let d = Demotion::new();
        let e = d.clone();
        let (_t, _) = e.demote(7, DemotionReason::Other("pfsync bulk start"));
        assert_eq!(d.value(), 7);
        assert!(d.same_as(&e));
        assert!(!d.same_as(&Demotion::new()));
    }

    #[test]
    fn a_static_accumulator_works_without_allocation() {
        static STATE: DemotionState = DemotionState::new();
        let d = Demotion::from_static(&STATE);
        let e = Demotion::from_static(&STATE);
        assert!(d.same_as(&e));
        let (t, c) = d.demote(240, DemotionReason::InterfaceDown);
        assert_eq!(c.value, 240);
        assert_eq!(e.value(), 240);
        assert_eq!(e.suppress_preempt(), 1);
        drop(t);
        assert_eq!(e.value(), 0);
        assert_eq!(e.suppress_preempt(), 0);
    }

    #[test]
    fn wrapping_keeps_pairs_reversible() {
        let d = Demotion::new();
        d.adjust(i32::MAX, DemotionReason::Sysctl);
        let (t, _) = d.demote(10, DemotionReason::InterfaceDown);
        drop(t);
        assert_eq!(d.value(), i32::MAX);
    }

    #[test]
    fn send_error_reasons_format_like_freebsd() {
        let ifname = IfName::new("em0");
        let r = DemotionReason::SendError { errno: 55, ifname };
        assert_eq!(r.to_string(), "send error 55 on em0");
        assert_eq!(DemotionReason::SendOk { ifname }.to_string(), "send ok on em0");
    }
}

//! The per-parent CARP container ("cif", FreeBSD's `struct carp_if`) and the drain loop
//! that carries out what the protocol core asks for after every input.
//!
//! A [`Cif`] hangs off `ifp->if_carp` (published by `carp_kpi::container::Published`). Its
//! mutex holds the core's [`Table`] (every vhid of the parent) and the CARP addresses bound
//! to it ([`Inner::ifas`]; an address's `ifa_carp` names this container from just after it
//! is added there until just after it is removed, both under the configuration lock, so
//! the data-plane hooks reach the container from any bound address). The
//! [`run`] function is the only way the data path and the configuration path change a
//! table: it takes the lock, applies one input, drains events, packets, route changes and
//! the next deadline into a small outbox, releases the lock, and only then talks to the
//! network stack (log, devctl, ip_output, ARP/NA, routes), because those may re-enter the
//! hooks (carp_master, carp_macmatch6) that take the same lock.

use alloc::vec::Vec;
use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_proto::table::Table;
use carp_proto::vhid::{Event, RouteOp, SendResult, Transmit};
use carp_proto::{CarpStats, Family, Instant, Sysctls};

use carp_kpi::container::Container;
use carp_kpi::ifnet::{IfaRef, Ifnet, Mcast};
use carp_kpi::log::{self, TextBuf};
use carp_kpi::net::{self, Epoch, EpochBox, Vnet};
use carp_kpi::sync::Mutex;

/// What the container's mutex protects.
pub struct Inner {
    /// The core's vhid table of this parent.
    pub table: Table,
    /// CARP addresses bound to vhids of this parent, with a reference each.
    pub ifas: Bound,
    /// Parent flags last given to the table (`carp_linkstate` only reports changes).
    pub iff_up: bool,
    /// Link state last given to the table.
    pub link_up: bool,
    /// The deadline the callout is armed for (`None`: stopped, or not known to be armed).
    /// An input that leaves the table's next deadline unchanged (a MASTER ignoring a
    /// slower peer's advertisement) then costs no callout_reset. The callout handler
    /// forgets it first, so a deadline that has just fired is always armed again.
    pub armed: Option<Instant>,
}

/// The CARP addresses bound to vhids of a parent (each with a reference) and a generation
/// that moves with every change of them, so that a walk done a step at a time (the route
/// walk, `change_routes`) sees when to start again. Changes go through [`Bound::edit`],
/// which moves the generation; reading goes through `Deref`.
#[derive(Default)]
pub struct Bound {
    list: Vec<(IfaRef, u8)>,
    gen: u64,
}

impl Bound {
    /// The list, to change it (insertion, removal, renumbering): the generation moves.
    pub fn edit(&mut self) -> &mut Vec<(IfaRef, u8)> {
        self.gen = self.gen.wrapping_add(1);
        &mut self.list
    }

    /// The generation (moves with every [`Bound::edit`]).
    pub fn gen(&self) -> u64 {
        self.gen
    }
}

impl core::ops::Deref for Bound {
    type Target = [(IfaRef, u8)];

    fn deref(&self) -> &[(IfaRef, u8)] {
        &self.list
    }
}

impl Inner {
    /// The vhid `ifa` is bound to here.
    pub fn vhid_of_ifa(&self, ifa: &carp_kpi::ifnet::Ifaddr<'_>) -> Option<u8> {
        self.ifas.iter().find(|(r, _)| ifa.same(r)).map(|&(_, v)| v)
    }
}

/// One parent's container: what [`Cif`] (the published container) holds.
pub struct CifData {
    /// The table and the bound addresses.
    pub inner: Mutex<Inner>,
    /// IPv4 multicast membership and options (while the parent has IPv4 CARP addresses).
    pub mcast4: EpochBox<Mcast>,
    /// IPv6 multicast membership and options.
    pub mcast6: EpochBox<Mcast>,
    /// The parent's VNET (callouts and the send-all task run in it).
    pub vnet: Vnet,
}

/// A parent's container as published in its `if_carp`: the [`CifData`] with the parent's
/// reference and the callout (see `carp_kpi::container`).
pub type Cif = Container<CifData>;

impl CifData {
    /// A container's data for `table` on a parent in `vnet`.
    pub fn new(table: Table, vnet: Vnet, iff_up: bool, link_up: bool) -> CifData {
        CifData {
            inner: Mutex::new(Inner { table, ifas: Bound::default(), iff_up, link_up, armed: None }),
            mcast4: EpochBox::empty(),
            mcast6: EpochBox::empty(),
            vnet,
        }
    }

    /// The multicast state of `family`.
    pub fn mcast(&self, family: Family) -> &EpochBox<Mcast> {
        match family {
            Family::Inet => &self.mcast4,
            Family::Inet6 => &self.mcast6,
        }
    }
}

/// Arms the container's callout for `at`, or stops it.
fn arm(cif: &Cif, at: Option<Instant>) {
    match at {
        Some(t) => cif.arm_at(t),
        None => cif.stop_timer(),
    }
}

/// Outbox items per round: kept small because the kernel stack is (these frames sit under
/// ip_input and above ip_output); the drain loops until the table has nothing more.
const OUTBOX: usize = 2;
/// Rounds per `run`: enough for a takeover or a send-all on 255 vhids (each round empties
/// at most OUTBOX items).
const MAX_ROUNDS: usize = 2048;

enum Item {
    /// A state or demotion change: log line (if `log` allows), devd, send-all.
    Event(Event),
    Carp(carp_proto::vhid::CarpTransmit),
    /// A VRRPv3 advertisement, built under the lock (it carries the address list).
    Vrrp { vhid: u8, family: Family, pkt: Vec<u8>, len: usize },
    AdvertNoMem { vhid: u8, family: Family },
    Garp { addr: Ipv4Addr, mac: [u8; 6] },
    Na { addr: Ipv6Addr },
    /// The routes of every address bound to `vhid` follow its state (walked in place by
    /// [`change_routes`], without allocating).
    Routes { vhid: u8, add: bool },
}

struct Outbox {
    items: [Option<Item>; OUTBOX],
    n: usize,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox { items: [const { None }; OUTBOX], n: 0 }
    }
    fn full(&self) -> bool {
        self.n >= OUTBOX
    }
    fn push(&mut self, it: Item) {
        if let Some(slot) = self.items.get_mut(self.n) {
            *slot = Some(it);
            self.n = self.n.saturating_add(1);
        }
    }
}

fn state_devd_type(s: carp_proto::CarpState) -> &'static core::ffi::CStr {
    match s {
        carp_proto::CarpState::Init => c"INIT",
        carp_proto::CarpState::Backup => c"BACKUP",
        carp_proto::CarpState::Master => c"MASTER",
    }
}

/// Carries out one core event: the log line (filtered by `log`), the devd notification
/// of a state change, the send-all task after a demotion change. Never with a lock held.
pub fn event(ev: &Event, sys: &Sysctls) {
    if ev.should_log(sys.log) {
        let mut line = TextBuf::new();
        let _ = write!(line, "{ev}");
        log::info(line.as_cstr());
    }
    match ev {
        Event::StateChanged(c) => {
            let mut sub = TextBuf::new();
            let _ = write!(sub, "{}", c.devd().subsystem);
            net::devctl_carp(sub.as_cstr(), state_devd_type(c.new));
        }
        Event::DemotionChanged(_) => net::sendall_enqueue(),
    }
}

/// Drains the events of a vhid that was removed from its table (its last words).
pub fn drain_removed(v: &mut carp_proto::vhid::Vhid, sys: &Sysctls) {
    while let Some(ev) = v.poll_event() {
        event(&ev, sys);
    }
}

/// Called by `cif::collect` under the container's lock for every event of the table: a
/// state change of a vhid bound to a `carpN` becomes the `carpN`'s link state (MASTER
/// up, BACKUP down, INIT unknown).
fn carpn_follows(ifas: &[(IfaRef, u8)], ev: &Event) {
    let Event::StateChanged(c) = ev else { return };
    for (r, v) in ifas.iter() {
        if *v != c.vhid {
            continue;
        }
        if let Some(i) = r.get().ifp().filter(|i| i.is_carp_clone()) {
            i.clone_link_state(c.new.legacy_link_state());
            return;
        }
    }
}

/// Collects what the table wants done, until the outbox is full.
fn collect(inner: &mut Inner, out: &mut Outbox, src4: IpAddr, src6: IpAddr, sys: &Sysctls, ident: u16) {
    let Inner { table, ifas, .. } = inner;
    let ifas: &Bound = ifas;
    for v in table.iter_mut() {
        while !out.full() {
            let Some(ev) = v.poll_event() else { break };
            // A carpN's link state follows its vhid (under this lock, so it cannot race
            // with the carpN's destruction, which unbinds first).
            carpn_follows(ifas, &ev);
            out.push(Item::Event(ev));
        }
        while !out.full() {
            let vhid = v.vhid();
            let Some(t) = v.poll_transmit() else { break };
            out.push(match t {
                Transmit::Carp(c) => Item::Carp(c),
                Transmit::Vrrp(r) => {
                    let src = if r.family == Family::Inet { src4 } else { src6 };
                    // IP header + VRRPv3 header and address list.
                    let ip = if r.family == Family::Inet { 20usize } else { 40 };
                    let need = r.repr().buffer_len().saturating_add(ip);
                    match carp_kpi::malloc::zeroed_bytes(need) {
                        Ok(mut pkt) => match r.emit(&mut pkt, src, sys.dscp, ident) {
                            Ok(len) => Item::Vrrp { vhid, family: r.family, pkt, len },
                            Err(_) => Item::AdvertNoMem { vhid, family: r.family },
                        },
                        Err(_) => Item::AdvertNoMem { vhid, family: r.family },
                    }
                }
                Transmit::GratuitousArp { addr, mac } => Item::Garp { addr, mac },
                Transmit::NeighborAdvert { addr, .. } => Item::Na { addr },
            });
        }
        if out.full() {
            return;
        }
        if let Some(op) = v.poll_route() {
            out.push(Item::Routes { vhid: v.vhid(), add: op == RouteOp::Add });
        }
    }
}

/// Removes the routes of `vhid`'s addresses (see [`change_routes`]).
pub fn withdraw_routes(cif: &Cif, vhid: u8) {
    change_routes(cif, vhid, false);
}

/// Installs or removes the routes of every address bound to `vhid`, walking the bound
/// addresses in place: one reference taken under the lock at a time, the routes changed
/// outside it (the stack may call carp_master). Nothing is allocated, so a state change
/// and its route change never come apart for lack of memory (FreeBSD's carp_addroute and
/// carp_delroute walk the addresses the same way). If the bound addresses change meanwhile
/// (a concurrent attach or detach: [`Bound::gen`] moves), the walk starts again: route
/// changes are idempotent.
fn change_routes(cif: &Cif, vhid: u8, add: bool) {
    let mut k = 0usize;
    let mut gen: Option<u64> = None;
    let mut restarts = 0u32;
    loop {
        let (next, g) = {
            let inner = cif.inner.lock();
            let next = inner.ifas.iter().filter(|(_, v)| *v == vhid).nth(k).map(|(r, _)| r.clone_ref());
            (next, inner.ifas.gen())
        };
        if gen.is_some_and(|old| old != g) {
            restarts = restarts.saturating_add(1);
            if restarts > 64 {
                log::info(c"carp: bound addresses kept changing while their routes were changed");
                return;
            }
            k = 0;
            gen = Some(g);
            continue;
        }
        gen = Some(g);
        let Some(r) = next else { return };
        r.routes(add);
        k = k.saturating_add(1);
    }
}

fn send(ifp: Ifnet<'_>, cif: &Cif, e: &Epoch, family: Family, bytes: &[u8], tag: Option<u8>) -> SendResult {
    let mc = cif.mcast(family).get(e);
    match ifp.send(family, bytes, tag, mc) {
        Ok(()) => SendResult::Sent,
        Err(None) => SendResult::NoMemory,
        Err(Some(errno)) => SendResult::Error(errno),
    }
}

/// Applies `input` to the container's table, then carries out everything the core asks
/// for. `ifp` is the parent; the caller is in the network epoch and curvnet is the
/// parent's VNET. Must not be called with the container's lock held.
pub fn run(cif: &Cif, ifp: Ifnet<'_>, e: &Epoch, sys: &Sysctls, input: impl FnOnce(&mut Inner, Instant)) {
    let mut input = Some(input);
    // One copy of the drain loop for every caller: the input is reached through a
    // `dyn FnMut` (one indirect call per run).
    let mut once = |g: &mut Inner, now: Instant| {
        if let Some(f) = input.take() {
            f(g, now);
        }
    };
    // Statistics, ip_fillid and the stack's per-VNET state must be the parent's VNET's,
    // whatever context called (e.g. an interface departing from another VNET).
    net::with_vnet(cif.vnet, || run_in_vnet(cif, ifp, e, sys, &mut once));
}

#[inline(never)]
fn run_in_vnet(cif: &Cif, ifp: Ifnet<'_>, e: &Epoch, sys: &Sysctls, input: &mut dyn FnMut(&mut Inner, Instant)) {
    // Source addresses, found only when something is to be sent (most inputs send
    // nothing) and outside the lock: finding them may ask carp_master, which takes it.
    let mut src: Option<(IpAddr, IpAddr)> = None;
    let mut results: [Option<(u8, Family, SendResult)>; OUTBOX] = [None; OUTBOX];
    for _ in 0..MAX_ROUNDS {
        let mut out = Outbox::new();
        let (src4, src6, ident);
        {
            let mut g = cif.inner.lock();
            let now = net::now();
            // The input runs in the first round only (`run` makes it one-shot).
            input(&mut g, now);
            let mut stats = CarpStats::default();
            for r in results.iter_mut() {
                if let Some((vhid, family, res)) = r.take() {
                    if let Some(v) = g.table.get_mut(vhid) {
                        v.handle_send_result(family, res, sys, &mut stats);
                    }
                }
            }
            net::stats_add(&stats);
            let sending = g.table.transmit_pending();
            if sending && src.is_none() {
                // What is pending stays pending meanwhile (only polling takes it).
                drop(g);
                src = Some((ifp.source(Family::Inet), ifp.source(Family::Inet6)));
                g = cif.inner.lock();
            }
            (src4, src6) = src.unwrap_or((IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
            ident = if sending { carp_kpi::net::ip_newid() } else { 0 };
            collect(&mut g, &mut out, src4, src6, sys, ident);
            let next = g.table.poll_timeout();
            if next != g.armed {
                arm(cif, next);
                g.armed = next;
            }
        }
        if out.n == 0 {
            return;
        }
        let mut ri = 0usize;
        for it in out.items.iter_mut() {
            let Some(it) = it.take() else { continue };
            let mut result = |r: (u8, Family, SendResult)| {
                if let Some(slot) = results.get_mut(ri) {
                    *slot = Some(r);
                    ri = ri.saturating_add(1);
                }
            };
            match it {
                Item::Event(ev) => event(&ev, sys),
                Item::Carp(c) => {
                    let src = if c.family == Family::Inet { src4 } else { src6 };
                    let mut pkt = [0u8; 80];
                    let res = match c.emit(&mut pkt, src, sys.dscp, ident) {
                        Ok(len) => {
                            let tag = c.tag_virtual_mac().then_some(c.vhid);
                            send(ifp, cif, e, c.family, pkt.get(..len).unwrap_or(&[]), tag)
                        }
                        Err(_) => SendResult::NoMemory,
                    };
                    result((c.vhid, c.family, res));
                }
                Item::Vrrp { vhid, family, pkt, len } => {
                    let res = send(ifp, cif, e, family, pkt.get(..len).unwrap_or(&[]), Some(vhid));
                    result((vhid, family, res));
                }
                Item::AdvertNoMem { vhid, family } => result((vhid, family, SendResult::NoMemory)),
                Item::Garp { addr, mac } => ifp.garp(addr, &mac),
                // FreeBSD busy-waits 1 ms between NAs; they are sent back to back here.
                Item::Na { addr } => ifp.unsolicited_na(addr),
                Item::Routes { vhid, add } => change_routes(cif, vhid, add),
            }
        }
    }
}

//! A deterministic simulated LAN of CARP/VRRPv3 nodes with virtual time.
//!
//! Every node is one parent interface: a `Table` with its own `Demotion` and `Sysctls`,
//! driven exactly as the kernel glue drives it. Nodes exchange real packet bytes: an
//! advertisement polled from a vhid is emitted with `wire` (IP header included, HMAC from
//! `auth`), carried by the simulated segment (latency, loss, partitions, link state) and
//! received through `input::input_ipv4`/`input_ipv6` with the receiving node's table as the
//! vhid lookup, then handed to the state machine. So the whole core is exercised: wire
//! emit/parse, checksums, HMAC sign/verify, receive checks and statistics, the vhid state
//! machine, demotion and the table.
//!
//! Determinism: no clocks, no OS randomness. Loss uses a seeded xorshift generator; ties
//! between simultaneous deliveries and timers are broken by (time, sequence number).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_proto::demotion::{Demotion, DemotionReason};
use carp_proto::input;
use carp_proto::table::Table;
use carp_proto::vhid::{Event, IfName, RouteOp, SendResult, Transmit};
use carp_proto::{
    CarpState, CarpStats, Family, Instant, SetRequest, Stat, Sysctls, Version, CARP_GROUP_V4, CARP_GROUP_V6,
    CARP_KEY_LEN,
};

pub const SEC: u64 = 1_000_000;
pub const MS: u64 = 1_000;

/// xorshift64*: small, seeded, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `permille`/1000.
    pub fn chance(&mut self, permille: u32) -> bool {
        (self.next_u64() % 1000) < u64::from(permille)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// A SET request with nothing but the vhid and version.
pub fn req(vhid: u8, version: Version) -> SetRequest {
    SetRequest {
        vhid,
        state: None,
        advbase: None,
        advskew: None,
        key: None,
        peer4: None,
        peer6: None,
        version,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    }
}

/// A CARP key from a password, as ifconfig's `pass` (NUL padded to 20 bytes).
pub fn key(pass: &str) -> [u8; CARP_KEY_LEN] {
    let mut k = [0u8; CARP_KEY_LEN];
    for (d, s) in k.iter_mut().zip(pass.bytes()) {
        *d = s;
    }
    k
}

/// A state change as observed on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: u64,
    pub node: usize,
    pub vhid: u8,
    pub old: CarpState,
    pub new: CarpState,
    pub reason: &'static str,
}

/// Something a node put on the segment, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Advert { at: u64, family: Family, vhid: u8, advskew: u8, counter: Option<u64>, dst: IpAddr, vmac: bool },
    Garp { at: u64, addr: Ipv4Addr },
    Na { at: u64, addr: Ipv6Addr },
}

/// What a node was configured with, so a restart can replay it.
#[derive(Clone, Debug)]
enum ConfigStep {
    Set(SetRequest),
    Attach(u8, IpAddr),
}

/// One parent interface of a node, attached to a segment.
pub struct Iface {
    pub name: String,
    pub segment: usize,
    pub src4: Ipv4Addr,
    pub src6: Ipv6Addr,
    pub table: Table,
    pub link_up: bool,
    /// When set, every advertisement send fails with this errno.
    pub send_error: Option<i32>,
    pub routes: Vec<(u8, RouteOp)>,
    pub sent: Vec<Sent>,
    config: Vec<ConfigStep>,
}

/// A host: one VNET (sysctls, demotion, statistics) with one or more interfaces.
pub struct Node {
    pub sys: Sysctls,
    pub demotion: Demotion,
    pub ifaces: Vec<Iface>,
    pub stats: CarpStats,
    pub log: Vec<String>,
    pub devd: Vec<String>,
    pub verdicts: BTreeMap<&'static str, u64>,
    /// Hops a unicast advertisement crosses to reach this node (TTL decrement).
    pub unicast_hops: u8,
    ident: u16,
    seed: u64,
}

/// (node, interface index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(pub usize, pub usize);

impl From<usize> for Port {
    fn from(i: usize) -> Port {
        Port(i, 0)
    }
}

impl Node {
    pub fn iface(&self, k: usize) -> &Iface {
        &self.ifaces[k]
    }

    pub fn table(&self) -> &Table {
        &self.ifaces[0].table
    }

    pub fn state(&self, vhid: u8) -> Option<CarpState> {
        self.ifaces[0].table.state(vhid)
    }

    pub fn sent(&self) -> &[Sent] {
        &self.ifaces[0].sent
    }

    pub fn routes(&self) -> &[(u8, RouteOp)] {
        &self.ifaces[0].routes
    }

    pub fn verdict_count(&self, name: &str) -> u64 {
        self.verdicts.get(name).copied().unwrap_or(0)
    }

    pub fn adverts_sent(&self, vhid: u8) -> Vec<&Sent> {
        self.ifaces[0].sent.iter().filter(|s| matches!(s, Sent::Advert { vhid: v, .. } if *v == vhid)).collect()
    }
}

#[derive(Clone, Debug)]
struct Frame {
    from: Port,
    segment: usize,
    bytes: Vec<u8>,
    family: Family,
    /// None: multicast to the segment.
    to: Option<IpAddr>,
}

pub struct Lan {
    pub now: u64,
    pub nodes: Vec<Node>,
    pub transitions: Vec<Transition>,
    /// One-way latency.
    pub latency: u64,
    /// Extra random delay, uniformly 0..jitter.
    pub jitter: u64,
    /// Loss probability in permille.
    pub loss_permille: u32,
    /// Partition group of each node: frames only cross between equal groups.
    pub groups: Vec<u32>,
    pub rng: Rng,
    queue: BTreeMap<(u64, u64), (Port, Frame)>,
    seq: u64,
    pub delivered: u64,
    pub dropped: u64,
}

impl Lan {
    pub fn new(latency: u64) -> Lan {
        Lan {
            now: 0,
            nodes: Vec::new(),
            transitions: Vec::new(),
            latency,
            jitter: 0,
            loss_permille: 0,
            groups: Vec::new(),
            rng: Rng::new(1),
            queue: BTreeMap::new(),
            seq: 0,
            delivered: 0,
            dropped: 0,
        }
    }

    pub fn with_seed(mut self, seed: u64) -> Lan {
        self.rng = Rng::new(seed);
        self
    }

    /// A node with one interface `em0` on segment 0, primary addresses 192.0.2.(10+i) and
    /// 2001:db8::(10+i).
    pub fn add_node(&mut self) -> usize {
        let i = self.nodes.len();
        let seed = 0x5eed_0000_0000_0000 | (i as u64) << 32;
        self.nodes.push(Node {
            sys: Sysctls::default(),
            demotion: Demotion::new(),
            ifaces: Vec::new(),
            stats: CarpStats::default(),
            log: Vec::new(),
            devd: Vec::new(),
            verdicts: BTreeMap::new(),
            unicast_hops: 0,
            ident: 1,
            seed,
        });
        self.groups.push(0);
        self.add_iface(i, 0);
        i
    }

    /// Another interface `em<k>` of node `i` on `segment`, primary addresses
    /// 192.0.(2+segment).(10+i) and 2001:db8:<segment>::(10+i).
    pub fn add_iface(&mut self, i: usize, segment: usize) -> Port {
        let n = &mut self.nodes[i];
        let k = n.ifaces.len();
        let name = format!("em{k}");
        let last = u8::try_from(10 + i).expect("too many nodes");
        let seg = u8::try_from(segment).expect("segment");
        n.ifaces.push(Iface {
            table: Table::new(IfName::new(&name), n.demotion.clone()),
            name,
            segment,
            src4: Ipv4Addr::new(192, 0, 2u8.saturating_add(seg), last),
            src6: Ipv6Addr::new(0x2001, 0xdb8, u16::from(seg), 0, 0, 0, 0, u16::from(last)),
            link_up: true,
            send_error: None,
            routes: Vec::new(),
            sent: Vec::new(),
            config: Vec::new(),
        });
        Port(i, k)
    }

    /// Give an interface other primary addresses (e.g. for unicast-peer scenarios).
    pub fn set_primary(&mut self, p: impl Into<Port>, src4: Ipv4Addr, src6: Ipv6Addr) {
        let Port(i, k) = p.into();
        let f = &mut self.nodes[i].ifaces[k];
        f.src4 = src4;
        f.src6 = src6;
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    pub fn node_mut(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }

    pub fn iface(&self, p: impl Into<Port>) -> &Iface {
        let Port(i, k) = p.into();
        &self.nodes[i].ifaces[k]
    }

    pub fn iface_mut(&mut self, p: impl Into<Port>) -> &mut Iface {
        let Port(i, k) = p.into();
        &mut self.nodes[i].ifaces[k]
    }

    fn at(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    // ------------------------------------------------------------------------------
    // Configuration (what ifconfig / sysctl do on a node)
    // ------------------------------------------------------------------------------

    /// SIOCSVH / netlink SET on an interface.
    pub fn set(&mut self, p: impl Into<Port>, r: SetRequest) -> Result<(), carp_proto::Errno> {
        let Port(i, k) = p.into();
        let now = self.at();
        let n = &mut self.nodes[i];
        n.seed = n.seed.wrapping_add(0x1_0001);
        let sys = n.sys;
        let f = &mut n.ifaces[k];
        let res = f.table.set(now, &r, n.seed, &sys);
        if res.is_ok() {
            let mut stored = r;
            stored.state = None;
            f.config.push(ConfigStep::Set(stored));
        }
        self.drain(i);
        res
    }

    /// `ifconfig <if> [inet6] add vhid N <addr>` after the SET.
    pub fn attach(&mut self, p: impl Into<Port>, vhid: u8, addr: IpAddr) {
        let Port(i, k) = p.into();
        let now = self.at();
        let n = &mut self.nodes[i];
        let sys = n.sys;
        let f = &mut n.ifaces[k];
        f.table.attach(now, vhid, addr, &sys).expect("attach");
        f.config.push(ConfigStep::Attach(vhid, addr));
        self.drain(i);
    }

    /// SET (create) then attach, like `ifconfig em0 add vhid N [advskew S] [pass P] addr`.
    pub fn configure(&mut self, p: impl Into<Port>, r: SetRequest, addrs: &[IpAddr]) {
        let p = p.into();
        self.set(p, r).expect("set");
        for a in addrs {
            self.attach(p, r.vhid, *a);
        }
    }

    /// Delete (or, with `keep`, replace) an address. Returns whether it was attached.
    pub fn detach(&mut self, p: impl Into<Port>, vhid: u8, addr: IpAddr, keep: bool) -> bool {
        let Port(i, k) = p.into();
        let now = self.at();
        let n = &mut self.nodes[i];
        let sys = n.sys;
        let f = &mut n.ifaces[k];
        let res = f.table.detach(now, vhid, &addr, keep, &sys);
        f.config.retain(|s| !matches!(s, ConfigStep::Attach(v, a) if *v == vhid && *a == addr));
        let destroyed = match res {
            Ok(d) => d.destroyed,
            Err(_) => return false,
        };
        if let Some(mut v) = destroyed {
            f.config.retain(|s| !matches!(s, ConfigStep::Set(r) if r.vhid == vhid));
            let mut send_all = false;
            while let Some(e) = v.poll_event() {
                send_all |= self.record_event(i, e);
            }
            if send_all {
                self.send_all(i);
            }
        }
        self.drain(i);
        true
    }

    /// Parent link state (and IFF_UP) change.
    pub fn link(&mut self, p: impl Into<Port>, up: bool) {
        let Port(i, k) = p.into();
        let now = self.at();
        let n = &mut self.nodes[i];
        let sys = n.sys;
        let f = &mut n.ifaces[k];
        f.link_up = up;
        f.table.handle_parent(now, up, up, &sys);
        self.drain(i);
    }

    /// Legacy `ifconfig carpN down|up` of `vhid` on a port (the carpN holding that vhid).
    pub fn admin(&mut self, p: impl Into<Port>, vhid: u8, up: bool) {
        let Port(i, k) = p.into();
        let now = self.at();
        let n = &mut self.nodes[i];
        let sys = n.sys;
        if let Some(v) = n.ifaces[k].table.get_mut(vhid) {
            v.handle_admin(now, up, &sys);
        }
        self.drain(i);
    }

    /// Change sysctls on node `i`; an `allow` change runs the allow handler on every table.
    pub fn sysctl(&mut self, i: usize, f: impl FnOnce(&mut Sysctls)) {
        let now = self.at();
        let n = &mut self.nodes[i];
        let before = n.sys.allow;
        f(&mut n.sys);
        if n.sys.allow != before {
            let sys = n.sys;
            for f in n.ifaces.iter_mut() {
                f.table.handle_allow(now, &sys);
            }
        }
        self.drain(i);
    }

    /// `sysctl net.inet.carp.demotion=adj` on node `i` (adds), then the send-all task.
    pub fn demote(&mut self, i: usize, adj: i32) {
        let c = self.nodes[i].demotion.adjust(adj, DemotionReason::Sysctl);
        if c.should_log(self.nodes[i].sys.log) {
            self.nodes[i].log.push(c.to_string());
        }
        self.send_all(i);
    }

    /// The send-all task of node `i`: every MASTER of every interface advertises now.
    fn send_all(&mut self, i: usize) {
        let now = self.at();
        for f in self.nodes[i].ifaces.iter_mut() {
            f.table.handle_demotion_change(now);
        }
        self.drain(i);
    }

    /// Reboot node `i`: all protocol state is lost (fresh tables and demotion; frames in
    /// flight to it are lost too), then the recorded configuration is replayed.
    pub fn restart(&mut self, i: usize) {
        self.queue.retain(|_, (to, _)| to.0 != i);
        let mut steps = Vec::new();
        {
            let n = &mut self.nodes[i];
            n.demotion = Demotion::new();
            n.seed = n.seed.wrapping_add(0x1234_5678);
            for (k, f) in n.ifaces.iter_mut().enumerate() {
                f.table = Table::new(IfName::new(&f.name), n.demotion.clone());
                f.table.set_parent_flags(f.link_up, f.link_up);
                for s in std::mem::take(&mut f.config) {
                    steps.push((k, s));
                }
            }
        }
        for (k, s) in steps {
            match s {
                ConfigStep::Set(r) => {
                    self.set(Port(i, k), r).expect("replay set");
                }
                ConfigStep::Attach(v, a) => self.attach(Port(i, k), v, a),
            }
        }
    }

    // ------------------------------------------------------------------------------
    // Segments
    // ------------------------------------------------------------------------------

    /// Partition group per node: frames only travel between nodes of the same group.
    pub fn partition(&mut self, groups: &[u32]) {
        self.groups = groups.to_vec();
    }

    /// Remove partitions and loss.
    pub fn heal(&mut self) {
        for g in self.groups.iter_mut() {
            *g = 0;
        }
        self.loss_permille = 0;
    }

    fn reachable(&self, from: Port, to: Port) -> bool {
        let (a, b) = (&self.nodes[from.0].ifaces[from.1], &self.nodes[to.0].ifaces[to.1]);
        from.0 != to.0 && a.segment == b.segment && a.link_up && b.link_up && self.groups[from.0] == self.groups[to.0]
    }

    fn ports(&self) -> Vec<Port> {
        let mut v = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for k in 0..n.ifaces.len() {
                v.push(Port(i, k));
            }
        }
        v
    }

    fn owner_of(&self, segment: usize, dst: &IpAddr) -> Option<Port> {
        self.ports().into_iter().find(|p| {
            let f = &self.nodes[p.0].ifaces[p.1];
            // Unicast peers may be routed (other segment); match on the address only.
            let _ = segment;
            match dst {
                IpAddr::V4(a) => f.src4 == *a,
                IpAddr::V6(a) => f.src6 == *a,
            }
        })
    }

    fn transmit(&mut self, frame: Frame) {
        let targets: Vec<Port> = match frame.to {
            None => self.ports().into_iter().filter(|p| self.nodes[p.0].ifaces[p.1].segment == frame.segment).collect(),
            Some(dst) => self.owner_of(frame.segment, &dst).into_iter().collect(),
        };
        for t in targets {
            let routed = frame.to.is_some();
            let ok = if routed {
                // A routed unicast path: both ends up, same partition group.
                t.0 != frame.from.0
                    && self.nodes[frame.from.0].ifaces[frame.from.1].link_up
                    && self.nodes[t.0].ifaces[t.1].link_up
                    && self.groups[frame.from.0] == self.groups[t.0]
            } else {
                self.reachable(frame.from, t)
            };
            if !ok {
                continue;
            }
            if self.loss_permille > 0 && self.rng.chance(self.loss_permille) {
                self.dropped += 1;
                continue;
            }
            let mut f = frame.clone();
            if routed {
                decrement_ttl(&mut f.bytes, f.family, self.nodes[t.0].unicast_hops);
            }
            let delay = self.latency + self.rng.below(self.jitter);
            self.seq += 1;
            self.queue.insert((self.now + delay, self.seq), (t, f));
        }
    }

    fn receive(&mut self, to: Port, frame: Frame) {
        let now = self.at();
        let n = &mut self.nodes[to.0];
        let sys = n.sys;
        let f = &mut n.ifaces[to.1];
        if !f.link_up {
            return;
        }
        let outcome = match frame.family {
            Family::Inet => input::input_ipv4(sys.allow, Some(&f.table), &frame.bytes),
            Family::Inet6 => input::input_ipv6(sys.allow, Some(&f.table), &frame.bytes),
        };
        outcome.count(&mut n.stats);
        *n.verdicts.entry(outcome.verdict.as_str()).or_default() += 1;
        if let Some(adv) = outcome.advert {
            f.table.handle_advert(now, &adv, &sys);
        }
        self.delivered += 1;
        self.drain(to.0);
    }

    // ------------------------------------------------------------------------------
    // Driving a node's outputs, as the kernel glue does
    // ------------------------------------------------------------------------------

    /// Log/devd/trace one event; returns whether it asks for the send-all task.
    fn record_event(&mut self, i: usize, e: Event) -> bool {
        let now = self.now;
        let n = &mut self.nodes[i];
        if e.should_log(n.sys.log) {
            n.log.push(e.to_string());
        }
        match e {
            Event::StateChanged(c) => {
                n.devd.push(c.devd().to_string());
                self.transitions.push(Transition {
                    at: now,
                    node: i,
                    vhid: c.vhid,
                    old: c.old,
                    new: c.new,
                    reason: c.reason.as_str(),
                });
                false
            }
            Event::DemotionChanged(_) => true,
        }
    }

    /// Drain every vhid of every interface of node `i`: events, transmits (emitted to
    /// bytes and put on the segment, send results reported), routes. A demotion change
    /// runs the send-all task (and drains again).
    pub fn drain(&mut self, i: usize) {
        for _round in 0..16 {
            let now = self.at();
            let at_us = self.now;
            let mut events = Vec::new();
            let mut frames = Vec::new();
            {
                let n = &mut self.nodes[i];
                let sys = n.sys;
                for (k, f) in n.ifaces.iter_mut().enumerate() {
                    let (src4, src6) = (f.src4, f.src6);
                    let mut results = Vec::new();
                    for v in f.table.iter_mut() {
                        while let Some(e) = v.poll_event() {
                            events.push(e);
                        }
                        while let Some(t) = v.poll_transmit() {
                            let mut buf = [0u8; 2048];
                            match t {
                                Transmit::Carp(c) => {
                                    let src = match c.family {
                                        Family::Inet => IpAddr::V4(src4),
                                        Family::Inet6 => IpAddr::V6(src6),
                                    };
                                    let len = c.emit(&mut buf, src, sys.dscp, n.ident).expect("emit carp");
                                    n.ident = n.ident.wrapping_add(1);
                                    let multicast = c.dst.is_multicast();
                                    frames.push(Frame {
                                        from: Port(i, k),
                                        segment: f.segment,
                                        bytes: buf[..len].to_vec(),
                                        family: c.family,
                                        to: (!multicast).then_some(c.dst),
                                    });
                                    f.sent.push(Sent::Advert {
                                        at: at_us,
                                        family: c.family,
                                        vhid: c.vhid,
                                        advskew: c.advskew,
                                        counter: Some(c.counter),
                                        dst: c.dst,
                                        vmac: c.tag_virtual_mac(),
                                    });
                                    results.push((c.vhid, c.family));
                                }
                                Transmit::Vrrp(x) => {
                                    let src = match x.family {
                                        Family::Inet => IpAddr::V4(src4),
                                        Family::Inet6 => IpAddr::V6(src6),
                                    };
                                    let len = x.emit(&mut buf, src, sys.dscp, n.ident).expect("emit vrrp");
                                    n.ident = n.ident.wrapping_add(1);
                                    frames.push(Frame {
                                        from: Port(i, k),
                                        segment: f.segment,
                                        bytes: buf[..len].to_vec(),
                                        family: x.family,
                                        to: None,
                                    });
                                    f.sent.push(Sent::Advert {
                                        at: at_us,
                                        family: x.family,
                                        vhid: x.vrid,
                                        advskew: x.priority,
                                        counter: None,
                                        dst: x.dst(),
                                        vmac: x.tag_virtual_mac(),
                                    });
                                    results.push((x.vrid, x.family));
                                }
                                Transmit::GratuitousArp { addr, .. } => f.sent.push(Sent::Garp { at: at_us, addr }),
                                Transmit::NeighborAdvert { addr, .. } => f.sent.push(Sent::Na { at: at_us, addr }),
                            }
                        }
                    }
                    // Report send results (the glue does it right after ip_output).
                    for (vhid, family) in results {
                        let r = match f.send_error {
                            Some(e) => SendResult::Error(e),
                            None => SendResult::Sent,
                        };
                        if let Some(v) = f.table.get_mut(vhid) {
                            v.handle_send_result(family, r, &sys, &mut n.stats);
                            while let Some(e) = v.poll_event() {
                                events.push(e);
                            }
                        }
                    }
                    for v in f.table.iter_mut() {
                        while let Some(r) = v.poll_route() {
                            f.routes.push((v.vhid(), r));
                        }
                    }
                }
            }
            let mut send_all = false;
            for e in events {
                send_all |= self.record_event(i, e);
            }
            for fr in frames {
                if self.nodes[fr.from.0].ifaces[fr.from.1].send_error.is_none() {
                    self.transmit(fr);
                }
            }
            if !send_all {
                return;
            }
            for f in self.nodes[i].ifaces.iter_mut() {
                f.table.handle_demotion_change(now);
            }
        }
        panic!("drain did not settle on node {i}");
    }

    // ------------------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------------------

    fn next_timer(&self) -> Option<(u64, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.ifaces.iter().filter_map(move |f| f.table.poll_timeout().map(|t| (t.as_micros(), i))))
            .min()
    }

    /// Advance virtual time to `until`, processing deliveries and timers in order
    /// (deliveries first on a tie).
    pub fn run_until(&mut self, until: u64) {
        loop {
            let next_frame = self.queue.keys().next().copied();
            let next_timer = self.next_timer();
            let tf = next_frame.map(|(t, _)| t).unwrap_or(u64::MAX);
            let tt = next_timer.map(|(t, _)| t).unwrap_or(u64::MAX);
            if tf.min(tt) > until || (next_frame.is_none() && next_timer.is_none()) {
                break;
            }
            if tf <= tt {
                let key = next_frame.unwrap();
                let (to, frame) = self.queue.remove(&key).unwrap();
                self.now = self.now.max(key.0);
                self.receive(to, frame);
            } else {
                let (t, i) = next_timer.unwrap();
                self.now = self.now.max(t);
                let now = self.at();
                let n = &mut self.nodes[i];
                let sys = n.sys;
                for f in n.ifaces.iter_mut() {
                    f.table.handle_timeout(now, &sys);
                }
                self.drain(i);
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, dur: u64) {
        let until = self.now + dur;
        self.run_until(until);
    }

    // ------------------------------------------------------------------------------
    // Observations
    // ------------------------------------------------------------------------------

    pub fn state(&self, p: impl Into<Port>, vhid: u8) -> Option<CarpState> {
        self.iface(p).table.state(vhid)
    }

    /// Nodes whose interface 0 is MASTER for `vhid`.
    pub fn masters(&self, vhid: u8) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.state(i, vhid) == Some(CarpState::Master)).collect()
    }

    /// Ports (on `segment`) that are MASTER for `vhid`.
    pub fn masters_on(&self, segment: usize, vhid: u8) -> Vec<Port> {
        self.ports()
            .into_iter()
            .filter(|p| {
                let f = &self.nodes[p.0].ifaces[p.1];
                f.segment == segment && f.table.state(vhid) == Some(CarpState::Master)
            })
            .collect()
    }

    pub fn stat(&self, i: usize, s: Stat) -> u64 {
        self.nodes[i].stats.get(s)
    }

    /// Transitions of `vhid` since `since`.
    pub fn transitions_since(&self, vhid: u8, since: u64) -> Vec<&Transition> {
        self.transitions.iter().filter(|t| t.vhid == vhid && t.at >= since).collect()
    }

    /// A readable dump for failure messages.
    pub fn dump(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "now={}us", self.now);
        for (i, n) in self.nodes.iter().enumerate() {
            let _ = writeln!(s, "node {i} group={} demotion={}", self.groups[i], n.demotion.value());
            for f in n.ifaces.iter() {
                let states: Vec<String> = f.table.iter().map(|v| format!("{}:{:?}", v.vhid(), v.state())).collect();
                let _ = writeln!(s, "  {} seg={} link={} [{}]", f.name, f.segment, f.link_up, states.join(" "));
            }
        }
        let recent: Vec<&Transition> = self.transitions.iter().rev().take(40).collect();
        for t in recent.into_iter().rev() {
            let _ = writeln!(s, "  {:>12} node {} vhid {} {:?}->{:?} ({})", t.at, t.node, t.vhid, t.old, t.new, t.reason);
        }
        s
    }
}

/// Decrement the TTL / hop limit of a packet by `hops` (IPv4: fix the header checksum).
fn decrement_ttl(bytes: &mut [u8], family: Family, hops: u8) {
    if hops == 0 {
        return;
    }
    match family {
        Family::Inet => {
            bytes[8] = bytes[8].saturating_sub(hops);
            bytes[10] = 0;
            bytes[11] = 0;
            let mut sum: u32 = 0;
            for c in bytes[..20].chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            let ck = !(sum as u16);
            bytes[10..12].copy_from_slice(&ck.to_be_bytes());
        }
        Family::Inet6 => bytes[7] = bytes[7].saturating_sub(hops),
    }
}

/// 192.0.2.<last>.
pub fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// 2001:db8::<last>.
pub fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// The multicast destinations.
pub fn groups() -> (IpAddr, IpAddr) {
    (IpAddr::V4(CARP_GROUP_V4), IpAddr::V6(CARP_GROUP_V6))
}

//! The userland CARP node: carp-proto's per-vhid state machines driven by a monotonic
//! clock and an AF_PACKET socket.
//!
//! The loop is the core's contract, nothing more: feed an input (a received frame that the
//! core's input pipeline accepted, a deadline, a command), then drain the vhid's outputs in
//! the documented order (events, transmits, routes) and sleep until the earliest
//! `poll_timeout` of all vhids — with `ppoll` at nanosecond resolution and 1 ns timer
//! slack, no ticks. Frames are built by `carp_proto::wire`; state changes are printed with
//! the core's own `Display` (`carp: <vhid>@<if>: <OLD> -> <NEW> (<reason>)`).

use crate::cli::{Config, VhidConf};
use crate::sys::{self, PacketSocket, VirtualIf};
use carp_proto::demotion::{Demotion, DemotionReason};
use carp_proto::table::Table;
use carp_proto::vhid::{Event, IfName, RouteOp, SendResult};
use carp_proto::wire::ethernet;
use carp_proto::{CarpStats, Instant, Sysctls, CARP_GROUP_V4, CARP_GROUP_V6};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

pub mod rx;
pub mod tx;

/// The Linux side of one vhid: its command-line configuration and its macvlan.
pub struct VhidLinux {
    pub conf: VhidConf,
    pub vif: Option<VirtualIf>,
}

pub struct Node {
    pub iface: String,
    pub ifname: IfName,
    pub hwaddr: [u8; 6],
    pub sock: PacketSocket,
    pub sys: Sysctls,
    pub demotion: Demotion,
    pub stats: CarpStats,
    /// The core's per-parent vhid container (FreeBSD's `carp_if`).
    pub table: Table,
    /// vhid -> Linux side.
    pub linux: BTreeMap<u8, VhidLinux>,
    pub quiet: bool,
    /// Print the core's receive diagnostics (FreeBSD's `net.inet.carp.log` 2).
    pub verbose: bool,
    /// The parent's own (non-virtual) addresses: advertisement sources.
    pub src4: Option<Ipv4Addr>,
    pub src6: Option<Ipv6Addr>,
    pub link_up: bool,
    ip_ident: u16,
    _sinks: Vec<OwnedFd>,
    pub raw4: Option<OwnedFd>,
    pub raw6: Option<OwnedFd>,
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = io::Read::read_exact(&mut f, &mut b);
    }
    u64::from_ne_bytes(b)
}

/// Print one line on stdout and flush at once (tests and the demo read it live).
pub fn say(line: impl std::fmt::Display) {
    let mut o = io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

impl Node {
    pub fn new(cfg: &Config) -> io::Result<Node> {
        let sock = PacketSocket::open(&cfg.iface)?;
        let hwaddr = sys::hwaddr(&cfg.iface)?;
        // The groups' multicast MACs (a real NIC filters them; veth does not care).
        sock.add_multicast(ethernet::ipv4_multicast_mac(CARP_GROUP_V4))?;
        sock.add_multicast(ethernet::ipv6_multicast_mac(CARP_GROUP_V6))?;
        let mut sysctls = Sysctls { preempt: cfg.preempt, arpbalance: cfg.arpbalance, ..Sysctls::default() };
        if let Some(d) = cfg.dscp {
            sysctls.dscp = d;
        }
        let demotion = Demotion::new();
        let ifname = IfName::new(&cfg.iface);
        let mut table = Table::new(ifname, demotion.clone());
        let link_up = sys::link_up(&cfg.iface);
        table.set_parent_flags(true, link_up);
        let mut sinks = Vec::new();
        for v6 in [false, true] {
            if let Ok(fd) = sys::open_proto112_sink(v6) {
                sinks.push(fd);
            }
        }
        let mut node = Node {
            iface: cfg.iface.clone(),
            ifname,
            hwaddr,
            sock,
            sys: sysctls,
            demotion,
            stats: CarpStats::default(),
            table,
            linux: BTreeMap::new(),
            quiet: cfg.quiet,
            verbose: cfg.verbose,
            src4: None,
            src6: None,
            link_up,
            ip_ident: (random_u64() & 0xffff) as u16,
            _sinks: sinks,
            raw4: tx::open_raw(false).ok(),
            raw6: tx::open_raw(true).ok(),
        };
        node.refresh_sources();
        if cfg.demotion != 0 {
            let c = node.demotion.adjust(cfg.demotion, DemotionReason::Sysctl);
            node.sys.demotion = c.value;
            say(c);
        }
        Ok(node)
    }

    /// The first address of each family on the parent that is not a virtual address of
    /// ours (FreeBSD prefers a non-CARP address). IPv6 prefers the link-local address, as
    /// VRRPv3 requires and FreeBSD's scope rules give for ff02::12.
    pub fn refresh_sources(&mut self) {
        let (v4, v6) = sys::if_addrs(&self.iface);
        let ours = |a: IpAddr| self.linux.values().any(|v| v.conf.addrs.iter().any(|x| x.addr == a));
        self.src4 = v4.iter().copied().find(|a| !ours(IpAddr::V4(*a)));
        let ll = v6.iter().copied().find(|a| a.segments()[0] & 0xffc0 == 0xfe80);
        self.src6 = ll.or_else(|| v6.iter().copied().find(|a| !ours(IpAddr::V6(*a))));
    }

    /// Create the vhids from the command line (SET, then attach every address, then the
    /// optional administrative state), draining after every step.
    pub fn configure(&mut self, cfg: &Config, manage_addrs: bool) -> io::Result<()> {
        let now = sys::now();
        for c in &cfg.vhids {
            let vhid = c.req.vhid;
            let mut req = c.req;
            req.state = None;
            self.table
                .set(now, &req, random_u64(), &self.sys)
                .map_err(|e| io::Error::other(format!("vhid {vhid}: {e:?}")))?;
            let vif = if manage_addrs {
                Some(VirtualIf::create(&self.iface, vhid, carp_proto::virtual_mac(vhid))?)
            } else {
                None
            };
            self.linux.insert(vhid, VhidLinux { conf: c.clone(), vif });
            for a in &c.addrs {
                self.table
                    .attach(now, vhid, a.addr, &self.sys)
                    .map_err(|e| io::Error::other(format!("vhid {vhid}: add {}: {e:?}", a.addr)))?;
                self.drain(vhid, now);
            }
            if let Some(s) = c.req.state {
                if let Some(v) = self.table.get_mut(vhid) {
                    v.force_state(now, s, &self.sys);
                }
                self.drain(vhid, now);
            }
        }
        self.refresh_sources();
        Ok(())
    }

    fn vhid_list(&self) -> Vec<u8> {
        self.table.iter().map(|v| v.vhid()).collect()
    }

    /// Drain every vhid.
    pub fn drain_all(&mut self, now: Instant) {
        for v in self.vhid_list() {
            self.drain(v, now);
        }
    }

    /// Drain one vhid's outputs in the core's order: events, transmits, routes.
    pub fn drain(&mut self, vhid: u8, now: Instant) {
        let mut demoted = false;
        while let Some(ev) = self.table.get_mut(vhid).and_then(|v| v.poll_event()) {
            match ev {
                Event::StateChanged(c) => say(c),
                Event::DemotionChanged(c) => {
                    self.sys.demotion = c.value;
                    say(c);
                    demoted = true;
                }
            }
        }
        self.transmit_all(vhid);
        while let Some(op) = self.table.get_mut(vhid).and_then(|v| v.poll_route()) {
            self.route(vhid, op);
        }
        if demoted {
            self.demotion_changed(now);
        }
    }

    /// FreeBSD's send-all task after a demotion change: every MASTER advertises now.
    pub fn demotion_changed(&mut self, now: Instant) {
        self.sys.demotion = self.demotion.value();
        self.table.handle_demotion_change(now);
        self.drain_all(now);
    }

    fn transmit_all(&mut self, vhid: u8) {
        loop {
            let mut buf = [0u8; 1600];
            let ident = self.ip_ident;
            let (hw, s4, s6, dscp) = (self.hwaddr, self.src4, self.src6, self.sys.dscp);
            let Some(v) = self.table.get_mut(vhid) else { return };
            let (built, family) = {
                let Some(t) = v.poll_transmit() else { break };
                (tx::build(&t, &mut buf, hw, s4, s6, dscp, ident), t.advert_family())
            };
            self.ip_ident = self.ip_ident.wrapping_add(1);
            let res = match &built {
                Ok(b) => match b.unicast {
                    None => self.sock.send(&buf[..b.len]),
                    Some(dst) => tx::send_raw(self.raw4.as_ref(), self.raw6.as_ref(), &buf[..b.len], dst),
                },
                Err(e) => Err(io::Error::other(e.clone())),
            };
            if let Err(e) = &res {
                eprintln!("carpd: vhid {vhid}: send: {e}");
            }
            if let Some(f) = family {
                let r = match res {
                    Ok(()) => SendResult::Sent,
                    Err(e) => SendResult::Error(e.raw_os_error().unwrap_or(libc::EIO)),
                };
                if let Some(v) = self.table.get_mut(vhid) {
                    v.handle_send_result(f, r, &self.sys, &mut self.stats);
                }
            }
        }
    }

    /// Routes follow MASTER: on Linux that means the addresses themselves are put on the
    /// vhid's macvlan (Add) or taken off (Delete).
    fn route(&mut self, vhid: u8, op: RouteOp) {
        let Some(l) = self.linux.get_mut(&vhid) else { return };
        let Some(vif) = l.vif.as_mut() else { return };
        for a in &l.conf.addrs {
            let r = match op {
                RouteOp::Add => vif.add(a.addr, a.prefix),
                RouteOp::Delete => vif.del(a.addr),
            };
            if let Err(e) = r {
                eprintln!("carpd: {e}");
            }
        }
    }

    /// The earliest deadline of all vhids.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.table.poll_timeout()
    }

    /// Run every expired timer, then drain.
    pub fn handle_timeouts(&mut self, now: Instant) {
        if self.table.poll_timeout().is_some_and(|t| t <= now) {
            self.table.handle_timeout(now, &self.sys);
            self.drain_all(now);
        }
    }

    /// Parent link state changed (polled from sysfs).
    pub fn check_link(&mut self, now: Instant) {
        let up = sys::link_up(&self.iface);
        if up == self.link_up {
            return;
        }
        self.link_up = up;
        self.table.handle_parent(now, true, up, &self.sys);
        self.drain_all(now);
        self.refresh_sources();
    }

    /// A runtime command from the control FIFO: the words of ifconfig/sysctl.
    ///   `vhid N state master|backup`, `vhid N advskew S`, `vhid N advbase B`, ...
    ///   `demotion ADJ` (added, as the sysctl does), `preempt 0|1`
    pub fn command(&mut self, line: &str, now: Instant) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["demotion", adj] => match adj.parse::<i32>() {
                Ok(a) => {
                    let c = self.demotion.adjust(a, DemotionReason::Sysctl);
                    say(c);
                    self.demotion_changed(now);
                }
                Err(_) => eprintln!("carpd: bad demotion {adj}"),
            },
            ["preempt", v] => self.sys.preempt = *v == "1",
            ["vhid", n, rest @ ..] => {
                let Some(vhid) = n.parse::<u8>().ok().filter(|n| self.table.get(*n).is_some()) else {
                    eprintln!("carpd: no vhid {n}");
                    return;
                };
                // Reuse the command-line grammar (it wants an address; none is applied).
                let mut args: Vec<String> = vec![self.iface.clone(), "vhid".into(), n.to_string()];
                args.extend(rest.iter().map(|s| s.to_string()));
                args.push("0.0.0.0".into());
                let c = match crate::cli::parse(&args) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("carpd: {e}");
                        return;
                    }
                };
                let mut req = c.vhids[0].req;
                if let Some(v) = self.table.get(vhid) {
                    req.version = v.version();
                }
                if let Err(e) = self.table.set(now, &req, random_u64(), &self.sys) {
                    eprintln!("carpd: vhid {n}: {e:?}");
                }
                self.drain(vhid, now);
            }
            [] => {}
            _ => eprintln!("carpd: unknown command {line:?}"),
        }
    }

    /// SIGTERM: a MASTER CARP vhid sends the core's hand-off advertisement
    /// (`Vhid::queue_handoff`: advbase 255, advskew 255, FreeBSD 9's down path; backups see
    /// "master will time out" and take over at once), then the vhid is shut down and its
    /// addresses removed.
    pub fn shutdown(&mut self) {
        for vhid in self.vhid_list() {
            let queued = self.table.get_mut(vhid).is_some_and(|v| v.queue_handoff());
            if queued {
                self.transmit_all(vhid);
                if !self.quiet {
                    eprintln!("carpd: vhid {vhid}: hand-off advertisement sent (advbase 255 advskew 255)");
                }
            }
            if let Some(v) = self.table.get_mut(vhid) {
                v.shutdown();
                while v.poll_event().is_some() {}
            }
            if let Some(vif) = self.linux.get_mut(&vhid).and_then(|l| l.vif.as_mut()) {
                vif.del_all();
            }
        }
    }

    pub fn sock_fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }
}

//! `carpd`: a Linux userland CARP/VRRPv3 node built on carp-proto, for interop tests,
//! benchmarks and demos (not the product: that is carp.ko).
//!
//! ```text
//! carpd [preempt] [demotion N] [arpbalance] [dscp N] [control FIFO] [rtprio N] [-q] [-v] [noaddrs]
//!       IFACE vhid N [advbase B] [advskew S] [pass P] [peer A] [peer6 A] [mcast] [mcast6]
//!             [carpver 2|3] [vrrpprio P] [vrrpinterval CS] [state master|backup] ADDR[/LEN]...
//!             [vhid M ...]...
//! ```
//!
//! Prints every state change as `carp: <vhid>@<iface>: <OLD> -> <NEW> (<reason>)`, flushed.
//! SIGTERM/SIGINT: a MASTER sends the hand-over advertisement, addresses are removed, exit 0.

use carpd::node::Node;
use carpd::sys;
use std::time::Duration;

const LINK_POLL: Duration = Duration::from_millis(200);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match carpd::cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("carpd: {e}");
            std::process::exit(64);
        }
    };
    if let Err(e) = run(&cfg) {
        eprintln!("carpd: {e}");
        std::process::exit(1);
    }
}

fn run(cfg: &carpd::cli::Config) -> std::io::Result<()> {
    sys::precise_timers();
    if let Some(p) = cfg.rtprio {
        if let Err(e) = sys::realtime(p) {
            eprintln!("carpd: rtprio {p}: {e} (continuing without)");
        }
    }
    let signals = sys::Signals::new()?;
    let mut control = match &cfg.control {
        Some(p) => Some(sys::Control::open(p)?),
        None => None,
    };
    let mut node = Node::new(cfg)?;
    node.configure(cfg, !cfg.no_addrs)?;
    if !cfg.quiet {
        eprintln!(
            "carpd: {} ({:02x?}) src {:?} / {:?}: {} vhid(s)",
            cfg.iface,
            node.hwaddr,
            node.src4,
            node.src6,
            cfg.vhids.len()
        );
    }
    let mut buf = vec![0u8; 65536];
    let mut next_link = sys::now().saturating_add(LINK_POLL);
    loop {
        let now = sys::now();
        node.handle_timeouts(now);
        if now >= next_link {
            node.check_link(now);
            next_link = now.saturating_add(LINK_POLL);
        }
        let deadline = match node.next_deadline() {
            Some(d) if d < next_link => d,
            _ => next_link,
        };
        let mut fds = vec![node.sock_fd(), std::os::fd::AsRawFd::as_raw_fd(&signals)];
        if let Some(c) = &control {
            fds.push(std::os::fd::AsRawFd::as_raw_fd(c));
        }
        let ready = sys::wait(&fds, Some(deadline))?;
        if ready[0] {
            while let Some((n, kind, age)) = node.sock.recv(&mut buf)? {
                // The frame's arrival time: timers start there, as in a kernel.
                let age_us = u64::try_from(age.as_micros()).unwrap_or(0);
                let now = carp_proto::Instant::from_micros(sys::now().as_micros().saturating_sub(age_us));
                node.receive(&buf[..n], kind, now);
            }
        }
        if ready[1] {
            while let Some(sig) = signals.read() {
                if sig == libc::SIGUSR1 {
                    node.print_status();
                    continue;
                }
                node.shutdown();
                return Ok(());
            }
        }
        if ready.get(2).copied().unwrap_or(false) {
            if let Some(c) = control.as_mut() {
                for line in c.lines() {
                    node.command(&line, sys::now());
                }
            }
        }
    }
}

//! The command line of `carpd`: the words of FreeBSD's ifconfig.
//!
//! ```text
//! carpd [global...] IFACE vhid N [vhid-option...] ADDR[/LEN]... [vhid M ...]...
//!
//! vhid options:  advbase B | advskew S | pass P | peer A | peer6 A | mcast | mcast6
//!                carpver 2|3 | vrrpprio P | vrrpinterval CS | state master|backup
//! globals:       preempt | demotion N | arpbalance | dscp N | control FIFO | -q
//!                (globals may appear anywhere; they are net.inet.carp sysctls or process options)
//! ```
//!
//! Every value is validated with the same bounds FreeBSD's configuration paths apply; the
//! result is one [`SetRequest`] per vhid (the core's own record) plus its addresses.

use carp_proto::{
    CarpState, SetRequest, Version, CARP_GROUP_V4, CARP_GROUP_V6, CARP_KEY_LEN, VRRP_MAX_INTERVAL_CS,
};
use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// One address of a vhid with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VhidAddr {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// One `vhid N ...` group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhidConf {
    pub req: SetRequest,
    pub addrs: Vec<VhidAddr>,
}

/// Everything on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub iface: String,
    pub vhids: Vec<VhidConf>,
    /// `net.inet.carp.preempt`.
    pub preempt: bool,
    /// Initial `net.inet.carp.demotion` (added, like the sysctl).
    pub demotion: i32,
    /// `net.inet.carp.arpbalance` (legacy ARP load balancing).
    pub arpbalance: bool,
    /// `net.inet.carp.dscp`.
    pub dscp: Option<u8>,
    /// A FIFO read for runtime commands (see `control` in main.rs).
    pub control: Option<PathBuf>,
    /// Don't print anything but state changes.
    pub quiet: bool,
    /// Log every dropped advertisement (`log 2`).
    pub verbose: bool,
    /// Run with SCHED_FIFO at this priority and locked memory (precise timing under load).
    pub rtprio: Option<u8>,
    /// Don't touch interfaces/addresses (no macvlan, no `ip addr`): protocol only.
    pub no_addrs: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

fn err<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError(msg.into()))
}

pub const USAGE: &str = "usage: carpd [preempt] [demotion N] [arpbalance] [dscp N] [control FIFO] [rtprio N] [-q] [-v] [noaddrs]
             IFACE vhid N [advbase B] [advskew S] [pass P] [peer A] [peer6 A] [mcast] [mcast6]
             [carpver 2|3] [vrrpprio P] [vrrpinterval CS] [state master|backup] ADDR[/LEN]...
             [vhid M ...]...";

fn num<T: core::str::FromStr>(word: &str, what: &str, v: Option<&String>) -> Result<T, CliError> {
    let Some(v) = v else { return err(format!("{word}: missing {what}")) };
    v.parse::<T>().map_err(|_| CliError(format!("{word}: bad {what} {v:?}")))
}

fn new_request(vhid: u8) -> SetRequest {
    SetRequest {
        vhid,
        state: None,
        advbase: None,
        advskew: None,
        key: None,
        peer4: None,
        peer6: None,
        version: Version::Carp,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    }
}

/// Parse `ADDR` or `ADDR/LEN`; the default length is /32 or /128 (FreeBSD's ifconfig uses
/// the classful/host default too; only the address itself matters to CARP).
pub fn parse_addr(w: &str) -> Option<VhidAddr> {
    let (a, len) = match w.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (w, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = len.unwrap_or(max);
    if prefix > max {
        return None;
    }
    Some(VhidAddr { addr, prefix })
}

/// Parse argv (without the program name).
pub fn parse(args: &[String]) -> Result<Config, CliError> {
    let mut cfg = Config {
        iface: String::new(),
        vhids: Vec::new(),
        preempt: false,
        demotion: 0,
        arpbalance: false,
        dscp: None,
        control: None,
        quiet: false,
        verbose: false,
        rtprio: None,
        no_addrs: false,
    };
    let mut it = args.iter().peekable();
    let mut cur: Option<VhidConf> = None;
    while let Some(w) = it.next() {
        match w.as_str() {
            "-h" | "--help" | "help" => return err(USAGE),
            "preempt" => cfg.preempt = true,
            "-preempt" => cfg.preempt = false,
            "arpbalance" => cfg.arpbalance = true,
            "-q" => cfg.quiet = true,
            "-v" | "log2" => cfg.verbose = true,
            "noaddrs" => cfg.no_addrs = true,
            "demotion" => cfg.demotion = num(w, "demotion", it.next())?,
            "dscp" => {
                let d: u8 = num(w, "dscp", it.next())?;
                if d > 63 {
                    return err("dscp: must be 0..63");
                }
                cfg.dscp = Some(d);
            }
            "rtprio" => {
                let p: u8 = num(w, "priority", it.next())?;
                if !(1..=99).contains(&p) {
                    return err("rtprio: must be 1..99");
                }
                cfg.rtprio = Some(p);
            }
            "control" => {
                let Some(p) = it.next() else { return err("control: missing path") };
                cfg.control = Some(PathBuf::from(p));
            }
            "vhid" => {
                if cfg.iface.is_empty() {
                    return err("vhid before the interface name");
                }
                if let Some(c) = cur.take() {
                    finish(&mut cfg, c)?;
                }
                let v: u32 = num(w, "vhid", it.next())?;
                let Ok(v) = u8::try_from(v) else { return err("vhid: must be 1..255") };
                if v == 0 {
                    return err("vhid: must be 1..255");
                }
                cur = Some(VhidConf { req: new_request(v), addrs: Vec::new() });
            }
            _ => {
                let Some(c) = cur.as_mut() else {
                    if cfg.iface.is_empty() && !w.starts_with('-') {
                        cfg.iface = w.clone();
                        continue;
                    }
                    return err(format!("unexpected word {w:?} (expected `vhid N`)\n{USAGE}"));
                };
                vhid_word(c, w, &mut it)?;
            }
        }
    }
    if let Some(c) = cur.take() {
        finish(&mut cfg, c)?;
    }
    if cfg.iface.is_empty() {
        return err(USAGE);
    }
    if cfg.vhids.is_empty() {
        return err(format!("no vhid given\n{USAGE}"));
    }
    Ok(cfg)
}

fn vhid_word<'a, I: Iterator<Item = &'a String>>(
    c: &mut VhidConf,
    w: &str,
    it: &mut I,
) -> Result<(), CliError> {
    let r = &mut c.req;
    match w {
        "advbase" => {
            let b: u32 = num(w, "seconds", it.next())?;
            match u8::try_from(b) {
                Ok(b) if b >= 1 => r.advbase = Some(b),
                _ => return err("advbase: must be 1..255"),
            }
        }
        "advskew" => {
            let s: u32 = num(w, "skew", it.next())?;
            match u8::try_from(s) {
                Ok(s) if s <= 254 => r.advskew = Some(s),
                _ => return err("advskew: must be 0..254"),
            }
        }
        "pass" => {
            let Some(p) = it.next() else { return err("pass: missing password") };
            // ifconfig copies at most 19 characters (strlcpy into 20 bytes).
            let mut key = [0u8; CARP_KEY_LEN];
            for (k, b) in key.iter_mut().zip(p.bytes().take(CARP_KEY_LEN - 1)) {
                *k = b;
            }
            r.key = Some(key);
        }
        "peer" => {
            let a: Ipv4Addr = num(w, "IPv4 address", it.next())?;
            r.peer4 = Some(a);
        }
        "peer6" => {
            let a: Ipv6Addr = num(w, "IPv6 address", it.next())?;
            r.peer6 = Some(a);
        }
        "mcast" => r.peer4 = Some(CARP_GROUP_V4),
        "mcast6" => r.peer6 = Some(CARP_GROUP_V6),
        "carpver" => {
            let v: u32 = num(w, "version", it.next())?;
            r.version = match v {
                2 => Version::Carp,
                3 => Version::Vrrp3,
                _ => return err("carpver: must be 2 or 3"),
            };
        }
        "vrrpprio" => {
            let p: u32 = num(w, "priority", it.next())?;
            match u8::try_from(p) {
                Ok(p) if p >= 1 => r.vrrp_priority = Some(p),
                _ => return err("vrrpprio: must be 1..255"),
            }
        }
        "vrrpinterval" => {
            let i: u32 = num(w, "interval", it.next())?;
            match u16::try_from(i) {
                Ok(i) if (1..=VRRP_MAX_INTERVAL_CS).contains(&i) => r.vrrp_interval_cs = Some(i),
                _ => return err("vrrpinterval: must be 1..4095 centiseconds"),
            }
        }
        "state" => {
            let Some(s) = it.next() else { return err("state: missing state") };
            r.state = match s.to_ascii_lowercase().as_str() {
                "master" => Some(CarpState::Master),
                "backup" => Some(CarpState::Backup),
                "init" => None,
                _ => return err(format!("state: unknown state {s:?} (master|backup)")),
            };
        }
        _ => {
            let Some(a) = parse_addr(w) else {
                return err(format!("unknown word or bad address {w:?}\n{USAGE}"));
            };
            if !c.addrs.contains(&a) {
                c.addrs.push(a);
            }
        }
    }
    Ok(())
}

fn finish(cfg: &mut Config, c: VhidConf) -> Result<(), CliError> {
    if cfg.vhids.iter().any(|o| o.req.vhid == c.req.vhid) {
        return err(format!("vhid {} given twice", c.req.vhid));
    }
    if c.addrs.is_empty() {
        return err(format!("vhid {}: no address", c.req.vhid));
    }
    cfg.vhids.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Config, CliError> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&v)
    }

    #[test]
    fn ifconfig_words() {
        let c = p("eth0 vhid 42 advbase 1 advskew 100 pass s3cretpw 10.99.0.100/24 preempt").unwrap();
        assert_eq!(c.iface, "eth0");
        assert!(c.preempt);
        let v = &c.vhids[0];
        assert_eq!(v.req.vhid, 42);
        assert_eq!(v.req.advbase, Some(1));
        assert_eq!(v.req.advskew, Some(100));
        assert_eq!(&v.req.key.unwrap()[..9], b"s3cretpw\0");
        assert_eq!(v.addrs, vec![VhidAddr { addr: "10.99.0.100".parse().unwrap(), prefix: 24 }]);
    }

    #[test]
    fn several_vhids_and_vrrp() {
        let c = p("eth0 vhid 1 10.0.0.1 fd00::1/64 vhid 2 carpver 3 vrrpprio 200 vrrpinterval 1 10.0.0.2")
            .unwrap();
        assert_eq!(c.vhids.len(), 2);
        assert_eq!(c.vhids[0].addrs.len(), 2);
        assert_eq!(c.vhids[1].req.version, Version::Vrrp3);
        assert_eq!(c.vhids[1].req.vrrp_priority, Some(200));
        assert_eq!(c.vhids[1].req.vrrp_interval_cs, Some(1));
    }

    #[test]
    fn long_password_truncated_to_19() {
        let c = p("eth0 vhid 1 pass 0123456789abcdefghijKL 10.0.0.1").unwrap();
        let k = c.vhids[0].req.key.unwrap();
        assert_eq!(&k[..19], b"0123456789abcdefghi");
        assert_eq!(k[19], 0);
    }

    #[test]
    fn errors() {
        assert!(p("eth0 vhid 0 10.0.0.1").is_err());
        assert!(p("eth0 vhid 256 10.0.0.1").is_err());
        assert!(p("eth0 vhid 1").is_err());
        assert!(p("eth0 vhid 1 advbase 0 10.0.0.1").is_err());
        assert!(p("eth0 vhid 1 advskew 255 10.0.0.1").is_err());
        assert!(p("eth0 vhid 1 vrrpinterval 4096 10.0.0.1").is_err());
        assert!(p("eth0 vhid 1 bogus").is_err());
        assert!(p("eth0 vhid 1 10.0.0.1 vhid 1 10.0.0.2").is_err());
        assert!(p("eth0 10.0.0.1").is_err());
    }
}

//! The harness's userland: the stock FreeBSD 15 tools an administrator runs, reduced to
//! what they send to the kernel, in the same order and with the same bytes:
//!
//! - `ifconfig`: carp parameters through netlink "carp" (GET then SET, as libifconfig),
//!   run as a callback after the argument pass; addresses through SIOCAIFADDR /
//!   SIOCAIFADDR_IN6 carrying the vhid (the WITHOUT_NETLINK path, which reaches in_control
//!   exactly as the netlink route path does), delete-first without `alias`; `create` and
//!   `destroy` through SIOCIFCREATE2 / SIOCIFDESTROY; `up`/`down` through SIOCSIFFLAGS;
//!   `vnet`/`-vnet` moves; status printed as ifconfig prints it;
//! - `sysctl`, `netstat -s [-z] -p carp`, `kldload`, `kldunload`, `kldstat`;
//! - raw tools for the error tests: `ioctl SIOCSVH|SIOCGVH ...` with a struct carpreq of
//!   chosen values (or a bad user pointer), `netlink ...` with chosen attributes.
//!
//! Every argument buffer of an ioctl lives in "user memory" (registered with the kernel,
//! so copyin/copyout work on it and any other pointer gets EFAULT).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::kapi;
use crate::nl::{self, CarpInfo};

/// The process context of a command: its jail (VNET) and whether it runs as root.
#[derive(Clone)]
pub struct Proc {
    pub vnet: String,
    pub user: bool,
}

/// A command's result: exit status, the errno behind a failure, and its stdout.
#[derive(Default, Debug, Clone)]
pub struct Out {
    pub status: i32,
    pub errno: i32,
    pub text: String,
}

impl Out {
    fn ok(text: String) -> Out {
        Out { status: 0, errno: 0, text }
    }
    fn err(errno: i32, msg: String) -> Out {
        Out { status: 1, errno, text: msg }
    }
}

pub fn abi(name: &str) -> i64 {
    let c = kapi::cstr(name);
    // SAFETY: a lookup in a constant table of the kernel.
    unsafe { hk_abi(c.as_ptr()) }
}

extern "C" {
    fn hk_abi(name: *const std::ffi::c_char) -> i64;
}

/// A buffer in the simulated process's memory.
pub struct UserBuf {
    pub data: Vec<u8>,
}

impl UserBuf {
    pub fn new(len: usize) -> UserBuf {
        let b = UserBuf { data: vec![0u8; len.max(1)] };
        // SAFETY: registering our own buffer; it stays alive until drop unregisters it.
        unsafe { kapi::hk_user_map(b.data.as_ptr().cast(), b.data.len() as _) };
        b
    }
    pub fn ptr(&mut self) -> *mut u8 {
        self.data.as_mut_ptr()
    }
}

impl Drop for UserBuf {
    fn drop(&mut self) {
        // SAFETY: unregistering our own buffer.
        unsafe { kapi::hk_user_unmap(self.data.as_ptr().cast()) };
    }
}

pub fn errno_name(e: i32) -> String {
    let n = match e {
        0 => "0",
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        12 => "ENOMEM",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        25 => "ENOTTY",
        28 => "ENOSPC",
        35 => "EWOULDBLOCK",
        40 => "EMSGSIZE",
        41 => "EPROTOTYPE",
        42 => "ENOPROTOOPT",
        43 => "EPROTONOSUPPORT",
        45 => "EOPNOTSUPP",
        47 => "EAFNOSUPPORT",
        49 => "EADDRNOTAVAIL",
        50 => "ENETDOWN",
        51 => "ENETUNREACH",
        55 => "ENOBUFS",
        65 => "EHOSTUNREACH",
        78 => "ENOSYS",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

pub fn errno_value(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Some(n);
    }
    (0..100).find(|&e| errno_name(e) == s)
}

/// Under fault injection every system call that fails must leave the kernel as it
/// found it: the snapshot before a call, compared after it when it failed. Violations
/// are collected here for the script to report.
pub static FAULT_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
pub static FAILED_CALL_CHANGES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

pub fn guard_before() -> Option<String> {
    FAULT_MODE.load(std::sync::atomic::Ordering::Relaxed).then(|| kapi::snapshot(None))
}

pub fn guard_after(before: Option<String>, err: i32, what: &str) {
    let Some(before) = before else { return };
    if err == 0 {
        return;
    }
    let after = kapi::snapshot(None);
    if what == "ioctl SIOCAIFADDR_IN6" {
        // in6_addifaddr (FreeBSD 15) keeps the new address when carp_attach fails: only
        // a CARP binding left behind is the module's doing.
        if let Some(l) = after.lines().find(|l| l.contains(" vhid=") && !before.lines().any(|b| b == *l)) {
            if let Ok(mut v) = FAILED_CALL_CHANGES.lock() {
                v.push(format!("{what} failed ({}) and left a CARP binding: \"{l}\"", errno_name(err)));
            }
        }
        return;
    }
    if let Some(d) = crate::script::snapshot_diff(&before, &after) {
        if let Ok(mut v) = FAILED_CALL_CHANGES.lock() {
            v.push(format!("{what} failed ({}) and left a change behind: {d}", errno_name(err)));
        }
    }
}

/// ioctl(2) on an AF_INET (or AF_INET6) socket, with `arg` as the user argument.
pub fn ioctl(p: &Proc, af: i32, cmd: &str, arg: &mut UserBuf) -> i32 {
    let v = kapi::cstr(&p.vnet);
    let c = abi(cmd) as u64;
    let g = guard_before();
    // SAFETY: arg is registered user memory; the kernel copies in and out of it.
    let e = unsafe { kapi::hk_ioctl(v.as_ptr(), af, c as _, arg.ptr().cast(), i32::from(p.user)) };
    guard_after(g, e, &format!("ioctl {cmd}"));
    e
}

fn ifreq(name: &str) -> UserBuf {
    let mut b = UserBuf::new(abi("sizeof(struct ifreq)") as usize);
    let n = name.as_bytes();
    b.data[..n.len().min(15)].copy_from_slice(&n[..n.len().min(15)]);
    b
}

fn sin(a: Ipv4Addr) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[0] = 16;
    s[1] = 2;
    s[4..8].copy_from_slice(&a.octets());
    s
}

fn sin6(a: Ipv6Addr) -> [u8; 28] {
    let mut s = [0u8; 28];
    s[0] = 28;
    s[1] = 28; // AF_INET6 on FreeBSD
    s[8..24].copy_from_slice(&a.octets());
    s
}

const AF_INET: i32 = 2;
const AF_INET6: i32 = 28;

fn prefix_mask4(plen: u32) -> Ipv4Addr {
    Ipv4Addr::from(if plen == 0 { 0 } else { u32::MAX << (32 - plen.min(32)) })
}

fn prefix_mask6(plen: u32) -> Ipv6Addr {
    let v: u128 = if plen == 0 { 0 } else { u128::MAX << (128 - plen.min(128)) };
    Ipv6Addr::from(v)
}

/// SIOCAIFADDR with ifra_vhid.
pub fn add_inet(p: &Proc, ifname: &str, addr: Ipv4Addr, plen: Option<u32>, vhid: i32) -> i32 {
    let mut b = UserBuf::new(abi("sizeof(struct in_aliasreq)") as usize);
    let n = ifname.as_bytes();
    b.data[..n.len().min(15)].copy_from_slice(&n[..n.len().min(15)]);
    let o = abi("in_aliasreq.ifra_addr") as usize;
    b.data[o..o + 16].copy_from_slice(&sin(addr));
    if let Some(pl) = plen {
        let o = abi("in_aliasreq.ifra_mask") as usize;
        b.data[o..o + 16].copy_from_slice(&sin(prefix_mask4(pl)));
    }
    let o = abi("in_aliasreq.ifra_vhid") as usize;
    b.data[o..o + 4].copy_from_slice(&vhid.to_le_bytes());
    ioctl(p, AF_INET, "SIOCAIFADDR", &mut b)
}

/// SIOCDIFADDR of one address (None: the first one, as ifconfig's delete-first).
pub fn del_inet(p: &Proc, ifname: &str, addr: Option<Ipv4Addr>) -> i32 {
    let mut b = ifreq(ifname);
    if let Some(a) = addr {
        b.data[16..32].copy_from_slice(&sin(a));
    }
    ioctl(p, AF_INET, "SIOCDIFADDR", &mut b)
}

/// SIOCAIFADDR_IN6 with ifra_vhid (infinite lifetimes, as ifconfig sets them).
pub fn add_inet6(p: &Proc, ifname: &str, addr: Ipv6Addr, plen: u32, vhid: i32, nodad: bool) -> i32 {
    let mut b = UserBuf::new(abi("sizeof(struct in6_aliasreq)") as usize);
    let n = ifname.as_bytes();
    b.data[..n.len().min(15)].copy_from_slice(&n[..n.len().min(15)]);
    let o = abi("in6_aliasreq.ifra_addr") as usize;
    b.data[o..o + 28].copy_from_slice(&sin6(addr));
    let o = abi("in6_aliasreq.ifra_prefixmask") as usize;
    b.data[o..o + 28].copy_from_slice(&sin6(prefix_mask6(plen)));
    if nodad {
        let o = abi("in6_aliasreq.ifra_flags") as usize;
        b.data[o..o + 4].copy_from_slice(&(abi("IN6_IFF_NODAD") as i32).to_le_bytes());
    }
    let o = abi("in6_aliasreq.ifra_lifetime") as usize;
    let inf = abi("ND6_INFINITE_LIFETIME") as u32;
    // struct in6_addrlifetime { time_t expire; time_t preferred; u32 vltime; u32 pltime; }
    b.data[o + 16..o + 20].copy_from_slice(&inf.to_le_bytes());
    b.data[o + 20..o + 24].copy_from_slice(&inf.to_le_bytes());
    let o = abi("in6_aliasreq.ifra_vhid") as usize;
    b.data[o..o + 4].copy_from_slice(&vhid.to_le_bytes());
    ioctl(p, AF_INET6, "SIOCAIFADDR_IN6", &mut b)
}

pub fn del_inet6(p: &Proc, ifname: &str, addr: Ipv6Addr) -> i32 {
    let mut b = UserBuf::new(abi("sizeof(struct in6_ifreq)") as usize);
    let n = ifname.as_bytes();
    b.data[..n.len().min(15)].copy_from_slice(&n[..n.len().min(15)]);
    let o = abi("in6_ifreq.ifr_addr") as usize;
    b.data[o..o + 28].copy_from_slice(&sin6(addr));
    ioctl(p, AF_INET6, "SIOCDIFADDR_IN6", &mut b)
}

fn get_flags(p: &Proc, ifname: &str) -> Result<i32, i32> {
    let mut b = ifreq(ifname);
    let e = ioctl(p, AF_INET, "SIOCGIFFLAGS", &mut b);
    if e != 0 {
        return Err(e);
    }
    let lo = i32::from(u16::from_le_bytes([b.data[16], b.data[17]]));
    let hi = i32::from(u16::from_le_bytes([b.data[18], b.data[19]]));
    Ok(lo | (hi << 16))
}

fn set_flags(p: &Proc, ifname: &str, up: bool) -> i32 {
    let flags = match get_flags(p, ifname) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let iff_up = abi("IFF_UP") as i32;
    let nf = if up { flags | iff_up } else { flags & !iff_up };
    let mut b = ifreq(ifname);
    b.data[16..18].copy_from_slice(&((nf & 0xffff) as u16).to_le_bytes());
    b.data[18..20].copy_from_slice(&(((nf >> 16) & 0xffff) as u16).to_le_bytes());
    ioctl(p, AF_INET, "SIOCSIFFLAGS", &mut b)
}

fn parse_v4_prefix(s: &str) -> Option<(Ipv4Addr, Option<u32>)> {
    match s.split_once('/') {
        Some((a, l)) => Some((a.parse().ok()?, Some(l.parse().ok()?))),
        None => Some((s.parse().ok()?, None)),
    }
}

fn parse_v6_prefix(s: &str) -> Option<(Ipv6Addr, Option<u32>)> {
    let s = s.split('%').next()?;
    match s.split_once('/') {
        Some((a, l)) => Some((a.parse().ok()?, Some(l.parse().ok()?))),
        None => Some((s.parse().ok()?, None)),
    }
}

/// carp.c's pending parameters.
#[derive(Default)]
struct CarpArgs {
    vhid: i32,
    advskew: i32,
    advbase: i32,
    state: i32,
    pass: Option<String>,
    peer: Option<Ipv4Addr>,
    peer6: Option<Ipv6Addr>,
    version: u8,
    prio: u8,
    interval: u16,
    any: bool,
}

pub const CARP_STATES: [&str; 3] = ["INIT", "BACKUP", "MASTER"];

fn carp_status(p: &Proc, ifname: &str) -> String {
    let r = nl::carp_get(&p.vnet, p.user, ifname, None, 255);
    let mut s = String::new();
    for c in &r.entries {
        let st = CARP_STATES.get(c.state as usize).copied().unwrap_or("?");
        match c.version {
            2 => {
                s.push_str(&format!("\tcarp: {st} vhid {} advbase {} advskew {}\n", c.vhid, c.advbase, c.advskew));
                s.push_str(&format!(
                    "\t      peer {} peer6 {}\n",
                    Ipv4Addr::from(c.addr),
                    Ipv6Addr::from(c.addr6)
                ));
            }
            3 => s.push_str(&format!("\tvrrp: {st} vrid {} prio {} interval {}\n", c.vhid, c.vrrp_prio, c.vrrp_adv_inter)),
            _ => {}
        }
    }
    s
}

fn if_status(p: &Proc, ifname: &str) -> Result<String, i32> {
    let snap = kapi::snapshot(Some(&p.vnet));
    let mut out = String::new();
    let mut found = false;
    for line in snap.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 3 || w[2] != ifname {
            continue;
        }
        match w[0] {
            "if" => {
                found = true;
                let kv = |k: &str| w.iter().find_map(|x| x.strip_prefix(k)).unwrap_or("").to_string();
                out.push_str(&format!("{ifname}: flags=<{}> link {}\n", kv("flags="), kv("link=")));
                let e = kv("ether=");
                if e != "-" && !e.is_empty() {
                    out.push_str(&format!("\tether {e}\n"));
                }
            }
            "inet" => {
                let (a, plen) = parse_v4_prefix(w[3]).unwrap_or((Ipv4Addr::UNSPECIFIED, Some(0)));
                let mask = u32::from(prefix_mask4(plen.unwrap_or(32)));
                out.push_str(&format!("\tinet {a} netmask {mask:#010x}"));
                if let Some(v) = w.iter().find_map(|x| x.strip_prefix("vhid=")) {
                    out.push_str(&format!(" vhid {v}"));
                }
                out.push('\n');
            }
            "inet6" => {
                out.push_str(&format!("\tinet6 {}", w[3].replace('/', " prefixlen ")));
                for x in &w[4..] {
                    if let Some(v) = x.strip_prefix("vhid=") {
                        out.push_str(&format!(" vhid {v}"));
                    } else {
                        out.push_str(&format!(" {x}"));
                    }
                }
                out.push('\n');
            }
            _ => {}
        }
    }
    if !found {
        return Err(6);
    }
    out.push_str(&carp_status(p, ifname));
    Ok(out)
}

fn ifconfig(p: &Proc, args: &[String]) -> Out {
    if args.is_empty() || args[0] == "-a" {
        let snap = kapi::snapshot(Some(&p.vnet));
        let mut out = String::new();
        for l in snap.lines().filter(|l| l.starts_with("if ")) {
            if let Some(name) = l.split_whitespace().nth(2) {
                if let Ok(s) = if_status(p, name) {
                    out.push_str(&s);
                }
            }
        }
        return Out::ok(out);
    }
    let mut ifname = args[0].clone();
    let mut i = 1;
    let mut out = String::new();
    // Cloning first: `ifconfig carp create` / `ifconfig carp0 create`.
    if args.get(1).map(String::as_str) == Some("create") {
        let mut b = ifreq(&ifname);
        let e = ioctl(p, AF_INET, "SIOCIFCREATE2", &mut b);
        if e != 0 {
            return Out::err(e, format!("ifconfig: SIOCIFCREATE2 ({ifname}): {}", errno_name(e)));
        }
        let n = b.data.iter().take(16).position(|&c| c == 0).unwrap_or(16);
        let created = String::from_utf8_lossy(&b.data[..n]).into_owned();
        if created != ifname {
            out.push_str(&created);
            out.push('\n');
        }
        ifname = created;
        i = 2;
        if i >= args.len() {
            return Out::ok(out);
        }
    }
    if args.get(1).map(String::as_str) == Some("destroy") {
        let mut b = ifreq(&ifname);
        let e = ioctl(p, AF_INET, "SIOCIFDESTROY", &mut b);
        if e != 0 {
            return Out::err(e, format!("ifconfig: SIOCIFDESTROY: {}", errno_name(e)));
        }
        return Out::ok(out);
    }
    if i >= args.len() {
        return match if_status(p, &ifname) {
            Ok(s) => Out::ok(s),
            Err(e) => Out::err(e, format!("ifconfig: interface {ifname} does not exist")),
        };
    }
    let mut af = AF_INET;
    let mut addr4: Option<(Ipv4Addr, Option<u32>)> = None;
    let mut addr6: Option<(Ipv6Addr, Option<u32>)> = None;
    let mut alias = false;
    let mut delete = false;
    let mut nodad = false;
    let mut carp = CarpArgs { advskew: -1, advbase: -1, state: -1, ..Default::default() };
    let mut vhid_for_addr = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = |i: usize| -> Option<&String> { args.get(i + 1) };
        match a {
            "inet" => af = AF_INET,
            "inet6" => af = AF_INET6,
            "alias" | "add" => alias = true,
            "-alias" | "delete" => delete = true,
            "no_dad" => nodad = true,
            "up" | "down" => {
                let e = set_flags(p, &ifname, a == "up");
                if e != 0 {
                    return Out::err(e, format!("ifconfig: SIOCSIFFLAGS: {}", errno_name(e)));
                }
            }
            "vnet" | "-vnet" => {
                let Some(j) = next(i) else { return Out::err(22, "ifconfig: vnet needs a jail".into()) };
                let (from, to) = if a == "vnet" { (p.vnet.clone(), j.clone()) } else { (j.clone(), "host".to_string()) };
                let (f, n, t) = (kapi::cstr(&from), kapi::cstr(&ifname), kapi::cstr(&to));
                // SAFETY: a kernel call from the script thread.
                let e = unsafe { kapi::hk_if_vmove(f.as_ptr(), n.as_ptr(), t.as_ptr()) };
                if e != 0 {
                    return Out::err(e, format!("ifconfig: SIOCSIFVNET: {}", errno_name(e)));
                }
                i += 1;
            }
            "name" => {
                let Some(newname) = next(i) else { return Out::err(22, "name needs a value".into()) };
                let mut nb = UserBuf::new(16);
                nb.data[..newname.len().min(15)].copy_from_slice(&newname.as_bytes()[..newname.len().min(15)]);
                let mut b = ifreq(&ifname);
                let ptr = nb.ptr() as u64;
                let o = abi("ifreq.ifr_data") as usize;
                b.data[o..o + 8].copy_from_slice(&ptr.to_le_bytes());
                let e = ioctl(p, AF_INET, "SIOCSIFNAME", &mut b);
                if e != 0 {
                    return Out::err(e, format!("ifconfig: ioctl SIOCSIFNAME (set name): {}", errno_name(e)));
                }
                ifname = newname.clone();
                out.push_str(&format!("{ifname}\n"));
                i += 1;
            }
            "mtu" => {
                let v: i32 = next(i).and_then(|s| s.parse().ok()).unwrap_or(0);
                let mut b = ifreq(&ifname);
                b.data[16..20].copy_from_slice(&v.to_le_bytes());
                let e = ioctl(p, AF_INET, "SIOCSIFMTU", &mut b);
                if e != 0 {
                    return Out::err(e, format!("ifconfig: ioctl SIOCSIFMTU (set mtu): {}", errno_name(e)));
                }
                i += 1;
            }
            "vhid" => {
                let v: i32 = next(i).and_then(|s| s.parse().ok()).unwrap_or(0);
                if v <= 0 || v > 255 {
                    return Out::err(22, "ifconfig: vhid must be greater than 0 and less than 255".into());
                }
                carp.vhid = v;
                carp.any = true;
                vhid_for_addr = v;
                i += 1;
            }
            "advskew" | "advbase" | "pass" | "state" | "peer" | "peer6" | "carpver" | "vrrpprio" | "vrrpinterval" => {
                if carp.vhid == 0 {
                    return Out::err(22, format!("ifconfig: {a} requires vhid"));
                }
                let Some(v) = next(i) else { return Out::err(22, format!("ifconfig: {a} needs a value")) };
                match a {
                    "advskew" => carp.advskew = v.parse().unwrap_or(0),
                    "advbase" => carp.advbase = v.parse().unwrap_or(0),
                    "pass" => carp.pass = Some(v.clone()),
                    "state" => {
                        carp.state = match CARP_STATES.iter().position(|s| s.eq_ignore_ascii_case(v)) {
                            Some(s) => s as i32,
                            None => return Out::err(22, "ifconfig: unknown state".into()),
                        }
                    }
                    "peer" => carp.peer = v.parse().ok(),
                    "peer6" => match v.parse() {
                        Ok(a) => carp.peer6 = Some(a),
                        Err(_) => return Out::err(22, format!("ifconfig: Invalid IPv6 address {v}")),
                    },
                    "carpver" => {
                        let n: u8 = v.parse().unwrap_or(0);
                        if n != 2 && n != 3 {
                            return Out::err(22, "ifconfig: version must be 2 or 3".into());
                        }
                        carp.version = n;
                    }
                    "vrrpprio" => carp.prio = v.parse().unwrap_or(0),
                    "vrrpinterval" => {
                        let n: u32 = v.parse().unwrap_or(0);
                        if n == 0 || n > 4095 {
                            return Out::err(22, "ifconfig: vrrpinterval must be greater than 0 and less than 4095".into());
                        }
                        carp.interval = n as u16;
                    }
                    _ => {}
                }
                i += 1;
            }
            "mcast" => carp.peer = Some(Ipv4Addr::new(224, 0, 0, 18)),
            "mcast6" => carp.peer6 = Some("ff02::12".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
            "prefixlen" | "netmask" => {
                let v = next(i).cloned().unwrap_or_default();
                let plen: Option<u32> = if a == "prefixlen" {
                    v.parse().ok()
                } else if let Some(h) = v.strip_prefix("0x") {
                    u32::from_str_radix(h, 16).ok().map(u32::count_ones)
                } else {
                    v.parse::<Ipv4Addr>().ok().map(|m| u32::from(m).count_ones())
                };
                if let Some((_, l)) = addr4.as_mut() {
                    *l = plen;
                }
                if let Some((_, l)) = addr6.as_mut() {
                    *l = plen;
                }
                i += 1;
            }
            _ => {
                if af == AF_INET6 || a.contains(':') {
                    match parse_v6_prefix(a) {
                        Some(x) => addr6 = Some(x),
                        None => return Out::err(22, format!("ifconfig: {a}: bad value")),
                    }
                } else {
                    match parse_v4_prefix(a) {
                        Some(x) => addr4 = Some(x),
                        None => return Out::err(22, format!("ifconfig: {a}: bad value")),
                    }
                }
            }
        }
        i += 1;
    }
    // Callbacks first: the carp parameters (setcarp_callback).
    if carp.any {
        let g = nl::carp_get(&p.vnet, p.user, &ifname, Some(carp.vhid as u32), 1);
        if g.lib_error != 0 && g.lib_error != 2 {
            // libifconfig failed (no carp family...): the callback returns silently.
        } else {
            let mut c: CarpInfo = g.entries.first().cloned().unwrap_or_default();
            c.vhid = carp.vhid as u32;
            if let Some(pw) = &carp.pass {
                // strlcpy(carpr.key, pass, 20)
                c.key = [0; 20];
                let b = pw.as_bytes();
                let n = b.len().min(19);
                c.key[..n].copy_from_slice(&b[..n]);
            }
            if carp.advskew > -1 {
                c.advskew = carp.advskew;
            }
            if carp.advbase > -1 {
                c.advbase = carp.advbase;
            }
            if carp.state > -1 {
                c.state = carp.state as u32;
            }
            if let Some(a) = carp.peer {
                c.addr = a.octets();
            }
            if let Some(a) = carp.peer6 {
                c.addr6 = a.octets();
            }
            if carp.version != 0 {
                c.version = carp.version;
            }
            if carp.prio != 0 {
                c.vrrp_prio = carp.prio;
            }
            if carp.interval != 0 {
                c.vrrp_adv_inter = carp.interval;
            }
            let (e, _, _) = nl::carp_set(&p.vnet, p.user, &ifname, &c);
            if e != 0 {
                return Out::err(e, format!("ifconfig: SIOCSVH: {}", errno_name(e)));
            }
        }
    }
    if let Some((a, plen)) = addr4 {
        if delete {
            let e = del_inet(p, &ifname, Some(a));
            if e != 0 {
                return Out::err(e, format!("ifconfig: ioctl (SIOCDIFADDR): {}", errno_name(e)));
            }
        } else {
            if !alias {
                // clearaddr: the interface's first IPv4 address goes first.
                let mut b = ifreq(&ifname);
                if ioctl(p, AF_INET, "SIOCGIFADDR", &mut b) == 0 {
                    let first = Ipv4Addr::new(b.data[20], b.data[21], b.data[22], b.data[23]);
                    let _ = del_inet(p, &ifname, Some(first));
                }
            }
            let e = add_inet(p, &ifname, a, plen, vhid_for_addr);
            if e != 0 {
                return Out::err(e, format!("ifconfig: ioctl (SIOCAIFADDR): {}", errno_name(e)));
            }
        }
    }
    if let Some((a, plen)) = addr6 {
        let e = if delete { del_inet6(p, &ifname, a) } else { add_inet6(p, &ifname, a, plen.unwrap_or(64), vhid_for_addr, nodad) };
        if e != 0 {
            return Out::err(e, format!("ifconfig: ioctl (SIOC{}IFADDR_IN6): {}", if delete { "D" } else { "A" }, errno_name(e)));
        }
    }
    Out::ok(out)
}

// ---- sysctl ----

fn sysctl_read(p: &Proc, name: &str) -> Result<Vec<u8>, i32> {
    let (v, n) = (kapi::cstr(&p.vnet), kapi::cstr(name));
    let mut buf = vec![0u8; 4096];
    let mut len: std::ffi::c_ulong = buf.len() as _;
    // SAFETY: buf/len describe a writable buffer.
    let e = unsafe { kapi::hk_sysctl(v.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), &mut len, std::ptr::null(), 0, i32::from(p.user)) };
    if e != 0 {
        return Err(e);
    }
    buf.truncate(len as usize);
    Ok(buf)
}

pub fn sysctl_write(p: &Proc, name: &str, val: &[u8]) -> i32 {
    let (v, n) = (kapi::cstr(&p.vnet), kapi::cstr(name));
    let g = guard_before();
    // SAFETY: val is readable for its length.
    let e = unsafe { kapi::hk_sysctl(v.as_ptr(), n.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), val.as_ptr().cast(), val.len() as _, i32::from(p.user)) };
    guard_after(g, e, &format!("sysctl {name}"));
    e
}

fn kind(name: &str) -> Option<(u32, String)> {
    let n = kapi::cstr(name);
    let mut k: std::ffi::c_uint = 0;
    let mut fmt: *const std::ffi::c_char = std::ptr::null();
    // SAFETY: out-parameters of a lookup.
    let e = unsafe { kapi::hk_sysctl_kind(n.as_ptr(), &mut k, &mut fmt) };
    if e != 0 {
        return None;
    }
    Some((k, kapi::from_c(fmt)))
}

fn children(name: &str) -> Vec<String> {
    let n = kapi::cstr(name);
    let mut out = Vec::new();
    for i in 0.. {
        // SAFETY: a lookup; the returned name lives in the kernel (or module) data.
        let c = unsafe { kapi::hk_sysctl_child(n.as_ptr(), i) };
        if c.is_null() {
            break;
        }
        out.push(kapi::from_c(c));
    }
    out
}

/// The value of an integer sysctl.
pub fn sysctl_int(p: &Proc, name: &str) -> Result<i64, i32> {
    let b = sysctl_read(p, name)?;
    match b.len() {
        4 => Ok(i64::from(i32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4])))),
        8 => Ok(i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]))),
        _ => Err(22),
    }
}

/// net.inet.carp.stats as its 16 named counters (struct carpstats).
pub const CARPSTATS: [&str; 16] = [
    "ipackets", "ipackets6", "badif", "badttl", "hdrops", "badsum", "badver", "badlen", "badauth", "badvhid", "badaddrs",
    "opackets", "opackets6", "onomem", "ostates", "preempt",
];

pub fn carpstats(p: &Proc) -> Result<Vec<u64>, i32> {
    let b = sysctl_read(p, "net.inet.carp.stats")?;
    Ok(b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
}

fn sysctl_print(p: &Proc, name: &str, quiet: bool, out: &mut String) -> i32 {
    let Some((k, fmt)) = kind(name) else { return 2 };
    let t = k & abi("CTLTYPE") as u32;
    if t == abi("CTLTYPE_NODE") as u32 {
        let ch = children(name);
        if ch.is_empty() {
            match sysctl_read(p, name) {
                Err(e) => return e,
                Ok(_) => return 0,
            }
        }
        for c in ch {
            let e = sysctl_print(p, &format!("{name}.{c}"), quiet, out);
            if e != 0 && e != 2 {
                return e;
            }
        }
        return 0;
    }
    let v = match sysctl_read(p, name) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let text = if t == abi("CTLTYPE_INT") as u32 && v.len() >= 4 {
        i32::from_le_bytes(v[..4].try_into().unwrap_or([0; 4])).to_string()
    } else if t == abi("CTLTYPE_UINT") as u32 && v.len() >= 4 {
        u32::from_le_bytes(v[..4].try_into().unwrap_or([0; 4])).to_string()
    } else if (t == abi("CTLTYPE_U64") as u32 || t == abi("CTLTYPE_LONG") as u32) && v.len() >= 8 {
        u64::from_le_bytes(v[..8].try_into().unwrap_or([0; 8])).to_string()
    } else {
        format!("Format:{fmt} Length:{} Dump:0x{}...", v.len(), v.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
    };
    if quiet {
        out.push_str(&format!("{text}\n"));
    } else {
        out.push_str(&format!("{name}: {text}\n"));
    }
    0
}

fn sysctl(p: &Proc, args: &[String]) -> Out {
    let mut quiet = false;
    let mut out = String::new();
    let mut status = 0;
    let mut errno = 0;
    for a in args {
        if a == "-n" {
            quiet = true;
            continue;
        }
        if let Some((name, val)) = a.split_once('=') {
            let old = {
                let mut s = String::new();
                let _ = sysctl_print(p, name, true, &mut s);
                s.trim().to_string()
            };
            let Ok(n) = val.parse::<i64>() else {
                return Out::err(22, format!("sysctl: invalid integer '{val}'"));
            };
            let bytes = if kind(name).is_some_and(|(k, _)| {
                let t = k & abi("CTLTYPE") as u32;
                t == abi("CTLTYPE_U64") as u32 || t == abi("CTLTYPE_LONG") as u32
            }) {
                n.to_le_bytes().to_vec()
            } else {
                (n as i32).to_le_bytes().to_vec()
            };
            let e = sysctl_write(p, name, &bytes);
            if e != 0 {
                status = 1;
                errno = e;
                out.push_str(&format!("sysctl: {name}={val}: {}\n", errno_name(e)));
                continue;
            }
            let mut new = String::new();
            let _ = sysctl_print(p, name, true, &mut new);
            out.push_str(&format!("{name}: {old} -> {}\n", new.trim()));
        } else {
            let e = sysctl_print(p, a, quiet, &mut out);
            if e != 0 {
                status = 1;
                errno = e;
                out.push_str(&format!("sysctl: unknown oid '{a}' ({})\n", errno_name(e)));
            }
        }
    }
    Out { status, errno, text: out }
}

fn netstat(p: &Proc, args: &[String]) -> Out {
    let zero = args.iter().any(|a| a == "-z" || a == "-sz" || a == "-zs");
    if !args.windows(2).any(|w| w[0] == "-p" && w[1] == "carp") {
        return Out::err(22, "netstat: only `netstat -s [-z] -p carp` is modelled".into());
    }
    let s = match carpstats(p) {
        Ok(s) => s,
        Err(e) => return Out::err(e, format!("netstat: sysctl: net.inet.carp.stats: {}", errno_name(e))),
    };
    let g = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut o = String::from("carp:\n");
    o.push_str(&format!("\t{} packets received (IPv4)\n", g(0)));
    o.push_str(&format!("\t{} packets received (IPv6)\n", g(1)));
    o.push_str(&format!("\t\t{} packets discarded for wrong TTL\n", g(3)));
    o.push_str(&format!("\t\t{} packets shorter than header\n", g(4)));
    o.push_str(&format!("\t\t{} discarded for bad checksums\n", g(5)));
    o.push_str(&format!("\t\t{} discarded packets with a bad version\n", g(6)));
    o.push_str(&format!("\t\t{} discarded because packet too short\n", g(7)));
    o.push_str(&format!("\t\t{} discarded for bad authentication\n", g(8)));
    o.push_str(&format!("\t\t{} discarded for bad vhid\n", g(9)));
    o.push_str(&format!("\t\t{} discarded because of a bad address list\n", g(10)));
    o.push_str(&format!("\t\t{} discarded for a bad interface\n", g(2)));
    o.push_str(&format!("\t{} packets sent (IPv4)\n", g(11)));
    o.push_str(&format!("\t{} packets sent (IPv6)\n", g(12)));
    o.push_str(&format!("\t\t{} send failed due to mbuf memory error\n", g(13)));
    if zero {
        let e = sysctl_write(p, "net.inet.carp.stats", &[0u8; 128]);
        if e != 0 {
            return Out::err(e, format!("netstat: zeroing: {}", errno_name(e)));
        }
    }
    Out::ok(o)
}

// ---- raw tools ----

/// `ioctl SIOCSVH|SIOCGVH IFNAME [count N] [vhid N] [state N] [advskew N] [advbase N]
/// [key STR] [badptr] [size N]`: a struct carpreq (15 layout) at ifr_data.
fn raw_ioctl(p: &Proc, args: &[String]) -> Out {
    if args.len() < 2 {
        return Out::err(22, "ioctl CMD IFNAME ...".into());
    }
    let cmd = args[0].as_str();
    let mut b = ifreq(&args[1]);
    let (mut count, mut vhid, mut state, mut advskew, mut advbase) = (1i32, 0i32, 0i32, 0i32, 0i32);
    let mut key = [0u8; 20];
    let mut badptr = false;
    let mut entries = 1usize;
    let mut i = 2;
    while i + 1 <= args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "count" => count = v.parse().unwrap_or(0),
            "vhid" => vhid = v.parse().unwrap_or(0),
            "state" => state = v.parse().unwrap_or(0),
            "advskew" => advskew = v.parse().unwrap_or(0),
            "advbase" => advbase = v.parse().unwrap_or(0),
            "key" => {
                key = [0; 20];
                let kb = v.as_bytes();
                key[..kb.len().min(20)].copy_from_slice(&kb[..kb.len().min(20)]);
            }
            "entries" => entries = v.parse().unwrap_or(1),
            "badptr" => {
                badptr = true;
                i += 1;
                continue;
            }
            x => return Out::err(22, format!("ioctl: unknown word {x}")),
        }
        i += 2;
    }
    let rsize = abi("sizeof(struct carpreq)") as usize;
    let mut req = UserBuf::new(rsize * entries.max(1));
    for (j, v) in [count, vhid, state, advskew, advbase].iter().enumerate() {
        req.data[j * 4..j * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    req.data[20..40].copy_from_slice(&key);
    let ptr: u64 = if badptr { 0x1000 } else { req.ptr() as u64 };
    let o = abi("ifreq.ifr_data") as usize;
    b.data[o..o + 8].copy_from_slice(&ptr.to_le_bytes());
    let e = ioctl(p, AF_INET, cmd, &mut b);
    let mut text = String::new();
    if e == 0 && cmd == "SIOCGVH" {
        for j in 0..entries {
            let d = &req.data[j * rsize..(j + 1) * rsize];
            let g = |k: usize| i32::from_le_bytes(d[k * 4..k * 4 + 4].try_into().unwrap_or([0; 4]));
            let kl = d[20..40].iter().position(|&c| c == 0).unwrap_or(20);
            text.push_str(&format!(
                "count {} vhid {} state {} advskew {} advbase {} key \"{}\"\n",
                g(0),
                g(1),
                g(2),
                g(3),
                g(4),
                String::from_utf8_lossy(&d[20..20 + kl])
            ));
        }
    }
    Out { status: i32::from(e != 0), errno: e, text }
}

/// `netlink set|get IFNAME|- attr=value ... [raw HEX] [flags N] [trunc N]`: a carp
/// request with chosen attributes, e.g. `netlink set em0 vhid=1 advskew=300`, or with
/// malformed ones (`vhid:2=01 00` gives the VHID attribute a 2-byte payload).
fn raw_netlink(p: &Proc, args: &[String]) -> Out {
    if args.is_empty() {
        return Out::err(22, "netlink set|get|family ...".into());
    }
    let cmd = match args[0].as_str() {
        "get" => nl::CARP_NL_CMD_GET,
        "set" => nl::CARP_NL_CMD_SET,
        "cmd" => args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
        _ => return Out::err(22, format!("netlink: unknown {}", args[0])),
    };
    let rest: Vec<String> = if args[0] == "cmd" { args[2..].to_vec() } else { args[1..].to_vec() };
    let mut flags = nl::NLM_F_REQUEST | nl::NLM_F_ACK;
    if cmd == nl::CARP_NL_CMD_GET {
        flags |= nl::NLM_F_DUMP;
    }
    let mut attrs: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut trunc: Option<usize> = None;
    let mut family_override: Option<u16> = None;
    for a in &rest {
        let Some((k, v)) = a.split_once('=') else { return Out::err(22, format!("netlink: {a}: want name=value")) };
        let (name, raw) = match k.split_once(':') {
            Some((n, "raw")) => (n, true),
            _ => (k, false),
        };
        let typ = match name {
            "vhid" => nl::CARP_NL_VHID,
            "state" => nl::CARP_NL_STATE,
            "advbase" => nl::CARP_NL_ADVBASE,
            "advskew" => nl::CARP_NL_ADVSKEW,
            "key" => nl::CARP_NL_KEY,
            "ifindex" => nl::CARP_NL_IFINDEX,
            "addr" => nl::CARP_NL_ADDR,
            "addr6" => nl::CARP_NL_ADDR6,
            "ifname" => nl::CARP_NL_IFNAME,
            "version" => nl::CARP_NL_VERSION,
            "vrrp_prio" => nl::CARP_NL_VRRP_PRIORITY,
            "vrrp_adv_inter" => nl::CARP_NL_VRRP_ADV_INTER,
            "flags" => {
                flags = u16::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(flags);
                continue;
            }
            "trunc" => {
                trunc = v.parse().ok();
                continue;
            }
            "family" => {
                family_override = v.parse().ok();
                continue;
            }
            n => match n.parse::<u16>() {
                Ok(t) => t,
                Err(_) => return Out::err(22, format!("netlink: unknown attribute {n}")),
            },
        };
        let data = if raw {
            v.split_whitespace().filter_map(|h| u8::from_str_radix(h, 16).ok()).collect()
        } else {
            match typ {
                nl::CARP_NL_IFNAME => {
                    let mut d = v.as_bytes().to_vec();
                    d.push(0);
                    d
                }
                nl::CARP_NL_KEY => v.as_bytes().to_vec(),
                nl::CARP_NL_ADDR => v.parse::<Ipv4Addr>().map(|a| a.octets().to_vec()).unwrap_or_default(),
                nl::CARP_NL_ADDR6 => v.parse::<Ipv6Addr>().map(|a| a.octets().to_vec()).unwrap_or_default(),
                nl::CARP_NL_VERSION | nl::CARP_NL_VRRP_PRIORITY => vec![v.parse::<i64>().unwrap_or(0) as u8],
                nl::CARP_NL_VRRP_ADV_INTER => (v.parse::<i64>().unwrap_or(0) as u16).to_le_bytes().to_vec(),
                _ => (v.parse::<i64>().unwrap_or(0) as u32).to_le_bytes().to_vec(),
            }
        };
        attrs.push((typ, data));
    }
    let (_fam, replies) = nl::raw(&p.vnet, p.user, |fam| {
        let mut m = nl::Msg::genl(family_override.unwrap_or(fam), flags, 2, cmd);
        for (t, d) in &attrs {
            m.attr(*t, d);
        }
        let mut b = m.finish();
        if let Some(n) = trunc {
            // A message whose nlmsg_len claims less than its attributes.
            let n = n.min(b.len());
            b[0..4].copy_from_slice(&(n as u32).to_le_bytes());
        }
        b
    });
    let mut text = String::new();
    let mut errno = 0;
    for r in replies.iter().filter(|r| r.seq == 2) {
        match r.typ {
            nl::NLMSG_ERROR => {
                errno = r.error().unwrap_or(0);
                text.push_str(&format!("error {}\n", errno_name(errno)));
            }
            nl::NLMSG_DONE => {
                errno = r.error().unwrap_or(0);
                text.push_str(&format!("done {}\n", errno_name(errno)));
            }
            _ => {
                let mut line = String::from("reply");
                for (t, d) in r.attrs() {
                    line.push_str(&format!(" {t}:{}", nl::hex(&d).replace(' ', "")));
                }
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    Out { status: i32::from(errno != 0), errno, text }
}

/// Runs one command line of the harness's userland.
pub fn run(p: &Proc, argv: &[String], ko: &str) -> Out {
    let Some(cmd) = argv.first() else { return Out::ok(String::new()) };
    let args = &argv[1..];
    match cmd.as_str() {
        "ifconfig" => ifconfig(p, args),
        "sysctl" => sysctl(p, args),
        "netstat" => netstat(p, args),
        "ioctl" => raw_ioctl(p, args),
        "netlink" => raw_netlink(p, args),
        "kldload" => {
            if p.vnet != "host" || p.user {
                return Out::err(1, "kldload: can't load carp: Operation not permitted".into());
            }
            let path = match args.first().map(String::as_str) {
                Some("carp") | Some("carp.ko") | None => ko.to_string(),
                Some(x) => x.to_string(),
            };
            match crate::loader::load(&path) {
                Ok(()) => Out::ok(String::new()),
                Err(e) => Out::err(e.errno, format!("kldload: can't load {path}: {} ({})", errno_name(e.errno), e.msg)),
            }
        }
        "kldunload" => {
            if p.vnet != "host" || p.user {
                return Out::err(1, "kldunload: Operation not permitted".into());
            }
            match crate::loader::unload() {
                Ok(()) => Out::ok(String::new()),
                Err(e) => Out::err(e, format!("kldunload: can't unload file: {}", errno_name(e))),
            }
        }
        "kldstat" => match crate::loader::loaded_name() {
            Some((n, base, size)) => Out::ok(format!("Id Refs Address                Size Name\n 2    1 {base:#018x} {size:>8x} {n}\n")),
            None => {
                if args.iter().any(|a| a == "-m" || a == "-q") {
                    Out::err(2, String::new())
                } else {
                    Out::ok("Id Refs Address                Size Name\n".into())
                }
            }
        },
        c => Out::err(127, format!("{c}: command not found")),
    }
}

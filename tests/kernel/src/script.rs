//! Test scripts: what a FreeBSD administrator types, plus the hardware and the clock.
//!
//! A script is a list of lines. Commands of the stock tools run as processes of the
//! simulated system (in the host, or in a jail with `jexec J`, as root or `as-user`):
//!
//! ```text
//! kldload carp
//! ifconfig em0 inet 10.0.0.1/24
//! ifconfig em0 vhid 1 advskew 100 pass testpass alias 10.0.0.100/32
//! jexec one sysctl net.inet.carp.preempt=1
//! fails EPERM as-user ifconfig em0 vhid 1 pass x
//! ```
//!
//! A command must succeed unless prefixed with `fails [ERRNO]`. The rest of the
//! language sets up hardware (`nic`, `jail`, `cable`, `txfail`), moves the clock
//! (`advance`, `mark`), puts frames on a wire (`inject`, `arp-request`, `ns`, `ping`)
//! and states expectations (`expect ...`), which read the kernel's state through the same
//! tools, the records of devd events, log lines and captured frames, or a snapshot of
//! the kernel's own structures. See tests/kernel/README.md for the reference.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::frames;
use crate::host::{self, records};
use crate::kapi;
use crate::sched;
use crate::userland::{self, errno_name, errno_value, Proc};

static POS: Mutex<String> = Mutex::new(String::new());

/// The command of the second process (`background`), and its result.
static BG_JOB: Mutex<Option<(Proc, Vec<String>, String)>> = Mutex::new(None);
static BG_OUT: Mutex<Option<userland::Out>> = Mutex::new(None);

/// Runs on the simulated kernel's second-process thread.
extern "C" fn bg_trampoline(_: *mut std::ffi::c_void) {
    let job = BG_JOB.lock().ok().and_then(|mut j| j.take());
    if let Some((p, words, ko)) = job {
        let out = userland::run(&p, &words, &ko);
        if let Ok(mut o) = BG_OUT.lock() {
            *o = Some(out);
        }
    }
}

pub fn position() -> String {
    POS.lock().map(|p| p.clone()).unwrap_or_default()
}

fn set_position(p: String) {
    if let Ok(mut g) = POS.lock() {
        *g = p;
    }
}

/// The TSC's frequency (Hz), measured once against the host's monotonic clock.
fn tsc_hz() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        // SAFETY: rdtsc has no preconditions on x86-64.
        let t0 = (std::time::Instant::now(), unsafe { core::arch::x86_64::_rdtsc() });
        std::thread::sleep(std::time::Duration::from_millis(50));
        // SAFETY: as above.
        let t1 = (std::time::Instant::now(), unsafe { core::arch::x86_64::_rdtsc() });
        (t1.1 - t0.1) as f64 / t1.0.duration_since(t0.0).as_secs_f64()
    })
}

/// Uptime as seconds with 6 decimals.
pub fn fmt_time(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}

/// Run options.
pub struct Options {
    pub ko: String,
    pub out_dir: Option<std::path::PathBuf>,
    /// Fault injection: the N-th fallible allocation of the module fails.
    pub fault: Option<i64>,
    pub carpdump: Option<String>,
    pub tshark: bool,
    pub verbose: bool,
}

struct Validate {
    wire: String,
    pass: String,
    addrs: Vec<String>,
    vhids: Vec<String>,
}

struct Runner<'a> {
    opts: &'a Options,
    file: String,
    lineno: usize,
    wires: HashMap<String, i32>,
    nics: Vec<(String, String)>, // (jail, ifname)
    jails: Vec<String>,
    marks: HashMap<String, u64>,
    last: userland::Out,
    cursor_devd: usize,
    cursor_log: usize,
    cursor_frames: HashMap<i32, usize>,
    failures_seen: usize,
    validate: Vec<Validate>,
    nic_count: u32,
}

/// The result of a script: Ok, or the first failure (with its line).
pub type Result<T> = std::result::Result<T, String>;

fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inq = false;
    let mut have = false;
    for c in line.chars() {
        match c {
            '"' => {
                inq = !inq;
                have = true;
            }
            '#' if !inq => break,
            c if c.is_whitespace() && !inq => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

fn parse_secs(s: &str) -> Result<u64> {
    let (num, mul) = if let Some(x) = s.strip_suffix("ms") {
        (x, 1_000_000f64)
    } else if let Some(x) = s.strip_suffix("us") {
        (x, 1_000f64)
    } else if let Some(x) = s.strip_suffix('s') {
        (x, 1_000_000_000f64)
    } else {
        (s, 1_000_000_000f64)
    };
    // Exact decimal parsing (no float rounding on the virtual clock).
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let i: u64 = int.parse().map_err(|_| format!("bad duration {s}"))?;
    let mut f: u64 = 0;
    let mut scale: u64 = 1;
    for c in frac.chars().take(9) {
        f = f * 10 + u64::from(c.to_digit(10).ok_or_else(|| format!("bad duration {s}"))?);
        scale *= 10;
    }
    let unit = mul as u64;
    Ok(i * unit + f * unit / scale)
}

impl<'a> Runner<'a> {
    fn fail<T>(&self, msg: impl Into<String>) -> Result<T> {
        Err(format!("{}:{}: {}", self.file, self.lineno, msg.into()))
    }

    fn wire_id(&mut self, name: &str) -> i32 {
        let n = self.wires.len() as i32 + 1;
        *self.wires.entry(name.to_string()).or_insert(n)
    }

    fn settle(&mut self) -> Result<()> {
        sched::settle();
        // SAFETY: an idle point of the script thread.
        unsafe { kapi::hk_idle() };
        self.check_kernel_failures()
    }

    fn check_kernel_failures(&mut self) -> Result<()> {
        let r = records();
        let expected = host::EXPECTED_FAILURES.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut bad = Vec::new();
        for (check, msg, thread, t) in r.failures.iter().skip(self.failures_seen) {
            if expected.iter().any(|e| msg.contains(e.as_str()) || e == check) {
                continue;
            }
            bad.push(format!("[{check}] {msg} (thread {thread}, t={})", fmt_time(*t)));
        }
        self.failures_seen = r.failures.len();
        drop(r);
        bad.extend(std::mem::take(&mut *userland::FAILED_CALL_CHANGES.lock().unwrap_or_else(|e| e.into_inner())));
        if !bad.is_empty() {
            return self.fail(format!("kernel check failed: {}", bad.join("; ")));
        }
        Ok(())
    }

    fn at_time(&self, spec: &str) -> Result<(u64, u64)> {
        // MARK+SEC[~TOL]
        let (base, tol) = match spec.split_once('~') {
            Some((b, t)) => (b, parse_secs(t)?),
            None => (spec, 1_000),
        };
        let (m, off) = match base.split_once('+') {
            Some((m, o)) => (m, parse_secs(o)?),
            None => (base, 0),
        };
        let t = if m.is_empty() || m == "boot" {
            sched::BOOT_NS
        } else {
            *self.marks.get(m).ok_or_else(|| format!("{}:{}: no mark {m}", self.file, self.lineno))?
        };
        Ok((t + off, tol))
    }

    fn run_command(&mut self, words: &[String]) -> Result<()> {
        let mut w = words;
        let mut p = Proc { vnet: "host".into(), user: false };
        let mut expect_fail: Option<Option<i32>> = None;
        loop {
            match w.first().map(String::as_str) {
                Some("jexec") => {
                    let j = w.get(1).ok_or("jexec needs a jail")?;
                    p.vnet = j.clone();
                    w = &w[2..];
                }
                Some("as-user") => {
                    p.user = true;
                    w = &w[1..];
                }
                Some("fails") => {
                    let e = w.get(1).and_then(|s| errno_value(s));
                    if e.is_some() {
                        expect_fail = Some(e);
                        w = &w[2..];
                    } else {
                        expect_fail = Some(None);
                        w = &w[1..];
                    }
                }
                _ => break,
            }
        }
        let out = userland::run(&p, w, &self.opts.ko);
        self.settle()?;
        if self.opts.verbose {
            println!("  $ {} -> status {} errno {}", w.join(" "), out.status, errno_name(out.errno));
            for l in out.text.lines() {
                println!("  | {l}");
            }
        }
        self.last = out.clone();
        match expect_fail {
            None => {
                if out.status != 0 {
                    if self.opts.fault.is_some() {
                        // Fault injection: each failed system call left nothing behind
                        // (checked by the userland at every call), and the same command
                        // works when repeated.
                        let again = userland::run(&p, w, &self.opts.ko);
                        self.settle()?;
                        if again.status != 0 {
                            return self.fail(format!(
                                "`{}` failed again after the injected fault: {} {}",
                                w.join(" "),
                                errno_name(again.errno),
                                again.text.trim()
                            ));
                        }
                        self.last = again;
                        return Ok(());
                    }
                    return self.fail(format!("`{}` failed: {} (errno {})", w.join(" "), out.text.trim(), errno_name(out.errno)));
                }
            }
            Some(e) => {
                if out.status == 0 {
                    return self.fail(format!("`{}` succeeded, expected a failure", w.join(" ")));
                }
                // Under fault injection an expected failure may fail earlier (ENOMEM).
                if let (Some(e), None) = (e, self.opts.fault) {
                    if out.errno != e {
                        return self.fail(format!(
                            "`{}` failed with {}, expected {} ({})",
                            w.join(" "),
                            errno_name(out.errno),
                            errno_name(e),
                            out.text.trim()
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn opt_jail<'w>(&self, w: &'w [String]) -> (String, &'w [String]) {
        if w.first().map(String::as_str) == Some("jail") {
            if let Some(j) = w.get(1) {
                return (j.clone(), &w[2..]);
            }
        }
        ("host".to_string(), w)
    }

    fn events(&self, kind: &str) -> Vec<(u64, String)> {
        let r = records();
        match kind {
            "devd" => r.devd.clone(),
            _ => r.console.iter().map(|(t, _, l)| (*t, l.clone())).collect(),
        }
    }

    fn expect(&mut self, w: &[String]) -> Result<()> {
        let Some(what) = w.first() else { return self.fail("expect what?") };
        let w = &w[1..];
        // Under fault injection the module may legitimately lose an advertisement or a
        // reply; only the invariants are checked (with every kernel check and the
        // teardown's leak checks).
        if self.opts.fault.is_some() && !matches!(what.as_str(), "consistent" | "hooks" | "kernel-failure") {
            return Ok(());
        }
        match what.as_str() {
            "output" => {
                let (neg, w) = if w.first().map(String::as_str) == Some("no") { (true, &w[1..]) } else { (false, w) };
                let text = w.join(" ");
                let found = self.last.text.contains(&text);
                if found == neg {
                    return self.fail(format!(
                        "output {} \"{text}\"; it was:\n{}",
                        if neg { "contains" } else { "lacks" },
                        self.last.text
                    ));
                }
            }
            "state" => {
                // expect state [jail J] IF vhid N STATE
                let (j, w) = self.opt_jail(w);
                if w.len() < 4 {
                    return self.fail("expect state [jail J] IF vhid N STATE");
                }
                let vhid: u32 = w[2].parse().map_err(|_| "bad vhid")?;
                let r = crate::nl::carp_get(&j, false, &w[0], Some(vhid), 1);
                let got = r.entries.first().map(|c| userland::CARP_STATES.get(c.state as usize).copied().unwrap_or("?").to_string());
                let got = got.unwrap_or_else(|| format!("none (kernel errno {})", errno_name(r.kernel_error)));
                if got != w[3] {
                    return self.fail(format!("{}: vhid {vhid} on {} is {got}, expected {}", j, w[0], w[3]));
                }
            }
            "sysctl" => {
                let (j, w) = self.opt_jail(w);
                if w.len() < 2 {
                    return self.fail("expect sysctl [jail J] NAME VALUE");
                }
                let p = Proc { vnet: j, user: false };
                let v = userland::sysctl_int(&p, &w[0]).map_err(|e| format!("sysctl {}: {}", w[0], errno_name(e)))?;
                if v.to_string() != w[1] {
                    return self.fail(format!("sysctl {} is {v}, expected {}", w[0], w[1]));
                }
            }
            "stat" => {
                let (j, w) = self.opt_jail(w);
                if w.len() < 2 {
                    return self.fail("expect stat [jail J] NAME VALUE");
                }
                let p = Proc { vnet: j, user: false };
                let s = userland::carpstats(&p).map_err(|e| format!("carpstats: {}", errno_name(e)))?;
                let i = userland::CARPSTATS.iter().position(|n| *n == w[0]).ok_or_else(|| format!("no carp stat {}", w[0]))?;
                let have = s.get(i).copied().unwrap_or(0);
                let ok = match w[1].strip_prefix(">=") {
                    Some(n) => have >= n.parse::<u64>().unwrap_or(u64::MAX),
                    None => have.to_string() == w[1],
                };
                if !ok {
                    return self.fail(format!("net.inet.carp.stats {} is {have}, expected {}", w[0], w[1]));
                }
            }
            "devd" | "log" => self.expect_event(what, w)?,
            "frame" => self.expect_frame(w)?,
            "snapshot" | "route" => {
                let (j, w) = self.opt_jail(w);
                let (neg, w) = if w.first().map(String::as_str) == Some("no") { (true, &w[1..]) } else { (false, w) };
                let text = w.join(" ");
                let snap = kapi::snapshot(Some(&j));
                let hay = if what == "route" { snap.lines().filter(|l| l.starts_with("route ")).collect::<Vec<_>>().join("\n") } else { snap.clone() };
                if hay.contains(&text) == neg {
                    return self.fail(format!("{what} {} \"{text}\"; the kernel has:\n{hay}", if neg { "contains" } else { "lacks" }));
                }
            }
            "hooks" => {
                // SAFETY: a read of the hook pointers.
                let set = unsafe { kapi::hk_hooks_set() } != 0;
                let want = w.first().map(String::as_str) == Some("set");
                if set != want {
                    return self.fail(format!("the carp hooks are {}", if set { "set" } else { "not all set" }));
                }
            }
            "time" => {
                let (t, tol) = self.at_time(w.first().ok_or("expect time MARK+SEC")?)?;
                let now = sched::now_ns();
                if now.abs_diff(t) > tol {
                    return self.fail(format!("time is {}, expected {}", fmt_time(now), fmt_time(t)));
                }
            }
            "consistent" => self.expect_consistent()?,
            "holding" => {
                // A thread is held inside the module (see hold-copyin).
                // SAFETY: a read of a harness flag.
                if unsafe { kapi::hk_hold(0) } != 2 {
                    return self.fail("no thread is held inside the module");
                }
            }
            "kernel-failure" => {
                let text = w.join(" ");
                let r = records();
                if !r.failures.iter().any(|(c, m, _, _)| m.contains(&text) || *c == text) {
                    let all: Vec<String> = r.failures.iter().map(|(c, m, _, _)| format!("[{c}] {m}")).collect();
                    drop(r);
                    return self.fail(format!("no kernel check failure \"{text}\" (got: {})", all.join("; ")));
                }
            }
            x => return self.fail(format!("unknown expectation {x}")),
        }
        Ok(())
    }

    fn expect_event(&mut self, kind: &str, w: &[String]) -> Result<()> {
        let (neg, w) = if w.first().map(String::as_str) == Some("no") { (true, &w[1..]) } else { (false, w) };
        let mut text_words = Vec::new();
        let mut at: Option<(u64, u64)> = None;
        let mut count: Option<usize> = None;
        let mut i = 0;
        while i < w.len() {
            match w[i].as_str() {
                "at" if i + 1 < w.len() => {
                    at = Some(self.at_time(&w[i + 1])?);
                    i += 2;
                }
                "count" if i + 1 < w.len() => {
                    count = w[i + 1].parse().ok();
                    i += 2;
                }
                _ => {
                    text_words.push(w[i].clone());
                    i += 1;
                }
            }
        }
        let text = text_words.join(" ");
        let evs = self.events(kind);
        let cursor = if kind == "devd" { self.cursor_devd } else { self.cursor_log };
        let tail = &evs[cursor.min(evs.len())..];
        if let Some(n) = count {
            let got = tail.iter().filter(|(_, l)| l.contains(&text)).count();
            if got != n {
                return self.fail(format!("{got} {kind} event(s) \"{text}\", expected {n}; since the cursor:\n{}", dump_events(tail)));
            }
            self.set_cursor(kind, evs.len());
            return Ok(());
        }
        let pos = tail.iter().position(|(_, l)| l.contains(&text));
        if neg {
            if let Some(p) = pos {
                return self.fail(format!("unexpected {kind} event at {}: {}", fmt_time(tail[p].0), tail[p].1));
            }
            return Ok(());
        }
        let Some(p) = pos else {
            return self.fail(format!("no {kind} event \"{text}\"; since the cursor:\n{}", dump_events(tail)));
        };
        if let Some((t, tol)) = at {
            if tail[p].0.abs_diff(t) > tol {
                return self.fail(format!("{kind} \"{}\" at {}, expected at {}", tail[p].1, fmt_time(tail[p].0), fmt_time(t)));
            }
        }
        self.set_cursor(kind, cursor + p + 1);
        Ok(())
    }

    fn set_cursor(&mut self, kind: &str, v: usize) {
        if kind == "devd" {
            self.cursor_devd = v;
        } else {
            self.cursor_log = v;
        }
    }

    fn expect_frame(&mut self, w: &[String]) -> Result<()> {
        let Some(wire) = w.first() else { return self.fail("expect frame WIRE ...") };
        let wid = self.wire_id(wire);
        let w = &w[1..];
        let (neg, w) = if w.first().map(String::as_str) == Some("no") { (true, &w[1..]) } else { (false, w) };
        let mut filter = Vec::new();
        let mut at: Option<(u64, u64)> = None;
        let mut count: Option<String> = None;
        let mut i = 0;
        while i < w.len() {
            match w[i].as_str() {
                "at" if i + 1 < w.len() => {
                    at = Some(self.at_time(&w[i + 1])?);
                    i += 2;
                }
                "count" if i + 1 < w.len() => {
                    count = Some(w[i + 1].clone());
                    i += 2;
                }
                kv => {
                    let (k, v) = kv.split_once('=').ok_or_else(|| format!("{}:{}: bad filter {kv}", self.file, self.lineno))?;
                    filter.push((k.to_string(), v.to_string()));
                    i += 1;
                }
            }
        }
        let frames: Vec<(u64, Vec<u8>)> = records().frames.iter().filter(|(_, w, _)| *w == wid).map(|(t, _, f)| (*t, f.clone())).collect();
        let cursor = *self.cursor_frames.get(&wid).unwrap_or(&0);
        let tail = &frames[cursor.min(frames.len())..];
        let describe_tail = || tail.iter().map(|(t, f)| format!("  {} {}", fmt_time(*t), frames::describe(f))).collect::<Vec<_>>().join("\n");
        if let Some(c) = count {
            let got = tail.iter().filter(|(_, f)| frames::matches(f, &filter)).count();
            let ok = if let Some(n) = c.strip_prefix(">=") {
                got >= n.parse::<usize>().unwrap_or(0)
            } else {
                got == c.parse::<usize>().unwrap_or(0)
            };
            if !ok {
                return self.fail(format!("{got} matching frame(s) on {wire}, expected {c}; since the cursor:\n{}", describe_tail()));
            }
            self.cursor_frames.insert(wid, frames.len());
            return Ok(());
        }
        let pos = tail.iter().position(|(t, f)| frames::matches(f, &filter) && at.is_none_or(|(at, tol)| t.abs_diff(at) <= tol || *t < at));
        if neg {
            if let Some(p) = tail.iter().position(|(_, f)| frames::matches(f, &filter)) {
                return self.fail(format!("unexpected frame on {wire} at {}: {}", fmt_time(tail[p].0), frames::describe(&tail[p].1)));
            }
            return Ok(());
        }
        let Some(p) = pos else {
            return self.fail(format!("no matching frame on {wire}; since the cursor:\n{}", describe_tail()));
        };
        if let Some((t, tol)) = at {
            if tail[p].0.abs_diff(t) > tol {
                return self.fail(format!("matching frame on {wire} at {}, expected at {}: {}", fmt_time(tail[p].0), fmt_time(t), frames::describe(&tail[p].1)));
            }
        }
        self.cursor_frames.insert(wid, cursor + p + 1);
        Ok(())
    }

    /// A vhid's state and its routes never come apart: a CARP address has its loopback
    /// route exactly when its vhid is MASTER. Two carpN of one host may share an address
    /// (arpbalance), each with its own vhid; the kernel keeps one loopback route per
    /// address (in_scrubprefix switches it to the other holder), so for such an address
    /// the route must exist exactly when one of its vhids is MASTER.
    fn expect_consistent(&mut self) -> Result<()> {
        let snap = kapi::snapshot(None);
        // (jail, addr, plen) -> (any MASTER, vhids seen)
        let mut addrs: std::collections::BTreeMap<(String, String, u32), (bool, Vec<String>)> = std::collections::BTreeMap::new();
        for line in snap.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if !(f.first() == Some(&"inet") || f.first() == Some(&"inet6")) || f.len() < 4 {
                continue;
            }
            let Some(vhid) = f.iter().find_map(|x| x.strip_prefix("vhid=")) else { continue };
            let (jail, ifname, addr) = (f[1], f[2], f[3].split('/').next().unwrap_or(""));
            let vhid: u32 = vhid.parse().unwrap_or(0);
            let mut r = crate::nl::carp_get(jail, false, ifname, Some(vhid), 1);
            if r.entries.is_empty() && self.opts.fault.is_some() {
                // The injected fault may have hit this very request (it fires once).
                r = crate::nl::carp_get(jail, false, ifname, Some(vhid), 1);
            }
            let Some(c) = r.entries.first() else {
                return self.fail(format!("{jail}: {addr} on {ifname} is bound to vhid {vhid}, which netlink does not report"));
            };
            let plen = if f[0] == "inet" { 32 } else { 128 };
            let e = addrs.entry((jail.to_string(), addr.to_string(), plen)).or_insert((false, Vec::new()));
            e.0 |= c.state == 2;
            e.1.push(format!("{vhid}@{ifname}"));
        }
        for ((jail, addr, plen), (master, vhids)) in addrs {
            let has_route = snap.lines().any(|l| {
                let g: Vec<&str> = l.split_whitespace().collect();
                g.first() == Some(&"route")
                    && g.get(1) == Some(&jail.as_str())
                    && g.get(2) == Some(&format!("{addr}/{plen}").as_str())
                    && l.contains(" loopback")
            });
            if master != has_route {
                return self.fail(format!(
                    "{jail}: vhid {} is {} but {addr} {} a loopback route (state and routes came apart)",
                    vhids.join(" "),
                    if master { "MASTER" } else { "not MASTER" },
                    if has_route { "has" } else { "lacks" }
                ));
            }
        }
        Ok(())
    }

    fn line(&mut self, words: Vec<String>) -> Result<()> {
        let cmd = words[0].as_str();
        let args = &words[1..];
        match cmd {
            "nic" => {
                let name = args.first().ok_or("nic NAME ...")?.clone();
                let (mut jail, mut wire, mut mac, mut typ) = ("host".to_string(), String::new(), None, 0);
                let mut i = 1;
                while i + 1 < args.len() + 1 && i < args.len() {
                    let v = args.get(i + 1).cloned().unwrap_or_default();
                    match args[i].as_str() {
                        "jail" => jail = v,
                        "wire" => wire = v,
                        "mac" => mac = Some(frames::parse_mac(&v).ok_or("bad mac")?),
                        "type" => {
                            typ = match v.as_str() {
                                "ether" => 0x06,
                                "vlan" => 0x87,
                                "bridge" => 0xd1,
                                "tunnel" => 0x83,
                                _ => return self.fail(format!("unknown interface type {v}")),
                            }
                        }
                        x => return self.fail(format!("nic: unknown {x}")),
                    }
                    i += 2;
                }
                self.nic_count += 1;
                let wid = if wire.is_empty() { 0 } else { self.wire_id(&wire) };
                let mac = mac.unwrap_or([0x02, 0, 0, 0, wid as u8, self.nic_count as u8]);
                let (j, n) = (kapi::cstr(&jail), kapi::cstr(&name));
                // SAFETY: a kernel call from the script thread.
                let e = unsafe { kapi::hk_nic_create(j.as_ptr(), n.as_ptr(), mac.as_ptr(), wid, typ) };
                if e != 0 {
                    return self.fail(format!("nic {name}: {}", errno_name(e)));
                }
                self.nics.push((jail, name));
                self.settle()?;
            }
            "nic-destroy" => {
                let (jail, a) = self.opt_jail(args);
                let name = a.first().ok_or("nic-destroy NAME")?.clone();
                let (j, n) = (kapi::cstr(&jail), kapi::cstr(&name));
                // SAFETY: as above.
                let e = unsafe { kapi::hk_nic_destroy(j.as_ptr(), n.as_ptr()) };
                if e != 0 {
                    return self.fail(format!("nic-destroy {name}: {}", errno_name(e)));
                }
                self.nics.retain(|(_, x)| *x != name);
                self.settle()?;
            }
            "jail" => {
                // jail NAME [IF...]: jail -c name=NAME vnet persist vnet.interface=IF...
                let name = args.first().ok_or("jail NAME [IF...]")?.clone();
                let c = kapi::cstr(&name);
                // SAFETY: as above.
                let e = unsafe { kapi::hk_vnet_create(c.as_ptr()) };
                if e != 0 {
                    return self.fail(format!("jail {name}: {}", errno_name(e)));
                }
                self.jails.push(name.clone());
                for ifn in &args[1..] {
                    let (h, n) = (kapi::cstr("host"), kapi::cstr(ifn));
                    // SAFETY: as above.
                    let e = unsafe { kapi::hk_if_vmove(h.as_ptr(), n.as_ptr(), c.as_ptr()) };
                    if e != 0 {
                        return self.fail(format!("jail {name}: vnet.interface={ifn}: {}", errno_name(e)));
                    }
                    for nic in self.nics.iter_mut() {
                        if nic.1 == *ifn {
                            nic.0 = name.clone();
                        }
                    }
                }
                self.settle()?;
            }
            "jail-remove" => {
                let name = args.first().ok_or("jail-remove NAME")?.clone();
                let c = kapi::cstr(&name);
                // SAFETY: as above.
                let e = unsafe { kapi::hk_vnet_destroy(c.as_ptr()) };
                if e != 0 {
                    return self.fail(format!("jail -r {name}: {}", errno_name(e)));
                }
                self.jails.retain(|j| *j != name);
                // Loaned interfaces went back to the host.
                for nic in self.nics.iter_mut() {
                    if nic.0 == name {
                        nic.0 = "host".into();
                    }
                }
                self.settle()?;
            }
            "kenv" => {
                let (n, v) = (kapi::cstr(args.first().ok_or("kenv NAME VALUE")?), kapi::cstr(args.get(1).ok_or("kenv NAME VALUE")?));
                // SAFETY: as above.
                unsafe { kapi::hk_kenv_set(n.as_ptr(), v.as_ptr()) };
            }
            "cable" => {
                let (jail, a) = self.opt_jail(args);
                if a.len() < 2 {
                    return self.fail("cable [jail J] IF up|down");
                }
                let (j, n) = (kapi::cstr(&jail), kapi::cstr(&a[0]));
                // SAFETY: as above.
                let e = unsafe { kapi::hk_nic_carrier(j.as_ptr(), n.as_ptr(), i32::from(a[1] == "up")) };
                if e != 0 {
                    return self.fail(format!("cable {}: {}", a[0], errno_name(e)));
                }
                self.settle()?;
            }
            "txfail" => {
                let (jail, a) = self.opt_jail(args);
                if a.len() < 3 {
                    return self.fail("txfail [jail J] IF ERRNO COUNT");
                }
                let e = errno_value(&a[1]).ok_or("bad errno")?;
                let count: i32 = a[2].parse().map_err(|_| "bad count")?;
                let (j, n) = (kapi::cstr(&jail), kapi::cstr(&a[0]));
                // SAFETY: as above.
                let r = unsafe { kapi::hk_nic_txfail(j.as_ptr(), n.as_ptr(), e, count) };
                if r != 0 {
                    return self.fail(format!("txfail {}: {}", a[0], errno_name(r)));
                }
            }
            "wire-move" => {
                let (jail, a) = self.opt_jail(args);
                if a.len() < 2 {
                    return self.fail("wire-move [jail J] IF WIRE");
                }
                let wid = self.wire_id(&a[1]);
                let (j, n) = (kapi::cstr(&jail), kapi::cstr(&a[0]));
                // SAFETY: as above.
                unsafe { kapi::hk_nic_wire(j.as_ptr(), n.as_ptr(), wid) };
            }
            "fault-pfil" => {
                let e = errno_value(args.first().ok_or("fault-pfil ERRNO [JAIL]")?).ok_or("bad errno")?;
                let j = args.get(1).map(|s| kapi::cstr(s));
                // SAFETY: as above.
                unsafe { kapi::hk_pfil_fail(e, j.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())) };
            }
            "fault-next" => {
                // fault-next SITE [N]: the module's next N allocations at SITE fail
                // (malloc, mbuf, m_get2, m_tag, counter, in_joingroup, in6_joingroup, any).
                let site = args.first().ok_or("fault-next SITE [N]")?;
                let n: i32 = args.get(1).map_or(Ok(1), |v| v.parse()).map_err(|_| "bad count")?;
                let c = kapi::cstr(site);
                // SAFETY: a kernel call from the script thread.
                unsafe { kapi::hk_fault_next(c.as_ptr(), n) };
            }
            "expect-fault-used" => {
                // The faults armed by fault-next were all consumed.
                // SAFETY: a read of a harness counter.
                let left = unsafe { kapi::hk_fault_next_left() };
                if left != 0 && self.opts.fault.is_none() {
                    return self.fail(format!("{left} armed fault(s) were never reached"));
                }
                // SAFETY: as above.
                unsafe { kapi::hk_fault_next(kapi::cstr("").as_ptr(), 0) };
            }
            "wire-attach" => {
                // wire-attach WIRE IFNAME: the wire is also the Linux interface IFNAME of
                // kharness's network namespace (--real-time only).
                if args.len() < 2 {
                    return self.fail("wire-attach WIRE IFNAME");
                }
                let wid = self.wire_id(&args[0]);
                let fd = crate::live::attach(wid, &args[1]).map_err(|e| format!("{}:{}: wire-attach: {e}", self.file, self.lineno))?;
                // SAFETY: a kernel call from the script thread with our socket.
                let e = unsafe { kapi::hk_wire_attach(wid, fd) };
                if e != 0 {
                    return self.fail(format!("wire-attach: {} (live wires need --real-time)", errno_name(e)));
                }
            }
            "await" => {
                // await FILE [SECONDS]: the test around kharness says go (real time).
                let path = args.first().ok_or("await FILE [SECONDS]")?;
                let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60.0);
                let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
                while !std::path::Path::new(path).exists() {
                    if std::time::Instant::now() > until {
                        return self.fail(format!("await {path}: not there after {secs} s"));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                self.settle()?;
            }
            "signal" => {
                // signal FILE: tells the test around kharness that this point is reached.
                let path = args.first().ok_or("signal FILE")?;
                std::fs::write(path, format!("{}\n", fmt_time(sched::now_ns()))).map_err(|e| format!("signal {path}: {e}"))?;
            }
            "profile" => {
                // profile on | off | print: TSC cycles of every call into the module, per
                // call site (make bench-kpath).
                match args.first().map(String::as_str) {
                    Some("on") => {
                        // SAFETY: a kernel call from the script thread.
                        unsafe { kapi::hk_profile(1, std::ptr::null_mut(), 0) };
                    }
                    Some("kernel") => {
                        // The simulated kernel's primitives, for comparison.
                        let (mut a, mut b, mut c): (std::ffi::c_ulong, std::ffi::c_ulong, std::ffi::c_ulong) = (0, 0, 0);
                        // SAFETY: a kernel call from the script thread with three outputs.
                        unsafe { kapi::hk_bench_prims(100_000, &mut a, &mut b, &mut c) };
                        let hz = tsc_hz();
                        for (n, v) in [("simulated mtx_lock+mtx_unlock", a), ("simulated NET_EPOCH_ENTER+EXIT", b), ("simulated counter_u64_add", c)] {
                            println!("profile\t{n}\t100000\t{v}\t{v}\t{:.1}", v as f64 / hz * 1e9);
                        }
                    }
                    Some("off") => {
                        // SAFETY: as above.
                        unsafe { kapi::hk_profile(0, std::ptr::null_mut(), 0) };
                    }
                    _ => {
                        let mut buf = vec![0u8; 16384];
                        // SAFETY: buf is writable for its length.
                        let n = unsafe { kapi::hk_profile(2, buf.as_mut_ptr().cast(), buf.len() as _) };
                        let text = String::from_utf8_lossy(&buf[..(n.max(0) as usize).min(buf.len())]).into_owned();
                        let hz = tsc_hz();
                        for l in text.lines() {
                            let f: Vec<&str> = l.split('|').collect();
                            if f.len() < 4 {
                                continue;
                            }
                            let (calls, cyc, min): (f64, f64, f64) = (f[1].parse().unwrap_or(0.0), f[2].parse().unwrap_or(0.0), f[3].parse().unwrap_or(0.0));
                            let mean = if calls > 0.0 { cyc / calls } else { 0.0 };
                            println!("profile\t{}\t{calls}\t{mean:.0}\t{min:.0}\t{:.1}", f[0], mean / hz * 1e9);
                        }
                    }
                }
            }
            "hold-copyin" => {
                // The module's next copyin/copyout sleeps until `release-hold`.
                // SAFETY: a kernel call from the script thread.
                unsafe { kapi::hk_hold(1) };
            }
            "release-hold" => {
                // SAFETY: as above.
                unsafe { kapi::hk_hold(2) };
                self.settle()?;
            }
            "background" => {
                // background [jexec J] [as-user] CMD...: run by a second process; the
                // script goes on once it has finished or blocks in the kernel.
                // SAFETY: a read of a harness flag.
                if unsafe { kapi::hk_bg_busy() } != 0 {
                    return self.fail("background: the second process is still busy");
                }
                let mut w = args;
                let mut p = Proc { vnet: "host".into(), user: false };
                loop {
                    match w.first().map(String::as_str) {
                        Some("jexec") if w.len() > 1 => {
                            p.vnet = w[1].clone();
                            w = &w[2..];
                        }
                        Some("as-user") => {
                            p.user = true;
                            w = &w[1..];
                        }
                        _ => break,
                    }
                }
                if let Ok(mut j) = BG_JOB.lock() {
                    *j = Some((p, w.to_vec(), self.opts.ko.clone()));
                }
                // SAFETY: the trampoline takes its job from BG_JOB.
                unsafe { kapi::hk_bg_submit(bg_trampoline, std::ptr::null_mut()) };
                self.settle()?;
            }
            "wait-background" => {
                // wait-background [fails [ERRNO]]: the second process's command ended.
                // SAFETY: sleeps the script thread until the second process is idle.
                unsafe { kapi::hk_bg_wait() };
                self.settle()?;
                let out = BG_OUT.lock().ok().and_then(|mut o| o.take()).unwrap_or_default();
                self.last = out.clone();
                let want_fail = args.first().map(String::as_str) == Some("fails");
                let want_errno = args.get(1).and_then(|e| errno_value(e));
                // Under fault injection the command may legitimately fail (ENOMEM).
                if self.opts.fault.is_none() && (want_fail != (out.status != 0) || want_errno.is_some_and(|e| e != out.errno)) {
                    return self.fail(format!(
                        "background command ended with status {} ({}), expected {}",
                        out.status,
                        errno_name(out.errno),
                        args.join(" ")
                    ));
                }
            }
            "advance" | "sleep" => {
                let ns = parse_secs(args.first().ok_or("advance SECONDS")?)?;
                sched::advance(ns);
                self.settle()?;
            }
            "mark" => {
                let n = args.first().ok_or("mark NAME")?.clone();
                self.marks.insert(n, sched::now_ns());
            }
            "flush" => {
                self.cursor_devd = records().devd.len();
                self.cursor_log = records().console.len();
                let wires: Vec<i32> = self.wires.values().copied().collect();
                for w in wires {
                    let n = records().frames.iter().filter(|(_, x, _)| *x == w).count();
                    self.cursor_frames.insert(w, n);
                }
            }
            "inject" => self.inject(args)?,
            "arp-request" => {
                // arp-request WIRE from MAC SPA who-has TPA
                if args.len() < 6 {
                    return self.fail("arp-request WIRE from MAC SPA who-has TPA");
                }
                let wid = self.wire_id(&args[0]);
                let mac = frames::parse_mac(&args[2]).ok_or("bad mac")?;
                let f = frames::arp_request(mac, args[3].parse().map_err(|_| "bad spa")?, args[5].parse().map_err(|_| "bad tpa")?);
                self.put_frame(wid, &f)?;
            }
            "ns" => {
                // ns WIRE from MAC SIP target TIP
                if args.len() < 6 {
                    return self.fail("ns WIRE from MAC SIP target TIP");
                }
                let wid = self.wire_id(&args[0]);
                let mac = frames::parse_mac(&args[2]).ok_or("bad mac")?;
                let f = frames::ns(mac, args[3].parse().map_err(|_| "bad sip")?, args[5].parse().map_err(|_| "bad target")?);
                self.put_frame(wid, &f)?;
            }
            "ping" => {
                // ping WIRE from MAC SIP to DMAC DIP
                if args.len() < 7 {
                    return self.fail("ping WIRE from MAC SIP to DMAC DIP");
                }
                let wid = self.wire_id(&args[0]);
                let mac = frames::parse_mac(&args[2]).ok_or("bad mac")?;
                let dmac = frames::parse_mac(&args[5]).ok_or("bad mac")?;
                let f = frames::ping(mac, dmac, args[3].parse().map_err(|_| "bad sip")?, args[6].parse().map_err(|_| "bad dip")?, 1, 1);
                self.put_frame(wid, &f)?;
            }
            "deliver" => {
                // deliver [jail J] IF OFF hex HEX...: an IPv4 packet handed to its
                // protocol's input as ip_input would, past the IP checks.
                // deliver [jail J] IF capture FILE frame N [tamper OFF XOR]: the IPv4
                // packet of frame N of a capture (OFF counted from the IP header).
                let (jail, a) = self.opt_jail(args);
                let (off, pkt): (i32, Vec<u8>) = if a.get(1).map(String::as_str) == Some("capture") && a.len() >= 5 && a[3] == "frame" {
                    let path = std::path::Path::new(&self.file).parent().unwrap_or(std::path::Path::new(".")).join(&a[2]);
                    let frames = frames::read_capture(&path.to_string_lossy()).map_err(|e| format!("{}:{}: {e}", self.file, self.lineno))?;
                    let n: usize = a[4].parse().map_err(|_| "bad frame number")?;
                    let f = frames.get(n.wrapping_sub(1)).ok_or("no such frame")?;
                    let mut pkt = f.get(14..).ok_or("short frame")?.to_vec();
                    if a.get(5).map(String::as_str) == Some("tamper") {
                        let o: usize = a.get(6).and_then(|s| s.parse().ok()).ok_or("tamper OFF XOR")?;
                        let x = a.get(7).and_then(|s| u8::from_str_radix(s.trim_start_matches("0x"), 16).ok()).ok_or("tamper OFF XOR")?;
                        if let Some(b) = pkt.get_mut(o) {
                            *b ^= x;
                        }
                    }
                    (i32::from(pkt.first().copied().unwrap_or(0x45) & 0x0f) * 4, pkt)
                } else {
                    if a.len() < 4 || a[2] != "hex" {
                        return self.fail("deliver [jail J] IF OFF hex HEX... | deliver [jail J] IF capture FILE frame N [tamper OFF XOR]");
                    }
                    let off: i32 = a[1].parse().map_err(|_| "bad offset")?;
                    let hex: String = a[3..].concat();
                    (off, (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect())
                };
                let (j, n) = (kapi::cstr(&jail), kapi::cstr(&a[0]));
                // SAFETY: a kernel call with a readable packet.
                let e = unsafe { kapi::hk_proto_deliver(j.as_ptr(), n.as_ptr(), pkt.as_ptr(), pkt.len() as u32, off) };
                if e != 0 {
                    return self.fail(format!("deliver: {}", errno_name(e)));
                }
                self.settle()?;
            }
            "expect" => self.expect(args)?,
            "validate" => {
                // validate WIRE pass P addr A [addr B]...
                let wire = args.first().ok_or("validate WIRE pass P addr A")?.clone();
                let mut v = Validate { wire, pass: String::new(), addrs: Vec::new(), vhids: Vec::new() };
                let mut i = 1;
                while i + 1 < args.len() {
                    match args[i].as_str() {
                        "pass" => v.pass = args[i + 1].clone(),
                        "addr" => v.addrs.push(args[i + 1].clone()),
                        "vhid" => v.vhids.push(args[i + 1].clone()),
                        x => return self.fail(format!("validate: unknown {x}")),
                    }
                    i += 2;
                }
                self.validate.push(v);
            }
            "expect-kernel-failure" => {
                let t = args.join(" ");
                host::EXPECTED_FAILURES.lock().unwrap_or_else(|e| e.into_inner()).push(t);
            }
            "print" => {
                let what = args.first().map(String::as_str).unwrap_or("snapshot");
                match what {
                    "snapshot" => print!("{}", kapi::snapshot(args.get(1).map(String::as_str))),
                    "counts" => print!("{}", kapi::counts()),
                    "output" => print!("{}", self.last.text),
                    "time" => println!("{}", fmt_time(sched::now_ns())),
                    _ => {}
                }
            }
            _ => self.run_command(&words)?,
        }
        Ok(())
    }

    fn put_frame(&mut self, wid: i32, f: &[u8]) -> Result<()> {
        // SAFETY: a kernel call with a readable frame.
        unsafe { kapi::hk_wire_inject(wid, f.as_ptr(), f.len() as u32) };
        self.settle()
    }

    fn inject(&mut self, args: &[String]) -> Result<()> {
        // inject WIRE hex HEX... | inject WIRE capture FILE [frames A-B] [tamper OFF XOR]
        if args.len() < 3 {
            return self.fail("inject WIRE hex ... | inject WIRE capture FILE [frames A-B] [tamper OFF VAL]");
        }
        let wid = self.wire_id(&args[0]);
        match args[1].as_str() {
            "hex" => {
                let hex: String = args[2..].concat();
                let f: Vec<u8> = (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
                self.put_frame(wid, &f)?;
            }
            "capture" => {
                // A relative path is relative to the script's directory.
                let path = std::path::Path::new(&self.file).parent().unwrap_or(std::path::Path::new(".")).join(&args[2]);
                let frames = frames::read_capture(&path.to_string_lossy()).map_err(|e| format!("{}:{}: {e}", self.file, self.lineno))?;
                let (mut a, mut b) = (1usize, frames.len());
                let mut tamper: Option<(usize, u8)> = None;
                let mut only_carp = false;
                let mut i = 3;
                while i < args.len() {
                    match args[i].as_str() {
                        "frames" => {
                            let r = args.get(i + 1).ok_or("frames A-B")?;
                            let (x, y) = r.split_once('-').unwrap_or((r, r));
                            a = x.parse().map_err(|_| "bad range")?;
                            b = y.parse().map_err(|_| "bad range")?;
                            i += 2;
                        }
                        "tamper" => {
                            let off: usize = args.get(i + 1).and_then(|s| s.parse().ok()).ok_or("tamper OFF XOR")?;
                            let x = args.get(i + 2).and_then(|s| u8::from_str_radix(s.trim_start_matches("0x"), 16).ok()).ok_or("tamper OFF XOR")?;
                            tamper = Some((off, x));
                            i += 3;
                        }
                        "carp-only" => {
                            only_carp = true;
                            i += 1;
                        }
                        x => return self.fail(format!("inject: unknown {x}")),
                    }
                }
                for (n, f) in frames.iter().enumerate() {
                    let idx = n + 1;
                    if idx < a || idx > b {
                        continue;
                    }
                    if only_carp && frames::fields(f).get("type").map(String::as_str) != Some("carp") {
                        continue;
                    }
                    let mut f = f.clone();
                    if let Some((off, x)) = tamper {
                        if off < f.len() {
                            f[off] ^= x;
                        }
                    }
                    self.put_frame(wid, &f)?;
                }
            }
            x => return self.fail(format!("inject: unknown {x}")),
        }
        Ok(())
    }

    /// The end of every script: the module unloaded, jails and NICs gone, nothing left.
    fn teardown(&mut self) -> Result<()> {
        set_position(format!("{}: teardown", self.file));
        // A command still held in the kernel is let go first.
        // SAFETY: kernel calls from the script thread.
        unsafe {
            kapi::hk_hold(2);
            kapi::hk_bg_wait();
        }
        if crate::loader::is_loaded() {
            let mut r = crate::loader::unload();
            if r.is_err() && self.opts.fault.is_some() {
                // The injected fault may have hit the unload itself (EBUSY, nothing
                // changed): the second attempt must work.
                self.settle()?;
                r = crate::loader::unload();
            }
            if let Err(e) = r {
                return Err(format!("{}: teardown: kldunload carp failed: {}", self.file, errno_name(e)));
            }
            self.settle()?;
        }
        for j in self.jails.clone().iter().rev() {
            let c = kapi::cstr(j);
            // SAFETY: as above.
            unsafe { kapi::hk_vnet_destroy(c.as_ptr()) };
            for nic in self.nics.iter_mut() {
                if nic.0 == *j {
                    nic.0 = "host".into();
                }
            }
            self.settle()?;
        }
        self.jails.clear();
        for (j, n) in self.nics.clone() {
            let (jc, nc) = (kapi::cstr(&j), kapi::cstr(&n));
            // SAFETY: as above.
            unsafe { kapi::hk_nic_destroy(jc.as_ptr(), nc.as_ptr()) };
            self.settle()?;
        }
        self.nics.clear();
        self.settle()?;
        // SAFETY: the end-of-test checks of the kernel.
        unsafe { kapi::hk_check_empty() };
        self.check_kernel_failures()
    }

    fn write_captures(&self) -> Result<()> {
        let Some(dir) = &self.opts.out_dir else { return Ok(()) };
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let stem = std::path::Path::new(&self.file).file_stem().map_or_else(|| "script".into(), |s| s.to_string_lossy().into_owned());
        for (name, wid) in &self.wires {
            let frames: Vec<(u64, Vec<u8>)> = records().frames.iter().filter(|(_, w, _)| w == wid).map(|(t, _, f)| (*t, f.clone())).collect();
            let path = dir.join(format!("{stem}-{name}.pcapng"));
            frames::write_pcapng(&path, &frames)?;
        }
        let log = dir.join(format!("{stem}.log"));
        let mut text = String::new();
        for (t, l, line) in &records().console {
            text.push_str(&format!("{} {}{}\n", fmt_time(*t), if *l >= 0 { "log: " } else { "" }, line));
        }
        for (t, e) in &records().devd {
            text.push_str(&format!("{} devd: {e}\n", fmt_time(*t)));
        }
        std::fs::write(&log, text).map_err(|e| format!("{}: {e}", log.display()))?;
        Ok(())
    }

    /// carpdump (and tshark when present) on the captures of the wires to validate.
    fn run_validators(&self) -> Result<()> {
        if self.validate.is_empty() {
            return Ok(());
        }
        let Some(dir) = &self.opts.out_dir else {
            return Err(format!("{}: validate needs --out DIR (captures)", self.file));
        };
        let stem = std::path::Path::new(&self.file).file_stem().map_or_else(|| "script".into(), |s| s.to_string_lossy().into_owned());
        for (n, v) in self.validate.iter().enumerate() {
            let mut path = dir.join(format!("{stem}-{}.pcapng", v.wire));
            if !v.vhids.is_empty() {
                // Only the adverts of the vhids named (the others may use other keys and
                // addresses, with their own validate line).
                let wid = self.wires.get(&v.wire).copied().unwrap_or(-1);
                let frames: Vec<(u64, Vec<u8>)> = records()
                    .frames
                    .iter()
                    .filter(|(_, w, f)| {
                        *w == wid && frames::fields(f).get("vhid").is_some_and(|x| v.vhids.contains(x))
                    })
                    .map(|(t, _, f)| (*t, f.clone()))
                    .collect();
                path = dir.join(format!("{stem}-{}-validate{n}.pcapng", v.wire));
                frames::write_pcapng(&path, &frames)?;
            }
            let Some(cd) = &self.opts.carpdump else {
                return Err(format!("{}: validate needs --carpdump PATH", self.file));
            };
            {
                let mut cmd = std::process::Command::new(cd);
                cmd.arg(&path).arg("--pass").arg(&v.pass);
                for a in &v.addrs {
                    cmd.arg("--addr").arg(a);
                }
                for x in &v.vhids {
                    cmd.arg("--vhid").arg(x);
                }
                let out = cmd.output().map_err(|e| format!("{cd}: {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "{}: carpdump rejects adverts on {}:\n{}{}",
                        self.file,
                        v.wire,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                if self.opts.verbose {
                    print!("{}", String::from_utf8_lossy(&out.stdout));
                }
            }
            if self.opts.tshark {
                let out = std::process::Command::new("tshark")
                    .args(["-n", "-r"])
                    .arg(&path)
                    .args(["-d", "ip.proto==112,carp", "-Y", "carp && carp.checksum.status != 2", "-T", "fields", "-e", "frame.number"])
                    .output()
                    .map_err(|e| format!("tshark: {e}"))?;
                let bad = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !bad.is_empty() || !out.status.success() {
                    return Err(format!("{}: tshark flags CARP frames on {} (bad checksum, frames {bad}): {}", self.file, v.wire, String::from_utf8_lossy(&out.stderr)));
                }
            }
        }
        Ok(())
    }
}

fn dump_events(ev: &[(u64, String)]) -> String {
    ev.iter().map(|(t, l)| format!("  {} {l}", fmt_time(*t))).collect::<Vec<_>>().join("\n")
}

/// The lines that differ between two snapshots, or None.
pub fn snapshot_diff(a: &str, b: &str) -> Option<String> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut d: Vec<String> = la.iter().filter(|l| !lb.contains(l)).map(|l| format!("gone: \"{l}\"")).collect();
    d.extend(lb.iter().filter(|l| !la.contains(l)).map(|l| format!("new: \"{l}\"")));
    if d.is_empty() {
        None
    } else {
        Some(d.join("; "))
    }
}

/// Expands `repeat N` ... `end` blocks (nestable), keeping each line's number.
fn expand(lines: &[(usize, String)]) -> std::result::Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, l) = &lines[i];
        let w = tokenize(l);
        if w.first().map(String::as_str) == Some("repeat") {
            let count: usize = w.get(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("line {n}: repeat N"))?;
            let mut depth = 1;
            let mut j = i + 1;
            while j < lines.len() {
                let t = tokenize(&lines[j].1);
                match t.first().map(String::as_str) {
                    Some("repeat") => depth += 1,
                    Some("end") => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= lines.len() {
                return Err(format!("line {n}: repeat without end"));
            }
            let body = expand(&lines[i + 1..j])?;
            for _ in 0..count {
                out.extend(body.iter().cloned());
            }
            i = j + 1;
            continue;
        }
        out.push((*n, l.clone()));
        i += 1;
    }
    Ok(out)
}

/// Runs one script file. Returns Err with the first failure.
pub fn run_file(path: &str, opts: &Options) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let numbered: Vec<(usize, String)> = text.lines().enumerate().map(|(i, l)| (i + 1, l.to_string())).collect();
    let lines = expand(&numbered).map_err(|e| format!("{path}: {e}"))?;
    userland::FAULT_MODE.store(opts.fault.is_some(), std::sync::atomic::Ordering::Relaxed);
    let mut r = Runner {
        opts,
        file: path.to_string(),
        lineno: 0,
        wires: HashMap::new(),
        nics: Vec::new(),
        jails: Vec::new(),
        marks: HashMap::new(),
        last: userland::Out::default(),
        cursor_devd: 0,
        cursor_log: 0,
        cursor_frames: HashMap::new(),
        failures_seen: 0,
        validate: Vec::new(),
        nic_count: 0,
    };
    r.settle()?;
    let mut result = Ok(());
    for (n, line) in &lines {
        r.lineno = *n;
        let words = tokenize(line);
        if words.is_empty() {
            continue;
        }
        set_position(format!("{path}:{n}: {}", line.trim()));
        if opts.verbose {
            println!("{n:>4} [{}] {}", fmt_time(sched::now_ns()), line.trim());
        }
        if let Err(e) = r.line(words) {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() {
        result = r.teardown();
    }
    let w = r.write_captures();
    if result.is_ok() {
        result = w.and_then(|()| r.run_validators());
    }
    result
}

// ---- Whole-module fuzzing (kharness --fuzz; see src/fuzz.rs) ----

/// The bytes of a fuzz program, read from the front; zeros once exhausted.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// The world every fuzz program starts from: two hosts on one wire (the second in a vnet
/// jail) sharing vhid 1 on IPv4 and IPv6, a classic carp0 with vhid 7, all elected.
const FUZZ_BASE: &[&str] = &[
    "nic em0 wire lan",
    "nic em1 wire lan",
    "jail two em1",
    "kldload carp",
    "ifconfig em0 inet 192.0.2.1/24",
    "ifconfig em0 inet6 2001:db8::1/64 no_dad",
    "jexec two ifconfig em1 inet 192.0.2.2/24",
    "jexec two ifconfig em1 inet6 2001:db8::2/64 no_dad",
    "ifconfig em0 vhid 1 pass fuzz alias 192.0.2.100/32",
    "ifconfig em0 inet6 2001:db8::100/128 vhid 1 alias",
    "jexec two ifconfig em1 vhid 1 advskew 100 pass fuzz alias 192.0.2.100/32",
    "ifconfig carp0 create",
    "ifconfig carp0 vhid 7 pass fuzz 192.0.2.50/24",
    "advance 3.5",
];

const FUZZ_SYSCTLS: &[&str] = &[
    "net.inet.carp.allow",
    "net.inet.carp.preempt",
    "net.inet.carp.log",
    "net.inet.carp.demotion",
    "net.inet.carp.arpbalance",
    "net.inet.carp.dscp",
    "net.inet.carp.ifdown_demotion_factor",
    "net.inet.carp.senderr_demotion_factor",
];

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Runner<'_> {
    /// A userland command whose outcome does not matter (only the kernel's checks do).
    fn try_command(&mut self, jail: &str, words: &[String]) -> Result<()> {
        let p = Proc { vnet: jail.to_string(), user: false };
        if self.opts.verbose {
            println!("  $ [{jail}] {}", words.join(" "));
        }
        let _ = userland::run(&p, words, &self.opts.ko);
        self.settle()
    }

    fn words(s: &str) -> Vec<String> {
        tokenize(s)
    }

    /// The last frame captured on `wire` whose type is `ty`.
    fn last_frame(&self, wire: i32, ty: &str) -> Option<Vec<u8>> {
        self.nth_last_frame(wire, ty, 0)
    }

    /// The `nth` last frame (0: the last) captured on `wire` whose type is `ty`.
    fn nth_last_frame(&self, wire: i32, ty: &str, nth: usize) -> Option<Vec<u8>> {
        records()
            .frames
            .iter()
            .rev()
            .take(400)
            .filter(|(_, w, f)| *w == wire && frames::fields(f).get("type").is_some_and(|t| t == ty))
            .nth(nth)
            .map(|(_, _, f)| f.clone())
    }

    /// Runs one operation of a fuzz program.
    fn fuzz_op(&mut self, r: &mut Reader<'_>) -> Result<()> {
        let lan = self.wire_id("lan");
        let op = r.u8();
        match op % 10 {
            0 => {
                // A captured advertisement, mutated, handed to protocol 112's pr_input as
                // ip_input would (its IP header kept consistent: ip_input checks it).
                // With bit 0x20: an older one replayed unchanged (valid, authenticated:
                // the counter and timing comparisons see real values).
                let nth = usize::from(r.u8() % 8);
                let ty = if op & 0x10 != 0 { "carp" } else { "vrrp" };
                let Some(f) = self.nth_last_frame(lan, ty, nth).or_else(|| self.last_frame(lan, "carp")) else {
                    return Ok(());
                };
                let mut pkt = f.get(14..).unwrap_or(&[]).to_vec();
                if pkt.len() < 20 || pkt[0] >> 4 != 4 {
                    return Ok(());
                }
                let mutations = if op & 0x20 != 0 { 0 } else { r.u8() % 4 + 1 };
                for _ in 0..mutations {
                    let pos = 20 + usize::from(r.u8()) % pkt.len().saturating_sub(20).max(1);
                    let x = r.u8() | 1;
                    if let Some(b) = pkt.get_mut(pos) {
                        *b ^= x;
                    }
                }
                let cut = if mutations == 0 { 0 } else { r.u8() };
                if cut & 0x80 != 0 {
                    pkt.truncate(20 + usize::from(cut & 0x7f).min(pkt.len() - 20));
                }
                let len = pkt.len() as u16;
                pkt[2..4].copy_from_slice(&len.to_be_bytes());
                let (j, n) = (kapi::cstr("host"), kapi::cstr("em0"));
                if self.opts.verbose {
                    println!("  deliver em0 20 hex {}", hexs(&pkt));
                }
                // SAFETY: a kernel call with a readable packet.
                unsafe { kapi::hk_proto_deliver(j.as_ptr(), n.as_ptr(), pkt.as_ptr(), pkt.len() as u32, 20) };
                self.settle()
            }
            1 => {
                // A captured frame (CARP, ARP, IPv6, ...), mutated, on the wire: through
                // ether_input, the ARP hook, carp_forus, IP/IPv6 input, ND.
                let ty = ["carp", "arp", "na", "ns", "icmp", "ip6", "vrrp", "carp"][usize::from(r.u8() % 8)];
                let Some(mut f) = self.last_frame(lan, ty) else { return Ok(()) };
                for _ in 0..(r.u8() % 4) {
                    let pos = usize::from(r.u8()) % f.len();
                    let x = r.u8() | 1;
                    f[pos] ^= x;
                }
                if r.u8() & 1 == 1 {
                    // A client's frame from a MAC of its own.
                    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0x99, r.u8()]);
                }
                if self.opts.verbose {
                    println!("  inject lan hex {}", hexs(&f));
                }
                self.put_frame(lan, &f)
            }
            2 => {
                let target = match r.u8() % 4 {
                    0 => "192.0.2.100".to_string(),
                    1 => "192.0.2.50".to_string(),
                    2 => "192.0.2.1".to_string(),
                    _ => format!("192.0.2.{}", r.u8()),
                };
                let client = format!("192.0.2.{}", 150 + r.u8() % 100);
                self.line(Self::words(&format!("arp-request lan from 02:00:00:00:99:{:02x} {client} who-has {target}", r.u8())))
            }
            3 | 4 => {
                // A netlink "carp" SET (op 3) or GET (op 4) with fuzzed attributes.
                let ifn = ["em0", "carp0", "em1", "lo0", "em9"][usize::from(r.u8() % 5)];
                let mut w = vec!["netlink".to_string(), if op % 10 == 3 { "set" } else { "get" }.to_string()];
                let names = ["vhid", "state", "advbase", "advskew", "key", "ifindex", "addr", "addr6", "ifname", "version", "vrrp_prio", "vrrp_adv_inter"];
                let n = r.u8() % 6;
                w.push(format!("ifname={ifn}"));
                for _ in 0..n {
                    let a = names[usize::from(r.u8()) % names.len()];
                    let v = r.u32();
                    w.push(match (a, r.u8() % 8) {
                        (_, 0) => {
                            let len = usize::from(r.u8() % 24);
                            let bytes: Vec<String> = (0..len).map(|_| format!("{:02x}", r.u8())).collect();
                            format!("{a}:raw={}", bytes.join(" "))
                        }
                        ("vhid", _) => format!("vhid={}", v % 260),
                        ("advskew" | "advbase", _) => format!("{a}={}", v % 300),
                        ("key", _) => format!("key={}", "k".repeat((v % 24) as usize)),
                        ("addr", _) => format!("addr=192.0.2.{}", v % 256),
                        ("addr6", _) => format!("addr6=2001:db8::{:x}", v % 65536),
                        ("ifname", _) => "ifname=em0".to_string(),
                        (a, _) => format!("{a}={}", v % 5000),
                    });
                }
                let jail = if ifn == "em1" { "two" } else { "host" };
                self.try_command(jail, &w)
            }
            5 => {
                let cmd = if r.u8() & 1 == 0 { "SIOCSVH" } else { "SIOCGVH" };
                let ifn = ["em0", "carp0", "em9", "lo0"][usize::from(r.u8() % 4)];
                let mut w = vec!["ioctl".to_string(), cmd.to_string(), ifn.to_string()];
                for f in ["count", "vhid", "state", "advskew", "advbase"] {
                    if r.u8() & 1 == 1 {
                        w.push(f.to_string());
                        w.push(((r.u32() % 600) as i32 - 40).to_string());
                    }
                }
                if r.u8() % 8 == 0 {
                    w.push("badptr".to_string());
                }
                self.try_command("host", &w)
            }
            6 => {
                let name = FUZZ_SYSCTLS[usize::from(r.u8()) % FUZZ_SYSCTLS.len()];
                let v = (r.u32() % 600) as i32 - 300;
                let jail = if r.u8() & 1 == 0 { "host" } else { "two" };
                self.try_command(jail, &Self::words(&format!("sysctl {name}={v}")))
            }
            7 => {
                let ms = u64::from(r.u8()) * 12;
                self.line(Self::words(&format!("advance {ms}ms")))
            }
            8 => {
                let x = r.u8();
                let v = r.u8() % 4 + 1;
                let cmd = match r.u8() % 12 {
                    0 => format!("ifconfig em0 vhid {v} pass fuzz alias 192.0.2.{}/32", 100 + x % 4),
                    1 => format!("ifconfig em0 inet 192.0.2.{} -alias", 100 + x % 4),
                    2 => format!("ifconfig em0 inet6 2001:db8::{:x}/128 vhid {v} alias", 0x100 + u32::from(x % 4)),
                    3 => format!("ifconfig em0 inet6 2001:db8::{:x} -alias", 0x100 + u32::from(x % 4)),
                    4 => "ifconfig em0 down".to_string(),
                    5 => "ifconfig em0 up".to_string(),
                    6 => format!("ifconfig carp{} create", x % 3),
                    7 => format!("ifconfig carp{} destroy", x % 3),
                    8 => format!("ifconfig carp{} vhid {} pass fuzz 192.0.2.{}/24", x % 3, 5 + v, 50 + x % 3),
                    9 => format!("ifconfig carp{} down", x % 3),
                    10 => format!("ifconfig carp{} up", x % 3),
                    _ => format!("ifconfig em0 vhid {v} state {}", if x & 1 == 0 { "master" } else { "backup" }),
                };
                self.try_command("host", &Self::words(&cmd))
            }
            _ => match r.u8() % 16 {
                0 => self.line(Self::words(&format!("cable em0 {}", if r.u8() & 1 == 0 { "down" } else { "up" }))),
                1 => self.line(Self::words(&format!("cable jail two em1 {}", if r.u8() & 1 == 0 { "down" } else { "up" }))),
                2 => {
                    // kldunload and kldload again (configuration lost, as on FreeBSD).
                    self.try_command("host", &Self::words("kldunload carp"))?;
                    self.try_command("host", &Self::words("kldload carp"))
                }
                _ => self.line(Self::words(&format!("advance {}ms", u64::from(r.u8()) * 40))),
            },
        }
    }
}

/// Runs one fuzz program: the base world, then its operations, then the teardown with
/// every check (an Err is a finding).
pub fn run_program(program: &[u8], opts: &Options) -> Result<()> {
    let mut r = Runner {
        opts,
        file: "fuzz".to_string(),
        lineno: 0,
        wires: HashMap::new(),
        nics: Vec::new(),
        jails: Vec::new(),
        marks: HashMap::new(),
        last: userland::Out::default(),
        cursor_devd: 0,
        cursor_log: 0,
        cursor_frames: HashMap::new(),
        failures_seen: 0,
        validate: Vec::new(),
        nic_count: 0,
    };
    r.settle()?;
    for (n, l) in FUZZ_BASE.iter().enumerate() {
        r.lineno = n + 1;
        set_position(format!("fuzz base: {l}"));
        r.line(tokenize(l))?;
    }
    let mut rd = Reader::new(program);
    let mut i = 0;
    while !rd.done() && i < 256 {
        i += 1;
        set_position(format!("fuzz op {i} at byte {}", rd.pos));
        r.fuzz_op(&mut rd)?;
    }
    // The invariant every program must leave: each CARP address has its loopback route
    // exactly when its vhid is MASTER (settled first: a state change's route change may
    // still be queued behind a send).
    r.line(tokenize("advance 10ms"))?;
    set_position("fuzz: final consistency".to_string());
    r.expect_consistent()?;
    r.teardown()
}

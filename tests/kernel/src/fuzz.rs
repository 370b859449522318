//! Whole-module fuzzing: generated programs (packets into protocol 112, frames on the wire
//! through Ethernet/ARP/ND input, netlink "carp" messages, SIOCSVH/SIOCGVH, sysctl writes,
//! configuration changes, time steps) run against the real carp.ko with every kernel check
//! on, guided by the coverage of an instrumented build of the module (`make ko-cov`).
//!
//! Each program runs in a fresh child process (fork, then boot the simulated kernel, load
//! the module, run, unload, check): a crash, a kernel check failure, a leak or a hang
//! (10 s) is a finding, saved with its log under DIR/crashes. Programs that reach new
//! coverage (AFL-style hit-count buckets per guard) join the corpus in DIR.
//!
//! ```text
//! kharness --ko build/cov/carp.ko --fuzz DIR [--fuzz-runs N | --fuzz-seconds S] [--seed S]
//! kharness --ko build/carp.ko --fuzz-replay FILE [-v]     one program, in this process
//! ```

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::kapi;
use crate::script;

const MAP: usize = 65536;
const MAX_LEN: usize = 768;

pub struct FuzzOpts {
    pub dir: PathBuf,
    pub runs: u64,
    pub seconds: u64,
    pub seed: u64,
    pub ko: String,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..(1 + rng.below(4)) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let n = 1 + rng.below(12);
                let b = rng.bytes(n);
                v.splice(i..i, b);
            }
            3 if v.len() > 2 => {
                let i = rng.below(v.len());
                let n = (1 + rng.below(12)).min(v.len() - i);
                v.drain(i..i + n);
            }
            4 if !v.is_empty() => {
                // Repeat a chunk (operations come in runs).
                let i = rng.below(v.len());
                let n = (1 + rng.below(16)).min(v.len() - i);
                let c = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, c);
            }
            5 if !corpus.is_empty() => {
                // Splice with another program.
                let o = &corpus[rng.below(corpus.len())];
                let a = rng.below(v.len() + 1);
                let b = rng.below(o.len() + 1);
                v.truncate(a);
                v.extend_from_slice(&o[b..]);
            }
            _ => {
                let n = 1 + rng.below(8);
                let b = rng.bytes(n);
                v.extend(b);
            }
        }
    }
    v.truncate(MAX_LEN);
    v
}

fn bucket(c: u8) -> u8 {
    match c {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4..=7 => 8,
        8..=15 => 16,
        16..=31 => 32,
        32..=127 => 64,
        _ => 128,
    }
}

fn hash(b: &[u8]) -> String {
    // FNV-1a 64, for file names.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Number of coverage guards in the module file (its __sancov_guards section), 0 if it
/// is not instrumented.
fn guards(ko: &str) -> usize {
    use object::{Object, ObjectSection};
    let Ok(data) = std::fs::read(ko) else { return 0 };
    let Ok(f) = object::File::parse(&*data) else { return 0 };
    f.sections().filter(|s| s.name().is_ok_and(|n| n == "__sancov_guards")).map(|s| s.size() as usize / 4).sum()
}

/// The child: boot, run the program, exit with its verdict (0 ok, 1 finding; a fatal
/// fault exits 3 from the harness's handlers).
fn child(program: &[u8], ko: &str, map: *mut u8, seed: u64) -> ! {
    crate::loader::reserve();
    crate::sched::init(false);
    // SAFETY: boot on the script thread, as main() does, with the shared coverage map.
    unsafe {
        kapi::hk_cov_map(map.cast());
        kapi::hk_fuzz_mode(1);
        kapi::hk_random_seed(seed);
        kapi::hk_boot();
    }
    crate::sched::settle();
    let opts = script::Options { ko: ko.to_string(), out_dir: None, fault: None, carpdump: None, tshark: false, verbose: false };
    let r = script::run_program(program, &opts);
    let _ = std::io::stdout().flush();
    match r {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("FAIL {e}");
            std::process::exit(1);
        }
    }
}

/// Runs `program` in a child; returns (exit status or -1 on timeout, the child's log).
fn exec(program: &[u8], ko: &str, map: *mut u8, log: &Path, seed: u64) -> i32 {
    // SAFETY: the map is MAP_SHARED of MAP bytes.
    unsafe { std::ptr::write_bytes(map, 0, MAP) };
    let _ = std::io::stdout().flush();
    // SAFETY: fork in a single-threaded parent (the simulated kernel is only ever booted
    // in children).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the child redirects its output to the log file.
        unsafe {
            let c = std::ffi::CString::new(log.as_os_str().to_string_lossy().as_bytes()).unwrap_or_default();
            let fd = libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644);
            if fd >= 0 {
                libc::dup2(fd, 1);
                libc::dup2(fd, 2);
                libc::close(fd);
            }
        }
        child(program, ko, map, seed);
    }
    let t0 = Instant::now();
    loop {
        let mut st = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(st) { libc::WEXITSTATUS(st) } else { 128 + libc::WTERMSIG(st) };
        }
        if t0.elapsed() > Duration::from_secs(10) {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut st, 0);
            }
            return -1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

pub fn fuzz(o: &FuzzOpts) -> i32 {
    let crashes = o.dir.join("crashes");
    let _ = std::fs::create_dir_all(&crashes);
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&o.dir) {
        let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "bin")).collect();
        names.sort();
        for p in names {
            if let Ok(b) = std::fs::read(&p) {
                corpus.push(b);
            }
        }
    }
    let mut rng = Rng(o.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let seeded = corpus.is_empty();
    if seeded {
        for _ in 0..16 {
            let n = 24 + rng.below(96);
            corpus.push(rng.bytes(n));
        }
    }
    let total_guards = guards(&o.ko);
    // SAFETY: an anonymous shared mapping for the children's coverage counters.
    let map = unsafe {
        libc::mmap(std::ptr::null_mut(), MAP, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)
    };
    if map == libc::MAP_FAILED {
        eprintln!("kharness: fuzz: mmap failed");
        return 2;
    }
    let map = map.cast::<u8>();
    let mut virgin = vec![0u8; MAP];
    let mut edges: HashSet<usize> = HashSet::new();
    let log = o.dir.join(".last.log");
    let (mut execs, mut found, mut added) = (0u64, 0u64, 0usize);
    let start = Instant::now();
    let mut last_report = Instant::now();
    let absorb = |virgin: &mut Vec<u8>, edges: &mut HashSet<usize>| -> bool {
        // SAFETY: the child has exited; the map is ours to read.
        let m = unsafe { std::slice::from_raw_parts(map, MAP) };
        let mut new = false;
        for (i, c) in m.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            let b = bucket(*c);
            if b & !virgin[i] != 0 {
                virgin[i] |= b;
                new = true;
            }
            edges.insert(i);
        }
        new
    };
    // The corpus first (a regression run: every entry must still pass).
    let initial = corpus.clone();
    for p in &initial {
        let st = exec(p, &o.ko, map, &log, o.seed);
        execs += 1;
        absorb(&mut virgin, &mut edges);
        if st != 0 {
            found += 1;
            save_crash(&crashes, p, &log, st);
        }
    }
    println!("fuzz: corpus of {} program(s){} replayed: {} edges, {} finding(s)", initial.len(), if seeded { " (generated)" } else { "" }, edges.len(), found);
    while (o.runs == 0 || execs < o.runs) && (o.seconds == 0 || start.elapsed() < Duration::from_secs(o.seconds)) {
        let base = corpus[rng.below(corpus.len())].clone();
        let p = mutate(&mut rng, &corpus, &base);
        let st = exec(&p, &o.ko, map, &log, o.seed);
        execs += 1;
        let new = absorb(&mut virgin, &mut edges);
        if st != 0 {
            found += 1;
            save_crash(&crashes, &p, &log, st);
        } else if new {
            let _ = std::fs::write(o.dir.join(format!("{}.bin", hash(&p))), &p);
            corpus.push(p);
            added += 1;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            let dt = start.elapsed().as_secs_f64();
            println!("fuzz: {execs} execs ({:.0}/s), {} edges{}, corpus {} (+{added}), {found} finding(s)", execs as f64 / dt, edges.len(), of(total_guards), corpus.len());
        }
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "fuzz: done: {execs} execs in {dt:.1} s ({:.0}/s), {} edges{}, corpus {} (+{added}), {found} finding(s)",
        execs as f64 / dt,
        edges.len(),
        of(total_guards),
        corpus.len()
    );
    i32::from(found > 0)
}

fn of(total: usize) -> String {
    if total == 0 {
        String::new()
    } else {
        format!(" of {total} guards")
    }
}

fn save_crash(dir: &Path, p: &[u8], log: &Path, st: i32) {
    let h = hash(p);
    let _ = std::fs::write(dir.join(format!("crash-{h}.bin")), p);
    let _ = std::fs::copy(log, dir.join(format!("crash-{h}.log")));
    let tail: String = std::fs::read_to_string(log).unwrap_or_default().lines().rev().take(3).collect::<Vec<_>>().join(" | ");
    println!("fuzz: FINDING (exit {st}) saved as crash-{h}.bin: {tail}");
}

/// Corpus minimisation: replays every program of `input`, then keeps a small set that
/// covers every edge (guard) any of them reached (greedy: the program adding most edges first),
/// written to `output`.
pub fn cmin(input: &Path, output: &Path, ko: &str) -> i32 {
    let Ok(rd) = std::fs::read_dir(input) else {
        eprintln!("kharness: {}: not a directory", input.display());
        return 2;
    };
    let mut progs: Vec<(PathBuf, Vec<u8>)> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    progs.sort();
    // SAFETY: as in fuzz().
    let map = unsafe { libc::mmap(std::ptr::null_mut(), MAP, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0) };
    if map == libc::MAP_FAILED {
        return 2;
    }
    let map = map.cast::<u8>();
    let log = std::env::temp_dir().join(format!("kharness-cmin-{}.log", std::process::id()));
    let mut sets: Vec<(usize, HashSet<usize>)> = Vec::new();
    for (i, (_, p)) in progs.iter().enumerate() {
        if exec(p, ko, map, &log, 1) != 0 {
            continue; // a finding is not corpus material
        }
        // SAFETY: the child has exited.
        let m = unsafe { std::slice::from_raw_parts(map, MAP) };
        let set: HashSet<usize> = m.iter().enumerate().filter(|(_, c)| **c != 0).map(|(k, _)| k).collect();
        sets.push((i, set));
    }
    let _ = std::fs::remove_file(&log);
    let mut covered: HashSet<usize> = HashSet::new();
    let mut keep = Vec::new();
    loop {
        let best = sets.iter().enumerate().max_by_key(|(_, (_, s))| s.difference(&covered).count());
        let Some((bi, (pi, s))) = best else { break };
        if s.difference(&covered).count() == 0 {
            break;
        }
        covered.extend(s.iter().copied());
        keep.push(*pi);
        sets.remove(bi);
    }
    let _ = std::fs::create_dir_all(output);
    for i in &keep {
        let (_, p) = &progs[*i];
        let _ = std::fs::write(output.join(format!("{}.bin", hash(p))), p);
    }
    println!("fuzz: cmin: {} of {} program(s) kept, covering {} edges", keep.len(), progs.len(), covered.len());
    0
}

//! Per-parent vhid table: lookup cost with 1 versus 255 vhids, and bytes of state per vhid
//! (`cargo bench -p carp-proto --bench table`).
//!
//! Measured:
//! - `table/get/{1,255}`: `Table::get(vhid)` (the O(1) index), on a table holding 1 vhid and
//!   one holding all 255; the 255-vhid case probes a different vhid on every call, spread
//!   over the whole range (so a list scan would show);
//! - `table/forus/{1,255}`: `Table::forus(dhost)`, the `carp_forus` hook: virtual-MAC prefix
//!   check, index lookup, MASTER test, for the virtual MAC of a MASTER vhid;
//! - `table/forus_foreign`: `forus` for a non-CARP MAC (the cheap prefix reject).
//!
//! Criterion prints its statistics; afterwards a self-timed summary (best of interleaved
//! rounds, robust against the noise of a shared machine) prints the 255/1 ratios against
//! the goal (flat: <= 1.2) and the bytes of state per vhid against the goal (<= 512):
//! `size_of::<Vhid>()` plus its heap parts (address lists, by capacity) for typical address
//! sets. The summary is skipped when the bench binary runs in test mode.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant as StdInstant};

use carp_proto::demotion::Demotion;
use carp_proto::table::Table;
use carp_proto::vhid::{IfName, Vhid};
use carp_proto::{virtual_mac, CarpState, Instant, SetRequest, Sysctls, Version};
use criterion::Criterion;

fn req(vhid: u8) -> SetRequest {
    SetRequest {
        vhid,
        state: None,
        advbase: None,
        advskew: Some(100),
        key: Some(*b"bench-password\0\0\0\0\0\0"),
        peer4: None,
        peer6: None,
        version: Version::Carp,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    }
}

/// A table with vhids `1..=n`, each with one IPv4 address, all MASTER.
fn table(n: u8) -> Table {
    let sys = Sysctls::default();
    let now = Instant::from_micros(0);
    let mut t = Table::new(IfName::new("em0"), Demotion::new());
    for vhid in 1..=n {
        t.set(now, &req(vhid), u64::from(vhid), &sys).unwrap();
        t.attach(now, vhid, IpAddr::V4(Ipv4Addr::new(10, 0, vhid, 1)), &sys).unwrap();
        t.get_mut(vhid).unwrap().force_state(now, CarpState::Master, &sys);
    }
    assert_eq!(t.len(), usize::from(n));
    t
}

/// Probe sequence over 1..=n, spread out (multiplicative stride coprime with 255).
fn probes(n: u8) -> Vec<u8> {
    (0..usize::from(n)).map(|i| 1 + ((i * 97) % usize::from(n)) as u8).collect()
}

fn benches(c: &mut Criterion) {
    for n in [1u8, 255] {
        let t = table(n);
        let p = probes(n);
        let macs: Vec<[u8; 6]> = p.iter().map(|&v| virtual_mac(v)).collect();
        let mut i = 0usize;
        c.bench_function(&format!("table/get/{n}"), |b| {
            b.iter(|| {
                i = (i + 1) % p.len();
                black_box(t.get(black_box(p[i])).map(Vhid::state))
            })
        });
        let mut i = 0usize;
        c.bench_function(&format!("table/forus/{n}"), |b| {
            b.iter(|| {
                i = (i + 1) % macs.len();
                black_box(t.forus(black_box(&macs[i])))
            })
        });
    }
    let t = table(255);
    let foreign = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    c.bench_function("table/forus_foreign", |b| b.iter(|| black_box(t.forus(black_box(&foreign)))));
}

fn best_ns<const N: usize>(runs: usize, iters: u32, ops: &mut [&mut dyn FnMut(usize); N]) -> [f64; N] {
    let mut best = [Duration::MAX; N];
    for _ in 0..runs {
        for (op, b) in ops.iter_mut().zip(best.iter_mut()) {
            let t = StdInstant::now();
            for i in 0..iters {
                op(i as usize);
            }
            *b = (*b).min(t.elapsed());
        }
    }
    best.map(|d| d.as_nanos() as f64 / f64::from(iters))
}

/// Bytes of one vhid with the given addresses: the struct plus its heap parts.
fn vhid_bytes(v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> (usize, usize) {
    let sys = Sysctls::default();
    let now = Instant::from_micros(0);
    let mut t = Table::new(IfName::new("em0"), Demotion::new());
    t.set(now, &req(1), 1, &sys).unwrap();
    for a in v4 {
        t.attach(now, 1, IpAddr::V4(*a), &sys).unwrap();
    }
    for a in v6 {
        t.attach(now, 1, IpAddr::V6(*a), &sys).unwrap();
    }
    let v = t.get(1).unwrap();
    (std::mem::size_of::<Vhid>(), v.heap_bytes())
}

fn summary() {
    const RUNS: usize = 200;
    const ITERS: u32 = 100_000;
    let (t1, t255) = (table(1), table(255));
    let (p1, p255) = (probes(1), probes(255));
    let (m1, m255): (Vec<_>, Vec<_>) =
        (p1.iter().map(|&v| virtual_mac(v)).collect(), p255.iter().map(|&v| virtual_mac(v)).collect());
    let [get1, get255, forus1, forus255] = best_ns(
        RUNS,
        ITERS,
        &mut [
            &mut |i| {
                black_box(t1.get(black_box(p1[i % p1.len()])).map(Vhid::state));
            },
            &mut |i| {
                black_box(t255.get(black_box(p255[i % p255.len()])).map(Vhid::state));
            },
            &mut |i| {
                black_box(t1.forus(black_box(&m1[i % m1.len()])));
            },
            &mut |i| {
                black_box(t255.forus(black_box(&m255[i % m255.len()])));
            },
        ],
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    println!("table summary (self-timed, best of {RUNS} interleaved rounds x {ITERS} calls, this run):");
    let rg = get255 / get1;
    let rf = forus255 / forus1;
    println!("  vhid lookup     : 1 vhid {get1:6.2} ns, 255 vhids {get255:6.2} ns, ratio {rg:.2} (goal <= 1.2: {})", verdict(rg <= 1.2));
    println!("  virtual-MAC match: 1 vhid {forus1:6.2} ns, 255 vhids {forus255:6.2} ns, ratio {rf:.2} (goal <= 1.2: {})", verdict(rf <= 1.2));

    let a4 = [Ipv4Addr::new(192, 0, 2, 1)];
    let a6 = ["2001:db8::1".parse::<Ipv6Addr>().unwrap()];
    for (label, v4, v6) in [
        ("1 IPv4 address", &a4[..], &[][..]),
        ("1 IPv6 address", &[][..], &a6[..]),
        ("1 IPv4 + 1 IPv6", &a4[..], &a6[..]),
    ] {
        let (s, h) = vhid_bytes(v4, v6);
        let total = s + h;
        println!(
            "  bytes per vhid ({label:15}): struct {s} + heap {h} = {total} (goal <= 512: {})",
            verdict(total <= 512)
        );
    }
    let table_fixed = std::mem::size_of::<Table>();
    println!(
        "  per-parent table: {table_fixed} bytes fixed (incl. the 256-entry vhid index) + one Vhid per vhid in a Vec"
    );
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    if bench_mode {
        summary();
    }
}

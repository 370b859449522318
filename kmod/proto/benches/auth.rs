//! CARP authentication cost per advertisement (`cargo bench -p carp-proto --bench auth`).
//!
//! Measured in the same run:
//! - one SHA-1 block compression, the unit the goals are expressed in, via the `sha1`
//!   crate's own block function (`Sha1Core::update_blocks` with exactly one 64-byte block:
//!   one call of the crate's `compress` plus a 64-bit block-counter increment; no buffering,
//!   no padding, no finalization), two ways:
//!   - `sha1/compress_1_block_fresh`: from a saved state (a 28-byte core clone) over a block
//!     whose bytes 8..16 change on every call: the shape of the work `sign` does per block.
//!     This is the unit of the goal ratios;
//!   - `sha1/compress_1_block_chained`: the same block compressed into one running state,
//!     over and over (hash-a-long-message throughput); printed for comparison.
//! - `auth/sign`, `auth/verify`: [`Authenticator`] for the ucarp-style vhid (one IPv4
//!   address): copies of the precomputed inner and outer states and of the laid-out final
//!   block, the counter written into it (three aligned words), two compressions, plus the
//!   20-byte constant-time comparison for verify.
//! - `auth/naive_hmac`: the same HMAC computed from scratch per packet
//!   ([`auth::hmac_naive`]: key schedule with its ipad and opad blocks, then message and
//!   outer hash: four compressions).
//! - `auth/sign_12_addrs`: a vhid whose prefix leaves 51 bytes in the last block, the
//!   documented 3-compression case.
//!
//! Criterion prints its own statistics; afterwards a short self-timed summary (best of
//! several runs of a tight loop, robust against the noise of a shared machine) prints the
//! ratios against the goals: sign/verify <= 2.3 compressions, precomputed >= 1.8x faster
//! than naive. The summary is skipped when the bench binary runs in test mode.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use carp_proto::auth::{self, Authenticator};
use criterion::Criterion;
use sha1::digest::core_api::{Block, UpdateCore};
use sha1::Sha1Core;

fn key() -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..8].copy_from_slice(b"s3cretpw");
    k
}

const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);

fn ucarp_auth() -> Authenticator {
    Authenticator::new(&key(), 42, &[VIP], &[])
}

/// The message prefix hashed before the counter, for the naive computation.
fn ucarp_prefix() -> Vec<u8> {
    let mut p = vec![2u8, 1, 42];
    auth::for_each_hashed_v4([VIP], |a| p.extend_from_slice(&a));
    p
}

fn one_block() -> Block<Sha1Core> {
    let mut b: Block<Sha1Core> = Default::default();
    for (i, x) in b.iter_mut().enumerate() {
        *x = i as u8;
    }
    b
}

/// One compression from a saved state over a block with 8 bytes set per call.
#[inline(always)]
fn compress_fresh(saved: &Sha1Core, block: &Block<Sha1Core>, i: u64) -> Sha1Core {
    let mut core = black_box(saved).clone();
    let mut b = *block;
    b[8..16].copy_from_slice(&i.to_be_bytes());
    core.update_blocks(std::slice::from_ref(&b));
    black_box(core)
}

fn benches(c: &mut Criterion) {
    let block = one_block();
    let saved = Sha1Core::default();
    let mut i = 0u64;
    c.bench_function("sha1/compress_1_block_fresh", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            compress_fresh(&saved, &block, i)
        })
    });
    let mut core = Sha1Core::default();
    c.bench_function("sha1/compress_1_block_chained", |b| {
        b.iter(|| core.update_blocks(std::slice::from_ref(black_box(&block))))
    });

    let a = ucarp_auth();
    assert_eq!(a.compressions_per_packet(), 2);
    let mut counter = 0u64;
    c.bench_function("auth/sign", |b| {
        b.iter(|| {
            counter = counter.wrapping_add(1);
            a.sign(black_box(counter))
        })
    });

    let md = a.sign(7);
    c.bench_function("auth/verify", |b| {
        b.iter(|| a.verify(black_box(7), black_box(&md)))
    });

    let k = key();
    let prefix = ucarp_prefix();
    let mut counter = 0u64;
    c.bench_function("auth/naive_hmac", |b| {
        b.iter(|| {
            counter = counter.wrapping_add(1);
            auth::hmac_naive(
                black_box(&k),
                &[black_box(&prefix[..]), &counter.to_be_bytes()],
            )
        })
    });

    let v4: Vec<Ipv4Addr> = (1..=12u8).map(|i| Ipv4Addr::new(10, 1, 0, i)).collect();
    let a12 = Authenticator::new(&k, 9, &v4, &[]);
    assert_eq!(a12.compressions_per_packet(), 3);
    c.bench_function("auth/sign_12_addrs", |b| b.iter(|| a12.sign(black_box(7))));
}

/// Time per call of each of `ops`, best (minimum) over `runs` rounds of `iters` calls, the
/// rounds interleaved so that every op sees the same machine load.
fn best_ns<const N: usize>(
    runs: usize,
    iters: u32,
    ops: &mut [&mut dyn FnMut(u64); N],
) -> [f64; N] {
    let mut best = [Duration::MAX; N];
    for _ in 0..runs {
        for (op, b) in ops.iter_mut().zip(best.iter_mut()) {
            let t = Instant::now();
            for i in 0..iters {
                op(u64::from(i));
            }
            *b = (*b).min(t.elapsed());
        }
    }
    best.map(|d| d.as_nanos() as f64 / f64::from(iters))
}

fn summary() {
    const RUNS: usize = 300;
    const ITERS: u32 = 10_000;
    let block = one_block();
    let saved = Sha1Core::default();
    let mut core = Sha1Core::default();
    let a = ucarp_auth();
    let md = a.sign(7);
    let k = key();
    let prefix = ucarp_prefix();

    let [fresh, chained, sign, verify, naive] = best_ns(
        RUNS,
        ITERS,
        &mut [
            &mut |i| {
                compress_fresh(&saved, &block, i);
            },
            &mut |_| core.update_blocks(std::slice::from_ref(black_box(&block))),
            &mut |i| {
                black_box(a.sign(black_box(i)));
            },
            &mut |i| {
                black_box(a.verify(black_box(i), black_box(&md)));
            },
            &mut |i| {
                black_box(auth::hmac_naive(
                    black_box(&k),
                    &[black_box(&prefix[..]), &i.to_be_bytes()],
                ));
            },
        ],
    );
    black_box(&core);

    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let (rs, rv, rn) = (sign / fresh, verify / fresh, naive / fresh);
    let speedup = naive / sign;
    println!();
    println!(
        "auth summary (self-timed, best of {RUNS} interleaved rounds x {ITERS} calls, this run):"
    );
    println!(
        "  sha1 compression, 1 block, fresh state + changed block : {fresh:7.1} ns  (the unit)"
    );
    println!("  sha1 compression, 1 block, chained throughput          : {chained:7.1} ns");
    println!(
        "  sign   (ucarp vhid) : {sign:7.1} ns = {rs:.2} compressions (goal <= 2.3: {}); {:.2} in chained units",
        verdict(rs <= 2.3),
        sign / chained
    );
    println!(
        "  verify (ucarp vhid) : {verify:7.1} ns = {rv:.2} compressions (goal <= 2.3: {}); {:.2} in chained units",
        verdict(rv <= 2.3),
        verify / chained
    );
    println!(
        "  naive per-packet HMAC: {naive:7.1} ns = {rn:.2} compressions; precomputed sign is {speedup:.2}x faster (goal >= 1.8: {})",
        verdict(speedup >= 1.8)
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

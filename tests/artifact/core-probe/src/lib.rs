//! carp-core-probe: a static proof that the WHOLE protocol core (`carp-proto`) is free of
//! panic paths when compiled for the kernel target, independently of what the kernel glue
//! (kmod/src) happens to call today.
//!
//! Every public entry point of the core is called from a `#[no_mangle] extern "C"`
//! function below, with values taken from the function's arguments (raw byte buffers and
//! scalars), so the optimiser cannot constant-fold any path away. The crate is built like
//! carp.ko's Rust part (kernel target JSON, build-std core+alloc, LTO, one codegen unit,
//! panic=abort) and linked `ld -r` into build/core-probe.o. As in kmod/src/kpi/panic.rs,
//! the panic handler calls `carp_rust_panic_path_reachable`, defined nowhere: the symbol
//! survives in the object if and only if some panic path survived optimisation, which
//! tests/artifact/check_core_probe.py rejects (along with core::panicking symbols,
//! FPU/SIMD instructions and relocations the kernel linker does not handle).
//!
//! What is deliberately NOT probed, and why:
//! - `Demotion::new` / `Demotion::default`: they allocate infallibly through `Arc::new`
//!   (a panic path on allocation failure); the kernel uses `Demotion::from_static`
//!   (documented in carp-proto's demotion module). Feature `userspace` adds them.
//! - `Debug` formatting (`{:?}`): core's Debug machinery keeps panic paths of its own.
//!   Feature `debug-fmt` adds it.
//! - `#[cfg(test)]` code and the test-only helpers of the core.
//!
//! The `bad-panic` feature adds one export with an unchecked slice index: the negative
//! proof that the check fails when a panic path exists.
#![no_std]
#![no_builtins]
#![allow(clippy::missing_safety_doc, clippy::too_many_arguments, improper_ctypes_definitions)]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::fmt::{self, Write as _};
use core::hint::black_box as bb;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp_proto::arpbalance::{self, ArpVhid, ArpVhidSet};
use carp_proto::auth::{self, Authenticator};
use carp_proto::config::{self, carpreq, legacy, netlink};
use carp_proto::demotion::{self, Demotion, DemotionReason, DemotionState};
use carp_proto::input::{self, Advert, AdvertBody, IpFacts, VhidLookup, VhidView};
use carp_proto::parent::{self, Candidate};
use carp_proto::table::{Iamatch6, Table};
use carp_proto::timer::{Timer, TimerTable};
use carp_proto::vhid::{self, Event, IfName, RouteOp, SendResult, Transmit, Vhid};
use carp_proto::wire::{self, arp, checksum, ethernet, ipv4, ipv6, ndp, vrrp};
use carp_proto::*;

// ---------------------------------------------------------------------------------------
// Panic handler and allocator (copies of kmod/src/kpi's approach, minus the kernel types)

extern "C" {
    /// Never defined anywhere: referenced only if a panic path survives optimisation.
    fn carp_rust_panic_path_reachable() -> !;
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: reachable only through a panic, which is what this probe proves impossible.
    unsafe { carp_rust_panic_path_reachable() }
}

struct ProbeAllocator;

// SAFETY: malloc returns null or a block of at least `size` bytes aligned for any
// pointer-sized object; larger alignments are refused (null), as carp.ko's allocator
// refuses alignments beyond a page.
unsafe impl GlobalAlloc for ProbeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > core::mem::align_of::<usize>() {
            return core::ptr::null_mut();
        }
        malloc(layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        free(ptr)
    }
}

#[global_allocator]
static ALLOCATOR: ProbeAllocator = ProbeAllocator;

// ---------------------------------------------------------------------------------------
// Panic-free helpers: every value comes from the caller's bytes.

unsafe fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if p.is_null() {
        &[]
    } else {
        core::slice::from_raw_parts(p, n)
    }
}

unsafe fn bytes_mut<'a>(p: *mut u8, n: usize) -> &'a mut [u8] {
    if p.is_null() {
        &mut []
    } else {
        core::slice::from_raw_parts_mut(p, n)
    }
}

/// `N` bytes of `b` from `at` (missing bytes are zero).
fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(at..) {
        for (d, s) in out.iter_mut().zip(src) {
            *d = *s;
        }
    }
    out
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn flag(b: &[u8], at: usize) -> bool {
    byte(b, at) & 1 != 0
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(arr(b, at))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arr(b, at))
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(arr(b, at))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(arr(b, at))
}

fn v4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::from(arr::<4>(b, at))
}

fn v6(b: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(arr::<16>(b, at))
}

/// An address of either family: byte `at` selects the family, then 16 address bytes.
fn ip(b: &[u8], at: usize) -> IpAddr {
    let a = at.wrapping_add(1);
    if flag(b, at) {
        IpAddr::V6(v6(b, a))
    } else {
        IpAddr::V4(v4(b, a))
    }
}

fn family(f: bool) -> Family {
    if f {
        Family::Inet6
    } else {
        Family::Inet
    }
}

fn version(f: bool) -> Version {
    if f {
        Version::Vrrp3
    } else {
        Version::Carp
    }
}

fn state(v: u8) -> CarpState {
    CarpState::from_u32(u32::from(v)).unwrap_or(CarpState::Init)
}

fn opt<T>(present: bool, v: T) -> Option<T> {
    if present {
        Some(v)
    } else {
        None
    }
}

/// Sysctls from 16 bytes.
fn sysctls(b: &[u8]) -> Sysctls {
    Sysctls {
        allow: flag(b, 0),
        preempt: flag(b, 1),
        log: byte(b, 2),
        arpbalance: flag(b, 3),
        dscp: byte(b, 4),
        demotion: i32_at(b, 5),
        senderr_demotion_factor: i32_at(b, 9),
        ifdown_demotion_factor: i32_at(b, 13),
    }
}

/// A SetRequest from 64 bytes (every optional field present or not per a flag byte).
fn set_request(b: &[u8]) -> SetRequest {
    let f = u16_at(b, 1);
    SetRequest {
        vhid: byte(b, 0),
        state: opt(f & 1 != 0, state(byte(b, 3))),
        advbase: opt(f & 2 != 0, byte(b, 4)),
        advskew: opt(f & 4 != 0, byte(b, 5)),
        key: opt(f & 8 != 0, arr(b, 6)),
        peer4: opt(f & 16 != 0, v4(b, 26)),
        peer6: opt(f & 32 != 0, v6(b, 30)),
        version: version(f & 64 != 0),
        vrrp_priority: opt(f & 128 != 0, byte(b, 46)),
        vrrp_interval_cs: opt(f & 256 != 0, u16_at(b, 47)),
    }
}

const STATUS_LEN: usize = 64;

/// A VhidStatus from 64 bytes.
fn vhid_status(b: &[u8]) -> VhidStatus {
    VhidStatus {
        vhid: byte(b, 0),
        state: state(byte(b, 1)),
        advbase: byte(b, 2),
        advskew: byte(b, 3),
        key: arr(b, 4),
        peer4: v4(b, 24),
        peer6: v6(b, 28),
        version: version(flag(b, 44)),
        vrrp_priority: byte(b, 45),
        vrrp_interval_cs: u16_at(b, 46),
    }
}

/// Up to 4 statuses from consecutive 64-byte records; returns them and how many.
fn statuses(b: &[u8]) -> ([VhidStatus; 4], usize) {
    let mut out = [vhid_status(&[]); 4];
    let mut n = 0;
    for (dst, rec) in out.iter_mut().zip(b.chunks_exact(STATUS_LEN)) {
        *dst = vhid_status(rec);
        n += 1;
    }
    (out, n)
}

fn demotion_reason(sel: u8, errno: i32, ifname: IfName) -> DemotionReason {
    match sel % 7 {
        0 => DemotionReason::InterfaceDown,
        1 => DemotionReason::InterfaceUp,
        2 => DemotionReason::SendError { errno, ifname },
        3 => DemotionReason::SendOk { ifname },
        4 => DemotionReason::VhidRemoved,
        5 => DemotionReason::Sysctl,
        _ => DemotionReason::Other("probe"),
    }
}

fn send_result(sel: u8, errno: i32) -> SendResult {
    match sel % 3 {
        0 => SendResult::Sent,
        1 => SendResult::Error(errno),
        _ => SendResult::NoMemory,
    }
}

fn errno_of<T>(r: Result<T, Errno>) -> i32 {
    match r {
        Ok(v) => {
            bb(&v);
            0
        }
        Err(e) => e.as_i32(),
    }
}

/// A `fmt::Write` into a fixed buffer; stops (with an error) when it is full.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            match self.buf.get_mut(self.len) {
                Some(d) => {
                    *d = b;
                    self.len = self.len.wrapping_add(1);
                }
                None => return Err(fmt::Error),
            }
        }
        Ok(())
    }
}

/// The (static) per-VNET demotion state, as carp.ko keeps it.
static DEMOTION: DemotionState = DemotionState::new();

fn demotion_handle() -> Demotion {
    Demotion::from_static(&DEMOTION)
}

// ---------------------------------------------------------------------------------------
// Shared vocabulary (types.rs), timers, interface names

#[no_mangle]
pub unsafe extern "C" fn probe_types(inp: *const u8, len: usize, out: *mut u8, olen: usize) -> u64 {
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let mut acc = 0u64;
    let mac: [u8; 6] = arr(b, 0);
    acc += u64::from(vhid_of_virtual_mac(&mac).unwrap_or(0));
    bb(virtual_mac(byte(b, 6)));
    let st = CarpState::from_u32(u32_at(b, 7));
    if let Some(s) = st {
        bb(s.as_str());
        bb(s.legacy_link_state());
    }
    let t = Instant::from_micros(u64_at(b, 11));
    let d = core::time::Duration::from_micros(u64_at(b, 19));
    let t2 = t.saturating_add(d);
    acc += t2.as_micros();
    acc += t2.saturating_duration_since(Instant::from_micros(u64_at(b, 27))).as_micros() as u64;
    acc += u64::from(t2 > Instant::ZERO);
    let mut stats = CarpStats([0; CARP_NSTATS]);
    for s in [
        Stat::IPackets, Stat::IPackets6, Stat::BadIf, Stat::BadTtl, Stat::HdrOps, Stat::BadSum,
        Stat::BadVer, Stat::BadLen, Stat::BadAuth, Stat::BadVhid, Stat::BadAddrs,
        Stat::OPackets, Stat::OPackets6, Stat::ONoMem, Stat::OStates, Stat::Preempt,
    ] {
        if byte(b, 35) & 1 != 0 {
            stats.bump(s);
        }
        acc += stats.get(s);
    }
    bb(Sysctls::default());
    bb(sysctls(b.get(36..).unwrap_or(&[])));
    for e in [Errno::EPERM, Errno::ENOENT, Errno::EINVAL, Errno::ENOBUFS] {
        acc += e.as_i32() as u64;
    }
    bb(demotion::effective_skew(byte(b, 52), i32_at(b, 53)));
    let name = IfName::from_bytes(b.get(57..).unwrap_or(&[]));
    let name2 = IfName::new(name.as_str());
    acc += u64::from(name == name2) + u64::from(name.is_empty()) + name.as_bytes().len() as u64;
    let mut w = Out { buf: o, len: 0 };
    let _ = write!(w, "{name}");
    let _ = write!(w, "{}", wire::Error);
    bb(IfName::default());
    bb(IfName::EMPTY);
    acc + w.len as u64
}

#[no_mangle]
pub unsafe extern "C" fn probe_timer(ops: *const u8, len: usize, now: u64) -> u64 {
    let b = bytes(ops, len);
    let mut t = TimerTable::new();
    let mut acc = 0u64;
    for (i, &op) in b.iter().enumerate() {
        let timer = match op >> 4 {
            0 => Timer::Advertise,
            1 => Timer::MasterDown4,
            2 => Timer::MasterDown6,
            _ => Timer::master_down(family(op & 0x80 != 0)),
        };
        let at = Instant::from_micros(now.wrapping_add(i as u64 * 1000));
        match op & 7 {
            0 => t.set(timer, at),
            1 => t.stop(timer),
            2 => t.stop_all(),
            3 => acc += t.get(timer).map_or(0, Instant::as_micros),
            4 => acc += u64::from(t.is_armed(timer)),
            5 => acc += t.next().map_or(0, Instant::as_micros),
            _ => {
                while let Some(x) = t.take_expired(at) {
                    acc += x as u64;
                }
            }
        }
    }
    for x in Timer::ALL {
        acc += u64::from(t.is_armed(x));
    }
    bb(TimerTable::default());
    acc
}

// ---------------------------------------------------------------------------------------
// Wire formats

#[no_mangle]
pub unsafe extern "C" fn probe_wire_checksum(inp: *const u8, len: usize, x: u64) -> u64 {
    let b = bytes(inp, len);
    let mut c = checksum::Checksum::new();
    c.add_bytes(b).add_u16(x as u16).add_u32((x >> 16) as u32);
    let mut acc = u64::from(c.sum()) + u64::from(c.finish());
    bb(checksum::Checksum::default());
    acc += u64::from(checksum::data(b));
    let mut words = [0u16; 8];
    let mut n = 0;
    for (w, c) in words.iter_mut().zip(b.chunks_exact(2)) {
        *w = u16::from_be_bytes(arr(c, 0));
        n += 1;
    }
    acc += u64::from(checksum::combine(words.get(..n).unwrap_or(&[])));
    acc += u64::from(checksum::finish(x as u16));
    acc += u64::from(checksum::verify((x >> 8) as u16));
    acc += u64::from(checksum::update(x as u16, (x >> 16) as u16, (x >> 32) as u16));
    acc += u64::from(checksum::pseudo_header_v4(&v4(b, 0), &v4(b, 4), byte(b, 8), x as u16));
    acc += u64::from(checksum::pseudo_header_v6(&v6(b, 0), &v6(b, 16), byte(b, 32), x as u32));
    acc += u64::from(checksum::pseudo_header(&ip(b, 0), &ip(b, 17), byte(b, 34), x as u32).unwrap_or(0));
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_carp(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    x: u64,
) -> u64 {
    use wire::carp;
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let p = carp::Packet::new_unchecked(b);
    bb((p.version(), p.msg_type(), p.vhid(), p.advskew(), p.authlen(), p.reserved()));
    bb((p.advbase(), p.checksum(), p.counter(), p.counter_bytes(), p.counter_words(), p.md()));
    bb((p.verify_checksum(), p.verify_header_checksum(), p.check_len().is_ok()));
    let mut acc = 0u64;
    if let Ok(pc) = carp::Packet::new_checked(b) {
        if let Ok(r) = carp::Repr::parse(&pc) {
            acc += r.buffer_len() as u64 + r.counter;
            let mut q = carp::Packet::new_unchecked(&mut *o);
            r.emit(&mut q);
        }
        bb(pc.into_inner());
    }
    {
        let mut q = carp::Packet::new_unchecked(&mut *o);
        q.set_version(x as u8);
        q.set_msg_type(carp::Type::from((x >> 8) as u8));
        q.set_vhid((x >> 16) as u8);
        q.set_advskew((x >> 24) as u8);
        q.set_authlen((x >> 32) as u8);
        q.set_reserved((x >> 40) as u8);
        q.set_advbase((x >> 48) as u8);
        q.set_checksum(x as u16);
        q.set_counter(x);
        q.set_md(&arr(b, 3));
        q.fill_checksum();
        acc += u64::from(u8::from(q.msg_type()));
    }
    let r = carp::Repr::new(x as u8, (x >> 8) as u8, (x >> 16) as u8, u64_at(b, 0), arr(b, 8));
    let dscp = (x >> 24) as u8;
    acc += carp::emit_ipv4(o, v4(b, 28), v4(b, 32), dscp, (x >> 32) as u16, &r).unwrap_or(0) as u64;
    acc += carp::emit_ipv6(o, v6(b, 36), v6(b, 52), dscp, &r).unwrap_or(0) as u64;
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_vrrp(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    addrs: *const u8,
    alen: usize,
    x: u64,
) -> u64 {
    let b = bytes(inp, len);
    let a = bytes(addrs, alen);
    let o = bytes_mut(out, olen);
    let fam = family(x & 1 != 0);
    let src = ip(a, 0);
    let dst = ip(a, 17);
    let p = vrrp::Packet::new_unchecked(b);
    bb((p.version(), p.msg_type(), p.vrid(), p.priority(), p.count(), p.max_adver_int_word()));
    bb((p.reserved(), p.max_adver_int(), p.checksum(), p.addresses(), p.verify_checksum(&src, &dst)));
    bb((p.check_len().is_ok(), p.check_addresses(fam).is_ok(), vrrp::addr_len(fam)));
    let mut acc = 0u64;
    if let Ok(r) = vrrp::Repr::parse(&p, fam) {
        let al = r.addresses;
        acc += al.len() as u64 + u64::from(al.is_empty()) + r.buffer_len() as u64;
        bb(al.family());
        for addr in al.iter() {
            bb(addr);
        }
        bb(al.get((x >> 8) as usize));
        let mut q = vrrp::Packet::new_unchecked(&mut *o);
        r.emit(&mut q, &src, &dst);
        acc += u64::from(r == r);
    }
    if let Ok(pc) = vrrp::Packet::new_checked(b) {
        bb(pc.into_inner());
    }
    {
        let mut q = vrrp::Packet::new_unchecked(&mut *o);
        q.set_version(x as u8);
        q.set_msg_type(vrrp::Type::from((x >> 8) as u8));
        q.set_vrid((x >> 16) as u8);
        q.set_priority((x >> 24) as u8);
        q.set_count((x >> 32) as u8);
        q.set_max_adver_int_word((x >> 40) as u16);
        q.set_max_adver_int((x >> 48) as u16);
        q.set_checksum(x as u16);
        if let Some(d) = q.addresses_mut().first_mut() {
            *d = x as u8;
        }
        q.fill_checksum(&src, &dst);
        acc += u64::from(u8::from(q.msg_type()));
    }
    // Typed address lists (what the state machine emits), up to 8 of each family.
    let mut l4 = [Ipv4Addr::UNSPECIFIED; 8];
    let mut l6 = [Ipv6Addr::UNSPECIFIED; 8];
    let rest = a.get(34..).unwrap_or(&[]);
    for (d, c) in l4.iter_mut().zip(rest.chunks_exact(4)) {
        *d = v4(c, 0);
    }
    for (d, c) in l6.iter_mut().zip(rest.chunks_exact(16)) {
        *d = v6(c, 0);
    }
    let n = ((x >> 56) as usize) % 9;
    let r4 = vrrp::Repr {
        vrid: x as u8,
        priority: (x >> 8) as u8,
        max_adver_int_cs: (x >> 16) as u16,
        addresses: vrrp::Addresses::Ipv4(l4.get(..n).unwrap_or(&[])),
    };
    let r6 = vrrp::Repr { addresses: vrrp::Addresses::Ipv6(l6.get(..n).unwrap_or(&[])), ..r4 };
    let dscp = (x >> 32) as u8;
    acc += vrrp::emit_ipv4(o, v4(a, 1), v4(a, 18), dscp, (x >> 40) as u16, &r4).unwrap_or(0) as u64;
    acc += vrrp::emit_ipv6(o, v6(a, 1), v6(a, 18), dscp, &r6).unwrap_or(0) as u64;
    acc += u64::from(r4.addresses == r6.addresses);
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_ipv4(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    x: u64,
) -> u64 {
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let p = ipv4::Packet::new_unchecked(b);
    bb((p.version(), p.header_len(), p.tos(), p.dscp(), p.ecn(), p.total_len(), p.ident()));
    bb((p.dont_frag(), p.more_frags(), p.frag_offset(), p.ttl(), p.protocol(), p.checksum()));
    bb((p.src_addr(), p.dst_addr(), p.verify_checksum(), p.payload(), p.check_len().is_ok()));
    let mut acc = 0u64;
    if let Ok(pc) = ipv4::Packet::new_checked(b) {
        if let Ok(r) = ipv4::Repr::parse(&pc) {
            acc += r.buffer_len() as u64;
            r.emit(&mut ipv4::Packet::new_unchecked(&mut *o));
        }
        bb(pc.into_inner());
    }
    {
        let mut q = ipv4::Packet::new_unchecked(&mut *o);
        q.set_version_and_header_len(x as u8, (x >> 8) as usize & 0xff);
        q.set_tos((x >> 16) as u8);
        q.set_dscp((x >> 24) as u8);
        q.set_total_len((x >> 32) as u16);
        q.set_ident((x >> 48) as u16);
        q.set_dont_frag_unfragmented(x & 1 != 0);
        q.set_ttl((x >> 3) as u8);
        q.set_protocol((x >> 5) as u8);
        q.set_checksum(x as u16);
        q.set_src_addr(v4(b, 0));
        q.set_dst_addr(v4(b, 4));
        q.fill_checksum();
        if let Some(d) = q.payload_mut().first_mut() {
            *d = x as u8;
        }
    }
    let r = ipv4::Repr {
        src_addr: v4(b, 8),
        dst_addr: v4(b, 12),
        protocol: x as u8,
        payload_len: (x >> 8) as usize & 0xffff,
        ttl: (x >> 24) as u8,
        dscp: (x >> 32) as u8,
        ident: (x >> 40) as u16,
        dont_frag: x & 2 != 0,
    };
    r.emit(&mut ipv4::Packet::new_unchecked(&mut *o));
    let hdr = ipv4::emit_carp_header(o, v4(b, 16), v4(b, 20), x as u8, (x >> 8) as u16, (x >> 24) as usize & 0xffff);
    acc += hdr.map_or(0, |rest| rest.len() as u64);
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_ipv6(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    x: u64,
) -> u64 {
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let p = ipv6::Packet::new_unchecked(b);
    bb((p.version(), p.traffic_class(), p.dscp(), p.flow_label(), p.payload_len()));
    bb((p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr(), p.payload(), p.check_len().is_ok()));
    let mut acc = 0u64;
    if let Ok(pc) = ipv6::Packet::new_checked(b) {
        if let Ok(r) = ipv6::Repr::parse(&pc) {
            acc += r.buffer_len() as u64;
            r.emit(&mut ipv6::Packet::new_unchecked(&mut *o));
        }
        bb(pc.into_inner());
    }
    {
        let mut q = ipv6::Packet::new_unchecked(&mut *o);
        q.set_version(x as u8);
        q.set_traffic_class((x >> 8) as u8);
        q.set_flow_label((x >> 16) as u32);
        q.set_payload_len((x >> 32) as u16);
        q.set_next_header((x >> 40) as u8);
        q.set_hop_limit((x >> 48) as u8);
        q.set_src_addr(v6(b, 0));
        q.set_dst_addr(v6(b, 16));
        if let Some(d) = q.payload_mut().first_mut() {
            *d = x as u8;
        }
    }
    let r = ipv6::Repr {
        src_addr: v6(b, 32),
        dst_addr: v6(b, 48),
        next_header: x as u8,
        payload_len: (x >> 8) as usize & 0xffff,
        hop_limit: (x >> 24) as u8,
        dscp: (x >> 32) as u8,
    };
    r.emit(&mut ipv6::Packet::new_unchecked(&mut *o));
    bb(ipv6::solicited_node(&v6(b, 64)));
    bb(ipv6::LINK_LOCAL_ALL_NODES);
    let hdr = ipv6::emit_header(o, v6(b, 80), v6(b, 96), x as u8, (x >> 8) as u8, (x >> 16) as usize & 0xffff);
    acc += hdr.map_or(0, |rest| rest.len() as u64);
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_ethernet(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    x: u64,
) -> u64 {
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let f = ethernet::Frame::new_unchecked(b);
    bb((f.dst_addr(), f.src_addr(), f.ethertype(), f.payload(), f.check_len().is_ok()));
    let mut acc = 0u64;
    if let Ok(fc) = ethernet::Frame::new_checked(b) {
        if let Ok(r) = ethernet::Repr::parse(&fc) {
            acc += r.buffer_len() as u64;
            r.emit(&mut ethernet::Frame::new_unchecked(&mut *o));
        }
        bb(fc.into_inner());
    }
    {
        let mut q = ethernet::Frame::new_unchecked(&mut *o);
        q.set_dst_addr(arr(b, 0));
        q.set_src_addr(arr(b, 6));
        q.set_ethertype(ethernet::EtherType::from(x as u16));
        if let Some(d) = q.payload_mut().first_mut() {
            *d = x as u8;
        }
    }
    let r = ethernet::Repr {
        src_addr: arr(b, 12),
        dst_addr: arr(b, 18),
        ethertype: ethernet::EtherType::from((x >> 16) as u16),
    };
    acc += u64::from(u16::from(r.ethertype));
    acc += ethernet::emit_header(o, &r).map_or(0, |rest| rest.len() as u64);
    acc += u64::from(ethernet::is_multicast(&arr(b, 24)));
    bb(ethernet::ipv4_multicast_mac(v4(b, 30)));
    bb(ethernet::ipv6_multicast_mac(v6(b, 34)));
    bb(ethernet::BROADCAST);
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_arp(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    x: u64,
) -> u64 {
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let p = arp::Packet::new_unchecked(b);
    bb((p.hardware_type(), p.protocol_type(), p.hardware_len(), p.protocol_len(), p.operation()));
    bb((p.source_hardware_addr(), p.source_protocol_addr(), p.target_hardware_addr()));
    bb((p.target_protocol_addr(), p.check_len().is_ok()));
    let mut acc = 0u64;
    if let Ok(pc) = arp::Packet::new_checked(b) {
        if let Ok(r) = arp::Repr::parse(&pc) {
            acc += r.buffer_len() as u64 + u64::from(r.is_gratuitous());
            bb(r.reply_to(arr(b, 0)));
            r.emit(&mut arp::Packet::new_unchecked(&mut *o));
        }
        bb(pc.into_inner());
    }
    {
        let mut q = arp::Packet::new_unchecked(&mut *o);
        q.set_hardware_type(x as u16);
        q.set_protocol_type((x >> 16) as u16);
        q.set_hardware_len((x >> 32) as u8);
        q.set_protocol_len((x >> 40) as u8);
        q.set_operation(arp::Operation::from((x >> 48) as u16));
        q.set_source_hardware_addr(arr(b, 0));
        q.set_source_protocol_addr(v4(b, 6));
        q.set_target_hardware_addr(arr(b, 10));
        q.set_target_protocol_addr(v4(b, 16));
    }
    let req = arp::Repr::request(arr(b, 20), v4(b, 26), v4(b, 30));
    let rep = arp::Repr::reply(arr(b, 34), v4(b, 40), arr(b, 44), v4(b, 50));
    let gra = arp::Repr::gratuitous(arr(b, 54), v4(b, 60));
    let which = match x % 3 {
        0 => req,
        1 => rep,
        _ => gra,
    };
    acc += u64::from(u16::from(which.operation));
    acc += arp::emit_frame(o, arr(b, 64), arr(b, 70), &which).unwrap_or(0) as u64;
    if let Ok((eth, r)) = arp::parse_frame(b) {
        bb((eth, r));
    }
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_wire_ndp(
    inp: *const u8,
    len: usize,
    out: *mut u8,
    olen: usize,
    addrs: *const u8,
    alen: usize,
    x: u64,
) -> u64 {
    let b = bytes(inp, len);
    let a = bytes(addrs, alen);
    let o = bytes_mut(out, olen);
    let (src, dst) = (v6(a, 0), v6(a, 16));
    let p = ndp::Packet::new_unchecked(b);
    bb((p.msg_type(), p.msg_code(), p.checksum(), p.flags(), p.reserved_word(), p.target_addr()));
    bb((p.options(), p.verify_checksum(&src, &dst), p.check_len().is_ok()));
    let mut acc = 0u64;
    for opt in p.option_iter() {
        if let Ok(opt) = opt {
            acc += u64::from(opt.kind) + opt.data.len() as u64;
            bb(opt.lladdr());
        }
    }
    if let Ok(pc) = ndp::Packet::new_checked(b) {
        if let Ok(r) = ndp::Repr::parse(&pc, &src, &dst) {
            acc += r.buffer_len() as u64;
            r.emit(&mut ndp::Packet::new_unchecked(&mut *o), &src, &dst);
        }
        bb(pc.into_inner());
    }
    {
        let mut q = ndp::Packet::new_unchecked(&mut *o);
        q.set_msg_type(ndp::Message::from(x as u8));
        q.set_msg_code((x >> 8) as u8);
        q.set_checksum((x >> 16) as u16);
        q.set_flags(ndp::NeighborFlags::from_bits_truncate((x >> 32) as u8));
        q.set_target_addr(v6(a, 32));
        if let Some(d) = q.options_mut().first_mut() {
            *d = x as u8;
        }
        q.fill_checksum(&src, &dst);
        acc += u64::from(u8::from(q.msg_type()));
    }
    let lladdr = opt(x & 2 != 0, arr(a, 48));
    let nd = if x & 1 != 0 {
        ndp::Repr::NeighborSolicit { target_addr: v6(a, 54), source_lladdr: lladdr }
    } else {
        ndp::Repr::NeighborAdvert {
            flags: ndp::NeighborFlags::from_bits_truncate((x >> 40) as u8),
            target_addr: v6(a, 54),
            target_lladdr: lladdr,
        }
    };
    acc += ndp::emit_ipv6(o, v6(a, 70), v6(a, 86), &nd).unwrap_or(0) as u64;
    let router = x & 4 != 0;
    acc += ndp::emit_unsolicited_na(o, v6(a, 0), v6(a, 16), arr(a, 32), router).unwrap_or(0) as u64;
    bb(ndp::answer_ns(v6(a, 38), v6(a, 54), arr(a, 70), router));
    if let Ok((ip6, r)) = ndp::parse_ipv6(b) {
        bb((ip6, r));
    }
    acc
}

// ---------------------------------------------------------------------------------------
// Authentication

#[no_mangle]
pub unsafe extern "C" fn probe_auth(
    key: *const u8,
    addrs: *const u8,
    alen: usize,
    n4: usize,
    vhid: u8,
    counter: u64,
    md: *const u8,
) -> u64 {
    let k: [u8; CARP_KEY_LEN] = arr(bytes(key, CARP_KEY_LEN), 0);
    let a = bytes(addrs, alen);
    let m: [u8; auth::MD_LEN] = arr(bytes(md, auth::MD_LEN), 0);
    // IPv4 addresses first (n4 of them), then IPv6 ones.
    let split = n4.saturating_mul(4).min(a.len());
    let (a4, a6) = a.split_at(split);
    let mut l4 = [Ipv4Addr::UNSPECIFIED; 8];
    let mut l6 = [Ipv6Addr::UNSPECIFIED; 8];
    let mut c4 = 0;
    let mut c6 = 0;
    for (d, c) in l4.iter_mut().zip(a4.chunks_exact(4)) {
        *d = v4(c, 0);
        c4 += 1;
    }
    for (d, c) in l6.iter_mut().zip(a6.chunks_exact(16)) {
        *d = v6(c, 0);
        c6 += 1;
    }
    let au = Authenticator::new(&k, vhid, l4.get(..c4).unwrap_or(&[]), l6.get(..c6).unwrap_or(&[]));
    let sig = au.sign(counter);
    let mut acc = u64::from(au.verify(counter, &m)) + au.prefix_len() as u64;
    acc += u64::from(au.compressions_per_packet());
    acc += u64::from(auth::ct_eq(&sig, &m));
    let au2 = Authenticator::from_iters(
        &k,
        vhid,
        a4.chunks_exact(4).map(|c| v4(c, 0)),
        a6.chunks_exact(16).map(|c| v6(c, 0)),
    );
    acc += u64::from(au2.verify(counter.wrapping_add(1), &sig));
    let au3 = au2.clone();
    bb(au3.sign(counter));
    auth::for_each_hashed_v4(a4.chunks_exact(4).map(|c| v4(c, 0)), |x| {
        bb(x);
    });
    auth::for_each_hashed_v6(a6.chunks_exact(16).map(|c| v6(c, 0)), |x| {
        bb(x);
    });
    bb(auth::scope_cleared(&v6(a, 0)));
    let h = auth::hmac_naive(&k, &[a4, a6, &counter.to_be_bytes()]);
    acc += u64::from(h.first().copied().unwrap_or(0));
    acc
}

// ---------------------------------------------------------------------------------------
// Configuration: carpreq, netlink, interface checks, legacy carpN

#[no_mangle]
pub unsafe extern "C" fn probe_config_carpreq(
    req: *const u8,
    rlen: usize,
    sts: *const u8,
    slen: usize,
    privileged: bool,
    out: *mut u8,
    olen: usize,
) -> i64 {
    let b = bytes(req, rlen);
    let o = bytes_mut(out, olen);
    let (all, n) = statuses(bytes(sts, slen));
    let all = all.get(..n).unwrap_or(&[]);
    let mut acc = 0i64;
    match carpreq::decode(b) {
        Ok(r) => {
            bb(r.encode());
            acc += i64::from(errno_of(r.emit(&mut *o)));
            acc += i64::from(errno_of(r.set_request()));
            acc += i64::from(errno_of(r.get_query()));
            acc += i64::from(errno_of(carpreq::ioctl_set(&r, privileged)));
            let some = if privileged { Some(all) } else { None };
            match carpreq::ioctl_get(&r, some, privileged, o) {
                Ok(k) => acc += k as i64,
                Err(e) => acc += i64::from(e.as_i32()),
            }
        }
        Err(e) => acc += i64::from(e.as_i32()),
    }
    if let Some(s) = all.first() {
        bb(carpreq::CarpReq::from_status(s, i32_at(b, 0), privileged).encode());
    }
    bb(carpreq::CarpReq::default());
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_config_netlink(
    msg: *const u8,
    mlen: usize,
    st: *const u8,
    privileged: bool,
    out: *mut u8,
    olen: usize,
) -> i64 {
    let b = bytes(msg, mlen);
    let o = bytes_mut(out, olen);
    let status = vhid_status(bytes(st, STATUS_LEN));
    let mut acc = 0i64;
    match netlink::NlMsgHeader::parse(b) {
        Ok(h) => {
            acc += i64::from(errno_of(h.emit(&mut *o)));
            let rh = netlink::ReplyHeader::for_get_reply(&h);
            match netlink::encode_status(&rh, &status, privileged, &mut *o) {
                Ok(k) => acc += k as i64,
                Err(e) => acc += i64::from(e.as_i32()),
            }
        }
        Err(e) => acc += i64::from(e.as_i32()),
    }
    if let Ok(payload) = netlink::payload_of(b) {
        for a in netlink::Attrs::new(payload) {
            if let Ok(a) = a {
                acc += i64::from(a.ty) + a.data.len() as i64 + a.padded.len() as i64;
            }
        }
        if let Ok(p) = netlink::parse_payload(payload) {
            bb(p.iface().name_str());
            bb(p);
        }
        acc += i64::from(errno_of(netlink::decode_set_payload(payload)));
        acc += i64::from(errno_of(netlink::decode_get_payload(payload)));
        acc += i64::from(errno_of(netlink::decode_status_payload(payload)));
    }
    match netlink::decode_set(b) {
        Ok(c) => {
            bb(c.iface.name_str());
            bb(c.request);
        }
        Err(e) => acc += i64::from(e.as_i32()),
    }
    match netlink::decode_get(b) {
        Ok(c) => {
            acc += i64::from(errno_of(c.query()));
            bb(c.iface.name_str());
        }
        Err(e) => acc += i64::from(e.as_i32()),
    }
    acc += netlink::status_attrs_len(&status, privileged) as i64;
    acc += netlink::status_msg_len(&status, privileged) as i64;
    acc += i64::from(errno_of(netlink::encode_status_attrs(&status, privileged, &mut *o)));
    acc += i64::from(errno_of(netlink::encode_status_payload(&status, privileged, &mut *o)));
    acc += netlink::align4(mlen) as i64;
    bb(netlink::Parsed::default());
    bb(netlink::NlMsgHeader::default());
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_config_checks(inp: *const u8, len: usize, sts: *const u8, slen: usize) -> i64 {
    let b = bytes(inp, len);
    let (all, n) = statuses(bytes(sts, slen));
    let all = all.get(..n).unwrap_or(&[]);
    let iface = opt(
        flag(b, 0),
        config::Interface { if_type: byte(b, 1), if_flags: u32_at(b, 2), carp_clone: flag(b, 6) },
    );
    let op = match byte(b, 7) % 4 {
        0 => config::Op::IoctlSet,
        1 => config::Op::IoctlGet,
        2 => config::Op::NetlinkSet,
        _ => config::Op::NetlinkGet,
    };
    let mut acc = i64::from(errno_of(config::check_interface(iface, op)));
    acc += i64::from(errno_of(config::check_privilege(flag(b, 8))));
    acc += i64::from(errno_of(config::attach_check(byte(b, 9), flag(b, 10), flag(b, 11))));
    match config::GetQuery::new(i64::from(i32_at(b, 12)), i64::from(i32_at(b, 16))) {
        Ok(q) => {
            let some = opt(flag(b, 20), all);
            match config::select(&q, some) {
                Ok(sel) => {
                    acc += sel.len() as i64 + i64::from(sel.is_empty());
                    for s in sel.iter() {
                        bb(s);
                    }
                }
                Err(e) => acc += i64::from(e.as_i32()),
            }
        }
        Err(e) => acc += i64::from(e.as_i32()),
    }
    acc
}

#[no_mangle]
pub unsafe extern "C" fn probe_config_legacy(
    inp: *const u8,
    len: usize,
    siblings: *const u8,
    nsib: usize,
    modern: *const u8,
    nmod: usize,
    out: *mut u8,
    olen: usize,
) -> i64 {
    let b = bytes(inp, len);
    let o = bytes_mut(out, olen);
    let pv = legacy::ParentVhids { siblings: bytes(siblings, nsib), modern: bytes(modern, nmod) };
    let cur = legacy::CarpIf { vhid: opt(flag(b, 0), byte(b, 1)), parent: opt(flag(b, 2), pv) };
    let vhid = byte(b, 3);
    let mut acc = i64::from(errno_of(legacy::check_vhid_free(vhid, cur.parent.as_ref())));
    acc += i64::from(errno_of(legacy::check_modern_set(vhid, pv.siblings)));
    if let Ok(req) = carpreq::decode(b.get(4..).unwrap_or(&[])) {
        match legacy::ioctl_set(&req, &cur, flag(b, 44)) {
            Ok(ch) => {
                acc += i64::from(ch.renumber);
                bb(ch.set_request());
            }
            Err(e) => acc += i64::from(e.as_i32()),
        }
    }
    let sr = set_request(b.get(45..).unwrap_or(&[]));
    match legacy::netlink_set(&sr, &cur) {
        Ok(ch) => bb(ch.set_request()).map_or(0, |r| r.vhid),
        Err(e) => e.as_i32() as u8,
    };
    acc += i64::from(errno_of(legacy::attach_check(vhid, cur.vhid, &pv)));
    let st = legacy::CarpIfStatus {
        vhid: cur.vhid,
        state: state(byte(b, 109)),
        advbase: byte(b, 110),
        advskew: byte(b, 111),
        key: arr(b, 112),
    };
    let enc = legacy::ioctl_get(&st, flag(b, 132));
    for (d, s) in o.iter_mut().zip(enc.iter()) {
        *d = *s;
    }
    bb(legacy::ioctl_get(&legacy::CarpIfStatus::default(), false));
    if let Ok(q) = config::GetQuery::new(i64::from(byte(b, 133)), i64::from(byte(b, 134))) {
        acc += i64::from(errno_of(legacy::get_select(&q, cur.vhid)));
    }
    bb(legacy::ParentVhids::default());
    acc
}

// ---------------------------------------------------------------------------------------
// Legacy decisions: parent discovery, ARP balancing

const CAND_LEN: usize = 27;

#[no_mangle]
pub unsafe extern "C" fn probe_parent(
    vip: *const u8,
    cands: *const u8,
    clen: usize,
    current: u32,
    has_current: bool,
) -> i64 {
    let vip = ip(bytes(vip, 17), 0);
    let c = bytes(cands, clen);
    // Records: iface u32, address (family byte + 16), prefix, flags u32, on_carp, raw-mask.
    let blank = Candidate::with_prefix(0u32, IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0, 0, false);
    let mut list = [blank; 8];
    let mut n = 0;
    for (d, r) in list.iter_mut().zip(c.chunks_exact(CAND_LEN)) {
        let addr = ip(r, 4);
        *d = if flag(r, 26) {
            Candidate { iface: u32_at(r, 0), addr, mask: ip(r, 4), if_flags: u32_at(r, 22), on_carp: flag(r, 21) }
        } else {
            Candidate::with_prefix(u32_at(r, 0), addr, byte(r, 21), u32_at(r, 22), flag(r, 26))
        };
        n += 1;
    }
    match parent::find_parent(vip, list.get(..n).unwrap_or(&[]), opt(has_current, current)) {
        Ok(ch) => i64::from(ch.iface) + ch.index as i64 + i64::from(ch.owner),
        Err(e) => -i64::from(e.as_i32()),
    }
}

#[no_mangle]
pub unsafe extern "C" fn probe_arpbalance(
    vhids: *const u8,
    vlen: usize,
    addrs: *const u8,
    alen: usize,
    source: u32,
    target: u32,
    balance: bool,
) -> i64 {
    let v = bytes(vhids, vlen);
    let a = bytes(addrs, alen);
    let mut l4 = [Ipv4Addr::UNSPECIFIED; 8];
    let mut c4 = 0;
    for (d, c) in l4.iter_mut().zip(a.chunks_exact(4)) {
        *d = v4(c, 0);
        c4 += 1;
    }
    let l4 = l4.get(..c4).unwrap_or(&[]);
    let blank = ArpVhid { vhid: 0, running: false, owns_target: false, master: false };
    let mut list = [blank; 16];
    let mut n = 0;
    for (d, r) in list.iter_mut().zip(v.chunks_exact(2)) {
        let f = byte(r, 1);
        *d = if f & 8 != 0 {
            ArpVhid::with_addrs(byte(r, 0), f & 1 != 0, f & 2 != 0, l4, Ipv4Addr::from(target))
        } else {
            ArpVhid { vhid: byte(r, 0), running: f & 1 != 0, owns_target: f & 4 != 0, master: f & 2 != 0 }
        };
        n += 1;
    }
    let list = list.get(..n).unwrap_or(&[]);
    // The kernel's form: the fixed-size set, filled entry by entry.
    let mut set = ArpVhidSet::new();
    for e in list {
        set.insert(*e);
    }
    bb(set.count());
    bb(set.decide(balance, Ipv4Addr::from(source)));
    match arpbalance::decide(balance, Ipv4Addr::from(source), list) {
        Some(vh) => i64::from(arpbalance::answer_mac(vh).iter().map(|&x| u32::from(x)).sum::<u32>()),
        None => -1,
    }
}

// ---------------------------------------------------------------------------------------
// Demotion

#[no_mangle]
pub unsafe extern "C" fn probe_demotion(
    amount: i32,
    sel: u8,
    errno: i32,
    name: *const u8,
    nlen: usize,
    out: *mut u8,
    olen: usize,
) -> i64 {
    let ifname = IfName::from_bytes(bytes(name, nlen));
    let o = bytes_mut(out, olen);
    let mut w = Out { buf: o, len: 0 };
    let d = demotion_handle();
    let d2 = d.clone();
    let mut acc = i64::from(d.value()) + i64::from(d.suppress_preempt());
    acc += i64::from(d.same_as(&d2));
    let ch = d.adjust(amount, demotion_reason(sel, errno, ifname));
    let _ = write!(w, "{ch}");
    acc += i64::from(ch.should_log(sel));
    let (token, ch2) = d2.demote(amount.wrapping_add(1), demotion_reason(sel >> 3, errno, ifname));
    let _ = write!(w, "{ch2} {}", ch2.reason);
    acc += i64::from(token.amount()) + i64::from(d.effective_skew(sel));
    if sel & 0x80 != 0 {
        let ch3 = token.release(demotion_reason(sel >> 1, errno, ifname));
        let _ = write!(w, "{ch3}");
    } else {
        drop(token);
    }
    // The administrator's adjustment is undone so the static state is left unchanged.
    let back = d.adjust(amount.wrapping_neg(), DemotionReason::Sysctl);
    acc += i64::from(back.value);
    acc + w.len as i64
}

// ---------------------------------------------------------------------------------------
// Table, vhid state machine, input pipeline

/// A new empty table on a parent named by `name`, or null when memory is short.
#[no_mangle]
pub unsafe extern "C" fn probe_table_new(name: *const u8, nlen: usize) -> *mut Table {
    let p = alloc::alloc::alloc(Layout::new::<Table>()).cast::<Table>();
    if !p.is_null() {
        p.write(Table::new(IfName::from_bytes(bytes(name, nlen)), demotion_handle()));
    }
    p
}

#[no_mangle]
pub unsafe extern "C" fn probe_table_free(t: *mut Table) {
    if !t.is_null() {
        core::ptr::drop_in_place(t);
        alloc::alloc::dealloc(t.cast(), Layout::new::<Table>());
    }
}

/// Drain a vhid removed from a table (its final events) and drop it.
fn drain_destroyed(mut v: Vhid, w: &mut Out<'_>) {
    while let Some(e) = v.poll_event() {
        let _ = write!(w, "{e}");
    }
    while let Some(r) = v.poll_route() {
        bb(r);
    }
    drop(v);
}

#[no_mangle]
pub unsafe extern "C" fn probe_table_config(
    t: *mut Table,
    op: u8,
    req: *const u8,
    rlen: usize,
    sys: *const u8,
    seed: u64,
    now: u64,
    log: *mut u8,
    llen: usize,
) -> i32 {
    let Some(t) = t.as_mut() else { return -1 };
    let b = bytes(req, rlen);
    let s = sysctls(bytes(sys, 16));
    let now = Instant::from_micros(now);
    let mut w = Out { buf: bytes_mut(log, llen), len: 0 };
    match op % 6 {
        0 => errno_of(t.set(now, &set_request(b), seed, &s)),
        5 => errno_of(t.renumber(now, byte(b, 0), byte(b, 1))),
        1 => match t.attach(now, byte(b, 0), ip(b, 1), &s) {
            Ok(a) => i32::from(a.join_multicast),
            Err(e) => e.as_i32(),
        },
        2 => match t.detach(now, byte(b, 0), &ip(b, 1), flag(b, 18), &s) {
            Ok(d) => {
                let r = i32::from(d.vhid) + i32::from(d.leave_multicast);
                if let Some(v) = d.destroyed {
                    drain_destroyed(v, &mut w);
                }
                r
            }
            Err(e) => e.as_i32(),
        },
        3 => match t.remove(byte(b, 0)) {
            Some(v) => {
                drain_destroyed(v, &mut w);
                1
            }
            None => 0,
        },
        _ => errno_of(t.attach_check(byte(b, 0), family(flag(b, 1)))),
    }
}

#[no_mangle]
pub unsafe extern "C" fn probe_table_inputs(
    t: *mut Table,
    op: u8,
    a: bool,
    b: bool,
    sys: *const u8,
    now: u64,
) -> u64 {
    let Some(t) = t.as_mut() else { return 0 };
    let s = sysctls(bytes(sys, 16));
    let now = Instant::from_micros(now);
    match op % 5 {
        0 => t.handle_parent(now, a, b, &s),
        1 => t.set_parent_flags(a, b),
        2 => t.handle_allow(now, &s),
        3 => return t.handle_demotion_change(now) as u64,
        _ => t.handle_timeout(now, &s),
    }
    t.poll_timeout().map_or(0, Instant::as_micros)
}

#[no_mangle]
pub unsafe extern "C" fn probe_table_lookup(t: *const Table, q: *const u8, qlen: usize) -> u64 {
    let Some(t) = t.as_ref() else { return 0 };
    let b = bytes(q, qlen);
    let vhid = byte(b, 0);
    let mut acc = u64::from(t.forus(&arr(b, 1)));
    acc += u64::from(t.is_master(vhid));
    acc += t.iamatch(vhid).map_or(0, |m| u64::from(m[5]));
    let a4 = v4(b, 7);
    let a6 = v6(b, 11);
    acc += t.iamatch_v4(&a4).map_or(0, |(v, _)| u64::from(v));
    acc += u64::from(t.master_for(&ip(b, 27)));
    acc += match t.iamatch6(&a6) {
        Iamatch6::NotCarp => 1,
        Iamatch6::Backup => 2,
        Iamatch6::Master { vhid, mac } => u64::from(vhid) + u64::from(mac[0]),
    };
    acc += t.macmatch6(&a6).map_or(0, |(v, _)| u64::from(v));
    acc += t.vhid_of(&ip(b, 27)).map_or(0, u64::from);
    acc += t.state(vhid).map_or(0, |s| s as u64);
    acc += t.len() as u64 + u64::from(t.is_empty());
    acc += u64::from(t.address_count(Family::Inet)) + u64::from(t.address_count(Family::Inet6));
    acc += t.ifname().as_bytes().len() as u64 + t.demotion().value() as u64;
    acc += t.get(vhid).map_or(0, |v| v.counter());
    for v in t.iter() {
        acc += u64::from(v.vhid());
    }
    let fam = family(flag(b, 44));
    if let Some(v) = VhidLookup::find(t, fam, vhid) {
        acc += VhidView::version(v) as u64;
        acc += u64::from(VhidView::advert_dest_is_multicast(v, fam));
        acc += u64::from(VhidView::verify(v, u64_at(b, 45), &arr(b, 53)));
    }
    acc += u64::from(t.source_is_self(&ip(b, 27)));
    acc
}

/// GET: every status (or one vhid's) encoded as the kernel glue does, carpreq and netlink.
#[no_mangle]
pub unsafe extern "C" fn probe_table_status(
    t: *const Table,
    vhid: u8,
    one: bool,
    privileged: bool,
    out: *mut u8,
    olen: usize,
    seq: u32,
) -> i64 {
    let Some(t) = t.as_ref() else { return 0 };
    let o = bytes_mut(out, olen);
    let mut acc = 0i64;
    match t.status(opt(one, vhid)) {
        Ok(it) => {
            acc += it.len() as i64;
            let rh = netlink::ReplyHeader { family_id: 30, flags: 2, seq, pid: 0 };
            let mut off = 0usize;
            for s in it {
                let chunk = o.get_mut(off..).unwrap_or(&mut []);
                let n = netlink::encode_status(&rh, &s, privileged, chunk).unwrap_or(0);
                off = off.saturating_add(n);
                let req = carpreq::CarpReq::from_status(&s, 1, privileged);
                acc += i64::from(errno_of(req.emit(o.get_mut(off..).unwrap_or(&mut []))));
            }
            acc += off as i64;
        }
        Err(e) => acc -= i64::from(e.as_i32()),
    }
    acc
}

/// One input into one vhid (through the table), selected by `op`.
#[no_mangle]
pub unsafe extern "C" fn probe_vhid_input(
    t: *mut Table,
    vhid: u8,
    op: u8,
    arg: *const u8,
    alen: usize,
    sys: *const u8,
    now: u64,
    stats: *mut u64,
) -> i32 {
    let Some(t) = t.as_mut() else { return -1 };
    let b = bytes(arg, alen);
    let s = sysctls(bytes(sys, 16));
    let now = Instant::from_micros(now);
    let mut st = CarpStats([0; CARP_NSTATS]);
    let r = match t.get_mut(vhid) {
        None => -2,
        Some(v) => match op % 17 {
            0 => errno_of(v.apply(now, &set_request(b), &s)),
            1 => {
                v.force_state(now, state(byte(b, 0)), &s);
                0
            }
            2 => errno_of(v.add_address(now, ip(b, 0), &s)),
            3 => i32::from(v.remove_address(now, &ip(b, 0), &s)),
            4 => {
                v.handle_parent(now, flag(b, 0), flag(b, 1), &s);
                0
            }
            5 => {
                v.handle_admin(now, flag(b, 0), &s);
                i32::from(v.is_admin_up())
            }
            6 => {
                v.handle_allow(now, &s);
                0
            }
            7 => {
                v.shutdown();
                0
            }
            8 => {
                let adv = vhid::CarpAdvert {
                    family: family(flag(b, 0)),
                    advbase: byte(b, 1),
                    advskew: byte(b, 2),
                    counter: u64_at(b, 3),
                };
                v.handle_carp_advert(now, &adv, &s);
                0
            }
            9 => {
                let adv = vhid::VrrpAdvert {
                    family: family(flag(b, 0)),
                    priority: byte(b, 1),
                    max_adver_int: u16_at(b, 2),
                };
                v.handle_vrrp_advert(now, &adv, &s);
                0
            }
            10 => {
                v.handle_timeout(now, &s);
                0
            }
            11 => i32::from(v.queue_handoff()) + errno_of(v.renumber(now, byte(b, 0))),
            12 => {
                v.handle_demotion_change(now);
                0
            }
            13 => {
                v.handle_send_result(family(flag(b, 0)), send_result(byte(b, 1), i32_at(b, 2)), &s, &mut st);
                0
            }
            14 => {
                let body = if flag(b, 18) {
                    AdvertBody::Vrrp(input::VrrpAdvert {
                        vrid: byte(b, 19),
                        priority: byte(b, 20),
                        addr_count: byte(b, 21),
                        max_adver_int_raw: u16_at(b, 22),
                    })
                } else {
                    AdvertBody::Carp(input::CarpAdvert {
                        vhid: byte(b, 19),
                        advbase: byte(b, 20),
                        advskew: byte(b, 21),
                        counter: u64_at(b, 22),
                    })
                };
                let adv = Advert { family: family(flag(b, 0)), src: ip(b, 1), body };
                v.handle_advert(now, &adv, &s);
                i32::from(adv.vhid())
            }
            15 => {
                v.set_parent_flags(flag(b, 0), flag(b, 1));
                0
            }
            _ => {
                let adv = Advert {
                    family: family(flag(b, 0)),
                    src: ip(b, 1),
                    body: AdvertBody::Carp(input::CarpAdvert {
                        vhid,
                        advbase: byte(b, 19),
                        advskew: byte(b, 20),
                        counter: u64_at(b, 21),
                    }),
                };
                i32::from(t.handle_advert(now, &adv, &s))
            }
        },
    };
    if let Some(out) = stats.as_mut() {
        *out = out.wrapping_add(st.0.iter().fold(0u64, |a, x| a.wrapping_add(*x)));
    }
    r
}

/// Every getter of one vhid.
#[no_mangle]
pub unsafe extern "C" fn probe_vhid_get(t: *const Table, vhid: u8, fam6: bool, counter: u64, md: *const u8) -> u64 {
    let Some(t) = t.as_ref() else { return 0 };
    let Some(v) = t.get(vhid) else { return 0 };
    let fam = family(fam6);
    let mut acc = u64::from(v.vhid()) + v.version() as u64 + v.state() as u64;
    acc += u64::from(v.is_master()) + v.ifname().as_bytes().len() as u64;
    acc += u64::from(v.virtual_mac()[5]) + v.addresses_v4().len() as u64 + v.addresses_v6().len() as u64;
    acc += u64::from(v.has_address(&IpAddr::V4(Ipv4Addr::from(counter as u32))));
    acc += v.address_count(fam) as u64 + u64::from(v.advbase()) + u64::from(v.advskew());
    acc += u64::from(v.effective_advskew()) + v.counter() + u64::from(v.key()[0]);
    acc += u64::from(u32::from(v.peer4())) + u64::from(v.peer6().segments()[0]);
    acc += u64::from(v.vrrp_priority()) + u64::from(v.vrrp_interval_cs());
    acc += u64::from(v.vrrp_master_interval_cs()) + v.demotion().value() as u64;
    acc += u64::from(v.is_suppressed()) + u64::from(v.in_send_error()) + v.heap_bytes() as u64;
    acc += u64::from(v.has_events()) + u64::from(v.lost_events());
    for tm in Timer::ALL {
        acc += v.timer(tm).map_or(0, Instant::as_micros);
    }
    acc += v.master_down_interval().as_micros() as u64 + v.advert_interval().as_micros() as u64;
    bb(v.status());
    acc += u64::from(v.advert_dst_is_multicast(fam));
    acc += u64::from(v.verify(counter, &arr(bytes(md, auth::MD_LEN), 0)));
    acc += u64::from(v.routes_installed()) + v.poll_timeout().map_or(0, Instant::as_micros);
    acc
}

/// Drain one vhid as the kernel glue does: events (formatted), transmits (emitted into
/// `out`, their fate reported), routes, next timeout.
#[no_mangle]
pub unsafe extern "C" fn probe_vhid_drain(
    t: *mut Table,
    vhid: u8,
    srcs: *const u8,
    out: *mut u8,
    olen: usize,
    log: *mut u8,
    llen: usize,
    dscp: u8,
    ident: u16,
    result: u8,
    errno: i32,
    sys: *const u8,
    stats: *mut u64,
) -> u64 {
    let Some(t) = t.as_mut() else { return 0 };
    let Some(v) = t.get_mut(vhid) else { return 0 };
    let a = bytes(srcs, 32);
    let (src4, src6) = (v4(a, 0), v6(a, 16));
    let o = bytes_mut(out, olen);
    let mut w = Out { buf: bytes_mut(log, llen), len: 0 };
    let s = sysctls(bytes(sys, 16));
    let mut st = CarpStats([0; CARP_NSTATS]);
    let mut acc = 0u64;
    while let Some(e) = v.poll_event() {
        acc += u64::from(e.should_log(s.log));
        let _ = write!(w, "{e}");
        match e {
            Event::StateChanged(c) => {
                let d = c.devd();
                let _ = write!(w, "{d} {} {} {}", d.subsystem, d.type_str(), vhid::Devd::SYSTEM);
                let _ = write!(w, "{}", c.reason);
                acc += u64::from(c.should_log(s.log)) + u64::from(c.new.legacy_link_state() as u8);
            }
            Event::DemotionChanged(c) => {
                let _ = write!(w, "{} {}", c, c.reason);
            }
        }
    }
    let mut fams = [None; 2];
    let mut nf = 0usize;
    while let Some(x) = v.poll_transmit() {
        bb(x.advert_family());
        let n = match x {
            Transmit::Carp(c) => {
                bb((c.tag_virtual_mac(), c.virtual_mac(), c.repr()));
                let src = match c.family {
                    Family::Inet => IpAddr::V4(src4),
                    Family::Inet6 => IpAddr::V6(src6),
                };
                if let Some(f) = fams.get_mut(nf) {
                    *f = Some(c.family);
                    nf += 1;
                }
                c.emit(o, src, dscp, ident)
            }
            Transmit::Vrrp(r) => {
                bb((r.dst(), r.tag_virtual_mac(), r.virtual_mac(), r.addresses.len(), r.addresses.is_empty()));
                let src = match r.family {
                    Family::Inet => IpAddr::V4(src4),
                    Family::Inet6 => IpAddr::V6(src6),
                };
                if let Some(f) = fams.get_mut(nf) {
                    *f = Some(r.family);
                    nf += 1;
                }
                r.emit(o, src, dscp, ident)
            }
            Transmit::GratuitousArp { addr, mac } => {
                arp::emit_frame(o, mac, ethernet::BROADCAST, &arp::Repr::gratuitous(mac, addr))
            }
            Transmit::NeighborAdvert { addr, mac } => ndp::emit_unsolicited_na(o, addr, addr, mac, false),
        };
        acc += n.unwrap_or(0) as u64;
    }
    for f in fams.into_iter().flatten() {
        v.handle_send_result(f, send_result(result, errno), &s, &mut st);
    }
    while let Some(r) = v.poll_route() {
        acc += match r {
            RouteOp::Add => 1,
            RouteOp::Delete => 2,
        };
    }
    if let Some(out) = stats.as_mut() {
        *out = out.wrapping_add(st.0.iter().fold(0u64, |a, x| a.wrapping_add(*x)));
    }
    acc + v.poll_timeout().map_or(0, Instant::as_micros) + w.len as u64
}

/// A vhid outside any table: created, configured, run and dropped in one call.
#[no_mangle]
pub unsafe extern "C" fn probe_vhid_standalone(
    vhid: u8,
    vrrp: bool,
    name: *const u8,
    nlen: usize,
    seed: u64,
    req: *const u8,
    rlen: usize,
    sys: *const u8,
    now: u64,
    out: *mut u8,
    olen: usize,
) -> u64 {
    let s = sysctls(bytes(sys, 16));
    let b = bytes(req, rlen);
    let now = Instant::from_micros(now);
    let mut v = Vhid::new(vhid, version(vrrp), IfName::from_bytes(bytes(name, nlen)), demotion_handle(), seed);
    let mut acc = u64::from(errno_of(v.apply(now, &set_request(b), &s)) as u8);
    acc += u64::from(errno_of(v.add_address(now, ip(b, 64), &s)) as u8);
    v.handle_timeout(now, &s);
    let o = bytes_mut(out, olen);
    while let Some(x) = v.poll_transmit() {
        if let Transmit::Carp(c) = x {
            acc += c.emit(o, IpAddr::V4(v4(b, 81)), 0, 0).unwrap_or(0) as u64;
        }
    }
    while let Some(e) = v.poll_event() {
        bb(e);
    }
    acc
}

/// The receive pipeline: an IPv4 or IPv6 packet through `input`, its statistics, its
/// diagnostic line, and the advertisement handed to the table.
#[no_mangle]
pub unsafe extern "C" fn probe_input(
    t: *mut Table,
    allow: bool,
    v6pkt: bool,
    pkt: *const u8,
    len: usize,
    sys: *const u8,
    now: u64,
    stats: *mut u64,
    log: *mut u8,
    llen: usize,
) -> i32 {
    let b = bytes(pkt, len);
    let s = sysctls(bytes(sys, 16));
    let mut st = CarpStats([0; CARP_NSTATS]);
    let mut w = Out { buf: bytes_mut(log, llen), len: 0 };
    let lookup: Option<&Table> = t.as_ref();
    let o = if v6pkt && now & 1 == 1 {
        // The kernel's path: the CARP header at an offset the IPv6 input chose.
        input::input_ipv6_at(allow, lookup, b, usize::try_from((now >> 1) & 0xffff).unwrap_or(0))
    } else if v6pkt {
        input::input_ipv6(allow, lookup, b)
    } else if now & 1 == 1 {
        // The kernel's path: at *offp, the header as ip_input left it.
        input::input_ipv4_at(allow, lookup, b, usize::try_from((now >> 1) & 0xffff).unwrap_or(0))
    } else {
        input::input_ipv4(allow, lookup, b)
    };
    o.count(&mut st);
    for x in o.stats() {
        bb(x);
    }
    let _ = write!(w, "{} {}", o.verdict, o.verdict.as_str());
    bb(o.verdict.stat());
    let ifname = lookup.map_or(IfName::EMPTY, |t| *t.ifname());
    if let Some(d) = o.diag {
        let _ = d.write(&mut w, ifname.as_str());
        let _ = write!(w, "{}", d.display(ifname.as_str()));
    }
    bb(input::Func::CarpInput.as_str());
    // The same checks with the IP facts given directly and no lookup at all.
    let facts = IpFacts {
        src: ip(b, 0),
        dst: ip(b, 17),
        ttl: byte(b, 34),
        header_len: usize::from(byte(b, 35)),
        payload: b.get(36..).unwrap_or(&[]),
    };
    let o2 = input::input(allow, None::<&Table>, &facts);
    o2.count(&mut st);
    let o3 = input::input(allow, lookup, &facts);
    o3.count(&mut st);
    let mut r = o.verdict as i32;
    if let (Some(adv), Some(t)) = (o.advert, t.as_mut()) {
        if let AdvertBody::Vrrp(x) = adv.body {
            bb(x.max_adver_int_cs());
        }
        r += i32::from(adv.vhid());
        r += i32::from(t.handle_advert(Instant::from_micros(now), &adv, &s));
    }
    if let Some(out) = stats.as_mut() {
        *out = out.wrapping_add(st.0.iter().fold(0u64, |a, x| a.wrapping_add(*x)));
    }
    r
}

// ---------------------------------------------------------------------------------------
// Debug formatting of the core's types (derived and hand-written `Debug` impls).
//
// Not part of the default proof: core's own Debug machinery (`debug_struct` field
// bookkeeping, `str`/`char` escaping, `Ipv4Addr`/`Ipv6Addr` Display) keeps panic paths
// after LTO, so `{:?}` of anything must stay out of the kernel. Build with the
// `debug-fmt` feature to see them listed by check_core_probe.py.

#[cfg(feature = "debug-fmt")]
#[no_mangle]
pub unsafe extern "C" fn probe_debug(
    t: *const Table,
    pkt: *const u8,
    len: usize,
    pretty: bool,
    log: *mut u8,
    llen: usize,
) -> usize {
    let b = bytes(pkt, len);
    let mut w = Out { buf: bytes_mut(log, llen), len: 0 };
    let table = t.as_ref();
    let o = input::input_ipv4(true, table, b);
    let req = set_request(b);
    let st = vhid_status(b);
    let sys = sysctls(b);
    let nd = ndp::parse_ipv6(b);
    let vr = vrrp::Repr::parse(&vrrp::Packet::new_unchecked(b), family(flag(b, 0)));
    let cr = wire::carp::Packet::new_checked(b).and_then(|p| wire::carp::Repr::parse(&p));
    let ev = table.and_then(|t| t.iter().next()).map(|v| v.status());
    let au = Authenticator::new(&arr(b, 0), byte(b, 20), &[], &[]);
    let nl = netlink::decode_set(b);
    let name = IfName::from_bytes(b);
    if pretty {
        if let Some(t) = table {
            let _ = write!(w, "{t:#?}");
        }
        let _ = write!(w, "{o:#?}{req:#?}{st:#?}{sys:#?}{nd:#?}{vr:#?}{cr:#?}{ev:#?}{au:#?}{nl:#?}{name:#?}");
    } else {
        if let Some(t) = table {
            let _ = write!(w, "{t:?}");
        }
        let _ = write!(w, "{o:?}{req:?}{st:?}{sys:?}{nd:?}{vr:?}{cr:?}{ev:?}{au:?}{nl:?}{name:?}");
    }
    w.len
}

// ---------------------------------------------------------------------------------------
// The userspace-only demotion handle (`Demotion::new`/`default`, an `Arc`): not for the
// kernel, which uses `Demotion::from_static`. Feature `userspace` shows what it brings.

#[cfg(feature = "userspace")]
#[no_mangle]
pub unsafe extern "C" fn probe_demotion_arc(amount: i32, t: *mut Table) -> i32 {
    let d = if amount & 1 != 0 { Demotion::new() } else { Demotion::default() };
    let (token, ch) = d.demote(amount, DemotionReason::Sysctl);
    let r = ch.value.wrapping_add(d.value());
    if let Some(t) = t.as_mut() {
        t.set_parent_flags(true, true);
        let _ = Table::new(IfName::EMPTY, d.clone());
    }
    drop(token);
    r
}

// ---------------------------------------------------------------------------------------
// Negative proof: an unchecked index, which must leave a panic path.

#[cfg(feature = "bad-panic")]
#[no_mangle]
pub unsafe extern "C" fn probe_bad_panic(p: *const u8, n: usize, i: usize) -> u8 {
    let b = bytes(p, n);
    #[allow(clippy::indexing_slicing)]
    b[i]
}

//! The simulated kernel's entry points (kern/hk.h and the hk_* functions of kern/), as
//! seen from Rust, with thin safe wrappers. Every call must be made on a thread the
//! scheduler knows, holding the CPU (see `sched`).

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void, CStr, CString};

/// One linker set of a loaded file (kern/hk.h `struct hk_linker_set`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HkLinkerSet {
    pub name: *const c_char,
    pub start: c_ulong,
    pub stop: c_ulong,
}

/// A loaded file, as the loader describes it to the kernel (kern/hk.h `struct hk_kld`).
#[repr(C)]
pub struct HkKld {
    pub filename: *const c_char,
    pub base: c_ulong,
    pub size: c_ulong,
    pub text_start: c_ulong,
    pub text_end: c_ulong,
    pub nsets: c_int,
    pub sets: [HkLinkerSet; 16],
    pub vnet_start: c_ulong,
    pub vnet_size: c_ulong,
}

// The whole C API of the simulated kernel (hk.h), whether this side uses it yet or not.
#[allow(dead_code)]
extern "C" {
    pub fn hk_boot() -> c_int;
    pub fn hk_idle();
    pub fn hk_busy() -> c_int;
    pub fn hk_kernel_symbol(name: *const c_char) -> c_ulong;
    pub fn hk_vnet_data_alloc(size: c_ulong) -> *mut c_void;
    pub fn hk_vnet_data_copy(start: *mut c_void, size: c_ulong);
    pub fn hk_vnet_data_free(start: *mut c_void, size: c_ulong);
    pub fn hk_kld_check_deps(kld: *mut HkKld, err: *mut c_char, errlen: c_ulong) -> c_int;
    pub fn hk_kld_link(kld: *mut HkKld, err: *mut c_char, errlen: c_ulong) -> c_int;
    pub fn hk_kld_unlink(kld: *mut HkKld) -> c_int;
    pub fn hk_kld_gone(base: c_ulong, size: c_ulong);
    pub fn hk_osreldate() -> c_int;
    pub fn hk_user_map(base: *const c_void, len: c_ulong);
    pub fn hk_user_unmap(base: *const c_void);
    pub fn hk_ioctl(vnet: *const c_char, af: c_int, cmd: c_ulong, uaddr: *mut c_void, user: c_int) -> c_int;
    pub fn hk_sysctl(
        vnet: *const c_char,
        name: *const c_char,
        old: *mut c_void,
        oldlen: *mut c_ulong,
        new: *const c_void,
        newlen: c_ulong,
        user: c_int,
    ) -> c_int;
    pub fn hk_sysctl_kind(name: *const c_char, kind: *mut c_uint, fmt: *mut *const c_char) -> c_int;
    pub fn hk_sysctl_child(name: *const c_char, n: c_int) -> *const c_char;
    pub fn hk_vnet_create(name: *const c_char) -> c_int;
    pub fn hk_vnet_destroy(name: *const c_char) -> c_int;
    pub fn hk_if_vmove(from: *const c_char, ifname: *const c_char, to: *const c_char) -> c_int;
    pub fn hk_nic_create(vnet: *const c_char, name: *const c_char, mac: *const u8, wire: c_int, typ: c_int) -> c_int;
    pub fn hk_nic_destroy(vnet: *const c_char, ifname: *const c_char) -> c_int;
    pub fn hk_nic_carrier(vnet: *const c_char, ifname: *const c_char, up: c_int) -> c_int;
    pub fn hk_nic_txfail(vnet: *const c_char, ifname: *const c_char, error: c_int, count: c_int) -> c_int;
    pub fn hk_nic_wire(vnet: *const c_char, ifname: *const c_char, wire: c_int) -> c_int;
    pub fn hk_wire_inject(wire: c_int, frame: *const u8, len: c_uint);
    pub fn hk_if_inject(vnet: *const c_char, ifname: *const c_char, frame: *const u8, len: c_uint) -> c_int;
    pub fn hk_ip_inject(vnet: *const c_char, ifname: *const c_char, pkt: *const u8, len: c_uint, af: c_int, off: c_int) -> c_int;
    pub fn hk_proto_deliver(vnet: *const c_char, ifname: *const c_char, pkt: *const u8, len: c_uint, off: c_int) -> c_int;
    pub fn hk_trace(callouts: c_int);
    pub fn hk_snapshot(vnet: *const c_char, buf: *mut c_char, len: c_ulong) -> c_long;
    pub fn hk_counts(buf: *mut c_char, len: c_ulong) -> c_long;
    pub fn hk_fault_set(n: c_long);
    pub fn hk_fault_count() -> c_long;
    pub fn hk_fault_next(site: *const c_char, n: c_int);
    pub fn hk_fault_next_left() -> c_int;
    pub fn hk_hold(op: c_int) -> c_int;
    pub fn hk_cov_map(map: *mut c_void);
    pub fn hk_fuzz_mode(on: c_int);
    pub fn hk_bench_prims(n: c_int, mtx_pair: *mut c_ulong, epoch_pair: *mut c_ulong, counter_add: *mut c_ulong);
    pub fn hk_profile(op: c_int, buf: *mut c_char, len: c_ulong) -> c_long;
    pub fn hk_wire_attach(wire: c_int, fd: c_int) -> c_int;
    pub fn hk_bg_submit(f: extern "C" fn(*mut c_void), arg: *mut c_void);
    pub fn hk_bg_busy() -> c_int;
    pub fn hk_bg_wait();
    pub fn hk_pfil_fail(error: c_int, vnet: *const c_char);
    pub fn hk_hooks_set() -> c_int;
    pub fn hk_check_empty() -> c_int;
    pub fn hk_failures() -> c_int;
    pub fn hk_kenv_set(name: *const c_char, value: *const c_char);
    pub fn hk_random_seed(seed: u64);
    pub fn hk_nl_open(vnet: *const c_char, user: c_int) -> c_int;
    pub fn hk_nl_close(fd: c_int);
    pub fn hk_nl_port(fd: c_int) -> u32;
    pub fn hk_nl_send(fd: c_int, buf: *const c_void, len: c_ulong) -> c_int;
    pub fn hk_nl_recv(fd: c_int, buf: *mut c_void, cap: c_ulong) -> c_long;
}

/// A NUL-terminated copy of `s` (names never contain NUL).
pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new("?").expect("static"))
}

/// The text a C function returned, or "" for NULL.
pub fn from_c(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the kernel returns NUL-terminated strings that live as long as the kernel.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The snapshot of one VNET (None: all).
pub fn snapshot(vnet: Option<&str>) -> String {
    let name = vnet.map(cstr);
    let mut buf = vec![0u8; 1 << 20];
    // SAFETY: the buffer is writable for its length; the kernel truncates to it.
    let n = unsafe {
        hk_snapshot(name.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()), buf.as_mut_ptr().cast(), buf.len() as c_ulong)
    };
    let n = (n.max(0) as usize).min(buf.len().saturating_sub(1));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Live-object counts of the kernel (mbufs, counters, tags...).
pub fn counts() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: as above.
    let n = unsafe { hk_counts(buf.as_mut_ptr().cast(), buf.len() as c_ulong) };
    let n = (n.max(0) as usize).min(buf.len().saturating_sub(1));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

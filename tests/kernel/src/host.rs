//! Linux services of the simulated kernel (the `hl_*` half of kern/hk.h that is not the
//! scheduler): memory, failure reports, the console and devctl records, frame captures,
//! GS bases, fault handling and symbolization of module addresses.

use std::ffi::{c_char, c_ulong, c_void, CStr};
use std::io::Write;
use std::sync::Mutex;

/// Everything the kernel said or did that a test can look at.
#[derive(Default)]
pub struct Records {
    /// (uptime ns, level, line): printf(9) is level -1, log(9) its priority.
    pub console: Vec<(u64, i32, String)>,
    /// (uptime ns, event) as devd reads it.
    pub devd: Vec<(u64, String)>,
    /// (uptime ns, wire, frame).
    pub frames: Vec<(u64, i32, Vec<u8>)>,
    /// (check, message, thread, uptime) of every failed kernel check.
    pub failures: Vec<(String, String, String, u64)>,
}

pub static RECORDS: Mutex<Records> = Mutex::new(Records {
    console: Vec::new(),
    devd: Vec::new(),
    frames: Vec::new(),
    failures: Vec::new(),
});

/// Print kernel console lines as they come (--verbose).
pub static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// With VERBOSE, also every frame (off with --no-frames: long live runs).
pub static VERBOSE_FRAMES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
/// Kernel checks that a test declared it expects (negative tests of the harness itself).
pub static EXPECTED_FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub fn records() -> std::sync::MutexGuard<'static, Records> {
    RECORDS.lock().unwrap_or_else(|e| e.into_inner())
}

fn cs(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: every string the kernel passes is NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A fatal condition: report and exit with status 3 (the test fails).
pub fn fatal(msg: &str) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("kharness: FATAL: {msg}");
    eprintln!("kharness: at {}", crate::script::position());
    let _ = std::io::stderr().flush();
    // SAFETY: exiting without unwinding is what we want: other threads may be blocked
    // inside the simulated kernel.
    unsafe { libc::_exit(3) }
}

#[no_mangle]
pub extern "C" fn hl_alloc(size: c_ulong) -> *mut c_void {
    let size = (size as usize).max(1);
    let mut p: *mut c_void = std::ptr::null_mut();
    let align = if size >= 4096 { 4096 } else { 64 };
    // SAFETY: posix_memalign with a power-of-two alignment; the memory is zeroed below.
    let r = unsafe { libc::posix_memalign(&mut p, align, size) };
    if r != 0 || p.is_null() {
        fatal(&format!("out of host memory allocating {size} bytes"));
    }
    // SAFETY: p points to size writable bytes.
    unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0, size) };
    p
}

#[no_mangle]
pub extern "C" fn hl_release(p: *mut c_void, _size: c_ulong) {
    // SAFETY: p came from hl_alloc (posix_memalign), or is NULL.
    unsafe { libc::free(p) };
}

/// Makes memory inaccessible for good (a destroyed VNET's data): any later touch faults.
#[no_mangle]
pub extern "C" fn hl_protect_none(p: *mut c_void, size: c_ulong) {
    if p.is_null() || size == 0 {
        return;
    }
    // SAFETY: p is page-aligned (hl_alloc aligns allocations of 4 KiB and more) and the
    // range is owned by the caller, which never frees it (leaked on purpose).
    let r = unsafe { libc::mprotect(p, size as usize, libc::PROT_NONE) };
    if r != 0 {
        fatal("mprotect(PROT_NONE) of a destroyed VNET's data failed");
    }
}

#[no_mangle]
pub extern "C" fn hl_fatal(msg: *const c_char) -> ! {
    fatal(&cs(msg));
}

#[no_mangle]
pub extern "C" fn hl_fail(check: *const c_char, msg: *const c_char) {
    let check = cs(check);
    let msg = cs(msg);
    let now = crate::sched::now_ns();
    let thread = crate::sched::current_name();
    let expected = EXPECTED_FAILURES.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|e| msg.contains(e.as_str()) || *e == check);
    if !expected {
        eprintln!(
            "kharness: KERNEL CHECK FAILED [{check}] {msg} (thread {thread}, t={}) at {}",
            crate::script::fmt_time(now),
            crate::script::position()
        );
    }
    records().failures.push((check, msg, thread, now));
}

#[no_mangle]
pub extern "C" fn hl_console(level: i32, line: *const c_char) {
    let line = cs(line);
    let now = crate::sched::now_ns();
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        println!("  [{}] {}{}", crate::script::fmt_time(now), if level >= 0 { "log: " } else { "" }, line);
    }
    records().console.push((now, level, line));
}

#[no_mangle]
pub extern "C" fn hl_devctl(line: *const c_char) {
    let line = cs(line);
    let now = crate::sched::now_ns();
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        println!("  [{}] devd: {}", crate::script::fmt_time(now), line);
    }
    records().devd.push((now, line));
}

#[no_mangle]
pub extern "C" fn hl_capture(wire: i32, frame: *const u8, len: u32) {
    if frame.is_null() {
        return;
    }
    // SAFETY: the kernel passes a frame of len readable bytes.
    let f = unsafe { std::slice::from_raw_parts(frame, len as usize) }.to_vec();
    let now = crate::sched::now_ns();
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) && VERBOSE_FRAMES.load(std::sync::atomic::Ordering::Relaxed) {
        println!("  [{}] wire {wire}: {}", crate::script::fmt_time(now), crate::frames::describe(&f));
    }
    records().frames.push((now, wire, f));
}

/// Sets the calling thread's GS base (curthread is %gs:0, counter(9) adds at %gs:offset).
pub fn set_gs(base: *mut c_void) {
    const ARCH_SET_GS: libc::c_long = 0x1001;
    // SAFETY: arch_prctl(ARCH_SET_GS) only changes this thread's GS base; the kernel side
    // keeps the per-CPU block alive for the life of the thread.
    let r = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_GS, base as libc::c_ulong) };
    if r != 0 {
        fatal("arch_prctl(ARCH_SET_GS) failed");
    }
}

#[no_mangle]
pub extern "C" fn hl_set_gs(base: *mut c_void) {
    set_gs(base);
}

#[no_mangle]
pub extern "C" fn hl_symbolize(addr: c_ulong, buf: *mut c_char, len: c_ulong) {
    let s = symbolize(addr as u64);
    if buf.is_null() || len == 0 {
        return;
    }
    let bytes = s.as_bytes();
    let n = bytes.len().min(len as usize - 1);
    // SAFETY: buf has len writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

/// "symbol+0xoff (carp.ko)" for an address of the loaded module, "harness 0x..." else.
pub fn symbolize(addr: u64) -> String {
    if let Some(s) = crate::loader::symbolize(addr) {
        return s;
    }
    format!("{addr:#x}")
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel gives a valid siginfo and ucontext to an SA_SIGINFO handler.
    let (addr, rip) = unsafe {
        let addr = (*info).si_addr() as u64;
        let uc = ctx as *const libc::ucontext_t;
        let rip = (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as u64;
        (addr, rip)
    };
    let name = match sig {
        libc::SIGSEGV => "SIGSEGV (page fault)",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    };
    // Best effort from a signal handler: the process exits right after.
    let msg = format!(
        "{name} in thread {} at {} accessing {addr:#x}: the kernel would panic (\"Fatal trap 12: page fault while in kernel mode\")",
        std::thread::current().name().unwrap_or("?"),
        symbolize(rip)
    );
    fatal(&msg);
}

/// Installs the fault handler (module crashes are reported as symbol+offset).
pub fn install_fault_handler() {
    if std::env::var_os("KHARNESS_NO_SIGNALS").is_some() {
        return;
    }
    install_thread_signal_stack();
    // SAFETY: a plain sigaction with an SA_SIGINFO handler on an alternate stack.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_fault as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut sa.sa_mask);
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Every thread needs its own alternate signal stack (a stack overflow must be reported).
pub fn install_thread_signal_stack() {
    const SZ: usize = 64 * 1024;
    let mem = hl_alloc(SZ as c_ulong);
    // SAFETY: mem is SZ bytes owned by this thread for its whole life (never freed).
    unsafe {
        let st = libc::stack_t { ss_sp: mem, ss_flags: 0, ss_size: SZ };
        libc::sigaltstack(&st, std::ptr::null_mut());
    }
}

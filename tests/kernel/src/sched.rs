//! The host scheduler of the simulated kernel: its threads, its clock, sleeping and waking.
//!
//! Every simulated thread is a host thread. Two modes:
//!
//! - **Virtual** (the default): one CPU. Exactly one thread runs at a time (it "holds the
//!   CPU"); a thread gives the CPU up only when it sleeps (`hl_sleep`), so every run is
//!   deterministic. The clock is virtual: it moves only when no thread can run, to the
//!   earliest deadline of a sleeping thread. The script thread (thread 0) runs its next
//!   command only when every kernel thread is asleep ("settled"); an `advance` is a sleep
//!   of the script thread, during which callouts and tasks run at their exact times.
//!   A state where every thread sleeps with no deadline is a deadlock: reported, fatal.
//! - **Real**: threads run concurrently on the host's CPUs, the clock is CLOCK_MONOTONIC,
//!   the giant lock is a real mutex around the simulated kernel's own structures.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Where the virtual clock starts (FreeBSD's uptime is never 0 once the system runs).
pub const BOOT_NS: u64 = 1_000_000_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Running,
    Runnable,
    Sleeping,
    /// The script thread between commands: runs when nothing else can.
    Settling,
}

struct Thr {
    name: String,
    state: St,
    chan: usize,
    deadline: u64,
    woken: bool,
    wmesg: String,
    kthread: bool,
}

impl Thr {
    fn new(name: &str, state: St, kthread: bool) -> Thr {
        Thr { name: name.to_string(), state, chan: 0, deadline: 0, woken: false, wmesg: String::new(), kthread }
    }
}

struct State {
    now: u64,
    current: usize,
    threads: Vec<Thr>,
    runq: VecDeque<usize>,
}

pub struct Sched {
    real: bool,
    start: Instant,
    st: Mutex<State>,
    cv: Condvar,
    /// Real mode: the giant lock, as a counting binary semaphore (it is taken in one C
    /// function and released in another, so no guard can hold it).
    giant: Mutex<Option<usize>>,
    giant_cv: Condvar,
}

static SCHED: OnceLock<Sched> = OnceLock::new();

thread_local! {
    static TID: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn sched() -> &'static Sched {
    SCHED.get().expect("scheduler initialized before the kernel boots")
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the scheduler; the calling thread becomes thread 0 (the script) and holds the CPU.
pub fn init(real: bool) {
    let s = Sched {
        real,
        start: Instant::now(),
        st: Mutex::new(State {
            now: BOOT_NS,
            current: 0,
            threads: vec![Thr::new("script", St::Running, false)],
            runq: VecDeque::new(),
        }),
        cv: Condvar::new(),
        giant: Mutex::new(None),
        giant_cv: Condvar::new(),
    };
    if SCHED.set(s).is_err() {
        panic!("scheduler initialized twice");
    }
    TID.with(|t| t.set(0));
}


/// Uptime in nanoseconds.
pub fn now_ns() -> u64 {
    let s = sched();
    if s.real {
        BOOT_NS + s.start.elapsed().as_nanos() as u64
    } else {
        lock(&s.st).now
    }
}

fn me() -> usize {
    TID.with(|t| t.get())
}

/// Picks the thread to run next (virtual mode), making it Running. Called with the state
/// locked by the thread that gives the CPU up.
fn pick_next(st: &mut State) -> usize {
    loop {
        if let Some(t) = st.runq.pop_front() {
            if st.threads[t].state == St::Runnable {
                st.threads[t].state = St::Running;
                st.current = t;
                return t;
            }
            continue;
        }
        // The script runs its next command once every kernel thread is idle.
        if let Some(t) = st.threads.iter().position(|t| t.state == St::Settling) {
            st.threads[t].state = St::Running;
            st.current = t;
            return t;
        }
        // Nothing can run: time moves to the earliest deadline. Kernel threads before
        // the script at equal deadlines, so work due "now" is done before it looks.
        let mut best: Option<usize> = None;
        for (i, t) in st.threads.iter().enumerate() {
            if t.state == St::Sleeping && t.deadline != 0 {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let bt = &st.threads[b];
                        t.deadline < bt.deadline || (t.deadline == bt.deadline && t.kthread && !bt.kthread)
                    }
                };
                if better {
                    best = Some(i);
                }
            }
        }
        match best {
            Some(t) => {
                if st.threads[t].deadline > st.now {
                    st.now = st.threads[t].deadline;
                }
                st.threads[t].state = St::Runnable;
                st.threads[t].woken = false;
                st.runq.push_back(t);
            }
            None => deadlock(st),
        }
    }
}

fn deadlock(st: &State) -> ! {
    let mut msg = String::from("deadlock: every simulated thread sleeps and none has a deadline\n");
    for (i, t) in st.threads.iter().enumerate() {
        msg.push_str(&format!("  thread {i} {}: {:?} on \"{}\" (chan {:#x})\n", t.name, t.state, t.wmesg, t.chan));
    }
    crate::host::fatal(&msg);
}

/// Gives the CPU to the next thread and waits until it comes back (virtual mode).
fn switch_away<'a>(s: &'a Sched, mut st: MutexGuard<'a, State>, me: usize) -> MutexGuard<'a, State> {
    let next = pick_next(&mut st);
    if next != me {
        s.cv.notify_all();
        st = wait_turn(s, st, me);
    }
    st
}

/// Waits until the scheduler runs thread `me` (virtual mode).
fn wait_turn<'a>(s: &'a Sched, mut st: MutexGuard<'a, State>, me: usize) -> MutexGuard<'a, State> {
    while st.current != me || st.threads[me].state != St::Running {
        st = s.cv.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    st
}

/// The script thread lets every runnable kernel thread run until all are asleep.
pub fn settle() {
    let s = sched();
    if s.real {
        // Real time: wait (bounded) until every kernel thread sleeps with nothing due,
        // so that the work a command or frame started is done before the script looks.
        let me = me();
        let start = Instant::now();
        let mut quiet = 0;
        while quiet < 3 && start.elapsed() < Duration::from_secs(2) {
            let busy = {
                let st = lock(&s.st);
                let now = now_ns();
                st.threads.iter().enumerate().any(|(i, t)| {
                    i != me && (t.state != St::Sleeping || t.woken || (t.deadline != 0 && t.deadline <= now))
                })
            };
            quiet = if busy { 0 } else { quiet + 1 };
            std::thread::sleep(Duration::from_micros(200));
        }
        return;
    }
    let me = me();
    let mut st = lock(&s.st);
    st.threads[me].state = St::Settling;
    drop(switch_away(s, st, me));
}

/// The script thread sleeps for `ns` of uptime (virtual: time jumps through every event
/// in between; real: the host sleeps).
pub fn advance(ns: u64) {
    let s = sched();
    if s.real {
        std::thread::sleep(Duration::from_nanos(ns));
        return;
    }
    let deadline = now_ns().saturating_add(ns);
    static ADVANCE_CHAN: u8 = 0;
    let chan = &ADVANCE_CHAN as *const u8 as usize;
    let _ = sleep_chan(chan, deadline, "advance");
    settle();
}

/// Runs `f`, a blocking host call (a live wire's receive), with the calling kernel
/// thread counted as asleep (real-time mode: `settle` must not wait for it).
pub fn blocking<T>(wmesg: &str, f: impl FnOnce() -> T) -> T {
    let s = sched();
    let me = me();
    {
        let mut st = lock(&s.st);
        let t = &mut st.threads[me];
        t.state = St::Sleeping;
        t.chan = 0;
        t.deadline = 0;
        t.woken = false;
        t.wmesg = wmesg.to_string();
    }
    let r = f();
    lock(&s.st).threads[me].state = St::Running;
    r
}

/// Sleeps on `chan` until woken or until `deadline` (0: none). Returns true when woken.
fn sleep_chan(chan: usize, deadline: u64, wmesg: &str) -> bool {
    let s = sched();
    let me = me();
    if s.real {
        return real_sleep(s, me, chan, deadline, wmesg);
    }
    let mut st = lock(&s.st);
    if deadline != 0 && deadline <= st.now {
        // Already past: a zero-length sleep still yields to runnable threads.
        st.threads[me].state = St::Runnable;
        st.threads[me].woken = false;
        st.runq.push_back(me);
        drop(switch_away(s, st, me));
        return false;
    }
    {
        let t = &mut st.threads[me];
        t.state = St::Sleeping;
        t.chan = chan;
        t.deadline = deadline;
        t.woken = false;
        t.wmesg = wmesg.to_string();
    }
    let st = switch_away(s, st, me);
    st.threads[me].woken
}

fn wake_chan(chan: usize) {
    let s = sched();
    let mut st = lock(&s.st);
    let n = st.threads.len();
    for i in 0..n {
        let t = &mut st.threads[i];
        if t.state == St::Sleeping && t.chan == chan {
            t.woken = true;
            if s.real {
                t.state = St::Running;
            } else {
                t.state = St::Runnable;
                st.runq.push_back(i);
            }
        }
    }
    if s.real {
        s.cv.notify_all();
    }
}

fn real_sleep(s: &Sched, me: usize, chan: usize, deadline: u64, wmesg: &str) -> bool {
    let mut st = lock(&s.st);
    {
        let t = &mut st.threads[me];
        t.state = St::Sleeping;
        t.chan = chan;
        t.deadline = deadline;
        t.woken = false;
        t.wmesg = wmesg.to_string();
    }
    // The giant is released while asleep, retaken after.
    giant_release(s);
    loop {
        if st.threads[me].woken {
            break;
        }
        let now = now_ns();
        if deadline != 0 && now >= deadline {
            break;
        }
        let wait = if deadline != 0 { Duration::from_nanos(deadline - now) } else { Duration::from_millis(100) };
        st = s.cv.wait_timeout(st, wait).unwrap_or_else(|e| e.into_inner()).0;
    }
    let woken = st.threads[me].woken;
    st.threads[me].state = St::Running;
    drop(st);
    giant_acquire(s, me);
    woken
}

fn giant_acquire(s: &Sched, me: usize) {
    let mut g = s.giant.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match *g {
            None => {
                *g = Some(me);
                return;
            }
            Some(o) if o == me => crate::host::fatal("giant lock recursion (a harness defect)"),
            Some(_) => g = s.giant_cv.wait(g).unwrap_or_else(|e| e.into_inner()),
        }
    }
}

fn giant_release(s: &Sched) {
    let mut g = s.giant.lock().unwrap_or_else(|e| e.into_inner());
    *g = None;
    s.giant_cv.notify_one();
}

/// The ids of threads are handed out in creation order; the creator waits until the new
/// thread has registered, so the kernel's thread ids and ours agree.
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

struct SendPtr(*mut c_void);
// SAFETY: the pointers are handed to the new thread, which owns them from then on; the
// kernel keeps them alive for the thread's life.
unsafe impl Send for SendPtr {}

/// hl_thread_start: a kernel thread.
pub fn thread_start(name: &str, pcpu: *mut c_void, f: extern "C" fn(*mut c_void), arg: *mut c_void) {
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let pcpu = SendPtr(pcpu);
    let arg = SendPtr(arg);
    let tname = name.to_string();
    let s = sched();
    let expected = lock(&s.st).threads.len();
    std::thread::Builder::new()
        .name(tname.clone())
        .stack_size(1 << 20)
        .spawn(move || {
            let pcpu = pcpu;
            let arg = arg;
            crate::host::set_gs(pcpu.0);
            crate::host::install_thread_signal_stack();
            // Register without waiting for the CPU yet (virtual), then tell the creator.
            let s = sched();
            let id = {
                let mut st = lock(&s.st);
                let id = st.threads.len();
                st.threads.push(Thr::new(&tname, if s.real { St::Running } else { St::Runnable }, true));
                TID.with(|t| t.set(id));
                if !s.real {
                    st.runq.push_back(id);
                }
                id
            };
            let _ = tx.send(());
            if !s.real {
                drop(wait_turn(s, lock(&s.st), id));
            } else {
                giant_acquire(s, id);
                giant_release(s);
            }
            f(arg.0);
        })
        .unwrap_or_else(|e| crate::host::fatal(&format!("cannot start thread {name}: {e}")));
    let _ = rx.recv();
    let got = lock(&s.st).threads.len();
    if got != expected + 1 {
        crate::host::fatal("thread registration out of order (a harness defect)");
    }
}

// ---- The C interface ----

#[no_mangle]
pub extern "C" fn hl_uptime_ns() -> u64 {
    now_ns()
}

#[no_mangle]
pub extern "C" fn hl_virtual() -> i32 {
    i32::from(!sched().real)
}

#[no_mangle]
pub extern "C" fn hl_giant_lock() {
    let s = sched();
    if s.real {
        giant_acquire(s, me());
    }
}

#[no_mangle]
pub extern "C" fn hl_giant_unlock() {
    let s = sched();
    if s.real {
        giant_release(s);
    }
}

#[no_mangle]
pub extern "C" fn hl_sleep(chan: *const c_void, deadline_ns: u64, wmesg: *const c_char) -> i32 {
    let w = if wmesg.is_null() {
        String::new()
    } else {
        // SAFETY: the kernel passes NUL-terminated wait messages.
        unsafe { CStr::from_ptr(wmesg) }.to_string_lossy().into_owned()
    };
    if sleep_chan(chan as usize, deadline_ns, &w) {
        0
    } else {
        1
    }
}

#[no_mangle]
pub extern "C" fn hl_wakeup(chan: *const c_void) {
    wake_chan(chan as usize);
}

#[no_mangle]
pub extern "C" fn hl_thread_start(name: *const c_char, pcpu: *mut c_void, f: extern "C" fn(*mut c_void), arg: *mut c_void) {
    let n = if name.is_null() {
        "kthread".to_string()
    } else {
        // SAFETY: a NUL-terminated thread name.
        unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
    };
    thread_start(&n, pcpu, f, arg);
}

/// Name of the calling thread (for reports).
pub fn current_name() -> String {
    let s = sched();
    let st = lock(&s.st);
    st.threads.get(me()).map_or_else(|| "?".into(), |t| t.name.clone())
}

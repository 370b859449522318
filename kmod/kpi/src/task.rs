//! taskqueue(9): the module's two static tasks on `taskqueue_thread` (sleepable, no locks
//! held), and the queue of deferred address work with its pool of spare entries.
//!
//! - The send-all task runs `carp_rs_sendall` (every MASTER vhid advertises now: the
//!   demotion changed, possibly from a context that may not send).
//! - The deferred-address task runs `carp_rs_deferred`, which takes the entries queued by
//!   [`defer`] one at a time ([`next`]). Two kinds of work come here:
//!   - a `carp_detach_p` from a context that may not sleep. The detach takes the
//!     configuration sx lock and waits for the network epoch, but an address can expire
//!     from a context that may not sleep (nd6_timer, a callout, maybe in the epoch);
//!     the entry holds references on the address and its interface (the container keeps
//!     its own reference meanwhile);
//!   - an IPv6 address added to or removed from a `carpN` (ifaddr_event_ext). Always
//!     through the task: the ADD event fires inside in6_update_ifa, before it may still
//!     fail and unlink the address (without a DEL event) and before a `carp_attach_p` or
//!     `carp_detach_p` of the same request; the task sees the outcome. It also fires from
//!     nd6 timers, which may not sleep.
//!
//! Deferring a detach never needs memory: the pool holds one spare entry per bound address
//! ([`reserve`] when an address binds, in sleepable context, sleeping for the memory;
//! [`release`] when its binding goes). Entries out of the pool are queued detaches, which
//! come back to it before their detach releases the binding. [`release`] frees an entry
//! only while the pool holds more than one per bound address, so a binding removed while
//! its detach is queued does not take another address's spare.

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::ptr;

use alloc::boxed::Box;

use carp_proto::Errno;
use sys_bindings as sys;

use crate::sync::Mutex;

/// A `struct task` of this module (TASK_INITIALIZER(0, f, NULL)), queued on
/// `taskqueue_thread`.
pub(crate) struct Task(UnsafeCell<sys::task>);

// SAFETY: the task structure is only handed to taskqueue(9), which serialises its use
// under the queue's lock.
unsafe impl Sync for Task {}

impl Task {
    const fn new(f: unsafe extern "C" fn(*mut c_void, c_int)) -> Task {
        Task(UnsafeCell::new(sys::task {
            ta_link: sys::task__bindgen_ty_1 { stqe_next: ptr::null_mut() },
            ta_pending: 0,
            ta_priority: 0,
            ta_flags: 0,
            ta_func: Some(f),
            ta_context: ptr::null_mut(),
        }))
    }

    /// taskqueue_enqueue(taskqueue_thread, task): a no-op if already queued.
    pub(crate) fn enqueue(&self) {
        // SAFETY: a static task with its function set; taskqueue_thread is the kernel's
        // thread queue, which exists for the kernel's lifetime.
        unsafe { sys::taskqueue_enqueue(sys::taskqueue_thread, self.0.get()) };
    }

    /// taskqueue_drain: waits until the task is neither queued nor running (sleeps).
    pub(crate) fn drain(&self) {
        // SAFETY: as for enqueue; the callers are sleepable (unload).
        unsafe { sys::taskqueue_drain(sys::taskqueue_thread, self.0.get()) };
    }
}

/// The send-all task.
pub(crate) static SENDALL: Task = Task::new(sys::carp_rs_sendall);
/// The deferred-address task.
static DEFERRED: Task = Task::new(sys::carp_rs_deferred);

/// What a deferred entry asks of the task.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `carp_detach_p(ifa, false)`.
    Detach,
    /// `carp_detach_p(ifa, true)`.
    DetachKeep,
    /// An IPv6 address was added to the `carpN` `ifp`.
    Addr6Added,
    /// An IPv6 address was removed from the `carpN` `ifp`.
    Addr6Removed,
}

impl Kind {
    fn is_detach(self) -> bool {
        matches!(self, Kind::Detach | Kind::DetachKeep)
    }
}

/// One unit of deferred work: referenced address and interface, released when dropped
/// (after the work ran).
pub(crate) struct Work {
    ifa: *mut sys::ifaddr,
    ifp: *mut sys::ifnet,
    kind: Kind,
}

impl Work {
    /// The address (referenced while this value lives).
    pub(crate) fn ifa(&self) -> *mut sys::ifaddr {
        self.ifa
    }

    /// The address's interface (referenced while this value lives).
    pub(crate) fn ifp(&self) -> *mut sys::ifnet {
        self.ifp
    }

    /// What to do.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        // SAFETY: releases the two references `defer` took.
        unsafe {
            sys::ifa_free(self.ifa);
            sys::if_rele(self.ifp);
        }
    }
}

/// A queue or pool entry; a spare has no work.
struct Node {
    next: *mut Node,
    work: Option<Work>,
}

/// A FIFO of boxed nodes, linked through `next`.
struct List {
    head: *mut Node,
    tail: *mut Node,
    len: u32,
}

impl List {
    const fn new() -> List {
        List { head: ptr::null_mut(), tail: ptr::null_mut(), len: 0 }
    }

    fn push_back(&mut self, n: Box<Node>) {
        let p = Box::into_raw(n);
        // SAFETY: `p` is the node just leaked from its box, owned by the list from now
        // on; `tail` is null or the list's last node (owned by the list).
        unsafe {
            (*p).next = ptr::null_mut();
            match self.tail.as_mut() {
                Some(t) => t.next = p,
                None => self.head = p,
            }
        }
        self.tail = p;
        self.len = self.len.saturating_add(1);
    }

    fn pop_front(&mut self) -> Option<Box<Node>> {
        if self.head.is_null() {
            return None;
        }
        // SAFETY: a non-null head came from Box::into_raw in push_back and is owned by
        // the list until unlinked here.
        let n = unsafe { Box::from_raw(self.head) };
        self.head = n.next;
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        self.len = self.len.saturating_sub(1);
        Some(n)
    }
}

/// What the deferred-work mutex guards.
struct Deferred {
    queue: List,
    spare: List,
    /// Bound addresses: the pool's target size.
    needed: u32,
}

// SAFETY: the lists own their nodes (raw pointers only as links); entries hold counted
// references, usable from any thread.
unsafe impl Send for Deferred {}

static STATE: Mutex<Deferred> = Mutex::new(Deferred { queue: List::new(), spare: List::new(), needed: 0 });

/// MOD_LOAD: initialises the deferred-work mutex ("carp deferred").
pub(crate) fn init() {
    STATE.init(c"carp deferred");
}

/// Once nothing can queue or run deferred work any more (after a successful unload, or a
/// failed load): destroys the mutex.
pub(crate) fn fini() {
    // SAFETY: no thread uses the mutex: the hooks are cleared, the task drained
    // (`drain`), and the module is going away.
    unsafe { STATE.destroy() };
}

/// Queues `kind` work on `ifa` for the task, with references on the address and its
/// interface. A detach takes a spare entry; other work (and a detach finding no spare)
/// allocates one (M_NOWAIT). `ENOMEM` when there is none; `EINVAL` for an address without
/// an interface.
///
/// # Safety
///
/// `ifa` is a live address for the call.
pub(crate) unsafe fn defer(ifa: *mut sys::ifaddr, kind: Kind) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let ifp = unsafe { (*ifa).ifa_ifp };
    if ifp.is_null() {
        return Err(Errno::EINVAL);
    }
    let spare = if kind.is_detach() { STATE.lock().spare.pop_front() } else { None };
    let mut node = match spare {
        Some(n) => n,
        None => Box::try_new(Node { next: ptr::null_mut(), work: None }).map_err(|_| Errno::ENOMEM)?,
    };
    // SAFETY: live address and interface (caller's contract); the references are
    // released by Work's drop.
    unsafe {
        sys::ifa_ref(ifa);
        sys::if_ref(ifp);
    }
    node.work = Some(Work { ifa, ifp, kind });
    STATE.lock().queue.push_back(node);
    DEFERRED.enqueue();
    Ok(())
}

/// The next queued work, for the task. A detach's entry goes back to the pool before the
/// detach (which releases a spare) runs.
pub(crate) fn next() -> Option<Work> {
    let mut g = STATE.lock();
    let mut node = g.queue.pop_front()?;
    let work = node.work.take();
    let free = match &work {
        Some(w) if w.kind.is_detach() => {
            g.spare.push_back(node);
            None
        }
        _ => Some(node),
    };
    drop(g);
    drop(free);
    work
}

/// An address was bound: one more spare entry (sleeps for the memory, M_WAITOK; sleepable
/// callers without a mutex).
pub(crate) fn reserve() {
    let mut g = STATE.lock();
    g.needed = g.needed.saturating_add(1);
    while g.spare.len < g.needed {
        drop(g);
        let n = crate::malloc::box_sleeping(Node { next: ptr::null_mut(), work: None });
        g = STATE.lock();
        match n {
            Some(n) => g.spare.push_back(n),
            None => break,
        }
    }
}

/// A binding went: one spare entry fewer (freed only while the pool holds more than
/// needed).
pub(crate) fn release() {
    let extra = {
        let mut g = STATE.lock();
        g.needed = g.needed.saturating_sub(1);
        if g.spare.len > g.needed {
            g.spare.pop_front()
        } else {
            None
        }
    };
    drop(extra);
}

/// Unload, once nothing can queue any more: waits for the task, runs what is left (with
/// `run`, the task function), and frees the spares.
pub(crate) fn drain(run: impl FnOnce()) {
    DEFERRED.drain();
    run();
    loop {
        let n = STATE.lock().spare.pop_front();
        if n.is_none() {
            break;
        }
    }
    STATE.lock().needed = 0;
}

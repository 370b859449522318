//! Execution context: the network epoch, the current VNET, time, randomness, devctl(4),
//! the per-VNET sysctl values and statistics, and protocol/netlink registration (RAII).

use core::ffi::{c_char, CStr};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};

use alloc::boxed::Box;

use carp_proto::{Errno, Instant, Stat, Sysctls};
use sys_bindings as sys;

/// Proof of being inside the network epoch (see [`in_net_epoch`]).
pub struct Epoch {
    _not_send: PhantomData<*const ()>,
}

/// Runs `f` inside the network epoch (NET_EPOCH_ENTER/EXIT).
pub fn in_net_epoch<R>(f: impl FnOnce(&Epoch) -> R) -> R {
    // SAFETY: all-zero is a valid tracker before epoch_enter_preempt.
    let mut et: sys::epoch_tracker = unsafe { core::mem::zeroed() };
    // SAFETY: NET_EPOCH_ENTER (epoch_enter_preempt(net_epoch_preempt, &et), a macro over
    // _epoch_enter_preempt); `et` lives on this frame, unmoved, until the matching exit.
    unsafe { sys::_epoch_enter_preempt(sys::net_epoch_preempt, &mut et) };
    let token = Epoch { _not_send: PhantomData };
    let r = f(&token);
    // SAFETY: exits the section entered above with the same tracker, on the same thread.
    unsafe { sys::_epoch_exit_preempt(sys::net_epoch_preempt, &mut et) };
    r
}

/// A heap object readers use inside the network epoch without a lock, and that the
/// configuration path replaces or removes, freeing the old one only after an epoch wait.
pub struct EpochBox<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: readers only get shared references (T: Sync); the owner moves T between threads
// (T: Send).
unsafe impl<T: Send + Sync> Sync for EpochBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for EpochBox<T> {}

impl<T> EpochBox<T> {
    /// Nothing published.
    pub const fn empty() -> EpochBox<T> {
        EpochBox { ptr: AtomicPtr::new(core::ptr::null_mut()) }
    }

    /// The current object, valid until the end of the epoch section `_e` and while this
    /// box lives (dropping the box frees the object without an epoch wait).
    pub fn get<'e>(&'e self, _e: &'e Epoch) -> Option<&'e T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from Box::into_raw in `set`, and is freed only
        // after being unpublished and an epoch wait (`take`), which cannot complete while
        // the section `_e` is running.
        unsafe { p.as_ref() }
    }

    /// Whether an object is present.
    pub fn is_set(&self) -> bool {
        !self.ptr.load(Ordering::Acquire).is_null()
    }

    /// Publishes `v` if empty (returns it back otherwise). Configuration path.
    pub fn set(&self, v: Box<T>) -> Result<(), Box<T>> {
        let p = Box::into_raw(v);
        match self.ptr.compare_exchange(core::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            // SAFETY: `p` came from Box::into_raw just above and was not published.
            Err(_) => Err(unsafe { Box::from_raw(p) }),
        }
    }

    /// Unpublishes the object and returns it once no epoch reader can hold it (sleeps:
    /// configuration path only, never inside the epoch).
    pub fn take(&self) -> Option<Box<T>> {
        let p = self.ptr.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return None;
        }
        net_epoch_wait();
        // SAFETY: `p` came from Box::into_raw in `set`, is no longer published, and every
        // reader that could have loaded it has left the epoch.
        Some(unsafe { Box::from_raw(p) })
    }
}

impl<T> Drop for EpochBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // Dropping the owner means no reader can reach it any more (containers are
            // dropped after an epoch wait, crate::container::Published).
            // SAFETY: `p` came from Box::into_raw in `set` and is exclusively ours now.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// NET_EPOCH_WAIT: returns once every network-epoch section that was running has ended.
/// Sleeps; never call it inside the epoch.
pub fn net_epoch_wait() {
    // SAFETY: epoch_wait_preempt(net_epoch_preempt), what the macro expands to; no
    // precondition besides a sleepable context (callers: configuration, unload).
    unsafe { sys::epoch_wait_preempt(sys::net_epoch_preempt) };
}

/// Whether the current thread may sleep: THREAD_CAN_SLEEP() and outside the network
/// epoch (a detach takes the configuration lock and waits for the epoch).
pub(crate) fn may_sleep() -> bool {
    // SAFETY: reads the current thread's state; no precondition.
    unsafe { sys::carp_shim_can_sleep() != 0 }
}

/// A VNET (`struct vnet *`), as read from an interface.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Vnet(*mut sys::vnet);
// SAFETY: a vnet pointer is an identifier shared by the whole kernel.
unsafe impl Send for Vnet {}
// SAFETY: as above.
unsafe impl Sync for Vnet {}

impl Vnet {
    pub(crate) fn from_raw(v: *mut sys::vnet) -> Vnet {
        Vnet(v)
    }
}

/// Runs `f` with curvnet set to `v` (CURVNET_SET / CURVNET_RESTORE).
pub fn with_vnet<R>(v: Vnet, f: impl FnOnce() -> R) -> R {
    // SAFETY: sets curthread's vnet; restored below on the same thread.
    let saved = unsafe { sys::carp_shim_curvnet_set(v.0) };
    let r = f();
    // SAFETY: restores what was there before.
    unsafe { sys::carp_shim_curvnet_restore(saved) };
    r
}

/// Current uptime: sbttous(sbinuptime()) (both inline in sys/time.h, over binuptime).
pub fn now() -> Instant {
    let mut bt = sys::bintime::default();
    // SAFETY: fills the caller's struct with the uptime clock; no precondition.
    unsafe { sys::binuptime(&mut bt) };
    // bttosbt: seconds in the high 32 bits, the top 32 bits of the fraction below.
    let sbt = (bt.sec << 32).wrapping_add((bt.frac >> 32) as i64);
    Instant::from_micros(crate::callout::sbt_to_us(sbt))
}

/// arc4random(9), 64 bits.
pub fn random_u64() -> u64 {
    // SAFETY: arc4random has no precondition.
    let (a, b) = unsafe { (sys::arc4random(), sys::arc4random()) };
    (u64::from(a) << 32) | u64::from(b)
}

/// devctl_notify("CARP", subsystem, type, NULL).
pub fn devctl_carp(subsystem: &CStr, kind: &CStr) {
    // SAFETY: two valid NUL-terminated strings.
    unsafe { carp_kpi_devctl(subsystem.as_ptr(), kind.as_ptr()) };
}

/// Every devd event of the module goes through here: a function of its own (not inlined)
/// so that the kernel harness's mutation check can disable it by name.
///
/// # Safety
///
/// Both arguments are valid NUL-terminated strings.
#[no_mangle]
#[inline(never)]
unsafe extern "C" fn carp_kpi_devctl(subsystem: *const c_char, kind: *const c_char) {
    // SAFETY: three valid NUL-terminated strings (caller's contract) that devctl copies
    // before returning.
    unsafe { sys::devctl_notify(c"CARP".as_ptr(), subsystem, kind, core::ptr::null()) };
}

/// The current VNET's `net.inet.carp` values (curvnet must be set: hooks, sysctl
/// handlers and code under [`with_vnet`]). `demotion` is filled by the caller.
pub fn sysctls() -> Sysctls {
    let mut s = sys::carp_shim_sysctls::default();
    // SAFETY: fills a plain struct from the current VNET's variables.
    unsafe { sys::carp_shim_sysctls(&mut s) };
    Sysctls {
        allow: s.allow != 0,
        preempt: s.preempt != 0,
        log: u8::try_from(s.log.clamp(0, 255)).unwrap_or(u8::MAX),
        arpbalance: s.arpbalance != 0,
        dscp: u8::try_from(s.dscp.clamp(0, 63)).unwrap_or(0),
        demotion: 0,
        senderr_demotion_factor: s.senderr_demotion_factor,
        ifdown_demotion_factor: s.ifdown_demotion_factor,
    }
}

/// Adds one to a `net.inet.carp.stats` counter of the current VNET (per-CPU counter(9)).
pub fn stat_inc(s: Stat) {
    // SAFETY: the index is one of the 16 carpstats fields; the shim bounds-checks it too.
    unsafe { sys::carp_shim_stat_inc(s as i32) };
}

fn errno_of(e: i32) -> Errno {
    match e {
        1 => Errno::EPERM,
        2 => Errno::ENOENT,
        6 => Errno::ENXIO,
        12 => Errno::ENOMEM,
        14 => Errno::EFAULT,
        16 => Errno::EBUSY,
        17 => Errno::EEXIST,
        40 => Errno::EMSGSIZE,
        41 => Errno::EPROTOTYPE,
        42 => Errno::ENOPROTOOPT,
        43 => Errno::EPROTONOSUPPORT,
        45 => Errno::EOPNOTSUPP,
        47 => Errno::EAFNOSUPPORT,
        49 => Errno::EADDRNOTAVAIL,
        55 => Errno::ENOBUFS,
        _ => Errno::EINVAL,
    }
}

/// A kernel errno (nonzero) as [`Errno`] (unknown values map to EINVAL).
pub fn errno(e: i32) -> Result<(), Errno> {
    if e == 0 {
        Ok(())
    } else {
        Err(errno_of(e))
    }
}

/// The twelve CARP hook pointers, published ([`crate::hooks`]); cleared when dropped.
pub struct Hooks(());

impl Hooks {
    /// Publishes the twelve hooks.
    pub fn publish() -> Hooks {
        crate::hooks::publish();
        Hooks(())
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        crate::hooks::clear();
    }
}

const IPPROTO_CARP: u8 = sys::IPPROTO_CARP as u8;

/// ipproto_register(IPPROTO_CARP, carp_rs_input4); unregistered when dropped.
pub struct Proto4(());
impl Proto4 {
    /// Registers the IPv4 input of protocol 112.
    pub fn register() -> Result<Proto4, Errno> {
        // SAFETY: registers this module's input function (the ipproto_input_t prototype,
        // checked by the types), which stays loaded until this guard is dropped.
        errno(unsafe { sys::ipproto_register(IPPROTO_CARP, Some(sys::carp_rs_input4), None) })?;
        Ok(Proto4(()))
    }
}
impl Drop for Proto4 {
    fn drop(&mut self) {
        // SAFETY: undoes the successful registration above.
        let _ = unsafe { sys::ipproto_unregister(IPPROTO_CARP) };
    }
}

/// ip6proto_register(IPPROTO_CARP, carp_rs_input6); unregistered when dropped.
pub struct Proto6(());
impl Proto6 {
    /// Registers the IPv6 input of protocol 112.
    pub fn register() -> Result<Proto6, Errno> {
        // SAFETY: as for Proto4 (ip6proto_input_t).
        errno(unsafe { sys::ip6proto_register(IPPROTO_CARP, Some(sys::carp_rs_input6), None) })?;
        Ok(Proto6(()))
    }
}
impl Drop for Proto6 {
    fn drop(&mut self) {
        // SAFETY: undoes the successful registration above.
        let _ = unsafe { sys::ip6proto_unregister(IPPROTO_CARP) };
    }
}

/// The generic netlink family "carp" with its GET and SET commands; unregistered when
/// dropped.
pub struct Netlink(());
impl Netlink {
    /// Registers the family and its commands.
    pub fn register() -> Result<Netlink, Errno> {
        // SAFETY: registers the family and its static command table.
        errno(unsafe { sys::carp_shim_netlink_register() })?;
        Ok(Netlink(()))
    }
}
impl Drop for Netlink {
    fn drop(&mut self) {
        // SAFETY: undoes the successful registration above.
        unsafe { sys::carp_shim_netlink_unregister() };
    }
}

/// The ifnet_departure_event handler (a departing parent loses its container);
/// deregistered when dropped.
pub struct IfDeparture(());
impl IfDeparture {
    /// Registers the handler.
    pub fn register() -> Result<IfDeparture, Errno> {
        // SAFETY: registers the shim's static handler.
        errno(unsafe { sys::carp_shim_ifdetach_register() })?;
        Ok(IfDeparture(()))
    }
}
impl Drop for IfDeparture {
    fn drop(&mut self) {
        // SAFETY: undoes the successful registration above (EVENTHANDLER_DEREGISTER waits
        // for running handlers).
        unsafe { sys::carp_shim_ifdetach_deregister() };
    }
}

/// Schedules the send-all task (every MASTER advertises now) on taskqueue_thread.
pub fn sendall_enqueue() {
    crate::task::SENDALL.enqueue();
}

/// Waits for the send-all task to finish and keeps it from running again until the
/// next enqueue (unload path; sleeps).
pub fn sendall_drain() {
    crate::task::SENDALL.drain();
}

/// A fresh IPv4 identification for an advertisement (ip_fillid: honours
/// net.inet.ip.random_id). Adverts carry DF: with net.inet.ip.rfc6864 (the default)
/// ip_fillid then gives id 0, as stock carp's adverts have.
pub fn ip_newid() -> u16 {
    let mut ip = sys::ip { ip_off: (sys::IP_DF as u16).to_be(), ..Default::default() };
    // SAFETY: curvnet is set by every caller (hooks, callouts, tasks), which the shim's
    // V_ip_random_id read needs; ip_fillid only writes the header on this frame.
    unsafe { sys::ip_fillid(&mut ip, sys::carp_shim_ip_random_id() != 0) };
    u16::from_be(ip.ip_id)
}

/// Adds a batch of counts to the current VNET's per-CPU `net.inet.carp.stats`.
pub fn stats_add(s: &carp_proto::CarpStats) {
    for (i, &n) in s.0.iter().enumerate() {
        let Ok(idx) = i32::try_from(i) else { break };
        for _ in 0..n.min(16) {
            // SAFETY: idx is within the 16 carpstats fields; the shim checks it again.
            unsafe { sys::carp_shim_stat_inc(idx) };
        }
    }
}

/// Threads currently inside a hook that may sleep or run outside the network epoch
/// (ioctl, attach, detach, netlink, linkstate, demote_adj, the send-all task).
static IN_FLIGHT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Counts the calling thread as inside a hook until dropped (unload waits for zero).
pub struct InFlight(());

impl InFlight {
    /// Enter.
    pub fn enter() -> InFlight {
        // SeqCst: a store-buffer handshake with refuse_new_config/wait_hooks_idle.
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight(())
    }

    /// Enter a hook that may create configuration (ioctl, attach, netlink, demotion):
    /// `None` once unload has begun. The thread is counted before the flag is read, so
    /// after [`refuse_new_config`] and [`wait_hooks_idle`] no thread can still be on its
    /// way to creating a container.
    pub fn enter_config() -> Option<InFlight> {
        let g = InFlight::enter();
        if ACCEPTING.load(Ordering::SeqCst) {
            Some(g)
        } else {
            None
        }
    }
}

/// Whether configuration is accepted: from the end of a successful load until unload
/// begins (and again after a refused unload).
static ACCEPTING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Unload begins: configuration hooks refuse from now on.
pub fn refuse_new_config() {
    ACCEPTING.store(false, Ordering::SeqCst);
}

/// Load completed, or unload was refused: configuration hooks work (again).
pub fn accept_new_config() {
    ACCEPTING.store(true, Ordering::SeqCst);
}

/// Ends an in-flight section (the drop of an [`InFlight`]).
fn inflight_exit() {
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

/// Whether unload has not begun.
pub fn accepting_new_config() -> bool {
    ACCEPTING.load(Ordering::SeqCst)
}

impl Drop for InFlight {
    fn drop(&mut self) {
        inflight_exit();
    }
}

/// Unload, once no hook or handler can queue any more: waits for the deferred-address
/// task, runs the work left and frees the spare entries ([`crate::task`]).
pub fn deferred_drain() {
    crate::task::drain(|| {
        // SAFETY: the task function itself, run once more inline on the sleepable unload
        // thread (its arguments are unused).
        unsafe { sys::carp_rs_deferred(core::ptr::null_mut(), 0) }
    });
}

/// An address was bound: one more spare entry for deferring its detach (sleeps for the
/// memory; sleepable callers without a mutex).
pub fn defer_reserve() {
    crate::task::reserve();
}

/// A binding went: one spare entry fewer.
pub fn defer_release() {
    crate::task::release();
}

/// Sleeps about a millisecond: pause("carpunl", MAX(1, hz / 1000)); sleepable callers
/// only.
pub fn pause_ms() {
    // SAFETY: reads the kernel's clock constants.
    let (hz, tick_sbt) = unsafe { (sys::hz, sys::tick_sbt) };
    let ticks = i64::from((hz / 1000).max(1));
    // SAFETY: pause(9) (an inline over pause_sbt) with a static message; callers are in
    // sleepable context (unload).
    let _ = unsafe { sys::pause_sbt(c"carpunl".as_ptr(), tick_sbt.wrapping_mul(ticks), 0, sys::C_HARDCLOCK as i32) };
}

/// Waits (sleeping a millisecond at a time) until no thread is inside a hook; at most
/// `max_ms` milliseconds. Returns whether it got there.
pub fn wait_hooks_idle(max_ms: u32) -> bool {
    for _ in 0..max_ms {
        if IN_FLIGHT.load(Ordering::SeqCst) == 0 {
            return true;
        }
        pause_ms();
    }
    IN_FLIGHT.load(Ordering::SeqCst) == 0
}

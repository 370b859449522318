//! Module life cycle (load, unload), sysctl policy, demotion adjustments and the send-all
//! task. The state they work on is in [`crate::state`]; the locking design is described at
//! the top of the crate (`lib.rs`).

use alloc::vec::Vec;

use carp_proto::Errno;

use carp_kpi::log;
use carp_kpi::net::{self, Hooks, IfDeparture, Netlink, Proto4, Proto6};
use carp_kpi::sync::ConfigGuard;

use crate::state::{demotion, sysctls, Loaded, GLOBAL};

/// `MOD_LOAD`: the per-VNET cloner and ARP hook, then protocol 112 (IPv6 and IPv4), the
/// netlink family and the hooks. Any failure undoes what was done (the registrations are
/// RAII values). Configuration (carpN creation included) is refused until the load has
/// completed.
pub fn load() -> Result<(), Errno> {
    // The cloner and the ARP hook, in every VNET, without the configuration lock
    // (see `PerVnet::register`). No carpN can exist before the load completes: creation
    // is refused until then.
    let pervnet = carp_kpi::clone::PerVnet::register().inspect_err(|e| {
        log::info_fmt(format_args!("carp: error {} attaching the carp interface cloner and ARP hook", e.as_i32()));
    })?;
    let mut g = ConfigGuard::lock();
    // Protocols and netlink first, hooks last: a failure leaves nothing published (the
    // guards made so far unregister as they drop, the configuration lock before
    // `pervnet`, which is declared first).
    let proto6 = Proto6::register().inspect_err(|e| {
        log::info_fmt(format_args!("carp: error {} registering with INET6", e.as_i32()));
    })?;
    let proto4 = Proto4::register().inspect_err(|e| {
        log::info_fmt(format_args!("carp: error {} registering with INET", e.as_i32()));
    })?;
    let netlink = Netlink::register().inspect_err(|e| {
        log::info_fmt(format_args!("carp: error {} registering the netlink family", e.as_i32()));
    })?;
    let ifdeparture = IfDeparture::register()?;
    let hooks = Hooks::publish();
    GLOBAL.get(&mut g).loaded = Some(Loaded { pervnet, ifdeparture, netlink, proto4, proto6, hooks });
    drop(g);
    net::accept_new_config();
    log::info(c"carp: CARP (Rust) loaded");
    Ok(())
}

/// `MOD_UNLOAD`, safe with vhids configured. The order matters because the stack calls
/// most hooks without a NULL check whenever `if_carp` or `ifa_carp` is set:
///
/// 1. configuration hooks (ioctl, attach, netlink, carpN create/ioctl) refuse from now
///    on, and netlink and protocol 112 are unregistered;
/// 2. threads already inside a hook are waited for (at most a second), and room is
///    reserved to list every address bound to a vhid; if a thread stays or there is no
///    memory, those registrations come back and the unload is refused with `EBUSY`,
///    nothing else changed;
/// 3. from here on the unload goes through: every carpN is destroyed (through the
///    kernel, outside every lock; its addresses go with it), then the cloner and the ARP
///    hook go from every VNET (the destructor stays registered until no VNET, not even
///    one being created or destroyed meanwhile, holds either); every container is
///    released under the configuration lock, each in its parent's VNET: CARP addresses
///    unbound (`ifa_carp` cleared, routes withdrawn) and listed, `if_carp` cleared, after
///    an epoch wait with its callout drained; then, without the lock and while the hooks
///    are still published, each listed address is removed from its interface through the
///    kernel's own deletion (`in_control(SIOCDIFADDR)` / `in6_purgeifaddr`, in its VNET)
///    and the removal logged: a shared address left as a plain one would be answered by
///    this host while the peer is MASTER; then the departure handler goes;
/// 4. only now, with nothing in the stack pointing at CARP state, the hooks are cleared;
///    then the epoch and every remaining hook user are waited for, and the send-all task
///    and the deferred address work drained.
///
/// Residual race, as in every FreeBSD module that clears hooks: a thread outside the
/// network epoch that read `if_carp`/`ifa_carp` before step 3 and stalls until after step
/// 4 would call a cleared hook.
pub fn unload() -> Result<(), Errno> {
    net::refuse_new_config();
    let loaded = {
        let mut g = ConfigGuard::lock();
        GLOBAL.get(&mut g).loaded.take()
    };
    let Some(Loaded { pervnet, ifdeparture, netlink, proto4, proto6, hooks }) = loaded else {
        return Ok(());
    };
    drop(netlink);
    drop(proto4);
    drop(proto6);
    net::net_epoch_wait();
    let busy = if !net::wait_hooks_idle(1000) {
        Some(c"carp: unload refused: a thread is still inside a CARP hook")
    } else {
        None
    };
    // Room to list every address bound to a vhid, reserved before the point of no
    // return: each of them is removed from its interface at unload (all or nothing).
    let mut unbound: Vec<(carp_kpi::net::Vnet, carp_kpi::ifnet::IfaRef)> = Vec::new();
    let no_room = busy.is_none() && {
        let mut g = ConfigGuard::lock();
        let n = crate::config::bound_count(GLOBAL.get(&mut g));
        unbound.try_reserve_exact(n).is_err()
    };
    let refusal = busy.or(no_room.then_some(c"carp: unload refused: out of memory listing the CARP addresses to remove"));
    if let Some(why) = refusal {
        // Register again and refuse; if that fails the module cannot stay loaded half
        // registered, so it waits for the threads and goes on unloading.
        let (Ok(proto6), Ok(proto4), Ok(netlink)) = (Proto6::register(), Proto4::register(), Netlink::register())
        else {
            log::info(c"carp: unload: waiting for a thread inside a CARP hook");
            wait_idle_forever();
            return finish_unload(pervnet, ifdeparture, hooks, unbound);
        };
        let mut g = ConfigGuard::lock();
        GLOBAL.get(&mut g).loaded = Some(Loaded { pervnet, ifdeparture, netlink, proto4, proto6, hooks });
        net::accept_new_config();
        log::info(why);
        return Err(Errno::EBUSY);
    }
    finish_unload(pervnet, ifdeparture, hooks, unbound)
}

/// Waits as long as it takes for threads inside the module (past the point of no return
/// the module must not be unmapped under them).
fn wait_idle_forever() {
    while !net::wait_hooks_idle(1000) {}
}

/// Steps 3 and 4 of [`unload`].
fn finish_unload(
    pervnet: carp_kpi::clone::PerVnet,
    ifdeparture: IfDeparture,
    hooks: Hooks,
    mut unbound: Vec<(carp_kpi::net::Vnet, carp_kpi::ifnet::IfaRef)>,
) -> Result<(), Errno> {
    // Every carpN destroyed first, through the kernel and outside every lock
    // (their addresses detach through our hooks); then the cloner and the ARP pfil hook
    // go from every VNET (the hook may run until the epoch wait below).
    crate::legacy::destroy_all();
    drop(pervnet);
    net::net_epoch_wait();
    wait_idle_forever();
    {
        // Under the configuration lock, as every other release: a concurrent detach or
        // departure must not find the parent gone while it is still being released.
        let mut g = ConfigGuard::lock();
        let parents = core::mem::take(&mut GLOBAL.get(&mut g).parents);
        for p in parents {
            // In the parent's VNET: kldunload runs in vnet0, a jail's parent lives
            // elsewhere (routes, ARP entries and multicast memberships are per VNET).
            let vnet = p.link.get().vnet;
            net::with_vnet(vnet, || {
                crate::config::release_parent(p, |ifa| {
                    // Room was reserved in unload() for every bound address and no new
                    // binding is accepted since, so this push does not allocate.
                    if crate::util::push(&mut unbound, (vnet, ifa)).is_err() {
                        log::info(c"carp: unload: a CARP address could not be listed for removal");
                    }
                })
            });
        }
        // The carpN registry is empty now (every carpN was destroyed); its buffer goes
        // before malloc_uninit, like every allocation of the module.
        drop(core::mem::take(crate::legacy::CLONES.get(&mut g)));
    }
    // The addresses that were bound to vhids leave their interfaces, as `ifconfig IF inet
    // A -alias` would: left behind as plain addresses, the stack would answer ARP and
    // neighbour solicitations for a shared address the peer now owns. Without the
    // configuration lock (the kernel's deletion takes in_control_sx, which orders before
    // it) and while the hooks are still published (the deletion may call them).
    for (vnet, ifa) in unbound.iter() {
        remove_unbound(*vnet, ifa);
    }
    drop(unbound);
    drop(ifdeparture);
    net::net_epoch_wait();
    drop(hooks);
    net::net_epoch_wait();
    wait_idle_forever();
    net::sendall_drain();
    // Address work deferred by the detach hook or the address events (both gone now).
    net::deferred_drain();
    log::info(c"carp: CARP (Rust) unloaded");
    Ok(())
}

/// Removes one formerly bound address from its interface at unload, logging it once.
fn remove_unbound(vnet: carp_kpi::net::Vnet, ifa: &carp_kpi::ifnet::IfaRef) {
    let a = ifa.get();
    let addr = a.addr();
    let ifname = a.ifp().map(|i| i.name());
    let err = net::with_vnet(vnet, || ifa.remove_from_interface());
    let Ok(addr) = addr else { return };
    let Some(ifname) = ifname else { return };
    match err {
        0 => log::info_fmt(format_args!(
            "carp: unload: removed CARP address {} from {}",
            crate::util::LogAddr(addr),
            ifname.as_str()
        )),
        // Already gone (deleted meanwhile): nothing was left behind.
        e if e == Errno::EADDRNOTAVAIL.as_i32() => {}
        e => log::info_fmt(format_args!(
            "carp: unload: error {} removing CARP address {} from {}; it stays as a plain address",
            e,
            crate::util::LogAddr(addr),
            ifname.as_str()
        )),
    }
}

/// `net.inet.carp.allow` changes from `old` to `new` in the current VNET: every vhid of
/// this VNET re-runs the interface-state logic (off: INIT with the ifdown demotion).
pub fn allow_changed(old: bool, new: bool) -> Result<(), Errno> {
    if old == new {
        return Ok(());
    }
    let mut g = ConfigGuard::lock();
    let mut sys = sysctls();
    sys.allow = new;
    let cur = carp_kpi::vnet::current();
    for p in GLOBAL.get(&mut g).parents.iter() {
        let cif = p.link.get();
        if cif.vnet != cur {
            continue;
        }
        let ifp = p.link.ifp();
        net::in_net_epoch(|e| crate::cif::run(cif, ifp, e, &sys, |inner, now| inner.table.handle_allow(now, &sys)));
    }
    Ok(())
}

/// `net.inet.carp.dscp` write check: 0..=63.
pub fn dscp_check(v: i32) -> Result<(), Errno> {
    if (0..=63).contains(&v) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// `carp_demote_adj(adj, reason)` (pfsync, and writes to `net.inet.carp.demotion`): add,
/// log "demoted by", make every MASTER advertise at once.
pub fn demote_adj(adj: i32, reason: &str) {
    let c = demotion().adjust(adj, carp_proto::demotion::DemotionReason::Sysctl);
    if net::sysctls().log >= 1 {
        log::info_fmt(format_args!("carp: demoted by {} to {} ({})", c.adj, c.value, reason));
    }
    // The value always counts (a refused unload must not lose a pfsync -/+ pair); the
    // send-all task is not queued again once unload has begun.
    if net::accepting_new_config() {
        net::sendall_enqueue();
    }
}

/// The send-all task: every MASTER vhid of every parent advertises now.
pub fn sendall() {
    let mut g = ConfigGuard::lock();
    for p in GLOBAL.get(&mut g).parents.iter() {
        let cif = p.link.get();
        let ifp = p.link.ifp();
        net::with_vnet(cif.vnet, || {
            let sys = sysctls();
            net::in_net_epoch(|e| {
                crate::cif::run(cif, ifp, e, &sys, |inner, now| {
                    inner.table.handle_demotion_change(now);
                })
            })
        });
    }
}

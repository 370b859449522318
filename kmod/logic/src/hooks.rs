//! The data-plane hooks and protocol input: lookups answered by the core's `Table` under
//! the parent container's lock only (never sleeping, never sending while locked).

use core::net::Ipv6Addr;

use carp_proto::input;
use carp_proto::table::{Iamatch6, Table};
use carp_proto::{CarpStats, Stat};

use crate::cif::{self, CifData};
use carp_kpi::container::Contained;
use carp_kpi::ifnet::{Ifaddr, Ifnet};
use carp_kpi::log;
use carp_kpi::net::{self, Epoch};
use carp_kpi::req::Mbuf;
use crate::state;

/// Packets up to this size are copied to the stack (CARP adverts are 56/76 bytes; VRRPv3
/// up to 121 IPv4 or 29 IPv6 addresses); longer ones to the heap.
const INPUT_CAP: usize = 512;

/// Protocol 112 input (IPv4 when `v6` is false; for IPv6, `off` is where the kernel's
/// IPv6 input left the CARP/VRRP header, past any extension headers). Consumes the packet.
pub fn input(m: Mbuf, v6: bool, off: usize, e: &Epoch) {
    // What FreeBSD counts when it cannot even look at the packet: the packet received,
    // then a header drop (its m_pullup failures), never a silent drop.
    let header_drop = || {
        let mut stats = CarpStats::default();
        stats.bump(if v6 { Stat::IPackets6 } else { Stat::IPackets });
        stats.bump(Stat::HdrOps);
        net::stats_add(&stats);
    };
    let mut buf = [0u8; INPUT_CAP];
    let mut big;
    let n = m.len().min(usize::from(u16::MAX));
    let bytes: &mut [u8] = if n <= INPUT_CAP {
        let Some(b) = buf.get_mut(..n) else {
            header_drop();
            return;
        };
        b
    } else {
        // Rare (VRRPv3 with many addresses): a heap copy, M_NOWAIT.
        let Ok(v) = carp_kpi::malloc::zeroed_bytes(n) else {
            header_drop();
            return;
        };
        big = v;
        &mut big
    };
    if m.copy_to(bytes).is_none() {
        header_drop();
        return;
    }
    let bytes: &[u8] = bytes;
    let Some(ifp) = m.rcvif() else { return };
    let sys = state::sysctls();
    let ifname = ifp.name();
    let report = |out: &input::Outcome| {
        let mut stats = CarpStats::default();
        out.count(&mut stats);
        net::stats_add(&stats);
        if sys.log >= 2 {
            if let Some(d) = out.diag {
                log::debug_fmt(format_args!("{}", d.display(ifname.as_str())));
            }
        }
    };
    match ifp.container::<CifData>(e) {
        None => {
            let out = if v6 {
                input::input_ipv6_at::<Table>(sys.allow, None, bytes, off)
            } else {
                input::input_ipv4_at::<Table>(sys.allow, None, bytes, off)
            };
            report(&out);
        }
        Some(c) => {
            cif::run(c, ifp, e, &sys, |inner, now| {
                let out = if v6 {
                    input::input_ipv6_at(sys.allow, Some(&inner.table), bytes, off)
                } else {
                    input::input_ipv4_at(sys.allow, Some(&inner.table), bytes, off)
                };
                report(&out);
                if let Some(adv) = out.advert {
                    inner.table.handle_advert(now, &adv, &sys);
                }
            });
        }
    }
    drop(m);
}

/// The vhid an address is bound to, with the container (lock taken briefly).
fn with_ifa<R>(ifa: &Ifaddr<'_>, e: &Epoch, f: impl FnOnce(&Table, u8) -> R) -> Option<R> {
    // An address of a carpN is bound to its parent's container, found
    // through ifa_carp (ifa_ifp is the carpN, which has no container).
    let ifp = ifa.ifp()?;
    let cif = match ifp.container::<CifData>(e) {
        Some(c) => c,
        None => ifa.container::<CifData>(e)?,
    };
    let g = cif.inner.lock();
    let vhid = g.vhid_of_ifa(ifa)?;
    Some(f(&g.table, vhid))
}

/// carp_master: nonzero iff the address's vhid is MASTER.
pub fn master(ifa: Ifaddr<'_>, e: &Epoch) -> bool {
    with_ifa(&ifa, e, |t, v| t.is_master(v)).unwrap_or(false)
}

/// carp_get_vhid: the address's vhid or 0.
pub fn get_vhid(ifa: Ifaddr<'_>, e: &Epoch) -> i32 {
    with_ifa(&ifa, e, |_, v| i32::from(v)).unwrap_or(0)
}

/// carp_iamatch: the vhid whose virtual MAC answers ARP for this address (MASTER only).
pub fn iamatch(ifa: Ifaddr<'_>, e: &Epoch) -> i32 {
    with_ifa(&ifa, e, |t, v| t.iamatch(v).map_or(0, |_| i32::from(v))).unwrap_or(0)
}

/// carp_forus: is `dhost` the virtual MAC of a MASTER vhid of `ifp` (container lock only).
pub fn forus(ifp: Ifnet<'_>, dhost: &[u8; 6], e: &Epoch) -> bool {
    let Some(cif) = ifp.container::<CifData>(e) else { return false };
    cif.inner.lock().table.forus(dhost)
}

/// carp_iamatch6: 0 not CARP, -1 CARP but not MASTER, vhid when MASTER.
pub fn iamatch6(ifp: Ifnet<'_>, addr: Ipv6Addr, e: &Epoch) -> i32 {
    let Some(cif) = ifp.container::<CifData>(e) else { return 0 };
    match cif.inner.lock().table.iamatch6(&addr) {
        Iamatch6::NotCarp => 0,
        Iamatch6::Backup => -1,
        Iamatch6::Master { vhid, .. } => i32::from(vhid),
    }
}

/// carp_macmatch6: vhid of a CARP address (any state), 0 if not CARP. As in FreeBSD 15
/// (`carp_macmatch6` always tags, `carp_output` always rewrites), an NA for a CARP address
/// carries the virtual MAC as Ethernet source and target link-layer address, unicast peer
/// or not. (The shim still understands 0x100 = "keep the interface source"; unused.)
pub fn macmatch6(ifp: Ifnet<'_>, addr: Ipv6Addr, e: &Epoch) -> i32 {
    let Some(cif) = ifp.container::<CifData>(e) else { return 0 };
    let g = cif.inner.lock();
    let Some((v, _)) = g.table.macmatch6(&addr) else { return 0 };
    i32::from(v)
}

/// carp_linkstate: the parent's IFF_UP or link state may have changed.
pub fn linkstate(ifp: Ifnet<'_>, e: &Epoch) {
    let Some(c) = ifp.container::<CifData>(e) else { return };
    let (up, link) = (ifp.is_up(), ifp.link_up());
    net::with_vnet(ifp.vnet(), || {
        let sys = state::sysctls();
        cif::run(c, ifp, e, &sys, |inner, now| {
            if inner.iff_up != up || inner.link_up != link {
                inner.iff_up = up;
                inner.link_up = link;
                inner.table.handle_parent(now, up, link, &sys);
            }
        });
    });
}

impl Contained for CifData {
    fn init_in_place(&self) {
        self.inner.init(c"carp_if");
    }

    fn expire(c: &cif::Cif, e: &Epoch) {
        callout(c, e);
    }
}

/// The container's callout fired.
pub fn callout(c: &cif::Cif, e: &Epoch) {
    let ifp = c.ifp();
    if c.is_dying() {
        return;
    }
    net::with_vnet(c.vnet, || {
        let sys = state::sysctls();
        cif::run(c, ifp, e, &sys, |inner, now| {
            // The armed deadline has fired (or this is an early call): arm again below.
            inner.armed = None;
            inner.table.handle_timeout(now, &sys)
        });
    });
}


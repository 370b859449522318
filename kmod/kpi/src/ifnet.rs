//! Interfaces and interface addresses: borrowed views for the duration of a hook
//! ([`Ifnet`], [`Ifaddr`]), counted references ([`IfRef`], [`IfaRef`]), the CARP fields
//! (`if_carp`, `ifa_carp`), and what carp.ko does to a parent: promiscuous mode and
//! multicast membership (RAII, each paired exactly once), routes, announcements and
//! advertisement output.

use core::ffi::{c_void, CStr};
use core::marker::PhantomData;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::ptr::NonNull;

use carp_proto::vhid::IfName;
use carp_proto::{Errno, Family};
use sys_bindings as sys;

use crate::mcast;
use crate::net::{errno, Epoch, Vnet};

pub(crate) const AF_INET: i32 = 2;
pub(crate) const AF_INET6: i32 = 28;

fn af_of(f: Family) -> i32 {
    match f {
        Family::Inet => AF_INET,
        Family::Inet6 => AF_INET6,
    }
}

/// An interface the kernel handed to a hook, valid for lifetime `'a` (the hook call).
#[derive(Clone, Copy)]
pub struct Ifnet<'a> {
    ptr: NonNull<sys::ifnet>,
    _life: PhantomData<&'a sys::ifnet>,
}

impl<'a> Ifnet<'a> {
    /// # Safety
    ///
    /// `ptr` must be null or a live interface for the whole of `'a`.
    pub(crate) unsafe fn from_raw(ptr: *mut sys::ifnet) -> Option<Ifnet<'a>> {
        NonNull::new(ptr).map(|ptr| Ifnet { ptr, _life: PhantomData })
    }

    // pub(super): the rest of the crate (clone, walk, container...) reads fields through it.
    pub(super) fn raw(&self) -> *mut sys::ifnet {
        self.ptr.as_ptr()
    }

    /// `if_xname`.
    pub fn name(&self) -> IfName {
        // SAFETY: live interface (type invariant); if_name returns its NUL-terminated
        // name, stable while the interface exists.
        let p = unsafe { sys::if_name(self.raw()) };
        if p.is_null() {
            return IfName::EMPTY;
        }
        // SAFETY: non-null NUL-terminated string owned by the interface.
        IfName::from_bytes(unsafe { CStr::from_ptr(p) }.to_bytes())
    }

    /// `if_flags`.
    pub fn flags(&self) -> u32 {
        // SAFETY: live interface.
        unsafe { sys::if_getflags(self.raw()) as u32 }
    }

    /// `if_type`.
    pub fn if_type(&self) -> u8 {
        // SAFETY: live interface.
        u8::try_from(unsafe { sys::if_gettype(self.raw()) }).unwrap_or(0)
    }

    /// `if_link_state == LINK_STATE_UP`.
    pub fn link_up(&self) -> bool {
        // SAFETY: live interface.
        unsafe { sys::if_getlinkstate(self.raw()) == sys::LINK_STATE_UP as i32 }
    }

    /// `if_index`.
    pub fn index(&self) -> u32 {
        // SAFETY: live interface.
        u32::try_from(unsafe { sys::if_getindex(self.raw()) }).unwrap_or(0)
    }

    /// The link-level (MAC) address, for Ethernet-like interfaces.
    pub fn lladdr(&self) -> Option<[u8; 6]> {
        // SAFETY: live interface; if_getlladdr returns its link-level address storage.
        let p = unsafe { sys::if_getlladdr(self.raw()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: Ethernet-like parents (the only ones CARP accepts) have a 6-byte address.
        Some(unsafe { p.cast::<[u8; 6]>().read_unaligned() })
    }

    /// `IFF_UP`.
    pub fn is_up(&self) -> bool {
        self.flags() & carp_proto::config::IFF_UP != 0
    }

    /// The interface's addresses, walked inside the network epoch `_e`.
    pub fn addrs<'e>(&self, _e: &'e Epoch) -> Addrs<'e>
    where
        'a: 'e,
    {
        // SAFETY: live interface; the list head is read as CK reads it.
        let first = unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).if_addrhead.cstqh_first)) };
        Addrs { next: first, ifp: self.raw(), _epoch: PhantomData }
    }

    /// The VNET the interface lives in.
    pub fn vnet(&self) -> Vnet {
        // SAFETY: live interface.
        Vnet::from_raw(unsafe { sys::if_getvnet(self.raw()) })
    }

    /// The parent's preferred source address of `family` for advertisements (ifa_preferred's
    /// order, as ip_carp.c uses it): the first address of the family without a vhid;
    /// failing that, the first CARP one whose vhid is MASTER; failing that, the first
    /// one. The unspecified address if it has none. Must not be called with a container
    /// lock held (it asks carp_master of CARP addresses).
    pub fn source(&self, family: Family) -> IpAddr {
        let want = af_of(family);
        let best = crate::net::in_net_epoch(|e| {
            let mut best: Option<(u8, IpAddr)> = None;
            for ifa in self.addrs(e) {
                if ifa.family() != Some(want) {
                    continue;
                }
                let rank = if !ifa.is_carp() {
                    3
                } else if {
                    // SAFETY: the carp_master_p hook of this module on a live address,
                    // inside the network epoch as the kernel calls it.
                    unsafe { sys::carp_rs_master(ifa.raw()) != 0 }
                } {
                    2
                } else {
                    1
                };
                if best.is_none_or(|(r, _)| rank > r) {
                    if let Ok(a) = ifa.addr() {
                        best = Some((rank, a));
                    }
                }
                if rank == 3 {
                    break;
                }
            }
            best
        });
        best.map_or(
            match family {
                Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            },
            |(_, a)| a,
        )
    }

    /// Sends an IP packet built by the core: PACKET_TAG_CARP with `tag_vhid` (virtual MAC
    /// as Ethernet source) when given, multicast options of the container. Returns the
    /// output errno; `Err(None)` when no mbuf/tag could be allocated.
    ///
    /// `pkt` must be one whole IP packet of `family` (`EINVAL` otherwise: ip_output trusts
    /// the header of a raw packet), and `mcast` the options of this interface and family.
    pub fn send(&self, family: Family, pkt: &[u8], tag_vhid: Option<u8>, mcast: Option<&Mcast>) -> Result<(), Option<i32>> {
        let einval = Some(Errno::EINVAL.as_i32());
        if !whole_ip_packet(family, pkt) || mcast.is_some_and(|m| m.family != family || !m.ifp.get().same(self)) {
            return Err(einval);
        }
        let len = i32::try_from(pkt.len()).map_err(|_| None)?;
        let mc = mcast.map_or(core::ptr::null_mut(), |m| m.state.as_ptr());
        // SAFETY: live interface; `pkt` is one whole IP packet of `family` (checked), valid
        // for `len` bytes and copied into a new mbuf; `mc` is null or a live multicast
        // state of this interface and family (checked).
        let r = unsafe { carp_kpi_send(self.raw(), af_of(family), pkt.as_ptr(), len, i32::from(tag_vhid.unwrap_or(0)), mc) };
        match r {
            0 => Ok(()),
            e if e < 0 => Err(None),
            e => Err(Some(e)),
        }
    }

    /// Gratuitous ARP request for `addr` at `mac`.
    pub fn garp(&self, addr: Ipv4Addr, mac: &[u8; 6]) {
        // SAFETY: live interface; 6 readable bytes.
        unsafe { carp_kpi_garp(self.raw(), u32::from_ne_bytes(addr.octets()), mac.as_ptr()) };
    }

    /// Unsolicited NA (override) for `addr` to ff02::1; the virtual MAC comes from the
    /// macmatch6 hook. Must not be called with a container lock held.
    pub fn unsolicited_na(&self, addr: Ipv6Addr) {
        let mut a = in6(addr.octets());
        // ff02::1 with the interface's zone embedded: nd6_na_output_fib copies a multicast
        // destination as given, and ip6_output drops a link-local destination whose
        // embedded zone is not the outgoing interface's ("badscope"). Stock carp_send_na
        // passes the unscoped in6addr_linklocal_allnodes, so its unsolicited NA never
        // leaves FreeBSD 15; this one does.
        // SAFETY: reads the kernel's constant.
        let mut dst = unsafe { sys::in6addr_linklocal_allnodes };
        // SAFETY: live interface; both addresses are copies on this frame.
        unsafe {
            if sys::in6_setscope(&mut a, self.raw(), core::ptr::null_mut()) != 0
                || sys::in6_setscope(&mut dst, self.raw(), core::ptr::null_mut()) != 0
            {
                return;
            }
            sys::nd6_na_output(self.raw(), &dst, &a, sys::ND_NA_FLAG_OVERRIDE as core::ffi::c_ulong, 1, core::ptr::null_mut());
        }
    }

    /// Whether `if_carp` is set (a parent with a container).
    pub(crate) fn has_container(&self) -> bool {
        // SAFETY: live interface; if_carp is read as the kernel writes it (atomically).
        !unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).if_carp)) }.is_null()
    }

    /// Whether `ifa`'s `ifa_carp` is this interface's `if_carp` (the address is bound to
    /// the container hanging off this parent).
    ///
    /// # Safety
    ///
    /// `ifa` points to a live ifaddr.
    pub(crate) unsafe fn same_container(&self, ifa: *mut sys::ifaddr) -> bool {
        // SAFETY: live interface and address; both fields are read atomically.
        unsafe {
            let c = load_ptr(core::ptr::addr_of_mut!((*ifa).ifa_carp)).cast::<c_void>();
            c == load_ptr(core::ptr::addr_of_mut!((*self.raw()).if_carp)).cast::<c_void>()
        }
    }

    /// Same interface object.
    pub fn same(&self, other: &Ifnet<'_>) -> bool {
        self.ptr == other.ptr
    }

    /// Takes a counted reference.
    pub fn to_ref(&self) -> IfRef {
        // SAFETY: live interface; if_ref counts one more reference, released by IfRef.
        unsafe { sys::if_ref(self.raw()) };
        IfRef { ptr: self.ptr }
    }
}

/// Whether `pkt` is exactly one IP packet of `family` by its header: version, header
/// length within the packet, total (IPv4) or payload (IPv6) length matching.
fn whole_ip_packet(family: Family, pkt: &[u8]) -> bool {
    match family {
        Family::Inet => {
            let (Some(&vihl), Some(&[t0, t1])) = (pkt.first(), pkt.get(2..4)) else { return false };
            let ihl = usize::from(vihl & 0x0f) * 4;
            vihl >> 4 == 4 && ihl >= 20 && ihl <= pkt.len() && usize::from(u16::from_be_bytes([t0, t1])) == pkt.len()
        }
        Family::Inet6 => {
            let (Some(&v), Some(&[p0, p1])) = (pkt.first(), pkt.get(4..6)) else { return false };
            let plen = usize::from(u16::from_be_bytes([p0, p1]));
            v >> 4 == 6 && pkt.len() >= 40 && plen.checked_add(40) == Some(pkt.len())
        }
    }
}

/// `((struct sockaddr_in *)sa)->sin_addr.s_addr` (network order), for a socket address
/// known to be AF_INET, or a netmask of one (which may have a shorter `sa_len` and no
/// family, but whose storage is a whole `sockaddr_in`).
///
/// # Safety
///
/// `sa` is a live `sockaddr_in` (non-null).
pub(crate) unsafe fn s_addr(sa: *const sys::sockaddr) -> u32 {
    // SAFETY: caller's contract; an unaligned read of the 4 bytes of sin_addr.
    unsafe { core::ptr::addr_of!((*sa.cast::<sys::sockaddr_in>()).sin_addr.s_addr).read_unaligned() }
}

/// `((struct sockaddr_in6 *)sa)->sin6_addr` as it is stored (embedded scope included).
///
/// # Safety
///
/// `sa` is a live `sockaddr_in6` (non-null).
pub(crate) unsafe fn sin6_addr(sa: *const sys::sockaddr) -> sys::in6_addr {
    // SAFETY: caller's contract.
    unsafe { core::ptr::addr_of!((*sa.cast::<sys::sockaddr_in6>()).sin6_addr).read_unaligned() }
}

/// The bytes of an IPv6 address as the kernel stores it, with its embedded scope (KAME's
/// link-local interface index) cleared.
pub(crate) fn scope_cleared(mut a: sys::in6_addr) -> [u8; 16] {
    // SAFETY: in6_clearscope only rewrites the copy on this frame.
    unsafe { sys::in6_clearscope(&mut a) };
    // SAFETY: every bit pattern of the 16-byte union is a valid byte array.
    unsafe { a.__u6_addr.__u6_addr8 }
}

/// The IP address of a socket address: IPv4, or IPv6 with its embedded scope (KAME's
/// link-local interface index) cleared; `Err(family)` for other families or a null
/// pointer (family 0).
///
/// # Safety
///
/// `sa` is null or points to a socket address whose `sa_len` bytes are readable (the
/// kernel's `ifa_addr`/`ifa_netmask` of a live address).
pub(crate) unsafe fn sockaddr_ip(sa: *const sys::sockaddr) -> Result<IpAddr, u8> {
    // SAFETY: caller's contract.
    let Some(hdr) = (unsafe { sa.as_ref() }) else { return Err(0) };
    let len = usize::from(hdr.sa_len);
    match i32::from(hdr.sa_family) {
        AF_INET if len >= core::mem::size_of::<sys::sockaddr_in>() => {
            // SAFETY: a sockaddr_in of that length (checked).
            Ok(IpAddr::V4(Ipv4Addr::from(unsafe { s_addr(sa) }.to_ne_bytes())))
        }
        AF_INET6 if len >= core::mem::size_of::<sys::sockaddr_in6>() => {
            // SAFETY: a sockaddr_in6 of that length (checked).
            Ok(IpAddr::V6(Ipv6Addr::from(scope_cleared(unsafe { sin6_addr(sa) }))))
        }
        af => Err(u8::try_from(af).unwrap_or(0)),
    }
}

/// Loads a pointer field the kernel updates concurrently (a CK list link, `if_carp`,
/// `ifa_carp`) with Acquire ordering (`ck_pr_load_ptr` plus `ck_pr_fence_load`).
///
/// # Safety
///
/// `field` points to an aligned, live pointer field.
pub(crate) unsafe fn load_ptr<T>(field: *mut *mut T) -> *mut T {
    // SAFETY: caller's contract; the kernel writes these fields with atomic stores.
    unsafe { core::sync::atomic::AtomicPtr::from_ptr(field) }.load(core::sync::atomic::Ordering::Acquire)
}

/// Stores a pointer field the kernel reads concurrently (`if_carp`, `ifa_carp`) with
/// Release ordering (what readers loading with [`load_ptr`] pair with).
///
/// # Safety
///
/// `field` points to an aligned, live pointer field.
pub(crate) unsafe fn store_ptr<T>(field: *mut *mut T, v: *mut T) {
    // SAFETY: caller's contract; the kernel reads these fields with atomic loads.
    unsafe { core::sync::atomic::AtomicPtr::from_ptr(field) }.store(v, core::sync::atomic::Ordering::Release)
}

/// An interface's addresses in list order (`CK_STAILQ_FOREACH` over `if_addrhead`), each
/// valid until the end of the network-epoch section the walk was started in (addresses
/// are freed through the epoch).
pub struct Addrs<'e> {
    next: *mut sys::ifaddr,
    /// The interface walked (alive for the section).
    ifp: *mut sys::ifnet,
    _epoch: PhantomData<&'e Epoch>,
}

impl<'e> Iterator for Addrs<'e> {
    type Item = Ifaddr<'e>;

    fn next(&mut self) -> Option<Ifaddr<'e>> {
        let p = NonNull::new(self.next)?;
        // SAFETY: `p` is a linked address, alive for the epoch section 'e; its link
        // field is read as CK reads it.
        self.next = unsafe { load_ptr(core::ptr::addr_of_mut!((*p.as_ptr()).ifa_link.cstqe_next)) };
        Some(Ifaddr { ptr: p, ifp: self.ifp, _life: PhantomData })
    }
}

fn in6(bytes: [u8; 16]) -> sys::in6_addr {
    sys::in6_addr { __u6_addr: sys::in6_addr__bindgen_ty_1 { __u6_addr8: bytes } }
}

/// `_IOW('i', num, T)` (sys/ioccom.h): the interface ioctls of sys/sockio.h and
/// netinet6/in6_var.h, whose argument is a `T` (bindgen cannot evaluate the macro).
pub(crate) const fn iow_i<T>(num: u8) -> core::ffi::c_ulong {
    let len = core::mem::size_of::<T>() as core::ffi::c_ulong & sys::IOCPARM_MASK as core::ffi::c_ulong;
    sys::IOC_IN as core::ffi::c_ulong | (len << 16) | ((b'i' as core::ffi::c_ulong) << 8) | num as core::ffi::c_ulong
}
/// SIOCDIFADDR: _IOW('i', 25, struct ifreq).
const SIOCDIFADDR: core::ffi::c_ulong = iow_i::<sys::ifreq>(25);
/// SIOCDIFADDR_IN6: _IOW('i', 25, struct in6_ifreq).
const SIOCDIFADDR_IN6: core::ffi::c_ulong = iow_i::<sys::in6_ifreq>(25);
// FreeBSD's values (an ABI: the same on every architecture).
const _: () = assert!(SIOCDIFADDR == 0x8020_6919 && SIOCDIFADDR_IN6 == 0x8120_6919);

/// Advertisement output: builds an mbuf from `len` bytes of IP packet, tags it with
/// PACKET_TAG_CARP (`tag_vhid`, rewritten source) when `tag_vhid` is a vhid, and sends it
/// with ip_output / ip6_output on its own (`IP_RAWOUTPUT`: the header is complete), with
/// the parent's multicast options `mcast` for a multicast destination. Returns the output
/// errno, or -1 when no mbuf or tag could be allocated (nothing was sent).
///
/// Every advertisement leaves through here: a function of its own (not inlined) so that
/// the kernel harness's mutation check can disable it by name.
///
/// # Safety
///
/// `ifp` is a live interface; `pkt` has `len` readable bytes; `mcast` is null or the live
/// multicast options of `ifp` for `af` ([`crate::mcast`]).
#[no_mangle]
#[inline(never)]
unsafe extern "C" fn carp_kpi_send(
    ifp: *mut sys::ifnet,
    af: core::ffi::c_int,
    pkt: *const u8,
    len: core::ffi::c_int,
    tag_vhid: core::ffi::c_int,
    mcast: *mut c_void,
) -> core::ffi::c_int {
    if len <= 0 || len > sys::MJUMPAGESIZE as core::ffi::c_int {
        return -1;
    }
    // SAFETY: m_get2 (M_NOWAIT) returns null or a packet-header mbuf with room for `len`
    // contiguous bytes at m_data, into which the caller's `len` bytes are copied.
    let m = unsafe { sys::m_get2(len, sys::M_NOWAIT as i32, sys::MT_DATA as i16, sys::M_PKTHDR as i32) };
    if m.is_null() {
        return -1;
    }
    // SAFETY: see above; the mbuf is ours until handed to the output function.
    let data = unsafe {
        let data = (*m).m_data.cast::<u8>();
        core::ptr::copy_nonoverlapping(pkt, data, len as usize);
        (*m).m_len = len;
        let ph = crate::hooks::pkthdr(m);
        (*ph).len = len;
        (*ph).__bindgen_anon_1.rcvif = core::ptr::null_mut();
        data
    };
    // SAFETY: our packet-header mbuf.
    if (1..=255).contains(&tag_vhid) && unsafe { crate::hooks::tag_vmac(m, tag_vhid, true) }.is_none() {
        // SAFETY: ours, not sent.
        unsafe { sys::m_freem(m) };
        return -1;
    }
    let mcast_flag = |m: *mut sys::mbuf| {
        // SAFETY: our mbuf; sets M_MCAST in m_flags.
        unsafe { (*m).set_m_flags((*m).m_flags() | sys::M_MCAST) };
    };
    match af {
        AF_INET => {
            // SAFETY: the IPv4 header's destination (offset 16) inside the mbuf's data
            // area (at least MLEN bytes).
            let dst = unsafe { data.add(16).cast::<[u8; 4]>().read() };
            let multicast = dst[0] & 0xf0 == 0xe0; // IN_MULTICAST
            if multicast {
                mcast_flag(m);
            }
            let imo = if multicast { mcast.cast() } else { core::ptr::null_mut() };
            // SAFETY: hands the mbuf over to ip_output with the raw header flag.
            unsafe { sys::ip_output(m, core::ptr::null_mut(), core::ptr::null_mut(), sys::IP_RAWOUTPUT as i32, imo, core::ptr::null_mut()) }
        }
        AF_INET6 => {
            // SAFETY: the IPv6 header's addresses (offsets 8 and 24) inside the mbuf's
            // data area.
            let (src, dst) = unsafe { (data.add(8).cast::<sys::in6_addr>(), data.add(24).cast::<sys::in6_addr>()) };
            // SAFETY: as above (unaligned copies).
            let (mut s6, mut d6) = unsafe { (src.read_unaligned(), dst.read_unaligned()) };
            // SAFETY: every bit pattern of the union is a valid byte array.
            let multicast = unsafe { d6.__u6_addr.__u6_addr8[0] } == 0xff;
            if multicast {
                mcast_flag(m);
            }
            // Link-local and multicast scopes are embedded in the kernel's form.
            // SAFETY: live interface; copies on this frame; on failure the mbuf is ours.
            unsafe {
                if sys::in6_setscope(&mut s6, ifp, core::ptr::null_mut()) != 0
                    || sys::in6_setscope(&mut d6, ifp, core::ptr::null_mut()) != 0
                {
                    sys::m_freem(m);
                    return Errno::EADDRNOTAVAIL.as_i32();
                }
                src.write_unaligned(s6);
                dst.write_unaligned(d6);
            }
            let im6o = if multicast { mcast.cast() } else { core::ptr::null_mut() };
            // SAFETY: hands the mbuf over to ip6_output.
            unsafe {
                sys::ip6_output(m, core::ptr::null_mut(), core::ptr::null_mut(), 0, im6o, core::ptr::null_mut(), core::ptr::null_mut())
            }
        }
        _ => {
            // SAFETY: ours, not sent.
            unsafe { sys::m_freem(m) };
            Errno::EAFNOSUPPORT.as_i32()
        }
    }
}

/// Gratuitous ARP request announcing `addr` (network byte order) at `mac`
/// (arp_announce_ifaddr). Every one goes through here: a function of its own (not
/// inlined) so that the kernel harness's mutation check can disable it by name.
///
/// # Safety
///
/// `ifp` is a live interface; `mac` has 6 readable bytes.
#[no_mangle]
#[inline(never)]
unsafe extern "C" fn carp_kpi_garp(ifp: *mut sys::ifnet, addr: u32, mac: *const u8) {
    // SAFETY: caller's contract; the kernel only reads the MAC.
    unsafe { sys::arp_announce_ifaddr(ifp, sys::in_addr { s_addr: addr }, mac.cast_mut()) };
}

/// A counted interface reference (if_ref / if_rele).
pub struct IfRef {
    ptr: NonNull<sys::ifnet>,
}
// SAFETY: interface references may be used and released from any thread.
unsafe impl Send for IfRef {}
// SAFETY: as above; every accessor is thread-safe.
unsafe impl Sync for IfRef {}

impl IfRef {
    /// Gives the counted reference up as a raw pointer (to be taken back with
    /// [`IfRef::from_counted`]).
    pub(crate) fn into_raw(self) -> *mut sys::ifnet {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }

    /// Takes ownership of a counted reference.
    ///
    /// # Safety
    ///
    /// `p` is null or carries one reference that the caller hands over.
    pub(crate) unsafe fn from_counted(p: *mut sys::ifnet) -> Option<IfRef> {
        NonNull::new(p).map(|ptr| IfRef { ptr })
    }

    /// ifunit_ref(name): `None` if there is no such interface in the current VNET.
    pub fn by_name(name: &CStr) -> Option<IfRef> {
        // SAFETY: valid NUL-terminated name; the result is referenced (or null).
        NonNull::new(unsafe { sys::ifunit_ref(name.as_ptr()) }).map(|ptr| IfRef { ptr })
    }

    /// ifnet_byindex_ref(index) in the current VNET.
    /// Looked up inside the network epoch, as ifnet_byindex_ref requires.
    pub fn by_index(index: u32) -> Option<IfRef> {
        crate::net::in_net_epoch(|_| {
            // SAFETY: any index is accepted inside the epoch; the result is referenced (or
            // null) and stays valid after the epoch section thanks to that reference.
            NonNull::new(unsafe { sys::ifnet_byindex_ref(index) }).map(|ptr| IfRef { ptr })
        })
    }

    /// A borrowed view, valid while this reference lives.
    pub fn get(&self) -> Ifnet<'_> {
        Ifnet { ptr: self.ptr, _life: PhantomData }
    }

    pub(crate) fn raw(&self) -> *mut sys::ifnet {
        self.ptr.as_ptr()
    }
}

impl Drop for IfRef {
    fn drop(&mut self) {
        // SAFETY: releases the reference this value holds.
        unsafe { sys::if_rele(self.ptr.as_ptr()) };
    }
}

/// An interface address, valid for `'a`, with its interface when that is known to be
/// alive for `'a` too (an address does not keep its interface alive: `ifa_alloc` takes
/// no reference on it).
#[derive(Clone, Copy)]
pub struct Ifaddr<'a> {
    ptr: NonNull<sys::ifaddr>,
    /// `ifa_ifp` if alive for `'a`, else null.
    ifp: *mut sys::ifnet,
    _life: PhantomData<&'a sys::ifaddr>,
}

impl<'a> Ifaddr<'a> {
    /// # Safety
    ///
    /// `ptr` must be null or a live ifaddr for the whole of `'a`, and its `ifa_ifp` null
    /// or alive for `'a` (a hook's argument: the kernel's caller holds both).
    pub(crate) unsafe fn from_raw(ptr: *mut sys::ifaddr) -> Option<Ifaddr<'a>> {
        let ptr = NonNull::new(ptr)?;
        // SAFETY: caller's contract (live ifaddr).
        let ifp = unsafe { (*ptr.as_ptr()).ifa_ifp };
        Some(Ifaddr { ptr, ifp, _life: PhantomData })
    }

    pub(super) fn raw(&self) -> *mut sys::ifaddr {
        self.ptr.as_ptr()
    }

    /// Its interface (`ifa_ifp`), if known to be alive for `'a` (see [`Ifaddr`]).
    pub fn ifp(&self) -> Option<Ifnet<'a>> {
        // SAFETY: null or alive for 'a (how this view was made).
        unsafe { Ifnet::from_raw(self.ifp) }
    }

    /// The address (IPv6 with its embedded scope cleared); `Err(family)` for other
    /// families.
    pub fn addr(&self) -> Result<IpAddr, u8> {
        // SAFETY: live ifaddr; its ifa_addr is null or a socket address of sa_len bytes
        // that lives as long as the ifaddr.
        unsafe { sockaddr_ip((*self.raw()).ifa_addr) }
    }

    /// The address family of `ifa_addr`, `None` without one.
    pub(crate) fn family(&self) -> Option<i32> {
        // SAFETY: live ifaddr; ifa_addr is null or its socket address.
        unsafe { (*self.raw()).ifa_addr.as_ref() }.map(|sa| i32::from(sa.sa_family))
    }

    /// Whether `ifa_carp` is set (the address is bound to a vhid of this module).
    pub fn is_carp(&self) -> bool {
        // SAFETY: live ifaddr; ifa_carp is read as the kernel writes it (atomically).
        !unsafe { load_ptr(core::ptr::addr_of_mut!((*self.raw()).ifa_carp)) }.is_null()
    }

    /// Same address object.
    pub fn same(&self, r: &IfaRef) -> bool {
        self.ptr == r.ptr
    }

    /// Takes a counted reference (and one on its interface, if that is still alive).
    #[inline(never)]
    pub fn to_ref(&self) -> IfaRef {
        // SAFETY: live ifaddr; one more reference, released by IfaRef's drop.
        unsafe { sys::ifa_ref(self.ptr.as_ptr()) };
        IfaRef { ptr: self.ptr, ifp: self.try_ref_ifp() }
    }

    /// A counted reference on the interface, unless it is already being destroyed
    /// (if_try_ref: its last reference is gone).
    #[inline(never)]
    fn try_ref_ifp(&self) -> Option<IfRef> {
        let p = NonNull::new(self.ifp)?;
        // if_try_ref asserts the network epoch (an interface whose count reached zero is
        // freed only after one).
        // SAFETY: the interface is alive for 'a (how this view was made); if_try_ref
        // takes a reference only while its count is not zero.
        crate::net::in_net_epoch(|_| unsafe { sys::if_try_ref(p.as_ptr()) }).then_some(IfRef { ptr: p })
    }
}

/// A counted ifaddr reference (ifa_ref / ifa_free).
pub struct IfaRef {
    ptr: NonNull<sys::ifaddr>,
    /// Its interface, referenced while this value lives (released after the address).
    ifp: Option<IfRef>,
}
// SAFETY: ifaddr references may be used and released from any thread.
unsafe impl Send for IfaRef {}
// SAFETY: as above.
unsafe impl Sync for IfaRef {}

impl IfaRef {
    /// Takes over a reference the caller already holds on `ifa`.
    ///
    /// # Safety
    ///
    /// The caller holds one reference (ifa_ref / ifa_try_ref) on `ifa` that this value
    /// now owns.
    pub(crate) unsafe fn from_counted(ifa: Ifaddr<'_>) -> IfaRef {
        IfaRef { ptr: ifa.ptr, ifp: ifa.try_ref_ifp() }
    }

    /// A borrowed view (with its interface if this reference holds one on it).
    pub fn get(&self) -> Ifaddr<'_> {
        let ifp = self.ifp.as_ref().map_or(core::ptr::null_mut(), IfRef::raw);
        Ifaddr { ptr: self.ptr, ifp, _life: PhantomData }
    }

    /// Another counted reference to the same address.
    pub fn clone_ref(&self) -> IfaRef {
        self.get().to_ref()
    }

    /// Removes the address from its interface through the kernel's own deletion, as
    /// `ifconfig IF inet A -alias` / `inet6 A -alias` would (IPv4: `in_control(SIOCDIFADDR)`,
    /// IPv6: `in6_purgeifaddr`, the calls `if_purgeaddrs` makes), in the interface's VNET.
    /// Sleepable context, without the configuration lock (the kernel takes `in_control_sx`,
    /// which orders before it) and outside the network epoch. Returns 0, or the errno of
    /// the deletion (EADDRNOTAVAIL: the address was already gone).
    pub fn remove_from_interface(&self) -> i32 {
        let ifa = self.get();
        let Some(ifp) = ifa.ifp() else { return Errno::EADDRNOTAVAIL.as_i32() };
        let linked = crate::net::in_net_epoch(|e| ifp.addrs(e).any(|a| a.ptr == ifa.ptr));
        if !linked {
            return Errno::EADDRNOTAVAIL.as_i32();
        }
        crate::net::with_vnet(ifp.vnet(), || match ifa.family() {
            Some(AF_INET) => {
                // As if_purgeaddrs: no socket, no credential (no privilege check).
                // SAFETY: all-zero is a valid ifreq; the address's sockaddr_in (at least
                // its sa_len bytes, checked) is copied into ifr_addr, which is as large.
                let mut ifr: sys::ifreq = unsafe { core::mem::zeroed() };
                // SAFETY: live ifaddr; ifa_addr is its AF_INET socket address.
                let sa = unsafe { (*ifa.raw()).ifa_addr };
                let n = core::mem::size_of::<sys::sockaddr_in>();
                // SAFETY: `sa` holds a sockaddr_in (AF_INET, n bytes); ifr_addr is a
                // struct sockaddr (16 bytes = n) inside the zeroed request.
                unsafe {
                    core::ptr::copy_nonoverlapping(sa.cast::<u8>(), core::ptr::addr_of_mut!(ifr.ifr_ifru.ifru_addr).cast::<u8>(), n)
                };
                // SAFETY: in_control(NULL, SIOCDIFADDR, ifr, ifp, NULL), sleepable caller.
                unsafe { sys::in_control(core::ptr::null_mut(), SIOCDIFADDR, core::ptr::addr_of_mut!(ifr).cast(), ifp.raw(), core::ptr::null_mut()) }
            }
            Some(AF_INET6) => {
                // As `ifconfig IF inet6 A -alias`: in6_control looks the address up and
                // purges it under its own lock, so a concurrent deletion of the same
                // address cannot make it purge twice (in6_purgeifaddr twice would unlink
                // an element no longer on the list).
                // SAFETY: all-zero is a valid in6_ifreq; the address's sockaddr_in6 (its
                // embedded zone is the interface's, which in6_control sets again) is
                // copied into ifr_addr, of the same type.
                let mut ifr: sys::in6_ifreq = unsafe { core::mem::zeroed() };
                // SAFETY: live ifaddr; ifa_addr is its AF_INET6 socket address.
                unsafe {
                    let sa = (*ifa.raw()).ifa_addr.cast::<sys::sockaddr_in6>();
                    ifr.ifr_ifru.ifru_addr = sa.read_unaligned();
                }
                // SAFETY: in6_control(NULL, SIOCDIFADDR_IN6, ifr, ifp, NULL): no socket, no
                // credential (as the kernel's own callers), sleepable caller.
                unsafe {
                    sys::in6_control(core::ptr::null_mut(), SIOCDIFADDR_IN6, core::ptr::addr_of_mut!(ifr).cast(), ifp.raw(), core::ptr::null_mut())
                }
            }
            _ => Errno::EAFNOSUPPORT.as_i32(),
        })
    }

    /// Installs (MASTER) or removes the address's prefix and loopback routes (and, for
    /// IPv6, its static neighbor entry).
    pub fn routes(&self, add: bool) {
        let ifa = self.get().raw();
        // SAFETY: live ifaddr (counted reference) of AF_INET/AF_INET6 (only those are
        // attached), the first member of its in_ifaddr / in6_ifaddr (ifatoia/ifatoia6),
        // whose ia_addr is its address.
        unsafe {
            match self.get().family() {
                Some(AF_INET) => {
                    let ia = ifa.cast::<sys::in_ifaddr>();
                    let sa = core::ptr::addr_of_mut!((*ia).ia_addr).cast::<sys::sockaddr>();
                    if add {
                        sys::in_addprefix(ia);
                        sys::ifa_add_loopback_route(ifa, sa);
                    } else {
                        sys::ifa_del_loopback_route(ifa, sa);
                        sys::in_scrubprefix(ia, sys::LLE_STATIC);
                    }
                }
                Some(AF_INET6) => {
                    let ia = ifa.cast::<sys::in6_ifaddr>();
                    let sa = core::ptr::addr_of_mut!((*ia).ia_addr).cast::<sys::sockaddr>();
                    if add {
                        sys::ifa_add_loopback_route(ifa, sa);
                        sys::nd6_add_ifa_lle(ia);
                    } else {
                        sys::ifa_del_loopback_route(ifa, sa);
                        sys::nd6_rem_ifa_lle(ia, 1);
                    }
                }
                _ => {}
            }
        }
    }
}

impl Drop for IfaRef {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: releases the reference this value holds.
        unsafe { sys::ifa_free(self.ptr.as_ptr()) };
    }
}

/// Promiscuous mode on a parent, turned off when dropped.
pub struct Promisc {
    ifp: IfRef,
}

impl Promisc {
    /// ifpromisc(ifp, 1). FreeBSD only prints a failure; so does the caller.
    pub fn enable(ifp: &Ifnet<'_>) -> Result<Promisc, Errno> {
        let r = ifp.to_ref();
        // SAFETY: live interface; sleepable caller (configuration path).
        errno(unsafe { sys::ifpromisc(r.ptr.as_ptr(), 1) })?;
        Ok(Promisc { ifp: r })
    }
}

impl Drop for Promisc {
    fn drop(&mut self) {
        // SAFETY: undoes the successful ifpromisc(ifp, 1) above.
        let _ = unsafe { sys::ifpromisc(self.ifp.ptr.as_ptr(), 0) };
    }
}

/// Membership of a parent in the CARP groups of one family (224.0.0.18, or ff02::12 and
/// ff02::1:ff00:0) with the multicast output options; left when dropped.
pub struct Mcast {
    family: Family,
    state: NonNull<c_void>,
    /// The interface the options name (`imo_multicast_ifp`), kept while they exist.
    ifp: IfRef,
}
// SAFETY: the state is only used through thread-safe kernel functions.
unsafe impl Send for Mcast {}
// SAFETY: ip_output/ip6_output only read the options concurrently.
unsafe impl Sync for Mcast {}

impl Mcast {
    /// Joins (sleeps: configuration path only).
    pub fn join(ifp: &Ifnet<'_>, family: Family) -> Result<Mcast, Errno> {
        // SAFETY: live interface; sleepable caller.
        let r = unsafe {
            match family {
                Family::Inet => mcast::join4(ifp.raw()),
                Family::Inet6 => mcast::join6(ifp.raw()),
            }
        };
        let state = r.map_err(|e| errno(e).err().unwrap_or(Errno::EINVAL))?;
        Ok(Mcast { family, state, ifp: ifp.to_ref() })
    }
}

/// Membership of a parent in the solicited-node group of one IPv6 address of a `carpN`
/// (the kernel joins it only on the interface holding the address, which for a `carpN`
/// is not multicast-capable); left when dropped.
pub struct Sn6 {
    state: NonNull<c_void>,
    parent: IfRef,
    addr: core::net::Ipv6Addr,
}
// SAFETY: the membership is only used through thread-safe kernel functions.
unsafe impl Send for Sn6 {}
// SAFETY: as above (no shared mutation).
unsafe impl Sync for Sn6 {}

impl Sn6 {
    /// Joins (sleeps: configuration path only).
    pub fn join(parent: &Ifnet<'_>, addr: core::net::Ipv6Addr) -> Result<Sn6, Errno> {
        // SAFETY: live interface; sleepable caller.
        let state = unsafe { mcast::join_sn6(parent.raw(), &addr.octets()) }
            .map_err(|e| errno(e).err().unwrap_or(Errno::EINVAL))?;
        Ok(Sn6 { state, parent: parent.to_ref(), addr })
    }

    /// The address whose group this is.
    pub fn addr(&self) -> core::net::Ipv6Addr {
        self.addr
    }

    /// Whether the membership is on `ifp`.
    pub fn on(&self, ifp: &Ifnet<'_>) -> bool {
        self.parent.get().same(ifp)
    }
}

impl Drop for Sn6 {
    fn drop(&mut self) {
        // SAFETY: leaves the group joined above (the parent is still referenced).
        unsafe { mcast::leave_sn6(self.state) };
    }
}

impl Drop for Mcast {
    fn drop(&mut self) {
        // SAFETY: leaves the groups joined above and frees the state; no output can use it
        // any more (containers unpublish and wait for the epoch first, and the Mcast is
        // only dropped on the configuration path after removal from the container).
        unsafe {
            match self.family {
                Family::Inet => mcast::leave4(self.state),
                Family::Inet6 => mcast::leave6(self.state),
            }
        }
    }
}

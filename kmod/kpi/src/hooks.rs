//! The kernel's twelve CARP hook pointers (netinet/ip_carp.h) and the mechanics they share
//! that need no CARP decision: publishing and clearing the pointers, the virtual MACs, the
//! `PACKET_TAG_CARP` tag and the Ethernet source rewrite of `carp_output`.
//!
//! The hook functions are the `carp_rs_*` entry points [`export_carp!`](crate::export_carp)
//! defines (the adapters in [`crate::entry`]), except `carp_rs_output`, defined here: it
//! only rewrites a frame. carp_shim.h declares each with the exact prototype of its hook
//! pointer, and [`publish`] assigns the declarations bindgen made of them to the kernel's
//! pointers, so the compiler checks the three (kernel pointer, C declaration, Rust
//! definition) agree.

use core::ffi::c_int;

use sys_bindings as sys;

/// `00:00:5e:00:01:<vhid>` for every vhid (index 0 unused): stable storage for the
/// pointers `carp_iamatch` and `carp_macmatch6` hand the kernel, which only reads them.
static VMACS: [[u8; 6]; 256] = {
    let mut t = [[0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]; 256];
    let mut i = 0;
    while i < 256 {
        t[i][5] = i as u8;
        i += 1;
    }
    t
};

/// The virtual MAC of `vhid` (1..=255), as a pointer the kernel may keep: it points into
/// a static table.
pub(crate) fn vmac_ptr(vhid: c_int) -> Option<*mut u8> {
    let i = usize::try_from(vhid).ok().filter(|v| (1..=255).contains(v))?;
    VMACS.get(i).map(|m| m.as_ptr().cast_mut())
}

/// What `PACKET_TAG_CARP` carries in this module (the tag's data, after its `struct
/// m_tag` header): the vhid, whether `carp_output` rewrites the Ethernet source (only for
/// vhids whose advertisements go to the multicast group, as FreeBSD's `carp_output`
/// checks), then the virtual MAC.
#[repr(C)]
struct CarpTag {
    vhid: c_int,
    rewrite: c_int,
    mac: [u8; 6],
}

const TAG_LEN: c_int = core::mem::size_of::<CarpTag>() as c_int;

/// Prepends a `PACKET_TAG_CARP` tag for `vhid` (1..=255) to `m` (`m_tag_get` +
/// `m_tag_prepend`). Returns the tag's copy of the virtual MAC, or `None` (nothing
/// attached) for another vhid or when the tag cannot be allocated.
///
/// # Safety
///
/// `m` is a live packet-header mbuf the caller may modify.
pub(crate) unsafe fn tag_vmac(m: *mut sys::mbuf, vhid: c_int, rewrite: bool) -> Option<*mut u8> {
    let i = usize::try_from(vhid).ok().filter(|v| (1..=255).contains(v))?;
    let mac = *VMACS.get(i)?;
    // SAFETY: m_tag_get (an inline over m_tag_alloc): M_NOWAIT, may fail.
    let t = unsafe {
        sys::m_tag_alloc(sys::MTAG_ABI_COMPAT, sys::PACKET_TAG_CARP as u16, TAG_LEN, sys::M_NOWAIT as c_int)
    };
    if t.is_null() {
        return None;
    }
    // SAFETY: the tag's data follows its header (`mtag + 1`), TAG_LEN bytes, 8-aligned
    // (m_tag is 24 bytes, allocated by malloc).
    let data = unsafe { t.add(1) }.cast::<CarpTag>();
    // SAFETY: writes the tag's own data, allocated just above.
    unsafe { data.write(CarpTag { vhid, rewrite: c_int::from(rewrite), mac }) };
    // SAFETY: m_tag_prepend (an inline: SLIST_INSERT_HEAD on m_pkthdr.tags) on the
    // caller's packet-header mbuf; the tag is new and unlinked.
    unsafe {
        let head = core::ptr::addr_of_mut!((*pkthdr(m)).tags.slh_first);
        (*t).m_tag_link.sle_next = *head;
        *head = t;
    }
    // SAFETY: inside the tag's data written above.
    Some(unsafe { core::ptr::addr_of_mut!((*data).mac) }.cast())
}

/// The packet header of `m` (`m->m_pkthdr`: the first member of the anonymous union
/// after `m_len` and the flags).
///
/// # Safety
///
/// `m` points to a live mbuf; the result is meaningful for a packet-header mbuf only.
pub(crate) unsafe fn pkthdr(m: *mut sys::mbuf) -> *mut sys::pkthdr {
    // SAFETY: a field address of the caller's mbuf; m_pkthdr starts the union (offset 0
    // of `__bindgen_anon_3` and of its nested anonymous members).
    unsafe { core::ptr::addr_of_mut!((*m).__bindgen_anon_3) }.cast()
}

/// Tags a packet leaving through a `carpN` so that `carp_output` gives it the vhid's
/// virtual MAC as source; `false` for a vhid out of range or on no memory (the packet then
/// leaves with the parent's MAC).
///
/// # Safety
///
/// `m` is null or a live packet-header mbuf owned by the caller.
pub(crate) unsafe fn tag_carpn_output(m: *mut sys::mbuf, vhid: c_int) -> bool {
    if m.is_null() {
        return false;
    }
    // SAFETY: caller's contract.
    unsafe { tag_vmac(m, vhid, true) }.is_some()
}

/// `carp_output_p` (ether_output): a tagged advertisement, NA or `carpN` packet leaves
/// with the virtual MAC as Ethernet source. Only mechanics on the frame; the tag was put
/// there by this module.
///
/// # Safety
///
/// The kernel's arguments: a live interface, its outgoing frame (Ethernet header at
/// `m_data`), the destination address.
#[no_mangle]
pub unsafe extern "C" fn carp_rs_output(ifp: *mut sys::ifnet, m: *mut sys::mbuf, sa: *const sys::sockaddr) -> c_int {
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 28;
    if ifp.is_null() || m.is_null() || sa.is_null() {
        return 0;
    }
    // SAFETY: the kernel's destination address.
    let family = unsafe { (*sa).sa_family };
    if family != AF_INET && family != AF_INET6 {
        return 0;
    }
    // SAFETY: m_tag_find (an inline: no m_tag_locate on an empty list) on the kernel's
    // packet-header mbuf.
    let t = unsafe {
        if (*pkthdr(m)).tags.slh_first.is_null() {
            return 0;
        }
        sys::m_tag_locate(m, sys::MTAG_ABI_COMPAT, sys::PACKET_TAG_CARP as u16, core::ptr::null_mut())
    };
    if t.is_null() {
        return 0;
    }
    // A PACKET_TAG_CARP tag of another length is not this module's: leave the frame.
    // SAFETY: a live tag returned by m_tag_locate.
    if c_int::from(unsafe { (*t).m_tag_len }) != TAG_LEN {
        return 0;
    }
    // SAFETY: a tag of CarpTag's length (checked), whose data follows the header (this
    // module's tag_vmac writes it); read unaligned.
    let tag = unsafe { t.add(1).cast::<CarpTag>().read_unaligned() };
    if tag.rewrite == 0 {
        return 0;
    }
    // SAFETY: live interface.
    let if_type = unsafe { sys::if_gettype(ifp) };
    match u32::try_from(if_type) {
        Ok(sys::ifType_IFT_ETHER | sys::ifType_IFT_BRIDGE | sys::ifType_IFT_L2VLAN) => {
            // SAFETY: the kernel's mbuf; its first m_len bytes at m_data are the frame.
            let (len, data) = unsafe { ((*m).m_len, (*m).m_data) };
            if usize::try_from(len).unwrap_or(0) < core::mem::size_of::<sys::ether_header>() {
                return carp_proto::Errno::EINVAL.as_i32();
            }
            // SAFETY: at least an Ethernet header's bytes at m_data (checked); ether_shost
            // is a byte array (no alignment requirement).
            unsafe {
                let eh = data.cast::<sys::ether_header>();
                core::ptr::addr_of_mut!((*eh).ether_shost).write(tag.mac);
            }
            0
        }
        _ => {
            // SAFETY: printf(9) with a constant format whose conversions match the
            // arguments (if_name's NUL-terminated name, an int).
            unsafe {
                sys::printf(
                    c"%s: carp is not supported for the %d interface type\n".as_ptr(),
                    sys::if_name(ifp),
                    if_type,
                )
            };
            carp_proto::Errno::EOPNOTSUPP.as_i32()
        }
    }
}
const _: sys::carp_rs_output_t = Some(carp_rs_output);

/// Assigns the twelve hook pointers (`carp_*_p = carp_rs_*`), in the order stock
/// carp_modload does. The functions stay in memory until the module is unloaded, after
/// [`clear`].
pub(crate) fn publish() {
    // SAFETY: plain stores to the kernel's hook pointers, as stock carp.ko makes them;
    // each value is a function of this module with the pointer's exact prototype (the
    // assignment type-checks it).
    unsafe {
        sys::carp_get_vhid_p = Some(sys::carp_rs_get_vhid);
        sys::carp_forus_p = Some(sys::carp_rs_forus);
        sys::carp_output_p = Some(sys::carp_rs_output);
        sys::carp_linkstate_p = Some(sys::carp_rs_linkstate);
        sys::carp_ioctl_p = Some(sys::carp_rs_ioctl);
        sys::carp_attach_p = Some(sys::carp_rs_attach);
        sys::carp_detach_p = Some(sys::carp_rs_detach);
        sys::carp_demote_adj_p = Some(sys::carp_rs_demote_adj);
        sys::carp_master_p = Some(sys::carp_rs_master);
        sys::carp_iamatch6_p = Some(sys::carp_rs_iamatch6);
        sys::carp_macmatch6_p = Some(sys::carp_rs_macmatch6);
        sys::carp_iamatch_p = Some(sys::carp_rs_iamatch);
    }
}

/// NULLs the twelve hook pointers (callers already inside a hook are waited for by the
/// unload path: network epoch and in-flight count).
pub(crate) fn clear() {
    // SAFETY: plain stores of NULL to the kernel's hook pointers.
    unsafe {
        sys::carp_get_vhid_p = None;
        sys::carp_forus_p = None;
        sys::carp_output_p = None;
        sys::carp_linkstate_p = None;
        sys::carp_ioctl_p = None;
        sys::carp_attach_p = None;
        sys::carp_detach_p = None;
        sys::carp_demote_adj_p = None;
        sys::carp_master_p = None;
        sys::carp_iamatch6_p = None;
        sys::carp_macmatch6_p = None;
        sys::carp_iamatch_p = None;
    }
}

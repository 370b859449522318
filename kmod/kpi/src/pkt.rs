//! Raw mbuf fields (sys/mbuf.h) for the code that handles an mbuf the kernel passed by
//! pointer: the `carpN` output path and the ARP hook ([`crate::clone`], [`crate::arp`]).

use sys_bindings as sys;

/// `m->m_flags` (a bitfield shared with `m_type`).
///
/// # Safety
///
/// `m` is a live mbuf no other thread writes meanwhile (the caller's to process).
pub(crate) unsafe fn flags(m: *const sys::mbuf) -> u32 {
    // SAFETY: caller's contract; bindgen's accessor reads the bitfield through the pointer.
    unsafe { sys::mbuf::m_flags_raw(m) }
}

/// `&m->m_pkthdr`: meaningful when `M_PKTHDR` is set.
///
/// # Safety
///
/// `m` is a live mbuf; nothing is read here, only the field's address computed.
pub(crate) unsafe fn pkthdr(m: *mut sys::mbuf) -> *mut sys::pkthdr {
    // SAFETY: caller's contract. `m_pkthdr` is the first member of the union that follows
    // the mbuf header (bindgen's zero-sized `__BindgenUnionField` marks where it starts).
    unsafe {
        let u = core::ptr::addr_of_mut!((*m).__bindgen_anon_3.__bindgen_anon_1)
            .cast::<sys::mbuf__bindgen_ty_3__bindgen_ty_1>();
        core::ptr::addr_of_mut!((*u).__bindgen_anon_1.m_pkthdr)
    }
}

/// `m->m_pkthdr.len` (the packet's length).
///
/// # Safety
///
/// As for [`flags`], and `m` has `M_PKTHDR`.
pub(crate) unsafe fn pkt_len(m: *mut sys::mbuf) -> i32 {
    // SAFETY: caller's contract.
    unsafe { (*pkthdr(m)).len }
}

//! Multicast membership of a parent, as ip_carp.c sets it up: the CARP group of each
//! family (224.0.0.18; ff02::12 and the solicited-node prefix ff02::1:ff00:0) joined
//! through the kernel's membership functions, kept in the `ip_moptions` /
//! `ip6_moptions` that advertisements are sent with; and the solicited-node group of one
//! `carpN` IPv6 address on its parent. Sleepable callers only (M_WAITOK allocations,
//! in_joingroup).
//!
//! The option structures' membership lists are the kernel's STAILQs of `in_mfilter` /
//! `in6_mfilter` (`ip_mfilter_init/insert/first/remove` are inline functions over those
//! macros: written out here on the bindgen fields).

use core::ffi::{c_int, c_ulong, c_void};
use core::ptr::{self, NonNull};

use alloc::boxed::Box;

use sys_bindings as sys;

/// TTL / hop limit of CARP packets (CARP_DFLTTL).
const CARP_DFLTTL: u8 = 255;

const WAITOK: c_int = sys::M_WAITOK as c_int;

fn in6(bytes: [u8; 16]) -> sys::in6_addr {
    sys::in6_addr { __u6_addr: sys::in6_addr__bindgen_ty_1 { __u6_addr8: bytes } }
}

/// Joins 224.0.0.18 on `ifp`: the multicast options (output on `ifp`, TTL 255, no loop)
/// holding the membership.
///
/// # Safety
///
/// `ifp` is a live interface; sleepable context.
pub(crate) unsafe fn join4(ifp: *mut sys::ifnet) -> Result<NonNull<c_void>, c_int> {
    let imo = sys::ip_moptions {
        imo_multicast_ifp: ifp,
        // No multicast router vif: with imo_multicast_vif 0, ip_output would take the
        // source address from ip_mcast_src (INADDR_ANY without ip_mroute).
        imo_multicast_vif: c_ulong::MAX,
        imo_multicast_ttl: CARP_DFLTTL,
        imo_multicast_loop: 0,
        ..Default::default()
    };
    let imo = Box::into_raw(crate::malloc::box_sleeping(imo).ok_or(carp_proto::Errno::ENOMEM.as_i32())?);
    // SAFETY: `imo` is ours (just allocated); ip_mfilter_alloc(M_WAITOK) does not fail;
    // in_joingroup stores the membership in the filter's imf_inm on success.
    unsafe {
        let head = ptr::addr_of_mut!((*imo).imo_head);
        (*head).stqh_first = ptr::null_mut();
        (*head).stqh_last = ptr::addr_of_mut!((*head).stqh_first);
        let imf = sys::ip_mfilter_alloc(WAITOK, 0, 0);
        let group = sys::in_addr { s_addr: 0xe000_0012u32.to_be() }; // INADDR_CARP_GROUP
        let e = sys::in_joingroup(ifp, &group, ptr::null_mut(), ptr::addr_of_mut!((*imf).imf_inm));
        if e != 0 {
            sys::ip_mfilter_free(imf);
            drop(Box::from_raw(imo));
            return Err(e);
        }
        (*imf).imf_entry.stqe_next = ptr::null_mut();
        *(*head).stqh_last = imf;
        (*head).stqh_last = ptr::addr_of_mut!((*imf).imf_entry.stqe_next);
    }
    NonNull::new(imo.cast()).ok_or(carp_proto::Errno::ENOMEM.as_i32())
}

/// Leaves every group of `state` and frees it.
///
/// # Safety
///
/// `state` came from [`join4`] and is no longer used by any output.
pub(crate) unsafe fn leave4(state: NonNull<c_void>) {
    let imo = state.as_ptr().cast::<sys::ip_moptions>();
    // SAFETY: caller's contract: the options and their filters are ours.
    unsafe {
        let head = ptr::addr_of_mut!((*imo).imo_head);
        loop {
            let imf = (*head).stqh_first;
            if imf.is_null() {
                break;
            }
            (*head).stqh_first = (*imf).imf_entry.stqe_next;
            if (*head).stqh_first.is_null() {
                (*head).stqh_last = ptr::addr_of_mut!((*head).stqh_first);
            }
            sys::in_leavegroup((*imf).imf_inm, ptr::null_mut());
            sys::ip_mfilter_free(imf);
        }
        drop(Box::from_raw(imo));
    }
}

/// Joins ff02::12 and ff02::1:ff00:0 (the solicited-node prefix, as ip_carp.c joins it)
/// on `ifp`: the multicast options (output on `ifp`, hop limit 255, no loop) holding
/// both memberships.
///
/// # Safety
///
/// As for [`join4`].
pub(crate) unsafe fn join6(ifp: *mut sys::ifnet) -> Result<NonNull<c_void>, c_int> {
    let im6o = sys::ip6_moptions {
        im6o_multicast_ifp: ifp,
        im6o_multicast_hlim: CARP_DFLTTL,
        im6o_multicast_loop: 0,
        ..Default::default()
    };
    let im6o = Box::into_raw(crate::malloc::box_sleeping(im6o).ok_or(carp_proto::Errno::ENOMEM.as_i32())?);
    let groups = [
        in6([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]),
        in6([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0]),
    ];
    // SAFETY: `im6o` is ours; ip6_mfilter_alloc(M_WAITOK) does not fail; in6_joingroup
    // stores the membership in the filter's im6f_in6m on success.
    unsafe {
        let head = ptr::addr_of_mut!((*im6o).im6o_head);
        (*head).stqh_first = ptr::null_mut();
        (*head).stqh_last = ptr::addr_of_mut!((*head).stqh_first);
        let im6f = [sys::ip6_mfilter_alloc(WAITOK, 0, 0), sys::ip6_mfilter_alloc(WAITOK, 0, 0)];
        let mut joined = 0;
        let mut error = 0;
        for (g, f) in groups.iter().zip(im6f.iter()) {
            let mut g = *g;
            error = sys::in6_setscope(&mut g, ifp, ptr::null_mut());
            if error == 0 {
                error = sys::in6_joingroup(ifp, &g, ptr::null_mut(), ptr::addr_of_mut!((**f).im6f_in6m), 0);
            }
            if error != 0 {
                break;
            }
            joined += 1;
        }
        if error != 0 {
            if joined == 1 {
                sys::in6_leavegroup((*im6f[0]).im6f_in6m, ptr::null_mut());
            }
            for f in im6f {
                sys::ip6_mfilter_free(f);
            }
            drop(Box::from_raw(im6o));
            return Err(error);
        }
        for f in im6f {
            (*f).im6f_entry.stqe_next = ptr::null_mut();
            *(*head).stqh_last = f;
            (*head).stqh_last = ptr::addr_of_mut!((*f).im6f_entry.stqe_next);
        }
    }
    NonNull::new(im6o.cast()).ok_or(carp_proto::Errno::ENOMEM.as_i32())
}

/// Leaves every group of `state` and frees it.
///
/// # Safety
///
/// `state` came from [`join6`] and is no longer used by any output.
pub(crate) unsafe fn leave6(state: NonNull<c_void>) {
    let im6o = state.as_ptr().cast::<sys::ip6_moptions>();
    // SAFETY: caller's contract: the options and their filters are ours.
    unsafe {
        let head = ptr::addr_of_mut!((*im6o).im6o_head);
        loop {
            let f = (*head).stqh_first;
            if f.is_null() {
                break;
            }
            (*head).stqh_first = (*f).im6f_entry.stqe_next;
            if (*head).stqh_first.is_null() {
                (*head).stqh_last = ptr::addr_of_mut!((*head).stqh_first);
            }
            sys::in6_leavegroup((*f).im6f_in6m, ptr::null_mut());
            sys::ip6_mfilter_free(f);
        }
        drop(Box::from_raw(im6o));
    }
}

/// Joins ff02::1:ffXX:XXXX, the solicited-node group of `addr` (RFC 4291 2.7.1), on `ifp`:
/// the membership.
///
/// # Safety
///
/// As for [`join4`].
pub(crate) unsafe fn join_sn6(ifp: *mut sys::ifnet, addr: &[u8; 16]) -> Result<NonNull<c_void>, c_int> {
    let mut sn = [0u8; 16];
    sn[0] = 0xff;
    sn[1] = 0x02;
    sn[11] = 0x01;
    sn[12] = 0xff;
    sn[13] = addr[13];
    sn[14] = addr[14];
    sn[15] = addr[15];
    let mut sn = in6(sn);
    let mut in6m: *mut sys::in6_multi = ptr::null_mut();
    // SAFETY: caller's contract; in6m receives the membership on success.
    unsafe {
        let e = sys::in6_setscope(&mut sn, ifp, ptr::null_mut());
        if e != 0 {
            return Err(e);
        }
        let e = sys::in6_joingroup(ifp, &sn, ptr::null_mut(), &mut in6m, 0);
        if e != 0 {
            return Err(e);
        }
    }
    NonNull::new(in6m.cast()).ok_or(carp_proto::Errno::ENOMEM.as_i32())
}

/// Leaves the group joined by [`join_sn6`].
///
/// # Safety
///
/// `state` came from [`join_sn6`] and is left once.
pub(crate) unsafe fn leave_sn6(state: NonNull<c_void>) {
    // SAFETY: caller's contract.
    unsafe { sys::in6_leavegroup(state.as_ptr().cast(), ptr::null_mut()) };
}

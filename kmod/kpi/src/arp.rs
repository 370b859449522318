//! ARP for `carpN` addresses (reference D.6.3): FreeBSD 15's in_arpinput only answers for
//! addresses of the receiving interface, and a `carpN`'s addresses live on the `carpN`. An
//! input hook on the "ethernet" pfil head (`V_link_pfil_head`, run by ether_demux inside
//! the network epoch with the Ethernet header in front) sees the ARP frames on every
//! parent with a CARP container; the logic decides (MASTER only, arpbalance) and fills in
//! the reply, sent here with ether_output_frame. The frame itself continues (PFIL_PASS)
//! unless the logic says the stack must not see it.
//!
//! The hook is added in every VNET, like the cloner (pfil hooks and heads are per VNET), by
//! the VNET constructor ([`hook_add`]); the destructor removes it. The hook function,
//! `carp_rs_arp_pfil`, is defined for the logic type by
//! [`export_carp!`](crate::export_carp) with the kernel's prototype (`pfil_mbuf_chk_t`)
//! and runs [`pfil`] through its adapter.

use core::ffi::{c_int, c_void};

use sys_bindings as sys;

use crate::net::Epoch;
use crate::ifnet::{load_ptr, Ifnet};
use crate::pkt;

/// Bytes of an ARP frame the hook hands to the logic: the Ethernet header and an ARP
/// packet for IPv4 over Ethernet (28 bytes).
pub const ARP_FRAME_LEN: usize = sys::ETHER_HDR_LEN as usize + 28;
/// Room for the reply frame: a minimum-size Ethernet frame without its CRC (the padding
/// stays zero).
pub const ARP_REPLY_LEN: usize = (sys::ETHER_MIN_LEN - sys::ETHER_CRC_LEN) as usize;

/// What the ARP hook does with one frame (see [`crate::entry::Carp::arp_input`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArpAnswer {
    /// Length of the reply frame written, 0 for none.
    pub reply_len: usize,
    /// The request is for a CARP-run `carpN` address that is also a plain address of the
    /// parent: the stack must not see it (it would answer with the parent's own MAC, even
    /// on a BACKUP host), so the hook consumes it.
    pub consume: bool,
}

extern "C" {
    // Defined by export_carp! (entry.rs) for the logic type, checked there against the
    // kernel's pfil_mbuf_chk_t; the use below checks this declaration against it too.
    fn carp_rs_arp_pfil(
        mp: *mut *mut sys::mbuf,
        ifp: *mut sys::ifnet,
        flags: c_int,
        ruleset: *mut c_void,
        inp: *mut sys::inpcb,
    ) -> sys::pfil_return_t;
}

/// Adds this VNET's ARP hook and links it on `head` (the VNET constructor's call, curvnet
/// set, sleepable): the hook, or the errno (`ENXIO` without a head), nothing left behind.
pub(crate) fn hook_add(head: sys::pfil_head_t) -> Result<sys::pfil_hook_t, c_int> {
    if head.is_null() {
        return Err(sys::ENXIO as c_int);
    }
    let mut pha = sys::pfil_hook_args {
        pa_version: sys::PFIL_VERSION as c_int,
        pa_flags: sys::PFIL_IN as c_int,
        pa_type: sys::pfil_types_PFIL_TYPE_ETHERNET,
        pa_mbuf_chk: Some(carp_rs_arp_pfil),
        pa_mem_chk: None,
        pa_ruleset: core::ptr::null_mut(),
        pa_modname: c"carp".as_ptr(),
        pa_rulname: c"arp".as_ptr(),
    };
    // SAFETY: a complete request with static names (pfil keeps the pointers); the hook
    // function stays in memory until the hook is removed (VNET destructor, before unload
    // completes). Sleepable caller.
    let hook = unsafe { sys::pfil_add_hook(&mut pha) };
    let mut pla = sys::pfil_link_args::default();
    pla.pa_version = sys::PFIL_VERSION as c_int;
    pla.pa_flags = (sys::PFIL_IN | sys::PFIL_HEADPTR | sys::PFIL_HOOKPTR) as c_int;
    pla.__bindgen_anon_1.pa_head = head;
    pla.__bindgen_anon_2.pa_hook = hook;
    // SAFETY: links the hook just added on this VNET's live head (PFIL_HEADPTR and
    // PFIL_HOOKPTR: both given by pointer).
    let error = unsafe { sys::pfil_link(&mut pla) };
    if error != 0 {
        // SAFETY: the hook added above, linked nowhere.
        unsafe { sys::pfil_remove_hook(hook) };
        return Err(error);
    }
    Ok(hook)
}

/// The hook's body: an ARP frame on a parent with a CARP container is handed to the logic
/// (`answer`, with [`ARP_FRAME_LEN`] bytes of it and [`ARP_REPLY_LEN`] bytes of zeroed
/// room for a reply), the reply it writes is sent on the parent, and the frame passes on
/// unless the logic consumes it. Anything else passes untouched.
///
/// # Safety
///
/// The kernel's pfil arguments, inside the network epoch: `mp` null or the address of the
/// frame's mbuf pointer (an mbuf the hook may free, setting `*mp` to null), `ifp` null or
/// the receiving interface, alive for the call.
pub(crate) unsafe fn pfil(
    mp: *mut *mut sys::mbuf,
    ifp: *mut sys::ifnet,
    answer: impl FnOnce(Ifnet<'_>, &[u8; ARP_FRAME_LEN], &mut [u8; ARP_REPLY_LEN], &Epoch) -> ArpAnswer,
) -> sys::pfil_return_t {
    const PASS: sys::pfil_return_t = sys::pfil_return_t_PFIL_PASS;
    if mp.is_null() {
        return PASS;
    }
    // SAFETY: caller's contract.
    let m = unsafe { *mp };
    // SAFETY: caller's contract: null or the receiving interface.
    let Some(parent) = (unsafe { Ifnet::from_raw(ifp) }) else { return PASS };
    if m.is_null() {
        return PASS;
    }
    // SAFETY: live interface; if_carp is read as the kernel's hooks read it.
    if unsafe { load_ptr(core::ptr::addr_of_mut!((*ifp).if_carp)) }.is_null() {
        return PASS;
    }
    // SAFETY: the frame being filtered is ours to read for the call.
    let (flags, len) = unsafe { (pkt::flags(m), (*m).m_len) };
    // A VLAN-tagged frame reaches the link pfil hook on the trunk before ether_demux hands
    // it to the vlan interface: left alone, it comes back through the vlan.
    if flags & sys::M_PKTHDR == 0 || flags & sys::M_VLANTAG != 0 || len < sys::ETHER_HDR_LEN as i32 {
        return PASS;
    }
    // SAFETY: a packet-header mbuf (checked) whose first mbuf holds the Ethernet header
    // (m_len checked); ether_type is read unaligned.
    let (pkt_len, ether_type) = unsafe {
        let eh = (*m).m_data.cast::<sys::ether_header>();
        (pkt::pkt_len(m), core::ptr::addr_of!((*eh).ether_type).read_unaligned())
    };
    if pkt_len < ARP_FRAME_LEN as i32 || ether_type != (sys::ETHERTYPE_ARP as u16).to_be() {
        return PASS;
    }
    let mut frame = [0u8; ARP_FRAME_LEN];
    // SAFETY: the chain holds at least ARP_FRAME_LEN bytes (m_pkthdr.len checked), copied
    // into `frame`.
    unsafe { sys::m_copydata(m, 0, ARP_FRAME_LEN as c_int, frame.as_mut_ptr().cast()) };
    let mut reply = [0u8; ARP_REPLY_LEN];
    // pfil runs its hooks inside the network epoch; the section entered here nests in it
    // and gives the answer its token.
    let a = crate::net::in_net_epoch(|e| answer(parent, &frame, &mut reply, e));
    if a.reply_len > 0 && a.reply_len <= ARP_REPLY_LEN {
        send(ifp, &reply, a.reply_len);
    }
    if a.consume {
        // The target is a CARP-run carpN address that is also a plain address of the
        // parent: the stack's own ARP would answer with the parent's MAC.
        // SAFETY: the hook may free the frame, telling pfil so by *mp = NULL and
        // PFIL_DROPPED.
        unsafe {
            sys::m_freem(m);
            *mp = core::ptr::null_mut();
        }
        return sys::pfil_return_t_PFIL_DROPPED;
    }
    PASS
}

/// Sends the first `len` bytes of `reply` (a whole Ethernet frame) on `ifp`; nothing
/// without an mbuf.
fn send(ifp: *mut sys::ifnet, reply: &[u8; ARP_REPLY_LEN], len: usize) {
    let n = len.min(ARP_REPLY_LEN);
    // SAFETY: a packet-header mbuf of at most MHLEN bytes, no sleep (M_NOWAIT).
    let r = unsafe { sys::m_get2(n as c_int, sys::M_NOWAIT as c_int, sys::MT_DATA as i16, sys::M_PKTHDR as c_int) };
    if r.is_null() {
        return;
    }
    // SAFETY: a fresh packet-header mbuf with room for `n` (<= MHLEN) bytes at m_data;
    // ether_output_frame consumes it. `ifp` is the live receiving interface (pfil's
    // caller, inside the epoch).
    unsafe {
        core::ptr::copy_nonoverlapping(reply.as_ptr(), (*r).m_data.cast::<u8>(), n);
        (*r).m_len = n as i32;
        let h = pkt::pkthdr(r);
        (*h).len = n as i32;
        (*h).__bindgen_anon_1.rcvif = core::ptr::null_mut();
        let _ = sys::ether_output_frame(ifp, r);
    }
}

//! Requests from the kernel: received packets (mbufs), ioctl requests and netlink
//! messages, each a view valid for the duration of the hook that received it.

use core::marker::PhantomData;
use core::ptr::NonNull;

use carp_proto::Errno;
use sys_bindings as sys;

use crate::hooks::pkthdr;
use crate::ifnet::Ifnet;
use crate::net::errno;

/// A received packet (owned): freed when dropped.
pub struct Mbuf {
    ptr: NonNull<sys::mbuf>,
}

impl Mbuf {
    /// # Safety
    ///
    /// `m` must be null or a packet-header mbuf chain the caller hands over.
    pub(crate) unsafe fn from_raw(m: *mut sys::mbuf) -> Option<Mbuf> {
        NonNull::new(m).map(|ptr| Mbuf { ptr })
    }

    /// `m_pkthdr.len`.
    pub fn len(&self) -> usize {
        // SAFETY: owned packet-header mbuf.
        usize::try_from(unsafe { (*pkthdr(self.ptr.as_ptr())).len }).unwrap_or(0)
    }

    /// Copies the first `out.len()` bytes (m_copydata); `None` if the packet is shorter.
    pub fn copy_to(&self, out: &mut [u8]) -> Option<()> {
        let n = i32::try_from(out.len()).ok()?;
        if out.len() > self.len() {
            return None;
        }
        // SAFETY: owned mbuf chain holding at least `n` bytes (checked against
        // m_pkthdr.len); `out` is writable for `n` bytes.
        unsafe { sys::m_copydata(self.ptr.as_ptr(), 0, n, out.as_mut_ptr().cast()) };
        Some(())
    }

    /// The receiving interface, valid while the packet is being processed (the stack
    /// keeps interfaces alive for the epoch section of the input path).
    pub fn rcvif(&self) -> Option<Ifnet<'_>> {
        // SAFETY: owned packet-header mbuf; on input, m_pkthdr.rcvif is null or a live
        // interface for the input call.
        unsafe { Ifnet::from_raw((*pkthdr(self.ptr.as_ptr())).__bindgen_anon_1.rcvif) }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the chain.
        unsafe { sys::m_freem(self.ptr.as_ptr()) };
    }
}

/// The calling thread of an ioctl.
#[derive(Clone, Copy)]
pub struct Thread<'a> {
    ptr: *mut sys::thread,
    _life: PhantomData<&'a ()>,
}

impl Thread<'_> {
    /// priv_check(td, PRIV_NETINET_CARP) == 0.
    pub fn has_carp_priv(&self) -> bool {
        // SAFETY: the ioctl's thread, alive during the call.
        unsafe { sys::priv_check(self.ptr, sys::PRIV_NETINET_CARP as i32) == 0 }
    }

    /// priv_check_cred(td->td_ucred, PRIV_NETINET_CARP) == 0.
    pub fn cred_has_carp_priv(&self) -> bool {
        // SAFETY: as above.
        unsafe { sys::carp_shim_priv_check_cred(self.ptr) == 0 }
    }
}

/// An `struct ifreq` of SIOCSVH/SIOCGVH.
pub struct Ifreq<'a> {
    ptr: NonNull<sys::ifreq>,
    _life: PhantomData<&'a ()>,
}

impl<'a> Ifreq<'a> {
    /// # Safety
    ///
    /// `ifr` and `td` must be the ioctl's arguments, valid for `'a`.
    pub(crate) unsafe fn from_raw(ifr: *mut sys::ifreq, td: *mut sys::thread) -> Option<(Ifreq<'a>, Thread<'a>)> {
        let ptr = NonNull::new(ifr)?;
        Some((Ifreq { ptr, _life: PhantomData }, Thread { ptr: td, _life: PhantomData }))
    }

    /// `ifr_name` (the parent interface), NUL-terminated in a copy (at most IFNAMSIZ - 1
    /// characters are meaningful, as in ifunit).
    pub fn name(&self) -> [u8; 17] {
        let mut buf = [0u8; 17];
        // SAFETY: the ifreq is a kernel copy; ifr_name is a fixed array of IFNAMSIZ (16)
        // bytes.
        let name = unsafe { (*self.ptr.as_ptr()).ifr_name };
        for (d, s) in buf.iter_mut().zip(name.iter()) {
            *d = *s as u8;
        }
        if let Some(last) = buf.get_mut(15) {
            *last = 0;
        }
        buf
    }

    /// `ifr_data` (ifr_data_get_ptr: a user address, for copyin/copyout).
    fn data(&self) -> *mut core::ffi::c_void {
        // SAFETY: the ioctl's ifreq, valid for the call.
        unsafe { sys::ifr_data_get_ptr(self.ptr.as_ptr().cast()) }
    }

    /// copyin from `ifr_data`.
    pub fn copyin(&self, out: &mut [u8]) -> Result<(), Errno> {
        // SAFETY: copyin checks the user address; `out` is writable for its length.
        errno(unsafe { sys::copyin(self.data(), out.as_mut_ptr().cast(), out.len()) })
    }

    /// copyout to `ifr_data`.
    pub fn copyout(&self, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: copyout checks the user address; `data` is readable for its length.
        errno(unsafe { sys::copyout(data.as_ptr().cast(), self.data(), data.len()) })
    }
}

/// A generic netlink request being handled.
pub struct NlRequest<'a> {
    hdr: NonNull<sys::nlmsghdr>,
    npt: NonNull<sys::nl_pstate>,
    _life: PhantomData<&'a ()>,
}

impl<'a> NlRequest<'a> {
    /// # Safety
    ///
    /// `hdr` and `npt` must be the command callback's arguments, valid for `'a`.
    pub(crate) unsafe fn from_raw(hdr: *mut sys::nlmsghdr, npt: *mut sys::nl_pstate) -> Option<NlRequest<'a>> {
        Some(NlRequest { hdr: NonNull::new(hdr)?, npt: NonNull::new(npt)?, _life: PhantomData })
    }

    /// The whole message (`nlmsg_len` bytes, header included).
    pub fn msg(&self) -> &'a [u8] {
        let p = self.hdr.as_ptr();
        // SAFETY: a parsed message: netlink validated nlmsg_len against the buffer, which
        // stays readable for the callback's duration.
        unsafe { core::slice::from_raw_parts(p.cast::<u8>(), (*p).nlmsg_len as usize) }
    }

    /// The requesting socket has PRIV_NETINET_CARP (readers see the key).
    pub fn privileged(&self) -> bool {
        // SAFETY: valid parser state; nlp is its socket.
        unsafe { sys::nlp_has_priv((*self.npt.as_ptr()).nlp, sys::PRIV_NETINET_CARP as i32) }
    }

    /// Sends one reply message: the request's header fields with NLM_F_MULTI, then
    /// `payload` (genlmsghdr + attributes).
    pub fn reply(&self, payload: &[u8]) -> Result<(), Errno> {
        let len = i32::try_from(payload.len()).map_err(|_| Errno::EMSGSIZE)?.unsigned_abs();
        // SAFETY: valid request and parser state (its writer); copies `payload` into the
        // room nlmsg_reserve_data_raw returned (at least `len` bytes), or aborts the
        // message when there is none.
        unsafe {
            let nw = (*self.npt.as_ptr()).nw;
            let h = self.hdr.as_ptr().read();
            let flags = h.nlmsg_flags | sys::NLM_F_MULTI as u16;
            if !sys::nlmsg_add(nw, h.nlmsg_pid, h.nlmsg_seq, h.nlmsg_type, flags, len) {
                return Err(Errno::ENOMEM);
            }
            let p = sys::nlmsg_reserve_data_raw(nw, payload.len());
            if p.is_null() {
                sys::nlmsg_abort(nw);
                return Err(Errno::ENOMEM);
            }
            core::ptr::copy_nonoverlapping(payload.as_ptr(), p.cast::<u8>(), payload.len());
            if !sys::nlmsg_end(nw) {
                return Err(Errno::ENOMEM);
            }
        }
        Ok(())
    }

    /// Terminates a dump with NLMSG_DONE carrying `error`.
    pub fn end_dump(&self, error: i32) -> Result<(), Errno> {
        // SAFETY: valid request and parser state.
        let ok = unsafe { sys::nlmsg_end_dump((*self.npt.as_ptr()).nw, error, self.hdr.as_ptr()) };
        if ok {
            Ok(())
        } else {
            Err(Errno::ENOMEM)
        }
    }
}

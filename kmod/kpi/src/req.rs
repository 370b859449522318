//! Requests from the kernel: received packets (mbufs), ioctl requests and netlink
//! messages, each a view valid for the duration of the hook that received it.

use core::marker::PhantomData;
use core::ptr::NonNull;

use carp_proto::Errno;
use sys_bindings as sys;

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
        usize::try_from(unsafe { sys::carp_shim_m_len(self.ptr.as_ptr()) }).unwrap_or(0)
    }

    /// Copies the first `out.len()` bytes (m_copydata); `None` if the packet is shorter.
    pub fn copy_to(&self, out: &mut [u8]) -> Option<()> {
        let n = i32::try_from(out.len()).ok()?;
        // SAFETY: owned mbuf; `out` is writable for `n` bytes; the shim checks the range.
        let r = unsafe { sys::carp_shim_m_copydata(self.ptr.as_ptr(), 0, n, out.as_mut_ptr()) };
        (r == 0).then_some(())
    }

    /// The receiving interface, valid while the packet is being processed (the stack
    /// keeps interfaces alive for the epoch section of the input path).
    pub fn rcvif(&self) -> Option<Ifnet<'_>> {
        // SAFETY: owned mbuf; rcvif is null or a live interface for the input call.
        unsafe { Ifnet::from_raw(sys::carp_shim_m_rcvif(self.ptr.as_ptr())) }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the chain.
        unsafe { sys::carp_shim_m_freem(self.ptr.as_ptr()) };
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
        unsafe { sys::carp_shim_priv_check(self.ptr) == 0 }
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
        // bytes at the returned address.
        let p = unsafe { sys::carp_shim_ifr_name(self.ptr.as_ptr()) };
        if !p.is_null() {
            // SAFETY: 16 readable bytes (ifr_name), copied into the first 16 of `buf`.
            let name = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), 16) };
            for (d, s) in buf.iter_mut().zip(name.iter()) {
                *d = *s;
            }
        }
        if let Some(last) = buf.get_mut(15) {
            *last = 0;
        }
        buf
    }

    /// copyin from `ifr_data`.
    pub fn copyin(&self, out: &mut [u8]) -> Result<(), Errno> {
        // SAFETY: copyin checks the user address; `out` is writable for its length.
        errno(unsafe { sys::carp_shim_ifr_copyin(self.ptr.as_ptr(), out.as_mut_ptr().cast(), out.len()) })
    }

    /// copyout to `ifr_data`.
    pub fn copyout(&self, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: copyout checks the user address; `data` is readable for its length.
        errno(unsafe { sys::carp_shim_ifr_copyout(self.ptr.as_ptr(), data.as_ptr().cast(), data.len()) })
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
        let mut len = 0usize;
        // SAFETY: a parsed message: netlink validated nlmsg_len against the buffer.
        let p = unsafe { sys::carp_shim_nl_msg(self.hdr.as_ptr(), &mut len) };
        if p.is_null() {
            return &[];
        }
        // SAFETY: `len` readable bytes at `p`, for the callback's duration.
        unsafe { core::slice::from_raw_parts(p, len) }
    }

    /// The requesting socket has PRIV_NETINET_CARP (readers see the key).
    pub fn privileged(&self) -> bool {
        // SAFETY: valid parser state.
        unsafe { sys::carp_shim_nl_privileged(self.npt.as_ptr()) != 0 }
    }

    /// Sends one reply message: the request's header fields with NLM_F_MULTI, then
    /// `payload` (genlmsghdr + attributes).
    pub fn reply(&self, payload: &[u8]) -> Result<(), Errno> {
        let len = i32::try_from(payload.len()).map_err(|_| Errno::EMSGSIZE)?;
        // SAFETY: valid request; `payload` readable for `len` bytes.
        errno(unsafe { sys::carp_shim_nl_reply(self.npt.as_ptr(), self.hdr.as_ptr(), payload.as_ptr(), len) })
    }

    /// Terminates a dump with NLMSG_DONE carrying `error`.
    pub fn end_dump(&self, error: i32) -> Result<(), Errno> {
        // SAFETY: valid request.
        errno(unsafe { sys::carp_shim_nl_end_dump(self.npt.as_ptr(), error, self.hdr.as_ptr()) })
    }
}

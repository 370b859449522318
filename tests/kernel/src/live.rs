//! Live wires: a simulated wire attached to a Linux interface (a veth end in the network
//! namespace kharness runs in) through an AF_PACKET socket. Frames the simulated NICs
//! transmit on the wire also leave on the Linux interface; frames arriving there are put
//! on the wire by a kernel thread of the simulation (the driver's receive path), with
//! callouts on real time, concurrently with timers and configuration, as in a kernel.
//! Real-time mode only (`--real-time`).

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Mutex;

/// wire id -> packet socket.
static LIVE: Mutex<Option<HashMap<i32, i32>>> = Mutex::new(None);

fn ifindex(name: &str) -> Result<i32, String> {
    let c = std::ffi::CString::new(name).map_err(|_| "bad interface name".to_string())?;
    // SAFETY: a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(format!("no Linux interface {name} in this network namespace"));
    }
    Ok(i as i32)
}

/// Opens a packet socket on `ifname` (promiscuous, every protocol) for wire `wire`.
pub fn attach(wire: i32, ifname: &str) -> Result<i32, String> {
    let idx = ifindex(ifname)?;
    let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(format!("socket(AF_PACKET): {}", std::io::Error::last_os_error()));
    }
    // SAFETY: zeroed sockaddr_ll filled field by field, bound to the interface.
    let r = unsafe {
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = idx;
        libc::bind(fd, (&sll as *const libc::sockaddr_ll).cast(), std::mem::size_of::<libc::sockaddr_ll>() as u32)
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fd) };
        return Err(format!("bind to {ifname}: {e}"));
    }
    // SAFETY: setsockopt with properly sized values.
    unsafe {
        let mut mr: libc::packet_mreq = std::mem::zeroed();
        mr.mr_ifindex = idx;
        mr.mr_type = libc::PACKET_MR_PROMISC as u16;
        libc::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, (&mr as *const libc::packet_mreq).cast(), std::mem::size_of::<libc::packet_mreq>() as u32);
        let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&tv as *const libc::timeval).cast(), std::mem::size_of::<libc::timeval>() as u32);
    }
    if let Ok(mut l) = LIVE.lock() {
        l.get_or_insert_with(HashMap::new).insert(wire, fd);
    }
    Ok(fd)
}

/// A frame a simulated NIC transmitted on `wire`: out on the attached interface.
#[no_mangle]
pub extern "C" fn hl_wire_out(wire: i32, frame: *const u8, len: u32) {
    let fd = LIVE.lock().ok().and_then(|l| l.as_ref().and_then(|m| m.get(&wire).copied()));
    let Some(fd) = fd else { return };
    // SAFETY: the kernel passes len readable bytes; a bound packet socket sends them as is.
    unsafe { libc::send(fd, frame.cast::<c_void>(), len as usize, 0) };
}

/// The receive loop's read: one frame that arrived on the interface (not one we sent),
/// 0 after 100 ms without one, -1 on error.
#[no_mangle]
pub extern "C" fn hl_wire_recv(fd: i32, buf: *mut u8, len: u32) -> i32 {
    loop {
        // SAFETY: zeroed sockaddr_ll for recvfrom to fill; buf is writable for len bytes.
        let (n, pkttype) = crate::sched::blocking("ethrx", || unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            let mut sl = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let n = libc::recvfrom(fd, buf.cast::<c_void>(), len as usize, 0, (&mut sll as *mut libc::sockaddr_ll).cast(), &mut sl);
            (n, sll.sll_pkttype)
        });
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR)) { 0 } else { -1 };
        }
        if pkttype == libc::PACKET_OUTGOING as u8 {
            continue; // our own transmission, seen again
        }
        return n as i32;
    }
}

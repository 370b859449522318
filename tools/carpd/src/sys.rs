//! Linux plumbing for the test node: an AF_PACKET socket on the parent interface, the
//! monotonic clock as the core's `Instant`, a precise poll, signals as a file descriptor,
//! and the `ip`/sysctl commands that put virtual addresses on the machine.
//!
//! No protocol knowledge lives here: frames are built and judged by carp-proto.

use carp_proto::Instant;
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::time::Duration;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The monotonic clock in microseconds: the core's time base.
pub fn now() -> Instant {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let us = (ts.tv_sec as u64).saturating_mul(1_000_000).saturating_add(ts.tv_nsec as u64 / 1000);
    Instant::from_micros(us)
}

/// How long ago the frame of `msg` was received, from its SCM_TIMESTAMPNS control message
/// (zero when there is none, or when the realtime clock stepped backwards).
fn age_of(msg: &libc::msghdr) -> Duration {
    // SAFETY: msg was filled by recvmsg; the CMSG_* walk stays within msg_control.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                libc::clock_gettime(libc::CLOCK_REALTIME, &mut now);
                let ns = |t: &libc::timespec| (t.tv_sec as i128) * 1_000_000_000 + t.tv_nsec as i128;
                let age = ns(&now) - ns(&ts);
                // Anything negative or absurd (a clock step) counts as "just now".
                return if (0..1_000_000_000).contains(&age) {
                    Duration::from_nanos(age as u64)
                } else {
                    Duration::ZERO
                };
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    Duration::ZERO
}

/// Ask the kernel for 1 ns timer slack (default 50 µs) so wake-ups land on the deadline.
pub fn precise_timers() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// SCHED_FIFO at `prio` and all memory locked: wake-ups are not delayed behind ordinary
/// tasks (the machine is shared; a kernel callout is not delayed either).
pub fn realtime(prio: u8) -> io::Result<()> {
    let p = libc::sched_param { sched_priority: i32::from(prio) };
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        cvt(libc::sched_setscheduler(0, libc::SCHED_FIFO, &p))?;
        cvt(libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE))?;
    }
    Ok(())
}

/// Interface index, or an error naming the interface.
pub fn ifindex(name: &str) -> io::Result<i32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface {name}")));
    }
    Ok(i as i32)
}

/// The interface's hardware address, from sysfs.
pub fn hwaddr(name: &str) -> io::Result<[u8; 6]> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{name}/address"))?;
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in mac.iter_mut() {
        let p = parts.next().ok_or(io::ErrorKind::InvalidData)?;
        *b = u8::from_str_radix(p, 16).map_err(|_| io::ErrorKind::InvalidData)?;
    }
    Ok(mac)
}

/// Whether the interface is administratively up and has carrier.
pub fn link_up(name: &str) -> bool {
    let carrier = std::fs::read_to_string(format!("/sys/class/net/{name}/carrier"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    let oper = std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))
        .map(|s| s.trim() != "down")
        .unwrap_or(false);
    carrier && oper
}

/// The IPv4 and IPv6 addresses currently on an interface (getifaddrs).
pub fn if_addrs(name: &str) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we free with freeifaddrs; we only read it.
    unsafe {
        if libc::getifaddrs(&mut ifap) != 0 {
            return (v4, v6);
        }
        let mut p = ifap;
        while !p.is_null() {
            let ifa = &*p;
            p = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
                continue;
            }
            let n = std::ffi::CStr::from_ptr(ifa.ifa_name);
            if n.to_bytes() != name.as_bytes() {
                continue;
            }
            match (*ifa.ifa_addr).sa_family as i32 {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    v4.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    v6.push(Ipv6Addr::from(sin6.sin6_addr.s6_addr));
                }
                _ => {}
            }
        }
        libc::freeifaddrs(ifap);
    }
    (v4, v6)
}

/// Kind of a received frame (sll_pkttype).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PktType {
    Host,
    Broadcast,
    Multicast,
    OtherHost,
}

/// An AF_PACKET raw socket bound to one interface: whole Ethernet frames in and out.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

const ETH_P_ALL: u16 = 0x0003;

impl PacketSocket {
    pub fn open(iface: &str) -> io::Result<PacketSocket> {
        let ifindex = ifindex(iface)?;
        // SAFETY: plain syscalls with valid arguments; the fd is owned right away.
        let fd = unsafe {
            let fd = cvt(libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL.to_be()),
            ))?;
            OwnedFd::from_raw_fd(fd)
        };
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: sll is a valid sockaddr_ll of the given size.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        })?;
        let s = PacketSocket { fd, ifindex };
        // Frames we send must not wait behind the qdisc: lower, steadier latency.
        let one: libc::c_int = 1;
        s.setsockopt(libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one)?;
        s.enable_timestamps()?;
        Ok(s)
    }

    fn setsockopt<T>(&self, level: i32, name: i32, v: &T) -> io::Result<()> {
        // SAFETY: v points to a T of the given size.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                v as *const T as *const libc::c_void,
                std::mem::size_of::<T>() as u32,
            )
        })
        .map(|_| ())
    }

    /// Receive the multicast MAC `mac` on the interface (the NIC's filter).
    pub fn add_multicast(&self, mac: [u8; 6]) -> io::Result<()> {
        let mut mr: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mr.mr_ifindex = self.ifindex;
        mr.mr_type = libc::PACKET_MR_MULTICAST as u16;
        mr.mr_alen = 6;
        mr.mr_address[..6].copy_from_slice(&mac);
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr)
    }

    /// Receive one frame into `buf`. `Ok(None)` when nothing is pending. Frames this host
    /// sent (PACKET_OUTGOING) are skipped. Also returns how long ago the kernel received
    /// the frame (its SO_TIMESTAMPNS stamp), so the core's timers start from the frame's
    /// arrival, as they do in a kernel, not from when this process got to read it.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, PktType, Duration)>> {
        loop {
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
            // Room for one SCM_TIMESTAMPNS control message (a struct timespec).
            let mut cbuf = [0u64; 8];
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = &mut sll as *mut libc::sockaddr_ll as *mut libc::c_void;
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
            // SAFETY: msg points at live buffers of the sizes it states.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
            let t = match sll.sll_pkttype {
                libc::PACKET_OUTGOING => continue,
                libc::PACKET_HOST => PktType::Host,
                libc::PACKET_BROADCAST => PktType::Broadcast,
                libc::PACKET_MULTICAST => PktType::Multicast,
                _ => PktType::OtherHost,
            };
            return Ok(Some((n as usize, t, age_of(&msg))));
        }
    }

    /// Ask for kernel receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME).
    pub fn enable_timestamps(&self) -> io::Result<()> {
        let one: libc::c_int = 1;
        self.setsockopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &one)
    }

    /// Send one complete Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is valid for its length; the socket is bound to the interface.
        let n = unsafe {
            libc::send(self.fd.as_raw_fd(), frame.as_ptr() as *const libc::c_void, frame.len(), 0)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A raw IP socket for protocol 112 that never delivers anything (its BPF filter drops
/// every packet). Its only job: while it exists the kernel does not answer CARP adverts to a
/// unicast peer with ICMP "protocol unreachable".
pub fn open_proto112_sink(v6: bool) -> io::Result<OwnedFd> {
    let af = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: plain syscalls; the fd is owned right away.
    let fd = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::socket(af, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 112))?)
    };
    let mut insn = [libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0 }]; // BPF_RET|BPF_K 0
    let prog = libc::sock_fprog { len: 1, filter: insn.as_mut_ptr() };
    // SAFETY: prog points to one valid instruction for the duration of the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &prog as *const libc::sock_fprog as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as u32,
        )
    })?;
    Ok(fd)
}

/// SIGTERM, SIGINT and SIGHUP as a readable file descriptor (blocked for normal delivery).
pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    pub fn new() -> io::Result<Signals> {
        // SAFETY: sigset manipulation on a local set; signalfd returns an fd we own.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
                libc::sigaddset(&mut set, s);
            }
            cvt(libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()))?;
            let fd = cvt(libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC))?;
            Ok(Signals { fd: OwnedFd::from_raw_fd(fd) })
        }
    }

    /// The next pending signal number, if any.
    pub fn read(&self) -> Option<i32> {
        let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let sz = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: si is valid for sz bytes.
        let n = unsafe {
            libc::read(self.fd.as_raw_fd(), &mut si as *mut _ as *mut libc::c_void, sz)
        };
        (n as usize == sz).then_some(si.ssi_signo as i32)
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Wait until one of `fds` is readable or `deadline` passes (None: forever). Uses ppoll
/// with nanosecond resolution; returns the readiness of each fd.
pub fn wait(fds: &[RawFd], deadline: Option<Instant>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    let ts;
    let tsp = match deadline {
        None => std::ptr::null(),
        Some(d) => {
            let us = d.as_micros().saturating_sub(now().as_micros());
            ts = libc::timespec {
                tv_sec: (us / 1_000_000) as libc::time_t,
                tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
            };
            &ts as *const libc::timespec
        }
    };
    // SAFETY: pfds and ts are valid for the call.
    let r = unsafe { libc::ppoll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, tsp, std::ptr::null()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0).collect())
}

/// A control FIFO opened read-write (so it never reports EOF when writers come and go),
/// split into lines.
pub struct Control {
    fd: OwnedFd,
    pending: Vec<u8>,
}

impl Control {
    pub fn open(path: &std::path::Path) -> io::Result<Control> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: NUL-terminated path.
        unsafe {
            if libc::mkfifo(c.as_ptr(), 0o600) != 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(e);
                }
            }
            let fd = cvt(libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC))?;
            Ok(Control { fd: OwnedFd::from_raw_fd(fd), pending: Vec::new() })
        }
    }

    /// Complete lines received so far.
    pub fn lines(&mut self) -> Vec<String> {
        let mut buf = [0u8; 1024];
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len())
            };
            if n <= 0 {
                break;
            }
            self.pending.extend_from_slice(&buf[..n as usize]);
        }
        let mut out = Vec::new();
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            out.push(String::from_utf8_lossy(&line).trim().to_string());
        }
        out
    }
}

impl AsRawFd for Control {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn run(args: &[&str]) -> io::Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn write_sysctl(path: &str, v: &str) {
    let _ = std::fs::write(path, v);
}

/// Where a vhid's addresses live on Linux: a macvlan named `carp<vhid>` on the parent whose
/// MAC is the virtual MAC, so the stack receives frames sent to 00:00:5e:00:01:<vhid> (as a
/// FreeBSD parent does). The kernel must not answer ARP for the virtual addresses itself:
/// carpd does (only as MASTER, or per arpbalance), so `arp_ignore` is 8 on the macvlan and 1 on
/// the parent, and `arp_announce` 2 on the parent.
pub struct VirtualIf {
    pub name: String,
    present: Vec<(IpAddr, u8)>,
}

impl VirtualIf {
    pub fn create(parent: &str, vhid: u8, mac: [u8; 6]) -> io::Result<VirtualIf> {
        let name = format!("carp{vhid}");
        let macs = format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
        );
        let _ = run(&["ip", "link", "del", &name]);
        run(&[
            "ip", "link", "add", "link", parent, "name", &name, "address", &macs, "type", "macvlan",
            "mode", "bridge",
        ])?;
        let _ = run(&["ip", "link", "set", "dev", &name, "addrgenmode", "none"]);
        write_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/arp_ignore"), "8");
        write_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/rp_filter"), "0");
        write_sysctl(&format!("/proc/sys/net/ipv6/conf/{name}/accept_dad"), "0");
        write_sysctl(&format!("/proc/sys/net/ipv4/conf/{parent}/arp_ignore"), "1");
        write_sysctl(&format!("/proc/sys/net/ipv4/conf/{parent}/arp_announce"), "2");
        run(&["ip", "link", "set", "dev", &name, "up"])?;
        Ok(VirtualIf { name, present: Vec::new() })
    }

    /// Put an address on (idempotent).
    pub fn add(&mut self, a: IpAddr, prefix: u8) -> io::Result<()> {
        if self.present.iter().any(|&(x, _)| x == a) {
            return Ok(());
        }
        let s = format!("{a}/{prefix}");
        let mut args = vec!["ip", "addr", "add", &s, "dev", &self.name, "noprefixroute"];
        if a.is_ipv6() {
            args.push("nodad");
        }
        run(&args)?;
        self.present.push((a, prefix));
        Ok(())
    }

    /// Take an address off (idempotent).
    pub fn del(&mut self, a: IpAddr) -> io::Result<()> {
        let Some(i) = self.present.iter().position(|&(x, _)| x == a) else { return Ok(()) };
        let (a, p) = self.present.remove(i);
        run(&["ip", "addr", "del", &format!("{a}/{p}"), "dev", &self.name])
    }

    pub fn del_all(&mut self) {
        for (a, _) in self.present.clone() {
            let _ = self.del(a);
        }
    }
}

impl Drop for VirtualIf {
    fn drop(&mut self) {
        let _ = run(&["ip", "link", "del", &self.name]);
    }
}

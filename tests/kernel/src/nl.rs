//! The netlink client of the harness's userland, byte for byte what stock FreeBSD 15's
//! libifconfig sends through snl(3) for carp (lib/libifconfig/libifconfig_carp.c): a new
//! NETLINK_GENERIC socket per call, the family looked up with CTRL_CMD_GETFAMILY (seq 1),
//! then the carp request (seq 2) with flags NLM_F_REQUEST|NLM_F_ACK (| NLM_F_DUMP for GET)
//! and the attributes in libifconfig's order. It is written from the protocol's
//! definition, independently of the module and of carp-proto (which would make the test
//! circular).

use crate::kapi;

pub const NLM_F_REQUEST: u16 = 0x1;
#[allow(dead_code)] // netlink.h's flag set, kept whole
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const GENL_ID_CTRL: u16 = 16;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

// netinet/ip_carp_nl.h
pub const CARP_NL_CMD_GET: u8 = 1;
pub const CARP_NL_CMD_SET: u8 = 2;
pub const CARP_NL_VHID: u16 = 1;
pub const CARP_NL_STATE: u16 = 2;
pub const CARP_NL_ADVBASE: u16 = 3;
pub const CARP_NL_ADVSKEW: u16 = 4;
pub const CARP_NL_KEY: u16 = 5;
pub const CARP_NL_IFINDEX: u16 = 6;
pub const CARP_NL_ADDR: u16 = 7;
pub const CARP_NL_ADDR6: u16 = 8;
pub const CARP_NL_IFNAME: u16 = 9;
pub const CARP_NL_VERSION: u16 = 10;
pub const CARP_NL_VRRP_PRIORITY: u16 = 11;
pub const CARP_NL_VRRP_ADV_INTER: u16 = 12;

/// A message under construction (snl_writer).
pub struct Msg {
    pub buf: Vec<u8>,
}

impl Msg {
    /// nlmsghdr (length patched by `finish`) + genlmsghdr.
    pub fn genl(family: u16, flags: u16, seq: u32, cmd: u8) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&family.to_le_bytes());
        buf.extend_from_slice(&flags.to_le_bytes());
        buf.extend_from_slice(&seq.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&[cmd, 0, 0, 0]);
        Msg { buf }
    }

    /// An attribute with its data, padded to 4 with zeros.
    pub fn attr(&mut self, typ: u16, data: &[u8]) -> &mut Msg {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_le_bytes());
        self.buf.extend_from_slice(&typ.to_le_bytes());
        self.buf.extend_from_slice(data);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
        self
    }

    pub fn u8(&mut self, typ: u16, v: u8) -> &mut Msg {
        self.attr(typ, &[v])
    }
    pub fn u16(&mut self, typ: u16, v: u16) -> &mut Msg {
        self.attr(typ, &v.to_le_bytes())
    }
    pub fn u32(&mut self, typ: u16, v: u32) -> &mut Msg {
        self.attr(typ, &v.to_le_bytes())
    }
    pub fn s32(&mut self, typ: u16, v: i32) -> &mut Msg {
        self.attr(typ, &v.to_le_bytes())
    }
    pub fn string(&mut self, typ: u16, s: &str) -> &mut Msg {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(typ, &d)
    }

    pub fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_le_bytes());
        self.buf
    }
}

/// One received netlink message.
#[derive(Clone, Debug)]
#[allow(dead_code)] // every header field is decoded, for debugging output
pub struct Reply {
    pub typ: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: Vec<u8>,
    pub raw: Vec<u8>,
}

impl Reply {
    /// NLMSG_ERROR / NLMSG_DONE: the error int.
    pub fn error(&self) -> Option<i32> {
        if (self.typ == NLMSG_ERROR || self.typ == NLMSG_DONE) && self.payload.len() >= 4 {
            Some(i32::from_le_bytes(self.payload[0..4].try_into().unwrap_or([0; 4])))
        } else {
            None
        }
    }

    /// Attributes after the genl header: (type, data).
    pub fn attrs(&self) -> Vec<(u16, Vec<u8>)> {
        parse_attrs(self.payload.get(4..).unwrap_or(&[]))
    }
}

pub fn parse_attrs(mut p: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while p.len() >= 4 {
        let len = u16::from_le_bytes([p[0], p[1]]) as usize;
        let typ = u16::from_le_bytes([p[2], p[3]]) & 0x3fff;
        if len < 4 || len > p.len() {
            break;
        }
        out.push((typ, p[4..len].to_vec()));
        let adv = (len + 3) & !3;
        if adv > p.len() {
            break;
        }
        p = &p[adv..];
    }
    out
}

pub fn parse_replies(mut b: &[u8]) -> Vec<Reply> {
    let mut out = Vec::new();
    while b.len() >= 16 {
        let len = u32::from_le_bytes(b[0..4].try_into().unwrap_or([0; 4])) as usize;
        if len < 16 || len > b.len() {
            break;
        }
        out.push(Reply {
            typ: u16::from_le_bytes([b[4], b[5]]),
            flags: u16::from_le_bytes([b[6], b[7]]),
            seq: u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4])),
            pid: u32::from_le_bytes(b[12..16].try_into().unwrap_or([0; 4])),
            payload: b[16..len].to_vec(),
            raw: b[..len].to_vec(),
        });
        let adv = (len + 3) & !3;
        if adv > b.len() {
            break;
        }
        b = &b[adv..];
    }
    out
}

/// A NETLINK_GENERIC socket of the simulated kernel.
pub struct Socket {
    fd: i32,
    /// The kernel's snapshot before the last request (fault injection only).
    before: std::cell::RefCell<Option<String>>,
}

impl Socket {
    pub fn open(vnet: &str, user: bool) -> Result<Socket, i32> {
        let v = kapi::cstr(vnet);
        // SAFETY: a kernel call from the script thread.
        let fd = unsafe { kapi::hk_nl_open(v.as_ptr(), i32::from(user)) };
        if fd < 0 {
            return Err(-fd);
        }
        Ok(Socket { fd, before: std::cell::RefCell::new(None) })
    }

    pub fn send(&self, msg: &[u8]) -> i32 {
        *self.before.borrow_mut() = crate::userland::guard_before();
        // SAFETY: msg is readable for its length.
        unsafe { kapi::hk_nl_send(self.fd, msg.as_ptr().cast(), msg.len() as _) }
    }

    pub fn recv(&self) -> Vec<Reply> {
        let mut buf = vec![0u8; 1 << 16];
        // SAFETY: buf is writable for its length.
        let n = unsafe { kapi::hk_nl_recv(self.fd, buf.as_mut_ptr().cast(), buf.len() as _) };
        let r = parse_replies(&buf[..n.max(0) as usize]);
        let err = r.iter().filter(|x| x.typ == NLMSG_ERROR).find_map(|x| x.error().filter(|e| *e != 0)).unwrap_or(0);
        if err != 0 {
            crate::userland::guard_after(self.before.borrow_mut().take(), err.abs(), "netlink request");
        }
        r
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: closing our own socket.
        unsafe { kapi::hk_nl_close(self.fd) };
    }
}

/// snl_get_genl_family: the family id, 0 if absent.
pub fn family_id(s: &Socket, name: &str) -> u16 {
    let mut m = Msg::genl(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 1, CTRL_CMD_GETFAMILY);
    m.string(CTRL_ATTR_FAMILY_NAME, name);
    s.send(&m.finish());
    for r in s.recv() {
        if r.seq != 1 || r.typ == NLMSG_ERROR {
            continue;
        }
        for (t, d) in r.attrs() {
            if t == CTRL_ATTR_FAMILY_ID && d.len() == 2 {
                return u16::from_le_bytes([d[0], d[1]]);
            }
        }
    }
    0
}

/// One vhid as libifconfig's struct carpreq holds it (15: with VRRP fields).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CarpInfo {
    pub vhid: u32,
    pub state: u32,
    pub advbase: i32,
    pub advskew: i32,
    pub key: [u8; 20],
    pub addr: [u8; 4],
    pub addr6: [u8; 16],
    pub version: u8,
    pub vrrp_prio: u8,
    pub vrrp_adv_inter: u16,
}

/// The outcome of a libifconfig carp call, with what the kernel really answered.
#[derive(Debug, Default)]
pub struct CarpReply {
    pub entries: Vec<CarpInfo>,
    /// The errno the kernel put in NLMSG_DONE or NLMSG_ERROR (0: none).
    pub kernel_error: i32,
    /// libifconfig's own failure (ENOTSUP/EPROTONOSUPPORT/E2BIG/...), which makes
    /// ifconfig's setcarp callback return without a SET.
    pub lib_error: i32,
    pub replies: Vec<Reply>,
}

const EPROTONOSUPPORT: i32 = 43;
const E2BIG: i32 = 7;

fn parse_carp(r: &Reply) -> Option<CarpInfo> {
    let mut c = CarpInfo::default();
    for (t, d) in r.attrs() {
        match t {
            CARP_NL_VHID if d.len() == 4 => c.vhid = u32::from_le_bytes(d[..4].try_into().ok()?),
            CARP_NL_STATE if d.len() == 4 => c.state = u32::from_le_bytes(d[..4].try_into().ok()?),
            CARP_NL_ADVBASE if d.len() == 4 => c.advbase = i32::from_le_bytes(d[..4].try_into().ok()?),
            CARP_NL_ADVSKEW if d.len() == 4 => c.advskew = i32::from_le_bytes(d[..4].try_into().ok()?),
            CARP_NL_KEY => {
                if d.len() != 20 {
                    return None; // snl_attr_get_bytes requires exactly 20
                }
                c.key.copy_from_slice(&d);
            }
            CARP_NL_ADDR if d.len() == 4 => c.addr.copy_from_slice(&d),
            CARP_NL_ADDR6 if d.len() == 16 => c.addr6.copy_from_slice(&d),
            CARP_NL_VERSION if d.len() == 1 => c.version = d[0],
            CARP_NL_VRRP_PRIORITY if d.len() == 1 => c.vrrp_prio = d[0],
            CARP_NL_VRRP_ADV_INTER if d.len() == 2 => c.vrrp_adv_inter = u16::from_le_bytes([d[0], d[1]]),
            CARP_NL_VHID | CARP_NL_STATE | CARP_NL_ADVBASE | CARP_NL_ADVSKEW | CARP_NL_ADDR | CARP_NL_ADDR6
            | CARP_NL_VERSION | CARP_NL_VRRP_PRIORITY | CARP_NL_VRRP_ADV_INTER => return None,
            _ => {}
        }
    }
    Some(c)
}

/// ifconfig_carp_get_vhid / ifconfig_carp_get_info: GET (dump), IFNAME then VHID.
pub fn carp_get(vnet: &str, user: bool, ifname: &str, vhid: Option<u32>, max: usize) -> CarpReply {
    let mut out = CarpReply::default();
    let s = match Socket::open(vnet, user) {
        Ok(s) => s,
        Err(e) => {
            out.lib_error = e;
            return out;
        }
    };
    let fam = family_id(&s, "carp");
    if fam == 0 {
        out.lib_error = EPROTONOSUPPORT;
        return out;
    }
    let mut m = Msg::genl(fam, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, 2, CARP_NL_CMD_GET);
    m.string(CARP_NL_IFNAME, ifname);
    if let Some(v) = vhid {
        m.u32(CARP_NL_VHID, v);
    }
    s.send(&m.finish());
    let replies = s.recv();
    for r in replies.iter().filter(|r| r.seq == 2) {
        if let Some(e) = r.error() {
            out.kernel_error = e;
            break;
        }
        if out.entries.len() >= max {
            out.lib_error = E2BIG;
            break;
        }
        if let Some(c) = parse_carp(r) {
            out.entries.push(c);
        }
    }
    out.replies = replies;
    out
}

/// ifconfig_carp_set_info: SET with libifconfig's attribute order. Returns the kernel's
/// errno (0 on success) and the exact request bytes.
pub fn carp_set(vnet: &str, user: bool, ifname: &str, c: &CarpInfo) -> (i32, Vec<u8>, Vec<Reply>) {
    let s = match Socket::open(vnet, user) {
        Ok(s) => s,
        Err(e) => return (e, Vec::new(), Vec::new()),
    };
    let fam = family_id(&s, "carp");
    if fam == 0 {
        return (EPROTONOSUPPORT, Vec::new(), Vec::new());
    }
    let mut m = Msg::genl(fam, NLM_F_REQUEST | NLM_F_ACK, 2, CARP_NL_CMD_SET);
    m.u32(CARP_NL_VHID, c.vhid)
        .u32(CARP_NL_STATE, c.state)
        .s32(CARP_NL_ADVBASE, c.advbase)
        .s32(CARP_NL_ADVSKEW, c.advskew)
        .string(CARP_NL_IFNAME, ifname)
        .attr(CARP_NL_ADDR, &c.addr)
        .attr(CARP_NL_ADDR6, &c.addr6)
        .attr(CARP_NL_KEY, &c.key)
        .u8(CARP_NL_VERSION, c.version)
        .u8(CARP_NL_VRRP_PRIORITY, c.vrrp_prio)
        .u16(CARP_NL_VRRP_ADV_INTER, c.vrrp_adv_inter);
    let req = m.finish();
    s.send(&req);
    let replies = s.recv();
    // snl_read_reply_code: the first message of seq 2; NLMSG_ERROR carries the errno.
    let err = replies.iter().find(|r| r.seq == 2).and_then(|r| r.error()).unwrap_or(0);
    (err, req, replies)
}

/// A raw exchange on a fresh socket (the family resolved first): for malformed requests.
/// `build` receives the family id and returns the bytes to send.
pub fn raw(vnet: &str, user: bool, build: impl FnOnce(u16) -> Vec<u8>) -> (u16, Vec<Reply>) {
    let Ok(s) = Socket::open(vnet, user) else { return (0, Vec::new()) };
    let fam = family_id(&s, "carp");
    let msg = build(fam);
    s.send(&msg);
    (fam, s.recv())
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

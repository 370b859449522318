//! `carpdump`: decode and check every CARP and VRRPv3 advertisement in a capture, with the
//! very receive pipeline carp.ko runs (`carp_proto::input`, FreeBSD 15's checks in their
//! order), and tell for each packet whether a receiver configured like you say would
//! accept it: valid, bad_checksum, bad_ttl, bad_auth, unknown_vhid, bad_version, ...
//!
//! ```text
//! carpdump FILE [--pass P] [--addr A]... [--vhid N]... [--all-vhids] [--carpver 2|3] [--brief]
//! ```
//!
//! What the receiver is assumed to be configured with:
//! - vhids: the `--vhid`s given; without any, every vhid with `--all-vhids`, else the one
//!   vhid that most protocol-112 packets in the file carry (ties: the lowest). Packets of
//!   other vhids are `unknown_vhid`.
//! - version of each vhid: `--carpver`, else the version most of that vhid's packets carry.
//! - key: `--pass` (at most 19 characters, as ifconfig; none = the all-zero key FreeBSD
//!   starts with). Addresses: every `--addr` (IPv4 and IPv6, hashed as FreeBSD does). The
//!   HMAC of CARP packets is checked only when at least one `--addr` is given; without one
//!   it cannot be, and the summary says so.
//! - advertisement destination: as the packet's (a unicast destination means the peers
//!   use `peer`, which disables the TTL check, as in FreeBSD).
//!
//! Output: one line per packet, `frame<TAB>source<TAB>verdict<TAB>detail` (`--brief`: the
//! first three columns only, the layout of the fixtures' expected.tsv), then a summary line
//! starting with `#`. Exit status: 0 all valid, 1 some packet failed, 2 unreadable input.

mod capture;

use capture::{network_layer, Frame, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use carp_proto::auth::{Authenticator, MD_LEN};
use carp_proto::input::{self, Outcome, VhidLookup, VhidView, Verdict};
use carp_proto::wire::{carp, ipv4, ipv6, vrrp};
use carp_proto::{Family, Version, CARP_KEY_LEN, IPPROTO_CARP};
use clap::Parser;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(version, about = "Check every CARP/VRRPv3 packet of a pcap/pcapng capture as FreeBSD 15 would")]
struct Args {
    /// Capture file (pcap or pcapng; Ethernet, Linux cooked SLL/SLL2 or raw IP).
    file: std::path::PathBuf,
    /// The vhids' password (CARP).
    #[arg(long)]
    pass: Option<String>,
    /// An address of the vhid (repeat for each; IPv4 or IPv6). Needed to check the HMAC.
    #[arg(long = "addr")]
    addrs: Vec<IpAddr>,
    /// A vhid the receiver has (repeatable). Default: the most frequent vhid in the file.
    #[arg(long = "vhid")]
    vhids: Vec<u8>,
    /// Assume every vhid seen in the file is configured.
    #[arg(long)]
    all_vhids: bool,
    /// Protocol the vhids are configured for (default: what most of their packets speak).
    #[arg(long)]
    carpver: Option<u8>,
    /// Only frame, source and verdict (the fixtures' expected.tsv layout).
    #[arg(long)]
    brief: bool,
}

/// One proto-112 packet found in the capture.
struct Found<'a> {
    frame: &'a Frame,
    src: IpAddr,
    dst: IpAddr,
    family: Family,
    /// The whole IP packet.
    ip: &'a [u8],
    /// The proto-112 payload.
    payload: &'a [u8],
}

fn find_packets(frames: &[Frame]) -> Vec<Found<'_>> {
    let mut out = Vec::new();
    for f in frames {
        let Some((ty, ip)) = network_layer(f) else { continue };
        match ty {
            ETHERTYPE_IPV4 => {
                let Ok(p) = ipv4::Packet::new_checked(ip) else { continue };
                if p.protocol() != IPPROTO_CARP {
                    continue;
                }
                let payload = ip.get(p.header_len()..usize::from(p.total_len()).min(ip.len())).unwrap_or(&[]);
                out.push(Found {
                    frame: f,
                    src: IpAddr::V4(p.src_addr()),
                    dst: IpAddr::V4(p.dst_addr()),
                    family: Family::Inet,
                    ip,
                    payload,
                });
            }
            ETHERTYPE_IPV6 => {
                let Ok(p) = ipv6::Packet::new_checked(ip) else { continue };
                if p.next_header() != IPPROTO_CARP {
                    continue;
                }
                out.push(Found {
                    frame: f,
                    src: IpAddr::V6(p.src_addr()),
                    dst: IpAddr::V6(p.dst_addr()),
                    family: Family::Inet6,
                    ip,
                    payload: ip.get(ipv6::HEADER_LEN..ipv6::HEADER_LEN + usize::from(p.payload_len())).unwrap_or(&[]),
                });
            }
            _ => {}
        }
    }
    out
}

/// The receiver's configuration, as the receive pipeline asks about it.
struct Receiver {
    vhids: BTreeMap<u8, Version>,
    auth: BTreeMap<u8, Authenticator>,
    check_hmac: bool,
}

/// The vhid as seen for one packet (the TTL rule depends on the packet's destination).
struct PacketVhid<'a> {
    version: Version,
    multicast: bool,
    auth: Option<&'a Authenticator>,
}

impl VhidView for PacketVhid<'_> {
    fn version(&self) -> Version {
        self.version
    }
    fn advert_dest_is_multicast(&self, _family: Family) -> bool {
        self.multicast
    }
    fn verify(&self, counter: u64, md: &[u8; MD_LEN]) -> bool {
        // Without an address the HMAC cannot be checked: accept (the summary says so).
        self.auth.map_or(true, |a| a.verify(counter, md))
    }
}

struct PacketLookup {
    views: BTreeMap<u8, PacketVhid<'static>>,
    addrs: &'static [IpAddr],
}

impl VhidLookup for PacketLookup {
    // The associated type cannot name a borrow of the lookup: the receiver it borrows from
    // is leaked once in `main` (it lives for the whole run anyway).
    type Vhid = PacketVhid<'static>;
    fn find(&self, _family: Family, vhid: u8) -> Option<&PacketVhid<'static>> {
        self.views.get(&vhid)
    }
    fn source_is_self(&self, src: &IpAddr) -> bool {
        self.addrs.contains(src)
    }
}

impl Receiver {
    fn lookup(&'static self, p: &Found<'_>, addrs: &'static [IpAddr]) -> PacketLookup {
        let multicast = p.dst.is_multicast();
        let views = self
            .vhids
            .iter()
            .map(|(&v, &version)| {
                let auth = if self.check_hmac { self.auth.get(&v) } else { None };
                (v, PacketVhid { version, multicast, auth })
            })
            .collect();
        PacketLookup { views, addrs }
    }
}

fn version_nibble(payload: &[u8]) -> Option<u8> {
    payload.first().map(|b| b >> 4)
}

fn vhid_byte(payload: &[u8]) -> Option<u8> {
    payload.get(1).copied()
}

fn detail(p: &Found<'_>, out: &Outcome, t0: std::time::Duration) -> String {
    let mut s = String::new();
    let t = p.frame.ts.saturating_sub(t0);
    let at = format!("t+{}.{:06}s ", t.as_secs(), t.subsec_micros());
    let ttl = match p.family {
        Family::Inet => ipv4::Packet::new_unchecked(p.ip).ttl(),
        Family::Inet6 => ipv6::Packet::new_unchecked(p.ip).hop_limit(),
    };
    match version_nibble(p.payload) {
        Some(2) => {
            let c = carp::Packet::new_unchecked(p.payload);
            if c.check_len().is_ok() {
                s = format!(
                    "CARP vhid {} advbase {} advskew {} counter {} ttl {} -> {}",
                    c.vhid(),
                    c.advbase(),
                    c.advskew(),
                    c.counter(),
                    ttl,
                    p.dst
                );
            }
        }
        Some(3) => {
            let v = vrrp::Packet::new_unchecked(p.payload);
            if v.check_len().is_ok() {
                s = format!(
                    "VRRPv3 vrid {} priority {} interval {} cs addresses {} ttl {} -> {}",
                    v.vrid(),
                    v.priority(),
                    v.max_adver_int(),
                    v.count(),
                    ttl,
                    p.dst
                );
            }
        }
        _ => {}
    }
    if s.is_empty() {
        s = format!("{} bytes, ttl {} -> {}", p.payload.len(), ttl, p.dst);
    }
    s.insert_str(0, &at);
    if let Some(d) = &out.diag {
        s.push_str(&format!(" [{}]", d.display("capture")));
    }
    s
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("carpdump: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let frames = match capture::read_frames(&bytes) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("carpdump: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let found = find_packets(&frames);

    // Which vhids, and which version each: from the options or from the file.
    let mut seen: BTreeMap<u8, (usize, [usize; 2])> = BTreeMap::new();
    for p in &found {
        if let (Some(v), Some(ver)) = (vhid_byte(p.payload), version_nibble(p.payload)) {
            let e = seen.entry(v).or_insert((0, [0, 0]));
            e.0 += 1;
            match ver {
                2 => e.1[0] += 1,
                3 => e.1[1] += 1,
                _ => {}
            }
        }
    }
    let (vhid_list, inferred): (Vec<u8>, bool) = if !args.vhids.is_empty() {
        (args.vhids.clone(), false)
    } else if args.all_vhids {
        (seen.keys().copied().collect(), true)
    } else {
        let best = seen.iter().max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0))).map(|(v, _)| *v);
        (best.into_iter().collect(), true)
    };
    let mut key = [0u8; CARP_KEY_LEN];
    if let Some(p) = &args.pass {
        for (k, b) in key.iter_mut().zip(p.bytes().take(CARP_KEY_LEN - 1)) {
            *k = b;
        }
    }
    let v4: Vec<Ipv4Addr> = args.addrs.iter().filter_map(|a| if let IpAddr::V4(a) = a { Some(*a) } else { None }).collect();
    let v6: Vec<Ipv6Addr> = args.addrs.iter().filter_map(|a| if let IpAddr::V6(a) = a { Some(*a) } else { None }).collect();
    let mut receiver = Receiver { vhids: BTreeMap::new(), auth: BTreeMap::new(), check_hmac: !args.addrs.is_empty() };
    for &v in &vhid_list {
        let version = match args.carpver {
            Some(3) => Version::Vrrp3,
            Some(_) => Version::Carp,
            None => match seen.get(&v) {
                Some((_, [c, r])) if r > c => Version::Vrrp3,
                _ => Version::Carp,
            },
        };
        receiver.vhids.insert(v, version);
        receiver.auth.insert(v, Authenticator::new(&key, v, &v4, &v6));
    }
    let receiver: &'static Receiver = Box::leak(Box::new(receiver));
    let addrs: &'static [IpAddr] = Box::leak(args.addrs.clone().into_boxed_slice());

    let stdout = std::io::stdout();
    let mut o = std::io::BufWriter::new(stdout.lock());
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut failed = 0usize;
    let t0 = frames.first().map(|f| f.ts).unwrap_or_default();
    for p in &found {
        let lookup = receiver.lookup(p, addrs);
        let out = match p.family {
            Family::Inet => input::input_ipv4(true, Some(&lookup), p.ip),
            Family::Inet6 => input::input_ipv6(true, Some(&lookup), p.ip),
        };
        if out.verdict != Verdict::Valid {
            failed += 1;
        }
        *counts.entry(out.verdict.as_str()).or_default() += 1;
        let r = if args.brief {
            writeln!(o, "{}\t{}\t{}", p.frame.number, p.src, out.verdict)
        } else {
            writeln!(o, "{}\t{}\t{}\t{}", p.frame.number, p.src, out.verdict, detail(p, &out, t0))
        };
        if r.is_err() {
            return ExitCode::from(if failed > 0 { 1 } else { 0 });
        }
    }
    let breakdown: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let vhids: Vec<String> = vhid_list.iter().map(|v| v.to_string()).collect();
    let _ = writeln!(
        o,
        "# {} packets in {} frames: {}; vhid {}{}; {}",
        found.len(),
        frames.len(),
        if breakdown.is_empty() { "none".to_string() } else { breakdown.join(", ") },
        if vhids.is_empty() { "-".to_string() } else { vhids.join(",") },
        if inferred { " (inferred)" } else { "" },
        if receiver.check_hmac {
            format!("HMAC checked over {} address(es)", args.addrs.len())
        } else {
            "HMAC not checked (give --pass and --addr)".to_string()
        }
    );
    let _ = o.flush();
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

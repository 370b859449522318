//! `carpsend`: send hand-made CARP v2 advertisements (IPv4) with deliberate faults, to
//! check that receivers (ucarp, carpd) reject them. Every byte is built by carp-proto's
//! `wire` and signed by its `auth`; the faults are applied afterwards to the finished
//! frame, one field at a time, exactly where a broken peer would get it wrong.
//!
//! ```text
//! carpsend --iface eth0 --src 10.99.0.2 --vhid 42 --pass s3cretpw --addr 10.99.0.100 \
//!          [--advbase 1] [--advskew 0] [--ttl 1] [--bad-checksum] [--count 3] [--interval-ms 1000]
//! ```

use carp_proto::auth::Authenticator;
use carp_proto::wire::{carp, ethernet, ipv4};
use carp_proto::{virtual_mac, CARP_GROUP_V4, CARP_KEY_LEN};
use carpd::sys::PacketSocket;
use clap::Parser;
use std::net::Ipv4Addr;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(version, about = "Send crafted CARP advertisements (for interop tests)")]
struct Args {
    /// Interface to send on.
    #[arg(long)]
    iface: String,
    /// IPv4 source address.
    #[arg(long)]
    src: Ipv4Addr,
    /// Destination (224.0.0.18 or a unicast peer).
    #[arg(long, default_value_t = CARP_GROUP_V4)]
    dst: Ipv4Addr,
    /// Destination MAC for a unicast destination (default: the multicast mapping, or broadcast).
    #[arg(long)]
    dst_mac: Option<String>,
    #[arg(long)]
    vhid: u8,
    #[arg(long, default_value_t = 1)]
    advbase: u8,
    #[arg(long, default_value_t = 0)]
    advskew: u8,
    /// Password (at most 19 characters are used, as ifconfig does).
    #[arg(long, default_value = "")]
    pass: String,
    /// Addresses hashed into the HMAC (IPv4); give the wrong ones to fake a misconfigured peer.
    #[arg(long = "addr")]
    addrs: Vec<Ipv4Addr>,
    /// Sign as if the vhid were this one (default: --vhid).
    #[arg(long)]
    sign_vhid: Option<u8>,
    /// IP TTL (255 is correct; anything else must be rejected for multicast).
    #[arg(long, default_value_t = 255)]
    ttl: u8,
    /// Corrupt the CARP checksum.
    #[arg(long)]
    bad_checksum: bool,
    /// First counter value (default: from the clock).
    #[arg(long)]
    counter: Option<u64>,
    #[arg(long, default_value_t = 1)]
    count: u32,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// DSCP (FreeBSD default 56).
    #[arg(long, default_value_t = 56)]
    dscp: u8,
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut it = s.split(':');
    for b in mac.iter_mut() {
        *b = u8::from_str_radix(it.next()?, 16).ok()?;
    }
    it.next().is_none().then_some(mac)
}

fn main() {
    let a = Args::parse();
    let mut key = [0u8; CARP_KEY_LEN];
    for (k, b) in key.iter_mut().zip(a.pass.bytes().take(CARP_KEY_LEN - 1)) {
        *k = b;
    }
    let auth = Authenticator::new(&key, a.sign_vhid.unwrap_or(a.vhid), &a.addrs, &[]);
    let dst_mac = match &a.dst_mac {
        Some(m) => parse_mac(m).unwrap_or_else(|| {
            eprintln!("carpsend: bad --dst-mac {m}");
            std::process::exit(64)
        }),
        None if a.dst.is_multicast() => ethernet::ipv4_multicast_mac(a.dst),
        None => ethernet::BROADCAST,
    };
    let sock = PacketSocket::open(&a.iface).unwrap_or_else(|e| {
        eprintln!("carpsend: {}: {e}", a.iface);
        std::process::exit(1)
    });
    let mut counter = a.counter.unwrap_or_else(|| carpd::sys::now().as_micros());
    for i in 0..a.count {
        let repr = carp::Repr::new(a.vhid, a.advbase, a.advskew, counter, auth.sign(counter));
        let mut frame = [0u8; ethernet::HEADER_LEN + carp::IPV4_PACKET_LEN];
        let eth = ethernet::Repr {
            src_addr: virtual_mac(a.vhid),
            dst_addr: dst_mac,
            ethertype: ethernet::EtherType::Ipv4,
        };
        let rest = ethernet::emit_header(&mut frame, &eth).expect("frame buffer");
        carp::emit_ipv4(rest, a.src, a.dst, a.dscp, (counter & 0xffff) as u16, &repr)
            .expect("frame buffer");
        // Faults, applied to the finished packet.
        let ip = &mut frame[ethernet::HEADER_LEN..];
        if a.ttl != 255 {
            let mut p = ipv4::Packet::new_unchecked(&mut *ip);
            p.set_ttl(a.ttl);
            p.fill_checksum();
        }
        if a.bad_checksum {
            let mut p = carp::Packet::new_unchecked(&mut ip[ipv4::HEADER_LEN..]);
            let c = p.checksum();
            p.set_checksum(c ^ 0x5a5a);
        }
        if let Err(e) = sock.send(&frame) {
            eprintln!("carpsend: send: {e}");
            std::process::exit(1);
        }
        println!(
            "sent vhid {} advbase {} advskew {} counter {} ttl {}{} {} -> {}",
            a.vhid,
            a.advbase,
            a.advskew,
            counter,
            a.ttl,
            if a.bad_checksum { " bad-checksum" } else { "" },
            a.src,
            a.dst
        );
        counter = counter.wrapping_add(1);
        if i + 1 < a.count {
            std::thread::sleep(Duration::from_millis(a.interval_ms));
        }
    }
}

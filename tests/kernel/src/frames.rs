//! Frames on the simulated wires: decoded into named fields for the expectations of a test
//! (`expect frame lan type=carp vhid=1 eth.src=00:00:5e:00:01:01`), and built for the
//! frames a test sends (ARP requests and neighbour solicitations of a client, replayed
//! captures). Field extraction only: validating CARP itself is carpdump's job (run on the
//! captures at the end of a test) and the module's.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn be16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn v4(b: &[u8], o: usize) -> Option<String> {
    let s = b.get(o..o + 4)?;
    Some(Ipv4Addr::new(s[0], s[1], s[2], s[3]).to_string())
}

fn v6(b: &[u8], o: usize) -> Option<String> {
    let s: [u8; 16] = b.get(o..o + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s).to_string())
}

/// The fields of a frame. Always present: eth.dst, eth.src, eth.type, type.
pub fn fields(f: &[u8]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let _ = decode(f, &mut m);
    m
}

fn decode(f: &[u8], m: &mut BTreeMap<String, String>) -> Option<()> {
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("len", f.len().to_string());
    put("eth.dst", mac(f.get(0..6)?));
    put("eth.src", mac(f.get(6..12)?));
    let et = be16(f, 12)?;
    put("eth.type", format!("{et:#06x}"));
    put("type", "other".into());
    let p = f.get(14..)?;
    match et {
        0x0806 => {
            put("type", "arp".into());
            let op = be16(p, 6)?;
            put("arp.op", match op { 1 => "request".into(), 2 => "reply".into(), o => o.to_string() });
            put("arp.sha", mac(p.get(8..14)?));
            put("arp.spa", v4(p, 14)?);
            put("arp.tha", mac(p.get(18..24)?));
            put("arp.tpa", v4(p, 24)?);
        }
        0x0800 => {
            put("type", "ip".into());
            let hl = usize::from(p.first()? & 0x0f) * 4;
            put("ip.tos", format!("{:#04x}", p.get(1)?));
            put("ip.len", be16(p, 2)?.to_string());
            put("ip.id", be16(p, 4)?.to_string());
            put("ip.df", ((be16(p, 6)? & 0x4000) != 0).to_string());
            put("ip.ttl", p.get(8)?.to_string());
            let proto = *p.get(9)?;
            put("ip.proto", proto.to_string());
            put("ip.src", v4(p, 12)?);
            put("ip.dst", v4(p, 16)?);
            let l4 = p.get(hl..)?;
            match proto {
                112 => decode_vrrp_carp(l4, 4, m),
                1 => {
                    m.insert("type".into(), "icmp".into());
                    m.insert("icmp.type".into(), l4.first()?.to_string());
                    Some(())
                }
                2 => {
                    m.insert("type".into(), "igmp".into());
                    Some(())
                }
                _ => Some(()),
            }?;
        }
        0x86dd => {
            put("type", "ip6".into());
            let flow = u32::from_be_bytes(p.get(0..4)?.try_into().ok()?);
            put("ip6.tclass", format!("{:#04x}", (flow >> 20) & 0xff));
            put("ip6.hlim", p.get(7)?.to_string());
            put("ip6.src", v6(p, 8)?);
            put("ip6.dst", v6(p, 24)?);
            let mut nxt = *p.get(6)?;
            let mut off = 40;
            // hop-by-hop / destination options
            while nxt == 0 || nxt == 60 {
                let len = (usize::from(*p.get(off + 1)?) + 1) * 8;
                nxt = *p.get(off)?;
                off += len;
            }
            put("ip6.nxt", nxt.to_string());
            let l4 = p.get(off..)?;
            match nxt {
                112 => decode_vrrp_carp(l4, 6, m)?,
                58 => {
                    let t = *l4.first()?;
                    m.insert("icmp6.type".into(), t.to_string());
                    match t {
                        135 | 136 => {
                            m.insert("type".into(), if t == 135 { "ns" } else { "na" }.into());
                            m.insert("nd.target".into(), v6(l4, 8)?);
                            if t == 136 {
                                let fl = l4.get(4)?;
                                let mut s = String::new();
                                if fl & 0x80 != 0 {
                                    s.push('R');
                                }
                                if fl & 0x40 != 0 {
                                    s.push('S');
                                }
                                if fl & 0x20 != 0 {
                                    s.push('O');
                                }
                                m.insert("nd.flags".into(), s);
                            }
                            let mut o = 24;
                            while let (Some(&ot), Some(&ol)) = (l4.get(o), l4.get(o + 1)) {
                                if ol == 0 {
                                    break;
                                }
                                if ot == 1 {
                                    m.insert("nd.slla".into(), mac(l4.get(o + 2..o + 8)?));
                                } else if ot == 2 {
                                    m.insert("nd.tlla".into(), mac(l4.get(o + 2..o + 8)?));
                                }
                                o += usize::from(ol) * 8;
                            }
                        }
                        128 | 129 => {
                            m.insert("type".into(), "icmp6".into());
                        }
                        _ => {
                            m.insert("type".into(), "icmp6".into());
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    Some(())
}

fn decode_vrrp_carp(l4: &[u8], af: u8, m: &mut BTreeMap<String, String>) -> Option<()> {
    let vt = *l4.first()?;
    let version = vt >> 4;
    if version == 2 {
        m.insert("type".into(), "carp".into());
        m.insert("carp.version".into(), "2".into());
        m.insert("vhid".into(), l4.get(1)?.to_string());
        m.insert("carp.advskew".into(), l4.get(2)?.to_string());
        m.insert("carp.authlen".into(), l4.get(3)?.to_string());
        m.insert("carp.advbase".into(), l4.get(5)?.to_string());
        let c = u64::from_be_bytes(l4.get(8..16)?.try_into().ok()?);
        m.insert("carp.counter".into(), c.to_string());
    } else if version == 3 {
        m.insert("type".into(), "vrrp".into());
        m.insert("vhid".into(), l4.get(1)?.to_string());
        m.insert("vrrp.prio".into(), l4.get(2)?.to_string());
        let n = *l4.get(3)?;
        m.insert("vrrp.count".into(), n.to_string());
        m.insert("vrrp.interval".into(), (be16(l4, 4)? & 0x0fff).to_string());
        let mut addrs = Vec::new();
        for i in 0..usize::from(n) {
            if af == 4 {
                addrs.push(v4(l4, 8 + 4 * i)?);
            } else {
                addrs.push(v6(l4, 8 + 16 * i)?);
            }
        }
        m.insert("vrrp.addrs".into(), addrs.join(","));
    } else {
        m.insert("type".into(), "proto112".into());
    }
    m.insert("af".into(), af.to_string());
    Some(())
}

/// One line describing a frame (Ethernet, ARP, IPv4/IPv6, CARP/VRRP).
pub fn describe(f: &[u8]) -> String {
    let m = fields(f);
    let g = |k: &str| m.get(k).cloned().unwrap_or_default();
    let eth = format!("{} > {}", g("eth.src"), g("eth.dst"));
    match g("type").as_str() {
        "arp" => format!("{eth} ARP {} {} ({}) tell {} ({})", g("arp.op"), g("arp.tpa"), g("arp.tha"), g("arp.spa"), g("arp.sha")),
        "carp" => {
            let (s, d, ttl) = if g("af") == "6" { (g("ip6.src"), g("ip6.dst"), g("ip6.hlim")) } else { (g("ip.src"), g("ip.dst"), g("ip.ttl")) };
            format!(
                "{eth} CARP {s} > {d} ttl {ttl} vhid {} advbase {} advskew {} counter {}",
                g("vhid"),
                g("carp.advbase"),
                g("carp.advskew"),
                g("carp.counter")
            )
        }
        "vrrp" => {
            let (s, d) = if g("af") == "6" { (g("ip6.src"), g("ip6.dst")) } else { (g("ip.src"), g("ip.dst")) };
            format!("{eth} VRRPv3 {s} > {d} vrid {} prio {} intvl {}cs addrs {}", g("vhid"), g("vrrp.prio"), g("vrrp.interval"), g("vrrp.addrs"))
        }
        "ns" | "na" => format!(
            "{eth} {} {} > {} target {} flags {} tlla {}",
            g("type").to_uppercase(),
            g("ip6.src"),
            g("ip6.dst"),
            g("nd.target"),
            g("nd.flags"),
            g("nd.tlla")
        ),
        "icmp" => format!("{eth} ICMP {} > {} type {}", g("ip.src"), g("ip.dst"), g("icmp.type")),
        t => format!("{eth} {t} ({} bytes)", f.len()),
    }
}

/// Whether a frame has every field of the filter (key=value; a value may be `a|b`).
pub fn matches(f: &[u8], filter: &[(String, String)]) -> bool {
    let m = fields(f);
    filter.iter().all(|(k, v)| m.get(k).is_some_and(|have| v.split('|').any(|alt| alt == have)))
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        out[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

fn csum(data: &[u8], init: u32) -> u16 {
    let mut sum = init;
    let mut i = 0;
    while i + 1 < data.len() {
        sum += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
        i += 2;
    }
    if data.len() % 2 == 1 {
        sum += u32::from(data[data.len() - 1]) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ARP request from a client: who-has tpa tell spa.
pub fn arp_request(src: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa.octets());
    f.resize(60, 0);
    f
}

/// A neighbour solicitation from a client for target, to its solicited-node group.
pub fn ns(src: [u8; 6], sip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let mut dst = [0u8; 16];
    dst[0] = 0xff;
    dst[1] = 0x02;
    dst[11] = 1;
    dst[12] = 0xff;
    dst[13] = t[13];
    dst[14] = t[14];
    dst[15] = t[15];
    let mut icmp = vec![135u8, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&t);
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&src);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&sip.octets());
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&icmp);
    let c = csum(&pseudo, 0);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&[0x33, 0x33, dst[12], dst[13], dst[14], dst[15]]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&sip.octets());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&icmp);
    f
}

/// An ICMP echo request from a client (Ethernet destination given: the MAC the client
/// resolved for dst).
pub fn ping(src: [u8; 6], dmac: [u8; 6], sip: Ipv4Addr, dip: Ipv4Addr, id: u16, seq: u16) -> Vec<u8> {
    let mut icmp = vec![8u8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"kharness-ping-payload");
    let c = csum(&icmp, 0);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45u8, 0];
    ip.extend_from_slice(&((20 + icmp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&sip.octets());
    ip.extend_from_slice(&dip.octets());
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// Frames of a pcap or pcapng file (for replaying real captures).
pub fn read_capture(path: &str) -> Result<Vec<Vec<u8>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    if data.len() >= 4 && data[0..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = pcap_file::pcapng::PcapNgReader::new(&data[..]).map_err(|e| format!("{path}: {e}"))?;
        while let Some(b) = r.next_block() {
            let b = b.map_err(|e| format!("{path}: {e}"))?;
            match b {
                pcap_file::pcapng::Block::EnhancedPacket(p) => out.push(p.data.to_vec()),
                pcap_file::pcapng::Block::SimplePacket(p) => out.push(p.data.to_vec()),
                _ => {}
            }
        }
    } else {
        let mut r = pcap_file::pcap::PcapReader::new(&data[..]).map_err(|e| format!("{path}: {e}"))?;
        while let Some(p) = r.next_packet() {
            out.push(p.map_err(|e| format!("{path}: {e}"))?.data.to_vec());
        }
    }
    Ok(out)
}

/// Writes the frames of one wire as pcapng (for carpdump and tshark).
pub fn write_pcapng(path: &std::path::Path, frames: &[(u64, Vec<u8>)]) -> Result<(), String> {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::DataLink;
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = PcapNgWriter::new(f).map_err(|e| format!("{e}"))?;
    let idb = InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 65535, options: vec![] };
    w.write_pcapng_block(idb).map_err(|e| format!("{e}"))?;
    for (t, d) in frames {
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: std::time::Duration::from_nanos(*t),
            original_len: d.len() as u32,
            data: std::borrow::Cow::Borrowed(&d[..]),
            options: vec![],
        };
        w.write_pcapng_block(epb).map_err(|e| format!("{e}"))?;
    }
    Ok(())
}

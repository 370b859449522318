//! Reading captures: pcap and pcapng (through the pcap-file crate), every frame numbered
//! the way Wireshark numbers them (1-based, every packet record counts), and the link-layer
//! header (Ethernet, Linux cooked SLL/SLL2, raw IP) peeled off down to the network layer.

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use std::io::Read;
use std::time::Duration;

/// One captured frame.
pub struct Frame {
    /// Wireshark's frame number (1-based).
    pub number: u64,
    /// Capture timestamp (since the epoch, as recorded).
    pub ts: Duration,
    pub linktype: DataLink,
    pub data: Vec<u8>,
}

/// Read every frame of a pcap or pcapng file (detected by its magic number).
pub fn read_frames(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let magic = bytes.get(..4).ok_or("file too short for a capture")?;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        read_pcapng(bytes)
    } else {
        read_pcap(bytes)
    }
}

fn read_pcap(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let mut r = PcapReader::new(bytes).map_err(|e| format!("not a pcap or pcapng file: {e}"))?;
    let linktype = r.header().datalink;
    let mut out = Vec::new();
    let mut n = 0u64;
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| format!("pcap record {}: {e}", n + 1))?;
        n += 1;
        out.push(Frame { number: n, ts: p.timestamp, linktype, data: p.data.into_owned() });
    }
    Ok(out)
}

fn read_pcapng<R: Read>(src: R) -> Result<Vec<Frame>, String> {
    let mut r = PcapNgReader::new(src).map_err(|e| format!("pcapng: {e}"))?;
    let mut ifaces: Vec<DataLink> = r.interfaces().iter().map(|i| i.linktype).collect();
    let mut out = Vec::new();
    let mut n = 0u64;
    while let Some(b) = r.next_block() {
        let b = b.map_err(|e| format!("pcapng block after frame {n}: {e}"))?;
        let (iface, ts, data) = match b {
            Block::SectionHeader(_) => {
                ifaces.clear();
                continue;
            }
            Block::InterfaceDescription(i) => {
                ifaces.push(i.linktype);
                continue;
            }
            Block::EnhancedPacket(p) => (p.interface_id as usize, p.timestamp, p.data.into_owned()),
            Block::SimplePacket(p) => (0, Duration::ZERO, p.data.into_owned()),
            Block::Packet(p) => (usize::from(p.interface_id), Duration::from_nanos(p.timestamp), p.data.into_owned()),
            _ => continue,
        };
        n += 1;
        let linktype = *ifaces.get(iface).ok_or_else(|| format!("frame {n}: unknown interface {iface}"))?;
        out.push(Frame { number: n, ts, linktype, data });
    }
    Ok(out)
}

/// EtherTypes the tool looks at.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// The network-layer protocol and payload of a frame, or None for link types and protocols
/// that cannot carry CARP. Ethernet goes through carp-proto's Ethernet view; the capture
/// pseudo-headers (Linux cooked capture v1/v2) are capture formats, not wire formats, and
/// are skipped here by their fixed layouts.
pub fn network_layer(f: &Frame) -> Option<(u16, &[u8])> {
    use carp_proto::wire::ethernet;
    let d = f.data.as_slice();
    match f.linktype {
        DataLink::ETHERNET => {
            let eth = ethernet::Frame::new_checked(d).ok()?;
            let mut ty = u16::from(eth.ethertype());
            let mut payload = d.get(ethernet::HEADER_LEN..)?;
            // One 802.1Q tag (a capture on a trunk port).
            if ty == ETHERTYPE_VLAN {
                let inner = payload.get(2..4)?;
                ty = u16::from_be_bytes([inner[0], inner[1]]);
                payload = payload.get(4..)?;
            }
            Some((ty, payload))
        }
        DataLink::LINUX_SLL => {
            // 16 bytes: packet type, ARPHRD, address length, 8 address bytes, protocol.
            let p = d.get(14..16)?;
            Some((u16::from_be_bytes([p[0], p[1]]), d.get(16..)?))
        }
        DataLink::LINUX_SLL2 => {
            // 20 bytes: protocol first.
            let p = d.get(0..2)?;
            Some((u16::from_be_bytes([p[0], p[1]]), d.get(20..)?))
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => {
            let v = d.first()? >> 4;
            match v {
                4 => Some((ETHERTYPE_IPV4, d)),
                6 => Some((ETHERTYPE_IPV6, d)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(linktype: DataLink, data: Vec<u8>) -> Frame {
        Frame { number: 1, ts: Duration::ZERO, linktype, data }
    }

    // An IPv4 header's first bytes are enough for the demultiplexer.
    const IP: [u8; 4] = [0x45, 0x10, 0x00, 0x38];

    #[test]
    fn ethernet_vlan_sll_sll2_raw() {
        let mut eth = vec![0x01, 0x00, 0x5e, 0, 0, 0x12, 0, 0, 0x5e, 0, 1, 1, 0x08, 0x00];
        eth.extend_from_slice(&IP);
        assert_eq!(network_layer(&frame(DataLink::ETHERNET, eth)), Some((ETHERTYPE_IPV4, &IP[..])));

        let mut vlan = vec![0x01, 0x00, 0x5e, 0, 0, 0x12, 0, 0, 0x5e, 0, 1, 1, 0x81, 0x00, 0x00, 0x07, 0x86, 0xdd];
        vlan.extend_from_slice(&IP);
        assert_eq!(network_layer(&frame(DataLink::ETHERNET, vlan)), Some((ETHERTYPE_IPV6, &IP[..])));

        // SLL: packet type, ARPHRD_ETHER, address length 6, 8 address bytes, protocol.
        let mut sll = vec![0, 0, 0, 1, 0, 6, 0, 0, 0x5e, 0, 1, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&IP);
        assert_eq!(network_layer(&frame(DataLink::LINUX_SLL, sll)), Some((ETHERTYPE_IPV4, &IP[..])));

        // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 bytes.
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0, 0x5e, 0, 1, 1, 0, 0];
        sll2.extend_from_slice(&IP);
        assert_eq!(network_layer(&frame(DataLink::LINUX_SLL2, sll2)), Some((ETHERTYPE_IPV4, &IP[..])));

        assert_eq!(network_layer(&frame(DataLink::RAW, IP.to_vec())), Some((ETHERTYPE_IPV4, &IP[..])));
        assert_eq!(network_layer(&frame(DataLink::RAW, vec![0x20])), None);
        assert_eq!(network_layer(&frame(DataLink::LINUX_SLL, vec![0; 10])), None);
        assert_eq!(network_layer(&frame(DataLink::ETHERNET, vec![0; 5])), None);
    }

    #[test]
    fn not_a_capture() {
        assert!(read_frames(b"").is_err());
        assert!(read_frames(b"hello world, not a capture").is_err());
    }
}

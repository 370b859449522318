//! The real capture in shared/fixtures: every CARP packet that ucarp 1.5.2 and an independent
//! peer sent must get, from our receive path, exactly the verdict listed in
//! `ucarp-vhid42.expected.tsv` (a FreeBSD-compatible receiver configured with vhid 42,
//! password `s3cretpw`, the single address 10.99.0.100, multicast destination).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use carp_proto::auth::Authenticator;
use carp_proto::input::{self, AdvertBody, Verdict, VhidLookup, VhidView};
use carp_proto::wire::ethernet::{self, EtherType};
use carp_proto::wire::{ipv4, ipv6};
use carp_proto::{CarpStats, Family, Stat, Version};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

const CAPTURE: &str = "ucarp-vhid42.pcapng";
const EXPECTED: &str = "ucarp-vhid42.expected.tsv";

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn fixture(name: &str) -> PathBuf {
    let p = fixtures_dir().join(name);
    assert!(
        p.is_file(),
        "fixture {} not found (expected the repository's tests/fixtures at {})",
        name,
        fixtures_dir().display()
    );
    p
}

/// The receiver: one CARP vhid, 42, with key "s3cretpw" and the address 10.99.0.100,
/// advertising to 224.0.0.18.
struct Receiver {
    vhid: u8,
    addr: Ipv4Addr,
    auth: Authenticator,
}

impl Receiver {
    fn new() -> Receiver {
        let mut key = [0u8; 20];
        key[..8].copy_from_slice(b"s3cretpw");
        let addr = Ipv4Addr::new(10, 99, 0, 100);
        Receiver {
            vhid: 42,
            addr,
            auth: Authenticator::new(&key, 42, &[addr], &[]),
        }
    }
}

impl VhidView for Receiver {
    fn version(&self) -> Version {
        Version::Carp
    }
    fn advert_dest_is_multicast(&self, _family: Family) -> bool {
        true
    }
    fn verify(&self, counter: u64, md: &[u8; 20]) -> bool {
        self.auth.verify(counter, md)
    }
}

impl VhidLookup for Receiver {
    type Vhid = Receiver;
    fn find(&self, family: Family, vhid: u8) -> Option<&Receiver> {
        (family == Family::Inet && vhid == self.vhid).then_some(self)
    }
    fn source_is_self(&self, src: &IpAddr) -> bool {
        *src == IpAddr::V4(self.addr)
    }
}

/// frame number -> (source, expected verdict)
fn expected() -> BTreeMap<u64, (String, String)> {
    let text = std::fs::read_to_string(fixture(EXPECTED)).expect("read expected.tsv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().map(str::trim),
        Some("frame\tsource\texpected"),
        "unexpected TSV header"
    );
    let mut out = BTreeMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "bad TSV line {line:?}");
        let frame: u64 = cols[0].parse().expect("frame number");
        let prev = out.insert(frame, (cols[1].to_string(), cols[2].to_string()));
        assert!(prev.is_none(), "frame {frame} listed twice");
    }
    out
}

/// One CARP (IP protocol 112) packet found in the capture.
struct Found {
    frame: u64,
    src: IpAddr,
    ip_packet: Vec<u8>,
}

/// Every IPv4/IPv6 protocol-112 packet of the capture, with its frame number (counting
/// every packet block from 1, as tshark and the TSV do).
fn carp_packets() -> Vec<Found> {
    let file = std::fs::File::open(fixture(CAPTURE)).expect("open capture");
    let mut reader = PcapNgReader::new(file).expect("pcapng header");
    let mut frame = 0u64;
    let mut found = Vec::new();
    let mut linktypes: Vec<DataLink> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = block.expect("pcapng block");
        let (data, linktype) = match block {
            Block::SectionHeader(_) => {
                linktypes.clear();
                continue;
            }
            Block::InterfaceDescription(idb) => {
                linktypes.push(idb.linktype);
                continue;
            }
            Block::EnhancedPacket(epb) => {
                let linktype = *linktypes
                    .get(epb.interface_id as usize)
                    .expect("interface of packet");
                (epb.data.into_owned(), linktype)
            }
            Block::SimplePacket(spb) => {
                let linktype = *linktypes.first().expect("interface");
                (spb.data.into_owned(), linktype)
            }
            _ => continue,
        };
        frame += 1;
        assert_eq!(
            linktype,
            DataLink::ETHERNET,
            "frame {frame}: only Ethernet captures are handled"
        );
        let eth = ethernet::Frame::new_checked(&data[..]).expect("ethernet frame");
        let ip = eth.payload();
        match eth.ethertype() {
            EtherType::Ipv4 => {
                let p = ipv4::Packet::new_checked(ip).expect("ipv4 packet");
                if p.protocol() == 112 {
                    found.push(Found {
                        frame,
                        src: IpAddr::V4(p.src_addr()),
                        ip_packet: ip.to_vec(),
                    });
                }
            }
            EtherType::Ipv6 => {
                // Next header right after the fixed header (CARP carries no extension headers).
                let p = ipv6::Packet::new_checked(ip).expect("ipv6 packet");
                if p.next_header() == 112 {
                    found.push(Found {
                        frame,
                        src: IpAddr::V6(p.src_addr()),
                        ip_packet: ip.to_vec(),
                    });
                }
            }
            _ => {}
        }
    }
    found
}

#[test]
fn every_capture_packet_gets_the_expected_verdict() {
    let expected = expected();
    let packets = carp_packets();
    let receiver = Receiver::new();
    let mut stats = CarpStats::default();
    let mut totals: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let mut seen = Vec::new();

    for p in &packets {
        let outcome = match p.src {
            IpAddr::V4(_) => input::input_ipv4(true, Some(&receiver), &p.ip_packet),
            IpAddr::V6(_) => input::input_ipv6(true, Some(&receiver), &p.ip_packet),
        };
        outcome.count(&mut stats);
        let got = outcome.verdict.as_str();
        *totals.entry(got).or_default() += 1;
        seen.push(p.frame);
        match expected.get(&p.frame) {
            None => mismatches.push(format!(
                "frame {}: {} not in expected.tsv (verdict {got})",
                p.frame, p.src
            )),
            Some((src, want)) => {
                if *src != p.src.to_string() {
                    mismatches.push(format!(
                        "frame {}: source {} but TSV says {src}",
                        p.frame, p.src
                    ));
                }
                if got != want {
                    mismatches.push(format!(
                        "frame {} from {}: got {got}, expected {want}",
                        p.frame, p.src
                    ));
                }
            }
        }
        if outcome.verdict == Verdict::Valid {
            let advert = outcome.advert.expect("valid outcome carries the advert");
            let AdvertBody::Carp(c) = advert.body else {
                panic!("frame {}: not CARP", p.frame)
            };
            assert_eq!(c.vhid, 42);
            assert_eq!(c.advbase, 1);
            // ucarp (10.99.0.1) runs with advskew 100; the peer (10.99.0.2) mostly with 10, and
            // with 100 in three adverts.
            assert!(
                c.advskew == 100 || c.advskew == 10,
                "frame {}: advskew {}",
                p.frame,
                c.advskew
            );
            if p.src == IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)) {
                assert_eq!(c.advskew, 100, "frame {}", p.frame);
            }
        }
    }
    for frame in expected.keys() {
        if !seen.contains(frame) {
            mismatches.push(format!(
                "frame {frame} listed in expected.tsv but not a CARP packet in the capture"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    assert_eq!(packets.len(), 139);
    let want: BTreeMap<&str, usize> = [
        ("valid", 119),
        ("bad_auth", 8),
        ("bad_ttl", 4),
        ("bad_checksum", 4),
        ("unknown_vhid", 4),
    ]
    .into();
    assert_eq!(totals, want);

    // The statistics FreeBSD would show in `netstat -s -p carp`.
    assert_eq!(stats.get(Stat::IPackets), 139);
    assert_eq!(stats.get(Stat::BadAuth), 8);
    assert_eq!(stats.get(Stat::BadTtl), 4);
    assert_eq!(stats.get(Stat::BadSum), 4);
    assert_eq!(stats.get(Stat::BadVhid), 4);
    assert_eq!(stats.0.iter().sum::<u64>(), 139 + 8 + 4 + 4 + 4);
}

/// The same capture with `net.inet.carp.allow=0`: every packet is counted and dropped.
#[test]
fn capture_with_allow_off_is_all_dropped() {
    let receiver = Receiver::new();
    for p in carp_packets() {
        let o = input::input_ipv4(false, Some(&receiver), &p.ip_packet);
        assert_eq!(o.verdict, Verdict::DroppedDisabled, "frame {}", p.frame);
        assert_eq!(o.stats().collect::<Vec<_>>(), [Stat::IPackets]);
    }
}

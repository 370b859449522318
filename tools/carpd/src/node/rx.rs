//! Received frames: CARP/VRRP advertisements go through carp-proto's receive pipeline
//! (`input`, with the vhid `Table` as its lookup) and, when accepted, to the table; ARP
//! requests and neighbor solicitations for our addresses are answered with the virtual
//! MAC when the core says so (`arpbalance::decide`, `Table::iamatch6`).

use super::{tx, Node};
use crate::sys::PktType;
use carp_proto::arpbalance::{self, ArpVhid};
use carp_proto::input::{self, Verdict};
use carp_proto::table::Iamatch6;
use carp_proto::wire::{arp, ethernet, ipv4, ipv6, ndp};
use carp_proto::{CarpState, Instant, IPPROTO_CARP};

impl Node {
    /// One frame from the parent.
    pub fn receive(&mut self, frame: &[u8], _kind: PktType, now: Instant) {
        let Ok(f) = ethernet::Frame::new_checked(frame) else { return };
        match f.ethertype() {
            ethernet::EtherType::Ipv4 => {
                let p = ipv4::Packet::new_unchecked(f.payload());
                if p.check_len().is_ok() && p.protocol() == IPPROTO_CARP {
                    let out = input::input_ipv4(self.sys.allow, Some(&self.table), f.payload());
                    self.accept(out, now);
                }
            }
            ethernet::EtherType::Ipv6 => {
                let p = ipv6::Packet::new_unchecked(f.payload());
                if p.check_len().is_err() {
                    return;
                }
                if p.next_header() == IPPROTO_CARP {
                    let out = input::input_ipv6(self.sys.allow, Some(&self.table), f.payload());
                    self.accept(out, now);
                } else if p.next_header() == carp_proto::wire::IPPROTO_ICMPV6 {
                    self.neighbor_solicit(&f, f.payload());
                }
            }
            ethernet::EtherType::Arp => self.arp_request(frame),
            _ => {}
        }
    }

    fn accept(&mut self, out: input::Outcome, now: Instant) {
        if out.verdict == Verdict::NotDelivered {
            return;
        }
        out.count(&mut self.stats);
        if let Some(d) = out.diag {
            if self.verbose {
                eprintln!("{}", d.display(&self.iface));
            }
        }
        if let Some(adv) = out.advert {
            if self.table.handle_advert(now, &adv, &self.sys) {
                self.drain(adv.vhid(), now);
            }
        }
    }

    /// An ARP request for one of our addresses: the core picks the answering vhid (the
    /// first MASTER one owning the target, or the arpbalance hash); we reply with its
    /// virtual MAC.
    fn arp_request(&mut self, frame: &[u8]) {
        let Ok((_, req)) = arp::parse_frame(frame) else { return };
        if req.operation != arp::Operation::Request {
            return;
        }
        let target = req.target_protocol_addr;
        let entries: Vec<ArpVhid> = self
            .table
            .iter()
            .map(|v| ArpVhid::with_addrs(v.vhid(), v.state() != CarpState::Init, v.is_master(), v.addresses_v4(), target))
            .collect();
        if !entries.iter().any(|e| e.owns_target) {
            return;
        }
        let Some(vhid) = arpbalance::decide(self.sys.arpbalance, req.source_protocol_addr, &entries) else { return };
        let mac = arpbalance::answer_mac(vhid);
        let Some(reply) = req.reply_to(mac) else { return };
        let mut buf = [0u8; 64];
        if let Ok(n) = arp::emit_frame(&mut buf, mac, req.source_hardware_addr, &reply) {
            let n = tx::pad(&mut buf, n);
            if let Err(e) = self.sock.send(&buf[..n]) {
                eprintln!("carpd: arp reply: {e}");
            }
        }
    }

    /// A neighbor solicitation for one of our IPv6 addresses: answered by a MASTER vhid
    /// (`Table::iamatch6`) with its virtual MAC.
    fn neighbor_solicit(&mut self, f: &ethernet::Frame<&[u8]>, packet: &[u8]) {
        let Ok((ip, nd)) = ndp::parse_ipv6(packet) else { return };
        let ndp::Repr::NeighborSolicit { target_addr, source_lladdr } = nd else { return };
        let Iamatch6::Master { mac, .. } = self.table.iamatch6(&target_addr) else { return };
        let (dst, na) = ndp::answer_ns(ip.src_addr, target_addr, mac, false);
        let eth_dst = if dst.is_multicast() {
            ethernet::ipv6_multicast_mac(dst)
        } else {
            source_lladdr.unwrap_or(f.src_addr())
        };
        let mut buf = [0u8; 128];
        let repr = ethernet::Repr { src_addr: mac, dst_addr: eth_dst, ethertype: ethernet::EtherType::Ipv6 };
        let Ok(rest) = ethernet::emit_header(&mut buf, &repr) else { return };
        if let Ok(n) = ndp::emit_ipv6(rest, target_addr, dst, &na) {
            if let Err(e) = self.sock.send(&buf[..ethernet::HEADER_LEN + n]) {
                eprintln!("carpd: neighbor advertisement: {e}");
            }
        }
    }

    /// SIGUSR1: print every vhid's status and the statistics on stderr.
    pub fn print_status(&self) {
        for v in self.table.iter() {
            eprintln!(
                "carpd: vhid {} {} advbase {} advskew {} (effective {}) demotion {}",
                v.vhid(),
                v.state().as_str(),
                v.advbase(),
                v.advskew(),
                v.effective_advskew(),
                self.demotion.value()
            );
        }
        eprintln!("carpd: stats {:?}", self.stats.0);
    }
}

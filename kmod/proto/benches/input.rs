//! The protocol core's whole input path for one advertisement, the reference for the
//! kernel path measured on the real carp.ko (`make bench-kpath`)
//! (`cargo bench -p carp-proto --bench input`):
//! `input::input_ipv4_at` (decode, checks, vhid lookup, HMAC verify) on the IPv4 packet of
//! a real ucarp advertisement (tests/fixtures, frame 4: vhid 42, advskew 100), then
//! `Table::handle_advert` (the state machine), on a MASTER (the slower peer is compared
//! and ignored) and on a BACKUP (its master-down timer restarts).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use carp_proto::demotion::Demotion;
use carp_proto::input;
use carp_proto::table::Table;
use carp_proto::vhid::IfName;
use carp_proto::{CarpState, Instant, SetRequest, Sysctls, Version};
use criterion::Criterion;

/// The IP packet of the fixture's frame 4 (pcapng: the 4th Enhanced Packet Block).
fn advert() -> Vec<u8> {
    let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ucarp-vhid42.pcapng")).unwrap();
    let (mut off, mut n) = (0usize, 0);
    while off + 12 <= data.len() {
        let t = u32::from_le_bytes(data[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(data[off + 4..off + 8].try_into().unwrap()) as usize;
        if t == 6 {
            n += 1;
            if n == 4 {
                let cap = u32::from_le_bytes(data[off + 20..off + 24].try_into().unwrap()) as usize;
                return data[off + 28 + 14..off + 28 + cap].to_vec();
            }
        }
        off += len;
    }
    panic!("frame 4 not found");
}

fn table(state: CarpState, advskew: u8) -> Table {
    let sys = Sysctls::default();
    let now = Instant::from_micros(0);
    let mut key = [0u8; 20];
    key[..8].copy_from_slice(b"s3cretpw");
    let req = SetRequest {
        vhid: 42,
        state: None,
        advbase: None,
        advskew: Some(advskew),
        key: Some(key),
        peer4: None,
        peer6: None,
        version: Version::Carp,
        vrrp_priority: None,
        vrrp_interval_cs: None,
    };
    let mut t = Table::new(IfName::new("em0"), Demotion::new());
    t.set(now, &req, 42, &sys).unwrap();
    t.attach(now, 42, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 100)), &sys).unwrap();
    t.get_mut(42).unwrap().force_state(now, state, &sys);
    t
}

fn benches(c: &mut Criterion) {
    let pkt = advert();
    let sys = Sysctls::default();
    for (name, state, skew) in [("input/advert_master", CarpState::Master, 0u8), ("input/advert_backup", CarpState::Backup, 200)] {
        let mut t = table(state, skew);
        let mut now = 1_000u64;
        c.bench_function(name, |b| {
            b.iter(|| {
                now += 1;
                let out = input::input_ipv4_at(true, Some(&t), black_box(&pkt), 20);
                let adv = out.advert.expect("a valid advert");
                black_box(t.handle_advert(Instant::from_micros(now), &adv, &sys));
                while t.get_mut(42).unwrap().poll_event().is_some() {}
            })
        });
        assert_eq!(t.get(42).unwrap().state(), state);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

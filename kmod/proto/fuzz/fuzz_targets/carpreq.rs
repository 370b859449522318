//! SIOCSVH / SIOCGVH `struct carpreq` (engineer E's `config::carpreq`): decoding any bytes,
//! exact re-encoding, SET validation and GET replies never panic.
#![no_main]

use core::net::{Ipv4Addr, Ipv6Addr};

use carp_proto::config::carpreq::{self, CARPREQ_LEN};
use carp_proto::types::{CarpState, Version, VhidStatus};
use libfuzzer_sys::fuzz_target;

fn status(vhid: u8, req: &carpreq::CarpReq) -> VhidStatus {
    VhidStatus {
        vhid,
        state: CarpState::from_u32(req.state as u32 % 3).unwrap_or(CarpState::Init),
        advbase: req.advbase as u8,
        advskew: req.advskew as u8,
        key: req.key,
        peer4: Ipv4Addr::new(224, 0, 0, 18),
        peer6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
        version: if req.count & 1 == 0 {
            Version::Carp
        } else {
            Version::Vrrp3
        },
        vrrp_priority: req.advskew as u8,
        vrrp_interval_cs: req.advbase as u16,
    }
}

fuzz_target!(|data: &[u8]| {
    let req = match carpreq::decode(data) {
        Ok(r) => r,
        Err(_) => {
            assert!(data.len() < CARPREQ_LEN);
            return;
        }
    };
    // Raw fields, exactly as written.
    assert_eq!(req.encode()[..], data[..CARPREQ_LEN]);
    let mut out = [0u8; CARPREQ_LEN];
    req.emit(&mut out).unwrap();
    assert_eq!(out, req.encode());

    let _ = req.set_request();
    let _ = req.get_query();
    let statuses = [
        status(1, &req),
        status((req.vhid as u8).max(2), &req),
        status(255, &req),
    ];
    let mut buf = vec![0u8; 255 * CARPREQ_LEN];
    for privileged in [false, true] {
        let _ = carpreq::ioctl_set(&req, privileged);
        for all in [None, Some(&statuses[..]), Some(&[][..])] {
            if let Ok(n) = carpreq::ioctl_get(&req, all, privileged, &mut buf) {
                assert!(n <= buf.len() && n % CARPREQ_LEN == 0);
                for rec in buf[..n].chunks_exact(CARPREQ_LEN) {
                    carpreq::decode(rec).unwrap();
                }
            }
            // A too-short output buffer is an error, not a panic.
            let _ = carpreq::ioctl_get(&req, all, privileged, &mut buf[..CARPREQ_LEN - 1]);
        }
    }
});

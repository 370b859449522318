//! Property tests for the configuration codecs: no input makes them panic, SET
//! validation agrees with a model written from `carp_nl_set`'s checks, GET replies read
//! back as what was encoded, and `struct carpreq` round-trips.

use carp_proto::arpbalance::{decide, ArpVhid, ArpVhidSet};
use carp_proto::config::carpreq::{self, CarpReq, CARPREQ_LEN};
use carp_proto::config::netlink;
use carp_proto::{CarpState, Errno, Version, VhidStatus};
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

fn nla(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + data.len()) as u16).to_le_bytes());
    a.extend_from_slice(&ty.to_le_bytes());
    a.extend_from_slice(data);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

fn wrap(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + 4 + body.len()) as u32).to_le_bytes());
    m.extend_from_slice(&[0x17, 0, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
    m.extend_from_slice(body);
    m
}

/// `carp_nl_set`'s value checks, restated: which errno (if any) a SET with these
/// attribute values gets.
fn model(
    vhid: u32,
    state: u32,
    advbase: i32,
    advskew: i32,
    version: u8,
    inter: u16,
) -> Option<Errno> {
    if vhid == 0 || vhid > 255 || state > 2 {
        return Some(Errno::EINVAL);
    }
    match version {
        0 | 2 if advbase < 0 || advskew < 0 || advbase > 255 || advskew >= 255 => {
            Some(Errno::EINVAL)
        }
        0 | 2 => None,
        3 if inter > 4095 => Some(Errno::EINVAL),
        3 => None,
        _ => Some(Errno::EINVAL),
    }
}

fn small_i32() -> impl Strategy<Value = i32> {
    prop_oneof![-2i32..300, any::<i32>()]
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = netlink::decode_set(&bytes);
        let _ = netlink::decode_get(&bytes);
        let _ = netlink::decode_set_payload(&bytes);
        let _ = netlink::decode_get_payload(&bytes);
        let _ = netlink::decode_status_payload(&bytes);
        let _ = netlink::NlMsgHeader::parse(&bytes);
        if let Ok(r) = carpreq::decode(&bytes) {
            let _ = r.set_request();
            let _ = r.get_query();
        }
        // The same bytes framed as a valid message exercise the attribute walker.
        let _ = netlink::decode_set(&wrap(&bytes));
        let _ = netlink::decode_get(&wrap(&bytes));
    }

    #[test]
    fn set_validation_matches_the_model(
        vhid in prop_oneof![0u32..300, any::<u32>()],
        state in prop_oneof![0u32..4, any::<u32>()],
        advbase in small_i32(),
        advskew in small_i32(),
        version in prop_oneof![0u8..5, any::<u8>()],
        inter in prop_oneof![0u16..5000, any::<u16>()],
        prio in any::<u8>(),
        key in proptest::collection::vec(any::<u8>(), 0..=20),
        peer in any::<[u8; 4]>(),
    ) {
        let mut body = Vec::new();
        body.extend(nla(1, &vhid.to_le_bytes()));
        body.extend(nla(2, &state.to_le_bytes()));
        body.extend(nla(3, &advbase.to_le_bytes()));
        body.extend(nla(4, &advskew.to_le_bytes()));
        body.extend(nla(9, b"em0\0"));
        body.extend(nla(7, &peer));
        body.extend(nla(5, &key));
        body.extend(nla(10, &[version]));
        body.extend(nla(11, &[prio]));
        body.extend(nla(12, &inter.to_le_bytes()));
        let msg = wrap(&body);
        let got = netlink::decode_set(&msg);
        match model(vhid, state, advbase, advskew, version, inter) {
            Some(e) => prop_assert_eq!(got, Err(e)),
            None => {
                let cmd = got.unwrap();
                let r = cmd.request;
                prop_assert_eq!(u32::from(r.vhid), vhid);
                prop_assert_eq!(r.state, CarpState::from_u32(state).filter(|s| *s != CarpState::Init));
                if version == 3 {
                    prop_assert_eq!(r.version, Version::Vrrp3);
                    prop_assert_eq!(r.vrrp_priority, (prio != 0).then_some(prio));
                    prop_assert_eq!(r.vrrp_interval_cs, (inter != 0).then_some(inter));
                    prop_assert_eq!((r.advbase, r.advskew, r.key, r.peer4), (None, None, None, None));
                } else {
                    prop_assert_eq!(r.version, Version::Carp);
                    prop_assert_eq!(r.advbase.map(i32::from), (advbase != 0).then_some(advbase));
                    prop_assert_eq!(r.advskew.map(i32::from), Some(advskew));
                    let first = key.first().copied().unwrap_or(0);
                    prop_assert_eq!(r.key.is_some(), first != 0);
                    if let Some(k) = r.key {
                        prop_assert_eq!(&k[..key.len()], &key[..]);
                        prop_assert!(k[key.len()..].iter().all(|&b| b == 0));
                    }
                    let p = Ipv4Addr::from(peer);
                    prop_assert_eq!(r.peer4, (!p.is_unspecified()).then_some(p));
                }
            }
        }
    }

    #[test]
    fn get_reply_reads_back_as_encoded(
        vhid in 1u8..=255,
        state in 0u32..3,
        advbase in 1u8..=255,
        advskew in 0u8..=254,
        key in any::<[u8; 20]>(),
        peer4 in any::<[u8; 4]>(),
        peer6 in any::<[u8; 16]>(),
        vrrp in any::<bool>(),
        prio in any::<u8>(),
        inter in 0u16..=4095,
        privileged in any::<bool>(),
    ) {
        let st = VhidStatus {
            vhid,
            state: CarpState::from_u32(state).unwrap(),
            advbase,
            advskew,
            key,
            peer4: Ipv4Addr::from(peer4),
            peer6: Ipv6Addr::from(peer6),
            version: if vrrp { Version::Vrrp3 } else { Version::Carp },
            vrrp_priority: prio,
            vrrp_interval_cs: inter,
        };
        let mut out = [0u8; 200];
        let hdr = netlink::ReplyHeader { family_id: 0x17, flags: 0x307, seq: 9, pid: 1 };
        let n = netlink::encode_status(&hdr, &st, privileged, &mut out).unwrap();
        prop_assert_eq!(n, netlink::status_msg_len(&st, privileged));
        prop_assert_eq!(n % 4, 0);
        prop_assert_eq!(netlink::NlMsgHeader::parse(&out).unwrap().len as usize, n);
        let back = netlink::decode_status_payload(&out[16..n]).unwrap();
        prop_assert_eq!((back.vhid, back.state, back.version), (st.vhid, st.state, st.version));
        if vrrp {
            prop_assert_eq!((back.vrrp_priority, back.vrrp_interval_cs), (prio, inter));
        } else {
            prop_assert_eq!((back.advbase, back.advskew), (advbase, advskew));
            prop_assert_eq!((back.peer4, back.peer6), (st.peer4, st.peer6));
            prop_assert_eq!(back.key, if privileged { key } else { [0; 20] });
        }
        // Every shorter buffer is refused, never overrun.
        for short in [0, 15, 19, n - 1] {
            prop_assert_eq!(netlink::encode_status(&hdr, &st, privileged, &mut out[..short]), Err(Errno::ENOMEM));
        }
    }

    #[test]
    fn carpreq_round_trips(count in any::<i32>(), vhid in any::<i32>(), state in any::<i32>(),
                           advskew in any::<i32>(), advbase in any::<i32>(), key in any::<[u8; 20]>()) {
        let r = CarpReq { count, vhid, state, advskew, advbase, key };
        prop_assert_eq!(carpreq::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn siocgvh_never_fills_more_than_one_record_per_vhid(
        n in 0usize..20, count in -2i32..30, vhid in -1i32..25, privileged in any::<bool>(),
    ) {
        let all: Vec<VhidStatus> = (1..=n as u8)
            .map(|v| VhidStatus {
                vhid: v,
                state: CarpState::Backup,
                advbase: 1,
                advskew: 0,
                key: [7; 20],
                peer4: Ipv4Addr::new(224, 0, 0, 18),
                peer6: Ipv6Addr::UNSPECIFIED,
                version: Version::Carp,
                vrrp_priority: 0,
                vrrp_interval_cs: 0,
            })
            .collect();
        let mut out = vec![0xaau8; 64 * CARPREQ_LEN];
        let req = CarpReq { count, vhid, ..Default::default() };
        if let Ok(written) = carpreq::ioctl_get(&req, Some(&all), privileged, &mut out) {
            let records = if vhid == 0 { n.max(1) } else { 1 };
            prop_assert_eq!(written, records * CARPREQ_LEN);
            prop_assert!(written <= (count.max(1) as usize) * CARPREQ_LEN);
            prop_assert!(out[written..].iter().all(|&b| b == 0xaa));
        }
    }

    /// Two hosts agree on which vhids run; each running vhid has exactly one master
    /// somewhere. Then every client gets exactly one answer, from the master of the vhid
    /// its source selects.
    #[test]
    fn arpbalance_answers_each_client_exactly_once(
        flags in proptest::collection::vec((any::<bool>(), any::<bool>()), 1..8),
        source in any::<u32>(),
    ) {
        let mk = |on_a: bool| -> Vec<ArpVhid> {
            flags.iter().enumerate().map(|(i, &(running, master_on_a))| ArpVhid {
                vhid: (i as u8) * 3 + 1,
                running,
                owns_target: true,
                master: running && (master_on_a == on_a),
            }).collect()
        };
        let (a, b) = (mk(true), mk(false));
        let src = Ipv4Addr::from(source);
        let answers = [decide(true, src, &a), decide(true, src, &b)];
        let running: Vec<u8> = a.iter().filter(|v| v.running).map(|v| v.vhid).collect();
        if running.is_empty() {
            prop_assert_eq!(answers, [None, None]);
        } else {
            let chosen = running[(source % running.len() as u32) as usize];
            let got: Vec<u8> = answers.iter().flatten().copied().collect();
            prop_assert_eq!(got, vec![chosen]);
        }
    }

    /// The kernel's fixed-size set decides exactly as the slice, for any distinct vhids
    /// in any order, with any mix of running, owning and master.
    #[test]
    fn arpbalance_set_equals_slice(
        entries in proptest::collection::btree_map(any::<u8>(), (any::<bool>(), any::<bool>(), any::<bool>()), 0..40),
        order_seed in any::<u64>(),
        source in any::<u32>(),
        balance in any::<bool>(),
    ) {
        let mut list: Vec<ArpVhid> = entries.iter().map(|(&vhid, &(running, owns_target, master))| {
            ArpVhid { vhid, running, owns_target, master }
        }).collect();
        // A deterministic shuffle: the kernel walks addresses in list order, not vhid order.
        let n = list.len();
        for i in 0..n {
            let j = ((order_seed.rotate_left(i as u32) ^ i as u64) % n as u64) as usize;
            list.swap(i, j);
        }
        let mut set = ArpVhidSet::new();
        for e in &list {
            set.insert(*e);
        }
        let src = Ipv4Addr::from(source);
        prop_assert_eq!(set.decide(balance, src), decide(balance, src, &list));
    }
}

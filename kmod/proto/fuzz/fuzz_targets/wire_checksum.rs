//! Internet checksum: the incremental accumulator agrees with the one-shot sum for any
//! split, a filled-in checksum verifies, and RFC 1624 updates agree with recomputation.
#![no_main]

use carp_proto::wire::checksum::{self, Checksum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = checksum::data(data);
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let mut c = Checksum::new();
    c.add_bytes(&data[..split]).add_bytes(&data[split..]);
    assert_eq!(c.sum(), whole);
    if split % 2 == 0 {
        assert_eq!(
            checksum::combine(&[
                checksum::data(&data[..split]),
                checksum::data(&data[split..])
            ]),
            whole
        );
    }

    // Place a checksum in the first word of an even-length copy: it must verify.
    if data.len() >= 4 {
        let mut v = data[..data.len() & !1].to_vec();
        v[0] = 0;
        v[1] = 0;
        let ck = checksum::finish(checksum::data(&v));
        v[..2].copy_from_slice(&ck.to_be_bytes());
        assert!(checksum::verify(checksum::data(&v)));
        // Change word 1 and update incrementally.
        let old = u16::from_be_bytes([v[2], v[3]]);
        let new = old.rotate_left(5) ^ 0xa5a5;
        let upd = checksum::update(ck, old, new);
        v[2..4].copy_from_slice(&new.to_be_bytes());
        v[..2].copy_from_slice(&upd.to_be_bytes());
        // RFC 1624's one documented exception: if every other covered byte is now zero,
        // eqn. 3 yields 0x0000 where recomputation gives 0xffff.
        if v[2..].iter().any(|&b| b != 0) {
            assert!(checksum::verify(checksum::data(&v)));
        } else {
            assert_eq!(upd, 0);
        }
    }
});

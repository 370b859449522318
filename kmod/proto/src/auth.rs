//! CARP authentication: HMAC-SHA1 exactly as FreeBSD 15 computes it (reference A.2).
//!
//! The message a vhid authenticates is
//!
//! ```text
//! 0x02 (version) 0x01 (type) vhid
//! every IPv4 address of the vhid, 4 bytes each, ascending by numeric value
//! every IPv6 address of the vhid, 16 bytes each, ascending by memcmp order,
//!       with the embedded scope word (bytes 2..4) cleared where FreeBSD embeds one
//! the 8 counter bytes as they appear on the wire (high word BE, then low word BE)
//! ```
//!
//! keyed with the 20-byte `sc_key` (the password zero-padded to [`CARP_KEY_LEN`]; HMAC pads
//! it with zeros to the 64-byte block, so this is plain RFC 2104 HMAC-SHA1).
//!
//! # FreeBSD's ordering quirk
//!
//! FreeBSD does not sort: it repeatedly scans the address list for "the smallest address
//! strictly greater than the previous one", starting from `0.0.0.0` (resp. `::`) and with
//! `255.255.255.255` (resp. all-ones) as the initial "smallest so far". Consequences that
//! interoperability depends on, all reproduced here: duplicates are hashed once,
//! `0.0.0.0`/`::` and `255.255.255.255`/all-ones are never hashed, and the order in which
//! the addresses were configured does not matter. For IPv6, the comparison (and the bytes
//! hashed) use the address after clearing bytes 2..4 when it is link-local unicast
//! (`fe80::/10`) or link-/interface-local multicast (`ffx2::/16`, `ffx1::/16`), so
//! `fe80:1::1` and `fe80::1` are the same address to the HMAC.
//!
//! # Cost per advertisement
//!
//! [`Authenticator::new`] absorbs the key block (ipad) and the whole per-vhid prefix once and
//! keeps the keyed outer state (opad absorbed) too. The state it keeps is the `hmac` crate's
//! buffered `Hmac<Sha1>`: two SHA-1 chaining states plus the partial last block of the
//! prefix. Signing or verifying one advertisement clones that state, appends the 8 counter
//! bytes and finalizes:
//!
//! * inner finalization: one compression when the partial block (`prefix_len mod 64` bytes,
//!   where `prefix_len` counts the bytes after the 64-byte ipad block) plus the 8 counter
//!   bytes plus SHA-1's 9 bytes of padding (0x80 and the 64-bit length) fit in one block,
//!   i.e. `prefix_len mod 64 <= 47`; two compressions otherwise;
//! * outer finalization: the 20-byte inner digest plus 9 bytes of padding always fit in the
//!   block after the precomputed opad block: one compression.
//!
//! So the exact per-packet cost is 2 compressions when `prefix_len mod 64 <= 47` and 3 when it
//! is 48..=63 ([`Authenticator::compressions_per_packet`]). `prefix_len` is
//! `3 + 4 * (distinct IPv4) + 16 * (distinct IPv6)`: the usual configurations (one to eleven
//! IPv4 addresses, or one IPv4 plus up to two IPv6, ...) are all 2-compression ones; the single
//! address of the ucarp interop case gives `prefix_len = 7`.
//!
//! # Constant-time verification
//!
//! [`Authenticator::verify`] recomputes the digest and compares all 20 bytes with
//! [`ct_eq`]: an OR-fold of the byte-wise XORs over the whole array (fixed trip count, no
//! branch inside the loop, no early exit), then one comparison of the folded byte with zero.
//! The folded value is passed through [`core::hint::black_box`] before that comparison so
//! the optimizer cannot turn the fold back into an early-exit `memcmp`. (FreeBSD uses
//! `bcmp`, which may return at the first differing byte.) `subtle::ConstantTimeEq`, which
//! `hmac::Mac::verify` uses, gives the same guarantee by the same kind of optimization
//! barrier, but measured about 9 ns (0.1 compression) more per advertisement here.

use core::net::{Ipv4Addr, Ipv6Addr};

use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::types::CARP_KEY_LEN;

type HmacSha1 = Hmac<Sha1>;

/// Length of the HMAC carried in an advertisement (`carp_md`).
pub const MD_LEN: usize = 20;
/// Length of the counter carried in an advertisement (`carp_counter`).
pub const COUNTER_LEN: usize = 8;
/// CARP version byte hashed first (`CARP_VERSION_CARP`).
const HASHED_VERSION: u8 = 2;
/// CARP type byte hashed second (`CARP_ADVERTISEMENT`).
const HASHED_TYPE: u8 = 1;
/// SHA-1 block size.
const BLOCK_LEN: usize = 64;
/// SHA-1 padding: the 0x80 byte plus the 64-bit message length.
const SHA1_PAD_MIN: usize = 9;

/// The precomputed HMAC of one vhid: sign and verify advertisements.
///
/// Rebuild it (with [`Authenticator::new`]) whenever the key changes or an address is added
/// to or removed from the vhid, as FreeBSD redoes `carp_hmac_prepare` on those events.
#[derive(Clone)]
pub struct Authenticator {
    /// Keyed HMAC state with the prefix absorbed (inner state + buffered partial block,
    /// outer state with the opad block absorbed).
    mac: HmacSha1,
    /// Bytes absorbed after the 64-byte ipad block.
    prefix_len: usize,
}

impl core::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key-derived state.
        f.debug_struct("Authenticator")
            .field("prefix_len", &self.prefix_len)
            .finish_non_exhaustive()
    }
}

/// The keyed (not yet fed) HMAC-SHA1 state for a 20-byte CARP key: ipad and opad blocks
/// absorbed. Infallible: the key is placed, zero-padded, in a full 64-byte key block.
fn keyed(key: &[u8; CARP_KEY_LEN]) -> HmacSha1 {
    let mut block: Key<HmacSha1> = Default::default();
    for (dst, src) in block.iter_mut().zip(key.iter()) {
        *dst = *src;
    }
    <HmacSha1 as KeyInit>::new(&block)
}

impl Authenticator {
    /// Precompute the HMAC of vhid `vhid` keyed with `key` over the vhid's addresses
    /// (`v4`, `v6`: in any order, duplicates allowed, exactly as attached to the vhid).
    pub fn new(key: &[u8; CARP_KEY_LEN], vhid: u8, v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> Self {
        Self::from_iters(key, vhid, v4.iter().copied(), v6.iter().copied())
    }

    /// As [`Authenticator::new`], from iterators (each is walked once per distinct address,
    /// as FreeBSD's scan does, hence `Clone`).
    pub fn from_iters<I4, I6>(key: &[u8; CARP_KEY_LEN], vhid: u8, v4: I4, v6: I6) -> Self
    where
        I4: IntoIterator<Item = Ipv4Addr>,
        I4::IntoIter: Clone,
        I6: IntoIterator<Item = Ipv6Addr>,
        I6::IntoIter: Clone,
    {
        let mut auth = Authenticator {
            mac: keyed(key),
            prefix_len: 0,
        };
        auth.absorb(&[HASHED_VERSION, HASHED_TYPE, vhid]);
        for_each_hashed_v4(v4, |a| auth.absorb(&a));
        for_each_hashed_v6(v6, |a| auth.absorb(&a));
        auth
    }

    /// Test hook: an authenticator over an arbitrary prefix (for RFC 2202 vectors).
    #[cfg(test)]
    fn from_prefix(key: &[u8; CARP_KEY_LEN], prefix: &[u8]) -> Self {
        let mut auth = Authenticator {
            mac: keyed(key),
            prefix_len: 0,
        };
        auth.absorb(prefix);
        auth
    }

    fn absorb(&mut self, bytes: &[u8]) {
        self.mac.update(bytes);
        self.prefix_len = self.prefix_len.saturating_add(bytes.len());
    }

    /// The state for one advertisement: the precomputed one plus the counter bytes.
    #[inline]
    fn with_counter(&self, counter: u64) -> HmacSha1 {
        let mut mac = self.mac.clone();
        mac.update(&counter.to_be_bytes());
        mac
    }

    /// The `carp_md` of an advertisement carrying `counter` (hashed as sent: high 32 bits
    /// big-endian, then low 32 bits big-endian, i.e. the u64 big-endian).
    #[inline]
    pub fn sign(&self, counter: u64) -> [u8; MD_LEN] {
        self.with_counter(counter).finalize().into_bytes().into()
    }

    /// Whether `md` is the correct HMAC for `counter`. All 20 bytes are compared in
    /// constant time (see the module documentation).
    #[inline]
    pub fn verify(&self, counter: u64, md: &[u8; MD_LEN]) -> bool {
        ct_eq(&self.sign(counter), md)
    }

    /// Bytes hashed after the ipad block and before the counter:
    /// `3 + 4 * distinct IPv4 + 16 * distinct IPv6`.
    pub fn prefix_len(&self) -> usize {
        self.prefix_len
    }

    /// SHA-1 block compressions performed by one [`sign`](Self::sign) or
    /// [`verify`](Self::verify): 2, or 3 when `prefix_len mod 64 > 47` (module docs).
    pub fn compressions_per_packet(&self) -> u8 {
        let partial = self.prefix_len % BLOCK_LEN;
        let inner = if partial + COUNTER_LEN + SHA1_PAD_MIN <= BLOCK_LEN {
            1
        } else {
            2
        };
        inner + 1
    }
}

/// Constant-time equality of two digests: every byte is always examined, without
/// data-dependent branches (see the module documentation).
#[inline]
pub fn ct_eq(a: &[u8; MD_LEN], b: &[u8; MD_LEN]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

/// Feed `f` the IPv4 addresses FreeBSD hashes, in the order it hashes them: repeatedly the
/// smallest address (host-order numeric value) strictly greater than the previous one,
/// starting above 0.0.0.0 and below 255.255.255.255. Duplicates come out once; 0.0.0.0 and
/// 255.255.255.255 never. O(n²) like FreeBSD's scan, no allocation.
pub fn for_each_hashed_v4<I, F>(addrs: I, mut f: F)
where
    I: IntoIterator<Item = Ipv4Addr>,
    I::IntoIter: Clone,
    F: FnMut([u8; 4]),
{
    let addrs = addrs.into_iter();
    let mut last: u32 = 0;
    loop {
        let mut cur: u32 = u32::MAX;
        let mut found = false;
        for a in addrs.clone() {
            let v = u32::from(a);
            if v > last && v < cur {
                cur = v;
                found = true;
            }
        }
        if !found {
            break;
        }
        f(cur.to_be_bytes());
        last = cur;
    }
}

/// The bytes FreeBSD hashes for an IPv6 address: the address with its embedded scope word
/// (bytes 2..4) cleared if it is link-local unicast (`fe80::/10`), or link-local or
/// interface-local multicast (`ff02::/16`, `ff01::/16` with any flags nibble)
/// (`IN6_IS_SCOPE_EMBED`); otherwise unchanged.
pub fn scope_cleared(a: &Ipv6Addr) -> [u8; 16] {
    let mut o = a.octets();
    let [b0, b1, b2, b3, ..] = &mut o;
    let linklocal = *b0 == 0xfe && (*b1 & 0xc0) == 0x80;
    let mc_scope = *b1 & 0x0f;
    let mc_embed = *b0 == 0xff && (mc_scope == 0x01 || mc_scope == 0x02);
    if linklocal || mc_embed {
        *b2 = 0;
        *b3 = 0;
    }
    o
}

/// Feed `f` the IPv6 addresses FreeBSD hashes, in its order: after [`scope_cleared`],
/// repeatedly the smallest (memcmp order) strictly greater than the previous one, starting
/// above `::` and below all-ones. Duplicates (also those equal only after scope clearing)
/// come out once; `::` and all-ones never. O(n²), no allocation.
pub fn for_each_hashed_v6<I, F>(addrs: I, mut f: F)
where
    I: IntoIterator<Item = Ipv6Addr>,
    I::IntoIter: Clone,
    F: FnMut([u8; 16]),
{
    let addrs = addrs.into_iter();
    let mut last = [0u8; 16];
    loop {
        let mut cur = [0xffu8; 16];
        let mut found = false;
        for a in addrs.clone() {
            // Arrays of u8 compare lexicographically, i.e. as memcmp does.
            let v = scope_cleared(&a);
            if v > last && v < cur {
                cur = v;
                found = true;
            }
        }
        if !found {
            break;
        }
        f(cur);
        last = cur;
    }
}

/// Naive reference: RFC 2104 HMAC-SHA1 of the concatenation of `parts`, keyed with the
/// 20-byte CARP key, computed from scratch (key schedule included) on every call.
///
/// This is what a non-precomputing implementation pays per packet: the benchmark compares
/// it with [`Authenticator::sign`], and the tests use it as an oracle.
pub fn hmac_naive(key: &[u8; CARP_KEY_LEN], parts: &[&[u8]]) -> [u8; MD_LEN] {
    let mut mac = keyed(key);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn md(s: &str) -> [u8; 20] {
        hex(s).try_into().unwrap()
    }

    fn key(pass: &[u8]) -> [u8; 20] {
        let mut k = [0u8; 20];
        k[..pass.len()].copy_from_slice(pass);
        k
    }

    /// RFC 2202 HMAC-SHA1 test cases whose key fits in 20 bytes and whose data is at least
    /// 8 bytes long: run through the precomputed path with the last 8 data bytes as the
    /// "counter" and the rest as the prefix. (Case 4 has a 25-byte key, cases 6-7 an 80-byte
    /// key: not representable as a CARP key.) Zero-padding a key to 20 bytes does not change
    /// HMAC (it is zero-padded to 64 anyway), so "Jefe" works as is.
    #[test]
    fn rfc2202_vectors_through_precomputed_path() {
        let cases: [(&[u8], Vec<u8>, &str); 4] = [
            (
                &[0x0b; 20],
                b"Hi There".to_vec(),
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?".to_vec(),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                &[0xaa; 20],
                [0xdd; 50].to_vec(),
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            (
                &[0x0c; 20],
                b"Test With Truncation".to_vec(),
                "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
            ),
        ];
        for (k, data, want) in cases {
            let k = key(k);
            let (prefix, ctr) = data.split_at(data.len() - 8);
            let counter = u64::from_be_bytes(ctr.try_into().unwrap());
            let a = Authenticator::from_prefix(&k, prefix);
            assert_eq!(a.sign(counter), md(want));
            assert!(a.verify(counter, &md(want)));
            assert_eq!(hmac_naive(&k, &[&data]), md(want));
        }
    }

    /// Independently computed (Python hmac/hashlib) ucarp-style vectors: vhid 42, password
    /// "s3cretpw", single address 10.99.0.100.
    #[test]
    fn ucarp_single_address_vectors() {
        let a = Authenticator::new(&key(b"s3cretpw"), 42, &[Ipv4Addr::new(10, 99, 0, 100)], &[]);
        let vectors = [
            (0u64, "9acdaff98c291c4f2da5b03119ae31a89a5b67e6"),
            (1, "4420c0c7716ae3a29dd82480761cec1b5b75296f"),
            (
                0x0123_4567_89ab_cdef,
                "bcda93b1aa195bc331a464be2b8531e98479780d",
            ),
            (u64::MAX, "2270b5685c1a3664d34361f501f3c6848629106b"),
            // Frame 4 of shared/fixtures/ucarp-vhid42.pcapng (sent by ucarp 1.5.2).
            (
                329_128_398_473_304_812,
                "7da4e7c62872c7ed83bb1a7deb573080489e4459",
            ),
        ];
        for (c, want) in vectors {
            assert_eq!(a.sign(c), md(want), "counter {c:#x}");
            assert!(a.verify(c, &md(want)));
        }
        assert_eq!(a.prefix_len(), 7);
        assert_eq!(a.compressions_per_packet(), 2);
    }

    #[test]
    fn verify_rejects_any_single_bit_flip_and_wrong_counter() {
        let a = Authenticator::new(&key(b"s3cretpw"), 42, &[Ipv4Addr::new(10, 99, 0, 100)], &[]);
        let good = a.sign(7);
        assert!(a.verify(7, &good));
        assert!(!a.verify(8, &good));
        for byte in 0..20 {
            for bit in 0..8 {
                let mut bad = good;
                bad[byte] ^= 1 << bit;
                assert!(!a.verify(7, &bad), "flip byte {byte} bit {bit}");
            }
        }
        let other =
            Authenticator::new(&key(b"s3cretpX"), 42, &[Ipv4Addr::new(10, 99, 0, 100)], &[]);
        assert!(!other.verify(7, &good));
        let other_vhid =
            Authenticator::new(&key(b"s3cretpw"), 43, &[Ipv4Addr::new(10, 99, 0, 100)], &[]);
        assert!(!other_vhid.verify(7, &good));
    }

    /// Multi-address vector (Python: sorted(set(..)) minus 0/all-ones, scope cleared):
    /// duplicates, 0.0.0.0, 255.255.255.255, ::, all-ones, fe80:1::1 == fe80::1,
    /// ff02:5::12 -> ff02::12, ff01:7::1 -> ff01::1.
    #[test]
    fn multi_address_quirks_vector() {
        let v4: Vec<Ipv4Addr> = [
            "10.0.0.2",
            "10.0.0.1",
            "10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "192.168.1.1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let v6: Vec<Ipv6Addr> = [
            "fe80:1::1",
            "2001:db8::1",
            "::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1",
            "ff02:5::12",
            "ff01:7::1",
            "fe80::2",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let want_prefix = hex(
            "0201070a0000010a000002c0a8010120010db8000000000000000000000001fe80000000000000000000\
             0000000001fe800000000000000000000000000002ff010000000000000000000000000001ff0200000000\
             00000000000000000012",
        );
        let mut got_prefix = std::vec![2u8, 1, 7];
        for_each_hashed_v4(v4.iter().copied(), |a| got_prefix.extend_from_slice(&a));
        for_each_hashed_v6(v6.iter().copied(), |a| got_prefix.extend_from_slice(&a));
        assert_eq!(got_prefix, want_prefix);

        let k = key(b"multi");
        let a = Authenticator::new(&k, 7, &v4, &v6);
        assert_eq!(a.prefix_len(), 95);
        assert_eq!(a.sign(42), md("814ce928e2823f552b5c863f812509d0349f2891"));
        // 95 mod 64 = 31: still two compressions.
        assert_eq!(a.compressions_per_packet(), 2);

        // Order independence: any permutation gives the same HMAC.
        let mut v4r = v4.clone();
        v4r.reverse();
        let mut v6r = v6.clone();
        v6r.rotate_left(3);
        assert_eq!(Authenticator::new(&k, 7, &v4r, &v6r).sign(42), a.sign(42));
    }

    #[test]
    fn v6_only_and_empty_vectors() {
        let a = Authenticator::new(&[1; 20], 255, &[], &["2001:db8::100".parse().unwrap()]);
        assert_eq!(
            a.sign(0x1122_3344_5566_7788),
            md("eb94a01adce4edfe66e7af1510b97a36b380cb99")
        );
        let e = Authenticator::new(&[0; 20], 1, &[], &[]);
        assert_eq!(e.prefix_len(), 3);
        assert_eq!(e.sign(5), md("3fa797bf1386e4d55fce23a6ad0bf48f9c09db92"));
    }

    #[test]
    fn twelve_addresses_cost_three_compressions() {
        let v4: Vec<Ipv4Addr> = (1..=12u8)
            .rev()
            .map(|i| Ipv4Addr::new(10, 1, 0, i))
            .collect();
        let a = Authenticator::new(&key(b"twelve"), 9, &v4, &[]);
        assert_eq!(a.prefix_len(), 51);
        assert_eq!(a.compressions_per_packet(), 3);
        assert_eq!(a.sign(77), md("032ad0f6e20a9d01e92a334f93a1a5c1be58190f"));
    }

    #[test]
    fn scope_clearing() {
        let c = |s: &str| Ipv6Addr::from(scope_cleared(&s.parse().unwrap()));
        assert_eq!(c("fe80:1::1"), "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c("febf:ffff::1"), "febf::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c("ff02:3::1"), "ff02::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c("ff12:3::1"), "ff12::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c("ff01:3::1"), "ff01::1".parse::<Ipv6Addr>().unwrap());
        // Not embedded-scope: unchanged.
        assert_eq!(c("fec0:1::1"), "fec0:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c("ff05:1::1"), "ff05:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c("2001:db8::1"), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
    }

    /// The strictly-greater scan equals "sort, dedup, drop 0 and all-ones" (an independent
    /// oracle), for a spread of inputs including the boundary values.
    #[test]
    fn scan_matches_sort_dedup_oracle() {
        let pool: [u32; 9] = [
            0,
            1,
            2,
            0x0a00_0001,
            0x0a00_0001,
            0x8000_0000,
            0xffff_fffe,
            u32::MAX,
            7,
        ];
        for mask in 0u32..(1 << pool.len()) {
            let set: Vec<Ipv4Addr> = (0..pool.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| Ipv4Addr::from(pool[i]))
                .collect();
            let mut want: Vec<u32> = set
                .iter()
                .map(|a| u32::from(*a))
                .filter(|v| *v != 0 && *v != u32::MAX)
                .collect();
            want.sort_unstable();
            want.dedup();
            let mut got = Vec::new();
            for_each_hashed_v4(set.iter().copied(), |a| got.push(u32::from_be_bytes(a)));
            assert_eq!(got, want, "mask {mask:#x}");

            let k = key(b"oracle");
            let mut msg = std::vec![2u8, 1, 5];
            for v in &want {
                msg.extend_from_slice(&v.to_be_bytes());
            }
            assert_eq!(
                Authenticator::new(&k, 5, &set, &[]).sign(mask as u64),
                hmac_naive(&k, &[&msg, &(mask as u64).to_be_bytes()])
            );
        }
    }

    #[test]
    fn ct_eq_compares_every_byte() {
        let a = [0x5au8; 20];
        assert!(ct_eq(&a, &a));
        for i in 0..20 {
            let mut b = a;
            b[i] ^= 0x80;
            assert!(!ct_eq(&a, &b), "byte {i}");
        }
    }

    #[test]
    fn debug_does_not_leak_key_state() {
        let a = Authenticator::new(&key(b"secret"), 1, &[], &[]);
        let s = std::format!("{a:?}");
        assert!(s.starts_with("Authenticator"));
        assert!(s.contains("prefix_len: 3"));
    }
}

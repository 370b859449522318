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
//! [`Authenticator::new`] does everything that does not depend on the counter once: the
//! ipad and opad blocks (RFC 2104) and every full 64-byte block of the per-vhid prefix are
//! compressed into two SHA-1 chaining states, and the inner hash's final block(s) are laid
//! out in advance: the partial last block of the prefix, room for the 8 counter bytes,
//! SHA-1's padding (the 0x80 byte, zeros, the 64-bit message length) all at fixed places.
//! Signing or verifying one advertisement then only
//!
//! * copies that final block, writes the counter into it and compresses it into a copy of
//!   the inner state: one compression when the partial block (`prefix_len mod 64` bytes,
//!   where `prefix_len` counts the bytes after the 64-byte ipad block) plus the 8 counter
//!   bytes plus the 9 bytes of padding fit in one block, i.e. `prefix_len mod 64 <= 47`;
//!   two compressions otherwise;
//! * writes the 20-byte inner digest into the outer hash's final block (whose padding, for
//!   the fixed 64 + 20 bytes, is a constant) and compresses it into a copy of the outer
//!   state: one compression.
//!
//! So the exact per-packet cost is 2 compressions when `prefix_len mod 64 <= 47` and 3 when it
//! is 48..=63 ([`Authenticator::compressions_per_packet`]). `prefix_len` is
//! `3 + 4 * (distinct IPv4) + 16 * (distinct IPv6)`: the usual configurations (one to eleven
//! IPv4 addresses, or one IPv4 plus up to two IPv6, ...) are all 2-compression ones; the single
//! address of the ucarp interop case gives `prefix_len = 7`.
//!
//! The compression function is the `sha1` crate's own ([`sha1::compress`], the same function
//! its `Sha1Core` and `Hmac<Sha1>` run, software-only with `force-soft`); this module only
//! arranges the blocks, with the HMAC construction of RFC 2104 and the message padding of
//! FIPS 180-4 section 5.1.1, and the tests check every layout against the `hmac` crate
//! ([`hmac_naive`]). It does not use the crates' buffered finalization on the per-packet path
//! because that path writes the padding bytes one store at a time immediately before the
//! compression reads the block back as 32-bit words: every such word that mixes bytes from
//! two stores misses the CPU's store-to-load forwarding, and with the counter at an offset
//! that is not a multiple of 4 (7 for a single IPv4 address) that cost about 0.3 compression
//! per advertisement (measured: 2.28-2.30 compressions for sign with `Sha1Core`'s
//! `finalize_fixed_core`, 2.35 for verify, against 2.1 here). So the per-packet code writes
//! every 32-bit word that changes with one aligned 4-byte store.
//!
//! # Constant-time verification
//!
//! [`Authenticator::verify`] recomputes the digest and compares all 20 bytes with
//! [`ct_eq`]: the digests are read as five native-endian 32-bit words, the word-wise XORs are
//! OR-folded (fixed trip count, no branch inside the loop, no early exit), then the folded
//! word is compared with zero once. The folded value is passed through
//! [`core::hint::black_box`] before that comparison so the optimizer cannot turn the fold
//! back into an early-exit `memcmp`. (FreeBSD uses `bcmp`, which may return at the first
//! differing byte.) Whether a word or a byte is the unit does not matter for constant time:
//! every bit of both arrays is always read and combined the same way; words only make it
//! cheaper. `subtle::ConstantTimeEq`, which `hmac::Mac::verify` uses, gives the same
//! guarantee by the same kind of optimization barrier, but costs more per advertisement.

use core::net::{Ipv4Addr, Ipv6Addr};

use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use sha1::digest::core_api::Block;
use sha1::{Sha1, Sha1Core};

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
/// Where SHA-1's 64-bit message length (in bits, big-endian) sits in the last block.
const LEN_AT: usize = BLOCK_LEN - 8;
/// SHA-1's initial chaining value H(0) (FIPS 180-4, section 5.3.1).
const SHA1_IV: [u32; 5] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0];
/// HMAC inner and outer pad bytes (RFC 2104).
const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;
/// The outer hash's final block before the inner digest is written into bytes 0..20: the
/// padding of a 64 + 20 = 84-byte message (0x80 at byte 20, length 672 bits at the end).
// Indexing in a const initializer is evaluated at compile time: out of bounds would be a
// build error, never a run-time panic.
#[allow(clippy::indexing_slicing)]
const OUTER_LAST: [u8; BLOCK_LEN] = {
    let mut b = [0u8; BLOCK_LEN];
    b[MD_LEN] = 0x80;
    let len = ((BLOCK_LEN + MD_LEN) as u64 * 8).to_be_bytes();
    let mut i = 0;
    while i < 8 {
        b[LEN_AT + i] = len[i];
        i += 1;
    }
    b
};

/// One SHA-1 block compression with the `sha1` crate's compression function.
#[inline(always)]
fn compress(state: &mut [u32; 5], block: &[u8; BLOCK_LEN]) {
    let block: &Block<Sha1Core> = block.into();
    sha1::compress(state, core::slice::from_ref(block));
}

/// Big-endian serialization of a chaining state (the SHA-1 digest).
#[inline(always)]
fn state_bytes(state: &[u32; 5]) -> [u8; MD_LEN] {
    let mut out = [0u8; MD_LEN];
    for (dst, w) in out.chunks_exact_mut(4).zip(state.iter()) {
        dst.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// Write the big-endian word `w` at byte offset `at` (a multiple of 4 below 128) of the
/// two-block area `blocks`, with one aligned 4-byte store: the word then lies inside one
/// block, and the compression's read of it is forwarded from that single store.
#[inline(always)]
fn put_word(blocks: &mut [[u8; BLOCK_LEN]; 2], at: usize, w: u32) {
    let off = at & (BLOCK_LEN - 4);
    if let Some(dst) = blocks
        .get_mut((at / BLOCK_LEN) & 1)
        .and_then(|b| b.get_mut(off..off + 4))
    {
        dst.copy_from_slice(&w.to_be_bytes());
    }
}

/// The `hmac` crate's keyed (not yet fed) HMAC-SHA1 for a 20-byte CARP key, for the naive
/// reference computation. Infallible: the key is placed, zero-padded, in a full 64-byte
/// key block.
fn keyed(key: &[u8; CARP_KEY_LEN]) -> HmacSha1 {
    let mut block: Key<HmacSha1> = Default::default();
    for (dst, src) in block.iter_mut().zip(key.iter()) {
        *dst = *src;
    }
    <HmacSha1 as KeyInit>::new(&block)
}

/// The precomputed HMAC of one vhid: sign and verify advertisements.
///
/// Rebuild it (with [`Authenticator::new`]) whenever the key changes or an address is added
/// to or removed from the vhid, as FreeBSD redoes `carp_hmac_prepare` on those events.
#[derive(Clone)]
pub struct Authenticator {
    /// Inner chaining state: the ipad block and every full block of the prefix compressed.
    inner: [u32; 5],
    /// Outer chaining state: the opad block compressed.
    outer: [u32; 5],
    /// The inner hash's (first) final block: the prefix's partial last block, zeros where the
    /// counter goes, and, when it fits, the 0x80 byte and the message length.
    last: [u8; BLOCK_LEN],
    /// The three big-endian words (at byte `win_at` of the final block(s)) that hold the 8
    /// counter bytes, with the counter bytes zero: the prefix bytes before the counter and
    /// the padding after it.
    win: [u32; 3],
    /// Message length in bits (ipad block + prefix + counter), the padding's last 8 bytes.
    bit_len: u64,
    /// Bytes absorbed after the 64-byte ipad block.
    prefix_len: usize,
    /// Byte offset of `win` in the final block(s): `prefix_len mod 64` rounded down to a
    /// multiple of 4 (at most 60).
    win_at: u8,
    /// Left shift placing the counter in the 96-bit window: 8 * (4 - `prefix_len mod 4`).
    win_shift: u8,
    /// Whether the counter and padding need a second final block (`prefix_len mod 64 > 47`).
    two_blocks: bool,
}

impl core::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key-derived state.
        f.debug_struct("Authenticator")
            .field("prefix_len", &self.prefix_len)
            .finish_non_exhaustive()
    }
}

/// The inner hash while the prefix is absorbed (construction only, not per packet).
struct Absorber {
    state: [u32; 5],
    block: [u8; BLOCK_LEN],
    fill: usize,
    len: usize,
}

impl Absorber {
    /// Inner and outer chaining states of HMAC-SHA1 for a 20-byte CARP key: the key,
    /// zero-padded to the 64-byte block, XORed with ipad resp. opad and compressed.
    fn keyed(key: &[u8; CARP_KEY_LEN]) -> (Self, [u32; 5]) {
        let mut ipad = [IPAD; BLOCK_LEN];
        let mut opad = [OPAD; BLOCK_LEN];
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(key.iter()) {
            *i ^= k;
            *o ^= k;
        }
        let mut inner = SHA1_IV;
        compress(&mut inner, &ipad);
        let mut outer = SHA1_IV;
        compress(&mut outer, &opad);
        let absorber = Absorber {
            state: inner,
            block: [0; BLOCK_LEN],
            fill: 0,
            len: 0,
        };
        (absorber, outer)
    }

    fn absorb(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.block.get_mut(self.fill) {
                *slot = b;
            }
            self.fill = self.fill.saturating_add(1);
            if self.fill >= BLOCK_LEN {
                compress(&mut self.state, &self.block);
                self.block = [0; BLOCK_LEN];
                self.fill = 0;
            }
            self.len = self.len.saturating_add(1);
        }
    }

    /// Lay out the final block(s) with the counter's place left zero.
    fn finish(self, outer: [u32; 5]) -> Authenticator {
        let off = self.fill; // 0..=63: bytes of the prefix in the partial block
        let two_blocks = off + COUNTER_LEN + SHA1_PAD_MIN > BLOCK_LEN;
        // SHA-1 counts the message length modulo 2^64 bits (FIPS 180-4, 5.1.1).
        let bit_len = (self.len as u64)
            .wrapping_add((BLOCK_LEN + COUNTER_LEN) as u64)
            .wrapping_mul(8);
        let mut area = [self.block, [0u8; BLOCK_LEN]];
        // The 0x80 byte after the counter, at `off + 8` (in the second block when off >= 56).
        let pad_at = off + COUNTER_LEN;
        if let Some(b) = area
            .get_mut(pad_at / BLOCK_LEN)
            .and_then(|blk| blk.get_mut(pad_at % BLOCK_LEN))
        {
            *b = 0x80;
        }
        let [first, second] = &mut area;
        let len_block = if two_blocks { second } else { first };
        if let Some(dst) = len_block.get_mut(LEN_AT..) {
            dst.copy_from_slice(&bit_len.to_be_bytes());
        }
        // The 12 bytes at win_at (<= 60, so they end at most 8 bytes into the second block)
        // as three big-endian words, counter bytes still zero.
        let win_at = off & !3;
        let mut win = [0u32; 3];
        for (j, w) in win.iter_mut().enumerate() {
            let at = win_at + 4 * j;
            let blk = area.get(at / BLOCK_LEN);
            let word = blk.and_then(|b| b.get(at % BLOCK_LEN..at % BLOCK_LEN + 4));
            if let Some(Ok(bytes)) = word.map(<[u8; 4]>::try_from) {
                *w = u32::from_be_bytes(bytes);
            }
        }
        let [last, _] = area;
        Authenticator {
            inner: self.state,
            outer,
            last,
            win,
            bit_len,
            prefix_len: self.len,
            win_at: win_at as u8,
            win_shift: (8 * (4 - (off & 3))) as u8,
            two_blocks,
        }
    }
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
        let (mut inner, outer) = Absorber::keyed(key);
        inner.absorb(&[HASHED_VERSION, HASHED_TYPE, vhid]);
        for_each_hashed_v4(v4, |a| inner.absorb(&a));
        for_each_hashed_v6(v6, |a| inner.absorb(&a));
        inner.finish(outer)
    }

    /// Test hook: an authenticator over an arbitrary prefix (for RFC 2202 vectors).
    #[cfg(test)]
    fn from_prefix(key: &[u8; CARP_KEY_LEN], prefix: &[u8]) -> Self {
        let (mut inner, outer) = Absorber::keyed(key);
        inner.absorb(prefix);
        inner.finish(outer)
    }

    /// The inner hash of prefix + counter: the precomputed state, the final block(s) with
    /// the counter's three words stored in place, one or two compressions.
    #[inline(always)]
    fn inner_digest(&self, counter: u64) -> [u32; 5] {
        let mut blocks = [self.last, [0u8; BLOCK_LEN]];
        let [w0, w1, w2] = self.win;
        let c = u128::from(counter) << (self.win_shift & 0x38);
        let at = usize::from(self.win_at & 0x3c);
        put_word(&mut blocks, at, w0 | (c >> 64) as u32);
        put_word(&mut blocks, at + 4, w1 | (c >> 32) as u32);
        put_word(&mut blocks, at + 8, w2 | c as u32);
        let mut state = self.inner;
        let [first, second] = &mut blocks;
        compress(&mut state, first);
        if self.two_blocks {
            if let Some(dst) = second.get_mut(LEN_AT..) {
                dst.copy_from_slice(&self.bit_len.to_be_bytes());
            }
            compress(&mut state, second);
        }
        state
    }

    /// The `carp_md` of an advertisement carrying `counter` (hashed as sent: high 32 bits
    /// big-endian, then low 32 bits big-endian, i.e. the u64 big-endian).
    #[inline]
    pub fn sign(&self, counter: u64) -> [u8; MD_LEN] {
        let inner = self.inner_digest(counter);
        let mut block = OUTER_LAST;
        for (dst, w) in block.chunks_exact_mut(4).zip(inner.iter()) {
            dst.copy_from_slice(&w.to_be_bytes());
        }
        let mut state = self.outer;
        compress(&mut state, &block);
        state_bytes(&state)
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
        if self.two_blocks {
            3
        } else {
            2
        }
    }
}

/// Constant-time equality of two digests: every byte is always examined, without
/// data-dependent branches (see the module documentation).
#[inline]
pub fn ct_eq(a: &[u8; MD_LEN], b: &[u8; MD_LEN]) -> bool {
    let (wa, wb) = (md_words(a), md_words(b));
    let mut diff = 0u32;
    for (x, y) in wa.iter().zip(wb.iter()) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

/// A digest as five native-endian 32-bit words (all 20 bytes, each exactly once).
#[inline(always)]
fn md_words(m: &[u8; MD_LEN]) -> [u32; 5] {
    let [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3, e0, e1, e2, e3] = *m;
    [
        u32::from_ne_bytes([a0, a1, a2, a3]),
        u32::from_ne_bytes([b0, b1, b2, b3]),
        u32::from_ne_bytes([c0, c1, c2, c3]),
        u32::from_ne_bytes([d0, d1, d2, d3]),
        u32::from_ne_bytes([e0, e1, e2, e3]),
    ]
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

    /// Every layout of the final block(s) (the prefix's partial block 0..=63 bytes long, so
    /// the counter at every offset and alignment, in one or two final blocks, across one to
    /// four prefix blocks) against the `hmac` crate computing from scratch.
    #[test]
    fn every_prefix_length_matches_the_hmac_crate() {
        let k = key(b"layout");
        for len in 0..=200usize {
            let prefix: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37) ^ 0x5a).collect();
            let a = Authenticator::from_prefix(&k, &prefix);
            assert_eq!(a.prefix_len(), len);
            let want_comp = if len % 64 + 8 + 9 <= 64 { 2 } else { 3 };
            assert_eq!(a.compressions_per_packet(), want_comp, "len {len}");
            for counter in [0u64, 1, 0x0102_0304_0506_0708, 0x8000_0000_0000_0000, u64::MAX] {
                let want = hmac_naive(&k, &[&prefix, &counter.to_be_bytes()]);
                assert_eq!(a.sign(counter), want, "len {len} counter {counter:#x}");
                assert!(a.verify(counter, &want));
                let mut bad = want;
                bad[19] ^= 1;
                assert!(!a.verify(counter, &bad));
            }
        }
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

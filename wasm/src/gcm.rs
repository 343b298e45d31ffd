//! AES-GCM (NIST SP 800-38D): one-shot seal/open and an incremental stream.

use crate::aes::{self, RoundKeys};
use crate::ct;
use crate::ghash::{Ghash, GhashStream, HKey, HPow, Step8};
use crate::v128::V;
use crate::vperm::VpKeys;

/// GCM's plaintext limit: 2^39 - 256 bits = 2^36 - 32 bytes.
pub const MAX_LEN: u64 = (1u64 << 36) - 32;

pub const ERR_IV: i32 = -1;
pub const ERR_LEN: i32 = -2;

pub const ERR_KEY: i32 = -3;

/// An expanded key: AES round keys and the GHASH key powers.
#[repr(C, align(16))]
pub struct Gcm {
    pub rk: RoundKeys,
    /// The same key for the one-block vector-permute path (E(K, J0) per message).
    pub vk: VpKeys,
    pub h: HKey,
}

impl Gcm {
    /// Initialises `self` in place (so no copy of the key schedule is left elsewhere).
    pub fn init(&mut self, key: &[u8]) -> bool {
        if !aes::expand(key, true, &mut self.rk) || !self.vk.expand(key) {
            return false;
        }
        let mut s = [V::zero(); 8];
        aes::encrypt8(&self.rk, &mut s);
        let mut h = s[0].to_bytes();
        self.h = HKey::new(&h);
        ct::wipe_bytes(&mut h);
        ct::wipe_planes(&mut s);
        true
    }

    fn keys(&self) -> Keys<'_> {
        Keys { rk: &self.rk, h: &self.h }
    }

    /// The pre-counter block J0.
    fn j0(&self, iv: &[u8]) -> [u8; 16] {
        j0_with(iv, |g, data| g.padded(&self.h, data), |g, a, c| g.lengths(&self.h, a, c))
    }

    /// E(K, J0), on the one-block vector-permute path.
    fn ej0(&self, j0: &[u8; 16]) -> [u8; 16] {
        self.vk.encrypt(V::from_bytes(*j0)).to_bytes()
    }

    #[inline(always)]
    fn keystream8(&self, ctr: &mut [u8; 16], out: &mut [u8; 128]) {
        self.keys().keystream8(ctr, out)
    }

    fn ctr_xor(&self, ctr: &mut [u8; 16], data: &mut [u8]) {
        self.keys().ctr_xor(ctr, data)
    }

    /// E(K, J0) ^ S.
    fn tag(&self, j0: &[u8; 16], g: &Ghash) -> [u8; 16] {
        tag_of(&self.ej0(j0), g)
    }

    pub fn seal(&self, iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &mut [u8]) -> i32 {
        if iv.is_empty() {
            return ERR_IV;
        }
        if buf.len() as u64 > MAX_LEN {
            return ERR_LEN;
        }
        let j0 = self.j0(iv);
        self.keys().seal(&j0, &self.ej0(&j0), aad, buf, tag);
        0
    }

    /// `open` with room for the keystream of the whole 128-byte chunks of `buf`
    /// (`ks.len() >= buf.len() & !127`), so the first pass can compute it alongside GHASH.
    /// The tag is compared in constant time before any plaintext byte is formed; on a
    /// mismatch `buf` is untouched. On return `ks` still holds keystream (never plaintext):
    /// the caller wipes it (`gcm_open` frees it, and `free` wipes), so it is wiped once.
    pub fn open_with(
        &self,
        iv: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
        ks: &mut [u8],
    ) -> i32 {
        if iv.is_empty() {
            return ERR_IV;
        }
        if buf.len() as u64 > MAX_LEN {
            return ERR_LEN;
        }
        let j0 = self.j0(iv);
        self.keys().open_with(&j0, &self.ej0(&j0), aad, buf, tag, ks)
    }

    pub fn open(&self, iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> i32 {
        if iv.is_empty() {
            return ERR_IV;
        }
        if buf.len() as u64 > MAX_LEN {
            return ERR_LEN;
        }
        let j0 = self.j0(iv);
        self.keys().open(&j0, &self.ej0(&j0), aad, buf, tag)
    }
}

/// J0 for `iv`: `IV || 0^31 || 1` for 12 bytes, else GHASH(IV padded || lengths), with the
/// GHASH steps supplied by the caller (all powers of H, or H alone).
#[inline(always)]
fn j0_with(
    iv: &[u8],
    padded: impl Fn(&mut Ghash, &[u8]),
    lengths: impl Fn(&mut Ghash, u64, u64),
) -> [u8; 16] {
    if iv.len() == 12 {
        let mut j = [0u8; 16];
        j[..12].copy_from_slice(iv);
        j[15] = 1;
        j
    } else {
        let mut g = Ghash::default();
        padded(&mut g, iv);
        lengths(&mut g, 0, iv.len() as u64);
        g.bytes()
    }
}

/// The tag: E(K, J0) ^ S.
fn tag_of(ej0: &[u8; 16], g: &Ghash) -> [u8; 16] {
    V::from_bytes(*ej0).xor(V::from_bytes(g.bytes())).to_bytes()
}

/// The bitsliced round keys and the GHASH key powers, borrowed from a `Gcm` or from the
/// stack of a one-shot call (`seal_once`, `open_once`): the bulk paths of seal and open.
/// E(K, J0) comes in precomputed, so neither needs the vector-permute key.
#[derive(Clone, Copy)]
struct Keys<'a> {
    rk: &'a RoundKeys,
    h: &'a HKey,
}

impl<'a> Keys<'a> {
    /// Encrypts eight counter blocks starting at `ctr` (32-bit big-endian increment of the
    /// last four bytes) into `out`, and advances `ctr` by 8.
    #[inline(always)]
    fn keystream8(&self, ctr: &mut [u8; 16], out: &mut [u8; 128]) {
        let mut s = counters8(ctr);
        aes::encrypt8(self.rk, &mut s);
        for (i, v) in s.iter().enumerate() {
            v.store(&mut out[16 * i..16 * i + 16]);
        }
        // The keystream must not outlive the call in the core's memory: with the ciphertext, it gives the plaintext.
        ct::wipe_planes(&mut s);
    }

    /// XORs the keystream from counter `ctr` into `data`; returns the counter after the last
    /// whole or partial block used.
    fn ctr_xor(&self, ctr: &mut [u8; 16], data: &mut [u8]) {
        let mut ks = [0u8; 128];
        let mut chunks = data.chunks_exact_mut(128);
        for c in &mut chunks {
            self.keystream8(ctr, &mut ks);
            xor_into(c, &ks);
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            self.keystream8(ctr, &mut ks);
            let n = rest.len();
            xor_into(rest, &ks[..n]);
        }
        ct::wipe_bytes(&mut ks);
    }

    /// CTR-encrypts `buf` (whole 128-byte chunks) in place and absorbs the ciphertext into
    /// `g`. The GHASH of chunk i-1 is spread over the AES rounds of chunk i, one block per
    /// round, so the scalar multiplies and the SIMD rounds run side by side. Same operations as
    /// `ctr_xor` then `Ghash::blocks`, only interleaved: no branch or index depends on data.
    #[inline(never)]
    fn seal_chunks(&self, ctr: &mut [u8; 16], g: &mut Ghash, buf: &mut [u8]) {
        debug_assert!(buf.len() % 128 == 0);
        if buf.is_empty() {
            return;
        }
        let mut s = counters8(ctr);
        aes::encrypt8(self.rk, &mut s);
        xor_planes(&mut buf[..128], &s);
        let mut off = 128;
        while off + 128 <= buf.len() {
            let (done, rest) = buf.split_at_mut(off);
            let prev: &[u8; 128] = done[off - 128..].try_into().unwrap();
            let mut st = Step8::new(*g, self.h, prev);
            s = counters8(ctr);
            aes::encrypt8_with(self.rk, &mut s, |r| {
                if r <= 8 {
                    st.block(r - 1);
                }
            });
            *g = st.finish();
            xor_planes(&mut rest[..128], &s);
            off += 128;
        }
        g.blocks(self.h, &buf[off - 128..off]);
        ct::wipe_planes(&mut s);
    }

    /// Open's first pass over whole 128-byte chunks: absorbs each ciphertext chunk into `g`
    /// and writes the keystream for it into `ks`, the GHASH of chunk i spread over the AES
    /// rounds of chunk i (they are independent here). No plaintext is formed: `buf` is only
    /// read, and the keystream waits in `ks` until the tag has been checked.
    #[inline(never)]
    fn open_chunks(&self, ctr: &mut [u8; 16], g: &mut Ghash, buf: &[u8], ks: &mut [u8]) {
        debug_assert!(buf.len() % 128 == 0 && ks.len() >= buf.len());
        let mut s = [V::zero(); 8];
        for (c, k) in buf.chunks_exact(128).zip(ks.chunks_exact_mut(128)) {
            let c: &[u8; 128] = c.try_into().unwrap();
            let mut st = Step8::new(*g, self.h, c);
            s = counters8(ctr);
            aes::encrypt8_with(self.rk, &mut s, |r| {
                if r <= 8 {
                    st.block(r - 1);
                }
            });
            *g = st.finish();
            for (i, v) in s.iter().enumerate() {
                v.store(&mut k[16 * i..]);
            }
        }
        ct::wipe_planes(&mut s);
    }

    /// Seals `buf` in place (checked lengths, J0 and E(K, J0) given); writes the tag.
    fn seal(&self, j0: &[u8; 16], ej0: &[u8; 16], aad: &[u8], buf: &mut [u8], tag: &mut [u8]) {
        let mut ctr = *j0;
        inc32(&mut ctr);
        let mut g = Ghash::default();
        g.padded(self.h, aad);
        let full = buf.len() & !127;
        let (chunks, tail) = buf.split_at_mut(full);
        self.seal_chunks(&mut ctr, &mut g, chunks);
        self.ctr_xor(&mut ctr, tail);
        g.padded(self.h, tail);
        g.lengths(self.h, aad.len() as u64, buf.len() as u64);
        tag[..16].copy_from_slice(&tag_of(ej0, &g));
    }

    /// `Gcm::open_with` once J0 and E(K, J0) are known.
    fn open_with(
        &self,
        j0: &[u8; 16],
        ej0: &[u8; 16],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
        ks: &mut [u8],
    ) -> i32 {
        let full = buf.len() & !127;
        let ks = &mut ks[..full];
        let mut ctr = *j0;
        inc32(&mut ctr);
        let mut g = Ghash::default();
        g.padded(self.h, aad);
        self.open_chunks(&mut ctr, &mut g, &buf[..full], ks);
        g.padded(self.h, &buf[full..]);
        g.lengths(self.h, aad.len() as u64, buf.len() as u64);
        let expect = tag_of(ej0, &g);
        if ct::ct_eq(&expect, &tag[..16]) != 1 {
            return 1;
        }
        xor_into(&mut buf[..full], ks);
        self.ctr_xor(&mut ctr, &mut buf[full..]);
        0
    }

    /// `Gcm::open` (two passes) once J0 and E(K, J0) are known.
    fn open(&self, j0: &[u8; 16], ej0: &[u8; 16], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> i32 {
        let mut g = Ghash::default();
        g.padded(self.h, aad);
        g.padded(self.h, buf);
        g.lengths(self.h, aad.len() as u64, buf.len() as u64);
        let expect = tag_of(ej0, &g);
        if ct::ct_eq(&expect, &tag[..16]) != 1 {
            return 1;
        }
        let mut ctr = *j0;
        inc32(&mut ctr);
        self.ctr_xor(&mut ctr, buf);
        0
    }
}

/// Inputs up to this many bytes are sealed and opened by `seal_once`/`open_once` with one
/// eight-block AES call in all (H, E(K, J0) and six keystream blocks) and GHASH by H alone.
pub const SHORT: usize = 96;

/// The state of one one-shot call, kept in one place on the caller's stack so that it is
/// initialised in place and wiped once (`wipe`), with no copies of the key schedule left
/// behind by moves.
#[repr(C, align(16))]
pub struct Once {
    rk: RoundKeys,
    /// H, E(K, J0) and the keystream blocks for counters J0+1..J0+6, as bytes.
    h: [u8; 16],
    ej0: [u8; 16],
    ks: [u8; SHORT],
    j0: [u8; 16],
}

impl Once {
    pub const fn empty() -> Once {
        Once { rk: RoundKeys::empty(), h: [0; 16], ej0: [0; 16], ks: [0; SHORT], j0: [0; 16] }
    }

    /// Expands `key` (bitsliced only: no vector-permute key) and encrypts the blocks
    /// 0, J0, J0+1, ..., J0+6 in one call. 0 or an error code.
    fn init(&mut self, key: &[u8], iv: &[u8], len: usize) -> i32 {
        if iv.is_empty() {
            return ERR_IV;
        }
        if len as u64 > MAX_LEN {
            return ERR_LEN;
        }
        if !aes::expand(key, true, &mut self.rk) {
            return ERR_KEY;
        }
        let mut s = [V::zero(); 8];
        if iv.len() != 12 {
            // J0 needs H first (a rare IV length: one more AES call).
            aes::encrypt8(&self.rk, &mut s);
            let mut hb = s[0].to_bytes();
            let mut h1 = HPow::from_bytes(&hb);
            self.j0 = j0_with(iv, |g, d| g.padded1(&h1, d), |g, a, c| g.lengths1(&h1, a, c));
            ct::wipe_bytes(&mut hb);
            ct::wipe_val(&mut h1);
        } else {
            self.j0 = j0_with(iv, |_, _| {}, |_, _, _| {});
        }
        s[0] = V::zero();
        s[1] = V::from_bytes(self.j0);
        let mut ctr = self.j0;
        for v in s[2..].iter_mut() {
            inc32(&mut ctr);
            *v = V::from_bytes(ctr);
        }
        aes::encrypt8(&self.rk, &mut s);
        self.h = s[0].to_bytes();
        self.ej0 = s[1].to_bytes();
        for (i, v) in s[2..].iter().enumerate() {
            v.store(&mut self.ks[16 * i..16 * i + 16]);
        }
        ct::wipe_planes(&mut s);
        0
    }

    pub fn wipe(&mut self) {
        ct::wipe_val(&mut self.rk);
        ct::wipe_bytes(&mut self.h);
        ct::wipe_bytes(&mut self.ej0);
        ct::wipe_bytes(&mut self.ks);
    }

    /// The tag of a short input (up to `SHORT` bytes of `ciphertext`), hashed with H
    /// alone: no table of H powers is built. H's expansion is wiped before returning.
    fn short_tag(&self, aad: &[u8], ciphertext: &[u8]) -> [u8; 16] {
        let mut h1 = HPow::from_bytes(&self.h);
        let mut g = Ghash::default();
        g.padded1(&h1, aad);
        g.padded1(&h1, ciphertext);
        g.lengths1(&h1, aad.len() as u64, ciphertext.len() as u64);
        ct::wipe_val(&mut h1);
        tag_of(&self.ej0, &g)
    }

    /// One-shot seal with a raw key (16, 24 or 32 bytes), without building a `Gcm`: the
    /// same bytes as `Gcm::seal`. Inputs of up to `SHORT` bytes take the short path; longer
    /// ones compute H^2..H^8 and run `Gcm::seal`'s interleaved path.
    pub fn seal(&mut self, key: &[u8], iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &mut [u8]) -> i32 {
        let r = self.init(key, iv, buf.len());
        if r != 0 {
            return r;
        }
        if buf.len() <= SHORT {
            let n = buf.len();
            xor_into(buf, &self.ks[..n]);
            tag[..16].copy_from_slice(&self.short_tag(aad, buf));
        } else {
            let mut h = HKey::new(&self.h);
            Keys { rk: &self.rk, h: &h }.seal(&self.j0, &self.ej0, aad, buf, tag);
            ct::wipe_val(&mut h);
        }
        0
    }

    /// One-shot open with a raw key: the same result as `Gcm::open_with` (or `Gcm::open`
    /// when `ks` is shorter than the whole chunks of `buf`). The tag is compared in constant
    /// time before any plaintext is formed; on a mismatch `buf` is untouched.
    pub fn open(&mut self, key: &[u8], iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8], ks: &mut [u8]) -> i32 {
        let r = self.init(key, iv, buf.len());
        if r != 0 {
            return r;
        }
        if buf.len() <= SHORT {
            if ct::ct_eq(&self.short_tag(aad, buf), &tag[..16]) != 1 {
                return 1;
            }
            let n = buf.len();
            xor_into(buf, &self.ks[..n]);
            return 0;
        }
        let mut h = HKey::new(&self.h);
        let k = Keys { rk: &self.rk, h: &h };
        let r = if ks.len() >= buf.len() & !127 {
            k.open_with(&self.j0, &self.ej0, aad, buf, tag, ks)
        } else {
            k.open(&self.j0, &self.ej0, aad, buf, tag)
        };
        ct::wipe_val(&mut h);
        r
    }
}

/// Eight counter blocks from `ctr` (32-bit big-endian increment of the last four bytes, a
/// public value); advances `ctr` by 8.
#[inline(always)]
fn counters8(ctr: &mut [u8; 16]) -> [V; 8] {
    let c = u32::from_be_bytes([ctr[12], ctr[13], ctr[14], ctr[15]]);
    let mut s = [V::zero(); 8];
    let mut b = *ctr;
    for (i, v) in s.iter_mut().enumerate() {
        b[12..].copy_from_slice(&c.wrapping_add(i as u32).to_be_bytes());
        *v = V::from_bytes(b);
    }
    ctr[12..].copy_from_slice(&c.wrapping_add(8).to_be_bytes());
    s
}

/// `dst[..128] ^= keystream planes` (block form).
#[inline(always)]
fn xor_planes(dst: &mut [u8], s: &[V; 8]) {
    for (i, v) in s.iter().enumerate() {
        V::load(&dst[16 * i..]).xor(*v).store(&mut dst[16 * i..]);
    }
}

#[inline(always)]
fn xor_into(dst: &mut [u8], src: &[u8]) {
    let n = dst.len();
    let mut i = 0;
    while i + 16 <= n {
        let v = V::load(&dst[i..]).xor(V::load(&src[i..]));
        v.store(&mut dst[i..]);
        i += 16;
    }
    while i < n {
        dst[i] ^= src[i];
        i += 1;
    }
}

fn inc32(b: &mut [u8; 16]) {
    let c = u32::from_be_bytes([b[12], b[13], b[14], b[15]]).wrapping_add(1);
    b[12..].copy_from_slice(&c.to_be_bytes());
}

/// An incremental GCM message. The key lives in a separate `Gcm` passed to each call.
#[repr(C, align(16))]
pub struct Stream {
    encrypt: bool,
    j0: [u8; 16],
    ctr: [u8; 16],
    ks: [u8; 128],
    ks_pos: usize,
    aad_len: u64,
    ct_len: u64,
    gh: GhashStream,
}

impl Stream {
    pub fn new(k: &Gcm, encrypt: bool, iv: &[u8], aad: &[u8]) -> Option<Stream> {
        if iv.is_empty() {
            return None;
        }
        let j0 = k.j0(iv);
        let mut ctr = j0;
        inc32(&mut ctr);
        let mut g = Ghash::default();
        g.padded(&k.h, aad);
        Some(Stream {
            encrypt,
            j0,
            ctr,
            ks: [0; 128],
            ks_pos: 128,
            aad_len: aad.len() as u64,
            ct_len: 0,
            gh: GhashStream::new(g),
        })
    }

    pub fn update(&mut self, k: &Gcm, buf: &mut [u8]) -> i32 {
        let total = self.ct_len + buf.len() as u64;
        if total > MAX_LEN {
            return ERR_LEN;
        }
        self.ct_len = total;
        if !self.encrypt {
            self.gh.update(&k.h, buf);
        }
        let mut off = 0;
        // Leftover keystream from the previous call.
        if self.ks_pos < 128 {
            let take = core::cmp::min(128 - self.ks_pos, buf.len());
            xor_into(&mut buf[..take], &self.ks[self.ks_pos..self.ks_pos + take]);
            self.ks_pos += take;
            off = take;
        }
        let rest = &mut buf[off..];
        let full = rest.len() & !127;
        if full > 0 {
            k.ctr_xor(&mut self.ctr, &mut rest[..full]);
        }
        let tail = &mut rest[full..];
        if !tail.is_empty() {
            k.keystream8(&mut self.ctr, &mut self.ks);
            let n = tail.len();
            xor_into(tail, &self.ks[..n]);
            self.ks_pos = n;
        }
        if self.encrypt {
            self.gh.update(&k.h, buf);
        }
        0
    }

    /// Encrypt: writes the tag, returns 0. Decrypt: 0 if `tag` matches, else 1.
    pub fn finish(&mut self, k: &Gcm, tag: &mut [u8]) -> i32 {
        let mut g = self.gh.finish(&k.h);
        g.lengths(&k.h, self.aad_len, self.ct_len);
        let t = k.tag(&self.j0, &g);
        if self.encrypt {
            tag[..16].copy_from_slice(&t);
            0
        } else {
            1 - ct::ct_eq(&t, &tag[..16]) as i32
        }
    }
}

//! SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869).

use crate::ct;
use crate::v128::V;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[derive(Clone, Copy)]
pub struct Sha256 {
    h: [u32; 8],
    buf: [u8; 64],
    n: usize,
    total: u64,
}

// One round with the registers renamed instead of moved (the caller rotates the names).
macro_rules! round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $k:expr, $w:expr) => {
        let t1 = $h
            .wrapping_add($e.rotate_right(6) ^ $e.rotate_right(11) ^ $e.rotate_right(25))
            .wrapping_add((($f ^ $g) & $e) ^ $g)
            .wrapping_add($k)
            .wrapping_add($w);
        let t2 = ($a.rotate_right(2) ^ $a.rotate_right(13) ^ $a.rotate_right(22))
            .wrapping_add($b ^ (($a ^ $b) & ($b ^ $c)));
        $d = $d.wrapping_add(t1);
        $h = t1.wrapping_add(t2);
    };
}

// Message schedule in a rolling 16-word window.
macro_rules! sched {
    ($w:ident, $i:expr) => {{
        let w15 = $w[($i + 1) & 15];
        let w2 = $w[($i + 14) & 15];
        let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
        let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
        $w[$i & 15] = $w[$i & 15].wrapping_add(s0).wrapping_add($w[($i + 9) & 15]).wrapping_add(s1);
        $w[$i & 15]
    }};
}

macro_rules! eight {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $i:expr, $w:ident, $x:ident) => {
        round!($a, $b, $c, $d, $e, $f, $g, $h, K[$i], $x!($w, $i));
        round!($h, $a, $b, $c, $d, $e, $f, $g, K[$i + 1], $x!($w, $i + 1));
        round!($g, $h, $a, $b, $c, $d, $e, $f, K[$i + 2], $x!($w, $i + 2));
        round!($f, $g, $h, $a, $b, $c, $d, $e, K[$i + 3], $x!($w, $i + 3));
        round!($e, $f, $g, $h, $a, $b, $c, $d, K[$i + 4], $x!($w, $i + 4));
        round!($d, $e, $f, $g, $h, $a, $b, $c, K[$i + 5], $x!($w, $i + 5));
        round!($c, $d, $e, $f, $g, $h, $a, $b, K[$i + 6], $x!($w, $i + 6));
        round!($b, $c, $d, $e, $f, $g, $h, $a, K[$i + 7], $x!($w, $i + 7));
    };
}

macro_rules! plain {
    ($w:ident, $i:expr) => {
        $w[$i]
    };
}

#[inline(always)]
fn compress(h: &mut [u32; 8], blocks: &[u8]) {
    let mut w = [0u32; 16];
    for blk in blocks.chunks_exact(64) {
        // Big-endian words with one byte swizzle per 16 bytes.
        const BSWAP32: V = V::from_bytes([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]);
        for i in 0..4 {
            let v = V::load(&blk[16 * i..]).swizzle(BSWAP32);
            w[4 * i] = v.lo64() as u32;
            w[4 * i + 1] = (v.lo64() >> 32) as u32;
            w[4 * i + 2] = v.hi64() as u32;
            w[4 * i + 3] = (v.hi64() >> 32) as u32;
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
        eight!(a, b, c, d, e, f, g, hh, 0, w, plain);
        eight!(a, b, c, d, e, f, g, hh, 8, w, plain);
        eight!(a, b, c, d, e, f, g, hh, 16, w, sched);
        eight!(a, b, c, d, e, f, g, hh, 24, w, sched);
        eight!(a, b, c, d, e, f, g, hh, 32, w, sched);
        eight!(a, b, c, d, e, f, g, hh, 40, w, sched);
        eight!(a, b, c, d, e, f, g, hh, 48, w, sched);
        eight!(a, b, c, d, e, f, g, hh, 56, w, sched);
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
        h[5] = h[5].wrapping_add(f);
        h[6] = h[6].wrapping_add(g);
        h[7] = h[7].wrapping_add(hh);
    }
    ct::wipe_u32(&mut w);
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256 { h: IV, buf: [0; 64], n: 0, total: 0 }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.n > 0 {
            let take = core::cmp::min(64 - self.n, data.len());
            self.buf[self.n..self.n + take].copy_from_slice(&data[..take]);
            self.n += take;
            data = &data[take..];
            if self.n < 64 {
                return;
            }
            let b = self.buf;
            compress(&mut self.h, &b);
            self.n = 0;
        }
        let full = data.len() & !63;
        compress(&mut self.h, &data[..full]);
        let rest = &data[full..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.n = rest.len();
    }

    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        let n = self.n;
        self.buf[n] = 0x80;
        for x in self.buf[n + 1..].iter_mut() {
            *x = 0;
        }
        if n >= 56 {
            let b = self.buf;
            compress(&mut self.h, &b);
            self.buf = [0; 64];
        }
        self.buf[56..].copy_from_slice(&bits.to_be_bytes());
        let b = self.buf;
        compress(&mut self.h, &b);
        let mut out = [0u8; 32];
        for i in 0..8 {
            out[4 * i..4 * i + 4].copy_from_slice(&self.h[i].to_be_bytes());
        }
        self.wipe();
        out
    }

    pub fn wipe(&mut self) {
        ct::wipe_u32(&mut self.h);
        ct::wipe_bytes(&mut self.buf);
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut s = Sha256::new();
    s.update(data);
    s.finish()
}

/// HMAC-SHA256 with the inner and outer states keyed once.
#[derive(Clone, Copy)]
pub struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    pub fn new(key: &[u8]) -> Hmac {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            let d = sha256(key);
            k[..32].copy_from_slice(&d);
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; 64];
        for i in 0..64 {
            pad[i] = k[i] ^ 0x36;
        }
        let mut inner = Sha256::new();
        inner.update(&pad);
        for i in 0..64 {
            pad[i] = k[i] ^ 0x5c;
        }
        let mut outer = Sha256::new();
        outer.update(&pad);
        ct::wipe_bytes(&mut pad);
        ct::wipe_bytes(&mut k);
        Hmac { inner, outer }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// Wipes both keyed states (for a keyed HMAC that is dropped unused).
    pub fn wipe(&mut self) {
        self.inner.wipe();
        self.outer.wipe();
    }

    pub fn finish(mut self) -> [u8; 32] {
        let mut d = self.inner.finish();
        self.outer.update(&d);
        ct::wipe_bytes(&mut d);
        let out = self.outer.finish();
        self.inner.wipe();
        self.outer.wipe();
        out
    }
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut h = Hmac::new(key);
    h.update(data);
    h.finish()
}

/// RFC 5869. Returns -1 if `out` is longer than 255 * 32 bytes.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8]) -> i32 {
    if out.len() > 255 * 32 {
        return -1;
    }
    let mut base = extract(ikm, salt);
    expand(&base, info, out);
    base.wipe();
    0
}

/// HKDF with one extract and several expands: `out` is `lens.len()` outputs of `out_len`
/// bytes, output `i` from the info that is the next `lens[i]` bytes of `infos`. Each output
/// equals `hkdf_sha256(ikm, salt, info_i)`; the PRK's padded inner and outer states are
/// computed once, so each further 32-byte output costs two SHA-256 compressions, not four.
/// Returns -1 if `out_len` is over 255 * 32 bytes or the lengths do not add up.
pub fn hkdf_sha256_each(
    ikm: &[u8],
    salt: &[u8],
    infos: &[u8],
    lens: &[u32],
    out: &mut [u8],
    out_len: usize,
) -> i32 {
    if out_len > 255 * 32 || out.len() != lens.len() * out_len {
        return -1;
    }
    let mut total = 0usize;
    for &n in lens {
        total += n as usize;
    }
    if total != infos.len() {
        return -1;
    }
    let mut base = extract(ikm, salt);
    let mut off = 0;
    for (&n, o) in lens.iter().zip(out.chunks_exact_mut(out_len.max(1))) {
        let n = n as usize;
        expand(&base, &infos[off..off + n], &mut o[..out_len]);
        off += n;
    }
    base.wipe();
    0
}

/// HKDF-Extract, returned as the HMAC keyed with the PRK (the PRK itself is wiped).
fn extract(ikm: &[u8], salt: &[u8]) -> Hmac {
    let zero = [0u8; 32];
    let salt = if salt.is_empty() { &zero[..] } else { salt };
    let mut prk = hmac_sha256(salt, ikm);
    let base = Hmac::new(&prk);
    ct::wipe_bytes(&mut prk);
    base
}

/// HKDF-Expand from the HMAC keyed with the PRK; `out` at most 255 * 32 bytes (checked by
/// the callers).
fn expand(base: &Hmac, info: &[u8], out: &mut [u8]) {
    let mut t = [0u8; 32];
    let mut tlen = 0;
    let mut i: u8 = 1;
    let mut off = 0;
    while off < out.len() {
        let mut h = *base;
        h.update(&t[..tlen]);
        h.update(info);
        h.update(&[i]);
        t = h.finish();
        tlen = 32;
        let n = core::cmp::min(32, out.len() - off);
        out[off..off + n].copy_from_slice(&t[..n]);
        off += n;
        i = i.wrapping_add(1);
    }
    ct::wipe_bytes(&mut t);
}

//! GHASH in constant time with integer multiplies "with holes" (the ctmul64 technique).
//!
//! A carry-less 64x64 product is split into four interleaved operands (every fourth bit);
//! ordinary integer multiplies of those cannot carry into a bit we keep, so the low 64 bits
//! of the carry-less product are recovered with masks. The high 64 bits come from the same
//! routine on bit-reversed operands. Three such products per half (Karatsuba) give the
//! 256-bit product, reduced modulo x^128 + x^7 + x^2 + x + 1 in GCM's reflected bit order.
//! Eight blocks (then four, then one) are aggregated per reduction with precomputed
//! H, H^2, ..., H^8.
//! No table and no branch depends on H or the data. Timing is only as constant as the
//! engine's 64-bit integer multiply (see wasm/README.md).

use crate::v128::V;

const M0: u64 = 0x1111_1111_1111_1111;
const M1: u64 = 0x2222_2222_2222_2222;
const M2: u64 = 0x4444_4444_4444_4444;
const M3: u64 = 0x8888_8888_8888_8888;

/// An operand split into its four interleaved bit classes (precomputed for the H powers).
#[derive(Clone, Copy, Default)]
pub struct Split([u64; 4]);

impl Split {
    #[inline(always)]
    pub fn new(x: u64) -> Split {
        Split([x & M0, x & M1, x & M2, x & M3])
    }
}

/// Low 64 bits of the carry-less product of `x` and `y`.
#[inline(always)]
fn bmul64(x: u64, y: &Split) -> u64 {
    let x0 = x & M0;
    let x1 = x & M1;
    let x2 = x & M2;
    let x3 = x & M3;
    let [y0, y1, y2, y3] = y.0;
    let z0 = x0.wrapping_mul(y0) ^ x1.wrapping_mul(y3) ^ x2.wrapping_mul(y2) ^ x3.wrapping_mul(y1);
    let z1 = x0.wrapping_mul(y1) ^ x1.wrapping_mul(y0) ^ x2.wrapping_mul(y3) ^ x3.wrapping_mul(y2);
    let z2 = x0.wrapping_mul(y2) ^ x1.wrapping_mul(y1) ^ x2.wrapping_mul(y0) ^ x3.wrapping_mul(y3);
    let z3 = x0.wrapping_mul(y3) ^ x1.wrapping_mul(y2) ^ x2.wrapping_mul(y1) ^ x3.wrapping_mul(y0);
    (z0 & M0) | (z1 & M1) | (z2 & M2) | (z3 & M3)
}

#[inline(always)]
fn rev64(x: u64) -> u64 {
    x.reverse_bits()
}

/// A power of H in the forms the multiplier needs. `hi`/`lo` are the big-endian halves.
#[derive(Clone, Copy, Default)]
pub struct HPow {
    hi: u64,
    lo: u64,
    h0: Split,
    h1: Split,
    h2: Split,
    h0r: Split,
    h1r: Split,
    h2r: Split,
}

impl HPow {
    /// H from its 16 bytes (big-endian halves).
    pub fn from_bytes(h: &[u8; 16]) -> HPow {
        HPow::new(be64(&h[..8]), be64(&h[8..]))
    }

    pub fn new(hi: u64, lo: u64) -> HPow {
        let h0 = lo;
        let h1 = hi;
        let h0r = rev64(h0);
        let h1r = rev64(h1);
        HPow {
            hi,
            lo,
            h0: Split::new(h0),
            h1: Split::new(h1),
            h2: Split::new(h0 ^ h1),
            h0r: Split::new(h0r),
            h1r: Split::new(h1r),
            h2r: Split::new(h0r ^ h1r),
        }
    }
}

/// Unreduced accumulator: the six partial products, summed over aggregated blocks.
#[derive(Default)]
struct Acc {
    z0: u64,
    z1: u64,
    z2: u64,
    z0h: u64,
    z1h: u64,
    z2h: u64,
}

impl Acc {
    /// acc += (y1:y0) * h, unreduced.
    #[inline(always)]
    fn mul_add(&mut self, y1: u64, y0: u64, h: &HPow) {
        self.mul_add_r(y1, y0, rev64(y1), rev64(y0), h)
    }

    /// The same with the bit-reversed halves supplied by the caller.
    #[inline(always)]
    fn mul_add_r(&mut self, y1: u64, y0: u64, y1r: u64, y0r: u64, h: &HPow) {
        self.z0 ^= bmul64(y0, &h.h0);
        self.z1 ^= bmul64(y1, &h.h1);
        self.z2 ^= bmul64(y0 ^ y1, &h.h2);
        self.z0h ^= bmul64(y0r, &h.h0r);
        self.z1h ^= bmul64(y1r, &h.h1r);
        self.z2h ^= bmul64(y0r ^ y1r, &h.h2r);
    }

    /// Combines the partial products and reduces; returns (hi, lo).
    #[inline(always)]
    fn reduce(&self) -> (u64, u64) {
        let z0 = self.z0;
        let z1 = self.z1;
        let z2 = self.z2 ^ z0 ^ z1;
        let z0h = rev64(self.z0h) >> 1;
        let z1h = rev64(self.z1h) >> 1;
        let z2h = rev64(self.z2h ^ self.z0h ^ self.z1h) >> 1;

        let mut v0 = z0;
        let mut v1 = z0h ^ z2;
        let mut v2 = z1 ^ z2h;
        let mut v3 = z1h;

        v3 = (v3 << 1) | (v2 >> 63);
        v2 = (v2 << 1) | (v1 >> 63);
        v1 = (v1 << 1) | (v0 >> 63);
        v0 <<= 1;

        v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
        v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
        v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
        v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);
        (v3, v2)
    }
}

/// A block as (y1, y0, rev64(y1), rev64(y0)) where y1/y0 are its big-endian halves, using
/// lane operations: a byte swap per half, and a bit reversal of every byte through two
/// nibble tables (a register permutation, so constant time).
#[inline(always)]
fn load_block(c: &[u8]) -> (u64, u64, u64, u64) {
    const BSWAP: V = V::from_bytes([7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8]);
    const M0F: V = V::from_bytes([0x0f; 16]);
    // rev4(n) << 4 and rev4(n).
    const REV_LO: V = V::from_bytes([
        0x00, 0x80, 0x40, 0xc0, 0x20, 0xa0, 0x60, 0xe0, 0x10, 0x90, 0x50, 0xd0, 0x30, 0xb0, 0x70, 0xf0,
    ]);
    const REV_HI: V = V::from_bytes([
        0x0, 0x8, 0x4, 0xc, 0x2, 0xa, 0x6, 0xe, 0x1, 0x9, 0x5, 0xd, 0x3, 0xb, 0x7, 0xf,
    ]);
    let v = V::load(c);
    let be = v.swizzle(BSWAP);
    // rev64(be64(x0..x7)) = le64(rev8(x0), .., rev8(x7)).
    let r = REV_LO.swizzle(v.and(M0F)).or(REV_HI.swizzle(v.shr64(4).and(M0F)));
    (be.lo64(), be.hi64(), r.lo64(), r.hi64())
}

#[inline(always)]
fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// H, H^2, ..., H^8 (p[i] = H^(i+1)).
#[derive(Clone, Copy, Default)]
pub struct HKey {
    pub p: [HPow; 8],
}

impl HKey {
    pub fn new(h: &[u8; 16]) -> HKey {
        let h1 = HPow::from_bytes(h);
        let mut p = [h1; 8];
        for i in 1..8 {
            let mut a = Acc::default();
            a.mul_add(p[i - 1].hi, p[i - 1].lo, &h1);
            let (hi, lo) = a.reduce();
            p[i] = HPow::new(hi, lo);
        }
        HKey { p }
    }
}

/// The running GHASH value Y.
#[derive(Clone, Copy, Default)]
pub struct Ghash {
    pub hi: u64,
    pub lo: u64,
}

impl Ghash {
    /// Y = (Y + X1) H^N + X2 H^(N-1) + ... + XN H, with one reduction.
    #[inline(always)]
    fn aggregate<const N: usize>(&mut self, k: &HKey, c: &[u8]) {
        let mut a = Acc::default();
        let (y1, y0, y1r, y0r) = load_block(&c[0..]);
        a.mul_add_r(
            self.hi ^ y1,
            self.lo ^ y0,
            rev64(self.hi) ^ y1r,
            rev64(self.lo) ^ y0r,
            &k.p[N - 1],
        );
        for i in 1..N {
            let (y1, y0, y1r, y0r) = load_block(&c[16 * i..]);
            a.mul_add_r(y1, y0, y1r, y0r, &k.p[N - 1 - i]);
        }
        let (hi, lo) = a.reduce();
        self.hi = hi;
        self.lo = lo;
    }

    /// Absorbs whole 16-byte blocks (`data.len()` a multiple of 16).
    pub fn blocks(&mut self, k: &HKey, data: &[u8]) {
        debug_assert!(data.len() % 16 == 0);
        let mut big = data.chunks_exact(128);
        for c in &mut big {
            self.aggregate::<8>(k, c);
        }
        let mut chunks = big.remainder().chunks_exact(64);
        for c in &mut chunks {
            self.aggregate::<4>(k, c);
        }
        for c in chunks.remainder().chunks_exact(16) {
            self.block1(&k.p[0], c);
        }
    }

    /// Y = (Y + X) H for one 16-byte block.
    #[inline(always)]
    fn block1(&mut self, h: &HPow, c: &[u8]) {
        let mut a = Acc::default();
        let (y1, y0, y1r, y0r) = load_block(c);
        a.mul_add_r(self.hi ^ y1, self.lo ^ y0, rev64(self.hi) ^ y1r, rev64(self.lo) ^ y0r, h);
        let (hi, lo) = a.reduce();
        self.hi = hi;
        self.lo = lo;
    }

    /// `padded` with H alone, one reduction per block: for short inputs, where computing
    /// H^2..H^8 first would cost more multiplies than aggregation saves. Same value.
    pub fn padded1(&mut self, h: &HPow, data: &[u8]) {
        let mut b = [0u8; 16];
        for c in data.chunks(16) {
            b[..c.len()].copy_from_slice(c);
            for x in b[c.len()..].iter_mut() {
                *x = 0;
            }
            self.block1(h, &b);
        }
        crate::ct::wipe_bytes(&mut b);
    }

    /// `lengths` with H alone.
    pub fn lengths1(&mut self, h: &HPow, aad_len: u64, ct_len: u64) {
        self.block1(h, &lengths_block(aad_len, ct_len));
    }

    /// Absorbs `data`, zero-padding a final partial block.
    pub fn padded(&mut self, k: &HKey, data: &[u8]) {
        let full = data.len() & !15;
        self.blocks(k, &data[..full]);
        if full < data.len() {
            let mut b = [0u8; 16];
            b[..data.len() - full].copy_from_slice(&data[full..]);
            self.blocks(k, &b);
        }
    }

    /// Absorbs the lengths block (bit lengths of AAD and ciphertext).
    pub fn lengths(&mut self, k: &HKey, aad_len: u64, ct_len: u64) {
        self.blocks(k, &lengths_block(aad_len, ct_len));
    }

    pub fn bytes(&self) -> [u8; 16] {
        let mut o = [0u8; 16];
        o[..8].copy_from_slice(&self.hi.to_be_bytes());
        o[8..].copy_from_slice(&self.lo.to_be_bytes());
        o
    }
}

/// The lengths block: bit lengths of AAD and ciphertext, big-endian.
fn lengths_block(aad_len: u64, ct_len: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(aad_len.wrapping_mul(8)).to_be_bytes());
    b[8..].copy_from_slice(&(ct_len.wrapping_mul(8)).to_be_bytes());
    b
}

/// One eight-block aggregation (the same arithmetic as `Ghash::blocks` on 128 bytes), done a
/// block at a time so the caller can spread it over the AES rounds of another chunk
/// (`aes::encrypt8_with`): `block(0)` .. `block(7)` in any order, then `finish`.
/// Block indices are public loop counters; nothing is indexed or branched on by data.
pub struct Step8<'a> {
    acc: Acc,
    y: Ghash,
    k: &'a HKey,
    c: &'a [u8; 128],
}

impl<'a> Step8<'a> {
    /// Starts `Y' = (Y + C0) H^8 + C1 H^7 + ... + C7 H` for the chunk `c`.
    #[inline(always)]
    pub fn new(y: Ghash, k: &'a HKey, c: &'a [u8; 128]) -> Step8<'a> {
        Step8 { acc: Acc::default(), y, k, c }
    }

    /// Adds block `i` (0..8) times H^(8-i); block 0 also carries the running value Y.
    #[inline(always)]
    pub fn block(&mut self, i: usize) {
        let i = i & 7;
        let (mut y1, mut y0, mut y1r, mut y0r) = load_block(&self.c[16 * i..]);
        if i == 0 {
            y1 ^= self.y.hi;
            y0 ^= self.y.lo;
            y1r ^= rev64(self.y.hi);
            y0r ^= rev64(self.y.lo);
        }
        self.acc.mul_add_r(y1, y0, y1r, y0r, &self.k.p[7 - i]);
    }

    /// Reduces once for the eight blocks and returns Y'.
    #[inline(always)]
    pub fn finish(self) -> Ghash {
        let (hi, lo) = self.acc.reduce();
        Ghash { hi, lo }
    }
}

/// Buffers arbitrary splits into whole blocks for streaming.
#[derive(Clone, Copy)]
pub struct GhashStream {
    pub g: Ghash,
    buf: [u8; 64],
    n: usize,
}

impl GhashStream {
    pub fn new(g: Ghash) -> GhashStream {
        GhashStream { g, buf: [0; 64], n: 0 }
    }

    pub fn update(&mut self, k: &HKey, mut data: &[u8]) {
        if self.n > 0 {
            let take = core::cmp::min(64 - self.n, data.len());
            self.buf[self.n..self.n + take].copy_from_slice(&data[..take]);
            self.n += take;
            data = &data[take..];
            if self.n < 64 {
                return;
            }
            let b = self.buf;
            self.g.blocks(k, &b);
            self.n = 0;
        }
        let full = data.len() & !63;
        self.g.blocks(k, &data[..full]);
        let rest = &data[full..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.n = rest.len();
    }

    /// Flushes buffered bytes, zero-padded to a whole block.
    pub fn finish(&mut self, k: &HKey) -> Ghash {
        let n = self.n;
        let b = self.buf;
        self.g.padded(k, &b[..n]);
        self.n = 0;
        self.g
    }
}

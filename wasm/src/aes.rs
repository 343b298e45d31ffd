//! Bitsliced AES over 128-bit lanes, eight blocks at a time, in constant time.
//!
//! Layout ("byte-planar bitslicing"): eight blocks B0..B7 become eight planes P0..P7, where
//! bit `k` of byte `j` of plane `b` is bit `b` of byte `j` of block `k`. The transform is an
//! 8x8 bit transpose per byte position (three SWAPMOVE layers) and is its own inverse.
//! SubBytes is the Boyar-Peralta circuit (ANDs and XORs on whole planes, no tables).
//! Because every byte position of the AES state keeps its own byte in each plane,
//! ShiftRows and the row rotations of MixColumns are fixed byte permutations of each plane
//! (one `i8x16.swizzle` with a constant, public index vector), and xtime is a re-wiring of
//! planes plus three XORs. No memory access or branch ever depends on key or data.
//!
//! The circuit computes S(x) ^ 0x63 (it drops the four NOTs); encryption round keys 1..Nr
//! carry the 0x63 instead, which is exact because MixColumns maps an all-0x63 state to
//! itself.

use crate::v128::V;

pub type Planes = [V; 8];

/// Round keys in plane form. `nr` is 10, 12 or 14.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct RoundKeys {
    pub rk: [Planes; 15],
    pub nr: usize,
}

// State byte j = row + 4 * column. ShiftRows is out[r + 4c] = in[r + 4((c + r) % 4)]; the
// MixColumns row rotations are out[r + 4c] = in[(r + k) % 4 + 4c]. Both directions are
// fixsliced: (Inv)ShiftRows is never applied, it is folded into phase-dependent rotations.

// Fixslicing (Adomnicai & Peyrin's idea, in this byte-planar layout): encryption skips
// ShiftRows. After r rounds the stored state is the true state permuted by SIGMA[r % 4]
// (stored[j] = true[SIGMA[j]]); MixColumns' row rotations become the conjugated permutations
// Q1/Q2 for that phase, round key r is stored permuted by SIGMA[r % 4], and one permutation at
// the end (none for AES-192, where Nr % 4 == 0) restores the true order. Derived by
// composing ShiftRows with the phase (checked by the FIPS-197 and GCM vectors in tests.rs).
pub const SIGMA: [[u8; 16]; 4] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3],
    [0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 5, 14, 7],
    [0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11],
];
// SIGMA[2] is an involution; it is the fix-up for Nr = 10 and Nr = 14.
pub const FIX2: V = V::from_bytes(SIGMA[2]);
pub const Q1: [[u8; 16]; 4] = [
    [5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0],
    [9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4],
    [13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8],
    [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12],
];
pub const Q2: [[u8; 16]; 4] = [
    [10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5],
    [2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13],
    [10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5],
    [2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13],
];

/// MixColumns + AddRoundKey in fixsliced phase P (ShiftRows folded into the permutations).
#[inline(always)]
fn mix_ark_fs<const P: usize>(s: &mut Planes, rk: &Planes) {
    let q1 = V::from_bytes(Q1[P]);
    let q2 = V::from_bytes(Q2[P]);
    let mut a1 = [V::zero(); 8];
    let mut t = [V::zero(); 8];
    for b in 0..8 {
        a1[b] = s[b].swizzle(q1);
        t[b] = s[b].xor(a1[b]);
    }
    let xt = xtime(&t);
    for b in 0..8 {
        s[b] = a1[b].xor(t[b].swizzle(q2)).xor(xt[b]).xor(rk[b]);
    }
}

#[inline(always)]
fn swapmove(a: V, b: V, mask: V, n: u32) -> (V, V) {
    let t = a.shr64(n).xor(b).and(mask);
    (a.xor(t.shl64(n)), b.xor(t))
}

/// Eight blocks <-> eight planes (an involution).
#[inline(always)]
pub fn transpose(r: &mut Planes) {
    let m1 = V::splat8(0x55);
    let m2 = V::splat8(0x33);
    let m4 = V::splat8(0x0f);
    let mut k = 0;
    while k < 8 {
        let (a, b) = swapmove(r[k], r[k + 1], m1, 1);
        r[k] = a;
        r[k + 1] = b;
        k += 2;
    }
    for &k in &[0usize, 1, 4, 5] {
        let (a, b) = swapmove(r[k], r[k + 2], m2, 2);
        r[k] = a;
        r[k + 2] = b;
    }
    for k in 0..4 {
        let (a, b) = swapmove(r[k], r[k + 4], m4, 4);
        r[k] = a;
        r[k + 4] = b;
    }
}

/// Boyar-Peralta S-box circuit on planes; q[0] is the least significant bit.
/// Computes S(x) ^ 0x63.
#[inline(always)]
pub fn sbox_nonot(q: &mut Planes) {
    let x0 = q[7];
    let x1 = q[6];
    let x2 = q[5];
    let x3 = q[4];
    let x4 = q[3];
    let x5 = q[2];
    let x6 = q[1];
    let x7 = q[0];

    // Top linear layer.
    let y14 = x3.xor(x5);
    let y13 = x0.xor(x6);
    let y9 = x0.xor(x3);
    let y8 = x0.xor(x5);
    let t0 = x1.xor(x2);
    let y1 = t0.xor(x7);
    let y4 = y1.xor(x3);
    let y12 = y13.xor(y14);
    let y2 = y1.xor(x0);
    let y5 = y1.xor(x6);
    let y3 = y5.xor(y8);
    let t1 = x4.xor(y12);
    let y15 = t1.xor(x5);
    let y20 = t1.xor(x1);
    let y6 = y15.xor(x7);
    let y10 = y15.xor(t0);
    let y11 = y20.xor(y9);
    let y7 = x7.xor(y11);
    let y17 = y10.xor(y11);
    let y19 = y10.xor(y8);
    let y16 = t0.xor(y11);
    let y21 = y13.xor(y16);
    let y18 = x0.xor(y16);

    // Non-linear middle.
    let t2 = y12.and(y15);
    let t3 = y3.and(y6);
    let t4 = t3.xor(t2);
    let t5 = y4.and(x7);
    let t6 = t5.xor(t2);
    let t7 = y13.and(y16);
    let t8 = y5.and(y1);
    let t9 = t8.xor(t7);
    let t10 = y2.and(y7);
    let t11 = t10.xor(t7);
    let t12 = y9.and(y11);
    let t13 = y14.and(y17);
    let t14 = t13.xor(t12);
    let t15 = y8.and(y10);
    let t16 = t15.xor(t12);
    let t17 = t4.xor(t14);
    let t18 = t6.xor(t16);
    let t19 = t9.xor(t14);
    let t20 = t11.xor(t16);
    let t21 = t17.xor(y20);
    let t22 = t18.xor(y19);
    let t23 = t19.xor(y21);
    let t24 = t20.xor(y18);

    let t25 = t21.xor(t22);
    let t26 = t21.and(t23);
    let t27 = t24.xor(t26);
    let t28 = t25.and(t27);
    let t29 = t28.xor(t22);
    let t30 = t23.xor(t24);
    let t31 = t22.xor(t26);
    let t32 = t31.and(t30);
    let t33 = t32.xor(t24);
    let t34 = t23.xor(t33);
    let t35 = t27.xor(t33);
    let t36 = t24.and(t35);
    let t37 = t36.xor(t34);
    let t38 = t27.xor(t36);
    let t39 = t29.and(t38);
    let t40 = t25.xor(t39);

    let t41 = t40.xor(t37);
    let t42 = t29.xor(t33);
    let t43 = t29.xor(t40);
    let t44 = t33.xor(t37);
    let t45 = t42.xor(t41);
    let z0 = t44.and(y15);
    let z1 = t37.and(y6);
    let z2 = t33.and(x7);
    let z3 = t43.and(y16);
    let z4 = t40.and(y1);
    let z5 = t29.and(y7);
    let z6 = t42.and(y11);
    let z7 = t45.and(y17);
    let z8 = t41.and(y10);
    let z9 = t44.and(y12);
    let z10 = t37.and(y3);
    let z11 = t33.and(y4);
    let z12 = t43.and(y13);
    let z13 = t40.and(y5);
    let z14 = t29.and(y2);
    let z15 = t42.and(y9);
    let z16 = t45.and(y14);
    let z17 = t41.and(y8);

    // Bottom linear layer (NOTs of s1, s2, s6, s7 dropped: output is S(x) ^ 0x63).
    let t46 = z15.xor(z16);
    let t47 = z10.xor(z11);
    let t48 = z5.xor(z13);
    let t49 = z9.xor(z10);
    let t50 = z2.xor(z12);
    let t51 = z2.xor(z5);
    let t52 = z7.xor(z8);
    let t53 = z0.xor(z3);
    let t54 = z6.xor(z7);
    let t55 = z16.xor(z17);
    let t56 = z12.xor(t48);
    let t57 = t50.xor(t53);
    let t58 = z4.xor(t46);
    let t59 = z3.xor(t54);
    let t60 = t46.xor(t57);
    let t61 = z14.xor(t57);
    let t62 = t52.xor(t58);
    let t63 = t49.xor(t58);
    let t64 = z4.xor(t59);
    let t65 = t61.xor(t62);
    let t66 = z1.xor(t63);
    let s0 = t59.xor(t63);
    let s6 = t56.xor(t62);
    let s7 = t48.xor(t60);
    let t67 = t64.xor(t65);
    let s3 = t53.xor(t66);
    let s4 = t51.xor(t66);
    let s5 = t47.xor(t65);
    let s1 = t64.xor(s3);
    let s2 = t55.xor(t67);

    q[7] = s0;
    q[6] = s1;
    q[5] = s2;
    q[4] = s3;
    q[3] = s4;
    q[2] = s5;
    q[1] = s6;
    q[0] = s7;
}

/// The linear part of the inverse affine map: out_i = in_{i-1} ^ in_{i-3} ^ in_{i-6}.
#[inline(always)]
fn linv(q: &mut Planes) {
    let p = *q;
    for i in 0..8 {
        q[i] = p[(i + 7) & 7].xor(p[(i + 5) & 7]).xor(p[(i + 2) & 7]);
    }
}

/// InvSubBytes: InvS(x) = L^-1(S'(L^-1(x ^ 0x63))) where S' = S ^ 0x63.
#[inline(always)]
fn inv_sbox(q: &mut Planes) {
    q[0] = q[0].not();
    q[1] = q[1].not();
    q[5] = q[5].not();
    q[6] = q[6].not();
    linv(q);
    sbox_nonot(q);
    linv(q);
}

/// Multiply every byte by x (plane re-wiring; 0x1b = bits 0, 1, 3, 4).
#[inline(always)]
fn xtime(t: &Planes) -> Planes {
    [
        t[7],
        t[0].xor(t[7]),
        t[1],
        t[2].xor(t[7]),
        t[3].xor(t[7]),
        t[4],
        t[5],
        t[6],
    ]
}

#[inline(always)]
fn ark(s: &mut Planes, rk: &Planes) {
    for b in 0..8 {
        s[b] = s[b].xor(rk[b]);
    }
}

/// Encrypts eight blocks (in block form, in place) with (fixsliced) encryption round keys.
#[inline(never)]
pub fn encrypt8(k: &RoundKeys, s: &mut Planes) {
    // The same steps as `encrypt8_with` without the hook, written out: built through the
    // hook with an empty closure, LLVM ordered the rounds differently and V8's code for
    // this function was about 10% slower.
    transpose(s);
    ark(s, &k.rk[0]);
    for r in 1..k.nr {
        sbox_nonot(s);
        let rk = &k.rk[r];
        match (r - 1) % 4 {
            0 => mix_ark_fs::<0>(s, rk),
            1 => mix_ark_fs::<1>(s, rk),
            2 => mix_ark_fs::<2>(s, rk),
            _ => mix_ark_fs::<3>(s, rk),
        }
    }
    last_round(k, s);
}

/// `encrypt8` calling `work(r)` after each of the rounds r = 1..Nr-1, so a caller can
/// interleave independent scalar work (GCM's GHASH) with the SIMD rounds: the two use
/// different execution units, and the CPU overlaps them only when their instructions are
/// close together in the stream. `r` is the public round number; `work` must not touch `s`.
#[inline(always)]
pub fn encrypt8_with(k: &RoundKeys, s: &mut Planes, mut work: impl FnMut(usize)) {
    transpose(s);
    ark(s, &k.rk[0]);
    for r in 1..k.nr {
        sbox_nonot(s);
        let rk = &k.rk[r];
        match (r - 1) % 4 {
            0 => mix_ark_fs::<0>(s, rk),
            1 => mix_ark_fs::<1>(s, rk),
            2 => mix_ark_fs::<2>(s, rk),
            _ => mix_ark_fs::<3>(s, rk),
        }
        work(r);
    }
    last_round(k, s);
}

/// The last round (no MixColumns), the fixslicing fix-up and the transpose back.
#[inline(always)]
fn last_round(k: &RoundKeys, s: &mut Planes) {
    sbox_nonot(s);
    ark(s, &k.rk[k.nr]);
    if k.nr % 4 == 2 {
        for b in 0..8 {
            s[b] = s[b].swizzle(FIX2);
        }
    }
    transpose(s);
}

/// InvMixColumns (as MixColumns after a ^= x^2 * (a ^ r2(a))) with the row rotations
/// conjugated for fixsliced phase Q (see `decrypt8`).
#[inline(always)]
fn inv_mix_fs<const Q: usize>(s: &mut Planes, rk: &Planes) {
    let q1 = V::from_bytes(Q1[Q]);
    let q2 = V::from_bytes(Q2[Q]);
    let mut u = [V::zero(); 8];
    for b in 0..8 {
        s[b] = s[b].xor(rk[b]);
        u[b] = s[b].xor(s[b].swizzle(q2));
    }
    let w = xtime(&xtime(&u));
    let mut a1 = [V::zero(); 8];
    let mut t = [V::zero(); 8];
    for b in 0..8 {
        s[b] = s[b].xor(w[b]);
        a1[b] = s[b].swizzle(q1);
        t[b] = s[b].xor(a1[b]);
    }
    let xt = xtime(&t);
    for b in 0..8 {
        s[b] = a1[b].xor(t[b].swizzle(q2)).xor(xt[b]);
    }
}

/// Decrypts eight blocks (in block form, in place) with (fixsliced) decryption round keys.
///
/// Fixsliced like encryption but in the other direction: InvShiftRows is skipped, so after
/// step i the stored state is the true one permuted by ShiftRows^i; that phase's conjugated
/// rotations are encryption's Q1/Q2 of phase (2 - p) mod 4 for step p + 1, the round key used
/// at step i is stored permuted by SIGMA[(4 - i % 4) % 4], and FIX2 restores the order.
#[inline(never)]
pub fn decrypt8(k: &RoundKeys, s: &mut Planes) {
    transpose(s);
    ark(s, &k.rk[k.nr]);
    for i in 1..k.nr {
        inv_sbox(s);
        let rk = &k.rk[k.nr - i];
        match (i - 1) % 4 {
            0 => inv_mix_fs::<2>(s, rk),
            1 => inv_mix_fs::<1>(s, rk),
            2 => inv_mix_fs::<0>(s, rk),
            _ => inv_mix_fs::<3>(s, rk),
        }
    }
    inv_sbox(s);
    ark(s, &k.rk[0]);
    if k.nr % 4 == 2 {
        for b in 0..8 {
            s[b] = s[b].swizzle(FIX2);
        }
    }
    transpose(s);
}

/// The planes of eight blocks of which only block 0 is `v` (the others zero): plane b holds
/// bit b of each byte of `v` in bit 0 of that byte. The same as `transpose` of `[v, 0, .., 0]`
/// for a fraction of the work. (A 64-bit shift moves bits across bytes, but only into bit
/// positions the mask clears.)
#[inline(always)]
pub fn planes_of_one(v: V) -> Planes {
    let one = V::splat8(0x01);
    let mut p = [V::zero(); 8];
    for (b, x) in p.iter_mut().enumerate() {
        *x = v.shr64(b as u32).and(one);
    }
    p
}

/// Block 0 of the planes `p` (the inverse of `planes_of_one`, ignoring the other blocks).
#[inline(always)]
pub fn block0_of(p: &Planes) -> V {
    let one = V::splat8(0x01);
    let mut v = V::zero();
    for (b, x) in p.iter().enumerate() {
        v = v.or(x.and(one).shl64(b as u32));
    }
    v
}

/// The planes of eight copies of `v` (a round key): each byte of plane b is 0xff where bit b
/// of that byte of `v` is set, else 0. The same as `transpose` of `[v; 8]`.
#[inline(always)]
pub fn planes_of_all(v: V) -> Planes {
    let mut p = planes_of_one(v);
    for x in p.iter_mut() {
        // Bit 0 of each byte copied to bits 1..7 (shifts inside the byte: nothing crosses).
        *x = x.or(x.shl64(1));
        *x = x.or(x.shl64(2));
        *x = x.or(x.shl64(4));
    }
    p
}

/// Constant-time S-box on the four bytes of a key-schedule word.
fn sub_word(w: u32) -> u32 {
    let b = w.to_be_bytes();
    let mut blk = [0u8; 16];
    blk[..4].copy_from_slice(&b);
    let mut s = planes_of_one(V::from_bytes(blk));
    sbox_nonot(&mut s);
    let o = block0_of(&s).to_bytes();
    let r = u32::from_be_bytes([o[0], o[1], o[2], o[3]]) ^ 0x6363_6363;
    crate::ct::wipe_bytes(&mut blk);
    crate::ct::wipe_planes(&mut s);
    r
}

/// FIPS-197 key expansion into byte round keys. Returns Nr, or 0 for a bad key length.
pub fn expand_bytes(key: &[u8], out: &mut [[u8; 16]; 15]) -> usize {
    let nk = match key.len() {
        16 => 4,
        24 => 6,
        32 => 8,
        _ => return 0,
    };
    let nr = nk + 6;
    let mut w = [0u32; 60];
    for i in 0..nk {
        w[i] = u32::from_be_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
    }
    let mut rcon: u32 = 1;
    for i in nk..4 * (nr + 1) {
        let mut t = w[i - 1];
        if i % nk == 0 {
            t = sub_word(t.rotate_left(8)) ^ (rcon << 24);
            // rcon doubling in GF(2^8) (public data).
            rcon = (rcon << 1) ^ (0x11b & 0u32.wrapping_sub(rcon >> 7));
        } else if nk > 6 && i % nk == 4 {
            t = sub_word(t);
        }
        w[i] = w[i - nk] ^ t;
    }
    for r in 0..=nr {
        for c in 0..4 {
            out[r][4 * c..4 * c + 4].copy_from_slice(&w[4 * r + c].to_be_bytes());
        }
    }
    crate::ct::wipe_u32(&mut w);
    nr
}

/// Fills `k` with plane-form round keys. `enc` selects the encryption variant (0x63 folded
/// into round keys 1..Nr). Returns false for a bad key length.
pub fn expand(key: &[u8], enc: bool, k: &mut RoundKeys) -> bool {
    let mut bytes = [[0u8; 16]; 15];
    let nr = expand_bytes(key, &mut bytes);
    if nr == 0 {
        return false;
    }
    k.nr = nr;
    for r in 0..15 {
        let mut rb = bytes[r];
        if enc && r >= 1 && r <= nr {
            for x in rb.iter_mut() {
                *x ^= 0x63;
            }
            let src = rb;
            for j in 0..16 {
                rb[j] = src[SIGMA[r % 4][j] as usize];
            }
        } else if !enc && r <= nr {
            let src = rb;
            let phase = (4 - (nr - r) % 4) % 4;
            for j in 0..16 {
                rb[j] = src[SIGMA[phase][j] as usize];
            }
        }
        let mut p = planes_of_all(V::from_bytes(rb));
        k.rk[r] = p;
        crate::ct::wipe_planes(&mut p);
        crate::ct::wipe_bytes(&mut rb);
    }
    for r in bytes.iter_mut() {
        crate::ct::wipe_bytes(r);
    }
    true
}

impl RoundKeys {
    pub const fn empty() -> RoundKeys {
        RoundKeys { rk: [[V::from_bytes([0; 16]); 8]; 15], nr: 0 }
    }
}

/// Encrypts one block (the single-block path used by serial CBC encryption).
#[inline(always)]
pub fn encrypt1(k: &RoundKeys, blk: &mut [u8; 16]) {
    let mut s = [V::zero(); 8];
    s[0] = V::from_bytes(*blk);
    encrypt8(k, &mut s);
    *blk = s[0].to_bytes();
}

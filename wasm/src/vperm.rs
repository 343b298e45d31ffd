//! Vector-permute AES (Hamburg's technique), one or a few blocks at a time, constant time.
//!
//! The S-box is GF(2^8) inversion in a tower field GF((2^4)^2) evaluated with 16-entry
//! nibble tables through `i8x16.swizzle`: a register permutation whose timing does not depend
//! on the indices (no memory is addressed by secret data, no branch). The state stays in the
//! tower basis for all rounds; round keys are mapped into it once. See
//! `wasm/tools/gen_vperm_tables.py` for the derivation of the tables.
//!
//! This path serves serial CBC encryption (one block depends on the previous one), where the
//! eight-block bitsliced code would waste seven lanes.

use crate::aes;
use crate::ct;
use crate::v128::V;
use crate::vperm_tables as t;

#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct VpKeys {
    pub rk: [V; 15],
    pub nr: usize,
}

const M0F: V = V::from_bytes([0x0f; 16]);
const INV: V = V::from_bytes(t::INV);
const AK: V = V::from_bytes(t::AK);
const OU1: V = V::from_bytes(t::OU1);
const OV1: V = V::from_bytes(t::OV1);
const OU2: V = V::from_bytes(t::OU2);
const OV2: V = V::from_bytes(t::OV2);
const PHI_LO: V = V::from_bytes(t::PHI_LO);
const PHI_HI: V = V::from_bytes(t::PHI_HI);
const PINV_LO: V = V::from_bytes(t::PINV_LO);
const PINV_HI: V = V::from_bytes(t::PINV_HI);

#[inline(always)]
fn split(x: V) -> (V, V) {
    // (high nibbles, low nibbles); bits shifted in from the next byte land in the masked half.
    (x.shr64(4).and(M0F), x.and(M0F))
}

#[inline(always)]
pub fn to_tower(x: V) -> V {
    let (h, l) = split(x);
    PHI_HI.swizzle(h).xor(PHI_LO.swizzle(l))
}

#[inline(always)]
pub fn from_tower(x: V) -> V {
    let (h, l) = split(x);
    PINV_HI.swizzle(h).xor(PINV_LO.swizzle(l))
}

/// io, jo of the tower inversion (see the table generator).
#[inline(always)]
fn inv_parts(s: V) -> (V, V) {
    let (i, k) = split(s);
    let j = i.xor(k);
    let ak = AK.swizzle(k);
    let iak = INV.swizzle(i).xor(ak);
    let jak = INV.swizzle(j).xor(ak);
    (INV.swizzle(iak).xor(j), INV.swizzle(jak).xor(i))
}

/// One full round, fixsliced like aes.rs (ShiftRows folded into the MixColumns permutations
/// of phase P): SubBytes, MixColumns, AddRoundKey.
#[inline(always)]
fn round<const P: usize>(s: V, rk: V) -> V {
    let q1 = V::from_bytes(aes::Q1[P]);
    let q2 = V::from_bytes(aes::Q2[P]);
    let (io, jo) = inv_parts(s);
    let a = OU1.swizzle(io).xor(OV1.swizzle(jo));
    let b = OU2.swizzle(io).xor(OV2.swizzle(jo));
    // out[r] = 2a[r] + 3a[r+1] + a[r+2] + a[r+3] within each column.
    b.xor(b.xor(a).swizzle(q1)).xor(a.xor(a.swizzle(q1)).swizzle(q2)).xor(rk)
}

/// All rounds on a state in the tower basis, after the first AddRoundKey.
#[inline(always)]
fn rounds(k: &VpKeys, mut s: V) -> V {
    let mut r = 1;
    while r + 4 <= k.nr {
        s = round::<0>(s, k.rk[r]);
        s = round::<1>(s, k.rk[r + 1]);
        s = round::<2>(s, k.rk[r + 2]);
        s = round::<3>(s, k.rk[r + 3]);
        r += 4;
    }
    s = round::<0>(s, k.rk[r]);
    if r + 1 < k.nr {
        s = round::<1>(s, k.rk[r + 1]);
        s = round::<2>(s, k.rk[r + 2]);
    }
    s = last_round(s, k.rk[k.nr]);
    if k.nr % 4 == 2 {
        s = s.swizzle(aes::FIX2);
    }
    s
}

#[inline(always)]
fn last_round(s: V, rk: V) -> V {
    let (io, jo) = inv_parts(s);
    OU1.swizzle(io).xor(OV1.swizzle(jo)).xor(rk)
}

impl VpKeys {
    pub const fn empty() -> VpKeys {
        VpKeys { rk: [V::from_bytes([0; 16]); 15], nr: 0 }
    }

    /// Encryption keys (0x63 folded into rounds 1..Nr), in the tower basis.
    pub fn expand(&mut self, key: &[u8]) -> bool {
        let mut bytes = [[0u8; 16]; 15];
        let nr = aes::expand_bytes(key, &mut bytes);
        if nr == 0 {
            return false;
        }
        self.nr = nr;
        for r in 0..=nr {
            let mut rb = bytes[r];
            if r >= 1 {
                for j in 0..16 {
                    rb[j] = bytes[r][aes::SIGMA[r % 4][j] as usize] ^ 0x63;
                }
            }
            self.rk[r] = to_tower(V::from_bytes(rb));
            ct::wipe_bytes(&mut rb);
        }
        for r in bytes.iter_mut() {
            ct::wipe_bytes(r);
        }
        true
    }

    /// CBC-encrypts whole blocks in place, chaining from `iv`; returns the last ciphertext.
    /// The chain stays in the tower basis, so the basis changes of each plaintext block (in)
    /// and ciphertext block (out) are off the serial dependency path.
    #[inline(always)]
    pub fn cbc_encrypt(&self, iv: V, buf: &mut [u8]) -> V {
        let mut t = to_tower(iv);
        for blk in buf.chunks_exact_mut(16) {
            let x = to_tower(V::load(blk)).xor(self.rk[0]);
            t = rounds(self, x.xor(t));
            from_tower(t).store(blk);
        }
        from_tower(t)
    }

    /// Encrypts one block (AES basis in and out).
    #[inline(always)]
    pub fn encrypt(&self, x: V) -> V {
        from_tower(rounds(self, to_tower(x).xor(self.rk[0])))
    }
}

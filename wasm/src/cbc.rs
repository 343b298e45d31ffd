//! AES-CBC with PKCS#7 padding, in place.
//!
//! Encryption is serial, one block at a time through the constant-time vector-permute AES
//! (vperm.rs); decryption is parallel and runs eight blocks per bitsliced call (aes.rs). The padding check reads all of the last block and
//! folds the verdict into a mask, so its time does not depend on the padding bytes.

use crate::aes::{self, RoundKeys};
use crate::ct;
use crate::v128::V;
use crate::vperm::VpKeys;

pub const ERR_KEY: i32 = -1;
pub const ERR_PAD: i32 = -3;

/// Pads `buf[..len]` in place (buf has room for `len - len % 16 + 16`) and encrypts it.
/// Returns the output length.
pub fn encrypt_with(k: &VpKeys, iv: &[u8], buf: &mut [u8], len: usize) -> usize {
    let out_len = len - len % 16 + 16;
    let p = (out_len - len) as u8;
    for x in buf[len..out_len].iter_mut() {
        *x = p;
    }
    k.cbc_encrypt(V::load(iv), &mut buf[..out_len]);
    out_len
}

/// Decrypts `buf` (a positive multiple of 16) in place and checks the padding.
/// Returns the plaintext length or `ERR_PAD`.
pub fn decrypt_with(k: &RoundKeys, iv: &[u8], buf: &mut [u8]) -> i32 {
    let n = buf.len();
    let mut prev = V::load(iv);
    let mut s = [V::zero(); 8];
    let mut c = [V::zero(); 8];
    let mut off = 0;
    while off < n {
        let cnt = core::cmp::min(8, (n - off) / 16);
        for i in 0..8 {
            c[i] = if i < cnt { V::load(&buf[off + 16 * i..]) } else { V::zero() };
            s[i] = c[i];
        }
        aes::decrypt8(k, &mut s);
        for i in 0..cnt {
            let p = s[i].xor(if i == 0 { prev } else { c[i - 1] });
            p.store(&mut buf[off + 16 * i..]);
        }
        prev = c[cnt - 1];
        off += 16 * cnt;
    }
    ct::wipe_planes(&mut s);
    check_padding(&buf[n - 16..]).map_or(ERR_PAD, |p| (n - p) as i32)
}

/// Constant-time PKCS#7 check over the final 16 bytes; returns the pad length if valid.
fn check_padding(last: &[u8]) -> Option<usize> {
    let p = last[15] as i32;
    // ok = all ones iff 1 <= p <= 16.
    let mut ok: i32 = !((p - 1) >> 31) & ((p - 17) >> 31);
    for i in 0..16i32 {
        let b = last[15 - i as usize] as i32;
        // in_pad = all ones iff i < p.
        let in_pad = (i - p) >> 31;
        let diff = ct::nonzero_mask((b ^ p) as u32) as i32;
        ok &= !(in_pad & diff);
    }
    // SAFETY: reading a local; the volatile read stops the verdict being branched on early.
    let ok = unsafe { core::ptr::read_volatile(&ok) };
    if ok == -1 {
        Some(p as usize)
    } else {
        None
    }
}

pub fn encrypt(key: &[u8], iv: &[u8], buf: &mut [u8], len: usize) -> i32 {
    let mut k = VpKeys::empty();
    if !k.expand(key) {
        return ERR_KEY;
    }
    let n = encrypt_with(&k, iv, buf, len);
    ct::wipe_val(&mut k);
    n as i32
}

pub fn decrypt(key: &[u8], iv: &[u8], buf: &mut [u8]) -> i32 {
    if buf.is_empty() || buf.len() % 16 != 0 {
        return ERR_KEY;
    }
    let mut k = RoundKeys::empty();
    if !aes::expand(key, false, &mut k) {
        return ERR_KEY;
    }
    let r = decrypt_with(&k, iv, buf);
    ct::wipe_val(&mut k);
    r
}

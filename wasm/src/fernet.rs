//! Fernet tokens (github.com/fernet/spec), raw bytes before base64url:
//! `0x80 || u64be(ts) || iv(16) || AES-128-CBC-PKCS7(plaintext) || HMAC-SHA256(all before)`.

use crate::aes::{self, RoundKeys};
use crate::cbc;
use crate::ct;
use crate::sha256::Hmac;
use crate::vperm::VpKeys;

pub const HEADER: usize = 25;
pub const OVERHEAD: usize = 57;
pub const MIN_TOKEN: usize = 73;

pub const ERR_FORMAT: i32 = -1;
pub const ERR_MAC: i32 = -2;
pub const ERR_PAD: i32 = -3;

/// `out[25..25 + len]` already holds the plaintext; writes the whole token around it and
/// returns its length. `out` has room for `len - len % 16 + 16 + 57` bytes.
pub fn encrypt_in_place(key32: &[u8], ts: u64, iv: &[u8], out: &mut [u8], len: usize) -> i32 {
    out[0] = 0x80;
    out[1..9].copy_from_slice(&ts.to_be_bytes());
    out[9..25].copy_from_slice(&iv[..16]);
    let mut k = VpKeys::empty();
    k.expand(&key32[16..32]);
    let ct_len = cbc::encrypt_with(&k, iv, &mut out[HEADER..], len);
    ct::wipe_val(&mut k);
    let body = HEADER + ct_len;
    let mut mac = Hmac::new(&key32[..16]);
    mac.update(&out[..body]);
    let tag = mac.finish();
    out[body..body + 32].copy_from_slice(&tag);
    (body + 32) as i32
}

/// Structure check, then HMAC (constant time), then decrypt into `out` and check padding.
/// Returns the plaintext length.
pub fn decrypt(key32: &[u8], tok: &[u8], out: &mut [u8]) -> i32 {
    let n = tok.len();
    if n < MIN_TOKEN || tok[0] != 0x80 || (n - OVERHEAD) % 16 != 0 {
        return ERR_FORMAT;
    }
    let body = n - 32;
    let mut mac = Hmac::new(&key32[..16]);
    mac.update(&tok[..body]);
    let tag = mac.finish();
    if ct::ct_eq(&tag, &tok[body..]) != 1 {
        return ERR_MAC;
    }
    let ct_len = body - HEADER;
    out[..ct_len].copy_from_slice(&tok[HEADER..body]);
    decrypt_in_place(key32, &tok[9..25], &mut out[..ct_len])
}

/// The decrypt step once the MAC has been checked: `buf` is the ciphertext.
pub fn decrypt_in_place(key32: &[u8], iv: &[u8], buf: &mut [u8]) -> i32 {
    let mut k = RoundKeys::empty();
    aes::expand(&key32[16..32], false, &mut k);
    let r = cbc::decrypt_with(&k, iv, buf);
    ct::wipe_val(&mut k);
    if r < 0 {
        ERR_PAD
    } else {
        r
    }
}

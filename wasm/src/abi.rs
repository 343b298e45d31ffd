//! The exported ABI (docs/wasm-abi.md): raw pointers and lengths into linear memory.
//! Every function here only turns pointers into slices and calls the safe code.

use crate::cbc;
use crate::ct;
use crate::fernet;
use crate::gcm::{Gcm, Once, Stream, ERR_LEN};
use crate::sha256;
use core::mem::size_of;
use core::slice;

unsafe fn sl<'a>(p: u32, n: u32) -> &'a [u8] {
    if n == 0 {
        &[]
    } else {
        slice::from_raw_parts(p as usize as *const u8, n as usize)
    }
}

unsafe fn slm<'a>(p: u32, n: u32) -> &'a mut [u8] {
    if n == 0 {
        &mut []
    } else {
        slice::from_raw_parts_mut(p as usize as *mut u8, n as usize)
    }
}

fn key_ok(n: u32) -> bool {
    n == 16 || n == 24 || n == 32
}

#[no_mangle]
pub unsafe extern "C" fn alloc(len: u32) -> u32 {
    crate::alloc::alloc(len as usize) as u32
}

#[no_mangle]
pub unsafe extern "C" fn free(ptr: u32, len: u32) {
    crate::alloc::free(ptr as usize, len as usize)
}

#[no_mangle]
pub unsafe extern "C" fn wipe(ptr: u32, len: u32) {
    ct::wipe_bytes(slm(ptr, len));
}

#[no_mangle]
pub unsafe extern "C" fn gcm_new(key: u32, key_len: u32) -> u32 {
    if !key_ok(key_len) {
        return 0;
    }
    let p = crate::alloc::alloc(size_of::<Gcm>());
    if p == 0 {
        return 0;
    }
    core::ptr::write_bytes(p as *mut u8, 0, size_of::<Gcm>());
    let g = &mut *(p as *mut Gcm);
    if !g.init(sl(key, key_len)) {
        crate::alloc::free(p, size_of::<Gcm>());
        return 0;
    }
    p as u32
}

#[no_mangle]
pub unsafe extern "C" fn gcm_free(ctx: u32) {
    crate::alloc::free(ctx as usize, size_of::<Gcm>());
}

#[no_mangle]
pub unsafe extern "C" fn gcm_seal(
    ctx: u32,
    iv: u32,
    iv_len: u32,
    aad: u32,
    aad_len: u32,
    buf: u32,
    len: u32,
    tag: u32,
) -> i32 {
    let g = &*(ctx as usize as *const Gcm);
    g.seal(sl(iv, iv_len), sl(aad, aad_len), slm(buf, len), slm(tag, 16))
}

#[no_mangle]
pub unsafe extern "C" fn gcm_open(
    ctx: u32,
    iv: u32,
    iv_len: u32,
    aad: u32,
    aad_len: u32,
    buf: u32,
    len: u32,
    tag: u32,
) -> i32 {
    let g = &*(ctx as usize as *const Gcm);
    // With a keystream buffer the first pass computes AES and GHASH side by side (see
    // Gcm::open_with); without one (a single partial chunk, or no memory) it is two passes.
    let full = (len & !127) as usize;
    let ks = if full > 0 { crate::alloc::alloc(full) } else { 0 };
    if ks == 0 {
        return g.open(sl(iv, iv_len), sl(aad, aad_len), slm(buf, len), sl(tag, 16));
    }
    let ks_buf = slm(ks as u32, full as u32);
    let r = g.open_with(sl(iv, iv_len), sl(aad, aad_len), slm(buf, len), sl(tag, 16), ks_buf);
    crate::alloc::free(ks, full);
    r
}

/// One-shot seal with a raw key: no context is allocated, no vector-permute key is built,
/// and inputs of up to `gcm::SHORT` bytes skip the eight-power GHASH table.
#[no_mangle]
pub unsafe extern "C" fn gcm_seal_once(
    key: u32,
    key_len: u32,
    iv: u32,
    iv_len: u32,
    aad: u32,
    aad_len: u32,
    buf: u32,
    len: u32,
    tag: u32,
) -> i32 {
    if !key_ok(key_len) {
        return crate::gcm::ERR_KEY;
    }
    let mut o = Once::empty();
    let r = o.seal(sl(key, key_len), sl(iv, iv_len), sl(aad, aad_len), slm(buf, len), slm(tag, 16));
    o.wipe();
    r
}

/// One-shot open with a raw key (see `gcm_seal_once`); the keystream buffer as in `gcm_open`.
#[no_mangle]
pub unsafe extern "C" fn gcm_open_once(
    key: u32,
    key_len: u32,
    iv: u32,
    iv_len: u32,
    aad: u32,
    aad_len: u32,
    buf: u32,
    len: u32,
    tag: u32,
) -> i32 {
    if !key_ok(key_len) {
        return crate::gcm::ERR_KEY;
    }
    let full = if (len as usize) > crate::gcm::SHORT { (len & !127) as usize } else { 0 };
    let ks = if full > 0 { crate::alloc::alloc(full) } else { 0 };
    let ks_buf: &mut [u8] = if ks == 0 { &mut [] } else { slm(ks as u32, full as u32) };
    let mut o = Once::empty();
    let r = o.open(sl(key, key_len), sl(iv, iv_len), sl(aad, aad_len), slm(buf, len), sl(tag, 16), ks_buf);
    o.wipe();
    crate::alloc::free(ks, full);
    r
}

#[repr(C, align(16))]
struct StreamBox {
    ctx: u32,
    s: Stream,
}

#[no_mangle]
pub unsafe extern "C" fn gcm_stream_new(
    ctx: u32,
    encrypt: u32,
    iv: u32,
    iv_len: u32,
    aad: u32,
    aad_len: u32,
) -> u32 {
    let g = &*(ctx as usize as *const Gcm);
    let s = match Stream::new(g, encrypt != 0, sl(iv, iv_len), sl(aad, aad_len)) {
        Some(s) => s,
        None => return 0,
    };
    let p = crate::alloc::alloc(size_of::<StreamBox>());
    if p == 0 {
        return 0;
    }
    core::ptr::write(p as *mut StreamBox, StreamBox { ctx, s });
    p as u32
}

#[no_mangle]
pub unsafe extern "C" fn gcm_stream_update(st: u32, buf: u32, len: u32) -> i32 {
    let b = &mut *(st as usize as *mut StreamBox);
    let g = &*(b.ctx as usize as *const Gcm);
    let r = b.s.update(g, slm(buf, len));
    debug_assert!(r == 0 || r == ERR_LEN);
    r
}

#[no_mangle]
pub unsafe extern "C" fn gcm_stream_finish(st: u32, tag: u32) -> i32 {
    let b = &mut *(st as usize as *mut StreamBox);
    let g = &*(b.ctx as usize as *const Gcm);
    let r = b.s.finish(g, slm(tag, 16));
    crate::alloc::free(st as usize, size_of::<StreamBox>());
    r
}

#[no_mangle]
pub unsafe extern "C" fn gcm_stream_free(st: u32) {
    crate::alloc::free(st as usize, size_of::<StreamBox>());
}

#[no_mangle]
pub unsafe extern "C" fn cbc_encrypt(
    key: u32,
    key_len: u32,
    iv: u32,
    src: u32,
    src_len: u32,
    dst: u32,
) -> i32 {
    if !key_ok(key_len) {
        return cbc::ERR_KEY;
    }
    let out_len = src_len - src_len % 16 + 16;
    core::ptr::copy(src as usize as *const u8, dst as usize as *mut u8, src_len as usize);
    cbc::encrypt(sl(key, key_len), sl(iv, 16), slm(dst, out_len), src_len as usize)
}

#[no_mangle]
pub unsafe extern "C" fn cbc_decrypt(
    key: u32,
    key_len: u32,
    iv: u32,
    src: u32,
    src_len: u32,
    dst: u32,
) -> i32 {
    if !key_ok(key_len) || src_len == 0 || src_len % 16 != 0 {
        return cbc::ERR_KEY;
    }
    core::ptr::copy(src as usize as *const u8, dst as usize as *mut u8, src_len as usize);
    cbc::decrypt(sl(key, key_len), sl(iv, 16), slm(dst, src_len))
}

#[no_mangle]
pub unsafe extern "C" fn sha256(src: u32, len: u32, out: u32) {
    let d = sha256::sha256(sl(src, len));
    slm(out, 32).copy_from_slice(&d);
}

#[no_mangle]
pub unsafe extern "C" fn hmac_sha256(key: u32, key_len: u32, src: u32, len: u32, out: u32) {
    let d = sha256::hmac_sha256(sl(key, key_len), sl(src, len));
    slm(out, 32).copy_from_slice(&d);
}

#[no_mangle]
pub unsafe extern "C" fn hkdf_sha256(
    ikm: u32,
    ikm_len: u32,
    salt: u32,
    salt_len: u32,
    info: u32,
    info_len: u32,
    out: u32,
    out_len: u32,
) -> i32 {
    if out_len > 255 * 32 {
        return -1;
    }
    sha256::hkdf_sha256(sl(ikm, ikm_len), sl(salt, salt_len), sl(info, info_len), slm(out, out_len))
}

/// `count` HKDF outputs of `out_len` bytes each from one extract: info `i` is the next
/// `lens[i]` bytes of `infos` (`lens`: `count` little-endian u32s, 4-byte aligned).
#[no_mangle]
pub unsafe extern "C" fn hkdf_sha256_each(
    ikm: u32,
    ikm_len: u32,
    salt: u32,
    salt_len: u32,
    infos: u32,
    infos_len: u32,
    lens: u32,
    count: u32,
    out: u32,
    out_len: u32,
) -> i32 {
    if lens % 4 != 0 || count > 255 || out_len > 255 * 32 {
        return -1;
    }
    let lens: &[u32] = if count == 0 {
        &[]
    } else {
        slice::from_raw_parts(lens as usize as *const u32, count as usize)
    };
    sha256::hkdf_sha256_each(
        sl(ikm, ikm_len),
        sl(salt, salt_len),
        sl(infos, infos_len),
        lens,
        slm(out, count * out_len),
        out_len as usize,
    )
}

#[no_mangle]
pub unsafe extern "C" fn ct_eq(a: u32, b: u32, len: u32) -> i32 {
    ct::ct_eq(sl(a, len), sl(b, len)) as i32
}

#[no_mangle]
pub unsafe extern "C" fn fernet_encrypt(
    key32: u32,
    ts_hi: u32,
    ts_lo: u32,
    iv: u32,
    src: u32,
    len: u32,
    out: u32,
) -> i32 {
    let total = len - len % 16 + 16 + fernet::OVERHEAD as u32;
    core::ptr::copy(
        src as usize as *const u8,
        (out as usize + fernet::HEADER) as *mut u8,
        len as usize,
    );
    let ts = ((ts_hi as u64) << 32) | ts_lo as u64;
    fernet::encrypt_in_place(sl(key32, 32), ts, sl(iv, 16), slm(out, total), len as usize)
}

#[no_mangle]
pub unsafe extern "C" fn fernet_decrypt(key32: u32, tok: u32, tok_len: u32, out: u32) -> i32 {
    if (tok_len as usize) < fernet::MIN_TOKEN {
        return fernet::ERR_FORMAT;
    }
    let tok = sl(tok, tok_len);
    let n = tok.len();
    if tok[0] != 0x80 || (n - fernet::OVERHEAD) % 16 != 0 {
        return fernet::ERR_FORMAT;
    }
    // Verify the MAC over the token before anything is written to `out` (which may overlap
    // the token), then copy the ciphertext and decrypt it there.
    let body = n - 32;
    let mut mac = sha256::Hmac::new(sl(key32, 16));
    mac.update(&tok[..body]);
    let tag = mac.finish();
    if ct::ct_eq(&tag, &tok[body..]) != 1 {
        return fernet::ERR_MAC;
    }
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&tok[9..25]);
    let ct_len = body - fernet::HEADER;
    core::ptr::copy(tok[fernet::HEADER..].as_ptr(), out as usize as *mut u8, ct_len);
    let r = fernet::decrypt_in_place(sl(key32, 32), &iv, slm(out, ct_len as u32));
    r
}

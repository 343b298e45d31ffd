//! The WASM core's own sources (included by path, unchanged) plus two exports that time the
//! halves of AES-GCM separately: `profile_ctr` (the bitsliced AES on eight blocks at a
//! time, as CTR uses it) and `profile_ghash` (GHASH with 8-block aggregation). Built only by
//! wasm/tools/profile_gcm.ts, into a temporary directory; never part of the shipped module.

#![no_std]

#[path = "../../../src/aes.rs"]
pub mod aes;
#[path = "../../../src/cbc.rs"]
pub mod cbc;
#[path = "../../../src/ct.rs"]
pub mod ct;
#[path = "../../../src/fernet.rs"]
pub mod fernet;
#[path = "../../../src/gcm.rs"]
pub mod gcm;
#[path = "../../../src/ghash.rs"]
pub mod ghash;
#[path = "../../../src/sha256.rs"]
pub mod sha256;
#[path = "../../../src/v128.rs"]
pub mod v128;
#[path = "../../../src/vperm.rs"]
pub mod vperm;
#[rustfmt::skip]
#[path = "../../../src/vperm_tables.rs"]
pub mod vperm_tables;
#[path = "../../../src/abi.rs"]
mod abi;
#[path = "../../../src/alloc.rs"]
mod alloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Encrypts `buf` (a multiple of 128 bytes) in place, eight blocks per call, with ctx's key.
///
/// # Safety
/// `ctx` from `gcm_new`; `buf..buf+len` inside linear memory.
#[no_mangle]
pub unsafe extern "C" fn profile_ctr(ctx: u32, buf: u32, len: u32) {
    let g = &*(ctx as usize as *const gcm::Gcm);
    let b = core::slice::from_raw_parts_mut(buf as usize as *mut u8, len as usize);
    for c in b.chunks_exact_mut(128) {
        let mut s = [v128::V::zero(); 8];
        for (i, v) in s.iter_mut().enumerate() {
            *v = v128::V::load(&c[16 * i..]);
        }
        aes::encrypt8(&g.rk, &mut s);
        for (i, v) in s.iter().enumerate() {
            v.store(&mut c[16 * i..]);
        }
    }
}

/// GHASH of `buf` (a multiple of 16 bytes) under ctx's H; returns a byte of it so the work
/// cannot be dropped.
///
/// # Safety
/// `ctx` from `gcm_new`; `buf..buf+len` inside linear memory.
#[no_mangle]
pub unsafe extern "C" fn profile_ghash(ctx: u32, buf: u32, len: u32) -> u32 {
    let g = &*(ctx as usize as *const gcm::Gcm);
    let b = core::slice::from_raw_parts(buf as usize as *const u8, len as usize);
    let mut y = ghash::Ghash::default();
    y.blocks(&g.h, b);
    y.bytes()[0] as u32
}

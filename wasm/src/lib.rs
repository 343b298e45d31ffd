//! envelope's cryptographic core: constant-time AES (bitsliced over 128-bit lanes), AES-GCM,
//! AES-CBC-PKCS7, SHA-256, HMAC-SHA256, HKDF-SHA256 and Fernet, exported to TypeScript as raw
//! `extern "C"` functions (see docs/wasm-abi.md and wasm/README.md).
//!
//! Everything except `abi` and `alloc` is target-independent and is what `cargo test` runs
//! on the host; only the lane type `v128::V` switches between SIMD128 and a portable form.

#![cfg_attr(not(test), no_std)]

// The portable fallback in v128.rs indexes arrays with secret values (the vector-permute S-box);
// it serves the host tests only. A wasm32 build without SIMD128 would ship it, so refuse to build.
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
compile_error!("the core must be built with -C target-feature=+simd128: the portable fallback is not constant time");

pub mod aes;
pub mod cbc;
pub mod ct;
pub mod fernet;
pub mod gcm;
pub mod ghash;
pub mod sha256;
pub mod v128;
pub mod vperm;
#[rustfmt::skip]
pub mod vperm_tables;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod alloc;

#[cfg(all(not(test), target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(test)]
mod tests;

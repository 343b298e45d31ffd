//! A 128-bit lane type with exactly the operations the AES code needs.
//!
//! On wasm32 with `simd128` every method is one SIMD128 instruction (or a couple, for the
//! shifts). On every other target the same methods run on two `u64`s, so `cargo test` on the
//! host executes the very same bitsliced AES, GHASH and mode code that ships in the `.wasm`.
//! Byte `i` of a value is byte `i` in memory (wasm lanes are little-endian, and so is the
//! portable form). The portable form exists to test the algorithms on the host: its
//! `swizzle` indexes an array, so unlike `i8x16.swizzle` it is not constant time, and it is
//! never compiled into the shipped module.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct V(pub v128);

    impl V {
        #[inline(always)]
        pub const fn from_bytes(b: [u8; 16]) -> V {
            // SAFETY: v128 is 16 plain bytes.
            V(unsafe { core::mem::transmute::<[u8; 16], v128>(b) })
        }
        #[inline(always)]
        pub fn splat8(x: u8) -> V {
            V(u8x16_splat(x))
        }
        #[inline(always)]
        pub fn zero() -> V {
            V(u64x2_splat(0))
        }
        #[inline(always)]
        pub fn load(b: &[u8]) -> V {
            assert!(b.len() >= 16);
            // SAFETY: 16 readable bytes checked above; v128_load has no alignment requirement.
            V(unsafe { v128_load(b.as_ptr() as *const v128) })
        }
        #[inline(always)]
        pub fn store(self, b: &mut [u8]) {
            assert!(b.len() >= 16);
            // SAFETY: 16 writable bytes checked above.
            unsafe { v128_store(b.as_mut_ptr() as *mut v128, self.0) }
        }
        #[inline(always)]
        pub fn to_bytes(self) -> [u8; 16] {
            let mut b = [0u8; 16];
            self.store(&mut b);
            b
        }
        #[inline(always)]
        pub fn xor(self, o: V) -> V {
            V(v128_xor(self.0, o.0))
        }
        #[inline(always)]
        pub fn and(self, o: V) -> V {
            V(v128_and(self.0, o.0))
        }
        #[inline(always)]
        pub fn or(self, o: V) -> V {
            V(v128_or(self.0, o.0))
        }
        #[inline(always)]
        pub fn not(self) -> V {
            V(v128_not(self.0))
        }
        /// Shift each 64-bit lane right by `n` bits.
        #[inline(always)]
        pub fn shr64(self, n: u32) -> V {
            V(u64x2_shr(self.0, n))
        }
        /// Shift each 64-bit lane left by `n` bits.
        #[inline(always)]
        pub fn shl64(self, n: u32) -> V {
            V(u64x2_shl(self.0, n))
        }
        /// `out[i] = self[idx[i]]` (all indices are below 16 here).
        #[inline(always)]
        pub fn swizzle(self, idx: V) -> V {
            V(u8x16_swizzle(self.0, idx.0))
        }
        /// The low / high 64-bit lane.
        #[inline(always)]
        pub fn lo64(self) -> u64 {
            u64x2_extract_lane::<0>(self.0)
        }
        #[inline(always)]
        pub fn hi64(self) -> u64 {
            u64x2_extract_lane::<1>(self.0)
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub struct V(pub [u64; 2]);

    impl V {
        #[inline(always)]
        pub const fn from_bytes(b: [u8; 16]) -> V {
            let lo = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let hi = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
            V([lo, hi])
        }
        #[inline(always)]
        pub fn splat8(x: u8) -> V {
            V::from_bytes([x; 16])
        }
        #[inline(always)]
        pub fn zero() -> V {
            V([0, 0])
        }
        #[inline(always)]
        pub fn load(b: &[u8]) -> V {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            V::from_bytes(a)
        }
        #[inline(always)]
        pub fn store(self, b: &mut [u8]) {
            b[..8].copy_from_slice(&self.0[0].to_le_bytes());
            b[8..16].copy_from_slice(&self.0[1].to_le_bytes());
        }
        #[inline(always)]
        pub fn to_bytes(self) -> [u8; 16] {
            let mut b = [0u8; 16];
            self.store(&mut b);
            b
        }
        #[inline(always)]
        pub fn xor(self, o: V) -> V {
            V([self.0[0] ^ o.0[0], self.0[1] ^ o.0[1]])
        }
        #[inline(always)]
        pub fn and(self, o: V) -> V {
            V([self.0[0] & o.0[0], self.0[1] & o.0[1]])
        }
        #[inline(always)]
        pub fn or(self, o: V) -> V {
            V([self.0[0] | o.0[0], self.0[1] | o.0[1]])
        }
        #[inline(always)]
        pub fn not(self) -> V {
            V([!self.0[0], !self.0[1]])
        }
        #[inline(always)]
        pub fn shr64(self, n: u32) -> V {
            V([self.0[0] >> n, self.0[1] >> n])
        }
        #[inline(always)]
        pub fn shl64(self, n: u32) -> V {
            V([self.0[0] << n, self.0[1] << n])
        }
        #[inline(always)]
        pub fn swizzle(self, idx: V) -> V {
            let s = self.to_bytes();
            let i = idx.to_bytes();
            let mut o = [0u8; 16];
            for k in 0..16 {
                o[k] = if i[k] < 16 { s[i[k] as usize] } else { 0 };
            }
            V::from_bytes(o)
        }
        #[inline(always)]
        pub fn lo64(self) -> u64 {
            self.0[0]
        }
        #[inline(always)]
        pub fn hi64(self) -> u64 {
            self.0[1]
        }
    }
}

pub use imp::V;

//! Constant-time comparison and wiping.

use crate::v128::V;

/// `1` if `a == b`, else `0`, reading every byte whatever the contents.
pub fn ct_eq(a: &[u8], b: &[u8]) -> u32 {
    assert_eq!(a.len(), b.len());
    let mut d: u32 = 0;
    for i in 0..a.len() {
        d |= (a[i] ^ b[i]) as u32;
        // A volatile read of the accumulator in every iteration is an optimisation barrier: the
        // compiler cannot know its value, so it cannot stop the loop early once d saturates (a
        // single read after the loop, as before, constrained nothing inside it).
        // SAFETY: reading a local.
        d = unsafe { core::ptr::read_volatile(&d) };
    }
    // d in 0..=255: (d - 1) >> 31 is 1 only when d == 0.
    (d.wrapping_sub(1) >> 31) & 1
}

/// Zeroes memory with volatile stores so the writes are not optimised away.
pub fn wipe_bytes(b: &mut [u8]) {
    let p = b.as_mut_ptr();
    let n = b.len();
    let mut i = 0;
    // SAFETY: all addresses are inside `b`.
    unsafe {
        while i < n && (p.add(i) as usize) & 7 != 0 {
            core::ptr::write_volatile(p.add(i), 0);
            i += 1;
        }
        while i + 8 <= n {
            core::ptr::write_volatile(p.add(i) as *mut u64, 0);
            i += 8;
        }
        while i < n {
            core::ptr::write_volatile(p.add(i), 0);
            i += 1;
        }
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

pub fn wipe_u32(w: &mut [u32]) {
    for x in w.iter_mut() {
        // SAFETY: a valid &mut u32.
        unsafe { core::ptr::write_volatile(x, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

pub fn wipe_u64(w: &mut [u64]) {
    for x in w.iter_mut() {
        // SAFETY: a valid &mut u64.
        unsafe { core::ptr::write_volatile(x, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

pub fn wipe_planes(p: &mut [V]) {
    for x in p.iter_mut() {
        // SAFETY: a valid &mut V.
        unsafe { core::ptr::write_volatile(x, V::zero()) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Wipes any plain-data value in place.
pub fn wipe_val<T: Copy>(v: &mut T) {
    // SAFETY: T is plain data (Copy, no drop); we only overwrite its bytes with zeroes, which
    // is a valid value for every type this is used with (arrays of integers and lanes).
    let b = unsafe {
        core::slice::from_raw_parts_mut(v as *mut T as *mut u8, core::mem::size_of::<T>())
    };
    wipe_bytes(b);
}

/// All-ones when `x` is non-zero, as a mask, without branching.
#[inline(always)]
pub fn nonzero_mask(x: u32) -> u32 {
    0u32.wrapping_sub((x | x.wrapping_neg()) >> 31)
}

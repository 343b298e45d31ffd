//! A small allocator over `memory.grow` for the exported `alloc`/`free` (wasm32 only).
//!
//! Power-of-two size classes from 16 bytes; each class keeps a free list threaded through
//! its freed blocks. Fresh blocks come from a bump pointer that starts at the end of the
//! memory the module was instantiated with, so it never overlaps Rust's statics or stack.
//! Every block is 16-byte aligned. `free` wipes before recycling.

use core::arch::wasm32;

static mut TOP: usize = 0;
static mut END: usize = 0;
static mut FREE: [usize; 32] = [0; 32];

const PAGE: usize = 65536;

fn class(len: usize) -> Option<usize> {
    if len > (1usize << 31) {
        return None;
    }
    let n = if len <= 16 { 16 } else { len.next_power_of_two() };
    Some(n.trailing_zeros() as usize)
}

/// # Safety
/// Single-threaded use only (wasm instance).
pub unsafe fn alloc(len: usize) -> usize {
    let c = match class(len) {
        Some(c) => c,
        None => return 0,
    };
    let head = FREE[c];
    if head != 0 {
        FREE[c] = *(head as *const usize);
        *(head as *mut usize) = 0;
        return head;
    }
    if END == 0 {
        TOP = wasm32::memory_size(0) * PAGE;
        END = TOP;
    }
    let size = 1usize << c;
    let need = match TOP.checked_add(size) {
        Some(n) => n,
        None => return 0,
    };
    if need > END {
        let pages = (need - END + PAGE - 1) / PAGE;
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return 0;
        }
        END += pages * PAGE;
    }
    let p = TOP;
    TOP = need;
    p
}

/// # Safety
/// `ptr`/`len` must come from `alloc` and not be freed twice.
pub unsafe fn free(ptr: usize, len: usize) {
    if ptr == 0 {
        return;
    }
    let c = match class(len) {
        Some(c) => c,
        None => return,
    };
    crate::ct::wipe_bytes(core::slice::from_raw_parts_mut(ptr as *mut u8, len));
    *(ptr as *mut usize) = FREE[c];
    FREE[c] = ptr;
}

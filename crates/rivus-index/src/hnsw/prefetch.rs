//! Software prefetch of memory a graph walk is about to read.
//!
//! A walk reads vectors and link lists in an order no hardware prefetcher can guess;
//! requesting all fresh neighbours' vectors before scoring the first overlaps their cache
//! misses, and requesting the next candidate's links while the current one is expanded
//! hides that miss too.

/// Cache lines requested per range: the hardware prefetcher follows the rest of a long
/// vector once its first lines are in flight, and more requests only crowd the CPU's
/// outstanding-miss buffers (measured: 8 lines per 128-d vector is slower than 4).
const MAX_LINES: usize = 4;

/// Asks the CPU to start loading the first cache lines of `v`.
#[inline(always)]
pub(crate) fn prefetch_vector(v: &[f32]) {
    prefetch_range(v.as_ptr().cast(), std::mem::size_of_val(v));
}

/// Asks the CPU to start loading the cache lines of `bytes` bytes from `start` (at most
/// [`MAX_LINES`]). `start` is only used as an address, never dereferenced.
#[inline(always)]
pub(crate) fn prefetch_range(start: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let lines = bytes.div_ceil(64).min(MAX_LINES);
        for line in 0..lines {
            // `wrapping_add` keeps this a pure address computation.
            let p = start.wrapping_add(line * 64).cast::<i8>();
            // SAFETY: PREFETCHT0 is a hint: it never faults and has no architectural
            // effect, whatever the address; the intrinsic is only `unsafe` because it is a
            // `#[target_feature(enable = "sse")]` function (SSE is part of x86-64 baseline).
            #[allow(unsafe_code)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p)
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, bytes);
}

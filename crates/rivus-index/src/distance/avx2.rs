//! AVX2 + FMA + F16C kernels, and hardware `popcnt` for the binary ones.
//!
//! Float kernels take 16 values per block (two 8-lane registers: f16 through `vcvtph2ps`,
//! bf16 as the even and odd halves of 32-bit words), keep independent accumulators per sum,
//! and copy a tail shorter than a block into a zeroed block (zeros add nothing to any of
//! the sums). int8 kernels widen to i16 and sum exactly with `vpmaddwd` into i32 lanes.
//! The batch kernels run four rows per pass, loading each query block once for the four.

use std::arch::x86_64::*;

use rivus_schema::cpu::Level;

use super::portable::{jaccard_of, words, I8_BLOCK};
use super::{cosine_of, for_row_quads, Kernels};

/// These kernels, when this CPU has their features.
pub(super) fn kernels() -> Option<Kernels> {
    let ok = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("popcnt");
    ok.then_some(Kernels {
        level: Level::Avx2,
        l2_f32: entry::l2_f32,
        ip_f32: entry::ip_f32,
        cosine_f32: entry::cosine_f32,
        l2_f16: entry::l2_f16,
        ip_f16: entry::ip_f16,
        cosine_f16: entry::cosine_f16,
        l2_bf16: entry::l2_bf16,
        ip_bf16: entry::ip_bf16,
        cosine_bf16: entry::cosine_bf16,
        l2_i8: entry::l2_i8,
        ip_i8: entry::ip_i8,
        cosine_i8: entry::cosine_i8,
        hamming: entry::hamming,
        jaccard: entry::jaccard,
        l2_f32_many: entry::l2_f32_many,
        ip_f32_many: entry::ip_f32_many,
        cosine_f32_many: entry::cosine_f32_many,
        dot_u8: entry::dot_u8,
    })
}

/// Safe entry points (plain `fn`s, so they fit [`Kernels`]) to the kernels below.
mod entry {
    macro_rules! entries {
        ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
            #[allow(unsafe_code)]
            pub(super) fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: `entry` is private to this file, where only `kernels()` hands its
                // functions out, after detecting every feature the kernel was compiled for.
                unsafe { super::$name($($arg),*) }
            }
        )*};
    }

    entries! {
        l2_f32(a: &[f32], b: &[f32]) -> f32;
        ip_f32(a: &[f32], b: &[f32]) -> f32;
        cosine_f32(a: &[f32], b: &[f32]) -> f32;
        l2_f16(a: &[u16], b: &[u16]) -> f32;
        ip_f16(a: &[u16], b: &[u16]) -> f32;
        cosine_f16(a: &[u16], b: &[u16]) -> f32;
        l2_bf16(a: &[u16], b: &[u16]) -> f32;
        ip_bf16(a: &[u16], b: &[u16]) -> f32;
        cosine_bf16(a: &[u16], b: &[u16]) -> f32;
        l2_i8(a: &[i8], b: &[i8]) -> f32;
        ip_i8(a: &[i8], b: &[i8]) -> f32;
        cosine_i8(a: &[i8], b: &[i8]) -> f32;
        hamming(a: &[u8], b: &[u8]) -> f32;
        jaccard(a: &[u8], b: &[u8]) -> f32;
        l2_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]);
        ip_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]);
        cosine_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]);
        dot_u8(w: &[f32], c: &[u8]) -> f32;
    }
}

// ---- Loads and conversions: one block of 16 values to two registers of 8 f32. ----

#[inline]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
fn conv_f32(x: &[f32; 16]) -> [__m256; 2] {
    let p = x.as_ptr();
    // SAFETY: `x` holds 16 f32; the unaligned loads read x[0..8] and x[8..16].
    unsafe { [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))] }
}

#[inline]
#[target_feature(enable = "avx,f16c")]
#[allow(unsafe_code)]
fn conv_f16(x: &[u16; 16]) -> [__m256; 2] {
    let p = x.as_ptr();
    // SAFETY: `x` holds 16 u16 (32 bytes); the unaligned loads read bytes 0..16 and 16..32.
    let (lo, hi) = unsafe { (_mm_loadu_si128(p.cast()), _mm_loadu_si128(p.add(8).cast())) };
    [_mm256_cvtph_ps(lo), _mm256_cvtph_ps(hi)]
}

/// bf16 is the high half of an f32: the even values shifted up and the odd values masked
/// in place are 8 f32 each (in the same order for both vectors, which is all sums need).
#[inline]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn conv_bf16(x: &[u16; 16]) -> [__m256; 2] {
    // SAFETY: `x` holds 16 u16 (32 bytes), read by one unaligned load.
    let v = unsafe { _mm256_loadu_si256(x.as_ptr().cast()) };
    let even = _mm256_slli_epi32::<16>(v);
    let odd = _mm256_and_si256(v, _mm256_set1_epi32(0xffff_0000_u32 as i32));
    [_mm256_castsi256_ps(even), _mm256_castsi256_ps(odd)]
}

/// 16 int8 values widened to i16.
#[inline]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn conv_i8(x: &[i8; 16]) -> __m256i {
    // SAFETY: `x` holds 16 bytes, read by one unaligned load.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(x.as_ptr().cast()) })
}

/// A tail shorter than a block, zero-padded to a block.
#[inline(always)]
fn pad<T: Copy + Default, const N: usize>(tail: &[T]) -> [T; N] {
    let mut block = [T::default(); N];
    let n = tail.len().min(N);
    block[..n].copy_from_slice(&tail[..n]);
    block
}

#[inline]
#[target_feature(enable = "avx")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Sum of the 8 i32 lanes, wrapping.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

// ---- Float kernels: a step per register pair, a finish per kernel. ----

#[inline]
#[target_feature(enable = "avx2,fma")]
fn l2_step(s: &mut [__m256; 1], x: __m256, y: __m256) {
    let d = _mm256_sub_ps(x, y);
    s[0] = _mm256_fmadd_ps(d, d, s[0]);
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn ip_step(s: &mut [__m256; 1], x: __m256, y: __m256) {
    s[0] = _mm256_fmadd_ps(x, y, s[0]);
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn cos_step(s: &mut [__m256; 3], x: __m256, y: __m256) {
    s[0] = _mm256_fmadd_ps(x, y, s[0]);
    s[1] = _mm256_fmadd_ps(x, x, s[1]);
    s[2] = _mm256_fmadd_ps(y, y, s[2]);
}

/// `x·y` and `y·y` (cosine against a query whose norm is known).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn dot2_step(s: &mut [__m256; 2], x: __m256, y: __m256) {
    s[0] = _mm256_fmadd_ps(x, y, s[0]);
    s[1] = _mm256_fmadd_ps(y, y, s[1]);
}

#[inline]
#[target_feature(enable = "avx")]
fn sum(s: [__m256; 1]) -> f32 {
    hsum(s[0])
}

#[inline]
#[target_feature(enable = "avx")]
fn cos_finish(s: [__m256; 3]) -> f32 {
    cosine_of(hsum(s[0]), hsum(s[1]), hsum(s[2]))
}

/// A float kernel: `$conv` turns a block of 16 `$t` into two registers; `$step` adds a
/// register pair to a `$k`-register state; `$finish` turns the state into the result.
/// `wide` keeps four states, `narrow` two (bf16 cosine: with its mask constant, twelve
/// accumulators no longer fit the 16 registers and spill).
macro_rules! float_kernel {
    ($name:ident, $t:ty, $conv:ident, $k:literal, $step:ident, $finish:ident -> $ret:ty, wide) => {
        #[target_feature(enable = "avx2,fma,f16c,popcnt")]
        fn $name(a: &[$t], b: &[$t]) -> $ret {
            let n = a.len().min(b.len());
            let (ca, ra) = a[..n].as_chunks::<16>();
            let (cb, rb) = b[..n].as_chunks::<16>();
            let (ca2, ca1) = ca.as_chunks::<2>();
            let (cb2, cb1) = cb.as_chunks::<2>();
            let mut s = [[_mm256_setzero_ps(); $k]; 4];
            for (x, y) in ca2.iter().zip(cb2) {
                let ([x0, x1], [y0, y1]) = ($conv(&x[0]), $conv(&y[0]));
                $step(&mut s[0], x0, y0);
                $step(&mut s[1], x1, y1);
                let ([x2, x3], [y2, y3]) = ($conv(&x[1]), $conv(&y[1]));
                $step(&mut s[2], x2, y2);
                $step(&mut s[3], x3, y3);
            }
            for (x, y) in ca1.iter().zip(cb1) {
                let ([x0, x1], [y0, y1]) = ($conv(x), $conv(y));
                $step(&mut s[0], x0, y0);
                $step(&mut s[1], x1, y1);
            }
            if !ra.is_empty() {
                let ([x0, x1], [y0, y1]) = ($conv(&pad(ra)), $conv(&pad(rb)));
                $step(&mut s[2], x0, y0);
                $step(&mut s[3], x1, y1);
            }
            let mut t = s[0];
            for k in 0..$k {
                t[k] = _mm256_add_ps(
                    _mm256_add_ps(s[0][k], s[1][k]),
                    _mm256_add_ps(s[2][k], s[3][k]),
                );
            }
            $finish(t)
        }
    };
    ($name:ident, $t:ty, $conv:ident, $k:literal, $step:ident, $finish:ident -> $ret:ty, narrow) => {
        #[target_feature(enable = "avx2,fma,f16c,popcnt")]
        fn $name(a: &[$t], b: &[$t]) -> $ret {
            let n = a.len().min(b.len());
            let (ca, ra) = a[..n].as_chunks::<16>();
            let (cb, rb) = b[..n].as_chunks::<16>();
            let mut s = [[_mm256_setzero_ps(); $k]; 2];
            for (x, y) in ca.iter().zip(cb) {
                let ([x0, x1], [y0, y1]) = ($conv(x), $conv(y));
                $step(&mut s[0], x0, y0);
                $step(&mut s[1], x1, y1);
            }
            if !ra.is_empty() {
                let ([x0, x1], [y0, y1]) = ($conv(&pad(ra)), $conv(&pad(rb)));
                $step(&mut s[0], x0, y0);
                $step(&mut s[1], x1, y1);
            }
            let mut t = s[0];
            for k in 0..$k {
                t[k] = _mm256_add_ps(s[0][k], s[1][k]);
            }
            $finish(t)
        }
    };
}

float_kernel!(l2_f32, f32, conv_f32, 1, l2_step, sum -> f32, wide);
float_kernel!(ip_f32, f32, conv_f32, 1, ip_step, sum -> f32, wide);
float_kernel!(cosine_f32, f32, conv_f32, 3, cos_step, cos_finish -> f32, wide);
float_kernel!(l2_f16, u16, conv_f16, 1, l2_step, sum -> f32, wide);
float_kernel!(ip_f16, u16, conv_f16, 1, ip_step, sum -> f32, wide);
float_kernel!(cosine_f16, u16, conv_f16, 3, cos_step, cos_finish -> f32, wide);
float_kernel!(l2_bf16, u16, conv_bf16, 1, l2_step, sum -> f32, wide);
float_kernel!(ip_bf16, u16, conv_bf16, 1, ip_step, sum -> f32, wide);
float_kernel!(cosine_bf16, u16, conv_bf16, 3, cos_step, cos_finish -> f32, narrow);

// ---- int8 kernels: exact i32 sums per block of at most `I8_BLOCK` values, then i64. ----

#[inline]
#[target_feature(enable = "avx2")]
fn l2_i8_step(s: &mut [__m256i; 1], x: __m256i, y: __m256i) {
    let d = _mm256_sub_epi16(x, y);
    s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(d, d));
}

#[inline]
#[target_feature(enable = "avx2")]
fn ip_i8_step(s: &mut [__m256i; 1], x: __m256i, y: __m256i) {
    s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(x, y));
}

#[inline]
#[target_feature(enable = "avx2")]
fn cos_i8_step(s: &mut [__m256i; 3], x: __m256i, y: __m256i) {
    s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(x, y));
    s[1] = _mm256_add_epi32(s[1], _mm256_madd_epi16(x, x));
    s[2] = _mm256_add_epi32(s[2], _mm256_madd_epi16(y, y));
}

/// An int8 kernel over whole vectors: `$block` sums blocks of at most `I8_BLOCK` values
/// into `$k` i32 (16 values per step, two independent accumulators), totalled in i64.
macro_rules! int_kernel {
    ($name:ident, $block:ident, $k:literal, $step:ident, |$s:ident| $finish:expr) => {
        #[target_feature(enable = "avx2,fma,f16c,popcnt")]
        fn $block(a: &[i8], b: &[i8]) -> [i32; $k] {
            let (ca, ra) = a.as_chunks::<16>();
            let (cb, rb) = b.as_chunks::<16>();
            let (ca2, ca1) = ca.as_chunks::<2>();
            let (cb2, cb1) = cb.as_chunks::<2>();
            let mut s = [[_mm256_setzero_si256(); $k]; 2];
            for (x, y) in ca2.iter().zip(cb2) {
                $step(&mut s[0], conv_i8(&x[0]), conv_i8(&y[0]));
                $step(&mut s[1], conv_i8(&x[1]), conv_i8(&y[1]));
            }
            for (x, y) in ca1.iter().zip(cb1) {
                $step(&mut s[0], conv_i8(x), conv_i8(y));
            }
            if !ra.is_empty() {
                $step(&mut s[1], conv_i8(&pad(ra)), conv_i8(&pad(rb)));
            }
            let mut out = [0i32; $k];
            for k in 0..$k {
                out[k] = hsum_i32(_mm256_add_epi32(s[0][k], s[1][k]));
            }
            out
        }

        #[target_feature(enable = "avx2,fma,f16c,popcnt")]
        fn $name(a: &[i8], b: &[i8]) -> f32 {
            let n = a.len().min(b.len());
            let mut $s = [0i64; $k];
            for (a, b) in a[..n].chunks(I8_BLOCK).zip(b[..n].chunks(I8_BLOCK)) {
                for (t, v) in $s.iter_mut().zip($block(a, b)) {
                    *t += i64::from(v);
                }
            }
            $finish
        }
    };
}

int_kernel!(l2_i8, l2_i8_block, 1, l2_i8_step, |s| s[0] as f32);
int_kernel!(ip_i8, ip_i8_block, 1, ip_i8_step, |s| s[0] as f32);
int_kernel!(cosine_i8, cosine_i8_block, 3, cos_i8_step, |s| {
    cosine_of(s[0] as f32, s[1] as f32, s[2] as f32)
});

// ---- Binary kernels: 64-bit words with hardware popcnt. ----

#[target_feature(enable = "avx2,fma,f16c,popcnt")]
fn hamming(a: &[u8], b: &[u8]) -> f32 {
    let [d] = words(a, b, |x, y| [(x ^ y).count_ones()]);
    d as f32
}

#[target_feature(enable = "avx2,fma,f16c,popcnt")]
fn jaccard(a: &[u8], b: &[u8]) -> f32 {
    let [both, either] = words(a, b, |x, y| [(x & y).count_ones(), (x | y).count_ones()]);
    jaccard_of(both, either)
}

// ---- Batches: four rows per pass, sharing the query's loads. ----

#[inline]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
fn load_f32x8(x: &[f32; 8]) -> __m256 {
    // SAFETY: `x` holds 8 f32, read by one unaligned load.
    unsafe { _mm256_loadu_ps(x.as_ptr()) }
}

/// Up to 8 f32, zero-filled.
#[inline]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn load_f32_tail(x: &[f32]) -> __m256 {
    let n = x.len().min(8) as i32;
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    // SAFETY: the mask enables lanes 0..min(len, 8), all inside `x`; masked-off lanes are not
    // read (no fault).
    unsafe { _mm256_maskload_ps(x.as_ptr(), mask) }
}

/// The sums of four registers.
#[inline]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
fn reduce4(v: [__m256; 4]) -> [f32; 4] {
    let ab = _mm256_hadd_ps(v[0], v[1]);
    let cd = _mm256_hadd_ps(v[2], v[3]);
    let abcd = _mm256_hadd_ps(ab, cd);
    let sums = _mm_add_ps(
        _mm256_castps256_ps128(abcd),
        _mm256_extractf128_ps::<1>(abcd),
    );
    let mut out = [0f32; 4];
    // SAFETY: `out` has room for the 4 f32 the unaligned store writes.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), sums) };
    out
}

/// A batch kernel: `$step` of the query against four rows at once (one state of `$k`
/// registers per row, so each row's sums depend only on that row), each query block
/// loaded once for the four.
macro_rules! quad_kernel {
    ($name:ident, $k:literal, $step:ident) => {
        #[target_feature(enable = "avx2,fma,f16c,popcnt")]
        fn $name<'a>(q: &[f32], rows: [&'a [f32]; 4]) -> [[f32; 4]; $k] {
            let n = q.len();
            let [r0, r1, r2, r3] = rows;
            let cut = |r: &'a [f32]| &r[..n.min(r.len())];
            let (r0, r1, r2, r3) = (cut(r0), cut(r1), cut(r2), cut(r3));
            let (cq, tq) = q.as_chunks::<8>();
            let (c0, t0) = r0.as_chunks::<8>();
            let (c1, t1) = r1.as_chunks::<8>();
            let (c2, t2) = r2.as_chunks::<8>();
            let (c3, t3) = r3.as_chunks::<8>();
            let mut s = [[_mm256_setzero_ps(); $k]; 4];
            for ((((x, y0), y1), y2), y3) in cq.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
                let x = load_f32x8(x);
                $step(&mut s[0], x, load_f32x8(y0));
                $step(&mut s[1], x, load_f32x8(y1));
                $step(&mut s[2], x, load_f32x8(y2));
                $step(&mut s[3], x, load_f32x8(y3));
            }
            if !tq.is_empty() {
                let x = load_f32_tail(tq);
                $step(&mut s[0], x, load_f32_tail(t0));
                $step(&mut s[1], x, load_f32_tail(t1));
                $step(&mut s[2], x, load_f32_tail(t2));
                $step(&mut s[3], x, load_f32_tail(t3));
            }
            std::array::from_fn(|k| reduce4([s[0][k], s[1][k], s[2][k], s[3][k]]))
        }
    };
}

quad_kernel!(l2_x4, 1, l2_step);
quad_kernel!(ip_x4, 1, ip_step);
quad_kernel!(dot2_x4, 2, dot2_step);

#[target_feature(enable = "avx2,fma,f16c,popcnt")]
fn l2_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_row_quads(query, data, dim, out, |q, rows| l2_x4(q, rows)[0]);
}

#[target_feature(enable = "avx2,fma,f16c,popcnt")]
fn ip_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_row_quads(query, data, dim, out, |q, rows| ip_x4(q, rows)[0]);
}

#[target_feature(enable = "avx2,fma,f16c,popcnt")]
fn cosine_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    let q = &query[..query.len().min(dim)];
    let qq = ip_f32(q, q);
    for_row_quads(query, data, dim, out, |q, rows| {
        let [ab, bb] = dot2_x4(q, rows);
        std::array::from_fn(|i| cosine_of(ab[i], qq, bb[i]))
    });
}

/// Scalar-quantized inner loop: 16 codes per step widened to two registers of 8 f32
/// (`vpmovzxbd`, `vcvtdq2ps`) and multiplied into two accumulators; the tail goes through a
/// zero-padded block (zero weights add nothing).
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)]
fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(c.len());
    let (w, c) = (&w[..n], &c[..n]);
    let (wb, wr) = w.as_chunks::<16>();
    let (cb, cr) = c.as_chunks::<16>();
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut step = |x: &[f32; 16], y: &[u8; 16]| {
        let [w0, w1] = conv_f32(x);
        // SAFETY: `y` holds 16 bytes; the two 8-byte loads read y[0..8] and y[8..16].
        let (lo, hi) = unsafe {
            (
                _mm_loadl_epi64(y.as_ptr().cast()),
                _mm_loadl_epi64(y.as_ptr().add(8).cast()),
            )
        };
        let c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
        let c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
        acc[0] = _mm256_fmadd_ps(w0, c0, acc[0]);
        acc[1] = _mm256_fmadd_ps(w1, c1, acc[1]);
    };
    for (x, y) in wb.iter().zip(cb) {
        step(x, y);
    }
    if !wr.is_empty() {
        step(&pad(wr), &pad(cr));
    }
    hsum(_mm256_add_ps(acc[0], acc[1]))
}

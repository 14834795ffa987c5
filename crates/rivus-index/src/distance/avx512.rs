//! AVX-512 F/BW/VL/DQ kernels (with FMA and F16C), and AVX-512 VPOPCNTDQ for the binary
//! ones where the CPU has it (else the AVX2 `popcnt` ones).
//!
//! Float kernels take 32 values per block (two 16-lane registers; bf16 as the even and odd
//! halves of 32-bit words), keep independent accumulators per sum (four, two for cosine's
//! three sums), and read the tail with masked loads (masked-off lanes are zero and are not
//! read from memory). int8 kernels widen to i16 and sum exactly with `vpmaddwd` into i32
//! lanes. float16 keeps the AVX2 kernels (see [`kernels`]). The batch kernels run four
//! rows per pass, loading each query block once for the four.

use std::arch::x86_64::*;

use rivus_schema::cpu::Level;

use super::portable::{jaccard_of, I8_BLOCK};
use super::{cosine_of, for_row_quads, Kernels};

/// These kernels, when this CPU has their features. Built on the AVX2 table, which keeps:
/// - the float16 kernels: on Zen 4, `vcvtph2ps` to 512 bits (or two 256-bit halves
///   inserted into one register) measured 10-40% slower than the AVX2 loop;
/// - the binary kernels, where the CPU lacks VPOPCNTDQ.
pub(super) fn kernels() -> Option<Kernels> {
    let base = super::avx2::kernels()?;
    let ok = is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512dq");
    if !ok {
        return None;
    }
    let mut k = Kernels {
        level: Level::Avx512,
        l2_f32: entry::l2_f32,
        ip_f32: entry::ip_f32,
        cosine_f32: entry::cosine_f32,
        l2_bf16: entry::l2_bf16,
        ip_bf16: entry::ip_bf16,
        cosine_bf16: entry::cosine_bf16,
        l2_i8: entry::l2_i8,
        ip_i8: entry::ip_i8,
        cosine_i8: entry::cosine_i8,
        l2_f32_many: entry::l2_f32_many,
        ip_f32_many: entry::ip_f32_many,
        cosine_f32_many: entry::cosine_f32_many,
        dot_u8: entry::dot_u8,
        ..base
    };
    if is_x86_feature_detected!("avx512vpopcntdq") {
        k.hamming = entry::hamming;
        k.jaccard = entry::jaccard;
    }
    Some(k)
}

/// Safe entry points (plain `fn`s, so they fit [`Kernels`]) to the kernels below.
mod entry {
    macro_rules! entries {
        ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
            #[allow(unsafe_code)]
            pub(super) fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: `entry` is private to this file, where only `kernels()` hands its
                // functions out, after detecting every feature the kernel was compiled for
                // (VPOPCNTDQ too for the binary ones).
                unsafe { super::$name($($arg),*) }
            }
        )*};
    }

    entries! {
        l2_f32(a: &[f32], b: &[f32]) -> f32;
        ip_f32(a: &[f32], b: &[f32]) -> f32;
        cosine_f32(a: &[f32], b: &[f32]) -> f32;
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

// ---- Loads. Masked loads read only the lanes their mask enables. ----

/// The low `n` bits set (all 64 for `n >= 64`).
#[inline(always)]
fn low_bits(n: usize) -> u64 {
    u64::MAX.checked_shr(64 - n.min(64) as u32).unwrap_or(0)
}

#[inline]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_f32(x: &[f32; 32]) -> [__m512; 2] {
    let p = x.as_ptr();
    // SAFETY: `x` holds 32 f32; the unaligned loads read x[0..16] and x[16..32].
    unsafe { [_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16))] }
}

/// Up to 16 f32, zero-filled.
#[inline]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_f32_tail(x: &[f32]) -> __m512 {
    let mask = low_bits(x.len().min(16)) as u16;
    // SAFETY: the mask enables lanes 0..min(len, 16), all inside `x`; masked-off lanes are
    // not read (no fault), so nothing past the slice is touched.
    unsafe { _mm512_maskz_loadu_ps(mask, x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_u16(x: &[u16; 32]) -> __m512i {
    // SAFETY: `x` holds 32 u16 (64 bytes), read by one unaligned load.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

/// Up to 32 u16, zero-filled.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
#[allow(unsafe_code)]
fn load_u16_tail(x: &[u16]) -> __m512i {
    let mask = low_bits(x.len().min(32)) as u32;
    // SAFETY: the mask enables lanes 0..min(len, 32), all inside `x`; masked-off lanes are
    // not read.
    unsafe { _mm512_maskz_loadu_epi16(mask, x.as_ptr().cast()) }
}

/// 32 int8 widened to i16.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
#[allow(unsafe_code)]
fn load_i8(x: &[i8; 32]) -> __m512i {
    // SAFETY: `x` holds 32 bytes, read by one unaligned load.
    _mm512_cvtepi8_epi16(unsafe { _mm256_loadu_si256(x.as_ptr().cast()) })
}

/// Up to 32 int8, zero-filled, widened to i16.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[allow(unsafe_code)]
fn load_i8_tail(x: &[i8]) -> __m512i {
    let mask = low_bits(x.len().min(32)) as u32;
    // SAFETY: the mask enables bytes 0..min(len, 32), all inside `x`; masked-off bytes are
    // not read.
    _mm512_cvtepi8_epi16(unsafe { _mm256_maskz_loadu_epi8(mask, x.as_ptr()) })
}

#[inline]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_u8(x: &[u8; 64]) -> __m512i {
    // SAFETY: `x` holds 64 bytes, read by one unaligned load.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

/// Up to 64 bytes, zero-filled.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
#[allow(unsafe_code)]
fn load_u8_tail(x: &[u8]) -> __m512i {
    let mask = low_bits(x.len());
    // SAFETY: the mask enables bytes 0..min(len, 64), all inside `x`; masked-off bytes are
    // not read.
    unsafe { _mm512_maskz_loadu_epi8(mask, x.as_ptr().cast()) }
}

// ---- Conversions: a block of 32 values (or a shorter tail) to two registers of f32. ----

#[inline]
#[target_feature(enable = "avx512f")]
fn conv_f32(x: &[f32; 32]) -> [__m512; 2] {
    load_f32(x)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn tail_f32(x: &[f32]) -> [__m512; 2] {
    let (lo, hi) = x.split_at(x.len().min(16));
    [load_f32_tail(lo), load_f32_tail(hi)]
}

/// bf16 is the high half of an f32: the even values shifted up and the odd values masked
/// in place are 16 f32 each (in the same order for both vectors, which is all sums need).
#[inline]
#[target_feature(enable = "avx512f")]
fn bf16x32(v: __m512i) -> [__m512; 2] {
    let even = _mm512_slli_epi32::<16>(v);
    let odd = _mm512_and_si512(v, _mm512_set1_epi32(0xffff_0000_u32 as i32));
    [_mm512_castsi512_ps(even), _mm512_castsi512_ps(odd)]
}

#[inline]
#[target_feature(enable = "avx512f")]
fn conv_bf16(x: &[u16; 32]) -> [__m512; 2] {
    bf16x32(load_u16(x))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn tail_bf16(x: &[u16]) -> [__m512; 2] {
    bf16x32(load_u16_tail(x))
}

// ---- Float kernels: a step per register pair, a finish per kernel. ----

#[inline]
#[target_feature(enable = "avx512f")]
fn l2_step(s: &mut [__m512; 1], x: __m512, y: __m512) {
    let d = _mm512_sub_ps(x, y);
    s[0] = _mm512_fmadd_ps(d, d, s[0]);
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ip_step(s: &mut [__m512; 1], x: __m512, y: __m512) {
    s[0] = _mm512_fmadd_ps(x, y, s[0]);
}

#[inline]
#[target_feature(enable = "avx512f")]
fn cos_step(s: &mut [__m512; 3], x: __m512, y: __m512) {
    s[0] = _mm512_fmadd_ps(x, y, s[0]);
    s[1] = _mm512_fmadd_ps(x, x, s[1]);
    s[2] = _mm512_fmadd_ps(y, y, s[2]);
}

/// `x·y` and `y·y` (cosine against a query whose norm is known).
#[inline]
#[target_feature(enable = "avx512f")]
fn dot2_step(s: &mut [__m512; 2], x: __m512, y: __m512) {
    s[0] = _mm512_fmadd_ps(x, y, s[0]);
    s[1] = _mm512_fmadd_ps(y, y, s[1]);
}

#[inline]
#[target_feature(enable = "avx512f")]
fn sum(s: [__m512; 1]) -> f32 {
    _mm512_reduce_add_ps(s[0])
}

#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn cos_finish(s: [__m512; 3]) -> f32 {
    let [ab, aa, bb, _] = reduce4([s[0], s[1], s[2], s[2]]);
    cosine_of(ab, aa, bb)
}

/// A float kernel: `$conv` turns a block of 32 `$t` into two registers and `$tail` a
/// shorter tail; `$step` adds a register pair to a `$k`-register state; `$finish` turns the
/// state into the result. `wide` keeps four independent states (the one-register sums are
/// latency-bound otherwise), `narrow` two (cosine: six accumulators already hide the FMA
/// latency, and fewer to add up measured faster).
macro_rules! float_kernel {
    ($name:ident, $t:ty, $conv:ident, $tail:ident, $k:literal, $step:ident, $finish:ident -> $ret:ty, wide) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
        fn $name(a: &[$t], b: &[$t]) -> $ret {
            let n = a.len().min(b.len());
            let (ca, ra) = a[..n].as_chunks::<32>();
            let (cb, rb) = b[..n].as_chunks::<32>();
            let (ca2, ca1) = ca.as_chunks::<2>();
            let (cb2, cb1) = cb.as_chunks::<2>();
            let mut s = [[_mm512_setzero_ps(); $k]; 4];
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
                let ([x0, x1], [y0, y1]) = ($tail(ra), $tail(rb));
                $step(&mut s[2], x0, y0);
                $step(&mut s[3], x1, y1);
            }
            let mut t = s[0];
            for k in 0..$k {
                t[k] = _mm512_add_ps(
                    _mm512_add_ps(s[0][k], s[1][k]),
                    _mm512_add_ps(s[2][k], s[3][k]),
                );
            }
            $finish(t)
        }
    };
    ($name:ident, $t:ty, $conv:ident, $tail:ident, $k:literal, $step:ident, $finish:ident -> $ret:ty, narrow) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
        fn $name(a: &[$t], b: &[$t]) -> $ret {
            let n = a.len().min(b.len());
            let (ca, ra) = a[..n].as_chunks::<32>();
            let (cb, rb) = b[..n].as_chunks::<32>();
            let mut s = [[_mm512_setzero_ps(); $k]; 2];
            for (x, y) in ca.iter().zip(cb) {
                let ([x0, x1], [y0, y1]) = ($conv(x), $conv(y));
                $step(&mut s[0], x0, y0);
                $step(&mut s[1], x1, y1);
            }
            if !ra.is_empty() {
                let ([x0, x1], [y0, y1]) = ($tail(ra), $tail(rb));
                $step(&mut s[0], x0, y0);
                $step(&mut s[1], x1, y1);
            }
            let mut t = s[0];
            for k in 0..$k {
                t[k] = _mm512_add_ps(s[0][k], s[1][k]);
            }
            $finish(t)
        }
    };
}

float_kernel!(l2_f32, f32, conv_f32, tail_f32, 1, l2_step, sum -> f32, wide);
float_kernel!(ip_f32, f32, conv_f32, tail_f32, 1, ip_step, sum -> f32, wide);
float_kernel!(cosine_f32, f32, conv_f32, tail_f32, 3, cos_step, cos_finish -> f32, narrow);
float_kernel!(l2_bf16, u16, conv_bf16, tail_bf16, 1, l2_step, sum -> f32, wide);
float_kernel!(ip_bf16, u16, conv_bf16, tail_bf16, 1, ip_step, sum -> f32, wide);
float_kernel!(cosine_bf16, u16, conv_bf16, tail_bf16, 3, cos_step, cos_finish -> f32, narrow);

// ---- int8 kernels: exact i32 sums per block of at most `I8_BLOCK` values, then i64. ----

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn l2_i8_step(s: &mut [__m512i; 1], x: __m512i, y: __m512i) {
    let d = _mm512_sub_epi16(x, y);
    s[0] = _mm512_add_epi32(s[0], _mm512_madd_epi16(d, d));
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn ip_i8_step(s: &mut [__m512i; 1], x: __m512i, y: __m512i) {
    s[0] = _mm512_add_epi32(s[0], _mm512_madd_epi16(x, y));
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn cos_i8_step(s: &mut [__m512i; 3], x: __m512i, y: __m512i) {
    s[0] = _mm512_add_epi32(s[0], _mm512_madd_epi16(x, y));
    s[1] = _mm512_add_epi32(s[1], _mm512_madd_epi16(x, x));
    s[2] = _mm512_add_epi32(s[2], _mm512_madd_epi16(y, y));
}

/// An int8 kernel over whole vectors: `$block` sums blocks of at most `I8_BLOCK` values
/// into `$k` i32 (32 values per step, two independent accumulators), totalled in i64.
macro_rules! int_kernel {
    ($name:ident, $block:ident, $k:literal, $step:ident, |$s:ident| $finish:expr) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
        fn $block(a: &[i8], b: &[i8]) -> [i32; $k] {
            let (ca, ra) = a.as_chunks::<32>();
            let (cb, rb) = b.as_chunks::<32>();
            let (ca2, ca1) = ca.as_chunks::<2>();
            let (cb2, cb1) = cb.as_chunks::<2>();
            let mut s = [[_mm512_setzero_si512(); $k]; 2];
            for (x, y) in ca2.iter().zip(cb2) {
                $step(&mut s[0], load_i8(&x[0]), load_i8(&y[0]));
                $step(&mut s[1], load_i8(&x[1]), load_i8(&y[1]));
            }
            for (x, y) in ca1.iter().zip(cb1) {
                $step(&mut s[0], load_i8(x), load_i8(y));
            }
            if !ra.is_empty() {
                $step(&mut s[1], load_i8_tail(ra), load_i8_tail(rb));
            }
            let mut out = [0i32; $k];
            for k in 0..$k {
                out[k] = _mm512_reduce_add_epi32(_mm512_add_epi32(s[0][k], s[1][k]));
            }
            out
        }

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
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

// ---- Binary kernels: 64 bytes per step, VPOPCNTDQ on 64-bit lanes. ----

#[target_feature(
    enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt,avx512vpopcntdq"
)]
fn hamming(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<64>();
    let (cb, rb) = b[..n].as_chunks::<64>();
    let mut s = _mm512_setzero_si512();
    for (x, y) in ca.iter().zip(cb) {
        let v = _mm512_xor_si512(load_u8(x), load_u8(y));
        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(v));
    }
    if !ra.is_empty() {
        let v = _mm512_xor_si512(load_u8_tail(ra), load_u8_tail(rb));
        s = _mm512_add_epi64(s, _mm512_popcnt_epi64(v));
    }
    _mm512_reduce_add_epi64(s) as f32
}

#[target_feature(
    enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt,avx512vpopcntdq"
)]
fn jaccard(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<64>();
    let (cb, rb) = b[..n].as_chunks::<64>();
    let (mut both, mut either) = (_mm512_setzero_si512(), _mm512_setzero_si512());
    for (x, y) in ca.iter().zip(cb) {
        let (x, y) = (load_u8(x), load_u8(y));
        both = _mm512_add_epi64(both, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
        either = _mm512_add_epi64(either, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
    }
    if !ra.is_empty() {
        let (x, y) = (load_u8_tail(ra), load_u8_tail(rb));
        both = _mm512_add_epi64(both, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
        either = _mm512_add_epi64(either, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
    }
    jaccard_of(
        _mm512_reduce_add_epi64(both) as u64,
        _mm512_reduce_add_epi64(either) as u64,
    )
}

// ---- Batches: four rows per pass, sharing the query's loads. ----

#[inline]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_f32x16(x: &[f32; 16]) -> __m512 {
    // SAFETY: `x` holds 16 f32, read by one unaligned load.
    unsafe { _mm512_loadu_ps(x.as_ptr()) }
}

/// The sums of four registers, in the four lanes of one.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn reduce4(v: [__m512; 4]) -> [f32; 4] {
    let half = |x: __m512| _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps::<1>(x));
    let ab = _mm256_hadd_ps(half(v[0]), half(v[1]));
    let cd = _mm256_hadd_ps(half(v[2]), half(v[3]));
    let abcd = _mm256_hadd_ps(ab, cd);
    to_array(_mm_add_ps(
        _mm256_castps256_ps128(abcd),
        _mm256_extractf128_ps::<1>(abcd),
    ))
}

#[inline]
#[target_feature(enable = "sse")]
#[allow(unsafe_code)]
fn to_array(v: __m128) -> [f32; 4] {
    let mut out = [0f32; 4];
    // SAFETY: `out` has room for the 4 f32 the unaligned store writes.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) };
    out
}

/// A batch kernel: `$step` of the query against four rows at once (one state of `$k`
/// registers per row, so each row's sums depend only on that row), each query block
/// loaded once for the four.
macro_rules! quad_kernel {
    ($name:ident, $k:literal, $step:ident) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
        fn $name<'a>(q: &[f32], rows: [&'a [f32]; 4]) -> [[f32; 4]; $k] {
            let n = q.len();
            let [r0, r1, r2, r3] = rows;
            let cut = |r: &'a [f32]| &r[..n.min(r.len())];
            let (r0, r1, r2, r3) = (cut(r0), cut(r1), cut(r2), cut(r3));
            let (cq, tq) = q.as_chunks::<16>();
            let (c0, t0) = r0.as_chunks::<16>();
            let (c1, t1) = r1.as_chunks::<16>();
            let (c2, t2) = r2.as_chunks::<16>();
            let (c3, t3) = r3.as_chunks::<16>();
            let mut s = [[_mm512_setzero_ps(); $k]; 4];
            for ((((x, y0), y1), y2), y3) in cq.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
                let x = load_f32x16(x);
                $step(&mut s[0], x, load_f32x16(y0));
                $step(&mut s[1], x, load_f32x16(y1));
                $step(&mut s[2], x, load_f32x16(y2));
                $step(&mut s[3], x, load_f32x16(y3));
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

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
fn l2_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_row_quads(query, data, dim, out, |q, rows| l2_x4(q, rows)[0]);
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
fn ip_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_row_quads(query, data, dim, out, |q, rows| ip_x4(q, rows)[0]);
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt")]
fn cosine_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    let q = &query[..query.len().min(dim)];
    let qq = ip_f32(q, q);
    for_row_quads(query, data, dim, out, |q, rows| {
        let [ab, bb] = dot2_x4(q, rows);
        std::array::from_fn(|i| cosine_of(ab[i], qq, bb[i]))
    });
}

/// Scalar-quantized inner loop: 16 codes per step widened to one register of 16 f32
/// (`vpmovzxbd`, `vcvtdq2ps`), two accumulators over alternate steps; the tail through
/// masked loads (masked-off lanes are zero).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
#[allow(unsafe_code)]
fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(c.len());
    let (w, c) = (&w[..n], &c[..n]);
    let mut acc = [_mm512_setzero_ps(); 2];
    let blocks = n / 16;
    for b in 0..blocks {
        // SAFETY: b * 16 + 16 <= n, the length of both slices: the loads read 16 f32 of
        // `w` and 16 bytes of `c` inside them.
        let (x, y) = unsafe {
            (
                _mm512_loadu_ps(w.as_ptr().add(b * 16)),
                _mm_loadu_si128(c.as_ptr().add(b * 16).cast()),
            )
        };
        let v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(y));
        acc[b & 1] = _mm512_fmadd_ps(x, v, acc[b & 1]);
    }
    let rest = n - blocks * 16;
    if rest > 0 {
        let mask: __mmask16 = (1u32 << rest).wrapping_sub(1) as u16;
        // SAFETY: masked loads read only the `rest` lanes left inside both slices.
        let (x, y) = unsafe {
            (
                _mm512_maskz_loadu_ps(mask, w.as_ptr().add(blocks * 16)),
                _mm_maskz_loadu_epi8(mask, c.as_ptr().add(blocks * 16).cast()),
            )
        };
        let v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(y));
        acc[0] = _mm512_fmadd_ps(x, v, acc[0]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
}

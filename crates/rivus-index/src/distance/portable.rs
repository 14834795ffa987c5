//! Portable kernels: loops written with 16 independent lanes, so the compiler vectorizes
//! them (for SSE2 on x86-64, NEON on aarch64) without reassociating floating-point sums.
//! The baseline copy, and the reference the SIMD copies are tested against.

use rivus_schema::cpu::Level;

use super::{bf16_to_f32, cosine_of, f16_to_f32, for_rows, Kernels};

pub(super) const KERNELS: Kernels = Kernels {
    level: Level::Baseline,
    l2_f32,
    ip_f32,
    cosine_f32,
    l2_f16,
    ip_f16,
    cosine_f16,
    l2_bf16,
    ip_bf16,
    cosine_bf16,
    l2_i8,
    ip_i8,
    cosine_i8,
    hamming,
    jaccard,
    l2_f32_many,
    ip_f32_many,
    cosine_f32_many,
    dot_u8,
};

/// Lanes per step: 16 f32 = one AVX-512 register, four SSE registers.
const LANES: usize = 16;

/// Pairwise sum of the lanes.
#[inline(always)]
fn fold(mut v: [f32; LANES]) -> f32 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            v[k] += v[k + width];
        }
    }
    v[0]
}

/// Sums of `f(a[i], b[i])` in 16 lanes, then across them.
#[inline(always)]
fn lanes<T: Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for k in 0..LANES {
            acc[k] += f(x[k], y[k]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += f(*x, *y);
    }
    fold(acc) + tail
}

/// The three sums cosine needs (a·b, a·a, b·b) in one pass.
#[inline(always)]
fn lanes3<T: Copy>(a: &[T], b: &[T], to: impl Fn(T) -> f32) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (mut ab, mut aa, mut bb) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for k in 0..LANES {
            let (p, q) = (to(x[k]), to(y[k]));
            ab[k] += p * q;
            aa[k] += p * p;
            bb[k] += q * q;
        }
    }
    let (mut tab, mut taa, mut tbb) = (0f32, 0f32, 0f32);
    for (x, y) in ra.iter().zip(rb) {
        let (p, q) = (to(*x), to(*y));
        tab += p * q;
        taa += p * p;
        tbb += q * q;
    }
    (fold(ab) + tab, fold(aa) + taa, fold(bb) + tbb)
}

fn cosine((ab, aa, bb): (f32, f32, f32)) -> f32 {
    cosine_of(ab, aa, bb)
}

/// `sum w[i] * c[i]` in 16 lanes: the body every copy of `dot_u8` compiles (the SIMD ones
/// under their target features, where the compiler widens the bytes in registers).
#[inline(always)]
pub(super) fn dot_u8_lanes(w: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(c.len());
    let (w, c) = (&w[..n], &c[..n]);
    let mut acc = [0f32; LANES];
    let (cw, rw) = w.as_chunks::<LANES>();
    let (cc, rc) = c.as_chunks::<LANES>();
    for (x, y) in cw.iter().zip(cc) {
        for k in 0..LANES {
            acc[k] += x[k] * f32::from(y[k]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in rw.iter().zip(rc) {
        tail += x * f32::from(*y);
    }
    fold(acc) + tail
}

pub(super) fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
    dot_u8_lanes(w, c)
}

pub(super) fn l2_f32(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| (x - y) * (x - y))
}

pub(super) fn ip_f32(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| x * y)
}

pub(super) fn cosine_f32(a: &[f32], b: &[f32]) -> f32 {
    cosine(lanes3(a, b, |x| x))
}

pub(super) fn l2_f16(a: &[u16], b: &[u16]) -> f32 {
    lanes(a, b, |x, y| {
        let d = f16_to_f32(x) - f16_to_f32(y);
        d * d
    })
}

pub(super) fn ip_f16(a: &[u16], b: &[u16]) -> f32 {
    lanes(a, b, |x, y| f16_to_f32(x) * f16_to_f32(y))
}

pub(super) fn cosine_f16(a: &[u16], b: &[u16]) -> f32 {
    cosine(lanes3(a, b, f16_to_f32))
}

pub(super) fn l2_bf16(a: &[u16], b: &[u16]) -> f32 {
    lanes(a, b, |x, y| {
        let d = bf16_to_f32(x) - bf16_to_f32(y);
        d * d
    })
}

pub(super) fn ip_bf16(a: &[u16], b: &[u16]) -> f32 {
    lanes(a, b, |x, y| bf16_to_f32(x) * bf16_to_f32(y))
}

pub(super) fn cosine_bf16(a: &[u16], b: &[u16]) -> f32 {
    cosine(lanes3(a, b, bf16_to_f32))
}

/// The sum of `f(a[i], b[i])` in 16 i32 lanes, in blocks short enough that a block's total
/// fits an i32 (lanes wrap; the block's total is exact), totalled in i64.
#[inline(always)]
fn int_lanes(a: &[i8], b: &[i8], f: impl Fn(i32, i32) -> i32) -> i64 {
    let n = a.len().min(b.len());
    let mut total = 0i64;
    for (a, b) in a[..n].chunks(I8_BLOCK).zip(b[..n].chunks(I8_BLOCK)) {
        let mut acc = [0i32; LANES];
        let (ca, ra) = a.as_chunks::<LANES>();
        let (cb, rb) = b.as_chunks::<LANES>();
        for (x, y) in ca.iter().zip(cb) {
            for l in 0..LANES {
                acc[l] = acc[l].wrapping_add(f(i32::from(x[l]), i32::from(y[l])));
            }
        }
        let mut sum = acc.iter().fold(0i32, |s, v| s.wrapping_add(*v));
        for (x, y) in ra.iter().zip(rb) {
            sum = sum.wrapping_add(f(i32::from(*x), i32::from(*y)));
        }
        total += i64::from(sum);
    }
    total
}

/// int8 values per block: `I8_BLOCK * 255^2 < 2^31`, so a block's squared-L2 total (the
/// largest of the int8 sums) fits an i32.
pub(super) const I8_BLOCK: usize = 32 * 1024;

pub(super) fn l2_i8(a: &[i8], b: &[i8]) -> f32 {
    int_lanes(a, b, |x, y| (x - y) * (x - y)) as f32
}

pub(super) fn ip_i8(a: &[i8], b: &[i8]) -> f32 {
    int_lanes(a, b, |x, y| x * y) as f32
}

pub(super) fn cosine_i8(a: &[i8], b: &[i8]) -> f32 {
    // Three passes: each vectorizes (to `pmaddwd` on SSE2), one pass of three sums does not.
    let ab = int_lanes(a, b, |x, y| x * y);
    let aa = int_lanes(a, a, |x, y| x * y);
    let bb = int_lanes(b, b, |x, y| x * y);
    cosine_of(ab as f32, aa as f32, bb as f32)
}

/// `K` sums of `f(a, b)` over the 64-bit words of two byte strings (the tail zero-padded),
/// in four independent accumulators.
#[inline(always)]
pub(super) fn words<const K: usize>(
    a: &[u8],
    b: &[u8],
    f: impl Fn(u64, u64) -> [u32; K],
) -> [u64; K] {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<8>();
    let (cb, rb) = b[..n].as_chunks::<8>();
    let mut acc = [[0u64; K]; 4];
    let add = |acc: &mut [u64; K], x: [u8; 8], y: [u8; 8]| {
        let v = f(u64::from_le_bytes(x), u64::from_le_bytes(y));
        for k in 0..K {
            acc[k] += u64::from(v[k]);
        }
    };
    let (ca4, ca1) = ca.as_chunks::<4>();
    let (cb4, cb1) = cb.as_chunks::<4>();
    for (x, y) in ca4.iter().zip(cb4) {
        for j in 0..4 {
            add(&mut acc[j], x[j], y[j]);
        }
    }
    for (x, y) in ca1.iter().zip(cb1) {
        add(&mut acc[0], *x, *y);
    }
    if !ra.is_empty() {
        let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
        x[..ra.len()].copy_from_slice(ra);
        y[..rb.len()].copy_from_slice(rb);
        add(&mut acc[1], x, y);
    }
    let mut out = [0u64; K];
    for k in 0..K {
        out[k] = acc.iter().map(|a| a[k]).sum();
    }
    out
}

/// Jaccard distance from the two counts.
#[inline(always)]
pub(super) fn jaccard_of(both: u64, either: u64) -> f32 {
    if either == 0 {
        0.0
    } else {
        (1.0 - both as f64 / either as f64) as f32
    }
}

pub(super) fn hamming(a: &[u8], b: &[u8]) -> f32 {
    let [d] = words(a, b, |x, y| [(x ^ y).count_ones()]);
    d as f32
}

pub(super) fn jaccard(a: &[u8], b: &[u8]) -> f32 {
    let [both, either] = words(a, b, |x, y| [(x & y).count_ones(), (x | y).count_ones()]);
    jaccard_of(both, either)
}

fn l2_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_rows(data, dim, out, |row| l2_f32(query, row));
}

fn ip_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_rows(data, dim, out, |row| ip_f32(query, row));
}

fn cosine_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]) {
    for_rows(data, dim, out, |row| cosine_f32(query, row));
}

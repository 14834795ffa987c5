//! Distance kernels. Every kernel is one portable loop written with 16 independent lanes (so
//! the compiler vectorizes it without reassociating floating-point sums), compiled three
//! times: for the x86-64 baseline, for AVX2+FMA and for AVX-512, picked per call from
//! [`rivus_schema::cpu::level`] (`RIVUS_CPU=baseline|avx2` caps it).
//!
//! Milvus's conventions: L2 is the *squared* Euclidean distance (smaller is closer); IP is
//! the inner product and COSINE the cosine similarity (larger is closer); HAMMING counts
//! differing bits; JACCARD is `1 - |a & b| / |a | b|` (0 for two empty vectors).

use rivus_schema::cpu::{self, Level};

/// Lanes per step: 16 f32 = one AVX-512 register, two AVX2 registers.
const LANES: usize = 16;

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
    // Pairwise across the lanes.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            acc[k] += acc[k + width];
        }
    }
    acc[0] + tail
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
    let fold = |mut v: [f32; LANES]| {
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                v[k] += v[k + width];
            }
        }
        v[0]
    };
    (fold(ab) + tab, fold(aa) + taa, fold(bb) + tbb)
}

/// Defines a kernel `$name(a, b) -> f32` from an inline body over `(a, b)`, in three
/// CPU-specific copies with run-time dispatch.
macro_rules! kernel {
    ($(#[$doc:meta])* $name:ident, $t:ty, |$a:ident, $b:ident| $body:expr) => {
        $(#[$doc])*
        pub fn $name(a: &[$t], b: &[$t]) -> f32 {
            #[inline(always)]
            fn body($a: &[$t], $b: &[$t]) -> f32 {
                $body
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
            fn avx512(a: &[$t], b: &[$t]) -> f32 {
                body(a, b)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma,f16c")]
            fn avx2(a: &[$t], b: &[$t]) -> f32 {
                body(a, b)
            }
            match cpu::level() {
                // SAFETY: `level` checked at run time that this CPU has the features the
                // copy was compiled for.
                #[cfg(target_arch = "x86_64")]
                #[allow(unsafe_code)]
                Level::Avx512 => unsafe { avx512(a, b) },
                #[cfg(target_arch = "x86_64")]
                #[allow(unsafe_code)]
                Level::Avx2 => unsafe { avx2(a, b) },
                _ => body(a, b),
            }
        }
    };
}

/// IEEE half precision bits to f32.
#[inline(always)]
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let out = if exp == 0 {
        // Zero or subnormal: mant x 2^-24, exact in f32.
        let v = mant as f32 * f32::from_bits(0x3380_0000);
        return if sign != 0 { -v } else { v };
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (mant << 13)
    };
    f32::from_bits(out)
}

/// bfloat16 bits to f32 (the high half of an f32).
#[inline(always)]
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

kernel!(
    /// Squared L2 distance of two float32 vectors.
    l2_f32, f32, |a, b| lanes(a, b, |x, y| (x - y) * (x - y))
);
kernel!(
    /// Inner product of two float32 vectors.
    ip_f32, f32, |a, b| lanes(a, b, |x, y| x * y)
);
kernel!(
    /// Squared L2 distance of two int8 vectors.
    l2_i8, i8, |a, b| lanes(a, b, |x, y| {
        let d = f32::from(x) - f32::from(y);
        d * d
    })
);
kernel!(
    /// Inner product of two int8 vectors.
    ip_i8, i8, |a, b| lanes(a, b, |x, y| f32::from(x) * f32::from(y))
);
kernel!(
    /// Squared L2 distance of two float16 vectors (as their bits).
    l2_f16, u16, |a, b| lanes(a, b, |x, y| {
        let d = f16_to_f32(x) - f16_to_f32(y);
        d * d
    })
);
kernel!(
    /// Inner product of two float16 vectors (as their bits).
    ip_f16, u16, |a, b| lanes(a, b, |x, y| f16_to_f32(x) * f16_to_f32(y))
);
kernel!(
    /// Squared L2 distance of two bfloat16 vectors (as their bits).
    l2_bf16, u16, |a, b| lanes(a, b, |x, y| {
        let d = bf16_to_f32(x) - bf16_to_f32(y);
        d * d
    })
);
kernel!(
    /// Inner product of two bfloat16 vectors (as their bits).
    ip_bf16, u16, |a, b| lanes(a, b, |x, y| bf16_to_f32(x) * bf16_to_f32(y))
);

fn cosine_of((ab, aa, bb): (f32, f32, f32)) -> f32 {
    let norms = (aa * bb).sqrt();
    if norms > 0.0 {
        ab / norms
    } else {
        0.0
    }
}

kernel!(
    /// Cosine similarity of two float32 vectors (0 when either is all zeros).
    cosine_f32, f32, |a, b| cosine_of(lanes3(a, b, |x| x))
);
kernel!(
    /// Cosine similarity of two int8 vectors.
    cosine_i8, i8, |a, b| cosine_of(lanes3(a, b, f32::from))
);
kernel!(
    /// Cosine similarity of two float16 vectors (as their bits).
    cosine_f16, u16, |a, b| cosine_of(lanes3(a, b, f16_to_f32))
);
kernel!(
    /// Cosine similarity of two bfloat16 vectors (as their bits).
    cosine_bf16, u16, |a, b| cosine_of(lanes3(a, b, bf16_to_f32))
);

/// Number of differing bits of two binary vectors (bytes).
pub fn hamming(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let mut ones = 0u32;
    let (mut ca, mut cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        ones += (x ^ y).count_ones();
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        ones += (x ^ y).count_ones();
    }
    ones as f32
}

/// Jaccard distance of two binary vectors: `1 - |a & b| / |a | b|` (0 when both are empty).
pub fn jaccard(a: &[u8], b: &[u8]) -> f32 {
    let (mut both, mut either) = (0u32, 0u32);
    for (x, y) in a.iter().zip(b) {
        both += (x & y).count_ones();
        either += (x | y).count_ones();
    }
    if either == 0 {
        0.0
    } else {
        1.0 - both as f32 / either as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn l2_ref(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }
    fn ip_ref(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }
    fn cos_ref(a: &[f64], b: &[f64]) -> f64 {
        let n = (ip_ref(a, a) * ip_ref(b, b)).sqrt();
        if n > 0.0 {
            ip_ref(a, b) / n
        } else {
            0.0
        }
    }
    /// Within float32 rounding of the f64 reference, scaled by the magnitudes involved.
    fn close(got: f32, want: f64, scale: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-4 * scale.max(1.0)
    }

    fn vecs() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (0usize..300).prop_flat_map(|n| {
            (
                proptest::collection::vec(-10.0f32..10.0, n),
                proptest::collection::vec(-10.0f32..10.0, n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn float_kernels_match_f64((a, b) in vecs()) {
            let (x, y): (Vec<f64>, Vec<f64>) = (a.iter().map(|v| f64::from(*v)).collect(), b.iter().map(|v| f64::from(*v)).collect());
            let scale = ip_ref(&x, &x) + ip_ref(&y, &y);
            prop_assert!(close(l2_f32(&a, &b), l2_ref(&x, &y), scale));
            prop_assert!(close(ip_f32(&a, &b), ip_ref(&x, &y), scale));
            prop_assert!(close(cosine_f32(&a, &b), cos_ref(&x, &y), 1.0));
            // Half precisions: the reference uses the rounded values.
            let bf: (Vec<u16>, Vec<u16>) = (a.iter().map(|v| (v.to_bits() >> 16) as u16).collect(), b.iter().map(|v| (v.to_bits() >> 16) as u16).collect());
            let (bx, by): (Vec<f64>, Vec<f64>) = (bf.0.iter().map(|v| f64::from(bf16_to_f32(*v))).collect(), bf.1.iter().map(|v| f64::from(bf16_to_f32(*v))).collect());
            prop_assert!(close(l2_bf16(&bf.0, &bf.1), l2_ref(&bx, &by), scale));
            prop_assert!(close(ip_bf16(&bf.0, &bf.1), ip_ref(&bx, &by), scale));
            prop_assert!(close(cosine_bf16(&bf.0, &bf.1), cos_ref(&bx, &by), 1.0));
        }

        #[test]
        fn int8_kernels_match_f64(pairs in proptest::collection::vec((any::<i8>(), any::<i8>()), 0..300)) {
            let (a, b): (Vec<i8>, Vec<i8>) = pairs.into_iter().unzip();
            let (x, y): (Vec<f64>, Vec<f64>) = (a.iter().map(|v| f64::from(*v)).collect(), b.iter().map(|v| f64::from(*v)).collect());
            let scale = ip_ref(&x, &x) + ip_ref(&y, &y);
            prop_assert!(close(l2_i8(&a, &b), l2_ref(&x, &y), scale));
            prop_assert!(close(ip_i8(&a, &b), ip_ref(&x, &y), scale));
            prop_assert!(close(cosine_i8(&a, &b), cos_ref(&x, &y), 1.0));
        }

        #[test]
        fn binary_kernels_count_bits(pairs in proptest::collection::vec((any::<u8>(), any::<u8>()), 0..64)) {
            let (a, b): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
            let bits = |v: &[u8], i: usize| v[i / 8] >> (i % 8) & 1 == 1;
            let n = a.len() * 8;
            let differ = (0..n).filter(|&i| bits(&a, i) != bits(&b, i)).count();
            let both = (0..n).filter(|&i| bits(&a, i) && bits(&b, i)).count();
            let either = (0..n).filter(|&i| bits(&a, i) || bits(&b, i)).count();
            prop_assert_eq!(hamming(&a, &b), differ as f32);
            let want = if either == 0 { 0.0 } else { 1.0 - both as f32 / either as f32 };
            prop_assert!((jaccard(&a, &b) - want).abs() < 1e-6);
        }
    }

    #[test]
    fn half_precision_conversions_are_exact() {
        // Every finite f16 value round-trips through f32 and back to the same bits' value.
        for bits in 0u16..=u16::MAX {
            let x = f16_to_f32(bits);
            let exp = (bits >> 10) & 0x1f;
            if exp == 0x1f {
                assert!(!x.is_finite());
                continue;
            }
            let mant = f64::from(bits & 0x3ff);
            let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
            let want = if exp == 0 {
                sign * mant * 2f64.powi(-24)
            } else {
                sign * (1.0 + mant / 1024.0) * 2f64.powi(i32::from(exp) - 15)
            };
            assert_eq!(f64::from(x), want, "bits {bits:#06x}");
        }
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }
}

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

/// f32 to the nearest-below IEEE half (bits); the tests compare against the half's value.
fn to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let mant = b & 0x7f_ffff;
    if exp >= 0x1f {
        return sign | 0x7bff;
    }
    if exp <= 0 {
        // Subnormal half (or zero): mant x 2^-24.
        let shift = 14 - exp;
        if shift > 24 {
            return sign;
        }
        return sign | ((mant | 0x80_0000) >> shift) as u16;
    }
    sign | ((exp as u16) << 10) | (mant >> 13) as u16
}

fn to_bf16(x: f32) -> u16 {
    (x.to_bits() >> 16) as u16
}

fn wide<T: Copy>(v: &[T], f: impl Fn(T) -> f32) -> Vec<f64> {
    v.iter().map(|x| f64::from(f(*x))).collect()
}

/// Every kernel table this CPU can run, whatever `RIVUS_CPU` says.
fn tables() -> Vec<Kernels> {
    #[allow(unused_mut)]
    let mut t = vec![portable::KERNELS];
    #[cfg(target_arch = "x86_64")]
    {
        t.extend(avx2::kernels());
        t.extend(avx512::kernels());
    }
    t
}

/// Checks every float and int8 kernel of `k` on `a`, `b` against the f64 references.
fn check_floats(k: &Kernels, a: &[f32], b: &[f32]) -> Result<(), String> {
    let (x, y) = (wide(a, |v| v), wide(b, |v| v));
    let scale = ip_ref(&x, &x) + ip_ref(&y, &y);
    let level = k.level;
    let n = a.len();
    let check = |what: &str, got: f32, want: f64, scale: f64| {
        if close(got, want, scale) {
            Ok(())
        } else {
            Err(format!("{level:?} {what} dim {n}: got {got}, want {want}"))
        }
    };
    check("l2_f32", (k.l2_f32)(a, b), l2_ref(&x, &y), scale)?;
    check("ip_f32", (k.ip_f32)(a, b), ip_ref(&x, &y), scale)?;
    check("cosine_f32", (k.cosine_f32)(a, b), cos_ref(&x, &y), 1.0)?;

    let (ha, hb): (Vec<u16>, Vec<u16>) = (
        a.iter().map(|v| to_f16(*v)).collect(),
        b.iter().map(|v| to_f16(*v)).collect(),
    );
    let (hx, hy) = (wide(&ha, f16_to_f32), wide(&hb, f16_to_f32));
    check("l2_f16", (k.l2_f16)(&ha, &hb), l2_ref(&hx, &hy), scale)?;
    check("ip_f16", (k.ip_f16)(&ha, &hb), ip_ref(&hx, &hy), scale)?;
    check(
        "cosine_f16",
        (k.cosine_f16)(&ha, &hb),
        cos_ref(&hx, &hy),
        1.0,
    )?;

    let (ba, bb): (Vec<u16>, Vec<u16>) = (
        a.iter().map(|v| to_bf16(*v)).collect(),
        b.iter().map(|v| to_bf16(*v)).collect(),
    );
    let (bx, by) = (wide(&ba, bf16_to_f32), wide(&bb, bf16_to_f32));
    check("l2_bf16", (k.l2_bf16)(&ba, &bb), l2_ref(&bx, &by), scale)?;
    check("ip_bf16", (k.ip_bf16)(&ba, &bb), ip_ref(&bx, &by), scale)?;
    check(
        "cosine_bf16",
        (k.cosine_bf16)(&ba, &bb),
        cos_ref(&bx, &by),
        1.0,
    )?;

    // int8 sums are exact: compare with the exact integer sums.
    let (ia, ib): (Vec<i8>, Vec<i8>) = (
        a.iter().map(|v| (v * 12.8) as i8).collect(),
        b.iter().map(|v| (v * 12.8) as i8).collect(),
    );
    let (ix, iy) = (wide(&ia, f32::from), wide(&ib, f32::from));
    let iscale = ip_ref(&ix, &ix) + ip_ref(&iy, &iy);
    let exact = |got: f32, want: f64| got == want as f32;
    if !exact((k.l2_i8)(&ia, &ib), l2_ref(&ix, &iy))
        || !exact((k.ip_i8)(&ia, &ib), ip_ref(&ix, &iy))
    {
        return Err(format!("{level:?} int8 dim {n}: not exact"));
    }
    check("cosine_i8", (k.cosine_i8)(&ia, &ib), cos_ref(&ix, &iy), 1.0)?;
    check("l2_i8", (k.l2_i8)(&ia, &ib), l2_ref(&ix, &iy), iscale)?;
    Ok(())
}

/// Checks the binary kernels of `k` against bit-by-bit counts.
fn check_binary(k: &Kernels, a: &[u8], b: &[u8]) -> Result<(), String> {
    let bits = |v: &[u8], i: usize| v[i / 8] >> (i % 8) & 1 == 1;
    let n = a.len().min(b.len()) * 8;
    let differ = (0..n).filter(|&i| bits(a, i) != bits(b, i)).count();
    let both = (0..n).filter(|&i| bits(a, i) && bits(b, i)).count();
    let either = (0..n).filter(|&i| bits(a, i) || bits(b, i)).count();
    let want = if either == 0 {
        0.0
    } else {
        1.0 - both as f64 / either as f64
    };
    let (h, j) = ((k.hamming)(a, b), (k.jaccard)(a, b));
    if h != differ as f32 || (f64::from(j) - want).abs() > 1e-6 {
        return Err(format!(
            "{:?} binary {} bytes: hamming {h} (want {differ}), jaccard {j} (want {want})",
            k.level,
            a.len()
        ));
    }
    Ok(())
}

/// A deterministic pseudo-random vector (xorshift), values in [-10, 10).
fn pseudo(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 20.0 - 10.0
        })
        .collect()
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
        let hf: (Vec<u16>, Vec<u16>) = (a.iter().map(|v| to_f16(*v)).collect(), b.iter().map(|v| to_f16(*v)).collect());
        let (hx, hy) = (wide(&hf.0, f16_to_f32), wide(&hf.1, f16_to_f32));
        prop_assert!(close(l2_f16(&hf.0, &hf.1), l2_ref(&hx, &hy), scale));
        prop_assert!(close(ip_f16(&hf.0, &hf.1), ip_ref(&hx, &hy), scale));
        prop_assert!(close(cosine_f16(&hf.0, &hf.1), cos_ref(&hx, &hy), 1.0));
    }

    #[test]
    fn int8_kernels_match_f64(pairs in proptest::collection::vec((any::<i8>(), any::<i8>()), 0..300)) {
        let (a, b): (Vec<i8>, Vec<i8>) = pairs.into_iter().unzip();
        let (x, y): (Vec<f64>, Vec<f64>) = (a.iter().map(|v| f64::from(*v)).collect(), b.iter().map(|v| f64::from(*v)).collect());
        let scale = ip_ref(&x, &x) + ip_ref(&y, &y);
        prop_assert!(close(l2_i8(&a, &b), l2_ref(&x, &y), scale));
        prop_assert!(close(ip_i8(&a, &b), ip_ref(&x, &y), scale));
        prop_assert!(close(cosine_i8(&a, &b), cos_ref(&x, &y), 1.0));
        // The int8 sums are exact.
        prop_assert_eq!(l2_i8(&a, &b), l2_ref(&x, &y) as f32);
        prop_assert_eq!(ip_i8(&a, &b), ip_ref(&x, &y) as f32);
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

    /// Every table this CPU can run (not only the one `RIVUS_CPU` picks), random dims.
    #[test]
    fn every_table_matches_f64((a, b) in vecs()) {
        for k in tables() {
            prop_assert!(check_floats(&k, &a, &b).is_ok(), "{:?}", check_floats(&k, &a, &b));
        }
    }

    #[test]
    fn every_table_counts_bits(pairs in proptest::collection::vec((any::<u8>(), any::<u8>()), 0..300)) {
        let (a, b): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
        for k in tables() {
            prop_assert!(check_binary(&k, &a, &b).is_ok(), "{:?}", check_binary(&k, &a, &b));
        }
    }

    /// The batch helpers give each row's distance (as the single kernels do, up to
    /// rounding), for any dim, row count and query length.
    #[test]
    fn batches_match_single_kernels(
        dim in 0usize..80,
        rows in 0usize..11,
        extra in 0usize..3,
        qlen_delta in -2isize..3,
        seed in any::<u64>(),
    ) {
        let data = pseudo(dim * rows + extra, seed);
        let qlen = (dim as isize + qlen_delta).max(0) as usize;
        let query = pseudo(qlen, seed ^ 1);
        let mut tabs = tables();
        tabs.push(*kernels());
        for k in tabs {
            for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
                let mut out = vec![f32::NAN; rows];
                (k.f32_many(metric))(&query, &data, dim, &mut out);
                for (i, got) in out.iter().enumerate() {
                    let row = &data[i * dim..(i + 1) * dim];
                    let n = query.len().min(dim);
                    let (x, y) = (wide(&query[..n], |v| v), wide(&row[..n], |v| v));
                    let (want, scale) = match metric {
                        Metric::L2 => (l2_ref(&x, &y), ip_ref(&x, &x) + ip_ref(&y, &y)),
                        Metric::Ip => (ip_ref(&x, &y), ip_ref(&x, &x) + ip_ref(&y, &y)),
                        Metric::Cosine => (cos_ref(&x, &y), 1.0),
                    };
                    prop_assert!(close(*got, want, scale), "{:?} {metric:?} dim {dim} row {i}: {got} vs {want}", k.level);
                    let single = (k.f32(metric))(&query, row);
                    prop_assert!(close(*got, f64::from(single), scale));
                }
            }
        }
    }

    /// A row's distance does not depend on its neighbours or its place in the batch.
    #[test]
    fn batch_rows_are_independent(dim in 1usize..50, rows in 1usize..9, seed in any::<u64>()) {
        let data = pseudo(dim * rows, seed);
        let query = pseudo(dim, seed ^ 1);
        for k in tables() {
            for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
                let mut all = vec![0f32; rows];
                (k.f32_many(metric))(&query, &data, dim, &mut all);
                for (i, want) in all.iter().enumerate() {
                    let mut one = [0f32];
                    (k.f32_many(metric))(&query, &data[i * dim..(i + 1) * dim], dim, &mut one);
                    prop_assert_eq!(one[0].to_bits(), want.to_bits());
                }
            }
        }
    }

    /// The free functions, the getters and the table agree exactly (same kernel).
    #[test]
    fn getters_are_the_dispatched_kernels((a, b) in vecs()) {
        let k = kernels();
        let same = |x: f32, y: f32| x.to_bits() == y.to_bits();
        prop_assert!(same(l2_f32_kernel()(&a, &b), l2_f32(&a, &b)));
        prop_assert!(same(ip_f32_kernel()(&a, &b), ip_f32(&a, &b)));
        prop_assert!(same(cosine_f32_kernel()(&a, &b), cosine_f32(&a, &b)));
        prop_assert!(same(f32_kernel(Metric::L2)(&a, &b), (k.l2_f32)(&a, &b)));
        prop_assert!(same(f32_kernel(Metric::Ip)(&a, &b), (k.ip_f32)(&a, &b)));
        prop_assert!(same(f32_kernel(Metric::Cosine)(&a, &b), (k.cosine_f32)(&a, &b)));
        let (ha, hb): (Vec<u16>, Vec<u16>) = (a.iter().map(|v| to_f16(*v)).collect(), b.iter().map(|v| to_f16(*v)).collect());
        prop_assert!(same(f16_kernel(Metric::L2)(&ha, &hb), l2_f16(&ha, &hb)));
        prop_assert!(same(f16_kernel(Metric::Ip)(&ha, &hb), ip_f16(&ha, &hb)));
        prop_assert!(same(f16_kernel(Metric::Cosine)(&ha, &hb), cosine_f16(&ha, &hb)));
        prop_assert!(same(bf16_kernel(Metric::L2)(&ha, &hb), l2_bf16(&ha, &hb)));
        prop_assert!(same(bf16_kernel(Metric::Ip)(&ha, &hb), ip_bf16(&ha, &hb)));
        prop_assert!(same(bf16_kernel(Metric::Cosine)(&ha, &hb), cosine_bf16(&ha, &hb)));
        let (ia, ib): (Vec<i8>, Vec<i8>) = (a.iter().map(|v| *v as i8).collect(), b.iter().map(|v| *v as i8).collect());
        prop_assert!(same(i8_kernel(Metric::L2)(&ia, &ib), l2_i8(&ia, &ib)));
        prop_assert!(same(i8_kernel(Metric::Ip)(&ia, &ib), ip_i8(&ia, &ib)));
        prop_assert!(same(i8_kernel(Metric::Cosine)(&ia, &ib), cosine_i8(&ia, &ib)));
        let dim = a.len();
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            let (mut x, mut y) = ([0f32; 1], [0f32; 1]);
            f32_many_kernel(metric)(&a, &b, dim, &mut x);
            (k.f32_many(metric))(&a, &b, dim, &mut y);
            prop_assert!(same(x[0], y[0]));
        }
        let (mut x, mut y, mut z) = ([0f32; 1], [0f32; 1], [0f32; 1]);
        l2_f32_many(&a, &b, dim, &mut x);
        ip_f32_many(&a, &b, dim, &mut y);
        cosine_f32_many(&a, &b, dim, &mut z);
        prop_assert!(close(x[0], f64::from(l2_f32(&a, &b)), ip_f32(&a, &a).into()));
        prop_assert!(close(y[0], f64::from(ip_f32(&a, &b)), (ip_f32(&a, &a) + ip_f32(&b, &b)).into()));
        prop_assert!(close(z[0], f64::from(cosine_f32(&a, &b)), 1.0));
    }
}

/// Every dim from 0 to 300 (every remainder of 16, 32 and 64), every table.
#[test]
fn every_dim_every_table() {
    for k in tables() {
        for n in 0..=300 {
            let (a, b) = (pseudo(n, n as u64), pseudo(n, n as u64 + 1000));
            if let Err(e) = check_floats(&k, &a, &b) {
                panic!("{e}");
            }
            let (x, y): (Vec<u8>, Vec<u8>) = (
                a.iter().map(|v| v.to_bits() as u8).collect(),
                b.iter().map(|v| (v.to_bits() >> 8) as u8).collect(),
            );
            if let Err(e) = check_binary(&k, &x, &y) {
                panic!("{e}");
            }
        }
    }
}

/// Vectors of different lengths are compared over the shorter one.
#[test]
fn lengths_differ() {
    for k in tables() {
        let (a, b) = (pseudo(100, 1), pseudo(37, 2));
        assert_eq!((k.l2_f32)(&a, &b), (k.l2_f32)(&a[..37], &b));
        assert_eq!((k.ip_f32)(&b, &a), (k.ip_f32)(&b, &a[..37]));
        assert_eq!((k.cosine_f32)(&a, &b), (k.cosine_f32)(&a[..37], &b));
        let (x, y) = (vec![3i8; 100], vec![-2i8; 37]);
        assert_eq!((k.l2_i8)(&x, &y), 37.0 * 25.0);
        assert_eq!((k.hamming)(&[0xff; 100], &[0; 37]), 37.0 * 8.0);
    }
}

/// int8 sums stay exact past the blocks' i32 range.
#[test]
fn int8_sums_are_exact_when_long() {
    let n = 3 * portable::I8_BLOCK + 77;
    let (a, b) = (vec![-128i8; n], vec![127i8; n]);
    for k in tables() {
        assert_eq!(
            (k.l2_i8)(&a, &b),
            (n as f64 * 255.0 * 255.0) as f32,
            "{:?}",
            k.level
        );
        assert_eq!((k.ip_i8)(&a, &b), (n as f64 * -128.0 * 127.0) as f32);
        assert_eq!((k.ip_i8)(&a, &a), (n as f64 * 128.0 * 128.0) as f32);
        assert!(((k.cosine_i8)(&a, &b) + 1.0).abs() < 1e-6);
    }
}

#[test]
fn zero_vectors_have_zero_cosine() {
    for k in tables() {
        for n in [0, 1, 15, 16, 17, 64, 300] {
            let (z, v) = (vec![0f32; n], pseudo(n, 3));
            assert_eq!((k.cosine_f32)(&z, &v), 0.0);
            assert_eq!((k.cosine_f32)(&v, &z), 0.0);
            assert_eq!((k.cosine_i8)(&vec![0; n], &vec![5; n]), 0.0);
            assert_eq!((k.cosine_f16)(&vec![0; n], &vec![0x3c00; n]), 0.0);
            assert_eq!((k.jaccard)(&vec![0; n], &vec![0; n]), 0.0);
            let mut out = vec![1f32; 3];
            (k.cosine_f32_many)(&z, &[v.clone(), v.clone(), v].concat(), n, &mut out);
            assert_eq!(out, [0.0; 3]);
        }
    }
}

#[test]
fn batches_of_dim_zero_are_zero() {
    for k in tables() {
        let mut out = vec![f32::NAN; 5];
        (k.l2_f32_many)(&[1.0, 2.0], &[], 0, &mut out);
        assert_eq!(out, [0.0; 5]);
        (k.cosine_f32_many)(&[], &[], 0, &mut out);
        assert_eq!(out, [0.0; 5]);
        (k.ip_f32_many)(&[1.0], &[1.0, 2.0], 1, &mut []);
    }
}

#[test]
#[should_panic(expected = "distance batch")]
fn batch_with_too_little_data_panics() {
    let mut out = [0f32; 3];
    l2_f32_many(&[1.0; 4], &[0.0; 11], 4, &mut out);
}

#[test]
fn the_level_is_honoured() {
    let k = kernels();
    match cpu::level() {
        Level::Baseline => assert_eq!(k.level, Level::Baseline),
        // Only lower when the CPU lacks FMA or F16C.
        Level::Avx2 => assert_ne!(k.level, Level::Avx512),
        Level::Avx512 => {}
    }
    eprintln!(
        "cpu level {:?}, kernels {:?}, tables tested {:?}",
        cpu::level(),
        k.level,
        tables().iter().map(|t| t.level).collect::<Vec<_>>()
    );
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

/// The SIMD f16 conversions agree with the portable one on every finite half: one-hot
/// vectors make each kernel's sum a single value's square.
#[test]
fn simd_f16_conversions_match() {
    for k in tables() {
        for bits in (0u16..=u16::MAX).step_by(7) {
            if (bits >> 10) & 0x1f == 0x1f {
                continue;
            }
            let x = f16_to_f32(bits);
            let mut a = vec![0u16; 19];
            a[bits as usize % 19] = bits;
            let got = (k.ip_f16)(&a, &a);
            assert_eq!(got, x * x, "{:?} bits {bits:#06x}", k.level);
        }
    }
}

/// `dot_u8` of every table against an f64 sum, every dim from 0 to 300, codes over the
/// whole byte range, and over the shorter of two lengths.
#[test]
fn dot_u8_every_dim_every_table() {
    for k in tables() {
        for n in 0..=300 {
            let w = pseudo(n, n as u64 + 7);
            let c: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            let want: f64 = w
                .iter()
                .zip(&c)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let scale: f64 = w.iter().map(|&x| f64::from(x).abs() * 255.0).sum::<f64>() + 1.0;
            let got = (k.dot_u8)(&w, &c);
            assert!(
                close(got, want, scale),
                "{:?} dim {n}: {got} vs {want}",
                k.level
            );
            if n > 0 {
                let short = (k.dot_u8)(&w, &c[..n - 1]);
                let want: f64 = want - f64::from(w[n - 1]) * f64::from(c[n - 1]);
                assert!(close(short, want, scale), "{:?} dim {n} shorter", k.level);
            }
        }
    }
}

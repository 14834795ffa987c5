use rivus_schema::Bitmap;

use super::*;
use crate::distance::{bf16_to_f32, f16_to_f32};
use crate::{flat, DenseVectors, RangeSearch};

fn data(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..rows * dim)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn params(sq: SqType, refine: Option<RefineType>) -> HnswSqParams {
    HnswSqParams {
        hnsw: HnswParams::new(12, 80),
        sq,
        refine,
    }
}

const ALL: [SqType; 5] = [
    SqType::Sq4U,
    SqType::Sq6,
    SqType::Sq8,
    SqType::Fp16,
    SqType::Bf16,
];

/// Share of the exact top 10 found, over `queries`.
fn recall(
    index: &FrozenHnswSq<Vec<u8>, Vec<u8>>,
    source: &DenseVectors<Vec<f32>>,
    queries: &[f32],
    refine_k: Option<f32>,
) -> f64 {
    let dim = source.dim();
    let opts = SearchOptions::new(10);
    let (mut found, mut total) = (0, 0);
    for q in queries.chunks_exact(dim) {
        let want = flat::search_one(source, index.metric(), q, &opts).unwrap();
        let got = index.search(source, q, &opts, 64, refine_k).unwrap();
        assert_eq!(got.len(), 10);
        total += want.len();
        found += want
            .iter()
            .filter(|w| got.iter().any(|g| g.row == w.row))
            .count();
    }
    found as f64 / total as f64
}

#[test]
fn half_precision_rounding_matches_the_decoders() {
    for x in [
        0.0f32, -0.0, 1.0, -2.5, 0.1, 65504.0, 1e-5, 3e-8, 1e6, -1e-7,
    ] {
        let h = f16_to_f32(to_f16(x));
        let b = bf16_to_f32(to_bf16(x));
        if x.abs() <= 65504.0 {
            // Within half a unit in the last place (2^-11 relative, or the subnormal step).
            assert!((h - x).abs() <= x.abs() * 4.9e-4 + 3.0e-8, "{x} -> {h}");
        } else {
            assert!(h.is_infinite());
        }
        assert!((b - x).abs() <= x.abs() * 3.9e-3, "{x} -> {b}");
    }
    // Ties round to even.
    assert_eq!(to_f16(1.0 + 2f32.powi(-11)), to_f16(1.0));
    assert_eq!(to_bf16(1.0 + 2f32.powi(-8)), to_bf16(1.0));
    assert!(f16_to_f32(to_f16(f32::NAN)).is_nan());
    assert!(bf16_to_f32(to_bf16(f32::NAN)).is_nan());
}

#[test]
fn names_parse_as_milvus_spells_them() {
    for t in ALL {
        assert_eq!(SqType::from_name(t.name()), Some(t));
        assert_eq!(SqType::from_name(&t.name().to_lowercase()), Some(t));
    }
    assert_eq!(RefineType::from_name("FLAT"), Some(RefineType::Fp32));
    assert_eq!(RefineType::from_name("fp32"), Some(RefineType::Fp32));
    assert_eq!(
        RefineType::from_name("SQ8"),
        Some(RefineType::Codes(SqType::Sq8))
    );
    assert_eq!(RefineType::from_name("SQ4U"), None);
    assert_eq!(SqType::from_name("SQ4"), None);
}

/// Every quantizer and metric: the walk over codes finds the exact neighbours, and the
/// scores it returns are the codes' estimates, close to the exact ones.
#[test]
fn every_quantizer_finds_the_neighbours() {
    let (rows, dim) = (3000, 24);
    let source = DenseVectors::new(data(rows, dim, 1), dim).unwrap();
    let queries = data(30, dim, 2);
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        for t in ALL {
            let index = build(&source, metric, &params(t, None)).unwrap();
            assert_eq!(index.sq_type(), t);
            let r = recall(&index, &source, &queries, None);
            let floor = match t {
                SqType::Sq4U => 0.45,
                SqType::Sq6 => 0.8,
                SqType::Sq8 | SqType::Fp16 | SqType::Bf16 => 0.9,
            };
            assert!(r >= floor, "{metric:?} {t:?}: recall {r}");
            // Scores are estimates from the codes: near the exact ones, not equal to them.
            let q = &queries[..dim];
            let hits = index
                .search(&source, q, &SearchOptions::new(5), 64, None)
                .unwrap();
            let tolerance = match t {
                SqType::Sq4U => 0.25,
                SqType::Sq6 => 0.05,
                SqType::Sq8 | SqType::Bf16 => 0.02,
                SqType::Fp16 => 0.002,
            };
            for h in &hits {
                let exact = metric.score(q, source.vector(h.row));
                let scale = match metric {
                    Metric::L2 => exact.abs().max(0.1),
                    Metric::Ip | Metric::Cosine => 1.0,
                };
                assert!(
                    (h.score - exact).abs() <= tolerance * scale * 4.0,
                    "{metric:?} {t:?}: {} vs exact {exact}",
                    h.score
                );
            }
            // Best first.
            let d: Vec<f32> = hits.iter().map(|h| metric.to_distance(h.score)).collect();
            assert!(d.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}

/// An FP32 refine re-scores with the vectors: FLAT's scores to the bit, and better recall
/// than the codes alone. Without `refine_k` the refine step does not run (Milvus).
#[test]
fn fp32_refine_gives_exact_scores() {
    let (rows, dim) = (3000, 24);
    let source = DenseVectors::new(data(rows, dim, 3), dim).unwrap();
    let queries = data(30, dim, 4);
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let index = build(
            &source,
            metric,
            &params(SqType::Sq4U, Some(RefineType::Fp32)),
        )
        .unwrap();
        assert_eq!(index.refine_type(), Some(RefineType::Fp32));
        let plain = recall(&index, &source, &queries, None);
        let refined = recall(&index, &source, &queries, Some(4.0));
        assert!(refined >= 0.95, "{metric:?}: refined recall {refined}");
        assert!(refined > plain, "{metric:?}: {refined} vs {plain}");
        let q = &queries[..dim];
        for h in index
            .search(&source, q, &SearchOptions::new(10), 64, Some(2.5))
            .unwrap()
        {
            assert_eq!(
                h.score.to_bits(),
                metric.score(q, source.vector(h.row)).to_bits()
            );
        }
    }
}

/// A refine over codes (SQ8 over SQ4U) also lifts recall; the blob holds both sets.
#[test]
fn code_refine_lifts_recall() {
    let (rows, dim) = (3000, 24);
    let source = DenseVectors::new(data(rows, dim, 5), dim).unwrap();
    let queries = data(30, dim, 6);
    let refine = Some(RefineType::Codes(SqType::Sq8));
    let index = build(&source, Metric::L2, &params(SqType::Sq4U, refine)).unwrap();
    let plain_len = build(&source, Metric::L2, &params(SqType::Sq4U, None))
        .unwrap()
        .codes_bytes()
        .len();
    assert!(index.codes_bytes().len() >= plain_len + rows * dim);
    let plain = recall(&index, &source, &queries, None);
    let refined = recall(&index, &source, &queries, Some(4.0));
    assert!(refined >= 0.9 && refined > plain, "{refined} vs {plain}");
    // refine_k on an index without a refine step changes nothing.
    let bare = build(&source, Metric::L2, &params(SqType::Sq4U, None)).unwrap();
    let q = &queries[..dim];
    let opts = SearchOptions::new(10);
    assert_eq!(
        bare.search(&source, q, &opts, 64, None).unwrap(),
        bare.search(&source, q, &opts, 64, Some(3.0)).unwrap()
    );
    assert!(bare.search(&source, q, &opts, 64, Some(0.5)).is_err());
}

#[test]
fn filters_return_allowed_rows_only_and_enough_of_them() {
    let (rows, dim) = (4000, 16);
    let source = DenseVectors::new(data(rows, dim, 7), dim).unwrap();
    let index = build(&source, Metric::L2, &params(SqType::Sq8, None)).unwrap();
    let q = data(1, dim, 8);
    for every in [2u32, 10, 100, 1000] {
        let filter = Bitmap::from_fn(rows, |r| (r as u32).is_multiple_of(every));
        let allowed = filter.count_ones();
        let opts = SearchOptions::new(10).with_filter(&filter);
        let hits = index.search(&source, &q, &opts, 32, None).unwrap();
        assert_eq!(hits.len(), 10.min(allowed), "1/{every}");
        assert!(hits.iter().all(|h| filter.get(h.row as usize)));
    }
    let none = Bitmap::from_fn(rows, |_| false);
    let opts = SearchOptions::new(10).with_filter(&none);
    assert!(index
        .search(&source, &q, &opts, 32, None)
        .unwrap()
        .is_empty());
}

#[test]
fn range_search_stays_inside_the_range() {
    let (rows, dim) = (3000, 16);
    let source = DenseVectors::new(data(rows, dim, 9), dim).unwrap();
    let q = data(1, dim, 10);
    for (metric, refine) in [
        (Metric::L2, None),
        (Metric::L2, Some(RefineType::Fp32)),
        (Metric::Ip, None),
    ] {
        let index = build(&source, metric, &params(SqType::Sq8, refine)).unwrap();
        let exact = flat::search_one(&source, metric, &q, &SearchOptions::new(50)).unwrap();
        let (radius, range_filter) = match metric {
            Metric::L2 => (exact[40].score, Some(exact[5].score)),
            Metric::Ip | Metric::Cosine => (exact[40].score, Some(exact[5].score)),
        };
        let range = RangeSearch {
            radius,
            range_filter,
        };
        let opts = SearchOptions::new(20).with_range(range);
        let hits = index.search(&source, &q, &opts, 16, Some(2.0)).unwrap();
        assert!(!hits.is_empty(), "{metric:?}");
        assert!(hits.len() <= 20);
        assert!(hits.iter().all(|h| range.contains(metric, h.score)));
    }
}

#[test]
fn loads_from_its_bytes_and_refuses_damage() {
    let (rows, dim) = (500, 8);
    let source = DenseVectors::new(data(rows, dim, 11), dim).unwrap();
    let refine = Some(RefineType::Codes(SqType::Fp16));
    let index = build(&source, Metric::Cosine, &params(SqType::Sq6, refine)).unwrap();
    let graph = index.graph().as_bytes().to_vec();
    let codes = index.codes_bytes().to_vec();
    let again = FrozenHnswSq::load(graph.clone(), codes.clone()).unwrap();
    assert_eq!(again.sq_type(), SqType::Sq6);
    assert_eq!(again.refine_type(), refine);
    let q = data(1, dim, 12);
    let opts = SearchOptions::new(7);
    assert_eq!(
        index.search(&source, &q, &opts, 32, Some(2.0)).unwrap(),
        again.search(&source, &q, &opts, 32, Some(2.0)).unwrap()
    );
    // Codes from a 2-byte-misaligned copy still load (half codes are copied out).
    let mut shifted = vec![0u8; codes.len() + 1];
    shifted[1..].copy_from_slice(&codes);
    let odd = FrozenHnswSq::load(graph.clone(), &shifted[1..]).unwrap();
    assert_eq!(
        odd.search(&source, &q, &opts, 32, Some(2.0)).unwrap(),
        index.search(&source, &q, &opts, 32, Some(2.0)).unwrap()
    );
    // Damage and mismatches are refused.
    let mut bad = codes.clone();
    bad[0] ^= 1;
    assert!(FrozenHnswSq::load(graph.clone(), bad).is_err());
    assert!(FrozenHnswSq::load(graph.clone(), codes[..codes.len() - 1].to_vec()).is_err());
    let other = DenseVectors::new(data(rows + 1, dim, 13), dim).unwrap();
    let other_codes = build(&other, Metric::Cosine, &params(SqType::Sq6, None))
        .unwrap()
        .codes_bytes()
        .to_vec();
    assert!(FrozenHnswSq::load(graph, other_codes).is_err());
}

#[test]
fn wrong_dimensions_are_errors() {
    let (rows, dim) = (200, 8);
    let source = DenseVectors::new(data(rows, dim, 14), dim).unwrap();
    let index = build(
        &source,
        Metric::L2,
        &params(SqType::Sq8, Some(RefineType::Fp32)),
    )
    .unwrap();
    let opts = SearchOptions::new(3);
    assert!(index.search(&source, &[0.0; 7], &opts, 16, None).is_err());
    let short = DenseVectors::new(data(rows - 1, dim, 14), dim).unwrap();
    assert!(index
        .search(&short, &[0.0; 8], &opts, 16, Some(2.0))
        .is_err());
    // Without the refine step the vectors are not read.
    assert_eq!(
        index
            .search(&short, &[0.0; 8], &opts, 16, None)
            .unwrap()
            .len(),
        3
    );
}

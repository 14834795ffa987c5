//! Empty indexes, tiny ones, bad arguments, parameters, determinism.

use rivus_index::{
    flat, hnsw, DenseVectors, FrozenHnsw, HnswParams, IndexError, Metric, RangeSearch,
    SearchOptions,
};

use crate::common::{fixture, random_vectors};

#[test]
fn empty_index_returns_nothing() {
    let source = DenseVectors::new(Vec::<f32>::new(), 4).unwrap();
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let graph = hnsw::build(&source, metric, &HnswParams::default()).unwrap();
        assert!(graph.is_empty());
        assert_eq!(graph.layer_count(), 0);
        let hits = graph
            .search(&source, &[1.0; 4], &SearchOptions::new(10), 16)
            .unwrap();
        assert!(hits.is_empty());
        let loaded = FrozenHnsw::load(graph.as_bytes()).unwrap();
        assert!(loaded
            .search(&source, &[1.0; 4], &SearchOptions::new(10), 16)
            .unwrap()
            .is_empty());
        assert!(
            flat::search_one(&source, metric, &[1.0; 4], &SearchOptions::new(3))
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn k_above_row_count_returns_every_row() {
    let source = DenseVectors::new(random_vectors(5, 8, 3), 8).unwrap();
    let graph = hnsw::build(&source, Metric::L2, &HnswParams::default()).unwrap();
    let q = random_vectors(1, 8, 4);
    let hits = graph
        .search(&source, &q, &SearchOptions::new(100), 16)
        .unwrap();
    assert_eq!(hits.len(), 5);
    let want = flat::search_one(&source, Metric::L2, &q, &SearchOptions::new(100)).unwrap();
    assert_eq!(hits, want);
    assert!(graph
        .search(&source, &q, &SearchOptions::new(0), 16)
        .unwrap()
        .is_empty());
}

#[test]
fn single_row_graph() {
    let source = DenseVectors::new(vec![1.0, 2.0], 2).unwrap();
    let graph = hnsw::build(&source, Metric::Cosine, &HnswParams::default()).unwrap();
    let hits = graph
        .search(&source, &[2.0, 4.0], &SearchOptions::new(3), 16)
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert!((hits[0].score - 1.0).abs() < 1e-6);
}

#[test]
fn dimension_mismatches_are_errors() {
    let fx = fixture(Metric::L2);
    let opts = SearchOptions::new(5);
    let err = fx
        .graph
        .search(&fx.source, &[0.0; 31], &opts, 16)
        .unwrap_err();
    assert!(matches!(
        err,
        IndexError::DimensionMismatch {
            expected: 32,
            got: 31
        }
    ));
    assert!(fx
        .graph
        .search_batch(&fx.source, &[0.0; 33], &opts, 16)
        .is_err());
    let other = DenseVectors::new(vec![0.0; 64], 16).unwrap();
    assert!(matches!(
        fx.graph.search(&other, &[0.0; 32], &opts, 16),
        Err(IndexError::DimensionMismatch {
            expected: 32,
            got: 16
        })
    ));
    let short = DenseVectors::new(vec![0.0; 64], 32).unwrap();
    assert!(matches!(
        fx.graph.search(&short, &[0.0; 32], &opts, 16),
        Err(IndexError::SourceTooShort { .. })
    ));
    assert!(flat::search(&fx.source, Metric::L2, &[0.0; 31], &opts).is_err());
}

#[test]
fn bad_parameters_are_errors() {
    let source = DenseVectors::new(random_vectors(10, 4, 1), 4).unwrap();
    for params in [
        HnswParams::new(1, 10),
        HnswParams::new(4000, 10),
        HnswParams::new(16, 0),
    ] {
        assert!(matches!(
            hnsw::build(&source, Metric::L2, &params),
            Err(IndexError::InvalidParameter { .. })
        ));
    }
    let fx = fixture(Metric::Ip);
    let backwards = RangeSearch {
        radius: 0.5,
        range_filter: Some(0.1),
    };
    let opts = SearchOptions::new(5).with_range(backwards);
    assert!(fx.graph.search(&fx.source, fx.query(0), &opts, 16).is_err());
    assert!(flat::search(&fx.source, Metric::Ip, fx.query(0), &opts).is_err());
}

#[test]
fn single_thread_builds_are_deterministic() {
    let source = DenseVectors::new(random_vectors(400, 16, 5), 16).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let build =
        || pool.install(|| hnsw::build(&source, Metric::L2, &HnswParams::new(8, 40)).unwrap());
    assert_eq!(build().as_bytes(), build().as_bytes());
}

#[test]
fn cosine_zero_vectors_score_zero() {
    let mut data = random_vectors(200, 8, 6);
    data[..8].fill(0.0);
    let source = DenseVectors::new(data, 8).unwrap();
    let graph = hnsw::build(&source, Metric::Cosine, &HnswParams::new(8, 40)).unwrap();
    let hits = graph
        .search(&source, &[0.0; 8], &SearchOptions::new(5), 200)
        .unwrap();
    assert!(hits.iter().all(|h| h.score == 0.0));
    let q = random_vectors(1, 8, 7);
    let hits = graph
        .search(&source, &q, &SearchOptions::new(200), 200)
        .unwrap();
    assert!(hits.iter().all(|h| h.score.is_finite()));
}

#[test]
fn cosine_over_unit_vectors_walks_with_the_inner_product() {
    let (rows, dim) = (1500, 16);
    let mut data = random_vectors(rows, dim, 8);
    for v in data.chunks_exact_mut(dim) {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
    }
    let source = DenseVectors::new(data, dim).unwrap();
    let params = HnswParams::new(12, 80);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let cosine = pool.install(|| hnsw::build(&source, Metric::Cosine, &params).unwrap());
    let ip = pool.install(|| hnsw::build(&source, Metric::Ip, &params).unwrap());
    // The same graph as IP's (only the metric code differs), without an inverse-norm
    // section.
    assert_eq!(cosine.as_bytes().len(), ip.as_bytes().len());
    assert_eq!(cosine.as_bytes()[16..], ip.as_bytes()[16..]);
    let queries = random_vectors(40, dim, 9);
    let opts = SearchOptions::new(10);
    let mut total = 0.0;
    for q in queries.chunks_exact(dim) {
        let found = cosine.search(&source, q, &opts, 64).unwrap();
        let want = flat::search_one(&source, Metric::Cosine, q, &opts).unwrap();
        crate::common::assert_consistent(Metric::Cosine, &found, &want);
        total += crate::common::recall(&found, &want);
    }
    assert!(total / 40.0 >= 0.95, "recall {}", total / 40.0);
}

//! Filtered HNSW search against filter-then-rank exact search.

use rivus_index::{Metric, SearchOptions};
use rivus_schema::Bitmap;

use crate::common::{assert_consistent, fixture, recall, Rng, METRICS, QUERIES, ROWS};

fn random_filter(fraction_per_mille: u64, seed: u64) -> Bitmap {
    let mut rng = Rng(seed);
    Bitmap::from_fn(ROWS, |_| rng.below(1000) < fraction_per_mille)
}

#[test]
fn filtered_search_returns_min_k_matches_with_high_recall() {
    for metric in METRICS {
        let fx = fixture(metric);
        for (per_mille, seed) in [(10, 1), (100, 2), (500, 3)] {
            let filter = random_filter(per_mille, seed);
            let matches = filter.count_ones();
            let opts = SearchOptions::new(10).with_filter(&filter);
            let mut total = 0.0;
            for q in 0..QUERIES {
                let found = fx.graph.search(&fx.source, fx.query(q), &opts, 64).unwrap();
                let want = fx.exact(q, &opts);
                assert_eq!(found.len(), 10.min(matches), "{metric:?} {per_mille}‰");
                assert!(found.iter().all(|h| filter.get(h.row as usize)));
                assert_consistent(metric, &found, &want);
                total += recall(&found, &want);
            }
            let mean = total / QUERIES as f64;
            assert!(mean >= 0.95, "{metric:?} {per_mille}‰: recall {mean}");
        }
    }
}

#[test]
fn filter_with_fewer_matches_than_k_returns_them_all() {
    let fx = fixture(Metric::L2);
    let filter = Bitmap::from_fn(ROWS, |r| r % 1000 == 7);
    let opts = SearchOptions::new(10).with_filter(&filter);
    let found = fx.graph.search(&fx.source, fx.query(0), &opts, 16).unwrap();
    let mut rows: Vec<u32> = found.iter().map(|h| h.row).collect();
    rows.sort_unstable();
    assert_eq!(rows, [7, 1007, 2007]);
}

#[test]
fn empty_and_short_filters() {
    let fx = fixture(Metric::Ip);
    let none = Bitmap::zeros(ROWS);
    let opts = SearchOptions::new(10).with_filter(&none);
    assert!(fx
        .graph
        .search(&fx.source, fx.query(0), &opts, 16)
        .unwrap()
        .is_empty());
    // A bitmap shorter than the index allows nothing past its end.
    let short = Bitmap::ones(5);
    let opts = SearchOptions::new(10).with_filter(&short);
    let found = fx.graph.search(&fx.source, fx.query(0), &opts, 16).unwrap();
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|h| h.row < 5));
}

/// A half-selective filter at a small ef takes the graph walk (not the exact fallback);
/// it still returns k allowed hits with high recall.
#[test]
fn half_selective_filter_walks_the_graph() {
    for metric in METRICS {
        let fx = fixture(metric);
        let filter = random_filter(500, 4);
        let opts = SearchOptions::new(10).with_filter(&filter);
        let mut total = 0.0;
        for q in 0..QUERIES {
            let found = fx.graph.search(&fx.source, fx.query(q), &opts, 24).unwrap();
            let want = fx.exact(q, &opts);
            assert_eq!(found.len(), 10);
            assert!(found.iter().all(|h| filter.get(h.row as usize)));
            assert_consistent(metric, &found, &want);
            total += recall(&found, &want);
        }
        let mean = total / QUERIES as f64;
        assert!(mean >= 0.95, "{metric:?}: recall {mean}");
    }
}

//! HNSW against exact search on random data: recall floor and identical scores.

use rivus_index::{Metric, RangeSearch, SearchOptions};

use crate::common::{assert_consistent, fixture, recall, METRICS, QUERIES};

#[test]
fn recall_at_10_matches_flat_for_every_metric() {
    for metric in METRICS {
        let fx = fixture(metric);
        let opts = SearchOptions::new(10);
        let mut total = 0.0;
        for q in 0..QUERIES {
            let found = fx.graph.search(&fx.source, fx.query(q), &opts, 64).unwrap();
            let want = fx.exact(q, &opts);
            assert_eq!(found.len(), 10);
            assert_consistent(metric, &found, &want);
            total += recall(&found, &want);
        }
        let mean = total / QUERIES as f64;
        assert!(mean >= 0.95, "{metric:?}: recall@10 {mean}");
    }
}

#[test]
fn batch_search_equals_one_by_one() {
    let fx = fixture(Metric::L2);
    let opts = SearchOptions::new(5);
    let batch = fx
        .graph
        .search_batch(&fx.source, &fx.queries, &opts, 32)
        .unwrap();
    assert_eq!(batch.len(), QUERIES);
    for (q, hits) in batch.iter().enumerate() {
        assert_eq!(
            hits,
            &fx.graph.search(&fx.source, fx.query(q), &opts, 32).unwrap()
        );
    }
}

#[test]
fn flat_batch_equals_one_by_one() {
    let fx = fixture(Metric::Cosine);
    let opts = SearchOptions::new(7);
    let batch = rivus_index::flat::search(&fx.source, fx.metric, &fx.queries, &opts).unwrap();
    for (q, hits) in batch.iter().enumerate() {
        assert_eq!(hits, &fx.exact(q, &opts));
    }
}

#[test]
fn range_search_stays_in_range_and_finds_the_exact_hits() {
    for metric in METRICS {
        let fx = fixture(metric);
        // Bounds between the 5th and 40th exact neighbour of each query.
        let mut total = 0.0;
        for q in 0..QUERIES {
            let ranked = fx.exact(q, &SearchOptions::new(40));
            let (inner, outer) = (ranked[4].score, ranked[39].score);
            let range = RangeSearch {
                radius: outer,
                range_filter: Some(inner),
            };
            let opts = SearchOptions::new(20).with_range(range);
            let found = fx.graph.search(&fx.source, fx.query(q), &opts, 64).unwrap();
            let want = fx.exact(q, &opts);
            assert_eq!(want.len(), 20);
            assert!(found.iter().all(|h| range.contains(metric, h.score)));
            assert_consistent(metric, &found, &want);
            total += recall(&found, &want);
        }
        let mean = total / QUERIES as f64;
        assert!(mean >= 0.95, "{metric:?}: range recall {mean}");
    }
}

//! Write -> load round trips and damaged bytes.

use rivus_index::{FrozenHnsw, IndexError, Metric, SearchOptions};

use crate::common::{fixture, METRICS, QUERIES};

#[test]
fn round_trip_searches_identically() {
    for metric in METRICS {
        let fx = fixture(metric);
        let mut bytes = Vec::new();
        fx.graph.write_to(&mut bytes).unwrap();
        assert_eq!(bytes, fx.graph.as_bytes());
        // Loaded from an unaligned slice: nothing assumes the buffer's alignment.
        let mut shifted = vec![0u8; 1];
        shifted.extend_from_slice(&bytes);
        let loaded = FrozenHnsw::load(&shifted[1..]).unwrap();
        assert_eq!(loaded.len(), fx.graph.len());
        assert_eq!(loaded.dim(), fx.graph.dim());
        assert_eq!(loaded.metric(), metric);
        assert_eq!(loaded.m(), 16);
        let opts = SearchOptions::new(10);
        for q in 0..QUERIES {
            let a = fx.graph.search(&fx.source, fx.query(q), &opts, 32).unwrap();
            let b = loaded.search(&fx.source, fx.query(q), &opts, 32).unwrap();
            assert_eq!(a, b);
        }
    }
}

#[test]
fn truncated_or_foreign_bytes_are_rejected() {
    let fx = fixture(Metric::L2);
    let bytes = fx.graph.as_bytes();
    for cut in [0, 7, 63, 64, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(
                FrozenHnsw::load(&bytes[..cut]),
                Err(IndexError::Corrupt { .. })
            ),
            "cut at {cut}"
        );
    }
    assert!(FrozenHnsw::load(
        &b"definitely not an index, just some bytes........................"[..]
    )
    .is_err());
}

#[test]
fn damaged_links_never_panic() {
    let fx = fixture(Metric::Cosine);
    let clean = fx.graph.as_bytes();
    let opts = SearchOptions::new(10);
    let mut rng = crate::common::Rng(99);
    for _ in 0..40 {
        let mut bytes = clean.to_vec();
        for _ in 0..64 {
            let at = 64 + rng.below((bytes.len() - 64) as u64) as usize;
            bytes[at] = rng.next_u64() as u8;
        }
        if let Ok(graph) = FrozenHnsw::load(&bytes[..]) {
            let hits = graph.search(&fx.source, fx.query(0), &opts, 32).unwrap();
            assert!(hits.len() <= 10);
        }
    }
}

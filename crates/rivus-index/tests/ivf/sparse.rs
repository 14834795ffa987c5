//! SPARSE_INVERTED_INDEX against exact sparse search.

use rivus_index::sparse::{self, encode_row, flat_search};
use rivus_index::{
    FrozenSparse, Hit, IndexError, RangeSearch, SearchOptions, SparseParams, SparseSearchParams,
};
use rivus_schema::Bitmap;

use crate::common::{recall, Rng};

/// `rows` rows over a vocabulary of `vocab` indexes (skewed: low indexes are common),
/// 5..30 entries each, values in (0, 1].
fn rows(n: usize, vocab: u64, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let nnz = 5 + rng.below(25);
            let pairs: Vec<(u32, f32)> = (0..nnz)
                .map(|_| {
                    let a = rng.below(vocab);
                    let i = a.min(rng.below(vocab)) as u32;
                    (i, (rng.unit() + 1.0) / 2.0 + 1e-3)
                })
                .collect();
            encode_row(&pairs)
        })
        .collect()
}

fn queries(n: usize, vocab: u64, seed: u64) -> Vec<Vec<u8>> {
    rows(n, vocab, seed)
}

fn refs(q: &[Vec<u8>]) -> Vec<&[u8]> {
    q.iter().map(Vec::as_slice).collect()
}

#[test]
fn exact_scores_filters_and_ranges() {
    let data = rows(3000, 2000, 7);
    let qs = queries(40, 2000, 8);
    let q = refs(&qs);
    let index = sparse::build(&data, &SparseParams::default()).unwrap();
    assert_eq!(index.len(), 3000);
    let total: usize = data.iter().map(|r| r.len() / 8).sum();
    assert_eq!(index.entries(), total);
    let p = SparseSearchParams::default();
    for k in [1, 10, 100] {
        let opts = SearchOptions::new(k);
        let want = flat_search(&data, &q, &opts).unwrap();
        let got = index.search_batch(&q, &opts, &p).unwrap();
        assert_eq!(got, want, "k {k}: rows and scores bit-identical");
        assert!(want.iter().all(|h| h.len() == k));
    }
    for every in [2usize, 97, 3001] {
        let filter = Bitmap::from_fn(3000, |r| r % every == 5);
        let opts = SearchOptions::new(10).with_filter(&filter);
        let want = flat_search(&data, &q, &opts).unwrap();
        let got = index.search_batch(&q, &opts, &p).unwrap();
        assert_eq!(got, want, "1/{every}");
        assert!(got.iter().flatten().all(|h| filter.get(h.row as usize)));
    }
    let first = &want_top(&data, q[0], 30);
    let range = RangeSearch {
        radius: first[20].score,
        range_filter: Some(first[3].score),
    };
    let ropts = SearchOptions::new(100).with_range(range);
    assert_eq!(
        index.search(q[0], &ropts, &p).unwrap(),
        flat_search(&data, &q[..1], &ropts).unwrap()[0]
    );
}

fn want_top(data: &[Vec<u8>], q: &[u8], k: usize) -> Vec<Hit> {
    flat_search(data, &[q], &SearchOptions::new(k))
        .unwrap()
        .remove(0)
}

#[test]
fn drop_ratios_trade_recall() {
    let data = rows(2000, 1000, 17);
    let qs = queries(30, 1000, 18);
    let q = refs(&qs);
    let opts = SearchOptions::new(10);
    let want = flat_search(&data, &q, &opts).unwrap();
    let index = sparse::build(&data, &SparseParams::default()).unwrap();
    let some = index
        .search_batch(
            &q,
            &opts,
            &SparseSearchParams {
                drop_ratio_search: 0.2,
            },
        )
        .unwrap();
    let r = recall(&some, &want);
    assert!(
        (0.6..=1.0).contains(&r),
        "drop_ratio_search 0.2: recall {r}"
    );
    let pruned = sparse::build(
        &data,
        &SparseParams {
            drop_ratio_build: 0.3,
        },
    )
    .unwrap();
    assert!(pruned.entries() < index.entries());
    assert_eq!(pruned.drop_ratio_build(), 0.3);
    let r = recall(
        &pruned
            .search_batch(&q, &opts, &SparseSearchParams::default())
            .unwrap(),
        &want,
    );
    assert!(r >= 0.5, "drop_ratio_build 0.3: recall {r}");
}

#[test]
fn round_trip_and_errors() {
    let data = rows(500, 300, 27);
    let qs = queries(10, 300, 28);
    let q = refs(&qs);
    let index = sparse::build(&data, &SparseParams::default()).unwrap();
    let mut bytes = Vec::new();
    index.write_to(&mut bytes).unwrap();
    let mut shifted = vec![0u8; 5];
    shifted.extend_from_slice(&bytes);
    let loaded = FrozenSparse::load(&shifted[5..]).unwrap();
    let opts = SearchOptions::new(10);
    let p = SparseSearchParams::default();
    assert_eq!(
        loaded.search_batch(&q, &opts, &p).unwrap(),
        index.search_batch(&q, &opts, &p).unwrap()
    );
    for cut in [0, 10, 100, bytes.len() - 1] {
        assert!(FrozenSparse::load(&bytes[..cut]).is_err());
    }
    for ratio in [-0.1, 1.0, f32::NAN] {
        assert!(matches!(
            sparse::build(
                &data,
                &SparseParams {
                    drop_ratio_build: ratio
                }
            ),
            Err(IndexError::InvalidParameter {
                name: "drop_ratio_build",
                ..
            })
        ));
        assert!(index
            .search(
                q[0],
                &opts,
                &SparseSearchParams {
                    drop_ratio_search: ratio
                }
            )
            .is_err());
    }
    let bad = vec![data[0].clone(), data[1][..5].to_vec()];
    assert!(sparse::build(&bad, &SparseParams::default()).is_err());
    assert!(index.search(&q[0][..9], &opts, &p).is_err());
    // An empty query or a query sharing nothing finds nothing.
    assert!(index.search(&[], &opts, &p).unwrap().is_empty());
    assert!(index
        .search(&encode_row(&[(999_999, 1.0)]), &opts, &p)
        .unwrap()
        .is_empty());
    let empty: Vec<Vec<u8>> = Vec::new();
    let e = sparse::build(&empty, &SparseParams::default()).unwrap();
    assert!(e.search(q[0], &opts, &p).unwrap().is_empty());
}

//! BIN_FLAT and BIN_IVF_FLAT.

use rivus_index::binary::{self, flat_search};
use rivus_index::{
    BinIvfParams, BinaryMetric, BinaryVectors, FrozenBinIvf, IndexError, RangeSearch, SearchOptions,
};
use rivus_schema::Bitmap;

use crate::common::{recall, Rng};

const DIM: usize = 64;

/// `rows` binary vectors around `centers` random centers, each bit flipped with
/// probability `flip`; plus `queries` more.
fn clustered_bits(
    rows: usize,
    queries: usize,
    centers: usize,
    flip: u64,
    seed: u64,
) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(seed);
    let bytes = DIM / 8;
    let c: Vec<u8> = (0..centers * bytes).map(|_| rng.next_u64() as u8).collect();
    let point = |rng: &mut Rng| -> Vec<u8> {
        let k = rng.below(centers as u64) as usize;
        (0..bytes)
            .map(|b| {
                let mut v = c[k * bytes + b];
                for bit in 0..8 {
                    if rng.below(100) < flip {
                        v ^= 1 << bit;
                    }
                }
                v
            })
            .collect()
    };
    let data = (0..rows).flat_map(|_| point(&mut rng)).collect();
    let q = (0..queries).flat_map(|_| point(&mut rng)).collect();
    (data, q)
}

#[test]
fn every_list_probed_is_exact() {
    let (data, queries) = clustered_bits(2000, 30, 40, 50, 3);
    let source = BinaryVectors::new(data, DIM).unwrap();
    let opts = SearchOptions::new(10);
    for metric in [BinaryMetric::Hamming, BinaryMetric::Jaccard] {
        let index = binary::build(&source, metric, &BinIvfParams::new(32)).unwrap();
        assert_eq!(index.list_sizes().iter().sum::<usize>(), 2000);
        assert_eq!(index.metric(), metric);
        let want = flat_search(&source, metric, &queries, &opts).unwrap();
        let got = index.search_batch(&queries, &opts, 32).unwrap();
        assert_eq!(got, want, "{metric:?}");
        // Round trip from an unaligned copy.
        let mut shifted = vec![0u8; 3];
        shifted.extend_from_slice(index.as_bytes());
        let loaded = FrozenBinIvf::load(&shifted[3..]).unwrap();
        assert_eq!(
            loaded.search_batch(&queries, &opts, 4).unwrap(),
            index.search_batch(&queries, &opts, 4).unwrap()
        );
        assert!(FrozenBinIvf::load(&index.as_bytes()[..40]).is_err());
    }
}

#[test]
fn clustered_recall_filters_and_ranges() {
    let (data, queries) = clustered_bits(3000, 40, 32, 8, 5);
    let source = BinaryVectors::new(data, DIM).unwrap();
    let k = 10;
    let opts = SearchOptions::new(k);
    let metric = BinaryMetric::Hamming;
    let index = binary::build(&source, metric, &BinIvfParams::new(32)).unwrap();
    let want = flat_search(&source, metric, &queries, &opts).unwrap();
    let got = index.search_batch(&queries, &opts, 4).unwrap();
    let r = recall(&got, &want);
    assert!(r >= 0.9, "BIN_IVF_FLAT recall@10 {r} with nprobe 4 of 32");
    for every in [3usize, 100, 1500] {
        let filter = Bitmap::from_fn(3000, |r| r % every == 2);
        let allowed = filter.count_ones();
        let fopts = SearchOptions::new(k).with_filter(&filter);
        for hits in index.search_batch(&queries, &fopts, 4).unwrap() {
            assert_eq!(hits.len(), k.min(allowed));
            assert!(hits.iter().all(|h| filter.get(h.row as usize)));
        }
    }
    let range = RangeSearch {
        radius: 12.0,
        range_filter: Some(2.0),
    };
    let ropts = SearchOptions::new(1000).with_range(range);
    let exact = flat_search(&source, metric, &queries, &ropts).unwrap();
    let all = index.search_batch(&queries, &ropts, 32).unwrap();
    assert_eq!(all, exact);
    for hits in index.search_batch(&queries, &ropts, 2).unwrap() {
        assert!(hits.iter().all(|h| (2.0..12.0).contains(&h.score)));
    }
}

#[test]
fn binary_errors() {
    let source = BinaryVectors::new(vec![0u8; 80], 16).unwrap();
    assert!(matches!(
        binary::build(&source, BinaryMetric::Hamming, &BinIvfParams::new(0)),
        Err(IndexError::InvalidParameter { name: "nlist", .. })
    ));
    let index = binary::build(&source, BinaryMetric::Hamming, &BinIvfParams::new(4)).unwrap();
    assert!(index.lists() <= 4);
    let opts = SearchOptions::new(3);
    assert_eq!(index.search(&[0, 0], &opts, 4).unwrap().len(), 3);
    assert!(index.search(&[0], &opts, 4).is_err());
    assert!(index.search(&[0, 0], &opts, 0).is_err());
    let empty = BinaryVectors::new(Vec::<u8>::new(), 16).unwrap();
    let e = binary::build(&empty, BinaryMetric::Jaccard, &BinIvfParams::new(4)).unwrap();
    assert!(e.search(&[1, 2], &opts, 1).unwrap().is_empty());
}

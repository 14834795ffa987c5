//! IVF_PQ against FLAT.

use rivus_index::{
    ivf, FrozenIvf, IvfParams, IvfQuantizer, IvfSearchParams, Metric, SearchOptions,
};
use rivus_schema::Bitmap;

use crate::common::{clustered, exact, recall, METRICS};

#[test]
fn recall_at_reasonable_m() {
    let (source, queries) = clustered(2000, 40, 16, 32, 0.2, 51);
    let k = 10;
    let opts = SearchOptions::new(k);
    for metric in METRICS {
        // 8 sub-quantizers of 5 bits for 16 dimensions: 5 bytes per row.
        let index = ivf::build(&source, metric, &IvfParams::pq(32, 8, 5)).unwrap();
        assert_eq!(index.quantizer(), IvfQuantizer::Pq { m: 8, nbits: 5 });
        let want = exact(&source, metric, &queries, &opts);
        let got = index
            .search_batch(&source, &queries, &opts, &IvfSearchParams::new(8))
            .unwrap();
        let r = recall(&got, &want);
        assert!(r >= 0.7, "{metric:?}: IVF_PQ recall@10 {r}");
        let refined = index
            .search_batch(
                &source,
                &queries,
                &opts,
                &IvfSearchParams {
                    nprobe: 8,
                    refine_factor: 4,
                },
            )
            .unwrap();
        let rr = recall(&refined, &want);
        assert!(rr >= r && rr >= 0.9, "{metric:?}: refined recall {rr}");
        // Filters.
        let filter = Bitmap::from_fn(2000, |r| r % 200 == 7);
        let fopts = SearchOptions::new(k).with_filter(&filter);
        for hits in index
            .search_batch(&source, &queries, &fopts, &IvfSearchParams::new(8))
            .unwrap()
        {
            assert_eq!(hits.len(), 10);
            assert!(hits.iter().all(|h| filter.get(h.row as usize)));
        }
        let loaded = FrozenIvf::load(index.as_bytes()).unwrap();
        assert_eq!(
            loaded
                .search_batch(&source, &queries, &opts, &IvfSearchParams::new(8))
                .unwrap(),
            got
        );
    }
}

#[test]
fn any_nbits_packs_codes() {
    let (source, queries) = clustered(600, 10, 12, 8, 0.2, 61);
    let opts = SearchOptions::new(5);
    let want = exact(&source, Metric::L2, &queries, &opts);
    for (m, nbits) in [(3, 1), (4, 5), (6, 8), (12, 3), (2, 10)] {
        let index = ivf::build(&source, Metric::L2, &IvfParams::pq(8, m, nbits)).unwrap();
        let got = index
            .search_batch(&source, &queries, &opts, &IvfSearchParams::new(8))
            .unwrap();
        assert!(got.iter().all(|h| h.len() == 5));
        let r = recall(&got, &want);
        // More bits per dimension, better codes; even 1 bit per 4 dims finds something.
        let floor = if m * nbits >= 40 { 0.6 } else { 0.2 };
        assert!(r >= floor, "m {m} nbits {nbits}: recall {r}");
        assert_eq!(
            FrozenIvf::load(index.as_bytes()).unwrap().quantizer(),
            index.quantizer()
        );
    }
}

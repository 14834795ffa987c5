//! IVF_SQ8 against FLAT.

use rivus_index::{
    ivf, FrozenIvf, IvfParams, IvfQuantizer, IvfSearchParams, RangeSearch, SearchOptions,
};
use rivus_schema::Bitmap;

use crate::common::{clustered, exact, recall, METRICS};

#[test]
fn recall_scores_filters_and_round_trip() {
    let (source, queries) = clustered(2000, 40, 16, 32, 0.2, 31);
    let k = 10;
    let opts = SearchOptions::new(k);
    for metric in METRICS {
        let index = ivf::build(&source, metric, &IvfParams::sq8(32)).unwrap();
        assert_eq!(index.quantizer(), IvfQuantizer::Sq8);
        let want = exact(&source, metric, &queries, &opts);
        let all = index
            .search_batch(&source, &queries, &opts, &IvfSearchParams::new(32))
            .unwrap();
        let r_all = recall(&all, &want);
        assert!(
            r_all >= 0.95,
            "{metric:?}: every list probed, recall {r_all}"
        );
        let few = index
            .search_batch(&source, &queries, &opts, &IvfSearchParams::new(6))
            .unwrap();
        let r = recall(&few, &want);
        assert!(r >= 0.9, "{metric:?}: recall@10 {r} with nprobe 6 of 32");
        // Scores are estimates from the codes: close to the exact ones.
        let mut worst = 0f32;
        for (g, w) in all.iter().zip(&want) {
            for h in g {
                if let Some(e) = w.iter().find(|x| x.row == h.row) {
                    worst = worst.max((h.score - e.score).abs() / e.score.abs().max(1.0));
                }
            }
        }
        assert!(worst < 0.05, "{metric:?}: quantized score error {worst}");
        // Refinement rescores exactly: scores then equal FLAT's.
        let refined = index
            .search_batch(
                &source,
                &queries,
                &opts,
                &IvfSearchParams {
                    nprobe: 32,
                    refine_factor: 3,
                },
            )
            .unwrap();
        assert!(recall(&refined, &want) >= 0.99);
        for (g, w) in refined.iter().zip(&want) {
            for h in g {
                if let Some(e) = w.iter().find(|x| x.row == h.row) {
                    assert_eq!(h.score, e.score);
                }
            }
        }
        // Filters: min(k, allowed) hits, all allowed.
        for every in [2usize, 50, 1000] {
            let filter = Bitmap::from_fn(2000, |r| r % every == 1);
            let allowed = filter.count_ones();
            let fopts = SearchOptions::new(k).with_filter(&filter);
            let got = index
                .search_batch(&source, &queries, &fopts, &IvfSearchParams::new(6))
                .unwrap();
            for hits in &got {
                assert_eq!(hits.len(), k.min(allowed), "{metric:?} 1/{every}");
                assert!(hits.iter().all(|h| filter.get(h.row as usize)));
            }
            let fwant = exact(&source, metric, &queries, &fopts);
            let fr = recall(&got, &fwant);
            assert!(fr >= 0.85, "{metric:?} 1/{every}: filtered recall {fr}");
        }
        // Range on the estimated scores.
        let q = &queries[..16];
        let top = exact(&source, metric, q, &SearchOptions::new(30));
        let range = RangeSearch {
            radius: top[0][20].score,
            range_filter: None,
        };
        let hits = index
            .search(
                &source,
                q,
                &SearchOptions::new(50).with_range(range),
                &IvfSearchParams::new(32),
            )
            .unwrap();
        assert!(hits.iter().all(|h| range.contains(metric, h.score)));
        assert!(hits.len() >= 15, "{metric:?}: {} in range", hits.len());
        // Round trip.
        let loaded = FrozenIvf::load(index.as_bytes().to_vec()).unwrap();
        assert_eq!(
            loaded
                .search_batch(&source, &queries, &opts, &IvfSearchParams::new(6))
                .unwrap(),
            few
        );
    }
}

#[test]
fn codes_are_searched_without_the_source() {
    let (source, queries) = clustered(500, 5, 8, 8, 0.2, 41);
    let index = ivf::build(&source, rivus_index::Metric::L2, &IvfParams::sq8(8)).unwrap();
    // Without refinement the source is not read: an empty one is accepted.
    let none = rivus_index::DenseVectors::new(Vec::new(), 3).unwrap();
    let hits = index
        .search(
            &none,
            &queries[..8],
            &SearchOptions::new(5),
            &IvfSearchParams::default(),
        )
        .unwrap();
    assert_eq!(hits.len(), 5);
    assert!(index
        .search(
            &none,
            &queries[..8],
            &SearchOptions::new(5),
            &IvfSearchParams {
                nprobe: 8,
                refine_factor: 2
            }
        )
        .is_err());
}

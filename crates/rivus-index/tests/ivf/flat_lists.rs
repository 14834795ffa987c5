//! IVF_FLAT against FLAT.

use std::sync::OnceLock;

use rivus_index::{
    ivf, DenseVectors, FrozenIvf, IndexError, IvfParams, IvfSearchParams, Metric, RangeSearch,
    SearchOptions,
};
use rivus_schema::Bitmap;

use crate::common::{clustered, exact, random_vectors, recall, rows, METRICS};

const DIM: usize = 16;
const ROWS: usize = 2000;
const NLIST: usize = 32;

struct Fixture {
    source: DenseVectors<Vec<f32>>,
    queries: Vec<f32>,
    indexes: Vec<(Metric, FrozenIvf<Vec<u8>>)>,
}

/// Uniform random data, one IVF_FLAT per metric, built once.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let source = DenseVectors::new(random_vectors(ROWS, DIM, 11), DIM).unwrap();
        let queries = random_vectors(40, DIM, 12);
        let indexes = METRICS
            .iter()
            .map(|&m| (m, ivf::build(&source, m, &IvfParams::flat(NLIST)).unwrap()))
            .collect();
        Fixture {
            source,
            queries,
            indexes,
        }
    })
}

#[test]
fn probing_every_list_is_exact() {
    let fx = fixture();
    let opts = SearchOptions::new(10);
    for (metric, index) in &fx.indexes {
        assert_eq!(index.lists(), NLIST);
        assert_eq!(index.list_sizes().iter().sum::<usize>(), ROWS);
        let got = index
            .search_batch(&fx.source, &fx.queries, &opts, &IvfSearchParams::new(NLIST))
            .unwrap();
        let want = exact(&fx.source, *metric, &fx.queries, &opts);
        assert_eq!(got, want, "{metric:?}: rows and scores identical to FLAT");
        // nprobe past nlist probes every list too.
        let more = index
            .search_batch(
                &fx.source,
                &fx.queries,
                &opts,
                &IvfSearchParams::new(4 * NLIST),
            )
            .unwrap();
        assert_eq!(more, want);
    }
}

#[test]
fn clustered_recall_with_few_probes() {
    let (source, queries) = clustered(3000, 50, 16, 48, 0.15, 21);
    let opts = SearchOptions::new(10);
    for metric in METRICS {
        let index = ivf::build(&source, metric, &IvfParams::flat(48)).unwrap();
        let want = exact(&source, metric, &queries, &opts);
        let got = index
            .search_batch(&source, &queries, &opts, &IvfSearchParams::default())
            .unwrap();
        let r = recall(&got, &want);
        assert!(r >= 0.9, "{metric:?}: recall@10 {r} with nprobe 8 of 48");
        let one = index
            .search_batch(&source, &queries, &opts, &IvfSearchParams::new(1))
            .unwrap();
        assert!(
            recall(&one, &want) <= r + 1e-9,
            "more probes never hurt on average"
        );
    }
}

#[test]
fn filtered_search_returns_min_k_allowed() {
    let fx = fixture();
    let (clustered_source, clustered_queries) = clustered(ROWS, 40, DIM, 32, 0.2, 13);
    let k = 10;
    for (metric, index) in &fx.indexes {
        let nice = ivf::build(&clustered_source, *metric, &IvfParams::flat(NLIST)).unwrap();
        for (source, queries, index, floor) in [
            (&fx.source, &fx.queries, index, 0.0f64),
            (&clustered_source, &clustered_queries, &nice, 0.9),
        ] {
            let p = IvfSearchParams::new(4);
            let unfiltered = recall(
                &index
                    .search_batch(source, queries, &SearchOptions::new(k), &p)
                    .unwrap(),
                &exact(source, *metric, queries, &SearchOptions::new(k)),
            );
            for (name, filter) in [
                ("half", Bitmap::from_fn(ROWS, |r| r % 2 == 0)),
                ("1/40", Bitmap::from_fn(ROWS, |r| r % 40 == 3)),
                (
                    "three",
                    Bitmap::from_fn(ROWS, |r| [5, 999, 1999].contains(&r)),
                ),
                ("none", Bitmap::zeros(ROWS)),
                ("short", Bitmap::ones(100)),
            ] {
                let allowed = filter.iter_ones().filter(|&r| r < ROWS).count();
                let opts = SearchOptions::new(k).with_filter(&filter);
                let got = index.search_batch(source, queries, &opts, &p).unwrap();
                let want = exact(source, *metric, queries, &opts);
                for hits in &got {
                    assert_eq!(hits.len(), k.min(allowed), "{metric:?} {name}");
                    assert!(hits.iter().all(|h| filter.get(h.row as usize)), "{name}");
                }
                // A filter widens the probe so recall holds up.
                let r = recall(&got, &want);
                assert!(
                    r >= floor.max(unfiltered - 0.1),
                    "{metric:?} {name}: filtered recall {r}, unfiltered {unfiltered}"
                );
            }
        }
    }
}

#[test]
fn range_search_stays_in_range() {
    let fx = fixture();
    for (metric, index) in &fx.indexes {
        for q in fx.queries.chunks_exact(DIM).take(10) {
            let top = exact(&fx.source, *metric, q, &SearchOptions::new(30));
            let (inner, outer) = (top[0][5].score, top[0][25].score);
            let range = RangeSearch {
                radius: outer,
                range_filter: Some(inner),
            };
            let opts = SearchOptions::new(100).with_range(range);
            let want = exact(&fx.source, *metric, q, &opts);
            let all = index
                .search(&fx.source, q, &opts, &IvfSearchParams::new(NLIST))
                .unwrap();
            assert_eq!(all, want[0], "{metric:?}: every list probed = exact range");
            let some = index
                .search(&fx.source, q, &opts, &IvfSearchParams::new(4))
                .unwrap();
            assert!(some.iter().all(|h| range.contains(*metric, h.score)));
            assert!(some.len() <= want[0].len());
            let limited = index
                .search(
                    &fx.source,
                    q,
                    &SearchOptions::new(3).with_range(range),
                    &IvfSearchParams::new(NLIST),
                )
                .unwrap();
            assert_eq!(limited, want[0][..3]);
        }
    }
}

#[test]
fn round_trip_searches_identically() {
    let fx = fixture();
    let opts = SearchOptions::new(10);
    for (_, index) in &fx.indexes {
        let mut bytes = Vec::new();
        index.write_to(&mut bytes).unwrap();
        assert_eq!(bytes, index.as_bytes());
        let mut shifted = vec![0u8; 1];
        shifted.extend_from_slice(&bytes);
        let loaded = FrozenIvf::load(&shifted[1..]).unwrap();
        assert_eq!(
            (
                loaded.len(),
                loaded.dim(),
                loaded.metric(),
                loaded.lists(),
                loaded.quantizer()
            ),
            (
                index.len(),
                index.dim(),
                index.metric(),
                index.lists(),
                index.quantizer()
            )
        );
        let p = IvfSearchParams::new(3);
        assert_eq!(
            loaded
                .search_batch(&fx.source, &fx.queries, &opts, &p)
                .unwrap(),
            index
                .search_batch(&fx.source, &fx.queries, &opts, &p)
                .unwrap()
        );
        for cut in [0, 7, 30, 200, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(
                FrozenIvf::load(&bytes[..cut]),
                Err(IndexError::Corrupt { .. })
            ));
        }
        let mut v = bytes.clone();
        v[8] = 9;
        assert!(matches!(
            FrozenIvf::load(&v[..]),
            Err(IndexError::UnsupportedVersion { found: 9, .. })
        ));
    }
    // Same seed, same data: the same bytes, whatever the thread count.
    let again = ivf::build(&fx.source, Metric::L2, &IvfParams::flat(NLIST)).unwrap();
    assert_eq!(again.as_bytes(), fx.indexes[0].1.as_bytes());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for params in [IvfParams::flat(NLIST), IvfParams::pq(NLIST, 4, 4)] {
        let one = pool.install(|| ivf::build(&fx.source, Metric::Ip, &params).unwrap());
        let many = ivf::build(&fx.source, Metric::Ip, &params).unwrap();
        assert_eq!(one.as_bytes(), many.as_bytes(), "{params:?}");
    }
}

#[test]
fn bad_parameters_are_rejected() {
    let fx = fixture();
    let invalid = |r: Result<FrozenIvf<Vec<u8>>, IndexError>, name: &str| match r {
        Err(IndexError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
        other => panic!("expected invalid {name}, got {other:?}"),
    };
    invalid(
        ivf::build(&fx.source, Metric::L2, &IvfParams::flat(0)),
        "nlist",
    );
    invalid(
        ivf::build(&fx.source, Metric::L2, &IvfParams::flat(65_537)),
        "nlist",
    );
    invalid(
        ivf::build(&fx.source, Metric::L2, &IvfParams::pq(8, 3, 8)),
        "m",
    );
    invalid(
        ivf::build(&fx.source, Metric::L2, &IvfParams::pq(8, 0, 8)),
        "m",
    );
    invalid(
        ivf::build(&fx.source, Metric::L2, &IvfParams::pq(8, 4, 0)),
        "nbits",
    );
    invalid(
        ivf::build(&fx.source, Metric::L2, &IvfParams::pq(8, 4, 17)),
        "nbits",
    );
    let index = &fx.indexes[0].1;
    let q = &fx.queries[..DIM];
    let opts = SearchOptions::new(5);
    assert!(matches!(
        index.search(&fx.source, q, &opts, &IvfSearchParams::new(0)),
        Err(IndexError::InvalidParameter { name: "nprobe", .. })
    ));
    assert!(matches!(
        index.search(&fx.source, q, &opts, &IvfSearchParams::new(65_537)),
        Err(IndexError::InvalidParameter { name: "nprobe", .. })
    ));
    assert!(matches!(
        index.search(&fx.source, &q[1..], &opts, &IvfSearchParams::default()),
        Err(IndexError::DimensionMismatch { .. })
    ));
    // IVF_FLAT holds its vectors: the source is not read.
    let short = DenseVectors::new(random_vectors(10, DIM, 1), DIM).unwrap();
    assert_eq!(
        index
            .search(&short, q, &opts, &IvfSearchParams::default())
            .unwrap(),
        index
            .search(&fx.source, q, &opts, &IvfSearchParams::default())
            .unwrap()
    );
    // Refinement reads it, and checks it.
    let sq8 = ivf::build(&fx.source, Metric::L2, &IvfParams::sq8(8)).unwrap();
    let refine = IvfSearchParams {
        nprobe: 8,
        refine_factor: 2,
    };
    assert!(matches!(
        sq8.search(&short, q, &opts, &refine),
        Err(IndexError::SourceTooShort { .. })
    ));
    let narrow = DenseVectors::new(random_vectors(ROWS, DIM / 2, 1), DIM / 2).unwrap();
    assert!(matches!(
        sq8.search(&narrow, q, &opts, &refine),
        Err(IndexError::DimensionMismatch { .. })
    ));
    let bad_range = SearchOptions::new(5).with_range(RangeSearch {
        radius: 1.0,
        range_filter: Some(2.0),
    });
    assert!(index
        .search(&fx.source, q, &bad_range, &IvfSearchParams::default())
        .is_err());
    assert!(index
        .search_batch(
            &fx.source,
            &fx.queries[..DIM + 1],
            &opts,
            &IvfSearchParams::default()
        )
        .is_err());
}

#[test]
fn tiny_and_empty_sources() {
    let empty = DenseVectors::new(Vec::new(), 4).unwrap();
    let index = ivf::build(&empty, Metric::L2, &IvfParams::flat(16)).unwrap();
    assert!(index.is_empty());
    assert_eq!(index.lists(), 0);
    let loaded = FrozenIvf::load(index.as_bytes()).unwrap();
    assert!(loaded
        .search(
            &empty,
            &[0.0; 4],
            &SearchOptions::new(3),
            &IvfSearchParams::default()
        )
        .unwrap()
        .is_empty());
    // Fewer rows than nlist: a list per row, still exact with every list probed.
    let few = DenseVectors::new(random_vectors(5, 4, 3), 4).unwrap();
    for metric in METRICS {
        let index = ivf::build(&few, metric, &IvfParams::flat(16)).unwrap();
        assert_eq!((index.lists(), index.nlist()), (5, 16));
        let hits = index
            .search(
                &few,
                &[0.5; 4],
                &SearchOptions::new(10),
                &IvfSearchParams::new(1),
            )
            .unwrap();
        assert_eq!(hits.len(), 5, "small lists are widened to reach k");
        assert_eq!(
            rows(&hits),
            rows(&exact(&few, metric, &[0.5; 4], &SearchOptions::new(10))[0])
        );
    }
    // Every quantizer copes with empty and tiny sources (PQ with fewer rows than
    // codewords uses the rows themselves).
    for params in [
        IvfParams::sq8(4),
        IvfParams::pq(4, 2, 8),
        IvfParams::pq(4, 4, 3),
    ] {
        let index = ivf::build(&empty, Metric::Cosine, &params).unwrap();
        assert!(index
            .search(
                &empty,
                &[1.0; 4],
                &SearchOptions::new(3),
                &IvfSearchParams::default()
            )
            .unwrap()
            .is_empty());
        for metric in METRICS {
            let index = ivf::build(&few, metric, &params).unwrap();
            let hits = index
                .search(
                    &few,
                    &[0.5; 4],
                    &SearchOptions::new(10),
                    &IvfSearchParams::new(1),
                )
                .unwrap();
            assert_eq!(hits.len(), 5, "{params:?} {metric:?}");
        }
    }
    // A zero vector under COSINE scores 0, as FLAT says.
    let zeros = DenseVectors::new(vec![0.0, 0.0, 1.0, 0.0], 2).unwrap();
    let index = ivf::build(&zeros, Metric::Cosine, &IvfParams::flat(2)).unwrap();
    let hits = index
        .search(
            &zeros,
            &[1.0, 0.0],
            &SearchOptions::new(2),
            &IvfSearchParams::new(2),
        )
        .unwrap();
    assert_eq!(rows(&hits), [1, 0]);
    assert_eq!(hits[1].score, 0.0);
    // k = 0 returns nothing.
    assert!(index
        .search(
            &zeros,
            &[1.0, 0.0],
            &SearchOptions::new(0),
            &IvfSearchParams::new(2)
        )
        .unwrap()
        .is_empty());
}

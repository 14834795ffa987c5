//! Build and search timings at a realistic size; run with
//! `cargo test --release -p rivus-index --test ivf -- --ignored --nocapture timing`.

use std::time::Instant;

use rivus_index::binary::{self, flat_search};
use rivus_index::sparse::{self, encode_row};
use rivus_index::{
    ivf, BinIvfParams, BinaryMetric, BinaryVectors, DenseVectors, IvfParams, IvfSearchParams,
    Metric, SearchOptions, SparseParams, SparseSearchParams,
};

use crate::common::{clustered, exact, random_vectors, recall, Rng};

/// CPU seconds this process has used (user + system, from /proc; 0 elsewhere): wall time
/// on a shared machine says little.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the name), in
    // clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

#[test]
#[ignore = "release-mode timing"]
fn timing_100k_x_128() {
    let (clustered_source, clustered_queries) = clustered(100_000, 200, 128, 1000, 0.5, 99);
    let uniform = DenseVectors::new(random_vectors(100_000, 128, 98), 128).unwrap();
    let uniform_queries = random_vectors(200, 128, 97);
    let opts = SearchOptions::new(10);
    for (name, source, queries) in [
        ("clustered", &clustered_source, &clustered_queries),
        ("uniform", &uniform, &uniform_queries),
    ] {
        let t = Instant::now();
        let want = exact(source, Metric::L2, queries, &opts);
        println!("{name}: FLAT 200 queries {:?} (2 threads)", t.elapsed());
        for params in [
            IvfParams::flat(1024),
            IvfParams::sq8(1024),
            IvfParams::pq(1024, 32, 8),
        ] {
            let (t, cpu) = (Instant::now(), cpu_seconds());
            let index = ivf::build(source, Metric::L2, &params).unwrap();
            let build = format!("{:.1?} wall, {:.1} s CPU", t.elapsed(), cpu_seconds() - cpu);
            for nprobe in [8, 32, 128] {
                let p = IvfSearchParams::new(nprobe);
                let t = Instant::now();
                // One thread: per-query latency without pool contention.
                let got: Vec<_> = queries
                    .chunks_exact(128)
                    .map(|q| index.search(source, q, &opts, &p).unwrap())
                    .collect();
                println!(
                    "{name}: {} nlist 1024 build {build} ({} MB); nprobe {nprobe}: 200 queries {:?}, recall@10 {:.3}",
                    params.quantizer.index_type(),
                    index.as_bytes().len() >> 20,
                    t.elapsed(),
                    recall(&got, &want)
                );
            }
        }
    }
}

#[test]
#[ignore = "release-mode timing"]
fn timing_binary_and_sparse() {
    let mut rng = Rng(7);
    let data: Vec<u8> = (0..100_000 * 32).map(|_| rng.next_u64() as u8).collect();
    let source = BinaryVectors::new(data, 256).unwrap();
    let queries: Vec<u8> = (0..200 * 32).map(|_| rng.next_u64() as u8).collect();
    let opts = SearchOptions::new(10);
    let t = Instant::now();
    let want = flat_search(&source, BinaryMetric::Hamming, &queries, &opts).unwrap();
    println!("BIN_FLAT 100k x 256 bits, 200 queries {:?}", t.elapsed());
    let t = Instant::now();
    let index = binary::build(&source, BinaryMetric::Hamming, &BinIvfParams::new(1024)).unwrap();
    let build = t.elapsed();
    for nprobe in [8, 64] {
        let t = Instant::now();
        let got = index.search_batch(&queries, &opts, nprobe).unwrap();
        println!(
            "BIN_IVF_FLAT nlist 1024 build {build:?}; nprobe {nprobe}: {:?}, recall@10 {:.3}",
            t.elapsed(),
            recall(&got, &want)
        );
    }
    let rows: Vec<Vec<u8>> = (0..100_000)
        .map(|_| {
            let pairs: Vec<(u32, f32)> = (0..50)
                .map(|_| {
                    let a = rng.below(30_000);
                    (a.min(rng.below(30_000)) as u32, (rng.unit() + 1.0) / 2.0)
                })
                .collect();
            encode_row(&pairs)
        })
        .collect();
    let qs: Vec<&[u8]> = rows[..200].iter().map(Vec::as_slice).collect();
    let t = Instant::now();
    let index = sparse::build(&rows, &SparseParams::default()).unwrap();
    println!(
        "SPARSE_INVERTED_INDEX 100k rows x 50 nnz: build {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    index
        .search_batch(&qs, &opts, &SparseSearchParams::default())
        .unwrap();
    println!("  200 queries of 50 terms: {:?}", t.elapsed());
    let t = Instant::now();
    sparse::flat_search(&rows, &qs[..20], &opts).unwrap();
    println!("  exact scan, 20 queries: {:?}", t.elapsed());
}

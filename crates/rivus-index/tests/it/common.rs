//! Shared fixtures: deterministic random vectors and one graph per metric, built once per
//! test binary (debug builds are slow; every test reuses them).

use std::sync::OnceLock;

use rivus_index::{flat, hnsw, DenseVectors, FrozenHnsw, Hit, HnswParams, Metric, SearchOptions};

pub const DIM: usize = 32;
pub const ROWS: usize = 3000;
pub const QUERIES: usize = 60;

/// SplitMix64 stream.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

pub fn random_vectors(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    (0..rows * dim).map(|_| rng.unit()).collect()
}

pub struct Fixture {
    pub metric: Metric,
    pub source: DenseVectors<Vec<f32>>,
    pub queries: Vec<f32>,
    pub graph: FrozenHnsw<Vec<u8>>,
}

fn make(metric: Metric, seed: u64) -> Fixture {
    let source = DenseVectors::new(random_vectors(ROWS, DIM, seed), DIM).unwrap();
    let queries = random_vectors(QUERIES, DIM, seed + 1);
    let graph = hnsw::build(&source, metric, &HnswParams::new(16, 100)).unwrap();
    Fixture {
        metric,
        source,
        queries,
        graph,
    }
}

/// The shared graph for `metric`.
pub fn fixture(metric: Metric) -> &'static Fixture {
    static L2: OnceLock<Fixture> = OnceLock::new();
    static IP: OnceLock<Fixture> = OnceLock::new();
    static COSINE: OnceLock<Fixture> = OnceLock::new();
    match metric {
        Metric::L2 => L2.get_or_init(|| make(metric, 11)),
        Metric::Ip => IP.get_or_init(|| make(metric, 22)),
        Metric::Cosine => COSINE.get_or_init(|| make(metric, 33)),
    }
}

pub const METRICS: [Metric; 3] = [Metric::L2, Metric::Ip, Metric::Cosine];

impl Fixture {
    pub fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * DIM..(i + 1) * DIM]
    }

    pub fn exact(&self, i: usize, opts: &SearchOptions<'_>) -> Vec<Hit> {
        flat::search_one(&self.source, self.metric, self.query(i), opts).unwrap()
    }
}

/// |found ∩ want| / |want| (1 when `want` is empty).
pub fn recall(found: &[Hit], want: &[Hit]) -> f64 {
    if want.is_empty() {
        return 1.0;
    }
    let hit = found
        .iter()
        .filter(|f| want.iter().any(|w| w.row == f.row))
        .count();
    hit as f64 / want.len() as f64
}

/// Scores of rows found by both are identical, and `found` is sorted best first.
pub fn assert_consistent(metric: Metric, found: &[Hit], want: &[Hit]) {
    for f in found {
        if let Some(w) = want.iter().find(|w| w.row == f.row) {
            assert_eq!(f.score, w.score, "row {} score differs", f.row);
        }
    }
    for pair in found.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let ordered = if metric.higher_is_better() {
            a.score > b.score || (a.score == b.score && a.row < b.row)
        } else {
            a.score < b.score || (a.score == b.score && a.row < b.row)
        };
        assert!(ordered, "hits out of order: {a:?} then {b:?}");
    }
}

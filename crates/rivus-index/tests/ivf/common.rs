//! Deterministic data and the exact reference.

use rivus_index::{flat, DenseVectors, Hit, Metric, SearchOptions};

pub const METRICS: [Metric; 3] = [Metric::L2, Metric::Ip, Metric::Cosine];

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

/// `rows` points around `centers` random centers (uniform noise of `spread`); returns
/// the points and `queries` more drawn the same way.
pub fn clustered(
    rows: usize,
    queries: usize,
    dim: usize,
    centers: usize,
    spread: f32,
    seed: u64,
) -> (DenseVectors<Vec<f32>>, Vec<f32>) {
    let mut rng = Rng(seed);
    let c: Vec<f32> = (0..centers * dim).map(|_| rng.unit()).collect();
    let point = |rng: &mut Rng| -> Vec<f32> {
        let k = rng.below(centers as u64) as usize;
        (0..dim)
            .map(|d| c[k * dim + d] + spread * rng.unit())
            .collect()
    };
    let data: Vec<f32> = (0..rows).flat_map(|_| point(&mut rng)).collect();
    let q: Vec<f32> = (0..queries).flat_map(|_| point(&mut rng)).collect();
    (DenseVectors::new(data, dim).unwrap(), q)
}

pub fn exact(
    source: &DenseVectors<Vec<f32>>,
    metric: Metric,
    queries: &[f32],
    opts: &SearchOptions<'_>,
) -> Vec<Vec<Hit>> {
    flat::search(source, metric, queries, opts).unwrap()
}

/// Fraction of the exact hits' rows found.
pub fn recall(got: &[Vec<Hit>], want: &[Vec<Hit>]) -> f64 {
    let (mut found, mut total) = (0usize, 0usize);
    for (g, w) in got.iter().zip(want) {
        total += w.len();
        found += w
            .iter()
            .filter(|h| g.iter().any(|x| x.row == h.row))
            .count();
    }
    if total == 0 {
        1.0
    } else {
        found as f64 / total as f64
    }
}

pub fn rows(hits: &[Hit]) -> Vec<u32> {
    hits.iter().map(|h| h.row).collect()
}

//! k-means (Lloyd's algorithm) over float32 vectors with squared L2, for the coarse
//! quantizer of the IVF indexes and the sub-quantizers of product quantization.
//!
//! Initialisation is k-means++ (Arthur & Vassilvitskii, 2007: each new centroid drawn with
//! probability proportional to its squared distance from the nearest chosen one) or `k`
//! distinct random points, both from a fixed seed. Assignments run in parallel on the
//! current rayon pool; centroid sums are accumulated in row order in f64, so a run is
//! deterministic for a given seed and data, whatever the thread count. A cluster left empty
//! by an iteration is re-seeded by splitting the largest one (its centroid, nudged by a
//! relative 1/1024 in opposite directions for the two halves).

use rayon::prelude::*;

use crate::distance;

/// How the first centroids are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KmeansInit {
    /// k-means++ seeding (better starting centroids; costs about one Lloyd iteration).
    #[default]
    PlusPlus,
    /// `k` distinct points drawn uniformly.
    Random,
}

/// SplitMix64: a small deterministic generator for sampling and seeding.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `count` distinct values of `0..n` (all of them, in order, when `count >= n`), sorted.
pub(crate) fn sample_indices(n: usize, count: usize, rng: &mut Rng) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    // Partial Fisher-Yates over a lazily materialised permutation.
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in 0..count {
        let j = i + rng.below(n - i);
        perm.swap(i, j);
    }
    let mut out: Vec<usize> = perm[..count].iter().map(|&v| v as usize).collect();
    out.sort_unstable();
    out
}

/// What to train.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kmeans {
    pub(crate) k: usize,
    pub(crate) iters: usize,
    pub(crate) init: KmeansInit,
    pub(crate) seed: u64,
}

/// Vectors up to this long are compared against a transposed copy of the centroids (one
/// pass per dimension over all centroids, which vectorizes across centroids): the SIMD
/// kernels' per-call overhead dominates at a few values, and PQ sub-vectors are often 2
/// to 8 long.
pub(crate) const SHORT: usize = 8;

/// Squared L2 distance of two short vectors.
#[inline]
pub(crate) fn l2_short(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// `k` row-major vectors of `dim` values (`k * dim`) transposed: value `d` of vector `c`
/// at `d * k + c`.
pub(crate) fn transpose(rows: &[f32], dim: usize) -> Vec<f32> {
    let k = rows.len() / dim.max(1);
    let mut out = vec![0f32; k * dim];
    for (c, row) in rows.chunks_exact(dim.max(1)).enumerate() {
        for (d, &v) in row.iter().enumerate() {
            out[d * k + c] = v;
        }
    }
    out
}

/// `out[c]` = squared L2 distance from `point` to vector `c` of the transposed `soa`
/// (`out.len()` vectors).
#[inline]
pub(crate) fn l2_transposed(point: &[f32], soa: &[f32], out: &mut [f32]) {
    let k = out.len();
    out.fill(0.0);
    for (&x, col) in point.iter().zip(soa.chunks_exact(k.max(1))) {
        for (o, &c) in out.iter_mut().zip(col) {
            let t = x - c;
            *o += t * t;
        }
    }
}

/// `out[c]` = inner product of `point` with vector `c` of the transposed `soa`.
#[inline]
pub(crate) fn ip_transposed(point: &[f32], soa: &[f32], out: &mut [f32]) {
    let k = out.len();
    out.fill(0.0);
    for (&x, col) in point.iter().zip(soa.chunks_exact(k.max(1))) {
        for (o, &c) in out.iter_mut().zip(col) {
            *o += x * c;
        }
    }
}

/// Centroids (`k * dim` values, row-major) prepared for nearest-centroid queries.
pub(crate) struct Centroids<'a> {
    rows: &'a [f32],
    /// Transposed copy for short vectors; empty otherwise.
    soa: Vec<f32>,
    dim: usize,
    k: usize,
}

impl<'a> Centroids<'a> {
    pub(crate) fn new(rows: &'a [f32], dim: usize) -> Self {
        let dim = dim.max(1);
        Centroids {
            rows,
            soa: if dim <= SHORT {
                transpose(rows, dim)
            } else {
                Vec::new()
            },
            dim,
            k: rows.len() / dim,
        }
    }

    /// Squared L2 distances from `point` to every centroid, into `out` (resized to `k`).
    #[inline]
    pub(crate) fn distances(&self, point: &[f32], out: &mut Vec<f32>) {
        out.resize(self.k, 0.0);
        if self.dim <= SHORT {
            l2_transposed(point, &self.soa, out);
        } else {
            distance::l2_f32_many(point, self.rows, self.dim, out);
        }
    }

    /// The nearest centroid (lowest index among equals) and its squared distance; `out`
    /// is scratch.
    #[inline]
    pub(crate) fn nearest(&self, point: &[f32], out: &mut Vec<f32>) -> (u32, f32) {
        self.distances(point, out);
        let mut best = (0u32, f32::INFINITY);
        for (i, &d) in out.iter().enumerate() {
            if d < best.1 {
                best = (i as u32, d);
            }
        }
        best
    }

    /// The nearest and second nearest centroids: (nearest, its squared distance, the
    /// second's squared distance).
    #[inline]
    fn two_nearest(&self, point: &[f32], out: &mut Vec<f32>) -> (u32, f32, f32) {
        self.distances(point, out);
        let (mut best, mut d1, mut d2) = (0u32, f32::INFINITY, f32::INFINITY);
        for (i, &d) in out.iter().enumerate() {
            if d < d1 {
                d2 = d1;
                (best, d1) = (i as u32, d);
            } else if d < d2 {
                d2 = d;
            }
        }
        (best, d1, d2)
    }
}

/// Nearest centroid of every point of `data` (`dim` values each), in parallel.
#[cfg(test)]
pub(crate) fn assign_all(data: &[f32], dim: usize, centroids: &[f32]) -> Vec<u32> {
    let view = Centroids::new(centroids, dim);
    data.par_chunks(dim)
        .map_init(Vec::new, |out, p| view.nearest(p, out).0)
        .collect()
}

/// Trains `spec.k` centroids (`k * dim` values, row-major) on the `data.len() / dim` points
/// of `data`. With no more points than centroids, the points themselves are the centroids
/// (repeated to fill `k`; all zeros when there are no points).
pub(crate) fn train(data: &[f32], dim: usize, spec: &Kmeans) -> Vec<f32> {
    let n = data.len() / dim.max(1);
    let k = spec.k.max(1);
    if n <= k {
        let mut c = Vec::with_capacity(k * dim);
        if n == 0 {
            c.resize(k * dim, 0.0);
            return c;
        }
        for i in 0..k {
            c.extend_from_slice(&data[(i % n) * dim..(i % n + 1) * dim]);
        }
        return c;
    }
    let mut rng = Rng::new(spec.seed);
    let mut centroids = match spec.init {
        KmeansInit::PlusPlus => init_plus_plus(data, dim, n, k, &mut rng),
        KmeansInit::Random => {
            let picks = sample_indices(n, k, &mut rng);
            picks
                .iter()
                .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
                .collect()
        }
    };
    lloyd(data, dim, k, spec.iters, &mut centroids);
    centroids
}

/// Relative slack on the bounds of [`lloyd`], covering float rounding of the distances.
const SLACK: f32 = 1e-5;

/// `iters` Lloyd iterations, accelerated as Hamerly ("Making k-means even faster", 2010)
/// describes: each point keeps an upper bound on the distance to its centroid and a lower
/// bound on the distance to any other, both moved by how far centroids moved; a point is
/// only rescored when the bounds no longer prove its assignment. The assignments are
/// those of plain Lloyd iterations (up to exact ties); stops early when none changes.
fn lloyd(data: &[f32], dim: usize, k: usize, iters: usize, centroids: &mut [f32]) {
    let n = data.len() / dim.max(1);
    let mut assign = vec![0u32; n];
    let mut upper = vec![0f32; n];
    let mut lower = vec![0f32; n];
    let l2 = if dim <= SHORT {
        l2_short
    } else {
        distance::l2_f32_kernel()
    };
    for iter in 0..iters {
        let cs: &[f32] = centroids;
        let view = Centroids::new(cs, dim);
        let changed: usize = if iter == 0 {
            data.par_chunks(dim)
                .zip(assign.par_iter_mut())
                .zip(upper.par_iter_mut().zip(lower.par_iter_mut()))
                .for_each_init(Vec::new, |out, ((p, a), (u, l))| {
                    let (best, d1, d2) = view.two_nearest(p, out);
                    (*a, *u, *l) = (best, d1.sqrt(), d2.sqrt());
                });
            n
        } else {
            // Half the distance from each centroid to its nearest other one: a point
            // closer than that to its centroid cannot be closer to another.
            let half: Vec<f32> = cs
                .par_chunks(dim)
                .enumerate()
                .map_init(Vec::new, |out, (i, c)| {
                    view.distances(c, out);
                    let nearest = out
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, &d)| d)
                        .fold(f32::INFINITY, f32::min);
                    nearest.sqrt() / 2.0
                })
                .collect();
            data.par_chunks(dim)
                .zip(assign.par_iter_mut())
                .zip(upper.par_iter_mut().zip(lower.par_iter_mut()))
                .map_init(Vec::new, |out, ((p, a), (u, l))| {
                    let bound = half[*a as usize].max(*l) * (1.0 - SLACK);
                    if *u * (1.0 + SLACK) <= bound {
                        return 0usize;
                    }
                    let c = *a as usize;
                    *u = l2(p, &cs[c * dim..(c + 1) * dim]).sqrt();
                    if *u * (1.0 + SLACK) <= bound {
                        return 0;
                    }
                    let (best, d1, d2) = view.two_nearest(p, out);
                    let moved = usize::from(best != *a);
                    (*a, *u, *l) = (best, d1.sqrt(), d2.sqrt());
                    moved
                })
                .sum()
        };
        if changed == 0 {
            break;
        }
        let old = centroids.to_vec();
        update(data, dim, k, &assign, centroids);
        if iter + 1 == iters {
            break;
        }
        let moved: Vec<f32> = old
            .chunks_exact(dim)
            .zip(centroids.chunks_exact(dim))
            .map(|(a, b)| l2(a, b).sqrt())
            .collect();
        let max_moved = moved.iter().copied().fold(0.0f32, f32::max);
        upper
            .par_iter_mut()
            .zip(lower.par_iter_mut())
            .zip(assign.par_iter())
            .for_each(|((u, l), &a)| {
                *u += moved[a as usize];
                *l = (*l - max_moved).max(0.0);
            });
    }
}

/// k-means++ seeding.
fn init_plus_plus(data: &[f32], dim: usize, n: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    /// Points per batch-kernel call when updating the distances to a new centroid.
    const CHUNK: usize = 256;
    let mut centroids = Vec::with_capacity(k * dim);
    let mut best = vec![f32::INFINITY; n];
    let mut pick = rng.below(n);
    for round in 0..k {
        let c = &data[pick * dim..(pick + 1) * dim];
        centroids.extend_from_slice(c);
        if round + 1 == k {
            break;
        }
        best.par_chunks_mut(CHUNK)
            .zip(data.par_chunks(CHUNK * dim))
            .for_each_init(Vec::new, |d, (b, points)| {
                d.resize(b.len(), 0.0);
                if dim <= SHORT {
                    for (o, p) in d.iter_mut().zip(points.chunks_exact(dim)) {
                        *o = l2_short(c, p);
                    }
                } else {
                    distance::l2_f32_many(c, points, dim, d);
                }
                for (b, &d) in b.iter_mut().zip(d.iter()) {
                    if d < *b {
                        *b = d;
                    }
                }
            });
        let total: f64 = best.iter().map(|&d| f64::from(d)).sum();
        pick = if total > 0.0 && total.is_finite() {
            let target = rng.unit() * total;
            let mut acc = 0.0f64;
            let mut chosen = n - 1;
            for (i, &d) in best.iter().enumerate() {
                acc += f64::from(d);
                if acc > target {
                    chosen = i;
                    break;
                }
            }
            chosen
        } else {
            // Every point coincides with a centroid already: any point will do.
            rng.below(n)
        };
    }
    centroids
}

/// One Lloyd update: every centroid becomes the mean of its points; empty ones split the
/// largest cluster.
fn update(data: &[f32], dim: usize, k: usize, assign: &[u32], centroids: &mut [f32]) {
    let mut sums = vec![0f64; k * dim];
    let mut counts = vec![0usize; k];
    for (p, &a) in data.chunks_exact(dim).zip(assign) {
        let a = a as usize;
        counts[a] += 1;
        for (s, &x) in sums[a * dim..(a + 1) * dim].iter_mut().zip(p) {
            *s += f64::from(x);
        }
    }
    for c in 0..k {
        if counts[c] > 0 {
            let inv = 1.0 / counts[c] as f64;
            for (dst, &s) in centroids[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(&sums[c * dim..(c + 1) * dim])
            {
                *dst = (s * inv) as f32;
            }
        }
    }
    const EPS: f32 = 1.0 / 1024.0;
    for c in 0..k {
        if counts[c] > 0 {
            continue;
        }
        // Largest cluster, lowest index among equals.
        let Some(big) = (0..k).max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a))) else {
            return;
        };
        if counts[big] < 2 {
            return;
        }
        for d in 0..dim {
            let v = centroids[big * dim + d];
            let sign = if d % 2 == 0 { 1.0 } else { -1.0 };
            centroids[c * dim + d] = v * (1.0 + sign * EPS) + sign * EPS * EPS;
            centroids[big * dim + d] = v * (1.0 - sign * EPS) - sign * EPS * EPS;
        }
        counts[c] = counts[big] / 2;
        counts[big] -= counts[c];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight blobs around (0,0), (10,0), (0,10).
    fn blobs() -> Vec<f32> {
        let mut rng = Rng::new(5);
        let centers = [(0.0f32, 0.0f32), (10.0, 0.0), (0.0, 10.0)];
        (0..300)
            .flat_map(|i| {
                let (x, y) = centers[i % 3];
                [x + rng.unit() as f32 - 0.5, y + rng.unit() as f32 - 0.5]
            })
            .collect()
    }

    #[test]
    fn finds_the_blobs() {
        for init in [KmeansInit::PlusPlus, KmeansInit::Random] {
            let data = blobs();
            let spec = Kmeans {
                k: 3,
                iters: 20,
                init,
                seed: 1,
            };
            let c = train(&data, 2, &spec);
            let mut found: Vec<(i32, i32)> = c
                .chunks_exact(2)
                .map(|p| (p[0].round() as i32, p[1].round() as i32))
                .collect();
            found.sort_unstable();
            if init == KmeansInit::PlusPlus {
                assert_eq!(found, [(0, 0), (0, 10), (10, 0)]);
            }
            assert_eq!(train(&data, 2, &spec), c, "deterministic");
            let assign = assign_all(&data, 2, &c);
            assert_eq!(assign.len(), 300);
        }
    }

    #[test]
    fn accelerated_iterations_match_plain_lloyd() {
        let mut rng = Rng::new(8);
        for (dim, k) in [(2usize, 7usize), (16, 20)] {
            let data: Vec<f32> = (0..600 * dim).map(|_| rng.unit() as f32).collect();
            let spec = Kmeans {
                k,
                iters: 12,
                init: KmeansInit::Random,
                seed: 2,
            };
            let fast = train(&data, dim, &spec);
            // Plain Lloyd from the same seeding.
            let mut seed_rng = Rng::new(spec.seed);
            let picks = sample_indices(600, k, &mut seed_rng);
            let mut plain: Vec<f32> = picks
                .iter()
                .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
                .collect();
            let mut previous = Vec::new();
            for _ in 0..spec.iters {
                let assign = assign_all(&data, dim, &plain);
                if assign == previous {
                    break;
                }
                update(&data, dim, k, &assign, &mut plain);
                previous = assign;
            }
            assert_eq!(fast, plain, "dim {dim}");
        }
    }

    #[test]
    fn few_points_become_centroids() {
        let c = train(
            &[1.0, 2.0, 3.0, 4.0],
            2,
            &Kmeans {
                k: 3,
                iters: 5,
                init: KmeansInit::PlusPlus,
                seed: 0,
            },
        );
        assert_eq!(c, [1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
    }

    #[test]
    fn empty_clusters_are_split() {
        // All points equal: every centroid but one would be empty.
        let data = vec![1.0f32; 40];
        let c = train(
            &data,
            2,
            &Kmeans {
                k: 4,
                iters: 3,
                init: KmeansInit::Random,
                seed: 3,
            },
        );
        assert_eq!(c.len(), 8);
        assert!(c.iter().all(|v| (v - 1.0).abs() < 0.01));
    }

    #[test]
    fn samples_are_distinct_and_sorted() {
        let mut rng = Rng::new(9);
        let s = sample_indices(100, 30, &mut rng);
        assert_eq!(s.len(), 30);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_indices(5, 30, &mut rng), [0, 1, 2, 3, 4]);
    }
}

//! Searching a [`FrozenHnsw`]: greedy descent to layer 0, a beam of `ef` there, optional
//! allow-filter and range, Milvus scores out.
//!
//! Filters are applied inside the walk (rejected rows are expanded but never returned), so
//! the beam keeps widening until it holds `ef` allowed rows or runs out of graph. When so
//! few rows are allowed that the walk would touch more rows than exist in the filter, the
//! allowed rows are scored exactly instead, and the exact path also backs up a walk that
//! comes back with fewer than `min(k, allowed)` hits (a part of the graph it could not
//! reach): a filtered search returns exactly as many hits as a brute-force one.

use rayon::prelude::*;
use rivus_schema::Bitmap;

use super::format::read_u32;
use super::frozen::FrozenHnsw;
use super::prefetch::prefetch_vector;
use super::visited::Scratch;
use super::walk::{greedy, search_layer, take_results, Space, WalkDistance};
use crate::metric::{inverse_norm, KernelFn};
use crate::search::query_count;
use crate::{flat, Hit, IndexError, Metric, Result, SearchOptions, VectorSource};

/// Exact scoring wins when `allowed^2 <= EXACT_FACTOR * ef * n`. A walk under a filter
/// that keeps a fraction `s` of the rows scores about `1/s` times the rows of an
/// unfiltered walk (itself roughly proportional to `ef`), while exact scoring reads `s * n`
/// rows; the cost ratio per row was measured with `examples/ann_bench.rs --filter` on
/// 200k x 128 (L2) and 117k x 384 (COSINE) sets at ef 16 and 64: the two cost the same
/// at `s^2 * n / ef` between 15 and 26 (e.g. s = 7-9% at ef = 64).
const EXACT_FACTOR: f64 = 16.0;

/// Distances from a query to rows, as the walk needs them (smaller is closer).
struct QuerySpace<'a, S: ?Sized> {
    source: &'a S,
    /// The query; normalized for COSINE.
    query: &'a [f32],
    kernel: KernelFn,
    walk: WalkDistance,
    bytes: &'a [u8],
    norms_at: usize,
}

impl<S: VectorSource + ?Sized> Space for QuerySpace<'_, S> {
    #[inline(always)]
    fn distance(&self, row: u32) -> f32 {
        let r = (self.kernel)(self.query, self.source.vector(row));
        match self.walk {
            WalkDistance::L2 => r,
            WalkDistance::NegIp => -r,
            // -(q/|q| . v) / |v|: the cosine, from one inner product and a stored norm.
            WalkDistance::NegScaledIp => {
                -r * read_u32(self.bytes, self.norms_at + 4 * row as usize)
                    .map_or(0.0, f32::from_bits)
            }
        }
    }

    #[inline(always)]
    fn prefetch(&self, row: u32) {
        prefetch_vector(self.source.vector(row));
    }
}

/// Allowed rows among the graph's `rows`.
pub(crate) fn count_allowed(filter: &Bitmap, rows: usize) -> usize {
    if filter.len() <= rows {
        filter.count_ones()
    } else {
        filter.iter_ones().take_while(|&r| r < rows).count()
    }
}

/// Whether scoring the allowed rows exactly is cheaper than walking the graph.
pub(crate) fn prefer_exact(allowed: usize, rows: usize, ef: usize) -> bool {
    let allowed = allowed as f64;
    rows <= ef || allowed * allowed <= EXACT_FACTOR * ef as f64 * rows as f64
}

impl<B: AsRef<[u8]>> FrozenHnsw<B> {
    /// The `k` best rows for `query` (`opts.k`), best first, ties by row, walking layer 0
    /// with a beam of `max(ef, k)`. Honours `opts.filter` (rows not set are never
    /// returned; a query gets `min(k, allowed)` hits) and `opts.range`. Scores are Milvus
    /// scores, bit-identical to [`crate::flat::search`]'s for the same row.
    ///
    /// Errors: [`IndexError::DimensionMismatch`] when `query` or `source` does not have the
    /// graph's dimension, [`IndexError::SourceTooShort`] when `source` has fewer rows than
    /// the graph covers, [`IndexError::InvalidParameter`] for a bad range.
    pub fn search<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        opts: &SearchOptions<'_>,
        ef: usize,
    ) -> Result<Vec<Hit>> {
        self.check_source(source)?;
        if query.len() != self.dim() {
            return Err(IndexError::DimensionMismatch {
                expected: self.dim(),
                got: query.len(),
            });
        }
        if let Some(range) = &opts.range {
            range.validate(self.metric())?;
        }
        Ok(self.search_checked(source, query, opts, ef, self.allowed(opts)))
    }

    /// [`FrozenHnsw::search`] for `nq = queries.len() / dim` row-major queries, in parallel
    /// on the current rayon pool.
    pub fn search_batch<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        queries: &[f32],
        opts: &SearchOptions<'_>,
        ef: usize,
    ) -> Result<Vec<Vec<Hit>>>
    where
        B: Sync,
    {
        self.check_source(source)?;
        let nq = query_count(queries, self.dim())?;
        if let Some(range) = &opts.range {
            range.validate(self.metric())?;
        }
        if nq == 0 {
            return Ok(Vec::new());
        }
        let allowed = self.allowed(opts);
        Ok(queries
            .par_chunks(self.dim())
            .map(|q| self.search_checked(source, q, opts, ef, allowed))
            .collect())
    }

    fn check_source<S: VectorSource + ?Sized>(&self, source: &S) -> Result<()> {
        if source.dim() != self.dim() {
            return Err(IndexError::DimensionMismatch {
                expected: self.dim(),
                got: source.dim(),
            });
        }
        if source.len() < self.len() {
            return Err(IndexError::SourceTooShort {
                expected: self.len(),
                got: source.len(),
            });
        }
        Ok(())
    }

    /// How many of the graph's rows `opts` allows.
    fn allowed(&self, opts: &SearchOptions<'_>) -> usize {
        opts.filter
            .map_or(self.len(), |f| count_allowed(f, self.len()))
    }

    /// Search after the arguments were checked; `allowed` is [`Self::allowed`].
    fn search_checked<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        opts: &SearchOptions<'_>,
        ef: usize,
        allowed: usize,
    ) -> Vec<Hit> {
        let rows = self.len();
        if opts.k == 0 || rows == 0 {
            return Vec::new();
        }
        if allowed == 0 {
            return Vec::new();
        }
        let mut ef = ef.max(opts.k);
        let exact = || flat::search_rows(source, self.metric(), query, opts, rows);
        if prefer_exact(allowed, rows, ef) {
            return exact();
        }
        let mut scratch = self.pool.get();
        let Some(range) = opts.range else {
            self.walk(source, query, ef, opts.filter, &mut scratch);
            if scratch.pairs.len() < opts.k.min(allowed) {
                return exact();
            }
            return self.hits(source, query, &scratch.pairs, opts);
        };
        // Range search: widen the beam until k hits are in range, the farthest row found
        // lies beyond the radius (nothing further out can be inside), or the graph is
        // exhausted.
        let outer = range.outer_distance(self.metric());
        loop {
            self.walk(source, query, ef, opts.filter, &mut scratch);
            let hits = self.hits(source, query, &scratch.pairs, opts);
            let exhausted = scratch.pairs.len() < ef;
            let beyond = scratch.pairs.last().is_none_or(|&(d, _)| d >= outer);
            if hits.len() >= opts.k || exhausted || beyond || ef >= rows {
                return hits;
            }
            ef = ef.saturating_mul(2).min(rows);
            if prefer_exact(allowed, rows, ef) {
                return exact();
            }
        }
    }

    /// The graph walk: descent through the upper layers, then a beam of `ef` on layer 0.
    /// Leaves the allowed rows found in `scratch.pairs`, closest first.
    fn walk<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        ef: usize,
        filter: Option<&Bitmap>,
        scratch: &mut Scratch,
    ) {
        let metric = self.metric();
        let mut normalized = std::mem::take(&mut scratch.query);
        normalized.clear();
        normalized.extend_from_slice(query);
        if metric == Metric::Cosine {
            let inv = inverse_norm(query);
            normalized.iter_mut().for_each(|x| *x *= inv);
        }
        let space = QuerySpace {
            source,
            query: &normalized,
            kernel: match metric {
                Metric::L2 => crate::distance::l2_f32_kernel(),
                Metric::Ip | Metric::Cosine => crate::distance::ip_f32_kernel(),
            },
            walk: match (metric, self.layout.norms_at) {
                (Metric::L2, _) => WalkDistance::L2,
                (Metric::Ip, _) | (Metric::Cosine, None) => WalkDistance::NegIp,
                (Metric::Cosine, Some(_)) => WalkDistance::NegScaledIp,
            },
            bytes: self.as_bytes(),
            norms_at: self.layout.norms_at.unwrap_or(0),
        };
        self.walk_in(&space, ef, filter, scratch);
        scratch.query = normalized;
    }

    /// The graph walk over any distance `space` (the exact one above, or quantized codes):
    /// leaves the `ef` closest allowed rows found in `scratch.pairs`, closest first.
    pub(crate) fn walk_in<Sp: Space>(
        &self,
        space: &Sp,
        ef: usize,
        filter: Option<&Bitmap>,
        scratch: &mut Scratch,
    ) {
        let entry = self.header.entry;
        let mut current = (space.distance(entry), entry);
        scratch.visited.clear(self.len());
        for layer in (1..self.layer_count()).rev() {
            current = greedy(self, layer, space, current, scratch);
        }
        match filter {
            None => search_layer(self, 0, space, current, ef, |_| true, scratch),
            Some(f) => search_layer(self, 0, space, current, ef, |r| f.get(r as usize), scratch),
        }
        let mut pairs = std::mem::take(&mut scratch.pairs);
        take_results(scratch, &mut pairs);
        scratch.pairs = pairs;
    }

    /// The best `k` of `pairs` (closest first) as Milvus hits, inside `opts.range`. L2 and
    /// IP walk distances are the exact scores; COSINE ones are rescored with the exact
    /// kernel (the walk used a stored norm) and re-sorted.
    fn hits<S: VectorSource + ?Sized>(
        &self,
        source: &S,
        query: &[f32],
        pairs: &[(f32, u32)],
        opts: &SearchOptions<'_>,
    ) -> Vec<Hit> {
        let metric = self.metric();
        let in_range = |s: f32| opts.range.is_none_or(|r| r.contains(metric, s));
        let mut hits: Vec<Hit> = match metric {
            Metric::L2 | Metric::Ip => pairs
                .iter()
                .map(|&(d, row)| Hit {
                    row,
                    score: metric.to_score(d),
                })
                .filter(|h| in_range(h.score))
                .take(opts.k)
                .collect(),
            Metric::Cosine => {
                let limit = if opts.range.is_some() {
                    pairs.len()
                } else {
                    opts.k
                };
                pairs
                    .iter()
                    .take(limit)
                    .map(|&(_, row)| Hit {
                        row,
                        score: metric.score(query, source.vector(row)),
                    })
                    .filter(|h| in_range(h.score))
                    .collect()
            }
        };
        if metric == Metric::Cosine {
            hits.sort_unstable_by(|a, b| {
                metric
                    .to_distance(a.score)
                    .total_cmp(&metric.to_distance(b.score))
                    .then(a.row.cmp(&b.row))
            });
            hits.truncate(opts.k);
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hnsw, DenseVectors, HnswParams};

    fn data(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..rows * dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn unfiltered_walk_fills_the_beam() {
        let (rows, dim) = (1000, 8);
        let source = DenseVectors::new(data(rows, dim, 3), dim).unwrap();
        let graph = hnsw::build(&source, Metric::Cosine, &HnswParams::new(8, 40)).unwrap();
        let mut scratch = graph.pool.get();
        graph.walk(&source, &data(1, dim, 4), 50, None, &mut scratch);
        assert_eq!(scratch.pairs.len(), 50);
    }

    #[test]
    fn exact_or_walk_by_selectivity() {
        assert!(prefer_exact(10, 100_000, 64));
        assert!(!prefer_exact(50_000, 100_000, 64));
        assert!(prefer_exact(100, 100, 64));
        assert!(!prefer_exact(100_000, 100_000, 64));
    }

    /// The walk itself (no exact fallback) under selective filters: it widens until it has
    /// `ef` allowed rows, so it still finds nearly all of the true neighbours.
    #[test]
    fn filtered_walk_widens_to_find_allowed_rows() {
        let (rows, dim) = (2000, 16);
        let source = DenseVectors::new(data(rows, dim, 1), dim).unwrap();
        let graph = hnsw::build(&source, Metric::L2, &HnswParams::new(12, 60)).unwrap();
        let queries = data(30, dim, 2);
        for every in [100u32, 10] {
            let filter = Bitmap::from_fn(rows, |r| {
                (r as u32).wrapping_mul(2654435761).is_multiple_of(every)
            });
            let allowed = filter.count_ones();
            let opts = SearchOptions::new(10).with_filter(&filter);
            let mut found_total = 0;
            let mut hit_total = 0;
            for q in queries.chunks_exact(dim) {
                let mut scratch = graph.pool.get();
                graph.walk(&source, q, 32, Some(&filter), &mut scratch);
                let got: Vec<u32> = scratch.pairs.iter().take(10).map(|p| p.1).collect();
                assert!(got.iter().all(|&r| filter.get(r as usize)));
                assert_eq!(got.len(), 10.min(allowed));
                let want = flat::search_rows(&source, Metric::L2, q, &opts, rows);
                found_total += want.len();
                hit_total += want.iter().filter(|h| got.contains(&h.row)).count();
            }
            let recall = hit_total as f64 / found_total as f64;
            assert!(recall >= 0.95, "1/{every}: recall {recall}");
        }
    }
}

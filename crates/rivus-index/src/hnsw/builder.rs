//! [`HnswBuilder`]: builds an HNSW graph in parallel (Malkov & Yashunin, Algorithm 1) and
//! freezes it into the serialized form.
//!
//! Layout: levels are assigned up front (see [`super::level`]), so every link list is
//! allocated before the first insertion: layer 0 is one flat array with a fixed slot of
//! `1 + 2M` words per row (`[count, links...]`), upper layers one array with `L * (1 + M)`
//! words for each row of level `L >= 1`. Words are `AtomicU32`: walks read lists without
//! locks (count with `Acquire`, links `Relaxed`); a writer holds that row's mutex, stores
//! the links, then publishes the count with `Release`. A reader racing a rewrite may see a
//! mix of old and new links, all valid rows, which costs at most a slightly worse walk for
//! that one insertion. No thread ever holds two row locks, so there is no lock order.
//!
//! The distance of every link is kept next to it during the build, so pruning an
//! overflowing list only computes the distances between neighbours the heuristic needs.
//!
//! The row of highest level is inserted first and stays the entry point: no later row can
//! outrank it, so the entry never changes and needs no lock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::format::{self, Header, Parts};
use super::frozen::FrozenHnsw;
use super::level::assign_levels;
use super::prefetch::{prefetch_range, prefetch_vector};
use super::select::select_neighbors;
use super::visited::{Scratch, ScratchPool};
use super::walk::{greedy, search_layer, take_results, Links, Space, WalkDistance, UNIT_TOLERANCE};
use super::HnswParams;
use crate::metric::{inverse_norm, KernelFn};
use crate::{IndexError, Metric, Result, VectorSource};

/// A graph under construction over `source`.
pub struct HnswBuilder<'a, S: ?Sized> {
    source: &'a S,
    metric: Metric,
    /// L2 or IP kernel; COSINE uses IP (and the inverse norms unless all are 1).
    kernel: KernelFn,
    /// How kernel results become internal distances.
    walk: WalkDistance,
    /// `1/|v|` per row for COSINE over vectors that are not all unit length, else empty.
    inverse_norms: Vec<f32>,
    params: HnswParams,
    rows: usize,
    /// Max links on layer 0 (2M).
    m0: usize,
    levels: Vec<u8>,
    entry: u32,
    /// Layer-0 slots: row `r` at `r * (1 + m0)`.
    layer0: Vec<AtomicU32>,
    layer0_distances: Vec<AtomicU32>,
    /// Start of row `r`'s upper-layer slots in `upper` (unused for level-0 rows).
    upper_start: Vec<usize>,
    upper: Vec<AtomicU32>,
    upper_distances: Vec<AtomicU32>,
    locks: Vec<Mutex<()>>,
    pool: ScratchPool,
}

/// One link list: `[count, links...]` words, the links' distances (same positions) and
/// the capacity.
struct Slot<'g> {
    words: &'g [AtomicU32],
    distances: &'g [AtomicU32],
    cap: usize,
}

impl<'a, S: VectorSource + ?Sized> HnswBuilder<'a, S> {
    /// Checks the parameters and the source and allocates every link list.
    ///
    /// Errors: [`IndexError::InvalidParameter`] for out-of-range parameters,
    /// [`IndexError::DimensionMismatch`] when a row does not have `source.dim()` values,
    /// [`IndexError::TooLarge`] past `u32::MAX - 1` rows.
    pub fn new(source: &'a S, metric: Metric, params: &HnswParams) -> Result<Self> {
        params.validate()?;
        let rows = source.len();
        if rows >= u32::MAX as usize {
            return Err(IndexError::TooLarge {
                what: "rows",
                count: rows,
            });
        }
        let dim = source.dim();
        if dim == 0 || dim > u32::MAX as usize {
            return Err(IndexError::invalid("dim", dim, "must be in [1, 2^32)"));
        }
        if let Some(bad) = (0..rows as u32)
            .into_par_iter()
            .map(|r| source.vector(r).len())
            .find_any(|&len| len != dim)
        {
            return Err(IndexError::DimensionMismatch {
                expected: dim,
                got: bad,
            });
        }
        let m = params.m;
        let m0 = 2 * m;
        let levels = assign_levels(rows, m, params.seed);
        // Highest level, lowest row among equals.
        let entry = levels
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(r, _)| r as u32);
        let mut upper_start = vec![usize::MAX; rows];
        let mut upper_len = 0usize;
        for (r, &level) in levels.iter().enumerate() {
            if level > 0 {
                if let Some(s) = upper_start.get_mut(r) {
                    *s = upper_len;
                }
                upper_len += usize::from(level) * (1 + m);
            }
        }
        let atomics = |len: usize| (0..len).map(|_| AtomicU32::new(0)).collect::<Vec<_>>();
        let mut inverse_norms: Vec<f32> = if metric == Metric::Cosine {
            (0..rows as u32)
                .into_par_iter()
                .map(|r| inverse_norm(source.vector(r)))
                .collect()
        } else {
            Vec::new()
        };
        // Embeddings are usually normalized already: then the inner product is the cosine
        // and the walk skips the per-row norm (final scores are exact either way).
        let unit = inverse_norms
            .iter()
            .all(|&inv| (inv - 1.0).abs() <= UNIT_TOLERANCE);
        let walk = match metric {
            Metric::L2 => WalkDistance::L2,
            Metric::Ip => WalkDistance::NegIp,
            Metric::Cosine if unit => WalkDistance::NegIp,
            Metric::Cosine => WalkDistance::NegScaledIp,
        };
        if unit {
            inverse_norms = Vec::new();
        }
        Ok(HnswBuilder {
            source,
            metric,
            kernel: match metric {
                Metric::L2 => crate::distance::l2_f32_kernel(),
                Metric::Ip | Metric::Cosine => crate::distance::ip_f32_kernel(),
            },
            walk,
            inverse_norms,
            params: params.clone(),
            rows,
            m0,
            entry,
            layer0: atomics(rows * (1 + m0)),
            layer0_distances: atomics(rows * (1 + m0)),
            upper_start,
            upper: atomics(upper_len),
            upper_distances: atomics(upper_len),
            locks: (0..rows).map(|_| Mutex::new(())).collect(),
            levels,
            pool: ScratchPool::default(),
        })
    }

    /// Inserts every row, in parallel on the current rayon pool (install a pool of `t`
    /// threads to build with `t`), then freezes the graph. With one thread the result
    /// depends only on the source and the parameters.
    pub fn build(self) -> Result<FrozenHnsw<Vec<u8>>> {
        if self.rows > 0 {
            let entry = self.entry;
            (0..self.rows as u32)
                .into_par_iter()
                .filter(|&r| r != entry)
                .for_each_init(|| self.pool.get(), |scratch, row| self.insert(row, scratch));
        }
        self.freeze()
    }

    /// The list of `row` on `layer`, if the row reaches that layer.
    #[inline]
    fn slot(&self, row: u32, layer: usize) -> Option<Slot<'_>> {
        let (words, distances, start, cap) = if layer == 0 {
            let stride = 1 + self.m0;
            (
                &self.layer0,
                &self.layer0_distances,
                row as usize * stride,
                self.m0,
            )
        } else {
            if usize::from(*self.levels.get(row as usize)?) < layer {
                return None;
            }
            let stride = 1 + self.params.m;
            let start = self.upper_start.get(row as usize)? + (layer - 1) * stride;
            (&self.upper, &self.upper_distances, start, self.params.m)
        };
        Some(Slot {
            words: words.get(start..start + 1 + cap)?,
            // Empty once `freeze` has dropped the distances (only pruning reads them).
            distances: distances.get(start..start + 1 + cap).unwrap_or(&[]),
            cap,
        })
    }

    /// Internal distance between two rows.
    #[inline]
    fn pair(&self, a: u32, b: u32) -> f32 {
        let r = (self.kernel)(self.source.vector(a), self.source.vector(b));
        match self.walk {
            WalkDistance::L2 => r,
            WalkDistance::NegIp => -r,
            WalkDistance::NegScaledIp => -r * (self.inverse_norm(a) * self.inverse_norm(b)),
        }
    }

    #[inline(always)]
    fn inverse_norm(&self, row: u32) -> f32 {
        self.inverse_norms.get(row as usize).copied().unwrap_or(0.0)
    }

    fn lock(&self, row: u32) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.locks
            .get(row as usize)
            .map(|l| l.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Algorithm 1 for one row.
    fn insert(&self, row: u32, scratch: &mut Scratch) {
        let level = usize::from(self.levels.get(row as usize).copied().unwrap_or(0));
        let top = usize::from(self.levels.get(self.entry as usize).copied().unwrap_or(0));
        let space = InsertSpace {
            graph: self,
            vector: self.source.vector(row),
            inverse_norm: self.inverse_norm(row),
        };
        let mut current = (space.distance(self.entry), self.entry);
        scratch.visited.clear(self.rows);
        for layer in (level + 1..=top).rev() {
            current = greedy(self, layer, &space, current, scratch);
        }
        let ef = self.params.ef_construction.max(self.params.m);
        for layer in (0..=level.min(top)).rev() {
            search_layer(self, layer, &space, current, ef, |_| true, scratch);
            let mut found = std::mem::take(&mut scratch.pairs);
            take_results(scratch, &mut found);
            found.retain(|&(_, r)| r != row);
            let mut chosen = std::mem::take(&mut scratch.selected);
            select_neighbors(&found, self.params.m, |a, b| self.pair(a, b), &mut chosen);
            {
                let _guard = self.lock(row);
                if let Some(slot) = self.slot(row, layer) {
                    store(&slot, &chosen);
                }
            }
            for &(d, neighbor) in &chosen {
                self.connect(neighbor, row, d, layer, scratch);
            }
            if let Some(&closest) = found.first() {
                current = closest;
            }
            scratch.pairs = found;
            scratch.selected = chosen;
        }
    }

    /// Adds the link `from -> to` (at distance `d`) on `layer`, pruning `from`'s list
    /// with the heuristic when it is full.
    fn connect(&self, from: u32, to: u32, d: f32, layer: usize, scratch: &mut Scratch) {
        let _guard = self.lock(from);
        let Some(slot) = self.slot(from, layer) else {
            return;
        };
        let count = slot
            .words
            .first()
            .map_or(0, |c| c.load(Ordering::Relaxed) as usize)
            .min(slot.cap);
        let current = &mut scratch.pruned;
        current.clear();
        for i in 1..=count {
            if let (Some(w), Some(dw)) = (slot.words.get(i), slot.distances.get(i)) {
                current.push((
                    f32::from_bits(dw.load(Ordering::Relaxed)),
                    w.load(Ordering::Relaxed),
                ));
            }
        }
        if current.iter().any(|&(_, r)| r == to) {
            return;
        }
        if count < slot.cap {
            if let (Some(w), Some(dw)) = (slot.words.get(count + 1), slot.distances.get(count + 1))
            {
                w.store(to, Ordering::Relaxed);
                dw.store(d.to_bits(), Ordering::Relaxed);
                if let Some(c) = slot.words.first() {
                    c.store(count as u32 + 1, Ordering::Release);
                }
            }
            return;
        }
        current.push((d, to));
        current.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut kept = std::mem::take(&mut scratch.selected);
        select_neighbors(&scratch.pruned, slot.cap, |a, b| self.pair(a, b), &mut kept);
        store(&slot, &kept);
        scratch.selected = kept;
    }

    /// The finished graph in its serialized form.
    fn freeze(mut self) -> Result<FrozenHnsw<Vec<u8>>> {
        // Only pruning needed the link distances; free them before the copy is made.
        self.layer0_distances = Vec::new();
        self.upper_distances = Vec::new();
        let levels = if self.rows == 0 {
            0
        } else {
            self.levels
                .get(self.entry as usize)
                .map_or(0, |&l| usize::from(l) + 1)
        };
        let mut parts = Parts {
            layer0: Vec::with_capacity(self.rows * self.m0),
            upper_index: vec![format::EMPTY; self.rows],
            upper: Vec::new(),
            inverse_norms: std::mem::take(&mut self.inverse_norms),
        };
        let mut links = Vec::new();
        for row in 0..self.rows as u32 {
            self.neighbors(row, 0, &mut links);
            parts.layer0.extend_from_slice(&links);
            parts
                .layer0
                .resize((row as usize + 1) * self.m0, format::EMPTY);
            let level = self.levels.get(row as usize).copied().unwrap_or(0);
            if level == 0 {
                continue;
            }
            let block = u32::try_from(parts.upper.len())
                .ok()
                .filter(|&b| b != format::EMPTY)
                .ok_or(IndexError::TooLarge {
                    what: "upper links",
                    count: parts.upper.len(),
                })?;
            if let Some(index) = parts.upper_index.get_mut(row as usize) {
                *index = block;
            }
            parts.upper.push(u32::from(level));
            for layer in 1..=usize::from(level) {
                self.neighbors(row, layer, &mut links);
                parts.upper.push(links.len() as u32);
                parts.upper.extend_from_slice(&links);
            }
        }
        let header = Header {
            metric: self.metric,
            dim: self.source.dim(),
            rows: self.rows,
            m: self.params.m,
            ef_construction: self.params.ef_construction,
            entry: if self.rows == 0 { u32::MAX } else { self.entry },
            levels,
            seed: self.params.seed,
        };
        FrozenHnsw::load(format::encode(&header, &parts))
    }
}

/// Writes `items` as a list's links and publishes the new count.
fn store(slot: &Slot<'_>, items: &[(f32, u32)]) {
    let count = items.len().min(slot.cap);
    for (i, &(d, r)) in items.iter().take(count).enumerate() {
        if let (Some(w), Some(dw)) = (slot.words.get(i + 1), slot.distances.get(i + 1)) {
            w.store(r, Ordering::Relaxed);
            dw.store(d.to_bits(), Ordering::Relaxed);
        }
    }
    if let Some(c) = slot.words.first() {
        c.store(count as u32, Ordering::Release);
    }
}

impl<S: VectorSource + ?Sized> Links for HnswBuilder<'_, S> {
    fn rows(&self) -> usize {
        self.rows
    }

    #[inline]
    fn neighbors(&self, node: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        let Some(slot) = self.slot(node, layer) else {
            return;
        };
        let count = slot
            .words
            .first()
            .map_or(0, |c| c.load(Ordering::Acquire) as usize)
            .min(slot.cap);
        out.extend(
            slot.words
                .iter()
                .skip(1)
                .take(count)
                .map(|w| w.load(Ordering::Relaxed)),
        );
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, layer: usize) {
        if layer == 0 {
            let stride = 1 + self.m0;
            if let Some(words) = self.layer0.get(node as usize * stride..) {
                prefetch_range(words.as_ptr().cast(), 4 * stride);
            }
        }
    }
}

/// Distances from the row being inserted.
struct InsertSpace<'g, 'a, S: ?Sized> {
    graph: &'g HnswBuilder<'a, S>,
    vector: &'g [f32],
    inverse_norm: f32,
}

impl<S: VectorSource + ?Sized> Space for InsertSpace<'_, '_, S> {
    #[inline(always)]
    fn distance(&self, row: u32) -> f32 {
        let g = self.graph;
        let r = (g.kernel)(self.vector, g.source.vector(row));
        match g.walk {
            WalkDistance::L2 => r,
            WalkDistance::NegIp => -r,
            // Same expression as `pair`, so stored link distances match recomputed ones.
            WalkDistance::NegScaledIp => -r * (self.inverse_norm * g.inverse_norm(row)),
        }
    }

    #[inline(always)]
    fn prefetch(&self, row: u32) {
        prefetch_vector(self.graph.source.vector(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DenseVectors;

    fn data(rows: usize, dim: usize) -> Vec<f32> {
        let mut s = 7u64;
        (0..rows * dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect()
    }

    /// The frozen graph keeps every link the build made (a freeze that lost them would
    /// still pass recall tests through the exact fallback, so check the links directly).
    #[test]
    fn frozen_graph_keeps_the_links() {
        let source = DenseVectors::new(data(500, 8), 8).unwrap();
        let params = HnswParams::new(6, 30);
        let builder = HnswBuilder::new(&source, Metric::L2, &params).unwrap();
        let graph = builder.build().unwrap();
        let mut links = Vec::new();
        let mut total = 0;
        for row in 0..500u32 {
            graph.neighbors(row, 0, &mut links);
            assert!(!links.is_empty(), "row {row} lost its links");
            assert!(links.len() <= 12 && !links.contains(&row));
            total += links.len();
        }
        assert!(total >= 500 * 4, "mean degree {}", total / 500);
        assert!(graph.layer_count() >= 2);
        let top = graph.layer_count() - 1;
        graph.neighbors(graph.header.entry, top, &mut links);
        assert!(!links.is_empty());
    }
}

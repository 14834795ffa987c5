//! The two graph walks of HNSW (Malkov & Yashunin, Algorithms 2 and 5), shared by the
//! builder (over its lock-free link arrays) and by search (over frozen bytes): a greedy
//! descent through the upper layers and the beam search (`SEARCH-LAYER` with `ef`) on one
//! layer, optionally restricted to allowed rows.
//!
//! Candidates are `u64` keys, `(order-preserving distance bits << 32) | row`, so heap
//! comparisons are single integer compares and ties between equal distances fall to the
//! smaller row, as everywhere in this crate.

use std::cmp::Reverse;

use super::visited::Scratch;

/// Read access to the neighbour lists of a graph.
pub(crate) trait Links {
    /// Number of nodes (valid rows are `0..rows()`).
    fn rows(&self) -> usize;
    /// Replaces `out` with the neighbours of `node` on `layer` (empty when the node is not
    /// on that layer). Only rows below [`Links::rows`] are returned.
    fn neighbors(&self, node: u32, layer: usize, out: &mut Vec<u32>);
    /// Hints that the neighbours of `node` on `layer` are about to be read.
    fn prefetch_links(&self, _node: u32, _layer: usize) {}
}

/// Distances from one fixed point (a query, or the node being inserted) to rows.
pub(crate) trait Space {
    /// Internal distance (smaller is closer) to `row`.
    fn distance(&self, row: u32) -> f32;
    /// Hints that `row` is about to be scored.
    fn prefetch(&self, row: u32);
}

/// How a kernel result becomes a walk distance (smaller is closer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkDistance {
    /// Squared L2 as is.
    L2,
    /// Negated inner product: IP, and COSINE over unit vectors with a normalized query.
    NegIp,
    /// Negated inner product times the row's inverse norm: COSINE in general.
    NegScaledIp,
}

/// Inverse norms within this of 1 count as unit length (f32 normalization leaves errors
/// around 1e-7; the walk only navigates, final COSINE scores are recomputed exactly).
pub(crate) const UNIT_TOLERANCE: f32 = 1e-4;

const SIGN: u32 = 0x8000_0000;

/// `(distance, row)` as one integer whose order is distance first (`f32` order, `-0.0` as
/// `0.0`), then row.
#[inline(always)]
pub(crate) fn key(distance: f32, row: u32) -> u64 {
    let bits = (distance + 0.0).to_bits();
    let ordered = if bits & SIGN != 0 { !bits } else { bits | SIGN };
    (u64::from(ordered) << 32) | u64::from(row)
}

/// The distance a [`key`] was made from.
#[inline(always)]
pub(crate) fn key_distance(key: u64) -> f32 {
    let ordered = (key >> 32) as u32;
    let bits = if ordered & SIGN != 0 {
        ordered & !SIGN
    } else {
        !ordered
    };
    f32::from_bits(bits)
}

/// The row a [`key`] was made from.
#[inline(always)]
pub(crate) fn key_row(key: u64) -> u32 {
    key as u32
}

/// Greedy descent on `layer` from `start` (Algorithm 2 with `ef = 1`): moves to the closest
/// neighbour while one is closer. Returns the local minimum as `(distance, row)`.
///
/// Rows already scored during this descent (marked in `scratch.visited`, which the caller
/// clears once before descending through all upper layers) are skipped: they were no
/// closer than the best row at the time, and the best only gets closer, so skipping them
/// does not change the path. Neighbour lists of consecutive hops overlap a lot.
pub(crate) fn greedy<L: Links, S: Space>(
    graph: &L,
    layer: usize,
    space: &S,
    start: (f32, u32),
    scratch: &mut Scratch,
) -> (f32, u32) {
    let Scratch {
        visited,
        links,
        fresh,
        ..
    } = scratch;
    let mut best = key(start.0, start.1);
    visited.insert(start.1);
    loop {
        let mut moved = false;
        graph.neighbors(key_row(best), layer, links);
        fresh.clear();
        for &row in links.iter() {
            if visited.insert(row) {
                space.prefetch(row);
                fresh.push(row);
            }
        }
        for &row in fresh.iter() {
            let k = key(space.distance(row), row);
            if k < best {
                best = k;
                moved = true;
            }
        }
        if !moved {
            return (key_distance(best), key_row(best));
        }
    }
}

/// Beam search on `layer` from `entry` (Algorithm 2): leaves the `ef` closest rows that
/// `allow` accepts in `scratch.results`. Rows `allow` rejects are still expanded, so a
/// selective filter widens the walk until `ef` allowed rows are found or every reachable
/// row has been seen.
pub(crate) fn search_layer<L: Links, S: Space>(
    graph: &L,
    layer: usize,
    space: &S,
    entry: (f32, u32),
    ef: usize,
    allow: impl Fn(u32) -> bool,
    scratch: &mut Scratch,
) {
    let Scratch {
        visited,
        candidates,
        results,
        links,
        fresh,
        ..
    } = scratch;
    visited.clear(graph.rows());
    candidates.clear();
    results.clear();
    let ef = ef.max(1);
    let entry_key = key(entry.0, entry.1);
    visited.insert(entry.1);
    candidates.push(Reverse(entry_key));
    if allow(entry.1) {
        results.push(entry_key);
    }
    while let Some(Reverse(current)) = candidates.pop() {
        if results.len() >= ef && results.peek().is_some_and(|&worst| current > worst) {
            break;
        }
        // The next candidate is likely the next one expanded: start loading its links
        // while this one's neighbours are scored.
        if let Some(&Reverse(next)) = candidates.peek() {
            graph.prefetch_links(key_row(next), layer);
        }
        graph.neighbors(key_row(current), layer, links);
        // Request every fresh neighbour's vector first, then score them: their cache
        // misses overlap instead of queueing one after another.
        fresh.clear();
        for &row in links.iter() {
            if visited.insert(row) {
                space.prefetch(row);
                fresh.push(row);
            }
        }
        for &row in fresh.iter() {
            let k = key(space.distance(row), row);
            let full = results.len() >= ef;
            if !full || results.peek().is_some_and(|&worst| k < worst) {
                candidates.push(Reverse(k));
                if allow(row) {
                    results.push(k);
                    if full {
                        results.pop();
                    }
                }
            }
        }
    }
}

/// Moves `scratch.results` out as `(distance, row)` pairs, closest first (`out` is
/// replaced), keeping the heap's allocation for the next walk.
pub(crate) fn take_results(scratch: &mut Scratch, out: &mut Vec<(f32, u32)>) {
    let mut keys = std::mem::take(&mut scratch.results).into_vec();
    keys.sort_unstable();
    out.clear();
    out.extend(keys.iter().map(|&k| (key_distance(k), key_row(k))));
    keys.clear();
    scratch.results = keys.into();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_distances_then_rows() {
        let values = [
            f32::NEG_INFINITY,
            -3.5,
            -1e-30,
            0.0,
            1e-30,
            2.0,
            f32::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(key(w[0], 9) < key(w[1], 0), "{w:?}");
        }
        assert!(key(1.0, 1) < key(1.0, 2));
        assert_eq!(key(-0.0, 3), key(0.0, 3));
        for v in values {
            assert_eq!(key_distance(key(v, 5)), v);
            assert_eq!(key_row(key(v, 5)), 5);
        }
    }
}

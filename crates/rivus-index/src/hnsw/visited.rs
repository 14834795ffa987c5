//! Per-search scratch memory, pooled: the visited set of a graph walk and its heaps.
//!
//! A visited set is one `u16` stamp per row: a row counts as visited when its stamp equals
//! the current generation, so clearing the set is one increment instead of a pass over
//! every row (the full reset happens once per 65,535 walks). Allocating these per query
//! would cost more than a small search itself; [`ScratchPool`] keeps one per thread that
//! has used the index.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

/// Rows seen by the current walk.
#[derive(Debug, Default)]
pub(crate) struct Visited {
    stamps: Vec<u16>,
    generation: u16,
}

impl Visited {
    /// Forgets every row and sizes the set for rows `0..n`.
    pub(crate) fn clear(&mut self, n: usize) {
        if self.stamps.len() != n {
            self.stamps.clear();
            self.stamps.resize(n, 0);
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `row`; true when it was not marked yet. Rows past `n` are never inserted (a
    /// corrupt link is skipped, not followed).
    #[inline(always)]
    pub(crate) fn insert(&mut self, row: u32) -> bool {
        match self.stamps.get_mut(row as usize) {
            Some(stamp) if *stamp != self.generation => {
                *stamp = self.generation;
                true
            }
            Some(_) | None => false,
        }
    }
}

/// Everything one graph walk (a search, or one insertion during a build) works in.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) visited: Visited,
    /// Min-heap of nodes to expand, as [`super::walk::key`]s.
    pub(crate) candidates: BinaryHeap<Reverse<u64>>,
    /// Max-heap of the best `ef` (allowed) nodes found, as keys.
    pub(crate) results: BinaryHeap<u64>,
    /// One node's neighbours.
    pub(crate) links: Vec<u32>,
    /// Neighbours not visited before, to prefetch then score.
    pub(crate) fresh: Vec<u32>,
    /// The query, normalized for COSINE.
    pub(crate) query: Vec<f32>,
    /// `(distance, row)` lists for neighbour selection.
    pub(crate) pairs: Vec<(f32, u32)>,
    pub(crate) selected: Vec<(f32, u32)>,
    pub(crate) pruned: Vec<(f32, u32)>,
}

/// Idle [`Scratch`]es of one index.
#[derive(Debug, Default)]
pub(crate) struct ScratchPool {
    idle: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    /// A scratch, reused when one is idle; it returns to the pool when dropped.
    pub(crate) fn get(&self) -> PooledScratch<'_> {
        let scratch = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        PooledScratch {
            pool: self,
            scratch: Some(scratch),
        }
    }
}

/// A [`Scratch`] on loan from a [`ScratchPool`].
pub(crate) struct PooledScratch<'a> {
    pool: &'a ScratchPool,
    scratch: Option<Scratch>,
}

impl Deref for PooledScratch<'_> {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        // Always `Some` until drop; the fallback is never reached.
        self.scratch.as_ref().unwrap_or(&EMPTY)
    }
}

impl DerefMut for PooledScratch<'_> {
    fn deref_mut(&mut self) -> &mut Scratch {
        self.scratch.get_or_insert_with(Scratch::default)
    }
}

static EMPTY: Scratch = Scratch {
    visited: Visited {
        stamps: Vec::new(),
        generation: 0,
    },
    candidates: BinaryHeap::new(),
    results: BinaryHeap::new(),
    links: Vec::new(),
    fresh: Vec::new(),
    query: Vec::new(),
    pairs: Vec::new(),
    selected: Vec::new(),
    pruned: Vec::new(),
};

impl Drop for PooledScratch<'_> {
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_resets_by_generation() {
        let mut v = Visited::default();
        v.clear(10);
        assert!(v.insert(3));
        assert!(!v.insert(3));
        assert!(!v.insert(10));
        for _ in 0..70_000 {
            v.clear(10);
            assert!(v.insert(3));
        }
        v.clear(10);
        assert!(v.insert(3) && v.insert(4) && !v.insert(4));
    }

    #[test]
    fn pool_reuses_scratch() {
        let pool = ScratchPool::default();
        {
            let mut s = pool.get();
            s.links.reserve(100);
        }
        assert!(pool.get().links.capacity() >= 100);
    }
}

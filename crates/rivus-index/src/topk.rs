//! [`TopK`]: keeps the `k` best `(distance, id)` pairs seen so far.
//!
//! A max-heap of at most `k` entries whose root is the worst kept pair, so a candidate that
//! cannot make the cut is rejected with one comparison. Order is by distance (smaller is
//! better, compared with `f32::total_cmp`, `-0.0` folded into `0.0`), then by id (smaller
//! wins): the result never depends on the order pairs arrive in, which keeps FLAT, HNSW and
//! per-segment merges deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One kept pair, ordered by `(distance, id)`.
#[derive(Debug, Clone, Copy)]
struct Entry<I> {
    distance: f32,
    id: I,
}

impl<I: Ord> Ord for Entry<I> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl<I: Ord> PartialOrd for Entry<I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<I: Ord> PartialEq for Entry<I> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<I: Ord> Eq for Entry<I> {}

/// The `k` smallest `(distance, id)` pairs pushed so far (ties broken by smaller id).
#[derive(Debug, Clone)]
pub struct TopK<I = u32> {
    k: usize,
    heap: BinaryHeap<Entry<I>>,
}

impl<I: Ord + Copy> TopK<I> {
    /// An empty collector for the `k` best pairs (`k = 0` keeps nothing).
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            // Capacity is capped so a huge `k` from a request does not allocate up front.
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(4096)),
        }
    }

    /// How many pairs are kept at most.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How many pairs are kept now.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Whether `k` pairs are kept (a new pair must beat the worst to enter).
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The worst kept pair once full; `None` while there is room (anything enters).
    pub fn worst(&self) -> Option<(f32, I)> {
        if self.is_full() {
            self.heap.peek().map(|e| (e.distance, e.id))
        } else {
            None
        }
    }

    /// The distance a new pair must not exceed to enter: the worst kept distance once
    /// full, `+inf` before.
    pub fn threshold(&self) -> f32 {
        self.worst().map_or(f32::INFINITY, |(d, _)| d)
    }

    /// Offers a pair; it is kept if it is among the `k` best so far. Returns whether it was.
    #[inline]
    pub fn push(&mut self, distance: f32, id: I) -> bool {
        let entry = Entry {
            distance: distance + 0.0,
            id,
        };
        if self.heap.len() < self.k {
            self.heap.push(entry);
            return true;
        }
        match self.heap.peek_mut() {
            Some(mut worst) if entry < *worst => {
                *worst = entry;
                true
            }
            Some(_) | None => false,
        }
    }

    /// Offers every pair of `other` (merging per-segment or per-thread results).
    pub fn merge(&mut self, other: TopK<I>) {
        for e in other.heap {
            self.push(e.distance, e.id);
        }
    }

    /// The kept pairs, best first.
    pub fn into_sorted_vec(self) -> Vec<(f32, I)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| (e.distance, e.id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_the_best_k_with_ties_by_id() {
        let mut t = TopK::new(3);
        for (d, id) in [
            (1.0, 5u32),
            (0.5, 9),
            (1.0, 2),
            (3.0, 1),
            (1.0, 1),
            (-0.0, 4),
        ] {
            t.push(d, id);
        }
        assert_eq!(t.worst(), Some((1.0, 1)));
        assert_eq!(t.into_sorted_vec(), vec![(0.0, 4), (0.5, 9), (1.0, 1)]);
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut t = TopK::<u32>::new(0);
        assert!(!t.push(1.0, 1));
        assert!(t.is_empty());
        assert_eq!(t.threshold(), f32::INFINITY);
    }

    proptest! {
        #[test]
        fn matches_sort_and_truncate(
            pairs in proptest::collection::vec((-4i8..4, 0u32..20), 0..200),
            k in 0usize..30,
            split in 0usize..200,
        ) {
            let pairs: Vec<(f32, u32)> = pairs.into_iter().map(|(d, id)| (f32::from(d) / 2.0, id)).collect();
            let mut want = pairs.clone();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            want.truncate(k);
            // Two halves merged equal one pass.
            let split = split.min(pairs.len());
            let (mut a, mut b) = (TopK::new(k), TopK::new(k));
            for &(d, id) in &pairs[..split] { a.push(d, id); }
            for &(d, id) in &pairs[split..] { b.push(d, id); }
            a.merge(b);
            prop_assert_eq!(a.into_sorted_vec(), want);
        }
    }
}

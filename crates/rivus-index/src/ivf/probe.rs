//! The search loop every inverted-file index shares (IVF_FLAT, IVF_SQ8, IVF_PQ,
//! BIN_IVF_FLAT): order the lists by their centroid's distance to the query, scan the
//! nearest `nprobe`, and widen when they did not hold enough.
//!
//! Filters: a search allowed a fraction `s` of the rows scans about `nprobe / s` lists
//! (so it scores as many allowed rows as an unfiltered search scores rows, and finds its
//! neighbours about as well), unless scoring the allowed rows directly ([`Plan::Exact`])
//! is cheaper. If the scanned lists still held fewer than `min(k, allowed)` allowed rows,
//! the scan doubles the lists until they do or every list was scanned, so a filtered
//! search returns as many hits as an exact one. Range searches double the lists while
//! fewer than `k` hits were in range and the last widening found new ones.

use rivus_schema::Bitmap;

use crate::TopK;

/// Lists in order of their centroid's distance to a query (closest first, ties by list),
/// sorted lazily: only as far as the scan has gone.
#[derive(Debug)]
pub(crate) struct ListOrder {
    pairs: Vec<(f32, u32)>,
    sorted: usize,
}

impl ListOrder {
    /// `distances[i]` is list `i`'s centroid distance (smaller is closer).
    pub(crate) fn new(distances: &[f32]) -> Self {
        ListOrder {
            pairs: distances
                .iter()
                .enumerate()
                .map(|(i, &d)| (if d.is_nan() { f32::INFINITY } else { d + 0.0 }, i as u32))
                .collect(),
            sorted: 0,
        }
    }

    /// The `i`-th closest list.
    pub(crate) fn get(&mut self, i: usize) -> Option<u32> {
        if i >= self.pairs.len() {
            return None;
        }
        if i >= self.sorted {
            let cmp = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            let rest = &mut self.pairs[self.sorted..];
            // Sort a prefix at least twice as long as the one sorted so far.
            let want = (i + 1).max(2 * self.sorted).max(8) - self.sorted;
            if want < rest.len() {
                rest.select_nth_unstable_by(want - 1, cmp);
                rest[..want].sort_unstable_by(cmp);
                self.sorted += want;
            } else {
                rest.sort_unstable_by(cmp);
                self.sorted = self.pairs.len();
            }
        }
        self.pairs.get(i).map(|p| p.1)
    }
}

/// Allowed rows among the first `rows` (all of them without a filter).
pub(crate) fn count_allowed(filter: Option<&Bitmap>, rows: usize) -> usize {
    match filter {
        None => rows,
        Some(f) if f.len() <= rows => f.count_ones(),
        Some(f) => f.iter_ones().take_while(|&r| r < rows).count(),
    }
}

/// What one list scan saw.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scanned {
    /// Allowed rows in the list.
    pub(crate) allowed: usize,
    /// Of those, rows inside the range (all of them without a range).
    pub(crate) accepted: usize,
}

/// How to answer one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Score the allowed rows directly.
    Exact,
    /// Scan this many lists first.
    Probe(usize),
}

/// Costs in "one bitmap check" units: `score_cost` is the cost of scoring one row.
/// `exact` says whether the index can score allowed rows directly (without it, the plan
/// is always to probe, as many lists as the filter calls for).
pub(crate) fn plan(
    nlist: usize,
    rows: usize,
    allowed: usize,
    nprobe: usize,
    filtered: bool,
    score_cost: f64,
    exact: bool,
) -> Plan {
    let nprobe = nprobe.clamp(1, nlist.max(1));
    if !filtered || allowed >= rows {
        return Plan::Probe(nprobe);
    }
    let widened = (nprobe as f64 * rows as f64 / allowed.max(1) as f64).ceil();
    let target = (widened as usize).clamp(nprobe, nlist.max(1));
    let fraction = target as f64 / nlist.max(1) as f64;
    let probe_cost = fraction * (rows as f64 + allowed as f64 * score_cost);
    let exact_cost = rows as f64 / 64.0 + allowed as f64 * (score_cost + 1.0);
    if exact && exact_cost <= probe_cost {
        Plan::Exact
    } else {
        Plan::Probe(target)
    }
}

/// When to stop widening.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Goal {
    /// Top-k: until this many allowed rows were seen.
    Allowed(usize),
    /// Range: until this many were in range, or a widening found none.
    InRange(usize),
}

/// Scans lists in `order`, starting with `start` of them, into a collector of `cap`;
/// `scan(list, top)` scores one list.
pub(crate) fn probe(
    order: &mut ListOrder,
    nlist: usize,
    start: usize,
    goal: Goal,
    cap: usize,
    mut scan: impl FnMut(u32, &mut TopK<u32>) -> Scanned,
) -> TopK<u32> {
    let mut top = TopK::new(cap);
    let (mut probed, mut allowed, mut accepted) = (0usize, 0usize, 0usize);
    let mut target = start.clamp(1, nlist.max(1));
    loop {
        let accepted_before = accepted;
        while probed < target {
            let Some(list) = order.get(probed) else {
                return top;
            };
            let s = scan(list, &mut top);
            allowed += s.allowed;
            accepted += s.accepted;
            probed += 1;
        }
        if probed >= nlist {
            return top;
        }
        let enough = match goal {
            Goal::Allowed(want) => allowed >= want,
            Goal::InRange(k) => accepted >= k || accepted == accepted_before,
        };
        if enough {
            return top;
        }
        target = target.saturating_mul(2).min(nlist);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_sorts_lazily_and_fully() {
        let d: Vec<f32> = (0..100).map(|i| ((i * 37) % 100) as f32).collect();
        let mut o = ListOrder::new(&d);
        let mut got = Vec::new();
        for i in 0..100 {
            got.push(d[o.get(i).unwrap() as usize]);
        }
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(o.get(100), None);
        let mut ties = ListOrder::new(&[1.0, 0.0, 1.0, f32::NAN, 0.0]);
        let all: Vec<u32> = (0..5).map(|i| ties.get(i).unwrap()).collect();
        assert_eq!(all, [1, 4, 0, 2, 3]);
    }

    #[test]
    fn plans_by_cost() {
        assert_eq!(
            plan(1024, 100_000, 100_000, 8, false, 32.0, true),
            Plan::Probe(8)
        );
        assert_eq!(plan(1024, 100_000, 50, 8, true, 32.0, true), Plan::Exact);
        assert_eq!(
            plan(1024, 100_000, 50, 8, true, 32.0, false),
            Plan::Probe(1024)
        );
        assert_eq!(
            plan(1024, 100_000, 50_000, 8, true, 32.0, true),
            Plan::Probe(16)
        );
        assert_eq!(plan(16, 100, 100, 100, false, 32.0, true), Plan::Probe(16));
    }

    #[test]
    fn probe_widens_until_enough_allowed() {
        // 10 lists of 10 rows; only rows of the last list are allowed.
        let mut order = ListOrder::new(&(0..10).map(|i| i as f32).collect::<Vec<_>>());
        let mut scanned = Vec::new();
        let top = probe(&mut order, 10, 2, Goal::Allowed(3), 5, |list, top| {
            scanned.push(list);
            if list == 9 {
                for r in 0..10 {
                    top.push(r as f32, 90 + r);
                }
                Scanned {
                    allowed: 10,
                    accepted: 10,
                }
            } else {
                Scanned::default()
            }
        });
        assert_eq!(scanned, (0..10).collect::<Vec<_>>());
        assert_eq!(top.len(), 5);
        let mut order = ListOrder::new(&[0.0; 10]);
        let mut n = 0;
        probe(&mut order, 10, 2, Goal::InRange(5), 5, |_, _| {
            n += 1;
            Scanned {
                allowed: 1,
                accepted: 0,
            }
        });
        assert_eq!(n, 2, "a range widening that finds nothing stops");
    }
}

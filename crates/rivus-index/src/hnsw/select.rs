//! Neighbour selection (the paper's Algorithm 4, `SELECT-NEIGHBORS-HEURISTIC`, without
//! candidate extension or kept pruned links).
//!
//! Walking candidates closest first, a candidate is kept only if it is closer to the base
//! node than to every neighbour already kept. Links then point in diverse directions
//! instead of into one dense cluster, which is what keeps the graph navigable on clustered
//! data and across clusters.

/// Picks at most `m` neighbours from `candidates` (`(distance to base, row)`, closest
/// first) into `out` (replaced). `pair(a, b)` is the distance between two rows. With no
/// more than `m` candidates all are kept: there is nothing to choose between.
pub(crate) fn select_neighbors(
    candidates: &[(f32, u32)],
    m: usize,
    pair: impl Fn(u32, u32) -> f32,
    out: &mut Vec<(f32, u32)>,
) {
    out.clear();
    if candidates.len() <= m {
        out.extend_from_slice(candidates);
        return;
    }
    for &(d, row) in candidates {
        if out.len() >= m {
            break;
        }
        if out.iter().all(|&(_, kept)| pair(row, kept) >= d) {
            out.push((d, row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_candidates_hidden_behind_a_kept_one() {
        // Base at 0 on a line; 1 and 2 lie in the same direction, -3 in the other.
        let pos = |r: u32| match r {
            1 => 1.0f32,
            2 => 2.0,
            _ => -3.0,
        };
        let pair = |a: u32, b: u32| (pos(a) - pos(b)).abs();
        let cands = [(1.0, 1), (2.0, 2), (3.0, 3)];
        let mut out = Vec::new();
        select_neighbors(&cands, 2, pair, &mut out);
        assert_eq!(out, vec![(1.0, 1), (3.0, 3)]);
        select_neighbors(&cands, 3, pair, &mut out);
        assert_eq!(out.len(), 3);
    }
}

//! FLAT: exact search, every allowed row scored against every query.
//!
//! This is the reference the approximate indexes are tested against, the search for
//! growing segments and for filters so selective that walking a graph costs more than
//! scoring the few rows left. Scores come from [`Metric::score`], the same call HNSW uses
//! for its final scores, so both agree to the bit on shared rows.
//!
//! Queries are taken in small groups and each row is scored against the whole group before
//! moving on, so a row is read from memory once per group rather than once per query;
//! groups run in parallel on the current rayon pool.

use rayon::prelude::*;

use crate::search::query_count;
use crate::{Hit, Metric, Result, SearchOptions, TopK, VectorSource};

/// Queries scored together against each row (they share its cache lines).
const QUERY_GROUP: usize = 8;

/// Exact top-k for each of the `nq = queries.len() / dim` queries (row-major), honouring
/// `opts.filter` and `opts.range`. Each query's hits are best first, ties by row; a query
/// gets `min(k, allowed rows in range)` hits.
///
/// Errors: [`crate::IndexError::DimensionMismatch`] when `queries.len()` is not a multiple
/// of the source's dimension; [`crate::IndexError::InvalidParameter`] for a bad range.
pub fn search<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    queries: &[f32],
    opts: &SearchOptions<'_>,
) -> Result<Vec<Vec<Hit>>> {
    let dim = source.dim();
    let nq = query_count(queries, dim)?;
    if let Some(range) = &opts.range {
        range.validate(metric)?;
    }
    if nq == 0 {
        return Ok(Vec::new());
    }
    let groups: Vec<Vec<Vec<Hit>>> = queries
        .par_chunks(dim * QUERY_GROUP)
        .map(|group| search_group(source, metric, group, dim, opts, source.len()))
        .collect();
    Ok(groups.into_iter().flatten().collect())
}

/// [`search`] for one query (`query.len()` must equal the source's dimension).
pub fn search_one<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    query: &[f32],
    opts: &SearchOptions<'_>,
) -> Result<Vec<Hit>> {
    if query.len() != source.dim() {
        return Err(crate::IndexError::DimensionMismatch {
            expected: source.dim(),
            got: query.len(),
        });
    }
    Ok(search(source, metric, query, opts)?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Exact search of one query over the allowed rows among the first `rows` of `source`
/// (an index covering a prefix of the source falls back to this).
pub(crate) fn search_rows<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    query: &[f32],
    opts: &SearchOptions<'_>,
    rows: usize,
) -> Vec<Hit> {
    search_group(source, metric, query, query.len().max(1), opts, rows)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// One group of up to [`QUERY_GROUP`] queries over every allowed row below `rows`.
fn search_group<S: VectorSource + ?Sized>(
    source: &S,
    metric: Metric,
    group: &[f32],
    dim: usize,
    opts: &SearchOptions<'_>,
    rows: usize,
) -> Vec<Vec<Hit>> {
    let score = metric.score_fn();
    let queries: Vec<&[f32]> = group.chunks_exact(dim).collect();
    let mut tops: Vec<TopK<u32>> = queries.iter().map(|_| TopK::new(opts.k)).collect();
    let n = rows.min(source.len()).min(u32::MAX as usize);
    let mut visit = |row: usize| {
        let row = row as u32;
        let v = source.vector(row);
        for (q, top) in queries.iter().zip(tops.iter_mut()) {
            let s = score(q, v);
            if opts.range.is_none_or(|r| r.contains(metric, s)) {
                top.push(metric.to_distance(s), row);
            }
        }
    };
    if opts.k > 0 {
        match opts.filter {
            Some(filter) => filter.iter_ones().take_while(|&r| r < n).for_each(visit),
            None => (0..n).for_each(&mut visit),
        }
    }
    tops.into_iter().map(|top| into_hits(metric, top)).collect()
}

/// A collector's pairs as hits, best first.
pub(crate) fn into_hits(metric: Metric, top: TopK<u32>) -> Vec<Hit> {
    top.into_sorted_vec()
        .into_iter()
        .map(|(d, row)| Hit {
            row,
            score: metric.to_score(d),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DenseVectors, RangeSearch};
    use rivus_schema::Bitmap;

    fn points() -> DenseVectors<Vec<f32>> {
        // Row i is (i, 0).
        DenseVectors::new((0..10).flat_map(|i| [i as f32, 0.0]).collect(), 2).unwrap()
    }

    #[test]
    fn l2_orders_by_distance() {
        let hits = search_one(&points(), Metric::L2, &[3.2, 0.0], &SearchOptions::new(3)).unwrap();
        let rows: Vec<u32> = hits.iter().map(|h| h.row).collect();
        assert_eq!(rows, [3, 4, 2]);
        assert!((hits[0].score - 0.04).abs() < 1e-5);
    }

    #[test]
    fn ip_larger_first_and_filter() {
        let filter = Bitmap::from_fn(10, |i| i % 2 == 0);
        let opts = SearchOptions::new(2).with_filter(&filter);
        let hits = search_one(&points(), Metric::Ip, &[1.0, 0.0], &opts).unwrap();
        assert_eq!(hits.iter().map(|h| h.row).collect::<Vec<_>>(), [8, 6]);
        assert_eq!(hits[0].score, 8.0);
    }

    #[test]
    fn range_keeps_inside_only() {
        let range = RangeSearch {
            radius: 10.0,
            range_filter: Some(1.0),
        };
        let opts = SearchOptions::new(100).with_range(range);
        let hits = search_one(&points(), Metric::L2, &[0.0, 0.0], &opts).unwrap();
        // d = i^2: 1, 4, 9 are inside [1, 10).
        assert_eq!(hits.iter().map(|h| h.row).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn many_queries_and_errors() {
        let q: Vec<f32> = (0..20).flat_map(|i| [i as f32 / 2.0, 0.0]).collect();
        let all = search(&points(), Metric::L2, &q, &SearchOptions::new(1)).unwrap();
        assert_eq!(all.len(), 20);
        assert_eq!(all[19][0].row, 9);
        assert!(search(&points(), Metric::L2, &[1.0], &SearchOptions::new(1)).is_err());
        assert!(search_one(
            &points(),
            Metric::L2,
            &[1.0, 2.0, 3.0, 4.0],
            &SearchOptions::new(1)
        )
        .is_err());
        assert!(search(&points(), Metric::L2, &q, &SearchOptions::new(0)).unwrap()[0].is_empty());
    }
}

//! What every index's search takes and returns: [`SearchOptions`] (top-k, allow-filter,
//! range) and [`Hit`]s carrying Milvus scores.

use rivus_schema::Bitmap;

use crate::{IndexError, Metric, Result};

/// One result: a row offset into the [`crate::VectorSource`] and its Milvus score (squared
/// L2 distance, inner product or cosine similarity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row offset in the source.
    pub row: u32,
    /// The metric's score for this row.
    pub score: f32,
}

/// Milvus range search: keep only hits whose score lies between `radius` (outer bound,
/// exclusive) and `range_filter` (inner bound, inclusive, optional). For L2
/// `range_filter <= d < radius`; for IP and COSINE `radius < s <= range_filter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeSearch {
    /// Outer bound: how far a hit may be (exclusive).
    pub radius: f32,
    /// Inner bound: how close a hit may be (inclusive); `None` for no inner bound.
    pub range_filter: Option<f32>,
}

impl RangeSearch {
    /// Whether `score` lies inside the range for `metric`.
    #[inline]
    pub fn contains(&self, metric: Metric, score: f32) -> bool {
        if metric.higher_is_better() {
            score > self.radius && self.range_filter.is_none_or(|rf| score <= rf)
        } else {
            score < self.radius && self.range_filter.is_none_or(|rf| score >= rf)
        }
    }

    /// The outer bound as an internal distance (smaller is closer): hits must be below it.
    pub(crate) fn outer_distance(&self, metric: Metric) -> f32 {
        metric.to_distance(self.radius)
    }

    /// Rejects bounds Milvus rejects: NaN, and a `range_filter` on the wrong side of
    /// `radius` (for L2 it must be smaller, for IP/COSINE larger).
    pub fn validate(&self, metric: Metric) -> Result<()> {
        if self.radius.is_nan() {
            return Err(IndexError::invalid(
                "radius",
                self.radius,
                "must be a number",
            ));
        }
        if let Some(rf) = self.range_filter {
            let ok = if metric.higher_is_better() {
                rf > self.radius
            } else {
                rf < self.radius
            };
            if !ok {
                return Err(IndexError::invalid(
                    "range_filter",
                    rf,
                    "must be below radius for L2 and above it for IP/COSINE",
                ));
            }
        }
        Ok(())
    }
}

/// Per-request search options shared by every index.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions<'a> {
    /// How many hits per query at most (Milvus `limit` / `topk`).
    pub k: usize,
    /// Rows that may be returned (filter result minus deletes); `None` allows every row.
    /// Rows past the bitmap's length are not allowed.
    pub filter: Option<&'a Bitmap>,
    /// Range search bounds; `None` for a plain top-k search.
    pub range: Option<RangeSearch>,
}

impl<'a> SearchOptions<'a> {
    /// Top-`k`, every row allowed, no range.
    pub fn new(k: usize) -> Self {
        SearchOptions {
            k,
            filter: None,
            range: None,
        }
    }

    /// Only rows set in `filter` may be returned.
    pub fn with_filter(mut self, filter: &'a Bitmap) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Only hits inside `range` are returned.
    pub fn with_range(mut self, range: RangeSearch) -> Self {
        self.range = Some(range);
        self
    }
}

/// Number of queries in `queries` (`nq * dim` values), or a dimension error when `dim`
/// does not divide it.
pub(crate) fn query_count(queries: &[f32], dim: usize) -> Result<usize> {
    if dim == 0 || !queries.len().is_multiple_of(dim) {
        return Err(IndexError::DimensionMismatch {
            expected: dim,
            got: if dim == 0 {
                queries.len()
            } else {
                queries.len() % dim
            },
        });
    }
    Ok(queries.len() / dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_follow_milvus() {
        let l2 = RangeSearch {
            radius: 2.0,
            range_filter: Some(1.0),
        };
        assert!(l2.contains(Metric::L2, 1.0));
        assert!(!l2.contains(Metric::L2, 2.0));
        assert!(!l2.contains(Metric::L2, 0.5));
        assert!(l2.validate(Metric::L2).is_ok());
        assert!(l2.validate(Metric::Ip).is_err());
        let ip = RangeSearch {
            radius: 0.5,
            range_filter: Some(0.9),
        };
        assert!(ip.contains(Metric::Cosine, 0.9));
        assert!(!ip.contains(Metric::Cosine, 0.5));
        assert!(!ip.contains(Metric::Cosine, 0.95));
        assert!(ip.validate(Metric::Cosine).is_ok());
    }

    #[test]
    fn query_count_checks_dim() {
        assert_eq!(query_count(&[0.0; 6], 3).unwrap(), 2);
        assert!(query_count(&[0.0; 5], 3).is_err());
        assert!(query_count(&[], 0).is_err());
        assert_eq!(query_count(&[], 3).unwrap(), 0);
    }
}

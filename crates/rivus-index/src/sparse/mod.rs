//! Sparse float vectors: exact search and SPARSE_INVERTED_INDEX, with the IP metric.
//!
//! A sparse row is Milvus's bytes: `(u32 index, f32 value)` pairs, little-endian, indexes
//! strictly increasing. The score of a row for a query is the inner product over their
//! shared indexes, summed in increasing index order (so the exact search and the index
//! produce bit-identical scores). As in Milvus, a row that shares no index with the query
//! is never returned (the inverted index never reaches it), even when fewer than `k` rows
//! match.

mod index;

pub use index::{build, FrozenSparse, SparseParams, SparseSearchParams};

use rayon::prelude::*;

use crate::{flat, Hit, IndexError, Metric, Result, SearchOptions, TopK};

/// Sparse rows addressed by row offset `0..len()`, each in Milvus's byte layout.
pub trait SparseSource: Sync {
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes of row `row` (`row < len()`).
    fn row(&self, row: u32) -> &[u8];
}

impl<T: AsRef<[u8]> + Sync> SparseSource for [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    #[inline]
    fn row(&self, row: u32) -> &[u8] {
        self.get(row as usize).map_or(&[], AsRef::as_ref)
    }
}

impl<T: AsRef<[u8]> + Sync> SparseSource for Vec<T> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    #[inline]
    fn row(&self, row: u32) -> &[u8] {
        self.as_slice().row(row)
    }
}

impl<S: SparseSource + ?Sized> SparseSource for &S {
    fn len(&self) -> usize {
        (**self).len()
    }

    #[inline]
    fn row(&self, row: u32) -> &[u8] {
        (**self).row(row)
    }
}

/// A checked sparse row: whole pairs, strictly increasing indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseRow<'a> {
    bytes: &'a [u8],
}

impl<'a> SparseRow<'a> {
    /// Checks Milvus's layout: a multiple of 8 bytes, indexes strictly increasing, and
    /// no NaN value.
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(8) {
            return Err(IndexError::invalid(
                "sparse vector",
                format!("{} bytes", bytes.len()),
                "must be (u32 index, f32 value) pairs",
            ));
        }
        let row = SparseRow { bytes };
        let mut last: Option<u32> = None;
        for (i, v) in row.iter() {
            if last.is_some_and(|l| l >= i) {
                return Err(IndexError::invalid(
                    "sparse vector",
                    format!("index {i}"),
                    "indexes must be strictly increasing",
                ));
            }
            if v.is_nan() {
                return Err(IndexError::invalid(
                    "sparse vector",
                    format!("index {i}"),
                    "values must be numbers",
                ));
            }
            last = Some(i);
        }
        Ok(row)
    }

    /// Number of non-zero entries.
    pub fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    /// Whether the row has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() < 8
    }

    /// The `(index, value)` pairs, index ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + 'a {
        pairs(self.bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The `(index, value)` pairs of raw row bytes (a trailing partial pair is ignored).
#[inline]
pub(crate) fn pairs(bytes: &[u8]) -> impl Iterator<Item = (u32, f32)> + '_ {
    bytes.chunks_exact(8).map(|c| {
        (
            u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        )
    })
}

/// Milvus's bytes for `(index, value)` pairs (sorted by index here; a repeated index keeps
/// its last value).
pub fn encode_row(pairs: &[(u32, f32)]) -> Vec<u8> {
    let mut sorted: Vec<(u32, f32)> = pairs.to_vec();
    sorted.sort_by_key(|p| p.0);
    let mut out: Vec<u8> = Vec::with_capacity(8 * sorted.len());
    let mut last: Option<u32> = None;
    for (i, v) in sorted {
        if last == Some(i) {
            out.truncate(out.len() - 8);
        }
        out.extend_from_slice(&i.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
        last = Some(i);
    }
    out
}

/// Inner product of two sparse rows over their shared indexes (summed in index order),
/// and whether they share any index.
pub fn ip(a: &[u8], b: &[u8]) -> (f32, bool) {
    let (mut a, mut b) = (pairs(a).peekable(), pairs(b).peekable());
    let mut acc = 0.0f32;
    let mut shared = false;
    while let (Some(&(ia, va)), Some(&(ib, vb))) = (a.peek(), b.peek()) {
        match ia.cmp(&ib) {
            std::cmp::Ordering::Less => {
                a.next();
            }
            std::cmp::Ordering::Greater => {
                b.next();
            }
            std::cmp::Ordering::Equal => {
                acc += va * vb;
                shared = true;
                a.next();
                b.next();
            }
        }
    }
    (acc, shared)
}

/// Exact search: for each query, the `opts.k` rows of largest inner product among the
/// allowed rows sharing an index with it, best first, ties by row; honours `opts.range`
/// (IP bounds).
///
/// Errors: [`IndexError::InvalidParameter`] for a query not in Milvus's layout or a bad
/// range.
pub fn flat_search<S: SparseSource + ?Sized>(
    source: &S,
    queries: &[&[u8]],
    opts: &SearchOptions<'_>,
) -> Result<Vec<Vec<Hit>>> {
    if let Some(range) = &opts.range {
        range.validate(Metric::Ip)?;
    }
    for q in queries {
        SparseRow::new(q)?;
    }
    let rows = source.len().min(u32::MAX as usize);
    Ok(queries
        .par_iter()
        .map(|q| {
            let mut top = TopK::new(opts.k);
            let mut visit = |row: usize| {
                let (s, shared) = ip(q, source.row(row as u32));
                if shared && opts.range.is_none_or(|r| r.contains(Metric::Ip, s)) {
                    top.push(Metric::Ip.to_distance(s), row as u32);
                }
            };
            if opts.k > 0 {
                match opts.filter {
                    Some(f) => f.iter_ones().take_while(|&r| r < rows).for_each(visit),
                    None => (0..rows).for_each(&mut visit),
                }
            }
            flat::into_hits(Metric::Ip, top)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_multiply() {
        let a = encode_row(&[(7, 2.0), (1, 1.0), (3, -1.0)]);
        let row = SparseRow::new(&a).unwrap();
        assert_eq!(
            row.iter().collect::<Vec<_>>(),
            [(1, 1.0), (3, -1.0), (7, 2.0)]
        );
        let b = encode_row(&[(3, 4.0), (7, 0.5), (9, 9.0)]);
        assert_eq!(ip(&a, &b), (-3.0, true));
        assert_eq!(ip(&a, &encode_row(&[(2, 1.0)])), (0.0, false));
        assert!(SparseRow::new(&a[..7]).is_err());
        let mut unsorted = b[8..16].to_vec();
        unsorted.extend_from_slice(&b[..8]);
        assert!(SparseRow::new(&unsorted).is_err());
        assert!(SparseRow::new(&encode_row(&[(1, f32::NAN)])).is_err());
        assert_eq!(encode_row(&[(1, 1.0), (1, 2.0)]), encode_row(&[(1, 2.0)]));
    }

    #[test]
    fn flat_skips_disjoint_rows() {
        let rows = vec![
            encode_row(&[(1, 1.0)]),
            encode_row(&[(2, 1.0)]),
            encode_row(&[(1, 3.0), (2, 1.0)]),
        ];
        let q = encode_row(&[(1, 1.0)]);
        let hits = flat_search(&rows, &[&q], &SearchOptions::new(10)).unwrap();
        assert_eq!(
            hits[0].iter().map(|h| (h.row, h.score)).collect::<Vec<_>>(),
            [(2, 3.0), (0, 1.0)]
        );
    }
}

//! Binary vectors: exact search (BIN_FLAT) and BIN_IVF_FLAT, with HAMMING and JACCARD.
//!
//! A binary vector of `dim` dimensions (a multiple of 8, as Milvus requires) is `dim / 8`
//! bytes, one bit per dimension, as Milvus sends them. Both metrics are distances (smaller
//! is closer) and [`crate::Hit::score`] carries them as is: HAMMING counts differing bits,
//! JACCARD is `1 - |a & b| / |a | b|` (0 for two empty vectors). Range bounds follow L2's
//! convention (`range_filter <= d < radius`).

mod ivf;

pub use ivf::{build, BinIvfParams, FrozenBinIvf};

use rayon::prelude::*;

use crate::distance::{self, Kernel};
use crate::{flat, Hit, IndexError, Metric, Result, SearchOptions, TopK};

/// A binary metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryMetric {
    /// Number of differing bits.
    Hamming,
    /// `1 - |a & b| / |a | b|`.
    Jaccard,
}

impl BinaryMetric {
    /// Parses Milvus's name (`HAMMING`, `JACCARD`, any case).
    pub fn from_name(name: &str) -> Option<BinaryMetric> {
        if name.eq_ignore_ascii_case("HAMMING") {
            Some(BinaryMetric::Hamming)
        } else if name.eq_ignore_ascii_case("JACCARD") {
            Some(BinaryMetric::Jaccard)
        } else {
            None
        }
    }

    /// Milvus's name for the metric.
    pub fn name(self) -> &'static str {
        match self {
            BinaryMetric::Hamming => "HAMMING",
            BinaryMetric::Jaccard => "JACCARD",
        }
    }

    /// This machine's kernel for the metric.
    pub fn kernel(self) -> Kernel<u8> {
        let k = distance::kernels();
        match self {
            BinaryMetric::Hamming => k.hamming,
            BinaryMetric::Jaccard => k.jaccard,
        }
    }

    /// The distance of `a` and `b`.
    pub fn score(self, a: &[u8], b: &[u8]) -> f32 {
        (self.kernel())(a, b)
    }

    pub(crate) fn code(self) -> u64 {
        match self {
            BinaryMetric::Hamming => 0,
            BinaryMetric::Jaccard => 1,
        }
    }

    pub(crate) fn from_code(code: u64) -> Option<BinaryMetric> {
        match code {
            0 => Some(BinaryMetric::Hamming),
            1 => Some(BinaryMetric::Jaccard),
            _ => None,
        }
    }
}

/// Binary vectors addressed by row offset `0..len()`, `dim() / 8` bytes each. The same
/// contract as [`crate::VectorSource`]: every row in `0..len()` has exactly `dim() / 8`
/// bytes.
pub trait BinarySource: Sync {
    /// Dimensions (bits) per vector, a multiple of 8.
    fn dim(&self) -> usize;
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The vector at `row` (`row < len()`).
    fn vector(&self, row: u32) -> &[u8];
}

/// Row-major binary vectors in one buffer (`len = data.len() / (dim / 8)`).
#[derive(Debug, Clone)]
pub struct BinaryVectors<T> {
    data: T,
    dim: usize,
    len: usize,
}

impl<T: AsRef<[u8]>> BinaryVectors<T> {
    /// Wraps `data` (`rows * dim / 8` bytes). Fails when `dim` is zero or not a multiple
    /// of 8, or when `dim / 8` does not divide the buffer's length.
    pub fn new(data: T, dim: usize) -> Result<Self> {
        if dim == 0 || !dim.is_multiple_of(8) {
            return Err(IndexError::invalid(
                "dim",
                dim,
                "must be a positive multiple of 8",
            ));
        }
        let bytes = dim / 8;
        let len = data.as_ref().len();
        if !len.is_multiple_of(bytes) {
            return Err(IndexError::DimensionMismatch {
                expected: dim,
                got: (len % bytes) * 8,
            });
        }
        Ok(BinaryVectors {
            len: len / bytes,
            data,
            dim,
        })
    }

    /// The underlying buffer.
    pub fn data(&self) -> &[u8] {
        self.data.as_ref()
    }
}

impl<T: AsRef<[u8]> + Sync> BinarySource for BinaryVectors<T> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn vector(&self, row: u32) -> &[u8] {
        let b = self.dim / 8;
        let start = row as usize * b;
        self.data.as_ref().get(start..start + b).unwrap_or(&[])
    }
}

impl<S: BinarySource + ?Sized> BinarySource for &S {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn len(&self) -> usize {
        (**self).len()
    }

    #[inline]
    fn vector(&self, row: u32) -> &[u8] {
        (**self).vector(row)
    }
}

/// Range bounds and hit order of the binary metrics: L2's (smaller is closer).
pub(crate) const ORDER: Metric = Metric::L2;

/// Queries in `queries` (`nq * dim / 8` bytes).
fn binary_query_count(queries: &[u8], dim: usize) -> Result<usize> {
    let bytes = dim / 8;
    if bytes == 0 || !queries.len().is_multiple_of(bytes) {
        return Err(IndexError::DimensionMismatch {
            expected: dim,
            got: if bytes == 0 {
                queries.len() * 8
            } else {
                (queries.len() % bytes) * 8
            },
        });
    }
    Ok(queries.len() / bytes)
}

/// BIN_FLAT: exact top-k for each of the `nq = queries.len() / (dim / 8)` queries,
/// honouring `opts.filter` and `opts.range`. Each query's hits are best first (smallest
/// distance), ties by row; a query gets `min(k, allowed rows in range)` hits.
///
/// Errors: [`IndexError::DimensionMismatch`] when the query bytes are not a multiple of
/// the row size; [`IndexError::InvalidParameter`] for a bad range.
pub fn flat_search<S: BinarySource + ?Sized>(
    source: &S,
    metric: BinaryMetric,
    queries: &[u8],
    opts: &SearchOptions<'_>,
) -> Result<Vec<Vec<Hit>>> {
    let nq = binary_query_count(queries, source.dim())?;
    if let Some(range) = &opts.range {
        range.validate(ORDER)?;
    }
    if nq == 0 {
        return Ok(Vec::new());
    }
    Ok(queries
        .par_chunks(source.dim() / 8)
        .map(|q| search_rows(source, metric, q, opts, source.len()))
        .collect())
}

/// [`flat_search`] for one query of `dim / 8` bytes.
pub fn flat_search_one<S: BinarySource + ?Sized>(
    source: &S,
    metric: BinaryMetric,
    query: &[u8],
    opts: &SearchOptions<'_>,
) -> Result<Vec<Hit>> {
    if query.len() * 8 != source.dim() {
        return Err(IndexError::DimensionMismatch {
            expected: source.dim(),
            got: query.len() * 8,
        });
    }
    Ok(flat_search(source, metric, query, opts)?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Exact search of one query over the allowed rows among the first `rows`.
pub(crate) fn search_rows<S: BinarySource + ?Sized>(
    source: &S,
    metric: BinaryMetric,
    query: &[u8],
    opts: &SearchOptions<'_>,
    rows: usize,
) -> Vec<Hit> {
    let kernel = metric.kernel();
    let mut top = TopK::new(opts.k);
    let n = rows.min(source.len()).min(u32::MAX as usize);
    let mut visit = |row: usize| {
        let d = kernel(query, source.vector(row as u32));
        if opts.range.is_none_or(|r| r.contains(ORDER, d)) {
            top.push(d, row as u32);
        }
    };
    if opts.k > 0 {
        match opts.filter {
            Some(filter) => filter.iter_ones().take_while(|&r| r < n).for_each(visit),
            None => (0..n).for_each(&mut visit),
        }
    }
    flat::into_hits(ORDER, top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivus_schema::Bitmap;

    #[test]
    fn vectors_and_metrics() {
        let v = BinaryVectors::new(vec![0b1111_0000u8, 0, 0b1111_1111, 0xff, 0, 0], 16).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.vector(1), &[0xff, 0xff]);
        assert!(BinaryVectors::new(vec![0u8; 3], 16).is_err());
        assert!(BinaryVectors::new(vec![0u8; 4], 12).is_err());
        for m in [BinaryMetric::Hamming, BinaryMetric::Jaccard] {
            assert_eq!(BinaryMetric::from_name(&m.name().to_lowercase()), Some(m));
            assert_eq!(BinaryMetric::from_code(m.code()), Some(m));
        }
        let hits = flat_search_one(
            &v,
            BinaryMetric::Hamming,
            &[0xff, 0],
            &SearchOptions::new(3),
        )
        .unwrap();
        let got: Vec<(u32, f32)> = hits.iter().map(|h| (h.row, h.score)).collect();
        assert_eq!(got, [(0, 4.0), (1, 8.0), (2, 8.0)]);
        let filter = Bitmap::from_fn(3, |r| r != 0);
        let hits = flat_search_one(
            &v,
            BinaryMetric::Hamming,
            &[0xff, 0],
            &SearchOptions::new(3).with_filter(&filter),
        )
        .unwrap();
        assert_eq!(hits.iter().map(|h| h.row).collect::<Vec<_>>(), [1, 2]);
        assert!(flat_search(&v, BinaryMetric::Hamming, &[0; 3], &SearchOptions::new(1)).is_err());
    }
}

//! SPARSE_INVERTED_INDEX: one posting list of `(row, value)` per index (dimension), and
//! term-at-a-time search: each query term walks its posting list adding `q_i * v_i` into a
//! per-row accumulator, then a top-k heap takes the best touched rows. With
//! `drop_ratio_build = 0` and `drop_ratio_search = 0` this is exact, with scores
//! bit-identical to [`super::flat_search`] (both sum in increasing index order).
//!
//! `drop_ratio_build` drops, at build time, the entries whose |value| is below the
//! `drop_ratio_build` quantile of all |values| (one threshold for the whole index);
//! `drop_ratio_search` drops the query's smallest-|value| `floor(ratio * nnz)` terms.
//!
//! Layout ([`crate::ivf::blob`] container, magic `RVSSPRS\0`, version 1), read in place:
//!
//! ```text
//! fields (u64): 0 rows (n)   1 dimensions with postings (D)   2 entries (E)
//!               3 drop_ratio_build (f32 bits)   4 metric (1 = IP)   5 reserved (0)
//! sections:     0 dims     D u32, ascending
//!               1 offsets  (D + 1) u64: dims[i]'s postings are entries offsets[i]..offsets[i+1]
//!               2 rows     E u32, ascending within a posting list
//!               3 values   E f32
//! ```

use std::io::Write;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::{pairs, SparseRow, SparseSource};
use crate::ivf::blob;
use crate::ivf::probe::count_allowed;
use crate::{flat, Hit, IndexError, Metric, Result, SearchOptions, TopK};

const MAGIC: [u8; 8] = *b"RVSSPRS\0";
const VERSION: u32 = 1;
const FIELDS: usize = 6;
const SECTIONS: usize = 4;

/// SPARSE_INVERTED_INDEX build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SparseParams {
    /// Fraction of the smallest (by |value|) entries dropped at build time, in [0, 1);
    /// 0 keeps everything (exact).
    pub drop_ratio_build: f32,
}

impl SparseParams {
    /// Rejects a ratio outside [0, 1).
    pub fn validate(&self) -> Result<()> {
        check_ratio("drop_ratio_build", self.drop_ratio_build)
    }
}

/// SPARSE_INVERTED_INDEX search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SparseSearchParams {
    /// Fraction of the query's smallest (by |value|) terms ignored, in [0, 1); 0 uses
    /// every term (exact).
    pub drop_ratio_search: f32,
}

impl SparseSearchParams {
    /// Rejects a ratio outside [0, 1).
    pub fn validate(&self) -> Result<()> {
        check_ratio("drop_ratio_search", self.drop_ratio_search)
    }
}

fn check_ratio(name: &'static str, ratio: f32) -> Result<()> {
    if (0.0..1.0).contains(&ratio) {
        Ok(())
    } else {
        Err(IndexError::invalid(
            name,
            ratio,
            "must be in [0.000000, 1.000000)",
        ))
    }
}

/// Builds the index over every row of `source` (rows must be in Milvus's layout).
///
/// Errors: [`IndexError::InvalidParameter`] for a bad ratio or a malformed row,
/// [`IndexError::TooLarge`] past `u32::MAX - 1` rows.
pub fn build<S: SparseSource + ?Sized>(
    source: &S,
    params: &SparseParams,
) -> Result<FrozenSparse<Vec<u8>>> {
    params.validate()?;
    let rows = source.len();
    if rows >= u32::MAX as usize {
        return Err(IndexError::TooLarge {
            what: "rows",
            count: rows,
        });
    }
    (0..rows as u32)
        .into_par_iter()
        .try_for_each(|r| SparseRow::new(source.row(r)).map(|_| ()))?;
    let threshold = if params.drop_ratio_build > 0.0 {
        let mut values: Vec<f32> = (0..rows as u32)
            .into_par_iter()
            .flat_map_iter(|r| pairs(source.row(r)).map(|(_, v)| v.abs()))
            .collect();
        let cut = (f64::from(params.drop_ratio_build) * values.len() as f64) as usize;
        if cut == 0 || values.is_empty() {
            0.0
        } else {
            let cut = cut.min(values.len() - 1);
            *values.select_nth_unstable_by(cut, f32::total_cmp).1
        }
    } else {
        0.0
    };
    let keep = |v: f32| threshold == 0.0 || v.abs() >= threshold;
    let mut dims: Vec<u32> = (0..rows as u32)
        .into_par_iter()
        .flat_map_iter(|r| pairs(source.row(r)).filter(|p| keep(p.1)).map(|(i, _)| i))
        .collect();
    dims.par_sort_unstable();
    dims.dedup();
    let slot = |i: u32| dims.binary_search(&i).unwrap_or(0);
    let mut offsets = vec![0u64; dims.len() + 1];
    for r in 0..rows as u32 {
        for (i, v) in pairs(source.row(r)) {
            if keep(v) {
                offsets[slot(i) + 1] += 1;
            }
        }
    }
    for i in 0..dims.len() {
        offsets[i + 1] += offsets[i];
    }
    let entries = offsets.last().copied().unwrap_or(0) as usize;
    let mut cursor: Vec<u64> = offsets[..dims.len()].to_vec();
    let (mut post_rows, mut post_values) = (vec![0u32; entries], vec![0f32; entries]);
    for r in 0..rows as u32 {
        for (i, v) in pairs(source.row(r)) {
            if keep(v) {
                let c = &mut cursor[slot(i)];
                post_rows[*c as usize] = r;
                post_values[*c as usize] = v;
                *c += 1;
            }
        }
    }
    let fields = [
        rows as u64,
        dims.len() as u64,
        entries as u64,
        u64::from(params.drop_ratio_build.to_bits()),
        u64::from(Metric::Ip.code()),
        0,
    ];
    let out = blob::encode(
        &MAGIC,
        VERSION,
        &fields,
        &[
            &blob::u32_bytes(&dims),
            &blob::u64_bytes(&offsets),
            &blob::u32_bytes(&post_rows),
            &blob::f32_bytes(&post_values),
        ],
    );
    FrozenSparse::load(out)
}

/// Per-search accumulators, pooled.
#[derive(Debug, Default)]
struct Scratch {
    scores: Vec<f32>,
    /// One bit per row: touched by the current query.
    marks: Vec<u64>,
    touched: Vec<u32>,
}

/// A searchable SPARSE_INVERTED_INDEX over the bytes `B`, read in place.
#[derive(Debug)]
pub struct FrozenSparse<B> {
    bytes: B,
    rows: usize,
    dims: Range<usize>,
    dim_count: usize,
    offsets: Range<usize>,
    entries: usize,
    post_rows: Range<usize>,
    post_values: Range<usize>,
    drop_ratio_build: f32,
    pool: Mutex<Vec<Scratch>>,
}

impl<B: AsRef<[u8]>> FrozenSparse<B> {
    /// Opens a serialized index (as written by [`FrozenSparse::write_to`]). O(1): checks
    /// the header and section sizes; postings are read as queries reach them (an entry
    /// that points past `rows` or offsets out of order are skipped, never trusted).
    ///
    /// Errors: [`IndexError::Corrupt`] for bytes that are not a sparse index or are cut
    /// short, [`IndexError::UnsupportedVersion`] for another format version.
    pub fn load(bytes: B) -> Result<Self> {
        let b = bytes.as_ref();
        let blob = blob::decode(b, &MAGIC, VERSION, FIELDS, SECTIONS, "sparse")?;
        let rows = blob.count(0, u64::from(u32::MAX - 1), "rows")?;
        let dim_count = blob.count(1, u64::from(u32::MAX), "dims")?;
        let entries = blob.count(2, u64::MAX / 8, "entries")?;
        let drop_ratio_build = f32::from_bits(blob.field(3) as u32);
        if blob.field(4) != u64::from(Metric::Ip.code()) {
            return Err(IndexError::corrupt("sparse index metric is not IP"));
        }
        let dims = blob.section(0, Some(dim_count * 4), "dims")?;
        let offsets = blob.section(1, Some((dim_count + 1) * 8), "offsets")?;
        let post_rows = blob.section(2, Some(entries * 4), "posting rows")?;
        let post_values = blob.section(3, Some(entries * 4), "posting values")?;
        if blob::u64_at(b, offsets.start) != Some(0)
            || blob::u64_at(b, offsets.end - 8) != Some(entries as u64)
        {
            return Err(IndexError::corrupt(
                "sparse offsets do not cover the entries",
            ));
        }
        Ok(FrozenSparse {
            bytes,
            rows,
            dims,
            dim_count,
            offsets,
            entries,
            post_rows,
            post_values,
            drop_ratio_build,
            pool: Mutex::new(Vec::new()),
        })
    }

    /// The serialized index.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The bytes back.
    pub fn into_inner(self) -> B {
        self.bytes
    }

    /// Writes the serialized index (what [`FrozenSparse::load`] reads).
    pub fn write_to<W: Write>(&self, mut writer: W) -> Result<()> {
        writer.write_all(self.as_bytes())?;
        Ok(())
    }

    /// Rows covered: source rows `0..len()`.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the index covers no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Distinct indexes (dimensions) with a posting list.
    pub fn dim_count(&self) -> usize {
        self.dim_count
    }

    /// Entries stored (non-zeros kept).
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// `drop_ratio_build` the index was built with.
    pub fn drop_ratio_build(&self) -> f32 {
        self.drop_ratio_build
    }

    /// The `opts.k` rows of largest inner product with `query` (Milvus's sparse bytes),
    /// best first, ties by row, among the allowed rows sharing an index with the query.
    /// Honours `opts.filter` and `opts.range` (IP bounds). Needs no source: values live
    /// in the postings.
    ///
    /// Errors: [`IndexError::InvalidParameter`] for a malformed query, a bad ratio or range.
    pub fn search(
        &self,
        query: &[u8],
        opts: &SearchOptions<'_>,
        params: &SparseSearchParams,
    ) -> Result<Vec<Hit>> {
        params.validate()?;
        if let Some(range) = &opts.range {
            range.validate(Metric::Ip)?;
        }
        let query = SparseRow::new(query)?;
        Ok(self.search_checked(query, opts, params))
    }

    /// [`FrozenSparse::search`] for several queries, in parallel on the current rayon pool.
    pub fn search_batch(
        &self,
        queries: &[&[u8]],
        opts: &SearchOptions<'_>,
        params: &SparseSearchParams,
    ) -> Result<Vec<Vec<Hit>>>
    where
        B: Sync,
    {
        params.validate()?;
        if let Some(range) = &opts.range {
            range.validate(Metric::Ip)?;
        }
        let queries = queries
            .iter()
            .map(|q| SparseRow::new(q))
            .collect::<Result<Vec<_>>>()?;
        Ok(queries
            .par_iter()
            .map(|&q| self.search_checked(q, opts, params))
            .collect())
    }

    /// Posting entries of index `i` (empty when it has none).
    fn postings(&self, i: u32) -> Range<usize> {
        let b = self.as_bytes();
        let (mut lo, mut hi) = (0usize, self.dim_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let Some(d) = blob::u32_at(b, self.dims.start + 4 * mid) else {
                return 0..0;
            };
            match d.cmp(&i) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let at = self.offsets.start + 8 * mid;
                    return match (blob::u64_at(b, at), blob::u64_at(b, at + 8)) {
                        (Some(s), Some(e)) if s <= e && e <= self.entries as u64 => {
                            s as usize..e as usize
                        }
                        _ => 0..0,
                    };
                }
            }
        }
        0..0
    }

    fn search_checked(
        &self,
        query: SparseRow<'_>,
        opts: &SearchOptions<'_>,
        params: &SparseSearchParams,
    ) -> Vec<Hit> {
        let rows = self.rows;
        if opts.k == 0 || rows == 0 || query.is_empty() {
            return Vec::new();
        }
        if count_allowed(opts.filter, rows) == 0 {
            return Vec::new();
        }
        let mut terms: Vec<(u32, f32)> = query.iter().collect();
        let drop = (f64::from(params.drop_ratio_search) * terms.len() as f64) as usize;
        if drop > 0 {
            terms.sort_by(|a, b| a.1.abs().total_cmp(&b.1.abs()).then(a.0.cmp(&b.0)));
            terms.drain(..drop.min(terms.len()));
            terms.sort_by_key(|t| t.0);
        }
        let mut scratch = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        if scratch.scores.len() != rows {
            scratch.scores = vec![0.0; rows];
            scratch.marks = vec![0; rows.div_ceil(64)];
            scratch.touched.clear();
        }
        let Scratch {
            scores,
            marks,
            touched,
        } = &mut scratch;
        let b = self.as_bytes();
        for (i, q) in terms {
            let e = self.postings(i);
            let (Some(ids), Some(values)) = (
                b.get(self.post_rows.start + 4 * e.start..self.post_rows.start + 4 * e.end),
                b.get(self.post_values.start + 4 * e.start..self.post_values.start + 4 * e.end),
            ) else {
                continue;
            };
            for (row, v) in blob::u32s(ids).zip(blob::u32s(values).map(f32::from_bits)) {
                let r = row as usize;
                if r >= rows || opts.filter.is_some_and(|f| !f.get(r)) {
                    continue;
                }
                let (word, bit) = (r / 64, 1u64 << (r % 64));
                if marks[word] & bit == 0 {
                    marks[word] |= bit;
                    touched.push(row);
                    scores[r] = 0.0;
                }
                scores[r] += q * v;
            }
        }
        let mut top = TopK::new(opts.k);
        for &row in touched.iter() {
            let r = row as usize;
            let s = scores[r];
            marks[r / 64] = 0;
            if opts.range.is_none_or(|rg| rg.contains(Metric::Ip, s)) {
                top.push(Metric::Ip.to_distance(s), row);
            }
        }
        touched.clear();
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(scratch);
        flat::into_hits(Metric::Ip, top)
    }
}

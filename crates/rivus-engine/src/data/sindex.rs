//! Scalar indexes (INVERTED, STL_SORT, BITMAP, Trie, and AUTOINDEX on a scalar field) over
//! sealed chunks, and filtering with them.
//!
//! One structure serves every scalar index type: the chunk's distinct non-null values
//! (*keys*) sorted, each with the rows holding it (its *postings*, ascending), and the null
//! rows. A term (INVERTED, BITMAP) is a binary search; a range (STL_SORT) is two, giving a run
//! of keys whose postings are one contiguous slice; a prefix (Trie, `like "abc%"`) is a range
//! too, since keys with one prefix are contiguous in byte order. Keys holding at least 1/32 of
//! the rows also keep their rows as a bitmap (what a BITMAP index is), so low-cardinality
//! fields answer with word-wide ORs. On an ARRAY field the keys are the elements and a row is
//! in the postings of every distinct element it holds: `array_contains*` is answered.
//!
//! [`filter_chunk`] answers a filter from a chunk's indexes when every leaf can be, computing
//! Milvus's value/valid bits per row exactly as `rivus_expr::evaluate` does (so `not` over
//! nulls gives the same rows); otherwise it evaluates the filter, asking the indexes for the
//! leaves they cover (`rivus_expr::evaluate_with`). A leaf whose rows would cost more to set
//! one by one than a scan of the column (a wide range of a numeric field) is left to the scan.
//! Either way the rows are the scan's.
//!
//! Indexes are built in the background after a checkpoint (or a `create_index`) and saved as
//! block files next to the segment; those files are caches (see `docs/scalar-indexes.md`).

// Column types and key kinds are matched explicitly where it matters.
#![allow(clippy::wildcard_enum_match_arm)]

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use rayon::slice::ParallelSliceMut;
use rivus_expr::plan::{CmpOp, ContainsMode, Literal, Operand, Predicate};
use rivus_schema::{Bitmap, ColumnData, ColumnSource, DataType, StringColumn};
use rivus_storage::codec::{Reader, Writer};
use rivus_storage::{BlockFile, BlockFileWriter, Vfs};

use super::store::Chunk;
use super::vindex::IndexSpec;
use crate::Result;

#[cfg(test)]
mod tests;

/// How keys compare with literals (the evaluator's rules per column type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// BOOL: keys 0 and 1; only BOOL literals.
    Bool,
    /// INT8..INT64: exact against integer literals, as f64 against float ones.
    Int,
    /// FLOAT (widened to f64): `!=` is false for NaN, as every other operator.
    Float,
    /// DOUBLE: `!=` is true for NaN (the evaluator's plain `a != x`).
    Double,
    Str,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Bool => 1,
            Kind::Int => 2,
            Kind::Float => 3,
            Kind::Double => 4,
            Kind::Str => 5,
        }
    }

    fn from_code(c: u8) -> Option<Kind> {
        Some(match c {
            1 => Kind::Bool,
            2 => Kind::Int,
            3 => Kind::Float,
            4 => Kind::Double,
            5 => Kind::Str,
            _ => return None,
        })
    }

    /// The kind of a scalar field type (`None` for types without a scalar index).
    fn of_type(t: DataType) -> Option<Kind> {
        Some(match t {
            DataType::Bool => Kind::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Int,
            DataType::Float => Kind::Float,
            DataType::Double => Kind::Double,
            DataType::VarChar => Kind::Str,
            _ => return None,
        })
    }
}

/// The sorted distinct keys.
#[derive(Debug)]
enum Keys {
    /// BOOL (0/1) and integer keys.
    Int(Vec<i64>),
    /// FLOAT and DOUBLE keys, in `f64::total_cmp` order (NaNs at the ends).
    Float(Vec<f64>),
    /// VARCHAR keys, in byte order.
    Str(StringColumn),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Keys::Int(v) => v.len(),
            Keys::Float(v) => v.len(),
            Keys::Str(v) => v.len(),
        }
    }
}

/// Whether a field type has a scalar index rivus builds (ARRAY: of its elements).
pub fn buildable(data_type: DataType) -> bool {
    data_type == DataType::Array || Kind::of_type(data_type).is_some()
}

/// Keys holding at least 1/`DENSE_SHARE` of a chunk's rows keep them as a bitmap too.
const DENSE_SHARE: usize = 32;
/// Chunks smaller than this keep no bitmaps (postings are as fast there).
const DENSE_MIN_ROWS: usize = 2048;

/// One built scalar index of one sealed chunk.
#[derive(Debug)]
pub struct ScalarChunkIndex {
    pub index_id: i64,
    pub field: String,
    rows: usize,
    kind: Kind,
    /// An ARRAY field's element index: a row is in the postings of each element it holds.
    elements: bool,
    keys: Keys,
    /// Key `k`'s rows are `postings[offsets[k]..offsets[k + 1]]`.
    offsets: Vec<u32>,
    postings: Vec<u32>,
    nulls: Bitmap,
    /// The rows that are not null.
    valid: Bitmap,
    /// `keys[ordered.0..ordered.1]` are not NaN (every key but FLOAT/DOUBLE NaNs).
    ordered: (usize, usize),
    /// Keys holding many rows, with those rows as a bitmap; ascending by key.
    dense: Vec<(usize, Bitmap)>,
}

/// Key-index ranges `[lo, hi)`, ascending and disjoint.
type Sel = Vec<(usize, usize)>;

/// A literal as the keys of a kind compare with it.
#[derive(Debug, Clone, Copy)]
enum Probe<'a> {
    Int(i64),
    /// An integer column against a float literal: `(key as f64)` is compared.
    IntAsFloat(f64),
    Float(f64),
    Str(&'a str),
}

/// The first `i` in `0..n` where `pred(i)` is false (`pred` true then false).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `sel` sorted, with empty ranges dropped and touching ones merged.
fn normalized(mut sel: Sel) -> Sel {
    sel.retain(|(lo, hi)| lo < hi);
    sel.sort_unstable();
    let mut out: Sel = Vec::with_capacity(sel.len());
    for (lo, hi) in sel {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// The key ranges of `0..n` not in `sel` (normalized).
fn complement(sel: &[(usize, usize)], n: usize) -> Sel {
    let mut out = Vec::with_capacity(sel.len() + 1);
    let mut at = 0;
    for &(lo, hi) in sel {
        if lo > at {
            out.push((at, lo));
        }
        at = at.max(hi);
    }
    if at < n {
        out.push((at, n));
    }
    out
}

/// Ranges in both `a` and `b` (both normalized).
fn intersect(a: &[(usize, usize)], b: &[(usize, usize)]) -> Sel {
    let mut out = Vec::new();
    for &(alo, ahi) in a {
        for &(blo, bhi) in b {
            let (lo, hi) = (alo.max(blo), ahi.min(bhi));
            if lo < hi {
                out.push((lo, hi));
            }
        }
    }
    normalized(out)
}

/// The integers of an integer column's `in` list, as the evaluator takes them (integers, and
/// floats with no fraction; other floats match nothing); `None` for any other literal.
fn int_set(values: &[Literal]) -> Option<Vec<i64>> {
    let mut set = Vec::with_capacity(values.len());
    for lit in values {
        match lit {
            Literal::Int(x) => set.push(*x),
            Literal::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => set.push(*f as i64),
            Literal::Float(_) => {}
            Literal::Bool(_) | Literal::Str(_) | Literal::List(_) => return None,
        }
    }
    set.sort_unstable();
    set.dedup();
    Some(set)
}

/// The literal text a LIKE pattern starts with (up to its first wildcard or escape).
fn like_prefix(pattern: &str) -> &str {
    let end = pattern.find(['%', '_', '\\']).unwrap_or(pattern.len());
    pattern.get(..end).unwrap_or_default()
}

/// Sorts `(key, row)` pairs, drops repeats, and groups them: (keys, offsets, postings).
fn group<K: Copy + Send>(
    mut entries: Vec<(K, u32)>,
    cmp: impl Fn(&K, &K) -> Ordering + Sync,
) -> (Vec<K>, Vec<u32>, Vec<u32>) {
    entries.par_sort_unstable_by(|a, b| cmp(&a.0, &b.0).then(a.1.cmp(&b.1)));
    entries.dedup_by(|a, b| a.1 == b.1 && cmp(&a.0, &b.0) == Ordering::Equal);
    let mut keys: Vec<K> = Vec::new();
    let mut offsets = vec![0u32];
    let mut postings = Vec::with_capacity(entries.len());
    for (k, row) in entries {
        if keys
            .last()
            .is_none_or(|last| cmp(last, &k) != Ordering::Equal)
        {
            if !keys.is_empty() {
                offsets.push(postings.len() as u32);
            }
            keys.push(k);
        }
        postings.push(row);
    }
    if !keys.is_empty() {
        offsets.push(postings.len() as u32);
    }
    (keys, offsets, postings)
}

/// Words of a bitmap with the given rows set.
fn set_rows(words: &mut [u64], rows: &[u32]) {
    for &r in rows {
        if let Some(w) = words.get_mut(r as usize / 64) {
            *w |= 1 << (r % 64);
        }
    }
}

/// What a build or a file gives: the stored part of an index.
struct Parts {
    kind: Kind,
    elements: bool,
    keys: Keys,
    offsets: Vec<u32>,
    postings: Vec<u32>,
    nulls: Bitmap,
}

impl ScalarChunkIndex {
    fn assemble(spec: &IndexSpec, rows: usize, parts: Parts) -> ScalarChunkIndex {
        let Parts {
            kind,
            elements,
            keys,
            offsets,
            postings,
            nulls,
        } = parts;
        let ordered = match &keys {
            Keys::Float(v) => {
                let a = v.iter().position(|k| !k.is_nan()).unwrap_or(v.len());
                let b = v.iter().rposition(|k| !k.is_nan()).map_or(a, |b| b + 1);
                (a, b.max(a))
            }
            Keys::Int(_) | Keys::Str(_) => (0, keys.len()),
        };
        let mut valid = nulls.clone();
        valid.not();
        let mut index = ScalarChunkIndex {
            index_id: spec.index_id,
            field: spec.field.clone(),
            rows,
            kind,
            elements,
            keys,
            offsets,
            postings,
            nulls,
            valid,
            ordered,
            dense: Vec::new(),
        };
        if rows >= DENSE_MIN_ROWS {
            for k in 0..index.keys.len() {
                let p = index.posting(k);
                if p.len() * DENSE_SHARE >= rows {
                    let mut words = vec![0u64; rows.div_ceil(64)];
                    set_rows(&mut words, p);
                    index.dense.push((k, Bitmap::from_words(words, rows)));
                }
            }
        }
        index
    }

    /// Builds the index of `spec` over `chunk`; `None` when the field's column is of a type
    /// without a scalar index.
    pub fn build(chunk: &Chunk, spec: &IndexSpec) -> Option<ScalarChunkIndex> {
        let rows = chunk.len();
        if u32::try_from(rows).is_err() {
            return None;
        }
        let Some(column) = chunk.batch.column(&spec.field) else {
            // A field the chunk's rows were written without: every row is null.
            let kind = Kind::of_type(spec.data_type).unwrap_or(Kind::Int);
            let keys = match kind {
                Kind::Float | Kind::Double => Keys::Float(Vec::new()),
                Kind::Str => Keys::Str(StringColumn::new()),
                Kind::Bool | Kind::Int => Keys::Int(Vec::new()),
            };
            let parts = Parts {
                kind,
                elements: spec.data_type == DataType::Array,
                keys,
                offsets: vec![0],
                postings: Vec::new(),
                nulls: Bitmap::ones(rows),
            };
            return Some(Self::assemble(spec, rows, parts));
        };
        let mut nulls = Bitmap::zeros(rows);
        // (position in the value column, row) of every non-null value.
        let (data, elements, positions) = match &column.data {
            ColumnData::Array(array) => {
                let mut positions = Vec::with_capacity(array.values().len());
                for row in 0..rows {
                    if column.is_valid(row) && row < array.len() {
                        positions.extend(array.range(row).map(|k| (k, row as u32)));
                    } else {
                        nulls.set(row, true);
                    }
                }
                (array.values(), true, positions)
            }
            data => {
                let mut positions = Vec::with_capacity(rows);
                for row in 0..rows {
                    if column.is_valid(row) && row < data.len() {
                        positions.push((row, row as u32));
                    } else {
                        nulls.set(row, true);
                    }
                }
                (data, false, positions)
            }
        };
        if u32::try_from(positions.len()).is_err() {
            return None;
        }
        let ints = |f: &dyn Fn(usize) -> Option<i64>| -> Vec<(i64, u32)> {
            positions
                .iter()
                .filter_map(|&(p, r)| Some((f(p)?, r)))
                .collect()
        };
        let floats = |f: &dyn Fn(usize) -> Option<f64>| -> Vec<(f64, u32)> {
            positions
                .iter()
                .filter_map(|&(p, r)| Some((f(p)?, r)))
                .collect()
        };
        let (kind, keys, offsets, postings) = match data {
            ColumnData::Bool(v) => {
                let (k, o, p) = group(ints(&|i| v.get(i).map(|b| i64::from(*b))), i64::cmp);
                (Kind::Bool, Keys::Int(k), o, p)
            }
            ColumnData::Int8(v) => {
                let (k, o, p) = group(ints(&|i| v.get(i).map(|x| i64::from(*x))), i64::cmp);
                (Kind::Int, Keys::Int(k), o, p)
            }
            ColumnData::Int16(v) => {
                let (k, o, p) = group(ints(&|i| v.get(i).map(|x| i64::from(*x))), i64::cmp);
                (Kind::Int, Keys::Int(k), o, p)
            }
            ColumnData::Int32(v) => {
                let (k, o, p) = group(ints(&|i| v.get(i).map(|x| i64::from(*x))), i64::cmp);
                (Kind::Int, Keys::Int(k), o, p)
            }
            ColumnData::Int64(v) => {
                let (k, o, p) = group(ints(&|i| v.get(i).copied()), i64::cmp);
                (Kind::Int, Keys::Int(k), o, p)
            }
            ColumnData::Float(v) => {
                let (k, o, p) = group(floats(&|i| v.get(i).map(|x| f64::from(*x))), f64::total_cmp);
                (Kind::Float, Keys::Float(k), o, p)
            }
            ColumnData::Double(v) => {
                let (k, o, p) = group(floats(&|i| v.get(i).copied()), f64::total_cmp);
                (Kind::Double, Keys::Float(k), o, p)
            }
            ColumnData::VarChar(v) => {
                let entries: Vec<(&str, u32)> = positions
                    .iter()
                    .filter_map(|&(p, r)| Some((v.get(p)?, r)))
                    .collect();
                let (k, o, p) = group(entries, |a: &&str, b: &&str| a.as_bytes().cmp(b.as_bytes()));
                (Kind::Str, Keys::Str(k.into_iter().collect()), o, p)
            }
            ColumnData::Json(_)
            | ColumnData::Array(_)
            | ColumnData::Vector(_)
            | ColumnData::Sparse(_) => return None,
        };
        let parts = Parts {
            kind,
            elements,
            keys,
            offsets,
            postings,
            nulls,
        };
        Some(Self::assemble(spec, rows, parts))
    }

    fn nkeys(&self) -> usize {
        self.keys.len()
    }

    fn offset(&self, k: usize) -> usize {
        self.offsets
            .get(k)
            .map_or(self.postings.len(), |o| *o as usize)
    }

    /// The rows of key `k`.
    fn posting(&self, k: usize) -> &[u32] {
        self.postings
            .get(self.offset(k)..self.offset(k + 1))
            .unwrap_or_default()
    }

    /// How a literal compares with this index's keys; `None` when the literal's type is not
    /// one the evaluator compares with the column's (the caller leaves that to the scan).
    fn probe<'a>(&self, lit: &'a Literal) -> Option<Probe<'a>> {
        match (self.kind, lit) {
            (Kind::Bool, Literal::Bool(b)) => Some(Probe::Int(i64::from(*b))),
            (Kind::Int, Literal::Int(x)) => Some(Probe::Int(*x)),
            (Kind::Int, Literal::Float(x)) => Some(Probe::IntAsFloat(*x)),
            (Kind::Float | Kind::Double, Literal::Int(_) | Literal::Float(_)) => {
                lit.as_f64().map(Probe::Float)
            }
            (Kind::Str, Literal::Str(s)) => Some(Probe::Str(s)),
            _ => None,
        }
    }

    /// (keys below the literal, keys at or below it), counted from key 0, among the ordered
    /// (non-NaN) keys; `None` for a NaN literal, which no key orders against.
    fn split(&self, probe: Probe<'_>) -> Option<(usize, usize)> {
        let (a, b) = self.ordered;
        let within = |pred: &dyn Fn(usize) -> bool| a + partition(b - a, |i| pred(a + i));
        match (&self.keys, probe) {
            (Keys::Int(keys), Probe::Int(x)) => Some((
                keys.partition_point(|k| *k < x),
                keys.partition_point(|k| *k <= x),
            )),
            (Keys::Int(keys), Probe::IntAsFloat(x)) => {
                if x.is_nan() {
                    return None;
                }
                Some((
                    keys.partition_point(|k| (*k as f64) < x),
                    keys.partition_point(|k| (*k as f64) <= x),
                ))
            }
            (Keys::Float(keys), Probe::Float(x)) => {
                if x.is_nan() {
                    return None;
                }
                let at = |i: usize| keys.get(i).copied().unwrap_or(f64::NAN);
                Some((within(&|i| at(i) < x), within(&|i| at(i) <= x)))
            }
            (Keys::Str(keys), Probe::Str(x)) => {
                let at = |i: usize| keys.get(i).unwrap_or_default().as_bytes();
                let x = x.as_bytes();
                Some((within(&|i| at(i) < x), within(&|i| at(i) <= x)))
            }
            // Not reached: a probe is made for its index's kind, and the keys follow the kind.
            _ => Some((a, a)),
        }
    }

    /// The keys `key op lit` holds for.
    fn compare_sel(&self, op: CmpOp, lit: &Literal) -> Option<Sel> {
        let probe = self.probe(lit)?;
        let (a, b) = self.ordered;
        let n = self.nkeys();
        let Some((lt, le)) = self.split(probe) else {
            // NaN: nothing orders against it; DOUBLE's plain `!=` holds for every value.
            return Some(if op == CmpOp::Ne && self.kind == Kind::Double {
                vec![(0, n)]
            } else {
                Vec::new()
            });
        };
        let sel = match op {
            CmpOp::Lt => vec![(a, lt)],
            CmpOp::Le => vec![(a, le)],
            CmpOp::Gt => vec![(le, b)],
            CmpOp::Ge => vec![(lt, b)],
            CmpOp::Eq => vec![(lt, le)],
            // FLOAT compares by `partial_cmp` (NaN is not unequal); others include NaNs.
            CmpOp::Ne if self.kind == Kind::Float => vec![(a, lt), (le, b)],
            CmpOp::Ne => vec![(0, lt), (le, n)],
        };
        Some(normalized(sel))
    }

    /// The keys equal to one of `values` (the evaluator's `in` rules per column type).
    fn in_sel(&self, values: &[Literal]) -> Option<Sel> {
        let mut sel = Vec::new();
        let mut eq = |probe: Probe<'_>| {
            if let Some((lt, le)) = self.split(probe) {
                sel.push((lt, le));
            }
        };
        match self.kind {
            Kind::Int => {
                for x in int_set(values)? {
                    eq(Probe::Int(x));
                }
            }
            // Other kinds: a literal of another type equals nothing.
            Kind::Bool | Kind::Float | Kind::Double | Kind::Str => {
                for lit in values {
                    if let Some(p) = self.probe(lit) {
                        eq(p);
                    }
                }
            }
        }
        Some(normalized(sel))
    }

    /// The keys matching a LIKE pattern: the range of its literal prefix, filtered by the
    /// pattern unless it is `prefix%`.
    fn like_sel(&self, pattern: &str) -> Option<Sel> {
        let Keys::Str(keys) = &self.keys else {
            return None;
        };
        let prefix = like_prefix(pattern);
        let p = prefix.as_bytes();
        let at = |i: usize| keys.get(i).unwrap_or_default().as_bytes();
        let lo = partition(keys.len(), |i| at(i) < p);
        let hi = partition(keys.len(), |i| at(i) < p || at(i).starts_with(p));
        let rest = pattern.get(prefix.len()..).unwrap_or_default();
        if rest == "%" {
            return Some(normalized(vec![(lo, hi)]));
        }
        // Matching each distinct value pays only while values are fewer than rows.
        if (hi - lo) * 2 > self.rows {
            return None;
        }
        let sel = (lo..hi)
            .filter(|&k| rivus_expr::like(keys.get(k).unwrap_or_default(), pattern))
            .map(|k| (k, k + 1))
            .collect();
        Some(normalized(sel))
    }

    /// What setting the rows of `sel` costs, in row-sized steps: a bit per sparse row, a
    /// word-wide OR per dense key.
    fn cost(&self, sel: &[(usize, usize)]) -> usize {
        let words = self.rows.div_ceil(64);
        let mut cost = 0;
        for &(lo, hi) in sel {
            let mut rows = self.offset(hi) - self.offset(lo);
            let first = self.dense.partition_point(|(k, _)| *k < lo);
            for (k, _) in self.dense.iter().skip(first).take_while(|(k, _)| *k < hi) {
                rows -= self.posting(*k).len();
                cost += words;
            }
            cost += rows;
        }
        cost
    }

    /// The most a lookup may cost before the scan is cheaper (row-sized steps, see
    /// [`cost`](Self::cost)), per pass the scan makes over the column: a numeric comparison
    /// scans about 8 rows in the time a posting sets one bit; string comparisons cost more
    /// than a bit per row.
    fn budget(&self, passes: usize) -> usize {
        #[cfg(test)]
        if tests::NO_BUDGET.with(std::cell::Cell::get) {
            return usize::MAX;
        }
        let scanned = self.rows.max(self.postings.len()).saturating_mul(passes);
        match self.kind {
            Kind::Str => scanned,
            Kind::Bool | Kind::Int | Kind::Float | Kind::Double => scanned / NUMERIC_SCAN_SHARE,
        }
    }

    /// The rows of the keys in `sel`.
    fn rows_of(&self, sel: &[(usize, usize)]) -> Bitmap {
        let mut words = vec![0u64; self.rows.div_ceil(64)];
        let mut dense_hits: Vec<&Bitmap> = Vec::new();
        for &(lo, hi) in sel {
            let mut at = lo;
            let first = self.dense.partition_point(|(k, _)| *k < lo);
            for (k, bits) in self.dense.iter().skip(first).take_while(|(k, _)| *k < hi) {
                set_rows(
                    &mut words,
                    self.postings
                        .get(self.offset(at)..self.offset(*k))
                        .unwrap_or_default(),
                );
                dense_hits.push(bits);
                at = k + 1;
            }
            set_rows(
                &mut words,
                self.postings
                    .get(self.offset(at)..self.offset(hi))
                    .unwrap_or_default(),
            );
        }
        let mut out = Bitmap::from_words(words, self.rows);
        for bits in dense_hits {
            out.or(bits);
        }
        out
    }

    /// A plan for the rows of the keys in `sel` (directly, or as the non-null rows outside
    /// the other keys when that is cheaper); `None` when the scan, making `passes` passes
    /// over the column, would be cheaper.
    fn plan_keys(&self, sel: Sel, passes: usize) -> Option<What> {
        let budget = self.budget(passes);
        let direct = self.cost(&sel);
        if !self.elements {
            let other = complement(&sel, self.nkeys());
            let inverse = self.cost(&other) + self.rows / 64;
            if inverse < direct {
                return (inverse <= budget).then_some(What::Rows {
                    sel: other,
                    invert: true,
                });
            }
        }
        (direct <= budget).then_some(What::Rows { sel, invert: false })
    }

    /// How this index answers `leaf` (a predicate on its field), or `None`.
    fn plan(&self, leaf: &Predicate) -> Option<What> {
        match leaf {
            Predicate::IsNull { negated, .. } => Some(What::Nulls { negated: *negated }),
            Predicate::Contains { values, mode, .. } if self.elements => {
                let mut sels = Vec::with_capacity(values.len());
                let mut cost = 0;
                for lit in values {
                    let sel = self.compare_sel(CmpOp::Eq, lit)?;
                    cost += self.cost(&sel);
                    sels.push(sel);
                }
                (cost <= self.budget(values.len().max(1))).then_some(What::Contains {
                    sels,
                    all: *mode == ContainsMode::All,
                })
            }
            _ => self.plan_keys(self.key_sel(leaf)?, scan_passes(leaf)),
        }
    }

    /// The keys whose rows `leaf` selects, for a leaf that is true exactly on the rows of
    /// some keys (and known on the non-null rows): comparisons, ranges, `in`, `like`, a BOOL
    /// field by itself. `None` for other leaves and for an ARRAY field's element index.
    fn key_sel(&self, leaf: &Predicate) -> Option<Sel> {
        if self.elements {
            return None;
        }
        match leaf {
            Predicate::Truthy(_) if self.kind == Kind::Bool => {
                self.compare_sel(CmpOp::Eq, &Literal::Bool(true))
            }
            Predicate::Compare { op, rhs, .. } => self.compare_sel(*op, rhs),
            Predicate::Range {
                lower,
                lower_inclusive,
                upper,
                upper_inclusive,
                ..
            } => {
                let lo = if *lower_inclusive {
                    CmpOp::Ge
                } else {
                    CmpOp::Gt
                };
                let hi = if *upper_inclusive {
                    CmpOp::Le
                } else {
                    CmpOp::Lt
                };
                Some(intersect(
                    &self.compare_sel(lo, lower)?,
                    &self.compare_sel(hi, upper)?,
                ))
            }
            Predicate::In {
                values, negated, ..
            } => {
                let sel = self.in_sel(values)?;
                // `not in` holds for every non-null value outside the list (NaN included).
                Some(if *negated {
                    complement(&sel, self.nkeys())
                } else {
                    sel
                })
            }
            Predicate::Like { pattern, .. } => self.like_sel(pattern),
            _ => None,
        }
    }

    /// Runs a plan: the matching rows and the rows whose answer is known (not null).
    fn run(&self, what: &What) -> Truth {
        let known = match what {
            What::Nulls { .. } => Bitmap::ones(self.rows),
            What::Rows { .. } | What::Contains { .. } => self.valid.clone(),
        };
        Truth {
            value: self.value(what),
            known,
        }
    }

    /// The matching rows of a plan (never a null row, except for `is null`).
    fn value(&self, what: &What) -> Bitmap {
        match what {
            What::Nulls { negated: true } => self.valid.clone(),
            What::Nulls { negated: false } => self.nulls.clone(),
            What::Rows { sel, invert } => {
                let mut value = self.rows_of(sel);
                if *invert {
                    value.not();
                    value.and(&self.valid);
                }
                value
            }
            What::Contains { sels, all } => {
                let mut value = if *all {
                    self.valid.clone()
                } else {
                    Bitmap::zeros(self.rows)
                };
                for sel in sels {
                    let rows = self.rows_of(sel);
                    if *all {
                        value.and(&rows);
                    } else {
                        value.or(&rows);
                    }
                }
                value
            }
        }
    }
}

/// A numeric lookup is taken when it sets at most 1/`NUMERIC_SCAN_SHARE` of the rows' bits
/// (measured: `bench/sindex_bench.sh`).
const NUMERIC_SCAN_SHARE: usize = 8;

/// How many passes the scan of `leaf` makes over its column (a range compares twice, an `in`
/// list probes a table per row), so how much a lookup may cost before the scan is cheaper.
fn scan_passes(leaf: &Predicate) -> usize {
    match leaf {
        Predicate::Range { .. } | Predicate::In { .. } => 2,
        _ => 1,
    }
}

/// How an index answers one leaf.
#[derive(Debug)]
enum What {
    /// The rows of these keys; with `invert`, the non-null rows of the other keys.
    Rows { sel: Sel, invert: bool },
    /// The null (or, negated, the non-null) rows.
    Nulls { negated: bool },
    /// `array_contains*`: per value, the rows holding it; `all` intersects, else unites.
    Contains { sels: Vec<Sel>, all: bool },
}

/// Milvus's per-row result: `value` (false wherever `known` is) and `known` (the valid bit).
struct Truth {
    value: Bitmap,
    known: Bitmap,
}

/// A filter planned on indexes.
enum Node<'a> {
    Const(bool),
    And(Vec<Node<'a>>),
    Or(Vec<Node<'a>>),
    Not(Box<Node<'a>>),
    Leaf(&'a ScalarChunkIndex, What),
}

/// The scalar indexes of one chunk.
struct ChunkIndexes {
    list: Vec<Arc<ScalarChunkIndex>>,
    rows: usize,
}

fn plain(o: &Operand) -> bool {
    o.path.is_empty() && o.arith.is_empty()
}

impl ChunkIndexes {
    /// The index of the field `leaf` reads, when it reads one plainly (no path, no
    /// arithmetic).
    fn index_for(&self, leaf: &Predicate) -> Option<&ScalarChunkIndex> {
        let operand = match leaf {
            Predicate::Truthy(o)
            | Predicate::Compare { lhs: o, .. }
            | Predicate::Range { operand: o, .. }
            | Predicate::In { operand: o, .. }
            | Predicate::Like { operand: o, .. }
            | Predicate::IsNull { operand: o, .. }
            | Predicate::Contains { operand: o, .. } => o,
            _ => return None,
        };
        if !plain(operand) {
            return None;
        }
        self.list
            .iter()
            .find(|i| i.field == operand.field)
            .map(|i| &**i)
    }

    /// The index answering `leaf`, and how.
    fn leaf(&self, leaf: &Predicate) -> Option<(&ScalarChunkIndex, What)> {
        let index = self.index_for(leaf)?;
        let what = index.plan(leaf)?;
        Some((index, what))
    }

    /// An `and`: the key-selecting parts on one field become one selection (their keys
    /// intersected, as Milvus folds `x > a and x < b` into a range), so a narrow range
    /// written as two wide comparisons is still one cheap lookup.
    fn plan_and<'a>(&'a self, parts: &[Predicate]) -> Option<Node<'a>> {
        // (index, the keys all its parts select, the scan's passes over the column for them)
        let mut merged: Vec<(&'a ScalarChunkIndex, Sel, usize)> = Vec::new();
        let mut nodes = Vec::with_capacity(parts.len());
        for q in parts {
            let keyed = self
                .index_for(q)
                .and_then(|index| Some((index, index.key_sel(q)?)));
            match keyed {
                Some((index, sel)) => {
                    let passes = scan_passes(q);
                    match merged.iter_mut().find(|(i, ..)| std::ptr::eq(*i, index)) {
                        Some((_, acc, n)) => {
                            *acc = intersect(acc, &sel);
                            *n += passes;
                        }
                        None => merged.push((index, sel, passes)),
                    }
                }
                None => nodes.push(self.plan(q)?),
            }
        }
        for (index, sel, passes) in merged {
            nodes.push(Node::Leaf(index, index.plan_keys(sel, passes)?));
        }
        Some(Node::And(nodes))
    }

    /// The whole filter planned on indexes, when every leaf is answered by one.
    fn plan<'a>(&'a self, p: &Predicate) -> Option<Node<'a>> {
        Some(match p {
            Predicate::Const(b) => Node::Const(*b),
            Predicate::And(parts) => self.plan_and(parts)?,
            Predicate::Or(parts) => {
                Node::Or(parts.iter().map(|q| self.plan(q)).collect::<Option<_>>()?)
            }
            Predicate::Not(inner) => Node::Not(Box::new(self.plan(inner)?)),
            leaf => {
                let (index, what) = self.leaf(leaf)?;
                Node::Leaf(index, what)
            }
        })
    }

    /// Combines as `rivus_expr::evaluate` does: `and`/`or` combine values and OR the known
    /// bits; `not` flips the value within the known rows.
    fn run(&self, node: &Node<'_>) -> Truth {
        let n = self.rows;
        match node {
            Node::Const(b) => Truth {
                value: if *b {
                    Bitmap::ones(n)
                } else {
                    Bitmap::zeros(n)
                },
                known: Bitmap::ones(n),
            },
            Node::And(parts) | Node::Or(parts) => {
                let is_and = matches!(node, Node::And(_));
                let mut acc: Option<Truth> = None;
                for part in parts {
                    let t = self.run(part);
                    acc = Some(match acc {
                        None => t,
                        Some(mut a) => {
                            if is_and {
                                a.value.and(&t.value);
                            } else {
                                a.value.or(&t.value);
                            }
                            a.known.or(&t.known);
                            a
                        }
                    });
                }
                acc.unwrap_or_else(|| self.run(&Node::Const(is_and)))
            }
            Node::Not(inner) => {
                let mut t = self.run(inner);
                t.value.not();
                t.value.and(&t.known);
                t
            }
            Node::Leaf(index, what) => index.run(what),
        }
    }

    /// [`run`](Self::run)'s value alone: the valid bits are only computed under a `not`.
    fn value(&self, node: &Node<'_>) -> Bitmap {
        match node {
            Node::And(parts) | Node::Or(parts) if !parts.is_empty() => {
                let is_and = matches!(node, Node::And(_));
                let mut acc: Option<Bitmap> = None;
                for part in parts {
                    let v = self.value(part);
                    acc = Some(match acc {
                        None => v,
                        Some(mut a) => {
                            if is_and {
                                a.and(&v);
                            } else {
                                a.or(&v);
                            }
                            a
                        }
                    });
                }
                acc.unwrap_or_else(|| Bitmap::zeros(self.rows))
            }
            Node::Leaf(index, what) => index.value(what),
            Node::Const(_) | Node::And(_) | Node::Or(_) | Node::Not(_) => self.run(node).value,
        }
    }
}

impl rivus_expr::ScalarIndex for ChunkIndexes {
    fn lookup(&self, leaf: &Predicate, num_rows: usize) -> Option<Bitmap> {
        if num_rows != self.rows {
            return None;
        }
        let (index, what) = self.leaf(leaf)?;
        Some(index.value(&what))
    }
}

/// The rows of `chunk` matching `predicate` (visibility aside): from the chunk's scalar
/// indexes where they answer it, by evaluating the columns otherwise; always the rows
/// `rivus_expr::evaluate` gives.
pub fn filter_chunk(chunk: &Chunk, predicate: &Predicate) -> Bitmap {
    let list = chunk.scalar_indexes();
    if list.is_empty() {
        return rivus_expr::evaluate(predicate, &chunk.batch);
    }
    let indexes = ChunkIndexes {
        list,
        rows: chunk.len(),
    };
    if let Some(node) = indexes.plan(predicate) {
        return indexes.value(&node);
    }
    rivus_expr::evaluate_with(predicate, &chunk.batch, &indexes)
}

// ---------------------------------------------------------------------------------------
// Files

const FORMAT_VERSION: u32 = 1;
const META: &str = "sindex.meta";
const KEYS: &str = "sindex.keys";
const OFFSETS: &str = "sindex.offsets";
const POSTINGS: &str = "sindex.postings";
const NULLS: &str = "sindex.nulls";

fn u32s(values: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn read_u32s(bytes: &[u8], n: usize) -> Option<Vec<u32>> {
    if bytes.len() != n.checked_mul(4)? {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

impl ScalarChunkIndex {
    /// Writes the index to `path` (a block file: checksummed, written whole or not at all).
    pub fn save(&self, vfs: &Arc<dyn Vfs>, path: &Path) -> Result<()> {
        let mut meta = Writer::default();
        meta.u32(FORMAT_VERSION);
        meta.u8(self.kind.code());
        meta.u8(u8::from(self.elements));
        meta.u64(self.rows as u64);
        meta.u64(self.nkeys() as u64);
        meta.u64(self.postings.len() as u64);
        let mut keys = Writer::default();
        match &self.keys {
            Keys::Int(v) => v.iter().for_each(|k| keys.i64(*k)),
            Keys::Float(v) => v.iter().for_each(|k| keys.u64(k.to_bits())),
            Keys::Str(v) => v.iter().for_each(|k| keys.str(k)),
        }
        let mut nulls = vec![0u8; self.rows.div_ceil(8)];
        for r in self.nulls.iter_ones() {
            if let Some(b) = nulls.get_mut(r / 8) {
                *b |= 1 << (r % 8);
            }
        }
        let mut file = BlockFileWriter::create_in(vfs, path)?;
        file.add(META, &meta.buf)?;
        file.add(KEYS, &keys.buf)?;
        file.add(OFFSETS, &u32s(&self.offsets))?;
        file.add(POSTINGS, &u32s(&self.postings))?;
        file.add(NULLS, &nulls)?;
        file.finish()?;
        Ok(())
    }

    /// Loads the index of `spec` for `chunk` from `path`; `None` when the file is missing,
    /// damaged or does not fit the chunk (the caller rebuilds it).
    pub fn load(
        vfs: &Arc<dyn Vfs>,
        path: &Path,
        chunk: &Chunk,
        spec: &IndexSpec,
    ) -> Option<ScalarChunkIndex> {
        if !vfs.exists(path).unwrap_or(false) {
            return None;
        }
        let loaded = BlockFile::open_in(vfs, path)
            .ok()
            .and_then(|file| Self::decode(&file, chunk, spec));
        if loaded.is_none() {
            tracing::warn!(file = %path.display(), "scalar index file is damaged or does not match its segment; rebuilding it");
        }
        loaded
    }

    fn decode(file: &BlockFile, chunk: &Chunk, spec: &IndexSpec) -> Option<ScalarChunkIndex> {
        let mut meta = Reader::new(file.block(META)?);
        if meta.u32("version").ok()? != FORMAT_VERSION {
            return None;
        }
        let kind = Kind::from_code(meta.u8("kind").ok()?)?;
        let elements = meta.u8("elements").ok()? == 1;
        let rows = usize::try_from(meta.u64("rows").ok()?).ok()?;
        let nkeys = usize::try_from(meta.u64("keys").ok()?).ok()?;
        let npostings = usize::try_from(meta.u64("postings").ok()?).ok()?;
        let fits_field = if spec.data_type == DataType::Array {
            elements
        } else {
            !elements && Kind::of_type(spec.data_type) == Some(kind)
        };
        if !meta.is_done() || rows != chunk.len() || !fits_field {
            return None;
        }
        let mut r = Reader::new(file.block(KEYS)?);
        let keys = match kind {
            Kind::Bool | Kind::Int => {
                let mut v = Vec::with_capacity(nkeys.min(rows.max(npostings)));
                for _ in 0..nkeys {
                    v.push(r.i64("key").ok()?);
                }
                v.windows(2).all(|w| w[0] < w[1]).then_some(())?;
                Keys::Int(v)
            }
            Kind::Float | Kind::Double => {
                let mut v = Vec::with_capacity(nkeys.min(rows.max(npostings)));
                for _ in 0..nkeys {
                    v.push(f64::from_bits(r.u64("key").ok()?));
                }
                v.windows(2)
                    .all(|w| w[0].total_cmp(&w[1]) == Ordering::Less)
                    .then_some(())?;
                Keys::Float(v)
            }
            Kind::Str => {
                let mut v = StringColumn::new();
                let mut last: Option<&str> = None;
                for _ in 0..nkeys {
                    let k = r.str("key").ok()?;
                    if last.is_some_and(|l| l.as_bytes() >= k.as_bytes()) {
                        return None;
                    }
                    v.push(k);
                    last = Some(k);
                }
                Keys::Str(v)
            }
        };
        if !r.is_done() {
            return None;
        }
        let offsets = read_u32s(file.block(OFFSETS)?, nkeys.checked_add(1)?)?;
        let postings = read_u32s(file.block(POSTINGS)?, npostings)?;
        let ascending = offsets.windows(2).all(|w| w[0] <= w[1]);
        if offsets.first() != Some(&0)
            || offsets.last().map(|o| *o as usize) != Some(npostings)
            || !ascending
            || postings.iter().any(|r| *r as usize >= rows)
        {
            return None;
        }
        let bytes = file.block(NULLS)?;
        if bytes.len() != rows.div_ceil(8) {
            return None;
        }
        let nulls = Bitmap::from_fn(rows, |i| {
            bytes.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)
        });
        let parts = Parts {
            kind,
            elements,
            keys,
            offsets,
            postings,
            nulls,
        };
        Some(Self::assemble(spec, rows, parts))
    }
}

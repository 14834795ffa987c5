//! Evaluation of a bound [`Predicate`] over a [`ColumnSource`] into a row [`Bitmap`].
//!
//! Null handling follows Milvus's segcore, which is not SQL's three-valued logic: every
//! predicate yields a `value` bit and a `valid` bit per row. A comparison on a null value is
//! `value = false, valid = false`; `not` flips the value and masks it with validity (so
//! `not (x > 5)` is false for a null `x`); `and`/`or` combine the values and OR the validity
//! bits (so `not (a > 5 or b > 5)` is true for a null `a` and `b = 1`, where SQL would drop the
//! row). Rows whose final value is set match. JSON paths: a missing key or a type mismatch is
//! false for every operator but `!=`, which is true. An array index past the end is false.
//!
//! Plain numeric and string comparisons, ranges and `in` run as tight loops over the typed
//! column; the rest (JSON paths, arithmetic, arrays) reads each row's value.

// Row values of mismatched kinds compare as false: `_` arms are that rule.
#![allow(clippy::wildcard_enum_match_arm)]

use std::cmp::Ordering;

use rivus_schema::{
    ArrayColumn, Bitmap, Column, ColumnData, ColumnSource, JsonColumn, StringColumn,
};
use serde_json::Value as Json;

use crate::ast::PathStep;
use crate::plan::{ArithOp, CmpOp, ContainsMode, Literal, Operand, Predicate};

/// Rows where `predicate` is true. A column the source lacks reads as all null.
pub fn evaluate(predicate: &Predicate, source: &dyn ColumnSource) -> Bitmap {
    evaluate_with(predicate, source, &NoScalarIndex)
}

/// A scalar index (INVERTED, STL_SORT, BITMAP, Trie) that can answer a leaf predicate
/// without scanning its column. Implementations return `None` for predicates they do not
/// cover; the evaluator then scans. A returned bitmap must hold exactly the matching rows
/// (never a row whose value is null).
pub trait ScalarIndex {
    /// The rows matching `leaf` (a comparison, range, `in`, `like` or null test on one
    /// field), or `None` to let the evaluator scan.
    fn lookup(&self, leaf: &Predicate, num_rows: usize) -> Option<Bitmap>;
}

/// No index: every predicate is answered by scanning.
pub struct NoScalarIndex;

impl ScalarIndex for NoScalarIndex {
    fn lookup(&self, _leaf: &Predicate, _num_rows: usize) -> Option<Bitmap> {
        None
    }
}

/// The field a leaf predicate reads.
fn leaf_operand(predicate: &Predicate) -> Option<&Operand> {
    match predicate {
        Predicate::Truthy(o)
        | Predicate::Compare { lhs: o, .. }
        | Predicate::CompareFields { lhs: o, .. }
        | Predicate::Range { operand: o, .. }
        | Predicate::In { operand: o, .. }
        | Predicate::Like { operand: o, .. }
        | Predicate::IsNull { operand: o, .. }
        | Predicate::Exists(o)
        | Predicate::Contains { operand: o, .. }
        | Predicate::ArrayLength { operand: o, .. } => Some(o),
        Predicate::Const(_) | Predicate::And(_) | Predicate::Or(_) | Predicate::Not(_) => None,
    }
}

/// Like [`evaluate`], asking `index` first for each leaf predicate.
pub fn evaluate_with(
    predicate: &Predicate,
    source: &dyn ColumnSource,
    index: &dyn ScalarIndex,
) -> Bitmap {
    eval(predicate, source, index).value
}

/// A result per row: `value` (always false where the input was null) and `known` (Milvus's
/// valid bit).
struct Truth {
    value: Bitmap,
    known: Bitmap,
}

impl Truth {
    fn constant(n: usize, b: bool) -> Truth {
        Truth {
            value: if b { Bitmap::ones(n) } else { Bitmap::zeros(n) },
            known: Bitmap::ones(n),
        }
    }
}

/// One row's value of an operand.
#[derive(Debug, Clone, Copy)]
enum RowValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Json(&'a Json),
    /// Elements `start..end` of an ARRAY column's element column.
    Array(&'a ColumnData, usize, usize),
}

/// Row `i` of a scalar column (`Null` past the end, and for JSON/ARRAY).
fn scalar_at(data: &ColumnData, i: usize) -> RowValue<'_> {
    let v = match data {
        ColumnData::Bool(v) => v.get(i).map(|b| RowValue::Bool(*b)),
        ColumnData::Int8(v) => v.get(i).map(|x| RowValue::Int(i64::from(*x))),
        ColumnData::Int16(v) => v.get(i).map(|x| RowValue::Int(i64::from(*x))),
        ColumnData::Int32(v) => v.get(i).map(|x| RowValue::Int(i64::from(*x))),
        ColumnData::Int64(v) => v.get(i).map(|x| RowValue::Int(*x)),
        ColumnData::Float(v) => v.get(i).map(|x| RowValue::Float(f64::from(*x))),
        ColumnData::Double(v) => v.get(i).map(|x| RowValue::Float(*x)),
        ColumnData::VarChar(v) => v.get(i).map(RowValue::Str),
        ColumnData::Json(_)
        | ColumnData::Array(_)
        | ColumnData::Vector(_)
        | ColumnData::Sparse(_) => None,
    };
    v.unwrap_or(RowValue::Null)
}

fn json_value(v: &Json) -> RowValue<'_> {
    match v {
        Json::Null => RowValue::Null,
        Json::Bool(b) => RowValue::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(RowValue::Int)
            .or_else(|| n.as_f64().map(RowValue::Float))
            .unwrap_or(RowValue::Null),
        Json::String(s) => RowValue::Str(s),
        Json::Array(_) | Json::Object(_) => RowValue::Json(v),
    }
}

fn json_path<'a>(mut v: &'a Json, path: &[PathStep]) -> Option<&'a Json> {
    for step in path {
        v = match (step, v) {
            (PathStep::Key(k), Json::Object(map)) => map.get(k)?,
            (PathStep::Index(i), Json::Array(items)) => items.get(usize::try_from(*i).ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// The raw value of `operand` at row `i` (before arithmetic), `Null` when absent.
fn raw<'a>(column: Option<&'a Column>, operand: &Operand, i: usize) -> RowValue<'a> {
    let Some(column) = column else {
        return RowValue::Null;
    };
    if !column.is_valid(i) {
        return RowValue::Null;
    }
    match &column.data {
        ColumnData::Json(v) => match v.get(i).and_then(|doc| json_path(doc, &operand.path)) {
            Some(found) => json_value(found),
            None => RowValue::Null,
        },
        ColumnData::Array(v) => {
            let range = v.range(i);
            match operand.path.first() {
                Some(PathStep::Index(idx)) => match usize::try_from(*idx) {
                    Ok(k) if k < range.len() => scalar_at(v.values(), range.start + k),
                    _ => RowValue::Null,
                },
                _ => RowValue::Array(v.values(), range.start, range.end),
            }
        }
        data => scalar_at(data, i),
    }
}

/// The value of `operand` at row `i`, arithmetic applied.
fn value<'a>(column: Option<&'a Column>, operand: &Operand, i: usize) -> RowValue<'a> {
    let mut v = raw(column, operand, i);
    for (op, lit) in &operand.arith {
        v = match (v, lit) {
            (RowValue::Int(a), Literal::Int(b)) => match op {
                ArithOp::Add => a.checked_add(*b).map_or(RowValue::Null, RowValue::Int),
                ArithOp::Sub => a.checked_sub(*b).map_or(RowValue::Null, RowValue::Int),
                ArithOp::Mul => a.checked_mul(*b).map_or(RowValue::Null, RowValue::Int),
                ArithOp::Div => a.checked_div(*b).map_or(RowValue::Null, RowValue::Int),
                ArithOp::Mod => a.checked_rem(*b).map_or(RowValue::Null, RowValue::Int),
            },
            (RowValue::Int(_) | RowValue::Float(_), _) => {
                let a = match v {
                    RowValue::Int(a) => a as f64,
                    RowValue::Float(a) => a,
                    _ => 0.0,
                };
                let b = lit.as_f64().unwrap_or(f64::NAN);
                RowValue::Float(match op {
                    ArithOp::Add => a + b,
                    ArithOp::Sub => a - b,
                    ArithOp::Mul => a * b,
                    ArithOp::Div => a / b,
                    ArithOp::Mod => a % b,
                })
            }
            _ => RowValue::Null,
        };
    }
    v
}

/// Orders a row value against a literal; `None` when they cannot be ordered (null, mixed
/// types), which the caller treats as unknown (null) or false (type mismatch in JSON).
fn order(v: RowValue<'_>, lit: &Literal) -> Option<Ordering> {
    match (v, lit) {
        (RowValue::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (RowValue::Int(a), Literal::Float(b)) => (a as f64).partial_cmp(b),
        (RowValue::Float(a), Literal::Int(b)) => a.partial_cmp(&(*b as f64)),
        (RowValue::Float(a), Literal::Float(b)) => a.partial_cmp(b),
        (RowValue::Str(a), Literal::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (RowValue::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Three-valued comparison: `None` for null operands; a type mismatch is false.
fn compare(v: RowValue<'_>, op: CmpOp, lit: &Literal) -> Option<bool> {
    if matches!(v, RowValue::Null) {
        return None;
    }
    Some(order(v, lit).is_some_and(|o| op.holds(o)))
}

fn equals(v: RowValue<'_>, lit: &Literal) -> bool {
    order(v, lit) == Some(Ordering::Equal)
}

/// Evaluates `f` per row into a truth pair (`None` = null: value false, not valid).
fn per_row(n: usize, mut f: impl FnMut(usize) -> Option<bool>) -> Truth {
    let mut value = Vec::with_capacity(n);
    let mut known = Vec::with_capacity(n);
    for i in 0..n {
        let r = f(i);
        known.push(r.is_some());
        value.push(r == Some(true));
    }
    Truth {
        value: Bitmap::from_slice(&value, |b| *b),
        known: Bitmap::from_slice(&known, |b| *b),
    }
}

/// Whether an absent value of `operand` (a missing JSON key, a JSON null, an ARRAY index past
/// the end) is false rather than null: Milvus's JSON and array expressions give false and
/// valid there, only the row itself being null makes the result null.
fn absent_is_false(operand: &Operand) -> bool {
    operand.data_type == rivus_schema::DataType::Json
        || (operand.data_type == rivus_schema::DataType::Array && !operand.path.is_empty())
}

/// The row's value, or `Err(answer)` when it is absent: `None` (null) for a null row or a
/// null scalar, `Some(false)` for an absent JSON/array value of a valid row.
fn present<'a>(
    column: Option<&'a Column>,
    operand: &Operand,
    i: usize,
) -> Result<RowValue<'a>, Option<bool>> {
    match value(column, operand, i) {
        RowValue::Null if absent_is_false(operand) && column.is_some_and(|c| c.is_valid(i)) => {
            Err(Some(false))
        }
        RowValue::Null => Err(None),
        v => Ok(v),
    }
}

/// [`per_row`] over an operand's values: null rows are null, absent JSON/array values false
/// (see [`present`]), others give `f(value)`.
fn per_value(
    n: usize,
    column: Option<&Column>,
    operand: &Operand,
    f: impl Fn(RowValue<'_>) -> bool,
) -> Truth {
    per_row(n, |i| match present(column, operand, i) {
        Ok(v) => Some(f(v)),
        Err(answer) => answer,
    })
}

fn known_of(column: Option<&Column>, n: usize) -> Bitmap {
    match column {
        None => Bitmap::zeros(n),
        Some(c) => c.valid.clone().unwrap_or_else(|| Bitmap::ones(n)),
    }
}

/// Tight loops for `field op literal` on plain typed columns.
fn compare_fast(column: &Column, op: CmpOp, lit: &Literal, n: usize) -> Option<Truth> {
    let mut value = compare_data(&column.data, op, lit, n)?;
    let known = known_of(Some(column), n);
    if column.valid.is_some() {
        value.and(&known);
    }
    Some(Truth { value, known })
}

/// `values[i] op lit` for every row of a scalar column (ignoring validity); `None` when the
/// literal's type does not fit the column's.
fn compare_data(data: &ColumnData, op: CmpOp, lit: &Literal, n: usize) -> Option<Bitmap> {
    // One monomorphic loop per (type, operator): the predicate inlines into
    // `Bitmap::from_slice` and vectorizes.
    macro_rules! by_op {
        ($v:expr, $x:expr) => {{
            let (v, x) = ($v, $x);
            match op {
                CmpOp::Lt => Bitmap::from_slice(v, |a| *a < x),
                CmpOp::Le => Bitmap::from_slice(v, |a| *a <= x),
                CmpOp::Gt => Bitmap::from_slice(v, |a| *a > x),
                CmpOp::Ge => Bitmap::from_slice(v, |a| *a >= x),
                CmpOp::Eq => Bitmap::from_slice(v, |a| *a == x),
                CmpOp::Ne => Bitmap::from_slice(v, |a| *a != x),
            }
        }};
    }
    macro_rules! ints {
        ($v:expr, $t:ty) => {{
            let v = $v;
            match lit {
                // Compare in the column's own type when the literal fits it; otherwise every
                // row is on the same side of it.
                Literal::Int(x) => match <$t>::try_from(*x) {
                    Ok(x) => by_op!(v, x),
                    Err(_) => {
                        let above = *x > 0;
                        let all = match op {
                            CmpOp::Lt | CmpOp::Le => above,
                            CmpOp::Gt | CmpOp::Ge => !above,
                            CmpOp::Eq => false,
                            CmpOp::Ne => true,
                        };
                        if all {
                            Bitmap::ones(n)
                        } else {
                            Bitmap::zeros(n)
                        }
                    }
                },
                Literal::Float(x) => {
                    let x = *x;
                    Bitmap::from_slice(v, |a| {
                        (*a as f64).partial_cmp(&x).is_some_and(|o| op.holds(o))
                    })
                }
                _ => return None,
            }
        }};
    }
    Some(match data {
        ColumnData::Int8(v) => ints!(v, i8),
        ColumnData::Int16(v) => ints!(v, i16),
        ColumnData::Int32(v) => ints!(v, i32),
        ColumnData::Int64(v) => ints!(v, i64),
        ColumnData::Float(v) => {
            let x = lit.as_f64()?;
            Bitmap::from_slice(v, |a| {
                f64::from(*a).partial_cmp(&x).is_some_and(|o| op.holds(o))
            })
        }
        ColumnData::Double(v) => by_op!(v, lit.as_f64()?),
        ColumnData::VarChar(v) => {
            let Literal::Str(x) = lit else { return None };
            match op {
                CmpOp::Eq => strings_equal(v, x.as_bytes()),
                CmpOp::Ne => {
                    let mut b = strings_equal(v, x.as_bytes());
                    b.not();
                    b
                }
                _ => {
                    let x = x.as_bytes();
                    strings_where(v, |a| op.holds(a.cmp(x)))
                }
            }
        }
        ColumnData::Bool(v) => {
            let Literal::Bool(x) = lit else { return None };
            by_op!(v, *x)
        }
        ColumnData::Json(_)
        | ColumnData::Array(_)
        | ColumnData::Vector(_)
        | ColumnData::Sparse(_) => return None,
    })
}

/// Rows of `column` where `pred(row bytes)` holds.
fn strings_where(column: &StringColumn, pred: impl Fn(&[u8]) -> bool) -> Bitmap {
    let bytes = column.bytes();
    Bitmap::from_fn(column.len(), |i| {
        match (column.offsets().get(i), column.offsets().get(i + 1)) {
            (Some(&s), Some(&e)) => bytes.get(s..e).is_some_and(&pred),
            _ => false,
        }
    })
}

/// The first up to 8 bytes at `at`, little-endian, zero-padded; and a mask of `len` bytes.
fn word_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(b) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        None => {
            let mut w = [0u8; 8];
            for (k, slot) in w.iter_mut().enumerate() {
                *slot = bytes.get(at + k).copied().unwrap_or(0);
            }
            u64::from_le_bytes(w)
        }
    }
}

fn low_bytes_mask(len: usize) -> u64 {
    if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (len * 8)) - 1
    }
}

/// Rows equal to `x`: lengths are compared first (a vectorized pass over the offsets), then
/// only rows of the right length compare bytes, 8 at a time for short literals.
fn strings_equal(column: &StringColumn, x: &[u8]) -> Bitmap {
    let offsets = column.offsets();
    let want = x.len();
    // Row i's length is offsets[i + 1] - offsets[i].
    let candidates = Bitmap::from_zip(offsets, offsets.get(1..).unwrap_or(&[]), |s, e| {
        e.wrapping_sub(*s) == want
    });
    let bytes = column.bytes();
    if want <= 8 {
        let mask = low_bytes_mask(want);
        let lit = word_at(x, 0) & mask;
        let mut out = Bitmap::zeros(column.len());
        for i in candidates.iter_ones() {
            let start = offsets.get(i).copied().unwrap_or(0);
            if word_at(bytes, start) & mask == lit {
                out.set(i, true);
            }
        }
        out
    } else {
        let mut out = Bitmap::zeros(column.len());
        for i in candidates.iter_ones() {
            let start = offsets.get(i).copied().unwrap_or(0);
            if bytes.get(start..start + want) == Some(x) {
                out.set(i, true);
            }
        }
        out
    }
}

/// Rows starting with `prefix` (`like "abc%"`).
fn strings_with_prefix(column: &StringColumn, prefix: &[u8]) -> Bitmap {
    let offsets = column.offsets();
    let bytes = column.bytes();
    let want = prefix.len();
    if want <= 8 {
        let mask = low_bytes_mask(want);
        let lit = word_at(prefix, 0) & mask;
        Bitmap::from_zip(offsets, offsets.get(1..).unwrap_or(&[]), |&s, &e| {
            (e - s >= want) & (word_at(bytes, s) & mask == lit)
        })
    } else {
        strings_where(column, |a| a.starts_with(prefix))
    }
}

/// The integers of an `in` list, sorted and deduplicated; `None` if it holds a non-number.
fn int_set(values: &[Literal]) -> Option<Vec<i64>> {
    let mut set: Vec<i64> = Vec::with_capacity(values.len());
    for lit in values {
        match lit {
            Literal::Int(x) => set.push(*x),
            // A fractional value never equals an integer; 2.0 does.
            Literal::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => set.push(*f as i64),
            Literal::Float(_) => {}
            Literal::Bool(_) | Literal::Str(_) | Literal::List(_) => return None,
        }
    }
    set.sort_unstable();
    set.dedup();
    Some(set)
}

/// Tight loops for `field [not] in [...]` on plain integer and string columns.
///
/// Integers spanning under 2^16 probe a bit table (one load and shift per row, no bounds
/// check: the index is masked into the fixed-size table; on AVX-512 a span under 1024 keeps
/// the table in two registers, see [`crate::simd::in_bit_table`]); wider sets binary-search.
fn in_fast(column: &Column, values: &[Literal], negated: bool, n: usize) -> Option<Truth> {
    macro_rules! ints {
        ($v:expr, $kernel:expr) => {{
            let v = $v;
            let set = int_set(values)?;
            match (set.first(), set.last()) {
                (Some(&lo), Some(&hi)) if hi.saturating_sub(lo) < 1 << 16 => {
                    let span = (hi - lo + 1) as u64;
                    let mut table = Box::new([0u64; 1024]);
                    for x in &set {
                        let off = (x - lo) as u64;
                        table[(off >> 6) as usize & 1023] |= 1 << (off & 63);
                    }
                    let table = &*table;
                    let kernel: fn(&[_], i64, u64, &[u64; 1024], bool) -> Option<Vec<u64>> =
                        $kernel;
                    match kernel(v, lo, span, table, negated) {
                        Some(words) => Bitmap::from_words(words, v.len()),
                        None => Bitmap::from_slice(v, |a| {
                            let off = i64::from(*a).wrapping_sub(lo) as u64;
                            let word = table[(off >> 6) as usize & 1023];
                            (((word >> (off & 63)) & 1 == 1) & (off < span)) != negated
                        }),
                    }
                }
                _ => {
                    Bitmap::from_slice(v, |a| set.binary_search(&i64::from(*a)).is_ok() != negated)
                }
            }
        }};
    }
    let value = match &column.data {
        ColumnData::Int8(v) => ints!(v, |_, _, _, _, _| None),
        ColumnData::Int16(v) => ints!(v, |_, _, _, _, _| None),
        ColumnData::Int32(v) => ints!(v, |_, _, _, _, _| None),
        ColumnData::Int64(v) => ints!(v, |v, lo, span, table, negated| {
            crate::simd::in_bit_table(v, lo, span, table.first_chunk::<16>()?, negated)
        }),
        ColumnData::VarChar(v) => {
            let mut set: Vec<&str> = Vec::with_capacity(values.len());
            for lit in values {
                let Literal::Str(s) = lit else { return None };
                set.push(s);
            }
            set.sort_unstable();
            set.dedup();
            Bitmap::from_bools(
                n,
                v.iter().map(|a| set.binary_search(&a).is_ok() != negated),
            )
        }
        _ => return None,
    };
    let known = known_of(Some(column), n);
    let mut value = value;
    value.and(&known);
    Some(Truth { value, known })
}

/// For a pattern `literal%` with no other wildcard or escape, the literal.
fn literal_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix('%')?;
    (!prefix.contains(['%', '_', '\\'])).then_some(prefix)
}

/// Matches a Milvus LIKE pattern: anchored, case-sensitive; `%` any run, `_` one character,
/// a backslash makes the next character literal.
pub fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Char(char),
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '\\' => P::Char(chars.next().unwrap_or('\\')),
            '%' => P::Any,
            '_' => P::One,
            other => P::Char(other),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Iterative wildcard matching with one backtrack point (linear in practice).
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match parts.get(p) {
            Some(P::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(P::One) => {
                t += 1;
                p += 1;
            }
            Some(P::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    parts[p..].iter().all(|x| *x == P::Any)
}

/// The elements of an ARRAY value or a JSON array, read in place (no allocation per row).
#[derive(Clone, Copy)]
enum Elements<'a> {
    Array(&'a ColumnData, usize, usize),
    Json(&'a [Json]),
}

impl<'a> Elements<'a> {
    fn of(v: RowValue<'a>) -> Option<Self> {
        match v {
            RowValue::Array(values, start, end) => Some(Elements::Array(values, start, end)),
            RowValue::Json(Json::Array(items)) => Some(Elements::Json(items)),
            _ => None,
        }
    }

    fn len(self) -> usize {
        match self {
            Elements::Array(_, start, end) => end - start,
            Elements::Json(items) => items.len(),
        }
    }

    fn has(self, lit: &Literal) -> bool {
        match self {
            Elements::Array(values, start, end) => {
                (start..end).any(|k| equals(scalar_at(values, k), lit))
            }
            Elements::Json(items) => items.iter().any(|v| equals(json_value(v), lit)),
        }
    }

    fn contains(self, values: &[Literal], mode: ContainsMode) -> bool {
        match mode {
            ContainsMode::One | ContainsMode::Any => values.iter().any(|l| self.has(l)),
            ContainsMode::All => values.iter().all(|l| self.has(l)),
        }
    }
}

/// The path as object keys, when it has no array index.
fn object_keys(path: &[PathStep]) -> Option<Vec<&str>> {
    path.iter()
        .map(|step| match step {
            PathStep::Key(k) => Some(k.as_str()),
            PathStep::Index(_) => None,
        })
        .collect()
}

/// `json[path] op literal` from the path's shred: a typed scan for rows holding the shred's
/// type, the documents for the few rows holding another, and missing keys (false, or true
/// for `!=`) from the presence bits.
fn json_compare_fast(
    column: &Column,
    docs: &JsonColumn,
    operand: &Operand,
    op: CmpOp,
    lit: &Literal,
    n: usize,
) -> Option<Truth> {
    let keys = object_keys(&operand.path)?;
    if keys.is_empty() {
        return None;
    }
    let shred = docs.shred(&keys)?;
    // An integer literal beyond 2^53 is not exact as an f64: such a comparison reads the
    // documents instead of a DOUBLE shred.
    if let (ColumnData::Double(_), Literal::Int(x)) = (&shred.values, lit) {
        if x.unsigned_abs() > 1 << 53 {
            return None;
        }
    }
    let fits = matches!(
        (&shred.values, lit),
        (
            ColumnData::Int64(_) | ColumnData::Double(_),
            Literal::Int(_) | Literal::Float(_)
        ) | (ColumnData::VarChar(_), Literal::Str(_))
            | (ColumnData::Bool(_), Literal::Bool(_))
    );
    let mut value = if fits {
        let mut v = compare_data(&shred.values, op, lit, n)?;
        v.and(&shred.typed);
        v
    } else if op == CmpOp::Ne {
        // A type mismatch is true for `!=`.
        shred.typed.clone()
    } else {
        Bitmap::zeros(n)
    };
    if op == CmpOp::Ne {
        let mut missing = shred.present.clone();
        missing.not();
        value.or(&missing);
    }
    let mut others = shred.present.clone();
    others.and_not(&shred.typed);
    for i in others.iter_ones() {
        let hit = docs
            .get(i)
            .and_then(|d| json_path(d, &operand.path))
            .map(json_value)
            .and_then(|v| order(v, lit))
            .map_or(op == CmpOp::Ne, |o| op.holds(o));
        value.set(i, hit);
    }
    let known = known_of(Some(column), n);
    value.and(&known);
    Some(Truth { value, known })
}

/// `array_contains*` over an ARRAY column's flat elements: one vectorized pass over the
/// elements per value, then each row checks its element range.
fn contains_fast(
    column: &Column,
    array: &ArrayColumn,
    values: &[Literal],
    mode: ContainsMode,
    n: usize,
) -> Option<Truth> {
    let offsets = array.offsets();
    let row_any = |elements: &Bitmap| rows_with_any(offsets, elements, n);
    let mut value = match mode {
        ContainsMode::One | ContainsMode::Any => {
            let mut hits = Bitmap::zeros(array.values().len());
            for lit in values {
                hits.or(&compare_data(array.values(), CmpOp::Eq, lit, hits.len())?);
            }
            row_any(&hits)
        }
        ContainsMode::All => {
            let mut acc = Bitmap::ones(n);
            for lit in values {
                let hits = compare_data(array.values(), CmpOp::Eq, lit, array.values().len())?;
                acc.and(&row_any(&hits));
            }
            acc
        }
    };
    let known = known_of(Some(column), n);
    value.and(&known);
    Some(Truth { value, known })
}

/// Rows (delimited by `offsets`) holding at least one set element bit: each set bit finds
/// its row by a search forward from the last row found, so the cost follows the matches,
/// not the rows.
fn rows_with_any(offsets: &[usize], elements: &Bitmap, n: usize) -> Bitmap {
    let mut rows = Bitmap::zeros(n);
    let mut row = 0usize;
    for p in elements.iter_ones() {
        // Skip bits inside the row already marked.
        if row < n && rows.get(row) && offsets.get(row + 1).is_some_and(|&e| p < e) {
            continue;
        }
        // Galloping search: the next match is usually a few rows on.
        let rest = offsets.get(row + 1..).unwrap_or(&[]);
        let mut bound = 1;
        while rest.get(bound - 1).is_some_and(|&o| o <= p) {
            bound *= 2;
        }
        let lo = bound / 2;
        let hi = bound.min(rest.len());
        row += lo + rest.get(lo..hi).unwrap_or(&[]).partition_point(|&o| o <= p);
        rows.set(row, true);
    }
    rows
}

fn eval(predicate: &Predicate, source: &dyn ColumnSource, index: &dyn ScalarIndex) -> Truth {
    let n = source.num_rows();
    if !matches!(
        predicate,
        Predicate::And(_) | Predicate::Or(_) | Predicate::Not(_) | Predicate::Const(_)
    ) {
        if let Some(mut value) = index.lookup(predicate, n) {
            // Validity still comes from the column, so `not` treats nulls as a scan would.
            let known = match leaf_operand(predicate) {
                Some(o)
                    if !matches!(predicate, Predicate::IsNull { .. } | Predicate::Exists(_)) =>
                {
                    known_of(source.column(&o.field), n)
                }
                _ => Bitmap::ones(n),
            };
            value.and(&known);
            return Truth { value, known };
        }
    }
    let col = |o: &Operand| source.column(&o.field);
    match predicate {
        Predicate::Const(b) => Truth::constant(n, *b),
        Predicate::Truthy(o) => {
            let c = col(o);
            per_row(n, |i| match value(c, o, i) {
                RowValue::Null => None,
                RowValue::Bool(b) => Some(b),
                _ => Some(false),
            })
        }
        Predicate::Compare { lhs, op, rhs } => {
            let c = col(lhs);
            if let (Some(column), true, true) = (c, lhs.path.is_empty(), lhs.arith.is_empty()) {
                if let Some(t) = compare_fast(column, *op, rhs, n) {
                    return t;
                }
            }
            if let (Some(column), true) = (c, lhs.arith.is_empty()) {
                if let ColumnData::Json(docs) = &column.data {
                    if let Some(t) = json_compare_fast(column, docs, lhs, *op, rhs, n) {
                        return t;
                    }
                }
            }
            if lhs.data_type == rivus_schema::DataType::Json
                || (lhs.data_type == rivus_schema::DataType::Array && !lhs.path.is_empty())
            {
                // A missing key or a type mismatch: false, except `!=`; a null row stays null.
                let array_index = lhs.data_type == rivus_schema::DataType::Array;
                return per_row(n, |i| {
                    if !c.is_some_and(|c| c.is_valid(i)) {
                        return None;
                    }
                    match value(c, lhs, i) {
                        RowValue::Null if array_index => Some(false),
                        v => Some(order(v, rhs).map_or(*op == CmpOp::Ne, |o| op.holds(o))),
                    }
                });
            }
            per_row(n, |i| compare(value(c, lhs, i), *op, rhs))
        }
        Predicate::CompareFields { lhs, op, rhs } => {
            let (a, b) = (col(lhs), col(rhs));
            per_row(n, |i| {
                let (x, y) = (value(a, lhs, i), value(b, rhs, i));
                let lit = match y {
                    RowValue::Null => return None,
                    RowValue::Int(v) => Literal::Int(v),
                    RowValue::Float(v) => Literal::Float(v),
                    RowValue::Bool(v) => Literal::Bool(v),
                    RowValue::Str(s) => Literal::Str(s.to_string()),
                    RowValue::Json(_) | RowValue::Array(..) => return Some(false),
                };
                compare(x, *op, &lit)
            })
        }
        Predicate::Range {
            operand,
            lower,
            lower_inclusive,
            upper,
            upper_inclusive,
        } => {
            let c = col(operand);
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
            if let (Some(column), true, true) =
                (c, operand.path.is_empty(), operand.arith.is_empty())
            {
                if let (Some(mut a), Some(b)) = (
                    compare_fast(column, lo, lower, n),
                    compare_fast(column, hi, upper, n),
                ) {
                    a.value.and(&b.value);
                    return a;
                }
            }
            per_row(n, |i| {
                let v = match present(c, operand, i) {
                    Ok(v) => v,
                    Err(answer) => return answer,
                };
                Some(compare(v, lo, lower)? && compare(v, hi, upper)?)
            })
        }
        Predicate::In {
            operand,
            values,
            negated,
        } => {
            let c = col(operand);
            if let (Some(column), true, true) =
                (c, operand.path.is_empty(), operand.arith.is_empty())
            {
                if let Some(t) = in_fast(column, values, *negated, n) {
                    return t;
                }
            }
            // `not in` is `not (in)`: an absent JSON/array value (false for `in`) is true.
            per_row(n, |i| match present(c, operand, i) {
                Ok(v) => Some(values.iter().any(|lit| equals(v, lit)) != *negated),
                Err(answer) => answer.map(|b| b != *negated),
            })
        }
        Predicate::Like { operand, pattern } => {
            let c = col(operand);
            if let (Some(column), true, true) =
                (c, operand.path.is_empty(), operand.arith.is_empty())
            {
                if let (ColumnData::VarChar(v), Some(prefix)) =
                    (&column.data, literal_prefix(pattern))
                {
                    let mut value = strings_with_prefix(v, prefix.as_bytes());
                    let known = known_of(Some(column), n);
                    if column.valid.is_some() {
                        value.and(&known);
                    }
                    return Truth { value, known };
                }
            }
            per_row(n, |i| match present(c, operand, i) {
                Err(answer) => answer,
                Ok(RowValue::Str(s)) => Some(like(s, pattern)),
                Ok(_) => Some(false),
            })
        }
        Predicate::IsNull { operand, negated } => {
            let c = col(operand);
            let nulls = Bitmap::from_fn(n, |i| matches!(raw(c, operand, i), RowValue::Null));
            let mut value = nulls;
            if *negated {
                value.not();
            }
            Truth {
                value,
                known: Bitmap::ones(n),
            }
        }
        Predicate::Exists(operand) => {
            let c = col(operand);
            if let (Some(ColumnData::Json(docs)), Some(keys)) =
                (c.map(|c| &c.data), object_keys(&operand.path))
            {
                if let Some(shred) = docs.shred(&keys) {
                    // A null row is null (not false): `not exists` leaves it out.
                    let known = known_of(c, n);
                    let mut value = shred.present.clone();
                    value.and(&known);
                    return Truth { value, known };
                }
            }
            let value = Bitmap::from_fn(n, |i| match c.map(|c| (&c.data, c.is_valid(i))) {
                Some((ColumnData::Json(docs), true)) => docs
                    .get(i)
                    .and_then(|d| json_path(d, &operand.path))
                    .is_some(),
                _ => false,
            });
            Truth {
                value,
                known: known_of(c, n),
            }
        }
        Predicate::Contains {
            operand,
            values,
            mode,
        } => {
            let c = col(operand);
            if let (Some(column), true) = (c, operand.path.is_empty()) {
                if let ColumnData::Array(array) = &column.data {
                    if let Some(t) = contains_fast(column, array, values, *mode, n) {
                        return t;
                    }
                }
            }
            per_value(n, c, operand, |v| {
                Elements::of(v).is_some_and(|items| items.contains(values, *mode))
            })
        }
        Predicate::ArrayLength {
            operand,
            op,
            value: len,
        } => {
            let c = col(operand);
            if let (Some(column), true) = (c, operand.path.is_empty()) {
                if let ColumnData::Array(array) = &column.data {
                    let offsets = array.offsets();
                    let mut value =
                        Bitmap::from_zip(offsets, offsets.get(1..).unwrap_or(&[]), |s, e| {
                            op.holds(((e - s) as i64).cmp(len))
                        });
                    let known = known_of(Some(column), n);
                    value.and(&known);
                    return Truth { value, known };
                }
            }
            per_value(n, c, operand, |v| {
                Elements::of(v).is_some_and(|items| op.holds((items.len() as i64).cmp(len)))
            })
        }
        Predicate::And(parts) | Predicate::Or(parts) => {
            let is_and = matches!(predicate, Predicate::And(_));
            let mut acc: Option<Truth> = None;
            for p in parts {
                let t = eval(p, source, index);
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
            acc.unwrap_or_else(|| Truth::constant(n, is_and))
        }
        Predicate::Not(inner) => {
            let mut t = eval(inner, source, index);
            t.value.not();
            t.value.and(&t.known);
            t
        }
    }
}

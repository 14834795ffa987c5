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

use rivus_schema::{Bitmap, Column, ColumnData, ColumnSource, ScalarValue};
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
    Array(&'a [ScalarValue]),
}

fn scalar(v: &ScalarValue) -> RowValue<'_> {
    match v {
        ScalarValue::Bool(b) => RowValue::Bool(*b),
        ScalarValue::Int(i) => RowValue::Int(i64::from(*i)),
        ScalarValue::Long(i) => RowValue::Int(*i),
        ScalarValue::Float(f) => RowValue::Float(f64::from(*f)),
        ScalarValue::Double(f) => RowValue::Float(*f),
        ScalarValue::String(s) => RowValue::Str(s),
        ScalarValue::Bytes(_) => RowValue::Null,
    }
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
    let data = &column.data;
    match data {
        ColumnData::Bool(v) => v.get(i).map_or(RowValue::Null, |b| RowValue::Bool(*b)),
        ColumnData::Int8(v) => v
            .get(i)
            .map_or(RowValue::Null, |x| RowValue::Int(i64::from(*x))),
        ColumnData::Int16(v) => v
            .get(i)
            .map_or(RowValue::Null, |x| RowValue::Int(i64::from(*x))),
        ColumnData::Int32(v) => v
            .get(i)
            .map_or(RowValue::Null, |x| RowValue::Int(i64::from(*x))),
        ColumnData::Int64(v) => v.get(i).map_or(RowValue::Null, |x| RowValue::Int(*x)),
        ColumnData::Float(v) => v
            .get(i)
            .map_or(RowValue::Null, |x| RowValue::Float(f64::from(*x))),
        ColumnData::Double(v) => v.get(i).map_or(RowValue::Null, |x| RowValue::Float(*x)),
        ColumnData::VarChar(v) => v.get(i).map_or(RowValue::Null, RowValue::Str),
        ColumnData::Json(v) => match v.get(i).and_then(|doc| json_path(doc, &operand.path)) {
            Some(found) => json_value(found),
            None => RowValue::Null,
        },
        ColumnData::Array(v) => match (v.get(i), operand.path.first()) {
            (Some(items), Some(PathStep::Index(idx))) => usize::try_from(*idx)
                .ok()
                .and_then(|k| items.get(k))
                .map_or(RowValue::Null, scalar),
            (Some(items), _) => RowValue::Array(items),
            (None, _) => RowValue::Null,
        },
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

/// [`per_row`] over an operand's values: null rows are null, others give `f(value)`.
fn per_value(
    n: usize,
    column: Option<&Column>,
    operand: &Operand,
    f: impl Fn(RowValue<'_>) -> bool,
) -> Truth {
    per_row(n, |i| match value(column, operand, i) {
        RowValue::Null => None,
        v => Some(f(v)),
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
    let value = match &column.data {
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
            let x = x.as_bytes();
            Bitmap::from_bools(n, v.iter().map(|a| op.holds(a.as_bytes().cmp(x))))
        }
        ColumnData::Bool(_) | ColumnData::Json(_) | ColumnData::Array(_) => return None,
    };
    let known = known_of(Some(column), n);
    let mut value = value;
    if column.valid.is_some() {
        value.and(&known);
    }
    Some(Truth { value, known })
}

/// Tight loops for `field [not] in [...]` on plain integer and string columns: a sorted
/// set of the list's values, probed per row.
fn in_fast(column: &Column, values: &[Literal], negated: bool, n: usize) -> Option<Truth> {
    macro_rules! ints {
        ($v:expr) => {{
            let v = $v;
            let mut set: Vec<i64> = Vec::with_capacity(values.len());
            for lit in values {
                match lit {
                    Literal::Int(x) => set.push(*x),
                    // A fractional value never equals an integer; 2.0 does.
                    Literal::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
                        set.push(*f as i64)
                    }
                    Literal::Float(_) => {}
                    _ => return None,
                }
            }
            set.sort_unstable();
            set.dedup();
            match (set.first(), set.last()) {
                // A dense table when the values span a small range: one load per row.
                (Some(&lo), Some(&hi)) if hi.saturating_sub(lo) < 1 << 16 => {
                    let mut table = vec![false; (hi - lo + 1) as usize];
                    for x in &set {
                        table[(x - lo) as usize] = true;
                    }
                    Bitmap::from_slice(v, |a| {
                        let off = i64::from(*a).wrapping_sub(lo) as u64 as usize;
                        table.get(off).copied().unwrap_or(false) != negated
                    })
                }
                _ => {
                    Bitmap::from_slice(v, |a| set.binary_search(&i64::from(*a)).is_ok() != negated)
                }
            }
        }};
    }
    let value = match &column.data {
        ColumnData::Int8(v) => ints!(v),
        ColumnData::Int16(v) => ints!(v),
        ColumnData::Int32(v) => ints!(v),
        ColumnData::Int64(v) => ints!(v),
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
    Array(&'a [ScalarValue]),
    Json(&'a [Json]),
}

impl<'a> Elements<'a> {
    fn of(v: RowValue<'a>) -> Option<Self> {
        match v {
            RowValue::Array(items) => Some(Elements::Array(items)),
            RowValue::Json(Json::Array(items)) => Some(Elements::Json(items)),
            _ => None,
        }
    }

    fn len(self) -> usize {
        match self {
            Elements::Array(items) => items.len(),
            Elements::Json(items) => items.len(),
        }
    }

    fn has(self, lit: &Literal) -> bool {
        match self {
            Elements::Array(items) => items.iter().any(|v| equals(scalar(v), lit)),
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
                    RowValue::Json(_) | RowValue::Array(_) => return Some(false),
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
                let v = value(c, operand, i);
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
            per_value(n, c, operand, |v| {
                values.iter().any(|lit| equals(v, lit)) != *negated
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
                    let prefix = prefix.as_bytes();
                    let mut value =
                        Bitmap::from_bools(n, v.iter().map(|s| s.as_bytes().starts_with(prefix)));
                    let known = known_of(Some(column), n);
                    if column.valid.is_some() {
                        value.and(&known);
                    }
                    return Truth { value, known };
                }
            }
            per_row(n, |i| match value(c, operand, i) {
                RowValue::Null => None,
                RowValue::Str(s) => Some(like(s, pattern)),
                _ => Some(false),
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
            let value = Bitmap::from_fn(n, |i| match c.map(|c| (&c.data, c.is_valid(i))) {
                Some((ColumnData::Json(docs), true)) => docs
                    .get(i)
                    .and_then(|d| json_path(d, &operand.path))
                    .is_some(),
                _ => false,
            });
            Truth {
                value,
                known: Bitmap::ones(n),
            }
        }
        Predicate::Contains {
            operand,
            values,
            mode,
        } => per_value(n, col(operand), operand, |v| {
            Elements::of(v).is_some_and(|items| items.contains(values, *mode))
        }),
        Predicate::ArrayLength {
            operand,
            op,
            value: len,
        } => per_value(n, col(operand), operand, |v| {
            Elements::of(v).is_some_and(|items| op.holds((items.len() as i64).cmp(len)))
        }),
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

//! Columns of nested values laid out flat so filters scan them like plain columns:
//! [`ArrayColumn`] (ARRAY rows as offsets into one element column) and [`JsonColumn`]
//! (documents plus typed "shredded" columns for the scalar paths most documents share).

use std::collections::HashMap;
use std::ops::Range;

use serde_json::Value as Json;

use crate::{Bitmap, ColumnData, DataType, ScalarValue, StringColumn};

/// ARRAY rows: row `i` is `values[offsets[i]..offsets[i + 1]]`, all elements in one typed
/// column of the field's element type.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayColumn {
    offsets: Vec<usize>,
    values: Box<ColumnData>,
}

impl ArrayColumn {
    /// An empty column of `element_type` elements; `None` for a type arrays cannot hold.
    pub fn new(element_type: DataType) -> Option<Self> {
        Some(ArrayColumn {
            offsets: vec![0],
            values: Box::new(ColumnData::empty(element_type)?),
        })
    }

    /// A column of `rows`; `None` when an element has the wrong type.
    pub fn from_rows<R: AsRef<[ScalarValue]>>(
        element_type: DataType,
        rows: impl IntoIterator<Item = R>,
    ) -> Option<Self> {
        let mut column = ArrayColumn::new(element_type)?;
        for row in rows {
            column.push(row.as_ref())?;
        }
        Some(column)
    }

    /// An empty column with the same element type.
    pub fn empty_like(&self) -> ArrayColumn {
        // Element columns are always scalar, so `data_type` is known.
        let values = self
            .values
            .data_type()
            .and_then(ColumnData::empty)
            .unwrap_or(ColumnData::Int64(Vec::new()));
        ArrayColumn {
            offsets: vec![0],
            values: Box::new(values),
        }
    }

    /// Appends a row; `None` (and nothing appended) when an element has the wrong type.
    pub fn push(&mut self, row: &[ScalarValue]) -> Option<()> {
        let before = self.values.len();
        for v in row {
            if self.values.push_scalar(v).is_none() {
                self.values.truncate(before);
                return None;
            }
        }
        self.offsets.push(self.values.len());
        Some(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row boundaries: `len() + 1` ascending offsets into [`values`](Self::values).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Every element of every row, in row order.
    pub fn values(&self) -> &ColumnData {
        &self.values
    }

    /// The element positions of row `i` (empty past the end).
    pub fn range(&self, i: usize) -> Range<usize> {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&s), Some(&e)) => s..e,
            _ => 0..0,
        }
    }

    /// Row `i` as values.
    pub fn row(&self, i: usize) -> Vec<ScalarValue> {
        self.range(i)
            .filter_map(|k| self.values.scalar_at(k))
            .collect()
    }
}

/// A typed column holding one JSON path's value for every document.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonShred {
    /// Object keys from the document root.
    pub path: Vec<String>,
    /// `Bool`, `Int64`, `Double` or `VarChar`; the entry of a row outside `typed` is
    /// unspecified.
    pub values: ColumnData,
    /// Rows whose value at `path` has this shred's type (and is exact in it).
    pub typed: Bitmap,
    /// Rows with a value at `path` (JSON null included), of any type. `present & !typed` rows
    /// must be read from the documents.
    pub present: Bitmap,
}

/// JSON documents (a JSON field, or the dynamic field `$meta`), with a [`JsonShred`] for
/// each scalar path found in at least 1/16 of the documents (at most
/// [`JsonColumn::MAX_SHREDS`], at most [`JsonColumn::MAX_DEPTH`] keys deep). Shreds are
/// built once, the first time a filter asks for one (writes never pay for them), and let a
/// filter on a path run as a typed scan.
#[derive(Debug, Clone)]
pub struct JsonColumn {
    docs: Vec<Json>,
    shreds: std::sync::OnceLock<Vec<JsonShred>>,
}

impl PartialEq for JsonColumn {
    /// Shreds derive from the documents: equal documents, equal columns.
    fn eq(&self, other: &Self) -> bool {
        self.docs == other.docs
    }
}

#[derive(Default)]
struct PathStats {
    bools: usize,
    ints: usize,
    floats: usize,
    strs: usize,
}

/// Integers up to this magnitude are exact in an f64.
const EXACT_F64_INT: u64 = 1 << 53;

impl JsonColumn {
    /// Most shreds built for one column.
    pub const MAX_SHREDS: usize = 64;
    /// Deepest path shredded, in keys.
    pub const MAX_DEPTH: usize = 4;

    /// A column of `docs` (shredded on first use).
    pub fn new(docs: Vec<Json>) -> Self {
        JsonColumn {
            docs,
            shreds: std::sync::OnceLock::new(),
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether there are no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The documents.
    pub fn docs(&self) -> &[Json] {
        &self.docs
    }

    /// Document `i`.
    pub fn get(&self, i: usize) -> Option<&Json> {
        self.docs.get(i)
    }

    /// The shred of `path` (object keys from the root), if one was built.
    pub fn shred<S: AsRef<str>>(&self, path: &[S]) -> Option<&JsonShred> {
        self.shreds().iter().find(|s| {
            s.path.len() == path.len() && s.path.iter().zip(path).all(|(a, b)| a == b.as_ref())
        })
    }

    /// Every shred built.
    pub fn shreds(&self) -> &[JsonShred] {
        self.shreds.get_or_init(|| shred(&self.docs))
    }
}

fn visit_paths(v: &Json, path: &mut String, depth: usize, f: &mut impl FnMut(&str, &Json)) {
    let Json::Object(map) = v else { return };
    for (k, child) in map {
        let len = path.len();
        path.push_str(k);
        path.push('\0');
        match child {
            Json::Object(_) if depth + 1 < JsonColumn::MAX_DEPTH => {
                visit_paths(child, path, depth + 1, f)
            }
            Json::Object(_) | Json::Array(_) | Json::Null => {}
            Json::Bool(_) | Json::Number(_) | Json::String(_) => f(path, child),
        }
        path.truncate(len);
    }
}

fn shred(docs: &[Json]) -> Vec<JsonShred> {
    // Pass 1: which scalar paths occur, and with which types.
    let mut stats: HashMap<String, PathStats> = HashMap::new();
    let mut path = String::new();
    for doc in docs {
        visit_paths(doc, &mut path, 0, &mut |p, v| {
            let s = match stats.get_mut(p) {
                Some(s) => s,
                None => stats.entry(p.to_string()).or_default(),
            };
            match v {
                Json::Bool(_) => s.bools += 1,
                Json::Number(n) if n.is_i64() => s.ints += 1,
                Json::Number(_) => s.floats += 1,
                Json::String(_) => s.strs += 1,
                Json::Null | Json::Array(_) | Json::Object(_) => {}
            }
        });
    }
    let min_count = docs.len().div_ceil(16).max(1);
    let mut chosen: Vec<(String, PathStats)> = stats
        .into_iter()
        .filter(|(_, s)| s.bools + s.ints + s.floats + s.strs >= min_count)
        .collect();
    chosen.sort_by(|a, b| {
        let count = |s: &PathStats| s.bools + s.ints + s.floats + s.strs;
        count(&b.1).cmp(&count(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    chosen.truncate(JsonColumn::MAX_SHREDS);
    // Pass 2: one typed column per chosen path, of its most common type.
    let n = docs.len();
    chosen
        .into_iter()
        .map(|(key, s)| {
            let keys: Vec<String> = key.split_terminator('\0').map(str::to_string).collect();
            let numbers = s.ints + s.floats;
            let kind = if s.strs >= numbers && s.strs >= s.bools {
                Kind::Str
            } else if s.bools >= numbers {
                Kind::Bool
            } else if s.floats > 0 {
                Kind::Float
            } else {
                Kind::Int
            };
            build_shred(docs, keys, kind, n)
        })
        .collect()
}

fn lookup<'a>(mut v: &'a Json, keys: &[String]) -> Option<&'a Json> {
    for k in keys {
        v = v.as_object()?.get(k)?;
    }
    Some(v)
}

/// The type a shred stores.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
}

fn build_shred(docs: &[Json], path: Vec<String>, kind: Kind, n: usize) -> JsonShred {
    let mut typed = Bitmap::zeros(n);
    let mut present = Bitmap::zeros(n);
    let mut bools = Vec::new();
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    let mut strs = StringColumn::new();
    for (i, doc) in docs.iter().enumerate() {
        let found = lookup(doc, &path);
        present.set(i, found.is_some());
        let v = found.filter(|v| !v.is_null());
        let mut hit = true;
        match kind {
            Kind::Bool => bools.push(v.and_then(Json::as_bool).unwrap_or_else(|| {
                hit = false;
                false
            })),
            Kind::Int => ints.push(v.and_then(Json::as_i64).unwrap_or_else(|| {
                hit = false;
                0
            })),
            Kind::Float => floats.push(
                v.and_then(|v| match v.as_i64() {
                    Some(x) if x.unsigned_abs() <= EXACT_F64_INT => Some(x as f64),
                    Some(_) => None,
                    None if v.is_u64() => None,
                    None => v.as_f64(),
                })
                .unwrap_or_else(|| {
                    hit = false;
                    0.0
                }),
            ),
            Kind::Str => strs.push(v.and_then(Json::as_str).unwrap_or_else(|| {
                hit = false;
                ""
            })),
        }
        typed.set(i, hit);
    }
    let values = match kind {
        Kind::Bool => ColumnData::Bool(bools),
        Kind::Int => ColumnData::Int64(ints),
        Kind::Float => ColumnData::Double(floats),
        Kind::Str => ColumnData::VarChar(strs),
    };
    JsonShred {
        path,
        values,
        typed,
        present,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_are_flat_and_type_checked() {
        let rows = vec![
            vec![ScalarValue::Long(1), ScalarValue::Long(2)],
            vec![],
            vec![ScalarValue::Long(3)],
        ];
        let col = ArrayColumn::from_rows(DataType::Int64, &rows).unwrap();
        assert_eq!(col.len(), 3);
        assert_eq!(col.offsets(), &[0, 2, 2, 3]);
        assert_eq!(col.row(0), rows[0]);
        assert_eq!(col.row(1), vec![]);
        assert_eq!(col.range(2), 2..3);
        let mut col = col;
        assert!(col
            .push(&[ScalarValue::Long(4), ScalarValue::String("x".into())])
            .is_none());
        assert_eq!(col.len(), 3);
        assert_eq!(col.values().len(), 3);
        assert!(ArrayColumn::new(DataType::Json).is_none());
    }

    #[test]
    fn shreds_follow_the_common_type() {
        let docs = vec![
            json!({"price": 10, "name": "a", "nested": {"x": 1.5}}),
            json!({"price": 2.5, "name": 3}),
            json!({"price": null}),
            json!({"price": 9007199254740993_i64}),
            json!([1, 2]),
        ];
        let col = JsonColumn::new(docs);
        let price = col.shred(&["price"]).unwrap();
        assert_eq!(
            price.values,
            ColumnData::Double(vec![10.0, 2.5, 0.0, 0.0, 0.0])
        );
        assert_eq!(price.typed.iter_ones().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(
            price.present.iter_ones().collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        let name = col.shred(&["name"]).unwrap();
        assert!(matches!(name.values, ColumnData::VarChar(_)));
        assert_eq!(name.typed.iter_ones().collect::<Vec<_>>(), vec![0]);
        assert!(col.shred(&["nested", "x"]).is_some());
        assert!(col.shred(&["nested"]).is_none());
    }
}

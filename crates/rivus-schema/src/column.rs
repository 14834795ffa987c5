//! Columns of field values, and the trait readers of rows share.

use std::collections::HashMap;

use crate::{ArrayColumn, Bitmap, DataType, JsonColumn, ScalarValue};

/// The values of one field for a run of rows.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Bool(Vec<bool>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    /// Strings packed end to end (see [`StringColumn`]).
    VarChar(StringColumn),
    /// JSON documents (also the dynamic field `$meta`), see [`JsonColumn`].
    Json(JsonColumn),
    /// ARRAY rows as offsets into one element column, see [`ArrayColumn`].
    Array(ArrayColumn),
    /// Vectors of any dense type, row after row (see [`VectorColumn`]).
    Vector(VectorColumn),
    /// SPARSE_FLOAT_VECTOR rows, each as Milvus's bytes: (u32 index, f32 value) pairs,
    /// little-endian, indexes strictly increasing.
    Sparse(Vec<Vec<u8>>),
}

/// Dense vectors of one field, `dim` elements per row, stored back to back in the bytes
/// Milvus sends them in: FLOAT as f32, FLOAT16/BFLOAT16 as 2 bytes per element, INT8 as 1
/// byte, BINARY as `dim / 8` bytes (one bit per dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorColumn {
    pub data_type: DataType,
    pub dim: usize,
    /// FLOAT vectors as f32 values.
    pub floats: Vec<f32>,
    /// Every other type as raw bytes.
    pub bytes: Vec<u8>,
}

impl VectorColumn {
    /// An empty column; `None` if `data_type` is not a dense vector type or `dim` is 0.
    pub fn new(data_type: DataType, dim: usize) -> Option<Self> {
        (dim > 0 && VectorColumn::row_bytes_of(data_type, dim).is_some()).then(|| VectorColumn {
            data_type,
            dim,
            floats: Vec::new(),
            bytes: Vec::new(),
        })
    }

    /// Bytes per row for a dense vector type (`None` for other types).
    pub fn row_bytes_of(data_type: DataType, dim: usize) -> Option<usize> {
        match data_type {
            DataType::FloatVector => Some(dim * 4),
            DataType::Float16Vector | DataType::BFloat16Vector => Some(dim * 2),
            DataType::Int8Vector => Some(dim),
            DataType::BinaryVector => Some(dim.div_ceil(8)),
            DataType::Bool
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float
            | DataType::Double
            | DataType::VarChar
            | DataType::Array
            | DataType::Json
            | DataType::SparseFloatVector => None,
        }
    }

    /// Elements (FLOAT) or bytes (others) per row.
    pub fn row_width(&self) -> usize {
        if self.data_type == DataType::FloatVector {
            self.dim
        } else {
            VectorColumn::row_bytes_of(self.data_type, self.dim).unwrap_or(1)
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        let width = self.row_width().max(1);
        if self.data_type == DataType::FloatVector {
            self.floats.len() / width
        } else {
            self.bytes.len() / width
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends row `i` of `other` (same type and dim).
    pub fn push_from(&mut self, other: &VectorColumn, i: usize) {
        let w = other.row_width();
        if self.data_type == DataType::FloatVector {
            if let Some(row) = other.floats.get(i * w..(i + 1) * w) {
                self.floats.extend_from_slice(row);
            }
        } else if let Some(row) = other.bytes.get(i * w..(i + 1) * w) {
            self.bytes.extend_from_slice(row);
        }
    }
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Bool(v) => v.len(),
            ColumnData::Int8(v) => v.len(),
            ColumnData::Int16(v) => v.len(),
            ColumnData::Int32(v) => v.len(),
            ColumnData::Int64(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Double(v) => v.len(),
            ColumnData::VarChar(v) => v.len(),
            ColumnData::Json(v) => v.len(),
            ColumnData::Array(v) => v.len(),
            ColumnData::Vector(v) => v.len(),
            ColumnData::Sparse(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The scalar type of this column (`None` for JSON, ARRAY and vectors).
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            ColumnData::Bool(_) => DataType::Bool,
            ColumnData::Int8(_) => DataType::Int8,
            ColumnData::Int16(_) => DataType::Int16,
            ColumnData::Int32(_) => DataType::Int32,
            ColumnData::Int64(_) => DataType::Int64,
            ColumnData::Float(_) => DataType::Float,
            ColumnData::Double(_) => DataType::Double,
            ColumnData::VarChar(_) => DataType::VarChar,
            ColumnData::Json(_)
            | ColumnData::Array(_)
            | ColumnData::Vector(_)
            | ColumnData::Sparse(_) => return None,
        })
    }

    /// An empty column of a scalar type (`None` for JSON, ARRAY and vectors).
    pub fn empty(data_type: DataType) -> Option<ColumnData> {
        Some(match data_type {
            DataType::Bool => ColumnData::Bool(Vec::new()),
            DataType::Int8 => ColumnData::Int8(Vec::new()),
            DataType::Int16 => ColumnData::Int16(Vec::new()),
            DataType::Int32 => ColumnData::Int32(Vec::new()),
            DataType::Int64 => ColumnData::Int64(Vec::new()),
            DataType::Float => ColumnData::Float(Vec::new()),
            DataType::Double => ColumnData::Double(Vec::new()),
            DataType::VarChar => ColumnData::VarChar(StringColumn::new()),
            DataType::Array
            | DataType::Json
            | DataType::BinaryVector
            | DataType::FloatVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::SparseFloatVector
            | DataType::Int8Vector => return None,
        })
    }

    /// Appends a scalar of this column's type (integers narrower than the column's are
    /// widened; an out-of-range integer or another type is `None`, nothing appended).
    pub fn push_scalar(&mut self, v: &ScalarValue) -> Option<()> {
        let int = match v {
            ScalarValue::Int(x) => Some(i64::from(*x)),
            ScalarValue::Long(x) => Some(*x),
            ScalarValue::Bool(_)
            | ScalarValue::Float(_)
            | ScalarValue::Double(_)
            | ScalarValue::String(_)
            | ScalarValue::Bytes(_) => None,
        };
        // Any other pairing is a type mismatch.
        #[allow(clippy::wildcard_enum_match_arm)]
        match (self, v) {
            (ColumnData::Bool(c), ScalarValue::Bool(x)) => c.push(*x),
            (ColumnData::Int8(c), _) => c.push(i8::try_from(int?).ok()?),
            (ColumnData::Int16(c), _) => c.push(i16::try_from(int?).ok()?),
            (ColumnData::Int32(c), _) => c.push(i32::try_from(int?).ok()?),
            (ColumnData::Int64(c), _) => c.push(int?),
            (ColumnData::Float(c), ScalarValue::Float(x)) => c.push(*x),
            (ColumnData::Double(c), ScalarValue::Double(x)) => c.push(*x),
            (ColumnData::Double(c), ScalarValue::Float(x)) => c.push(f64::from(*x)),
            (ColumnData::VarChar(c), ScalarValue::String(x)) => c.push(x),
            _ => return None,
        }
        Some(())
    }

    /// Row `i` as a scalar (`None` past the end and for JSON/ARRAY columns).
    pub fn scalar_at(&self, i: usize) -> Option<ScalarValue> {
        Some(match self {
            ColumnData::Bool(v) => ScalarValue::Bool(*v.get(i)?),
            ColumnData::Int8(v) => ScalarValue::Int(i32::from(*v.get(i)?)),
            ColumnData::Int16(v) => ScalarValue::Int(i32::from(*v.get(i)?)),
            ColumnData::Int32(v) => ScalarValue::Int(*v.get(i)?),
            ColumnData::Int64(v) => ScalarValue::Long(*v.get(i)?),
            ColumnData::Float(v) => ScalarValue::Float(*v.get(i)?),
            ColumnData::Double(v) => ScalarValue::Double(*v.get(i)?),
            ColumnData::VarChar(v) => ScalarValue::String(v.get(i)?.to_string()),
            ColumnData::Json(_)
            | ColumnData::Array(_)
            | ColumnData::Vector(_)
            | ColumnData::Sparse(_) => return None,
        })
    }

    /// Drops rows from `len` on (scalar columns only; others are left as they are).
    pub fn truncate(&mut self, len: usize) {
        match self {
            ColumnData::Bool(v) => v.truncate(len),
            ColumnData::Int8(v) => v.truncate(len),
            ColumnData::Int16(v) => v.truncate(len),
            ColumnData::Int32(v) => v.truncate(len),
            ColumnData::Int64(v) => v.truncate(len),
            ColumnData::Float(v) => v.truncate(len),
            ColumnData::Double(v) => v.truncate(len),
            ColumnData::VarChar(v) => v.truncate(len),
            ColumnData::Json(_)
            | ColumnData::Array(_)
            | ColumnData::Vector(_)
            | ColumnData::Sparse(_) => {}
        }
    }
}

/// Strings stored contiguously: row `i` is `bytes[offsets[i]..offsets[i + 1]]`. One buffer
/// instead of one allocation per row keeps scans sequential in memory (Arrow's layout).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StringColumn {
    offsets: Vec<usize>,
    bytes: String,
}

impl StringColumn {
    /// An empty column.
    pub fn new() -> Self {
        StringColumn {
            offsets: vec![0],
            bytes: String::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, value: &str) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.bytes.push_str(value);
        self.offsets.push(self.bytes.len());
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops rows from `len` on.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.offsets.truncate(len + 1);
            let end = self.offsets.last().copied().unwrap_or(0);
            self.bytes.truncate(end);
        }
    }

    /// Row boundaries: `len() + 1` ascending byte offsets into [`bytes`](Self::bytes).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Every row's bytes, end to end.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }

    /// Row `i`, if it exists.
    pub fn get(&self, i: usize) -> Option<&str> {
        let start = *self.offsets.get(i)?;
        let end = *self.offsets.get(i + 1)?;
        self.bytes.get(start..end)
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.offsets.windows(2).map(|w| match w {
            [start, end] => self.bytes.get(*start..*end).unwrap_or_default(),
            _ => "",
        })
    }
}

impl<S: AsRef<str>> FromIterator<S> for StringColumn {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut column = StringColumn::new();
        for s in iter {
            column.push(s.as_ref());
        }
        column
    }
}

/// A column: values plus, for a nullable field, which rows hold a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub data: ColumnData,
    /// Set bits are rows with a value; `None` means every row has one. The value stored in
    /// `data` for a null row is unspecified.
    pub valid: Option<Bitmap>,
}

impl Column {
    /// A column without nulls.
    pub fn new(data: ColumnData) -> Self {
        Column { data, valid: None }
    }

    /// Whether row `i` holds a value.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v.get(i))
    }
}

impl Column {
    /// Rows `rows` (in that order) of this column.
    pub fn take(&self, rows: &[usize]) -> Column {
        Column::concat_rows(&[(self, rows)])
    }

    /// The given rows of several columns of the same type, one after the other. Columns of
    /// different types than the first are skipped (callers concatenate one field's columns).
    pub fn concat_rows(parts: &[(&Column, &[usize])]) -> Column {
        let Some((first, _)) = parts.first() else {
            return Column::new(ColumnData::Bool(Vec::new()));
        };
        let total: usize = parts.iter().map(|(_, r)| r.len()).sum();
        let nullable = parts.iter().any(|(c, _)| c.valid.is_some());
        let valid = nullable.then(|| {
            let mut bits = Vec::with_capacity(total);
            for (c, rows) in parts {
                bits.extend(rows.iter().map(|&i| c.is_valid(i)));
            }
            Bitmap::from_slice(&bits, |b| *b)
        });
        macro_rules! gather {
            ($variant:ident, $default:expr) => {{
                let mut out = Vec::with_capacity(total);
                for (c, rows) in parts {
                    if let ColumnData::$variant(v) = &c.data {
                        out.extend(rows.iter().map(|&i| v.get(i).cloned().unwrap_or($default)));
                    }
                }
                ColumnData::$variant(out)
            }};
        }
        let data = match &first.data {
            ColumnData::Bool(_) => gather!(Bool, false),
            ColumnData::Int8(_) => gather!(Int8, 0),
            ColumnData::Int16(_) => gather!(Int16, 0),
            ColumnData::Int32(_) => gather!(Int32, 0),
            ColumnData::Int64(_) => gather!(Int64, 0),
            ColumnData::Float(_) => gather!(Float, 0.0),
            ColumnData::Double(_) => gather!(Double, 0.0),
            ColumnData::Sparse(_) => gather!(Sparse, Vec::new()),
            ColumnData::VarChar(_) => {
                let mut out = StringColumn::new();
                for (c, rows) in parts {
                    if let ColumnData::VarChar(v) = &c.data {
                        for &i in *rows {
                            out.push(v.get(i).unwrap_or_default());
                        }
                    }
                }
                ColumnData::VarChar(out)
            }
            ColumnData::Json(_) => {
                let mut docs = Vec::with_capacity(total);
                for (c, rows) in parts {
                    if let ColumnData::Json(v) = &c.data {
                        docs.extend(
                            rows.iter()
                                .map(|&i| v.get(i).cloned().unwrap_or(serde_json::Value::Null)),
                        );
                    }
                }
                ColumnData::Json(JsonColumn::new(docs))
            }
            ColumnData::Array(a) => {
                let mut out = a.empty_like();
                for (c, rows) in parts {
                    if let ColumnData::Array(v) = &c.data {
                        for &i in *rows {
                            let _ = out.push(&v.row(i));
                        }
                    }
                }
                ColumnData::Array(out)
            }
            ColumnData::Vector(v) => {
                let mut out = VectorColumn {
                    data_type: v.data_type,
                    dim: v.dim,
                    floats: Vec::new(),
                    bytes: Vec::new(),
                };
                for (c, rows) in parts {
                    if let ColumnData::Vector(v) = &c.data {
                        for &i in *rows {
                            out.push_from(v, i);
                        }
                    }
                }
                ColumnData::Vector(out)
            }
        };
        Column { data, valid }
    }
}

/// Read access to field values by name for a run of rows (a segment, a batch).
pub trait ColumnSource {
    /// Number of rows every column has.
    fn num_rows(&self) -> usize;
    /// The column of `field`; `None` when the source has no such field. The dynamic field
    /// is named `$meta`.
    fn column(&self, field: &str) -> Option<&Column>;
}

/// An in-memory [`ColumnSource`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnBatch {
    num_rows: usize,
    columns: HashMap<String, Column>,
}

impl ColumnBatch {
    /// An empty batch of `num_rows` rows.
    pub fn new(num_rows: usize) -> Self {
        ColumnBatch {
            num_rows,
            columns: HashMap::new(),
        }
    }

    /// Adds a column; its length must be the batch's row count.
    pub fn with(mut self, field: impl Into<String>, column: Column) -> Self {
        debug_assert_eq!(column.data.len(), self.num_rows);
        self.columns.insert(field.into(), column);
        self
    }
}

impl ColumnBatch {
    /// Every column, by field name (in no particular order).
    pub fn columns(&self) -> impl Iterator<Item = (&str, &Column)> + '_ {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Removes and returns a column.
    pub fn remove(&mut self, field: &str) -> Option<Column> {
        self.columns.remove(field)
    }

    /// Adds or replaces a column in place.
    pub fn insert(&mut self, field: impl Into<String>, column: Column) {
        self.columns.insert(field.into(), column);
    }
}

impl ColumnSource for ColumnBatch {
    fn num_rows(&self) -> usize {
        self.num_rows
    }

    fn column(&self, field: &str) -> Option<&Column> {
        self.columns.get(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_column_round_trips_rows() {
        let col: StringColumn = ["a", "", "héllo"].into_iter().collect();
        assert_eq!(col.len(), 3);
        assert_eq!(col.get(2), Some("héllo"));
        assert_eq!(col.get(1), Some(""));
        assert_eq!(col.get(3), None);
        assert_eq!(col.iter().collect::<Vec<_>>(), vec!["a", "", "héllo"]);
        assert!(StringColumn::default().is_empty());
        assert_eq!(
            Bitmap::from_bools(3, [true, false, true].into_iter()).count_ones(),
            2
        );
    }
}

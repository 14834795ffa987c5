//! Columns of field values, and the trait readers of rows share.

use std::collections::HashMap;

use crate::{Bitmap, ScalarValue};

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
    /// Parsed JSON documents (also the dynamic field `$meta`).
    Json(Vec<serde_json::Value>),
    /// ARRAY rows; every element has the field's element type.
    Array(Vec<Vec<ScalarValue>>),
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
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

//! The byte encoding of column batches, shared by WAL records and segment files (layout in
//! `docs/format.md`). Little-endian throughout; every length is checked on decode, so damaged
//! bytes give [`DecodeError`], never a panic or an over-allocation.

use rivus_schema::{
    ArrayColumn, Bitmap, Column, ColumnBatch, ColumnData, DataType, JsonColumn, StringColumn,
    VectorColumn,
};

/// Bytes that do not decode: what was expected where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {what} at byte {at}")]
pub struct DecodeError {
    pub what: &'static str,
    pub at: usize,
}

/// Appends primitives to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A length-prefixed (u64) byte string.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

/// Reads primitives from a buffer, failing on truncation.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(DecodeError { what, at: self.pos })?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError { what, at: self.pos })?;
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let at = self.pos;
        self.take(N, what)?
            .try_into()
            .map_err(|_| DecodeError { what, at })
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    /// A count that must fit in what is left (each item at least `min_size` bytes).
    pub fn len(&mut self, min_size: usize, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = usize::try_from(self.u64(what)?).map_err(|_| DecodeError { what, at })?;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_size) > left {
            return Err(DecodeError { what, at });
        }
        Ok(n)
    }
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.len(1, what)?;
        self.take(n, what)
    }
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        std::str::from_utf8(self.bytes(what)?).map_err(|_| DecodeError { what, at })
    }
}

const BOOL: u8 = 1;
const INT8: u8 = 2;
const INT16: u8 = 3;
const INT32: u8 = 4;
const INT64: u8 = 5;
const FLOAT: u8 = 10;
const DOUBLE: u8 = 11;
const VARCHAR: u8 = 21;
const ARRAY: u8 = 22;
const JSON: u8 = 23;
const VECTOR: u8 = 100;
const SPARSE: u8 = 104;

/// Appends `batch`: row count, column count, then each column (sorted by name).
pub fn encode_batch(batch: &ColumnBatch, w: &mut Writer) {
    use rivus_schema::ColumnSource;
    w.u64(batch.num_rows() as u64);
    let mut columns: Vec<(&str, &Column)> = batch.columns().collect();
    columns.sort_by(|a, b| a.0.cmp(b.0));
    w.u64(columns.len() as u64);
    for (name, column) in columns {
        w.str(name);
        encode_column(column, w);
    }
}

/// Appends one column: validity flag (and bytes), then its data.
pub fn encode_column(column: &Column, w: &mut Writer) {
    match &column.valid {
        None => w.u8(0),
        Some(valid) => {
            w.u8(1);
            let bools: Vec<u8> = (0..valid.len()).map(|i| u8::from(valid.get(i))).collect();
            w.bytes(&bools);
        }
    }
    encode_data(&column.data, w);
}

/// Reads a column written by [`encode_column`], which must have `rows` rows.
pub fn decode_column(r: &mut Reader<'_>, rows: usize) -> Result<Column, DecodeError> {
    let valid = match r.u8("validity flag")? {
        0 => None,
        1 => {
            let bits = r.bytes("validity")?;
            Some(Bitmap::from_slice(bits, |b| *b != 0))
        }
        _ => {
            return Err(DecodeError {
                what: "validity flag",
                at: r.pos,
            })
        }
    };
    let at = r.pos;
    let data = decode_data(r)?;
    if data.len() != rows || valid.as_ref().is_some_and(|v| v.len() != rows) {
        return Err(DecodeError {
            what: "column length",
            at,
        });
    }
    Ok(Column { data, valid })
}

fn encode_data(data: &ColumnData, w: &mut Writer) {
    macro_rules! prims {
        ($tag:expr, $v:expr) => {{
            w.u8($tag);
            w.u64($v.len() as u64);
            put_le(&mut w.buf, $v, |x| x.to_le_bytes());
        }};
    }
    match data {
        ColumnData::Bool(v) => {
            w.u8(BOOL);
            let bytes: Vec<u8> = v.iter().map(|b| u8::from(*b)).collect();
            w.bytes(&bytes);
        }
        ColumnData::Int8(v) => prims!(INT8, v),
        ColumnData::Int16(v) => prims!(INT16, v),
        ColumnData::Int32(v) => prims!(INT32, v),
        ColumnData::Int64(v) => prims!(INT64, v),
        ColumnData::Float(v) => prims!(FLOAT, v),
        ColumnData::Double(v) => prims!(DOUBLE, v),
        ColumnData::VarChar(v) => {
            w.u8(VARCHAR);
            w.u64(v.len() as u64);
            for s in v.iter() {
                w.str(s);
            }
        }
        ColumnData::Json(v) => {
            w.u8(JSON);
            w.u64(v.len() as u64);
            for doc in v.docs() {
                w.bytes(doc.to_string().as_bytes());
            }
        }
        ColumnData::Array(v) => {
            w.u8(ARRAY);
            w.u64(v.len() as u64);
            for pair in v.offsets().windows(2) {
                if let [s, e] = pair {
                    w.u64((e - s) as u64);
                }
            }
            encode_data(v.values(), w);
        }
        ColumnData::Vector(v) => {
            w.u8(VECTOR);
            w.u32(v.data_type.code() as u32);
            w.u64(v.dim as u64);
            if v.data_type == DataType::FloatVector {
                w.u64(v.floats.len() as u64);
                put_le(&mut w.buf, &v.floats, |x| x.to_le_bytes());
            } else {
                w.bytes(&v.bytes);
            }
        }
        ColumnData::Sparse(v) => {
            w.u8(SPARSE);
            w.u64(v.len() as u64);
            for row in v {
                w.bytes(row);
            }
        }
    }
}

/// Appends `values` as little-endian bytes: one resize, then fixed-size copies the compiler
/// turns into plain stores (a push per value was the WAL's hottest loop).
fn put_le<T: Copy, const W: usize>(buf: &mut Vec<u8>, values: &[T], bytes: impl Fn(T) -> [u8; W]) {
    let start = buf.len();
    buf.resize(start + values.len() * W, 0);
    if let Some(dst) = buf.get_mut(start..) {
        for (d, x) in dst.chunks_exact_mut(W).zip(values) {
            d.copy_from_slice(&bytes(*x));
        }
    }
}

/// Reads a batch written by [`encode_batch`].
pub fn decode_batch(r: &mut Reader<'_>) -> Result<ColumnBatch, DecodeError> {
    let rows = r.len(0, "row count")?;
    let n_cols = r.len(2, "column count")?;
    let mut batch = ColumnBatch::new(rows);
    for _ in 0..n_cols {
        let name = r.str("column name")?.to_string();
        let column = decode_column(r, rows)?;
        batch.insert(name, column);
    }
    Ok(batch)
}

fn decode_data(r: &mut Reader<'_>) -> Result<ColumnData, DecodeError> {
    macro_rules! prims {
        ($variant:ident, $t:ty, $what:expr) => {{
            const W: usize = std::mem::size_of::<$t>();
            let n = r.len(W, $what)?;
            let bytes = r.take(n * W, $what)?;
            ColumnData::$variant(
                bytes
                    .chunks_exact(W)
                    .map(|c| {
                        let mut a = [0u8; W];
                        a.copy_from_slice(c);
                        <$t>::from_le_bytes(a)
                    })
                    .collect(),
            )
        }};
    }
    let at = r.pos;
    Ok(match r.u8("column type")? {
        BOOL => ColumnData::Bool(r.bytes("bools")?.iter().map(|b| *b != 0).collect()),
        INT8 => prims!(Int8, i8, "int8 values"),
        INT16 => prims!(Int16, i16, "int16 values"),
        INT32 => prims!(Int32, i32, "int32 values"),
        INT64 => prims!(Int64, i64, "int64 values"),
        FLOAT => prims!(Float, f32, "float values"),
        DOUBLE => prims!(Double, f64, "double values"),
        VARCHAR => {
            let n = r.len(8, "string count")?;
            let mut col = StringColumn::new();
            for _ in 0..n {
                col.push(r.str("string")?);
            }
            ColumnData::VarChar(col)
        }
        JSON => {
            let n = r.len(8, "json count")?;
            let mut docs = Vec::with_capacity(n);
            for _ in 0..n {
                let at = r.pos;
                let doc = serde_json::from_slice(r.bytes("json")?)
                    .map_err(|_| DecodeError { what: "json", at })?;
                docs.push(doc);
            }
            ColumnData::Json(JsonColumn::new(docs))
        }
        ARRAY => {
            let n = r.len(8, "array row count")?;
            let mut lens = Vec::with_capacity(n);
            for _ in 0..n {
                lens.push(r.u64("array row length")? as usize);
            }
            let values = decode_data(r)?;
            let total = lens.iter().try_fold(0usize, |acc, l| acc.checked_add(*l));
            if total != Some(values.len()) {
                return Err(DecodeError {
                    what: "array row lengths",
                    at,
                });
            }
            let element_type = values.data_type().ok_or(DecodeError {
                what: "array elements",
                at,
            })?;
            let mut col = ArrayColumn::new(element_type).ok_or(DecodeError {
                what: "array elements",
                at,
            })?;
            let mut k = 0usize;
            for len in lens {
                let row: Vec<_> = (k..k + len).filter_map(|i| values.scalar_at(i)).collect();
                if row.len() != len || col.push(&row).is_none() {
                    return Err(DecodeError {
                        what: "array row",
                        at,
                    });
                }
                k += len;
            }
            ColumnData::Array(col)
        }
        VECTOR => {
            let code = r.u32("vector type")?;
            let data_type = DataType::from_code(code as i32).ok_or(DecodeError {
                what: "vector type",
                at,
            })?;
            let dim = r.len(0, "vector dim")?;
            if dim > 1 << 20 {
                return Err(DecodeError {
                    what: "vector dim",
                    at,
                });
            }
            let mut col = VectorColumn::new(data_type, dim).ok_or(DecodeError {
                what: "vector type",
                at,
            })?;
            if data_type == DataType::FloatVector {
                let n = r.len(4, "float vector")?;
                col.floats = r
                    .take(n * 4, "float vector")?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
            } else {
                col.bytes = r.bytes("vector bytes")?.to_vec();
            }
            ColumnData::Vector(col)
        }
        SPARSE => {
            let n = r.len(8, "sparse count")?;
            let mut rows = Vec::with_capacity(n);
            for _ in 0..n {
                rows.push(r.bytes("sparse row")?.to_vec());
            }
            ColumnData::Sparse(rows)
        }
        _ => {
            return Err(DecodeError {
                what: "column type",
                at,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivus_schema::{ColumnSource, ScalarValue};

    fn sample() -> ColumnBatch {
        let mut v = VectorColumn::new(DataType::FloatVector, 2).unwrap();
        v.floats = vec![1.0, 2.0, 3.0, f32::MIN_POSITIVE];
        let mut b = VectorColumn::new(DataType::BinaryVector, 16).unwrap();
        b.bytes = vec![1, 2, 3, 4];
        ColumnBatch::new(2)
            .with("id", Column::new(ColumnData::Int64(vec![1, -2])))
            .with(
                "age",
                Column {
                    data: ColumnData::Int16(vec![3, 0]),
                    valid: Some(Bitmap::from_slice(&[true, false], |b| *b)),
                },
            )
            .with(
                "s",
                Column::new(ColumnData::VarChar(["héllo", ""].iter().collect())),
            )
            .with(
                "j",
                Column::new(ColumnData::Json(JsonColumn::new(vec![
                    serde_json::json!({"a": [1, 2.5, "x"]}),
                    serde_json::json!(null),
                ]))),
            )
            .with(
                "arr",
                Column::new(ColumnData::Array(
                    ArrayColumn::from_rows(
                        DataType::VarChar,
                        vec![vec![ScalarValue::String("a".into())], vec![]],
                    )
                    .unwrap(),
                )),
            )
            .with("v", Column::new(ColumnData::Vector(v)))
            .with("b", Column::new(ColumnData::Vector(b)))
            .with(
                "sp",
                Column::new(ColumnData::Sparse(vec![vec![0; 8], vec![]])),
            )
            .with("f", Column::new(ColumnData::Bool(vec![true, false])))
    }

    #[test]
    fn batches_round_trip() {
        let batch = sample();
        let mut w = Writer::default();
        encode_batch(&batch, &mut w);
        let mut r = Reader::new(&w.buf);
        let back = decode_batch(&mut r).unwrap();
        assert!(r.is_done());
        assert_eq!(back.num_rows(), 2);
        for (name, col) in batch.columns() {
            assert_eq!(back.column(name), Some(col), "{name}");
        }
    }

    #[test]
    fn truncated_or_damaged_bytes_fail_cleanly() {
        let mut w = Writer::default();
        encode_batch(&sample(), &mut w);
        for cut in 0..w.buf.len() {
            assert!(
                decode_batch(&mut Reader::new(&w.buf[..cut])).is_err(),
                "cut {cut}"
            );
        }
        // Flipping any byte never panics (it may still decode: the checksums above catch it).
        for i in 0..w.buf.len() {
            let mut bytes = w.buf.clone();
            bytes[i] ^= 0xff;
            let _ = decode_batch(&mut Reader::new(&bytes));
        }
    }
}

//! Checks rows against the schema before anything is written, with Milvus's messages, and
//! fills what Milvus fills: nulls and default values of omitted or null cells, and `$meta`
//! (`{}`) when the dynamic field is on. A batch is refused whole or accepted whole.

// Type dispatch with one answer for "every other type" (placeholders, zero values).
#![allow(clippy::wildcard_enum_match_arm)]

use rivus_schema::{
    Bitmap, CollectionSchema, Column, ColumnBatch, ColumnData, ColumnSource, DataType, FieldSchema,
    JsonColumn, ScalarValue, VectorColumn,
};

use crate::{EngineError, Result};

const META: &str = "$meta";
/// Milvus `common.JSONMaxLength`.
const JSON_MAX_LENGTH: usize = 65536;

fn bad_type(field: &FieldSchema) -> EngineError {
    EngineError::InvalidParameterExpected {
        detail: Some(format!(
            "field '{}' is illegal, array type mismatch",
            field.name
        )),
        expected: format!("need {} array", field.data_type.milvus_name()),
        actual: "got another type".into(),
    }
}

fn nan_check(x: f64) -> Result<()> {
    if x.is_nan() {
        Err(EngineError::refused(
            "value 'NaN' is not a number or infinity",
        ))
    } else if x.is_infinite() {
        Err(EngineError::refused(format!(
            "value '{}Inf' is not a number or infinity",
            if x > 0.0 { "+" } else { "-" }
        )))
    } else {
        Ok(())
    }
}

fn kind_matches(field: &FieldSchema, data: &ColumnData) -> bool {
    match data {
        ColumnData::Vector(v) => v.data_type == field.data_type,
        ColumnData::Sparse(_) => field.data_type == DataType::SparseFloatVector,
        ColumnData::Json(_) => field.data_type == DataType::Json,
        ColumnData::Array(_) => field.data_type == DataType::Array,
        other => other.data_type() == Some(field.data_type),
    }
}

/// Validates `columns` for insertion into a collection of `schema` and fills nulls,
/// defaults and `$meta`. `auto_id`: the key is generated, so it must not be given.
pub fn validate_rows(
    schema: &CollectionSchema,
    columns: &mut ColumnBatch,
    auto_id: bool,
) -> Result<()> {
    let n = columns.num_rows();
    let user_fields: Vec<&FieldSchema> = schema
        .fields
        .iter()
        .filter(|f| !f.is_function_output)
        .collect();
    if !schema.functions.is_empty() {
        return Err(EngineError::unsupported(
            "inserting into a collection with a BM25 function (full-text search arrives with the search engine)",
        ));
    }
    if columns.column(META).is_some() && !schema.enable_dynamic_field {
        return Err(EngineError::refused(
            "without dynamic schema enabled, the field name cannot be set to $meta",
        ));
    }
    // Milvus counts the generated key as a column on top of what was sent.
    let expected = user_fields.len() + usize::from(schema.enable_dynamic_field);
    let given = columns.columns().count() + usize::from(auto_id);
    let unknown = columns
        .columns()
        .any(|(name, _)| name != META && schema.field(name).is_none());
    let pk_given = user_fields
        .iter()
        .any(|f| f.is_primary_key && columns.column(&f.name).is_some());
    if unknown || (auto_id && pk_given) || given > expected {
        return Err(EngineError::InvalidParameterExpected {
            detail: Some("more fieldData has pass in".into()),
            expected: expected.to_string(),
            actual: given.max(expected + 1).to_string(),
        });
    }
    for field in user_fields {
        if field.is_primary_key && auto_id {
            continue;
        }
        let Some(column) = columns.remove(&field.name) else {
            if field.nullable || field.default_value.is_some() {
                columns.insert(field.name.clone(), absent(field, n)?);
                continue;
            }
            return Err(EngineError::invalid(format!(
                "fieldSchema({}) has no corresponding fieldData pass in",
                field.name
            )));
        };
        if column.data.len() != n {
            return Err(EngineError::InvalidParameterExpected {
                detail: Some(format!(
                    "the num_rows ({}) of field ({}) is not equal to passed num_rows ({n})",
                    column.data.len(),
                    field.name
                )),
                expected: n.to_string(),
                actual: column.data.len().to_string(),
            });
        }
        if !kind_matches(field, &column.data) {
            return Err(bad_type(field));
        }
        let column = fill_nulls(field, column)?;
        check_values(field, &column)?;
        columns.insert(field.name.clone(), column);
    }
    if schema.enable_dynamic_field {
        match columns.remove(META) {
            None => columns.insert(
                META,
                Column::new(ColumnData::Json(JsonColumn::new(vec![
                    serde_json::json!({});
                    n
                ]))),
            ),
            Some(meta) => {
                let ColumnData::Json(docs) = &meta.data else {
                    return Err(EngineError::invalid(
                        "invalid dynamic field data, only json map is supported",
                    ));
                };
                for doc in docs.docs() {
                    let Some(obj) = doc.as_object() else {
                        return Err(EngineError::invalid(
                            "invalid dynamic field data, only json map is supported",
                        ));
                    };
                    for key in obj.keys() {
                        if key == META {
                            return Err(EngineError::refused("cannot set json key to: $meta"));
                        }
                        if schema.field(key).is_some() {
                            return Err(EngineError::refused(format!(
                                "dynamic field name cannot include the static field name: {key}"
                            )));
                        }
                    }
                }
                columns.insert(META, meta);
            }
        }
    }
    Ok(())
}

/// The column of a field the rows left out: all null, or all the default.
pub(crate) fn absent(field: &FieldSchema, n: usize) -> Result<Column> {
    let mut column = placeholder(field, n)?;
    column.valid = Some(Bitmap::zeros(n));
    fill_nulls(field, column)
}

/// A column of `n` placeholder values of the field's type.
pub(crate) fn placeholder(field: &FieldSchema, n: usize) -> Result<Column> {
    let data = match field.data_type {
        DataType::Json => ColumnData::Json(JsonColumn::new(vec![serde_json::Value::Null; n])),
        DataType::Array => {
            let mut a = field
                .element_type
                .and_then(rivus_schema::ArrayColumn::new)
                .ok_or_else(|| EngineError::Internal("array without element type".into()))?;
            for _ in 0..n {
                let _ = a.push(&[]);
            }
            ColumnData::Array(a)
        }
        DataType::SparseFloatVector => ColumnData::Sparse(vec![Vec::new(); n]),
        t => match ColumnData::empty(t) {
            Some(mut d) => {
                let zero = zero_of(t);
                for _ in 0..n {
                    let _ = d.push_scalar(&zero);
                }
                d
            }
            None => {
                let dim = field.dim().unwrap_or(0).max(0) as usize;
                let mut v = VectorColumn::new(t, dim)
                    .ok_or_else(|| EngineError::Internal("vector without dim".into()))?;
                let w = v.row_width();
                if t == DataType::FloatVector {
                    v.floats = vec![0.0; n * w];
                } else {
                    v.bytes = vec![0; n * w];
                }
                ColumnData::Vector(v)
            }
        },
    };
    Ok(Column::new(data))
}

fn zero_of(t: DataType) -> ScalarValue {
    match t {
        DataType::Bool => ScalarValue::Bool(false),
        DataType::Float => ScalarValue::Float(0.0),
        DataType::Double => ScalarValue::Double(0.0),
        DataType::VarChar => ScalarValue::String(String::new()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => ScalarValue::Int(0),
        _ => ScalarValue::Long(0),
    }
}

/// Null cells become the default value when the field has one; a null in a field that is
/// neither nullable nor defaulted is refused.
fn fill_nulls(field: &FieldSchema, column: Column) -> Result<Column> {
    let Some(valid) = &column.valid else {
        return Ok(column);
    };
    if valid.count_ones() == valid.len() {
        return Ok(Column::new(column.data));
    }
    if let Some(default) = &field.default_value {
        let Some(mut out) = ColumnData::empty(field.data_type) else {
            return Err(EngineError::unsupported(format!(
                "default values on {} fields",
                field.data_type.milvus_name()
            )));
        };
        for i in 0..column.data.len() {
            let v = if valid.get(i) {
                column.data.scalar_at(i).unwrap_or_else(|| default.clone())
            } else {
                default.clone()
            };
            if out.push_scalar(&v).is_none() {
                return Err(bad_type(field));
            }
        }
        return Ok(Column::new(out));
    }
    if field.nullable {
        return Ok(column);
    }
    Err(EngineError::invalid(format!(
        "the field {} is not nullable but the data has null values",
        field.name
    )))
}

fn check_values(field: &FieldSchema, column: &Column) -> Result<()> {
    let valid = |i: usize| column.is_valid(i);
    match &column.data {
        ColumnData::VarChar(v) => {
            let max = field.max_length().unwrap_or(65535).max(0) as usize;
            for (i, s) in v.iter().enumerate() {
                if valid(i) && s.len() > max {
                    return Err(EngineError::invalid(format!(
                        "length of varchar field {} exceeds max length, row number: {i}, length: {}, max length: {max}",
                        field.name,
                        s.len()
                    )));
                }
            }
        }
        ColumnData::Float(v) => {
            for x in v {
                nan_check(f64::from(*x))?;
            }
        }
        ColumnData::Double(v) => {
            for x in v {
                nan_check(*x)?;
            }
        }
        ColumnData::Json(docs) => {
            for doc in docs.docs() {
                let len = doc.to_string().len();
                if len > JSON_MAX_LENGTH {
                    return Err(EngineError::InvalidParameterExpected {
                        detail: Some(format!(
                            "the length ({len}) of json field ({}) exceeds max length ({JSON_MAX_LENGTH})",
                            field.name
                        )),
                        expected: "valid length json string".into(),
                        actual: "length exceeds max length".into(),
                    });
                }
            }
        }
        ColumnData::Array(a) => {
            let cap = field.max_capacity().unwrap_or(4096).max(0) as usize;
            for i in 0..a.len() {
                let len = a.range(i).len();
                if valid(i) && len > cap {
                    return Err(EngineError::InvalidParameterExpected {
                        detail: Some(format!(
                            "the length ({len}) of {i}th array exceeds max capacity ({cap})"
                        )),
                        expected: "valid length array".into(),
                        actual: "array length exceeds max capacity".into(),
                    });
                }
            }
            if let ColumnData::VarChar(elems) = a.values() {
                let max = field.max_length().unwrap_or(65535).max(0) as usize;
                for i in 0..a.len() {
                    for (k, e) in a.range(i).enumerate() {
                        let len = elems.get(e).map_or(0, str::len);
                        if len > max {
                            return Err(EngineError::invalid(format!(
                                "length of {} array field \"{}\" exceeds max length, row number: {i}, array index: {k}, length: {len}, max length: {max}",
                                field.data_type.milvus_name(),
                                field.name
                            )));
                        }
                    }
                }
            }
            if let ColumnData::Float(elems) = a.values() {
                for x in elems {
                    nan_check(f64::from(*x))?;
                }
            }
            if let ColumnData::Double(elems) = a.values() {
                for x in elems {
                    nan_check(*x)?;
                }
            }
        }
        ColumnData::Vector(v) => {
            let dim = field.dim().unwrap_or(0).max(0) as usize;
            if v.dim != dim {
                return Err(EngineError::InvalidParameterExpected {
                    detail: Some(format!(
                        "the dim ({}) of field data({}) is not equal to schema dim ({dim})",
                        v.dim, field.name
                    )),
                    expected: dim.to_string(),
                    actual: v.dim.to_string(),
                });
            }
            for x in &v.floats {
                nan_check(f64::from(*x))?;
            }
        }
        ColumnData::Sparse(rows) => {
            for row in rows {
                if row.len() % 8 != 0 {
                    return Err(EngineError::invalid("invalid sparse float vector row"));
                }
                let mut last: Option<u32> = None;
                for pair in row.chunks_exact(8) {
                    let idx = u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
                    let val = f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
                    if last.is_some_and(|l| l >= idx) {
                        return Err(EngineError::refused(
                            "unsorted or same indices in sparse float vector",
                        ));
                    }
                    nan_check(f64::from(val))?;
                    last = Some(idx);
                }
            }
        }
        ColumnData::Bool(_)
        | ColumnData::Int8(_)
        | ColumnData::Int16(_)
        | ColumnData::Int32(_)
        | ColumnData::Int64(_) => {}
    }
    Ok(())
}
